//! Request walkers, one per request struct, generated from kafka-protocol 0.18.0's decoders
//! by `cargo run -p runnel-shapegen`; do not edit. A test of `runnel-shapegen` fails
//! when this file differs from what the generator makes of the pinned kafka-protocol.

use kafka_protocol::messages::ApiKey;

use super::{ShapeError, Walker};

/// Walks a request body of `api` at `version` exactly as kafka-protocol decodes it.
pub(super) fn walk(api: ApiKey, version: i16, w: &mut Walker<'_>) -> Result<(), ShapeError> {
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
        ApiKey::SaslHandshake => sasl_handshake_request::sasl_handshake_request(w, version),
        ApiKey::ApiVersions => api_versions_request::api_versions_request(w, version),
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
        ApiKey::WriteTxnMarkers => write_txn_markers_request::write_txn_markers_request(w, version),
        ApiKey::TxnOffsetCommit => txn_offset_commit_request::txn_offset_commit_request(w, version),
        ApiKey::DescribeAcls => describe_acls_request::describe_acls_request(w, version),
        ApiKey::CreateAcls => create_acls_request::create_acls_request(w, version),
        ApiKey::DeleteAcls => delete_acls_request::delete_acls_request(w, version),
        ApiKey::DescribeConfigs => describe_configs_request::describe_configs_request(w, version),
        ApiKey::AlterConfigs => alter_configs_request::alter_configs_request(w, version),
        ApiKey::AlterReplicaLogDirs => {
            alter_replica_log_dirs_request::alter_replica_log_dirs_request(w, version)
        }
        ApiKey::DescribeLogDirs => describe_log_dirs_request::describe_log_dirs_request(w, version),
        ApiKey::SaslAuthenticate => {
            sasl_authenticate_request::sasl_authenticate_request(w, version)
        }
        ApiKey::CreatePartitions => {
            create_partitions_request::create_partitions_request(w, version)
        }
        ApiKey::CreateDelegationToken => {
            create_delegation_token_request::create_delegation_token_request(w, version)
        }
        ApiKey::RenewDelegationToken => {
            renew_delegation_token_request::renew_delegation_token_request(w, version)
        }
        ApiKey::ExpireDelegationToken => {
            expire_delegation_token_request::expire_delegation_token_request(w, version)
        }
        ApiKey::DescribeDelegationToken => {
            describe_delegation_token_request::describe_delegation_token_request(w, version)
        }
        ApiKey::DeleteGroups => delete_groups_request::delete_groups_request(w, version),
        ApiKey::ElectLeaders => elect_leaders_request::elect_leaders_request(w, version),
        ApiKey::IncrementalAlterConfigs => {
            incremental_alter_configs_request::incremental_alter_configs_request(w, version)
        }
        ApiKey::AlterPartitionReassignments => {
            alter_partition_reassignments_request::alter_partition_reassignments_request(w, version)
        }
        ApiKey::ListPartitionReassignments => {
            list_partition_reassignments_request::list_partition_reassignments_request(w, version)
        }
        ApiKey::OffsetDelete => offset_delete_request::offset_delete_request(w, version),
        ApiKey::DescribeClientQuotas => {
            describe_client_quotas_request::describe_client_quotas_request(w, version)
        }
        ApiKey::AlterClientQuotas => {
            alter_client_quotas_request::alter_client_quotas_request(w, version)
        }
        ApiKey::DescribeUserScramCredentials => {
            describe_user_scram_credentials_request::describe_user_scram_credentials_request(
                w, version,
            )
        }
        ApiKey::AlterUserScramCredentials => {
            alter_user_scram_credentials_request::alter_user_scram_credentials_request(w, version)
        }
        ApiKey::Vote => vote_request::vote_request(w, version),
        ApiKey::BeginQuorumEpoch => {
            begin_quorum_epoch_request::begin_quorum_epoch_request(w, version)
        }
        ApiKey::EndQuorumEpoch => end_quorum_epoch_request::end_quorum_epoch_request(w, version),
        ApiKey::DescribeQuorum => describe_quorum_request::describe_quorum_request(w, version),
        ApiKey::AlterPartition => alter_partition_request::alter_partition_request(w, version),
        ApiKey::UpdateFeatures => update_features_request::update_features_request(w, version),
        ApiKey::Envelope => envelope_request::envelope_request(w, version),
        ApiKey::FetchSnapshot => fetch_snapshot_request::fetch_snapshot_request(w, version),
        ApiKey::DescribeCluster => describe_cluster_request::describe_cluster_request(w, version),
        ApiKey::DescribeProducers => {
            describe_producers_request::describe_producers_request(w, version)
        }
        ApiKey::BrokerRegistration => {
            broker_registration_request::broker_registration_request(w, version)
        }
        ApiKey::BrokerHeartbeat => broker_heartbeat_request::broker_heartbeat_request(w, version),
        ApiKey::UnregisterBroker => {
            unregister_broker_request::unregister_broker_request(w, version)
        }
        ApiKey::DescribeTransactions => {
            describe_transactions_request::describe_transactions_request(w, version)
        }
        ApiKey::ListTransactions => {
            list_transactions_request::list_transactions_request(w, version)
        }
        ApiKey::AllocateProducerIds => {
            allocate_producer_ids_request::allocate_producer_ids_request(w, version)
        }
        ApiKey::ConsumerGroupHeartbeat => {
            consumer_group_heartbeat_request::consumer_group_heartbeat_request(w, version)
        }
        ApiKey::ConsumerGroupDescribe => {
            consumer_group_describe_request::consumer_group_describe_request(w, version)
        }
        ApiKey::ControllerRegistration => {
            controller_registration_request::controller_registration_request(w, version)
        }
        ApiKey::GetTelemetrySubscriptions => {
            get_telemetry_subscriptions_request::get_telemetry_subscriptions_request(w, version)
        }
        ApiKey::PushTelemetry => push_telemetry_request::push_telemetry_request(w, version),
        ApiKey::AssignReplicasToDirs => {
            assign_replicas_to_dirs_request::assign_replicas_to_dirs_request(w, version)
        }
        ApiKey::ListConfigResources => {
            list_config_resources_request::list_config_resources_request(w, version)
        }
        ApiKey::DescribeTopicPartitions => {
            describe_topic_partitions_request::describe_topic_partitions_request(w, version)
        }
        ApiKey::ShareGroupHeartbeat => {
            share_group_heartbeat_request::share_group_heartbeat_request(w, version)
        }
        ApiKey::ShareGroupDescribe => {
            share_group_describe_request::share_group_describe_request(w, version)
        }
        ApiKey::ShareFetch => share_fetch_request::share_fetch_request(w, version),
        ApiKey::ShareAcknowledge => {
            share_acknowledge_request::share_acknowledge_request(w, version)
        }
        ApiKey::AddRaftVoter => add_raft_voter_request::add_raft_voter_request(w, version),
        ApiKey::RemoveRaftVoter => remove_raft_voter_request::remove_raft_voter_request(w, version),
        ApiKey::UpdateRaftVoter => update_raft_voter_request::update_raft_voter_request(w, version),
        ApiKey::InitializeShareGroupState => {
            initialize_share_group_state_request::initialize_share_group_state_request(w, version)
        }
        ApiKey::ReadShareGroupState => {
            read_share_group_state_request::read_share_group_state_request(w, version)
        }
        ApiKey::WriteShareGroupState => {
            write_share_group_state_request::write_share_group_state_request(w, version)
        }
        ApiKey::DeleteShareGroupState => {
            delete_share_group_state_request::delete_share_group_state_request(w, version)
        }
        ApiKey::ReadShareGroupStateSummary => {
            read_share_group_state_summary_request::read_share_group_state_summary_request(
                w, version,
            )
        }
        ApiKey::DescribeShareGroupOffsets => {
            describe_share_group_offsets_request::describe_share_group_offsets_request(w, version)
        }
        ApiKey::AlterShareGroupOffsets => {
            alter_share_group_offsets_request::alter_share_group_offsets_request(w, version)
        }
        ApiKey::DeleteShareGroupOffsets => {
            delete_share_group_offsets_request::delete_share_group_offsets_request(w, version)
        }
    }
}

