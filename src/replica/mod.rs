//! Replica state of the partitions this broker hosts, as pure state machines: Kafka's
//! leader/follower replication (`Partition.scala`, `Replica.scala`, `AbstractFetcherThread`)
//! with no tokio, no I/O and no clock (time comes in as `now_ms`).
//!
//! # Leader side
//!
//! [`LeaderState`] is one partition this broker leads: the replica set, the committed ISR and
//! the ISR change in flight to the controller (Kafka's `PendingExpandIsr` /
//! `PendingShrinkIsr`), each follower's progress ([`FollowerProgress`]: log end offset, last
//! fetch time, last caught-up time, the leader's log end offset at the follower's previous
//! fetch) and the high watermark. [`check_follower_fetch`] validates a follower's Fetch
//! against the leader epoch and the leader-epoch cache (FENCED / UNKNOWN_LEADER_EPOCH,
//! OFFSET_OUT_OF_RANGE, or a diverging epoch to truncate to).
//!
//! Invariants of a `LeaderState`:
//! - the high watermark never decreases and never exceeds the leader's log end offset;
//! - it advances only while the committed ISR has at least the effective `min.insync.replicas`
//!   (`min(min.insync.replicas, replica count)`, Kafka 3.7+), to the minimum log end offset
//!   over the *maximal* ISR (the committed ISR plus a replica whose addition is in flight) and
//!   over followers that are caught up and eligible but not yet in the ISR;
//! - a follower's unknown log end offset (-1, after a leader change) holds the high watermark
//!   where it is until that follower has fetched;
//! - at most one ISR proposal is in flight; while it is, no other is made;
//! - the ISR never loses the leader itself.
//!
//! # Follower side
//!
//! [`FetcherPlan`] is the state of one replica fetcher (one source broker): per partition a
//! [`FollowerState`] (leader, leader epoch, fetch offset, last fetched epoch, status, back-off).
//! It builds the per-partition fields of the next Fetch request and turns each partition's
//! response into a [`FetchDecision`] (append, truncate, resolve OFFSET_OUT_OF_RANGE, back
//! off, remove), using [`truncation_offset_for_diverging`] and [`out_of_range_action`].
//! The server owns the sockets, the logs and the timers; it executes the decisions and reports
//! back (`on_appended`, `on_truncated`, `on_leader_offsets`).
//!
//! # Concurrency
//!
//! Nothing here is synchronized: each `LeaderState` / `FetcherPlan` is owned by one task or
//! guarded by its partition's lock in `server/`. No on-disk state: the high watermark and
//! the leader-epoch cache live in the partition log (`src/log`).

mod acks;
pub mod fetch_session;
mod fetch_validation;
mod fetcher;
mod follower;
mod isr;
mod leader;

#[cfg(test)]
mod tests;

pub use acks::AcksAllWaiters;
pub use fetch_validation::{check_follower_fetch, FetchValidation};
pub use fetcher::{
    AppendFailure, FetchDecision, FetcherConfig, FetcherPlan, PartitionFetchRequest,
    PartitionFetchResponse, TopicPartition,
};
pub use follower::{
    initial_fetch_offset, out_of_range_action, truncation_offset_for_diverging, FetchStatus,
    FollowerLog, FollowerState, InitialFetchState, OutOfRangeAction, Truncation,
};
pub use isr::{
    BrokerState, CommittedPartitionState, IsrChange, IsrProposal, PartitionUpdate, ProposalOutcome,
};
pub use leader::{
    AcksAllStatus, BrokerStatus, FollowerFetch, FollowerFetchError, FollowerFetchOutcome,
    FollowerProgress, LeaderConfig, LeaderInit, LeaderState, NotEnoughReplicas,
};

/// Kafka's "no epoch" and "no offset" (OffsetForLeaderEpoch / diverging-epoch answers).
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;
/// A follower's log end offset before it has fetched from this leader.
pub const UNKNOWN_OFFSET: i64 = -1;
/// "Never" for a follower's last fetch / caught-up time. Kafka uses 0, which is "long ago"
/// only for a wall clock; this is long ago for any clock (and `now_ms - NEVER_MS` does not
/// overflow).
pub const NEVER_MS: i64 = i64::MIN / 4;
