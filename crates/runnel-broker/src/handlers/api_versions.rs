//! ApiVersions: what this broker speaks.

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::Decodable;

use super::SUPPORTED;
use crate::codec;
use crate::error::RequestError;

/// The highest ApiVersions version answered normally.
pub const MAX_VERSION: i16 = 3;

pub(crate) fn handle(header: &RequestHeader, mut body: Bytes) -> Result<Bytes, RequestError> {
    let version = header.request_api_version;
    let id = header.correlation_id;
    if !(0..=MAX_VERSION).contains(&version) {
        // As Kafka does: a v0 response (which every client can read) saying which
        // ApiVersions versions exist, so the client can retry with one of them.
        let mut response = ApiVersionsResponse::default();
        response.error_code = ResponseError::UnsupportedVersion.code();
        response.api_keys = vec![ApiVersion::default()
            .with_api_key(ApiKey::ApiVersions as i16)
            .with_min_version(0)
            .with_max_version(MAX_VERSION)];
        return Ok(codec::encode_response(
            ApiKey::ApiVersions,
            0,
            id,
            &response,
        )?);
    }
    // ApiVersions has no arrays: decoding it cannot allocate beyond the bytes present.
    ApiVersionsRequest::decode(&mut body, version).map_err(|e| RequestError::Decode {
        api: ApiKey::ApiVersions,
        version,
        message: e.to_string(),
    })?;
    let mut response = ApiVersionsResponse::default();
    response.api_keys = SUPPORTED
        .iter()
        .map(|&(api, min, max)| {
            ApiVersion::default()
                .with_api_key(api as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    Ok(codec::encode_response(
        ApiKey::ApiVersions,
        version,
        id,
        &response,
    )?)
}
