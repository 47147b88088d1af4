//! Fetch (key 1), v0–18: return stored batches as they are (never re-encoded), whole batches
//! only, starting with the batch that contains the fetch offset.
//!
//! v0–3 (removed in Kafka 4 by KIP-896, served as Kafka 3.x did) want message sets: v0–1 of
//! magic 0, v2–3 of magic 1. The batches read are down-converted (protocol/legacy), at most
//! the partition's byte limit of output, control batches skipped, compressed batches
//! re-wrapped with their codec (zstd: UNSUPPORTED_COMPRESSION_TYPE); a topic with
//! `message.downconversion.enable=false` answers UNSUPPORTED_VERSION, as Kafka.
//!
//! Limits (KIP-74): each partition gets at most `partition_max_bytes`, the response at most
//! `max_bytes` (capped by the broker's `fetch.max.bytes`), except that the first batch of the
//! first non-empty partition is returned whole even when larger, so consumers always progress.
//! Long poll: when fewer than `min_bytes` are available the fetch waits for an append to any
//! partition read (no sleep loop), up to `max_wait_ms`.
//! Fetch sessions (KIP-227, v7+; the state machine is cluster/fetch_sessions.rs): the cache
//! first gives a context. A full request (epoch 0) is answered from its partitions and then may
//! create a session of them (its id in the response); FINAL (-1) is sessionless (session id 0).
//! An incremental request updates its session and reads every partition of it — so the long
//! poll waits on the whole session, named in the request or not — and the cache then keeps only
//! the partitions with news. Session errors (FETCH_SESSION_ID_NOT_FOUND,
//! INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR) are answered at once without
//! partitions. A session's topics are by name (v7–12) or by id (v13+); the response lists a
//! topic once per run of consecutive partitions of it in the session's order, as Kafka's.
//! A partition led elsewhere carries the current leader (v12+) and the response its endpoint
//! (v16+), as KIP-951 has it.

use crate::security::quota::QuotaKind;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::FetchPartition;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint,
    PartitionData,
};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, ProducerId, TopicName};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::errors::log_error_code;
use super::leader_hints::LeaderHints;
use super::{ApiEntry, Reply, Request};
use crate::cluster::fetch_sessions::{
    Context, Finish, PartKey, PartitionOutcome, PartitionReq, TopicKey, FINAL_EPOCH,
    INVALID_SESSION_ID,
};
use crate::cluster::{Broker, Partition};
use crate::protocol::batch::BatchIter;
use crate::protocol::legacy::{self, message_set};
use crate::protocol::{encode_response, FrameError};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::Fetch,
    min: 0,
    max: 18,
};

/// A requested partition, resolved once.
struct Wanted {
    topic_idx: usize,
    partition: Option<Arc<Partition>>,
    error: i16,
    index: i32,
    fetch_offset: i64,
    partition_max_bytes: usize,
    /// A follower's epoch of its last fetched batch (-1: none), for divergence.
    last_fetched_epoch: i32,
    /// A follower's log start offset.
    log_start_offset: i64,
    current_leader_epoch: i32,
    /// The topic's `message.downconversion.enable`.
    down_conversion: bool,
    /// The request's data for the partition, as a fetch session keeps it.
    req: PartitionReq,
}

/// A topic's `message.downconversion.enable` (default true).
fn down_conversion_enabled(broker: &Broker, topic: &crate::cluster::Topic) -> bool {
    const KEY: &str = "message.downconversion.enable";
    let value = topic.configs.get(KEY).cloned().or_else(|| {
        crate::config::topic_config_def(KEY).and_then(|d| broker.config.topic_default(d))
    });
    value.is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"))
}

