//! The JSON API: each handler validates its input, calls `runnel-cli` on a blocking thread
//! (librdkafka's calls block) within the call timeout, and answers JSON; failures are
//! `{"error": "..."}` with a status saying whose fault it was.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use runnel_cli::browse::{self, PageRequest};
use runnel_cli::group::{self, Apply, ResetTo};
use runnel_cli::position::Position;
use runnel_cli::share_group::{self, ShareGroupDescription};
use runnel_cli::{produce, topic, transactions, CliError, Connection};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::ConsoleSettings;

/// The most records one page of the message browser holds.
pub(crate) const MAX_PAGE_RECORDS: usize = 500;
/// A page ends once its keys and values hold this many bytes.
const MAX_PAGE_BYTES: usize = 4 << 20;
/// The most records read to fill one filtered page.
const MAX_SCANNED: u64 = 10_000;
/// Records in a page when the request does not say.
const DEFAULT_PAGE_RECORDS: usize = 50;
/// The most partitions a topic created from the console may have.
const MAX_PARTITIONS: i32 = 10_000;

#[derive(Clone)]
pub(crate) struct Console {
    pub(crate) settings: Arc<ConsoleSettings>,
    pub(crate) calls: Arc<Semaphore>,
    /// For the Connect worker's REST API.
    pub(crate) http: reqwest::Client,
}

impl Console {
    fn connection(&self) -> Connection {
        let mut connection = Connection::new(self.settings.bootstrap_server.clone());
        connection.request_timeout_ms =
            u64::try_from(self.settings.request_timeout.as_millis()).unwrap_or(u64::MAX);
        connection.client_settings = self
            .settings
            .client_settings
            .entries()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        connection
    }

    pub(crate) fn allow_writes(&self) -> Result<(), ApiError> {
        if self.settings.admin_actions {
            Ok(())
        } else {
            Err(ApiError(
                StatusCode::FORBIDDEN,
                "the console is read-only: start runnel serve with --console-admin to allow \
                 changes"
                    .to_owned(),
            ))
        }
    }

    /// Runs `call` on a blocking thread, at most [`crate::CONCURRENT_CALLS`] at once, and
    /// gives up waiting after twice the call timeout (each broker request inside is bounded
    /// by the timeout; a call makes a few).
    async fn call<T, F>(&self, call: impl FnOnce(Connection) -> F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, CliError>> + Send + 'static,
    {
        let timeout = self.settings.request_timeout * 2;
        let busy = || {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many console requests at once; try again".to_owned(),
            )
        };
        let permit = tokio::time::timeout(timeout, Arc::clone(&self.calls).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let future = call(self.connection());
        let runtime = tokio::runtime::Handle::current();
        // The permit goes with the blocking task: a call that times out here still holds
        // its place until its clients are done, so no more than the limit ever run.
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            runtime.block_on(future)
        });
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(outcome)) => outcome.map_err(ApiError::from),
            Ok(Err(join)) => Err(ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the request failed: {join}"),
            )),
            Err(_) => Err(ApiError(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the cluster did not answer within {} ms",
                    timeout.as_millis()
                ),
            )),
        }
    }
}

/// A failed request: its status and a one-line message for the page.
#[derive(Debug)]
pub(crate) struct ApiError(StatusCode, String);

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError(status, message.into())
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

