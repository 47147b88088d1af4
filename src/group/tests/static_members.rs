//! Static membership (KIP-345): members identified by group.instance.id.

use bytes::Bytes;

use super::*;
use crate::group::GroupState;

fn static_join(member_id: &str, instance: &str, version: i16) -> Request {
    let mut r = join_req("g", member_id, instance);
    r.group_instance_id = Some(instance.to_string());
    r.version = version;
    Request::Join(r)
}

fn static_sync(
    member_id: &str,
    instance: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> Request {
    let mut r = sync_req("g", member_id, generation, assignments);
    r.group_instance_id = Some(instance.to_string());
    Request::Sync(r)
}

fn static_heartbeat(member_id: &str, instance: &str, generation: i32) -> Request {
    Request::Heartbeat(Heartbeat {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member_id.to_string(),
        group_instance_id: Some(instance.to_string()),
    })
}

/// Static members i-a (leader) and i-b, Stable at generation 1 with assignments pa / pb.
fn stable_static_group(h: &mut Harness) -> (String, String) {
    let (ja, _) = h.send(static_join("", "i-a", 9));
    let (jb, _) = h.send(static_join("", "i-b", 9));
    let outs = h.advance(10_000);
    let a = join_result(response_in(&outs, ja)).member_id;
    let b = join_result(response_in(&outs, jb)).member_id;
    assert_eq!((a.as_str(), b.as_str()), ("i-a-1", "i-b-2"));
    h.send(static_sync(&b, "i-b", 1, &[]));
    let s = sync_result(Some(h.call(static_sync(
        &a,
        "i-a",
        1,
        &[(&a, "pa"), (&b, "pb")],
    ))));
    assert_eq!(s.error, 0);
    (a, b)
}

#[test]
fn static_member_restart_skips_rebalance_and_fences_the_old_id() {
    let mut h = Harness::new();
    let (a, b) = stable_static_group(&mut h);
    // The follower restarts: a new member id, the same generation, no rebalance.
    let (join, out) = h.send(static_join("", "i-b", 9));
    let r = join_result(response(&out, join));
    assert_eq!(
        r,
        JoinResult {
            error: 0,
            generation_id: 1,
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            leader: a.clone(),
            member_id: "i-b-3".into(),
            members: vec![],
            skip_assignment: false,
        }
    );
    let b2 = r.member_id;
    let g = group_records(&out);
    assert_eq!(g.len(), 1, "the new member id is persisted");
    let ids: Vec<_> = g[0].members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(ids, vec![a.as_str(), b2.as_str()]);
    assert_eq!(g[0].members[1].assignment, Bytes::from("pb"));
    assert!(out.timers.contains(&TimerOp::Cancel {
        key: session_key("g", &b)
    }));
    assert_eq!(h.timer(&join_key("g")), None);
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::Stable)
    );

    // The old id is fenced everywhere.
    assert_eq!(
        h.call(static_heartbeat(&b, "i-b", 1)),
        Response::Heartbeat { error: 82 }
    );
    assert_eq!(
        join_result(Some(h.call(static_join(&b, "i-b", 9)))).error,
        82
    );
    assert_eq!(
        sync_result(Some(h.call(static_sync(&b, "i-b", 1, &[])))).error,
        82
    );
    let commit = Request::OffsetCommit(OffsetCommit {
        group_instance_id: Some("i-b".into()),
        ..commit_req("g", &b, 1, &[("orders", 0, 5)])
    });
    assert_eq!(
        commit_errors(h.call(commit)),
        vec![("orders".into(), 0, 82)]
    );

    // The new id syncs and gets the stored assignment.
    let s = sync_result(Some(h.call(static_sync(&b2, "i-b", 1, &[]))));
    assert_eq!((s.error, s.assignment), (0, Bytes::from("pb")));
    assert_eq!(
        h.call(static_heartbeat(&a, "i-a", 1)),
        Response::Heartbeat { error: 0 }
    );
}

