//! Producer id allocation: unique across restarts.
//!
//! Ids are handed out from blocks; the end of the current block is written to the data
//! directory (`producer-id-block`, a checkpoint) before any id of the block is used, so a
//! crash can waste the rest of a block but never repeat an id.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use runnel_log::LogError;

const FILE: &str = "producer-id-block";
const BLOCK: i64 = 1000;

#[derive(Debug)]
struct Block {
    next: i64,
    end: i64,
}

#[derive(Debug)]
pub struct ProducerIds {
    path: PathBuf,
    block: Mutex<Block>,
}

impl ProducerIds {
    pub fn open(data_dir: &Path) -> Result<Self, LogError> {
        let path = data_dir.join(FILE);
        let start = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i64>().map_err(|_| LogError::Io {
                path: path.clone(),
                source: std::io::Error::other("not a producer id"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => return Err(LogError::Io { path, source }),
        };
        // Everything below the recorded end may have been handed out: start above it.
        Ok(ProducerIds {
            path,
            block: Mutex::new(Block {
                next: start,
                end: start,
            }),
        })
    }

    /// A producer id never handed out before.
    pub fn next(&self) -> Result<i64, LogError> {
        let mut block = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if block.next == block.end {
            let end = block.end + BLOCK;
            runnel_log::write_atomically(&self.path, end.to_string().as_bytes())?;
            block.end = end;
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ids_are_never_repeated_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ProducerIds::open(dir.path()).unwrap();
        let first: Vec<i64> = (0..3).map(|_| ids.next().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2]);
        drop(ids);
        let reopened = ProducerIds::open(dir.path()).unwrap();
        assert_eq!(reopened.next().unwrap(), BLOCK);
    }
}
