//! openraft's `RaftStateMachine` (storage v2): committed entries go to the integrator's
//! [`MetadataApplier`]; snapshots are the applier's serialized state plus raft's last log id
//! and membership, kept in one file.
//!
//! ## What is applied
//! Normal entries: `applier.apply(index, payload)`, in log order, exactly once per process
//! lifetime. Blank (new leader) and membership entries only move `last_applied` (and the
//! membership). The response of every entry is its log index.
//!
//! ## Persistence
//! The applier's state is not persisted by itself; the snapshot is. On open, the stored
//! snapshot (if any) is handed to `applier.restore(index, bytes)` and `last_applied` starts
//! at its last log id; openraft then re-applies the committed entries after it from the log.
//!
//! ## Snapshot file (`raft-snapshot.bin`, replaced atomically)
//! `[magic "SKUASNP1"][meta_len u32 BE][data_len u64 BE][crc32c u32 BE of meta and data]
//! [meta: serde_json of openraft SnapshotMeta][data: the applier's bytes]`.
//!
//! ## Concurrency
//! `state` (last applied, membership) is locked while applying and while the snapshot builder
//! asks the applier for its bytes, so a snapshot's data always matches its last log id even
//! though openraft builds snapshots in a task of their own. `snapshot` (the current snapshot
//! and its file) has its own lock, always taken after `state` is released or while holding
//! it, never the other way round.

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use tokio::sync::Mutex;

use super::types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use super::MetadataApplier;
use crate::log::storage::{read_whole, write_atomic, Storage};

/// Name of the snapshot file in the quorum's directory.
pub const SNAPSHOT_FILE: &str = "raft-snapshot.bin";
const MAGIC: &[u8; 8] = b"SKUASNP1";
const HEADER: usize = 8 + 4 + 8 + 4;

/// The state machine; cloned as its own snapshot builder.
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

struct Shared {
    applier: Arc<dyn MetadataApplier>,
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    state: Mutex<Applied>,
    snapshot: Mutex<Option<StoredSnapshot>>,
    /// `last_applied.index + 1`, 0 when nothing is applied (read without locks).
    applied_next: Arc<AtomicU64>,
    snapshot_seq: AtomicU64,
}

#[derive(Default)]
struct Applied {
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

#[derive(Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Arc<Vec<u8>>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn encode_snapshot(meta: &SnapshotMeta, data: &[u8]) -> io::Result<Vec<u8>> {
    let meta = serde_json::to_vec(meta).map_err(|e| invalid(format!("encode snapshot: {e}")))?;
    let mut crc = crc32c::crc32c(&meta);
    crc = crc32c::crc32c_append(crc, data);
    let mut out = Vec::with_capacity(HEADER + meta.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    out.extend_from_slice(&(data.len() as u64).to_be_bytes());
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(data);
    Ok(out)
}

fn decode_snapshot(bytes: &[u8]) -> io::Result<StoredSnapshot> {
    let bad = |what: &str| invalid(format!("{SNAPSHOT_FILE}: {what}"));
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(bad("bad header"));
    }
    let meta_len = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as u64;
    let mut data_len = [0u8; 8];
    data_len.copy_from_slice(&bytes[12..20]);
    let data_len = u64::from_be_bytes(data_len);
    let crc = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    if HEADER as u64 + meta_len + data_len != bytes.len() as u64 {
        return Err(bad("length mismatch"));
    }
    let body = &bytes[HEADER..];
    if crc32c::crc32c(body) != crc {
        return Err(bad("CRC mismatch"));
    }
    let (meta, data) = body.split_at(meta_len as usize);
    let meta: SnapshotMeta =
        serde_json::from_slice(meta).map_err(|e| bad(&format!("meta: {e}")))?;
    Ok(StoredSnapshot {
        meta,
        data: Arc::new(data.to_vec()),
    })
}

fn sm_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(&e).into()
}

