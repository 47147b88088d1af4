//! DeleteGroups (key 42), v0–2: only empty groups (else NON_EMPTY_GROUP); their offsets go too.

use std::sync::Arc;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{ApiKey, DeleteGroupsRequest, DeleteGroupsResponse, GroupId};
use kafka_protocol::protocol::StrBytes;

use super::{ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{Request as GroupRequest, Response as GroupResponse};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DeleteGroups,
    min: 0,
    max: 2,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: DeleteGroupsRequest = req.decode(ApiKey::DeleteGroups)?;
    let groups: Vec<String> = body
        .groups_names
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    let az = super::authz::authz(broker, &req);
    let (groups, denied): (Vec<String>, Vec<String>) = groups
        .into_iter()
        .partition(|g| az.group(crate::security::acl::AclOperation::Delete, g));
    let asked = groups.clone();
    let correlation_id = req.header.correlation_id;
    let version = req.version;
    let pending = broker
        .groups
        .get()
        .map(|g| g.submit(GroupRequest::Delete { groups }));
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let resp = match pending {
            Some(fut) => fut.await,
            None => None,
        };
        // A deleted share group's share-partition state goes too (Kafka's
        // DeleteShareGroupState); other groups have none.
        if let (Some(GroupResponse::Delete { results }), Some(mgr)) = (&resp, broker.shares.get()) {
            if broker
                .topic(crate::server::share_runtime::STATE_TOPIC)
                .is_some()
            {
                for (g, code) in results {
                    if *code == 0 {
                        if let Err(e) = mgr.delete_state(g, None).await {
                            tracing::warn!("share state of deleted group {g} not removed: {e}");
                        }
                    }
                }
            }
        }
        let (corr, version) = (correlation_id, version);
        {
            let mut results = match resp {
                Some(GroupResponse::Delete { results }) => results,
                _ => asked
                    .into_iter()
                    .map(|g| (g, COORDINATOR_NOT_AVAILABLE))
                    .collect(),
            };
            results.extend(
                denied
                    .into_iter()
                    .map(|g| (g, super::authz::GROUP_AUTHORIZATION_FAILED)),
            );
            let out = DeleteGroupsResponse::default()
                .with_throttle_time_ms(0)
                .with_results(
                    results
                        .into_iter()
                        .map(|(g, code)| {
                            DeletableGroupResult::default()
                                .with_group_id(GroupId(StrBytes::from_string(g)))
                                .with_error_code(code)
                        })
                        .collect(),
                );
            encode_response(corr, version, &out)
        }
    })))
}
