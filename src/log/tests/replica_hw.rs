//! The high watermark as state (follows the log end offset, or managed by the replica
//! layer), its checkpoint, and plans made stale by a truncation.

use super::replica::{config, open_at};
use super::*;
use crate::log::LogError;

fn hw_file(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("high-watermark")).ok()
}

#[test]
fn by_default_the_high_watermark_is_the_log_end_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open_at(&tmp, "p");
    assert!(!log.is_high_watermark_managed());
    log.append(&mut simple(5, 0), 0, 0).unwrap();
    assert_eq!(log.high_watermark(), 5);
    assert!(!log.set_high_watermark(2), "a no-op while it follows");
    assert_eq!(log.high_watermark(), 5);
    log.append(&mut simple(5, 0), 0, 0).unwrap();
    log.truncate_to(5).unwrap();
    assert_eq!(log.high_watermark(), 5);
    let dir = log.dir().to_path_buf();
    log.close().unwrap();
    assert_eq!(hw_file(&dir).as_deref(), Some("5\n"));
}

#[test]
fn a_managed_high_watermark_moves_forward_within_the_log_and_bounds_the_lso() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open_at(&tmp, "p");
    log.set_high_watermark_managed(true);
    assert_eq!(
        log.high_watermark(),
        0,
        "no checkpoint: the log start offset"
    );
    log.append(&mut simple(5, 0), 0, 0).unwrap();
    log.append(&mut producer_batch(2, 7, 0, 0, true), 0, 0)
        .unwrap(); // 5-6, open
    log.append(&mut simple(3, 0), 0, 0).unwrap(); // 7-9
    assert_eq!(log.high_watermark(), 0);
    assert_eq!(log.last_stable_offset(), 0);
    assert!(log.set_high_watermark(3));
    assert_eq!((log.high_watermark(), log.last_stable_offset()), (3, 3));
    assert!(!log.set_high_watermark(2), "never backwards");
    assert!(!log.set_high_watermark(3));
    assert_eq!(log.high_watermark(), 3);
    assert!(log.set_high_watermark(8));
    // The open transaction starting at 5 bounds the LSO below the high watermark.
    assert_eq!((log.high_watermark(), log.last_stable_offset()), (8, 5));
    assert!(log.set_high_watermark(1_000));
    assert_eq!(log.high_watermark(), 10, "clamped to the log end offset");
    log.append_control(7, 0, true, 0, 0, 0).unwrap(); // 10
    assert_eq!((log.high_watermark(), log.last_stable_offset()), (10, 10));
    assert!(log.set_high_watermark(11));
    assert_eq!(log.last_stable_offset(), 11);
    // Truncation below it brings it down.
    log.truncate_to(7).unwrap();
    assert_eq!(log.high_watermark(), 7);
    assert_eq!(log.last_stable_offset(), 5, "the transaction is open again");
    // Back to following: the log end offset.
    log.set_high_watermark_managed(false);
    log.append(&mut simple(1, 0), 0, 0).unwrap();
    assert_eq!(log.high_watermark(), 8);
}

#[test]
fn the_checkpoint_is_where_a_managed_high_watermark_restarts_clamped_to_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let mut log = open(&dir, &config());
    log.set_high_watermark_managed(true);
    for _ in 0..4 {
        log.append(&mut simple(5, 0), 0, 0).unwrap();
    }
    log.set_high_watermark(12);
    log.checkpoint_high_watermark().unwrap();
    assert_eq!(hw_file(&dir).as_deref(), Some("12\n"));
    log.set_high_watermark(15);
    drop(log); // a crash: the checkpoint lags
    let mut log = open(&dir, &config());
    assert_eq!(
        log.high_watermark(),
        20,
        "follows the log end offset until managed"
    );
    log.set_high_watermark_managed(true);
    assert_eq!(log.high_watermark(), 12);
    log.close().unwrap();
    assert_eq!(hw_file(&dir).as_deref(), Some("12\n"));

    // A checkpoint past the log end (the tail was lost) is clamped to it.
    std::fs::write(dir.join("high-watermark"), "1000\n").unwrap();
    let mut log = open(&dir, &config());
    log.set_high_watermark_managed(true);
    assert_eq!(log.high_watermark(), 20);
    drop(log);
    // Missing or unreadable: the log start offset.
    for content in [None, Some("x\n")] {
        match content {
            None => std::fs::remove_file(dir.join("high-watermark")).unwrap(),
            Some(c) => std::fs::write(dir.join("high-watermark"), c).unwrap(),
        }
        let mut log = open(&dir, &config());
        log.advance_log_start_offset(4).unwrap();
        log.set_high_watermark_managed(true);
        assert_eq!(log.high_watermark(), 4, "{content:?}");
    }
    // Appends while it follows are committed: a later switch keeps them.
    let mut log = open(&dir, &config());
    log.append(&mut simple(2, 0), 0, 0).unwrap();
    log.set_high_watermark_managed(true);
    assert_eq!(log.high_watermark(), 22);
}

