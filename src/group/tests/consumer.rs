//! Consumer groups (KIP-848): ConsumerGroupHeartbeat join, heartbeat, leave, incremental
//! reconciliation, timers, assignors, regex subscriptions, offsets and replay.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use uuid::Uuid;

use super::*;
use crate::group::consumer::assignor::{self, MemberSpec};
use crate::group::consumer::records::{Assignment, ConsumerKey};
use crate::group::consumer::MemberState;

const SESSION: i64 = 45_000;
const REBALANCE: i32 = 30_000;

fn tid(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn image(topics: &[(&str, u8, i32)]) -> Arc<TopicsImage> {
    Arc::new(TopicsImage {
        by_name: topics
            .iter()
            .map(|(name, id, partitions)| {
                (
                    name.to_string(),
                    TopicInfo {
                        id: tid(*id),
                        partitions: *partitions,
                        internal: name.starts_with("__"),
                    },
                )
            })
            .collect(),
    })
}

fn hb(member: &str, epoch: i32, topics: &Arc<TopicsImage>) -> ConsumerHeartbeat {
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
        owned: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        version: 1,
        topics: Arc::clone(topics),
    }
}

fn join(member: &str, names: &[&str], topics: &Arc<TopicsImage>) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        rebalance_timeout_ms: REBALANCE,
        subscribed_topic_names: Some(names.iter().map(|s| s.to_string()).collect()),
        owned: Some(vec![]),
        ..hb(member, 0, topics)
    }
}

fn owning(mut r: ConsumerHeartbeat, parts: &[(u8, &[i32])]) -> ConsumerHeartbeat {
    r.owned = Some(parts.iter().map(|(t, ps)| (tid(*t), ps.to_vec())).collect());
    r
}

fn result(h: &mut Harness, r: ConsumerHeartbeat) -> ConsumerHeartbeatResult {
    match h.call(Request::ConsumerHeartbeat(Box::new(r))) {
        Response::ConsumerHeartbeat(r) => r,
        other => panic!("not a heartbeat answer: {other:?}"),
    }
}

fn parts(r: &ConsumerHeartbeatResult) -> Option<BTreeMap<Uuid, Vec<i32>>> {
    r.assignment.as_ref().map(|a| a.iter().cloned().collect())
}

fn only(t: u8, ps: &[i32]) -> Option<BTreeMap<Uuid, Vec<i32>>> {
    Some([(tid(t), ps.to_vec())].into())
}

fn record_types(records: &[Record]) -> Vec<(i16, bool)> {
    records
        .iter()
        .map(|r| (i16::from_be_bytes([r.key[0], r.key[1]]), r.value.is_some()))
        .collect()
}

#[test]
fn a_member_joins_gets_every_partition_and_its_session_is_armed() {
    let mut h = Harness::new();
    let img = image(&[("t", 1, 6)]);
    let before = h.log.len();
    let r = result(&mut h, join("a", &["t"], &img));
    assert_eq!(r.error, 0);
    assert_eq!(r.member_id.as_deref(), Some("a"));
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.heartbeat_interval_ms, 5000);
    assert_eq!(parts(&r), only(1, &[0, 1, 2, 3, 4, 5]));
    // Kafka's records, in Kafka's order: member subscription (5), subscribed topics'
    // metadata (4), group epoch (3), the member's target (7), assignment epoch (6), the
    // member's current assignment (8).
    assert_eq!(
        record_types(&h.log[before..]),
        vec![
            (5, true),
            (4, true),
            (3, true),
            (7, true),
            (6, true),
            (8, true)
        ]
    );
    let key = TimerKey::ConsumerSession {
        group_id: "g".into(),
        member_id: "a".into(),
    };
    assert_eq!(h.timer(&key), Some(h.now + SESSION));
    // An unchanged heartbeat: no records, no assignment in the answer.
    let before = h.log.len();
    let r = result(
        &mut h,
        owning(hb("a", 1, &img), &[(1, &[0, 1, 2, 3, 4, 5])]),
    );
    assert_eq!(
        (r.error, r.member_epoch, r.assignment.clone()),
        (0, 1, None)
    );
    assert_eq!(h.log.len(), before);
    let g = h.coord.consumer_group("g").unwrap();
    assert_eq!(g.state().name(), "Stable");
    // v0 joins without a member id get one from the coordinator.
    let r = result(
        &mut h,
        ConsumerHeartbeat {
            version: 0,
            group_id: "g0".into(),
            ..join("", &["t"], &img)
        },
    );
    assert_eq!((r.error, r.member_id.as_deref()), (0, Some("uuid-1")));
}

