//! ShareFetch (key 78), v1-2 (KIP-932; v2: KIP-1206 acquire modes and KIP-1222 RENEW, see
//! `share_v2.rs`): a share-group member fetches records of the
//! share-partitions of its share session, with acknowledgements of earlier deliveries
//! piggy-backed. The broker applies the acknowledgements, acquires records for the member
//! (each acquired record is locked to it for `share.record.lock.duration.ms` and counted as
//! one delivery), and answers the log batches that hold them plus the acquired ranges
//! (`AcquiredRecords`) — clients deliver only offsets inside those ranges and acknowledge the
//! offsets of a range that hold no record as GAP.
//!
//! Waiting: with nothing acquirable the fetch waits, like Fetch, up to MaxWaitMs for an append
//! to one of its partitions, a release or an expired lock. The state changes of a request are
//! written to `__share_group_state` and committed before it is answered
//! (`server/share_runtime.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareFetchableTopicResponse,
};
use kafka_protocol::messages::{ApiKey, BrokerId, ShareFetchRequest, ShareFetchResponse};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::leader_hints::LeaderHints;
use super::{now_ms, share_v2, ApiEntry, Reply, Request};
use crate::cluster::{Broker, Partition};
use crate::protocol::batch::BatchIter;
use crate::protocol::{encode_response, FrameError};
use crate::security::acl::AclOperation;
use kafka_protocol::records::{Record as KRecord, RecordBatchDecoder};

use crate::server::share_runtime::{
    ensure_state_topic, filter_accepts, session_key, Dirty, ShareManager, Target,
    COORDINATOR_NOT_AVAILABLE, INVALID_REQUEST,
};
use crate::share::partition::Acquired;
use crate::share::records::StateKey;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ShareFetch,
    min: 1,
    max: 2,
};

const UNKNOWN_TOPIC_ID: i16 = 100;

/// The record header skua's record filter matches (`skua.share.record.filter`).
pub const TAG_HEADER: &str = "skua.tag";
/// Delayed delivery (`skua.share.delayed.delivery.enable`): not before this epoch-ms time.
pub const DELIVER_AT_HEADER: &str = "skua.deliver.at";
/// Delayed delivery: not before the record's timestamp plus this many ms.
pub const DELIVER_AFTER_HEADER: &str = "skua.deliver.after.ms";
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const GROUP_AUTHORIZATION_FAILED: i16 = 30;

/// Acknowledgement batches of one partition: (first, last, types).
pub type AckBatches = Vec<(i64, i64, Vec<i8>)>;

/// One share-partition of the request or the session.
pub struct Slot {
    pub topic_id: Uuid,
    pub index: i32,
    /// The partition led here, or the error to answer for it.
    pub target: Result<Target, i16>,
    pub acks: AckBatches,
    pub ack_code: Option<i16>,
    pub fetch_code: i16,
    pub records: BytesMut,
    pub acquired: Vec<Acquired>,
}

/// Load the share-partitions of `slots` (their state read from, or initialized at, their
/// share coordinators); a slot that cannot be loaded answers the error.
pub async fn load_slots(mgr: &ShareManager, slots: &mut [Slot]) {
    for s in slots.iter_mut() {
        if let Ok(t) = &s.target {
            if let Err(code) = mgr.load(t).await {
                s.target = Err(code);
            }
        }
    }
}

/// Resolve a share-partition: led here, or its error.
pub fn resolve(
    broker: &Broker,
    az: &super::authz::Authz,
    group: &str,
    topic_id: Uuid,
    index: i32,
) -> Result<Target, i16> {
    let topic = broker.topic_by_id(&topic_id).ok_or(UNKNOWN_TOPIC_ID)?;
    if !az.topic(AclOperation::Read, &topic.name) {
        return Err(TOPIC_AUTHORIZATION_FAILED);
    }
    let partition = topic.leader(index, -1).cloned()?;
    Ok(Target {
        key: StateKey {
            group: group.to_string(),
            topic_id,
            partition: index,
        },
        partition,
    })
}

/// Leader hints for partitions answered NOT_LEADER_OR_FOLLOWER, and their endpoints.
/// (leader id, leader epoch) per (topic id, partition).
pub type Hints = BTreeMap<(Uuid, i32), (i32, i32)>;

