//! Kafka's `__transaction_state` record format, byte for byte as Kafka writes it, so a log
//! written by skua can be read by Kafka's tools and the other way round.
//!
//! # On-disk format
//!
//! Key and value each start with a big-endian `i16` schema version; the encoding is Kafka's
//! message encoding (shared with `__consumer_offsets`, see src/group/records.rs).
//!
//! * `TransactionLogKey` v0 — `{ transactionalId: string }`.
//! * `TransactionLogValue` v0 — `{ producerId: i64, producerEpoch: i16,
//!   transactionTimeoutMs: i32, transactionStatus: i8, transactionPartitions:
//!   [topic: string, partitionIds: [i32]] (nullable), transactionLastUpdateTimestampMs: i64,
//!   transactionStartTimestampMs: i64 }`.
//! * `TransactionLogValue` v1 — the same fields, flexible (compact strings and arrays, tagged
//!   fields after every struct), with tagged fields 0 `PreviousProducerId: i64` (-1),
//!   1 `NextProducerId: i64` (-1) and 2 `ClientTransactionVersion: i16` (0).
//!
//! skua writes value v0 for transactions V1 and v1 for a transactions-V2 client (KIP-890
//! part 2: EndTxn v5, TxnOffsetCommit v5, Produce v12+), as Kafka does; it reads v0 and v1. An Empty transaction's partitions are
//! written as null (as Kafka), other states' as an array grouped by topic, topics and
//! partitions sorted. Status ids: Empty 0, Ongoing 1, PrepareCommit 2, PrepareAbort 3,
//! CompleteCommit 4, CompleteAbort 5, Dead 6, PrepareEpochFence 7. A tombstone (no value)
//! removes the transactional id (written when it expires).
//!
//! Readers reject unknown versions and status ids with a typed [`TxnRecordError`]; nothing
//! here panics on bad input. Writers assume strings fit the `i16` length (the coordinator
//! rejects longer transactional ids and topic names up front).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::state::{TransactionMetadata, TxnState, NO_PRODUCER_ID};
use super::types::TopicPartition;
use crate::group::records::{Reader, RecordError, Writer};

const KEY_VERSION: i16 = 0;
const VALUE_V0: i16 = 0;
const VALUE_V1: i16 = 1;

const TAG_PREVIOUS_PRODUCER_ID: u32 = 0;
const TAG_NEXT_PRODUCER_ID: u32 = 1;
const TAG_CLIENT_TRANSACTION_VERSION: u32 = 2;

/// A malformed or unknown `__transaction_state` record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnRecordError {
    #[error(transparent)]
    Codec(#[from] RecordError),
    #[error("unknown transaction status {0}")]
    UnknownState(i8),
}

/// `TransactionLogKey`: the transactional id.
pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut w = Writer::new(false);
    w.i16(KEY_VERSION);
    w.string(transactional_id);
    w.finish()
}

pub fn decode_key(buf: &[u8]) -> Result<String, TxnRecordError> {
    let mut r = Reader::new(buf, false);
    match r.i16()? {
        KEY_VERSION => Ok(r.string("transactionalId")?),
        v => Err(RecordError::UnsupportedKeyVersion(v).into()),
    }
}

/// `TransactionLogValue`, all versions folded into one shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnValue {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// (topic, partition ids); `None` is written as null (Kafka does so for Empty).
    pub partitions: Option<Vec<(String, Vec<i32>)>>,
    pub last_update_timestamp_ms: i64,
    pub start_timestamp_ms: i64,
    /// v1 tagged fields (defaults -1, -1, 0; v0 records have the defaults).
    pub previous_producer_id: i64,
    pub next_producer_id: i64,
    pub client_transaction_version: i16,
}

impl TxnValue {
    /// The record Kafka would write for this metadata: v0 for transactions V1 (the v1-only
    /// fields at their defaults), v1 with the previous/next producer ids and the client
    /// transaction version for a transactions-V2 client.
    pub fn from_metadata(m: &TransactionMetadata) -> TxnValue {
        let partitions = (m.state != TxnState::Empty).then(|| group_by_topic(&m.partitions));
        let tv2 = m.client_transaction_version >= 2;
        TxnValue {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            timeout_ms: m.timeout_ms,
            state: m.state,
            partitions,
            last_update_timestamp_ms: m.last_update_timestamp_ms,
            start_timestamp_ms: m.start_timestamp_ms,
            previous_producer_id: if tv2 {
                m.previous_producer_id
            } else {
                NO_PRODUCER_ID
            },
            next_producer_id: if tv2 {
                m.next_producer_id
            } else {
                NO_PRODUCER_ID
            },
            client_transaction_version: m.client_transaction_version,
        }
    }

    /// The metadata a replay of this record yields (Kafka ignores an Empty record's
    /// partitions; in-memory-only fields start at -1).
    pub fn to_metadata(&self) -> TransactionMetadata {
        let partitions = match (&self.partitions, self.state) {
            (Some(topics), s) if s != TxnState::Empty => topics
                .iter()
                .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
                .collect(),
            _ => Default::default(),
        };
        TransactionMetadata {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state,
            partitions,
            start_timestamp_ms: self.start_timestamp_ms,
            last_update_timestamp_ms: self.last_update_timestamp_ms,
            last_producer_epoch: super::state::NO_PRODUCER_EPOCH,
            previous_producer_id: self.previous_producer_id,
            client_transaction_version: self.client_transaction_version,
            next_producer_id: self.next_producer_id,
        }
    }

