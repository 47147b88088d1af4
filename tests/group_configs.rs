//! The GROUP config resource (KIP-848's group configs): per-group `consumer.session.timeout.ms`
//! and `consumer.heartbeat.interval.ms` set and described through IncrementalAlterConfigs /
//! DescribeConfigs (raw requests and librdkafka's AdminClient), bounded by the broker's
//! `group.consumer.min/max.*`, reaching the group's members, persisted across a restart; and
//! the share-group ones (KIP-932 `share.*`, KIP-1191 `errors.deadletterqueue.*`, skua's
//! `skua.share.*`): typed in DescribeConfigs, validated with Kafka's INVALID_CONFIG messages.

mod common;

use std::time::Duration;

use common::{Broker, Client};
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, GroupId, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

const GROUP: i8 = 32;
const SET: i8 = 0;
const DELETE: i8 = 1;
const INVALID_CONFIG: i16 = 40;
const UNKNOWN_MEMBER_ID: i16 = 25;
/// DescribeConfigs' ConfigSource for a group override (Kafka's GROUP_CONFIG).
const SOURCE_GROUP: i8 = 8;
/// DescribeConfigs' ConfigSource for a broker config given at start-up.
const SOURCE_STATIC_BROKER: i8 = 4;

const SETS: &[&str] = &[
    "num.partitions=2",
    "group.consumer.heartbeat.interval.ms=300",
    "group.consumer.min.heartbeat.interval.ms=100",
    "group.consumer.session.timeout.ms=6000",
    "group.consumer.min.session.timeout.ms=1000",
];

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn alter(c: &mut Client, group: &str, ops: &[(&str, i8, Option<&str>)]) -> (i16, String) {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(GROUP)
            .with_resource_name(s(group))
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
    assert_eq!(r.responses.len(), 1);
    assert_eq!(r.responses[0].resource_type, GROUP);
    assert_eq!(r.responses[0].resource_name.as_str(), group);
    (
        r.responses[0].error_code,
        r.responses[0]
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    )
}

/// name → (value, source) of a group's configs, as DescribeConfigs v4 answers.
fn describe(c: &mut Client, group: &str) -> Vec<(String, Option<String>, i8)> {
    let req =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(GROUP)
            .with_resource_name(s(group))]);
    let r: DescribeConfigsResponse = c.call(4, &req);
    assert_eq!(r.results.len(), 1);
    assert_eq!(
        r.results[0].error_code, 0,
        "{:?}",
        r.results[0].error_message
    );
    r.results[0]
        .configs
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                e.value.as_ref().map(|v| v.to_string()),
                e.config_source,
            )
        })
        .collect()
}

/// The consumer-group entries of a description (every group config is listed; the share-group
/// ones are checked by `share_group_configs_are_typed_validated_and_described`).
fn consumer(d: Vec<(String, Option<String>, i8)>) -> Vec<(String, Option<String>, i8)> {
    d.into_iter()
        .filter(|(name, _, _)| name.starts_with("consumer."))
        .collect()
}

fn join(c: &mut Client, group: &str, member: &str) -> ConsumerGroupHeartbeatResponse {
    let req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(5000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("cfg-topic"))]))
        .with_topic_partitions(Some(Vec::<TopicPartitions>::new()));
    let r: ConsumerGroupHeartbeatResponse = c.call(1, &req);
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    r
}

fn heartbeat(c: &mut Client, group: &str, member: &str, epoch: i32) -> i16 {
    let req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(epoch);
    let r: ConsumerGroupHeartbeatResponse = c.call(1, &req);
    r.error_code
}

