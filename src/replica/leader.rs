//! [`LeaderState`]: one partition this broker leads. Follower progress and the high
//! watermark here; the ISR change protocol (proposals, results, metadata updates) in
//! `isr.rs`. Kafka's `Partition` (leader half) and `Replica`.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;

use super::isr::{IsrProposal, IsrState};
use super::{NEVER_MS, UNKNOWN_OFFSET};

/// Settings of a led partition: the topic's `min.insync.replicas` and the broker's
/// `replica.lag.time.max.ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderConfig {
    pub min_insync_replicas: i32,
    pub replica_lag_time_max_ms: i64,
}

/// What becoming leader of a partition starts from (Kafka's `makeLeader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInit {
    pub local_id: i32,
    /// This broker's epoch (its registration's), sent with ISR proposals; -1 if unknown.
    pub local_broker_epoch: i64,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The replica set, in assignment order (the leader included).
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// The local log's end offset: where the new leader epoch starts. The caller also records
    /// it in the leader-epoch cache (`assign_leader_epoch`).
    pub log_end_offset: i64,
    /// The local log's high watermark (the one it had as a follower, or recovered).
    pub high_watermark: i64,
    pub config: LeaderConfig,
    pub now_ms: i64,
}

/// Whether a follower's broker may join the ISR, from the metadata image (Kafka's
/// `isReplicaIsrEligible`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerStatus {
    /// The caller does not track broker liveness (tests, a cluster of one): eligible, and
    /// fetches are not checked against a broker epoch. The default.
    Unchecked,
    /// Registered, unfenced and not in controlled shutdown, with its current broker epoch.
    /// A fetch carrying an older broker epoch is refused; the replica joins the ISR only if
    /// its last fetch carried this epoch (or -1).
    Alive { broker_epoch: i64 },
    /// Fenced, in controlled shutdown, or not registered: never added to the ISR and never
    /// waited for by the high watermark unless already in the ISR.
    Ineligible,
}

/// The leader's view of one follower (Kafka's `ReplicaState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerProgress {
    /// The follower's log start offset from its last fetch; -1 until it fetches.
    pub log_start_offset: i64,
    /// The follower's log end offset: the fetch offset of its last fetch; -1 until it fetches.
    pub log_end_offset: i64,
    /// The largest leader log end offset seen at any of its fetches (the one at its previous
    /// fetch decides whether that fetch's time counts as caught up).
    pub last_fetch_leader_log_end_offset: i64,
    /// [`NEVER_MS`] before its first fetch.
    pub last_fetch_time_ms: i64,
    /// The largest time t such that the follower's most recent fetch offset was >= the
    /// leader's log end offset at time t; [`NEVER_MS`] if it never was (a replica outside
    /// the ISR when this broker became leader).
    pub last_caught_up_time_ms: i64,
    /// The broker epoch carried by its last fetch (None until it fetches).
    pub broker_epoch: Option<i64>,
    pub status: BrokerStatus,
}

impl FollowerProgress {
    /// A replica the leader has not heard from (Kafka's `ReplicaState.Empty`).
    fn empty() -> FollowerProgress {
        FollowerProgress {
            log_start_offset: UNKNOWN_OFFSET,
            log_end_offset: UNKNOWN_OFFSET,
            last_fetch_leader_log_end_offset: 0,
            last_fetch_time_ms: NEVER_MS,
            last_caught_up_time_ms: NEVER_MS,
            broker_epoch: None,
            status: BrokerStatus::Unchecked,
        }
    }

    /// Kafka's `isCaughtUp`: at the leader's log end offset, or caught up within the last
    /// `max_lag_ms`.
    pub fn is_caught_up(&self, leader_log_end_offset: i64, now_ms: i64, max_lag_ms: i64) -> bool {
        self.log_end_offset == leader_log_end_offset
            || now_ms - self.last_caught_up_time_ms <= max_lag_ms
    }

    fn is_isr_eligible(&self) -> bool {
        match self.status {
            BrokerStatus::Unchecked => true,
            BrokerStatus::Ineligible => false,
            BrokerStatus::Alive { broker_epoch } => {
                matches!(self.broker_epoch, Some(e) if e == -1 || e == broker_epoch)
            }
        }
    }
}

