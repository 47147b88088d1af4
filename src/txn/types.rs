//! The transaction coordinator's inputs and outputs, independent of wire versions. The API
//! layer maps InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
//! DescribeTransactions and ListTransactions requests to [`Request`] and [`Response`] back to
//! Kafka responses; the runtime feeds requests, timer firings and marker completions to the
//! coordinator and carries out each [`Outcome`] in this order: append `records` to
//! `__transaction_state`; then send `responses`, apply `partitions` (the produce path's view
//! of open transactions), write `markers` and apply `timers`. If the append fails it uses
//! `outcome.with_error(COORDINATOR_NOT_AVAILABLE)` (see errors.rs) instead.

use bytes::Bytes;

/// Identifies one in-flight request inside the runtime.
pub type RequestId = u64;

/// Kafka's numeric error codes (see errors.rs for the ones the coordinator answers with).
pub type ErrorCode = i16;

/// (topic, partition).
pub type TopicPartition = (String, i32);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `transactional_id: None` = idempotent-only producer: allocate a fresh producer id,
    /// epoch 0, no state kept. `producer_id`/`producer_epoch`: -1/-1, or the producer's
    /// current ones (KIP-360 epoch bump by an existing producer, v3+). `version` picks
    /// PRODUCER_FENCED (v4+) or INVALID_PRODUCER_EPOCH (v0–3).
    InitProducerId {
        transactional_id: Option<String>,
        transaction_timeout_ms: i32,
        producer_id: i64,
        producer_epoch: i16,
        version: i16,
    },
    /// One transaction of an AddPartitionsToTxn request (v4+ batches several: one
    /// `AddPartitions` each). `verify_only` (v4+, sent by brokers, KIP-890) only asks whether
    /// the partitions are already in the ongoing transaction. `tv2`: added by a broker on
    /// behalf of a transactions-V2 client (KIP-890 part 2: Produce v12+, TxnOffsetCommit v5,
    /// or AddPartitionsToTxn v5 from a broker without `verify_only`); a transaction it starts
    /// is marked client transaction version 2.
    AddPartitions {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<TopicPartition>,
        verify_only: bool,
        version: i16,
        tv2: bool,
    },
    /// The coordinator maps `group_id` to its `__consumer_offsets` partition (the same hash
    /// as src/group) and adds that partition to the transaction.
    AddOffsets {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        group_id: String,
        version: i16,
    },
    /// `version` ≥ 5: transactions V2 (KIP-890 part 2): the epoch is bumped by every EndTxn,
    /// and retries are recognized by the epoch below the current one.
    EndTxn {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        version: i16,
    },
    Describe {
        transactional_ids: Vec<String>,
    },
    /// Empty filters match everything; state names are Kafka's, case-sensitive (as Kafka);
    /// `duration_filter_ms` < 0 = no filter (v0 has none: send -1).
    /// `transactional_id_pattern` (v2, KIP-1152): a regular expression the whole id must match
    /// (None or empty: no filter); an invalid one is INVALID_REGULAR_EXPRESSION.
    List {
        state_filters: Vec<String>,
        producer_id_filters: Vec<i64>,
        duration_filter_ms: i64,
        transactional_id_pattern: Option<String>,
    },
}

/// One transactional id in a DescribeTransactions answer. For an error entry every other
/// field has Kafka's default (0, "", no partitions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedTxn {
    pub transactional_id: String,
    pub error: ErrorCode,
    /// Kafka's names: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit,
    /// CompleteAbort, Dead, PrepareEpochFence.
    pub state: String,
    pub timeout_ms: i32,
    /// -1 when no transaction has started.
    pub start_timestamp_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Sorted by topic, then partition.
    pub partitions: Vec<TopicPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// On error producer_id = -1, producer_epoch = -1.
    InitProducerId {
        error: ErrorCode,
        producer_id: i64,
        producer_epoch: i16,
    },
    /// `partitions`: one code per requested partition, in request order. `error` is the
    /// transaction's result when it applies to the whole transaction (every partition then
    /// carries the same code, as Kafka answers both v0–3 and a v4 per-transaction result);
    /// NONE with per-partition codes for a `verify_only` request that passed the producer
    /// checks. Kafka's v4 top-level ErrorCode is for failures outside the coordinator (e.g.
    /// authorization) and stays NONE for these.
    AddPartitions {
        error: ErrorCode,
        partitions: Vec<(TopicPartition, ErrorCode)>,
    },
    AddOffsets {
        error: ErrorCode,
    },
    /// `producer_id`/`producer_epoch` (EndTxn v5): the ones the producer uses next (the
    /// bumped epoch, or a new producer id at epoch 0 when the epoch ran out); -1/-1 on error
    /// and for transactions V1.
    EndTxn {
        error: ErrorCode,
        producer_id: i64,
        producer_epoch: i16,
    },
    /// In request order.
    Describe {
        transactions: Vec<DescribedTxn>,
    },
    /// `transactions`: (transactional_id, producer_id, state name), sorted by id.
    List {
        error: ErrorCode,
        unknown_state_filters: Vec<String>,
        transactions: Vec<(String, i64, String)>,
    },
}

