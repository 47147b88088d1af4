//! One partition replica hosted by this node: its log behind a mutex, its role (leader or
//! follower, with the leader's replica state), the notification that wakes waiting fetches,
//! the high watermark published to acks=all producers, and the group-commit syncer.
//!
//! Roles follow the metadata image: the broker runtime calls [`Partition::become_leader`] /
//! [`Partition::become_follower`] when the image changes. A leader keeps a
//! [`LeaderState`] (followers' progress, ISR, high watermark) that the produce path and
//! follower fetches update; the high watermark it computes is written into the log (which
//! is in managed-HW mode) and published on `committed` for acks=all producers.
//!
//! Group commit: an acks=all produce appends, then waits until `flushed >= its end offset`
//! and the high watermark passed it. At most one fsync runs per partition at a time; appends
//! that land while it runs are covered by the next one, so concurrent producers share fsyncs.
//! An fsync error takes the partition offline (KAFKA_STORAGE_ERROR) — never retried.
//!
//! Lock order: `role` before `log` (never the other way round).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify};

use crate::log::{AppendInfo, AppendOrigin, LogError, PartitionLog};
use crate::metrics::{self, PartitionStats};
use crate::replica::{
    AcksAllStatus, CommittedPartitionState, FollowerFetch, IsrProposal, LeaderConfig, LeaderInit,
    LeaderState, PartitionUpdate,
};

/// Why records appended to a partition could not be confirmed committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// This broker stopped leading the partition; the records may be truncated.
    #[error("this broker is not the leader of the partition")]
    NotLeader,
    /// The in-sync replica set shrank below min.insync.replicas after the append.
    #[error("fewer in-sync replicas than min.insync.replicas")]
    NotEnoughReplicas,
    /// A storage error took the partition offline.
    #[error("partition is offline after a storage error")]
    Offline,
}

/// Durability progress published to waiting producers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durable {
    pub flushed_offset: i64,
    pub failed: bool,
}

#[derive(Debug, Default)]
struct SyncState {
    in_progress: bool,
    requested: i64,
}

/// What this node is for the partition.
#[derive(Debug)]
pub enum Role {
    Leader(Box<LeaderState>),
    /// Replicating from `leader` (-1: the partition has no leader now).
    Follower {
        leader: i32,
    },
    /// Hosted but neither (being deleted, or the node is shutting down).
    Stopped,
}

/// Why a request for this partition is refused, with Kafka's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleError {
    /// NOT_LEADER_OR_FOLLOWER (6).
    NotLeader,
    /// FENCED_LEADER_EPOCH (74): the client's epoch is older.
    FencedLeaderEpoch,
    /// UNKNOWN_LEADER_EPOCH (75): the client's epoch is newer than ours.
    UnknownLeaderEpoch,
}

impl RoleError {
    pub fn code(self) -> i16 {
        match self {
            RoleError::NotLeader => 6,
            RoleError::FencedLeaderEpoch => 74,
            RoleError::UnknownLeaderEpoch => 75,
        }
    }
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    /// The node hosting this replica.
    pub local_id: i32,
    leader_epoch: AtomicI32,
    role: Mutex<Role>,
    log: Mutex<PartitionLog>,
    /// Woken (notify_waiters) after every append and every high-watermark move.
    pub appended: Notify,
    sync: Mutex<SyncState>,
    durable: watch::Sender<Durable>,
    /// The high watermark, published.
    committed: watch::Sender<i64>,
    /// Produce/fetch traffic counters (metrics).
    pub stats: PartitionStats,
}

impl Partition {
    /// Host a replica; it has no role until the metadata gives it one.
    pub fn new(topic: &str, index: i32, local_id: i32, mut log: PartitionLog) -> Arc<Partition> {
        log.set_high_watermark_managed(true);
        let flushed = log.flushed_offset();
        let hw = log.high_watermark();
        Arc::new(Partition {
            topic: topic.to_string(),
            index,
            local_id,
            leader_epoch: AtomicI32::new(-1),
            role: Mutex::new(Role::Stopped),
            log: Mutex::new(log),
            appended: Notify::new(),
            sync: Mutex::new(SyncState::default()),
            durable: watch::channel(Durable {
                flushed_offset: flushed,
                failed: false,
            })
            .0,
            committed: watch::channel(hw).0,
            stats: PartitionStats::default(),
        })
    }

