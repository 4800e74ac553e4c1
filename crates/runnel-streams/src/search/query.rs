//! A standing query: a boolean combination of predicates on an event's fields, written as
//! JSON, and its direct evaluation against one event.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StreamsError;

/// A query, as its JSON reads (externally tagged, snake case):
///
/// - `{"all": [q, ...]}`, `{"any": [q, ...]}`, `{"not": q}`;
/// - `{"term": {"field": "title", "term": "kafka"}}`: the field's text holds the word;
/// - `{"equals": {"field": "country", "value": "FR"}}`: a string, number or boolean;
/// - `{"range": {"field": "price", "gte": 10, "lt": 100}}` (any of `gt`, `gte`, `lt`, `lte`);
/// - `{"exists": {"field": "coupon"}}`: the field is there and not null.
///
/// A field is a path of object keys joined by dots (`user.country`). Where it leads to an
/// array, each element counts: the predicate holds if it holds for one of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Query {
    All(Vec<Query>),
    Any(Vec<Query>),
    Not(Box<Query>),
    Term {
        field: String,
        term: String,
    },
    Equals {
        field: String,
        value: Value,
    },
    Range {
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gt: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gte: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lt: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lte: Option<f64>,
    },
    Exists {
        field: String,
    },
}

/// The most predicates one query may hold, and how deep it may nest: a query is a record
/// of a topic, so its size is bounded like any input.
pub const MAX_QUERY_NODES: usize = 1_000;
const MAX_QUERY_DEPTH: usize = 32;

impl Query {
    /// The query in `bytes` (JSON), or why it is not one.
    pub fn from_json(bytes: &[u8]) -> Result<Query, StreamsError> {
        let query: Query =
            serde_json::from_slice(bytes).map_err(|e| StreamsError::InvalidQuery(e.to_string()))?;
        query.check()?;
        Ok(query)
    }

    /// Refuses what could never match as meant: a term that is not one word, an equality
    /// with an object or array, a query too large or too deep.
    pub fn check(&self) -> Result<(), StreamsError> {
        let mut nodes = 0;
        self.check_node(0, &mut nodes)
    }

    fn check_node(&self, depth: usize, nodes: &mut usize) -> Result<(), StreamsError> {
        *nodes += 1;
        if *nodes > MAX_QUERY_NODES || depth > MAX_QUERY_DEPTH {
            return Err(StreamsError::InvalidQuery(format!(
                "more than {MAX_QUERY_NODES} predicates or {MAX_QUERY_DEPTH} levels"
            )));
        }
        match self {
            Query::All(queries) | Query::Any(queries) => queries
                .iter()
                .try_for_each(|q| q.check_node(depth + 1, nodes)),
            Query::Not(query) => query.check_node(depth + 1, nodes),
            Query::Term { term, .. } => match tokens(term).as_slice() {
                [word] if word == term => Ok(()),
                _ => Err(StreamsError::InvalidQuery(format!(
                    "term {term:?} is not one lower-case word: combine terms with \"all\""
                ))),
            },
            Query::Equals { value, .. } => match value {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
                _ => Err(StreamsError::InvalidQuery(
                    "equals takes a string, a number or a boolean".into(),
                )),
            },
            Query::Range { .. } | Query::Exists { .. } => Ok(()),
        }
    }

    /// Whether the query holds for `event`.
    pub fn matches(&self, event: &Value) -> bool {
        match self {
            Query::All(queries) => queries.iter().all(|q| q.matches(event)),
            Query::Any(queries) => queries.iter().any(|q| q.matches(event)),
            Query::Not(query) => !query.matches(event),
            Query::Term { field, term } => resolve(event, field)
                .iter()
                .any(|v| v.as_str().is_some_and(|text| tokens(text).contains(term))),
            Query::Equals { field, value } => {
                resolve(event, field).iter().any(|v| same_scalar(v, value))
            }
            Query::Range {
                field,
                gt,
                gte,
                lt,
                lte,
            } => resolve(event, field).iter().any(|v| {
                v.as_f64().is_some_and(|x| {
                    gt.is_none_or(|b| x > b)
                        && gte.is_none_or(|b| x >= b)
                        && lt.is_none_or(|b| x < b)
                        && lte.is_none_or(|b| x <= b)
                })
            }),
            Query::Exists { field } => !resolve(event, field).is_empty(),
        }
    }
}

/// The words of a text: lower-cased runs of letters and digits.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The values `field` leads to in `event`, an array standing for its elements, nulls left
/// out.
pub(super) fn resolve<'a>(event: &'a Value, field: &str) -> Vec<&'a Value> {
    let mut at = event;
    for key in field.split('.') {
        match at.get(key) {
            Some(next) if !next.is_null() => at = next,
            _ => return Vec::new(),
        }
    }
    match at {
        Value::Array(elements) => elements.iter().filter(|v| !v.is_null()).collect(),
        Value::Null => Vec::new(),
        value => vec![value],
    }
}

/// Scalars compare by value, numbers as numbers (`1` equals `1.0`).
pub(super) fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}
