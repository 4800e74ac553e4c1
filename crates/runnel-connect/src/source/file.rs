//! The file source (Kafka's `FileStreamSource`): the lines appended to a file, one record
//! each, followed like `tail -F`. The offset is the byte position after the last line
//! written to Kafka; a line is read only once its newline is there.

use std::io::SeekFrom;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{CommittedOffsets, SourceMap, SourceRecord, SourceTask};
use crate::config::ConnectorConfig;
use crate::convert::Converter;
use crate::error::{ConfigError, ConnectError};

pub(super) const CLASS_NAMES: &[&str] = &[
    "file",
    "FileStreamSource",
    "org.apache.kafka.connect.file.FileStreamSourceConnector",
];

/// The longest line read; a longer one fails the task rather than filling memory.
const MAX_LINE_BYTES: usize = 1024 * 1024;
/// How much of the file one read takes.
const READ_CHUNK: usize = 64 * 1024;
/// How long a poll waits when the file has nothing new.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// The most lines one poll returns.
const MAX_BATCH: usize = 100_000;

pub(super) struct FileSource {
    path: PathBuf,
    topic: String,
    batch_size: usize,
    converter: Converter,
    partition: SourceMap,
    /// The byte position after the last line returned.
    position: u64,
    /// The open file and its inode, to notice it was replaced (rotated).
    file: Option<(tokio::fs::File, u64)>,
    /// Bytes read after `position`, not yet returned as lines.
    pending: Vec<u8>,
}

impl FileSource {
    pub(super) fn new(config: &ConnectorConfig, _task: usize) -> Result<FileSource, ConfigError> {
        if config.parse("tasks.max", 1usize)? != 1 {
            return Err(ConfigError::invalid(
                "tasks.max",
                "the file source reads one file with one task: set tasks.max to 1",
            ));
        }
        let path = PathBuf::from(config.required("file")?);
        let batch_size = config.parse("batch.size", 2_000usize)?;
        if !(1..=MAX_BATCH).contains(&batch_size) {
            return Err(ConfigError::invalid(
                "batch.size",
                &format!("must be between 1 and {MAX_BATCH}"),
            ));
        }
        let mut partition = SourceMap::new();
        partition.insert(
            "filename".to_owned(),
            Value::String(path.display().to_string()),
        );
        Ok(FileSource {
            topic: config.required("topic")?.to_owned(),
            converter: Converter::parse(config, "value.converter")?,
            path,
            batch_size,
            partition,
            position: 0,
            file: None,
            pending: Vec::new(),
        })
    }

    fn failure(&self, what: &str, error: std::io::Error) -> ConnectError {
        ConnectError::Source(format!("cannot {what} {}: {error}", self.path.display()))
    }

    /// Opens the file at `position`.
    async fn open(&mut self) -> Result<(), ConnectError> {
        let mut file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| self.failure("open", e))?;
        let metadata = file
            .metadata()
            .await
            .map_err(|e| self.failure("read the metadata of", e))?;
        if metadata.len() < self.position {
            // Truncated, or another file now: start it over.
            self.position = 0;
        }
        file.seek(SeekFrom::Start(self.position))
            .await
            .map_err(|e| self.failure("seek in", e))?;
        self.pending.clear();
        self.file = Some((file, metadata.ino()));
        Ok(())
    }

    /// Whether the path now names another file, or the file was truncated below what was
    /// read: then it is read again from its start.
    async fn replaced(&self, inode: u64) -> bool {
        match tokio::fs::metadata(&self.path).await {
            Ok(metadata) => {
                metadata.ino() != inode
                    || metadata.len() < self.position + self.pending.len() as u64
            }
            // Moved away and not yet created again: keep the old one.
            Err(_) => false,
        }
    }

    /// Reads what was appended, up to a chunk. Returns the number of bytes read.
    async fn read_more(&mut self) -> Result<usize, ConnectError> {
        let Some((file, _)) = &mut self.file else {
            return Ok(0);
        };
        let mut chunk = vec![0; READ_CHUNK];
        let read = file.read(&mut chunk).await;
        let read = read.map_err(|e| self.failure("read", e))?;
        self.pending.extend_from_slice(&chunk[..read]);
        Ok(read)
    }

    /// Takes the complete lines of `pending`, up to a batch.
    fn take_lines(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let mut records = Vec::new();
        let mut consumed = 0;
        while records.len() < self.batch_size {
            let rest = &self.pending[consumed..];
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                break;
            };
            let mut line = &rest[..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            consumed += end + 1;
            let position = self.position + consumed as u64;
            records.push(self.record(line, position)?);
        }
        self.pending.drain(..consumed);
        self.position += consumed as u64;
        if self.pending.len() > MAX_LINE_BYTES {
            return Err(ConnectError::Source(format!(
                "{} has a line longer than {MAX_LINE_BYTES} bytes at byte {}",
                self.path.display(),
                self.position
            )));
        }
        Ok(records)
    }

    fn record(&self, line: &[u8], position: u64) -> Result<SourceRecord, ConnectError> {
        let value = match self.converter {
            Converter::String | Converter::Bytes => line.to_vec(),
            Converter::Json { .. } => {
                let text = Value::String(String::from_utf8_lossy(line).into_owned());
                self.converter
                    .to_bytes(Some(&text))
                    .map_err(ConnectError::Source)?
                    .unwrap_or_default()
            }
        };
        let mut offset = SourceMap::new();
        offset.insert("position".to_owned(), Value::from(position));
        Ok(SourceRecord {
            source_partition: self.partition.clone(),
            source_offset: offset,
            topic: self.topic.clone(),
            key: None,
            value: Some(value),
            headers: Vec::new(),
            timestamp_ms: None,
        })
    }
}

