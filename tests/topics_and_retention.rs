//! Topic metadata persistence, retention, LogAppendTime, acks=0, and min.insync.replicas,
//! over TCP against the real binary.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{batch, decode_records, Broker, Client};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create(c: &mut Client, topic: &str, partitions: i32, configs: &[(&str, &str)]) -> i16 {
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name(topic))
        .with_num_partitions(partitions)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_value(Some(StrBytes::from_string(v.to_string())))
                })
                .collect(),
        )]);
    let r: CreateTopicsResponse = c.call(7, &req);
    r.topics[0].error_code
}

fn produce(
    c: &mut Client,
    topic: &str,
    p: i32,
    records: Bytes,
    acks: i16,
) -> Option<produce_response::PartitionProduceResponse> {
    let req = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(p)
                .with_records(Some(records))])]);
    if acks == 0 {
        c.send(9, &req);
        return None;
    }
    let r: ProduceResponse = c.call(9, &req);
    Some(r.responses[0].partition_responses[0].clone())
}

fn offsets(c: &mut Client, topic: &str, ts: i64) -> (i16, i64, i64) {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(ts)])]);
    let r: ListOffsetsResponse = c.call(7, &req);
    let p = &r.topics[0].partitions[0];
    (p.error_code, p.offset, p.timestamp)
}

fn fetch(c: &mut Client, topic: &str, offset: i64) -> fetch_response::PartitionData {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(12, &req);
    r.responses[0].partitions[0].clone()
}

#[test]
fn topics_and_their_configs_survive_restart() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    assert_eq!(
        create(&mut c, "kept", 3, &[("max.message.bytes", "300")]),
        0
    );
    let md = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(name("kept")))
    ]));
    let before: MetadataResponse = c.call(12, &md);
    for i in 0..5 {
        assert_eq!(
            produce(
                &mut c,
                "kept",
                0,
                batch(2, &format!("r{i}"), 100, Compression::Gzip),
                1
            )
            .unwrap()
            .error_code,
            0
        );
    }
    drop(c);
    assert!(b.stop().success());
    b.spawn();
    let mut c = b.client();
    let after: MetadataResponse = c.call(12, &md);
    assert_eq!(after.cluster_id, before.cluster_id, "cluster id kept");
    assert_eq!(
        after.topics[0].topic_id, before.topics[0].topic_id,
        "topic id kept"
    );
    assert_eq!(after.topics[0].partitions.len(), 3);
    assert_eq!(offsets(&mut c, "kept", -1), (0, 10, -1));
    // The topic config still applies.
    let big = batch(30, "big", 1, Compression::None);
    assert_eq!(produce(&mut c, "kept", 0, big, 1).unwrap().error_code, 10);
    let recs = decode_records(fetch(&mut c, "kept", 0).records.as_ref().unwrap());
    assert_eq!(recs.len(), 10);
    assert_eq!(recs[9].value.as_ref().unwrap(), &Bytes::from("r4-v1"));
}

#[test]
fn retention_by_bytes_advances_log_start_offset() {
    let b = Broker::start(&["log.retention.check.interval.ms=100"]);
    let mut c = b.client();
    assert_eq!(
        create(
            &mut c,
            "ret",
            1,
            &[("segment.bytes", "2048"), ("retention.bytes", "4096")]
        ),
        0
    );
    let one = batch(10, "x", 1, Compression::None);
    for _ in 0..40 {
        assert_eq!(
            produce(&mut c, "ret", 0, one.clone(), 1)
                .unwrap()
                .error_code,
            0
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut start = 0;
    while Instant::now() < deadline {
        start = offsets(&mut c, "ret", -2).1;
        if start > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(start > 0, "retention deleted old segments");
    assert_eq!(start % 10, 0, "log start is a batch boundary");
    assert_eq!(offsets(&mut c, "ret", -1).1, 400);
    let p = fetch(&mut c, "ret", 0);
    assert_eq!(p.error_code, 1, "OFFSET_OUT_OF_RANGE below the log start");
    assert_eq!(p.log_start_offset, start);
    let p = fetch(&mut c, "ret", start);
    assert_eq!(decode_records(p.records.as_ref().unwrap())[0].offset, start);
}

#[test]
fn retention_by_time_deletes_old_segments() {
    let b = Broker::start(&["log.retention.check.interval.ms=100"]);
    let mut c = b.client();
    assert_eq!(
        create(
            &mut c,
            "old",
            1,
            &[("segment.bytes", "1024"), ("retention.ms", "1000")]
        ),
        0
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Records stamped two hours ago are past retention at once; the active segment stays.
    for _ in 0..10 {
        produce(
            &mut c,
            "old",
            0,
            batch(5, "o", now - 7_200_000, Compression::None),
            1,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while offsets(&mut c, "old", -2).1 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let start = offsets(&mut c, "old", -2).1;
    assert!(start > 0 && start <= 50, "start {start}");
}

#[test]
fn log_append_time_is_stamped_by_the_broker() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    assert_eq!(
        create(
            &mut c,
            "lat",
            1,
            &[("message.timestamp.type", "LogAppendTime")]
        ),
        0
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let r = produce(&mut c, "lat", 0, batch(3, "t", 42, Compression::Snappy), 1).unwrap();
    assert_eq!(r.error_code, 0);
    assert!(
        r.log_append_time_ms >= before,
        "log_append_time_ms {}",
        r.log_append_time_ms
    );
    let bytes = fetch(&mut c, "lat", 0).records.unwrap();
    // Clients take every record's time from the batch's max timestamp when the batch says
    // LogAppendTime (attribute bit 3).
    let attributes = i16::from_be_bytes([bytes[21], bytes[22]]);
    assert_eq!(attributes & 0x08, 0x08);
    let max_ts = i64::from_be_bytes(bytes[35..43].try_into().unwrap());
    assert_eq!(max_ts, r.log_append_time_ms);
    let recs = decode_records(&bytes);
    assert_eq!(recs.len(), 3);
    for rec in recs {
        assert_eq!(
            rec.timestamp_type,
            kafka_protocol::records::TimestampType::LogAppend
        );
    }
}

#[test]
fn acks_zero_appends_without_answering() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    assert_eq!(create(&mut c, "a0", 1, &[]), 0);
    for i in 0..5 {
        produce(
            &mut c,
            "a0",
            0,
            batch(2, &format!("z{i}"), 1, Compression::None),
            0,
        );
    }
    // The next answered request proves the acks=0 ones produced no response frames.
    let deadline = Instant::now() + Duration::from_secs(5);
    while offsets(&mut c, "a0", -1).1 < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(offsets(&mut c, "a0", -1), (0, 10, -1));
}

#[test]
fn min_insync_replicas_is_capped_by_the_replication_factor() {
    // Kafka 3.7+ (KAFKA-15583): the effective min.insync.replicas is at most the replica
    // count, so a replication-factor-1 topic with min.insync.replicas=2 takes acks=all
    // writes; NOT_ENOUGH_REPLICAS needs followers out of the ISR (tests/cluster_*).
    let b = Broker::start(&[]);
    let mut c = b.client();
    assert_eq!(
        create(&mut c, "isr2", 1, &[("min.insync.replicas", "2")]),
        0
    );
    let r = produce(&mut c, "isr2", 0, batch(1, "i", 1, Compression::None), -1).unwrap();
    assert_eq!((r.error_code, r.base_offset), (0, 0));
    let r = produce(&mut c, "isr2", 0, batch(1, "i", 1, Compression::None), 1).unwrap();
    assert_eq!((r.error_code, r.base_offset), (0, 1));
}
