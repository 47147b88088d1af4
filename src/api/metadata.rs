//! Metadata (key 3): brokers, cluster id, controller, topics with their partitions.
//!
//! v0: an empty topic list means all topics; v1+: null means all, empty means none.
//! Unknown topics are auto-created (num.partitions) when both the request (v4+; always for
//! v0–3) and `auto.create.topics.enable` allow it. v10+ may name topics by id.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{ApiKey, BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::errors::topic_error_code;
use super::{ApiEntry, Request};
use crate::cluster::{validate_topic_name, Broker, Topic};
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::Metadata,
    min: 0,
    max: 13,
};

/// All topic operations (no ACLs yet): READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS as Kafka's AclOperation bit set.
const TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// Cluster operations: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
/// ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

fn describe_topic(broker: &Broker, t: &Topic, with_ops: bool) -> MetadataResponseTopic {
    let node = BrokerId(broker.config.node_id);
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            MetadataResponsePartition::default()
                .with_error_code(0)
                .with_partition_index(p.index)
                .with_leader_id(node)
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
                .with_offline_replicas(vec![])
        })
        .collect();
    let mut topic = MetadataResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(t.internal)
        .with_partitions(partitions);
    if with_ops {
        topic.topic_authorized_operations = TOPIC_OPERATIONS;
    }
    topic
}

fn error_topic(name: Option<&str>, id: Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(name.map(|n| TopicName(StrBytes::from_string(n.to_string()))))
        .with_topic_id(id)
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let version = req.version;
    let body: MetadataRequest = req.decode(ApiKey::Metadata)?;
    let allow_create =
        broker.config.auto_create_topics_enable && (version < 4 || body.allow_auto_topic_creation);
    let with_ops = version >= 8 && body.include_topic_authorized_operations;
    let all = match &body.topics {
        None => true,
        Some(t) => version == 0 && t.is_empty(),
    };
    let mut topics = Vec::new();
    if all {
        for t in broker.all_topics() {
            topics.push(describe_topic(broker, &t, with_ops));
        }
    } else {
        for rt in body.topics.iter().flatten() {
            // v10+: a topic may be named by id (name null, or empty with a non-nil id).
            let name = rt
                .name
                .as_ref()
                .map(|n| n.0.as_str().to_string())
                .filter(|n| !n.is_empty() || rt.topic_id.is_nil());
            let entry = match name {
                None => match broker.topic_by_id(&rt.topic_id) {
                    Some(t) => describe_topic(broker, &t, with_ops),
                    None => error_topic(None, rt.topic_id, ResponseError::UnknownTopicId.code()),
                },
                Some(name) => match broker.topic(&name) {
                    Some(t) => describe_topic(broker, &t, with_ops),
                    None => {
                        if let Err(e) = validate_topic_name(&name) {
                            error_topic(Some(&name), Uuid::nil(), topic_error_code(&e))
                        } else if allow_create {
                            match broker.create_topic(&name, -1, -1, BTreeMap::new()) {
                                Ok(t) => describe_topic(broker, &t, with_ops),
                                Err(crate::cluster::TopicError::AlreadyExists(_)) => {
                                    match broker.topic(&name) {
                                        Some(t) => describe_topic(broker, &t, with_ops),
                                        None => error_topic(
                                            Some(&name),
                                            Uuid::nil(),
                                            ResponseError::LeaderNotAvailable.code(),
                                        ),
                                    }
                                }
                                Err(e) => {
                                    error_topic(Some(&name), Uuid::nil(), topic_error_code(&e))
                                }
                            }
                        } else {
                            error_topic(
                                Some(&name),
                                Uuid::nil(),
                                ResponseError::UnknownTopicOrPartition.code(),
                            )
                        }
                    }
                },
            };
            topics.push(entry);
        }
    }
    let node = broker.config.node_id;
    let mut resp = MetadataResponse::default()
        .with_throttle_time_ms(0)
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(node))
            .with_host(StrBytes::from_string(broker.config.advertised_host.clone()))
            .with_port(broker.config.advertised_port as i32)
            .with_rack(None)])
        .with_cluster_id(Some(StrBytes::from_string(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(node))
        .with_topics(topics);
    if (8..=10).contains(&version) && body.include_cluster_authorized_operations {
        resp.cluster_authorized_operations = CLUSTER_OPERATIONS;
    }
    req.respond(&resp)
}
