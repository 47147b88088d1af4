//! The transaction coordinator: Kafka's producer ids and epochs (InitProducerId, KIP-360
//! epoch bumps, zombie fencing), transactions (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
//! the transaction timeout), their administration (DescribeTransactions,
//! ListTransactions) and the expiry of idle transactional ids, as a pure state machine: no
//! tokio, no I/O, no clock, no randomness (producer ids come from a [`ProducerIdAllocator`]).
//! It follows Kafka's TransactionCoordinator for transactions V1 (the epoch is bumped by
//! InitProducerId and by fencing) and V2 (KIP-890 part 2, EndTxn v5: every EndTxn bumps the
//! epoch too, and brokers add partitions for the producer, see end.rs and partitions.rs).
//!
//! # How it is driven
//!
//! The runtime calls [`TransactionCoordinator::handle`] for each request,
//! [`TransactionCoordinator::on_timer`] when an armed timer fires, and
//! [`TransactionCoordinator::markers_written`] once every marker of a [`MarkerRequest`] is
//! durably written, always with the current time; each returns an [`Outcome`]: records to
//! append to `__transaction_state`, then responses to send (every response is in the same
//! Outcome as the record it depends on, so it leaves only after that record is persisted),
//! marker writes to start, partition-set updates for the produce path (KIP-890
//! verification) and timer operations. At startup it feeds every `__transaction_state` record
//! to [`TransactionCoordinator::replay`] in log order, then calls
//! [`TransactionCoordinator::loaded`] once (also when the log is empty): transactions that
//! were completing get their markers again, ongoing ones their partition sets and timeouts
//! (counted from their start, not from the restart), and the expiry timer is armed.
//!
//! # Persistent state
//!
//! One record per transactional id, keyed by it so compaction keeps the latest (Kafka's
//! `TransactionLogKey`/`TransactionLogValue`, see records.rs); a tombstone when the id
//! expires. Every transition builds the next metadata, emits its record and applies it
//! through `replay`, the path startup uses, so memory after a restart equals memory before it,
//! except for two fields Kafka keeps only in memory too (`last_producer_epoch`,
//! `previous_producer_id`: a KIP-360 retry after a restart is answered PRODUCER_FENCED, as in
//! Kafka). Kafka's transient `PrepareEpochFence` and `Dead` never exist here: a fence is
//! written directly as PrepareAbort with the bumped epoch (what Kafka's fence writes too), and
//! an expiry is the tombstone.
//!
//! If the runtime cannot append an Outcome's records it uses `outcome.with_error(15)`;
//! memory is then ahead of the log until the next successful write or a restart (as in
//! src/group; Kafka would roll its in-memory state back).
//!
//! # Timers
//!
//! Kafka scans for timed-out transactions every
//! `transaction.abort.timed.out.transaction.cleanup.interval.ms`; skua arms one
//! [`TimerKey::TxnTimeout`] per ongoing transaction at start + timeout instead (same effect,
//! exact). A timed-out transaction is aborted with an epoch bump, which fences the producer.
//! Expiry of idle transactional ids runs on the periodic
//! [`TimerKey::ExpireTransactionalIds`] like Kafka's.
//!
//! # Concurrency
//!
//! One coordinator serves every transactional id of the `__transaction_state` partitions
//! loaded on this broker (all of them on a single node; in a cluster those it leads, loaded
//! and unloaded with [`TransactionCoordinator::partition_loaded`] /
//! [`TransactionCoordinator::unload_partition`]); it is not synchronized (the runtime owns
//! it). Markers carry the coordinator epoch of their transaction's partition: its leader
//! epoch, 0 on a single node.

pub mod errors;
pub mod records;
pub mod state;
pub mod types;

mod admin;
mod end;
mod init;
mod load;
mod partitions;
pub mod routing;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use records::TxnRecordError;
pub use state::{TransactionMetadata, TxnState};

use errors::*;
use records::TxnValue;
use types::*;

/// The coordinator epoch written into markers of partitions loaded at startup by
/// [`TransactionCoordinator::loaded`] (a single node's leader epoch, which never changes);
/// partitions loaded with [`TransactionCoordinator::partition_loaded`] use their leader epoch.
pub const COORDINATOR_EPOCH: i32 = 0;

/// Kafka's internal topic for group offsets, whose partitions AddOffsetsToTxn adds.
pub const CONSUMER_OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The longest string a record can hold (`i16` length prefix).
const MAX_RECORD_STRING_BYTES: usize = i16::MAX as usize;

/// The transaction coordinator for every transactional id of this broker.
pub struct TransactionCoordinator {
    config: TxnConfig,
    ids: Box<dyn ProducerIdAllocator>,
    txns: BTreeMap<String, TransactionMetadata>,
    /// The coordinator epoch of each loaded `__transaction_state` partition (its leader
    /// epoch); [`COORDINATOR_EPOCH`] for partitions loaded by [`Self::loaded`].
    coordinator_epochs: BTreeMap<i32, i32>,
}

