//! Request dispatch: version checks, guarded decoding, one handler per API.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::broker::BrokerState;
use crate::codec;
use crate::error::RequestError;
use crate::quotas::{Client, QuotaKey};
use crate::response::{self, Response};
use crate::session::Session;
use crate::shape;

mod access;
mod acl_apis;
mod admin;
pub(crate) mod api_versions;
mod cluster;
mod configs;
mod fetch;
mod group_apis;
mod list_offsets;
mod metadata;
mod produce;
mod quotas;
pub(crate) mod sasl;
mod scram_credentials;
mod share_apis;
mod txn_apis;

/// The APIs and versions this broker answers, as advertised by ApiVersions. Every entry is
/// within kafka-protocol's range for the key, and has a request shape in [`crate::shape`].
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 16),
    (ApiKey::ListOffsets, 1, 9),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 4),
    (ApiKey::TxnOffsetCommit, 0, 4),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::ShareGroupHeartbeat, 1, 1),
    (ApiKey::ShareGroupDescribe, 1, 1),
    (ApiKey::ShareFetch, 1, 1),
    (ApiKey::ShareAcknowledge, 1, 2),
    (ApiKey::DescribeShareGroupOffsets, 0, 0),
    (ApiKey::AlterShareGroupOffsets, 0, 0),
    (ApiKey::DeleteShareGroupOffsets, 0, 0),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
];

/// The supported version range of `api`, if it is supported at all.
pub fn supported(api: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == api)
        .map(|&(_, min, max)| (min, max))
}

/// A request's answer, and how long its connection must now be held back for its client's
/// quotas.
#[derive(Debug)]
pub(crate) struct Handled {
    /// `Ok(None)` means no response is due (acks=0 produce).
    pub(crate) outcome: Result<Option<Response>, RequestError>,
    pub(crate) throttle_ms: u64,
}

/// Answers one request of a connection, records what it cost against the client's quotas,
/// and counts it in the metrics.
pub(crate) async fn handle(
    state: &Arc<BrokerState>,
    session: &Session,
    api: ApiKey,
    header: RequestHeader,
    body: Bytes,
) -> Handled {
    let started = std::time::Instant::now();
    let version = header.request_api_version;
    let client_id = header.client_id.as_deref().unwrap_or_default().to_owned();
    let client = Client {
        user: session.principal.name(),
        client_id: &client_id,
    };
    let mut throttle_ms = 0;
    let origin = Origin {
        session,
        client,
        access: access::Access::new(&state.acls, session.principal.name(), session.peer.ip()),
    };
    let outcome = dispatch(state, &origin, api, header, body, &mut throttle_ms).await;
    let took = started.elapsed();
    // Long polls wait for data, and JoinGroup and SyncGroup for the group's other members:
    // that time is not work done for the client, so not its share of the broker.
    if !matches!(
        api,
        ApiKey::Fetch | ApiKey::ShareFetch | ApiKey::JoinGroup | ApiKey::SyncGroup
    ) {
        let spent_ms = took.as_secs_f64() * 1000.0;
        let held = state
            .quotas
            .record(client, QuotaKey::RequestPercentage, spent_ms);
        throttle_ms = throttle_ms.max(held);
    }
    state.metrics.request_handled(api, version, took);
    if throttle_ms > 0 {
        state.metrics.throttled(api, throttle_ms);
    }
    Handled {
        outcome,
        throttle_ms,
    }
}

/// Where a request comes from: its connection's session, the client its quotas count
/// against, and the principal's rights.
#[derive(Debug)]
struct Origin<'a> {
    session: &'a Session,
    client: Client<'a>,
    access: access::Access<'a>,
}