    /// The version Kafka writes: v1 once the client transaction version is set (transactions
    /// V2), else v0.
    pub fn encode(&self) -> Bytes {
        if self.client_transaction_version > 0 {
            self.encode_version(VALUE_V1)
        } else {
            self.encode_version(VALUE_V0)
        }
    }

    /// Encodes as v0 or v1 (v1 writes the tagged fields that differ from their defaults).
    /// Tests use v1 to produce what a transactions-V2 Kafka writes.
    pub fn encode_version(&self, version: i16) -> Bytes {
        assert!(
            (VALUE_V0..=VALUE_V1).contains(&version),
            "TransactionLogValue v{version}"
        );
        let flexible = version >= VALUE_V1;
        let mut w = Writer::new(flexible);
        w.i16(version);
        w.i64(self.producer_id);
        w.i16(self.producer_epoch);
        w.i32(self.timeout_ms);
        w.i8(self.state.id());
        w.nullable_array_len(self.partitions.as_ref().map(Vec::len));
        for (topic, ids) in self.partitions.iter().flatten() {
            w.string(topic);
            w.array_len(ids.len());
            for id in ids {
                w.i32(*id);
            }
            w.tagged_fields();
        }
        w.i64(self.last_update_timestamp_ms);
        w.i64(self.start_timestamp_ms);
        if flexible {
            self.write_tagged_fields(&mut w);
        }
        w.finish()
    }

    fn write_tagged_fields(&self, w: &mut Writer) {
        let mut fields: Vec<(u32, Vec<u8>)> = Vec::new();
        if self.previous_producer_id != NO_PRODUCER_ID {
            let v = self.previous_producer_id.to_be_bytes().to_vec();
            fields.push((TAG_PREVIOUS_PRODUCER_ID, v));
        }
        if self.next_producer_id != NO_PRODUCER_ID {
            fields.push((
                TAG_NEXT_PRODUCER_ID,
                self.next_producer_id.to_be_bytes().to_vec(),
            ));
        }
        if self.client_transaction_version != 0 {
            let v = self.client_transaction_version.to_be_bytes().to_vec();
            fields.push((TAG_CLIENT_TRANSACTION_VERSION, v));
        }
        w.uvarint(fields.len() as u32);
        for (tag, data) in fields {
            w.uvarint(tag);
            w.uvarint(data.len() as u32);
            for b in data {
                w.i8(i8::from_be_bytes([b]));
            }
        }
    }

    pub fn decode(buf: &[u8]) -> Result<TxnValue, TxnRecordError> {
        let mut r = Reader::new(buf, false);
        let version = r.i16()?;
        if !(VALUE_V0..=VALUE_V1).contains(&version) {
            let record = "TransactionLogValue";
            return Err(RecordError::UnsupportedValueVersion { record, version }.into());
        }
        let flexible = version >= VALUE_V1;
        let mut r = Reader::new(buf.get(2..).unwrap_or_default(), flexible);
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        let timeout_ms = r.i32()?;
        let status = r.i8()?;
        let state = TxnState::from_id(status).ok_or(TxnRecordError::UnknownState(status))?;
        let partitions = match r.nullable_array_len()? {
            None => None,
            Some(n) => {
                let mut topics = Vec::with_capacity(n);
                for _ in 0..n {
                    let topic = r.string("topic")?;
                    let count = r.array_len("partitionIds")?;
                    let mut ids = Vec::with_capacity(count);
                    for _ in 0..count {
                        ids.push(r.i32()?);
                    }
                    r.skip_tagged_fields()?;
                    topics.push((topic, ids));
                }
                Some(topics)
            }
        };
        let mut value = TxnValue {
            producer_id,
            producer_epoch,
            timeout_ms,
            state,
            partitions,
            last_update_timestamp_ms: r.i64()?,
            start_timestamp_ms: r.i64()?,
            previous_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            client_transaction_version: 0,
        };
        if flexible {
            value.read_tagged_fields(&mut r)?;
        }
        Ok(value)
    }

    /// Top-level tagged fields of v1: the known ones are read, others skipped.
    fn read_tagged_fields(&mut self, r: &mut Reader<'_>) -> Result<(), TxnRecordError> {
        let count = r.uvarint()?;
        for _ in 0..count {
            let tag = r.uvarint()?;
            let size = usize::try_from(r.uvarint()?).map_err(|_| RecordError::Truncated)?;
            let data = r.take(size)?;
            let mut field = Reader::new(data, false);
            match tag {
                TAG_PREVIOUS_PRODUCER_ID => self.previous_producer_id = field.i64()?,
                TAG_NEXT_PRODUCER_ID => self.next_producer_id = field.i64()?,
                TAG_CLIENT_TRANSACTION_VERSION => self.client_transaction_version = field.i16()?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Kafka's `PartitionsSchema` list: one entry per topic, topics and partitions sorted.
fn group_by_topic<'a>(
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
) -> Vec<(String, Vec<i32>)> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, p) in partitions {
        by_topic.entry(topic).or_default().push(*p);
    }
    by_topic
        .into_iter()
        .map(|(t, mut ps)| {
            ps.sort_unstable();
            (t.to_string(), ps)
        })
        .collect()
}
