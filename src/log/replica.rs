//! Replication operations on a [`PartitionLog`] (Kafka's `UnifiedLog.appendAsFollower`,
//! `truncateTo` and `truncateFullyAndStartAt`): a follower appending its leader's batches,
//! a replica cutting the end of its log where it diverges from the leader's, and a follower
//! starting over at the leader's log start offset.
//!
//! # Follower appends
//!
//! The leader's batches are stored byte for byte: offsets, partition leader epochs and
//! timestamps as the leader wrote them. Checked: lengths, magic and CRC of every batch (not
//! `max.message.bytes`, the keyless-record rule of compacted topics, or the record count,
//! which are the leader's business: a cleaned leader log holds batches with fewer records
//! than offsets, even empty ones), and offsets: the first batch may not start below the log
//! end offset, and each batch must start after the previous one's last offset. Offsets may
//! *skip* (a compacted leader's log has gaps, and a fetch from inside one returns the next
//! batch after it); a segment that receives such a gap is listed in `segments-with-gaps`
//! before the bytes are written, so recovery accepts it. A trailing partial batch (a fetch
//! response cut by its size limit) is ignored, as Kafka does. Control batches are accepted.
//!
//! The leader-epoch cache gets each new epoch at the first batch carrying it, persisted
//! before the data (Kafka's order). Producer state is replayed as Kafka's
//! `AppendOrigin.REPLICATION` does: no sequence or epoch checks, data batches update their
//! producer, markers complete transactions and index the aborted ones — the same code as
//! the recovery replay (`transactions.rs`), so a follower's producer state and aborted
//! transactions equal its leader's. Rolling, indexes and the flush policy are the leader's.
//!
//! # Truncation
//!
//! `truncate_to(offset)` removes every batch that holds an offset at or above `offset`; a
//! batch *containing* `offset` goes whole, so the new log end offset is then that batch's
//! base offset (below `offset`). In order, so that a crash at any point leaves a prefix of
//! the old log that recovery makes consistent (snapshots past the log end are dropped on open,
//! epochs past it too, transaction indexes are re-derived from the newest snapshot):
//!
//! 1. every read, sync and clean plan taken so far becomes stale (`Generation`);
//! 2. the cleaner checkpoint's dirty offset comes down to the new end;
//! 3. later segments are deleted, newest first, each followed by a directory fsync (a later
//!    segment must never outlive an earlier one: recovery would keep it across the hole);
//! 4. the containing segment's `.log` is cut and fsynced, its indexes recomputed exactly;
//! 5. leader-epoch entries at or past the new end are dropped (persisted);
//! 6. producer state is rebuilt: snapshots past the new end deleted, the newest one at or
//!    below it loaded, transaction-index entries from there re-derived by replay;
//! 7. the flushed offset and the high watermark come down to the new end.
//!
//! `truncate_fully_and_start_at(offset)` deletes all snapshots first (a crash must not leave
//! one describing deleted data), then every segment newest first, creates an empty segment
//! at `offset`, persists the log start offset, and clears the cleaner checkpoint, the gap
//! list and the leader-epoch cache.
//!
//! # Concurrency
//!
//! Under the partition lock like everything else. Plans executed without the lock check the
//! truncation generation: a stale read returns nothing, a stale sync marks nothing flushed,
//! a stale cleaning pass is discarded.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::partition::{batch_error, PartitionLog};
use super::recovery::remove_segment_files;
use super::segment::Segment;
use super::snapshot;
use super::storage::{read_whole, write_atomic, Storage};
use super::transactions::replay_batch;
use super::{AppendInfo, LogError};
use crate::protocol::batch::{verify_crc, BatchError, BatchIter};

/// The segments whose batches may skip offsets.
pub(super) const GAPS_FILE: &str = "segments-with-gaps";
const GAPS_HEADER: &str = "skua segments with offset gaps v1";

