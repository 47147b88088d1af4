//! The on-disk raft log of the metadata quorum: segment files of framed entries, plus one small
//! state file. Blocking I/O only (the async log store runs these calls on the blocking pool).
//!
//! ## On-disk format (in the quorum's directory, e.g. `<data_dir>/__cluster_metadata-0`)
//! - `<first_index:020>.raftlog`: a segment, the entries `first_index, first_index + 1, ...` in
//!   order, each framed `[len u32 BE][crc32c u32 BE of payload][payload]`, where the payload is
//!   the serde_json of the openraft `Entry`. A segment holds at most `segment_max_entries`
//!   entries; the last one is the active segment, the only one appended to.
//! - `raft-state.json`: `{vote, committed, last_purged}`, replaced atomically (tmp, fsync,
//!   rename, directory fsync) on every change.
//!
//! ## Invariants
//! - Entries are consecutive across segments: a segment starts right after the previous one's
//!   last entry. There is never a hole.
//! - An append is fsynced (data and directory entry of a new segment) before it returns.
//! - `last_purged` is persisted before the segments it covers are deleted, so a crash in
//!   between leaves extra (ignored) entries, never a hole.
//!
//! ## Recovery ([`Disk::open`])
//! Each segment is read frame by frame. The first frame that is incomplete, fails its CRC, does
//! not decode, or breaks index continuity is where the log ends: the segment is truncated there
//! (and fsynced) and every later segment is deleted. A torn tail after a crash is the expected
//! case; anything after it cannot be used without leaving a hole, and raft fetches it again
//! from the leader. A `committed` beyond the recovered log is lowered to `last_purged`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::types::{Entry, LogId, NodeId};
use crate::log::storage::{read_whole, write_atomic, OpenMode, Storage, StorageFile};

/// Name of the vote/committed/purged state file.
pub const STATE_FILE: &str = "raft-state.json";
/// Extension of segment files.
const SEGMENT_EXT: &str = ".raftlog";
/// Bytes of a frame header: length and CRC.
const FRAME_HEADER: usize = 8;
/// No entry is larger than this (checked before allocating, in recovery).
pub const MAX_ENTRY_BYTES: usize = 64 * 1024 * 1024;

/// What raft needs to survive a restart besides the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistentState {
    pub vote: Option<openraft::Vote<NodeId>>,
    pub committed: Option<LogId>,
    pub last_purged: Option<LogId>,
}

/// One segment file.
#[derive(Debug)]
struct Segment {
    first_index: u64,
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    /// Byte offset of each entry (entry `first_index + i` starts at `offsets[i]`).
    offsets: Vec<u64>,
    /// Bytes in use (the end of the last frame).
    len: u64,
}

impl Segment {
    fn next_index(&self) -> u64 {
        self.first_index + self.offsets.len() as u64
    }
}

/// The segments of the log, open for appending.
#[derive(Debug)]
pub struct Disk {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    segment_max_entries: usize,
    segments: BTreeMap<u64, Segment>,
}

/// Frames waiting to be written to the active segment.
#[derive(Default)]
struct Batch {
    buf: Vec<u8>,
    lens: Vec<usize>,
}

