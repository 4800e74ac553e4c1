//! Arbitrary bytes as an OAUTHBEARER client's messages (RFC 7628), with a real token
//! validator behind them.
//!
//! The first input byte splits the rest into the initial response and the message that
//! follows an error. Parsing may refuse a message but must not panic; a message it accepts
//! must render back to a message that parses to the same values; and no input may
//! authenticate: the key set holds one public P-256 key whose private half was thrown away.

#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use runnel_auth::oauthbearer::ClientInitialResponse;
use runnel_auth::{
    CredentialTable, Exchange, Mechanism, Step, TokenRules, TokenValidator, Verifiers,
};

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k",
  "x":"1aYtrCBfiY3Pq9A6WJAB_tkAtFyvHNCkEKROPvm5dp0",
  "y":"6Fogt0gIHEM4_vZAfZDvknTBh-Y9YdiO266h7-tlxpU"}]}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if let Ok(parsed) = ClientInitialResponse::parse(rest) {
        assert_eq!(
            ClientInitialResponse::parse(&parsed.render()),
            Ok(parsed),
            "render does not invert parse"
        );
    }
    let split = (usize::from(selector) * 7).min(rest.len());
    let (first, second) = rest.split_at(split);
    let validator = match TokenValidator::new(JWKS.as_bytes(), TokenRules::default()) {
        Ok(validator) => validator,
        Err(error) => panic!("the fixed key set is refused: {error}"),
    };
    let table = CredentialTable::default();
    let verifiers = Verifiers {
        credentials: &table,
        tokens: Some(&validator),
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_601_600),
    };
    let mut exchange = Exchange::new(Mechanism::OAuthBearer, String::new(), b"decoy");
    let authenticated = match exchange.step(first, &verifiers) {
        Ok(Step::Challenge(_)) => matches!(
            exchange.step(second, &verifiers),
            Ok(Step::Authenticated { .. })
        ),
        Ok(Step::Authenticated { .. }) => true,
        Err(_) => false,
    };
    assert!(!authenticated, "unsigned bytes authenticated");
});
