//! The partition log store: one [`PartitionLog`] per partition, synchronous std I/O, no tokio.
//!
//! # On-disk format (Kafka's)
//!
//! A directory `<topic>-<partition>` holds segments named by their 20-digit zero-padded base
//! offset:
//!
//! * `<base>.log` — v2 record batches exactly as produced, after the broker wrote the base
//!   offset and partition leader epoch into them (and the append time for LogAppendTime).
//!   The `.log` files are the source of truth; everything else is derived from them.
//! * `<base>.index` — sparse offset index, 8-byte entries `(offset - base) u32, position u32`
//!   (big endian). An entry names a batch by its base offset. One is added when more than
//!   `index_interval_bytes` of log data was written since the previous entry.
//! * `<base>.timeindex` — 12-byte entries `max timestamp so far i64, (offset - base) u32`,
//!   appended together with an offset-index entry when the segment's max timestamp grew;
//!   the offset is the base offset of the first batch that reached that timestamp.
//! * `log-start-offset` — the log start offset as decimal text, replaced atomically
//!   (write tmp, fsync, rename, fsync dir) whenever retention or DeleteRecords moves it.
//! * `clean-shutdown` — written by [`PartitionLog::close`] after everything was fsynced,
//!   recording each segment's size and index entry counts; removed as soon as the log is
//!   opened again.
//! * `<base>.txnindex` — Kafka's aborted-transaction index, 34-byte entries
//!   `version i16, producer_id i64, first_offset i64, last_offset i64, last_stable_offset i64`
//!   for the ABORT markers in that segment (created with the first one; see `txn_index.rs`).
//! * `leader-epoch-checkpoint` — Kafka's leader-epoch cache: `0`, the entry count, then
//!   `epoch start_offset` lines; the first offset of each leader epoch (`leader_epoch.rs`),
//!   rebuilt from the batch headers when missing.
//! * `<offset>.snapshot` — producer state (idempotence, open transactions) as of that
//!   offset, written on roll and clean close, newest two kept (format in `snapshot.rs`).
//! * `high-watermark` — the high watermark as decimal text, written by a truncation that
//!   lowered it and on close when the log directory's `replication-offset-checkpoint` (one
//!   file for all partitions, `offset_checkpoint.rs`) does not hold it (`high_watermark.rs`).
//! * `segments-with-gaps` — the segments a follower filled with a compacted leader's
//!   batches, whose offsets may skip (`replica.rs`); recovery accepts gaps only there and
//!   in the segments the cleaner checkpoint lists.
//!
//! # Invariants
//!
//! Offsets are assigned consecutively: a batch's base offset is the previous batch's last
//! offset + 1 (except in cleaned segments and in segments a follower filled from a
//! compacted leader, where they only increase). Retention deletes segments whole, oldest
//! first, never the active (last) one; only truncation (`replica.rs`) removes the newest.
//! Within a segment, relative offsets fit in i32 and file positions in u32 (a roll happens
//! before either would overflow). `log_start_offset <= log_end_offset`; the first segment
//! contains `log_start_offset` or the log is empty.
//!
//! # Durability and recovery
//!
//! An append is one `pwrite` of the whole produce payload; data becomes durable when a sync
//! plan (group commit) or the flush policy fsyncs the segment. Index files are written on
//! every append but only fsynced on close: they are rebuilt whenever they look wrong. On open
//! without the clean-shutdown marker, the last segment is walked batch by batch (length and
//! CRC-32C) and truncated at the first torn or corrupt batch; every other segment (every
//! segment after a clean shutdown, which must also match the marker's sizes) has its indexes
//! checked and its tail (from the last index entry on) walked the same way, and is verified
//! and rebuilt from scratch if anything is off. Truncating a segment deletes every later one, so
//! offsets stay contiguous. After any write or fsync error the partition goes offline: every
//! later call fails with [`LogError::Offline`] (Kafka: KAFKA_STORAGE_ERROR).
//!
//! Producer state (`producer_state.rs`) is then rebuilt: the newest valid snapshot at or
//! below the log end offset is loaded (newer ones are deleted), transaction-index entries at
//! or above its offset are dropped, and the batches from there to the log end are replayed,
//! re-adding those entries (`transactions.rs`). After a clean close the snapshot is at the
//! log end, so nothing is replayed. `.txnindex` files are therefore not part of the
//! [`SyncPlan`]: they are fsynced before each snapshot (roll, close), which is the only point
//! where their entries must be durable.
//!
//! # Concurrency
//!
//! `PartitionLog` is not synchronized; the caller wraps it in a mutex. Reads and fsyncs are
//! *planned* under that lock ([`ReadPlan`], [`SyncPlan`]) and executed without it, on shared
//! `Arc` file handles: bytes below a snapshot of the segment size never change (until a
//! truncation, which makes every plan taken before it stale), and a deleted segment's open
//! handle stays readable.
//!
//! All file access goes through [`storage::Storage`] so tests can inject faults.

