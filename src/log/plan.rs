//! Work planned under the partition lock and executed without it.
//!
//! A [`ReadPlan`] holds a shared handle to one segment file, the position of the first batch
//! to return, and a snapshot of the segment size: bytes below that snapshot are whole,
//! validated batches that never change, so the read needs no lock. A [`SyncPlan`] holds the
//! handles of the segment files with unflushed data; once it succeeded, everything below its
//! `end_offset` is durable and the caller reports that with `PartitionLog::mark_synced`.
//!
//! Truncation (`replica.rs`) is the one operation that changes bytes below a segment's size:
//! it bumps the log's [`Generation`] first, and a plan made before that no longer vouches
//! for what it read or synced: a stale [`ReadPlan`] returns nothing, a stale [`SyncPlan`] is
//! ignored by `mark_synced`.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::storage::StorageFile;
use super::LogError;
use crate::protocol::batch::{peek_total_size, BATCH_HEADER_LEN};

/// The truncation count of a partition log as of some moment, shared with plans made then.
#[derive(Debug, Clone, Default)]
pub(super) struct Generation {
    counter: Arc<AtomicU64>,
    at: u64,
}

impl Generation {
    /// Whether no truncation happened since this generation was taken.
    pub fn is_current(&self) -> bool {
        self.counter.load(Ordering::SeqCst) == self.at
    }

    /// The current generation of the same log.
    pub fn now(&self) -> Generation {
        Generation {
            counter: Arc::clone(&self.counter),
            at: self.counter.load(Ordering::SeqCst),
        }
    }

    /// Start a truncation: every plan taken before is stale from here on. Called before
    /// any file changes, so a reader that sees the old count afterwards read old bytes.
    pub fn bump(&mut self) {
        self.at = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
    }
}

#[derive(Debug)]
struct ReadSource {
    file: Arc<dyn StorageFile>,
    /// Position of the first batch to return.
    start: u64,
    /// Segment size when the plan was made.
    end: u64,
    max_bytes: usize,
    min_one: bool,
    generation: Generation,
}

/// A fetch of whole batches from one segment, planned by `PartitionLog::read`.
#[derive(Debug)]
pub struct ReadPlan {
    source: Option<ReadSource>,
}

impl ReadPlan {
    pub fn empty() -> ReadPlan {
        ReadPlan { source: None }
    }

    pub(super) fn new(
        file: Arc<dyn StorageFile>,
        start: u64,
        end: u64,
        max_bytes: usize,
        min_one: bool,
        generation: Generation,
    ) -> ReadPlan {
        assert!(start <= end, "read plan starts past the segment end");
        ReadPlan {
            source: Some(ReadSource {
                file,
                start,
                end,
                max_bytes,
                min_one,
                generation,
            }),
        }
    }

    /// Whether executing the plan certainly returns nothing (read at the log end offset).
    pub fn is_empty(&self) -> bool {
        self.source.as_ref().is_none_or(|s| s.start == s.end)
    }

    /// Read whole batches starting with the one that contains the requested offset, at most
    /// `max_bytes` in total — except that with `min_one` a first batch larger than
    /// `max_bytes` is returned alone and whole. One `pread`, two when that first batch is
    /// larger than what the first read covered.
    ///
    /// A plan made before a truncation of the log returns nothing (the bytes it read may be
    /// gone or replaced); the fetch is simply answered without data.
    pub fn execute(self) -> Result<Bytes, LogError> {
        let Some(s) = self.source else {
            return Ok(Bytes::new());
        };
        let generation = s.generation.clone();
        match Self::read(s) {
            _ if !generation.is_current() => Ok(Bytes::new()),
            result => result,
        }
    }

    fn read(s: ReadSource) -> Result<Bytes, LogError> {
        let available = s.end - s.start;
        let want = if s.min_one {
            s.max_bytes.max(BATCH_HEADER_LEN)
        } else {
            s.max_bytes
        };
        let first_len = usize::try_from(available).map_or(want, |a| a.min(want));
        if first_len == 0 {
            return Ok(Bytes::new());
        }
        let mut buf = BytesMut::zeroed(first_len);
        s.file.read_exact_at(&mut buf, s.start)?;

        let mut whole = 0usize;
        while let Some(size) = peek_total_size(&buf[whole..]) {
            if size < BATCH_HEADER_LEN || whole + size > buf.len() || whole + size > s.max_bytes {
                break;
            }
            whole += size;
        }
        if whole > 0 {
            buf.truncate(whole);
            return Ok(buf.freeze());
        }
        if !s.min_one {
            return Ok(Bytes::new());
        }
        let size = peek_total_size(&buf)
            .filter(|&size| size >= BATCH_HEADER_LEN && size as u64 <= available)
            .ok_or_else(|| {
                LogError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("invalid stored batch length at position {}", s.start),
                ))
            })?;
        if size <= buf.len() {
            buf.truncate(size);
        } else {
            let have = buf.len();
            buf.resize(size, 0);
            s.file
                .read_exact_at(&mut buf[have..], s.start + have as u64)?;
        }
        Ok(buf.freeze())
    }
}

/// The fsyncs that make everything below `end_offset` durable (group commit).
#[derive(Debug)]
pub struct SyncPlan {
    /// The log end offset when the plan was made.
    pub end_offset: i64,
    pub(super) files: Vec<Arc<dyn StorageFile>>,
    pub(super) generation: Generation,
}

impl SyncPlan {
    /// `sync_data` every segment file that had unflushed bytes. Call without the lock, then
    /// `mark_synced(&plan)` on success, or `mark_offline()` on failure.
    pub fn execute(&self) -> io::Result<()> {
        for file in &self.files {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Whether there is nothing to fsync.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Whether the log was truncated since the plan was made (then it vouches for nothing).
    pub fn is_stale(&self) -> bool {
        !self.generation.is_current()
    }
}