pub fn leader_hints(broker: &Broker, listener: &str, slots: &[Slot]) -> (Hints, Vec<NodeEndpoint>) {
    let mut hints = LeaderHints::new(broker);
    let mut out = BTreeMap::new();
    for s in slots {
        let code = match &s.target {
            Err(c) => *c,
            Ok(_) => continue,
        };
        let topic = broker.topic_by_id(&s.topic_id);
        if let Some(h) = hints.hint(topic.as_deref(), s.index, code) {
            out.insert((s.topic_id, s.index), h);
        }
    }
    let endpoints = hints
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
    (out, endpoints)
}

/// Group id, member id, the requester's authorizations, the share runtime.
pub type Asker = (String, String, super::authz::Authz, Arc<ShareManager>);

/// Who asks (ShareFetch and ShareAcknowledge alike): group and member ids (INVALID_REQUEST when
/// missing), READ on the group (GROUP_AUTHORIZATION_FAILED), and the share runtime.
pub fn identify(
    broker: &Broker,
    req: &Request,
    group: Option<&kafka_protocol::messages::GroupId>,
    member: Option<&StrBytes>,
) -> Result<Asker, (i16, &'static str)> {
    let group = group.map(|g| g.0.as_str().to_string()).unwrap_or_default();
    let member = member.map(|m| m.as_str().to_string()).unwrap_or_default();
    if group.is_empty() {
        return Err((INVALID_REQUEST, "GroupId must be set."));
    }
    if member.is_empty() {
        return Err((INVALID_REQUEST, "MemberId must be set."));
    }
    let az = super::authz::authz(broker, req);
    if az.group_error(AclOperation::Read, &group).is_some() {
        return Err((
            GROUP_AUTHORIZATION_FAILED,
            "Not authorized to read the group.",
        ));
    }
    let mgr = broker
        .shares
        .get()
        .cloned()
        .ok_or((COORDINATOR_NOT_AVAILABLE, "Share groups are not running."))?;
    Ok((group, member, az, mgr))
}

/// The request's partitions in order with their acknowledgements, entries of the same
/// partition merged (clients may repeat a topic id).
pub fn merge_acks(
    parts: impl Iterator<Item = (Uuid, i32, AckBatches)>,
) -> Vec<(Uuid, i32, AckBatches)> {
    let mut named: Vec<(Uuid, i32, AckBatches)> = Vec::new();
    for (topic_id, index, acks) in parts {
        match named
            .iter_mut()
            .find(|(id, i, _)| *id == topic_id && *i == index)
        {
            Some((_, _, a)) => a.extend(acks),
            None => named.push((topic_id, index, acks)),
        }
    }
    named
}

