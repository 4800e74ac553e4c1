//! Runnel's admin HTTP server: `/metrics` for Prometheus and `/health` for load balancers
//! and orchestrators.
//!
//! The server knows nothing about the broker: it serves what a [`Source`] hands it, and
//! the binary wires the broker in. A request is answered from the source at that moment;
//! nothing is cached between scrapes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The `Content-Type` of the Prometheus text exposition format, version 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the admin server shows.
pub trait Source: Send + Sync + 'static {
    /// The metrics in the Prometheus text exposition format, as of now.
    fn metrics(&self) -> Result<String, std::fmt::Error>;
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
    /// Binds `address` (HOST:PORT) and serves until shutdown.
    pub async fn start(address: &str, source: Arc<dyn Source>) -> Result<Self, AdminError> {
        let bind_error = |source| AdminError::Bind {
            address: address.to_owned(),
            source,
        };
        let listener = TcpListener::bind(address).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let router = Router::new()
            .route("/metrics", get(metrics))
            .route("/health", get(health))
            .with_state(source);
        let (stop, mut stopped) = watch::channel(false);
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

async fn metrics(State(source): State<Arc<dyn Source>>) -> Response {
    match source.metrics() {
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

async fn health(State(source): State<Arc<dyn Source>>) -> Response {
    if source.healthy() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}
