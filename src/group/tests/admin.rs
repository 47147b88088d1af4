//! DescribeGroups, ListGroups, DeleteGroups, and failed appends.

use bytes::Bytes;

use super::*;

fn describe(h: &mut Harness, groups: &[&str]) -> Vec<DescribedGroup> {
    match h.call(Request::Describe {
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }) {
        Response::Describe { groups } => groups,
        other => panic!("{other:?}"),
    }
}

fn list(h: &mut Harness, states: &[&str], types: &[&str]) -> Vec<(String, String, String)> {
    let req = Request::List {
        states: states.iter().map(|s| s.to_string()).collect(),
        types: types.iter().map(|s| s.to_string()).collect(),
    };
    match h.call(req) {
        Response::List { error: 0, groups } => groups
            .into_iter()
            .map(|g| (g.group_id, g.protocol_type, g.state))
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn describe_groups() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "stable");
    join_new(&mut h, "joining", "cx");
    let d = describe(&mut h, &["stable", "joining", "unknown"]);
    assert_eq!(
        d[0],
        DescribedGroup {
            group_id: "stable".into(),
            error: 0,
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol: "range".into(),
            members: vec![DescribedMember {
                member_id: a,
                group_instance_id: None,
                client_id: "c1".into(),
                client_host: "/127.0.0.1".into(),
                metadata: subscription(&["orders"]),
                assignment: Bytes::from("a1"),
            }],
        }
    );
    assert_eq!(
        (d[1].state.as_str(), d[1].protocol.as_str()),
        ("PreparingRebalance", "")
    );
    assert_eq!(
        d[1].members[0].metadata,
        Bytes::new(),
        "no metadata before Stable"
    );
    assert_eq!(
        d[2],
        DescribedGroup {
            group_id: "unknown".into(),
            error: 0,
            state: "Dead".into(),
            protocol_type: String::new(),
            protocol: String::new(),
            members: vec![],
        }
    );
}

#[test]
fn list_groups_filters_by_state_and_type() {
    let mut h = Harness::new();
    stable_group_of_one(&mut h, "b-stable");
    h.call(Request::OffsetCommit(commit_req(
        "a-simple",
        "",
        -1,
        &[("t", 0, 1)],
    )));
    let all = list(&mut h, &[], &[]);
    assert_eq!(
        all,
        vec![
            ("a-simple".into(), String::new(), "Empty".into()),
            ("b-stable".into(), "consumer".into(), "Stable".into()),
        ]
    );
    assert_eq!(list(&mut h, &["STABLE "], &[]).len(), 1);
    assert_eq!(list(&mut h, &["empty", "stable"], &["Classic"]).len(), 2);
    assert!(list(&mut h, &["Dead"], &[]).is_empty());
    assert!(list(&mut h, &[], &["consumer"]).is_empty());
}

#[test]
fn delete_non_empty_group() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "live");
    h.call(Request::OffsetCommit(commit_req(
        "live",
        &a,
        1,
        &[("orders", 0, 1)],
    )));
    h.call(Request::OffsetCommit(commit_req(
        "idle",
        "",
        -1,
        &[("orders", 0, 1), ("orders", 1, 2)],
    )));
    let (id, out) = h.send(Request::Delete {
        groups: vec!["live".into(), "idle".into(), "ghost".into(), "idle".into()],
    });
    assert_eq!(
        response(&out, id),
        Some(Response::Delete {
            results: vec![
                ("live".into(), 68),
                ("idle".into(), 0),
                ("ghost".into(), 69),
                ("idle".into(), 69)
            ],
        })
    );
    let keys: Vec<_> = out
        .records
        .iter()
        .map(|r| (decode(r).0, r.value.is_none()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (
                RecordKey::OffsetCommit {
                    group: "idle".into(),
                    topic: "orders".into(),
                    partition: 0
                },
                true
            ),
            (
                RecordKey::OffsetCommit {
                    group: "idle".into(),
                    topic: "orders".into(),
                    partition: 1
                },
                true
            ),
            (
                RecordKey::GroupMetadata {
                    group: "idle".into()
                },
                true
            ),
        ]
    );
    assert!(out
        .records
        .iter()
        .all(|r| r.partition == h.coord.partition_for("idle")));
    assert!(h.coord.group("idle").is_none());
    assert!(h.coord.committed_offset("idle", "orders", 0).is_none());
    assert!(h.coord.committed_offset("live", "orders", 0).is_some());
}

#[test]
fn failed_append_turns_every_response_into_the_error() {
    let mut h = Harness::new();
    let (a, ja) = join_new(&mut h, "g", "ca");
    let (b, jb) = join_new(&mut h, "g", "cb");
    let outs = h.advance(10_000);
    let generation = join_result(response_in(&outs, ja)).generation_id;
    assert_eq!(
        join_result(response_in(&outs, jb)).generation_id,
        generation
    );
    let (sb, _) = h.send(Request::Sync(sync_req("g", &b, generation, &[])));
    let (sa, out) = h.send(Request::Sync(sync_req("g", &a, generation, &[(&b, "x")])));
    assert_eq!(out.records.len(), 1);
    let failed = out.with_error(15);
    assert!(failed.records.is_empty());
    assert_eq!(sync_result(response(&failed, sa)).error, 15);
    assert_eq!(sync_result(response(&failed, sb)), SyncResult::error(15));
    let commit = Response::OffsetCommit {
        partitions: vec![("t".into(), 0, 0), ("t".into(), 1, 12)],
    };
    assert_eq!(
        commit.with_error(15),
        Response::OffsetCommit {
            partitions: vec![("t".into(), 0, 15), ("t".into(), 1, 15)],
        }
    );
    let join = Response::Join(JoinResult::error(79, "m-1"));
    assert_eq!(
        join.with_error(15),
        Response::Join(JoinResult::error(15, "m-1"))
    );
}
