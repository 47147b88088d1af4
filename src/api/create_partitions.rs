//! CreatePartitions (key 37), v0–3: grow a topic's partition count. Kafka's checks and
//! messages: an unknown topic is UNKNOWN_TOPIC_OR_PARTITION, a count that is not an increase
//! INVALID_PARTITIONS, assignments of the wrong number or naming other brokers
//! INVALID_REPLICA_ASSIGNMENT (decided by the active controller), a topic named twice INVALID_REQUEST ("Duplicate topic name.",
//! answered first, once). `validate_only` checks without creating.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::NewPartitions;
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::CreatePartitions,
    min: 0,
    max: 3,
};

fn result(name: &TopicName, code: i16, message: Option<String>) -> CreatePartitionsTopicResult {
    CreatePartitionsTopicResult::default()
        .with_name(name.clone())
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: CreatePartitionsRequest = req.decode(ApiKey::CreatePartitions)?;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in &body.topics {
        *counts.entry(t.name.0.as_str().to_string()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(body.topics.len());
    let mut reported = std::collections::HashSet::new();
    for t in &body.topics {
        let n = t.name.0.as_str();
        if counts.get(n).copied().unwrap_or(0) > 1 && reported.insert(n.to_string()) {
            results.push(result(
                &t.name,
                ResponseError::InvalidRequest.code(),
                Some("Duplicate topic name.".into()),
            ));
        }
    }
    // Kafka: ALTER on each topic.
    let az = super::authz::authz(broker, &req);
    let allowed = |t: &str| az.topic(crate::security::acl::AclOperation::Alter, t);
    for t in &body.topics {
        let n = t.name.0.as_str();
        if counts.get(n).copied().unwrap_or(0) <= 1 && !allowed(n) {
            results.push(result(
                &t.name,
                super::authz::TOPIC_AUTHORIZATION_FAILED,
                Some("Authorization failed.".into()),
            ));
        }
    }
    let asked: Vec<(TopicName, NewPartitions)> = body
        .topics
        .iter()
        .filter(|t| counts.get(t.name.0.as_str()).copied().unwrap_or(0) <= 1)
        .filter(|t| allowed(t.name.0.as_str()))
        .map(|t| {
            let assignments: Option<Vec<Vec<i32>>> = t.assignments.as_ref().map(|a| {
                a.iter()
                    .map(|x| x.broker_ids.iter().map(|b| b.0).collect())
                    .collect()
            });
            (
                t.name.clone(),
                NewPartitions {
                    name: t.name.0.as_str().to_string(),
                    count: t.count,
                    assignments,
                },
            )
        })
        .collect();
    let broker = Arc::clone(broker);
    let validate_only = body.validate_only;
    Ok(Reply::Later(Box::pin(async move {
        let (names, wanted): (Vec<TopicName>, Vec<NewPartitions>) = asked.into_iter().unzip();
        let answers = if wanted.is_empty() {
            Vec::new()
        } else {
            broker.create_partitions(wanted, validate_only).await
        };
        for (name, a) in names.iter().zip(answers) {
            results.push(result(name, a.error_code, a.message));
        }
        let resp = CreatePartitionsResponse::default()
            .with_throttle_time_ms(0)
            .with_results(results);
        req.respond(&resp)
    })))
}
