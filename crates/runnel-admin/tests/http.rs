//! The admin server over real HTTP: what each path answers, and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use runnel_admin::{AdminServer, Source, METRICS_CONTENT_TYPE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Default)]
struct Fixed {
    stopping: AtomicBool,
}

impl Source for Fixed {
    fn metrics(&self) -> Result<String, std::fmt::Error> {
        Ok("# TYPE up gauge\nup 1\n".to_owned())
    }
    fn healthy(&self) -> bool {
        !self.stopping.load(Ordering::Acquire)
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
    let server = AdminServer::start("127.0.0.1:0", source.clone())
        .await
        .unwrap();

    let (status, headers, body) = get(&server, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains(&format!("content-type: {METRICS_CONTENT_TYPE}")),
        "{headers}"
    );
    assert_eq!(body, "# TYPE up gauge\nup 1\n");

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
