//! KIP-848 consumer groups (`group.protocol=consumer`): librdkafka (the rdkafka crate) and
//! raw ConsumerGroupHeartbeat requests against the real binary.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::Broker;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
    GroupId, ListGroupsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// Fast heartbeats and a short session for tests (Kafka's min/max bounds lowered to allow it).
const FAST: &[&str] = &[
    "num.partitions=6",
    "group.consumer.heartbeat.interval.ms=300",
    "group.consumer.min.heartbeat.interval.ms=100",
    "group.consumer.session.timeout.ms=4000",
    "group.consumer.max.heartbeat.interval.ms=15000",
    "group.consumer.min.session.timeout.ms=1000",
];

fn produce(b: &Broker, topic: &str, n: usize, tag: &str) {
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for i in 0..n {
        p.send(
            BaseRecord::to(topic)
                .key(&format!("k{i}"))
                .payload(&format!("{tag}-{i}")),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn consumer(b: &Broker, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("group.id", group)
        .set("group.protocol", "consumer")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap()
}

fn partitions(c: &BaseConsumer) -> BTreeSet<i32> {
    c.assignment()
        .map(|a| a.elements().iter().map(|e| e.partition()).collect())
        .unwrap_or_default()
}

/// Consumes and commits (synchronously, after each record) with every consumer, recording
/// each (partition, offset) seen, until `until` holds on the assignments or 40 s pass.
type Seen = BTreeMap<(i32, i64), Vec<usize>>;

fn run(
    cs: &[(usize, &BaseConsumer)],
    seen: &mut Seen,
    until: impl Fn(&[BTreeSet<i32>], &Seen) -> bool,
) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        for (id, c) in cs {
            for _ in 0..20 {
                match c.poll(Duration::from_millis(20)) {
                    Some(Ok(m)) => {
                        seen.entry((m.partition(), m.offset()))
                            .or_default()
                            .push(*id);
                        c.commit_message(&m, CommitMode::Sync).unwrap();
                    }
                    Some(Err(e)) => panic!("consumer error: {e}"),
                    None => break,
                }
            }
        }
        let sizes: Vec<BTreeSet<i32>> = cs.iter().map(|(_, c)| partitions(c)).collect();
        if until(&sizes, seen) {
            return sizes;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: assignments {sizes:?}, {} records seen",
            seen.len()
        );
    }
}

/// Disjoint assignments covering partitions 0–5 exactly, each of the given sizes.
fn split(sizes: &[usize]) -> impl Fn(&[BTreeSet<i32>], &Seen) -> bool + '_ {
    move |a, _| {
        let all: BTreeSet<i32> = a.iter().flatten().copied().collect();
        let total: usize = a.iter().map(BTreeSet::len).sum();
        let mut got: Vec<usize> = a.iter().map(BTreeSet::len).collect();
        got.sort();
        let mut want = sizes.to_vec();
        want.sort();
        total == 6 && all == (0..6).collect() && got == want
    }
}

