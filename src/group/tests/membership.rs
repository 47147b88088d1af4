//! SyncGroup, Heartbeat and LeaveGroup.

use bytes::Bytes;

use super::*;
use crate::group::GroupState;

#[test]
fn follower_sync_waits_for_the_leader() {
    let mut h = Harness::new();
    let (a, ja) = join_new(&mut h, "g", "ca");
    let (b, jb) = join_new(&mut h, "g", "cb");
    let outs = h.advance(10_000);
    let generation = join_result(response_in(&outs, ja)).generation_id;
    assert_eq!(
        join_result(response_in(&outs, jb)).generation_id,
        generation
    );
    let (sb, out) = h.send(Request::Sync(sync_req("g", &b, generation, &[])));
    assert!(response(&out, sb).is_none() && out.records.is_empty());
    // Followers may heartbeat while waiting.
    assert_eq!(
        h.call(heartbeat_req("g", &b, generation)),
        Response::Heartbeat { error: 0 }
    );
    // The leader leaves a member out: it gets an empty assignment.
    let (sa, out) = h.send(Request::Sync(sync_req(
        "g",
        &a,
        generation,
        &[(&a, "pa"), ("stranger", "x")],
    )));
    assert_eq!(
        sync_result(response(&out, sa)).assignment,
        Bytes::from("pa")
    );
    assert_eq!(sync_result(response(&out, sb)).assignment, Bytes::new());
    let g = group_records(&out);
    assert_eq!(g[0].members.len(), 2, "only members are written");
    // A late SyncGroup in Stable gets the stored assignment.
    let again = sync_result(Some(h.call(Request::Sync(sync_req(
        "g",
        &a,
        generation,
        &[],
    )))));
    assert_eq!((again.error, again.assignment), (0, Bytes::from("pa")));
}

#[test]
fn sync_errors() {
    let mut h = Harness::new();
    let (a, b, generation) = stable_group_of_two(&mut h, "g");
    let err = |h: &mut Harness, r: SyncGroup| sync_result(Some(h.call(Request::Sync(r)))).error;
    assert_eq!(err(&mut h, sync_req("", &a, generation, &[])), 24);
    assert_eq!(err(&mut h, sync_req("nope", &a, generation, &[])), 25);
    assert_eq!(err(&mut h, sync_req("g", "ghost", generation, &[])), 25);
    assert_eq!(err(&mut h, sync_req("g", &a, generation + 1, &[])), 22);
    let mut wrong_name = sync_req("g", &a, generation, &[]);
    wrong_name.protocol_name = Some("roundrobin".into());
    assert_eq!(err(&mut h, wrong_name), 23);
    let mut wrong_type = sync_req("g", &a, generation, &[]);
    wrong_type.protocol_type = Some("connect".into());
    assert_eq!(err(&mut h, wrong_type), 23);
    let mut unnamed = sync_req("g", &a, generation, &[]);
    unnamed.protocol_type = None;
    unnamed.protocol_name = None;
    assert_eq!(err(&mut h, unnamed), 0, "v0-4 do not send the protocol");
    h.send(Request::Join(join_req("g", &a, "ca")));
    assert_eq!(err(&mut h, sync_req("g", &b, generation, &[])), 27);
}

