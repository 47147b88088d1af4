//! Tests of the log store, with batches built by kafka-protocol's encoder (real bytes).

mod compaction;
mod crash;
mod faults;
mod idempotence;
mod leader_epochs;
mod model;
mod policy;
mod producer_recovery;
mod recovery;
mod replica;
mod replica_hw;
mod replica_model;
mod timestamps;
mod transactions;
mod truncation;
mod validation;

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as RecordTimestampType,
};

use super::{BatchIter, LogConfig, PartitionLog};

pub(super) const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// One v2 batch with a record per timestamp, offsets from 0.
pub(super) fn encode(timestamps: &[i64], compression: Compression, value_len: usize) -> Vec<u8> {
    let records: Vec<Record> = timestamps
        .iter()
        .enumerate()
        .map(|(i, &ts)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: RecordTimestampType::Creation,
            offset: i as i64,
            // Constant offset - sequence keeps the encoder to one batch; base sequence -1.
            sequence: i as i32 - 1,
            timestamp: ts,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(
                (0..value_len)
                    .map(|j| (i * 31 + j % 17) as u8)
                    .collect::<Vec<u8>>(),
            )),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
    buf.to_vec()
}

/// One batch of `n` records from producer `pid` with epoch `epoch` and base sequence `seq`,
/// transactional or not, timestamps `ts, ts+1, ...`.
pub(super) fn producer_batch_at(
    n: usize,
    pid: i64,
    epoch: i16,
    seq: i32,
    transactional: bool,
    ts: i64,
) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: RecordTimestampType::Creation,
            offset: i as i64,
            // The encoder keeps offset - sequence constant within a batch.
            sequence: seq.wrapping_add(i as i32),
            timestamp: ts + i as i64,
            key: Some(Bytes::from(format!("p{pid}-{seq}-{i}"))),
            value: Some(Bytes::from_static(b"value")),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
    assert_eq!(BatchIter::new(&buf).count(), 1, "one batch");
    buf.to_vec()
}

/// [`producer_batch_at`] with timestamps from 1000.
pub(super) fn producer_batch(
    n: usize,
    pid: i64,
    epoch: i16,
    seq: i32,
    transactional: bool,
) -> Vec<u8> {
    producer_batch_at(n, pid, epoch, seq, transactional, 1_000)
}

/// A batch of `n` uncompressed records with timestamps `ts, ts+1, ...`.
pub(super) fn simple(n: usize, ts: i64) -> Vec<u8> {
    let timestamps: Vec<i64> = (0..n as i64).map(|i| ts + i).collect();
    encode(&timestamps, Compression::None, 20)
}

/// Small segments and dense indexes, so a few appends exercise rolls and index lookups.
pub(super) fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

pub(super) fn open(dir: &Path, config: &LogConfig) -> PartitionLog {
    PartitionLog::open(dir, config.clone(), 1_000).unwrap()
}

pub(super) fn partition_dir(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("topic-0")
}

/// Everything readable from `offset` on, concatenated, using reads of `max_bytes`.
pub(super) fn read_all(log: &PartitionLog, mut offset: i64, max_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while offset < log.log_end_offset() {
        let bytes = log
            .read(offset, max_bytes, true)
            .unwrap()
            .execute()
            .unwrap();
        if bytes.is_empty() {
            break;
        }
        let mut last = offset;
        for item in BatchIter::new(&bytes) {
            let (h, _) = item.unwrap();
            last = h.last_offset();
        }
        out.extend_from_slice(&bytes);
        offset = last + 1;
    }
    out
}

/// (offset, timestamp) of every record in a byte range of batches.
pub(super) fn decode_records(bytes: &[u8]) -> Vec<(i64, i64)> {
    let mut buf = Bytes::copy_from_slice(bytes);
    let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
    sets.iter()
        .flat_map(|s| s.records.iter().map(|r| (r.offset, r.timestamp)))
        .collect()
}

pub(super) fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Copy a partition directory (to replay recovery on pristine files).
pub(super) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in list_dir(from) {
        std::fs::copy(from.join(&name), to.join(&name)).unwrap();
    }
}

pub(super) fn segment_path(dir: &Path, base: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base:020}{suffix}"))
}
