//! ListOffsets lookups: first record (not batch) at or after a time; max timestamp.

use super::*;

#[test]
fn offset_for_timestamp_finds_the_first_record_not_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), &LogConfig::default());
    // Batch 0: offsets 0-2; batch 1: offsets 3-5 (compressed, out of order).
    log.append(&mut encode(&[100, 300, 200], CODECS[0], 10), 0, 0)
        .unwrap();
    log.append(&mut encode(&[150, 500, 400], CODECS[4], 10), 0, 0)
        .unwrap();
    let q = |ts| log.offset_for_timestamp(ts).unwrap();
    assert_eq!(q(0), Some((0, 100)));
    assert_eq!(q(100), Some((0, 100)));
    assert_eq!(q(101), Some((1, 300)));
    assert_eq!(q(250), Some((1, 300)));
    assert_eq!(q(301), Some((4, 500)));
    assert_eq!(q(450), Some((4, 500)));
    assert_eq!(q(500), Some((4, 500)));
    assert_eq!(q(501), None);
    assert_eq!(log.max_timestamp(), Some((500, 4)));
}

#[test]
fn offset_for_timestamp_across_segments_and_codecs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = small_config();
    let mut log = open(&dir, &config);
    let mut records = Vec::new();
    for i in 0..80i64 {
        // Timestamps wander: mostly rising, with dips.
        let ts: Vec<i64> = (0..3)
            .map(|j| i * 50 + ((i * 7 + j * 13) % 90) - 40)
            .collect();
        let info = log
            .append(&mut encode(&ts, CODECS[i as usize % 5], 30), 0, 0)
            .unwrap();
        records.extend(
            ts.iter()
                .enumerate()
                .map(|(j, &t)| (info.base_offset + j as i64, t)),
        );
    }
    assert!(log.segment_count() > 3);
    let check = |log: &PartitionLog| {
        for target in (-100..4_100).step_by(37) {
            let want = records.iter().copied().find(|&(_, t)| t >= target);
            assert_eq!(
                log.offset_for_timestamp(target).unwrap(),
                want,
                "target {target}"
            );
        }
        let max = records.iter().map(|r| r.1).max().unwrap();
        let at = records.iter().find(|r| r.1 == max).unwrap().0;
        assert_eq!(log.max_timestamp(), Some((max, at)));
    };
    check(&log);
    log.close().unwrap();
    let log = open(&dir, &config);
    check(&log);
    drop(log);
    // Rebuilt time indexes answer the same.
    for name in list_dir(&dir).iter().filter(|n| n.ends_with(".timeindex")) {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    check(&open(&dir, &config));
}

#[test]
fn max_timestamp_takes_the_first_record_on_ties() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = small_config();
    let mut log = open(&dir, &config);
    assert_eq!(log.max_timestamp(), None);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
    log.append(&mut encode(&[10, 20], CODECS[1], 10), 0, 0)
        .unwrap();
    log.append(&mut encode(&[5, 90, 30, 90], CODECS[2], 10), 0, 0)
        .unwrap();
    for _ in 0..40 {
        log.append(&mut encode(&[90, 1], CODECS[0], 80), 0, 0)
            .unwrap();
    }
    assert!(log.segment_count() > 1);
    assert_eq!(log.max_timestamp(), Some((90, 3)));
    log.append(&mut encode(&[7, 91], CODECS[3], 10), 0, 0)
        .unwrap();
    let end = log.log_end_offset();
    assert_eq!(log.max_timestamp(), Some((91, end - 1)));
}

#[test]
fn offset_for_timestamp_skips_records_below_the_log_start_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), &LogConfig::default());
    log.append(&mut encode(&[100, 200, 300], CODECS[0], 10), 0, 0)
        .unwrap();
    log.advance_log_start_offset(1).unwrap();
    assert_eq!(log.offset_for_timestamp(50).unwrap(), Some((1, 200)));
    assert!(log.read(0, 100, true).is_err());
    // The read at the start offset returns the whole batch holding it.
    let bytes = log.read(1, 100, true).unwrap().execute().unwrap();
    assert_eq!(
        crate::protocol::batch::BatchHeader::parse(&bytes)
            .unwrap()
            .base_offset,
        0
    );
}
