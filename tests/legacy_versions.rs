//! The versions Kafka 4 removed (KIP-896) that real clients still send, over TCP against the
//! real binary, with requests and responses encoded here by hand from the old schemas (the
//! kafka-protocol crate has no codecs for them): Produce v0–2 with message sets of magic 0/1
//! and every legacy codec, Fetch v0–3 with down-conversion, ListOffsets v0, OffsetCommit
//! v0–1, OffsetFetch v0, CreateTopics v0–1, DeleteTopics v0, DescribeConfigs v0, DescribeLogDirs v0.

mod common;

use bytes::{Bytes, BytesMut};
use common::{batch, decode_records, Broker, Client};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

/// A big-endian request body writer.
#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn i8(mut self, v: i8) -> Self {
        self.0.push(v as u8);
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn str(self, s: &str) -> Self {
        let mut w = self.i16(s.len() as i16);
        w.0.extend_from_slice(s.as_bytes());
        w
    }
    fn bytes(self, b: &[u8]) -> Self {
        let mut w = self.i32(b.len() as i32);
        w.0.extend_from_slice(b);
        w
    }
}

/// A big-endian response reader (panics on truncation: this is a test).
struct R {
    b: Bytes,
    pos: usize,
}

impl R {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    fn i8(&mut self) -> i8 {
        self.take(1)[0] as i8
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    fn str(&mut self) -> Option<String> {
        let n = self.i16();
        (n >= 0).then(|| String::from_utf8(self.take(n as usize).to_vec()).unwrap())
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.i32();
        (n >= 0).then(|| self.take(n as usize).to_vec())
    }
    fn done(&self) {
        assert_eq!(self.pos, self.b.len(), "trailing bytes in the response");
    }
}

/// Send a request of `key` v`version` with `body`; the response body after its v0 header.
fn call_raw(c: &mut Client, key: i16, version: i16, body: &[u8]) -> R {
    let corr = 4242 + i32::from(key);
    let frame = W::default()
        .i16(key)
        .i16(version)
        .i32(corr)
        .str("legacy-test");
    let mut full = W::default().i32((frame.0.len() + body.len()) as i32).0;
    full.extend_from_slice(&frame.0);
    full.extend_from_slice(body);
    c.send_raw(&full);
    let resp = c.read_frame().expect("a response");
    let mut r = R { b: resp, pos: 0 };
    assert_eq!(r.i32(), corr);
    r
}

fn crc32(data: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data)
}

