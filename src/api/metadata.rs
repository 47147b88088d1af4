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

use super::authz::{authz, Authz, TOPIC_AUTHORIZATION_FAILED};
use super::errors::topic_error_code;
use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::NewTopic;
use crate::cluster::{validate_topic_name, Broker, Topic};
use crate::protocol::FrameError;
use crate::security::acl::{AclOperation, ResourceType};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::Metadata,
    min: 0,
    max: 13,
};

/// All topic operations (no ACLs yet): READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS as Kafka's AclOperation bit set.
pub const TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// Cluster operations: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
/// ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/// Broker ids on the wire (replicas, ISR, offline replicas).
pub(super) fn ids(v: &[i32]) -> Vec<BrokerId> {
    v.iter().map(|&b| BrokerId(b)).collect()
}

/// A described partition's error: Kafka lists a partition without a leader with
/// LEADER_NOT_AVAILABLE (Metadata, DescribeTopicPartitions).
pub(super) fn partition_error(m: &crate::cluster::PartitionMeta) -> i16 {
    if m.leader < 0 {
        ResponseError::LeaderNotAvailable.code()
    } else {
        0
    }
}

fn describe_topic(t: &Topic, with_ops: bool, az: &Authz) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            let m = &p.meta;
            MetadataResponsePartition::default()
                .with_error_code(partition_error(m))
                .with_partition_index(p.index)
                .with_leader_id(BrokerId(m.leader))
                .with_leader_epoch(m.leader_epoch)
                .with_replica_nodes(ids(&m.replicas))
                .with_isr_nodes(ids(&m.isr))
                .with_offline_replicas(ids(&m.offline_replicas))
        })
        .collect();
    let mut topic = MetadataResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(t.internal)
        .with_partitions(partitions);
    if with_ops {
        topic.topic_authorized_operations = az.operations(ResourceType::Topic, &t.name);
    }
    topic
}

fn error_topic(name: Option<&str>, id: Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(name.map(|n| TopicName(StrBytes::from_string(n.to_string()))))
        .with_topic_id(id)
}

