"""`group_admin`: consumer-group administration through each client's admin API.

A group of two live members (an agent of the same client, client ids adm-1 / adm-2) on a
3-partition topic of 30 records each commits offsets 10 / 20 / 30. Then, through the client's admin
API: ListGroups (with the state where the client shows it), DescribeGroups (state, protocol type,
assignor, members with client ids, hosts and assignments), committed offsets and lag against the end
offsets (20 / 10 / 0), DeleteGroups while a member is active (NON_EMPTY_GROUP), and after both
members left: Empty, deleted, gone from the list, offsets gone, a second delete GROUP_ID_NOT_FOUND.
"""

import asyncio
import struct

from common import check, eq, topic_name, boot_groups, confluent_create_topic
from grouplib import Agent, cons, wait_stable, split_ok, produce, stop_agents, group_name, SHORT, committed

N = 30
COMMIT = {0: 10, 1: 20, 2: 30}
LAG = {p: N - o for p, o in COMMIT.items()}
HOST = "/127.0.0.1"  # Kafka reports the member's address with a leading slash (InetAddress.toString)


def read_all_owned(states, topic):
    """Every member has read all N records of each partition it owns."""
    for s in states:
        for p in s.parts():
            if {r[2] for r in s.recs if r[1] == p} != set(range(N)):
                return False
    return True


def setup(client):
    b = boot_groups()
    t = topic_name(f"{SHORT[client]}-admin")
    confluent_create_topic(t, 3, bootstrap=b)
    g = group_name(client, "admin")
    produce(b, t, {p: N for p in range(3)})
    A = Agent(client, [cons("adm-1", g, [t], commit="manual"), cons("adm-2", g, [t], commit="manual")], b, "A")
    ss = [A["adm-1"], A["adm-2"]]
    wait_stable(lambda: split_ok(ss, t, 3) and read_all_owned(ss, t), 40,
                "two members owning the 3 partitions, each having read its partitions")
    for s in ss:
        ev = A.commit(s.name, [(t, p, COMMIT[p], None) for p in s.parts()])
        check(ev["ok"], f"{s.name}: OffsetCommit {COMMIT} failed: {ev['error']}")
    eq({p: o for p, (o, _m) in committed(client, b, g, t, 3).items()}, COMMIT, "committed offsets after the commits")
    members = {s.name: (HOST, s.parts()) for s in ss}
    member_ids = sorted(s.member for s in ss)
    return b, t, g, A, ss, members, member_ids


def leave(A, ss):
    for s in ss:
        A.close(s.name)


# ----------------------------------------------------------------------------- confluent-kafka

