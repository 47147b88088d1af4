//! Opening a partition log: creating it, or loading and recovering its segments.
//!
//! The `.log` files are the truth. Per segment, oldest first:
//!
//! * **Quick load** (every segment after a clean shutdown, every segment but the last after
//!   a crash): parse both index files and check their invariants; check that the last
//!   offset entry points at a batch with that base offset whose max timestamp the time index
//!   covers; then walk and CRC-check the batches from that entry to the end of the file,
//!   failing if an offset entry is missing along the way (more than `index_interval_bytes`
//!   without one). This touches about `index_interval_bytes` plus one batch, and yields the
//!   segment's end offset and max timestamp (the time index covers everything before the
//!   last offset entry). After a clean shutdown the log size and entry counts must also
//!   match what the marker recorded, which catches shortened index files exactly.
//! * **Full recovery** (the last segment after a crash, or any segment whose quick load
//!   failed): walk every batch from position 0 checking length, CRC, and that each batch
//!   starts right after the previous one (the first at the segment's base offset: skua never
//!   leaves gaps inside a segment, and the base offset is outside the CRC) — except in
//!   segments the cleaner checkpoint lists as cleaned, where batches may have been removed,
//!   and in segments `segments-with-gaps` lists (a follower copied a compacted leader's
//!   batches into them), where base offsets need only increase; truncate the file
//!   at the first bad batch; rebuild both indexes from the valid batches. A truncated segment
//!   becomes the last one: every later segment is deleted so offsets stay contiguous. (A gap
//!   *between* segments, e.g. a segment file removed by hand, is tolerated: reads skip it.)
//!
//! Before anything else, an interrupted cleaner swap is finished: leftover
//! `<base>.log.cleaned` files are deleted, a `<base>.log.swap` replaces `<base>.log`.
//!
//! Segments entirely below the persisted log start offset (retention interrupted by a crash)
//! are deleted first. After a crash the last two segments are fsynced, so what recovery
//! reports as flushed really is on disk. Each segment's `.txnindex` is loaded with it (and
//! deleted with it); producer state is rebuilt last, once the log end offset is known
//! (`transactions.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::cleaner::{Checkpoint, CLEANED_SUFFIX, SWAP_SUFFIX};
use super::index::{parse_offset_index, parse_time_index, SegmentIndex, NO_TIMESTAMP};
use super::partition::{PartitionLog, CLEAN_SHUTDOWN_FILE, LOG_START_OFFSET_FILE};
use super::producer_state::ProducerStateManager;
use super::replica::read_gapped_segments;
use super::segment::{
    file_name, parse_file_name, BatchReader, Scan, Segment, INDEX_SUFFIX, LOG_SUFFIX,
    TIME_INDEX_SUFFIX, VERIFY_CHUNK,
};
use super::storage::{read_whole, OpenMode, Storage, StorageFile};
use super::txn_index::{TxnIndex, TXN_INDEX_SUFFIX};
use super::{LogConfig, LogError};
use crate::protocol::batch::{BatchHeader, BATCH_HEADER_LEN};

