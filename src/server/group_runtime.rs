//! The tokio side of the group coordinator: one task owns the [`GroupCoordinator`] state
//! machine, takes requests in arrival order from a channel, and carries out each Outcome —
//! append its records to `__consumer_offsets` (Kafka's schemas, one batch per partition),
//! wait until they are committed, send its responses, arm or cancel its timers.
//!
//! Coordinator partitions: the task serves the groups of the `__consumer_offsets`
//! partitions loaded here ([`CoordinatorPartitions`]). With [`LoadMode::All`] (tests) it
//! replays every hosted partition of an existing topic at start. With [`LoadMode::OnDemand`] (a cluster member) it starts empty and the broker calls
//! [`GroupHandle::load_partition`] / [`GroupHandle::unload_partition`] as it gains and loses
//! leadership of partitions: a load reads the partition on a blocking task and replays it on
//! this one; requests for its groups meanwhile get COORDINATOR_LOAD_IN_PROGRESS, requests
//! for groups of partitions not loaded here NOT_COORDINATOR; an unload drops the partition's
//! groups and timers and answers their parked joins and syncs NOT_COORDINATOR.
//!
//! Durability of group records: appended like an acks=1 produce (in the page cache before the
//! answer, so a committed offset survives `kill -9`; fsynced per the topic's flush policy),
//! and answered once committed (the high watermark passed them; at once on a single node).
//! An answer that reads state also waits for this coordinator's last append to its
//! partition (Kafka's coordinator runtime does the same), so nothing a leader change could
//! lose is ever shown. A failed append or commit answers the Kafka way
//! ([`AppendError::coordinator_code`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::records::Record as KRecord;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::internal_topic::{
    self, AppendError, CoordinatorPartitions, LoadMode, LoadOutcome, LoadStep, PendingCommit,
    Timers,
};
use crate::api::now_ms;
use crate::cluster::{Broker, GroupConfigs, Partition};
use crate::group::routing::{self, Gate, Scope};
use crate::group::types::{Outcome, Request, RequestId, Response, TimerKey, TimerOp};
use crate::group::{GroupCoordinator, UuidMemberIds};
use crate::metrics::CommittedOffsetRow;

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// offsets.commit.timeout.ms (Kafka's default): how long an answer waits for its records to
/// be committed before it becomes COORDINATOR_NOT_AVAILABLE.
pub const OFFSETS_COMMIT_TIMEOUT: Duration = Duration::from_millis(5000);

/// request.timeout.ms (Kafka's default): how long a transaction marker may take to commit.
const MARKER_TIMEOUT: Duration = Duration::from_millis(30_000);

/// NOT_LEADER_OR_FOLLOWER: what a marker for a partition this coordinator does not serve
/// gets (Kafka's KafkaApis translates the coordinator's NOT_COORDINATOR /
/// COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE to it for WriteTxnMarkers).
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;

enum Msg {
    Request(Request, oneshot::Sender<Response>),
    /// Write a transaction marker to one `__consumer_offsets` partition and complete the
    /// producer's pending offsets there.
    Marker {
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        done: oneshot::Sender<Result<(), i16>>,
    },
    /// A snapshot of every committed offset (read-only; for consumer-group lag metrics).
    CommittedOffsets(oneshot::Sender<Vec<CommittedOffsetRow>>),
    Load {
        partition: i32,
        leader_epoch: i32,
        done: oneshot::Sender<LoadOutcome>,
    },
    /// A load's read finished (on a blocking task).
    Read {
        partition: i32,
        generation: u64,
        records: Result<Vec<KRecord>, String>,
    },
    Unload {
        partition: i32,
    },
}

/// Cheap to clone; how API handlers (and the broker, on leadership changes) reach the
/// coordinator.
#[derive(Clone)]
pub struct GroupHandle {
    tx: mpsc::UnboundedSender<Msg>,
    /// `__consumer_offsets` partition count (fixed for the life of the runtime).
    partitions: i32,
}

