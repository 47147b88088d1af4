//! ListPartitionReassignments (key 46), v0: the reassignments in progress, from this node's
//! metadata (replicas, adding and removing replicas of each partition being moved), for
//! all topics or the named partitions; unknown topics are left out silently, as Kafka does.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{ApiEntry, Request};
use crate::cluster::{Broker, PartitionSlot, Topic};
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ListPartitionReassignments,
    min: 0,
    max: 0,
};

fn ids(v: &[i32]) -> Vec<BrokerId> {
    v.iter().map(|&b| BrokerId(b)).collect()
}

fn ongoing(t: &Topic, slots: Vec<&PartitionSlot>) -> Option<OngoingTopicReassignment> {
    let partitions: Vec<OngoingPartitionReassignment> = slots
        .into_iter()
        .filter(|s| !s.meta.adding_replicas.is_empty() || !s.meta.removing_replicas.is_empty())
        .map(|s| {
            OngoingPartitionReassignment::default()
                .with_partition_index(s.index)
                .with_replicas(ids(&s.meta.replicas))
                .with_adding_replicas(ids(&s.meta.adding_replicas))
                .with_removing_replicas(ids(&s.meta.removing_replicas))
        })
        .collect();
    (!partitions.is_empty()).then(|| {
        OngoingTopicReassignment::default()
            .with_name(TopicName(StrBytes::from_string(t.name.clone())))
            .with_partitions(partitions)
    })
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: ListPartitionReassignmentsRequest = req.decode(ApiKey::ListPartitionReassignments)?;
    if let Some(code) = super::authz::authz(broker, &req)
        .cluster_error(crate::security::acl::AclOperation::Describe)
    {
        let out = ListPartitionReassignmentsResponse::default().with_error_code(code);
        return req.respond(&out);
    }
    let topics: Vec<OngoingTopicReassignment> = match &body.topics {
        None => broker
            .all_topics()
            .iter()
            .filter_map(|t| ongoing(t, t.partitions.iter().collect()))
            .collect(),
        Some(wanted) => wanted
            .iter()
            .filter_map(|w| {
                let t = broker.topic(w.name.0.as_str())?;
                let slots = w
                    .partition_indexes
                    .iter()
                    .filter_map(|&i| t.slot(i))
                    .collect();
                ongoing(&t, slots)
            })
            .collect(),
    };
    let resp = ListPartitionReassignmentsResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_error_message(None)
        .with_topics(topics);
    req.respond(&resp)
}