impl PartitionLog {
    /// [`PartitionLog::open`] with an explicit storage (tests inject faults through it).
    pub fn open_with_storage(
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
        storage: Arc<dyn Storage>,
    ) -> Result<PartitionLog, LogError> {
        if !storage.exists(dir)? {
            storage.create_dir_all(dir)?;
            if let Some(parent) = dir.parent() {
                storage.sync_dir(parent)?;
            }
        }
        let mut names = storage.list_dir(dir)?;
        if finish_swaps(storage.as_ref(), dir, &names)? {
            names = storage.list_dir(dir)?;
        }
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let shutdown = match read_whole(storage.as_ref(), &marker)? {
            Some(bytes) => {
                // From here on the log may change: the marker must not outlive this open.
                storage.remove_file(&marker)?;
                storage.sync_dir(dir)?;
                parse_clean_shutdown(&bytes)
            }
            None => None,
        };
        let clean = shutdown.is_some();
        let mut bases: Vec<i64> = names
            .iter()
            .filter_map(|n| parse_file_name(n, LOG_SUFFIX))
            .collect();
        bases.sort_unstable();
        remove_strays(storage.as_ref(), dir, &names, &bases)?;

        let persisted_start = read_log_start_offset(storage.as_ref(), dir)?;
        // Retention persists the new start offset before deleting, so finish its job.
        if let Some(start) = persisted_start {
            while bases.len() > 1 && bases[1] <= start {
                remove_segment_files(storage.as_ref(), dir, bases[0])?;
                bases.remove(0);
            }
        }

        // Segments the cleaner rewrote, or a follower filled from a compacted leader, may
        // have offset gaps between batches.
        let cleaned = Checkpoint::read(storage.as_ref(), dir)?;
        let gapped = read_gapped_segments(storage.as_ref(), dir)?;
        let gaps_allowed: BTreeSet<i64> = cleaned
            .segments
            .keys()
            .chain(gapped.iter())
            .copied()
            .collect();
        let segments = load_segments(
            storage.as_ref(),
            dir,
            &bases,
            &gaps_allowed,
            shutdown.as_ref(),
            &config,
            now_ms,
        )?;
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            storage,
            segments,
            log_start_offset: 0,
            log_end_offset: 0,
            flushed_offset: 0,
            oldest_unflushed_ms: None,
            size_bytes: 0,
            offline: false,
            producers: ProducerStateManager::default(),
            snapshots: BTreeSet::new(),
            replayed_batches: 0,
            leader_epochs: Default::default(),
            hw: Default::default(),
            generation: Default::default(),
            gapped: BTreeSet::new(),
        };
        if log.segments.is_empty() {
            let base = persisted_start.unwrap_or(0).max(0);
            let seg = Segment::create(log.storage.as_ref(), dir, base, now_ms)?;
            log.storage.sync_dir(dir)?;
            log.segments.insert(base, seg);
        }
        log.log_end_offset = log.active().next_offset;
        log.size_bytes = log.segments.values().map(|s| s.size).sum();
        let first_base = log.segments.keys().next().copied().unwrap_or(0);
        let mut start = persisted_start.unwrap_or(first_base).max(first_base);
        if start > log.log_end_offset {
            tracing::warn!(dir = %dir.display(), start, end = log.log_end_offset,
                "log start offset beyond the recovered log end offset; clamping");
            start = log.log_end_offset;
        }
        log.log_start_offset = start;
        if !clean {
            // What the crashed process wrote may only be in the page cache.
            for seg in log.segments.values().rev().take(2) {
                seg.log.sync_data()?;
            }
            log.storage.sync_dir(dir)?;
        }
        log.flushed_offset = log.log_end_offset;
        log.gapped = gapped
            .into_iter()
            .filter(|b| log.segments.contains_key(b))
            .collect();
        log.load_producer_state(&names)?;
        log.load_leader_epochs()?;
        log.load_high_watermark()?;
        Ok(log)
    }
}

fn read_log_start_offset(storage: &dyn Storage, dir: &Path) -> Result<Option<i64>, LogError> {
    let Some(bytes) = read_whole(storage, &dir.join(LOG_START_OFFSET_FILE))? else {
        return Ok(None);
    };
    let parsed = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|&o| o >= 0);
    if parsed.is_none() {
        tracing::warn!(dir = %dir.display(), "unreadable {LOG_START_OFFSET_FILE}; ignoring it");
    }
    Ok(parsed)
}

/// Finish what the cleaner left behind (`cleaner.rs`): a `<base>.log.cleaned` was not
/// complete and is deleted; a `<base>.log.swap` was complete and fsynced, so it replaces
/// `<base>.log`, and that segment's index files are deleted to be rebuilt. Returns whether
/// anything changed.
fn finish_swaps(storage: &dyn Storage, dir: &Path, names: &[String]) -> io::Result<bool> {
    let mut changed = false;
    for name in names {
        if name.ends_with(CLEANED_SUFFIX) {
            storage.remove_file(&dir.join(name))?;
            changed = true;
        } else if let Some(log_name) = name.strip_suffix(SWAP_SUFFIX) {
            let Some(base) = parse_file_name(log_name, LOG_SUFFIX) else {
                continue;
            };
            tracing::warn!(dir = %dir.display(), base, "completing an interrupted cleaner swap");
            for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
                match storage.remove_file(&dir.join(file_name(base, suffix))) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            storage.rename(&dir.join(name), &dir.join(log_name))?;
            changed = true;
        }
    }
    if changed {
        storage.sync_dir(dir)?;
    }
    Ok(changed)
}

