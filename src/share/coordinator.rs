//! The share coordinator's state (KIP-932's share coordinator, as a pure state machine): the
//! latest snapshot of every share-partition whose `__share_group_state` partition this broker
//! leads, and the fencing rules of Kafka's ReadShareGroupState / WriteShareGroupState /
//! InitializeShareGroupState / DeleteShareGroupState.
//!
//! - A share-partition's state exists once it is initialized (by its share-partition leader
//!   on first use, or by AlterShareGroupOffsets); a write to state that does not exist, or
//!   carries another state epoch than the stored one, is fenced with FENCED_STATE_EPOCH — the
//!   writer holds a copy from before a reset or a delete and must read the state again.
//! - A read or write carrying a leader epoch older than the newest one seen is fenced with
//!   FENCED_LEADER_EPOCH: a share-partition leader that lost its topic partition cannot
//!   overwrite what the new leader wrote.
//! - Every write is a full snapshot numbered by its writer (the snapshot epoch): a snapshot
//!   older than the stored one (two writes overtaking each other on the way) is not stored;
//!   the stored one is written again instead, so the caller still waits for a commit that
//!   contains its changes.
//!
//! The runtime (`server::share_runtime`) appends what these functions return to the state
//! topic and answers once it is committed; it loads a state partition with [`StateStore::load`]
//! when it becomes its leader.

use std::collections::HashMap;

use uuid::Uuid;

use super::partition::Snapshot;
use super::records::{DlqPending, StateKey, StateValue};

/// Kafka error codes.
pub const FENCED_LEADER_EPOCH: i16 = 74;
pub const FENCED_STATE_EPOCH: i16 = 124;

/// A WriteShareGroupState of one share-partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub state_epoch: i32,
    pub leader_epoch: i32,
    /// The writer's numbering of its snapshots (skua's writers); None: a writer that does not
    /// number them (the write is newer than what is stored).
    pub snapshot_epoch: Option<i32>,
    pub create_timestamp: i64,
    pub snapshot: Snapshot,
    pub dlq_pending: Vec<DlqPending>,
}

#[derive(Debug, Default)]
pub struct StateStore {
    entries: HashMap<StateKey, StateValue>,
    /// State partitions loaded, with the leader epoch they were loaded under.
    loaded: HashMap<i32, i32>,
    /// The last state epoch of share-partitions deleted since their state partition was
    /// loaded: a new initialization goes past it.
    deleted: HashMap<StateKey, i32>,
    /// The number of state partitions (to map keys to them).
    partitions: i32,
}

impl StateStore {
    pub fn new() -> StateStore {
        StateStore::default()
    }

    /// Whether state partition `p` was loaded under leader epoch `epoch`.
    pub fn is_loaded(&self, p: i32, epoch: i32) -> bool {
        self.loaded.get(&p) == Some(&epoch)
    }

    /// (Re)load state partition `p` of `partitions` under leader epoch `epoch` from its
    /// records in log order (a value, or None for a tombstone).
    pub fn load(
        &mut self,
        p: i32,
        partitions: i32,
        epoch: i32,
        records: impl IntoIterator<Item = (StateKey, Option<StateValue>)>,
    ) {
        self.unload(p, partitions);
        for (k, v) in records {
            match v {
                Some(v) => {
                    self.deleted.remove(&k);
                    self.entries.insert(k, v);
                }
                None => {
                    if let Some(old) = self.entries.remove(&k) {
                        self.deleted.insert(k, old.state_epoch);
                    }
                }
            }
        }
        self.loaded.insert(p, epoch);
    }

    /// Forget state partition `p` (its leadership moved).
    pub fn unload(&mut self, p: i32, partitions: i32) {
        self.partitions = partitions;
        self.entries
            .retain(|k, _| k.state_partition(partitions) != p);
        self.deleted
            .retain(|k, _| k.state_partition(partitions) != p);
        self.loaded.remove(&p);
    }

