//! DeleteShareGroupOffsets (key 92), v0 (KIP-932): forget the share-partition state of whole
//! topics for an empty share group (NON_EMPTY_GROUP while it has members); the next member to
//! fetch starts again where `share.auto.offset.reset` says. Tombstones in
//! `__share_group_state`, committed before the answer.

use std::sync::Arc;

use kafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic;
use kafka_protocol::messages::{
    ApiKey, DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse,
};

use super::share_group_describe::empty_share_group;
use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::security::acl::AclOperation;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DeleteShareGroupOffsets,
    min: 0,
    max: 0,
};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: DeleteShareGroupOffsetsRequest = req.decode(ApiKey::DeleteShareGroupOffsets)?;
    let az = super::authz::authz(broker, &req);
    let correlation_id = req.header.correlation_id;
    let version = req.version;
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let group = body.group_id.0.as_str().to_string();
        let fail = |code: i16| {
            let out = DeleteShareGroupOffsetsResponse::default().with_error_code(code);
            encode_response(correlation_id, version, &out)
        };
        // Kafka: DELETE on the group, READ on each topic.
        if let Some(code) = az.group_error(AclOperation::Delete, &group) {
            return fail(code);
        }
        let mgr = match empty_share_group(&broker, &group).await {
            Ok(mgr) => mgr,
            Err(code) => return fail(code),
        };
        let mut responses = Vec::new();
        for t in body.topics {
            let name = t.topic_name.0.as_str().to_string();
            let topic = broker.topic(&name);
            let mut out = DeleteShareGroupOffsetsResponseTopic::default()
                .with_topic_name(t.topic_name.clone());
            out.error_code = match &topic {
                _ if !az.topic(AclOperation::Read, &name) => TOPIC_AUTHORIZATION_FAILED,
                None => UNKNOWN_TOPIC_OR_PARTITION,
                Some(tp) => {
                    out.topic_id = tp.id;
                    match mgr.delete_state(&group, Some(tp.id)).await {
                        Ok(()) => 0,
                        Err(code) => code,
                    }
                }
            };
            responses.push(out);
        }
        let out = DeleteShareGroupOffsetsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses);
        encode_response(correlation_id, version, &out)
    })))
}
