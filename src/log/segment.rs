//! One segment: a `.log` file of batches plus its `.index`, `.timeindex` and (when it holds
//! ABORT markers) `.txnindex`, and a buffered batch reader used to locate offsets and to
//! verify segments on recovery.
//!
//! A segment only grows at its end (`size`), by whole batches. Bytes below `size` never
//! change while the segment is open, which is what lets read plans use them without the
//! partition lock — except for a truncation ([`Segment::plan_cut`], [`Segment::apply_cut`]),
//! before which the log makes every plan stale. File handles are `Arc`s shared with read
//! and sync plans.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::index::{SegmentIndex, OFFSET_ENTRY_LEN, TIME_ENTRY_LEN};
use super::storage::{OpenMode, Storage, StorageFile};
use super::txn_index::TxnIndex;
use crate::protocol::batch::{verify_crc, BatchHeader, BatchIter, BATCH_HEADER_LEN};

pub(super) const LOG_SUFFIX: &str = ".log";
pub(super) const INDEX_SUFFIX: &str = ".index";
pub(super) const TIME_INDEX_SUFFIX: &str = ".timeindex";

/// `<20-digit base offset><suffix>`, Kafka's segment file name.
pub(super) fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// The base offset encoded in a segment file name with `suffix`, if it is one.
pub(super) fn parse_file_name(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[derive(Debug)]
pub(super) struct Segment {
    pub base_offset: i64,
    pub dir: PathBuf,
    pub log: Arc<dyn StorageFile>,
    pub offset_file: Arc<dyn StorageFile>,
    pub time_file: Arc<dyn StorageFile>,
    /// Bytes of whole, valid batches in the `.log` file.
    pub size: u64,
    /// Last offset + 1 of the last batch, or `base_offset` if empty.
    pub next_offset: i64,
    /// Everything below this offset in this segment has been fsynced.
    pub flushed_offset: i64,
    pub index: SegmentIndex,
    /// Time the segment counts its age from for `segment.ms`.
    pub rolling_base_ms: i64,
    /// Index files were written since they were last fsynced.
    pub index_dirty: bool,
    /// The aborted transactions whose markers are in this segment.
    pub txn: TxnIndex,
}

impl Segment {
    pub fn path(&self, suffix: &str) -> PathBuf {
        self.dir.join(file_name(self.base_offset, suffix))
    }

    /// Create a new empty segment (files truncated if they existed). The caller fsyncs the dir.
    pub fn create(
        storage: &dyn Storage,
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
    ) -> io::Result<Segment> {
        let open = |suffix| {
            storage.open(
                &dir.join(file_name(base_offset, suffix)),
                OpenMode::CreateTruncate,
            )
        };
        Ok(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log: open(LOG_SUFFIX)?,
            offset_file: open(INDEX_SUFFIX)?,
            time_file: open(TIME_INDEX_SUFFIX)?,
            size: 0,
            next_offset: base_offset,
            flushed_offset: base_offset,
            index: SegmentIndex::new(base_offset),
            rolling_base_ms: now_ms,
            index_dirty: false,
            txn: TxnIndex::default(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// This segment leaves the log (retention, truncation, the cleaner's swap): files that a
    /// read or sync plan still holds are kept open, so the plan reads the old bytes to the
    /// end even though the names are removed or reused (see `open_files`).
    pub fn retire(&self) {
        for file in [&self.log, &self.offset_file, &self.time_file] {
            if Arc::strong_count(file) > 1 {
                if let Err(e) = file.retain_open() {
                    tracing::debug!(path = %self.dir.display(), "cannot keep a retired segment open: {e}");
                }
            }
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.flushed_offset < self.next_offset
    }

    /// Append an already validated payload of whole batches with offsets assigned: one write
    /// for the log, then one for each index file that got entries.
    ///
    /// All or nothing: if a write fails (out of disk space, no descriptor to reopen a file),
    /// the segment is left as it was in memory and the files are cut back to their previous
    /// lengths (best effort: bytes past `size` are never read, and recovery cuts them), so
    /// the caller may report the error and carry on.
    pub fn append(&mut self, payload: &[u8], interval: u32) -> io::Result<()> {
        let offset_file_len = (self.index.offsets.len() * OFFSET_ENTRY_LEN) as u64;
        let time_file_len = (self.index.times.len() * TIME_ENTRY_LEN) as u64;
        let mark = self.index.mark();
        let written = self.write_appended(payload, interval, offset_file_len, time_file_len);
        if written.is_err() {
            self.index.rollback(mark);
            let _ = self.log.set_len(self.size);
            let _ = self.offset_file.set_len(offset_file_len);
            let _ = self.time_file.set_len(time_file_len);
        }
        written
    }

    fn write_appended(
        &mut self,
        payload: &[u8],
        interval: u32,
        offset_file_len: u64,
        time_file_len: u64,
    ) -> io::Result<()> {
        self.log.write_all_at(payload, self.size)?;
        let (mut offset_out, mut time_out) = (Vec::new(), Vec::new());
        let mut next_offset = self.next_offset;
        let mut position = self.size;
        for (header, bytes) in BatchIter::new(payload).map_while(Result::ok) {
            self.index
                .observe(position, &header, interval, &mut offset_out, &mut time_out);
            position += bytes.len() as u64;
            next_offset = header.last_offset() + 1;
        }
        // Time entries first: an offset entry must never point past what the time index
        // covers (see recovery), and a missing offset entry only widens a later scan.
        if !time_out.is_empty() {
            self.time_file.write_all_at(&time_out, time_file_len)?;
        }
        if !offset_out.is_empty() {
            self.offset_file
                .write_all_at(&offset_out, offset_file_len)?;
        }
        self.index_dirty |= !time_out.is_empty() || !offset_out.is_empty();
        self.size += payload.len() as u64;
        self.next_offset = next_offset;
        Ok(())
    }

    /// Position of the first batch whose last offset is `>= offset`, if any below `size`.
    pub fn locate(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let start = self.index.position_for(offset);
        let mut reader = BatchReader::new(Arc::clone(&self.log), start, self.size, LOCATE_CHUNK);
        loop {
            match reader.next_header()? {
                Scan::Batch(pos, header) if header.last_offset() >= offset => {
                    return Ok(Some((pos, header)))
                }
                Scan::Batch(..) => {}
                Scan::End => return Ok(None),
                Scan::Invalid(pos, why) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "invalid batch at position {pos} of segment {}: {why}",
                            self.base_offset
                        ),
                    ))
                }
            }
        }
    }

    /// File position where the first batch with base offset `>= offset` starts, or `size`
    /// if there is none (a batch straddling `offset` ends before the position).
    pub fn end_before(&self, offset: i64) -> io::Result<u64> {
        if offset >= self.next_offset {
            return Ok(self.size);
        }
        Ok(match self.locate(offset)? {
            Some((pos, h)) if h.base_offset >= offset => pos,
            Some((pos, h)) => pos + h.total_size() as u64,
            None => self.size,
        })
    }

    /// Read the whole batch at `pos` described by `header`.
    pub fn read_batch(&self, pos: u64, header: &BatchHeader) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; header.total_size()];
        self.log.read_exact_at(&mut buf, pos)?;
        Ok(buf)
    }

    /// Rewrite both index files from the in-memory entries.
    pub fn rewrite_index_files(&mut self) -> io::Result<()> {
        for (file, bytes) in [
            (&self.offset_file, self.index.encode_offsets()),
            (&self.time_file, self.index.encode_times()),
        ] {
            file.set_len(0)?;
            if !bytes.is_empty() {
                file.write_all_at(&bytes, 0)?;
            }
        }
        self.index_dirty = true;
        Ok(())
    }

    /// Plan cutting the segment at `position` (where a batch starts, or `size`): the end
    /// offset of the kept batches and their indexes exactly as a rebuild of the kept part
    /// would make them. Reads only the batches from the last kept offset-index entry on.
    ///
    /// Why that suffices: an entry and the time entry written with it are made while
    /// observing one batch, so the time entries made up to kept entry `k` are those naming
    /// an offset at or before entry `k`'s batch, and the last of them holds the running
    /// maximum timestamp as of that batch (`index.rs`).
    pub fn plan_cut(&self, position: u64, interval: u32) -> io::Result<SegmentCut> {
        let base = self.base_offset;
        let kept = self
            .index
            .offsets
            .partition_point(|e| u64::from(e.position) < position);
        let mut index = SegmentIndex::new(base);
        let mut resume_at = None;
        if let Some(entry) = kept.checked_sub(1).map(|k| self.index.offsets[k]) {
            let entry_offset = base + i64::from(entry.relative_offset);
            index.offsets = self.index.offsets[..kept].to_vec();
            index.times = self
                .index
                .times
                .iter()
                .take_while(|t| base + i64::from(t.relative_offset) <= entry_offset)
                .copied()
                .collect();
            if let Some(t) = index.times.last() {
                index.max_timestamp = t.timestamp;
                index.max_timestamp_offset = base + i64::from(t.relative_offset);
            }
            resume_at = Some(u64::from(entry.position));
        }
        let from = resume_at.unwrap_or(0);
        let mut reader = BatchReader::new(Arc::clone(&self.log), from, position, LOCATE_CHUNK);
        let (mut sink_o, mut sink_t) = (Vec::new(), Vec::new());
        let mut next_offset = base;
        loop {
            match reader.next_header()? {
                Scan::Batch(pos, h) => {
                    if Some(pos) == resume_at {
                        // Observed when entry `k` was made: only its size still counts.
                        index.bytes_since_entry = h.total_size() as u64;
                    } else {
                        index.observe(pos, &h, interval, &mut sink_o, &mut sink_t);
                    }
                    next_offset = h.last_offset() + 1;
                }
                Scan::End => break,
                Scan::Invalid(pos, why) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("invalid batch at position {pos} of segment {base}: {why}"),
                    ))
                }
            }
        }
        Ok(SegmentCut {
            position,
            next_offset,
            index,
        })
    }

    /// Cut the segment as planned by [`Segment::plan_cut`]: the `.log` file first, fsynced
    /// (a crash afterwards must not bring the batches back), then the index files (derived,
    /// not fsynced: recovery rebuilds them if they disagree), then the transaction index.
    pub fn apply_cut(&mut self, cut: SegmentCut) -> io::Result<()> {
        self.log.set_len(cut.position)?;
        self.log.sync_data()?;
        self.size = cut.position;
        self.next_offset = cut.next_offset;
        self.flushed_offset = self.flushed_offset.min(cut.next_offset);
        self.index = cut.index;
        self.rewrite_index_files()?;
        self.txn.truncate_from(cut.next_offset)
    }

    /// fsync the index files if they changed (the log itself is synced through sync plans).
    pub fn sync_indexes(&mut self) -> io::Result<()> {
        if self.index_dirty {
            self.offset_file.sync_data()?;
            self.time_file.sync_data()?;
            self.index_dirty = false;
        }
        Ok(())
    }
}