#[test]
fn sync_timeout_expels_members_that_never_synced() {
    let mut h = Harness::new();
    let (a, ja) = join_new(&mut h, "g", "ca");
    let (b, _) = join_new(&mut h, "g", "cb");
    let outs = h.advance(10_000);
    let generation = join_result(response_in(&outs, ja)).generation_id;
    let deadline = h.timer(&sync_key("g")).unwrap_or(0);
    let (sa, out) = h.send(Request::Sync(sync_req(
        "g",
        &a,
        generation,
        &[(&a, "pa"), (&b, "pb")],
    )));
    assert_eq!(sync_result(response(&out, sa)).error, 0);
    assert_eq!(
        h.timer(&sync_key("g")),
        Some(deadline),
        "b has not synced yet"
    );
    // Both heartbeat until the deadline, but b never syncs.
    while h.now + 5_000 < deadline {
        h.advance(5_000);
        h.call(heartbeat_req("g", &a, generation));
        h.call(heartbeat_req("g", &b, generation));
    }
    h.advance(deadline - h.now);
    let snap = h.coord.group("g").unwrap_or_else(|| panic!("group"));
    assert_eq!(snap.state, GroupState::PreparingRebalance);
    assert_eq!(
        snap.members
            .iter()
            .map(|m| m.member_id.as_str())
            .collect::<Vec<_>>(),
        vec![a.as_str()]
    );
    assert_eq!(h.timer(&session_key("g", &b)), None);
}

#[test]
fn heartbeat_errors_and_session_rearm() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "g");
    h.advance(1_000);
    assert_eq!(
        h.call(heartbeat_req("g", &a, 1)),
        Response::Heartbeat { error: 0 }
    );
    assert_eq!(
        h.timer(&session_key("g", &a)),
        Some(h.now + i64::from(SESSION_MS))
    );
    assert_eq!(
        h.call(heartbeat_req("g", &a, 0)),
        Response::Heartbeat { error: 22 }
    );
    assert_eq!(
        h.call(heartbeat_req("g", "ghost", 1)),
        Response::Heartbeat { error: 25 }
    );
    assert_eq!(
        h.call(heartbeat_req("nope", &a, 1)),
        Response::Heartbeat { error: 25 }
    );
    assert_eq!(
        h.call(heartbeat_req("", &a, 1)),
        Response::Heartbeat { error: 24 }
    );
    let fenced = Request::Heartbeat(Heartbeat {
        group_id: "g".into(),
        generation_id: 1,
        member_id: a.clone(),
        group_instance_id: Some("someone-else".into()),
    });
    assert_eq!(
        h.call(fenced),
        Response::Heartbeat { error: 25 },
        "unknown instance id"
    );
}

#[test]
fn leave_group_batch_by_member_and_instance_id() {
    let mut h = Harness::new();
    let (a, b, _) = stable_group_of_two(&mut h, "g");
    let r = h.call(leave_req(
        "g",
        &[
            (&a, None),
            ("ghost", None),
            ("", Some("i-unknown")),
            (&b, Some("i-b")),
        ],
    ));
    match r {
        Response::Leave(l) => {
            assert_eq!(l.error, 0);
            assert_eq!(
                l.members,
                vec![
                    (a.clone(), None, 0),
                    ("ghost".into(), None, 25),
                    (String::new(), Some("i-unknown".into()), 25),
                    (b.clone(), Some("i-b".into()), 25),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    // a left: the group rebalances around b.
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::PreparingRebalance)
    );
}

#[test]
fn leave_group_v0_reports_the_member_error_at_the_top() {
    let mut h = Harness::new();
    stable_group_of_one(&mut h, "g");
    let leave = |group: &str| {
        Request::Leave(LeaveGroup {
            group_id: group.into(),
            members: vec![("ghost".into(), None, None)],
            version: 0,
        })
    };
    for group in ["g", "missing"] {
        match h.call(leave(group)) {
            Response::Leave(l) => assert_eq!(l.error, 25, "{group}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn pending_member_can_leave() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "g");
    let r = join_result(Some(h.call(Request::Join(join_req("g", "", "c2")))));
    let (_, out) = h.send(leave_req("g", &[(&r.member_id, None)]));
    assert!(out.timers.contains(&TimerOp::Cancel {
        key: session_key("g", &r.member_id)
    }));
    // As in Kafka, a successful leave (even of a pending member) rebalances a Stable group.
    assert_eq!(
        h.call(heartbeat_req("g", &a, 1)),
        Response::Heartbeat { error: 27 }
    );
}
