"""Share groups (KIP-932) with confluent-kafka-python 2.16's ShareConsumer (librdkafka 2.16).

Every consumer uses `share.acknowledgement.mode=explicit`: each record of a poll batch gets
`acknowledge(msg, ACCEPT | RELEASE | REJECT)`, then `commit_sync()` (whose per-partition results
must all be None). A share group's `share.auto.offset.reset` is `latest`: a share-partition starts
at the high watermark when the group first fetches it. So every scenario subscribes, polls until
the share-partition exists (its first snapshot appears in `__share_group_state`, whose key holds
the group id; at least 3 s of polling if it does not show within 15 s) and only then produces.
Records come from one producer to one partition, so record i is at offset base+i with value
PREFIX-i, checked against the producer's delivery reports.

* `share_one_consumer`: 50 records, one consumer ACCEPTs: each offset 0..49 once, delivery count
  1, its own value; a further 3 s of polling gets nothing.
* `share_three_consumers_one_partition`: three consumers (a thread each, `max.poll.records=10`)
  on one partition, 300 records in 30 produce requests of 10: every offset 0..299 delivered
  exactly once over the group (delivery count 1, right value) and at least two consumers got some.
* `share_release_redelivers`: RELEASE on delivery 1, ACCEPT on delivery 2: each of 10 records
  delivered exactly twice, delivery counts [1, 2], same value; then nothing for 3 s.
* `share_delivery_limit`: RELEASE always: each of 5 records delivered exactly 5 times (counts
  1..5, the default `group.share.delivery.count.limit` 5), then never again (3 s); a 6th record
  produced afterwards is delivered (offset 5, count 1): the consumer was still fetching.
* `share_reject`: REJECT 5 records: not redelivered (3 s), a second consumer of the group gets
  none of them (3 s), and a 6th record is delivered once (offset 5, count 1).
* `share_consumer_killed`: a consumer in a subprocess acquires a batch of 20 records (prints
  offsets and counts, acknowledges nothing) and is killed with SIGKILL; a second consumer (running
  since before the kill, having got none of those records while they were locked) receives
  exactly the killed one's records with delivery count 2 within 10 s of the kill (well under the
  30 s acquisition lock: the broker releases them when the connection closes), every other record
  with count 1, nothing else for 3 s.
* `share_lock_expiry`: consumer a acquires 0..4, consumer b 5..9, neither acknowledges; consumer
  c gets a's records 25-40 s after a acquired them (the default 30 s acquisition lock), count 2;
  a's late ACCEPT (c holds the records) → INVALID_RECORD_STATE in commit_sync; c ACCEPTs all 10;
  b's late ACCEPT of records c already ACCEPTed → INVALID_RECORD_STATE as well (Kafka's
  SharePartition finds no in-flight batch for offsets below the start offset); a and b get
  nothing afterwards.
* `share_broker_restart` / `share_broker_kill9`: own broker; a consumer ACCEPTs offsets 0..99 and
  commit_syncs each batch, closes; 100 more records; the broker is stopped (SIGTERM, exit 0 /
  SIGKILL) and restarted on the same data dir; a new consumer of the group gets exactly offsets
  100..199 with delivery count 1 (no accepted record redelivered, none lost, the share-partition's
  start kept) and nothing more for 3 s.
* `share_describe_list`: ListGroups v5 and ShareGroupDescribe v1 on a raw socket (confluent-kafka
  2.16's AdminClient has no share-group calls, and its list_consumer_groups leaves groups with
  protocol type "share" out): with a member, ListGroups (TypesFilter ["share"], and no filter)
  shows (group, "share", "Stable", "share"), TypesFilter ["consumer","classic"] does not show
  it; ShareGroupDescribe: Stable, assignor "simple", one member with the consumer's client id,
  subscribed to the topic, assigned its partitions 0 and 1; an unknown group
  → GROUP_ID_NOT_FOUND (69); after close: Empty with no members.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid

from confluent_kafka import AcknowledgeType, Consumer, Producer, ShareConsumer, TopicPartition

import rawproto
from common import (Fail, OwnBroker, boot_groups, check, confluent_create_topic, eq, main, short,
                    topic_name, wait_until)

ACCEPT, RELEASE, REJECT = AcknowledgeType.ACCEPT, AcknowledgeType.RELEASE, AcknowledgeType.REJECT
STATE_TOPIC = "__share_group_state"


def group_name(prefix):
    return f"compat-share-{prefix}-{uuid.uuid4().hex[:10]}"


def share_consumer(b, g, **extra):
    conf = {"bootstrap.servers": b, "group.id": g, "share.acknowledgement.mode": "explicit"}
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return ShareConsumer(conf)


def produce(b, t, prefix, n, start=0, chunk=None, pause=0.0):
    """Produce PREFIX-i for i in start..start+n-1 to partition 0 (in requests of `chunk` records,
    `pause` s apart); returns the acked offsets in produce order."""
    acked = {}

    def cb(err, msg):
        if err is not None:
            raise Fail(f"produce to {t} failed: {err}")
        acked[int(msg.value().decode().rsplit("-", 1)[1])] = msg.offset()
    p = Producer({"bootstrap.servers": b, "linger.ms": 5})
    chunk = chunk or n
    for lo in range(start, start + n, chunk):
        for i in range(lo, min(start + n, lo + chunk)):
            p.produce(t, value=f"{prefix}-{i}".encode(), partition=0, on_delivery=cb)
        check(p.flush(20) == 0, f"records {lo}.. to {t} not delivered within 20s")
        if pause:
            time.sleep(pause)
    eq(len(acked), n, f"acks for the records produced to {t}")
    return [acked[i] for i in range(start, start + n)]


def take(c, timeout, what):
    """One poll; every message must be a record. Returns [(msg, offset, value, delivery count)]."""
    out = []
    for m in c.poll(timeout):
        if m.error() is not None:
            raise Fail(f"{what}: poll returned an error: {m.error()}")
        out.append((m, m.offset(), m.value().decode(), m.delivery_count()))
    return out


def commit(c, what):
    res = c.commit_sync(30)
    for tp, err in res.items():
        check(err is None and tp.error is None, f"{what}: commit_sync for {tp.topic}[{tp.partition}] failed: {err or tp.error}")


def consume(c, decide, until, timeout, what, log=None, ack=True):
    """Poll (0.3 s each) until `until(log)` or `timeout`; acknowledge each record with `decide(offset,
    count)` and commit_sync after each non-empty batch. Returns [(offset, value, count, ack type)].
    With ack=False nothing is acknowledged (the consumer cannot poll again until it is: stop at the
    first batch) and the entries are (offset, value, count, None, message)."""
    log = [] if log is None else log
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(log):
        recs = take(c, 0.3, what)
        for m, off, val, dc in recs:
            if not ack:
                log.append((off, val, dc, None, m))
                continue
            a = decide(off, dc)
            c.acknowledge(m, a)
            log.append((off, val, dc, a))
        if recs and ack:
            commit(c, what)
        if recs and not ack:
            break
    return log


def never(_log):
    return False


def fmt(log):
    return short([(o, d, a.name) for o, _, d, a in log], 400)


class StateWatch:
    """Sees the first `__share_group_state` record whose key holds the group id: the share-partition
    was initialized (its start offset fixed at the high watermark). Made before the consumer
    subscribes, it reads every state partition from its high watermark at that time (from 0 if
    the topic does not exist yet)."""

    def __init__(self, b, g):
        self.b, self.g = b, g.encode()
        self.c = Consumer({"bootstrap.servers": b, "group.id": "compat-unused-" + uuid.uuid4().hex[:8],
                           "enable.auto.commit": False, "enable.partition.eof": False,
                           "topic.metadata.refresh.interval.ms": 1000})
        self.start = self.partitions()
        self.assigned = False
        self.seen = False

    def partitions(self):
        md = self.c.list_topics(STATE_TOPIC, timeout=10)
        t = md.topics.get(STATE_TOPIC)
        if t is None or t.error is not None or not t.partitions:
            return None
        return {p: self.c.get_watermark_offsets(TopicPartition(STATE_TOPIC, p), timeout=10, cached=False)[1]
                for p in t.partitions}

    def check(self):
        if self.seen:
            return True
        if not self.assigned:
            parts = self.start
            if parts is None:
                parts = self.partitions()
                if parts is None:
                    return False
                parts = {p: 0 for p in parts}
            self.c.assign([TopicPartition(STATE_TOPIC, p, off) for p, off in parts.items()])
            self.assigned = True
        for m in self.c.consume(500, 0.05):
            if m.error() is None and self.g in (m.key() or b""):
                self.seen = True
        return self.seen

    def close(self):
        self.c.close()


def wait_started(b, g, consumers, subscribe, timeout=15, fallback=3.0):
    """Subscribe (the callable) and poll `consumers` until the group's share-partition exists.
    Nothing is produced yet, so no poll returns a record (one would fail the scenario)."""
    w = StateWatch(b, g)
    try:
        subscribe()
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            for c in consumers:
                got = take(c, 0.1, "warm-up") if c is not None else []
                if got:
                    raise Fail(f"warm-up: a record arrived before any was produced: {got[0][1:]}")
            if w.check():
                print(f"share-partition of {g} initialized after {time.monotonic() - t0:.1f}s", file=sys.stderr)
                return
        print(f"no {STATE_TOPIC} record for {g} within {timeout}s; going on", file=sys.stderr)
        check(time.monotonic() - t0 >= fallback, "warm-up too short")
    finally:
        w.close()


def by_offset(log):
    out = {}
    for off, val, dc, _ in log:
        out.setdefault(off, []).append((val, dc))
    return out


def check_quiet(c, what, secs=3.0):
    extra = consume(c, lambda o, d: ACCEPT, never, secs, what)
    eq([(o, d) for o, _, d, _ in extra], [], f"{what}: records delivered in {secs:.0f} s of polling")


def setup(prefix, b=None, partitions=1):
    b = b or boot_groups()
    t = topic_name(f"share-{prefix}")
    confluent_create_topic(t, partitions, bootstrap=b)
    return b, t, group_name(prefix)


# ---- scenarios ----

def share_one_consumer():
    b, t, g = setup("one")
    c = share_consumer(b, g)
    try:
        wait_started(b, g, [c], lambda: c.subscribe([t]))
        eq(produce(b, t, "one", 50), list(range(50)), "acked offsets")
        log = consume(c, lambda o, d: ACCEPT, lambda l: len(l) >= 50, 30, "consuming 50 records")
        eq(sorted((o, v, d) for o, v, d, _ in log), [(i, f"one-{i}", 1) for i in range(50)],
           "(offset, value, delivery count) of the records delivered, each once")
        eq(len(log), 50, "deliveries")
        check_quiet(c, "after ACCEPTing all 50")
    finally:
        c.close()


def share_three_consumers_one_partition():
    b, t, g = setup("three")
    n = 300
    consumers = [share_consumer(b, g, max_poll_records=10, client_id=f"share-three-{i}") for i in range(3)]
    logs = [[] for _ in consumers]
    errors = []
    stop = threading.Event()

    def run(i):
        c = consumers[i]
        try:
            if i > 0:
                c.subscribe([t])
            while not stop.is_set():
                recs = take(c, 0.3, f"consumer {i}")
                for m, off, val, dc in recs:
                    c.acknowledge(m, ACCEPT)
                    logs[i].append((off, val, dc, ACCEPT))
                if recs:
                    commit(c, f"consumer {i}")
        except BaseException as e:  # noqa: BLE001 - reported by the scenario
            errors.append(f"consumer {i}: {type(e).__name__}: {e}")

    threads = []
    try:
        # consumer 0 warms up in this thread (to see the share-partition start); then all three run
        wait_started(b, g, [consumers[0]], lambda: consumers[0].subscribe([t]))
        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(3)]
        for th in threads:
            th.start()
        time.sleep(2)  # the others join the group and fetch
        check(not errors, f"consumer errors: {errors}")
        eq(produce(b, t, "three", n, chunk=10, pause=0.1), list(range(n)), "acked offsets")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(len(l) for l in logs) < n and not errors:
            time.sleep(0.2)
        time.sleep(2)  # duplicates, if any, show up
    finally:
        stop.set()
        for th in threads:
            th.join(20)
        for c in consumers:
            c.close()
    check(not errors, f"consumer errors: {errors}")
    counts = [len(l) for l in logs]
    print(f"records per consumer: {counts}", file=sys.stderr)
    every = sorted((o, v, d) for l in logs for o, v, d, _ in l)
    offs = [o for o, _, _ in every]
    dups = sorted({o for o in offs if offs.count(o) > 1})
    eq(dups, [], "offsets delivered more than once over the group")
    eq(every, [(i, f"three-{i}", 1) for i in range(n)],
       "(offset, value, delivery count) over the three consumers")
    check(sum(1 for k in counts if k > 0) >= 2, f"the work is shared: records per consumer {counts}")


def share_release_redelivers():
    b, t, g = setup("release")
    c = share_consumer(b, g)
    try:
        wait_started(b, g, [c], lambda: c.subscribe([t]))
        eq(produce(b, t, "rel", 10), list(range(10)), "acked offsets")
        log = consume(c, lambda o, d: RELEASE if d == 1 else ACCEPT,
                      lambda l: sum(1 for x in l if x[3] == ACCEPT) >= 10, 30, "RELEASE then ACCEPT")
        got = by_offset(log)
        eq(sorted(got), list(range(10)), f"offsets delivered ({fmt(log)})")
        for off in range(10):
            eq(got[off], [(f"rel-{off}", 1), (f"rel-{off}", 2)],
               f"deliveries (value, delivery count) of offset {off}")
        check_quiet(c, "after ACCEPTing the redeliveries")
    finally:
        c.close()


def share_delivery_limit():
    b, t, g = setup("limit")
    c = share_consumer(b, g)
    try:
        wait_started(b, g, [c], lambda: c.subscribe([t]))
        eq(produce(b, t, "lim", 5), list(range(5)), "acked offsets")
        log = consume(c, lambda o, d: RELEASE, lambda l: len(l) >= 25, 40, "RELEASE every delivery")
        check_quiet(c, "after the 5th release of each record (delivery count limit 5)", 3.0)
        got = by_offset(log)
        eq(sorted(got), list(range(5)), f"offsets delivered ({fmt(log)})")
        for off in range(5):
            eq(got[off], [(f"lim-{off}", k) for k in range(1, 6)],
               f"deliveries (value, delivery count) of offset {off}")
        eq(len(log), 25, "deliveries")
        # the archived records are skipped; the next record is delivered
        eq(produce(b, t, "lim", 1, start=5), [5], "acked offset of the 6th record")
        after = consume(c, lambda o, d: ACCEPT, lambda l: len(l) >= 1, 20, "the 6th record")
        check_quiet(c, "after the 6th record", 2.0)
        eq([(o, v, d) for o, v, d, _ in after], [(5, "lim-5", 1)], "deliveries after the limit")
    finally:
        c.close()


def share_reject():
    b, t, g = setup("reject")
    c = share_consumer(b, g)
    c2 = None
    try:
        wait_started(b, g, [c], lambda: c.subscribe([t]))
        eq(produce(b, t, "rej", 5), list(range(5)), "acked offsets")
        log = consume(c, lambda o, d: REJECT, lambda l: len(l) >= 5, 30, "REJECT")
        eq(sorted((o, v, d) for o, v, d, _ in log), [(i, f"rej-{i}", 1) for i in range(5)],
           "(offset, value, delivery count) of the rejected records")
        check_quiet(c, "after REJECT (same consumer)")
        c.close()
        c = None
        c2 = share_consumer(b, g)
        c2.subscribe([t])
        check_quiet(c2, "after REJECT (second consumer of the group)")
        eq(produce(b, t, "rej", 1, start=5), [5], "acked offset of the 6th record")
        after = consume(c2, lambda o, d: ACCEPT, lambda l: len(l) >= 1, 20, "the 6th record")
        check_quiet(c2, "after the 6th record", 2.0)
        eq([(o, v, d) for o, v, d, _ in after], [(5, "rej-5", 1)],
           "the second consumer's deliveries (only the record produced after the rejects)")
    finally:
        for x in (c, c2):
            if x is not None:
                x.close()


VICTIM = r"""
import json, sys, time
from confluent_kafka import ShareConsumer
b, g, t = sys.argv[1:4]
c = ShareConsumer({"bootstrap.servers": b, "group.id": g, "share.acknowledgement.mode": "explicit",
                   "client.id": "share-victim"})
