//! Replication: follower appends of a leader's batches, truncation, starting over.

use super::*;
use crate::log::producer_state::ProducerStateManager;
use crate::log::{AppendInfo, LogError};
use crate::protocol::batch::{set_base_offset, set_partition_leader_epoch};

/// Small segments and dense indexes: a few appends roll, snapshot and index.
pub(super) fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 200,
        ..LogConfig::default()
    }
}

pub(super) fn open_at(tmp: &tempfile::TempDir, name: &str) -> PartitionLog {
    open(&tmp.path().join(name), &config())
}

/// One fetch: what the leader returns from the follower's log end offset, appended.
pub(super) fn fetch(leader: &PartitionLog, follower: &mut PartitionLog, max: usize) -> AppendInfo {
    let bytes = leader
        .read(follower.log_end_offset(), max, true)
        .unwrap()
        .execute()
        .unwrap();
    follower.append_as_follower(&bytes, 1_000).unwrap()
}

pub(super) fn catch_up(leader: &PartitionLog, follower: &mut PartitionLog, max: usize) {
    while follower.log_end_offset() < leader.log_end_offset() {
        fetch(leader, follower, max);
    }
}

/// Everything about transactions and producers that must match between replicas.
#[derive(Debug, PartialEq)]
pub(super) struct TxnView {
    pub state: ProducerStateManager,
    pub aborted: Vec<(i64, i64)>,
    pub last_stable_offset: i64,
    pub epochs: Vec<(i32, i64)>,
}

pub(super) fn txn_view(log: &PartitionLog) -> TxnView {
    TxnView {
        state: log.producers.clone(),
        aborted: log.aborted_transactions(0, i64::MAX),
        last_stable_offset: log.last_stable_offset(),
        epochs: log.leader_epoch_entries(),
    }
}

fn append(log: &mut PartitionLog, mut batch: Vec<u8>, epoch: i32) -> AppendInfo {
    log.append(&mut batch, epoch, 1_000).unwrap()
}

/// A leader log with idempotent batches of producer 1, a committed transaction of 2, an
/// aborted one of 3, a still open one of 4, plain batches, epochs 0, 2 and 5, several
/// segments. Returns producer 1's last batch as (sequence, base, last).
fn leader_scenario(leader: &mut PartitionLog) -> (i32, i64, i64) {
    let mut last = (0, 0, 0);
    for round in 0..8 {
        let epoch = [0, 0, 2, 2, 2, 5, 5, 5][round];
        let seq = 3 * round as i32;
        let info = append(leader, producer_batch(3, 1, 0, seq, false), epoch);
        last = (seq, info.base_offset, info.last_offset);
        append(leader, simple(6, 100 * round as i64), epoch);
        match round {
            1 => {
                append(leader, producer_batch(2, 2, 0, 0, true), epoch);
                append(leader, producer_batch(2, 3, 0, 0, true), epoch);
            }
            3 => {
                leader.append_control(2, 0, true, 0, epoch, 2_000).unwrap();
                leader.append_control(3, 0, false, 0, epoch, 2_000).unwrap();
            }
            6 => {
                append(leader, producer_batch(1, 4, 0, 0, true), epoch);
            }
            _ => {}
        }
    }
    assert!(leader.segment_count() >= 3);
    last
}

