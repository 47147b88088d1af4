//! Produce (key 0), v0–13: validate each partition's batch, append it as the partition's
//! leader (offsets assigned in place), wake fetches; acks=0 sends nothing, acks=1 answers
//! after the append, acks=-1 once the appended bytes are committed: fsynced here and below
//! the high watermark, i.e. on every in-sync replica (bounded by the request's timeout_ms).
//! acks=-1 needs an ISR of at least min.insync.replicas before the append
//! (NOT_ENOUGH_REPLICAS) and after it (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
//! v13 names topics by id. One partition's error never fails the others. A partition led
//! elsewhere carries the current leader and its endpoint (KIP-951, v10+).
//! v0–2 (removed in Kafka 4 by KIP-896, served as Kafka 3.x did) carry message sets of magic
//! 0/1, up-converted to one v2 batch per partition before the append (protocol/legacy), with
//! the producer's codec kept; Kafka 4 still advertises v0 so that old librdkafka compresses.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse,
    TopicProduceResponse,
};
use kafka_protocol::messages::{ApiKey, BrokerId, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::authz::{TOPIC_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED};
use super::errors::log_error_code;
use super::leader_hints::LeaderHints;
use super::{now_ms, ApiEntry, Reply, Request};
use crate::cluster::partition::{CommitError, LeaderAppendError};
use crate::cluster::{Broker, Partition, Topic};
use crate::log::TimestampType;
use crate::log::{AppendOrigin, LogError};
use crate::protocol::batch::{BatchError, BatchHeader, BatchIter};
use crate::protocol::legacy::{self, message_set};
use crate::protocol::{encode_response, FrameError};
use crate::security::acl::AclOperation;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::Produce,
    min: 0,
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
    version: i16,
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
    // Produce v0–2 sends magic 0/1 message sets: up-convert to one v2 batch, as Kafka's
    // LogValidator does (v3+ may hold only v2 batches: INVALID_RECORD below).
    let converted;
    let records: &[u8] = if version < 3 && message_set::is_legacy(records) {
        let lat = partition.log().config().message_timestamp_type == TimestampType::LogAppendTime;
        match message_set::up_convert(records, lat) {
            Ok(b) => {
                converted = b;
                &converted
            }
            Err(e) => {
                return (
                    error_response(data.index, e.code(), Some(e.to_string())),
                    None,
                )
            }
        }
    } else {
        records
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
            let mut resp = error_response(data.index, code, Some(e.to_string()));
            // KIP-467 (v8+): the records that failed, so that a client fails only those with
            // this error (librdkafka fails the batch's others with _INVALID_DIFFERENT_RECORD).
            if let (LeaderAppendError::Log(LogError::RecordErrors { errors, .. }), 8..) =
                (&e, version)
            {
                resp.record_errors = errors
                    .iter()
                    .map(|r| {
                        BatchIndexAndErrorMessage::default()
                            .with_batch_index(r.batch_index)
                            .with_batch_index_error_message(Some(StrBytes::from_string(
                                r.message.clone(),
                            )))
                    })
                    .collect();
            }
            (resp, None)
        }
    }
}

/// Whether this broker coordinates `transactional_id` (leads its `__transaction_state`
/// partition), so that its view of the producer's transaction is authoritative.
pub(super) fn coordinated_here(broker: &Broker, transactional_id: &str) -> bool {
    let Some(t) = broker.topic(crate::server::txn_runtime::TXN_TOPIC) else {
        return true;
    };
    let p = crate::group::partition_for(transactional_id, t.partitions.len() as i32);
    t.slot(p)
        .is_none_or(|s| s.meta.leader == broker.config.node_id)
}

/// KIP-951 (v10+): partitions answered NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH carry the
/// current leader, and the response the leaders' endpoints.
fn add_leader_hints(broker: &Broker, version: i16, listener: &str, resp: &mut ProduceResponse) {
    if version < 10 {
        return;
    }
    let mut hints = LeaderHints::new(broker);
    for t in resp.responses.iter_mut() {
        if !t
            .partition_responses
            .iter()
            .any(|p| LeaderHints::wanted(p.error_code))
        {
            continue;
        }
        let topic = if version >= 13 {
            broker.topic_by_id(&t.topic_id)
        } else {
            broker.topic(t.name.0.as_str())
        };
        for p in t.partition_responses.iter_mut() {
            if let Some((leader, epoch)) = hints.hint(topic.as_deref(), p.index, p.error_code) {
                p.current_leader = LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(leader))
                    .with_leader_epoch(epoch);
            }
        }
    }
    resp.node_endpoints = hints
        .endpoints()
        .into_iter()
        .filter_map(|b| b.on_listener(listener))
        .map(|b| {
            NodeEndpoint::default()
                .with_node_id(BrokerId(b.id))
                .with_host(b.host.clone().into())
                .with_port(i32::from(b.port))
                .with_rack(b.rack.clone().map(Into::into))
        })
        .collect();
}

