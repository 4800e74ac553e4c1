//! The local copy of every task's state stores, in one redb database per application
//! instance (`<state dir>/<application id>/state.redb`).
//!
//! Two tables:
//! - `entries`: key = store name length (u16, big-endian), store name, partition (u32,
//!   big-endian), entry key; value = entry value. A removed entry is deleted.
//! - `checkpoints`: key = `<changelog topic>/<partition>`; value = the changelog offset the
//!   entries of that partition are current up to (exclusive).
//!
//! Entries and checkpoints of one commit are written in one redb transaction, which redb
//! makes durable (fsync) before `commit` returns. So after any crash the copy is the state
//! as of some commit, with the checkpoint saying which: restoring replays the changelog from
//! the checkpoint on.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, ReadableDatabase, TableDefinition};

use crate::error::RunnerError;
use crate::metrics::StoreSize;

const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");
const CHECKPOINTS: TableDefinition<&str, i64> = TableDefinition::new("checkpoints");

/// A stored key and value.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

/// One change to write to the local copy.
#[derive(Debug, Clone)]
pub(crate) struct LocalChange {
    pub store: String,
    pub partition: u32,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// The local copy of the stores.
#[derive(Debug)]
pub(crate) struct LocalState {
    db: Database,
}

fn prefix(store: &str, partition: u32) -> Vec<u8> {
    let name = store.as_bytes();
    let length = u16::try_from(name.len()).unwrap_or(u16::MAX);
    let mut prefix = Vec::with_capacity(2 + name.len() + 4);
    prefix.extend_from_slice(&length.to_be_bytes());
    prefix.extend_from_slice(&name[..usize::from(length)]);
    prefix.extend_from_slice(&partition.to_be_bytes());
    prefix
}

/// The smallest key greater than every key starting with `prefix`, if any.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// What an entry counts for in a store's size: its key and value bytes.
pub(crate) fn entry_bytes(key: &[u8], value_len: usize) -> u64 {
    (key.len() + value_len) as u64
}

fn checkpoint_key(changelog: &str, partition: u32) -> String {
    format!("{changelog}/{partition}")
}

impl LocalState {
    pub fn open(dir: &Path) -> Result<LocalState, RunnerError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join("state.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(ENTRIES)?;
        txn.open_table(CHECKPOINTS)?;
        txn.commit()?;
        Ok(LocalState { db })
    }

    /// The entries of one store's partition, in key order.
    pub fn entries(&self, store: &str, partition: u32) -> Result<Vec<Entry>, RunnerError> {
        let start = prefix(store, partition);
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ENTRIES)?;
        let range = match prefix_end(&start) {
            Some(end) => table.range(start.as_slice()..end.as_slice())?,
            None => table.range(start.as_slice()..)?,
        };
        let mut entries = Vec::new();
        for item in range {
            let (key, value) = item?;
            entries.push((key.value()[start.len()..].to_vec(), value.value().to_vec()));
        }
        Ok(entries)
    }

