//! The share-partition runtime (KIP-932): the delivery state of every share-partition whose
//! topic partition this broker leads, the share sessions of ShareFetch / ShareAcknowledge,
//! lock expiry, and the durability of that state in `__share_group_state`.
//!
//! - **State.** One [`SharePartition`] (the pure state machine of `crate::share::partition`)
//!   per (group, topic id, partition), loaded on first use ([`ShareManager::load`]) from its
//!   share coordinator (`share_state`: the leader of its `__share_group_state` partition,
//!   here or on another broker), else initialized there where the group's
//!   `share.auto.offset.reset` says (latest by default) before anything is delivered, so
//!   records produced after it are never skipped by a restart. It is loaded again when the
//!   topic partition's leader epoch changes.
//! - **Durability.** Every change (acquisition — so a restart never lets a record be delivered
//!   past the delivery limit —, acknowledgement, release, lock expiry) is written as a full
//!   snapshot of the share-partition through its share coordinator (`crate::share::records`)
//!   and answered only once committed: an acknowledged ACCEPT is never redelivered after
//!   `kill -9` or a failover. Snapshots carry increasing snapshot epochs, so two writes that
//!   overtake each other keep the newer one. A write fenced by the coordinator (the state was
//!   reset or deleted meanwhile, or a newer leader of the topic partition read it) drops the
//!   share-partition here; it is loaded again on its next use.
//! - **Sessions** (`crate::share::session`) are tied to the connection that opened them, as
//!   Kafka's: when the connection closes, the session ends and the member's acquired records
//!   are released at once (a killed consumer's records go to the others without waiting for
//!   the lock to expire).
//! - **Time.** A task expires acquisition locks (and ends redelivery backoffs) when they are
//!   due, and wakes waiting ShareFetches ([`ShareManager::changed`]).
//!
//! Concurrency: one std mutex guards the whole state; no await happens under it (the state
//! partition's first read is a blocking read under it, once per state partition).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use uuid::Uuid;

use super::share_state::ShareState;
pub use super::share_state::STATE_TOPIC;
use crate::api::now_ms;
use crate::cluster::{Broker, Partition};
use crate::share::coordinator::{StateWrite, FENCED_LEADER_EPOCH, FENCED_STATE_EPOCH};
use crate::share::partition::{AckError, Acquired, Failed, ShareConfig, SharePartition};
use crate::share::records::{DlqPending, StateKey};
use crate::share::session::{FetchContext, SessionError, SharePartitionKey, ShareSessions};

/// Kafka error codes.
pub const INVALID_REQUEST: i16 = 42;
pub const INVALID_RECORD_STATE: i16 = 121;
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
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
    /// `skua.share.record.filter`: the tags delivered (`*`: every record); None: off.
    pub filter: Option<Vec<String>>,
    /// `skua.share.delayed.delivery.enable`.
    pub delayed: bool,
    /// `errors.deadletterqueue.topic.name` (None: no dead-letter queue).
    pub dlq_topic: Option<String>,
    /// `errors.deadletterqueue.copy.record.enable`.
    pub dlq_copy: bool,
}

impl Default for PartSettings {
    fn default() -> Self {
        PartSettings {
            cfg: ShareConfig::default(),
            reset: AutoOffsetReset::Latest,
            read_committed: false,
            filter: None,
            delayed: false,
            dlq_topic: None,
            dlq_copy: false,
        }
    }
}

/// Whether a record with tag `tag` passes `filter`.
pub fn filter_accepts(filter: &[String], tag: Option<&str>) -> bool {
    filter
        .iter()
        .any(|f| f == "*" || tag.is_some_and(|t| t == f))
}

