use std::fmt;

/// Folds the values of one key and window into a result.
pub trait Aggregator<K, V> {
    type Output: Clone;

    /// The result after adding `value` to `current` (`None` for the window's first record).
    fn add(&self, key: &K, value: &V, current: Option<Self::Output>) -> Self::Output;

    /// Combines the results of two sessions that a record joined, the older first. `None`
    /// when this aggregator cannot, which rules out session windows.
    fn merge(&self, key: &K, older: Self::Output, newer: Self::Output) -> Option<Self::Output>;

    /// Whether `merge` gives results; checked once when a session aggregation is built.
    fn can_merge(&self) -> bool;
}

/// Counts records.
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl<K, V> Aggregator<K, V> for Count {
    type Output = u64;

    fn add(&self, _key: &K, _value: &V, current: Option<u64>) -> u64 {
        current.unwrap_or(0) + 1
    }

    fn merge(&self, _key: &K, older: u64, newer: u64) -> Option<u64> {
        Some(older + newer)
    }

    fn can_merge(&self) -> bool {
        true
    }
}

/// Combines values of the same type pairwise, such as a sum or a maximum.
pub struct Reduce<F> {
    combine: F,
}

impl<F> Reduce<F> {
    pub fn new(combine: F) -> Self {
        Reduce { combine }
    }
}

impl<F> fmt::Debug for Reduce<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reduce").finish_non_exhaustive()
    }
}

impl<K, V: Clone, F: Fn(&V, &V) -> V> Aggregator<K, V> for Reduce<F> {
    type Output = V;

    fn add(&self, _key: &K, value: &V, current: Option<V>) -> V {
        match current {
            None => value.clone(),
            Some(acc) => (self.combine)(&acc, value),
        }
    }

    fn merge(&self, _key: &K, older: V, newer: V) -> Option<V> {
        Some((self.combine)(&older, &newer))
    }

    fn can_merge(&self) -> bool {
        true
    }
}

type Merger<K, A> = Box<dyn Fn(&K, A, A) -> A>;

/// Folds values into a result of another type, starting from `initializer()`.
pub struct Aggregate<K, I, F, A> {
    initializer: I,
    adder: F,
    merger: Option<Merger<K, A>>,
}

impl<K, I, F, A> Aggregate<K, I, F, A> {
    pub fn new(initializer: I, adder: F) -> Self {
        Aggregate {
            initializer,
            adder,
            merger: None,
        }
    }

    /// How to combine two sessions' results; needed for session windows only.
    pub fn with_merger(mut self, merger: impl Fn(&K, A, A) -> A + 'static) -> Self {
        self.merger = Some(Box::new(merger));
        self
    }
}

impl<K, I, F, A> fmt::Debug for Aggregate<K, I, F, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aggregate")
            .field("merges", &self.merger.is_some())
            .finish_non_exhaustive()
    }
}

impl<K, V, A, I, F> Aggregator<K, V> for Aggregate<K, I, F, A>
where
    A: Clone,
    I: Fn() -> A,
    F: Fn(&K, &V, A) -> A,
{
    type Output = A;

    fn add(&self, key: &K, value: &V, current: Option<A>) -> A {
        let acc = current.unwrap_or_else(|| (self.initializer)());
        (self.adder)(key, value, acc)
    }

    fn merge(&self, key: &K, older: A, newer: A) -> Option<A> {
        self.merger.as_ref().map(|m| m(key, older, newer))
    }

    fn can_merge(&self) -> bool {
        self.merger.is_some()
    }
}
