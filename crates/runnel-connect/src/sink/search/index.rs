//! The full-text index of one search connector (tantivy): its schema, the writes of a batch
//! committed together with the positions they reach, and queries.
//!
//! Every document is the latest value of one record key. The schema is fixed, whatever the
//! records hold:
//! - `_key`: the record key as text (a string key as it is, any other key as its JSON text),
//!   untokenized, so an upsert or delete replaces exactly the document of its key;
//! - `_text`: every selected string field, tokenized: what words without a field search;
//! - `_fields`: the selected fields as a JSON object, so `title:rust` searches one field;
//! - `_record`: the key, the value and where the record was read, stored for display.
//!
//! The positions (next offset per topic partition) are the commit payload, written by the
//! same commit as the documents: the index says itself how far it got.
//!
//! One process holds one writer per index directory (tantivy's lock), so the tasks of a
//! connector and the query endpoint share one [`SearchIndex`] through a registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, OwnedValue, Schema, TextFieldIndexing,
    TextOptions, STORED, STRING, TEXT,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

use crate::error::SinkError;
use crate::record::{Change, SinkRecord};
use crate::sink::Positions;

const KEY: &str = "_key";
const TEXT_FIELD: &str = "_text";
const FIELDS: &str = "_fields";
const RECORD: &str = "_record";

/// Why the index could not be opened, written or searched.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The query string does not parse (tantivy's message).
    #[error("{0}")]
    BadQuery(String),
    /// The disk failed or the index is locked by another process: a retry may succeed.
    #[error("search index {path}: {reason}")]
    Unavailable { path: String, reason: String },
    /// The directory holds something this sink cannot use.
    #[error("search index {path}: {reason}")]
    Unusable { path: String, reason: String },
}

impl From<IndexError> for SinkError {
    fn from(error: IndexError) -> SinkError {
        match error {
            IndexError::Unavailable { .. } => SinkError::Transient(error.to_string()),
            IndexError::BadQuery(_) | IndexError::Unusable { .. } => {
                SinkError::Fatal(error.to_string())
            }
        }
    }
}

/// Which top-level fields of a record value are indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every top-level field whose value is a string.
    Strings,
    /// These fields, whatever their JSON type (strings are also searched without a field).
    Named(Vec<String>),
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub score: f32,
    pub key: Value,
    pub document: Value,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// What `_record` stores.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    key: Value,
    value: Value,
    topic: String,
    partition: i32,
    offset: i64,
}

/// The commit payload: the positions the committed documents reach.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Payload {
    positions: Vec<StoredPosition>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredPosition {
    topic: String,
    partition: i32,
    next_offset: i64,
}

struct Fields {
    key: Field,
    text: Field,
    fields: Field,
    record: Field,
}

/// The writer side: created at the first write, with the positions of the last commit.
struct Writing {
    writer: Option<IndexWriter>,
    committed: Positions,
}

/// An open index, shared by every user of its directory in this process.
pub struct SearchIndex {
    path: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writing: Mutex<Writing>,
}

/// The indexes open in this process, by directory.
fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<SearchIndex>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<SearchIndex>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

impl SearchIndex {
    /// The index in `path`, created if missing, shared with whoever has it open already.
    /// Blocks on the file system.
    pub fn shared(path: &Path) -> Result<Arc<SearchIndex>, IndexError> {
        let mut open = lock(registry());
        if let Some(index) = open.get(path).and_then(Weak::upgrade) {
            return Ok(index);
        }
        let index = Arc::new(SearchIndex::open(path)?);
        open.retain(|_, index| index.strong_count() > 0);
        open.insert(path.to_owned(), Arc::downgrade(&index));
        Ok(index)
    }

