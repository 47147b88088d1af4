//! The join phase: new groups, the initial delay, rebalances, timeouts, join errors.

use bytes::Bytes;

use super::*;
use crate::group::records::MemberMetadata;
use crate::group::GroupState;

#[test]
fn member_joins_empty_group() {
    let mut h = Harness::new();
    let t0 = h.now;
    let (first, out) = h.send(Request::Join(join_req("g", "", "c1")));
    let r = join_result(response(&out, first));
    assert_eq!(
        (r.error, r.member_id.as_str(), r.generation_id),
        (79, "c1-1", -1)
    );
    // The new group is committed with an empty GroupMetadata record.
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].partition, h.coord.partition_for("g"));
    assert_eq!(
        group_records(&out),
        vec![GroupMetadataValue {
            protocol_type: String::new(),
            generation: 0,
            protocol: None,
            leader: None,
            current_state_timestamp: t0,
            members: vec![],
        }]
    );
    // The pending member has one session timeout to come back.
    assert_eq!(
        h.timer(&session_key("g", "c1-1")),
        Some(t0 + i64::from(SESSION_MS))
    );

    let (join, out) = h.send(Request::Join(join_req("g", "c1-1", "c1")));
    assert!(response(&out, join).is_none() && out.records.is_empty());
    assert_eq!(
        h.timer(&join_key("g")),
        Some(t0 + i64::from(INITIAL_DELAY_MS))
    );
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::PreparingRebalance)
    );

    assert!(response_in(&h.advance(i64::from(INITIAL_DELAY_MS) - 1), join).is_none());
    let outs = h.advance(1);
    let t1 = h.now;
    assert_eq!(
        join_result(response_in(&outs, join)),
        JoinResult {
            error: 0,
            generation_id: 1,
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            leader: "c1-1".into(),
            member_id: "c1-1".into(),
            members: vec![JoinMember {
                member_id: "c1-1".into(),
                group_instance_id: None,
                metadata: subscription(&["orders"]),
            }],
            skip_assignment: false,
        }
    );
    assert_eq!(h.timer(&sync_key("g")), Some(t1 + i64::from(REBALANCE_MS)));
    assert_eq!(
        h.timer(&session_key("g", "c1-1")),
        Some(t1 + i64::from(SESSION_MS))
    );
    assert_eq!(h.timer(&join_key("g")), None);

    leader_sync_makes_the_group_stable(&mut h, t1);
}

/// The single member's SyncGroup stores its assignment and stabilizes the group.
fn leader_sync_makes_the_group_stable(h: &mut Harness, t1: i64) {
    let (sync, out) = h.send(Request::Sync(sync_req("g", "c1-1", 1, &[("c1-1", "a1")])));
    assert_eq!(
        sync_result(response(&out, sync)),
        SyncResult {
            error: 0,
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignment: Bytes::from("a1"),
        }
    );
    assert_eq!(
        group_records(&out),
        vec![GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 1,
            protocol: Some("range".into()),
            leader: Some("c1-1".into()),
            current_state_timestamp: t1,
            members: vec![MemberMetadata {
                member_id: "c1-1".into(),
                group_instance_id: None,
                client_id: "c1".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout: REBALANCE_MS,
                session_timeout: SESSION_MS,
                subscription: subscription(&["orders"]),
                assignment: Bytes::from("a1"),
            }],
        }]
    );
    assert_eq!(h.timer(&sync_key("g")), None);
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::Stable)
    );
}

