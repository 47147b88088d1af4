//! AddOffsetsToTxn (key 25), v0–4: adds the group's `__consumer_offsets` partition to the
//! producer's transaction, so that TxnOffsetCommit may write there and the transaction's
//! marker completes the offsets. v2+ learns PRODUCER_FENCED.

use std::sync::Arc;

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, ApiKey};

use super::COORDINATOR_NOT_AVAILABLE;
use super::{fenced_code, via_txn_coordinator, ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::txn::types::{Request as TxnRequest, Response as TxnResponse};

use crate::security::acl::AclOperation;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::AddOffsetsToTxn,
    min: 0,
    max: 4,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: AddOffsetsToTxnRequest = req.decode(ApiKey::AddOffsetsToTxn)?;
    let az = super::authz::authz(broker, &req);
    if let Some(code) = az.txn_error(AclOperation::Write, body.transactional_id.0.as_str()) {
        let out = AddOffsetsToTxnResponse::default().with_error_code(code);
        return req.respond(&out).map(Reply::Now);
    }
    if let Some(code) = az.group_error(AclOperation::Read, body.group_id.0.as_str()) {
        let out = AddOffsetsToTxnResponse::default().with_error_code(code);
        return req.respond(&out).map(Reply::Now);
    }
    let request = TxnRequest::AddOffsets {
        transactional_id: body.transactional_id.0.as_str().to_string(),
        producer_id: body.producer_id.0,
        producer_epoch: body.producer_epoch,
        group_id: body.group_id.0.as_str().to_string(),
        version: req.version,
    };
    via_txn_coordinator(broker, &req, request, move |resp, corr, version| {
        let error = match resp {
            Some(TxnResponse::AddOffsets { error }) => error,
            _ => COORDINATOR_NOT_AVAILABLE,
        };
        let out = AddOffsetsToTxnResponse::default()
            .with_throttle_time_ms(0)
            .with_error_code(fenced_code(error, version, 2));
        encode_response(corr, version, &out)
    })
}
