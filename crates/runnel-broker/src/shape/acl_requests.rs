//! Request shapes of the ACL APIs, mirroring kafka-protocol 0.18's decoders like
//! [`super::requests`]. Runnel answers versions 2 and 3 (Kafka 4's), both flexible.

use super::share_requests::tagged_fields;
use super::{ShapeError, Walker};

fn versions(version: i16) -> Result<(), ShapeError> {
    match version {
        2 | 3 => Ok(()),
        other => Err(ShapeError::Version(other)),
    }
}

/// Resource type, name, pattern type, principal, host, operation, permission: the fields of
/// a creation and of a filter (whose strings may be null, which the walker reads alike).
fn binding(w: &mut Walker<'_>) -> Result<(), ShapeError> {
    w.skip(1)?;
    w.compact_string()?;
    w.skip(1)?;
    w.compact_string()?;
    w.compact_string()?;
    w.skip(2)
}

pub(super) fn create_acls(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    versions(version)?;
    w.compact_array(|w| {
        binding(w)?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}

pub(super) fn describe_acls(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    versions(version)?;
    binding(w)?;
    tagged_fields(w)
}

pub(super) fn delete_acls(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    versions(version)?;
    w.compact_array(|w| {
        binding(w)?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}
