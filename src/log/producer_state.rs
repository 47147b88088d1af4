//! Producer state of one partition, for idempotence and transactions (Kafka's
//! `ProducerStateManager`, `ProducerStateEntry` and `ProducerAppendInfo`).
//!
//! Per producer id: its epoch, the metadata of its last 5 batches (to answer retries of any
//! of them with the original offsets), its last timestamp, the epoch of the transaction
//! coordinator that last wrote a marker for it, and the first offset of its open transaction
//! in this partition, if any. Plus the open transactions ordered by first offset: the first
//! one bounds the last stable offset.
//!
//! # Semantics (Kafka's)
//!
//! * A data batch whose epoch is older than the producer's is fenced (INVALID_PRODUCER_EPOCH).
//! * One with the epoch, first and last sequence of a cached batch is a duplicate: nothing is
//!   written and the original offsets are returned.
//! * Sequences: a new epoch must start at 0 (unless no epoch is known yet); the same epoch
//!   must continue at last sequence + 1 (wrapping from i32::MAX to 0); an unknown producer
//!   (never seen, expired, or its state lost with deleted segments) may start anywhere.
//! * A transactional batch opens a transaction if none is open; a non-transactional batch
//!   while one is open is INVALID_TXN_STATE. A marker (COMMIT/ABORT) closes it; its epoch may
//!   be newer (the coordinator bumps it on timeout) but not older, and its coordinator epoch
//!   may not be older than the last one seen (TRANSACTION_COORDINATOR_FENCED).
//!
//! One deliberate difference: Kafka takes one batch per partition per produce request and
//! checks sequences of an unknown producer against its *committed* state only; skua accepts
//! several batches per payload and checks each against the state staged by the earlier ones,
//! so after an unknown producer's first batch the next must follow in sequence.
//!
//! Validation never mutates: [`ProducerStateManager::prepare_append`] and
//! [`ProducerStateManager::prepare_marker`] stage the changed entries in a [`PendingUpdate`]
//! that [`ProducerStateManager::commit`] applies once the bytes are written, so a rejected
//! payload changes nothing. Recovery replays batches without validation (`replay_*`).
//!
//! # Concurrency
//!
//! Plain data owned by the `PartitionLog`, under the partition lock. No I/O here; snapshots
//! are encoded in `snapshot.rs`.

use std::collections::{BTreeMap, HashMap};

use super::{LogError, ProducerInfo};
use crate::protocol::batch::BatchHeader;

/// Batches cached per producer for duplicate detection (Kafka's NUM_BATCHES_TO_RETAIN).
pub(super) const NUM_BATCHES_TO_RETAIN: usize = 5;
pub(super) const NO_PRODUCER_EPOCH: i16 = -1;
const NO_SEQUENCE: i32 = -1;

/// Where one of a producer's recent batches landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The batch's max timestamp (the append time under LogAppendTime).
    pub timestamp: i64,
}

/// The state of one producer id. `Copy`, so staging an update never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ProducerEntry {
    pub epoch: i16,
    /// The last `len` batches, oldest first.
    batches: [BatchMetadata; NUM_BATCHES_TO_RETAIN],
    len: usize,
    pub last_timestamp: i64,
    pub coordinator_epoch: i32,
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    /// A producer never seen (Kafka's `ProducerStateEntry.empty`).
    pub fn empty() -> ProducerEntry {
        ProducerEntry {
            epoch: NO_PRODUCER_EPOCH,
            batches: [BatchMetadata::default(); NUM_BATCHES_TO_RETAIN],
            len: 0,
            last_timestamp: -1,
            coordinator_epoch: -1,
            current_txn_first_offset: None,
        }
    }

    /// An entry as stored in a snapshot; `None` if it holds too many batches.
    pub fn restore(
        epoch: i16,
        coordinator_epoch: i32,
        last_timestamp: i64,
        current_txn_first_offset: Option<i64>,
        batches: &[BatchMetadata],
    ) -> Option<ProducerEntry> {
        if batches.len() > NUM_BATCHES_TO_RETAIN {
            return None;
        }
        let mut e = ProducerEntry {
            epoch,
            last_timestamp,
            coordinator_epoch,
            current_txn_first_offset,
            ..ProducerEntry::empty()
        };
        e.batches[..batches.len()].copy_from_slice(batches);
        e.len = batches.len();
        Some(e)
    }

    pub fn batches(&self) -> &[BatchMetadata] {
        &self.batches[..self.len]
    }

    fn last_seq(&self) -> i32 {
        self.batches().last().map_or(NO_SEQUENCE, |b| b.last_seq)
    }

    fn push_batch(&mut self, batch: BatchMetadata) {
        if self.len == NUM_BATCHES_TO_RETAIN {
            self.batches.copy_within(1.., 0);
            self.len -= 1;
        }
        self.batches[self.len] = batch;
        self.len += 1;
    }

    /// A new epoch forgets the old epoch's batches.
    fn set_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.len = 0;
            self.epoch = epoch;
        }
    }

    fn find_duplicate(&self, b: &DataBatch) -> Option<BatchMetadata> {
        if b.epoch != self.epoch {
            return None;
        }
        self.batches()
            .iter()
            .find(|m| m.first_seq == b.first_seq && m.last_seq == b.last_seq)
            .copied()
    }
}

