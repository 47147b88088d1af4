//! Kafka's `process.roles` (issue 8): a cluster of three controller-only nodes (1, 2, 3: the
//! voters of the metadata quorum, no broker listener) and two broker-only nodes (4, 5: raft
//! learners that register with the active controller), separate processes over loopback.
//! Only the brokers are ever listed to clients; topics live on the brokers only; the
//! active controller killed is replaced, a broker killed fails over to the other.

mod common;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::cluster::{call, Cluster, Role, WAIT};
use common::free_port;
use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};
use rdkafka::consumer::{BaseConsumer, Consumer};

const ROLES: [Role; 5] = [
    Role::Controller,
    Role::Controller,
    Role::Controller,
    Role::Broker,
    Role::Broker,
];
const BROKERS: [i32; 2] = [4, 5];

fn values(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect()
}

/// (offset, value) for `values` written from offset `from` on.
fn at_offsets(from: i64, values: &[Vec<u8>]) -> Vec<(i64, Vec<u8>)> {
    (from..).zip(values.iter().cloned()).collect()
}

/// The brokers (sorted ids) and controller id broker `id` gives in DescribeCluster v1.
fn describe_cluster(c: &Cluster, id: i32) -> (Vec<i32>, i32) {
    let r: DescribeClusterResponse = call(
        &c.direct_addr(id),
        1,
        &DescribeClusterRequest::default(),
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("DescribeCluster at {id}: {e}"));
    assert_eq!(r.error_code, 0);
    let mut ids: Vec<i32> = r.brokers.iter().map(|b| b.broker_id.0).collect();
    ids.sort();
    (ids, r.controller_id.0)
}

/// The broker ids rdkafka's metadata lists.
fn rdkafka_broker_ids(c: &Cluster) -> Vec<i32> {
    let consumer: BaseConsumer = c
        .client_config()
        .set("group.id", "roles-metadata")
        .create()
        .expect("consumer");
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(20))
        .expect("metadata");
    let mut ids: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
    ids.sort();
    ids
}

fn wait_active_controller(c: &Cluster, ok: impl Fn(i32) -> bool) -> i32 {
    c.wait_for("an active controller in the logs", WAIT, |c| {
        match c.active_controller_from_logs() {
            Some(id) if ok(id) => Ok(id),
            other => Err(format!("active controller from logs: {other:?}")),
        }
    })
}

