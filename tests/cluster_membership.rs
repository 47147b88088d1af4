//! Membership of a three-node cluster (issue 8, item 6), separate processes over loopback:
//! formation and what Metadata shows, replica placement and INVALID_REPLICATION_FACTOR, a
//! follower leaving and rejoining the ISR (stopped, or paused so that only replica lag can
//! drop it), and the active controller killed.
//!

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::cluster::{call, code, produce_raw, topic_name, Cluster};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, FetchRequest, FetchResponse,
};
use kafka_protocol::records::Compression;

fn values(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect()
}

fn sorted(v: &[i32]) -> Vec<i32> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn without(ids: &[i32], gone: i32) -> Vec<i32> {
    ids.iter().copied().filter(|&i| i != gone).collect()
}

#[test]
fn three_nodes_form_a_cluster_and_every_node_lists_every_broker_and_partition() {
    let c = Cluster::start(3, &[]);
    let want: Vec<(i32, String)> = c.ids().iter().map(|&i| (i, c.advertised_addr(i))).collect();
    let views = c.views(Some(&[])).unwrap();
    assert_eq!(views.len(), 3);
    let controller = views[0].controller_id;
    let cluster_id = views[0].cluster_id.clone();
    assert!((1..=3).contains(&controller), "controller {controller}");
    assert_eq!(
        cluster_id.as_ref().map(|s| s.len()),
        Some(22),
        "{cluster_id:?}"
    );
    for v in &views {
        assert_eq!(
            v.brokers, want,
            "node {}: brokers at their advertised addresses",
            v.from
        );
        assert_eq!(v.controller_id, controller, "node {}", v.from);
        assert_eq!(v.cluster_id, cluster_id, "node {}: one cluster id", v.from);
    }
    for id in c.ids() {
        let r: DescribeClusterResponse = call(
            &c.direct_addr(id),
            0,
            &DescribeClusterRequest::default(),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(r.error_code, code::NONE);
        let mut brokers: Vec<(i32, String)> = r
            .brokers
            .iter()
            .map(|b| (b.broker_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        brokers.sort();
        assert_eq!(brokers, want, "DescribeCluster from node {id}");
        assert_eq!(r.cluster_id.as_str(), cluster_id.as_deref().unwrap());
    }

    // Three partitions of replication factor 3: every broker holds each, leads one.
    let states = c.create_topic("spread", 3, 3, &[]);
    for (p, s) in states.iter().enumerate() {
        assert_eq!(s.error_code, code::NONE);
        assert_eq!(sorted(&s.replicas), vec![1, 2, 3], "partition {p}: {s:?}");
        assert_eq!(
            s.leader, s.replicas[0],
            "partition {p}: the preferred replica leads"
        );
        assert_eq!(
            s.isr, s.replicas,
            "partition {p}: everyone in sync at creation"
        );
        assert_eq!(s.leader_epoch, 0, "partition {p}");
        assert_eq!(s.offline, Vec::<i32>::new(), "partition {p}");
    }
    let leaders: BTreeSet<i32> = states.iter().map(|s| s.leader).collect();
    assert_eq!(
        leaders,
        BTreeSet::from([1, 2, 3]),
        "leaders spread: {states:?}"
    );

    // KIP-951: a non-leader answers a Fetch (v16) NOT_LEADER_OR_FOLLOWER with the current
    // leader and epoch, and the leader's advertised endpoint (Produce: see below).
    let leader = states[0].leader;
    let other = *c.ids().iter().find(|&&i| i != leader).unwrap();
    let (host, port) = c
        .advertised_addr(leader)
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse::<i32>().unwrap()))
        .unwrap();
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(topic_id(&c, "spread"))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = call(&c.direct_addr(other), 16, &fetch, Duration::from_secs(5)).unwrap();
    let pd = &r.responses[0].partitions[0];
    assert_eq!(pd.error_code, code::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(
        (
            pd.current_leader.leader_id.0,
            pd.current_leader.leader_epoch
        ),
        (leader, 0)
    );
    let eps: Vec<(i32, String, i32)> = r
        .node_endpoints
        .iter()
        .map(|e| (e.node_id.0, e.host.to_string(), e.port))
        .collect();
    assert_eq!(eps, vec![(leader, host, port)]);
}

/// The topic id of `topic`, from Metadata.
fn topic_id(c: &Cluster, topic: &str) -> uuid::Uuid {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::MetadataRequest;
    let req = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(topic_name(topic)))
    ]));
    let r: kafka_protocol::messages::MetadataResponse =
        call(&c.direct_addr(c.ids()[0]), 12, &req, Duration::from_secs(5)).unwrap();
    r.topics[0].topic_id
}

