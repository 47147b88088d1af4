//! The web console (`--console-listen`) against the real binary over TCP: its assets, and its
//! JSON API with exact values — topics created, configured and deleted through it (and seen
//! by a Kafka client), records produced with the raw protocol and browsed back with their
//! offsets, keys, values, headers and schema framing, a bounded search, a group's lag and an
//! offset reset (dry run, apply, refusal while the group has a member), share groups and
//! schemas — and malformed input answered with 4xx JSON errors.

mod common;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::http::{delete, get, post_json, put_json, request, HttpResponse};
use common::{Broker, Client};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    GroupId, MetadataRequest, MetadataResponse, OffsetCommitRequest, OffsetCommitResponse,
    ProduceRequest, ProduceResponse, ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde_json::{json, Value};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

const TS0: i64 = 1_700_000_000_000;

/// A record at `offset` in its batch, timestamped TS0 + `offset` s.
fn record(offset: i64, key: &[u8], value: &[u8], headers: &[(&str, &[u8])]) -> Record {
    Record {
        transactional: false,
        control: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: offset as i32 - 1,
        timestamp: TS0 + offset * 1000,
        key: Some(Bytes::copy_from_slice(key)),
        value: Some(Bytes::copy_from_slice(value)),
        headers: headers
            .iter()
            .map(|(k, v)| (s(k), Some(Bytes::copy_from_slice(v))))
            .collect(),
        delete_horizon: false,
    }
}

/// Produce `records` (key, value) as one batch; timestamps TS0 + i s.
fn produce(c: &mut Client, topic: &str, partition: i32, records: &[Record]) -> i64 {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(buf.freeze()))])]);
    let r: ProduceResponse = c.call(9, &req);
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0, "produce {topic}-{partition}");
    p.base_offset
}

/// Records `tag-k{i}` / `tag-v{i}` for i in `from..from + n` (their offset deltas from 0,
/// timestamps TS0 + i s), for a batch appended at offset `from`.
fn kv(from: i64, n: i64, tag: &str) -> Vec<Record> {
    (from..from + n)
        .map(|i| {
            let mut r = record(
                i,
                format!("{tag}-k{i}").as_bytes(),
                format!("{tag}-v{i}").as_bytes(),
                &[],
            );
            r.offset = i - from;
            r.sequence = r.offset as i32 - 1;
            r
        })
        .collect()
}

/// A simple commit (no member) of `offset` for partition `p`.
fn commit(c: &mut Client, group: &str, topic: &str, p: i32, offset: i64) {
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_retention_time_ms(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(p)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(-1)])]);
    let r: OffsetCommitResponse = c.call(8, &req);
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
}

fn ok(r: HttpResponse) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.json()
}

/// (status, error name) of an error answer; the message must say something.
fn err(r: HttpResponse) -> (u16, String) {
    let v = r.json();
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    (r.status, v["error"].as_str().unwrap().to_string())
}

fn write(port: u16, method: &str, path: &str, body: &Value) -> HttpResponse {
    request(
        port,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn column<'a>(v: &'a Value, list: &str, field: &str) -> Vec<&'a Value> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x[field])
        .collect()
}

fn texts(v: &Value, field: &str) -> Vec<String> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m[field]["text"]
                .as_str()
                .unwrap_or_else(|| panic!("{m}"))
                .to_string()
        })
        .collect()
}

fn offsets(v: &Value) -> Vec<i64> {
    column(v, "messages", "offset")
        .iter()
        .map(|o| o.as_i64().unwrap())
        .collect()
}

#[test]
fn the_app_is_served_with_etags_and_a_strict_policy() {
    let b = Broker::start_with_http(&[]);
    let p = b.console_port.unwrap();
    let r = get(p, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains(r#"<script src="/assets/app.js">"#));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("script-src 'self'"));
    for (path, ty) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
    ] {
        let r = get(p, path);
        assert_eq!((r.status, r.header("content-type")), (200, Some(ty)));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        let tag = r.header("etag").unwrap().to_string();
        let again = request(p, "GET", path, &[("If-None-Match", &tag)], b"");
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(tag.as_str()));
    }
    assert_eq!(err(get(p, "/nothing-here")), (404, "NOT_FOUND".into()));
    assert_eq!(
        err(request(p, "POST", "/", &[], b"")),
        (405, "METHOD_NOT_ALLOWED".into())
    );
}

