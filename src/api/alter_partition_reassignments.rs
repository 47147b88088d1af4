//! AlterPartitionReassignments (key 45), v0–1: move a partition to a new replica set, as
//! Kafka's controller does — the target replicas are added (they catch up as followers),
//! and once all are in the ISR the replica set becomes the target, leadership moves if the
//! leader is not in it, and the removed replicas delete their logs. Null replicas cancel
//! (NO_REASSIGNMENT_IN_PROGRESS if none runs); invalid sets are INVALID_REPLICA_ASSIGNMENT;
//! unknown topics and partitions are UNKNOWN_TOPIC_OR_PARTITION, with Kafka's messages.

use std::sync::Arc;

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey,
};
use kafka_protocol::protocol::StrBytes;

use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::ControllerRequest;
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::AlterPartitionReassignments,
    min: 0,
    max: 1,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: AlterPartitionReassignmentsRequest =
        req.decode(ApiKey::AlterPartitionReassignments)?;
    if let Some(code) =
        super::authz::authz(broker, &req).cluster_error(crate::security::acl::AclOperation::Alter)
    {
        let out = AlterPartitionReassignmentsResponse::default()
            .with_error_code(code)
            .with_error_message(Some(kafka_protocol::protocol::StrBytes::from_static_str(
                "Cluster authorization failed.",
            )));
        return req.respond(&out).map(Reply::Now);
    }
    let asked: Vec<(String, i32, Option<Vec<i32>>)> = body
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.0.as_str().to_string(),
                    p.partition_index,
                    p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect()),
                )
            })
        })
        .collect();
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let answer = broker
            .partition_request(ControllerRequest::AlterReassignments {
                reassignments: asked,
            })
            .await;
        let (code, message, results) = match answer {
            Ok(r) => (0, None, r),
            Err((code, m)) => (code, Some(m), Vec::new()),
        };
        // The controller answers every asked partition in request order (a partition may be
        // named twice): results are taken by position.
        let mut results = results.into_iter();
        let responses = body
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let r = results.next();
                        let (c, m) = match &r {
                            Some(r) => (r.error_code, r.message.clone()),
                            None => (code, message.clone()),
                        };
                        ReassignablePartitionResponse::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(c)
                            .with_error_message(m.map(StrBytes::from_string))
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
    })))
}
