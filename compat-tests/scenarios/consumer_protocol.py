"""KIP-848 consumer groups (`group.protocol=consumer`) with confluent-kafka-python.

* `kip848_scale`: a 6-partition topic; one member owns all 6, a second joins (3 / 3, disjoint,
  every partition once), leaves (back to 6); every record consumed, none by two members.
* `kip848_describe`: AdminClient.describe_consumer_groups of a two-member consumer group: type
  CONSUMER, state STABLE, the uniform assignor, both members with disjoint assignments covering the
  topic and target assignments equal to them; list_consumer_groups shows the type.
* `kip848_upgrade`: a classic-protocol member commits and leaves; a consumer-protocol member takes
  the (now empty) group over and resumes exactly after the committed offsets (offline upgrade).

Online migration (KIP-848's upgrade and downgrade of running groups; each member in its own agent
process, grouplib.py, committing after every batch, so "exactly once" is over committed records):

* `kip848_online_upgrade`: two classic (eager, range) members consume a 4-partition topic; a
  consumer-protocol member joins (the classic group becomes a consumer group with three members,
  the classic ones served through JoinGroup/SyncGroup/Heartbeat), one classic member leaves, a
  second consumer-protocol member joins, the last classic member leaves: every record consumed once
  across the whole migration, the final assignment 2+2 between the consumer-protocol members, the
  group described as a CONSUMER group with exactly those two members and their partitions.
* `kip848_online_downgrade`: the reverse under the default policy (bidirectional): two
  consumer-protocol members, classic members join one by one, the consumer-protocol ones leave;
  when the last one leaves the group becomes a classic group again and rebalances: every record
  once, the final assignment 2+2 between the classic members, listed as a CLASSIC group.
* `kip848_policy_disabled`: a broker with `group.consumer.migration.policy=disabled`: a
  consumer-protocol member cannot join a running classic group (GROUP_ID_NOT_FOUND, which
  librdkafka reports as a fatal error); the classic member keeps every partition and consumes.
* `kip848_kill9`: a consumer-protocol member's process is killed with kill -9: its partitions go
  to the other member after `group.consumer.session.timeout.ms` (6 s on the groups broker), not at
  once and not much later; the survivor reads them from the victim's commits; all 4 partitions
  end on the survivor and every record is consumed once.
"""

import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from common import check, eq, topic_name, boot_groups, main, confluent_create_topic, OwnBroker
from grouplib import (Agent, check_exactly_once, cons, consumed, produce as produce_exact, split_ok,
                      stop_agents, total, wait, wait_stable, linger)


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


def classic(name, g, t):
    return cons(name, g, [t], strategy="range")


def modern(name, g, t):
    return cons(name, g, [t], protocol="consumer")


def describe(b, g):
    a = AdminClient({"bootstrap.servers": b})
    return a.describe_consumer_groups([g], request_timeout=15)[g].result(15)


def listed_type(b, g):
    a = AdminClient({"bootstrap.servers": b})
    listed = a.list_consumer_groups(request_timeout=15).result(15)
    mine = [x for x in listed.valid if x.group_id == g]
    eq(len(mine), 1, "the group listed once")
    return str(mine[0].type)


