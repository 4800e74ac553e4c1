//! Responses as they are written to the socket: a list of byte buffers, so a fetch response's
//! records, read from the log into buffers of their own, are written from those buffers
//! rather than copied into the encoded response first.
//!
//! The Kafka message codecs write every field into one buffer. The buffer a fetch response is
//! encoded into is told the records beforehand; when the encoder writes bytes that are one of
//! them (the same address and length), it ends its current part there and adds the records
//! as a part of their own, by reference. Everything else (sizes, field order, versions) is
//! left to the codec.

use bytes::{buf::UninitSlice, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::Encodable;

use crate::codec::{EncodeError, Frame};

/// Records smaller than this are copied into the response: a part of their own, an extra
/// write on the socket, would cost more than the copy it saves.
const BY_REFERENCE_MIN: usize = 16 * 1024;

/// A response frame: its parts, written one after the other.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    parts: Vec<Bytes>,
}

impl Response {
    pub(crate) fn parts(&self) -> &[Bytes] {
        &self.parts
    }
}

impl From<Bytes> for Response {
    fn from(bytes: Bytes) -> Self {
        Response { parts: vec![bytes] }
    }
}

/// The records a response carries by reference, in the order the encoder meets them: topic
/// by topic, partition by partition.
#[derive(Debug, Default)]
pub(crate) struct ByReference {
    records: Vec<Bytes>,
}

impl ByReference {
    /// Notes `records`, which the response will carry in this order, if they are worth
    /// carrying by reference.
    pub(crate) fn add(&mut self, records: &Bytes) {
        if records.len() >= BY_REFERENCE_MIN {
            self.records.push(records.clone());
        }
    }
}

/// Encodes a response, carrying the records in `by_reference` without copying them.
pub(crate) fn encode<M: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &M,
    by_reference: ByReference,
) -> Result<Response, EncodeError> {
    let frame = Frame::new(api, version, correlation_id, body)?;
    let referenced: usize = by_reference.records.iter().map(Bytes::len).sum();
    let mut buf = Splicer {
        current: BytesMut::with_capacity(frame.total_len().saturating_sub(referenced)),
        parts: Vec::new(),
        before_current: 0,
        pending: by_reference.records.into_iter().peekable(),
    };
    frame.encode(&mut buf, body)?;
    let unused = buf.pending.len();
    if unused != 0 {
        return Err(EncodeError {
            api,
            version,
            message: format!("{unused} records to carry by reference never met by the encoder"),
        });
    }
    if !buf.current.is_empty() {
        buf.parts.push(buf.current.freeze());
    }
    Ok(Response { parts: buf.parts })
}

/// The buffer a response is encoded into.
struct Splicer {
    current: BytesMut,
    parts: Vec<Bytes>,
    /// Bytes of the frame in `parts`.
    before_current: usize,
    pending: std::iter::Peekable<std::vec::IntoIter<Bytes>>,
}

// SAFETY: every method delegates to the `BytesMut` being filled, which upholds `BufMut`'s
// contract; `put_slice` only decides whether to delegate.
#[allow(unsafe_code)]
unsafe impl BufMut for Splicer {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller's guarantee is passed on unchanged.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        let is_next = self
            .pending
            .peek()
            .is_some_and(|next| std::ptr::eq(src, next.as_ref()));
        match self.pending.next_if(|_| is_next) {
            Some(records) => {
                if !self.current.is_empty() {
                    self.before_current += self.current.len();
                    self.parts.push(self.current.split().freeze());
                }
                self.before_current += records.len();
                self.parts.push(records);
            }
            None => self.current.put_slice(src),
        }
    }
}

impl ByteBufMut for Splicer {
    fn offset(&self) -> usize {
        self.before_current + self.current.len()
    }

    /// Gaps (sizes patched in after encoding) only ever lie in the current bytes: the fetch
    /// response has none, and records carried by reference are never inside one.
    fn seek(&mut self, offset: usize) {
        let before = self.before_current;
        assert!(
            offset >= before,
            "seek back past records carried by reference"
        );
        self.current.seek(offset - before);
    }

    fn range(&mut self, r: std::ops::Range<usize>) -> &mut [u8] {
        let before = self.before_current;
        assert!(r.start >= before, "range over records carried by reference");
        self.current.range(r.start - before..r.end - before)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{FetchResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::codec;

    fn records(len: usize, seed: u8) -> Bytes {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    /// A fetch response over two topics, each partition holding one of `records`.
    fn fetch_response(version: i16, records: &[Bytes]) -> FetchResponse {
        let mut response = FetchResponse::default();
        if version >= 7 {
            response.session_id = 7;
        }
        for (t, name) in ["alpha", "beta"].iter().enumerate() {
            let mut topic = FetchableTopicResponse::default();
            if version < 13 {
                topic.topic = TopicName(StrBytes::from_static_str(name));
            } else {
                topic.topic_id = uuid::Uuid::from_u128(t as u128 + 1);
            }
            for (p, records) in records.iter().enumerate() {
                topic.partitions.push(
                    PartitionData::default()
                        .with_partition_index(p as i32)
                        .with_high_watermark(240)
                        .with_records(Some(records.clone())),
                );
            }
            response.responses.push(topic);
        }
        response
    }

    #[test]
    fn records_carried_by_reference_give_the_same_bytes_at_every_version() {
        // Large, small (copied) and empty records; the same contents twice in different
        // buffers, which must not be taken for each other.
        let large = records(100_000, 1);
        let records = [
            large.clone(),
            records(100, 2),
            Bytes::new(),
            Bytes::copy_from_slice(&large),
            records(BY_REFERENCE_MIN, 3),
        ];
        for version in 4..=16 {
            let body = fetch_response(version, &records);
            let mut by_reference = ByReference::default();
            for topic in &body.responses {
                for partition in &topic.partitions {
                    by_reference.add(partition.records.as_ref().unwrap());
                }
            }
            let response = encode(ApiKey::Fetch, version, 42, &body, by_reference).unwrap();
            let expected = codec::encode_response(ApiKey::Fetch, version, 42, &body).unwrap();
            assert_eq!(response.parts().concat(), expected.to_vec(), "v{version}");
            let referenced = response
                .parts()
                .iter()
                .filter(|part| records.iter().any(|r| r.as_ptr() == part.as_ptr()))
                .count();
            assert_eq!(
                referenced, 6,
                "v{version}: three records per topic by reference"
            );
        }
    }

    #[test]
    fn records_the_encoder_never_meets_are_an_error() {
        let mut by_reference = ByReference::default();
        by_reference.add(&records(BY_REFERENCE_MIN, 0));
        let body = fetch_response(12, &[records(BY_REFERENCE_MIN, 0)]);
        let result = encode(ApiKey::Fetch, 12, 1, &body, by_reference);
        assert!(
            result.is_err(),
            "equal contents in another buffer are not the records"
        );
    }
}
