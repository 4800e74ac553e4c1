//! The typed decoders the walkers of this module mirror, as one function.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestKind};

/// Decodes a request body with kafka-protocol's typed decoder and returns the bytes it
/// consumed, or `None` on a decode error: the reference the walkers are checked against (by
/// the tests and the request fuzz target). Only call it on a body [`check`] accepted, as the
/// broker does; on others the decoder may try to allocate without bound.
///
/// [`check`]: super::check
pub fn decoded_len(api: ApiKey, version: i16, body: &[u8]) -> Option<usize> {
    if api == ApiKey::ShareAcknowledge && version == 2 {
        // Decoded as the v1 body it extends by one byte, as the broker does.
        let (v1, _) = super::acknowledge_v2_as_v1(body)?;
        return decoded_len(api, 1, &v1).map(|n| n + 1);
    }
    let mut bytes = Bytes::copy_from_slice(body);
    RequestKind::decode(api, &mut bytes, version).ok()?;
    Some(body.len() - bytes.len())
}