impl GroupHandle {
    /// Queue a request now (so requests from one connection reach the coordinator in order)
    /// and return a future for its response.
    pub fn submit(
        &self,
        request: Request,
    ) -> impl std::future::Future<Output = Option<Response>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.send(Msg::Request(request, tx)).is_ok();
        async move {
            if !sent {
                return None;
            }
            rx.await.ok()
        }
    }

    /// Write a transaction marker to `__consumer_offsets` partition `partition` (appended,
    /// fsynced and committed), and apply it to the producer's pending transactional offsets
    /// there. Err is the Kafka error code WriteTxnMarkers answers for that partition.
    pub async fn write_marker(
        &self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Result<(), i16> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Msg::Marker {
                partition,
                producer_id,
                producer_epoch,
                commit,
                coordinator_epoch,
                done,
            })
            .map_err(|_| NOT_LEADER_OR_FOLLOWER)?;
        rx.await.map_err(|_| NOT_LEADER_OR_FOLLOWER)?
    }

    /// Every committed offset now; None if the coordinator has stopped.
    pub async fn committed_offsets(&self) -> Option<Vec<CommittedOffsetRow>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::CommittedOffsets(tx)).ok()?;
        rx.await.ok()
    }

    /// This broker became leader of `__consumer_offsets` partition `partition` with
    /// `leader_epoch`: load its groups. The receiver tells how the load ended (dropping it
    /// is fine). A load older than an epoch already seen is ignored.
    pub fn load_partition(
        &self,
        partition: i32,
        leader_epoch: i32,
    ) -> oneshot::Receiver<LoadOutcome> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Msg::Load {
            partition,
            leader_epoch,
            done,
        });
        rx
    }

    /// This broker stopped leading `partition`: drop its groups (NOT_COORDINATOR from now).
    pub fn unload_partition(&self, partition: i32) {
        let _ = self.tx.send(Msg::Unload { partition });
    }

    /// The `__consumer_offsets` partition of a group (FindCoordinator: its leader).
    pub fn partition_for(&self, group_id: &str) -> i32 {
        crate::group::partition_for(group_id, self.partitions)
    }

    /// The `__consumer_offsets` partition count the coordinator hashes group ids over.
    pub fn offsets_topic_partitions(&self) -> i32 {
        self.partitions
    }
}

/// Start the group coordinator. [`LoadMode::All`]: replay every hosted partition of an existing topic
/// first. [`LoadMode::OnDemand`]: nothing loaded.
pub fn start(broker: &Arc<Broker>, mode: LoadMode) -> anyhow::Result<GroupHandle> {
    let cfg = &broker.config;
    let topic = match (broker.topic(OFFSETS_TOPIC), mode) {
        (Some(t), _) => Some(t),
        (None, LoadMode::OnDemand) => None,
        // Internal topics are created through the controller (server/mod.rs); until
        // then nothing is loaded here.
        (None, LoadMode::All) => None,
    };
    let mut group_config = cfg.group_config();
    if let Some(t) = &topic {
        group_config.offsets_topic_partitions = t.partitions.len() as i32;
    }
    let partitions = group_config.offsets_topic_partitions;
    let mut coordinator = GroupCoordinator::new(group_config, Box::new(UuidMemberIds));
    let group_configs = broker.all_group_configs();
    coordinator.set_group_overrides(overrides_of(&group_configs));
    coordinator.set_share_overrides(share_overrides_of(&group_configs));
    let mut served = CoordinatorPartitions::default();
    let now = now_ms();
    if let (LoadMode::All, Some(topic)) = (mode, &topic) {
        let mut replayed = 0usize;
        for p in topic.hosted() {
            replayed += internal_topic::replay_partition(OFFSETS_TOPIC, p, |r| {
                apply_record(&mut coordinator, p.index, r, now)
            })?;
            served.set_loaded(p.index, p.leader_epoch());
        }
        tracing::info!(records = replayed, "replayed {OFFSETS_TOPIC}");
    }
    // Session timers of everything replayed, and the periodic offsets expiry.
    let loaded = coordinator.loaded(now);
    let (tx, rx) = mpsc::unbounded_channel();
    let rt = Runtime {
        broker: Arc::clone(broker),
        coordinator,
        served,
        self_tx: tx.downgrade(),
        load_waiters: HashMap::new(),
        waiting: HashMap::new(),
        timers: Timers::default(),
        next_id: 0,
        last_appended: HashMap::new(),
        group_configs,
    };
    tokio::spawn(rt.run(rx, loaded));
    Ok(GroupHandle { tx, partitions })
}

