//! Idempotent and transactional producers with librdkafka (the rdkafka crate) against the real
//! binary: exact records for read_committed and read_uncommitted consumers, fencing of a zombie
//! instance, and exactly-once offsets through send_offsets_to_transaction.

mod common;

use std::time::{Duration, Instant};

use common::Broker;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

type TP = ThreadedProducer<DefaultProducerContext>;
use rdkafka::{Offset, TopicPartitionList};

fn create_topic(b: &Broker, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .create()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let res = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .unwrap();
    assert!(res[0].is_ok(), "{res:?}");
}

fn txn_producer(b: &Broker, id: &str) -> TP {
    let p: TP = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("transactional.id", id)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    p.init_transactions(Duration::from_secs(30)).unwrap();
    p
}

fn send(p: &TP, topic: &str, partition: i32, value: &str) {
    p.send(
        BaseRecord::to(topic)
            .partition(partition)
            .key(value)
            .payload(value),
    )
    .unwrap();
}

/// Every value in `topic` (all partitions) with the given isolation level, read until `n`
/// values arrived or, once `quiet` passed without a message, stopped.
fn read_values(b: &Broker, topic: &str, partitions: i32, isolation: &str, n: usize) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("group.id", "unused-manual-assign")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = Instant::now();
    while Instant::now() < deadline {
        match c.poll(Duration::from_millis(100)) {
            Some(m) => {
                let m = m.unwrap();
                out.push(String::from_utf8_lossy(m.payload().unwrap_or(&[])).to_string());
                last = Instant::now();
            }
            None if out.len() >= n && last.elapsed() > Duration::from_millis(1500) => break,
            None => {}
        }
    }
    out.sort();
    out
}

#[test]
fn idempotent_producer_writes_each_record_once() {
    let b = Broker::start(&[]);
    create_topic(&b, "idem", 3);
    let p: TP = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .create()
        .unwrap();
    let mut want = Vec::new();
    for i in 0..3000 {
        let v = format!("r{i:05}");
        send(&p, "idem", i % 3, &v);
        want.push(v);
    }
    p.flush(Duration::from_secs(30)).unwrap();
    want.sort();
    assert_eq!(read_values(&b, "idem", 3, "read_uncommitted", 3000), want);
}

#[test]
fn committed_transactions_visible_aborted_ones_only_uncommitted() {
    let b = Broker::start(&[]);
    create_topic(&b, "txn", 2);
    let p = txn_producer(&b, "rd-txn");
    let mut committed = Vec::new();
    let mut all = Vec::new();
    for t in 0..6 {
        p.begin_transaction().unwrap();
        for i in 0..10 {
            let v = format!("t{t}-{i:02}");
            send(&p, "txn", i % 2, &v);
            all.push(v.clone());
            if t % 2 == 0 {
                committed.push(v);
            }
        }
        if t % 2 == 0 {
            p.commit_transaction(Duration::from_secs(30)).unwrap();
        } else {
            // Written first (librdkafka purges what it has not sent when aborting).
            p.flush(Duration::from_secs(30)).unwrap();
            p.abort_transaction(Duration::from_secs(30)).unwrap();
        }
    }
    committed.sort();
    all.sort();
    assert_eq!(
        read_values(&b, "txn", 2, "read_committed", committed.len()),
        committed
    );
    assert_eq!(
        read_values(&b, "txn", 2, "read_uncommitted", all.len()),
        all
    );
}

#[test]
fn a_second_instance_fences_the_first() {
    let b = Broker::start(&[]);
    create_topic(&b, "fence", 1);
    let zombie = txn_producer(&b, "rd-fence");
    zombie.begin_transaction().unwrap();
    send(&zombie, "fence", 0, "zombie");
    zombie.flush(Duration::from_secs(10)).unwrap();
    let fresh = txn_producer(&b, "rd-fence");
    fresh.begin_transaction().unwrap();
    send(&fresh, "fence", 0, "fresh");
    fresh.commit_transaction(Duration::from_secs(30)).unwrap();
    let err = zombie
        .commit_transaction(Duration::from_secs(30))
        .expect_err("the fenced instance cannot commit");
    match err {
        KafkaError::Transaction(e) => assert!(e.is_fatal(), "fencing is fatal: {e}"),
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        read_values(&b, "fence", 1, "read_committed", 1),
        vec!["fresh".to_string()]
    );
}

#[test]
fn offsets_sent_to_a_transaction_commit_with_it() {
    let b = Broker::start(&["group.initial.rebalance.delay.ms=0"]);
    create_topic(&b, "in", 1);
    create_topic(&b, "out", 1);
    let src: TP = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .create()
        .unwrap();
    for i in 0..20 {
        send(&src, "in", 0, &format!("in-{i:02}"));
    }
    src.flush(Duration::from_secs(10)).unwrap();
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("group.id", "eos")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    c.subscribe(&["in"]).unwrap();
    let p = txn_producer(&b, "rd-eos");
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    // First transaction: 10 records, offsets committed with it; second: aborted.
    p.begin_transaction().unwrap();
    while seen < 10 && Instant::now() < deadline {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            send(
                &p,
                "out",
                0,
                &format!("out-{}", String::from_utf8_lossy(m.payload().unwrap())),
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 10);
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("in", 0, Offset::Offset(10))
        .unwrap();
    let meta = c.group_metadata().unwrap();
    p.send_offsets_to_transaction(&offsets, &meta, Duration::from_secs(30))
        .unwrap();
    p.commit_transaction(Duration::from_secs(30)).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "out", 0, "out-aborted");
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("in", 0, Offset::Offset(15))
        .unwrap();
    p.send_offsets_to_transaction(&offsets, &meta, Duration::from_secs(30))
        .unwrap();
    p.abort_transaction(Duration::from_secs(30)).unwrap();
    // The group's committed offset is the committed transaction's.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("in", 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = c
            .committed_offsets(tpl.clone(), Duration::from_secs(5))
            .unwrap();
        if got.find_partition("in", 0).map(|e| e.offset()) == Some(Offset::Offset(10)) {
            break;
        }
        assert!(Instant::now() < deadline, "committed offsets: {got:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let want: Vec<String> = (0..10).map(|i| format!("out-in-{i:02}")).collect();
    assert_eq!(read_values(&b, "out", 1, "read_committed", 10), want);
}
