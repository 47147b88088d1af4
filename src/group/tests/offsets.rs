//! OffsetCommit, OffsetFetch, OffsetDelete and offsets expiry.

use super::*;
use crate::group::records::OffsetCommitValue;
use crate::group::{CommittedOffset, GroupState};

fn commit(h: &mut Harness, r: OffsetCommit) -> (Vec<(String, i32, ErrorCode)>, Outcome) {
    let (id, out) = h.send(Request::OffsetCommit(r));
    let errors = commit_errors(response(&out, id).unwrap_or_else(|| panic!("no answer")));
    (errors, out)
}

fn fetch(h: &mut Harness, groups: Vec<OffsetFetchGroup>) -> Vec<OffsetFetchGroupResult> {
    match h.call(Request::OffsetFetch(OffsetFetch {
        groups,
        require_stable: true,
    })) {
        Response::OffsetFetch { groups } => groups,
        other => panic!("{other:?}"),
    }
}

fn fetched(topic: &str, partition: i32, offset: i64, epoch: i32, metadata: &str) -> FetchedOffset {
    FetchedOffset {
        topic: topic.into(),
        partition,
        offset,
        leader_epoch: epoch,
        metadata: Some(metadata.into()),
        error: 0,
    }
}

#[test]
fn commit_with_a_stale_generation_is_illegal_generation() {
    let mut h = Harness::new();
    let (a, _b, generation) = stable_group_of_two(&mut h, "g");
    let (errors, out) = commit(
        &mut h,
        commit_req(
            "g",
            &a,
            generation - 1,
            &[("orders", 0, 5), ("orders", 1, 6)],
        ),
    );
    assert_eq!(
        errors,
        vec![("orders".into(), 0, 22), ("orders".into(), 1, 22)]
    );
    assert!(out.records.is_empty());

    let (errors, out) = commit(
        &mut h,
        commit_req("g", &a, generation, &[("orders", 0, 5), ("orders", 1, 6)]),
    );
    assert_eq!(
        errors,
        vec![("orders".into(), 0, 0), ("orders".into(), 1, 0)]
    );
    assert_eq!(out.records.len(), 2, "one record per partition");
    let record = &out.records[0];
    assert_eq!(record.partition, h.coord.partition_for("g"));
    assert_eq!(&record.key[..2], &[0, 1], "OffsetCommitKey v1");
    assert_eq!(
        &record.value.as_ref().map(|v| v[..2].to_vec()),
        &Some(vec![0, 3]),
        "value v3"
    );
    assert_eq!(
        decode(record),
        (
            RecordKey::OffsetCommit {
                group: "g".into(),
                topic: "orders".into(),
                partition: 0
            },
            Some(DecodedValue::Offset(OffsetCommitValue {
                offset: 5,
                leader_epoch: 7,
                metadata: "m5".into(),
                commit_timestamp: h.now,
                expire_timestamp: None,
            }))
        )
    );
    assert_eq!(
        h.coord.committed_offset("g", "orders", 1),
        Some(CommittedOffset {
            offset: 6,
            leader_epoch: 7,
            metadata: "m6".into(),
            commit_timestamp_ms: h.now,
            expire_timestamp_ms: None,
        })
    );
}

#[test]
fn member_commit_rules_follow_the_group_state() {
    let mut h = Harness::new();
    let (a, ja) = join_new(&mut h, "g", "ca");
    let (b, _) = join_new(&mut h, "g", "cb");
    let outs = h.advance(10_000);
    let generation = join_result(response_in(&outs, ja)).generation_id;
    let one = [("orders", 0, 1)];
    let code = |h: &mut Harness, r| commit(h, r).0[0].2;
    assert_eq!(
        code(&mut h, commit_req("g", &a, generation, &one)),
        27,
        "CompletingRebalance"
    );
    h.send(Request::Sync(sync_req("g", &b, generation, &[])));
    h.send(Request::Sync(sync_req("g", &a, generation, &[])));
    assert_eq!(code(&mut h, commit_req("g", "ghost", generation, &one)), 25);
    assert_eq!(
        code(&mut h, commit_req("g", "", -1, &one)),
        25,
        "no simple commits to a live group"
    );
    assert_eq!(code(&mut h, commit_req("g", &a, generation, &one)), 0);
    // PreparingRebalance: the previous generation may still commit.
    h.send(Request::Join(join_req("g", &a, "ca")));
    assert_eq!(code(&mut h, commit_req("g", &b, generation, &one)), 0);
}

