//! Properties of the SASL exchanges: any bytes are refused without a panic and never
//! authenticate; a client that knows the password always gets in, with any user name, and
//! one that does not never does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use proptest::prelude::*;
use runnel_auth::scram::encode_saslname;
use runnel_auth::{
    CredentialTable, Exchange, Mechanism, ScramCredential, ScramMechanism, Step, Verifiers,
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

/// The client side of SCRAM as RFC 5802 describes it; its final answer is checked against
/// the server's signature.
fn scram_login(
    mechanism: ScramMechanism,
    table: &CredentialTable,
    user: &str,
    password: &str,
) -> Result<String, runnel_auth::AuthError> {
    let mut server = Exchange::new(Mechanism::Scram(mechanism), "srvnonce".into(), b"key");
    let bare = format!("n={},r=clinonce", encode_saslname(user));
    let Step::Challenge(server_first) =
        server.step(format!("n,,{bare}").as_bytes(), &passwords(table))?
    else {
        panic!("no challenge");
    };
    let server_first = String::from_utf8(server_first).unwrap();
    let fields: Vec<&str> = server_first.split(',').collect();
    let nonce = fields[0].strip_prefix("r=").unwrap();
    let salt = BASE64
        .decode(fields[1].strip_prefix("s=").unwrap())
        .unwrap();
    let iterations: u32 = fields[2].strip_prefix("i=").unwrap().parse().unwrap();
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{bare},{server_first},{without_proof}");
    let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
    let credential = ScramCredential::from_salted_password(mechanism, &salt, iterations, &salted);
    let client_key = hmac(mechanism, &salted, b"Client Key");
    let signature = hmac(mechanism, &credential.stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let last = format!("{without_proof},p={}", BASE64.encode(proof));
    match server.step(last.as_bytes(), &passwords(table))? {
        Step::Authenticated { user, response, .. } => {
            let expected = hmac(mechanism, &credential.server_key, auth_message.as_bytes());
            assert_eq!(
                response,
                format!("v={}", BASE64.encode(expected)).into_bytes()
            );
            Ok(user)
        }
        Step::Challenge(_) => panic!("a third SCRAM message"),
    }
}

fn hmac(mechanism: ScramMechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    match mechanism {
        ScramMechanism::Sha256 => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        ScramMechanism::Sha512 => {
            let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
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
            exchange.step(format!("\0{user}\0{password}").as_bytes(), &passwords(&table))
        };
        let plain_user = plain(&password).unwrap();
        prop_assert_eq!(plain_user, Step::Authenticated { user: user.clone(), response: Vec::new(), expires_at: None });
        if wrong != password {
            prop_assert!(plain(&wrong).is_err());
        }
    }
}
