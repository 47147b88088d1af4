//! Log compaction (Kafka's log cleaner) for partitions whose `cleanup.policy` includes
//! `compact`: keep only the latest record per key.
//!
//! # What is cleaned
//!
//! The *cleanable* part of a log is the longest prefix of non-active segments that lie
//! entirely below the last stable offset (no open transaction's data is touched) and, with
//! `min.compaction.lag.ms`, whose newest record is at least that old. Within it, segments at
//! or after the checkpoint's `dirty_offset` are *dirty* (never cleaned). A partition is due
//! when `dirty bytes / cleanable bytes >= min.cleanable.dirty.ratio`, when the first dirty
//! segment got its first record more than `max.compaction.lag.ms` ago, or when a cleaned
//! segment holds tombstones or markers whose `delete.retention.ms` has passed.
//!
//! # How (Kafka's semantics, segment by segment)
//!
//! 1. Build the key → latest offset map over the dirty segments (data records only; records
//!    of aborted transactions are ignored; they are found through the `.txnindex` entries).
//! 2. Walk every cleanable segment, oldest first. A record is dropped when a later offset of
//!    its key is in the map, when it belongs to an aborted transaction, or when it is a
//!    tombstone (null value) in a segment first cleaned `delete.retention.ms` ago or more.
//!    Keyless records (a topic switched from delete to compact) are kept. A transaction
//!    marker is dropped only once its segment is past `delete.retention.ms` and no record of
//!    its transaction survived. A batch losing some records is rebuilt from the survivors'
//!    bytes (`records.rs`): base offset, last offset delta, producer id/epoch/base sequence,
//!    attributes and timestamps are kept, so offsets are preserved (with gaps) and the
//!    producer state stays valid. A batch losing all records is dropped, except the last
//!    batch of each producer in the segment, kept empty (as Kafka does) so a replay of the
//!    log still knows the producer's last sequence.
//! 3. A segment that changed is written to `<base>.log.cleaned` and fsynced; its indexes are
//!    computed while writing. The swap (under the partition lock): rename to
//!    `<base>.log.swap`, fsync the directory, delete the old `.index`/`.timeindex`, rename
//!    over `<base>.log`, fsync the directory, write the new index files. Recovery deletes
//!    leftover `.cleaned` files and completes a leftover `.swap` (`recovery.rs`), so a crash
//!    at any point leaves either the old or the new segment, both valid. Segments are never
//!    merged, so each keeps its base offset, its `.txnindex` and the producer snapshots stay
//!    untouched.
//! 4. The checkpoint file `cleaner-offset-checkpoint` records the new dirty offset and, per
//!    cleaned segment, when it was first cleaned (the tombstone clock) and whether it still
//!    holds tombstones or markers. It is also written before the swaps (old dirty offset,
//!    new segment list): recovery accepts offset gaps only in listed segments.
//!
//! ```text
//! skua cleaner checkpoint v1
//! <dirty_offset>
//! <segment base> <first cleaned ms> <0|1 tombstones or markers left>   (one line each)
//! ```
//!
//! The active segment is never touched; the log start offset, log end offset and high
//! watermark never change. A read of a removed offset finds the next batch after it.
//!
//! # Concurrency
//!
//! [`PartitionLog::plan_cleaning`] runs under the partition lock and only snapshots file
//! handles and sizes; [`CleanPlan::execute`] reads and writes without the lock (non-active
//! segments never change, and a retained handle of a segment deleted meanwhile stays
//! readable); [`PartitionLog::finish_cleaning`] swaps under the lock, skipping any segment
//! that retention removed in between, and discarding the whole pass if the log was truncated
//! since it was planned (`replica.rs`: truncation may change non-active segments; it also
//! lowers the checkpoint's dirty offset to the new log end offset, as Kafka's
//! `maybeTruncateCheckpoint`, and `truncate_fully_and_start_at` removes the checkpoint). The key map holds every distinct key of the dirty
//! part in memory (Kafka bounds it with `log.cleaner.dedupe.buffer.size`; skua does not yet).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::index::SegmentIndex;
use super::partition::PartitionLog;
use super::plan::Generation;
use super::records::{self, RecordView};
use super::segment::{
    file_name, BatchReader, Scan, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX,
    VERIFY_CHUNK,
};
use super::storage::{read_whole, write_atomic, OpenMode, Storage, StorageFile};
use super::LogError;
use crate::protocol::batch::BatchHeader;

