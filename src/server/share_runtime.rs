//! The share-partition runtime (KIP-932): the delivery state of every share-partition whose
//! topic partition this broker leads, the share sessions of ShareFetch / ShareAcknowledge,
//! lock expiry, and the durability of that state in `__share_group_state`.
//!
//! - **State.** One [`SharePartition`] (the pure state machine of `crate::share::partition`)
//!   per (group, topic id, partition), created on first use: from its latest snapshot in
//!   `__share_group_state` if there is one, else starting where the group's
//!   `share.auto.offset.reset` says (latest by default), and that start is written at once,
//!   so records produced after it are never skipped by a restart.
//! - **Durability.** Every change (acquisition — so a restart never lets a record be delivered
//!   past the delivery limit —, acknowledgement, release, lock expiry) is written as a full
//!   snapshot of the share-partition to `__share_group_state` (compacted; see
//!   `crate::share::records`) and answered only once committed: an acknowledged ACCEPT is
//!   never redelivered after `kill -9`. Snapshots are appended under the runtime's lock, so the
//!   log holds them in the order the state changed.
//! - **Sessions** (`crate::share::session`) are tied to the connection that opened them, as
//!   Kafka's: when the connection closes, the session ends and the member's acquired records
//!   are released at once (a killed consumer's records go to the others without waiting for
//!   the lock to expire).
//! - **Time.** A task expires acquisition locks (and ends redelivery backoffs) when they are
//!   due, and wakes waiting ShareFetches ([`ShareManager::changed`]).
//!
//! Concurrency: one std mutex guards the whole state; no await happens under it (the state
//! partition's first read is a blocking read under it, once per state partition).
//!
//! Limits (noticed, not done yet): the state is kept only on the broker that leads the
//! `__share_group_state` partition of the share-partition; a share-partition whose state
//! partition is led elsewhere answers COORDINATOR_NOT_AVAILABLE (Kafka forwards through its
//! share coordinator).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use uuid::Uuid;

use super::internal_topic::{self, PendingCommit};
use crate::api::now_ms;
use crate::cluster::{Broker, Partition};
use crate::share::partition::{AckError, Acquired, ShareConfig, SharePartition};
use crate::share::records::{StateKey, StateValue};
use crate::share::session::{FetchContext, SessionError, SharePartitionKey, ShareSessions};

pub const STATE_TOPIC: &str = "__share_group_state";

/// Kafka error codes.
pub const INVALID_REQUEST: i16 = 42;
pub const INVALID_RECORD_STATE: i16 = 121;
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub const UNKNOWN_SERVER_ERROR: i16 = -1;

/// `share.auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOffsetReset {
    Earliest,
    Latest,
    /// `by_duration:<ISO-8601>`: the first record at or after now minus this many ms.
    ByDuration(i64),
}

/// A share group's settings that concern its share-partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSettings {
    pub cfg: ShareConfig,
    pub reset: AutoOffsetReset,
    pub read_committed: bool,
}

impl Default for PartSettings {
    fn default() -> Self {
        PartSettings {
            cfg: ShareConfig::default(),
            reset: AutoOffsetReset::Latest,
            read_committed: false,
        }
    }
}

/// Java's `Duration.parse` subset Kafka's `by_duration:` takes: `PnDTnHnMn.nS`.
pub fn parse_iso_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let rest = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
    let (days, time) = match rest.find(['T', 't']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut ms: f64 = 0.0;
    let mut any = false;
    if !days.is_empty() {
        let d = days.strip_suffix(['D', 'd'])?;
        ms += d.parse::<f64>().ok()? * 86_400_000.0;
        any = true;
    }
    if let Some(mut t) = time {
        if t.is_empty() {
            return None;
        }
        for (unit, scale) in [('H', 3_600_000.0), ('M', 60_000.0), ('S', 1000.0)] {
            if let Some(i) = t.find([unit, unit.to_ascii_lowercase()]) {
                ms += t[..i].parse::<f64>().ok()? * scale;
                t = &t[i + 1..];
                any = true;
            }
        }
        if !t.is_empty() {
            return None;
        }
    }
    (any && ms >= 0.0 && ms.is_finite()).then_some(ms as i64)
}

