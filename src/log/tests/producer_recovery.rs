//! Producer state across restarts: clean close, crashes, torn tails inside transactions,
//! corrupt or stale snapshots, lost transaction-index entries.

use super::*;
use crate::log::producer_state::ProducerStateManager;
use crate::log::txn_index::AbortedTxn;
use crate::log::AppendInfo;

/// Small segments, so the scenario rolls (and snapshots) several times.
fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

fn append(log: &mut PartitionLog, mut batch: Vec<u8>) -> AppendInfo {
    log.append(&mut batch, 0, 1_000).unwrap()
}

fn marker(log: &mut PartitionLog, pid: i64, commit: bool) -> AppendInfo {
    log.append_control(pid, 0, commit, 0, 0, 2_000).unwrap()
}

/// Everything transactional about a log, for before/after comparisons.
#[derive(Debug, PartialEq)]
struct View {
    log_end_offset: i64,
    last_stable_offset: i64,
    state: ProducerStateManager,
    aborted: Vec<(i64, i64)>,
    index: Vec<(i64, Vec<AbortedTxn>)>,
}

fn view(log: &PartitionLog) -> View {
    View {
        log_end_offset: log.log_end_offset(),
        last_stable_offset: log.last_stable_offset(),
        state: log.producers.clone(),
        aborted: log.aborted_transactions(0, i64::MAX),
        index: log
            .segments
            .iter()
            .map(|(base, s)| (*base, s.txn.entries().to_vec()))
            .collect(),
    }
}

/// Idempotent batches of producer 1, open/committed/aborted transactions of producers 2-6
/// spread over several segments, ending with an abort after the last roll. Returns producer
/// 1's last five batches as (sequence, base offset, last offset).
fn scenario(log: &mut PartitionLog) -> Vec<(i32, i64, i64)> {
    let mut p1 = Vec::new();
    for round in 0..10 {
        let seq = 3 * round;
        let info = append(log, producer_batch(3, 1, 0, seq, false));
        p1.push((seq, info.base_offset, info.last_offset));
        append(log, simple(10, 0));
        match round {
            1 => {
                append(log, producer_batch(2, 2, 0, 0, true));
            }
            2 => {
                append(log, producer_batch(1, 3, 0, 0, true));
            }
            5 => {
                marker(log, 2, false);
                marker(log, 3, true);
            }
            6 => {
                append(log, producer_batch(1, 4, 1, 0, true));
            }
            7 => {
                append(log, producer_batch(2, 5, 0, 0, true));
                marker(log, 5, false);
                append(log, producer_batch(1, 5, 0, 2, true));
            }
            _ => {}
        }
    }
    append(log, producer_batch(1, 6, 0, 0, true));
    marker(log, 6, false);
    assert!(log.segment_count() >= 4, "{} segments", log.segment_count());
    p1.split_off(p1.len() - 5)
}

/// Retrying each batch returns its original placement and writes nothing.
fn assert_dedup(log: &mut PartitionLog, batches: &[(i32, i64, i64)]) {
    let end = log.log_end_offset();
    for &(seq, base, last) in batches {
        let info = append(log, producer_batch(3, 1, 0, seq, false));
        assert!(info.duplicate, "seq {seq}");
        assert_eq!((info.base_offset, info.last_offset), (base, last));
    }
    assert_eq!(log.log_end_offset(), end);
}

fn snapshot_files(dir: &Path) -> Vec<i64> {
    list_dir(dir)
        .iter()
        .filter_map(|n| n.strip_suffix(".snapshot"))
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn clean_close_keeps_dedup_open_transactions_and_aborts_without_replaying() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &config());
    let last5 = scenario(&mut log);
    let before = view(&log);
    assert_eq!(before.aborted.len(), 3);
    assert_ne!(before.last_stable_offset, before.log_end_offset);
    log.close().unwrap();
    assert_eq!(*snapshot_files(&dir).last().unwrap(), before.log_end_offset);

    let mut log = open(&dir, &config());
    assert_eq!(log.replayed_batches, 0);
    assert_eq!(view(&log), before);
    assert_dedup(&mut log, &last5);
}

#[test]
fn crash_keeps_dedup_open_transactions_and_aborts_by_replaying_from_the_last_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &config());
    let last5 = scenario(&mut log);
    let before = view(&log);
    let total: usize = log
        .segments
        .values()
        .map(|s| BatchIter::new(&read_segment(s)).count())
        .sum();
    drop(log);

    let mut log = open(&dir, &config());
    assert!(log.replayed_batches > 0);
    assert!((log.replayed_batches as usize) < total);
    assert_eq!(view(&log), before);
    assert_dedup(&mut log, &last5);
}

