//! Client telemetry (KIP-714) and ListConfigResources over TCP against the real binary, with
//! raw kafka-protocol requests: a CLIENT_METRICS subscription made with IncrementalAlterConfigs
//! (validated, described, listed, kept across a restart, deleted), GetTelemetrySubscriptions
//! matching on the software name from ApiVersions v3, PushTelemetry with a zstd-compressed OTLP
//! payload and each of Kafka's push errors, and the pushed series on `/metrics`.

mod common;

use std::time::Duration;

use common::{Broker, Client};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use prost::Message;
use skua::telemetry::otlp;
use uuid::Uuid;

const CLIENT_METRICS: i8 = 16;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn hello(c: &mut Client) -> ApiVersionsResponse {
    let req = ApiVersionsRequest::default()
        .with_client_software_name(s("skua-telemetry-test"))
        .with_client_software_version(s("1.0"));
    c.call(3, &req)
}

/// IncrementalAlterConfigs v1 of one CLIENT_METRICS resource: its error code.
fn alter(c: &mut Client, name: &str, ops: &[(&str, i8, Option<&str>)]) -> i16 {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(CLIENT_METRICS)
            .with_resource_name(s(name))
            .with_configs(
                ops.iter()
                    .map(|(k, op, v)| {
                        AlterableConfig::default()
                            .with_name(s(k))
                            .with_config_operation(*op)
                            .with_value(v.map(s))
                    })
                    .collect(),
            ),
    ]);
    let r: IncrementalAlterConfigsResponse = c.call(1, &req);
    r.responses[0].error_code
}

fn describe(c: &mut Client, name: &str) -> Vec<(String, String, i8)> {
    let req =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(CLIENT_METRICS)
            .with_resource_name(s(name))]);
    let r: DescribeConfigsResponse = c.call(4, &req);
    assert_eq!(r.results[0].error_code, 0);
    let mut out: Vec<_> = r.results[0]
        .configs
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                e.value.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                e.config_source,
            )
        })
        .collect();
    out.sort();
    out
}

fn list(c: &mut Client, version: i16, types: Vec<i8>) -> (i16, Vec<(String, i8)>) {
    let r: ListConfigResourcesResponse = c.call(
        version,
        &ListConfigResourcesRequest::default().with_resource_types(types),
    );
    let mut v: Vec<_> = r
        .config_resources
        .iter()
        .map(|r| (r.resource_name.to_string(), r.resource_type))
        .collect();
    v.sort();
    (r.error_code, v)
}

fn get(c: &mut Client, id: Uuid) -> GetTelemetrySubscriptionsResponse {
    c.call(
        0,
        &GetTelemetrySubscriptionsRequest::default().with_client_instance_id(id),
    )
}

fn push(c: &mut Client, id: Uuid, sub: i32, codec: i8, metrics: Vec<u8>, end: bool) -> i16 {
    let r: PushTelemetryResponse = c.call(
        0,
        &PushTelemetryRequest::default()
            .with_client_instance_id(id)
            .with_subscription_id(sub)
            .with_compression_type(codec)
            .with_terminating(end)
            .with_metrics(metrics.into()),
    );
    r.error_code
}

/// A MetricsData with one delta monotonic sum `org.test.requests` of `v`, node.id 1.
fn payload(v: i64) -> Vec<u8> {
    let point = otlp::NumberDataPoint {
        attributes: vec![otlp::KeyValue {
            key: "node.id".into(),
            value: Some(otlp::AnyValue {
                value: Some(otlp::AnyValueKind::Int(1)),
            }),
        }],
        time_unix_nano: 1,
        value: Some(otlp::NumberValue::AsInt(v)),
    };
    let data = otlp::MetricsData {
        resource_metrics: vec![otlp::ResourceMetrics {
            resource: None,
            scope_metrics: vec![otlp::ScopeMetrics {
                metrics: vec![otlp::Metric {
                    name: "org.test.requests".into(),
                    data: Some(otlp::MetricData::Sum(otlp::Sum {
                        data_points: vec![point],
                        aggregation_temporality: otlp::TEMPORALITY_DELTA,
                        is_monotonic: true,
                    })),
                }],
            }],
        }],
    };
    zstd::stream::encode_all(&data.encode_to_vec()[..], 3).unwrap()
}

