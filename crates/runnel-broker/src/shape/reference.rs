//! The typed decoders the walkers of this module mirror, as one function.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

/// Decodes a request body with kafka-protocol's typed decoder and returns the bytes it
/// consumed, or `None` on a decode error: the reference the walkers are checked against (by
/// the tests and the request fuzz target). Only call it on a body [`check`] accepted, as the
/// broker does; on others the decoder may try to allocate without bound.
pub fn decoded_len(api: ApiKey, version: i16, body: &[u8]) -> Option<usize> {
    fn len<T: Decodable>(body: &[u8], version: i16) -> Option<usize> {
        let mut bytes = Bytes::copy_from_slice(body);
        T::decode(&mut bytes, version).ok()?;
        Some(body.len() - bytes.len())
    }
    match api {
        ApiKey::Produce => len::<ProduceRequest>(body, version),
        ApiKey::Fetch => len::<FetchRequest>(body, version),
        ApiKey::ListOffsets => len::<ListOffsetsRequest>(body, version),
        ApiKey::Metadata => len::<MetadataRequest>(body, version),
        ApiKey::OffsetCommit => len::<OffsetCommitRequest>(body, version),
        ApiKey::OffsetFetch => len::<OffsetFetchRequest>(body, version),
        ApiKey::FindCoordinator => len::<FindCoordinatorRequest>(body, version),
        ApiKey::JoinGroup => len::<JoinGroupRequest>(body, version),
        ApiKey::Heartbeat => len::<HeartbeatRequest>(body, version),
        ApiKey::LeaveGroup => len::<LeaveGroupRequest>(body, version),
        ApiKey::SyncGroup => len::<SyncGroupRequest>(body, version),
        ApiKey::DescribeGroups => len::<DescribeGroupsRequest>(body, version),
        ApiKey::ListGroups => len::<ListGroupsRequest>(body, version),
        ApiKey::CreateTopics => len::<CreateTopicsRequest>(body, version),
        ApiKey::DeleteTopics => len::<DeleteTopicsRequest>(body, version),
        ApiKey::DeleteRecords => len::<DeleteRecordsRequest>(body, version),
        ApiKey::InitProducerId => len::<InitProducerIdRequest>(body, version),
        ApiKey::OffsetForLeaderEpoch => len::<OffsetForLeaderEpochRequest>(body, version),
        ApiKey::AddPartitionsToTxn => len::<AddPartitionsToTxnRequest>(body, version),
        ApiKey::AddOffsetsToTxn => len::<AddOffsetsToTxnRequest>(body, version),
        ApiKey::EndTxn => len::<EndTxnRequest>(body, version),
        ApiKey::TxnOffsetCommit => len::<TxnOffsetCommitRequest>(body, version),
        ApiKey::DescribeConfigs => len::<DescribeConfigsRequest>(body, version),
        ApiKey::AlterConfigs => len::<AlterConfigsRequest>(body, version),
        ApiKey::DescribeLogDirs => len::<DescribeLogDirsRequest>(body, version),
        ApiKey::CreatePartitions => len::<CreatePartitionsRequest>(body, version),
        ApiKey::DeleteGroups => len::<DeleteGroupsRequest>(body, version),
        ApiKey::IncrementalAlterConfigs => len::<IncrementalAlterConfigsRequest>(body, version),
        ApiKey::OffsetDelete => len::<OffsetDeleteRequest>(body, version),
        ApiKey::DescribeCluster => len::<DescribeClusterRequest>(body, version),
        ApiKey::DescribeProducers => len::<DescribeProducersRequest>(body, version),
        ApiKey::DescribeTransactions => len::<DescribeTransactionsRequest>(body, version),
        ApiKey::ListTransactions => len::<ListTransactionsRequest>(body, version),
        ApiKey::ShareGroupHeartbeat => len::<ShareGroupHeartbeatRequest>(body, version),
        ApiKey::ShareGroupDescribe => len::<ShareGroupDescribeRequest>(body, version),
        ApiKey::ShareFetch => len::<ShareFetchRequest>(body, version),
        ApiKey::ShareAcknowledge if version == 2 => {
            let (v1, _) = super::acknowledge_v2_as_v1(body)?;
            len::<ShareAcknowledgeRequest>(&v1, 1).map(|n| n + 1)
        }
        ApiKey::ShareAcknowledge => len::<ShareAcknowledgeRequest>(body, version),
        ApiKey::DescribeShareGroupOffsets => len::<DescribeShareGroupOffsetsRequest>(body, version),
        ApiKey::AlterClientQuotas => len::<AlterClientQuotasRequest>(body, version),
        ApiKey::DescribeClientQuotas => len::<DescribeClientQuotasRequest>(body, version),
        ApiKey::SaslHandshake => len::<SaslHandshakeRequest>(body, version),
        ApiKey::SaslAuthenticate => len::<SaslAuthenticateRequest>(body, version),
        ApiKey::DescribeUserScramCredentials => {
            len::<DescribeUserScramCredentialsRequest>(body, version)
        }
        ApiKey::AlterUserScramCredentials => len::<AlterUserScramCredentialsRequest>(body, version),
        ApiKey::CreateAcls => len::<CreateAclsRequest>(body, version),
        ApiKey::DescribeAcls => len::<DescribeAclsRequest>(body, version),
        ApiKey::DeleteAcls => len::<DeleteAclsRequest>(body, version),
        ApiKey::AlterShareGroupOffsets => len::<AlterShareGroupOffsetsRequest>(body, version),
        ApiKey::DeleteShareGroupOffsets => len::<DeleteShareGroupOffsetsRequest>(body, version),
        ApiKey::ConsumerGroupHeartbeat => len::<ConsumerGroupHeartbeatRequest>(body, version),
        ApiKey::ConsumerGroupDescribe => len::<ConsumerGroupDescribeRequest>(body, version),
        _ => None,
    }
}
