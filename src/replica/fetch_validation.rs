//! The leader's checks on a follower Fetch before reading (Kafka's `Partition.fetchRecords` →
//! `readRecords`): the requester's leader epoch against ours, then, when the follower says
//! which epoch its last fetched batch had, whether its log diverges from ours.

use kafka_protocol::ResponseError;

use super::{UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchValidation {
    /// Read from the fetch offset.
    Ok,
    /// The requester's leader epoch is older than ours.
    FencedLeaderEpoch,
    /// The requester's leader epoch is newer than ours (we have not seen it yet).
    UnknownLeaderEpoch,
    /// The fetch offset is outside [log start, log end], or our epoch cache cannot place the
    /// last fetched epoch (it is newer than any we have).
    OffsetOutOfRange,
    /// The follower's log diverges: answer with no records and this `diverging_epoch`
    /// (error NONE); the follower truncates and fetches again.
    Diverging { epoch: i32, end_offset: i64 },
}

impl FetchValidation {
    /// The partition error code of the Fetch response (0 for Ok and Diverging).
    pub fn error_code(&self) -> i16 {
        match self {
            FetchValidation::Ok | FetchValidation::Diverging { .. } => 0,
            FetchValidation::FencedLeaderEpoch => ResponseError::FencedLeaderEpoch.code(),
            FetchValidation::UnknownLeaderEpoch => ResponseError::UnknownLeaderEpoch.code(),
            FetchValidation::OffsetOutOfRange => ResponseError::OffsetOutOfRange.code(),
        }
    }
}

/// Validate a Fetch against the leader's state, in Kafka's order:
///
/// 1. `current_leader_epoch` (None when the request has none, -1 on the wire): older than
///    `leader_epoch` → FENCED_LEADER_EPOCH, newer → UNKNOWN_LEADER_EPOCH.
/// 2. With a `last_fetched_epoch` (None when absent): look up `end_offset_for_epoch` (the
///    leader-epoch cache's OffsetForLeaderEpoch answer: the largest epoch <= the requested
///    one and where it ends, `(-1, -1)` when unknown). Unknown → OFFSET_OUT_OF_RANGE; a fetch
///    offset below the log start → OFFSET_OUT_OF_RANGE; an epoch below the requested one, or
///    an end offset below the fetch offset → Diverging with that epoch and end offset.
/// 3. A fetch offset outside `[log_start_offset, log_end_offset]` → OFFSET_OUT_OF_RANGE.
pub fn check_follower_fetch(
    leader_epoch: i32,
    current_leader_epoch: Option<i32>,
    last_fetched_epoch: Option<i32>,
    fetch_offset: i64,
    log_start_offset: i64,
    log_end_offset: i64,
    end_offset_for_epoch: impl Fn(i32) -> (i32, i64),
) -> FetchValidation {
    if let Some(requested) = current_leader_epoch.filter(|e| *e >= 0) {
        if leader_epoch > requested {
            return FetchValidation::FencedLeaderEpoch;
        }
        if leader_epoch < requested {
            return FetchValidation::UnknownLeaderEpoch;
        }
    }
    if let Some(fetched_epoch) = last_fetched_epoch.filter(|e| *e >= 0) {
        let (epoch, end_offset) = end_offset_for_epoch(fetched_epoch);
        if epoch == UNDEFINED_EPOCH || end_offset == UNDEFINED_EPOCH_OFFSET {
            return FetchValidation::OffsetOutOfRange;
        }
        if fetch_offset < log_start_offset {
            return FetchValidation::OffsetOutOfRange;
        }
        if epoch < fetched_epoch || end_offset < fetch_offset {
            return FetchValidation::Diverging { epoch, end_offset };
        }
    }
    if fetch_offset < log_start_offset || fetch_offset > log_end_offset {
        return FetchValidation::OffsetOutOfRange;
    }
    FetchValidation::Ok
}
