//! What the user asked each connector to be doing (running, paused, stopped), kept in the
//! connectors directory, in the file `.target-states`, so a paused or stopped connector
//! stays so after the worker restarts (Kafka Connect keeps it in its config topic). The
//! file is JSON, `{"<connector>": "PAUSED" | "STOPPED"}`; running connectors are absent,
//! so a directory without the file runs everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ConnectError;

const FILE_NAME: &str = ".target-states";
/// The largest file read (a line per connector at most).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// What the user asked a connector to be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Target {
    Running,
    Paused,
    Stopped,
}

/// The target states file of a connectors directory.
#[derive(Debug, Clone)]
pub(crate) struct TargetStates {
    path: PathBuf,
}

impl TargetStates {
    pub fn new(connectors_dir: &Path) -> TargetStates {
        TargetStates {
            path: connectors_dir.join(FILE_NAME),
        }
    }

    fn error(&self, reason: String) -> ConnectError {
        ConnectError::Write {
            path: self.path.display().to_string(),
            reason,
        }
    }

    /// The stored targets; none when the file does not exist.
    pub fn load(&self) -> Result<BTreeMap<String, Target>, ConnectError> {
        let size = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.error(e.to_string())),
        };
        if size > MAX_FILE_BYTES {
            return Err(self.error(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.error(e.to_string()))?;
        serde_json::from_str(&text)
            .map_err(|e| self.error(format!("not a target states file: {e}")))
    }

    /// Stores the targets of the connectors that are not running, replacing the file
    /// atomically (a crash leaves the old file or the new one).
    pub fn save<'a>(
        &self,
        targets: impl IntoIterator<Item = (&'a str, Target)>,
    ) -> Result<(), ConnectError> {
        let halted: BTreeMap<&str, Target> = targets
            .into_iter()
            .filter(|(_, target)| *target != Target::Running)
            .collect();
        let text = serde_json::to_string_pretty(&halted).map_err(|e| self.error(e.to_string()))?;
        let partial = self.path.with_extension("partial");
        std::fs::write(&partial, text).map_err(|e| self.error(e.to_string()))?;
        std::fs::rename(&partial, &self.path).map_err(|e| self.error(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn halted_targets_are_stored_and_running_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let states = TargetStates::new(dir.path());
        assert!(states.load().unwrap().is_empty());
        states
            .save([
                ("a", Target::Paused),
                ("b", Target::Running),
                ("c", Target::Stopped),
            ])
            .unwrap();
        let loaded = states.load().unwrap();
        assert_eq!(
            loaded.into_iter().collect::<Vec<_>>(),
            [
                ("a".to_owned(), Target::Paused),
                ("c".to_owned(), Target::Stopped)
            ]
        );
        std::fs::write(dir.path().join(".target-states"), "{oops").unwrap();
        assert!(states
            .load()
            .unwrap_err()
            .to_string()
            .contains(".target-states"));
    }
}
