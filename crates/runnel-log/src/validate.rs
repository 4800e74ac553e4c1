//! What an append checks inside the records, and the codec it stores them with: keyless
//! records in a compacted log and timestamps outside `message.timestamp.before.max.ms` /
//! `message.timestamp.after.max.ms` are refused record by record (each named by its index,
//! as Kafka's per-record produce errors do), and `compression.type` other than `producer`
//! recompresses batches sent with another codec.

use crate::batch::BatchHeader;
use crate::config::{CompressionType, LogConfig, TimestampType};
use crate::error::{BatchError, LogError, RecordError, RecordFault};
use crate::records;

/// Refuses the append if any record breaks a per-record rule; `headers` are the batches'
/// starts and headers in `batches`, `now` the broker's clock.
pub(crate) fn check_records(
    batches: &[u8],
    headers: &[(usize, BatchHeader)],
    config: &LogConfig,
    now: i64,
) -> Result<(), LogError> {
    let needs_key = config.cleanup_policy.compacts();
    let window = timestamp_window(config, now);
    if !needs_key && window.is_none() {
        return Ok(());
    }
    let mut missing_key = Vec::new();
    let mut out_of_range = Vec::new();
    let mut index: i32 = 0;
    for (start, header) in headers {
        let bytes = &batches[*start..*start + header.total_len()];
        let payload = records::payload(header, bytes)?;
        let create_time = !header.is_log_append_time();
        for record in records::parse(header, &payload)? {
            if needs_key && record.key.is_none() {
                missing_key.push(RecordError {
                    index,
                    message: "Compacted topic cannot accept a record without a key".to_owned(),
                });
            }
            if let Some((earliest, latest)) = window.filter(|_| create_time) {
                if !(earliest..=latest).contains(&record.timestamp) {
                    out_of_range.push(RecordError {
                        index,
                        message: format!(
                            "Timestamp {} of record {index} is out of range: it must be within \
                             [{earliest}, {latest}]",
                            record.timestamp
                        ),
                    });
                }
            }
            index = index.saturating_add(1);
        }
    }
    // Kafka answers INVALID_TIMESTAMP when any record's timestamp is refused.
    let (fault, records) = if !out_of_range.is_empty() {
        (RecordFault::TimestampOutOfRange, out_of_range)
    } else if !missing_key.is_empty() {
        (RecordFault::MissingKey, missing_key)
    } else {
        return Ok(());
    };
    Err(BatchError::RecordsRefused { fault, records }.into())
}

/// The CreateTime timestamps a record may carry now, if any limit is set.
fn timestamp_window(config: &LogConfig, now: i64) -> Option<(i64, i64)> {
    let before = config.message_timestamp_before_max_ms;
    let after = config.message_timestamp_after_max_ms;
    if config.message_timestamp_type == TimestampType::LogAppendTime
        || (before == i64::MAX && after == i64::MAX)
    {
        return None;
    }
    Some((now.saturating_sub(before), now.saturating_add(after)))
}

