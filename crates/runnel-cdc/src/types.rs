//! PostgreSQL column values, in their text output format, as the JSON values and Kafka Connect
//! schema fields Debezium gives them. Both the snapshot and the stream read text, so one
//! mapping serves both and a row looks the same whichever of them delivered it.

use base64::Engine;
use serde_json::{json, Value};

use crate::config::DecimalHandling;

/// A column value whose text PostgreSQL would never produce for its type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("column value {text:?} is not a valid {type_name}")]
pub struct ValueError {
    pub type_name: &'static str,
    pub text: String,
}

/// How a PostgreSQL type appears in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    Boolean,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Numeric(DecimalHandling),
    /// `timestamp`: microseconds since the epoch (`io.debezium.time.MicroTimestamp`).
    Timestamp,
    /// `timestamptz`: ISO-8601 text in UTC (`io.debezium.time.ZonedTimestamp`).
    ZonedTimestamp,
    /// `date`: days since the epoch (`io.debezium.time.Date`).
    Date,
    /// `time`: microseconds (`io.debezium.time.MicroTime`).
    MicroTime,
    Json,
    Uuid,
    Bytes,
    /// MariaDB/MySQL `ENUM`: the label as text (`io.debezium.data.Enum`).
    Enum,
    /// MariaDB/MySQL `SET`: the labels, comma-separated (`io.debezium.data.EnumSet`).
    EnumSet,
    /// Every other type, as its text output.
    Text,
}

impl ColumnKind {
    pub fn of(type_oid: u32, decimals: DecimalHandling) -> ColumnKind {
        match type_oid {
            16 => ColumnKind::Boolean,
            21 => ColumnKind::Int16,
            23 => ColumnKind::Int32,
            20 | 26 => ColumnKind::Int64,
            700 => ColumnKind::Float32,
            701 => ColumnKind::Float64,
            1700 => ColumnKind::Numeric(decimals),
            1114 => ColumnKind::Timestamp,
            1184 => ColumnKind::ZonedTimestamp,
            1082 => ColumnKind::Date,
            114 | 3802 => ColumnKind::Json,
            2950 => ColumnKind::Uuid,
            17 => ColumnKind::Bytes,
            _ => ColumnKind::Text,
        }
    }

    /// The Kafka Connect schema of a field of this kind.
    pub fn schema(self, field: &str, optional: bool) -> Value {
        let (kind, name) = match self {
            ColumnKind::Boolean => ("boolean", None),
            ColumnKind::Int16 => ("int16", None),
            ColumnKind::Int32 => ("int32", None),
            ColumnKind::Int64 => ("int64", None),
            ColumnKind::Float32 => ("float", None),
            ColumnKind::Float64 | ColumnKind::Numeric(DecimalHandling::Double) => ("double", None),
            ColumnKind::Numeric(DecimalHandling::String) | ColumnKind::Text => ("string", None),
            ColumnKind::Timestamp => ("int64", Some("io.debezium.time.MicroTimestamp")),
            ColumnKind::ZonedTimestamp => ("string", Some("io.debezium.time.ZonedTimestamp")),
            ColumnKind::Date => ("int32", Some("io.debezium.time.Date")),
            ColumnKind::Json => ("string", Some("io.debezium.data.Json")),
            ColumnKind::Uuid => ("string", Some("io.debezium.data.Uuid")),
            ColumnKind::MicroTime => ("int64", Some("io.debezium.time.MicroTime")),
            ColumnKind::Bytes => ("bytes", None),
            ColumnKind::Enum => ("string", Some("io.debezium.data.Enum")),
            ColumnKind::EnumSet => ("string", Some("io.debezium.data.EnumSet")),
        };
        let mut schema = json!({"type": kind, "optional": optional, "field": field});
        if let Some(name) = name {
            schema["name"] = json!(name);
            schema["version"] = json!(1);
        }
        schema
    }

