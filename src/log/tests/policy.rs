//! Flush policy, group commit, rolls, retention, and read plan semantics.

use super::*;

fn fresh(config: LogConfig) -> (tempfile::TempDir, PartitionLog) {
    let tmp = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(&partition_dir(&tmp), config, 0).unwrap();
    (tmp, log)
}

#[test]
fn flush_messages_fsyncs_once_enough_records_are_unflushed() {
    let (_tmp, mut log) = fresh(LogConfig {
        flush_messages: 5,
        ..LogConfig::default()
    });
    log.append(&mut simple(3, 1), 0, 0).unwrap();
    assert_eq!(log.flushed_offset(), 0);
    log.append(&mut simple(2, 1), 0, 0).unwrap();
    assert_eq!(log.flushed_offset(), 5);
    log.append(&mut simple(4, 1), 0, 0).unwrap();
    assert_eq!(log.flushed_offset(), 5);
}

#[test]
fn flush_ms_fsyncs_when_the_oldest_unflushed_data_is_old_enough() {
    let (_tmp, mut log) = fresh(LogConfig {
        flush_ms: 100,
        ..LogConfig::default()
    });
    log.maybe_flush(1_000).unwrap();
    log.append(&mut simple(3, 1), 0, 1_000).unwrap();
    log.append(&mut simple(3, 1), 0, 1_050).unwrap();
    log.maybe_flush(1_099).unwrap();
    assert_eq!(log.flushed_offset(), 0);
    log.maybe_flush(1_100).unwrap();
    assert_eq!(log.flushed_offset(), 6);
}

#[test]
fn sync_plan_covers_only_what_was_appended_before_it() {
    let (_tmp, mut log) = fresh(small_config());
    assert!(log.sync_plan().is_empty());
    for _ in 0..5 {
        log.append(&mut simple(40, 1), 0, 0).unwrap();
    }
    assert!(log.segment_count() > 1);
    let plan = log.sync_plan();
    assert_eq!(plan.end_offset, 200);
    assert_eq!(plan.files.len(), log.segment_count());
    log.append(&mut simple(1, 1), 0, 0).unwrap();
    plan.execute().unwrap();
    log.mark_flushed(plan.end_offset);
    assert_eq!(log.flushed_offset(), 200);
    // Only the active segment still has unflushed data.
    assert_eq!(log.sync_plan().files.len(), 1);
    log.mark_flushed(150);
    assert_eq!(log.flushed_offset(), 200, "monotonic");
    log.flush().unwrap();
    assert_eq!(log.flushed_offset(), 201);
    assert!(log.sync_plan().is_empty());
}

#[test]
fn rolls_on_segment_bytes_segment_ms_and_full_index() {
    let (_tmp, mut log) = fresh(LogConfig {
        segment_bytes: 1_000,
        ..LogConfig::default()
    });
    let b = simple(10, 1);
    let per_segment = 1_000 / b.len();
    for _ in 0..per_segment {
        log.append(&mut b.clone(), 0, 0).unwrap();
    }
    assert_eq!(log.segment_count(), 1);
    log.append(&mut b.clone(), 0, 0).unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(
        *log.segments.keys().last().unwrap(),
        per_segment as i64 * 10
    );

    let (_tmp, mut log) = fresh(LogConfig {
        segment_ms: 100,
        ..LogConfig::default()
    });
    log.roll_if_due(1_000).unwrap();
    assert_eq!(log.segment_count(), 1, "an empty segment never rolls");
    log.append(&mut simple(1, 1), 0, 50).unwrap();
    log.append(&mut simple(1, 1), 0, 149).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append(&mut simple(1, 1), 0, 150).unwrap();
    assert_eq!(log.segment_count(), 2);
    log.roll_if_due(249).unwrap();
    assert_eq!(log.segment_count(), 2);
    log.roll_if_due(250).unwrap();
    assert_eq!(log.segment_count(), 3);
    assert_eq!(log.log_end_offset(), 3);

    let (_tmp, mut log) = fresh(LogConfig {
        index_interval_bytes: 0,
        segment_index_bytes: 8 * 4,
        ..LogConfig::default()
    });
    for _ in 0..5 {
        log.append(&mut simple(1, 1), 0, 0).unwrap();
    }
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.active().index.offsets.len(), 4);
    log.append(&mut simple(1, 1), 0, 0).unwrap();
    assert_eq!(log.segment_count(), 2);
}

#[test]
fn retention_by_time_and_size_never_deletes_the_active_segment() {
    let (tmp, mut log) = fresh(LogConfig {
        retention_ms: 1_000,
        ..LogConfig::default()
    });
    // Segments of timestamps ~0, ~10_000, ~20_000.
    for ts in [0, 10_000, 20_000] {
        for _ in 0..4 {
            log.append(&mut simple(10, ts), 0, ts).unwrap();
        }
        log.roll_if_due(i64::MAX).unwrap();
    }
    let segments = log.segment_count();
    assert_eq!(log.apply_retention(10_500).unwrap(), 1);
    assert_eq!(log.log_start_offset(), 40);
    assert_eq!(log.apply_retention(100_000).unwrap(), segments - 2);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), 120);
    assert_eq!(log.log_end_offset(), 120);
    assert!(log
        .read(120, 100, true)
        .unwrap()
        .execute()
        .unwrap()
        .is_empty());
    log.append(&mut simple(1, 1), 0, 0).unwrap();
    let files = list_dir(&partition_dir(&tmp));
    assert!(files.iter().all(|f| !f.starts_with("00000000000000000000")));

    let (_tmp, mut log) = fresh(LogConfig {
        segment_bytes: 1_000,
        retention_bytes: 2_500,
        ..LogConfig::default()
    });
    for _ in 0..40 {
        log.append(&mut simple(10, 0), 0, 0).unwrap();
    }
    log.apply_retention(0).unwrap();
    let first = log.segments.values().next().unwrap().size;
    assert!(log.size_bytes() >= 2_500 && log.size_bytes() - first < 2_500);
}

#[test]
fn read_plans_return_whole_batches_within_max_bytes() {
    let (_tmp, mut log) = fresh(LogConfig::default());
    let mut batches = Vec::new();
    for n in [3usize, 5, 2] {
        let mut b = simple(n, 1);
        log.append(&mut b, 0, 0).unwrap();
        batches.push(b);
    }
    let (a, b, c) = (batches[0].len(), batches[1].len(), batches[2].len());
    let read = |offset, max, min_one| log.read(offset, max, min_one).unwrap().execute().unwrap();
    // Mid-batch: the whole batch holding it.
    assert_eq!(
        read(4, a + b + c, true),
        [&batches[1][..], &batches[2][..]].concat()
    );
    assert_eq!(read(1, a + b - 1, true), batches[0]);
    assert_eq!(
        read(1, a + b, true),
        [&batches[0][..], &batches[1][..]].concat()
    );
    // First batch over max_bytes: alone with min_one, nothing without.
    assert_eq!(read(3, 10, true), batches[1]);
    assert_eq!(read(3, 0, true), batches[1]);
    assert!(read(3, 10, false).is_empty());
    assert!(read(10, 1_000, true).is_empty());
    // A plan only covers what was written when it was made.
    let plan = log.read(8, 1 << 20, true).unwrap();
    log.append(&mut simple(1, 1), 0, 0).unwrap();
    assert_eq!(plan.execute().unwrap(), batches[2]);
}