mod produce_request {
    use super::{ShapeError, Walker};

    fn partition_produce_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(3..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 9 {
            w.compact_bytes()?;
        } else {
            w.bytes()?;
        }
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn produce_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(3..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 9 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(2)?;
        w.skip(4)?;
        if version >= 9 {
            w.compact_array(|w| topic_produce_data(w, version))?;
        } else {
            w.array(|w| topic_produce_data(w, version))?;
        }
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn topic_produce_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(3..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 12 {
            if version >= 9 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 13 {
            w.skip(16)?;
        }
        if version >= 9 {
            w.compact_array(|w| partition_produce_data(w, version))?;
        } else {
            w.array(|w| partition_produce_data(w, version))?;
        }
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod fetch_request {
    use super::{ShapeError, Walker};

    fn fetch_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 9 {
            w.skip(4)?;
        }
        w.skip(8)?;
        if version >= 12 {
            w.skip(4)?;
        }
        if version >= 5 {
            w.skip(8)?;
        }
        w.skip(4)?;
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag = w.uvarint()?;
                let size = w.uvarint()?;
                match tag {
                    0 => {
                        if version >= 17 {
                            w.skip(16)?;
                        } else {
                            return Err(ShapeError::BadTag(tag));
                        }
                    }
                    1 => {
                        if version >= 18 {
                            w.skip(8)?;
                        } else {
                            return Err(ShapeError::BadTag(tag));
                        }
                    }
                    _ => {
                        w.skip(size as usize)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn fetch_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 14 {
            w.skip(4)?;
        }
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(1)?;
        if version >= 7 {
            w.skip(4)?;
        }
        if version >= 7 {
            w.skip(4)?;
        }
        if version >= 12 {
            w.compact_array(|w| fetch_topic(w, version))?;
        } else {
            w.array(|w| fetch_topic(w, version))?;
        }
        if version >= 7 {
            if version >= 12 {
                w.compact_array(|w| forgotten_topic(w, version))?;
            } else {
                w.array(|w| forgotten_topic(w, version))?;
            }
        }
        if version >= 11 {
            if version >= 12 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag = w.uvarint()?;
                let size = w.uvarint()?;
                match tag {
                    0 => {
                        w.compact_string()?;
                    }
                    1 => {
                        if version >= 15 {
                            replica_state(w, version)?;
                        } else {
                            return Err(ShapeError::BadTag(tag));
                        }
                    }
                    _ => {
                        w.skip(size as usize)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn fetch_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 12 {
            if version >= 12 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 13 {
            w.skip(16)?;
        }
        if version >= 12 {
            w.compact_array(|w| fetch_partition(w, version))?;
        } else {
            w.array(|w| fetch_partition(w, version))?;
        }
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn forgotten_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if (7..=12).contains(&version) {
            if version >= 12 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 13 {
            w.skip(16)?;
        }
        if version >= 7 {
            if version >= 12 {
                w.compact_array(|w| w.skip(4))?;
            } else {
                w.array(|w| w.skip(4))?;
            }
        }
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn replica_state(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 15 {
            w.skip(4)?;
        }
        if version >= 15 {
            w.skip(8)?;
        }
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod list_offsets_request {
    use super::{ShapeError, Walker};

    fn list_offsets_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=10).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 4 {
            w.skip(4)?;
        }
        w.skip(8)?;
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn list_offsets_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=10).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 2 {
            w.skip(1)?;
        }
        if version >= 6 {
            w.compact_array(|w| list_offsets_topic(w, version))?;
        } else {
            w.array(|w| list_offsets_topic(w, version))?;
        }
        if version >= 10 {
            w.skip(4)?;
        }
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn list_offsets_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=10).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 6 {
            w.compact_array(|w| list_offsets_partition(w, version))?;
        } else {
            w.array(|w| list_offsets_partition(w, version))?;
        }
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod metadata_request {
    use super::{ShapeError, Walker};

    pub(super) fn metadata_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 9 {
            w.compact_array(|w| metadata_request_topic(w, version))?;
        } else {
            w.array(|w| metadata_request_topic(w, version))?;
        }
        if version >= 4 {
            w.skip(1)?;
        }
        if (8..=10).contains(&version) {
            w.skip(1)?;
        }
        if version >= 8 {
            w.skip(1)?;
        }
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn metadata_request_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 10 {
            w.skip(16)?;
        }
        if version >= 9 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod offset_commit_request {
    use super::{ShapeError, Walker};

    pub(super) fn offset_commit_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 8 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(4)?;
        if version >= 8 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 7 {
            if version >= 8 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version <= 4 {
            w.skip(8)?;
        }
        if version >= 8 {
            w.compact_array(|w| offset_commit_request_topic(w, version))?;
        } else {
            w.array(|w| offset_commit_request_topic(w, version))?;
        }
        if version >= 8 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn offset_commit_request_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        if version >= 6 {
            w.skip(4)?;
        }
        if version >= 8 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 8 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn offset_commit_request_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 8 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 8 {
            w.compact_array(|w| offset_commit_request_partition(w, version))?;
        } else {
            w.array(|w| offset_commit_request_partition(w, version))?;
        }
        if version >= 8 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod offset_fetch_request {
    use super::{ShapeError, Walker};

    pub(super) fn offset_fetch_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 7 {
            if version >= 6 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version <= 7 {
            if version >= 6 {
                w.compact_array(|w| offset_fetch_request_topic(w, version))?;
            } else {
                w.array(|w| offset_fetch_request_topic(w, version))?;
            }
        }
        if version >= 8 {
            w.compact_array(|w| offset_fetch_request_group(w, version))?;
        }
        if version >= 7 {
            w.skip(1)?;
        }
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn offset_fetch_request_group(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 8 {
            w.compact_string()?;
        }
        if version >= 9 {
            w.compact_string()?;
        }
        if version >= 9 {
            w.skip(4)?;
        }
        if version >= 8 {
            w.compact_array(|w| offset_fetch_request_topics(w, version))?;
        }
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn offset_fetch_request_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 7 {
            if version >= 6 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version <= 7 {
            if version >= 6 {
                w.compact_array(|w| w.skip(4))?;
            } else {
                w.array(|w| w.skip(4))?;
            }
        }
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn offset_fetch_request_topics(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 8 {
            w.compact_string()?;
        }
        if version >= 8 {
            w.compact_array(|w| w.skip(4))?;
        }
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod find_coordinator_request {
    use super::{ShapeError, Walker};

    pub(super) fn find_coordinator_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=6).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 3 {
            if version >= 3 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 1 {
            w.skip(1)?;
        }
        if version >= 4 {
            w.compact_array(|w| w.compact_string())?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod join_group_request {
    use super::{ShapeError, Walker};

    pub(super) fn join_group_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(4)?;
        if version >= 1 {
            w.skip(4)?;
        }
        if version >= 6 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 5 {
            if version >= 6 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 6 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 6 {
            w.compact_array(|w| join_group_request_protocol(w, version))?;
        } else {
            w.array(|w| join_group_request_protocol(w, version))?;
        }
        if version >= 8 {
            w.compact_string()?;
        }
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn join_group_request_protocol(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 6 {
            w.compact_bytes()?;
        } else {
            w.bytes()?;
        }
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod heartbeat_request {
    use super::{ShapeError, Walker};

    pub(super) fn heartbeat_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(4)?;
        if version >= 4 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 3 {
            if version >= 4 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod leave_group_request {
    use super::{ShapeError, Walker};

    pub(super) fn leave_group_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version <= 2 {
            w.string()?;
        }
        if version >= 3 {
            if version >= 4 {
                w.compact_array(|w| member_identity(w, version))?;
            } else {
                w.array(|w| member_identity(w, version))?;
            }
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn member_identity(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            if version >= 4 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 3 {
            if version >= 4 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 5 {
            w.compact_string()?;
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod sync_group_request {
    use super::{ShapeError, Walker};

    pub(super) fn sync_group_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(4)?;
        if version >= 4 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 3 {
            if version >= 4 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version >= 5 {
            w.compact_string()?;
        }
        if version >= 5 {
            w.compact_string()?;
        }
        if version >= 4 {
            w.compact_array(|w| sync_group_request_assignment(w, version))?;
        } else {
            w.array(|w| sync_group_request_assignment(w, version))?;
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn sync_group_request_assignment(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 4 {
            w.compact_bytes()?;
        } else {
            w.bytes()?;
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod describe_groups_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_groups_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=6).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 5 {
            w.compact_array(|w| w.compact_string())?;
        } else {
            w.array(|w| w.string())?;
        }
        if version >= 3 {
            w.skip(1)?;
        }
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod list_groups_request {
    use super::{ShapeError, Walker};

    pub(super) fn list_groups_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_array(|w| w.compact_string())?;
        }
        if version >= 5 {
            w.compact_array(|w| w.compact_string())?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod sasl_handshake_request {
    use super::{ShapeError, Walker};

    pub(super) fn sasl_handshake_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.string()?;
        Ok(())
    }
}

mod api_versions_request {
    use super::{ShapeError, Walker};

    pub(super) fn api_versions_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?;
        }
        if version >= 3 {
            w.compact_string()?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod create_topics_request {
    use super::{ShapeError, Walker};

    fn creatable_replica_assignment(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=7).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 5 {
            w.compact_array(|w| w.skip(4))?;
        } else {
            w.array(|w| w.skip(4))?;
        }
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn creatable_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=7).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 5 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(4)?;
        w.skip(2)?;
        if version >= 5 {
            w.compact_array(|w| creatable_replica_assignment(w, version))?;
        } else {
            w.array(|w| creatable_replica_assignment(w, version))?;
        }
        if version >= 5 {
            w.compact_array(|w| creatable_topic_config(w, version))?;
        } else {
            w.array(|w| creatable_topic_config(w, version))?;
        }
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn creatable_topic_config(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=7).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 5 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 5 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn create_topics_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=7).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 5 {
            w.compact_array(|w| creatable_topic(w, version))?;
        } else {
            w.array(|w| creatable_topic(w, version))?;
        }
        w.skip(4)?;
        w.skip(1)?;
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod delete_topics_request {
    use super::{ShapeError, Walker};

    fn delete_topic_state(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=6).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_string()?;
        }
        if version >= 6 {
            w.skip(16)?;
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn delete_topics_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=6).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_array(|w| delete_topic_state(w, version))?;
        }
        if version <= 5 {
            if version >= 4 {
                w.compact_array(|w| w.compact_string())?;
            } else {
                w.array(|w| w.string())?;
            }
        }
        w.skip(4)?;
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod delete_records_request {
    use super::{ShapeError, Walker};

    fn delete_records_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn delete_records_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| delete_records_topic(w, version))?;
        } else {
            w.array(|w| delete_records_topic(w, version))?;
        }
        w.skip(4)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn delete_records_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_array(|w| delete_records_partition(w, version))?;
        } else {
            w.array(|w| delete_records_partition(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod init_producer_id_request {
    use super::{ShapeError, Walker};

    pub(super) fn init_producer_id_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(4)?;
        if version >= 3 {
            w.skip(8)?;
        }
        if version >= 3 {
            w.skip(2)?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod offset_for_leader_epoch_request {
    use super::{ShapeError, Walker};

    pub(super) fn offset_for_leader_epoch_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.skip(4)?;
        }
        if version >= 4 {
            w.compact_array(|w| offset_for_leader_topic(w, version))?;
        } else {
            w.array(|w| offset_for_leader_topic(w, version))?;
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn offset_for_leader_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn offset_for_leader_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 4 {
            w.compact_array(|w| offset_for_leader_partition(w, version))?;
        } else {
            w.array(|w| offset_for_leader_partition(w, version))?;
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod add_partitions_to_txn_request {
    use super::{ShapeError, Walker};

    pub(super) fn add_partitions_to_txn_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_array(|w| add_partitions_to_txn_transaction(w, version))?;
        }
        if version <= 3 {
            if version >= 3 {
                w.compact_string()?;
            } else {
                w.string()?;
            }
        }
        if version <= 3 {
            w.skip(8)?;
        }
        if version <= 3 {
            w.skip(2)?;
        }
        if version <= 3 {
            if version >= 3 {
                w.compact_array(|w| add_partitions_to_txn_topic(w, version))?;
            } else {
                w.array(|w| add_partitions_to_txn_topic(w, version))?;
            }
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn add_partitions_to_txn_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 3 {
            w.compact_array(|w| w.skip(4))?;
        } else {
            w.array(|w| w.skip(4))?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn add_partitions_to_txn_transaction(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?;
        }
        if version >= 4 {
            w.skip(8)?;
        }
        if version >= 4 {
            w.skip(2)?;
        }
        if version >= 4 {
            w.skip(1)?;
        }
        if version >= 4 {
            w.compact_array(|w| add_partitions_to_txn_topic(w, version))?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod add_offsets_to_txn_request {
    use super::{ShapeError, Walker};

    pub(super) fn add_offsets_to_txn_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(8)?;
        w.skip(2)?;
        if version >= 3 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod end_txn_request {
    use super::{ShapeError, Walker};

    pub(super) fn end_txn_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(8)?;
        w.skip(2)?;
        w.skip(1)?;
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod write_txn_markers_request {
    use super::{ShapeError, Walker};

    fn writable_txn_marker(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.skip(8)?;
        w.skip(2)?;
        w.skip(1)?;
        w.compact_array(|w| writable_txn_marker_topic(w, version))?;
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn writable_txn_marker_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| w.skip(4))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn write_txn_markers_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| writable_txn_marker(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod txn_offset_commit_request {
    use super::{ShapeError, Walker};

    pub(super) fn txn_offset_commit_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 3 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(8)?;
        w.skip(2)?;
        if version >= 3 {
            w.skip(4)?;
        }
        if version >= 3 {
            w.compact_string()?;
        }
        if version >= 3 {
            w.compact_string()?;
        }
        if version >= 3 {
            w.compact_array(|w| txn_offset_commit_request_topic(w, version))?;
        } else {
            w.array(|w| txn_offset_commit_request_topic(w, version))?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn txn_offset_commit_request_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        if version >= 2 {
            w.skip(4)?;
        }
        if version >= 3 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn txn_offset_commit_request_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 3 {
            w.compact_array(|w| txn_offset_commit_request_partition(w, version))?;
        } else {
            w.array(|w| txn_offset_commit_request_partition(w, version))?;
        }
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod describe_acls_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_acls_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(1)?;
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(1)?;
        w.skip(1)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod create_acls_request {
    use super::{ShapeError, Walker};

    fn acl_creation(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(1)?;
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(1)?;
        w.skip(1)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn create_acls_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| acl_creation(w, version))?;
        } else {
            w.array(|w| acl_creation(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod delete_acls_request {
    use super::{ShapeError, Walker};

    fn delete_acls_filter(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(1)?;
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(1)?;
        w.skip(1)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn delete_acls_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| delete_acls_filter(w, version))?;
        } else {
            w.array(|w| delete_acls_filter(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod describe_configs_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_configs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_array(|w| describe_configs_resource(w, version))?;
        } else {
            w.array(|w| describe_configs_resource(w, version))?;
        }
        w.skip(1)?;
        if version >= 3 {
            w.skip(1)?;
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn describe_configs_resource(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 4 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 4 {
            w.compact_array(|w| w.compact_string())?;
        } else {
            w.array(|w| w.string())?;
        }
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod alter_configs_request {
    use super::{ShapeError, Walker};

    pub(super) fn alter_configs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| alter_configs_resource(w, version))?;
        } else {
            w.array(|w| alter_configs_resource(w, version))?;
        }
        w.skip(1)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn alter_configs_resource(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_array(|w| alterable_config(w, version))?;
        } else {
            w.array(|w| alterable_config(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn alterable_config(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod alter_replica_log_dirs_request {
    use super::{ShapeError, Walker};

    fn alter_replica_log_dir(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_array(|w| alter_replica_log_dir_topic(w, version))?;
        } else {
            w.array(|w| alter_replica_log_dir_topic(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn alter_replica_log_dir_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_array(|w| w.skip(4))?;
        } else {
            w.array(|w| w.skip(4))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn alter_replica_log_dirs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| alter_replica_log_dir(w, version))?;
        } else {
            w.array(|w| alter_replica_log_dir(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod describe_log_dirs_request {
    use super::{ShapeError, Walker};

    fn describable_log_dir_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_array(|w| w.skip(4))?;
        } else {
            w.array(|w| w.skip(4))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn describe_log_dirs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| describable_log_dir_topic(w, version))?;
        } else {
            w.array(|w| describable_log_dir_topic(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod sasl_authenticate_request {
    use super::{ShapeError, Walker};

    pub(super) fn sasl_authenticate_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_bytes()?;
        } else {
            w.bytes()?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod create_partitions_request {
    use super::{ShapeError, Walker};

    fn create_partitions_assignment(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| w.skip(4))?;
        } else {
            w.array(|w| w.skip(4))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn create_partitions_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| create_partitions_topic(w, version))?;
        } else {
            w.array(|w| create_partitions_topic(w, version))?;
        }
        w.skip(4)?;
        w.skip(1)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn create_partitions_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(4)?;
        if version >= 2 {
            w.compact_array(|w| create_partitions_assignment(w, version))?;
        } else {
            w.array(|w| create_partitions_assignment(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod create_delegation_token_request {
    use super::{ShapeError, Walker};

    fn creatable_renewers(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn create_delegation_token_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?;
        }
        if version >= 3 {
            w.compact_string()?;
        }
        if version >= 2 {
            w.compact_array(|w| creatable_renewers(w, version))?;
        } else {
            w.array(|w| creatable_renewers(w, version))?;
        }
        w.skip(8)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod renew_delegation_token_request {
    use super::{ShapeError, Walker};

    pub(super) fn renew_delegation_token_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_bytes()?;
        } else {
            w.bytes()?;
        }
        w.skip(8)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod expire_delegation_token_request {
    use super::{ShapeError, Walker};

    pub(super) fn expire_delegation_token_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_bytes()?;
        } else {
            w.bytes()?;
        }
        w.skip(8)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod describe_delegation_token_request {
    use super::{ShapeError, Walker};

    fn describe_delegation_token_owner(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn describe_delegation_token_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| describe_delegation_token_owner(w, version))?;
        } else {
            w.array(|w| describe_delegation_token_owner(w, version))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod delete_groups_request {
    use super::{ShapeError, Walker};

    pub(super) fn delete_groups_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| w.compact_string())?;
        } else {
            w.array(|w| w.string())?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod elect_leaders_request {
    use super::{ShapeError, Walker};

    pub(super) fn elect_leaders_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.skip(1)?;
        }
        if version >= 2 {
            w.compact_array(|w| topic_partitions(w, version))?;
        } else {
            w.array(|w| topic_partitions(w, version))?;
        }
        w.skip(4)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn topic_partitions(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 2 {
            w.compact_array(|w| w.skip(4))?;
        } else {
            w.array(|w| w.skip(4))?;
        }
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod incremental_alter_configs_request {
    use super::{ShapeError, Walker};

    fn alter_configs_resource(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            w.compact_array(|w| alterable_config(w, version))?;
        } else {
            w.array(|w| alterable_config(w, version))?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn alterable_config(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(1)?;
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn incremental_alter_configs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_array(|w| alter_configs_resource(w, version))?;
        } else {
            w.array(|w| alter_configs_resource(w, version))?;
        }
        w.skip(1)?;
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod alter_partition_reassignments_request {
    use super::{ShapeError, Walker};

    pub(super) fn alter_partition_reassignments_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 1 {
            w.skip(1)?;
        }
        w.compact_array(|w| reassignable_topic(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn reassignable_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.compact_array(|w| w.skip(4))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn reassignable_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| reassignable_partition(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod list_partition_reassignments_request {
    use super::{ShapeError, Walker};

    pub(super) fn list_partition_reassignments_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.compact_array(|w| list_partition_reassignments_topics(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn list_partition_reassignments_topics(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| w.skip(4))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod offset_delete_request {
    use super::{ShapeError, Walker};

    pub(super) fn offset_delete_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.string()?;
        w.array(|w| offset_delete_request_topic(w, version))?;
        Ok(())
    }

    fn offset_delete_request_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        Ok(())
    }

    fn offset_delete_request_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.string()?;
        w.array(|w| offset_delete_request_partition(w, version))?;
        Ok(())
    }
}

mod describe_client_quotas_request {
    use super::{ShapeError, Walker};

    fn component_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(1)?;
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(super) fn describe_client_quotas_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_array(|w| component_data(w, version))?;
        } else {
            w.array(|w| component_data(w, version))?;
        }
        w.skip(1)?;
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod alter_client_quotas_request {
    use super::{ShapeError, Walker};

    pub(super) fn alter_client_quotas_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_array(|w| entry_data(w, version))?;
        } else {
            w.array(|w| entry_data(w, version))?;
        }
        w.skip(1)?;
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn entity_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn entry_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_array(|w| entity_data(w, version))?;
        } else {
            w.array(|w| entity_data(w, version))?;
        }
        if version >= 1 {
            w.compact_array(|w| op_data(w, version))?;
        } else {
            w.array(|w| op_data(w, version))?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn op_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        w.skip(8)?;
        w.skip(1)?;
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod describe_user_scram_credentials_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_user_scram_credentials_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| user_name(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn user_name(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod alter_user_scram_credentials_request {
    use super::{ShapeError, Walker};

    pub(super) fn alter_user_scram_credentials_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| scram_credential_deletion(w, version))?;
        w.compact_array(|w| scram_credential_upsertion(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn scram_credential_deletion(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(1)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn scram_credential_upsertion(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(1)?;
        w.skip(4)?;
        w.compact_bytes()?;
        w.compact_bytes()?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod vote_request {
    use super::{ShapeError, Walker};

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        if version >= 1 {
            w.skip(16)?;
        }
        if version >= 1 {
            w.skip(16)?;
        }
        w.skip(4)?;
        w.skip(8)?;
        if version >= 2 {
            w.skip(1)?;
        }
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn topic_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn vote_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        if version >= 1 {
            w.skip(4)?;
        }
        w.compact_array(|w| topic_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod begin_quorum_epoch_request {
    use super::{ShapeError, Walker};

    pub(super) fn begin_quorum_epoch_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            w.skip(4)?;
        }
        if version >= 1 {
            w.compact_array(|w| topic_data(w, version))?;
        } else {
            w.array(|w| topic_data(w, version))?;
        }
        if version >= 1 {
            w.compact_array(|w| leader_endpoint(w, version))?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn leader_endpoint(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        }
        if version >= 1 {
            w.compact_string()?;
        }
        if version >= 1 {
            w.skip(2)?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 1 {
            w.skip(16)?;
        }
        w.skip(4)?;
        w.skip(4)?;
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn topic_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            w.compact_array(|w| partition_data(w, version))?;
        } else {
            w.array(|w| partition_data(w, version))?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod end_quorum_epoch_request {
    use super::{ShapeError, Walker};

    pub(super) fn end_quorum_epoch_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            w.compact_array(|w| topic_data(w, version))?;
        } else {
            w.array(|w| topic_data(w, version))?;
        }
        if version >= 1 {
            w.compact_array(|w| leader_endpoint(w, version))?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn leader_endpoint(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        }
        if version >= 1 {
            w.compact_string()?;
        }
        if version >= 1 {
            w.skip(2)?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        if version == 0 {
            w.array(|w| w.skip(4))?;
        }
        if version >= 1 {
            w.compact_array(|w| replica_info(w, version))?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn replica_info(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.skip(4)?;
        }
        if version >= 1 {
            w.skip(16)?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    fn topic_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?;
        } else {
            w.string()?;
        }
        if version >= 1 {
            w.compact_array(|w| partition_data(w, version))?;
        } else {
            w.array(|w| partition_data(w, version))?;
        }
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                w.uvarint()?;
                let size = w.uvarint()?;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

mod describe_quorum_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_quorum_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| topic_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn topic_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod alter_partition_request {
    use super::{ShapeError, Walker};

    pub(super) fn alter_partition_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        w.compact_array(|w| topic_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn broker_state(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.skip(4)?;
        }
        if version >= 3 {
            w.skip(8)?;
        }
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        if version == 2 {
            w.compact_array(|w| w.skip(4))?;
        }
        if version >= 3 {
            w.compact_array(|w| broker_state(w, version))?;
        }
        w.skip(1)?;
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn topic_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(2..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod update_features_request {
    use super::{ShapeError, Walker};

    fn feature_update_key(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(2)?;
        if version == 0 {
            w.skip(1)?;
        }
        if version >= 1 {
            w.skip(1)?;
        }
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn update_features_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.compact_array(|w| feature_update_key(w, version))?;
        if version >= 1 {
            w.skip(1)?;
        }
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod envelope_request {
    use super::{ShapeError, Walker};

    pub(super) fn envelope_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_bytes()?;
        w.compact_bytes()?;
        w.compact_bytes()?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod fetch_snapshot_request {
    use super::{ShapeError, Walker};

    pub(super) fn fetch_snapshot_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        w.compact_array(|w| topic_snapshot(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            let tag = w.uvarint()?;
            let size = w.uvarint()?;
            match tag {
                0 => {
                    w.compact_string()?;
                }
                _ => {
                    w.skip(size as usize)?;
                }
            }
        }
        Ok(())
    }

    fn partition_snapshot(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        snapshot_id(w, version)?;
        w.skip(8)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            let tag = w.uvarint()?;
            let size = w.uvarint()?;
            match tag {
                0 => {
                    if version >= 1 {
                        w.skip(16)?;
                    } else {
                        return Err(ShapeError::BadTag(tag));
                    }
                }
                _ => {
                    w.skip(size as usize)?;
                }
            }
        }
        Ok(())
    }

    fn snapshot_id(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(8)?;
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn topic_snapshot(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| partition_snapshot(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod describe_cluster_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_cluster_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 1 {
            w.skip(1)?;
        }
        if version >= 2 {
            w.skip(1)?;
        }
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod describe_producers_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_producers_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| topic_request(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn topic_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| w.skip(4))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod broker_registration_request {
    use super::{ShapeError, Walker};

    pub(super) fn broker_registration_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.compact_string()?;
        w.skip(16)?;
        w.compact_array(|w| listener(w, version))?;
        w.compact_array(|w| feature(w, version))?;
        w.compact_string()?;
        if version >= 1 {
            w.skip(1)?;
        }
        if version >= 2 {
            w.compact_array(|w| w.skip(16))?;
        }
        if version >= 3 {
            w.skip(8)?;
        }
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn feature(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(2)?;
        w.skip(2)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn listener(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(2)?;
        w.skip(2)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod broker_heartbeat_request {
    use super::{ShapeError, Walker};

    pub(super) fn broker_heartbeat_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        w.skip(8)?;
        w.skip(1)?;
        w.skip(1)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            let tag = w.uvarint()?;
            let size = w.uvarint()?;
            match tag {
                0 => {
                    if version >= 1 {
                        w.compact_array(|w| w.skip(16))?;
                    } else {
                        return Err(ShapeError::BadTag(tag));
                    }
                }
                _ => {
                    w.skip(size as usize)?;
                }
            }
        }
        Ok(())
    }
}

mod unregister_broker_request {
    use super::{ShapeError, Walker};

    pub(super) fn unregister_broker_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod describe_transactions_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_transactions_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| w.compact_string())?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod list_transactions_request {
    use super::{ShapeError, Walker};

    pub(super) fn list_transactions_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| w.compact_string())?;
        w.compact_array(|w| w.skip(8))?;
        if version >= 1 {
            w.skip(8)?;
        }
        if version >= 2 {
            w.compact_string()?;
        }
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod allocate_producer_ids_request {
    use super::{ShapeError, Walker};

    pub(super) fn allocate_producer_ids_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod consumer_group_heartbeat_request {
    use super::{ShapeError, Walker};

    pub(super) fn consumer_group_heartbeat_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(4)?;
        w.compact_string()?;
        w.compact_string()?;
        w.skip(4)?;
        w.compact_array(|w| w.compact_string())?;
        if version >= 1 {
            w.compact_string()?;
        }
        w.compact_string()?;
        w.compact_array(|w| topic_partitions(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn topic_partitions(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| w.skip(4))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod consumer_group_describe_request {
    use super::{ShapeError, Walker};

    pub(super) fn consumer_group_describe_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| w.compact_string())?;
        w.skip(1)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod controller_registration_request {
    use super::{ShapeError, Walker};

    pub(super) fn controller_registration_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(16)?;
        w.skip(1)?;
        w.compact_array(|w| listener(w, version))?;
        w.compact_array(|w| feature(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn feature(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(2)?;
        w.skip(2)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn listener(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(2)?;
        w.skip(2)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod get_telemetry_subscriptions_request {
    use super::{ShapeError, Walker};

    pub(super) fn get_telemetry_subscriptions_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod push_telemetry_request {
    use super::{ShapeError, Walker};

    pub(super) fn push_telemetry_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.skip(4)?;
        w.skip(1)?;
        w.skip(1)?;
        w.compact_bytes()?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod assign_replicas_to_dirs_request {
    use super::{ShapeError, Walker};

    pub(super) fn assign_replicas_to_dirs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        w.compact_array(|w| directory_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn directory_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| topic_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn topic_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod list_config_resources_request {
    use super::{ShapeError, Walker};

    pub(super) fn list_config_resources_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_array(|w| w.skip(1))?;
        }
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod describe_topic_partitions_request {
    use super::{ShapeError, Walker};

    fn cursor(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn describe_topic_partitions_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| topic_request(w, version))?;
        w.skip(4)?;
        w.option_struct(|w| cursor(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn topic_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod share_group_heartbeat_request {
    use super::{ShapeError, Walker};

    pub(super) fn share_group_heartbeat_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(4)?;
        w.compact_string()?;
        w.compact_array(|w| w.compact_string())?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod share_group_describe_request {
    use super::{ShapeError, Walker};

    pub(super) fn share_group_describe_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| w.compact_string())?;
        w.skip(1)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod share_fetch_request {
    use super::{ShapeError, Walker};

    fn acknowledgement_batch(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.skip(8)?;
        w.skip(8)?;
        w.compact_array(|w| w.skip(1))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn fetch_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.compact_array(|w| acknowledgement_batch(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn fetch_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| fetch_partition(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn forgotten_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| w.skip(4))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn share_fetch_request(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        w.compact_array(|w| fetch_topic(w, version))?;
        w.compact_array(|w| forgotten_topic(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod share_acknowledge_request {
    use super::{ShapeError, Walker};

    fn acknowledge_partition(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.compact_array(|w| acknowledgement_batch(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn acknowledge_topic(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| acknowledge_partition(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn acknowledgement_batch(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.skip(8)?;
        w.skip(8)?;
        w.compact_array(|w| w.skip(1))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn share_acknowledge_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 1 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(4)?;
        w.compact_array(|w| acknowledge_topic(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod add_raft_voter_request {
    use super::{ShapeError, Walker};

    pub(super) fn add_raft_voter_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(16)?;
        w.compact_array(|w| listener(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn listener(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(2)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod remove_raft_voter_request {
    use super::{ShapeError, Walker};

    pub(super) fn remove_raft_voter_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(4)?;
        w.skip(16)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod update_raft_voter_request {
    use super::{ShapeError, Walker};

    fn k_raft_version_feature(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(2)?;
        w.skip(2)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn listener(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(2)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn update_raft_voter_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(16)?;
        w.compact_array(|w| listener(w, version))?;
        k_raft_version_feature(w, version)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod initialize_share_group_state_request {
    use super::{ShapeError, Walker};

    pub(super) fn initialize_share_group_state_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| initialize_state_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn initialize_state_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        w.skip(8)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod read_share_group_state_request {
    use super::{ShapeError, Walker};

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn read_share_group_state_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| read_state_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn read_state_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod write_share_group_state_request {
    use super::{ShapeError, Walker};

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(8)?;
        w.compact_array(|w| state_batch(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn state_batch(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(8)?;
        w.skip(8)?;
        w.skip(1)?;
        w.skip(2)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn write_share_group_state_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| write_state_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn write_state_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod delete_share_group_state_request {
    use super::{ShapeError, Walker};

    pub(super) fn delete_share_group_state_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| delete_state_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn delete_state_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod read_share_group_state_summary_request {
    use super::{ShapeError, Walker};

    fn partition_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    pub(super) fn read_share_group_state_summary_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| read_state_summary_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn read_state_summary_data(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| partition_data(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod describe_share_group_offsets_request {
    use super::{ShapeError, Walker};

    pub(super) fn describe_share_group_offsets_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| describe_share_group_offsets_request_group(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn describe_share_group_offsets_request_group(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| describe_share_group_offsets_request_topic(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn describe_share_group_offsets_request_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| w.skip(4))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod alter_share_group_offsets_request {
    use super::{ShapeError, Walker};

    pub(super) fn alter_share_group_offsets_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| alter_share_group_offsets_request_topic(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn alter_share_group_offsets_request_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn alter_share_group_offsets_request_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| alter_share_group_offsets_request_partition(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}

mod delete_share_group_offsets_request {
    use super::{ShapeError, Walker};

    pub(super) fn delete_share_group_offsets_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| delete_share_group_offsets_request_topic(w, version))?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }

    fn delete_share_group_offsets_request_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        let num_tagged_fields = w.uvarint()?;
        w.check_count(num_tagged_fields as usize)?;
        for _ in 0..num_tagged_fields {
            w.uvarint()?;
            let size = w.uvarint()?;
            w.skip(size as usize)?;
        }
        Ok(())
    }
}
