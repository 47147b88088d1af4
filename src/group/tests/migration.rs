//! Online migration between classic and consumer groups (KIP-848): upgrade on a
//! ConsumerGroupHeartbeat, classic members served inside a consumer group, downgrade when
//! the last consumer-protocol member leaves, the migration policy, and restart replay in the
//! middle of a migration.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition;
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::{Encodable, StrBytes};
use uuid::Uuid;

use super::*;
use crate::group::consumer::records::{ClassicMemberMetadata, MemberMetadataValue};
use crate::group::consumer::{decode_assignment, encode_assignment, MemberState};
use crate::group::state::GroupState;

const T: u8 = 1;

fn tid(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn image() -> Arc<TopicsImage> {
    Arc::new(TopicsImage {
        by_name: [(
            "orders".to_string(),
            TopicInfo {
                id: tid(T),
                partitions: 4,
                internal: false,
            },
        )]
        .into(),
    })
}

/// ConsumerProtocolSubscription v1 for "orders", reporting `owned` partitions of it.
fn sub_owning(owned: &[i32]) -> Bytes {
    let mut sub = ConsumerProtocolSubscription::default()
        .with_topics(vec![StrBytes::from_static_str("orders")]);
    if !owned.is_empty() {
        sub = sub.with_owned_partitions(vec![TopicPartition::default()
            .with_topic(StrBytes::from_static_str("orders").into())
            .with_partitions(owned.to_vec())]);
    }
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    sub.encode(&mut buf, 1).expect("encode subscription");
    buf.freeze()
}

fn orders(parts: &[i32]) -> Bytes {
    encode_assignment(1, &[("orders".to_string(), parts.to_vec())])
}

/// The partitions of "orders" in a ConsumerProtocolAssignment.
fn decoded(bytes: &Bytes) -> Vec<i32> {
    decode_assignment(bytes)
        .expect("assignment decodes")
        .into_iter()
        .filter(|(t, _)| t == "orders")
        .flat_map(|(_, ps)| ps)
        .collect()
}

fn classic_join(group: &str, member: &str, owned: &[i32]) -> JoinGroup {
    JoinGroup {
        protocols: vec![("range".to_string(), sub_owning(owned))],
        ..join_req(group, member, "classic")
    }
}

/// A Stable classic group "g" of two members owning `pa` and `pb` of "orders"
/// (generation 1); returns (a, b).
fn classic_pair(h: &mut Harness, pa: &[i32], pb: &[i32]) -> (String, String) {
    let (a, ja) = join_new(h, "g", "ca");
    let (b, jb) = join_new(h, "g", "cb");
    let outs = h.advance(i64::from(INITIAL_DELAY_MS) * 2);
    let ra = join_result(response_in(&outs, ja));
    let rb = join_result(response_in(&outs, jb));
    assert_eq!((ra.error, rb.error, ra.generation_id), (0, 0, 1));
    let (sb, _) = h.send(Request::Sync(sync_req("g", &b, 1, &[])));
    let mut sync = sync_req("g", &a, 1, &[]);
    sync.assignments = vec![(a.clone(), orders(pa)), (b.clone(), orders(pb))];
    let (sa, out) = h.send(Request::Sync(sync));
    assert_eq!(sync_result(response(&out, sa)).error, 0);
    assert_eq!(decoded(&sync_result(response(&out, sb)).assignment), pb);
    (a, b)
}

fn chb(h: &mut Harness, r: ConsumerHeartbeat) -> ConsumerHeartbeatResult {
    match h.call(Request::ConsumerHeartbeat(Box::new(r))) {
        Response::ConsumerHeartbeat(r) => r,
        other => panic!("not a heartbeat answer: {other:?}"),
    }
}

fn hb(member: &str, epoch: i32, owned: Option<&[i32]>) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: -1,
        subscribed_topic_names: None,
        subscribed_topic_regex: None,
        server_assignor: None,
        owned: owned.map(|ps| {
            if ps.is_empty() {
                vec![]
            } else {
                vec![(tid(T), ps.to_vec())]
            }
        }),
        client_id: "new".into(),
        client_host: "/127.0.0.1".into(),
        version: 1,
        topics: image(),
    }
}

