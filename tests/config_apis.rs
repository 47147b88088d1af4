//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs at every served version, over TCP
//! with raw kafka-protocol requests against the real binary: sources and synonyms, selected
//! keys, errors as Kafka answers them, persistence across a restart, and dynamic changes that
//! take effect on live partitions (max.message.bytes on produce, retention.ms on the sweep).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{batch, Broker, Client};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;
const INVALID_REQUEST: i16 = 42;
const INVALID_CONFIG: i16 = 40;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn create(c: &mut Client, topic: &str, configs: &[(&str, &str)]) {
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(s(topic)))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(s(k))
                        .with_value(Some(s(v)))
                })
                .collect(),
        )]);
    let r: CreateTopicsResponse = c.call(7, &req);
    assert_eq!(r.topics[0].error_code, 0, "{:?}", r.topics[0].error_message);
}

fn describe_with(
    c: &mut Client,
    v: i16,
    kind: i8,
    name: &str,
    keys: Option<&[&str]>,
    synonyms: bool,
    docs: bool,
) -> DescribeConfigsResult {
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(synonyms)
        .with_include_documentation(docs && v >= 3)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(s(name))
            .with_configuration_keys(
                keys.map(|k| k.iter().map(|n| s(n)).collect()),
            )]);
    let r: DescribeConfigsResponse = c.call(v, &req);
    assert_eq!(r.results.len(), 1);
    r.results[0].clone()
}

fn describe(c: &mut Client, kind: i8, name: &str) -> DescribeConfigsResult {
    describe_with(c, 4, kind, name, None, true, false)
}

fn entry<'a>(r: &'a DescribeConfigsResult, name: &str) -> &'a DescribeConfigsResourceResult {
    r.configs
        .iter()
        .find(|e| e.name.as_str() == name)
        .unwrap_or_else(|| panic!("{name} not described"))
}

fn value(r: &DescribeConfigsResult, name: &str) -> (Option<String>, i8) {
    let e = entry(r, name);
    (e.value.as_ref().map(|v| v.to_string()), e.config_source)
}

fn synonyms(e: &DescribeConfigsResourceResult) -> Vec<(String, Option<String>, i8)> {
    e.synonyms
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                s.value.as_ref().map(|v| v.to_string()),
                s.source,
            )
        })
        .collect()
}

fn alter(
    c: &mut Client,
    v: i16,
    kind: i8,
    name: &str,
    configs: &[(&str, Option<&str>)],
    validate_only: bool,
) -> (i16, Option<String>) {
    use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let req = AlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(s(name))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(s(k))
                            .with_value(v.map(s))
                    })
                    .collect(),
            )]);
    let r: AlterConfigsResponse = c.call(v, &req);
    assert_eq!(r.responses[0].resource_name.as_str(), name);
    assert_eq!(r.responses[0].resource_type, kind);
    (
        r.responses[0].error_code,
        r.responses[0].error_message.as_ref().map(|m| m.to_string()),
    )
}

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

fn incremental(
    c: &mut Client,
    v: i16,
    kind: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> (i16, Option<String>) {
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let req = IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(kind)
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
            )]);
    let r: IncrementalAlterConfigsResponse = c.call(v, &req);
    assert_eq!(r.responses[0].resource_name.as_str(), name);
    (
        r.responses[0].error_code,
        r.responses[0].error_message.as_ref().map(|m| m.to_string()),
    )
}

fn produce(c: &mut Client, topic: &str, records: Bytes) -> i16 {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let r: ProduceResponse = c.call(9, &req);
    r.responses[0].partition_responses[0].error_code
}