    pub fn checkpoint(&self, changelog: &str, partition: u32) -> Result<Option<i64>, RunnerError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CHECKPOINTS)?;
        let offset = table.get(checkpoint_key(changelog, partition).as_str())?;
        Ok(offset.map(|o| o.value()))
    }

    /// Applies changes and moves checkpoints in one durable transaction. `sizes` (per store
    /// and partition) follows the entries replaced, added and removed.
    pub fn apply(
        &self,
        changes: &[LocalChange],
        checkpoints: &[(String, u32, i64)],
        sizes: &mut BTreeMap<(String, u32), StoreSize>,
    ) -> Result<(), RunnerError> {
        let txn = self.db.begin_write()?;
        {
            let mut entries = txn.open_table(ENTRIES)?;
            for change in changes {
                let mut key = prefix(&change.store, change.partition);
                key.extend_from_slice(&change.key);
                let previous = match &change.value {
                    Some(value) => entries.insert(key.as_slice(), value.as_slice())?,
                    None => entries.remove(key.as_slice())?,
                };
                let previous_len = previous.map(|old| old.value().len());
                let size = sizes
                    .entry((change.store.clone(), change.partition))
                    .or_default();
                if let Some(len) = previous_len {
                    size.entries = size.entries.saturating_sub(1);
                    size.bytes = size.bytes.saturating_sub(entry_bytes(&change.key, len));
                }
                if let Some(value) = &change.value {
                    size.entries += 1;
                    size.bytes += entry_bytes(&change.key, value.len());
                }
            }
            let mut table = txn.open_table(CHECKPOINTS)?;
            for (changelog, partition, offset) in checkpoints {
                table.insert(checkpoint_key(changelog, *partition).as_str(), *offset)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Forgets one store's partition, entries and checkpoint: the changelog no longer
    /// matches it.
    pub fn wipe(&self, store: &str, changelog: &str, partition: u32) -> Result<(), RunnerError> {
        let start = prefix(store, partition);
        let txn = self.db.begin_write()?;
        {
            let mut entries = txn.open_table(ENTRIES)?;
            let end = prefix_end(&start);
            entries.retain(|key, _| {
                !(key >= start.as_slice() && end.as_deref().is_none_or(|end| key < end))
            })?;
            let mut table = txn.open_table(CHECKPOINTS)?;
            table.remove(checkpoint_key(changelog, partition).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn change(store: &str, partition: u32, key: &[u8], value: Option<&[u8]>) -> LocalChange {
        LocalChange {
            store: store.into(),
            partition,
            key: key.to_vec(),
            value: value.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn entries_are_kept_per_store_and_partition_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut sizes = BTreeMap::new();
        {
            let local = LocalState::open(dir.path()).unwrap();
            local
                .apply(
                    &[
                        change("counts", 0, b"a", Some(b"1")),
                        change("counts", 1, b"a", Some(b"9")),
                        change("counts", 0, b"b", Some(b"2")),
                        change("count", 0, b"sa", Some(b"x")),
                    ],
                    &[("app-counts-changelog".into(), 0, 3)],
                    &mut sizes,
                )
                .unwrap();
            local
                .apply(
                    &[
                        change("counts", 0, b"a", None),
                        change("counts", 0, b"b", Some(b"200")),
                        change("counts", 1, b"gone", None),
                    ],
                    &[("app-counts-changelog".into(), 0, 4)],
                    &mut sizes,
                )
                .unwrap();
        }
        // Replaced and removed entries no longer count; removing what was not there
        // changes nothing.
        let size = |entries, bytes| StoreSize { entries, bytes };
        assert_eq!(
            sizes,
            BTreeMap::from([
                (("count".to_owned(), 0), size(1, 3)),
                (("counts".to_owned(), 0), size(1, 4)),
                (("counts".to_owned(), 1), size(1, 2)),
            ])
        );
        let local = LocalState::open(dir.path()).unwrap();
        assert_eq!(
            local.entries("counts", 0).unwrap(),
            vec![(b"b".to_vec(), b"200".to_vec())]
        );
        assert_eq!(
            local.entries("counts", 1).unwrap(),
            vec![(b"a".to_vec(), b"9".to_vec())]
        );
        assert_eq!(
            local.entries("count", 0).unwrap(),
            vec![(b"sa".to_vec(), b"x".to_vec())]
        );
        assert_eq!(
            local.checkpoint("app-counts-changelog", 0).unwrap(),
            Some(4)
        );
        assert_eq!(local.checkpoint("app-counts-changelog", 1).unwrap(), None);

        local.wipe("counts", "app-counts-changelog", 0).unwrap();
        assert!(local.entries("counts", 0).unwrap().is_empty());
        assert_eq!(local.entries("counts", 1).unwrap().len(), 1);
        assert_eq!(local.checkpoint("app-counts-changelog", 0).unwrap(), None);
    }

    #[test]
    fn the_prefix_end_carries_past_full_bytes() {
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}
