//! [`FetcherPlan`]: the state of one replica fetcher, i.e. every partition this broker follows
//! whose leader is one source broker (Kafka's `AbstractFetcherThread` with
//! `ReplicaFetcherThread`'s choices, truncation on fetch response, KIP-595 style).
//!
//! The server's fetcher task drives it in a loop, as Kafka's `doWork`:
//!
//! 1. cut the local log of each [`FetcherPlan::pending_truncations`] partition and call
//!    [`FetcherPlan::on_truncated`];
//! 2. for each [`FetcherPlan::pending_out_of_range`] partition, ask the leader for its log
//!    start and end offsets (ListOffsets earliest / latest with the current leader epoch) and
//!    call [`FetcherPlan::on_leader_offsets`] (or `on_leader_offsets_error`);
//! 3. send one Fetch with [`FetcherPlan::build_requests`] (sleep until
//!    [`FetcherPlan::next_wakeup_ms`] when it is empty), and hand each partition of the
//!    response to [`FetcherPlan::on_partition_response`]; execute the [`FetchDecision`]
//!    (append the bytes, then [`FetcherPlan::on_appended`]). A failed request:
//!    [`FetcherPlan::on_request_failed`].
//!
//! Partitions are kept in fetch order; one that received data or was delayed moves to the end,
//! so a response size limit cannot starve the others.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::follower::{
    out_of_range_action, truncation_offset_for_diverging, FetchStatus, FollowerLog, FollowerState,
    InitialFetchState, OutOfRangeAction, Truncation,
};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetcherConfig {
    /// `replica.fetch.max.bytes`: the per-partition limit of a replica Fetch.
    pub partition_max_bytes: i32,
    /// `replica.fetch.backoff.ms`: how long a partition waits after an error.
    pub fetch_backoff_ms: i64,
}

/// One partition of a replica Fetch request (the server builds the kafka-protocol request:
/// replica id and broker epoch in `replica_state`, `max_wait_ms` = `replica.fetch.wait.max.ms`,
/// `min_bytes` = `replica.fetch.min.bytes`, `max_bytes` = `replica.fetch.response.max.bytes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionFetchRequest {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
    pub fetch_offset: i64,
    pub current_leader_epoch: i32,
    /// None is sent as -1.
    pub last_fetched_epoch: Option<i32>,
    /// The local log's start offset.
    pub log_start_offset: i64,
    pub partition_max_bytes: i32,
}

impl PartitionFetchRequest {
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }
}

/// The fields of one partition of the leader's Fetch response the decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionFetchResponse {
    pub error_code: i16,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// `diverging_epoch` (epoch, end offset) when present; (-1, -1) counts as absent.
    pub diverging_epoch: Option<(i32, i64)>,
}

/// What to do with one partition's Fetch response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchDecision {
    /// A stale response (the partition was removed, moved, delayed or repositioned since the
    /// request): drop it.
    Ignore,
    /// Append the response's record batches as they are (the log end offset must equal
    /// `fetch_offset`), set the local high watermark to min(`leader_high_watermark`, log end
    /// offset), move the log start offset up to `leader_log_start_offset`, fsync (the next
    /// fetch offset tells the leader it is durable), then call `on_appended`.
    Append {
        fetch_offset: i64,
        leader_high_watermark: i64,
        leader_log_start_offset: i64,
    },
    /// Cut the local log so, then call `on_truncated` (no records are appended from this
    /// response).
    Truncate(Truncation),
    /// OFFSET_OUT_OF_RANGE: ask the leader for its log start and end offsets.
    ResolveOutOfRange { current_leader_epoch: i32 },
    /// A retriable error: the partition is not fetched before `until_ms`.
    Backoff { until_ms: i64 },
    /// The partition left the fetcher (fenced in its own leader epoch, a storage error, or a
    /// response that does not fit the log); it waits for new metadata to be added again.
    Remove,
}

/// Why appending a fetched response failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFailure {
    /// Invalid or corrupt batches: retried after a back-off (a transient state of the
    /// leader's log, as Kafka assumes).
    CorruptRecords,
    /// A storage error: the partition is failed.
    Storage,
}

/// One replica fetcher's partitions. See the module note for how it is driven.
#[derive(Debug, Clone)]
pub struct FetcherPlan {
    source_broker: i32,
    config: FetcherConfig,
    partitions: IndexMap<TopicPartition, FollowerState>,
    failed: BTreeSet<TopicPartition>,
}

