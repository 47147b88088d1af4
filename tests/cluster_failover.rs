//! Failover of a three-node cluster (issue 8, item 6), separate processes over loopback:
//! `kill -9` of a partition leader under an idempotent `acks=all` producer, repeated; a leader
//! cut off from the others by the fault-injecting proxies; full-cluster restart; rolling
//! restart under load. Each test asserts that every acknowledged record is present exactly
//! once, at its acknowledged offset, in produce order, and that nothing unacknowledged by the
//! cluster (a divergent write) survives.
//!

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::batch;
use common::cluster::{code, produce_raw, Cluster, Feeder};
use kafka_protocol::records::Compression;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

fn values(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect()
}

#[test]
fn acks_all_records_survive_repeated_kill_9_of_the_partition_leader() {
    let c = Cluster::start(3, &[]);
    let topic = "failover";
    c.create_topic(topic, 3, 3, &[("min.insync.replicas", "2")]);
    let mut f = Feeder::new(&c, topic, 3);
    for round in 0..3 {
        let leader = c.wait_for_leader(topic, 0);
        let epoch = c.partition(topic, 0).unwrap().leader_epoch;
        // Kill with records in flight: right after the 2000th acknowledgement of the round.
        let base = f.acked_count();
        f.until_acked(base + 2000, Duration::from_secs(60), "before the kill");
        c.kill9(leader);
        // The producer carries on through the new leader.
        f.until_acked(base + 4000, Duration::from_secs(60), "after the kill");
        let new = c.wait_for_leader_change(topic, 0, leader);
        let state = c.partition(topic, 0).unwrap();
        assert!(
            state.leader_epoch > epoch,
            "round {round}: leader {leader} -> {new}, epoch {epoch} -> {}",
            state.leader_epoch
        );
        assert!(!state.isr.contains(&leader), "round {round}: {state:?}");
        c.restart(leader);
        c.wait_for_brokers(&[1, 2, 3]);
        c.wait_healthy(topic);
    }
    f.verify(&c);
}

#[test]
fn isolated_leader_cannot_acknowledge_and_truncates_to_the_new_leader_after_heal() {
    let c = Cluster::start(3, &[]);
    let topic = "isolated";
    c.create_topic(topic, 1, 3, &[("min.insync.replicas", "2")]);
    let before = c.wait_isr(topic, 0, &[1, 2, 3]);
    let old = before.leader;
    assert_eq!(old, before.replicas[0], "the preferred replica leads first");
    let mut acked = c.produce_acked(topic, 0, &values("a", 100));

    c.isolate(old);
    // A write sent straight to the cut-off leader: its followers cannot fetch it and the
    // controller cannot shrink the ISR for it, so acks=all is never satisfied.
    let divergent = batch(5, "divergent", 1_700_000_000_000, Compression::None);
    let r = produce_raw(
        &c.direct_addr(old),
        topic,
        0,
        divergent,
        -1,
        4000,
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("the isolated leader must answer at its timeout: {e}"));
    assert!(
        [
            code::REQUEST_TIMED_OUT,
            code::NOT_ENOUGH_REPLICAS,
            code::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            code::NOT_LEADER_OR_FOLLOWER
        ]
        .contains(&r.error_code),
        "acks=all to the isolated leader: error {} ({r:?})",
        r.error_code
    );

    // The majority fences it and elects a new leader from the ISR, with a higher epoch.
    let new = c.wait_for_leader_change(topic, 0, old);
    assert_eq!(new, before.replicas[1], "next in replica order");
    let after = c.wait_isr(
        topic,
        0,
        &before
            .replicas
            .iter()
            .copied()
            .filter(|&r| r != old)
            .collect::<Vec<_>>(),
    );
    assert!(after.leader_epoch > before.leader_epoch, "{after:?}");
    let b = c.produce_acked(topic, 0, &values("b", 100));
    assert_eq!(
        b[0].0, 100,
        "the new leader continues after the committed records"
    );
    acked.extend(b);

    // Back: the old leader truncates its divergent tail and catches up.
    c.heal(old);
    c.wait_isr(topic, 0, &[1, 2, 3]);
    // Read the old leader's own log: kill the new leader, the old one is first in replica
    // order among the ISR and is elected.
    c.kill9(new);
    assert_eq!(c.wait_for_leader_change(topic, 0, new), old);
    c.wait_high_watermark(topic, 0, 200);
    let log = c.read_partition(topic, 0);
    assert_eq!(
        log, acked,
        "exactly the committed records, no divergent ones"
    );
    c.restart(new);
    c.wait_healthy(topic);
}

