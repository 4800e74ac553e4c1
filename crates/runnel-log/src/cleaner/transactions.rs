//! What a compaction pass does with transactional batches, decided from the log's own list of
//! aborted transactions. The pass never reaches the last stable offset, so every
//! transactional batch it reads belongs to a transaction that has ended.
//!
//! - A data batch of an aborted transaction is discarded, and never enters the offset map: a
//!   key's latest value is always a committed or non-transactional record.
//! - A marker goes once no data batch of its transaction is left in the log and it is older
//!   than `delete.retention.ms`. "Left in the log" means in the pass's input, so the pass that
//!   removes a transaction's last batches keeps its marker, and a later pass removes it. A
//!   reader that gets the aborted list after the batches (as a fetch does) thus never meets
//!   an aborted batch without its entry, nor an aborted entry whose batches it reads without
//!   the marker that closes it.

use std::collections::{HashMap, HashSet};

use crate::batch::BatchHeader;
use crate::error::LogError;
use crate::producers::{AbortedTxn, TxnMarker};

#[derive(Debug)]
pub(super) struct Transactions {
    /// Aborted transactions by producer id: (first offset, marker offset), sorted.
    aborted: HashMap<i64, Vec<(i64, i64)>>,
    /// Producers whose transaction, up to its marker, has data batches in the pass's input.
    with_data: HashSet<i64>,
    /// Markers with a timestamp before this may go.
    delete_horizon: i64,
    /// Offsets of the abort markers removed and not yet taken by [`Self::take_removed_aborts`].
    removed_aborts: Vec<i64>,
}

impl Transactions {
    pub(super) fn new(aborted: &[AbortedTxn], delete_horizon: i64) -> Self {
        let mut by_producer: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for txn in aborted {
            by_producer
                .entry(txn.producer_id)
                .or_default()
                .push((txn.first_offset, txn.last_offset));
        }
        for ranges in by_producer.values_mut() {
            ranges.sort_unstable();
        }
        Transactions {
            aborted: by_producer,
            with_data: HashSet::new(),
            delete_horizon,
            removed_aborts: Vec::new(),
        }
    }

    /// Whether `header` is a data batch of an aborted transaction.
    pub(super) fn is_aborted(&self, header: &BatchHeader) -> bool {
        if !header.is_transactional() || header.is_control() {
            return false;
        }
        let Some(ranges) = self.aborted.get(&header.producer_id) else {
            return false;
        };
        // A producer's transactions do not overlap, so only the last one starting at or
        // before the batch can hold it.
        let after = ranges.partition_point(|&(first, _)| first <= header.base_offset);
        after > 0 && ranges[after - 1].1 > header.base_offset
    }

    /// Notes a data batch of the pass's input, kept or not.
    pub(super) fn saw_data(&mut self, header: &BatchHeader) {
        if header.is_transactional() {
            self.with_data.insert(header.producer_id);
        }
    }

    /// Whether to keep a control batch. Control batches other than markers are kept.
    pub(super) fn keep_control(
        &mut self,
        header: &BatchHeader,
        batch: &[u8],
    ) -> Result<bool, LogError> {
        let Some(marker) = TxnMarker::from_batch(header, batch)? else {
            return Ok(true);
        };
        let had_data = self.with_data.remove(&header.producer_id);
        if had_data || header.max_timestamp >= self.delete_horizon {
            return Ok(true);
        }
        if !marker.commit {
            self.removed_aborts.push(header.base_offset);
        }
        Ok(false)
    }

    /// The abort markers removed since the last call, whose aborted-list entries must go.
    pub(super) fn take_removed_aborts(&mut self) -> Vec<i64> {
        std::mem::take(&mut self.removed_aborts)
    }
}
