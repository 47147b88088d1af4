//! FindCoordinator (key 10), v0–6: this node coordinates every group (key_type 0) and every
//! transactional id (key_type 1). v4+ carries a batch of keys.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{ApiKey, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::FindCoordinator,
    min: 0,
    max: 6,
};

/// (error, message) for one key.
fn check(broker: &Broker, key: &str, key_type: i8) -> (i16, Option<&'static str>) {
    if broker.groups.get().is_none() {
        return (
            COORDINATOR_NOT_AVAILABLE,
            Some("The coordinator is not available."),
        );
    }
    match key_type {
        0 if key.is_empty() => (
            ResponseError::InvalidRequest.code(),
            Some("Group id must not be empty."),
        ),
        0 => (0, None),
        1 if key.is_empty() => (
            ResponseError::InvalidRequest.code(),
            Some("Transactional id must not be empty."),
        ),
        1 if broker.txns.get().is_none() => (
            COORDINATOR_NOT_AVAILABLE,
            Some("The coordinator is not available."),
        ),
        1 => (0, None),
        _ => (
            ResponseError::InvalidRequest.code(),
            Some("Unknown coordinator key type."),
        ),
    }
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let version = req.version;
    let body: FindCoordinatorRequest = req.decode(ApiKey::FindCoordinator)?;
    let node = broker.config.node_id;
    let host = StrBytes::from_string(broker.config.advertised_host.clone());
    let port = broker.config.advertised_port as i32;
    let mut resp = FindCoordinatorResponse::default().with_throttle_time_ms(0);
    if version >= 4 {
        resp.coordinators = body
            .coordinator_keys
            .iter()
            .map(|k| {
                let (code, msg) = check(broker, k.as_str(), body.key_type);
                let ok = code == 0;
                Coordinator::default()
                    .with_key(k.clone())
                    .with_node_id(BrokerId(if ok { node } else { -1 }))
                    .with_host(if ok {
                        host.clone()
                    } else {
                        StrBytes::default()
                    })
                    .with_port(if ok { port } else { -1 })
                    .with_error_code(code)
                    .with_error_message(msg.map(StrBytes::from_static_str))
            })
            .collect();
    } else {
        let (code, msg) = check(
            broker,
            body.key.as_str(),
            if version == 0 { 0 } else { body.key_type },
        );
        let ok = code == 0;
        resp.error_code = code;
        if version >= 1 {
            resp.error_message = msg.map(StrBytes::from_static_str);
        }
        resp.node_id = BrokerId(if ok { node } else { -1 });
        resp.host = if ok { host } else { StrBytes::default() };
        resp.port = if ok { port } else { -1 };
    }
    req.respond(&resp)
}
