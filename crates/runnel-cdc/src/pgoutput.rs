//! The `pgoutput` logical replication messages (protocol version 1) that change rows: Relation,
//! Insert, Update, Delete and Truncate, decoded from the bytes of one XLogData payload.
//!
//! The replication client already turns Begin and Commit into events of their own; everything
//! else reaches this decoder as raw bytes from the network, so every length and count is
//! checked against what is left and a malformed message is a [`DecodeError`], never a panic.

use bytes::Bytes;

/// Why a payload is not a well-formed pgoutput message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("pgoutput message ends early: {what} needs {needed} more bytes, {left} left")]
    Truncated {
        what: &'static str,
        needed: usize,
        left: usize,
    },
    #[error("pgoutput message is empty")]
    Empty,
    #[error("pgoutput {what} has an unknown marker {marker:#04x}")]
    UnknownMarker { what: &'static str, marker: u8 },
    #[error("pgoutput {what} is not valid UTF-8")]
    NotUtf8 { what: &'static str },
    #[error("pgoutput {what} has a negative count or length {value}")]
    Negative { what: &'static str, value: i64 },
    #[error("pgoutput message has {left} bytes after its end")]
    TrailingBytes { left: usize },
}

/// One column of a relation, as the Relation message describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
    /// Part of the replica identity (by default, the primary key).
    pub is_key: bool,
}

/// A table's description, sent before the first change to it in a session and after each
/// change of its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub id: u32,
    pub schema: String,
    pub table: String,
    /// `d` default (primary key), `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    pub columns: Vec<RelationColumn>,
}

/// One column's value in a row image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnValue {
    Null,
    /// A TOASTed value the change did not touch: the server does not send it again.
    UnchangedToast,
    /// The value in PostgreSQL's text output format.
    Text(Bytes),
    /// The value in the type's binary format (only with the `binary` option).
    Binary(Bytes),
}

/// The row before an update or a delete, in the form the table's replica identity gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldRow {
    /// Only the replica identity's columns (the others are null).
    Key(Vec<ColumnValue>),
    /// Every column (REPLICA IDENTITY FULL).
    Full(Vec<ColumnValue>),
}

/// A decoded message that changes rows or describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Relation(Relation),
    Insert {
        relation_id: u32,
        new: Vec<ColumnValue>,
    },
    Update {
        relation_id: u32,
        old: Option<OldRow>,
        new: Vec<ColumnValue>,
    },
    Delete {
        relation_id: u32,
        old: OldRow,
    },
    Truncate {
        cascade: bool,
        restart_identity: bool,
        relation_ids: Vec<u32>,
    },
    /// A message that changes no row (Origin, Type, Begin, Commit, logical messages...): the
    /// tag, so the caller can tell what it skipped.
    Other(u8),
}

/// Decodes one pgoutput message.
pub fn decode(payload: &Bytes) -> Result<Message, DecodeError> {
    let mut reader = Reader {
        bytes: payload,
        at: 0,
    };
    let tag = reader.u8("message tag").map_err(|_| DecodeError::Empty)?;
    let message = match tag {
        b'R' => Message::Relation(relation(&mut reader)?),
        b'I' => {
            let relation_id = reader.u32("relation id")?;
            reader.expect_marker("insert", b'N')?;
            Message::Insert {
                relation_id,
                new: tuple(&mut reader)?,
            }
        }
        b'U' => {
            let relation_id = reader.u32("relation id")?;
            let (old, new) = match reader.u8("update marker")? {
                b'N' => (None, tuple(&mut reader)?),
                marker @ (b'K' | b'O') => {
                    let old = old_row(marker, tuple(&mut reader)?);
                    reader.expect_marker("update", b'N')?;
                    (Some(old), tuple(&mut reader)?)
                }
                marker => {
                    return Err(DecodeError::UnknownMarker {
                        what: "update",
                        marker,
                    })
                }
            };
            Message::Update {
                relation_id,
                old,
                new,
            }
        }
        b'D' => {
            let relation_id = reader.u32("relation id")?;
            let marker = reader.u8("delete marker")?;
            if marker != b'K' && marker != b'O' {
                return Err(DecodeError::UnknownMarker {
                    what: "delete",
                    marker,
                });
            }
            Message::Delete {
                relation_id,
                old: old_row(marker, tuple(&mut reader)?),
            }
        }
        b'T' => {
            let count = reader.i32("truncate relation count")?;
            let count = usize::try_from(count).map_err(|_| DecodeError::Negative {
                what: "truncate relation count",
                value: count.into(),
            })?;
            let options = reader.u8("truncate options")?;
            let mut relation_ids = Vec::with_capacity(count.min(reader.left() / 4));
            for _ in 0..count {
                relation_ids.push(reader.u32("truncated relation id")?);
            }
            Message::Truncate {
                cascade: options & 1 != 0,
                restart_identity: options & 2 != 0,
                relation_ids,
            }
        }
        other => return Ok(Message::Other(other)),
    };
    if reader.left() != 0 {
        return Err(DecodeError::TrailingBytes {
            left: reader.left(),
        });
    }
    Ok(message)
}

