//! AddPartitionsToTxn and AddOffsetsToTxn (which adds the group's `__consumer_offsets`
//! partition): a transaction begins with its first partition; each change of the set is
//! persisted, then published to the produce path ([`PartitionsUpdate::Set`]). Also the
//! broker-side verification (AddPartitionsToTxn v4+ `verify_only`, KIP-890), which never
//! changes state.

use super::errors::*;
use super::state::{TransactionMetadata, TxnState};
use super::types::{ErrorCode, Outcome, PartitionsUpdate, Response, TimerOp, TopicPartition};
use super::{timeout_key, TransactionCoordinator, CONSUMER_OFFSETS_TOPIC};
use crate::group::partition_for;

/// (transactional_id, producer_id, producer_epoch) of a request.
pub(super) type Producer<'a> = (&'a str, i64, i16);

impl TransactionCoordinator {
    /// Kafka's checks shared by AddPartitions, AddOffsets, verification and EndTxn: the
    /// transactional id is known and mapped to this producer id, and the epoch is current.
    pub(super) fn check_producer(
        &self,
        (tid, producer_id, epoch): Producer<'_>,
    ) -> Result<&TransactionMetadata, ErrorCode> {
        if tid.is_empty() {
            return Err(INVALID_REQUEST);
        }
        match self.txns.get(tid) {
            Some(m) if m.producer_id != producer_id => Err(INVALID_PRODUCER_ID_MAPPING),
            Some(m) if m.producer_epoch != epoch => Err(PRODUCER_FENCED),
            Some(m) => Ok(m),
            None => Err(INVALID_PRODUCER_ID_MAPPING),
        }
    }

    /// AddPartitionsToTxn (not `verify_only`): the transaction's error on every partition.
    /// `tv2`: added by a broker for a transactions-V2 client.
    pub(super) fn add_partitions_request(
        &mut self,
        now_ms: i64,
        producer: Producer<'_>,
        (partitions, version, tv2): (Vec<TopicPartition>, i16, bool),
        out: &mut Outcome,
    ) -> Response {
        let error = self.add_partitions(now_ms, producer, &partitions, tv2, out);
        let error = for_version(error, Api::AddPartitions, version);
        Response::AddPartitions {
            error,
            partitions: partitions.into_iter().map(|tp| (tp, error)).collect(),
        }
    }

    /// AddOffsetsToTxn: adds the group's `__consumer_offsets` partition (the group
    /// coordinator's `partition_for`).
    pub(super) fn add_offsets(
        &mut self,
        now_ms: i64,
        producer: Producer<'_>,
        group_id: &str,
        version: i16,
        out: &mut Outcome,
    ) -> Response {
        let p = partition_for(group_id, self.config.offsets_topic_partitions);
        let partition = (CONSUMER_OFFSETS_TOPIC.to_string(), p);
        let error = self.add_partitions(now_ms, producer, &[partition], false, out);
        Response::AddOffsets {
            error: for_version(error, Api::AddOffsets, version),
        }
    }

    /// Adds partitions to the producer's transaction, starting it if none is open. Returns
    /// the error for the whole transaction (without the version rewrite of "fenced"). A
    /// transaction started or extended by a `tv2` add is marked client transaction version 2
    /// (Kafka's prepareAddPartitions with the request's transaction version).
    fn add_partitions(
        &mut self,
        now_ms: i64,
        producer: Producer<'_>,
        partitions: &[TopicPartition],
        tv2: bool,
        out: &mut Outcome,
    ) -> ErrorCode {
        let m = match self.check_producer(producer) {
            Ok(m) => m,
            Err(e) => return e,
        };
        let next = match m.state {
            // Markers are being written (the transient states never exist here).
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::Dead
            | TxnState::PrepareEpochFence => return CONCURRENT_TRANSACTIONS,
            // Already in the transaction: answered at once, nothing to write.
            TxnState::Ongoing if partitions.iter().all(|tp| m.partitions.contains(tp)) => {
                return NONE
            }
            TxnState::Ongoing => {
                let mut next = m.clone();
                next.partitions.extend(partitions.iter().cloned());
                next.last_update_timestamp_ms = now_ms;
                if tv2 {
                    next.client_transaction_version = 2;
                }
                next
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let mut next = m.clone();
                next.state = TxnState::Ongoing;
                next.partitions = partitions.iter().cloned().collect();
                next.start_timestamp_ms = now_ms;
                next.last_update_timestamp_ms = now_ms;
                next.client_transaction_version = if tv2 { 2 } else { 0 };
                out.timers.push(TimerOp::Set {
                    key: timeout_key(producer.0),
                    deadline_ms: next.timeout_deadline_ms(),
                });
                next
            }
        };
        out.partitions.push(PartitionsUpdate::Set {
            producer_id: next.producer_id,
            producer_epoch: next.producer_epoch,
            partitions: next.partition_list(),
        });
        self.persist(now_ms, producer.0, next, out);
        NONE
    }

    /// `verify_only`: whether each partition is already in the producer's transaction
    /// (INVALID_TXN_STATE if not, TRANSACTION_ABORTABLE from v5, which added it to the API;
    /// Kafka ≥ 3.8 sends 120 to every version and lets the produce path rewrite it).
    pub(super) fn verify_partitions(
        &self,
        producer: Producer<'_>,
        partitions: &[TopicPartition],
        version: i16,
    ) -> Response {
        let checked = self.check_producer(producer).and_then(|m| {
            if m.state.is_prepare() {
                Err(CONCURRENT_TRANSACTIONS)
            } else {
                Ok(m)
            }
        });
        match checked {
            Err(e) => {
                let error = for_version(e, Api::AddPartitions, version);
                Response::AddPartitions {
                    error,
                    partitions: partitions.iter().map(|tp| (tp.clone(), error)).collect(),
                }
            }
            Ok(m) => {
                let missing = if version >= 5 {
                    TRANSACTION_ABORTABLE
                } else {
                    INVALID_TXN_STATE
                };
                let code = |tp: &TopicPartition| {
                    if m.partitions.contains(tp) {
                        NONE
                    } else {
                        missing
                    }
                };
                Response::AddPartitions {
                    error: NONE,
                    partitions: partitions.iter().map(|tp| (tp.clone(), code(tp))).collect(),
                }
            }
        }
    }
}
