//! Client quotas and connection limits over TCP against the real binary:
//! DescribeClientQuotas / AlterClientQuotas round trips, Kafka's errors, persistence across a
//! restart; a produce and a fetch quota throttling one client id (throttle_time_ms > 0, the
//! measured rate near the quota) while another client id keeps its rate; a request_percentage
//! quota throttling one client id's Metadata requests (bounded to one window); and
//! max.connections.per.ip (with an override) refusing the next connection until one closes.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use common::{batch, Broker, Client};
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey, ApiVersionsRequest,
    DescribeClientQuotasRequest, DescribeClientQuotasResponse, FetchRequest, ProduceRequest,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::Compression;

const INVALID_REQUEST: i16 = 42;
const UNSUPPORTED_VERSION: i16 = 35;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn entity(parts: &[(&str, Option<&str>)]) -> Vec<EntityData> {
    parts
        .iter()
        .map(|(t, n)| {
            EntityData::default()
                .with_entity_type(s(t))
                .with_entity_name(n.map(s))
        })
        .collect()
}

fn entry(parts: &[(&str, Option<&str>)], ops: &[(&str, Option<f64>)]) -> EntryData {
    EntryData::default().with_entity(entity(parts)).with_ops(
        ops.iter()
            .map(|(k, v)| {
                OpData::default()
                    .with_key(s(k))
                    .with_value(v.unwrap_or(0.0))
                    .with_remove(v.is_none())
            })
            .collect(),
    )
}

fn alter(
    c: &mut Client,
    version: i16,
    entries: Vec<EntryData>,
    validate_only: bool,
) -> AlterClientQuotasResponse {
    c.call(
        version,
        &AlterClientQuotasRequest::default()
            .with_entries(entries)
            .with_validate_only(validate_only),
    )
}

fn describe(
    c: &mut Client,
    version: i16,
    comps: &[(&str, i8, Option<&str>)],
    strict: bool,
) -> DescribeClientQuotasResponse {
    c.call(
        version,
        &DescribeClientQuotasRequest::default()
            .with_components(
                comps
                    .iter()
                    .map(|(t, m, n)| {
                        ComponentData::default()
                            .with_entity_type(s(t))
                            .with_match_type(*m)
                            .with_match(n.map(s))
                    })
                    .collect(),
            )
            .with_strict(strict),
    )
}

/// The described entries as (sorted entity parts, sorted (key, value)).
type Described = Vec<(Vec<(String, Option<String>)>, Vec<(String, f64)>)>;

