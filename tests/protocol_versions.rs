//! Every served version of every API, driven over TCP with raw kafka-protocol requests
//! against the real binary, asserting the real outcome at each version.

mod common;

use bytes::Bytes;
use common::{batch, decode_records, Broker, Client};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use uuid::Uuid;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create(c: &mut Client, version: i16, topic: &str, partitions: i32) -> CreateTopicsResponse {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)]);
    c.call(version, &req)
}

fn topic_id(c: &mut Client, topic: &str) -> Uuid {
    let req = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(name(topic)))
    ]));
    let r: MetadataResponse = c.call(12, &req);
    r.topics[0].topic_id
}

fn produce(
    c: &mut Client,
    version: i16,
    topic: &str,
    id: Uuid,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> produce_response::PartitionProduceResponse {
    let req = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(if version >= 13 { name("") } else { name(topic) })
            .with_topic_id(if version >= 13 { id } else { Uuid::nil() })
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    let r: ProduceResponse = c.call(version, &req);
    r.responses[0].partition_responses[0].clone()
}

fn fetch(
    c: &mut Client,
    version: i16,
    topic: &str,
    id: Uuid,
    partition: i32,
    offset: i64,
    max_wait: i32,
) -> fetch_response::PartitionData {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(if version >= 13 { name("") } else { name(topic) })
            .with_topic_id(if version >= 13 { id } else { Uuid::nil() })
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(version, &req);
    assert_eq!(r.error_code, 0);
    r.responses[0].partitions[0].clone()
}

#[test]
fn api_versions_every_version_and_unknown_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    for v in 0..=4 {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("skua-test"))
            .with_client_software_version(StrBytes::from_static_str("1"));
        let r: ApiVersionsResponse = c.call(v, &req);
        assert_eq!(r.error_code, 0, "v{v}");
        let produce = r
            .api_keys
            .iter()
            .find(|k| k.api_key == 0)
            .expect("produce advertised");
        assert_eq!((produce.min_version, produce.max_version), (0, 13));
        assert!(
            r.api_keys
                .iter()
                .all(|k| k.api_key != ApiKey::DescribeDelegationToken as i16
                    && k.api_key != ApiKey::AlterReplicaLogDirs as i16),
            "unimplemented APIs are not advertised"
        );
        // Feature fields (v3+) carry only what is served: transactions V2 (tests/txn_v2.rs).
        let features: Vec<String> = r
            .finalized_features
            .iter()
            .map(|f| f.name.to_string())
            .collect();
        if v >= 3 {
            assert_eq!(features, vec!["transaction.version".to_string()], "v{v}");
        } else {
            assert!(features.is_empty() && r.supported_features.is_empty());
        }
    }
    // Version 99: UNSUPPORTED_VERSION with the full list, in v0 form.
    let (corr, mut frame) = c.encode_request(4, &ApiVersionsRequest::default());
    frame[6..8].copy_from_slice(&99i16.to_be_bytes());
    c.send_raw(&frame);
    let mut resp = c.read_frame().unwrap();
    use kafka_protocol::protocol::Decodable;
    let h = ResponseHeader::decode(&mut resp, 0).unwrap();
    assert_eq!(h.correlation_id, corr);
    let r = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(r.error_code, 35);
    assert!(r
        .api_keys
        .iter()
        .any(|k| k.api_key == 18 && k.max_version == 4));
}

