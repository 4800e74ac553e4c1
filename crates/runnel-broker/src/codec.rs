//! Kafka framing: every request and response is an `i32` big-endian size followed by that
//! many bytes. Requests start with a header whose layout depends on the API key and version.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why a frame could not be read. Every variant closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds socket.request.max.bytes {max}")]
    TooLarge { size: usize, max: usize },
    #[error("negative frame size {0}")]
    Negative(i32),
    #[error("connection closed inside a frame ({read} of {size} bytes read)")]
    Truncated { size: usize, read: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why a request header could not be decoded. Every variant closes the connection: without a
/// header there is no correlation id to answer to (or no way to know the header's layout).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("request of {0} bytes is too short for a header")]
    TooShort(usize),
    #[error("unknown API key {api_key} (correlation id {correlation_id})")]
    UnknownApiKey { api_key: i16, correlation_id: i32 },
    #[error("undecodable request header: {0}")]
    Malformed(String),
}

/// Could not encode a response (a bug or a value out of the version's range).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {api:?} v{version} response: {message}")]
pub struct EncodeError {
    pub api: ApiKey,
    pub version: i16,
    pub message: String,
}

/// Reads one frame. `Ok(None)` is a clean end of stream between frames.
///
/// The buffer grows as bytes arrive rather than being allocated from the size prefix, so a
/// client that announces a large frame and sends nothing holds no memory for it.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Option<Bytes>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < prefix.len() {
        let n = reader.read(&mut prefix[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated { size: 4, read: got })
            };
        }
        got += n;
    }
    let size = check_size(i32::from_be_bytes(prefix), max)?;
    let mut frame = Vec::with_capacity(size.min(64 * 1024));
    let read = reader.take(size as u64).read_to_end(&mut frame).await?;
    if read < size {
        return Err(FrameError::Truncated { size, read });
    }
    Ok(Some(Bytes::from(frame)))
}

/// Validates a size prefix against the limit.
pub fn check_size(size: i32, max: usize) -> Result<usize, FrameError> {
    let size = usize::try_from(size).map_err(|_| FrameError::Negative(size))?;
    if size > max {
        return Err(FrameError::TooLarge { size, max });
    }
    Ok(size)
}

/// The api key, version and correlation id at the start of a request, read without trusting
/// anything else in it.
pub fn peek_ids(frame: &[u8]) -> Option<(i16, i16, i32)> {
    let mut b = frame.get(..8)?;
    Some((b.get_i16(), b.get_i16(), b.get_i32()))
}

/// Splits a request frame into its decoded header and the body bytes.
pub fn decode_header(mut frame: Bytes) -> Result<(ApiKey, RequestHeader, Bytes), HeaderError> {
    let (key, version, correlation_id) =
        peek_ids(&frame).ok_or(HeaderError::TooShort(frame.len()))?;
    let api = ApiKey::try_from(key).map_err(|_| HeaderError::UnknownApiKey {
        api_key: key,
        correlation_id,
    })?;
    // Header v1 (client id) or v2 (plus tagged fields): both are bounded reads of strings and
    // tagged fields, which the decoder checks against the bytes present.
    let header_version = api.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| HeaderError::Malformed(e.to_string()))?;
    Ok((api, header, frame))
}

/// Encodes a response with its header, size prefix included.
pub fn encode_response<M: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &M,
) -> Result<Bytes, EncodeError> {
    let frame = Frame::new(api, version, correlation_id, body)?;
    // Sized up front: growing the buffer by doubling would copy what is in it at every step.
    let mut buf = BytesMut::with_capacity(frame.total_len());
    frame.encode(&mut buf, body)?;
    Ok(buf.freeze())
}

/// A response's size prefix and header, worked out before anything is encoded, so the frame
/// can be written front to back into any [`ByteBufMut`].
#[derive(Debug)]
pub struct Frame {
    api: ApiKey,
    version: i16,
    header: ResponseHeader,
    /// Header and body, without the size prefix.
    size: i32,
}

