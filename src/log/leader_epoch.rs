//! The leader-epoch cache of a partition: for each leader epoch, the first offset written in
//! it. OffsetForLeaderEpoch answers from it, so clients can detect log truncation after a
//! leader change.
//!
//! # On-disk format (Kafka's `leader-epoch-checkpoint`)
//!
//! ```text
//! 0                      version
//! 2                      number of entries
//! 0 0                    epoch start_offset
//! 3 1200
//! ```
//!
//! Replaced atomically (tmp, fsync, rename, fsync dir) whenever it changes: a new epoch's
//! first batch (a follower writes it *before* the batch, as Kafka does, so an entry is never
//! missing for data on disk; one past the log end is dropped on open), a truncation of the
//! log end (recovery, `truncate_to`), a log start offset moving past an entry (retention,
//! DeleteRecords), or `truncate_fully_and_start_at` (cleared). If the file is missing or unreadable when the log is
//! opened, it is rebuilt from the batch headers (each batch carries its partition leader
//! epoch).
//!
//! # Invariants
//!
//! Entries are strictly increasing in both epoch and start offset; all epochs are >= 0.

use std::io;
use std::path::Path;

use super::storage::{read_whole, write_atomic, Storage};

pub(super) const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";
const VERSION: i32 = 0;

/// Kafka's "no epoch" and "no offset" answers.
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

#[derive(Debug, Clone, Default)]
pub(super) struct LeaderEpochCache {
    /// (epoch, start offset), increasing in both.
    entries: Vec<(i32, i64)>,
    /// What the checkpoint file holds (None: unknown or missing), so that unchanged entries
    /// are never rewritten (e.g. an empty partition's epoch, dropped at the log end on open
    /// and assigned again right after).
    persisted: Option<Vec<(i32, i64)>>,
}

impl PartialEq for LeaderEpochCache {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}
impl Eq for LeaderEpochCache {}