/// One follower Fetch, after it was validated ([`super::check_follower_fetch`] answered Ok)
/// and read. Fetches answered with a diverging epoch or an error do not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerFetch {
    pub replica_id: i32,
    /// `replica_state.replica_epoch` of the request (-1 when not given).
    pub broker_epoch: i64,
    pub fetch_offset: i64,
    /// The follower's log start offset (the request's `log_start_offset`).
    pub log_start_offset: i64,
    /// The leader's log end offset when the fetch was read (before the read, as Kafka: an
    /// append racing with the fetch must not keep the follower out of sync).
    pub leader_log_end_offset: i64,
    pub now_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FollowerFetchOutcome {
    /// The new high watermark, if it moved.
    pub new_high_watermark: Option<i64>,
    /// An ISR expansion to send to the controller.
    pub propose_isr: Option<IsrProposal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FollowerFetchError {
    /// The fetching replica is not in the replica set (or is the leader itself).
    #[error("replica {0} is not a follower of this partition")]
    UnknownReplica(i32),
    /// The fetch carries a broker epoch older than the broker's registration: a stale
    /// request from before the broker restarted.
    #[error("replica {replica} fetched with broker epoch {fetched}, expected {expected}")]
    StaleBrokerEpoch {
        replica: i32,
        fetched: i64,
        expected: i64,
    },
}

impl FollowerFetchError {
    /// The Fetch partition error, as Kafka: an unknown replica with a current leader epoch
    /// in the request (v9+) is UNKNOWN_LEADER_EPOCH (the follower retries: it may be a
    /// reassignment the leader has not seen yet), NOT_LEADER_OR_FOLLOWER otherwise.
    pub fn error_code(&self, request_has_leader_epoch: bool) -> i16 {
        match self {
            FollowerFetchError::UnknownReplica(_) if request_has_leader_epoch => {
                ResponseError::UnknownLeaderEpoch.code()
            }
            _ => ResponseError::NotLeaderOrFollower.code(),
        }
    }
}

/// NOT_ENOUGH_REPLICAS: an `acks=all` produce refused before the append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ISR has {isr_size} members, fewer than min.insync.replicas {min_isr}")]
pub struct NotEnoughReplicas {
    pub isr_size: usize,
    pub min_isr: usize,
}

impl NotEnoughReplicas {
    pub fn error_code(&self) -> i16 {
        ResponseError::NotEnoughReplicas.code()
    }
}

/// Where an `acks=all` append stands (Kafka's `checkEnoughReplicasReachOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcksAllStatus {
    /// The high watermark has not reached the append's end yet.
    Waiting,
    /// Every ISR member has it and the ISR is large enough: answer success.
    Acknowledged,
    /// Committed, but the ISR shrank below `min.insync.replicas` meanwhile:
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND.
    NotEnoughReplicasAfterAppend,
}

impl AcksAllStatus {
    /// The produce partition error code once done (None while waiting).
    pub fn error_code(&self) -> Option<i16> {
        match self {
            AcksAllStatus::Waiting => None,
            AcksAllStatus::Acknowledged => Some(0),
            AcksAllStatus::NotEnoughReplicasAfterAppend => {
                Some(ResponseError::NotEnoughReplicasAfterAppend.code())
            }
        }
    }
}

/// One partition this broker leads. See the module note of `replica` for the invariants.
#[derive(Debug, Clone)]
pub struct LeaderState {
    pub(super) local_id: i32,
    pub(super) local_broker_epoch: i64,
    pub(super) leader_epoch: i32,
    pub(super) partition_epoch: i32,
    /// The leader's log end offset when this leader epoch began: a follower joins the ISR only
    /// once it has reached it (it then has everything the previous leaders committed).
    pub(super) leader_epoch_start_offset: i64,
    pub(super) replicas: Vec<i32>,
    /// The committed ISR, in the controller's order.
    pub(super) isr: Vec<i32>,
    pub(super) pending: IsrState,
    pub(super) followers: BTreeMap<i32, FollowerProgress>,
    pub(super) log_end_offset: i64,
    pub(super) high_watermark: i64,
    pub(super) config: LeaderConfig,
    pub(super) next_sequence: u64,
}

impl LeaderState {
    /// Become leader. Followers' log end offsets are unknown (-1) until they fetch; ISR
    /// members count as caught up now, the others never (Kafka's `resetReplicaState` for a
    /// new leader). The high watermark starts at the log's and may already advance here
    /// (an ISR of the leader alone); read [`high_watermark`](Self::high_watermark) after.
    pub fn new(init: LeaderInit) -> LeaderState {
        let mut followers = BTreeMap::new();
        for &r in &init.replicas {
            if r == init.local_id {
                continue;
            }
            let mut p = FollowerProgress::empty();
            p.last_fetch_leader_log_end_offset = UNKNOWN_OFFSET;
            if init.isr.contains(&r) {
                p.last_caught_up_time_ms = init.now_ms;
            }
            followers.insert(r, p);
        }
        let mut state = LeaderState {
            local_id: init.local_id,
            local_broker_epoch: init.local_broker_epoch,
            leader_epoch: init.leader_epoch,
            partition_epoch: init.partition_epoch,
            leader_epoch_start_offset: init.log_end_offset,
            replicas: init.replicas,
            isr: init.isr,
            pending: IsrState::Committed,
            followers,
            log_end_offset: init.log_end_offset,
            high_watermark: init.high_watermark.min(init.log_end_offset),
            config: init.config,
            next_sequence: 1,
        };
        state.maybe_increment_high_watermark(init.now_ms);
        state
    }

