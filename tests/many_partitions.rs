//! Many partitions on few descriptors (issue 10): a broker limited to a small `nofile` hosts
//! thousands of partitions that librdkafka produces to and consumes from, across a clean
//! restart and a `kill -9`; and a broker whose descriptors are all taken from outside (idle
//! connections) keeps serving the connections it has, answers with Kafka's error codes, says
//! so in its metrics, and serves normally again once the connections are gone.

mod common;

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{batch, Broker, Client};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::{MetadataRequest, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// (topic, partition, value) of every acknowledged record, and the failures.
#[derive(Clone, Default)]
struct Acks {
    ok: Arc<Mutex<Vec<(String, i32, String)>>>,
    failed: Arc<Mutex<Vec<String>>>,
}
impl ClientContext for Acks {}
impl ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(m) => self.ok.lock().unwrap().push((
                m.topic().to_string(),
                m.partition(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            )),
            Err((e, _)) => self.failed.lock().unwrap().push(e.to_string()),
        }
    }
}

/// Produce one record to every partition of `topics` (acks=all), all acknowledged.
fn produce_everywhere(
    addr: &str,
    topics: &[(String, i32)],
    round: &str,
) -> Vec<(String, i32, String)> {
    let acks = Acks::default();
    let producer: ThreadedProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("message.timeout.ms", "120000")
        .create_with_context(acks.clone())
        .unwrap();
    for (topic, partitions) in topics {
        for p in 0..*partitions {
            let value = format!("{topic}/{p}/{round}");
            let mut record: BaseRecord<(), String> =
                BaseRecord::to(topic).partition(p).payload(&value);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }
    }
    producer.flush(Duration::from_secs(180)).unwrap();
    let failed = acks.failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    let ok = acks.ok.lock().unwrap().clone();
    let expected: usize = topics.iter().map(|(_, n)| *n as usize).sum();
    assert_eq!(ok.len(), expected);
    ok
}

/// Every record of every partition, read from the beginning: (topic, partition) -> values
/// in offset order.
fn consume_everything(
    addr: &str,
    topics: &[(String, i32)],
    expected: usize,
) -> BTreeMap<(String, i32), Vec<(i64, String)>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", "many-partitions-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for (topic, partitions) in topics {
        for p in 0..*partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
    }
    consumer.assign(&tpl).unwrap();
    let mut got: BTreeMap<(String, i32), Vec<(i64, String)>> = BTreeMap::new();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(180);
    while n < expected && Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            got.entry((m.topic().to_string(), m.partition()))
                .or_default()
                .push((
                    m.offset(),
                    String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                ));
            n += 1;
        }
    }
    // Nothing more than expected arrives.
    let extra_deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < extra_deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            panic!(
                "unexpected record {}-{}@{}",
                m.topic(),
                m.partition(),
                m.offset()
            );
        }
    }
    assert_eq!(n, expected, "records consumed");
    got
}

/// The value of a metric sample line `name{labels} value`.
fn metric(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {series} in metrics"))
}

fn expect_rounds(
    got: &BTreeMap<(String, i32), Vec<(i64, String)>>,
    topics: &[(String, i32)],
    rounds: &[&str],
) {
    for (topic, partitions) in topics {
        for p in 0..*partitions {
            let want: Vec<(i64, String)> = rounds
                .iter()
                .enumerate()
                .map(|(i, r)| (i as i64, format!("{topic}/{p}/{r}")))
                .collect();
            assert_eq!(got.get(&(topic.clone(), p)), Some(&want), "{topic}-{p}");
        }
    }
}

