//! One member of a group and the requests of it that are waiting for an answer.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{JoinOutcome, JoinRequest, SyncOutcome};

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// (assignor name, opaque metadata), in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub last_heartbeat: Instant,
    pub(super) join_waiter: Option<oneshot::Sender<JoinOutcome>>,
    pub(super) sync_waiter: Option<oneshot::Sender<SyncOutcome>>,
}

/// Kafka's member id form: the client id, a dash, a UUID.
pub fn new_member_id(client_id: &str) -> String {
    format!("{client_id}-{}", uuid::Uuid::new_v4())
}

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Member {
    pub(super) fn from_request(id: &str, request: &JoinRequest, now: Instant) -> Self {
        Member {
            id: id.to_owned(),
            instance_id: request.instance_id.clone(),
            client_id: request.client_id.clone(),
            client_host: request.client_host.clone(),
            session_timeout: millis(request.session_timeout_ms),
            // Before JoinGroup v1 there is no rebalance timeout: Kafka uses the session's.
            rebalance_timeout: millis(request.rebalance_timeout_ms.max(request.session_timeout_ms)),
            protocols: request.protocols.clone(),
            assignment: Bytes::new(),
            last_heartbeat: now,
            join_waiter: None,
            sync_waiter: None,
        }
    }

    /// Stands in for a static member whose record is missing (should not happen).
    pub(super) fn placeholder(id: &str) -> Self {
        Member {
            id: id.to_owned(),
            instance_id: None,
            client_id: String::new(),
            client_host: String::new(),
            session_timeout: Duration::ZERO,
            rebalance_timeout: Duration::ZERO,
            protocols: Vec::new(),
            assignment: Bytes::new(),
            last_heartbeat: Instant::now(),
            join_waiter: None,
            sync_waiter: None,
        }
    }

    pub(super) fn update(&mut self, request: &JoinRequest, now: Instant) {
        self.protocols = request.protocols.clone();
        self.session_timeout = millis(request.session_timeout_ms);
        self.rebalance_timeout =
            millis(request.rebalance_timeout_ms.max(request.session_timeout_ms));
        self.last_heartbeat = now;
    }

    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }

    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub fn is_joining(&self) -> bool {
        self.join_waiter.is_some()
    }

    pub fn is_syncing(&self) -> bool {
        self.sync_waiter.is_some()
    }

    pub(super) fn answer_join(&mut self, outcome: JoinOutcome) {
        if let Some(waiter) = self.join_waiter.take() {
            // The requester may have gone (connection closed); nothing to do then.
            let _ = waiter.send(outcome);
        }
        self.last_heartbeat = Instant::now();
    }

    pub(super) fn answer_sync(&mut self, outcome: SyncOutcome) {
        if let Some(waiter) = self.sync_waiter.take() {
            let _ = waiter.send(outcome);
            // As in Kafka, the session restarts once a waiting SyncGroup is answered: the
            // time spent waiting for the leader's assignment is not the member's silence.
            self.last_heartbeat = Instant::now();
        }
    }

    /// Answers waiting requests of a member that is being removed (UNKNOWN_MEMBER_ID) or
    /// replaced by a new incarnation of its static instance (FENCED_INSTANCE_ID), as Kafka.
    pub(super) fn cancel_waiters(&mut self, error: ResponseError) {
        let code = error.code();
        if let Some(waiter) = self.join_waiter.take() {
            let _ = waiter.send(JoinOutcome::error(code, &self.id));
        }
        self.answer_sync(SyncOutcome {
            error: code,
            ..SyncOutcome::default()
        });
    }
}