#[test]
fn follower_keeps_the_leaders_bytes_offsets_epochs_and_producer_state() {
    let tmp = tempfile::tempdir().unwrap();
    let mut leader = open_at(&tmp, "leader");
    let mut follower = open_at(&tmp, "follower");
    leader_scenario(&mut leader);
    // A first fetch: one whole batch at least, offsets as the leader's.
    let first = fetch(&leader, &mut follower, 1);
    assert_eq!(
        (first.base_offset, first.last_offset, first.records),
        (0, 2, 3)
    );
    assert_eq!(first.log_append_time, -1);
    catch_up(&leader, &mut follower, 700);
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert!(read_all(&follower, 0, 1 << 20) == read_all(&leader, 0, 1 << 20));
    assert_eq!(txn_view(&follower), txn_view(&leader));
    assert_eq!(
        follower.leader_epoch_entries(),
        vec![(0, 0), (2, 22), (5, 51)]
    );
    for epoch in -1..7 {
        assert_eq!(
            follower.end_offset_for_epoch(epoch),
            leader.end_offset_for_epoch(epoch),
            "epoch {epoch}"
        );
    }
    assert_eq!(follower.latest_leader_epoch(), Some(5));
    assert_eq!(follower.leader_epoch_for_offset(21), Some(0));
    assert_eq!(follower.leader_epoch_for_offset(22), Some(2));
    assert_eq!(follower.aborted_transactions(0, i64::MAX).len(), 1);
    // The open transaction of producer 4 holds the last stable offset on both.
    assert!(follower.last_stable_offset() < follower.log_end_offset());
    // The same after a crash of the follower (replay from its snapshots).
    let dir = follower.dir().to_path_buf();
    drop(follower);
    let follower = open(&dir, &config());
    assert_eq!(txn_view(&follower), txn_view(&leader));
}

#[test]
fn an_idempotent_retry_is_a_duplicate_on_the_follower_after_it_becomes_leader() {
    let tmp = tempfile::tempdir().unwrap();
    let mut leader = open_at(&tmp, "leader");
    let mut follower = open_at(&tmp, "follower");
    let (seq, base, last) = leader_scenario(&mut leader);
    catch_up(&leader, &mut follower, 500);
    // Leadership moves: the producer retries its last batch on the new leader.
    follower.assign_leader_epoch(6).unwrap();
    let retry = append(&mut follower, producer_batch(3, 1, 0, seq, false), 6);
    assert!(retry.duplicate);
    assert_eq!((retry.base_offset, retry.last_offset), (base, last));
    let end = follower.log_end_offset();
    let next = append(&mut follower, producer_batch(1, 1, 0, seq + 3, false), 6);
    assert_eq!((next.base_offset, next.duplicate), (end, false));
    let mut gap = producer_batch(1, 1, 0, seq + 9, false);
    assert!(matches!(
        follower.append(&mut gap, 6, 1_000),
        Err(LogError::OutOfOrderSequence(_))
    ));
    // Producer 4's transaction is still open on the new leader: a marker closes it.
    follower.append_control(4, 0, false, 1, 6, 3_000).unwrap();
    assert_eq!(follower.last_stable_offset(), follower.log_end_offset());
    assert_eq!(follower.aborted_transactions(0, i64::MAX).len(), 2);
}

#[test]
fn appends_that_do_not_continue_the_log_are_rejected_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut leader = open_at(&tmp, "leader");
    let mut follower = open_at(&tmp, "follower");
    for _ in 0..3 {
        append(&mut leader, simple(5, 0), 1);
    }
    let bytes = read_all(&leader, 0, 1 << 20);
    let batches: Vec<Vec<u8>> = BatchIter::new(&bytes)
        .map(|b| b.unwrap().1.to_vec())
        .collect();
    follower.append_as_follower(&batches[0], 0).unwrap();
    // Below the log end offset.
    let err = follower.append_as_follower(&batches[0], 0).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::UnexpectedOffset {
                expected: 5,
                got: 0
            }
        ),
        "{err:?}"
    );
    // Out of order inside one payload.
    let swapped = [batches[2].clone(), batches[1].clone()].concat();
    let err = follower.append_as_follower(&swapped, 0).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::UnexpectedOffset {
                expected: 15,
                got: 5
            }
        ),
        "{err:?}"
    );
    // A corrupt batch anywhere.
    let mut corrupt = [batches[1].clone(), batches[2].clone()].concat();
    let at = batches[1].len() + 70;
    corrupt[at] ^= 1;
    assert!(matches!(
        follower.append_as_follower(&corrupt, 0),
        Err(LogError::CorruptMessage(_))
    ));
    assert_eq!(follower.log_end_offset(), 5);
    assert_eq!(follower.size_bytes(), batches[0].len() as u64);
    assert_eq!(follower.leader_epoch_entries(), vec![(1, 0)]);
    // Nothing at all, or only a partial batch.
    let info = follower.append_as_follower(&[], 0).unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.records),
        (5, 4, 0)
    );
    assert!(matches!(
        follower.append_as_follower(&batches[1][..30], 0),
        Err(LogError::CorruptMessage(_))
    ));
    // A trailing partial batch is left for the next fetch.
    let cut = [batches[1].clone(), batches[2][..40].to_vec()].concat();
    let info = follower.append_as_follower(&cut, 0).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (5, 9));
    follower.append_as_follower(&batches[2], 0).unwrap();
    assert!(read_all(&follower, 0, 1 << 20) == bytes);
}

