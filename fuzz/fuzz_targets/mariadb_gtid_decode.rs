//! Arbitrary bytes as the body of a MariaDB GTID binlog event, as the CDC source receives it
//! from the server.
//!
//! Decoding may refuse the body; it must not panic, it refuses exactly the bodies shorter than
//! the fixed fields, and what it accepts reads back the bytes it came from.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_cdc::mariadb::gtid::decode_gtid;

fuzz_target!(|data: &[u8]| {
    match decode_gtid(7, data) {
        Ok(gtid) => {
            assert!(data.len() >= 13);
            assert_eq!(gtid.sequence.to_le_bytes(), data[..8]);
            assert_eq!(gtid.domain.to_le_bytes(), data[8..12]);
            assert_eq!(gtid.server, 7);
            assert_eq!(
                gtid.to_string(),
                format!("{}-7-{}", gtid.domain, gtid.sequence)
            );
        }
        Err(_) => assert!(data.len() < 13),
    }
});
