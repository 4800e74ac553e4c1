//! The Kafka v2 record batch header: parsing, validation and the few in-place edits the log
//! makes (base offset, leader epoch, log-append time).
//!
//! Layout (all integers big-endian), as Kafka defines it:
//!
//! ```text
//! 0  baseOffset            i64
//! 8  batchLength           i32   bytes after this field
//! 12 partitionLeaderEpoch  i32
//! 16 magic                 i8    = 2
//! 17 crc                   u32   CRC-32C of bytes 21..end
//! 21 attributes            i16   bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control
//! 23 lastOffsetDelta       i32
//! 27 baseTimestamp         i64
//! 35 maxTimestamp          i64
//! 43 producerId            i64
//! 51 producerEpoch         i16
//! 53 baseSequence          i32
//! 57 recordCount           i32
//! 61 records...
//! ```
//!
//! Base offset and leader epoch lie outside the checksummed range, which is why the log can
//! assign them without touching the CRC.

use crate::error::BatchError;

pub const HEADER_LEN: usize = 61;
/// Bytes before the part counted by `batchLength`.
pub const LOG_OVERHEAD: usize = 12;
pub const MAGIC_V2: i8 = 2;

const BASE_OFFSET: usize = 0;
const LENGTH: usize = 8;
const LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORD_COUNT: usize = 57;

const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
pub(crate) const TRANSACTIONAL_BIT: i16 = 1 << 4;
pub(crate) const CONTROL_BIT: i16 = 1 << 5;
pub(crate) const COMPRESSION_MASK: i16 = 0x7;

/// The compression codec of a batch (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn from_attributes(attributes: i16) -> Result<Self, BatchError> {
        Ok(match attributes & COMPRESSION_MASK {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => return Err(BatchError::UnknownCompression(other)),
        })
    }

    pub(crate) fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }
}

/// A parsed batch header. Parsing checks the structure; [`validate`] also checks the CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub leader_epoch: i32,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl BatchHeader {
    /// Parses the first [`HEADER_LEN`] bytes of `buf`. Checks that the length field is large
    /// enough to hold a header and that the magic is 2; the payload need not be present.
    pub fn parse(buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        }
        let magic = buf[MAGIC] as i8;
        let header = BatchHeader {
            base_offset: read_i64(buf, BASE_OFFSET),
            batch_length: read_i32(buf, LENGTH),
            leader_epoch: read_i32(buf, LEADER_EPOCH),
            crc: read_i32(buf, CRC) as u32,
            attributes: read_i16(buf, ATTRIBUTES),
            last_offset_delta: read_i32(buf, LAST_OFFSET_DELTA),
            base_timestamp: read_i64(buf, BASE_TIMESTAMP),
            max_timestamp: read_i64(buf, MAX_TIMESTAMP),
            producer_id: read_i64(buf, PRODUCER_ID),
            producer_epoch: read_i16(buf, PRODUCER_EPOCH),
            base_sequence: read_i32(buf, BASE_SEQUENCE),
            record_count: read_i32(buf, RECORD_COUNT),
        };
        if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(BatchError::BadLength(header.batch_length));
        }
        if magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        if header.last_offset_delta < 0
            || header
                .base_offset
                .checked_add(i64::from(header.last_offset_delta))
                .is_none()
        {
            // Every other offset computed from this batch lies in between, so this one
            // check keeps all of that arithmetic from overflowing.
            return Err(BatchError::BadOffsetDelta(header.last_offset_delta));
        }
        Ok(header)
    }

    /// Bytes the whole batch occupies, header included.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    pub fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_attributes(self.attributes)
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
}

/// Parses the header of the batch at the start of `buf` and checks that the whole batch is
/// present and its CRC-32C matches. Returns the header; the batch is
/// `&buf[..header.total_len()]`.
pub fn validate(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(buf)?;
    let total = header.total_len();
    if buf.len() < total {
        return Err(BatchError::Truncated {
            needed: total,
            available: buf.len(),
        });
    }
    let actual = crc32c::crc32c(&buf[ATTRIBUTES..total]);
    if actual != header.crc {
        return Err(BatchError::CrcMismatch {
            expected: header.crc,
            actual,
        });
    }
    Ok(header)
}

/// Iterates over the batches of a buffer holding whole batches back to back, validating each.
/// Stops at the first invalid one, yielding its error once.
#[derive(Debug)]
pub struct Batches<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Batches<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Batches { buf, failed: false }
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<(BatchHeader, &'a [u8]), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() || self.failed {
            return None;
        }
        match validate(self.buf) {
            Ok(header) => {
                let (batch, rest) = self.buf.split_at(header.total_len());
                self.buf = rest;
                Some(Ok((header, batch)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

pub(crate) fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

pub(crate) fn set_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[LEADER_EPOCH..LEADER_EPOCH + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Marks the batch as carrying log-append time `now` (Kafka's `LogAppendTime`): sets the
/// timestamp-type bit and the max timestamp, then recomputes the CRC they are covered by.
pub(crate) fn set_log_append_time(batch: &mut [u8], now: i64) {
    let attributes = read_i16(batch, ATTRIBUTES) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&now.to_be_bytes());
    refresh_crc(batch);
}

/// Recomputes the CRC of a complete batch after its checksummed bytes changed.
pub(crate) fn refresh_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[ATTRIBUTES..]);
    batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Writes a complete header for a batch whose records (already compressed) follow it.
pub(crate) fn write_header(out: &mut [u8], header: &BatchHeader) {
    out[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&header.base_offset.to_be_bytes());
    out[LENGTH..LENGTH + 4].copy_from_slice(&header.batch_length.to_be_bytes());
    out[LEADER_EPOCH..LEADER_EPOCH + 4].copy_from_slice(&header.leader_epoch.to_be_bytes());
    out[MAGIC] = MAGIC_V2 as u8;
    out[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&header.attributes.to_be_bytes());
    out[LAST_OFFSET_DELTA..LAST_OFFSET_DELTA + 4]
        .copy_from_slice(&header.last_offset_delta.to_be_bytes());
    out[BASE_TIMESTAMP..BASE_TIMESTAMP + 8].copy_from_slice(&header.base_timestamp.to_be_bytes());
    out[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&header.max_timestamp.to_be_bytes());
    out[PRODUCER_ID..PRODUCER_ID + 8].copy_from_slice(&header.producer_id.to_be_bytes());
    out[PRODUCER_EPOCH..PRODUCER_EPOCH + 2].copy_from_slice(&header.producer_epoch.to_be_bytes());
    out[BASE_SEQUENCE..BASE_SEQUENCE + 4].copy_from_slice(&header.base_sequence.to_be_bytes());
    out[RECORD_COUNT..RECORD_COUNT + 4].copy_from_slice(&header.record_count.to_be_bytes());
}

fn read_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}

fn read_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn read_i64(buf: &[u8], at: usize) -> i64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs the fuzzer found; each must be refused with an error, never a panic.
    #[test]
    fn fuzz_regressions_are_refused_cleanly() {
        let base_offset_near_max: &[u8] =
            include_bytes!("../../../fuzz/regressions/batch_parse-1.bin");
        assert!(matches!(
            Batches::new(base_offset_near_max).next(),
            Some(Err(BatchError::BadOffsetDelta(_)))
        ));
    }
}