/// `segments-with-gaps`: a header line, then one segment base offset per line. Missing or
/// unreadable: none (then recovery cuts a gapped segment at its first gap).
pub(super) fn read_gapped_segments(storage: &dyn Storage, dir: &Path) -> io::Result<BTreeSet<i64>> {
    let Some(bytes) = read_whole(storage, &dir.join(GAPS_FILE))? else {
        return Ok(BTreeSet::new());
    };
    let parsed = std::str::from_utf8(&bytes).ok().and_then(|text| {
        let mut lines = text.lines();
        if lines.next()? != GAPS_HEADER {
            return None;
        }
        lines
            .map(|l| l.trim().parse::<i64>().ok())
            .collect::<Option<BTreeSet<i64>>>()
    });
    if parsed.is_none() {
        tracing::warn!(dir = %dir.display(), "unreadable {GAPS_FILE}; ignoring it");
    }
    Ok(parsed.unwrap_or_default())
}

/// What validating a follower payload learned.
struct FollowerPayload {
    /// Bytes of whole batches (a trailing partial batch is left out).
    len: usize,
    batches: usize,
    records: i64,
    first_base: i64,
    /// Last offset of the first batch.
    first_last: i64,
    last_offset: i64,
    max_timestamp: i64,
    /// Some batch starts past the previous batch's last offset + 1.
    inner_gap: bool,
    /// (partition leader epoch, base offset) wherever the epoch changes, in order.
    epochs: Vec<(i32, i64)>,
}

/// Check the batches of a leader's payload; `None` if it is empty.
fn scan_follower_payload(records: &[u8]) -> Result<Option<FollowerPayload>, LogError> {
    let mut out: Option<FollowerPayload> = None;
    let mut len = 0;
    for item in BatchIter::new(records) {
        let (h, bytes) = match item {
            Ok(batch) => batch,
            // A fetch response may end inside a batch: Kafka trims it.
            Err(BatchError::Truncated) if len > 0 => break,
            Err(e) => return Err(batch_error(e)),
        };
        if !verify_crc(bytes) {
            return Err(batch_error(BatchError::CorruptCrc));
        }
        if i64::from(h.records_count) > i64::from(h.last_offset_delta) + 1 {
            return Err(LogError::InvalidRecord(format!(
                "{} records in a batch of {} offsets",
                h.records_count,
                i64::from(h.last_offset_delta) + 1
            )));
        }
        match &mut out {
            None => {
                out = Some(FollowerPayload {
                    len: 0,
                    batches: 0,
                    records: 0,
                    first_base: h.base_offset,
                    first_last: h.last_offset(),
                    last_offset: h.base_offset - 1,
                    max_timestamp: -1,
                    inner_gap: false,
                    epochs: Vec::new(),
                })
            }
            Some(p) if h.base_offset <= p.last_offset => {
                return Err(LogError::UnexpectedOffset {
                    expected: p.last_offset + 1,
                    got: h.base_offset,
                })
            }
            Some(_) => {}
        }
        let Some(p) = out.as_mut() else {
            unreachable!("set above")
        };
        p.inner_gap |= p.batches > 0 && h.base_offset > p.last_offset + 1;
        if p.epochs
            .last()
            .is_none_or(|&(e, _)| e != h.partition_leader_epoch)
        {
            p.epochs.push((h.partition_leader_epoch, h.base_offset));
        }
        p.batches += 1;
        p.records += i64::from(h.records_count);
        p.last_offset = h.last_offset();
        p.max_timestamp = p.max_timestamp.max(h.max_timestamp);
        len += bytes.len();
        p.len = len;
    }
    Ok(out)
}

