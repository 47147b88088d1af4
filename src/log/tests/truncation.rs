//! `truncate_to`: cutting the log end where a replica diverges, and what must follow it
//! (indexes, leader epochs, producer state, transaction indexes, crash safety).

use std::sync::Arc;

use super::replica::{catch_up, config, open_at, txn_view};
use super::*;
use crate::log::index::{OffsetEntry, TimeEntry};
use crate::log::storage::{FaultyStorage, Storage};
use crate::log::LogError;

/// A follower holding 40 batches of 5 records from its leader (epochs 0, then 1 from the
/// 21st batch), over several segments, with some idempotent batches among them. Returns
/// the leader, the follower, and (base, last) of every batch.
fn replicated(tmp: &tempfile::TempDir) -> (PartitionLog, PartitionLog, Vec<(i64, i64)>) {
    let mut leader = open_at(tmp, "leader");
    let mut batches = Vec::new();
    for i in 0..40 {
        let epoch = i32::from(i >= 20);
        let mut batch = if i % 3 == 0 {
            producer_batch(5, 1, 0, (i / 3) * 5, false)
        } else {
            simple(5, 1_000 + i as i64)
        };
        let info = leader.append(&mut batch, epoch, 1_000).unwrap();
        batches.push((info.base_offset, info.last_offset));
    }
    let mut follower = open_at(tmp, "follower");
    catch_up(&leader, &mut follower, 900);
    assert!(
        follower.segment_count() >= 5,
        "{}",
        follower.segment_count()
    );
    (leader, follower, batches)
}

/// The leader's bytes below `end` (a batch boundary).
fn prefix(leader: &PartitionLog, end: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < end {
        let bytes = leader
            .read_upto(offset, 1 << 20, true, end)
            .unwrap()
            .execute()
            .unwrap();
        let last = BatchIter::new(&bytes)
            .last()
            .unwrap()
            .unwrap()
            .0
            .last_offset();
        out.extend_from_slice(&bytes);
        offset = last + 1;
    }
    out
}

/// A log that only ever got the leader's batches below `end`.
fn reference(tmp: &tempfile::TempDir, leader: &PartitionLog, end: i64) -> PartitionLog {
    let mut log = open_at(tmp, &format!("reference-{end}"));
    log.append_as_follower(&prefix(leader, end), 1_000).unwrap();
    log
}

type IndexState = (i64, Vec<OffsetEntry>, Vec<TimeEntry>, u64, i64, i64);

fn index_state(log: &PartitionLog) -> Vec<IndexState> {
    log.segments
        .iter()
        .map(|(base, s)| {
            let i = &s.index;
            (
                *base,
                i.offsets.clone(),
                i.times.clone(),
                i.bytes_since_entry,
                i.max_timestamp,
                i.max_timestamp_offset,
            )
        })
        .collect()
}

fn index_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    list_dir(dir)
        .into_iter()
        .filter(|n| n.ends_with(".index") || n.ends_with(".timeindex"))
        .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap()))
        .collect()
}

/// The indexes a truncation left, in memory and on disk, equal a rebuild from the log.
fn assert_indexes_rebuild_identically(log: PartitionLog) -> PartitionLog {
    let dir = log.dir().to_path_buf();
    let (state, files) = (index_state(&log), index_files(&dir));
    drop(log);
    for (name, _) in &files {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let log = open(&dir, &config());
    assert_eq!(index_state(&log), state);
    assert_eq!(index_files(&dir), files);
    log
}

/// Truncate at `offset` and check everything against a log that only ever had the
/// leader's batches below `want_end`; then catch up again and match the leader.
fn check_truncation(offset: i64, want_end: i64) {
    let tmp = tempfile::tempdir().unwrap();
    let (leader, mut follower, _) = replicated(&tmp);
    follower.truncate_to(offset).unwrap();
    assert_eq!(follower.log_end_offset(), want_end);
    assert!(read_all(&follower, 0, 1 << 20) == prefix(&leader, want_end));
    let reference = reference(&tmp, &leader, want_end);
    assert_eq!(txn_view(&follower), txn_view(&reference));
    assert_eq!(follower.size_bytes(), reference.size_bytes());
    let last_base = *follower.segments.keys().last().unwrap();
    for name in list_dir(follower.dir()) {
        if let Some(base) = name.strip_suffix(".log") {
            assert!(base.parse::<i64>().unwrap() <= last_base, "{name} left");
        }
        if let Some(at) = name.strip_suffix(".snapshot") {
            assert!(at.parse::<i64>().unwrap() <= want_end, "{name} left");
        }
    }
    let mut follower = assert_indexes_rebuild_identically(follower);
    assert_eq!(txn_view(&follower), txn_view(&reference));
    catch_up(&leader, &mut follower, 700);
    assert!(read_all(&follower, 0, 1 << 20) == read_all(&leader, 0, 1 << 20));
    assert_eq!(txn_view(&follower), txn_view(&leader));
}

#[test]
fn truncate_to_a_batch_boundary_inside_the_last_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, follower, batches) = replicated(&tmp);
    let active = *follower.segments.keys().last().unwrap();
    let (base, _) = *batches.iter().rev().find(|b| b.0 > active).unwrap();
    check_truncation(base, base);
}