/// Remove leftover tmp files and index files without a `.log`.
fn remove_strays(
    storage: &dyn Storage,
    dir: &Path,
    names: &[String],
    bases: &[i64],
) -> io::Result<()> {
    let mut removed = false;
    for name in names {
        let orphan_index = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX]
            .iter()
            .filter_map(|s| parse_file_name(name, s))
            .any(|base| bases.binary_search(&base).is_err());
        if orphan_index || name.ends_with(".tmp") {
            storage.remove_file(&dir.join(name))?;
            removed = true;
        }
    }
    if removed {
        storage.sync_dir(dir)?;
    }
    Ok(())
}

pub(super) fn remove_segment_files(storage: &dyn Storage, dir: &Path, base: i64) -> io::Result<()> {
    for suffix in [
        LOG_SUFFIX,
        INDEX_SUFFIX,
        TIME_INDEX_SUFFIX,
        TXN_INDEX_SUFFIX,
    ] {
        match storage.remove_file(&dir.join(file_name(base, suffix))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn load_segments(
    storage: &dyn Storage,
    dir: &Path,
    bases: &[i64],
    gaps_allowed: &BTreeSet<i64>,
    shutdown: Option<&BTreeMap<i64, SegmentSummary>>,
    config: &LogConfig,
    now_ms: i64,
) -> Result<BTreeMap<i64, Segment>, LogError> {
    let mut segments = BTreeMap::new();
    let mut prev_end: Option<i64> = None;
    for (i, &base) in bases.iter().enumerate() {
        if prev_end.is_some_and(|end| base < end) {
            tracing::warn!(dir = %dir.display(), base, "segment overlaps the previous one");
            drop_segments(storage, dir, &bases[i..])?;
            break;
        }
        let is_last = i + 1 == bases.len();
        let check = match shutdown {
            // After a clean shutdown every segment must look exactly as it was left.
            Some(summaries) => match summaries.get(&base) {
                Some(summary) => Check::Expect(*summary),
                None => Check::Full,
            },
            None if is_last => Check::Full,
            None => Check::Quick,
        };
        let gaps = gaps_allowed.contains(&base);
        let (seg, truncate) = load_segment(storage, dir, base, (check, gaps), config, now_ms)?;
        if truncate {
            // Later segments go first: a crash in between leaves this one last, so the next
            // open fully recovers (and truncates) it again.
            drop_segments(storage, dir, &bases[i + 1..])?;
            tracing::warn!(dir = %dir.display(), base, size = seg.size,
                "truncating segment at the first invalid batch");
            seg.log.set_len(seg.size)?;
            seg.log.sync_data()?;
            segments.insert(base, seg);
            break;
        }
        prev_end = Some(seg.next_offset);
        segments.insert(base, seg);
    }
    Ok(segments)
}

/// Delete whole segments that cannot follow the recovered log.
fn drop_segments(storage: &dyn Storage, dir: &Path, bases: &[i64]) -> io::Result<()> {
    if bases.is_empty() {
        return Ok(());
    }
    for &base in bases {
        tracing::warn!(dir = %dir.display(), base, "deleting segment after a truncated one");
        remove_segment_files(storage, dir, base)?;
    }
    storage.sync_dir(dir)
}

/// Load one segment; the bool says whether the file must be truncated to `size`.
fn load_segment(
    storage: &dyn Storage,
    dir: &Path,
    base: i64,
    (check, gaps): (Check, bool),
    config: &LogConfig,
    now_ms: i64,
) -> Result<(Segment, bool), LogError> {
    let open = |suffix, mode| storage.open(&dir.join(file_name(base, suffix)), mode);
    let mut seg = Segment {
        base_offset: base,
        dir: dir.to_path_buf(),
        log: open(LOG_SUFFIX, OpenMode::Existing)?,
        offset_file: open(INDEX_SUFFIX, OpenMode::Create)?,
        time_file: open(TIME_INDEX_SUFFIX, OpenMode::Create)?,
        size: 0,
        next_offset: base,
        flushed_offset: base,
        index: SegmentIndex::new(base),
        rolling_base_ms: now_ms,
        index_dirty: false,
        txn: TxnIndex::load(storage, &dir.join(file_name(base, TXN_INDEX_SUFFIX)), base)?,
    };
    let file_len = seg.log.size()?;
    let interval = config.index_interval_bytes;
    let quick = match check {
        Check::Full => None,
        Check::Quick => quick_load(&seg, file_len, interval, gaps)?,
        Check::Expect(summary) => quick_load(&seg, file_len, interval, gaps)?.filter(|q| {
            summary
                == SegmentSummary {
                    size: file_len,
                    offset_entries: q.index.offsets.len(),
                    time_entries: q.index.times.len(),
                }
        }),
    };
    let truncated = match quick {
        Some(state) => {
            seg.index = state.index;
            seg.size = file_len;
            seg.next_offset = state.next_offset;
            false
        }
        None => full_recover(&mut seg, file_len, interval, gaps)?,
    };
    seg.flushed_offset = seg.next_offset;
    seg.rolling_base_ms = rolling_base(&seg, now_ms)?;
    Ok((seg, truncated))
}

/// `segment.ms` counts from the first batch's max timestamp (as Kafka does) when it has a
/// usable one, else from now.
fn rolling_base(seg: &Segment, now_ms: i64) -> io::Result<i64> {
    if seg.size < BATCH_HEADER_LEN as u64 {
        return Ok(now_ms);
    }
    let mut buf = [0u8; BATCH_HEADER_LEN];
    seg.log.read_exact_at(&mut buf, 0)?;
    Ok(match BatchHeader::parse(&buf) {
        Ok(h) if h.max_timestamp >= 0 => h.max_timestamp.min(now_ms),
        _ => now_ms,
    })
}

/// How much to trust a segment's files.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Verify every batch and rebuild the indexes.
    Full,
    /// Check the indexes' invariants and walk the tail.
    Quick,
    /// As `Quick`, and the sizes must match what the clean shutdown recorded.
    Expect(SegmentSummary),
}

/// What the clean-shutdown marker records per segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SegmentSummary {
    pub size: u64,
    pub offset_entries: usize,
    pub time_entries: usize,
}

const CLEAN_SHUTDOWN_HEADER: &str = "skua clean shutdown v1";

/// The clean-shutdown marker: a header line, then `base size offset_entries time_entries`
/// per segment.
pub(super) fn encode_clean_shutdown<'a>(
    segments: impl Iterator<Item = (i64, SegmentSummary)> + 'a,
) -> String {
    let mut out = format!("{CLEAN_SHUTDOWN_HEADER}\n");
    for (base, s) in segments {
        out.push_str(&format!(
            "{base} {} {} {}\n",
            s.size, s.offset_entries, s.time_entries
        ));
    }
    out
}

