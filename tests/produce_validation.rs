//! Kafka's LogValidator over TCP against the real binary: per-record errors (KIP-467) for
//! keyless records in compacted topics and timestamps outside
//! `message.timestamp.before/after.max.ms`, in the raw Produce response and in librdkafka's
//! delivery reports; and topic `compression.type` (the broker re-compresses batches in
//! another codec, KIP-390 levels), checked in the stored batches and by a consumer.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use common::{Broker, Client};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, Timestamp, TopicPartitionList};

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rec(i: i64, key: Option<&str>, ts: i64) -> Record {
    Record {
        transactional: false,
        control: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: i,
        sequence: i as i32 - 1,
        timestamp: ts,
        key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
        value: Some(Bytes::from(format!("value-{i}"))),
        headers: [(
            StrBytes::from_string(format!("h{i}")),
            Some(Bytes::from(format!("hv{i}"))),
        )]
        .into_iter()
        .collect(),
        delete_horizon: false,
    }
}

fn encode(records: &[Record], compression: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.freeze()
}

fn produce(
    c: &mut Client,
    v: i16,
    topic: &str,
    records: Bytes,
) -> produce_response::PartitionProduceResponse {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let r: ProduceResponse = c.call(v, &req);
    r.responses[0].partition_responses[0].clone()
}

/// The raw record bytes fetched from `topic`-0 at `offset`.
fn fetch_raw(c: &mut Client, topic: &str, offset: i64) -> Bytes {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(12, &req);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.records.clone().unwrap_or_default()
}

/// The codec (attribute bits 0-2) of each stored batch.
fn stored_codecs(raw: &Bytes) -> Vec<i16> {
    let mut out = Vec::new();
    let mut b = raw.clone();
    while b.remaining() >= 61 {
        let len = i32::from_be_bytes(b[8..12].try_into().unwrap()) as usize + 12;
        out.push(i16::from_be_bytes(b[21..23].try_into().unwrap()) & 7);
        b.advance(len.min(b.remaining()));
    }
    out
}

fn record_errors(p: &produce_response::PartitionProduceResponse) -> Vec<(i32, String)> {
    p.record_errors
        .iter()
        .map(|e| {
            (
                e.batch_index,
                e.batch_index_error_message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn keyless_records_in_a_compacted_topic_are_record_errors() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    c.create_topic_with("compacted", 1, &[("cleanup.policy", "compact")]);
    let now = now_ms();
    let records = vec![
        rec(0, Some("k0"), now),
        rec(1, None, now),
        rec(2, Some("k2"), now),
        rec(3, None, now),
    ];
    let why = "Compacted topic cannot accept message without key in topic partition compacted-0";
    for (codec, v) in [
        (Compression::None, 8),
        (Compression::Zstd, 9),
        (Compression::None, 10),
        (Compression::Gzip, 12),
    ] {
        let p = produce(&mut c, v, "compacted", encode(&records, codec));
        assert_eq!((p.error_code, p.base_offset), (87, -1), "{codec:?} v{v}");
        assert_eq!(
            record_errors(&p),
            vec![(1, why.to_string()), (3, why.to_string())]
        );
        assert_eq!(
            p.error_message.as_ref().map(|m| m.to_string()),
            Some(format!(
                "One or more records have been rejected due to 2 record errors in total, and \
                 only showing the first three errors at most: [RecordError(batchIndex=1, \
                 message='{why}'), RecordError(batchIndex=3, message='{why}')]"
            ))
        );
        // Before v8 the response has no record errors: the batch's error alone.
        let p = produce(&mut c, 7, "compacted", encode(&records, codec));
        assert_eq!(p.error_code, 87);
        assert!(p.record_errors.is_empty());
    }
    // Nothing was written; keyed records are accepted.
    let keyed: Vec<Record> = (0..3).map(|i| rec(i, Some("k"), now)).collect();
    let p = produce(&mut c, 9, "compacted", encode(&keyed, Compression::None));
    assert_eq!((p.error_code, p.base_offset), (0, 0));
}

#[test]
fn timestamps_out_of_bounds_are_record_errors() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    c.create_topic_with(
        "bounded",
        1,
        &[
            ("message.timestamp.before.max.ms", "3600000"),
            ("message.timestamp.after.max.ms", "3600000"),
        ],
    );
    let now = now_ms();
    let records = vec![
        rec(0, Some("a"), now),
        rec(1, Some("b"), now - 7_200_000),
        rec(2, Some("c"), now + 7_200_000),
        rec(3, Some("d"), now - 60_000),
    ];
    let p = produce(&mut c, 10, "bounded", encode(&records, Compression::Lz4));
    assert_eq!(p.error_code, 32, "INVALID_TIMESTAMP");
    let errs = record_errors(&p);
    assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2]);
    assert!(
        errs[0].1.starts_with(&format!(
            "Timestamp {} of message with offset 1 is out of range. The timestamp should be within [",
            now - 7_200_000
        )),
        "{errs:?}"
    );
    assert_eq!(
        p.error_message.as_ref().map(|m| m.to_string()).as_deref(),
        Some("One or more records have been rejected due to invalid timestamp")
    );
    // In bounds: accepted. A topic left at the defaults accepts any timestamp.
    let p = produce(
        &mut c,
        10,
        "bounded",
        encode(&[rec(0, Some("a"), now)], Compression::None),
    );
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    c.create_topic("unbounded", 1);
    let p = produce(&mut c, 10, "unbounded", encode(&records, Compression::None));
    assert_eq!((p.error_code, p.base_offset), (0, 0));
}