impl LeaderEpochCache {
    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.0)
    }

    /// Record that `epoch` starts at `start_offset`. Only a newer epoch is recorded (an
    /// older or equal one is already covered); entries starting at or after `start_offset`
    /// (left by a truncated log) are replaced. Returns whether anything changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 || self.latest_epoch().is_some_and(|l| l >= epoch) {
            return false;
        }
        self.entries.retain(|&(_, o)| o < start_offset);
        self.entries.push((epoch, start_offset));
        true
    }

    /// Record the epoch of a batch a follower copied from its leader, starting at
    /// `start_offset` (Kafka's `LeaderEpochFileCache.assign`): every entry with a newer
    /// epoch, or starting at or after `start_offset`, is removed, so a stale entry left at
    /// the log end by a leadership that appended nothing gives way even to an older epoch;
    /// then the epoch is added unless the last remaining entry is that epoch already (Kafka
    /// would re-add it at `start_offset`, forgetting where it really began). Returns whether
    /// anything changed.
    pub fn assign_replicated(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        let before = self.entries.len();
        self.entries
            .retain(|&(e, o)| e <= epoch && o < start_offset);
        let mut changed = self.entries.len() != before;
        if self.latest_epoch() != Some(epoch) {
            self.entries.push((epoch, start_offset));
            changed = true;
        }
        changed
    }

    /// Forget every entry (the log starts over).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Kafka's `epochForOffset`: the epoch of the last entry starting at or before
    /// `offset`.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.entries
            .iter()
            .rev()
            .find(|&&(_, o)| o <= offset)
            .map(|&(e, _)| e)
    }

    /// Drop entries starting at or after `end_offset` (the log was truncated there).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|&(_, o)| o < end_offset);
        self.entries.len() != before
    }

    /// The log now starts at `start_offset`: drop entries wholly below it and move the
    /// start of the one covering it up to it (Kafka's `truncateFromStart`).
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let covering = self.entries.iter().rposition(|&(_, o)| o <= start_offset);
        let Some(i) = covering else {
            return false;
        };
        let changed = i > 0 || self.entries[i].1 != start_offset;
        self.entries.drain(..i);
        self.entries[0].1 = start_offset;
        changed
    }

    /// Kafka's `endOffsetFor`: the epoch and end offset for a requested epoch. The latest
    /// epoch ends at the log end offset; an older one at the start of the next higher epoch
    /// (answered with the largest known epoch at or below the requested one, or the
    /// requested one when it precedes them all); an unknown newer epoch, or -1, is
    /// (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET).
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested == UNDEFINED_EPOCH {
            return undefined;
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let Some(&(_, higher_start)) = self.entries.iter().find(|&&(e, _)| e > requested) else {
            return undefined;
        };
        match self.entries.iter().rev().find(|&&(e, _)| e <= requested) {
            Some(&(floor, _)) => (floor, higher_start),
            None => (requested, higher_start),
        }
    }

    pub fn encode(&self) -> String {
        let mut out = format!("{VERSION}\n{}\n", self.entries.len());
        for (e, o) in &self.entries {
            out.push_str(&format!("{e} {o}\n"));
        }
        out
    }

    /// Parse a checkpoint; None if it is not a valid one.
    pub fn parse(text: &str) -> Option<LeaderEpochCache> {
        let mut lines = text.lines();
        if lines.next()?.trim().parse::<i32>().ok()? != VERSION {
            return None;
        }
        let count: usize = lines.next()?.trim().parse().ok()?;
        let mut entries: Vec<(i32, i64)> = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let mut parts = lines.next()?.split_whitespace();
            let epoch: i32 = parts.next()?.parse().ok()?;
            let offset: i64 = parts.next()?.parse().ok()?;
            if parts.next().is_some() || epoch < 0 || offset < 0 {
                return None;
            }
            if entries
                .last()
                .is_some_and(|&(e, o)| e >= epoch || o >= offset)
            {
                return None;
            }
            entries.push((epoch, offset));
        }
        if lines.any(|l| !l.trim().is_empty()) {
            return None;
        }
        Some(LeaderEpochCache {
            persisted: Some(entries.clone()),
            entries,
        })
    }

    /// Read the checkpoint in `dir`: Ok(None) if missing or invalid.
    pub fn read(storage: &dyn Storage, dir: &Path) -> io::Result<Option<LeaderEpochCache>> {
        let Some(bytes) = read_whole(storage, &dir.join(LEADER_EPOCH_FILE))? else {
            return Ok(None);
        };
        let parsed = std::str::from_utf8(&bytes).ok().and_then(Self::parse);
        if parsed.is_none() {
            tracing::warn!(dir = %dir.display(), "invalid leader-epoch-checkpoint; rebuilding it");
        }
        Ok(parsed)
    }

    /// Whether the entries differ from the checkpoint file.
    pub fn is_dirty(&self) -> bool {
        self.persisted.as_ref() != Some(&self.entries)
    }

    /// Write the checkpoint if it differs from the file.
    pub fn write(&mut self, storage: &dyn Storage, dir: &Path) -> io::Result<()> {
        if self.is_dirty() {
            write_atomic(storage, dir, LEADER_EPOCH_FILE, self.encode().as_bytes())?;
            self.persisted = Some(self.entries.clone());
        }
        Ok(())
    }
}

impl super::PartitionLog {
    /// Load the leader-epoch checkpoint at open, or rebuild it from the batch headers if it
    /// is missing or invalid; then drop entries past the log end offset and below the log
    /// start offset. Rewritten if anything changed.
    ///
    /// A truncation alone is written with the next change or append (`write_payload` checks
    /// `is_dirty`), so the entry of an empty partition's epoch, dropped here because it
    /// starts at the log end offset and assigned again when the partition is hosted, costs
    /// no write; until then every open truncates the file's entries the same way.
    pub(super) fn load_leader_epochs(&mut self) -> Result<(), super::LogError> {
        let (mut cache, rebuilt) = match LeaderEpochCache::read(self.storage.as_ref(), &self.dir)? {
            Some(c) => (c, false),
            None => (self.scan_leader_epochs()?, true),
        };
        cache.truncate_from_end(self.log_end_offset);
        cache.truncate_from_start(self.log_start_offset);
        self.leader_epochs = cache;
        // A missing file reads as an empty cache, so an empty rebuild (a new partition)
        // needs no file: the first epoch assigned writes it. That saves a new partition
        // one checkpoint write (two fsyncs and a rename).
        if rebuilt && !self.leader_epochs.entries().is_empty() {
            self.leader_epochs.write(self.storage.as_ref(), &self.dir)?;
        }
        Ok(())
    }

