//! Single message transforms, configured with Kafka Connect's names: `transforms=a,b`,
//! `transforms.a.type=...ExtractField$Value`, `transforms.a.field=...`; predicates with
//! `predicates=p`, `predicates.p.type=...TopicNameMatches`, and `transforms.a.predicate=p`
//! (plus `negate`) to apply a transform only to the records a predicate matches.

use regex::Regex;
use serde_json::{Map, Value};

use crate::config::ConnectorConfig;
use crate::error::ConfigError;
use crate::record::SinkRecord;

/// One configured transform, with the predicate that gates it.
#[derive(Debug, Clone)]
pub struct Transform {
    name: String,
    kind: Kind,
    predicate: Option<(Predicate, bool)>,
}

/// Which side of a record a transform works on (`$Key` or `$Value` in Kafka's class names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Key,
    Value,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Replaces the key or value with one of its fields.
    ExtractField { side: Side, field: String },
    /// Makes the key an object of the value's `fields`.
    ValueToKey { fields: Vec<String> },
    /// Keeps (`include`), drops (`exclude`) and renames fields of the key or value.
    ReplaceField {
        side: Side,
        include: Vec<String>,
        exclude: Vec<String>,
        renames: Vec<(String, String)>,
    },
    /// Adds a header with a literal value.
    InsertHeader { header: String, value: Vec<u8> },
    /// Drops the record (usually gated by a predicate).
    Filter,
    /// Renames the topic by a regular expression (`$1` refers to a group).
    RegexRouter { regex: Regex, replacement: String },
    /// Renames the topic after the record's timestamp: `${topic}-${timestamp}` by default.
    TimestampRouter {
        topic_format: String,
        timestamp_format: String,
    },
}

#[derive(Debug, Clone)]
enum Predicate {
    TopicNameMatches(Regex),
    HasHeaderKey(String),
    RecordIsTombstone,
}

impl Transform {
    /// The transforms listed in `transforms`, in order.
    pub fn parse_all(config: &ConnectorConfig) -> Result<Vec<Transform>, ConfigError> {
        config
            .list("transforms")
            .iter()
            .map(|name| Transform::parse(config, name))
            .collect()
    }

