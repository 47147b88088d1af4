//! Idempotent producers: duplicates, sequences, epochs, and what a rejected payload leaves.

use super::*;
use crate::log::{AppendInfo, LogError, ProducerInfo, TimestampType};

fn fresh() -> (tempfile::TempDir, PartitionLog) {
    let tmp = tempfile::tempdir().unwrap();
    let log = open(&partition_dir(&tmp), &LogConfig::default());
    (tmp, log)
}

fn append(log: &mut PartitionLog, mut batch: Vec<u8>) -> Result<AppendInfo, LogError> {
    log.append(&mut batch, 0, 1_000)
}

/// Appending `batch` fails with an error matching `check` and writes nothing.
fn assert_rejected(log: &mut PartitionLog, batch: Vec<u8>, check: impl Fn(&LogError) -> bool) {
    let (end, size, producers) = (log.log_end_offset(), log.size_bytes(), log.producers());
    let err = append(log, batch).unwrap_err();
    assert!(check(&err), "unexpected error {err:?}");
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.size_bytes(), size);
    assert_eq!(log.producers(), producers);
}

fn out_of_order(e: &LogError) -> bool {
    matches!(e, LogError::OutOfOrderSequence(_))
}

fn fenced(e: &LogError) -> bool {
    matches!(e, LogError::InvalidProducerEpoch(_))
}

#[test]
fn retry_of_each_of_the_last_five_batches_returns_the_original_offsets_and_writes_nothing() {
    let (_tmp, mut log) = fresh();
    append(&mut log, simple(2, 0)).unwrap();
    let mut firsts = Vec::new();
    for k in 0..6 {
        let info = append(&mut log, producer_batch(3, 7, 0, 3 * k, false)).unwrap();
        assert!(!info.duplicate);
        assert_eq!(
            (info.base_offset, info.last_offset),
            (2 + 3 * k as i64, 4 + 3 * k as i64)
        );
        firsts.push(info);
    }
    let (end, size) = (log.log_end_offset(), log.size_bytes());
    assert_eq!(end, 20);
    for k in 1..6 {
        let mut retry = producer_batch(3, 7, 0, 3 * k, false);
        let info = log.append(&mut retry, 0, 99_000).unwrap();
        assert_eq!(
            info,
            AppendInfo {
                base_offset: 2 + 3 * k as i64,
                last_offset: 4 + 3 * k as i64,
                log_append_time: -1,
                log_start_offset: 0,
                records: 0,
                max_timestamp: firsts[k as usize].max_timestamp,
                duplicate: true,
            }
        );
    }
    assert_eq!((log.log_end_offset(), log.size_bytes()), (end, size));
    // The first batch fell out of the cache: its retry is out of order, like Kafka's.
    assert_rejected(&mut log, producer_batch(3, 7, 0, 0, false), out_of_order);
    let info = append(&mut log, producer_batch(1, 7, 0, 18, false)).unwrap();
    assert_eq!((info.base_offset, info.duplicate), (20, false));
}

#[test]
fn sequence_gap_is_out_of_order_and_writes_nothing() {
    let (_tmp, mut log) = fresh();
    append(&mut log, producer_batch(3, 7, 0, 0, false)).unwrap();
    assert_rejected(&mut log, producer_batch(1, 7, 0, 4, false), out_of_order);
    assert_rejected(&mut log, producer_batch(1, 7, 0, 2, false), out_of_order);
    let info = append(&mut log, producer_batch(1, 7, 0, 3, false)).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (3, 3));
}

#[test]
fn old_epoch_is_invalid_producer_epoch() {
    let (_tmp, mut log) = fresh();
    append(&mut log, producer_batch(2, 7, 5, 0, false)).unwrap();
    assert_rejected(&mut log, producer_batch(1, 7, 4, 2, false), fenced);
    assert_rejected(&mut log, producer_batch(1, 7, 4, 0, false), fenced);
}