/// The group's share settings: its GROUP config overrides, else the broker's `group.share.*`
/// values, else Kafka's defaults (`config::ShareGroupSettings`).
pub fn settings_for(broker: &Broker, group: &str) -> PartSettings {
    use crate::config::group_configs::{AutoOffsetReset as Reset, ShareGroupSettings};
    let all = broker.all_group_configs();
    let g = ShareGroupSettings::effective(&broker.config, all.get(group));
    let d = ShareConfig::default();
    PartSettings {
        cfg: ShareConfig {
            record_lock_duration_ms: i64::from(g.record_lock_duration_ms.max(1)),
            delivery_count_limit: u16::try_from(g.delivery_count_limit.max(1))
                .unwrap_or(d.delivery_count_limit),
            max_record_locks: usize::try_from(g.partition_max_record_locks.max(1))
                .unwrap_or(d.max_record_locks),
            redelivery_backoff_ms: g
                .redelivery_backoff_ms
                .iter()
                .map(|v| i64::try_from(*v).unwrap_or(i64::MAX))
                .collect(),
        },
        reset: match g.auto_offset_reset {
            Reset::Earliest => AutoOffsetReset::Earliest,
            Reset::Latest => AutoOffsetReset::Latest,
            Reset::ByDuration(ms) => {
                AutoOffsetReset::ByDuration(i64::try_from(ms).unwrap_or(i64::MAX))
            }
        },
        read_committed: g.read_committed,
        filter: g.record_filter,
        delayed: g.delayed_delivery,
        dlq_topic: g.dlq_topic,
        dlq_copy: g.dlq_copy_record,
    }
}

struct Part {
    sp: SharePartition,
    settings: PartSettings,
    snapshot_epoch: i32,
    /// The state epoch the share coordinator gave the state this copy was read from.
    state_epoch: i32,
    create_timestamp: i64,
    /// The topic partition's leader epoch when loaded.
    leader_epoch: i32,
    /// Failed records whose dead-letter copy is not written yet, by offset.
    dlq_pending: BTreeMap<i64, DlqPending>,
    /// Whether the dead-letter partition was searched for copies of `dlq_pending` written
    /// before a restart.
    dlq_checked: bool,
    /// Records archived unsent by the record filter, and copied to the dead-letter topic,
    /// since this broker loaded the share-partition.
    filtered: u64,
    dlq_written: u64,
}

impl Part {
    /// Records that failed (rejected, or past the delivery limit): queued for the dead-letter
    /// topic when the group has one.
    fn failed(&mut self, broker: &Broker, key: &StateKey, failed: Vec<Failed>) -> bool {
        let Some(topic) = self.settings.dlq_topic.as_deref() else {
            return false;
        };
        if failed.is_empty() {
            return false;
        }
        let mark = super::share_dlq::dead_letter_end(broker, topic, key.partition).unwrap_or(-1);
        for f in failed {
            self.dlq_pending.insert(
                f.offset,
                DlqPending {
                    offset: f.offset,
                    delivery_count: f.delivery_count,
                    mark,
                },
            );
        }
        true
    }
}

/// One share-partition's figures (metrics, `skua group describe`).
#[derive(Debug, Clone)]
pub struct SharePartitionStats {
    pub key: StateKey,
    pub start_offset: i64,
    pub end_offset: i64,
    /// (available, acquired, acknowledged, archived) in flight.
    pub counts: (usize, usize, usize, usize),
    pub filtered: u64,
    pub dlq_written: u64,
    pub dlq_pending: usize,
}

/// What an acquisition got, and what the fetch must look at before handing it out.
pub struct Acquisition {
    pub runs: Vec<Acquired>,
    pub read_committed: bool,
    pub filter: Option<Vec<String>>,
    pub delayed: bool,
}

