//! EndTxn (key 26), v0–5: commit or abort the producer's transaction. The answer comes once
//! the coordinator persisted PrepareCommit/PrepareAbort; the markers are written to every
//! partition of the transaction afterwards (CONCURRENT_TRANSACTIONS until they are). v3+
//! learns PRODUCER_FENCED. v5 is transactions V2 (KIP-890 part 2): the coordinator bumps the
//! epoch at every end (the markers carry the new one) and answers the producer id and epoch
//! to use next (a new producer id at epoch 0 when the epochs ran out); see src/txn/end.rs.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, EndTxnRequest, EndTxnResponse, ProducerId};

use super::COORDINATOR_NOT_AVAILABLE;
use super::{fenced_code, via_txn_coordinator, ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::txn::types::{Request as TxnRequest, Response as TxnResponse};

use crate::security::acl::AclOperation;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::EndTxn,
    min: 0,
    max: 5,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: EndTxnRequest = req.decode(ApiKey::EndTxn)?;
    let az = super::authz::authz(broker, &req);
    if let Some(code) = az.txn_error(AclOperation::Write, body.transactional_id.0.as_str()) {
        let out = EndTxnResponse::default()
            .with_error_code(code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        return req.respond(&out).map(Reply::Now);
    }
    let request = TxnRequest::EndTxn {
        transactional_id: body.transactional_id.0.as_str().to_string(),
        producer_id: body.producer_id.0,
        producer_epoch: body.producer_epoch,
        commit: body.committed,
        version: req.version,
    };
    via_txn_coordinator(broker, &req, request, move |resp, corr, version| {
        let (error, producer_id, producer_epoch) = match resp {
            Some(TxnResponse::EndTxn {
                error,
                producer_id,
                producer_epoch,
            }) => (error, producer_id, producer_epoch),
            _ => (COORDINATOR_NOT_AVAILABLE, -1, -1),
        };
        let out = EndTxnResponse::default()
            .with_throttle_time_ms(0)
            .with_error_code(fenced_code(error, version, 2))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(producer_epoch);
        encode_response(corr, version, &out)
    })
}