#[test]
fn initial_rebalance_delay_extends_for_new_members_up_to_the_rebalance_timeout() {
    let mut h = Harness::new();
    let t0 = h.now;
    let old_join = |client: &str| {
        let mut r = join_req("g", "", client);
        r.version = 3; // before KIP-394: no MEMBER_ID_REQUIRED round trip
        r.rebalance_timeout_ms = 7_000;
        Request::Join(r)
    };
    let (a, _) = h.send(old_join("a"));
    assert_eq!(h.timer(&join_key("g")), Some(t0 + 3_000));
    h.advance(1_000);
    let (b, _) = h.send(old_join("b"));
    let outs = h.advance(2_000);
    assert!(
        response_in(&outs, a).is_none(),
        "a new member extends the delay"
    );
    assert_eq!(h.timer(&join_key("g")), Some(t0 + 6_000));
    h.advance(1_000);
    let (c, _) = h.send(old_join("c"));
    h.advance(2_000);
    // Only 1 s of the 7 s rebalance timeout is left.
    assert_eq!(h.timer(&join_key("g")), Some(t0 + 7_000));
    h.advance(500);
    let (d, _) = h.send(old_join("d"));
    let outs = h.advance(500);
    for id in [a, b, c, d] {
        let r = join_result(response_in(&outs, id));
        assert_eq!((r.error, r.generation_id), (0, 1));
    }
    let leader = join_result(response_in(&outs, a));
    assert_eq!(
        (leader.member_id.as_str(), leader.members.len()),
        ("a-1", 4)
    );
}

#[test]
fn second_member_triggers_rebalance() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "g");
    let (b, join_b) = join_new(&mut h, "g", "c2");
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::PreparingRebalance)
    );
    assert_eq!(
        h.timer(&join_key("g")),
        Some(h.now + i64::from(REBALANCE_MS))
    );
    let hb = h.call(heartbeat_req("g", &a, 1));
    assert_eq!(hb, Response::Heartbeat { error: 27 });

    let (join_a, out) = h.send(Request::Join(join_req("g", &a, "c1")));
    let ra = join_result(response(&out, join_a));
    let rb = join_result(response(&out, join_b));
    assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
    assert_eq!(
        (ra.leader.as_str(), rb.leader.as_str()),
        (a.as_str(), a.as_str())
    );
    assert_eq!(ra.members.len(), 2);
    assert!(rb.members.is_empty(), "followers get no metadata");
    assert_eq!(h.timer(&join_key("g")), None);

    let (sb, _) = h.send(Request::Sync(sync_req("g", &b, 2, &[])));
    let (sa, out) = h.send(Request::Sync(sync_req("g", &a, 2, &[(&a, "x"), (&b, "y")])));
    assert_eq!(sync_result(response(&out, sb)).assignment, Bytes::from("y"));
    assert_eq!(sync_result(response(&out, sa)).assignment, Bytes::from("x"));
    let g = group_records(&out);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].generation, 2);
    let assignments: Vec<_> = g[0]
        .members
        .iter()
        .map(|m| (m.member_id.clone(), m.assignment.clone()))
        .collect();
    assert_eq!(
        assignments,
        vec![(a, Bytes::from("x")), (b, Bytes::from("y"))]
    );
}

#[test]
fn session_timeout_expels_a_member() {
    let mut h = Harness::new();
    let (a, b, generation) = stable_group_of_two(&mut h, "g");
    let deadline_b = h.timer(&session_key("g", &b)).unwrap_or(0);
    // a keeps heartbeating, b is silent.
    for _ in 0..2 {
        h.advance(4_000);
        assert_eq!(
            h.call(heartbeat_req("g", &a, generation)),
            Response::Heartbeat { error: 0 }
        );
    }
    h.advance(4_000);
    assert!(h.now > deadline_b);
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::PreparingRebalance)
    );
    assert_eq!(h.timer(&session_key("g", &b)), None);
    assert_eq!(
        h.call(heartbeat_req("g", &b, generation)),
        Response::Heartbeat { error: 25 }
    );
    assert_eq!(
        h.call(heartbeat_req("g", &a, generation)),
        Response::Heartbeat { error: 27 }
    );

    let (join_a, out) = h.send(Request::Join(join_req("g", &a, "ca")));
    let ra = join_result(response(&out, join_a));
    assert_eq!((ra.generation_id, ra.members.len()), (generation + 1, 1));
}

