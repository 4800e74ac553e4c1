//! The command handler: load, decide, append with the expected offset, retry on conflict.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aggregate::Aggregate;
use crate::clients;
use crate::error::{CommandError, EventStoreError};
use crate::event::{decode_commit, Commit, Metadata, StoredEvent, Upcasters};
use crate::store::EventIndex;

/// The record header Runnel reads the expectation from: its compact form, the expected
/// offset as 8 bytes big-endian (-1 for a new aggregate). The broker also reads an ASCII
/// decimal `runnel.expected.offset`, made for command-line tools; the compact one is 11
/// bytes shorter a record and needs no parsing.
pub const EXPECTED_OFFSET_HEADER: &str = "runnel.eo";

/// The headers of a record appended only if its key's latest record is at `offset` (-1: the
/// key has no record yet).
pub(crate) fn expecting(offset: i64) -> OwnedHeaders {
    OwnedHeaders::new().insert(Header {
        key: EXPECTED_OFFSET_HEADER,
        value: Some(&offset.to_be_bytes()),
    })
}

/// How a handler behaves; time and ids are injected so tests decide them.
#[derive(Clone)]
pub struct HandlerConfig {
    /// Attempts per command; each conflict costs one.
    pub max_attempts: u32,
    /// A snapshot is written once this many events were applied since the last one.
    pub snapshot_every: usize,
    /// How long to wait for the event index after an append or a conflict.
    pub catch_up_timeout: Duration,
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    pub new_id: Arc<dyn Fn() -> String + Send + Sync>,
}

impl std::fmt::Debug for HandlerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerConfig")
            .field("max_attempts", &self.max_attempts)
            .field("snapshot_every", &self.snapshot_every)
            .field("catch_up_timeout", &self.catch_up_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            max_attempts: 20,
            snapshot_every: 100,
            catch_up_timeout: Duration::from_secs(10),
            clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            }),
            new_id: Arc::new(|| uuid::Uuid::new_v4().to_string()),
        }
    }
}

/// What caused a command: carried into its events' metadata.
#[derive(Debug, Clone)]
pub struct Cause {
    pub correlation_id: String,
    pub causation_id: String,
}

/// An aggregate as loaded.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub state: A,
    /// The offset of its latest commit, or -1: the expectation of the next append.
    pub version: i64,
    pub from_snapshot: bool,
    /// Commits read after the snapshot (all of them without one).
    pub commits_replayed: usize,
    events_since_snapshot: usize,
}

/// A command carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Executed {
    /// The offset of the commit holding its events, or the aggregate's version if the
    /// command produced none.
    pub offset: i64,
    pub events: usize,
    pub attempts: u32,
}

/// A snapshot record: the state after the commit at `offset`.
#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    offset: i64,
    events_since: usize,
    state: Value,
}

/// Carries out commands on aggregates of type `A` stored in an event index's topics.
pub struct CommandHandler<A: Aggregate> {
    index: Arc<EventIndex>,
    producer: FutureProducer,
    upcasters: Upcasters,
    config: HandlerConfig,
    conflicts: AtomicU64,
    /// One command at a time per aggregate in this handler: two of its commits on one
    /// aggregate would expect the same offset, and if its producer batched them together
    /// the whole batch would be refused, again and again.
    in_progress: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate> std::fmt::Debug for CommandHandler<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandHandler")
            .field("topics", self.index.topics())
            .field("conflicts", &self.conflicts())
            .finish_non_exhaustive()
    }
}

impl<A: Aggregate> CommandHandler<A> {
    /// A handler writing through an idempotent producer to the cluster at `bootstrap`
    /// (retries of an appended commit are acknowledged, not appended twice).
    pub fn new(
        bootstrap: &str,
        index: Arc<EventIndex>,
        upcasters: Upcasters,
        config: HandlerConfig,
    ) -> Result<Self, EventStoreError> {
        let producer = clients::writer(bootstrap).create()?;
        Ok(CommandHandler {
            index,
            producer,
            upcasters,
            config,
            conflicts: AtomicU64::new(0),
            in_progress: std::sync::Mutex::new(HashMap::new()),
            _aggregate: PhantomData,
        })
    }

