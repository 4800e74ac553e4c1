//! The standing queries, indexed so that an event is checked only against the queries it
//! could match.
//!
//! Each query gets a guard: a set of index keys at least one of which an event must have for
//! the query to hold. A term guards on (field, word), an equality on (field, value), a range
//! or existence test on the field being there; `all` takes the guard of one of its parts
//! (the one with the fewest keys, words and values before fields), `any` the union of its
//! parts' guards. A query with no guard (a `not`, or an `any` with an unguarded part) is
//! checked against every event. An event's keys are read off its fields once; the queries
//! under those keys (and the unguarded ones) are evaluated in full, their words, values and
//! fields looked up among the event's keys rather than read from the event again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::query::{tokens, Query};

/// What an event can have that a guard asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum IndexKey {
    /// The field has a value (not null).
    Field(String),
    /// The field's text holds the word.
    Word(String, String),
    /// The field equals the scalar, as `scalar_key` writes it.
    Scalar(String, String),
}

/// Numbers by value (so `1` and `1.0` meet), strings and booleans apart from them.
fn scalar_key(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => n.as_f64().map(|x| format!("n:{x:?}")),
        Value::String(s) => Some(format!("s:{s}")),
        Value::Bool(b) => Some(format!("b:{b}")),
        _ => None,
    }
}

/// A query as the index evaluates it: its predicates on words, values and fields become
/// index keys, looked up in the event's keys; ranges still read the event's numbers.
#[derive(Debug, Clone)]
enum Compiled {
    All(Vec<Compiled>),
    Any(Vec<Compiled>),
    Not(Box<Compiled>),
    Has(IndexKey),
    /// A predicate that holds for no event (an equality with no scalar).
    Never,
    Range(Query),
}

impl Compiled {
    fn new(query: &Query) -> Compiled {
        match query {
            Query::All(parts) => Compiled::All(parts.iter().map(Compiled::new).collect()),
            Query::Any(parts) => Compiled::Any(parts.iter().map(Compiled::new).collect()),
            Query::Not(part) => Compiled::Not(Box::new(Compiled::new(part))),
            Query::Term { field, term } => {
                Compiled::Has(IndexKey::Word(field.clone(), term.clone()))
            }
            Query::Equals { field, value } => match scalar_key(value) {
                Some(key) => Compiled::Has(IndexKey::Scalar(field.clone(), key)),
                None => Compiled::Never,
            },
            Query::Exists { field } => Compiled::Has(IndexKey::Field(field.clone())),
            Query::Range { .. } => Compiled::Range(query.clone()),
        }
    }

    fn matches(&self, event: &Value, keys: &HashSet<IndexKey>) -> bool {
        match self {
            Compiled::All(parts) => parts.iter().all(|p| p.matches(event, keys)),
            Compiled::Any(parts) => parts.iter().any(|p| p.matches(event, keys)),
            Compiled::Not(part) => !part.matches(event, keys),
            Compiled::Has(key) => keys.contains(key),
            Compiled::Never => false,
            Compiled::Range(range) => range.matches(event),
        }
    }
}

/// How much a guard key narrows the queries down: words most, fields least.
fn breadth(key: &IndexKey) -> u8 {
    match key {
        IndexKey::Word(..) => 0,
        IndexKey::Scalar(..) => 1,
        IndexKey::Field(_) => 2,
    }
}

fn guard(query: &Query) -> Option<BTreeSet<IndexKey>> {
    match query {
        Query::Term { field, term } => Some(BTreeSet::from([IndexKey::Word(
            field.clone(),
            term.clone(),
        )])),
        Query::Equals { field, value } => {
            scalar_key(value).map(|key| BTreeSet::from([IndexKey::Scalar(field.clone(), key)]))
        }
        Query::Range { field, .. } | Query::Exists { field } => {
            Some(BTreeSet::from([IndexKey::Field(field.clone())]))
        }
        Query::All(parts) => parts
            .iter()
            .filter_map(guard)
            .min_by_key(|keys| (keys.len(), keys.iter().map(breadth).max())),
        Query::Any(parts) => parts.iter().try_fold(BTreeSet::new(), |mut all, part| {
            all.extend(guard(part)?);
            Some(all)
        }),
        Query::Not(_) => None,
    }
}