#[test]
fn rebalance_timeout_removes_members_that_did_not_rejoin() {
    let mut h = Harness::new();
    let (a, b, generation) = stable_group_of_two(&mut h, "g");
    let mut changed = join_req("g", &a, "ca");
    changed.protocols = vec![("range".into(), subscription(&["orders", "payments"]))];
    let (join_a, _) = h.send(Request::Join(changed));
    let deadline = h.timer(&join_key("g")).unwrap_or(0);
    assert_eq!(deadline, h.now + i64::from(REBALANCE_MS));
    // b heartbeats (and is told to rejoin) but never does.
    let mut answer = None;
    while h.now < deadline {
        let outs = h.advance(5_000);
        answer = answer.or(response_in(&outs, join_a));
        if h.now < deadline {
            assert_eq!(
                h.call(heartbeat_req("g", &b, generation)),
                Response::Heartbeat { error: 27 }
            );
        }
    }
    let ra = join_result(answer);
    assert_eq!((ra.error, ra.generation_id), (0, generation + 1));
    assert_eq!(
        ra.members
            .iter()
            .map(|m| m.member_id.as_str())
            .collect::<Vec<_>>(),
        vec![a.as_str()]
    );
    assert_eq!(h.timer(&session_key("g", &b)), None);
    assert_eq!(
        h.call(heartbeat_req("g", &b, generation)),
        Response::Heartbeat { error: 25 }
    );
}

#[test]
fn leader_leaves_mid_rebalance() {
    let mut h = Harness::new();
    let (a, b, generation) = stable_group_of_two(&mut h, "g");
    // The leader rejoins (forcing a rebalance), then leaves before b rejoined.
    let (join_a, out) = h.send(Request::Join(join_req("g", &a, "ca")));
    assert!(response(&out, join_a).is_none());
    let (leave, out) = h.send(leave_req("g", &[(&a, None)]));
    assert_eq!(
        join_result(response(&out, join_a)),
        JoinResult::error(25, ""),
        "the leaving leader's parked join is answered"
    );
    match response(&out, leave) {
        Some(Response::Leave(l)) => assert_eq!(l.members, vec![(a.clone(), None, 0)]),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.timer(&session_key("g", &a)), None);
    let (join_b, out) = h.send(Request::Join(join_req("g", &b, "cb")));
    let rb = join_result(response(&out, join_b));
    assert_eq!(
        (rb.generation_id, rb.leader.as_str()),
        (generation + 1, b.as_str())
    );
    assert_eq!(rb.members.len(), 1);
}

#[test]
fn last_member_leaving_empties_the_group_and_records_it() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "g");
    let (_, out) = h.send(leave_req("g", &[(&a, None)]));
    let g = group_records(&out);
    assert_eq!(g.len(), 1);
    assert_eq!(
        (
            g[0].generation,
            g[0].protocol.as_deref(),
            g[0].members.len()
        ),
        (2, None, 0)
    );
    assert_eq!(g[0].protocol_type, "consumer");
    let snap = h.coord.group("g").unwrap_or_else(|| panic!("group"));
    assert_eq!(
        (snap.state, snap.generation_id, snap.leader_id),
        (GroupState::Empty, 2, None)
    );
}

#[test]
fn pending_member_that_never_returns_is_forgotten() {
    let mut h = Harness::new();
    let r = join_result(Some(h.call(Request::Join(join_req("g", "", "c1")))));
    assert_eq!(r.error, 79);
    h.advance(i64::from(SESSION_MS));
    let late = join_result(Some(h.call(Request::Join(join_req(
        "g",
        &r.member_id,
        "c1",
    )))));
    assert_eq!(late.error, 25);
}

#[test]
fn join_errors() {
    let mut h = Harness::new();
    let a = stable_group_of_one(&mut h, "g");
    let err = |h: &mut Harness, r: JoinGroup| join_result(Some(h.call(Request::Join(r)))).error;
    assert_eq!(err(&mut h, join_req("", "", "c")), 24);
    let mut short = join_req("g", "", "c");
    short.session_timeout_ms = 5_999;
    assert_eq!(err(&mut h, short), 26);
    let mut long = join_req("g", "", "c");
    long.session_timeout_ms = 1_800_001;
    assert_eq!(err(&mut h, long), 26);
    let mut other_type = join_req("g", "", "c");
    other_type.protocol_type = "connect".into();
    assert_eq!(err(&mut h, other_type), 23);
    let mut no_common = join_req("g", "", "c");
    no_common.protocols = vec![("roundrobin".into(), Bytes::new())];
    assert_eq!(err(&mut h, no_common), 23);
    let mut existing_changes_type = join_req("g", &a, "c1");
    existing_changes_type.protocol_type = "connect".into();
    assert_eq!(err(&mut h, existing_changes_type), 23);
    assert_eq!(err(&mut h, join_req("g", "ghost", "c")), 25);
    assert_eq!(err(&mut h, join_req("missing", "ghost", "c")), 25);
    let mut untyped = join_req("fresh", "", "c");
    untyped.protocol_type = String::new();
    assert_eq!(err(&mut h, untyped), 23);
    let mut huge = join_req("g", "", "c");
    huge.client_id = "x".repeat(40_000);
    assert_eq!(err(&mut h, huge), 42, "strings a record cannot hold");
    // None of it disturbed the group.
    assert_eq!(
        h.call(heartbeat_req("g", &a, 1)),
        Response::Heartbeat { error: 0 }
    );
}