pub(super) const CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
pub(super) const CLEANED_SUFFIX: &str = ".cleaned";
pub(super) const SWAP_SUFFIX: &str = ".swap";
const CHECKPOINT_HEADER: &str = "skua cleaner checkpoint v1";
/// Bytes buffered before each write of a cleaned segment.
const WRITE_CHUNK: usize = 1 << 20;

/// One cleaned segment's entry in the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CleanedAt {
    /// When the segment was first cleaned: tombstones go `delete.retention.ms` after.
    pub at_ms: i64,
    /// It still holds tombstones or transaction markers.
    pub pending_deletes: bool,
}

/// The cleaner's per-partition progress (`cleaner-offset-checkpoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Checkpoint {
    /// Segments at or after this offset were never cleaned.
    pub dirty_offset: i64,
    pub segments: BTreeMap<i64, CleanedAt>,
}

impl Checkpoint {
    fn encode(&self) -> String {
        let mut out = format!("{CHECKPOINT_HEADER}\n{}\n", self.dirty_offset);
        for (base, c) in &self.segments {
            out.push_str(&format!(
                "{base} {} {}\n",
                c.at_ms,
                u8::from(c.pending_deletes)
            ));
        }
        out
    }

    fn parse(text: &str) -> Option<Checkpoint> {
        let mut lines = text.lines();
        if lines.next()? != CHECKPOINT_HEADER {
            return None;
        }
        let dirty_offset = lines.next()?.trim().parse().ok()?;
        let mut segments = BTreeMap::new();
        for line in lines {
            let mut f = line.split(' ');
            let base = f.next()?.parse().ok()?;
            let at_ms = f.next()?.parse().ok()?;
            let pending_deletes = f.next()? == "1";
            segments.insert(
                base,
                CleanedAt {
                    at_ms,
                    pending_deletes,
                },
            );
        }
        Some(Checkpoint {
            dirty_offset,
            segments,
        })
    }

    /// The checkpoint of `dir`; a missing or unreadable one means nothing was cleaned.
    pub(super) fn read(storage: &dyn Storage, dir: &Path) -> io::Result<Checkpoint> {
        let bytes = read_whole(storage, &dir.join(CHECKPOINT_FILE))?;
        Ok(bytes
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| Checkpoint::parse(&t))
            .unwrap_or_default())
    }
}

/// What one cleaning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Segments in the cleanable part.
    pub segments_cleaned: usize,
    /// Segments that changed and were swapped in.
    pub segments_rewritten: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_removed: u64,
    /// Distinct keys in the dirty part.
    pub keys: usize,
}

#[derive(Debug)]
struct Source {
    base: i64,
    log: Arc<dyn StorageFile>,
    size: u64,
    /// From the checkpoint: `None` for a dirty segment.
    cleaned: Option<CleanedAt>,
    dirty: bool,
}

/// A cleaning pass planned under the partition lock; [`CleanPlan::execute`] it without.
#[derive(Debug)]
pub struct CleanPlan {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    now_ms: i64,
    delete_retention_ms: i64,
    interval: u32,
    sources: Vec<Source>,
    /// Base offset of the first segment after the cleanable part.
    dirty_end: i64,
    /// Aborted transactions by producer id: (first offset, marker offset).
    aborted: HashMap<i64, Vec<(i64, i64)>>,
    /// The checkpoint when the pass was planned.
    prior: Checkpoint,
    /// The log's truncation generation when the pass was planned.
    generation: Generation,
}

