//! InitializeShareGroupState (key 83), v0: a share-partition starts at a start offset with
//! nothing in flight, under a new state epoch (a share-partition's first use, and
//! AlterShareGroupOffsets); answered once committed to `__share_group_state`. A holder of the
//! state from before is fenced on its next write. Broker to broker: CLUSTER_ACTION.

use std::sync::Arc;

use kafka_protocol::messages::initialize_share_group_state_response::{
    InitializeStateResult, PartitionResult,
};
use kafka_protocol::messages::{
    ApiKey, InitializeShareGroupStateRequest, InitializeShareGroupStateResponse,
};

use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::security::acl::AclOperation;
use crate::server::share_state::{by_topic, COORDINATOR_NOT_AVAILABLE};
use crate::share::records::StateKey;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::InitializeShareGroupState,
    min: 0,
    max: 0,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: InitializeShareGroupStateRequest = req.decode(ApiKey::InitializeShareGroupState)?;
    let denied = super::authz::authz(broker, &req).cluster_error(AclOperation::ClusterAction);
    let group = body.group_id.as_str().to_string();
    let mut codes: Vec<(StateKey, i16)> = Vec::new();
    let mut items: Vec<(StateKey, (i32, i64))> = Vec::new();
    for t in &body.topics {
        for p in &t.partitions {
            let key = StateKey {
                group: group.clone(),
                topic_id: t.topic_id,
                partition: p.partition,
            };
            match denied {
                Some(code) => codes.push((key, code)),
                None => items.push((key, (p.state_epoch, p.start_offset))),
            }
        }
    }
    let mgr = broker.shares.get().cloned();
    Ok(Reply::Later(Box::pin(async move {
        match mgr {
            Some(m) => codes.extend(m.state.coord_initialize(items).await),
            None => codes.extend(
                items
                    .into_iter()
                    .map(|(k, _)| (k, COORDINATOR_NOT_AVAILABLE)),
            ),
        }
        let results: Vec<InitializeStateResult> = by_topic(codes)
            .into_iter()
            .map(|(id, ps)| {
                InitializeStateResult::default()
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
        let out = InitializeShareGroupStateResponse::default().with_results(results);
        req.respond(&out)
    })))
}