#[test]
fn metadata_every_version() {
    let b = Broker::start(&["num.partitions=2"]);
    let mut c = b.client();
    create(&mut c, 7, "meta-t", 3);
    for v in 0..=13i16 {
        // Named topic.
        let req = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(name("meta-t")))
            ]))
            .with_allow_auto_topic_creation(v < 4);
        let r: MetadataResponse = c.call(v, &req);
        assert_eq!(r.brokers.len(), 1, "v{v}");
        assert_eq!(r.brokers[0].node_id.0, 1);
        assert_eq!(r.brokers[0].port as u16, b.port);
        assert_eq!(r.brokers[0].host.as_str(), "127.0.0.1");
        if v >= 1 {
            assert_eq!(r.controller_id.0, 1);
        }
        if v >= 2 {
            assert_eq!(r.cluster_id.as_ref().map(|s| s.len()), Some(22));
        }
        let t = &r.topics[0];
        assert_eq!(t.error_code, 0);
        assert_eq!(t.partitions.len(), 3);
        let mut idx: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2]);
        for p in &t.partitions {
            assert_eq!(p.leader_id.0, 1);
            assert_eq!(p.replica_nodes, vec![BrokerId(1)]);
            assert_eq!(p.isr_nodes, vec![BrokerId(1)]);
        }
        if v >= 10 {
            assert!(!t.topic_id.is_nil());
        }
        // Auto-create on request (v4+ flag; always for v0-3).
        let auto = format!("auto-{v}");
        let req = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(name(&auto)))
            ]))
            .with_allow_auto_topic_creation(true);
        let r: MetadataResponse = c.call(v, &req);
        assert_eq!(r.topics[0].error_code, 0, "v{v}");
        assert_eq!(r.topics[0].partitions.len(), 2, "num.partitions honoured");
        if v >= 4 {
            let req = MetadataRequest::default()
                .with_topics(Some(vec![
                    MetadataRequestTopic::default().with_name(Some(name(&format!("noauto-{v}"))))
                ]))
                .with_allow_auto_topic_creation(false);
            let r: MetadataResponse = c.call(v, &req);
            assert_eq!(r.topics[0].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION v{v}");
        }
        // All topics (null list; empty list in v0).
        let all = if v == 0 {
            MetadataRequest::default().with_topics(Some(vec![]))
        } else {
            MetadataRequest::default().with_topics(None)
        };
        let r: MetadataResponse = c.call(v, &all);
        assert!(r
            .topics
            .iter()
            .any(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some("meta-t")));
    }
    // By topic id (v10+) and an unknown id.
    let id = topic_id(&mut c, "meta-t");
    let req = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_topic_id(id),
        MetadataRequestTopic::default().with_topic_id(Uuid::new_v4()),
    ]));
    let r: MetadataResponse = c.call(12, &req);
    assert_eq!(r.topics[0].name.as_ref().unwrap().0.as_str(), "meta-t");
    assert_eq!(r.topics[1].error_code, 100);
}

#[test]
fn metadata_auto_create_disabled_by_config() {
    let b = Broker::start(&["auto.create.topics.enable=false"]);
    let mut c = b.client();
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name("nope")))
        ]))
        .with_allow_auto_topic_creation(true);
    let r: MetadataResponse = c.call(12, &req);
    assert_eq!(r.topics[0].error_code, 3);
    let bad = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(name("bad/name")))
    ]));
    let r: MetadataResponse = c.call(12, &bad);
    assert_eq!(r.topics[0].error_code, 17);
}

