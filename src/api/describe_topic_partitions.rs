//! DescribeTopicPartitions (key 75, KIP-966), v0: topics by name (an empty list = every
//! topic), sorted by name, with their partitions (leader, leader epoch, replicas, ISR,
//! eligible leader replicas and last known ELR — always empty: skua has no ELR —, offline
//! replicas), topic id, `is_internal` and the authorized operations, answered from the same
//! metadata image Metadata uses (so every broker of a cluster answers alike).
//!
//! Pagination as Kafka's `describeTopicResponse`: at most
//! min(`response_partition_limit`, 2000 — Kafka's `max.request.partition.size.limit`)
//! partitions; the request's cursor (topic, partition) says where to start (topics sorted
//! before it are skipped); when the limit stops the answer inside a topic, or right before
//! the next one, `next_cursor` names where to continue, else it is null. A cursor naming a
//! topic not in the requested list is INVALID_REQUEST. Unknown topics are
//! UNKNOWN_TOPIC_OR_PARTITION (skipped when listing every topic).

use std::sync::Arc;

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::metadata::{ids, partition_error};
use super::{ApiEntry, Reply, Request};
use crate::cluster::{Broker, Topic};
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeTopicPartitions,
    min: 0,
    max: 0,
};

/// Kafka's `max.request.partition.size.limit` default.
const MAX_PARTITIONS: i32 = 2000;

/// Kafka's "authorized operations not requested" value, for topics that do not exist.
const NO_OPERATIONS: i32 = i32::MIN;

fn tname(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn error_topic(name: &str, code: i16) -> DescribeTopicPartitionsResponseTopic {
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(code)
        .with_name(Some(tname(name)))
        .with_topic_id(Uuid::nil())
        .with_topic_authorized_operations(NO_OPERATIONS)
}

/// The topic with its partitions from index `start`, at most `limit` of them.
fn describe(t: &Topic, start: i32, limit: usize) -> DescribeTopicPartitionsResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .filter(|p| p.index >= start)
        .take(limit)
        .map(|p| {
            let m = &p.meta;
            DescribeTopicPartitionsResponsePartition::default()
                .with_error_code(partition_error(m))
                .with_partition_index(p.index)
                .with_leader_id(BrokerId(m.leader))
                .with_leader_epoch(m.leader_epoch)
                .with_replica_nodes(ids(&m.replicas))
                .with_isr_nodes(ids(&m.isr))
                .with_eligible_leader_replicas(Some(Vec::new()))
                .with_last_known_elr(Some(Vec::new()))
                .with_offline_replicas(ids(&m.offline_replicas))
        })
        .collect();
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(tname(&t.name)))
        .with_topic_id(t.id)
        .with_is_internal(t.internal)
        .with_partitions(partitions)
        .with_topic_authorized_operations(super::metadata::TOPIC_OPERATIONS)
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: DescribeTopicPartitionsRequest = req.decode(ApiKey::DescribeTopicPartitions)?;
    let all = body.topics.is_empty();
    let mut names: Vec<String> = if all {
        broker.all_topics().iter().map(|t| t.name.clone()).collect()
    } else {
        body.topics.iter().map(|t| t.name.0.to_string()).collect()
    };
    names.sort();
    names.dedup();
    // Kafka: DESCRIBE on each topic; unauthorized ones are left out of an all-topics answer
    // and TOPIC_AUTHORIZATION_FAILED when named.
    let az = super::authz::authz(broker, &req);
    let describable = |n: &str| az.topic(crate::security::acl::AclOperation::Describe, n);
    if all {
        names.retain(|n| describable(n));
    }
    let cursor = body
        .cursor
        .as_ref()
        .map(|c| (c.topic_name.0.to_string(), c.partition_index));
    let mut resp = DescribeTopicPartitionsResponse::default().with_throttle_time_ms(0);
    if let Some((topic, _)) = &cursor {
        if !all && !names.contains(topic) {
            resp.topics = names
                .iter()
                .map(|n| error_topic(n, ResponseError::InvalidRequest.code()))
                .collect();
            return req.respond(&resp).map(Reply::Now);
        }
    }
    let mut remaining = body.response_partition_limit.clamp(0, MAX_PARTITIONS) as usize;
    let mut topics = names
        .iter()
        .filter(|n| {
            cursor
                .as_ref()
                .is_none_or(|(c, _)| n.as_str() >= c.as_str())
        })
        .peekable();
    while let Some(name) = topics.next() {
        let start = match &cursor {
            Some((c, p)) if c == name => (*p).max(0),
            _ => 0,
        };
        if !describable(name) {
            resp.topics
                .push(error_topic(name, super::authz::TOPIC_AUTHORIZATION_FAILED));
            continue;
        }
        let Some(t) = broker.topic(name) else {
            if !all {
                resp.topics.push(error_topic(
                    name,
                    ResponseError::UnknownTopicOrPartition.code(),
                ));
            }
            continue;
        };
        if remaining == 0 {
            resp.next_cursor = Some(
                Cursor::default()
                    .with_topic_name(tname(name))
                    .with_partition_index(start),
            );
            break;
        }
        let mut topic = describe(&t, start, remaining);
        topic.topic_authorized_operations =
            az.operations(crate::security::acl::ResourceType::Topic, name);
        let left = t.partitions.iter().filter(|p| p.index >= start).count();
        let taken = topic.partitions.len();
        remaining -= taken;
        let next = topic.partitions.last().map(|p| p.partition_index + 1);
        resp.topics.push(topic);
        if taken < left {
            let next = next.unwrap_or(start);
            resp.next_cursor = Some(
                Cursor::default()
                    .with_topic_name(tname(name))
                    .with_partition_index(next),
            );
            break;
        }
        if remaining == 0 {
            // Stopped at a topic boundary: continue with the next topic that exists.
            if let Some(n) = topics.find(|n| broker.topic(n).is_some() || !all) {
                resp.next_cursor = Some(
                    Cursor::default()
                        .with_topic_name(tname(n))
                        .with_partition_index(0),
                );
            }
            break;
        }
    }
    req.respond(&resp).map(Reply::Now)
}
