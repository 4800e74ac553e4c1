//! File-system steps whose durability the log relies on. The two public ones are also what
//! other crates use for their own small durable files, so there is one way to write them.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, LogError};

/// Makes directory entries (creations, renames, removals) in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Replaces `path` with `bytes` so that a crash leaves either the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let tmp = path.with_extension(tmp_extension(path));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .at(&tmp)?;
    file.write_all(bytes).at(&tmp)?;
    file.sync_all().at(&tmp)?;
    drop(file);
    fs::rename(&tmp, path).at(path)?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

fn tmp_extension(path: &Path) -> String {
    match path.extension() {
        Some(ext) => format!("{}.tmp", ext.to_string_lossy()),
        None => "tmp".to_owned(),
    }
}

/// Removes a file, treating "already gone" as success (recovery repeats removals).
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LogError::io(path, e)),
        _ => Ok(()),
    }
}

/// Asks the kernel to start writing `len` bytes of `file` at `from` to the disk, without
/// waiting for it (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`). Durability still comes
/// only from `fdatasync`; this makes the next one find less to do.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn start_write_back(file: &File, from: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(from), Ok(len)) = (i64::try_from(from), i64::try_from(len)) else {
        return Ok(()); // past any file this log writes
    };
    // SAFETY: the arguments are plain integers and a descriptor `file` keeps open for the
    // duration of the call; the call reads no memory of ours.
    let result =
        unsafe { libc::sync_file_range(file.as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere the kernel writes dirty pages back on its own schedule.
#[cfg(not(target_os = "linux"))]
pub(crate) fn start_write_back(_file: &File, _from: u64, _len: u64) -> std::io::Result<()> {
    Ok(())
}
