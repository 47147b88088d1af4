//! OffsetDelete (key 47), v0: delete committed offsets of partitions the group no longer
//! subscribes to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).

use std::sync::Arc;

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{ApiKey, OffsetDeleteRequest, OffsetDeleteResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{Request as GroupRequest, Response as GroupResponse};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::OffsetDelete,
    min: 0,
    max: 0,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: OffsetDeleteRequest = req.decode(ApiKey::OffsetDelete)?;
    let partitions: Vec<(String, i32)> = body
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.0.as_str().to_string(), p.partition_index))
        })
        .collect();
    let group_id = body.group_id.0.as_str().to_string();
    // Kafka: DELETE on the group (else the whole request), READ on each topic.
    let az = super::authz::authz(broker, &req);
    if let Some(code) = az.group_error(crate::security::acl::AclOperation::Delete, &group_id) {
        let out = OffsetDeleteResponse::default().with_error_code(code);
        return req.respond(&out).map(Reply::Now);
    }
    type Parts = Vec<(String, i32)>;
    let (partitions, denied): (Parts, Parts) = partitions
        .into_iter()
        .partition(|(t, _)| az.topic(crate::security::acl::AclOperation::Read, t));
    via_coordinator(
        broker,
        &req,
        GroupRequest::OffsetDelete {
            group_id,
            partitions,
        },
        move |resp, corr, version| {
            let (error, mut parts) = match resp {
                Some(GroupResponse::OffsetDelete { error, partitions }) => (error, partitions),
                _ => (COORDINATOR_NOT_AVAILABLE, vec![]),
            };
            parts.extend(
                denied
                    .into_iter()
                    .map(|(t, p)| (t, p, super::authz::TOPIC_AUTHORIZATION_FAILED)),
            );
            let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
            for (t, p, code) in parts {
                let part = OffsetDeleteResponsePartition::default()
                    .with_partition_index(p)
                    .with_error_code(code);
                match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                    Some(x) => x.partitions.push(part),
                    None => topics.push(
                        OffsetDeleteResponseTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t)))
                            .with_partitions(vec![part]),
                    ),
                }
            }
            let out = OffsetDeleteResponse::default()
                .with_error_code(error)
                .with_throttle_time_ms(0)
                .with_topics(topics);
            encode_response(corr, version, &out)
        },
    )
}
