//! FindCoordinator (key 10), v0–6: the coordinator of a group (key_type 0) or a
//! transactional id (key_type 1) is the leader of the key's partition of `__consumer_offsets`
//! / `__transaction_state` (COORDINATOR_NOT_AVAILABLE while the topic does not exist or the
//! partition has no live leader). v4+ carries a batch of keys.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{ApiKey, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::{Broker, BrokerInfo};
use crate::group::partition_for;
use crate::protocol::FrameError;
use crate::server::group_runtime::OFFSETS_TOPIC;
use crate::server::txn_runtime::TXN_TOPIC;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::FindCoordinator,
    min: 0,
    max: 6,
};

const NOT_AVAILABLE: (i16, Option<&str>) = (
    COORDINATOR_NOT_AVAILABLE,
    Some("The coordinator is not available."),
);

/// The coordinator of one key: the leader of its partition of `__consumer_offsets` (groups)
/// or `__transaction_state` (transactional ids), as Kafka places them. Err((code, message)).
fn find(
    broker: &Broker,
    key: &str,
    key_type: i8,
) -> Result<BrokerInfo, (i16, Option<&'static str>)> {
    let topic = match key_type {
        0 if key.is_empty() => {
            return Err((
                ResponseError::InvalidRequest.code(),
                Some("Group id must not be empty."),
            ))
        }
        1 if key.is_empty() => {
            return Err((
                ResponseError::InvalidRequest.code(),
                Some("Transactional id must not be empty."),
            ))
        }
        0 => OFFSETS_TOPIC,
        1 => TXN_TOPIC,
        _ => {
            return Err((
                ResponseError::InvalidRequest.code(),
                Some("Unknown coordinator key type."),
            ))
        }
    };
    let running = if key_type == 0 {
        broker.groups.get().is_some()
    } else {
        broker.txns.get().is_some()
    };
    let t = broker
        .topic(topic)
        .filter(|_| running)
        .ok_or(NOT_AVAILABLE)?;
    let partition = partition_for(key, t.partitions.len() as i32);
    let leader = t.slot(partition).map_or(-1, |s| s.meta.leader);
    broker
        .cluster()
        .live()
        .find(|b| b.id == leader)
        .cloned()
        .or_else(|| {
            // Before this node's registration is known (start-up), a lone node is its own.
            (leader == broker.config.node_id).then(|| BrokerInfo {
                id: leader,
                host: broker.config.advertised_host.clone(),
                port: broker.config.advertised_port,
                rack: None,
                fenced: false,
                listeners: broker
                    .config
                    .listeners
                    .iter()
                    .map(|l| crate::cluster::records::Endpoint {
                        name: l.name.clone(),
                        host: l.advertised_host.clone(),
                        port: l.advertised_port,
                    })
                    .collect(),
            })
        })
        .ok_or(NOT_AVAILABLE)
}

/// [`find`], as clients of `listener` reach the coordinator.
fn find_on(
    broker: &Broker,
    key: &str,
    key_type: i8,
    listener: &str,
) -> Result<BrokerInfo, (i16, Option<&'static str>)> {
    find(broker, key, key_type)?
        .on_listener(listener)
        .ok_or(NOT_AVAILABLE)
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let version = req.version;
    let body: FindCoordinatorRequest = req.decode(ApiKey::FindCoordinator)?;
    let mut resp = FindCoordinatorResponse::default().with_throttle_time_ms(0);
    // Kafka: DESCRIBE on the group / the transactional id.
    let az = super::authz::authz(broker, &req);
    let listener = std::sync::Arc::clone(&req.conn.listener);
    let find = |broker: &Arc<Broker>, key: &str, key_type: i8| {
        use crate::security::acl::AclOperation::Describe;
        let denied = match key_type {
            0 => az.group_error(Describe, key),
            _ => az.txn_error(Describe, key),
        };
        match denied {
            Some(code) => Err((code, None)),
            None => find_on(broker, key, key_type, &listener),
        }
    };
    if version >= 4 {
        resp.coordinators = body
            .coordinator_keys
            .iter()
            .map(|k| {
                let c = Coordinator::default().with_key(k.clone());
                match find(broker, k.as_str(), body.key_type) {
                    Ok(b) => c
                        .with_node_id(BrokerId(b.id))
                        .with_host(StrBytes::from_string(b.host))
                        .with_port(i32::from(b.port))
                        .with_error_code(0),
                    Err((code, msg)) => c
                        .with_node_id(BrokerId(-1))
                        .with_host(StrBytes::default())
                        .with_port(-1)
                        .with_error_code(code)
                        .with_error_message(msg.map(StrBytes::from_static_str)),
                }
            })
            .collect();
    } else {
        let key_type = if version == 0 { 0 } else { body.key_type };
        match find(broker, body.key.as_str(), key_type) {
            Ok(b) => {
                resp.error_code = 0;
                resp.node_id = BrokerId(b.id);
                resp.host = StrBytes::from_string(b.host);
                resp.port = i32::from(b.port);
            }
            Err((code, msg)) => {
                resp.error_code = code;
                if version >= 1 {
                    resp.error_message = msg.map(StrBytes::from_static_str);
                }
                resp.node_id = BrokerId(-1);
                resp.host = StrBytes::default();
                resp.port = -1;
            }
        }
    }
    req.respond(&resp)
}
