//! Producer-state snapshots: `<20-digit offset>.snapshot` in the partition directory, the
//! producer state as of that offset (the log end offset when it was taken).
//!
//! # On-disk format (skua's own, big endian)
//!
//! ```text
//! version u16 (1) | crc u32 (CRC-32C of everything after it) | offset i64 | count u32
//! count x producer:
//!   producer_id i64 | epoch i16 | coordinator_epoch i32 | last_timestamp i64
//!   | current_txn_first_offset i64 (-1 = none) | batch_count u8 (<= 5)
//!   batch_count x batch (oldest first):
//!     first_seq i32 | last_seq i32 | first_offset i64 | last_offset i64 | timestamp i64
//! ```
//!
//! Unlike Kafka's snapshot (last batch only), every cached batch is stored, so a retry of
//! any of a producer's last 5 batches is still recognised as a duplicate after a restart.
//! The open transactions follow from the producers' `current_txn_first_offset`.
//!
//! # Durability
//!
//! Written with `write_atomic` (tmp file, fsync, rename, fsync dir) on every segment roll and
//! on clean close, after fsyncing the transaction indexes (whose entries below the snapshot
//! offset recovery then trusts). The newest two are kept. A snapshot that fails to decode
//! (version, length, CRC, offset) is ignored and deleted; recovery falls back to an older one
//! or to a scan from the log start.

use std::io;
use std::path::Path;

use super::producer_state::{
    BatchMetadata, ProducerEntry, ProducerStateManager, NUM_BATCHES_TO_RETAIN,
};
use super::segment::file_name;
use super::storage::{read_whole, write_atomic, Storage};

pub(super) const SNAPSHOT_SUFFIX: &str = ".snapshot";
const VERSION: u16 = 1;
/// version + crc: the bytes the CRC does not cover.
const CRC_END: usize = 6;
const PRODUCER_LEN: usize = 8 + 2 + 4 + 8 + 8 + 1;
const BATCH_LEN: usize = 4 + 4 + 8 + 8 + 8;

pub(super) fn encode(offset: i64, state: &ProducerStateManager) -> Vec<u8> {
    let entries = state.entries();
    let mut out =
        Vec::with_capacity(18 + entries.len() * (PRODUCER_LEN + NUM_BATCHES_TO_RETAIN * BATCH_LEN));
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for (pid, e) in &entries {
        out.extend_from_slice(&pid.to_be_bytes());
        out.extend_from_slice(&e.epoch.to_be_bytes());
        out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
        out.extend_from_slice(&e.last_timestamp.to_be_bytes());
        out.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        out.push(e.batches().len() as u8);
        for b in e.batches() {
            out.extend_from_slice(&b.first_seq.to_be_bytes());
            out.extend_from_slice(&b.last_seq.to_be_bytes());
            out.extend_from_slice(&b.first_offset.to_be_bytes());
            out.extend_from_slice(&b.last_offset.to_be_bytes());
            out.extend_from_slice(&b.timestamp.to_be_bytes());
        }
    }
    let crc = crc32c::crc32c(&out[CRC_END..]);
    out[2..CRC_END].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Big-endian reads that fail (`None`) past the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let bytes = self.buf.get(self.pos..self.pos.checked_add(N)?)?;
        self.pos += N;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}

/// Decode a snapshot that must cover `offset`; `None` if it is not a valid one.
pub(super) fn decode(bytes: &[u8], offset: i64) -> Option<ProducerStateManager> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let version = u16::from_be_bytes(r.take()?);
    let crc = r.u32()?;
    if version != VERSION || crc != crc32c::crc32c(bytes.get(CRC_END..)?) || r.i64()? != offset {
        return None;
    }
    let count = r.u32()? as usize;
    // Each producer takes at least PRODUCER_LEN bytes: bound the allocation by the file.
    if count > bytes.len() / PRODUCER_LEN {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let pid = r.i64()?;
        let epoch = r.i16()?;
        let coordinator_epoch = r.i32()?;
        let last_timestamp = r.i64()?;
        let txn_first = r.i64()?;
        let n = usize::from(r.u8()?);
        if n > NUM_BATCHES_TO_RETAIN {
            return None;
        }
        let mut batches = [BatchMetadata::default(); NUM_BATCHES_TO_RETAIN];
        for b in batches.iter_mut().take(n) {
            *b = BatchMetadata {
                first_seq: r.i32()?,
                last_seq: r.i32()?,
                first_offset: r.i64()?,
                last_offset: r.i64()?,
                timestamp: r.i64()?,
            };
        }
        let txn_first = (txn_first >= 0).then_some(txn_first);
        let entry = ProducerEntry::restore(
            epoch,
            coordinator_epoch,
            last_timestamp,
            txn_first,
            &batches[..n],
        )?;
        entries.push((pid, entry));
    }
    if r.pos != bytes.len() {
        return None;
    }
    Some(ProducerStateManager::from_entries(entries))
}

/// Write the snapshot for `offset` atomically.
pub(super) fn write(
    storage: &dyn Storage,
    dir: &Path,
    offset: i64,
    state: &ProducerStateManager,
) -> io::Result<()> {
    write_atomic(
        storage,
        dir,
        &file_name(offset, SNAPSHOT_SUFFIX),
        &encode(offset, state),
    )
}

/// Read the snapshot for `offset`: `Ok(None)` if it is missing or invalid.
pub(super) fn read(
    storage: &dyn Storage,
    dir: &Path,
    offset: i64,
) -> io::Result<Option<ProducerStateManager>> {
    let path = dir.join(file_name(offset, SNAPSHOT_SUFFIX));
    Ok(read_whole(storage, &path)?.and_then(|bytes| decode(&bytes, offset)))
}

/// Delete the snapshot for `offset`, if it exists.
pub(super) fn remove(storage: &dyn Storage, dir: &Path, offset: i64) -> io::Result<()> {
    match storage.remove_file(&dir.join(file_name(offset, SNAPSHOT_SUFFIX))) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