c.subscribe([t])
print(json.dumps({"subscribed": True}), flush=True)
while True:
    ms = c.poll(0.2)
    if len(ms):
        bad = [str(m.error()) for m in ms if m.error() is not None]
        print(json.dumps({"errors": bad, "records": [[m.offset(), m.value().decode(), m.delivery_count()]
                                                     for m in ms if m.error() is None]}), flush=True)
        break
time.sleep(600)  # holds the acquired records, acknowledges nothing
"""


def share_consumer_killed():
    b, t, g = setup("killed")
    procs = []
    lines = []
    c2 = None

    def start_victim():
        # started inside wait_started: its watch on __share_group_state is already in place
        procs.append(subprocess.Popen([sys.executable, "-c", VICTIM, b, g, t], stdout=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, text=True))

        def reader():
            for line in procs[0].stdout:
                lines.append(json.loads(line))
        threading.Thread(target=reader, daemon=True).start()
    try:
        wait_started(b, g, [], start_victim, fallback=5)
        wait_until(lambda: lines, 20, "the victim consumer's subscription")
        victim = procs[0]
        eq(produce(b, t, "kill", 20), list(range(20)), "acked offsets (one produce request)")
        deadline = time.monotonic() + 30
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        check(len(lines) >= 2, "the victim got no records within 30s")
        eq(lines[1]["errors"], [], "errors in the victim's batch")
        held = lines[1]["records"]
        print(f"the victim acquired offsets {[o for o, _, _ in held]}", file=sys.stderr)
        check(held, "the victim's batch is empty")
        for off, val, dc in held:
            eq((val, dc), (f"kill-{off}", 1), f"victim's delivery of offset {off}")
        held_offs = sorted(o for o, _, _ in held)
        eq(len(set(held_offs)), len(held_offs), "the victim's batch has no duplicate offsets")
        # a second consumer joins: while the victim lives, it gets none of the victim's records
        c2 = share_consumer(b, g, client_id="share-survivor")
        c2.subscribe([t])
        before = consume(c2, lambda o, d: ACCEPT, never, 3.0, "the second consumer before the kill")
        eq(sorted(o for o, _, _, _ in before if o in held_offs), [],
           "records of the (live) victim delivered to the second consumer")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        t_kill = time.monotonic()
        after = consume(c2, lambda o, d: ACCEPT,
                        lambda l: len(before) + len(l) >= 20, 25, "the second consumer after the kill")
        took = time.monotonic() - t_kill
        check_quiet(c2, "the second consumer after it got all 20")
        both = before + after
        eq(sorted((o, v, d) for o, v, d, _ in both),
           sorted((o, f"kill-{o}", 2 if o in held_offs else 1) for o in range(20)),
           f"the second consumer's (offset, value, delivery count): the victim's {len(held_offs)} records "
           f"with count 2, the others with count 1")
        print(f"the victim's records arrived {took:.1f}s after the kill", file=sys.stderr)
        check(took < 10, f"the victim's records were released {took:.1f}s after its connection closed "
                         f"(expected at once, well before the 30 s acquisition lock)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        if c2 is not None:
            c2.close()


def restart_scenario(how):
    own = OwnBroker(f"share-{how}").start()
    c = c2 = None
    try:
        b, t, g = setup(how, b=own.addr)
        c = share_consumer(b, g, max_poll_records=10)
        wait_started(b, g, [c], lambda: c.subscribe([t]))
        eq(produce(b, t, "rs", 100), list(range(100)), "acked offsets of the first 100")
        log = consume(c, lambda o, d: ACCEPT, lambda l: len(l) >= 100, 30, "ACCEPTing the first 100")
        eq(sorted((o, v, d) for o, v, d, _ in log), [(i, f"rs-{i}", 1) for i in range(100)],
           "the first consumer's (offset, value, delivery count)")
        c.close()  # every batch was ACCEPTed and commit_sync'ed
        c = None
        eq(produce(b, t, "rs", 100, start=100), list(range(100, 200)), "acked offsets of the next 100")
        if how == "kill9":
            own.proc.kill()
            own.proc.wait(10)
        else:
            rc = own.stop()
            eq(rc, 0, "the broker's exit code after SIGTERM")
        own.start()
        c2 = share_consumer(b, g)
        c2.subscribe([t])
        log2 = consume(c2, lambda o, d: ACCEPT, lambda l: len(l) >= 100, 40, "a new consumer after the restart")
        check_quiet(c2, "the new consumer after it got 100")
        eq(sorted((o, v, d) for o, v, d, _ in log2), [(i, f"rs-{i}", 1) for i in range(100, 200)],
           f"after {'kill -9' if how == 'kill9' else 'SIGTERM'} and a restart, the new consumer's "
           f"(offset, value, delivery count) (ACCEPTed 0..99 must not come back, 100..199 must)")
    finally:
        for x in (c, c2):
            if x is not None:
                x.close()
        own.stop()


def commit_errors(c, what):
    """commit_sync; returns {partition: error code or None}."""
    res = c.commit_sync(30)
    out = {}
    for tp, err in res.items():
        e = tp.error or (err.args[0] if err is not None else None)
        out[tp.partition] = None if e is None else e.code()
    return out


def share_lock_expiry():
    b, t, g = setup("lock")
    ca = share_consumer(b, g, client_id="share-lock-a")
    cb = c2 = None
    try:
        wait_started(b, g, [ca], lambda: ca.subscribe([t]))
        eq(produce(b, t, "lock", 5), list(range(5)), "acked offsets 0..4")
        held_a = consume(ca, lambda o, d: None, lambda l: len(l) >= 5, 20, "consumer a acquiring 0..4",
                         ack=False)
        t_a = time.monotonic()
        eq([(o, v, d) for o, v, d, _, _ in held_a], [(i, f"lock-{i}", 1) for i in range(5)], "consumer a's batch")
        cb = share_consumer(b, g, client_id="share-lock-b")
        cb.subscribe([t])
        time.sleep(1)
        eq(produce(b, t, "lock", 5, start=5), list(range(5, 10)), "acked offsets 5..9")
        held_b = consume(cb, lambda o, d: None, lambda l: len(l) >= 5, 20, "consumer b acquiring 5..9",
                         ack=False)
        eq([(o, v, d) for o, v, d, _, _ in held_b], [(i, f"lock-{i}", 1) for i in range(5, 10)], "consumer b's batch")
        # neither acknowledges: a third consumer gets the records when the 30 s locks expire
        c2 = share_consumer(b, g, client_id="share-lock-c")
        c2.subscribe([t])
        got = consume(c2, lambda o, d: None, lambda l: {o for o, *_ in l} >= set(range(5)), 45,
                      "consumer c waiting for a's records to be released by the lock expiry", ack=False)
        took = time.monotonic() - t_a
        check({o for o, *_ in got} >= set(range(5)),
              f"consumer c's first batch after the expiry: {[(o, d) for o, _, d, *_ in got]} (expected a's 0..4)")
        print(f"a's records redelivered {took:.1f}s after a acquired them", file=sys.stderr)
        check(25 <= took <= 40, f"a's records came back {took:.1f}s after a acquired them (lock 30 s)")
        # a's late ACCEPT of records now acquired by c: INVALID_RECORD_STATE
        for m in held_a:
            ca.acknowledge(m[4], ACCEPT)
        eq(commit_errors(ca, "a's late ACCEPT"), {0: 121},
           "a's late ACCEPT of records c holds (commit_sync per partition: INVALID_RECORD_STATE)")
        for m in got:
            c2.acknowledge(m[4], ACCEPT)
        eq(commit_errors(c2, "c's ACCEPT"), {0: None}, "c's ACCEPT of its batch")
        got += consume(c2, lambda o, d: ACCEPT, lambda l: {o for o, *_ in got + l} >= set(range(10)), 45,
                       "consumer c waiting for b's records")
        eq(sorted((o, v, d) for o, v, d, *_ in got), [(i, f"lock-{i}", 2) for i in range(10)],
           "consumer c's (offset, value, delivery count) after the lock expiries")
        check_quiet(c2, "consumer c after ACCEPTing all 10", 2.0)
        # b's late ACCEPT of records c already ACCEPTed (below the share-partition start offset):
        # Kafka's SharePartition finds no in-flight batch for them: INVALID_RECORD_STATE
        for m in held_b:
            cb.acknowledge(m[4], ACCEPT)
        eq(commit_errors(cb, "b's late ACCEPT"), {0: 121},
           "b's late ACCEPT of records another member already ACCEPTed (commit_sync per partition)")
        for c in (ca, cb):
            eq([x[:3] for x in consume(c, lambda o, d: ACCEPT, never, 1.0, "a/b after the late acks")], [],
               "records delivered to a or b after their late acknowledgements")
    finally:
        for x in (ca, cb, c2):
            if x is not None:
                x.close()


def share_broker_restart():
    restart_scenario("restart")


def share_broker_kill9():
    restart_scenario("kill9")


# ---- raw ListGroups v5 / ShareGroupDescribe v1 (flexible versions) ----

def uvarint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carr(items):
    return uvarint(len(items) + 1) + b"".join(items)


def flex_request(addr, key, version, body, correlation_id=11):
    """Send one request with header v2; return the body reader (after the v1 response header)."""
    payload = struct.pack(">hhi", key, version, correlation_id) + rawproto._str("compat-share") + b"\x00" + body
    s = rawproto.connect(addr)
    try:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", rawproto.recv_exact(s, 4))[0]
        r = Flex(rawproto.recv_exact(s, size))
    finally:
        s.close()
    eq(r.i32(), correlation_id, "correlation id")
    r.tags()
    return r


class Flex(rawproto.Reader):
    def uv(self):
        n = shift = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def cstring(self):
        n = self.uv() - 1
        return None if n < 0 else self.take(n).decode()

    def carray(self, fn):
        n = self.uv() - 1
        return None if n < 0 else [fn() for _ in range(n)]

    def tags(self):
        for _ in range(self.uv()):
            self.uv()
            self.take(self.uv())


def list_groups(addr, types=(), states=()):
    r = flex_request(addr, 16, 5, carr([cstr(s) for s in states]) + carr([cstr(s) for s in types]) + b"\x00")
    r.i32()
    err = r.i16()

    def group():
        v = (r.cstring(), r.cstring(), r.cstring(), r.cstring())
        r.tags()
        return v
    groups = r.carray(group)
    r.tags()
    eq(err, 0, "ListGroups v5 error code")
    return groups


def share_group_describe(addr, groups):
    r = flex_request(addr, 77, 1, carr([cstr(g) for g in groups]) + b"\x00" + b"\x00")
    r.i32()

    def topic_parts():
        v = {"topic_id": r.take(16).hex(), "topic": r.cstring(), "partitions": r.carray(r.i32)}
        r.tags()
        return v

    def member():
        m = {"member_id": r.cstring(), "rack": r.cstring(), "epoch": r.i32(), "client_id": r.cstring(),
             "host": r.cstring(), "subscribed": r.carray(r.cstring)}
        m["assignment"] = r.carray(topic_parts)
        r.tags()  # Assignment's
        r.tags()  # the member's
        return m

    def group():
        g = {"error": r.i16(), "message": r.cstring(), "group": r.cstring(), "state": r.cstring(),
             "epoch": r.i32(), "assignment_epoch": r.i32(), "assignor": r.cstring(), "members": r.carray(member),
             "authorized_operations": r.i32()}
        r.tags()
        return g
    out = r.carray(group)
    r.tags()
    check(r.done(), "ShareGroupDescribe v1 response fully parsed")
    return {g["group"]: g for g in out}


def share_describe_list():
    b, t, g = setup("desc", partitions=2)
    c = share_consumer(b, g, client_id="share-desc-1")
    try:
        wait_started(b, g, [c], lambda: c.subscribe([t]))
        mine = lambda gs: [x for x in gs if x[0] == g]  # noqa: E731
        want = [(g, "share", "Stable", "share")]
        eq(mine(list_groups(b, types=["share"])), want, "ListGroups v5 TypesFilter [share]: (id, protocol type, state, type)")
        eq(mine(list_groups(b)), want, "ListGroups v5 without filters")
        eq(mine(list_groups(b, types=["share"], states=["Stable"])), want, "ListGroups v5 [share] + StatesFilter [Stable]")
        eq(mine(list_groups(b, types=["consumer", "classic"])), [], "ListGroups v5 TypesFilter [consumer, classic]")
        eq(mine(list_groups(b, states=["Empty"])), [], "ListGroups v5 StatesFilter [Empty] while a member is in")
        unknown = group_name("nosuch")
        d = share_group_describe(b, [g, unknown])
        x = d[g]
        eq((x["error"], x["state"], x["assignor"]), (0, "Stable", "simple"), "ShareGroupDescribe (error, state, assignor)")
        check(x["epoch"] >= 1 and x["assignment_epoch"] == x["epoch"],
              f"group epoch {x['epoch']}, assignment epoch {x['assignment_epoch']}")
        eq(len(x["members"]), 1, f"members ({x['members']})")
        m = x["members"][0]
        eq((m["client_id"], m["subscribed"]), ("share-desc-1", [t]), "the member's client id and subscription")
        check(m["host"].endswith("127.0.0.1"), f"the member's host {m['host']!r}")
        eq([(a["topic"], sorted(a["partitions"])) for a in m["assignment"]], [(t, [0, 1])], "the member's assignment")
        eq(d[unknown]["error"], 69, "ShareGroupDescribe of an unknown group: GROUP_ID_NOT_FOUND")
        c.close()
        c = None
        eq(mine(list_groups(b, types=["share"])), [(g, "share", "Empty", "share")], "ListGroups after the member closed")
        x = share_group_describe(b, [g])[g]
        eq((x["error"], x["state"], x["members"]), (0, "Empty", []), "ShareGroupDescribe after close (error, state, members)")
    finally:
        if c is not None:
            c.close()


SCENARIOS = {
    "share_one_consumer": share_one_consumer,
    "share_three_consumers_one_partition": share_three_consumers_one_partition,
    "share_release_redelivers": share_release_redelivers,
    "share_delivery_limit": share_delivery_limit,
    "share_reject": share_reject,
    "share_consumer_killed": share_consumer_killed,
    "share_lock_expiry": share_lock_expiry,
    "share_broker_restart": share_broker_restart,
    "share_broker_kill9": share_broker_kill9,
    "share_describe_list": share_describe_list,
}

if __name__ == "__main__":
    main(SCENARIOS)