impl PartitionLog {
    /// Append a leader's batches as they are (Kafka's `appendAsFollower`; see the module
    /// notes). The first batch must start at or after the log end offset
    /// ([`LogError::UnexpectedOffset`] otherwise) — except that an empty log (log end =
    /// log start offset) whose log start offset falls inside the first batch starts over at
    /// that batch's base offset, keeping its log start offset (a follower fetching from a
    /// leader whose log start offset is not batch aligned). An empty payload appends
    /// nothing. Returns the offsets, record count and max timestamp appended
    /// (`log_append_time` is -1: the batches carry the leader's times).
    pub fn append_as_follower(
        &mut self,
        records: &[u8],
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.check_online()?;
        let Some(p) = scan_follower_payload(records)? else {
            return Ok(AppendInfo {
                base_offset: self.log_end_offset,
                last_offset: self.log_end_offset - 1,
                log_append_time: -1,
                log_start_offset: self.log_start_offset,
                records: 0,
                max_timestamp: -1,
                duplicate: false,
            });
        };
        let records = &records[..p.len];
        if records.len() as u64 > u64::from(u32::MAX) {
            return Err(LogError::MessageTooLarge {
                size: records.len(),
                max: u32::MAX,
            });
        }
        if p.last_offset - p.first_base > i64::from(i32::MAX) {
            return Err(LogError::InvalidRecord(
                "payload spans too many offsets for one segment".into(),
            ));
        }
        if p.first_base < self.log_end_offset {
            let empty = self.log_end_offset == self.log_start_offset;
            if p.first_base < 0 || !(empty && p.first_last >= self.log_end_offset) {
                return Err(LogError::UnexpectedOffset {
                    expected: self.log_end_offset,
                    got: p.first_base,
                });
            }
            tracing::info!(dir = %self.dir.display(), base = p.first_base,
                log_start_offset = self.log_start_offset,
                "log start offset inside the leader's first batch: starting the log there");
            self.start_over_at(p.first_base, self.log_start_offset)?;
        }
        self.place_follower_payload(&p, now_ms)?;
        for &(epoch, base) in &p.epochs {
            self.leader_epochs
                .assign_replicated(epoch, base.max(self.log_start_offset));
        }
        self.persist_leader_epochs()?;
        self.write_to_active(records, p.last_offset + 1, now_ms)?;
        self.replay_follower_payload(records)?;
        self.flush_if_due()?;
        Ok(AppendInfo {
            base_offset: p.first_base,
            last_offset: p.last_offset,
            log_append_time: -1,
            log_start_offset: self.log_start_offset,
            records: p.records,
            max_timestamp: p.max_timestamp,
            duplicate: false,
        })
    }

    /// Make the active segment the place for a follower payload: roll at its first offset
    /// when due (or re-create an empty active segment there, rather than leave a gap at its
    /// start), and list the segment in `segments-with-gaps` if offsets will skip in it.
    fn place_follower_payload(&mut self, p: &FollowerPayload, now_ms: i64) -> Result<(), LogError> {
        let active = self.active();
        if active.is_empty() && p.first_base > active.base_offset {
            self.recreate_empty_active_at(p.first_base, now_ms)?;
        } else if self.needs_roll(p.len as u64, p.batches, p.last_offset, now_ms) {
            self.roll_at(p.first_base, now_ms)?;
        }
        let active = self.active();
        let gap = p.inner_gap || p.first_base > active.next_offset;
        let base = active.base_offset;
        if gap && !self.gapped.contains(&base) {
            self.gapped.insert(base);
            self.persist_gapped()?;
        }
        Ok(())
    }

