//! AlterPartitionReassignments (key 45), v0–1. A single node can only "reassign" a
//! partition to the replica set it already has, `[node_id]`: that completes at once (NONE).
//! Any other replica set is INVALID_REPLICA_ASSIGNMENT with Kafka's validation messages;
//! cancelling (null replicas) is NO_REASSIGNMENT_IN_PROGRESS since none ever runs; unknown
//! topics and partitions are UNKNOWN_TOPIC_OR_PARTITION with Kafka's messages.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::alter_partition_reassignments_request::ReassignablePartition;
use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request};
use crate::cluster::admin::validate_assignment;
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::AlterPartitionReassignments,
    min: 0,
    max: 1,
};

fn reassign(broker: &Broker, topic: &str, p: &ReassignablePartition) -> (i16, Option<String>) {
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    let Some(t) = broker.topic(topic) else {
        return (
            unknown,
            Some(format!("Unable to find a topic named {topic}.")),
        );
    };
    let index = p.partition_index;
    if usize::try_from(index).map_or(true, |i| i >= t.partitions.len()) {
        return (
            unknown,
            Some(format!("Unable to find partition {topic}:{index}.")),
        );
    }
    let Some(replicas) = &p.replicas else {
        return (ResponseError::NoReassignmentInProgress.code(), None);
    };
    let replicas: Vec<i32> = replicas.iter().map(|b| b.0).collect();
    match validate_assignment(broker.config.node_id, &replicas, None) {
        Ok(()) => (0, None),
        Err(m) => (ResponseError::InvalidReplicaAssignment.code(), Some(m)),
    }
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let version = req.version;
    let body: AlterPartitionReassignmentsRequest =
        req.decode(ApiKey::AlterPartitionReassignments)?;
    let responses = body
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let (code, message) = reassign(broker, t.name.0.as_str(), p);
                    ReassignablePartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_error_message(message.map(StrBytes::from_string))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    let mut resp = AlterPartitionReassignmentsResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_error_message(None)
        .with_responses(responses);
    if version >= 1 {
        resp.allow_replication_factor_change = body.allow_replication_factor_change;
    }
    req.respond(&resp)
}
