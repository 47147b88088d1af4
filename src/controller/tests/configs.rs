use super::*;
use crate::controller::errors::*;

fn op(name: &str, op: AlterConfigOp, value: Option<&str>) -> AlterableConfig {
    AlterableConfig {
        name: name.into(),
        op,
        value: value.map(str::to_string),
    }
}

fn topic_res(name: &str) -> ConfigResource {
    ConfigResource::Topic(name.into())
}

fn config(resource: &ConfigResource, name: &str, value: Option<&str>) -> MetadataRecord {
    MetadataRecord::Config {
        resource: resource.clone(),
        name: name.into(),
        value: value.map(str::to_string),
    }
}

fn incremental(
    c: &Cluster,
    resource: ConfigResource,
    ops: Vec<AlterableConfig>,
) -> ControllerResult<Vec<ConfigResourceResult>> {
    c.c.incremental_alter_configs(
        &c.image,
        &[IncrementalAlterResource {
            resource,
            configs: ops,
        }],
        false,
    )
}

fn setup() -> Cluster {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    c.create("t", &[&[1, 2]]);
    c
}

#[test]
fn incremental_alter_sets_deletes_appends_and_subtracts_topic_configs() {
    let mut c = setup();
    let t = topic_res("t");
    let r = incremental(
        &c,
        t.clone(),
        vec![
            op("retention.ms", AlterConfigOp::Set, Some("1000")),
            op("cleanup.policy", AlterConfigOp::Append, Some("compact")),
        ],
    );
    assert_eq!(r.response[0].result, Ok(()));
    assert_eq!(
        r.records,
        vec![
            config(&t, "retention.ms", Some("1000")),
            config(&t, "cleanup.policy", Some("delete,compact")),
        ]
    );
    c.commit(&r.records);
    assert_eq!(
        c.image.topic_configs("t").get("cleanup.policy").unwrap(),
        "delete,compact"
    );
    let r = incremental(
        &c,
        t.clone(),
        vec![
            op("retention.ms", AlterConfigOp::Delete, None),
            op("cleanup.policy", AlterConfigOp::Subtract, Some("delete")),
        ],
    );
    assert_eq!(
        r.records,
        vec![
            config(&t, "retention.ms", None),
            config(&t, "cleanup.policy", Some("compact")),
        ]
    );
    c.commit(&r.records);
    assert_eq!(
        c.image
            .topic_configs("t")
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        vec![("cleanup.policy", "compact")]
    );
    // Setting a value it already has writes nothing.
    let r = incremental(
        &c,
        t,
        vec![op("cleanup.policy", AlterConfigOp::Set, Some("compact"))],
    );
    assert_eq!((r.records, r.response[0].result.clone()), (vec![], Ok(())));
}

#[test]
fn invalid_topic_config_changes_write_nothing() {
    let c = setup();
    let cases = vec![
        (
            topic_res("t"),
            vec![
                op("retention.ms", AlterConfigOp::Set, Some("1")),
                op("segment.bytes", AlterConfigOp::Set, Some("x")),
            ],
            ApiError::new(
                INVALID_CONFIG,
                "Invalid value x for configuration segment.bytes: expected an integer",
            ),
        ),
        (
            topic_res("t"),
            vec![op("nope", AlterConfigOp::Set, Some("1"))],
            ApiError::new(INVALID_CONFIG, "Unknown topic config name: nope"),
        ),
        (
            topic_res("t"),
            vec![op("retention.ms", AlterConfigOp::Append, Some("1"))],
            ApiError::new(
                INVALID_CONFIG,
                "Can't APPEND to key retention.ms because its type is not LIST.",
            ),
        ),
        (
            topic_res("gone"),
            vec![op("retention.ms", AlterConfigOp::Set, Some("1"))],
            ApiError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                "The topic 'gone' does not exist.",
            ),
        ),
    ];
    for (resource, ops, expected) in cases {
        let r = incremental(&c, resource, ops);
        assert_eq!(r.records, vec![]);
        assert_eq!(r.response[0].result, Err(expected));
    }
}

