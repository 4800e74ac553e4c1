//! Runnel's admin HTTP server: `/metrics` for Prometheus, `/health` for load balancers
//! and orchestrators, and `/v1/lag` for the consumer lag evaluation it runs.
//!
//! The server knows nothing about the broker: it serves what a [`Source`] hands it, and
//! the binary wires the broker in (and the web console's routes, which it merges without
//! knowing what they are). A request is answered from the source at that moment;
//! nothing is cached between scrapes.

use std::net::SocketAddr;
use std::sync::Arc;

mod lag;

pub use lag::{Clock, LagSettings};
pub use runnel_lag::{LagReport, Observation};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The `Content-Type` of the Prometheus text exposition format, version 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the admin server shows.
pub trait Source: Send + Sync + 'static {
    /// The metrics in the Prometheus text exposition format, as of now, with the lag
    /// statuses of `lag`.
    fn metrics(&self, lag: &LagReport) -> Result<String, std::fmt::Error>;
    /// Every group's committed offsets and their partitions' log ends, as of now.
    fn lag_observations(&self) -> Vec<Observation>;
    /// Whether the service is up and accepting work (false while it shuts down).
    fn healthy(&self) -> bool;
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot listen on {address} for the admin server")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("admin server failed: {0}")]
    Task(String),
}

/// A running admin server. Stop it with [`AdminServer::shutdown`].
#[derive(Debug)]
pub struct AdminServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl AdminServer {
    /// Binds `address` (HOST:PORT) and serves until shutdown, evaluating consumer lag as
    /// `lag` says.
    pub async fn start(
        address: &str,
        source: Arc<dyn Source>,
        lag: LagSettings,
    ) -> Result<Self, AdminError> {
        Self::start_with_routes(address, source, lag, Router::new()).await
    }

    /// As [`AdminServer::start`], also serving `routes` (the web console's, for instance)
    /// besides the server's own paths.
    pub async fn start_with_routes(
        address: &str,
        source: Arc<dyn Source>,
        lag: LagSettings,
        routes: Router,
    ) -> Result<Self, AdminError> {
        let bind_error = |source| AdminError::Bind {
            address: address.to_owned(),
            source,
        };
        let listener = TcpListener::bind(address).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let (stop, mut stopped) = watch::channel(false);
        let lag = lag::start(lag, Arc::clone(&source), stopped.clone());
        let router = Router::new()
            .route("/metrics", get(metrics))
            .route("/health", get(health))
            .route("/v1/lag", get(lag_report))
            .route("/v1/lag/{group}", get(group_lag))
            .with_state(Served { source, lag })
            .merge(routes);
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
        });
        Ok(AdminServer {
            local_addr,
            stop,
            task,
        })
    }

    /// The address the server is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and waits for the requests being answered.
    pub async fn shutdown(self) -> Result<(), AdminError> {
        let _ = self.stop.send(true);
        self.task
            .await
            .map_err(|join| AdminError::Task(join.to_string()))?
            .map_err(|io| AdminError::Task(io.to_string()))
    }
}

/// What the requests read.
#[derive(Clone)]
struct Served {
    source: Arc<dyn Source>,
    lag: lag::Lag,
}

async fn metrics(State(served): State<Served>) -> Response {
    match served.source.metrics(&served.lag.report()) {
        Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::warn!(%error, "cannot encode the metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n",
            )
                .into_response()
        }
    }
}

async fn health(State(served): State<Served>) -> Response {
    if served.source.healthy() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}

/// Every group's lag status, as JSON.
async fn lag_report(State(served): State<Served>) -> Json<LagReport> {
    Json(served.lag.report())
}

/// One group's lag status with each partition's recent commits, as JSON; 404 for a group
/// with no committed offsets.
async fn group_lag(State(served): State<Served>, Path(group): Path<String>) -> Response {
    match served.lag.group_report(&group) {
        Some(lag) => Json(lag).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no committed offsets of group {group}\n"),
        )
            .into_response(),
    }
}
