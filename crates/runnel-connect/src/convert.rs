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