/// A cleaned segment waiting to be swapped in.
#[derive(Debug)]
struct Rewritten {
    base: i64,
    old_size: u64,
    new_size: u64,
    next_offset: i64,
    index: SegmentIndex,
}

/// The output of [`CleanPlan::execute`], for [`PartitionLog::finish_cleaning`].
#[derive(Debug)]
pub struct CleanResult {
    rewritten: Vec<Rewritten>,
    prior: Checkpoint,
    checkpoint: Checkpoint,
    pub stats: CleanStats,
    generation: Generation,
}

impl PartitionLog {
    /// Decide whether the partition is due for cleaning and plan it. Cheap (reads only the
    /// checkpoint file); call under the partition lock.
    pub fn plan_cleaning(&self, now_ms: i64) -> Result<Option<CleanPlan>, LogError> {
        self.check_online()?;
        let c = &self.config;
        if !c.cleanup_policy.compact {
            return Ok(None);
        }
        let lso = self.last_stable_offset();
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let mut cleanable: Vec<(&Segment, i64)> = Vec::new();
        for (i, seg) in self.segments.values().enumerate() {
            let Some(&next_base) = bases.get(i + 1) else {
                break; // the active segment
            };
            let young = c.min_compaction_lag_ms > 0
                && seg.index.max_timestamp >= 0
                && now_ms.saturating_sub(seg.index.max_timestamp) < c.min_compaction_lag_ms;
            if next_base > lso || young {
                break;
            }
            cleanable.push((seg, next_base));
        }
        let Some(&(_, dirty_end)) = cleanable.last() else {
            return Ok(None);
        };
        let checkpoint = Checkpoint::read(self.storage.as_ref(), &self.dir)?;
        let mut sources = Vec::with_capacity(cleanable.len());
        let (mut dirty_bytes, mut total_bytes) = (0u64, 0u64);
        let mut lag_due = false;
        let mut tombstones_due = false;
        for &(seg, next_base) in &cleanable {
            let dirty = next_base > checkpoint.dirty_offset;
            let cleaned = if dirty {
                None
            } else {
                checkpoint.segments.get(&seg.base_offset).copied()
            };
            total_bytes += seg.size;
            if dirty {
                if dirty_bytes == 0 {
                    lag_due = now_ms.saturating_sub(seg.rolling_base_ms) >= c.max_compaction_lag_ms;
                }
                dirty_bytes += seg.size;
            }
            tombstones_due |= cleaned.is_some_and(|x| {
                x.pending_deletes && now_ms >= x.at_ms.saturating_add(c.delete_retention_ms)
            });
            sources.push(Source {
                base: seg.base_offset,
                log: Arc::clone(&seg.log),
                size: seg.size,
                cleaned,
                dirty,
            });
        }
        let ratio = if total_bytes == 0 {
            0.0
        } else {
            dirty_bytes as f64 / total_bytes as f64
        };
        let ratio_due = dirty_bytes > 0 && ratio >= c.min_cleanable_dirty_ratio;
        if !(ratio_due || (dirty_bytes > 0 && lag_due) || tombstones_due) {
            return Ok(None);
        }
        let mut aborted: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for seg in self.segments.values() {
            for t in seg.txn.entries() {
                aborted
                    .entry(t.producer_id)
                    .or_default()
                    .push((t.first_offset, t.last_offset));
            }
        }
        Ok(Some(CleanPlan {
            dir: self.dir.clone(),
            storage: Arc::clone(&self.storage),
            now_ms,
            delete_retention_ms: c.delete_retention_ms,
            interval: c.index_interval_bytes,
            sources,
            dirty_end,
            aborted,
            prior: checkpoint,
            generation: self.generation.now(),
        }))
    }