/// Replay one record of `__consumer_offsets` partition `partition`.
fn apply_record(coordinator: &mut GroupCoordinator, partition: i32, r: &KRecord, now: i64) {
    let res = if r.control {
        // A transaction marker: commit or discard the producer's pending offsets.
        if let Some(commit) = r.key.as_deref().and_then(marker_type) {
            coordinator.replay_marker(r.producer_id, commit, partition);
        }
        Ok(())
    } else if let Some(key) = &r.key {
        if r.transactional {
            coordinator.replay_transactional(now, r.producer_id, key, r.value.as_deref())
        } else {
            coordinator.replay(now, key, r.value.as_deref())
        }
    } else {
        Ok(())
    };
    if let Err(e) = res {
        tracing::warn!(partition, offset = r.offset, "skipping record: {e}");
    }
}

/// The type of a control record key (version i16, type i16): Some(true) for COMMIT,
/// Some(false) for ABORT, None for anything else.
fn marker_type(key: &[u8]) -> Option<bool> {
    match key {
        [0, 0, 0, 1] => Some(true),
        [0, 0, 0, 0] => Some(false),
        _ => None,
    }
}

fn group_of(key: &TimerKey) -> Option<&str> {
    match key {
        TimerKey::Session { group_id, .. }
        | TimerKey::Join { group_id }
        | TimerKey::Sync { group_id }
        | TimerKey::ConsumerSession { group_id, .. }
        | TimerKey::ConsumerRebalance { group_id, .. }
        | TimerKey::ShareSession { group_id } => Some(group_id),
        TimerKey::OffsetsExpiry => None,
    }
}

struct Runtime {
    broker: Arc<Broker>,
    coordinator: GroupCoordinator,
    served: CoordinatorPartitions,
    /// For blocking load tasks to report back (weak: the runtime ends with its handles).
    self_tx: mpsc::WeakUnboundedSender<Msg>,
    /// Who asked for each load in progress.
    load_waiters: HashMap<i32, Vec<oneshot::Sender<LoadOutcome>>>,
    waiting: HashMap<RequestId, oneshot::Sender<Response>>,
    timers: Timers<TimerKey>,
    next_id: RequestId,
    /// The end offset of this coordinator's last append to each partition: answers that
    /// read a partition's state wait until it is committed.
    last_appended: HashMap<i32, (Arc<Partition>, i64)>,
    /// The GROUP config overrides the coordinator was last given (the broker's copy changes
    /// with the metadata image).
    group_configs: Arc<GroupConfigs>,
}

/// The consumer-group overrides of the GROUP config resources: group id → (session timeout,
/// heartbeat interval). Values were validated by the controller; one that does not parse is
/// ignored (the broker default applies).
/// The share-group overrides of the GROUP config resources: group id → (share session timeout,
/// share heartbeat interval).
fn share_overrides_of(configs: &GroupConfigs) -> BTreeMap<String, (Option<i32>, Option<i32>)> {
    configs
        .iter()
        .map(|(group, c)| {
            let get = |name: &str| c.get(name).and_then(|v| v.parse::<i32>().ok());
            (
                group.clone(),
                (
                    get("share.session.timeout.ms"),
                    get("share.heartbeat.interval.ms"),
                ),
            )
        })
        .filter(|(_, (s, h))| s.is_some() || h.is_some())
        .collect()
}

fn overrides_of(configs: &GroupConfigs) -> BTreeMap<String, (Option<i32>, Option<i32>)> {
    configs
        .iter()
        .map(|(group, c)| {
            let get = |name: &str| c.get(name).and_then(|v| v.parse::<i32>().ok());
            (
                group.clone(),
                (
                    get("consumer.session.timeout.ms"),
                    get("consumer.heartbeat.interval.ms"),
                ),
            )
        })
        .filter(|(_, (s, h))| s.is_some() || h.is_some())
        .collect()
}

