//! Fetch sessions (KIP-227) against sessionless fetches, over raw Kafka protocol: one consumer
//! of every partition of a topic (most of them idle), fetching round after round with
//! `max_wait_ms=0`. Sessionless rounds send every partition and get every partition back
//! (session id 0, epoch -1, as librdkafka does); session rounds send one full request (epoch 0)
//! and then incremental ones that name nothing (nothing moved) and get back only partitions
//! with news. Each round of both kinds first produces one record to one partition (a different
//! one each round) so that there is always something to return and the consumer's position
//! of that partition moves (the next incremental request names it).
//!
//! Reports, per kind: request and response frame bytes per round, the client's time per round,
//! and the broker's CPU per round (utime + stime of `--pid` from /proc, over all rounds, the
//! produce included, so compare the difference). Prints one JSON line per kind.
//!
//! cargo run --release --example fetch_session_bench -- --brokers 127.0.0.1:9092 \
//!     --pid $(pgrep -n skua) --partitions 10000 --rounds 200

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

struct Conn {
    s: TcpStream,
    corr: i32,
    sent: usize,
    received: usize,
}

impl Conn {
    fn new(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).ok();
        Conn {
            s,
            corr: 0,
            sent: 0,
            received: 0,
        }
    }

    fn call<R: Request>(&mut self, v: i16, req: &R) -> R::Response {
        self.corr += 1;
        let key = ApiKey::try_from(R::KEY).expect("key");
        let h = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(v)
            .with_correlation_id(self.corr)
            .with_client_id(Some(StrBytes::from_static_str("fetch-session-bench")));
        let mut body = BytesMut::new();
        h.encode(&mut body, key.request_header_version(v))
            .expect("header");
        req.encode(&mut body, v).expect("body");
        let mut f = BytesMut::with_capacity(body.len() + 4);
        f.put_i32(body.len() as i32);
        f.extend_from_slice(&body);
        self.s.write_all(&f).expect("write");
        self.sent = f.len();
        let mut size = [0u8; 4];
        self.s.read_exact(&mut size).expect("read");
        let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
        self.s.read_exact(&mut buf).expect("read");
        self.received = buf.len() + 4;
        let mut b = Bytes::from(buf);
        ResponseHeader::decode(&mut b, key.response_header_version(v)).expect("header");
        let r = R::Response::decode(&mut b, v).expect("response");
        assert_eq!(b.remaining(), 0);
        r
    }
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// utime + stime of `pid`, in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("broker pid");
    let after = &stat[stat.rfind(')').expect("stat") + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)
}

fn one_record(i: usize) -> Bytes {
    let r = Record {
        transactional: false,
        control: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1,
        key: None,
        value: Some(Bytes::from(format!("record-{i}"))),
        headers: Default::default(),
        delete_horizon: false,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[r],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("batch");
    buf.freeze()
}

fn produce(c: &mut Conn, topic: &str, partition: i32, i: usize) {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(one_record(i)))])]);
    let r: ProduceResponse = c.call(9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
}

fn fetch_req(topic: &str, session_id: i32, epoch: i32, parts: &[(i32, i64)]) -> FetchRequest {
    let topics = if parts.is_empty() {
        Vec::new()
    } else {
        vec![FetchTopic::default()
            .with_topic(TopicName(s(topic)))
            .with_partitions(
                parts
                    .iter()
                    .map(|&(p, o)| {
                        FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(o)
                            .with_partition_max_bytes(1 << 20)
                    })
                    .collect(),
            )]
    };
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_session_id(session_id)
        .with_session_epoch(epoch)
        .with_topics(topics)
}

struct Totals {
    req: usize,
    resp: usize,
    secs: f64,
    ticks: u64,
    partitions_returned: usize,
}