#[test]
fn the_leaders_business_is_not_checked_again() {
    let tmp = tempfile::tempdir().unwrap();
    let mut leader = open_at(&tmp, "leader");
    leader.append_control(9, 0, true, 0, 0, 1_000).unwrap();
    append(&mut leader, simple(30, 0), 0);
    let bytes = read_all(&leader, 0, 1 << 20);
    // A follower with a tiny max.message.bytes and compaction (keyless records would be
    // refused from a client) still takes the leader's control batch and big batch.
    let strict = LogConfig {
        max_message_bytes: 100,
        cleanup_policy: crate::log::CleanupPolicy {
            delete: false,
            compact: true,
        },
        ..config()
    };
    let mut follower = open(&tmp.path().join("follower"), &strict);
    let info = follower.append_as_follower(&bytes, 0).unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.records),
        (0, 30, 31)
    );
    let mut keyless = keyless_batch(2);
    let mut refused = keyless.clone();
    assert!(matches!(
        follower.append(&mut refused, 0, 0),
        Err(LogError::RecordErrors {
            timestamp: false,
            ..
        })
    ));
    set_base_offset(&mut keyless, 31);
    follower.append_as_follower(&keyless, 0).unwrap();
    assert_eq!(follower.log_end_offset(), 33);
}

/// A batch of `n` records without keys.
fn keyless_batch(n: usize) -> Vec<u8> {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_000,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
    buf.to_vec()
}

/// Leader-like batches of five records at the given base offsets (offsets skip between
/// them, as in a compacted log), in leader epoch `epoch`.
fn gapped_batches(bases: &[i64], epoch: i32) -> Vec<u8> {
    let mut out = Vec::new();
    for &base in bases {
        let mut b = simple(5, base);
        set_base_offset(&mut b, base);
        set_partition_leader_epoch(&mut b, epoch);
        out.extend_from_slice(&b);
    }
    out
}

#[test]
fn offset_gaps_from_a_compacted_leader_survive_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut follower = open(&dir, &config());
    // Starting past the log end offset: the empty active segment moves there.
    let info = follower
        .append_as_follower(&gapped_batches(&[10, 15, 40], 3), 0)
        .unwrap();
    assert_eq!((info.base_offset, info.last_offset), (10, 44));
    assert_eq!(
        follower.segments.keys().copied().collect::<Vec<_>>(),
        vec![10]
    );
    assert_eq!(follower.log_start_offset(), 10);
    follower
        .append_as_follower(&gapped_batches(&[100, 105], 3), 0)
        .unwrap();
    assert_eq!(follower.log_end_offset(), 110);
    assert_eq!(follower.leader_epoch_entries(), vec![(3, 10)]);
    let bytes = read_all(&follower, 10, 1 << 20);
    assert_eq!(BatchIter::new(&bytes).count(), 5);
    // A read inside a gap returns the next batch.
    let at_50 = follower.read(50, 1 << 20, true).unwrap().execute().unwrap();
    assert_eq!(
        BatchIter::new(&at_50)
            .next()
            .unwrap()
            .unwrap()
            .0
            .base_offset,
        100
    );
    assert!(dir.join("segments-with-gaps").exists());
    drop(follower);
    // Lost indexes: every segment is verified batch by batch.
    for name in list_dir(&dir) {
        if name.ends_with(".index") || name.ends_with(".timeindex") {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
    }
    let golden = tmp.path().join("golden");
    copy_dir(&dir, &golden);
    let follower = open(&dir, &config());
    assert_eq!(follower.log_end_offset(), 110);
    assert!(read_all(&follower, 10, 1 << 20) == bytes);
    // Without the list, recovery would take a gap for damage and cut the segment there.
    std::fs::remove_file(golden.join("segments-with-gaps")).unwrap();
    let damaged = open(&golden, &config());
    assert_eq!(damaged.log_end_offset(), 20);
}

