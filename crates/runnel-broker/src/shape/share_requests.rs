//! Request shapes of the share-group APIs (KIP-932), mirroring kafka-protocol 0.18's
//! decoders like [`super::requests`]. All of them are flexible versions only.

use super::{ShapeError, Walker};

fn tagged_fields(w: &mut Walker<'_>) -> Result<(), ShapeError> {
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
    only(version, 1)?;
    w.compact_string()?;
    w.compact_string()?;
    w.skip(4)?;
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