/// The produce quota (`producer_byte_rate`): record the request's bytes for the principal
/// and client id; when over the quota, mute the connection for the throttle time (KIP-219)
/// and return it for the response's `throttle_time_ms`. Free while no produce quota is set.
fn produce_throttle(broker: &Broker, req: &Request, bytes: usize) -> i32 {
    use crate::security::quota::QuotaKind;
    if !broker.quotas.is_active(QuotaKind::Produce) {
        return 0;
    }
    let now = now_ms();
    let principal = req.conn.principal();
    let client_id = req.client_id();
    let t = broker.quotas.record(
        QuotaKind::Produce,
        &principal,
        &client_id,
        bytes as f64,
        now,
    );
    if t > 0 {
        req.conn.throttle_until(now + t);
    }
    t.min(i64::from(i32::MAX)) as i32
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let throttle_ms = produce_throttle(broker, &req, req.body.len());
    let body: ProduceRequest = if version < 3 {
        legacy::requests::produce(&req.body).map_err(|e| FrameError::Malformed {
            api: ApiKey::Produce,
            version,
            reason: e.to_string(),
        })?
    } else {
        req.decode(ApiKey::Produce)?
    };
    // Transactions V2 (KIP-890 part 2): add the partitions to the transaction first.
    if let Some(adds) = super::txn_implicit::produce_adds(broker, version, &body) {
        let broker = Arc::clone(broker);
        return Ok(Reply::Later(Box::pin(async move {
            let failed = adds.await;
            match serve(&broker, req, body, &failed, throttle_ms)? {
                Reply::Now(b) => Ok(b),
                Reply::Later(f) => f.await,
                // acks=0 is never added for (produce_adds).
                Reply::None => Ok(Bytes::new()),
            }
        })));
    }
    serve(broker, req, body, &HashMap::new(), throttle_ms)
}

/// Serve a decoded request; `failed`: partitions whose implicit add to the producer's
/// transaction failed (transactions V2), with their error.
fn serve(
    broker: &Arc<Broker>,
    req: Request,
    body: ProduceRequest,
    failed: &HashMap<(String, i32), i16>,
    throttle_ms: i32,
) -> Result<Reply, FrameError> {
    let version = req.version;
    let acks = body.acks;
    let now = now_ms();
    let coordinated_here = body
        .transactional_id
        .as_ref()
        .is_none_or(|tid| coordinated_here(broker, tid.as_str()));
    let az = super::authz::authz(broker, &req);
    // Kafka: transactional records need WRITE on the transactional id (else every partition
    // is refused), then each topic needs WRITE.
    let txn_denied = body
        .transactional_id
        .as_ref()
        .is_some_and(|tid| !az.transactional_id(AclOperation::Write, tid.as_str()));
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
        let name = match &topic {
            Some(t) => Some(t.name.clone()),
            None if version < 13 => Some(td.name.0.as_str().to_string()),
            None => None,
        };
        let topic_denied = name
            .as_ref()
            .is_some_and(|n| !az.topic(AclOperation::Write, n));
        let mut parts = Vec::with_capacity(td.partition_data.len());
        for pd in &td.partition_data {
            let r = match (&topic, acks) {
                (_, a) if !(a == -1 || a == 0 || a == 1) => (
                    error_response(pd.index, ResponseError::InvalidRequiredAcks.code(), None),
                    None,
                ),
                _ if txn_denied => (
                    error_response(pd.index, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, None),
                    None,
                ),
                _ if topic_denied => (
                    error_response(pd.index, TOPIC_AUTHORIZATION_FAILED, None),
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
                (Some(t), _) => match failed.get(&(t.name.clone(), pd.index)) {
                    Some(&code) => (
                        error_response(
                            pd.index,
                            code,
                            Some("Unable to add the partition to the transaction".into()),
                        ),
                        None,
                    ),
                    None => append_partition(broker, t, pd, acks, coordinated_here, now, version),
                },
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
        let mut resp = ProduceResponse::default()
            .with_responses(topics)
            .with_throttle_time_ms(throttle_ms);
        add_leader_hints(broker, version, &req.conn.listener, &mut resp);
        return encode(correlation_id, version, &resp).map(Reply::Now);
    }
    let timeout = Duration::from_millis(body.timeout_ms.max(0) as u64);
    let broker = Arc::clone(broker);
    let listener = Arc::clone(&req.conn.listener);
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
        let mut resp = ProduceResponse::default()
            .with_responses(topics)
            .with_throttle_time_ms(throttle_ms);
        add_leader_hints(&broker, version, &listener, &mut resp);
        encode(correlation_id, version, &resp)
    })))
}

/// The response frame: the crate's codec from v3, the hand-written one below.
fn encode(correlation_id: i32, version: i16, resp: &ProduceResponse) -> Result<Bytes, FrameError> {
    if version < 3 {
        return Ok(legacy::responses::produce(correlation_id, version, resp));
    }
    encode_response(correlation_id, version, resp)
}
