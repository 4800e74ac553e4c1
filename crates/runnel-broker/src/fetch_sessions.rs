//! Incremental fetch sessions (KIP-227).
//!
//! A client opens a session with a full fetch (session id 0, epoch 0) and gets a session id
//! back. Later fetches (epoch 1, 2, …) list only partitions whose fetch position changed, and
//! name those to drop in `forgotten_topics_data`; the response lists only partitions with
//! something new (records, a moved high watermark or log start, an error). Epoch -1 closes
//! a session. Sessions are not bound to a connection; the least recently used one is evicted
//! when the cache is full (Kafka's `max.incremental.fetch.session.cache.slots`, 1000).

use std::collections::HashMap;
use std::sync::Mutex;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{FetchRequest, TopicName};
use tokio::time::Instant;
use uuid::Uuid;

const MAX_SESSIONS: usize = 1000;
/// Topic ids replace names from this version on.
const TOPIC_ID_VERSION: i16 = 13;

/// One partition a session fetches, with what the client was last told about it.
#[derive(Debug, Clone)]
pub struct SessionPartition {
    pub topic: TopicName,
    pub topic_id: Uuid,
    pub partition: i32,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// High watermark and log start in the last response that included this partition
    /// (-1: never sent).
    pub sent_high_watermark: i64,
    pub sent_log_start: i64,
}

impl SessionPartition {
    fn same(&self, topic: &TopicName, topic_id: Uuid, partition: i32, version: i16) -> bool {
        self.partition == partition
            && if version >= TOPIC_ID_VERSION {
                self.topic_id == topic_id
            } else {
                self.topic == *topic
            }
    }
}

#[derive(Debug)]
struct Session {
    /// The epoch the next request must carry.
    next_epoch: i32,
    partitions: Vec<SessionPartition>,
    last_used: Instant,
}

/// What to do with a fetch request.
#[derive(Debug)]
pub enum Plan {
    /// Answer every partition of the request. `session_id` is 0 (no session) or the id of
    /// the session just created for them.
    Full {
        session_id: i32,
    },
    /// Read the session's partitions; answer only those with something new.
    Incremental {
        session_id: i32,
        partitions: Vec<SessionPartition>,
    },
    Error(i16),
}

#[derive(Debug, Default)]
pub struct FetchSessions {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<i32, Session>,
    last_id: i32,
}

/// The partitions of a fetch request, in session form (nothing sent yet).
pub(crate) fn partitions_of(request: &FetchRequest) -> Vec<SessionPartition> {
    request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| SessionPartition {
                topic: t.topic.clone(),
                topic_id: t.topic_id,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                sent_high_watermark: -1,
                sent_log_start: -1,
            })
        })
        .collect()
}

impl FetchSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides how to serve `request`, creating, updating or closing its session.
    pub fn begin(&self, request: &FetchRequest, version: i16) -> Plan {
        let (id, epoch) = (request.session_id, request.session_epoch);
        let mut inner = self.lock();
        match (id, epoch) {
            (0, -1) => Plan::Full { session_id: 0 },
            (_, -1) => {
                inner.sessions.remove(&id);
                Plan::Full { session_id: 0 }
            }
            (_, 0) => {
                if id != 0 {
                    inner.sessions.remove(&id);
                }
                Plan::Full {
                    session_id: inner.create(partitions_of(request)),
                }
            }
            (0, _) => Plan::Error(ResponseError::InvalidFetchSessionEpoch.code()),
            (_, _) => {
                let Some(session) = inner.sessions.get_mut(&id) else {
                    return Plan::Error(ResponseError::FetchSessionIdNotFound.code());
                };
                if epoch != session.next_epoch {
                    return Plan::Error(ResponseError::InvalidFetchSessionEpoch.code());
                }
                session.next_epoch = epoch.checked_add(1).unwrap_or(1);
                session.last_used = Instant::now();
                for forgotten in &request.forgotten_topics_data {
                    session.partitions.retain(|p| {
                        !forgotten
                            .partitions
                            .iter()
                            .any(|&i| p.same(&forgotten.topic, forgotten.topic_id, i, version))
                    });
                }
                for update in partitions_of(request) {
                    match session
                        .partitions
                        .iter_mut()
                        .find(|p| p.same(&update.topic, update.topic_id, update.partition, version))
                    {
                        Some(existing) => {
                            existing.fetch_offset = update.fetch_offset;
                            existing.max_bytes = update.max_bytes;
                        }
                        None => session.partitions.push(update),
                    }
                }
                Plan::Incremental {
                    session_id: id,
                    partitions: session.partitions.clone(),
                }
            }
        }
    }

    /// Records what a response told the client: (index into the session's partitions,
    /// high watermark, log start) for each partition it included.
    pub fn sent(&self, session_id: i32, sent: &[(usize, i64, i64)]) {
        let mut inner = self.lock();
        if let Some(session) = inner.sessions.get_mut(&session_id) {
            for &(index, high_watermark, log_start) in sent {
                if let Some(p) = session.partitions.get_mut(index) {
                    p.sent_high_watermark = high_watermark;
                    p.sent_log_start = log_start;
                }
            }
        }
    }
}

impl Inner {
    fn create(&mut self, partitions: Vec<SessionPartition>) -> i32 {
        if self.sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id)
            {
                self.sessions.remove(&oldest);
            }
        }
        // Ids are positive and never 0 (which means "no session").
        loop {
            self.last_id = if self.last_id >= i32::MAX - 1 {
                1
            } else {
                self.last_id + 1
            };
            if !self.sessions.contains_key(&self.last_id) {
                break;
            }
        }
        self.sessions.insert(
            self.last_id,
            Session {
                next_epoch: 1,
                partitions,
                last_used: Instant::now(),
            },
        );
        self.last_id
    }
}
