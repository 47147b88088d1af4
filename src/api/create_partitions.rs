//! CreatePartitions (key 37), v0–3: grow a topic's partition count. Kafka's checks and
//! messages: an unknown topic is UNKNOWN_TOPIC_OR_PARTITION, a count that is not an increase
//! INVALID_PARTITIONS, assignments of the wrong number or naming other brokers
//! INVALID_REPLICA_ASSIGNMENT, a topic named twice INVALID_REQUEST ("Duplicate topic name.",
//! answered first, once). `validate_only` checks without creating.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request};
use crate::cluster::admin::PartitionsError;
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::CreatePartitions,
    min: 0,
    max: 3,
};

/// Kafka's error code and message of a refused CreatePartitions.
pub fn error_code(e: &PartitionsError) -> (i16, Option<String>) {
    match e {
        PartitionsError::UnknownTopic => (ResponseError::UnknownTopicOrPartition.code(), None),
        PartitionsError::InvalidPartitions(m) => {
            (ResponseError::InvalidPartitions.code(), Some(m.clone()))
        }
        PartitionsError::InvalidReplicaAssignment(m) => (
            ResponseError::InvalidReplicaAssignment.code(),
            Some(m.clone()),
        ),
        PartitionsError::Storage(m) => (ResponseError::KafkaStorageError.code(), Some(m.clone())),
    }
}

fn result(name: &TopicName, code: i16, message: Option<String>) -> CreatePartitionsTopicResult {
    CreatePartitionsTopicResult::default()
        .with_name(name.clone())
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: CreatePartitionsRequest = req.decode(ApiKey::CreatePartitions)?;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &body.topics {
        *counts.entry(t.name.0.as_str()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(body.topics.len());
    let mut reported = std::collections::HashSet::new();
    for t in &body.topics {
        let n = t.name.0.as_str();
        if counts.get(n).copied().unwrap_or(0) > 1 && reported.insert(n) {
            results.push(result(
                &t.name,
                ResponseError::InvalidRequest.code(),
                Some("Duplicate topic name.".into()),
            ));
        }
    }
    for t in &body.topics {
        if counts.get(t.name.0.as_str()).copied().unwrap_or(0) > 1 {
            continue;
        }
        let assignments: Option<Vec<Vec<i32>>> = t.assignments.as_ref().map(|a| {
            a.iter()
                .map(|x| x.broker_ids.iter().map(|b| b.0).collect())
                .collect()
        });
        let r = match broker.create_partitions(
            t.name.0.as_str(),
            t.count,
            assignments.as_deref(),
            body.validate_only,
        ) {
            Ok(_) => result(&t.name, 0, None),
            Err(e) => {
                let (code, message) = error_code(&e);
                result(&t.name, code, message)
            }
        };
        results.push(r);
    }
    let resp = CreatePartitionsResponse::default()
        .with_throttle_time_ms(0)
        .with_results(results);
    req.respond(&resp)
}
