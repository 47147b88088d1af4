//! CreateTopics (key 19), v0–7 (v0–1, removed by KIP-896, through protocol/legacy): name,
//! partitions, replication factor (-1: the defaults), replica assignments, topic configs, validate_only — decided by the active controller (placement
//! over the live brokers, INVALID_REPLICATION_FACTOR above their count).
//! v5+ answers with the topic's effective configs; v7+ with its id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::NewTopic;
use crate::cluster::Broker;
use crate::config::TOPIC_CONFIGS;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::CreateTopics,
    min: 0,
    max: 7,
};

/// Config source codes of DescribeConfigs/CreateTopics.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// The effective configs of a topic with these overrides, as CreateTopics v5+ reports them.
pub fn effective_configs(
    broker: &Broker,
    overrides: &BTreeMap<String, String>,
) -> Vec<CreatableTopicConfigs> {
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let (value, source) = match overrides.get(d.name) {
                Some(v) => (Some(v.clone()), SOURCE_TOPIC),
                None => {
                    let from_broker = d
                        .broker_synonym
                        .is_some_and(|b| broker.config.overrides.contains_key(b));
                    (
                        broker.config.topic_default(d),
                        if from_broker {
                            SOURCE_STATIC_BROKER
                        } else {
                            SOURCE_DEFAULT
                        },
                    )
                }
            };
            CreatableTopicConfigs::default()
                .with_name(StrBytes::from_static_str(d.name))
                .with_value(value.map(StrBytes::from_string))
                .with_read_only(false)
                .with_config_source(source)
                .with_is_sensitive(false)
        })
        .collect()
}

fn result(name: &CreatableTopic, code: i16, message: Option<String>) -> CreatableTopicResult {
    CreatableTopicResult::default()
        .with_name(name.name.clone())
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_topic_id(Uuid::nil())
}

/// The request's topic as the controller takes it. Explicit assignments must name every
/// partition 0..n exactly once (else INVALID_REPLICA_ASSIGNMENT), and exclude the counts.
fn new_topic(t: &CreatableTopic) -> Result<NewTopic, (i16, String)> {
    let configs: BTreeMap<String, Option<String>> = t
        .configs
        .iter()
        .map(|c| {
            (
                c.name.as_str().to_string(),
                c.value.as_ref().map(|v| v.as_str().to_string()),
            )
        })
        .collect();
    let mut assignments = None;
    if !t.assignments.is_empty() {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return Err((
                ResponseError::InvalidRequest.code(),
                "Both numPartitions or replicationFactor and replicasAssignments were set.".into(),
            ));
        }
        let mut by_index: Vec<Option<Vec<i32>>> = vec![None; t.assignments.len()];
        for a in &t.assignments {
            let slot = usize::try_from(a.partition_index)
                .ok()
                .and_then(|i| by_index.get_mut(i));
            match slot {
                Some(s) if s.is_none() => {
                    *s = Some(a.broker_ids.iter().map(|b| b.0).collect());
                }
                _ => {
                    return Err((
                        ResponseError::InvalidReplicaAssignment.code(),
                        "Partitions should be a consecutive 0-based integer sequence.".into(),
                    ))
                }
            }
        }
        assignments = Some(by_index.into_iter().flatten().collect());
    }
    Ok(NewTopic {
        name: t.name.0.as_str().to_string(),
        num_partitions: t.num_partitions,
        replication_factor: t.replication_factor,
        assignments,
        configs,
    })
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    // v0–1 were removed by KIP-896: v0 is decoded by hand, v1 has v2's request layout; both
    // answer in their own (hand-encoded) response layout.
    let version = req.version;
    let body: CreateTopicsRequest = match version {
        0 => crate::protocol::legacy::requests::create_topics(&req.body).map_err(|e| {
            FrameError::Malformed {
                api: ApiKey::CreateTopics,
                version,
                reason: e.to_string(),
            }
        })?,
        1 => crate::protocol::decode_body(ApiKey::CreateTopics, 2, &mut req.body)?,
        _ => req.decode(ApiKey::CreateTopics)?,
    };
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &body.topics {
        *counts.entry(t.name.0.as_str()).or_default() += 1;
    }
    // Answers decided here (duplicates, malformed assignments) by request position; the
    // rest go to the controller in one request.
    let mut early: Vec<Option<CreatableTopicResult>> = Vec::with_capacity(body.topics.len());
    let mut asked = Vec::new();
    // Kafka: CREATE on the cluster or on the topic.
    let az = super::authz::authz(broker, &req);
    let cluster_create = az.cluster(crate::security::acl::AclOperation::Create);
    for t in &body.topics {
        if !cluster_create
            && !az.topic(
                crate::security::acl::AclOperation::Create,
                t.name.0.as_str(),
            )
        {
            early.push(Some(result(
                t,
                super::authz::TOPIC_AUTHORIZATION_FAILED,
                Some("Authorization failed.".into()),
            )));
            continue;
        }
        if counts.get(t.name.0.as_str()).copied().unwrap_or(0) > 1 {
            early.push(Some(result(
                t,
                ResponseError::InvalidRequest.code(),
                Some(format!(
                    "Create topics request contains duplicate topic name {}",
                    t.name.0.as_str()
                )),
            )));
            continue;
        }
        match new_topic(t) {
            Ok(nt) => {
                early.push(None);
                asked.push(nt);
            }
            Err((code, message)) => early.push(Some(result(t, code, Some(message)))),
        }
    }
    let broker = Arc::clone(broker);
    let validate_only = body.validate_only;
    Ok(Reply::Later(Box::pin(async move {
        let mut answers = if asked.is_empty() {
            Vec::new()
        } else {
            broker.create_topics(asked, validate_only).await
        }
        .into_iter();
        let mut results = Vec::with_capacity(body.topics.len());
        for (t, e) in body.topics.iter().zip(early) {
            let r = match e {
                Some(r) => r,
                None => match answers.next() {
                    Some(a) if a.error_code == 0 => CreatableTopicResult::default()
                        .with_name(t.name.clone())
                        .with_error_code(0)
                        .with_topic_id(a.topic_id)
                        .with_num_partitions(a.num_partitions)
                        .with_replication_factor(a.replication_factor)
                        .with_configs(Some(effective_configs(&broker, &a.configs))),
                    Some(a) => result(t, a.error_code, a.message),
                    None => result(t, ResponseError::UnknownServerError.code(), None),
                },
            };
            results.push(r);
        }
        let resp = CreateTopicsResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(results);
        if version < 2 {
            let corr = req.header.correlation_id;
            return Ok(crate::protocol::legacy::responses::create_topics(
                corr, version, &resp,
            ));
        }
        req.respond(&resp)
    })))
}
