use super::*;
use crate::controller::errors::*;

fn set_topic_config(c: &mut Cluster, topic: &str, name: &str, value: &str) {
    let r = c.c.incremental_alter_configs(
        &c.image,
        &[IncrementalAlterResource {
            resource: ConfigResource::Topic(topic.into()),
            configs: vec![AlterableConfig {
                name: name.into(),
                op: AlterConfigOp::Set,
                value: Some(value.into()),
            }],
        }],
        false,
    );
    assert_eq!(r.response[0].result, Ok(()));
    c.commit(&r.records);
}

/// Fence `id` by letting its session expire while the others heartbeat; the tick's records.
fn expire(c: &mut Cluster, id: i32) -> Vec<MetadataRecord> {
    c.advance(TIMEOUT + 1);
    c.heartbeat_all_but(&[id]);
    c.tick()
}

fn one(topic: &str, partitions: &[i32]) -> Vec<TopicPartitions> {
    vec![TopicPartitions {
        topic: topic.into(),
        partitions: partitions.to_vec(),
    }]
}

fn results(r: &[TopicPartitionsResult]) -> Vec<(String, i32, Result<(), i16>)> {
    r.iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.topic.clone(),
                    p.partition,
                    p.result.clone().map_err(|e| e.code),
                )
            })
        })
        .collect()
}

#[test]
fn the_new_leader_is_the_first_in_sync_replica_in_replica_order() {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    let t = c.create("t", &[&[1, 2, 3]]);
    // 2 falls out of sync.
    alter_isr(&mut c, "t", 0, &[1, 3]).unwrap();
    let records = expire(&mut c, 1);
    assert_eq!(records[0], pc(t, 0).leader(3).isr(&[3]).build());
    assert_eq!(summary(&c.part("t", 0)), (3, 1, 2, vec![3]));
}

#[test]
fn an_out_of_sync_replica_is_elected_only_when_unclean_election_is_enabled() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    let t = c.create("t", &[&[1, 2]]);
    expire(&mut c, 2);
    assert_eq!(c.part("t", 0).isr, vec![1]);
    // 2 comes back, but is not in sync yet when 1 dies.
    c.register(2, None);
    c.heartbeat(2);
    let records = expire(&mut c, 1);
    assert_eq!(records[0], pc(t, 0).leader(-1).build());
    assert_eq!(summary(&c.part("t", 0)), (-1, 1, 2, vec![1]));
    assert_eq!(c.tick(), vec![]);
    // Enabling unclean election on the topic elects 2 at the next tick, ISR [2].
    set_topic_config(&mut c, "t", "unclean.leader.election.enable", "true");
    assert_eq!(c.tick(), vec![pc(t, 0).leader(2).isr(&[2]).build()]);
    assert_eq!(summary(&c.part("t", 0)), (2, 2, 3, vec![2]));
}

#[test]
fn the_broker_default_enables_unclean_election_unless_the_topic_disables_it() {
    let mut c = Cluster::with(ControllerConfig {
        unclean_leader_election_enable: true,
        ..config()
    });
    c.start(&[1, 2]);
    let t = c.create("t", &[&[1, 2]]);
    let u = c.create("u", &[&[1, 2]]);
    set_topic_config(&mut c, "u", "unclean.leader.election.enable", "false");
    expire(&mut c, 2);
    c.register(2, None);
    c.heartbeat(2);
    let records = expire(&mut c, 1);
    assert_eq!(
        records[..2],
        [
            pc(t, 0).leader(2).isr(&[2]).build(),
            pc(u, 0).leader(-1).build()
        ]
    );
}

#[test]
fn preferred_election_moves_leadership_back_to_the_first_replica() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    let t = c.create("t", &[&[1, 2], &[2, 1]]);
    let before =
        c.c.elect_leaders(&c.image, ElectionType::Preferred, Some(&one("t", &[0])));
    assert_eq!(before.records, vec![]);
    assert_eq!(
        before.response[0].partitions[0].result,
        Err(ApiError::new(
            ELECTION_NOT_NEEDED,
            "Leader election not needed for topic partition."
        ))
    );
    expire(&mut c, 1);
    assert_eq!(summary(&c.part("t", 0)), (2, 1, 1, vec![2]));
    // The preferred replica is fenced.
    let r =
        c.c.elect_leaders(&c.image, ElectionType::Preferred, Some(&one("t", &[0])));
    assert_eq!(
        results(&r.response),
        vec![("t".into(), 0, Err(PREFERRED_LEADER_NOT_AVAILABLE))]
    );
    // Back and in sync again.
    c.register(1, None);
    c.heartbeat(1);
    alter_isr(&mut c, "t", 0, &[2, 1]).unwrap();
    let r = c.c.elect_leaders(
        &c.image,
        ElectionType::Preferred,
        Some(&[
            TopicPartitions {
                topic: "t".into(),
                partitions: vec![0, 1, 7],
            },
            TopicPartitions {
                topic: "nope".into(),
                partitions: vec![0],
            },
        ]),
    );
    assert_eq!(r.records, vec![pc(t, 0).leader(1).build()]);
    assert_eq!(
        results(&r.response),
        vec![
            ("t".into(), 0, Ok(())),
            ("t".into(), 1, Err(ELECTION_NOT_NEEDED)),
            ("t".into(), 7, Err(UNKNOWN_TOPIC_OR_PARTITION)),
            ("nope".into(), 0, Err(UNKNOWN_TOPIC_OR_PARTITION)),
        ]
    );
    assert_eq!(
        r.response[0].partitions[2].result,
        Err(ApiError::new(
            UNKNOWN_TOPIC_OR_PARTITION,
            "No such partition as t-7"
        ))
    );
    assert_eq!(
        r.response[1].partitions[0].result,
        Err(ApiError::new(
            UNKNOWN_TOPIC_OR_PARTITION,
            "No such topic as nope"
        ))
    );
    c.commit(&r.records);
    assert_eq!(summary(&c.part("t", 0)), (1, 2, 3, vec![2, 1]));
}

