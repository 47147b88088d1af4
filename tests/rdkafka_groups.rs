//! Consumer groups with librdkafka (the rdkafka crate) against the real binary.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::Broker;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const FAST: &[&str] = &["group.initial.rebalance.delay.ms=0", "num.partitions=6"];

fn produce(b: &Broker, topic: &str, n: usize, tag: &str) {
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("linger.ms", "5")
        .set("enable.idempotence", "false")
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

fn consumer(b: &Broker, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", b.addr())
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().unwrap()
}

/// Poll until `pred` holds on the assignment or the deadline passes.
fn wait_assignment(cs: &[&BaseConsumer], pred: impl Fn(&[usize]) -> bool) -> Vec<usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sizes: Vec<usize> = cs
            .iter()
            .map(|c| {
                let _ = c.poll(Duration::from_millis(50));
                c.assignment().map(|a| a.count()).unwrap_or(0)
            })
            .collect();
        if pred(&sizes) || Instant::now() > deadline {
            return sizes;
        }
    }
}

#[test]
fn two_consumers_split_partitions_then_one_takes_all() {
    let b = Broker::start(FAST);
    produce(&b, "split", 60, "s");
    let c1 = consumer(&b, "g-split", &[]);
    let c2 = consumer(&b, "g-split", &[]);
    c1.subscribe(&["split"]).unwrap();
    c2.subscribe(&["split"]).unwrap();
    let sizes = wait_assignment(&[&c1, &c2], |s| s == [3, 3]);
    assert_eq!(sizes, vec![3, 3], "6 partitions split between two members");
    let a1: BTreeSet<i32> = c1
        .assignment()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    let a2: BTreeSet<i32> = c2
        .assignment()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    assert!(a1.is_disjoint(&a2));
    drop(c2); // LeaveGroup on close
    let sizes = wait_assignment(&[&c1], |s| s == [6]);
    assert_eq!(sizes, vec![6], "the remaining member takes all partitions");
}

#[test]
fn commit_close_and_resume_exactly_after_last_commit() {
    let b = Broker::start(FAST);
    produce(&b, "resume", 100, "r");
    let c = consumer(&b, "g-resume", &[]);
    c.subscribe(&["resume"]).unwrap();
    let mut seen: HashMap<i32, Vec<i64>> = HashMap::new();
    let mut count = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count < 40 && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            seen.entry(m.partition()).or_default().push(m.offset());
            count += 1;
        }
    }
    assert_eq!(count, 40);
    c.commit_consumer_state(CommitMode::Sync).unwrap();
    drop(c);
    let c = consumer(&b, "g-resume", &[]);
    c.subscribe(&["resume"]).unwrap();
    let mut rest: HashMap<i32, Vec<i64>> = HashMap::new();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while n < 60 && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            rest.entry(m.partition()).or_default().push(m.offset());
            n += 1;
        }
    }
    assert_eq!(n, 60, "exactly the 60 not yet committed");
    for (p, offs) in &rest {
        let first_expected = seen.get(p).and_then(|v| v.last()).map_or(0, |o| o + 1);
        assert_eq!(
            offs[0], first_expected,
            "partition {p} resumes right after its commit"
        );
        for w in offs.windows(2) {
            assert_eq!(w[1], w[0] + 1);
        }
    }
    let _ = c.poll(Duration::from_millis(500));
    assert!(
        c.poll(Duration::from_millis(500)).is_none(),
        "no duplicates"
    );
}

#[test]
fn two_groups_each_get_every_record() {
    let b = Broker::start(FAST);
    produce(&b, "fanout", 50, "f");
    for g in ["g-a", "g-b"] {
        let c = consumer(&b, g, &[]);
        c.subscribe(&["fanout"]).unwrap();
        let mut vals = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while vals.len() < 50 && Instant::now() < deadline {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                vals.insert(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
            }
        }
        assert_eq!(
            vals,
            (0..50).map(|i| format!("f-{i}")).collect::<BTreeSet<_>>(),
            "group {g}"
        );
    }
}