    /// Waits until the event index has read everything appended so far.
    pub async fn catch_up(&self) -> Result<(), EventStoreError> {
        self.index.catch_up(self.config.catch_up_timeout).await
    }

    /// Appends refused because another append came first, since the handler started.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// The aggregate `id`: its snapshot if one is usable, then its commits after it.
    pub fn load(&self, id: &str) -> Result<Loaded<A>, EventStoreError> {
        let snapshot = self.index.snapshot(id)?.and_then(|bytes| {
            let snapshot: Snapshot = serde_json::from_slice(&bytes)
                .inspect_err(|e| tracing::warn!(id, error = %e, "damaged snapshot ignored"))
                .ok()?;
            if snapshot.version != A::SNAPSHOT_VERSION {
                tracing::info!(
                    id,
                    version = snapshot.version,
                    "snapshot of another version ignored"
                );
                return None;
            }
            let state = serde_json::from_value::<A>(snapshot.state)
                .inspect_err(|e| tracing::warn!(id, error = %e, "undecodable snapshot ignored"))
                .ok()?;
            Some((state, snapshot.offset, snapshot.events_since))
        });
        let from_snapshot = snapshot.is_some();
        let (mut state, mut version, mut events_since_snapshot) =
            snapshot.unwrap_or((A::default(), -1, 0));
        let commits = self.index.commits(id, version)?;
        let commits_replayed = commits.len();
        for (offset, bytes) in commits {
            let events = decode_commit::<A::Event>(&bytes, &self.upcasters, A::EVENT_VERSION)
                .map_err(|reason| EventStoreError::Undecodable {
                    id: id.to_owned(),
                    offset,
                    reason,
                })?;
            for envelope in &events {
                state.apply(&envelope.event);
                events_since_snapshot += 1;
            }
            version = offset;
        }
        Ok(Loaded {
            state,
            version,
            from_snapshot,
            commits_replayed,
            events_since_snapshot,
        })
    }

    /// Loads `id`, lets it decide on `command`, and appends the events as one commit
    /// expecting the version it loaded (a refusal is checked against the aggregate once the
    /// index has caught up with the topic). On a conflict it waits for the index to catch up
    /// and tries again, up to `max_attempts` times. Returns once the index has read the
    /// commit, so the next load sees it.
    pub async fn execute(
        &self,
        id: &str,
        command: &A::Command,
        cause: &Cause,
    ) -> Result<Executed, CommandError<A::Refusal>> {
        let turn = Arc::clone(self.lock_in_progress().entry(id.to_owned()).or_default());
        let result = {
            let _turn = turn.lock().await;
            self.execute_alone(id, command, cause).await
        };
        drop(turn);
        let mut in_progress = self.lock_in_progress();
        if in_progress
            .get(id)
            .is_some_and(|t| Arc::strong_count(t) == 1)
        {
            in_progress.remove(id);
        }
        result
    }