impl StateMachine {
    /// Open the state machine: restore the stored snapshot (if any) into the applier
    /// (blocking: file read and `restore`).
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        applier: Arc<dyn MetadataApplier>,
    ) -> anyhow::Result<StateMachine> {
        let stored = match read_whole(storage.as_ref(), &dir.join(SNAPSHOT_FILE))? {
            Some(bytes) => Some(decode_snapshot(&bytes)?),
            None => None,
        };
        let mut applied = Applied::default();
        if let Some(snap) = &stored {
            if let Some(last) = snap.meta.last_log_id {
                applier.restore(last.index, &snap.data)?;
            }
            applied.last_applied = snap.meta.last_log_id;
            applied.membership = snap.meta.last_membership.clone();
        }
        let applied_next = applied.last_applied.map_or(0, |l| l.index + 1);
        Ok(StateMachine {
            shared: Arc::new(Shared {
                applier,
                storage,
                dir: dir.to_path_buf(),
                state: Mutex::new(applied),
                snapshot: Mutex::new(stored),
                applied_next: Arc::new(AtomicU64::new(applied_next)),
                snapshot_seq: AtomicU64::new(0),
            }),
        })
    }

    /// `last_applied.index + 1` (0 = nothing applied), updated as entries are applied.
    pub fn applied_next(&self) -> Arc<AtomicU64> {
        self.shared.applied_next.clone()
    }

    /// Write `snap` as the current snapshot unless a newer one is already stored.
    async fn store_snapshot(&self, snap: StoredSnapshot) -> Result<(), StorageError> {
        let mut current = self.shared.snapshot.lock().await;
        if let Some(cur) = current.as_ref() {
            if cur.meta.last_log_id > snap.meta.last_log_id {
                return Ok(());
            }
        }
        let signature = Some(snap.meta.signature());
        let to_err = |e: io::Error| -> StorageError {
            StorageIOError::write_snapshot(signature.clone(), &e).into()
        };
        let bytes = encode_snapshot(&snap.meta, &snap.data).map_err(to_err)?;
        let storage = self.shared.storage.clone();
        let dir = self.shared.dir.clone();
        tokio::task::spawn_blocking(move || {
            write_atomic(storage.as_ref(), &dir, SNAPSHOT_FILE, &bytes)
        })
        .await
        .map_err(|e| to_err(io::Error::other(e.to_string())))?
        .map_err(to_err)?;
        *current = Some(snap);
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (meta, data) = {
            let state = self.shared.state.lock().await;
            // The applier's own index may be lower (blank and membership entries do not reach
            // it); the snapshot covers everything up to `last_applied`.
            let (_applier_index, data) = self.shared.applier.snapshot();
            let seq = self.shared.snapshot_seq.fetch_add(1, Ordering::Relaxed);
            let id = match state.last_applied {
                Some(l) => format!(
                    "{}-{}-{}-{seq}",
                    l.leader_id.term, l.leader_id.node_id, l.index
                ),
                None => format!("none-{seq}"),
            };
            let meta = SnapshotMeta {
                last_log_id: state.last_applied,
                last_membership: state.membership.clone(),
                snapshot_id: id,
            };
            (meta, Arc::new(data))
        };
        self.store_snapshot(StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        })
        .await?;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "built a metadata snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data.as_ref().clone())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let state = self.shared.state.lock().await;
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<u64>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut state = self.shared.state.lock().await;
        let mut responses = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            match entry.payload {
                EntryPayload::Normal(payload) => self.shared.applier.apply(index, &payload.0),
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), m);
                }
                EntryPayload::Blank => {}
            }
            state.last_applied = Some(entry.log_id);
            self.shared.applied_next.store(index + 1, Ordering::Release);
            responses.push(index);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = Arc::new(snapshot.into_inner());
        let mut state = self.shared.state.lock().await;
        if let Some(last) = meta.last_log_id {
            self.shared
                .applier
                .restore(last.index, &data)
                .map_err(|e| sm_err(io::Error::other(format!("restore snapshot: {e:#}"))))?;
        }
        state.last_applied = meta.last_log_id;
        state.membership = meta.last_membership.clone();
        let next = meta.last_log_id.map_or(0, |l| l.index + 1);
        self.shared.applied_next.store(next, Ordering::Release);
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "installed a metadata snapshot");
        // Stored while `state` is held: no snapshot built concurrently can describe a state
        // older than the one just installed and still win.
        self.store_snapshot(StoredSnapshot {
            meta: meta.clone(),
            data,
        })
        .await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let current = self.shared.snapshot.lock().await;
        Ok(current.as_ref().map(|s| Snapshot {
            meta: s.meta.clone(),
            snapshot: Box::new(Cursor::new(s.data.as_ref().clone())),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_file_round_trips_and_detects_corruption() {
        let meta = SnapshotMeta {
            last_log_id: Some(LogId::new(openraft::CommittedLeaderId::new(2, 1), 42)),
            last_membership: StoredMembership::default(),
            snapshot_id: "2-1-42-0".into(),
        };
        let bytes = encode_snapshot(&meta, b"image").unwrap();
        let snap = decode_snapshot(&bytes).unwrap();
        assert_eq!(snap.meta, meta);
        assert_eq!(snap.data.as_slice(), b"image");
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(decode_snapshot(&bad).is_err());
        assert!(decode_snapshot(&bytes[..bytes.len() - 1]).is_err());
    }
}