    /// The JSON value of `text`, the column's text output.
    pub fn value(self, text: &str) -> Result<Value, ValueError> {
        let bad = |type_name| ValueError {
            type_name,
            text: text.to_owned(),
        };
        Ok(match self {
            ColumnKind::Boolean => match text {
                "t" => json!(true),
                "f" => json!(false),
                _ => return Err(bad("boolean")),
            },
            ColumnKind::Int16 | ColumnKind::Int32 | ColumnKind::Int64 => {
                json!(text.parse::<i64>().map_err(|_| bad("integer"))?)
            }
            ColumnKind::Float32
            | ColumnKind::Float64
            | ColumnKind::Numeric(DecimalHandling::Double) => {
                float(text).ok_or_else(|| bad("number"))?
            }
            ColumnKind::Numeric(DecimalHandling::String) | ColumnKind::Text => json!(text),
            ColumnKind::Json | ColumnKind::Uuid | ColumnKind::Enum | ColumnKind::EnumSet => {
                json!(text)
            }
            ColumnKind::Timestamp => json!(timestamp_micros(text).ok_or_else(|| bad("timestamp"))?),
            ColumnKind::ZonedTimestamp => {
                json!(zoned_timestamp(text).ok_or_else(|| bad("timestamptz"))?)
            }
            ColumnKind::Date => json!(date_days(text).ok_or_else(|| bad("date"))?),
            ColumnKind::MicroTime => json!(time_micros(text).ok_or_else(|| bad("time"))?),
            ColumnKind::Bytes => {
                let bytes = text
                    .strip_prefix("\\x")
                    .and_then(hex_decode)
                    .ok_or_else(|| bad("bytea"))?;
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        })
    }
}

/// Infinity and NaN have no JSON number; Debezium writes them as strings too.
fn float(text: &str) -> Option<Value> {
    let value: f64 = text.parse().ok()?;
    Some(serde_json::Number::from_f64(value).map_or_else(|| json!(text), Value::Number))
}

fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `YYYY-MM-DD` (ISO DateStyle, which the connector sets) as days since the epoch.
fn date_days(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day))
        .then(|| days_from_civil(year, month, day))
}

/// `HH:MM:SS[.ffffff]` as microseconds since midnight.
fn time_micros(text: &str) -> Option<i64> {
    let (clock, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut parts = clock.splitn(3, ':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds: i64 = parts.next()?.parse().ok()?;
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = format!("{fraction:0<6}").parse().ok()?;
    Some(((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros)
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` as microseconds since the epoch.
fn timestamp_micros(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(' ')?;
    Some(date_days(date)? * 86_400_000_000 + time_micros(time)?)
}

/// A `timestamptz` in the UTC session time zone the connector sets (`... +00`), as Debezium's
/// ISO-8601 text: `2024-05-01T12:30:00.25Z`.
fn zoned_timestamp(text: &str) -> Option<String> {
    let utc = text.strip_suffix("+00")?;
    let (date, time) = utc.split_once(' ')?;
    date_days(date)?;
    time_micros(time)?;
    Some(format!("{date}T{time}Z"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn value(oid: u32, text: &str) -> Value {
        ColumnKind::of(oid, DecimalHandling::String)
            .value(text)
            .unwrap()
    }

    #[test]
    fn scalar_types_map_as_debezium_maps_them() {
        assert_eq!(value(16, "t"), json!(true));
        assert_eq!(value(20, "-9000000000"), json!(-9_000_000_000i64));
        assert_eq!(value(701, "2.5"), json!(2.5));
        assert_eq!(value(701, "NaN"), json!("NaN"));
        assert_eq!(value(1700, "12.50"), json!("12.50"));
        assert_eq!(
            ColumnKind::of(1700, DecimalHandling::Double)
                .value("12.50")
                .unwrap(),
            json!(12.5)
        );
        assert_eq!(value(3802, "{\"a\": 1}"), json!("{\"a\": 1}"));
        assert_eq!(value(17, "\\x0102ff"), json!("AQL/"));
    }

    #[test]
    fn temporal_types_map_to_epoch_units_and_utc_text() {
        assert_eq!(value(1082, "1970-01-02"), json!(1));
        assert_eq!(value(1082, "2024-03-01"), json!(19_783));
        assert_eq!(value(1082, "1969-12-31"), json!(-1));
        assert_eq!(value(1114, "1970-01-01 00:00:01.5"), json!(1_500_000));
        assert_eq!(
            value(1114, "2024-03-01 12:00:00"),
            json!(19_783i64 * 86_400_000_000 + 12 * 3_600_000_000)
        );
        assert_eq!(
            value(1184, "2024-03-01 12:00:00.25+00"),
            json!("2024-03-01T12:00:00.25Z")
        );
    }

    #[test]
    fn text_a_type_never_produces_is_an_error() {
        let kind = ColumnKind::of(23, DecimalHandling::String);
        assert_eq!(
            kind.value("x").unwrap_err(),
            ValueError {
                type_name: "integer",
                text: "x".into()
            }
        );
        assert!(ColumnKind::of(17, DecimalHandling::String)
            .value("\\x0")
            .is_err());
        assert!(ColumnKind::of(1184, DecimalHandling::String)
            .value("2024-03-01 12:00:00+02")
            .is_err());
    }

    #[test]
    fn schemas_carry_debezium_semantic_names() {
        let schema = ColumnKind::of(1114, DecimalHandling::String).schema("at", true);
        assert_eq!(
            schema,
            json!({"type": "int64", "optional": true, "field": "at",
                   "name": "io.debezium.time.MicroTimestamp", "version": 1})
        );
    }
}