    fn open(path: &Path) -> Result<SearchIndex, IndexError> {
        let failed = |e: TantivyError| classify(path, e);
        std::fs::create_dir_all(path).map_err(|e| IndexError::Unavailable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let directory = tantivy::directory::MmapDirectory::open(path)
            .map_err(|e| failed(TantivyError::from(e)))?;
        let index = Index::open_or_create(directory, schema()).map_err(failed)?;
        let schema = index.schema();
        let field = |name: &str| {
            schema.get_field(name).map_err(|_| IndexError::Unusable {
                path: path.display().to_string(),
                reason: format!("the index has no field {name}: it was not made by this sink"),
            })
        };
        let fields = Fields {
            key: field(KEY)?,
            text: field(TEXT_FIELD)?,
            fields: field(FIELDS)?,
            record: field(RECORD)?,
        };
        let committed = match index.load_metas().map_err(failed)?.payload {
            None => Positions::new(),
            Some(payload) => read_payload(&payload).map_err(|reason| IndexError::Unusable {
                path: path.display().to_string(),
                reason,
            })?,
        };
        // Reloaded by hand after each commit, so a search sees every committed batch.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(failed)?;
        Ok(SearchIndex {
            path: path.to_owned(),
            index,
            reader,
            fields,
            writing: Mutex::new(Writing {
                writer: None,
                committed,
            }),
        })
    }

    /// The positions of the last commit.
    pub fn committed(&self) -> Positions {
        lock(&self.writing).committed.clone()
    }

    /// Applies `records` in order, skipping those below the committed positions, and commits
    /// them with `positions`, atomically. A writer is created with `heap_bytes` of indexing
    /// memory the first time. Blocks on the file system.
    pub fn write(
        &self,
        records: &[SinkRecord],
        positions: &Positions,
        selection: &Selection,
        heap_bytes: usize,
    ) -> Result<(), IndexError> {
        let mut writing = lock(&self.writing);
        let mut next = writing.committed.clone();
        for (partition, offset) in positions {
            let stored = next.entry(partition.clone()).or_insert(*offset);
            *stored = (*stored).max(*offset);
        }
        let committed = writing.committed.clone();
        let writer = self.writer(&mut writing, heap_bytes)?;
        let result = self.apply(writer, records, &committed, selection, &next);
        if let Err(e) = result {
            // What was added since the last commit is dropped; a failed rollback leaves
            // the writer unusable, so the next write opens another.
            if writer.rollback().is_err() {
                writing.writer = None;
            }
            return Err(e);
        }
        writing.committed = next;
        self.reader.reload().map_err(|e| classify(&self.path, e))
    }

    /// Forgets the stored positions (the documents stay: a reread replaces them).
    pub fn reset_positions(&self, heap_bytes: usize) -> Result<(), IndexError> {
        let mut writing = lock(&self.writing);
        let writer = self.writer(&mut writing, heap_bytes)?;
        let mut commit = writer
            .prepare_commit()
            .map_err(|e| classify(&self.path, e))?;
        commit.set_payload(&payload(&Positions::new()));
        commit.commit().map_err(|e| classify(&self.path, e))?;
        writing.committed.clear();
        Ok(())
    }

    fn writer<'a>(
        &self,
        writing: &'a mut Writing,
        heap_bytes: usize,
    ) -> Result<&'a mut IndexWriter, IndexError> {
        if writing.writer.is_none() {
            let writer = self
                .index
                .writer_with_num_threads(1, heap_bytes)
                .map_err(|e| classify(&self.path, e))?;
            writing.writer = Some(writer);
        }
        writing
            .writer
            .as_mut()
            .ok_or_else(|| IndexError::Unavailable {
                path: self.path.display().to_string(),
                reason: "no index writer".to_owned(),
            })
    }

    fn apply(
        &self,
        writer: &mut IndexWriter,
        records: &[SinkRecord],
        committed: &Positions,
        selection: &Selection,
        next: &Positions,
    ) -> Result<(), IndexError> {
        let failed = |e: TantivyError| classify(&self.path, e);
        for record in records {
            let applied = committed
                .get(&(record.original_topic.clone(), record.partition))
                .is_some_and(|next| record.offset < *next);
            if applied {
                continue;
            }
            let change = record.change().map_err(|reason| IndexError::Unusable {
                path: self.path.display().to_string(),
                reason,
            })?;
            match change {
                Change::Upsert { key, value } => {
                    // Deletes apply to the documents added before them, so the new
                    // document replaces the old one.
                    writer.delete_term(Term::from_field_text(self.fields.key, &key_text(key)));
                    writer
                        .add_document(self.document(record, key.clone(), value.clone(), selection))
                        .map_err(failed)?;
                }
                Change::Delete { key } => {
                    writer.delete_term(Term::from_field_text(self.fields.key, &key_text(key)));
                }
            }
        }
        let mut commit = writer.prepare_commit().map_err(failed)?;
        commit.set_payload(&payload(next));
        commit.commit().map_err(failed)?;
        Ok(())
    }

    fn document(
        &self,
        record: &SinkRecord,
        key: Value,
        value: Value,
        selection: &Selection,
    ) -> TantivyDocument {
        let mut document = TantivyDocument::new();
        document.add_text(self.fields.key, key_text(&key));
        let selected = selected_fields(&value, selection);
        for text in selected.values().filter_map(Value::as_str) {
            document.add_text(self.fields.text, text);
        }
        if let Value::String(text) = &value {
            document.add_text(self.fields.text, text);
        }
        document.add_object(
            self.fields.fields,
            selected
                .into_iter()
                .map(|(name, value)| (name, OwnedValue::from(value)))
                .collect(),
        );
        let stored = Stored {
            key,
            value,
            topic: record.original_topic.clone(),
            partition: record.partition,
            offset: record.offset,
        };
        // A `Stored` is plain JSON data: encoding it cannot fail.
        let stored = serde_json::to_string(&stored).unwrap_or_default();
        document.add_text(self.fields.record, stored);
        document
    }

    /// The `limit` best matches of `query` in tantivy's query syntax: words search every
    /// selected string, `field:word` one field, `_key:k` the document of key `k`.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, IndexError> {
        let failed = |e: TantivyError| classify(&self.path, e);
        let parser =
            QueryParser::for_index(&self.index, vec![self.fields.text, self.fields.fields]);
        let query = parser
            .parse_query(query)
            .map_err(|e| IndexError::BadQuery(e.to_string()))?;
        let searcher = self.reader.searcher();
        let found = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(failed)?;
        let mut hits = Vec::with_capacity(found.len());
        for (score, address) in found {
            let document: TantivyDocument = searcher.doc(address).map_err(failed)?;
            let stored = document
                .get_first(self.fields.record)
                .and_then(|value| tantivy::schema::Value::as_str(&value))
                .and_then(|text| serde_json::from_str::<Stored>(text).ok())
                .ok_or_else(|| IndexError::Unusable {
                    path: self.path.display().to_string(),
                    reason: "a document without its stored record".to_owned(),
                })?;
            hits.push(Hit {
                score,
                key: stored.key,
                document: stored.value,
                topic: stored.topic,
                partition: stored.partition,
                offset: stored.offset,
            });
        }
        Ok(hits)
    }
}