/// Fetch v0–3: replace each partition's v2 batches by a message set of the version's magic.
fn down_convert(version: i16, wanted: &[Wanted], topics: &mut [FetchableTopicResponse]) {
    let magic = if version <= 1 { 0 } else { 1 };
    let returned = topics.iter_mut().flat_map(|t| t.partitions.iter_mut());
    for (w, pd) in wanted.iter().zip(returned) {
        let Some(records) = pd.records.as_ref().filter(|r| !r.is_empty()) else {
            continue;
        };
        if !w.down_conversion {
            pd.error_code = ResponseError::UnsupportedVersion.code();
            pd.records = Some(Bytes::new());
            continue;
        }
        match message_set::down_convert(records, magic, w.fetch_offset, w.partition_max_bytes) {
            Ok(set) => pd.records = Some(Bytes::from(set)),
            Err(e) => {
                tracing::debug!(partition = w.index, "down-conversion failed: {e}");
                pd.error_code = e.code();
                pd.records = Some(Bytes::new());
            }
        }
    }
}

fn empty_partition(index: i32, code: i16) -> PartitionData {
    PartitionData::default()
        .with_partition_index(index)
        .with_error_code(code)
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_log_start_offset(-1)
        .with_preferred_read_replica(kafka_protocol::messages::BrokerId(-1))
        .with_records(Some(Bytes::new()))
}

/// Read every wanted partition once; returns the response topics, bytes gathered, and
/// whether any partition carries an error (which answers the fetch at once, as in Kafka).
fn gather(
    wanted: &[Wanted],
    skeleton: &[FetchableTopicResponse],
    max_bytes: usize,
    reader: Reader,
) -> (Vec<FetchableTopicResponse>, usize, bool) {
    let mut topics: Vec<FetchableTopicResponse> = skeleton.to_vec();
    let mut total = 0usize;
    let mut any_error = false;
    for w in wanted {
        let pd = match &w.partition {
            None => {
                any_error = true;
                empty_partition(w.index, w.error)
            }
            Some(p) => read_partition(p, w, max_bytes, &mut total, &mut any_error, reader),
        };
        if let Some(t) = topics.get_mut(w.topic_idx) {
            t.partitions.push(pd);
        }
    }
    (topics, total, any_error)
}

/// Who is fetching: a consumer reads below the high watermark (read_committed: below the
/// last stable offset); a follower replica reads up to the log end offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Consumer { read_committed: bool },
    Follower,
}

/// One partition's data for a fetch. A follower whose last fetched epoch diverges from the
/// leader's log gets `diverging_epoch` (KIP-320) and no records.
fn read_partition(
    p: &Arc<Partition>,
    w: &Wanted,
    max_bytes: usize,
    total: &mut usize,
    any_error: &mut bool,
    reader: Reader,
) -> PartitionData {
    let limit = w.partition_max_bytes.min(max_bytes.saturating_sub(*total));
    let read_committed = reader
        == Reader::Consumer {
            read_committed: true,
        };
    let (plan, hw, lso, log_start, diverging) = {
        let log = p.log();
        let hw = log.high_watermark();
        let lso = log.last_stable_offset();
        let diverging = (reader == Reader::Follower && w.last_fetched_epoch >= 0)
            .then(|| log.end_offset_for_epoch(w.last_fetched_epoch))
            .filter(|&(epoch, end)| epoch != w.last_fetched_epoch || end < w.fetch_offset);
        let plan = match (reader, diverging) {
            (_, Some(_)) => Ok(crate::log::ReadPlan::empty()),
            (Reader::Follower, None) => log.read(w.fetch_offset, limit, *total == 0),
            // read_committed stops at the last stable offset, the others at the HW.
            (Reader::Consumer { read_committed }, None) => {
                let upto = if read_committed { lso } else { hw };
                log.read_upto(w.fetch_offset, limit, *total == 0, upto)
            }
        };
        (plan, hw, lso, log.log_start_offset(), diverging)
    };
    let read = plan.and_then(|plan| plan.execute());
    match read {
        Ok(records) => {
            *total += records.len();
            let aborted =
                read_committed.then(|| aborted_transactions(p, w.fetch_offset, &records, lso));
            let mut pd = PartitionData::default()
                .with_partition_index(w.index)
                .with_error_code(0)
                .with_high_watermark(hw)
                .with_last_stable_offset(lso)
                .with_log_start_offset(log_start)
                .with_aborted_transactions(aborted)
                .with_preferred_read_replica(kafka_protocol::messages::BrokerId(-1))
                .with_records(Some(records));
            if let Some((epoch, end_offset)) = diverging {
                pd.diverging_epoch = EpochEndOffset::default()
                    .with_epoch(epoch)
                    .with_end_offset(end_offset);
            }
            pd
        }
        Err(e) => {
            *any_error = true;
            empty_partition(w.index, log_error_code(&e))
                .with_high_watermark(hw)
                .with_last_stable_offset(lso)
                .with_log_start_offset(log_start)
        }
    }
}

