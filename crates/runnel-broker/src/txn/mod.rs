//! The transaction coordinator: producer ids, and the state machine of each transactional id.
//!
//! A transaction goes Empty → Ongoing (AddPartitionsToTxn / AddOffsetsToTxn) →
//! PrepareCommit or PrepareAbort (EndTxn, a timeout, or a new producer taking over the id) →
//! CompleteCommit or CompleteAbort. Every change is written to `__transaction_state`
//! ([`store`]) before it is acted on or answered. The Prepare state is the commit point:
//! once it is stored, the markers are written to every partition of the transaction (and
//! the group offsets it holds are published), then the Complete state is stored. A broker
//! that stops between the two finds the Prepare state on start and writes the markers again
//! (a second marker for a transaction already ended changes nothing), so every transaction
//! ends fully committed or fully aborted.
//!
//! Each transactional id has its own async lock, held across the writes of one operation;
//! operations on different ids run concurrently.

pub mod producer_ids;
pub mod store;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use kafka_protocol::error::ResponseError;
use runnel_log::{Clock, LogError, TxnMarker};

use crate::broker::BrokerState;
use producer_ids::ProducerIds;

/// Markers carry the coordinator's epoch; a single node never hands the role over.
const COORDINATOR_EPOCH: i32 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
}

impl TxnState {
    pub const ALL: [TxnState; 6] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
    ];

    fn from_u8(value: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u8 == value)
    }

    /// Kafka's name, as DescribeTransactions and ListTransactions report it.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }

    fn is_prepared(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// Everything the coordinator knows of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// When the open transaction began (its first AddPartitions/AddOffsets), else -1.
    pub start_ms: i64,
    pub last_update_ms: i64,
    pub partitions: BTreeSet<(String, i32)>,
    /// Groups whose offsets the transaction commits (AddOffsetsToTxn).
    pub groups: BTreeSet<String>,
}

/// What a request is refused with: a Kafka error code.
pub type Refusal = i16;

type Slot = Arc<tokio::sync::Mutex<Option<TxnMetadata>>>;

#[derive(Debug)]
pub struct TransactionCoordinator {
    ids: Mutex<HashMap<String, Slot>>,
    /// Every id's state as last stored, readable without waiting for the ids' locks (which
    /// requests hold across storage writes): what metrics count.
    stored_states: Mutex<HashMap<String, TxnState>>,
    producer_ids: ProducerIds,
    clock: Arc<dyn Clock>,
}

fn storage_refusal(error: &LogError) -> Refusal {
    tracing::error!(%error, "transaction state could not be stored");
    // Retriable for clients: they look the coordinator up again and retry.
    ResponseError::CoordinatorNotAvailable.code()
}

impl TransactionCoordinator {
    pub fn new(producer_ids: ProducerIds, clock: Arc<dyn Clock>) -> Self {
        TransactionCoordinator {
            ids: Mutex::new(HashMap::new()),
            stored_states: Mutex::new(HashMap::new()),
            producer_ids,
            clock,
        }
    }

    fn slot(&self, transactional_id: &str) -> Slot {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(ids.entry(transactional_id.to_owned()).or_default())
    }

    fn slots(&self) -> Vec<Slot> {
        let ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.values().cloned().collect()
    }

    /// Notes the state just stored for `transactional_id` (`None`: it was forgotten).
    pub(crate) fn stored(&self, transactional_id: &str, state: Option<TxnState>) {
        let mut states = self.stored_states.lock().unwrap_or_else(|p| p.into_inner());
        match state {
            Some(state) => {
                states.insert(transactional_id.to_owned(), state);
            }
            None => {
                states.remove(transactional_id);
            }
        }
    }

    /// How many transactional ids are in each state, in [`TxnState::ALL`]'s order.
    pub fn state_counts(&self) -> [(TxnState, usize); 6] {
        let states = self.stored_states.lock().unwrap_or_else(|p| p.into_inner());
        TxnState::ALL.map(|state| (state, states.values().filter(|s| **s == state).count()))
    }

    fn new_producer_id(&self) -> Result<i64, Refusal> {
        self.producer_ids.next().map_err(|e| storage_refusal(&e))
    }

