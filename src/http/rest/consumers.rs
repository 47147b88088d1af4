//! v2 consumer instances: each one a member of its group ([`super::member`]), its fetch
//! positions, the records fetched but not yet handed out, and its commits.
//!
//! A read (`GET …/records`) hands out buffered records first; with none, it fetches from the
//! positions of the assigned partitions (Fetch in-process, long-polling up to the request's
//! timeout) into the buffer. Positions start at the committed offset, else at
//! `auto.offset.reset` (earliest/latest). An assignment change, a seek or a rebalance bumps
//! the instance's epoch: a fetch begun under an older epoch is dropped, so no record of a
//! partition given up is handed out and none is skipped.
//!
//! Limits ([`Limits`]): instances per proxy, bytes buffered per instance (a fetch asks at
//! most what is left), bytes per response, the wait of a read, and the idle expiry
//! (`consumer.instance.timeout.ms`, 300000 as Confluent's): an instance not used for that long
//! is removed — it commits (with auto-commit) and leaves its group.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::records::RecordBatchDecoder;
use tokio::sync::{watch, Mutex, Notify};

use super::calls::{s, topic_name, EARLIEST, LATEST};
use super::formats::Format;
use super::{Rest, RestError};
use crate::cluster::now_ms;
use crate::config::BrokerConfig;

pub use super::member::decode_assignment;

/// A topic-partition.
pub type Tp = (String, i32);

/// The proxy's consumer limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Idle time after which an instance is removed (`consumer.instance.timeout.ms`).
    pub instance_timeout: Duration,
    /// Instances the proxy keeps at most.
    pub max_instances: usize,
    /// The longest wait of a read (`consumer.request.timeout.ms`).
    pub request_timeout: Duration,
    /// The largest read response (`consumer.request.max.bytes`, capped).
    pub max_response_bytes: usize,
    /// Bytes of fetched records an instance buffers at most.
    pub max_buffer_bytes: usize,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub heartbeat_interval: Duration,
}

/// Confluent's default `consumer.instance.timeout.ms`.
pub const DEFAULT_INSTANCE_TIMEOUT_MS: u64 = 300_000;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            instance_timeout: Duration::from_millis(DEFAULT_INSTANCE_TIMEOUT_MS),
            max_instances: 1000,
            request_timeout: Duration::from_millis(1000),
            max_response_bytes: 8 << 20,
            max_buffer_bytes: 8 << 20,
            session_timeout_ms: 45_000,
            rebalance_timeout_ms: 60_000,
            heartbeat_interval: Duration::from_secs(3),
        }
    }
}

impl Limits {
    /// The defaults, with the idle expiry from the broker's `consumer.instance.timeout.ms`
    /// when the config defines it.
    pub fn from_config(config: &BrokerConfig) -> Limits {
        let mut l = Limits::default();
        if let Some(ms) = config
            .broker_value("consumer.instance.timeout.ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
        {
            l.instance_timeout = Duration::from_millis(ms);
        }
        l
    }
}

/// What an instance consumes.
#[derive(Debug, Clone)]
pub enum Sub {
    None,
    Topics(Vec<String>),
    Pattern(String, regex::Regex),
    Assigned(Vec<Tp>),
}

/// A record fetched, not yet handed out.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

impl Fetched {
    fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Bytes::len) + self.value.as_ref().map_or(0, Bytes::len)
    }
}

/// An instance's mutable state.
pub struct State {
    pub sub: Sub,
    /// Bumped by every subscribe/unsubscribe (a join begun before is outdated).
    pub sub_version: u64,
    pub member_id: String,
    pub generation: i32,
    pub rejoin: bool,
    /// The topics the last join subscribed (a pattern's matches).
    pub matched_topics: Vec<String>,
    pub assignment: Vec<Tp>,
    /// The next offset to fetch; absent: not known yet.
    positions: HashMap<Tp, i64>,
    /// The offset after the last record handed out (what a commit without offsets commits).
    consumed: HashMap<Tp, i64>,
    /// What was committed last, per partition (no repeated auto-commits).
    committed: HashMap<Tp, i64>,
    buffer: VecDeque<Fetched>,
    buffered: usize,
    epoch: u64,
}

