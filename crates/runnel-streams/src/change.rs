use crate::window::Window;

/// One entry of the changelog a windowed aggregation emits. Applying the entries in order to
/// a map from `(key, window)` to value (set on `Update` and `Final`, remove on `Retract`)
/// gives the current results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<K, A> {
    /// The window's result so far; it replaces any earlier one.
    Update { key: K, window: Window, value: A },
    /// A result emitted earlier no longer holds: a late record corrected a closed window, or
    /// a session was merged into a larger one.
    Retract {
        key: K,
        window: Window,
        old_value: A,
    },
    /// The window's result once it closed (emit-final mode), or its correction afterwards.
    Final { key: K, window: Window, value: A },
}

impl<K, A> Change<K, A> {
    pub fn key(&self) -> &K {
        match self {
            Change::Update { key, .. }
            | Change::Retract { key, .. }
            | Change::Final { key, .. } => key,
        }
    }

    pub fn window(&self) -> Window {
        match self {
            Change::Update { window, .. }
            | Change::Retract { window, .. }
            | Change::Final { window, .. } => *window,
        }
    }
}