impl TransactionCoordinator {
    pub fn new(config: TxnConfig, ids: Box<dyn ProducerIdAllocator>) -> Self {
        TransactionCoordinator {
            config,
            ids,
            txns: BTreeMap::new(),
            coordinator_epochs: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    /// Handle one request at time `now_ms`. Its response is always in the returned Outcome.
    pub fn handle(&mut self, now_ms: i64, id: RequestId, request: Request) -> Outcome {
        let mut out = Outcome::default();
        if !strings_fit_records(&request) {
            out.responses
                .push((id, error_response(&request, INVALID_REQUEST)));
            return out;
        }
        let response = match request {
            Request::InitProducerId {
                transactional_id,
                transaction_timeout_ms,
                producer_id,
                producer_epoch,
                version,
            } => {
                let init = init::InitRequest {
                    transactional_id,
                    timeout_ms: transaction_timeout_ms,
                    producer_id,
                    producer_epoch,
                };
                self.init_producer_id(now_ms, init, version, &mut out)
            }
            Request::AddPartitions {
                transactional_id,
                producer_id,
                producer_epoch,
                partitions,
                verify_only,
                version,
                tv2,
            } => {
                let producer = (transactional_id.as_str(), producer_id, producer_epoch);
                if verify_only {
                    self.verify_partitions(producer, &partitions, version)
                } else {
                    let add = (partitions, version, tv2);
                    self.add_partitions_request(now_ms, producer, add, &mut out)
                }
            }
            Request::AddOffsets {
                transactional_id,
                producer_id,
                producer_epoch,
                group_id,
                version,
            } => {
                let producer = (transactional_id.as_str(), producer_id, producer_epoch);
                self.add_offsets(now_ms, producer, &group_id, version, &mut out)
            }
            Request::EndTxn {
                transactional_id,
                producer_id,
                producer_epoch,
                commit,
                version,
            } => {
                let producer = (transactional_id.as_str(), producer_id, producer_epoch);
                if version >= 5 {
                    let (error, producer_id, producer_epoch) =
                        self.end_txn_v2(now_ms, producer, commit, &mut out);
                    Response::EndTxn {
                        error,
                        producer_id,
                        producer_epoch,
                    }
                } else {
                    let error = self.end_txn(now_ms, producer, commit, &mut out);
                    Response::end_txn_error(for_version(error, Api::EndTxn, version))
                }
            }
            Request::Describe { transactional_ids } => self.describe(&transactional_ids),
            Request::List {
                state_filters,
                producer_id_filters,
                duration_filter_ms,
                transactional_id_pattern,
            } => self.list(
                now_ms,
                &state_filters,
                &producer_id_filters,
                duration_filter_ms,
                transactional_id_pattern.as_deref(),
            ),
        };
        out.responses.push((id, response));
        out
    }

    /// Every marker of the [`MarkerRequest`] for this producer is durably written: the
    /// transaction completes (CompleteCommit/CompleteAbort persisted). Ignored unless the
    /// transactional id is still completing a transaction of exactly this producer id and
    /// epoch (a stale or repeated call).
    pub fn markers_written(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Outcome {
        let mut out = Outcome::default();
        let pending = self.txns.get(transactional_id).is_some_and(|m| {
            m.state.is_prepare()
                && m.producer_id == producer_id
                && m.producer_epoch == producer_epoch
        });
        if pending {
            self.complete(now_ms, transactional_id, &mut out);
        }
        out
    }

    /// A timer armed earlier fired. Stale firings (the transaction it was armed for has
    /// ended, or was restarted later) are ignored or re-armed.
    pub fn on_timer(&mut self, now_ms: i64, key: TimerKey) -> Outcome {
        let mut out = Outcome::default();
        match key {
            TimerKey::TxnTimeout { transactional_id } => {
                self.on_txn_timeout(now_ms, &transactional_id, &mut out)
            }
            TimerKey::ExpireTransactionalIds => {
                self.expire_transactional_ids(now_ms, &mut out);
                let interval = self.config.remove_expired_transaction_cleanup_interval_ms;
                set_timer(&mut out, TimerKey::ExpireTransactionalIds, now_ms, interval);
            }
        }
        out
    }

    /// Apply one `__transaction_state` record (startup replay, in log order; also the path
    /// every record `handle` emits goes through). A tombstone removes the transactional id.
    /// State is unchanged when the record does not decode. Kafka never writes the transient
    /// states; should a log hold them, `Dead` is read as a removal and `PrepareEpochFence`
    /// as `PrepareAbort` (the only way a fence continues), so `loaded` completes the abort.
    pub fn replay(
        &mut self,
        _now_ms: i64,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), TxnRecordError> {
        let transactional_id = records::decode_key(key)?;
        let value = value.map(TxnValue::decode).transpose()?;
        match value.map(|v| v.to_metadata()) {
            None => {
                self.txns.remove(&transactional_id);
            }
            Some(m) if m.state == TxnState::Dead => {
                self.txns.remove(&transactional_id);
            }
            Some(mut m) => {
                if m.state == TxnState::PrepareEpochFence {
                    m.state = TxnState::PrepareAbort;
                }
                self.txns.insert(transactional_id, m);
            }
        }
        Ok(())
    }

    /// After replay at startup: markers again for transactions that were completing,
    /// partition sets and timeout timers for ongoing ones, and the periodic expiry timer.
    pub fn loaded(&mut self, now_ms: i64) -> Outcome {
        let mut out = self.txns_loaded(now_ms, |_| true);
        let interval = self.config.remove_expired_transaction_cleanup_interval_ms;
        set_timer(&mut out, TimerKey::ExpireTransactionalIds, now_ms, interval);
        out
    }

    /// Markers again for the transactions `select` picks that were completing, partition
    /// sets and timeout timers for the ongoing ones (after their records were replayed).
    fn txns_loaded(&mut self, now_ms: i64, select: impl Fn(&str) -> bool) -> Outcome {
        let mut out = Outcome::default();
        let tids: Vec<String> = self.txns.keys().filter(|t| select(t)).cloned().collect();
        for tid in tids {
            let Some(m) = self.txns.get(&tid) else {
                continue;
            };
            match m.state {
                TxnState::Ongoing => {
                    out.partitions.push(PartitionsUpdate::Set {
                        producer_id: m.producer_id,
                        producer_epoch: m.producer_epoch,
                        partitions: m.partition_list(),
                    });
                    out.timers.push(TimerOp::Set {
                        key: timeout_key(&tid),
                        deadline_ms: m.timeout_deadline_ms(),
                    });
                }
                TxnState::PrepareCommit | TxnState::PrepareAbort => {
                    self.send_markers_or_complete(now_ms, &tid, &mut out)
                }
                _ => {}
            }
        }
        out
    }

    /// The `__transaction_state` partition of a transactional id: Kafka's
    /// `Utils.abs(transactionalId.hashCode) % transaction.state.log.num.partitions`.
    pub fn transaction_state_partition(&self, transactional_id: &str) -> i32 {
        crate::group::partition_for(transactional_id, self.config.transaction_state_partitions)
    }

    /// A transactional id's metadata, for admin and tests.
    pub fn transaction(&self, transactional_id: &str) -> Option<&TransactionMetadata> {
        self.txns.get(transactional_id)
    }

    /// Every transactional id, sorted.
    pub fn transactional_ids(&self) -> Vec<String> {
        self.txns.keys().cloned().collect()
    }

    /// Emits `next`'s record and applies it through [`Self::replay`]; then restores the
    /// in-memory-only fields, which a record does not carry.
    fn persist(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        next: TransactionMetadata,
        out: &mut Outcome,
    ) {
        let key = records::encode_key(transactional_id);
        let value = TxnValue::from_metadata(&next).encode();
        let applied = self.replay(now_ms, &key, Some(&value));
        assert!(applied.is_ok(), "own record does not decode: {applied:?}");
        let Some(m) = self.txns.get_mut(transactional_id) else {
            unreachable!("replayed record of {transactional_id} left no metadata");
        };
        assert!(
            m.same_record(&next),
            "record does not round-trip: {m:?} vs {next:?}"
        );
        m.last_producer_epoch = next.last_producer_epoch;
        m.previous_producer_id = next.previous_producer_id;
        out.records.push(Record {
            partition: self.transaction_state_partition(transactional_id),
            key,
            value: Some(value),
        });
    }

    /// Emits the tombstone of an expired transactional id and applies it.
    fn tombstone(&mut self, now_ms: i64, transactional_id: &str, out: &mut Outcome) {
        let key = records::encode_key(transactional_id);
        let applied = self.replay(now_ms, &key, None);
        assert!(applied.is_ok(), "own key does not decode: {applied:?}");
        out.records.push(Record {
            partition: self.transaction_state_partition(transactional_id),
            key,
            value: None,
        });
    }
}

pub(crate) fn timeout_key(transactional_id: &str) -> TimerKey {
    TimerKey::TxnTimeout {
        transactional_id: transactional_id.to_string(),
    }
}

/// Arms `key` at `now + delay_ms` (negative delays fire at once).
fn set_timer(out: &mut Outcome, key: TimerKey, now_ms: i64, delay_ms: i64) {
    let deadline_ms = now_ms.saturating_add(delay_ms.max(0));
    out.timers.push(TimerOp::Set { key, deadline_ms });
}

/// Whether every string a request may write into a record fits Kafka's `i16` lengths.
/// Kafka would fail such a write; skua rejects the request up front (INVALID_REQUEST).
fn strings_fit_records(request: &Request) -> bool {
    let fits = |s: &str| s.len() <= MAX_RECORD_STRING_BYTES;
    match request {
        Request::InitProducerId {
            transactional_id, ..
        } => transactional_id.as_deref().is_none_or(fits),
        Request::AddPartitions {
            transactional_id,
            partitions,
            ..
        } => fits(transactional_id) && partitions.iter().all(|(t, _)| fits(t)),
        Request::AddOffsets {
            transactional_id, ..
        }
        | Request::EndTxn {
            transactional_id, ..
        } => fits(transactional_id),
        Request::Describe { .. } | Request::List { .. } => true,
    }
}
