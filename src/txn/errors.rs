//! Kafka error codes the transaction coordinator answers with, the version-dependent name of
//! "fenced", and the helpers that turn a response (or a whole [`Outcome`]) into an error
//! answer of the same shape: used when the runtime cannot append an Outcome's records
//! (COORDINATOR_NOT_AVAILABLE) and when a request is rejected before it reaches the state
//! machine (e.g. COORDINATOR_LOAD_IN_PROGRESS while replaying).

use super::types::{DescribedTxn, ErrorCode, Outcome, Request, Response};

pub const NONE: ErrorCode = 0;
pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = 14;
pub const COORDINATOR_NOT_AVAILABLE: ErrorCode = 15;
pub const NOT_COORDINATOR: ErrorCode = 16;
pub const INVALID_REQUEST: ErrorCode = 42;
pub const INVALID_PRODUCER_EPOCH: ErrorCode = 47;
pub const INVALID_TXN_STATE: ErrorCode = 48;
pub const INVALID_PRODUCER_ID_MAPPING: ErrorCode = 49;
pub const INVALID_TRANSACTION_TIMEOUT: ErrorCode = 50;
pub const CONCURRENT_TRANSACTIONS: ErrorCode = 51;
pub const PRODUCER_FENCED: ErrorCode = 90;
pub const TRANSACTIONAL_ID_NOT_FOUND: ErrorCode = 105;
pub const TRANSACTION_ABORTABLE: ErrorCode = 120;
pub const INVALID_REGULAR_EXPRESSION: ErrorCode = 128;

/// Which request a "fenced" answer goes to; Kafka's KafkaApis rewrites PRODUCER_FENCED to
/// INVALID_PRODUCER_EPOCH for versions that predate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    InitProducerId,
    AddPartitions,
    AddOffsets,
    EndTxn,
}

/// PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for InitProducerId v0–3 and
/// AddPartitionsToTxn / AddOffsetsToTxn / EndTxn v0–1.
pub fn fenced(api: Api, version: i16) -> ErrorCode {
    let first_with_fenced = match api {
        Api::InitProducerId => 4,
        Api::AddPartitions | Api::AddOffsets | Api::EndTxn => 2,
    };
    if version < first_with_fenced {
        INVALID_PRODUCER_EPOCH
    } else {
        PRODUCER_FENCED
    }
}

/// Applies the version rewrite of [`fenced`] to a code computed without a version.
pub fn for_version(error: ErrorCode, api: Api, version: i16) -> ErrorCode {
    if error == PRODUCER_FENCED {
        fenced(api, version)
    } else {
        error
    }
}

impl DescribedTxn {
    /// An error entry: Kafka leaves every other field at its default.
    pub fn error(transactional_id: &str, error: ErrorCode) -> DescribedTxn {
        DescribedTxn {
            transactional_id: transactional_id.to_string(),
            error,
            state: String::new(),
            timeout_ms: 0,
            start_timestamp_ms: 0,
            producer_id: 0,
            producer_epoch: 0,
            partitions: Vec::new(),
        }
    }
}

impl Response {
    /// The same response with every error set to `error` and its payload dropped, keeping
    /// what identifies it (transactional ids, partitions).
    /// An EndTxn answer without producer id and epoch (an error, or transactions V1).
    pub fn end_txn_error(error: ErrorCode) -> Response {
        Response::EndTxn {
            error,
            producer_id: -1,
            producer_epoch: -1,
        }
    }

    pub fn with_error(self, error: ErrorCode) -> Response {
        match self {
            Response::InitProducerId { .. } => Response::InitProducerId {
                error,
                producer_id: -1,
                producer_epoch: -1,
            },
            Response::AddPartitions { partitions, .. } => Response::AddPartitions {
                error,
                partitions: partitions.into_iter().map(|(tp, _)| (tp, error)).collect(),
            },
            Response::AddOffsets { .. } => Response::AddOffsets { error },
            Response::EndTxn { .. } => Response::end_txn_error(error),
            Response::Describe { transactions } => Response::Describe {
                transactions: transactions
                    .iter()
                    .map(|t| DescribedTxn::error(&t.transactional_id, error))
                    .collect(),
            },
            Response::List { .. } => Response::List {
                error,
                unknown_state_filters: Vec::new(),
                transactions: Vec::new(),
            },
        }
    }
}

impl Outcome {
    /// The runtime could not append `records`: every response becomes `error`
    /// (COORDINATOR_NOT_AVAILABLE) and the records are dropped. Markers, partition updates
    /// and timers are kept: the coordinator's memory has already moved on (as in
    /// src/group), and a transaction whose PrepareCommit/PrepareAbort was not written must
    /// still complete, or it would stay in Prepare* until a restart. After a restart the
    /// log's older state is replayed and completed or timed out from there.
    pub fn with_error(self, error: ErrorCode) -> Outcome {
        Outcome {
            responses: self
                .responses
                .into_iter()
                .map(|(id, r)| (id, r.with_error(error)))
                .collect(),
            records: Vec::new(),
            markers: self.markers,
            partitions: self.partitions,
            timers: self.timers,
        }
    }
}

/// The answer to `request` when it is rejected as a whole with `error`.
pub fn error_response(request: &Request, error: ErrorCode) -> Response {
    match request {
        Request::InitProducerId { .. } => Response::InitProducerId {
            error,
            producer_id: -1,
            producer_epoch: -1,
        },
        Request::AddPartitions { partitions, .. } => Response::AddPartitions {
            error,
            partitions: partitions.iter().map(|tp| (tp.clone(), error)).collect(),
        },
        Request::AddOffsets { .. } => Response::AddOffsets { error },
        Request::EndTxn { .. } => Response::end_txn_error(error),
        Request::Describe { transactional_ids } => Response::Describe {
            transactions: transactional_ids
                .iter()
                .map(|t| DescribedTxn::error(t, error))
                .collect(),
        },
        Request::List { .. } => Response::List {
            error,
            unknown_state_filters: Vec::new(),
            transactions: Vec::new(),
        },
    }
}