def admin_confluent():
    from confluent_kafka import (Consumer, TopicPartition, KafkaException, KafkaError, ConsumerGroupState,
                                 ConsumerGroupTopicPartitions)
    from confluent_kafka.admin import AdminClient
    b, t, g, A, ss, members, member_ids = setup("confluent")
    a = AdminClient({"bootstrap.servers": b})
    try:
        def listing(states=None):
            kw = {"states": states} if states else {}
            res = a.list_consumer_groups(request_timeout=15, **kw).result(timeout=20)
            check(not res.errors, f"ListGroups errors: {res.errors}")
            return {x.group_id: (x.state.name, x.is_simple_consumer_group) for x in res.valid}

        eq(listing().get(g), ("STABLE", False), "ListGroups: (state, simple?) of the group")
        check(g in listing({ConsumerGroupState.STABLE}), "ListGroups with states=[Stable] misses the group")
        check(g not in listing({ConsumerGroupState.EMPTY}), "ListGroups with states=[Empty] lists the active group")

        def describe():
            return a.describe_consumer_groups([g], request_timeout=15)[g].result(timeout=20)
        d = describe()
        eq((d.group_id, d.state.name, d.is_simple_consumer_group, d.partition_assignor, d.coordinator.id),
           (g, "STABLE", False, "range", 1), "DescribeGroups (group, state, simple?, assignor, coordinator)")
        eq({m.client_id: (m.host, sorted(tp.partition for tp in m.assignment.topic_partitions if tp.topic == t))
            for m in d.members}, members, "DescribeGroups members (client id -> host, partitions)")
        eq(sorted(m.member_id for m in d.members), member_ids, "DescribeGroups member ids")

        def group_offsets():
            req = [ConsumerGroupTopicPartitions(g, [TopicPartition(t, p) for p in range(3)])]
            res = a.list_consumer_group_offsets(req, request_timeout=15)[g].result(timeout=20)
            return {tp.partition: tp.offset for tp in res.topic_partitions}

        offs = group_offsets()
        eq(offs, COMMIT, "list_consumer_group_offsets")
        c = Consumer({"bootstrap.servers": b, "group.id": "compat-unused-lag"})
        try:
            ends = {p: c.get_watermark_offsets(TopicPartition(t, p), timeout=10, cached=False)[1] for p in range(3)}
        finally:
            c.close()
        eq({p: ends[p] - offs[p] for p in range(3)}, LAG, "consumer lag (high watermark - committed offset)")

        def delete():
            try:
                a.delete_consumer_groups([g], request_timeout=15)[g].result(timeout=20)
                return None
            except KafkaException as e:
                return e.args[0]

        err = delete()
        check(err is not None, "DeleteGroups of a group with active members succeeded (expected NON_EMPTY_GROUP)")
        eq(err.code(), KafkaError.NON_EMPTY_GROUP, f"DeleteGroups with active members ({err.name()})")
        leave(A, ss)
        eq(listing().get(g), ("EMPTY", False), "ListGroups state after both members left")
        d = describe()
        eq((d.state.name, len(d.members)), ("EMPTY", 0), "DescribeGroups after both members left (state, members)")
        # AlterConsumerGroupOffsets works on the empty group
        req = [ConsumerGroupTopicPartitions(g, [TopicPartition(t, 0, 3)])]
        res = a.alter_consumer_group_offsets(req, request_timeout=15)[g].result(timeout=20)
        eq([(tp.partition, tp.offset, tp.error) for tp in res.topic_partitions], [(0, 3, None)],
           "alter_consumer_group_offsets(partition 0 -> 3)")
        eq(group_offsets(), {0: 3, 1: 20, 2: 30}, "offsets after alter_consumer_group_offsets")
        eq(delete(), None, "DeleteGroups of the empty group")
        check(g not in listing(), "the deleted group is still listed")
        d = describe()
        eq((d.state.name, len(d.members)), ("DEAD", 0), "DescribeGroups of the deleted group (state, members)")
        eq(group_offsets(), {0: -1001, 1: -1001, 2: -1001}, "offsets of the deleted group (none: OFFSET_INVALID)")
        err = delete()
        check(err is not None and err.code() == KafkaError.GROUP_ID_NOT_FOUND,
              f"DeleteGroups of a deleted group: expected GROUP_ID_NOT_FOUND, got {err and err.name()}")
    finally:
        stop_agents()


# ----------------------------------------------------------------------------- kafka-python

