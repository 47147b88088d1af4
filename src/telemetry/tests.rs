//! The manager with a fake clock: matching, subscription ids, throttling, eviction, errors.

use std::collections::BTreeMap;

use prost::Message;
use uuid::Uuid;

use super::otlp::{self, PointKind};
use super::*;

fn subs(list: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, BTreeMap<String, String>> {
    list.iter()
        .map(|(name, cfg)| {
            (
                name.to_string(),
                cfg.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        })
        .collect()
}

fn ctx(client_id: &str) -> ClientContext {
    ClientContext {
        connection_id: 1,
        client_id: client_id.into(),
        software_name: Some("librdkafka".into()),
        software_version: Some("2.16.0".into()),
        source_address: Some("127.0.0.1".into()),
        source_port: Some(40000),
    }
}

fn manager() -> Manager {
    Manager::new(Limits {
        telemetry_max_bytes: 1000,
        max_instances: 3,
        exported_max_clients: 2,
        exported_max_series: 2,
    })
}

fn push(id: Uuid, sub: i32) -> PushRequest<'static> {
    PushRequest {
        client_instance_id: id,
        subscription_id: sub,
        terminating: false,
        compression_type: 0,
        metrics: b"",
    }
}

const T0: i64 = 1_000_000;

#[test]
fn no_subscription_gives_an_empty_subscription_with_the_default_interval() {
    let mut m = manager();
    let r = m.get_subscriptions(Uuid::nil(), &ctx("c"), T0);
    assert_eq!(r.error_code, NONE);
    assert!(!r.client_instance_id.is_nil());
    assert!(r.requested_metrics.is_empty());
    assert_eq!(r.push_interval_ms, 300_000);
    assert_eq!(r.accepted_compression_types, vec![4, 3, 1, 2]);
    assert_eq!(r.telemetry_max_bytes, 1000);
    assert!(r.delta_temporality);
    // The same client asking again before the interval is throttled.
    let again = m.get_subscriptions(r.client_instance_id, &ctx("c"), T0 + 1000);
    assert_eq!(again.error_code, THROTTLING_QUOTA_EXCEEDED);
    let later = m.get_subscriptions(r.client_instance_id, &ctx("c"), T0 + 300_000);
    assert_eq!(later.error_code, NONE);
    assert_eq!(later.client_instance_id, r.client_instance_id);
    assert_eq!(later.subscription_id, r.subscription_id);
}

#[test]
fn matching_unions_metrics_and_takes_the_smallest_interval() {
    let mut m = manager();
    m.set_subscriptions(&subs(&[
        (
            "a",
            &[
                ("metrics", "org.apache.kafka.producer."),
                ("interval.ms", "2000"),
            ],
        ),
        (
            "b",
            &[
                ("metrics", "org.apache.kafka.consumer."),
                ("interval.ms", "1000"),
                ("match", "client_software_name=librdkafka,client_id=app-.*"),
            ],
        ),
        ("c", &[("metrics", "x."), ("match", "client_source_port=1")]),
    ]));
    let r = m.get_subscriptions(Uuid::nil(), &ctx("app-1"), T0);
    assert_eq!(
        r.requested_metrics,
        vec!["org.apache.kafka.consumer.", "org.apache.kafka.producer."]
    );
    assert_eq!(r.push_interval_ms, 1000);
    let r2 = m.get_subscriptions(Uuid::nil(), &ctx("other"), T0);
    assert_eq!(r2.requested_metrics, vec!["org.apache.kafka.producer."]);
    assert_eq!(r2.push_interval_ms, 2000);
    // `*` anywhere subscribes everything.
    m.set_subscriptions(&subs(&[
        ("a", &[("metrics", "org.apache.kafka.producer.")]),
        (
            "all",
            &[("metrics", "*"), ("match", "client_instance_id=.*")],
        ),
    ]));
    let r3 = m.get_subscriptions(Uuid::nil(), &ctx("x"), T0);
    assert_eq!(r3.requested_metrics, vec!["*"]);
    assert_eq!(r3.push_interval_ms, 300_000);
}

#[test]
fn subscription_id_follows_metrics_and_interval() {
    let mut m = manager();
    m.set_subscriptions(&subs(&[(
        "a",
        &[("metrics", "m."), ("interval.ms", "1000")],
    )]));
    let r = m.get_subscriptions(Uuid::nil(), &ctx("c"), T0);
    let id = r.client_instance_id;
    // Renaming the subscription (same metrics and interval) keeps the id, and the instance
    // is re-evaluated at once (no throttling after a change).
    m.set_subscriptions(&subs(&[(
        "b",
        &[("metrics", "m."), ("interval.ms", "1000")],
    )]));
    let same = m.get_subscriptions(id, &ctx("c"), T0 + 10);
    assert_eq!(same.error_code, NONE);
    assert_eq!(same.subscription_id, r.subscription_id);
    m.set_subscriptions(&subs(&[(
        "b",
        &[("metrics", "m."), ("interval.ms", "2000")],
    )]));
    let changed = m.get_subscriptions(id, &ctx("c"), T0 + 20);
    assert_eq!(changed.error_code, NONE);
    assert_ne!(changed.subscription_id, r.subscription_id);
    // An old subscription id is refused.
    assert_eq!(
        m.check_push(&push(id, r.subscription_id), &ctx("c"), T0 + 30),
        Err(UNKNOWN_SUBSCRIPTION_ID)
    );
    // Then a Get is not throttled, and a push with the new id goes through.
    let again = m.get_subscriptions(id, &ctx("c"), T0 + 40);
    assert_eq!(again.error_code, NONE);
    assert_eq!(
        m.check_push(&push(id, again.subscription_id), &ctx("c"), T0 + 50),
        Ok(false)
    );
}

#[test]
fn pushes_are_throttled_to_the_interval_and_checked_in_kafkas_order() {
    let mut m = manager();
    m.set_subscriptions(&subs(&[(
        "a",
        &[("metrics", "*"), ("interval.ms", "1000")],
    )]));
    let r = m.get_subscriptions(Uuid::nil(), &ctx("c"), T0);
    let (id, sub) = (r.client_instance_id, r.subscription_id);
    // Right after the Get: accepted (jitter), then not before one interval.
    assert_eq!(m.check_push(&push(id, sub), &ctx("c"), T0 + 10), Ok(false));
    assert_eq!(
        m.check_push(&push(id, sub), &ctx("c"), T0 + 500),
        Err(THROTTLING_QUOTA_EXCEEDED)
    );
    assert_eq!(
        m.check_push(&push(id, sub), &ctx("c"), T0 + 1010),
        Ok(false)
    );
    let t = T0 + 2010;
    let codec = PushRequest {
        compression_type: 9,
        ..push(id, sub)
    };
    assert_eq!(
        m.check_push(&codec, &ctx("c"), t),
        Err(UNSUPPORTED_COMPRESSION_TYPE)
    );
    let big = vec![0u8; 1001];
    let t = t + 1000;
    let too_large = PushRequest {
        metrics: &big,
        ..push(id, sub)
    };
    assert_eq!(
        m.check_push(&too_large, &ctx("c"), t),
        Err(TELEMETRY_TOO_LARGE)
    );
    let ok = vec![0u8; 1000];
    let t = t + 1000;
    let fits = PushRequest {
        metrics: &ok,
        ..push(id, sub)
    };
    assert_eq!(m.check_push(&fits, &ctx("c"), t), Ok(true));
    // A terminating push is accepted even early; nothing after it is.
    let term = PushRequest {
        terminating: true,
        ..push(id, sub)
    };
    assert_eq!(m.check_push(&term, &ctx("c"), t + 1), Ok(false));
    assert_eq!(
        m.check_push(&push(id, sub), &ctx("c"), t + 5000),
        Err(INVALID_REQUEST)
    );
}

#[test]
fn reserved_instance_ids_are_invalid_requests() {
    let mut m = manager();
    for id in [Uuid::nil(), Uuid::from_u128(1)] {
        assert_eq!(
            m.check_push(&push(id, 0), &ctx("c"), T0),
            Err(INVALID_REQUEST)
        );
    }
    assert_eq!(m.stats().instances, 0);
}

#[test]
fn a_push_from_an_unknown_instance_gets_its_state_created_as_kafka_does() {
    // A client moving to another broker pushes there with the id it was given.
    let mut m = manager();
    m.set_subscriptions(&subs(&[(
        "a",
        &[("metrics", "*"), ("interval.ms", "1000")],
    )]));
    let id = Uuid::new_v4();
    let r = m.get_subscriptions(id, &ctx("c"), T0);
    assert_eq!(r.client_instance_id, id);
    let mut other = manager();
    other.set_subscriptions(&subs(&[(
        "a",
        &[("metrics", "*"), ("interval.ms", "1000")],
    )]));
    assert_eq!(
        other.check_push(&push(id, r.subscription_id), &ctx("c"), T0),
        Ok(false)
    );
}

#[test]
fn instances_expire_are_evicted_and_leave_with_their_connection() {
    let mut m = manager();
    let a = m
        .get_subscriptions(Uuid::nil(), &ctx("a"), T0)
        .client_instance_id;
    let mut c2 = ctx("b");
    c2.connection_id = 2;
    let _b = m
        .get_subscriptions(Uuid::nil(), &c2, T0 + 1)
        .client_instance_id;
    let mut c3 = ctx("c");
    c3.connection_id = 3;
    let _c = m.get_subscriptions(Uuid::nil(), &c3, T0 + 2);
    assert_eq!(m.stats().instances, 3);
    // A fourth evicts the least recently used (a).
    let mut c4 = ctx("d");
    c4.connection_id = 4;
    m.get_subscriptions(Uuid::nil(), &c4, T0 + 3);
    assert_eq!(m.stats().instances, 3);
    assert_eq!(m.stats().evicted_instances, 1);
    assert!(m.instance_subscription(a).is_none());
    // Connection 2 closes: its instance goes.
    m.connection_closed(2);
    assert_eq!(m.stats().instances, 2);
    // Idle past max(60 s, 3 × 300 s) = 900 s: gone.
    m.samples(T0 + 3 + 900_000);
    assert_eq!(m.stats().instances, 0);
}

fn payload(points: &[(&str, f64, bool)]) -> Vec<u8> {
    let metrics = points
        .iter()
        .map(|(name, v, sum)| {
            let point = otlp::NumberDataPoint {
                attributes: vec![otlp::KeyValue {
                    key: "node.id".into(),
                    value: Some(otlp::AnyValue {
                        value: Some(otlp::AnyValueKind::String("1".into())),
                    }),
                }],
                time_unix_nano: 1,
                value: Some(otlp::NumberValue::AsDouble(*v)),
            };
            otlp::Metric {
                name: name.to_string(),
                data: Some(if *sum {
                    otlp::MetricData::Sum(otlp::Sum {
                        data_points: vec![point],
                        aggregation_temporality: otlp::TEMPORALITY_DELTA,
                        is_monotonic: true,
                    })
                } else {
                    otlp::MetricData::Gauge(otlp::Gauge {
                        data_points: vec![point],
                    })
                }),
            }
        })
        .collect();
    otlp::MetricsData {
        resource_metrics: vec![otlp::ResourceMetrics {
            resource: None,
            scope_metrics: vec![otlp::ScopeMetrics { metrics }],
        }],
    }
    .encode_to_vec()
}

#[test]
fn pushed_points_are_exported_bounded_and_deltas_accumulate() {
    let mut m = manager();
    m.set_subscriptions(&subs(&[(
        "a",
        &[("metrics", "*"), ("interval.ms", "1000")],
    )]));
    let id = m
        .get_subscriptions(Uuid::nil(), &ctx("c"), T0)
        .client_instance_id;
    let data = payload(&[("g", 1.5, false), ("s", 2.0, true), ("third", 1.0, false)]);
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&data).unwrap();
        e.finish().unwrap()
    };
    let points = decode_payload(1, &gz, 1000).unwrap();
    assert_eq!(points.len(), 3);
    m.record(id, points, T0);
    // Two series per client: the third is dropped.
    assert_eq!(m.stats().dropped_series, 1);
    let again = decode_payload(0, &payload(&[("s", 3.0, true), ("g", 0.5, false)]), 1000).unwrap();
    m.record(id, again, T0 + 1000);
    let mut samples = m.samples(T0 + 1000);
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    let labels = vec![
        ("client_instance_id".to_string(), id.to_string()),
        ("client_id".to_string(), "c".to_string()),
        ("node_id".to_string(), "1".to_string()),
    ];
    assert_eq!(
        samples,
        vec![
            Sample {
                name: "g".into(),
                kind: PointKind::Gauge,
                labels: labels.clone(),
                value: 0.5
            },
            Sample {
                name: "s".into(),
                kind: PointKind::Counter { delta: true },
                labels,
                value: 5.0
            },
        ]
    );
    // A third client beyond exported.max.clients (2) is not exported.
    for n in 0..2 {
        let mut c = ctx(&format!("o{n}"));
        c.connection_id = 10 + n;
        let oid = m.get_subscriptions(Uuid::nil(), &c, T0).client_instance_id;
        m.record(
            oid,
            decode_payload(0, &payload(&[("g", 1.0, false)]), 1000).unwrap(),
            T0,
        );
    }
    assert_eq!(m.stats().exported_clients, 2);
    assert_eq!(m.stats().dropped_clients, 1);
    // Exported series expire max(60 s, 3 × 1 s) after the last push.
    assert!(m.samples(T0 + 1000 + 59_999).iter().any(|s| s.name == "s"));
    assert!(m.samples(T0 + 1000 + 60_000).is_empty());
}

