use super::*;
use proptest::prelude::*;

fn topics(name: &str) -> Option<i32> {
    match name {
        "six" => Some(6),
        "one" => Some(1),
        "two" => Some(2),
        _ => None,
    }
}

fn join(id: &str, subs: &[&str]) -> Heartbeat {
    Heartbeat {
        member_id: id.into(),
        member_epoch: 0,
        subscribed_topic_names: Some(subs.iter().map(|s| s.to_string()).collect()),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        ..Default::default()
    }
}

fn beat(id: &str, epoch: i32) -> Heartbeat {
    Heartbeat {
        member_id: id.into(),
        member_epoch: epoch,
        ..Default::default()
    }
}

fn parts(a: &Option<Assignment>, topic: &str) -> Vec<i32> {
    a.as_ref()
        .and_then(|a| a.get(topic).cloned())
        .unwrap_or_default()
}

#[test]
fn a_lone_member_gets_every_partition_then_nulls_while_nothing_changes() {
    let mut g = ShareGroup::new("g", GroupSettings::default());
    let r = g.heartbeat(&join("a", &["six"]), &topics, 0).unwrap();
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.heartbeat_interval_ms, 5000);
    assert_eq!(parts(&r.assignment, "six"), vec![0, 1, 2, 3, 4, 5]);
    let r = g.heartbeat(&beat("a", 1), &topics, 100).unwrap();
    assert_eq!((r.member_epoch, r.assignment), (1, None));
    assert_eq!(g.state(), "Stable");
}

#[test]
fn a_second_member_takes_half_and_the_first_keeps_its_own() {
    let mut g = ShareGroup::new("g", GroupSettings::default());
    g.heartbeat(&join("a", &["six"]), &topics, 0).unwrap();
    let r = g.heartbeat(&join("b", &["six"]), &topics, 0).unwrap();
    assert_eq!(r.member_epoch, 2);
    let b = parts(&r.assignment, "six");
    assert_eq!(b.len(), 3);
    // a learns at its next heartbeat (no revocation step), with the new epoch.
    let r = g.heartbeat(&beat("a", 1), &topics, 10).unwrap();
    assert_eq!(r.member_epoch, 2);
    let a = parts(&r.assignment, "six");
    assert_eq!(a, vec![0, 1, 2], "a keeps the first of what it had");
    assert_eq!(b, vec![3, 4, 5]);
}

#[test]
fn more_members_than_partitions_share_them() {
    let mut g = ShareGroup::new("g", GroupSettings::default());
    for id in ["a", "b", "c"] {
        g.heartbeat(&join(id, &["two"]), &topics, 0).unwrap();
    }
    let got: Vec<Vec<i32>> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            let e = g.members().find(|m| m.member_id == *id).unwrap();
            e.assignment.get("two").cloned().unwrap_or_default()
        })
        .collect();
    assert_eq!(got, vec![vec![0], vec![1], vec![0]]);
}

#[test]
fn errors_as_kafka_answers_them() {
    let mut g = ShareGroup::new(
        "g",
        GroupSettings {
            max_size: 1,
            ..GroupSettings::default()
        },
    );
    assert_eq!(
        g.heartbeat(&beat("", 0), &topics, 0).unwrap_err().code,
        INVALID_REQUEST
    );
    let first = g.heartbeat(&beat("a", 0), &topics, 0).unwrap_err();
    assert_eq!(
        (first.code, first.message.as_str()),
        (
            INVALID_REQUEST,
            "SubscribedTopicNames must be set in first request."
        )
    );
    assert_eq!(
        g.heartbeat(&beat("a", -2), &topics, 0).unwrap_err().code,
        INVALID_REQUEST
    );
    assert_eq!(
        g.heartbeat(&beat("x", 3), &topics, 0).unwrap_err().code,
        UNKNOWN_MEMBER_ID
    );
    g.heartbeat(&join("a", &["six"]), &topics, 0).unwrap();
    assert_eq!(
        g.heartbeat(&beat("a", 7), &topics, 0).unwrap_err().code,
        FENCED_MEMBER_EPOCH
    );
    assert_eq!(
        g.heartbeat(&join("b", &["six"]), &topics, 0)
            .unwrap_err()
            .code,
        GROUP_MAX_SIZE_REACHED
    );
}

#[test]
fn leaving_and_expiring_members_hand_their_partitions_back() {
    let mut g = ShareGroup::new("g", GroupSettings::default());
    g.heartbeat(&join("a", &["six"]), &topics, 0).unwrap();
    g.heartbeat(&join("b", &["six"]), &topics, 1000).unwrap();
    let r = g.heartbeat(&beat("a", -1), &topics, 2000).unwrap();
    assert_eq!(r.member_epoch, -1);
    let r = g.heartbeat(&beat("b", 2), &topics, 2000).unwrap();
    assert_eq!(parts(&r.assignment, "six"), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(g.next_deadline(), Some(47_000));
    assert_eq!(g.expire(46_999, &topics), Vec::<String>::new());
    assert_eq!(g.expire(47_000, &topics), vec!["b".to_string()]);
    assert!(g.is_empty());
    assert_eq!(g.state(), "Empty");
}

#[test]
fn a_topic_created_later_or_grown_is_assigned_at_the_next_heartbeat() {
    let mut g = ShareGroup::new("g", GroupSettings::default());
    let r = g.heartbeat(&join("a", &["later"]), &topics, 0).unwrap();
    assert_eq!(r.assignment, Some(Assignment::new()));
    let exists = |t: &str| (t == "later").then_some(3);
    let r = g
        .heartbeat(&beat("a", r.member_epoch), &exists, 10)
        .unwrap();
    assert_eq!(parts(&r.assignment, "later"), vec![0, 1, 2]);
}

proptest! {
    #[test]
    fn every_partition_is_assigned_and_balanced(n_members in 1usize..9, n_parts in 1i32..13, order in proptest::collection::vec(0usize..9, 0..20)) {
        let count = |t: &str| (t == "t").then_some(n_parts);
        let mut g = ShareGroup::new("g", GroupSettings::default());
        for i in 0..n_members {
            g.heartbeat(&join(&format!("m{i}"), &["t"]), &count, 0).unwrap();
        }
        // Some members leave and rejoin in a random order.
        for i in order {
            let id = format!("m{}", i % n_members);
            g.heartbeat(&beat(&id, -1), &count, 0).unwrap();
            g.heartbeat(&join(&id, &["t"]), &count, 0).unwrap();
        }
        let sizes: Vec<usize> = g.members().map(|m| m.assignment.get("t").map_or(0, Vec::len)).collect();
        let all: BTreeSet<i32> = g.members().flat_map(|m| m.assignment.get("t").cloned().unwrap_or_default()).collect();
        prop_assert_eq!(all, (0..n_parts).collect::<BTreeSet<i32>>());
        prop_assert!(sizes.iter().all(|s| *s >= 1));
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        if n_members as i32 <= n_parts {
            let total: usize = sizes.iter().sum();
            prop_assert_eq!(total as i32, n_parts, "no partition held twice");
        }
    }
}