fn old_row(marker: u8, values: Vec<ColumnValue>) -> OldRow {
    if marker == b'K' {
        OldRow::Key(values)
    } else {
        OldRow::Full(values)
    }
}

fn relation(reader: &mut Reader<'_>) -> Result<Relation, DecodeError> {
    let id = reader.u32("relation id")?;
    let schema = reader.cstring("relation namespace")?;
    let table = reader.cstring("relation name")?;
    let replica_identity = reader.u8("replica identity")?;
    let count = reader.count("relation column count")?;
    // Each column takes at least 10 bytes, so a lying count cannot reserve much.
    let mut columns = Vec::with_capacity(count.min(reader.left() / 10));
    for _ in 0..count {
        let flags = reader.u8("column flags")?;
        columns.push(RelationColumn {
            name: reader.cstring("column name")?,
            type_oid: reader.u32("column type")?,
            type_modifier: reader.i32("column type modifier")?,
            is_key: flags & 1 != 0,
        });
    }
    Ok(Relation {
        id,
        schema,
        table,
        replica_identity,
        columns,
    })
}

fn tuple(reader: &mut Reader<'_>) -> Result<Vec<ColumnValue>, DecodeError> {
    let count = reader.count("tuple column count")?;
    let mut values = Vec::with_capacity(count.min(reader.left()));
    for _ in 0..count {
        values.push(match reader.u8("column kind")? {
            b'n' => ColumnValue::Null,
            b'u' => ColumnValue::UnchangedToast,
            b't' => ColumnValue::Text(reader.sized("column value")?),
            b'b' => ColumnValue::Binary(reader.sized("column value")?),
            marker => {
                return Err(DecodeError::UnknownMarker {
                    what: "column kind",
                    marker,
                })
            }
        });
    }
    Ok(values)
}

