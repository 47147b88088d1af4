//! AlterShareGroupOffsets (key 91), v0 (KIP-932): set the start offset of share-partitions of
//! an empty share group (NON_EMPTY_GROUP while it has members); their in-flight state is
//! dropped and delivery starts over there. Written to `__share_group_state` before the answer.

use std::sync::Arc;

use kafka_protocol::messages::alter_share_group_offsets_response::{
    AlterShareGroupOffsetsResponsePartition, AlterShareGroupOffsetsResponseTopic,
};
use kafka_protocol::messages::{
    AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse, ApiKey,
};

use super::share_group_describe::empty_share_group;
use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::security::acl::AclOperation;
use crate::share::records::StateKey;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::AlterShareGroupOffsets,
    min: 0,
    max: 0,
};

const OFFSET_OUT_OF_RANGE: i16 = 1;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: AlterShareGroupOffsetsRequest = req.decode(ApiKey::AlterShareGroupOffsets)?;
    let az = super::authz::authz(broker, &req);
    let correlation_id = req.header.correlation_id;
    let version = req.version;
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let group = body.group_id.0.as_str().to_string();
        let fail = |code: i16| {
            let out = AlterShareGroupOffsetsResponse::default().with_error_code(code);
            encode_response(correlation_id, version, &out)
        };
        // Kafka: READ on the group, READ on each topic.
        if let Some(code) = az.group_error(AclOperation::Read, &group) {
            return fail(code);
        }
        let mgr = match empty_share_group(&broker, &group).await {
            Ok(mgr) => mgr,
            Err(code) => return fail(code),
        };
        let mut responses = Vec::new();
        for t in body.topics {
            let name = t.topic_name.0.as_str().to_string();
            let topic = broker.topic(&name);
            let mut out = AlterShareGroupOffsetsResponseTopic::default()
                .with_topic_name(t.topic_name.clone());
            if let Some(tp) = &topic {
                out.topic_id = tp.id;
            }
            for p in t.partitions {
                let code = match &topic {
                    _ if !az.topic(AclOperation::Read, &name) => TOPIC_AUTHORIZATION_FAILED,
                    None => UNKNOWN_TOPIC_OR_PARTITION,
                    Some(tp) if tp.slot(p.partition_index).is_none() => UNKNOWN_TOPIC_OR_PARTITION,
                    Some(tp) => {
                        // The range is checked where the partition is led here; elsewhere its
                        // leader serves the new start (a start past the log's end waits for
                        // records, one before its start moves up to it).
                        let in_range = tp.leader(p.partition_index, -1).map_or(true, |partition| {
                            let log = partition.log();
                            (log.log_start_offset()..=log.log_end_offset())
                                .contains(&p.start_offset)
                        });
                        if !in_range {
                            OFFSET_OUT_OF_RANGE
                        } else {
                            let key = StateKey {
                                group: group.clone(),
                                topic_id: tp.id,
                                partition: p.partition_index,
                            };
                            match mgr.reset_start(&key, p.start_offset).await {
                                Ok(()) => 0,
                                Err(code) => code,
                            }
                        }
                    }
                };
                out.partitions.push(
                    AlterShareGroupOffsetsResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code),
                );
            }
            responses.push(out);
        }
        let out = AlterShareGroupOffsetsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses);
        encode_response(correlation_id, version, &out)
    })))
}
