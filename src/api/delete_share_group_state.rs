//! DeleteShareGroupState (key 86), v0: forget share-partitions' state (DeleteGroups,
//! DeleteShareGroupOffsets), with tombstones in `__share_group_state`, answered once
//! committed. Broker to broker: CLUSTER_ACTION. skua-to-skua: no topics means every
//! share-partition of the group this coordinator holds, a topic with no partitions every
//! partition of it (a group coordinator does not list a group's share-partitions).

use std::sync::Arc;

use kafka_protocol::messages::delete_share_group_state_response::{
    DeleteStateResult, PartitionResult,
};
use kafka_protocol::messages::{
    ApiKey, DeleteShareGroupStateRequest, DeleteShareGroupStateResponse,
};

use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::security::acl::AclOperation;
use crate::server::share_state::{by_topic, requested_keys, COORDINATOR_NOT_AVAILABLE};
use crate::share::records::StateKey;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DeleteShareGroupState,
    min: 0,
    max: 0,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: DeleteShareGroupStateRequest = req.decode(ApiKey::DeleteShareGroupState)?;
    let denied = super::authz::authz(broker, &req).cluster_error(AclOperation::ClusterAction);
    let group = body.group_id.as_str().to_string();
    let parts: Vec<(uuid::Uuid, Vec<i32>)> = body
        .topics
        .iter()
        .map(|t| {
            (
                t.topic_id,
                t.partitions.iter().map(|p| p.partition).collect(),
            )
        })
        .collect();
    let (keys, whole) = requested_keys(&group, parts.iter().map(|(id, p)| (*id, p.as_slice())));
    let mgr = broker.shares.get().cloned();
    Ok(Reply::Later(Box::pin(async move {
        let codes: Vec<(StateKey, i16)> = match (denied, mgr) {
            (Some(_), _) | (None, None) => {
                let code = denied.unwrap_or(COORDINATOR_NOT_AVAILABLE);
                keys.unwrap_or_default()
                    .into_iter()
                    .map(|k| (k, code))
                    .collect()
            }
            (None, Some(m)) => match keys {
                None => m.state.coord_delete(&group, None, None).await,
                Some(keys) => {
                    let mut codes = m.state.coord_delete(&group, Some(keys), None).await;
                    for id in whole {
                        codes.extend(m.state.coord_delete(&group, None, Some(id)).await);
                    }
                    codes
                }
            },
        };
        let results: Vec<DeleteStateResult> = by_topic(codes)
            .into_iter()
            .map(|(id, ps)| {
                DeleteStateResult::default()
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
        let out = DeleteShareGroupStateResponse::default().with_results(results);
        req.respond(&out)
    })))
}
