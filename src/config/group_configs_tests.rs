use super::*;
use crate::config::ConfigSources;

fn broker(sets: &[&str]) -> BrokerConfig {
    BrokerConfig::from_sources(&ConfigSources {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .unwrap()
}

fn broker_err(sets: &[&str]) -> ConfigError {
    BrokerConfig::from_sources(&ConfigSources {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .unwrap_err()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tags(t: &[&str]) -> Result<Option<Vec<String>>, String> {
    Ok(Some(t.iter().map(|s| s.to_string()).collect()))
}

#[test]
fn tag_filter_accepts_star_empty_and_tags_joined_by_double_bars() {
    assert_eq!(parse_tag_filter(""), Ok(None));
    assert_eq!(parse_tag_filter("   "), Ok(None));
    assert_eq!(parse_tag_filter("*"), Ok(None));
    assert_eq!(parse_tag_filter(" * "), Ok(None));
    assert_eq!(parse_tag_filter("TagA"), tags(&["TagA"]));
    assert_eq!(parse_tag_filter("TagA || TagB"), tags(&["TagA", "TagB"]));
    assert_eq!(
        parse_tag_filter("TagA||TagB||TagC"),
        tags(&["TagA", "TagB", "TagC"])
    );
    assert_eq!(parse_tag_filter("b || a || b"), tags(&["b", "a"]));
    assert_eq!(parse_tag_filter("order.created"), tags(&["order.created"]));
    let many: Vec<String> = (0..MAX_RECORD_FILTER_TAGS)
        .map(|i| format!("t{i}"))
        .collect();
    assert_eq!(parse_tag_filter(&many.join(" || ")), Ok(Some(many.clone())));
    // Duplicates do not count against the limit.
    assert_eq!(
        parse_tag_filter(&format!("{} || t0", many.join(" || "))),
        Ok(Some(many))
    );
}

#[test]
fn tag_filter_refuses_empty_tags_whitespace_bars_and_star_among_tags() {
    assert_eq!(
        parse_tag_filter("TagA ||"),
        Err("'TagA ||' has an empty tag (tags are joined by ||, e.g. TagA || TagB)".into())
    );
    assert_eq!(
        parse_tag_filter("|| TagA"),
        Err("'|| TagA' has an empty tag (tags are joined by ||, e.g. TagA || TagB)".into())
    );
    assert_eq!(
        parse_tag_filter("Tag A"),
        Err(
            "tag 'Tag A' contains whitespace or '|' (tags are joined by ||, e.g. TagA || TagB)"
                .into()
        )
    );
    assert_eq!(
        parse_tag_filter("TagA | TagB"),
        Err(
            "tag 'TagA | TagB' contains whitespace or '|' (tags are joined by ||, e.g. TagA || TagB)"
                .into()
        )
    );
    assert_eq!(
        parse_tag_filter("TagA|||TagB"),
        Err(
            "tag '|TagB' contains whitespace or '|' (tags are joined by ||, e.g. TagA || TagB)"
                .into()
        )
    );
    assert_eq!(
        parse_tag_filter("* || TagA"),
        Err("'* || TagA': * matches every record and cannot be combined with tags".into())
    );
    let long = "x".repeat(MAX_RECORD_FILTER_TAG_BYTES);
    assert_eq!(parse_tag_filter(&long), tags(&[long.as_str()]));
    assert_eq!(
        parse_tag_filter(&format!("a || {long}x")),
        Err("a tag is at most 255 bytes long, not 256".into())
    );
    let too_many: Vec<String> = (0..=MAX_RECORD_FILTER_TAGS)
        .map(|i| format!("t{i}"))
        .collect();
    assert_eq!(
        parse_tag_filter(&too_many.join("||")),
        Err("at most 64 tags".into())
    );
}

#[test]
fn durations_parse_as_java_duration_parse() {
    assert_eq!(parse_duration_ms("PT1H"), Ok(3_600_000));
    assert_eq!(parse_duration_ms("pt1h"), Ok(3_600_000));
    assert_eq!(parse_duration_ms("P1DT2H30M"), Ok(95_400_000));
    assert_eq!(parse_duration_ms("P2D"), Ok(172_800_000));
    assert_eq!(parse_duration_ms("PT0.5S"), Ok(500));
    assert_eq!(parse_duration_ms("PT1,5S"), Ok(1_500));
    assert_eq!(parse_duration_ms("PT1.S"), Ok(1_000));
    assert_eq!(parse_duration_ms("PT1.123456789S"), Ok(1_123));
    assert_eq!(parse_duration_ms("PT0S"), Ok(0));
    assert_eq!(parse_duration_ms("PT15M"), Ok(900_000));
    assert_eq!(parse_duration_ms("+PT2S"), Ok(2_000));
    // Signed sections, as Java: -1 day + 25 hours is one hour.
    assert_eq!(parse_duration_ms("P-1DT25H"), Ok(3_600_000));
    assert_eq!(parse_duration_ms("PT1H-30M"), Ok(1_800_000));
    assert_eq!(parse_duration_ms("PT+1M"), Ok(60_000));
}

#[test]
fn durations_refuse_negative_malformed_and_overflowing_text() {
    let not = |t: &str| {
        Err(format!(
            "'{t}' is not an ISO-8601 duration (PnDTnHnMn.nS, e.g. PT1H, P1DT2H30M, PT0.5S)"
        ))
    };
    for t in [
        "",
        "P",
        "PT",
        "P1DT",
        "1H",
        "PT1H ",
        " PT1H",
        "P1H",
        "PT1S1M",
        "PT1.1234567890S",
        "PTH",
        "PT1.5",
        "P1W",
        "PT1H1H",
        "PT-S",
        "PT1.-5S",
    ] {
        assert_eq!(parse_duration_ms(t), not(t), "{t}");
    }
    assert_eq!(
        parse_duration_ms("-PT1H"),
        Err("negative duration -PT1H is not allowed".into())
    );
    assert_eq!(
        parse_duration_ms("PT-0.5S"),
        Err("negative duration PT-0.5S is not allowed".into())
    );
    assert_eq!(
        parse_duration_ms("P9223372036854775807D"),
        Err("duration P9223372036854775807D is too large".into())
    );
    assert_eq!(
        parse_duration_ms("PT99999999999999999999S"),
        not("PT99999999999999999999S")
    );
    // Within Java's Duration but not a long of milliseconds.
    assert_eq!(
        parse_duration_ms("PT9223372036854775807S"),
        Err("duration PT9223372036854775807S is too long".into())
    );
}

#[test]
fn auto_offset_reset_is_earliest_latest_or_by_duration() {
    assert_eq!(
        parse_auto_offset_reset("earliest"),
        Ok(AutoOffsetReset::Earliest)
    );
    assert_eq!(
        parse_auto_offset_reset(" latest "),
        Ok(AutoOffsetReset::Latest)
    );
    assert_eq!(
        parse_auto_offset_reset("by_duration:PT1H"),
        Ok(AutoOffsetReset::ByDuration(3_600_000))
    );
    assert_eq!(
        parse_auto_offset_reset("by_duration:P1DT2H30M"),
        Ok(AutoOffsetReset::ByDuration(95_400_000))
    );
    let kafka = "The value must be either 'earliest', 'latest' or of the format \
                 'by_duration:<PnDTnHnMn.nS.>'.";
    for v in [
        "sideways",
        "Earliest",
        "none",
        "by_duration",
        "BY_DURATION:PT1H",
        "",
    ] {
        assert_eq!(parse_auto_offset_reset(v), Err(kafka.to_string()), "{v}");
    }
    assert_eq!(
        parse_auto_offset_reset("by_duration:-PT1H"),
        Err("by_duration: negative duration -PT1H is not allowed".into())
    );
    assert_eq!(
        parse_auto_offset_reset("by_duration:1h"),
        Err(
            "by_duration: '1h' is not an ISO-8601 duration (PnDTnHnMn.nS, e.g. PT1H, P1DT2H30M, \
             PT0.5S)"
                .into()
        )
    );
}

#[test]
fn redelivery_backoff_is_a_bounded_list_of_milliseconds() {
    assert_eq!(parse_redelivery_backoff(""), Ok(vec![]));
    assert_eq!(parse_redelivery_backoff("  "), Ok(vec![]));
    assert_eq!(
        parse_redelivery_backoff("0,1000, 5000 ,86400000"),
        Ok(vec![0, 1000, 5000, 86_400_000])
    );
    let max: Vec<String> = (0..32).map(|i| i.to_string()).collect();
    assert_eq!(
        parse_redelivery_backoff(&max.join(",")),
        Ok((0..32).collect::<Vec<u64>>())
    );
    assert_eq!(
        parse_redelivery_backoff(&format!("{},1", max.join(","))),
        Err("at most 32 backoffs, not 33".into())
    );
    assert_eq!(
        parse_redelivery_backoff("86400001"),
        Err("a backoff of 86400001 ms is above the maximum of 86400000 (one day)".into())
    );
    for (v, entry) in [
        ("-1", "-1"),
        ("1,,2", ""),
        ("1,", ""),
        ("a", "a"),
        ("+5", "+5"),
        ("1.5", "1.5"),
        ("99999999999999999999", "99999999999999999999"),
    ] {
        assert_eq!(
            parse_redelivery_backoff(v),
            Err(format!(
                "'{entry}' is not a non-negative integer number of milliseconds"
            )),
            "{v}"
        );
    }
}

#[test]
fn dlq_topic_names_follow_the_prefix_and_topic_rules() {
    assert_eq!(check_dlq_topic_name("", "dlq."), Ok(None));
    assert_eq!(check_dlq_topic_name(" ", "dlq."), Ok(None));
    assert_eq!(
        check_dlq_topic_name("dlq.orders", "dlq."),
        Ok(Some("dlq.orders".into()))
    );
    assert_eq!(
        check_dlq_topic_name("orders-dlq", ""),
        Ok(Some("orders-dlq".into()))
    );
    let internal =
        Err("a dead-letter queue topic name cannot start with '__' (internal topics)".into());
    assert_eq!(check_dlq_topic_name("__x", "dlq."), internal);
    assert_eq!(check_dlq_topic_name("__dlq.x", "__dlq."), internal);
    assert_eq!(check_dlq_topic_name("__x", ""), internal);
    assert_eq!(
        check_dlq_topic_name("orders", "dlq."),
        Err(
            "a dead-letter queue topic name must start with 'dlq.' (the broker's \
             errors.deadletterqueue.topic.name.prefix)"
                .into()
        )
    );
    assert_eq!(
        check_dlq_topic_name("dlq.a/b", "dlq."),
        Err(
            "Topic name dlq.a/b is illegal, it contains a character other than ASCII \
             alphanumerics, '.', '_' and '-'"
                .into()
        )
    );
    let long = format!("dlq.{}", "x".repeat(246));
    assert_eq!(
        check_dlq_topic_name(&long, "dlq."),
        Err(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {long}"
        ))
    );
    assert_eq!(
        check_dlq_topic_name("..", ""),
        Err("Topic name cannot be \".\" or \"..\"".into())
    );
}

#[test]
fn bounded_group_configs_are_checked_against_the_broker_limits() {
    let l = GroupConfigLimits::default();
    let check = |k: &str, v: &str| validate_group_configs(&map(&[(k, v)]), &l);
    assert_eq!(check(SHARE_DELIVERY_COUNT_LIMIT, "10"), Ok(()));
    assert_eq!(check(SHARE_DELIVERY_COUNT_LIMIT, "2"), Ok(()));
    assert_eq!(
        check(SHARE_DELIVERY_COUNT_LIMIT, "11"),
        Err("share.delivery.count.limit must be less than or equal to group.share.max.delivery.count.limit".into())
    );
    assert_eq!(
        check(SHARE_DELIVERY_COUNT_LIMIT, "1"),
        Err("share.delivery.count.limit must be greater than or equal to group.share.min.delivery.count.limit".into())
    );
    assert_eq!(
        check(SHARE_RECORD_LOCK_DURATION_MS, "14999"),
        Err("share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms".into())
    );
    assert_eq!(check(SHARE_RECORD_LOCK_DURATION_MS, " 60000 "), Ok(()));
    assert_eq!(
        check(SHARE_PARTITION_MAX_RECORD_LOCKS, "10001"),
        Err("share.partition.max.record.locks must be less than or equal to group.share.max.partition.max.record.locks".into())
    );
    assert_eq!(check(SHARE_PARTITION_MAX_RECORD_LOCKS, "100"), Ok(()));
    assert_eq!(
        check(SHARE_SESSION_TIMEOUT_MS, "60001"),
        Err("share.session.timeout.ms must be less than or equal to group.share.max.session.timeout.ms".into())
    );
    assert_eq!(
        check(SHARE_HEARTBEAT_INTERVAL_MS, "4999"),
        Err("share.heartbeat.interval.ms must be greater than or equal to group.share.min.heartbeat.interval.ms".into())
    );
    assert_eq!(
        check(CONSUMER_SESSION_TIMEOUT_MS, "44999"),
        Err("consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms".into())
    );
    for v in ["abc", "1.5", "", "2147483648"] {
        assert_eq!(
            check(SHARE_DELIVERY_COUNT_LIMIT, v),
            Err(format!(
                "Invalid value {v} for configuration share.delivery.count.limit: Not a number of type INT"
            ))
        );
    }
    // The broker's own bounds, whatever they are.
    let l = GroupConfigLimits::of(&broker(&[
        "group.share.min.delivery.count.limit=3",
        "group.share.max.delivery.count.limit=4",
        "group.share.delivery.count.limit=3",
    ]));
    assert_eq!(l.bounds.get(SHARE_DELIVERY_COUNT_LIMIT), Some(&(3, 4)));
    assert_eq!(
        l.broker_values
            .get(SHARE_DELIVERY_COUNT_LIMIT)
            .map(String::as_str),
        Some("3")
    );
    let check = |k: &str, v: &str| validate_group_configs(&map(&[(k, v)]), &l);
    assert_eq!(check(SHARE_DELIVERY_COUNT_LIMIT, "4"), Ok(()));
    assert!(check(SHARE_DELIVERY_COUNT_LIMIT, "5").is_err());
    assert!(check(SHARE_DELIVERY_COUNT_LIMIT, "2").is_err());
}

#[test]
fn session_timeouts_must_exceed_heartbeat_intervals_override_or_broker_value() {
    // Wide bounds so that only the pair rule can refuse.
    let l = GroupConfigLimits::of(&broker(&[
        "group.share.min.session.timeout.ms=1000",
        "group.share.session.timeout.ms=10000",
        "group.share.max.heartbeat.interval.ms=60000",
        "group.consumer.min.session.timeout.ms=1000",
        "group.consumer.session.timeout.ms=10000",
        "group.consumer.max.heartbeat.interval.ms=60000",
    ]));
    let v = |pairs: &[(&str, &str)]| validate_group_configs(&map(pairs), &l);
    assert_eq!(v(&[(SHARE_HEARTBEAT_INTERVAL_MS, "9999")]), Ok(()));
    assert_eq!(
        v(&[(SHARE_HEARTBEAT_INTERVAL_MS, "10000")]),
        Err("share.session.timeout.ms must be greater than share.heartbeat.interval.ms".into())
    );
    assert_eq!(
        v(&[
            (SHARE_HEARTBEAT_INTERVAL_MS, "20000"),
            (SHARE_SESSION_TIMEOUT_MS, "30000")
        ]),
        Ok(())
    );
    assert_eq!(
        v(&[
            (SHARE_SESSION_TIMEOUT_MS, "5000"),
            (SHARE_HEARTBEAT_INTERVAL_MS, "5000")
        ]),
        Err("share.session.timeout.ms must be greater than share.heartbeat.interval.ms".into())
    );
    assert_eq!(
        v(&[(CONSUMER_HEARTBEAT_INTERVAL_MS, "10000")]),
        Err(
            "consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms"
                .into()
        )
    );
}

#[test]
fn typed_group_configs_are_validated_with_kafka_messages() {
    let l = GroupConfigLimits::default();
    let check = |k: &str, v: &str| validate_group_configs(&map(&[(k, v)]), &l);
    assert_eq!(
        check("share.no.such", "1"),
        Err("Unknown group config name: share.no.such".into())
    );
    assert_eq!(check(SHARE_AUTO_OFFSET_RESET, "earliest"), Ok(()));
    assert_eq!(check(SHARE_AUTO_OFFSET_RESET, "by_duration:PT0.5S"), Ok(()));
    assert_eq!(
        check(SHARE_AUTO_OFFSET_RESET, "sideways"),
        Err(
            "Invalid value sideways for configuration share.auto.offset.reset: The value must be \
             either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS.>'."
                .into()
        )
    );
    assert_eq!(check(SHARE_ISOLATION_LEVEL, "read_committed"), Ok(()));
    assert_eq!(
        check(SHARE_ISOLATION_LEVEL, "READ_COMMITTED"),
        Err(
            "Invalid value READ_COMMITTED for configuration share.isolation.level: String must \
             be one of: read_committed, read_uncommitted"
                .into()
        )
    );
    assert_eq!(check(DLQ_TOPIC_NAME, "dlq.x"), Ok(()));
    assert_eq!(check(DLQ_TOPIC_NAME, ""), Ok(()));
    assert_eq!(
        check(DLQ_TOPIC_NAME, "__x"),
        Err(
            "Invalid value __x for configuration errors.deadletterqueue.topic.name: a dead-letter \
             queue topic name cannot start with '__' (internal topics)"
                .into()
        )
    );
    assert_eq!(
        check(DLQ_TOPIC_NAME, "orders"),
        Err(
            "Invalid value orders for configuration errors.deadletterqueue.topic.name: a \
             dead-letter queue topic name must start with 'dlq.' (the broker's \
             errors.deadletterqueue.topic.name.prefix)"
                .into()
        )
    );
    let no_prefix = GroupConfigLimits::of(&broker(&["errors.deadletterqueue.topic.name.prefix="]));
    assert_eq!(no_prefix.dlq_topic_name_prefix, "");
    assert_eq!(
        validate_group_configs(&map(&[(DLQ_TOPIC_NAME, "orders")]), &no_prefix),
        Ok(())
    );
    for b in [DLQ_COPY_RECORD_ENABLE, SKUA_DELAYED_DELIVERY_ENABLE] {
        assert_eq!(check(b, "TRUE"), Ok(()));
        assert_eq!(check(b, "false"), Ok(()));
        assert_eq!(
            check(b, "yes"),
            Err(format!(
                "Invalid value yes for configuration {b}: Expected value to be either true or false"
            ))
        );
    }
    assert_eq!(check(SKUA_REDELIVERY_BACKOFF_MS, "1000,5000"), Ok(()));
    assert_eq!(
        check(SKUA_REDELIVERY_BACKOFF_MS, "1000,-5"),
        Err(
            "Invalid value 1000,-5 for configuration skua.share.redelivery.backoff.ms: '-5' is \
             not a non-negative integer number of milliseconds"
                .into()
        )
    );
    assert_eq!(check(SKUA_RECORD_FILTER, "TagA || TagB"), Ok(()));
    assert_eq!(
        check(SKUA_RECORD_FILTER, "TagA ||"),
        Err(
            "Invalid value TagA || for configuration skua.share.record.filter: 'TagA ||' has an \
             empty tag (tags are joined by ||, e.g. TagA || TagB)"
                .into()
        )
    );
}

#[test]
fn the_table_is_consistent_with_the_broker_configs() {
    let l = GroupConfigLimits::default();
    let mut names: Vec<&str> = GROUP_CONFIGS.iter().map(|d| d.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), GROUP_CONFIGS.len());
    for d in GROUP_CONFIGS {
        assert_eq!(
            validate_group_config(d.name, d.default, &l),
            Ok(()),
            "{}",
            d.name
        );
        if let Some(b) = d.broker_synonym {
            let bd = broker_config_def(b).unwrap();
            assert_eq!(bd.default, Some(d.default), "{}", d.name);
            assert_eq!(bd.kind, d.kind, "{}", d.name);
        }
        match d.check {
            GroupCheck::Within {
                min_broker,
                max_broker,
            } => {
                assert_eq!(d.kind, ConfigType::Int);
                assert!(d.broker_synonym.is_some(), "{}", d.name);
                assert_eq!(broker_config_def(min_broker).unwrap().kind, ConfigType::Int);
                assert_eq!(broker_config_def(max_broker).unwrap().kind, ConfigType::Int);
            }
            GroupCheck::Boolean => assert_eq!(d.kind, ConfigType::Boolean),
            GroupCheck::BackoffList => assert_eq!(d.kind, ConfigType::List),
            _ => assert_eq!(d.kind, ConfigType::Str),
        }
    }
}

#[test]
fn group_config_value_is_override_then_broker_then_default() {
    let c = broker(&["group.share.record.lock.duration.ms=20000"]);
    let o = map(&[
        (SHARE_DELIVERY_COUNT_LIMIT, "7"),
        (SKUA_RECORD_FILTER, "A||B"),
    ]);
    let v = |name: &str, o: Option<&BTreeMap<String, String>>| group_config_value(&c, o, name);
    assert_eq!(
        v(SHARE_DELIVERY_COUNT_LIMIT, Some(&o)).as_deref(),
        Some("7")
    );
    assert_eq!(v(SHARE_DELIVERY_COUNT_LIMIT, None).as_deref(), Some("5"));
    assert_eq!(
        v(SHARE_RECORD_LOCK_DURATION_MS, Some(&o)).as_deref(),
        Some("20000")
    );
    assert_eq!(v(SKUA_RECORD_FILTER, Some(&o)).as_deref(), Some("A||B"));
    assert_eq!(v(SKUA_RECORD_FILTER, None).as_deref(), Some(""));
    assert_eq!(v(SHARE_AUTO_OFFSET_RESET, None).as_deref(), Some("latest"));
    assert_eq!(
        v(SHARE_ISOLATION_LEVEL, Some(&o)).as_deref(),
        Some("read_uncommitted")
    );
    assert_eq!(v("share.no.such", Some(&o)), None);
    assert_eq!(v("group.share.delivery.count.limit", None), None);
}

fn kafka_defaults() -> ShareGroupSettings {
    ShareGroupSettings {
        session_timeout_ms: 45_000,
        heartbeat_interval_ms: 5_000,
        record_lock_duration_ms: 30_000,
        delivery_count_limit: 5,
        partition_max_record_locks: 2_000,
        auto_offset_reset: AutoOffsetReset::Latest,
        read_committed: false,
        dlq_topic: None,
        dlq_copy_record: false,
        redelivery_backoff_ms: vec![],
        delayed_delivery: false,
        record_filter: None,
    }
}

#[test]
fn share_group_settings_take_overrides_then_broker_values_then_defaults() {
    assert_eq!(ShareGroupSettings::default(), kafka_defaults());
    let plain = broker(&[]);
    assert_eq!(
        ShareGroupSettings::effective(&plain, None),
        kafka_defaults()
    );
    assert_eq!(
        ShareGroupSettings::effective(&plain, Some(&BTreeMap::new())),
        kafka_defaults()
    );

    let c = broker(&[
        "group.share.session.timeout.ms=50000",
        "group.share.record.lock.duration.ms=20000",
    ]);
    let o = map(&[
        (SHARE_HEARTBEAT_INTERVAL_MS, "6000"),
        (SHARE_DELIVERY_COUNT_LIMIT, "3"),
        (SHARE_PARTITION_MAX_RECORD_LOCKS, "500"),
        (SHARE_AUTO_OFFSET_RESET, "by_duration:PT1H"),
        (SHARE_ISOLATION_LEVEL, "read_committed"),
        (DLQ_TOPIC_NAME, "dlq.orders"),
        (DLQ_COPY_RECORD_ENABLE, "true"),
        (SKUA_REDELIVERY_BACKOFF_MS, "1000, 5000"),
        (SKUA_DELAYED_DELIVERY_ENABLE, "TRUE"),
        (SKUA_RECORD_FILTER, "TagA || TagB"),
    ]);
    assert_eq!(
        ShareGroupSettings::effective(&c, Some(&o)),
        ShareGroupSettings {
            session_timeout_ms: 50_000,
            heartbeat_interval_ms: 6_000,
            record_lock_duration_ms: 20_000,
            delivery_count_limit: 3,
            partition_max_record_locks: 500,
            auto_offset_reset: AutoOffsetReset::ByDuration(3_600_000),
            read_committed: true,
            dlq_topic: Some("dlq.orders".into()),
            dlq_copy_record: true,
            redelivery_backoff_ms: vec![1000, 5000],
            delayed_delivery: true,
            record_filter: Some(vec!["TagA".into(), "TagB".into()]),
        }
    );
}

#[test]
fn share_group_settings_skip_overrides_that_do_not_parse() {
    let c = broker(&["group.share.delivery.count.limit=4"]);
    let o = map(&[
        (SHARE_DELIVERY_COUNT_LIMIT, "many"),
        (SHARE_AUTO_OFFSET_RESET, "sideways"),
        (SHARE_ISOLATION_LEVEL, "serializable"),
        (DLQ_TOPIC_NAME, "__bad"),
        (DLQ_COPY_RECORD_ENABLE, "maybe"),
        (SKUA_REDELIVERY_BACKOFF_MS, "1,x"),
        (SKUA_RECORD_FILTER, "a b"),
    ]);
    assert_eq!(
        ShareGroupSettings::effective(&c, Some(&o)),
        ShareGroupSettings {
            delivery_count_limit: 4,
            ..kafka_defaults()
        }
    );
}

#[test]
fn broker_share_settings_parse_with_kafka_defaults() {
    let c = broker(&[]);
    assert_eq!(
        c.group_share,
        ShareGroupBrokerConfig {
            session_timeout_ms: 45_000,
            min_session_timeout_ms: 45_000,
            max_session_timeout_ms: 60_000,
            heartbeat_interval_ms: 5_000,
            min_heartbeat_interval_ms: 5_000,
            max_heartbeat_interval_ms: 15_000,
            record_lock_duration_ms: 30_000,
            min_record_lock_duration_ms: 15_000,
            max_record_lock_duration_ms: 60_000,
            delivery_count_limit: 5,
            min_delivery_count_limit: 2,
            max_delivery_count_limit: 10,
            partition_max_record_locks: 2_000,
            min_partition_max_record_locks: 100,
            max_partition_max_record_locks: 10_000,
            max_size: 200,
            max_share_sessions: 2_000,
            dlq_topic_name_prefix: "dlq.".into(),
            dlq_auto_create_topics_enable: false,
        }
    );
    let c = broker(&[
        "group.share.delivery.count.limit=8",
        "group.share.max.size=10",
        "errors.deadletterqueue.topic.name.prefix=dead.",
        "errors.deadletterqueue.auto.create.topics.enable=true",
    ]);
    assert_eq!(c.group_share.delivery_count_limit, 8);
    assert_eq!(c.group_share.max_size, 10);
    assert_eq!(c.group_share.dlq_topic_name_prefix, "dead.");
    assert!(c.group_share.dlq_auto_create_topics_enable);
    assert_eq!(GroupConfigLimits::of(&c).dlq_topic_name_prefix, "dead.");
    // The group coordinator's share settings are the broker's.
    let c = broker(&[
        "group.share.session.timeout.ms=50000",
        "group.share.heartbeat.interval.ms=6000",
        "group.share.max.size=10",
    ]);
    let share = c.group_config().share;
    assert_eq!(
        (
            share.session_timeout_ms,
            share.heartbeat_interval_ms,
            share.max_size,
            share.overrides.len()
        ),
        (50_000, 6_000, 10, 0)
    );
}

#[test]
fn broker_share_settings_refuse_values_outside_their_bounds() {
    let between = |name: &str, v: &str, reason: &str| ConfigError::Invalid {
        name: name.into(),
        value: v.into(),
        reason: reason.into(),
    };
    assert_eq!(
        broker_err(&["group.share.record.lock.duration.ms=70000"]),
        between(
            "group.share.record.lock.duration.ms",
            "70000",
            "must be between group.share.min.record.lock.duration.ms (15000) and \
             group.share.max.record.lock.duration.ms (60000)"
        )
    );
    assert_eq!(
        broker_err(&["group.share.min.session.timeout.ms=50000"]),
        between(
            "group.share.session.timeout.ms",
            "45000",
            "must be between group.share.min.session.timeout.ms (50000) and \
             group.share.max.session.timeout.ms (60000)"
        )
    );
    assert_eq!(
        broker_err(&[
            "group.share.min.session.timeout.ms=1000",
            "group.share.session.timeout.ms=8000",
            "group.share.min.heartbeat.interval.ms=1000",
            "group.share.heartbeat.interval.ms=8000",
        ]),
        between(
            "group.share.heartbeat.interval.ms",
            "8000",
            "must be less than group.share.session.timeout.ms (8000)"
        )
    );
    // The consumer triples keep their checks.
    assert_eq!(
        broker_err(&["group.consumer.session.timeout.ms=1000"]),
        between(
            "group.consumer.session.timeout.ms",
            "1000",
            "must be between group.consumer.min.session.timeout.ms (45000) and \
             group.consumer.max.session.timeout.ms (60000)"
        )
    );
    // Kafka's fixed ranges of the limits themselves.
    assert_eq!(
        broker_err(&["group.share.max.delivery.count.limit=11"]),
        between(
            "group.share.max.delivery.count.limit",
            "11",
            "must be between 2 and 10"
        )
    );
    assert_eq!(
        broker_err(&["group.share.min.partition.max.record.locks=99"]),
        between(
            "group.share.min.partition.max.record.locks",
            "99",
            "must be at least 100"
        )
    );
    assert_eq!(
        broker_err(&["group.share.max.partition.max.record.locks=10001"]),
        between(
            "group.share.max.partition.max.record.locks",
            "10001",
            "must be between 100 and 10000"
        )
    );
    assert_eq!(
        broker_err(&["group.share.max.size=1001"]),
        between("group.share.max.size", "1001", "must be between 1 and 1000")
    );
    assert_eq!(
        broker_err(&["errors.deadletterqueue.auto.create.topics.enable=yes"]),
        between(
            "errors.deadletterqueue.auto.create.topics.enable",
            "yes",
            "expected true or false"
        )
    );
}