/// One legacy message (offset, size, crc, magic, attributes, [timestamp], key, value).
fn message(
    offset: i64,
    magic: i8,
    attrs: i8,
    ts: i64,
    key: Option<&[u8]>,
    value: &[u8],
) -> Vec<u8> {
    let mut body = vec![magic as u8, attrs as u8];
    if magic == 1 {
        body.extend_from_slice(&ts.to_be_bytes());
    }
    match key {
        Some(k) => {
            body.extend_from_slice(&(k.len() as i32).to_be_bytes());
            body.extend_from_slice(k);
        }
        None => body.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    body.extend_from_slice(&(value.len() as i32).to_be_bytes());
    body.extend_from_slice(value);
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn compress(codec: u8, data: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let fill = |b: &mut BytesMut| {
        b.extend_from_slice(data);
        Ok(())
    };
    match codec {
        1 => Gzip::compress(&mut out, fill).unwrap(),
        2 => Snappy::compress(&mut out, fill).unwrap(),
        3 => Lz4::compress(&mut out, fill).unwrap(),
        _ => unreachable!(),
    }
    out.to_vec()
}

fn decompress(codec: u8, data: &[u8]) -> Vec<u8> {
    let mut input = Bytes::copy_from_slice(data);
    let copy = |b: &mut Bytes| Ok(b.to_vec());
    match codec {
        1 => Gzip::decompress(&mut input, copy).unwrap(),
        2 => Snappy::decompress(&mut input, copy).unwrap(),
        3 => {
            // Magic-0 wrappers carry Kafka's broken LZ4 header checksum: repair it.
            let fixed = skua_lz4_repair(data);
            Lz4::decompress(&mut Bytes::from(fixed), copy).unwrap()
        }
        _ => unreachable!(),
    }
}

fn skua_lz4_repair(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    let flg = f[4];
    let at = 6 + if flg & 8 != 0 { 8 } else { 0 } + if flg & 1 != 0 { 4 } else { 0 };
    f[at] = (skua::protocol::legacy::codec::xxh32(&f[4..at], 0) >> 8) as u8;
    f
}

/// A parsed legacy message.
#[derive(Debug, Clone, PartialEq)]
struct Msg {
    offset: i64,
    magic: i8,
    attrs: i8,
    ts: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

fn parse_set(b: &[u8]) -> Vec<Msg> {
    let mut r = R {
        b: Bytes::copy_from_slice(b),
        pos: 0,
    };
    let mut out = Vec::new();
    while r.pos < r.b.len() {
        let offset = r.i64();
        let size = r.i32() as usize;
        let start = r.pos;
        let crc = r.i32() as u32;
        assert_eq!(crc, crc32(&r.b[start + 4..start + size]), "message CRC");
        let magic = r.i8();
        let attrs = r.i8();
        let ts = if magic == 1 { r.i64() } else { -1 };
        let key = r.bytes();
        let value = r.bytes();
        assert_eq!(r.pos, start + size);
        out.push(Msg {
            offset,
            magic,
            attrs,
            ts,
            key,
            value,
        });
    }
    out
}

/// Every (offset, value) of a message set, compressed wrappers opened (magic 1 inner offsets
/// made absolute from the wrapper's).
fn flatten(set: &[Msg]) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for m in set {
        let codec = (m.attrs & 7) as u8;
        let v = m.value.clone().unwrap_or_default();
        if codec == 0 {
            out.push((m.offset, String::from_utf8(v).unwrap()));
            continue;
        }
        let inner = parse_set(&decompress(codec, &v));
        let last_rel = inner.last().unwrap().offset;
        for i in inner {
            let off = if m.magic == 1 {
                m.offset - last_rel + i.offset
            } else {
                i.offset
            };
            out.push((off, String::from_utf8(i.value.unwrap()).unwrap()));
        }
    }
    out
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create(c: &mut Client, topic: &str, configs: &[(&str, &str)]) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(1)
            .with_replication_factor(-1)
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
    assert_eq!(r.topics[0].error_code, 0);
}

/// Produce v0–2 of one message set to partition 0; (error, base offset, log append time),
/// the response's layout checked exactly.
fn produce_legacy(c: &mut Client, version: i16, topic: &str, set: &[u8]) -> (i16, i64, i64) {
    let body = W::default()
        .i16(1)
        .i32(5000)
        .i32(1)
        .str(topic)
        .i32(1)
        .i32(0)
        .bytes(set);
    let mut r = call_raw(c, 0, version, &body.0);
    assert_eq!(r.i32(), 1);
    assert_eq!(r.str().as_deref(), Some(topic));
    assert_eq!(r.i32(), 1);
    assert_eq!(r.i32(), 0);
    let error = r.i16();
    let base = r.i64();
    let lat = if version >= 2 { r.i64() } else { -1 };
    if version >= 1 {
        assert_eq!(r.i32(), 0, "throttle");
    }
    r.done();
    (error, base, lat)
}

/// Fetch v0–3 of partition 0 from `offset`: (error, high watermark, message set).
fn fetch_legacy(
    c: &mut Client,
    version: i16,
    topic: &str,
    offset: i64,
    max: i32,
) -> (i16, i64, Vec<Msg>) {
    let mut body = W::default().i32(-1).i32(0).i32(1);
    if version >= 3 {
        body = body.i32(max);
    }
    let body = body.i32(1).str(topic).i32(1).i32(0).i64(offset).i32(max);
    let mut r = call_raw(c, 1, version, &body.0);
    if version >= 1 {
        assert_eq!(r.i32(), 0, "throttle");
    }
    assert_eq!(r.i32(), 1);
    assert_eq!(r.str().as_deref(), Some(topic));
    assert_eq!(r.i32(), 1);
    assert_eq!(r.i32(), 0);
    let error = r.i16();
    let hw = r.i64();
    let set = r.bytes().unwrap_or_default();
    r.done();
    (error, hw, parse_set(&set))
}

fn fetch_v2_batches(c: &mut Client, topic: &str) -> Bytes {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(12, &req);
    r.responses[0].partitions[0].records.clone().unwrap()
}

/// The codec of every stored batch, from its attributes.
fn codecs(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while data.len() >= 61 {
        let len = i32::from_be_bytes(data[8..12].try_into().unwrap()) as usize + 12;
        out.push(data[22] & 7);
        data = &data[len..];
    }
    out
}

#[test]
fn api_versions_advertise_the_removed_versions_from_zero() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let r: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default());
    let range = |k: ApiKey| {
        let e = r.api_keys.iter().find(|e| e.api_key == k as i16).unwrap();
        (e.min_version, e.max_version)
    };
    assert_eq!(range(ApiKey::Produce), (0, 13));
    assert_eq!(range(ApiKey::Fetch), (0, 18));
    assert_eq!(range(ApiKey::ListOffsets), (0, 10));
    assert_eq!(range(ApiKey::OffsetCommit), (0, 10));
    assert_eq!(range(ApiKey::OffsetFetch), (0, 10));
    assert_eq!(range(ApiKey::OffsetForLeaderEpoch), (0, 4));
    assert_eq!(range(ApiKey::WriteTxnMarkers), (0, 1));
    assert_eq!(range(ApiKey::CreateTopics), (0, 7));
    assert_eq!(range(ApiKey::DeleteTopics), (0, 6));
    assert_eq!(range(ApiKey::DescribeConfigs), (0, 4));
    assert_eq!(range(ApiKey::DescribeLogDirs), (0, 4));
    for k in [
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::DescribeGroups,
        ApiKey::ListGroups,
    ] {
        assert_eq!(range(k).0, 0, "{k:?}");
    }
}

