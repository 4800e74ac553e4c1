//! Output formatting: the record template of `runnel consume --format` and aligned text
//! tables for the administrative commands.

use std::borrow::Cow;
use std::io::{self, Write};

use rdkafka::message::{Headers, Message};

use crate::CliError;

/// The fields a template may name, in the order the help text lists them.
pub const FIELDS: &[&str] = &[
    "topic",
    "partition",
    "offset",
    "timestamp",
    "key",
    "value",
    "headers",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Timestamp,
    Key,
    Value,
    Headers,
}

/// A parsed `--format` template: `{field}` placeholders, `{{` and `}}` for literal braces,
/// and the escapes `\n`, `\t` and `\\` (shells make typing a tab or a newline awkward).
/// Every record is followed by a newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(template: &str) -> Result<Template, CliError> {
        let bad = |reason: String| CliError::BadFormat {
            template: template.to_owned(),
            reason,
        };
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '\\' => match chars.next() {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('\\') => text.push('\\'),
                    Some(other) => text.extend(['\\', other]),
                    None => text.push('\\'),
                },
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(bad(format!("unclosed {{{name}"))),
                        }
                    }
                    let part = match name.as_str() {
                        "topic" => Part::Topic,
                        "partition" => Part::Partition,
                        "offset" => Part::Offset,
                        "timestamp" => Part::Timestamp,
                        "key" => Part::Key,
                        "value" => Part::Value,
                        "headers" => Part::Headers,
                        _ => {
                            return Err(bad(format!(
                                "unknown field {{{name}}}; known: {}",
                                FIELDS
                                    .iter()
                                    .map(|f| format!("{{{f}}}"))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            )))
                        }
                    };
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text).into_bytes()));
                    }
                    parts.push(part);
                }
                c => text.push(c),
            }
        }
        text.push('\n');
        parts.push(Part::Text(text.into_bytes()));
        Ok(Template { parts })
    }

    /// Appends one record, as the template says, to `out`. Keys, values and headers are
    /// printed as UTF-8, invalid sequences replaced; a missing key or value prints nothing.
    pub fn render(&self, record: &impl Message, out: &mut Vec<u8>) {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.extend_from_slice(text),
                Part::Topic => out.extend_from_slice(record.topic().as_bytes()),
                Part::Partition => push_display(out, record.partition()),
                Part::Offset => push_display(out, record.offset()),
                Part::Timestamp => push_display(out, record.timestamp().to_millis().unwrap_or(-1)),
                Part::Key => push_lossy(out, record.key().unwrap_or_default()),
                Part::Value => push_lossy(out, record.payload().unwrap_or_default()),
                Part::Headers => {
                    if let Some(headers) = record.headers() {
                        for (i, header) in headers.iter().enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            out.extend_from_slice(header.key.as_bytes());
                            if let Some(value) = header.value {
                                out.push(b'=');
                                push_lossy(out, value);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn push_display(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{value}");
}

fn push_lossy(out: &mut Vec<u8>, bytes: &[u8]) {
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(text) => out.extend_from_slice(text.as_bytes()),
        Cow::Owned(text) => out.extend_from_slice(text.as_bytes()),
    }
}

/// Rows of text cells printed in columns two spaces apart, the first row being the header.
/// The last column is not padded, so lines carry no trailing blanks.
#[derive(Debug, Clone)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if c + 1 < row.len() {
                    let pad = widths[c] - cell.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

/// `name:  value` lines with the values aligned.
pub fn write_fields(out: &mut impl Write, fields: &[(&str, String)]) -> io::Result<()> {
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, value) in fields {
        writeln!(
            out,
            "{:<width$}  {value}",
            format!("{name}:"),
            width = width + 1
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    use super::*;

    fn record() -> OwnedMessage {
        OwnedMessage::new(
            Some(b"v\xffx".to_vec()),
            Some(b"k".to_vec()),
            "orders".to_owned(),
            Timestamp::CreateTime(1_700_000_000_123),
            2,
            41,
            Some(
                OwnedHeaders::new()
                    .insert(Header {
                        key: "a",
                        value: Some("1"),
                    })
                    .insert(Header::<&str> {
                        key: "b",
                        value: None,
                    }),
            ),
        )
    }

    fn render(template: &str, record: &OwnedMessage) -> String {
        let mut out = Vec::new();
        Template::parse(template).unwrap().render(record, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn templates_print_every_field() {
        assert_eq!(
            render(
                "{topic}/{partition}@{offset} {timestamp} {key}={value} [{headers}]",
                &record()
            ),
            "orders/2@41 1700000000123 k=v\u{fffd}x [a=1,b]\n"
        );
        assert_eq!(render("{value}", &record()), "v\u{fffd}x\n");
        assert_eq!(render("{{{key}}}\\t\\\\\\n", &record()), "{k}\t\\\n\n");
        let bare = OwnedMessage::new(None, None, "t".into(), Timestamp::NotAvailable, 0, 0, None);
        assert_eq!(
            render("<{key}|{value}|{headers}|{timestamp}>", &bare),
            "<|||-1>\n"
        );
    }

    #[test]
    fn bad_templates_are_refused_with_a_reason() {
        for (template, reason) in [
            ("{nope}", "unknown field {nope}"),
            ("{value", "unclosed {value"),
        ] {
            let error = Template::parse(template).unwrap_err().to_string();
            assert!(error.contains(reason), "{error}");
            assert!(!error.contains('\n'));
        }
    }

    #[test]
    fn tables_align_columns_without_trailing_blanks() {
        let mut table = Table::new(&["A", "LONGER", "C"]);
        table.row(vec!["xyz".into(), "1".into(), "last".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A    LONGER  C\nxyz  1       last\n"
        );
        let mut out = Vec::new();
        write_fields(
            &mut out,
            &[("Group", "g".into()), ("State", "Empty".into())],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Group:  g\nState:  Empty\n"
        );
    }
}
