//! Request shapes of the share-group APIs (KIP-932), mirroring kafka-protocol 0.18's
//! decoders like [`super::requests`]. All of them are flexible versions only.

use super::{ShapeError, Walker};

pub(super) fn tagged_fields(w: &mut Walker<'_>) -> Result<(), ShapeError> {
    let count = w.uvarint()?;
    w.check_count(count as usize)?;
    for _ in 0..count {
        w.uvarint()?;
        let size = w.uvarint()?;
        w.skip(size as usize)?;
    }
    Ok(())
}

fn only(version: i16, supported: i16) -> Result<(), ShapeError> {
    if version == supported {
        Ok(())
    } else {
        Err(ShapeError::Version(version))
    }
}

fn acknowledgement_batch(w: &mut Walker<'_>) -> Result<(), ShapeError> {
    w.skip(16)?;
    w.compact_array(|w| w.skip(1))?;
    tagged_fields(w)
}

fn acknowledged_partition(w: &mut Walker<'_>) -> Result<(), ShapeError> {
    w.skip(4)?;
    w.compact_array(acknowledgement_batch)?;
    tagged_fields(w)
}

pub(super) fn share_group_heartbeat(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    only(version, 1)?;
    w.compact_string()?;
    w.compact_string()?;
    w.skip(4)?;
    w.compact_string()?;
    w.compact_array(|w| w.compact_string())?;
    tagged_fields(w)
}

pub(super) fn share_group_describe(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    only(version, 1)?;
    w.compact_array(|w| w.compact_string())?;
    w.skip(1)?;
    tagged_fields(w)
}

pub(super) fn share_fetch(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    only(version, 1)?;
    w.compact_string()?;
    w.compact_string()?;
    w.skip(4 * 6)?;
    w.compact_array(|w| {
        w.skip(16)?;
        w.compact_array(acknowledged_partition)?;
        tagged_fields(w)
    })?;
    w.compact_array(|w| {
        w.skip(16)?;
        w.compact_array(|w| w.skip(4))?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}

pub(super) fn share_acknowledge(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    if !(1..=2).contains(&version) {
        return Err(ShapeError::Version(version));
    }
    w.compact_string()?;
    w.compact_string()?;
    w.skip(4)?;
    if version >= 2 {
        // IsRenewAck.
        w.skip(1)?;
    }
    w.compact_array(|w| {
        w.skip(16)?;
        w.compact_array(acknowledged_partition)?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}

pub(super) fn describe_share_group_offsets(
    w: &mut Walker<'_>,
    version: i16,
) -> Result<(), ShapeError> {
    only(version, 0)?;
    w.compact_array(|w| {
        w.compact_string()?;
        w.compact_array(|w| {
            w.compact_string()?;
            w.compact_array(|w| w.skip(4))?;
            tagged_fields(w)
        })?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}

pub(super) fn alter_share_group_offsets(
    w: &mut Walker<'_>,
    version: i16,
) -> Result<(), ShapeError> {
    only(version, 0)?;
    w.compact_string()?;
    w.compact_array(|w| {
        w.compact_string()?;
        w.compact_array(|w| {
            w.skip(12)?;
            tagged_fields(w)
        })?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}

pub(super) fn delete_share_group_offsets(
    w: &mut Walker<'_>,
    version: i16,
) -> Result<(), ShapeError> {
    only(version, 0)?;
    w.compact_string()?;
    w.compact_array(|w| {
        w.compact_string()?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}

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