/// The producer facts of one data batch, with its offsets as assigned.
#[derive(Debug, Clone, Copy)]
pub(super) struct DataBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
    pub transactional: bool,
}

impl DataBatch {
    /// The batch `h` once placed at `base_offset`, with max timestamp `timestamp`.
    pub fn new(h: &BatchHeader, base_offset: i64, timestamp: i64) -> DataBatch {
        // A coordinator's batch has no sequence (Kafka's lastSequence is then NO_SEQUENCE).
        let last_seq = if h.base_sequence < 0 {
            NO_SEQUENCE
        } else {
            increment_sequence(h.base_sequence, h.last_offset_delta)
        };
        DataBatch {
            producer_id: h.producer_id,
            epoch: h.producer_epoch,
            first_seq: h.base_sequence,
            last_seq,
            first_offset: base_offset,
            last_offset: base_offset + i64::from(h.last_offset_delta),
            timestamp,
            transactional: h.is_transactional(),
        }
    }

    fn metadata(&self) -> BatchMetadata {
        BatchMetadata {
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            first_offset: self.first_offset,
            last_offset: self.last_offset,
            timestamp: self.timestamp,
        }
    }
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: sequences wrap from i32::MAX to 0.
fn increment_sequence(seq: i32, by: i32) -> i32 {
    if seq > i32::MAX - by {
        by - (i32::MAX - seq) - 1
    } else {
        seq + by
    }
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    i64::from(next_seq) == i64::from(last_seq) + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

/// A transaction closed by a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The marker's offset.
    pub last_offset: i64,
    pub aborted: bool,
}

/// Producer changes validated for one append, applied by `commit` after the write.
#[derive(Debug, Default)]
pub(super) struct PendingUpdate {
    entries: Vec<(i64, ProducerEntry)>,
    /// Transactions opened: (first offset, producer id).
    started: Vec<(i64, i64)>,
    completed: Option<CompletedTxn>,
}

impl PendingUpdate {
    /// The staged entry of `pid`, starting from `current` on first use.
    fn entry(&mut self, pid: i64, current: Option<&ProducerEntry>) -> &mut ProducerEntry {
        let i = match self.entries.iter().position(|(p, _)| *p == pid) {
            Some(i) => i,
            None => {
                let e = current.copied().unwrap_or_else(ProducerEntry::empty);
                self.entries.push((pid, e));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }
}

/// What validating a produce payload decided.
#[derive(Debug)]
pub(super) enum Prepared {
    /// A retry of a cached batch: write nothing, answer with the original placement.
    Duplicate(BatchMetadata),
    Update(PendingUpdate),
}

/// All producers of a partition and its open transactions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id.
    ongoing: BTreeMap<i64, i64>,
}

/// Kafka's checkProducerEpoch + checkSequence (the latter for clients only), against the
/// staged entry (the committed one plus the payload's earlier batches).
fn check_data(staged: &ProducerEntry, b: &DataBatch, client: bool) -> Result<(), LogError> {
    let pid = b.producer_id;
    if b.epoch < staged.epoch {
        return Err(LogError::InvalidProducerEpoch(format!(
            "producer {pid} epoch {} is older than the current epoch {}",
            b.epoch, staged.epoch
        )));
    }
    if !client {
        return Ok(());
    }
    if b.epoch != staged.epoch {
        if b.first_seq != 0 && staged.epoch != NO_PRODUCER_EPOCH {
            return Err(LogError::OutOfOrderSequence(format!(
                "producer {pid} new epoch {} must start at sequence 0, not {}",
                b.epoch, b.first_seq
            )));
        }
    } else if staged.epoch != NO_PRODUCER_EPOCH && !in_sequence(staged.last_seq(), b.first_seq) {
        return Err(LogError::OutOfOrderSequence(format!(
            "producer {pid} sequence {} does not follow {}",
            b.first_seq,
            staged.last_seq()
        )));
    }
    Ok(())
}

/// Apply a data batch to an entry; returns the first offset of a transaction it opened.
/// With `strict`, a non-transactional batch inside an open transaction is an error;
/// replay ignores it (it cannot be in a log this code wrote).
fn apply_data(e: &mut ProducerEntry, b: &DataBatch, strict: bool) -> Result<Option<i64>, LogError> {
    e.set_epoch(b.epoch);
    e.push_batch(b.metadata());
    e.last_timestamp = b.timestamp;
    match (e.current_txn_first_offset, b.transactional) {
        (Some(first), false) if strict => Err(LogError::InvalidTxnState(format!(
            "non-transactional batch from producer {} while its transaction from offset {first} \
             is open",
            b.producer_id
        ))),
        (None, true) => {
            e.current_txn_first_offset = Some(b.first_offset);
            Ok(Some(b.first_offset))
        }
        _ => Ok(None),
    }
}

/// Apply a marker to an entry (Kafka's `update(epoch, coordinatorEpoch, timestamp)`); returns
/// the transaction it closed, if one was open.
fn apply_marker(
    pid: i64,
    e: &mut ProducerEntry,
    epoch: i16,
    coordinator_epoch: i32,
    commit: bool,
    offset: i64,
    timestamp: i64,
) -> Option<CompletedTxn> {
    let completed = e.current_txn_first_offset.map(|first| CompletedTxn {
        producer_id: pid,
        first_offset: first,
        last_offset: offset,
        aborted: !commit,
    });
    e.set_epoch(epoch);
    e.coordinator_epoch = coordinator_epoch;
    e.current_txn_first_offset = None;
    e.last_timestamp = timestamp;
    completed
}

impl ProducerStateManager {
    /// Validate the data batches of a payload (producer id >= 0 only), in order. Only a
    /// `client` append is checked for duplicates and sequences (Kafka's AppendOrigin.CLIENT).
    pub fn prepare_append(
        &self,
        batches: impl Iterator<Item = DataBatch>,
        client: bool,
    ) -> Result<Prepared, LogError> {
        let mut pending = PendingUpdate::default();
        for b in batches {
            let current = self.producers.get(&b.producer_id);
            let duplicate = current.and_then(|e| e.find_duplicate(&b));
            if let (true, Some(dup)) = (client, duplicate) {
                return Ok(Prepared::Duplicate(dup));
            }
            let staged = pending.entry(b.producer_id, current);
            check_data(staged, &b, client)?;
            if let Some(first) = apply_data(staged, &b, true)? {
                pending.started.push((first, b.producer_id));
            }
        }
        Ok(Prepared::Update(pending))
    }