impl State {
    fn new() -> State {
        State {
            sub: Sub::None,
            sub_version: 0,
            member_id: String::new(),
            generation: -1,
            rejoin: false,
            matched_topics: Vec::new(),
            assignment: Vec::new(),
            positions: HashMap::new(),
            consumed: HashMap::new(),
            committed: HashMap::new(),
            buffer: VecDeque::new(),
            buffered: 0,
            epoch: 0,
        }
    }

    /// Give up every partition (before a rebalance, or when unsubscribed).
    pub fn revoke(&mut self) {
        self.assign(Vec::new());
    }

    /// Take `parts` as the assignment: positions, consumed offsets and buffered records of
    /// other partitions go.
    pub fn assign(&mut self, parts: Vec<Tp>) {
        self.positions.retain(|tp, _| parts.contains(tp));
        self.consumed.retain(|tp, _| parts.contains(tp));
        self.buffer
            .retain(|r| parts.contains(&(r.topic.clone(), r.partition)));
        self.buffered = self.buffer.iter().map(Fetched::size).sum();
        self.assignment = parts;
        self.epoch += 1;
    }

    /// Move `tp`'s position, dropping its buffered records.
    fn seek(&mut self, tp: &Tp, offset: i64) {
        self.positions.insert(tp.clone(), offset);
        self.buffer
            .retain(|r| r.topic != tp.0 || r.partition != tp.1);
        self.buffered = self.buffer.iter().map(Fetched::size).sum();
        self.epoch += 1;
    }

    /// Take a Fetch response: records at or after the positions go to the buffer (control
    /// records only move the position). Answers whether no partition had an error.
    fn absorb(&mut self, resp: FetchResponse) -> bool {
        let mut clean = resp.error_code == 0;
        for t in resp.responses {
            let topic = t.topic.0.as_str().to_string();
            for p in t.partitions {
                let tp = (topic.clone(), p.partition_index);
                match p.error_code {
                    0 => {}
                    1 => {
                        // OFFSET_OUT_OF_RANGE: start over per auto.offset.reset.
                        self.positions.remove(&tp);
                        continue;
                    }
                    _ => {
                        clean = false;
                        continue;
                    }
                }
                let Some(mut bytes) = p.records else {
                    continue;
                };
                while !bytes.is_empty() {
                    let Ok(set) = RecordBatchDecoder::decode(&mut bytes) else {
                        break; // a partial batch at the end
                    };
                    for r in set.records {
                        let pos = self.positions.get(&tp).copied().unwrap_or(0);
                        if r.offset < pos {
                            continue;
                        }
                        self.positions.insert(tp.clone(), r.offset + 1);
                        if r.control {
                            continue;
                        }
                        let f = Fetched {
                            topic: topic.clone(),
                            partition: tp.1,
                            offset: r.offset,
                            key: r.key,
                            value: r.value,
                        };
                        self.buffered += f.size();
                        self.buffer.push_back(f);
                    }
                }
            }
        }
        clean
    }
}

/// `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    Earliest,
    Latest,
    None,
}

/// One consumer instance.
pub struct Instance {
    pub group: String,
    pub name: String,
    pub format: Format,
    pub reset: Reset,
    pub auto_commit: bool,
    pub fetch_min_bytes: i32,
    /// The instance's own `consumer.request.timeout.ms`.
    pub request_timeout: Option<Duration>,
    /// The authenticated user that created it: its own calls (heartbeats, commits, leaving)
    /// run as that user.
    pub user: Option<String>,
    last_used_ms: AtomicI64,
    pub closed: AtomicBool,
    pub state: Mutex<State>,
    /// One read at a time.
    read_lock: Mutex<()>,
    /// Wakes the membership task.
    pub changed: Notify,
    /// The assignment's epoch, for reads waiting for partitions.
    epoch_tx: watch::Sender<u64>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// How an instance is created (`POST /consumers/{group}`).
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    pub name: String,
    pub format: Format,
    pub reset: Reset,
    pub auto_commit: bool,
    pub fetch_min_bytes: i32,
    pub request_timeout: Option<Duration>,
}