#[test]
fn scale_out_revokes_before_it_assigns_and_scale_in_gives_partitions_back() {
    let mut h = Harness::new();
    let img = image(&[("t", 1, 6)]);
    assert_eq!(result(&mut h, join("a", &["t"], &img)).member_epoch, 1);
    // b joins: epoch 2, nothing yet (a owns everything).
    let r = result(&mut h, join("b", &["t"], &img));
    assert_eq!(
        (r.error, r.member_epoch, parts(&r)),
        (0, 2, Some(BTreeMap::new()))
    );
    assert_eq!(
        h.coord.consumer_group("g").unwrap().state().name(),
        "Reconciling"
    );
    // a must revoke 3-5 (uniform: a keeps its quota of 3), in its current epoch.
    let r = result(
        &mut h,
        owning(hb("a", 1, &img), &[(1, &[0, 1, 2, 3, 4, 5])]),
    );
    assert_eq!((r.member_epoch, parts(&r)), (1, only(1, &[0, 1, 2])));
    let a = &h.coord.consumer_group("g").unwrap().members["a"];
    assert_eq!(a.state, MemberState::UnrevokedPartitions);
    let revoking: Assignment = [(tid(1), BTreeSet::from([3, 4, 5]))].into();
    assert_eq!(a.pending_revocation, revoking);
    let rebalance = TimerKey::ConsumerRebalance {
        group_id: "g".into(),
        member_id: "a".into(),
    };
    assert_eq!(h.timer(&rebalance), Some(h.now + i64::from(REBALANCE)));
    // b still gets nothing while a owns 3-5.
    let r = result(&mut h, owning(hb("b", 2, &img), &[]));
    assert_eq!((r.member_epoch, r.assignment.clone()), (2, None));
    // a still reports 3: no progress.
    let r = result(&mut h, owning(hb("a", 1, &img), &[(1, &[0, 1, 2, 3])]));
    assert_eq!((r.member_epoch, r.assignment.clone()), (1, None));
    // a acknowledges: epoch 2, the timer is cancelled; b gets 3-5.
    let r = result(&mut h, owning(hb("a", 1, &img), &[(1, &[0, 1, 2])]));
    assert_eq!(r.member_epoch, 2);
    assert_eq!(h.timer(&rebalance), None);
    let r = result(&mut h, owning(hb("b", 2, &img), &[]));
    assert_eq!((r.member_epoch, parts(&r)), (2, only(1, &[3, 4, 5])));
    assert_eq!(
        h.coord.consumer_group("g").unwrap().state().name(),
        "Stable"
    );
    // b leaves: epoch 3; a's next heartbeat reassigns everything at epoch 3.
    let r = result(&mut h, hb("b", -1, &img));
    assert_eq!((r.error, r.member_epoch), (0, -1));
    let r = result(&mut h, owning(hb("a", 2, &img), &[(1, &[0, 1, 2])]));
    assert_eq!(
        (r.member_epoch, parts(&r)),
        (3, only(1, &[0, 1, 2, 3, 4, 5]))
    );
    // The whole history replays to the same state.
    let fresh = h.replayed();
    let (x, y) = (
        fresh.consumer_group("g").unwrap(),
        h.coord.consumer_group("g").unwrap(),
    );
    assert_eq!(
        (x.group_epoch, x.assignment_epoch, &x.members, &x.target),
        (y.group_epoch, y.assignment_epoch, &y.members, &y.target)
    );
    assert_eq!(x.partition_epochs, y.partition_epochs);
}

#[test]
fn a_member_that_does_not_revoke_within_its_rebalance_timeout_is_fenced() {
    let mut h = Harness::new();
    let img = image(&[("t", 1, 4)]);
    result(&mut h, join("a", &["t"], &img));
    result(&mut h, join("b", &["t"], &img));
    let r = result(&mut h, owning(hb("a", 1, &img), &[(1, &[0, 1, 2, 3])]));
    assert_eq!(r.member_epoch, 1);
    // b keeps heartbeating; a never acknowledges.
    for _ in 0..3 {
        h.advance(9_000);
        result(&mut h, owning(hb("b", 2, &img), &[]));
    }
    assert!(h
        .coord
        .consumer_group("g")
        .unwrap()
        .members
        .contains_key("a"));
    h.advance(3_000);
    let g = h.coord.consumer_group("g").unwrap();
    assert!(!g.members.contains_key("a"), "a fenced after 30 s");
    assert_eq!(g.group_epoch, 3);
    let r = result(&mut h, owning(hb("b", 2, &img), &[]));
    assert_eq!((r.member_epoch, parts(&r)), (3, only(1, &[0, 1, 2, 3])));
    // a comes back with its old epoch: fenced (FENCED? no: unknown member now).
    let r = result(&mut h, owning(hb("a", 1, &img), &[]));
    assert_eq!(r.error, 25);
}

