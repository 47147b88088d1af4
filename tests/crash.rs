//! Durability: acks=all records survive `kill -9` exactly once and in order, three crashes in
//! a row on the same data directory, and the broker keeps accepting writes afterwards.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, Broker};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

#[derive(Clone, Default)]
struct Acks(Arc<Mutex<Vec<(i32, i64, u64)>>>);
impl ClientContext for Acks {}
impl ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Ok(m) = r {
            let id: u64 = std::str::from_utf8(m.payload().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            self.0.lock().unwrap().push((m.partition(), m.offset(), id));
        }
    }
}

fn read_partition(addr: &str, topic: &str, p: i32) -> Vec<(i64, u64)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", "x")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, p, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => out.push((
                m.offset(),
                std::str::from_utf8(m.payload().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap(),
            )),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => break,
            Some(Err(e)) => panic!("{e}"),
            None => {}
        }
    }
    out
}

#[test]
fn acked_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut b = Broker::start_in(
        dir.path(),
        port,
        &["log.segment.bytes=262144", "num.partitions=3"],
    );
    let topic = "crash";
    let mut next_id: u64 = 0;
    let mut acked_all: Vec<(i32, i64, u64)> = Vec::new();
    for round in 0..3 {
        let acks = Acks::default();
        let p: ThreadedProducer<Acks> = ClientConfig::new()
            .set("bootstrap.servers", b.addr())
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("enable.idempotence", "false")
            .set("message.timeout.ms", "5000")
            .set("topic.metadata.refresh.interval.ms", "1000")
            .create_with_context(acks.clone())
            .unwrap();
        let start = Instant::now();
        let killed_at = loop {
            let id = next_id;
            next_id += 1;
            let key = format!("k{}", id % 3);
            let payload = id.to_string();
            let _ = p.send(BaseRecord::to(topic).key(&key).payload(&payload));
            if id.is_multiple_of(200) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let n = acks.0.lock().unwrap().len();
            if n >= 5000 || start.elapsed() > Duration::from_secs(30) {
                b.kill9();
                break n;
            }
        };
        assert!(
            killed_at >= 5000,
            "round {round}: only {killed_at} acks before the deadline"
        );
        let _ = p.flush(Duration::from_secs(6));
        drop(p);
        acked_all.extend(acks.0.lock().unwrap().iter().copied());
        b.spawn();
        // Every acknowledged record is present exactly once, at its acknowledged offset,
        // and order is preserved per partition.
        let mut by_part: HashMap<i32, Vec<(i64, u64)>> = HashMap::new();
        for p in 0..3 {
            by_part.insert(p, read_partition(&b.addr(), topic, p));
        }
        for (part, offset, id) in &acked_all {
            let log = &by_part[part];
            let found: Vec<_> = log.iter().filter(|(_, i)| i == id).collect();
            assert_eq!(
                found.len(),
                1,
                "round {round}: acked record {id} present {} times",
                found.len()
            );
            assert_eq!(
                found[0].0, *offset,
                "round {round}: acked record {id} moved"
            );
        }
        for log in by_part.values() {
            for w in log.windows(2) {
                assert_eq!(w[1].0, w[0].0 + 1, "dense offsets");
                assert!(w[1].1 > w[0].1, "order per partition");
            }
        }
    }
    // Still writable after the crashes.
    let acks = Acks::default();
    let p: ThreadedProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("acks", "all")
        .create_with_context(acks.clone())
        .unwrap();
    p.send(
        BaseRecord::to(topic)
            .key("k0")
            .payload(&next_id.to_string()),
    )
    .map_err(|(e, _)| e)
    .unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(acks.0.lock().unwrap().len(), 1);
}