/// `None` if the marker is not one we wrote (then the shutdown counts as unclean).
fn parse_clean_shutdown(bytes: &[u8]) -> Option<BTreeMap<i64, SegmentSummary>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()? != CLEAN_SHUTDOWN_HEADER {
        return None;
    }
    let mut out = BTreeMap::new();
    for line in lines {
        let mut fields = line.split(' ');
        let mut next = || fields.next().and_then(|f| f.parse::<u64>().ok());
        let base = i64::try_from(next()?).ok()?;
        let summary = SegmentSummary {
            size: next()?,
            offset_entries: usize::try_from(next()?).ok()?,
            time_entries: usize::try_from(next()?).ok()?,
        };
        out.insert(base, summary);
    }
    Some(out)
}

struct Quick {
    index: SegmentIndex,
    next_offset: i64,
}

fn read_file(file: &Arc<dyn StorageFile>) -> io::Result<Vec<u8>> {
    let len = usize::try_from(file.size()?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "index too large"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, 0)?;
    Ok(buf)
}

/// Trust the index files if they are consistent with the log; `None` if not.
fn quick_load(
    seg: &Segment,
    file_len: u64,
    interval: u32,
    gaps: bool,
) -> io::Result<Option<Quick>> {
    let base = seg.base_offset;
    let (Some(offsets), Some(times)) = (
        parse_offset_index(&read_file(&seg.offset_file)?),
        parse_time_index(&read_file(&seg.time_file)?),
    ) else {
        return Ok(None);
    };
    // Time entries are written just before their offset entry, so at most one more.
    if times.len() > offsets.len() + 1 {
        return Ok(None);
    }
    let last_time = times.last().map_or(NO_TIMESTAMP, |t| t.timestamp);
    let mut index = SegmentIndex::new(base);
    // Where the tail walk starts, and the last offset before it.
    let (start, mut prev_last) = match offsets.last() {
        None => (0, base - 1),
        Some(e) => {
            let pos = u64::from(e.position);
            if pos + BATCH_HEADER_LEN as u64 > file_len {
                return Ok(None);
            }
            let mut buf = [0u8; BATCH_HEADER_LEN];
            seg.log.read_exact_at(&mut buf, pos)?;
            match BatchHeader::parse(&buf) {
                // The time index covers the batch of the last offset entry.
                Ok(h)
                    if h.base_offset == base + i64::from(e.relative_offset)
                        && h.max_timestamp <= last_time =>
                {
                    (pos, h.base_offset - 1)
                }
                _ => return Ok(None),
            }
        }
    };
    if let Some(t) = times.last() {
        index.max_timestamp = t.timestamp;
        index.max_timestamp_offset = base + i64::from(t.relative_offset);
    }
    let mut reader = BatchReader::new(Arc::clone(&seg.log), start, file_len, VERIFY_CHUNK);
    let mut bytes_since_entry = 0u64;
    loop {
        match reader.next_verified()? {
            Scan::Batch(_, h) => {
                if !follows(&h, prev_last, gaps) || h.last_offset() - base > i64::from(i32::MAX) {
                    return Ok(None);
                }
                // An offset entry belongs here: the index is shorter than the log.
                if bytes_since_entry > u64::from(interval) {
                    return Ok(None);
                }
                bytes_since_entry += h.total_size() as u64;
                prev_last = h.last_offset();
                if h.max_timestamp > index.max_timestamp {
                    index.max_timestamp = h.max_timestamp;
                    index.max_timestamp_offset = h.base_offset;
                }
            }
            Scan::End => break,
            Scan::Invalid(..) => return Ok(None),
        }
    }
    // Every time entry must name an offset the segment holds.
    if times
        .last()
        .is_some_and(|t| base + i64::from(t.relative_offset) > prev_last)
    {
        return Ok(None);
    }
    index.bytes_since_entry = bytes_since_entry;
    index.offsets = offsets;
    index.times = times;
    Ok(Some(Quick {
        index,
        next_offset: prev_last + 1,
    }))
}