impl From<CliError> for ApiError {
    fn from(error: CliError) -> Self {
        let status = match &error {
            CliError::UnknownTopic(_)
            | CliError::UnknownGroup(_)
            | CliError::UnknownTransactionalId(_) => StatusCode::NOT_FOUND,
            CliError::UnknownSetting(_)
            | CliError::BadArguments(_)
            | CliError::BadKeyValue { .. } => StatusCode::BAD_REQUEST,
            CliError::Failed { .. } | CliError::Refused { .. } | CliError::Broker { .. } => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError(status, error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        bad_request(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        bad_request(rejection.body_text())
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

pub(crate) type Answer<T> = Result<Json<T>, ApiError>;

pub(crate) async fn unknown_route() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such console API".to_owned())
}

#[derive(Serialize)]
pub(crate) struct SettingsView {
    admin_actions: bool,
    max_page_records: usize,
    /// Whether the console knows a Connect worker (the connectors page).
    connect: bool,
}

pub(crate) async fn settings(State(console): State<Console>) -> Json<SettingsView> {
    Json(SettingsView {
        admin_actions: console.settings.admin_actions,
        max_page_records: MAX_PAGE_RECORDS,
        connect: console.settings.connect_url.is_some(),
    })
}

/// Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, and not `.` or `..`.
fn valid_topic_name(name: &str) -> Result<(), ApiError> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty()
        || name.len() > 249
        || name == "."
        || name == ".."
        || !name.chars().all(legal)
    {
        return Err(bad_request(format!(
            "bad topic name {name:?}: 1 to 249 letters, digits, '.', '_' or '-', and not '.' or '..'"
        )));
    }
    Ok(())
}

pub(crate) async fn topics(State(console): State<Console>) -> Answer<Vec<String>> {
    console
        .call(|c| async move { topic::list(&c, false) })
        .await
        .map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTopic {
    name: String,
    partitions: Option<i32>,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub(crate) struct Done {
    pub(crate) done: String,
}

pub(crate) async fn create_topic(
    State(console): State<Console>,
    body: Result<Json<NewTopic>, JsonRejection>,
) -> Answer<Done> {
    console.allow_writes()?;
    let Json(new) = body?;
    valid_topic_name(&new.name)?;
    if let Some(p) = new.partitions.filter(|p| !(1..=MAX_PARTITIONS).contains(p)) {
        return Err(bad_request(format!(
            "bad partition count {p}: 1 to {MAX_PARTITIONS}"
        )));
    }
    if new.configs.keys().any(String::is_empty) {
        return Err(bad_request("a setting needs a name"));
    }
    let name = new.name.clone();
    let configs: Vec<(String, String)> = new.configs.into_iter().collect();
    console
        .call(move |c| async move { topic::create(&c, &new.name, new.partitions, &configs) })
        .await?;
    Ok(Json(Done {
        done: format!("created topic {name}"),
    }))
}

pub(crate) async fn describe_topic(
    State(console): State<Console>,
    Path(name): Path<String>,
) -> Answer<topic::TopicDescription> {
    valid_topic_name(&name)?;
    console
        .call(move |c| async move { topic::describe(&c, &name).await })
        .await
        .map(Json)
}

pub(crate) async fn delete_topic(
    State(console): State<Console>,
    Path(name): Path<String>,
) -> Answer<Done> {
    console.allow_writes()?;
    valid_topic_name(&name)?;
    let done = format!("deleted topic {name}");
    console
        .call(move |c| async move { topic::delete(&c, &name).await })
        .await?;
    Ok(Json(Done { done }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigChanges {
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    delete: Vec<String>,
}

pub(crate) async fn alter_topic(
    State(console): State<Console>,
    Path(name): Path<String>,
    body: Result<Json<ConfigChanges>, JsonRejection>,
) -> Answer<Done> {
    console.allow_writes()?;
    valid_topic_name(&name)?;
    let Json(changes) = body?;
    if changes
        .set
        .keys()
        .chain(&changes.delete)
        .any(String::is_empty)
    {
        return Err(bad_request("a setting needs a name"));
    }
    let done = format!("altered topic {name}");
    let set: Vec<(String, String)> = changes.set.into_iter().collect();
    console
        .call(move |c| async move { topic::alter(&c, &name, &set, &changes.delete).await })
        .await?;
    Ok(Json(Done { done }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordsQuery {
    partition: i32,
    offset: Option<i64>,
    timestamp: Option<i64>,
    contains: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn read_records(
    State(console): State<Console>,
    Path(name): Path<String>,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Answer<browse::Page> {
    valid_topic_name(&name)?;
    let Query(query) = query?;
    let start = match (query.offset, query.timestamp) {
        (Some(_), Some(_)) => return Err(bad_request("give an offset or a timestamp, not both")),
        (Some(offset), None) if offset >= 0 => Position::Offset(offset),
        (None, Some(ms)) if ms >= 0 => Position::Timestamp(ms),
        (None, None) => Position::Offset(0),
        _ => return Err(bad_request("offsets and timestamps are not negative")),
    };
    let max_records = query.limit.unwrap_or(DEFAULT_PAGE_RECORDS);
    if !(1..=MAX_PAGE_RECORDS).contains(&max_records) {
        return Err(bad_request(format!(
            "bad limit {max_records}: 1 to {MAX_PAGE_RECORDS} records"
        )));
    }
    if query.partition < 0 {
        return Err(bad_request("partitions are not negative"));
    }
    let request = PageRequest {
        topic: name,
        partition: query.partition,
        start,
        contains: query.contains.filter(|text| !text.is_empty()),
        max_records,
        max_bytes: MAX_PAGE_BYTES,
        max_scanned: MAX_SCANNED,
    };
    console
        .call(move |c| async move { browse::read_page(&c, &request) })
        .await
        .map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRecord {
    partition: Option<i32>,
    key: Option<String>,
    value: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

pub(crate) async fn produce_record(
    State(console): State<Console>,
    Path(name): Path<String>,
    body: Result<Json<NewRecord>, JsonRejection>,
) -> Answer<produce::Written> {
    console.allow_writes()?;
    valid_topic_name(&name)?;
    let Json(record) = body?;
    if record.partition.is_some_and(|p| p < 0) {
        return Err(bad_request("partitions are not negative"));
    }
    if record.headers.keys().any(String::is_empty) {
        return Err(bad_request("a header needs a name"));
    }
    let headers: Vec<(String, String)> = record.headers.into_iter().collect();
    console
        .call(move |c| async move {
            produce::send_one(
                &c,
                &name,
                record.partition,
                record.key.as_deref().filter(|k| !k.is_empty()),
                &record.value,
                &headers,
            )
            .await
        })
        .await
        .map(Json)
}

pub(crate) async fn groups(State(console): State<Console>) -> Answer<Vec<group::Listed>> {
    console
        .call(|c| async move { group::list(&c) })
        .await
        .map(Json)
}

pub(crate) async fn describe_group(
    State(console): State<Console>,
    Path(id): Path<String>,
) -> Answer<group::GroupDescription> {
    console
        .call(move |c| async move { group::describe(&c, &id) })
        .await
        .map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reset {
    topic: String,
    /// `earliest`, `latest`, `timestamp` or `offset`.
    to: String,
    /// The timestamp (ms since the epoch) or offset, for those.
    value: Option<i64>,
}

#[derive(Serialize)]
pub(crate) struct ResetDone {
    /// The new committed offset of each partition.
    offsets: BTreeMap<i32, i64>,
}

pub(crate) async fn reset_offsets(
    State(console): State<Console>,
    Path(id): Path<String>,
    body: Result<Json<Reset>, JsonRejection>,
) -> Answer<ResetDone> {
    console.allow_writes()?;
    let Json(reset) = body?;
    valid_topic_name(&reset.topic)?;
    let to = match (reset.to.as_str(), reset.value) {
        ("earliest", None) => Position::Earliest,
        ("latest", None) => Position::Latest,
        ("timestamp", Some(ms)) if ms >= 0 => Position::Timestamp(ms),
        ("offset", Some(offset)) if offset >= 0 => Position::Offset(offset),
        _ => {
            return Err(bad_request(
                "reset to earliest or latest (no value), or to a timestamp or an offset \
                 (a value of 0 or more)",
            ))
        }
    };
    let offsets = console
        .call(move |c| async move {
            group::reset_offsets(&c, &id, &reset.topic, ResetTo::Position(to), Apply::Execute)
        })
        .await?;
    Ok(Json(ResetDone {
        offsets: offsets.into_iter().collect(),
    }))
}

pub(crate) async fn describe_share_group(
    State(console): State<Console>,
    Path(id): Path<String>,
) -> Answer<ShareGroupDescription> {
    let group = id.clone();
    console
        .call(move |c| async move { share_group::describe(&c, &group) })
        .await?
        .map(Json)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown share group {id}")))
}

/// Every transactional id, ordered by id.
pub(crate) async fn transactions(
    State(console): State<Console>,
) -> Answer<Vec<transactions::Listed>> {
    console
        .call(|c| async move { transactions::list(&c, &[], &[]) })
        .await
        .map(Json)
}

pub(crate) async fn describe_transaction(
    State(console): State<Console>,
    Path(id): Path<String>,
) -> Answer<transactions::Described> {
    console
        .call(move |c| async move { transactions::describe(&c, &id) })
        .await
        .map(Json)
}