fn cjoin(member: &str) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["orders".into()]),
        ..hb(member, 0, Some(&[]))
    }
}

fn assigned(r: &ConsumerHeartbeatResult) -> Option<Vec<i32>> {
    r.assignment.as_ref().map(|a| {
        a.iter()
            .filter(|(t, _)| *t == tid(T))
            .flat_map(|(_, ps)| ps.iter().copied())
            .collect()
    })
}

fn set(ps: &[i32]) -> BTreeMap<Uuid, BTreeSet<i32>> {
    if ps.is_empty() {
        return BTreeMap::new();
    }
    [(tid(T), ps.iter().copied().collect())].into()
}

fn key_types(records: &[Record]) -> Vec<(i16, bool)> {
    records
        .iter()
        .map(|r| (i16::from_be_bytes([r.key[0], r.key[1]]), r.value.is_some()))
        .collect()
}

fn classic_hb(h: &mut Harness, member: &str, generation: i32) -> ErrorCode {
    match h.call(heartbeat_req("g", member, generation)) {
        Response::Heartbeat { error } => error,
        other => panic!("not a heartbeat answer: {other:?}"),
    }
}

fn rebalance_key(member: &str) -> TimerKey {
    TimerKey::ConsumerRebalance {
        group_id: "g".into(),
        member_id: member.into(),
    }
}

fn consumer_session_key(member: &str) -> TimerKey {
    TimerKey::ConsumerSession {
        group_id: "g".into(),
        member_id: member.into(),
    }
}

/// A classic member of the consumer group rejoins (eager: owning nothing) and syncs;
/// returns (generation, partitions).
fn classic_rejoin(h: &mut Harness, member: &str) -> (i32, Vec<i32>) {
    let j = join_result(Some(h.call(Request::Join(classic_join("g", member, &[])))));
    assert_eq!(j.error, 0, "{j:?}");
    assert_eq!(
        (
            j.leader.as_str(),
            j.members.len(),
            j.protocol_type.as_deref(),
            j.protocol_name.as_deref()
        ),
        ("", 0, Some("consumer"), Some("range"))
    );
    let s = sync_result(Some(h.call(Request::Sync(sync_req(
        "g",
        member,
        j.generation_id,
        &[],
    )))));
    assert_eq!(s.error, 0, "{s:?}");
    (j.generation_id, decoded(&s.assignment))
}

/// Classic a {0,1} and b {2,3} at generation 1, upgraded by consumer member "c".
fn upgraded(h: &mut Harness) -> (String, String) {
    let (a, b) = classic_pair(h, &[0, 1], &[2, 3]);
    let r = chb(h, cjoin("c"));
    assert_eq!(r.error, 0, "{r:?}");
    // c joined at epoch 2 and gets nothing yet: a and b own every partition.
    assert_eq!((r.member_epoch, assigned(&r)), (2, Some(vec![])));
    (a, b)
}

