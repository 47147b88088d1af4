//! Coordinator partitions: the transactional ids of one `__transaction_state` partition
//! ([`TransactionCoordinator::transaction_state_partition`]) move between brokers together,
//! with the leadership of that partition. Loading is replay (the runtime feeds the
//! partition's records to [`TransactionCoordinator::replay`], then calls
//! [`TransactionCoordinator::partition_loaded`] with the partition's leader epoch, which
//! becomes the coordinator epoch of its markers); unloading forgets them, as Kafka's
//! `removeTransactionsForTxnTopicPartition`.

use super::state::TxnState;
use super::types::{Outcome, PartitionsUpdate, TimerOp};
use super::{timeout_key, TransactionCoordinator, COORDINATOR_EPOCH};

impl TransactionCoordinator {
    /// The coordinator epoch markers of `partition`'s transactions carry.
    pub fn coordinator_epoch(&self, partition: i32) -> i32 {
        self.coordinator_epochs
            .get(&partition)
            .copied()
            .unwrap_or(COORDINATOR_EPOCH)
    }

    /// The partition stays loaded with a newer leader epoch: later markers carry it.
    pub fn set_coordinator_epoch(&mut self, partition: i32, coordinator_epoch: i32) {
        self.coordinator_epochs.insert(partition, coordinator_epoch);
    }

    /// After the records of `partition` were replayed: markers again for its transactions
    /// that were completing (with `coordinator_epoch`), partition sets and timeouts for its
    /// ongoing ones.
    pub fn partition_loaded(
        &mut self,
        now_ms: i64,
        partition: i32,
        coordinator_epoch: i32,
    ) -> Outcome {
        self.coordinator_epochs.insert(partition, coordinator_epoch);
        let n = self.config.transaction_state_partitions;
        self.txns_loaded(now_ms, |tid| {
            crate::group::partition_for(tid, n) == partition
        })
    }

    /// This broker no longer coordinates `partition`: forget its transactional ids and
    /// cancel their timeouts; the produce path's view of their ongoing transactions is
    /// cleared (this coordinator no longer vouches for them). Nothing is written: the log
    /// keeps them for the next leader, which completes or times out what was in flight.
    pub fn unload_partition(&mut self, partition: i32) -> Outcome {
        let mut out = Outcome::default();
        let tids: Vec<String> = self
            .txns
            .keys()
            .filter(|t| self.transaction_state_partition(t) == partition)
            .cloned()
            .collect();
        for tid in tids {
            let Some(m) = self.txns.remove(&tid) else {
                continue;
            };
            if m.state == TxnState::Ongoing {
                out.partitions.push(PartitionsUpdate::Clear {
                    producer_id: m.producer_id,
                });
            }
            out.timers.push(TimerOp::Cancel {
                key: timeout_key(&tid),
            });
        }
        self.coordinator_epochs.remove(&partition);
        out
    }
}
