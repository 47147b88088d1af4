//! ApiVersions (key 18): the versions of every API in the dispatch table.
//!
//! A request at a version this broker does not know is answered with UNSUPPORTED_VERSION and
//! the full list, encoded as v0 (the client cannot know how to read anything newer). The
//! response header is always v0. Tagged fields (features, v3+) are sent only when they carry
//! something: the features skua really serves ([`features`]), each supported from level 0 and
//! finalized at its level (Kafka's clients pick transactions V2 from the finalized
//! `transaction.version`).

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::ResponseError;

use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::{FinalizedFeatureKey, SupportedFeatureKey};
use kafka_protocol::protocol::StrBytes;

use super::{ApiEntry, Request, APIS};
use crate::cluster::Broker;
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

/// The epoch of the finalized features (Kafka's is the metadata offset that set them; skua's
/// are fixed for the life of the process, and clients only compare epochs).
const FINALIZED_FEATURES_EPOCH: i64 = 0;

/// The features this broker finalizes, with their level: the one place to add a feature once
/// what it stands for is served (KIP-584 names and levels).
pub fn features(broker: &Broker) -> Vec<(&'static str, i16)> {
    let mut out = Vec::new();
    // Transactions V2 (KIP-890 part 2): EndTxn v5, TxnOffsetCommit v5, Produce v12+ adds.
    if super::txn_implicit::tv2_served(broker) {
        out.push(("transaction.version", 2));
    }
    out
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: ApiVersionsRequest = req.decode(ApiKey::ApiVersions)?;
    if req.version >= 3 {
        // Kept for client telemetry's matching (client_software_name / _version).
        let cut = |s: &str| s.chars().take(256).collect::<String>();
        req.conn.set_software(
            cut(body.client_software_name.as_str()),
            cut(body.client_software_version.as_str()),
        );
    }
    let mut resp = ApiVersionsResponse::default()
        .with_error_code(0)
        .with_api_keys(api_list())
        .with_throttle_time_ms(0);
    let features = features(broker);
    if req.version >= 3 && !features.is_empty() {
        resp.supported_features = features
            .iter()
            .map(|(name, level)| {
                SupportedFeatureKey::default()
                    .with_name(StrBytes::from_static_str(name))
                    .with_min_version(0)
                    .with_max_version(*level)
            })
            .collect();
        resp.finalized_features = features
            .iter()
            .map(|(name, level)| {
                FinalizedFeatureKey::default()
                    .with_name(StrBytes::from_static_str(name))
                    .with_min_version_level(*level)
                    .with_max_version_level(*level)
            })
            .collect();
        resp.finalized_features_epoch = FINALIZED_FEATURES_EPOCH;
    }
    req.respond(&resp)
}
