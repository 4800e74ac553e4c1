//! Arbitrary bytes as a server's SCRAM messages, to the client state machine Runnel's own
//! clients use.
//!
//! The first input byte picks the mechanism and where the input splits into the server-first
//! and server-final messages. The client may refuse either but must not panic, and must never
//! accept a server-final message: the server would have to know the password, 32
//! random-looking bytes the fuzzer cannot guess.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_auth::{ScramClient, ScramMechanism};

const PASSWORD: &[u8] = b"9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mechanism = ScramMechanism::ALL[usize::from(selector) % ScramMechanism::ALL.len()];
    let split = (usize::from(selector) * 7).min(rest.len());
    let (first, last) = rest.split_at(split);
    let (mut client, _) = ScramClient::new(mechanism, "user", PASSWORD, "clientnonce".to_owned());
    if client.server_first(first).is_ok() {
        assert!(
            client.server_final(last).is_err(),
            "{} accepted a server that cannot know the password",
            mechanism.name()
        );
    }
});