/// Whether a batch may come after one ending at `prev_last`: right after it, or (in a segment
/// the cleaner rewrote) anywhere after it.
fn follows(h: &BatchHeader, prev_last: i64, gaps: bool) -> bool {
    if gaps {
        h.base_offset > prev_last
    } else {
        h.base_offset == prev_last + 1
    }
}

/// Verify every batch and rebuild both indexes from the valid ones; `size` ends at the
/// first invalid batch. Returns whether the file holds more than that (to truncate).
fn full_recover(
    seg: &mut Segment,
    file_len: u64,
    interval: u32,
    gaps: bool,
) -> Result<bool, LogError> {
    let base = seg.base_offset;
    let mut index = SegmentIndex::new(base);
    let (mut sink_o, mut sink_t) = (Vec::new(), Vec::new());
    let mut reader = BatchReader::new(Arc::clone(&seg.log), 0, file_len, VERIFY_CHUNK);
    let mut prev_last = base - 1;
    let mut valid_end = 0u64;
    loop {
        match reader.next_verified()? {
            Scan::Batch(pos, h) => {
                let end = pos + h.total_size() as u64;
                if !follows(&h, prev_last, gaps)
                    || h.last_offset() - base > i64::from(i32::MAX)
                    || pos > u64::from(u32::MAX)
                {
                    tracing::warn!(dir = %seg.dir.display(), base, pos, "batch offsets out of order");
                    break;
                }
                index.observe(pos, &h, interval, &mut sink_o, &mut sink_t);
                prev_last = h.last_offset();
                valid_end = end;
            }
            Scan::End => break,
            Scan::Invalid(pos, why) => {
                tracing::warn!(dir = %seg.dir.display(), base, pos, "invalid batch: {why}");
                break;
            }
        }
    }
    seg.index = index;
    seg.size = valid_end;
    seg.next_offset = prev_last + 1;
    seg.rewrite_index_files()?;
    Ok(valid_end < file_len)
}
