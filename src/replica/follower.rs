//! The follower side of one partition: where it fetches from and what to do with its log when
//! the leader says it diverges or is out of range (Kafka's `AbstractFetcherThread`:
//! `PartitionFetchState`, `getOffsetTruncationState`, `fetchOffsetAndTruncate`).

use uuid::Uuid;

use super::{UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};

/// What the fetcher needs to know about the local log of a followed partition (the server
/// implements it over the partition log).
pub trait FollowerLog {
    fn log_start_offset(&self) -> i64;
    fn log_end_offset(&self) -> i64;
    /// The epoch of the last entry of the leader-epoch cache (None when it is empty).
    fn latest_epoch(&self) -> Option<i32>;
    /// OffsetForLeaderEpoch on the local cache: the largest epoch <= `epoch` and its end
    /// offset; `(-1, -1)` when unknown.
    fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64);
}

/// How the local log must be cut before fetching resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// Remove everything at and after `offset`.
    To { offset: i64 },
    /// Remove the whole log; it restarts empty at `offset` (the leader's log start).
    FullyAndStartAt { offset: i64 },
}

impl Truncation {
    pub fn offset(&self) -> i64 {
        match *self {
            Truncation::To { offset } | Truncation::FullyAndStartAt { offset } => offset,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStatus {
    /// Fetching from `fetch_offset`.
    Fetching,
    /// Not fetched until the server has cut the local log so and called `on_truncated`.
    Truncating(Truncation),
    /// OFFSET_OUT_OF_RANGE: not fetched until the server has asked the leader for its log
    /// start and end offsets (ListOffsets earliest / latest) and called `on_leader_offsets`.
    ResolvingOutOfRange,
}

/// Where a partition starts when it is given to a fetcher (Kafka's `InitialFetchState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialFetchState {
    pub topic_id: Uuid,
    pub leader_id: i32,
    pub leader_epoch: i32,
    /// [`initial_fetch_offset`] of the local log (negative: ask the leader).
    pub fetch_offset: i64,
    /// The local log's latest epoch.
    pub latest_epoch: Option<i32>,
}

/// Kafka's `initialFetchOffset`: the log end offset when the log knows its epochs (the
/// leader's diverging-epoch answer then finds any divergence), else the high watermark (the
/// log is first truncated to it).
pub fn initial_fetch_offset(
    log_end_offset: i64,
    high_watermark: i64,
    latest_epoch: Option<i32>,
) -> i64 {
    if latest_epoch.is_some() {
        log_end_offset
    } else {
        high_watermark
    }
}

/// One followed partition (Kafka's `PartitionFetchState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerState {
    pub topic_id: Uuid,
    pub leader_id: i32,
    /// The leader epoch this broker knows; sent as `current_leader_epoch`.
    pub leader_epoch: i32,
    pub fetch_offset: i64,
    /// The epoch of the last batch in the local log; sent as `last_fetched_epoch` so the
    /// leader can detect divergence.
    pub last_fetched_epoch: Option<i32>,
    pub status: FetchStatus,
    /// Not fetched before this time (after an error).
    pub backoff_until_ms: Option<i64>,
    /// The leader's high watermark minus our fetch offset at the last fetch (None before).
    pub lag: Option<i64>,
}

impl FollowerState {
    /// Kafka's `partitionFetchState` for a partition new to the fetcher (or with a new leader
    /// epoch): with a known local epoch it fetches from the given offset at once; without, the
    /// log is first truncated to it; a negative offset is resolved with the leader.
    pub fn new(init: &InitialFetchState) -> FollowerState {
        let status = if init.fetch_offset < 0 {
            FetchStatus::ResolvingOutOfRange
        } else if init.latest_epoch.is_some() {
            FetchStatus::Fetching
        } else {
            FetchStatus::Truncating(Truncation::To {
                offset: init.fetch_offset,
            })
        };
        FollowerState {
            topic_id: init.topic_id,
            leader_id: init.leader_id,
            leader_epoch: init.leader_epoch,
            fetch_offset: init.fetch_offset,
            last_fetched_epoch: init.latest_epoch,
            status,
            backoff_until_ms: None,
            lag: None,
        }
    }

    pub fn is_delayed(&self, now_ms: i64) -> bool {
        self.backoff_until_ms.is_some_and(|t| t > now_ms)
    }

    pub fn is_ready_for_fetch(&self, now_ms: i64) -> bool {
        self.status == FetchStatus::Fetching && !self.is_delayed(now_ms)
    }
}

/// Where to truncate when the leader answers a fetch with `diverging` = (epoch, end offset)
/// (Kafka's `getOffsetTruncationState` on a fetch response). `local_end_offset_for_epoch` is
/// the local cache's answer for the leader's epoch (`FollowerLog::end_offset_for_epoch`).
///
/// - The leader gave no end offset: keep the log (truncate to our log end offset).
/// - The leader gave no epoch, or we know no epoch at or below it: its end offset (capped by
///   our log end offset).
/// - We know a different epoch (the leader's epoch is one we never had): the end of our
///   largest epoch below it; the next fetch carries that epoch and the leader answers again
///   if we still diverge.
/// - Same epoch: the smaller of the two end offsets.
///
/// Always capped by `log_end_offset` (a truncation never extends the log).
pub fn truncation_offset_for_diverging(
    diverging: (i32, i64),
    local_end_offset_for_epoch: (i32, i64),
    log_end_offset: i64,
) -> i64 {
    let (leader_epoch, leader_end_offset) = diverging;
    if leader_end_offset == UNDEFINED_EPOCH_OFFSET {
        return log_end_offset;
    }
    if leader_epoch == UNDEFINED_EPOCH {
        return leader_end_offset.min(log_end_offset);
    }
    let (local_epoch, local_end_offset) = local_end_offset_for_epoch;
    if local_end_offset == UNDEFINED_EPOCH_OFFSET {
        leader_end_offset.min(log_end_offset)
    } else if local_epoch != leader_epoch {
        local_end_offset.min(log_end_offset)
    } else {
        local_end_offset.min(leader_end_offset).min(log_end_offset)
    }
}

/// What a follower does about OFFSET_OUT_OF_RANGE, given the leader's log start and end
/// offsets (Kafka's `fetchOffsetAndTruncate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfRangeAction {
    /// We are ahead of the leader (an unclean election): truncate to its log end offset.
    TruncateTo { offset: i64 },
    /// Our whole log is older than the leader's log start: drop it and start there.
    TruncateFullyAndStartAt { offset: i64 },
    /// Keep the log and fetch from our log end offset again.
    FetchFrom { offset: i64 },
}

/// Kafka's rule: leader end < our end → truncate to the leader's end; otherwise fetch from
/// max(leader start, our end), truncating fully first when the leader's start is past our end.
pub fn out_of_range_action(
    local_log_end_offset: i64,
    leader_log_start_offset: i64,
    leader_log_end_offset: i64,
) -> OutOfRangeAction {
    if leader_log_end_offset < local_log_end_offset {
        OutOfRangeAction::TruncateTo {
            offset: leader_log_end_offset,
        }
    } else if leader_log_start_offset > local_log_end_offset {
        OutOfRangeAction::TruncateFullyAndStartAt {
            offset: leader_log_start_offset,
        }
    } else {
        OutOfRangeAction::FetchFrom {
            offset: local_log_end_offset,
        }
    }
}