impl FetcherPlan {
    pub fn new(source_broker: i32, config: FetcherConfig) -> FetcherPlan {
        FetcherPlan {
            source_broker,
            config,
            partitions: IndexMap::new(),
            failed: BTreeSet::new(),
        }
    }

    pub fn source_broker(&self) -> i32 {
        self.source_broker
    }
    pub fn len(&self) -> usize {
        self.partitions.len()
    }
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }
    pub fn partition(&self, tp: &TopicPartition) -> Option<&FollowerState> {
        self.partitions.get(tp)
    }
    pub fn partitions(&self) -> impl Iterator<Item = (&TopicPartition, &FollowerState)> {
        self.partitions.iter()
    }
    /// Partitions removed after a failure, until they are added again.
    pub fn failed_partitions(&self) -> &BTreeSet<TopicPartition> {
        &self.failed
    }

    /// Follow `tp` from this source (Kafka's `addPartitions`): a partition already here in the
    /// same leader epoch keeps its state; otherwise it starts from `init`.
    pub fn add_partition(&mut self, tp: TopicPartition, init: InitialFetchState) {
        self.failed.remove(&tp);
        let state = match self.partitions.shift_remove(&tp) {
            Some(current) if current.leader_epoch == init.leader_epoch => current,
            _ => FollowerState::new(&init),
        };
        self.partitions.insert(tp, state);
    }

    pub fn remove_partition(&mut self, tp: &TopicPartition) -> Option<FollowerState> {
        self.partitions.shift_remove(tp)
    }

    /// Remove a partition after a failure (Kafka's `markPartitionFailed`).
    pub fn mark_failed(&mut self, tp: &TopicPartition) {
        if self.partitions.shift_remove(tp).is_some() {
            self.failed.insert(tp.clone());
        }
    }

    /// The partitions of the next Fetch: those fetching and not backing off. A partition whose
    /// local log cannot be read (`log_start_offset` gives None) backs off instead.
    pub fn build_requests(
        &mut self,
        now_ms: i64,
        log_start_offset: impl Fn(&TopicPartition) -> Option<i64>,
    ) -> Vec<PartitionFetchRequest> {
        let mut out = Vec::new();
        let mut unavailable = Vec::new();
        for (tp, s) in &self.partitions {
            if !s.is_ready_for_fetch(now_ms) {
                continue;
            }
            let Some(log_start_offset) = log_start_offset(tp) else {
                unavailable.push(tp.clone());
                continue;
            };
            out.push(PartitionFetchRequest {
                topic: tp.topic.clone(),
                topic_id: s.topic_id,
                partition: tp.partition,
                fetch_offset: s.fetch_offset,
                current_leader_epoch: s.leader_epoch,
                last_fetched_epoch: s.last_fetched_epoch,
                log_start_offset,
                partition_max_bytes: self.config.partition_max_bytes,
            });
        }
        for tp in unavailable {
            self.delay(&tp, now_ms);
        }
        out
    }

    /// The earliest end of a back-off, to sleep until when no partition is ready.
    pub fn next_wakeup_ms(&self, now_ms: i64) -> Option<i64> {
        self.partitions
            .values()
            .filter_map(|s| s.backoff_until_ms.filter(|&t| t > now_ms))
            .min()
    }

    /// Partitions whose local log must be cut before they fetch again (not backing off).
    pub fn pending_truncations(&self, now_ms: i64) -> Vec<(TopicPartition, Truncation)> {
        self.partitions
            .iter()
            .filter(|(_, s)| !s.is_delayed(now_ms))
            .filter_map(|(tp, s)| match s.status {
                FetchStatus::Truncating(t) => Some((tp.clone(), t)),
                _ => None,
            })
            .collect()
    }

    /// Partitions waiting for the leader's log start and end offsets, with the leader epoch to
    /// send in ListOffsets.
    pub fn pending_out_of_range(&self, now_ms: i64) -> Vec<(TopicPartition, i32)> {
        self.partitions
            .iter()
            .filter(|(_, s)| !s.is_delayed(now_ms))
            .filter(|(_, s)| s.status == FetchStatus::ResolvingOutOfRange)
            .map(|(tp, s)| (tp.clone(), s.leader_epoch))
            .collect()
    }

    /// Decide what one partition's Fetch response means (Kafka's `processFetchRequest`).
    /// `sent` is what the request carried for it; `log` is the local log now.
    pub fn on_partition_response(
        &mut self,
        tp: &TopicPartition,
        sent: &PartitionFetchRequest,
        response: &PartitionFetchResponse,
        log: &impl FollowerLog,
        now_ms: i64,
    ) -> FetchDecision {
        let Some(state) = self.partitions.get_mut(tp) else {
            return FetchDecision::Ignore;
        };
        if sent.fetch_offset != state.fetch_offset || !state.is_ready_for_fetch(now_ms) {
            return FetchDecision::Ignore;
        }
        match response.error_code {
            0 => {
                let diverging = response
                    .diverging_epoch
                    .filter(|&(epoch, end_offset)| epoch >= 0 || end_offset >= 0);
                if let Some(diverging) = diverging {
                    let offset = truncation_offset_for_diverging(
                        diverging,
                        log.end_offset_for_epoch(diverging.0),
                        log.log_end_offset(),
                    );
                    let t = Truncation::To { offset };
                    state.status = FetchStatus::Truncating(t);
                    FetchDecision::Truncate(t)
                } else if sent.fetch_offset != log.log_end_offset() {
                    // Kafka: "Offset mismatch" — the log moved under the fetcher.
                    self.mark_failed(tp);
                    FetchDecision::Remove
                } else {
                    FetchDecision::Append {
                        fetch_offset: sent.fetch_offset,
                        leader_high_watermark: response.high_watermark,
                        leader_log_start_offset: response.log_start_offset,
                    }
                }
            }
            code if code == ResponseError::OffsetOutOfRange.code() => {
                state.status = FetchStatus::ResolvingOutOfRange;
                FetchDecision::ResolveOutOfRange {
                    current_leader_epoch: state.leader_epoch,
                }
            }
            code if code == ResponseError::FencedLeaderEpoch.code() => {
                self.on_fenced(tp, sent.current_leader_epoch, now_ms)
            }
            // UNKNOWN_LEADER_EPOCH (the leader has not seen our epoch yet),
            // NOT_LEADER_OR_FOLLOWER (leadership is moving; new metadata will move the
            // partition), UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID /
            // INCONSISTENT_TOPIC_ID (creation or deletion in progress), anything else.
            _ => self.delay(tp, now_ms),
        }
    }

    /// The bytes of an `Append` decision were appended (`appended_bytes` may be 0: an empty
    /// response still updates the lag once). Fetching continues from the log end offset with
    /// the log's latest epoch as the last fetched epoch.
    pub fn on_appended(
        &mut self,
        tp: &TopicPartition,
        appended_bytes: usize,
        log: &impl FollowerLog,
        leader_high_watermark: i64,
    ) {
        let Some(state) = self.partitions.get_mut(tp) else {
            return;
        };
        if appended_bytes == 0 && state.lag.is_some() {
            return;
        }
        let next_offset = if appended_bytes > 0 {
            log.log_end_offset()
        } else {
            state.fetch_offset
        };
        if appended_bytes > 0 {
            state.last_fetched_epoch = log.latest_epoch().or(state.last_fetched_epoch);
        }
        state.fetch_offset = next_offset;
        state.lag = Some((leader_high_watermark - next_offset).max(0));
        state.status = FetchStatus::Fetching;
        self.move_to_end(tp);
    }

    /// Appending an `Append` decision's bytes failed.
    pub fn on_append_failed(
        &mut self,
        tp: &TopicPartition,
        failure: AppendFailure,
        now_ms: i64,
    ) -> FetchDecision {
        match failure {
            AppendFailure::CorruptRecords => self.delay(tp, now_ms),
            AppendFailure::Storage => {
                self.mark_failed(tp);
                FetchDecision::Remove
            }
        }
    }

    /// The local log was cut as a `Truncating` status asked: fetch from its end, with its
    /// latest epoch (the leader answers with another diverging epoch if we still diverge).
    pub fn on_truncated(&mut self, tp: &TopicPartition, log: &impl FollowerLog) {
        let Some(state) = self.partitions.get_mut(tp) else {
            return;
        };
        if !matches!(state.status, FetchStatus::Truncating(_)) {
            return;
        }
        state.fetch_offset = log.log_end_offset();
        state.last_fetched_epoch = log.latest_epoch();
        state.status = FetchStatus::Fetching;
    }

    /// The leader's log start and end offsets for a partition resolving OFFSET_OUT_OF_RANGE.
    /// Returns the action (a truncation becomes the partition's `Truncating` status, to
    /// execute then `on_truncated`; `FetchFrom` resumes fetching at once), or None if the
    /// partition is not resolving.
    pub fn on_leader_offsets(
        &mut self,
        tp: &TopicPartition,
        leader_log_start_offset: i64,
        leader_log_end_offset: i64,
        log: &impl FollowerLog,
    ) -> Option<OutOfRangeAction> {
        let state = self.partitions.get_mut(tp)?;
        if state.status != FetchStatus::ResolvingOutOfRange {
            return None;
        }
        let action = out_of_range_action(
            log.log_end_offset(),
            leader_log_start_offset,
            leader_log_end_offset,
        );
        let (offset, status) = match action {
            OutOfRangeAction::TruncateTo { offset } => {
                (offset, FetchStatus::Truncating(Truncation::To { offset }))
            }
            OutOfRangeAction::TruncateFullyAndStartAt { offset } => (
                offset,
                FetchStatus::Truncating(Truncation::FullyAndStartAt { offset }),
            ),
            OutOfRangeAction::FetchFrom { offset } => {
                state.fetch_offset = offset;
                state.last_fetched_epoch = log.latest_epoch();
                (offset, FetchStatus::Fetching)
            }
        };
        state.status = status;
        state.lag = Some((leader_log_end_offset - offset).max(0));
        Some(action)
    }

    /// Asking the leader for its offsets failed with `error_code` (ListOffsets sent with
    /// `request_leader_epoch`): the partition goes back to fetching after a back-off (and
    /// will meet OFFSET_OUT_OF_RANGE again), or is removed if fenced in its own epoch.
    pub fn on_leader_offsets_error(
        &mut self,
        tp: &TopicPartition,
        error_code: i16,
        request_leader_epoch: i32,
        now_ms: i64,
    ) -> FetchDecision {
        let Some(state) = self.partitions.get_mut(tp) else {
            return FetchDecision::Ignore;
        };
        if state.status == FetchStatus::ResolvingOutOfRange {
            state.status = FetchStatus::Fetching;
        }
        if error_code == ResponseError::FencedLeaderEpoch.code() {
            self.on_fenced(tp, request_leader_epoch, now_ms)
        } else {
            self.delay(tp, now_ms)
        }
    }

    /// The whole Fetch failed (connection lost, timeout): every partition backs off.
    pub fn on_request_failed(&mut self, now_ms: i64) {
        let all: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
        for tp in all {
            self.delay(&tp, now_ms);
        }
    }

    /// Kafka's `onPartitionFenced`: fenced in the epoch we still have → wait for new metadata
    /// (removed); we already moved to a newer epoch → retry after a back-off.
    fn on_fenced(
        &mut self,
        tp: &TopicPartition,
        request_leader_epoch: i32,
        now_ms: i64,
    ) -> FetchDecision {
        match self.partitions.get(tp) {
            None => FetchDecision::Ignore,
            Some(s) if s.leader_epoch == request_leader_epoch => {
                self.mark_failed(tp);
                FetchDecision::Remove
            }
            Some(_) => self.delay(tp, now_ms),
        }
    }

    /// Kafka's `delayPartitions`: back off unless already backing off.
    fn delay(&mut self, tp: &TopicPartition, now_ms: i64) -> FetchDecision {
        let Some(state) = self.partitions.get_mut(tp) else {
            return FetchDecision::Ignore;
        };
        let until_ms = match state.backoff_until_ms {
            Some(t) if t > now_ms => t,
            _ => {
                let t = now_ms + self.config.fetch_backoff_ms;
                state.backoff_until_ms = Some(t);
                self.move_to_end(tp);
                t
            }
        };
        FetchDecision::Backoff { until_ms }
    }

    fn move_to_end(&mut self, tp: &TopicPartition) {
        if let Some(i) = self.partitions.get_index_of(tp) {
            let last = self.partitions.len() - 1;
            self.partitions.move_index(i, last);
        }
    }
}