#[test]
fn new_epoch_must_start_at_sequence_zero() {
    let (_tmp, mut log) = fresh();
    append(&mut log, producer_batch(3, 7, 0, 0, false)).unwrap();
    assert_rejected(&mut log, producer_batch(1, 7, 1, 5, false), out_of_order);
    let info = append(&mut log, producer_batch(2, 7, 1, 0, false)).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (3, 4));
    // The old epoch's batches are gone from the cache, and the old epoch is fenced.
    assert_rejected(&mut log, producer_batch(3, 7, 0, 0, false), fenced);
    assert_eq!(log.producers()[0].producer_epoch, 1);
    assert_eq!(log.producers()[0].last_sequence, 1);
}

#[test]
fn sequence_wraps_from_i32_max_to_zero() {
    let (_tmp, mut log) = fresh();
    append(&mut log, producer_batch(2, 7, 0, i32::MAX - 1, false)).unwrap();
    assert_eq!(log.producers()[0].last_sequence, i32::MAX);
    let info = append(&mut log, producer_batch(3, 7, 0, 0, false)).unwrap();
    assert_eq!(info.base_offset, 2);
    let dup = append(&mut log, producer_batch(2, 7, 0, i32::MAX - 1, false)).unwrap();
    assert!(dup.duplicate);
    assert_eq!((dup.base_offset, dup.last_offset), (0, 1));

    // A batch spanning the wrap ends at sequence 0 (MAX-1, MAX, 0).
    append(&mut log, producer_batch(3, 8, 0, i32::MAX - 1, false)).unwrap();
    let pid8 = |log: &PartitionLog| log.producers()[1].last_sequence;
    assert_eq!(pid8(&log), 0);
    assert_rejected(&mut log, producer_batch(1, 8, 0, 0, false), out_of_order);
    append(&mut log, producer_batch(1, 8, 0, 1, false)).unwrap();
    assert_eq!(pid8(&log), 1);
}

#[test]
fn unknown_producer_may_start_at_any_sequence() {
    let (_tmp, mut log) = fresh();
    append(&mut log, producer_batch(2, 9, 3, 42, false)).unwrap();
    assert_rejected(&mut log, producer_batch(1, 9, 3, 45, false), out_of_order);
    append(&mut log, producer_batch(1, 9, 3, 44, false)).unwrap();
}

#[test]
fn control_batch_from_a_client_is_invalid_record() {
    let (_tmp, mut log) = fresh();
    let record = kafka_protocol::records::Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: 7,
        producer_epoch: 0,
        timestamp_type: RecordTimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_000,
        key: Some(Bytes::from_static(&[0, 0, 0, 1])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &opts).unwrap();
    assert_rejected(
        &mut log,
        buf.to_vec(),
        |e| matches!(e, LogError::InvalidRecord(m) if m.contains("control")),
    );
}

#[test]
fn producer_id_with_negative_sequence_is_invalid_record() {
    let (_tmp, mut log) = fresh();
    assert_rejected(&mut log, producer_batch(1, 7, 0, -1, false), |e| {
        matches!(e, LogError::InvalidRecord(_))
    });
}

#[test]
fn one_bad_batch_rejects_the_whole_payload() {
    let (_tmp, mut log) = fresh();
    let mut payload = producer_batch(2, 7, 0, 0, false);
    payload.extend(producer_batch(1, 8, 0, 0, false));
    payload.extend(producer_batch(1, 7, 0, 5, false));
    assert_rejected(&mut log, payload, out_of_order);
    assert!(log.producers().is_empty());

    let mut payload = producer_batch(2, 7, 0, 0, false);
    payload.extend(producer_batch(1, 8, 0, 0, false));
    payload.extend(producer_batch(1, 7, 0, 2, false));
    let info = append(&mut log, payload).unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.records),
        (0, 3, 4)
    );
    let seqs: Vec<(i64, i32)> = log
        .producers()
        .iter()
        .map(|p| (p.producer_id, p.last_sequence))
        .collect();
    assert_eq!(seqs, vec![(7, 2), (8, 0)]);
    // Each batch of that payload is now a duplicate on its own.
    let dup = append(&mut log, producer_batch(1, 7, 0, 2, false)).unwrap();
    assert_eq!(
        (dup.base_offset, dup.last_offset, dup.duplicate),
        (3, 3, true)
    );
}