#[test]
fn a_follower_of_a_log_starting_inside_a_batch_starts_at_that_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let mut leader = open_at(&tmp, "leader");
    for _ in 0..3 {
        append(&mut leader, simple(5, 0), 0);
    }
    leader.advance_log_start_offset(7).unwrap();
    let mut follower = open_at(&tmp, "follower");
    follower.truncate_fully_and_start_at(7).unwrap();
    let info = fetch(&leader, &mut follower, 1 << 20);
    assert_eq!((info.base_offset, info.last_offset), (5, 14));
    assert_eq!(follower.log_start_offset(), 7);
    assert_eq!(follower.log_end_offset(), 15);
    assert_eq!(
        follower.segments.keys().copied().collect::<Vec<_>>(),
        vec![5]
    );
    assert_eq!(follower.leader_epoch_entries(), vec![(0, 7)]);
    let dir = follower.dir().to_path_buf();
    drop(follower);
    let follower = open(&dir, &config());
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (7, 15)
    );
    // An empty log starting past the whole batch does not take it.
    let mut other = open_at(&tmp, "other");
    other.truncate_fully_and_start_at(12).unwrap();
    let err = fetch_err(&leader, &mut other, 7);
    assert!(
        matches!(
            err,
            LogError::UnexpectedOffset {
                expected: 12,
                got: 5
            }
        ),
        "{err:?}"
    );
}

fn fetch_err(leader: &PartitionLog, follower: &mut PartitionLog, from: i64) -> LogError {
    let bytes = leader.read(from, 1 << 20, true).unwrap().execute().unwrap();
    match follower.append_as_follower(&bytes, 0) {
        Err(e) => e,
        Ok(info) => panic!("appended {info:?}"),
    }
}

#[test]
fn truncate_fully_and_start_at_leaves_an_empty_log_there() {
    let tmp = tempfile::tempdir().unwrap();
    let mut leader = open_at(&tmp, "leader");
    let mut follower = open_at(&tmp, "follower");
    leader_scenario(&mut leader);
    catch_up(&leader, &mut follower, 1 << 20);
    let dir = follower.dir().to_path_buf();
    follower.truncate_fully_and_start_at(500).unwrap();
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (500, 500)
    );
    assert_eq!(follower.segment_count(), 1);
    assert_eq!(follower.size_bytes(), 0);
    assert_eq!(follower.producers(), vec![]);
    assert_eq!(follower.leader_epoch_entries(), vec![]);
    assert_eq!(follower.aborted_transactions(0, i64::MAX), vec![]);
    assert_eq!(follower.last_stable_offset(), 500);
    assert_eq!(
        list_dir(&dir),
        vec![
            "00000000000000000500.index",
            "00000000000000000500.log",
            "00000000000000000500.timeindex",
            "leader-epoch-checkpoint",
            "log-start-offset",
        ]
    );
    let mut batch = simple(4, 0);
    set_base_offset(&mut batch, 500);
    set_partition_leader_epoch(&mut batch, 7);
    follower.append_as_follower(&batch, 0).unwrap();
    follower.close().unwrap();
    let follower = open(&dir, &config());
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (500, 504)
    );
    assert_eq!(follower.leader_epoch_entries(), vec![(7, 500)]);
    // Below the old log start too.
    let mut log = follower;
    log.truncate_fully_and_start_at(2).unwrap();
    drop(log);
    let log = open(&dir, &config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (2, 2));
}