#[test]
fn create_topics_every_version_and_errors() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    for v in 2..=7i16 {
        let t = format!("ct-{v}");
        let r = create(&mut c, v, &t, 4);
        let res = &r.topics[0];
        assert_eq!(res.error_code, 0, "v{v}");
        if v >= 5 {
            assert_eq!(res.num_partitions, 4);
            assert_eq!(res.replication_factor, 1);
            let cfg = res.configs.as_ref().unwrap();
            let ret = cfg
                .iter()
                .find(|c| c.name.as_str() == "retention.ms")
                .unwrap();
            assert_eq!(ret.value.as_ref().unwrap().as_str(), "604800000");
        }
        if v >= 7 {
            assert!(!res.topic_id.is_nil());
        }
        let r = create(&mut c, v, &t, 4);
        assert_eq!(r.topics[0].error_code, 36, "TOPIC_ALREADY_EXISTS v{v}");
    }
    let r = create(&mut c, 7, "bad/name", 1);
    assert_eq!(r.topics[0].error_code, 17);
    let long = "x".repeat(250);
    assert_eq!(create(&mut c, 7, &long, 1).topics[0].error_code, 17);
    assert_eq!(create(&mut c, 7, "..", 1).topics[0].error_code, 17);
    assert_eq!(create(&mut c, 7, "has space", 1).topics[0].error_code, 17);
    assert_eq!(create(&mut c, 7, "zero", 0).topics[0].error_code, 37);
    let rf3 = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name("rf3"))
        .with_num_partitions(1)
        .with_replication_factor(3)]);
    let r: CreateTopicsResponse = c.call(7, &rf3);
    assert_eq!(r.topics[0].error_code, 38);
    let badcfg = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name("badcfg"))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![CreatableTopicConfig::default()
            .with_name(StrBytes::from_static_str("retention.ms"))
            .with_value(Some(StrBytes::from_static_str("soon")))])]);
    let r: CreateTopicsResponse = c.call(7, &badcfg);
    assert_eq!(r.topics[0].error_code, 40);
    // validate_only creates nothing.
    let vo = CreateTopicsRequest::default()
        .with_validate_only(true)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name("vo"))
            .with_num_partitions(2)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = c.call(7, &vo);
    assert_eq!((r.topics[0].error_code, r.topics[0].num_partitions), (0, 2));
    let r = create(&mut c, 7, "vo", 1);
    assert_eq!(
        r.topics[0].error_code, 0,
        "validate_only did not create the topic"
    );
    // Topic configs persist and apply.
    let withcfg = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name("small-msgs"))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![CreatableTopicConfig::default()
            .with_name(StrBytes::from_static_str("max.message.bytes"))
            .with_value(Some(StrBytes::from_static_str("200")))])]);
    let r: CreateTopicsResponse = c.call(7, &withcfg);
    assert_eq!(r.topics[0].error_code, 0);
    let big = batch(20, "big", 1_000, Compression::None);
    assert!(big.len() > 200);
    assert_eq!(
        produce(&mut c, 9, "small-msgs", Uuid::nil(), 0, big, 1).error_code,
        10
    );
}

#[test]
fn delete_topics_every_version() {
    let b = Broker::start(&["auto.create.topics.enable=false"]);
    let mut c = b.client();
    for v in 1..=6i16 {
        let t = format!("dt-{v}");
        create(&mut c, 7, &t, 2);
        let req = if v >= 6 {
            DeleteTopicsRequest::default()
                .with_topics(vec![DeleteTopicState::default().with_name(Some(name(&t)))])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![name(&t)])
        };
        let r: DeleteTopicsResponse = c.call(v, &req);
        assert_eq!(r.responses[0].error_code, 0, "v{v}");
        let r: DeleteTopicsResponse = c.call(v, &req);
        assert_eq!(r.responses[0].error_code, 3, "second delete v{v}");
        let md =
            MetadataRequest::default().with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(name(&t)))
            ]));
        let r: MetadataResponse = c.call(12, &md);
        assert_eq!(r.topics[0].error_code, 3);
    }
    create(&mut c, 7, "by-id", 1);
    let id = topic_id(&mut c, "by-id");
    let req = DeleteTopicsRequest::default().with_topics(vec![
        DeleteTopicState::default().with_topic_id(id),
        DeleteTopicState::default().with_topic_id(Uuid::new_v4()),
    ]);
    let r: DeleteTopicsResponse = c.call(6, &req);
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(r.responses[0].name.as_ref().unwrap().0.as_str(), "by-id");
    assert_eq!(r.responses[1].error_code, 100);
    // A re-created topic starts empty.
    create(&mut c, 7, "by-id", 1);
    let id2 = topic_id(&mut c, "by-id");
    assert_ne!(id, id2);
    let p = fetch(&mut c, 12, "by-id", id2, 0, 0, 0);
    assert_eq!(p.high_watermark, 0);
}