    /// Lock the log. A poisoned lock (a panic while holding it) is a bug elsewhere; the log
    /// itself stays consistent because every mutation is validated before it is applied.
    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        match self.log.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Lock the role (before the log, if both are needed).
    pub fn role(&self) -> MutexGuard<'_, Role> {
        match self.role.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The leader epoch this replica knows (from the metadata).
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    pub fn is_leader(&self) -> bool {
        matches!(*self.role(), Role::Leader(_))
    }

    /// Check that this replica leads the partition, and the client's `current_leader_epoch`
    /// (-1 = not given) against ours, as Kafka does for Produce/Fetch/ListOffsets.
    pub fn check_leader(&self, current_leader_epoch: i32) -> Result<(), RoleError> {
        let leader = self.is_leader();
        check_epoch(current_leader_epoch, self.leader_epoch())?;
        if leader {
            Ok(())
        } else {
            Err(RoleError::NotLeader)
        }
    }

    /// Become leader in `leader_epoch` (from the metadata): the epoch starts at the log end
    /// offset unless already known, followers' progress starts unknown. The same epoch
    /// again only updates the replica set and ISR (an AlterPartition or reassignment applied).
    #[allow(clippy::too_many_arguments)]
    pub fn become_leader(
        &self,
        leader_epoch: i32,
        partition_epoch: i32,
        replicas: &[i32],
        isr: &[i32],
        config: LeaderConfig,
        broker_epoch: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let mut role = self.role();
        if let Role::Leader(state) = &mut *role {
            if self.leader_epoch() == leader_epoch {
                let leo = self.log().log_end_offset();
                state.set_config(config, now_ms);
                let update = PartitionUpdate {
                    leader_epoch,
                    partition_epoch,
                    replicas: replicas.to_vec(),
                    isr: isr.to_vec(),
                };
                let moved = state.on_partition_update(&update, leo, now_ms);
                drop(role);
                if let Some(hw) = moved {
                    self.log().set_high_watermark(hw);
                    self.publish_high_watermark(hw);
                }
                return Ok(());
            }
        }
        let mut log = self.log();
        log.assign_leader_epoch(leader_epoch)?;
        let state = LeaderState::new(LeaderInit {
            local_id: self.local_id,
            local_broker_epoch: broker_epoch,
            leader_epoch,
            partition_epoch,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            log_end_offset: log.log_end_offset(),
            high_watermark: log.high_watermark(),
            config,
            now_ms,
        });
        let hw = state.high_watermark();
        log.set_high_watermark(hw);
        drop(log);
        self.leader_epoch.store(leader_epoch, Ordering::Release);
        *role = Role::Leader(Box::new(state));
        crate::metrics::global()
            .leader_elections
            .fetch_add(1, Ordering::Relaxed);
        drop(role);
        self.publish_high_watermark(hw);
        Ok(())
    }

    /// Become a follower of `leader` in `leader_epoch`.
    pub fn become_follower(&self, leader: i32, leader_epoch: i32) {
        let mut role = self.role();
        self.leader_epoch.store(leader_epoch, Ordering::Release);
        *role = Role::Follower { leader };
        drop(role);
        // Waiting acks=all producers and fetches re-check and fail over.
        self.appended.notify_waiters();
    }

    /// Stop serving (deleted or reassigned away).
    pub fn stop(&self) {
        *self.role() = Role::Stopped;
        self.appended.notify_waiters();
    }