    /// Swap the segments a pass cleaned into the log and record the checkpoint. Call under
    /// the partition lock; a few renames and fsyncs per rewritten segment.
    pub fn finish_cleaning(&mut self, result: CleanResult) -> Result<CleanStats, LogError> {
        self.check_online()?;
        if !result.generation.is_current() {
            // Truncated meanwhile: the segments read may have changed; try again later.
            for rw in &result.rewritten {
                let _ = self
                    .storage
                    .remove_file(&self.dir.join(cleaned_name(rw.base)));
            }
            return Ok(CleanStats {
                segments_rewritten: 0,
                ..result.stats
            });
        }
        let active_base = self.active().base_offset;
        let mut stats = result.stats;
        if !result.rewritten.is_empty() {
            self.write_pre_swap_checkpoint(&result)?;
        }
        for rw in result.rewritten {
            let current = self
                .segments
                .get(&rw.base)
                .filter(|s| s.base_offset != active_base && s.size == rw.old_size);
            if current.is_none() {
                // Retention deleted it meanwhile: forget the cleaned copy.
                let cleaned = self.dir.join(cleaned_name(rw.base));
                let _ = self.storage.remove_file(&cleaned);
                stats.segments_rewritten -= 1;
                continue;
            }
            if let Err(e) = self.swap_segment(rw) {
                return Err(self.fail(e));
            }
        }
        let mut checkpoint = result.checkpoint;
        checkpoint
            .segments
            .retain(|base, _| self.segments.contains_key(base));
        write_atomic(
            self.storage.as_ref(),
            &self.dir,
            CHECKPOINT_FILE,
            checkpoint.encode().as_bytes(),
        )?;
        Ok(stats)
    }

    /// Before any swap, list the segments about to get offset gaps, so recovery accepts
    /// them (the dirty offset only moves once they are all in).
    pub(super) fn write_pre_swap_checkpoint(&self, result: &CleanResult) -> io::Result<()> {
        let mut pre = result.prior.clone();
        for (&base, c) in &result.checkpoint.segments {
            pre.segments.entry(base).or_insert(*c);
        }
        write_atomic(
            self.storage.as_ref(),
            &self.dir,
            CHECKPOINT_FILE,
            pre.encode().as_bytes(),
        )
    }

    /// Plan, execute and finish one pass while holding `&mut self` (tests, tools).
    pub fn clean(&mut self, now_ms: i64) -> Result<Option<CleanStats>, LogError> {
        match self.plan_cleaning(now_ms)? {
            None => Ok(None),
            Some(plan) => {
                let result = plan.execute()?;
                self.finish_cleaning(result).map(Some)
            }
        }
    }