#[test]
fn thousands_of_partitions_on_256_descriptors_survive_restart_and_kill_9() {
    const TOPICS: usize = 20;
    const PARTITIONS: i32 = 100;
    let mut broker = Broker::start_limited(256, &[]);
    let topics: Vec<(String, i32)> = (0..TOPICS)
        .map(|i| (format!("tenant-{i}"), PARTITIONS))
        .collect();
    let started = Instant::now();
    let mut c = broker.client();
    for (t, n) in &topics {
        c.create_topic(t, *n);
    }
    eprintln!(
        "created {} partitions in {:?}",
        TOPICS as i32 * PARTITIONS,
        started.elapsed()
    );
    drop(c);
    let total = TOPICS * PARTITIONS as usize;

    produce_everywhere(&broker.addr(), &topics, "r1");
    let got = consume_everything(&broker.addr(), &topics, total);
    expect_rounds(&got, &topics, &["r1"]);

    let m = broker.scrape();
    assert_eq!(metric(&m, "skua_open_files_limit{limit=\"nofile\"}"), 256.0);
    assert_eq!(
        metric(&m, "skua_open_files_limit{limit=\"log_max_open_files\"}"),
        128.0
    );
    assert!(metric(&m, "skua_open_files{scope=\"log_cache\"}") <= 128.0 + 8.0);
    assert!(metric(&m, "skua_open_files{scope=\"process\"}") < 256.0);
    assert!(metric(&m, "skua_open_files_cache_events_total{event=\"eviction\"}") > 0.0);
    assert_eq!(
        metric(
            &m,
            "skua_resource_exhausted_total{resource=\"file_descriptors\"}"
        ),
        0.0,
        "the cache keeps the broker within its limit"
    );

    // A clean restart: everything is there, and takes more.
    assert!(broker.stop().success());
    // The high watermarks are in one checkpoint for the directory (Kafka's format), none in
    // the partitions' directories.
    let checkpoint =
        std::fs::read_to_string(broker.dir.join("replication-offset-checkpoint")).unwrap();
    let mut lines = checkpoint.lines();
    assert_eq!(lines.next(), Some("0"));
    let count: usize = lines.next().unwrap().parse().unwrap();
    let entries: std::collections::HashMap<(String, i32), i64> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                (f[0].to_string(), f[1].parse().unwrap()),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(entries.len(), count);
    for (t, n) in &topics {
        for p in 0..*n {
            assert_eq!(entries[&(t.clone(), p)], 1, "{t}-{p}");
            assert!(!broker.dir.join(format!("{t}-{p}/high-watermark")).exists());
        }
    }
    broker.spawn();
    let got = consume_everything(&broker.addr(), &topics, total);
    expect_rounds(&got, &topics, &["r1"]);
    produce_everywhere(&broker.addr(), &topics, "r2");

    // kill -9 after acks=all acknowledgements: recovery keeps all of them.
    broker.kill9();
    broker.spawn();
    let got = consume_everything(&broker.addr(), &topics, 2 * total);
    expect_rounds(&got, &topics, &["r1", "r2"]);
    produce_everywhere(&broker.addr(), &topics, "r3");
    let got = consume_everything(&broker.addr(), &topics, 3 * total);
    expect_rounds(&got, &topics, &["r1", "r2", "r3"]);
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn produce_raw(c: &mut Client, topic: &str, partitions: i32, tag: &str) -> Vec<i16> {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(
                (0..partitions)
                    .map(|p| {
                        PartitionProduceData::default()
                            .with_index(p)
                            .with_records(Some(batch(
                                1,
                                &format!("{tag}-{p}"),
                                1_000,
                                Compression::None,
                            )))
                    })
                    .collect(),
            )]);
    let r: ProduceResponse = c.call(9, &req);
    let mut codes = vec![-1i16; partitions as usize];
    for p in &r.responses[0].partition_responses {
        codes[p.index as usize] = p.error_code;
    }
    codes
}