    fn lock_in_progress(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.in_progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn execute_alone(
        &self,
        id: &str,
        command: &A::Command,
        cause: &Cause,
    ) -> Result<Executed, CommandError<A::Refusal>> {
        for attempt in 1..=self.config.max_attempts {
            let mut loaded = self.load(id)?;
            let events = match loaded.state.handle(command) {
                Ok(events) => events,
                Err(refusal) => {
                    // A refusal is final only if decided on the aggregate as it is now: the
                    // index may not have read another writer's latest commit yet.
                    self.index.catch_up(self.config.catch_up_timeout).await?;
                    let current = self.load(id)?;
                    if current.version == loaded.version {
                        return Err(CommandError::Refused(refusal));
                    }
                    loaded = current;
                    loaded
                        .state
                        .handle(command)
                        .map_err(CommandError::Refused)?
                }
            };
            if events.is_empty() {
                return Ok(Executed {
                    offset: loaded.version,
                    events: 0,
                    attempts: attempt,
                });
            }
            let commit = self.commit(&events, cause)?;
            match self.append(id, &commit, loaded.version).await? {
                Some((partition, offset)) => {
                    self.index
                        .wait_past(
                            &self.index.topics().events,
                            partition,
                            offset,
                            self.config.catch_up_timeout,
                        )
                        .await?;
                    self.maybe_snapshot(id, loaded, &events, offset).await;
                    return Ok(Executed {
                        offset,
                        events: events.len(),
                        attempts: attempt,
                    });
                }
                None => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    self.index.catch_up(self.config.catch_up_timeout).await?;
                }
            }
        }
        Err(EventStoreError::TooManyConflicts {
            attempts: self.config.max_attempts,
        }
        .into())
    }

    fn commit(&self, events: &[A::Event], cause: &Cause) -> Result<Vec<u8>, EventStoreError> {
        let recorded_at_ms = (self.config.clock)();
        let events = events
            .iter()
            .map(|event| {
                Ok(StoredEvent {
                    event_type: A::event_type(event).to_owned(),
                    version: A::EVENT_VERSION,
                    data: serde_json::to_value(event)?,
                    metadata: Metadata {
                        event_id: (self.config.new_id)(),
                        correlation_id: cause.correlation_id.clone(),
                        causation_id: cause.causation_id.clone(),
                        recorded_at_ms,
                    },
                })
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        Ok(serde_json::to_vec(&Commit { events })?)
    }

    /// Appends a commit expecting `version`: its (partition, offset), or `None` when the
    /// expectation did not hold.
    async fn append(
        &self,
        id: &str,
        commit: &[u8],
        version: i64,
    ) -> Result<Option<(i32, i64)>, EventStoreError> {
        let record = FutureRecord::to(&self.index.topics().events)
            .key(id)
            .payload(commit)
            .headers(expecting(version));
        match self
            .producer
            .send(record, self.config.catch_up_timeout)
            .await
        {
            Ok(delivery) => Ok(Some((delivery.partition, delivery.offset))),
            // INVALID_RECORD names a record whose expectation failed; librdkafka reports
            // the other records of the refused batch (other commands' commits it batched
            // with this one) as _INVALID_DIFFERENT_RECORD: nothing was appended either way.
            Err((
                KafkaError::MessageProduction(
                    RDKafkaErrorCode::InvalidRecord | RDKafkaErrorCode::InvalidDifferentRecord,
                ),
                _,
            )) => Ok(None),
            Err((error, _)) => Err(error.into()),
        }
    }

    /// Writes a snapshot once enough events were applied since the last one. A failure is
    /// only logged: the events are stored, and a later load replays them.
    async fn maybe_snapshot(&self, id: &str, loaded: Loaded<A>, events: &[A::Event], offset: i64) {
        let events_since = loaded.events_since_snapshot + events.len();
        if events_since < self.config.snapshot_every {
            return;
        }
        let mut state = loaded.state;
        for event in events {
            state.apply(event);
        }
        let snapshot = serde_json::to_value(&state).and_then(|state| {
            serde_json::to_vec(&Snapshot {
                version: A::SNAPSHOT_VERSION,
                offset,
                events_since: 0,
                state,
            })
        });
        let bytes = match snapshot {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(id, %error, "snapshot not encoded");
                return;
            }
        };
        let record = FutureRecord::to(&self.index.topics().snapshots)
            .key(id)
            .payload(&bytes);
        if let Err((error, _)) = self
            .producer
            .send(record, self.config.catch_up_timeout)
            .await
        {
            tracing::warn!(id, %error, "snapshot not written");
        }
    }
}
