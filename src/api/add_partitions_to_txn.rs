//! AddPartitionsToTxn (key 24), v0–5: adds partitions to a producer's transaction before it
//! writes to them. v0–3 (clients) carry one transaction; v4+ (KIP-890, the form brokers use
//! to verify a partition is in a transaction) carry a batch, each possibly `verify_only`.
//! A partition of an unknown topic fails the whole transaction's request as Kafka does:
//! UNKNOWN_TOPIC_OR_PARTITION for it, OPERATION_NOT_ATTEMPTED for the others, and nothing is
//! added. v2+ learns PRODUCER_FENCED.

use std::sync::Arc;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{fenced_code, ApiEntry, Reply, Request, COORDINATOR_NOT_AVAILABLE};
use crate::cluster::Broker;
use crate::protocol::{encode_response, FrameError};
use crate::txn::types::{Request as TxnRequest, Response as TxnResponse, TopicPartition};

use crate::security::acl::AclOperation;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::AddPartitionsToTxn,
    min: 0,
    max: 5,
};

/// One transaction of the request, resolved.
struct Txn {
    transactional_id: TransactionalId,
    partitions: Vec<TopicPartition>,
    /// Set when the request must not reach the coordinator (unknown partitions).
    precomputed: Option<Vec<(TopicPartition, i16)>>,
}

fn resolve(broker: &Broker, topics: &[AddPartitionsToTxnTopic]) -> (Vec<TopicPartition>, bool) {
    let mut partitions = Vec::new();
    let mut all_known = true;
    for t in topics {
        let topic = broker.topic(t.name.0.as_str());
        for &p in &t.partitions {
            let known = topic
                .as_ref()
                .is_some_and(|tp| p >= 0 && (p as usize) < tp.partitions.len());
            all_known &= known;
            partitions.push((t.name.0.as_str().to_string(), p));
        }
    }
    (partitions, all_known)
}

fn unknown_partition_errors(
    broker: &Broker,
    partitions: &[TopicPartition],
) -> Vec<(TopicPartition, i16)> {
    partitions
        .iter()
        .map(|(t, p)| {
            let known = broker
                .topic(t)
                .is_some_and(|tp| *p >= 0 && (*p as usize) < tp.partitions.len());
            let code = if known {
                ResponseError::OperationNotAttempted.code()
            } else {
                ResponseError::UnknownTopicOrPartition.code()
            };
            ((t.clone(), *p), code)
        })
        .collect()
}

fn topic_results(
    results: Vec<(TopicPartition, i16)>,
    version: i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut topics: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((t, p), code) in results {
        let r = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(p)
            .with_partition_error_code(fenced_code(code, version, 2));
        match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(x) => x.results_by_partition.push(r),
            None => topics.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(TopicName(StrBytes::from_string(t)))
                    .with_results_by_partition(vec![r]),
            ),
        }
    }
    topics
}

/// Per-partition results from the coordinator's answer (a whole-request error applies to
/// every partition, as Kafka reports it).
fn partition_results(
    resp: Option<TxnResponse>,
    partitions: &[TopicPartition],
) -> Vec<(TopicPartition, i16)> {
    match resp {
        Some(TxnResponse::AddPartitions {
            error,
            partitions: per,
        }) => {
            if error != 0 || per.len() != partitions.len() {
                let code = if error != 0 {
                    error
                } else {
                    COORDINATOR_NOT_AVAILABLE
                };
                partitions.iter().map(|tp| (tp.clone(), code)).collect()
            } else {
                per
            }
        }
        _ => partitions
            .iter()
            .map(|tp| (tp.clone(), COORDINATOR_NOT_AVAILABLE))
            .collect(),
    }
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: AddPartitionsToTxnRequest = req.decode(ApiKey::AddPartitionsToTxn)?;
    let mut txns = Vec::new();
    let mut pending = Vec::new();
    let az = super::authz::authz(broker, &req);
    // Kafka: a broker's verification (v4+) needs CLUSTER_ACTION; a client's request WRITE on
    // its transactional id (else every partition) and WRITE on each topic (refused ones
    // TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED).
    let cluster_denied = version >= 4 && !az.cluster(AclOperation::ClusterAction);
    let refusals =
        |tid: &str, partitions: &[TopicPartition]| -> Option<Vec<(TopicPartition, i16)>> {
            let all = |code: i16| Some(partitions.iter().map(|tp| (tp.clone(), code)).collect());
            if cluster_denied {
                return all(super::authz::CLUSTER_AUTHORIZATION_FAILED);
            }
            if let Some(code) = az.txn_error(AclOperation::Write, tid) {
                return all(code);
            }
            let denied = |t: &str| !az.topic(AclOperation::Write, t);
            if !partitions.iter().any(|(t, _)| denied(t)) {
                return None;
            }
            Some(
                partitions
                    .iter()
                    .map(|(t, p)| {
                        let code = if denied(t) {
                            super::authz::TOPIC_AUTHORIZATION_FAILED
                        } else {
                            ResponseError::OperationNotAttempted.code()
                        };
                        ((t.clone(), *p), code)
                    })
                    .collect(),
            )
        };
    let mut submit = |tid: &TransactionalId,
                      pid: i64,
                      epoch: i16,
                      topics: &[AddPartitionsToTxnTopic],
                      verify_only: bool| {
        let (partitions, all_known) = resolve(broker, topics);
        let precomputed = refusals(tid.0.as_str(), &partitions).or_else(|| {
            (!all_known && !verify_only).then(|| unknown_partition_errors(broker, &partitions))
        });
        let fut = match (&precomputed, broker.txns.get()) {
            (None, Some(h)) => Some(h.submit(TxnRequest::AddPartitions {
                transactional_id: tid.0.as_str().to_string(),
                producer_id: pid,
                producer_epoch: epoch,
                partitions: partitions.clone(),
                verify_only,
                version,
                // Kafka's brokers add partitions for a transactions-V2 producer this way.
                tv2: version >= 5 && !verify_only,
            })),
            _ => None,
        };
        pending.push(fut);
        txns.push(Txn {
            transactional_id: tid.clone(),
            partitions,
            precomputed,
        });
    };
    if version <= 3 {
        submit(
            &body.v3_and_below_transactional_id,
            body.v3_and_below_producer_id.0,
            body.v3_and_below_producer_epoch,
            &body.v3_and_below_topics,
            false,
        );
    } else {
        for t in &body.transactions {
            submit(
                &t.transactional_id,
                t.producer_id.0,
                t.producer_epoch,
                &t.topics,
                t.verify_only,
            );
        }
    }
    let corr = req.header.correlation_id;
    Ok(Reply::Later(Box::pin(async move {
        let mut results = Vec::with_capacity(txns.len());
        for (txn, fut) in txns.into_iter().zip(pending) {
            let per = match (txn.precomputed, fut) {
                (Some(pre), _) => pre,
                (None, Some(fut)) => partition_results(fut.await, &txn.partitions),
                (None, None) => partition_results(None, &txn.partitions),
            };
            results.push((txn.transactional_id, per));
        }
        let mut out = AddPartitionsToTxnResponse::default().with_throttle_time_ms(0);
        if version <= 3 {
            if let Some((_, per)) = results.pop() {
                out.results_by_topic_v3_and_below = topic_results(per, version);
            }
        } else {
            out.results_by_transaction = results
                .into_iter()
                .map(|(tid, per)| {
                    AddPartitionsToTxnResult::default()
                        .with_transactional_id(tid)
                        .with_topic_results(topic_results(per, version))
                })
                .collect();
        }
        encode_response(corr, version, &out)
    })))
}
