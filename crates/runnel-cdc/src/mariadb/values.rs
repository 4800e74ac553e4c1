//! MariaDB/MySQL column values as the JSON values and Kafka Connect schema fields Debezium's
//! MySQL connector gives them. The snapshot reads rows through the binary protocol and the
//! stream decodes them from row events; both give the driver's typed `Value`s, so one mapping
//! serves both and a row looks the same whichever of them delivered it.

use base64::Engine;
use mysql_async::binlog::events::{OptionalMetadataField, TableMapEvent};
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column as MyColumn, Value as MyValue};
use serde_json::{json, Value};

use crate::config::DecimalHandling;
use crate::envelope::{Column, TableSchema};
use crate::types::{days_from_civil, ColumnKind, ValueError};

/// The character set number MariaDB gives binary strings.
const BINARY_CHARSET: u16 = 63;

/// How a MariaDB column type appears in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int16,
    /// A signed `MEDIUMINT`: the binlog crate reads its three bytes without extending the
    /// sign, so a negative value arrives as its 24-bit two's complement.
    SignedInt24,
    Int32,
    Int64,
    Float32,
    Float64,
    Decimal(DecimalHandling),
    /// `date`: days since the epoch.
    Date,
    /// `datetime`: microseconds since the epoch, the time read as UTC.
    DateTime,
    /// `timestamp`: ISO-8601 text in UTC.
    Timestamp,
    /// `time`: microseconds (may be negative or past a day).
    Time,
    Year,
    /// `ENUM`: its label; the binlog gives the label's number, 1-based.
    Enum,
    /// `SET`: its labels, comma-separated; the binlog gives a little-endian bit mask.
    Set,
    Text,
    Bytes,
}

impl Kind {
    /// The kind of a column as a result set or a table map describes it.
    pub fn of(column: &MyColumn, decimals: DecimalHandling) -> Kind {
        use ColumnType::*;
        let flags = column.flags();
        let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
        match column.column_type() {
            // A result set reports ENUM and SET as strings flagged as such.
            MYSQL_TYPE_ENUM => Kind::Enum,
            MYSQL_TYPE_SET => Kind::Set,
            MYSQL_TYPE_STRING if flags.contains(ColumnFlags::ENUM_FLAG) => Kind::Enum,
            MYSQL_TYPE_STRING if flags.contains(ColumnFlags::SET_FLAG) => Kind::Set,
            MYSQL_TYPE_TINY => Kind::Int16,
            MYSQL_TYPE_SHORT if unsigned => Kind::Int32,
            MYSQL_TYPE_SHORT => Kind::Int16,
            MYSQL_TYPE_INT24 if unsigned => Kind::Int32,
            MYSQL_TYPE_INT24 => Kind::SignedInt24,
            MYSQL_TYPE_LONG if unsigned => Kind::Int64,
            MYSQL_TYPE_LONG => Kind::Int32,
            MYSQL_TYPE_LONGLONG => Kind::Int64,
            MYSQL_TYPE_FLOAT => Kind::Float32,
            MYSQL_TYPE_DOUBLE => Kind::Float64,
            MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => Kind::Decimal(decimals),
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => Kind::Date,
            MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => Kind::DateTime,
            MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => Kind::Timestamp,
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => Kind::Time,
            MYSQL_TYPE_YEAR => Kind::Year,
            MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_JSON
                if column.character_set() != BINARY_CHARSET =>
            {
                Kind::Text
            }
            _ => Kind::Bytes,
        }
    }

    /// The kind that gives this one's Kafka Connect schema.
    fn column_kind(self) -> ColumnKind {
        match self {
            Kind::Int16 => ColumnKind::Int16,
            Kind::SignedInt24 | Kind::Int32 | Kind::Year => ColumnKind::Int32,
            Kind::Int64 => ColumnKind::Int64,
            Kind::Float32 => ColumnKind::Float32,
            Kind::Float64 => ColumnKind::Float64,
            Kind::Decimal(decimals) => ColumnKind::Numeric(decimals),
            Kind::Date => ColumnKind::Date,
            Kind::DateTime => ColumnKind::Timestamp,
            Kind::Timestamp => ColumnKind::ZonedTimestamp,
            Kind::Time => ColumnKind::MicroTime,
            Kind::Enum => ColumnKind::Enum,
            Kind::Set => ColumnKind::EnumSet,
            Kind::Text => ColumnKind::Text,
            Kind::Bytes => ColumnKind::Bytes,
        }
    }