    /// The epochs of the log's batches from the log start offset: each epoch's first batch.
    fn scan_leader_epochs(&self) -> Result<LeaderEpochCache, super::LogError> {
        use super::segment::{BatchReader, Scan, VERIFY_CHUNK};
        let mut cache = LeaderEpochCache::default();
        for seg in self.segments.values() {
            let mut reader =
                BatchReader::new(std::sync::Arc::clone(&seg.log), 0, seg.size, VERIFY_CHUNK);
            while let Scan::Batch(_, h) = reader.next_header()? {
                if h.last_offset() >= self.log_start_offset {
                    cache.assign(
                        h.partition_leader_epoch,
                        h.base_offset.max(self.log_start_offset),
                    );
                }
            }
        }
        Ok(cache)
    }

    /// Save the cache after a change. Running out of descriptors, space or memory leaves
    /// the old file whole (`write_atomic`) and the partition online, the cache dirty: the
    /// next append writes it again. Any other failure takes it offline.
    pub(super) fn persist_leader_epochs(&mut self) -> Result<(), super::LogError> {
        match self.leader_epochs.write(self.storage.as_ref(), &self.dir) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail_soft(e, "write the leader-epoch checkpoint of")),
        }
    }

    /// Record that batches of `epoch` start at `start_offset` (the first batch appended in a
    /// new epoch). Nothing is written for an epoch already known.
    pub(super) fn note_leader_epoch(
        &mut self,
        epoch: i32,
        start_offset: i64,
    ) -> Result<(), super::LogError> {
        self.leader_epochs.assign(epoch, start_offset);
        self.persist_leader_epochs()
    }

    /// The log start offset moved: forget the epochs wholly below it.
    pub(super) fn leader_epochs_follow_log_start(&mut self) -> Result<(), super::LogError> {
        self.leader_epochs
            .truncate_from_start(self.log_start_offset);
        match self.persist_leader_epochs() {
            // Entries below the log start offset left in the file are harmless (an open
            // drops them); the log start offset itself is already persisted.
            Err(_) if !self.offline => Ok(()),
            r => r,
        }
    }

    /// This node became leader with `epoch`: the epoch starts at the log end offset unless
    /// it is already known (Kafka's `maybeAssignEpochStartOffset` on becoming leader).
    pub fn assign_leader_epoch(&mut self, epoch: i32) -> Result<(), super::LogError> {
        self.check_online()?;
        self.note_leader_epoch(epoch, self.log_end_offset)
    }

    /// OffsetForLeaderEpoch: (epoch, end offset) for a requested epoch, Kafka's answer
    /// (`(-1, -1)` for an unknown newer epoch or -1).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.leader_epochs
            .end_offset_for(epoch, self.log_end_offset)
    }

    /// The (epoch, start offset) entries of the leader-epoch cache.
    pub fn leader_epoch_entries(&self) -> Vec<(i32, i64)> {
        self.leader_epochs.entries().to_vec()
    }

    /// The newest leader epoch in the cache (a follower's `last_fetched_epoch`), if any.
    pub fn latest_leader_epoch(&self) -> Option<i32> {
        self.leader_epochs.latest_epoch()
    }

    /// The leader epoch `offset` was written in, by the cache: the epoch of the last entry
    /// starting at or before it (Kafka's `epochForOffset`; no bound by the log end offset).
    pub fn leader_epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.leader_epochs.epoch_for_offset(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        LeaderEpochCache {
            entries: entries.to_vec(),
            persisted: None,
        }
    }

    #[test]
    fn checkpoint_round_trips_in_kafkas_format() {
        let c = cache(&[(0, 0), (3, 1200)]);
        assert_eq!(c.encode(), "0\n2\n0 0\n3 1200\n");
        assert_eq!(LeaderEpochCache::parse(&c.encode()), Some(c));
        assert_eq!(
            LeaderEpochCache::parse("0\n0\n"),
            Some(LeaderEpochCache::default())
        );
    }

    #[test]
    fn invalid_checkpoints_are_rejected() {
        for bad in [
            "",
            "1\n0\n",
            "0\n2\n0 0\n",
            "0\n1\n0\n",
            "0\n2\n1 5\n1 6\n",
            "0\n2\n1 5\n2 5\n",
            "0\n1\n-1 0\n",
            "0\n1\n0 0 0\n",
            "0\n1\n0 0\n1 1\n",
        ] {
            assert_eq!(LeaderEpochCache::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn assign_records_only_newer_epochs() {
        let mut c = LeaderEpochCache::default();
        assert!(c.assign(0, 0));
        assert!(!c.assign(0, 10));
        assert!(c.assign(2, 10));
        assert!(!c.assign(1, 20));
        assert_eq!(c.entries(), &[(0, 0), (2, 10)]);
        // A newer epoch at an offset an entry already claims replaces it (truncated log).
        assert!(c.assign(3, 10));
        assert_eq!(c.entries(), &[(0, 0), (3, 10)]);
    }

    #[test]
    fn assign_replicated_follows_kafkas_cache() {
        let mut c = cache(&[(0, 0), (2, 10)]);
        assert!(!c.assign_replicated(2, 15), "same epoch, later offset");
        assert!(c.assign_replicated(3, 20));
        assert_eq!(c.entries(), &[(0, 0), (2, 10), (3, 20)]);
        // A stale entry at the log end (leader that appended nothing) gives way to an older
        // epoch the new leader's log has there.
        assert!(c.assign_replicated(2, 20));
        assert_eq!(c.entries(), &[(0, 0), (2, 10)]);
        assert!(c.assign_replicated(2, 5));
        assert_eq!(c.entries(), &[(0, 0), (2, 5)]);
        assert!(!c.assign_replicated(-1, 30));
        assert_eq!(c.epoch_for_offset(4), Some(0));
        assert_eq!(c.epoch_for_offset(5), Some(2));
        assert_eq!(c.epoch_for_offset(1000), Some(2));
        assert_eq!(cache(&[(1, 5)]).epoch_for_offset(4), None);
        c.clear();
        assert_eq!(c.entries(), &[]);
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let c = cache(&[(1, 5), (3, 20), (4, 30)]);
        assert_eq!(c.end_offset_for(4, 42), (4, 42));
        assert_eq!(c.end_offset_for(3, 42), (3, 30));
        assert_eq!(c.end_offset_for(2, 42), (1, 20));
        assert_eq!(c.end_offset_for(1, 42), (1, 20));
        assert_eq!(c.end_offset_for(0, 42), (0, 5));
        assert_eq!(c.end_offset_for(5, 42), (-1, -1));
        assert_eq!(c.end_offset_for(-1, 42), (-1, -1));
        assert_eq!(LeaderEpochCache::default().end_offset_for(0, 0), (-1, -1));
    }

    #[test]
    fn truncation_from_both_ends() {
        let mut c = cache(&[(1, 5), (3, 20), (4, 30)]);
        assert!(c.truncate_from_end(30));
        assert_eq!(c.entries(), &[(1, 5), (3, 20)]);
        assert!(!c.truncate_from_end(31));
        assert!(c.truncate_from_start(25));
        assert_eq!(c.entries(), &[(3, 25)]);
        assert!(!c.truncate_from_start(25));
        assert!(!c.truncate_from_start(2));
        assert_eq!(c.entries(), &[(3, 25)]);
    }
}
