//! ShareGroupHeartbeat (key 76), v1: a share-group member joins (epoch 0, with its
//! subscription), heartbeats and leaves (epoch -1); the coordinator answers its epoch and,
//! when it changed, its assignment (KIP-932). v0 was Kafka 4.0's early access and is not
//! served (Kafka 4.1+ removed it too).

use std::sync::Arc;

use kafka_protocol::messages::share_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ApiKey, ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse};
use kafka_protocol::protocol::StrBytes;

use super::consumer_group_heartbeat::topics_image;
use super::{opt_str, via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{
    Request as GroupRequest, Response as GroupResponse, ShareHeartbeatRequest,
};
use crate::protocol::{encode_response, FrameError};
use crate::security::acl::AclOperation;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ShareGroupHeartbeat,
    min: 1,
    max: 1,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: ShareGroupHeartbeatRequest = req.decode(ApiKey::ShareGroupHeartbeat)?;
    // Kafka: READ on the group; DESCRIBE on every subscribed topic named.
    let az = super::authz::authz(broker, &req);
    let denied = az
        .group_error(AclOperation::Read, body.group_id.0.as_str())
        .or_else(|| {
            body.subscribed_topic_names
                .iter()
                .flatten()
                .any(|t| !az.topic(AclOperation::Describe, t.0.as_str()))
                .then_some(super::authz::TOPIC_AUTHORIZATION_FAILED)
        });
    if let Some(code) = denied {
        let out = ShareGroupHeartbeatResponse::default().with_error_code(code);
        return req.respond(&out).map(Reply::Now);
    }
    let heartbeat = crate::share::group::Heartbeat {
        member_id: body.member_id.as_str().to_string(),
        member_epoch: body.member_epoch,
        rack_id: opt_str(&body.rack_id),
        subscribed_topic_names: body
            .subscribed_topic_names
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.0.as_str().to_string()).collect()),
        client_id: req.client_id(),
        client_host: req.client_host.to_string(),
    };
    let hb = ShareHeartbeatRequest {
        group_id: body.group_id.0.as_str().to_string(),
        heartbeat,
        topics: topics_image(broker),
    };
    via_coordinator(
        broker,
        &req,
        GroupRequest::ShareHeartbeat(Box::new(hb)),
        move |resp, corr, version| {
            let mut out = ShareGroupHeartbeatResponse::default().with_throttle_time_ms(0);
            match resp {
                Some(GroupResponse::ShareHeartbeat(r)) => {
                    out.error_code = r.error;
                    out.error_message = r.error_message.map(StrBytes::from_string);
                    out.member_id = r.member_id.map(StrBytes::from_string);
                    out.member_epoch = r.member_epoch;
                    out.heartbeat_interval_ms = r.heartbeat_interval_ms;
                    out.assignment = r.assignment.map(|a| {
                        Assignment::default().with_topic_partitions(
                            a.into_iter()
                                .map(|(id, ps)| {
                                    TopicPartitions::default()
                                        .with_topic_id(id)
                                        .with_partitions(ps)
                                })
                                .collect(),
                        )
                    });
                }
                _ => out.error_code = COORDINATOR_NOT_AVAILABLE,
            }
            encode_response(corr, version, &out)
        },
    )
}
