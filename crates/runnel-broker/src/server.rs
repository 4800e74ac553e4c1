//! Accepting connections and running each one.
//!
//! A connection is a reader and a writer. The reader decodes frames and starts a task per
//! request, at most `max.in.flight.requests.per.connection` at once; the writer awaits those
//! tasks in the order the requests came and writes their responses, so responses leave in
//! request order however long each request takes. Requests that change state (see
//! `keeps_order`) also *run* in request order, one after the other, as Kafka guarantees:
//! a producer with several requests in flight relies on it to keep its records in order. A
//! request that cannot be understood ends the connection after the responses to the requests
//! before it.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::broker::BrokerState;
use crate::codec;
use crate::error::RequestError;
use crate::handlers;
use crate::response::Response;

/// How long shutdown waits for in-flight requests before dropping their connections.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

type Pending = (
    JoinHandle<Result<Option<Response>, RequestError>>,
    OwnedSemaphorePermit,
);

/// Accepts connections until shutdown, then waits for every connection to finish.
pub(crate) async fn serve(listener: TcpListener, state: Arc<BrokerState>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = state.shutting_down() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(stream, peer, Arc::clone(&state)));
                }
                Err(error) => {
                    // Typically EMFILE: back off briefly rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        // A client that stopped reading can hold its connection's writer forever.
        tracing::warn!(
            connections = connections.len(),
            "connections still busy after {DRAIN_TIMEOUT:?}; dropping them"
        );
        connections.shutdown().await;
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, state: Arc<BrokerState>) {
    tracing::debug!(%peer, "connection opened");
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = BufReader::new(read_half);
    let limit = Arc::new(Semaphore::new(
        state.config.max_in_flight_per_connection.max(1),
    ));
    let (queue, mut pending) = mpsc::unbounded_channel::<Pending>();

    let writer_state = Arc::clone(&state);
    let writer = tokio::spawn(async move {
        while let Some((task, permit)) = pending.recv().await {
            let outcome = match task.await {
                Ok(outcome) => outcome,
                Err(join) => {
                    tracing::error!(%peer, error = %join, "request handler failed; closing connection");
                    writer_state.count_handler_panic();
                    break;
                }
            };
            drop(permit);
            match outcome {
                Ok(Some(response)) => {
                    if let Err(error) = write_response(&mut write_half, &response).await {
                        tracing::debug!(%peer, %error, "write failed; closing connection");
                        break;
                    }
                }
                Ok(None) => {} // acks=0 produce: no response
                Err(error) => {
                    tracing::warn!(%peer, %error, "closing connection");
                    break;
                }
            }
        }
        let _ = write_half.shutdown().await;
    });

    let mut shutdown = state.shutdown_receiver();
    // Completes (its sender dropped) when the last state-changing request so far is done.
    let mut previous_change: Option<oneshot::Receiver<()>> = None;
    loop {
        let permit = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            _ = queue.closed() => break,
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let frame = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            // The writer gave up on the connection: stop reading from it too.
            _ = queue.closed() => break,
            frame = codec::read_frame(&mut reader, state.config.max_request_bytes) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(error) => {
                tracing::warn!(%peer, %error, "bad frame; closing connection");
                break;
            }
        };
        let (api, header, body) = match codec::decode_header(frame) {
            Ok(parts) => parts,
            Err(error) => {
                tracing::warn!(%peer, %error, "bad request header; closing connection");
                break;
            }
        };
        let task_state = Arc::clone(&state);
        let order = keeps_order(api).then(|| {
            let (done, next) = oneshot::channel::<()>();
            (previous_change.replace(next), done)
        });
        let task = tokio::spawn(async move {
            let _done = match order {
                Some((previous, done)) => {
                    if let Some(previous) = previous {
                        let _ = previous.await;
                    }
                    Some(done)
                }
                None => None,
            };
            handlers::handle(&task_state, peer, api, header, body).await
        });
        if queue.send((task, permit)).is_err() {
            break; // the writer stopped: the connection is closing
        }
    }
    drop(queue);
    // The writer drains the requests already started, then closes the socket.
    let _ = writer.await;
    tracing::debug!(%peer, "connection closed");
}

/// Writes a response's parts in order.
async fn write_response(socket: &mut OwnedWriteHalf, response: &Response) -> std::io::Result<()> {
    for part in response.parts() {
        socket.write_all(part).await?;
    }
    Ok(())
}

/// Whether requests of this API change state, and so run in request order on a connection:
/// appends, committed offsets, record and group deletions, topics and configs, consumer group
/// heartbeats (an acknowledgement must not overtake the leave after it), and every share-group
/// request (share sessions count their requests by epoch, and a ShareFetch settles the
/// acknowledgements it carries, as Kafka, which serves a connection one request at a time).
/// Others (fetches above all, which may wait long for data) run concurrently.
fn keeps_order(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::Produce
            | ApiKey::OffsetCommit
            | ApiKey::DeleteRecords
            | ApiKey::CreateTopics
            | ApiKey::DeleteTopics
            | ApiKey::CreatePartitions
            | ApiKey::AlterConfigs
            | ApiKey::IncrementalAlterConfigs
            | ApiKey::DeleteGroups
            | ApiKey::OffsetDelete
            | ApiKey::ConsumerGroupHeartbeat
            | ApiKey::ShareGroupHeartbeat
            | ApiKey::ShareFetch
            | ApiKey::ShareAcknowledge
            | ApiKey::AlterShareGroupOffsets
            | ApiKey::DeleteShareGroupOffsets
    )
}