mod cleaner;
mod control;
mod high_watermark;
mod index;
mod leader_epoch;
pub mod offset_checkpoint;
pub mod open_files;
mod partition;
mod plan;
mod producer_state;
pub mod records;
mod recovery;
mod replica;
mod segment;
mod snapshot;
pub mod storage;
mod timestamps;
mod transactions;
mod txn_index;

#[cfg(test)]
mod tests;

pub use crate::protocol::batch::{BatchError, BatchHeader, BatchIter};
pub use cleaner::{CleanPlan, CleanResult, CleanStats};
pub use leader_epoch::{UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
pub use partition::PartitionLog;
pub use plan::{ReadPlan, SyncPlan};
pub use records::RecordError;
pub use storage::{FaultInjector, FaultyStorage, OsStorage, Storage, StorageFile};

/// Who is appending (Kafka's `AppendOrigin`); decides how much producer state is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer's Produce request: epochs, sequences, duplicates and transaction state.
    Client,
    /// A coordinator writing on a producer's behalf (transactional offset commits in
    /// `__consumer_offsets`): batches may carry a producer id without a sequence; only the
    /// epoch and the transaction state are checked, and duplicates are not looked for.
    Coordinator,
}

/// How record timestamps are set (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamps are kept.
    CreateTime,
    /// The broker stamps every batch with its append time.
    LogAppendTime,
}

/// Per-partition log settings, with Kafka's topic config names.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll a non-empty active segment this old.
    pub segment_ms: i64,
    /// `index.interval.bytes`: log bytes between offset-index entries.
    pub index_interval_bytes: u32,
    /// `segment.index.bytes`: roll when the offset index would exceed this size.
    pub segment_index_bytes: u32,
    /// `retention.ms`: delete segments whose newest record is older; -1 = forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete old segments while the log is larger; -1 = unlimited.
    pub retention_bytes: i64,
    /// `max.message.bytes`: largest accepted batch (its total size).
    pub max_message_bytes: u32,
    /// `flush.messages`: fsync after this many unflushed records; `i64::MAX` = never.
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the oldest unflushed data is this old; `i64::MAX` = never.
    pub flush_ms: i64,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `cleanup.policy`: delete (retention), compact (the cleaner), or both.
    pub cleanup_policy: CleanupPolicy,
    /// `min.cleanable.dirty.ratio`: clean when dirty bytes / total bytes reach this.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: a segment is cleanable only once its newest record is this old.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: clean regardless of the dirty ratio once the oldest dirty
    /// record is this old.
    pub max_compaction_lag_ms: i64,
    /// `delete.retention.ms`: tombstones and transaction markers stay this long after their
    /// segment was first cleaned.
    pub delete_retention_ms: i64,
    /// `message.timestamp.before.max.ms` (CreateTime only): a record's timestamp may be at
    /// most this far behind the broker's clock; `i64::MAX` = unchecked.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms` (CreateTime only): ... at most this far ahead.
    pub timestamp_after_max_ms: i64,
    /// `compression.type` with its `compression.*.level`: the codec batches are stored with.
    pub compression: TopicCompression,
}

