//! DescribeProducers (key 61), v0: the active idempotent/transactional producers of each
//! requested partition, from the partition's producer state (id, epoch, last sequence, last
//! timestamp, coordinator epoch, start offset of its open transaction or -1).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{
    ApiKey, DescribeProducersRequest, DescribeProducersResponse, ProducerId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::{ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeProducers,
    min: 0,
    max: 0,
};

fn partition_error(index: i32, code: i16, message: Option<String>) -> PartitionResponse {
    PartitionResponse::default()
        .with_partition_index(index)
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: DescribeProducersRequest = req.decode(ApiKey::DescribeProducers)?;
    let mut topics = Vec::with_capacity(body.topics.len());
    // Kafka: READ on each topic.
    let az = super::authz::authz(broker, &req);
    for t in &body.topics {
        let denied = !az.topic(crate::security::acl::AclOperation::Read, t.name.0.as_str());
        let topic = broker.topic(t.name.0.as_str());
        let partitions = t
            .partition_indexes
            .iter()
            .map(|&index| {
                let p = match &topic {
                    _ if denied => Err(super::authz::TOPIC_AUTHORIZATION_FAILED),
                    None => Err(ResponseError::UnknownTopicOrPartition.code()),
                    Some(tp) => tp.leader(index, -1).cloned(),
                };
                let p = match p {
                    Ok(p) => p,
                    Err(code) => return partition_error(index, code, None),
                };
                let log = p.log();
                if log.is_offline() {
                    return partition_error(
                        index,
                        log_error_code(&crate::log::LogError::Offline),
                        None,
                    );
                }
                let producers = log
                    .producers()
                    .into_iter()
                    .map(|s| {
                        ProducerState::default()
                            .with_producer_id(ProducerId(s.producer_id))
                            .with_producer_epoch(i32::from(s.producer_epoch))
                            .with_last_sequence(s.last_sequence)
                            .with_last_timestamp(s.last_timestamp)
                            .with_coordinator_epoch(s.coordinator_epoch)
                            .with_current_txn_start_offset(s.current_txn_start_offset)
                    })
                    .collect();
                partition_error(index, 0, None).with_active_producers(producers)
            })
            .collect();
        topics.push(
            TopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    req.respond(
        &DescribeProducersResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(topics),
    )
}