fn log_start_offset(c: &mut Client, topic: &str) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-2)])]);
    let r: ListOffsetsResponse = c.call(7, &req);
    r.topics[0].partitions[0].offset
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn describe_topic_configs_at_every_version() {
    let b = Broker::start(&["log.segment.bytes=2048"]);
    let mut c = b.client();
    create(&mut c, "dt", &[("retention.ms", "60000")]);
    for v in 1..=4 {
        let all = describe_with(&mut c, v, TOPIC, "dt", None, false, false);
        assert_eq!(all.error_code, 0, "v{v}");
        assert_eq!(all.resource_name.as_str(), "dt");
        // Every topic config, not only the ones set.
        for name in [
            "cleanup.policy",
            "max.message.bytes",
            "retention.bytes",
            "segment.ms",
            "unclean.leader.election.enable",
        ] {
            entry(&all, name);
        }
        assert!(all.configs.len() >= 14, "v{v}: {}", all.configs.len());
        assert_eq!(value(&all, "retention.ms"), (Some("60000".into()), 1));
        assert_eq!(value(&all, "segment.bytes"), (Some("2048".into()), 4));
        assert_eq!(
            value(&all, "max.message.bytes"),
            (Some("1048588".into()), 5)
        );
        assert_eq!(value(&all, "segment.ms"), (Some("604800000".into()), 5));
        assert!(all.configs.iter().all(|e| e.synonyms.is_empty()));
        assert!(all.configs.iter().all(|e| !e.read_only && !e.is_sensitive));
        if v >= 3 {
            assert!(all.configs.iter().all(|e| e.documentation.is_none()));
        }

        // Selected keys only; unknown names are left out.
        let some = describe_with(
            &mut c,
            v,
            TOPIC,
            "dt",
            Some(&["segment.bytes", "retention.ms", "no.such.config"]),
            true,
            true,
        );
        let mut names: Vec<&str> = some.configs.iter().map(|e| e.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["retention.ms", "segment.bytes"], "v{v}");
        assert_eq!(
            synonyms(entry(&some, "segment.bytes")),
            [
                ("log.segment.bytes".into(), Some("2048".into()), 4),
                ("log.segment.bytes".into(), Some("1073741824".into()), 5)
            ]
        );
        // Kafka lists no broker synonym for retention.ms while log.retention.ms is unset.
        assert_eq!(
            synonyms(entry(&some, "retention.ms")),
            [("retention.ms".into(), Some("60000".into()), 1)]
        );
        let ret = entry(&some, "retention.ms");
        if v >= 3 {
            assert_eq!(ret.config_type, 5, "LONG");
            assert_eq!(entry(&some, "segment.bytes").config_type, 3, "INT");
            assert!(ret.documentation.as_ref().is_some_and(|d| !d.is_empty()));
        } else {
            assert_eq!(ret.config_type, 0, "not on the wire before v3");
        }

        let unknown = describe_with(&mut c, v, TOPIC, "nope", None, false, false);
        assert_eq!(unknown.error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
        assert!(unknown.configs.is_empty());
        let bad = describe_with(&mut c, v, TOPIC, "a/b", None, false, false);
        assert_eq!(bad.error_code, 17, "INVALID_TOPIC_EXCEPTION");
    }
}

#[test]
fn describe_broker_configs_at_every_version() {
    let b = Broker::start(&["log.segment.bytes=2048", "log.retention.hours=1"]);
    let mut c = b.client();
    for v in 1..=4 {
        let r = describe_with(&mut c, v, BROKER, "1", None, true, v >= 3);
        assert_eq!(r.error_code, 0, "v{v}");
        assert_eq!(value(&r, "log.segment.bytes"), (Some("2048".into()), 4));
        assert_eq!(value(&r, "message.max.bytes"), (Some("1048588".into()), 5));
        assert_eq!(value(&r, "log.retention.ms"), (None, 5));
        assert_eq!(value(&r, "log.retention.hours"), (Some("1".into()), 4));
        assert_eq!(
            synonyms(entry(&r, "log.retention.hours")),
            [
                ("log.retention.hours".into(), Some("1".into()), 4),
                ("log.retention.hours".into(), Some("168".into()), 5)
            ]
        );
        assert!(r.configs.iter().all(|e| e.read_only));
        if v >= 3 {
            assert_eq!(entry(&r, "auto.create.topics.enable").config_type, 1);
            assert!(entry(&r, "num.partitions").documentation.is_some());
        }

        let sel = describe_with(
            &mut c,
            v,
            BROKER,
            "1",
            Some(&["num.partitions"]),
            false,
            false,
        );
        assert_eq!(sel.configs.len(), 1);
        assert_eq!(value(&sel, "num.partitions"), (Some("1".into()), 5));

        // The cluster-wide default resource: no dynamic defaults here.
        let dflt = describe_with(&mut c, v, BROKER, "", None, false, false);
        assert_eq!((dflt.error_code, dflt.configs.len()), (0, 0));

        let other = describe_with(&mut c, v, BROKER, "7", None, false, false);
        assert_eq!(other.error_code, INVALID_REQUEST);
        assert_eq!(
            other.error_message.as_deref(),
            Some("Unexpected broker id, expected 1 or empty string, but received 7")
        );
        let nan = describe_with(&mut c, v, BROKER, "x", None, false, false);
        assert_eq!(nan.error_code, INVALID_REQUEST);
        let logger = describe_with(&mut c, v, BROKER_LOGGER, "1", None, false, false);
        assert_eq!(logger.error_code, INVALID_REQUEST);
    }
}

#[test]
fn alter_configs_replaces_overrides_at_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    for v in 0..=2 {
        let t = format!("ac{v}");
        create(&mut c, &t, &[("retention.ms", "60000")]);
        assert_eq!(
            alter(
                &mut c,
                v,
                TOPIC,
                &t,
                &[("max.message.bytes", Some("2000"))],
                false
            ),
            (0, None)
        );
        let r = describe(&mut c, TOPIC, &t);
        assert_eq!(value(&r, "max.message.bytes"), (Some("2000".into()), 1));
        // A full replace: retention.ms is back to its default.
        assert_eq!(value(&r, "retention.ms"), (Some("604800000".into()), 5));

        let (code, msg) = alter(
            &mut c,
            v,
            TOPIC,
            &t,
            &[("no.such.config", Some("1"))],
            false,
        );
        assert_eq!(code, INVALID_CONFIG);
        assert_eq!(
            msg.as_deref(),
            Some("Unknown topic config name: no.such.config")
        );
        let (code, msg) = alter(
            &mut c,
            v,
            TOPIC,
            &t,
            &[("retention.ms", Some("soon"))],
            false,
        );
        assert_eq!(code, INVALID_CONFIG);
        assert!(msg.as_deref().unwrap().contains("retention.ms"), "{msg:?}");
        let (code, msg) = alter(
            &mut c,
            v,
            TOPIC,
            &t,
            &[("segment.bytes", Some("10"))],
            false,
        );
        assert_eq!(code, INVALID_CONFIG);
        assert!(msg.as_deref().unwrap().contains("segment.bytes"), "{msg:?}");
        let (code, msg) = alter(&mut c, v, TOPIC, &t, &[("retention.ms", None)], false);
        assert_eq!(code, INVALID_REQUEST);
        assert_eq!(
            msg.as_deref(),
            Some("Null value not supported for : retention.ms")
        );
        // Nothing of a failed alter was applied.
        let r = describe(&mut c, TOPIC, &t);
        assert_eq!(value(&r, "max.message.bytes"), (Some("2000".into()), 1));

        // validate_only checks without applying.
        assert_eq!(
            alter(
                &mut c,
                v,
                TOPIC,
                &t,
                &[("retention.bytes", Some("5000"))],
                true
            ),
            (0, None)
        );
        assert_eq!(
            alter(
                &mut c,
                v,
                TOPIC,
                &t,
                &[("retention.bytes", Some("x"))],
                true
            )
            .0,
            INVALID_CONFIG
        );
        let r = describe(&mut c, TOPIC, &t);
        assert_eq!(value(&r, "retention.bytes").1, 5);
        assert_eq!(value(&r, "max.message.bytes").1, 1);

        assert_eq!(alter(&mut c, v, TOPIC, "missing", &[], false).0, 3);
        let (code, msg) = alter(
            &mut c,
            v,
            BROKER,
            "1",
            &[("log.retention.ms", Some("1"))],
            false,
        );
        assert_eq!(code, INVALID_REQUEST);
        assert_eq!(
            msg.as_deref(),
            Some("Cannot update these configs dynamically: Set(log.retention.ms)")
        );
        assert_eq!(
            alter(
                &mut c,
                v,
                BROKER,
                "9",
                &[("log.retention.ms", Some("1"))],
                false
            )
            .0,
            INVALID_REQUEST
        );
    }
}

