//! Restart: replaying the emitted records into a fresh coordinator, and isolation between
//! groups rebalancing at the same time.

use bytes::Bytes;

use super::*;
use crate::group::GroupState;

#[test]
fn replay_of_emitted_records_reproduces_groups_and_offsets() {
    let mut h = Harness::new();
    let (a, generation, s) = mixed_groups(&mut h);
    let fresh = h.replayed();
    assert_eq!(fresh.group_ids(), h.coord.group_ids());
    assert_eq!(
        fresh.group_ids(),
        vec!["emptied", "simple", "static", "two"]
    );
    for id in h.coord.group_ids() {
        let live = h.coord.group(&id);
        assert_eq!(fresh.group(&id), live, "group {id}");
    }
    let two = fresh.group("two").unwrap_or_else(|| panic!("two"));
    assert_eq!(
        (two.state, two.generation_id, two.leader_id.as_deref()),
        (GroupState::Stable, generation, Some(a.as_str()))
    );
    assert_eq!(
        two.members
            .iter()
            .map(|m| m.assignment.clone())
            .collect::<Vec<_>>(),
        vec![Bytes::from("pa"), Bytes::from("pb")]
    );
    let st = fresh.group("static").unwrap_or_else(|| panic!("static"));
    assert_ne!(
        st.members[0].member_id, s,
        "the replaced member id was persisted"
    );
    assert_eq!(st.members[0].assignment, Bytes::from("only"));
    assert_eq!(fresh.num_offsets(), h.coord.num_offsets());
    for (g, t, p) in [
        ("two", "orders", 0),
        ("two", "orders", 1),
        ("simple", "t", 3),
        ("simple", "t", 4),
    ] {
        assert_eq!(
            fresh.committed_offset(g, t, p),
            h.coord.committed_offset(g, t, p),
            "{g} {t} {p}"
        );
    }
    assert_eq!(
        fresh.committed_offset("two", "orders", 1).map(|o| o.offset),
        Some(12)
    );
}

/// Groups in several shapes, with offsets: a Stable pair ("two"), a restarted static member
/// ("static"), an emptied consumer group, a deleted one, and a simple group ("simple").
/// Returns the pair's leader and generation and the static member's first id.
fn mixed_groups(h: &mut Harness) -> (String, i32, String) {
    let emptied = stable_group_of_one(h, "emptied");
    h.call(leave_req("emptied", &[(&emptied, None)]));
    let deleted = stable_group_of_one(h, "deleted");
    h.call(leave_req("deleted", &[(&deleted, None)]));
    h.call(Request::Delete {
        groups: vec!["deleted".into()],
    });
    let mut static_req = join_req("static", "", "i-s");
    static_req.group_instance_id = Some("i-s".into());
    let (js, _) = h.send(Request::Join(static_req.clone()));
    let outs = h.advance(5_000);
    let s = join_result(response_in(&outs, js)).member_id;
    let mut sync = sync_req("static", &s, 1, &[(&s, "only")]);
    sync.group_instance_id = Some("i-s".into());
    h.call(Request::Sync(sync));
    // A static restart replaces the member id without a rebalance.
    h.call(Request::Join(static_req));
    // Built last: no later clock advance expires its sessions.
    let (a, b, generation) = stable_group_of_two(h, "two");
    h.call(Request::OffsetCommit(commit_req(
        "two",
        &a,
        generation,
        &[("orders", 0, 10), ("orders", 1, 11)],
    )));
    h.call(Request::OffsetCommit(commit_req(
        "two",
        &b,
        generation,
        &[("orders", 1, 12)],
    )));
    h.call(Request::OffsetCommit(commit_req(
        "simple",
        "",
        -1,
        &[("t", 3, 30)],
    )));
    h.call(Request::OffsetDelete {
        group_id: "simple".into(),
        partitions: vec![("t".into(), 3)],
    });
    h.call(Request::OffsetCommit(commit_req(
        "simple",
        "",
        -1,
        &[("t", 4, 40)],
    )));

    (a, generation, s)
}

