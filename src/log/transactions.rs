//! Transactions at the partition level: writing markers, the last stable offset, aborted
//! transactions for read_committed fetches, DescribeProducers, producer expiration, and the
//! durability of producer state (snapshots, and rebuilding it on open).
//!
//! # Invariants
//!
//! * The producer state and the open transactions always reflect every batch below the log
//!   end offset (they are updated right after each write, and rebuilt on open).
//! * `last_stable_offset() <= high_watermark()`, and equals the first offset of the earliest
//!   open transaction (not below the log start offset) when there is one.
//! * Each ABORT marker that closed an open transaction has exactly one `.txnindex` entry, in
//!   the segment holding the marker.
//!
//! # Durability
//!
//! A snapshot at offset S is written (roll, clean close) only after the transaction indexes
//! were fsynced, so it vouches for every index entry below S. On open, the newest valid
//! snapshot at or below the log end offset is loaded, index entries at or above S are
//! dropped, and every batch from S to the log end is replayed (headers only, plus the record
//! of control batches), re-adding those entries. A crash between a marker and its index
//! entry therefore neither loses nor duplicates it, and acknowledged idempotent batches stay
//! deduplicated after `kill -9`. A truncation (`replica.rs`) rebuilds the state the same
//! way, from the newest snapshot at or below the new log end offset. The index files are
//! *not* part of the `SyncPlan` (the hot
//! path fsyncs only `.log` files): what the last snapshot does not cover is re-derived from
//! the `.log` files, which are the truth. Without a snapshot (or with a corrupt index) the
//! whole log is replayed from its first segment.
//!
//! Producers whose batches were all deleted by retention keep their state until
//! `expire_producers` removes them (Kafka drops them with the segments; keeping them is the
//! safer choice for deduplication). Only a recovery that has to fall back to an older
//! snapshot than one covering the deleted segments forgets them.

use std::io;
use std::sync::Arc;

use super::control::{encode_marker, parse_marker, Marker};
use super::partition::{PartitionLog, PayloadSummary};
use super::producer_state::{CompletedTxn, DataBatch, ProducerStateManager};
use super::segment::{parse_file_name, BatchReader, Scan, Segment, VERIFY_CHUNK};
use super::snapshot::{self, SNAPSHOT_SUFFIX};
use super::storage::Storage;
use super::txn_index::{AbortedTxn, TXN_INDEX_SUFFIX};
use super::{AppendInfo, LogError, ProducerInfo};
use crate::protocol::batch::BatchHeader;

/// Producer-state snapshots kept on disk.
const SNAPSHOTS_KEPT: usize = 2;

/// Index an aborted transaction in the segment holding its marker, then close it.
fn finish_txn(
    storage: &dyn Storage,
    producers: &mut ProducerStateManager,
    seg: &mut Segment,
    txn: &CompletedTxn,
) -> io::Result<()> {
    if txn.aborted {
        let entry = AbortedTxn {
            producer_id: txn.producer_id,
            first_offset: txn.first_offset,
            last_offset: txn.last_offset,
            last_stable_offset: producers.last_stable_offset_after(txn),
        };
        seg.txn
            .append(storage, &seg.path(TXN_INDEX_SUFFIX), entry)?;
    }
    producers.complete_txn(txn);
    Ok(())
}

/// Apply one stored batch to the producer state without validation (recovery replay, and
/// follower appends: Kafka's `AppendOrigin.REPLICATION`). Data batches update their
/// producer's entry; a transaction marker closes the producer's open transaction, indexing
/// it in `seg` (the segment holding the marker) if aborted. `batch` holds the whole batch
/// for control batches (their record says COMMIT or ABORT); data batches need only `h`.
pub(super) fn replay_batch(
    storage: &dyn Storage,
    producers: &mut ProducerStateManager,
    seg: &mut Segment,
    h: &BatchHeader,
    batch: Option<&[u8]>,
) -> io::Result<()> {
    if h.producer_id < 0 {
        return Ok(());
    }
    if !h.is_control() {
        producers.replay_data(&DataBatch::new(h, h.base_offset, h.max_timestamp));
        return Ok(());
    }
    let Some(m) = batch.and_then(parse_marker) else {
        tracing::warn!(dir = %seg.dir.display(), offset = h.base_offset,
            "ignoring a control batch that is not a transaction marker");
        return Ok(());
    };
    let closed = producers.replay_marker(
        h.producer_id,
        h.producer_epoch,
        m.coordinator_epoch,
        m.commit,
        h.base_offset,
        h.max_timestamp,
    );
    match closed {
        Some(txn) => finish_txn(storage, producers, seg, &txn),
        None => Ok(()),
    }
}

