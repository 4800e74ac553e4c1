//! The records inside a v2 batch: decompression, zero-copy parsing, and building batches.
//!
//! The log stores batches as producers sent them; it looks inside only when it must: to find
//! the first record at or after a timestamp, to check records on append (keys of a compacted
//! log, timestamp limits), to recompress a batch to the log's `compression.type`, and to
//! rewrite a batch the cleaner keeps only part of. Kept records are copied byte for byte, so
//! their headers (duplicate keys included) survive compaction unchanged.

use std::borrow::Cow;

use bytes::BytesMut;
use kafka_protocol::compression::{self as codec, Compressor};

use crate::batch::{self, BatchHeader, Compression, HEADER_LEN, LOG_OVERHEAD};
use crate::decompress::{decompress, MAX_DECOMPRESSED_BYTES};
use crate::error::BatchError;

/// One record, borrowing from the (decompressed) payload of its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<Header<'a>>,
    /// The record's encoding, length prefix included.
    raw: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// The records payload of a batch, decompressed (to at most
/// [`crate::MAX_DECOMPRESSED_BYTES`]). `batch` must have passed [`batch::validate`].
pub fn payload<'a>(header: &BatchHeader, batch: &'a [u8]) -> Result<Cow<'a, [u8]>, BatchError> {
    let compressed = &batch[HEADER_LEN..header.total_len()];
    match header.compression()? {
        Compression::None => Ok(Cow::Borrowed(compressed)),
        codec => decompress(codec, compressed, MAX_DECOMPRESSED_BYTES).map(Cow::Owned),
    }
}

/// Parses every record of a decompressed payload. The count must match the header and no
/// bytes may be left over.
pub fn parse<'a>(header: &BatchHeader, payload: &'a [u8]) -> Result<Vec<Record<'a>>, BatchError> {
    // Each record takes at least 7 bytes, so a lying count cannot make us reserve much.
    let mut records =
        Vec::with_capacity((header.record_count.max(0) as usize).min(payload.len() / 7));
    let mut cursor = Cursor { buf: payload };
    while !cursor.buf.is_empty() {
        records.push(parse_one(header, &mut cursor)?);
    }
    let found = i32::try_from(records.len()).unwrap_or(i32::MAX);
    if found != header.record_count {
        return Err(BatchError::RecordCountMismatch {
            declared: header.record_count,
            found,
        });
    }
    Ok(records)
}

fn parse_one<'a>(header: &BatchHeader, cursor: &mut Cursor<'a>) -> Result<Record<'a>, BatchError> {
    let start = cursor.buf;
    let length = cursor.varint()?;
    let length =
        usize::try_from(length).map_err(|_| BatchError::MalformedRecord("negative length"))?;
    let prefix = start.len() - cursor.buf.len();
    let body = cursor.take(length)?;
    let raw = &start[..prefix + length];

    let mut r = Cursor { buf: body };
    let _attributes = r.take(1)?;
    let timestamp_delta = r.varlong()?;
    let offset_delta = r.varint()?;
    let key = r.nullable_bytes()?;
    let value = r.nullable_bytes()?;
    let header_count = r.varint()?;
    let header_count = usize::try_from(header_count)
        .map_err(|_| BatchError::MalformedRecord("negative header count"))?;
    let mut headers = Vec::with_capacity(header_count.min(r.buf.len() / 2));
    for _ in 0..header_count {
        let key = r
            .nullable_bytes()?
            .ok_or(BatchError::MalformedRecord("null header key"))?;
        let value = r.nullable_bytes()?;
        headers.push(Header { key, value });
    }
    if !r.buf.is_empty() {
        return Err(BatchError::MalformedRecord("trailing bytes in record"));
    }
    if offset_delta < 0 || offset_delta > header.last_offset_delta {
        return Err(BatchError::MalformedRecord(
            "offset delta outside the batch",
        ));
    }
    let timestamp = if header.is_log_append_time() {
        header.max_timestamp
    } else {
        header.base_timestamp.wrapping_add(timestamp_delta)
    };
    Ok(Record {
        offset: header.base_offset + i64::from(offset_delta),
        timestamp,
        key,
        value,
        headers,
        raw,
    })
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BatchError> {
        if self.buf.len() < n {
            return Err(BatchError::MalformedRecord("record runs past the batch"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn unsigned_varint(&mut self, max_bytes: usize) -> Result<u64, BatchError> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let byte = *self
                .buf
                .first()
                .ok_or(BatchError::MalformedRecord("truncated varint"))?;
            self.buf = &self.buf[1..];
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(BatchError::MalformedRecord("varint too long"))
    }

    fn varint(&mut self) -> Result<i32, BatchError> {
        let raw = self.unsigned_varint(5)?;
        let raw =
            u32::try_from(raw).map_err(|_| BatchError::MalformedRecord("varint overflows"))?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    fn varlong(&mut self) -> Result<i64, BatchError> {
        let raw = self.unsigned_varint(10)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    fn nullable_bytes(&mut self) -> Result<Option<&'a [u8]>, BatchError> {
        match self.varint()? {
            -1 => Ok(None),
            n if n < 0 => Err(BatchError::MalformedRecord("negative length")),
            n => self.take(n as usize).map(Some),
        }
    }
}

fn put_varint(out: &mut Vec<u8>, value: i32) {
    put_varlong(out, i64::from(value));
}

fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, i32::try_from(b.len()).unwrap_or(i32::MAX));
            out.extend_from_slice(b);
        }
    }
}

