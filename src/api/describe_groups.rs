//! DescribeGroups (key 15), v0–6. A consumer or share group is not a classic group: from v6
//! (KIP-1043) it is answered GROUP_ID_NOT_FOUND with Kafka's message, before v6 as Dead
//! without an error, as Kafka does (GroupMetadataManager.describeGroups).

use std::sync::Arc;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, GroupId};
use kafka_protocol::protocol::StrBytes;

use super::{via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{Request as GroupRequest, Response as GroupResponse};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeGroups,
    min: 0,
    max: 6,
};

use crate::security::acl::{AclOperation, ResourceType};

const GROUP_ID_NOT_FOUND: i16 = 69;

/// A group the coordinator holds but that is not a classic group.
fn not_classic(group_id: String, version: i16) -> DescribedGroup {
    let d = DescribedGroup::default().with_group_state(StrBytes::from_static_str("Dead"));
    if version < 6 {
        return d.with_group_id(GroupId(StrBytes::from_string(group_id)));
    }
    let message = format!("Group {group_id} is not a classic group.");
    d.with_group_id(GroupId(StrBytes::from_string(group_id)))
        .with_error_code(GROUP_ID_NOT_FOUND)
        .with_error_message(Some(StrBytes::from_string(message)))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: DescribeGroupsRequest = req.decode(ApiKey::DescribeGroups)?;
    let groups: Vec<String> = body
        .groups
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    let with_ops = body.include_authorized_operations;
    let az = super::authz::authz(broker, &req);
    let asked = groups.clone();
    via_coordinator(
        broker,
        &req,
        GroupRequest::Describe { groups },
        move |resp, corr, version| {
            let s = StrBytes::from_string;
            let described = match resp {
                Some(GroupResponse::Describe { groups }) => groups
                    .into_iter()
                    .map(|g| {
                        let members = g
                            .members
                            .into_iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(s(m.member_id))
                                    .with_group_instance_id(if version >= 4 {
                                        m.group_instance_id.map(s)
                                    } else {
                                        None
                                    })
                                    .with_client_id(s(m.client_id))
                                    .with_client_host(s(m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment)
                            })
                            .collect();
                        if !az.group(AclOperation::Describe, &g.group_id) {
                            return DescribedGroup::default()
                                .with_error_code(super::authz::GROUP_AUTHORIZATION_FAILED)
                                .with_group_id(GroupId(s(g.group_id)));
                        }
                        let ops = az.operations(ResourceType::Group, &g.group_id);
                        if g.error == GROUP_ID_NOT_FOUND {
                            return not_classic(g.group_id, version);
                        }
                        let mut d = DescribedGroup::default()
                            .with_error_code(g.error)
                            .with_group_id(GroupId(s(g.group_id)))
                            .with_group_state(s(g.state))
                            .with_protocol_type(s(g.protocol_type))
                            .with_protocol_data(s(g.protocol))
                            .with_members(members);
                        if version >= 3 && with_ops {
                            d.authorized_operations = ops;
                        }
                        d
                    })
                    .collect(),
                _ => asked
                    .into_iter()
                    .map(|g| {
                        DescribedGroup::default()
                            .with_error_code(COORDINATOR_NOT_AVAILABLE)
                            .with_group_id(GroupId(s(g)))
                    })
                    .collect(),
            };
            let out = DescribeGroupsResponse::default()
                .with_throttle_time_ms(0)
                .with_groups(described);
            encode_response(corr, version, &out)
        },
    )
}
