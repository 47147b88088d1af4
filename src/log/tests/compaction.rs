//! Log compaction: the key map, offsets, tombstones, compaction lags, the active segment,
//! transactions, crash-safe swaps, compressed batches, keyless records.

use std::collections::BTreeMap;

use super::*;
use crate::log::{CleanupPolicy, LogError};
use crate::protocol::batch::{verify_crc, BatchHeader};

const NOW: i64 = 100_000;

fn compact_config() -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 256,
        cleanup_policy: CleanupPolicy {
            delete: false,
            compact: true,
        },
        delete_retention_ms: 10_000,
        ..LogConfig::default()
    }
}

fn fresh(config: LogConfig) -> (tempfile::TempDir, PartitionLog) {
    let tmp = tempfile::tempdir().unwrap();
    let log = open(&partition_dir(&tmp), &config);
    (tmp, log)
}

/// One batch of (key, value) records (value `None` = tombstone).
fn keyed(records: &[(String, Option<String>)], compression: Compression, pid: i64) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: pid >= 0,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: if pid >= 0 { 0 } else { -1 },
            timestamp_type: RecordTimestampType::Creation,
            offset: i as i64,
            sequence: if pid >= 0 { i as i32 } else { i as i32 - 1 },
            timestamp: 1_000 + i as i64,
            key: Some(Bytes::from(k.clone())),
            value: v.clone().map(Bytes::from),
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

fn kv(key: usize, value: usize) -> (String, Option<String>) {
    (format!("key-{key}"), Some(format!("value-{value}")))
}

fn tombstone(key: usize) -> (String, Option<String>) {
    (format!("key-{key}"), None)
}

/// Every record readable from the log start: offset → (key, value).
fn contents(log: &PartitionLog) -> BTreeMap<i64, (String, Option<String>)> {
    let bytes = read_all(log, log.log_start_offset(), 1 << 20);
    for item in BatchIter::new(&bytes) {
        let (_, b) = item.unwrap();
        assert!(verify_crc(b), "every batch read back has a valid CRC");
    }
    let mut buf = Bytes::from(bytes);
    let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
    sets.iter()
        .flat_map(|s| s.records.iter())
        .filter(|r| !r.control)
        .map(|r| {
            let k = String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap();
            let v = r
                .value
                .clone()
                .map(|v| String::from_utf8(v.to_vec()).unwrap());
            (r.offset, (k, v))
        })
        .collect()
}

thread_local! {
    /// Values count up across the `fill` calls of a test (each test has its own thread).
    static COUNTER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Write `batches` batches of 10 records, record n of the test with key `n % keys` and value
/// n; returns all records written by offset.
fn fill(
    log: &mut PartitionLog,
    batches: usize,
    keys: usize,
    compression: Compression,
) -> BTreeMap<i64, (String, Option<String>)> {
    let mut written = BTreeMap::new();
    for _ in 0..batches {
        let recs: Vec<_> = (0..10)
            .map(|_| {
                let n = COUNTER.with(|c| {
                    c.set(c.get() + 1);
                    c.get()
                });
                kv(n % keys, n)
            })
            .collect();
        let info = log
            .append(&mut keyed(&recs, compression, -1), 0, 1_000)
            .unwrap();
        for (i, r) in recs.into_iter().enumerate() {
            written.insert(info.base_offset + i as i64, r);
        }
    }
    written
}

/// What compaction of `[.., dirty_end)` must leave: the latest record per key below it
/// (tombstones included), everything at or after it.
fn expected(
    written: &BTreeMap<i64, (String, Option<String>)>,
    dirty_end: i64,
) -> BTreeMap<i64, (String, Option<String>)> {
    let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
    for (&o, (k, _)) in written.range(..dirty_end) {
        latest.insert(k, o);
    }
    written
        .iter()
        .filter(|(&o, (k, _))| o >= dirty_end || latest.get(k.as_str()) == Some(&o))
        .map(|(&o, r)| (o, r.clone()))
        .collect()
}

fn active_base(log: &PartitionLog) -> i64 {
    *log.segments.keys().last().unwrap()
}

#[test]
fn key_map_keeps_the_latest_value_per_key_at_its_original_offset() {
    for codec in CODECS {
        let (_tmp, mut log) = fresh(compact_config());
        let written = fill(&mut log, 40, 7, codec);
        assert!(log.segment_count() > 3);
        let (start, end, size) = (
            log.log_start_offset(),
            log.log_end_offset(),
            log.size_bytes(),
        );
        let stats = log.clean(NOW).unwrap().expect("a first pass is always due");
        assert!(stats.records_removed > 0 && stats.segments_rewritten > 0);
        assert!(log.size_bytes() < size);
        assert_eq!(stats.keys, 7);
        assert_eq!(
            contents(&log),
            expected(&written, active_base(&log)),
            "{codec:?}"
        );
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (start, end));
        assert_eq!(log.high_watermark(), end);
        // Nothing new is dirty: a second pass is not due.
        assert!(log.clean(NOW).unwrap().is_none());
    }
}