    pub fn local_id(&self) -> i32 {
        self.local_id
    }
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }
    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }
    pub fn replicas(&self) -> &[i32] {
        &self.replicas
    }
    pub fn config(&self) -> LeaderConfig {
        self.config
    }
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }
    /// Where the current leader epoch began in the log.
    pub fn leader_epoch_start_offset(&self) -> i64 {
        self.leader_epoch_start_offset
    }
    /// The committed ISR (what the controller has recorded).
    pub fn isr(&self) -> &[i32] {
        &self.isr
    }
    pub fn follower(&self, replica_id: i32) -> Option<&FollowerProgress> {
        self.followers.get(&replica_id)
    }
    /// Replicas of the replica set outside the committed ISR.
    pub fn lagging_replicas(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| !self.isr.contains(r))
            .collect()
    }
    /// How many offsets a follower is behind the leader's log end offset; None for an unknown
    /// replica or one that has not fetched yet.
    pub fn follower_lag(&self, replica_id: i32) -> Option<i64> {
        let f = self.followers.get(&replica_id)?;
        (f.log_end_offset >= 0).then(|| (self.log_end_offset - f.log_end_offset).max(0))
    }
    pub fn is_under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }
    /// `min(min.insync.replicas, replica count)`, the bound Kafka enforces (3.7+).
    pub fn effective_min_isr(&self) -> usize {
        let min_isr = usize::try_from(self.config.min_insync_replicas.max(1)).unwrap_or(1);
        min_isr.min(self.followers.len() + 1)
    }
    pub fn is_under_min_isr(&self) -> bool {
        self.isr.len() < self.effective_min_isr()
    }

    /// A topic or broker config change. Returns the new high watermark if it moved.
    pub fn set_config(&mut self, config: LeaderConfig, now_ms: i64) -> Option<i64> {
        self.config = config;
        self.maybe_increment_high_watermark(now_ms)
    }

    /// A follower's broker was fenced, unfenced, re-registered or began shutting down.
    /// Returns the new high watermark if it moved (a caught-up replica that became
    /// ineligible no longer holds it back).
    pub fn set_broker_status(
        &mut self,
        replica_id: i32,
        status: BrokerStatus,
        now_ms: i64,
    ) -> Option<i64> {
        let f = self.followers.get_mut(&replica_id)?;
        f.status = status;
        self.maybe_increment_high_watermark(now_ms)
    }

    /// Records were appended to the local log (produce, markers, coordinator records). With
    /// an ISR of the leader alone this commits them at once. Returns the new high watermark
    /// if it moved.
    pub fn on_local_append(&mut self, log_end_offset: i64, now_ms: i64) -> Option<i64> {
        self.log_end_offset = self.log_end_offset.max(log_end_offset);
        self.maybe_increment_high_watermark(now_ms)
    }

    /// A follower fetched (Kafka's `updateFollowerFetchState`): record its progress, propose
    /// adding it to the ISR if it has caught up, and advance the high watermark if its log
    /// end offset moved.
    pub fn on_follower_fetch(
        &mut self,
        fetch: FollowerFetch,
    ) -> Result<FollowerFetchOutcome, FollowerFetchError> {
        let f = self
            .followers
            .get_mut(&fetch.replica_id)
            .ok_or(FollowerFetchError::UnknownReplica(fetch.replica_id))?;
        if let BrokerStatus::Alive { broker_epoch } = f.status {
            if fetch.broker_epoch != -1 && broker_epoch > fetch.broker_epoch {
                return Err(FollowerFetchError::StaleBrokerEpoch {
                    replica: fetch.replica_id,
                    fetched: fetch.broker_epoch,
                    expected: broker_epoch,
                });
            }
        }
        let previous_log_end_offset = f.log_end_offset;
        update_fetch_state(f, &fetch);
        self.log_end_offset = self.log_end_offset.max(fetch.leader_log_end_offset);

        let propose_isr = self.maybe_expand_isr(fetch.replica_id);
        let new_high_watermark = if previous_log_end_offset != fetch.fetch_offset {
            self.maybe_increment_high_watermark(fetch.now_ms)
        } else {
            None
        };
        Ok(FollowerFetchOutcome {
            new_high_watermark,
            propose_isr,
        })
    }

    /// Before an `acks=all` append: NOT_ENOUGH_REPLICAS if the committed ISR is smaller than
    /// the effective `min.insync.replicas`.
    pub fn check_enough_replicas_for_append(&self) -> Result<(), NotEnoughReplicas> {
        let min_isr = self.effective_min_isr();
        if self.isr.len() < min_isr {
            return Err(NotEnoughReplicas {
                isr_size: self.isr.len(),
                min_isr,
            });
        }
        Ok(())
    }

    /// After an `acks=all` append ending at `required_offset` (its last offset + 1): done once
    /// the high watermark reaches it, successfully if the maximal ISR is still at least the
    /// effective `min.insync.replicas`.
    pub fn check_acks_all(&self, required_offset: i64) -> AcksAllStatus {
        if self.high_watermark < required_offset {
            AcksAllStatus::Waiting
        } else if self.maximal_isr().len() >= self.effective_min_isr() {
            AcksAllStatus::Acknowledged
        } else {
            AcksAllStatus::NotEnoughReplicasAfterAppend
        }
    }

    /// Kafka's `maybeIncrementLeaderHW`: the minimum log end offset over the maximal ISR and
    /// over followers caught up and eligible to join it, if larger than the current high
    /// watermark and the committed ISR is not under min ISR. Returns the new value if it moved.
    pub(super) fn maybe_increment_high_watermark(&mut self, now_ms: i64) -> Option<i64> {
        if self.is_under_min_isr() {
            return None;
        }
        let maximal = self.maximal_isr();
        let mut candidate = self.log_end_offset;
        for (id, f) in &self.followers {
            let counts = maximal.contains(id)
                || (f.is_caught_up(
                    self.log_end_offset,
                    now_ms,
                    self.config.replica_lag_time_max_ms,
                ) && f.is_isr_eligible());
            if counts && f.log_end_offset < candidate {
                candidate = f.log_end_offset;
            }
        }
        if candidate > self.high_watermark {
            self.high_watermark = candidate;
            Some(candidate)
        } else {
            None
        }
    }

    /// Kafka's `maybeExpandIsr` / `isFollowerInSync`: a follower outside the ISR joins it (by
    /// a proposal) once its log end offset is at least the high watermark and the start of the
    /// current leader epoch, if its broker is eligible and no change is in flight.
    fn maybe_expand_isr(&mut self, replica_id: i32) -> Option<IsrProposal> {
        if self.pending.is_in_flight() || self.isr.contains(&replica_id) {
            return None;
        }
        let f = self.followers.get(&replica_id)?;
        let in_sync = f.log_end_offset >= self.high_watermark
            && f.log_end_offset >= self.leader_epoch_start_offset;
        if !(in_sync && f.is_isr_eligible()) {
            return None;
        }
        Some(self.prepare_expand(replica_id))
    }

    /// Kafka's `getOutOfSyncReplicas`: ISR followers not caught up within
    /// `replica.lag.time.max.ms` (stuck, or fetching but never reaching the leader's log end
    /// offset); empty while a change is in flight.
    pub fn out_of_sync_replicas(&self, now_ms: i64) -> Vec<i32> {
        if self.pending.is_in_flight() {
            return Vec::new();
        }
        self.isr
            .iter()
            .copied()
            .filter(|&r| r != self.local_id)
            .filter(|r| {
                self.followers.get(r).is_none_or(|f| {
                    !f.is_caught_up(
                        self.log_end_offset,
                        now_ms,
                        self.config.replica_lag_time_max_ms,
                    )
                })
            })
            .collect()
    }
}