/// The group's share settings: its GROUP config overrides, else the broker's `group.share.*`
/// values, else Kafka's defaults.
pub fn settings_for(broker: &Broker, group: &str) -> PartSettings {
    let all = broker.all_group_configs();
    let overrides = all.get(group);
    let get = |name: &str, broker_name: Option<&str>| -> Option<String> {
        overrides
            .and_then(|m| m.get(name).cloned())
            .or_else(|| broker_name.and_then(|b| broker.config.broker_value(b)))
    };
    let num = |name: &str, broker_name: &str, default: i64| -> i64 {
        get(name, Some(broker_name))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(default)
    };
    let d = ShareConfig::default();
    let reset = match get("share.auto.offset.reset", None)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("earliest") => AutoOffsetReset::Earliest,
        Some(v) if v.starts_with("by_duration:") => {
            parse_iso_duration_ms(&v["by_duration:".len()..])
                .map_or(AutoOffsetReset::Latest, AutoOffsetReset::ByDuration)
        }
        _ => AutoOffsetReset::Latest,
    };
    let backoff: Vec<i64> = get("skua.share.redelivery.backoff.ms", None)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .collect()
        })
        .unwrap_or_default();
    PartSettings {
        cfg: ShareConfig {
            record_lock_duration_ms: num(
                "share.record.lock.duration.ms",
                "group.share.record.lock.duration.ms",
                d.record_lock_duration_ms,
            )
            .max(1),
            delivery_count_limit: u16::try_from(num(
                "share.delivery.count.limit",
                "group.share.delivery.count.limit",
                i64::from(d.delivery_count_limit),
            ))
            .unwrap_or(d.delivery_count_limit)
            .max(1),
            max_record_locks: usize::try_from(num(
                "share.partition.max.record.locks",
                "group.share.partition.max.record.locks",
                d.max_record_locks as i64,
            ))
            .unwrap_or(d.max_record_locks)
            .max(1),
            redelivery_backoff_ms: backoff,
        },
        reset,
        read_committed: get("share.isolation.level", None)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("read_committed")),
    }
}

struct Part {
    sp: SharePartition,
    settings: PartSettings,
    snapshot_epoch: i32,
    create_timestamp: i64,
}

#[derive(Default)]
struct Inner {
    sessions: ShareSessions,
    /// The connection each session was opened on.
    session_conn: HashMap<(String, String), u64>,
    parts: HashMap<StateKey, Part>,
    /// Snapshots read from the state topic, not yet turned into a [`Part`].
    stored: HashMap<StateKey, StateValue>,
    /// State-topic partitions read.
    loaded: HashSet<i32>,
}

/// What one request changed: the share-partitions whose state must be written.
pub type Dirty = BTreeSet<StateKey>;

/// A share-partition as a request names it, with its topic partition (led here).
#[derive(Clone)]
pub struct Target {
    pub key: StateKey,
    pub partition: Arc<Partition>,
}

pub struct ShareManager {
    broker: Weak<Broker>,
    inner: Mutex<Inner>,
    /// Woken when records may have become acquirable (a release, an expired lock, an ended
    /// backoff) — ShareFetches waiting for records listen to it and to the partitions' appends.
    pub changed: Notify,
    /// Woken when a new deadline may be earlier than the one the timer task sleeps to.
    timer_kick: Notify,
}

/// `id` as a session key (`SharePartitionKey`).
pub fn session_key(topic_id: &Uuid, partition: i32) -> SharePartitionKey {
    (topic_id.to_string(), partition)
}