#[test]
fn replication_factor_above_the_broker_count_is_invalid_replication_factor() {
    // Three fetchers per source broker: the partitions followed from one leader are spread
    // over them, and each is replicated (acks=all needs every ISR member).
    let c = Cluster::start(
        3,
        &["default.replication.factor=3", "num.replica.fetchers=3"],
    );
    let r = c.create_topic_raw("rf-four", 1, 4, &[]);
    assert_eq!(r.error_code, code::INVALID_REPLICATION_FACTOR, "{r:?}");
    let r = c.create_topic_raw("rf-zero", 1, 0, &[]);
    assert_eq!(r.error_code, code::INVALID_REPLICATION_FACTOR, "{r:?}");
    for id in c.ids() {
        let v = c.view_from(id, Some(&["rf-four", "rf-zero"])).unwrap();
        for t in ["rf-four", "rf-zero"] {
            assert_eq!(
                v.topics.get(t).map(|t| t.0),
                Some(code::UNKNOWN_TOPIC_OR_PARTITION),
                "node {id}: {t} was not created"
            );
        }
    }
    // -1 takes default.replication.factor.
    let states = c.create_topic("rf-default", 6, -1, &[]);
    for s in &states {
        assert_eq!(sorted(&s.replicas), vec![1, 2, 3], "{s:?}");
    }
    for p in 0..6 {
        let vals = values(&format!("p{p}-"), 20);
        let acked = c.produce_acked("rf-default", p, &vals);
        assert_eq!(acked.len(), 20);
        assert_eq!(c.read_partition("rf-default", p), acked, "partition {p}");
        assert_eq!(
            sorted(&c.isr_of("rf-default", p).unwrap()),
            vec![1, 2, 3],
            "partition {p}: every replica kept up"
        );
    }
}

#[test]
fn a_stopped_follower_leaves_the_isr_and_rejoins_after_catching_up() {
    let c = Cluster::start(3, &["replica.lag.time.max.ms=2000"]);
    let t = "follower-stop";
    c.create_topic(t, 1, 3, &[("min.insync.replicas", "2")]);
    let st = c.wait_isr(t, 0, &[1, 2, 3]);
    let (leader, follower) = (st.leader, st.replicas[1]);
    assert_eq!(leader, st.replicas[0]);
    let mut acked = c.produce_acked(t, 0, &values("a", 100));

    assert!(c.stop(follower).success(), "clean exit on SIGTERM");
    let shrunk = c.wait_isr(t, 0, &without(&st.replicas, follower));
    assert_eq!(
        shrunk.leader, leader,
        "a follower leaving does not move leadership"
    );
    assert_eq!(shrunk.replicas, st.replicas, "replicas unchanged");
    // Two in-sync replicas still meet min.insync.replicas=2.
    let b = c.produce_acked(t, 0, &values("b", 100));
    assert_eq!(b[0].0, 100);
    acked.extend(b);

    c.restart(follower);
    let back = c.wait_isr(t, 0, &[1, 2, 3]);
    assert_eq!(back.leader, leader);
    // Its log is the leader's: kill the leader, the follower is next in replica order and
    // serves exactly the 200 records.
    c.kill9(leader);
    assert_eq!(c.wait_for_leader_change(t, 0, leader), follower);
    c.wait_high_watermark(t, 0, 200);
    assert_eq!(c.read_partition(t, 0), acked);
}

#[test]
fn a_paused_follower_is_dropped_from_the_isr_by_replica_lag_and_rejoins_after_resume() {
    // A session timeout far beyond the test: only the leader's replica-lag check can drop
    // the silent follower from the ISR.
    let c = Cluster::start(
        3,
        &[
            "replica.lag.time.max.ms=2000",
            "broker.session.timeout.ms=60000",
        ],
    );
    let t = "follower-pause";
    c.create_topic(t, 1, 3, &[("min.insync.replicas", "2")]);
    let st = c.wait_isr(t, 0, &[1, 2, 3]);
    let controller = c.wait_for_controller(|_| true);
    let follower = *st.replicas[1..].iter().find(|&&r| r != controller).unwrap();
    c.produce_acked(t, 0, &values("a", 50));

    c.pause(follower);
    // As in Kafka, a follower that has everything the leader has stays in sync even when
    // silent: the leader's log must move on (an acks=1 write) for the lag to count.
    let more = common::batch(5, "during-pause", 1_700_000_000_000, Compression::None);
    let r = produce_raw(
        &c.direct_addr(st.leader),
        t,
        0,
        more,
        1,
        5000,
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("acks=1 write during the pause: {e}"));
    assert_eq!((r.error_code, r.base_offset), (0, 50));
    let shrunk = c.wait_isr_within(
        t,
        0,
        &without(&st.replicas, follower),
        Duration::from_secs(20),
    );
    assert_eq!(shrunk.leader, st.leader);
    assert_eq!(
        c.view(Some(&[])).unwrap().broker_ids(),
        vec![1, 2, 3],
        "the paused broker is not fenced (its session has not expired)"
    );
    let b = c.produce_acked(t, 0, &values("b", 50));
    assert_eq!(b[0].0, 55);

    c.resume(follower);
    let back = c.wait_isr(t, 0, &[1, 2, 3]);
    assert_eq!(back.leader, st.leader);
    assert_eq!(back.leader_epoch, st.leader_epoch, "no leader change");
    c.wait_high_watermark(t, 0, 105);
}

