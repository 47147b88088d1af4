//! Writing a transaction's markers to its partitions, wherever they are led (Kafka's
//! TransactionMarkerChannelManager): each partition is routed through a [`MarkerRouter`] —
//! written here ([`MarkerRoute::Local`], the same path WriteTxnMarkers serves), or sent to
//! its leader with WriteTxnMarkers v1 over a pooled peer connection, one request per leader
//! per round. Partitions that fail with a retriable error (NOT_LEADER_OR_FOLLOWER,
//! UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND), REQUEST_TIMED_OUT,
//! KAFKA_STORAGE_ERROR, a broken connection, no leader right now) are routed again after a
//! backoff (100 ms doubling to 1 s), so a new leader is found; a partition whose topic is
//! gone needs no marker. INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED means a
//! newer producer or coordinator took over: the markers are abandoned, as Kafka does (the
//! transaction is then completed by whoever fenced it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;

use super::group_runtime::OFFSETS_TOPIC;
use super::peer::{PeerConfig, PeerPool};
use crate::api::write_txn_markers::{self, TxnMarker};
use crate::cluster::Broker;
use crate::txn::types::{MarkerRequest, TopicPartition};

/// Where the marker of one partition must be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerRoute {
    /// This broker leads the partition.
    Local,
    /// Another broker leads it: send it WriteTxnMarkers.
    Remote {
        node_id: i32,
        host: String,
        port: u16,
    },
    /// The partition no longer exists (its topic was deleted): no marker is needed.
    Gone,
    /// No leader right now: try again after a backoff.
    Unavailable,
}

/// The seam between the transaction coordinator and the cluster's view of partition leaders
/// (the integrator implements it over the metadata image).
pub trait MarkerRouter: Send + Sync + 'static {
    fn route(&self, topic: &str, partition: i32) -> MarkerRoute;
}

/// A single node: every partition is local; one that is not hosted is gone.
pub struct LocalOnly {
    broker: Arc<Broker>,
}

impl LocalOnly {
    pub fn new(broker: &Arc<Broker>) -> LocalOnly {
        LocalOnly {
            broker: Arc::clone(broker),
        }
    }
}

impl MarkerRouter for LocalOnly {
    fn route(&self, topic: &str, partition: i32) -> MarkerRoute {
        if topic == OFFSETS_TOPIC || self.broker.partition(topic, partition).is_some() {
            MarkerRoute::Local
        } else {
            MarkerRoute::Gone
        }
    }
}

/// How the writing of one transaction's markers ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkersResult {
    /// Every partition has its marker (or needs none).
    Written,
    /// Fenced by a newer producer epoch or coordinator epoch: given up.
    Abandoned,
}

/// What to do with a partition after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Done,
    Retry,
    Fenced,
}

