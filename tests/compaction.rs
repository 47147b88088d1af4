//! Log compaction end to end: the real binary with small segments and a short cleaner
//! backoff, 100k records over 1k keys (some deleted by tombstones), raw protocol.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::{decode_records, record, Broker, Client};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, RecordBatchEncoder, RecordEncodeOptions};

const TOPIC: &str = "compacted";
const KEYS: usize = 1_000;
const RECORDS: usize = 100_000;
const PER_BATCH: usize = 100;
/// Keys whose last write is a tombstone.
const DELETED: usize = 50;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create(c: &mut Client, configs: &[(&str, &str)]) -> i16 {
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name(TOPIC))
        .with_num_partitions(1)
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

fn produce(c: &mut Client, records: Bytes) -> produce_response::PartitionProduceResponse {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(TOPIC))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let r: ProduceResponse = c.call(9, &req);
    r.responses[0].partition_responses[0].clone()
}

fn fetch(c: &mut Client, offset: i64) -> fetch_response::PartitionData {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(TOPIC))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(12, &req);
    r.responses[0].partitions[0].clone()
}

/// Value of record number `i` (None: a tombstone).
fn value_of(i: usize) -> Option<String> {
    let last_round = i >= RECORDS - KEYS;
    if last_round && i % KEYS < DELETED {
        None
    } else {
        Some(format!("v{i}"))
    }
}

fn encode(first: usize, compression: Compression) -> Bytes {
    let records: Vec<_> = (first..first + PER_BATCH)
        .map(|i| {
            let mut r = record((i - first) as i64, &format!("k{}", i % KEYS), "", 1_000);
            r.value = value_of(i).map(Bytes::from);
            r
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
    buf.freeze()
}

/// Every record from offset 0 to the high watermark: offset → (key, value).
fn read_all(c: &mut Client) -> BTreeMap<i64, (String, Option<String>)> {
    let mut out = BTreeMap::new();
    let mut offset = 0;
    loop {
        let p = fetch(c, offset);
        assert_eq!(p.error_code, 0);
        let bytes = p.records.unwrap_or_default();
        if bytes.is_empty() {
            assert_eq!(
                offset, p.high_watermark,
                "nothing more below the high watermark"
            );
            return out;
        }
        // Walk the batch headers: an empty batch still advances the offset.
        let mut pos = 0;
        while pos + 61 <= bytes.len() {
            let base = i64::from_be_bytes(bytes[pos..pos + 8].try_into().unwrap());
            let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
            let delta = i32::from_be_bytes(bytes[pos + 23..pos + 27].try_into().unwrap());
            offset = offset.max(base + i64::from(delta) + 1);
            pos += 12 + len;
        }
        for r in decode_records(&bytes) {
            let k = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
            let v = r.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
            out.insert(r.offset, (k, v));
        }
    }
}

#[test]
fn compaction_keeps_the_latest_value_per_key_at_its_original_offset() {
    let mut b = Broker::start(&[
        "log.cleaner.backoff.ms=200",
        "log.retention.check.interval.ms=200",
    ]);
    let mut c = b.client();
    let configs = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "262144"),
        ("segment.ms", "3000"),
        ("delete.retention.ms", "4000"),
    ];
    assert_eq!(create(&mut c, &configs), 0);

    let codecs = [Compression::None, Compression::Lz4, Compression::Zstd];
    for (n, first) in (0..RECORDS).step_by(PER_BATCH).enumerate() {
        let r = produce(&mut c, encode(first, codecs[n % codecs.len()]));
        assert_eq!(r.error_code, 0);
        assert_eq!(r.base_offset, first as i64, "record i lands at offset i");
    }
    let produced = Instant::now();

    // The latest record per key, at its original offset.
    let latest: BTreeMap<i64, (String, Option<String>)> = (RECORDS - KEYS..RECORDS)
        .map(|i| (i as i64, (format!("k{}", i % KEYS), value_of(i))))
        .collect();
    let live: BTreeMap<_, _> = latest
        .iter()
        .filter(|(_, (_, v))| v.is_some())
        .map(|(o, r)| (*o, r.clone()))
        .collect();

    // Wait for the cleaner: first only the latest records (tombstones included) remain.
    let deadline = produced + Duration::from_secs(60);
    let cleaned_in = loop {
        let got = read_all(&mut c);
        if got == latest || got == live {
            break produced.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "not compacted: {} records",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Then, delete.retention.ms after that cleaning, the tombstones go.
    let tombstones_gone_in = loop {
        let got = read_all(&mut c);
        if got == live {
            break produced.elapsed();
        }
        assert_eq!(got, latest, "only tombstones may still be there");
        assert!(Instant::now() < deadline, "tombstones still there");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "100k records over {KEYS} keys: compacted {cleaned_in:?} after the last produce, \
         tombstones gone after {tombstones_gone_in:?}"
    );
    assert_eq!(live.len(), KEYS - DELETED);
    let p = fetch(&mut c, 0);
    assert_eq!(
        p.high_watermark, RECORDS as i64,
        "the high watermark never moves"
    );
    assert_eq!(p.log_start_offset, 0);

    // A keyless record is refused.
    let mut keyless = record(0, "", "no key", 1_000);
    keyless.key = None;
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &[keyless], &opts).unwrap();
    assert_eq!(
        produce(&mut c, buf.freeze()).error_code,
        87,
        "INVALID_RECORD"
    );

    // The cleaned log survives a restart as it is.
    drop(c);
    b.stop();
    b.spawn();
    let mut c = b.client();
    assert_eq!(read_all(&mut c), live);
}