#[test]
fn produce_v0_to_v2_message_sets_are_stored_as_v2_batches_with_their_codec() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "old", &[]);
    // v0: two uncompressed magic-0 messages.
    let set = [
        message(0, 0, 0, -1, Some(b"k0"), b"m0-a"),
        message(0, 0, 0, -1, None, b"m0-b"),
    ]
    .concat();
    assert_eq!(produce_legacy(&mut c, 0, "old", &set), (0, 0, -1));
    // v1: a gzip wrapper of three magic-1 messages (relative inner offsets 0..2).
    let inner: Vec<u8> = (0..3)
        .flat_map(|i| message(i, 1, 0, 1_000 + i, None, format!("gz-{i}").as_bytes()))
        .collect();
    let gz = message(2, 1, 1, 1_002, None, &compress(1, &inner));
    assert_eq!(produce_legacy(&mut c, 1, "old", &gz), (0, 2, -1));
    // v2: snappy and lz4 magic-1 wrappers.
    let inner: Vec<u8> = (0..2)
        .flat_map(|i| message(i, 1, 0, 2_000 + i, None, format!("sn-{i}").as_bytes()))
        .collect();
    let sn = message(1, 1, 2, 2_001, None, &compress(2, &inner));
    assert_eq!(produce_legacy(&mut c, 2, "old", &sn), (0, 5, -1));
    let inner = message(0, 1, 0, 3_000, Some(b"k"), b"lz-0");
    let lz = message(0, 1, 3, 3_000, None, &compress(3, &inner));
    assert_eq!(produce_legacy(&mut c, 2, "old", &lz), (0, 7, -1));
    // v0: a magic-0 lz4 wrapper with Kafka's broken header checksum (absolute inner offsets).
    let inner = [
        message(0, 0, 0, -1, None, b"lz0-0"),
        message(1, 0, 0, -1, None, b"lz0-1"),
    ]
    .concat();
    let broken = skua::protocol::legacy::codec::compress(3, &inner, 0).unwrap();
    let lz0 = message(1, 0, 3, -1, None, &broken);
    assert_eq!(produce_legacy(&mut c, 0, "old", &lz0), (0, 8, -1));

    // Stored as v2 batches, one per produce, with the producer's codec kept.
    let data = fetch_v2_batches(&mut c, "old");
    assert_eq!(codecs(&data), vec![0, 1, 2, 3, 3]);
    let recs = decode_records(&data);
    let got: Vec<(i64, i64, String)> = recs
        .iter()
        .map(|r| {
            let v = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
            (r.offset, r.timestamp, v)
        })
        .collect();
    let want: Vec<(i64, i64, String)> = [
        (0, -1, "m0-a"),
        (1, -1, "m0-b"),
        (2, 1_000, "gz-0"),
        (3, 1_001, "gz-1"),
        (4, 1_002, "gz-2"),
        (5, 2_000, "sn-0"),
        (6, 2_001, "sn-1"),
        (7, 3_000, "lz-0"),
        (8, -1, "lz0-0"),
        (9, -1, "lz0-1"),
    ]
    .iter()
    .map(|&(o, t, v)| (o, t, v.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(recs[0].key.as_deref(), Some(&b"k0"[..]));
    assert_eq!(recs[1].key, None);
}

#[test]
fn produce_v0_to_v2_errors_are_kafkas() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "bad", &[]);
    let mut corrupt = message(0, 1, 0, 5, None, b"x");
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert_eq!(produce_legacy(&mut c, 2, "bad", &corrupt).0, 2);
    let inner = message(0, 1, 0, 5, None, b"x");
    let gz = message(0, 1, 1, 5, None, &compress(1, &inner));
    let two = [gz.clone(), gz].concat();
    assert_eq!(produce_legacy(&mut c, 2, "bad", &two).0, 87);
    let lat = message(0, 1, 8, 5, None, b"x");
    assert_eq!(produce_legacy(&mut c, 1, "bad", &lat).0, 32);
    assert_eq!(produce_legacy(&mut c, 0, "nope", &inner).0, 3);
    // A v2 batch in Produce v2 is stored as is (Kafka 3.x validated any magic there).
    let v2 = batch(2, "v2", 7, Compression::None);
    assert_eq!(produce_legacy(&mut c, 2, "bad", &v2), (0, 0, -1));
    // Nothing else was appended.
    assert_eq!(decode_records(&fetch_v2_batches(&mut c, "bad")).len(), 2);
}