#[test]
fn produce_and_fetch_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, 7, "pf", 1);
    let id = topic_id(&mut c, "pf");
    let mut expected_offset = 0i64;
    for v in 3..=13i16 {
        let tag = format!("p{v}");
        let r = produce(
            &mut c,
            v,
            "pf",
            id,
            0,
            batch(3, &tag, 1_000 + v as i64, Compression::None),
            -1,
        );
        assert_eq!(r.error_code, 0, "produce v{v}: {:?}", r.error_message);
        assert_eq!(r.base_offset, expected_offset, "produce v{v}");
        if v >= 5 {
            assert_eq!(r.log_start_offset, 0);
        }
        expected_offset += 3;
    }
    for v in 4..=18i16 {
        let p = fetch(&mut c, v, "pf", id, 0, 0, 0);
        assert_eq!(p.error_code, 0, "fetch v{v}");
        assert_eq!(p.high_watermark, expected_offset);
        let recs = decode_records(p.records.as_ref().unwrap());
        assert_eq!(recs.len() as i64, expected_offset, "fetch v{v}");
        for (i, r) in recs.iter().enumerate() {
            let pv = 3 + i / 3;
            assert_eq!(r.offset, i as i64);
            assert_eq!(
                r.value.as_ref().unwrap(),
                &Bytes::from(format!("p{pv}-v{}", i % 3))
            );
        }
    }
    // A fetch in the middle of a batch returns that whole batch.
    let p = fetch(&mut c, 12, "pf", id, 0, 4, 0);
    let recs = decode_records(p.records.as_ref().unwrap());
    assert_eq!(recs[0].offset, 3);
    // Out of range and unknowns.
    let p = fetch(&mut c, 12, "pf", id, 0, expected_offset + 5, 0);
    assert_eq!(p.error_code, 1);
    let p = fetch(&mut c, 12, "nope", Uuid::nil(), 0, 0, 0);
    assert_eq!(p.error_code, 3);
    let p = fetch(&mut c, 13, "", Uuid::new_v4(), 0, 0, 0);
    assert_eq!(p.error_code, 100);
    let r = produce(
        &mut c,
        9,
        "pf",
        Uuid::nil(),
        7,
        batch(1, "x", 1, Compression::None),
        1,
    );
    assert_eq!(r.error_code, 3);
}

#[test]
fn produce_rejects_bad_batches() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, 7, "bad", 1);
    let good = batch(2, "g", 5, Compression::None);
    let mut corrupt = good.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(
        produce(&mut c, 9, "bad", Uuid::nil(), 0, Bytes::from(corrupt), 1).error_code,
        2
    );
    let mut magic1 = good.to_vec();
    magic1[16] = 1;
    assert_eq!(
        produce(&mut c, 9, "bad", Uuid::nil(), 0, Bytes::from(magic1), 1).error_code,
        87
    );
    let truncated = good.slice(0..good.len() - 3);
    assert_eq!(
        produce(&mut c, 9, "bad", Uuid::nil(), 0, truncated, 1).error_code,
        2
    );
    let mut two = good.to_vec();
    two.extend_from_slice(&good);
    assert_eq!(
        produce(&mut c, 9, "bad", Uuid::nil(), 0, Bytes::from(two), 1).error_code,
        87
    );
    let req =
        ProduceRequest::default()
            .with_acks(2)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(name("bad"))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(good.clone()))])]);
    let r: ProduceResponse = c.call(9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 21);
    // Nothing was appended by the rejected requests.
    let ok = produce(&mut c, 9, "bad", Uuid::nil(), 0, good, 1);
    assert_eq!((ok.error_code, ok.base_offset), (0, 0));
}

