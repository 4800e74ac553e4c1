//! Standing search queries in the graph: `TopologyBuilder::standing_queries` reads the
//! queries from a compacted topic into an index, and `Stream::search` matches each event
//! against the queries current when it passes.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;

use bytes::Bytes;
use serde_json::Value;

use super::stores::{state_error, Changed, Restore};
use super::topics::Incoming;
use super::{Stream, TopologyBuilder};
use crate::error::StreamsError;
use crate::record::Record;
use crate::search::{Query, QueryIndex};

/// The standing queries read from a topic, indexed.
#[derive(Clone)]
pub struct StandingQueries {
    index: Rc<RefCell<QueryIndex>>,
}

impl fmt::Debug for StandingQueries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandingQueries")
            .field("queries", &self.index.borrow().len())
            .finish()
    }
}

impl StandingQueries {
    /// How many queries are current.
    pub fn len(&self) -> usize {
        self.index.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.borrow().is_empty()
    }

    /// The current query `id`.
    pub fn get(&self, id: &str) -> Option<Query> {
        self.index.borrow().get(id).cloned()
    }
}

impl TopologyBuilder {
    /// The queries of `topic`, a compacted topic: each record's key is a query id (UTF-8)
    /// and its value the query as JSON (`search::Query`); a record without a value (a
    /// tombstone) removes the query. A record that is not a valid query changes nothing and
    /// its error is returned by the call that pushed it. The queries are kept in the state
    /// store `<topic>-queries`.
    pub fn standing_queries(&mut self, topic: &str) -> StandingQueries {
        let index = Rc::new(RefCell::new(QueryIndex::new()));
        let changed: Rc<RefCell<BTreeSet<String>>> = Rc::default();
        let (apply_index, apply_changed, context) =
            (index.clone(), changed.clone(), self.context.clone());
        let apply = move |incoming: Incoming<'_>| -> Result<(), StreamsError> {
            let id = std::str::from_utf8(incoming.key.unwrap_or_default())
                .map_err(|_| StreamsError::InvalidQuery("a query id that is not UTF-8".into()))?;
            match incoming.value {
                None => {
                    apply_index.borrow_mut().remove(id);
                }
                Some(bytes) => {
                    let query = Query::from_json(bytes)
                        .map_err(|e| StreamsError::InvalidQuery(format!("query {id}: {e}")))?;
                    apply_index.borrow_mut().insert(id, query);
                }
            }
            apply_changed.borrow_mut().insert(id.to_owned());
            Ok(())
        };
        self.context.add_topic_source(
            topic,
            Box::new(move |incoming: Incoming<'_>, _now| {
                if let Err(error) = apply(incoming) {
                    context.fail(error);
                }
                incoming.timestamp
            }),
        );
        let store = format!("{topic}-queries");
        let take_changed = {
            let index = index.clone();
            Box::new(move || {
                let ids = std::mem::take(&mut *changed.borrow_mut());
                let index = index.borrow();
                ids.into_iter()
                    .map(|id| {
                        let query = index
                            .get(&id)
                            .map(|q| serde_json::to_vec(q).map(Bytes::from))
                            .transpose()
                            .map_err(|e| StreamsError::Serde(e.to_string()))?;
                        Ok((Bytes::from(id), query))
                    })
                    .collect()
            }) as Changed
        };
        let restore = {
            let (index, store) = (index.clone(), store.clone());
            Box::new(move |key: &[u8], value: Option<&[u8]>| {
                let id = std::str::from_utf8(key).map_err(|e| state_error(&store, e))?;
                match value {
                    None => {
                        index.borrow_mut().remove(id);
                    }
                    Some(bytes) => {
                        let query = Query::from_json(bytes).map_err(|e| state_error(&store, e))?;
                        index.borrow_mut().insert(id, query);
                    }
                }
                Ok(())
            }) as Restore
        };
        self.context.add_store(&store, take_changed, restore);
        StandingQueries { index }
    }
}

impl<K: Clone + 'static> Stream<K, Value> {
    /// Each event matched against every current query of `queries`: one record per match,
    /// keyed by the query id, with the event's key and value, in query id order. A query
    /// added, changed or removed applies from the next event on.
    pub fn search(&self, queries: &StandingQueries) -> Stream<String, (K, Value)> {
        let index = queries.index.clone();
        self.derive(move |record: Record<K, Value>, next| {
            let index = index.borrow();
            for id in index.matching(&record.value) {
                next.push(Record::new(
                    id.to_owned(),
                    (record.key.clone(), record.value.clone()),
                    record.timestamp,
                    record.partition,
                ));
            }
        })
    }
}
