//! The REST API, shaped like Kafka Connect's: `/connectors` to list and create,
//! `/connectors/{name}` (`/config`, `/status`, `/pause`, `/resume`, `/stop`, `/restart`,
//! `/offsets`) to manage one, and `/connectors/{name}/search` to query what a search sink
//! indexed. Errors answer `{"error_code": ..., "message": ...}`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::ConnectorConfig;
use crate::error::{ConfigError, ConnectError};
use crate::sink::search::{self, IndexError, SearchSettings};
use crate::worker::{Worker, WorkerConfig};

/// A worker and its REST API, running.
#[derive(Debug)]
pub struct ConnectRuntime {
    worker: Arc<Worker>,
    address: SocketAddr,
    stop_server: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl ConnectRuntime {
    /// Starts the connectors of `config` and serves the REST API on `listen`.
    pub async fn start(config: WorkerConfig, listen: &str) -> Result<ConnectRuntime, ConnectError> {
        let listen_error = |e: std::io::Error| ConnectError::Listen {
            address: listen.to_owned(),
            reason: e.to_string(),
        };
        let listener = TcpListener::bind(listen).await.map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        let worker = Worker::start(config).await?;
        let (stop_server, stopped) = oneshot::channel();
        let app = router(Arc::clone(&worker));
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the REST API stopped");
            }
        });
        tracing::info!(%address, "connect REST API listening");
        Ok(ConnectRuntime {
            worker,
            address,
            stop_server,
            server,
        })
    }

    pub fn rest_address(&self) -> SocketAddr {
        self.address
    }

    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// Stops the REST API, then every task (each drains its batch and commits).
    pub async fn shutdown(self) {
        let _ = self.stop_server.send(());
        let _ = self.server.await;
        self.worker.shutdown().await;
    }
}

/// The routes of the API over `worker`.
pub fn router(worker: Arc<Worker>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/connectors", get(list).post(create))
        .route("/connectors/{name}", get(info).delete(delete))
        .route("/connectors/{name}/config", get(config).put(put_config))
        .route("/connectors/{name}/status", get(status))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/restart", post(restart))
        .route(
            "/connectors/{name}/offsets",
            get(offsets).delete(reset_offsets),
        )
        .route("/connectors/{name}/search", get(search))
        .route("/metrics", get(metrics))
        .with_state(worker)
}

type Shared = State<Arc<Worker>>;

/// An error as the API answers it.
struct ApiError(ConnectError);

impl From<ConnectError> for ApiError {
    fn from(error: ConnectError) -> Self {
        ApiError(error)
    }
}