#[test]
fn list_offsets_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, 7, "lo", 1);
    // Batches with timestamps 1000..1004, 2000..2004, 3000..3004 (offsets 0-4, 5-9, 10-14).
    for (i, ts) in [1000i64, 2000, 3000].iter().enumerate() {
        let r = produce(
            &mut c,
            9,
            "lo",
            Uuid::nil(),
            0,
            batch(5, &format!("b{i}"), *ts, Compression::Lz4),
            1,
        );
        assert_eq!(r.base_offset, i as i64 * 5);
    }
    let q = |ts: i64| {
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name("lo"))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(ts)
                    .with_current_leader_epoch(-1)])])
    };
    for v in 1..=10i16 {
        let at = |c: &mut Client, ts: i64| -> (i16, i64, i64) {
            let r: ListOffsetsResponse = c.call(v, &q(ts));
            let p = &r.topics[0].partitions[0];
            (p.error_code, p.offset, p.timestamp)
        };
        assert_eq!(at(&mut c, -1), (0, 15, -1), "latest v{v}");
        assert_eq!(at(&mut c, -2), (0, 0, -1), "earliest v{v}");
        assert_eq!(at(&mut c, 2002), (0, 7, 2002), "by record timestamp v{v}");
        assert_eq!(at(&mut c, 1500), (0, 5, 2000), "v{v}");
        assert_eq!(at(&mut c, 0), (0, 0, 1000), "v{v}");
        assert_eq!(at(&mut c, 9999), (0, -1, -1), "v{v}");
        if v >= 7 {
            assert_eq!(at(&mut c, -3), (0, 14, 3004), "max timestamp v{v}");
        }
    }
}

#[test]
fn fetch_long_poll_is_woken_by_append() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, 7, "lp", 1);
    let id = topic_id(&mut c, "lp");
    let start = std::time::Instant::now();
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(10_000)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name("lp"))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let corr = c.send(12, &req);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut p = b.client();
    assert_eq!(
        produce(
            &mut p,
            9,
            "lp",
            id,
            0,
            batch(2, "w", 1, Compression::None),
            1
        )
        .error_code,
        0
    );
    let r: FetchResponse = c.recv::<FetchRequest>(12, corr);
    let waited = start.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(5),
        "woken by append, not by max_wait ({waited:?})"
    );
    assert_eq!(
        decode_records(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        2
    );
    // With nothing to read, max_wait bounds the wait.
    let req = req
        .with_max_wait_ms(200)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name("lp"))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(2)
                .with_partition_max_bytes(1 << 20)])]);
    let t = std::time::Instant::now();
    let r: FetchResponse = c.call(12, &req);
    assert!(t.elapsed() >= std::time::Duration::from_millis(190));
    assert_eq!(
        r.responses[0].partitions[0].records.as_ref().unwrap().len(),
        0
    );
}

#[test]
fn fetch_respects_partition_and_response_limits() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, 7, "lim", 2);
    let id = topic_id(&mut c, "lim");
    let one = batch(10, "a", 1, Compression::None);
    let n = one.len();
    for p in 0..2 {
        for _ in 0..5 {
            produce(&mut c, 9, "lim", id, p, one.clone(), 1);
        }
    }
    let part = |p: i32, max: i32| {
        FetchPartition::default()
            .with_partition(p)
            .with_fetch_offset(0)
            .with_partition_max_bytes(max)
    };
    let req = |max_bytes: i32, pmax: i32| {
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(max_bytes)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name("lim"))
                .with_partitions(vec![part(0, pmax), part(1, pmax)])])
    };
    // partition_max_bytes of 2.5 batches → 2 whole batches per partition.
    let r: FetchResponse = c.call(12, &req(1 << 20, (n * 5 / 2) as i32));
    for p in &r.responses[0].partitions {
        assert_eq!(p.records.as_ref().unwrap().len(), 2 * n);
    }
    // max_bytes of 3 batches → partition 0 gets 2 (its own limit), partition 1 gets 1.
    let r: FetchResponse = c.call(12, &req((n * 3) as i32, (n * 5 / 2) as i32));
    assert_eq!(
        r.responses[0].partitions[0].records.as_ref().unwrap().len(),
        2 * n
    );
    assert_eq!(
        r.responses[0].partitions[1].records.as_ref().unwrap().len(),
        n
    );
    // A limit smaller than one batch still returns the first batch whole (KIP-74), only once.
    let r: FetchResponse = c.call(12, &req(10, 10));
    assert_eq!(
        r.responses[0].partitions[0].records.as_ref().unwrap().len(),
        n
    );
    assert_eq!(
        r.responses[0].partitions[1].records.as_ref().unwrap().len(),
        0
    );
}
