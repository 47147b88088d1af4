//! The leader-epoch checkpoint: maintained on append, persisted in Kafka's format, rebuilt
//! from the log when missing, trimmed with the log start offset.

use super::*;
use crate::log::leader_epoch::LEADER_EPOCH_FILE;

fn checkpoint(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(LEADER_EPOCH_FILE)).unwrap()
}

#[test]
fn a_new_epoch_is_checkpointed_at_its_first_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = PartitionLog::open(&dir, small_config(), 0).unwrap();
    log.assign_leader_epoch(0).unwrap();
    assert_eq!(checkpoint(&dir), "0\n1\n0 0\n");
    log.append(&mut simple(3, 1), 0, 0).unwrap();
    log.append(&mut simple(2, 1), 2, 0).unwrap();
    log.append(&mut simple(4, 1), 2, 0).unwrap();
    assert_eq!(checkpoint(&dir), "0\n2\n0 0\n2 3\n");
    assert_eq!(log.end_offset_for_epoch(0), (0, 3));
    assert_eq!(log.end_offset_for_epoch(1), (0, 3));
    assert_eq!(log.end_offset_for_epoch(2), (2, 9));
    assert_eq!(log.end_offset_for_epoch(3), (-1, -1));
    log.close().unwrap();
    let log = PartitionLog::open(&dir, small_config(), 0).unwrap();
    assert_eq!(log.leader_epoch_entries(), vec![(0, 0), (2, 3)]);
}

#[test]
fn a_missing_or_corrupt_checkpoint_is_rebuilt_from_the_log() {
    for damage in ["remove", "garbage"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = partition_dir(&tmp);
        let config = LogConfig {
            segment_bytes: 300,
            ..small_config()
        };
        let mut log = PartitionLog::open(&dir, config.clone(), 0).unwrap();
        for epoch in [0, 0, 1, 1, 4] {
            log.append(&mut simple(5, 1), epoch, 0).unwrap();
        }
        assert!(log.segment_count() > 1, "spans segments");
        drop(log); // crash: no clean shutdown
        if damage == "remove" {
            std::fs::remove_file(dir.join(LEADER_EPOCH_FILE)).unwrap();
        } else {
            std::fs::write(dir.join(LEADER_EPOCH_FILE), "0\n7\n1 x\n").unwrap();
        }
        let log = PartitionLog::open(&dir, config, 0).unwrap();
        assert_eq!(log.leader_epoch_entries(), vec![(0, 0), (1, 10), (4, 20)]);
        assert_eq!(checkpoint(&dir), "0\n3\n0 0\n1 10\n4 20\n");
        assert_eq!(log.end_offset_for_epoch(1), (1, 20));
        assert_eq!(log.end_offset_for_epoch(4), (4, 25));
    }
}

#[test]
fn advancing_the_log_start_trims_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = PartitionLog::open(&dir, small_config(), 0).unwrap();
    for epoch in [0, 1, 2] {
        log.append(&mut simple(5, 1), epoch, 0).unwrap();
    }
    log.advance_log_start_offset(7).unwrap();
    assert_eq!(checkpoint(&dir), "0\n2\n1 7\n2 10\n");
    assert_eq!(log.end_offset_for_epoch(0), (0, 7));
    drop(log);
    std::fs::remove_file(dir.join(LEADER_EPOCH_FILE)).unwrap();
    let log = PartitionLog::open(&dir, small_config(), 0).unwrap();
    assert_eq!(log.leader_epoch_entries(), vec![(1, 7), (2, 10)]);
}

#[test]
fn a_truncated_tail_drops_epochs_beyond_the_log_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = PartitionLog::open(&dir, LogConfig::default(), 0).unwrap();
    log.append(&mut simple(5, 1), 0, 0).unwrap();
    log.append(&mut simple(5, 1), 3, 0).unwrap();
    let size = log.size_bytes();
    drop(log);
    // Tear the last batch (epoch 3's first) off the only segment.
    let seg = dir.join(format!("{:020}.log", 0));
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(size - 10).unwrap();
    let log = PartitionLog::open(&dir, LogConfig::default(), 0).unwrap();
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(log.leader_epoch_entries(), vec![(0, 0)]);
    assert_eq!(log.end_offset_for_epoch(0), (0, 5));
}
