//! Transactions: markers, the last stable offset, the aborted-transaction index, read_upto.

use super::*;
use crate::log::txn_index::AbortedTxn;
use crate::log::{AppendInfo, LogError};
use crate::protocol::batch::{verify_crc, BatchHeader};

fn fresh(config: LogConfig) -> (tempfile::TempDir, PartitionLog) {
    let tmp = tempfile::tempdir().unwrap();
    let log = open(&partition_dir(&tmp), &config);
    (tmp, log)
}

fn append(log: &mut PartitionLog, mut batch: Vec<u8>) -> AppendInfo {
    log.append(&mut batch, 0, 1_000).unwrap()
}

fn commit(log: &mut PartitionLog, pid: i64) -> AppendInfo {
    log.append_control(pid, 0, true, 0, 0, 2_000).unwrap()
}

fn abort(log: &mut PartitionLog, pid: i64) -> AppendInfo {
    log.append_control(pid, 0, false, 0, 0, 2_000).unwrap()
}

/// Base offsets of the batches a read returns.
fn batch_bases(bytes: &[u8]) -> Vec<i64> {
    BatchIter::new(bytes)
        .map(|b| b.unwrap().0.base_offset)
        .collect()
}

#[test]
fn non_transactional_batch_during_an_open_transaction_is_invalid_txn_state() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    append(&mut log, producer_batch(2, 7, 0, 0, true));
    let mut batch = producer_batch(1, 7, 0, 2, false);
    let err = log.append(&mut batch, 0, 1_000).unwrap_err();
    assert!(matches!(err, LogError::InvalidTxnState(_)), "{err:?}");
    assert_eq!(log.log_end_offset(), 2);
    // Once committed, non-transactional batches are fine again.
    commit(&mut log, 7);
    let info = append(&mut log, producer_batch(1, 7, 0, 2, false));
    assert_eq!(info.base_offset, 3);
}

#[test]
fn last_stable_offset_stays_at_the_earliest_open_transaction_until_its_marker() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    append(&mut log, simple(2, 0)); // 0-1
    assert_eq!(log.last_stable_offset(), 2);
    append(&mut log, producer_batch(2, 7, 0, 0, true)); // 2-3, opens 7's transaction
    assert_eq!(log.last_stable_offset(), 2);
    append(&mut log, producer_batch(2, 8, 0, 0, true)); // 4-5, opens 8's
    append(&mut log, producer_batch(1, 7, 0, 2, true)); // 6, still 7's transaction
    append(&mut log, simple(1, 0)); // 7
    assert_eq!(log.last_stable_offset(), 2);
    assert_eq!(log.high_watermark(), 8);
    let info = commit(&mut log, 7); // 8
    assert_eq!(
        (info.base_offset, info.last_offset, info.records),
        (8, 8, 1)
    );
    assert_eq!(log.last_stable_offset(), 4);
    abort(&mut log, 8); // 9
    assert_eq!(log.last_stable_offset(), 10);
    assert_eq!(log.high_watermark(), 10);
    // A new transaction of 7 starts at its next batch.
    append(&mut log, producer_batch(1, 7, 0, 3, true)); // 10
    assert_eq!(log.last_stable_offset(), 10);
    // DeleteRecords past an open transaction moves the LSO with the log start offset.
    append(&mut log, simple(3, 0)); // 11-13
    log.advance_log_start_offset(12).unwrap();
    assert_eq!(log.last_stable_offset(), 12);
}

#[test]
fn aborted_transactions_are_returned_for_overlapping_ranges_only() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    append(&mut log, producer_batch(2, 7, 0, 0, true)); // 0-1
    append(&mut log, producer_batch(2, 8, 0, 0, true)); // 2-3
    abort(&mut log, 7); // 4; LSO then: 8's transaction at 2
    append(&mut log, simple(2, 0)); // 5-6
    commit(&mut log, 8); // 7
    append(&mut log, producer_batch(1, 9, 0, 0, true)); // 8
    abort(&mut log, 9); // 9; LSO then 10
    append(&mut log, simple(2, 0)); // 10-11

    assert_eq!(log.aborted_transactions(0, 12), vec![(7, 0), (9, 8)]);
    assert_eq!(log.aborted_transactions(0, 1), vec![(7, 0)]);
    assert_eq!(log.aborted_transactions(4, 5), vec![(7, 0)]);
    // Past 7's marker, 7 no longer matters; before 9's first offset, 9 does not yet.
    assert_eq!(log.aborted_transactions(5, 8), Vec::<(i64, i64)>::new());
    assert_eq!(log.aborted_transactions(5, 9), vec![(9, 8)]);
    assert_eq!(log.aborted_transactions(10, 12), Vec::<(i64, i64)>::new());
    let entries: Vec<AbortedTxn> = log.active().txn.entries().to_vec();
    assert_eq!(
        entries,
        vec![
            AbortedTxn {
                producer_id: 7,
                first_offset: 0,
                last_offset: 4,
                last_stable_offset: 2,
            },
            AbortedTxn {
                producer_id: 9,
                first_offset: 8,
                last_offset: 9,
                last_stable_offset: 10,
            },
        ]
    );
}

