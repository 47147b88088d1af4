//! OffsetFetch (key 9), v0–9: one group (v0–7, topics or all of them from v2) or several
//! groups (v8+); require_stable (v7+).

use std::sync::Arc;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{
    FetchedOffset, OffsetFetch, OffsetFetchGroup, OffsetFetchGroupResult, Request as GroupRequest,
    Response as GroupResponse,
};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::OffsetFetch,
    min: 0,
    max: 9,
};

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// Group offsets by topic in first-seen order, with `make` building each partition entry.
fn grouped<P>(
    offsets: &[FetchedOffset],
    mut make: impl FnMut(&FetchedOffset) -> P,
) -> Vec<(String, Vec<P>)> {
    let mut topics: Vec<(String, Vec<P>)> = Vec::new();
    for o in offsets {
        let part = make(o);
        match topics.iter_mut().find(|(t, _)| *t == o.topic) {
            Some((_, v)) => v.push(part),
            None => topics.push((o.topic.clone(), vec![part])),
        }
    }
    topics
}

fn legacy(version: i16, g: &OffsetFetchGroupResult) -> Vec<OffsetFetchResponseTopic> {
    grouped(&g.offsets, |o| {
        OffsetFetchResponsePartition::default()
            .with_partition_index(o.partition)
            .with_committed_offset(o.offset)
            .with_committed_leader_epoch(if version >= 5 { o.leader_epoch } else { -1 })
            .with_metadata(o.metadata.clone().map(StrBytes::from_string))
            .with_error_code(o.error)
    })
    .into_iter()
    .map(|(t, parts)| {
        OffsetFetchResponseTopic::default()
            .with_name(name(&t))
            .with_partitions(parts)
    })
    .collect()
}

fn multi(g: &OffsetFetchGroupResult) -> OffsetFetchResponseGroup {
    let topics = grouped(&g.offsets, |o| {
        OffsetFetchResponsePartitions::default()
            .with_partition_index(o.partition)
            .with_committed_offset(o.offset)
            .with_committed_leader_epoch(o.leader_epoch)
            .with_metadata(o.metadata.clone().map(StrBytes::from_string))
            .with_error_code(o.error)
    })
    .into_iter()
    .map(|(t, parts)| {
        OffsetFetchResponseTopics::default()
            .with_name(name(&t))
            .with_partitions(parts)
    })
    .collect();
    OffsetFetchResponseGroup::default()
        .with_group_id(GroupId(StrBytes::from_string(g.group_id.clone())))
        .with_error_code(g.error)
        .with_topics(topics)
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    // v0 (removed by KIP-896: ZooKeeper-stored offsets in old Kafka; Kafka 2.x/3.x answered
    // it from the same store as v1) has v1's layout both ways.
    let body: OffsetFetchRequest =
        crate::protocol::decode_body(ApiKey::OffsetFetch, version.max(1), &mut req.body)?;
    let groups: Vec<OffsetFetchGroup> = if version >= 8 {
        body.groups
            .iter()
            .map(|g| OffsetFetchGroup {
                group_id: g.group_id.0.as_str().to_string(),
                // v9+: a consumer-protocol member fetching (its epoch is checked).
                member: g
                    .member_id
                    .as_ref()
                    .map(|m| (m.as_str().to_string(), g.member_epoch)),
                topics: g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.0.as_str().to_string(), t.partition_indexes.clone()))
                        .collect()
                }),
            })
            .collect()
    } else {
        vec![OffsetFetchGroup {
            group_id: body.group_id.0.as_str().to_string(),
            member: None,
            topics: body.topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| (t.name.0.as_str().to_string(), t.partition_indexes.clone()))
                    .collect()
            }),
        }]
    };
    let asked: Vec<String> = groups.iter().map(|g| g.group_id.clone()).collect();
    let fetch = OffsetFetch {
        groups,
        require_stable: version >= 7 && body.require_stable,
    };
    via_coordinator(
        broker,
        &req,
        GroupRequest::OffsetFetch(fetch),
        move |resp, corr, version| {
            let results = match resp {
                Some(GroupResponse::OffsetFetch { groups }) => groups,
                _ => asked
                    .into_iter()
                    .map(|group_id| OffsetFetchGroupResult {
                        group_id,
                        error: COORDINATOR_NOT_AVAILABLE,
                        offsets: vec![],
                    })
                    .collect(),
            };
            let mut out = OffsetFetchResponse::default().with_throttle_time_ms(0);
            if version >= 8 {
                out.groups = results.iter().map(multi).collect();
            } else if let Some(g) = results.first() {
                out.topics = legacy(version, g);
                if version >= 2 {
                    out.error_code = g.error;
                }
            }
            encode_response(corr, version.max(1), &out)
        },
    )
}