/// The aborted transactions a read_committed consumer needs to filter `records` (read from
/// `fetch_offset`): those overlapping [fetch_offset, end of the data returned), as Kafka's
/// collectAbortedTransactions; `upper` (the LSO) bounds an empty read.
fn aborted_transactions(
    p: &Partition,
    fetch_offset: i64,
    records: &Bytes,
    upper: i64,
) -> Vec<AbortedTransaction> {
    let end = BatchIter::new(records)
        .filter_map(|b| b.ok())
        .last()
        .map_or(upper, |(h, _)| h.last_offset() + 1);
    p.log()
        .aborted_transactions(fetch_offset, end)
        .into_iter()
        .map(|(producer_id, first_offset)| {
            AbortedTransaction::default()
                .with_producer_id(ProducerId(producer_id))
                .with_first_offset(first_offset)
        })
        .collect()
}

/// The fetch quota: record the records' bytes for the consumer's principal and client id;
/// over the quota, take them back, mute the connection for the throttle time (KIP-219) and
/// return it (the response then carries no data, as Kafka's).
fn fetch_throttle(
    broker: &Broker,
    quota: Option<&(
        Arc<crate::security::KafkaPrincipal>,
        String,
        Arc<super::ConnectionInfo>,
    )>,
    topics: &[FetchableTopicResponse],
) -> i32 {
    let Some((principal, client_id, conn)) = quota else {
        return 0;
    };
    let bytes: usize = topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter_map(|p| p.records.as_ref().map(|r| r.len()))
        .sum();
    let now = super::now_ms();
    let t = broker
        .quotas
        .record(QuotaKind::Fetch, principal, client_id, bytes as f64, now);
    if t > 0 {
        broker
            .quotas
            .unrecord(QuotaKind::Fetch, principal, client_id, bytes as f64, now);
        conn.throttle_until(now + t);
    }
    t.min(i64::from(i32::MAX)) as i32
}

/// Add the bytes returned to each partition's `bytes_out`. `wanted` is in response order:
/// grouped by topic, partitions in request order, as `gather` builds the response.
fn count_bytes_out(wanted: &[Wanted], topics: &[FetchableTopicResponse]) {
    let returned = topics.iter().flat_map(|t| t.partitions.iter());
    for (w, pd) in wanted.iter().zip(returned) {
        if let (Some(p), Some(records)) = (&w.partition, &pd.records) {
            p.stats.bytes_out.fetch_add(records.len() as u64, Relaxed);
        }
    }
}

/// KIP-951: partitions answered NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH carry the
/// current leader (a tagged field from v12), and the response the leaders' endpoints (v16+).
fn add_leader_hints(broker: &Broker, version: i16, listener: &str, resp: &mut FetchResponse) {
    let mut hints = LeaderHints::new(broker);
    for t in resp.responses.iter_mut() {
        if !t
            .partitions
            .iter()
            .any(|p| LeaderHints::wanted(p.error_code))
        {
            continue;
        }
        let topic = if version >= 13 {
            broker.topic_by_id(&t.topic_id)
        } else {
            broker.topic(t.topic.0.as_str())
        };
        for p in t.partitions.iter_mut() {
            if let Some((leader, epoch)) =
                hints.hint(topic.as_deref(), p.partition_index, p.error_code)
            {
                p.current_leader = LeaderIdAndEpoch::default()
                    .with_leader_id(kafka_protocol::messages::BrokerId(leader))
                    .with_leader_epoch(epoch);
            }
        }
    }
    if version >= 16 {
        resp.node_endpoints = hints
            .endpoints()
            .into_iter()
            .filter_map(|b| b.on_listener(listener))
            .map(|b| {
                NodeEndpoint::default()
                    .with_node_id(kafka_protocol::messages::BrokerId(b.id))
                    .with_host(b.host.clone().into())
                    .with_port(i32::from(b.port))
                    .with_rack(b.rack.clone().map(Into::into))
            })
            .collect();
    }
}

