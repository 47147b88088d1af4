//! ElectLeaders (key 43), v0–2. On a single node every partition already has its preferred
//! (and only) leader, so each named partition answers ELECTION_NOT_NEEDED, as Kafka's
//! controller does for a partition led by its preferred replica (and, for an unclean
//! election, for any partition with a leader). Unknown topics and partitions are
//! UNKNOWN_TOPIC_OR_PARTITION with Kafka's messages. A null topic list means every
//! partition; as in Kafka, partitions needing no election are then left out, so each topic
//! answers with an empty list. An unknown election type fails the whole request with
//! INVALID_REQUEST.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ApiKey, ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ElectLeaders,
    min: 0,
    max: 2,
};

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

fn partition(index: i32, code: i16, message: Option<String>) -> PartitionResult {
    PartitionResult::default()
        .with_partition_id(index)
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

/// The outcome of electing a leader for one partition here.
fn elect(broker: &Broker, topic: &str, index: i32) -> PartitionResult {
    let Some(t) = broker.topic(topic) else {
        return partition(
            index,
            ResponseError::UnknownTopicOrPartition.code(),
            Some(format!("No such topic as {topic}")),
        );
    };
    if usize::try_from(index).map_or(true, |i| i >= t.partitions.len()) {
        return partition(
            index,
            ResponseError::UnknownTopicOrPartition.code(),
            Some(format!("No such partition as {topic}-{index}")),
        );
    }
    partition(
        index,
        ResponseError::ElectionNotNeeded.code(),
        Some("Leader election not needed for topic partition.".into()),
    )
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: ElectLeadersRequest = req.decode(ApiKey::ElectLeaders)?;
    if body.election_type != PREFERRED && body.election_type != UNCLEAN {
        let message = format!("Unknown election type {}", body.election_type);
        let code = ResponseError::InvalidRequest.code();
        let results = body
            .topic_partitions
            .iter()
            .flatten()
            .map(|t| {
                ReplicaElectionResult::default()
                    .with_topic(t.topic.clone())
                    .with_partition_result(
                        t.partitions
                            .iter()
                            .map(|&p| partition(p, code, Some(message.clone())))
                            .collect(),
                    )
            })
            .collect();
        let resp = ElectLeadersResponse::default()
            .with_error_code(code)
            .with_replica_election_results(results);
        return req.respond(&resp);
    }
    let results = match &body.topic_partitions {
        None => broker
            .all_topics()
            .iter()
            .map(|t| {
                ReplicaElectionResult::default()
                    .with_topic(TopicName(StrBytes::from_string(t.name.clone())))
                    .with_partition_result(vec![])
            })
            .collect(),
        Some(topics) => topics
            .iter()
            .map(|t| {
                ReplicaElectionResult::default()
                    .with_topic(t.topic.clone())
                    .with_partition_result(
                        t.partitions
                            .iter()
                            .map(|&p| elect(broker, t.topic.0.as_str(), p))
                            .collect(),
                    )
            })
            .collect(),
    };
    let resp = ElectLeadersResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_replica_election_results(results);
    req.respond(&resp)
}
