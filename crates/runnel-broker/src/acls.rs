//! ACL authorization: whether it is on, and the ACLs, kept in the data directory.
//!
//! Authorization is off unless `authorizer.class.name` names Kafka's authorizer: a broker
//! without one allows every request, as Kafka does, so the zero-config single node works
//! unchanged. On, every request is checked against the ACLs (see `handlers::access`), with
//! `super.users` and `allow.everyone.if.no.acl.found` as in Kafka.
//!
//! The ACLs are saved whole to `acls.json` (format in runnel-acl's README) with an atomic
//! rename at every change, before the change takes effect: ACLs change rarely, and one small
//! file read at start-up needs no replay.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use runnel_acl::{AclError, Authorizer};

/// The file the ACLs are saved in, under the data directory.
pub const FILE: &str = "acls.json";
/// Kafka's KRaft authorizer; `authorizer.class.name` set to it turns authorization on.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
/// Kafka's ZooKeeper-era authorizer, accepted as the same for older config files.
const ACL_AUTHORIZER: &str = "kafka.security.authorizer.AclAuthorizer";

/// The authorization settings of the broker configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationConfig {
    /// `authorizer.class.name` is Kafka's authorizer (empty, the default, is off).
    pub enabled: bool,
    /// `super.users`: principals allowed everything, `;`-separated (`User:admin;User:ops`).
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`: a resource no ACL covers is open to everyone
    /// (default false, as Kafka).
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizationConfig {
    /// Sets one of the three settings; `Err` for a value it cannot take.
    pub(crate) fn set(&mut self, name: &str, value: &str) -> Result<(), ()> {
        let value = value.trim();
        match name {
            "authorizer.class.name" => {
                self.enabled = match value {
                    "" => false,
                    STANDARD_AUTHORIZER | ACL_AUTHORIZER => true,
                    _ => return Err(()),
                }
            }
            "super.users" => {
                let users: Vec<String> = value
                    .split(';')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
                if users
                    .iter()
                    .any(|u| runnel_acl::model::validate_principal(u).is_err())
                {
                    return Err(());
                }
                self.super_users = users;
            }
            "allow.everyone.if.no.acl.found" => {
                self.allow_everyone_if_no_acl_found = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(()),
                }
            }
            _ => return Err(()),
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AclStoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid ACL file: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: AclError,
    },
    #[error("cannot save the ACLs: {0}")]
    Write(#[from] runnel_log::LogError),
}

/// Whether authorization is on, and the ACLs.
#[derive(Debug)]
pub struct Acls {
    path: PathBuf,
    enabled: bool,
    authorizer: RwLock<Authorizer>,
    /// Serialises changes so the file is written in the order the ACLs change.
    saving: Mutex<()>,
}

impl Acls {
    /// Reads the saved ACLs of `data_dir` when authorization is on (off, they are left on
    /// disk untouched for when it is turned on again).
    pub fn open(data_dir: &Path, config: &AuthorizationConfig) -> Result<Acls, AclStoreError> {
        let path = data_dir.join(FILE);
        let mut authorizer = Authorizer::new(
            config.super_users.iter().cloned(),
            config.allow_everyone_if_no_acl_found,
        );
        if config.enabled {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    runnel_acl::file::parse(&bytes, &mut authorizer).map_err(|source| {
                        AclStoreError::Corrupt {
                            path: path.clone(),
                            source,
                        }
                    })?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(AclStoreError::Read { path, source }),
            }
        }
        Ok(Acls {
            path,
            enabled: config.enabled,
            authorizer: RwLock::new(authorizer),
            saving: Mutex::new(()),
        })
    }

    /// Whether an authorizer is configured.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The ACLs as they are now.
    pub fn authorizer(&self) -> RwLockReadGuard<'_, Authorizer> {
        self.authorizer.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` to a copy of the ACLs and saves the result before it takes effect:
    /// when saving fails nothing changed. Blocks on the disk.
    pub fn change<T>(&self, change: impl FnOnce(&mut Authorizer) -> T) -> Result<T, AclStoreError> {
        let _saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = self.authorizer().clone();
        let outcome = change(&mut next);
        runnel_log::write_atomically(&self.path, &runnel_acl::file::render(&next))?;
        *self.authorizer.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use runnel_acl::{AclBinding, Operation, Requester, ResourceType};

    fn on() -> AuthorizationConfig {
        let mut config = AuthorizationConfig::default();
        config
            .set("authorizer.class.name", STANDARD_AUTHORIZER)
            .unwrap();
        config.set("super.users", "User:admin; User:ops").unwrap();
        config
    }

    #[test]
    fn settings_are_read_as_kafka_writes_them() {
        let config = on();
        assert!(config.enabled);
        assert_eq!(config.super_users, ["User:admin", "User:ops"]);
        let mut config = config;
        assert!(config
            .set("authorizer.class.name", "com.example.Mine")
            .is_err());
        assert!(config.set("super.users", "admin").is_err());
        assert!(config.set("allow.everyone.if.no.acl.found", "yes").is_err());
        config.set("authorizer.class.name", "").unwrap();
        assert!(!config.enabled);
    }

    #[test]
    fn acls_are_saved_before_they_apply_and_read_back_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let acls = Acls::open(dir.path(), &on()).unwrap();
        let read = AclBinding::from_wire(2, "orders", 3, "User:alice", "*", 3, 3).unwrap();
        acls.change(|a| a.add(read.clone())).unwrap().unwrap();
        let alice = Requester {
            principal: "User:alice",
            host: "127.0.0.1",
        };
        let reopened = Acls::open(dir.path(), &on()).unwrap();
        assert!(reopened.authorizer().authorize(
            alice,
            Operation::Read,
            ResourceType::Topic,
            "orders"
        ));
        assert_eq!(reopened.authorizer().len(), 1);
        // Off, the file is neither read nor refused.
        std::fs::write(dir.path().join(FILE), "{").unwrap();
        let off = Acls::open(dir.path(), &AuthorizationConfig::default()).unwrap();
        assert!(!off.enabled());
        assert!(Acls::open(dir.path(), &on()).is_err());
    }
}