#[test]
fn undecodable_payloads_are_refused() {
    assert!(decode_payload(0, b"\xff\xff\xff", 1000).is_err());
    assert!(decode_payload(1, b"not gzip", 1000).is_err());
    assert!(decode_payload(4, b"not zstd", 1000).is_err());
    // Decompression is bounded (10 × telemetry.max.bytes).
    let zeros = zstd::stream::encode_all(&vec![0u8; 20_000][..], 3).unwrap();
    assert!(decode_payload(4, &zeros, 1000).is_err());
    assert_eq!(decompress(4, &zeros, 20_000).unwrap().len(), 20_000);
    assert!(decompress(4, &zeros, 19_999).is_err());
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&[0u8; 20_000]).unwrap();
        e.finish().unwrap()
    };
    assert!(decompress(1, &gz, 19_999).is_err());
    // Zeros are not a MetricsData (field number 0).
    assert!(decode_payload(4, &zeros, 2000).is_err());
    let ok = zstd::stream::encode_all(&payload(&[("g", 1.0, false)])[..], 3).unwrap();
    assert_eq!(decode_payload(4, &ok, 1000).unwrap().len(), 1);
}

#[test]
fn invalid_record_is_the_last_error_of_the_instance() {
    let mut m = manager();
    m.set_subscriptions(&subs(&[(
        "a",
        &[("metrics", "*"), ("interval.ms", "1000")],
    )]));
    let r = m.get_subscriptions(Uuid::nil(), &ctx("c"), T0);
    m.record_failed(r.client_instance_id);
    // INVALID_RECORD does not lift the Get throttle.
    assert_eq!(
        m.get_subscriptions(r.client_instance_id, &ctx("c"), T0 + 10)
            .error_code,
        THROTTLING_QUOTA_EXCEEDED
    );
}
