//! The HTTP proxy (`--rest-proxy-listen`) against the real binary over TCP: REST Proxy v3
//! (cluster, brokers, topics, partitions, configs, consumer groups, lags, streaming produce)
//! and v2 (topics, produce, consumer instances), with exact status codes and bodies; records
//! produced over HTTP are read back with the Kafka protocol, records produced with Kafka read
//! over HTTP; malformed and oversized input is answered 4xx and the proxy keeps serving.

mod common;

use std::time::{Duration, Instant};

use common::http::{delete, get, post_json, request, HttpResponse};
use common::{decode_records, Broker, Client};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Record;
use serde_json::{json, Value};

const V2: &str = "application/vnd.kafka.v2+json";
const V2_BINARY: &str = "application/vnd.kafka.binary.v2+json";
const V2_JSON: &str = "application/vnd.kafka.json.v2+json";

fn error(r: &HttpResponse) -> (u16, Value) {
    (r.status, r.json())
}

fn err(code: i64, message: &str) -> Value {
    json!({ "error_code": code, "message": message })
}

/// The cluster id, from `GET /v3/clusters`.
fn cluster_id(p: u16) -> String {
    let r = get(p, "/v3/clusters");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn post(p: u16, path: &str, content_type: &str, body: &[u8]) -> HttpResponse {
    request(p, "POST", path, &[("Content-Type", content_type)], body)
}

/// Every record of `topic`-`partition` from offset 0, with the Kafka protocol.
fn fetch_all(c: &mut Client, topic: &str, partition: i32) -> Vec<Record> {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(12, &req);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    decode_records(&p.records.clone().unwrap_or_default())
}

fn text(b: &Option<bytes::Bytes>) -> Option<String> {
    b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// The JSON lines of a v3 produce answer.
fn lines(r: &HttpResponse) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let t = r.text();
    assert!(t.ends_with("\r\n"), "{t:?}");
    t.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn create_topic_v3(p: u16, c: &str, name: &str, partitions: i32) {
    let r = post_json(
        p,
        &format!("/v3/clusters/{c}/topics"),
        &json!({"topic_name": name, "partitions_count": partitions}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn v3_cluster_brokers_topics_partitions_and_configs() {
    let b = Broker::start_with_http(&[]);
    let p = b.proxy_port.unwrap();

    let r = get(p, "/");
    assert_eq!((r.status, r.json()), (200, json!({})));
    assert_eq!(
        error(&get(p, "/nope")),
        (404, err(404, "HTTP 404 Not Found"))
    );
    assert_eq!(
        error(&request(p, "PUT", "/v3/clusters", &[], b"")),
        (405, err(405, "HTTP 405 Method Not Allowed"))
    );

    let c = cluster_id(p);
    let base = format!("http://localhost/v3/clusters/{c}");
    let r = get(p, "/v3/clusters");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let list = r.json();
    assert_eq!(list["kind"], "KafkaClusterList");
    assert_eq!(
        list["metadata"],
        json!({"self": "http://localhost/v3/clusters", "next": null})
    );
    let cluster = get(p, &format!("/v3/clusters/{c}")).json();
    assert_eq!(list["data"][0], cluster);
    assert_eq!(
        cluster,
        json!({
            "kind": "KafkaCluster",
            "metadata": {"self": base, "resource_name": format!("crn:///kafka={c}")},
            "cluster_id": c,
            "controller": {"related": format!("{base}/brokers/1")},
            "acls": {"related": format!("{base}/acls")},
            "brokers": {"related": format!("{base}/brokers")},
            "broker_configs": {"related": format!("{base}/broker-configs")},
            "consumer_groups": {"related": format!("{base}/consumer-groups")},
            "topics": {"related": format!("{base}/topics")},
            "partition_reassignments": {"related": format!("{base}/topics/-/partitions/-/reassignment")},
        })
    );
    assert_eq!(
        error(&get(p, "/v3/clusters/nope/topics")),
        (404, err(404, "Cluster nope cannot be found."))
    );

    let brokers = get(p, &format!("/v3/clusters/{c}/brokers")).json();
    assert_eq!(brokers["kind"], "KafkaBrokerList");
    assert_eq!(
        brokers["data"][0],
        json!({
            "kind": "KafkaBroker",
            "metadata": {"self": format!("{base}/brokers/1"), "resource_name": format!("crn:///kafka={c}/broker=1")},
            "cluster_id": c,
            "broker_id": 1,
            "host": "127.0.0.1",
            "port": b.port,
            "rack": null,
            "configs": {"related": format!("{base}/brokers/1/configs")},
            "partition_replicas": {"related": format!("{base}/brokers/1/partition-replicas")},
        })
    );
    assert_eq!(
        get(p, &format!("/v3/clusters/{c}/brokers/1")).json(),
        brokers["data"][0]
    );

    // Create: 201 with the topic and its Location; a second time: Kafka's 40002.
    let r = post_json(
        p,
        &format!("/v3/clusters/{c}/topics"),
        &json!({"topic_name": "orders", "partitions_count": 3, "replication_factor": 1,
                "configs": [{"name": "cleanup.policy", "value": "compact"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let t = format!("{base}/topics/orders");
    assert_eq!(r.header("location"), Some(t.as_str()));
    let topic = json!({
        "kind": "KafkaTopic",
        "metadata": {"self": t, "resource_name": format!("crn:///kafka={c}/topic=orders")},
        "cluster_id": c,
        "topic_name": "orders",
        "is_internal": false,
        "replication_factor": 1,
        "partitions_count": 3,
        "partitions": {"related": format!("{t}/partitions")},
        "configs": {"related": format!("{t}/configs")},
        "partition_reassignments": {"related": format!("{t}/partitions/-/reassignment")},
        "authorized_operations": [],
    });
    assert_eq!(r.json(), topic);
    let again = post_json(
        p,
        &format!("/v3/clusters/{c}/topics"),
        &json!({"topic_name": "orders", "partitions_count": 1}),
    );
    assert_eq!(
        error(&again),
        (400, err(40002, "Topic 'orders' already exists."))
    );
    let r = post_json(
        p,
        &format!("/v3/clusters/{c}/topics"),
        &json!({"topic_name": "dry", "partitions_count": 2, "validate_only": true}),
    );
    assert_eq!(
        (r.status, r.json()["partitions_count"].clone()),
        (200, json!(2))
    );
    assert_eq!(get(p, &format!("/v3/clusters/{c}/topics/dry")).status, 404);
    let bad_rf = post_json(
        p,
        &format!("/v3/clusters/{c}/topics"),
        &json!({"topic_name": "rf", "partitions_count": 1, "replication_factor": 3}),
    );
    assert_eq!(
        (bad_rf.status, bad_rf.json()["error_code"].clone()),
        (400, json!(40002))
    );

    assert_eq!(
        get(p, &format!("/v3/clusters/{c}/topics/orders")).json(),
        topic
    );
    let topics = get(p, &format!("/v3/clusters/{c}/topics")).json();
    assert_eq!(topics["kind"], "KafkaTopicList");
    assert!(topics["data"].as_array().unwrap().contains(&topic));
    assert_eq!(
        error(&get(p, &format!("/v3/clusters/{c}/topics/missing"))),
        (
            404,
            err(40403, "This server does not host this topic-partition.")
        )
    );

    let parts = get(p, &format!("/v3/clusters/{c}/topics/orders/partitions")).json();
    assert_eq!(parts["data"].as_array().unwrap().len(), 3);
    let p1 = json!({
        "kind": "KafkaPartition",
        "metadata": {"self": format!("{t}/partitions/1"), "resource_name": format!("crn:///kafka={c}/topic=orders/partition=1")},
        "cluster_id": c,
        "topic_name": "orders",
        "partition_id": 1,
        "leader": {"related": format!("{t}/partitions/1/replicas/1")},
        "replicas": {"related": format!("{t}/partitions/1/replicas")},
        "reassignment": {"related": format!("{t}/partitions/1/reassignment")},
    });
    assert_eq!(parts["data"][1], p1);
    assert_eq!(
        get(p, &format!("/v3/clusters/{c}/topics/orders/partitions/1")).json(),
        p1
    );
    assert_eq!(
        error(&get(
            p,
            &format!("/v3/clusters/{c}/topics/orders/partitions/7")
        )),
        (
            404,
            err(40403, "This server does not host this topic-partition.")
        )
    );
    let replica = get(
        p,
        &format!("/v3/clusters/{c}/topics/orders/partitions/1/replicas/1"),
    )
    .json();
    assert_eq!(
        (replica["is_leader"].clone(), replica["is_in_sync"].clone()),
        (json!(true), json!(true))
    );

    // Configs: every one with its source; set, reset, alter in a batch.
    let cfg = |name: &str| get(p, &format!("/v3/clusters/{c}/topics/orders/configs/{name}"));
    let cp = cfg("cleanup.policy").json();
    assert_eq!(
        cp,
        json!({
            "kind": "KafkaTopicConfig",
            "metadata": {"self": format!("{t}/configs/cleanup.policy"),
                         "resource_name": format!("crn:///kafka={c}/topic=orders/config=cleanup.policy")},
            "cluster_id": c,
            "topic_name": "orders",
            "name": "cleanup.policy",
            "value": "compact",
            "is_default": false,
            "is_read_only": false,
            "is_sensitive": false,
            "source": "DYNAMIC_TOPIC_CONFIG",
            "synonyms": [
                {"name": "cleanup.policy", "value": "compact", "source": "DYNAMIC_TOPIC_CONFIG"},
                {"name": "log.cleanup.policy", "value": "delete", "source": "DEFAULT_CONFIG"},
            ],
        })
    );
    let all = get(p, &format!("/v3/clusters/{c}/topics/orders/configs")).json();
    assert_eq!(all["kind"], "KafkaTopicConfigList");
    assert!(all["data"].as_array().unwrap().contains(&cp));
    let retention = cfg("retention.ms").json();
    assert_eq!(
        (retention["is_default"].clone(), retention["source"].clone()),
        (json!(true), json!("DEFAULT_CONFIG"))
    );
    assert_eq!(
        error(&cfg("no.such")),
        (
            404,
            err(
                404,
                &format!("Config no.such cannot be found for topic orders in cluster {c}.")
            )
        )
    );
    let put = |name: &str, v: Value| {
        request(
            p,
            "PUT",
            &format!("/v3/clusters/{c}/topics/orders/configs/{name}"),
            &[("Content-Type", "application/json")],
            v.to_string().as_bytes(),
        )
    };
    assert_eq!(put("retention.ms", json!({"value": "60000"})).status, 204);
    let r = cfg("retention.ms").json();
    assert_eq!(
        (r["value"].clone(), r["source"].clone()),
        (json!("60000"), json!("DYNAMIC_TOPIC_CONFIG"))
    );
    let bad = put("retention.ms", json!({"value": "soon"}));
    assert_eq!(
        (bad.status, bad.json()["error_code"].clone()),
        (400, json!(40002))
    );
    assert_eq!(
        delete(
            p,
            &format!("/v3/clusters/{c}/topics/orders/configs/retention.ms")
        )
        .status,
        204
    );
    assert_eq!(cfg("retention.ms").json()["source"], "DEFAULT_CONFIG");
    let alter = post_json(
        p,
        &format!("/v3/clusters/{c}/topics/orders/configs:alter"),
        &json!({"data": [{"name": "cleanup.policy", "operation": "DELETE"},
                         {"name": "max.message.bytes", "value": "2000"}]}),
    );
    assert_eq!(alter.status, 204, "{}", alter.text());
    assert_eq!(cfg("cleanup.policy").json()["value"], "delete");
    assert_eq!(cfg("max.message.bytes").json()["value"], "2000");

    // More partitions, then delete.
    let r = request(
        p,
        "PATCH",
        &format!("/v3/clusters/{c}/topics/orders"),
        &[("Content-Type", "application/json")],
        br#"{"partitions_count":5}"#,
    );
    assert_eq!(
        (r.status, r.json()["partitions_count"].clone()),
        (200, json!(5))
    );
    assert_eq!(
        delete(p, &format!("/v3/clusters/{c}/topics/orders")).status,
        204
    );
    assert_eq!(
        error(&delete(p, &format!("/v3/clusters/{c}/topics/orders"))),
        (
            404,
            err(40403, "This server does not host this topic-partition.")
        )
    );
}

#[test]
fn v3_produce_streams_one_result_per_record_read_back_with_kafka() {
    let b = Broker::start_with_http(&[]);
    let p = b.proxy_port.unwrap();
    let c = cluster_id(p);
    create_topic_v3(p, &c, "events", 2);
    let path = format!("/v3/clusters/{c}/topics/events/records");

    // Three concatenated objects: BINARY + JSON, STRING with headers and a timestamp, a
    // value only.
    let body = concat!(
        r#"{"partition_id":0,"key":{"type":"BINARY","data":"Zm9vYmFy"},"value":{"type":"JSON","data":{"foo":"bar"}}}"#,
        "\n",
        r#"{"partition_id":0,"headers":[{"name":"h1","value":"SGVhZGVyLTE="},{"name":"h2","value":null}],"#,
        r#""key":{"type":"STRING","data":"k2"},"value":{"type":"STRING","data":"hello"},"timestamp":"2021-02-05T19:14:42.5Z"}"#,
        r#" {"partition_id":1,"value":{"type":"JSON","data":[1,2,3]}}"#
    );
    let r = post(p, &path, "application/json", body.as_bytes());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let out = lines(&r);
    assert_eq!(out.len(), 3, "{out:?}");
    let ts0 = out[0]["timestamp"].clone();
    assert!(ts0.as_str().unwrap().ends_with('Z'));
    assert_eq!(
        out[0],
        json!({"error_code": 200, "cluster_id": c, "topic_name": "events", "partition_id": 0,
               "offset": 0, "timestamp": ts0,
               "key": {"type": "BINARY", "size": 6}, "value": {"type": "JSON", "size": 13}})
    );
    assert_eq!(
        out[1],
        json!({"error_code": 200, "cluster_id": c, "topic_name": "events", "partition_id": 0,
               "offset": 1, "timestamp": "2021-02-05T19:14:42.500Z",
               "key": {"type": "STRING", "size": 2}, "value": {"type": "STRING", "size": 5}})
    );
    assert_eq!(
        (
            out[2]["partition_id"].clone(),
            out[2]["offset"].clone(),
            out[2].get("key")
        ),
        (json!(1), json!(0), None)
    );

    let mut k = b.client();
    let recs = fetch_all(&mut k, "events", 0);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        (recs[0].offset, text(&recs[0].key), text(&recs[0].value)),
        (0, Some("foobar".into()), Some(r#"{"foo":"bar"}"#.into()))
    );
    assert_eq!(
        (recs[1].offset, text(&recs[1].key), text(&recs[1].value)),
        (1, Some("k2".into()), Some("hello".into()))
    );
    assert_eq!(recs[1].timestamp, 1_612_552_482_500);
    let h: Vec<(String, Option<String>)> = recs[1]
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), text(v)))
        .collect();
    assert_eq!(
        h,
        vec![("h1".into(), Some("Header-1".into())), ("h2".into(), None)]
    );
    let recs = fetch_all(&mut k, "events", 1);
    assert_eq!(
        (recs.len(), text(&recs[0].key), text(&recs[0].value)),
        (1, None, Some("[1,2,3]".into()))
    );

    // Per-record errors keep their place; the others are produced.
    let body = concat!(
        r#"{"partition_id":0,"value":{"type":"BINARY","data":"not base64!"}}"#,
        r#"{"partition_id":-1,"value":{"type":"STRING","data":"x"}}"#,
        r#"{"partition_id":9,"value":{"type":"STRING","data":"x"}}"#,
        r#"{"partition_id":0,"value":{"type":"STRING","data":"ok"}}"#,
        r#"{"value":{"type":"BINARY","data":1}}"#,
    );
    let out = lines(&post(p, &path, "application/json", body.as_bytes()));
    assert_eq!(
        out[0],
        err(
            400,
            "Bad Request: data=\"not base64!\" is not a base64 string."
        )
    );
    assert_eq!(out[1], err(40402, "Partition not found."));
    assert_eq!(
        out[2],
        err(40403, "This server does not host this topic-partition.")
    );
    assert_eq!(
        (out[3]["error_code"].clone(), out[3]["offset"].clone()),
        (json!(200), json!(2))
    );
    assert_eq!(
        out[4],
        err(400, "Bad Request: data=1 is not a base64 string.")
    );
    assert_eq!(out.len(), 5);

    // Keyed records without a partition go where Kafka's partitioner puts them (murmur2).
    let body = r#"{"key":{"type":"STRING","data":"a"},"value":{"type":"STRING","data":"1"}}{"key":{"type":"STRING","data":"a"},"value":{"type":"STRING","data":"2"}}"#;
    let out = lines(&post(p, &path, "application/json", body.as_bytes()));
    assert_eq!(out[0]["partition_id"], out[1]["partition_id"]);

    // Malformed JSON mid-stream: the records before it are produced, then one error line.
    let body = r#"{"partition_id":1,"value":{"type":"STRING","data":"before"}} {"value": nope}"#;
    let out = lines(&post(p, &path, "application/json", body.as_bytes()));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["offset"], 1);
    assert_eq!(
        (
            out[1]["error_code"].clone(),
            out[1]["message"]
                .as_str()
                .unwrap()
                .starts_with("Error processing JSON")
        ),
        (json!(400), true)
    );
    assert_eq!(
        text(&fetch_all(&mut k, "events", 1)[1].value),
        Some("before".into())
    );

    // Whole-request errors.
    assert_eq!(
        error(&post(p, &path, "application/json", b"  ")),
        (
            422,
            err(
                422,
                "Payload error. Request body is empty. Data is required."
            )
        )
    );
    assert_eq!(
        error(&post(p, &path, "text/plain", b"{}")),
        (415, err(415, "HTTP 415 Unsupported Media Type"))
    );
    assert_eq!(
        error(&post(
            p,
            &format!("/v3/clusters/{c}/topics/nope/records"),
            "application/json",
            b"{}"
        )),
        (
            404,
            err(40403, "This server does not host this topic-partition.")
        )
    );
    // A record without key and value is a record with null key and value.
    let out = lines(&post(
        p,
        &path,
        "application/json",
        br#"{"partition_id":1}"#,
    ));
    assert_eq!(
        (out[0]["error_code"].clone(), out[0]["offset"].clone()),
        (json!(200), json!(2))
    );
    // A topic's max.message.bytes applies (MESSAGE_TOO_LARGE: Kafka's error, not retriable).
    let alter = post_json(
        p,
        &format!("/v3/clusters/{c}/topics/events/configs:alter"),
        &json!({"data": [{"name": "max.message.bytes", "value": "200"}]}),
    );
    assert_eq!(alter.status, 204);
    let big = format!(
        r#"{{"partition_id":0,"value":{{"type":"STRING","data":"{}"}}}}"#,
        "x".repeat(500)
    );
    let out = lines(&post(p, &path, "application/json", big.as_bytes()));
    assert_eq!(out[0]["error_code"], 50002, "{out:?}");
}

#[test]
fn v3_produce_by_schema_uses_the_registry() {
    let b = Broker::start_with_http(&[]);
    let p = b.proxy_port.unwrap();
    let c = cluster_id(p);
    create_topic_v3(p, &c, "users", 1);
    let path = format!("/v3/clusters/{c}/topics/users/records");
    // No subject users-value yet: the latest version cannot be found.
    let out = lines(&post(
        p,
        &path,
        "application/json",
        br#"{"value":{"data":{"name":"a"}}}"#,
    ));
    assert_eq!(
        out[0],
        err(
            400,
            "Error when fetching latest schema version. subject = users-value"
        )
    );
    let schema = r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"}]}"#;
    let reg = post_json(
        b.registry_port.unwrap(),
        "/subjects/users-value/versions",
        &json!({"schema": schema}),
    );
    assert_eq!(reg.status, 200, "{}", reg.text());
    // Unknown ids and versions are refused per record.
    let out = lines(&post(p, &path, "application/json",
        br#"{"value":{"schema_version":7,"data":{"name":"a"}}}{"value":{"schema_id":99,"data":{"name":"a"}}}"#));
    assert_eq!(
        out[0],
        err(
            400,
            "Schema does not exist for subject: users-value, version: 7"
        )
    );
    assert_eq!(out[1]["error_code"], 400);
    // A raw schema that does not parse.
    let out = lines(&post(
        p,
        &path,
        "application/json",
        br#"{"value":{"type":"AVRO","schema":"{\"type\":\"nope\"}","data":1}}"#,
    ));
    assert_eq!(out[0]["error_code"], 42205);
}

/// Avro data end to end: a raw schema registered by the produce, the bytes in the log framed
/// as Confluent's serializers frame them (magic byte, the id, Avro binary), and a v2 avro
/// consumer instance answering the records as Avro JSON.
#[test]
fn avro_data_is_framed_and_read_back() {
    let b = Broker::start_with_http(&[]);
    let p = b.proxy_port.unwrap();
    let c = cluster_id(p);
    create_topic_v3(p, &c, "readings", 1);
    let schema = r#"{"type":"record","name":"R","fields":[{"name":"s","type":"string"},{"name":"n","type":["null","long"]}]}"#;
    let body =
        json!({"value": {"type": "AVRO", "schema": schema, "data": {"s": "ab", "n": {"long": 3}}}});
    let out = lines(&post(
        p,
        &format!("/v3/clusters/{c}/topics/readings/records"),
        "application/json",
        body.to_string().as_bytes(),
    ));
    assert_eq!(out[0]["error_code"], 200, "{out:?}");
    assert_eq!(out[0]["value"]["type"], "AVRO");
    assert_eq!(out[0]["value"]["subject"], "readings-value");
    let id = out[0]["value"]["schema_id"].as_i64().unwrap() as i32;
    let got = get(b.registry_port.unwrap(), &format!("/schemas/ids/{id}"));
    assert_eq!(got.status, 200, "{}", got.text());
    // In the log: 0, the id, then "ab" (length 2 → zig-zag 4), branch 1 (→ 2), 3 (→ 6).
    let mut kafka = b.client();
    let records = fetch_all(&mut kafka, "readings", 0);
    let mut want = vec![0u8];
    want.extend_from_slice(&id.to_be_bytes());
    want.extend_from_slice(&[4, b'a', b'b', 2, 6]);
    assert_eq!(records[0].value.as_deref(), Some(&want[..]));
    // The second record, by the subject's latest version, and null (a tombstone).
    let out = lines(&post(
        p,
        &format!("/v3/clusters/{c}/topics/readings/records"),
        "application/json",
        br#"{"value":{"data":{"s":"c","n":null}}}{"partition_id":0}"#,
    ));
    assert_eq!(
        out.iter().map(|l| l["offset"].clone()).collect::<Vec<_>>(),
        vec![json!(1), json!(2)]
    );
    // Data that does not fit the schema: 42207 for that record only.
    let out = lines(&post(
        p,
        &format!("/v3/clusters/{c}/topics/readings/records"),
        "application/json",
        br#"{"value":{"data":{"s":1}}}"#,
    ));
    assert_eq!(out[0]["error_code"], 42207, "{out:?}");

    let v2_avro = "application/vnd.kafka.avro.v2+json";
    let r = post(
        p,
        "/consumers/ga",
        V2,
        br#"{"name":"a","format":"avro","auto.offset.reset":"earliest"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let sub = post(
        p,
        "/consumers/ga/instances/a/subscription",
        V2,
        br#"{"topics":["readings"]}"#,
    );
    assert_eq!(sub.status, 204);
    let got = poll(
        p,
        "/consumers/ga/instances/a/records?timeout=500",
        v2_avro,
        3,
    );
    let values: Vec<(Value, Value)> = got
        .iter()
        .map(|r| (r["offset"].clone(), r["value"].clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            (json!(0), json!({"s": "ab", "n": {"long": 3}})),
            (json!(1), json!({"s": "c", "n": null})),
            (json!(2), Value::Null),
        ]
    );
}

/// `consumer.instance.timeout.ms` set on the broker: an idle instance is gone after it.
#[test]
fn idle_consumer_instances_expire() {
    let b = Broker::start_with_http(&["consumer.instance.timeout.ms=1000"]);
    let p = b.proxy_port.unwrap();
    let r = post(p, "/consumers/gx", V2, br#"{"name":"idle"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let path = "/consumers/gx/instances/idle/subscription";
    assert_eq!(get(p, path).status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut gone = None;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1500));
        let r = get(p, path);
        if r.status == 404 {
            gone = Some(r);
            break;
        }
    }
    let gone = gone.expect("the idle instance expires");
    assert_eq!(
        error(&gone),
        (404, err(40403, "Consumer instance not found."))
    );
}

#[test]
fn v2_topics_and_produce() {
    let b = Broker::start_with_http(&[]);
    let p = b.proxy_port.unwrap();
    let c = cluster_id(p);
    create_topic_v3(p, &c, "v2t", 2);

    let r = get(p, "/topics");
    assert_eq!(r.header("content-type"), Some(V2));
    assert_eq!(r.json(), json!(["v2t"]));
    let t = get(p, "/topics/v2t").json();
    assert_eq!(t["name"], "v2t");
    assert_eq!(t["configs"]["cleanup.policy"], "delete");
    assert_eq!(
        t["partitions"][0],
        json!({"partition": 0, "leader": 1, "replicas": [{"broker": 1, "leader": true, "in_sync": true}]})
    );
    assert_eq!(get(p, "/topics/v2t/partitions/1").json()["partition"], 1);
    assert_eq!(
        error(&get(p, "/topics/v2t/partitions/5")),
        (404, err(40402, "Partition not found."))
    );
    assert_eq!(get(p, "/brokers").json(), json!({"brokers": [1]}));

    // binary
    let r = post(
        p,
        "/topics/v2t",
        V2_BINARY,
        json!({"records": [{"key": "a2V5", "value": "dmFsdWU=", "partition": 1}, {"value": "dHdv", "partition": 1}]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.header("content-type"), Some(V2));
    assert_eq!(
        r.json(),
        json!({"offsets": [
            {"partition": 1, "offset": 0, "error_code": null, "error": null},
            {"partition": 1, "offset": 1, "error_code": null, "error": null}],
            "key_schema_id": null, "value_schema_id": null})
    );
    // json, to a partition
    let r = post(
        p,
        "/topics/v2t/partitions/0",
        V2_JSON,
        json!({"records": [{"key": {"id": 1}, "value": {"n": [1, 2]}}]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(
        r.json()["offsets"][0],
        json!({"partition": 0, "offset": 0, "error_code": null, "error": null})
    );

    let mut k = b.client();
    let recs = fetch_all(&mut k, "v2t", 1);
    assert_eq!(
        recs.iter()
            .map(|r| (r.offset, text(&r.key), text(&r.value)))
            .collect::<Vec<_>>(),
        vec![
            (0, Some("key".into()), Some("value".into())),
            (1, None, Some("two".into()))
        ]
    );
    let recs = fetch_all(&mut k, "v2t", 0);
    assert_eq!(
        (text(&recs[0].key), text(&recs[0].value)),
        (Some(r#"{"id":1}"#.into()), Some(r#"{"n":[1,2]}"#.into()))
    );

    assert_eq!(
        error(&post(
            p,
            "/topics/v2t",
            "application/json",
            br#"{"records":[]}"#
        )),
        (415, err(415, "HTTP 415 Unsupported Media Type"))
    );
    assert_eq!(
        error(&post(
            p,
            "/topics/none",
            V2_BINARY,
            br#"{"records":[{"value":"eA=="}]}"#
        )),
        (404, err(40401, "Topic not found."))
    );
    let bad = post(
        p,
        "/topics/v2t",
        V2_BINARY,
        br#"{"records":[{"value":"%%%"}]}"#,
    );
    assert_eq!(
        (bad.status, bad.json()["error_code"].clone()),
        (422, json!(42203))
    );
    assert_eq!(
        error(&post(
            p,
            "/topics/v2t",
            "application/vnd.kafka.avro.v2+json",
            br#"{"records":[{"value":{"a":1}}]}"#
        )),
        (
            422,
            err(
                42202,
                "Request includes values but does not include value schema"
            )
        )
    );
    let shape = post(p, "/topics/v2t", V2_BINARY, br#"{"records":{}}"#);
    assert_eq!(shape.status, 422);
}

/// Poll `path` until `n` records came (or 30 s passed).
fn poll(p: u16, path: &str, accept: &str, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < n && Instant::now() < deadline {
        let r = request(p, "GET", path, &[("Accept", accept)], b"");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some(accept));
        got.extend(r.json().as_array().unwrap().iter().cloned());
    }
    got
}

#[test]
fn v2_consumer_instance_lifecycle() {
    let b = Broker::start_with_http(&[]);
    let p = b.proxy_port.unwrap();
    let c = cluster_id(p);
    create_topic_v3(p, &c, "feed", 1);
    let produced = post(
        p,
        "/topics/feed",
        V2_BINARY,
        br#"{"records":[{"key":"azE=","value":"djE="},{"value":"djI="},{"value":"djM="}]}"#,
    );
    assert_eq!(produced.status, 200, "{}", produced.text());

    let create = |body: Value| post(p, "/consumers/g1", V2, body.to_string().as_bytes());
    let r = create(
        json!({"name": "c1", "format": "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false"}),
    );
    assert_eq!(r.header("content-type"), Some(V2));
    assert_eq!(
        r.json(),
        json!({"instance_id": "c1", "base_uri": "http://localhost/consumers/g1/instances/c1"})
    );
    assert_eq!(
        error(&create(json!({"name": "c1"}))),
        (409, err(40902, "Consumer with specified consumer ID already exists in the specified consumer group."))
    );
    let bad = create(json!({"name": "c9", "auto.offset.reset": "soon"}));
    assert_eq!(
        (bad.status, bad.json()["error_code"].clone()),
        (422, json!(42204))
    );
    let i = "/consumers/g1/instances/c1";

    assert_eq!(
        post(
            p,
            &format!("{i}/subscription"),
            V2,
            br#"{"topics":["feed"]}"#
        )
        .status,
        204
    );
    assert_eq!(
        get(p, &format!("{i}/subscription")).json(),
        json!({"topics": ["feed"]})
    );
    assert_eq!(
        error(&post(p, &format!("{i}/subscription"), V2, br#"{"topic_pattern":"f.*"}"#)),
        (409, err(40903, "Illegal state: Subscription to topics, partitions and pattern are mutually exclusive"))
    );
    assert_eq!(
        error(&request(p, "GET", &format!("{i}/records"), &[("Accept", V2_JSON)], b"")),
        (406, err(40601, "The requested embedded data format does not match the deserializer for this consumer instance"))
    );

    let recs = poll(p, &format!("{i}/records?timeout=1000"), V2_BINARY, 3);
    assert_eq!(
        recs,
        vec![
            json!({"topic": "feed", "key": "azE=", "value": "djE=", "partition": 0, "offset": 0}),
            json!({"topic": "feed", "key": null, "value": "djI=", "partition": 0, "offset": 1}),
            json!({"topic": "feed", "key": null, "value": "djM=", "partition": 0, "offset": 2}),
        ]
    );
    // The instance is a member of the group, as v3 shows it.
    let g = get(p, &format!("/v3/clusters/{c}/consumer-groups/g1")).json();
    assert_eq!(
        (
            g["kind"].clone(),
            g["state"].clone(),
            g["type"].clone(),
            g["partition_assignor"].clone(),
            g["is_simple"].clone()
        ),
        (
            json!("KafkaConsumerGroup"),
            json!("STABLE"),
            json!("CLASSIC"),
            json!("range"),
            json!(false)
        )
    );
    assert_eq!(
        g["coordinator"]["related"],
        format!("http://localhost/v3/clusters/{c}/brokers/1")
    );
    let members = get(p, &format!("/v3/clusters/{c}/consumer-groups/g1/consumers")).json();
    let member = &members["data"][0];
    assert_eq!(
        (member["client_id"].clone(), member["instance_id"].clone()),
        (json!("c1"), json!(null))
    );
    let cid = member["consumer_id"].as_str().unwrap().to_string();
    let asg = get(
        p,
        &format!("/v3/clusters/{c}/consumer-groups/g1/consumers/{cid}/assignments"),
    )
    .json();
    assert_eq!(
        (
            asg["data"][0]["topic_name"].clone(),
            asg["data"][0]["partition_id"].clone()
        ),
        (json!("feed"), json!(0))
    );
    let groups = get(p, &format!("/v3/clusters/{c}/consumer-groups")).json();
    assert_eq!(groups["data"][0]["consumer_group_id"], "g1");

    // No offsets committed yet (auto-commit is off): no lags.
    assert_eq!(
        error(&get(
            p,
            &format!("/v3/clusters/{c}/consumer-groups/g1/lags")
        )),
        (404, err(404, "Consumer group offsets could not be found."))
    );
    // Commit what was consumed: Confluent answers an empty list.
    let r = post(p, &format!("{i}/offsets"), V2, b"");
    assert_eq!((r.status, r.json()), (200, json!([])));
    let committed = request(
        p,
        "GET",
        &format!("{i}/offsets"),
        &[("Content-Type", V2)],
        br#"{"partitions":[{"topic":"feed","partition":0}]}"#,
    );
    assert_eq!(
        committed.json(),
        json!({"offsets": [{"topic": "feed", "partition": 0, "offset": 3, "metadata": ""}]})
    );
    let lags = get(p, &format!("/v3/clusters/{c}/consumer-groups/g1/lags")).json();
    assert_eq!(
        lags["data"][0],
        json!({
            "kind": "KafkaConsumerLag",
            "metadata": {"self": format!("http://localhost/v3/clusters/{c}/consumer-groups/g1/lags/feed/partitions/0"),
                         "resource_name": format!("crn:///kafka={c}/consumer-group=g1/lag=feed/partition=0")},
            "cluster_id": c, "consumer_group_id": "g1", "topic_name": "feed", "partition_id": 0,
            "consumer_id": cid, "instance_id": null, "client_id": "c1",
            "current_offset": 3, "log_end_offset": 3, "lag": 0,
        })
    );
    // Commit an explicit offset (Confluent commits offset + 1): lag 2.
    let r = post(
        p,
        &format!("{i}/offsets"),
        V2,
        br#"{"offsets":[{"topic":"feed","partition":0,"offset":0}]}"#,
    );
    assert_eq!(r.status, 200);
    let summary = get(
        p,
        &format!("/v3/clusters/{c}/consumer-groups/g1/lag-summary"),
    )
    .json();
    assert_eq!(
        (
            summary["max_lag"].clone(),
            summary["total_lag"].clone(),
            summary["max_lag_consumer_id"].clone(),
            summary["max_lag_topic_name"].clone(),
            summary["max_lag_partition_id"].clone()
        ),
        (json!(2), json!(2), json!(cid), json!("feed"), json!(0))
    );

    // Seek back, read again.
    assert_eq!(
        post(
            p,
            &format!("{i}/positions"),
            V2,
            br#"{"offsets":[{"topic":"feed","partition":0,"offset":2}]}"#
        )
        .status,
        204
    );
    let again = poll(p, &format!("{i}/records"), V2_BINARY, 1);
    assert_eq!(again[0]["offset"], 2);
    assert_eq!(
        error(&post(
            p,
            &format!("{i}/positions"),
            V2,
            br#"{"offsets":[{"topic":"other","partition":0,"offset":2}]}"#
        )),
        (
            409,
            err(
                40903,
                "Illegal state: No current assignment for partition other-0"
            )
        )
    );

    // New records are long-polled.
    let r = post(
        p,
        "/topics/feed",
        V2_BINARY,
        br#"{"records":[{"value":"djQ="}]}"#,
    );
    assert_eq!(r.status, 200);
    let more = poll(p, &format!("{i}/records"), V2_BINARY, 1);
    assert_eq!(
        (more[0]["offset"].clone(), more[0]["value"].clone()),
        (json!(3), json!("djQ="))
    );

    assert_eq!(delete(p, &format!("{i}/subscription")).status, 204);
    assert_eq!(
        get(p, &format!("{i}/subscription")).json(),
        json!({"topics": []})
    );
    assert_eq!(delete(p, i).status, 204);
    assert_eq!(
        error(&delete(p, i)),
        (404, err(40403, "Consumer instance not found."))
    );
    assert_eq!(
        error(&request(
            p,
            "GET",
            &format!("{i}/records"),
            &[("Accept", V2_BINARY)],
            b""
        )),
        (404, err(40403, "Consumer instance not found."))
    );
    // It left the group.
    let members = get(p, &format!("/v3/clusters/{c}/consumer-groups/g1/consumers")).json();
    assert_eq!(members["data"], json!([]));
}

#[test]
fn v2_json_consumers_share_a_group_and_manual_assignment() {
    let b = Broker::start_with_http(&[]);
    let p = b.proxy_port.unwrap();
    let c = cluster_id(p);
    create_topic_v3(p, &c, "shared", 2);
    for part in 0..2 {
        let r = post(
            p,
            &format!("/topics/shared/partitions/{part}"),
            V2_JSON,
            json!({"records": [{"value": {"p": part, "i": 0}}, {"value": {"p": part, "i": 1}}]})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 200);
    }
    // Two instances of one group split the two partitions (range) and read JSON.
    for name in ["a", "b"] {
        let r = post(
            p,
            "/consumers/gs",
            V2,
            json!({"name": name, "format": "json", "auto.offset.reset": "earliest"})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let s = post(
            p,
            &format!("/consumers/gs/instances/{name}/subscription"),
            V2,
            br#"{"topic_pattern":"sha.*"}"#,
        );
        assert_eq!(s.status, 204);
    }
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    while seen.len() < 4 && Instant::now() < deadline {
        for name in ["a", "b"] {
            let r = request(
                p,
                "GET",
                &format!("/consumers/gs/instances/{name}/records?timeout=500"),
                &[("Accept", V2_JSON)],
                b"",
            );
            assert_eq!(r.status, 200, "{}", r.text());
            for rec in r.json().as_array().unwrap() {
                seen.push((
                    name,
                    rec["partition"].as_i64().unwrap(),
                    rec["value"].clone(),
                ));
            }
        }
    }
    seen.sort_by_key(|(_, p, v)| (*p, v["i"].as_i64()));
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0].2, json!({"p": 0, "i": 0}));
    assert_eq!(seen[3].2, json!({"p": 1, "i": 1}));
    // Each partition came to one instance only.
    assert_eq!(seen[0].0, seen[1].0);
    assert_eq!(seen[2].0, seen[3].0);
    assert_eq!(
        get(p, "/consumers/gs/instances/a/subscription").json(),
        json!({"topics": ["shared"]})
    );
    for name in ["a", "b"] {
        assert_eq!(
            delete(p, &format!("/consumers/gs/instances/{name}")).status,
            204
        );
    }

    // Manual assignment: no group membership, positions by hand.
    let r = post(p, "/consumers/gm", V2, br#"{"name":"m","format":"json"}"#);
    assert_eq!(r.status, 200);
    let i = "/consumers/gm/instances/m";
    assert_eq!(
        post(
            p,
            &format!("{i}/assignments"),
            V2,
            br#"{"partitions":[{"topic":"shared","partition":1}]}"#
        )
        .status,
        204
    );
    assert_eq!(
        get(p, &format!("{i}/assignments")).json(),
        json!({"partitions": [{"topic": "shared", "partition": 1}]})
    );
    assert_eq!(
        error(&post(p, &format!("{i}/subscription"), V2, br#"{"topics":["shared"]}"#)),
        (409, err(40903, "Illegal state: Subscription to topics, partitions and pattern are mutually exclusive"))
    );
    assert_eq!(
        post(
            p,
            &format!("{i}/positions/beginning"),
            V2,
            br#"{"partitions":[{"topic":"shared","partition":1}]}"#
        )
        .status,
        204
    );
    let recs = poll(p, &format!("{i}/records"), V2_JSON, 2);
    assert_eq!(
        recs[1],
        json!({"topic": "shared", "key": null, "value": {"p": 1, "i": 1}, "partition": 1, "offset": 1})
    );
    assert_eq!(
        post(
            p,
            &format!("{i}/positions/end"),
            V2,
            br#"{"partitions":[{"topic":"shared","partition":1}]}"#
        )
        .status,
        204
    );
    let r = request(
        p,
        "GET",
        &format!("{i}/records?timeout=200"),
        &[("Accept", V2_JSON)],
        b"",
    );
    assert_eq!(r.json(), json!([]));
    // A record that is not JSON cannot be handed out as JSON.
    let r = post(
        p,
        "/topics/shared/partitions/1",
        V2_BINARY,
        br#"{"records":[{"value":"bm90IGpzb24="}]}"#,
    );
    assert_eq!(r.status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let r = request(
            p,
            "GET",
            &format!("{i}/records?timeout=500"),
            &[("Accept", V2_JSON)],
            b"",
        );
        if r.status != 200 || Instant::now() > deadline {
            break r;
        }
    };
    assert_eq!(
        (failed.status, failed.json()["error_code"].clone()),
        (500, json!(50002))
    );
    assert_eq!(delete(p, i).status, 204);
}

#[test]
fn malformed_and_oversized_input_is_refused_and_the_proxy_keeps_serving() {
    let b = Broker::start_with_http(&[]);
    let p = b.proxy_port.unwrap();
    let c = cluster_id(p);
    let topics = format!("/v3/clusters/{c}/topics");
    let r = post(p, &topics, "application/json", b"{\"topic_name\":");
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (400, json!(400))
    );
    let r = post(p, &topics, "application/json", br#"{"topic_name": 5}"#);
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (422, json!(422))
    );
    let r = post(
        p,
        &topics,
        "application/json",
        br#"{"topic_name": "bad/name", "partitions_count": 1}"#,
    );
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (400, json!(40002))
    );
    let r = post(p, "/consumers/g", V2, b"[1,2]");
    assert_eq!(r.status, 422);
    let r = post(p, "/consumers/g", V2, b"{nope");
    assert_eq!(r.status, 400);
    let r = post(p, "/consumers/g", "text/plain", b"{}");
    assert_eq!(r.status, 415);
    // Deeply nested JSON is refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = post(
        p,
        &format!("{topics}/x/records"),
        "application/json",
        deep.as_bytes(),
    );
    assert!(r.status == 404 || r.status == 200, "{}", r.status);
    create_topic_v3(p, &c, "deep", 1);
    let out = lines(&post(
        p,
        &format!("{topics}/deep/records"),
        "application/json",
        deep.as_bytes(),
    ));
    assert_eq!(out[0]["error_code"], 400);
    // Over the body limit: 413, and the connection closed.
    let big = vec![b' '; 9 << 20];
    let r = post(
        p,
        &format!("{topics}/deep/records"),
        "application/json",
        &big,
    );
    assert_eq!(
        error(&r),
        (413, err(413, "The request included a message larger than the maximum message size the server can accept."))
    );
    // Too many records in one request.
    let many = r#"{"value":{"type":"STRING","data":"x"}}"#.repeat(10_001);
    let out = lines(&post(
        p,
        &format!("{topics}/deep/records"),
        "application/json",
        many.as_bytes(),
    ));
    assert_eq!(out.len(), 10_001);
    assert_eq!(
        out[10_000],
        err(413, "Too many records in one request: at most 10000.")
    );
    assert_eq!(out[9_999]["offset"], 9_999);
    // Still serving.
    assert_eq!(get(p, "/").status, 200);
    assert_eq!(get(p, &topics).status, 200);
}
