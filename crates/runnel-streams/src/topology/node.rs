use std::cell::RefCell;

use crate::record::Record;

type Subscriber<K, V> = Box<dyn FnMut(Record<K, V>)>;

/// A point of the graph: every record pushed here goes to each subscriber in turn.
pub(super) struct Node<K, V> {
    subscribers: RefCell<Vec<Subscriber<K, V>>>,
}

impl<K: Clone, V: Clone> Node<K, V> {
    pub fn new() -> Self {
        Node {
            subscribers: RefCell::new(Vec::new()),
        }
    }

    pub fn subscribe(&self, subscriber: impl FnMut(Record<K, V>) + 'static) {
        self.subscribers.borrow_mut().push(Box::new(subscriber));
    }

    /// The graph is acyclic, so a push never comes back to a node it is still passing
    /// through, and the borrow here cannot conflict.
    pub fn push(&self, record: Record<K, V>) {
        let mut subscribers = self.subscribers.borrow_mut();
        if let Some((last, others)) = subscribers.split_last_mut() {
            for subscriber in others {
                subscriber(record.clone());
            }
            last(record);
        }
    }
}
