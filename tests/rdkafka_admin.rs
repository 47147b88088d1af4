//! CreatePartitions and DeleteRecords through librdkafka's AdminClient (the rdkafka crate),
//! with a producer and a consumer seeing the results.

mod common;

use std::time::Duration;

use common::Broker;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn admin(b: &Broker) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .create()
        .unwrap()
}

fn producer(b: &Broker) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("linger.ms", "5")
        .set("enable.idempotence", "false")
        .create()
        .unwrap()
}

fn produce(b: &Broker, topic: &str, partition: i32, n: usize) {
    let p = producer(b);
    for i in 0..n {
        let v = format!("v{i}");
        p.send(
            BaseRecord::<(), _>::to(topic)
                .partition(partition)
                .payload(&v),
        )
        .unwrap();
    }
    p.flush(Duration::from_secs(20)).unwrap();
}

/// The offsets of the first `n` records read from `topic`-`partition` from the beginning.
fn read_offsets(b: &Broker, topic: &str, partition: i32, n: usize) -> Vec<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("group.id", "rdkafka-admin")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while out.len() < n && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            out.push(m.offset());
        }
    }
    out
}

#[test]
fn create_partitions_through_librdkafka() {
    let b = Broker::start(&[]);
    let a = admin(&b);
    let rt = rt();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let res = rt
        .block_on(a.create_topics(
            &[NewTopic::new("rk-grow", 1, TopicReplication::Fixed(1))],
            &opts,
        ))
        .unwrap();
    assert!(res[0].is_ok(), "{res:?}");
    let res = rt
        .block_on(a.create_partitions(&[NewPartitions::new("rk-grow", 3)], &opts))
        .unwrap();
    assert_eq!(res, vec![Ok("rk-grow".to_string())]);
    let res = rt
        .block_on(a.create_partitions(&[NewPartitions::new("rk-grow", 2)], &opts))
        .unwrap();
    assert_eq!(
        res,
        vec![Err((
            "rk-grow".to_string(),
            RDKafkaErrorCode::InvalidPartitions
        ))]
    );
    let res = rt
        .block_on(a.create_partitions(&[NewPartitions::new("rk-grow", 4).assign(&[&[2]])], &opts))
        .unwrap();
    assert_eq!(
        res,
        vec![Err((
            "rk-grow".to_string(),
            RDKafkaErrorCode::InvalidReplicaAssignment
        ))]
    );
    produce(&b, "rk-grow", 2, 3);
    assert_eq!(read_offsets(&b, "rk-grow", 2, 3), vec![0, 1, 2]);
}

#[test]
fn delete_records_through_librdkafka() {
    let b = Broker::start(&[]);
    let a = admin(&b);
    let rt = rt();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let res = rt
        .block_on(a.create_topics(
            &[NewTopic::new("rk-trim", 1, TopicReplication::Fixed(1))],
            &opts,
        ))
        .unwrap();
    assert!(res[0].is_ok(), "{res:?}");
    produce(&b, "rk-trim", 0, 10);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("rk-trim", 0, Offset::Offset(4))
        .unwrap();
    let out = rt.block_on(a.delete_records(&tpl, &opts)).unwrap();
    let e = out.find_partition("rk-trim", 0).unwrap();
    assert_eq!(e.error(), Ok(()));
    assert_eq!(e.offset(), Offset::Offset(4), "low watermark");
    assert_eq!(read_offsets(&b, "rk-trim", 0, 6), vec![4, 5, 6, 7, 8, 9]);

    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .create()
        .unwrap();
    let (low, high) = c
        .fetch_watermarks("rk-trim", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!((low, high), (4, 10));

    // Beyond the high watermark: OFFSET_OUT_OF_RANGE for that partition.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("rk-trim", 0, Offset::Offset(11))
        .unwrap();
    let out = rt.block_on(a.delete_records(&tpl, &opts)).unwrap();
    let e = out.find_partition("rk-trim", 0).unwrap();
    assert!(e.error().is_err(), "{:?}", e.error());
    // Offset::End: up to the high watermark.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("rk-trim", 0, Offset::End).unwrap();
    let out = rt.block_on(a.delete_records(&tpl, &opts)).unwrap();
    assert_eq!(
        out.find_partition("rk-trim", 0).unwrap().offset(),
        Offset::Offset(10)
    );
}