    /// ReadShareGroupState: the state of `key` (None: not initialized). A leader epoch newer
    /// than the stored one is remembered (an older writer is fenced from now on).
    pub fn read(&mut self, key: &StateKey, leader_epoch: i32) -> Result<Option<StateValue>, i16> {
        let Some(v) = self.entries.get_mut(key) else {
            return Ok(None);
        };
        if leader_epoch >= 0 {
            if leader_epoch < v.leader_epoch {
                return Err(FENCED_LEADER_EPOCH);
            }
            v.leader_epoch = leader_epoch;
        }
        Ok(Some(v.clone()))
    }

    /// The stored state of `key`, without fencing (summaries).
    pub fn get(&self, key: &StateKey) -> Option<&StateValue> {
        self.entries.get(key)
    }

    /// WriteShareGroupState: the value to append (and now stored).
    pub fn write(&mut self, key: &StateKey, w: StateWrite, now: i64) -> Result<StateValue, i16> {
        let Some(cur) = self.entries.get_mut(key) else {
            return Err(FENCED_STATE_EPOCH);
        };
        if w.state_epoch != cur.state_epoch {
            return Err(FENCED_STATE_EPOCH);
        }
        if w.leader_epoch < cur.leader_epoch {
            return Err(FENCED_LEADER_EPOCH);
        }
        let snapshot_epoch = w
            .snapshot_epoch
            .unwrap_or_else(|| cur.snapshot_epoch.saturating_add(1));
        if snapshot_epoch <= cur.snapshot_epoch {
            // Overtaken by a newer snapshot of the same writer: that one stands.
            cur.leader_epoch = cur.leader_epoch.max(w.leader_epoch);
            return Ok(cur.clone());
        }
        *cur = StateValue {
            snapshot_epoch,
            state_epoch: cur.state_epoch,
            leader_epoch: w.leader_epoch.max(cur.leader_epoch),
            create_timestamp: w.create_timestamp,
            write_timestamp: now,
            snapshot: w.snapshot,
            dlq_pending: w.dlq_pending,
        };
        Ok(cur.clone())
    }

    /// InitializeShareGroupState: the share-partition starts at `start_offset` with nothing
    /// in flight, under a state epoch of at least `state_epoch` and past any earlier one.
    /// Returns the value to append.
    pub fn initialize(
        &mut self,
        key: &StateKey,
        state_epoch: i32,
        start_offset: i64,
        now: i64,
    ) -> StateValue {
        let old = self.entries.get(key);
        let prev_state = old
            .map(|v| v.state_epoch)
            .or_else(|| self.deleted.get(key).copied());
        let state_epoch = match prev_state {
            Some(p) => state_epoch.max(p.saturating_add(1)),
            None => state_epoch,
        };
        let v = StateValue {
            snapshot_epoch: old.map_or(0, |v| v.snapshot_epoch.saturating_add(1)),
            state_epoch,
            leader_epoch: old.map_or(-1, |v| v.leader_epoch),
            create_timestamp: now,
            write_timestamp: now,
            snapshot: Snapshot {
                start_offset,
                batches: Vec::new(),
            },
            dlq_pending: Vec::new(),
        };
        self.deleted.remove(key);
        self.entries.insert(key.clone(), v.clone());
        v
    }

    /// DeleteShareGroupState: whether `key` had state (a tombstone is then due).
    pub fn delete(&mut self, key: &StateKey) -> bool {
        match self.entries.remove(key) {
            Some(old) => {
                self.deleted.insert(key.clone(), old.state_epoch);
                true
            }
            None => false,
        }
    }

    /// The share-partitions of `group` (of topic `topic`, or every topic) with state here.
    pub fn keys_of(&self, group: &str, topic: Option<Uuid>) -> Vec<StateKey> {
        let mut keys: Vec<StateKey> = self
            .entries
            .keys()
            .filter(|k| k.group == group && topic.is_none_or(|t| t == k.topic_id))
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// Share-partitions with dead-letter copies pending.
    pub fn with_dlq_pending(&self) -> Vec<StateKey> {
        let mut keys: Vec<StateKey> = self
            .entries
            .iter()
            .filter(|(_, v)| !v.dlq_pending.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }
}

#[cfg(test)]
#[path = "coordinator_tests.rs"]
mod tests;
