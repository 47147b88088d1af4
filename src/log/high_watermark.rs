//! The high watermark of a partition: the offset below which every record is replicated to
//! the whole ISR (committed), and its checkpoint file.
//!
//! # Two modes
//!
//! * **Follows the log end offset** (the default, a partition nobody replicates): every
//!   appended record counts as committed, so the high watermark *is* the log end offset, at
//!   all times (after appends, truncations and on open).
//! * **Managed** (`set_high_watermark_managed(true)`, a replicated partition): the replica
//!   layer sets it with [`PartitionLog::set_high_watermark`] (a leader: the minimum log end
//!   offset of the ISR; a follower: the leader's high watermark). It only moves forward
//!   there, clamped to `[log_start_offset, log_end_offset]` (Kafka's
//!   `maybeIncrementHighWatermark` / `maybeUpdateHighWatermark`); truncation lowers it to the
//!   new log end offset when it was above.
//!
//! Either way `log_start_offset <= last_stable_offset <= high_watermark <= log_end_offset`
//! (except for the moment inside a follower append that restarts an empty log below its log
//! start offset). Retention never deletes a segment that is not wholly below the high
//! watermark, and the log start offset never moves past it (Kafka's rules).
//!
//! # On-disk format and durability
//!
//! The broker checkpoints every partition's high watermark in one file per log directory,
//! Kafka's `replication-offset-checkpoint` (`offset_checkpoint.rs`), every
//! `replica.high.watermark.checkpoint.interval.ms` when one changed
//! ([`PartitionLog::high_watermark_to_checkpoint`], [`PartitionLog::high_watermark_checkpointed`]),
//! and at shutdown; it hands the value back after open
//! ([`PartitionLog::recover_high_watermark`]). One write per interval, whatever the
//! partition count: per-partition files cost two fsyncs per partition per interval, which
//! across 10,000 partitions took the disk from producers and consumers.
//!
//! `high-watermark` in the partition directory (the value as decimal text and a newline,
//! replaced atomically by [`PartitionLog::checkpoint_high_watermark`]) remains for what the
//! log does alone: a truncation that lowered the value below a checkpoint writes the lower
//! value there at once, and `close` writes it when the directory's checkpoint does not hold
//! the value (a log used without a broker). Where both exist the lower one counts; the
//! broker's next checkpoint removes the partition's file.
//!
//! On open the partition is in follows mode (high watermark = log end offset) and remembers
//! the checkpoint, clamped to `[log_start_offset, log_end_offset]` when used: a missing or
//! unreadable file counts as the log start offset (Kafka's default of 0, clamped). The
//! first switch to managed mode starts from that value, as a restarted Kafka replica
//! starts from its checkpoint: a lower bound of what was committed, which the leader's ISR
//! bookkeeping (or the follower's next fetch) raises again. Once something was appended in
//! follows mode, those appends were committed by definition, so a later switch starts from
//! the log end offset instead.
//!
//! # Concurrency
//!
//! Plain fields of the `PartitionLog`, under the partition lock.

use std::io;

use super::partition::PartitionLog;
use super::storage::{read_whole, write_atomic};
use super::LogError;

pub(super) const HIGH_WATERMARK_FILE: &str = "high-watermark";

#[derive(Debug, Clone, Default)]
pub(super) struct HighWatermark {
    /// The managed value; unused while the high watermark follows the log end offset.
    value: i64,
    /// The replica layer manages the value (else it is the log end offset).
    managed: bool,
    /// The checkpoint read at open (`None` once something was appended in follows mode):
    /// where the first switch to managed mode starts.
    recovered: Option<i64>,
    /// What the partition's own `high-watermark` file holds, if there is one (left by an
    /// older version, by a truncation, or written by `close` when the log directory's
    /// checkpoint did not hold the value).
    persisted: Option<i64>,
    /// What the log directory's `replication-offset-checkpoint` holds for this partition.
    checkpointed: Option<i64>,
}

impl HighWatermark {
    /// Something was appended: in follows mode that data is committed, so the checkpoint
    /// read at open no longer bounds what was exposed.
    pub fn appended(&mut self) {
        if !self.managed {
            self.recovered = None;
        }
    }
}

impl PartitionLog {
    /// The high watermark: the log end offset unless the replica layer manages it.
    pub fn high_watermark(&self) -> i64 {
        if self.hw.managed {
            self.hw.value
        } else {
            self.log_end_offset
        }
    }

    /// Whether the replica layer manages the high watermark.
    pub fn is_high_watermark_managed(&self) -> bool {
        self.hw.managed
    }

    /// Switch between a managed high watermark (`true`: only `set_high_watermark` moves it)
    /// and one that follows the log end offset (`false`, the default). Switching to managed
    /// starts from the checkpointed high watermark when nothing was appended since open,
    /// else from the log end offset (see the module notes); switching back makes it the log
    /// end offset again.
    pub fn set_high_watermark_managed(&mut self, managed: bool) {
        if managed == self.hw.managed {
            return;
        }
        self.hw.managed = managed;
        if managed {
            let start = self
                .hw
                .recovered
                .take()
                .unwrap_or(self.log_end_offset)
                .clamp(
                    self.log_start_offset,
                    self.log_end_offset.max(self.log_start_offset),
                );
            self.hw.value = start;
        }
    }

