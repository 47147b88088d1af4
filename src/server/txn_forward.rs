//! Transactions across brokers (KIP-890, Kafka's AddPartitionsToTxnManager): the leader of a
//! partition that does not coordinate a producer's transactional id asks the broker that does,
//! before it appends the producer's first transactional batch of a transaction there —
//! AddPartitionsToTxn v4 with `verify_only` for a transactions-V1 producer (is the partition in
//! the ongoing transaction?), v5 without it for a transactions-V2 producer (add it). Requests go
//! over pooled peer connections; a broken connection or a timeout answers
//! COORDINATOR_NOT_AVAILABLE, which the produce path turns into a retriable error.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::peer::{PeerConfig, PeerPool};
use crate::txn::types::TopicPartition;

const COORDINATOR_NOT_AVAILABLE: i16 = 15;

/// Sends AddPartitionsToTxn to transaction coordinators on other brokers.
pub struct TxnForwarder {
    peers: Arc<PeerPool>,
}

impl Default for TxnForwarder {
    fn default() -> Self {
        TxnForwarder::new()
    }
}

impl TxnForwarder {
    pub fn new() -> TxnForwarder {
        TxnForwarder {
            peers: Arc::new(PeerPool::new(PeerConfig {
                client_id: "skua-broker-txn".to_string(),
                connect_timeout: Duration::from_secs(5),
                request_timeout: Duration::from_secs(10),
                ..PeerConfig::default()
            })),
        }
    }

    /// Ask the coordinator at `host:port` to add (or with `verify_only`, to confirm) the
    /// `partitions` of the producer's transaction; answers the coordinator's code per partition.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &self,
        host: String,
        port: u16,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<TopicPartition>,
        verify_only: bool,
    ) -> impl Future<Output = Vec<(TopicPartition, i16)>> + Send + 'static {
        let peers = Arc::clone(&self.peers);
        let request = request(
            transactional_id,
            producer_id,
            producer_epoch,
            &partitions,
            verify_only,
        );
        let version = if verify_only { 4 } else { 5 };
        async move {
            match peers.send(&host, port, version, &request).await {
                Ok(resp) => codes(&resp, partitions),
                Err(e) => {
                    tracing::debug!(%host, port, "AddPartitionsToTxn to the coordinator failed: {e}");
                    partitions
                        .into_iter()
                        .map(|tp| (tp, COORDINATOR_NOT_AVAILABLE))
                        .collect()
                }
            }
        }
    }
}

fn request(
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    partitions: &[TopicPartition],
    verify_only: bool,
) -> AddPartitionsToTxnRequest {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (topic, p) in partitions {
        match topics.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.partitions.push(*p),
            None => topics.push(
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partitions(vec![*p]),
            ),
        }
    }
    AddPartitionsToTxnRequest::default().with_transactions(vec![
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(
                transactional_id.to_string(),
            )))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(producer_epoch)
            .with_verify_only(verify_only)
            .with_topics(topics),
    ])
}

/// Each asked partition's code: the response's top-level error when it has one, else the
/// partition's result (COORDINATOR_NOT_AVAILABLE for a partition the answer lacks).
fn codes(
    resp: &AddPartitionsToTxnResponse,
    asked: Vec<TopicPartition>,
) -> Vec<(TopicPartition, i16)> {
    asked
        .into_iter()
        .map(|tp| {
            if resp.error_code != 0 {
                return (tp, resp.error_code);
            }
            let code = resp
                .results_by_transaction
                .iter()
                .flat_map(|t| t.topic_results.iter())
                .filter(|t| t.name.0.as_str() == tp.0)
                .flat_map(|t| t.results_by_partition.iter())
                .find(|r| r.partition_index == tp.1)
                .map_or(COORDINATOR_NOT_AVAILABLE, |r| r.partition_error_code);
            (tp, code)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::add_partitions_to_txn_response::{
        AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
    };

    #[test]
    fn groups_partitions_by_topic_and_maps_answers() {
        let asked = vec![
            ("a".to_string(), 0),
            ("b".to_string(), 2),
            ("a".to_string(), 1),
        ];
        let r = request("tx", 7, 3, &asked, true);
        let t = &r.transactions[0];
        assert_eq!(t.transactional_id.0.as_str(), "tx");
        assert_eq!(
            (t.producer_id.0, t.producer_epoch, t.verify_only),
            (7, 3, true)
        );
        let topics: Vec<(String, Vec<i32>)> = t
            .topics
            .iter()
            .map(|t| (t.name.0.to_string(), t.partitions.clone()))
            .collect();
        assert_eq!(
            topics,
            vec![("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2])]
        );

        let resp = AddPartitionsToTxnResponse::default().with_results_by_transaction(vec![
            AddPartitionsToTxnResult::default().with_topic_results(vec![
                AddPartitionsToTxnTopicResult::default()
                    .with_name(TopicName(StrBytes::from_static_str("a")))
                    .with_results_by_partition(vec![
                        AddPartitionsToTxnPartitionResult::default()
                            .with_partition_index(0)
                            .with_partition_error_code(0),
                        AddPartitionsToTxnPartitionResult::default()
                            .with_partition_index(1)
                            .with_partition_error_code(48),
                    ]),
            ]),
        ]);
        assert_eq!(
            codes(&resp, asked.clone()),
            vec![
                (("a".to_string(), 0), 0),
                (("b".to_string(), 2), COORDINATOR_NOT_AVAILABLE),
                (("a".to_string(), 1), 48),
            ]
        );
        let fenced = AddPartitionsToTxnResponse::default().with_error_code(90);
        assert!(codes(&fenced, asked).iter().all(|(_, c)| *c == 90));
    }
}
