//! Admin operations that move partitions across the brokers of a three-node cluster (issue 8,
//! item 3), separate processes over loopback: a reassignment (add a replica, catch it up,
//! switch the leader, remove the old one), CreatePartitions placing and replicating new
//! partitions, preferred and unclean ElectLeaders. Requests go over the wire to any node (the
//! admin APIs forward to the active controller); the data is read back with rdkafka.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::cluster::{call, code, topic_name, Cluster, WAIT};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    CreatePartitionsRequest, CreatePartitionsResponse, ElectLeadersRequest, ElectLeadersResponse,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

/// ELECTION_NOT_NEEDED
const ELECTION_NOT_NEEDED: i16 = 84;
/// PREFERRED_LEADER_NOT_AVAILABLE
const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;

fn values(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{tag}{i:04}").into_bytes())
        .collect()
}

fn set(v: &[i32]) -> BTreeSet<i32> {
    v.iter().copied().collect()
}

/// Any reachable node (they forward admin requests to the active controller).
fn any_node(c: &Cluster) -> String {
    c.direct_addr(c.reachable()[0])
}

fn elect(c: &Cluster, election_type: i8, topic: &str, p: i32) -> (i16, i16) {
    let req = ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_timeout_ms(15000)
        .with_topic_partitions(Some(vec![TopicPartitions::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![p])]));
    let r: ElectLeadersResponse =
        call(&any_node(c), 2, &req, Duration::from_secs(20)).expect("ElectLeaders");
    let pr = &r.replica_election_results[0].partition_result[0];
    assert_eq!(pr.partition_id, p);
    (r.error_code, pr.error_code)
}

#[test]
fn reassignment_create_partitions_and_preferred_election_move_data_across_brokers() {
    let c = Cluster::start(3, &["auto.leader.rebalance.enable=false"]);

    // ---- Reassignment: [a, b] → [n, b], n the broker that had no replica. ----
    let t = "moving";
    let st = c.create_topic(t, 1, 2, &[])[0].clone();
    let (a, b) = (st.replicas[0], st.replicas[1]);
    let n = *c.ids().iter().find(|i| !st.replicas.contains(i)).unwrap();
    assert_eq!(st.leader, a);
    let before = c.produce_acked(t, 0, &values("before-", 30));
    assert_eq!(before.len(), 30);

    let req = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(15000)
        .with_topics(vec![ReassignableTopic::default()
            .with_name(topic_name(t))
            .with_partitions(vec![ReassignablePartition::default()
                .with_partition_index(0)
                .with_replicas(Some(vec![BrokerId(n), BrokerId(b)]))])]);
    let r: AlterPartitionReassignmentsResponse =
        call(&any_node(&c), 0, &req, Duration::from_secs(20)).unwrap();
    assert_eq!(r.error_code, code::NONE, "{:?}", r.error_message);
    assert_eq!(r.responses[0].partitions[0].error_code, code::NONE, "{r:?}");

    // While it runs, ListPartitionReassignments shows it (Kafka's adding/removing sets);
    // once done, nothing.
    let list = ListPartitionReassignmentsRequest::default()
        .with_timeout_ms(15000)
        .with_topics(Some(vec![ListPartitionReassignmentsTopics::default()
            .with_name(topic_name(t))
            .with_partition_indexes(vec![0])]));
    let l: ListPartitionReassignmentsResponse =
        call(&any_node(&c), 0, &list, Duration::from_secs(20)).unwrap();
    assert_eq!(l.error_code, code::NONE);
    if let Some(ongoing) = l.topics.first().and_then(|t| t.partitions.first()) {
        let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<BTreeSet<i32>>();
        assert_eq!(ids(&ongoing.adding_replicas), set(&[n]));
        assert_eq!(ids(&ongoing.removing_replicas), set(&[a]));
        assert_eq!(ids(&ongoing.replicas), set(&[a, b, n]));
    }

    // Done: the target replicas in the target order, both in sync, the new preferred replica
    // leading (the old leader was removed), on every node.
    let done = c.wait_partition("reassigned to [n, b]", t, 0, WAIT, |s| {
        s.replicas == vec![n, b] && set(&s.isr) == set(&[n, b]) && s.leader == n
    });
    assert!(done.leader_epoch > st.leader_epoch, "{done:?}");
    c.wait_for("the reassignment to be listed as finished", WAIT, |c| {
        let l: ListPartitionReassignmentsResponse =
            call(&any_node(c), 0, &list, Duration::from_secs(20))?;
        match l.topics.iter().all(|t| t.partitions.is_empty()) {
            true => Ok(()),
            false => Err(format!("{l:?}")),
        }
    });
    // The new replica copied everything and leads: the same records at the same offsets.
    assert_eq!(c.read_partition(t, 0), before);
    let after = c.produce_acked(t, 0, &values("after-", 10));
    assert_eq!(
        after.iter().map(|r| r.0).collect::<Vec<_>>(),
        (30..40).collect::<Vec<_>>()
    );
    // The removed replica deletes its copy.
    let removed = c.data_dir(a).join(format!("{t}-0"));
    c.wait_for(
        "the removed replica's directory to go",
        WAIT,
        |_| match removed.exists() {
            false => Ok(()),
            true => Err(format!("{} still exists", removed.display())),
        },
    );

    // ---- CreatePartitions: 1 → 3, the new ones placed on live brokers and replicated. ----
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(15000)
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(topic_name(t))
            .with_count(3)
            .with_assignments(None)]);
    let r: CreatePartitionsResponse =
        call(&any_node(&c), 3, &req, Duration::from_secs(20)).unwrap();
    assert_eq!(r.results[0].error_code, code::NONE, "{r:?}");
    let states = c.wait_healthy(t);
    assert_eq!(states.len(), 3, "{states:?}");
    for (p, s) in states.iter().enumerate().skip(1) {
        assert_eq!(s.replicas.len(), 2, "partition {p}: {s:?}");
        assert!(
            s.replicas.iter().all(|r| c.ids().contains(r)),
            "partition {p}: {s:?}"
        );
        assert_ne!(s.replicas[0], s.replicas[1]);
        let vals = values(&format!("p{p}-"), 15);
        let acked = c.produce_acked(t, p as i32, &vals);
        assert_eq!(c.read_partition(t, p as i32), acked, "partition {p}");
    }

    // ---- Preferred election: the preferred replica leads again once asked. ----
    let t = "preferred";
    let st = c.create_topic(t, 1, 3, &[])[0].clone();
    let preferred = st.leader;
    let acked = c.produce_acked(t, 0, &values("pref-", 20));
    assert_eq!(elect(&c, 0, t, 0), (code::NONE, ELECTION_NOT_NEEDED));
    c.stop(preferred);
    let other = c.wait_for_leader_change(t, 0, preferred);
    c.restart(preferred);
    c.wait_isr(t, 0, &st.replicas);
    // Automatic rebalancing is off: the leadership stays where the shutdown moved it.
    assert_eq!(c.leader_of(t, 0), Some(other));
    assert_eq!(elect(&c, 0, t, 0), (code::NONE, code::NONE));
    let s = c.wait_partition("the preferred replica leads", t, 0, WAIT, |s| {
        s.leader == preferred
    });
    assert_eq!(set(&s.isr), set(&st.replicas));
    assert_eq!(c.read_partition(t, 0), acked);
}

