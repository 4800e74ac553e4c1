//! The SCRAM credentials of every user, and the file they are saved in.
//!
//! The broker saves the whole table to `scram-credentials.json` in its data directory at
//! every change (format pinned by a test below and described in the crate README): users
//! are few and change rarely, so one small file read at start is simpler than an internal
//! topic.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::scram::{CredentialSource, ScramCredential, ScramMechanism};

/// The file name, under the broker's data directory.
pub const FILE: &str = "scram-credentials.json";
/// The version of the file's format.
const FORMAT_VERSION: u32 = 1;
/// At most this many users (the file is read whole at start).
pub const MAX_USERS: usize = 10_000;
/// The longest user name accepted, in bytes.
pub const MAX_USER_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SCRAM credential file of format {FORMAT_VERSION}: {0}")]
pub struct FormatError(String);

/// Every user's credentials, per mechanism.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialTable {
    users: BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>,
}

impl CredentialTable {
    pub fn get(&self, user: &str, mechanism: ScramMechanism) -> Option<&ScramCredential> {
        self.users.get(user)?.get(&mechanism)
    }

    /// A user's mechanisms and their iteration counts, if the user has any credential.
    pub fn describe(&self, user: &str) -> Option<Vec<(ScramMechanism, u32)>> {
        let credentials = self.users.get(user)?;
        Some(
            credentials
                .iter()
                .map(|(m, c)| (*m, c.iterations))
                .collect(),
        )
    }

    /// The users with a credential, in name order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Sets a credential, replacing the one the user had for that mechanism.
    pub fn set(&mut self, user: &str, mechanism: ScramMechanism, credential: ScramCredential) {
        self.users
            .entry(user.to_owned())
            .or_default()
            .insert(mechanism, credential);
    }

    /// Removes a credential; whether there was one.
    pub fn remove(&mut self, user: &str, mechanism: ScramMechanism) -> bool {
        let Some(credentials) = self.users.get_mut(user) else {
            return false;
        };
        let removed = credentials.remove(&mechanism).is_some();
        if credentials.is_empty() {
            self.users.remove(user);
        }
        removed
    }

    /// The file's bytes for this table.
    pub fn render(&self) -> Vec<u8> {
        let file = File {
            version: FORMAT_VERSION,
            users: self
                .users
                .iter()
                .map(|(user, credentials)| {
                    let credentials = credentials
                        .iter()
                        .map(|(m, c)| {
                            let entry = Entry {
                                salt: BASE64.encode(&c.salt),
                                iterations: c.iterations,
                                stored_key: BASE64.encode(&c.stored_key),
                                server_key: BASE64.encode(&c.server_key),
                            };
                            (*m, entry)
                        })
                        .collect();
                    (user.clone(), credentials)
                })
                .collect(),
        };
        // Serialising maps of strings and integers cannot fail.
        let mut text = serde_json::to_vec_pretty(&file).unwrap_or_default();
        text.push(b'\n');
        text
    }

    /// Reads a file's bytes, checking every credential as AlterUserScramCredentials would.
    pub fn parse(bytes: &[u8]) -> Result<CredentialTable, FormatError> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| FormatError(e.to_string()))?;
        if file.version != FORMAT_VERSION {
            return Err(FormatError(format!("version {}", file.version)));
        }
        if file.users.len() > MAX_USERS {
            return Err(FormatError(format!("more than {MAX_USERS} users")));
        }
        let mut table = CredentialTable::default();
        for (user, credentials) in file.users {
            if user.is_empty() || user.len() > MAX_USER_BYTES {
                return Err(FormatError(format!("bad user name {user:?}")));
            }
            for (mechanism, entry) in credentials {
                let decode = |field: &str, value: &str| {
                    BASE64
                        .decode(value)
                        .map_err(|e| FormatError(format!("{user} {field}: {e}")))
                };
                let credential = ScramCredential {
                    salt: decode("salt", &entry.salt)?,
                    iterations: entry.iterations,
                    stored_key: decode("stored_key", &entry.stored_key)?,
                    server_key: decode("server_key", &entry.server_key)?,
                };
                credential
                    .check(mechanism)
                    .map_err(|e| FormatError(format!("{user} {}: {e}", mechanism.name())))?;
                table.set(&user, mechanism, credential);
            }
        }
        Ok(table)
    }
}

