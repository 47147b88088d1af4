//! ShareAcknowledge (key 79), v1 (KIP-932): acknowledgements without a fetch (a consumer's
//! commit, or the last acknowledgements of a closing consumer at epoch -1, which also ends
//! its share session and releases what it still holds). The new states are written to
//! `__share_group_state` and committed before the answer.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::share_acknowledge_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareAcknowledgeTopicResponse,
};
use kafka_protocol::messages::{ApiKey, ShareAcknowledgeRequest, ShareAcknowledgeResponse};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::share_fetch::{leader_hints, resolve, AckBatches, Slot};
use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::security::acl::AclOperation;
use crate::server::share_runtime::{
    ensure_state_topic, Dirty, COORDINATOR_NOT_AVAILABLE, INVALID_REQUEST,
};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ShareAcknowledge,
    min: 1,
    max: 1,
};

const GROUP_AUTHORIZATION_FAILED: i16 = 30;

fn error_response(code: i16, message: &str) -> ShareAcknowledgeResponse {
    ShareAcknowledgeResponse::default()
        .with_error_code(code)
        .with_error_message(Some(StrBytes::from_string(message.to_string())))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: ShareAcknowledgeRequest = req.decode(ApiKey::ShareAcknowledge)?;
    let group = body
        .group_id
        .as_ref()
        .map(|g| g.0.as_str().to_string())
        .unwrap_or_default();
    let member = body
        .member_id
        .as_ref()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    if group.is_empty() || member.is_empty() {
        let msg = if group.is_empty() {
            "GroupId must be set."
        } else {
            "MemberId must be set."
        };
        return req
            .respond(&error_response(INVALID_REQUEST, msg))
            .map(Reply::Now);
    }
    let az = super::authz::authz(broker, &req);
    if az.group_error(AclOperation::Read, &group).is_some() {
        let out = ShareAcknowledgeResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED);
        return req.respond(&out).map(Reply::Now);
    }
    let Some(mgr) = broker.shares.get().cloned() else {
        return req
            .respond(&error_response(
                COORDINATOR_NOT_AVAILABLE,
                "Share groups are not running.",
            ))
            .map(Reply::Now);
    };
    let mut named: Vec<(Uuid, i32, AckBatches)> = Vec::new();
    for t in &body.topics {
        for p in &t.partitions {
            let acks: AckBatches = p
                .acknowledgement_batches
                .iter()
                .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                .collect();
            match named
                .iter_mut()
                .find(|(id, i, _)| *id == t.topic_id && *i == p.partition_index)
            {
                Some((_, _, a)) => a.extend(acks),
                None => named.push((t.topic_id, p.partition_index, acks)),
            }
        }
    }
    let epoch = body.share_session_epoch;
    let correlation_id = req.header.correlation_id;
    let version = req.version;
    let listener = Arc::clone(&req.conn.listener);
    let broker = Arc::clone(broker);
    drop(body);
    Ok(Reply::Later(Box::pin(async move {
        if !ensure_state_topic(&broker, Duration::from_secs(10)).await {
            let out = error_response(
                COORDINATOR_NOT_AVAILABLE,
                "The share-group state topic is not available yet.",
            );
            return encode_response(correlation_id, version, &out);
        }
        let closed = match mgr.session_acknowledge(&group, &member, epoch) {
            Ok(c) => c,
            Err((code, msg)) => {
                return encode_response(correlation_id, version, &error_response(code, msg))
            }
        };
        let mut slots: Vec<Slot> = named
            .into_iter()
            .map(|(topic_id, index, acks)| Slot {
                topic_id,
                index,
                target: resolve(&broker, &az, &group, topic_id, index),
                acks,
                ack_code: None,
                fetch_code: 0,
                records: Default::default(),
                acquired: Vec::new(),
            })
            .collect();
        let mut dirty = Dirty::new();
        for s in slots.iter_mut() {
            s.ack_code = Some(match &s.target {
                Ok(t) => mgr.acknowledge(t, &member, &s.acks, &mut dirty),
                Err(code) => *code,
            });
        }
        if closed {
            mgr.release_member_everywhere(&group, &member, &mut dirty);
        }
        if let Err(code) = mgr.persist(dirty).await {
            for s in slots.iter_mut().filter(|s| s.ack_code == Some(0)) {
                s.ack_code = Some(code);
            }
        }
        let (hints, endpoints) = leader_hints(&broker, &listener, &slots);
        let mut responses: Vec<ShareAcknowledgeTopicResponse> = Vec::new();
        for s in slots {
            let leader = hints.get(&(s.topic_id, s.index)).copied();
            let (leader_id, leader_epoch) = match (&s.target, leader) {
                (_, Some(h)) => h,
                (Ok(t), None) => (broker.config.node_id, t.partition.leader_epoch()),
                (Err(_), None) => (-1, -1),
            };
            let pd = PartitionData::default()
                .with_partition_index(s.index)
                .with_error_code(s.ack_code.unwrap_or(0))
                .with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(leader_id)
                        .with_leader_epoch(leader_epoch),
                );
            match responses.iter_mut().find(|t| t.topic_id == s.topic_id) {
                Some(t) => t.partitions.push(pd),
                None => responses.push(
                    ShareAcknowledgeTopicResponse::default()
                        .with_topic_id(s.topic_id)
                        .with_partitions(vec![pd]),
                ),
            }
        }
        let out = ShareAcknowledgeResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses)
            .with_node_endpoints(
                endpoints
                    .into_iter()
                    .map(|e| {
                        NodeEndpoint::default()
                            .with_node_id(e.node_id)
                            .with_host(e.host)
                            .with_port(e.port)
                            .with_rack(e.rack)
                    })
                    .collect(),
            );
        encode_response(correlation_id, version, &out)
    })))
}
