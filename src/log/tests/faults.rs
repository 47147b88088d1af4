//! Injected storage faults take the partition offline for good, except running out of a
//! resource (a full disk), which fails the operation and leaves the log as it was.

use std::sync::Arc;

use super::*;
use crate::log::storage::{FaultInjector, FaultyStorage, Storage};
use crate::log::LogError;

fn faulty(dir: &Path, config: LogConfig) -> (PartitionLog, Arc<FaultInjector>) {
    let (storage, faults) = FaultyStorage::new();
    let storage: Arc<dyn Storage> = Arc::new(storage);
    (
        PartitionLog::open_with_storage(dir, config, 0, storage).unwrap(),
        faults,
    )
}

fn assert_offline(log: &mut PartitionLog) {
    assert!(log.is_offline());
    assert!(matches!(
        log.append(&mut simple(1, 1), 0, 0),
        Err(LogError::Offline)
    ));
    assert!(matches!(log.read(0, 100, true), Err(LogError::Offline)));
    assert!(matches!(log.flush(), Err(LogError::Offline)));
    assert!(matches!(log.maybe_flush(i64::MAX), Err(LogError::Offline)));
    assert!(matches!(log.roll_if_due(i64::MAX), Err(LogError::Offline)));
    assert!(matches!(log.apply_retention(0), Err(LogError::Offline)));
    assert!(matches!(
        log.offset_for_timestamp(0),
        Err(LogError::Offline)
    ));
    assert!(matches!(
        log.advance_log_start_offset(1),
        Err(LogError::Offline)
    ));
    let plan = log.sync_plan();
    assert!(plan.is_empty());
    let flushed = log.flushed_offset();
    log.mark_flushed(plan.end_offset + 100);
    assert_eq!(log.flushed_offset(), flushed);
}

#[test]
fn failed_write_takes_the_partition_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, faults) = faulty(&partition_dir(&tmp), LogConfig::default());
    log.append(&mut simple(2, 1), 0, 0).unwrap();
    faults.fail_writes(true);
    assert!(matches!(
        log.append(&mut simple(2, 1), 0, 0),
        Err(LogError::Io(_))
    ));
    // Even once the disk works again: never retry and pretend.
    faults.fail_writes(false);
    assert_offline(&mut log);
    assert!(matches!(log.close(), Err(LogError::Offline)));
    let log = open(&partition_dir(&tmp), &LogConfig::default());
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn failed_fsync_in_flush_takes_the_partition_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, faults) = faulty(&partition_dir(&tmp), LogConfig::default());
    log.append(&mut simple(2, 1), 0, 0).unwrap();
    faults.fail_syncs(true);
    assert!(matches!(log.flush(), Err(LogError::Io(_))));
    assert_eq!(log.flushed_offset(), 0);
    faults.fail_syncs(false);
    assert_offline(&mut log);
}

#[test]
fn failed_fsync_under_flush_messages_fails_the_append() {
    let tmp = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_messages: 1,
        ..LogConfig::default()
    };
    let (mut log, faults) = faulty(&partition_dir(&tmp), config);
    log.append(&mut simple(2, 1), 0, 0).unwrap();
    assert_eq!(log.flushed_offset(), 2);
    faults.fail_syncs(true);
    assert!(matches!(
        log.append(&mut simple(2, 1), 0, 0),
        Err(LogError::Io(_))
    ));
    assert_offline(&mut log);
}

#[test]
fn failed_sync_plan_is_reported_with_mark_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, faults) = faulty(&partition_dir(&tmp), LogConfig::default());
    log.append(&mut simple(2, 1), 0, 0).unwrap();
    let plan = log.sync_plan();
    assert_eq!(plan.end_offset, 2);
    faults.fail_syncs(true);
    assert!(plan.execute().is_err());
    log.mark_offline();
    assert_offline(&mut log);
}

#[test]
fn failed_roll_takes_the_partition_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, faults) = faulty(&partition_dir(&tmp), small_config());
    log.append(&mut simple(2, 1), 0, 0).unwrap();
    // The new segment's directory entry cannot be made durable.
    faults.fail_syncs(true);
    assert!(matches!(
        log.append(&mut simple(200, 1), 0, 0),
        Err(LogError::Io(_))
    ));
    faults.fail_syncs(false);
    assert_offline(&mut log);
}