/// What [`Disk::open`] found.
#[derive(Debug)]
pub struct Recovered {
    pub disk: Disk,
    pub state: PersistentState,
    /// The entries after `state.last_purged`, in index order.
    pub entries: Vec<Entry>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn segment_name(first_index: u64) -> String {
    format!("{first_index:020}{SEGMENT_EXT}")
}

/// Frame one entry: `[len u32][crc32c u32][json]`.
pub fn encode_frame(entry: &Entry) -> io::Result<Vec<u8>> {
    let payload = serde_json::to_vec(entry).map_err(|e| invalid(format!("encode entry: {e}")))?;
    if payload.len() > MAX_ENTRY_BYTES {
        return Err(invalid(format!(
            "entry of {} bytes is too large",
            payload.len()
        )));
    }
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Decode the frame at `pos`: the entry and the frame's length, or `None` if the bytes there
/// are not a complete, valid frame.
fn decode_frame(bytes: &[u8], pos: usize) -> Option<(Entry, usize)> {
    let header = bytes.get(pos..pos.checked_add(FRAME_HEADER)?)?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_ENTRY_BYTES {
        return None;
    }
    let start = pos + FRAME_HEADER;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    if crc32c::crc32c(payload) != crc {
        return None;
    }
    let entry: Entry = serde_json::from_slice(payload).ok()?;
    Some((entry, FRAME_HEADER + len))
}

impl Disk {
    /// Open (creating it if needed) the log in `dir` and recover it; see the module notes.
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        segment_max_entries: usize,
    ) -> io::Result<Recovered> {
        storage.create_dir_all(dir)?;
        let mut state = match read_whole(storage.as_ref(), &dir.join(STATE_FILE))? {
            Some(bytes) => serde_json::from_slice::<PersistentState>(&bytes)
                .map_err(|e| invalid(format!("{}: {e}", dir.join(STATE_FILE).display())))?,
            None => PersistentState::default(),
        };
        let mut disk = Disk {
            storage,
            dir: dir.to_path_buf(),
            segment_max_entries: segment_max_entries.max(1),
            segments: BTreeMap::new(),
        };
        let mut entries = disk.recover_segments()?;
        let purged_next = state.last_purged.map_or(0, |l| l.index + 1);
        entries.retain(|e| e.log_id.index >= purged_next);
        if let Some(first) = entries.first() {
            if first.log_id.index != purged_next {
                return Err(invalid(format!(
                    "raft log in {} starts at {} but the last purged index is {:?}",
                    dir.display(),
                    first.log_id.index,
                    state.last_purged.map(|l| l.index)
                )));
            }
        }
        let last = entries.last().map(|e| e.log_id).or(state.last_purged);
        if state.committed > last {
            tracing::warn!(
                dir = %dir.display(),
                committed = ?state.committed,
                last_log = ?last,
                "committed index beyond the recovered raft log; lowering it"
            );
            state.committed = state.last_purged;
        }
        Ok(Recovered {
            disk,
            state,
            entries,
        })
    }

    /// Read every segment, cut the log at the first bad frame, return the entries.
    fn recover_segments(&mut self) -> io::Result<Vec<Entry>> {
        let mut names: Vec<(u64, String)> = self
            .storage
            .list_dir(&self.dir)?
            .into_iter()
            .filter_map(|name| {
                let stem = name.strip_suffix(SEGMENT_EXT)?;
                Some((stem.parse::<u64>().ok()?, name))
            })
            .collect();
        names.sort();
        let mut entries = Vec::new();
        let mut expected: Option<u64> = None;
        let mut cut = false;
        let mut dir_changed = false;
        for (first_index, name) in names {
            let path = self.dir.join(&name);
            if cut || expected.is_some_and(|e| e != first_index) {
                if !cut {
                    tracing::warn!(segment = %path.display(), "raft log segment out of sequence; removing it and what follows");
                }
                cut = true;
                self.storage.remove_file(&path)?;
                dir_changed = true;
                continue;
            }
            let (seg, torn) = self.scan_segment(first_index, &path, &mut entries)?;
            cut = torn;
            if seg.offsets.is_empty() {
                // Nothing usable in it: a segment created just before a crash, or cut to 0.
                self.storage.remove_file(&path)?;
                dir_changed = true;
                continue;
            }
            expected = Some(seg.next_index());
            self.segments.insert(first_index, seg);
        }
        if dir_changed {
            self.storage.sync_dir(&self.dir)?;
        }
        Ok(entries)
    }

    /// Read one segment's frames into `entries`; cut the file at the first bad one. Returns
    /// the segment and whether it was cut.
    fn scan_segment(
        &self,
        first_index: u64,
        path: &Path,
        entries: &mut Vec<Entry>,
    ) -> io::Result<(Segment, bool)> {
        let file = self.storage.open(path, OpenMode::Existing)?;
        let bytes = read_whole(self.storage.as_ref(), path)?.unwrap_or_default();
        let mut seg = Segment {
            first_index,
            path: path.to_path_buf(),
            file,
            offsets: Vec::new(),
            len: 0,
        };
        let mut pos = 0usize;
        let mut cut = false;
        while pos < bytes.len() {
            match decode_frame(&bytes, pos) {
                Some((entry, size)) if entry.log_id.index == seg.next_index() => {
                    seg.offsets.push(pos as u64);
                    entries.push(entry);
                    pos += size;
                }
                _ => {
                    tracing::warn!(
                        segment = %path.display(),
                        offset = pos,
                        size = bytes.len(),
                        "truncating a torn or corrupt raft log tail"
                    );
                    seg.file.set_len(pos as u64)?;
                    seg.file.sync_data()?;
                    cut = true;
                    break;
                }
            }
        }
        seg.len = pos as u64;
        Ok((seg, cut))
    }

    /// Persist the vote / committed / purged state atomically.
    pub fn save_state(&self, state: &PersistentState) -> io::Result<()> {
        let bytes = serde_json::to_vec(state).map_err(|e| invalid(format!("encode state: {e}")))?;
        write_atomic(self.storage.as_ref(), &self.dir, STATE_FILE, &bytes)
    }

    /// Append consecutive entries and fsync them. `entries[0]` must follow the last entry on
    /// disk (or start a new log after a purge or at the very beginning).
    pub fn append(&mut self, entries: &[Entry]) -> io::Result<()> {
        let mut batch = Batch::default();
        for entry in entries {
            let index = entry.log_id.index;
            let roll = match self.segments.values().next_back() {
                None => true,
                Some(seg) => {
                    let next = seg.next_index() + batch.lens.len() as u64;
                    if index != next {
                        return Err(invalid(format!(
                            "raft log append at {index} does not follow {}",
                            next.saturating_sub(1)
                        )));
                    }
                    seg.offsets.len() + batch.lens.len() >= self.segment_max_entries
                }
            };
            if roll {
                self.write_active(&mut batch)?;
                self.new_segment(index)?;
            }
            let frame = encode_frame(entry)?;
            batch.lens.push(frame.len());
            batch.buf.extend_from_slice(&frame);
        }
        self.write_active(&mut batch)
    }

    /// Write the batched frames at the end of the active segment and fsync it.
    fn write_active(&mut self, batch: &mut Batch) -> io::Result<()> {
        if batch.lens.is_empty() {
            return Ok(());
        }
        let seg = self
            .segments
            .values_mut()
            .next_back()
            .ok_or_else(|| invalid("no active raft log segment".into()))?;
        seg.file.write_all_at(&batch.buf, seg.len)?;
        seg.file.sync_data()?;
        for len in batch.lens.drain(..) {
            seg.offsets.push(seg.len);
            seg.len += len as u64;
        }
        batch.buf.clear();
        Ok(())
    }

    fn new_segment(&mut self, first_index: u64) -> io::Result<()> {
        let path = self.dir.join(segment_name(first_index));
        let file = self.storage.open(&path, OpenMode::CreateTruncate)?;
        self.storage.sync_dir(&self.dir)?;
        self.segments.insert(
            first_index,
            Segment {
                first_index,
                path,
                file,
                offsets: Vec::new(),
                len: 0,
            },
        );
        Ok(())
    }

    /// Remove the entries from `index` on (a conflicting suffix), durably.
    pub fn truncate(&mut self, index: u64) -> io::Result<()> {
        let whole: Vec<u64> = self.segments.range(index..).map(|(k, _)| *k).collect();
        // Last segment first: a crash part-way leaves a shorter log, never a hole.
        for first in whole.iter().rev() {
            if let Some(seg) = self.segments.remove(first) {
                self.storage.remove_file(&seg.path)?;
            }
        }
        if !whole.is_empty() {
            self.storage.sync_dir(&self.dir)?;
        }
        if let Some(seg) = self.segments.range_mut(..index).next_back().map(|(_, s)| s) {
            let keep = (index - seg.first_index) as usize;
            if keep < seg.offsets.len() {
                let cut_at = seg.offsets[keep];
                seg.file.set_len(cut_at)?;
                seg.file.sync_data()?;
                seg.offsets.truncate(keep);
                seg.len = cut_at;
            }
        }
        Ok(())
    }

    /// Delete the segments whose entries are all at or below `index` (already covered by a
    /// snapshot). The caller persists `last_purged` first.
    pub fn purge(&mut self, index: u64) -> io::Result<()> {
        let purgeable: Vec<u64> = self
            .segments
            .values()
            .filter(|s| s.next_index() <= index + 1)
            .map(|s| s.first_index)
            .collect();
        for first in &purgeable {
            if let Some(seg) = self.segments.remove(first) {
                self.storage.remove_file(&seg.path)?;
            }
        }
        if !purgeable.is_empty() {
            self.storage.sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Number of segment files (for tests).
    #[cfg(test)]
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

#[cfg(test)]
#[path = "segments_tests.rs"]
mod tests;