#[test]
fn telemetry_subscriptions_pushes_and_metrics() {
    let mut b = Broker::start_with_metrics(&["telemetry.max.bytes=4096"]);
    let mut c = b.client();
    let v = hello(&mut c);
    let served = |k: i16| {
        v.api_keys
            .iter()
            .find(|a| a.api_key == k)
            .map(|a| (a.min_version, a.max_version))
    };
    assert_eq!(served(71), Some((0, 0)));
    assert_eq!(served(72), Some((0, 0)));
    assert_eq!(served(74), Some((0, 1)));

    // No subscription: an empty one, nothing to push.
    let none = get(&mut c, Uuid::nil());
    assert_eq!(none.error_code, 0);
    assert!(none.requested_metrics.is_empty());
    assert_eq!(none.push_interval_ms, 300_000);
    assert_eq!(none.accepted_compression_types, vec![4, 3, 1, 2]);
    assert_eq!(none.telemetry_max_bytes, 4096);
    assert!(none.delta_temporality);

    // Kafka's validation.
    assert_eq!(alter(&mut c, "bad", &[("interval.ms", 0, Some("99"))]), 42);
    assert_eq!(alter(&mut c, "bad", &[("interval.ms", 0, Some("x"))]), 40);
    assert_eq!(
        alter(&mut c, "bad", &[("match", 0, Some("client_id=("))]),
        40
    );
    assert_eq!(alter(&mut c, "bad", &[("nope", 0, Some("1"))]), 42);
    assert_eq!(alter(&mut c, "", &[("metrics", 0, Some("a"))]), 42);
    assert_eq!(
        alter(
            &mut c,
            "sub",
            &[
                ("metrics", 0, Some("org.test.")),
                ("interval.ms", 0, Some("1000")),
                ("match", 0, Some("client_software_name=skua-telemetry-test")),
            ],
        ),
        0
    );
    // APPEND to a LIST config.
    assert_eq!(
        alter(&mut c, "sub", &[("metrics", 2, Some("org.more."))]),
        0
    );
    assert_eq!(
        describe(&mut c, "sub"),
        vec![
            ("interval.ms".into(), "1000".into(), 7),
            (
                "match".into(),
                "client_software_name=skua-telemetry-test".into(),
                7
            ),
            ("metrics".into(), "org.test.,org.more.".into(), 7),
        ]
    );
    assert!(describe(&mut c, "absent").is_empty());
    assert_eq!(list(&mut c, 0, vec![]), (0, vec![("sub".into(), 16)]));
    let (code, all) = list(&mut c, 1, vec![]);
    assert_eq!(code, 0);
    // Every topic (the internal ones included, as Kafka lists them), the broker, the
    // subscription.
    assert_eq!(
        all,
        vec![
            ("1".into(), 4),
            ("1".into(), 8),
            ("__consumer_offsets".into(), 2),
            ("__transaction_state".into(), 2),
            ("sub".into(), 16)
        ]
    );
    assert_eq!(list(&mut c, 1, vec![16, 32]), (0, vec![("sub".into(), 16)]));
    assert_eq!(list(&mut c, 1, vec![99]).0, 35);

    // A new client instance matching on its software name.
    let r = get(&mut c, Uuid::nil());
    assert_eq!(r.error_code, 0);
    let id = r.client_instance_id;
    assert_eq!(r.push_interval_ms, 1000);
    let mut metrics: Vec<String> = r.requested_metrics.iter().map(|m| m.to_string()).collect();
    metrics.sort();
    assert_eq!(metrics, vec!["org.more.", "org.test."]);
    let sub = r.subscription_id;
    assert_eq!(push(&mut c, id, sub, 4, payload(3), false), 0);
    // Too early.
    assert_eq!(push(&mut c, id, sub, 4, payload(1), false), 89);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(push(&mut c, id, sub + 1, 4, payload(1), false), 117);
    // After UNKNOWN_SUBSCRIPTION_ID a Get is answered at once (it does not count as the last
    // Get for the push throttle, as in Kafka: the next push waits an interval after the last).
    assert_eq!(get(&mut c, id).error_code, 0);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(push(&mut c, id, sub, 5, payload(1), false), 76);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(push(&mut c, id, sub, 0, vec![0u8; 4097], false), 118);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(push(&mut c, id, sub, 4, b"not zstd".to_vec(), false), 87);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(push(&mut c, id, sub, 4, payload(4), false), 0);
    assert_eq!(push(&mut c, Uuid::nil(), sub, 4, payload(4), false), 42);

    // Deltas accumulate: 3 + 4.
    let text = b.scrape();
    let line = format!(
        "kafka_client_org_test_requests_total{{client_instance_id=\"{id}\",client_id=\"skua-test\",node_id=\"1\"}} 7"
    );
    assert!(text.contains(&line), "{line} not in:\n{text}");
    assert!(text.contains("# TYPE kafka_client_org_test_requests counter"));

    // Terminating: accepted early, then nothing more.
    assert_eq!(push(&mut c, id, sub, 4, payload(1), true), 0);
    assert_eq!(push(&mut c, id, sub, 4, payload(1), false), 42);

    // The subscription survives a restart.
    drop(c);
    b.stop();
    b.spawn();
    let mut c = b.client();
    hello(&mut c);
    assert_eq!(list(&mut c, 0, vec![]), (0, vec![("sub".into(), 16)]));
    let r = get(&mut c, Uuid::nil());
    assert_eq!(r.push_interval_ms, 1000);
    assert_eq!(r.requested_metrics.len(), 2);

    // Deleting every config deletes the subscription.
    assert_eq!(
        alter(
            &mut c,
            "sub",
            &[
                ("metrics", 1, None),
                ("interval.ms", 1, None),
                ("match", 1, None)
            ]
        ),
        0
    );
    assert_eq!(list(&mut c, 0, vec![]), (0, vec![]));
    let r = get(&mut c, Uuid::nil());
    assert!(r.requested_metrics.is_empty());
    assert_eq!(r.push_interval_ms, 300_000);
}