    /// Append a producer's (or a coordinator's) batches as the leader: refused unless this
    /// replica leads (NOT_LEADER_OR_FOLLOWER), and for acks=all unless the ISR has at least
    /// `min.insync.replicas` members (NOT_ENOUGH_REPLICAS). The role is held
    /// across the append so that a leadership change never interleaves with it.
    pub fn append_as_leader(
        &self,
        records: &mut [u8],
        now_ms: i64,
        origin: AppendOrigin,
        acks_all: bool,
    ) -> Result<AppendInfo, LeaderAppendError> {
        let mut role = self.role();
        let Role::Leader(state) = &mut *role else {
            return Err(LeaderAppendError::NotLeader);
        };
        if acks_all {
            if let Err(e) = state.check_enough_replicas_for_append() {
                return Err(LeaderAppendError::NotEnoughReplicas {
                    isr: e.isr_size,
                    min: e.min_isr,
                });
            }
        }
        let mut log = self.log();
        let info = log
            .append_from(records, self.leader_epoch(), now_ms, origin)
            .map_err(LeaderAppendError::Log)?;
        let moved = state.on_local_append(log.log_end_offset(), now_ms);
        if let Some(hw) = moved {
            log.set_high_watermark(hw);
        }
        drop(log);
        drop(role);
        if let Some(hw) = moved {
            self.publish_high_watermark(hw);
        }
        if !info.duplicate {
            self.appended.notify_waiters();
        }
        Ok(info)
    }

    /// Write a transaction marker as the leader (see [`PartitionLog::append_control`]).
    pub fn append_control_as_leader(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        now_ms: i64,
    ) -> Result<AppendInfo, LeaderAppendError> {
        let mut role = self.role();
        let Role::Leader(state) = &mut *role else {
            return Err(LeaderAppendError::NotLeader);
        };
        let mut log = self.log();
        let info = log
            .append_control(
                producer_id,
                producer_epoch,
                commit,
                coordinator_epoch,
                self.leader_epoch(),
                now_ms,
            )
            .map_err(LeaderAppendError::Log)?;
        let moved = state.on_local_append(log.log_end_offset(), now_ms);
        if let Some(hw) = moved {
            log.set_high_watermark(hw);
        }
        drop(log);
        drop(role);
        if let Some(hw) = moved {
            self.publish_high_watermark(hw);
        }
        self.appended.notify_waiters();
        Ok(info)
    }

    /// The leader's view after a local append of everything below `log_end_offset`: a
    /// high watermark that moved is written into the log and published.
    pub fn on_local_append(&self, log_end_offset: i64, now_ms: i64) {
        let moved = match &mut *self.role() {
            Role::Leader(state) => state.on_local_append(log_end_offset, now_ms),
            _ => None,
        };
        if let Some(hw) = moved {
            self.log().set_high_watermark(hw);
            self.publish_high_watermark(hw);
        }
    }

    /// A follower fetched at `fetch_offset`: update its progress; returns an ISR change
    /// to propose to the controller, if any. Err (a Fetch error code) if this replica no
    /// longer leads or the fetcher is not a replica.
    pub fn on_follower_fetch(
        &self,
        replica_id: i32,
        broker_epoch: i64,
        fetch_offset: i64,
        follower_log_start_offset: i64,
        request_has_leader_epoch: bool,
        now_ms: i64,
    ) -> Result<Option<IsrProposal>, i16> {
        let mut role = self.role();
        let Role::Leader(state) = &mut *role else {
            return Err(RoleError::NotLeader.code());
        };
        let leo = self.log().log_end_offset();
        let outcome = state
            .on_follower_fetch(FollowerFetch {
                replica_id,
                broker_epoch,
                fetch_offset,
                log_start_offset: follower_log_start_offset,
                leader_log_end_offset: leo,
                now_ms,
            })
            .map_err(|e| e.error_code(request_has_leader_epoch))?;
        drop(role);
        if let Some(hw) = outcome.new_high_watermark {
            self.log().set_high_watermark(hw);
            self.publish_high_watermark(hw);
        }
        Ok(outcome.propose_isr)
    }

    /// Followers out of sync for `replica.lag.time.max.ms`: the ISR shrink to propose.
    pub fn check_isr_shrink(&self, now_ms: i64) -> Option<IsrProposal> {
        let mut role = self.role();
        let Role::Leader(state) = &mut *role else {
            return None;
        };
        let leo = self.log().log_end_offset();
        state.check_isr_shrink(now_ms, leo)
    }

