"""Admin APIs of issue 5 with confluent-kafka's AdminClient (librdkafka), and kafka-python's
KafkaAdminClient where confluent-kafka has no call (DescribeLogDirs, partition reassignments);
reported as confluent/admin_api_*.

Kafka's answers as a single-node cluster gives them: CreatePartitions grows a topic (and the new
partitions take records at once), refuses a decrease with INVALID_PARTITIONS and other brokers
with INVALID_REPLICA_ASSIGNMENT; DeleteRecords moves the low watermark (ListOffsets earliest,
consumers from the beginning start there); DescribeCluster names this node as the controller;
ElectLeaders answers ELECTION_NOT_NEEDED; DescribeLogDirs lists per-partition sizes.
"""

from confluent_kafka import Consumer, TopicPartition, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, OffsetSpec

from common import Fail, check, eq, topic_name, boot, main, confluent_create_topic, wait_until
from confluent import producer, produce_all, expect_delivered


def admin():
    return AdminClient({"bootstrap.servers": boot()})


def err_of(fut):
    """None on success, else the KafkaError of a failed admin future."""
    try:
        fut.result(timeout=20)
        return None
    except KafkaException as e:
        return e.args[0]


def partitions_of(a, t):
    md = a.list_topics(topic=t, timeout=5).topics.get(t)
    return None if md is None or md.error is not None else len(md.partitions)


def create_partitions():
    a = admin()
    t = topic_name("cf-grow")
    confluent_create_topic(t, 2)
    eq(err_of(a.create_partitions([NewPartitions(t, 4)], validate_only=True)[t]), None, "validate_only grow")
    eq(partitions_of(a, t), 2, "partitions after validate_only")
    eq(err_of(a.create_partitions([NewPartitions(t, 4)])[t]), None, "grow to 4")
    wait_until(lambda: partitions_of(a, t) == 4, 15, "4 partitions in metadata")
    e = err_of(a.create_partitions([NewPartitions(t, 3)])[t])
    check(e is not None and e.code() == KafkaError.INVALID_PARTITIONS, f"shrink: expected INVALID_PARTITIONS, got {e}")
    check("would not be an increase" in e.str(), f"shrink message: {e.str()}")
    e = err_of(a.create_partitions([NewPartitions(t, 5, replica_assignment=[[2]])])[t])
    check(e is not None and e.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT,
          f"assignment to broker 2: expected INVALID_REPLICA_ASSIGNMENT, got {e}")
    eq(err_of(a.create_partitions([NewPartitions(t, 5, replica_assignment=[[1]])])[t]), None, "grow to 5 on [1]")
    missing = topic_name("cf-missing")
    e = err_of(a.create_partitions([NewPartitions(missing, 3)])[missing])
    check(e is not None and e.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, f"unknown topic: got {e}")
    wait_until(lambda: partitions_of(a, t) == 5, 15, "5 partitions in metadata")
    # the new partitions take records and serve them
    p = producer()
    reps = produce_all(p, t, [{"value": b"p%d" % i, "partition": i} for i in range(5)])
    expect_delivered(reps, "produce to every partition")
    eq(sorted((r[1], r[2]) for r in reps), [(i, 0) for i in range(5)], "(partition, offset) of each record")
    c = Consumer({"bootstrap.servers": boot(), "group.id": topic_name("cf-grow-g"), "enable.auto.commit": False})
    c.assign([TopicPartition(t, 4, 0)])
    got = None
    for _ in range(100):
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            got = m.value()
            break
    c.close()
    eq(got, b"p4", "record read from the new partition 4")


