//! ShareAcknowledge v2 as the v1 body kafka-protocol 0.18 decodes.

use super::Walker;

/// A ShareAcknowledge v2 body as the v1 body it extends, and its IsRenewAck flag: v2 only
/// adds that one byte after ShareSessionEpoch, and kafka-protocol 0.18 decodes v1 only.
/// `None` when the body is too short to hold it (the shape walk refuses such a body first).
pub fn acknowledge_v2_as_v1(body: &[u8]) -> Option<(Vec<u8>, bool)> {
    let mut w = Walker::new(body);
    w.compact_string().ok()?;
    w.compact_string().ok()?;
    w.skip(4).ok()?;
    let at = w.consumed();
    let flag = *body.get(at)?;
    let mut v1 = Vec::with_capacity(body.len() - 1);
    v1.extend_from_slice(&body[..at]);
    v1.extend_from_slice(&body[at + 1..]);
    Some((v1, flag != 0))
}