#[derive(Default)]
struct Inner {
    sessions: ShareSessions,
    /// The connection each session was opened on.
    session_conn: HashMap<(String, String), u64>,
    parts: HashMap<StateKey, Part>,
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
    /// Where the share-partitions' state is kept (the share coordinator and persister).
    pub state: ShareState,
    /// Held while a share-partition is loaded (one load at a time; loads are rare).
    load_lock: tokio::sync::Mutex<()>,
    /// Woken when records may have become acquirable (a release, an expired lock, an ended
    /// backoff) — ShareFetches waiting for records listen to it and to the partitions' appends.
    pub changed: Notify,
    /// Woken when a new deadline may be earlier than the one the timer task sleeps to.
    timer_kick: Notify,
    /// When stored states were last searched for pending dead-letter copies.
    last_adopt: Mutex<i64>,
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
            state: ShareState::new(broker),
            load_lock: tokio::sync::Mutex::new(()),
            changed: Notify::new(),
            timer_kick: Notify::new(),
            last_adopt: Mutex::new(0),
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
        self.with_part(t, dirty, |part, broker| {
            let mut code = 0;
            let mut changed = false;
            for (first, last, types) in batches {
                match part.sp.acknowledge(member, *first, *last, types, now) {
                    Ok(failed) => {
                        // RENEW (4) only moves a lock's deadline, which is not persisted.
                        changed |= types.iter().any(|t| *t != 4);
                        part.failed(broker, &t.key, failed);
                    }
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
    ) -> Result<Acquisition, i16> {
        let now = now_ms();
        let (hw, lso) = {
            let log = t.partition.log();
            (log.high_watermark(), log.last_stable_offset())
        };
        self.with_part(t, dirty, |part, _| {
            let s = &part.settings;
            let end = if s.read_committed { lso } else { hw };
            let runs = part.sp.acquire(member, max_records, end, now);
            let changed = !runs.is_empty();
            let a = Acquisition {
                runs,
                read_committed: s.read_committed,
                filter: s.filter.clone(),
                delayed: s.delayed,
            };
            (a, changed)
        })
    }

    /// Records acquired but not to be delivered now: `filtered` ones are archived for the
    /// group (the record filter), `delayed` ones (offset, due time) are given back until then,
    /// `aborted` ones (records of aborted transactions, read_committed) are archived.
    pub fn hold_back(
        &self,
        t: &Target,
        member: &str,
        filtered: &[i64],
        delayed: &[(i64, i64)],
        aborted: &[i64],
        dirty: &mut Dirty,
    ) {
        if filtered.is_empty() && delayed.is_empty() && aborted.is_empty() {
            return;
        }
        let mut inner = self.lock();
        if let Some(p) = inner.parts.get_mut(&t.key) {
            for o in filtered {
                if p.sp.archive_unsent(member, *o) {
                    p.filtered += 1;
                }
            }
            for (o, due) in delayed {
                p.sp.unacquire(member, *o, *o, *due);
            }
            for o in aborted {
                p.sp.archive_unsent(member, *o);
            }
            dirty.insert(t.key.clone());
        }
        drop(inner);
        self.timer_kick.notify_one();
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
        let broker = self.broker.upgrade();
        for t in targets {
            if let Some(p) = inner.parts.get_mut(&t.key) {
                let failed = p.sp.release_member(member, now);
                if let Some(b) = &broker {
                    p.failed(b, &t.key, failed);
                }
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
        let broker = self.broker.upgrade();
        let mut inner = self.lock();
        for (key, p) in inner.parts.iter_mut() {
            if key.group != group {
                continue;
            }
            let held = p.sp.counts().1;
            let failed = p.sp.release_member(member, now);
            if let Some(b) = &broker {
                p.failed(b, key, failed);
            }
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
        f: impl FnOnce(&mut Part, &Broker) -> (R, bool),
    ) -> Result<R, i16> {
        let broker = self.broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)?;
        let settings = settings_for(&broker, &t.key.group);
        let leader_epoch = t.partition.leader_epoch();
        let mut inner = self.lock();
        // Not loaded (or loaded under an older leadership): the caller loads it first.
        let Some(part) = inner
            .parts
            .get_mut(&t.key)
            .filter(|p| p.leader_epoch == leader_epoch)
        else {
            return Err(COORDINATOR_LOAD_IN_PROGRESS);
        };
        let mut changed_config = false;
        if part.settings != settings {
            let failed = part.sp.set_config(settings.cfg.clone());
            part.settings = settings;
            changed_config = part.failed(&broker, &t.key, failed);
        }
        part.sp
            .log_start_moved(t.partition.log().log_start_offset());
        let (r, changed) = f(part, &broker);
        let changed = changed || changed_config;
        drop(inner);
        if changed {
            dirty.insert(t.key.clone());
            self.timer_kick.notify_one();
        }
        Ok(r)
    }

    /// Load the share-partition of `t` if it is not loaded under the topic partition's
    /// current leader epoch: read its state from its share coordinator, or initialize it
    /// there. Err: the error code to answer for that partition.
    pub async fn load(&self, t: &Target) -> Result<(), i16> {
        let leader_epoch = t.partition.leader_epoch();
        let loaded = |me: &Self| {
            me.lock()
                .parts
                .get(&t.key)
                .is_some_and(|p| p.leader_epoch == leader_epoch)
        };
        if loaded(self) {
            return Ok(());
        }
        let _one = self.load_lock.lock().await;
        if loaded(self) {
            return Ok(());
        }
        let broker = self.broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)?;
        let settings = settings_for(&broker, &t.key.group);
        let now = now_ms();
        let value = match self
            .state
            .read(&t.key, leader_epoch)
            .await
            .map_err(fenced_code)?
        {
            Some(v) => v,
            None => {
                let start = initial_offset(&t.partition, settings.reset, now);
                self.state
                    .initialize(&t.key, new_state_epoch(now), start)
                    .await?;
                self.state
                    .read(&t.key, leader_epoch)
                    .await
                    .map_err(fenced_code)?
                    .ok_or(COORDINATOR_NOT_AVAILABLE)?
            }
        };
        let (sp, failed) = SharePartition::restore(&value.snapshot, settings.cfg.clone());
        let mut part = Part {
            sp,
            settings,
            snapshot_epoch: value.snapshot_epoch,
            state_epoch: value.state_epoch,
            create_timestamp: value.create_timestamp,
            leader_epoch,
            dlq_pending: value.dlq_pending.iter().map(|d| (d.offset, *d)).collect(),
            dlq_checked: value.dlq_pending.is_empty(),
            filtered: 0,
            dlq_written: 0,
        };
        let dirty = part.failed(&broker, &t.key, failed);
        self.lock().parts.insert(t.key.clone(), part);
        if dirty {
            self.persist(Dirty::from([t.key.clone()])).await?;
        }
        self.timer_kick.notify_one();
        Ok(())
    }

    /// Write the snapshots of `dirty` through their share coordinators; resolves once they
    /// are committed. A share-partition whose write is fenced is dropped here (loaded again
    /// on its next use).
    pub async fn persist(&self, dirty: Dirty) -> Result<(), i16> {
        if dirty.is_empty() {
            return Ok(());
        }
        let writes: Vec<(StateKey, StateWrite)> = {
            let mut inner = self.lock();
            dirty
                .iter()
                .filter_map(|key| {
                    let part = inner.parts.get_mut(key)?;
                    part.snapshot_epoch = part.snapshot_epoch.saturating_add(1);
                    Some((
                        key.clone(),
                        StateWrite {
                            state_epoch: part.state_epoch,
                            leader_epoch: part.leader_epoch,
                            snapshot_epoch: Some(part.snapshot_epoch),
                            create_timestamp: part.create_timestamp,
                            snapshot: part.sp.snapshot(),
                            dlq_pending: part.dlq_pending.values().copied().collect(),
                        },
                    ))
                })
                .collect()
        };
        let mut first_error = None;
        for (key, code) in self.state.write(writes).await {
            if code == 0 {
                continue;
            }
            if matches!(code, FENCED_STATE_EPOCH | FENCED_LEADER_EPOCH) {
                tracing::info!("share state of {key:?} was fenced ({code}): reloading it");
                self.lock().parts.remove(&key);
            }
            first_error.get_or_insert(fenced_code(code));
        }
        match first_error {
            None => Ok(()),
            Some(code) => Err(code),
        }
    }

    /// The start offset of every share-partition of `group` with state.
    pub async fn start_offsets(&self, group: &str) -> Result<BTreeMap<(Uuid, i32), i64>, i16> {
        self.state.start_offsets(group).await
    }

    /// AlterShareGroupOffsets: the share-partition starts over at `start` (its in-flight
    /// state is dropped). Committed before it returns; its leader's copy is fenced.
    pub async fn reset_start(&self, key: &StateKey, start: i64) -> Result<(), i16> {
        self.lock().parts.remove(key);
        self.state
            .initialize(key, new_state_epoch(now_ms()), start)
            .await?;
        self.lock().parts.remove(key);
        self.changed.notify_waiters();
        Ok(())
    }

    /// DeleteShareGroupOffsets / DeleteGroups: forget the state of `group`'s share-partitions
    /// of `topic_id` (every topic: None), with tombstones in the state topic.
    pub async fn delete_state(&self, group: &str, topic_id: Option<Uuid>) -> Result<(), i16> {
        let drop_here = |me: &Self| {
            me.lock()
                .parts
                .retain(|k, _| !(k.group == group && topic_id.is_none_or(|id| id == k.topic_id)))
        };
        drop_here(self);
        self.state.delete(group, topic_id).await?;
        drop_here(self);
        Ok(())
    }

    /// Per share-partition of this broker: (key, start offset, in-flight counts
    /// (available, acquired, acknowledged, archived), filtered, dead-letter copies written,
    /// dead-letter copies pending) — for metrics and `skua group`.
    pub fn stats(&self) -> Vec<SharePartitionStats> {
        let inner = self.lock();
        let mut out: Vec<SharePartitionStats> = inner
            .parts
            .iter()
            .map(|(k, p)| SharePartitionStats {
                key: k.clone(),
                start_offset: p.sp.start_offset(),
                end_offset: p.sp.end_offset(),
                counts: p.sp.counts(),
                filtered: p.filtered,
                dlq_written: p.dlq_written,
                dlq_pending: p.dlq_pending.len(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
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
        let broker = self.broker.upgrade();
        let mut dirty = Dirty::new();
        for (group, member) in &ended {
            inner.session_conn.remove(&(group.clone(), member.clone()));
            inner.sessions.remove_member(group, member);
            for (key, p) in inner.parts.iter_mut() {
                if &key.group == group {
                    let held = p.sp.counts().1;
                    let failed = p.sp.release_member(member, now);
                    if let Some(b) = &broker {
                        p.failed(b, key, failed);
                    }
                    if p.sp.counts().1 != held {
                        dirty.insert(key.clone());
                    }
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
        let broker = self.broker.upgrade();
        {
            let mut inner = self.lock();
            for (key, p) in inner.parts.iter_mut() {
                match p.sp.next_deadline(now) {
                    Some(d) if d <= now => {
                        let failed = p.sp.expire_locks(now);
                        if let Some(b) = &broker {
                            p.failed(b, key, failed);
                        }
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
        if self.write_dead_letters().await {
            // Retry soon what could not be written.
            next = Some(next.map_or(now + 1000, |n| n.min(now + 1000)));
        }
        next
    }

    /// Share-partitions with dead-letter copies still pending in their stored state (a
    /// restart before they were written), whose state and topic partition are both here, are
    /// loaded, so the copies go out without waiting for a consumer to fetch there.
    async fn adopt_pending_dead_letters(&self, broker: &Broker) {
        if broker.topic(STATE_TOPIC).is_none() {
            return;
        }
        for key in self.state.coord_dlq_pending() {
            if self.lock().parts.contains_key(&key) {
                continue;
            }
            let Some(partition) = broker
                .topic_by_id(&key.topic_id)
                .and_then(|t| t.leader(key.partition, -1).ok().cloned())
            else {
                continue;
            };
            let t = Target { key, partition };
            if let Err(code) = self.load(&t).await {
                tracing::debug!("share-partition {:?} not loaded: {code}", t.key);
            }
        }
    }

    /// Copy the records pending for dead-letter topics (see `share_dlq`). Returns whether some
    /// are still pending.
    async fn write_dead_letters(&self) -> bool {
        let Some(broker) = self.broker.upgrade() else {
            return false;
        };
        let due = {
            let mut last = self.last_adopt.lock().unwrap_or_else(|e| e.into_inner());
            let now = now_ms();
            let due = now - *last >= 5000;
            if due {
                *last = now;
            }
            due
        };
        if due {
            self.adopt_pending_dead_letters(&broker).await;
        }
        type Work = (StateKey, Option<String>, bool, Vec<DlqPending>, bool);
        let work: Vec<Work> = {
            let inner = self.lock();
            inner
                .parts
                .iter()
                .filter(|(_, p)| !p.dlq_pending.is_empty())
                .map(|(k, p)| {
                    (
                        k.clone(),
                        p.settings.dlq_topic.clone(),
                        p.settings.dlq_copy,
                        p.dlq_pending.values().copied().collect(),
                        p.dlq_checked,
                    )
                })
                .collect()
        };
        if work.is_empty() {
            return false;
        }
        let mut dirty = Dirty::new();
        let mut retry = false;
        for (key, topic, copy, pending, checked) in work {
            let result = match &topic {
                None => Err(super::share_dlq::DlqError::Drop(
                    "the group no longer has a dead-letter topic".into(),
                )),
                Some(t) => super::share_dlq::write(&broker, &key, t, copy, &pending, checked).await,
            };
            let (done, written) = match result {
                Ok(r) => r,
                Err(super::share_dlq::DlqError::Retry(why)) => {
                    tracing::debug!("dead-letter copies of {key:?} wait: {why}");
                    retry = true;
                    continue;
                }
                Err(super::share_dlq::DlqError::Drop(why)) => {
                    tracing::warn!(
                        "{} records of share group {} archived without a dead-letter copy: {why}",
                        pending.len(),
                        key.group
                    );
                    (pending.iter().map(|d| d.offset).collect(), 0)
                }
            };
            let mut inner = self.lock();
            if let Some(p) = inner.parts.get_mut(&key) {
                for o in done {
                    p.dlq_pending.remove(&o);
                }
                p.dlq_written += written as u64;
                p.dlq_checked = true;
                dirty.insert(key);
            }
        }
        if let Err(code) = self.persist(dirty).await {
            tracing::warn!("share state not written after dead-letter copies: {code}");
            retry = true;
        }
        retry
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

    /// The group coordinator expired `member` of `group` (its session timed out) while its
    /// connection may stay open: its share sessions end and what it holds here is released at
    /// once, as when its connection closes. The caller persists `dirty`.
    pub fn member_left(&self, group: &str, member: &str, dirty: &mut Dirty) {
        {
            let mut inner = self.lock();
            let key = (group.to_string(), member.to_string());
            inner.session_conn.remove(&key);
            inner.sessions.remove_member(group, member);
        }
        self.release_member_everywhere(group, member, dirty);
    }
}

/// A fenced read or write, as the share-partition's leader answers it to a consumer: the
/// state moved on without this copy (retriable once reloaded).
fn fenced_code(code: i16) -> i16 {
    match code {
        FENCED_STATE_EPOCH => COORDINATOR_LOAD_IN_PROGRESS,
        other => other,
    }
}

/// A state epoch for a new initialization: seconds since 2020, so a later one is larger (the
/// coordinator also puts it past any epoch it knows).
fn new_state_epoch(now_ms: i64) -> i32 {
    i32::try_from((now_ms / 1000).saturating_sub(1_577_836_800))
        .unwrap_or(i32::MAX)
        .max(1)
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
    let min_isr = cfg
        .broker_value("share.coordinator.state.topic.min.isr")
        .and_then(|v| v.trim().parse::<i16>().ok())
        .unwrap_or(2);
    let rf = rf.min(cap).max(1);
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), Some("compact".to_string()));
    configs.insert(
        "min.insync.replicas".to_string(),
        Some(min_isr.clamp(1, rf).to_string()),
    );
    configs.insert("compression.type".to_string(), Some("producer".to_string()));
    let req = crate::cluster::controller_rpc::ControllerRequest::CreateTopics {
        topics: vec![crate::cluster::controller_rpc::NewTopic {
            name: STATE_TOPIC.to_string(),
            num_partitions: partitions,
            replication_factor: rf,
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
