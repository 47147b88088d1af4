//! OffsetCommit (key 8), v0–10: committed offsets of a group, checked against its generation.
//! v0–1 (removed by KIP-896; v0 stored offsets in ZooKeeper in old Kafka, Kafka 2.x/3.x
//! kept them with the others) are decoded by hand (protocol/legacy) and committed like v2
//! with no retention override; v1's per-partition commit timestamp is ignored, as Kafka 2.1+
//! did. Their response has v2's layout.
//!
//! v10 (Kafka 4.1+, KIP-848) names each topic by its id; the crate does not decode it, so
//! it is decoded by hand (protocol/legacy) and the ids are resolved against the metadata
//! image as Kafka's KafkaApis does: an unknown id (or the zero id) fails all its partitions
//! with UNKNOWN_TOPIC_ID; the others are committed by name like v9, and the response (the
//! crate encodes it) names each topic by its id again.
//!
//! As in Kafka 4, a partition of a topic the metadata image does not hold, or at an index the
//! topic does not have, is UNKNOWN_TOPIC_OR_PARTITION before the group coordinator sees the
//! request; when no partition is left the coordinator is not asked at all.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{ApiKey, OffsetCommitRequest, OffsetCommitResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{opt_str, via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{
    CommitPartition, OffsetCommit, Request as GroupRequest, Response as GroupResponse,
};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::OffsetCommit,
    min: 0,
    max: 10,
};

/// UNKNOWN_TOPIC_OR_PARTITION
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// UNKNOWN_TOPIC_ID
pub(super) const UNKNOWN_TOPIC_ID: i16 = 100;

/// Split commits into those whose partition exists in the metadata image (the one Metadata
/// answers from) and the UNKNOWN_TOPIC_OR_PARTITION results of the others. Shared with
/// TxnOffsetCommit, which Kafka checks the same way.
pub(super) fn known_partitions(
    broker: &Broker,
    parts: Vec<CommitPartition>,
) -> (Vec<CommitPartition>, Vec<(String, i32, i16)>) {
    let mut known = Vec::with_capacity(parts.len());
    let mut unknown = Vec::new();
    let mut last: Option<(String, Option<Arc<crate::cluster::Topic>>)> = None;
    for p in parts {
        let topic = match &last {
            Some((name, t)) if *name == p.topic => t.clone(),
            _ => {
                let t = broker.topic(&p.topic);
                last = Some((p.topic.clone(), t.clone()));
                t
            }
        };
        if topic.is_some_and(|t| t.slot(p.partition).is_some()) {
            known.push(p);
        } else {
            unknown.push((p.topic, p.partition, UNKNOWN_TOPIC_OR_PARTITION));
        }
    }
    (known, unknown)
}

/// Group results by topic in first-seen order.
fn by_topic(parts: Vec<(String, i32, i16)>) -> Vec<OffsetCommitResponseTopic> {
    let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
    for (t, p, code) in parts {
        let part = OffsetCommitResponsePartition::default()
            .with_partition_index(p)
            .with_error_code(code);
        match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(
                OffsetCommitResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_string(t)))
                    .with_partitions(vec![part]),
            ),
        }
    }
    topics
}

/// v10: the topics whose id the metadata image does not hold, answered UNKNOWN_TOPIC_ID
/// (taken out of `body`), and the ids of the others by name (their names filled in).
fn resolve_topic_ids(
    broker: &Broker,
    body: &mut OffsetCommitRequest,
) -> (Vec<OffsetCommitResponseTopic>, Vec<(String, Uuid)>) {
    let mut unknown = Vec::new();
    let mut ids = Vec::new();
    body.topics
        .retain_mut(|t| match broker.topic_by_id(&t.topic_id) {
            Some(topic) => {
                t.name = TopicName(StrBytes::from_string(topic.name.clone()));
                ids.push((topic.name.clone(), t.topic_id));
                true
            }
            None => {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(UNKNOWN_TOPIC_ID)
                    })
                    .collect();
                unknown.push(
                    OffsetCommitResponseTopic::default()
                        .with_topic_id(t.topic_id)
                        .with_partitions(partitions),
                );
                false
            }
        });
    (unknown, ids)
}

/// The response topics: v10's unknown ids first (as Kafka adds them while reading the
/// request), then the others by name, with their ids at v10.
fn response_topics(
    unknown_ids: Vec<OffsetCommitResponseTopic>,
    ids: &[(String, Uuid)],
    parts: Vec<(String, i32, i16)>,
) -> Vec<OffsetCommitResponseTopic> {
    let mut topics = unknown_ids;
    for mut t in by_topic(parts) {
        if let Some((_, id)) = ids.iter().find(|(n, _)| n == t.name.0.as_str()) {
            t.topic_id = *id;
        }
        topics.push(t);
    }
    topics
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let malformed = |e: crate::protocol::legacy::LegacyError| FrameError::Malformed {
        api: ApiKey::OffsetCommit,
        version,
        reason: e.to_string(),
    };
    let mut body: OffsetCommitRequest = if version < 2 {
        crate::protocol::legacy::requests::offset_commit(&req.body, version).map_err(malformed)?
    } else if version >= 10 {
        crate::protocol::legacy::requests::offset_commit_v10(&req.body).map_err(malformed)?
    } else {
        req.decode(ApiKey::OffsetCommit)?
    };
    let (unknown_ids, ids) = if version >= 10 {
        resolve_topic_ids(broker, &mut body)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut partitions = Vec::new();
    for t in &body.topics {
        for p in &t.partitions {
            partitions.push(CommitPartition {
                topic: t.name.0.as_str().to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: opt_str(&p.committed_metadata),
            });
        }
    }
    // Kafka: READ on the group (else every partition is GROUP_AUTHORIZATION_FAILED), then
    // READ on each topic (TOPIC_AUTHORIZATION_FAILED).
    let (partitions, refused) =
        super::authz::authz(broker, &req).commit_partitions(body.group_id.0.as_str(), partitions);
    let (partitions, mut unknown) = known_partitions(broker, partitions);
    unknown.extend(refused);
    if partitions.is_empty() {
        let out = OffsetCommitResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(response_topics(unknown_ids, &ids, unknown));
        return encode_response(req.header.correlation_id, version.max(2), &out).map(Reply::Now);
    }
    let requested: Vec<(String, i32)> = partitions
        .iter()
        .map(|p| (p.topic.clone(), p.partition))
        .collect();
    let commit = OffsetCommit {
        group_id: body.group_id.0.as_str().to_string(),
        generation_id: body.generation_id_or_member_epoch,
        member_id: body.member_id.as_str().to_string(),
        group_instance_id: opt_str(&body.group_instance_id),
        retention_time_ms: if (2..=4).contains(&version) {
            body.retention_time_ms
        } else {
            -1
        },
        partitions,
        version,
    };
    via_coordinator(
        broker,
        &req,
        GroupRequest::OffsetCommit(commit),
        move |resp, corr, version| {
            let mut parts = unknown;
            match resp {
                Some(GroupResponse::OffsetCommit { partitions }) => parts.extend(partitions),
                _ => parts.extend(
                    requested
                        .into_iter()
                        .map(|(t, p)| (t, p, COORDINATOR_NOT_AVAILABLE)),
                ),
            };
            let out = OffsetCommitResponse::default()
                .with_throttle_time_ms(0)
                .with_topics(response_topics(unknown_ids, &ids, parts));
            // v0–1 responses are v2's layout (v2 added no response field).
            encode_response(corr, version.max(2), &out)
        },
    )
}
