//! A structural pre-check of request bodies, run before kafka-protocol decodes them.
//!
//! Why: kafka-protocol's array decoders call `Vec::with_capacity(count)` with the count read
//! from the wire, before reading any element. A 20-byte request claiming 2³¹ elements makes
//! the allocator fail, and Rust aborts the whole process on allocation failure (it is not a
//! panic; nothing can catch it). So every request body is first walked here, field by field
//! as the decoder will read it, checking that each array count is backed by bytes (every
//! element takes at least one) and that every length stays inside the frame. Only a body
//! that walks cleanly is handed to the decoder, whose allocations are then bounded by the
//! frame size.
//!
//! The walkers in [`requests`] mirror the decoders exactly, including which tagged fields
//! are decoded as known fields; in debug builds the dispatcher also checks that walker and
//! decoder consumed the same number of bytes.

mod acl_requests;
mod quota_requests;
mod reference;
mod requests;
mod scram_requests;
mod share_requests;

use kafka_protocol::messages::ApiKey;

pub use reference::decoded_len;
pub use share_requests::acknowledge_v2_as_v1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("request ends early: {needed} bytes needed at offset {at}, {available} left")]
    Truncated {
        at: usize,
        needed: usize,
        available: usize,
    },
    #[error("negative length {0}")]
    NegativeLength(i32),
    #[error("count {count} exceeds the {remaining} bytes left")]
    CountTooLarge { count: usize, remaining: usize },
    #[error("array element of zero bytes")]
    EmptyElement,
    #[error("unsupported version {0}")]
    Version(i16),
    #[error("tagged field {0} is not valid for this version")]
    BadTag(u32),
    #[error("no request shape for {0:?}")]
    NoShape(ApiKey),
}