#[test]
fn topics_are_created_configured_and_deleted_through_kafkas_validation() {
    let b = Broker::start_with_http(&[]);
    let p = b.console_port.unwrap();
    let mut c = b.client();

    let cluster = ok(get(p, "/api/cluster"));
    assert_eq!(cluster["controller_id"], 1);
    assert_eq!(cluster["node_id"], 1);
    assert_eq!(
        cluster["brokers"],
        json!([{"id": 1, "host": "127.0.0.1", "port": b.port, "rack": null, "fenced": false,
                "controller": true, "leader_partitions": cluster["partitions"]}])
    );
    assert_eq!(cluster["topics"], 0);
    assert_eq!(
        (
            cluster["under_replicated_partitions"].as_i64(),
            cluster["offline_partitions"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert!(!cluster["cluster_id"].as_str().unwrap().is_empty());

    // validate_only: answered, nothing created.
    let r = ok(post_json(
        p,
        "/api/topics",
        &json!({"name": "orders", "partitions": 3, "validate_only": true}),
    ));
    assert_eq!(
        (r["partitions"].as_i64(), r["validate_only"].as_bool()),
        (Some(3), Some(true))
    );
    assert!(ok(get(p, "/api/topics?internal=false"))
        .as_array()
        .unwrap()
        .is_empty());

    let r = ok(post_json(
        p,
        "/api/topics",
        &json!({"name": "orders", "partitions": 3, "configs": {"retention.ms": 3600000}}),
    ));
    assert_eq!(
        (
            r["name"].as_str(),
            r["partitions"].as_i64(),
            r["replication_factor"].as_i64()
        ),
        (Some("orders"), Some(3), Some(1))
    );
    // A Kafka client sees it.
    let md: MetadataResponse = c.call(
        12,
        &MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(TopicName(s("orders"))))
        ])),
    );
    assert_eq!(
        (md.topics[0].error_code, md.topics[0].partitions.len()),
        (0, 3)
    );

    let list = ok(get(p, "/api/topics?internal=false"));
    assert_eq!(
        list,
        json!([{"name": "orders", "topic_id": r["topic_id"], "internal": false, "partitions": 3,
                "replication_factor": 1, "messages": 0, "size_bytes": 0,
                "under_replicated_partitions": 0, "offline_partitions": 0}])
    );
    // Internal topics are listed unless asked not to.
    let all = ok(get(p, "/api/topics"));
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "__consumer_offsets" && t["internal"] == true));

    // Kafka's refusals, with its error names.
    let create = |body: Value| err(post_json(p, "/api/topics", &body));
    assert_eq!(
        create(json!({"name": "orders"})),
        (409, "TOPIC_ALREADY_EXISTS".into())
    );
    assert_eq!(
        create(json!({"name": "bad name"})),
        (400, "INVALID_TOPIC_EXCEPTION".into())
    );
    assert_eq!(
        create(json!({"name": "x", "partitions": 0})),
        (400, "INVALID_PARTITIONS".into())
    );
    assert_eq!(
        create(json!({"name": "x", "replication_factor": 3})),
        (400, "INVALID_REPLICATION_FACTOR".into())
    );
    assert_eq!(
        create(json!({"name": "x", "configs": {"retention.ms": "soon"}})),
        (400, "INVALID_CONFIG".into())
    );
    // The console's own checks.
    assert_eq!(
        create(json!({"partitions": 1})),
        (400, "BAD_REQUEST".into())
    );
    assert_eq!(
        create(json!({"name": "x", "partitions": "2"})),
        (400, "BAD_REQUEST".into())
    );
    assert_eq!(
        create(json!({"name": "x", "configs": ["a"]})),
        (400, "BAD_REQUEST".into())
    );

    let t = ok(get(p, "/api/topics/orders"));
    assert_eq!(t["name"], "orders");
    assert_eq!(t["messages"], 0);
    let parts = t["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(
            part,
            &json!({"partition": i, "leader": 1, "leader_epoch": part["leader_epoch"],
                    "replicas": [1], "isr": [1], "offline_replicas": [],
                    "log_start_offset": 0, "log_end_offset": 0, "messages": 0,
                    "size_bytes": 0, "error": null})
        );
    }
    assert_eq!(
        err(get(p, "/api/topics/missing")),
        (404, "UNKNOWN_TOPIC_OR_PARTITION".into())
    );

    // Configs: every one with its source; edits through IncrementalAlterConfigs.
    let configs = ok(get(p, "/api/topics/orders/configs"));
    let find = |cs: &Value, name: &str| {
        cs.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    let r = find(&configs, "retention.ms");
    assert_eq!(
        (
            r["value"].as_str(),
            r["source"].as_str(),
            r["is_default"].as_bool()
        ),
        (Some("3600000"), Some("DYNAMIC_TOPIC_CONFIG"), Some(false))
    );
    let seg = find(&configs, "segment.bytes");
    assert_eq!(
        (seg["source"].as_str(), seg["type"].as_str()),
        (Some("DEFAULT_CONFIG"), Some("INT"))
    );
    let path = "/api/topics/orders/configs";
    assert_eq!(
        err(put_json(p, path, &json!({"set": {"retention.ms": "abc"}}))),
        (400, "INVALID_CONFIG".into())
    );
    assert_eq!(
        err(put_json(p, path, &json!({"set": {"no.such.config": "1"}}))),
        (400, "INVALID_CONFIG".into())
    );
    assert_eq!(
        err(put_json(p, path, &json!({}))),
        (400, "BAD_REQUEST".into())
    );
    assert_eq!(
        err(put_json(
            p,
            path,
            &json!({"set": {"a": "1"}, "delete": ["a"]})
        )),
        (400, "BAD_REQUEST".into())
    );
    // validate_only changes nothing.
    ok(put_json(
        p,
        path,
        &json!({"set": {"retention.ms": 1}, "validate_only": true}),
    ));
    assert_eq!(find(&ok(get(p, path)), "retention.ms")["value"], "3600000");
    ok(put_json(
        p,
        path,
        &json!({"set": {"retention.ms": 7200000, "cleanup.policy": "compact"}}),
    ));
    let wait_for = |name: &str, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = find(&ok(get(p, path)), name);
            if v["value"] == want {
                return v;
            }
            assert!(Instant::now() < deadline, "{name} never became {want}: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("retention.ms", "7200000");
    wait_for("cleanup.policy", "compact");
    ok(put_json(p, path, &json!({"delete": ["cleanup.policy"]})));
    let v = wait_for("cleanup.policy", "delete");
    assert_eq!(v["source"], "DEFAULT_CONFIG");

    // Delete.
    assert_eq!(
        ok(delete(p, "/api/topics/orders")),
        json!({"deleted": "orders"})
    );
    assert_eq!(
        err(delete(p, "/api/topics/orders")),
        (404, "UNKNOWN_TOPIC_OR_PARTITION".into())
    );
    assert!(ok(get(p, "/api/topics?internal=false"))
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn records_are_browsed_with_exact_offsets_keys_values_and_framing() {
    let b = Broker::start_with_http(&[]);
    let p = b.console_port.unwrap();
    let mut c = b.client();
    c.create_topic("events", 2);
    // Two batches: a search with a small budget stops after the first.
    produce(&mut c, "events", 0, &kv(0, 5, "a"));
    produce(&mut c, "events", 0, &kv(5, 5, "a"));
    let mixed = vec![
        record(
            0,
            b"json",
            br#"{"zeta": 1, "alpha": [true, null], "n": 12.50}"#,
            &[("trace", b"t-1"), ("bin", &[0xff, 0x01])],
        ),
        record(1, &[0xff, 0xfe], b"plain text", &[]),
    ];
    produce(&mut c, "events", 1, &mixed);
    let base = "/api/topics/events/messages";

    // Oldest first, one partition: exact offsets, keys, values, timestamps.
    let v = ok(get(p, &format!("{base}?partition=0&from=oldest&limit=4")));
    assert_eq!(offsets(&v), vec![0, 1, 2, 3]);
    assert_eq!(texts(&v, "key"), vec!["a-k0", "a-k1", "a-k2", "a-k3"]);
    assert_eq!(texts(&v, "value"), vec!["a-v0", "a-v1", "a-v2", "a-v3"]);
    let m0 = &v["messages"][0];
    assert_eq!(
        (
            m0["partition"].as_i64(),
            m0["timestamp"].as_i64(),
            m0["timestamp_type"].as_str()
        ),
        (Some(0), Some(TS0), Some("CreateTime"))
    );
    assert_eq!(
        m0["value"],
        json!({"size": 4, "encoding": "text", "text": "a-v0", "truncated": false})
    );
    assert_eq!(
        v["partitions"],
        json!([{"partition": 0, "log_start_offset": 0, "log_end_offset": 10, "first_offset": 0,
                "next_offset": 4, "error": null}])
    );
    // From an offset, from a time.
    let v = ok(get(p, &format!("{base}?partition=0&from=offset&offset=7")));
    assert_eq!(offsets(&v), vec![7, 8, 9]);
    let v = ok(get(
        p,
        &format!(
            "{base}?partition=0&from=timestamp&timestamp={}&limit=2",
            TS0 + 5500
        ),
    ));
    assert_eq!(offsets(&v), vec![6, 7]);
    let v = ok(get(
        p,
        &format!(
            "{base}?partition=0&from=timestamp&timestamp={}",
            TS0 + 99_000
        ),
    ));
    assert_eq!(offsets(&v), Vec::<i64>::new());
    // Newest first: one partition, then all (merged by time, newest first).
    let v = ok(get(p, &format!("{base}?partition=0&limit=3")));
    assert_eq!(offsets(&v), vec![9, 8, 7]);
    let v = ok(get(p, &format!("{base}?limit=3")));
    assert_eq!(
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (
                m["partition"].as_i64().unwrap(),
                m["offset"].as_i64().unwrap()
            ))
            .collect::<Vec<_>>(),
        vec![(0, 9), (0, 8), (0, 7)]
    );

    // JSON (as written: key order and number spelling kept), hex, headers.
    let v = ok(get(p, &format!("{base}?partition=1&from=oldest")));
    let j = &v["messages"][0];
    assert_eq!(j["value"]["encoding"], "json");
    assert_eq!(
        j["value"]["text"],
        r#"{"zeta": 1, "alpha": [true, null], "n": 12.50}"#
    );
    assert_eq!(
        j["value"]["pretty"],
        "{\n  \"zeta\": 1,\n  \"alpha\": [\n    true,\n    null\n  ],\n  \"n\": 12.50\n}"
    );
    assert_eq!(j["headers_total"], 2);
    assert_eq!(
        j["headers"][0],
        json!({"key": "trace", "value": {"size": 3, "encoding": "text", "text": "t-1", "truncated": false}})
    );
    assert_eq!(j["headers"][1]["value"]["hex"], "ff01");
    let h = &v["messages"][1];
    assert_eq!(
        h["key"],
        json!({"size": 2, "encoding": "hex", "hex": "fffe", "truncated": false})
    );
    // Asked as hex.
    let v = ok(get(
        p,
        &format!("{base}?partition=1&from=oldest&format=hex"),
    ));
    assert_eq!(v["messages"][1]["value"]["hex"], "706c61696e2074657874");

    // A search: the matches, and how much it read.
    let v = ok(get(p, &format!("{base}?from=oldest&search=a-v7")));
    assert_eq!(offsets(&v), vec![7]);
    assert_eq!(v["scan"]["complete"], true);
    assert_eq!(v["scan"]["max_bytes"], 16 << 20);
    let total = v["scan"]["bytes"].as_u64().unwrap();
    assert!(total > 0);
    // Newest first, backwards through the log.
    let v = ok(get(p, &format!("{base}?partition=0&search=a-v&limit=2")));
    assert_eq!(offsets(&v), vec![9, 8]);
    // A budget smaller than the log: it stops, and says so.
    let v = ok(get(
        p,
        &format!("{base}?partition=0&from=oldest&search=nothing&max_scan_bytes=1"),
    ));
    assert_eq!(offsets(&v), Vec::<i64>::new());
    assert_eq!(
        (
            v["scan"]["complete"].as_bool(),
            v["scan"]["max_bytes"].as_u64()
        ),
        (Some(false), Some(1))
    );
    assert!(v["scan"]["bytes"].as_u64().unwrap() < total);

    // Bad queries.
    for q in [
        "partition=-1",
        "partition=x",
        "from=sideways",
        "from=offset",
        "from=timestamp",
        "limit=0",
        "limit=201",
        "format=xml",
        "max_scan_bytes=0",
        "max_scan_bytes=999999999999",
    ] {
        assert_eq!(
            err(get(p, &format!("{base}?{q}"))),
            (400, "BAD_REQUEST".into()),
            "{q}"
        );
    }
    let long = "x".repeat(1025);
    assert_eq!(err(get(p, &format!("{base}?search={long}"))).0, 400);
    assert_eq!(
        err(get(p, &format!("{base}?partition=5"))),
        (404, "UNKNOWN_TOPIC_OR_PARTITION".into())
    );
    assert_eq!(
        err(get(p, "/api/topics/nope/messages")),
        (404, "UNKNOWN_TOPIC_OR_PARTITION".into())
    );
}

#[test]
fn registry_framed_records_show_their_schema() {
    let b = Broker::start_with_http(&[]);
    let (p, rp) = (b.console_port.unwrap(), b.registry_port.unwrap());
    let mut c = b.client();
    c.create_topic("users", 1);
    let schema = r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"}]}"#;
    let r = post_json(
        rp,
        "/subjects/users-value/versions",
        &json!({ "schema": schema }),
    );
    assert_eq!(r.json(), json!({"id": 1, "version": 1}));
    // magic 0, id 1, then Avro's "ada" (zig-zag length 3).
    let framed = [0u8, 0, 0, 0, 1, 6, b'a', b'd', b'a'];
    // Id 9 is not the registry's: plain bytes.
    let unknown = [0u8, 0, 0, 0, 9, 1];
    produce(
        &mut c,
        "users",
        0,
        &[
            record(0, b"u1", &framed, &[]),
            record(1, b"u2", &unknown, &[]),
        ],
    );
    let v = ok(get(p, "/api/topics/users/messages?from=oldest"));
    assert_eq!(
        v["messages"][0]["value"],
        json!({"size": 9, "encoding": "schema", "schema_id": 1, "schema_type": "AVRO",
               "subject": "users-value", "version": 1, "decoded": {"name": "ada"}})
    );
    assert_eq!(v["messages"][1]["value"]["encoding"], "hex");

    let subjects = ok(get(p, "/api/schemas"));
    assert_eq!(
        subjects,
        json!({"compatibility": "BACKWARD", "mode": "READWRITE", "subjects": [
            {"subject": "users-value", "versions": 1, "latest_version": 1, "latest_id": 1,
             "schema_type": "AVRO", "compatibility": "BACKWARD", "deleted": false}]})
    );
    let one = ok(get(p, "/api/schemas/users-value"));
    assert_eq!(
        one["versions"],
        json!([{"version": 1, "id": 1, "schema_type": "AVRO", "schema": schema, "references": [], "deleted": false}])
    );
    assert_eq!(
        err(get(p, "/api/schemas/nobody")),
        (404, "NOT_FOUND".into())
    );
}

#[test]
fn group_lag_and_offset_reset_dry_run_then_apply() {
    let b = Broker::start_with_http(&["group.initial.rebalance.delay.ms=0"]);
    let p = b.console_port.unwrap();
    let mut c = b.client();
    c.create_topic("lagged", 2);
    produce(&mut c, "lagged", 0, &kv(0, 5, "l"));
    produce(&mut c, "lagged", 1, &kv(0, 3, "m"));
    commit(&mut c, "readers", "lagged", 0, 2);

    let groups = ok(get(p, "/api/groups"));
    assert_eq!(
        groups,
        json!([{"group_id": "readers", "type": "classic", "state": "Empty", "protocol_type": "",
                "members": 0, "partitions": 1, "lag": 3, "error": null}])
    );
    let g = ok(get(p, "/api/groups/readers"));
    assert_eq!(
        (g["state"].as_str(), g["lag"].as_i64()),
        (Some("Empty"), Some(3))
    );
    assert_eq!(
        g["offsets"],
        json!([{"topic": "lagged", "partition": 0, "committed_offset": 2, "log_end_offset": 5,
                "lag": 3, "member_id": null}])
    );

    let reset = "/api/groups/readers/reset";
    // A dry run (the default) plans, commits nothing.
    let plan = ok(write(
        p,
        "POST",
        reset,
        &json!({"topic": "lagged", "to": "earliest"}),
    ));
    assert_eq!(
        (plan["dry_run"].as_bool(), plan["executed"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        plan["offsets"],
        json!([
            {"partition": 0, "current_offset": 2, "new_offset": 0, "log_start_offset": 0, "log_end_offset": 5, "lag_after": 5},
            {"partition": 1, "current_offset": null, "new_offset": 0, "log_start_offset": 0, "log_end_offset": 3, "lag_after": 3},
        ])
    );
    assert_eq!(ok(get(p, "/api/groups/readers"))["lag"], 3);
    // Clamped to the log, one partition, applied.
    let done = ok(write(
        p,
        "POST",
        reset,
        &json!({"topic": "lagged", "partitions": [0], "to": "offset", "offset": 99, "dry_run": false}),
    ));
    assert_eq!(done["executed"], true);
    assert_eq!(column(&done, "offsets", "new_offset"), vec![&json!(5)]);
    let g = ok(get(p, "/api/groups/readers"));
    assert_eq!(
        (
            g["lag"].as_i64(),
            g["offsets"][0]["committed_offset"].as_i64()
        ),
        (Some(0), Some(5))
    );
    // By time: the first record at or after it (timestamps TS0 + i s).
    let done = ok(write(
        p,
        "POST",
        reset,
        &json!({"topic": "lagged", "to": "timestamp", "timestamp": TS0 + 1500, "dry_run": false}),
    ));
    assert_eq!(
        column(&done, "offsets", "new_offset"),
        vec![&json!(2), &json!(2)]
    );
    let g = ok(get(p, "/api/groups/readers"));
    assert_eq!(g["lag"], 3 + 1);

    // Bad requests.
    let bad = |body: Value| err(write(p, "POST", reset, &body));
    assert_eq!(bad(json!({"to": "earliest"})), (400, "BAD_REQUEST".into()));
    assert_eq!(bad(json!({"topic": "lagged"})), (400, "BAD_REQUEST".into()));
    assert_eq!(
        bad(json!({"topic": "lagged", "to": "offset"})),
        (400, "BAD_REQUEST".into())
    );
    assert_eq!(
        bad(json!({"topic": "lagged", "to": "latest", "dry_run": "no"})),
        (400, "BAD_REQUEST".into())
    );
    assert_eq!(
        bad(json!({"topic": "lagged", "to": "latest", "partitions": [7]})),
        (404, "UNKNOWN_TOPIC_OR_PARTITION".into())
    );
    assert_eq!(
        bad(json!({"topic": "gone", "to": "latest"})),
        (404, "UNKNOWN_TOPIC_OR_PARTITION".into())
    );
    assert_eq!(
        err(get(p, "/api/groups/nobody")),
        (404, "GROUP_ID_NOT_FOUND".into())
    );

    // A group with a live member: described with its assignment; a reset is planned with a
    // warning, and applying it is Kafka's refusal.
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("group.id", "live")
        .set("client.id", "console-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&["lagged"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer.assignment().map(|a| a.count()).unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "no assignment");
        let _ = consumer.poll(Duration::from_millis(100));
    }
    let g = ok(get(p, "/api/groups/live"));
    assert_eq!(
        (g["state"].as_str(), g["type"].as_str()),
        (Some("Stable"), Some("classic"))
    );
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    let m = &g["members"][0];
    assert_eq!(m["client_id"], "console-test");
    assert_eq!(
        m["assignment"],
        json!([{"topic": "lagged", "partitions": [0, 1]}])
    );
    let plan = ok(write(
        p,
        "POST",
        "/api/groups/live/reset",
        &json!({"topic": "lagged", "to": "latest"}),
    ));
    assert!(plan["warning"].as_str().unwrap().contains("1 member(s)"));
    let refused = write(
        p,
        "POST",
        "/api/groups/live/reset",
        &json!({"topic": "lagged", "to": "latest", "dry_run": false}),
    );
    let msg = refused.json()["message"].as_str().unwrap().to_string();
    assert_eq!(err(refused), (409, "UNKNOWN_MEMBER_ID".into()));
    assert!(msg.contains("only while it is empty"), "{msg}");
    drop(consumer);
}

#[test]
fn a_kip848_consumer_group_is_described_with_its_epochs_and_assignment() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::Message;
    let b = Broker::start_with_http(&[]);
    let p = b.console_port.unwrap();
    let mut c = b.client();
    c.create_topic("modern", 2);
    produce(&mut c, "modern", 0, &kv(0, 4, "x"));
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .set("group.id", "next-gen")
        .set("group.protocol", "consumer")
        .set("client.id", "kip848")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&["modern"]).unwrap();
    // Read one record and commit it: lag 3 on partition 0.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "nothing consumed");
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            assert_eq!((m.partition(), m.offset()), (0, 0));
            consumer.commit_message(&m, CommitMode::Sync).unwrap();
            break;
        }
    }
    let g = ok(get(p, "/api/groups/next-gen"));
    assert_eq!(
        (g["type"].as_str(), g["state"].as_str()),
        (Some("consumer"), Some("Stable"))
    );
    assert!(g["group_epoch"].as_i64().unwrap() >= 1);
    let m = &g["members"][0];
    assert_eq!(m["client_id"], "kip848");
    assert_eq!(m["subscribed_topics"], json!(["modern"]));
    assert_eq!(
        m["assignment"],
        json!([{"topic": "modern", "partitions": [0, 1]}])
    );
    let member = m["member_id"].clone();
    assert_eq!(
        g["offsets"],
        json!([
            {"topic": "modern", "partition": 0, "committed_offset": 1, "log_end_offset": 4, "lag": 3, "member_id": member},
            {"topic": "modern", "partition": 1, "committed_offset": null, "log_end_offset": 0, "lag": null, "member_id": member},
        ])
    );
    assert_eq!(g["lag"], 3);
    let listed = ok(get(p, "/api/groups"));
    assert_eq!(
        (
            listed[0]["type"].as_str(),
            listed[0]["members"].as_i64(),
            listed[0]["lag"].as_i64()
        ),
        (Some("consumer"), Some(1), Some(3))
    );
    // Kafka refuses a reset while the member is there.
    let r = write(
        p,
        "POST",
        "/api/groups/next-gen/reset",
        &json!({"topic": "modern", "to": "earliest", "dry_run": false}),
    );
    assert_eq!(err(r), (409, "UNKNOWN_MEMBER_ID".into()));
    assert_eq!(
        ok(get(p, "/api/groups/next-gen"))["offsets"][0]["committed_offset"],
        1
    );
    drop(consumer);
}