fn described(r: &DescribeClientQuotasResponse) -> Described {
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    let mut out: Described = r
        .entries
        .as_ref()
        .expect("entries")
        .iter()
        .map(|e| {
            let mut ent: Vec<(String, Option<String>)> = e
                .entity
                .iter()
                .map(|d| {
                    (
                        d.entity_type.to_string(),
                        d.entity_name.as_ref().map(|n| n.to_string()),
                    )
                })
                .collect();
            ent.sort();
            let mut vals: Vec<(String, f64)> = e
                .values
                .iter()
                .map(|v| (v.key.to_string(), v.value))
                .collect();
            vals.sort_by(|a, b| a.0.cmp(&b.0));
            (ent, vals)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn ent(parts: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    let mut v: Vec<(String, Option<String>)> = parts
        .iter()
        .map(|(t, n)| (t.to_string(), n.map(str::to_string)))
        .collect();
    v.sort();
    v
}

#[test]
fn quotas_round_trip_fail_as_kafka_and_survive_a_restart() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    for version in 0..=1 {
        // Nothing yet.
        let r = describe(&mut c, version, &[], false);
        assert_eq!(described(&r), vec![]);
    }
    let r = alter(
        &mut c,
        1,
        vec![
            entry(
                &[("user", Some("alice")), ("client-id", None)],
                &[
                    ("producer_byte_rate", Some(1024.0)),
                    ("request_percentage", Some(50.5)),
                ],
            ),
            entry(
                &[("client-id", None)],
                &[("consumer_byte_rate", Some(2048.0))],
            ),
            entry(&[("user", Some("bob"))], &[("bogus_key", Some(1.0))]),
            entry(
                &[("group", Some("g"))],
                &[("producer_byte_rate", Some(1.0))],
            ),
            entry(&[("user", None)], &[("producer_byte_rate", Some(1.5))]),
            entry(
                &[("ip", Some("127.0.0.1"))],
                &[("connection_creation_rate", Some(1000.0))],
            ),
        ],
        false,
    );
    let results: Vec<(i16, Option<String>)> = r
        .entries
        .iter()
        .map(|e| {
            (
                e.error_code,
                e.error_message.as_ref().map(|m| m.to_string()),
            )
        })
        .collect();
    assert_eq!(
        results,
        vec![
            (0, None),
            (0, None),
            (
                INVALID_REQUEST,
                Some("Invalid configuration key bogus_key".into())
            ),
            (
                INVALID_REQUEST,
                Some("Unhandled client quota entity type: group".into())
            ),
            (
                INVALID_REQUEST,
                Some("producer_byte_rate cannot be a fractional value.".into())
            ),
            (0, None),
        ]
    );
    // validate_only: accepted, not stored.
    let r = alter(
        &mut c,
        0,
        vec![entry(
            &[("user", None)],
            &[("consumer_byte_rate", Some(4096.0))],
        )],
        true,
    );
    assert_eq!(r.entries[0].error_code, 0);

    let alice_default = ent(&[("user", Some("alice")), ("client-id", None)]);
    let client_default = ent(&[("client-id", None)]);
    let ip = ent(&[("ip", Some("127.0.0.1"))]);
    let all = vec![
        (
            client_default.clone(),
            vec![("consumer_byte_rate".to_string(), 2048.0)],
        ),
        (
            alice_default.clone(),
            vec![
                ("producer_byte_rate".to_string(), 1024.0),
                ("request_percentage".to_string(), 50.5),
            ],
        ),
        (
            ip.clone(),
            vec![("connection_creation_rate".to_string(), 1000.0)],
        ),
    ];
    let check = |c: &mut Client| {
        assert_eq!(described(&describe(c, 1, &[], false)), all);
        // Exact user alice (non-strict): alice's entity with a client-id part too.
        assert_eq!(
            described(&describe(c, 1, &[("user", 0, Some("alice"))], false)),
            vec![all[1].clone()]
        );
        // Strict: only entities made of exactly the filtered types.
        assert_eq!(
            described(&describe(c, 1, &[("user", 0, Some("alice"))], true)),
            vec![]
        );
        // The client-id default.
        assert_eq!(
            described(&describe(c, 0, &[("client-id", 1, None)], true)),
            vec![all[0].clone()]
        );
        // Any client-id (specified), non-strict: both entities with a client-id part.
        assert_eq!(
            described(&describe(c, 1, &[("client-id", 2, None)], false)),
            vec![all[0].clone(), all[1].clone()]
        );
        // The default user was only validated.
        assert_eq!(
            described(&describe(c, 1, &[("user", 1, None)], true)),
            vec![]
        );
    };
    check(&mut c);
    // Bad filters.
    let r = describe(&mut c, 1, &[("user", 0, None)], false);
    assert_eq!(r.error_code, INVALID_REQUEST);
    assert_eq!(
        r.error_message.as_deref(),
        Some("Request specified MATCH_TYPE_EXACT, but set match string to null.")
    );
    assert!(r.entries.is_none());
    let r = describe(&mut c, 1, &[("group", 2, None)], false);
    assert_eq!(r.error_code, UNSUPPORTED_VERSION);
    let r = describe(&mut c, 1, &[("ip", 2, None), ("user", 2, None)], false);
    assert_eq!(r.error_code, INVALID_REQUEST);

    // Restart: the quotas are metadata, they come back.
    drop(c);
    b.stop();
    b.spawn();
    let mut c = b.client();
    check(&mut c);

    // Remove one key, then the other: the entity disappears.
    let r = alter(
        &mut c,
        1,
        vec![entry(
            &[("client-id", None), ("user", Some("alice"))],
            &[("producer_byte_rate", None)],
        )],
        false,
    );
    assert_eq!(r.entries[0].error_code, 0);
    let r = describe(&mut c, 1, &[("user", 0, Some("alice"))], false);
    assert_eq!(
        described(&r),
        vec![(
            alice_default.clone(),
            vec![("request_percentage".to_string(), 50.5)]
        )]
    );
    let r = alter(
        &mut c,
        1,
        vec![entry(
            &[("user", Some("alice")), ("client-id", None)],
            &[("request_percentage", None)],
        )],
        false,
    );
    assert_eq!(r.entries[0].error_code, 0);
    assert_eq!(
        described(&describe(&mut c, 1, &[("user", 2, None)], false)),
        vec![]
    );
}

/// A raw client with its own client id.
struct Named {
    stream: TcpStream,
    client_id: String,
    correlation: i32,
}

impl Named {
    fn connect(addr: &str, client_id: &str) -> Named {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Named {
            stream,
            client_id: client_id.to_string(),
            correlation: 0,
        }
    }

    fn call<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        use std::io::Read;
        self.correlation += 1;
        let key = ApiKey::try_from(R::KEY).unwrap();
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(s(&self.client_id)));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(version))
            .unwrap();
        req.encode(&mut body, version).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).unwrap();
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).unwrap();
        let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut buf).unwrap();
        let mut f = bytes::Bytes::from(buf);
        let h = ResponseHeader::decode(&mut f, key.response_header_version(version)).unwrap();
        assert_eq!(h.correlation_id, self.correlation);
        let r = R::Response::decode(&mut f, version).unwrap();
        assert_eq!(f.remaining(), 0);
        r
    }
}

