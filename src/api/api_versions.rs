//! ApiVersions (key 18): the versions of every API in the dispatch table.
//!
//! A request at a version this broker does not know is answered with UNSUPPORTED_VERSION and
//! the full list, encoded as v0 (the client cannot know how to read anything newer). The
//! response header is always v0. Tagged fields (features) are sent only when they carry
//! something: old librdkafka (2.0.2, Debian 12's kcat) misreads unexpected ones.

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request, APIS};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ApiVersions,
    min: 0,
    max: 4,
};

fn api_list() -> Vec<ApiVersion> {
    APIS.iter()
        .map(|e| {
            ApiVersion::default()
                .with_api_key(e.key as i16)
                .with_min_version(e.min)
                .with_max_version(e.max)
        })
        .collect()
}

/// The answer to an ApiVersions request at an unsupported version, as v0.
pub fn unsupported_version_response(correlation_id: i32) -> Result<Bytes, FrameError> {
    let resp = ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(api_list());
    encode_response(correlation_id, 0, &resp)
}

pub fn handle(mut req: Request) -> Result<Bytes, FrameError> {
    let _body: ApiVersionsRequest = req.decode(ApiKey::ApiVersions)?;
    let resp = ApiVersionsResponse::default()
        .with_error_code(0)
        .with_api_keys(api_list())
        .with_throttle_time_ms(0);
    req.respond(&resp)
}