fn error_response(code: i16, message: &str) -> ShareFetchResponse {
    ShareFetchResponse::default()
        .with_error_code(code)
        .with_error_message(Some(StrBytes::from_string(message.to_string())))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: ShareFetchRequest = req.decode(ApiKey::ShareFetch)?;
    let (group, member, az, mgr) = match identify(
        broker,
        &req,
        body.group_id.as_ref(),
        body.member_id.as_ref(),
    ) {
        Ok(x) => x,
        Err((code, msg)) => return req.respond(&error_response(code, msg)).map(Reply::Now),
    };
    // v2 (always batch-optimized and not renewing below it). skua's acquisition never goes
    // past MaxRecords, so both acquire modes take the same path.
    let renew = body.is_renew_ack;
    if let Err(msg) = share_v2::check_fetch(
        body.share_acquire_mode,
        renew,
        body.max_wait_ms,
        body.min_bytes,
        body.max_bytes,
        body.max_records,
    ) {
        return req
            .respond(&error_response(INVALID_REQUEST, msg))
            .map(Reply::Now);
    }
    let named = merge_acks(body.topics.iter().flat_map(|t| {
        t.partitions.iter().map(move |p| {
            let acks = p.acknowledgement_batches.iter();
            (
                t.topic_id,
                p.partition_index,
                acks.map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                    .collect(),
            )
        })
    }));
    let forget: Vec<(String, i32)> = body
        .forgotten_topics_data
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| session_key(&t.topic_id, *p))
        })
        .collect();
    let epoch = body.share_session_epoch;
    let max_wait = Duration::from_millis(body.max_wait_ms.max(0) as u64);
    let min_bytes = body.min_bytes.max(0) as usize;
    let max_bytes = body.max_bytes.max(1) as usize;
    let max_records = if body.max_records > 0 {
        body.max_records as usize
    } else {
        500
    };
    let correlation_id = req.header.correlation_id;
    let version = req.version;
    let conn = req.conn.id;
    let listener = Arc::clone(&req.conn.listener);
    let broker = Arc::clone(broker);
    drop(body);
    Ok(Reply::Later(Box::pin(async move {
        if !ensure_state_topic(&broker, Duration::from_secs(10)).await {
            let out = error_response(
                COORDINATOR_NOT_AVAILABLE,
                "The share-group state topic is not available yet.",
            );
            return encode_response(correlation_id, version, &out);
        }
        let has_acks = named.iter().any(|(_, _, a)| !a.is_empty());
        let add: Vec<(String, i32)> = named.iter().map(|(id, i, _)| session_key(id, *i)).collect();
        let ctx = match mgr.session_fetch(&group, &member, epoch, &add, &forget, has_acks, conn) {
            Ok(ctx) => ctx,
            Err((code, msg)) => {
                return encode_response(correlation_id, version, &error_response(code, msg))
            }
        };
        // Every partition of the session, then the named ones the session no longer holds
        // (a final request names only partitions with acknowledgements).
        let mut slots: Vec<Slot> = Vec::new();
        let push = |slots: &mut Vec<Slot>, topic_id: Uuid, index: i32, acks: AckBatches| {
            let target = resolve(&broker, &az, &group, topic_id, index);
            slots.push(Slot {
                topic_id,
                index,
                target,
                acks,
                ack_code: None,
                fetch_code: 0,
                records: BytesMut::new(),
                acquired: Vec::new(),
            });
        };
        for (id, i, acks) in named {
            push(&mut slots, id, i, acks);
        }
        for (id, i) in &ctx.partitions {
            let Ok(topic_id) = Uuid::parse_str(id) else {
                continue;
            };
            if !slots
                .iter()
                .any(|s| s.topic_id == topic_id && s.index == *i)
            {
                push(&mut slots, topic_id, *i, Vec::new());
            }
        }
        load_slots(&mgr, &mut slots).await;
        let mut dirty = Dirty::new();
        for s in slots.iter_mut().filter(|s| !s.acks.is_empty()) {
            s.ack_code = Some(match &s.target {
                Ok(t) => match share_v2::ack_types_error(version, renew, &s.acks) {
                    Some(code) => code,
                    None => mgr.acknowledge(t, &member, &s.acks, &mut dirty),
                },
                Err(code) => *code,
            });
        }
        if ctx.closed {
            mgr.release_member_everywhere(&group, &member, &mut dirty);
        } else {
            // Acknowledgements are made durable before waiting for records.
            if let Err(code) = mgr.persist(std::mem::take(&mut dirty)).await {
                for s in slots.iter_mut().filter(|s| s.ack_code == Some(0)) {
                    s.ack_code = Some(code);
                }
            }
            // A renewing fetch (KIP-1222) only acknowledges.
            if !renew {
                acquire_until_ready(
                    &mgr,
                    &member,
                    &mut slots,
                    max_records,
                    max_bytes,
                    min_bytes,
                    max_wait,
                    &mut dirty,
                )
                .await;
            }
        }
        if let Err(code) = mgr.persist(dirty).await {
            // The state could not be made durable: nothing acquired is handed out (the locks
            // expire and the records are delivered again).
            for s in slots.iter_mut() {
                if !s.acquired.is_empty() {
                    s.acquired.clear();
                    s.records.clear();
                    s.fetch_code = code;
                }
            }
        }
        let (hints, endpoints) = leader_hints(&broker, &listener, &slots);
        let mut responses: Vec<ShareFetchableTopicResponse> = Vec::new();
        for s in slots {
            let code = match &s.target {
                Err(c) => *c,
                Ok(_) => s.fetch_code,
            };
            let include = ctx.full || code != 0 || s.ack_code.is_some() || !s.acquired.is_empty();
            if !include {
                continue;
            }
            let leader = hints.get(&(s.topic_id, s.index)).copied();
            let (leader_id, leader_epoch) = match (&s.target, leader) {
                (_, Some(h)) => h,
                (Ok(t), None) => (broker.config.node_id, t.partition.leader_epoch()),
                (Err(_), None) => (-1, -1),
            };
            let acquired: Vec<AcquiredRecords> = s
                .acquired
                .iter()
                .map(|a| {
                    AcquiredRecords::default()
                        .with_first_offset(a.first_offset)
                        .with_last_offset(a.last_offset)
                        .with_delivery_count(i16::try_from(a.delivery_count).unwrap_or(i16::MAX))
                })
                .collect();
            let pd = PartitionData::default()
                .with_partition_index(s.index)
                .with_error_code(code)
                .with_acknowledge_error_code(s.ack_code.unwrap_or(0))
                .with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(leader_id)
                        .with_leader_epoch(leader_epoch),
                )
                .with_records(Some(s.records.freeze()))
                .with_acquired_records(acquired);
            match responses.iter_mut().find(|t| t.topic_id == s.topic_id) {
                Some(t) => t.partitions.push(pd),
                None => responses.push(
                    ShareFetchableTopicResponse::default()
                        .with_topic_id(s.topic_id)
                        .with_partitions(vec![pd]),
                ),
            }
        }
        let out = ShareFetchResponse::default()
            .with_throttle_time_ms(0)
            .with_acquisition_lock_timeout_ms(mgr.lock_duration_ms(&group))
            .with_responses(responses)
            .with_node_endpoints(endpoints);
        encode_response(correlation_id, version, &out)
    })))
}

