//! Runnel's web console: an axum [`Router`] serving its pages (HTML, CSS and JavaScript
//! embedded in the binary; nothing is fetched from the internet) and the JSON API they
//! call.
//!
//! The console is a Kafka client like the command line: every answer comes from the
//! functions of `runnel-cli` over the Kafka protocol, so it knows nothing of the broker's
//! internals. The admin server it is merged into serves `/metrics` and `/v1/lag` on the
//! same origin; the pages read request rates, throughput, partition sizes and lag
//! statuses from there.
//!
//! The connectors page asks the Kafka Connect worker's REST API
//! ([`ConsoleSettings::connect_url`]) in the same way.
//!
//! Writes (create, alter or delete a topic, produce a record, reset a group's offsets,
//! pause, resume or restart a connector) are refused with 403 unless
//! [`ConsoleSettings::admin_actions`] is set.

mod api;
mod assets;
mod connect;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post, put};
use axum::Router;
use runnel_cli::settings::ClientSettings;
use tokio::sync::Semaphore;

/// The type of [`ConsoleSettings::connect_url`].
pub use reqwest::Url;

/// What the console connects to and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The Kafka cluster to show (host:port).
    pub bootstrap_server: String,
    /// How to connect to it (security.protocol, ssl.*, sasl.*, ... with librdkafka's names).
    pub client_settings: ClientSettings,
    /// Whether the pages may change the cluster; read-only when false.
    pub admin_actions: bool,
    /// How long one call to the cluster (or to the Connect worker) may take.
    pub request_timeout: Duration,
    /// The REST API of the Kafka Connect worker whose connectors the console shows; no
    /// connectors page without.
    pub connect_url: Option<Url>,
}

/// Calls to the cluster in flight at once; more wait their turn.
const CONCURRENT_CALLS: usize = 8;

/// The largest request body the API accepts (a produced record with its key and headers).
const MAX_BODY_BYTES: usize = 1 << 20;

/// The console's routes: `/` redirects to `/console/`, the pages are under `/console/`
/// and the API under `/console/api/`.
pub fn router(settings: ConsoleSettings) -> Router {
    let state = api::Console {
        settings: Arc::new(settings),
        calls: Arc::new(Semaphore::new(CONCURRENT_CALLS)),
        http: reqwest::Client::new(),
    };
    let api = Router::new()
        .route("/settings", get(api::settings))
        .route("/topics", get(api::topics).post(api::create_topic))
        .route(
            "/topics/{topic}",
            get(api::describe_topic).delete(api::delete_topic),
        )
        .route("/topics/{topic}/configs", put(api::alter_topic))
        .route(
            "/topics/{topic}/records",
            get(api::read_records).post(api::produce_record),
        )
        .route("/groups", get(api::groups))
        .route("/groups/{group}", get(api::describe_group))
        .route("/groups/{group}/offsets", post(api::reset_offsets))
        .route("/share-groups/{group}", get(api::describe_share_group))
        .route("/transactions", get(api::transactions))
        .route("/transactions/{id}", get(api::describe_transaction))
        .route("/connectors", get(connect::connectors))
        .route("/connectors/{name}/{action}", post(connect::act))
        .fallback(api::unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(assets::page))
        .route("/console/{asset}", get(assets::asset))
        .nest("/console/api", api)
}
