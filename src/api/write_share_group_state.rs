//! WriteShareGroupState (key 85), v0: a share-partition leader writes a snapshot of its
//! share-partitions to their share coordinator (this broker), answered once committed to
//! `__share_group_state`. Fencing as Kafka's: FENCED_STATE_EPOCH, FENCED_LEADER_EPOCH (see
//! `share::coordinator`). Broker to broker: CLUSTER_ACTION on the cluster. skua's snapshot
//! epoch, creation time and pending dead-letter copies come in tagged field `SKUA_STATE_TAG`.

use std::sync::Arc;

use kafka_protocol::messages::write_share_group_state_response::{
    PartitionResult, WriteStateResult,
};
use kafka_protocol::messages::{ApiKey, WriteShareGroupStateRequest, WriteShareGroupStateResponse};

use super::{now_ms, ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::security::acl::AclOperation;
use crate::server::share_state::{by_topic, COORDINATOR_NOT_AVAILABLE};
use crate::share::coordinator::StateWrite;
use crate::share::partition::Snapshot;
use crate::share::records::{batches_from_wire, StateExtension, StateKey, SKUA_STATE_TAG};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::WriteShareGroupState,
    min: 0,
    max: 0,
};

const INVALID_REQUEST: i16 = 42;

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: WriteShareGroupStateRequest = req.decode(ApiKey::WriteShareGroupState)?;
    let denied = super::authz::authz(broker, &req).cluster_error(AclOperation::ClusterAction);
    let group = body.group_id.as_str().to_string();
    let mut codes: Vec<(StateKey, i16)> = Vec::new();
    let mut writes: Vec<(StateKey, StateWrite)> = Vec::new();
    for t in &body.topics {
        for p in &t.partitions {
            let key = StateKey {
                group: group.clone(),
                topic_id: t.topic_id,
                partition: p.partition,
            };
            if let Some(code) = denied {
                codes.push((key, code));
                continue;
            }
            let batches = batches_from_wire(p.state_batches.iter().map(|b| {
                (
                    b.first_offset,
                    b.last_offset,
                    b.delivery_state,
                    b.delivery_count,
                )
            }));
            let ext = match p.unknown_tagged_fields.get(&SKUA_STATE_TAG) {
                None => Some(None),
                Some(b) => StateExtension::decode(b).ok().map(Some),
            };
            let (Some(batches), Some(ext)) = (batches, ext) else {
                codes.push((key, INVALID_REQUEST));
                continue;
            };
            writes.push((
                key,
                StateWrite {
                    state_epoch: p.state_epoch,
                    leader_epoch: p.leader_epoch,
                    snapshot_epoch: ext.as_ref().map(|e| e.snapshot_epoch),
                    create_timestamp: ext.as_ref().map_or_else(now_ms, |e| e.create_timestamp),
                    snapshot: Snapshot {
                        start_offset: p.start_offset,
                        batches,
                    },
                    dlq_pending: ext.map(|e| e.dlq_pending).unwrap_or_default(),
                },
            ));
        }
    }
    let mgr = broker.shares.get().cloned();
    Ok(Reply::Later(Box::pin(async move {
        match mgr {
            Some(m) => codes.extend(m.state.coord_write(writes).await),
            None => codes.extend(
                writes
                    .into_iter()
                    .map(|(k, _)| (k, COORDINATOR_NOT_AVAILABLE)),
            ),
        }
        let results: Vec<WriteStateResult> = by_topic(codes)
            .into_iter()
            .map(|(id, ps)| {
                WriteStateResult::default()
                    .with_topic_id(id)
                    .with_partitions(
                        ps.into_iter()
                            .map(|(p, code)| {
                                PartitionResult::default()
                                    .with_partition(p)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect();
        let out = WriteShareGroupStateResponse::default().with_results(results);
        req.respond(&out)
    })))
}