def kip848_online_upgrade():
    b = boot_groups()
    t = topic_name("k848-onup")
    confluent_create_topic(t, 4, bootstrap=b)
    g = topic_name("k848-onug")
    exp = produce_exact(b, t, {p: 40 for p in range(4)})
    try:
        K1 = Agent("confluent", [classic("k1", g, t)], b, "K1")
        k1 = K1["k1"]
        wait(lambda: k1.owned, 30, "the first classic member's assignment")
        K2 = Agent("confluent", [classic("k2", g, t)], b, "K2")
        k2 = K2["k2"]
        wait_stable(lambda: split_ok([k1, k2], t, 4, [2, 2]) and total([k1, k2]) == 160, 40,
                    "a classic 2+2 split and all 160 records consumed")
        # A consumer-protocol member joins the running classic group: it is upgraded.
        N1 = Agent("confluent", [modern("n1", g, t)], b, "N1")
        n1 = N1["n1"]
        exp2 = produce_exact(b, t, {p: 10 for p in range(4)}, start={p: 40 for p in range(4)})
        wait_stable(lambda: split_ok([k1, k2, n1], t, 4, [1, 1, 2]) and total([k1, k2, n1]) == 200, 60,
                    "the mixed group of three covering the topic (1+1+2) and all 200 records")
        d = describe(b, g)
        check(str(d.type).endswith("CONSUMER"), f"group type after the upgrade: {d.type}")
        eq(len(d.members), 3, "members of the mixed group")
        # The classic members leave one by one; a second consumer-protocol member joins.
        K1.close("k1")
        wait_stable(lambda: split_ok([k2, n1], t, 4, [2, 2]), 40, "2+2 after the first classic member left")
        N2 = Agent("confluent", [modern("n2", g, t)], b, "N2")
        n2 = N2["n2"]
        wait_stable(lambda: split_ok([k2, n1, n2], t, 4), 40, "three members covering the topic")
        K2.close("k2")
        exp3 = produce_exact(b, t, {p: 10 for p in range(4)}, start={p: 50 for p in range(4)})
        wait_stable(lambda: split_ok([n1, n2], t, 4, [2, 2]) and total([k1, k2, n1, n2]) == 240, 60,
                    "the two consumer-protocol members 2+2 and all 240 records")
        linger()
        check_exactly_once(consumed([k1, k2, n1, n2]), exp | exp2 | exp3, "records across the upgrade")
        d = describe(b, g)
        check(str(d.type).endswith("CONSUMER"), f"group type: {d.type}")
        got = sorted(sorted(tp.partition for tp in m.assignment.topic_partitions) for m in d.members)
        eq(got, sorted([n1.parts(), n2.parts()]), "described members and assignments (the two consumer-protocol members)")
        ids = {m.member_id for m in d.members}
        eq(ids, {n1.member, n2.member}, "described member ids")
        c = Consumer({"bootstrap.servers": b, "group.id": g, "enable.auto.commit": False})
        res = c.committed([TopicPartition(t, p) for p in range(4)], timeout=15)
        c.close()
        eq([tp.offset for tp in res], [60] * 4, "committed offsets after the migration")
    finally:
        stop_agents()


def kip848_online_downgrade():
    b = boot_groups()
    t = topic_name("k848-ondown")
    confluent_create_topic(t, 4, bootstrap=b)
    g = topic_name("k848-ondg")
    exp = produce_exact(b, t, {p: 40 for p in range(4)})
    try:
        N1 = Agent("confluent", [modern("n1", g, t)], b, "N1")
        n1 = N1["n1"]
        wait(lambda: n1.owned, 30, "the first consumer-protocol member's assignment")
        N2 = Agent("confluent", [modern("n2", g, t)], b, "N2")
        n2 = N2["n2"]
        wait_stable(lambda: split_ok([n1, n2], t, 4, [2, 2]) and total([n1, n2]) == 160, 40,
                    "a 2+2 consumer group and all 160 records consumed")
        K1 = Agent("confluent", [classic("k1", g, t)], b, "K1")
        k1 = K1["k1"]
        exp2 = produce_exact(b, t, {p: 10 for p in range(4)}, start={p: 40 for p in range(4)})
        wait_stable(lambda: split_ok([n1, n2, k1], t, 4) and total([n1, n2, k1]) == 200, 60,
                    "a classic member inside the consumer group: three members covering the topic")
        N1.close("n1")
        wait_stable(lambda: split_ok([n2, k1], t, 4, [2, 2]), 40, "2+2 after the first consumer-protocol member left")
        K2 = Agent("confluent", [classic("k2", g, t)], b, "K2")
        k2 = K2["k2"]
        wait_stable(lambda: split_ok([n2, k1, k2], t, 4), 40, "three members covering the topic")
        check(listed_type(b, g).endswith("CONSUMER"), "a consumer group before the last consumer-protocol member leaves")
        # The last consumer-protocol member leaves: the group becomes classic and rebalances.
        N2.close("n2")
        exp3 = produce_exact(b, t, {p: 10 for p in range(4)}, start={p: 50 for p in range(4)})
        wait_stable(lambda: split_ok([k1, k2], t, 4, [2, 2]) and total([n1, n2, k1, k2]) == 240, 60,
                    "the two classic members 2+2 and all 240 records")
        linger()
        check_exactly_once(consumed([n1, n2, k1, k2]), exp | exp2 | exp3, "records across the downgrade")
        ltype = listed_type(b, g)
        check(ltype.endswith("CLASSIC"), f"group type after the downgrade: {ltype}")
        # The classic range assignor of the new leader: 0,1 and 2,3.
        eq(sorted([k1.parts(), k2.parts()]), [[0, 1], [2, 3]], "the classic range assignment")
    finally:
        stop_agents()