/// The batches rewritten with the log's codec, or `None` when every batch already has it
/// (or the log keeps what producers send).
pub(crate) fn recompress(
    batches: &[u8],
    headers: &[(usize, BatchHeader)],
    compression: CompressionType,
) -> Result<Option<Vec<u8>>, LogError> {
    let CompressionType::Codec(codec) = compression else {
        return Ok(None);
    };
    let differs = |h: &BatchHeader| h.compression().map(|c| c != codec);
    let mut any = false;
    for (_, header) in headers {
        any |= differs(header)?;
    }
    if !any {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(batches.len());
    for (start, header) in headers {
        let bytes = &batches[*start..*start + header.total_len()];
        if differs(header)? {
            let payload = records::payload(header, bytes)?;
            out.extend_from_slice(&records::recompress(header, &payload, codec)?);
        } else {
            out.extend_from_slice(bytes);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::batch::{Batches, Compression};
    use crate::records::BatchBuilder;

    fn headers_of(batches: &[u8]) -> Vec<(usize, BatchHeader)> {
        let mut start = 0;
        Batches::new(batches)
            .map(|item| {
                let (header, _) = item.unwrap();
                let at = start;
                start += header.total_len();
                (at, header)
            })
            .collect()
    }

    fn batch(codec: Compression, records: &[(Option<&[u8]>, i64)]) -> Vec<u8> {
        let mut builder = BatchBuilder::new(codec);
        for (key, timestamp) in records {
            builder.push(*timestamp, *key, Some(b"v"), &[]);
        }
        builder.build().unwrap()
    }

    /// The codec a batch is stored with under `compression`.
    fn stored_codec(header: &BatchHeader, compression: CompressionType) -> Compression {
        match compression {
            CompressionType::Producer => header.compression().unwrap(),
            CompressionType::Codec(codec) => codec,
        }
    }

    fn refused(result: Result<(), LogError>) -> (RecordFault, Vec<i32>) {
        match result {
            Err(LogError::InvalidBatch(BatchError::RecordsRefused { fault, records })) => {
                (fault, records.iter().map(|r| r.index).collect())
            }
            other => panic!("expected refused records, got {other:?}"),
        }
    }

    #[test]
    fn keyless_records_of_a_compacted_log_are_named_by_index() {
        let config = LogConfig {
            cleanup_policy: crate::CleanupPolicy::Compact,
            ..LogConfig::default()
        };
        let mut batches = batch(Compression::Lz4, &[(Some(b"k"), 1), (None, 1), (None, 1)]);
        batches.extend(batch(Compression::None, &[(None, 1), (Some(b"k"), 1)]));
        let headers = headers_of(&batches);
        assert_eq!(
            refused(check_records(&batches, &headers, &config, 0)),
            (RecordFault::MissingKey, vec![1, 2, 3])
        );
        let keyed = batch(Compression::None, &[(Some(b"k"), 1)]);
        assert!(check_records(&keyed, &headers_of(&keyed), &config, 0).is_ok());
    }

    #[test]
    fn create_time_timestamps_outside_the_window_are_refused() {
        let now = 1_000_000;
        let mut config = LogConfig::default();
        config
            .set("message.timestamp.before.max.ms", "1000")
            .unwrap();
        config.set("message.timestamp.after.max.ms", "10").unwrap();
        let batches = batch(
            Compression::Gzip,
            &[
                (Some(b"k"), now - 1000),
                (Some(b"k"), now - 1001),
                (Some(b"k"), now + 10),
                (Some(b"k"), now + 11),
            ],
        );
        let headers = headers_of(&batches);
        let result = check_records(&batches, &headers, &config, now);
        let Err(LogError::InvalidBatch(BatchError::RecordsRefused { records, .. })) = &result
        else {
            panic!("{result:?}");
        };
        assert!(
            records[0].message.contains("999000"),
            "{}",
            records[0].message
        );
        assert_eq!(
            refused(result),
            (RecordFault::TimestampOutOfRange, vec![1, 3])
        );
        // The broker stamps LogAppendTime topics itself: nothing to check.
        config
            .set("message.timestamp.type", "LogAppendTime")
            .unwrap();
        assert!(check_records(&batches, &headers, &config, now).is_ok());
        // No limits, no check.
        assert!(check_records(&batches, &headers, &LogConfig::default(), now).is_ok());
    }

    #[test]
    fn batches_are_recompressed_to_the_logs_codec_keeping_their_records() {
        let mut batches = batch(Compression::Gzip, &[(Some(b"a"), 5), (None, 7)]);
        batches.extend(batch(Compression::Zstd, &[(Some(b"b"), 9)]));
        let headers = headers_of(&batches);
        assert!(recompress(&batches, &headers, CompressionType::Producer)
            .unwrap()
            .is_none());
        for codec in Compression::ALL {
            let target = CompressionType::Codec(codec);
            let rewritten = recompress(&batches, &headers, target).unwrap();
            let rewritten = rewritten.unwrap_or_else(|| batches.clone());
            let new_headers = headers_of(&rewritten);
            assert_eq!(new_headers.len(), 2);
            for ((_, old), (start, new)) in headers.iter().zip(&new_headers) {
                assert_eq!(new.compression().unwrap(), stored_codec(old, target));
                assert_eq!(
                    (new.record_count, new.max_timestamp, new.base_timestamp),
                    (old.record_count, old.max_timestamp, old.base_timestamp)
                );
                let bytes = &rewritten[*start..*start + new.total_len()];
                crate::batch::validate(bytes).unwrap();
            }
            let keys: Vec<Option<Vec<u8>>> = new_headers
                .iter()
                .flat_map(|(start, h)| {
                    let bytes = &rewritten[*start..*start + h.total_len()];
                    let payload = records::payload(h, bytes).unwrap().into_owned();
                    records::parse(h, &payload)
                        .unwrap()
                        .iter()
                        .map(|r| r.key.map(<[u8]>::to_vec))
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(keys, vec![Some(b"a".to_vec()), None, Some(b"b".to_vec())]);
        }
    }
}