    fn swap_segment(&mut self, rw: Rewritten) -> io::Result<()> {
        let storage = Arc::clone(&self.storage);
        let dir = self.dir.clone();
        let log_path = dir.join(file_name(rw.base, LOG_SUFFIX));
        let swap = dir.join(swap_name(rw.base));
        if let Some(old) = self.segments.get(&rw.base) {
            old.retire();
        }
        storage.rename(&dir.join(cleaned_name(rw.base)), &swap)?;
        storage.sync_dir(&dir)?;
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            match storage.remove_file(&dir.join(file_name(rw.base, suffix))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        storage.rename(&swap, &log_path)?;
        storage.sync_dir(&dir)?;
        let open = |suffix| storage.open(&dir.join(file_name(rw.base, suffix)), OpenMode::Create);
        let (log, offset_file, time_file) = (
            storage.open(&log_path, OpenMode::Existing)?,
            open(INDEX_SUFFIX)?,
            open(TIME_INDEX_SUFFIX)?,
        );
        let Some(old) = self.segments.remove(&rw.base) else {
            return Ok(());
        };
        let mut seg = Segment {
            base_offset: rw.base,
            dir,
            log,
            offset_file,
            time_file,
            size: rw.new_size,
            next_offset: rw.next_offset,
            flushed_offset: rw.next_offset,
            index: rw.index,
            rolling_base_ms: old.rolling_base_ms,
            index_dirty: false,
            txn: old.txn,
        };
        self.size_bytes = self.size_bytes - old.size + seg.size;
        let written = seg.rewrite_index_files();
        self.segments.insert(rw.base, seg);
        written
    }
}

impl PartitionLog {
    /// The log was truncated to `end_offset`: segments at or after it are dirty again, and
    /// segments no longer in the log leave the checkpoint (Kafka's `maybeTruncateCheckpoint`).
    /// Rewritten only if that changes it; lowering the dirty offset is safe at any time.
    pub(super) fn truncate_cleaner_checkpoint(&self, end_offset: i64) -> io::Result<()> {
        let Some(bytes) = read_whole(self.storage.as_ref(), &self.dir.join(CHECKPOINT_FILE))?
        else {
            return Ok(());
        };
        let old = String::from_utf8(bytes)
            .ok()
            .and_then(|t| Checkpoint::parse(&t))
            .unwrap_or_default();
        let mut new = old.clone();
        new.dirty_offset = new.dirty_offset.min(end_offset);
        new.segments
            .retain(|base, _| *base < end_offset && self.segments.contains_key(base));
        if new == old {
            return Ok(());
        }
        write_atomic(
            self.storage.as_ref(),
            &self.dir,
            CHECKPOINT_FILE,
            new.encode().as_bytes(),
        )
    }