fn produce_req(topic: &str, records: bytes::Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])])
}

/// Produce for `dur` as `client_id`, honouring throttle_time_ms as a KIP-219 client does;
/// (bytes sent, responses with a throttle, max throttle).
fn produce_for(addr: &str, client_id: &str, topic: &str, dur: Duration) -> (usize, usize, i32) {
    let mut c = Named::connect(addr, client_id);
    let records = batch(40, &"x".repeat(400), 0, Compression::None);
    let start = Instant::now();
    let (mut bytes, mut throttled, mut max) = (0, 0, 0);
    // Stop at 20 MB: enough to tell an unthrottled client's rate from the quota.
    while start.elapsed() < dur && bytes < 20_000_000 {
        let r = c.call(9, &produce_req(topic, records.clone()));
        let p = &r.responses[0].partition_responses[0];
        assert_eq!(p.error_code, 0);
        bytes += records.len();
        if r.throttle_time_ms > 0 {
            throttled += 1;
            max = max.max(r.throttle_time_ms);
            std::thread::sleep(Duration::from_millis(r.throttle_time_ms as u64));
        }
    }
    (bytes, throttled, max)
}

#[test]
fn a_produce_quota_throttles_one_client_id_and_not_another() {
    // A 3 s minimum window (4 samples of 1 s) keeps the test short.
    let b = Broker::start(&["quota.window.num=4", "quota.window.size.seconds=1"]);
    let mut c = b.client();
    c.create_topic("q", 1);
    const QUOTA: f64 = 200_000.0;
    let r = alter(
        &mut c,
        1,
        vec![entry(
            &[("client-id", Some("noisy"))],
            &[("producer_byte_rate", Some(QUOTA))],
        )],
        false,
    );
    assert_eq!(r.entries[0].error_code, 0);
    let addr = b.addr();
    let dur = Duration::from_secs(6);
    let noisy = {
        let addr = addr.clone();
        std::thread::spawn(move || produce_for(&addr, "noisy", "q", dur))
    };
    let quiet = produce_for(&addr, "quiet", "q", dur);
    let noisy = noisy.join().unwrap();
    let noisy_rate = noisy.0 as f64 / dur.as_secs_f64();
    let quiet_rate = quiet.0 as f64 / dur.as_secs_f64();
    eprintln!("noisy: {noisy:?} {noisy_rate:.0} B/s; quiet: {quiet:?} {quiet_rate:.0} B/s");
    assert!(noisy.1 > 0, "the noisy client was never throttled");
    assert!(
        noisy_rate < QUOTA * 2.0 && noisy_rate > QUOTA / 2.0,
        "noisy rate {noisy_rate} not near {QUOTA}"
    );
    assert_eq!(quiet.1, 0, "the unlimited client was throttled");
    assert!(quiet_rate > QUOTA * 2.0, "quiet rate {quiet_rate}");
}

