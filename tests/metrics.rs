//! The Prometheus endpoint (`--metrics-listen`), against the real binary: raw-protocol
//! produce, fetch and offset commits, then a plain HTTP GET of `/metrics` and exact values.

mod common;

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use common::{batch, Broker, Client};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn create(c: &mut Client, topic: &str, partitions: i32) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(topic)))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)]);
    let r: CreateTopicsResponse = c.call(7, &req);
    assert_eq!(r.topics[0].error_code, 0);
}

fn produce(c: &mut Client, topic: &str, partition: i32, records: Bytes) {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    let r: ProduceResponse = c.call(9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
}

/// Fetch from `offset`; returns the bytes of records returned.
fn fetch(c: &mut Client, topic: &str, partition: i32, offset: i64) -> usize {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(s(topic)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(12, &req);
    assert_eq!(r.error_code, 0);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.records.as_ref().map_or(0, |b| b.len())
}

fn commit(c: &mut Client, group: &str, topic: &str, partition: i32, offset: i64) {
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(partition)
                .with_committed_offset(offset)])]);
    let r: OffsetCommitResponse = c.call(8, &req);
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
}

/// The value of one sample (`name{labels}` exactly as exposed), or None if absent.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == series).then(|| v.parse().unwrap())
    })
}

fn value(body: &str, series: &str) -> f64 {
    sample(body, series).unwrap_or_else(|| panic!("no sample {series} in:\n{body}"))
}

#[test]
fn scrape_reports_requests_traffic_offsets_lag_and_connections() {
    let b = Broker::start_with_metrics(&[]);
    let mut c = b.client();
    create(&mut c, "m", 2);
    let before = b.scrape();
    assert!(before.ends_with("# EOF\n"));

    let batches: Vec<Bytes> = (0..3)
        .map(|i| batch(5, &format!("b{i}"), 1_700_000_000_000, Compression::None))
        .collect();
    let sent: usize = batches.iter().map(Bytes::len).sum();
    for bt in &batches {
        produce(&mut c, "m", 1, bt.clone());
    }
    let out = fetch(&mut c, "m", 1, 0) + fetch(&mut c, "m", 1, 10);
    assert!(out > 0);
    commit(&mut c, "g1", "m", 1, 4);
    // A heartbeat of an unknown member is answered with a top-level error.
    let hb: HeartbeatResponse = c.call(
        4,
        &HeartbeatRequest::default()
            .with_group_id(GroupId(s("nobody")))
            .with_generation_id(1)
            .with_member_id(s("ghost")),
    );
    assert_ne!(hb.error_code, 0);

    let after = b.scrape();
    let delta = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(delta(r#"skua_requests_total{api="Produce"}"#), 3.0);
    assert_eq!(delta(r#"skua_requests_total{api="Fetch"}"#), 2.0);
    assert_eq!(delta(r#"skua_requests_total{api="OffsetCommit"}"#), 1.0);
    assert_eq!(delta(r#"skua_request_errors_total{api="Produce"}"#), 0.0);
    assert_eq!(delta(r#"skua_request_errors_total{api="Heartbeat"}"#), 1.0);
    assert_eq!(
        delta(r#"skua_request_duration_seconds_count{api="Produce"}"#),
        3.0
    );
    assert_eq!(
        delta(r#"skua_request_duration_seconds_bucket{le="+Inf",api="Fetch"}"#),
        2.0
    );

    assert_eq!(
        value(&after, r#"skua_topic_bytes_in_total{topic="m"}"#),
        sent as f64
    );
    assert_eq!(
        value(&after, r#"skua_topic_records_in_total{topic="m"}"#),
        15.0
    );
    assert_eq!(
        value(&after, r#"skua_topic_bytes_out_total{topic="m"}"#),
        out as f64
    );

    let p1 = r#"{topic="m",partition="1"}"#;
    let p0 = r#"{topic="m",partition="0"}"#;
    assert_eq!(
        value(&after, &format!("skua_partition_log_end_offset{p1}")),
        15.0
    );
    assert_eq!(
        value(&after, &format!("skua_partition_log_end_offset{p0}")),
        0.0
    );
    assert_eq!(
        value(&after, &format!("skua_partition_log_start_offset{p1}")),
        0.0
    );
    assert_eq!(
        value(&after, &format!("skua_partition_high_watermark{p1}")),
        15.0
    );
    assert_eq!(
        value(&after, &format!("skua_partition_last_stable_offset{p1}")),
        15.0
    );
    assert_eq!(
        value(&after, &format!("skua_partition_size_bytes{p1}")),
        sent as f64
    );

    let g = r#"{group="g1",topic="m",partition="1"}"#;
    assert_eq!(
        value(&after, &format!("skua_consumer_group_committed_offset{g}")),
        4.0
    );
    assert_eq!(value(&after, &format!("skua_consumer_group_lag{g}")), 11.0);

    assert!(value(&after, "skua_connections_active") >= 1.0);
    assert!(value(&after, "skua_connections_accepted_total") >= 1.0);

    // More records, a later commit: the lag follows both.
    produce(
        &mut c,
        "m",
        1,
        batch(2, "late", 1_700_000_000_000, Compression::None),
    );
    commit(&mut c, "g1", "m", 1, 16);
    let last = b.scrape();
    assert_eq!(value(&last, &format!("skua_consumer_group_lag{g}")), 1.0);
    assert_eq!(
        value(&last, &format!("skua_partition_log_end_offset{p1}")),
        17.0
    );
}

#[test]
fn acks_all_produce_is_counted_in_the_group_commit_fsync_histogram() {
    let b = Broker::start_with_metrics(&[]);
    let mut c = b.client();
    create(&mut c, "durable", 1);
    let series = r#"skua_log_fsync_duration_seconds_count{source="group_commit"}"#;
    let before = value(&b.scrape(), series);
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s("durable")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(
                    3,
                    "d",
                    1_700_000_000_000,
                    Compression::None,
                )))])]);
    let r: ProduceResponse = c.call(9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    assert!(value(&b.scrape(), series) > before);
}

#[test]
fn other_paths_are_not_found() {
    let b = Broker::start_with_metrics(&[]);
    let (status, _) = b.http_get("/nope");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, body) = b.http_get("/metrics?x=1");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("# TYPE skua_requests counter"));
}

/// Inodes of the TCP sockets this process listens on (Linux /proc).
fn listening_sockets(pid: u32) -> usize {
    let mut inodes = HashSet::new();
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(3) == Some(&"0A") {
                inodes.insert(cols[9].to_string());
            }
        }
    }
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().to_string();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .filter(|i| inodes.contains(i))
        .count()
}

#[test]
fn metrics_listen_off_serves_nothing() {
    let off = Broker::start(&[]);
    let pid = off.child.as_ref().unwrap().id();
    assert_eq!(listening_sockets(pid), 1, "only the Kafka listener");
    let on = Broker::start_with_metrics(&[]);
    let pid = on.child.as_ref().unwrap().id();
    assert_eq!(listening_sockets(pid), 2, "Kafka and metrics listeners");
}

#[test]
fn metrics_port_taken_fails_the_start_with_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skua"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .arg("--metrics-listen")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen for metrics on {addr}")),
        "{err}"
    );
}

#[test]
fn metrics_endpoint_stops_on_shutdown() {
    let mut b = Broker::start_with_metrics(&[]);
    let port = b.metrics_port.unwrap();
    b.scrape();
    assert!(b.stop().success());
    assert!(TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(1)
    )
    .is_err());
}