fn run(addr: &str, pid: u32, topic: &str, n: i32, rounds: usize, sessions: bool) -> Totals {
    let mut c = Conn::new(addr);
    let mut p = Conn::new(addr);
    let mut offsets: Vec<i64> = vec![0; n as usize];
    // Start both kinds at the log end: read every partition once, sessionless.
    let all: Vec<(i32, i64)> = (0..n).map(|i| (i, 0)).collect();
    let r: FetchResponse = c.call(12, &fetch_req(topic, 0, -1, &all));
    for pd in r.responses.iter().flat_map(|t| t.partitions.iter()) {
        offsets[pd.partition_index as usize] = pd.high_watermark;
    }
    let (mut session_id, mut epoch) = (0, -1);
    if sessions {
        let all: Vec<(i32, i64)> = (0..n).map(|i| (i, offsets[i as usize])).collect();
        let r: FetchResponse = c.call(12, &fetch_req(topic, 0, 0, &all));
        assert!(r.session_id > 0, "no session created");
        (session_id, epoch) = (r.session_id, 1);
    }
    let mut moved: Vec<(i32, i64)> = Vec::new();
    let mut t = Totals {
        req: 0,
        resp: 0,
        secs: 0.0,
        ticks: 0,
        partitions_returned: 0,
    };
    let ticks0 = cpu_ticks(pid);
    for round in 0..rounds {
        let target = ((round * 7919) % n as usize) as i32;
        produce(&mut p, topic, target, round);
        let req = if sessions {
            fetch_req(topic, session_id, epoch, &moved)
        } else {
            let all: Vec<(i32, i64)> = (0..n).map(|i| (i, offsets[i as usize])).collect();
            fetch_req(topic, 0, -1, &all)
        };
        let started = Instant::now();
        let r: FetchResponse = c.call(12, &req);
        t.secs += started.elapsed().as_secs_f64();
        assert_eq!(r.error_code, 0);
        t.req += c.sent;
        t.resp += c.received;
        moved.clear();
        let mut got_target = false;
        for pd in r.responses.iter().flat_map(|t| t.partitions.iter()) {
            t.partitions_returned += 1;
            if pd.records.as_ref().is_some_and(|b| !b.is_empty()) {
                offsets[pd.partition_index as usize] = pd.high_watermark;
                moved.push((pd.partition_index, pd.high_watermark));
                got_target |= pd.partition_index == target;
            }
        }
        assert!(
            got_target,
            "round {round}: partition {target}'s record not returned"
        );
        if sessions {
            epoch += 1;
        }
    }
    t.ticks = cpu_ticks(pid) - ticks0;
    t
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = arg(&args, "--brokers", "127.0.0.1:9092");
    let pid: u32 = arg(&args, "--pid", "0").parse().expect("--pid");
    let n: i32 = arg(&args, "--partitions", "1000")
        .parse()
        .expect("--partitions");
    let rounds: usize = arg(&args, "--rounds", "200").parse().expect("--rounds");
    let topic = arg(&args, "--topic", &format!("fetch-sessions-{n}"));
    let mut c = Conn::new(&addr);
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(60_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(&topic)))
            .with_num_partitions(n)
            .with_replication_factor(-1)]);
    let r: CreateTopicsResponse = c.call(7, &req);
    let code = r.topics[0].error_code;
    // 7: REQUEST_TIMED_OUT (many partitions on a loaded machine; the creation goes on).
    assert!([0, 7, 36].contains(&code), "CreateTopics: error {code}");
    let deadline = Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let req =
            MetadataRequest::default()
                .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
                )
                .with_name(Some(TopicName(s(&topic))))]));
        let m: MetadataResponse = c.call(12, &req);
        let t = &m.topics[0];
        if t.error_code == 0
            && t.partitions.len() == n as usize
            && t.partitions.iter().all(|p| p.leader_id.0 >= 0)
        {
            break;
        }
        assert!(Instant::now() < deadline, "{topic} not created in time");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    for sessions in [false, true] {
        let t = run(&addr, pid, &topic, n, rounds, sessions);
        let per = |x: f64| x / rounds as f64;
        let kind = if sessions { "sessions" } else { "sessionless" };
        println!(
            "{kind:>11}: {n} partitions, {rounds} rounds: request {:.0} B, response {:.0} B, \
             {:.2} ms/round at the client, broker CPU {:.2} ms/round (produce included), \
             {:.1} partitions/response",
            per(t.req as f64),
            per(t.resp as f64),
            per(t.secs * 1000.0),
            per(t.ticks as f64 * 10.0),
            per(t.partitions_returned as f64),
        );
        println!(
            "{{\"bench\":\"fetch_sessions\",\"kind\":\"{kind}\",\"partitions\":{n},\"rounds\":{rounds},\
             \"request_bytes\":{:.0},\"response_bytes\":{:.0},\"client_ms\":{:.3},\"broker_cpu_ms\":{:.3}}}",
            per(t.req as f64),
            per(t.resp as f64),
            per(t.secs * 1000.0),
            per(t.ticks as f64 * 10.0),
        );
    }
}