#[test]
fn members_share_partitions_and_consume_exactly_once_across_scale_out_and_in() {
    let b = Broker::start(FAST);
    produce(&b, "cp", 300, "a");
    let c1 = consumer(&b, "g-cp");
    c1.subscribe(&["cp"]).unwrap();
    let mut seen = BTreeMap::new();
    run(&[(1, &c1)], &mut seen, |a, s| {
        a[0].len() == 6 && s.len() >= 60
    });

    // Scale out to two, then three members: partitions are revoked before reassignment.
    let c2 = consumer(&b, "g-cp");
    c2.subscribe(&["cp"]).unwrap();
    let a = run(&[(1, &c1), (2, &c2)], &mut seen, split(&[3, 3]));
    assert!(a[0].is_disjoint(&a[1]));
    let c3 = consumer(&b, "g-cp");
    c3.subscribe(&["cp"]).unwrap();
    run(
        &[(1, &c1), (2, &c2), (3, &c3)],
        &mut seen,
        split(&[2, 2, 2]),
    );
    produce(&b, "cp", 300, "b");
    run(&[(1, &c1), (2, &c2), (3, &c3)], &mut seen, |a, s| {
        split(&[2, 2, 2])(a, s) && s.len() == 600
    });

    // Scale in: c3 leaves (epoch -1 on close), the others take its partitions.
    drop(c3);
    run(&[(1, &c1), (2, &c2)], &mut seen, split(&[3, 3]));
    produce(&b, "cp", 60, "c");
    run(&[(1, &c1), (2, &c2)], &mut seen, |a, s| {
        split(&[3, 3])(a, s) && s.len() == 660
    });
    // No record went to two members: a partition is handed over only after its previous
    // owner revoked it (and committed what it consumed).
    let shared: Vec<_> = seen
        .iter()
        .filter(|(_, by)| by.iter().collect::<BTreeSet<_>>().len() != 1)
        .collect();
    assert!(
        shared.is_empty(),
        "records consumed by two members: {shared:?}"
    );
    let again = seen.values().filter(|by| by.len() != 1).count();
    if again > 0 {
        // librdkafka 2.12.1 was seen (once, under load) re-delivering a retained
        // partition's first records to the same member after an incremental rebalance.
        eprintln!("{again} records re-delivered to the same member");
    }
    // Every offset 0..n of every partition, exactly once.
    let mut per: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (p, o) in seen.keys() {
        per.entry(*p).or_default().push(*o);
    }
    for (p, offsets) in &per {
        let n = offsets.len() as i64;
        assert_eq!(offsets, &(0..n).collect::<Vec<_>>(), "partition {p}");
    }
    assert_eq!(per.values().map(Vec::len).sum::<usize>(), 660);

    // ListGroups reports the group's type and state.
    let mut client = b.client();
    let listed = client.call(5, &ListGroupsRequest::default());
    let g = listed
        .groups
        .iter()
        .find(|g| g.group_id.0.as_str() == "g-cp")
        .expect("listed");
    assert_eq!(g.group_type.as_str(), "consumer");
    assert_eq!(g.protocol_type.as_str(), "consumer");
    assert_eq!(g.group_state.as_str(), "Stable");
}

fn heartbeat(group: &str, member: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.into())))
        .with_member_id(StrBytes::from_string(member.into()))
        .with_member_epoch(epoch)
}

fn join(group: &str, member: &str, topics: &[&str]) -> ConsumerGroupHeartbeatRequest {
    heartbeat(group, member, 0)
        .with_rebalance_timeout_ms(5000)
        .with_subscribed_topic_names(Some(
            topics
                .iter()
                .map(|t| TopicName(StrBytes::from_string(t.to_string())))
                .collect(),
        ))
        .with_topic_partitions(Some(vec![]))
}