#[test]
fn batches_without_producer_id_are_not_tracked() {
    let (_tmp, mut log) = fresh();
    for _ in 0..3 {
        append(&mut log, simple(4, 10)).unwrap();
    }
    assert!(log.producers().is_empty());
    assert_eq!(log.last_stable_offset(), 12);
}

#[test]
fn duplicate_under_log_append_time_returns_the_original_append_time() {
    let tmp = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = open(&partition_dir(&tmp), &config);
    let first = log
        .append(&mut producer_batch(2, 7, 0, 0, false), 0, 5_000)
        .unwrap();
    assert_eq!(first.log_append_time, 5_000);
    let dup = log
        .append(&mut producer_batch(2, 7, 0, 0, false), 0, 9_000)
        .unwrap();
    assert_eq!(
        (dup.duplicate, dup.log_append_time, dup.max_timestamp),
        (true, 5_000, 5_000)
    );
}

#[test]
fn expire_producers_removes_idle_producers_without_open_transactions() {
    let (_tmp, mut log) = fresh();
    append(&mut log, producer_batch_at(2, 1, 0, 0, false, 1_000)).unwrap();
    append(&mut log, producer_batch_at(2, 2, 0, 0, true, 1_000)).unwrap();
    append(&mut log, producer_batch_at(2, 3, 0, 0, false, 5_000)).unwrap();
    // Producer 1's last timestamp is 1001: exactly 3000 before 4001.
    assert_eq!(log.expire_producers(4_000, 3_000), 0);
    assert_eq!(log.expire_producers(4_001, 3_000), 1);
    let pids: Vec<i64> = log.producers().iter().map(|p| p.producer_id).collect();
    assert_eq!(pids, vec![2, 3]);
    // An expired producer is unknown: its retry is not recognised, any sequence goes.
    let info = append(&mut log, producer_batch_at(2, 1, 0, 0, false, 1_000)).unwrap();
    assert_eq!((info.base_offset, info.duplicate), (6, false));
    // Producer 2 stays while its transaction is open, and goes once it is closed.
    assert_eq!(log.expire_producers(1_000_000, 3_000), 2);
    log.append_control(2, 0, true, 0, 0, 2_000).unwrap();
    assert_eq!(log.expire_producers(1_000_000, 3_000), 1);
    assert!(log.producers().is_empty());
}

#[test]
fn producers_describe_epoch_sequence_timestamp_and_open_transaction() {
    let (_tmp, mut log) = fresh();
    append(&mut log, producer_batch_at(3, 7, 2, 0, false, 100)).unwrap();
    append(&mut log, producer_batch_at(2, 7, 2, 3, false, 200)).unwrap();
    append(&mut log, producer_batch_at(1, 8, 0, 0, true, 300)).unwrap();
    log.append_control(9, 4, false, 11, 0, 400).unwrap();
    assert_eq!(
        log.producers(),
        vec![
            ProducerInfo {
                producer_id: 7,
                producer_epoch: 2,
                last_sequence: 4,
                last_timestamp: 201,
                coordinator_epoch: -1,
                current_txn_start_offset: -1,
            },
            ProducerInfo {
                producer_id: 8,
                producer_epoch: 0,
                last_sequence: 0,
                last_timestamp: 300,
                coordinator_epoch: -1,
                current_txn_start_offset: 5,
            },
            ProducerInfo {
                producer_id: 9,
                producer_epoch: 4,
                last_sequence: -1,
                last_timestamp: 400,
                coordinator_epoch: 11,
                current_txn_start_offset: -1,
            },
        ]
    );
}