#[test]
fn upgrade_converts_the_classic_members_with_their_assignment_and_kafkas_records() {
    let mut h = Harness::new();
    let (a, b) = classic_pair(&mut h, &[0, 1], &[2, 3]);
    let before = h.log.len();
    let r = chb(&mut h, cjoin("c"));
    assert_eq!((r.error, r.member_epoch), (0, 2));
    // GroupMetadata tombstone (key 2), the converted group (subscriptions 5, group epoch 3,
    // targets 7, assignment epoch 6, current assignments 8), then c's join: its subscription,
    // the subscribed topics' metadata (4), the bumped epoch, the new targets and epoch, its
    // assignment.
    let types = key_types(&h.log[before..]);
    assert_eq!(
        types[..9],
        [
            (2, false),
            (5, true),
            (5, true),
            (3, true),
            (7, true),
            (7, true),
            (6, true),
            (8, true),
            (8, true)
        ]
    );
    assert_eq!(types[9..12], [(5, true), (4, true), (3, true)]);
    assert_eq!(types.last(), Some(&(8, true)));
    assert!(h.coord.group("g").is_none(), "the classic group is gone");
    let g = h.coord.consumer_group("g").expect("consumer group");
    assert_eq!((g.group_epoch, g.assignment_epoch), (2, 2));
    let ma = &g.members[&a];
    assert_eq!(
        (ma.member_epoch, ma.state, ma.assigned.clone()),
        (1, MemberState::Stable, set(&[0, 1]))
    );
    assert_eq!(
        ma.classic,
        Some(ClassicMemberMetadata {
            session_timeout_ms: SESSION_MS,
            protocols: vec![("range".to_string(), sub_owning(&[]))],
        })
    );
    assert_eq!(ma.subscribed_topic_names, vec!["orders".to_string()]);
    assert_eq!(g.members[&b].assigned, set(&[2, 3]));
    assert!(g.members["c"].classic.is_none());
    // The uniform assignor's new target: a and b keep what they can, c gets the rest.
    let targets: Vec<(String, BTreeMap<Uuid, BTreeSet<i32>>)> = g
        .target
        .iter()
        .map(|(m, t)| (m.clone(), t.clone()))
        .collect();
    let all: BTreeSet<i32> = targets
        .iter()
        .flat_map(|(_, t)| t.values().flatten().copied())
        .collect();
    assert_eq!(all, BTreeSet::from([0, 1, 2, 3]));
    // (skua's uniform assignor gives the extra partition to the first member by id.)
    assert_eq!(g.target[&a], set(&[0]));
    assert_eq!(g.target[&b], set(&[2]));
    assert_eq!(g.target["c"], set(&[1, 3]));
    // Classic sessions: the members' own session timeouts; the classic timers are gone.
    assert_eq!(
        h.timer(&consumer_session_key(&a)),
        Some(h.now + i64::from(SESSION_MS))
    );
    assert_eq!(h.timer(&session_key("g", &a)), None);
    assert_eq!(g.state().name(), "Reconciling");
}