impl ShareManager {
    pub fn new(broker: &Arc<Broker>) -> Arc<ShareManager> {
        let max_sessions = broker
            .config
            .broker_value("group.share.max.share.sessions")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(2000);
        Arc::new(ShareManager {
            broker: Arc::downgrade(broker),
            inner: Mutex::new(Inner {
                sessions: ShareSessions::new(max_sessions),
                ..Inner::default()
            }),
            changed: Notify::new(),
            timer_kick: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session step of a ShareFetch (see `ShareSessions::fetch`).
    #[allow(clippy::too_many_arguments)]
    pub fn session_fetch(
        &self,
        group: &str,
        member: &str,
        epoch: i32,
        add: &[SharePartitionKey],
        forget: &[SharePartitionKey],
        has_acks: bool,
        conn: u64,
    ) -> Result<FetchContext, SessionError> {
        let mut inner = self.lock();
        let ctx = inner
            .sessions
            .fetch(group, member, epoch, add, forget, has_acks, now_ms())?;
        let key = (group.to_string(), member.to_string());
        if ctx.closed {
            inner.session_conn.remove(&key);
        } else {
            inner.session_conn.insert(key, conn);
        }
        Ok(ctx)
    }

    /// The session step of a ShareAcknowledge: Ok(true) when the session ends.
    pub fn session_acknowledge(
        &self,
        group: &str,
        member: &str,
        epoch: i32,
    ) -> Result<bool, SessionError> {
        let mut inner = self.lock();
        let closed = inner.sessions.acknowledge(group, member, epoch, now_ms())?;
        if closed {
            inner
                .session_conn
                .remove(&(group.to_string(), member.to_string()));
        }
        Ok(closed)
    }

    /// Apply one partition's acknowledgement batches (all or nothing per batch, in order).
    /// Returns the partition's acknowledge error code (0, INVALID_REQUEST,
    /// INVALID_RECORD_STATE, or the state's loading error).
    pub fn acknowledge(
        &self,
        t: &Target,
        member: &str,
        batches: &[(i64, i64, Vec<i8>)],
        dirty: &mut Dirty,
    ) -> i16 {
        let now = now_ms();
        self.with_part(t, dirty, |sp, _| {
            let mut code = 0;
            let mut changed = false;
            for (first, last, types) in batches {
                match sp.acknowledge(member, *first, *last, types, now) {
                    Ok(_failed) => changed = true,
                    Err(AckError::InvalidRecordState(_)) => code = INVALID_RECORD_STATE,
                    Err(_) => code = INVALID_REQUEST,
                }
            }
            (code, changed)
        })
        .unwrap_or_else(|e| e)
    }

    /// Acquire up to `max_records` records of `t` for `member`. Err: the state's error code.
    pub fn acquire(
        &self,
        t: &Target,
        member: &str,
        max_records: usize,
        dirty: &mut Dirty,
    ) -> Result<(Vec<Acquired>, bool), i16> {
        let now = now_ms();
        let (hw, lso) = {
            let log = t.partition.log();
            (log.high_watermark(), log.last_stable_offset())
        };
        self.with_part(t, dirty, |sp, settings| {
            let end = if settings.read_committed { lso } else { hw };
            let runs = sp.acquire(member, max_records, end, now);
            let changed = !runs.is_empty();
            ((runs, settings.read_committed), changed)
        })
    }

    /// Give back acquired records that were not sent.
    pub fn unacquire(&self, t: &Target, member: &str, first: i64, last: i64) {
        let mut inner = self.lock();
        if let Some(p) = inner.parts.get_mut(&t.key) {
            p.sp.unacquire(member, first, last, 0);
        }
    }

    /// The acquisition lock duration of the group (ShareFetch's AcquisitionLockTimeoutMs).
    pub fn lock_duration_ms(&self, group: &str) -> i32 {
        match self.broker.upgrade() {
            Some(b) => i32::try_from(settings_for(&b, group).cfg.record_lock_duration_ms)
                .unwrap_or(i32::MAX),
            None => 30_000,
        }
    }

    /// Release what `member` holds on the share-partitions of `targets` (its session ended).
    pub fn release_member(&self, targets: &[Target], member: &str, dirty: &mut Dirty) {
        let now = now_ms();
        let mut inner = self.lock();
        for t in targets {
            if let Some(p) = inner.parts.get_mut(&t.key) {
                p.sp.release_member(member, now);
                dirty.insert(t.key.clone());
            }
        }
        drop(inner);
        self.changed.notify_waiters();
    }

    /// Release what `member` holds on every share-partition of `group` here (its session
    /// ended).
    pub fn release_member_everywhere(&self, group: &str, member: &str, dirty: &mut Dirty) {
        let now = now_ms();
        let mut inner = self.lock();
        for (key, p) in inner.parts.iter_mut() {
            if key.group != group {
                continue;
            }
            let held = p.sp.counts().1;
            p.sp.release_member(member, now);
            if p.sp.counts().1 != held {
                dirty.insert(key.clone());
            }
        }
        drop(inner);
        self.changed.notify_waiters();
    }

    /// The earliest time something changes by itself on `targets` (lock expiry, backoff end).
    pub fn next_deadline(&self, targets: &[Target]) -> Option<i64> {
        let now = now_ms();
        let inner = self.lock();
        targets
            .iter()
            .filter_map(|t| inner.parts.get(&t.key))
            .filter_map(|p| p.sp.next_deadline(now))
            .min()
    }

    /// Run `f` on the share-partition of `t` (loaded or created first), with the group's
    /// current settings; it returns its result and whether it changed the state (the
    /// share-partition is then marked dirty, as is a newly created one).
    fn with_part<R>(
        &self,
        t: &Target,
        dirty: &mut Dirty,
        f: impl FnOnce(&mut SharePartition, &PartSettings) -> (R, bool),
    ) -> Result<R, i16> {
        let broker = self.broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)?;
        let settings = settings_for(&broker, &t.key.group);
        let now = now_ms();
        let mut inner = self.lock();
        if !inner.parts.contains_key(&t.key) {
            let state = state_partition(&broker, &t.key)?;
            if inner.loaded.insert(state.index) {
                match internal_topic::read_records(STATE_TOPIC, &state) {
                    Ok(records) => {
                        for r in records {
                            let Some(k) = r.key.as_ref().and_then(|k| StateKey::decode(k).ok())
                            else {
                                continue;
                            };
                            match r.value.as_ref().map(|v| StateValue::decode(v)) {
                                Some(Ok(v)) => {
                                    inner.stored.insert(k, v);
                                }
                                Some(Err(e)) => {
                                    tracing::warn!("{STATE_TOPIC}: undecodable state of {k:?}: {e}")
                                }
                                None => {
                                    inner.stored.remove(&k);
                                }
                            }
                        }
                    }
                    Err(e) => {
                        inner.loaded.remove(&state.index);
                        tracing::error!("cannot read {STATE_TOPIC}-{}: {e}", state.index);
                        return Err(COORDINATOR_NOT_AVAILABLE);
                    }
                }
            }
            let part = match inner.stored.remove(&t.key) {
                Some(v) => {
                    let (sp, _failed) = SharePartition::restore(&v.snapshot, settings.cfg.clone());
                    Part {
                        sp,
                        settings: settings.clone(),
                        snapshot_epoch: v.snapshot_epoch,
                        create_timestamp: v.create_timestamp,
                    }
                }
                None => {
                    dirty.insert(t.key.clone());
                    let start = initial_offset(&t.partition, settings.reset, now);
                    Part {
                        sp: SharePartition::new(start, settings.cfg.clone()),
                        settings: settings.clone(),
                        snapshot_epoch: -1,
                        create_timestamp: now,
                    }
                }
            };
            inner.parts.insert(t.key.clone(), part);
        }
        let Some(part) = inner.parts.get_mut(&t.key) else {
            return Err(UNKNOWN_SERVER_ERROR);
        };
        if part.settings != settings {
            part.sp.set_config(settings.cfg.clone());
            part.settings = settings;
        }
        part.sp
            .log_start_moved(t.partition.log().log_start_offset());
        let (r, changed) = f(&mut part.sp, &part.settings);
        drop(inner);
        if changed {
            dirty.insert(t.key.clone());
            self.timer_kick.notify_one();
        }
        Ok(r)
    }

    /// Write the snapshots of `dirty` to the state topic; resolves once they are committed.
    pub async fn persist(&self, dirty: Dirty) -> Result<(), i16> {
        if dirty.is_empty() {
            return Ok(());
        }
        let pending = self.append(&dirty)?;
        pending.committed().await.map_err(|e| e.coordinator_code())
    }

    fn append(&self, dirty: &Dirty) -> Result<PendingCommit, i16> {
        let broker = self.broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)?;
        let topic = broker.topic(STATE_TOPIC).ok_or(COORDINATOR_NOT_AVAILABLE)?;
        let n = topic.partitions.len() as i32;
        let now = now_ms();
        let mut inner = self.lock();
        let mut records: Vec<(i32, Bytes, Bytes)> = Vec::new();
        for key in dirty {
            let Some(part) = inner.parts.get_mut(key) else {
                continue;
            };
            part.snapshot_epoch = part.snapshot_epoch.saturating_add(1);
            let value = StateValue {
                snapshot_epoch: part.snapshot_epoch,
                leader_epoch: -1,
                create_timestamp: part.create_timestamp,
                write_timestamp: now,
                snapshot: part.sp.snapshot(),
            };
            records.push((key.state_partition(n), key.encode(), value.encode()));
        }
        let result = internal_topic::append_records(
            STATE_TOPIC,
            |i| topic.leader(i, -1).ok().cloned(),
            records.iter().map(|(p, k, v)| (*p, None, k, Some(v))),
            now,
        );
        drop(inner);
        result.map_err(|e| e.coordinator_code())
    }

    /// A connection closed: its sessions end and their members' acquired records are released.
    pub fn connection_closed(self: &Arc<Self>, conn: u64) {
        let mut inner = self.lock();
        let ended: Vec<(String, String)> = inner
            .session_conn
            .iter()
            .filter(|(_, c)| **c == conn)
            .map(|(k, _)| k.clone())
            .collect();
        if ended.is_empty() {
            return;
        }
        let now = now_ms();
        let mut dirty = Dirty::new();
        for (group, member) in &ended {
            inner.session_conn.remove(&(group.clone(), member.clone()));
            inner.sessions.remove_member(group, member);
            for (key, p) in inner.parts.iter_mut() {
                if &key.group == group {
                    p.sp.release_member(member, now);
                    dirty.insert(key.clone());
                }
            }
        }
        drop(inner);
        self.changed.notify_waiters();
        let me = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(code) = me.persist(dirty).await {
                tracing::warn!("share state not written after a connection closed: {code}");
            }
        });
    }

    /// Expire due locks and backoffs, persist what changed, wake waiting fetches; returns
    /// the next deadline.
    async fn tick(&self) -> Option<i64> {
        let now = now_ms();
        let mut dirty = Dirty::new();
        let mut next: Option<i64> = None;
        {
            let mut inner = self.lock();
            for (key, p) in inner.parts.iter_mut() {
                match p.sp.next_deadline(now) {
                    Some(d) if d <= now => {
                        p.sp.expire_locks(now);
                        dirty.insert(key.clone());
                    }
                    _ => {}
                }
                if let Some(d) = p.sp.next_deadline(now) {
                    next = Some(next.map_or(d, |n: i64| n.min(d)));
                }
            }
        }
        if !dirty.is_empty() {
            self.changed.notify_waiters();
            if let Err(code) = self.persist(dirty).await {
                tracing::warn!("share state not written after lock expiry: {code}");
            }
        }
        next
    }

    /// The timer task: runs until the broker is gone.
    pub async fn run_timers(self: Arc<Self>) {
        loop {
            let next = self.tick().await;
            if self.broker.strong_count() == 0 {
                return;
            }
            let wait = next.map(|d| (d - now_ms()).clamp(1, 1000)).unwrap_or(1000);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = self.timer_kick.notified() => {}
            }
        }
    }

    /// (state, delivery count, holder) of every in-flight record of a share-partition, and
    /// its start offset: for admin and tests.
    pub fn describe(&self, key: &StateKey) -> Option<(i64, BTreeMap<&'static str, usize>)> {
        let inner = self.lock();
        let p = inner.parts.get(key)?;
        let (available, acquired, acknowledged, archived) = p.sp.counts();
        Some((
            p.sp.start_offset(),
            BTreeMap::from([
                ("available", available),
                ("acquired", acquired),
                ("acknowledged", acknowledged),
                ("archived", archived),
            ]),
        ))
    }
}

