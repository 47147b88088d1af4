"""sarama scenarios: Debian 12's github.com/Shopify/sarama 1.22 (golang-github-shopify-sarama-dev),
an old client on purpose. With its default Version (0.8.2.0) it produces with Produce v0 (magic-0
message sets) and consumes with Fetch v0 and ListOffsets v0; at 0.10.2.0 Produce v2 (magic 1) and
Fetch v3; its ConsumerGroup (0.10.2.0 at least) commits with OffsetCommit v2 and fetches with
OffsetFetch v1; ClusterAdmin sends CreateTopics v0/v1, DeleteTopics v0, DescribeConfigs v0."""

from common import boot, boot_groups, confluent_create_topic, eq, main, topic_name
from golib import check_stored, run

N = 50


def produce_consume(version, codec, consume_versions):
    def scenario():
        t = topic_name(f"sarama-{codec}")
        confluent_create_topic(t, 1)
        out = run("sarama-compat", [boot(), "produce", t, N, codec, version])
        eq(out, [f"0|{i}" for i in range(N)], f"partitions|offsets sarama ({version}, {codec}) got back")
        # one message set a request: one v2 batch, with the producer's codec kept
        check_stored(boot(), t, codec)
        for cv in consume_versions:
            out = run("sarama-compat", [boot(), "consume", t, N, cv])
            eq(out, [f"{i}|k{i}|v{i}" for i in range(N)], f"records a sarama {cv} consumer read")
    return scenario


def group_default():
    """A ConsumerGroup with default settings (but 0.10.2.0, the minimum it accepts, and the oldest
    offset for a new group) reads everything, commits on close; the committed offsets are what it
    read; a second run of the group reads exactly what was produced since."""
    b = boot_groups()
    t = topic_name("sarama-group")
    confluent_create_topic(t, 1, bootstrap=b)
    run("sarama-compat", [b, "produce", t, 20, "none", "0.10.2.0"])
    g = topic_name("sarama-g")
    out = run("sarama-compat", [b, "group", t, g, 20], timeout=90)
    eq(out, sorted(f"0|{i}|k{i}|v{i}" for i in range(20)), "records the group read")
    eq(run("sarama-compat", [b, "offsets", g, t, 1]), ["0|20|0"], "offsets the group committed")
    run("sarama-compat", [b, "produce", t, 5, "gzip", "0.10.2.0"])
    out = run("sarama-compat", [b, "group", t, g, 5], timeout=90)
    eq(out, sorted(f"0|{20 + i}|k{i}|v{i}" for i in range(5)), "records the group read from its committed offset")
    eq(run("sarama-compat", [b, "offsets", g, t, 1]), ["0|25|0"], "offsets after the second run")


def admin():
    t = topic_name("sarama-admin")
    out = run("sarama-compat", [boot(), "admin", t])
    eq(out, [
        "create: <nil>",
        "create again: kafka server: Topic with this name already exists.",
        "validate only: <nil>",
        "listed: true partitions=3 rf=1 retention.ms=3600000 validated-listed=false",
        "config: cleanup.policy=delete default=true",
        "config: retention.ms=3600000 default=false",
        f"described: {t} err=0 partitions=[0 1 2]",
        "delete: <nil>",
        "listed after delete: false",
    ], "ClusterAdmin results")


SCENARIOS = {
    # default Version: Produce v0 (magic 0; sarama refuses lz4 below 0.10), read with Fetch v0 and v3
    **{f"v0_{c}": produce_consume("0.8.2.0", c, ["0.8.2.0", "0.10.2.0"]) for c in ["none", "gzip", "snappy"]},
    # 0.10.2.0: Produce v2 (magic 1), read with Fetch v3 (and Fetch v0 but for lz4: Kafka writes
    # magic-0 lz4 with its historical broken header checksum, which sarama's lz4 refuses)
    **{f"v2_{c}": produce_consume("0.10.2.0", c, ["0.10.2.0"] + (["0.8.2.0"] if c != "lz4" else []))
       for c in ["none", "gzip", "snappy", "lz4"]},
    "group_default": group_default,
    "admin": admin,
}

if __name__ == "__main__":
    main(SCENARIOS)