#[test]
fn session_expiry_removes_a_silent_member() {
    let mut h = Harness::new();
    let img = image(&[("t", 1, 2)]);
    result(&mut h, join("a", &["t"], &img));
    result(&mut h, join("b", &["t"], &img));
    result(&mut h, owning(hb("a", 1, &img), &[(1, &[0, 1])]));
    result(&mut h, owning(hb("a", 1, &img), &[(1, &[0])]));
    result(&mut h, owning(hb("b", 2, &img), &[]));
    // Only a heartbeats from now on.
    for _ in 0..5 {
        h.advance(10_000);
        result(&mut h, owning(hb("a", 2, &img), &[(1, &[0])]));
    }
    let g = h.coord.consumer_group("g").unwrap();
    assert_eq!(g.members.keys().collect::<Vec<_>>(), vec!["a"]);
    let a = &g.members["a"];
    let all: Assignment = [(tid(1), BTreeSet::from([0, 1]))].into();
    assert_eq!((a.member_epoch, &a.assigned), (3, &all));
}

#[test]
fn static_members_rejoin_with_their_partitions_and_cannot_be_duplicated() {
    let mut h = Harness::new();
    let img = image(&[("t", 1, 4)]);
    let st = |m: &str| ConsumerHeartbeat {
        instance_id: Some("i1".into()),
        ..join(m, &["t"], &img)
    };
    result(&mut h, st("m1"));
    result(&mut h, join("b", &["t"], &img));
    result(&mut h, owning(hb("m1", 1, &img), &[(1, &[0, 1, 2, 3])]));
    result(&mut h, owning(hb("m1", 1, &img), &[(1, &[0, 1])]));
    let r = result(&mut h, owning(hb("b", 2, &img), &[]));
    assert_eq!(parts(&r), only(1, &[2, 3]));
    // Another process with the same instance id: UNRELEASED_INSTANCE_ID (111).
    assert_eq!(result(&mut h, st("m2")).error, 111);
    // m1 leaves temporarily (-2) and m2 takes its place with m1's partitions, no rebalance.
    let r = result(
        &mut h,
        ConsumerHeartbeat {
            instance_id: Some("i1".into()),
            ..hb("m1", -2, &img)
        },
    );
    assert_eq!((r.error, r.member_epoch), (0, -2));
    let epoch = h.coord.consumer_group("g").unwrap().group_epoch;
    let r = result(&mut h, st("m2"));
    assert_eq!(
        (r.error, r.member_epoch, parts(&r)),
        (0, 2, only(1, &[0, 1]))
    );
    let g = h.coord.consumer_group("g").unwrap();
    assert_eq!(g.group_epoch, epoch);
    assert!(!g.members.contains_key("m1"));
    // m1 is fenced by m2 (FENCED_INSTANCE_ID, 82).
    let r = result(
        &mut h,
        ConsumerHeartbeat {
            instance_id: Some("i1".into()),
            ..hb("m1", 2, &img)
        },
    );
    assert_eq!(r.error, 82);
}

#[test]
fn a_regex_subscription_picks_up_a_new_topic_and_skips_internal_ones() {
    let mut h = Harness::new();
    let img1 = image(&[
        ("orders-eu", 1, 2),
        ("__consumer_offsets", 9, 50),
        ("other", 3, 1),
    ]);
    let r = result(
        &mut h,
        ConsumerHeartbeat {
            subscribed_topic_names: None,
            subscribed_topic_regex: Some("orders-.*|__.*".into()),
            ..join("a", &[], &img1)
        },
    );
    assert_eq!((r.member_epoch, parts(&r)), (1, only(1, &[0, 1])));
    // orders-us is created: the next heartbeat bumps the epoch and assigns it.
    let img2 = image(&[
        ("orders-eu", 1, 2),
        ("orders-us", 2, 3),
        ("__consumer_offsets", 9, 50),
    ]);
    let r = result(&mut h, owning(hb("a", 1, &img2), &[(1, &[0, 1])]));
    let want: BTreeMap<Uuid, Vec<i32>> = [(tid(1), vec![0, 1]), (tid(2), vec![0, 1, 2])].into();
    assert_eq!((r.member_epoch, parts(&r)), (2, Some(want)));
    // An invalid regex: INVALID_REGULAR_EXPRESSION (128).
    let r = result(
        &mut h,
        ConsumerHeartbeat {
            subscribed_topic_regex: Some("(".into()),
            ..join("b", &[], &img2)
        },
    );
    assert_eq!(r.error, 128);
}

