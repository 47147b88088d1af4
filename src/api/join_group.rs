//! JoinGroup (key 11), v0–9: mapped onto the group coordinator; answered when the rebalance
//! completes (or at once for errors and MEMBER_ID_REQUIRED).

use std::sync::Arc;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{ApiKey, JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::StrBytes;

use super::{opt_str, via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{JoinGroup, Request as GroupRequest, Response as GroupResponse};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::JoinGroup,
    min: 0,
    max: 9,
};

fn s(v: String) -> StrBytes {
    StrBytes::from_string(v)
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: JoinGroupRequest = req.decode(ApiKey::JoinGroup)?;
    let az = super::authz::authz(broker, &req);
    if let Some(code) = az.group_error(
        crate::security::acl::AclOperation::Read,
        body.group_id.0.as_str(),
    ) {
        let mut out = JoinGroupResponse::default()
            .with_error_code(code)
            .with_generation_id(-1);
        if version < 7 {
            out.protocol_name = Some(StrBytes::default());
        }
        return req.respond(&out).map(Reply::Now);
    }
    let join = JoinGroup {
        group_id: body.group_id.0.as_str().to_string(),
        member_id: body.member_id.as_str().to_string(),
        group_instance_id: opt_str(&body.group_instance_id),
        protocol_type: body.protocol_type.as_str().to_string(),
        protocols: body
            .protocols
            .iter()
            .map(|p| (p.name.as_str().to_string(), p.metadata.clone()))
            .collect(),
        session_timeout_ms: body.session_timeout_ms,
        rebalance_timeout_ms: if version == 0 {
            body.session_timeout_ms
        } else {
            body.rebalance_timeout_ms
        },
        client_id: req.client_id(),
        client_host: req.client_host.to_string(),
        reason: opt_str(&body.reason),
        version,
        // A classic member joining a consumer group resolves its subscription against these.
        topics: Some(super::consumer_group_heartbeat::topics_image(broker)),
    };
    via_coordinator(
        broker,
        &req,
        GroupRequest::Join(join),
        move |resp, corr, version| {
            let mut out = JoinGroupResponse::default().with_throttle_time_ms(0);
            match resp {
                Some(GroupResponse::Join(r)) => {
                    out.error_code = r.error;
                    out.generation_id = r.generation_id;
                    if version >= 7 {
                        out.protocol_type = r.protocol_type.map(s);
                    }
                    out.protocol_name = match (version, r.protocol_name) {
                        (_, Some(n)) => Some(s(n)),
                        // Before v7 the protocol name is not nullable.
                        (v, None) if v < 7 => Some(StrBytes::default()),
                        (_, None) => None,
                    };
                    out.leader = s(r.leader);
                    out.member_id = s(r.member_id);
                    if version >= 9 {
                        out.skip_assignment = r.skip_assignment;
                    }
                    out.members = r
                        .members
                        .into_iter()
                        .map(|m| {
                            JoinGroupResponseMember::default()
                                .with_member_id(s(m.member_id))
                                .with_group_instance_id(if version >= 5 {
                                    m.group_instance_id.map(s)
                                } else {
                                    None
                                })
                                .with_metadata(m.metadata)
                        })
                        .collect();
                }
                _ => {
                    out.error_code = COORDINATOR_NOT_AVAILABLE;
                    out.generation_id = -1;
                    if version < 7 {
                        out.protocol_name = Some(StrBytes::default());
                    }
                }
            }
            encode_response(corr, version, &out)
        },
    )
}