    /// The controller's answer to an ISR proposal; returns the proposal to send again, if
    /// the error calls for it.
    pub fn on_proposal_result(
        &self,
        sequence: u64,
        result: Result<CommittedPartitionState, i16>,
        now_ms: i64,
    ) -> Option<IsrProposal> {
        let outcome = self.with_leader(|s| s.on_proposal_result(sequence, result, now_ms))?;
        if let Some(hw) = outcome.new_high_watermark {
            self.log().set_high_watermark(hw);
            self.publish_high_watermark(hw);
        }
        outcome.resend
    }

    /// As leader, tell the ISR logic which followers' brokers may join the ISR (Kafka's
    /// KIP-841: registered, unfenced, at their current broker epoch); `status` maps a replica
    /// id to its broker's status in the metadata image. Publishes the high watermark if an
    /// ineligible follower no longer holds it back.
    pub fn set_broker_statuses(
        &self,
        status: impl Fn(i32) -> crate::replica::BrokerStatus,
        now_ms: i64,
    ) {
        let moved = self.with_leader(|s| {
            let followers: Vec<i32> = s
                .replicas()
                .iter()
                .copied()
                .filter(|&r| r != self.local_id)
                .collect();
            followers
                .into_iter()
                .filter_map(|r| s.set_broker_status(r, status(r), now_ms))
                .max()
        });
        if let Some(Some(hw)) = moved {
            self.log().set_high_watermark(hw);
            self.publish_high_watermark(hw);
        }
    }

    /// Run `f` on the leader state, if leader.
    pub fn with_leader<R>(&self, f: impl FnOnce(&mut LeaderState) -> R) -> Option<R> {
        match &mut *self.role() {
            Role::Leader(state) => Some(f(state)),
            _ => None,
        }
    }

    /// The ISR as the leader sees it (its maximal ISR), or None when not leader.
    pub fn isr(&self) -> Option<Vec<i32>> {
        self.with_leader(|s| s.isr().to_vec())
    }

    /// Publish a new high watermark (followers: the leader's, from fetch responses).
    pub fn publish_high_watermark(&self, hw: i64) {
        self.committed.send_if_modified(|cur| {
            if hw > *cur {
                *cur = hw;
                true
            } else {
                false
            }
        });
        self.appended.notify_waiters();
    }

    /// A follower's high watermark after a fetch response (truncation may lower it).
    pub fn set_follower_high_watermark(&self, hw: i64) {
        let hw = {
            let mut log = self.log();
            log.set_high_watermark(hw);
            log.high_watermark()
        };
        self.committed.send_replace(hw);
        self.appended.notify_waiters();
    }

