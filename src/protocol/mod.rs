//! Wire framing and request/response envelopes; no tokio.
//!
//! A Kafka frame is a big-endian i32 size followed by that many bytes. Requests start with a
//! request header (v0–v2, chosen by API key and version); responses start with a response
//! header (v0, or v1 for flexible versions — except ApiVersions, whose response header is
//! always v0). The size is checked against `socket.request.max.bytes` before anything is
//! allocated.

pub mod batch;
pub mod legacy;
pub mod partitioner;
pub mod throttle;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};

/// Why a frame or request could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame size {0} is negative")]
    NegativeSize(i32),
    #[error("frame size {size} exceeds socket.request.max.bytes {max}")]
    TooLarge { size: usize, max: usize },
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("connection closed after {got} of {expected} frame bytes")]
    Truncated { expected: usize, got: usize },
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("cannot decode {api:?} v{version}: {reason}")]
    Malformed {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("cannot encode the response: {0}")]
    Encode(String),
    /// The request is not allowed on this connection now (e.g. before SASL authentication).
    #[error("{0}")]
    Refused(String),
}

/// Validate the 4-byte size prefix of a frame.
pub fn frame_size(prefix: [u8; 4], max: usize) -> Result<usize, FrameError> {
    let size = i32::from_be_bytes(prefix);
    if size < 0 {
        return Err(FrameError::NegativeSize(size));
    }
    let size = size as usize;
    if size > max {
        return Err(FrameError::TooLarge { size, max });
    }
    Ok(size)
}

/// The first fields of every request header, read without decoding the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderPrefix {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

/// Peek at api key, version and correlation id (common to all header versions).
pub fn peek_header(frame: &[u8]) -> Result<HeaderPrefix, FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::TooShort(frame.len()));
    }
    Ok(HeaderPrefix {
        api_key: i16::from_be_bytes([frame[0], frame[1]]),
        api_version: i16::from_be_bytes([frame[2], frame[3]]),
        correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
    })
}

/// Decode the request header; `frame` is advanced to the request body.
pub fn decode_header(
    api_key: ApiKey,
    version: i16,
    frame: &mut Bytes,
) -> Result<RequestHeader, FrameError> {
    // WriteTxnMarkers v0 is not flexible (Kafka 3.x: "flexibleVersions": "1+"); the crate,
    // generated from Kafka 4's specs where v1 is the only version, says header v2 for all.
    let header_version = match (api_key, version) {
        (ApiKey::WriteTxnMarkers, 0) => 1,
        _ => api_key.request_header_version(version),
    };
    RequestHeader::decode(frame, header_version).map_err(|e| FrameError::Malformed {
        api: api_key,
        version,
        reason: format!("header: {e}"),
    })
}

/// Decode a request body of type `T`, requiring that it consumes the whole frame.
pub fn decode_body<T: Decodable>(
    api: ApiKey,
    version: i16,
    body: &mut Bytes,
) -> Result<T, FrameError> {
    let req = T::decode(body, version).map_err(|e| FrameError::Malformed {
        api,
        version,
        reason: e.to_string(),
    })?;
    Ok(req)
}

/// Encode a full response frame: size, response header, body.
pub fn encode_response<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    response: &R,
) -> Result<Bytes, FrameError> {
    let header_version = R::header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let enc = |e: anyhow::Error| FrameError::Encode(e.to_string());
    let size = header.compute_size(header_version).map_err(enc)?
        + response.compute_size(version).map_err(enc)?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header.encode(&mut buf, header_version).map_err(enc)?;
    response.encode(&mut buf, version).map_err(enc)?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ApiVersionsResponse;

    #[test]
    fn frame_size_limits() {
        assert_eq!(frame_size(10i32.to_be_bytes(), 100).unwrap(), 10);
        assert!(matches!(
            frame_size((-1i32).to_be_bytes(), 100),
            Err(FrameError::NegativeSize(-1))
        ));
        assert!(matches!(
            frame_size(101i32.to_be_bytes(), 100),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn short_header_is_rejected() {
        assert!(matches!(
            peek_header(&[0, 18, 0]),
            Err(FrameError::TooShort(3))
        ));
        let h = peek_header(&[0, 18, 0, 3, 0, 0, 0, 9]).unwrap();
        assert_eq!((h.api_key, h.api_version, h.correlation_id), (18, 3, 9));
    }

    #[test]
    fn api_versions_response_header_is_v0() {
        let b = encode_response(42, 3, &ApiVersionsResponse::default()).unwrap();
        let size = i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        assert_eq!(size, b.len() - 4);
        assert_eq!(&b[4..8], &42i32.to_be_bytes());
        // v0 header: no tagged-field byte; body starts with error_code 0.
        assert_eq!(&b[8..10], &[0, 0]);
    }
}
