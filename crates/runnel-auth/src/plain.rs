//! SASL/PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd` in one message.
//!
//! Runnel keeps one credential store, the SCRAM one: PLAIN checks the password against the
//! user's SCRAM-SHA-512 credential, or SCRAM-SHA-256 when that is all the user has. So a
//! user created for SCRAM can also use PLAIN, no password is stored in clear, and there is
//! no second file to keep in step (Kafka's PLAIN reads passwords from the JAAS file instead).

use crate::scram::{CredentialSource, ScramMechanism};
use crate::AuthError;

/// RFC 4616 bounds each of the three fields to 255 bytes.
const MAX_FIELD_BYTES: usize = 255;

/// Checks one PLAIN message; the authenticated user name on success.
pub fn authenticate(
    message: &[u8],
    credentials: &dyn CredentialSource,
    decoy_key: &[u8],
) -> Result<String, AuthError> {
    let malformed = |reason: &str| AuthError::Malformed {
        mechanism: "PLAIN",
        reason: reason.to_owned(),
    };
    // At most four pieces: a fourth means too many separators, whatever follows it.
    let fields: Vec<&[u8]> = message.splitn(4, |b| *b == 0).collect();
    let [authzid, user, password] = fields[..] else {
        return Err(malformed(&format!(
            "expected 3 NUL-separated fields, got {}",
            if fields.len() > 3 { "more" } else { "fewer" }
        )));
    };
    if fields.iter().any(|f| f.len() > MAX_FIELD_BYTES) {
        return Err(malformed("a field is longer than 255 bytes"));
    }
    let user = std::str::from_utf8(user).map_err(|_| malformed("user name is not UTF-8"))?;
    if user.is_empty() {
        return Err(malformed("user name not specified"));
    }
    if password.is_empty() {
        return Err(malformed("password not specified"));
    }
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err(malformed("authorization id differs from the user name"));
    }
    let found = [ScramMechanism::Sha512, ScramMechanism::Sha256]
        .into_iter()
        .find_map(|m| credentials.scram_credential(user, m).map(|c| (m, c)));
    // An unknown user costs the same hashing as a known one, so timing does not tell them
    // apart.
    let (mechanism, credential) = found.unwrap_or_else(|| {
        let mechanism = ScramMechanism::Sha512;
        (mechanism, crate::scram::decoy(mechanism, decoy_key, user))
    });
    if credential.matches_password(mechanism, password) {
        Ok(user.to_owned())
    } else {
        Err(AuthError::InvalidCredentials {
            mechanism: "PLAIN",
            user: user.to_owned(),
        })
    }
}

/// The client's message for `user` and `password`, with no separate authorization id (as
/// Kafka's and librdkafka's clients send it).
pub fn client_message(user: &str, password: &str) -> Vec<u8> {
    format!("\0{user}\0{password}").into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::{CredentialTable, ScramCredential};

    fn alice() -> CredentialTable {
        let mut table = CredentialTable::default();
        let credential =
            ScramCredential::from_password(ScramMechanism::Sha256, b"secret", b"salt", 4096);
        table.set("alice", ScramMechanism::Sha256, credential);
        table
    }

    #[test]
    fn plain_checks_the_password_against_the_scram_credential() {
        let table = alice();
        assert_eq!(
            authenticate(b"\0alice\0secret", &table, b"k").unwrap(),
            "alice"
        );
        assert_eq!(
            authenticate(b"alice\0alice\0secret", &table, b"k").unwrap(),
            "alice"
        );
        let refused = [
            (&b"\0alice\0wrong"[..], "invalid PLAIN credentials"),
            (b"\0bob\0secret", "invalid PLAIN credentials"),
            (b"bob\0alice\0secret", "authorization id differs"),
            (b"\0\0secret", "user name not specified"),
            (b"\0alice\0", "password not specified"),
            (
                b"alice\0secret",
                "expected 3 NUL-separated fields, got fewer",
            ),
            (
                b"\0alice\0secret\0",
                "expected 3 NUL-separated fields, got more",
            ),
            (b"\0\xff\0secret", "not UTF-8"),
        ];
        for (message, expected) in refused {
            let error = authenticate(message, &table, b"k").unwrap_err();
            assert!(error.to_string().contains(expected), "{error}");
        }
    }
}
