//! OffsetForLeaderEpoch (key 23), v0–4: for each partition, the end offset of the requested
//! leader epoch from the partition's leader-epoch cache (`log/leader_epoch.rs`): the log end
//! offset for the current epoch, the start offset of the next higher epoch for an older one
//! (with the largest known epoch at or below the requested one), and -1/-1 (no error) for
//! an unknown newer epoch. `current_leader_epoch` is checked as Fetch checks it: older is
//! FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH, -1 skips the check. Consumers use this
//! after a leader change to detect truncation.
//!
//! v0–1 (removed by KIP-896; the replica fetchers of Kafka 0.11–2.0 sent them) have no
//! current leader epoch (no fencing check, as Kafka 3.x served them) and are decoded and
//! answered by hand (protocol/legacy): v0's answer has no leader epoch, v1's has it, neither
//! has a throttle time.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{ApiKey, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request};
use crate::cluster::{Broker, Partition};
use crate::log::{UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::OffsetForLeaderEpoch,
    min: 0,
    max: 4,
};

fn answer(partition: i32, code: i16, epoch: i32, end_offset: i64) -> EpochEndOffset {
    EpochEndOffset::default()
        .with_partition(partition)
        .with_error_code(code)
        .with_leader_epoch(epoch)
        .with_end_offset(end_offset)
}

/// The answer for one partition hosted here.
pub fn end_offset(p: &Partition, current_leader_epoch: i32, leader_epoch: i32) -> EpochEndOffset {
    let error = |code| answer(p.index, code, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
    if let Err(e) = p.check_leader(current_leader_epoch) {
        return error(e.code());
    }
    let log = p.log();
    if log.is_offline() {
        return error(ResponseError::KafkaStorageError.code());
    }
    let (epoch, offset) = log.end_offset_for_epoch(leader_epoch);
    answer(p.index, 0, epoch, offset)
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let version = req.version;
    let body: OffsetForLeaderEpochRequest = if version < 2 {
        crate::protocol::legacy::requests::offset_for_leader_epoch(&req.body).map_err(|e| {
            FrameError::Malformed {
                api: ApiKey::OffsetForLeaderEpoch,
                version,
                reason: e.to_string(),
            }
        })?
    } else {
        req.decode(ApiKey::OffsetForLeaderEpoch)?
    };
    // Kafka: a replica (replica_id >= 0) needs CLUSTER_ACTION, a client DESCRIBE on the topic.
    let az = super::authz::authz(broker, &req);
    let follower_denied = version >= 3
        && body.replica_id.0 >= 0
        && !az.cluster(crate::security::acl::AclOperation::ClusterAction);
    let topics = body
        .topics
        .iter()
        .map(|t| {
            let denied = if follower_denied {
                Some(super::authz::CLUSTER_AUTHORIZATION_FAILED)
            } else {
                az.topic_error(
                    crate::security::acl::AclOperation::Describe,
                    t.topic.0.as_str(),
                )
            };
            let partitions = t
                .partitions
                .iter()
                .map(|rp| {
                    if let Some(code) = denied {
                        return answer(rp.partition, code, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
                    }
                    let topic = broker.topic(t.topic.0.as_str());
                    match topic.as_ref().map(|t| t.leader(rp.partition, -1)) {
                        Some(Ok(p)) => end_offset(p, rp.current_leader_epoch, rp.leader_epoch),
                        Some(Err(code)) => {
                            answer(rp.partition, code, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
                        }
                        None => answer(
                            rp.partition,
                            ResponseError::UnknownTopicOrPartition.code(),
                            UNDEFINED_EPOCH,
                            UNDEFINED_EPOCH_OFFSET,
                        ),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    let resp = OffsetForLeaderEpochResponse::default()
        .with_throttle_time_ms(0)
        .with_topics(topics);
    if version < 2 {
        return Ok(crate::protocol::legacy::responses::offset_for_leader_epoch(
            req.header.correlation_id,
            version,
            &resp,
        ));
    }
    req.respond(&resp)
}
