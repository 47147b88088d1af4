//! ReadShareGroupState (key 84), v0: a share-partition leader reads the state of its
//! share-partitions from their share coordinator (this broker, when it leads their
//! `__share_group_state` partitions). Broker to broker: CLUSTER_ACTION on the cluster.
//! State never initialized answers state epoch -1 and start offset -1, as Kafka's.
//! skua's snapshot epoch, creation time and pending dead-letter copies come in tagged field
//! `SKUA_STATE_TAG` (see `server::share_state`).

use std::sync::Arc;

use kafka_protocol::messages::read_share_group_state_response::{
    PartitionResult, ReadStateResult, StateBatch,
};
use kafka_protocol::messages::{ApiKey, ReadShareGroupStateRequest, ReadShareGroupStateResponse};

use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::security::acl::AclOperation;
use crate::server::share_state::COORDINATOR_NOT_AVAILABLE;
use crate::share::records::{StateExtension, StateKey, SKUA_STATE_TAG};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ReadShareGroupState,
    min: 0,
    max: 0,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: ReadShareGroupStateRequest = req.decode(ApiKey::ReadShareGroupState)?;
    let denied = super::authz::authz(broker, &req).cluster_error(AclOperation::ClusterAction);
    let group = body.group_id.as_str().to_string();
    let mgr = broker.shares.get().cloned();
    let results = body
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let out = PartitionResult::default()
                        .with_partition(p.partition)
                        .with_state_epoch(-1)
                        .with_start_offset(-1);
                    let key = StateKey {
                        group: group.clone(),
                        topic_id: t.topic_id,
                        partition: p.partition,
                    };
                    let read = match (denied, &mgr) {
                        (Some(code), _) => Err(code),
                        (None, None) => Err(COORDINATOR_NOT_AVAILABLE),
                        (None, Some(m)) => m.state.coord_read(&key, p.leader_epoch),
                    };
                    match read {
                        Err(code) => out.with_error_code(code),
                        Ok(None) => out,
                        Ok(Some(v)) => {
                            let mut out = out
                                .with_state_epoch(v.state_epoch)
                                .with_start_offset(v.snapshot.start_offset)
                                .with_state_batches(
                                    v.snapshot
                                        .batches
                                        .iter()
                                        .map(|b| {
                                            StateBatch::default()
                                                .with_first_offset(b.first_offset)
                                                .with_last_offset(b.last_offset)
                                                .with_delivery_state(b.state.id())
                                                .with_delivery_count(
                                                    i16::try_from(b.delivery_count)
                                                        .unwrap_or(i16::MAX),
                                                )
                                        })
                                        .collect(),
                                );
                            let ext = StateExtension {
                                snapshot_epoch: v.snapshot_epoch,
                                create_timestamp: v.create_timestamp,
                                dlq_pending: v.dlq_pending,
                            };
                            out.unknown_tagged_fields
                                .insert(SKUA_STATE_TAG, ext.encode());
                            out
                        }
                    }
                })
                .collect();
            ReadStateResult::default()
                .with_topic_id(t.topic_id)
                .with_partitions(partitions)
        })
        .collect();
    let out = ReadShareGroupStateResponse::default().with_results(results);
    req.respond(&out).map(Reply::Now)
}
