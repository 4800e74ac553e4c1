//! What the restore tests share: the state a runner keeps of a task's stores (the latest
//! value of each store key, as a compacted changelog holds it), and a fresh task restored
//! from it.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;

use bytes::Bytes;
use runnel_streams::{StateChange, Topology};

/// The latest value of each (store, key).
pub type StoredState = BTreeMap<(String, Bytes), Bytes>;

/// Folds `changes` into `state`, a deleted entry removed.
pub fn apply(state: &mut StoredState, changes: &[StateChange]) {
    for change in changes {
        let entry = (change.store.clone(), change.key.clone());
        match &change.value {
            Some(value) => state.insert(entry, value.clone()),
            None => state.remove(&entry),
        };
    }
}

/// Takes the task's pending state changes into `state`, as a runner does at a commit.
pub fn keep_changes(topology: &mut Topology, state: &mut StoredState) {
    apply(state, &topology.take_state_changes().unwrap());
}

/// Restores every entry of `state` into a fresh task.
pub fn restore(topology: &mut Topology, state: &StoredState) {
    for ((store, key), value) in state {
        topology.restore(store, key, Some(value)).unwrap();
    }
}

/// The names of the stores `state` holds entries of.
pub fn stores(state: &StoredState) -> Vec<&str> {
    let mut names: Vec<&str> = state.keys().map(|(store, _)| store.as_str()).collect();
    names.dedup();
    names
}
