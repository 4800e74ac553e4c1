//! Arbitrary bytes as `scram-credentials.json`: reading may refuse the file but must not
//! panic, and a table it accepts must render to a file that reads back to the same table.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_auth::CredentialTable;

fuzz_target!(|data: &[u8]| {
    if let Ok(table) = CredentialTable::parse(data) {
        let again = CredentialTable::parse(&table.render());
        assert_eq!(again.as_ref(), Ok(&table));
    }
});
