//! The high watermarks of the data directory's partitions in one checkpoint file, Kafka's
//! `replication-offset-checkpoint`, written every `replica.high.watermark.checkpoint.interval.ms`
//! (5 s) when a high watermark changed, and at shutdown. One write and two fsyncs per
//! interval whatever the partition count (per-partition files cost two fsyncs each, 20,000
//! per interval across 10,000 busy partitions).
//!
//! At start-up the file is read once and each replica gets its value when it is opened
//! ([`crate::log::PartitionLog::recover_high_watermark`]). Values of partitions not hosted
//! (yet) stay in the file while their directory exists.

use std::sync::Arc;

use crate::log::offset_checkpoint::{self, Offsets, REPLICATION_OFFSET_CHECKPOINT};
use crate::log::OsStorage;

use super::partition::Partition;
use super::Broker;

/// The checkpoint's state in memory.
#[derive(Debug, Default)]
pub struct HwCheckpoints {
    /// Read at start-up, for replicas not opened yet; an entry goes when its replica opens.
    recovered: Offsets,
    /// Something other than a hosted partition's value changed (an entry above went), so
    /// the next checkpoint writes even if no high watermark moved.
    dirty: bool,
}

impl HwCheckpoints {
    /// Read the data directory's checkpoint; an unreadable one is logged and ignored (each
    /// replica then starts from its log start offset, a safe lower bound).
    pub fn load(dir: &std::path::Path) -> HwCheckpoints {
        let recovered =
            match offset_checkpoint::read(&OsStorage, dir, REPLICATION_OFFSET_CHECKPOINT) {
                Ok(found) => found.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!("ignoring {REPLICATION_OFFSET_CHECKPOINT}: {e}");
                    Offsets::default()
                }
            };
        HwCheckpoints {
            recovered,
            dirty: false,
        }
    }
}

impl Broker {
    /// The checkpointed high watermark of a replica being opened, if any (once).
    pub(super) fn take_recovered_high_watermark(&self, topic: &str, index: i32) -> Option<i64> {
        let mut cp = self
            .hw_checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let v = cp.recovered.remove(&(topic.to_string(), index));
        cp.dirty |= v.is_some();
        v
    }

    /// Write the checkpoint if a hosted partition's high watermark changed since the last
    /// one (or `force`). Running out of descriptors or space is reported (rate-limited)
    /// and tried again at the next interval; nothing goes offline for it.
    pub fn checkpoint_high_watermarks(&self, force: bool) {
        let partitions: Vec<Arc<Partition>> = self
            .all_topics()
            .iter()
            .flat_map(|t| t.hosted().cloned().collect::<Vec<_>>())
            .collect();
        let mut changed = force;
        let mut values = Vec::with_capacity(partitions.len());
        for p in &partitions {
            let log = p.log();
            let hw = log.high_watermark();
            changed |= log.high_watermark_to_checkpoint().is_some();
            values.push(hw);
        }
        let mut cp = self
            .hw_checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Entries of replicas not hosted stay while their directory does (a replica that
        // could not be opened yet); those of deleted ones go.
        let before = cp.recovered.len();
        cp.recovered
            .retain(|(t, i), _| self.partition_dir(t, *i).exists());
        cp.dirty |= cp.recovered.len() != before;
        if !changed && !cp.dirty {
            return;
        }
        let entries = partitions
            .iter()
            .zip(&values)
            .map(|(p, &hw)| (p.topic.as_str(), p.index, hw))
            .chain(
                cp.recovered
                    .iter()
                    .map(|((t, i), &hw)| (t.as_str(), *i, hw)),
            );
        let written = offset_checkpoint::write(
            &OsStorage,
            &self.config.data_dir,
            REPLICATION_OFFSET_CHECKPOINT,
            entries,
        );
        match written {
            Ok(()) => {
                cp.dirty = false;
                drop(cp);
                for (p, &hw) in partitions.iter().zip(&values) {
                    p.log().high_watermark_checkpointed(hw);
                }
            }
            Err(e) => {
                if crate::resource::report(&e, &REPLICATION_OFFSET_CHECKPOINT).is_none() {
                    tracing::error!("writing {REPLICATION_OFFSET_CHECKPOINT} failed: {e}");
                }
            }
        }
    }
}
