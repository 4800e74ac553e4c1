//! Request shapes of the ACL APIs, mirroring kafka-protocol 0.18's decoders like
//! [`super::requests`]. Runnel answers versions 1 to 3, as Kafka 4 does: 1 is the last
//! version before flexible ones (librdkafka sends it), 2 and 3 are flexible.

use super::share_requests::tagged_fields;
use super::{ShapeError, Walker};

/// Whether `version` is a flexible one (compact arrays and strings, tagged fields).
fn flexible(version: i16) -> Result<bool, ShapeError> {
    match version {
        1 => Ok(false),
        2 | 3 => Ok(true),
        other => Err(ShapeError::Version(other)),
    }
}

fn string(w: &mut Walker<'_>, flexible: bool) -> Result<(), ShapeError> {
    match flexible {
        true => w.compact_string(),
        false => w.string(),
    }
}

fn array(
    w: &mut Walker<'_>,
    flexible: bool,
    element: impl FnMut(&mut Walker<'_>) -> Result<(), ShapeError>,
) -> Result<(), ShapeError> {
    match flexible {
        true => w.compact_array(element),
        false => w.array(element),
    }
}

fn tags(w: &mut Walker<'_>, flexible: bool) -> Result<(), ShapeError> {
    match flexible {
        true => tagged_fields(w),
        false => Ok(()),
    }
}

/// Resource type, name, pattern type, principal, host, operation, permission: the fields of
/// a creation and of a filter (whose strings may be null, which the walker reads alike).
fn binding(w: &mut Walker<'_>, flexible: bool) -> Result<(), ShapeError> {
    w.skip(1)?;
    string(w, flexible)?;
    w.skip(1)?;
    string(w, flexible)?;
    string(w, flexible)?;
    w.skip(2)
}

pub(super) fn create_acls(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    let flexible = flexible(version)?;
    array(w, flexible, |w| {
        binding(w, flexible)?;
        tags(w, flexible)
    })?;
    tags(w, flexible)
}

pub(super) fn describe_acls(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    let flexible = flexible(version)?;
    binding(w, flexible)?;
    tags(w, flexible)
}

pub(super) fn delete_acls(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    let flexible = flexible(version)?;
    array(w, flexible, |w| {
        binding(w, flexible)?;
        tags(w, flexible)
    })?;
    tags(w, flexible)
}
