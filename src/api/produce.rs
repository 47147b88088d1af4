//! Produce (key 0), v3–13: validate each partition's batch, append it as the partition's
//! leader (offsets assigned in place), wake fetches; acks=0 sends nothing, acks=1 answers
//! after the append, acks=-1 once the appended bytes are committed: fsynced here and below
//! the high watermark, i.e. on every in-sync replica (bounded by the request's timeout_ms).
//! acks=-1 needs an ISR of at least min.insync.replicas before the append
//! (NOT_ENOUGH_REPLICAS) and after it (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
//! v13 names topics by id. One partition's error never fails the others. v10+ (KIP-951): a
//! partition answered NOT_LEADER_OR_FOLLOWER carries the leader this node knows, and the
//! response the endpoints of those leaders, so that clients move without a Metadata round trip.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ApiKey, BrokerId, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::errors::log_error_code;
use super::{now_ms, ApiEntry, Reply, Request};
use crate::cluster::partition::{CommitError, LeaderAppendError};
use crate::cluster::{Broker, Partition, Topic};
use crate::log::AppendOrigin;
use crate::protocol::batch::{BatchError, BatchHeader, BatchIter};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::Produce,
    min: 3,
    max: 13,
};

fn error_response(index: i32, code: i16, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(StrBytes::from_string))
}

/// Kafka accepts exactly one v2 batch per partition in Produce v3+: a wrong magic or a
/// second batch is INVALID_RECORD; a torn or mis-sized batch is CORRUPT_MESSAGE.
fn check_single_batch(records: &[u8]) -> Result<BatchHeader, (i16, String)> {
    let mut it = BatchIter::new(records);
    match (it.next(), it.next()) {
        (Some(Ok((header, _))), None) => Ok(header),
        (None, _) => Err((
            ResponseError::InvalidRecord.code(),
            "Produce request has no record batch".into(),
        )),
        (Some(Err(BatchError::UnsupportedMagic(m))), _) => Err((
            ResponseError::InvalidRecord.code(),
            format!("Produce requests v3+ may only hold record batches with magic 2 (got {m})"),
        )),
        (Some(Err(e)), _) => Err((
            ResponseError::CorruptMessage.code(),
            format!("malformed record batch: {e:?}"),
        )),
        (Some(Ok(_)), Some(_)) => Err((
            ResponseError::InvalidRecord.code(),
            "Produce requests v3+ may hold exactly one record batch per partition".into(),
        )),
    }
}