#[test]
fn classic_members_revoke_rejoin_and_receive_the_server_assignment() {
    let mut h = Harness::new();
    let (a, b) = upgraded(&mut h);
    let target = |h: &Harness, m: &str| -> Vec<i32> {
        h.coord.consumer_group("g").unwrap().target[m]
            .get(&tid(T))
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    };
    // a and b each give one partition to c.
    let (x, owned_x, y) = (a.clone(), vec![0, 1], b.clone());
    assert_eq!((target(&h, &x), target(&h, &y)), (vec![0], vec![2]));
    // Their epoch (1) is behind the group's (2): rejoin, with a join deadline armed.
    assert_eq!(classic_hb(&mut h, &x, 1), 27, "REBALANCE_IN_PROGRESS");
    assert_eq!(
        h.timer(&rebalance_key(&x)),
        Some(h.now + i64::from(REBALANCE_MS))
    );
    // A stale generation is refused.
    assert_eq!(classic_hb(&mut h, &x, 7), 22, "ILLEGAL_GENERATION");
    // A cooperative rejoin still owning the partition it must give up keeps its epoch and
    // is told its kept partitions; it must revoke before the group moves on.
    let tx = target(&h, &x);
    h.advance(1_000);
    let j = join_result(Some(h.call(Request::Join(classic_join("g", &x, &owned_x)))));
    assert_eq!((j.error, j.generation_id), (0, 1));
    let m = h.coord.consumer_group("g").unwrap().members[&x].clone();
    assert_eq!(m.state, MemberState::UnrevokedPartitions);
    // The join deadline became a sync deadline.
    assert_eq!(
        h.timer(&rebalance_key(&x)),
        Some(h.now + i64::from(REBALANCE_MS))
    );
    let s = sync_result(Some(h.call(Request::Sync(sync_req("g", &x, 1, &[])))));
    assert_eq!((s.error, decoded(&s.assignment)), (0, tx.clone()));
    assert_eq!(h.timer(&rebalance_key(&x)), None, "synced: no deadline");
    // Unrevoked: the heartbeat asks for another rejoin, which (owning only its target)
    // completes the revocation at epoch 2.
    assert_eq!(classic_hb(&mut h, &x, 1), 27);
    let j = join_result(Some(h.call(Request::Join(classic_join("g", &x, &tx)))));
    assert_eq!((j.error, j.generation_id), (0, 2));
    let s = sync_result(Some(h.call(Request::Sync(sync_req("g", &x, 2, &[])))));
    assert_eq!(decoded(&s.assignment), tx);
    assert_eq!(classic_hb(&mut h, &x, 2), 0);
    // y rejoins the eager way (owning nothing) and gets its target at once.
    assert_eq!(classic_hb(&mut h, &y, 1), 27);
    let ty = target(&h, &y);
    assert_eq!(classic_rejoin(&mut h, &y), (2, ty.clone()));
    let (a, ta, tb) = (x.clone(), tx.clone(), ty.clone());
    // c now receives the released partition.
    let r = chb(&mut h, hb("c", 2, Some(&[])));
    assert_eq!((r.member_epoch, assigned(&r)), (2, Some(target(&h, "c"))));
    let g = h.coord.consumer_group("g").unwrap();
    assert_eq!(g.state().name(), "Stable");
    let mut all: Vec<i32> = ta
        .iter()
        .chain(&tb)
        .chain(&target(&h, "c"))
        .copied()
        .collect();
    all.sort();
    assert_eq!(all, vec![0, 1, 2, 3]);
    // Offsets: a classic member commits with its generation (OffsetCommit v8 is fine); a
    // wrong generation is ILLEGAL_GENERATION; the consumer member must use v9+.
    let ok = commit_errors(h.call(Request::OffsetCommit(commit_req(
        "g",
        &a,
        2,
        &[("orders", ta[0], 42)],
    ))));
    assert_eq!(ok, vec![("orders".to_string(), ta[0], 0)]);
    let bad = commit_errors(h.call(Request::OffsetCommit(commit_req(
        "g",
        &a,
        1,
        &[("orders", ta[0], 43)],
    ))));
    assert_eq!(bad[0].2, 22);
    let v8 = commit_errors(h.call(Request::OffsetCommit(commit_req(
        "g",
        "c",
        2,
        &[("orders", 3, 1)],
    ))));
    assert_eq!(v8[0].2, 35, "UNSUPPORTED_VERSION");
    assert_eq!(
        h.coord
            .committed_offset("g", "orders", ta[0])
            .map(|o| o.offset),
        Some(42)
    );
}