#[test]
fn simple_commit_on_an_empty_group() {
    let mut h = Harness::new();
    let (errors, out) = commit(&mut h, commit_req("simple", "", -1, &[("orders", 0, 42)]));
    assert_eq!(errors, vec![("orders".into(), 0, 0)]);
    assert_eq!(out.records.len(), 1, "only the offset is written");
    let snap = h.coord.group("simple").unwrap_or_else(|| panic!("created"));
    assert_eq!((snap.state, snap.protocol_type), (GroupState::Empty, None));
    // A group whose members all left takes simple commits again.
    let a = stable_group_of_one(&mut h, "g");
    h.send(leave_req("g", &[(&a, None)]));
    assert_eq!(
        commit(&mut h, commit_req("g", "", -1, &[("orders", 0, 1)])).0[0].2,
        0
    );
    // A member commit to a group that does not exist.
    let mut old = commit_req("missing", "m", 3, &[("orders", 0, 1)]);
    assert_eq!(commit(&mut h, old.clone()).0[0].2, 22);
    old.version = 9;
    assert_eq!(commit(&mut h, old).0[0].2, 69);
    assert!(h.coord.group("missing").is_none());
}

#[test]
fn commit_metadata_too_large_fails_only_that_partition() {
    let mut h = Harness::with_config(GroupConfig {
        offset_metadata_max_bytes: 10,
        ..config()
    });
    let mut r = commit_req("s", "", -1, &[("t", 0, 1), ("t", 1, 2), ("t", 2, 3)]);
    r.partitions[0].metadata = Some("x".repeat(11));
    // Kafka compares Java string lengths (UTF-16 units): 10 of them, 20 bytes.
    r.partitions[1].metadata = Some("é".repeat(10));
    r.partitions[2].metadata = None;
    let (errors, out) = commit(&mut h, r);
    assert_eq!(
        errors,
        vec![("t".into(), 0, 12), ("t".into(), 1, 0), ("t".into(), 2, 0)]
    );
    assert_eq!(out.records.len(), 2);
    assert_eq!(
        h.coord.committed_offset("s", "t", 2).map(|o| o.metadata),
        Some(String::new())
    );
}

#[test]
fn commit_with_a_retention_time_writes_a_v1_record() {
    let mut h = Harness::new();
    let mut r = commit_req("s", "", -1, &[("t", 0, 9)]);
    r.retention_time_ms = 5_000;
    r.version = 2;
    let (_, out) = commit(&mut h, r);
    let value = out.records[0].value.clone().unwrap_or_default();
    assert_eq!(&value[..2], &[0, 1]);
    let decoded = OffsetCommitValue::decode(&value).unwrap_or_else(|e| panic!("{e}"));
    // v1 has no leader epoch, as in Kafka.
    assert_eq!(
        (decoded.expire_timestamp, decoded.leader_epoch),
        (Some(h.now + 5_000), -1)
    );
}

#[test]
fn commit_keeps_the_member_session_alive() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "g");
    h.advance(6_000);
    commit(&mut h, commit_req("g", &a, 1, &[("orders", 0, 1)]));
    assert_eq!(
        h.timer(&session_key("g", &a)),
        Some(h.now + i64::from(SESSION_MS))
    );
    h.advance(6_000);
    assert_eq!(
        h.call(heartbeat_req("g", &a, 1)),
        Response::Heartbeat { error: 0 }
    );
}

