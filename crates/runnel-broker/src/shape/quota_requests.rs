//! Request shapes of the client quota APIs (KIP-546), mirroring kafka-protocol 0.18's
//! decoders like [`super::requests`]. Version 1 of each is flexible, version 0 is not.

use super::share_requests::tagged_fields;
use super::{ShapeError, Walker};

fn versions(version: i16) -> Result<bool, ShapeError> {
    match version {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(ShapeError::Version(other)),
    }
}

fn string(w: &mut Walker<'_>, flexible: bool) -> Result<(), ShapeError> {
    if flexible {
        w.compact_string()
    } else {
        w.string()
    }
}

fn array(
    w: &mut Walker<'_>,
    flexible: bool,
    element: impl FnMut(&mut Walker<'_>) -> Result<(), ShapeError>,
) -> Result<(), ShapeError> {
    if flexible {
        w.compact_array(element)
    } else {
        w.array(element)
    }
}

fn end(w: &mut Walker<'_>, flexible: bool) -> Result<(), ShapeError> {
    if flexible {
        tagged_fields(w)
    } else {
        Ok(())
    }
}

pub(super) fn alter_client_quotas(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    let flexible = versions(version)?;
    array(w, flexible, |w| {
        // Entity: (type, name) pairs.
        array(w, flexible, |w| {
            string(w, flexible)?;
            string(w, flexible)?;
            end(w, flexible)
        })?;
        // Ops: key, value (f64), remove (bool).
        array(w, flexible, |w| {
            string(w, flexible)?;
            w.skip(8 + 1)?;
            end(w, flexible)
        })?;
        end(w, flexible)
    })?;
    w.skip(1)?; // validate_only
    end(w, flexible)
}

pub(super) fn describe_client_quotas(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    let flexible = versions(version)?;
    // Components: entity type, match type (i8), match.
    array(w, flexible, |w| {
        string(w, flexible)?;
        w.skip(1)?;
        string(w, flexible)?;
        end(w, flexible)
    })?;
    w.skip(1)?; // strict
    end(w, flexible)
}