/// A topic's `compression.type`: keep the producer's codec, or store every client batch
/// with this codec (attribute bits 0–2: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd) at this
/// level (`compression.gzip.level` / `.lz4.level` / `.zstd.level`; unused by none/snappy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopicCompression {
    #[default]
    Producer,
    Codec {
        codec: u8,
        level: i32,
    },
}

/// `cleanup.policy`: which of retention and compaction apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    pub delete: bool,
    pub compact: bool,
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        CleanupPolicy {
            delete: true,
            compact: false,
        }
    }
}

impl CleanupPolicy {
    /// `delete`, `compact`, or both comma-separated in any order; `None` if invalid.
    pub fn parse(value: &str) -> Option<CleanupPolicy> {
        let mut policy = CleanupPolicy {
            delete: false,
            compact: false,
        };
        for part in value.split(',') {
            match part.trim() {
                "delete" => policy.delete = true,
                "compact" => policy.compact = true,
                _ => return None,
            }
        }
        Some(policy)
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 << 20,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            max_message_bytes: 1_048_588,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            message_timestamp_type: TimestampType::CreateTime,
            cleanup_policy: CleanupPolicy::default(),
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 86_400_000,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: i64::MAX,
            compression: TopicCompression::Producer,
        }
    }
}

/// Why a log operation failed. Each maps to one Kafka error code (see `api::errors`).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Bad CRC, bad length, or a truncated batch in a produce payload.
    #[error("corrupt message: {0}")]
    CorruptMessage(String),
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge { size: usize, max: u32 },
    /// Magic other than 2, bad record count or offset delta, empty payload.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    #[error("offset {offset} out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
    /// A write or fsync failed earlier; the partition refuses everything until reopened.
    #[error("partition is offline after a storage error")]
    Offline,
    /// A batch or marker with an epoch older than the producer's current one (fenced).
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    /// A batch whose first sequence does not follow the producer's last one.
    #[error("out of order sequence: {0}")]
    OutOfOrderSequence(String),
    /// A non-transactional batch from a producer with an open transaction here.
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// A marker from a transaction coordinator older than the last one seen.
    #[error("transaction coordinator fenced: {0}")]
    TransactionCoordinatorFenced(String),
    /// Records of a batch that Kafka's LogValidator rejects one by one (KIP-467): a record
    /// without a key in a compacted topic (INVALID_RECORD), a CreateTime timestamp outside
    /// `message.timestamp.before/after.max.ms` or a producer-set LogAppendTime
    /// (INVALID_TIMESTAMP, which wins when both occur). The whole batch fails; `errors`
    /// names the records (their index in the batch) for the Produce response.
    #[error("{message}")]
    RecordErrors {
        timestamp: bool,
        message: String,
        errors: Vec<records::RecordError>,
    },
    /// A follower append whose batches do not continue the log: a base offset below the log
    /// end offset, or not above the previous batch's last offset (Kafka's
    /// UnexpectedAppendOffsetException / OffsetsOutOfOrderException). The replica fetcher's
    /// business, never a client's.
    #[error("unexpected offset {got} in a follower append (expected at least {expected})")]
    UnexpectedOffset { expected: i64, got: i64 },
}

/// The outcome of a successful [`PartitionLog::append`] (or `append_as_follower`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended.
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// The broker time stamped into the batches, or -1 for CreateTime.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    /// Number of records appended.
    pub records: i64,
    /// Largest batch max timestamp in the payload (after LogAppendTime stamping).
    pub max_timestamp: i64,
    /// The payload retried a batch already in the log (same producer, epoch and sequence
    /// range as one of its last 5): nothing was written, `records` is 0, and the offsets,
    /// `max_timestamp` and `log_append_time` are the original batch's (Kafka answers such a
    /// retry with error NONE and the original offset).
    pub duplicate: bool,
}

/// One producer's state in a partition, for DescribeProducers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerInfo {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Last sequence of its last batch in this epoch, or -1.
    pub last_sequence: i32,
    /// Max timestamp of its last batch, or the time of its last marker.
    pub last_timestamp: i64,
    /// Coordinator epoch of its last marker, or -1.
    pub coordinator_epoch: i32,
    /// First offset of its open transaction in this partition, or -1.
    pub current_txn_start_offset: i64,
}