#[test]
fn offset_fetch_all_partitions() {
    let mut h = Harness::new();
    commit(
        &mut h,
        commit_req(
            "s",
            "",
            -1,
            &[("payments", 0, 7), ("orders", 1, 6), ("orders", 0, 5)],
        ),
    );
    commit(&mut h, commit_req("t", "", -1, &[("orders", 0, 100)]));
    let all = |g: &str| OffsetFetchGroup {
        member: None,
        group_id: g.into(),
        topics: None,
    };
    let results = fetch(&mut h, vec![all("s"), all("t"), all("unknown")]);
    assert_eq!(
        results,
        vec![
            OffsetFetchGroupResult {
                group_id: "s".into(),
                error: 0,
                offsets: vec![
                    fetched("orders", 0, 5, 7, "m5"),
                    fetched("orders", 1, 6, 7, "m6"),
                    fetched("payments", 0, 7, 7, "m7"),
                ],
            },
            OffsetFetchGroupResult {
                group_id: "t".into(),
                error: 0,
                offsets: vec![fetched("orders", 0, 100, 7, "m100")],
            },
            OffsetFetchGroupResult {
                group_id: "unknown".into(),
                error: 0,
                offsets: vec![],
            },
        ]
    );
    let some = |g: &str| OffsetFetchGroup {
        member: None,
        group_id: g.into(),
        topics: Some(vec![
            ("orders".into(), vec![0, 9]),
            ("nope".into(), vec![0]),
        ]),
    };
    let results = fetch(&mut h, vec![some("s"), some("unknown")]);
    let none = |t: &str, p| fetched(t, p, -1, -1, "");
    assert_eq!(
        results[0].offsets,
        vec![
            fetched("orders", 0, 5, 7, "m5"),
            none("orders", 9),
            none("nope", 0)
        ]
    );
    assert_eq!(
        results[1].offsets,
        vec![none("orders", 0), none("orders", 9), none("nope", 0)]
    );
}

#[test]
fn offset_delete_refuses_subscribed_topics() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "g"); // subscribed to "orders"
    commit(
        &mut h,
        commit_req("g", &a, 1, &[("orders", 0, 1), ("payments", 0, 2)]),
    );
    let delete = |group: &str| Request::OffsetDelete {
        group_id: group.into(),
        partitions: vec![
            ("orders".into(), 0),
            ("payments".into(), 0),
            ("payments".into(), 5),
        ],
    };
    let (id, out) = h.send(delete("g"));
    assert_eq!(
        response(&out, id),
        Some(Response::OffsetDelete {
            error: 0,
            partitions: vec![
                ("orders".into(), 0, 86),
                ("payments".into(), 0, 0),
                ("payments".into(), 5, 0)
            ],
        })
    );
    assert_eq!(
        out.records.len(),
        1,
        "a tombstone only where an offset exists"
    );
    assert_eq!(out.records[0].value, None);
    assert!(h.coord.committed_offset("g", "payments", 0).is_none());
    assert!(h.coord.committed_offset("g", "orders", 0).is_some());
    let top = |h: &mut Harness, r| match h.call(r) {
        Response::OffsetDelete { error, .. } => error,
        other => panic!("{other:?}"),
    };
    assert_eq!(top(&mut h, delete("unknown")), 69);
    assert_eq!(top(&mut h, delete("")), 24);
    // Once the group is empty its offsets can go.
    h.send(leave_req("g", &[(&a, None)]));
    assert_eq!(top(&mut h, delete("g")), 0);
    assert!(h.coord.committed_offset("g", "orders", 0).is_none());
}

#[test]
fn offset_delete_in_a_live_non_consumer_group_is_non_empty_group() {
    let mut h = Harness::new();
    let mut r = join_req("connect", "", "w");
    r.protocol_type = "connect".into();
    r.version = 3;
    h.send(Request::Join(r));
    h.advance(10_000);
    let req = Request::OffsetDelete {
        group_id: "connect".into(),
        partitions: vec![("orders".into(), 0)],
    };
    assert_eq!(
        h.call(req),
        Response::OffsetDelete {
            error: 68,
            partitions: vec![]
        }
    );
}