#[test]
fn restarted_coordinator_serves_loaded_members() {
    let mut h = Harness::new();
    let (a, b, generation) = stable_group_of_two(&mut h, "g");
    let log = h.log.clone();
    let mut r = Harness::new();
    r.now = h.now + 1_000;
    for rec in &log {
        r.coord
            .replay(r.now, &rec.key, rec.value.as_deref())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = r.coord.loaded(r.now);
    r.apply(&out);
    assert_eq!(
        r.timer(&session_key("g", &a)),
        Some(r.now + i64::from(SESSION_MS))
    );
    assert_eq!(r.timer(&TimerKey::OffsetsExpiry), Some(r.now + 600_000));
    // a heartbeats and keeps its assignment; b never comes back and is expelled.
    assert_eq!(
        r.call(heartbeat_req("g", &a, generation)),
        Response::Heartbeat { error: 0 }
    );
    let s = sync_result(Some(r.call(Request::Sync(sync_req(
        "g",
        &a,
        generation,
        &[],
    )))));
    assert_eq!(s.assignment, Bytes::from("pa"));
    r.advance(5_000);
    assert_eq!(
        r.call(heartbeat_req("g", &a, generation)),
        Response::Heartbeat { error: 0 }
    );
    r.advance(5_000);
    assert_eq!(
        r.call(heartbeat_req("g", &b, generation)),
        Response::Heartbeat { error: 25 }
    );
    assert_eq!(
        r.call(heartbeat_req("g", &a, generation)),
        Response::Heartbeat { error: 27 }
    );
}

#[test]
fn replay_rejects_malformed_records_without_changing_state() {
    let mut h = Harness::new();
    let bad_key = [0u8, 9, 0, 1, b'g'];
    assert!(h.coord.replay(h.now, &bad_key, None).is_err());
    let key = RecordKey::GroupMetadata { group: "g".into() }.encode();
    assert!(h.coord.replay(h.now, &key, Some(&[0, 3, 0])).is_err());
    let key = RecordKey::OffsetCommit {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
    }
    .encode();
    assert!(h.coord.replay(h.now, &key, Some(&[0, 7])).is_err());
    assert!(h.coord.group_ids().is_empty());
}

#[test]
fn twenty_groups_rebalance_at_once_without_cross_talk() {
    let mut h = Harness::new();
    let groups: Vec<String> = (0..20).map(|i| format!("group-{i}")).collect();
    // Three members per group, interleaved across groups.
    let mut parked = Vec::new();
    for client in ["x", "y", "z"] {
        for g in &groups {
            let (m, join) = join_new(&mut h, g, &format!("{g}-{client}"));
            parked.push((g.clone(), m, join));
        }
    }
    let outs = h.advance(10_000);
    let mut leaders = BTreeMap::new();
    for (g, m, join) in &parked {
        let r = join_result(response_in(&outs, *join));
        assert_eq!(
            (r.error, r.generation_id, r.member_id.as_str()),
            (0, 1, m.as_str())
        );
        let expected: BTreeSet<_> = parked
            .iter()
            .filter(|p| &p.0 == g)
            .map(|p| p.1.clone())
            .collect();
        assert!(expected.contains(&r.leader), "{g}: leader {}", r.leader);
        if r.leader == *m {
            let ids: BTreeSet<_> = r.members.iter().map(|x| x.member_id.clone()).collect();
            assert_eq!(ids, expected, "{g} leader sees exactly its members");
            leaders.insert(g.clone(), m.clone());
        }
    }
    assert_eq!(leaders.len(), 20);
    sync_all(&mut h, &parked, &leaders);
    // A member id of one group is unknown in every other.
    let (_, someone, _) = &parked[0];
    assert_eq!(
        h.call(heartbeat_req("group-1", someone, 1)),
        Response::Heartbeat { error: 25 }
    );
    for g in &groups {
        assert_eq!(h.coord.group(g).map(|s| s.state), Some(GroupState::Stable));
    }
}

/// Followers sync first (and wait), then every leader; each leader's SyncGroup answers
/// exactly its own group's followers and writes one record to its group's partition.
fn sync_all(
    h: &mut Harness,
    parked: &[(String, String, RequestId)],
    leaders: &BTreeMap<String, String>,
) {
    let mut waiting = Vec::new();
    for (g, m, _) in parked {
        if leaders.get(g) != Some(m) {
            let (id, out) = h.send(Request::Sync(sync_req(g, m, 1, &[])));
            assert!(response(&out, id).is_none());
            waiting.push((g.clone(), m.clone(), id));
        }
    }
    for (g, leader) in leaders {
        let members: Vec<String> = parked
            .iter()
            .filter(|p| &p.0 == g)
            .map(|p| p.1.clone())
            .collect();
        let assignment: Vec<(String, String)> = members
            .iter()
            .map(|m| (m.clone(), format!("for-{m}")))
            .collect();
        let pairs: Vec<(&str, &str)> = assignment
            .iter()
            .map(|(m, a)| (m.as_str(), a.as_str()))
            .collect();
        let (_, out) = h.send(Request::Sync(sync_req(g, leader, 1, &pairs)));
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.records[0].partition, h.coord.partition_for(g));
        let answered: Vec<_> = out.responses.iter().map(|(id, _)| *id).collect();
        let expected: Vec<_> = waiting.iter().filter(|w| &w.0 == g).map(|w| w.2).collect();
        assert!(expected.iter().all(|id| answered.contains(id)), "{g}");
        assert_eq!(
            answered.len(),
            expected.len() + 1,
            "{g}: no other group's syncs"
        );
        for (id, resp) in &out.responses {
            if let Some((_, m, _)) = waiting.iter().find(|w| w.2 == *id) {
                assert_eq!(
                    sync_result(Some(resp.clone())).assignment,
                    Bytes::from(format!("for-{m}"))
                );
            }
        }
    }
}