    /// The log starts over: nothing was cleaned.
    pub(super) fn remove_cleaner_checkpoint(&self) -> io::Result<()> {
        match self.storage.remove_file(&self.dir.join(CHECKPOINT_FILE)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// `<base>.log.cleaned`: a cleaned segment being written.
pub(super) fn cleaned_name(base: i64) -> String {
    format!("{}{CLEANED_SUFFIX}", file_name(base, LOG_SUFFIX))
}

/// `<base>.log.swap`: a complete cleaned segment about to replace `<base>.log`.
pub(super) fn swap_name(base: i64) -> String {
    format!("{}{SWAP_SUFFIX}", file_name(base, LOG_SUFFIX))
}

fn invalid_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Walk every CRC-checked batch of a segment: `f(position, header, bytes)`.
fn for_each_batch(
    src: &Source,
    mut f: impl FnMut(u64, &BatchHeader, &[u8]) -> Result<(), LogError>,
) -> Result<(), LogError> {
    let mut reader = BatchReader::new(Arc::clone(&src.log), 0, src.size, VERIFY_CHUNK);
    loop {
        match reader.next_verified()? {
            Scan::Batch(pos, h) => {
                let bytes = reader.fill(pos, h.total_size())?.to_vec();
                f(pos, &h, &bytes)?;
            }
            Scan::End => return Ok(()),
            Scan::Invalid(pos, why) => {
                return Err(LogError::Io(invalid_data(format!(
                    "cannot clean segment {} past position {pos}: {why}",
                    src.base
                ))))
            }
        }
    }
}

/// Decompressed records of a data batch, with their views.
fn decode(bytes: &[u8], h: &BatchHeader) -> Result<(Vec<u8>, Vec<RecordView>), LogError> {
    let bad = |why: String| {
        LogError::Io(invalid_data(format!(
            "batch at offset {}: {why}",
            h.base_offset
        )))
    };
    let data = records::records_section(bytes, h).map_err(bad)?;
    let views = records::parse_records(&data, h.records_count).map_err(bad)?;
    Ok((data, views))
}

/// Where a segment being cleaned goes: nothing until its first change, then a
/// `.cleaned` file holding the unchanged prefix and everything after.
struct Output<'a> {
    plan: &'a CleanPlan,
    src: &'a Source,
    file: Option<Arc<dyn StorageFile>>,
    buf: Vec<u8>,
    /// Bytes written to the file so far.
    written: u64,
    /// Size of the output (file + buffer), and of the input prefix copied unchanged.
    size: u64,
    index: SegmentIndex,
    next_offset: i64,
}

impl Output<'_> {
    fn push(&mut self, h: &BatchHeader, bytes: &[u8]) -> io::Result<()> {
        let (mut so, mut st) = (Vec::new(), Vec::new());
        self.index
            .observe(self.size, h, self.plan.interval, &mut so, &mut st);
        self.next_offset = h.last_offset() + 1;
        self.size += bytes.len() as u64;
        if self.file.is_some() {
            self.buf.extend_from_slice(bytes);
            if self.buf.len() >= WRITE_CHUNK {
                self.drain()?;
            }
        }
        Ok(())
    }

    /// The output diverges from the input here: create the file and copy the prefix.
    fn diverge(&mut self) -> io::Result<()> {
        if self.file.is_some() {
            return Ok(());
        }
        let path = self.plan.dir.join(cleaned_name(self.src.base));
        let file = self.plan.storage.open(&path, OpenMode::CreateTruncate)?;
        let mut pos = 0u64;
        let mut chunk = vec![0u8; WRITE_CHUNK];
        while pos < self.size {
            let n = (self.size - pos).min(WRITE_CHUNK as u64) as usize;
            self.src.log.read_exact_at(&mut chunk[..n], pos)?;
            file.write_all_at(&chunk[..n], pos)?;
            pos += n as u64;
        }
        self.written = self.size;
        self.file = Some(file);
        Ok(())
    }

    fn drain(&mut self) -> io::Result<()> {
        if let Some(file) = &self.file {
            file.write_all_at(&self.buf, self.written)?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

impl CleanPlan {
    /// Build the key map, write the cleaned segments. No lock needed; no effect on the log
    /// until [`PartitionLog::finish_cleaning`].
    pub fn execute(self) -> Result<CleanResult, LogError> {
        let result = self.run();
        if result.is_err() {
            for src in &self.sources {
                let _ = self
                    .storage
                    .remove_file(&self.dir.join(cleaned_name(src.base)));
            }
        }
        result
    }

    fn is_aborted(&self, h: &BatchHeader) -> bool {
        h.is_transactional()
            && self.aborted.get(&h.producer_id).is_some_and(|txns| {
                txns.iter()
                    .any(|&(first, last)| first <= h.base_offset && h.base_offset <= last)
            })
    }

    fn key_map(&self) -> Result<HashMap<Vec<u8>, i64>, LogError> {
        let mut map = HashMap::new();
        for src in self.sources.iter().filter(|s| s.dirty) {
            for_each_batch(src, |_, h, bytes| {
                if h.is_control() || self.is_aborted(h) {
                    return Ok(());
                }
                let (data, views) = decode(bytes, h)?;
                for r in &views {
                    if let Some((a, b)) = r.key {
                        map.insert(data[a..b].to_vec(), h.base_offset + r.offset_delta);
                    }
                }
                Ok(())
            })?;
        }
        Ok(map)
    }

    fn run(&self) -> Result<CleanResult, LogError> {
        let map = self.key_map()?;
        let mut stats = CleanStats {
            segments_cleaned: self.sources.len(),
            keys: map.len(),
            ..CleanStats::default()
        };
        let mut checkpoint = Checkpoint {
            dirty_offset: self.dirty_end,
            segments: BTreeMap::new(),
        };
        // Per producer: whether a record of its current transaction survived.
        let mut txn_data: HashMap<i64, bool> = HashMap::new();
        let mut rewritten = Vec::new();
        for src in &self.sources {
            let (out, pending) = self.clean_segment(src, &map, &mut txn_data, &mut stats)?;
            stats.bytes_before += src.size;
            stats.bytes_after += out.as_ref().map_or(src.size, |r| r.new_size);
            let at_ms = src.cleaned.map_or(self.now_ms, |c| c.at_ms);
            checkpoint.segments.insert(
                src.base,
                CleanedAt {
                    at_ms,
                    pending_deletes: pending,
                },
            );
            if let Some(r) = out {
                stats.segments_rewritten += 1;
                rewritten.push(r);
            }
        }
        Ok(CleanResult {
            rewritten,
            prior: self.prior.clone(),
            checkpoint,
            stats,
            generation: self.generation.clone(),
        })
    }

    /// Clean one segment; `None` if nothing changed. The bool: tombstones or markers remain.
    fn clean_segment(
        &self,
        src: &Source,
        map: &HashMap<Vec<u8>, i64>,
        txn_data: &mut HashMap<i64, bool>,
        stats: &mut CleanStats,
    ) -> Result<(Option<Rewritten>, bool), LogError> {
        let horizon_passed = src
            .cleaned
            .is_some_and(|c| self.now_ms >= c.at_ms.saturating_add(self.delete_retention_ms));
        // The last data batch of each producer in the segment is kept even when empty.
        let mut last_of_producer: HashMap<i64, i64> = HashMap::new();
        for_each_batch(src, |_, h, _| {
            if h.producer_id >= 0 && !h.is_control() {
                last_of_producer.insert(h.producer_id, h.base_offset);
            }
            Ok(())
        })?;
        let mut out = Output {
            plan: self,
            src,
            file: None,
            buf: Vec::new(),
            written: 0,
            size: 0,
            index: SegmentIndex::new(src.base),
            next_offset: src.base,
        };
        let mut pending = false;
        for_each_batch(src, |_, h, bytes| {
            if h.is_control() {
                let had_data = txn_data.remove(&h.producer_id).unwrap_or(false);
                if horizon_passed && !had_data {
                    stats.records_removed += h.records_count.max(0) as u64;
                    out.diverge()?;
                } else {
                    pending = true;
                    out.push(h, bytes)?;
                }
                return Ok(());
            }
            let aborted = self.is_aborted(h);
            let (data, views) = decode(bytes, h)?;
            let kept: Vec<RecordView> = views
                .iter()
                .copied()
                .filter(|r| {
                    if aborted {
                        return false;
                    }
                    let Some((a, b)) = r.key else {
                        return true;
                    };
                    let offset = h.base_offset + r.offset_delta;
                    let superseded = map.get(&data[a..b]).is_some_and(|&l| l > offset);
                    !(superseded || (r.tombstone && horizon_passed))
                })
                .collect();
            stats.records_removed += (views.len() - kept.len()) as u64;
            pending |= kept.iter().any(|r| r.tombstone);
            if h.is_transactional() && !kept.is_empty() {
                txn_data.insert(h.producer_id, true);
            }
            if kept.len() == views.len() {
                return Ok(out.push(h, bytes)?);
            }
            out.diverge()?;
            let keep_empty =
                h.producer_id >= 0 && last_of_producer.get(&h.producer_id) == Some(&h.base_offset);
            if kept.is_empty() && !keep_empty {
                return Ok(());
            }
            let rebuilt = records::rebuild_batch(bytes, h, &data, &kept)
                .map_err(|why| LogError::Io(invalid_data(why)))?;
            let nh = BatchHeader::parse(&rebuilt)
                .map_err(|e| LogError::Io(invalid_data(e.to_string())))?;
            Ok(out.push(&nh, &rebuilt)?)
        })?;
        if out.file.is_none() {
            return Ok((None, pending));
        }
        out.drain()?;
        if let Some(file) = &out.file {
            file.set_len(out.written)?;
            file.sync_data()?;
        }
        Ok((
            Some(Rewritten {
                base: src.base,
                old_size: src.size,
                new_size: out.size,
                next_offset: out.next_offset,
                index: out.index,
            }),
            pending,
        ))
    }
}
