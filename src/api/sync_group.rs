//! SyncGroup (key 14), v0–5: the leader's assignment, distributed to every member.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;

use super::{opt_str, via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{Request as GroupRequest, Response as GroupResponse, SyncGroup};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::SyncGroup,
    min: 0,
    max: 5,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: SyncGroupRequest = req.decode(ApiKey::SyncGroup)?;
    let az = super::authz::authz(broker, &req);
    if let Some(code) = az.group_error(
        crate::security::acl::AclOperation::Read,
        body.group_id.0.as_str(),
    ) {
        let out = SyncGroupResponse::default().with_error_code(code);
        return req.respond(&out).map(Reply::Now);
    }
    let sync = SyncGroup {
        group_id: body.group_id.0.as_str().to_string(),
        generation_id: body.generation_id,
        member_id: body.member_id.as_str().to_string(),
        group_instance_id: opt_str(&body.group_instance_id),
        protocol_type: opt_str(&body.protocol_type),
        protocol_name: opt_str(&body.protocol_name),
        assignments: body
            .assignments
            .iter()
            .map(|a| (a.member_id.as_str().to_string(), a.assignment.clone()))
            .collect(),
        version,
    };
    via_coordinator(
        broker,
        &req,
        GroupRequest::Sync(sync),
        move |resp, corr, version| {
            let mut out = SyncGroupResponse::default().with_throttle_time_ms(0);
            match resp {
                Some(GroupResponse::Sync(r)) => {
                    out.error_code = r.error;
                    if version >= 5 {
                        out.protocol_type = r.protocol_type.map(StrBytes::from_string);
                        out.protocol_name = r.protocol_name.map(StrBytes::from_string);
                    }
                    out.assignment = r.assignment;
                }
                _ => out.error_code = COORDINATOR_NOT_AVAILABLE,
            }
            encode_response(corr, version, &out)
        },
    )
}
