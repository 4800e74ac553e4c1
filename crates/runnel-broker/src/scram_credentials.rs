//! The users' SCRAM credentials, kept in `DATA/scram-credentials.json` (format in
//! `runnel-auth`'s README) and rewritten whole and atomically at every change, before the
//! change takes effect: users are few and change rarely, as client quotas.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use runnel_auth::credentials::{FILE, MAX_USERS};
use runnel_auth::{
    CredentialSource, CredentialTable, FormatError, ScramCredential, ScramMechanism,
};

#[derive(Debug, thiserror::Error)]
pub enum CredentialStoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: FormatError,
    },
    #[error("cannot save the SCRAM credentials: {0}")]
    Write(#[from] runnel_log::LogError),
    #[error("at most {MAX_USERS} users may have SCRAM credentials")]
    TooMany,
}

/// Every user's SCRAM credentials, as saved.
#[derive(Debug)]
pub struct ScramCredentials {
    path: PathBuf,
    table: RwLock<CredentialTable>,
    /// Serialises changes so the file is written in the order the table changes.
    saving: Mutex<()>,
}

impl ScramCredentials {
    /// Reads the saved credentials of `data_dir`, if any. A damaged file is an error, never
    /// an empty table: that would lock every user out, or worse, let a new one be created
    /// over it.
    pub fn open(data_dir: &Path) -> Result<ScramCredentials, CredentialStoreError> {
        let path = data_dir.join(FILE);
        let table = match std::fs::read(&path) {
            Ok(bytes) => {
                CredentialTable::parse(&bytes).map_err(|source| CredentialStoreError::Corrupt {
                    path: path.clone(),
                    source,
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CredentialTable::default(),
            Err(source) => return Err(CredentialStoreError::Read { path, source }),
        };
        Ok(ScramCredentials {
            path,
            table: RwLock::new(table),
            saving: Mutex::new(()),
        })
    }

    /// A copy of every credential.
    pub fn table(&self) -> CredentialTable {
        self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Lets `change` edit a copy of the table and saves the result before it takes effect:
    /// on error nothing changed. `change` sees the table as it is, other changes waiting.
    /// Blocks on the disk.
    pub fn alter<R>(
        &self,
        change: impl FnOnce(&mut CredentialTable) -> R,
    ) -> Result<R, CredentialStoreError> {
        let _saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = self.table();
        let before = next.len();
        let outcome = change(&mut next);
        if next.len() > MAX_USERS && next.len() > before {
            return Err(CredentialStoreError::TooMany);
        }
        if next != self.table() {
            runnel_log::write_atomically(&self.path, &next.render())?;
            *self.table.write().unwrap_or_else(|p| p.into_inner()) = next;
        }
        Ok(outcome)
    }
}

impl CredentialSource for ScramCredentials {
    fn scram_credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.table
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(user, mechanism)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn credentials_survive_a_reopen_and_a_damaged_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramCredentials::open(dir.path()).unwrap();
        let credential =
            ScramCredential::from_password(ScramMechanism::Sha512, b"secret", b"salt", 4096);
        store
            .alter(|table| table.set("alice", ScramMechanism::Sha512, credential.clone()))
            .unwrap();
        let reopened = ScramCredentials::open(dir.path()).unwrap();
        assert_eq!(
            reopened.scram_credential("alice", ScramMechanism::Sha512),
            Some(credential)
        );
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!text.contains("secret"));
        std::fs::write(dir.path().join(FILE), b"{\"version\": 1}").unwrap();
        let error = ScramCredentials::open(dir.path()).unwrap_err();
        assert!(
            matches!(error, CredentialStoreError::Corrupt { .. }),
            "{error}"
        );
    }
}
