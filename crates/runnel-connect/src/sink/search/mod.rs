//! The search-index sink: full-text indexing of records into an index the connector keeps
//! (tantivy, in `search.index.dir/<connector>`), one document per record key. An upsert
//! replaces the document of its key, a tombstone or a Debezium delete removes it. Each batch
//! is one commit that also stores the positions it reaches, so a restart resumes where the
//! index is and indexes nothing twice. The REST API searches the index.
//!
//! Settings: `search.index.dir` (required), `search.fields` (the top-level fields to index;
//! default every top-level string field), `search.writer.heap.bytes` (the indexing memory;
//! default 32 MiB, at least 15 MB).

mod index;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::ConnectorConfig;
use crate::error::{ConfigError, SinkError};
use crate::record::SinkRecord;
use crate::sink::{Positions, SinkTask};

pub use index::{Hit, IndexError};
use index::{SearchIndex, Selection};

/// The connector classes of this sink.
pub const CLASSES: [&str; 2] = ["search", "SearchSink"];

const DEFAULT_HEAP_BYTES: usize = 32 * 1024 * 1024;
/// tantivy's least indexing memory for one thread.
const MIN_HEAP_BYTES: usize = 15_000_000;
const MAX_HEAP_BYTES: usize = 1024 * 1024 * 1024;
/// The most hits one query answers.
pub const MAX_HITS: usize = 1_000;

/// Where a search connector keeps its index, and how it indexes.
#[derive(Debug, Clone)]
pub struct SearchSettings {
    path: PathBuf,
    selection: Selection,
    heap_bytes: usize,
}

impl SearchSettings {
    pub fn parse(config: &ConnectorConfig) -> Result<SearchSettings, ConfigError> {
        let dir = config.required("search.index.dir")?;
        let fields = config.list("search.fields");
        let selection = if fields.is_empty() {
            Selection::Strings
        } else {
            Selection::Named(fields)
        };
        let heap_bytes = config.parse("search.writer.heap.bytes", DEFAULT_HEAP_BYTES)?;
        if !(MIN_HEAP_BYTES..=MAX_HEAP_BYTES).contains(&heap_bytes) {
            return Err(ConfigError::invalid(
                "search.writer.heap.bytes",
                &format!("must be between {MIN_HEAP_BYTES} and {MAX_HEAP_BYTES}"),
            ));
        }
        Ok(SearchSettings {
            path: PathBuf::from(dir).join(config.name()),
            selection,
            heap_bytes,
        })
    }

    /// The `limit` best matches of `query` (tantivy's query syntax) in the index.
    pub async fn search(&self, query: String, limit: usize) -> Result<Vec<Hit>, IndexError> {
        let path = self.path.clone();
        blocking(move || SearchIndex::shared(&path)?.search(&query, limit)).await
    }
}

pub(crate) struct SearchSink {
    settings: Arc<SearchSettings>,
    /// Opened at the first use, so that creating a connector touches no disk.
    index: Option<Arc<SearchIndex>>,
}

impl SearchSink {
    pub(crate) fn new(config: &ConnectorConfig) -> Result<SearchSink, ConfigError> {
        Ok(SearchSink {
            settings: Arc::new(SearchSettings::parse(config)?),
            index: None,
        })
    }

    async fn index(&mut self) -> Result<Arc<SearchIndex>, SinkError> {
        if let Some(index) = &self.index {
            return Ok(Arc::clone(index));
        }
        let path = self.settings.path.clone();
        let index = blocking(move || SearchIndex::shared(&path)).await?;
        Ok(Arc::clone(self.index.insert(index)))
    }
}

#[async_trait]
impl SinkTask for SearchSink {
    fn check(&self, record: &SinkRecord) -> Result<(), String> {
        record.change().map(drop)
    }

    async fn put(
        &mut self,
        records: &[SinkRecord],
        positions: &Positions,
    ) -> Result<(), SinkError> {
        let index = self.index().await?;
        let settings = Arc::clone(&self.settings);
        let records = records.to_vec();
        let positions = positions.clone();
        blocking(move || {
            index.write(
                &records,
                &positions,
                &settings.selection,
                settings.heap_bytes,
            )
        })
        .await
        .map_err(SinkError::from)
    }

    async fn stored_positions(
        &mut self,
        partitions: &[(String, i32)],
    ) -> Result<Positions, SinkError> {
        let committed = self.index().await?.committed();
        Ok(partitions
            .iter()
            .filter_map(|p| Some((p.clone(), *committed.get(p)?)))
            .collect())
    }

    async fn reset_positions(&mut self) -> Result<(), SinkError> {
        let index = self.index().await?;
        let heap_bytes = self.settings.heap_bytes;
        blocking(move || index.reset_positions(heap_bytes))
            .await
            .map_err(SinkError::from)
    }
}

/// Runs index work, which blocks on the file system, off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, IndexError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(IndexError::Unusable {
            path: String::new(),
            reason: format!("the index work did not finish: {e}"),
        })
    })
}
