//! ReadShareGroupStateSummary (key 87), v0: the state epoch, leader epoch and start offset of
//! share-partitions whose state this broker keeps (DescribeShareGroupOffsets on the group
//! coordinator asks for them). Broker to broker: CLUSTER_ACTION. skua-to-skua: no topics
//! means every share-partition of the group this coordinator holds.

use std::sync::Arc;

use kafka_protocol::messages::read_share_group_state_summary_response::{
    PartitionResult, ReadStateSummaryResult,
};
use kafka_protocol::messages::{
    ApiKey, ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse,
};

use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::security::acl::AclOperation;
use crate::server::share_state::{requested_keys, COORDINATOR_NOT_AVAILABLE};
use crate::share::records::{StateKey, StateValue};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ReadShareGroupStateSummary,
    min: 0,
    max: 0,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: ReadShareGroupStateSummaryRequest = req.decode(ApiKey::ReadShareGroupStateSummary)?;
    let denied = super::authz::authz(broker, &req).cluster_error(AclOperation::ClusterAction);
    let group = body.group_id.as_str().to_string();
    let parts: Vec<(uuid::Uuid, Vec<i32>)> = body
        .topics
        .iter()
        .map(|t| {
            (
                t.topic_id,
                t.partitions.iter().map(|p| p.partition).collect(),
            )
        })
        .collect();
    let (keys, whole) = requested_keys(&group, parts.iter().map(|(id, p)| (*id, p.as_slice())));
    let summary: Vec<(StateKey, Result<Option<StateValue>, i16>)> =
        match (denied, broker.shares.get()) {
            (Some(code), _) => keys
                .unwrap_or_default()
                .into_iter()
                .map(|k| (k, Err(code)))
                .collect(),
            (None, None) => keys
                .unwrap_or_default()
                .into_iter()
                .map(|k| (k, Err(COORDINATOR_NOT_AVAILABLE)))
                .collect(),
            (None, Some(m)) => match keys {
                None => m.state.coord_summary(&group, None, None),
                Some(keys) => {
                    let mut out = m.state.coord_summary(&group, Some(keys), None);
                    for id in whole {
                        out.extend(m.state.coord_summary(&group, None, Some(id)));
                    }
                    out
                }
            },
        };
    let mut results: Vec<ReadStateSummaryResult> = Vec::new();
    for (key, r) in summary {
        let result = PartitionResult::default().with_partition(key.partition);
        let result = match r {
            Err(code) => result
                .with_error_code(code)
                .with_state_epoch(-1)
                .with_leader_epoch(-1)
                .with_start_offset(-1),
            Ok(None) => result
                .with_state_epoch(-1)
                .with_leader_epoch(-1)
                .with_start_offset(-1),
            Ok(Some(v)) => result
                .with_state_epoch(v.state_epoch)
                .with_leader_epoch(v.leader_epoch)
                .with_start_offset(v.snapshot.start_offset),
        };
        match results.iter_mut().find(|r| r.topic_id == key.topic_id) {
            Some(r) => r.partitions.push(result),
            None => results.push(
                ReadStateSummaryResult::default()
                    .with_topic_id(key.topic_id)
                    .with_partitions(vec![result]),
            ),
        }
    }
    let out = ReadShareGroupStateSummaryResponse::default().with_results(results);
    req.respond(&out).map(Reply::Now)
}