/// Kafka's TransactionMarkerRequestCompletionHandler, per partition error code.
fn verdict(code: i16) -> Verdict {
    match code {
        // NONE; UNSUPPORTED_VERSION / UNSUPPORTED_FOR_MESSAGE_FORMAT: the producer could not
        // have written there either, so no marker is needed.
        0 | 35 | 43 => Verdict::Done,
        // INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED
        47 | 52 => Verdict::Fenced,
        // UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT,
        // NOT_ENOUGH_REPLICAS(_AFTER_APPEND), KAFKA_STORAGE_ERROR, and anything unexpected
        // (Kafka would treat it as a bug; retrying keeps the transaction completable).
        _ => Verdict::Retry,
    }
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Writes markers, locally or through peers (shared by every marker task of a runtime).
pub struct MarkerSender {
    broker: Arc<Broker>,
    router: Arc<dyn MarkerRouter>,
    peers: PeerPool,
}

impl MarkerSender {
    pub fn new(broker: &Arc<Broker>, router: Arc<dyn MarkerRouter>) -> MarkerSender {
        MarkerSender {
            broker: Arc::clone(broker),
            router,
            peers: PeerPool::new(PeerConfig::default()),
        }
    }

    /// Write the marker of `m` to every one of its partitions, retrying until each has it
    /// (or the transaction is fenced).
    pub async fn write(&self, m: &MarkerRequest) -> MarkersResult {
        let marker = TxnMarker {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            commit: m.commit,
            coordinator_epoch: m.coordinator_epoch,
        };
        let mut left: Vec<TopicPartition> = m.partitions.clone();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let mut retry = Vec::new();
            for (tp, code) in self.attempt(marker, left).await {
                match verdict(code) {
                    Verdict::Done => {}
                    Verdict::Retry => {
                        tracing::warn!(topic = %tp.0, partition = tp.1, producer_id = m.producer_id,
                            code, "transaction marker not written, retrying");
                        retry.push(tp);
                    }
                    Verdict::Fenced => {
                        tracing::warn!(topic = %tp.0, partition = tp.1, producer_id = m.producer_id,
                            code, "transaction marker fenced; abandoning the transaction's markers");
                        return MarkersResult::Abandoned;
                    }
                }
            }
            if retry.is_empty() {
                return MarkersResult::Written;
            }
            left = retry;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Route every partition and write it once: (partition, error code) for each.
    async fn attempt(
        &self,
        marker: TxnMarker,
        partitions: Vec<TopicPartition>,
    ) -> Vec<(TopicPartition, i16)> {
        let mut local = Vec::new();
        let mut remote: BTreeMap<(String, u16), Vec<TopicPartition>> = BTreeMap::new();
        let mut results = Vec::new();
        for tp in partitions {
            match self.router.route(&tp.0, tp.1) {
                MarkerRoute::Local => local.push(tp),
                MarkerRoute::Remote { host, port, .. } => {
                    remote.entry((host, port)).or_default().push(tp)
                }
                MarkerRoute::Gone => {}
                // NOT_LEADER_OR_FOLLOWER: route it again after the backoff.
                MarkerRoute::Unavailable => results.push((tp, 6)),
            }
        }
        let broker = &self.broker;
        let locals = futures::future::join_all(local.into_iter().map(|tp| async move {
            let r = write_txn_markers::write_marker(broker, marker, &tp.0, tp.1).await;
            vec![(tp, r.err().unwrap_or(0))]
        }));
        let remotes = futures::future::join_all(
            remote
                .into_iter()
                .map(|((host, port), tps)| self.send(host, port, marker, tps)),
        );
        let (l, r) = futures::future::join(locals, remotes).await;
        results.extend(l.into_iter().chain(r).flatten());
        results
    }

    /// One WriteTxnMarkers request to the leader at `host:port` for `partitions`.
    async fn send(
        &self,
        host: String,
        port: u16,
        marker: TxnMarker,
        partitions: Vec<TopicPartition>,
    ) -> Vec<(TopicPartition, i16)> {
        let req = request(marker, &partitions);
        let resp = match self.peers.send(&host, port, 1, &req).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%host, port, "WriteTxnMarkers failed: {e}");
                // NOT_LEADER_OR_FOLLOWER: reconnect, or find the new leader, next round.
                return partitions.into_iter().map(|tp| (tp, 6)).collect();
            }
        };
        let answered: BTreeMap<(&str, i32), i16> = resp
            .markers
            .iter()
            .filter(|r| r.producer_id.0 == marker.producer_id)
            .flat_map(|r| r.topics.iter())
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| ((t.name.0.as_str(), p.partition_index), p.error_code))
            })
            .collect();
        partitions
            .into_iter()
            .map(|tp| {
                // A partition missing from the answer is retried.
                let code = answered.get(&(tp.0.as_str(), tp.1)).copied().unwrap_or(6);
                (tp, code)
            })
            .collect()
    }
}

/// A WriteTxnMarkers v1 request carrying `marker` for `partitions` (grouped by topic).
pub fn request(marker: TxnMarker, partitions: &[TopicPartition]) -> WriteTxnMarkersRequest {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        topics.entry(t.as_str()).or_default().push(*p);
    }
    let topics = topics
        .into_iter()
        .map(|(t, ps)| {
            WritableTxnMarkerTopic::default()
                .with_name(TopicName(StrBytes::from_string(t.to_string())))
                .with_partition_indexes(ps)
        })
        .collect();
    WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(marker.producer_id))
        .with_producer_epoch(marker.producer_epoch)
        .with_transaction_result(marker.commit)
        .with_coordinator_epoch(marker.coordinator_epoch)
        .with_topics(topics)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_kafkas_marker_completion_handler() {
        assert_eq!(verdict(0), Verdict::Done);
        assert_eq!(verdict(43), Verdict::Done);
        assert_eq!(verdict(35), Verdict::Done);
        assert_eq!(verdict(47), Verdict::Fenced);
        assert_eq!(verdict(52), Verdict::Fenced);
        for retriable in [3, 6, 7, 19, 20, 56] {
            assert_eq!(verdict(retriable), Verdict::Retry, "{retriable}");
        }
    }

    #[test]
    fn request_groups_partitions_by_topic() {
        let m = TxnMarker {
            producer_id: 9,
            producer_epoch: 2,
            commit: true,
            coordinator_epoch: 4,
        };
        let req = request(m, &[("b".into(), 1), ("a".into(), 3), ("b".into(), 0)]);
        let w = &req.markers[0];
        assert_eq!(
            (
                w.producer_id.0,
                w.producer_epoch,
                w.transaction_result,
                w.coordinator_epoch
            ),
            (9, 2, true, 4)
        );
        let topics: Vec<(&str, Vec<i32>)> = w
            .topics
            .iter()
            .map(|t| (t.name.0.as_str(), t.partition_indexes.clone()))
            .collect();
        assert_eq!(topics, vec![("a", vec![3]), ("b", vec![1, 0])]);
    }
}