#[test]
fn offsets_expire_in_empty_groups() {
    let retention = 100_000;
    let mut h = Harness::with_config(GroupConfig {
        offsets_retention_ms: retention,
        offsets_retention_check_interval_ms: 10_000,
        ..config()
    });
    let t0 = h.now;
    let out = h.coord.loaded(t0);
    h.apply(&out);
    assert_eq!(h.timer(&TimerKey::OffsetsExpiry), Some(t0 + 10_000));
    // A simple group: retention counts from the commit.
    commit(&mut h, commit_req("s", "", -1, &[("t", 0, 1)]));
    // A consumer group: from when it became Empty.
    let a = stable_group_of_one(&mut h, "g");
    commit(&mut h, commit_req("g", &a, 1, &[("orders", 0, 1)]));
    h.advance(t0 + 5_000 - h.now);
    h.send(leave_req("g", &[(&a, None)]));

    let outs = h.advance(t0 + retention - h.now);
    assert_eq!(
        h.timer(&TimerKey::OffsetsExpiry),
        Some(t0 + retention + 10_000)
    );
    let expired: Vec<_> = outs
        .iter()
        .flat_map(|o| o.records.iter())
        .map(decode)
        .collect();
    assert_eq!(
        expired,
        vec![
            (
                RecordKey::OffsetCommit {
                    group: "s".into(),
                    topic: "t".into(),
                    partition: 0
                },
                None
            ),
            (RecordKey::GroupMetadata { group: "s".into() }, None),
        ]
    );
    assert!(h.coord.group("s").is_none());
    assert!(h.coord.committed_offset("g", "orders", 0).is_some());

    let outs = h.advance(10_000);
    let expired: Vec<_> = outs
        .iter()
        .flat_map(|o| o.records.iter())
        .map(decode)
        .collect();
    assert_eq!(expired.len(), 2);
    assert!(h.coord.group("g").is_none() && h.coord.num_offsets() == 0);
}

#[test]
fn a_commit_after_the_group_emptied_restarts_its_retention() {
    let retention = 100_000;
    let mut h = Harness::with_config(GroupConfig {
        offsets_retention_ms: retention,
        offsets_retention_check_interval_ms: 10_000,
        ..config()
    });
    let t0 = h.now;
    let out = h.coord.loaded(t0);
    h.apply(&out);
    let a = stable_group_of_one(&mut h, "g");
    commit(&mut h, commit_req("g", &a, 1, &[("orders", 0, 1)]));
    h.send(leave_req("g", &[(&a, None)]));
    h.advance(t0 + 50_000 - h.now);
    commit(&mut h, commit_req("g", "", -1, &[("orders", 1, 2)]));
    h.advance(t0 + 110_000 - h.now);
    assert!(h.coord.committed_offset("g", "orders", 0).is_none());
    assert!(h.coord.committed_offset("g", "orders", 1).is_some());
    assert!(h.coord.group("g").is_some());
    h.advance(t0 + 150_000 - h.now);
    assert!(h.coord.committed_offset("g", "orders", 1).is_none());
    assert!(h.coord.group("g").is_none());
}

#[test]
fn explicit_retention_expires_at_its_own_time() {
    let mut h = Harness::with_config(GroupConfig {
        offsets_retention_check_interval_ms: 10_000,
        ..config()
    });
    let out = h.coord.loaded(h.now);
    h.apply(&out);
    let mut r = commit_req("s", "", -1, &[("t", 0, 1)]);
    r.retention_time_ms = 20_000;
    r.version = 3;
    commit(&mut h, r);
    h.advance(10_000);
    assert!(h.coord.committed_offset("s", "t", 0).is_some());
    h.advance(10_000);
    assert!(h.coord.committed_offset("s", "t", 0).is_none());
}

#[test]
fn stable_consumer_group_expires_only_offsets_of_unsubscribed_topics() {
    let mut h = Harness::with_config(GroupConfig {
        offsets_retention_ms: 30_000,
        offsets_retention_check_interval_ms: 10_000,
        ..config()
    });
    let out = h.coord.loaded(h.now);
    h.apply(&out);
    let a = stable_group_of_one(&mut h, "g");
    commit(
        &mut h,
        commit_req("g", &a, 1, &[("orders", 0, 1), ("payments", 0, 1)]),
    );
    for _ in 0..8 {
        h.advance(5_000);
        h.call(heartbeat_req("g", &a, 1));
    }
    assert!(h.coord.committed_offset("g", "orders", 0).is_some());
    assert!(h.coord.committed_offset("g", "payments", 0).is_none());
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::Stable)
    );
}
