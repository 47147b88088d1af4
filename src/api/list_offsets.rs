//! ListOffsets (key 2), v1–10: earliest (-2), latest (-1), max timestamp (-3, v7+),
//! earliest local (-4, v8+: the log start, there is no tiered storage), latest tiered
//! (-5, v9+: none, so -1), and by timestamp through the time index: the offset of the first
//! record (not batch) whose timestamp is at or after the requested one.
//! v0 (removed by KIP-896, still sent by Burrow and old sarama) asks for up to
//! `max_num_offsets` offsets and gets a list: latest → [high watermark], earliest → [log
//! start offset], a timestamp → [the offset found by timestamp, else the high watermark].
//! (Kafka 2.x answered timestamps from segment modification times and could list several
//! segment base offsets; one offset is what the clients that still send v0 ask for.)

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ApiKey, ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::{ApiEntry, Request};
use crate::cluster::{Broker, Partition};
use crate::protocol::legacy;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ListOffsets,
    min: 0,
    max: 10,
};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

fn answer(
    index: i32,
    code: i16,
    timestamp: i64,
    offset: i64,
    epoch: i32,
) -> ListOffsetsPartitionResponse {
    ListOffsetsPartitionResponse::default()
        .with_partition_index(index)
        .with_error_code(code)
        .with_timestamp(timestamp)
        .with_offset(offset)
        .with_leader_epoch(epoch)
}

/// `read_committed`: as Kafka, the last fetchable offset is the last stable offset instead of
/// the high watermark, and lookups never answer an offset at or beyond it.
fn lookup(
    p: &Partition,
    index: i32,
    timestamp: i64,
    read_committed: bool,
) -> ListOffsetsPartitionResponse {
    let epoch = p.leader_epoch();
    let log = p.log();
    let fetchable = if read_committed {
        log.last_stable_offset()
    } else {
        log.high_watermark()
    };
    let r = match timestamp {
        LATEST => return answer(index, 0, -1, fetchable, epoch),
        EARLIEST | EARLIEST_LOCAL => answer(index, 0, -1, log.log_start_offset(), epoch),
        LATEST_TIERED => answer(index, 0, -1, -1, -1),
        MAX_TIMESTAMP => match log.max_timestamp() {
            Some((ts, off)) => answer(index, 0, ts, off, epoch),
            None => answer(index, 0, -1, -1, -1),
        },
        ts if ts >= 0 => match log.offset_for_timestamp(ts) {
            Ok(Some((off, found_ts))) => answer(index, 0, found_ts, off, epoch),
            Ok(None) => answer(index, 0, -1, -1, -1),
            Err(e) => answer(index, log_error_code(&e), -1, -1, -1),
        },
        _ => answer(index, ResponseError::InvalidRequest.code(), -1, -1, -1),
    };
    if r.offset >= fetchable && timestamp != EARLIEST && timestamp != EARLIEST_LOCAL {
        return answer(index, r.error_code, -1, -1, -1);
    }
    r
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let version = req.version;
    let (body, max_nums): (ListOffsetsRequest, Vec<i32>) = if version == 0 {
        legacy::requests::list_offsets(&req.body).map_err(|e| FrameError::Malformed {
            api: ApiKey::ListOffsets,
            version,
            reason: e.to_string(),
        })?
    } else {
        (req.decode(ApiKey::ListOffsets)?, Vec::new())
    };
    let mut max_nums = max_nums.into_iter();
    let mut old_style: Vec<Vec<i64>> = Vec::new();
    let mut topics = Vec::with_capacity(body.topics.len());
    let az = super::authz::authz(broker, &req);
    for t in &body.topics {
        let denied = !az.topic(
            crate::security::acl::AclOperation::Describe,
            t.name.0.as_str(),
        );
        let topic = broker.topic(t.name.0.as_str());
        let partitions = t
            .partitions
            .iter()
            .map(|rp| {
                // Only the leader answers (Kafka: NOT_LEADER_OR_FOLLOWER elsewhere), after
                // the client's current leader epoch (v4+) is checked.
                let epoch = if version >= 4 {
                    rp.current_leader_epoch
                } else {
                    -1
                };
                let p = match &topic {
                    _ if denied => Err(super::authz::TOPIC_AUTHORIZATION_FAILED),
                    None => Err(ResponseError::UnknownTopicOrPartition.code()),
                    Some(t) => t.leader(rp.partition_index, epoch).cloned(),
                };
                // v0: one list per partition, filled below on success.
                let max = max_nums.next().unwrap_or(0);
                if version == 0 {
                    old_style.push(Vec::new());
                }
                let p = match p {
                    Ok(p) => p,
                    Err(code) => return answer(rp.partition_index, code, -1, -1, -1),
                };
                let mut r = lookup(
                    &p,
                    rp.partition_index,
                    rp.timestamp,
                    body.isolation_level == 1,
                );
                if version == 0 && r.error_code == 0 && max > 0 {
                    let offset = if r.offset >= 0 {
                        r.offset
                    } else {
                        lookup(&p, rp.partition_index, LATEST, false).offset
                    };
                    if let Some(list) = old_style.last_mut() {
                        list.push(offset);
                    }
                }
                if version < 4 {
                    r.leader_epoch = -1; // not in the v1–3 schema
                }
                r
            })
            .collect();
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    let resp = ListOffsetsResponse::default()
        .with_throttle_time_ms(0)
        .with_topics(topics);
    if version == 0 {
        let corr = req.header.correlation_id;
        return Ok(legacy::responses::list_offsets(corr, &resp, &old_style));
    }
    req.respond(&resp)
}