fn assigned(r: &ConsumerGroupHeartbeatResponse) -> BTreeSet<i32> {
    r.assignment
        .as_ref()
        .map(|a| {
            a.topic_partitions
                .iter()
                .flat_map(|t| t.partitions.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn raw_heartbeats_errors_and_session_expiry_of_a_dead_member() {
    let b = Broker::start(FAST);
    produce(&b, "raw", 6, "r");
    let mut c = b.client();

    // Joining without the required fields: INVALID_REQUEST (42).
    let r: ConsumerGroupHeartbeatResponse = c.call(1, &heartbeat("g-raw", "m-a", 0));
    assert_eq!(r.error_code, 42);
    // v1 requires a client-generated member id.
    let r: ConsumerGroupHeartbeatResponse = c.call(1, &join("g-raw", "", &["raw"]));
    assert_eq!(r.error_code, 42);
    // Unknown group at a non-zero epoch: GROUP_ID_NOT_FOUND (69).
    let r: ConsumerGroupHeartbeatResponse = c.call(1, &heartbeat("g-none", "m-a", 3));
    assert_eq!(r.error_code, 69);
    // Unknown assignor: UNSUPPORTED_ASSIGNOR (112).
    let r: ConsumerGroupHeartbeatResponse = c.call(
        1,
        &join("g-raw", "m-a", &["raw"])
            .with_server_assignor(Some(StrBytes::from_static_str("sticky"))),
    );
    assert_eq!(r.error_code, 112);

    // v0: the coordinator generates the member id. The member gets all 6 partitions.
    let r: ConsumerGroupHeartbeatResponse = c.call(0, &join("g-raw", "", &["raw"]));
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    let member = r.member_id.clone().expect("member id").to_string();
    assert_eq!(member.len(), 22, "a Kafka Uuid string: {member}");
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.heartbeat_interval_ms, 300);
    assert_eq!(assigned(&r), (0..6).collect());
    // A greater epoch is fenced (FENCED_MEMBER_EPOCH, 110); an unknown member is refused.
    let r: ConsumerGroupHeartbeatResponse = c.call(0, &heartbeat("g-raw", &member, 7));
    assert_eq!(r.error_code, 110);
    let r: ConsumerGroupHeartbeatResponse = c.call(0, &heartbeat("g-raw", "nobody", 1));
    assert_eq!(r.error_code, 25);

    // An rdkafka consumer joins: nothing is assigned to it while the raw member (which
    // never acknowledges a revocation) holds every partition...
    let rk = consumer(&b, "g-raw");
    rk.subscribe(&["raw"]).unwrap();
    let t0 = Instant::now();
    while Instant::now() - t0 < Duration::from_millis(1500) {
        let _ = rk.poll(Duration::from_millis(50));
    }
    assert!(partitions(&rk).is_empty());
    // ...until the raw member's session (4 s) expires: then it gets all 6.
    let mut seen = BTreeMap::new();
    let a = run(&[(1, &rk)], &mut seen, |a, _| a[0].len() == 6);
    assert_eq!(a[0], (0..6).collect::<BTreeSet<i32>>());
    assert!(
        t0.elapsed() >= Duration::from_millis(3000),
        "{:?}",
        t0.elapsed()
    );
    // The expired member is gone.
    let r: ConsumerGroupHeartbeatResponse = c.call(0, &heartbeat("g-raw", &member, 1));
    assert_eq!(r.error_code, 25);

    // ConsumerGroupDescribe: one member, epoch, all partitions assigned and targeted.
    let d = c.call(
        1,
        &ConsumerGroupDescribeRequest::default().with_group_ids(vec![
            GroupId(StrBytes::from_static_str("g-raw")),
            GroupId(StrBytes::from_static_str("g-none")),
        ]),
    );
    assert_eq!(d.groups.len(), 2);
    let g = &d.groups[0];
    assert_eq!(g.error_code, 0);
    assert_eq!(g.group_state.as_str(), "Stable");
    assert_eq!(g.assignor_name.as_str(), "uniform");
    assert_eq!(g.members.len(), 1);
    let m = &g.members[0];
    assert_eq!(m.member_epoch, g.assignment_epoch);
    assert_eq!(m.member_type, 1);
    assert_eq!(m.assignment.topic_partitions.len(), 1);
    assert_eq!(
        m.assignment.topic_partitions[0].topic_name.0.as_str(),
        "raw"
    );
    assert_eq!(
        m.assignment.topic_partitions[0].partitions,
        (0..6).collect::<Vec<_>>()
    );
    assert_eq!(m.target_assignment, m.assignment);
    assert_eq!(d.groups[1].error_code, 69);
}

#[test]
fn revocation_is_acknowledged_before_reassignment_and_range_is_exact() {
    let b = Broker::start(FAST);
    produce(&b, "rev", 6, "r");
    let mut c = b.client();
    let range = |r: ConsumerGroupHeartbeatRequest| {
        r.with_server_assignor(Some(StrBytes::from_static_str("range")))
    };
    let r: ConsumerGroupHeartbeatResponse = c.call(1, &range(join("g-rev", "a", &["rev"])));
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    assert_eq!(assigned(&r), (0..6).collect());
    let topic_id = r.assignment.as_ref().unwrap().topic_partitions[0].topic_id;
    let owned = |ps: &[i32]| {
        Some(vec![TopicPartitions::default()
            .with_topic_id(topic_id)
            .with_partitions(ps.to_vec())])
    };
    // b joins: epoch 2; b gets nothing yet (a still owns everything).
    let r: ConsumerGroupHeartbeatResponse = c.call(1, &range(join("g-rev", "b", &["rev"])));
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    assert_eq!(assigned(&r), BTreeSet::new());
    // a heartbeats at epoch 1 owning 0-5: must revoke 3-5 (range: a gets 0-2), stays at 1.
    let r: ConsumerGroupHeartbeatResponse = c.call(
        1,
        &heartbeat("g-rev", "a", 1).with_topic_partitions(owned(&[0, 1, 2, 3, 4, 5])),
    );
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    assert_eq!(assigned(&r), [0, 1, 2].into());
    // b still waits: 3-5 are not released.
    let r: ConsumerGroupHeartbeatResponse = c.call(
        1,
        &heartbeat("g-rev", "b", 2).with_topic_partitions(owned(&[])),
    );
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    assert_eq!(r.assignment, None);
    // a acknowledges the revocation: epoch 2; then b receives 3-5.
    let r: ConsumerGroupHeartbeatResponse = c.call(
        1,
        &heartbeat("g-rev", "a", 1).with_topic_partitions(owned(&[0, 1, 2])),
    );
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    let r: ConsumerGroupHeartbeatResponse = c.call(
        1,
        &heartbeat("g-rev", "b", 2).with_topic_partitions(owned(&[])),
    );
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    assert_eq!(assigned(&r), [3, 4, 5].into());
    // An offset commit with a stale epoch: STALE_MEMBER_EPOCH (113); the current one works.
    let commit = |epoch: i32| {
        use kafka_protocol::messages::offset_commit_request::{
            OffsetCommitRequestPartition, OffsetCommitRequestTopic,
        };
        kafka_protocol::messages::OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g-rev")))
            .with_generation_id_or_member_epoch(epoch)
            .with_member_id(StrBytes::from_static_str("b"))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("rev")))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(3)
                    .with_committed_offset(1)])])
    };
    let r = c.call(9, &commit(1));
    assert_eq!(r.topics[0].partitions[0].error_code, 113);
    let r = c.call(9, &commit(2));
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    // A v8 commit from a consumer-protocol member: UNSUPPORTED_VERSION (35).
    let r = c.call(8, &commit(2));
    assert_eq!(r.topics[0].partitions[0].error_code, 35);
    // b leaves (epoch -1): a gets everything back at epoch 4 (leave bumps to 3, reassign).
    let r: ConsumerGroupHeartbeatResponse = c.call(1, &heartbeat("g-rev", "b", -1));
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    let r: ConsumerGroupHeartbeatResponse = c.call(
        1,
        &heartbeat("g-rev", "a", 2).with_topic_partitions(owned(&[0, 1, 2])),
    );
    assert_eq!((r.error_code, r.member_epoch), (0, 3));
    assert_eq!(assigned(&r), (0..6).collect());
}

