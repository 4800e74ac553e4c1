//! Accepting connections and running each one.
//!
//! A connection is a reader and a writer. The reader decodes frames and starts a task per
//! request, at most `max.in.flight.requests.per.connection` at once; the writer awaits those
//! tasks in the order the requests came and writes their responses, so responses leave in
//! request order however long each request takes. Requests that change state (see
//! `keeps_order`) also *run* in request order, one after the other, as Kafka guarantees:
//! a producer with several requests in flight relies on it to keep its records in order. A
//! request that cannot be understood ends the connection after the responses to the requests
//! before it. Connections over `max.connections` or `max.connections.per.ip` are closed as
//! they are accepted, and idle ones after `connections.max.idle.ms` (see `connections`).
//! A client over one of its quotas gets its response at once, and then nothing more is read
//! from its connection for the throttle time (see `quotas`).
//! On a SASL listener every request is first put to the connection's `SaslConnection`:
//! SaslHandshake and SaslAuthenticate are answered in the reader itself, one after the other,
//! since they change who the connection is; requests it does not admit (anything before
//! authentication but ApiVersions) end the connection unanswered (see `sasl`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::broker::BrokerState;
use crate::codec;
use crate::connections::{Activity, Mute, Slot};
use crate::error::RequestError;
use crate::handlers;
use crate::listeners::ListenerInfo;
use crate::response::Response;
use crate::sasl::{Admission, SaslConnection};
use crate::session::{Principal, Session};
use crate::tls::principal::principal_of_certificate;
use crate::tls::{HandshakeFailure, TlsContext};

/// How long a client of an SSL listener has to complete its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for in-flight requests before dropping their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

type Pending = (
    JoinHandle<Result<Option<Response>, RequestError>>,
    OwnedSemaphorePermit,
);

/// Accepts the connections of one listener until shutdown, then waits for every one of them
/// to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    info: Arc<ListenerInfo>,
    tls: Option<Arc<TlsContext>>,
    state: Arc<BrokerState>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = state.shutting_down() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match state.connections.admit(peer.ip()) {
                    Ok(slot) => {
                        let _ = stream.set_nodelay(true);
                        let opening = open(stream, peer, Arc::clone(&info), tls.clone(), Arc::clone(&state), slot);
                        connections.spawn(opening);
                    }
                    // Debug level: a flood of refusals must not flood the log as well.
                    Err(refusal) => tracing::debug!(%peer, %refusal, "connection refused"),
                },
                Err(error) => {
                    // Typically EMFILE: back off briefly rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
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

/// Completes the TLS handshake of a connection to an SSL listener, then serves it: nothing is
/// read as a request before the handshake completes. The handshake runs in the connection's
/// own task (the accept loop goes on) and is bounded by [`TLS_HANDSHAKE_TIMEOUT`] and
/// `connections.max.idle.ms`; a client that fails it (no or an untrusted certificate when
/// one is required, plaintext, garbage) is closed.
async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    info: Arc<ListenerInfo>,
    tls: Option<Arc<TlsContext>>,
    state: Arc<BrokerState>,
    slot: Slot,
) {
    let Some(tls) = tls else {
        let session = Session::new(peer, info, Principal::anonymous());
        let (reader, writer) = stream.into_split();
        return connection(reader, writer, session, state, slot).await;
    };
    let acceptor = TlsAcceptor::from(tls.config(Instant::now()));
    let limit =
        TLS_HANDSHAKE_TIMEOUT.min(Duration::from_millis(state.config.connections_max_idle_ms));
    let stream = tokio::select! {
        _ = state.shutting_down() => return,
        accepted = tokio::time::timeout(limit, acceptor.accept(stream)) => match accepted {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                let reason = HandshakeFailure::of(&error);
                tls.handshake_failures().count(&info.name, reason);
                tracing::debug!(%peer, %error, %reason, "TLS handshake failed; connection closed");
                return;
            }
            Err(_) => {
                tls.handshake_failures().count(&info.name, HandshakeFailure::Timeout);
                tracing::debug!(%peer, ?limit, "TLS handshake not completed in time; connection closed");
                return;
            }
        },
    };
    // Kafka's default mapping: a client certificate's subject is the principal.
    let principal = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| principal_of_certificate(leaf))
        .unwrap_or_else(Principal::anonymous);
    let session = Session::new(peer, info, principal);
    let (reader, writer) = tokio::io::split(stream);
    connection(reader, writer, session, state, slot).await
}

