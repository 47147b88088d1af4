//! ListTransactions (key 66), v0–2: every transactional id the coordinator knows, filtered by
//! state (unknown state names are reported back), producer id, and (v1) by running longer
//! than `duration_filter` ms, and (v2, KIP-1152) by a regular expression the whole
//! transactional id must match (INVALID_REGULAR_EXPRESSION when it does not compile).

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ApiKey, ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::{via_txn_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::txn::types::{Request as TxnRequest, Response as TxnResponse};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ListTransactions,
    min: 0,
    max: 2,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: ListTransactionsRequest = req.decode(ApiKey::ListTransactions)?;
    let request = TxnRequest::List {
        state_filters: body
            .state_filters
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        producer_id_filters: body.producer_id_filters.iter().map(|p| p.0).collect(),
        duration_filter_ms: if version >= 1 {
            body.duration_filter
        } else {
            -1
        },
        transactional_id_pattern: if version >= 2 {
            super::opt_str(&body.transactional_id_pattern)
        } else {
            None
        },
    };
    // Kafka: only the transactional ids the principal may DESCRIBE.
    let az = super::authz::authz(broker, &req);
    via_txn_coordinator(broker, &req, request, move |resp, corr, version| {
        let out = match resp {
            Some(TxnResponse::List {
                error,
                unknown_state_filters,
                transactions,
            }) => ListTransactionsResponse::default()
                .with_error_code(error)
                .with_unknown_state_filters(
                    unknown_state_filters
                        .into_iter()
                        .map(StrBytes::from_string)
                        .collect(),
                )
                .with_transaction_states(
                    transactions
                        .into_iter()
                        .filter(|(tid, _, _)| {
                            az.transactional_id(crate::security::acl::AclOperation::Describe, tid)
                        })
                        .map(|(tid, pid, state)| {
                            TransactionState::default()
                                .with_transactional_id(TransactionalId(StrBytes::from_string(tid)))
                                .with_producer_id(ProducerId(pid))
                                .with_transaction_state(StrBytes::from_string(state))
                        })
                        .collect(),
                ),
            _ => ListTransactionsResponse::default().with_error_code(COORDINATOR_NOT_AVAILABLE),
        };
        encode_response(corr, version, &out.with_throttle_time_ms(0))
    })
}