#[test]
fn share_groups_are_listed_and_described() {
    let b = Broker::start_with_http(&[]);
    let p = b.console_port.unwrap();
    let mut c = b.client();
    c.create_topic("work", 2);
    assert_eq!(ok(get(p, "/api/share-groups")), json!([]));
    let req = ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("workers")))
        .with_member_id(s("m1"))
        .with_member_epoch(0)
        .with_subscribed_topic_names(Some(vec![TopicName(s("work"))]));
    let r: ShareGroupHeartbeatResponse = c.call(1, &req);
    assert_eq!(r.error_code, 0);
    assert_eq!(
        ok(get(p, "/api/share-groups")),
        json!([{"group_id": "workers", "state": "Stable", "members": 1}])
    );
    let g = ok(get(p, "/api/share-groups/workers"));
    assert_eq!(g["state"], "Stable");
    let m = &g["members"][0];
    assert_eq!(
        (
            m["member_id"].as_str(),
            &m["subscribed_topics"],
            &m["assignment"]
        ),
        (
            Some("m1"),
            &json!(["work"]),
            &json!([{"topic": "work", "partitions": [0, 1]}])
        )
    );
    assert!(g["offsets"].is_array());
    // Share groups are not in the consumer group list.
    assert_eq!(ok(get(p, "/api/groups")), json!([]));
    assert_eq!(err(get(p, "/api/share-groups/none")).0, 404);
}

