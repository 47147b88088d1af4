//! OffsetFetch (key 9), v0–10: one group (v0–7, topics or all of them from v2) or several
//! groups (v8+); require_stable (v7+).
//!
//! v10 (Kafka 4.1+, KIP-848) names topics by id both ways; the crate encodes the response but
//! not the request, which is decoded by hand (protocol/legacy). As Kafka's KafkaApis does,
//! the requested ids are resolved against the metadata image: an unknown id (or the zero id)
//! answers each of its partitions UNKNOWN_TOPIC_ID (offset -1, no metadata); the others are
//! fetched by name. A fetch of all the group's topics answers each committed topic by its
//! current id, leaving out the topics the image no longer holds (deleted: a v10 response
//! has no way to name them).

use std::sync::Arc;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

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
    max: 10,
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

/// v10: how the response names each topic of one group.
#[derive(Default)]
struct TopicIds {
    /// The ids the request resolved, by name.
    requested: Vec<(String, Uuid)>,
    /// The requested ids the metadata image does not hold, with their partitions.
    unknown: Vec<(Uuid, Vec<i32>)>,
}

impl TopicIds {
    /// The id of `topic`: the one requested, else (a fetch of all topics) the image's.
    fn id_of(&self, broker: &Broker, topic: &str) -> Option<Uuid> {
        self.requested
            .iter()
            .find(|(n, _)| n == topic)
            .map(|(_, id)| *id)
            .or_else(|| broker.topic(topic).map(|t| t.id))
    }
}

/// The v10 answer of one group: topics by id, unknown ids first (as Kafka adds them while
/// reading the request).
fn multi_v10(
    broker: &Broker,
    g: &OffsetFetchGroupResult,
    ids: &TopicIds,
) -> OffsetFetchResponseGroup {
    let mut out = multi(g);
    if g.error != 0 {
        // A group-level error (stale member epoch, …) answers the group alone.
        return out;
    }
    let mut topics: Vec<OffsetFetchResponseTopics> = ids
        .unknown
        .iter()
        .map(|(id, parts)| {
            OffsetFetchResponseTopics::default()
                .with_topic_id(*id)
                .with_partitions(
                    parts
                        .iter()
                        .map(|&p| {
                            OffsetFetchResponsePartitions::default()
                                .with_partition_index(p)
                                .with_committed_offset(-1)
                                .with_committed_leader_epoch(-1)
                                .with_metadata(Some(StrBytes::from_static_str("")))
                                .with_error_code(super::offset_commit::UNKNOWN_TOPIC_ID)
                        })
                        .collect(),
                )
        })
        .collect();
    for mut t in std::mem::take(&mut out.topics) {
        if let Some(id) = ids.id_of(broker, t.name.0.as_str()) {
            t.topic_id = id;
            topics.push(t);
        }
    }
    out.topics = topics;
    out
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
    let mut body: OffsetFetchRequest = if version >= 10 {
        crate::protocol::legacy::requests::offset_fetch_v10(&req.body).map_err(|e| {
            FrameError::Malformed {
                api: ApiKey::OffsetFetch,
                version,
                reason: e.to_string(),
            }
        })?
    } else {
        crate::protocol::decode_body(ApiKey::OffsetFetch, version.max(1), &mut req.body)?
    };
    // v10: resolve each group's topic ids (names filled in, unknown ids taken out).
    let topic_ids: Vec<TopicIds> = if version >= 10 {
        body.groups
            .iter_mut()
            .map(|g| {
                let mut ids = TopicIds::default();
                if let Some(ts) = g.topics.as_mut() {
                    ts.retain_mut(|t| match broker.topic_by_id(&t.topic_id) {
                        Some(topic) => {
                            t.name = name(&topic.name);
                            ids.requested.push((topic.name.clone(), t.topic_id));
                            true
                        }
                        None => {
                            ids.unknown
                                .push((t.topic_id, std::mem::take(&mut t.partition_indexes)));
                            false
                        }
                    });
                }
                ids
            })
            .collect()
    } else {
        Vec::new()
    };
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
    let explicit: Vec<bool> = groups.iter().map(|g| g.topics.is_some()).collect();
    let az = super::authz::authz(broker, &req);
    let fetch = OffsetFetch {
        groups,
        require_stable: version >= 7 && body.require_stable,
    };
    let b = Arc::clone(broker);
    via_coordinator(
        broker,
        &req,
        GroupRequest::OffsetFetch(fetch),
        move |resp, corr, version| {
            let mut results = match resp {
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
            // Kafka: DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED); topics the
            // principal may not DESCRIBE are TOPIC_AUTHORIZATION_FAILED when named, left out
            // of an all-topics fetch.
            for (i, g) in results.iter_mut().enumerate() {
                use crate::security::acl::AclOperation;
                if !az.group(AclOperation::Describe, &g.group_id) {
                    g.error = super::authz::GROUP_AUTHORIZATION_FAILED;
                    g.offsets.clear();
                    continue;
                }
                if explicit.get(i).copied().unwrap_or(false) {
                    for o in g.offsets.iter_mut() {
                        if !az.topic(AclOperation::Describe, &o.topic) {
                            o.error = super::authz::TOPIC_AUTHORIZATION_FAILED;
                            o.offset = -1;
                            o.leader_epoch = -1;
                            o.metadata = None;
                        }
                    }
                } else {
                    g.offsets
                        .retain(|o| az.topic(AclOperation::Describe, &o.topic));
                }
            }
            let mut out = OffsetFetchResponse::default().with_throttle_time_ms(0);
            if version >= 10 {
                let none = TopicIds::default();
                out.groups = results
                    .iter()
                    .enumerate()
                    .map(|(i, g)| multi_v10(&b, g, topic_ids.get(i).unwrap_or(&none)))
                    .collect();
            } else if version >= 8 {
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
