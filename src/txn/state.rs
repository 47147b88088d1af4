//! Transaction states (Kafka's names and record ids) and the per-transactional-id metadata.
//!
//! Kafka's state machine, as the coordinator drives it here (transactions V1):
//!
//! ```text
//! (new) ─InitProducerId→ Empty ─AddPartitions/AddOffsets→ Ongoing ─EndTxn→ PrepareCommit/Abort
//!   Empty, CompleteCommit, CompleteAbort ─InitProducerId→ Empty (epoch bump)
//!   Ongoing ─InitProducerId or timeout→ PrepareAbort (epoch bump: Kafka's PrepareEpochFence)
//!   PrepareCommit/Abort ─markers written→ CompleteCommit/Abort
//!   Empty, CompleteCommit, CompleteAbort ─expired→ (tombstone)
//! ```
//!
//! Kafka's `Dead` and `PrepareEpochFence` are "pending" states that exist only while a record
//! is being appended; skua's coordinator applies a transition and emits its record in one
//! step, so neither is ever held (see `replay` for how they are read from a log).

use std::collections::BTreeSet;

use super::types::TopicPartition;

/// Kafka's TransactionState, with its record id (`TransactionStatus`, int8) and name (used by
/// DescribeTransactions and ListTransactions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.id() == id)
    }

    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Exact, case-sensitive match on Kafka's name (as Kafka's `TransactionState.fromName`).
    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Markers are being written: the transaction is neither open nor finished.
    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// No transaction open or completing: a new InitProducerId may bump the epoch, and the
    /// transactional id may expire (Kafka's `isExpirationAllowed`).
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

/// Kafka's RecordBatch.NO_PRODUCER_ID / NO_PRODUCER_EPOCH.
pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// Kafka refuses to hand out the last two epochs so the coordinator can always fence
/// (`isEpochExhausted`: epoch >= Short.MaxValue - 1).
pub fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// One transactional id's state: what its `__transaction_state` record holds, plus two fields
/// Kafka keeps only in memory (reset to -1 by a restart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionMetadata {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// Partitions of the ongoing (or completing) transaction; empty otherwise.
    pub partitions: BTreeSet<TopicPartition>,
    /// When the current (or last) transaction started; -1 before the first one and after an
    /// InitProducerId.
    pub start_timestamp_ms: i64,
    /// Every transition updates it; expiry counts from it.
    pub last_update_timestamp_ms: i64,
    /// In memory only (Kafka's lastProducerEpoch): the epoch before the last KIP-360 bump, so
    /// a retried InitProducerId of that producer gets the same answer instead of a fence.
    pub last_producer_epoch: i16,
    /// In memory only (record v1 has it, skua writes v0 as Kafka does for transactions V1):
    /// the producer id before the last InitProducerId, so a producer whose epoch ran out can
    /// retry after the id was rotated.
    pub previous_producer_id: i64,
    /// Kafka's clientTransactionVersion: 2 once the transaction was started or ended by a
    /// transactions-V2 client (KIP-890 part 2: the epoch is bumped by every EndTxn), else 0.
    /// Persisted (record v1) as Kafka does.
    pub client_transaction_version: i16,
    /// Transactions V2: the producer id the transactional id moves to once the ending
    /// transaction completes, when its epoch bump exhausted the epochs (-1 otherwise).
    pub next_producer_id: i64,
}

impl TransactionMetadata {
    /// The persistent part equals `other`'s (what a replay of its record reproduces).
    pub fn same_record(&self, other: &TransactionMetadata) -> bool {
        self.producer_id == other.producer_id
            && self.producer_epoch == other.producer_epoch
            && self.timeout_ms == other.timeout_ms
            && self.state == other.state
            && self.partitions == other.partitions
            && self.start_timestamp_ms == other.start_timestamp_ms
            && self.last_update_timestamp_ms == other.last_update_timestamp_ms
            && self.client_transaction_version == other.client_transaction_version
            && self.next_producer_id == other.next_producer_id
    }

    pub fn partition_list(&self) -> Vec<TopicPartition> {
        self.partitions.iter().cloned().collect()
    }

    /// Whether a TxnTimeout firing at `now_ms` should abort this transaction.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing && now_ms >= self.timeout_deadline_ms()
    }

    pub fn timeout_deadline_ms(&self) -> i64 {
        self.start_timestamp_ms
            .saturating_add(i64::from(self.timeout_ms))
    }
}
