//! Arbitrary bytes as the frame of a request (what follows the size prefix), through the
//! broker's decoding path: header, supported-version check, the shape walk, then
//! kafka-protocol's typed decoder for bodies the walk accepts. Nothing may panic or abort,
//! and where both succeed the walker must have read exactly what the decoder reads: that
//! agreement is what keeps the decoder's allocations bounded by the frame.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use runnel_broker::{codec, shape, supported};

fuzz_target!(|data: &[u8]| {
    let Ok((api, header, body)) = codec::decode_header(Bytes::copy_from_slice(data)) else {
        return;
    };
    let version = header.request_api_version;
    let Some((min, max)) = supported(api) else {
        return;
    };
    if version < min || version > max {
        return;
    }
    let Ok(walked) = shape::check(api, version, &body) else {
        return;
    };
    if let Some(decoded) = shape::decoded_len(api, version, &body) {
        assert_eq!(decoded, walked, "{api:?} v{version}: walker and decoder disagree");
    }
});