#[test]
fn malformed_and_cross_site_requests_are_refused_with_json_errors() {
    let b = Broker::start_with_http(&[]);
    let p = b.console_port.unwrap();
    let json_ct = [("Content-Type", "application/json")];
    // Not JSON, not an object where one is needed, the wrong media type.
    assert_eq!(
        err(request(p, "POST", "/api/topics", &json_ct, b"{not json")),
        (400, "BAD_REQUEST".into())
    );
    assert_eq!(
        err(request(p, "POST", "/api/topics", &json_ct, b"[1,2]")),
        (400, "BAD_REQUEST".into())
    );
    assert_eq!(
        err(request(
            p,
            "POST",
            "/api/topics",
            &[("Content-Type", "text/plain")],
            br#"{"name":"x"}"#
        )),
        (415, "UNSUPPORTED_MEDIA_TYPE".into())
    );
    assert_eq!(
        err(request(p, "POST", "/api/topics", &[], br#"{"name":"x"}"#)),
        (415, "UNSUPPORTED_MEDIA_TYPE".into())
    );
    // A write from another site's page.
    let evil = [
        ("Content-Type", "application/json"),
        ("Origin", "http://evil.example"),
    ];
    assert_eq!(
        err(request(p, "POST", "/api/topics", &evil, br#"{"name":"x"}"#)),
        (403, "FORBIDDEN".into())
    );
    assert_eq!(
        err(request(
            p,
            "DELETE",
            "/api/topics/x",
            &[("Origin", "http://evil.example")],
            b""
        )),
        (403, "FORBIDDEN".into())
    );
    // The console's own origin is fine (the test client sends Host: localhost).
    let own = [
        ("Content-Type", "application/json"),
        ("Origin", "http://localhost"),
    ];
    assert_eq!(
        request(p, "POST", "/api/topics", &own, br#"{"name":"mine"}"#).status,
        200
    );
    // Unknown API paths and methods.
    assert_eq!(err(get(p, "/api/nothing")), (404, "NOT_FOUND".into()));
    assert_eq!(err(get(p, "/api/topics/a/b/c")), (404, "NOT_FOUND".into()));
    assert_eq!(
        err(request(p, "PATCH", "/api/topics", &json_ct, b"{}")),
        (405, "METHOD_NOT_ALLOWED".into())
    );
    assert_eq!(
        err(delete(p, "/api/groups")),
        (405, "METHOD_NOT_ALLOWED".into())
    );
    // Too large a body: 413 before it is read.
    let big = vec![b' '; 70 << 10];
    assert_eq!(
        err(request(p, "POST", "/api/topics", &json_ct, &big)).0,
        413
    );
    // A path that is not UTF-8 once decoded.
    assert_eq!(err(get(p, "/api/topics/%ff")).0, 400);
    // Still serving.
    assert_eq!(ok(get(p, "/api/topics?internal=false"))[0]["name"], "mine");
}

#[test]
fn acls_are_off_without_an_authorizer() {
    let b = Broker::start_with_http(&[]);
    let p = b.console_port.unwrap();
    assert_eq!(
        ok(get(p, "/api/acls")),
        json!({"enabled": false, "acls": []})
    );
    // A write meets Kafka's answer.
    let acl = json!({"resource_type": "TOPIC", "resource_name": "t",
                     "principal": "User:alice", "operation": "READ"});
    assert_eq!(
        err(write(p, "POST", "/api/acls", &acl)),
        (400, "SECURITY_DISABLED".into())
    );
    assert_eq!(
        err(request(p, "PUT", "/api/acls", &[], b"")),
        (405, "METHOD_NOT_ALLOWED".into())
    );
}

#[test]
fn acls_are_created_listed_and_deleted_through_kafka() {
    let b = Broker::start_with_http(&[
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users=User:ANONYMOUS",
    ]);
    let p = b.console_port.unwrap();
    assert_eq!(
        ok(get(p, "/api/acls")),
        json!({"enabled": true, "acls": []})
    );

    // host, pattern_type and permission take their defaults.
    let alice = json!({"resource_type": "TOPIC", "resource_name": "orders",
                       "principal": "User:alice", "operation": "READ"});
    let alice_full = json!({"resource_type": "TOPIC", "resource_name": "orders",
                            "pattern_type": "LITERAL", "principal": "User:alice", "host": "*",
                            "operation": "READ", "permission": "ALLOW"});
    assert_eq!(
        ok(write(p, "POST", "/api/acls", &alice)),
        json!({"created": alice_full})
    );
    let bob = json!({"resource_type": "GROUP", "resource_name": "app-",
                     "pattern_type": "PREFIXED", "principal": "User:bob", "host": "10.0.0.1",
                     "operation": "DESCRIBE", "permission": "DENY"});
    assert_eq!(
        ok(write(p, "POST", "/api/acls", &bob)),
        json!({"created": bob})
    );
    // Again: Kafka takes an existing binding.
    ok(write(p, "POST", "/api/acls", &bob));
    assert_eq!(
        ok(get(p, "/api/acls")),
        json!({"enabled": true, "acls": [alice_full, bob]})
    );

    // Kafka's validation: a principal without its type.
    let bad = json!({"resource_type": "TOPIC", "resource_name": "orders",
                     "principal": "bob", "operation": "READ"});
    assert_eq!(
        err(write(p, "POST", "/api/acls", &bad)),
        (400, "INVALID_REQUEST".into())
    );
    // The console's: names it does not know, a missing field.
    for bad in [
        json!({"resource_type": "TABLE", "resource_name": "x", "principal": "User:a", "operation": "READ"}),
        json!({"resource_type": "TOPIC", "resource_name": "x", "principal": "User:a", "operation": "ANY"}),
        json!({"resource_type": "TOPIC", "resource_name": "x", "principal": "User:a", "operation": "READ", "pattern_type": "MATCH"}),
        json!({"resource_type": "TOPIC", "resource_name": "x", "principal": "User:a", "operation": "READ", "permission": "MAYBE"}),
        json!({"resource_type": "TOPIC", "principal": "User:a", "operation": "READ"}),
        json!({"resource_type": "TOPIC", "resource_name": 7, "principal": "User:a", "operation": "READ"}),
    ] {
        assert_eq!(
            err(write(p, "POST", "/api/acls", &bad)),
            (400, "BAD_REQUEST".into()),
            "{bad}"
        );
    }

    // Delete one exact binding; deleting it again deletes nothing.
    assert_eq!(
        ok(write(p, "POST", "/api/acls/delete", &alice)),
        json!({"deleted": 1})
    );
    assert_eq!(
        ok(get(p, "/api/acls")),
        json!({"enabled": true, "acls": [bob]})
    );
    assert_eq!(
        ok(write(p, "POST", "/api/acls/delete", &alice)),
        json!({"deleted": 0})
    );
    // A filter differing in one field (the host) matches nothing.
    let mut other_host = bob.clone();
    other_host["host"] = json!("*");
    assert_eq!(
        ok(write(p, "POST", "/api/acls/delete", &other_host)),
        json!({"deleted": 0})
    );
    assert_eq!(
        ok(get(p, "/api/acls")),
        json!({"enabled": true, "acls": [bob]})
    );
}

/// SaslHandshake v1 + SaslAuthenticate v2 with SCRAM on `port`: the error code of the
/// authentication, after checking the server's signature when it succeeded.
fn scram_login(port: u16, mechanism: &str, user: &str, password: &str) -> i16 {
    use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
    use skua::cli::sasl_client::ScramClient;
    use skua::security::scram::ScramMechanism;
    let mut c = Client::connect(&format!("127.0.0.1:{port}"));
    let r = c.call(
        1,
        &SaslHandshakeRequest::default().with_mechanism(s(mechanism)),
    );
    assert_eq!(r.error_code, 0, "handshake {mechanism}");
    let mut client = ScramClient::new(
        ScramMechanism::from_name(mechanism).unwrap(),
        user,
        password,
    );
    let first = client.first_message();
    let r = c.call(
        2,
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(first)),
    );
    if r.error_code != 0 {
        return r.error_code;
    }
    let fin = client.final_message(&r.auth_bytes).unwrap();
    let r = c.call(
        2,
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(fin)),
    );
    if r.error_code == 0 {
        client.verify_server_final(&r.auth_bytes).unwrap();
        // Authenticated: the connection serves requests.
        let md: MetadataResponse = c.call(12, &MetadataRequest::default());
        assert_eq!(md.brokers[0].port, i32::from(port));
    }
    r.error_code
}

#[test]
fn scram_users_are_created_used_and_deleted() {
    let kafka = common::free_port();
    let sasl = common::free_port();
    let b = Broker::start_with_http_on(
        kafka,
        vec![
            format!("listeners=PLAINTEXT://127.0.0.1:{kafka},SASL_PLAINTEXT://127.0.0.1:{sasl}"),
            "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512".to_string(),
        ],
    );
    let p = b.console_port.unwrap();
    assert_eq!(ok(get(p, "/api/users")), json!([]));

    let r = write(
        p,
        "POST",
        "/api/users",
        &json!({"user": "carol", "mechanism": "SCRAM-SHA-512",
                "password": "carol-secret", "iterations": 8192}),
    );
    assert!(!r.text().contains("carol-secret"));
    assert_eq!(
        ok(r),
        json!({"user": "carol", "mechanism": "SCRAM-SHA-512", "iterations": 8192})
    );
    // iterations default to 4096.
    assert_eq!(
        ok(write(
            p,
            "POST",
            "/api/users",
            &json!({"user": "carol", "mechanism": "SCRAM-SHA-256", "password": "other-secret"}),
        )),
        json!({"user": "carol", "mechanism": "SCRAM-SHA-256", "iterations": 4096})
    );
    let listed = get(p, "/api/users");
    assert!(!listed.text().contains("secret"));
    assert_eq!(
        ok(listed),
        json!([{"user": "carol", "credentials": [
            {"mechanism": "SCRAM-SHA-256", "iterations": 4096},
            {"mechanism": "SCRAM-SHA-512", "iterations": 8192},
        ]}])
    );

    // The passwords work for a real SCRAM exchange on the SASL listener; wrong ones fail.
    const SASL_AUTHENTICATION_FAILED: i16 = 58;
    assert_eq!(
        scram_login(sasl, "SCRAM-SHA-512", "carol", "carol-secret"),
        0
    );
    assert_eq!(
        scram_login(sasl, "SCRAM-SHA-256", "carol", "other-secret"),
        0
    );
    assert_eq!(
        scram_login(sasl, "SCRAM-SHA-256", "carol", "carol-secret"),
        SASL_AUTHENTICATION_FAILED
    );

    // Input the console refuses, and Kafka's refusals.
    for bad in [
        json!({"user": "dave", "mechanism": "SCRAM-SHA-1", "password": "x"}),
        json!({"user": "dave", "mechanism": "SCRAM-SHA-256", "password": ""}),
        json!({"user": "dave", "mechanism": "SCRAM-SHA-256"}),
        json!({"user": "", "mechanism": "SCRAM-SHA-256", "password": "x"}),
        json!({"user": "dave", "mechanism": "SCRAM-SHA-256", "password": "x", "iterations": 100}),
    ] {
        assert_eq!(
            err(write(p, "POST", "/api/users", &bad)),
            (400, "BAD_REQUEST".into()),
            "{bad}"
        );
    }
    assert_eq!(
        err(delete(p, "/api/users/carol")),
        (400, "BAD_REQUEST".into())
    );

    // Delete one credential: the other stays and still works.
    assert_eq!(
        ok(delete(p, "/api/users/carol?mechanism=SCRAM-SHA-512")),
        json!({"user": "carol", "mechanism": "SCRAM-SHA-512", "deleted": true})
    );
    assert_eq!(
        ok(get(p, "/api/users")),
        json!([{"user": "carol", "credentials": [
            {"mechanism": "SCRAM-SHA-256", "iterations": 4096},
        ]}])
    );
    assert_eq!(
        scram_login(sasl, "SCRAM-SHA-512", "carol", "carol-secret"),
        SASL_AUTHENTICATION_FAILED
    );
    assert_eq!(
        scram_login(sasl, "SCRAM-SHA-256", "carol", "other-secret"),
        0
    );
    assert_eq!(
        err(delete(p, "/api/users/carol?mechanism=SCRAM-SHA-512")),
        (404, "RESOURCE_NOT_FOUND".into())
    );
    ok(delete(p, "/api/users/carol?mechanism=SCRAM-SHA-256"));
    assert_eq!(ok(get(p, "/api/users")), json!([]));
}