#[test]
fn a_truncation_below_the_checkpoint_lowers_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let mut log = open(&dir, &config());
    log.set_high_watermark_managed(true);
    for _ in 0..4 {
        log.append(&mut simple(5, 0), 0, 0).unwrap();
    }
    log.set_high_watermark(20);
    log.checkpoint_high_watermark().unwrap();
    log.truncate_to(10).unwrap();
    assert_eq!(hw_file(&dir).as_deref(), Some("10\n"));
}

#[test]
fn retention_and_the_log_start_offset_stop_at_the_high_watermark() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open_at(&tmp, "p");
    log.set_high_watermark_managed(true);
    for _ in 0..20 {
        log.append(&mut simple(5, 0), 0, 0).unwrap();
    }
    let bases: Vec<i64> = log.segments.keys().copied().collect();
    assert!(bases.len() > 4);
    let mut config = log.config().clone();
    config.retention_bytes = 0;
    log.set_config(config);
    assert_eq!(
        log.apply_retention(0).unwrap(),
        0,
        "nothing is committed yet"
    );
    log.set_high_watermark(bases[2] + 1);
    assert_eq!(log.apply_retention(0).unwrap(), 2);
    assert_eq!(log.log_start_offset(), bases[2]);
    let hw = log.high_watermark();
    assert!(matches!(
        log.advance_log_start_offset(hw + 1),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    log.advance_log_start_offset(hw).unwrap();
    assert_eq!(log.last_stable_offset(), hw);
}

#[test]
fn a_read_planned_before_a_truncation_returns_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open_at(&tmp, "p");
    for _ in 0..3 {
        log.append(&mut simple(5, 0), 0, 0).unwrap();
    }
    let stale = log.read(5, 1 << 20, true).unwrap();
    let fine = log.read(0, 1 << 20, true).unwrap();
    assert!(!fine.execute().unwrap().is_empty());
    log.truncate_to(5).unwrap();
    log.append_as_follower(
        &{
            let mut b = simple(9, 77);
            crate::protocol::batch::set_base_offset(&mut b, 5);
            b
        },
        0,
    )
    .unwrap();
    assert!(stale.execute().unwrap().is_empty());
    let fresh = log.read(5, 1 << 20, true).unwrap().execute().unwrap();
    assert_eq!(
        BatchIter::new(&fresh)
            .next()
            .unwrap()
            .unwrap()
            .0
            .records_count,
        9
    );
}

#[test]
fn a_sync_planned_before_a_truncation_marks_nothing_flushed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open_at(&tmp, "p");
    for _ in 0..3 {
        log.append(&mut simple(5, 0), 0, 0).unwrap();
    }
    let stale = log.sync_plan();
    assert_eq!(stale.end_offset, 15);
    log.truncate_to(5).unwrap();
    assert_eq!(log.flushed_offset(), 0);
    log.append(&mut simple(10, 0), 0, 0).unwrap();
    stale.execute().unwrap();
    assert!(stale.is_stale());
    assert!(!log.mark_synced(&stale));
    assert_eq!(log.flushed_offset(), 0);
    let plan = log.sync_plan();
    plan.execute().unwrap();
    assert!(log.mark_synced(&plan));
    assert_eq!(log.flushed_offset(), 15);
}

#[test]
fn a_cleaning_pass_planned_before_a_truncation_is_discarded() {
    let tmp = tempfile::tempdir().unwrap();
    let compacted = LogConfig {
        cleanup_policy: crate::log::CleanupPolicy {
            delete: false,
            compact: true,
        },
        min_cleanable_dirty_ratio: 0.0,
        ..config()
    };
    let dir = tmp.path().join("p");
    let mut log = open(&dir, &compacted);
    for _ in 0..30 {
        log.append(&mut simple(4, 0), 0, 0).unwrap();
    }
    let plan = log.plan_cleaning(0).unwrap().expect("due");
    let result = plan.execute().unwrap();
    assert!(result.stats.segments_rewritten > 0);
    let bases: Vec<i64> = log.segments.keys().copied().collect();
    log.truncate_to(bases[1] + 2).unwrap();
    let before = read_all(&log, 0, 1 << 20);
    let stats = log.finish_cleaning(result).unwrap();
    assert_eq!(stats.segments_rewritten, 0);
    assert!(read_all(&log, 0, 1 << 20) == before);
    assert!(list_dir(&dir).iter().all(|n| !n.ends_with(".cleaned")));

    // A pass planned afterwards cleans; a truncation then pulls its dirty offset back.
    for _ in 0..30 {
        log.append(&mut simple(4, 0), 0, 0).unwrap();
    }
    log.clean(0).unwrap().expect("cleaned");
    let checkpoint = std::fs::read_to_string(dir.join("cleaner-offset-checkpoint")).unwrap();
    let dirty: i64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let bases: Vec<i64> = log.segments.keys().copied().collect();
    assert!(dirty > bases[2]);
    log.truncate_to(bases[2]).unwrap();
    let checkpoint = std::fs::read_to_string(dir.join("cleaner-offset-checkpoint")).unwrap();
    let mut lines = checkpoint.lines().skip(1);
    assert_eq!(lines.next().unwrap(), bases[2].to_string());
    let listed: Vec<i64> = lines
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(listed.iter().all(|&b| b < bases[2]), "{listed:?}");
    drop(log);
    let log = open(&dir, &compacted);
    assert_eq!(log.log_end_offset(), bases[2]);
}