    /// InitProducerId: a producer id and epoch. Without a transactional id, a fresh id for an
    /// idempotent producer. With one, the id's producer with its epoch bumped, which fences
    /// any older instance; an open transaction of that id is aborted first.
    pub async fn init_producer_id(
        &self,
        state: &BrokerState,
        transactional_id: Option<&str>,
        timeout_ms: i32,
        current: Option<(i64, i16)>,
    ) -> Result<(i64, i16), Refusal> {
        let Some(transactional_id) = transactional_id else {
            return Ok((self.new_producer_id()?, 0));
        };
        if timeout_ms <= 0 || i64::from(timeout_ms) > state.config.transaction_max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout.code());
        }
        let slot = self.slot(transactional_id);
        let mut guard = slot.lock().await;
        let now = self.clock.now_ms();
        let mut meta = match guard.take() {
            None => TxnMetadata {
                transactional_id: transactional_id.to_owned(),
                producer_id: self.new_producer_id()?,
                epoch: -1,
                timeout_ms,
                state: TxnState::Empty,
                start_ms: -1,
                last_update_ms: now,
                partitions: BTreeSet::new(),
                groups: BTreeSet::new(),
            },
            Some(meta) => meta,
        };
        let result = self
            .reinitialize(state, &mut meta, timeout_ms, current)
            .await;
        *guard = Some(meta);
        result
    }

    async fn reinitialize(
        &self,
        state: &BrokerState,
        meta: &mut TxnMetadata,
        timeout_ms: i32,
        current: Option<(i64, i16)>,
    ) -> Result<(i64, i16), Refusal> {
        if let Some(current) = current {
            // A producer recovering from an error asks to bump its own epoch; anyone else
            // holding an older pair has been replaced.
            if current != (meta.producer_id, meta.epoch) {
                return Err(ResponseError::ProducerFenced.code());
            }
        }
        if meta.state.is_prepared() {
            self.write_markers(state, meta).await?;
        }
        if meta.state == TxnState::Ongoing {
            self.bump_epoch(meta)?;
            self.end(state, meta, false).await?;
        }
        let mut next = meta.clone();
        self.bump_epoch(&mut next)?;
        next.timeout_ms = timeout_ms;
        next.state = TxnState::Empty;
        next.start_ms = -1;
        next.partitions.clear();
        next.groups.clear();
        next.last_update_ms = self.clock.now_ms();
        store::persist(state, &next.transactional_id, Some(&next))
            .await
            .map_err(|e| storage_refusal(&e))?;
        *meta = next;
        Ok((meta.producer_id, meta.epoch))
    }

    /// Raises the epoch; an exhausted epoch moves to a new producer id.
    fn bump_epoch(&self, meta: &mut TxnMetadata) -> Result<(), Refusal> {
        if meta.epoch >= i16::MAX - 1 {
            meta.producer_id = self.new_producer_id()?;
            meta.epoch = 0;
        } else {
            meta.epoch += 1;
        }
        Ok(())
    }

    /// Locks `transactional_id` and checks that the caller is its current producer.
    async fn current<'a>(
        &self,
        slot: &'a Slot,
        producer_id: i64,
        epoch: i16,
    ) -> Result<tokio::sync::MutexGuard<'a, Option<TxnMetadata>>, Refusal> {
        let guard = slot.lock().await;
        match guard.as_ref() {
            None => Err(ResponseError::InvalidProducerIdMapping.code()),
            Some(meta) if meta.producer_id != producer_id => {
                Err(ResponseError::InvalidProducerIdMapping.code())
            }
            Some(meta) if meta.epoch != epoch => Err(ResponseError::ProducerFenced.code()),
            Some(meta) if meta.state.is_prepared() => {
                Err(ResponseError::ConcurrentTransactions.code())
            }
            Some(_) => Ok(guard),
        }
    }

    /// AddPartitionsToTxn and AddOffsetsToTxn: adds partitions and groups to the producer's
    /// transaction, opening it if needed.
    pub async fn add(
        &self,
        state: &BrokerState,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        groups: &[String],
    ) -> Result<(), Refusal> {
        let slot = self.slot(transactional_id);
        let mut guard = self.current(&slot, producer_id, epoch).await?;
        let Some(meta) = guard.as_mut() else {
            return Err(ResponseError::InvalidProducerIdMapping.code());
        };
        let mut next = meta.clone();
        if next.state != TxnState::Ongoing {
            next.state = TxnState::Ongoing;
            next.start_ms = self.clock.now_ms();
            next.partitions.clear();
            next.groups.clear();
        }
        next.partitions.extend(partitions.iter().cloned());
        next.groups.extend(groups.iter().cloned());
        if next == *meta {
            return Ok(()); // a retry: nothing new to store
        }
        next.last_update_ms = self.clock.now_ms();
        store::persist(state, transactional_id, Some(&next))
            .await
            .map_err(|e| storage_refusal(&e))?;
        *meta = next;
        Ok(())
    }

    /// EndTxn: commits or aborts the producer's open transaction. A retry of an end that
    /// already happened succeeds again; the opposite end is refused.
    pub async fn end_txn(
        &self,
        state: &BrokerState,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), Refusal> {
        let slot = self.slot(transactional_id);
        let mut guard = self.current(&slot, producer_id, epoch).await?;
        let Some(meta) = guard.as_mut() else {
            return Err(ResponseError::InvalidProducerIdMapping.code());
        };
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => self.end(state, meta, commit).await,
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
            _ => Err(ResponseError::InvalidTxnState.code()),
        }
    }

    /// Checks that a transactional produce to a partition belongs to the producer's open
    /// transaction (the client adds a partition before it writes to it).
    pub async fn verify_partition(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partition: (&str, i32),
    ) -> Result<(), Refusal> {
        let slot = self.slot(transactional_id);
        let guard = self.current(&slot, producer_id, epoch).await?;
        match guard.as_ref() {
            Some(meta)
                if meta.state == TxnState::Ongoing
                    && meta
                        .partitions
                        .contains(&(partition.0.to_owned(), partition.1)) =>
            {
                Ok(())
            }
            _ => Err(ResponseError::InvalidTxnState.code()),
        }
    }

    /// Checks that a TxnOffsetCommit for `group` belongs to the producer's open transaction.
    pub async fn verify_group(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
    ) -> Result<(), Refusal> {
        let slot = self.slot(transactional_id);
        let guard = self.current(&slot, producer_id, epoch).await?;
        match guard.as_ref() {
            Some(meta) if meta.state == TxnState::Ongoing && meta.groups.contains(group) => Ok(()),
            _ => Err(ResponseError::InvalidTxnState.code()),
        }
    }

    /// Prepares, marks and completes the end of `meta`'s open transaction.
    async fn end(
        &self,
        state: &BrokerState,
        meta: &mut TxnMetadata,
        commit: bool,
    ) -> Result<(), Refusal> {
        let mut prepared = meta.clone();
        prepared.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        prepared.last_update_ms = self.clock.now_ms();
        store::persist(state, &prepared.transactional_id, Some(&prepared))
            .await
            .map_err(|e| storage_refusal(&e))?;
        *meta = prepared;
        self.write_markers(state, meta).await
    }

    /// Writes the markers of a prepared transaction and stores its completion.
    async fn write_markers(
        &self,
        state: &BrokerState,
        meta: &mut TxnMetadata,
    ) -> Result<(), Refusal> {
        debug_assert!(meta.state.is_prepared());
        let commit = meta.state == TxnState::PrepareCommit;
        let marker = TxnMarker {
            producer_id: meta.producer_id,
            producer_epoch: meta.epoch,
            coordinator_epoch: COORDINATOR_EPOCH,
            commit,
        };
        let mut targets = Vec::new();
        for (topic, index) in &meta.partitions {
            // A topic deleted since it joined the transaction needs no marker.
            if let Some(partition) = state.topics.get(topic).and_then(|t| t.partition(*index)) {
                targets.push(partition);
            }
        }
        for group in &meta.groups {
            let partition = crate::groups::store::partition_of(state, group)
                .map_err(|e| storage_refusal(&e))?;
            if !targets.iter().any(|t| Arc::ptr_eq(t, &partition)) {
                targets.push(partition);
            }
        }
        // Concurrently: with fsync on, each marker waits for its own partition's sync.
        let mut appends = tokio::task::JoinSet::new();
        for partition in targets {
            appends.spawn(async move { partition.append_marker(marker).await });
        }
        while let Some(joined) = appends.join_next().await {
            let appended = joined.unwrap_or_else(|join| {
                Err(LogError::Io {
                    path: "marker".into(),
                    source: std::io::Error::other(join.to_string()),
                })
            });
            appended.map_err(|e| storage_refusal(&e))?;
        }
        state.groups.end_transaction(meta.producer_id, commit);
        let mut complete = meta.clone();
        complete.state = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        complete.last_update_ms = self.clock.now_ms();
        store::persist(state, &complete.transactional_id, Some(&complete))
            .await
            .map_err(|e| storage_refusal(&e))?;
        *meta = complete;
        Ok(())
    }

    /// Loads the stored state and finishes every transaction a stop left prepared.
    pub async fn recover(&self, state: &Arc<BrokerState>) -> Result<usize, LogError> {
        let s = Arc::clone(state);
        let loaded = tokio::task::spawn_blocking(move || store::load(&s))
            .await
            .map_err(|e| LogError::Io {
                path: store::TRANSACTION_STATE_TOPIC.into(),
                source: std::io::Error::other(e.to_string()),
            })??;
        let count = loaded.len();
        for (id, meta) in loaded {
            let slot = self.slot(&id);
            let mut guard = slot.lock().await;
            let mut meta = meta;
            self.stored(&id, Some(meta.state));
            if meta.state.is_prepared() {
                tracing::info!(transactional_id = %id, state = meta.state.name(), "finishing a prepared transaction");
                if let Err(code) = self.write_markers(state, &mut meta).await {
                    tracing::warn!(transactional_id = %id, code, "could not finish it yet; the sweep retries");
                }
            }
            *guard = Some(meta);
        }
        Ok(count)
    }

    /// Periodic work: aborts transactions open past their timeout (fencing their producer
    /// with a new epoch), retries prepared ones, and forgets ids idle past
    /// `transactional.id.expiration.ms`.
    pub async fn sweep(&self, state: &BrokerState) {
        let now = self.clock.now_ms();
        for slot in self.slots() {
            let mut guard = slot.lock().await;
            let Some(meta) = guard.as_mut() else {
                continue;
            };
            let outcome = match meta.state {
                TxnState::Ongoing if now - meta.start_ms > i64::from(meta.timeout_ms) => {
                    tracing::info!(transactional_id = %meta.transactional_id, "aborting a transaction past its timeout");
                    match self.bump_epoch(meta) {
                        Ok(()) => self.end(state, meta, false).await,
                        Err(code) => Err(code),
                    }
                }
                s if s.is_prepared() => self.write_markers(state, meta).await,
                TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                    if now - meta.last_update_ms > state.config.transactional_id_expiration_ms =>
                {
                    match store::persist(state, &meta.transactional_id, None).await {
                        Ok(()) => {
                            *guard = None;
                            Ok(())
                        }
                        Err(e) => Err(storage_refusal(&e)),
                    }
                }
                _ => Ok(()),
            };
            if let Err(code) = outcome {
                tracing::warn!(code, "transaction sweep step failed; retried next time");
            }
        }
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        // Drop slots of expired (or never created) ids that nobody is using.
        ids.retain(|_, slot| {
            Arc::strong_count(slot) > 1 || slot.try_lock().map_or(true, |g| g.is_some())
        });
    }

    /// Snapshots of the given ids (all when `None`), in id order.
    pub async fn describe(&self, ids: Option<&[String]>) -> Vec<(String, Option<TxnMetadata>)> {
        // Looked up, not created: asking about an unknown id leaves nothing behind.
        let slots: Vec<(String, Option<Slot>)> = {
            let map = self.ids.lock().unwrap_or_else(|p| p.into_inner());
            match ids {
                Some(ids) => ids
                    .iter()
                    .map(|id| (id.clone(), map.get(id).cloned()))
                    .collect(),
                None => map
                    .iter()
                    .map(|(id, s)| (id.clone(), Some(Arc::clone(s))))
                    .collect(),
            }
        };
        let mut out = Vec::with_capacity(slots.len());
        for (id, slot) in slots {
            let meta = match slot {
                Some(slot) => slot.lock().await.clone(),
                None => None,
            };
            out.push((id, meta));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}