    /// Move a managed high watermark forward to `hw`, clamped to `[log_start_offset,
    /// log_end_offset]`. Never backwards (only truncation lowers it); a no-op in follows
    /// mode. Returns whether it moved (then delayed fetches may be able to complete).
    pub fn set_high_watermark(&mut self, hw: i64) -> bool {
        if !self.hw.managed {
            return false;
        }
        let clamped = hw.min(self.log_end_offset).max(self.log_start_offset);
        if clamped > self.hw.value {
            self.hw.value = clamped;
            true
        } else {
            false
        }
    }

    /// Write the high watermark to `high-watermark` if it changed since the last write. A
    /// write that ran out of a resource is tried again next time; any other failed write
    /// takes the partition offline.
    pub fn checkpoint_high_watermark(&mut self) -> Result<(), LogError> {
        self.check_online()?;
        let hw = self.high_watermark();
        if self.hw.persisted == Some(hw) {
            return Ok(());
        }
        if let Err(e) = self.write_high_watermark(hw) {
            // Out of descriptors or space: the old checkpoint stays whole and the next one
            // tries again; the partition stays online.
            return Err(self.fail_soft(e, "checkpoint the high watermark of"));
        }
        Ok(())
    }

    fn write_high_watermark(&mut self, hw: i64) -> io::Result<()> {
        write_atomic(
            self.storage.as_ref(),
            &self.dir,
            HIGH_WATERMARK_FILE,
            format!("{hw}\n").as_bytes(),
        )?;
        self.hw.persisted = Some(hw);
        Ok(())
    }

    /// At open, after the log start and end offsets are known: remember the checkpoint.
    pub(super) fn load_high_watermark(&mut self) -> io::Result<()> {
        let bytes = read_whole(self.storage.as_ref(), &self.dir.join(HIGH_WATERMARK_FILE))?;
        let parsed = bytes.as_deref().and_then(|b| {
            std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|&hw| hw >= 0)
        });
        if bytes.is_some() && parsed.is_none() {
            tracing::warn!(dir = %self.dir.display(), "unreadable {HIGH_WATERMARK_FILE}; ignoring it");
        }
        self.hw = HighWatermark {
            value: self.log_end_offset,
            managed: false,
            recovered: Some(parsed.unwrap_or(self.log_start_offset)),
            persisted: parsed,
            checkpointed: None,
        };
        Ok(())
    }

    /// Right after open: the log directory's checkpoint holds `hw` for this partition. The
    /// recovered value is the lower of it and the partition's own file, if any (a
    /// truncation writes the lowered value there at once; either is a lower bound of what
    /// was committed).
    pub fn recover_high_watermark(&mut self, hw: i64) {
        self.hw.checkpointed = Some(hw);
        if let Some(recovered) = self.hw.recovered.as_mut() {
            *recovered = match self.hw.persisted {
                Some(own) => own.min(hw),
                None => hw,
            };
        }
    }

    /// The high watermark, if the log directory's checkpoint does not hold it yet.
    pub fn high_watermark_to_checkpoint(&self) -> Option<i64> {
        let hw = self.high_watermark();
        (self.hw.checkpointed != Some(hw)).then_some(hw)
    }

    /// The log directory's checkpoint now holds `hw` (written and synced). The partition's
    /// own file goes unless it holds a lower value (a truncation since `hw` was read).
    pub fn high_watermark_checkpointed(&mut self, hw: i64) {
        self.hw.checkpointed = Some(hw);
        if self.hw.persisted.is_some_and(|own| own >= hw) {
            match self
                .storage
                .remove_file(&self.dir.join(HIGH_WATERMARK_FILE))
            {
                Ok(()) => self.hw.persisted = None,
                Err(e) if e.kind() == io::ErrorKind::NotFound => self.hw.persisted = None,
                Err(_) => {}
            }
        }
    }

    /// After a truncation: a managed high watermark above the new log end offset comes down
    /// to it (and the checkpoint with it, so a restart does not resurrect the old value for
    /// data that may be re-appended differently); after starting over, it is the new log
    /// start offset.
    pub(super) fn clamp_high_watermark(&mut self) -> Result<(), LogError> {
        let hw = self
            .hw
            .value
            .min(self.log_end_offset)
            .max(self.log_start_offset);
        self.hw.value = hw;
        let durable_above = self.hw.persisted.is_some_and(|p| p > hw)
            || self.hw.checkpointed.is_some_and(|c| c > hw);
        if self.hw.managed && durable_above {
            if let Err(e) = self.write_high_watermark(hw) {
                return Err(self.fail_soft(e, "checkpoint the high watermark of"));
            }
        }
        Ok(())
    }
}
