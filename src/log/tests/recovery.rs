//! Recovery: torn tails, corrupt bytes, lost or garbled indexes, clean shutdown.

use std::fs::OpenOptions;

use super::*;
use crate::log::storage::{FaultyStorage, Storage};
use std::sync::Arc;

/// A crashed log (dropped without close) of `n` batches; returns the stored batches.
fn crashed_log(dir: &Path, config: &LogConfig, n: usize) -> Vec<Vec<u8>> {
    let mut log = open(dir, config);
    let mut batches = Vec::new();
    for i in 0..n {
        let mut b = encode(
            &[i as i64 * 10, i as i64 * 10 + 5],
            CODECS[i % CODECS.len()],
            40,
        );
        log.append(&mut b, 0, 1_000).unwrap();
        batches.push(b);
    }
    drop(log);
    batches
}

fn truncate_file(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn flip_byte(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

fn concat(batches: &[Vec<u8>]) -> Vec<u8> {
    batches.concat()
}

fn end_offset(batches: &[Vec<u8>]) -> i64 {
    batches
        .iter()
        .map(|b| {
            crate::protocol::batch::BatchHeader::parse(b)
                .unwrap()
                .last_offset_delta as i64
                + 1
        })
        .sum()
}

#[test]
fn torn_tail_at_every_byte_keeps_the_complete_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = tmp.path().join("golden");
    let config = LogConfig::default();
    let batches = crashed_log(&golden, &config, 4);
    let kept = &batches[..3];
    let start = concat(kept).len() as u64;
    let full = concat(&batches).len() as u64;
    for cut in start..full {
        let dir = tmp.path().join(format!("cut-{cut}"));
        copy_dir(&golden, &dir);
        truncate_file(&segment_path(&dir, 0, ".log"), cut);
        let mut log = open(&dir, &config);
        assert_eq!(log.log_end_offset(), end_offset(kept), "cut at {cut}");
        assert_eq!(read_all(&log, 0, 1 << 20), concat(kept));
        assert_eq!(
            std::fs::metadata(segment_path(&dir, 0, ".log"))
                .unwrap()
                .len(),
            start
        );
        // Appends continue right after the kept batches.
        let info = log.append(&mut simple(1, 5), 0, 1_000).unwrap();
        assert_eq!(info.base_offset, end_offset(kept));
        drop(log);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn corrupt_byte_in_the_tail_truncates_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = LogConfig::default();
    let batches = crashed_log(&dir, &config, 6);
    let pos = concat(&batches[..3]).len() as u64;
    flip_byte(&segment_path(&dir, 0, ".log"), pos + 30);
    let log = open(&dir, &config);
    assert_eq!(log.log_end_offset(), end_offset(&batches[..3]));
    assert_eq!(read_all(&log, 0, 1 << 20), concat(&batches[..3]));
    assert_eq!(
        std::fs::metadata(segment_path(&dir, 0, ".log"))
            .unwrap()
            .len(),
        pos
    );
}

#[test]
fn garbage_length_field_truncates_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = LogConfig::default();
    let batches = crashed_log(&dir, &config, 3);
    let pos = batches[0].len() as u64;
    let path = segment_path(&dir, 0, ".log");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[pos as usize + 8..pos as usize + 12].copy_from_slice(&i32::MAX.to_be_bytes());
    std::fs::write(&path, bytes).unwrap();
    let log = open(&dir, &config);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(read_all(&log, 0, 1 << 20), batches[0]);
}

/// A log spread over several segments, closed cleanly or not.
fn multi_segment_log(dir: &Path, config: &LogConfig, n: usize, clean: bool) -> Vec<u8> {
    let mut log = open(dir, config);
    for i in 0..n {
        let ts: Vec<i64> = (0..1 + i as i64 % 4).map(|j| 100 * i as i64 + j).collect();
        log.append(&mut encode(&ts, CODECS[i % CODECS.len()], 200), 0, 1_000)
            .unwrap();
    }
    assert!(log.segment_count() >= 3, "test needs several segments");
    let all = read_all(&log, 0, 1 << 20);
    if clean {
        log.close().unwrap();
    }
    all
}

fn index_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    list_dir(dir)
        .into_iter()
        .filter(|n| n.ends_with(".index") || n.ends_with(".timeindex"))
        .map(|n| (n.clone(), std::fs::read(dir.join(n)).unwrap()))
        .collect()
}