impl CredentialSource for CredentialTable {
    fn scram_credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.get(user, mechanism).cloned()
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    users: BTreeMap<String, BTreeMap<ScramMechanism, Entry>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    salt: String,
    iterations: u32,
    stored_key: String,
    server_key: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_file_format_is_pinned_byte_for_byte() {
        let mut table = CredentialTable::default();
        let alice = ScramCredential::from_password(ScramMechanism::Sha256, b"pw", b"salt", 4096);
        table.set("alice", ScramMechanism::Sha256, alice);
        let bob = ScramCredential::from_password(ScramMechanism::Sha512, b"pw", b"pepper", 8192);
        table.set("bob", ScramMechanism::Sha512, bob);
        let text = String::from_utf8(table.render()).unwrap();
        let expected = r#"{
  "version": 1,
  "users": {
    "alice": {
      "SCRAM-SHA-256": {
        "salt": "c2FsdA==",
        "iterations": 4096,
        "stored_key": "M6gEs77KaKI/RKU8+SLWUpenplhSaXNgAVnjlXP8RBc=",
        "server_key": "2DZQqVy2vnonAxkPUYZed+C6dXmY6Ypqsy6QBqo4ZD0="
      }
    },
    "bob": {
      "SCRAM-SHA-512": {
        "salt": "cGVwcGVy",
        "iterations": 8192,
        "stored_key": "p3O50z0hoe0NtoDdonNUrWQeijvEe1fzdMrB78E7Is4dNFhig2AVeVNXQvzjC+okhW4KY3a7+nENWilz7x4MjA==",
        "server_key": "dyT+g34dm+e2GqiD6e3fQocu/V9Ms2nf/HfV5O6FpAl3hGQ3lG857PHzISGIq4r0ac19pG5dRUs6MEwwLcpANg=="
      }
    }
  }
}
"#;
        assert_eq!(text, expected);
        assert_eq!(CredentialTable::parse(text.as_bytes()).unwrap(), table);
    }

    #[test]
    fn a_file_with_a_weak_or_damaged_credential_is_refused() {
        let good = CredentialTable::default().render();
        assert!(CredentialTable::parse(&good).unwrap().is_empty());
        let cases = [
            r#"{"version": 2, "users": {}}"#,
            r#"{"version": 1, "users": {"a": {"SCRAM-SHA-256": {"salt": "c2FsdA==", "iterations": 1, "stored_key": "", "server_key": ""}}}}"#,
            r#"{"version": 1, "users": {"a": {"SCRAM-SHA-1": {"salt": "c2FsdA==", "iterations": 4096, "stored_key": "", "server_key": ""}}}}"#,
            r#"{"version": 1, "users": {"a": {"SCRAM-SHA-256": {"salt": "!", "iterations": 4096, "stored_key": "", "server_key": ""}}}}"#,
            r#"{"version": 1, "users": {"": {}}}"#,
            r#"{"version": 1, "users": {}, "extra": 1}"#,
        ];
        for case in cases {
            assert!(CredentialTable::parse(case.as_bytes()).is_err(), "{case}");
        }
    }

    #[test]
    fn removing_a_users_last_credential_removes_the_user() {
        let mut table = CredentialTable::default();
        let credential = ScramCredential::from_password(ScramMechanism::Sha256, b"p", b"s", 4096);
        table.set("alice", ScramMechanism::Sha256, credential);
        assert!(!table.remove("alice", ScramMechanism::Sha512));
        assert!(table.remove("alice", ScramMechanism::Sha256));
        assert!(table.describe("alice").is_none());
        assert_eq!(table.len(), 0);
    }
}