/// Acquire records on the slots' partitions until some are acquired (at least `min_bytes`
/// of them, or any when the wait is over), an error comes up, or `max_wait` passes.
#[allow(clippy::too_many_arguments)]
async fn acquire_until_ready(
    mgr: &Arc<ShareManager>,
    member: &str,
    slots: &mut [Slot],
    max_records: usize,
    max_bytes: usize,
    min_bytes: usize,
    max_wait: Duration,
    dirty: &mut Dirty,
) {
    let deadline_ms = now_ms().saturating_add(max_wait.as_millis() as i64);
    let partitions: Vec<Arc<Partition>> = slots
        .iter()
        .filter_map(|s| s.target.as_ref().ok().map(|t| Arc::clone(&t.partition)))
        .collect();
    let targets: Vec<Target> = slots
        .iter()
        .filter_map(|s| s.target.as_ref().ok().cloned())
        .collect();
    if targets.is_empty() {
        return;
    }
    // Start at a different partition each time, so that one busy partition does not starve
    // the others of the record budget.
    let rotate = (now_ms() as usize) % slots.len().max(1);
    let mut armed = false;
    let mut remaining = max_records;
    let mut bytes = 0usize;
    loop {
        let mut notified: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> = Vec::new();
        if armed {
            notified = partitions
                .iter()
                .map(|p| Box::pin(p.appended.notified()))
                .collect();
            notified.push(Box::pin(mgr.changed.notified()));
            for n in notified.iter_mut() {
                n.as_mut().enable();
            }
        }
        let n = slots.len();
        let mut any_error = false;
        for k in 0..n {
            if remaining == 0 || bytes >= max_bytes {
                break;
            }
            let s = &mut slots[(k + rotate) % n];
            let Ok(t) = s.target.as_ref() else {
                continue;
            };
            match mgr.acquire(t, member, remaining, dirty) {
                Err(code) => {
                    s.fetch_code = code;
                    any_error = true;
                }
                Ok(a) if !a.runs.is_empty() => {
                    let mut budget = max_bytes.saturating_sub(bytes);
                    let from = s.records.len();
                    let (mut sent, unsent) = read_runs(
                        &t.partition,
                        &a.runs,
                        &mut budget,
                        a.read_committed,
                        &mut s.records,
                    );
                    for (first, last) in unsent {
                        mgr.unacquire(t, member, first, last);
                    }
                    // read_committed: records of aborted transactions are archived, never
                    // delivered (Kafka's share.isolation.level).
                    let aborted_txns = match (a.read_committed, sent.first(), sent.last()) {
                        (true, Some(f), Some(l)) => {
                            let list = t
                                .partition
                                .log()
                                .aborted_transactions(f.first_offset, l.last_offset + 1);
                            (!list.is_empty()).then_some(list)
                        }
                        _ => None,
                    };
                    if a.filter.is_some() || a.delayed || aborted_txns.is_some() {
                        let found = inspect(
                            &s.records[from..],
                            &sent,
                            a.filter.as_deref(),
                            a.delayed,
                            aborted_txns.as_deref(),
                        );
                        if !found.is_empty() {
                            mgr.hold_back(
                                t,
                                member,
                                &found.filtered,
                                &found.delayed,
                                &found.aborted,
                                dirty,
                            );
                            let out: BTreeSet<i64> = found
                                .filtered
                                .iter()
                                .chain(found.aborted.iter())
                                .copied()
                                .chain(found.delayed.iter().map(|(o, _)| *o))
                                .collect();
                            sent = without(&sent, &out);
                        }
                    }
                    bytes = max_bytes.saturating_sub(budget).max(bytes);
                    let count: usize = sent
                        .iter()
                        .map(|a| (a.last_offset - a.first_offset + 1) as usize)
                        .sum();
                    remaining = remaining.saturating_sub(count);
                    s.acquired.extend(sent);
                }
                Ok(_) => {}
            }
        }
        let got = slots.iter().any(|s| !s.acquired.is_empty());
        let now = now_ms();
        if any_error || now >= deadline_ms || (got && bytes >= min_bytes) {
            return;
        }
        if !armed {
            armed = true;
            continue;
        }
        let wake_at = mgr
            .next_deadline(&targets)
            .map_or(deadline_ms, |d| d.min(deadline_ms));
        let sleep_ms = (wake_at - now).max(1) as u64;
        tokio::select! {
            _ = futures::future::select_all(notified) => {}
            _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
        }
    }
}

