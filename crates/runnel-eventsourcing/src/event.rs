//! Events as they are stored: a type, a schema version, the data, and metadata. One record
//! of the events topic holds the events one command produced (a *commit*), so they are
//! appended together or not at all.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who caused an event and when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Unique per event.
    pub event_id: String,
    /// Shared by everything one request caused, across aggregates.
    pub correlation_id: String,
    /// The id of the command (or event) that caused this one.
    pub causation_id: String,
    /// Milliseconds since the Unix epoch, from the handler's clock.
    pub recorded_at_ms: i64,
}

/// One stored event: `data` is the event serialized by the aggregate's event type at
/// schema `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub data: Value,
    pub metadata: Metadata,
}

/// The value of one record of the events topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Commit {
    pub events: Vec<StoredEvent>,
}

/// An event as the application reads it: decoded at the current schema version.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<E> {
    pub metadata: Metadata,
    pub event: E,
}

/// The events of one commit record's value, upcast to schema version `current` and
/// decoded, or why they cannot be.
pub(crate) fn decode_commit<E: DeserializeOwned>(
    bytes: &[u8],
    upcasters: &Upcasters,
    current: u32,
) -> Result<Vec<Envelope<E>>, String> {
    let commit: Commit = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    commit
        .events
        .into_iter()
        .map(|stored| {
            let data = upcasters.upcast(&stored, current)?;
            let event = serde_json::from_value(data).map_err(|e| e.to_string())?;
            Ok(Envelope {
                metadata: stored.metadata,
                event,
            })
        })
        .collect()
}

/// One upcasting step: an event's data at version n to version n + 1.
type Step = Box<dyn Fn(Value) -> Value + Send + Sync>;

/// Turns events of older schema versions into the current one, one version at a time:
/// an upcaster registered for (type, n) takes the data of version n to version n + 1. A type
/// without a step at some version did not change then: its data passes through.
#[derive(Default)]
pub struct Upcasters {
    steps: HashMap<(String, u32), Step>,
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut steps: Vec<_> = self.steps.keys().collect();
        steps.sort();
        f.debug_struct("Upcasters").field("steps", &steps).finish()
    }
}

impl Upcasters {
    pub fn new() -> Self {
        Upcasters::default()
    }

    /// Registers the step from `from_version` to `from_version + 1` of `event_type`.
    pub fn register(
        mut self,
        event_type: &str,
        from_version: u32,
        step: impl Fn(Value) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.steps
            .insert((event_type.to_owned(), from_version), Box::new(step));
        self
    }

    /// The event's data at `current`, or why it cannot be: it is newer than this code.
    pub fn upcast(&self, event: &StoredEvent, current: u32) -> Result<Value, String> {
        if event.version > current {
            return Err(format!(
                "{} has schema version {}, newer than this code's {current}",
                event.event_type, event.version
            ));
        }
        let mut data = event.data.clone();
        for version in event.version..current {
            if let Some(step) = self.steps.get(&(event.event_type.clone(), version)) {
                data = step(data);
            }
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored(version: u32, data: Value) -> StoredEvent {
        StoredEvent {
            event_type: "Deposited".into(),
            version,
            data,
            metadata: Metadata {
                event_id: "e".into(),
                correlation_id: "c".into(),
                causation_id: "c".into(),
                recorded_at_ms: 0,
            },
        }
    }

    #[test]
    fn old_versions_are_upcast_step_by_step_and_unchanged_versions_pass_through() {
        let upcasters = Upcasters::new()
            .register("Deposited", 1, |mut v| {
                v["cents"] = json!(v["amount"].as_i64().unwrap_or(0) * 100);
                v
            })
            .register("Deposited", 2, |mut v| {
                v["currency"] = json!("EUR");
                v
            });
        let v1 = stored(1, json!({"amount": 3}));
        assert_eq!(
            upcasters.upcast(&v1, 3).unwrap(),
            json!({"amount": 3, "cents": 300, "currency": "EUR"})
        );
        let v3 = stored(3, json!({"cents": 5}));
        assert_eq!(upcasters.upcast(&v3, 3).unwrap(), json!({"cents": 5}));
        assert_eq!(
            upcasters.upcast(&v1, 4).unwrap(),
            json!({"amount": 3, "cents": 300, "currency": "EUR"})
        );
        assert!(upcasters.upcast(&v3, 2).unwrap_err().contains("newer"));
    }
}
