//! InitProducerId: producer ids for idempotent producers, and for transactional ones the
//! epoch bump that fences older instances (zombies) of the same transactional id, with
//! KIP-360's resumption by an existing producer and producer id rotation when the epoch runs
//! out. The answer goes out with the record that makes it durable (same Outcome).

use super::errors::*;
use super::state::{is_epoch_exhausted, TransactionMetadata, TxnState, NO_PRODUCER_EPOCH};
use super::types::{ErrorCode, Outcome, Response};
use super::TransactionCoordinator;

/// The fields of an InitProducerId request the coordinator needs.
pub(super) struct InitRequest {
    pub transactional_id: Option<String>,
    pub timeout_ms: i32,
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// (error, producer_id, producer_epoch); -1/-1 on error.
type InitResult = (ErrorCode, i64, i16);

fn init_error(error: ErrorCode) -> InitResult {
    (error, -1, NO_PRODUCER_EPOCH)
}

impl TransactionCoordinator {
    /// InitProducerId; `version` picks the name of "fenced" (see errors.rs).
    pub(super) fn init_producer_id(
        &mut self,
        now_ms: i64,
        req: InitRequest,
        version: i16,
        out: &mut Outcome,
    ) -> Response {
        let (error, producer_id, producer_epoch) = self.init(now_ms, req, out);
        Response::InitProducerId {
            error: for_version(error, Api::InitProducerId, version),
            producer_id,
            producer_epoch,
        }
    }

    fn init(&mut self, now_ms: i64, req: InitRequest, out: &mut Outcome) -> InitResult {
        // KafkaApis: the producer id and epoch are both -1 or both set.
        let expected = match (req.producer_id, req.producer_epoch) {
            (-1, -1) => None,
            (-1, _) | (_, -1) => return init_error(INVALID_REQUEST),
            (id, epoch) => Some((id, epoch)),
        };
        let Some(tid) = req.transactional_id else {
            // Idempotent only: a fresh id, nothing kept.
            return match self.ids.allocate() {
                Ok(producer_id) => (NONE, producer_id, 0),
                Err(e) => init_error(e),
            };
        };
        if tid.is_empty() {
            return init_error(INVALID_REQUEST);
        }
        if req.timeout_ms <= 0 || req.timeout_ms > self.config.transaction_max_timeout_ms {
            return init_error(INVALID_TRANSACTION_TIMEOUT);
        }
        let current = match self.txns.get(&tid) {
            Some(m) => m.clone(),
            None => match self.ids.allocate() {
                // Kafka's fresh metadata: epoch -1, so the bump below yields epoch 0.
                Ok(producer_id) => TransactionMetadata {
                    producer_id,
                    producer_epoch: NO_PRODUCER_EPOCH,
                    timeout_ms: req.timeout_ms,
                    state: TxnState::Empty,
                    partitions: Default::default(),
                    start_timestamp_ms: -1,
                    last_update_timestamp_ms: now_ms,
                    last_producer_epoch: NO_PRODUCER_EPOCH,
                    previous_producer_id: -1,
                    client_transaction_version: 0,
                    next_producer_id: -1,
                },
                Err(e) => return init_error(e),
            },
        };
        if expected.is_some_and(|e| !is_valid_producer(&current, e)) {
            return init_error(PRODUCER_FENCED);
        }
        match current.state {
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let expected_epoch = expected.map(|(_, epoch)| epoch);
                match self.next_producer(now_ms, &current, req.timeout_ms, expected_epoch) {
                    Ok(next) => {
                        let answer = (NONE, next.producer_id, next.producer_epoch);
                        self.persist(now_ms, &tid, next, out);
                        answer
                    }
                    Err(e) => init_error(e),
                }
            }
            TxnState::Ongoing => {
                // Abort the open transaction with a bumped epoch (fencing its producer); the
                // client retries, and the retry bumps the epoch again once the abort is done.
                self.fence_and_abort(now_ms, &tid, out);
                init_error(CONCURRENT_TRANSACTIONS)
            }
            // Markers are being written (the transient states never exist here).
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::Dead
            | TxnState::PrepareEpochFence => init_error(CONCURRENT_TRANSACTIONS),
        }
    }

    /// The metadata after a successful InitProducerId on an idle transactional id: the
    /// epoch bumped, or a new producer id at epoch 0 once the epoch is exhausted.
    fn next_producer(
        &mut self,
        now_ms: i64,
        current: &TransactionMetadata,
        timeout_ms: i32,
        expected_epoch: Option<i16>,
    ) -> Result<TransactionMetadata, ErrorCode> {
        let epoch = current.producer_epoch;
        let (producer_id, producer_epoch, last_producer_epoch) =
            if is_epoch_exhausted(epoch) && expected_epoch.is_none_or(|e| e == epoch) {
                // Rotation: remember the old epoch only for a KIP-360 caller, whose retry is
                // then recognized (previous_producer_id, last_producer_epoch).
                let producer_id = self.ids.allocate()?;
                let last = if expected_epoch.is_some() {
                    epoch
                } else {
                    NO_PRODUCER_EPOCH
                };
                (producer_id, 0, last)
            } else {
                let id = current.producer_id;
                match expected_epoch {
                    // A new instance: bump, and forget the last epoch so no zombie can resume.
                    None => (id, epoch.saturating_add(1), NO_PRODUCER_EPOCH),
                    // KIP-360: the current producer resumes after an error.
                    Some(e) if epoch == NO_PRODUCER_EPOCH || e == epoch => {
                        (id, epoch.saturating_add(1), epoch)
                    }
                    // A retry of a bump that succeeded: the same answer again.
                    Some(e) if e == current.last_producer_epoch => {
                        (id, epoch, current.last_producer_epoch)
                    }
                    Some(_) => return Err(PRODUCER_FENCED),
                }
            };
        Ok(TransactionMetadata {
            producer_id,
            producer_epoch,
            timeout_ms,
            state: TxnState::Empty,
            partitions: Default::default(),
            start_timestamp_ms: -1,
            last_update_timestamp_ms: now_ms,
            last_producer_epoch,
            previous_producer_id: current.producer_id,
            client_transaction_version: current.client_transaction_version,
            next_producer_id: -1,
        })
    }
}

/// Kafka's isValidProducerId for a KIP-360 request: the metadata was just created, or the
/// producer id is the current one (its epoch is checked by the bump), or it is the previous
/// one with an exhausted epoch (a retry after a rotation whose answer was lost).
fn is_valid_producer(m: &TransactionMetadata, (producer_id, epoch): (i64, i16)) -> bool {
    m.producer_epoch == NO_PRODUCER_EPOCH
        || producer_id == m.producer_id
        || (producer_id == m.previous_producer_id && is_epoch_exhausted(epoch))
}