/// The records of `bytes` inside the acquired `runs` that are not to be delivered now:
/// those the record filter does not accept (their `skua.tag` header), and, with delayed
/// delivery, those whose `skua.deliver.at` (epoch ms) or `skua.deliver.after.ms` (after the
/// record's timestamp) lies in the future, with that time.
/// What [`inspect`] found among acquired records.
#[derive(Default)]
struct Inspection {
    /// Not accepted by the record filter.
    filtered: Vec<i64>,
    /// Not due yet: (offset, due time).
    delayed: Vec<(i64, i64)>,
    /// Records of aborted transactions (read_committed).
    aborted: Vec<i64>,
}

impl Inspection {
    fn is_empty(&self) -> bool {
        self.filtered.is_empty() && self.delayed.is_empty() && self.aborted.is_empty()
    }
}

/// A control record's key: version 0, type 0 = ABORT.
fn is_abort_marker(r: &KRecord) -> bool {
    r.key
        .as_deref()
        .is_some_and(|k| k.len() >= 4 && k[2..4] == [0, 0])
}

fn inspect(
    bytes: &[u8],
    runs: &[Acquired],
    filter: Option<&[String]>,
    delayed: bool,
    aborted_txns: Option<&[(i64, i64)]>,
) -> Inspection {
    let inside = |o: i64| {
        runs.iter()
            .any(|a| a.first_offset <= o && o <= a.last_offset)
    };
    let header = |r: &KRecord, name: &'static str| -> Option<String> {
        r.headers
            .get(&StrBytes::from_static_str(name))
            .and_then(|v| v.as_ref())
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
    };
    let now = now_ms();
    let mut found = Inspection::default();
    // Aborted transactions by first offset; a producer's becomes active at its first offset
    // and ends at its ABORT marker (the consumers' algorithm).
    let mut pending: Vec<(i64, i64)> = aborted_txns.map(<[_]>::to_vec).unwrap_or_default();
    pending.sort_by_key(|(_, first)| std::cmp::Reverse(*first));
    let mut active: BTreeSet<i64> = BTreeSet::new();
    let mut buf = bytes::Bytes::copy_from_slice(bytes);
    while !buf.is_empty() {
        let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
            break;
        };
        for r in &set.records {
            while pending.last().is_some_and(|(_, first)| *first <= r.offset) {
                if let Some((pid, _)) = pending.pop() {
                    active.insert(pid);
                }
            }
            if r.control {
                if is_abort_marker(r) {
                    active.remove(&r.producer_id);
                }
                continue;
            }
            if !inside(r.offset) {
                continue;
            }
            if r.transactional && active.contains(&r.producer_id) {
                found.aborted.push(r.offset);
                continue;
            }
            if let Some(f) = filter {
                let tag = header(r, TAG_HEADER);
                if !filter_accepts(f, tag.as_deref()) {
                    found.filtered.push(r.offset);
                    continue;
                }
            }
            if delayed {
                let due = header(r, DELIVER_AT_HEADER)
                    .and_then(|v| v.parse::<i64>().ok())
                    .or_else(|| {
                        header(r, DELIVER_AFTER_HEADER)
                            .and_then(|v| v.parse::<i64>().ok())
                            .map(|d| r.timestamp.saturating_add(d.max(0)))
                    });
                if let Some(due) = due.filter(|d| *d > now) {
                    found.delayed.push((r.offset, due));
                }
            }
        }
    }
    found
}

