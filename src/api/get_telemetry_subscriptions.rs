//! GetTelemetrySubscriptions (key 71, KIP-714): the client's metrics subscription, from the
//! CLIENT_METRICS resources matching it. The decisions (instance ids, matching, subscription
//! ids, throttling) are the telemetry manager's ([`crate::telemetry`]).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, GetTelemetrySubscriptionsRequest, GetTelemetrySubscriptionsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{now_ms, ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::GetTelemetrySubscriptions,
    min: 0,
    max: 0,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: GetTelemetrySubscriptionsRequest = req.decode(ApiKey::GetTelemetrySubscriptions)?;
    let ctx = req.conn.telemetry_context(req.client_id());
    let r = broker
        .telemetry()
        .get_subscriptions(body.client_instance_id, &ctx, now_ms());
    let resp = GetTelemetrySubscriptionsResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(r.error_code)
        .with_client_instance_id(r.client_instance_id)
        .with_subscription_id(r.subscription_id)
        .with_accepted_compression_types(r.accepted_compression_types)
        .with_push_interval_ms(r.push_interval_ms)
        .with_telemetry_max_bytes(r.telemetry_max_bytes)
        .with_delta_temporality(r.delta_temporality)
        .with_requested_metrics(
            r.requested_metrics
                .into_iter()
                .map(StrBytes::from_string)
                .collect(),
        );
    req.respond(&resp)
}