/// A cursor over a request body that reads lengths and skips contents.
#[derive(Debug)]
pub struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Walker<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Walker { buf, pos: 0 }
    }

    pub fn consumed(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ShapeError> {
        if n > self.remaining() {
            return Err(ShapeError::Truncated {
                at: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    pub fn skip(&mut self, n: usize) -> Result<(), ShapeError> {
        self.take(n).map(|_| ())
    }

    fn i16(&mut self) -> Result<i16, ShapeError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, ShapeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Kafka's unsigned varint, read exactly as kafka-protocol reads it (at most 5 bytes).
    pub fn uvarint(&mut self) -> Result<u32, ShapeError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = u32::from(self.take(1)?[0]);
            value |= (b & 0x7f) << (i * 7);
            if b < 0x80 {
                break;
            }
        }
        Ok(value)
    }

    pub fn string(&mut self) -> Result<(), ShapeError> {
        match self.i16()? {
            -1 => Ok(()),
            n if n >= 0 => self.skip(n as usize),
            n => Err(ShapeError::NegativeLength(i32::from(n))),
        }
    }

    pub fn compact_string(&mut self) -> Result<(), ShapeError> {
        match self.uvarint()? {
            0 => Ok(()),
            n => self.skip((n - 1) as usize),
        }
    }

    pub fn bytes(&mut self) -> Result<(), ShapeError> {
        match self.i32()? {
            -1 => Ok(()),
            n if n >= 0 => self.skip(n as usize),
            n => Err(ShapeError::NegativeLength(n)),
        }
    }

    pub fn compact_bytes(&mut self) -> Result<(), ShapeError> {
        self.compact_string()
    }

    /// A count of things that each take at least one byte.
    pub fn check_count(&self, count: usize) -> Result<(), ShapeError> {
        if count > self.remaining() {
            return Err(ShapeError::CountTooLarge {
                count,
                remaining: self.remaining(),
            });
        }
        Ok(())
    }

    fn elements(
        &mut self,
        count: usize,
        mut element: impl FnMut(&mut Self) -> Result<(), ShapeError>,
    ) -> Result<(), ShapeError> {
        self.check_count(count)?;
        for _ in 0..count {
            let before = self.pos;
            element(self)?;
            if self.pos == before {
                return Err(ShapeError::EmptyElement);
            }
        }
        Ok(())
    }

    pub fn array(
        &mut self,
        element: impl FnMut(&mut Self) -> Result<(), ShapeError>,
    ) -> Result<(), ShapeError> {
        match self.i32()? {
            -1 => Ok(()),
            n if n >= 0 => self.elements(n as usize, element),
            n => Err(ShapeError::NegativeLength(n)),
        }
    }

    pub fn compact_array(
        &mut self,
        element: impl FnMut(&mut Self) -> Result<(), ShapeError>,
    ) -> Result<(), ShapeError> {
        match self.uvarint()? {
            0 => Ok(()),
            n => self.elements((n - 1) as usize, element),
        }
    }
}

/// Walks a request body of `api` at `version`; returns the bytes the decoder will read.
pub fn check(api: ApiKey, version: i16, body: &[u8]) -> Result<usize, ShapeError> {
    use requests::*;
    let mut w = Walker::new(body);
    let w = &mut w;
    match api {
        ApiKey::Produce => produce_request::produce_request(w, version),
        ApiKey::Fetch => fetch_request::fetch_request(w, version),
        ApiKey::ListOffsets => list_offsets_request::list_offsets_request(w, version),
        ApiKey::Metadata => metadata_request::metadata_request(w, version),
        ApiKey::OffsetCommit => offset_commit_request::offset_commit_request(w, version),
        ApiKey::OffsetFetch => offset_fetch_request::offset_fetch_request(w, version),
        ApiKey::FindCoordinator => find_coordinator_request::find_coordinator_request(w, version),
        ApiKey::JoinGroup => join_group_request::join_group_request(w, version),
        ApiKey::Heartbeat => heartbeat_request::heartbeat_request(w, version),
        ApiKey::LeaveGroup => leave_group_request::leave_group_request(w, version),
        ApiKey::SyncGroup => sync_group_request::sync_group_request(w, version),
        ApiKey::DescribeGroups => describe_groups_request::describe_groups_request(w, version),
        ApiKey::ListGroups => list_groups_request::list_groups_request(w, version),
        ApiKey::CreateTopics => create_topics_request::create_topics_request(w, version),
        ApiKey::DeleteTopics => delete_topics_request::delete_topics_request(w, version),
        ApiKey::DeleteRecords => delete_records_request::delete_records_request(w, version),
        ApiKey::InitProducerId => init_producer_id_request::init_producer_id_request(w, version),
        ApiKey::OffsetForLeaderEpoch => {
            offset_for_leader_epoch_request::offset_for_leader_epoch_request(w, version)
        }
        ApiKey::AddPartitionsToTxn => {
            add_partitions_to_txn_request::add_partitions_to_txn_request(w, version)
        }
        ApiKey::AddOffsetsToTxn => {
            add_offsets_to_txn_request::add_offsets_to_txn_request(w, version)
        }
        ApiKey::EndTxn => end_txn_request::end_txn_request(w, version),
        ApiKey::TxnOffsetCommit => txn_offset_commit_request::txn_offset_commit_request(w, version),
        ApiKey::DescribeConfigs => describe_configs_request::describe_configs_request(w, version),
        ApiKey::AlterConfigs => alter_configs_request::alter_configs_request(w, version),
        ApiKey::DescribeLogDirs => describe_log_dirs_request::describe_log_dirs_request(w, version),
        ApiKey::CreatePartitions => {
            create_partitions_request::create_partitions_request(w, version)
        }
        ApiKey::DeleteGroups => delete_groups_request::delete_groups_request(w, version),
        ApiKey::IncrementalAlterConfigs => {
            incremental_alter_configs_request::incremental_alter_configs_request(w, version)
        }
        ApiKey::OffsetDelete => offset_delete_request::offset_delete_request(w, version),
        ApiKey::DescribeCluster => describe_cluster_request::describe_cluster_request(w, version),
        ApiKey::DescribeProducers => {
            describe_producers_request::describe_producers_request(w, version)
        }
        ApiKey::DescribeTransactions => {
            describe_transactions_request::describe_transactions_request(w, version)
        }
        ApiKey::ListTransactions => {
            list_transactions_request::list_transactions_request(w, version)
        }
        ApiKey::ShareGroupHeartbeat => share_requests::share_group_heartbeat(w, version),
        ApiKey::ShareGroupDescribe => share_requests::share_group_describe(w, version),
        ApiKey::ShareFetch => share_requests::share_fetch(w, version),
        ApiKey::ShareAcknowledge => share_requests::share_acknowledge(w, version),
        ApiKey::DescribeShareGroupOffsets => {
            share_requests::describe_share_group_offsets(w, version)
        }
        ApiKey::AlterShareGroupOffsets => share_requests::alter_share_group_offsets(w, version),
        ApiKey::DeleteShareGroupOffsets => share_requests::delete_share_group_offsets(w, version),
        ApiKey::ConsumerGroupHeartbeat => {
            consumer_group_heartbeat_request::consumer_group_heartbeat_request(w, version)
        }
        ApiKey::ConsumerGroupDescribe => {
            consumer_group_describe_request::consumer_group_describe_request(w, version)
        }
        ApiKey::AlterClientQuotas => quota_requests::alter_client_quotas(w, version),
        ApiKey::DescribeClientQuotas => quota_requests::describe_client_quotas(w, version),
        ApiKey::SaslHandshake => scram_requests::sasl_handshake(w, version),
        ApiKey::SaslAuthenticate => scram_requests::sasl_authenticate(w, version),
        ApiKey::DescribeUserScramCredentials => {
            scram_requests::describe_user_scram_credentials(w, version)
        }
        ApiKey::AlterUserScramCredentials => {
            scram_requests::alter_user_scram_credentials(w, version)
        }
        ApiKey::CreateAcls => acl_requests::create_acls(w, version),
        ApiKey::DescribeAcls => acl_requests::describe_acls(w, version),
        ApiKey::DeleteAcls => acl_requests::delete_acls(w, version),
        other => Err(ShapeError::NoShape(other)),
    }?;
    Ok(w.consumed())
}

#[cfg(test)]
mod tests;