impl PartitionLog {
    /// Append a transaction marker (COMMIT if `commit`, else ABORT) for a producer, as the
    /// transaction coordinator's WriteTxnMarkers does. The marker's epoch may be newer than
    /// the producer's (a bump) but not older; it closes the producer's open transaction here,
    /// if any (indexing it if aborted). A marker without an open transaction is still written.
    pub fn append_control(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.check_online()?;
        if producer_id < 0 {
            return Err(LogError::InvalidRecord(
                "a transaction marker needs a producer id".into(),
            ));
        }
        let offset = self.log_end_offset;
        let pending = self.producers.prepare_marker(
            producer_id,
            producer_epoch,
            coordinator_epoch,
            commit,
            offset,
            now_ms,
        )?;
        let marker = Marker {
            commit,
            coordinator_epoch,
        };
        let mut batch = encode_marker(producer_id, producer_epoch, marker, now_ms);
        let summary = PayloadSummary {
            batches: 1,
            records: 1,
            offset_span: 1,
            has_producer_ids: true,
        };
        let info = self.write_payload(&mut batch, &summary, leader_epoch, now_ms)?;
        if let Some(txn) = self.producers.commit(pending) {
            let storage = Arc::clone(&self.storage);
            let result = match self.segments.last_entry() {
                Some(mut seg) => finish_txn(&*storage, &mut self.producers, seg.get_mut(), &txn),
                None => unreachable!("a partition log always has an active segment"),
            };
            if let Err(e) = result {
                return Err(self.fail(e));
            }
        }
        self.flush_if_due()?;
        Ok(info)
    }