/// Serves one connection, from the halves of its stream; `_slot` holds its place among the
/// open connections until it ends.
async fn connection<R, W>(
    read_half: R,
    mut write_half: W,
    session: Session,
    state: Arc<BrokerState>,
    _slot: Slot,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let peer = session.peer;
    tracing::debug!(%peer, listener = %session.listener.name, "connection opened");
    let activity = Arc::new(Activity::new(Instant::now()));
    let mute = Arc::new(Mute::new(Instant::now()));
    let mut sasl = session.listener.protocol.uses_sasl().then(|| {
        let settings = &state.config.sasl;
        SaslConnection::new(
            settings.mechanisms_of(&session.listener.name).to_vec(),
            Duration::from_millis(settings.max_reauth_ms),
        )
    });
    let mut session = Arc::new(session);
    let max_idle = Duration::from_millis(state.config.connections_max_idle_ms);
    let mut reader = BufReader::new(read_half);
    let limit = Arc::new(Semaphore::new(
        state.config.max_in_flight_per_connection.max(1),
    ));
    let (queue, mut pending) = mpsc::unbounded_channel::<Pending>();

    let writer_state = Arc::clone(&state);
    let writer_activity = Arc::clone(&activity);
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
            let written = match outcome {
                Ok(Some(response)) => match write_response(&mut write_half, &response).await {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::debug!(%peer, %error, "write failed; closing connection");
                        false
                    }
                },
                Ok(None) => true, // acks=0 produce: no response
                Err(error) => {
                    tracing::warn!(%peer, %error, "closing connection");
                    false
                }
            };
            writer_activity.request_done(Instant::now());
            if !written {
                break;
            }
        }
        let _ = write_half.shutdown().await;
    });

    let mut shutdown = state.shutdown_receiver();
    // Completes (its sender dropped) when the last state-changing request so far is done.
    let mut previous_change: Option<oneshot::Receiver<()>> = None;
    'requests: loop {
        let permit = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            _ = queue.closed() => break,
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        // A muted connection is not read from until its throttle time is over (checked
        // first: arming a timer for every request would cost more than the comparison).
        if mute.until() > tokio::time::Instant::now() {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = queue.closed() => break,
                _ = tokio::time::sleep_until(mute.until()) => {}
            }
        }
        // As Kafka, a client that has not authenticated gets a much smaller frame bound: the
        // size prefix is checked before a byte of the body is read or buffered.
        let authenticated = sasl.as_ref().is_none_or(SaslConnection::authenticated);
        let max_frame = match authenticated {
            true => state.config.max_request_bytes,
            false => state.config.sasl.max_receive_bytes,
        };
        let read = codec::read_frame(&mut reader, max_frame);
        tokio::pin!(read);
        let frame = loop {
            // While a request is unanswered the connection is not idle; look again later.
            let idle_at = activity
                .idle_at(max_idle)
                .unwrap_or_else(|| Instant::now() + max_idle);
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break 'requests,
                // The writer gave up on the connection: stop reading from it too.
                _ = queue.closed() => break 'requests,
                frame = &mut read => break frame,
                _ = tokio::time::sleep_until(idle_at) => {
                    if activity.idle_at(max_idle).is_some_and(|at| at <= Instant::now()) {
                        tracing::debug!(%peer, ?max_idle, "idle connection closed");
                        break 'requests;
                    }
                }
            }
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            // Debug level before authentication: anyone can send bad frames.
            Err(error) if !authenticated => {
                tracing::debug!(%peer, %error, "bad frame before SASL authentication; closing connection");
                break;
            }
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
        activity.request_received(Instant::now());
        let admission = match &mut sasl {
            Some(current) => current.admit(api, Instant::now()),
            None => Admission::Serve,
        };
        match admission {
            Admission::Serve => {}
            Admission::Close(reason) => {
                tracing::debug!(%peer, ?api, reason, "closing connection");
                break;
            }
            Admission::Exchange => {
                let exchanging = handlers::sasl::exchange(
                    &state,
                    &mut sasl,
                    &session.listener.name,
                    api,
                    header,
                    body,
                );
                let exchanged = tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break 'requests,
                    exchanged = exchanging => exchanged,
                };
                if let Some(principal) = exchanged.principal {
                    session = Arc::new(session.authenticated_as(principal));
                }
                let close = exchanged.close || sasl.is_none();
                // As Kafka, a failed authentication is answered, and its connection closed,
                // only after `connection.failed.authentication.delay.ms`: a client retrying
                // at once is slowed down, other connections are not.
                let delay = Duration::from_millis(match close {
                    true => state.config.sasl.failed_authentication_delay_ms,
                    false => 0,
                });
                let outcome = exchanged.outcome;
                let answer = tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    outcome
                });
                if queue.send((answer, permit)).is_err() || close {
                    break;
                }
                continue;
            }
        }
        let task_state = Arc::clone(&state);
        let task_mute = Arc::clone(&mute);
        let task_session = Arc::clone(&session);
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
            let handled = handlers::handle(&task_state, &task_session, api, header, body).await;
            task_mute.hold(Instant::now(), handled.throttle_ms);
            handled.outcome
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
async fn write_response<W: AsyncWrite + Unpin>(
    socket: &mut W,
    response: &Response,
) -> std::io::Result<()> {
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