#[test]
fn group_overrides_are_validated_described_applied_to_members_and_persisted() {
    let mut b = Broker::start(SETS);
    let mut c = b.client();
    c.create_topic("cfg-topic", 2);

    // Out of the broker's bounds, unknown names, session <= heartbeat: INVALID_CONFIG, nothing set.
    let (code, msg) = alter(
        &mut c,
        "g-cfg",
        &[("consumer.session.timeout.ms", SET, Some("500"))],
    );
    assert_eq!(code, INVALID_CONFIG, "{msg}");
    assert!(
        msg.contains("group.consumer.min.session.timeout.ms"),
        "{msg}"
    );
    let (code, msg) = alter(&mut c, "g-cfg", &[("consumer.nonsense", SET, Some("1"))]);
    assert_eq!(code, INVALID_CONFIG, "{msg}");
    let (code, msg) = alter(
        &mut c,
        "g-cfg",
        &[
            ("consumer.session.timeout.ms", SET, Some("2000")),
            ("consumer.heartbeat.interval.ms", SET, Some("2000")),
        ],
    );
    assert_eq!(code, INVALID_CONFIG, "{msg}");
    // Nothing was stored by the refused requests: the broker values, as given at start-up.
    let d = describe(&mut c, "g-cfg");
    assert_eq!(
        consumer(d),
        vec![
            (
                "consumer.session.timeout.ms".to_string(),
                Some("6000".to_string()),
                SOURCE_STATIC_BROKER
            ),
            (
                "consumer.heartbeat.interval.ms".to_string(),
                Some("300".to_string()),
                SOURCE_STATIC_BROKER
            ),
        ]
    );

    // Valid overrides: described as the group's, with source GROUP_CONFIG.
    let (code, msg) = alter(
        &mut c,
        "g-cfg",
        &[
            ("consumer.session.timeout.ms", SET, Some("2000")),
            ("consumer.heartbeat.interval.ms", SET, Some("700")),
        ],
    );
    assert_eq!(code, 0, "{msg}");
    let d = describe(&mut c, "g-cfg");
    assert_eq!(
        consumer(d),
        vec![
            (
                "consumer.session.timeout.ms".to_string(),
                Some("2000".to_string()),
                SOURCE_GROUP
            ),
            (
                "consumer.heartbeat.interval.ms".to_string(),
                Some("700".to_string()),
                SOURCE_GROUP
            ),
        ]
    );

    // The members of that group get its heartbeat interval; another group the broker's.
    let r = join(&mut c, "g-cfg", "m-cfg");
    assert_eq!(r.heartbeat_interval_ms, 700);
    let r = join(&mut c, "g-plain", "m-plain");
    assert_eq!(r.heartbeat_interval_ms, 300);
    // ...and its session timeout: 3 s without a heartbeat expires the g-cfg member (2 s)
    // but not the g-plain one (6 s).
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(heartbeat(&mut c, "g-plain", "m-plain", 1), 0);
    assert_eq!(heartbeat(&mut c, "g-cfg", "m-cfg", 1), UNKNOWN_MEMBER_ID);

    // DELETE drops one override: the broker's value is back for it.
    let (code, msg) = alter(
        &mut c,
        "g-cfg",
        &[("consumer.heartbeat.interval.ms", DELETE, None)],
    );
    assert_eq!(code, 0, "{msg}");
    let r = join(&mut c, "g-cfg", "m-cfg-2");
    assert_eq!(r.heartbeat_interval_ms, 300);

    // The remaining override survives a restart.
    b.stop();
    b.spawn();
    let mut c = b.client();
    let d = describe(&mut c, "g-cfg");
    assert_eq!(
        d[0],
        (
            "consumer.session.timeout.ms".to_string(),
            Some("2000".to_string()),
            SOURCE_GROUP
        )
    );
    assert_eq!(
        d[1],
        (
            "consumer.heartbeat.interval.ms".to_string(),
            Some("300".to_string()),
            SOURCE_STATIC_BROKER
        )
    );
}