#[test]
fn failed_retention_takes_the_partition_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, faults) = faulty(&partition_dir(&tmp), small_config());
    for _ in 0..10 {
        log.append(&mut simple(30, 1), 0, 0).unwrap();
    }
    assert!(log.segment_count() > 2);
    let mut config = log.config().clone();
    config.retention_bytes = 0;
    log.set_config(config);
    faults.fail_writes(true);
    assert!(matches!(log.apply_retention(0), Err(LogError::Io(_))));
    faults.fail_writes(false);
    assert_offline(&mut log);
}

#[test]
fn a_full_disk_fails_appends_without_taking_the_partition_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = LogConfig {
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let (mut log, faults) = faulty(&dir, config.clone());
    log.append(&mut simple(2, 1), 0, 0).unwrap();
    let before = crate::resource::exhausted_total(crate::resource::Resource::Disk);
    faults.run_out_of_space(true);
    for _ in 0..3 {
        match log.append(&mut simple(3, 2), 0, 0) {
            Err(LogError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSPC)),
            other => panic!("expected ENOSPC, got {other:?}"),
        }
        assert!(!log.is_offline());
        assert_eq!(log.log_end_offset(), 2);
    }
    assert!(crate::resource::exhausted_total(crate::resource::Resource::Disk) >= before + 3);
    // Space is back: the next append takes the offsets the failed ones did not.
    faults.run_out_of_space(false);
    let info = log.append(&mut simple(3, 3), 0, 0).unwrap();
    assert_eq!(info.base_offset, 2);
    assert_eq!(log.log_end_offset(), 5);
    let offsets: Vec<i64> = decode_records(&read_all(&log, 0, 1 << 20))
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4]);
    log.close().unwrap();
    // And a clean reopen, and a recovery without the shutdown marker, agree.
    let log = open(&dir, &config);
    assert_eq!(log.log_end_offset(), 5);
    drop(log);
    std::fs::remove_file(dir.join("clean-shutdown")).ok();
    let log = open(&dir, &config);
    assert_eq!(log.log_end_offset(), 5);
    let offsets: Vec<i64> = decode_records(&read_all(&log, 0, 1 << 20))
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4]);
}

#[test]
fn running_out_of_descriptors_fails_checkpoints_and_epoch_changes_softly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = LogConfig::default();
    let (mut log, faults) = faulty(&dir, config.clone());
    log.append(&mut simple(2, 1), 0, 0).unwrap();
    log.checkpoint_high_watermark().unwrap();
    log.append(&mut simple(1, 1), 0, 0).unwrap();
    let before = crate::resource::exhausted_total(crate::resource::Resource::FileDescriptors);
    faults.run_out_of_descriptors(true);
    // The periodic high-watermark checkpoint cannot open its temporary file.
    assert!(matches!(
        log.checkpoint_high_watermark(),
        Err(LogError::Io(e)) if e.raw_os_error() == Some(libc::EMFILE)
    ));
    // An append in a new leader epoch cannot write the epoch checkpoint: it fails before
    // writing any data, so the client's retry does not double it.
    assert!(matches!(
        log.append(&mut simple(2, 5), 1, 0),
        Err(LogError::Io(_))
    ));
    assert_eq!(log.log_end_offset(), 3);
    // Moving the log start offset cannot persist it.
    assert!(matches!(
        log.advance_log_start_offset(1),
        Err(LogError::Io(_))
    ));
    assert_eq!(log.log_start_offset(), 0);
    assert!(!log.is_offline());
    assert!(
        crate::resource::exhausted_total(crate::resource::Resource::FileDescriptors) >= before + 3
    );

    // Descriptors are back: everything goes through, nothing was lost or doubled.
    faults.run_out_of_descriptors(false);
    let info = log.append(&mut simple(2, 5), 1, 0).unwrap();
    assert_eq!(info.base_offset, 3);
    log.advance_log_start_offset(1).unwrap();
    log.checkpoint_high_watermark().unwrap();
    assert_eq!(log.leader_epoch_entries(), [(0, 1), (1, 3)]);
    log.close().unwrap();
    let log = open(&dir, &config);
    assert_eq!(log.log_start_offset(), 1);
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(log.leader_epoch_entries(), [(0, 1), (1, 3)]);
    assert_eq!(
        std::fs::read_to_string(dir.join("high-watermark")).unwrap(),
        "5\n"
    );
    let offsets: Vec<i64> = decode_records(&read_all(&log, 1, 1 << 20))
        .iter()
        .map(|r| r.0)
        .collect();
    // The first batch (offsets 0 and 1) is read whole, as Kafka does.
    assert_eq!(offsets, [0, 1, 2, 3, 4]);
}