/// Builds a v2 batch the way a producer does: base offset 0, consecutive offset deltas.
#[derive(Debug)]
pub struct BatchBuilder {
    compression: Compression,
    /// Transactional and control bits.
    flags: i16,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    count: i32,
    payload: Vec<u8>,
    scratch: Vec<u8>,
}

impl BatchBuilder {
    pub fn new(compression: Compression) -> Self {
        BatchBuilder {
            compression,
            flags: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            base_timestamp: None,
            max_timestamp: -1,
            count: 0,
            payload: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Writes the batch as an idempotent producer's.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of its producer's open transaction.
    pub fn transactional(mut self) -> Self {
        self.flags |= batch::TRANSACTIONAL_BIT;
        self
    }

    /// Marks the batch as a control batch (transaction markers only).
    pub(crate) fn control(mut self) -> Self {
        self.flags |= batch::CONTROL_BIT;
        self
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&[u8], Option<&[u8]>)],
    ) -> &mut Self {
        let base = *self.base_timestamp.get_or_insert(timestamp);
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let body = &mut self.scratch;
        body.clear();
        body.push(0); // record attributes: unused in v2
        put_varlong(body, timestamp - base);
        put_varint(body, self.count);
        put_nullable(body, key);
        put_nullable(body, value);
        put_varint(body, i32::try_from(headers.len()).unwrap_or(i32::MAX));
        for (k, v) in headers {
            put_nullable(body, Some(k));
            put_nullable(body, *v);
        }
        put_varint(
            &mut self.payload,
            i32::try_from(body.len()).unwrap_or(i32::MAX),
        );
        self.payload.extend_from_slice(body);
        self.count += 1;
        self
    }

    /// The encoded batch. Panics if no record was pushed: an empty batch is a caller's bug.
    pub fn build(&self) -> Result<Vec<u8>, BatchError> {
        assert!(self.count > 0, "a batch needs at least one record");
        let header = BatchHeader {
            base_offset: 0,
            batch_length: 0,
            leader_epoch: -1,
            crc: 0,
            attributes: self.compression.attribute_bits() | self.flags,
            last_offset_delta: self.count - 1,
            base_timestamp: self.base_timestamp.unwrap_or(-1),
            max_timestamp: self.max_timestamp,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            record_count: self.count,
        };
        assemble(header, &self.payload)
    }
}