#[test]
fn commits_and_group_state_survive_kill9_and_a_regex_subscription_picks_up_new_topics() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut b = Broker::start_in(dir.path(), port, FAST);
    produce(&b, "re-one", 60, "x");
    let c = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("group.id", "g-re")
        .set("group.protocol", "consumer")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create::<BaseConsumer>()
        .unwrap();
    c.subscribe(&["^re-.*"]).unwrap();
    let mut seen = BTreeMap::new();
    run(&[(1, &c)], &mut seen, |_, s| s.len() == 60);
    // A new topic matching the regex is picked up at the next heartbeat: the group's
    // target and the member's assignment (as the coordinator reconciled it) cover both.
    produce(&b, "re-two", 12, "y");
    let mut client = b.client();
    let deadline = Instant::now() + Duration::from_secs(20);
    let topics = loop {
        let _ = c.poll(Duration::from_millis(50));
        let d = client.call(
            1,
            &ConsumerGroupDescribeRequest::default()
                .with_group_ids(vec![GroupId(StrBytes::from_static_str("g-re"))]),
        );
        let m = &d.groups[0].members[0];
        // librdkafka sends its regex subscriptions joined, each in parentheses.
        assert_eq!(
            m.subscribed_topic_regex.as_ref().map(|r| r.as_str()),
            Some("(^re-.*)")
        );
        let topics: BTreeMap<String, Vec<i32>> = m
            .assignment
            .topic_partitions
            .iter()
            .map(|t| (t.topic_name.0.to_string(), t.partitions.clone()))
            .collect();
        if topics.len() == 2 || Instant::now() > deadline {
            break topics;
        }
    };
    let all: Vec<i32> = (0..6).collect();
    assert_eq!(
        topics,
        [
            ("re-one".to_string(), all.clone()),
            ("re-two".to_string(), all)
        ]
        .into()
    );
    drop(c);

    // kill -9 and restart: the committed offsets and the group come back from the log.
    b.kill9();
    let b = Broker::start_in(dir.path(), port, FAST);
    produce(&b, "re-one", 6, "z");
    let c = consumer(&b, "g-re");
    c.subscribe(&["re-one"]).unwrap();
    let mut after = BTreeMap::new();
    run(&[(1, &c)], &mut after, |_, s| s.len() >= 6);
    std::thread::sleep(Duration::from_millis(500));
    run(&[(1, &c)], &mut after, |_, _| true);
    assert_eq!(after.len(), 6, "only the 6 new records: {after:?}");
    let mut tpl = TopicPartitionList::new();
    for p in 0..6 {
        tpl.add_partition("re-one", p);
    }
    std::thread::sleep(Duration::from_millis(200));
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    let total: i64 = committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(total, 66);
}
