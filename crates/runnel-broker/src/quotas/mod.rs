//! Client quotas: `producer_byte_rate`, `consumer_byte_rate` and `request_percentage` per
//! user and client id, kept in the data directory and enforced per connection.
//!
//! The configured quotas are a [`QuotaTable`] saved whole to `client-quotas.json` (format in
//! the crate README) with an atomic rename at every change: quotas change rarely and are few,
//! so one small file read at start-up is simpler than an internal topic and needs no replay.
//! The rates are measured in memory only ([`rate`]); a restart forgets them, as Kafka does.
//!
//! Enforcement, as KIP-219: the handler records what a request cost against the quota that
//! applies, answers at once with the throttle time in the response, and the connection stops
//! reading requests for that long (see `server`).

pub mod entity;
pub mod rate;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use runnel_log::Clock;
use serde::{Deserialize, Serialize};

pub use entity::{Client, Entity, Name, QuotaKey, QuotaTable, ANONYMOUS};
pub use rate::{SampledRate, Windows};

/// The file the quotas are saved in, under the data directory.
pub const FILE: &str = "client-quotas.json";
/// The version of that file's format.
const FORMAT_VERSION: u32 = 1;
/// At most this many entities may have quotas (each is a line of a small file read whole).
pub const MAX_ENTITIES: usize = 10_000;
/// At most this many rates are measured at once; stale ones are dropped first.
const MAX_RATES: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a client quota file of format {FORMAT_VERSION}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot save the client quotas: {0}")]
    Write(#[from] runnel_log::LogError),
    #[error("cannot encode the client quotas: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("at most {MAX_ENTITIES} entities may have quotas")]
    TooMany,
}

/// The file's content: the format version and one entry per entity.
#[derive(Debug, Serialize, Deserialize)]
struct QuotaFile {
    version: u32,
    entries: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    entity: Entity,
    quotas: BTreeMap<QuotaKey, f64>,
}

/// One change of an AlterClientQuotas request: set (`Some`) or remove (`None`) a quota.
pub type Change = (Entity, QuotaKey, Option<f64>);

/// The configured quotas and the rates measured against them.
#[derive(Debug)]
pub struct Quotas {
    path: PathBuf,
    table: RwLock<QuotaTable>,
    /// Serialises changes so the file is written in the order the table changes.
    saving: Mutex<()>,
    windows: Windows,
    clock: Arc<dyn Clock>,
    rates: Mutex<HashMap<(QuotaKey, String, String), SampledRate>>,
    /// When the rates were last swept of stale clients (ms, the clock's): a sweep walks
    /// every rate, so it runs at most once a window.
    swept_at_ms: AtomicU64,
}

