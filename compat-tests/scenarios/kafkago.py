"""kafka-go scenarios: Debian 12's github.com/segmentio/kafka-go 0.2.1
(golang-github-segmentio-kafka-go-dev), an old client on purpose: its Writer produces with
Produce v2 (magic-1 message sets, compressed by its codec packages), its Reader fetches with
Fetch v2 and ListOffsets v1, its groups use JoinGroup v1, SyncGroup v0, OffsetCommit v2 and
OffsetFetch v1, and Conn's admin calls CreateTopics v0, DeleteTopics v1 and Metadata v1."""

from common import boot, boot_groups, boot_noauto, confluent_create_topic, eq, main, topic_name
from golib import check_stored, run

N = 50


def writer_reader(codec):
    def scenario():
        t = topic_name(f"kafkago-{codec}")
        confluent_create_topic(t, 1)
        eq(run("kafkago-compat", [boot(), "write", t, N, codec]), [f"written: {N}"], "Writer")
        check_stored(boot(), t, codec)
        out = run("kafkago-compat", [boot(), "read", t, N])
        eq(out, [f"{i}|k{i}|v{i}" for i in range(N)], "records the Reader read")
    return scenario


def group():
    """A Reader with a GroupID reads everything and commits; a second Reader in the group reads
    exactly what was written since."""
    b = boot_groups()
    t = topic_name("kafkago-group")
    confluent_create_topic(t, 1, bootstrap=b)
    run("kafkago-compat", [b, "write", t, 20, "snappy"])
    g = topic_name("kafkago-g")
    out = run("kafkago-compat", [b, "group", t, g, 20], timeout=90)
    eq(out, sorted(f"0|{i}|k{i}|v{i}" for i in range(20)), "records the group read")
    run("kafkago-compat", [b, "write", t, 5, "none"])
    out = run("kafkago-compat", [b, "group", t, g, 5], timeout=90)
    eq(out, sorted(f"0|{20 + i}|k{i}|v{i}" for i in range(5)), "records the group read from its committed offset")


def conn_admin():
    """Conn's calls on the broker without auto-creation (Metadata v1 would re-create the deleted
    topic otherwise, as Kafka does)."""
    t = topic_name("kafkago-conn")
    out = run("kafkago-compat", [boot_noauto(), "conn", t])
    eq(out, [
        "create: <nil>",
        "create again: <nil>",  # kafka-go 0.2 treats TOPIC_ALREADY_EXISTS as success
        "partitions: [0 1 2] leader=1",
        "offsets: first=0 last=3",
        "read: 1|two",
        "read: 2|three",
        "delete: <nil>",
        "after delete: 0 partitions, <nil>",  # kafka-go 0.2 ignores the topic's error code
    ], "Conn results")


SCENARIOS = {
    **{f"writer_reader_{c}": writer_reader(c) for c in ["none", "gzip", "snappy", "lz4"]},
    "group": group,
    "conn_admin": conn_admin,
}

if __name__ == "__main__":
    main(SCENARIOS)
