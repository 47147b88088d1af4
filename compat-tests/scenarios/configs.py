"""confluent-kafka (librdkafka) AdminClient config scenarios: describe_configs, alter_configs,
incremental_alter_configs against skua's DescribeConfigs / AlterConfigs / IncrementalAlterConfigs."""

import time

from confluent_kafka import Producer, KafkaError, KafkaException
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   ResourceType)

from common import Fail, check, eq, topic_name, boot, main, confluent_create_topic


def admin():
    return AdminClient({"bootstrap.servers": boot()})


def describe(a, kind, name, timeout=15):
    res = ConfigResource(kind, name)
    return a.describe_configs([res], request_timeout=timeout)[res].result(timeout)


def topic_configs(a, topic):
    return describe(a, ResourceType.TOPIC, topic)


def src(entry):
    return ConfigSource(entry.source)


def configs_describe():
    a = admin()
    t = topic_name("cfgd")
    confluent_create_topic(t, 1, config={"retention.ms": "60000"})
    c = topic_configs(a, t)
    for name in ("cleanup.policy", "max.message.bytes", "retention.bytes", "segment.bytes", "segment.ms",
                 "min.insync.replicas", "message.timestamp.type"):
        check(name in c, f"{name} not described (got {sorted(c)})")
    eq(c["retention.ms"].value, "60000", "retention.ms value")
    eq(src(c["retention.ms"]), ConfigSource.DYNAMIC_TOPIC_CONFIG, "retention.ms source")
    eq(c["retention.ms"].is_default, False, "retention.ms is_default")
    eq(c["max.message.bytes"].value, "1048588", "max.message.bytes default")
    eq(src(c["max.message.bytes"]), ConfigSource.DEFAULT_CONFIG, "max.message.bytes source")
    eq(c["max.message.bytes"].is_default, True, "max.message.bytes is_default")
    eq(c["segment.bytes"].value, "1073741824", "segment.bytes default")
    eq(c["cleanup.policy"].value, "delete", "cleanup.policy default")
    eq(c["message.timestamp.type"].value, "CreateTime", "message.timestamp.type default")
    check(not any(e.is_sensitive for e in c.values()), "no topic config is sensitive")
    check(not any(e.is_read_only for e in c.values()), "topic configs are not read-only")

    b = describe(a, ResourceType.BROKER, "1")
    eq(b["message.max.bytes"].value, "1048588", "broker message.max.bytes")
    eq(b["num.partitions"].value, "1", "broker num.partitions")
    eq(src(b["num.partitions"]), ConfigSource.DEFAULT_CONFIG, "broker num.partitions source")
    check(b["num.partitions"].is_read_only, "broker configs are read-only")

    res = ConfigResource(ResourceType.TOPIC, topic_name("cfg_missing"))
    fut = a.describe_configs([res], request_timeout=15)[res]
    try:
        fut.result(15)
        raise Fail("describe of an unknown topic succeeded")
    except KafkaException as e:
        eq(e.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART, "unknown topic error")


def configs_alter():
    a = admin()
    t = topic_name("cfga")
    confluent_create_topic(t, 1, config={"retention.ms": "60000"})
    res = ConfigResource(ResourceType.TOPIC, t, set_config={"max.message.bytes": "2000", "retention.bytes": "99999"})
    a.alter_configs([res], request_timeout=15)[res].result(15)
    c = topic_configs(a, t)
    eq((c["max.message.bytes"].value, src(c["max.message.bytes"])), ("2000", ConfigSource.DYNAMIC_TOPIC_CONFIG),
       "max.message.bytes after alter")
    eq(c["retention.bytes"].value, "99999", "retention.bytes after alter")
    # AlterConfigs replaces every override: retention.ms is back to its default.
    eq((c["retention.ms"].value, src(c["retention.ms"])), ("604800000", ConfigSource.DEFAULT_CONFIG),
       "retention.ms after a full replace")

    # validate_only changes nothing
    res = ConfigResource(ResourceType.TOPIC, t, set_config={"max.message.bytes": "3000"})
    a.alter_configs([res], request_timeout=15, validate_only=True)[res].result(15)
    eq(topic_configs(a, t)["max.message.bytes"].value, "2000", "after validate_only")


