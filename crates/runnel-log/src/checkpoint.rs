//! Small durable records (the log start offset, the cleaner's progress, a swap manifest),
//! each in a file of its own, replaced atomically.
//!
//! Format: an 8-byte magic naming the kind of record, the values as i64 BE, and the CRC-32C
//! of everything before it as u32 BE. A file that fails the check is treated as absent.

use std::fs;
use std::path::Path;

use crate::error::LogError;
use crate::fsutil;

/// Magic of a single-value checkpoint.
pub(crate) const VALUE_MAGIC: &[u8; 8] = b"RNLCKPT1";

/// Reads `N` values written with `magic`; `None` if the file is missing or damaged.
pub(crate) fn read_values<const N: usize>(
    path: &Path,
    magic: &[u8; 8],
) -> Result<Option<[i64; N]>, LogError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(path, e)),
    };
    let body_len = 8 + 8 * N;
    if bytes.len() != body_len + 4 || &bytes[..8] != magic {
        tracing::warn!(path = %path.display(), "ignoring malformed checkpoint");
        return Ok(None);
    }
    let crc = u32::from_be_bytes([
        bytes[body_len],
        bytes[body_len + 1],
        bytes[body_len + 2],
        bytes[body_len + 3],
    ]);
    if crc32c::crc32c(&bytes[..body_len]) != crc {
        tracing::warn!(path = %path.display(), "ignoring checkpoint with a bad checksum");
        return Ok(None);
    }
    let mut values = [0i64; N];
    for (i, value) in values.iter_mut().enumerate() {
        let mut be = [0u8; 8];
        be.copy_from_slice(&bytes[8 + 8 * i..16 + 8 * i]);
        *value = i64::from_be_bytes(be);
    }
    Ok(Some(values))
}

/// Writes the values to a temporary file, syncs it, renames it over `path` and syncs the
/// directory: after a crash the file holds the old record or the new one, never a mix.
pub(crate) fn write_values(path: &Path, magic: &[u8; 8], values: &[i64]) -> Result<(), LogError> {
    let mut bytes = Vec::with_capacity(12 + 8 * values.len());
    bytes.extend_from_slice(magic);
    for value in values {
        bytes.extend_from_slice(&value.to_be_bytes());
    }
    let crc = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    fsutil::write_atomically(path, &bytes)
}

pub(crate) fn read(path: &Path) -> Result<Option<i64>, LogError> {
    Ok(read_values::<1>(path, VALUE_MAGIC)?.map(|[v]| v))
}

pub(crate) fn write(path: &Path, value: i64) -> Result<(), LogError> {
    write_values(path, VALUE_MAGIC, &[value])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        assert_eq!(read(&path).unwrap(), None);
        write(&path, 42).unwrap();
        assert_eq!(read(&path).unwrap(), Some(42));
        let mut bytes = fs::read(&path).unwrap();
        bytes[10] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path).unwrap(), None);
        write_values(&path, b"OTHERMAG", &[1, 2]).unwrap();
        assert_eq!(
            read(&path).unwrap(),
            None,
            "another kind of record is not a value"
        );
        assert_eq!(read_values::<2>(&path, b"OTHERMAG").unwrap(), Some([1, 2]));
    }
}
