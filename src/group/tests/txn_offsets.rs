//! TxnOffsetCommit: pending offsets, completed by transaction markers.

use super::*;

const PID: i64 = 4000;

fn txn_commit(group: &str, offsets: &[(&str, i32, i64)]) -> TxnOffsetCommit {
    TxnOffsetCommit {
        transactional_id: "tx-1".into(),
        group_id: group.into(),
        producer_id: PID,
        producer_epoch: 3,
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        partitions: offsets
            .iter()
            .map(|(t, p, o)| CommitPartition {
                topic: t.to_string(),
                partition: *p,
                offset: *o,
                leader_epoch: -1,
                metadata: Some("m".into()),
            })
            .collect(),
    }
}

fn fetch_one(h: &mut Harness, group: &str, require_stable: bool) -> Vec<(i64, ErrorCode)> {
    match h.call(Request::OffsetFetch(OffsetFetch {
        groups: vec![OffsetFetchGroup {
            member: None,
            group_id: group.into(),
            topics: Some(vec![("orders".into(), vec![0, 1])]),
        }],
        require_stable,
    })) {
        Response::OffsetFetch { groups } => groups[0]
            .offsets
            .iter()
            .map(|o| (o.offset, o.error))
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn txn_offsets_are_pending_until_the_commit_marker() {
    let mut h = Harness::new();
    let resp = h.call(Request::TxnOffsetCommit(txn_commit(
        "g",
        &[("orders", 0, 10), ("orders", 1, 20)],
    )));
    assert_eq!(
        resp,
        Response::TxnOffsetCommit {
            partitions: vec![("orders".into(), 0, 0), ("orders".into(), 1, 0)]
        }
    );
    // The records are OffsetCommit records in a transactional batch of the producer.
    assert_eq!(h.log.len(), 2);
    assert!(h.log.iter().all(|r| r.producer == Some((PID, 3))));
    let p = h.coord.partition_for("g");
    assert!(h.log.iter().all(|r| r.partition == p));
    assert_eq!(fetch_one(&mut h, "g", false), vec![(-1, 0), (-1, 0)]);
    assert_eq!(fetch_one(&mut h, "g", true), vec![(-1, 88), (-1, 88)]);
    // A marker in another partition does not complete it.
    h.coord.replay_marker(PID, true, (p + 1) % 50);
    assert_eq!(fetch_one(&mut h, "g", true), vec![(-1, 88), (-1, 88)]);
    h.coord.replay_marker(PID, true, p);
    assert_eq!(fetch_one(&mut h, "g", true), vec![(10, 0), (20, 0)]);
}

#[test]
fn aborted_txn_offsets_are_dropped_and_earlier_commits_stay() {
    let mut h = Harness::new();
    let simple = OffsetCommit {
        group_id: "g".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        retention_time_ms: -1,
        partitions: vec![CommitPartition {
            topic: "orders".into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: None,
        }],
        version: 8,
    };
    h.call(Request::OffsetCommit(simple));
    h.call(Request::TxnOffsetCommit(txn_commit(
        "g",
        &[("orders", 0, 10)],
    )));
    assert_eq!(fetch_one(&mut h, "g", true), vec![(-1, 88), (-1, 0)]);
    assert_eq!(fetch_one(&mut h, "g", false), vec![(5, 0), (-1, 0)]);
    let p = h.coord.partition_for("g");
    h.coord.replay_marker(PID, false, p);
    assert_eq!(fetch_one(&mut h, "g", true), vec![(5, 0), (-1, 0)]);
}

#[test]
fn replay_rebuilds_pending_txn_offsets() {
    let mut h = Harness::new();
    h.call(Request::TxnOffsetCommit(txn_commit(
        "g",
        &[("orders", 1, 7)],
    )));
    let mut fresh = h.replayed();
    let p = fresh.partition_for("g");
    assert_eq!(fresh.committed_offset("g", "orders", 1), None);
    fresh.replay_marker(PID, true, p);
    assert_eq!(
        fresh.committed_offset("g", "orders", 1).map(|o| o.offset),
        Some(7)
    );
}

#[test]
fn txn_commit_checks_member_and_generation() {
    let mut h = Harness::new();
    // A group with one member in generation 1.
    let (id, _) = h.send(Request::Join(join_req("g", "", "c")));
    let _ = id;
    let mut outs = h.advance(0);
    let mut req = join_req("g", "", "c");
    req.member_id = "c-1".into();
    let (id, out) = h.send(Request::Join(req));
    outs.push(out);
    outs.extend(h.advance(i64::from(INITIAL_DELAY_MS)));
    let joined = join_result(response_in(&outs, id));
    assert_eq!(joined.error, 0);
    let mut r = txn_commit("g", &[("orders", 0, 1)]);
    r.member_id = "nobody".into();
    r.generation_id = joined.generation_id;
    assert_eq!(
        h.call(Request::TxnOffsetCommit(r)),
        Response::TxnOffsetCommit {
            partitions: vec![("orders".into(), 0, 25)]
        }
    );
    let mut r = txn_commit("g", &[("orders", 0, 1)]);
    r.member_id = "c-1".into();
    r.generation_id = joined.generation_id + 1;
    assert_eq!(
        h.call(Request::TxnOffsetCommit(r)),
        Response::TxnOffsetCommit {
            partitions: vec![("orders".into(), 0, 22)]
        }
    );
    let mut r = txn_commit("g", &[("orders", 0, 1)]);
    r.member_id = "c-1".into();
    r.generation_id = joined.generation_id;
    assert_eq!(
        h.call(Request::TxnOffsetCommit(r)),
        Response::TxnOffsetCommit {
            partitions: vec![("orders".into(), 0, 0)]
        }
    );
}