#[test]
fn static_leader_restart_gets_members_and_skips_assignment() {
    let mut h = Harness::new();
    let (a, b) = stable_static_group(&mut h);
    let (join, out) = h.send(static_join("", "i-a", 9));
    let r = join_result(response(&out, join));
    let a2 = r.member_id.clone();
    assert_eq!(
        (r.leader.as_str(), r.skip_assignment, r.generation_id),
        (a2.as_str(), true, 1)
    );
    let members: Vec<_> = r.members.iter().map(|m| m.member_id.clone()).collect();
    assert_eq!(members, vec![a2.clone(), b]);
    assert!(out.timers.contains(&TimerOp::Cancel {
        key: session_key("g", &a)
    }));

    // An older client (JoinGroup < v9) is told the previous leader id, so it just syncs.
    let (join, out) = h.send(static_join("", "i-a", 8));
    let r = join_result(response(&out, join));
    assert_eq!(
        (r.leader.as_str(), r.skip_assignment, r.members.len()),
        (a2.as_str(), false, 0)
    );
    assert_ne!(r.member_id, a2);
    assert_eq!(
        h.coord.group("g").and_then(|g| g.leader_id),
        Some(r.member_id)
    );
}

#[test]
fn static_member_restart_with_a_new_preferred_protocol_rebalances() {
    let mut h = Harness::new();
    let both = vec![
        ("range".to_string(), Bytes::from("r")),
        ("sticky".to_string(), Bytes::from("s")),
    ];
    let mut first = join_req("g", "", "i-a");
    first.group_instance_id = Some("i-a".into());
    first.protocols = both.clone();
    let (j, _) = h.send(Request::Join(first.clone()));
    let outs = h.advance(10_000);
    let a = join_result(response_in(&outs, j)).member_id;
    h.call(static_sync(&a, "i-a", 1, &[(&a, "x")]));
    let mut again = first;
    again.protocols = both.into_iter().rev().collect();
    let (j, out) = h.send(Request::Join(again));
    let r = join_result(response(&out, j));
    assert_eq!(
        (r.generation_id, r.protocol_name.as_deref()),
        (2, Some("sticky"))
    );
}

#[test]
fn static_member_rejoining_while_completing_rebalance_restarts_it() {
    let mut h = Harness::new();
    h.send(static_join("", "i-a", 9));
    let (jb, _) = h.send(static_join("", "i-b", 9));
    let outs = h.advance(10_000);
    let b = join_result(response_in(&outs, jb)).member_id;
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::CompletingRebalance)
    );
    let (sb, _) = h.send(static_sync(&b, "i-b", 1, &[]));
    // The leader restarts before sending the assignment.
    let (ja2, out) = h.send(static_join("", "i-a", 9));
    // b was waiting for the assignment; it has to rejoin instead.
    assert_eq!(sync_result(response(&out, sb)).error, 27);
    assert!(response(&out, ja2).is_none());
    assert_eq!(
        h.coord.group("g").map(|g| g.state),
        Some(GroupState::PreparingRebalance)
    );
    let (jb2, out) = h.send(static_join(&b, "i-b", 9));
    let ra = join_result(response(&out, ja2));
    let rb = join_result(response(&out, jb2));
    assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
    assert_eq!(ra.leader, ra.member_id);
}

#[test]
fn static_member_that_misses_a_rebalance_keeps_its_membership() {
    let mut h = Harness::new();
    let (a, b) = stable_static_group(&mut h);
    let (ja, _) = h.send(static_join(&a, "i-a", 9));
    let deadline = h.timer(&join_key("g")).unwrap_or(0);
    let mut answer = None;
    while h.now < deadline {
        let outs = h.advance(5_000);
        answer = answer.or(response_in(&outs, ja));
        if h.now < deadline {
            h.call(static_heartbeat(&b, "i-b", 1));
        }
    }
    let ra = join_result(answer);
    assert_eq!(ra.generation_id, 2);
    assert_eq!(
        ra.members.len(),
        2,
        "the static member stays without rejoining"
    );
    assert_eq!(
        h.call(static_heartbeat(&b, "i-b", 1)),
        Response::Heartbeat { error: 22 }
    );
    // It rejoins with its id and gets the current generation.
    let rb = join_result(Some(h.call(static_join(&b, "i-b", 9))));
    assert_eq!((rb.error, rb.generation_id), (0, 2));
}

#[test]
fn leave_by_group_instance_id_removes_the_static_member() {
    let mut h = Harness::new();
    let (a, b) = stable_static_group(&mut h);
    match h.call(leave_req("g", &[("", Some("i-b"))])) {
        Response::Leave(l) => assert_eq!(l.members, vec![(String::new(), Some("i-b".into()), 0)]),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.timer(&session_key("g", &b)), None);
    let (j, out) = h.send(static_join(&a, "i-a", 9));
    let r = join_result(response(&out, j));
    assert_eq!((r.generation_id, r.members.len()), (2, 1));
}
