//! Table–table joins: a view of two tables joined by key, or by a foreign key taken from the
//! left table's rows, kept current as either changes, its changes sent as a changelog with
//! retractions (materialized view maintenance).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

use super::global::GlobalTable;
use super::join::require_same_key_serde;
use super::node::Node;
use super::stores::store_table;
use super::stream::{Keys, Stream};
use super::table::{ChangedKeys, Table};
use crate::error::StreamsError;
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
        require_same_key_serde(
            self.changes.context(),
            self.changes.key_serde(),
            other.changes.key_serde(),
        );
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

/// What a foreign-key join looks up: the other table's values and its changed keys.
struct Foreign<F, B> {
    values: Rc<RefCell<BTreeMap<F, B>>>,
    touched: Rc<Node<F, ()>>,
}

impl<F, B> Foreign<F, B> {
    fn of_table(table: &Table<F, B>) -> Self {
        Foreign {
            values: table.values.clone(),
            touched: table.touched.clone(),
        }
    }

    fn of_global(table: &GlobalTable<F, B>) -> Self {
        Foreign {
            values: table.values.clone(),
            touched: table.touched.clone(),
        }
    }
}

/// Which keys of the left table point at each foreign key, rebuilt from the left table the
/// first time it is needed (after a restore, the table is back but this is not).
struct ForeignIndex<K, F> {
    built: bool,
    foreign_of: BTreeMap<K, F>,
    pointing_at: BTreeMap<F, BTreeSet<K>>,
}

impl<K: Ord + Clone, F: Ord + Clone> ForeignIndex<K, F> {
    fn set(&mut self, key: &K, foreign: Option<F>) {
        if let Some(old) = self.foreign_of.remove(key) {
            if let Some(keys) = self.pointing_at.get_mut(&old) {
                keys.remove(key);
                if keys.is_empty() {
                    self.pointing_at.remove(&old);
                }
            }
        }
        if let Some(foreign) = foreign {
            self.pointing_at
                .entry(foreign.clone())
                .or_default()
                .insert(key.clone());
            self.foreign_of.insert(key.clone(), foreign);
        }
    }
}

impl<K: Ord + Clone + 'static, A: Clone + 'static> Table<K, A> {
    /// Many-to-one: each key of this table joined with the row of `other` its value points
    /// at (`foreign_key`), such as orders with their customer. A result changes when the
    /// row changes, when the other table's row changes, and when the row points elsewhere.
    /// `other` is read whole, so it must be in the same task as every key of this table: a
    /// global table (`join_foreign_global`), or a table built in process. `build` refuses a
    /// table read from a topic, whose partitions other tasks hold.
    pub fn join_foreign<F, B, O>(
        &self,
        other: &Table<F, B>,
        foreign_key: impl Fn(&A) -> F + 'static,
        joiner: impl Fn(&K, &A, &B) -> O + 'static,
    ) -> JoinedTable<K, O>
    where
        F: Ord + Clone + 'static,
        B: Clone + 'static,
        O: Clone + PartialEq + 'static,
    {
        self.refuse_partitioned(other);
        self.join_foreign_with(Foreign::of_table(other), foreign_key, move |k, a, b| {
            Some(joiner(k, a, b?))
        })
    }

    /// `join_foreign`, where a row pointing at nothing is joined with `None`.
    pub fn left_join_foreign<F, B, O>(
        &self,
        other: &Table<F, B>,
        foreign_key: impl Fn(&A) -> F + 'static,
        joiner: impl Fn(&K, &A, Option<&B>) -> O + 'static,
    ) -> JoinedTable<K, O>
    where
        F: Ord + Clone + 'static,
        B: Clone + 'static,
        O: Clone + PartialEq + 'static,
    {
        self.refuse_partitioned(other);
        self.join_foreign_with(Foreign::of_table(other), foreign_key, move |k, a, b| {
            Some(joiner(k, a, b))
        })
    }

    /// `join_foreign` with a global table, which every task holds whole.
    pub fn join_foreign_global<F, B, O>(
        &self,
        other: &GlobalTable<F, B>,
        foreign_key: impl Fn(&A) -> F + 'static,
        joiner: impl Fn(&K, &A, &B) -> O + 'static,
    ) -> JoinedTable<K, O>
    where
        F: Ord + Clone + 'static,
        B: Clone + 'static,
        O: Clone + PartialEq + 'static,
    {
        self.join_foreign_with(Foreign::of_global(other), foreign_key, move |k, a, b| {
            Some(joiner(k, a, b?))
        })
    }