impl Runtime {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>, loaded: Outcome) {
        self.deliver(loaded, &[]);
        loop {
            let next = self.timers.next();
            let sleep_for = next.as_ref().map(|(_, d)| {
                let ms = (*d - now_ms()).max(0) as u64;
                Instant::now() + Duration::from_millis(ms)
            });
            tokio::select! {
                msg = rx.recv() => match msg {
                    None => return,
                    Some(msg) => self.on_message(msg),
                },
                _ = async {
                    match sleep_for {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    if let Some((key, _)) = next {
                        self.timers.cancel(&key);
                        let scope: Vec<i32> = group_of(&key)
                            .map(|g| vec![self.coordinator_partition(g)])
                            .unwrap_or_default();
                        self.refresh_group_configs();
                        let outcome = self.coordinator.on_timer(now_ms(), key);
                        self.deliver(outcome, &scope);
                    }
                }
            }
        }
    }

    /// Give the coordinator the broker's current GROUP config overrides if they changed.
    fn refresh_group_configs(&mut self) {
        let now = self.broker.all_group_configs();
        if !Arc::ptr_eq(&now, &self.group_configs) {
            self.coordinator.set_group_overrides(overrides_of(&now));
            self.coordinator
                .set_share_overrides(share_overrides_of(&now));
            self.group_configs = now;
        }
    }

    fn on_message(&mut self, msg: Msg) {
        self.refresh_group_configs();
        match msg {
            Msg::Request(req, reply) => self.on_request(req, reply),
            Msg::Marker {
                partition,
                producer_id,
                producer_epoch,
                commit,
                coordinator_epoch,
                done,
            } => self.write_marker(
                partition,
                (producer_id, producer_epoch),
                commit,
                coordinator_epoch,
                done,
            ),
            Msg::CommittedOffsets(reply) => {
                let rows = self
                    .coordinator
                    .committed_offsets()
                    .map(|(group, topic, partition, offset)| CommittedOffsetRow {
                        group: group.to_string(),
                        topic: topic.to_string(),
                        partition,
                        offset,
                    })
                    .collect();
                let _ = reply.send(rows);
            }
            Msg::Load {
                partition,
                leader_epoch,
                done,
            } => self.load(partition, leader_epoch, done),
            Msg::Read {
                partition,
                generation,
                records,
            } => self.finish_load(partition, generation, records),
            Msg::Unload { partition } => self.unload(partition),
        }
    }

    fn coordinator_partition(&self, group_id: &str) -> i32 {
        self.coordinator.partition_for(group_id)
    }

    /// Refuse what this broker does not coordinate, hand the rest to the state machine.
    fn on_request(&mut self, req: Request, reply: oneshot::Sender<Response>) {
        if matches!(req, Request::List { .. }) && self.served.any_loading() {
            let _ = reply.send(crate::group::errors::error_response(
                &req,
                COORDINATOR_LOAD_IN_PROGRESS,
            ));
            return;
        }
        let scope = self.scope_partitions(&req);
        let (req, split) = match routing::gate(req, |g| {
            self.served.check(self.coordinator_partition(g)).err()
        }) {
            Gate::Reject(resp) => {
                let _ = reply.send(resp);
                return;
            }
            Gate::Pass(req) => (req, None),
            Gate::Partial { request, errors } => (request.clone(), Some((request, errors))),
        };
        self.next_id += 1;
        let id = self.next_id;
        self.waiting.insert(id, reply);
        let mut outcome = self.coordinator.handle(now_ms(), id, req);
        if let Some((request, errors)) = split {
            // Multi-group requests are answered in the same Outcome.
            let handled = outcome
                .responses
                .iter()
                .position(|(i, _)| *i == id)
                .map(|at| outcome.responses.remove(at).1);
            let merged = routing::merge(&request, handled, &errors);
            outcome.responses.push((id, merged));
        }
        self.deliver(outcome, &scope);
    }

    /// The partitions whose state a request reads (its answer waits for their commits).
    fn scope_partitions(&self, req: &Request) -> Vec<i32> {
        match routing::scope(req) {
            Scope::One(g) => vec![self.coordinator_partition(g)],
            Scope::Many(groups) => groups
                .into_iter()
                .map(|g| self.coordinator_partition(g))
                .collect(),
            Scope::All => self.served.loaded(),
        }
    }

