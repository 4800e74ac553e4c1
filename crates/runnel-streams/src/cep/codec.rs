//! The bytes of a key's matching state, as its store keeps them (one entry per key).
//!
//! All integers big-endian: the next arrival number (`u64`); the number of waiting records
//! (`u32`), then each one's event time (`i64`), arrival number (`u64`), value length (`u32`)
//! and value; the number of partial matches (`u32`), then each one's stage (`u32`), count of
//! events in that stage (`u32`), skipped flag (`u8`), blocked stages (`u64`), satisfied
//! negations (`u64`), greedy flag (`u8`) and number of events (`u32`), then each event's
//! stage (`u32`), event time (`i64`), arrival number (`u64`), value length (`u32`) and value.

use bytes::{BufMut, Bytes, BytesMut};

use super::matcher::KeyState;
use super::nfa::{Gap, Partial};
use crate::error::StreamsError;
use crate::serdes::Serde;

pub(super) fn encode<V>(state: &KeyState<V>, values: &dyn Serde<V>) -> Result<Bytes, StreamsError> {
    let mut out = BytesMut::new();
    out.put_u64(state.next_seq);
    put_len(&mut out, state.waiting.len())?;
    for (&(timestamp, seq), value) in &state.waiting {
        out.put_i64(timestamp);
        out.put_u64(seq);
        put_bytes(&mut out, &values.serialize(value)?)?;
    }
    put_len(&mut out, state.partials.len())?;
    for partial in &state.partials {
        put_len(&mut out, partial.stage)?;
        out.put_u32(partial.count);
        out.put_u8(u8::from(partial.gap.skipped));
        out.put_u64(partial.gap.blocked);
        out.put_u64(partial.gap.negated);
        out.put_u8(u8::from(partial.gap.greedy_blocked));
        put_len(&mut out, partial.events.len())?;
        for ((stage, value), &(timestamp, seq)) in partial.events.iter().zip(&partial.times) {
            put_len(&mut out, *stage)?;
            out.put_i64(timestamp);
            out.put_u64(seq);
            put_bytes(&mut out, &values.serialize(value)?)?;
        }
    }
    Ok(out.freeze())
}

/// The state `encode` wrote; `stages` bounds the stage numbers it may name.
pub(super) fn decode<V>(
    bytes: &[u8],
    values: &dyn Serde<V>,
    stages: usize,
) -> Result<KeyState<V>, String> {
    let mut reader = Reader { bytes };
    let mut state = KeyState {
        next_seq: reader.u64()?,
        ..KeyState::default()
    };
    for _ in 0..reader.u32()? {
        let key = (reader.i64()?, reader.u64()?);
        let value = values
            .deserialize(reader.bytes()?)
            .map_err(|e| e.to_string())?;
        state.waiting.insert(key, value);
    }
    for _ in 0..reader.u32()? {
        let stage = reader.stage(stages)?;
        let count = reader.u32()?;
        let gap = Gap {
            skipped: reader.flag()?,
            blocked: reader.u64()?,
            negated: reader.u64()?,
            greedy_blocked: reader.flag()?,
        };
        let mut events = Vec::new();
        let mut times = Vec::new();
        for _ in 0..reader.u32()? {
            let stage = reader.stage(stages)?;
            times.push((reader.i64()?, reader.u64()?));
            let value = values
                .deserialize(reader.bytes()?)
                .map_err(|e| e.to_string())?;
            events.push((stage, value));
        }
        if events.is_empty() {
            return Err("a partial match without events".into());
        }
        state.partials.push(Partial {
            events,
            times,
            stage,
            count,
            gap,
        });
    }
    if !reader.bytes.is_empty() {
        return Err("bytes after the matching state".into());
    }
    Ok(state)
}

fn put_len(out: &mut BytesMut, len: usize) -> Result<(), StreamsError> {
    let len = u32::try_from(len)
        .map_err(|_| StreamsError::Serde("more than 2^32 items in a matching state".into()))?;
    out.put_u32(len);
    Ok(())
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8]) -> Result<(), StreamsError> {
    put_len(out, bytes.len())?;
    out.put_slice(bytes);
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or("the matching state ends early")?;
        self.bytes = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.take().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.take().map(u64::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, String> {
        self.take().map(i64::from_be_bytes)
    }

    fn flag(&mut self) -> Result<bool, String> {
        match self.take::<1>()? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err("a flag that is neither 0 nor 1".into()),
        }
    }

    fn stage(&mut self, stages: usize) -> Result<usize, String> {
        let stage = usize::try_from(self.u32()?).map_err(|e| e.to_string())?;
        if stage >= stages {
            return Err(format!("stage {stage} of a pattern with {stages}"));
        }
        Ok(stage)
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.u32()?).map_err(|e| e.to_string())?;
        if len > self.bytes.len() {
            return Err("a value longer than the matching state".into());
        }
        let (value, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(value)
    }
}