    /// Validate a transaction marker about to be written at `offset`.
    pub fn prepare_marker(
        &self,
        pid: i64,
        epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        offset: i64,
        timestamp: i64,
    ) -> Result<PendingUpdate, LogError> {
        let current = self.producers.get(&pid);
        let mut e = current.copied().unwrap_or_else(ProducerEntry::empty);
        if epoch < e.epoch {
            return Err(LogError::InvalidProducerEpoch(format!(
                "marker for producer {pid} has epoch {epoch}, older than the current epoch {}",
                e.epoch
            )));
        }
        if e.coordinator_epoch > coordinator_epoch {
            return Err(LogError::TransactionCoordinatorFenced(format!(
                "marker for producer {pid} has coordinator epoch {coordinator_epoch}, older \
                 than {}",
                e.coordinator_epoch
            )));
        }
        let completed = apply_marker(
            pid,
            &mut e,
            epoch,
            coordinator_epoch,
            commit,
            offset,
            timestamp,
        );
        Ok(PendingUpdate {
            entries: vec![(pid, e)],
            started: Vec::new(),
            completed,
        })
    }

    /// Apply validated changes once their batches are written. Returns the transaction a
    /// marker closed: the caller indexes it if aborted, then calls `complete_txn`.
    pub fn commit(&mut self, pending: PendingUpdate) -> Option<CompletedTxn> {
        for (pid, e) in pending.entries {
            self.producers.insert(pid, e);
        }
        for (first, pid) in pending.started {
            self.ongoing.insert(first, pid);
        }
        pending.completed
    }