#[test]
fn new_classic_members_join_a_consumer_group_and_protocol_checks_apply() {
    let mut h = Harness::new();
    let r = chb(&mut h, cjoin("c"));
    assert_eq!((r.member_epoch, assigned(&r)), (1, Some(vec![0, 1, 2, 3])));
    // An unknown member (JoinGroup v4+) gets an id to rejoin with.
    let first = join_result(Some(h.call(Request::Join(classic_join("g", "", &[])))));
    assert_eq!((first.error, first.member_id.as_str()), (79, "uuid-1"));
    // A member of another protocol type cannot join.
    let mut other = classic_join("g", "uuid-1", &[]);
    other.protocol_type = "connect".into();
    let j = join_result(Some(h.call(Request::Join(other))));
    assert_eq!(j.error, 23, "INCONSISTENT_GROUP_PROTOCOL");
    // It joins: epoch 2, but c still owns what the target gives it.
    let j = join_result(Some(h.call(Request::Join(classic_join(
        "g",
        "uuid-1",
        &[],
    )))));
    assert_eq!((j.error, j.generation_id), (0, 2));
    let m = h.coord.consumer_group("g").unwrap().members["uuid-1"].clone();
    assert_eq!(m.state, MemberState::UnreleasedPartitions);
    assert!(m.assigned.is_empty());
    let s = sync_result(Some(h.call(Request::Sync(sync_req("g", "uuid-1", 2, &[])))));
    assert_eq!((s.error, decoded(&s.assignment)), (0, vec![]));
    // While c has not released them the heartbeat is fine.
    assert_eq!(classic_hb(&mut h, "uuid-1", 2), 0);
    // c revokes (epoch 1 → 2).
    let r = chb(&mut h, hb("c", 1, Some(&[0, 1, 2, 3])));
    let keep = assigned(&r).expect("c's kept partitions");
    assert_eq!(keep.len(), 2);
    let r = chb(&mut h, hb("c", 1, Some(&keep)));
    assert_eq!(r.member_epoch, 2);
    // Now the classic member is asked to rejoin and gets the released partitions.
    assert_eq!(classic_hb(&mut h, "uuid-1", 2), 27);
    let (generation, parts) = classic_rejoin(&mut h, "uuid-1");
    let mut all: Vec<i32> = keep.iter().chain(&parts).copied().collect();
    all.sort();
    assert_eq!((generation, all), (2, vec![0, 1, 2, 3]));
    // A classic member's own protocol name must be used in SyncGroup.
    let mut wrong = sync_req("g", "uuid-1", 2, &[]);
    wrong.protocol_name = Some("roundrobin".into());
    assert_eq!(sync_result(Some(h.call(Request::Sync(wrong)))).error, 23);
    // Heartbeats of a consumer-protocol member through the classic API are refused.
    assert_eq!(classic_hb(&mut h, "c", 2), 25, "UNKNOWN_MEMBER_ID");
    // The classic member leaves with LeaveGroup: the epoch is bumped, c gets everything.
    let l = h.call(leave_req("g", &[("uuid-1", None), ("c", None)]));
    assert_eq!(
        l,
        Response::Leave(LeaveResult {
            error: 0,
            members: vec![("uuid-1".into(), None, 0), ("c".into(), None, 25)],
        })
    );
    let g = h.coord.consumer_group("g").unwrap();
    assert_eq!(g.group_epoch, 3);
    let r = chb(&mut h, hb("c", 2, Some(&keep)));
    assert_eq!((r.member_epoch, assigned(&r)), (3, Some(vec![0, 1, 2, 3])));
}