#[test]
fn broker_configs_are_written_even_when_unchanged_for_known_brokers_only() {
    let mut c = setup();
    let b = ConfigResource::Broker(2);
    let r = incremental(
        &c,
        b.clone(),
        vec![op("log.retention.ms", AlterConfigOp::Set, Some("5"))],
    );
    assert_eq!(r.records, vec![config(&b, "log.retention.ms", Some("5"))]);
    c.commit(&r.records);
    let again = incremental(
        &c,
        b.clone(),
        vec![op("log.retention.ms", AlterConfigOp::Set, Some("5"))],
    );
    assert_eq!(
        again.records,
        vec![config(&b, "log.retention.ms", Some("5"))]
    );
    let default = ConfigResource::Broker(-1);
    let r = incremental(
        &c,
        default.clone(),
        vec![op(
            "log.cleanup.policy",
            AlterConfigOp::Append,
            Some("compact"),
        )],
    );
    assert_eq!(
        r.records,
        vec![config(
            &default,
            "log.cleanup.policy",
            Some("delete,compact")
        )]
    );
    let cases = vec![
        (
            ConfigResource::Broker(9),
            op("log.retention.ms", AlterConfigOp::Set, Some("5")),
            ApiError::new(BROKER_ID_NOT_REGISTERED, "No node with id 9 found."),
        ),
        (
            b.clone(),
            op("no.such.config", AlterConfigOp::Set, Some("5")),
            ApiError::new(INVALID_CONFIG, "Unknown broker config name: no.such.config"),
        ),
        (
            b,
            op("log.retention.ms", AlterConfigOp::Set, Some("soon")),
            ApiError::new(
                INVALID_CONFIG,
                "Invalid value soon for configuration log.retention.ms: expected an integer",
            ),
        ),
    ];
    for (resource, op, expected) in cases {
        let r = incremental(&c, resource, vec![op]);
        assert_eq!(r.records, vec![]);
        assert_eq!(r.response[0].result, Err(expected));
    }
}

#[test]
fn alter_configs_replaces_the_whole_set() {
    let mut c = setup();
    let t = topic_res("t");
    let r = incremental(
        &c,
        t.clone(),
        vec![
            op("retention.ms", AlterConfigOp::Set, Some("1000")),
            op("segment.ms", AlterConfigOp::Set, Some("2000")),
        ],
    );
    c.commit(&r.records);
    let r = c.c.alter_configs(
        &c.image,
        &[(
            t.clone(),
            vec![
                ("retention.ms".into(), "1000".into()),
                ("segment.bytes".into(), "1048576".into()),
            ],
        )],
        false,
    );
    assert_eq!(r.response[0].result, Ok(()));
    assert_eq!(
        r.records,
        vec![
            config(&t, "segment.bytes", Some("1048576")),
            config(&t, "segment.ms", None),
        ]
    );
    c.commit(&r.records);
    assert_eq!(c.image.topic_configs("t").len(), 2);
    // Invalid: nothing is written; validate-only: nothing is written either.
    let bad = c.c.alter_configs(
        &c.image,
        &[(t.clone(), vec![("segment.bytes".into(), "big".into())])],
        false,
    );
    assert_eq!(
        (
            bad.records.len(),
            bad.response[0].result.clone().unwrap_err().code
        ),
        (0, INVALID_CONFIG)
    );
    let dry = c.c.alter_configs(&c.image, &[(t, vec![])], true);
    assert_eq!(
        (dry.records, dry.response[0].result.clone()),
        (vec![], Ok(()))
    );
}