/// The index keys of an event: every field with a value, every word of its text fields and
/// every scalar value, by field path (arrays standing for their elements).
fn event_keys(event: &Value) -> HashSet<IndexKey> {
    let mut keys = HashSet::new();
    let mut path = String::new();
    walk(event, &mut path, &mut keys);
    keys
}

fn walk(value: &Value, path: &mut String, keys: &mut HashSet<IndexKey>) {
    match value {
        Value::Null => {}
        Value::Object(fields) => {
            if !path.is_empty() {
                keys.insert(IndexKey::Field(path.clone()));
            }
            for (name, inner) in fields {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
                walk(inner, path, keys);
                path.truncate(len);
            }
        }
        Value::Array(elements) => {
            // A field leads into an array's elements, but not through them.
            for element in elements.iter().filter(|e| !e.is_null()) {
                keys.insert(IndexKey::Field(path.clone()));
                leaf(element, path, keys);
            }
        }
        scalar => {
            keys.insert(IndexKey::Field(path.clone()));
            leaf(scalar, path, keys);
        }
    }
}

fn leaf(value: &Value, path: &str, keys: &mut HashSet<IndexKey>) {
    if let Value::String(text) = value {
        for word in tokens(text) {
            keys.insert(IndexKey::Word(path.to_owned(), word));
        }
    }
    if let Some(key) = scalar_key(value) {
        keys.insert(IndexKey::Scalar(path.to_owned(), key));
    }
}

/// A query, its id, its compiled form and its guard (`None`: checked against every event).
#[derive(Debug)]
struct Indexed {
    id: String,
    query: Query,
    compiled: Compiled,
    guard: Option<BTreeSet<IndexKey>>,
}

/// The current queries, indexed by their guards. Queries sit in numbered slots (a freed
/// slot is reused), so matching an event gathers and evaluates slot numbers, not ids.
#[derive(Debug, Default)]
pub struct QueryIndex {
    slots: Vec<Option<Indexed>>,
    free: Vec<usize>,
    by_id: BTreeMap<String, usize>,
    by_key: HashMap<IndexKey, BTreeSet<usize>>,
    unguarded: BTreeSet<usize>,
}

impl QueryIndex {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Query> {
        let slot = *self.by_id.get(id)?;
        self.indexed(slot).map(|indexed| &indexed.query)
    }

    fn indexed(&self, slot: usize) -> Option<&Indexed> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// Adds the query `id`, or replaces it.
    pub fn insert(&mut self, id: &str, query: Query) {
        self.remove(id);
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let guard = guard(&query);
        match &guard {
            Some(keys) => {
                for key in keys {
                    self.by_key.entry(key.clone()).or_default().insert(slot);
                }
            }
            None => {
                self.unguarded.insert(slot);
            }
        }
        let indexed = Indexed {
            id: id.to_owned(),
            compiled: Compiled::new(&query),
            query,
            guard,
        };
        match self.slots.get_mut(slot) {
            Some(free) => *free = Some(indexed),
            None => self.slots.push(Some(indexed)),
        }
        self.by_id.insert(id.to_owned(), slot);
    }

    /// Removes the query `id`, if there is one.
    pub fn remove(&mut self, id: &str) -> Option<Query> {
        let slot = self.by_id.remove(id)?;
        let Indexed { query, guard, .. } = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        match guard {
            Some(keys) => {
                for key in keys {
                    if let Some(slots) = self.by_key.get_mut(&key) {
                        slots.remove(&slot);
                        if slots.is_empty() {
                            self.by_key.remove(&key);
                        }
                    }
                }
            }
            None => {
                self.unguarded.remove(&slot);
            }
        }
        Some(query)
    }

    /// The ids of the queries `event` matches, in order.
    pub fn matching(&self, event: &Value) -> Vec<&str> {
        let keys = event_keys(event);
        let mut candidates: Vec<usize> = self.unguarded.iter().copied().collect();
        for key in &keys {
            if let Some(slots) = self.by_key.get(key) {
                candidates.extend(slots);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut matched: Vec<&str> = candidates
            .into_iter()
            .filter_map(|slot| self.indexed(slot))
            .filter(|indexed| indexed.compiled.matches(event, &keys))
            .map(|indexed| indexed.id.as_str())
            .collect();
        matched.sort_unstable();
        matched
    }
}