fn schema() -> Schema {
    let mut schema = Schema::builder();
    schema.add_text_field(KEY, STRING);
    schema.add_text_field(TEXT_FIELD, TEXT);
    let tokenized = TextFieldIndexing::default()
        .set_tokenizer("default")
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    schema.add_json_field(
        FIELDS,
        JsonObjectOptions::default().set_indexing_options(tokenized),
    );
    schema.add_text_field(RECORD, TextOptions::default() | STORED);
    schema.build()
}

/// The selected top-level fields of a record value (none when it is not an object).
fn selected_fields(value: &Value, selection: &Selection) -> Map<String, Value> {
    let Value::Object(fields) = value else {
        return Map::new();
    };
    match selection {
        Selection::Strings => fields
            .iter()
            .filter(|(_, value)| value.is_string())
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        Selection::Named(names) => names
            .iter()
            .filter_map(|name| Some((name.clone(), fields.get(name)?.clone())))
            .collect(),
    }
}

/// The text that identifies a key's document: a string as it is, anything else as JSON.
pub fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn payload(positions: &Positions) -> String {
    let payload = Payload {
        positions: positions
            .iter()
            .map(|((topic, partition), next_offset)| StoredPosition {
                topic: topic.clone(),
                partition: *partition,
                next_offset: *next_offset,
            })
            .collect(),
    };
    // Strings and integers only: encoding cannot fail.
    serde_json::to_string(&payload).unwrap_or_default()
}

fn read_payload(text: &str) -> Result<Positions, String> {
    let payload: Payload = serde_json::from_str(text)
        .map_err(|e| format!("the commit payload is not this sink's positions: {e}"))?;
    Ok(payload
        .positions
        .into_iter()
        .map(|p| ((p.topic, p.partition), p.next_offset))
        .collect())
}

fn classify(path: &Path, error: TantivyError) -> IndexError {
    let path = path.display().to_string();
    let reason = error.to_string();
    match error {
        TantivyError::IoError(_)
        | TantivyError::LockFailure(..)
        | TantivyError::OpenDirectoryError(_)
        | TantivyError::OpenReadError(_)
        | TantivyError::OpenWriteError(_) => IndexError::Unavailable { path, reason },
        _ => IndexError::Unusable { path, reason },
    }
}

/// A lock whose holder panicked still guards consistent data here: the writer is rolled
/// back or replaced on any error, and the registry only holds weak references.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn top_level_strings_are_selected_unless_fields_are_named() {
        let value = json!({"title": "a", "stock": 4, "tags": ["x"], "body": "b"});
        let strings = selected_fields(&value, &Selection::Strings);
        assert_eq!(Value::Object(strings), json!({"title": "a", "body": "b"}));
        let named = Selection::Named(vec!["stock".to_owned(), "missing".to_owned()]);
        assert_eq!(
            Value::Object(selected_fields(&value, &named)),
            json!({"stock": 4})
        );
        assert!(selected_fields(&json!("text"), &Selection::Strings).is_empty());
    }

    #[test]
    fn string_keys_are_their_text_and_others_their_json() {
        assert_eq!(key_text(&json!("a1")), "a1");
        assert_eq!(key_text(&json!(17)), "17");
        assert_eq!(key_text(&json!({"id": 1})), r#"{"id":1}"#);
    }

    #[test]
    fn positions_survive_the_commit_payload() {
        let positions = Positions::from([(("t".to_owned(), 0), 10), (("u".to_owned(), 2), 3)]);
        assert_eq!(read_payload(&payload(&positions)).unwrap(), positions);
        assert!(read_payload("not json").is_err());
    }
}
