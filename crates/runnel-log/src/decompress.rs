//! Bounded decompression of a batch's records.
//!
//! A batch is bounded by `max.message.bytes` as sent, but a few kilobytes of gzip or zstd can
//! inflate to gigabytes. Every codec here stops reading at a limit, so one batch cannot
//! exhaust memory however it was crafted.

use std::io::Read;

use crate::batch::Compression;
use crate::error::BatchError;

/// The most a batch's records may decompress to.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

/// Kafka's Java client frames snappy the way the xerial library does: this magic, a version
/// and a compatible-version field (16 bytes in all), then blocks of `u32 BE length` + raw
/// snappy. Other clients send one raw snappy block; both are accepted, as Kafka does.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

/// Decompresses `compressed` (records of a batch with codec `codec`) into at most `limit`
/// bytes.
pub(crate) fn decompress(
    codec: Compression,
    compressed: &[u8],
    limit: usize,
) -> Result<Vec<u8>, BatchError> {
    match codec {
        Compression::None => bounded(compressed, limit),
        Compression::Gzip => bounded(flate2::read::GzDecoder::new(compressed), limit),
        Compression::Lz4 => bounded(lz4::Decoder::new(compressed).map_err(failed)?, limit),
        Compression::Zstd => bounded(
            zstd::stream::read::Decoder::with_buffer(compressed).map_err(failed)?,
            limit,
        ),
        Compression::Snappy => snappy(compressed, limit),
    }
}

fn failed(error: impl std::fmt::Display) -> BatchError {
    BatchError::Decompression(error.to_string())
}

fn bounded(reader: impl Read, limit: usize) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(failed)?;
    if out.len() > limit {
        return Err(BatchError::DecompressedTooLarge { limit });
    }
    Ok(out)
}

fn snappy(compressed: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    if compressed.len() < XERIAL_HEADER_LEN || &compressed[..XERIAL_MAGIC.len()] != XERIAL_MAGIC {
        snappy_block(compressed, &mut out, limit)?;
        return Ok(out);
    }
    let mut rest = &compressed[XERIAL_HEADER_LEN..];
    while !rest.is_empty() {
        let (length, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| failed("truncated snappy block length"))?;
        let length = u32::from_be_bytes(*length) as usize;
        if tail.len() < length {
            return Err(failed("snappy block runs past the batch"));
        }
        let (block, tail) = tail.split_at(length);
        snappy_block(block, &mut out, limit)?;
        rest = tail;
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`, checking its declared length against the limit
/// before allocating for it.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), BatchError> {
    let length = snap::raw::decompress_len(block).map_err(failed)?;
    if out.len() + length > limit {
        return Err(BatchError::DecompressedTooLarge { limit });
    }
    let start = out.len();
    out.resize(start + length, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(failed)?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{self, HEADER_LEN};
    use crate::records::BatchBuilder;

    /// The compressed records of a batch holding one 100 KB value of zeros.
    fn compressed_zeros(codec: Compression) -> Vec<u8> {
        let mut builder = BatchBuilder::new(codec);
        builder.push(0, Some(b"k"), Some(&[0u8; 100_000]), &[]);
        let bytes = builder.build().unwrap();
        let header = batch::validate(&bytes).unwrap();
        bytes[HEADER_LEN..header.total_len()].to_vec()
    }

    #[test]
    fn every_codec_stops_at_the_limit() {
        for codec in Compression::ALL {
            let compressed = compressed_zeros(codec);
            assert!(
                matches!(
                    decompress(codec, &compressed, 10_000),
                    Err(BatchError::DecompressedTooLarge { limit: 10_000 })
                ),
                "{codec:?}"
            );
            let whole = decompress(codec, &compressed, 1 << 20).unwrap();
            assert!(
                whole.len() > 100_000 && whole.len() < 100_100,
                "{codec:?}: {}",
                whole.len()
            );
        }
    }

    #[test]
    fn raw_snappy_without_the_xerial_frame_is_accepted() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"hello hello hello")
            .unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 100).unwrap(),
            b"hello hello hello"
        );
    }

    #[test]
    fn a_truncated_stream_never_yields_the_whole_payload() {
        // gzip, snappy and zstd report the truncation; lz4's frame decoder returns what it
        // has, and the record parser then refuses the short payload.
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut compressed = compressed_zeros(codec);
            compressed.truncate(compressed.len() / 2);
            let result = decompress(codec, &compressed, 1 << 20);
            assert!(!matches!(&result, Ok(d) if d.len() >= 100_000), "{codec:?}");
        }
    }
}