#[test]
fn downgrade_when_the_last_consumer_member_leaves_then_the_classic_group_rebalances() {
    let mut h = Harness::new();
    let (a, b) = upgraded(&mut h);
    let (_, pa) = classic_rejoin(&mut h, &a);
    let (_, pb) = classic_rejoin(&mut h, &b);
    let epoch = h.coord.consumer_group("g").unwrap().group_epoch;
    let target_a = h.coord.consumer_group("g").unwrap().target[&a].clone();
    let before = h.log.len();
    let r = chb(&mut h, hb("c", -1, None));
    assert_eq!((r.error, r.member_epoch), (0, -1));
    assert!(
        h.coord.consumer_group("g").is_none(),
        "no longer a consumer group"
    );
    // Tombstones for the consumer group (current 8 ×3, target 7 ×3, assignment epoch 6,
    // subscriptions 5 ×3, metadata 4, group epoch 3), then the classic group (2).
    assert_eq!(
        key_types(&h.log[before..]),
        [
            vec![(8, false); 3],
            vec![(7, false); 3],
            vec![(6, false)],
            vec![(5, false); 3],
            vec![(4, false), (3, false), (2, true)]
        ]
        .concat()
    );
    let written = group_records(&Outcome {
        records: h.log[before..].to_vec(),
        ..Outcome::default()
    });
    assert_eq!(written.len(), 1);
    let v = &written[0];
    assert_eq!(
        (
            v.protocol_type.as_str(),
            v.generation,
            v.protocol.as_deref(),
            v.members.len()
        ),
        ("consumer", epoch, Some("range"), 2)
    );
    let wa = v.members.iter().find(|m| m.member_id == a).unwrap();
    let target_parts: Vec<i32> = target_a[&tid(T)].iter().copied().collect();
    assert_eq!(decoded(&wa.assignment), target_parts);
    assert_eq!(wa.session_timeout, SESSION_MS);
    // The classic group rebalances: PreparingRebalance, join deadline armed.
    let g = h.coord.group("g").expect("classic group");
    assert_eq!(
        (g.state, g.generation_id),
        (GroupState::PreparingRebalance, epoch)
    );
    assert_eq!(
        h.timer(&join_key("g")),
        Some(h.now + i64::from(REBALANCE_MS))
    );
    assert_eq!(h.timer(&consumer_session_key(&a)), None);
    assert_eq!(
        h.timer(&session_key("g", &a)),
        Some(h.now + i64::from(SESSION_MS))
    );
    // The classic members learn of it from their heartbeat and rejoin as a classic group.
    assert_eq!(classic_hb(&mut h, &a, epoch), 27);
    let (ja, _) = h.send(Request::Join(classic_join("g", &a, &[])));
    let (jb, out) = h.send(Request::Join(classic_join("g", &b, &[])));
    let ra = join_result(response(&out, ja));
    let rb = join_result(response(&out, jb));
    assert_eq!((ra.error, rb.error), (0, 0));
    assert_eq!(ra.generation_id, epoch + 1);
    assert_eq!(ra.leader, rb.leader);
    let leader = ra.leader.clone();
    let follower = if leader == a { b.clone() } else { a.clone() };
    let (fs, _) = h.send(Request::Sync(sync_req("g", &follower, epoch + 1, &[])));
    let mut ls = sync_req("g", &leader, epoch + 1, &[]);
    ls.assignments = vec![
        (leader.clone(), orders(&pa)),
        (follower.clone(), orders(&pb)),
    ];
    let (lid, out) = h.send(Request::Sync(ls));
    assert_eq!(sync_result(response(&out, lid)).error, 0);
    assert_eq!(decoded(&sync_result(response(&out, fs)).assignment), pb);
    assert_eq!(h.coord.group("g").unwrap().state, GroupState::Stable);
    // Replay rebuilds the classic group.
    let fresh = h.replayed();
    assert!(fresh.consumer_group("g").is_none());
    let snap = fresh.group("g").expect("replayed classic group");
    assert_eq!(
        (snap.state, snap.generation_id, snap.members.len()),
        (GroupState::Stable, epoch + 1, 2)
    );
}

