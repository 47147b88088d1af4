//! DescribeShareGroupOffsets (key 90), v0 (KIP-932): the start offset of each share-partition
//! of share groups (-1: not initialised), as `kafka-share-groups.sh --describe` shows it.
//! Topics null: every share-partition of the group with state.
//!
//! skua extension: a partition whose share-partition this broker holds also carries tagged
//! field [`SKUA_STATS_TAG`] (clients skip tags they do not know): seven big-endian int64 —
//! available, acquired, acknowledged and archived in-flight records, records the record
//! filter archived, dead-letter copies written, dead-letter copies pending. `skua group
//! describe` shows them.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::describe_share_group_offsets_response::{
    DescribeShareGroupOffsetsResponseGroup, DescribeShareGroupOffsetsResponsePartition,
    DescribeShareGroupOffsetsResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::share_group_describe::share_group_members;
use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::security::acl::AclOperation;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeShareGroupOffsets,
    min: 0,
    max: 0,
};

/// The tag of skua's share-partition figures (far above Kafka's own tags).
pub const SKUA_STATS_TAG: i32 = 10_000;

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: DescribeShareGroupOffsetsRequest = req.decode(ApiKey::DescribeShareGroupOffsets)?;
    let az = super::authz::authz(broker, &req);
    let correlation_id = req.header.correlation_id;
    let version = req.version;
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let mut groups = Vec::new();
        for g in body.groups {
            let group = g.group_id.0.as_str().to_string();
            let mut out =
                DescribeShareGroupOffsetsResponseGroup::default().with_group_id(g.group_id.clone());
            // Kafka: DESCRIBE on the group, then DESCRIBE on each topic.
            if let Some(code) = az.group_error(AclOperation::Describe, &group) {
                groups.push(out.with_error_code(code));
                continue;
            }
            if let Err(code) = share_group_members(&broker, &group).await {
                groups.push(out.with_error_code(code));
                continue;
            }
            let starts = match broker.shares.get() {
                None => Err(COORDINATOR_NOT_AVAILABLE),
                Some(m) => m.start_offsets(&group).await,
            };
            let starts = match starts {
                Ok(s) => s,
                Err(code) => {
                    groups.push(out.with_error_code(code));
                    continue;
                }
            };
            let stats: std::collections::HashMap<(uuid::Uuid, i32), Bytes> = broker
                .shares
                .get()
                .map(|m| m.stats())
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s.key.group == group)
                .map(|s| {
                    let c = s.counts;
                    let mut b = BytesMut::with_capacity(56);
                    for v in [
                        c.0 as i64,
                        c.1 as i64,
                        c.2 as i64,
                        c.3 as i64,
                        s.filtered as i64,
                        s.dlq_written as i64,
                        s.dlq_pending as i64,
                    ] {
                        b.put_i64(v);
                    }
                    ((s.key.topic_id, s.key.partition), b.freeze())
                })
                .collect();
            let wanted: Vec<(String, Option<Vec<i32>>)> = match g.topics {
                Some(ts) => ts
                    .into_iter()
                    .map(|t| (t.topic_name.0.as_str().to_string(), Some(t.partitions)))
                    .collect(),
                None => {
                    let mut names: Vec<String> = starts
                        .keys()
                        .filter_map(|(id, _)| broker.topic_by_id(id).map(|t| t.name.clone()))
                        .collect();
                    names.dedup();
                    names.into_iter().map(|n| (n, None)).collect()
                }
            };
            for (name, parts) in wanted {
                let topic = broker.topic(&name);
                let mut t = DescribeShareGroupOffsetsResponseTopic::default()
                    .with_topic_name(TopicName(StrBytes::from_string(name.clone())));
                let allowed = az.topic(AclOperation::Describe, &name);
                if let Some(tp) = &topic {
                    t.topic_id = tp.id;
                }
                let indexes: Vec<i32> = match (parts, &topic) {
                    (Some(p), _) => p,
                    (None, Some(tp)) => {
                        let mut v: Vec<i32> = starts
                            .keys()
                            .filter(|(id, _)| *id == tp.id)
                            .map(|(_, p)| *p)
                            .collect();
                        v.sort_unstable();
                        v
                    }
                    (None, None) => Vec::new(),
                };
                for i in indexes {
                    let mut p = DescribeShareGroupOffsetsResponsePartition::default()
                        .with_partition_index(i)
                        .with_leader_epoch(-1);
                    match &topic {
                        _ if !allowed => p.error_code = TOPIC_AUTHORIZATION_FAILED,
                        Some(tp) if tp.slot(i).is_some() => {
                            p.start_offset = starts.get(&(tp.id, i)).copied().unwrap_or(-1);
                            if let Some(b) = stats.get(&(tp.id, i)) {
                                p.unknown_tagged_fields.insert(SKUA_STATS_TAG, b.clone());
                            }
                            if let Some(s) = tp.slot(i) {
                                p.leader_epoch = s.meta.leader_epoch;
                            }
                        }
                        _ => {
                            p.error_code = UNKNOWN_TOPIC_OR_PARTITION;
                            p.start_offset = -1;
                        }
                    }
                    t.partitions.push(p);
                }
                out.topics.push(t);
            }
            groups.push(out);
        }
        let resp = DescribeShareGroupOffsetsResponse::default()
            .with_throttle_time_ms(0)
            .with_groups(groups);
        encode_response(correlation_id, version, &resp)
    })))
}