    /// Carry out an Outcome: timers now; records appended now; answers once the records
    /// (and earlier appends to the partitions in `scope`) are committed.
    fn deliver(&mut self, outcome: Outcome, scope: &[i32]) {
        apply_timers(&mut self.timers, outcome.timers);
        self.share_members_left(outcome.share_members_left);
        let mut pending = PendingCommit::default();
        for p in scope {
            if let Some((part, end)) = self.last_appended.get(p) {
                pending.add(*p, Arc::clone(part), *end);
            }
        }
        let appended = if outcome.records.is_empty() {
            Ok(PendingCommit::default())
        } else {
            let broker = &self.broker;
            let emitted = outcome
                .records
                .iter()
                .map(|r| (r.partition, r.producer, &r.key, r.value.as_ref()));
            internal_topic::append_records(
                OFFSETS_TOPIC,
                |i| broker.partition(OFFSETS_TOPIC, i),
                emitted,
                now_ms(),
            )
        };
        let answers: Vec<(oneshot::Sender<Response>, Response)> = outcome
            .responses
            .into_iter()
            .filter_map(|(id, resp)| self.waiting.remove(&id).map(|tx| (tx, resp)))
            .collect();
        match appended {
            Err(e) => answer(answers, Err(e)),
            Ok(new) => {
                for (i, p, end) in new.waits() {
                    self.last_appended.insert(i, (Arc::clone(p), end));
                    pending.add(i, Arc::clone(p), end);
                }
                if answers.is_empty() {
                    return;
                }
                internal_topic::when_committed(pending, Some(OFFSETS_COMMIT_TIMEOUT), |r| {
                    answer(answers, r)
                });
            }
        }
    }

    /// Share-group members the coordinator expired: their share sessions end and their
    /// records are released now; the new states are written in the background. Only the
    /// share-partitions led by this broker are reached (elsewhere the locks run out).
    fn share_members_left(&self, left: Vec<(String, String)>) {
        if left.is_empty() {
            return;
        }
        let Some(mgr) = self.broker.shares.get().cloned() else {
            return;
        };
        let mut dirty = crate::server::share_runtime::Dirty::new();
        for (group, member) in &left {
            mgr.member_left(group, member, &mut dirty);
        }
        if dirty.is_empty() {
            return;
        }
        tokio::spawn(async move {
            if let Err(code) = mgr.persist(dirty).await {
                tracing::warn!("share state not written after members left: {code}");
            }
        });
    }

    /// Append a commit/abort marker for a producer to one partition, apply it, and report
    /// once it is fsynced and committed.
    fn write_marker(
        &mut self,
        partition: i32,
        (producer_id, producer_epoch): (i64, i16),
        commit: bool,
        coordinator_epoch: i32,
        done: oneshot::Sender<Result<(), i16>>,
    ) {
        if self.served.check(partition).is_err() {
            let _ = done.send(Err(NOT_LEADER_OR_FOLLOWER));
            return;
        }
        let Some(p) = self.broker.partition(OFFSETS_TOPIC, partition) else {
            let _ = done.send(Err(NOT_LEADER_OR_FOLLOWER));
            return;
        };
        let appended = p.append_control_as_leader(
            producer_id,
            producer_epoch,
            coordinator_epoch,
            commit,
            now_ms(),
        );
        let end = match appended {
            Ok(info) => info.last_offset + 1,
            Err(e) => {
                let _ = done.send(Err(AppendError::from(e).kafka_code()));
                return;
            }
        };
        p.appended.notify_waiters();
        self.coordinator
            .replay_marker(producer_id, commit, partition);
        self.last_appended.insert(partition, (Arc::clone(&p), end));
        // Durable (as on a single node today) and committed before the transaction
        // coordinator counts the marker as written.
        tokio::spawn(async move {
            let wait = async {
                p.await_durable(end).await?;
                p.await_committed(end).await?;
                Ok::<(), AppendError>(())
            };
            let r = tokio::time::timeout(MARKER_TIMEOUT, wait)
                .await
                .unwrap_or(Err(AppendError::TimedOut));
            let _ = done.send(r.map_err(|e| e.kafka_code()));
        });
    }