#[test]
fn txnindex_file_has_kafkas_34_byte_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &LogConfig::default());
    append(&mut log, producer_batch(3, 0x0102, 0, 0, true)); // 0-2
    abort(&mut log, 0x0102); // 3
    let bytes = std::fs::read(segment_path(&dir, 0, ".txnindex")).unwrap();
    let mut want = vec![0u8, 0];
    for v in [0x0102i64, 0, 3, 4] {
        want.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(bytes, want);
}

#[test]
fn marker_without_open_transaction_is_written_and_changes_nothing_else() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    append(&mut log, simple(2, 0));
    let info = abort(&mut log, 42);
    assert_eq!((info.base_offset, info.last_offset), (2, 2));
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(log.last_stable_offset(), 3);
    assert!(log.aborted_transactions(0, 3).is_empty());
    assert!(log.active().txn.entries().is_empty());
}

#[test]
fn marker_epochs_older_are_fenced_newer_bump_the_producer() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    append(&mut log, producer_batch(1, 7, 3, 0, true));
    let err = log.append_control(7, 2, false, 0, 0, 2_000).unwrap_err();
    assert!(matches!(err, LogError::InvalidProducerEpoch(_)), "{err:?}");
    assert_eq!(log.last_stable_offset(), 0);
    // The coordinator aborts a timed-out transaction with a bumped epoch.
    log.append_control(7, 4, false, 5, 0, 2_000).unwrap();
    assert_eq!(log.last_stable_offset(), 2);
    assert_eq!(log.aborted_transactions(0, 2), vec![(7, 0)]);
    assert_eq!(log.producers()[0].producer_epoch, 4);
    // The old epoch is now fenced for data too; the new one starts at sequence 0.
    let mut old = producer_batch(1, 7, 3, 1, true);
    assert!(matches!(
        log.append(&mut old, 0, 1_000),
        Err(LogError::InvalidProducerEpoch(_))
    ));
    append(&mut log, producer_batch(1, 7, 4, 0, true));
    // A marker from an older coordinator is fenced.
    let err = log.append_control(7, 4, true, 4, 0, 2_000).unwrap_err();
    assert!(
        matches!(err, LogError::TransactionCoordinatorFenced(_)),
        "{err:?}"
    );
    log.append_control(7, 4, true, 5, 0, 2_000).unwrap();
    assert_eq!(log.last_stable_offset(), 4);
}

#[test]
fn marker_bytes_are_a_valid_v2_control_batch() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    append(&mut log, producer_batch(2, 77, 5, 0, true));
    log.append_control(77, 5, true, 9, 3, 12_345).unwrap();
    log.append_control(77, 5, false, 9, 3, 12_346).unwrap();
    let bytes = log.read(2, 1 << 20, true).unwrap().execute().unwrap();
    let batches: Vec<(BatchHeader, &[u8])> = BatchIter::new(&bytes).map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 2);
    for (i, (h, b)) in batches.iter().enumerate() {
        assert!(verify_crc(b));
        assert_eq!(b.len(), 78);
        assert_eq!(h.base_offset, 2 + i as i64);
        assert_eq!(h.partition_leader_epoch, 3);
        assert_eq!(h.attributes, 0x30);
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (77, 5, -1)
        );
        assert_eq!((h.records_count, h.last_offset_delta), (1, 0));
        assert_eq!(h.max_timestamp, 12_345 + i as i64);
    }
    let mut buf = Bytes::copy_from_slice(&bytes);
    let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
    let records: Vec<_> = sets.iter().flat_map(|s| s.records.iter()).collect();
    assert_eq!(records.len(), 2);
    for (r, kind) in records.iter().zip([1u8, 0]) {
        assert!(r.control && r.transactional);
        assert_eq!(r.key.as_deref(), Some(&[0u8, 0, 0, kind][..]));
        assert_eq!(r.value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 9][..]));
        assert!(r.headers.is_empty());
    }
    assert_eq!((records[0].offset, records[0].timestamp), (2, 12_345));
}