#[async_trait]
impl SourceTask for FileSource {
    async fn start(&mut self, committed: &CommittedOffsets) -> Result<(), ConnectError> {
        self.position = committed
            .iter()
            .find(|(partition, _)| *partition == self.partition)
            .and_then(|(_, offset)| offset.get("position")?.as_u64())
            .unwrap_or(0);
        self.open().await
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let mut records = self.take_lines()?;
        if records.len() < self.batch_size && self.read_more().await? > 0 {
            records.extend(self.take_lines()?);
        }
        if !records.is_empty() {
            return Ok(records);
        }
        if let Some((_, inode)) = &self.file {
            if self.replaced(*inode).await {
                tracing::info!(file = %self.path.display(), "the file was replaced or truncated; reading it from its start");
                self.position = 0;
                self.open().await?;
                return Ok(Vec::new());
            }
        }
        tokio::time::sleep(IDLE_WAIT).await;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn source(path: &std::path::Path, batch: usize, converter: &str) -> FileSource {
        let settings = [
            ("name", "lines"),
            ("connector.class", "file"),
            ("file", path.to_str().unwrap()),
            ("topic", "t"),
            ("batch.size", &batch.to_string()),
            ("value.converter", converter),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        FileSource::new(&ConnectorConfig::new(settings).unwrap(), 0).unwrap()
    }

    fn values(records: &[SourceRecord]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
            .collect()
    }

    fn append(path: &std::path::Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[tokio::test]
    async fn complete_lines_are_read_in_batches_with_their_positions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "one\r\ntwo\nthree\nfou");
        let mut source = source(&path, 2, "string");
        source.start(&[]).await.unwrap();
        let first = source.poll().await.unwrap();
        assert_eq!(values(&first), ["one", "two"]);
        assert_eq!(first[1].source_offset["position"], 9);
        assert_eq!(values(&source.poll().await.unwrap()), ["three"]);
        assert!(source.poll().await.unwrap().is_empty(), "half a line waits");
        append(&path, "r\n");
        let last = source.poll().await.unwrap();
        assert_eq!(values(&last), ["four"]);
        assert_eq!(last[0].source_offset["position"], 20);
        assert_eq!(
            last[0].source_partition["filename"],
            path.display().to_string()
        );
    }

    #[tokio::test]
    async fn a_restart_resumes_after_the_committed_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "one\ntwo\n");
        let mut source = source(&path, 10, "json");
        let committed = [(source.partition.clone(), {
            let mut offset = SourceMap::new();
            offset.insert("position".to_owned(), Value::from(4));
            offset
        })];
        source.start(&committed).await.unwrap();
        assert_eq!(values(&source.poll().await.unwrap()), ["\"two\""]);
    }

    #[tokio::test]
    async fn a_truncated_or_replaced_file_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "old line\n");
        let mut source = source(&path, 10, "string");
        source.start(&[]).await.unwrap();
        assert_eq!(values(&source.poll().await.unwrap()), ["old line"]);
        std::fs::rename(&path, dir.path().join("in.txt.1")).unwrap();
        append(&path, "new\n");
        let mut read = Vec::new();
        for _ in 0..3 {
            read.extend(values(&source.poll().await.unwrap()));
        }
        assert_eq!(read, ["new"]);
    }

    #[tokio::test]
    async fn a_missing_file_is_a_clear_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.txt");
        let error = source(&path, 10, "string").start(&[]).await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("cannot open") && message.contains("absent.txt"),
            "{message}"
        );
    }
}