impl Frame {
    pub fn new<M: Encodable>(
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &M,
    ) -> Result<Frame, EncodeError> {
        let err = |message: String| EncodeError {
            api,
            version,
            message,
        };
        let mut header = ResponseHeader::default();
        header.correlation_id = correlation_id;
        let header_size = header
            .compute_size(api.response_header_version(version))
            .map_err(|e| err(e.to_string()))?;
        let body_size = body.compute_size(version).map_err(|e| err(e.to_string()))?;
        let size = header_size + body_size;
        let size = i32::try_from(size)
            .map_err(|_| err(format!("response of {size} bytes is too large to frame")))?;
        Ok(Frame {
            api,
            version,
            header,
            size,
        })
    }

    /// Bytes of the whole frame, size prefix included.
    pub fn total_len(&self) -> usize {
        4 + self.size as usize
    }

    /// Writes the frame: size prefix, header, body.
    pub fn encode<M: Encodable, B: ByteBufMut>(
        &self,
        buf: &mut B,
        body: &M,
    ) -> Result<(), EncodeError> {
        let err = |message: String| EncodeError {
            api: self.api,
            version: self.version,
            message,
        };
        let start = buf.offset();
        buf.put_i32(self.size);
        self.header
            .encode(buf, self.api.response_header_version(self.version))
            .map_err(|e| err(e.to_string()))?;
        body.encode(buf, self.version)
            .map_err(|e| err(e.to_string()))?;
        let written = buf.offset() - start;
        if written != self.total_len() {
            return Err(err(format!(
                "encoded {written} bytes where the size prefix says {}",
                self.total_len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn frames_at_the_limit_pass_and_over_it_fail() {
        let mut ok = 10i32.to_be_bytes().to_vec();
        ok.extend_from_slice(&[7; 10]);
        let frame = read_frame(&mut ok.as_slice(), 10).await.unwrap().unwrap();
        assert_eq!(frame.len(), 10);

        let mut big = 11i32.to_be_bytes().to_vec();
        big.extend_from_slice(&[7; 11]);
        let err = read_frame(&mut big.as_slice(), 10).await.unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { size: 11, max: 10 }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn negative_truncated_and_empty_streams() {
        let neg = (-1i32).to_be_bytes();
        assert!(matches!(
            read_frame(&mut neg.as_slice(), 10).await,
            Err(FrameError::Negative(-1))
        ));
        let mut short = 8i32.to_be_bytes().to_vec();
        short.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(
            read_frame(&mut short.as_slice(), 10).await,
            Err(FrameError::Truncated { size: 8, read: 3 })
        ));
        assert!(matches!(
            read_frame(&mut [0u8, 0].as_slice(), 10).await,
            Err(FrameError::Truncated { .. })
        ));
        assert!(read_frame(&mut [].as_slice(), 10).await.unwrap().is_none());
    }

    #[test]
    fn headers_that_cannot_be_decoded_are_errors_not_panics() {
        assert_eq!(
            decode_header(Bytes::from_static(&[0, 18, 0])),
            Err(HeaderError::TooShort(3))
        );
        assert_eq!(
            decode_header(Bytes::from_static(&[0x7f, 0x7f, 0, 0, 0, 0, 0, 9])),
            Err(HeaderError::UnknownApiKey {
                api_key: 0x7f7f,
                correlation_id: 9
            })
        );
        // ApiVersions v3 (header v2): a client id length that runs past the end.
        let r = decode_header(Bytes::from_static(&[0, 18, 0, 3, 0, 0, 0, 1, 0, 50, b'a']));
        assert!(matches!(r, Err(HeaderError::Malformed(_))), "{r:?}");
        // Every prefix of a valid header fails cleanly.
        let valid = [0u8, 18, 0, 3, 0, 0, 0, 1, 0, 1, b'a', 0];
        for len in 0..valid.len() {
            let _ = decode_header(Bytes::copy_from_slice(&valid[..len]));
        }
        let (api, header, body) = decode_header(Bytes::copy_from_slice(&valid)).unwrap();
        assert_eq!(api, ApiKey::ApiVersions);
        assert_eq!(header.correlation_id, 1);
        assert_eq!(header.client_id.as_deref(), Some("a"));
        assert!(body.is_empty());
    }
}
