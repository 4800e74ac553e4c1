//! Table–table joins: a view of two tables joined by key, kept current as either changes,
//! its changes sent as a changelog with retractions (materialized view maintenance).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use super::node::Node;
use super::stores::store_table;
use super::stream::Stream;
use super::table::{ChangedKeys, Table};
use crate::join::Delta;
use crate::record::Record;
use crate::serdes::Serde;

/// The join of two tables by key: per key, the joined value while the join kind says there
/// is one. Each change of either table to a key recomputes that key's result; a result that
/// changes is sent as the retraction of the old one (if any) then the new one (if any), at
/// the time of the table change that caused it.
pub struct JoinedTable<K, O> {
    values: Rc<RefCell<BTreeMap<K, O>>>,
    changed: ChangedKeys<K>,
    changes: Stream<K, Delta<O>>,
}

impl<K, O> fmt::Debug for JoinedTable<K, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinedTable").finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, O: Clone + 'static> JoinedTable<K, O> {
    pub fn get(&self, key: &K) -> Option<O> {
        self.values.borrow().get(key).cloned()
    }

    /// Every result, by key.
    pub fn snapshot(&self) -> BTreeMap<K, O> {
        self.values.borrow().clone()
    }

    /// The changelog: `Delta::Retract` of a result that no longer holds, `Delta::Add` of a
    /// new one.
    pub fn changes(&self) -> Stream<K, Delta<O>> {
        self.changes.clone()
    }

    /// Keeps the results in the state store `name` (changelog topic
    /// `<application id>-<name>-changelog`), so that a restored task retracts exactly what
    /// was sent. The joined tables keep their own stores.
    pub fn stored(
        self,
        name: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<O> + 'static,
    ) -> Self {
        store_table(
            self.changes.context(),
            name,
            self.values.clone(),
            self.changed.clone(),
            Rc::new(keys),
            Rc::new(values),
        );
        self
    }
}

impl<K: Ord + Clone + 'static, A: Clone + 'static> Table<K, A> {
    /// The keys in both tables, joined.
    pub fn join<B: Clone + 'static, O: Clone + 'static>(
        &self,
        other: &Table<K, B>,
        joiner: impl Fn(&K, &A, &B) -> O + 'static,
    ) -> JoinedTable<K, O> {
        self.join_tables(other, move |key, a, b| Some(joiner(key, a?, b?)))
    }

    /// The keys of this table, joined with the other's value or `None`.
    pub fn left_join<B: Clone + 'static, O: Clone + 'static>(
        &self,
        other: &Table<K, B>,
        joiner: impl Fn(&K, &A, Option<&B>) -> O + 'static,
    ) -> JoinedTable<K, O> {
        self.join_tables(other, move |key, a, b| Some(joiner(key, a?, b)))
    }

    /// The keys of either table, joined with the other's value or `None`.
    pub fn outer_join<B: Clone + 'static, O: Clone + 'static>(
        &self,
        other: &Table<K, B>,
        joiner: impl Fn(&K, Option<&A>, Option<&B>) -> O + 'static,
    ) -> JoinedTable<K, O> {
        self.join_tables(other, move |key, a, b| {
            (a.is_some() || b.is_some()).then(|| joiner(key, a, b))
        })
    }

    fn join_tables<B: Clone + 'static, O: Clone + 'static>(
        &self,
        other: &Table<K, B>,
        result: impl Fn(&K, Option<&A>, Option<&B>) -> Option<O> + 'static,
    ) -> JoinedTable<K, O> {
        let values: Rc<RefCell<BTreeMap<K, O>>> = Rc::default();
        let changed: ChangedKeys<K> = Rc::default();
        let next = Rc::new(Node::new());
        let recompute = {
            let (lefts, rights) = (self.values.clone(), other.values.clone());
            let (values, changed, next) = (values.clone(), changed.clone(), next.clone());
            Rc::new(move |touched: Record<K, ()>| {
                let key = touched.key;
                let new = result(&key, lefts.borrow().get(&key), rights.borrow().get(&key));
                let old = values.borrow_mut().remove(&key);
                if old.is_none() && new.is_none() {
                    return;
                }
                if let Some(marks) = changed.borrow_mut().as_mut() {
                    marks.insert(key.clone());
                }
                let (t, partition) = (touched.timestamp, touched.partition);
                if let Some(old) = old {
                    next.push(Record::new(key.clone(), Delta::Retract(old), t, partition));
                }
                if let Some(new) = new {
                    values.borrow_mut().insert(key.clone(), new.clone());
                    next.push(Record::new(key, Delta::Add(new), t, partition));
                }
            })
        };
        for touched in [&self.touched, &other.touched] {
            let recompute = recompute.clone();
            touched.subscribe(move |record| recompute(record));
        }
        let context = self.changes.context().clone();
        JoinedTable {
            values,
            changed,
            changes: Stream::from_node(next, context).with_keys(self.changes.keys()),
        }
    }
}
