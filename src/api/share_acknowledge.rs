//! ShareAcknowledge (key 79), v1-2 (KIP-932): acknowledgements without a fetch (a consumer's
//! commit, or the last acknowledgements of a closing consumer at epoch -1, which also ends
//! its share session and releases what it still holds). The new states are written to
//! `__share_group_state` and committed before the answer. v2 (KIP-1222, `share_v2.rs`): RENEW
//! acknowledgements under `IsRenewAck`, and the group's lock duration in the answer
//! (AcquisitionLockTimeoutMs), so a client knows how long a renewal holds.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::share_acknowledge_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareAcknowledgeTopicResponse,
};
use kafka_protocol::messages::{ApiKey, ShareAcknowledgeRequest, ShareAcknowledgeResponse};
use kafka_protocol::protocol::StrBytes;

use super::share_fetch::{identify, leader_hints, load_slots, merge_acks, resolve, Slot};
use super::{share_v2, ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::server::share_runtime::{ensure_state_topic, Dirty, COORDINATOR_NOT_AVAILABLE};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ShareAcknowledge,
    min: 1,
    max: 2,
};

fn error_response(code: i16, message: &str) -> ShareAcknowledgeResponse {
    ShareAcknowledgeResponse::default()
        .with_error_code(code)
        .with_error_message(Some(StrBytes::from_string(message.to_string())))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: ShareAcknowledgeRequest = req.decode(ApiKey::ShareAcknowledge)?;
    let (group, member, az, mgr) = match identify(
        broker,
        &req,
        body.group_id.as_ref(),
        body.member_id.as_ref(),
    ) {
        Ok(x) => x,
        Err((code, msg)) => return req.respond(&error_response(code, msg)).map(Reply::Now),
    };
    let named = merge_acks(body.topics.iter().flat_map(|t| {
        t.partitions.iter().map(move |p| {
            let acks = p.acknowledgement_batches.iter();
            (
                t.topic_id,
                p.partition_index,
                acks.map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                    .collect(),
            )
        })
    }));
    let epoch = body.share_session_epoch;
    let renew = body.is_renew_ack;
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
        load_slots(&mgr, &mut slots).await;
        let mut dirty = Dirty::new();
        for s in slots.iter_mut() {
            s.ack_code = Some(match &s.target {
                Ok(t) => match share_v2::ack_types_error(version, renew, &s.acks) {
                    Some(code) => code,
                    None => mgr.acknowledge(t, &member, &s.acks, &mut dirty),
                },
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
            .with_acquisition_lock_timeout_ms(mgr.lock_duration_ms(&group))
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