#[test]
fn compressed_batches_keep_their_codec() {
    for (codec, code) in CODECS.into_iter().zip(0u8..) {
        let (_tmp, mut log) = fresh(compact_config());
        fill(&mut log, 30, 3, codec);
        log.clean(NOW).unwrap().unwrap();
        let bytes = read_all(&log, 0, 1 << 20);
        for item in BatchIter::new(&bytes) {
            let (h, _) = item.unwrap();
            assert!(h.records_count == 0 || h.compression() == code, "{codec:?}");
        }
    }
}

#[test]
fn active_segment_is_never_touched() {
    let (_tmp, mut log) = fresh(compact_config());
    fill(&mut log, 40, 2, Compression::None);
    let base = active_base(&log);
    let before = read_all(&log, base, 1 << 20);
    log.clean(NOW).unwrap().unwrap();
    assert_eq!(read_all(&log, base, 1 << 20), before);
    // Within the active segment every old value of the two keys is still there.
    assert!(decode_records(&before).len() > 2);
}

#[test]
fn fetch_at_a_removed_offset_returns_the_next_batch() {
    let (_tmp, mut log) = fresh(compact_config());
    // Batch 0 is wholly superseded by batch 1; then enough to roll.
    let mut b0 = keyed(&[kv(5_001, 0), kv(5_002, 0)], Compression::None, -1);
    log.append(&mut b0, 0, 1_000).unwrap();
    let mut b1 = keyed(&[kv(5_001, 1), kv(5_002, 1)], Compression::None, -1);
    log.append(&mut b1, 0, 1_000).unwrap();
    fill(&mut log, 30, 50, Compression::None);
    log.clean(NOW).unwrap().unwrap();
    let bytes = log.read(0, 1 << 20, true).unwrap().execute().unwrap();
    let (h, _) = BatchIter::new(&bytes).next().unwrap().unwrap();
    assert_eq!(h.base_offset, 2);
    assert_eq!(log.log_start_offset(), 0);
}

#[test]
fn tombstones_are_removed_only_after_delete_retention() {
    let (_tmp, mut log) = fresh(compact_config());
    let mut b = keyed(&[kv(5_000, 1), kv(5_001, 2)], Compression::None, -1);
    log.append(&mut b, 0, 1_000).unwrap();
    let mut t = keyed(&[tombstone(5_000)], Compression::None, -1);
    let tomb = log.append(&mut t, 0, 1_000).unwrap().base_offset;
    fill(&mut log, 30, 100, Compression::None);
    let has_tombstone = |log: &PartitionLog| {
        contents(log)
            .get(&tomb)
            .is_some_and(|(k, v)| k == "key-5000" && v.is_none())
    };
    log.clean(NOW).unwrap().unwrap();
    assert!(has_tombstone(&log), "kept right after the first cleaning");
    assert_eq!(contents(&log).get(&0), None, "the value it deletes is gone");
    assert!(log.clean(NOW + 9_999).unwrap().is_none(), "not due yet");
    assert!(has_tombstone(&log));
    log.clean(NOW + 10_000)
        .unwrap()
        .expect("due once delete.retention.ms passed");
    assert!(!has_tombstone(&log));
    assert!(contents(&log).contains_key(&1), "key-5001 is untouched");
    assert!(
        log.clean(NOW + 20_000).unwrap().is_none(),
        "nothing pending"
    );
}

