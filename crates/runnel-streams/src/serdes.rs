use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

use crate::error::StreamsError;

/// Turns values into bytes for a topic and back.
pub trait Serde<T> {
    fn serialize(&self, value: &T) -> Result<Bytes, StreamsError>;
    fn deserialize(&self, bytes: &[u8]) -> Result<T, StreamsError>;
}

/// Bytes as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerde;

impl Serde<Bytes> for BytesSerde {
    fn serialize(&self, value: &Bytes) -> Result<Bytes, StreamsError> {
        Ok(value.clone())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Bytes, StreamsError> {
        Ok(Bytes::copy_from_slice(bytes))
    }
}

/// UTF-8 text; other bytes are refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerde;

impl Serde<String> for StringSerde {
    fn serialize(&self, value: &String) -> Result<Bytes, StreamsError> {
        Ok(Bytes::copy_from_slice(value.as_bytes()))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<String, StreamsError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| StreamsError::Serde(e.to_string()))
    }
}

/// Whole numbers as decimal text (`42`), which any consumer can print; other bytes are
/// refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecimalSerde;

impl Serde<u64> for DecimalSerde {
    fn serialize(&self, value: &u64) -> Result<Bytes, StreamsError> {
        Ok(Bytes::from(value.to_string()))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<u64, StreamsError> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| StreamsError::Serde("not a decimal whole number".into()))
    }
}

/// JSON through serde.
pub struct JsonSerde<T> {
    of: PhantomData<fn() -> T>,
}

impl<T> JsonSerde<T> {
    pub fn new() -> Self {
        JsonSerde { of: PhantomData }
    }
}

// By hand: a derive would ask `T: Clone`, which a serde holding no `T` does not need.
impl<T> Clone for JsonSerde<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for JsonSerde<T> {}

impl<T> Default for JsonSerde<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for JsonSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonSerde")
    }
}

impl<T: serde::Serialize + serde::de::DeserializeOwned> Serde<T> for JsonSerde<T> {
    fn serialize(&self, value: &T) -> Result<Bytes, StreamsError> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| StreamsError::Serde(e.to_string()))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<T, StreamsError> {
        serde_json::from_slice(bytes).map_err(|e| StreamsError::Serde(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_serde_round_trips_and_refuses_garbage() {
        let b = Bytes::from_static(b"\x00\xff");
        assert_eq!(
            BytesSerde
                .deserialize(&BytesSerde.serialize(&b).unwrap())
                .unwrap(),
            b
        );
        let s = "héllo".to_string();
        assert_eq!(
            StringSerde
                .deserialize(&StringSerde.serialize(&s).unwrap())
                .unwrap(),
            s
        );
        assert!(StringSerde.deserialize(b"\xff").is_err());
        let json = JsonSerde::<Vec<(String, u32)>>::new();
        let v = vec![("a".to_string(), 1)];
        let bytes = json.serialize(&v).unwrap();
        assert_eq!(&bytes[..], br#"[["a",1]]"#);
        assert_eq!(json.deserialize(&bytes).unwrap(), v);
        assert!(json.deserialize(b"{").is_err());
        assert_eq!(&DecimalSerde.serialize(&42).unwrap()[..], b"42");
        assert_eq!(
            DecimalSerde.deserialize(b"18446744073709551615").unwrap(),
            u64::MAX
        );
        for bad in [&b""[..], b"-1", b"4 2", b"\xff", b"18446744073709551616"] {
            assert!(DecimalSerde.deserialize(bad).is_err(), "{bad:?}");
        }
    }
}