/// The `__share_group_state` partition of `key`, if this broker leads it.
fn state_partition(broker: &Broker, key: &StateKey) -> Result<Arc<Partition>, i16> {
    let topic = broker.topic(STATE_TOPIC).ok_or(COORDINATOR_NOT_AVAILABLE)?;
    let n = topic.partitions.len() as i32;
    topic
        .leader(key.state_partition(n), -1)
        .cloned()
        .map_err(|_| COORDINATOR_NOT_AVAILABLE)
}

/// Where a new share-partition starts (`share.auto.offset.reset`).
fn initial_offset(p: &Partition, reset: AutoOffsetReset, now: i64) -> i64 {
    let log = p.log();
    match reset {
        AutoOffsetReset::Earliest => log.log_start_offset(),
        AutoOffsetReset::Latest => log.high_watermark(),
        AutoOffsetReset::ByDuration(ms) => log
            .offset_for_timestamp(now.saturating_sub(ms))
            .ok()
            .flatten()
            .map_or_else(|| log.high_watermark(), |(offset, _)| offset),
    }
}

/// Make sure `__share_group_state` exists (created through the controller on first use, as
/// Kafka's share coordinator does), waiting up to `wait` for it to appear.
pub async fn ensure_state_topic(broker: &Arc<Broker>, wait: Duration) -> bool {
    if broker.topic(STATE_TOPIC).is_some() {
        return true;
    }
    let Some(channel) = broker.controller.get() else {
        return false;
    };
    let cfg = &broker.config;
    let partitions = cfg
        .broker_value("share.coordinator.state.topic.num.partitions")
        .and_then(|v| v.trim().parse::<i32>().ok())
        .unwrap_or(50);
    let rf = cfg
        .broker_value("share.coordinator.state.topic.replication.factor")
        .and_then(|v| v.trim().parse::<i16>().ok())
        .unwrap_or(3);
    let cap = if cfg.process_roles_controller {
        cfg.controller_quorum_voters.len().max(1) as i16
    } else {
        i16::MAX
    };
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), Some("compact".to_string()));
    configs.insert("compression.type".to_string(), Some("producer".to_string()));
    let req = crate::cluster::controller_rpc::ControllerRequest::CreateTopics {
        topics: vec![crate::cluster::controller_rpc::NewTopic {
            name: STATE_TOPIC.to_string(),
            num_partitions: partitions,
            replication_factor: rf.min(cap).max(1),
            assignments: None,
            configs,
        }],
        validate_only: false,
    };
    if let Err(e) = channel.call(req).await {
        tracing::debug!("{STATE_TOPIC} not created yet: {e}");
    }
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        if let Some(t) = broker.topic(STATE_TOPIC) {
            // Created; its partitions get their leaders shortly after.
            if t.partitions.iter().all(|s| s.meta.leader >= 0) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broker.topic(STATE_TOPIC).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_parse_like_java() {
        assert_eq!(parse_iso_duration_ms("PT1H"), Some(3_600_000));
        assert_eq!(parse_iso_duration_ms("P1DT2H30M"), Some(95_400_000));
        assert_eq!(parse_iso_duration_ms("PT0.5S"), Some(500));
        assert_eq!(parse_iso_duration_ms("P2D"), Some(172_800_000));
        assert_eq!(parse_iso_duration_ms("PT"), None);
        assert_eq!(parse_iso_duration_ms("1H"), None);
        assert_eq!(parse_iso_duration_ms("PT-1S"), None);
        assert_eq!(parse_iso_duration_ms("PT1X"), None);
    }
}