fn read_segment(seg: &crate::log::segment::Segment) -> Vec<u8> {
    let mut buf = vec![0u8; seg.size as usize];
    seg.log.read_exact_at(&mut buf, 0).unwrap();
    buf
}

#[test]
fn without_snapshots_the_whole_log_is_replayed_to_the_same_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &config());
    let last5 = scenario(&mut log);
    let before = view(&log);
    drop(log);
    for offset in snapshot_files(&dir) {
        std::fs::remove_file(segment_path(&dir, offset, ".snapshot")).unwrap();
    }
    let mut log = open(&dir, &config());
    assert_eq!(view(&log), before);
    assert_dedup(&mut log, &last5);
}

#[test]
fn corrupt_snapshots_fall_back_to_an_older_one_or_a_full_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = tmp.path().join("golden");
    let mut log = open(&golden, &config());
    let last5 = scenario(&mut log);
    let before = view(&log);
    drop(log);
    let snaps = snapshot_files(&golden);
    assert_eq!(snaps.len(), 2);

    for corrupt in [&snaps[1..], &snaps[..]] {
        let dir = tmp.path().join(format!("corrupt-{}", corrupt.len()));
        copy_dir(&golden, &dir);
        for &offset in corrupt {
            let path = segment_path(&dir, offset, ".snapshot");
            let mut bytes = std::fs::read(&path).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x40;
            std::fs::write(&path, bytes).unwrap();
        }
        let mut log = open(&dir, &config());
        assert_eq!(view(&log), before, "{} corrupt", corrupt.len());
        assert_dedup(&mut log, &last5);
        // Corrupt snapshots are deleted; the older valid one stays.
        assert_eq!(snapshot_files(&dir), snaps[..2 - corrupt.len()].to_vec());
    }
}

#[test]
fn torn_marker_reopens_the_transaction_and_drops_its_index_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &LogConfig::default());
    append(&mut log, simple(2, 0)); // 0-1
    append(&mut log, producer_batch(2, 7, 0, 0, true)); // 2-3
    append(&mut log, producer_batch(1, 7, 0, 2, true)); // 4
    let size = log.size_bytes();
    assert_eq!(marker(&mut log, 7, false).base_offset, 5);
    assert_eq!(log.aborted_transactions(0, 6), vec![(7, 2)]);
    drop(log);
    std::fs::OpenOptions::new()
        .write(true)
        .open(segment_path(&dir, 0, ".log"))
        .unwrap()
        .set_len(size + 30)
        .unwrap();

    let mut log = open(&dir, &LogConfig::default());
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(log.last_stable_offset(), 2);
    assert!(log.aborted_transactions(0, 5).is_empty());
    let txnindex = segment_path(&dir, 0, ".txnindex");
    assert_eq!(std::fs::metadata(&txnindex).unwrap().len(), 0);
    let info = log.producers()[0];
    assert_eq!((info.last_sequence, info.current_txn_start_offset), (2, 2));
    // The coordinator retries the marker.
    assert_eq!(marker(&mut log, 7, false).base_offset, 5);
    assert_eq!(log.aborted_transactions(0, 6), vec![(7, 2)]);
    assert_eq!(std::fs::metadata(&txnindex).unwrap().len(), 34);
    assert_eq!(log.last_stable_offset(), 6);
}

#[test]
fn torn_transactional_batch_is_not_a_duplicate_after_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &small_config());
    // A roll first, so recovery starts from a snapshot taken mid-log.
    while log.segment_count() < 2 {
        append(&mut log, simple(10, 0));
    }
    let start = append(&mut log, producer_batch(2, 7, 0, 0, true)).base_offset;
    let size = log.active().size;
    append(&mut log, producer_batch(3, 7, 0, 2, true));
    let active = log.active().base_offset;
    drop(log);
    std::fs::OpenOptions::new()
        .write(true)
        .open(segment_path(&dir, active, ".log"))
        .unwrap()
        .set_len(size + 10)
        .unwrap();

    let mut log = open(&dir, &small_config());
    assert_eq!(log.log_end_offset(), start + 2);
    assert_eq!(log.last_stable_offset(), start);
    assert_eq!(log.producers()[0].last_sequence, 1);
    let info = append(&mut log, producer_batch(3, 7, 0, 2, true));
    assert_eq!((info.base_offset, info.duplicate), (start + 2, false));
}

