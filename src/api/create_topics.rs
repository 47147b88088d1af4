//! CreateTopics (key 19): name, partitions, replication factor (-1 or 1 on a single node),
//! replica assignments (only this node), topic configs, validate_only.
//! v5+ answers with the topic's effective configs; v7+ with its id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::errors::topic_error_code;
use super::{ApiEntry, Request};
use crate::cluster::{Broker, TopicError};
use crate::config::TOPIC_CONFIGS;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::CreateTopics,
    min: 2,
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

fn create_one(
    broker: &Broker,
    t: &CreatableTopic,
    validate_only: bool,
) -> Result<CreatableTopicResult, TopicError> {
    let name = t.name.0.as_str();
    let mut partitions = t.num_partitions;
    let mut rf = t.replication_factor;
    if !t.assignments.is_empty() {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return Err(TopicError::InvalidRequest(
                "Both numPartitions or replicationFactor and replicasAssignments were set.".into(),
            ));
        }
        let n = t.assignments.len() as i32;
        let mut seen = vec![false; t.assignments.len()];
        for a in &t.assignments {
            let idx = usize::try_from(a.partition_index)
                .ok()
                .filter(|&i| i < seen.len());
            let only_me = a.broker_ids.len() == 1 && a.broker_ids[0].0 == broker.config.node_id;
            match idx {
                Some(i) if only_me && !seen[i] => seen[i] = true,
                _ => {
                    return Err(TopicError::InvalidReplicaAssignment {
                        node_id: broker.config.node_id,
                    })
                }
            }
        }
        partitions = n;
        rf = 1;
    }
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
    let (n, id, overrides) = if validate_only {
        let n = broker.validate_new_topic(name, partitions, rf, &configs)?;
        let o = configs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        (n, Uuid::nil(), o)
    } else {
        let topic = broker.create_topic(name, partitions, rf, configs)?;
        (
            topic.partitions.len() as i32,
            topic.id,
            topic.configs.clone(),
        )
    };
    Ok(CreatableTopicResult::default()
        .with_name(t.name.clone())
        .with_error_code(0)
        .with_topic_id(id)
        .with_num_partitions(n)
        .with_replication_factor(1)
        .with_configs(Some(effective_configs(broker, &overrides))))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: CreateTopicsRequest = req.decode(ApiKey::CreateTopics)?;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &body.topics {
        *counts.entry(t.name.0.as_str()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(body.topics.len());
    for t in &body.topics {
        if counts.get(t.name.0.as_str()).copied().unwrap_or(0) > 1 {
            results.push(result(
                t,
                ResponseError::InvalidRequest.code(),
                Some(format!(
                    "Create topics request contains duplicate topic name {}",
                    t.name.0.as_str()
                )),
            ));
            continue;
        }
        let r = match create_one(broker, t, body.validate_only) {
            Ok(r) => r,
            Err(e) => result(t, topic_error_code(&e), Some(e.to_string())),
        };
        results.push(r);
    }
    let resp = CreateTopicsResponse::default()
        .with_throttle_time_ms(0)
        .with_topics(results);
    req.respond(&resp)
}
