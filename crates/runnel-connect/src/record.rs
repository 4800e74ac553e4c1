//! A record as sinks and transforms see it, and the change it stands for.

use serde_json::Value;

/// A record read from a topic, its key and value converted to data.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// The topic the record was read from; `topic` may have been renamed by a transform.
    pub original_topic: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the record has a timestamp.
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub key: Option<Value>,
    pub value: Option<Value>,
}

/// What a record does to a keyed target, borrowing the record's data (sinks read it many
/// times per batch: checked, folded, written).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change<'a> {
    /// Insert or replace the row of `key` with `value`.
    Upsert { key: &'a Value, value: &'a Value },
    /// Remove the row of `key`.
    Delete { key: &'a Value },
}

impl SinkRecord {
    /// The change this record makes: a Debezium change event (`op` c, u or r upserts the
    /// `after` image, d deletes) or a plain record (a value upserts, a tombstone deletes).
    /// The key identifies the row in both cases.
    pub fn change(&self) -> Result<Change<'_>, String> {
        let key = match &self.key {
            Some(key) if !key.is_null() => key,
            _ => return Err("the record has no key to identify its row".to_owned()),
        };
        let Some(value) = &self.value else {
            return Ok(Change::Delete { key });
        };
        match debezium_op(value) {
            Some("c" | "u" | "r") => match value.get("after") {
                Some(after @ Value::Object(_)) => Ok(Change::Upsert { key, value: after }),
                _ => Err(
                    "a Debezium create/update/read event without an \"after\" object".to_owned(),
                ),
            },
            Some("d") => Ok(Change::Delete { key }),
            Some(op) => Err(format!(
                "Debezium operation '{op}' is not supported by sinks"
            )),
            None => Ok(Change::Upsert { key, value }),
        }
    }
}

/// The `op` of a Debezium change envelope: an object with `op` and a `before` or `after`.
fn debezium_op(value: &Value) -> Option<&str> {
    let fields = value.as_object()?;
    if !(fields.contains_key("after") || fields.contains_key("before")) {
        return None;
    }
    fields.get("op")?.as_str()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn record(key: Option<Value>, value: Option<Value>) -> SinkRecord {
        SinkRecord {
            original_topic: "t".to_owned(),
            topic: "t".to_owned(),
            partition: 0,
            offset: 0,
            timestamp: None,
            headers: Vec::new(),
            key,
            value,
        }
    }

    #[test]
    fn plain_values_upsert_and_tombstones_delete() {
        let upsert = record(Some(json!(1)), Some(json!({"a": 1})));
        assert_eq!(
            upsert.change().unwrap(),
            Change::Upsert {
                key: &json!(1),
                value: &json!({"a": 1})
            }
        );
        let tombstone = record(Some(json!(1)), None);
        assert_eq!(
            tombstone.change().unwrap(),
            Change::Delete { key: &json!(1) }
        );
        assert!(record(None, Some(json!(1))).change().is_err());
    }

    #[test]
    fn debezium_envelopes_follow_their_op() {
        let key = json!({"id": 7});
        for op in ["c", "u", "r"] {
            let event = json!({"before": null, "after": {"id": 7, "n": op}, "op": op});
            assert_eq!(
                record(Some(key.clone()), Some(event)).change().unwrap(),
                Change::Upsert {
                    key: &key,
                    value: &json!({"id": 7, "n": op})
                }
            );
        }
        let delete = json!({"before": {"id": 7}, "after": null, "op": "d"});
        assert_eq!(
            record(Some(key.clone()), Some(delete)).change().unwrap(),
            Change::Delete { key: &key }
        );
        let truncate = json!({"before": null, "after": null, "op": "t"});
        assert!(record(Some(key), Some(truncate)).change().is_err());
    }
}