#[test]
fn range_and_uniform_assign_exactly() {
    let spec = |id: &str, instance: Option<&str>, topics: &[u8]| MemberSpec {
        member_id: id.into(),
        instance_id: instance.map(String::from),
        topics: topics.iter().map(|t| tid(*t)).collect(),
        current: Assignment::new(),
    };
    let members = vec![
        spec("c", None, &[1, 2]),
        spec("a", None, &[1, 2]),
        spec("b", None, &[1, 2]),
    ];
    let topics = [(tid(1), 4), (tid(2), 2)];
    let set = |t: u8, ps: &[i32]| (tid(t), ps.iter().copied().collect::<BTreeSet<i32>>());
    let range = assignor::assign("range", &members, &topics);
    assert_eq!(range["a"], [set(1, &[0, 1]), set(2, &[0])].into());
    assert_eq!(range["b"], [set(1, &[2]), set(2, &[1])].into());
    assert_eq!(range["c"], [set(1, &[3])].into());
    let uniform = assignor::assign("uniform", &members, &topics);
    assert_eq!(uniform["a"], [set(1, &[0, 1])].into());
    assert_eq!(uniform["b"], [set(1, &[2, 3])].into());
    assert_eq!(uniform["c"], [set(2, &[0, 1])].into());
    // Range puts static members first, by instance id.
    let members = vec![spec("a", None, &[1]), spec("z", Some("i0"), &[1])];
    let range = assignor::assign("range", &members, &[(tid(1), 3)]);
    assert_eq!(range["z"], [set(1, &[0, 1])].into());
    assert_eq!(range["a"], [set(1, &[2])].into());
    // Uniform is sticky: a third member takes partitions only from above-quota members.
    let mut a = spec("a", None, &[1]);
    a.current = [set(1, &[0, 1, 2])].into();
    let mut b = spec("b", None, &[1]);
    b.current = [set(1, &[3, 4, 5])].into();
    let got = assignor::assign("uniform", &[a, b, spec("c", None, &[1])], &[(tid(1), 6)]);
    assert_eq!(got["a"], [set(1, &[0, 1])].into());
    assert_eq!(got["b"], [set(1, &[3, 4])].into());
    assert_eq!(got["c"], [set(1, &[2, 5])].into());
    // Different subscriptions: every partition to a subscribed member, balanced.
    let got = assignor::assign(
        "uniform",
        &[spec("a", None, &[1]), spec("b", None, &[1, 2])],
        &[(tid(1), 2), (tid(2), 2)],
    );
    let sizes: Vec<usize> = got
        .values()
        .map(|a| a.values().map(BTreeSet::len).sum())
        .collect();
    assert_eq!(sizes, vec![2, 2]);
    assert_eq!(got["b"][&tid(2)], BTreeSet::from([0, 1]));
}

#[test]
fn invalid_heartbeats_are_refused_as_kafka_does() {
    let mut h = Harness::new();
    let img = image(&[("t", 1, 2)]);
    let code = |h: &mut Harness, r| result(h, r).error;
    assert_eq!(
        code(&mut h, hb("a", 0, &img)),
        42,
        "join without its fields"
    );
    assert_eq!(
        code(&mut h, join("", &["t"], &img)),
        42,
        "v1 without a member id"
    );
    assert_eq!(
        code(&mut h, owning(join("a", &["t"], &img), &[(1, &[0])])),
        42,
        "owned partitions on join"
    );
    assert_eq!(code(&mut h, hb("a", -3, &img)), 42);
    assert_eq!(code(&mut h, hb("a", 5, &img)), 69, "unknown group");
    let sticky = ConsumerHeartbeat {
        server_assignor: Some("sticky".into()),
        ..join("a", &["t"], &img)
    };
    assert_eq!(code(&mut h, sticky), 112);
    let range = ConsumerHeartbeat {
        server_assignor: Some("range".into()),
        ..join("a", &["t"], &img)
    };
    assert_eq!(code(&mut h, range), 0);
    assert_eq!(code(&mut h, hb("a", 2, &img)), 110, "epoch ahead");
    assert_eq!(code(&mut h, hb("x", 1, &img)), 25, "unknown member");
    // group.consumer.max.size.
    let mut cfg = config();
    cfg.consumer.max_size = 1;
    let mut h = Harness::with_config(cfg);
    assert_eq!(code(&mut h, join("a", &["t"], &img)), 0);
    assert_eq!(code(&mut h, join("b", &["t"], &img)), 81);
}