#[test]
fn corrupt_middle_segment_with_lost_index_truncates_and_drops_later_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = small_config();
    multi_segment_log(&dir, &config, 60, false);
    let bases: Vec<i64> = list_dir(&dir)
        .iter()
        .filter_map(|n| n.strip_suffix(".log"))
        .map(|s| s.parse().unwrap())
        .collect();
    let victim = bases[1];
    // Corrupt the second segment's third batch; its missing index forces a full check.
    let path = segment_path(&dir, victim, ".log");
    let bytes = std::fs::read(&path).unwrap();
    let mut pos = 0;
    let mut kept_end = victim;
    for (i, item) in BatchIter::new(&bytes).enumerate() {
        let (h, b) = item.unwrap();
        if i == 2 {
            break;
        }
        pos += b.len();
        kept_end = h.last_offset() + 1;
    }
    flip_byte(&path, pos as u64 + 25);
    std::fs::remove_file(segment_path(&dir, victim, ".index")).unwrap();
    let log = open(&dir, &config);
    assert_eq!(log.segment_count(), 2);
    assert_eq!(log.log_end_offset(), kept_end);
    assert!(!segment_path(&dir, bases[2], ".log").exists());
    let all = read_all(&log, 0, 1 << 20);
    assert_eq!(decode_records(&all).last().unwrap().0, kept_end - 1);
}

#[test]
fn lost_or_garbled_indexes_are_rebuilt_identically() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 5] = [
        ("delete", |p| std::fs::remove_file(p).unwrap()),
        ("empty", |p| truncate_file(p, 0)),
        ("partial entry", |p| {
            let len = std::fs::metadata(p).unwrap().len();
            truncate_file(p, len.saturating_sub(3))
        }),
        ("zeros", |p| {
            let len = std::fs::metadata(p).unwrap().len();
            std::fs::write(p, vec![0u8; len as usize + 24]).unwrap()
        }),
        ("garbage", |p| {
            std::fs::write(p, b"not an index at all, 24b").unwrap()
        }),
    ];
    for clean in [true, false] {
        for (name, damage) in damages {
            for suffix in [".index", ".timeindex"] {
                let tmp = tempfile::tempdir().unwrap();
                let dir = partition_dir(&tmp);
                let config = small_config();
                let all = multi_segment_log(&dir, &config, 40, clean);
                let before = index_files(&dir);
                let log = open(&dir, &config);
                let end = log.log_end_offset();
                log.close().unwrap();
                assert_eq!(index_files(&dir), before);
                if !clean {
                    // Damage found after a crash rather than after a clean shutdown.
                    drop(open(&dir, &config));
                }
                for seg in list_dir(&dir).iter().filter(|n| n.ends_with(suffix)) {
                    damage(&dir.join(seg));
                }
                let log = open(&dir, &config);
                assert_eq!(log.log_end_offset(), end, "{name} {suffix}");
                assert!(read_all(&log, 0, 1 << 20) == all, "{name} {suffix}");
                for offset in (0..end).step_by(7) {
                    let got = log.read(offset, 1, true).unwrap().execute().unwrap();
                    let h = crate::protocol::batch::BatchHeader::parse(&got).unwrap();
                    assert!(h.base_offset <= offset && offset <= h.last_offset());
                }
                assert_eq!(
                    index_files(&dir),
                    before,
                    "{name} {suffix} rebuilt differently"
                );
            }
        }
    }
}

#[test]
fn indexes_after_reopens_equal_a_full_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = small_config();
    let mut log = open(&dir, &config);
    for round in 0..6 {
        for i in 0..15 {
            let ts = (round * 100 + i * 7) % 230;
            log.append(
                &mut encode(&[ts, ts + 3], CODECS[i as usize % 5], 50),
                0,
                1_000,
            )
            .unwrap();
        }
        if round % 2 == 0 {
            log.close().unwrap();
        } else {
            drop(log);
        }
        log = open(&dir, &config);
    }
    let end = log.log_end_offset();
    log.close().unwrap();
    let incremental = index_files(&dir);
    for (name, _) in &incremental {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    std::fs::remove_file(dir.join("clean-shutdown")).unwrap();
    let log = open(&dir, &config);
    assert_eq!(log.log_end_offset(), end);
    drop(log);
    assert_eq!(index_files(&dir), incremental);
}

#[test]
fn clean_close_reopens_everything_and_removes_the_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = small_config();
    let all = multi_segment_log(&dir, &config, 60, true);
    assert!(dir.join("clean-shutdown").exists());
    let log = open(&dir, &config);
    assert!(!dir.join("clean-shutdown").exists());
    assert!(read_all(&log, 0, 1 << 20) == all);
    assert_eq!(log.flushed_offset(), log.log_end_offset());
}