/// What cutting a segment leaves (see [`Segment::plan_cut`]).
#[derive(Debug)]
pub(super) struct SegmentCut {
    /// File position of the first batch that goes: the new size.
    pub position: u64,
    /// Last offset + 1 of the last batch kept, or the base offset if none is.
    pub next_offset: i64,
    index: SegmentIndex,
}

/// Read size when scanning headers to locate an offset.
const LOCATE_CHUNK: usize = 16 * 1024;
/// Read size when verifying a whole segment.
pub(super) const VERIFY_CHUNK: usize = 1 << 20;

/// What [`BatchReader`] found at the next position.
#[derive(Debug)]
pub(super) enum Scan {
    Batch(u64, BatchHeader),
    /// Cleanly at the end of the range.
    End,
    /// A torn or corrupt batch starts at this position.
    Invalid(u64, String),
}

/// Walks batches of a file range `[pos, limit)` sequentially with few, large reads.
pub(super) struct BatchReader {
    file: Arc<dyn StorageFile>,
    pos: u64,
    limit: u64,
    chunk: usize,
    buf: Vec<u8>,
    /// File position of `buf[0]`.
    buf_start: u64,
}

impl BatchReader {
    pub fn new(file: Arc<dyn StorageFile>, pos: u64, limit: u64, chunk: usize) -> BatchReader {
        BatchReader {
            file,
            pos,
            limit,
            chunk,
            buf: Vec::new(),
            buf_start: pos,
        }
    }

