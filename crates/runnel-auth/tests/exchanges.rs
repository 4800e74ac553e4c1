//! Properties of the SASL exchanges: any bytes are refused without a panic and never
//! authenticate; a client that knows the password always gets in, with any user name, and
//! one that does not never does; the client state machines take any server bytes without a
//! panic and never accept a server that does not prove it holds the credential.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use runnel_auth::{
    plain, CredentialTable, Exchange, Mechanism, ScramClient, ScramClientError, ScramCredential,
    ScramMechanism, Step, Verifiers,
};
use std::time::SystemTime;

fn table_with(user: &str, password: &str) -> CredentialTable {
    let mut table = CredentialTable::default();
    for mechanism in ScramMechanism::ALL {
        let credential =
            ScramCredential::from_password(mechanism, password.as_bytes(), b"salt", 4096);
        table.set(user, mechanism, credential);
    }
    table
}

/// Passwords only: no token validator, as on a broker without OAUTHBEARER settings.
fn passwords(table: &CredentialTable) -> Verifiers<'_> {
    Verifiers {
        credentials: table,
        tokens: None,
        now: SystemTime::UNIX_EPOCH,
    }
}

/// A SCRAM login with the client state machine against the server's; the client checks the
/// server's final signature, so success proves both sides.
fn scram_login(
    mechanism: ScramMechanism,
    table: &CredentialTable,
    user: &str,
    password: &str,
) -> Result<String, String> {
    let mut server = Exchange::new(Mechanism::Scram(mechanism), "srvnonce".into(), b"key");
    let (mut client, first) =
        ScramClient::new(mechanism, user, password.as_bytes(), "clinonce".into());
    let Step::Challenge(server_first) = server
        .step(&first, &passwords(table))
        .map_err(|e| e.to_string())?
    else {
        panic!("no challenge");
    };
    let last = client
        .server_first(&server_first)
        .map_err(|e| e.to_string())?;
    match server
        .step(&last, &passwords(table))
        .map_err(|e| e.to_string())?
    {
        Step::Authenticated { user, response, .. } => {
            client.server_final(&response).map_err(|e| e.to_string())?;
            Ok(user)
        }
        Step::Challenge(_) => panic!("a third SCRAM message"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_messages_are_refused_without_panicking(
        first in proptest::collection::vec(any::<u8>(), 0..600),
        second in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let table = table_with("alice", "secret");
        for mechanism in Mechanism::ALL {
            let mut exchange = Exchange::new(mechanism, "nonce".into(), b"key");
            let authenticated = match exchange.step(&first, &passwords(&table)) {
                Ok(Step::Challenge(_)) => matches!(
                    exchange.step(&second, &passwords(&table)),
                    Ok(Step::Authenticated { .. })
                ),
                Ok(Step::Authenticated { .. }) => true,
                Err(_) => false,
            };
            prop_assert!(!authenticated, "{} let random bytes in", mechanism.name());
        }
    }

    #[test]
    fn arbitrary_client_first_texts_are_refused_or_challenged(text in "[nya=,r0-9A-Z\\\\x00]{0,40}") {
        let table = table_with("alice", "secret");
        let mut exchange = Exchange::new(Mechanism::Scram(ScramMechanism::Sha256), "n".into(), b"k");
        let _ = exchange.step(text.as_bytes(), &passwords(&table));
    }
}

proptest! {
    // Each case runs a few thousand HMACs per exchange: few cases, real names.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn a_client_knowing_the_password_gets_in_and_others_do_not(
        user in "[a-z,=@. ]{1,12}",
        password in "[ -~]{1,16}",
        wrong in "[ -~]{1,16}",
    ) {
        let table = table_with(&user, &password);
        for mechanism in ScramMechanism::ALL {
            prop_assert_eq!(scram_login(mechanism, &table, &user, &password).unwrap(), user.clone());
            if wrong != password {
                prop_assert!(scram_login(mechanism, &table, &user, &wrong).is_err());
            }
        }
        let plain = |password: &str| {
            let mut exchange = Exchange::new(Mechanism::Plain, String::new(), b"k");
            exchange.step(&plain::client_message(&user, password), &passwords(&table))
        };
        let plain_user = plain(&password).unwrap();
        prop_assert_eq!(plain_user, Step::Authenticated { user: user.clone(), response: Vec::new(), expires_at: None });
        if wrong != password {
            prop_assert!(plain(&wrong).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_server_messages_never_panic_the_client_nor_verify_a_server(
        first in proptest::collection::vec(any::<u8>(), 0..600),
        last in proptest::collection::vec(any::<u8>(), 0..600),
        mechanism in proptest::sample::select(ScramMechanism::ALL.to_vec()),
    ) {
        let (mut client, _) = ScramClient::new(mechanism, "alice", b"secret", "clinonce".into());
        if client.server_first(&first).is_ok() {
            prop_assert!(client.server_final(&last).is_err());
        }
        prop_assert!(client.server_final(&last).is_err());
    }

    #[test]
    fn well_formed_server_firsts_with_any_fields_are_answered_or_refused(
        suffix in "[ -+--~]{0,20}",
        salt in proptest::collection::vec(any::<u8>(), 0..40),
        iterations in prop_oneof![Just(4096u32), any::<u32>()],
    ) {
        use base64::Engine as _;
        let salt = base64::engine::general_purpose::STANDARD.encode(salt);
        let message = format!("r=clinonce{suffix},s={salt},i={iterations}");
        let (mut client, _) = ScramClient::new(ScramMechanism::Sha256, "alice", b"secret", "clinonce".into());
        match client.server_first(message.as_bytes()) {
            Ok(last) => prop_assert!(last.starts_with(b"c=biws,r=clinonce")),
            Err(ScramClientError::Malformed { .. } | ScramClientError::Iterations { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }
}
