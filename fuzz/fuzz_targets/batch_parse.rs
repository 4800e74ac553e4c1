//! Arbitrary bytes through the batch and record parsers: `Batches` must stop at the first
//! invalid batch with an error, and `batch_payload` / `parse_records` must return errors, not
//! panic, on anything a valid-looking batch may contain.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_log::{batch_payload, parse_records, Batches, Compression, HEADER_LEN};

/// Compressed payloads larger than this are not decompressed. A few hundred bytes of zstd
/// or gzip can expand to many megabytes, and the decompressors do not bound their output,
/// so without a cap the fuzzer spends its time inflating bombs instead of exploring the
/// parsers. Uncompressed payloads are always parsed, whatever their size.
const MAX_COMPRESSED_PAYLOAD: usize = 512;

fuzz_target!(|data: &[u8]| {
    for item in Batches::new(data) {
        let Ok((header, batch)) = item else {
            // `Batches` yields an error once and then ends.
            continue;
        };
        assert_eq!(batch.len(), header.total_len());

        let compressed_len = batch.len() - HEADER_LEN;
        let decompress = match header.compression() {
            Ok(Compression::None) => true,
            Ok(_) => compressed_len <= MAX_COMPRESSED_PAYLOAD,
            Err(_) => true, // `batch_payload` must refuse the unknown codec itself
        };
        if decompress {
            if let Ok(payload) = batch_payload(&header, batch) {
                if let Ok(records) = parse_records(&header, &payload) {
                    assert_eq!(records.len() as i64, i64::from(header.record_count));
                }
            }
        }

        // The header accessors a caller uses on any batch that passed validation.
        let _ = header.last_offset();
        let _ = header.is_control() | header.is_transactional() | header.is_log_append_time();
    }
});
