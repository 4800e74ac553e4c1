//! The application's own HTTP endpoint (`StreamsConfig::metrics_listen`): `/metrics` in the
//! Prometheus text format, as `runnel serve --admin-listen` serves the broker's, and
//! `/health`. It runs on a thread of its own with a single-threaded runtime, so a scrape
//! never takes time from the processing thread beyond the lock that copies the snapshot.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use crate::error::RunnerError;
use crate::metrics::Metrics;

/// The `Content-Type` of the Prometheus text exposition format, version 0.0.4.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the endpoint reads: the snapshot the runner refreshes, and whether it still runs.
#[derive(Clone)]
struct Served {
    application_id: Arc<str>,
    metrics: Arc<Mutex<Metrics>>,
    processing: Arc<AtomicBool>,
}

/// A running endpoint; stopped by `stop`.
#[derive(Debug)]
pub(crate) struct MetricsServer {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `listen` (HOST:PORT; port 0 for any free one) before returning, so a taken
    /// address fails the start, then serves on a thread of its own.
    pub fn start(
        listen: &str,
        application_id: &str,
        metrics: Arc<Mutex<Metrics>>,
        processing: Arc<AtomicBool>,
    ) -> Result<MetricsServer, RunnerError> {
        let bind_error = |source| RunnerError::MetricsListen {
            address: listen.to_owned(),
            source,
        };
        let listener = std::net::TcpListener::bind(listen).map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let served = Served {
            application_id: application_id.into(),
            metrics,
            processing,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("streams-metrics-{application_id}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let router = Router::new()
                        .route("/metrics", get(metrics_text))
                        .route("/health", get(health))
                        .with_state(served);
                    let served = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            axum::serve(listener, router)
                                .with_graceful_shutdown(async move {
                                    let _ = stopped.await;
                                })
                                .await
                        }
                        Err(error) => Err(error),
                    };
                    if let Err(error) = served {
                        tracing::warn!(%error, "the metrics endpoint stopped");
                    }
                });
            })?;
        tracing::info!(%address, "serving the application's metrics");
        Ok(MetricsServer {
            address,
            stop,
            thread,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, and waits for the requests being answered.
    pub fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            tracing::warn!("the metrics endpoint's thread panicked");
        }
    }
}

async fn metrics_text(State(served): State<Served>) -> Response {
    let snapshot = served.metrics.lock().map(|m| m.clone()).unwrap_or_default();
    match snapshot.render(&served.application_id) {
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

/// 200 while the processing thread runs; 503 once it has ended (stopped, or on an error).
async fn health(State(served): State<Served>) -> Response {
    if served.processing.load(Ordering::Acquire) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not processing\n").into_response()
    }
}