#[test]
fn fetch_v0_to_v3_down_converts_to_the_versions_magic() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "down", &[]);
    create(&mut c, "zst", &[]);
    create(
        &mut c,
        "nodown",
        &[("message.downconversion.enable", "false")],
    );
    let produce_v3 = |c: &mut Client, topic: &str, data: Bytes| {
        let r: ProduceResponse = c.call(
            9,
            &ProduceRequest::default()
                .with_acks(1)
                .with_timeout_ms(5000)
                .with_topic_data(vec![produce_request::TopicProduceData::default()
                    .with_name(name(topic))
                    .with_partition_data(vec![
                        produce_request::PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(data)),
                    ])]),
        );
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    };
    produce_v3(&mut c, "down", batch(3, "a", 100, Compression::None)); // 0..2
    produce_v3(&mut c, "down", batch(2, "b", 200, Compression::Gzip)); // 3..4
    produce_v3(&mut c, "down", batch(2, "c", 300, Compression::Lz4)); // 5..6
    let all: Vec<(i64, String)> = [
        (0, "a-v0"),
        (1, "a-v1"),
        (2, "a-v2"),
        (3, "b-v0"),
        (4, "b-v1"),
        (5, "c-v0"),
        (6, "c-v1"),
    ]
    .iter()
    .map(|&(o, v)| (o, v.to_string()))
    .collect();
    for v in 0..=3i16 {
        let magic = if v <= 1 { 0 } else { 1 };
        let (err, hw, set) = fetch_legacy(&mut c, v, "down", 0, 1 << 20);
        assert_eq!((err, hw), (0, 7), "fetch v{v}");
        assert!(
            set.iter().all(|m| m.magic == magic),
            "fetch v{v}: magic {magic}"
        );
        // 3 plain messages, a gzip wrapper, an lz4 wrapper.
        let shape: Vec<(i64, i8)> = set.iter().map(|m| (m.offset, m.attrs & 7)).collect();
        assert_eq!(
            shape,
            vec![(0, 0), (1, 0), (2, 0), (4, 1), (6, 3)],
            "fetch v{v}"
        );
        assert_eq!(flatten(&set), all, "fetch v{v}");
        if magic == 1 {
            assert_eq!(set[1].ts, 101);
            assert_eq!(set[3].ts, 201, "wrapper carries the max timestamp");
        } else {
            assert_eq!(set[1].ts, -1);
        }
        assert_eq!(set[0].key.as_deref(), Some(&b"a-k0"[..]));
        // From the middle of the uncompressed batch: only the records from there; from the
        // middle of a compressed one: the whole wrapper.
        let (_, _, set) = fetch_legacy(&mut c, v, "down", 1, 1 << 20);
        assert_eq!(set[0].offset, 1);
        let (_, _, set) = fetch_legacy(&mut c, v, "down", 4, 1 << 20);
        assert_eq!(flatten(&set)[0], (3, "b-v0".to_string()));
        // A small limit: whole messages only, at least one.
        let (_, _, set) = fetch_legacy(&mut c, v, "down", 0, 10);
        assert_eq!(flatten(&set), all[..1].to_vec(), "fetch v{v} limit");
        // At the end: nothing.
        let (err, _, set) = fetch_legacy(&mut c, v, "down", 7, 1 << 20);
        assert_eq!((err, set.len()), (0, 0));
        assert_eq!(
            fetch_legacy(&mut c, v, "down", 99, 1 << 20).0,
            1,
            "out of range"
        );
        assert_eq!(fetch_legacy(&mut c, v, "missing", 0, 1 << 20).0, 3);
    }
    // zstd has no legacy form; a topic may refuse down-conversion.
    produce_v3(&mut c, "zst", batch(1, "z", 1, Compression::Zstd));
    assert_eq!(fetch_legacy(&mut c, 2, "zst", 0, 1 << 20).0, 76);
    produce_v3(&mut c, "nodown", batch(1, "n", 1, Compression::None));
    let (err, _, set) = fetch_legacy(&mut c, 3, "nodown", 0, 1 << 20);
    assert_eq!((err, set.len()), (35, 0));
    // A v4+ fetch of the same topic still works.
    assert_eq!(decode_records(&fetch_v2_batches(&mut c, "nodown")).len(), 1);
}

#[path = "legacy_versions/admin.rs"]
mod admin;

/// DescribeLogDirs v0 (KIP-896): v1's layout, answered in it.
#[test]
fn describe_log_dirs_v0() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("ldirs0")))
            .with_num_partitions(2)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = c.call(5, &req);
    assert_eq!(r.topics[0].error_code, 0);
    // topics: [ldirs0: [1]]
    let body = W::default().i32(1).str("ldirs0").i32(1).i32(1);
    let mut r = call_raw(&mut c, 35, 0, &body.0);
    assert_eq!(r.i32(), 0, "throttle");
    assert_eq!(r.i32(), 1, "one log dir");
    assert_eq!(r.i16(), 0);
    let dir = r.str().unwrap();
    assert!(dir.starts_with('/'), "{dir}");
    assert_eq!(r.i32(), 1, "one topic");
    assert_eq!(r.str().as_deref(), Some("ldirs0"));
    assert_eq!(r.i32(), 1, "one partition");
    assert_eq!(r.i32(), 1, "partition 1");
    assert_eq!(r.i64(), 0, "empty log");
    assert_eq!(r.i64(), 0, "offset lag");
    assert_eq!(r.i8(), 0, "not a future replica");
    r.done();
}