#[test]
fn tombstone_of_a_key_written_once_disappears_with_its_value() {
    let (_tmp, mut log) = fresh(compact_config());
    let mut b = keyed(&[("gone".into(), Some("v".into()))], Compression::None, -1);
    log.append(&mut b, 0, 1_000).unwrap();
    let mut t = keyed(&[("gone".into(), None)], Compression::None, -1);
    log.append(&mut t, 0, 1_000).unwrap();
    fill(&mut log, 30, 5, Compression::None);
    log.clean(NOW).unwrap().unwrap();
    let gone = |log: &PartitionLog| -> Vec<Option<String>> {
        contents(log)
            .values()
            .filter(|(k, _)| k == "gone")
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(gone(&log), vec![None], "only the tombstone is left");
    log.clean(NOW + 10_000).unwrap().unwrap();
    assert!(gone(&log).is_empty());
}

#[test]
fn min_compaction_lag_keeps_young_segments_dirty() {
    let config = LogConfig {
        min_compaction_lag_ms: 50_000,
        ..compact_config()
    };
    let (_tmp, mut log) = fresh(config);
    let written = fill(&mut log, 30, 3, Compression::None);
    // Records are stamped 1000..: at 40_000 they are younger than the lag.
    assert!(log.clean(40_000).unwrap().is_none());
    assert_eq!(contents(&log), written);
    log.clean(51_100).unwrap().unwrap();
    assert_eq!(contents(&log), expected(&written, active_base(&log)));
}

#[test]
fn max_compaction_lag_forces_cleaning_below_the_dirty_ratio() {
    let config = LogConfig {
        min_cleanable_dirty_ratio: 0.99,
        ..compact_config()
    };
    let (_tmp, mut log) = fresh(config.clone());
    fill(&mut log, 40, 1_000, Compression::None); // distinct keys: nothing removed
    log.clean(NOW).unwrap().unwrap();
    // A little more dirty data: well below the 0.99 ratio.
    let written_before = contents(&log);
    for i in 0..6 {
        let mut b = keyed(&[kv(5_000, i)], Compression::None, -1);
        log.append(&mut b, 0, 1_000).unwrap();
    }
    fill(&mut log, 12, 1_000_000, Compression::None);
    assert!(log.clean(NOW).unwrap().is_none(), "ratio not reached");
    let mut forced = config;
    forced.max_compaction_lag_ms = 1;
    log.set_config(forced);
    let stats = log
        .clean(NOW)
        .unwrap()
        .expect("max.compaction.lag.ms passed");
    assert!(stats.records_removed >= 5);
    let after = contents(&log);
    assert_eq!(after.values().filter(|(k, _)| k == "key-5000").count(), 1);
    for (o, r) in &written_before {
        assert_eq!(after.get(o), Some(r), "older distinct keys survive");
    }
}

#[test]
fn delete_policy_never_cleans_and_compact_only_skips_retention() {
    let (_tmp, mut log) = fresh(LogConfig {
        cleanup_policy: CleanupPolicy::default(),
        ..compact_config()
    });
    fill(&mut log, 30, 2, Compression::None);
    assert!(log.plan_cleaning(NOW).unwrap().is_none());

    let (_tmp, mut log) = fresh(LogConfig {
        retention_ms: 1,
        ..compact_config()
    });
    fill(&mut log, 30, 2, Compression::None);
    assert_eq!(
        log.apply_retention(NOW).unwrap(),
        0,
        "compact only: no retention"
    );
    let mut both = log.config().clone();
    both.cleanup_policy.delete = true;
    log.set_config(both);
    assert!(
        log.apply_retention(NOW).unwrap() > 0,
        "compact,delete: retention applies"
    );
}

#[test]
fn keyless_records_are_rejected_only_in_compacted_topics() {
    let (_tmp, mut log) = fresh(compact_config());
    let mut batch = simple(3, 1_000);
    // `simple` records have keys: accepted.
    log.append(&mut batch, 0, 1_000).unwrap();
    let mut records = vec![Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: RecordTimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_000,
        key: None,
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    }];
    for codec in CODECS {
        let mut buf = BytesMut::new();
        let opts = RecordEncodeOptions {
            version: 2,
            compression: codec,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
        let err = log.append(&mut buf.to_vec(), 0, 1_000).unwrap_err();
        let LogError::RecordErrors {
            timestamp: false,
            message,
            errors,
        } = err
        else {
            panic!("{err:?}");
        };
        let dir = log
            .dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let why =
            format!("Compacted topic cannot accept message without key in topic partition {dir}");
        assert_eq!(
            errors,
            vec![crate::log::RecordError {
                batch_index: 0,
                code: 87,
                message: why.clone()
            }]
        );
        assert_eq!(
            message,
            format!(
                "One or more records have been rejected due to 1 record errors in total, and \
                 only showing the first three errors at most: [RecordError(batchIndex=0, \
                 message='{why}')]"
            )
        );
    }
    assert_eq!(log.log_end_offset(), 3);
    let (_tmp, mut delete_log) = fresh(LogConfig::default());
    records[0].key = None;
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
    delete_log.append(&mut buf.to_vec(), 0, 1_000).unwrap();
}

#[test]
fn aborted_records_are_dropped_and_markers_kept_until_the_horizon() {
    let (_tmp, mut log) = fresh(compact_config());
    // Producer 7 aborts keys a/b; producer 8 commits keys c/d.
    let aborted = log
        .append(
            &mut keyed(&[kv(100, 1), kv(101, 1)], Compression::None, 7),
            0,
            1_000,
        )
        .unwrap();
    let committed = log
        .append(
            &mut keyed(&[kv(102, 1), kv(103, 1)], Compression::None, 8),
            0,
            1_000,
        )
        .unwrap();
    let abort_marker = log.append_control(7, 0, false, 0, 0, 1_000).unwrap();
    let commit_marker = log.append_control(8, 0, true, 0, 0, 1_000).unwrap();
    fill(&mut log, 30, 5, Compression::None);
    let (lso, producers) = (log.last_stable_offset(), log.producers());
    let aborted_list = log.aborted_transactions(0, log.log_end_offset());
    log.clean(NOW).unwrap().unwrap();
    let c = contents(&log);
    assert!(!c.contains_key(&aborted.base_offset) && !c.contains_key(&aborted.last_offset));
    assert!(c.contains_key(&committed.base_offset) && c.contains_key(&committed.last_offset));
    let markers = |log: &PartitionLog| -> Vec<i64> {
        BatchIter::new(&read_all(log, 0, 1 << 20))
            .map(|b| b.unwrap().0)
            .filter(BatchHeader::is_control)
            .map(|h| h.base_offset)
            .collect()
    };
    assert_eq!(
        markers(&log),
        vec![abort_marker.base_offset, commit_marker.base_offset]
    );
    // Past the horizon: the abort marker (no data left) goes, the commit marker stays.
    log.clean(NOW + 10_000).unwrap().unwrap();
    assert_eq!(markers(&log), vec![commit_marker.base_offset]);
    assert_eq!(log.last_stable_offset(), lso);
    assert_eq!(log.producers(), producers);
    assert_eq!(
        log.aborted_transactions(0, log.log_end_offset()),
        aborted_list
    );
}

#[test]
fn producer_state_survives_cleaning_and_reopening() {
    let (tmp, mut log) = fresh(compact_config());
    // An idempotent producer's batches all superseded but its last one.
    let mut seq = 0;
    for i in 0..40 {
        let mut b = producer_batch_at(5, 9, 0, seq, false, 1_000 + i);
        seq += 5;
        log.append(&mut b, 0, 1_000).unwrap();
    }
    log.clean(NOW).unwrap().unwrap();
    let producers = log.producers();
    log.close().unwrap();
    let dir = partition_dir(&tmp);
    for name in list_dir(&dir) {
        if name.ends_with(".snapshot") {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
    }
    // Without snapshots the state is replayed from the cleaned log.
    let mut log = open(&dir, &compact_config());
    assert_eq!(log.producers(), producers);
    let mut next = producer_batch_at(5, 9, 0, seq, false, 2_000);
    log.append(&mut next, 0, 1_000).unwrap();
}

#[test]
fn crash_in_the_middle_of_a_swap_recovers_a_valid_log() {
    for step in ["cleaned", "swap"] {
        let (tmp, mut log) = fresh(compact_config());
        // Three keys: later batches supersede whole earlier ones, leaving offset gaps.
        let written = fill(&mut log, 40, 3, Compression::Lz4);
        let dirty_end = active_base(&log);
        let result = log.plan_cleaning(NOW).unwrap().unwrap().execute().unwrap();
        log.write_pre_swap_checkpoint(&result).unwrap();
        let dir = partition_dir(&tmp);
        let cleaned: Vec<String> = list_dir(&dir)
            .into_iter()
            .filter(|n| n.ends_with(".cleaned"))
            .collect();
        assert!(!cleaned.is_empty());
        if step == "swap" {
            // Crash after the first rename of every segment.
            for name in &cleaned {
                let swap = name.replace(".cleaned", ".swap");
                std::fs::rename(dir.join(name), dir.join(swap)).unwrap();
            }
        }
        drop(result);
        drop(log); // kill -9: no close
        let log = open(&dir, &compact_config());
        assert!(list_dir(&dir)
            .iter()
            .all(|n| !n.ends_with(".cleaned") && !n.ends_with(".swap")));
        let got = contents(&log);
        let want = expected(&written, dirty_end);
        // The latest value of every key is there, at its offset; at most old values remain.
        for (o, r) in &want {
            assert_eq!(got.get(o), Some(r), "{step}: offset {o}");
        }
        for (o, r) in &got {
            assert_eq!(written.get(o), Some(r), "{step}: offset {o} is original");
        }
        if step == "swap" {
            assert!(
                got.len() < written.len(),
                "the swapped segment is the cleaned one"
            );
        }
        assert_eq!(log.log_end_offset(), *written.keys().last().unwrap() + 1);
    }
}

#[test]
fn cleaned_log_reopens_after_clean_shutdown_and_cleans_again() {
    let (tmp, mut log) = fresh(compact_config());
    let mut written = fill(&mut log, 40, 7, Compression::Snappy);
    log.clean(NOW).unwrap().unwrap();
    log.close().unwrap();
    let mut log = open(&partition_dir(&tmp), &compact_config());
    written.append(&mut fill(&mut log, 40, 7, Compression::Snappy));
    log.clean(NOW).unwrap().unwrap();
    assert_eq!(contents(&log), expected(&written, active_base(&log)));
}