/// The partitions of one topic to read, as the response names the topic.
struct TopicGroup {
    name: TopicName,
    id: Uuid,
    parts: Vec<(i32, PartitionReq)>,
}

fn partition_req(fp: &FetchPartition) -> PartitionReq {
    PartitionReq {
        fetch_offset: fp.fetch_offset,
        log_start_offset: fp.log_start_offset,
        max_bytes: fp.partition_max_bytes,
        current_leader_epoch: fp.current_leader_epoch,
        last_fetched_epoch: fp.last_fetched_epoch,
    }
}

/// The request's topics as groups (full and sessionless requests).
fn request_groups(body: &FetchRequest) -> Vec<TopicGroup> {
    body.topics
        .iter()
        .map(|ft| TopicGroup {
            name: ft.topic.clone(),
            id: ft.topic_id,
            parts: ft
                .partitions
                .iter()
                .map(|fp| (fp.partition, partition_req(fp)))
                .collect(),
        })
        .collect()
}

/// A session's partitions as groups: consecutive partitions of one topic share a group (the
/// response lists a topic again when its partitions are not consecutive, as Kafka's).
fn session_groups(broker: &Broker, partitions: &[(PartKey, PartitionReq)]) -> Vec<TopicGroup> {
    let mut groups: Vec<TopicGroup> = Vec::new();
    let mut last: Option<&TopicKey> = None;
    for (key, req) in partitions {
        if last != Some(&key.topic) {
            let (name, id) = match &key.topic {
                TopicKey::Id(id) => (
                    broker
                        .topic_by_id(id)
                        .map(|t| TopicName(t.name.clone().into()))
                        .unwrap_or_default(),
                    *id,
                ),
                TopicKey::Name(name) => (TopicName(name.to_string().into()), Uuid::nil()),
            };
            groups.push(TopicGroup {
                name,
                id,
                parts: Vec::new(),
            });
            last = Some(&key.topic);
        }
        if let Some(g) = groups.last_mut() {
            g.parts.push((key.partition, *req));
        }
    }
    groups
}

/// The session key of each response topic (full requests that may create a session).
fn topic_keys(skeleton: &[FetchableTopicResponse], uses_topic_ids: bool) -> Vec<TopicKey> {
    skeleton
        .iter()
        .map(|t| {
            if uses_topic_ids {
                TopicKey::Id(t.topic_id)
            } else {
                TopicKey::Name(Arc::from(t.topic.0.as_str()))
            }
        })
        .collect()
}

/// What the session rules read of one response partition.
fn outcome(pd: &PartitionData) -> PartitionOutcome {
    PartitionOutcome {
        records_len: pd.records.as_ref().map_or(0, |r| r.len()),
        high_watermark: pd.high_watermark,
        log_start_offset: pd.log_start_offset,
        preferred_read_replica: pd.preferred_read_replica.0,
        error_code: pd.error_code,
        diverging_epoch: pd.diverging_epoch.epoch >= 0 || pd.diverging_epoch.end_offset >= 0,
    }
}