#[test]
fn a_request_percentage_quota_throttles_one_client_id_and_not_another() {
    use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
    // KIP-124: the handler time of a client id's requests, as a percentage of one second.
    // 0.001 % is 10 µs of handler time per second: a few Metadata requests exceed it. The
    // throttle is bounded to one window (1 s here); the response says how long it is.
    let b = Broker::start(&["quota.window.num=4", "quota.window.size.seconds=1"]);
    let mut c = b.client();
    c.create_topic("rq", 3);
    let r = alter(
        &mut c,
        1,
        vec![entry(
            &[("client-id", Some("greedy"))],
            &[("request_percentage", Some(0.001))],
        )],
        false,
    );
    assert_eq!(r.entries[0].error_code, 0);
    let addr = b.addr();
    let md = MetadataRequest::default().with_topics(None);
    let mut greedy = Named::connect(&addr, "greedy");
    let mut throttles = Vec::new();
    let mut sent = 0;
    while throttles.len() < 3 && sent < 2000 {
        let r: MetadataResponse = greedy.call(12, &md);
        sent += 1;
        assert!(
            r.topics
                .iter()
                .any(|t| t.name.as_ref().is_some_and(|n| n.as_str() == "rq")),
            "the metadata itself is served"
        );
        if r.throttle_time_ms > 0 {
            throttles.push(r.throttle_time_ms);
        }
    }
    eprintln!("greedy: throttled {throttles:?} within {sent} requests");
    assert_eq!(
        throttles.len(),
        3,
        "greedy was never throttled in {sent} requests"
    );
    assert!(
        throttles.iter().all(|t| *t <= 1000),
        "a request-time throttle is bounded by one window: {throttles:?}"
    );
    // Another client id on the same broker is not throttled.
    let mut polite = Named::connect(&addr, "polite");
    for _ in 0..200 {
        let r: MetadataResponse = polite.call(12, &md);
        assert_eq!(
            r.throttle_time_ms, 0,
            "the client without a quota was throttled"
        );
    }
    // Nor is ApiVersions, exempt as in Kafka.
    let r: kafka_protocol::messages::ApiVersionsResponse =
        greedy.call(3, &ApiVersionsRequest::default());
    assert_eq!(r.error_code, 0);
    assert_eq!(r.throttle_time_ms, 0);
}

