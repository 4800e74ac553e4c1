//! Crypto-shredding: each subject's personal data is encrypted (ChaCha20-Poly1305) with a
//! key of its own, kept in a compacted keys topic; forgetting the subject appends a
//! tombstone for its key, and once compaction has removed the key record no copy of the
//! ciphertext (in the events topic, its old segments, read models, backups) can be read.
//!
//! Events carry [`Sealed`] values, never the plaintext. [`KeyVault::reveal`] gives
//! [`Revealed::Forgotten`] for a subject whose key is gone: the read side shows the data as
//! forgotten and goes on.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use serde::{Deserialize, Serialize};

use crate::clients;
use crate::error::EventStoreError;
use crate::follow::Follower;
use crate::handler::expecting;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Appends of a new key refused for another record of their batch, at most.
const CREATE_ATTEMPTS: u32 = 5;

/// Fills a buffer with secure random bytes (keys and nonces); injected so tests decide them.
pub type Randomness = Arc<dyn Fn(&mut [u8]) -> Result<(), String> + Send + Sync>;

/// The operating system's random source.
pub fn system_randomness() -> Randomness {
    Arc::new(|buffer| getrandom::fill(buffer).map_err(|e| e.to_string()))
}

/// Personal data as events and read models hold it: encrypted with its subject's key, the
/// subject id bound to the ciphertext (as associated data) so it cannot pass for another's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub subject: String,
    /// Base64.
    pub nonce: String,
    /// Base64, with the authentication tag.
    pub ciphertext: String,
}

/// What a sealed value reads as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revealed<T> {
    Known(T),
    /// The subject's key was deleted: the data is gone for good.
    Forgotten,
    /// The key is there but the value does not decrypt (altered, or sealed with another
    /// key): logged, and shown as such.
    Unreadable,
}

#[derive(Clone)]
enum Entry {
    Key([u8; KEY_LEN]),
    Forgotten,
}

type Keys = Arc<RwLock<HashMap<String, Entry>>>;

/// The subjects' keys, followed from the keys topic (compacted, with conditional appends on:
/// the first key written for a subject wins, so two writers never seal one subject's data
/// with different keys).
pub struct KeyVault {
    topic: String,
    keys: Keys,
    producer: FutureProducer,
    follower: Follower,
    random: Randomness,
    timeout: Duration,
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVault")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KeyVault {
    /// Reads the keys topic `topic` (which must have `cleanup.policy=compact` and
    /// `runnel.conditional.append.enable=true`) and follows it.
    pub async fn start(
        bootstrap: &str,
        topic: &str,
        random: Randomness,
        timeout: Duration,
    ) -> Result<KeyVault, EventStoreError> {
        let keys: Keys = Arc::default();
        let writing = Arc::clone(&keys);
        let follower = Follower::start(bootstrap, topic, move |message| {
            let Some(subject) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                return;
            };
            let entry = match message.payload() {
                None => Entry::Forgotten,
                Some(bytes) => match <[u8; KEY_LEN]>::try_from(bytes) {
                    Ok(key) => Entry::Key(key),
                    Err(_) => {
                        tracing::warn!(subject, offset = message.offset(), "malformed key skipped");
                        return;
                    }
                },
            };
            writing
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(subject.to_owned(), entry);
        })?;
        let producer = clients::writer(bootstrap).create()?;
        let vault = KeyVault {
            topic: topic.to_owned(),
            keys,
            producer,
            follower,
            random,
            timeout,
        };
        vault.follower.catch_up(timeout).await?;
        Ok(vault)
    }

    /// Encrypts `plaintext` with `subject`'s key, creating the key if the subject has none.
    /// A forgotten subject stays forgotten: sealing for it is an error.
    pub async fn seal(&self, subject: &str, plaintext: &[u8]) -> Result<Sealed, EventStoreError> {
        let key = match self.entry(subject) {
            Some(Entry::Key(key)) => key,
            Some(Entry::Forgotten) => return Err(EventStoreError::Forgotten(subject.to_owned())),
            None => self.create_key(subject).await?,
        };
        let mut nonce = [0u8; NONCE_LEN];
        (self.random)(&mut nonce).map_err(EventStoreError::Randomness)?;
        let ciphertext = ChaCha20Poly1305::new(&Key::from(key))
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: subject.as_bytes(),
                },
            )
            .map_err(|_| EventStoreError::Cipher)?;
        Ok(Sealed {
            subject: subject.to_owned(),
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        })
    }

    /// The plaintext of `sealed`, or that it was forgotten (or cannot be read). Never fails.
    pub fn reveal(&self, sealed: &Sealed) -> Revealed<Vec<u8>> {
        let key = match self.entry(&sealed.subject) {
            Some(Entry::Key(key)) => key,
            Some(Entry::Forgotten) | None => return Revealed::Forgotten,
        };
        let nonce = BASE64
            .decode(&sealed.nonce)
            .ok()
            .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok());
        let ciphertext = BASE64.decode(&sealed.ciphertext).ok();
        let (Some(nonce), Some(ciphertext)) = (nonce, ciphertext) else {
            tracing::warn!(subject = sealed.subject, "malformed sealed value");
            return Revealed::Unreadable;
        };
        match ChaCha20Poly1305::new(&Key::from(key)).decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &ciphertext,
                aad: sealed.subject.as_bytes(),
            },
        ) {
            Ok(plaintext) => Revealed::Known(plaintext),
            Err(_) => {
                tracing::warn!(subject = sealed.subject, "sealed value does not decrypt");
                Revealed::Unreadable
            }
        }
    }

    /// Forgets `subject`: appends a tombstone for its key, so compaction removes the key
    /// record from the keys topic, and drops the key from this vault's memory. Other vaults
    /// drop it when they read the tombstone.
    pub async fn forget(&self, subject: &str) -> Result<(), EventStoreError> {
        let record = FutureRecord::<str, [u8]>::to(&self.topic).key(subject);
        self.producer
            .send(record, self.timeout)
            .await
            .map_err(|(error, _)| error)?;
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(subject.to_owned(), Entry::Forgotten);
        Ok(())
    }

    fn entry(&self, subject: &str) -> Option<Entry> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(subject)
            .cloned()
    }

    /// Appends a new key for `subject`, expecting the subject to have no record yet. If
    /// another writer's key came first, that one is read and used; if the append was refused
    /// for another record of its batch, it is tried again.
    async fn create_key(&self, subject: &str) -> Result<[u8; KEY_LEN], EventStoreError> {
        for _ in 0..CREATE_ATTEMPTS {
            let mut key = [0u8; KEY_LEN];
            (self.random)(&mut key).map_err(EventStoreError::Randomness)?;
            let record = FutureRecord::to(&self.topic)
                .key(subject)
                .payload(&key[..])
                .headers(expecting(-1));
            match self.producer.send(record, self.timeout).await {
                Ok(_) => {
                    self.keys
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(subject.to_owned(), Entry::Key(key));
                    return Ok(key);
                }
                Err((
                    KafkaError::MessageProduction(
                        RDKafkaErrorCode::InvalidRecord | RDKafkaErrorCode::InvalidDifferentRecord,
                    ),
                    _,
                )) => {
                    self.follower.catch_up(self.timeout).await?;
                    match self.entry(subject) {
                        Some(Entry::Key(key)) => return Ok(key),
                        Some(Entry::Forgotten) => {
                            return Err(EventStoreError::Forgotten(subject.to_owned()))
                        }
                        None => continue,
                    }
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
        Err(EventStoreError::TooManyConflicts {
            attempts: CREATE_ATTEMPTS,
        })
    }
}