def configs_incremental():
    a = admin()
    t = topic_name("cfgi")
    confluent_create_topic(t, 1, config={"retention.ms": "60000", "segment.bytes": "1048576"})
    res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry("max.message.bytes", "4000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.APPEND),
    ])
    a.incremental_alter_configs([res], request_timeout=15)[res].result(15)
    c = topic_configs(a, t)
    eq(c["max.message.bytes"].value, "4000", "SET")
    eq((c["retention.ms"].value, src(c["retention.ms"])), ("604800000", ConfigSource.DEFAULT_CONFIG), "DELETE")
    eq((c["cleanup.policy"].value, src(c["cleanup.policy"])), ("delete", ConfigSource.DYNAMIC_TOPIC_CONFIG),
       "APPEND")
    eq(c["segment.bytes"].value, "1048576", "untouched override kept")
    res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SUBTRACT),
    ])
    a.incremental_alter_configs([res], request_timeout=15)[res].result(15)
    eq(topic_configs(a, t)["cleanup.policy"].value, "delete", "SUBTRACT of an absent item")


def expect_error(fut, code, contains, what):
    try:
        fut.result(15)
    except KafkaException as e:
        err = e.args[0]
        eq(err.code(), code, f"{what}: error code")
        check(contains in err.str(), f"{what}: message {err.str()!r} lacks {contains!r}")
        return
    raise Fail(f"{what}: succeeded")


