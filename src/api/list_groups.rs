//! ListGroups (key 16), v0–5: with a state filter (v4+) and a type filter (v5+).

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{ApiKey, GroupId, ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use super::{via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{Request as GroupRequest, Response as GroupResponse};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ListGroups,
    min: 0,
    max: 5,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: ListGroupsRequest = req.decode(ApiKey::ListGroups)?;
    let states = if version >= 4 {
        body.states_filter
            .iter()
            .map(|s| s.as_str().to_string())
            .collect()
    } else {
        vec![]
    };
    let types = if version >= 5 {
        body.types_filter
            .iter()
            .map(|s| s.as_str().to_string())
            .collect()
    } else {
        vec![]
    };
    let az = super::authz::authz(broker, &req);
    let see_all = az.cluster(crate::security::acl::AclOperation::Describe);
    via_coordinator(
        broker,
        &req,
        GroupRequest::List { states, types },
        move |resp, corr, version| {
            let mut out = ListGroupsResponse::default().with_throttle_time_ms(0);
            match resp {
                Some(GroupResponse::List { error, groups }) => {
                    out.error_code = error;
                    out.groups = groups
                        .into_iter()
                        .filter(|g| {
                            see_all
                                || az.group(
                                    crate::security::acl::AclOperation::Describe,
                                    &g.group_id,
                                )
                        })
                        .map(|g| {
                            let mut l = ListedGroup::default()
                                .with_group_id(GroupId(StrBytes::from_string(g.group_id)))
                                .with_protocol_type(StrBytes::from_string(g.protocol_type));
                            if version >= 4 {
                                l.group_state = StrBytes::from_string(g.state);
                            }
                            if version >= 5 {
                                l.group_type = StrBytes::from_string(g.group_type);
                            }
                            l
                        })
                        .collect();
                }
                _ => out.error_code = COORDINATOR_NOT_AVAILABLE,
            }
            encode_response(corr, version, &out)
        },
    )
}