#[test]
fn librdkafka_admin_alters_and_describes_group_configs() {
    let b = Broker::start(SETS);
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", b.addr())
        .create()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));

    // AlterConfigs (librdkafka's non-incremental form replaces the group's overrides).
    let res = rt
        .block_on(
            admin.alter_configs(
                &[AlterConfig::new(ResourceSpecifier::Group("g-rdk"))
                    .set("consumer.heartbeat.interval.ms", "900")],
                &opts,
            ),
        )
        .unwrap();
    assert_eq!(res.len(), 1);
    assert!(res[0].is_ok(), "{:?}", res[0]);

    // (The rdkafka crate's describe_configs refuses Kafka's config source 8, GROUP_CONFIG, that
    // Kafka itself answers for a group override: described with a raw request instead.)
    let mut c = b.client();
    let d = describe(&mut c, "g-rdk");
    assert_eq!(
        consumer(d),
        vec![
            (
                "consumer.session.timeout.ms".to_string(),
                Some("6000".to_string()),
                SOURCE_STATIC_BROKER
            ),
            (
                "consumer.heartbeat.interval.ms".to_string(),
                Some("900".to_string()),
                SOURCE_GROUP
            ),
        ]
    );

    // Out of bounds: refused (the rdkafka crate drops AlterConfigs' per-resource errors, so the
    // refusal shows as the unchanged override; the raw test checks the INVALID_CONFIG code).
    let res = rt
        .block_on(
            admin.alter_configs(
                &[AlterConfig::new(ResourceSpecifier::Group("g-rdk"))
                    .set("consumer.heartbeat.interval.ms", "50")],
                &opts,
            ),
        )
        .unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(describe(&mut c, "g-rdk")[1].1.as_deref(), Some("900"));

    // A consumer-protocol member of the group is told the override.
    c.create_topic("cfg-topic", 2);
    assert_eq!(join(&mut c, "g-rdk", "m-rdk").heartbeat_interval_ms, 900);
}

/// name → (value, source, type) of every config of a group, as DescribeConfigs v4 answers.
fn describe_typed(c: &mut Client, group: &str) -> Vec<(String, Option<String>, i8, i8)> {
    let req =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(GROUP)
            .with_resource_name(s(group))]);
    let r: DescribeConfigsResponse = c.call(4, &req);
    assert_eq!(r.results.len(), 1);
    assert_eq!(
        r.results[0].error_code, 0,
        "{:?}",
        r.results[0].error_message
    );
    r.results[0]
        .configs
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                e.value.as_ref().map(|v| v.to_string()),
                e.config_source,
                e.config_type,
            )
        })
        .collect()
}

/// DescribeConfigs' ConfigSource for a config at its default (no broker synonym set).
const SOURCE_DEFAULT: i8 = 5;
/// DescribeConfigs' ConfigType ids (KIP-569).
const BOOLEAN: i8 = 1;
const STRING: i8 = 2;
const INT: i8 = 3;
const LIST: i8 = 7;

fn entry(name: &str, value: &str, source: i8, kind: i8) -> (String, Option<String>, i8, i8) {
    (name.to_string(), Some(value.to_string()), source, kind)
}

/// Every group config as a group with the given share overrides has it on the SETS broker.
fn expected_share_description(
    auto_offset_reset: (&str, i8),
    record_filter: (&str, i8),
    dlq_topic: (&str, i8),
) -> Vec<(String, Option<String>, i8, i8)> {
    vec![
        entry(
            "consumer.session.timeout.ms",
            "6000",
            SOURCE_STATIC_BROKER,
            INT,
        ),
        entry(
            "consumer.heartbeat.interval.ms",
            "300",
            SOURCE_STATIC_BROKER,
            INT,
        ),
        entry("share.session.timeout.ms", "45000", SOURCE_DEFAULT, INT),
        entry("share.heartbeat.interval.ms", "5000", SOURCE_DEFAULT, INT),
        entry(
            "share.record.lock.duration.ms",
            "30000",
            SOURCE_DEFAULT,
            INT,
        ),
        entry("share.delivery.count.limit", "5", SOURCE_DEFAULT, INT),
        entry(
            "share.partition.max.record.locks",
            "2000",
            SOURCE_DEFAULT,
            INT,
        ),
        entry(
            "share.auto.offset.reset",
            auto_offset_reset.0,
            auto_offset_reset.1,
            STRING,
        ),
        entry(
            "share.isolation.level",
            "read_uncommitted",
            SOURCE_DEFAULT,
            STRING,
        ),
        entry(
            "errors.deadletterqueue.topic.name",
            dlq_topic.0,
            dlq_topic.1,
            STRING,
        ),
        entry(
            "errors.deadletterqueue.copy.record.enable",
            "false",
            SOURCE_DEFAULT,
            BOOLEAN,
        ),
        entry("skua.share.redelivery.backoff.ms", "", SOURCE_DEFAULT, LIST),
        entry(
            "skua.share.delayed.delivery.enable",
            "false",
            SOURCE_DEFAULT,
            BOOLEAN,
        ),
        entry(
            "skua.share.record.filter",
            record_filter.0,
            record_filter.1,
            STRING,
        ),
    ]
}

