use super::*;
use crate::share::partition::{RecordState, StateBatch};

fn key(p: i32) -> StateKey {
    StateKey {
        group: "g".into(),
        topic_id: Uuid::from_u128(7),
        partition: p,
    }
}

fn write(state_epoch: i32, leader_epoch: i32, snapshot_epoch: i32, start: i64) -> StateWrite {
    StateWrite {
        state_epoch,
        leader_epoch,
        snapshot_epoch: Some(snapshot_epoch),
        create_timestamp: 1,
        snapshot: Snapshot {
            start_offset: start,
            batches: vec![StateBatch {
                first_offset: start,
                last_offset: start + 1,
                state: RecordState::Available,
                delivery_count: 1,
            }],
        },
        dlq_pending: Vec::new(),
    }
}

#[test]
fn writes_need_initialized_state_of_the_same_state_epoch() {
    let mut s = StateStore::new();
    let k = key(0);
    assert_eq!(s.read(&k, 3), Ok(None));
    assert_eq!(s.write(&k, write(1, 3, 1, 0), 10), Err(FENCED_STATE_EPOCH));
    let v = s.initialize(&k, 5, 42, 10);
    assert_eq!(
        (v.state_epoch, v.snapshot_epoch, v.snapshot.start_offset),
        (5, 0, 42)
    );
    assert_eq!(s.read(&k, 3).unwrap().unwrap().state_epoch, 5);
    assert_eq!(s.write(&k, write(4, 3, 1, 50), 11), Err(FENCED_STATE_EPOCH));
    let v = s.write(&k, write(5, 3, 1, 50), 11).unwrap();
    assert_eq!(
        (v.snapshot_epoch, v.snapshot.start_offset, v.write_timestamp),
        (1, 50, 11)
    );
    assert_eq!(s.get(&k).unwrap().snapshot.start_offset, 50);
}

#[test]
fn an_older_leader_is_fenced_after_a_newer_one_read() {
    let mut s = StateStore::new();
    let k = key(1);
    s.initialize(&k, 1, 0, 0);
    s.write(&k, write(1, 3, 1, 10), 1).unwrap();
    // The new leader (epoch 4) reads: the old one (3) can neither read nor write any more.
    assert!(s.read(&k, 4).unwrap().is_some());
    assert_eq!(s.write(&k, write(1, 3, 2, 11), 2), Err(FENCED_LEADER_EPOCH));
    assert_eq!(s.read(&k, 3), Err(FENCED_LEADER_EPOCH));
    assert_eq!(s.get(&k).unwrap().snapshot.start_offset, 10);
    let v = s.write(&k, write(1, 4, 2, 12), 3).unwrap();
    assert_eq!((v.leader_epoch, v.snapshot.start_offset), (4, 12));
}

#[test]
fn an_overtaken_snapshot_keeps_the_newer_one() {
    let mut s = StateStore::new();
    let k = key(2);
    s.initialize(&k, 1, 0, 0);
    s.write(&k, write(1, 0, 3, 30), 1).unwrap();
    let v = s.write(&k, write(1, 0, 2, 20), 2).unwrap();
    assert_eq!((v.snapshot_epoch, v.snapshot.start_offset), (3, 30));
    // A writer that does not number its snapshots (Kafka's) always writes a newer one.
    let v = s
        .write(
            &k,
            StateWrite {
                snapshot_epoch: None,
                ..write(1, 0, 0, 40)
            },
            3,
        )
        .unwrap();
    assert_eq!((v.snapshot_epoch, v.snapshot.start_offset), (4, 40));
}

#[test]
fn a_reset_or_delete_fences_holders_of_the_old_state() {
    let mut s = StateStore::new();
    let k = key(3);
    s.initialize(&k, 1, 0, 0);
    s.write(&k, write(1, 0, 1, 5), 1).unwrap();
    // AlterShareGroupOffsets asks for state epoch 1 again: it gets past the stored one.
    let v = s.initialize(&k, 1, 100, 2);
    assert_eq!(
        (v.state_epoch, v.snapshot_epoch, v.snapshot.start_offset),
        (2, 2, 100)
    );
    assert_eq!(s.write(&k, write(1, 0, 9, 6), 3), Err(FENCED_STATE_EPOCH));
    // Deleted, then initialized again: still past every earlier epoch.
    assert!(s.delete(&k));
    assert!(!s.delete(&k));
    assert_eq!(s.write(&k, write(2, 0, 9, 6), 4), Err(FENCED_STATE_EPOCH));
    assert_eq!(s.initialize(&k, 1, 0, 5).state_epoch, 3);
}

#[test]
fn loading_replays_values_and_tombstones_of_one_state_partition() {
    let mut s = StateStore::new();
    let n = 4;
    let keys: Vec<StateKey> = (0..8).map(key).collect();
    let p = keys[0].state_partition(n);
    let mine: Vec<&StateKey> = keys.iter().filter(|k| k.state_partition(n) == p).collect();
    let mut v = StateStore::new().initialize(mine[0], 7, 1, 0);
    v.leader_epoch = 2;
    let mut records = vec![(mine[0].clone(), Some(v.clone()))];
    if mine.len() > 1 {
        records.push((mine[1].clone(), Some(v.clone())));
        records.push((mine[1].clone(), None));
    }
    s.load(p, n, 9, records);
    assert!(s.is_loaded(p, 9));
    assert!(!s.is_loaded(p, 10));
    assert_eq!(s.get(mine[0]).unwrap().state_epoch, 7);
    assert_eq!(s.keys_of("g", None), vec![mine[0].clone()]);
    if mine.len() > 1 {
        // The deleted one comes back past its old state epoch.
        assert_eq!(s.initialize(mine[1], 1, 0, 0).state_epoch, 8);
    }
    s.unload(p, n);
    assert!(s.get(mine[0]).is_none());
    assert!(!s.is_loaded(p, 9));
}