/// Kafka's `Replica.updateFetchStateOrThrow` (the broker-epoch check done by the caller).
fn update_fetch_state(f: &mut FollowerProgress, fetch: &FollowerFetch) {
    f.last_caught_up_time_ms = if fetch.fetch_offset >= fetch.leader_log_end_offset {
        f.last_caught_up_time_ms.max(fetch.now_ms)
    } else if fetch.fetch_offset >= f.last_fetch_leader_log_end_offset {
        f.last_caught_up_time_ms.max(f.last_fetch_time_ms)
    } else {
        f.last_caught_up_time_ms
    };
    f.log_start_offset = fetch.log_start_offset;
    f.log_end_offset = fetch.fetch_offset;
    f.last_fetch_leader_log_end_offset = f
        .last_fetch_leader_log_end_offset
        .max(fetch.leader_log_end_offset);
    f.last_fetch_time_ms = fetch.now_ms;
    f.broker_epoch = Some(fetch.broker_epoch);
}

pub(super) fn reset_follower(
    f: &mut FollowerProgress,
    in_isr: bool,
    leader_epoch_start_offset: i64,
    now_ms: i64,
) {
    // Kafka's resetReplicaState for a leader re-elected in a new epoch: progress is kept, the
    // timers restart (ISR members count as caught up now; the others must fetch first).
    f.last_fetch_leader_log_end_offset = leader_epoch_start_offset;
    f.last_fetch_time_ms = if in_isr { now_ms } else { NEVER_MS };
    f.last_caught_up_time_ms = if in_isr { now_ms } else { NEVER_MS };
}

pub(super) fn new_follower() -> FollowerProgress {
    FollowerProgress::empty()
}
