//! Conditional appends: what a producer expects of each key, read from its records.
//!
//! A record carrying the header [`EXPECTED_OFFSET_HEADER`] (ASCII decimal, for command-line
//! tools) or [`COMPACT_EXPECTED_OFFSET_HEADER`] (8 bytes, for programs) states the offset its
//! producer expects the latest record of the same key in this partition to have, or
//! [`EXPECT_NO_RECORD`] for "this key has no record". The log appends a batch only if every
//! such expectation holds (see [`crate::Log::append`]); records without either header are
//! appended unconditionally. The headers are read only on logs with
//! `runnel.conditional.append.enable=true`.

use crate::batch::BatchHeader;
use crate::error::BatchError;
use crate::records;

/// The record header holding an expectation: the expected offset in ASCII decimal.
pub const EXPECTED_OFFSET_HEADER: &str = "runnel.expected.offset";

/// The compact record header holding an expectation: the expected offset as a signed 64-bit
/// big-endian integer, exactly 8 bytes. It carries the same expectation as
/// [`EXPECTED_OFFSET_HEADER`] in 19 bytes of record instead of about 30, and is read without
/// parsing text.
pub const COMPACT_EXPECTED_OFFSET_HEADER: &str = "runnel.eo";

/// The expectation "the key has no record yet" (or its latest record is a tombstone, or
/// retention deleted it).
pub const EXPECT_NO_RECORD: i64 = -1;

/// A keyed record of a batch about to be appended, as the key index needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyedRecord {
    /// Which batch of the append it is in.
    pub batch: usize,
    /// Its offset delta inside that batch.
    pub delta: i64,
    /// Its position among all the records of the append (Kafka's `batch_index`).
    pub index: usize,
    pub key: Vec<u8>,
    pub tombstone: bool,
    pub expected: Option<i64>,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The record's position among the records of the refused append (Kafka's
    /// `batch_index` in a produce response's record errors).
    pub record_index: usize,
    pub key: Vec<u8>,
    pub expected: i64,
    /// The offset of the key's latest record, or [`EXPECT_NO_RECORD`].
    pub latest: i64,
    /// Set when the key has a record in another producer's open transaction: no
    /// expectation of that key holds until the transaction ends.
    pub open_transaction_of: Option<i64>,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = String::from_utf8_lossy(&self.key);
        match self.open_transaction_of {
            Some(producer_id) => write!(
                f,
                "key {key:?} has a record at offset {} in an open transaction of producer {producer_id}",
                self.latest
            ),
            None => write!(
                f,
                "key {key:?} expected latest offset {} but it is {}",
                self.expected, self.latest
            ),
        }
    }
}

/// The keyed records of `batches` (already validated, control batches excluded), with their
/// expectations. A malformed expectation, or one on a record without a key, refuses the
/// append.
pub(crate) fn keyed_records(
    batches: &[u8],
    headers: &[(usize, BatchHeader)],
) -> Result<Vec<KeyedRecord>, BatchError> {
    let mut keyed = Vec::new();
    let mut index = 0;
    for (batch, (start, header)) in headers.iter().enumerate() {
        let bytes = &batches[*start..*start + header.total_len()];
        let payload = records::payload(header, bytes)?;
        for record in records::parse(header, &payload)? {
            let expected = expectation(&record)?;
            match record.key {
                Some(key) => keyed.push(KeyedRecord {
                    batch,
                    delta: record.offset - header.base_offset,
                    index,
                    key: key.to_vec(),
                    tombstone: record.value.is_none(),
                    expected,
                }),
                None if expected.is_some() => {
                    return Err(BatchError::InvalidExpectation(
                        "a record without a key cannot carry an expected offset",
                    ))
                }
                None => {}
            }
            index += 1;
        }
    }
    Ok(keyed)
}

/// The record's expectation, from whichever of the two headers it carries; a record may carry
/// at most one.
fn expectation(record: &records::Record<'_>) -> Result<Option<i64>, BatchError> {
    let mut expected = None;
    for header in &record.headers {
        let offset = if header.key == COMPACT_EXPECTED_OFFSET_HEADER.as_bytes() {
            compact_offset(header.value)?
        } else if header.key == EXPECTED_OFFSET_HEADER.as_bytes() {
            decimal_offset(header.value)?
        } else {
            continue;
        };
        if expected.replace(offset).is_some() {
            return Err(BatchError::InvalidExpectation(
                "a record carries more than one expected offset header",
            ));
        }
    }
    Ok(expected)
}