impl Instance {
    fn touch(&self) {
        self.last_used_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Tell reads that the assignment or positions changed.
    pub fn bump(&self) {
        self.epoch_tx.send_modify(|e| *e += 1);
    }

    /// Change the subscription (then the membership task rejoins or leaves).
    pub async fn set_sub(&self, sub: Sub) {
        {
            let mut st = self.state.lock().await;
            match &sub {
                Sub::Assigned(parts) => st.assign(parts.clone()),
                _ => st.revoke(),
            }
            st.sub = sub;
            st.sub_version += 1;
            st.rejoin = true;
        }
        self.bump();
        self.changed.notify_one();
    }

    /// Commit `offsets` (next offsets to read) with this instance's membership.
    pub async fn commit(
        &self,
        rest: &Rest,
        offsets: &[(Tp, i64, String)],
    ) -> Result<(), RestError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let (member_id, generation) = {
            let st = self.state.lock().await;
            (st.member_id.clone(), st.generation)
        };
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for ((t, p), o, meta) in offsets {
            let part = OffsetCommitRequestPartition::default()
                .with_partition_index(*p)
                .with_committed_offset(*o)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(Some(s(meta)));
            match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(vec![part]),
                ),
            }
        }
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(&self.group)))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(&member_id))
            .with_retention_time_ms(-1)
            .with_topics(topics);
        let resp = rest.call_as(&self.name, 8, req).await?;
        let failed = resp
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .find(|p| p.error_code != 0);
        if let Some(p) = failed {
            return Err(RestError::kafka(p.error_code, None));
        }
        let mut st = self.state.lock().await;
        for (tp, o, _) in offsets {
            st.committed.insert(tp.clone(), *o);
        }
        Ok(())
    }

    /// Commit what was handed out and not committed yet.
    pub async fn commit_consumed(&self, rest: &Rest) -> Result<(), RestError> {
        let todo: Vec<(Tp, i64, String)> = {
            let st = self.state.lock().await;
            st.consumed
                .iter()
                .filter(|(tp, o)| st.committed.get(*tp) != Some(*o))
                .map(|(tp, o)| (tp.clone(), *o, String::new()))
                .collect()
        };
        self.commit(rest, &todo).await
    }

    /// Stop: end the membership task, commit (auto-commit) and leave the group.
    pub async fn shutdown(&self, rest: &Rest) {
        self.closed.store(true, Ordering::Release);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
        super::member::leave(rest, self).await;
    }

    /// The subscription as v2 shows it.
    pub async fn subscription(&self) -> Vec<String> {
        let st = self.state.lock().await;
        match &st.sub {
            Sub::Topics(ts) => ts.clone(),
            Sub::Pattern(..) => st.matched_topics.clone(),
            _ => Vec::new(),
        }
    }

    pub async fn assignment(&self) -> Vec<Tp> {
        let st = self.state.lock().await;
        match &st.sub {
            Sub::Assigned(p) => p.clone(),
            _ => st.assignment.clone(),
        }
    }

    /// Seek assigned partitions to offsets; Err 409 for a partition not assigned.
    pub async fn seek(&self, offsets: &[(Tp, i64)]) -> Result<(), RestError> {
        {
            let mut st = self.state.lock().await;
            if let Some((tp, _)) = offsets.iter().find(|(tp, _)| !st.assignment.contains(tp)) {
                return Err(illegal_state(&format!(
                    "No current assignment for partition {}-{}",
                    tp.0, tp.1
                )));
            }
            for (tp, o) in offsets {
                st.seek(tp, *o);
            }
        }
        self.bump();
        Ok(())
    }

    /// Read records: buffered ones first, else fetch, waiting up to `timeout`.
    pub async fn read(
        &self,
        rest: &Rest,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Vec<Fetched>, RestError> {
        let _one = self.read_lock.lock().await;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut epochs = self.epoch_tx.subscribe();
        loop {
            {
                let mut st = self.state.lock().await;
                let out = drain(&mut st, max_bytes);
                if !out.is_empty() {
                    return Ok(out);
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let (epoch, parts) = {
                let st = self.state.lock().await;
                (st.epoch, st.assignment.clone())
            };
            if parts.is_empty() {
                // Wait for an assignment (or the end of the request).
                epochs.borrow_and_update();
                let _ = tokio::time::timeout(deadline - now, epochs.changed()).await;
                continue;
            }
            self.fill_positions(rest, epoch, &parts).await?;
            let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
            let got = self.fetch_once(rest, epoch, wait).await?;
            if !got {
                // Errors only (a partition led elsewhere, or moving): do not spin.
                let pause = Duration::from_millis(100)
                    .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// Positions for assigned partitions that have none: the committed offset, else
    /// `auto.offset.reset`.
    async fn fill_positions(&self, rest: &Rest, epoch: u64, parts: &[Tp]) -> Result<(), RestError> {
        let missing: Vec<Tp> = {
            let st = self.state.lock().await;
            parts
                .iter()
                .filter(|tp| !st.positions.contains_key(*tp))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let committed = rest.committed_offsets(&self.group, Some(&missing)).await?;
        let mut found: BTreeMap<Tp, i64> = committed
            .into_iter()
            .map(|(t, p, o, _)| ((t, p), o))
            .collect();
        let unset: Vec<Tp> = missing
            .iter()
            .filter(|tp| !found.contains_key(*tp))
            .cloned()
            .collect();
        if !unset.is_empty() {
            let ts = match self.reset {
                Reset::Earliest => EARLIEST,
                Reset::Latest => LATEST,
                Reset::None => {
                    return Err(RestError::new(
                        500,
                        50002,
                        format!(
                            "Kafka error: Undefined offset with no reset policy for partitions: {unset:?}"
                        ),
                    ))
                }
            };
            for (tp, r) in rest.list_offsets(&unset, ts, 0).await? {
                if let Ok(o) = r {
                    found.insert(tp, o);
                }
            }
        }
        let mut st = self.state.lock().await;
        if st.epoch == epoch {
            for (tp, o) in found {
                st.positions.entry(tp).or_insert(o);
            }
        }
        Ok(())
    }

    /// One Fetch from the positions; records go to the buffer unless the epoch moved.
    /// Answers whether the fetch answered without errors.
    async fn fetch_once(&self, rest: &Rest, epoch: u64, wait: Duration) -> Result<bool, RestError> {
        let limits = &rest.consumers.limits;
        let (targets, room) = {
            let st = self.state.lock().await;
            let t: Vec<(Tp, i64)> = st
                .assignment
                .iter()
                .filter_map(|tp| st.positions.get(tp).map(|o| (tp.clone(), *o)))
                .collect();
            (
                t,
                limits.max_buffer_bytes.saturating_sub(st.buffered).max(1),
            )
        };
        if targets.is_empty() {
            return Ok(false);
        }
        let room = i32::try_from(room).unwrap_or(i32::MAX);
        let mut topics: Vec<FetchTopic> = Vec::new();
        for ((t, p), o) in &targets {
            let part = FetchPartition::default()
                .with_partition(*p)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(*o)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(room.min(1 << 20));
            match topics.iter_mut().find(|x| x.topic.0.as_str() == t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(
                    FetchTopic::default()
                        .with_topic(topic_name(t))
                        .with_partitions(vec![part]),
                ),
            }
        }
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(i32::try_from(wait.as_millis()).unwrap_or(i32::MAX))
            .with_min_bytes(self.fetch_min_bytes.max(1))
            .with_max_bytes(room)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(topics);
        let resp = rest.call_as(&self.name, 12, req).await?;
        let mut st = self.state.lock().await;
        if st.epoch != epoch {
            return Ok(true); // outdated: fetch again from the new positions
        }
        Ok(st.absorb(resp))
    }

    /// Put records back at the front of the buffer (a read that could not answer them).
    pub async fn unread(&self, records: Vec<Fetched>) {
        let mut st = self.state.lock().await;
        for r in records.into_iter().rev() {
            let tp = (r.topic.clone(), r.partition);
            let prev = st.consumed.get(&tp).copied();
            if prev.is_some_and(|c| c > r.offset) {
                st.consumed.insert(tp, r.offset);
            }
            st.buffered += r.size();
            st.buffer.push_front(r);
        }
    }
}

/// Records from the front of the buffer up to `max_bytes` (at least one, so a record larger
/// than the limit does not block the instance).
fn drain(st: &mut State, max_bytes: usize) -> Vec<Fetched> {
    let mut out = Vec::new();
    let mut total = 0;
    while let Some(r) = st.buffer.front() {
        let sz = r.size();
        if !out.is_empty() && total + sz > max_bytes {
            break;
        }
        let Some(r) = st.buffer.pop_front() else {
            break;
        };
        total += sz;
        st.buffered = st.buffered.saturating_sub(sz);
        st.consumed
            .insert((r.topic.clone(), r.partition), r.offset + 1);
        out.push(r);
    }
    out
}

pub fn illegal_state(message: &str) -> RestError {
    RestError::new(409, 40903, format!("Illegal state: {message}"))
}

pub fn instance_not_found() -> RestError {
    RestError::new(404, 40403, "Consumer instance not found.")
}

/// Every instance of the proxy.
pub struct Consumers {
    pub limits: Limits,
    instances: std::sync::Mutex<HashMap<(String, String), Arc<Instance>>>,
}

impl Consumers {
    pub fn new(limits: Limits) -> Arc<Consumers> {
        Arc::new(Consumers {
            limits,
            instances: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<Instance>>> {
        // A panic while holding this lock leaves a consistent map: use it anyway.
        self.instances.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Create an instance and start its membership task.
    pub fn create(
        &self,
        rest: &Arc<Rest>,
        group: &str,
        cfg: InstanceConfig,
    ) -> Result<Arc<Instance>, RestError> {
        let key = (group.to_string(), cfg.name.clone());
        let mut map = self.map();
        if map.contains_key(&key) {
            return Err(RestError::new(
                409,
                40902,
                "Consumer with specified consumer ID already exists in the specified consumer group.",
            ));
        }
        if map.len() >= self.limits.max_instances {
            return Err(RestError::new(
                429,
                42901,
                format!(
                    "Too many consumer instances: this proxy keeps at most {}.",
                    self.limits.max_instances
                ),
            ));
        }
        let (epoch_tx, _) = watch::channel(0);
        let inst = Arc::new(Instance {
            group: group.to_string(),
            name: cfg.name,
            format: cfg.format,
            reset: cfg.reset,
            auto_commit: cfg.auto_commit,
            fetch_min_bytes: cfg.fetch_min_bytes,
            request_timeout: cfg.request_timeout,
            user: super::current_user(),
            last_used_ms: AtomicI64::new(now_ms()),
            closed: AtomicBool::new(false),
            state: Mutex::new(State::new()),
            read_lock: Mutex::new(()),
            changed: Notify::new(),
            epoch_tx,
            task: std::sync::Mutex::new(None),
        });
        let task = tokio::spawn(super::USER.scope(
            inst.user.clone(),
            super::member::run(Arc::downgrade(rest), Arc::clone(&inst)),
        ));
        if let Ok(mut t) = inst.task.lock() {
            *t = Some(task);
        }
        map.insert(key, Arc::clone(&inst));
        Ok(inst)
    }

    /// The instance, marked as used now.
    pub fn get(&self, group: &str, name: &str) -> Result<Arc<Instance>, RestError> {
        let inst = self
            .map()
            .get(&(group.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(instance_not_found)?;
        inst.touch();
        Ok(inst)
    }

    pub fn remove(&self, group: &str, name: &str) -> Result<Arc<Instance>, RestError> {
        self.map()
            .remove(&(group.to_string(), name.to_string()))
            .ok_or_else(instance_not_found)
    }

    /// Remove the instances idle for longer than the expiry.
    fn take_expired(&self) -> Vec<Arc<Instance>> {
        let limit = i64::try_from(self.limits.instance_timeout.as_millis()).unwrap_or(i64::MAX);
        let now = now_ms();
        let mut map = self.map();
        let expired: Vec<(String, String)> = map
            .iter()
            .filter(|(_, i)| now.saturating_sub(i.last_used_ms.load(Ordering::Relaxed)) >= limit)
            .map(|(k, _)| k.clone())
            .collect();
        expired.iter().filter_map(|k| map.remove(k)).collect()
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The task that expires idle instances; it ends with the proxy.
pub async fn expire_idle(rest: Weak<Rest>) {
    let tick = {
        let Some(r) = rest.upgrade() else {
            return;
        };
        (r.consumers.limits.instance_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1))
    };
    loop {
        tokio::time::sleep(tick).await;
        let Some(r) = rest.upgrade() else {
            return;
        };
        for inst in r.consumers.take_expired() {
            tracing::info!(group = %inst.group, instance = %inst.name, "REST consumer instance expired");
            let r = Arc::clone(&r);
            let user = inst.user.clone();
            tokio::spawn(super::USER.scope(user, async move { inst.shutdown(&r).await }));
        }
    }
}

#[cfg(test)]
#[path = "consumers_tests.rs"]
mod tests;