def admin_kafka_python():
    from kafka import KafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient
    import kafka.errors as Errors
    b, t, g, A, ss, members, member_ids = setup("kafka-python")
    a = KafkaAdminClient(bootstrap_servers=b, request_timeout_ms=15000)
    try:
        def listing(states=None):
            return {x["group_id"]: (x.get("group_state"), x.get("protocol_type"))
                    for x in a.list_groups(states_filter=states)}

        eq(listing().get(g), ("Stable", "consumer"), "list_groups: (state, protocol type) of the group")
        check(g in listing(["Stable"]), "list_groups(states_filter=[Stable]) misses the group")
        check(g not in listing(["Empty"]), "list_groups(states_filter=[Empty]) lists the active group")
        d = a.describe_groups([g])[g]
        eq((d["error"], d["group_state"], d["protocol_type"], d["protocol_data"]), (None, "Stable", "consumer", "range"),
           "describe_groups (error, state, protocol type, assignor)")
        got = {}
        for m in d["members"]:  # metadata and assignment decoded by kafka-python (ConsumerProtocol), as dicts
            parts = sorted(p for a_ in m["member_assignment"]["assigned_partitions"] if a_["topic"] == t
                           for p in a_["partitions"])
            got[m["client_id"]] = (m["client_host"], parts)
            eq(list(m["member_metadata"]["topics"]), [t], f"subscription of {m['client_id']} in describe_groups")
        eq(got, members, "describe_groups members (client id -> host, partitions)")
        eq(sorted(m["member_id"] for m in d["members"]), member_ids, "describe_groups member ids")

        def group_offsets():
            res = a.list_group_offsets({g: None})[g]
            return {tp.partition: om.offset for tp, om in res.items() if tp.topic == t}

        offs = group_offsets()
        eq(offs, COMMIT, "list_group_offsets")
        c = KafkaConsumer(bootstrap_servers=b, request_timeout_ms=15000)
        try:
            ends = {tp.partition: o for tp, o in c.end_offsets([TopicPartition(t, p) for p in range(3)]).items()}
        finally:
            c.close()
        eq({p: ends[p] - offs[p] for p in range(3)}, LAG, "consumer lag (end offset - committed offset)")
        eq(a.delete_groups([g]), {g: "NonEmptyGroupError"}, "delete_groups with active members")
        # OffsetDelete of a partition of a topic the active members subscribe to
        res = a.delete_group_offsets(g, [TopicPartition(t, 0)])
        eq(res, {TopicPartition(t, 0): Errors.GroupSubscribedToTopicError},
           "delete_group_offsets while the members subscribe to the topic")
        leave(A, ss)
        eq(listing().get(g), ("Empty", "consumer"), "list_groups after both members left")
        d = a.describe_groups([g])[g]
        eq((d["group_state"], d["members"]), ("Empty", []), "describe_groups after both members left")
        eq(a.delete_group_offsets(g, [TopicPartition(t, 0)]), {TopicPartition(t, 0): Errors.NoError},
           "delete_group_offsets of partition 0 of the empty group")
        eq(group_offsets(), {1: 20, 2: 30}, "offsets after deleting partition 0's (list_group_offsets)")
        eq(a.delete_groups([g]), {g: "OK"}, "delete_groups of the empty group")
        check(g not in listing(), "the deleted group is still listed")
        d = a.describe_groups([g])[g]
        eq((d["error"], d["group_state"], d["members"]), (None, "Dead", []), "describe_groups of the deleted group")
        eq(group_offsets(), {}, "offsets of the deleted group")
        eq(a.delete_groups([g]), {g: "GroupIdNotFoundError"}, "delete_groups of a deleted group")
    finally:
        a.close()
        stop_agents()


# ----------------------------------------------------------------------------- aiokafka

def decode_assignment(raw):
    """ConsumerProtocol Assignment: int16 version, [string topic, [int32 partition]], bytes user data."""
    out = {}
    if not raw:
        return out
    pos = 2
    (n,) = struct.unpack_from(">i", raw, pos)
    pos += 4
    for _ in range(n):
        (ln,) = struct.unpack_from(">h", raw, pos)
        pos += 2
        topic = raw[pos:pos + ln].decode()
        pos += ln
        (k,) = struct.unpack_from(">i", raw, pos)
        pos += 4
        out[topic] = sorted(struct.unpack_from(f">{k}i", raw, pos))
        pos += 4 * k
    return out


