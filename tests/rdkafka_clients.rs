//! End-to-end with librdkafka (the rdkafka crate) against the real binary over TCP.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::Broker;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, Timestamp, TopicPartitionList};

fn producer(b: &Broker, extra: &[(&str, &str)]) -> ThreadedProducer<DefaultProducerContext> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", b.addr())
        .set("linger.ms", "5")
        .set("enable.idempotence", "false");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().unwrap()
}

fn consumer(b: &Broker, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", b.addr())
        .set("group.id", "unused-manual-assign")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().unwrap()
}

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

/// (partition, offset, key, value, timestamp, headers) of one consumed record.
type Got = (
    i32,
    i64,
    Option<Vec<u8>>,
    Vec<u8>,
    i64,
    Vec<(String, Option<Vec<u8>>)>,
);

/// Read `n` messages from all partitions of `topic` from the beginning.
fn read_all(b: &Broker, topic: &str, partitions: i32, n: usize) -> Vec<Got> {
    let c = consumer(b, &[]);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n && std::time::Instant::now() < deadline {
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|x| (x.key.to_string(), x.value.map(|v| v.to_vec())))
                        .collect()
                })
                .unwrap_or_default();
            let ts = match m.timestamp() {
                Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => t,
                Timestamp::NotAvailable => -1,
            };
            out.push((
                m.partition(),
                m.offset(),
                m.key().map(|k| k.to_vec()),
                m.payload().unwrap_or(&[]).to_vec(),
                ts,
                headers,
            ));
        }
    }
    out
}

#[test]
fn thousand_records_round_trip_with_keys_headers_timestamps() {
    let b = Broker::start(&[]);
    create_topic(&b, "rt", 6);
    let p = producer(&b, &[("acks", "all")]);
    for i in 0..1000 {
        let key = format!("key-{}", i % 37);
        let val = format!("value-{i}");
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "n",
                value: Some(&format!("{i}")),
            })
            .insert(Header {
                key: "empty",
                value: None::<&str>,
            });
        p.send(
            BaseRecord::to("rt")
                .key(&key)
                .payload(&val)
                .timestamp(1_600_000_000_000 + i)
                .headers(headers),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let got = read_all(&b, "rt", 6, 1000);
    assert_eq!(got.len(), 1000);
    let mut key_partition: HashMap<Vec<u8>, i32> = HashMap::new();
    let mut last_offset: HashMap<i32, i64> = HashMap::new();
    let mut last_i: HashMap<i32, i64> = HashMap::new();
    for (part, off, key, val, ts, headers) in &got {
        let key = key.clone().unwrap();
        assert_eq!(
            *key_partition.entry(key.clone()).or_insert(*part),
            *part,
            "a key stays on one partition"
        );
        let i: i64 = String::from_utf8(val.clone())
            .unwrap()
            .strip_prefix("value-")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(key, format!("key-{}", i % 37).into_bytes());
        assert_eq!(*ts, 1_600_000_000_000 + i);
        assert_eq!(
            headers,
            &vec![
                ("n".to_string(), Some(i.to_string().into_bytes())),
                ("empty".to_string(), None)
            ]
        );
        // Offsets are dense and in send order per partition.
        assert_eq!(*off, last_offset.get(part).map_or(0, |o| o + 1));
        assert!(last_i.get(part).is_none_or(|&prev| prev < i));
        last_offset.insert(*part, *off);
        last_i.insert(*part, i);
    }
    assert!(
        key_partition
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 1
    );
}

#[test]
fn every_codec_round_trips() {
    let b = Broker::start(&[]);
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        create_topic(&b, &topic, 1);
        let p = producer(&b, &[("compression.codec", codec), ("acks", "1")]);
        for i in 0..200 {
            p.send(
                BaseRecord::<(), _>::to(&topic)
                    .payload(&format!("{codec}-{i}-{}", "x".repeat(i % 50))),
            )
            .map_err(|(e, _)| e)
            .unwrap();
        }
        p.flush(Duration::from_secs(30)).unwrap();
        let got = read_all(&b, &topic, 1, 200);
        let vals: Vec<String> = got
            .iter()
            .map(|g| String::from_utf8(g.3.clone()).unwrap())
            .collect();
        let want: Vec<String> = (0..200)
            .map(|i| format!("{codec}-{i}-{}", "x".repeat(i % 50)))
            .collect();
        assert_eq!(vals, want, "{codec}");
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            (0..200).collect::<Vec<i64>>()
        );
    }
}

#[test]
fn watermarks_and_offsets_for_times() {
    let b = Broker::start(&[]);
    create_topic(&b, "times", 1);
    let p = producer(&b, &[("acks", "1"), ("linger.ms", "0")]);
    for i in 0..100i64 {
        p.send(
            BaseRecord::<(), _>::to("times")
                .payload("x")
                .timestamp(10_000 + i * 10),
        )
        .map_err(|(e, _)| e)
        .unwrap();
        if (i + 1) % 10 == 0 {
            p.flush(Duration::from_secs(10)).unwrap();
        }
    }
    p.flush(Duration::from_secs(10)).unwrap();
    let c = consumer(&b, &[]);
    assert_eq!(
        c.fetch_watermarks("times", 0, Duration::from_secs(5))
            .unwrap(),
        (0, 100)
    );
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("times", 0, Offset::Offset(10_455))
        .unwrap();
    let r = c.offsets_for_times(tpl, Duration::from_secs(5)).unwrap();
    assert_eq!(
        r.find_partition("times", 0).unwrap().offset(),
        Offset::Offset(46)
    );
}

#[test]
fn records_survive_restart() {
    let mut b = Broker::start(&[]);
    create_topic(&b, "persist", 3);
    let p = producer(&b, &[("acks", "all")]);
    for i in 0..300 {
        p.send(
            BaseRecord::to("persist")
                .key(&format!("k{i}"))
                .payload(&format!("v{i}")),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    drop(p);
    assert!(b.stop().success(), "clean shutdown on SIGTERM");
    b.spawn();
    let got = read_all(&b, "persist", 3, 300);
    assert_eq!(got.len(), 300);
    let mut vals: Vec<String> = got
        .iter()
        .map(|g| String::from_utf8(g.3.clone()).unwrap())
        .collect();
    vals.sort();
    let mut want: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
    want.sort();
    assert_eq!(vals, want);
}