    /// `left_join_foreign` with a global table.
    pub fn left_join_foreign_global<F, B, O>(
        &self,
        other: &GlobalTable<F, B>,
        foreign_key: impl Fn(&A) -> F + 'static,
        joiner: impl Fn(&K, &A, Option<&B>) -> O + 'static,
    ) -> JoinedTable<K, O>
    where
        F: Ord + Clone + 'static,
        B: Clone + 'static,
        O: Clone + PartialEq + 'static,
    {
        self.join_foreign_with(Foreign::of_global(other), foreign_key, move |k, a, b| {
            Some(joiner(k, a, b))
        })
    }

    fn refuse_partitioned<F: Clone + 'static, B: Clone + 'static>(&self, other: &Table<F, B>) {
        if other.changes.keys() != Keys::InProcess {
            self.changes.context().fail(StreamsError::Topology(
                "a foreign-key join reads the other table whole, but a table read from a topic \
                 is split among tasks: make it a `global_table` and use `join_foreign_global`"
                    .into(),
            ));
        }
    }

    fn join_foreign_with<F, B, O>(
        &self,
        foreign: Foreign<F, B>,
        foreign_key: impl Fn(&A) -> F + 'static,
        result: impl Fn(&K, &A, Option<&B>) -> Option<O> + 'static,
    ) -> JoinedTable<K, O>
    where
        F: Ord + Clone + 'static,
        B: Clone + 'static,
        O: Clone + PartialEq + 'static,
    {
        let values: Rc<RefCell<BTreeMap<K, O>>> = Rc::default();
        let changed: ChangedKeys<K> = Rc::default();
        let next = Rc::new(Node::new());
        let index = Rc::new(RefCell::new(ForeignIndex {
            built: false,
            foreign_of: BTreeMap::new(),
            pointing_at: BTreeMap::new(),
        }));
        let lefts = self.values.clone();
        let foreign_key = Rc::new(foreign_key);
        let build_index = {
            let (index, lefts, foreign_key) = (index.clone(), lefts.clone(), foreign_key.clone());
            move || {
                let mut index = index.borrow_mut();
                if !index.built {
                    index.built = true;
                    for (key, row) in lefts.borrow().iter() {
                        index.set(key, Some(foreign_key(row)));
                    }
                }
            }
        };
        let build_index = Rc::new(build_index);
        let recompute = {
            let (rights, values, changed, next) = (
                foreign.values.clone(),
                values.clone(),
                changed.clone(),
                next.clone(),
            );
            let (lefts, foreign_key) = (lefts.clone(), foreign_key.clone());
            Rc::new(move |key: &K, t, partition| {
                let new = lefts.borrow().get(key).and_then(|row| {
                    let rights = rights.borrow();
                    result(key, row, rights.get(&foreign_key(row)))
                });
                // A row of the other table rewritten as it was (as when a global table is
                // read again at a restart) changes nothing.
                if values.borrow().get(key) == new.as_ref() {
                    return;
                }
                let old = values.borrow_mut().remove(key);
                if let Some(marks) = changed.borrow_mut().as_mut() {
                    marks.insert(key.clone());
                }
                if let Some(old) = old {
                    next.push(Record::new(key.clone(), Delta::Retract(old), t, partition));
                }
                if let Some(new) = new {
                    values.borrow_mut().insert(key.clone(), new.clone());
                    next.push(Record::new(key.clone(), Delta::Add(new), t, partition));
                }
            })
        };
        {
            let (index, build_index, recompute) =
                (index.clone(), build_index.clone(), recompute.clone());
            let (lefts, foreign_key) = (lefts.clone(), foreign_key.clone());
            self.touched.subscribe(move |touched: Record<K, ()>| {
                build_index();
                let pointed = lefts.borrow().get(&touched.key).map(|row| foreign_key(row));
                index.borrow_mut().set(&touched.key, pointed);
                recompute(&touched.key, touched.timestamp, touched.partition);
            });
        }
        {
            foreign.touched.subscribe(move |touched: Record<F, ()>| {
                build_index();
                let keys: Vec<K> = index
                    .borrow()
                    .pointing_at
                    .get(&touched.key)
                    .map(|keys| keys.iter().cloned().collect())
                    .unwrap_or_default();
                for key in keys {
                    recompute(&key, touched.timestamp, touched.partition);
                }
            });
        }
        let context = self.changes.context().clone();
        JoinedTable {
            values,
            changed,
            changes: Stream::from_node(next, context).with_keys(self.changes.keys()),
        }
    }
}