#[test]
fn truncate_to_a_batch_boundary_inside_an_earlier_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, follower, batches) = replicated(&tmp);
    let bases: Vec<i64> = follower.segments.keys().copied().collect();
    // Inside the second segment: every later segment goes.
    let (base, _) = *batches
        .iter()
        .find(|b| b.0 > bases[1] + 5 && b.0 < bases[2])
        .unwrap();
    check_truncation(base, base);
}

#[test]
fn truncate_to_a_segment_base_leaves_that_segment_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, mut follower, _) = replicated(&tmp);
    let bases: Vec<i64> = follower.segments.keys().copied().collect();
    follower.truncate_to(bases[2]).unwrap();
    assert_eq!(
        follower.segments.keys().copied().collect::<Vec<_>>(),
        bases[..3].to_vec()
    );
    assert_eq!(follower.active().size, 0);
    drop(follower);
    check_truncation(bases[2], bases[2]);
}

#[test]
fn truncate_inside_a_batch_removes_the_whole_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, batches) = replicated(&tmp);
    let (base, last) = batches[27];
    check_truncation(base + 2, base);
    check_truncation(last, base);
}

#[test]
fn truncate_across_many_segments_deletes_them_and_their_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, follower, batches) = replicated(&tmp);
    assert!(follower
        .snapshot_offsets()
        .iter()
        .all(|&o| o > batches[3].0));
    check_truncation(batches[3].0, batches[3].0);
}

#[test]
fn truncate_at_or_past_the_end_only_drops_an_epoch_entry_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, mut follower, _) = replicated(&tmp);
    let end = follower.log_end_offset();
    let epochs = follower.leader_epoch_entries();
    // It led epoch 4 for a moment without appending anything.
    follower.assign_leader_epoch(4).unwrap();
    assert_eq!(follower.latest_leader_epoch(), Some(4));
    follower.truncate_to(end + 10).unwrap();
    assert_eq!(follower.log_end_offset(), end);
    assert_eq!(follower.leader_epoch_entries(), epochs);
    assert!(matches!(
        follower.truncate_to(-1),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn truncate_to_the_log_start_offset_or_below_starts_over_there() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, mut follower, batches) = replicated(&tmp);
    let start = batches[10].0 + 1;
    follower.advance_log_start_offset(start).unwrap();
    // Inside the batch holding the log start offset: that batch goes, nothing readable
    // would remain.
    follower.truncate_to(start + 1).unwrap();
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (start, start)
    );
    assert_eq!(follower.segment_count(), 1);
    assert_eq!(follower.producers(), vec![]);
    // Below the log start offset likewise.
    let tmp2 = tempfile::tempdir().unwrap();
    let (_, mut other, _) = replicated(&tmp2);
    other.advance_log_start_offset(start).unwrap();
    other.truncate_to(3).unwrap();
    assert_eq!(
        (other.log_start_offset(), other.log_end_offset()),
        (start, start)
    );
}

#[test]
fn a_replica_that_diverged_truncates_and_takes_the_new_leaders_data() {
    let tmp = tempfile::tempdir().unwrap();
    let (old_leader, mut follower, batches) = replicated(&tmp);
    // The new leader had the old one's batches up to 30, then led epoch 2 with other data.
    let common = batches[30].0;
    let mut new_leader = open_at(&tmp, "new-leader");
    new_leader
        .append_as_follower(&prefix(&old_leader, common), 1_000)
        .unwrap();
    new_leader.assign_leader_epoch(2).unwrap();
    for i in 0..15 {
        let mut batch = simple(3, 9_000 + i);
        new_leader.append(&mut batch, 2, 2_000).unwrap();
    }
    // OffsetForLeaderEpoch for the follower's last epoch tells where they part.
    let last = follower.latest_leader_epoch().unwrap();
    let (epoch, end) = new_leader.end_offset_for_epoch(last);
    assert_eq!((epoch, end), (1, common));
    follower.truncate_to(end).unwrap();
    catch_up(&new_leader, &mut follower, 600);
    assert!(read_all(&follower, 0, 1 << 20) == read_all(&new_leader, 0, 1 << 20));
    assert_eq!(txn_view(&follower), txn_view(&new_leader));
    assert_eq!(
        follower.leader_epoch_entries(),
        vec![(0, 0), (1, batches[20].0), (2, common)]
    );
}

