//! Ending transactions: EndTxn (commit or abort by the producer), the abort with an epoch
//! bump that fences a producer (InitProducerId during an ongoing transaction, transaction
//! timeout), the markers, and completion once they are written.
//!
//! Ongoing → PrepareCommit/PrepareAbort is persisted first (the EndTxn answer goes out with
//! it), then the produce path is told the producer has no open transaction, then markers are
//! requested; `markers_written` persists CompleteCommit/CompleteAbort. A transaction with no
//! partitions has no markers to write and completes at once, like Kafka's.

use super::errors::*;
use super::partitions::Producer;
use super::state::{is_epoch_exhausted, TransactionMetadata, TxnState, NO_PRODUCER_EPOCH};
use super::types::{ErrorCode, MarkerRequest, Outcome, PartitionsUpdate, TimerOp};
use super::{timeout_key, TransactionCoordinator};

impl TransactionCoordinator {
    /// EndTxn from the producer (transactions V1: the epoch must be exactly the current one).
    /// Returns the error without the version rewrite of "fenced".
    pub(super) fn end_txn(
        &mut self,
        now_ms: i64,
        producer: Producer<'_>,
        commit: bool,
        out: &mut Outcome,
    ) -> ErrorCode {
        let m = match self.check_producer(producer) {
            Ok(m) => m,
            Err(e) => return e,
        };
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                let next = m.clone();
                self.prepare_end(now_ms, producer.0, next, commit, out);
                NONE
            }
            // A retry of an EndTxn that succeeded.
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => NONE,
            // A retry while its markers are being written.
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                CONCURRENT_TRANSACTIONS
            }
            // Never held here; in Kafka a fence is under way, which bumps the epoch.
            (TxnState::PrepareEpochFence | TxnState::Dead, _) => PRODUCER_FENCED,
            // Nothing to end, or the other direction than the transaction is taking.
            (TxnState::Empty, _)
            | (TxnState::CompleteCommit, false)
            | (TxnState::CompleteAbort, true)
            | (TxnState::PrepareCommit, false)
            | (TxnState::PrepareAbort, true) => INVALID_TXN_STATE,
        }
    }

    /// EndTxn v5 (transactions V2, KIP-890 part 2), Kafka's rules: the epoch is bumped by
    /// every end (a new producer id at epoch 0 once the epochs run out, taken when the
    /// transaction completes), so a retry is recognized by the epoch just below the current
    /// one; an abort with nothing added (Empty, or a completed transaction at the current
    /// epoch: the producer's sends never reached a broker) bumps the epoch too. Returns
    /// (error, producer id, epoch): the ones the producer uses next, -1/-1 on error.
    ///
    /// ```text
    ///                 abort: retry / current     commit: retry / current
    /// Empty           PRODUCER_FENCED / bump     PRODUCER_FENCED / INVALID_TXN_STATE
    /// CompleteAbort   NONE / bump                INVALID_TXN_STATE / INVALID_TXN_STATE
    /// CompleteCommit  INVALID_TXN_STATE / bump   NONE / INVALID_TXN_STATE
    /// ```
    pub(super) fn end_txn_v2(
        &mut self,
        now_ms: i64,
        (tid, producer_id, epoch): Producer<'_>,
        commit: bool,
        out: &mut Outcome,
    ) -> (ErrorCode, i64, i16) {
        let fail = |e: ErrorCode| (e, -1, NO_PRODUCER_EPOCH);
        if tid.is_empty() {
            return fail(INVALID_REQUEST);
        }
        let Some(m) = self.txns.get(tid) else {
            return fail(INVALID_PRODUCER_ID_MAPPING);
        };
        // The retry of an end whose epoch bump ran out of epochs (the producer id rotated).
        let retry_on_overflow =
            m.previous_producer_id == producer_id && epoch == i16::MAX - 1 && m.producer_epoch == 0;
        // The retry of an end that bumped the epoch.
        let retry_on_bump = i32::from(m.producer_epoch) == i32::from(epoch) + 1;
        let valid_epoch = match m.state {
            TxnState::Ongoing | TxnState::Empty | TxnState::Dead | TxnState::PrepareEpochFence => {
                epoch == m.producer_epoch
            }
            TxnState::PrepareCommit | TxnState::PrepareAbort => retry_on_bump,
            TxnState::CompleteCommit | TxnState::CompleteAbort => {
                retry_on_bump || retry_on_overflow || epoch == m.producer_epoch
            }
        };
        if m.producer_id != producer_id && !retry_on_overflow {
            return fail(INVALID_PRODUCER_ID_MAPPING);
        }
        if !valid_epoch {
            return fail(PRODUCER_FENCED);
        }
        let retry = retry_on_bump || retry_on_overflow;
        let current = (NONE, m.producer_id, m.producer_epoch);
        match (m.state, commit) {
            (TxnState::Ongoing, _) => self.prepare_end_v2(now_ms, tid, commit, false, out),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if retry => current,
            (TxnState::CompleteCommit, false) if retry => fail(INVALID_TXN_STATE),
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false) => {
                self.prepare_end_v2(now_ms, tid, false, true, out)
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                fail(CONCURRENT_TRANSACTIONS)
            }
            (TxnState::PrepareEpochFence | TxnState::Dead, _) => fail(PRODUCER_FENCED),
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, true)
            | (TxnState::PrepareCommit, false)
            | (TxnState::PrepareAbort, true) => fail(INVALID_TXN_STATE),
        }
    }

    /// Transactions V2: PrepareCommit/PrepareAbort with the epoch bumped (and the next
    /// producer id allocated when the epochs run out); `no_partitions`: an abort of a
    /// transaction nothing was added to (Kafka's noPartitionAdded), which completes at once.
    fn prepare_end_v2(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        commit: bool,
        no_partitions: bool,
        out: &mut Outcome,
    ) -> (ErrorCode, i64, i16) {
        let Some(m) = self.txns.get(transactional_id) else {
            return (INVALID_PRODUCER_ID_MAPPING, -1, NO_PRODUCER_EPOCH);
        };
        let mut next = m.clone();
        if is_epoch_exhausted(m.producer_epoch) {
            match self.ids.allocate() {
                Ok(id) => next.next_producer_id = id,
                Err(e) => return (e, -1, NO_PRODUCER_EPOCH),
            }
        }
        // At most i16::MAX: an exhausted epoch is bumped once more, then the id rotates.
        next.producer_epoch = m.producer_epoch.saturating_add(1);
        next.last_producer_epoch = m.producer_epoch;
        next.client_transaction_version = 2;
        if no_partitions {
            next.partitions.clear();
            next.start_timestamp_ms = now_ms;
        }
        self.prepare_end(now_ms, transactional_id, next, commit, out);
        match self.txns.get(transactional_id) {
            // Completed at once (no partitions): already rotated.
            Some(m) if !m.state.is_prepare() => (NONE, m.producer_id, m.producer_epoch),
            Some(m) if m.next_producer_id >= 0 => (NONE, m.next_producer_id, 0),
            Some(m) => (NONE, m.producer_id, m.producer_epoch),
            None => (INVALID_PRODUCER_ID_MAPPING, -1, NO_PRODUCER_EPOCH),
        }
    }

    /// Aborts the ongoing transaction of `transactional_id` with the epoch bumped, so its
    /// producer is fenced: Kafka's PrepareEpochFence, written as PrepareAbort at epoch + 1
    /// (the markers carry the new epoch).
    pub(super) fn fence_and_abort(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        out: &mut Outcome,
    ) {
        let Some(m) = self.txns.get(transactional_id) else {
            return;
        };
        assert_eq!(m.state, TxnState::Ongoing, "fencing {transactional_id}");
        let mut next = m.clone();
        // At most i16::MAX: an Ongoing epoch is at most MAX - 1 (see is_epoch_exhausted).
        next.producer_epoch = m.producer_epoch.saturating_add(1);
        next.last_producer_epoch = NO_PRODUCER_EPOCH;
        self.prepare_end(now_ms, transactional_id, next, false, out);
    }

    /// Ongoing → PrepareCommit/PrepareAbort (from `next`, the current metadata with any
    /// epoch bump applied), persisted; then markers (or completion).
    fn prepare_end(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        mut next: TransactionMetadata,
        commit: bool,
        out: &mut Outcome,
    ) {
        next.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        next.last_update_timestamp_ms = now_ms;
        let producer_id = next.producer_id;
        self.persist(now_ms, transactional_id, next, out);
        out.partitions.push(PartitionsUpdate::Clear { producer_id });
        out.timers.push(TimerOp::Cancel {
            key: timeout_key(transactional_id),
        });
        self.send_markers_or_complete(now_ms, transactional_id, out);
    }

    /// For a transaction in PrepareCommit/PrepareAbort: the MarkerRequest for its
    /// partitions, or, when it has none, its completion at once.
    pub(super) fn send_markers_or_complete(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        out: &mut Outcome,
    ) {
        let Some(m) = self.txns.get(transactional_id) else {
            return;
        };
        if m.partitions.is_empty() {
            return self.complete(now_ms, transactional_id, out);
        }
        out.markers.push(MarkerRequest {
            transactional_id: transactional_id.to_string(),
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            commit: m.state == TxnState::PrepareCommit,
            coordinator_epoch: self
                .coordinator_epoch(self.transaction_state_partition(transactional_id)),
            partitions: m.partition_list(),
        });
    }

    /// PrepareCommit/PrepareAbort → CompleteCommit/CompleteAbort, persisted: the markers
    /// are written, the partitions leave the transaction.
    pub(super) fn complete(&mut self, now_ms: i64, transactional_id: &str, out: &mut Outcome) {
        let Some(m) = self.txns.get(transactional_id) else {
            return;
        };
        let mut next = m.clone();
        next.state = match m.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            other => unreachable!("completing {transactional_id} in {other:?}"),
        };
        next.partitions.clear();
        next.last_update_timestamp_ms = now_ms;
        if m.next_producer_id >= 0 {
            // Transactions V2 ran out of epochs: the markers carried the last one; the
            // producer continues with the new id (Kafka's prepareComplete).
            next.previous_producer_id = m.producer_id;
            next.producer_id = m.next_producer_id;
            next.producer_epoch = 0;
            next.next_producer_id = -1;
            next.last_producer_epoch = m.producer_epoch;
        }
        self.persist(now_ms, transactional_id, next, out);
    }

    /// The TxnTimeout timer of `transactional_id` fired: abort its transaction with an epoch
    /// bump if it is still the one that has run past its timeout; re-arm if the transaction
    /// open now started later than the one the timer was armed for.
    pub(super) fn on_txn_timeout(
        &mut self,
        now_ms: i64,
        transactional_id: &str,
        out: &mut Outcome,
    ) {
        let Some(m) = self.txns.get(transactional_id) else {
            return;
        };
        if m.state != TxnState::Ongoing {
            return;
        }
        if m.timed_out(now_ms) {
            self.fence_and_abort(now_ms, transactional_id, out);
        } else {
            out.timers.push(TimerOp::Set {
                key: timeout_key(transactional_id),
                deadline_ms: m.timeout_deadline_ms(),
            });
        }
    }
}