/// Resolve every partition to read once: the response skeleton (one entry per group) and the
/// partitions in response order.
fn resolve(
    broker: &Broker,
    version: i16,
    groups: Vec<TopicGroup>,
) -> (Vec<FetchableTopicResponse>, Vec<Wanted>) {
    let mut skeleton = Vec::with_capacity(groups.len());
    let mut wanted: Vec<Wanted> = Vec::new();
    for (ti, g) in groups.into_iter().enumerate() {
        let topic = if version >= 13 {
            broker.topic_by_id(&g.id)
        } else {
            broker.topic(g.name.0.as_str())
        };
        let unknown = if version >= 13 {
            ResponseError::UnknownTopicId.code()
        } else {
            ResponseError::UnknownTopicOrPartition.code()
        };
        // Only v0–3 down-convert.
        let down_conversion = version >= 4
            || topic
                .as_ref()
                .is_none_or(|t| down_conversion_enabled(broker, t));
        for (index, req) in g.parts {
            // Only the leader serves fetches (consumers and followers alike).
            let resolved = match &topic {
                None => Err(unknown),
                Some(t) => t.leader(index, req.current_leader_epoch).cloned(),
            };
            let (partition, error) = match resolved {
                Ok(p) => (Some(p), 0),
                Err(code) => (None, code),
            };
            wanted.push(Wanted {
                topic_idx: ti,
                partition,
                error,
                index,
                fetch_offset: req.fetch_offset,
                partition_max_bytes: req.max_bytes.max(0) as usize,
                last_fetched_epoch: req.last_fetched_epoch,
                log_start_offset: req.log_start_offset,
                current_leader_epoch: req.current_leader_epoch,
                down_conversion,
                req,
            });
        }
        skeleton.push(
            FetchableTopicResponse::default()
                .with_topic(g.name)
                .with_topic_id(g.id),
        );
    }
    (skeleton, wanted)
}