#[test]
fn an_abort_truncated_away_reopens_its_transaction() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut leader = open_at(&tmp, "leader");
    leader.append(&mut simple(5, 0), 0, 0).unwrap();
    let first = leader
        .append(&mut producer_batch(3, 7, 0, 0, true), 0, 0)
        .unwrap()
        .base_offset;
    for _ in 0..12 {
        leader.append(&mut simple(5, 0), 0, 0).unwrap();
    }
    let marker = leader
        .append_control(7, 0, false, 0, 0, 1_000)
        .unwrap()
        .base_offset;
    leader.append(&mut simple(5, 0), 0, 0).unwrap();
    let mut follower = open(&dir, &config());
    catch_up(&leader, &mut follower, 800);
    assert!(follower.segment_count() > 2);
    let marker_segment = *follower.segments.range(..=marker).next_back().unwrap().0;
    assert_eq!(follower.aborted_transactions(0, i64::MAX), vec![(7, first)]);
    let txnindex = segment_path(&dir, marker_segment, ".txnindex");
    assert_eq!(std::fs::metadata(&txnindex).unwrap().len(), 34);

    follower.truncate_to(marker).unwrap();
    assert_eq!(follower.aborted_transactions(0, i64::MAX), vec![]);
    assert_eq!(follower.last_stable_offset(), first);
    assert_eq!(follower.producers()[0].current_txn_start_offset, first);
    if txnindex.exists() {
        assert_eq!(std::fs::metadata(&txnindex).unwrap().len(), 0);
    }
    // The same after a crash (replayed from the snapshots that are left).
    drop(follower);
    let mut follower = open(&dir, &config());
    assert_eq!(follower.last_stable_offset(), first);
    // The new leader's log commits it instead.
    follower.append_control(7, 0, true, 1, 1, 2_000).unwrap();
    assert_eq!(follower.aborted_transactions(0, i64::MAX), vec![]);
    assert_eq!(follower.last_stable_offset(), follower.log_end_offset());
}

/// Reopen `dir` and check it is a consistent prefix of `reference`: producer state,
/// aborted transactions and leader epochs equal those of a replay from scratch.
fn assert_consistent(tmp: &tempfile::TempDir, dir: &Path, reference: &[u8]) -> PartitionLog {
    let log = open(dir, &config());
    let bytes = read_all(&log, 0, 1 << 20);
    assert!(reference.starts_with(&bytes), "not a prefix");
    assert_eq!(log.size_bytes() as usize, bytes.len());
    let scratch = tmp.path().join(format!("scratch-{}", log.log_end_offset()));
    copy_dir(dir, &scratch);
    for name in list_dir(&scratch) {
        let derived = [".snapshot", ".txnindex", ".index", ".timeindex"];
        if derived.iter().any(|s| name.ends_with(s)) || name == "leader-epoch-checkpoint" {
            std::fs::remove_file(scratch.join(&name)).unwrap();
        }
    }
    let fresh = open(&scratch, &config());
    assert_eq!(txn_view(&log), txn_view(&fresh));
    assert_eq!(index_state(&log), index_state(&fresh));
    log
}

#[test]
fn a_storage_failure_during_truncation_leaves_a_log_that_reopens_consistent() {
    for fault in ["fsync", "write"] {
        let tmp = tempfile::tempdir().unwrap();
        let (leader, follower, batches) = replicated(&tmp);
        let reference = read_all(&leader, 0, 1 << 20);
        let dir = tmp.path().join("faulty");
        copy_dir(follower.dir(), &dir);
        drop(follower);
        let (storage, faults) = FaultyStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(storage);
        let mut log = PartitionLog::open_with_storage(&dir, config(), 0, storage).unwrap();
        let target = batches[8].0;
        match fault {
            "fsync" => faults.fail_syncs(true),
            _ => faults.fail_writes(true),
        }
        assert!(matches!(log.truncate_to(target), Err(LogError::Io(_))));
        assert!(log.is_offline());
        drop(log);
        let mut log = assert_consistent(&tmp, &dir, &reference);
        assert!(log.log_end_offset() >= target, "{fault}");
        // The replica fetcher truncates again once the disk works.
        log.truncate_to(target).unwrap();
        assert_eq!(log.log_end_offset(), target);
        drop(log);
        let log = assert_consistent(&tmp, &dir, &reference);
        assert_eq!(log.log_end_offset(), target);
    }
}

#[test]
fn a_storage_failure_while_starting_over_leaves_a_consistent_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (leader, follower, _) = replicated(&tmp);
    let reference = read_all(&leader, 0, 1 << 20);
    let dir = tmp.path().join("faulty");
    copy_dir(follower.dir(), &dir);
    drop(follower);
    let (storage, faults) = FaultyStorage::new();
    let storage: Arc<dyn Storage> = Arc::new(storage);
    let mut log = PartitionLog::open_with_storage(&dir, config(), 0, storage).unwrap();
    faults.fail_syncs(true);
    assert!(log.truncate_fully_and_start_at(1_000).is_err());
    drop(log);
    // The snapshots went first: what is left replays from scratch.
    let mut log = assert_consistent(&tmp, &dir, &reference);
    log.truncate_fully_and_start_at(1_000).unwrap();
    let mut batch = simple(2, 0);
    crate::protocol::batch::set_base_offset(&mut batch, 1_000);
    log.append_as_follower(&batch, 0).unwrap();
    drop(log);
    let log = open(&dir, &config());
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset()),
        (1_000, 1_002)
    );
}