/// What to answer for one requested topic: known now, to auto-create, or an error.
enum Wanted {
    Ready(MetadataResponseTopic),
    Create(String),
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: MetadataRequest = req.decode(ApiKey::Metadata)?;
    let allow_create =
        broker.config.auto_create_topics_enable && (version < 4 || body.allow_auto_topic_creation);
    let with_ops = version >= 8 && body.include_topic_authorized_operations;
    let all = match &body.topics {
        None => true,
        Some(t) => version == 0 && t.is_empty(),
    };
    let az = authz(broker, &req);
    let mut wanted = Vec::new();
    // Kafka: topics the principal may not DESCRIBE are left out of an all-topics answer and
    // refused with TOPIC_AUTHORIZATION_FAILED when named (UNKNOWN_TOPIC_ID when named by id);
    // auto-creation needs CREATE on the cluster or the topic.
    let may_describe = |name: &str| az.topic(AclOperation::Describe, name);
    let may_create = az.cluster(AclOperation::Create);
    if all {
        for t in broker.all_topics() {
            if may_describe(&t.name) {
                wanted.push(Wanted::Ready(describe_topic(&t, with_ops, &az)));
            }
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
                    Some(t) if may_describe(&t.name) => {
                        Wanted::Ready(describe_topic(&t, with_ops, &az))
                    }
                    _ => Wanted::Ready(error_topic(
                        None,
                        rt.topic_id,
                        ResponseError::UnknownTopicId.code(),
                    )),
                },
                Some(name) if !may_describe(&name) => Wanted::Ready(error_topic(
                    Some(&name),
                    Uuid::nil(),
                    TOPIC_AUTHORIZATION_FAILED,
                )),
                Some(name) => match broker.topic(&name) {
                    Some(t) => Wanted::Ready(describe_topic(&t, with_ops, &az)),
                    None => {
                        if let Err(e) = validate_topic_name(&name) {
                            Wanted::Ready(error_topic(
                                Some(&name),
                                Uuid::nil(),
                                topic_error_code(&e),
                            ))
                        } else if allow_create
                            && !may_create
                            && !az.topic(AclOperation::Create, &name)
                        {
                            Wanted::Ready(error_topic(
                                Some(&name),
                                Uuid::nil(),
                                TOPIC_AUTHORIZATION_FAILED,
                            ))
                        } else if allow_create {
                            Wanted::Create(name)
                        } else {
                            Wanted::Ready(error_topic(
                                Some(&name),
                                Uuid::nil(),
                                ResponseError::UnknownTopicOrPartition.code(),
                            ))
                        }
                    }
                },
            };
            wanted.push(entry);
        }
    }
    let include_cluster_ops =
        (8..=10).contains(&version) && body.include_cluster_authorized_operations;
    let to_create: Vec<NewTopic> = wanted
        .iter()
        .filter_map(|w| match w {
            Wanted::Create(name) => Some(NewTopic {
                name: name.clone(),
                num_partitions: -1,
                replication_factor: -1,
                assignments: None,
                configs: BTreeMap::new(),
            }),
            Wanted::Ready(_) => None,
        })
        .collect();
    let broker = Arc::clone(broker);
    let answer = move |broker: &Broker, wanted: Vec<Wanted>, req: &Request| {
        let topics = wanted
            .into_iter()
            .map(|w| match w {
                Wanted::Ready(t) => t,
                // Created (or being created): describe what this node knows now; a topic
                // not yet here is LEADER_NOT_AVAILABLE, which clients retry (as in Kafka).
                Wanted::Create(name) => match broker.topic(&name) {
                    Some(t) => describe_topic(&t, with_ops, &az),
                    None => error_topic(
                        Some(&name),
                        Uuid::nil(),
                        ResponseError::LeaderNotAvailable.code(),
                    ),
                },
            })
            .collect();
        let cluster_ops = include_cluster_ops
            .then(|| az.operations(ResourceType::Cluster, crate::security::acl::CLUSTER_NAME));
        respond(broker, req, topics, cluster_ops)
    };
    if to_create.is_empty() {
        return answer(&broker, wanted, &req).map(Reply::Now);
    }
    Ok(Reply::Later(Box::pin(async move {
        let results = broker.create_topics(to_create, false).await;
        // A name that cannot be created (e.g. a replication factor the cluster cannot
        // hold yet) is answered with the controller's error.
        let failed: BTreeMap<String, i16> = results
            .into_iter()
            .filter(|r| {
                r.error_code != 0 && r.error_code != ResponseError::TopicAlreadyExists.code()
            })
            .map(|r| (r.name, r.error_code))
            .collect();
        let wanted = wanted
            .into_iter()
            .map(|w| match w {
                Wanted::Create(name)
                    if failed.contains_key(&name) && broker.topic(&name).is_none() =>
                {
                    let code = failed.get(&name).copied().unwrap_or_default();
                    Wanted::Ready(error_topic(Some(&name), Uuid::nil(), code))
                }
                other => other,
            })
            .collect();
        answer(&broker, wanted, &req)
    })))
}

fn respond(
    broker: &Broker,
    req: &Request,
    topics: Vec<MetadataResponseTopic>,
    cluster_ops: Option<i32>,
) -> Result<Bytes, FrameError> {
    let cluster = broker.cluster();
    // Each client is told the endpoints of the listener it connected to.
    let mut brokers: Vec<MetadataResponseBroker> = cluster
        .live()
        .filter_map(|b| b.on_listener(&req.conn.listener))
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(StrBytes::from_string(b.host.clone()))
                .with_port(i32::from(b.port))
                .with_rack(b.rack.clone().map(StrBytes::from_string))
        })
        .collect();
    if brokers.is_empty() {
        // Not registered yet (start-up): at least this node.
        let (host, port) = broker.config.advertised_on(&req.conn.listener);
        brokers.push(
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(broker.config.node_id))
                .with_host(StrBytes::from_string(host))
                .with_port(i32::from(port))
                .with_rack(None),
        );
    }
    let controller_id = cluster.client_controller_id(broker.config.node_id);
    let mut resp = MetadataResponse::default()
        .with_throttle_time_ms(0)
        .with_brokers(brokers)
        .with_cluster_id(Some(StrBytes::from_string(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(controller_id))
        .with_topics(topics);
    if let Some(ops) = cluster_ops {
        resp.cluster_authorized_operations = ops;
    }
    req.respond(&resp)
}