#[test]
fn group_max_size_reached() {
    let mut h = Harness::with_config(GroupConfig {
        max_size: 1,
        ..config()
    });
    stable_group_of_one(&mut h, "g");
    let r = join_result(Some(h.call(Request::Join(join_req("g", "", "c2")))));
    assert_eq!((r.error, r.member_id.as_str()), (81, ""));
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::Stable)
    );
}

#[test]
fn protocol_is_chosen_by_vote() {
    let mut h = Harness::new();
    let with = |client: &str, protocols: &[&str]| {
        let mut r = join_req("g", "", client);
        r.version = 3;
        r.protocols = protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("{client}:{p}"))))
            .collect();
        Request::Join(r)
    };
    let (a, _) = h.send(with("a", &["roundrobin", "range", "sticky"]));
    h.send(with("b", &["range", "roundrobin"]));
    h.send(with("c", &["range", "sticky", "roundrobin"]));
    let outs = h.advance(10_000);
    let ra = join_result(response_in(&outs, a));
    assert_eq!(
        ra.protocol_name.as_deref(),
        Some("range"),
        "2 votes against 1"
    );
    let metadata: Vec<_> = ra.members.iter().map(|m| m.metadata.clone()).collect();
    assert_eq!(
        metadata,
        vec![
            Bytes::from("a:range"),
            Bytes::from("b:range"),
            Bytes::from("c:range")
        ]
    );
}

#[test]
fn a_repeated_join_answers_the_displaced_one() {
    let mut h = Harness::new();
    let (a, _b, _) = stable_group_of_two(&mut h, "g");
    let (first, _) = h.send(Request::Join(join_req("g", &a, "ca")));
    let (second, out) = h.send(Request::Join(join_req("g", &a, "ca")));
    assert_eq!(join_result(response(&out, first)).error, 27);
    assert!(response(&out, second).is_none());
}

#[test]
fn consecutive_rebalances_keep_relaying_metadata() {
    // Cooperative rebalancing: members rejoin again right after a generation completes.
    let mut h = Harness::new();
    let (a, b, mut generation) = stable_group_of_two(&mut h, "g");
    for round in 0..3 {
        let mut ja = join_req("g", &a, "ca");
        ja.protocols = vec![("range".into(), Bytes::from(format!("a-round-{round}")))];
        let (join_a, _) = h.send(Request::Join(ja));
        let (join_b, out) = h.send(Request::Join(join_req("g", &b, "cb")));
        let ra = join_result(response(&out, join_a));
        assert_eq!(
            join_result(response(&out, join_b)).generation_id,
            generation + 1
        );
        generation += 1;
        assert_eq!(ra.generation_id, generation);
        assert_eq!(
            ra.members[0].metadata,
            Bytes::from(format!("a-round-{round}"))
        );
        let (sb, _) = h.send(Request::Sync(sync_req("g", &b, generation, &[])));
        let assignment = format!("b-{round}");
        let (_, out) = h.send(Request::Sync(sync_req(
            "g",
            &a,
            generation,
            &[(&b, &assignment)],
        )));
        assert_eq!(
            sync_result(response(&out, sb)).assignment,
            Bytes::from(assignment)
        );
        assert_eq!(group_records(&out)[0].generation, generation);
    }
}