impl From<ConfigError> for ApiError {
    fn from(error: ConfigError) -> Self {
        ApiError(ConnectError::Config(error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            ConnectError::NotFound(_) | ConnectError::NotSearchable(_) => StatusCode::NOT_FOUND,
            ConnectError::AlreadyExists(_) | ConnectError::Conflict(_) => StatusCode::CONFLICT,
            ConnectError::Config(_) | ConnectError::BadQuery(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = json!({"error_code": status.as_u16(), "message": self.0.to_string()});
        (status, Json(body)).into_response()
    }
}

type Answer<T> = Result<T, ApiError>;

/// A body that is not the JSON expected, answered in the API's error shape.
fn bad_body(rejection: JsonRejection) -> ApiError {
    ApiError(ConnectError::Config(ConfigError::Invalid {
        key: "request body".to_owned(),
        reason: rejection.body_text(),
    }))
}

async fn root() -> Json<Value> {
    Json(json!({"version": env!("CARGO_PKG_VERSION"), "runtime": "runnel-connect"}))
}

/// The Prometheus text exposition of every connector's and task's metrics.
async fn metrics(State(worker): Shared) -> Response {
    match crate::metrics::render(&worker.statuses().await) {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "cannot encode the connect metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n",
            )
                .into_response()
        }
    }
}

async fn list(
    State(worker): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Answer<Json<Value>> {
    let names = worker.names().await;
    if query.get("expand").map(String::as_str) != Some("status") {
        return Ok(Json(json!(names)));
    }
    let mut expanded = serde_json::Map::new();
    for name in names {
        if let Ok(status) = worker.status(&name).await {
            expanded.insert(name, json!({"status": status}));
        }
    }
    Ok(Json(Value::Object(expanded)))
}

async fn create(
    State(worker): Shared,
    body: Result<Json<Value>, JsonRejection>,
) -> Answer<(StatusCode, Json<Value>)> {
    let Json(body) = body.map_err(bad_body)?;
    let config = ConnectorConfig::from_json(&body)?;
    let info = worker.create(config).await?;
    Ok((StatusCode::CREATED, Json(json!(info))))
}

async fn info(State(worker): Shared, Path(name): Path<String>) -> Answer<Json<Value>> {
    Ok(Json(json!(worker.info(&name).await?)))
}

async fn config(State(worker): Shared, Path(name): Path<String>) -> Answer<Json<Value>> {
    Ok(Json(json!(worker.info(&name).await?.config)))
}

async fn put_config(
    State(worker): Shared,
    Path(name): Path<String>,
    settings: Result<Json<BTreeMap<String, String>>, JsonRejection>,
) -> Answer<(StatusCode, Json<Value>)> {
    let Json(mut settings) = settings.map_err(bad_body)?;
    if settings.get("name").is_some_and(|n| *n != name) {
        return Err(
            ConfigError::invalid("name", "differs from the connector named in the path").into(),
        );
    }
    settings.insert("name".to_owned(), name);
    let (created, info) = worker.put_config(ConnectorConfig::new(settings)?).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!(info))))
}

async fn delete(State(worker): Shared, Path(name): Path<String>) -> Answer<StatusCode> {
    worker.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn status(State(worker): Shared, Path(name): Path<String>) -> Answer<Json<Value>> {
    Ok(Json(json!(worker.status(&name).await?)))
}

async fn pause(State(worker): Shared, Path(name): Path<String>) -> Answer<StatusCode> {
    worker.pause(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn resume(State(worker): Shared, Path(name): Path<String>) -> Answer<StatusCode> {
    worker.resume(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn stop(State(worker): Shared, Path(name): Path<String>) -> Answer<StatusCode> {
    worker.stop(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart(State(worker): Shared, Path(name): Path<String>) -> Answer<StatusCode> {
    worker.restart(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn offsets(State(worker): Shared, Path(name): Path<String>) -> Answer<Json<Value>> {
    Ok(Json(json!({"offsets": worker.offsets(&name).await?})))
}

async fn reset_offsets(State(worker): Shared, Path(name): Path<String>) -> Answer<Json<Value>> {
    worker.reset_offsets(&name).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been reset successfully"}),
    ))
}

/// `?q=...&limit=N` (10 by default, at most `search::MAX_HITS`).
#[derive(Debug, serde::Deserialize)]
struct SearchQuery {
    q: Option<String>,
    limit: Option<usize>,
}

async fn search(
    State(worker): Shared,
    Path(name): Path<String>,
    Query(query): Query<SearchQuery>,
) -> Answer<Json<Value>> {
    let config = ConnectorConfig::new(worker.info(&name).await?.config)?;
    if !search::CLASSES.contains(&config.class()) {
        return Err(ConnectError::NotSearchable(name).into());
    }
    let Some(text) = query.q.filter(|q| !q.trim().is_empty()) else {
        return Err(ConnectError::BadQuery("the parameter q is missing".to_owned()).into());
    };
    let limit = query.limit.unwrap_or(10);
    if !(1..=search::MAX_HITS).contains(&limit) {
        return Err(ConnectError::BadQuery(format!(
            "limit must be between 1 and {}",
            search::MAX_HITS
        ))
        .into());
    }
    let hits = SearchSettings::parse(&config)?
        .search(text, limit)
        .await
        .map_err(|e| match e {
            IndexError::BadQuery(reason) => ConnectError::BadQuery(reason),
            other => ConnectError::Sink(other.into()),
        })?;
    Ok(Json(json!({"hits": hits})))
}
