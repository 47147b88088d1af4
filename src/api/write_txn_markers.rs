//! WriteTxnMarkers (key 27), v0–1 (Kafka 4 serves only v1; v0, the same fields without the
//! flexible encoding, is what Kafka 2.x–3.x brokers sent and is decoded and answered by hand
//! in protocol/legacy): a transaction coordinator on
//! another broker asks this one, the leader of some partitions, to write the commit/abort
//! markers of a transaction. For each partition the marker is appended as the coordinator
//! (the log checks the producer epoch — INVALID_PRODUCER_EPOCH — and the coordinator epoch
//! — TRANSACTION_COORDINATOR_FENCED), fsynced and committed before the answer, within the
//! request timeout (REQUEST_TIMED_OUT); a partition not hosted here is
//! UNKNOWN_TOPIC_OR_PARTITION. Markers for `__consumer_offsets` partitions go through the
//! group coordinator, which also materializes the transaction's offsets; one it does not
//! coordinate (not loaded, loading) is NOT_LEADER_OR_FOLLOWER, as Kafka's KafkaApis
//! translates it. Each partition gets its own error; the partitions are written
//! concurrently. The local transaction coordinator writes its markers through
//! [`write_marker`] too.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::WritableTxnMarker;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{ApiKey, WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use super::errors::log_error_code;
use super::{ApiEntry, Reply, Request};
use crate::cluster::partition::CommitError;
use crate::cluster::partition::LeaderAppendError;
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::txn::CONSUMER_OFFSETS_TOPIC;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::WriteTxnMarkers,
    min: 0,
    max: 1,
};

/// request.timeout.ms (Kafka's default): how long a marker may take to be committed.
pub const MARKER_TIMEOUT: Duration = Duration::from_millis(30_000);

const UNKNOWN_SERVER_ERROR: i16 = -1;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const REQUEST_TIMED_OUT: i16 = 7;
const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
const KAFKA_STORAGE_ERROR: i16 = 56;

/// One transaction's marker, as every partition of it gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub coordinator_epoch: i32,
}

impl From<&WritableTxnMarker> for TxnMarker {
    fn from(m: &WritableTxnMarker) -> Self {
        TxnMarker {
            producer_id: m.producer_id.0,
            producer_epoch: m.producer_epoch,
            commit: m.transaction_result,
            coordinator_epoch: m.coordinator_epoch,
        }
    }
}

/// The Kafka error code of a failed wait for records to be committed (after their append).
pub fn commit_error_code(e: &CommitError) -> i16 {
    match e {
        CommitError::NotLeader => NOT_LEADER_OR_FOLLOWER,
        CommitError::NotEnoughReplicas => NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        CommitError::Offline => KAFKA_STORAGE_ERROR,
    }
}

/// Write `marker` to partition `partition` of `topic` on this broker and wait until it is
/// fsynced and committed. Err is the partition's Kafka error code. The append happens on the
/// first poll, so markers polled together are appended in order and share fsyncs.
pub async fn write_marker(
    broker: &Arc<Broker>,
    marker: TxnMarker,
    topic: &str,
    partition: i32,
) -> Result<(), i16> {
    let p = broker
        .topic(topic)
        .ok_or(UNKNOWN_TOPIC_OR_PARTITION)?
        .leader(partition, -1)?
        .clone();
    if topic == CONSUMER_OFFSETS_TOPIC {
        let groups = broker.groups.get().ok_or(NOT_LEADER_OR_FOLLOWER)?;
        return groups
            .write_marker(
                partition,
                marker.producer_id,
                marker.producer_epoch,
                marker.commit,
                marker.coordinator_epoch,
            )
            .await;
    }
    let end = {
        let info = p
            .append_control_as_leader(
                marker.producer_id,
                marker.producer_epoch,
                marker.coordinator_epoch,
                marker.commit,
                crate::cluster::now_ms(),
            )
            .map_err(|e| match e {
                LeaderAppendError::NotLeader => NOT_LEADER_OR_FOLLOWER,
                LeaderAppendError::NotEnoughReplicas { .. } => 19, // NOT_ENOUGH_REPLICAS
                LeaderAppendError::Log(e) => log_error_code(&e),
            })?;
        info.last_offset + 1
    };
    let wait = async {
        p.await_durable(end).await.map_err(|e| log_error_code(&e))?;
        p.await_committed(end)
            .await
            .map_err(|e| commit_error_code(&e))
    };
    tokio::time::timeout(MARKER_TIMEOUT, wait)
        .await
        .unwrap_or(Err(REQUEST_TIMED_OUT))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: WriteTxnMarkersRequest = if version == 0 {
        crate::protocol::legacy::requests::write_txn_markers_v0(&req.body).map_err(|e| {
            FrameError::Malformed {
                api: ApiKey::WriteTxnMarkers,
                version,
                reason: e.to_string(),
            }
        })?
    } else {
        req.decode(ApiKey::WriteTxnMarkers)?
    };
    // Kafka: CLUSTER_ACTION on the cluster (brokers only), else every partition refused.
    let denied = super::authz::authz(broker, &req)
        .cluster_error(crate::security::acl::AclOperation::ClusterAction);
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let writes: Vec<(TxnMarker, &str, i32)> = body
            .markers
            .iter()
            .flat_map(|m| {
                let marker = TxnMarker::from(m);
                m.topics.iter().flat_map(move |t| {
                    t.partition_indexes
                        .iter()
                        .map(move |&p| (marker, t.name.0.as_str(), p))
                })
            })
            .collect();
        let broker = &broker;
        let codes = futures::future::join_all(writes.into_iter().map(|(m, t, p)| async move {
            match denied {
                Some(code) => code,
                None => write_marker(broker, m, t, p).await.err().unwrap_or(0),
            }
        }))
        .await;
        let resp = WriteTxnMarkersResponse::default().with_markers(results(&body, codes));
        if version == 0 {
            return Ok(crate::protocol::legacy::responses::write_txn_markers_v0(
                req.header.correlation_id,
                &resp,
            ));
        }
        req.respond(&resp)
    })))
}

/// The answer's shape (markers, topics, partitions in request order) filled with `codes`,
/// one per partition in that order.
fn results(body: &WriteTxnMarkersRequest, codes: Vec<i16>) -> Vec<WritableTxnMarkerResult> {
    let mut codes = codes.into_iter();
    body.markers
        .iter()
        .map(|m| {
            let topics = m
                .topics
                .iter()
                .map(|t| {
                    let partitions = t
                        .partition_indexes
                        .iter()
                        .map(|&p| {
                            WritableTxnMarkerPartitionResult::default()
                                .with_partition_index(p)
                                .with_error_code(codes.next().unwrap_or(UNKNOWN_SERVER_ERROR))
                        })
                        .collect();
                    WritableTxnMarkerTopicResult::default()
                        .with_name(t.name.clone())
                        .with_partitions(partitions)
                })
                .collect();
            WritableTxnMarkerResult::default()
                .with_producer_id(m.producer_id)
                .with_topics(topics)
        })
        .collect()
}