#[test]
fn one_resource_failing_does_not_fail_the_others() {
    let c = setup();
    let r = c.c.incremental_alter_configs(
        &c.image,
        &[
            IncrementalAlterResource {
                resource: topic_res("gone"),
                configs: vec![op("retention.ms", AlterConfigOp::Set, Some("1"))],
            },
            IncrementalAlterResource {
                resource: topic_res("t"),
                configs: vec![op("retention.ms", AlterConfigOp::Set, Some("1"))],
            },
        ],
        false,
    );
    assert_eq!(
        r.response[0].result.clone().unwrap_err().code,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(r.response[1].result, Ok(()));
    assert_eq!(
        r.records,
        vec![config(&topic_res("t"), "retention.ms", Some("1"))]
    );
    assert_eq!(AlterConfigOp::from_i8(3), Some(AlterConfigOp::Subtract));
    assert_eq!(AlterConfigOp::from_i8(4), None);
}

#[test]
fn group_configs_are_validated_by_type_and_broker_limits_and_written_only_when_valid() {
    let mut c = setup();
    let g = ConfigResource::Group("sg".into());
    let r = incremental(
        &c,
        g.clone(),
        vec![
            op(
                "share.auto.offset.reset",
                AlterConfigOp::Set,
                Some("by_duration:PT1H"),
            ),
            op("share.delivery.count.limit", AlterConfigOp::Set, Some("10")),
            op(
                "skua.share.record.filter",
                AlterConfigOp::Set,
                Some("TagA || TagB"),
            ),
            op(
                "errors.deadletterqueue.topic.name",
                AlterConfigOp::Set,
                Some("dlq.sg"),
            ),
        ],
    );
    assert_eq!(r.response[0].result, Ok(()));
    assert_eq!(
        r.records,
        vec![
            config(&g, "share.auto.offset.reset", Some("by_duration:PT1H")),
            config(&g, "share.delivery.count.limit", Some("10")),
            config(&g, "skua.share.record.filter", Some("TagA || TagB")),
            config(&g, "errors.deadletterqueue.topic.name", Some("dlq.sg")),
        ]
    );
    c.commit(&r.records);

    // Each refusal: INVALID_CONFIG with Kafka's message, and no record at all.
    for (name, value, message) in [
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
            "skua.share.redelivery.backoff.ms",
            "1,2,x",
            "Invalid value 1,2,x for configuration skua.share.redelivery.backoff.ms: 'x' is not \
             a non-negative integer number of milliseconds",
        ),
        (
            "share.heartbeat.interval.ms",
            "abc",
            "Invalid value abc for configuration share.heartbeat.interval.ms: Not a number of \
             type INT",
        ),
        (
            "share.nonsense",
            "1",
            "Unknown group config name: share.nonsense",
        ),
    ] {
        let r = incremental(
            &c,
            g.clone(),
            vec![
                op(
                    "share.isolation.level",
                    AlterConfigOp::Set,
                    Some("read_committed"),
                ),
                op(name, AlterConfigOp::Set, Some(value)),
            ],
        );
        assert_eq!(
            r.response[0].result,
            Err(ApiError::new(INVALID_CONFIG, message)),
            "{name}={value}"
        );
        assert_eq!(r.records, vec![], "{name}={value}");
    }

    // A stored override that a later change leaves alone still counts: DELETE of another one
    // keeps the group valid.
    let r = incremental(
        &c,
        g.clone(),
        vec![op("skua.share.record.filter", AlterConfigOp::Delete, None)],
    );
    assert_eq!(r.response[0].result, Ok(()));
    assert_eq!(
        r.records,
        vec![config(&g, "skua.share.record.filter", None)]
    );
}

#[test]
fn group_config_limits_come_from_the_controller_config() {
    let mut limits = crate::config::GroupConfigLimits {
        dlq_topic_name_prefix: String::new(),
        ..Default::default()
    };
    limits.bounds.insert("share.delivery.count.limit", (2, 3));
    let mut c = Cluster::with(ControllerConfig {
        group_config_limits: limits,
        ..super::config()
    });
    c.start(&[1]);
    let g = ConfigResource::Group("sg".into());
    let r = incremental(
        &c,
        g.clone(),
        vec![op(
            "errors.deadletterqueue.topic.name",
            AlterConfigOp::Set,
            Some("orders-dlq"),
        )],
    );
    assert_eq!(
        (r.response[0].result.clone(), r.records),
        (
            Ok(()),
            vec![config(
                &g,
                "errors.deadletterqueue.topic.name",
                Some("orders-dlq")
            )]
        )
    );
    let r = incremental(
        &c,
        g,
        vec![op(
            "share.delivery.count.limit",
            AlterConfigOp::Set,
            Some("4"),
        )],
    );
    assert_eq!(
        r.response[0].result,
        Err(ApiError::new(
            INVALID_CONFIG,
            "share.delivery.count.limit must be less than or equal to \
             group.share.max.delivery.count.limit"
        ))
    );
}
