//! PushTelemetry (key 72, KIP-714): a client's metrics, OTLP `MetricsData` compressed with one
//! of the advertised codecs. Checked by the telemetry manager first (Kafka's order of errors);
//! the payload is then decompressed (bounded) and decoded outside the manager's lock, and its
//! number points are kept for `/metrics`. A payload that does not decompress or decode is
//! INVALID_RECORD, as Kafka answers when its exporter fails.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, PushTelemetryRequest, PushTelemetryResponse};

use super::{now_ms, ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::telemetry::{self, PushRequest};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::PushTelemetry,
    min: 0,
    max: 0,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: PushTelemetryRequest = req.decode(ApiKey::PushTelemetry)?;
    let ctx = req.conn.telemetry_context(req.client_id());
    let id = body.client_instance_id;
    let push = PushRequest {
        client_instance_id: id,
        subscription_id: body.subscription_id,
        terminating: body.terminating,
        compression_type: body.compression_type,
        metrics: &body.metrics,
    };
    let checked = broker.telemetry().check_push(&push, &ctx, now_ms());
    let code = match checked {
        Err(code) => code,
        Ok(false) => telemetry::NONE,
        Ok(true) => {
            let max = broker.telemetry().limits().telemetry_max_bytes;
            match telemetry::decode_payload(body.compression_type, &body.metrics, max) {
                Ok(points) => {
                    broker.telemetry().record(id, points, now_ms());
                    telemetry::NONE
                }
                Err(e) => {
                    tracing::debug!(client_instance_id = %id, "telemetry payload refused: {e}");
                    broker.telemetry().record_failed(id);
                    telemetry::INVALID_RECORD
                }
            }
        }
    };
    let resp = PushTelemetryResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(code);
    req.respond(&resp)
}