    /// Replace the empty active segment by one at `base` (past the log end offset).
    fn recreate_empty_active_at(&mut self, base: i64, now_ms: i64) -> Result<(), LogError> {
        let old = self.active().base_offset;
        self.active().retire();
        let storage = Arc::clone(&self.storage);
        let created = Segment::create(storage.as_ref(), &self.dir, base, now_ms).and_then(|seg| {
            remove_segment_files(storage.as_ref(), &self.dir, old)?;
            storage.sync_dir(&self.dir)?;
            Ok(seg)
        });
        match created {
            Ok(seg) => {
                self.segments.remove(&old);
                self.segments.insert(base, seg);
                if self.flushed_offset == self.log_end_offset {
                    // Nothing lies between: the new end is as durable as the old one.
                    self.flushed_offset = base;
                }
                self.log_end_offset = base;
                // Recovery starts the log at its first segment at the earliest.
                let first = self.segments.keys().next().copied().unwrap_or(base);
                if first > self.log_start_offset {
                    self.log_start_offset = first;
                    self.leader_epochs_follow_log_start()?;
                }
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Apply the batches just written to the active segment to the producer state.
    fn replay_follower_payload(&mut self, records: &[u8]) -> Result<(), LogError> {
        let storage = Arc::clone(&self.storage);
        let Some(mut seg) = self.segments.last_entry() else {
            unreachable!("a partition log always has an active segment")
        };
        let mut result = Ok(());
        for (h, bytes) in BatchIter::new(records).map_while(Result::ok) {
            result = replay_batch(
                storage.as_ref(),
                &mut self.producers,
                seg.get_mut(),
                &h,
                Some(bytes),
            );
            if result.is_err() {
                break;
            }
        }
        result.map_err(|e| self.fail(e))
    }

    /// Write `segments-with-gaps` (removed when no segment has gaps).
    fn persist_gapped(&mut self) -> Result<(), LogError> {
        let written = if self.gapped.is_empty() {
            match self.storage.remove_file(&self.dir.join(GAPS_FILE)) {
                Ok(()) => self.storage.sync_dir(&self.dir),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            let mut text = format!("{GAPS_HEADER}\n");
            for base in &self.gapped {
                text.push_str(&format!("{base}\n"));
            }
            write_atomic(self.storage.as_ref(), &self.dir, GAPS_FILE, text.as_bytes())
        };
        written.map_err(|e| self.fail(e))
    }

    /// Forget gapped segments no longer in the log.
    fn prune_gapped(&mut self) -> Result<(), LogError> {
        let before = self.gapped.len();
        let segments = &self.segments;
        self.gapped.retain(|b| segments.contains_key(b));
        if self.gapped.len() == before {
            return Ok(());
        }
        self.persist_gapped()
    }

    /// Remove every batch holding an offset at or above `offset` (Kafka's `truncateTo`; see
    /// the module notes for the order of the steps). A batch containing `offset` goes whole:
    /// the new log end offset is its base offset. At or past the log end offset nothing is
    /// removed, but a leader-epoch entry starting at the log end (a leadership that appended
    /// nothing) is dropped, as Kafka does. At or below the log start offset (or when nothing
    /// at or above the log start offset would remain) the log starts over empty at the log
    /// start offset ([`PartitionLog::truncate_fully_and_start_at`]).
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        self.check_online()?;
        if offset < 0 {
            return Err(self.out_of_range(offset));
        }
        if offset >= self.log_end_offset {
            self.leader_epochs.truncate_from_end(self.log_end_offset);
            return self.persist_leader_epochs();
        }
        let start = self.log_start_offset;
        if offset <= start {
            return self.truncate_fully_and_start_at(start);
        }
        let interval = self.config.index_interval_bytes;
        let Some((base, seg_end, cut)) =
            self.segments
                .range(..=offset)
                .next_back()
                .map(|(&base, seg)| {
                    let cut = match seg.locate(offset) {
                        Ok(Some((pos, _))) => seg.plan_cut(pos, interval).map(Some),
                        Ok(None) => Ok(None),
                        Err(e) => Err(e),
                    };
                    (base, seg.next_offset, cut)
                })
        else {
            return self.truncate_fully_and_start_at(start);
        };
        let cut = match cut {
            Ok(cut) => cut,
            Err(e) => return Err(self.fail(e)),
        };
        let new_end = cut.as_ref().map_or(seg_end, |c| c.next_offset);
        if new_end <= start {
            return self.truncate_fully_and_start_at(start);
        }
        tracing::info!(dir = %self.dir.display(), offset, new_end,
            old_end = self.log_end_offset, "truncating the log");
        self.generation.bump();
        if let Err(e) = self.truncate_cleaner_checkpoint(new_end) {
            return Err(self.fail(e));
        }
        self.delete_segments_after(base)?;
        if let Some(cut) = cut {
            let seg = self.active_mut();
            let old_size = seg.size;
            if let Err(e) = seg.apply_cut(cut) {
                return Err(self.fail(e));
            }
            let new_size = self.active().size;
            self.size_bytes -= old_size - new_size;
        }
        self.log_end_offset = new_end;
        self.after_truncation()?;
        let snapshots: Vec<i64> = self.snapshots.iter().copied().collect();
        let rebuilt = self.rebuild_producer_state(snapshots);
        self.offline_on_error(rebuilt)?;
        self.prune_gapped()
    }

    /// Delete every segment after the one at `base`, newest first, each removal made
    /// durable before the next.
    fn delete_segments_after(&mut self, base: i64) -> Result<(), LogError> {
        let later: Vec<i64> = self.segments.range(base + 1..).map(|(b, _)| *b).collect();
        for b in later.into_iter().rev() {
            if let Some(seg) = self.segments.get(&b) {
                seg.retire();
            }
            let removed = remove_segment_files(self.storage.as_ref(), &self.dir, b)
                .and_then(|()| self.storage.sync_dir(&self.dir));
            if let Err(e) = removed {
                return Err(self.fail(e));
            }
            if let Some(seg) = self.segments.remove(&b) {
                self.size_bytes -= seg.size;
            }
        }
        Ok(())
    }

    /// Bring the flushed offset, the leader-epoch cache and the high watermark down to a
    /// truncated log end offset.
    fn after_truncation(&mut self) -> Result<(), LogError> {
        let end = self.log_end_offset;
        self.flushed_offset = self.flushed_offset.min(end);
        if self.flushed_offset >= end {
            self.oldest_unflushed_ms = None;
        }
        self.leader_epochs.truncate_from_end(end);
        self.persist_leader_epochs()?;
        self.clamp_high_watermark()
    }

    /// Delete the whole log and start it empty at `offset`, which becomes the log start
    /// offset (persisted): Kafka's `truncateFullyAndStartAt`, for a follower whose fetch
    /// offset fell below its leader's log start offset. Producer state, transaction
    /// indexes, snapshots, the leader-epoch cache and the cleaner checkpoint are cleared.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        self.check_online()?;
        if offset < 0 {
            return Err(self.out_of_range(offset));
        }
        self.start_over_at(offset, offset)
    }

    /// Start an empty log at `base` with log start offset `log_start` (`>= base`).
    fn start_over_at(&mut self, base: i64, log_start: i64) -> Result<(), LogError> {
        tracing::info!(dir = %self.dir.display(), base, log_start,
            old_end = self.log_end_offset, "starting the log over");
        self.generation.bump();
        for seg in self.segments.values() {
            seg.retire();
        }
        let storage = Arc::clone(&self.storage);
        let dir = self.dir.clone();
        let files = || -> io::Result<Segment> {
            for &o in self.snapshots.iter() {
                snapshot::remove(storage.as_ref(), &dir, o)?;
            }
            storage.sync_dir(&dir)?;
            for &b in self.segments.keys().rev() {
                remove_segment_files(storage.as_ref(), &dir, b)?;
                storage.sync_dir(&dir)?;
            }
            let seg = Segment::create(storage.as_ref(), &dir, base, 0)?;
            storage.sync_dir(&dir)?;
            Ok(seg)
        };
        let seg = match files() {
            Ok(seg) => seg,
            Err(e) => return Err(self.fail(e)),
        };
        self.segments = BTreeMap::from([(base, seg)]);
        self.snapshots.clear();
        self.producers = Default::default();
        self.log_end_offset = base;
        self.size_bytes = 0;
        let persisted = self
            .persist_log_start_offset(log_start)
            .and_then(|()| self.remove_cleaner_checkpoint());
        if let Err(e) = persisted {
            return Err(self.fail(e));
        }
        self.log_start_offset = log_start;
        self.gapped.clear();
        self.persist_gapped()?;
        self.leader_epochs.clear();
        self.flushed_offset = base;
        self.after_truncation()
    }

    fn out_of_range(&self, offset: i64) -> LogError {
        LogError::OffsetOutOfRange {
            offset,
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
        }
    }

    /// An error of a multi-step change leaves the log half changed: take it offline.
    fn offline_on_error<T>(&mut self, result: Result<T, LogError>) -> Result<T, LogError> {
        if result.is_err() {
            self.offline = true;
        }
        result
    }
}