#[test]
fn offsets_classic_groups_and_listing() {
    let mut h = Harness::new();
    let img = image(&[("t", 1, 2)]);
    // An empty classic group with offsets becomes a consumer group; its offsets stay.
    let commit = |epoch: i32, member: &str, version: i16| {
        Request::OffsetCommit(OffsetCommit {
            group_id: "g".into(),
            generation_id: epoch,
            member_id: member.into(),
            group_instance_id: None,
            retention_time_ms: -1,
            partitions: vec![CommitPartition {
                topic: "t".into(),
                partition: 0,
                offset: 7,
                leader_epoch: -1,
                metadata: None,
            }],
            version,
        })
    };
    let codes = |r: Response| -> Vec<i16> {
        match r {
            Response::OffsetCommit { partitions } => partitions.into_iter().map(|p| p.2).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(codes(h.call(commit(-1, "", 9))), vec![0]);
    assert!(h.coord.group("g").is_some());
    let r = result(&mut h, join("a", &["t"], &img));
    assert_eq!((r.error, r.member_epoch), (0, 1));
    assert!(h.coord.group("g").is_none(), "the classic group is gone");
    assert_eq!(
        h.coord.committed_offset("g", "t", 0).map(|o| o.offset),
        Some(7)
    );
    // Commits are checked against the member epoch.
    assert_eq!(codes(h.call(commit(0, "a", 9))), vec![113]);
    assert_eq!(codes(h.call(commit(1, "a", 8))), vec![35]);
    assert_eq!(codes(h.call(commit(1, "x", 9))), vec![25]);
    assert_eq!(codes(h.call(commit(1, "a", 9))), vec![0]);
    // A classic member joining a consumer group with members is given a member id to
    // rejoin with, and then joins as a classic member (tests/migration.rs).
    let mut j = join_req("g", "", "classic");
    j.version = 5;
    let (id, out) = h.send(Request::Join(j));
    assert_eq!(join_result(response(&out, id)).error, 79);
    // ListGroups shows the type; DeleteGroups refuses a group with members.
    let listed = h.call(Request::List {
        states: vec![],
        types: vec!["consumer".into()],
    });
    let Response::List { groups, .. } = listed else {
        panic!()
    };
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.group_id.as_str(), g.group_type.as_str(), g.state.as_str()))
            .collect::<Vec<_>>(),
        vec![("g", "consumer", "Stable")]
    );
    let del = h.call(Request::Delete {
        groups: vec!["g".into()],
    });
    assert_eq!(
        del,
        Response::Delete {
            results: vec![("g".into(), 68)]
        }
    );
    // Once the member left, DeleteGroups removes the group and its offsets.
    result(&mut h, hb("a", -1, &img));
    let del = h.call(Request::Delete {
        groups: vec!["g".into()],
    });
    assert_eq!(
        del,
        Response::Delete {
            results: vec![("g".into(), 0)]
        }
    );
    assert!(h.coord.consumer_group("g").is_none());
    assert_eq!(h.coord.committed_offset("g", "t", 0), None);
    let fresh = h.replayed();
    assert!(fresh.consumer_group("g").is_none() && fresh.group("g").is_none());
    // Every consumer record replays.
    for r in &h.log {
        if let Ok(RecordKey::Consumer(k)) = RecordKey::decode(&r.key) {
            assert_eq!(k.group(), "g");
            assert!(matches!(
                k,
                ConsumerKey::GroupEpoch { .. }
                    | ConsumerKey::PartitionMetadata { .. }
                    | ConsumerKey::MemberMetadata { .. }
                    | ConsumerKey::TargetAssignmentEpoch { .. }
                    | ConsumerKey::TargetAssignmentMember { .. }
                    | ConsumerKey::CurrentAssignment { .. }
            ));
        }
    }
}

#[test]
fn describe_groups_of_a_consumer_group_says_it_is_not_a_classic_group() {
    let mut h = Harness::new();
    let img = image(&[("t", 1, 2)]);
    result(&mut h, join("a", &["t"], &img));
    // GROUP_ID_NOT_FOUND (the API answers it from DescribeGroups v6, Dead before).
    match h.call(Request::Describe {
        groups: vec!["g".into()],
    }) {
        Response::Describe { groups } => {
            assert_eq!((groups[0].error, groups[0].state.as_str()), (69, "Dead"));
            assert!(groups[0].members.is_empty());
        }
        other => panic!("{other:?}"),
    }
}