#[test]
fn incremental_alter_configs_ops_at_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    for v in 0..=1 {
        let t = format!("iac{v}");
        create(&mut c, &t, &[("retention.ms", "60000")]);
        let ok = incremental(
            &mut c,
            v,
            TOPIC,
            &t,
            &[
                ("max.message.bytes", SET, Some("3000")),
                ("retention.ms", DELETE, None),
                ("cleanup.policy", APPEND, Some("delete")),
            ],
            false,
        );
        assert_eq!(ok, (0, None), "v{v}");
        let r = describe(&mut c, TOPIC, &t);
        assert_eq!(value(&r, "max.message.bytes"), (Some("3000".into()), 1));
        assert_eq!(value(&r, "retention.ms"), (Some("604800000".into()), 5));
        assert_eq!(value(&r, "cleanup.policy"), (Some("delete".into()), 1));
        // SUBTRACT of an absent item keeps the list; DELETE of a name never set is a no-op.
        assert_eq!(
            incremental(
                &mut c,
                v,
                TOPIC,
                &t,
                &[
                    ("cleanup.policy", SUBTRACT, Some("compact")),
                    ("segment.ms", DELETE, None)
                ],
                false
            ),
            (0, None)
        );
        let r = describe(&mut c, TOPIC, &t);
        assert_eq!(value(&r, "cleanup.policy"), (Some("delete".into()), 1));

        let (code, msg) = incremental(
            &mut c,
            v,
            TOPIC,
            &t,
            &[("retention.ms", APPEND, Some("5"))],
            false,
        );
        assert_eq!(code, INVALID_CONFIG);
        assert_eq!(
            msg.as_deref(),
            Some("Can't APPEND to key retention.ms because its type is not LIST.")
        );
        let (code, msg) = incremental(
            &mut c,
            v,
            TOPIC,
            &t,
            &[("segment.bytes", SUBTRACT, Some("5"))],
            false,
        );
        assert_eq!(code, INVALID_CONFIG);
        assert_eq!(
            msg.as_deref(),
            Some("Can't SUBTRACT to key segment.bytes because its type is not LIST.")
        );
        // One bad value fails the whole resource.
        let (code, msg) = incremental(
            &mut c,
            v,
            TOPIC,
            &t,
            &[
                ("retention.bytes", SET, Some("7000")),
                ("flush.messages", SET, Some("0")),
            ],
            false,
        );
        assert_eq!(code, INVALID_CONFIG);
        assert!(
            msg.as_deref().unwrap().contains("flush.messages"),
            "{msg:?}"
        );
        let (code, msg) = incremental(&mut c, v, TOPIC, &t, &[("bogus", SET, Some("1"))], false);
        assert_eq!(
            (code, msg.as_deref()),
            (INVALID_CONFIG, Some("Unknown topic config name: bogus"))
        );
        let (code, _) = incremental(&mut c, v, TOPIC, &t, &[("retention.ms", SET, None)], false);
        assert_eq!(code, INVALID_REQUEST);
        let r = describe(&mut c, TOPIC, &t);
        assert_eq!(value(&r, "retention.bytes").1, 5);

        // validate_only.
        assert_eq!(
            incremental(
                &mut c,
                v,
                TOPIC,
                &t,
                &[("retention.bytes", SET, Some("7000"))],
                true
            ),
            (0, None)
        );
        let r = describe(&mut c, TOPIC, &t);
        assert_eq!(value(&r, "retention.bytes").1, 5);

        assert_eq!(incremental(&mut c, v, TOPIC, "gone", &[], false).0, 3);
        let (code, msg) = incremental(
            &mut c,
            v,
            BROKER,
            "",
            &[("message.max.bytes", SET, Some("5"))],
            false,
        );
        assert_eq!(code, INVALID_REQUEST);
        assert_eq!(
            msg.as_deref(),
            Some("Cannot update these configs dynamically: Set(message.max.bytes)")
        );
    }
}

