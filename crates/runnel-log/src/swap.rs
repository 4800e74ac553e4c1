//! Crash-safe replacement of a run of segments by the cleaner's output.
//!
//! The cleaner writes the replacement for segments `[base, end)` as `{base}.log.cleaned` (and
//! its two index files), syncs them, and then:
//!
//! 1. writes the manifest `{base}.swap` (temporary file, sync, rename, directory sync): the
//!    commit point;
//! 2. removes the files of the replaced segments other than `base` itself;
//! 3. renames each `.cleaned` file over its final name (the log file last);
//! 4. removes the manifest.
//!
//! Every step after the commit point can be repeated, so recovery simply repeats them all when
//! it finds a manifest; without one, leftover `.cleaned` files are uncommitted and removed.
//! Either way the log holds, for every key, its latest value.

use std::fs;
use std::path::Path;

use crate::checkpoint;
use crate::error::{IoContext, LogError};
use crate::fsutil;
use crate::segment::{self, INDEX_EXT, LOG_EXT, TIME_INDEX_EXT};

const MANIFEST_EXT: &str = "swap";
const MAGIC: &[u8; 8] = b"RNLSWAP1";

/// Counts the file-system steps of a swap so a test can stop after any of them, leaving the
/// directory as a crash at that moment would.
#[derive(Debug)]
pub(crate) struct Steps {
    remaining: Option<usize>,
}

impl Steps {
    pub(crate) fn unlimited() -> Self {
        Steps { remaining: None }
    }

    #[cfg(test)]
    pub(crate) fn crash_after(steps: usize) -> Self {
        Steps {
            remaining: Some(steps),
        }
    }

    fn step(&mut self) -> Result<(), LogError> {
        match &mut self.remaining {
            Some(0) => Err(LogError::io(
                "<simulated crash>",
                std::io::Error::other("simulated crash"),
            )),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// Performs steps 1-4 for the cleaned segment at `base` replacing the segments whose base
/// offsets are `replaced` (all in `[base, end)`).
pub(crate) fn commit(
    dir: &Path,
    base: i64,
    end: i64,
    replaced: &[i64],
    steps: &mut Steps,
) -> Result<(), LogError> {
    debug_assert!(replaced.iter().all(|&b| b >= base && b < end));
    steps.step()?;
    write_manifest(&manifest_path(dir, base), base, end)?;
    complete(dir, base, replaced, steps)
}

fn complete(dir: &Path, base: i64, replaced: &[i64], steps: &mut Steps) -> Result<(), LogError> {
    for &old in replaced.iter().filter(|&&b| b != base) {
        for ext in [LOG_EXT, INDEX_EXT, TIME_INDEX_EXT] {
            steps.step()?;
            fsutil::remove_if_exists(&segment::path(dir, old, ext))?;
        }
    }
    steps.step()?;
    fsutil::sync_dir(dir)?;
    for ext in [INDEX_EXT, TIME_INDEX_EXT, LOG_EXT] {
        let cleaned = segment::cleaned_path(dir, base, ext);
        if cleaned.exists() {
            steps.step()?;
            let target = segment::path(dir, base, ext);
            fs::rename(&cleaned, &target).at(&target)?;
        }
    }
    steps.step()?;
    fsutil::sync_dir(dir)?;
    steps.step()?;
    fsutil::remove_if_exists(&manifest_path(dir, base))?;
    fsutil::sync_dir(dir)
}

/// Finishes every committed swap found in `dir`. Runs before the segments are listed.
pub(crate) fn recover(dir: &Path) -> Result<(), LogError> {
    for entry in fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(MANIFEST_EXT) {
            continue;
        }
        let Some((base, end)) = read_manifest(&path)? else {
            tracing::warn!(manifest = %path.display(), "removing unreadable swap manifest");
            fsutil::remove_if_exists(&path)?;
            continue;
        };
        let replaced = segment_bases_in(dir, base, end)?;
        tracing::info!(base, end, "completing an interrupted compaction swap");
        complete(dir, base, &replaced, &mut Steps::unlimited())?;
    }
    Ok(())
}

fn segment_bases_in(dir: &Path, base: i64, end: i64) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let name = entry.at(dir)?.file_name().to_string_lossy().into_owned();
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if [LOG_EXT, INDEX_EXT, TIME_INDEX_EXT].contains(&ext) {
            if let Ok(b) = stem.parse::<i64>() {
                if b >= base && b < end && !bases.contains(&b) {
                    bases.push(b);
                }
            }
        }
    }
    Ok(bases)
}

fn manifest_path(dir: &Path, base: i64) -> std::path::PathBuf {
    segment::path(dir, base, MANIFEST_EXT)
}

/// Manifest: a checkpoint record of two values, base and end.
fn write_manifest(path: &Path, base: i64, end: i64) -> Result<(), LogError> {
    checkpoint::write_values(path, MAGIC, &[base, end])
}

fn read_manifest(path: &Path) -> Result<Option<(i64, i64)>, LogError> {
    Ok(checkpoint::read_values::<2>(path, MAGIC)?.map(|[base, end]| (base, end)))
}
