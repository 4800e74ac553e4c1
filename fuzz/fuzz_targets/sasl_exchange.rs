//! Arbitrary bytes as the client's messages of a SASL exchange, for every mechanism the
//! broker offers (OAUTHBEARER here without a token validator; `oauthbearer_message` fuzzes
//! it with one).
//!
//! The first input byte picks the mechanism and where the input splits into the client's
//! first and second messages. Each step may refuse its message but must not panic, and
//! bytes that do not know the password must never authenticate: the only user's password
//! is 32 random-looking bytes the fuzzer cannot guess.

#![no_main]

use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use runnel_auth::{
    CredentialTable, Exchange, Mechanism, ScramCredential, ScramMechanism, Step, Verifiers,
};

const PASSWORD: &[u8] = b"f0b9c3e1a7d24c5e9b1f8a6d3c2e7b40";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mechanism = Mechanism::ALL[usize::from(selector) % Mechanism::ALL.len()];
    let split = (usize::from(selector) * 7).min(rest.len());
    let (first, second) = rest.split_at(split);
    let mut table = CredentialTable::default();
    for scram in ScramMechanism::ALL {
        let credential = ScramCredential::from_password(scram, PASSWORD, b"salt", 4096);
        table.set("user", scram, credential);
    }
    let verifiers = Verifiers {
        credentials: &table,
        tokens: None,
        now: SystemTime::UNIX_EPOCH,
    };
    let mut exchange = Exchange::new(mechanism, "servernonce".to_owned(), b"decoy");
    let authenticated = match exchange.step(first, &verifiers) {
        Ok(Step::Challenge(_)) => matches!(
            exchange.step(second, &verifiers),
            Ok(Step::Authenticated { .. })
        ),
        Ok(Step::Authenticated { .. }) => true,
        Err(_) => false,
    };
    assert!(!authenticated, "{} let unknown bytes in", mechanism.name());
});