#[test]
fn altered_configs_survive_restart() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "kept", &[]);
    assert_eq!(
        incremental(
            &mut c,
            1,
            TOPIC,
            "kept",
            &[
                ("retention.ms", SET, Some("123456")),
                ("max.message.bytes", SET, Some("500"))
            ],
            false
        ),
        (0, None)
    );
    drop(c);
    b.stop();
    b.spawn();
    let mut c = b.client();
    let r = describe(&mut c, TOPIC, "kept");
    assert_eq!(value(&r, "retention.ms"), (Some("123456".into()), 1));
    assert_eq!(value(&r, "max.message.bytes"), (Some("500".into()), 1));
    // And the reloaded log enforces it.
    assert_eq!(
        produce(
            &mut c,
            "kept",
            batch(100, "big", now_ms(), Compression::None)
        ),
        10
    );
}

#[test]
fn dynamic_max_message_bytes_applies_at_once() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "mmb", &[]);
    let big = batch(100, "big", now_ms(), Compression::None);
    assert!(big.len() > 1000);
    assert_eq!(produce(&mut c, "mmb", big.clone()), 0);
    assert_eq!(
        incremental(
            &mut c,
            1,
            TOPIC,
            "mmb",
            &[("max.message.bytes", SET, Some("1000"))],
            false
        ),
        (0, None)
    );
    assert_eq!(produce(&mut c, "mmb", big.clone()), 10, "MESSAGE_TOO_LARGE");
    assert_eq!(
        produce(&mut c, "mmb", batch(1, "s", now_ms(), Compression::None)),
        0
    );
    assert_eq!(alter(&mut c, 2, TOPIC, "mmb", &[], false), (0, None));
    assert_eq!(produce(&mut c, "mmb", big), 0);
}