#[test]
fn electing_every_partition_answers_only_those_that_needed_it() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    let t = c.create("t", &[&[1, 2], &[2, 1]]);
    c.create("u", &[&[2, 1]]);
    // t-0's leadership moves to 2 by a controlled shutdown of 1; 1 comes back in sync.
    c.heartbeat_with(1, true);
    c.heartbeat(2);
    c.advance(TIMEOUT + 1);
    c.heartbeat(2);
    c.tick();
    c.register(1, None);
    c.heartbeat(1);
    alter_isr(&mut c, "t", 0, &[2, 1]).unwrap();
    let r = c.c.elect_leaders(&c.image, ElectionType::Preferred, None);
    assert_eq!(r.records, vec![pc(t, 0).leader(1).build()]);
    assert_eq!(results(&r.response), vec![("t".into(), 0, Ok(())),]);
    assert_eq!(r.response.len(), 2, "every topic is listed");
}

#[test]
fn an_unclean_election_by_request_picks_a_live_replica_outside_the_isr() {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    let t = c.create("t", &[&[1, 2, 3]]);
    let led =
        c.c.elect_leaders(&c.image, ElectionType::Unclean, Some(&one("t", &[0])));
    assert_eq!(
        results(&led.response),
        vec![("t".into(), 0, Err(ELECTION_NOT_NEEDED))]
    );
    expire(&mut c, 3);
    expire(&mut c, 2);
    // 2 and 3 return out of sync; the ISR is [1] and 1 dies.
    for id in [2, 3] {
        c.register(id, None);
        c.heartbeat(id);
    }
    expire(&mut c, 1);
    assert_eq!(summary(&c.part("t", 0)).0, -1);
    let r =
        c.c.elect_leaders(&c.image, ElectionType::Unclean, Some(&one("t", &[0])));
    assert_eq!(r.records, vec![pc(t, 0).leader(2).isr(&[2]).build()]);
    assert_eq!(results(&r.response), vec![("t".into(), 0, Ok(()))]);
    c.commit(&r.records);
    assert_eq!(c.part("t", 0).isr, vec![2]);
}

#[test]
fn an_unclean_election_without_a_live_replica_fails() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    c.create("t", &[&[1]]);
    expire(&mut c, 1);
    let r =
        c.c.elect_leaders(&c.image, ElectionType::Unclean, Some(&one("t", &[0])));
    assert_eq!(r.records, vec![]);
    assert_eq!(
        r.response[0].partitions[0].result,
        Err(ApiError::new(
            ELIGIBLE_LEADERS_NOT_AVAILABLE,
            "Eligible topic partition leaders are not available."
        ))
    );
}

#[test]
fn auto_rebalance_moves_leaders_back_to_preferred_replicas_when_due() {
    let mut c = Cluster::with(ControllerConfig {
        auto_leader_rebalance_enable: true,
        leader_imbalance_check_interval_ms: 60_000,
        ..config()
    });
    c.start(&[1, 2]);
    let t = c.create("t", &[&[1, 2]]);
    assert_eq!(c.tick(), vec![]);
    expire(&mut c, 1);
    c.register(1, None);
    c.heartbeat(1);
    alter_isr(&mut c, "t", 0, &[2, 1]).unwrap();
    // Not due yet (the first check was scheduled at the first tick).
    c.heartbeat_all_but(&[]);
    assert_eq!(c.tick(), vec![]);
    c.advance(60_000);
    c.heartbeat_all_but(&[]);
    assert_eq!(c.tick(), vec![pc(t, 0).leader(1).build()]);
    assert_eq!(summary(&c.part("t", 0)).0, 1);
}

#[test]
fn auto_rebalance_does_nothing_when_disabled() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    c.create("t", &[&[1, 2]]);
    expire(&mut c, 1);
    c.register(1, None);
    c.heartbeat(1);
    alter_isr(&mut c, "t", 0, &[2, 1]).unwrap();
    c.advance(10_000_000);
    c.heartbeat_all_but(&[]);
    assert_eq!(c.tick(), vec![]);
    assert_eq!(summary(&c.part("t", 0)).0, 2);
}
