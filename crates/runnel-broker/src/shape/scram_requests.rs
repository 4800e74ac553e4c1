//! Request shapes of the SASL APIs and the SCRAM credential APIs (KIP-554), mirroring
//! kafka-protocol 0.18's decoders like [`super::requests`].

use super::share_requests::tagged_fields;
use super::{ShapeError, Walker};

fn version_0(version: i16) -> Result<(), ShapeError> {
    match version {
        0 => Ok(()),
        other => Err(ShapeError::Version(other)),
    }
}

/// SaslHandshake v0 and v1: the mechanism name.
pub(super) fn sasl_handshake(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    match version {
        0 | 1 => w.string(),
        other => Err(ShapeError::Version(other)),
    }
}

/// SaslAuthenticate: the client's bytes; version 2 is flexible.
pub(super) fn sasl_authenticate(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
    match version {
        0 | 1 => w.bytes(),
        2 => {
            w.compact_bytes()?;
            tagged_fields(w)
        }
        other => Err(ShapeError::Version(other)),
    }
}

/// The SCRAM credential APIs have version 0 only, and it is flexible.
pub(super) fn describe_user_scram_credentials(
    w: &mut Walker<'_>,
    version: i16,
) -> Result<(), ShapeError> {
    version_0(version)?;
    w.compact_array(|w| {
        w.compact_string()?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}

pub(super) fn alter_user_scram_credentials(
    w: &mut Walker<'_>,
    version: i16,
) -> Result<(), ShapeError> {
    version_0(version)?;
    // Deletions: name, mechanism (i8).
    w.compact_array(|w| {
        w.compact_string()?;
        w.skip(1)?;
        tagged_fields(w)
    })?;
    // Upsertions: name, mechanism (i8), iterations (i32), salt, salted password.
    w.compact_array(|w| {
        w.compact_string()?;
        w.skip(1 + 4)?;
        w.compact_bytes()?;
        w.compact_bytes()?;
        tagged_fields(w)
    })?;
    tagged_fields(w)
}