#[test]
fn unclean_election_is_refused_by_default_and_done_when_asked_losing_only_unreplicated_records() {
    let c = Cluster::start(3, &[]);
    let t = "unclean";
    let st = c.create_topic(t, 1, 2, &[("min.insync.replicas", "1")])[0].clone();
    let (a, b) = (st.replicas[0], st.replicas[1]);
    assert_eq!(st.leader, a);
    let replicated = c.produce_acked(t, 0, &values("both-", 10));

    // b goes away: the ISR shrinks to [a], which takes more writes alone.
    c.kill9(b);
    c.wait_isr(t, 0, &[a]);
    let alone = c.produce_acked(t, 0, &values("only-a-", 5));
    assert_eq!(alone[0].0, 10);

    // a dies too and b comes back (two of the three voters again): once a is fenced no
    // in-sync replica is left, and b, out of sync, is never elected without unclean election.
    c.kill9(a);
    c.restart(b);
    c.wait_for_brokers(&c.ids().into_iter().filter(|&i| i != a).collect::<Vec<_>>());
    let s = c.wait_partition("offline", t, 0, WAIT, |s| s.leader == -1);
    assert_eq!(s.isr, vec![a], "{s:?}");
    assert_eq!(
        elect(&c, 0, t, 0),
        (code::NONE, PREFERRED_LEADER_NOT_AVAILABLE)
    );

    // Unclean election: b leads with what it had; the records only a had are gone.
    assert_eq!(elect(&c, 1, t, 0), (code::NONE, code::NONE));
    let s = c.wait_partition("b leads", t, 0, WAIT, |s| s.leader == b);
    assert_eq!(s.isr, vec![b]);
    assert!(s.leader_epoch > st.leader_epoch);
    assert_eq!(c.read_partition(t, 0), replicated);
    let more = c.produce_acked(t, 0, &values("after-", 3));
    assert_eq!(
        more.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![10, 11, 12]
    );

    // a returns, truncates its divergent tail to b's log and rejoins the ISR.
    c.restart(a);
    c.wait_isr(t, 0, &[a, b]);
    let mut all = replicated.clone();
    all.extend(more);
    assert_eq!(c.read_partition(t, 0), all);
}