#[test]
fn descriptors_taken_from_outside_fail_cleanly_and_service_comes_back() {
    const PARTITIONS: i32 = 200;
    let broker = Broker::start_limited(160, &[]);
    let mut c = broker.client();
    c.create_topic("crowded", PARTITIONS);
    assert!(produce_raw(&mut c, "crowded", PARTITIONS, "before")
        .iter()
        .all(|&e| e == 0));

    // Take every descriptor the broker has left with idle connections (and then some: the
    // rest wait in the listen backlog).
    // A connect that times out means the backlog is full too; a few in a row end it.
    let mut idle = Vec::new();
    let mut failed_in_a_row = 0;
    while idle.len() < 400 && failed_in_a_row < 10 {
        match TcpStream::connect_timeout(
            &broker.addr().parse().unwrap(),
            Duration::from_millis(300),
        ) {
            Ok(s) => {
                idle.push(s);
                failed_in_a_row = 0;
            }
            Err(_) => failed_in_a_row += 1,
        }
    }
    // The accept loop takes them as fast as it can until it hits the limit (the metrics
    // listener cannot accept either, so its counter is read once the crowd has left).
    std::thread::sleep(Duration::from_secs(1));
    eprintln!("{} idle connections", idle.len());

    // The connection it already had is still served: metadata, and produce answered with
    // success or KAFKA_STORAGE_ERROR (56) per partition, never anything else.
    let md: kafka_protocol::messages::MetadataResponse = c.call(
        12,
        &MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name("crowded")))
        ])),
    );
    assert_eq!(md.topics[0].error_code, 0);
    assert_eq!(md.topics[0].partitions.len(), PARTITIONS as usize);
    let during = produce_raw(&mut c, "crowded", PARTITIONS, "during");
    assert!(
        during.iter().all(|&e| e == 0 || e == 56),
        "unexpected codes {during:?}"
    );

    // Stay crowded past a high-watermark checkpoint (every 5 s), which cannot open its
    // files now: it must be tried again later, not take partitions offline.
    std::thread::sleep(Duration::from_secs(6));

    // The crowd leaves: new connections are accepted again, every partition takes writes.
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after_ok = vec![0usize; PARTITIONS as usize];
    loop {
        let last = match std::panic::catch_unwind(|| broker.client()) {
            Ok(mut f) => {
                let codes = produce_raw(&mut f, "crowded", PARTITIONS, "after");
                assert!(codes.iter().all(|&e| e == 0 || e == 56), "{codes:?}");
                for (p, &e) in codes.iter().enumerate() {
                    after_ok[p] += usize::from(e == 0);
                }
                if codes.iter().all(|&e| e == 0) {
                    break;
                }
                let failing: Vec<usize> = (0..codes.len()).filter(|&p| codes[p] != 0).collect();
                format!("KAFKA_STORAGE_ERROR from partitions {failing:?}")
            }
            Err(_) => "no connection".to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "service did not come back within 30 s: {last}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = broker.scrape();
    assert!(
        metric(
            &m,
            "skua_resource_exhausted_total{resource=\"file_descriptors\"}"
        ) > 0.0
    );

    // Exactly the acknowledged records are in the log, in order, nothing lost or doubled.
    let topics = vec![("crowded".to_string(), PARTITIONS)];
    let written_during = during.iter().filter(|&&e| e == 0).count();
    let expected = PARTITIONS as usize + written_during + after_ok.iter().sum::<usize>();
    let got = consume_everything(&broker.addr(), &topics, expected);
    for p in 0..PARTITIONS {
        let records = &got[&("crowded".to_string(), p)];
        let values: Vec<String> = records.iter().map(|(_, v)| v.clone()).collect();
        let mut want = vec![format!("before-{p}-v0")];
        if during[p as usize] == 0 {
            want.push(format!("during-{p}-v0"));
        }
        want.extend(std::iter::repeat_n(
            format!("after-{p}-v0"),
            after_ok[p as usize],
        ));
        assert_eq!(values, want, "partition {p}");
        let offsets: Vec<i64> = records.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (0..offsets.len() as i64).collect::<Vec<_>>());
    }
}