/// Keeps only the records `keep` says yes to, returning the rewritten batch, or `None` when
/// nothing is kept. The batch keeps its base offset, last offset delta, producer fields and
/// codec (so producer state can still be read from it); kept records are copied unchanged.
pub fn retain<'a>(
    header: &BatchHeader,
    records: &[Record<'a>],
    mut keep: impl FnMut(&Record<'a>) -> bool,
) -> Result<Option<Vec<u8>>, BatchError> {
    let mut payload = Vec::new();
    let mut count = 0;
    let mut max_timestamp = i64::MIN;
    for record in records.iter().filter(|r| keep(r)) {
        payload.extend_from_slice(record.raw);
        max_timestamp = max_timestamp.max(record.timestamp);
        count += 1;
    }
    if count == 0 {
        return Ok(None);
    }
    let rewritten = BatchHeader {
        record_count: count,
        max_timestamp: if header.is_log_append_time() {
            header.max_timestamp
        } else {
            max_timestamp
        },
        ..*header
    };
    assemble(rewritten, &payload).map(Some)
}

/// The batch rewritten with `codec`: the same header (offsets, producer fields, timestamps,
/// flags) and the same records, compressed anew.
pub(crate) fn recompress(
    header: &BatchHeader,
    payload: &[u8],
    codec: Compression,
) -> Result<Vec<u8>, BatchError> {
    let attributes = (header.attributes & !batch::COMPRESSION_MASK) | codec.attribute_bits();
    assemble(
        BatchHeader {
            attributes,
            ..*header
        },
        payload,
    )
}

/// Compresses `payload` with the header's codec and prefixes the header, filling in the
/// length and CRC.
fn assemble(header: BatchHeader, payload: &[u8]) -> Result<Vec<u8>, BatchError> {
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    out.resize(HEADER_LEN, 0);
    match header.compression()? {
        Compression::None => out.extend_from_slice(payload),
        Compression::Gzip => compress::<codec::Gzip>(&mut out, payload)?,
        Compression::Snappy => compress::<codec::Snappy>(&mut out, payload)?,
        Compression::Lz4 => compress::<codec::Lz4>(&mut out, payload)?,
        Compression::Zstd => compress::<codec::Zstd>(&mut out, payload)?,
    }
    let batch_length = i32::try_from(out.len() - LOG_OVERHEAD)
        .map_err(|_| BatchError::Compression("batch over 2 GiB".to_owned()))?;
    let mut out = out.to_vec();
    batch::write_header(
        &mut out,
        &BatchHeader {
            batch_length,
            ..header
        },
    );
    batch::refresh_crc(&mut out);
    Ok(out)
}

fn compress<C: Compressor<BytesMut, BufMut = BytesMut>>(
    out: &mut BytesMut,
    payload: &[u8],
) -> Result<(), BatchError> {
    C::compress(out, |buf| {
        buf.extend_from_slice(payload);
        Ok(())
    })
    .map_err(|e| BatchError::Compression(format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(compression: Compression) -> Vec<u8> {
        let mut builder = BatchBuilder::new(compression);
        builder
            .push(
                1_000,
                Some(b"k1"),
                Some(b"v1"),
                &[(b"h", Some(b"x")), (b"h", None)],
            )
            .push(999, None, None, &[])
            .push(1_005, Some(b"k3"), Some(&[7u8; 300]), &[]);
        builder.build().unwrap()
    }

    #[test]
    fn built_batches_parse_back_with_every_codec() {
        for compression in Compression::ALL {
            let bytes = sample(compression);
            let header = batch::validate(&bytes).unwrap();
            assert_eq!(header.compression().unwrap(), compression);
            assert_eq!((header.record_count, header.last_offset_delta), (3, 2));
            assert_eq!(header.max_timestamp, 1_005);
            let payload = payload(&header, &bytes).unwrap();
            let records = parse(&header, &payload).unwrap();
            let summary: Vec<_> = records
                .iter()
                .map(|r| (r.offset, r.timestamp, r.key, r.value.map(<[u8]>::len)))
                .collect();
            assert_eq!(
                summary,
                vec![
                    (0, 1_000, Some(&b"k1"[..]), Some(2)),
                    (1, 999, None, None),
                    (2, 1_005, Some(&b"k3"[..]), Some(300)),
                ]
            );
            assert_eq!(
                records[0].headers,
                vec![
                    Header {
                        key: b"h",
                        value: Some(b"x")
                    },
                    Header {
                        key: b"h",
                        value: None
                    }
                ]
            );
        }
    }

    #[test]
    fn retain_keeps_offsets_and_duplicate_headers() {
        for compression in [Compression::None, Compression::Zstd] {
            let bytes = sample(compression);
            let header = batch::validate(&bytes).unwrap();
            let payload = payload(&header, &bytes).unwrap();
            let records = parse(&header, &payload).unwrap();
            let kept = retain(&header, &records, |r| r.offset != 1)
                .unwrap()
                .unwrap();
            let kept_header = batch::validate(&kept).unwrap();
            assert_eq!(kept_header.last_offset(), header.last_offset());
            assert_eq!(kept_header.record_count, 2);
            let kept_payload = super::payload(&kept_header, &kept).unwrap();
            let kept_records = parse(&kept_header, &kept_payload).unwrap();
            assert_eq!(kept_records[0], records[0]);
            assert_eq!(kept_records[1].offset, 2);
            assert!(retain(&header, &records, |_| false).unwrap().is_none());
        }
    }

    #[test]
    fn a_lying_record_count_is_an_error_not_an_allocation() {
        let mut bytes = sample(Compression::None);
        bytes[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        batch::refresh_crc(&mut bytes);
        let header = batch::validate(&bytes).unwrap();
        let payload = payload(&header, &bytes).unwrap();
        assert!(matches!(
            parse(&header, &payload),
            Err(BatchError::RecordCountMismatch { found: 3, .. })
        ));
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for value in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            assert_eq!(Cursor { buf: &out }.varlong().unwrap(), value);
        }
    }
}