/// The session's part of answering: a full request may create a session (its id goes in the
/// response); an incremental one keeps only the partitions Kafka's rules select, or fails
/// with INVALID_FETCH_SESSION_EPOCH when a duplicate request moved the session meanwhile.
/// Returns (error code, session id).
fn settle_session(
    broker: &Broker,
    context: &Context,
    wanted: &[Wanted],
    topic_keys: &[TopicKey],
    topics: &mut Vec<FetchableTopicResponse>,
) -> (i16, i32) {
    match context {
        Context::Full {
            privileged,
            uses_topic_ids,
        } => {
            let returned = topics.iter().flat_map(|t| t.partitions.iter());
            let parts = wanted
                .iter()
                .zip(returned)
                .filter_map(|(w, pd)| {
                    let topic = topic_keys.get(w.topic_idx)?.clone();
                    let key = PartKey {
                        topic,
                        partition: w.index,
                    };
                    Some((key, w.req, outcome(pd)))
                })
                .collect();
            let id = broker.fetch_sessions().create_session(
                super::now_ms(),
                *privileged,
                *uses_topic_ids,
                parts,
            );
            (0, id)
        }
        Context::Incremental {
            session_id,
            epoch,
            partitions,
        } => {
            let returned = topics.iter().flat_map(|t| t.partitions.iter());
            let outcomes: Vec<(&PartKey, PartitionOutcome)> = partitions
                .iter()
                .map(|(k, _)| k)
                .zip(returned.map(outcome))
                .collect();
            let finish = broker
                .fetch_sessions()
                .finish_incremental(*session_id, *epoch, &outcomes);
            match finish {
                Finish::Include(include) => {
                    let mut keep = include.into_iter();
                    for t in topics.iter_mut() {
                        t.partitions.retain(|_| keep.next().unwrap_or(true));
                    }
                    topics.retain(|t| !t.partitions.is_empty());
                    (0, *session_id)
                }
                Finish::Error(code) => {
                    topics.clear();
                    (code, *session_id)
                }
            }
        }
        Context::Sessionless | Context::Error(_) => (0, 0),
    }
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: FetchRequest = if version < 4 {
        legacy::requests::fetch(&req.body, version).map_err(|e| FrameError::Malformed {
            api: ApiKey::Fetch,
            version,
            reason: e.to_string(),
        })?
    } else {
        req.decode(ApiKey::Fetch)?
    };
    let correlation_id = req.header.correlation_id;
    // A replica's fetch: replica_id (v < 15) or replica_state (v15+) names a broker.
    let replica_id = if version >= 15 {
        body.replica_state.replica_id.0
    } else {
        body.replica_id.0
    };
    // Fetch sessions (KIP-227) from v7; v0–6 are sessionless (Kafka's LEGACY metadata).
    let (session_id, session_epoch) = if version >= 7 {
        (body.session_id, body.session_epoch)
    } else {
        (INVALID_SESSION_ID, FINAL_EPOCH)
    };
    let uses_topic_ids = version >= 13;
    let topic_key = |name: &TopicName, id: &Uuid| {
        if uses_topic_ids {
            TopicKey::Id(*id)
        } else {
            TopicKey::Name(Arc::from(name.0.as_str()))
        }
    };
    let incremental = session_epoch > 0;
    let (fetch, forget) = if incremental {
        let mut fetch = Vec::new();
        for ft in &body.topics {
            let topic = topic_key(&ft.topic, &ft.topic_id);
            for fp in &ft.partitions {
                let key = PartKey {
                    topic: topic.clone(),
                    partition: fp.partition,
                };
                fetch.push((key, partition_req(fp)));
            }
        }
        let mut forget = Vec::new();
        for ft in &body.forgotten_topics_data {
            let topic = topic_key(&ft.topic, &ft.topic_id);
            for &partition in &ft.partitions {
                forget.push(PartKey {
                    topic: topic.clone(),
                    partition,
                });
            }
        }
        (fetch, forget)
    } else {
        (Vec::new(), Vec::new())
    };
    let context = broker.fetch_sessions().new_context(
        uses_topic_ids,
        session_id,
        session_epoch,
        replica_id >= 0,
        &fetch,
        &forget,
        super::now_ms(),
    );
    drop((fetch, forget));
    let groups = match &context {
        Context::Error(code) => {
            let resp = FetchResponse::default()
                .with_error_code(*code)
                .with_session_id(INVALID_SESSION_ID);
            return encode_response(correlation_id, version, &resp).map(Reply::Now);
        }
        Context::Incremental { partitions, .. } => session_groups(broker, partitions),
        Context::Sessionless | Context::Full { .. } => request_groups(&body),
    };
    let (skeleton, mut wanted) = resolve(broker, version, groups);
    // Kafka: a replica's fetch needs CLUSTER_ACTION on the cluster, a consumer's READ on
    // each topic; refused partitions are TOPIC_AUTHORIZATION_FAILED.
    let az = super::authz::authz(broker, &req);
    if az.enabled() {
        use crate::security::acl::AclOperation;
        let follower_ok = replica_id < 0 || az.cluster(AclOperation::ClusterAction);
        for w in wanted.iter_mut() {
            let denied = match &w.partition {
                _ if !follower_ok => true,
                Some(p) => replica_id < 0 && !az.topic(AclOperation::Read, &p.topic),
                None => false,
            };
            if denied {
                w.partition = None;
                w.error = super::authz::TOPIC_AUTHORIZATION_FAILED;
            }
        }
    }
    let topic_keys = match &context {
        Context::Full { uses_topic_ids, .. } => topic_keys(&skeleton, *uses_topic_ids),
        _ => Vec::new(),
    };
    // The fetch quota (`consumer_byte_rate`) applies to consumers, not to followers.
    let quota = (replica_id < 0 && broker.quotas.is_active(QuotaKind::Fetch))
        .then(|| (req.conn.principal(), req.client_id(), Arc::clone(&req.conn)));
    let mut max_bytes = (body.max_bytes.max(0) as usize).min(broker.config.fetch_max_bytes);
    // Kafka bounds a consumer's fetch by what its quota allows in one window.
    if let Some((principal, client_id, _)) = &quota {
        if let Some(window) =
            broker
                .quotas
                .max_value_in_window(QuotaKind::Fetch, principal, client_id)
        {
            max_bytes = max_bytes.min(window.max(1.0) as usize);
        }
    }
    let min_bytes = body.min_bytes.max(0) as usize;
    let reader = if replica_id >= 0 {
        let now = super::now_ms();
        let broker_epoch = if version >= 15 {
            body.replica_state.replica_epoch
        } else {
            -1
        };
        for w in wanted.iter_mut() {
            let Some(p) = &w.partition else { continue };
            match p.on_follower_fetch(
                replica_id,
                broker_epoch,
                w.fetch_offset,
                w.log_start_offset,
                w.current_leader_epoch >= 0,
                now,
            ) {
                Ok(Some(proposal)) => broker.propose_isr(p, proposal),
                Ok(None) => {}
                Err(code) => {
                    tracing::debug!(topic = %p.topic, partition = p.index, replica_id, code, "follower fetch refused");
                    w.partition = None;
                    w.error = code;
                }
            }
        }
        Reader::Follower
    } else {
        Reader::Consumer {
            read_committed: body.isolation_level == 1,
        }
    };
    let max_wait = Duration::from_millis(body.max_wait_ms.max(0) as u64);
    drop(body);
    let broker = Arc::clone(broker);
    let listener = Arc::clone(&req.conn.listener);
    Ok(Reply::Later(Box::pin(async move {
        let deadline = tokio::time::Instant::now() + max_wait;
        let nothing_to_wait_on = wanted.iter().all(|w| w.partition.is_none());
        // The first read is made without waiters: most fetches are answered at once, and
        // registering one per partition costs more than the read itself when there are
        // thousands. Only a fetch that has to wait registers them, then reads again (so that
        // an append between the two reads is not missed).
        let mut armed = false;
        loop {
            // The long poll waits on every partition read: for an incremental request, the
            // whole session, not only the partitions the request names.
            let mut notified: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> = if armed {
                wanted
                    .iter()
                    .filter_map(|w| w.partition.as_ref())
                    .map(|p| Box::pin(p.appended.notified()))
                    .collect()
            } else {
                Vec::new()
            };
            for n in notified.iter_mut() {
                n.as_mut().enable();
            }
            let (mut topics, total, any_error) = gather(&wanted, &skeleton, max_bytes, reader);
            let done = total >= min_bytes
                || any_error
                || nothing_to_wait_on
                || tokio::time::Instant::now() >= deadline;
            if done {
                let throttle_ms = fetch_throttle(&broker, quota.as_ref(), &topics);
                if throttle_ms > 0 {
                    // Kafka answers a throttled fetch with no data (its bytes are taken
                    // back from the quota); a new session is not created.
                    let (error_code, session_id) = match &context {
                        Context::Incremental { .. } => {
                            settle_session(&broker, &context, &wanted, &topic_keys, &mut topics)
                        }
                        _ => (0, INVALID_SESSION_ID),
                    };
                    let resp = FetchResponse::default()
                        .with_throttle_time_ms(throttle_ms)
                        .with_error_code(error_code)
                        .with_session_id(session_id);
                    if version < 4 {
                        return Ok(legacy::responses::fetch(correlation_id, version, &resp));
                    }
                    return encode_response(correlation_id, version, &resp);
                }
                if version < 4 {
                    down_convert(version, &wanted, &mut topics);
                }
                count_bytes_out(&wanted, &topics);
                let (error_code, session_id) =
                    settle_session(&broker, &context, &wanted, &topic_keys, &mut topics);
                let mut resp = FetchResponse::default()
                    .with_throttle_time_ms(0)
                    .with_error_code(error_code)
                    .with_session_id(session_id)
                    .with_responses(topics);
                if any_error {
                    add_leader_hints(&broker, version, &listener, &mut resp);
                }
                if version < 4 {
                    return Ok(legacy::responses::fetch(correlation_id, version, &resp));
                }
                return encode_response(correlation_id, version, &resp);
            }
            if !armed {
                armed = true;
                continue;
            }
            tokio::select! {
                _ = futures::future::select_all(notified) => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    })))
}