/// Append one partition's data; on success returns the response and the end offset to await.
fn append_partition(
    broker: &Broker,
    topic: &Topic,
    data: &PartitionProduceData,
    acks: i16,
    coordinated_here: bool,
    now: i64,
) -> (PartitionProduceResponse, Option<(Arc<Partition>, i64)>) {
    let partition = match topic.leader(data.index, -1) {
        Ok(p) => p,
        Err(code) => return (error_response(data.index, code, None), None),
    };
    let Some(records) = data.records.as_ref() else {
        return (
            error_response(
                data.index,
                ResponseError::InvalidRecord.code(),
                Some("null records".into()),
            ),
            None,
        );
    };
    let header = match check_single_batch(records) {
        Ok(h) => h,
        Err((code, why)) => return (error_response(data.index, code, Some(why)), None),
    };
    // KIP-890 verification: a transactional batch goes only to a partition of the producer's
    // ongoing transaction (else the transaction could hang here unknown to its coordinator).
    // The view is the local coordinator's, so only transactions coordinated here are checked
    // (Kafka asks a remote coordinator with AddPartitionsToTxn verify_only: not done yet).
    if broker.config.transaction_partition_verification_enable
        && coordinated_here
        && header.is_transactional()
        && !header.is_control()
        && header.producer_id >= 0
    {
        if let Err(code) = broker.txn_partitions.check(
            header.producer_id,
            header.producer_epoch,
            &topic.name,
            data.index,
        ) {
            let why = if code == ResponseError::InvalidTxnState.code() {
                "Partition was not added to the transaction"
            } else {
                "Producer epoch is older than the transaction's"
            };
            return (error_response(data.index, code, Some(why.into())), None);
        }
    }
    let mut bytes = records.to_vec();
    let res = partition.append_as_leader(&mut bytes, now, AppendOrigin::Client, acks == -1);
    match res {
        Ok(info) => {
            if !info.duplicate {
                let stats = &partition.stats;
                stats.bytes_in.fetch_add(bytes.len() as u64, Relaxed);
                stats
                    .records_in
                    .fetch_add(header.records_count.max(0) as u64, Relaxed);
            }
            // A retried batch is answered with the offsets it got the first time (Kafka).
            let resp = PartitionProduceResponse::default()
                .with_index(data.index)
                .with_error_code(0)
                .with_base_offset(info.base_offset)
                .with_log_append_time_ms(info.log_append_time)
                .with_log_start_offset(info.log_start_offset);
            (resp, Some((Arc::clone(partition), info.last_offset + 1)))
        }
        Err(e) => {
            tracing::debug!(topic = %topic.name, partition = data.index, "produce rejected: {e}");
            let code = match &e {
                LeaderAppendError::NotLeader => ResponseError::NotLeaderOrFollower.code(),
                LeaderAppendError::NotEnoughReplicas { .. } => {
                    ResponseError::NotEnoughReplicas.code()
                }
                LeaderAppendError::Log(e) => log_error_code(e),
            };
            (error_response(data.index, code, Some(e.to_string())), None)
        }
    }
}

