//! What an application writes: an aggregate decides on commands and evolves by events.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A consistency boundary, identified by the record key of its events. `handle` decides
/// (it must not have side effects: it may run again after a conflict); `apply` evolves the
/// state by one event and must accept every event `handle` ever produced.
pub trait Aggregate:
    Default + Clone + Serialize + DeserializeOwned + Send + Sync + 'static
{
    type Command: Send + Sync;
    /// Events are stored as their JSON form: an internally tagged enum
    /// (`#[serde(tag = "type")]`) gives each its type name.
    type Event: Clone + Serialize + DeserializeOwned + Send + Sync;
    type Refusal: std::fmt::Debug + std::fmt::Display + Send;

    /// The schema version of the events this code writes; older ones are upcast on load.
    const EVENT_VERSION: u32 = 1;
    /// The version of the snapshot form of the state; snapshots of another version are
    /// ignored (the aggregate is replayed from its first event instead).
    const SNAPSHOT_VERSION: u32 = 1;

    /// The event's type name, stored next to it.
    fn event_type(event: &Self::Event) -> &'static str;

    /// The events that carry out `command` against this state, or why it is refused.
    fn handle(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Refusal>;

    fn apply(&mut self, event: &Self::Event);
}