    /// Replay a stored data batch (recovery): no validation.
    pub fn replay_data(&mut self, b: &DataBatch) {
        let e = self
            .producers
            .entry(b.producer_id)
            .or_insert_with(ProducerEntry::empty);
        if let Ok(Some(first)) = apply_data(e, b, false) {
            self.ongoing.insert(first, b.producer_id);
        }
    }

    /// Replay a stored marker (recovery): no validation. As for `commit`, the caller
    /// completes the returned transaction.
    pub fn replay_marker(
        &mut self,
        pid: i64,
        epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        offset: i64,
        timestamp: i64,
    ) -> Option<CompletedTxn> {
        let e = self
            .producers
            .entry(pid)
            .or_insert_with(ProducerEntry::empty);
        apply_marker(pid, e, epoch, coordinator_epoch, commit, offset, timestamp)
    }

    /// The LSO recorded with an aborted transaction (Kafka's `lastStableOffset(completedTxn)`):
    /// the first offset of the earliest open transaction of another producer, else the
    /// marker's offset + 1. Call before `complete_txn`.
    pub fn last_stable_offset_after(&self, txn: &CompletedTxn) -> i64 {
        self.ongoing
            .iter()
            .find(|(_, pid)| **pid != txn.producer_id)
            .map_or(txn.last_offset + 1, |(first, _)| *first)
    }

    /// Forget a closed transaction, letting the LSO move past it.
    pub fn complete_txn(&mut self, txn: &CompletedTxn) {
        if self.ongoing.remove(&txn.first_offset).is_none() {
            tracing::warn!(
                producer_id = txn.producer_id,
                first_offset = txn.first_offset,
                "completed a transaction that was not open"
            );
        }
    }

    /// First offset of the earliest open transaction.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Whether `producer_id` at `producer_epoch` has a transaction open in this partition
    /// (Kafka's `hasOngoingTransaction`): its batches here need no verification.
    pub fn in_transaction(&self, producer_id: i64, producer_epoch: i16) -> bool {
        self.producers
            .get(&producer_id)
            .is_some_and(|e| e.epoch == producer_epoch && e.current_txn_first_offset.is_some())
    }

    /// Remove producers idle for at least `expiration_ms` with no open transaction.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Every producer, by id (for snapshots and DescribeProducers).
    pub fn entries(&self) -> Vec<(i64, ProducerEntry)> {
        let mut all: Vec<(i64, ProducerEntry)> =
            self.producers.iter().map(|(p, e)| (*p, *e)).collect();
        all.sort_unstable_by_key(|(p, _)| *p);
        all
    }

    /// Rebuild from snapshot entries; open transactions follow from the entries.
    pub fn from_entries(entries: impl IntoIterator<Item = (i64, ProducerEntry)>) -> Self {
        let mut state = ProducerStateManager::default();
        for (pid, e) in entries {
            if let Some(first) = e.current_txn_first_offset {
                state.ongoing.insert(first, pid);
            }
            state.producers.insert(pid, e);
        }
        state
    }

    pub fn infos(&self) -> Vec<ProducerInfo> {
        self.entries()
            .into_iter()
            .map(|(pid, e)| ProducerInfo {
                producer_id: pid,
                producer_epoch: e.epoch,
                last_sequence: e.last_seq(),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.current_txn_first_offset.unwrap_or(-1),
            })
            .collect()
    }
}