    /// Make `[pos, pos + len)` available in `buf` (the caller checked it is below `limit`).
    pub fn fill(&mut self, pos: u64, len: usize) -> io::Result<&[u8]> {
        let have_from = pos >= self.buf_start;
        let end = pos + len as u64;
        if !(have_from && end <= self.buf_start + self.buf.len() as u64) {
            let want = (len.max(self.chunk) as u64).min(self.limit - pos) as usize;
            self.buf.clear();
            self.buf.resize(want, 0);
            self.file.read_exact_at(&mut self.buf, pos)?;
            self.buf_start = pos;
        }
        let from = (pos - self.buf_start) as usize;
        Ok(&self.buf[from..from + len])
    }

    fn header_at(&mut self) -> io::Result<Result<BatchHeader, Scan>> {
        let pos = self.pos;
        if pos >= self.limit {
            return Ok(Err(Scan::End));
        }
        let remaining = self.limit - pos;
        if remaining < BATCH_HEADER_LEN as u64 {
            return Ok(Err(Scan::Invalid(
                pos,
                format!("{remaining} trailing bytes"),
            )));
        }
        let header = match BatchHeader::parse(self.fill(pos, BATCH_HEADER_LEN)?) {
            Ok(h) => h,
            Err(e) => return Ok(Err(Scan::Invalid(pos, e.to_string()))),
        };
        if header.total_size() as u64 > remaining {
            return Ok(Err(Scan::Invalid(pos, "batch extends past the end".into())));
        }
        Ok(Ok(header))
    }

    /// The next batch header, without reading or checking the batch body.
    pub fn next_header(&mut self) -> io::Result<Scan> {
        match self.header_at()? {
            Ok(header) => {
                let pos = self.pos;
                self.pos += header.total_size() as u64;
                Ok(Scan::Batch(pos, header))
            }
            Err(scan) => Ok(scan),
        }
    }

    /// The next batch, with its CRC verified.
    pub fn next_verified(&mut self) -> io::Result<Scan> {
        match self.header_at()? {
            Ok(header) => {
                let pos = self.pos;
                let size = header.total_size();
                if !verify_crc(self.fill(pos, size)?) {
                    return Ok(Scan::Invalid(pos, "CRC mismatch".into()));
                }
                self.pos += size as u64;
                Ok(Scan::Batch(pos, header))
            }
            Err(scan) => Ok(scan),
        }
    }
}