def delete_records():
    a = admin()
    t = topic_name("cf-trim")
    confluent_create_topic(t, 1)
    p = producer()
    expect_delivered(produce_all(p, t, [{"value": b"v%d" % i, "partition": 0} for i in range(20)]), "produce 20")
    res = a.delete_records([TopicPartition(t, 0, 7)])
    fut = next(iter(res.values()))
    r = fut.result(timeout=20)
    eq(r.low_watermark, 7, "low watermark after delete_records(7)")
    lo = a.list_offsets({TopicPartition(t, 0): OffsetSpec.earliest()})
    eq(next(iter(lo.values())).result(timeout=20).offset, 7, "ListOffsets earliest after delete_records")
    hi = a.list_offsets({TopicPartition(t, 0): OffsetSpec.latest()})
    eq(next(iter(hi.values())).result(timeout=20).offset, 20, "ListOffsets latest unchanged")
    # beyond the high watermark
    e = err_of(next(iter(a.delete_records([TopicPartition(t, 0, 21)]).values())))
    check(e is not None and e.code() == KafkaError.OFFSET_OUT_OF_RANGE, f"delete beyond HW: got {e}")
    # a consumer from the beginning starts at the low watermark
    c = Consumer({"bootstrap.servers": boot(), "group.id": topic_name("cf-trim-g"), "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([t])
    offsets = []
    for _ in range(150):
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            offsets.append(m.offset())
            if len(offsets) == 13:
                break
    c.close()
    eq(offsets, list(range(7, 20)), "offsets read from the beginning after delete_records")
    # -1 (OFFSET_END): everything up to the high watermark
    r = next(iter(a.delete_records([TopicPartition(t, 0, -1)]).values())).result(timeout=20)
    eq(r.low_watermark, 20, "low watermark after delete_records(end)")


def describe_cluster():
    a = admin()
    r = a.describe_cluster(include_authorized_operations=True).result(timeout=20)
    eq([n.id for n in r.nodes], [1], "nodes")
    eq(r.controller.id, 1, "controller")
    check(r.cluster_id and len(r.cluster_id) == 22, f"cluster id {r.cluster_id!r}")
    ops = sorted(op.name for op in (r.authorized_operations or []))
    eq(ops, sorted(["CREATE", "ALTER", "DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
                    "IDEMPOTENT_WRITE"]), "cluster authorized operations")
    r = a.describe_cluster().result(timeout=20)
    eq(r.authorized_operations, None, "authorized operations when not asked")


def elect_leaders():
    from confluent_kafka import ElectionType
    a = admin()
    t = topic_name("cf-elect")
    confluent_create_topic(t, 2)
    res = a.elect_leaders(ElectionType.PREFERRED, [TopicPartition(t, 0), TopicPartition(t, 1)]).result(timeout=20)
    got = {(tp.topic, tp.partition): (e.code() if e is not None else None) for tp, e in res.items()}
    eq(got, {(t, 0): KafkaError.ELECTION_NOT_NEEDED, (t, 1): KafkaError.ELECTION_NOT_NEEDED},
       "preferred election results")
    res = a.elect_leaders(ElectionType.PREFERRED, [TopicPartition(t, 9)]).result(timeout=20)
    got = {(tp.topic, tp.partition): (e.code() if e is not None else None) for tp, e in res.items()}
    eq(got, {(t, 9): KafkaError.UNKNOWN_TOPIC_OR_PART}, "election for an unknown partition")


def kp_admin():
    from kafka.admin import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=boot(), request_timeout_ms=15000)


def describe_log_dirs_and_reassignments():
    """kafka-python: DescribeLogDirs sizes, AlterPartitionReassignments to [1] (a no-op) and to
    [2] (INVALID_REPLICA_ASSIGNMENT), ListPartitionReassignments empty."""
    from kafka import TopicPartition as KTP
    from kafka.errors import InvalidReplicationAssignmentError
    t = topic_name("cf-dirs")
    confluent_create_topic(t, 2)
    p = producer()
    expect_delivered(produce_all(p, t, [{"value": b"x" * 100, "partition": 1} for _ in range(10)]), "produce")
    k = kp_admin()
    try:
        dirs = k.describe_log_dirs({t: [0, 1]})
        check(len(dirs) == 1 and len(dirs[0]["log_dirs"]) == 1, f"one broker, one log dir: {dirs}")
        d = dirs[0]["log_dirs"][0]
        eq(d["error_code"], 0, "log dir error")
        sizes = {}
        for topic in d["topics"]:
            for part in topic["partitions"]:
                sizes[(topic["name"], part["partition_index"])] = part["partition_size"]
        eq(sizes[(t, 0)], 0, "size of the empty partition")
        check(sizes[(t, 1)] > 1000, f"size of partition 1: {sizes[(t, 1)]}")
        res = k.alter_partition_reassignments({KTP(t, 0): [1]})
        eq(res, {KTP(t, 0): None}, "reassignment to [1]")
        res = k.alter_partition_reassignments({KTP(t, 1): [2]})
        eq(res, {KTP(t, 1): InvalidReplicationAssignmentError}, "reassignment to [2]")
        eq(k.list_partition_reassignments(), {}, "ongoing reassignments")
    finally:
        k.close()


SCENARIOS = {
    "admin_api_create_partitions": create_partitions,
    "admin_api_delete_records": delete_records,
    "admin_api_describe_cluster": describe_cluster,
    "admin_api_elect_leaders": elect_leaders,
    "admin_api_log_dirs_reassign": describe_log_dirs_and_reassignments,
}

if __name__ == "__main__":
    main(SCENARIOS)
