//! InitProducerId (key 22), v0–5: a producer id and epoch for an idempotent producer (no
//! transactional id: a fresh id, epoch 0) or for a transactional id (the coordinator bumps the
//! epoch, fencing older instances, and aborts a transaction left open). v3+ may carry the
//! current id and epoch (KIP-360: the producer bumps its epoch after an error); v4+ learns
//! PRODUCER_FENCED, older versions get INVALID_PRODUCER_EPOCH.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::COORDINATOR_NOT_AVAILABLE;
use super::{fenced_code, via_txn_coordinator, ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::txn::types::{Request as TxnRequest, Response as TxnResponse};

use crate::security::acl::{AclOperation, ResourceType};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::InitProducerId,
    min: 0,
    max: 5,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: InitProducerIdRequest = req.decode(ApiKey::InitProducerId)?;
    let transactional_id = body
        .transactional_id
        .as_ref()
        .map(|t| t.0.as_str().to_string());
    // Kafka: WRITE on the transactional id; an idempotent producer needs IDEMPOTENT_WRITE on
    // the cluster or WRITE on some topic (KIP-679).
    let az = super::authz::authz(broker, &req);
    let denied = match &transactional_id {
        Some(t) => az.txn_error(AclOperation::Write, t),
        None if !az.cluster(AclOperation::IdempotentWrite)
            && !az.any_of_type(AclOperation::Write, ResourceType::Topic) =>
        {
            Some(super::authz::CLUSTER_AUTHORIZATION_FAILED)
        }
        None => None,
    };
    if let Some(code) = denied {
        let out = InitProducerIdResponse::default()
            .with_error_code(code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        return req.respond(&out).map(Reply::Now);
    }
    let request = TxnRequest::InitProducerId {
        transactional_id,
        transaction_timeout_ms: body.transaction_timeout_ms,
        producer_id: if version >= 3 { body.producer_id.0 } else { -1 },
        producer_epoch: if version >= 3 {
            body.producer_epoch
        } else {
            -1
        },
        version,
    };
    via_txn_coordinator(broker, &req, request, move |resp, corr, version| {
        let (error, producer_id, producer_epoch) = match resp {
            Some(TxnResponse::InitProducerId {
                error,
                producer_id,
                producer_epoch,
            }) => (error, producer_id, producer_epoch),
            _ => (COORDINATOR_NOT_AVAILABLE, -1, -1),
        };
        let (producer_id, producer_epoch) = if error == 0 {
            (producer_id, producer_epoch)
        } else {
            (-1, -1)
        };
        let out = InitProducerIdResponse::default()
            .with_throttle_time_ms(0)
            .with_error_code(fenced_code(error, version, 4))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(producer_epoch);
        encode_response(corr, version, &out)
    })
}