    fn sync_state(&self) -> MutexGuard<'_, SyncState> {
        match self.sync.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Take the log out (shutdown, when no one else holds the partition).
    pub fn into_log(self) -> PartitionLog {
        match self.log.into_inner() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Ask for everything below `end_offset` to be fsynced, without waiting: starts the sync
    /// loop if none is running. Called right after the append, so that requests pipelined on
    /// one connection share fsyncs instead of each starting its own once its turn comes.
    pub fn request_durable(self: &Arc<Self>, end_offset: i64) {
        let d = *self.durable.borrow();
        if d.failed || d.flushed_offset >= end_offset {
            return;
        }
        let mut st = self.sync_state();
        st.requested = st.requested.max(end_offset);
        if !st.in_progress {
            st.in_progress = true;
            let me = Arc::clone(self);
            tokio::spawn(async move { me.sync_loop().await });
        }
    }

    /// Wait until every record below `end_offset` is fsynced. Err if the partition failed.
    pub async fn await_durable(self: &Arc<Self>, end_offset: i64) -> Result<(), LogError> {
        let mut rx = self.durable.subscribe();
        self.request_durable(end_offset);
        let res = rx
            .wait_for(|d| d.failed || d.flushed_offset >= end_offset)
            .await
            .map(|d| *d);
        match res {
            Ok(d) if d.flushed_offset >= end_offset => Ok(()),
            _ => Err(LogError::Offline),
        }
    }

    /// Wait until everything below `end_offset` is committed: below the high watermark
    /// (every in-sync replica has it), with the ISR still at least `min.insync.replicas`
    /// (else NOT_ENOUGH_REPLICAS_AFTER_APPEND). Err(NotLeader) when this replica stops
    /// leading first (the write may or may not survive: clients retry). acks=all producers
    /// also [`Partition::await_durable`] (fsynced here); coordinators' own records do not.
    pub async fn await_committed(self: &Arc<Self>, end_offset: i64) -> Result<(), CommitError> {
        loop {
            let notified = self.appended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.with_leader(|s| s.check_acks_all(end_offset)) {
                None if self.log().is_offline() => return Err(CommitError::Offline),
                None => return Err(CommitError::NotLeader),
                Some(AcksAllStatus::Acknowledged) => return Ok(()),
                Some(AcksAllStatus::NotEnoughReplicasAfterAppend) => {
                    return Err(CommitError::NotEnoughReplicas)
                }
                Some(AcksAllStatus::Waiting) => notified.await,
            }
        }
    }

    async fn sync_loop(self: Arc<Self>) {
        /// Partitions fsyncing at once. Each fsync of a file the open-file cache closed
        /// holds a descriptor of its own, so unbounded concurrency (up to tokio's 512
        /// blocking threads) could take every descriptor when thousands of partitions are
        /// written with acks=all; waiting here also lets more appends join each fsync.
        static SYNCING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(32);
        loop {
            let Ok(_slot) = SYNCING.acquire().await else {
                return;
            };
            let plan = self.log().sync_plan();
            let res = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let r = plan.execute();
                if !plan.is_empty() {
                    metrics::global()
                        .fsync_group_commit
                        .observe(started.elapsed());
                }
                (plan, r)
            })
            .await;
            let ok = match res {
                Ok((plan, Ok(()))) => {
                    let mut log = self.log();
                    // A plan made before a truncation covers nothing now (mark_synced says so).
                    log.mark_synced(&plan);
                    let flushed = log.flushed_offset();
                    drop(log);
                    self.durable.send_modify(|d| d.flushed_offset = flushed);
                    true
                }
                Ok((_, Err(e)))
                    if crate::resource::classify(&e)
                        == Some(crate::resource::Resource::FileDescriptors) =>
                {
                    // No descriptor to reopen a segment file with: nothing was synced and
                    // nothing lost. Try again shortly; waiting producers keep waiting (up to
                    // their timeout) rather than seeing the partition go offline.
                    crate::resource::report(
                        &e,
                        &format_args!("fsync of {}-{}", self.topic, self.index),
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
                other => {
                    let why = other.map(|(_, r)| r.err());
                    tracing::error!(topic = %self.topic, partition = self.index, "fsync failed; partition offline: {why:?}");
                    self.log().mark_offline();
                    self.durable.send_modify(|d| d.failed = true);
                    false
                }
            };
            let mut st = self.sync_state();
            let flushed = self.durable.borrow().flushed_offset;
            if !ok || st.requested <= flushed {
                st.in_progress = false;
                return;
            }
        }
    }

    /// Publish the flushed offset after a flush done elsewhere (flush policy, shutdown, a
    /// follower's fsync) or a truncation (which may lower it).
    pub fn publish_flushed(&self, flushed: i64) {
        self.durable.send_modify(|d| d.flushed_offset = flushed);
    }
}

/// Why a leader append was refused.
#[derive(Debug, thiserror::Error)]
pub enum LeaderAppendError {
    #[error("This server is not the leader for that topic-partition.")]
    NotLeader,
    #[error("The ISR has {isr} replica(s), fewer than min.insync.replicas={min}.")]
    NotEnoughReplicas { isr: usize, min: usize },
    #[error("{0}")]
    Log(LogError),
}

/// Kafka's check of a client's `current_leader_epoch` (-1: not given) against ours.
pub fn check_epoch(requested: i32, ours: i32) -> Result<(), RoleError> {
    if requested < 0 || requested == ours {
        Ok(())
    } else if requested > ours {
        Err(RoleError::UnknownLeaderEpoch)
    } else {
        Err(RoleError::FencedLeaderEpoch)
    }
}