#[test]
fn full_cluster_restart_keeps_every_record_and_committed_offset() {
    let c = Cluster::start(3, &[]);
    let topic = "restart-all";
    c.create_topic(topic, 3, 3, &[("min.insync.replicas", "2")]);
    let mut acked = Vec::new();
    for p in 0..3 {
        acked.push(c.produce_acked(topic, p, &values(&format!("p{p}"), 100 + 10 * p as usize)));
    }
    let group = "restart-group";
    let commit: Vec<(i32, i64)> = vec![(0, 10), (1, 20), (2, 30)];
    let consumer = |c: &Cluster| -> BaseConsumer {
        c.client_config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap()
    };
    let mut tpl = TopicPartitionList::new();
    for (p, o) in &commit {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))
            .unwrap();
    }
    consumer(&c).commit(&tpl, CommitMode::Sync).unwrap();

    for id in c.ids() {
        assert!(c.stop(id).success(), "node {id}: clean exit on SIGTERM");
    }
    for id in c.ids() {
        c.restart(id);
    }
    c.wait_for_brokers(&[1, 2, 3]);
    c.wait_healthy(topic);
    for (p, want) in acked.iter().enumerate() {
        assert_eq!(&c.read_partition(topic, p as i32), want, "{topic}-{p}");
    }
    let got = c.wait_for(
        "the group's committed offsets",
        Duration::from_secs(30),
        |c| {
            consumer(c)
                .committed_offsets(tpl.clone(), Duration::from_secs(5))
                .map_err(|e| e.to_string())
        },
    );
    for (p, o) in &commit {
        assert_eq!(
            got.find_partition(topic, *p).map(|e| e.offset()),
            Some(Offset::Offset(*o)),
            "committed offset of partition {p}"
        );
    }
}

#[test]
fn rolling_restart_under_continuous_produce_loses_no_acknowledged_record() {
    let c = Cluster::start(3, &[]);
    let topic = "rolling";
    c.create_topic(topic, 3, 3, &[("min.insync.replicas", "2")]);
    let stop = AtomicBool::new(false);
    let progress = std::sync::Mutex::new(0usize);
    let feeder = std::thread::scope(|s| {
        let producer = s.spawn(|| {
            let mut f = Feeder::new(&c, topic, 3);
            while !stop.load(Ordering::SeqCst) {
                f.step();
                *progress.lock().unwrap() = f.acked_count();
            }
            f
        });
        let acked = || *progress.lock().unwrap();
        c.wait_for("1000 acknowledgements", Duration::from_secs(60), |_| {
            (acked() >= 1000).then_some(()).ok_or(acked().to_string())
        });
        for id in c.ids() {
            assert!(c.stop(id).success(), "node {id}: clean exit on SIGTERM");
            c.restart(id);
            c.wait_for_brokers(&[1, 2, 3]);
            c.wait_healthy(topic);
            let base = acked();
            c.wait_for(
                &format!("500 acknowledgements after restarting node {id}"),
                Duration::from_secs(60),
                |_| {
                    (acked() >= base + 500)
                        .then_some(())
                        .ok_or(acked().to_string())
                },
            );
        }
        stop.store(true, Ordering::SeqCst);
        producer.join().unwrap()
    });
    feeder.verify(&c);
}
