"""KIP-848 consumer groups (`group.protocol=consumer`) with confluent-kafka-python.

* `kip848_scale`: a 6-partition topic; one member owns all 6, a second joins (3 / 3, disjoint,
  every partition once), leaves (back to 6); every record consumed, none by two members.
* `kip848_describe`: AdminClient.describe_consumer_groups of a two-member consumer group: type
  CONSUMER, state STABLE, the uniform assignor, both members with disjoint assignments covering the
  topic and target assignments equal to them; list_consumer_groups shows the type.
* `kip848_upgrade`: a classic-protocol member commits and leaves; a consumer-protocol member takes
  the (now empty) group over and resumes exactly after the committed offsets.
"""

import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from common import check, eq, topic_name, boot_groups, main, confluent_create_topic


def produce(b, t, n, parts=6):
    p = Producer({"bootstrap.servers": b, "linger.ms": 5})
    for i in range(n):
        p.produce(t, value=f"v{i}".encode(), partition=i % parts)
    check(p.flush(20) == 0, "all records delivered")


def consumer(b, g, protocol="consumer"):
    return Consumer({"bootstrap.servers": b, "group.id": g, "group.protocol": protocol,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})


def parts(c):
    return {tp.partition for tp in c.assignment()}


def pump(cs, seen, until, what, timeout=40):
    """Poll every consumer (committing each record synchronously) until `until()`."""
    end = time.time() + timeout
    while time.time() < end:
        for i, c in enumerate(cs):
            m = c.poll(0.05)
            if m is not None and m.error() is None:
                seen.setdefault((m.partition(), m.offset()), set()).add(i)
                c.commit(message=m, asynchronous=False)
        if until():
            return
    raise AssertionError(f"timed out waiting for {what}: {[sorted(parts(c)) for c in cs]}, {len(seen)} records")


def kip848_scale():
    b = boot_groups()
    t = topic_name("k848-scale")
    confluent_create_topic(t, 6, bootstrap=b)
    produce(b, t, 120)
    g = topic_name("k848-g")
    c1 = consumer(b, g)
    c1.subscribe([t])
    seen = {}
    pump([c1], seen, lambda: len(parts(c1)) == 6 and len(seen) >= 30, "one member with all 6 partitions")
    c2 = consumer(b, g)
    c2.subscribe([t])
    pump([c1, c2], seen, lambda: len(parts(c1)) == 3 and len(parts(c2)) == 3, "3 / 3")
    eq(parts(c1) | parts(c2), set(range(6)), "the two members cover the topic")
    check(not (parts(c1) & parts(c2)), "disjoint assignments")
    c2.close()
    pump([c1], seen, lambda: len(parts(c1)) == 6 and len(seen) == 120, "all 6 back to the first member")
    c1.close()
    eq(len(seen), 120, "every record consumed")
    shared = [k for k, who in seen.items() if len(who) > 1]
    eq(shared, [], "records consumed by two members")


def kip848_describe():
    b = boot_groups()
    t = topic_name("k848-desc")
    confluent_create_topic(t, 4, bootstrap=b)
    g = topic_name("k848-dg")
    c1, c2 = consumer(b, g), consumer(b, g)
    c1.subscribe([t])
    c2.subscribe([t])
    pump([c1, c2], {}, lambda: len(parts(c1)) == 2 and len(parts(c2)) == 2, "2 / 2")
    a = AdminClient({"bootstrap.servers": b})
    end = time.time() + 20
    while True:
        d = a.describe_consumer_groups([g], request_timeout=15)[g].result(15)
        if str(d.state).endswith("STABLE") or time.time() > end:
            break
        pump([c1, c2], {}, lambda: True, "poll")
    check(str(d.type).endswith("CONSUMER"), f"group type {d.type}")
    check(str(d.state).endswith("STABLE"), f"group state {d.state}")
    eq(d.partition_assignor, "uniform", "assignor")
    eq(len(d.members), 2, "members")
    got = {}
    for m in d.members:
        ps = sorted(tp.partition for tp in m.assignment.topic_partitions)
        eq({tp.topic for tp in m.assignment.topic_partitions}, {t}, "assigned topic")
        eq(sorted(tp.partition for tp in m.target_assignment.topic_partitions), ps, "target = current")
        eq(m.host, "/127.0.0.1", "member host")
        got[m.member_id] = ps
    eq(sorted(p for ps in got.values() for p in ps), [0, 1, 2, 3], "assignments cover the topic once")
    eq({tuple(ps) for ps in got.values()}, {tuple(sorted(parts(c1))), tuple(sorted(parts(c2)))},
       "described assignments are the members' own")
    listed = a.list_consumer_groups(request_timeout=15).result(15)
    mine = [x for x in listed.valid if x.group_id == g]
    eq(len(mine), 1, "listed once")
    check(str(mine[0].type).endswith("CONSUMER"), f"listed type {mine[0].type}")
    c1.close()
    c2.close()


def kip848_upgrade():
    b = boot_groups()
    t = topic_name("k848-up")
    confluent_create_topic(t, 2, bootstrap=b)
    produce(b, t, 20, parts=2)
    g = topic_name("k848-ug")
    old = consumer(b, g, protocol="classic")
    old.subscribe([t])
    seen = {}
    pump([old], seen, lambda: len(seen) == 20, "the classic member reading 20 records")
    old.close()
    produce(b, t, 10, parts=2)
    new = consumer(b, g)
    new.subscribe([t])
    after = {}
    pump([new], after, lambda: len(after) == 10, "the consumer-protocol member reading the 10 new records")
    time.sleep(1)
    pump([new], after, lambda: True, "poll")
    eq(sorted(after), sorted((p, o) for p in range(2) for o in range(10, 15)),
       "resumed exactly after the classic member's commits")
    committed = new.committed([TopicPartition(t, 0), TopicPartition(t, 1)], timeout=15)
    eq([tp.offset for tp in committed], [15, 15], "committed offsets")
    a = AdminClient({"bootstrap.servers": b})
    d = a.describe_consumer_groups([g], request_timeout=15)[g].result(15)
    check(str(d.type).endswith("CONSUMER"), f"group type after the upgrade: {d.type}")
    new.close()


SCENARIOS = {
    "kip848_scale": kip848_scale,
    "kip848_describe": kip848_describe,
    "kip848_upgrade": kip848_upgrade,
}

if __name__ == "__main__":
    main(SCENARIOS)
