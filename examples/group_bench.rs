//! Group coordinator benchmark against a running broker, over raw Kafka protocol:
//!
//! - `rebalance`: N members join one new group at once (JoinGroup v9 with the
//!   MEMBER_ID_REQUIRED round trip, then SyncGroup v5 with the leader's assignment); reports the
//!   time from the first JoinGroup to the last SyncGroup answer (the group is Stable), over
//!   several fresh groups. Start the broker with `group.initial.rebalance.delay.ms=0` to measure
//!   the coordinator rather than the configured delay.
//! - `commit`: OffsetCommit v9 throughput of one simple-commit client (generation -1) keeping
//!   `--pipeline` requests in flight, each committing `--partitions` partitions.
//!
//! Prints one JSON line per run.
//!
//! cargo run --release --example group_bench -- --brokers 127.0.0.1:9092 --mode rebalance --members 10

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

struct Conn {
    s: TcpStream,
    corr: i32,
}

impl Conn {
    fn new(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).ok();
        Conn { s, corr: 0 }
    }

    fn send<R: Request>(&mut self, v: i16, req: &R) {
        self.corr += 1;
        let key = ApiKey::try_from(R::KEY).expect("key");
        let h = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(v)
            .with_correlation_id(self.corr)
            .with_client_id(Some(StrBytes::from_static_str("group-bench")));
        let mut body = BytesMut::new();
        h.encode(&mut body, key.request_header_version(v))
            .expect("header");
        req.encode(&mut body, v).expect("body");
        let mut f = BytesMut::with_capacity(body.len() + 4);
        f.put_i32(body.len() as i32);
        f.extend_from_slice(&body);
        self.s.write_all(&f).expect("write");
    }

    fn recv<R: Request>(&mut self, v: i16) -> R::Response {
        let key = ApiKey::try_from(R::KEY).expect("key");
        let mut size = [0u8; 4];
        self.s.read_exact(&mut size).expect("read");
        let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
        self.s.read_exact(&mut buf).expect("read");
        let mut b = Bytes::from(buf);
        ResponseHeader::decode(&mut b, key.response_header_version(v)).expect("header");
        let r = R::Response::decode(&mut b, v).expect("response");
        assert_eq!(b.remaining(), 0);
        r
    }

    fn call<R: Request>(&mut self, v: i16, req: &R) -> R::Response {
        self.send(v, req);
        self.recv::<R>(v)
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

fn join_req(group: &str, member: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(b"bench"))])
}

/// One member: join (with the member-id round trip) and sync; returns when Stable for it.
fn member(addr: &str, group: &str) -> (String, Conn) {
    let mut c = Conn::new(addr);
    let r: JoinGroupResponse = c.call(9, &join_req(group, ""));
    let id = r.member_id.as_str().to_string();
    let r: JoinGroupResponse = c.call(9, &join_req(group, &id));
    assert_eq!(r.error_code, 0, "join");
    let assignments = if r.leader == r.member_id {
        r.members
            .iter()
            .map(|m| {
                SyncGroupRequestAssignment::default()
                    .with_member_id(m.member_id.clone())
                    .with_assignment(Bytes::from_static(b"a"))
            })
            .collect()
    } else {
        vec![]
    };
    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id(r.generation_id)
        .with_member_id(s(&id))
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(assignments);
    let r: SyncGroupResponse = c.call(5, &sync);
    assert_eq!(r.error_code, 0, "sync");
    (id, c)
}

fn rebalance(addr: &str, members: usize, rounds: usize) {
    let mut times = Vec::new();
    for round in 0..rounds {
        let group = format!("bench-rebalance-{}-{round}", std::process::id());
        let start = Instant::now();
        let handles: Vec<_> = (0..members)
            .map(|_| {
                let addr = addr.to_string();
                let group = group.clone();
                std::thread::spawn(move || member(&addr, &group))
            })
            .collect();
        let conns: Vec<(String, Conn)> = handles
            .into_iter()
            .map(|h| h.join().expect("member"))
            .collect();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        for (id, mut c) in conns {
            let leave = LeaveGroupRequest::default()
                .with_group_id(GroupId(s(&group)))
                .with_members(vec![
                    leave_group_request::MemberIdentity::default().with_member_id(s(&id))
                ]);
            let _: LeaveGroupResponse = c.call(5, &leave);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let median = times[times.len() / 2];
    println!(
        "{{\"mode\":\"rebalance\",\"members\":{members},\"rounds\":{rounds},\"median_ms\":{median:.2},\"min_ms\":{:.2},\"max_ms\":{:.2}}}",
        times[0],
        times[times.len() - 1]
    );
}

fn commit(addr: &str, seconds: u64, pipeline: usize, partitions: i32) {
    let mut c = Conn::new(addr);
    let group = format!("bench-commit-{}", std::process::id());
    let mut n: i64 = 0;
    let req = |n: i64| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(s(""))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("bench-commit-topic")))
                .with_partitions(
                    (0..partitions)
                        .map(|p| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(n)
                        })
                        .collect(),
                )])
    };
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut in_flight = 0;
    let mut done: i64 = 0;
    while Instant::now() < end || in_flight > 0 {
        while in_flight < pipeline && Instant::now() < end {
            n += 1;
            c.send(9, &req(n));
            in_flight += 1;
        }
        let r: OffsetCommitResponse = c.recv::<OffsetCommitRequest>(9);
        assert!(
            r.topics
                .iter()
                .all(|t| t.partitions.iter().all(|p| p.error_code == 0)),
            "commit error"
        );
        in_flight -= 1;
        done += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"mode\":\"commit\",\"requests\":{done},\"partitions_per_request\":{partitions},\"pipeline\":{pipeline},\"seconds\":{secs:.2},\"commits_per_s\":{:.0},\"partition_commits_per_s\":{:.0}}}",
        done as f64 / secs,
        (done * partitions as i64) as f64 / secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = arg(&args, "--brokers", "127.0.0.1:9092");
    match arg(&args, "--mode", "rebalance").as_str() {
        "rebalance" => rebalance(
            &addr,
            arg(&args, "--members", "10").parse().unwrap_or(10),
            arg(&args, "--rounds", "5").parse().unwrap_or(5),
        ),
        "commit" => commit(
            &addr,
            arg(&args, "--seconds", "10").parse().unwrap_or(10),
            arg(&args, "--pipeline", "16").parse().unwrap_or(16),
            arg(&args, "--partitions", "1").parse().unwrap_or(1),
        ),
        other => eprintln!("unknown --mode {other} (rebalance | commit)"),
    }
}