#[test]
fn share_group_configs_are_typed_validated_and_described() {
    let b = Broker::start(SETS);
    let mut c = b.client();

    // Before any override: every group config, with its type, at the broker's value or default.
    assert_eq!(
        describe_typed(&mut c, "g-share"),
        expected_share_description(
            ("latest", SOURCE_DEFAULT),
            ("", SOURCE_DEFAULT),
            ("", SOURCE_DEFAULT)
        )
    );

    let (code, msg) = alter(
        &mut c,
        "g-share",
        &[
            ("share.auto.offset.reset", SET, Some("earliest")),
            ("skua.share.record.filter", SET, Some("TagA || TagB")),
            ("errors.deadletterqueue.topic.name", SET, Some("dlq.x")),
        ],
    );
    assert_eq!((code, msg.as_str()), (0, ""));
    let set = expected_share_description(
        ("earliest", SOURCE_GROUP),
        ("TagA || TagB", SOURCE_GROUP),
        ("dlq.x", SOURCE_GROUP),
    );
    assert_eq!(describe_typed(&mut c, "g-share"), set);

    // Refusals: INVALID_CONFIG (40) with Kafka's message, and nothing of the request applied
    // (each carries a valid change as well).
    let refusals: &[(&str, &str, &str)] = &[
        (
            "share.delivery.count.limit",
            "11",
            "share.delivery.count.limit must be less than or equal to \
             group.share.max.delivery.count.limit",
        ),
        (
            "share.auto.offset.reset",
            "sideways",
            "Invalid value sideways for configuration share.auto.offset.reset: The value must \
             be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS.>'.",
        ),
        (
            "errors.deadletterqueue.topic.name",
            "__x",
            "Invalid value __x for configuration errors.deadletterqueue.topic.name: a \
             dead-letter queue topic name cannot start with '__' (internal topics)",
        ),
        (
            "share.no.such.config",
            "1",
            "Unknown group config name: share.no.such.config",
        ),
    ];
    for (name, value, message) in refusals {
        let (code, msg) = alter(
            &mut c,
            "g-share",
            &[
                ("share.isolation.level", SET, Some("read_committed")),
                (name, SET, Some(value)),
            ],
        );
        assert_eq!(
            (code, msg.as_str()),
            (INVALID_CONFIG, *message),
            "{name}={value}"
        );
    }
    assert_eq!(describe_typed(&mut c, "g-share"), set);

    // by_duration takes Java's ISO-8601 durations; DELETE returns a config to its default.
    let (code, msg) = alter(
        &mut c,
        "g-share",
        &[
            (
                "share.auto.offset.reset",
                SET,
                Some("by_duration:P1DT2H30M"),
            ),
            ("skua.share.record.filter", DELETE, None),
        ],
    );
    assert_eq!((code, msg.as_str()), (0, ""));
    assert_eq!(
        describe_typed(&mut c, "g-share"),
        expected_share_description(
            ("by_duration:P1DT2H30M", SOURCE_GROUP),
            ("", SOURCE_DEFAULT),
            ("dlq.x", SOURCE_GROUP)
        )
    );
}