impl Quotas {
    /// Reads the saved quotas of `data_dir`, if any.
    pub fn open(
        data_dir: &Path,
        windows: Windows,
        clock: Arc<dyn Clock>,
    ) -> Result<Quotas, QuotaError> {
        let path = data_dir.join(FILE);
        let table = match std::fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => QuotaTable::default(),
            Err(source) => return Err(QuotaError::Read { path, source }),
        };
        Ok(Quotas {
            path,
            table: RwLock::new(table),
            saving: Mutex::new(()),
            windows,
            clock,
            rates: Mutex::new(HashMap::new()),
            swept_at_ms: AtomicU64::new(0),
        })
    }

    /// A copy of the configured quotas.
    pub fn table(&self) -> QuotaTable {
        self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies `changes` and saves the result before it takes effect: on error nothing
    /// changed. Blocks on the disk.
    pub fn alter(&self, changes: &[Change]) -> Result<(), QuotaError> {
        let _saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = self.table();
        for (entity, key, value) in changes {
            next.set(entity, *key, *value);
        }
        if next.len() > MAX_ENTITIES && next.len() > self.table().len() {
            return Err(QuotaError::TooMany);
        }
        runnel_log::write_atomically(&self.path, &render(&next)?)?;
        *self.table.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }

    fn rates(&self) -> MutexGuard<'_, HashMap<(QuotaKey, String, String), SampledRate>> {
        self.rates.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `amount` spent by `client` against the quota of `key`, if one applies, and
    /// returns how long, in ms, the client must now be held back (0 when within it). The
    /// amount is in bytes for the byte rates, in ms of handling for `request_percentage`.
    pub fn record(&self, client: Client<'_>, key: QuotaKey, amount: f64) -> u64 {
        let (bucket, quota) = {
            let table = self.table.read().unwrap_or_else(|p| p.into_inner());
            if table.is_empty() {
                return 0;
            }
            match table.resolve(client, key) {
                Some((entity, quota)) => (entity::bucket(entity, client), quota),
                None => return 0,
            }
        };
        let now = u64::try_from(self.clock.now_ms()).unwrap_or(0);
        let windows = self.windows;
        let limit = key.per_second(quota);
        let id = (key, bucket.0, bucket.1);
        let mut rates = self.rates();
        if let Some(rate) = rates.get_mut(&id) {
            rate.record(windows, now, amount);
            return rate.throttle_ms(windows, now, limit);
        }
        if rates.len() >= MAX_RATES
            && now.saturating_sub(self.swept_at_ms.load(Ordering::Relaxed)) >= windows.window_ms
        {
            rates.retain(|_, rate| !rate.is_stale(windows, now));
            self.swept_at_ms.store(now, Ordering::Relaxed);
        }
        let mut rate = SampledRate::default();
        rate.record(windows, now, amount);
        let throttle = rate.throttle_ms(windows, now, limit);
        // Full of live clients (client ids are the clients' to choose): a new one is held to
        // this request alone rather than growing the map.
        if rates.len() < MAX_RATES {
            rates.insert(id, rate);
        }
        throttle
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<QuotaTable, QuotaError> {
    let corrupt = |message: String| QuotaError::Corrupt {
        path: path.to_owned(),
        message,
    };
    let file: QuotaFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(corrupt(format!("version {}", file.version)));
    }
    let mut table = QuotaTable::default();
    for entry in file.entries {
        if entry.entity.user.is_none() && entry.entity.client_id.is_none() {
            return Err(corrupt("an entry without user and client id".to_owned()));
        }
        for (key, value) in entry.quotas {
            key.validate(value).map_err(corrupt)?;
            table.set(&entry.entity, key, Some(value));
        }
    }
    Ok(table)
}

fn render(table: &QuotaTable) -> Result<Vec<u8>, QuotaError> {
    let file = QuotaFile {
        version: FORMAT_VERSION,
        entries: table
            .entities()
            .map(|(entity, quotas)| FileEntry {
                entity: entity.clone(),
                quotas: quotas.clone(),
            })
            .collect(),
    };
    let mut text = serde_json::to_vec_pretty(&file)?;
    text.push(b'\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    #[derive(Debug, Default)]
    struct ManualClock(AtomicI64);

    impl Clock for ManualClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn client_app() -> Entity {
        Entity {
            user: None,
            client_id: Some(Name::Named("app".to_owned())),
        }
    }

    #[test]
    fn quotas_are_saved_and_read_back_in_the_pinned_format() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::default());
        let quotas = Quotas::open(dir.path(), Windows::default(), clock.clone()).unwrap();
        let alice = Entity {
            user: Some(Name::Named("alice".to_owned())),
            client_id: Some(Name::Default),
        };
        quotas
            .alter(&[
                (client_app(), QuotaKey::ProducerByteRate, Some(1024.0)),
                (alice.clone(), QuotaKey::RequestPercentage, Some(50.0)),
            ])
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        let expected = r#"{
  "version": 1,
  "entries": [
    {
      "entity": {
        "client_id": {
          "named": "app"
        }
      },
      "quotas": {
        "producer_byte_rate": 1024.0
      }
    },
    {
      "entity": {
        "user": {
          "named": "alice"
        },
        "client_id": "default"
      },
      "quotas": {
        "request_percentage": 50.0
      }
    }
  ]
}
"#;
        assert_eq!(text, expected);
        let reopened = Quotas::open(dir.path(), Windows::default(), clock).unwrap();
        assert_eq!(reopened.table(), quotas.table());
    }

    #[test]
    fn a_corrupt_file_is_refused_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{\"version\": 2, \"entries\": []}").unwrap();
        let error = Quotas::open(
            dir.path(),
            Windows::default(),
            Arc::new(ManualClock::default()),
        )
        .unwrap_err();
        assert!(error.to_string().contains("version 2"), "{error}");
    }

    #[test]
    fn recording_throttles_only_clients_with_a_quota() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::default());
        let quotas = Quotas::open(dir.path(), Windows::default(), clock.clone()).unwrap();
        quotas
            .alter(&[(client_app(), QuotaKey::ProducerByteRate, Some(100.0))])
            .unwrap();
        let app = Client {
            user: ANONYMOUS,
            client_id: "app",
        };
        let other = Client {
            user: ANONYMOUS,
            client_id: "other",
        };
        // One window of quota passes at once; 500 more bytes wait 5 s.
        assert_eq!(quotas.record(app, QuotaKey::ProducerByteRate, 100.0), 0);
        assert_eq!(quotas.record(app, QuotaKey::ProducerByteRate, 500.0), 5000);
        assert_eq!(quotas.record(other, QuotaKey::ProducerByteRate, 1e9), 0);
        assert_eq!(quotas.record(app, QuotaKey::ConsumerByteRate, 1e9), 0);
        clock.0.store(6000, Ordering::SeqCst);
        assert_eq!(quotas.record(app, QuotaKey::ProducerByteRate, 0.0), 0);
    }
}
