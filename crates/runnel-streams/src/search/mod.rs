//! Standing search queries: queries are stored first and every event is matched against
//! them (the inverse of a search index). `query` is the query language and its direct
//! evaluation; `index` keeps the queries indexed by the words, values and fields they need,
//! so an event is evaluated only against the queries it could match.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! use runnel_streams::*;
//! use serde_json::{json, Value};
//!
//! let mut builder = TopologyBuilder::new();
//! let queries = builder.standing_queries("saved-searches");
//! let hits = Rc::new(RefCell::new(Vec::new()));
//! let seen = hits.clone();
//! builder
//!     .stream("listings", StringSerde, JsonSerde::<Value>::new())
//!     .search(&queries)
//!     .for_each(move |hit| seen.borrow_mut().push((hit.key.clone(), hit.value.0.clone())));
//! let mut topology = builder.build(0, 1_000)?;
//! let mut push = |topic: &str, key: &str, value: Option<Value>| {
//!     let value = value.map(|v| v.to_string());
//!     let record = Incoming {
//!         key: Some(key.as_bytes()),
//!         value: value.as_deref().map(str::as_bytes),
//!         timestamp: 0,
//!         partition: 0,
//!     };
//!     topology.push_from_topic(topic, record, 0)
//! };
//! // Ann wants cheap bikes; Bob wants anything in Lyon.
//! push("saved-searches", "ann", Some(json!({"all": [
//!     {"term": {"field": "title", "term": "bike"}},
//!     {"range": {"field": "price", "lt": 200}}
//! ]})))?;
//! push("saved-searches", "bob", Some(json!({"equals": {"field": "city", "value": "Lyon"}})))?;
//! push("listings", "l1", Some(json!({"title": "Road bike, barely used", "price": 150, "city": "Lyon"})))?;
//! push("saved-searches", "bob", None)?; // Bob deletes his search.
//! push("listings", "l2", Some(json!({"title": "Mountain bike", "price": 120, "city": "Lyon"})))?;
//! let expected = [("ann", "l1"), ("bob", "l1"), ("ann", "l2")];
//! let expected: Vec<(String, String)> =
//!     expected.iter().map(|(q, l)| (q.to_string(), l.to_string())).collect();
//! assert_eq!(*hits.borrow(), expected);
//! # Ok::<(), StreamsError>(())
//! ```

mod index;
mod query;

pub use index::QueryIndex;
pub use query::{tokens, Query, MAX_QUERY_NODES};