#[test]
fn lost_or_present_index_entries_after_the_snapshot_are_rebuilt_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = tmp.path().join("golden");
    let mut log = open(&golden, &config());
    scenario(&mut log);
    let before = view(&log);
    let (last_base, _) = before
        .index
        .iter()
        .rev()
        .find(|(_, e)| !e.is_empty())
        .unwrap();
    let last_base = *last_base;
    drop(log);

    // As if the process died between writing the marker and its index entry.
    let dir = tmp.path().join("lost");
    copy_dir(&golden, &dir);
    let path = segment_path(&dir, last_base, ".txnindex");
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 34)
        .unwrap();
    let log = open(&dir, &config());
    assert_eq!(view(&log), before);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);

    // A torn entry is cut and rewritten.
    let dir = tmp.path().join("torn");
    copy_dir(&golden, &dir);
    let path = segment_path(&dir, last_base, ".txnindex");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let log = open(&dir, &config());
    assert_eq!(view(&log), before);

    // Entries already present are not added twice, however often the log is reopened.
    let dir = tmp.path().join("present");
    copy_dir(&golden, &dir);
    for _ in 0..3 {
        let log = open(&dir, &config());
        assert_eq!(view(&log), before);
    }
    assert_eq!(
        std::fs::metadata(segment_path(&dir, last_base, ".txnindex"))
            .unwrap()
            .len(),
        len
    );
}

#[test]
fn garbage_in_a_transaction_index_rebuilds_every_index_from_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &config());
    scenario(&mut log);
    let before = view(&log);
    let (base, _) = before.index.iter().find(|(_, e)| !e.is_empty()).unwrap();
    let path = segment_path(&dir, *base, ".txnindex");
    log.close().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] = 7; // an unknown version
    std::fs::write(&path, bytes).unwrap();
    let log = open(&dir, &config());
    assert_eq!(view(&log), before);
    assert!(log.replayed_batches > 0);
}

#[test]
fn truncation_below_a_snapshot_deletes_it_and_replays_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &config());
    scenario(&mut log);
    let bases: Vec<i64> = log.segments.keys().copied().collect();
    drop(log);
    // Tear the segment before the active one: it and everything after it is cut.
    let victim = bases[bases.len() - 2];
    let path = segment_path(&dir, victim, ".log");
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    std::fs::remove_file(segment_path(&dir, victim, ".index")).unwrap();

    let log = open(&dir, &config());
    let end = log.log_end_offset();
    assert!(end < bases[bases.len() - 1]);
    assert!(snapshot_files(&dir).iter().all(|&o| o <= end));
    assert!(!segment_path(&dir, bases[bases.len() - 1], ".txnindex").exists());
    let recovered = view(&log);
    assert!(recovered.aborted.iter().all(|&(_, first)| first < end));
    drop(log);
    // The same as replaying the surviving log from scratch.
    for offset in snapshot_files(&dir) {
        std::fs::remove_file(segment_path(&dir, offset, ".snapshot")).unwrap();
    }
    let log = open(&dir, &config());
    assert_eq!(view(&log), recovered);
}

#[test]
fn rolls_keep_the_newest_two_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, &small_config());
    append(&mut log, producer_batch(1, 1, 0, 0, false));
    while log.segment_count() < 5 {
        append(&mut log, simple(10, 0));
    }
    let bases: Vec<i64> = log.segments.keys().copied().collect();
    assert_eq!(snapshot_files(&dir), bases[3..].to_vec());
    assert_eq!(log.snapshot_offsets(), bases[3..].to_vec());
}

#[test]
fn snapshot_round_trips_every_cached_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), &config());
    scenario(&mut log);
    let bytes = crate::log::snapshot::encode(1234, &log.producers);
    let decoded = crate::log::snapshot::decode(&bytes, 1234).unwrap();
    assert_eq!(decoded, log.producers);
    assert!(crate::log::snapshot::decode(&bytes, 1235).is_none());
    for cut in 0..bytes.len() {
        assert!(crate::log::snapshot::decode(&bytes[..cut], 1234).is_none());
    }
}

proptest::proptest! {
    #[test]
    fn decoders_of_disk_bytes_never_panic(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
        control in proptest::bool::ANY,
    ) {
        let _ = crate::log::snapshot::decode(&bytes, 0);
        let mut batch = bytes.clone();
        if control && batch.len() > 22 {
            batch[16] = 2;
            batch[22] |= 0x20;
        }
        let _ = crate::log::control::parse_marker(&batch);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("00000000000000000000.txnindex");
        std::fs::write(&path, &bytes).unwrap();
        let index = crate::log::txn_index::TxnIndex::load(
            &crate::log::OsStorage,
            &path,
            0,
        )
        .unwrap();
        proptest::prop_assert!(index.corrupt || index.entries().len() == bytes.len() / 34);
    }
}
