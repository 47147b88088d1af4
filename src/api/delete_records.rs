//! DeleteRecords (key 21), v0–2: advance a partition's log start offset to the given offset
//! (-1: the high watermark) and answer the low watermark, the log start offset afterwards.
//! Kafka's errors: unknown partition UNKNOWN_TOPIC_OR_PARTITION, an offset beyond the high
//! watermark (or negative) OFFSET_OUT_OF_RANGE, an internal topic INVALID_TOPIC_EXCEPTION,
//! a topic without the delete cleanup policy POLICY_VIOLATION; failures answer -1.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{ApiKey, DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::{ApiEntry, Request};
use crate::cluster::admin::DeleteRecordsError;
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DeleteRecords,
    min: 0,
    max: 2,
};

/// Kafka's error code of a failed DeleteRecords partition.
pub fn error_code(e: &DeleteRecordsError) -> i16 {
    match e {
        DeleteRecordsError::UnknownTopicOrPartition => {
            ResponseError::UnknownTopicOrPartition.code()
        }
        DeleteRecordsError::NotLeader(code) => *code,
        DeleteRecordsError::InternalTopic(_) => ResponseError::InvalidTopicException.code(),
        DeleteRecordsError::PolicyViolation(_) => ResponseError::PolicyViolation.code(),
        DeleteRecordsError::Log(e) => log_error_code(e),
    }
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: DeleteRecordsRequest = req.decode(ApiKey::DeleteRecords)?;
    // Kafka: DELETE on each topic.
    let az = super::authz::authz(broker, &req);
    let topics = body
        .topics
        .iter()
        .map(|t| {
            let denied = !az.topic(
                crate::security::acl::AclOperation::Delete,
                t.name.0.as_str(),
            );
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let (code, low) = if denied {
                        (super::authz::TOPIC_AUTHORIZATION_FAILED, -1)
                    } else {
                        match broker.delete_records(t.name.0.as_str(), p.partition_index, p.offset)
                        {
                            Ok(low) => (0, low),
                            Err(e) => (error_code(&e), -1),
                        }
                    };
                    DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_low_watermark(low)
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    let resp = DeleteRecordsResponse::default()
        .with_throttle_time_ms(0)
        .with_topics(topics);
    req.respond(&resp)
}