/// A cursor over the payload that checks every read against what is left.
struct Reader<'a> {
    bytes: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, what: &'static str, needed: usize) -> Result<&[u8], DecodeError> {
        let left = self.left();
        if needed > left {
            return Err(DecodeError::Truncated { what, needed, left });
        }
        let start = self.at;
        self.at += needed;
        Ok(&self.bytes[start..self.at])
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(what, N)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// A 16-bit count, which the protocol sends signed.
    fn count(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let value = i16::from_be_bytes(self.array(what)?);
        usize::try_from(value).map_err(|_| DecodeError::Negative {
            what,
            value: value.into(),
        })
    }

    fn expect_marker(&mut self, what: &'static str, expected: u8) -> Result<(), DecodeError> {
        match self.u8(what)? {
            marker if marker == expected => Ok(()),
            marker => Err(DecodeError::UnknownMarker { what, marker }),
        }
    }

    fn cstring(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let rest = &self.bytes[self.at..];
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeError::Truncated {
                what,
                needed: rest.len() + 1,
                left: rest.len(),
            })?;
        let text = std::str::from_utf8(&rest[..end])
            .map_err(|_| DecodeError::NotUtf8 { what })?
            .to_owned();
        self.at += end + 1;
        Ok(text)
    }

    /// A value preceded by its 32-bit length, shared with the payload rather than copied.
    fn sized(&mut self, what: &'static str) -> Result<Bytes, DecodeError> {
        let length = self.i32(what)?;
        let length = usize::try_from(length).map_err(|_| DecodeError::Negative {
            what,
            value: length.into(),
        })?;
        let start = self.at;
        self.take(what, length)?;
        Ok(self.bytes.slice(start..self.at))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn insert_bytes() -> Vec<u8> {
        let mut b = vec![b'I'];
        b.extend(16384u32.to_be_bytes());
        b.push(b'N');
        b.extend(3i16.to_be_bytes());
        b.push(b't');
        b.extend(2i32.to_be_bytes());
        b.extend(b"42");
        b.push(b'n');
        b.push(b'u');
        b
    }

    #[test]
    fn an_insert_decodes_text_null_and_unchanged_toast_columns() {
        let message = decode(&Bytes::from(insert_bytes())).unwrap();
        assert_eq!(
            message,
            Message::Insert {
                relation_id: 16384,
                new: vec![
                    ColumnValue::Text(Bytes::from_static(b"42")),
                    ColumnValue::Null,
                    ColumnValue::UnchangedToast,
                ],
            }
        );
    }

    #[test]
    fn a_relation_decodes_names_types_and_key_flags() {
        let mut b = vec![b'R'];
        b.extend(7u32.to_be_bytes());
        b.extend(b"public\0orders\0");
        b.push(b'f');
        b.extend(2i16.to_be_bytes());
        b.push(1);
        b.extend(b"id\0");
        b.extend(23u32.to_be_bytes());
        b.extend((-1i32).to_be_bytes());
        b.push(0);
        b.extend(b"note\0");
        b.extend(25u32.to_be_bytes());
        b.extend((-1i32).to_be_bytes());
        let Message::Relation(relation) = decode(&Bytes::from(b)).unwrap() else {
            panic!("not a relation");
        };
        assert_eq!(
            (relation.schema.as_str(), relation.table.as_str()),
            ("public", "orders")
        );
        assert_eq!(relation.replica_identity, b'f');
        assert!(relation.columns[0].is_key && !relation.columns[1].is_key);
        assert_eq!(relation.columns[1].type_oid, 25);
    }

    #[test]
    fn an_update_with_a_full_old_row_decodes_both_images() {
        let mut b = vec![b'U'];
        b.extend(1u32.to_be_bytes());
        b.push(b'O');
        b.extend(1i16.to_be_bytes());
        b.push(b'n');
        b.push(b'N');
        b.extend(1i16.to_be_bytes());
        b.push(b'n');
        assert_eq!(
            decode(&Bytes::from(b)).unwrap(),
            Message::Update {
                relation_id: 1,
                old: Some(OldRow::Full(vec![ColumnValue::Null])),
                new: vec![ColumnValue::Null],
            }
        );
    }

    #[test]
    fn a_truncate_decodes_its_options_and_relations() {
        let mut b = vec![b'T'];
        b.extend(2i32.to_be_bytes());
        b.push(3);
        b.extend(5u32.to_be_bytes());
        b.extend(6u32.to_be_bytes());
        assert_eq!(
            decode(&Bytes::from(b)).unwrap(),
            Message::Truncate {
                cascade: true,
                restart_identity: true,
                relation_ids: vec![5, 6],
            }
        );
    }

    #[test]
    fn a_value_longer_than_the_payload_is_a_truncation_error() {
        let mut b = insert_bytes();
        b.truncate(b.len() - 3);
        assert!(matches!(
            decode(&Bytes::from(b)),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn a_negative_length_and_an_unknown_marker_are_errors() {
        let mut b = insert_bytes();
        b[9..13].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(matches!(
            decode(&Bytes::from(b)),
            Err(DecodeError::Negative { .. })
        ));
        let mut b = insert_bytes();
        b[5] = b'X';
        assert!(matches!(
            decode(&Bytes::from(b)),
            Err(DecodeError::UnknownMarker { .. })
        ));
    }

    #[test]
    fn bytes_after_the_message_are_an_error() {
        let mut b = insert_bytes();
        b.push(0);
        assert_eq!(
            decode(&Bytes::from(b)),
            Err(DecodeError::TrailingBytes { left: 1 })
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_decode_or_fail_without_panicking(
            tag in prop::sample::select(vec![b'R', b'I', b'U', b'D', b'T', b'Y']),
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = vec![tag];
            bytes.extend(body);
            let _ = decode(&Bytes::from(bytes));
        }

        #[test]
        fn every_prefix_of_a_valid_message_fails_cleanly(cut in 1usize..17) {
            let bytes = insert_bytes();
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(decode(&Bytes::from(bytes[..cut].to_vec())).is_err());
        }
    }
}