/// Write commit/abort control markers for this producer to these partitions, then call
/// [`super::TransactionCoordinator::markers_written`]. Partitions of `__consumer_offsets` are
/// in the list like any other (the group coordinator materializes the transaction's offsets
/// on a commit marker). The runtime retries failed marker writes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerRequest {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub coordinator_epoch: i32,
    /// Sorted by topic, then partition; never empty.
    pub partitions: Vec<TopicPartition>,
}

/// Which partitions each producer may currently write transactionally (KIP-890 verification,
/// used synchronously by the produce path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionsUpdate {
    /// The full current set of an Ongoing transaction (sorted), after its record was persisted.
    Set {
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<TopicPartition>,
    },
    /// The producer has no open transaction any more (EndTxn accepted, fenced, timed out,
    /// transactional id expired).
    Clear { producer_id: i64 },
}

/// What a timer is for. At most one timer per key is armed; setting a key again replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// The transaction timeout of the ongoing transaction of one transactional id (armed at
    /// start + timeout when the transaction begins, cancelled when it ends).
    TxnTimeout { transactional_id: String },
    /// Periodic removal of transactional ids idle longer than
    /// `transactional_id_expiration_ms`, every `remove_expired_transaction_cleanup_interval_ms`
    /// (re-armed by each firing).
    ExpireTransactionalIds,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerOp {
    Set { key: TimerKey, deadline_ms: i64 },
    Cancel { key: TimerKey },
}

/// A record for `__transaction_state` in Kafka's key/value schemas (see records.rs).
/// `value: None` is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partition of `__transaction_state`: abs(java_hash(transactional_id)) % partitions.
    pub partition: i32,
    pub key: Bytes,
    pub value: Option<Bytes>,
}

/// Everything one call produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub responses: Vec<(RequestId, Response)>,
    pub records: Vec<Record>,
    pub markers: Vec<MarkerRequest>,
    pub partitions: Vec<PartitionsUpdate>,
    pub timers: Vec<TimerOp>,
}

/// Broker configs the coordinator obeys (Kafka's names and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// transaction.max.timeout.ms (900000)
    pub transaction_max_timeout_ms: i32,
    /// transactional.id.expiration.ms (604800000)
    pub transactional_id_expiration_ms: i64,
    /// transaction.abort.timed.out.transaction.cleanup.interval.ms (10000). Kafka scans for
    /// timed-out transactions this often; skua arms one exact timer per transaction instead,
    /// so the coordinator does not read it (kept so the config surface matches Kafka's).
    pub abort_timed_out_transaction_cleanup_interval_ms: i64,
    /// transaction.remove.expired.transaction.cleanup.interval.ms (3600000)
    pub remove_expired_transaction_cleanup_interval_ms: i64,
    /// transaction.state.log.num.partitions (50)
    pub transaction_state_partitions: i32,
    /// offsets.topic.num.partitions (50), to place AddOffsetsToTxn's group partition.
    pub offsets_topic_partitions: i32,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            transaction_max_timeout_ms: 900_000,
            transactional_id_expiration_ms: 604_800_000,
            abort_timed_out_transaction_cleanup_interval_ms: 10_000,
            remove_expired_transaction_cleanup_interval_ms: 3_600_000,
            transaction_state_partitions: 50,
            offsets_topic_partitions: 50,
        }
    }
}

/// Seam for producer id allocation (the runtime persists id blocks so ids survive restarts;
/// tests use a counter). An error is the Kafka error code to answer with.
pub trait ProducerIdAllocator: Send {
    fn allocate(&mut self) -> Result<i64, ErrorCode>;
}