def kip848_policy_disabled():
    own = OwnBroker("nomig", ["--set", "group.initial.rebalance.delay.ms=0",
                              "--set", "group.consumer.migration.policy=disabled",
                              "--set", "group.consumer.heartbeat.interval.ms=500",
                              "--set", "group.consumer.min.heartbeat.interval.ms=100"]).start()
    try:
        b = own.addr
        t = topic_name("k848-nomig")
        confluent_create_topic(t, 4, bootstrap=b)
        g = topic_name("k848-nmg")
        exp = produce_exact(b, t, {p: 20 for p in range(4)})
        K = Agent("confluent", [classic("k1", g, t)], b, "K")
        k1 = K["k1"]
        wait_stable(lambda: split_ok([k1], t, 4) and total([k1]) == 80, 40, "the classic member with all 80 records")
        n = Consumer({"bootstrap.servers": b, "group.id": g, "group.protocol": "consumer",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        n.subscribe([t])
        err = None
        end = time.time() + 20
        while err is None and time.time() < end:
            m = n.poll(0.2)
            if m is not None and m.error() is not None:
                err = m.error()
            elif m is not None:
                raise AssertionError(f"the refused member consumed {m.partition()}/{m.offset()}")
        check(err is not None, "the consumer-protocol member got an error")
        eq(err.code(), KafkaError._FATAL, f"a fatal error ({err})")
        check("ConsumerGroupHeartbeat fatal error: Broker: The group id does not exist" in err.str(),
              f"GROUP_ID_NOT_FOUND from ConsumerGroupHeartbeat: {err}")
        eq(n.assignment(), [], "the refused member's assignment")
        n.close()
        # The classic group goes on: still one member with all partitions, reading new records.
        exp2 = produce_exact(b, t, {p: 5 for p in range(4)}, start={p: 20 for p in range(4)})
        wait_stable(lambda: split_ok([k1], t, 4) and total([k1]) == 100, 30, "the classic member reading 20 more")
        linger()
        check_exactly_once(consumed([k1]), exp | exp2, "records of the classic group")
        ltype = listed_type(b, g)
        check(ltype.endswith("CLASSIC"), f"group type: {ltype}")
    finally:
        stop_agents()
        own.stop()


def kip848_kill9():
    b = boot_groups()
    t = topic_name("k848-kill9")
    confluent_create_topic(t, 4, bootstrap=b)
    g = topic_name("k848-k9g")
    session = 6.0  # group.consumer.session.timeout.ms of the groups broker
    exp = produce_exact(b, t, {p: 20 for p in range(4)})
    try:
        V = Agent("confluent", [modern("victim", g, t)], b, "V")
        sv = V["victim"]
        wait(lambda: sv.owned, 30, "the first member's assignment")
        S = Agent("confluent", [modern("survivor", g, t)], b, "S")
        ss = S["survivor"]
        wait_stable(lambda: split_ok([sv, ss], t, 4, [2, 2]) and total([sv, ss]) == 80, 40,
                    "a 2+2 split and all 80 records consumed")
        victim_parts = sv.parts()
        n_assign = len(ss.of("assign"))
        t_kill = time.time()
        V.kill9()
        exp2 = produce_exact(b, t, {p: 10 for p in range(4)}, start={p: 20 for p in range(4)})
        wait(lambda: ss.parts() == [0, 1, 2, 3] and len(ss.of("assign")) > n_assign, 3 * session + 10,
             "the survivor to own all 4 partitions after the kill")
        dt = ss.of("assign")[-1]["t"] - t_kill
        lo, hi = 0.6 * session, 3 * session
        check(lo <= dt <= hi, f"the survivor got the killed member's partitions {dt:.1f}s after kill -9 "
                              f"(expected about the session timeout {session:.0f}s)")
        wait(lambda: total([sv, ss]) >= 120, 30, "all 120 records")
        linger()
        check_exactly_once(consumed([sv, ss]), exp | exp2, "records over the group")
        moved = sorted({r[2] for r in ss.recs if r[1] in victim_parts})
        check(moved and min(moved) == 20, f"the survivor read the victim's partitions {victim_parts} from offset "
                                          f"{min(moved) if moved else None} (expected the victim's commit, 20)")
        d = describe(b, g)
        eq([sorted(tp.partition for tp in m.assignment.topic_partitions) for m in d.members], [[0, 1, 2, 3]],
           "the described group: the survivor alone with every partition")
        print(f"# kill -9 -> reassignment in {dt:.2f}s", file=sys.stderr)
    finally:
        stop_agents()


SCENARIOS = {
    "kip848_scale": kip848_scale,
    "kip848_describe": kip848_describe,
    "kip848_upgrade": kip848_upgrade,
    "kip848_online_upgrade": kip848_online_upgrade,
    "kip848_online_downgrade": kip848_online_downgrade,
    "kip848_policy_disabled": kip848_policy_disabled,
    "kip848_kill9": kip848_kill9,
}

if __name__ == "__main__":
    main(SCENARIOS)