#[test]
fn log_start_offset_survives_restart_and_interrupted_retention() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut config = small_config();
    multi_segment_log(&dir, &config, 40, true);
    let mut log = open(&dir, &config);
    config.retention_bytes = 0;
    log.set_config(config.clone());
    let deleted = log.apply_retention(1_000).unwrap();
    assert!(deleted >= 2);
    assert_eq!(log.segment_count(), 1);
    let start = log.log_start_offset();
    assert_eq!(start, *log.segments.keys().next().unwrap());
    drop(log);
    let log = open(&dir, &config);
    assert_eq!(log.log_start_offset(), start);
    drop(log);

    // A crash between persisting the start offset and deleting the files.
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = small_config();
    multi_segment_log(&dir, &config, 40, false);
    let bases: Vec<i64> = list_dir(&dir)
        .iter()
        .filter_map(|n| n.strip_suffix(".log"))
        .map(|s| s.parse().unwrap())
        .collect();
    std::fs::write(dir.join("log-start-offset"), format!("{}\n", bases[2])).unwrap();
    let log = open(&dir, &config);
    assert_eq!(log.log_start_offset(), bases[2]);
    assert_eq!(log.segment_count(), bases.len() - 2);
    assert!(!segment_path(&dir, bases[0], ".log").exists());
    assert!(matches!(
        log.read(bases[2] - 1, 10, true),
        Err(crate::log::LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn empty_and_missing_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deep").join("t-3");
    let log = open(&dir, &LogConfig::default());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    assert!(log
        .read(0, 100, true)
        .unwrap()
        .execute()
        .unwrap()
        .is_empty());
    log.close().unwrap();
    let log = open(&dir, &LogConfig::default());
    assert_eq!(log.log_end_offset(), 0);
    // Stray tmp and orphan index files are cleaned up.
    std::fs::write(dir.join("log-start-offset.tmp"), b"9").unwrap();
    std::fs::write(segment_path(&dir, 500, ".index"), b"").unwrap();
    std::fs::write(segment_path(&dir, 500, ".txnindex"), b"").unwrap();
    drop(log);
    let log = open(&dir, &LogConfig::default());
    // The producer-state snapshot the clean close wrote at the log end stays.
    assert_eq!(
        list_dir(&dir),
        vec![
            "00000000000000000000.index".to_string(),
            "00000000000000000000.log".to_string(),
            "00000000000000000000.snapshot".to_string(),
            "00000000000000000000.timeindex".to_string(),
            "high-watermark".to_string(),
        ]
    );
    // (No leader-epoch-checkpoint: no epoch was ever assigned, and a missing file reads as
    // the empty cache.)
    log.delete().unwrap();
    assert!(!dir.exists());
}

#[test]
fn torn_write_from_a_failed_append_is_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let (storage, faults) = FaultyStorage::new();
    let storage: Arc<dyn Storage> = Arc::new(storage);
    let mut log = PartitionLog::open_with_storage(&dir, LogConfig::default(), 0, storage).unwrap();
    log.append(&mut simple(3, 1), 0, 0).unwrap();
    let good = read_all(&log, 0, 1 << 20);
    faults.tear_writes(true);
    assert!(log.append(&mut simple(50, 1), 0, 0).is_err());
    drop(log);
    let len = std::fs::metadata(segment_path(&dir, 0, ".log"))
        .unwrap()
        .len();
    assert!(len > good.len() as u64, "the torn half reached the file");
    let log = open(&dir, &LogConfig::default());
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(read_all(&log, 0, 1 << 20), good);
}

#[test]
fn random_damage_to_the_tail_recovers_a_prefix() {
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    let golden = tmp.path().join("golden");
    let config = small_config();
    multi_segment_log(&golden, &config, 50, false);
    let original = read_all(&open(&golden, &config), 0, 1 << 20);
    let last_base: i64 = list_dir(&golden)
        .iter()
        .filter_map(|n| n.strip_suffix(".log"))
        .map(|s| s.parse().unwrap())
        .max()
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..60 {
        let dir = tmp.path().join(format!("r{round}"));
        copy_dir(&golden, &dir);
        let path = segment_path(&dir, last_base, ".log");
        let mut bytes = std::fs::read(&path).unwrap();
        match rng.random_range(0..3) {
            0 => {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = bytes[at].wrapping_add(rng.random_range(1..=255));
            }
            1 => bytes.extend((0..rng.random_range(1..200)).map(|_| rng.random::<u8>())),
            _ => {
                let at = rng.random_range(0..bytes.len());
                let len = rng.random_range(1..64).min(bytes.len() - at);
                bytes[at..at + len].fill(0);
            }
        }
        std::fs::write(&path, bytes).unwrap();
        let log = open(&dir, &config);
        let got = read_all(&log, 0, 1 << 20);
        // The partition leader epoch is outside the CRC: damage there cannot be seen.
        let mask = |bytes: &[u8]| -> Vec<u8> {
            let mut out = bytes.to_vec();
            let mut pos = 0;
            while let Some(size) = crate::protocol::batch::peek_total_size(&out[pos..]) {
                out[pos + 12..pos + 16].fill(0);
                pos += size;
            }
            out
        };
        assert!(
            mask(&original).starts_with(&mask(&got)),
            "round {round}: not a prefix"
        );
        assert!(log.log_end_offset() >= last_base);
        drop(log);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