#[test]
fn dynamic_retention_ms_deletes_old_segments() {
    let b = Broker::start(&["log.retention.check.interval.ms=100"]);
    let mut c = b.client();
    create(&mut c, "ret", &[("segment.bytes", "1024")]);
    for _ in 0..10 {
        assert_eq!(
            produce(
                &mut c,
                "ret",
                batch(5, "o", now_ms() - 7_200_000, Compression::None)
            ),
            0
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        log_start_offset(&mut c, "ret"),
        0,
        "default retention keeps 2h-old records"
    );
    assert_eq!(
        incremental(
            &mut c,
            1,
            TOPIC,
            "ret",
            &[("retention.ms", SET, Some("1000"))],
            false
        ),
        (0, None)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while log_start_offset(&mut c, "ret") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let start = log_start_offset(&mut c, "ret");
    assert!(start > 0 && start <= 50, "start {start}");
}

/// Every topic config of Kafka 3.9's LogConfig is accepted with Kafka's types and ranges and
/// described with its value, the deprecated and no-op ones included (message.format.version
/// from old tooling); values out of Kafka's ranges are INVALID_CONFIG.
#[test]
fn every_kafka_topic_config_is_accepted_and_described() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let set: &[(&str, &str)] = &[
        ("message.format.version", "2.8"),
        ("message.downconversion.enable", "false"),
        ("segment.index.bytes", "4096"),
        ("segment.jitter.ms", "100"),
        ("file.delete.delay.ms", "1000"),
        ("preallocate", "true"),
        ("compression.type", "zstd"),
        ("compression.gzip.level", "9"),
        ("compression.lz4.level", "17"),
        ("compression.zstd.level", "-5"),
        ("message.timestamp.difference.max.ms", "1000"),
        ("message.timestamp.before.max.ms", "2000"),
        ("message.timestamp.after.max.ms", "3000"),
        ("leader.replication.throttled.replicas", "0:1,1:1"),
        ("follower.replication.throttled.replicas", "*"),
        ("remote.storage.enable", "false"),
        ("local.retention.ms", "-2"),
        ("local.retention.bytes", "1000"),
        ("remote.log.copy.disable", "true"),
        ("remote.log.delete.on.disable", "true"),
    ];
    create(&mut c, "all-configs", set);
    let r = describe(&mut c, 2, "all-configs");
    for (k, v) in set {
        assert_eq!(value(&r, k), (Some(v.to_string()), 1), "{k}");
    }
    // Defaults of the no-op ones, as Kafka describes them.
    create(&mut c, "defaults", &[]);
    let r = describe(&mut c, 2, "defaults");
    assert_eq!(
        value(&r, "message.format.version").0.as_deref(),
        Some("3.0-IV1")
    );
    assert_eq!(value(&r, "compression.zstd.level").0.as_deref(), Some("3"));
    assert_eq!(value(&r, "compression.lz4.level").0.as_deref(), Some("9"));
    assert_eq!(value(&r, "compression.gzip.level").0.as_deref(), Some("-1"));
    assert_eq!(value(&r, "local.retention.ms").0.as_deref(), Some("-2"));
    for (k, v) in [
        ("message.format.version", "banana"),
        ("segment.index.bytes", "3"),
        ("compression.gzip.level", "0"),
        ("remote.storage.enable", "true"),
        ("leader.replication.throttled.replicas", "x:y"),
        ("local.retention.ms", "-3"),
        ("preallocate", "maybe"),
    ] {
        let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s("bad")))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(vec![CreatableTopicConfig::default()
                .with_name(s(k))
                .with_value(Some(s(v)))])]);
        let r: CreateTopicsResponse = c.call(7, &req);
        assert_eq!(r.topics[0].error_code, INVALID_CONFIG, "{k}={v}");
    }
}
