//! Heartbeat (key 12), v0–4.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, HeartbeatRequest, HeartbeatResponse};

use super::{opt_str, via_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::group::types::{Heartbeat, Request as GroupRequest, Response as GroupResponse};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::Heartbeat,
    min: 0,
    max: 4,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: HeartbeatRequest = req.decode(ApiKey::Heartbeat)?;
    let az = super::authz::authz(broker, &req);
    if let Some(code) = az.group_error(
        crate::security::acl::AclOperation::Read,
        body.group_id.0.as_str(),
    ) {
        let out = HeartbeatResponse::default().with_error_code(code);
        return req.respond(&out).map(Reply::Now);
    }
    let hb = Heartbeat {
        group_id: body.group_id.0.as_str().to_string(),
        generation_id: body.generation_id,
        member_id: body.member_id.as_str().to_string(),
        group_instance_id: opt_str(&body.group_instance_id),
    };
    via_coordinator(
        broker,
        &req,
        GroupRequest::Heartbeat(hb),
        move |resp, corr, version| {
            let error_code = match resp {
                Some(GroupResponse::Heartbeat { error }) => error,
                _ => COORDINATOR_NOT_AVAILABLE,
            };
            let out = HeartbeatResponse::default()
                .with_throttle_time_ms(0)
                .with_error_code(error_code);
            encode_response(corr, version, &out)
        },
    )
}