#[test]
fn read_upto_returns_only_batches_below_the_last_stable_offset() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    append(&mut log, simple(2, 0)); // 0-1
    append(&mut log, simple(3, 0)); // 2-4
    append(&mut log, producer_batch(2, 7, 0, 0, true)); // 5-6
    append(&mut log, simple(1, 0)); // 7
    let lso = log.last_stable_offset();
    assert_eq!(lso, 5);
    let read = |log: &PartitionLog, from: i64, max: i64| {
        let bytes = log
            .read_upto(from, 1 << 20, true, max)
            .unwrap()
            .execute()
            .unwrap();
        batch_bases(&bytes)
    };
    assert_eq!(read(&log, 0, lso), vec![0, 2]);
    assert_eq!(read(&log, 3, lso), vec![2]);
    assert!(log.read_upto(5, 1 << 20, true, lso).unwrap().is_empty());
    assert!(log.read_upto(7, 1 << 20, true, lso).unwrap().is_empty());
    // A bound inside a batch keeps that batch (it starts below the bound).
    assert_eq!(read(&log, 0, 3), vec![0, 2]);
    assert_eq!(read(&log, 0, 2), vec![0]);
    // Reads outside the log are still errors; `read` is read_upto the log end.
    assert!(matches!(
        log.read_upto(9, 1 << 20, true, lso),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read(&log, 0, i64::MAX), vec![0, 2, 5, 7]);
    commit(&mut log, 7);
    assert_eq!(log.last_stable_offset(), 9);
    assert_eq!(read(&log, 5, log.last_stable_offset()), vec![5, 7, 8]);
}

#[test]
fn read_upto_across_segments_stops_at_the_bound() {
    let (_tmp, mut log) = fresh(small_config());
    let mut bases = Vec::new();
    for _ in 0..60 {
        bases.push(append(&mut log, simple(5, 0)).base_offset);
    }
    assert!(log.segment_count() > 3);
    let bound = bases[37];
    let mut got = Vec::new();
    let mut offset = 0;
    loop {
        let bytes = log
            .read_upto(offset, 1000, true, bound)
            .unwrap()
            .execute()
            .unwrap();
        if bytes.is_empty() {
            break;
        }
        let b = batch_bases(&bytes);
        offset = *b.last().unwrap() + 5;
        got.extend(b);
    }
    assert_eq!(got, bases[..37].to_vec());
}

#[test]
fn retention_deleting_a_segment_removes_its_txnindex() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &small_config());
    append(&mut log, producer_batch(2, 7, 0, 0, true));
    abort(&mut log, 7);
    while log.segment_count() < 3 {
        append(&mut log, simple(10, 0));
    }
    append(&mut log, producer_batch(2, 8, 0, 0, true));
    let marker = abort(&mut log, 8).base_offset;
    let active = *log.segments.keys().last().unwrap();
    assert!(segment_path(&dir, 0, ".txnindex").exists());
    assert!(segment_path(&dir, active, ".txnindex").exists());
    assert_eq!(
        log.aborted_transactions(0, i64::MAX),
        vec![(7, 0), (8, marker - 2)]
    );

    log.advance_log_start_offset(active).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert!(!segment_path(&dir, 0, ".txnindex").exists());
    assert!(segment_path(&dir, active, ".txnindex").exists());
    assert_eq!(log.aborted_transactions(0, i64::MAX), vec![(8, marker - 2)]);
}

#[test]
fn coordinator_appends_need_no_sequence_but_respect_epochs_and_transactions() {
    use crate::log::AppendOrigin::{Client, Coordinator};
    let (_tmp, mut log) = fresh(LogConfig::default());
    // A transactional offset commit: the producer's id and epoch, no sequence.
    let offsets = || producer_batch(1, 7, 2, -1, true);
    assert!(matches!(
        log.append_from(&mut offsets(), 0, 1_000, Client),
        Err(LogError::InvalidRecord(_))
    ));
    let first = log
        .append_from(&mut offsets(), 0, 1_000, Coordinator)
        .unwrap();
    assert_eq!(first.base_offset, 0);
    assert_eq!(log.last_stable_offset(), 0);
    // Not deduplicated: the coordinator does not retry through the log.
    let second = log
        .append_from(&mut offsets(), 0, 1_000, Coordinator)
        .unwrap();
    assert_eq!((second.base_offset, second.duplicate), (1, false));
    let mut fenced = producer_batch(1, 7, 1, -1, true);
    assert!(matches!(
        log.append_from(&mut fenced, 0, 1_000, Coordinator),
        Err(LogError::InvalidProducerEpoch(_))
    ));
    let mut outside = producer_batch(1, 7, 2, -1, false);
    assert!(matches!(
        log.append_from(&mut outside, 0, 1_000, Coordinator),
        Err(LogError::InvalidTxnState(_))
    ));
    log.append_control(7, 2, false, 0, 0, 2_000).unwrap();
    assert_eq!(log.aborted_transactions(0, 3), vec![(7, 0)]);
    assert_eq!(log.last_stable_offset(), 3);
}

#[test]
fn marker_without_producer_id_is_invalid_record() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    assert!(matches!(
        log.append_control(-1, 0, true, 0, 0, 1_000),
        Err(LogError::InvalidRecord(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
}
