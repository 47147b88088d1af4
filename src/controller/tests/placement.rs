use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::controller::placement::{place, Rng, UsableBroker};

fn brokers(spec: &[(i32, Option<&str>)]) -> Vec<UsableBroker> {
    spec.iter()
        .map(|(id, rack)| UsableBroker {
            id: *id,
            rack: rack.map(str::to_string),
        })
        .collect()
}

#[test]
fn replicas_are_distinct_and_leaders_round_robin() {
    let b = brokers(&[(1, None), (2, None), (3, None), (4, None)]);
    for seed in 0..20 {
        let placed = place(&mut Rng::new(seed), &b, 8, 3).unwrap();
        let mut leaders = BTreeMap::new();
        let mut replicas_per_broker = BTreeMap::new();
        for r in &placed {
            assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 3, "{r:?}");
            *leaders.entry(r[0]).or_insert(0) += 1;
            for b in r {
                *replicas_per_broker.entry(*b).or_insert(0) += 1;
            }
        }
        // 8 partitions over 4 brokers: each leads 2 and holds 6 replicas.
        assert_eq!(
            leaders,
            BTreeMap::from([(1, 2), (2, 2), (3, 2), (4, 2)]),
            "seed {seed}"
        );
        assert_eq!(
            replicas_per_broker,
            BTreeMap::from([(1, 6), (2, 6), (3, 6), (4, 6)]),
            "seed {seed}"
        );
    }
}

#[test]
fn replicas_go_to_distinct_racks_while_racks_last() {
    let b = brokers(&[
        (1, Some("a")),
        (2, Some("a")),
        (3, Some("b")),
        (4, Some("b")),
        (5, Some("c")),
        (6, Some("c")),
    ]);
    let rack = |id: i32| b.iter().find(|x| x.id == id).unwrap().rack.clone();
    for seed in 0..20 {
        for r in place(&mut Rng::new(seed), &b, 12, 3).unwrap() {
            let racks: BTreeSet<_> = r.iter().map(|id| rack(*id)).collect();
            assert_eq!(racks.len(), 3, "seed {seed}: {r:?}");
        }
        // More replicas than racks: every rack still holds one.
        for r in place(&mut Rng::new(seed), &b, 6, 4).unwrap() {
            let racks: BTreeSet<_> = r.iter().map(|id| rack(*id)).collect();
            assert_eq!(racks.len(), 3, "seed {seed}: {r:?}");
            assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 4);
        }
    }
}

#[test]
fn the_same_seed_places_the_same_way() {
    let b = brokers(&[(1, None), (2, None), (3, None)]);
    let a = place(&mut Rng::new(9), &b, 10, 2).unwrap();
    assert_eq!(a, place(&mut Rng::new(9), &b, 10, 2).unwrap());
    let starts: BTreeSet<i32> = (0..10)
        .map(|seed| place(&mut Rng::new(seed), &b, 1, 1).unwrap()[0][0])
        .collect();
    assert!(starts.len() > 1, "the start is random");
}

#[test]
fn placement_errors_are_kafkas() {
    let b = brokers(&[(1, None), (2, None)]);
    assert_eq!(
        place(&mut Rng::new(1), &b, 1, 3),
        Err("The target replication factor of 3 cannot be reached because only 2 broker(s) are registered.".into())
    );
    assert_eq!(
        place(&mut Rng::new(1), &[], 1, 1),
        Err("All brokers are currently fenced.".into())
    );
    assert_eq!(
        place(&mut Rng::new(1), &b, 1, 0),
        Err("Invalid replication factor 0: the replication factor must be positive.".into())
    );
}

#[test]
fn the_controller_places_on_racks_and_skips_fenced_and_shutting_down_brokers() {
    let mut c = Cluster::new();
    c.start_in_racks(&[(1, "a"), (2, "a"), (3, "b"), (4, "b"), (5, "c")]);
    c.register(6, Some("c")); // fenced
                              // 5 leads something, so a shutdown request makes it shut down in a controlled way.
    c.create("led", &[&[5]]);
    assert!(c.heartbeat_with(5, true).in_controlled_shutdown);
    let r = c.c.create_topics(
        &c.image,
        &[CreatableTopic {
            name: "t".into(),
            num_partitions: 10,
            replication_factor: 2,
            assignments: vec![],
            configs: vec![],
        }],
        false,
    );
    let rack = |id: i32| c.image.broker(id).unwrap().rack.clone();
    let mut n = 0;
    for rec in &r.records {
        if let MetadataRecord::Partition { replicas, .. } = rec {
            n += 1;
            assert!(replicas.iter().all(|b| (1..=4).contains(b)), "{replicas:?}");
            assert_ne!(rack(replicas[0]), rack(replicas[1]), "{replicas:?}");
        }
    }
    assert_eq!(n, 10);
}