    fn load(&mut self, partition: i32, leader_epoch: i32, done: oneshot::Sender<LoadOutcome>) {
        let generation = match self.served.begin_load(partition, leader_epoch) {
            LoadStep::Stale => {
                tracing::info!(
                    partition,
                    leader_epoch,
                    "ignoring a stale load of {OFFSETS_TOPIC}"
                );
                let _ = done.send(LoadOutcome::Stale);
                return;
            }
            LoadStep::AlreadyLoaded { .. } => {
                let _ = done.send(LoadOutcome::AlreadyLoaded);
                return;
            }
            LoadStep::AlreadyLoading => {
                self.load_waiters.entry(partition).or_default().push(done);
                return;
            }
            LoadStep::Start { generation } => generation,
        };
        self.load_waiters.entry(partition).or_default().push(done);
        let p = self.broker.partition(OFFSETS_TOPIC, partition);
        let back = self.self_tx.clone();
        tokio::task::spawn_blocking(move || {
            let records = match p {
                Some(p) => {
                    internal_topic::read_records(OFFSETS_TOPIC, &p).map_err(|e| e.to_string())
                }
                None => Err(format!("{OFFSETS_TOPIC}-{partition} is not hosted here")),
            };
            if let Some(tx) = back.upgrade() {
                let _ = tx.send(Msg::Read {
                    partition,
                    generation,
                    records,
                });
            }
        });
    }

    fn finish_load(
        &mut self,
        partition: i32,
        generation: u64,
        records: Result<Vec<KRecord>, String>,
    ) {
        let records = match records {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(partition, "cannot load {OFFSETS_TOPIC}: {e}");
                self.served.fail_load(partition, generation);
                self.notify_load(partition, LoadOutcome::Failed(e));
                return;
            }
        };
        let Some(leader_epoch) = self.served.finish_load(partition, generation) else {
            // Unloaded (and maybe loading again) meanwhile: this read is obsolete.
            return;
        };
        let now = now_ms();
        for r in &records {
            apply_record(&mut self.coordinator, partition, r, now);
        }
        tracing::debug!(
            partition,
            leader_epoch,
            records = records.len(),
            "loaded {OFFSETS_TOPIC}"
        );
        let outcome = self.coordinator.partition_loaded(now, partition);
        self.deliver(outcome, &[]);
        self.notify_load(
            partition,
            LoadOutcome::Loaded {
                records: records.len(),
            },
        );
    }

    fn notify_load(&mut self, partition: i32, outcome: LoadOutcome) {
        for w in self.load_waiters.remove(&partition).unwrap_or_default() {
            let _ = w.send(outcome.clone());
        }
    }

    fn unload(&mut self, partition: i32) {
        let Some(was) = self.served.unload(partition) else {
            return;
        };
        self.notify_load(partition, LoadOutcome::Cancelled);
        let outcome = self.coordinator.unload_partition(partition);
        self.deliver(outcome, &[]);
        let coordinator = &self.coordinator;
        self.timers
            .retain(|k| group_of(k).is_none_or(|g| !coordinator.in_partition(g, partition)));
        self.last_appended.remove(&partition);
        tracing::info!(partition, ?was, "unloaded {OFFSETS_TOPIC}");
    }
}

/// Send each answer, or its error form when its records were not committed.
fn answer(answers: Vec<(oneshot::Sender<Response>, Response)>, result: Result<(), AppendError>) {
    let code = result.as_ref().err().map(AppendError::coordinator_code);
    if let Err(e) = &result {
        tracing::warn!("group coordinator write failed, answering {code:?}: {e}");
    }
    for (tx, resp) in answers {
        let resp = match code {
            Some(c) => resp.with_error(c),
            None => resp,
        };
        let _ = tx.send(resp);
    }
}

fn apply_timers(timers: &mut Timers<TimerKey>, ops: Vec<TimerOp>) {
    for op in ops {
        match op {
            TimerOp::Set { key, deadline_ms } => timers.set(key, deadline_ms),
            TimerOp::Cancel { key } => timers.cancel(&key),
        }
    }
}

#[cfg(test)]
#[path = "group_runtime_tests.rs"]
mod tests;