fn decimal_offset(value: Option<&[u8]>) -> Result<i64, BatchError> {
    value
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&v| v >= EXPECT_NO_RECORD)
        .ok_or(BatchError::InvalidExpectation(
            "the expected offset header must be a decimal offset, or -1 for no record",
        ))
}

fn compact_offset(value: Option<&[u8]>) -> Result<i64, BatchError> {
    value
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map(i64::from_be_bytes)
        .filter(|&v| v >= EXPECT_NO_RECORD)
        .ok_or(BatchError::InvalidExpectation(
            "the runnel.eo header must be 8 bytes: a big-endian offset, or -1 for no record",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{Batches, Compression};
    use crate::records::BatchBuilder;

    /// Key, value and headers of a record to build.
    type Spec<'a> = (
        Option<&'a [u8]>,
        Option<&'a [u8]>,
        &'a [(&'a str, &'a [u8])],
    );

    fn keyed(records: &[Spec<'_>]) -> Result<Vec<KeyedRecord>, BatchError> {
        let mut builder = BatchBuilder::new(Compression::Lz4);
        for (key, value, headers) in records {
            let headers: Vec<(&[u8], Option<&[u8]>)> = headers
                .iter()
                .map(|(k, v)| (k.as_bytes(), Some(*v)))
                .collect();
            builder.push(0, *key, *value, &headers);
        }
        let batch = builder.build().expect("build");
        let headers: Vec<_> = Batches::new(&batch)
            .map(|item| (0, item.expect("valid").0))
            .collect();
        keyed_records(&batch, &headers)
    }

    #[test]
    fn expectations_are_read_from_the_header_and_tombstones_are_noticed() {
        let found = keyed(&[
            (Some(b"a"), Some(b"1"), &[(EXPECTED_OFFSET_HEADER, b"41")]),
            (None, Some(b"2"), &[]),
            (Some(b"b"), None, &[(EXPECTED_OFFSET_HEADER, b"-1")]),
            (Some(b"c"), Some(b"3"), &[("other", b"x")]),
            (
                Some(b"d"),
                Some(b"4"),
                &[(
                    COMPACT_EXPECTED_OFFSET_HEADER,
                    &7_000_000_000i64.to_be_bytes(),
                )],
            ),
            (
                Some(b"e"),
                Some(b"5"),
                &[(COMPACT_EXPECTED_OFFSET_HEADER, &(-1i64).to_be_bytes())],
            ),
        ])
        .expect("valid");
        let summary: Vec<_> = found
            .iter()
            .map(|r| (r.index, r.delta, r.key.clone(), r.tombstone, r.expected))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, 0, b"a".to_vec(), false, Some(41)),
                (2, 2, b"b".to_vec(), true, Some(-1)),
                (3, 3, b"c".to_vec(), false, None),
                (4, 4, b"d".to_vec(), false, Some(7_000_000_000)),
                (5, 5, b"e".to_vec(), false, Some(-1)),
            ]
        );
    }

    #[test]
    fn malformed_expectations_are_refused() {
        for value in [&b"x"[..], b"-2", b"", b"1.5"] {
            let err = keyed(&[(Some(b"a"), Some(b"1"), &[(EXPECTED_OFFSET_HEADER, value)])]);
            assert!(
                matches!(err, Err(BatchError::InvalidExpectation(_))),
                "{value:?}"
            );
        }
        let compact: [&[u8]; 4] = [b"", b"41", &[0; 9], &(-2i64).to_be_bytes()];
        for value in compact {
            let err = keyed(&[(
                Some(b"a"),
                Some(b"1"),
                &[(COMPACT_EXPECTED_OFFSET_HEADER, value)],
            )]);
            assert!(
                matches!(err, Err(BatchError::InvalidExpectation(_))),
                "{value:?}"
            );
        }
        let keyless = keyed(&[(None, Some(b"1"), &[(EXPECTED_OFFSET_HEADER, b"3")])]);
        assert!(matches!(keyless, Err(BatchError::InvalidExpectation(_))));
        let twice = keyed(&[(
            Some(b"a"),
            Some(b"1"),
            &[
                (EXPECTED_OFFSET_HEADER, b"3"),
                (EXPECTED_OFFSET_HEADER, b"3"),
            ],
        )]);
        assert!(matches!(twice, Err(BatchError::InvalidExpectation(_))));
        let both = keyed(&[(
            Some(b"a"),
            Some(b"1"),
            &[
                (EXPECTED_OFFSET_HEADER, b"3"),
                (COMPACT_EXPECTED_OFFSET_HEADER, &3i64.to_be_bytes()),
            ],
        )]);
        assert!(matches!(both, Err(BatchError::InvalidExpectation(_))));
    }
}
