//! The admin server over real HTTP: what each path answers, the lag evaluation it runs and
//! the webhooks it tells, and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use runnel_admin::{
    AdminServer, LagReport, LagSettings, Observation, Source, METRICS_CONTENT_TYPE,
};
use runnel_lag::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const WINDOW_MS: i64 = 60_000;

/// A source whose committed offsets the test sets.
#[derive(Debug, Default)]
struct Fixed {
    stopping: AtomicBool,
    offsets: Mutex<Vec<Observation>>,
}

impl Source for Fixed {
    fn metrics(&self, lag: &LagReport) -> Result<String, std::fmt::Error> {
        Ok(format!(
            "# TYPE up gauge\nup 1\n# groups {}\n",
            lag.groups.len()
        ))
    }
    fn lag_observations(&self) -> Vec<Observation> {
        self.offsets.lock().unwrap().clone()
    }
    fn healthy(&self) -> bool {
        !self.stopping.load(Ordering::Acquire)
    }
}

fn settings(clock: Arc<AtomicI64>, webhooks: Vec<String>) -> LagSettings {
    LagSettings {
        limits: Limits {
            window_ms: WINDOW_MS,
            ..Limits::default()
        },
        interval: Duration::from_millis(10),
        webhooks,
        clock: Arc::new(move || clock.load(Ordering::Acquire)),
    }
}

/// An HTTP receiver whose POSTed bodies arrive on the channel.
async fn webhook() -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let (send, received) = mpsc::unbounded_channel();
    let router = Router::new().route(
        "/hook",
        post(move |body: String| async move {
            send.send(serde_json::from_str(&body).unwrap()).unwrap();
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

/// GETs `path` until `done` holds of the body (the loop looks every 10 ms), or fails after 10 s.
async fn await_body(server: &AdminServer, path: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, _, body) = get(server, path).await;
        if serde_json::from_str(&body).is_ok_and(|json| done(&json)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still says {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `GET path` and returns the status line, the headers and the body.
async fn get(server: &AdminServer, path: &str) -> (String, String, String) {
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap();
    (status.to_owned(), headers.to_lowercase(), body.to_owned())
}

#[tokio::test]
async fn metrics_health_and_unknown_paths_are_answered_until_shutdown() {
    let source = Arc::new(Fixed::default());
    let clock = Arc::new(AtomicI64::new(0));
    let server = AdminServer::start("127.0.0.1:0", source.clone(), settings(clock, vec![]))
        .await
        .unwrap();

    let (status, headers, body) = get(&server, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains(&format!("content-type: {METRICS_CONTENT_TYPE}")),
        "{headers}"
    );
    assert_eq!(body, "# TYPE up gauge\nup 1\n# groups 0\n");

    let (status, _, body) = get(&server, "/health").await;
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "ok\n")
    );
    source.stopping.store(true, Ordering::Release);
    let (status, _, _) = get(&server, "/health").await;
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");

    let (status, _, _) = get(&server, "/nothing-here").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    let address = server.local_addr();
    server.shutdown().await.unwrap();
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn lag_is_evaluated_served_and_its_changes_posted() {
    let source = Arc::new(Fixed::default());
    let clock = Arc::new(AtomicI64::new(1_000));
    let (url, mut posted) = webhook().await;
    let server = AdminServer::start(
        "127.0.0.1:0",
        source.clone(),
        settings(clock.clone(), vec![url]),
    )
    .await
    .unwrap();
    let (status, _, body) = get(&server, "/v1/lag").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let empty: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(empty["groups"], serde_json::json!([]));

    // Group g committed offset 100 at 1 s; 30 records wait.
    *source.offsets.lock().unwrap() = vec![Observation {
        group: "g".into(),
        topic: "orders".into(),
        partition: 0,
        offset: 100,
        commit_time_ms: 1_000,
        log_end: 130,
    }];
    await_body(&server, "/v1/lag/g", |g| g["status"] == "OK").await;
    let ok = posted.recv().await.unwrap();
    assert_eq!(ok["group"], "g");
    assert_eq!(ok["previous"], serde_json::Value::Null);
    assert_eq!(ok["status"], "OK");
    assert_eq!(ok["detail"]["total_lag"], 30);

    // No commit for longer than the window: STOP, served and posted.
    clock.store(1_000 + WINDOW_MS + 1, Ordering::Release);
    await_body(&server, "/v1/lag", |report| {
        report["groups"][0]["status"] == "STOP"
    })
    .await;
    let stop = posted.recv().await.unwrap();
    assert_eq!(
        (stop["previous"].as_str(), stop["status"].as_str()),
        (Some("OK"), Some("STOP"))
    );
    assert_eq!(stop["detail"]["partitions"][0]["topic"], "orders");
    assert_eq!(stop["detail"]["partitions"][0]["lag"], 30);
    // The webhook and the report of every group leave the commit history out; the group's
    // own report has it, for a chart of the recent past.
    assert!(stop["detail"]["partitions"][0].get("history").is_none());
    let (_, _, own) = get(&server, "/v1/lag/g").await;
    let own: serde_json::Value = serde_json::from_str(&own).unwrap();
    assert_eq!(
        own["partitions"][0]["history"],
        serde_json::json!([{"time_ms": 1_000, "offset": 100, "lag": 30}])
    );
    let (_, _, metrics) = get(&server, "/metrics").await;
    assert!(metrics.ends_with("# groups 1\n"), "{metrics}");

    let (status, _, body) = get(&server, "/v1/lag/nobody").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert_eq!(body, "no committed offsets of group nobody\n");
    server.shutdown().await.unwrap();
}