/// One delivery report: the message value, and its offset or error.
type Report = (String, Result<i64, RDKafkaErrorCode>);

/// Delivery reports of one producer, in arrival order.
#[derive(Clone, Default)]
struct Reports(Arc<Mutex<Vec<Report>>>);

impl ClientContext for Reports {}
impl ProducerContext for Reports {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        let (value, res) = match r {
            Ok(m) => (m.payload().unwrap_or(&[]).to_vec(), Ok(m.offset())),
            Err((KafkaError::MessageProduction(code), m)) => {
                (m.payload().unwrap_or(&[]).to_vec(), Err(*code))
            }
            Err((e, m)) => panic!("{e:?} {:?}", m.payload()),
        };
        self.0
            .lock()
            .unwrap()
            .push((String::from_utf8(value).unwrap(), res));
    }
}

/// librdkafka gets the broker's per-batch error for every record of a rejected batch (and
/// none for the other partitions' batches). librdkafka 2.12.1 has code to fail only the
/// records named in record_errors and the batch's others with _INVALID_DIFFERENT_RECORD,
/// but in this run (Produce v10, record_errors present: see the raw tests above) its
/// delivery reports carry the batch error for all of them; this test pins what it reports.
#[test]
fn librdkafka_delivery_reports_of_a_rejected_batch() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    c.create_topic_with("rk-compacted", 1, &[("cleanup.policy", "compact")]);
    c.create_topic_with(
        "rk-bounded",
        1,
        &[("message.timestamp.before.max.ms", "60000")],
    );
    let reports = Reports::default();
    let p: ThreadedProducer<Reports> = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("linger.ms", "200")
        .set("enable.idempotence", "false")
        .set("retries", "0")
        .create_with_context(reports.clone())
        .unwrap();
    let now = now_ms();
    for (i, key) in [Some("k0"), None, Some("k2")].iter().enumerate() {
        let v = format!("c{i}");
        let mut r = BaseRecord::<str, str>::to("rk-compacted").payload(&v);
        if let Some(k) = key {
            r = r.key(k);
        }
        p.send(r).map_err(|(e, _)| e).unwrap();
    }
    for (i, ts) in [now, now - 3_600_000, now].iter().enumerate() {
        let v = format!("t{i}");
        p.send(
            BaseRecord::<str, str>::to("rk-bounded")
                .key("k")
                .payload(&v)
                .timestamp(*ts),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let mut got = reports.0.lock().unwrap().clone();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    use RDKafkaErrorCode::{InvalidRecord, InvalidTimestamp};
    assert_eq!(
        got,
        vec![
            ("c0".to_string(), Err(InvalidRecord)),
            ("c1".to_string(), Err(InvalidRecord)),
            ("c2".to_string(), Err(InvalidRecord)),
            ("t0".to_string(), Err(InvalidTimestamp)),
            ("t1".to_string(), Err(InvalidTimestamp)),
            ("t2".to_string(), Err(InvalidTimestamp)),
        ]
    );
    // The same producer's valid records still go through.
    p.send(
        BaseRecord::<str, str>::to("rk-compacted")
            .key("k")
            .payload("ok"),
    )
    .map_err(|(e, _)| e)
    .unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    let last = reports.0.lock().unwrap().last().cloned();
    assert_eq!(last, Some(("ok".to_string(), Ok(0))));
}

/// A topic's compression.type re-compresses batches in another codec (offsets, timestamps,
/// keys, values and headers unchanged); `producer` and a matching codec keep the batch.
#[test]
fn topic_compression_type_recompresses() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    // (topic config, producer codec, stored codec)
    let cases = [
        ("zstd", Compression::None, 4),
        ("gzip", Compression::Lz4, 1),
        ("uncompressed", Compression::Snappy, 0),
        ("lz4", Compression::Gzip, 3),
        ("snappy", Compression::Zstd, 2),
        ("producer", Compression::Lz4, 3),
        ("zstd", Compression::Zstd, 4),
    ];
    let now = now_ms();
    for (i, (topic_codec, sent, stored)) in cases.iter().enumerate() {
        let topic = format!("comp-{i}-{topic_codec}");
        c.create_topic_with(&topic, 1, &[("compression.type", topic_codec)]);
        let records: Vec<Record> = (0..20)
            .map(|j| rec(j, Some(&format!("key-{j}")), now + j))
            .collect();
        for round in 0..2 {
            let p = produce(&mut c, 9, &topic, encode(&records, *sent));
            assert_eq!((p.error_code, p.base_offset), (0, round * 20), "{topic}");
        }
        let raw = fetch_raw(&mut c, &topic, 0);
        assert_eq!(stored_codecs(&raw), vec![*stored; 2], "{topic}");
        let got = common::decode_records(&raw);
        assert_eq!(got.len(), 40);
        for (n, r) in got.iter().enumerate() {
            let j = (n % 20) as i64;
            assert_eq!(r.offset, n as i64);
            assert_eq!(r.timestamp, now + j);
            assert_eq!(r.key.as_deref(), Some(format!("key-{j}").as_bytes()));
            assert_eq!(r.value.as_deref(), Some(format!("value-{j}").as_bytes()));
            let h = r.headers.get(&StrBytes::from_string(format!("h{j}")));
            assert_eq!(h, Some(&Some(Bytes::from(format!("hv{j}")))), "{topic}");
        }
    }
    // Invalid codec and levels are INVALID_CONFIG (40).
    for (k, v) in [
        ("compression.type", "brotli"),
        ("compression.gzip.level", "10"),
        ("compression.lz4.level", "0"),
        ("compression.zstd.level", "23"),
    ] {
        let req = CreateTopicsRequest::default().with_topics(vec![
            create_topics_request::CreatableTopic::default()
                .with_name(name("bad-level"))
                .with_num_partitions(1)
                .with_replication_factor(-1)
                .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str(k))
                    .with_value(Some(StrBytes::from_static_str(v)))]),
        ]);
        let r: CreateTopicsResponse = c.call(5, &req);
        assert_eq!(r.topics[0].error_code, 40, "{k}={v}");
    }
}

