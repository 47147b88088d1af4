//! openraft's `RaftLogStorage` (storage v2) over the segment files of `segments.rs`.
//!
//! The entries after the last purge are also kept in memory (a `BTreeMap` by index): the
//! metadata log is bounded by snapshots (`snapshot_every_logs` plus the few kept after a
//! snapshot), and readers (replication tasks) then never touch the disk.
//!
//! ## Concurrency
//! openraft serializes every write (append, truncate, purge, vote, committed) through `&mut
//! self` on the one `LogStore` it owns; log readers are clones that only read `memory`. Disk
//! work runs on the blocking pool under the `disk` mutex and is awaited before the operation
//! returns, so writes reach the disk in the order openraft issued them. An append is readable
//! from memory before it is durable, and reported durable (the `LogFlushed` callback) only
//! after the fsync.
//!
//! Any I/O error is returned as a `StorageError`, which stops the raft node (openraft treats
//! storage errors as fatal): we never retry and pretend.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogState, RaftLogReader, StorageIOError, Vote};

use super::segments::{Disk, PersistentState};
use super::types::{Entry, LogId, NodeId, StorageError, TypeConfig};
use crate::log::storage::Storage;

/// The durable raft log. Cloning gives a reader over the same log.
#[derive(Clone)]
pub struct LogStore {
    memory: Arc<Mutex<Memory>>,
    disk: Arc<Mutex<Disk>>,
}

#[derive(Debug)]
struct Memory {
    entries: BTreeMap<u64, Entry>,
    state: PersistentState,
}

fn io_err(subject: ErrorSubject<NodeId>, verb: ErrorVerb, e: io::Error) -> StorageError {
    StorageIOError::new(subject, verb, &e).into()
}

fn poisoned() -> io::Error {
    io::Error::other("raft log lock poisoned by a panic")
}

impl LogStore {
    /// Open and recover the log in `dir` (blocking).
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        segment_max_entries: usize,
    ) -> io::Result<LogStore> {
        let recovered = Disk::open(storage, dir, segment_max_entries)?;
        let entries = recovered
            .entries
            .into_iter()
            .map(|e| (e.log_id.index, e))
            .collect();
        Ok(LogStore {
            memory: Arc::new(Mutex::new(Memory {
                entries,
                state: recovered.state,
            })),
            disk: Arc::new(Mutex::new(recovered.disk)),
        })
    }

    fn memory(&self) -> io::Result<MutexGuard<'_, Memory>> {
        self.memory.lock().map_err(|_| poisoned())
    }

    /// Run `f` on the disk on the blocking pool and wait for it.
    async fn with_disk<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Disk) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let disk = self.disk.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = disk.lock().map_err(|_| poisoned())?;
            f(&mut guard)
        })
        .await
        .map_err(|e| io::Error::other(format!("raft log I/O task failed: {e}")))?
    }

    /// Update the persistent state in memory with `change`, then write it to disk.
    async fn save_state(&self, change: impl FnOnce(&mut PersistentState)) -> io::Result<()> {
        let state = {
            let mut memory = self.memory()?;
            change(&mut memory.state);
            memory.state.clone()
        };
        self.with_disk(move |disk| disk.save_state(&state)).await
    }

    fn last_log_id(memory: &Memory) -> Option<LogId> {
        memory
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(memory.state.last_purged)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let memory = self
            .memory()
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        Ok(memory
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let memory = self
            .memory()
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        Ok(LogState {
            last_purged_log_id: memory.state.last_purged,
            last_log_id: Self::last_log_id(&memory),
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let vote = *vote;
        self.save_state(move |s| s.vote = Some(vote))
            .await
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        let memory = self
            .memory()
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Read, e))?;
        Ok(memory.state.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.save_state(move |s| s.committed = committed)
            .await
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, e))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let memory = self
            .memory()
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Read, e))?;
        Ok(memory.state.committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let to_err = |e| io_err(ErrorSubject::Logs, ErrorVerb::Write, e);
        {
            let mut memory = self.memory().map_err(to_err)?;
            let next = Self::last_log_id(&memory).map_or(0, |l| l.index + 1);
            for (expected, entry) in (next..).zip(&entries) {
                if entry.log_id.index != expected {
                    return Err(to_err(io::Error::other(format!(
                        "raft log append at {} does not follow {}",
                        entry.log_id.index,
                        expected.saturating_sub(1)
                    ))));
                }
            }
            for entry in &entries {
                memory.entries.insert(entry.log_id.index, entry.clone());
            }
        }
        let result = self.with_disk(move |disk| disk.append(&entries)).await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let err = to_err(io::Error::new(e.kind(), e.to_string()));
                callback.log_io_completed(Err(e));
                Err(err)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let to_err = |e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e);
        {
            let mut memory = self.memory().map_err(to_err)?;
            memory.entries.split_off(&log_id.index);
        }
        self.with_disk(move |disk| disk.truncate(log_id.index))
            .await
            .map_err(to_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let to_err = |e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e);
        let state = {
            let mut memory = self.memory().map_err(to_err)?;
            if memory.state.last_purged >= Some(log_id) {
                return Ok(());
            }
            memory.state.last_purged = Some(log_id);
            memory.entries = memory.entries.split_off(&(log_id.index + 1));
            memory.state.clone()
        };
        // last_purged is durable before any segment goes: a crash in between leaves extra
        // entries (ignored on open), never a hole.
        self.with_disk(move |disk| {
            disk.save_state(&state)?;
            disk.purge(log_id.index)
        })
        .await
        .map_err(to_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::storage::OsStorage;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn open(dir: &Path) -> LogStore {
        LogStore::open(Arc::new(OsStorage), dir, 4).unwrap()
    }

    #[tokio::test]
    async fn vote_committed_and_purge_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let vote = Vote::new(3, 2);
        store.save_vote(&vote).await.unwrap();
        for i in 0..10 {
            store.memory().unwrap().entries.insert(i, entry(1, i));
        }
        store
            .with_disk(|d| d.append(&(0..10).map(|i| entry(1, i)).collect::<Vec<_>>()))
            .await
            .unwrap();
        store
            .save_committed(Some(entry(1, 7).log_id))
            .await
            .unwrap();
        store.purge(entry(1, 5).log_id).await.unwrap();
        drop(store);

        let mut store = open(dir.path());
        assert_eq!(store.read_vote().await.unwrap(), Some(vote));
        assert_eq!(
            store.read_committed().await.unwrap(),
            Some(entry(1, 7).log_id)
        );
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(entry(1, 5).log_id));
        assert_eq!(state.last_log_id, Some(entry(1, 9).log_id));
        let got = store.try_get_log_entries(0..100).await.unwrap();
        let indexes: Vec<u64> = got.iter().map(|e| e.log_id.index).collect();
        assert_eq!(indexes, vec![6, 7, 8, 9]);
    }

    #[tokio::test]
    async fn truncate_removes_the_conflicting_suffix_durably() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let entries: Vec<Entry> = (0..9).map(|i| entry(1, i)).collect();
        {
            let mut memory = store.memory().unwrap();
            for e in &entries {
                memory.entries.insert(e.log_id.index, e.clone());
            }
        }
        store.with_disk(move |d| d.append(&entries)).await.unwrap();
        store.truncate(entry(1, 3).log_id).await.unwrap();
        assert_eq!(
            store.get_log_state().await.unwrap().last_log_id,
            Some(entry(1, 2).log_id)
        );
        drop(store);
        let mut store = open(dir.path());
        let got = store.try_get_log_entries(..).await.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            store.get_log_state().await.unwrap().last_log_id,
            Some(entry(1, 2).log_id)
        );
    }
}