def configs_invalid():
    a = admin()
    t = topic_name("cfgx")
    confluent_create_topic(t, 1)

    def inc(*entries):
        res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=list(entries))
        return a.incremental_alter_configs([res], request_timeout=15)[res]

    expect_error(inc(ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "no.such.config", "unknown name")
    expect_error(inc(ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "retention.ms", "bad value")
    expect_error(inc(ConfigEntry("segment.bytes", "10", incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "segment.bytes", "below range")
    expect_error(inc(ConfigEntry("retention.ms", "5", incremental_operation=AlterConfigOpType.APPEND)),
                 KafkaError.INVALID_CONFIG, "because its type is not LIST", "APPEND to a non-list")
    # One bad entry fails the resource as a whole.
    expect_error(inc(ConfigEntry("retention.bytes", "7000", incremental_operation=AlterConfigOpType.SET),
                     ConfigEntry("flush.messages", "0", incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "flush.messages", "bad entry among good ones")
    c = topic_configs(a, t)
    eq(src(c["retention.bytes"]), ConfigSource.DEFAULT_CONFIG, "nothing applied")

    res = ConfigResource(ResourceType.BROKER, "1", incremental_configs=[
        ConfigEntry("log.retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)])
    expect_error(a.incremental_alter_configs([res], request_timeout=15)[res], KafkaError.INVALID_REQUEST,
                 "Cannot update these configs dynamically", "broker config")


def configs_dynamic_max_message_bytes():
    a = admin()
    t = topic_name("cfgm")
    confluent_create_topic(t, 1)
    p = Producer({"bootstrap.servers": boot(), "enable.idempotence": False, "linger.ms": 0,
                  "message.timeout.ms": 15000, "retries": 0})
    results = []

    def cb(err, _msg):
        results.append(err)

    def send(size):
        results.clear()
        p.produce(t, value=b"x" * size, on_delivery=cb)
        p.flush(20)
        eq(len(results), 1, "one delivery report")
        return results[0]

    eq(send(5000), None, "5000 bytes before the change")
    res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry("max.message.bytes", "2000", incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res], request_timeout=15)[res].result(15)
    err = send(5000)
    check(err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE,
          f"5000 bytes after max.message.bytes=2000: {err}")
    eq(send(100), None, "a small record still goes")
    res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE)])
    a.incremental_alter_configs([res], request_timeout=15)[res].result(15)
    time.sleep(0.1)
    eq(send(5000), None, "5000 bytes after DELETE")


def configs_group():
    """The GROUP config resource (KIP-848 group configs) through incremental_alter_configs and
    describe_configs: overrides described with source GROUP_CONFIG, bounded by the broker's
    group.consumer.min/max.* (defaults: session 45000..60000, heartbeat 5000..15000); the
    share-group ones (KIP-932, KIP-1191, skua.share.*) validated with INVALID_CONFIG."""
    a = admin()
    g = "compat-cfg-group-" + topic_name("g")[-8:]

    def inc(*entries):
        res = ConfigResource(ResourceType.GROUP, g, incremental_configs=list(entries))
        return a.incremental_alter_configs([res], request_timeout=15)[res]

    c = describe(a, ResourceType.GROUP, g)
    eq(sorted(c), sorted([
        "consumer.session.timeout.ms", "consumer.heartbeat.interval.ms",
        "share.session.timeout.ms", "share.heartbeat.interval.ms", "share.record.lock.duration.ms",
        "share.delivery.count.limit", "share.partition.max.record.locks", "share.auto.offset.reset",
        "share.isolation.level", "errors.deadletterqueue.topic.name",
        "errors.deadletterqueue.copy.record.enable", "skua.share.redelivery.backoff.ms",
        "skua.share.delayed.delivery.enable", "skua.share.record.filter",
    ]), "group config names")
    eq((c["consumer.session.timeout.ms"].value, src(c["consumer.session.timeout.ms"])),
       ("45000", ConfigSource.DEFAULT_CONFIG), "session timeout before any override")
    eq((c["consumer.heartbeat.interval.ms"].value, src(c["consumer.heartbeat.interval.ms"])),
       ("5000", ConfigSource.DEFAULT_CONFIG), "heartbeat interval before any override")

    inc(ConfigEntry("consumer.session.timeout.ms", "50000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("consumer.heartbeat.interval.ms", "6000", incremental_operation=AlterConfigOpType.SET)
        ).result(15)
    c = describe(a, ResourceType.GROUP, g)
    eq((c["consumer.session.timeout.ms"].value, src(c["consumer.session.timeout.ms"])),
       ("50000", ConfigSource.GROUP_CONFIG), "session timeout override")
    eq((c["consumer.heartbeat.interval.ms"].value, src(c["consumer.heartbeat.interval.ms"])),
       ("6000", ConfigSource.GROUP_CONFIG), "heartbeat interval override")

    expect_error(inc(ConfigEntry("consumer.session.timeout.ms", "1000", incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "group.consumer.min.session.timeout.ms", "below the broker's minimum")
    expect_error(inc(ConfigEntry("consumer.heartbeat.interval.ms", "20000",
                                 incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "group.consumer.max.heartbeat.interval.ms", "above the broker's maximum")
    expect_error(inc(ConfigEntry("consumer.no.such", "1", incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "consumer.no.such", "unknown group config")

    inc(ConfigEntry("consumer.heartbeat.interval.ms", None, incremental_operation=AlterConfigOpType.DELETE)).result(15)
    c = describe(a, ResourceType.GROUP, g)
    eq((c["consumer.heartbeat.interval.ms"].value, src(c["consumer.heartbeat.interval.ms"])),
       ("5000", ConfigSource.DEFAULT_CONFIG), "heartbeat interval after DELETE")
    eq(c["consumer.session.timeout.ms"].value, "50000", "the other override kept")

    # The share-group configs (KIP-932, KIP-1191's DLQ, skua's extensions), typed and validated.
    eq((c["share.auto.offset.reset"].value, src(c["share.auto.offset.reset"])),
       ("latest", ConfigSource.DEFAULT_CONFIG), "share.auto.offset.reset before any override")
    inc(ConfigEntry("share.auto.offset.reset", "by_duration:PT1H", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("skua.share.record.filter", "TagA || TagB", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("errors.deadletterqueue.topic.name", "dlq.x", incremental_operation=AlterConfigOpType.SET)
        ).result(15)
    c = describe(a, ResourceType.GROUP, g)
    for name, value in [("share.auto.offset.reset", "by_duration:PT1H"),
                        ("skua.share.record.filter", "TagA || TagB"),
                        ("errors.deadletterqueue.topic.name", "dlq.x")]:
        eq((c[name].value, src(c[name])), (value, ConfigSource.GROUP_CONFIG), f"{name} override")
    expect_error(inc(ConfigEntry("share.delivery.count.limit", "11", incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "group.share.max.delivery.count.limit", "above the delivery count maximum")
    expect_error(inc(ConfigEntry("share.auto.offset.reset", "sideways", incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "share.auto.offset.reset", "not a reset strategy")
    expect_error(inc(ConfigEntry("errors.deadletterqueue.topic.name", "__x",
                                 incremental_operation=AlterConfigOpType.SET)),
                 KafkaError.INVALID_CONFIG, "__", "an internal topic as dead-letter queue")


SCENARIOS = {
    "configs_describe": configs_describe,
    "configs_alter": configs_alter,
    "configs_incremental": configs_incremental,
    "configs_invalid": configs_invalid,
    "configs_dynamic_max_message_bytes": configs_dynamic_max_message_bytes,
    "configs_group": configs_group,
}

if __name__ == "__main__":
    main(SCENARIOS)