#[test]
fn killing_the_active_controller_elects_another_and_topics_can_still_be_created() {
    let c = Cluster::start(3, &[]);
    let old = c.wait_for_controller(|_| true);
    c.kill9(old);
    let others = without(&c.ids(), old);
    let new = c.wait_for_controller(|id| id != old);
    assert!(others.contains(&new), "controller {new}");
    // Fenced after its session timeout: Metadata lists the live brokers only.
    c.wait_for_brokers(&others);

    let r = c.create_topic_raw("rf3-while-down", 1, 3, &[]);
    assert_eq!(
        r.error_code,
        code::INVALID_REPLICATION_FACTOR,
        "3 replicas on 2 live brokers: {r:?}"
    );
    let t = "after-kill";
    let states = c.create_topic(t, 2, 2, &[("min.insync.replicas", "2")]);
    for s in &states {
        assert_eq!(sorted(&s.replicas), others, "placed on live brokers: {s:?}");
    }
    let acked = c.produce_acked(t, 0, &values("x", 10));
    assert_eq!(
        acked.iter().map(|a| a.0).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(c.read_partition(t, 0), acked);

    c.restart(old);
    c.wait_for_brokers(&[1, 2, 3]);
    let states = c.create_topic("after-restart", 3, 3, &[]);
    for s in &states {
        assert_eq!(sorted(&s.replicas), vec![1, 2, 3], "{s:?}");
    }

    // The active controller stops (controlled shutdown fences it at once): from then on no
    // node names it to clients, even before the quorum has elected another, or librdkafka's
    // admin requests wait for a controller that is not in the broker list until they time out.
    let ctl = c.wait_for_controller(|_| true);
    c.stop(ctl);
    let until = std::time::Instant::now() + Duration::from_secs(5);
    let mut seen = 0;
    while std::time::Instant::now() < until {
        for v in c.views(Some(&[])).unwrap_or_default() {
            assert!(
                v.broker_ids().contains(&v.controller_id),
                "node {}: controller {} is not among the brokers {:?}",
                v.from,
                v.controller_id,
                v.broker_ids()
            );
            seen += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(seen > 0, "no node answered Metadata after the stop");
}

/// Produce v`version` of one batch to `topic`-0 at node `at`: (partition answer, endpoints).
fn produce_to(
    c: &Cluster,
    at: i32,
    topic: &str,
    version: i16,
) -> (
    kafka_protocol::messages::produce_response::PartitionProduceResponse,
    Vec<(i32, String)>,
) {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(common::batch(3, "x", 0, Compression::None)))])]);
    let r: ProduceResponse = call(&c.direct_addr(at), version, &req, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("Produce v{version} to node {at}: {e}"));
    let endpoints = r
        .node_endpoints
        .iter()
        .map(|e| (e.node_id.0, format!("{}:{}", e.host.as_str(), e.port)))
        .collect();
    let part = r.responses[0].partition_responses[0].clone();
    (part, endpoints)
}

#[test]
fn produce_to_a_follower_names_the_current_leader_and_its_endpoint_from_v10() {
    let c = Cluster::start(3, &[]);
    let t = "moved";
    c.create_topic(t, 1, 3, &[("min.insync.replicas", "2")]);
    let st = c.wait_isr(t, 0, &[1, 2, 3]);
    let (leader, follower, other) = (st.leader, st.replicas[1], st.replicas[2]);

    // Kafka 3.7+ (KIP-951): NOT_LEADER_OR_FOLLOWER with the leader, its epoch and endpoint.
    let (r, endpoints) = produce_to(&c, follower, t, 12);
    assert_eq!(r.error_code, code::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(r.base_offset, -1);
    assert_eq!(
        (r.current_leader.leader_id.0, r.current_leader.leader_epoch),
        (leader, st.leader_epoch)
    );
    assert_eq!(endpoints, vec![(leader, c.advertised_addr(leader))]);
    // Before v10 the fields do not exist: the answer is the error alone.
    let (r, endpoints) = produce_to(&c, follower, t, 9);
    assert_eq!(r.error_code, code::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(
        (r.current_leader.leader_id.0, r.current_leader.leader_epoch),
        (-1, -1)
    );
    assert!(endpoints.is_empty(), "{endpoints:?}");
    // The leader itself takes the write and names no one.
    let (r, endpoints) = produce_to(&c, leader, t, 12);
    assert_eq!((r.error_code, r.base_offset), (code::NONE, 0));
    assert_eq!(r.current_leader.leader_id.0, -1);
    assert!(endpoints.is_empty(), "{endpoints:?}");

    // After the leader's kill the remaining follower names the elected one.
    c.kill9(leader);
    let new = c.wait_for_leader_change(t, 0, leader);
    assert_eq!(new, follower, "the next replica in order leads");
    let epoch = c.partition(t, 0).map(|s| s.leader_epoch);
    let (r, endpoints) = produce_to(&c, other, t, 12);
    assert_eq!(r.error_code, code::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(
        (
            r.current_leader.leader_id.0,
            Some(r.current_leader.leader_epoch)
        ),
        (new, epoch)
    );
    assert!(epoch > Some(st.leader_epoch), "{epoch:?}");
    assert_eq!(endpoints, vec![(new, c.advertised_addr(new))]);
}