#[test]
fn a_fenced_consumer_member_downgrades_too_and_the_policy_decides() {
    // Session expiry of the last consumer member: downgrade (bidirectional).
    let mut h = Harness::new();
    let (a, b) = upgraded(&mut h);
    // The classic members heartbeat; c does not.
    for _ in 0..4 {
        h.advance(9_000);
        assert_eq!(classic_hb(&mut h, &a, 1), 27);
        assert_eq!(classic_hb(&mut h, &b, 1), 27);
        // (they do not rejoin: their join deadline, 60 s, is armed once.)
    }
    assert!(h.coord.consumer_group("g").is_some());
    h.advance(9_000);
    // c's session (45 s) expired: the group is classic again, at the group epoch (2), and
    // the members' old generation (their member epoch 1) is refused until they rejoin.
    assert!(h.coord.consumer_group("g").is_none());
    assert_eq!(
        h.coord.group("g").map(|g| (g.state, g.generation_id)),
        Some((GroupState::PreparingRebalance, 2))
    );
    assert_eq!(classic_hb(&mut h, &a, 1), 22);
    assert_eq!(classic_hb(&mut h, &b, 2), 27);

    // Policy "upgrade": the same departure leaves a consumer group of classic members.
    let mut cfg = config();
    cfg.consumer.migration_policy = MigrationPolicy::Upgrade;
    let mut h = Harness::with_config(cfg);
    let (a, _) = upgraded(&mut h);
    let r = chb(&mut h, hb("c", -1, None));
    assert_eq!(r.error, 0);
    let g = h.coord.consumer_group("g").expect("still a consumer group");
    assert_eq!((g.members.len(), g.group_epoch), (2, 3));
    assert!(h.coord.group("g").is_none());
    // ...whose classic members go on rebalancing through the server assignor.
    assert_eq!(classic_hb(&mut h, &a, 1), 27);
    let (generation, parts) = classic_rejoin(&mut h, &a);
    assert_eq!(generation, 3);
    assert!(!parts.is_empty());

    // Policy "downgrade" and "disabled": no upgrade; the consumer member is refused with
    // GROUP_ID_NOT_FOUND and the classic group goes on.
    for policy in [MigrationPolicy::Downgrade, MigrationPolicy::Disabled] {
        let mut cfg = config();
        cfg.consumer.migration_policy = policy;
        let mut h = Harness::with_config(cfg);
        let (a, _) = classic_pair(&mut h, &[0, 1], &[2, 3]);
        let before = h.log.len();
        let r = chb(&mut h, cjoin("c"));
        assert_eq!(
            (r.error, r.error_message.as_deref()),
            (69, Some("Group g is not a consumer group."))
        );
        assert_eq!(h.log.len(), before, "nothing written");
        assert!(h.coord.consumer_group("g").is_none());
        assert_eq!(h.coord.group("g").unwrap().state, GroupState::Stable);
        assert_eq!(classic_hb(&mut h, &a, 1), 0);
    }

    // group.consumer.max.size: a classic group as large as the limit cannot take one more
    // member (GROUP_MAX_SIZE_REACHED, nothing converted); larger, it cannot upgrade.
    for (max, error) in [(2, 81), (1, 69)] {
        let mut cfg = config();
        cfg.consumer.max_size = max;
        let mut h = Harness::with_config(cfg);
        classic_pair(&mut h, &[0, 1], &[2, 3]);
        let r = chb(&mut h, cjoin("c"));
        assert_eq!(r.error, error);
        assert!(h.coord.consumer_group("g").is_none());
        assert!(h.coord.group("g").is_some());
    }
}

#[test]
fn classic_members_of_a_consumer_group_time_out_as_classic_members() {
    let mut h = Harness::new();
    let (a, b) = upgraded(&mut h);
    // a rejoins and never syncs: fenced after its rebalance timeout (the sync deadline).
    let j = join_result(Some(h.call(Request::Join(classic_join("g", &a, &[])))));
    assert_eq!(j.error, 0);
    // b and c keep heartbeating; b is told to rejoin but never does.
    let mut epoch_c = 2;
    let mut owned_c: Vec<i32> = vec![];
    for i in 1..=8 {
        h.advance(9_000);
        let _ = classic_hb(&mut h, &b, 1);
        let r = chb(&mut h, hb("c", epoch_c, Some(&owned_c)));
        assert_eq!(r.error, 0);
        if let Some(p) = assigned(&r) {
            owned_c = p;
        }
        epoch_c = r.member_epoch;
        let members = h.coord.consumer_group("g").unwrap().members.len();
        // a: no heartbeat within its 10 s classic session; b: told to rejoin at 9 s, it
        // never does within its 60 s rebalance timeout.
        let expected = match i {
            1 => 3,
            2..=7 => 2,
            _ => 1,
        };
        assert_eq!(members, expected, "after {} s", i * 9);
    }
    // c owns everything.
    let g = h.coord.consumer_group("g").unwrap();
    assert_eq!(
        g.members.keys().cloned().collect::<Vec<_>>(),
        vec!["c".to_string()]
    );
    let r = chb(&mut h, hb("c", epoch_c, Some(&owned_c)));
    let all = assigned(&r).unwrap_or(owned_c);
    assert_eq!(all, vec![0, 1, 2, 3]);
}