/// librdkafka produces lz4 with idempotence to a gzip topic; its consumer reads the records
/// back unchanged (keys, values, headers, timestamps, offsets) from gzip batches.
#[test]
fn librdkafka_round_trip_through_a_recompressing_topic() {
    let b = Broker::start(&[("compression.gzip.level=9")]);
    let mut c = b.client();
    c.create_topic_with("rk-gzip", 1, &[("compression.type", "gzip")]);
    let p: ThreadedProducer<rdkafka::producer::DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("linger.ms", "20")
        .set("enable.idempotence", "true")
        .set("compression.codec", "lz4")
        .create()
        .unwrap();
    let now = now_ms();
    for i in 0..300i64 {
        let (k, v) = (
            format!("k{i}"),
            format!("v{i}-{}", "x".repeat(i as usize % 40)),
        );
        let h = format!("{i}");
        p.send(
            BaseRecord::to("rk-gzip")
                .key(&k)
                .payload(&v)
                .timestamp(now + i)
                .headers(OwnedHeaders::new().insert(Header {
                    key: "n",
                    value: Some(&h),
                })),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let raw = fetch_raw(&mut c, "rk-gzip", 0);
    let codecs = stored_codecs(&raw);
    assert!(
        !codecs.is_empty() && codecs.iter().all(|&x| x == 1),
        "{codecs:?}"
    );
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("group.id", "rk-gzip-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("rk-gzip", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut n = 0i64;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while n < 300 && std::time::Instant::now() < deadline {
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap();
        assert_eq!(m.offset(), n);
        assert_eq!(m.key(), Some(format!("k{n}").as_bytes()));
        assert_eq!(
            m.payload(),
            Some(format!("v{n}-{}", "x".repeat(n as usize % 40)).as_bytes())
        );
        assert_eq!(m.timestamp(), Timestamp::CreateTime(now + n));
        let h = m.headers().unwrap().get(0);
        assert_eq!((h.key, h.value), ("n", Some(format!("{n}").as_bytes())));
        n += 1;
    }
    assert_eq!(n, 300);
}
