//! DescribeTransactions (key 65), v0: state, timeout, start time, producer id/epoch and
//! partitions of each transactional id (TRANSACTIONAL_ID_NOT_FOUND for unknown ones).

use std::sync::Arc;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
    TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::{via_txn_coordinator, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::txn::types::{Request as TxnRequest, Response as TxnResponse};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeTransactions,
    min: 0,
    max: 0,
};

fn topics(partitions: Vec<(String, i32)>) -> Vec<TopicData> {
    let mut out: Vec<TopicData> = Vec::new();
    for (t, p) in partitions {
        match out.iter_mut().find(|x| x.topic.0.as_str() == t) {
            Some(x) => x.partitions.push(p),
            None => out.push(
                TopicData::default()
                    .with_topic(TopicName(StrBytes::from_string(t)))
                    .with_partitions(vec![p]),
            ),
        }
    }
    out
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: DescribeTransactionsRequest = req.decode(ApiKey::DescribeTransactions)?;
    let ids: Vec<String> = body
        .transactional_ids
        .iter()
        .map(|t| t.0.as_str().to_string())
        .collect();
    let requested = ids.clone();
    // Kafka: DESCRIBE on each transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
    let az = super::authz::authz(broker, &req);
    let request = TxnRequest::Describe {
        transactional_ids: ids,
    };
    via_txn_coordinator(broker, &req, request, move |resp, corr, version| {
        let states = match resp {
            Some(TxnResponse::Describe { transactions }) => transactions
                .into_iter()
                .map(|t| {
                    if let Some(code) = az.txn_error(
                        crate::security::acl::AclOperation::Describe,
                        &t.transactional_id,
                    ) {
                        return TransactionState::default()
                            .with_error_code(code)
                            .with_transactional_id(TransactionalId(StrBytes::from_string(
                                t.transactional_id,
                            )))
                            .with_producer_id(ProducerId(-1))
                            .with_producer_epoch(-1)
                            .with_transaction_start_time_ms(-1);
                    }
                    TransactionState::default()
                        .with_error_code(t.error)
                        .with_transactional_id(TransactionalId(StrBytes::from_string(
                            t.transactional_id,
                        )))
                        .with_transaction_state(StrBytes::from_string(t.state))
                        .with_transaction_timeout_ms(t.timeout_ms)
                        .with_transaction_start_time_ms(t.start_timestamp_ms)
                        .with_producer_id(ProducerId(t.producer_id))
                        .with_producer_epoch(t.producer_epoch)
                        .with_topics(topics(t.partitions))
                })
                .collect(),
            _ => requested
                .into_iter()
                .map(|id| {
                    TransactionState::default()
                        .with_error_code(COORDINATOR_NOT_AVAILABLE)
                        .with_transactional_id(TransactionalId(StrBytes::from_string(id)))
                        .with_producer_id(ProducerId(-1))
                        .with_producer_epoch(-1)
                        .with_transaction_start_time_ms(-1)
                })
                .collect(),
        };
        let out = DescribeTransactionsResponse::default()
            .with_throttle_time_ms(0)
            .with_transaction_states(states);
        encode_response(corr, version, &out)
    })
}
