//! Coordinator partitions: unloading one `__consumer_offsets` partition's groups when this
//! broker stops leading it, and loading them back from its records.

use super::*;
use crate::group::errors::NOT_COORDINATOR;
use crate::group::partition_for;

/// A group id (`<tag><n>`) stored in `__consumer_offsets` partition `partition` of 50.
fn group_in(partition: i32, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}{i}"))
        .find(|g| partition_for(g, 50) == partition)
        .unwrap_or_else(|| unreachable!())
}

fn groups_with_timers(h: &Harness) -> BTreeSet<String> {
    h.timers
        .keys()
        .filter_map(|k| match k {
            TimerKey::Session { group_id, .. }
            | TimerKey::Join { group_id }
            | TimerKey::Sync { group_id }
            | TimerKey::ConsumerSession { group_id, .. }
            | TimerKey::ConsumerRebalance { group_id, .. }
            | TimerKey::ShareSession { group_id } => Some(group_id.clone()),
            TimerKey::OffsetsExpiry => None,
        })
        .collect()
}

fn commit(h: &mut Harness, group: &str, member: &str, offset: i64) {
    let r = h.call(Request::OffsetCommit(commit_req(
        group,
        member,
        1,
        &[("orders", 0, offset)],
    )));
    assert_eq!(commit_errors(r), vec![("orders".into(), 0, 0)]);
}

#[test]
fn unloading_a_partition_forgets_its_groups_offsets_and_timers() {
    let mut h = Harness::new();
    let (a, b) = (group_in(3, "a"), group_in(4, "b"));
    let ma = stable_group_of_one(&mut h, &a);
    let mb = stable_group_of_one(&mut h, &b);
    commit(&mut h, &a, &ma, 11);
    commit(&mut h, &b, &mb, 22);
    assert_eq!(
        groups_with_timers(&h),
        BTreeSet::from([a.clone(), b.clone()])
    );
    let out = h.coord.unload_partition(3);
    h.apply(&out);
    assert!(out.records.is_empty(), "nothing is written on unload");
    assert!(out.responses.is_empty(), "no request was parked");
    assert_eq!(h.coord.group(&a), None);
    assert_eq!(h.coord.committed_offset(&a, "orders", 0), None);
    assert_eq!(groups_with_timers(&h), BTreeSet::from([b.clone()]));
    // The other partition's group is untouched.
    assert_eq!(h.coord.group_ids(), vec![b.clone()]);
    assert_eq!(
        h.coord.committed_offset(&b, "orders", 0).map(|o| o.offset),
        Some(22)
    );
    assert_eq!(
        h.timer(&session_key(&b, &mb)),
        Some(h.now + i64::from(SESSION_MS))
    );
    // Unloading a partition with no group here changes nothing.
    assert_eq!(h.coord.unload_partition(3), Outcome::default());
}

#[test]
fn unloading_answers_parked_joins_and_syncs_not_coordinator() {
    let mut h = Harness::new();
    let (g, g2) = (group_in(7, "g"), group_in(7, "h"));
    let (a, ja) = join_new(&mut h, &g, "ca");
    let (b, jb) = join_new(&mut h, &g, "cb");
    let outs = h.advance(i64::from(INITIAL_DELAY_MS) * 2);
    let generation = join_result(response_in(&outs, ja)).generation_id;
    assert_eq!(join_result(response_in(&outs, jb)).error, 0);
    // The follower's SyncGroup waits for the leader's assignment.
    let (sb, out) = h.send(Request::Sync(sync_req(&g, &b, generation, &[])));
    assert!(response(&out, sb).is_none());
    // A JoinGroup waits out the initial rebalance delay of another group.
    let (c, jc) = join_new(&mut h, &g2, "cc");
    let out = h.coord.unload_partition(7);
    h.apply(&out);
    let join = join_result(response(&out, jc));
    assert_eq!(
        (join.error, join.member_id.as_str()),
        (NOT_COORDINATOR, c.as_str())
    );
    assert_eq!(sync_result(response(&out, sb)).error, NOT_COORDINATOR);
    assert_eq!(out.responses.len(), 2);
    assert!(groups_with_timers(&h).is_empty(), "{:?}", h.timers);
    assert!(h.coord.group_ids().is_empty());
    // The leader's late SyncGroup finds no group (the runtime refuses it before this).
    let s = sync_result(Some(h.call(Request::Sync(sync_req(
        &g,
        &a,
        generation,
        &[],
    )))));
    assert_eq!(s.error, 25, "UNKNOWN_MEMBER_ID");
}

#[test]
fn reloading_a_partition_from_its_records_restores_its_groups() {
    let mut h = Harness::new();
    let (a, b) = (group_in(3, "a"), group_in(4, "b"));
    let ma = stable_group_of_one(&mut h, &a);
    let mb = stable_group_of_one(&mut h, &b);
    commit(&mut h, &a, &ma, 11);
    let before = h.coord.group(&a);
    let out = h.coord.unload_partition(3);
    h.apply(&out);
    h.now += 5_000;
    // Becoming leader again: the partition's records are replayed, then it is loaded.
    for r in h.log.clone().iter().filter(|r| r.partition == 3) {
        h.coord
            .replay(h.now, &r.key, r.value.as_deref())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = h.coord.partition_loaded(h.now, 3);
    h.apply(&out);
    assert_eq!(h.coord.group(&a), before);
    assert_eq!(
        h.coord.committed_offset(&a, "orders", 0).map(|o| o.offset),
        Some(11)
    );
    // Only the loaded partition's members get a fresh session timer.
    assert_eq!(
        out.timers,
        vec![TimerOp::Set {
            key: session_key(&a, &ma),
            deadline_ms: h.now + i64::from(SESSION_MS),
        }]
    );
    assert_eq!(h.coord.group_ids(), vec![a.clone(), b.clone()]);
    let hb = h.call(heartbeat_req(&b, &mb, 1));
    assert_eq!(hb, Response::Heartbeat { error: 0 });
}

#[test]
fn unloading_drops_pending_transactional_offsets_of_the_partition() {
    let mut h = Harness::new();
    let g = group_in(9, "t");
    let resp = h.call(Request::TxnOffsetCommit(TxnOffsetCommit {
        transactional_id: "tx".into(),
        group_id: g.clone(),
        producer_id: 77,
        producer_epoch: 0,
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        partitions: vec![CommitPartition {
            topic: "orders".into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: None,
        }],
    }));
    assert_eq!(
        resp,
        Response::TxnOffsetCommit {
            partitions: vec![("orders".into(), 0, 0)]
        }
    );
    let out = h.coord.unload_partition(9);
    h.apply(&out);
    // A commit marker reaching this broker now materializes nothing: the pending offsets
    // left with the partition (the new coordinator replays them from the log).
    h.coord.replay_marker(77, true, 9);
    assert_eq!(h.coord.committed_offset(&g, "orders", 0), None);
    assert!(h.coord.group_ids().is_empty());
}
