//! The aborted-transaction index of one segment: `<base>.txnindex`, Kafka's format.
//!
//! # On-disk format
//!
//! A flat file of 34-byte entries (big endian), one per aborted transaction whose ABORT
//! marker is in this segment, in marker order:
//!
//! ```text
//! version i16 (0) | producer_id i64 | first_offset i64 | last_offset i64 | last_stable_offset i64
//! ```
//!
//! `last_offset` is the marker's offset, `first_offset` the transaction's first offset (it may
//! lie in an earlier segment), `last_stable_offset` the LSO right after the abort as Kafka
//! computes it (the first offset of the earliest other open transaction, else the marker's
//! offset + 1). The file is created with the first entry, so most segments have none.
//!
//! # Invariants and durability
//!
//! `last_offset` strictly increases and is `>=` the segment's base offset. Entries are
//! written when the marker is appended, but fsynced only before a producer-state snapshot is
//! written (roll, clean close): recovery drops every entry at or above the snapshot's offset
//! and recomputes those from the log, so only the entries below a snapshot must be durable.
//! A trailing partial entry (torn write) is cut on load; a file with an impossible entry is
//! reported as corrupt and the whole partition's index is rebuilt from the log.
//!
//! # Concurrency
//!
//! Owned by its segment, under the partition lock; all entries are also kept in memory
//! (they are few), so queries never read the file.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::storage::{OpenMode, Storage, StorageFile};

pub(super) const TXN_INDEX_SUFFIX: &str = ".txnindex";
pub(super) const ABORTED_TXN_LEN: usize = 34;
const VERSION: i16 = 0;

/// One aborted transaction (Kafka's `AbortedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    pub fn encode(&self) -> [u8; ABORTED_TXN_LEN] {
        let mut out = [0u8; ABORTED_TXN_LEN];
        out[0..2].copy_from_slice(&VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }

    /// `None` for an unknown version.
    fn decode(b: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(x)
        };
        if b.len() != ABORTED_TXN_LEN || i16::from_be_bytes([b[0], b[1]]) != VERSION {
            return None;
        }
        Some(AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// The entries of one segment's `.txnindex` and its (lazily created) file.
#[derive(Debug, Default)]
pub(super) struct TxnIndex {
    entries: Vec<AbortedTxn>,
    file: Option<Arc<dyn StorageFile>>,
    /// Written since the last fsync.
    dirty: bool,
    /// The file was created since the last `sync` (its directory entry is not yet durable).
    created: bool,
    /// The file held an impossible entry when loaded; its entries were discarded.
    pub corrupt: bool,
}

impl TxnIndex {
    /// Load `path` if it exists, cutting a partial trailing entry.
    pub fn load(storage: &dyn Storage, path: &Path, base_offset: i64) -> io::Result<TxnIndex> {
        let file = match storage.open(path, OpenMode::Existing) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TxnIndex::default()),
            Err(e) => return Err(e),
        };
        let len = usize::try_from(file.size()?)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "txnindex too large"))?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, 0)?;
        let mut index = TxnIndex {
            entries: Vec::with_capacity(len / ABORTED_TXN_LEN),
            file: Some(Arc::clone(&file)),
            dirty: false,
            created: false,
            corrupt: false,
        };
        let mut prev_last = base_offset - 1;
        for chunk in buf.chunks_exact(ABORTED_TXN_LEN) {
            match AbortedTxn::decode(chunk) {
                Some(t) if t.last_offset > prev_last && t.first_offset <= t.last_offset => {
                    prev_last = t.last_offset;
                    index.entries.push(t);
                }
                _ => {
                    tracing::warn!(path = %path.display(), "invalid transaction index entry");
                    index.entries.clear();
                    index.corrupt = true;
                    break;
                }
            }
        }
        if len % ABORTED_TXN_LEN != 0 && !index.corrupt {
            file.set_len((index.entries.len() * ABORTED_TXN_LEN) as u64)?;
            index.dirty = true;
        }
        Ok(index)
    }

    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    /// Append one entry (creating the file at `path` if this is the first).
    pub fn append(
        &mut self,
        storage: &dyn Storage,
        path: &Path,
        txn: AbortedTxn,
    ) -> io::Result<()> {
        if let Some(last) = self.entries.last() {
            assert!(
                txn.last_offset > last.last_offset,
                "aborted transactions must be indexed in marker order"
            );
        }
        let file = match &self.file {
            Some(f) => Arc::clone(f),
            None => {
                // Truncate: a stale file of a deleted segment with this base must not linger.
                let f = storage.open(path, OpenMode::CreateTruncate)?;
                self.file = Some(Arc::clone(&f));
                self.created = true;
                f
            }
        };
        let pos = (self.entries.len() * ABORTED_TXN_LEN) as u64;
        self.dirty = true;
        file.write_all_at(&txn.encode(), pos)?;
        self.entries.push(txn);
        Ok(())
    }

    /// Drop every entry whose marker is at or above `offset` (Kafka's `truncateTo`).
    pub fn truncate_from(&mut self, offset: i64) -> io::Result<()> {
        let keep = self.entries.partition_point(|t| t.last_offset < offset);
        self.truncate_to_len(keep)
    }

    /// Drop every entry.
    pub fn clear(&mut self) -> io::Result<()> {
        self.truncate_to_len(0)
    }

    fn truncate_to_len(&mut self, keep: usize) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let want = (keep * ABORTED_TXN_LEN) as u64;
        if keep < self.entries.len() || file.size()? != want {
            self.entries.truncate(keep);
            file.set_len(want)?;
            self.dirty = true;
        }
        Ok(())
    }

    /// fsync the file if it changed since the last fsync. Returns whether the file was
    /// created since, so the caller fsyncs the directory too.
    pub fn sync(&mut self) -> io::Result<bool> {
        if let (true, Some(file)) = (self.dirty, &self.file) {
            file.sync_data()?;
        }
        self.dirty = false;
        Ok(std::mem::take(&mut self.created))
    }

    /// Kafka's `collectAbortedTxns`: add `(producer_id, first_offset)` of every entry with
    /// `last_offset >= from` and `first_offset < upper`; returns whether the search is
    /// complete (an entry's LSO reached `upper`, so no later entry can start below it).
    pub fn collect(&self, from: i64, upper: i64, out: &mut Vec<(i64, i64)>) -> bool {
        for t in &self.entries {
            if t.last_offset >= from && t.first_offset < upper {
                out.push((t.producer_id, t.first_offset));
            }
            if t.last_stable_offset >= upper {
                return true;
            }
        }
        false
    }
}
