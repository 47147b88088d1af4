//! Loading and unloading `__transaction_state` partitions on the transaction runtime's task
//! (see txn_runtime.rs): a load reads the partition on a blocking task and replays it here; a
//! newer leader epoch of a loaded partition reloads it; an unload drops its transactions.

use kafka_protocol::records::Record as KRecord;
use tokio::sync::oneshot;

use super::{apply_record, note_epochs, Msg, Runtime, TXN_TOPIC};
use crate::api::now_ms;
use crate::server::internal_topic::{self, LoadOutcome, LoadStep, PartitionState};
use crate::txn::types::TimerKey;

impl Runtime {
    pub(super) fn load(
        &mut self,
        partition: i32,
        leader_epoch: i32,
        done: oneshot::Sender<LoadOutcome>,
    ) {
        let before = self.served.state(partition);
        let mut step = self.served.begin_load(partition, leader_epoch);
        if let (
            LoadStep::AlreadyLoaded { leader_epoch: now },
            Some(PartitionState::Loaded { leader_epoch: was }),
        ) = (step, before)
        {
            if now > was {
                // A new coordinator epoch: reload, so that markers in flight are sent again
                // with it (Kafka's transaction coordinator reloads too).
                self.unload(partition);
                step = self.served.begin_load(partition, now);
            }
        }
        let generation = match step {
            LoadStep::Stale => {
                tracing::info!(
                    partition,
                    leader_epoch,
                    "ignoring a stale load of {TXN_TOPIC}"
                );
                let _ = done.send(LoadOutcome::Stale);
                return;
            }
            LoadStep::AlreadyLoaded { .. } => {
                let _ = done.send(LoadOutcome::AlreadyLoaded);
                return;
            }
            LoadStep::AlreadyLoading => {
                self.load_waiters.entry(partition).or_default().push(done);
                return;
            }
            LoadStep::Start { generation } => generation,
        };
        self.load_waiters.entry(partition).or_default().push(done);
        let p = self.broker.partition(TXN_TOPIC, partition);
        let back = self.self_tx.clone();
        tokio::task::spawn_blocking(move || {
            let records = match p {
                Some(p) => internal_topic::read_records(TXN_TOPIC, &p).map_err(|e| e.to_string()),
                None => Err(format!("{TXN_TOPIC}-{partition} is not hosted here")),
            };
            if let Some(tx) = back.upgrade() {
                let _ = tx.send(Msg::Read {
                    partition,
                    generation,
                    records,
                });
            }
        });
    }

    pub(super) fn finish_load(
        &mut self,
        partition: i32,
        generation: u64,
        records: Result<Vec<KRecord>, String>,
    ) {
        let records = match records {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(partition, "cannot load {TXN_TOPIC}: {e}");
                self.served.fail_load(partition, generation);
                self.notify_load(partition, LoadOutcome::Failed(e));
                return;
            }
        };
        let Some(leader_epoch) = self.served.finish_load(partition, generation) else {
            return;
        };
        let now = now_ms();
        for r in &records {
            apply_record(&mut self.coordinator, partition, r, now);
        }
        let c = &self.coordinator;
        note_epochs(&self.broker, c, |t| {
            c.transaction_state_partition(t) == partition
        });
        tracing::info!(
            partition,
            leader_epoch,
            records = records.len(),
            "loaded {TXN_TOPIC}"
        );
        let outcome = self
            .coordinator
            .partition_loaded(now, partition, leader_epoch);
        self.deliver(outcome, &[partition]);
        self.notify_load(
            partition,
            LoadOutcome::Loaded {
                records: records.len(),
            },
        );
    }

    fn notify_load(&mut self, partition: i32, outcome: LoadOutcome) {
        for w in self.load_waiters.remove(&partition).unwrap_or_default() {
            let _ = w.send(outcome.clone());
        }
    }

    pub(super) fn unload(&mut self, partition: i32) {
        let Some(was) = self.served.unload(partition) else {
            return;
        };
        self.notify_load(partition, LoadOutcome::Cancelled);
        let coordinator = &self.coordinator;
        let in_partition = |t: &str| coordinator.transaction_state_partition(t) == partition;
        self.marker_tasks.retain(|tid, task| {
            let keep = !in_partition(tid);
            if !keep {
                task.abort();
            }
            keep
        });
        // Their PrepareCommit/PrepareAbort is committed: the next coordinator writes the
        // markers; the client's EndTxn succeeded.
        let parked: Vec<String> = self
            .parked
            .keys()
            .filter(|t| in_partition(t))
            .cloned()
            .collect();
        for tid in parked {
            for (tx, resp) in self.parked.remove(&tid).unwrap_or_default() {
                let _ = tx.send(resp);
            }
        }
        self.timers.retain(|k| match k {
            TimerKey::TxnTimeout { transactional_id } => !in_partition(transactional_id),
            TimerKey::ExpireTransactionalIds => true,
        });
        self.last_appended.remove(&partition);
        let outcome = self.coordinator.unload_partition(partition);
        self.deliver(outcome, &[]);
        tracing::info!(partition, ?was, "unloaded {TXN_TOPIC}");
    }
}