    /// The last stable offset: the first offset of the earliest open transaction, else the
    /// high watermark. read_committed fetches read below it.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.producers
            .first_unstable_offset()
            .map_or(hw, |first| first.max(self.log_start_offset).min(hw))
    }

    /// `(producer_id, first_offset)` of every aborted transaction with a marker at or after
    /// `from_offset` and a first offset below `upper_offset` (Kafka's collectAbortedTxns),
    /// in marker order.
    pub fn aborted_transactions(&self, from_offset: i64, upper_offset: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let from = self
            .segments
            .range(..=from_offset)
            .next_back()
            .map_or(i64::MIN, |(base, _)| *base);
        for seg in self.segments.range(from..).map(|(_, s)| s) {
            if seg.txn.collect(from_offset, upper_offset, &mut out) {
                break;
            }
        }
        out
    }

    /// Whether the producer at this epoch has a transaction open in this partition.
    pub fn producer_in_transaction(&self, producer_id: i64, producer_epoch: i16) -> bool {
        self.producers.in_transaction(producer_id, producer_epoch)
    }

    /// Every producer with state in this partition, by id (DescribeProducers).
    pub fn producers(&self) -> Vec<ProducerInfo> {
        self.producers.infos()
    }

    /// Forget producers whose last timestamp is `producer_id_expiration_ms` or more before
    /// `now_ms` and that have no open transaction; returns how many.
    pub fn expire_producers(&mut self, now_ms: i64, producer_id_expiration_ms: i64) -> usize {
        self.producers.expire(now_ms, producer_id_expiration_ms)
    }

    /// Offsets of the producer-state snapshots on disk (tests).
    #[cfg(test)]
    pub(super) fn snapshot_offsets(&self) -> Vec<i64> {
        self.snapshots.iter().copied().collect()
    }

    /// Snapshot the producer state at the log end offset: fsync the transaction indexes the
    /// snapshot vouches for, write it atomically, keep the newest two.
    pub(super) fn take_snapshot(&mut self) -> io::Result<()> {
        let mut created = false;
        for seg in self.segments.values_mut() {
            created |= seg.txn.sync()?;
        }
        if created {
            self.storage.sync_dir(&self.dir)?;
        }
        let offset = self.log_end_offset;
        snapshot::write(self.storage.as_ref(), &self.dir, offset, &self.producers)?;
        self.snapshots.insert(offset);
        while self.snapshots.len() > SNAPSHOTS_KEPT {
            if let Some(old) = self.snapshots.pop_first() {
                snapshot::remove(self.storage.as_ref(), &self.dir, old)?;
            }
        }
        Ok(())
    }

    /// Rebuild producer state on open, after the segments were recovered: load the newest
    /// valid snapshot at or below the log end offset and replay the log from there.
    pub(super) fn load_producer_state(&mut self, names: &[String]) -> Result<(), LogError> {
        let offsets: Vec<i64> = names
            .iter()
            .filter_map(|n| parse_file_name(n, SNAPSHOT_SUFFIX))
            .collect();
        self.rebuild_producer_state(offsets)
    }

    /// Rebuild producer state from the snapshot files at `offsets` (any order) and the log:
    /// delete the snapshots above the log end offset, load the newest valid one, drop the
    /// transaction-index entries at or above its offset and replay the batches from there
    /// (Kafka's `rebuildProducerState`). On open, and after a truncation.
    pub(super) fn rebuild_producer_state(&mut self, mut offsets: Vec<i64>) -> Result<(), LogError> {
        let storage = Arc::clone(&self.storage);
        offsets.sort_unstable();
        offsets.dedup();
        let mut removed = false;
        // Snapshots above the recovered log end describe data that is gone.
        while let Some(&o) = offsets.last().filter(|&&o| o > self.log_end_offset) {
            snapshot::remove(storage.as_ref(), &self.dir, o)?;
            offsets.pop();
            removed = true;
        }
        // A corrupt transaction index cannot be repaired from a snapshot: replay everything.
        let index_ok = self.segments.values().all(|s| !s.txn.corrupt);
        let mut loaded = None;
        while let (true, Some(&o)) = (index_ok, offsets.last()) {
            match snapshot::read(storage.as_ref(), &self.dir, o)? {
                Some(state) => {
                    loaded = Some((o, state));
                    break;
                }
                None => {
                    tracing::warn!(dir = %self.dir.display(), offset = o,
                        "ignoring an invalid producer state snapshot");
                    snapshot::remove(storage.as_ref(), &self.dir, o)?;
                    offsets.pop();
                    removed = true;
                }
            }
        }
        if removed {
            storage.sync_dir(&self.dir)?;
        }
        self.snapshots = offsets.into_iter().collect();
        let start = match loaded {
            Some((o, state)) => {
                self.producers = state;
                o
            }
            None => {
                self.producers = ProducerStateManager::default();
                i64::MIN
            }
        };
        for seg in self.segments.values_mut() {
            if index_ok {
                seg.txn.truncate_from(start)?;
            } else {
                seg.txn.clear()?;
                // Rebuilt from the log below: trustworthy from here on.
                seg.txn.corrupt = false;
            }
        }
        let first_base = self.segments.keys().next().copied().unwrap_or(0);
        self.replay_from(start.max(first_base))
    }

    /// Apply every batch at or after `start` to the producer state, indexing aborts.
    fn replay_from(&mut self, start: i64) -> Result<(), LogError> {
        if start >= self.log_end_offset {
            return Ok(());
        }
        tracing::info!(dir = %self.dir.display(), start, end = self.log_end_offset,
            "rebuilding producer state from the log");
        let from = self
            .segments
            .range(..=start)
            .next_back()
            .map_or(i64::MIN, |(base, _)| *base);
        let storage = Arc::clone(&self.storage);
        let producers = &mut self.producers;
        for seg in self.segments.range_mut(from..).map(|(_, s)| s) {
            let pos = if seg.base_offset < start {
                match seg.locate(start)? {
                    Some((pos, _)) => pos,
                    None => continue,
                }
            } else {
                0
            };
            let mut reader = BatchReader::new(Arc::clone(&seg.log), pos, seg.size, VERIFY_CHUNK);
            loop {
                let (pos, h) = match reader.next_header()? {
                    Scan::Batch(pos, h) => (pos, h),
                    Scan::End => break,
                    Scan::Invalid(pos, why) => {
                        tracing::warn!(dir = %seg.dir.display(), base = seg.base_offset, pos,
                            "cannot replay producer state past an invalid batch: {why}");
                        break;
                    }
                };
                if h.base_offset < start {
                    continue;
                }
                self.replayed_batches += 1;
                let control = if h.is_control() && h.producer_id >= 0 {
                    Some(seg.read_batch(pos, &h)?)
                } else {
                    None
                };
                replay_batch(storage.as_ref(), producers, seg, &h, control.as_deref())?;
            }
        }
        Ok(())
    }
}
