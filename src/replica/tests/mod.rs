//! Tests of the replica state machines, driven through the public API with explicit times.
//! Every test asserts exact offsets, ISRs, epochs, proposals and error codes.

mod acks;
mod fetch_validation;
mod fetcher;
mod high_watermark;
mod isr;
mod truncation;

use kafka_protocol::ResponseError;

use super::*;

pub const LAG_MS: i64 = 30_000;
pub const LOCAL: i32 = 1;
pub const LOCAL_BROKER_EPOCH: i64 = 100;
pub const LEADER_EPOCH: i32 = 5;
pub const PARTITION_EPOCH: i32 = 10;

pub fn config(min_insync_replicas: i32) -> LeaderConfig {
    LeaderConfig {
        min_insync_replicas,
        replica_lag_time_max_ms: LAG_MS,
    }
}

/// Broker 1 becomes leader in epoch 5 (partition epoch 10) at `now_ms`.
pub fn leader(
    replicas: &[i32],
    isr: &[i32],
    log_end_offset: i64,
    high_watermark: i64,
    min_isr: i32,
    now_ms: i64,
) -> LeaderState {
    LeaderState::new(LeaderInit {
        local_id: LOCAL,
        local_broker_epoch: LOCAL_BROKER_EPOCH,
        leader_epoch: LEADER_EPOCH,
        partition_epoch: PARTITION_EPOCH,
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
        log_end_offset,
        high_watermark,
        config: config(min_isr),
        now_ms,
    })
}

/// A fetch from `replica` at `fetch_offset`, read when the leader's log ended at `leader_leo`.
pub fn fetch(replica_id: i32, fetch_offset: i64, leader_leo: i64, now_ms: i64) -> FollowerFetch {
    FollowerFetch {
        replica_id,
        broker_epoch: -1,
        fetch_offset,
        log_start_offset: 0,
        leader_log_end_offset: leader_leo,
        now_ms,
    }
}

/// Fetch and return the outcome, panicking on a refused fetch.
pub fn fetched(
    l: &mut LeaderState,
    replica_id: i32,
    fetch_offset: i64,
    now_ms: i64,
) -> FollowerFetchOutcome {
    let leo = l.log_end_offset();
    l.on_follower_fetch(fetch(replica_id, fetch_offset, leo, now_ms))
        .expect("fetch accepted")
}

/// A leader-epoch cache with Kafka's `endOffsetFor` semantics, over a log ending at
/// `log_end_offset` and starting at `log_start_offset`.
#[derive(Debug, Clone)]
pub struct FakeLog {
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    /// (epoch, start offset), increasing.
    pub epochs: Vec<(i32, i64)>,
}

impl FakeLog {
    pub fn new(epochs: &[(i32, i64)], log_end_offset: i64) -> FakeLog {
        FakeLog {
            log_start_offset: 0,
            log_end_offset,
            epochs: epochs.to_vec(),
        }
    }

    pub fn end_offset_for(&self, requested: i32) -> (i32, i64) {
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested == UNDEFINED_EPOCH {
            return undefined;
        }
        if self.epochs.last().map(|e| e.0) == Some(requested) {
            return (requested, self.log_end_offset);
        }
        let Some(&(_, higher_start)) = self.epochs.iter().find(|e| e.0 > requested) else {
            return undefined;
        };
        match self.epochs.iter().rev().find(|e| e.0 <= requested) {
            Some(&(floor, _)) => (floor, higher_start),
            None => (requested, higher_start),
        }
    }

    /// Kafka's truncateTo: drop the log and epoch entries at and after `offset`.
    pub fn truncate_to(&mut self, offset: i64) {
        self.log_end_offset = self.log_end_offset.min(offset);
        self.epochs.retain(|e| e.1 < offset);
    }
}

impl FollowerLog for FakeLog {
    fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }
    fn latest_epoch(&self) -> Option<i32> {
        self.epochs.last().map(|e| e.0)
    }
    fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.end_offset_for(epoch)
    }
}
