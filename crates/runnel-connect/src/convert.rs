//! Converters: how the bytes of a record's key or value become data the sinks and transforms
//! work on (a JSON value), as Kafka Connect's `key.converter` and `value.converter` do.

use base64::Engine;
use serde_json::Value;

use crate::config::ConnectorConfig;
use crate::error::ConfigError;

/// One side's converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// JSON; with `schemas.enable`, the `{"schema": ..., "payload": ...}` envelope of Kafka
    /// Connect's JsonConverter, whose payload is the data.
    Json { schemas_enable: bool },
    /// UTF-8 text, handed on as a JSON string.
    String,
    /// Any bytes, handed on as a base64 JSON string (Kafka Connect's JSON form of bytes).
    Bytes,
}

impl Converter {
    /// The converter named by `prefix` (`key.converter` or `value.converter`): Kafka
    /// Connect's class names or the short names `json`, `string`, `bytes`. JSON is the
    /// default, without the schema envelope unless `<prefix>.schemas.enable=true`.
    pub fn parse(config: &ConnectorConfig, prefix: &str) -> Result<Converter, ConfigError> {
        let schemas_key = format!("{prefix}.schemas.enable");
        match config.get(prefix).unwrap_or("json") {
            "json" | "org.apache.kafka.connect.json.JsonConverter" => Ok(Converter::Json {
                schemas_enable: config.parse(&schemas_key, false)?,
            }),
            "string" | "org.apache.kafka.connect.storage.StringConverter" => Ok(Converter::String),
            "bytes" | "org.apache.kafka.connect.converters.ByteArrayConverter" => {
                Ok(Converter::Bytes)
            }
            other => Err(ConfigError::invalid(
                prefix,
                &format!("unknown converter '{other}' (json, string or bytes)"),
            )),
        }
    }

    /// The data of `bytes`; `None` (a null key or a tombstone) stays `None`.
    pub fn to_data(&self, bytes: Option<&[u8]>) -> Result<Option<Value>, String> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        match self {
            Converter::Json { schemas_enable } => {
                let value: Value =
                    serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
                if !schemas_enable {
                    return Ok(Some(value));
                }
                match value {
                    Value::Object(mut envelope)
                        if envelope.contains_key("schema") && envelope.contains_key("payload") =>
                    {
                        Ok(envelope.remove("payload").filter(|p| !p.is_null()))
                    }
                    _ => Err(
                        "JSON with schemas.enable=true needs \"schema\" and \"payload\" fields"
                            .to_owned(),
                    ),
                }
            }
            Converter::String => std::str::from_utf8(bytes)
                .map(|s| Some(Value::String(s.to_owned())))
                .map_err(|e| format!("not UTF-8: {e}")),
            Converter::Bytes => Ok(Some(Value::String(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ))),
        }
    }

    /// The bytes of `data`, the inverse of `to_data`: what a source writes after its
    /// transforms. With `schemas.enable`, the envelope's schema is inferred from the data.
    pub fn to_bytes(&self, data: Option<&Value>) -> Result<Option<Vec<u8>>, String> {
        let Some(data) = data else {
            return Ok(None);
        };
        let text = |data: &Value| serde_json::to_vec(data).map_err(|e| e.to_string());
        match (self, data) {
            (Converter::Json { schemas_enable }, _) => {
                if *schemas_enable {
                    let envelope = serde_json::json!({"schema": schema_of(data), "payload": data});
                    text(&envelope).map(Some)
                } else {
                    text(data).map(Some)
                }
            }
            (Converter::String, Value::String(s)) => Ok(Some(s.clone().into_bytes())),
            (Converter::String, other) => text(other).map(Some),
            (Converter::Bytes, Value::String(s)) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(Some)
                .map_err(|e| format!("not base64 bytes: {e}")),
            (Converter::Bytes, _) => Err("the bytes converter needs base64 text".to_owned()),
        }
    }
}

/// The schema Kafka Connect's JsonConverter would write for `data` (optional fields).
fn schema_of(data: &Value) -> Value {
    use serde_json::json;
    match data {
        Value::Null => json!({"type": "string", "optional": true}),
        Value::Bool(_) => json!({"type": "boolean", "optional": true}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "int64", "optional": true}),
        Value::Number(_) => json!({"type": "double", "optional": true}),
        Value::String(_) => json!({"type": "string", "optional": true}),
        Value::Array(items) => json!({
            "type": "array",
            "items": items.first().map_or_else(|| schema_of(&Value::Null), schema_of),
            "optional": true
        }),
        Value::Object(fields) => json!({
            "type": "struct",
            "fields": fields
                .iter()
                .map(|(name, value)| {
                    let mut schema = schema_of(value);
                    schema["field"] = json!(name);
                    schema
                })
                .collect::<Vec<_>>(),
            "optional": true
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn json_without_envelope_is_the_data() {
        let json = Converter::Json {
            schemas_enable: false,
        };
        assert_eq!(
            json.to_data(Some(br#"{"a":1}"#)).unwrap(),
            Some(json!({"a": 1}))
        );
        assert_eq!(json.to_data(None).unwrap(), None);
        assert!(json.to_data(Some(b"{oops")).unwrap_err().contains("JSON"));
    }

    #[test]
    fn json_with_envelope_is_its_payload() {
        let json = Converter::Json {
            schemas_enable: true,
        };
        let enveloped = br#"{"schema": {"type": "struct"}, "payload": {"a": 1}}"#;
        assert_eq!(
            json.to_data(Some(enveloped)).unwrap(),
            Some(json!({"a": 1}))
        );
        let null_payload = br#"{"schema": null, "payload": null}"#;
        assert_eq!(json.to_data(Some(null_payload)).unwrap(), None);
        assert!(json.to_data(Some(br#"{"a": 1}"#)).is_err());
    }

    #[test]
    fn bytes_of_data_read_back_as_the_same_data() {
        let data = json!({"id": 1, "name": "a", "tags": ["x"], "score": 0.5, "ok": true});
        for converter in [
            Converter::Json {
                schemas_enable: false,
            },
            Converter::Json {
                schemas_enable: true,
            },
        ] {
            let bytes = converter.to_bytes(Some(&data)).unwrap();
            assert_eq!(
                converter.to_data(bytes.as_deref()).unwrap(),
                Some(data.clone())
            );
        }
        let line = json!("a line");
        let bytes = Converter::String.to_bytes(Some(&line)).unwrap().unwrap();
        assert_eq!(bytes, b"a line");
        let raw = Converter::Bytes.to_data(Some(&[0xff, 0])).unwrap();
        assert_eq!(
            Converter::Bytes.to_bytes(raw.as_ref()).unwrap().unwrap(),
            [0xff, 0]
        );
        assert_eq!(Converter::String.to_bytes(None).unwrap(), None);
    }

    #[test]
    fn string_and_bytes() {
        assert_eq!(
            Converter::String.to_data(Some(b"hi")).unwrap(),
            Some(json!("hi"))
        );
        assert!(Converter::String.to_data(Some(&[0xff])).is_err());
        assert_eq!(
            Converter::Bytes.to_data(Some(&[0xff, 0])).unwrap(),
            Some(json!("/wA="))
        );
    }
}