#[test]
fn a_fetch_quota_throttles_a_consumer_with_empty_responses() {
    let b = Broker::start(&["quota.window.num=4", "quota.window.size.seconds=1"]);
    let mut c = b.client();
    c.create_topic("f", 1);
    // 4 MB to read.
    let records = batch(100, &"y".repeat(400), 0, Compression::None);
    let mut produced = 0;
    while produced < 4_000_000 {
        let r = c.call(9, &produce_req("f", records.clone()));
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        produced += records.len();
    }
    const QUOTA: f64 = 300_000.0;
    let r = alter(
        &mut c,
        1,
        vec![entry(
            &[("user", Some("ANONYMOUS")), ("client-id", Some("slow"))],
            &[("consumer_byte_rate", Some(QUOTA))],
        )],
        false,
    );
    assert_eq!(r.entries[0].error_code, 0);
    // 100 kB per fetch: fine-grained enough to measure a 300 kB/s rate.
    let read = |client_id: &str, dur: Duration| -> (usize, usize, usize) {
        let mut c = Named::connect(&b.addr(), client_id);
        let start = Instant::now();
        let (mut bytes, mut throttled, mut empty_throttled) = (0usize, 0usize, 0usize);
        let mut offset = 0i64;
        while start.elapsed() < dur {
            let req = FetchRequest::default()
                .with_replica_id(kafka_protocol::messages::BrokerId(-1))
                .with_max_wait_ms(100)
                .with_max_bytes(100_000)
                .with_topics(vec![FetchTopic::default()
                    .with_topic(TopicName(s("f")))
                    .with_partitions(vec![FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(100_000)])]);
            let r = c.call(11, &req);
            assert_eq!(r.error_code, 0);
            let got: usize = r
                .responses
                .iter()
                .flat_map(|t| t.partitions.iter())
                .filter_map(|p| p.records.as_ref())
                .map(|rec| rec.len())
                .sum();
            if got > 0 {
                let recs =
                    common::decode_records(r.responses[0].partitions[0].records.as_ref().unwrap());
                offset = recs.last().unwrap().offset + 1;
            }
            bytes += got;
            if r.throttle_time_ms > 0 {
                throttled += 1;
                if got == 0 && r.responses.is_empty() {
                    empty_throttled += 1;
                }
                std::thread::sleep(Duration::from_millis(r.throttle_time_ms as u64));
            }
            if offset as usize >= produced / records.len() * 100 {
                break;
            }
        }
        (bytes, throttled, empty_throttled)
    };
    let dur = Duration::from_secs(6);
    let slow = read("slow", dur);
    let slow_rate = slow.0 as f64 / dur.as_secs_f64();
    let fast_start = Instant::now();
    let fast = read("fast", dur);
    let fast_rate = fast.0 as f64 / fast_start.elapsed().as_secs_f64();
    eprintln!("slow: {slow:?} {slow_rate:.0} B/s; fast: {fast:?} {fast_rate:.0} B/s");
    assert!(
        slow.1 > 0 && slow.2 > 0,
        "the quota never throttled: {slow:?}"
    );
    // A throttled fetch gives no data: the measured rate stays near the quota.
    assert!(
        slow_rate < QUOTA * 2.0 && slow_rate > QUOTA / 2.0,
        "slow rate {slow_rate} not near {QUOTA}"
    );
    assert_eq!(fast.1, 0);
    assert!(fast.0 >= 4_000_000, "fast read {} bytes", fast.0);
}

/// Whether a fresh connection is served: ApiVersions answered (true) or closed (false).
fn served(addr: &str) -> Option<Client> {
    let mut c = Client::connect(addr);
    c.send(3, &ApiVersionsRequest::default());
    c.read_frame().map(|_| c)
}

#[test]
fn max_connections_per_ip_refuses_the_next_until_one_closes() {
    // The override for 127.0.0.1 (2) wins over the broker-wide 1.
    let b = Broker::start(&[
        "max.connections.per.ip=1",
        "max.connections.per.ip.overrides=127.0.0.1:2",
    ]);
    let addr = b.addr();
    // The start-up probe's connection may take a moment to be counted out.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        if let Some(c) = served(&addr) {
            break c;
        }
        assert!(Instant::now() < deadline, "first connection never served");
        std::thread::sleep(Duration::from_millis(50));
    };
    let second = loop {
        if let Some(c) = served(&addr) {
            break c;
        }
        assert!(Instant::now() < deadline, "second connection never served");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The third is closed at once, again and again.
    for _ in 0..3 {
        assert!(served(&addr).is_none(), "a third connection was served");
    }
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    let third = loop {
        if let Some(c) = served(&addr) {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "no connection served after one closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(served(&addr).is_none());
    drop((second, third));
}
