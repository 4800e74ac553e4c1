//! Arbitrary bytes as one pgoutput logical replication message, as the CDC source receives it
//! from the replication connection.
//!
//! Decoding may refuse the message; it must not panic, and what it accepts must fit in the
//! input: no column value longer than the message, and no more columns than bytes.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use runnel_cdc::pgoutput::{decode, ColumnValue, Message, OldRow};

fn check(values: &[ColumnValue], input_len: usize) {
    assert!(values.len() <= input_len);
    let total: usize = values
        .iter()
        .map(|v| match v {
            ColumnValue::Text(b) | ColumnValue::Binary(b) => b.len(),
            ColumnValue::Null | ColumnValue::UnchangedToast => 0,
        })
        .sum();
    assert!(total <= input_len);
}

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    match decode(&input) {
        Ok(Message::Insert { new, .. }) => check(&new, data.len()),
        Ok(Message::Update { old, new, .. }) => {
            check(&new, data.len());
            if let Some(OldRow::Key(old) | OldRow::Full(old)) = old {
                check(&old, data.len());
            }
        }
        Ok(Message::Delete {
            old: OldRow::Key(old) | OldRow::Full(old),
            ..
        }) => check(&old, data.len()),
        Ok(Message::Relation(relation)) => assert!(relation.columns.len() <= data.len()),
        Ok(Message::Truncate { relation_ids, .. }) => assert!(relation_ids.len() * 4 <= data.len()),
        Ok(Message::Other(_)) | Err(_) => {}
    }
});