/// `runs` without the offsets in `out`.
fn without(runs: &[Acquired], out: &BTreeSet<i64>) -> Vec<Acquired> {
    let mut result = Vec::new();
    for a in runs {
        let mut first = a.first_offset;
        for o in out.range(a.first_offset..=a.last_offset) {
            if *o > first {
                result.push(Acquired {
                    first_offset: first,
                    last_offset: o - 1,
                    ..*a
                });
            }
            first = o + 1;
        }
        if first <= a.last_offset {
            result.push(Acquired {
                first_offset: first,
                ..*a
            });
        }
    }
    result
}

/// Read the log batches that hold the acquired `runs`, within `budget` bytes (at least one
/// batch when nothing was read yet), appending them to `out` without repeating a batch.
/// Returns the acquired runs (sent) and the offset ranges that did not fit (unsent: to be
/// given back).
fn read_runs(
    p: &Partition,
    runs: &[Acquired],
    budget: &mut usize,
    read_committed: bool,
    out: &mut BytesMut,
) -> (Vec<Acquired>, Vec<(i64, i64)>) {
    let mut sent = Vec::new();
    let mut unsent = Vec::new();
    // The next offset not yet covered by a batch in `out`.
    let mut covered = i64::MIN;
    let upto = {
        let log = p.log();
        if read_committed {
            log.last_stable_offset()
        } else {
            log.high_watermark()
        }
    };
    for run in runs {
        let mut from = run.first_offset.max(covered);
        let mut stopped_at = None;
        while from <= run.last_offset {
            if *budget == 0 && !out.is_empty() {
                stopped_at = Some(from);
                break;
            }
            let read = {
                let log = p.log();
                log.read_upto(from, *budget, out.is_empty(), upto)
            }
            .and_then(|plan| plan.execute());
            let bytes = match read {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("share fetch read at {from}: {e}");
                    stopped_at = Some(from);
                    break;
                }
            };
            if bytes.is_empty() {
                // Nothing more in the log below the bound: the rest of the run holds no
                // record (the client acknowledges it as GAP).
                break;
            }
            let last = BatchIter::new(&bytes)
                .filter_map(|b| b.ok())
                .map(|(h, _)| h.last_offset())
                .last();
            *budget = budget.saturating_sub(bytes.len());
            out.extend_from_slice(&bytes);
            match last {
                Some(l) if l >= from => {
                    covered = l + 1;
                    from = covered;
                }
                _ => break,
            }
        }
        match stopped_at {
            Some(at) if at <= run.first_offset => unsent.push((run.first_offset, run.last_offset)),
            Some(at) => {
                sent.push(Acquired {
                    last_offset: at - 1,
                    ..*run
                });
                unsent.push((at, run.last_offset));
            }
            None => sent.push(*run),
        }
    }
    (sent, unsent)
}
