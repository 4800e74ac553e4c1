//! A structural pre-check of request bodies, run before kafka-protocol decodes them.
//!
//! Why: kafka-protocol's array decoders call `Vec::with_capacity(count)` with the count read
//! from the wire, before reading any element. A 20-byte request claiming 2³¹ elements makes
//! the allocator fail, and Rust aborts the whole process on allocation failure (it is not a
//! panic; nothing can catch it). So every request body is first walked here, field by field
//! as the decoder will read it, checking that each array count is backed by bytes (every
//! element takes at least one) and that every length stays inside the frame. Only a body
//! that walks cleanly is handed to the decoder, whose allocations are then bounded by the
//! frame size.
//!
//! The walkers in [`requests`] mirror the decoders exactly, including which tagged fields
//! are decoded as known fields: they are generated from kafka-protocol's decoders by
//! `runnel-shapegen` (`cargo run -p runnel-shapegen` after a kafka-protocol upgrade; a test
//! fails until it is run). In debug builds the dispatcher also checks that walker and decoder
//! consumed the same number of bytes.

mod reference;
mod requests;
mod share_acknowledge;

use kafka_protocol::messages::ApiKey;

pub use reference::decoded_len;
pub use share_acknowledge::acknowledge_v2_as_v1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("request ends early: {needed} bytes needed at offset {at}, {available} left")]
    Truncated {
        at: usize,
        needed: usize,
        available: usize,
    },
    #[error("negative length {0}")]
    NegativeLength(i32),
    #[error("count {count} exceeds the {remaining} bytes left")]
    CountTooLarge { count: usize, remaining: usize },
    #[error("array element of zero bytes")]
    EmptyElement,
    #[error("unsupported version {0}")]
    Version(i16),
    #[error("tagged field {0} is not valid for this version")]
    BadTag(u32),
}

/// A cursor over a request body that reads lengths and skips contents.
#[derive(Debug)]
pub struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Walker<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Walker { buf, pos: 0 }
    }

    pub fn consumed(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ShapeError> {
        if n > self.remaining() {
            return Err(ShapeError::Truncated {
                at: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    pub fn skip(&mut self, n: usize) -> Result<(), ShapeError> {
        self.take(n).map(|_| ())
    }

    fn i16(&mut self) -> Result<i16, ShapeError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, ShapeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Kafka's unsigned varint, read exactly as kafka-protocol reads it (at most 5 bytes).
    pub fn uvarint(&mut self) -> Result<u32, ShapeError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = u32::from(self.take(1)?[0]);
            value |= (b & 0x7f) << (i * 7);
            if b < 0x80 {
                break;
            }
        }
        Ok(value)
    }

    pub fn string(&mut self) -> Result<(), ShapeError> {
        match self.i16()? {
            -1 => Ok(()),
            n if n >= 0 => self.skip(n as usize),
            n => Err(ShapeError::NegativeLength(i32::from(n))),
        }
    }

    pub fn compact_string(&mut self) -> Result<(), ShapeError> {
        match self.uvarint()? {
            0 => Ok(()),
            n => self.skip((n - 1) as usize),
        }
    }

    pub fn bytes(&mut self) -> Result<(), ShapeError> {
        match self.i32()? {
            -1 => Ok(()),
            n if n >= 0 => self.skip(n as usize),
            n => Err(ShapeError::NegativeLength(n)),
        }
    }

    pub fn compact_bytes(&mut self) -> Result<(), ShapeError> {
        self.compact_string()
    }

    /// A count of things that each take at least one byte.
    pub fn check_count(&self, count: usize) -> Result<(), ShapeError> {
        if count > self.remaining() {
            return Err(ShapeError::CountTooLarge {
                count,
                remaining: self.remaining(),
            });
        }
        Ok(())
    }

    fn elements(
        &mut self,
        count: usize,
        mut element: impl FnMut(&mut Self) -> Result<(), ShapeError>,
    ) -> Result<(), ShapeError> {
        self.check_count(count)?;
        for _ in 0..count {
            let before = self.pos;
            element(self)?;
            if self.pos == before {
                return Err(ShapeError::EmptyElement);
            }
        }
        Ok(())
    }

    pub fn array(
        &mut self,
        element: impl FnMut(&mut Self) -> Result<(), ShapeError>,
    ) -> Result<(), ShapeError> {
        match self.i32()? {
            -1 => Ok(()),
            n if n >= 0 => self.elements(n as usize, element),
            n => Err(ShapeError::NegativeLength(n)),
        }
    }

    pub fn compact_array(
        &mut self,
        element: impl FnMut(&mut Self) -> Result<(), ShapeError>,
    ) -> Result<(), ShapeError> {
        match self.uvarint()? {
            0 => Ok(()),
            n => self.elements((n - 1) as usize, element),
        }
    }

    /// A nullable struct: a presence byte, 1 when the struct follows.
    pub fn option_struct(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<(), ShapeError>,
    ) -> Result<(), ShapeError> {
        match self.take(1)?[0] {
            1 => inner(self),
            _ => Ok(()),
        }
    }
}

/// Walks a request body of `api` at `version`; returns the bytes the decoder will read.
pub fn check(api: ApiKey, version: i16, body: &[u8]) -> Result<usize, ShapeError> {
    if api == ApiKey::ShareAcknowledge && version == 2 {
        // kafka-protocol 0.18 decodes ShareAcknowledge v1 only; v2 is v1 plus one flag byte,
        // and the broker decodes it as that v1 body.
        let (v1, _) = acknowledge_v2_as_v1(body).ok_or(ShapeError::Truncated {
            at: 0,
            needed: body.len() + 1,
            available: body.len(),
        })?;
        return check(api, 1, &v1).map(|walked| walked + 1);
    }
    let mut w = Walker::new(body);
    requests::walk(api, version, &mut w)?;
    Ok(w.consumed())
}

#[cfg(test)]
mod tests;