def admin_aiokafka():
    """aiokafka's admin has no DeleteGroups: list, describe, offsets and lag only."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka import AIOKafkaConsumer, TopicPartition
    b, t, g, A, ss, members, member_ids = setup("aiokafka")

    async def run(after_leave=False):
        a = AIOKafkaAdminClient(bootstrap_servers=b, request_timeout_ms=15000)
        await a.start()
        try:
            groups = dict(tuple(x)[:2] for x in await a.list_consumer_groups())
            resp = (await a.describe_consumer_groups([g]))[0]
            offs = await a.list_consumer_group_offsets(g)
            c = AIOKafkaConsumer(bootstrap_servers=b, request_timeout_ms=15000)
            await c.start()
            try:
                ends = await c.end_offsets([TopicPartition(t, p) for p in range(3)])
            finally:
                await c.stop()
            return groups, resp, offs, ends
        finally:
            await a.close()

    try:
        groups, resp, offs, ends = asyncio.run(run())
        eq(groups.get(g), "consumer", "list_consumer_groups: protocol type of the group")
        grp = resp.groups[0]
        err, gid, state, ptype, proto, mems = grp[0], grp[1], grp[2], grp[3], grp[4], grp[5]
        eq((err, gid, state, ptype, proto), (0, g, "Stable", "consumer", "range"),
           "describe_consumer_groups (error, group, state, protocol type, assignor)")
        eq({m[1]: (m[2], decode_assignment(m[-1]).get(t, [])) for m in mems}, members,
           "describe_consumer_groups members (client id -> host, partitions)")
        eq(sorted(m[0] for m in mems), member_ids, "describe_consumer_groups member ids")
        committed_offs = {tp.partition: om.offset for tp, om in offs.items() if tp.topic == t}
        eq(committed_offs, COMMIT, "list_consumer_group_offsets")
        eq({tp.partition: o - committed_offs[tp.partition] for tp, o in ends.items()}, LAG,
           "consumer lag (end offset - committed offset)")
        leave(A, ss)
        groups, resp, offs, ends = asyncio.run(run())
        grp = resp.groups[0]
        eq((grp[2], list(grp[5])), ("Empty", []), "describe_consumer_groups after both members left (state, members)")
        eq({tp.partition: om.offset for tp, om in offs.items() if tp.topic == t}, COMMIT,
           "list_consumer_group_offsets after both members left")
    finally:
        stop_agents()


# ----------------------------------------------------------------------------- kafkajs

def admin_kafkajs():
    import kafkajs as kjs
    b, t, g, A, ss, members, member_ids = setup("kafkajs")
    try:
        r = kjs.js([{"op": "listGroups"}, {"op": "describeGroups", "groupIds": [g]},
                    {"op": "fetchOffsets", "groupId": g, "topics": [t]}, {"op": "fetchTopicOffsets", "topic": t},
                    {"op": "deleteGroups", "groupIds": [g]}], bootstrap=b)
        lst = {x["groupId"]: x["protocolType"] for x in kjs.ok(r[0], "listGroups")["groups"]}
        eq(lst.get(g), "consumer", "listGroups: protocol type of the group")
        d = kjs.ok(r[1], "describeGroups")[0]
        eq((d["groupId"], d["errorCode"], d["state"], d["protocolType"], d["protocol"]),
           (g, 0, "Stable", "consumer", "RoundRobinAssigner"),
           "describeGroups (group, error, state, protocol type, assignor)")
        eq({m["clientId"]: (m["clientHost"], sorted((m["assignment"] or {}).get(t, []))) for m in d["members"]},
           members, "describeGroups members (client id -> host, partitions)")
        eq(sorted(m["memberId"] for m in d["members"]), member_ids, "describeGroups member ids")
        for m in d["members"]:
            eq(m["topics"], [t], f"subscription of {m['clientId']} in describeGroups")
        offs = {x["partition"]: int(x["offset"]) for tp in kjs.ok(r[2], "fetchOffsets") if tp["topic"] == t
                for x in tp["partitions"]}
        eq(offs, COMMIT, "admin.fetchOffsets")
        ends = {x["partition"]: int(x["high"]) for x in kjs.ok(r[3], "fetchTopicOffsets")}
        eq({p: ends[p] - offs[p] for p in range(3)}, LAG, "consumer lag (fetchTopicOffsets high - fetchOffsets)")
        eq(kjs.ok(r[4], "deleteGroups"), {"failed": [{"groupId": g, "errorCode": 68, "type": "NON_EMPTY_GROUP"}]},
           "deleteGroups with active members")
        leave(A, ss)
        r = kjs.js([{"op": "describeGroups", "groupIds": [g]}, {"op": "deleteGroups", "groupIds": [g]},
                    {"op": "listGroups"}, {"op": "fetchOffsets", "groupId": g, "topics": [t]},
                    {"op": "deleteGroups", "groupIds": [g]}], bootstrap=b)
        d = kjs.ok(r[0], "describeGroups after both members left")[0]
        eq((d["state"], d["members"]), ("Empty", []), "describeGroups after both members left (state, members)")
        eq(kjs.ok(r[1], "deleteGroups of the empty group"), {"results": [{"groupId": g, "errorCode": 0}]},
           "deleteGroups of the empty group")
        check(g not in {x["groupId"] for x in kjs.ok(r[2], "listGroups")["groups"]}, "the deleted group is still listed")
        offs = {x["partition"]: int(x["offset"]) for tp in kjs.ok(r[3], "fetchOffsets") if tp["topic"] == t
                for x in tp["partitions"]}
        eq(offs, {0: -1, 1: -1, 2: -1}, "admin.fetchOffsets of the deleted group")
        eq(kjs.ok(r[4], "deleteGroups of a deleted group"),
           {"failed": [{"groupId": g, "errorCode": 69, "type": "GROUP_ID_NOT_FOUND"}]}, "deleteGroups of a deleted group")
    finally:
        stop_agents()


ADMIN = {"confluent": admin_confluent, "kafka-python": admin_kafka_python, "aiokafka": admin_aiokafka,
         "kafkajs": admin_kafkajs}
