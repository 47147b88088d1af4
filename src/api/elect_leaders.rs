//! ElectLeaders (key 43), v0–2: preferred (move leadership to the first replica when it is in
//! sync) or unclean (elect any live replica of a partition without a leader), decided by the
//! active controller with Kafka's codes: ELECTION_NOT_NEEDED for a partition already led by
//! its preferred replica (or, unclean, for any partition with a leader),
//! PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE; unknown topics and
//! partitions are UNKNOWN_TOPIC_OR_PARTITION with Kafka's messages. A null topic list means every
//! partition; as in Kafka, partitions needing no election are then left out, so each topic
//! answers with an empty list. An unknown election type fails the whole request with
//! INVALID_REQUEST.

use std::sync::Arc;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ApiKey, ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::ControllerRequest;
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

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: ElectLeadersRequest = req.decode(ApiKey::ElectLeaders)?;
    if let Some(code) =
        super::authz::authz(broker, &req).cluster_error(crate::security::acl::AclOperation::Alter)
    {
        let out = ElectLeadersResponse::default().with_error_code(code);
        return req.respond(&out).map(Reply::Now);
    }
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
        return req.respond(&resp).map(Reply::Now);
    }
    let unclean = body.election_type == UNCLEAN;
    let asked: Option<Vec<(String, i32)>> = body.topic_partitions.as_ref().map(|topics| {
        topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|&p| (t.topic.0.as_str().to_string(), p))
            })
            .collect()
    });
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let req_partitions = asked.clone();
        let answer = broker
            .partition_request(ControllerRequest::ElectLeaders {
                unclean,
                partitions: req_partitions,
            })
            .await;
        let (error_code, results) = match answer {
            Err((code, message)) => {
                // The whole request failed (no controller in time): every partition says so.
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
                (code, results)
            }
            Ok(results) => (0, group_results(&broker, asked.is_none(), results, &body)),
        };
        let resp = ElectLeadersResponse::default()
            .with_throttle_time_ms(0)
            .with_error_code(error_code)
            .with_replica_election_results(results);
        req.respond(&resp)
    })))
}

/// The controller's per-partition results grouped by topic in request order. For a null
/// topic list (every partition) Kafka lists only the partitions that were elected, with
/// every topic present.
fn group_results(
    broker: &Broker,
    all: bool,
    results: Vec<crate::cluster::controller_rpc::PartitionResult>,
    body: &ElectLeadersRequest,
) -> Vec<ReplicaElectionResult> {
    let mut by_topic: Vec<(String, Vec<PartitionResult>)> = if all {
        broker
            .all_topics()
            .iter()
            .map(|t| (t.name.clone(), Vec::new()))
            .collect()
    } else {
        let mut v: Vec<(String, Vec<PartitionResult>)> = Vec::new();
        for t in body.topic_partitions.iter().flatten() {
            if !v.iter().any(|(n, _)| n == t.topic.0.as_str()) {
                v.push((t.topic.0.as_str().to_string(), Vec::new()));
            }
        }
        v
    };
    for r in results {
        if all && r.error_code != 0 {
            continue;
        }
        if let Some((_, list)) = by_topic.iter_mut().find(|(n, _)| *n == r.topic) {
            list.push(partition(r.partition, r.error_code, r.message));
        }
    }
    by_topic
        .into_iter()
        .map(|(name, list)| {
            ReplicaElectionResult::default()
                .with_topic(TopicName(StrBytes::from_string(name)))
                .with_partition_result(list)
        })
        .collect()
}