    /// The JSON value of a column value of this kind.
    pub fn json(self, value: &MyValue) -> Result<Value, ValueError> {
        let bad = |type_name| ValueError {
            type_name,
            text: format!("{value:?}"),
        };
        Ok(match (self, value) {
            (_, MyValue::NULL) => Value::Null,
            (Kind::SignedInt24, MyValue::Int(i)) if *i >= 1 << 23 => json!(i - (1 << 24)),
            (
                Kind::Int16 | Kind::SignedInt24 | Kind::Int32 | Kind::Int64 | Kind::Year,
                MyValue::Int(i),
            ) => {
                json!(i)
            }
            (Kind::Int16 | Kind::Int32 | Kind::Int64, MyValue::UInt(u)) => json!(u),
            // The binlog writes a year as its text.
            (Kind::Year, MyValue::Bytes(text)) => {
                json!(number::<i64>(text).ok_or_else(|| bad("year"))?)
            }
            // Through its shortest text, so a FLOAT 1.1 is 1.1 and not 1.100000023841858.
            (Kind::Float32, MyValue::Float(f)) => float(f64_text(&f.to_string())),
            (Kind::Float32 | Kind::Float64, MyValue::Double(d)) => float(*d),
            (Kind::Decimal(DecimalHandling::String), MyValue::Bytes(text)) => {
                json!(std::str::from_utf8(text).map_err(|_| bad("decimal"))?)
            }
            (Kind::Decimal(DecimalHandling::Double), MyValue::Bytes(text)) => {
                float(number::<f64>(text).ok_or_else(|| bad("decimal"))?)
            }
            (Kind::Date, MyValue::Date(y, m, d, ..)) => {
                json!(days_from_civil(i64::from(*y), i64::from(*m), i64::from(*d)))
            }
            (Kind::DateTime, MyValue::Date(y, mo, d, h, mi, s, us)) => {
                let days = days_from_civil(i64::from(*y), i64::from(*mo), i64::from(*d));
                json!(days * 86_400_000_000 + day_micros(*h, *mi, *s, *us))
            }
            // The snapshot's session runs in UTC, so its timestamps are UTC dates.
            (Kind::Timestamp, MyValue::Date(y, mo, d, h, mi, s, us)) => {
                json!(zoned(*y, *mo, *d, *h, *mi, *s, *us))
            }
            // The binlog writes a timestamp as seconds since the epoch, `sec[.fraction]`.
            (Kind::Timestamp, MyValue::Bytes(text)) => {
                json!(epoch_text(text).ok_or_else(|| bad("timestamp"))?)
            }
            (Kind::Timestamp, MyValue::Int(seconds)) => json!(epoch_zoned(*seconds, 0)),
            (Kind::Time, MyValue::Time(negative, days, h, mi, s, us)) => {
                let micros = i64::from(*days) * 86_400_000_000 + day_micros(*h, *mi, *s, *us);
                json!(if *negative { -micros } else { micros })
            }
            (Kind::Text | Kind::Enum | Kind::Set, MyValue::Bytes(bytes)) => {
                json!(std::str::from_utf8(bytes).map_err(|_| bad("UTF-8 text"))?)
            }
            (Kind::Bytes, MyValue::Bytes(bytes)) => {
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            _ => return Err(bad("value of this column type")),
        })
    }
}

/// The JSON value of a column value read from a row event, given the column's ENUM or SET
/// labels from its table map (empty for other columns).
pub fn binlog_json(kind: Kind, value: &MyValue, labels: &[String]) -> Result<Value, ValueError> {
    let bad = |type_name| ValueError {
        type_name,
        text: format!("{value:?}"),
    };
    Ok(match (kind, value) {
        // 0 is the empty string MariaDB stores for a value that was not a label.
        (Kind::Enum, MyValue::Int(0)) => json!(""),
        (Kind::Enum, MyValue::Int(number)) => {
            let label = usize::try_from(*number - 1)
                .ok()
                .and_then(|index| labels.get(index));
            json!(label.ok_or_else(|| bad("ENUM label number"))?)
        }
        (Kind::Set, MyValue::Bytes(mask)) => {
            let mut chosen = Vec::new();
            for (byte_index, byte) in mask.iter().enumerate() {
                for bit in (0..8).filter(|bit| byte & (1 << bit) != 0) {
                    let label = labels.get(byte_index * 8 + bit);
                    chosen.push(label.ok_or_else(|| bad("SET bit"))?.as_str());
                }
            }
            json!(chosen.join(","))
        }
        _ => kind.json(value)?,
    })
}

/// Each column's ENUM or SET labels from a table map's full row metadata, by column index
/// (empty for other columns). The metadata lists one label list per ENUM column, in column
/// order, and one per SET column likewise.
pub fn labels(map: &TableMapEvent<'_>) -> std::io::Result<Vec<Vec<String>>> {
    let columns = map.columns_count() as usize;
    let labelled = |index| {
        matches!(
            map.get_column_type(index),
            Ok(Some(
                ColumnType::MYSQL_TYPE_ENUM | ColumnType::MYSQL_TYPE_SET
            ))
        )
    };
    // Most tables have neither: skip parsing the metadata for every rows event of theirs.
    if !(0..columns).any(labelled) {
        return Ok(Vec::new());
    }
    let (mut enums, mut sets) = (Vec::new(), Vec::new());
    for field in map.iter_optional_meta() {
        match field? {
            OptionalMetadataField::EnumStrValue(lists) => {
                for list in lists.iter_values() {
                    let list = list?;
                    enums.push(
                        list.values()
                            .iter()
                            .map(|v| v.value().into_owned())
                            .collect(),
                    );
                }
            }
            OptionalMetadataField::SetStrValue(lists) => {
                for list in lists.iter_values() {
                    let list = list?;
                    sets.push(
                        list.values()
                            .iter()
                            .map(|v| v.value().into_owned())
                            .collect(),
                    );
                }
            }
            _ => {}
        }
    }
    let (mut enums, mut sets) = (enums.into_iter(), sets.into_iter());
    (0..columns)
        .map(|index| {
            let column_type = map
                .get_column_type(index)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            Ok(match column_type {
                Some(ColumnType::MYSQL_TYPE_ENUM) => enums.next().unwrap_or_default(),
                Some(ColumnType::MYSQL_TYPE_SET) => sets.next().unwrap_or_default(),
                _ => Vec::new(),
            })
        })
        .collect()
}

/// A table's schema and each column's kind, from the columns a result set or row event
/// carries: names, types, and the primary key flag.
pub fn table_schema(
    database: &str,
    table: &str,
    columns: &[MyColumn],
    decimals: DecimalHandling,
) -> (TableSchema, Vec<Kind>) {
    let kinds: Vec<Kind> = columns.iter().map(|c| Kind::of(c, decimals)).collect();
    let schema = TableSchema {
        schema: database.to_owned(),
        table: table.to_owned(),
        columns: columns
            .iter()
            .zip(&kinds)
            .map(|(c, kind)| Column {
                name: c.name_str().into_owned(),
                kind: kind.column_kind(),
                is_key: c.flags().contains(ColumnFlags::PRI_KEY_FLAG),
            })
            .collect(),
    };
    (schema, kinds)
}

fn number<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn f64_text(text: &str) -> f64 {
    text.parse().unwrap_or(f64::NAN)
}

/// MariaDB stores no NaN or infinity; a JSON null stands for one should it ever arrive.
fn float(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn day_micros(h: u8, mi: u8, s: u8, us: u32) -> i64 {
    ((i64::from(h) * 60 + i64::from(mi)) * 60 + i64::from(s)) * 1_000_000 + i64::from(us)
}

/// `2024-05-01T12:30:00.25Z`: the fraction without trailing zeros, none when whole.
fn zoned(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8, us: u32) -> String {
    let fraction = if us == 0 {
        String::new()
    } else {
        format!(".{us:06}").trim_end_matches('0').to_owned()
    };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}Z")
}

/// `seconds[.fraction]` since the epoch, as the binlog gives a timestamp.
fn epoch_text(text: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: u32 = format!("{fraction:0<6}").parse().ok()?;
    Some(epoch_zoned(seconds.parse().ok()?, micros))
}

fn epoch_zoned(seconds: i64, micros: u32) -> String {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    // Each part is in range by construction; a year past u16 cannot come from MariaDB.
    zoned(
        u16::try_from(y).unwrap_or(u16::MAX),
        mo as u8,
        d as u8,
        h as u8,
        mi as u8,
        s as u8,
        micros,
    )
}

/// The proleptic Gregorian date of a day since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, the inverse of `days_from_civil`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn civil_from_days_inverts_days_from_civil() {
        for days in [-719_468, -1, 0, 59, 365, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn binlog_and_snapshot_timestamps_give_the_same_text() {
        let snapshot = Kind::Timestamp
            .json(&MyValue::Date(2024, 3, 1, 12, 0, 0, 250_000))
            .unwrap();
        let binlog = Kind::Timestamp
            .json(&MyValue::Bytes(b"1709294400.250000".to_vec()))
            .unwrap();
        assert_eq!(snapshot, json!("2024-03-01T12:00:00.25Z"));
        assert_eq!(binlog, snapshot);
        assert_eq!(
            Kind::Timestamp
                .json(&MyValue::Bytes(b"0".to_vec()))
                .unwrap(),
            json!("1970-01-01T00:00:00Z")
        );
    }

    #[test]
    fn values_map_as_debezium_maps_them() {
        let check = |kind: Kind, value: MyValue, expected: Value| {
            assert_eq!(kind.json(&value).unwrap(), expected, "{kind:?} {value:?}");
        };
        check(Kind::Float32, MyValue::Float(1.1), json!(1.1));
        check(
            Kind::SignedInt24,
            MyValue::Int(0x80_0000),
            json!(-8_388_608),
        );
        check(
            Kind::SignedInt24,
            MyValue::Int(-8_388_608),
            json!(-8_388_608),
        );
        check(Kind::SignedInt24, MyValue::Int(8_388_607), json!(8_388_607));
        check(Kind::Year, MyValue::Bytes(b"2024".to_vec()), json!(2024));
        check(Kind::Year, MyValue::Int(2024), json!(2024));
        check(
            Kind::Time,
            MyValue::Time(true, 1, 2, 0, 0, 5),
            json!(-(26 * 3_600_000_000i64 + 5)),
        );
        check(
            Kind::DateTime,
            MyValue::Date(1970, 1, 2, 0, 0, 1, 7),
            json!(86_401_000_007i64),
        );
        check(Kind::Bytes, MyValue::Bytes(vec![0, 255]), json!("AP8="));
        check(
            Kind::Decimal(DecimalHandling::Double),
            MyValue::Bytes(b"12.50".to_vec()),
            json!(12.5),
        );
        assert!(Kind::Text.json(&MyValue::Bytes(vec![0xff])).is_err());
        assert!(Kind::Text.json(&MyValue::Int(2)).is_err());
    }

    #[test]
    fn enum_numbers_and_set_masks_become_their_labels() {
        let labels: Vec<String> = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .map(str::to_owned)
            .to_vec();
        let binlog = |kind, value| binlog_json(kind, &value, &labels);
        assert_eq!(binlog(Kind::Enum, MyValue::Int(2)).unwrap(), json!("b"));
        assert_eq!(binlog(Kind::Enum, MyValue::Int(0)).unwrap(), json!(""));
        assert!(binlog(Kind::Enum, MyValue::Int(10)).is_err());
        assert!(binlog(Kind::Enum, MyValue::Int(-1)).is_err());
        assert_eq!(
            binlog(Kind::Set, MyValue::Bytes(vec![0b101, 0b1])).unwrap(),
            json!("a,c,i")
        );
        assert_eq!(
            binlog(Kind::Set, MyValue::Bytes(vec![0, 0])).unwrap(),
            json!("")
        );
        assert!(binlog(Kind::Set, MyValue::Bytes(vec![0, 0b10])).is_err());
        // The snapshot gives the text itself.
        assert_eq!(
            Kind::Set.json(&MyValue::Bytes(b"a,c".to_vec())).unwrap(),
            json!("a,c")
        );
    }
}