#[test]
fn three_controllers_and_two_brokers_serve_clients_and_survive_kills() {
    let c = Cluster::start_roles(&ROLES, &[]);
    assert_eq!(c.controller_ids(), vec![1, 2, 3]);
    assert_eq!(c.broker_ids(), BROKERS.to_vec());

    // Only the brokers are ever listed, by every broker, raw and through librdkafka.
    let view = c.wait_for_brokers(&BROKERS);
    assert_eq!(
        view.brokers,
        vec![(4, c.advertised_addr(4)), (5, c.advertised_addr(5))]
    );
    for id in BROKERS {
        let (ids, controller) = describe_cluster(&c, id);
        assert_eq!(ids, BROKERS.to_vec(), "DescribeCluster at {id}");
        // Clients cannot reach a controller-only node: a broker stands in for it.
        assert!(BROKERS.contains(&controller), "controller id {controller}");
        let v = c.view_from(id, Some(&[])).unwrap();
        assert!(BROKERS.contains(&v.controller_id), "{v:?}");
    }
    assert_eq!(rdkafka_broker_ids(&c), BROKERS.to_vec());
    // The brokers follow the metadata log as raft learners (added by the leader).
    for id in BROKERS {
        let log = c.log_tail(id, 100_000);
        assert!(
            log.contains("in the metadata quorum's membership as a learner"),
            "node {id}"
        );
    }
    // A controller-only node binds no client listener.
    for id in c.controller_ids() {
        let addr = c.direct_addr(id);
        assert!(
            TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1)).is_err(),
            "controller-only node {id} accepts connections on {addr}"
        );
    }

    // A topic of replication factor 2 can only live on the two brokers.
    let states = c.create_topic("roles-a", 2, 2, &[]);
    for s in &states {
        let mut replicas = s.replicas.clone();
        replicas.sort();
        assert_eq!(replicas, BROKERS.to_vec(), "{s:?}");
        assert_eq!(s.isr.len(), 2, "{s:?}");
    }
    // Replication factor 3 cannot be placed on two brokers.
    let r = c.create_topic_raw("roles-rf3", 1, 3, &[]);
    assert_eq!(
        r.error_code,
        common::cluster::code::INVALID_REPLICATION_FACTOR
    );

    let first = values("a", 20);
    assert_eq!(c.produce_acked("roles-a", 0, &first), at_offsets(0, &first));
    c.wait_high_watermark("roles-a", 0, 20);
    assert_eq!(c.read_partition("roles-a", 0), at_offsets(0, &first));

    // Kill -9 the active controller: another voter takes over; topics can still be created
    // (the brokers find the new controller through the metadata log they follow).
    let old = wait_active_controller(&c, |_| true);
    assert!(c.controller_ids().contains(&old));
    c.kill9(old);
    let new = wait_active_controller(&c, |id| id != old);
    eprintln!("active controller {old} killed; {new} took over");
    assert!(c.controller_ids().contains(&new) && new != old);
    let states = c.create_topic("roles-b", 1, 2, &[]);
    assert_eq!(states[0].isr.len(), 2, "{states:?}");
    let b_values = values("b", 5);
    assert_eq!(
        c.produce_acked("roles-b", 0, &b_values),
        at_offsets(0, &b_values)
    );
    assert_eq!(c.read_partition("roles-b", 0), at_offsets(0, &b_values));
    // Still only the brokers.
    assert_eq!(c.wait_for_brokers(&BROKERS).broker_ids(), BROKERS.to_vec());

    // Kill -9 the leader of roles-a-0: the other broker leads it with every acknowledged
    // record, and takes new ones.
    let leader = c.wait_for_leader("roles-a", 0);
    let survivor = if leader == 4 { 5 } else { 4 };
    c.kill9(leader);
    assert_eq!(c.wait_for_leader_change("roles-a", 0, leader), survivor);
    eprintln!("broker {leader} killed; {survivor} leads roles-a-0");
    let isr = c.wait_isr("roles-a", 0, &[survivor]);
    assert_eq!(isr.leader, survivor);
    let second = values("a2", 10);
    assert_eq!(
        c.produce_acked("roles-a", 0, &second),
        at_offsets(20, &second)
    );
    let mut all = at_offsets(0, &first);
    all.extend(at_offsets(20, &second));
    assert_eq!(c.read_partition("roles-a", 0), all);
    // The dead broker stays registered but fenced: clients see only the survivor.
    assert_eq!(c.wait_for_brokers(&[survivor]).broker_ids(), vec![survivor]);
}

/// Run `skua serve` with `sets` and node id `id`; it must exit at once with an error that
/// mentions every one of `words`.
fn refuses_to_start(id: i32, listen_controller: bool, sets: &[&str], words: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(common::cluster::skua_bin());
    cmd.args(["serve", "--node-id", &id.to_string()])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--data-dir", &dir.path().display().to_string()])
        .args(["--metrics-listen", "off"]);
    if listen_controller {
        cmd.args(["--controller-listen", &format!("127.0.0.1:{}", free_port())]);
    }
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("run skua serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{sets:?} started: {stderr}");
    for w in words {
        assert!(stderr.contains(w), "{sets:?}: no {w:?} in {stderr}");
    }
}

#[test]
fn roles_that_contradict_the_voters_are_refused_at_start() {
    let voters = "controller.quorum.voters=1@127.0.0.1:1,2@127.0.0.1:2,3@127.0.0.1:3";
    refuses_to_start(
        2,
        true,
        &["process.roles=broker", voters],
        &["broker-only", "voter"],
    );
    refuses_to_start(
        4,
        true,
        &["process.roles=controller", voters],
        &["not a voter"],
    );
    refuses_to_start(
        4,
        true,
        &["process.roles=broker,controller", voters],
        &["not a voter"],
    );
    refuses_to_start(
        4,
        false,
        &["process.roles=broker", voters],
        &["controller listener"],
    );
    refuses_to_start(1, true, &["process.roles=controller"], &["controller-only"]);
}