/// Whether this broker coordinates `transactional_id` (leads its `__transaction_state`
/// partition), so that its view of the producer's transaction is authoritative.
fn coordinated_here(broker: &Broker, transactional_id: &str) -> bool {
    let Some(t) = broker.topic(crate::server::txn_runtime::TXN_TOPIC) else {
        return true;
    };
    let p = crate::group::partition_for(transactional_id, t.partitions.len() as i32);
    t.slot(p)
        .is_none_or(|s| s.meta.leader == broker.config.node_id)
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: ProduceRequest = req.decode(ApiKey::Produce)?;
    let acks = body.acks;
    let now = now_ms();
    let coordinated_here = body
        .transactional_id
        .as_ref()
        .is_none_or(|tid| coordinated_here(broker, tid.as_str()));
    let mut topics = Vec::with_capacity(body.topic_data.len());
    let mut to_sync: Vec<(usize, usize, Arc<Partition>, i64)> = Vec::new();
    for td in &body.topic_data {
        let topic = if version >= 13 {
            broker.topic_by_id(&td.topic_id)
        } else {
            broker.topic(td.name.0.as_str())
        };
        let unknown = if version >= 13 {
            ResponseError::UnknownTopicId.code()
        } else {
            ResponseError::UnknownTopicOrPartition.code()
        };
        let mut parts = Vec::with_capacity(td.partition_data.len());
        for pd in &td.partition_data {
            let r = match (&topic, acks) {
                (_, a) if !(a == -1 || a == 0 || a == 1) => (
                    error_response(pd.index, ResponseError::InvalidRequiredAcks.code(), None),
                    None,
                ),
                (None, _) => (error_response(pd.index, unknown, None), None),
                // Internal topics are written by the coordinators only, as in Kafka.
                (Some(t), _) if t.internal => (
                    error_response(
                        pd.index,
                        ResponseError::InvalidTopicException.code(),
                        Some(format!("Cannot append to internal topic {}", t.name)),
                    ),
                    None,
                ),
                (Some(t), _) => append_partition(broker, t, pd, acks, coordinated_here, now),
            };
            if let (Some((p, end)), -1) = (r.1, acks) {
                // Start the fsync now; only the wait is left to the in-order reply.
                p.request_durable(end);
                to_sync.push((topics.len(), parts.len(), p, end));
            }
            parts.push(r.0);
        }
        topics.push(
            TopicProduceResponse::default()
                .with_name(td.name.clone())
                .with_topic_id(td.topic_id)
                .with_partition_responses(parts),
        );
    }
    if acks == 0 {
        return Ok(Reply::None);
    }
    let correlation_id = req.header.correlation_id;
    if to_sync.is_empty() {
        let mut resp = ProduceResponse::default().with_responses(topics);
        add_current_leaders(broker, version, &mut resp);
        return encode_response(correlation_id, version, &resp).map(Reply::Now);
    }
    let broker = Arc::clone(broker);
    let timeout = Duration::from_millis(body.timeout_ms.max(0) as u64);
    Ok(Reply::Later(Box::pin(async move {
        let waits = to_sync.iter().map(|(_, _, p, end)| {
            let p = Arc::clone(p);
            let end = *end;
            async move {
                tokio::time::timeout(timeout, async {
                    p.await_durable(end)
                        .await
                        .map_err(|_| CommitError::Offline)?;
                    p.await_committed(end).await
                })
                .await
            }
        });
        let results = futures::future::join_all(waits).await;
        for ((ti, pi, _, _), r) in to_sync.iter().zip(results) {
            let code = match r {
                Ok(Ok(())) => continue,
                // Kafka: committed, but the ISR shrank below min.insync.replicas meanwhile.
                Ok(Err(CommitError::NotEnoughReplicas)) => {
                    ResponseError::NotEnoughReplicasAfterAppend.code()
                }
                Ok(Err(CommitError::Offline)) => ResponseError::KafkaStorageError.code(),
                Ok(Err(CommitError::NotLeader)) => ResponseError::NotLeaderOrFollower.code(),
                Err(_) => ResponseError::RequestTimedOut.code(),
            };
            if let Some(p) = topics
                .get_mut(*ti)
                .and_then(|t| t.partition_responses.get_mut(*pi))
            {
                p.error_code = code;
                p.base_offset = -1;
            }
        }
        let mut resp = ProduceResponse::default().with_responses(topics);
        add_current_leaders(&broker, version, &mut resp);
        encode_response(correlation_id, version, &resp)
    })))
}

/// KIP-951 (v10+, as Kafka 3.7+): each partition answered NOT_LEADER_OR_FOLLOWER gets the
/// leader and leader epoch of this node's metadata (-1 when it knows none), and the response
/// the endpoint of each such leader that is registered and unfenced.
fn add_current_leaders(broker: &Broker, version: i16, resp: &mut ProduceResponse) {
    if version < 10 {
        return;
    }
    let cluster = broker.cluster();
    let mut endpoints = BTreeMap::new();
    for t in &mut resp.responses {
        let topic = if version >= 13 {
            broker.topic_by_id(&t.topic_id)
        } else {
            broker.topic(t.name.0.as_str())
        };
        for p in &mut t.partition_responses {
            if p.error_code != ResponseError::NotLeaderOrFollower.code() {
                continue;
            }
            let (leader, epoch) = topic
                .as_ref()
                .and_then(|t| t.slot(p.index))
                .map_or((-1, -1), |s| (s.meta.leader, s.meta.leader_epoch));
            p.current_leader = LeaderIdAndEpoch::default()
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(epoch);
            if let Some(b) = cluster.live().find(|b| b.id == leader) {
                endpoints.entry(b.id).or_insert_with(|| {
                    NodeEndpoint::default()
                        .with_node_id(BrokerId(b.id))
                        .with_host(StrBytes::from_string(b.host.clone()))
                        .with_port(i32::from(b.port))
                        .with_rack(b.rack.clone().map(StrBytes::from_string))
                });
            }
        }
    }
    resp.node_endpoints = endpoints.into_values().collect();
}