    fn parse(config: &ConnectorConfig, name: &str) -> Result<Transform, ConfigError> {
        let prefix = format!("transforms.{name}.");
        let setting = |key: &str| format!("{prefix}{key}");
        let required = |key: &str| config.required(&setting(key)).map(str::to_owned);
        let class = required("type")?;
        let short = class.rsplit('.').next().unwrap_or(&class);
        let (base, side) = match short.split_once('$') {
            Some((base, "Key")) => (base, Some(Side::Key)),
            Some((base, "Value")) => (base, Some(Side::Value)),
            Some(_) => {
                return Err(ConfigError::invalid(
                    &setting("type"),
                    "ends in neither $Key nor $Value",
                ))
            }
            None => (short, None),
        };
        let sided = || {
            side.ok_or_else(|| {
                ConfigError::invalid(&setting("type"), &format!("{base} needs $Key or $Value"))
            })
        };
        let kind = match base {
            "ExtractField" => Kind::ExtractField {
                side: sided()?,
                field: required("field")?,
            },
            "ValueToKey" => Kind::ValueToKey {
                fields: non_empty(config.list(&setting("fields")), &setting("fields"))?,
            },
            "ReplaceField" => Kind::ReplaceField {
                side: sided()?,
                include: config.list(&setting("include")),
                exclude: config.list(&setting("exclude")),
                renames: config
                    .list(&setting("renames"))
                    .iter()
                    .map(|pair| {
                        pair.split_once(':')
                            .map(|(from, to)| (from.to_owned(), to.to_owned()))
                            .ok_or_else(|| {
                                ConfigError::invalid(&setting("renames"), "expects old:new pairs")
                            })
                    })
                    .collect::<Result<_, _>>()?,
            },
            "InsertHeader" => Kind::InsertHeader {
                header: required("header")?,
                value: required("value.literal")?.into_bytes(),
            },
            "Filter" => Kind::Filter,
            "RegexRouter" => Kind::RegexRouter {
                regex: Regex::new(&format!("^(?:{})$", required("regex")?))
                    .map_err(|e| ConfigError::invalid(&setting("regex"), &e.to_string()))?,
                replacement: required("replacement")?,
            },
            "TimestampRouter" => Kind::TimestampRouter {
                topic_format: config
                    .get(&setting("topic.format"))
                    .unwrap_or("${topic}-${timestamp}")
                    .to_owned(),
                timestamp_format: config
                    .get(&setting("timestamp.format"))
                    .unwrap_or("yyyyMMdd")
                    .to_owned(),
            },
            other => {
                return Err(ConfigError::invalid(
                    &setting("type"),
                    &format!("unknown transform {other}"),
                ))
            }
        };
        let predicate = match config.get(&setting("predicate")) {
            None => None,
            Some(predicate) => Some((
                Predicate::parse(config, predicate)?,
                config.parse(&setting("negate"), false)?,
            )),
        };
        Ok(Transform {
            name: name.to_owned(),
            kind,
            predicate,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The record after this transform; `None` when it is filtered out.
    pub fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>, String> {
        if let Some((predicate, negate)) = &self.predicate {
            if predicate.matches(&record) == *negate {
                return Ok(Some(record));
            }
        }
        match &self.kind {
            Kind::ExtractField { side, field } => {
                let data = side_of(&mut record, *side);
                *data = match data.take() {
                    None => None,
                    Some(Value::Object(mut fields)) => fields.remove(field),
                    Some(_) => return Err(format!("ExtractField: the {side:?} is not an object")),
                };
            }
            Kind::ValueToKey { fields } => {
                let Some(Value::Object(value)) = &record.value else {
                    return Err("ValueToKey: the value is not an object".to_owned());
                };
                let mut key = Map::new();
                for field in fields {
                    let v = value
                        .get(field)
                        .ok_or_else(|| format!("ValueToKey: the value has no field {field}"))?;
                    key.insert(field.clone(), v.clone());
                }
                record.key = Some(Value::Object(key));
            }
            Kind::ReplaceField {
                side,
                include,
                exclude,
                renames,
            } => {
                let data = side_of(&mut record, *side);
                match data {
                    None => {}
                    Some(Value::Object(fields)) => {
                        let kept = std::mem::take(fields).into_iter().filter(|(name, _)| {
                            (include.is_empty() || include.contains(name))
                                && !exclude.contains(name)
                        });
                        *fields = kept
                            .map(|(name, v)| {
                                let renamed = renames
                                    .iter()
                                    .find(|(from, _)| *from == name)
                                    .map_or(name, |(_, to)| to.clone());
                                (renamed, v)
                            })
                            .collect();
                    }
                    Some(_) => return Err(format!("ReplaceField: the {side:?} is not an object")),
                }
            }
            Kind::InsertHeader { header, value } => {
                record.headers.push((header.clone(), Some(value.clone())));
            }
            Kind::Filter => return Ok(None),
            Kind::RegexRouter { regex, replacement } => {
                if regex.is_match(&record.topic) {
                    record.topic = regex
                        .replace(&record.topic, replacement.as_str())
                        .into_owned();
                }
            }
            Kind::TimestampRouter {
                topic_format,
                timestamp_format,
            } => {
                let timestamp = record
                    .timestamp
                    .ok_or("TimestampRouter: the record has no timestamp")?;
                record.topic = topic_format.replace("${topic}", &record.topic).replace(
                    "${timestamp}",
                    &format_timestamp(timestamp, timestamp_format),
                );
            }
        }
        Ok(Some(record))
    }
}

fn non_empty(list: Vec<String>, key: &str) -> Result<Vec<String>, ConfigError> {
    if list.is_empty() {
        Err(ConfigError::Missing(key.to_owned()))
    } else {
        Ok(list)
    }
}

fn side_of(record: &mut SinkRecord, side: Side) -> &mut Option<Value> {
    match side {
        Side::Key => &mut record.key,
        Side::Value => &mut record.value,
    }
}

impl Predicate {
    fn parse(config: &ConnectorConfig, name: &str) -> Result<Predicate, ConfigError> {
        if !config.list("predicates").iter().any(|p| p == name) {
            return Err(ConfigError::invalid(
                "predicates",
                &format!("does not list the predicate {name}"),
            ));
        }
        let setting = |key: &str| format!("predicates.{name}.{key}");
        let class = config.required(&setting("type"))?;
        match class.rsplit('.').next().unwrap_or(class) {
            "TopicNameMatches" => {
                let pattern = config.required(&setting("pattern"))?;
                Regex::new(&format!("^(?:{pattern})$"))
                    .map(Predicate::TopicNameMatches)
                    .map_err(|e| ConfigError::invalid(&setting("pattern"), &e.to_string()))
            }
            "HasHeaderKey" => Ok(Predicate::HasHeaderKey(
                config.required(&setting("name"))?.to_owned(),
            )),
            "RecordIsTombstone" => Ok(Predicate::RecordIsTombstone),
            other => Err(ConfigError::invalid(
                &setting("type"),
                &format!("unknown predicate {other}"),
            )),
        }
    }

    fn matches(&self, record: &SinkRecord) -> bool {
        match self {
            Predicate::TopicNameMatches(regex) => regex.is_match(&record.topic),
            Predicate::HasHeaderKey(name) => record.headers.iter().any(|(k, _)| k == name),
            Predicate::RecordIsTombstone => record.value.is_none(),
        }
    }
}

/// `millis` since the epoch (UTC) in a Java `SimpleDateFormat`-style pattern: the letters
/// `yyyy`, `MM`, `dd`, `HH`, `mm` and `ss` are replaced, everything else is kept.
fn format_timestamp(millis: i64, pattern: &str) -> String {
    let seconds = millis.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    pattern
        .replace("yyyy", &format!("{year:04}"))
        .replace("MM", &format!("{month:02}"))
        .replace("dd", &format!("{day:02}"))
        .replace("HH", &format!("{:02}", second_of_day / 3600))
        .replace("mm", &format!("{:02}", second_of_day % 3600 / 60))
        .replace("ss", &format!("{:02}", second_of_day % 60))
}

/// The proleptic Gregorian date of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
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
    use std::collections::BTreeMap;

    use super::*;
    use serde_json::json;

    fn transforms(pairs: &[(&str, &str)]) -> Vec<Transform> {
        let mut settings: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        settings.insert("name".to_owned(), "c".to_owned());
        settings.insert("connector.class".to_owned(), "http".to_owned());
        Transform::parse_all(&ConnectorConfig::new(settings).unwrap()).unwrap()
    }

    fn record(topic: &str, key: Option<Value>, value: Option<Value>) -> SinkRecord {
        SinkRecord {
            original_topic: topic.to_owned(),
            topic: topic.to_owned(),
            partition: 0,
            offset: 0,
            timestamp: Some(1_700_000_000_000),
            headers: Vec::new(),
            key,
            value,
        }
    }

    fn run(chain: &[Transform], record: SinkRecord) -> Option<SinkRecord> {
        chain
            .iter()
            .try_fold(Some(record), |r, t| match r {
                Some(r) => t.apply(r),
                None => Ok(None),
            })
            .unwrap()
    }

    #[test]
    fn extract_field_and_value_to_key() {
        let chain = transforms(&[
            ("transforms", "key,unwrap"),
            (
                "transforms.key.type",
                "org.apache.kafka.connect.transforms.ValueToKey",
            ),
            ("transforms.key.fields", "id"),
            ("transforms.unwrap.type", "ExtractField$Value"),
            ("transforms.unwrap.field", "after"),
        ]);
        let out = run(
            &chain,
            record("t", None, Some(json!({"id": 1, "after": {"n": 2}}))),
        )
        .unwrap();
        assert_eq!(out.key, Some(json!({"id": 1})));
        assert_eq!(out.value, Some(json!({"n": 2})));
    }

    #[test]
    fn replace_field_drops_and_renames() {
        let chain = transforms(&[
            ("transforms", "r"),
            ("transforms.r.type", "ReplaceField$Value"),
            ("transforms.r.exclude", "secret"),
            ("transforms.r.renames", "a:b"),
        ]);
        let out = run(
            &chain,
            record("t", None, Some(json!({"a": 1, "secret": 2, "c": 3}))),
        );
        assert_eq!(out.unwrap().value, Some(json!({"b": 1, "c": 3})));
    }

    #[test]
    fn filter_applies_where_its_predicate_matches() {
        let chain = transforms(&[
            ("transforms", "drop,mark"),
            (
                "transforms.drop.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.drop.predicate", "tomb"),
            ("transforms.mark.type", "InsertHeader"),
            ("transforms.mark.header", "seen"),
            ("transforms.mark.value.literal", "yes"),
            ("transforms.mark.predicate", "audit"),
            ("transforms.mark.negate", "true"),
            ("predicates", "tomb,audit"),
            (
                "predicates.tomb.type",
                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            ),
            ("predicates.audit.type", "TopicNameMatches"),
            ("predicates.audit.pattern", "audit-.*"),
        ]);
        assert!(run(&chain, record("t", Some(json!(1)), None)).is_none());
        let kept = run(&chain, record("t", Some(json!(1)), Some(json!(2)))).unwrap();
        assert_eq!(kept.headers, [("seen".to_owned(), Some(b"yes".to_vec()))]);
        let audit = run(&chain, record("audit-1", Some(json!(1)), Some(json!(2)))).unwrap();
        assert!(audit.headers.is_empty());

        let has_header = transforms(&[
            ("transforms", "f"),
            ("transforms.f.type", "Filter"),
            ("transforms.f.predicate", "h"),
            ("predicates", "h"),
            ("predicates.h.type", "HasHeaderKey"),
            ("predicates.h.name", "skip"),
        ]);
        let mut flagged = record("t", None, Some(json!(1)));
        flagged.headers.push(("skip".to_owned(), None));
        assert!(run(&has_header, flagged).is_none());
    }

    #[test]
    fn routers_rename_the_topic() {
        let chain = transforms(&[
            ("transforms", "regex,time"),
            ("transforms.regex.type", "RegexRouter"),
            ("transforms.regex.regex", "db\\.(.*)"),
            ("transforms.regex.replacement", "$1"),
            ("transforms.time.type", "TimestampRouter"),
            ("transforms.time.timestamp.format", "yyyy-MM-dd_HH"),
        ]);
        // 1_700_000_000 s is 2023-11-14T22:13:20Z.
        let out = run(&chain, record("db.orders", None, Some(json!(1)))).unwrap();
        assert_eq!(out.topic, "orders-2023-11-14_22");
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_an_error() {
        let chain = transforms(&[
            ("transforms", "x"),
            ("transforms.x.type", "ExtractField$Value"),
            ("transforms.x.field", "a"),
        ]);
        assert!(chain[0].apply(record("t", None, Some(json!(3)))).is_err());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_675), (2023, 11, 14));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(format_timestamp(951_782_400_000, "yyyyMMdd"), "20000229");
    }
}
