//! ShareGroupDescribe (key 77), v1: share groups with their members, subscriptions and
//! assignments. A group that is not a share group answers GROUP_ID_NOT_FOUND ("Group X is
//! not a share group."), an unknown one GROUP_ID_NOT_FOUND ("Group X not found."), as Kafka.

use std::sync::Arc;

use kafka_protocol::messages::share_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, ShareGroupDescribeRequest, ShareGroupDescribeResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::consumer_group_heartbeat::topics_image;
use super::{via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{
    DescribedTopicPartitions, Request as GroupRequest, Response as GroupResponse,
};
use crate::protocol::{encode_response, FrameError};
use crate::security::acl::{AclOperation, ResourceType};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ShareGroupDescribe,
    min: 1,
    max: 1,
};

fn assignment(tps: Vec<DescribedTopicPartitions>) -> Assignment {
    Assignment::default().with_topic_partitions(
        tps.into_iter()
            .map(|t| {
                TopicPartitions::default()
                    .with_topic_id(t.topic_id)
                    .with_topic_name(TopicName(StrBytes::from_string(t.topic_name)))
                    .with_partitions(t.partitions)
            })
            .collect(),
    )
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: ShareGroupDescribeRequest = req.decode(ApiKey::ShareGroupDescribe)?;
    let groups: Vec<String> = body
        .group_ids
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    let with_ops = body.include_authorized_operations;
    let asked = groups.clone();
    // Kafka: DESCRIBE on each group (GROUP_AUTHORIZATION_FAILED).
    let az = super::authz::authz(broker, &req);
    via_coordinator(
        broker,
        &req,
        GroupRequest::ShareDescribe {
            groups,
            topics: topics_image(broker),
        },
        move |resp, corr, version| {
            let s = StrBytes::from_string;
            let described: Vec<DescribedGroup> = match resp {
                Some(GroupResponse::ShareDescribe { groups }) => groups
                    .into_iter()
                    .map(|g| {
                        if let Some(code) = az.group_error(AclOperation::Describe, &g.group_id) {
                            return DescribedGroup::default()
                                .with_group_id(GroupId(s(g.group_id)))
                                .with_error_code(code)
                                .with_authorized_operations(i32::MIN);
                        }
                        let ops = az.operations(ResourceType::Group, &g.group_id);
                        let members = g
                            .members
                            .into_iter()
                            .map(|m| {
                                Member::default()
                                    .with_member_id(s(m.member_id))
                                    .with_rack_id(m.rack_id.map(s))
                                    .with_member_epoch(m.member_epoch)
                                    .with_client_id(s(m.client_id))
                                    .with_client_host(s(m.client_host))
                                    .with_subscribed_topic_names(
                                        m.subscribed_topic_names
                                            .into_iter()
                                            .map(|t| TopicName(s(t)))
                                            .collect(),
                                    )
                                    .with_assignment(assignment(m.assignment))
                            })
                            .collect();
                        DescribedGroup::default()
                            .with_error_code(g.error)
                            .with_error_message(g.error_message.map(s))
                            .with_group_id(GroupId(s(g.group_id)))
                            .with_group_state(s(g.state))
                            .with_group_epoch(g.group_epoch)
                            .with_assignment_epoch(g.assignment_epoch)
                            .with_assignor_name(s(g.assignor_name))
                            .with_members(members)
                            .with_authorized_operations(if with_ops && g.error == 0 {
                                ops
                            } else {
                                i32::MIN
                            })
                    })
                    .collect(),
                _ => asked
                    .into_iter()
                    .map(|g| {
                        DescribedGroup::default()
                            .with_group_id(GroupId(s(g)))
                            .with_error_code(COORDINATOR_NOT_AVAILABLE)
                            .with_authorized_operations(i32::MIN)
                    })
                    .collect(),
            };
            let out = ShareGroupDescribeResponse::default()
                .with_throttle_time_ms(0)
                .with_groups(described);
            encode_response(corr, version, &out)
        },
    )
}

/// The number of members of share group `group`, or the error describing it gives
/// (GROUP_ID_NOT_FOUND for a missing group or one of another kind, NOT_COORDINATOR, ...).
pub async fn share_group_members(broker: &Arc<Broker>, group: &str) -> Result<usize, i16> {
    let Some(groups) = broker.groups.get() else {
        return Err(COORDINATOR_NOT_AVAILABLE);
    };
    let req = GroupRequest::ShareDescribe {
        groups: vec![group.to_string()],
        topics: topics_image(broker),
    };
    match groups.submit(req).await {
        Some(GroupResponse::ShareDescribe { groups }) => match groups.into_iter().next() {
            Some(g) if g.error == 0 => Ok(g.members.len()),
            Some(g) => Err(g.error),
            None => Err(COORDINATOR_NOT_AVAILABLE),
        },
        _ => Err(COORDINATOR_NOT_AVAILABLE),
    }
}

/// An existing share group without members (Alter/DeleteShareGroupOffsets: NON_EMPTY_GROUP
/// otherwise), with the share runtime and its state topic ready.
pub async fn empty_share_group(
    broker: &Arc<Broker>,
    group: &str,
) -> Result<Arc<crate::server::share_runtime::ShareManager>, i16> {
    const NON_EMPTY_GROUP: i16 = 68;
    if share_group_members(broker, group).await? > 0 {
        return Err(NON_EMPTY_GROUP);
    }
    let mgr = broker
        .shares
        .get()
        .cloned()
        .ok_or(COORDINATOR_NOT_AVAILABLE)?;
    let wait = std::time::Duration::from_secs(10);
    if !crate::server::share_runtime::ensure_state_topic(broker, wait).await {
        return Err(COORDINATOR_NOT_AVAILABLE);
    }
    Ok(mgr)
}
