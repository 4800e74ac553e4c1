//! Arbitrary bytes as a record of `__share_group_state`, as the broker replays them at start.
//!
//! The first input byte says how many of the following bytes are the key; the rest is the
//! value. Decoding may refuse the record; it must not panic, and a share-partition state it
//! accepts must either be refused by `restore` or rebuild a window within `MAX_WINDOW`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_broker::share::records::{ShareRecords, MAX_WINDOW};
use runnel_broker::share::store::{decode, Change};

fuzz_target!(|data: &[u8]| {
    let Some((&key_len, rest)) = data.split_first() else {
        return;
    };
    let (key, value) = rest.split_at(usize::from(key_len).min(rest.len()));
    for value in [Some(value), None] {
        if let Some(Change::Partition(_, Some(stored))) = decode(key, value) {
            if let Some(records) = ShareRecords::restore(stored.start, &stored.runs) {
                let summary = records.summary();
                assert!(summary.end - summary.start <= MAX_WINDOW as i64);
                assert!(summary.start >= stored.start);
            }
        }
    }
});