#[test]
fn restart_in_the_middle_of_a_migration_replays_the_mixed_group() {
    let mut h = Harness::new();
    let (a, b) = upgraded(&mut h);
    // a has rejoined (epoch 2), b not yet.
    let (_, pa) = classic_rejoin(&mut h, &a);
    let live = h.coord.consumer_group("g").unwrap().clone();
    let mut fresh = h.replayed();
    let g = fresh.consumer_group("g").expect("replayed consumer group");
    assert_eq!(g.members, live.members);
    assert_eq!(g.target, live.target);
    assert_eq!(
        (g.group_epoch, g.assignment_epoch),
        (live.group_epoch, live.assignment_epoch)
    );
    assert!(g.members[&b].classic.is_some());
    // After loading, classic members get their own session timeout.
    let out = fresh.loaded(h.now);
    let session_b = out.timers.iter().find_map(|t| match t {
        TimerOp::Set { key, deadline_ms } if *key == consumer_session_key(&b) => Some(*deadline_ms),
        _ => None,
    });
    assert_eq!(session_b, Some(h.now + i64::from(SESSION_MS)));
    // The restarted coordinator serves them: a heartbeats at its epoch, b rejoins.
    let hb_a = fresh.handle(h.now, 1, heartbeat_req("g", &a, 2));
    assert_eq!(response(&hb_a, 1), Some(Response::Heartbeat { error: 0 }));
    let j = fresh.handle(h.now, 2, Request::Join(classic_join("g", &b, &[])));
    let j = join_result(response(&j, 2));
    assert_eq!((j.error, j.generation_id), (0, 2));
    let s = fresh.handle(h.now, 3, Request::Sync(sync_req("g", &b, 2, &[])));
    let pb = decoded(&sync_result(response(&s, 3)).assignment);
    assert!(pa.iter().all(|p| !pb.contains(p)));
}

#[test]
fn classic_member_metadata_is_kafkas_tagged_field() {
    let v = MemberMetadataValue {
        instance_id: None,
        rack_id: None,
        client_id: "c".into(),
        client_host: "h".into(),
        subscribed_topic_names: vec!["t".into()],
        subscribed_topic_regex: None,
        rebalance_timeout_ms: 5,
        server_assignor: None,
        classic: Some(ClassicMemberMetadata {
            session_timeout_ms: 6,
            protocols: vec![("range".into(), Bytes::from_static(b"\x00\x01"))],
        }),
    };
    let bytes = v.encode();
    // ... ServerAssignor null (0), then one tagged field: tag 0, size 17, presence 1,
    // SessionTimeoutMs 6, 1 protocol: "range", 2 bytes of metadata, no tags; no tags.
    let tail: &[u8] = &[
        0, 1, 0, 17, 1, 0, 0, 0, 6, 2, 6, b'r', b'a', b'n', b'g', b'e', 3, 0, 1, 0, 0,
    ];
    assert!(bytes.ends_with(tail), "{bytes:?}");
    assert_eq!(MemberMetadataValue::decode(&bytes).unwrap(), v);
    let plain = MemberMetadataValue {
        classic: None,
        ..v.clone()
    };
    assert!(plain.encode().ends_with(&[0, 0]));
    assert_eq!(MemberMetadataValue::decode(&plain.encode()).unwrap(), plain);
}
