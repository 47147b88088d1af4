//! LeaveGroup (key 13), v0–5: one member (v0–2) or a batch with per-member errors (v3+).

use std::sync::Arc;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{ApiKey, LeaveGroupRequest, LeaveGroupResponse};
use kafka_protocol::protocol::StrBytes;

use super::{opt_str, via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{LeaveGroup, Request as GroupRequest, Response as GroupResponse};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::LeaveGroup,
    min: 0,
    max: 5,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: LeaveGroupRequest = req.decode(ApiKey::LeaveGroup)?;
    let az = super::authz::authz(broker, &req);
    if let Some(code) = az.group_error(
        crate::security::acl::AclOperation::Read,
        body.group_id.0.as_str(),
    ) {
        let out = LeaveGroupResponse::default().with_error_code(code);
        return req.respond(&out).map(Reply::Now);
    }
    let members = if version < 3 {
        vec![(body.member_id.as_str().to_string(), None, None)]
    } else {
        body.members
            .iter()
            .map(|m| {
                (
                    m.member_id.as_str().to_string(),
                    opt_str(&m.group_instance_id),
                    opt_str(&m.reason),
                )
            })
            .collect()
    };
    let leave = LeaveGroup {
        group_id: body.group_id.0.as_str().to_string(),
        members,
        version,
    };
    via_coordinator(
        broker,
        &req,
        GroupRequest::Leave(leave),
        move |resp, corr, version| {
            let mut out = LeaveGroupResponse::default().with_throttle_time_ms(0);
            match resp {
                Some(GroupResponse::Leave(r)) => {
                    out.error_code = r.error;
                    if version >= 3 {
                        out.members = r
                            .members
                            .into_iter()
                            .map(|(id, inst, code)| {
                                MemberResponse::default()
                                    .with_member_id(StrBytes::from_string(id))
                                    .with_group_instance_id(inst.map(StrBytes::from_string))
                                    .with_error_code(code)
                            })
                            .collect();
                    }
                }
                _ => out.error_code = COORDINATOR_NOT_AVAILABLE,
            }
            encode_response(corr, version, &out)
        },
    )
}