async fn dispatch(
    state: &Arc<BrokerState>,
    origin: &Origin<'_>,
    api: ApiKey,
    header: RequestHeader,
    mut body: Bytes,
    throttle_ms: &mut u64,
) -> Result<Option<Response>, RequestError> {
    let Origin {
        session,
        client,
        ref access,
    } = *origin;
    let peer = session.peer;
    let listener = &*session.listener;
    let version = header.request_api_version;
    if api == ApiKey::ApiVersions {
        return api_versions::handle(&header, body).map(|bytes| Some(bytes.into()));
    }
    match supported(api) {
        Some((min, max)) if (min..=max).contains(&version) => {}
        // Kafka closes the connection too: it cannot know how to encode an answer.
        _ => return Err(RequestError::UnsupportedVersion { api, version }),
    }
    // The decoder preallocates arrays from the counts on the wire; the shape check makes
    // sure every count is backed by bytes before the decoder sees them.
    let walked = shape::check(api, version, &body).map_err(|e| RequestError::Decode {
        api,
        version,
        message: e.to_string(),
    })?;
    let id = header.correlation_id;
    let body = &mut body;
    match api {
        ApiKey::Produce => {
            // As Kafka: a produce request counts its whole size against the byte rate.
            let size = body.len() as f64;
            let request = decode(api, body, version, walked)?;
            *throttle_ms = state
                .quotas
                .record(client, QuotaKey::ProducerByteRate, size);
            let response = produce::handle(state, access, request, version).await;
            match response {
                Some(response) => respond(
                    api,
                    version,
                    id,
                    &response.with_throttle_time_ms(throttle_time(*throttle_ms)),
                ),
                None => Ok(None),
            }
        }
        ApiKey::Fetch => {
            let (mut response, by_reference) =
                fetch::handle(state, access, decode(api, body, version, walked)?, version).await;
            *throttle_ms = state.quotas.record(
                client,
                QuotaKey::ConsumerByteRate,
                fetch::records_bytes(&response) as f64,
            );
            response.throttle_time_ms = throttle_time(*throttle_ms);
            Ok(Some(response::encode(
                api,
                version,
                id,
                &response,
                by_reference,
            )?))
        }
        ApiKey::ListOffsets => respond(
            api,
            version,
            id,
            &list_offsets::handle(state, access, decode(api, body, version, walked)?, version)
                .await,
        ),
        ApiKey::Metadata => respond(
            api,
            version,
            id,
            &metadata::handle(
                state,
                listener,
                access,
                decode(api, body, version, walked)?,
                version,
            )
            .await,
        ),
        ApiKey::CreateTopics => respond(
            api,
            version,
            id,
            &admin::create_topics(state, access, decode(api, body, version, walked)?, version)
                .await,
        ),
        ApiKey::DeleteTopics => respond(
            api,
            version,
            id,
            &admin::delete_topics(state, access, decode(api, body, version, walked)?, version)
                .await,
        ),
        ApiKey::CreatePartitions => respond(
            api,
            version,
            id,
            &admin::create_partitions(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::DeleteRecords => respond(
            api,
            version,
            id,
            &admin::delete_records(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::DescribeConfigs => respond(
            api,
            version,
            id,
            &configs::describe(state, access, decode(api, body, version, walked)?, version),
        ),
        ApiKey::AlterConfigs => respond(
            api,
            version,
            id,
            &configs::alter(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::IncrementalAlterConfigs => respond(
            api,
            version,
            id,
            &configs::incremental_alter(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::DescribeCluster => respond(
            api,
            version,
            id,
            &cluster::describe_cluster(
                state,
                listener,
                access,
                decode(api, body, version, walked)?,
            ),
        ),
        ApiKey::DescribeLogDirs => respond(
            api,
            version,
            id,
            &cluster::describe_log_dirs(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::OffsetForLeaderEpoch => respond(
            api,
            version,
            id,
            &cluster::offset_for_leader_epoch(
                state,
                access,
                decode(api, body, version, walked)?,
                version,
            ),
        ),
        ApiKey::FindCoordinator => respond(
            api,
            version,
            id,
            &group_apis::find_coordinator(
                state,
                listener,
                access,
                decode(api, body, version, walked)?,
                version,
            ),
        ),
        ApiKey::JoinGroup => respond(
            api,
            version,
            id,
            &group_apis::join_group(
                state,
                access,
                decode(api, body, version, walked)?,
                version,
                group_apis::Client {
                    id: header.client_id.as_deref().unwrap_or_default(),
                    host: peer,
                },
            )
            .await,
        ),
        ApiKey::SyncGroup => respond(
            api,
            version,
            id,
            &group_apis::sync_group(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::Heartbeat => respond(
            api,
            version,
            id,
            &group_apis::heartbeat(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::LeaveGroup => respond(
            api,
            version,
            id,
            &group_apis::leave_group(state, access, decode(api, body, version, walked)?, version),
        ),
        ApiKey::OffsetCommit => respond(
            api,
            version,
            id,
            &group_apis::offset_commit(state, access, decode(api, body, version, walked)?, version)
                .await,
        ),
        ApiKey::OffsetFetch => respond(
            api,
            version,
            id,
            &group_apis::offset_fetch(state, access, decode(api, body, version, walked)?, version),
        ),
        ApiKey::ListGroups => respond(
            api,
            version,
            id,
            &group_apis::list_groups(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::DescribeGroups => respond(
            api,
            version,
            id,
            &group_apis::describe_groups(
                state,
                access,
                decode(api, body, version, walked)?,
                version,
            ),
        ),
        ApiKey::DeleteGroups => respond(
            api,
            version,
            id,
            &group_apis::delete_groups(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::OffsetDelete => respond(
            api,
            version,
            id,
            &group_apis::offset_delete(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::InitProducerId => respond(
            api,
            version,
            id,
            &txn_apis::init_producer_id(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::AddPartitionsToTxn => respond(
            api,
            version,
            id,
            &txn_apis::add_partitions_to_txn(state, access, decode(api, body, version, walked)?)
                .await,
        ),
        ApiKey::AddOffsetsToTxn => respond(
            api,
            version,
            id,
            &txn_apis::add_offsets_to_txn(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::EndTxn => respond(
            api,
            version,
            id,
            &txn_apis::end_txn(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::TxnOffsetCommit => respond(
            api,
            version,
            id,
            &txn_apis::txn_offset_commit(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::DescribeTransactions => respond(
            api,
            version,
            id,
            &txn_apis::describe_transactions(state, access, decode(api, body, version, walked)?)
                .await,
        ),
        ApiKey::ListTransactions => respond(
            api,
            version,
            id,
            &txn_apis::list_transactions(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::DescribeProducers => respond(
            api,
            version,
            id,
            &txn_apis::describe_producers(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::ShareGroupHeartbeat => respond(
            api,
            version,
            id,
            &share_apis::heartbeat(
                state,
                access,
                decode(api, body, version, walked)?,
                header.client_id.as_deref().unwrap_or_default(),
                peer,
            )
            .await,
        ),
        ApiKey::ShareGroupDescribe => respond(
            api,
            version,
            id,
            &share_apis::describe(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::ShareFetch => respond(
            api,
            version,
            id,
            &share_apis::share_fetch(state, listener, access, decode(api, body, version, walked)?)
                .await,
        ),
        ApiKey::ShareAcknowledge => {
            // v2 is v1 plus one flag byte; kafka-protocol 0.18 codes v1 only.
            let (request, renew) = if version >= 2 {
                let (v1, renew) =
                    shape::acknowledge_v2_as_v1(body).ok_or_else(|| RequestError::Decode {
                        api,
                        version,
                        message: "no IsRenewAck".to_owned(),
                    })?;
                (decode(api, &mut Bytes::from(v1), 1, walked - 1)?, renew)
            } else {
                (decode(api, body, version, walked)?, false)
            };
            let response = share_apis::share_acknowledge(state, access, request, renew).await;
            let frame = codec::encode_response(api, 1, id, &response.body)?;
            let frame = share_apis::with_lock_timeout(frame, version, response.lock_ms);
            Ok(Some(frame.into()))
        }
        ApiKey::DescribeShareGroupOffsets => respond(
            api,
            version,
            id,
            &share_apis::describe_offsets(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::AlterShareGroupOffsets => respond(
            api,
            version,
            id,
            &share_apis::alter_offsets(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::DeleteShareGroupOffsets => respond(
            api,
            version,
            id,
            &share_apis::delete_offsets(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::ConsumerGroupHeartbeat => respond(
            api,
            version,
            id,
            &group_apis::consumer_group_heartbeat(
                state,
                access,
                decode(api, body, version, walked)?,
                version,
                group_apis::Client {
                    id: header.client_id.as_deref().unwrap_or_default(),
                    host: peer,
                },
            ),
        ),
        ApiKey::ConsumerGroupDescribe => respond(
            api,
            version,
            id,
            &group_apis::consumer_group_describe(
                state,
                access,
                decode(api, body, version, walked)?,
                version,
            ),
        ),
        ApiKey::AlterClientQuotas => respond(
            api,
            version,
            id,
            &quotas::alter(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::DescribeClientQuotas => respond(
            api,
            version,
            id,
            &quotas::describe(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::CreateAcls => respond(
            api,
            version,
            id,
            &acl_apis::create(state, access, decode(api, body, version, walked)?).await,
        ),
        ApiKey::DescribeAcls => respond(
            api,
            version,
            id,
            &acl_apis::describe(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::DeleteAcls => respond(
            api,
            version,
            id,
            &acl_apis::delete(state, access, decode(api, body, version, walked)?).await,
        ),
        // On a SASL listener `sasl::exchange` answers these and they never reach dispatch;
        // here the connection does not use SASL, and Kafka answers ILLEGAL_SASL_STATE.
        ApiKey::SaslHandshake => {
            let _: SaslHandshakeRequest = decode(api, body, version, walked)?;
            respond(
                api,
                version,
                id,
                &SaslHandshakeResponse::default()
                    .with_error_code(ResponseError::IllegalSaslState.code()),
            )
        }
        ApiKey::SaslAuthenticate => {
            let _: SaslAuthenticateRequest = decode(api, body, version, walked)?;
            respond(
                api,
                version,
                id,
                &SaslAuthenticateResponse::default()
                    .with_error_code(ResponseError::IllegalSaslState.code())
                    .with_error_message(Some(StrBytes::from_static_str(
                        "SaslAuthenticate on a connection that does not use SASL",
                    ))),
            )
        }
        ApiKey::DescribeUserScramCredentials => respond(
            api,
            version,
            id,
            &scram_credentials::describe(state, access, decode(api, body, version, walked)?),
        ),
        ApiKey::AlterUserScramCredentials => respond(
            api,
            version,
            id,
            &scram_credentials::alter(state, access, decode(api, body, version, walked)?).await,
        ),
        _ => Err(RequestError::UnsupportedVersion { api, version }),
    }
}

/// A throttle time as the responses' `throttle_time_ms` field holds it.
fn throttle_time(ms: u64) -> i32 {
    i32::try_from(ms).unwrap_or(i32::MAX)
}

/// Completes when any of the futures does (long polls waiting on several partitions).
pub(crate) async fn any_of<F: std::future::Future<Output = ()>>(
    futures: &mut [std::pin::Pin<Box<F>>],
) {
    std::future::poll_fn(|cx| {
        if futures.iter_mut().any(|f| f.as_mut().poll(cx).is_ready()) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

fn decode<T: Decodable>(
    api: ApiKey,
    body: &mut Bytes,
    version: i16,
    walked: usize,
) -> Result<T, RequestError> {
    let before = body.len();
    let request = T::decode(body, version).map_err(|e| RequestError::Decode {
        api,
        version,
        message: e.to_string(),
    })?;
    // The shape walker must read exactly what the decoder reads, or its guarantee is void.
    debug_assert_eq!(
        before - body.len(),
        walked,
        "shape walker disagrees with the {api:?} v{version} decoder"
    );
    Ok(request)
}

fn respond<T: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
) -> Result<Option<Response>, RequestError> {
    Ok(Some(
        codec::encode_response(api, version, correlation_id, body)?.into(),
    ))
}
