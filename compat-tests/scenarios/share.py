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

Dead-letter queue (KIP-1191) and skua's extensions (record filter on the `skua.tag` header, delayed
delivery, redelivery backoff), and `skua group describe`: each scenario sets its group configs with
IncrementalAlterConfigs on the GROUP resource, with share.auto.offset.reset=earliest, and produces
before subscribing (see compat-tests/README.md for what each asserts):
`share_dlq_reject_copy`, `share_dlq_copy_duplicate_headers`, `share_dlq_delivery_limit_headers_only`,
`share_dlq_not_enabled`, `share_dlq_auto_create`, `share_dlq_once_across_kill9`,
`share_dlq_once_kill9_after_ack`, `share_record_filter`, `share_delayed_delivery`,
`share_redelivery_backoff`, `share_auto_offset_reset_earliest_and_latest`, `share_group_describe_cli`.
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
from common import (Fail, OwnBroker, boot_groups, check, confluent_create_topic, confluent_read, env, eq,
                    main, short, topic_name, wait_until)

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


# ---- dead-letter queue (KIP-1191) and skua's share extensions ----
#
# Each scenario sets its group's configs with IncrementalAlterConfigs on the GROUP resource before
# any member joins, with share.auto.offset.reset=earliest: records are produced before anyone
# subscribes, and a new share-partition starts at the log start.

DLQ_HEADERS = ("__dlq.errors.topic", "__dlq.errors.partition", "__dlq.errors.offset", "__dlq.errors.group",
               "__dlq.errors.delivery.count")
DLQ_ENABLE = "errors.deadletterqueue.group.enable"


def set_group_configs(b, g, configs):
    """IncrementalAlterConfigs (SET) of `configs` on group `g` (which need not exist yet)."""
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
    a = AdminClient({"bootstrap.servers": b})
    res = ConfigResource(ConfigResource.Type.GROUP, g, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()])
    for r, f in a.incremental_alter_configs([res], request_timeout=15).items():
        try:
            f.result(timeout=20)
        except Exception as e:  # noqa: BLE001 - the broker's refusal is the failure
            raise Fail(f"IncrementalAlterConfigs of group {g} {configs}: {e}") from e


def topic_configs(b, t):
    from confluent_kafka.admin import AdminClient, ConfigResource
    a = AdminClient({"bootstrap.servers": b})
    fs = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, t)], request_timeout=15)
    return {k: v.value for k, v in list(fs.values())[0].result(timeout=20).items()}


def produce_records(b, t, recs, compression="none"):
    """recs: [(partition, key, value, headers)], produced in order in one flush. Returns [(partition,
    offset, CreateTime timestamp)] per record, from the delivery reports."""
    out = [None] * len(recs)
    errs = []
    p = Producer({"bootstrap.servers": b, "linger.ms": 5, "compression.type": compression})
    for i, (part, k, v, h) in enumerate(recs):
        def cb(err, msg, i=i):
            if err is not None:
                errs.append(str(err))
            else:
                out[i] = (msg.partition(), msg.offset(), msg.timestamp()[1])
        p.produce(t, key=k, value=v, headers=h, partition=part, on_delivery=cb)
    check(p.flush(20) == 0, f"records to {t} not delivered within 20s")
    check(not errs and None not in out, f"produce to {t} failed: {errs[:3]}")
    return out


def expect_offsets(acked, what):
    """Per partition, the records of one producer flush land at 0, 1, 2, ... in produce order."""
    nxt = {}
    for part, off, _ in acked:
        eq(off, nxt.get(part, 0), f"{what}: acked offset of the next record on partition {part}")
        nxt[part] = off + 1


def consume_recs(c, decide, until, timeout, what, log=None, poll=0.1):
    """Poll until `until(log)` or `timeout`; each record becomes a dict (partition, offset, key, value,
    headers, count, t = wall-clock ms when its poll returned), is acknowledged with `decide(rec)`
    (stored as rec["ack"]), and every non-empty batch is commit_sync'ed."""
    log = [] if log is None else log
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(log):
        ms = c.poll(poll)
        now = time.time() * 1000
        for m in ms:
            if m.error() is not None:
                raise Fail(f"{what}: poll returned an error: {m.error()}")
            r = {"partition": m.partition(), "offset": m.offset(), "key": m.key(), "value": m.value(),
                 "headers": m.headers(), "count": m.delivery_count(), "t": now}
            r["ack"] = decide(r)
            c.acknowledge(m, r["ack"])
            log.append(r)
        if ms:
            commit(c, what)
    return log


def quiet(c, what, secs=3.0):
    extra = consume_recs(c, lambda r: ACCEPT, never, secs, what)
    eq([(r["partition"], r["offset"], r["count"]) for r in extra], [],
       f"{what}: (partition, offset, delivery count) delivered in {secs:.0f} s of polling")


def pcount(n):
    return lambda log: len(log) >= n


def high_watermarks(b, t, parts):
    c = Consumer({"bootstrap.servers": b, "group.id": "compat-unused-" + uuid.uuid4().hex[:8]})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(t, p), timeout=10, cached=False)[1] for p in parts}
    finally:
        c.close()


def dlq_expected_headers(src, part, off, g, count, original=()):
    return list(original or []) + [(DLQ_HEADERS[0], src.encode()), (DLQ_HEADERS[1], str(part).encode()),
                                   (DLQ_HEADERS[2], str(off).encode()), (DLQ_HEADERS[3], g.encode()),
                                   (DLQ_HEADERS[4], str(count).encode())]


def dlq_source(rec):
    """(partition, offset) of the source record a dead-letter record names in its headers."""
    h = dict(rec["headers"] or [])
    return int(h[DLQ_HEADERS[1]]), int(h[DLQ_HEADERS[2]])


def read_dlq(b, dlq, parts, n, linger=1.5, timeout=15):
    got = confluent_read(dlq, parts, n, bootstrap=b, timeout=timeout, linger=linger)
    return [r for p in parts for r in got[p]]


def skua_cli(*args, timeout=30):
    r = subprocess.run([env("SKUA_BIN"), *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    check(r.returncode == 0, f"skua {' '.join(args)} exited {r.returncode}: {r.stderr.strip()[:400]}")
    return r.stdout


def describe_table(b, g):
    """`skua group describe G`: (header lines as {key: value}, member rows, partition rows), each row a
    dict by column name."""
    out = skua_cli("group", "describe", g, "--bootstrap-server", b)
    head, tables, cur = {}, [], None
    for line in out.splitlines():
        if not line.strip():
            cur = None
            continue
        if cur is None and ":" in line and not line.split()[0].isupper():
            k, v = line.split(":", 1)
            head[k.strip()] = v.strip()
            continue
        if cur is None:
            cur = {"cols": line.split(), "rows": []}
            tables.append(cur)
            continue
        cells = line.split(None, len(cur["cols"]) - 1)
        cur["rows"].append(dict(zip(cur["cols"], cells)))
    members = next((t["rows"] for t in tables if t["cols"][0] == "MEMBER"), [])
    parts = next((t["rows"] for t in tables if t["cols"][0] == "TOPIC"), [])
    return head, members, parts, out


def describe_json(b, g):
    return json.loads(skua_cli("group", "describe", g, "--bootstrap-server", b, "--output", "json"))


def dlq_setup(prefix, b=None, src_parts=1, dlq_parts=1, dlq_enable=True, copy=True, extra=None, create_dlq=True):
    b, t, g = setup(prefix, b=b, partitions=src_parts)
    dlq = "dlq." + t
    if create_dlq:
        confluent_create_topic(dlq, dlq_parts, bootstrap=b, config={DLQ_ENABLE: "true"} if dlq_enable else {})
    cfg = {"share.auto.offset.reset": "earliest", "errors.deadletterqueue.topic.name": dlq,
           "errors.deadletterqueue.copy.record.enable": "true" if copy else "false"}
    cfg.update(extra or {})
    set_group_configs(b, g, cfg)
    return b, t, g, dlq


def share_dlq_reject_copy():
    b, t, g, dlq = dlq_setup("dlqcopy", src_parts=3, dlq_parts=2)
    n = 30
    recs = [(i % 3, f"k-{i}".encode(), f"dlq-{i}".encode(),
             [("h-a", f"a{i}".encode()), ("h-empty", b""), ("h-null", None), ("h-b", bytes([0, 255, i]))])
            for i in range(n)]
    acked = produce_records(b, t, recs, compression="lz4")  # the copies come out of compressed batches
    expect_offsets(acked, "source topic")
    src = {(p, o): (i, ts) for i, (p, o, ts) in enumerate(acked)}
    c = share_consumer(b, g)
    try:
        c.subscribe([t])
        log = consume_recs(c, lambda r: REJECT if int(r["value"].decode().rsplit("-", 1)[1]) % 2 else ACCEPT,
                           pcount(n), 30, "REJECT odd values, ACCEPT even ones")
        t_acked = time.time() * 1000
        eq(sorted((r["partition"], r["offset"], r["key"], r["value"], r["headers"], r["count"]) for r in log),
           sorted((p, o, recs[i][1], recs[i][2], recs[i][3], 1) for (p, o), (i, _) in src.items()),
           "the share consumer's records (partition, offset, key, value, headers, delivery count), each once")
        rejected = {(r["partition"], r["offset"]): r for r in log if r["ack"] == REJECT}
        eq(len(rejected), n // 2, "records rejected")
        got = read_dlq(b, dlq, [0, 1], len(rejected))
        eq(len(got), len(rejected), f"records in {dlq} (one per rejected record)")
        seen = []
        for d in got:
            h = dict(d["headers"] or [])
            check(DLQ_HEADERS[1] in h and DLQ_HEADERS[2] in h,
                  f"dead-letter record {dlq}[{d['partition']}]@{d['offset']} without the source headers: {d['headers']}")
            sp, so = int(h[DLQ_HEADERS[1]]), int(h[DLQ_HEADERS[2]])
            check((sp, so) in rejected, f"{dlq} holds a copy of {t}[{sp}]@{so}, which was not rejected "
                                        f"(headers {d['headers']})")
            seen.append((sp, so))
            i, ts_src = src[(sp, so)]
            eq(d["partition"], sp % 2, f"dead-letter partition of {t}[{sp}]@{so} (source partition % 2)")
            eq((d["key"], d["value"]), (recs[i][1], recs[i][2]), f"key and value of the copy of {t}[{sp}]@{so}")
            eq(d["headers"], dlq_expected_headers(t, sp, so, g, 1, recs[i][3]),
               f"headers of the copy of {t}[{sp}]@{so} (the original's, then the five __dlq.errors.* ones)")
            eq(d["timestamp_type"], 1, f"timestamp type of the copy of {t}[{sp}]@{so} (CreateTime)")
            recv = rejected[(sp, so)]["t"]
            check(recv - 5 <= d["timestamp"] <= t_acked + 2000,
                  f"timestamp of the copy of {t}[{sp}]@{so}: {d['timestamp']}, expected the write time: between "
                  f"the record's delivery {recv:.0f} and 2 s after its REJECT was committed {t_acked:.0f} "
                  f"(the original's {ts_src})")
        eq(sorted(seen), sorted(rejected), "source (partition, offset) of the dead-letter records, each once")
        quiet(c, "after the REJECTs (rejected records must not come back)", 2.0)

        def described():
            d = describe_json(b, g)
            return {p["partition"]: (p["start_offset"], p.get("dead_letter"), p.get("dead_letter_pending"))
                    for p in d["partitions"]}
        want = {p: (10, sum(1 for sp, _ in rejected if sp == p), 0) for p in range(3)}
        try:
            wait_until(lambda: described() == want, 5, "")
        except Fail:
            pass
        eq(described(), want, "skua group describe: partition -> (start offset, dead_letter, dead_letter_pending)")
    finally:
        c.close()


def share_dlq_copy_duplicate_headers():
    b, t, g, dlq = dlq_setup("dlqdup")
    hdrs = [("dup", b"1"), ("x", b"a"), ("dup", b"2"), ("dup", None), ("x", b"")]
    expect_offsets(produce_records(b, t, [(0, b"k", b"v", hdrs)]), "source")
    c = share_consumer(b, g)
    try:
        c.subscribe([t])
        log = consume_recs(c, lambda r: REJECT, pcount(1), 30, "REJECT")
        eq([(r["offset"], r["key"], r["value"], r["headers"], r["count"]) for r in log], [(0, b"k", b"v", hdrs, 1)],
           "the share consumer's record (offset, key, value, headers with repeated keys, count)")
        dl = read_dlq(b, dlq, [0], 1)
        eq([(d["key"], d["value"]) for d in dl], [(b"k", b"v")], f"key and value of the copy in {dlq}")
        got = [(k, v) for k, v in dl[0]["headers"] if not k.startswith("__dlq.")]
        check(got == hdrs, f"the original headers in the copy in {dlq} (a record's headers are a list: every one in "
                           f"order, repeated keys included): expected {hdrs}, got {got}")
        eq(dl[0]["headers"], dlq_expected_headers(t, 0, 0, g, 1, hdrs), f"headers of the copy in {dlq}")
    finally:
        c.close()


def share_dlq_delivery_limit_headers_only():
    b, t, g, dlq = dlq_setup("dlqlimit", dlq_parts=1, copy=False, extra={"share.delivery.count.limit": "2"})
    n = 5
    recs = [(0, f"k-{i}".encode(), f"lim-{i}".encode(), [("h", b"x")]) for i in range(n)]
    expect_offsets(produce_records(b, t, recs), "source topic")
    c = share_consumer(b, g)
    try:
        c.subscribe([t])
        log = consume_recs(c, lambda r: RELEASE, pcount(2 * n), 30, "RELEASE every delivery (limit 2)")
        quiet(c, "after the 2nd RELEASE of each record (share.delivery.count.limit=2)")
        got = {}
        for r in log:
            got.setdefault(r["offset"], []).append((r["value"].decode(), r["count"]))
        eq(sorted(got), list(range(n)), "offsets delivered")
        for o in range(n):
            eq(got[o], [(f"lim-{o}", 1), (f"lim-{o}", 2)], f"deliveries (value, delivery count) of offset {o}")
        dl = read_dlq(b, dlq, [0], n)
        eq(sorted((d["partition"], d["key"], d["value"], tuple(d["headers"] or ())) for d in dl),
           sorted((0, None, None, tuple(dlq_expected_headers(t, 0, o, g, 2))) for o in range(n)),
           f"records of {dlq} (copy.record.enable=false: null key and value, only the __dlq.errors.* headers, "
           f"delivery count 2)")
    finally:
        c.close()


def share_dlq_not_enabled():
    b, t, g, dlq = dlq_setup("dlqoff", dlq_parts=1, dlq_enable=False)
    n = 5
    expect_offsets(produce_records(b, t, [(0, None, f"off-{i}".encode(), None) for i in range(n)]), "source")
    c = share_consumer(b, g)
    try:
        c.subscribe([t])
        log = consume_recs(c, lambda r: REJECT, pcount(n), 30, "REJECT")
        eq(sorted((r["offset"], r["count"]) for r in log), [(i, 1) for i in range(n)], "(offset, count) rejected")
        quiet(c, "after REJECT with a dead-letter topic that is not enabled", 3.0)
        eq(high_watermarks(b, dlq, [0]), {0: 0},
           f"high watermark of {dlq} (exists without {DLQ_ENABLE}=true: no copies) 3 s after the REJECTs")
        d = {p["partition"]: (p["start_offset"], p.get("dead_letter"), p.get("dead_letter_pending"))
             for p in describe_json(b, g)["partitions"]}
        eq(d, {0: (n, 0, 0)}, "skua group describe: partition -> (start offset, dead_letter, dead_letter_pending)")
    finally:
        c.close()


def share_dlq_auto_create():
    own = OwnBroker("dlq-auto", ["--set", "errors.deadletterqueue.auto.create.topics.enable=true",
                                 "--set", "num.partitions=3", "--set", "auto.create.topics.enable=false"]).start()
    c = None
    try:
        b, t, g, dlq = dlq_setup("dlqauto", b=own.addr, src_parts=2, create_dlq=False)
        recs = [(p, f"k{p}".encode(), f"auto-{p}".encode(), [("h", str(p).encode())]) for p in (0, 1)]
        expect_offsets(produce_records(b, t, recs), "source")
        from confluent_kafka.admin import AdminClient
        a = AdminClient({"bootstrap.servers": b})
        check(dlq not in a.list_topics(timeout=10).topics, f"{dlq} exists before any record failed")
        c = share_consumer(b, g)
        c.subscribe([t])
        log = consume_recs(c, lambda r: REJECT, pcount(2), 30, "REJECT")
        eq(sorted((r["partition"], r["offset"], r["count"]) for r in log), [(0, 0, 1), (1, 0, 1)], "rejected")
        md = wait_until(lambda: a.list_topics(timeout=5).topics.get(dlq), 15,
                        f"{dlq} created by the broker (errors.deadletterqueue.auto.create.topics.enable=true)")
        eq(len(md.partitions), 3, f"partitions of the created {dlq} (num.partitions=3)")
        eq(topic_configs(b, dlq).get(DLQ_ENABLE), "true", f"{DLQ_ENABLE} of the created {dlq}")
        dl = read_dlq(b, dlq, [0, 1, 2], 2)
        eq(sorted((d["partition"], d["key"], d["value"], d["headers"]) for d in dl),
           [(p, f"k{p}".encode(), f"auto-{p}".encode(), dlq_expected_headers(t, p, 0, g, 1, [("h", str(p).encode())]))
            for p in (0, 1)], f"records of the created {dlq} (partition = source partition % 3)")
    finally:
        if c is not None:
            c.close()
        own.stop()


def dlq_once_scenario(kill_early):
    """Own broker; 50 records (2 partitions) REJECTed per round, DLQ of 2 partitions, kill -9 and a
    restart per round: either once the DLQ holds the round's copies (one round), or right after the
    consumer's last commit_sync returned, 0 / 5 / 20 ms later (three rounds: the copies may or may
    not be written, the pending list is). The consumer keeps running across the restarts."""
    own = OwnBroker("dlq-once-" + ("early" if kill_early else "late")).start()
    c = c2 = None
    n = 50
    delays = [0.0, 0.005, 0.02] if kill_early else [None]
    try:
        b, t, g, dlq = dlq_setup("dlqonce", b=own.addr, src_parts=2, dlq_parts=2)
        c = share_consumer(b, g)
        c.subscribe([t])
        want = []
        after = []
        for k, delay in enumerate(delays):
            lo = k * n
            acked = produce_records(b, t, [(i % 2, None, f"once-{i}".encode(), None) for i in range(lo, lo + n)])
            eq([(p, o) for p, o, _ in acked], [(i % 2, i // 2) for i in range(lo, lo + n)], f"round {k}: acked offsets")
            want += [(p, o) for p, o, _ in acked]
            log = consume_recs(c, lambda r: REJECT, pcount(n), 30, f"round {k}: REJECT {n} records")
            if delay is not None:
                time.sleep(delay)
                own.proc.kill()
                own.proc.wait(10)
            eq(sorted((r["partition"], r["offset"], r["count"]) for r in log), sorted((p, o, 1) for p, o, _ in acked),
               f"round {k}: rejected (partition, offset, count), each once")
            if delay is None:
                wait_until(lambda: sum(high_watermarks(b, dlq, [0, 1]).values()) >= len(want), 15,
                           f"{len(want)} records in {dlq}")
                time.sleep(0.5)
                eq(sum(high_watermarks(b, dlq, [0, 1]).values()), len(want), f"records in {dlq} before the kill")
                own.proc.kill()
                own.proc.wait(10)
            own.start()

            # the consumer (still running) fetches again: the share-partitions are loaded after the restart
            def copied():
                consume_recs(c, lambda r: ACCEPT, never, 0.3, "the consumer after a restart", log=after)
                return sum(high_watermarks(b, dlq, [0, 1]).values()) >= len(want)
            wait_until(copied, 20, f"round {k}: {len(want)} records in {dlq} after kill -9 and a restart")
        consume_recs(c, lambda r: ACCEPT, never, 3.0, "the consumer after the last restart", log=after)
        eq([(r["partition"], r["offset"], r["count"]) for r in after], [],
           "records delivered after the restarts (every record was rejected)")
        hw = high_watermarks(b, dlq, [0, 1])
        dl = read_dlq(b, dlq, [0, 1], len(want))
        srcs = sorted(dlq_source(d) for d in dl)
        dups = sorted({s for s in srcs if srcs.count(s) > 1})
        eq(dups, [], f"source (partition, offset) copied more than once to {dlq} (kill -9 "
                     f"{'right after the REJECTs were committed' if kill_early else 'after all copies were written'})")
        eq(srcs, sorted(want), f"source (partition, offset) of the records in {dlq}")
        eq(sum(hw.values()), len(want), f"records in {dlq} (high watermarks {hw})")
        for d in dl:
            sp, so = dlq_source(d)
            eq((d["partition"], d["value"], d["headers"]),
               (sp, f"once-{2 * so + sp}".encode(), dlq_expected_headers(t, sp, so, g, 1)),
               f"dead-letter record of {t}[{sp}]@{so}")
        c.close()
        c = None
        c2 = share_consumer(b, g)
        c2.subscribe([t])
        quiet(c2, "a new consumer of the group after the restarts", 2.0)
    finally:
        for x in (c, c2):
            if x is not None:
                x.close()
        own.stop()


def share_dlq_once_across_kill9():
    dlq_once_scenario(kill_early=False)


def share_dlq_once_kill9_after_ack():
    dlq_once_scenario(kill_early=True)


def share_record_filter():
    b, t, g1 = setup("filter")
    g2 = group_name("nofilter")
    dlq = "dlq." + t  # g1's dead-letter topic: filtered records are not failures, none is copied
    confluent_create_topic(dlq, 1, bootstrap=b, config={DLQ_ENABLE: "true"})
    set_group_configs(b, g1, {"share.auto.offset.reset": "earliest", "skua.share.record.filter": "A || B",
                              "errors.deadletterqueue.topic.name": dlq})
    set_group_configs(b, g2, {"share.auto.offset.reset": "earliest"})
    tags = ["A", "B", "C", None, "AB", "a"]
    n = 30
    recs = [(0, None, f"flt-{i}".encode(), [("skua.tag", tags[i % 6].encode())] if tags[i % 6] else [("x", b"1")])
            for i in range(n)]
    expect_offsets(produce_records(b, t, recs, compression="zstd"), "source")
    passing = [i for i in range(n) if tags[i % 6] in ("A", "B")]
    c1 = share_consumer(b, g1)
    c2 = share_consumer(b, g2)
    try:
        c1.subscribe([t])
        c2.subscribe([t])
        log2 = consume_recs(c2, lambda r: ACCEPT, pcount(n), 30, "the group without a filter")
        log1 = consume_recs(c1, lambda r: ACCEPT, pcount(len(passing)), 20, "the group with filter A || B")
        quiet(c1, "the filtered group after its A and B records", 2.0)
        quiet(c2, "the unfiltered group after all records", 0.5)
        eq(sorted((r["offset"], r["value"].decode(), r["count"]) for r in log1),
           [(i, f"flt-{i}", 1) for i in passing],
           "filter 'A || B': (offset, value, delivery count) delivered (tags A and B only; not C, AB, a, none)")
        eq(sorted((r["offset"], r["value"].decode(), r["count"]) for r in log2),
           [(i, f"flt-{i}", 1) for i in range(n)], "no filter: (offset, value, delivery count) delivered")
        want = [t, "0", str(n), str(n), "0", "0", str(n - len(passing)), "0", "0"]
        cols = ["TOPIC", "PARTITION", "START-OFFSET", "END-OFFSET", "AVAILABLE", "ACQUIRED", "FILTERED", "DLQ",
                "DLQ-PENDING"]

        def rows(g):
            _, _, parts, out = describe_table(b, g)
            return [[r.get(k) for k in cols] for r in parts], out
        try:
            wait_until(lambda: rows(g1)[0] == [want], 5, "")
        except Fail:
            pass
        got, out = rows(g1)
        eq(got, [want], f"skua group describe {g1}: partition rows {cols} (FILTERED = C, AB, a and untagged)\n{out}")
        got, out = rows(g2)
        eq(got, [[t, "0", str(n), str(n), "0", "0", "0", "0", "0"]], f"skua group describe {g2} (no filter)\n{out}")
        eq(high_watermarks(b, dlq, [0]), {0: 0}, f"high watermark of {g1}'s dead-letter topic (filtered records are "
                                                 f"not dead-lettered)")
        # a group config change applies to the records not yet delivered: g2 now filters on C
        set_group_configs(b, g2, {"skua.share.record.filter": "C"})
        more = [(0, None, f"flt-{i}".encode(), [("skua.tag", tags[i % 6].encode())] if tags[i % 6] else None)
                for i in range(n, n + 6)]
        eq([o for _, o, _ in produce_records(b, t, more)], list(range(n, n + 6)), "acked offsets of 6 more")
        log1 = consume_recs(c1, lambda r: ACCEPT, pcount(2), 20, "g1 (A || B), 6 more records")
        log2 = consume_recs(c2, lambda r: ACCEPT, pcount(1), 20, "g2 after its filter was set to C")
        quiet(c1, "g1 after the 6 more", 1.5)
        quiet(c2, "g2 after the 6 more", 0.5)
        eq(sorted((r["offset"], r["count"]) for r in log1), [(n, 1), (n + 1, 1)], "g1 (A || B): the A and B of the 6 more")
        eq(sorted((r["offset"], r["count"]) for r in log2), [(n + 2, 1)],
           "g2 after IncrementalAlterConfigs set skua.share.record.filter=C: only the C record of the 6 more")
    finally:
        c1.close()
        c2.close()


def poll_both(pairs, stop, timeout, poll=0.05):
    """Poll several (consumer, decide, log) in turn until stop() or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop(None):
        for c, decide, log in pairs:
            consume_recs(c, decide, never, poll, "poll", log=log, poll=poll)


def share_delayed_delivery():
    b, t, g_on = setup("delayed")
    g_off = group_name("undelayed")
    set_group_configs(b, g_on, {"share.auto.offset.reset": "earliest", "skua.share.delayed.delivery.enable": "true"})
    set_group_configs(b, g_off, {"share.auto.offset.reset": "earliest"})
    con, coff = share_consumer(b, g_on), share_consumer(b, g_off)
    lon, loff = [], []
    try:
        # warm-up: one plain record, so that both consumers are fetching when the test records come
        expect_offsets(produce_records(b, t, [(0, None, b"warm", None)]), "warm-up record")
        con.subscribe([t])
        coff.subscribe([t])
        pairs = [(con, lambda r: ACCEPT, lon), (coff, lambda r: ACCEPT, loff)]
        poll_both(pairs, lambda _: len(lon) >= 1 and len(loff) >= 1, 30)
        eq([(r["offset"], r["value"]) for r in lon + loff], [(0, b"warm")] * 2, "the warm-up record, on each group")
        now = int(time.time() * 1000)
        at = now + 2000
        recs = [(0, None, b"plain", None),
                (0, None, b"after-3000", [("skua.deliver.after.ms", b"3000")]),
                (0, None, b"at-now+2000", [("skua.deliver.at", str(at).encode())]),
                (0, None, b"at-past", [("skua.deliver.at", str(now - 60000).encode())])]
        acked = produce_records(b, t, recs)
        t_acked = time.time() * 1000
        eq([o for _, o, _ in acked], [1, 2, 3, 4], "acked offsets")
        due = {1: t_acked, 2: acked[1][2] + 3000, 3: at, 4: t_acked}
        poll_both(pairs, lambda _: len(lon) >= 5 and len(loff) >= 5, 15)
        poll_both(pairs, never, 1.0)
        eq(sorted((r["offset"], r["value"], r["count"]) for r in loff),
           [(0, b"warm", 1)] + [(i + 1, recs[i][2], 1) for i in range(4)], "the group without delayed delivery")
        eq(sorted((r["offset"], r["value"], r["count"]) for r in lon),
           [(0, b"warm", 1)] + [(i + 1, recs[i][2], 1) for i in range(4)],
           "the group with delayed delivery: (offset, value, delivery count; not raised by the wait)")
        lat = {}
        for r in loff[1:]:
            lat[("off", r["offset"])] = r["t"] - t_acked
            check(r["t"] - t_acked < 1500, f"without delayed delivery, offset {r['offset']} ({r['value']}) "
                                           f"arrived {r['t'] - t_acked:.0f} ms after the produce was acked (at once expected)")
        for r in lon[1:]:
            o = r["offset"]
            lat[("on", o)] = r["t"] - due[o]
            if o in (1, 4):
                check(r["t"] - t_acked < 1500, f"with delayed delivery, offset {o} ({r['value']}, not delayed) arrived "
                                               f"{r['t'] - t_acked:.0f} ms after the produce was acked")
            else:
                check(due[o] - 50 <= r["t"] <= due[o] + 2000,
                      f"with delayed delivery, offset {o} ({r['value']}) arrived {r['t'] - due[o]:+.0f} ms from its "
                      f"due time (expected -50 .. +2000 ms)")
        print("arrival relative to due time (ms): " + ", ".join(f"{k[0]}@{k[1]} {v:+.0f}" for k, v in sorted(lat.items())),
              file=sys.stderr)
    finally:
        con.close()
        coff.close()


def share_redelivery_backoff():
    b, t, g1 = setup("backoff")
    g2 = group_name("nobackoff")
    set_group_configs(b, g1, {"share.auto.offset.reset": "earliest", "skua.share.redelivery.backoff.ms": "1000,2500"})
    set_group_configs(b, g2, {"share.auto.offset.reset": "earliest"})
    expect_offsets(produce_records(b, t, [(0, None, b"bo", None)]), "source")
    c1, c2 = share_consumer(b, g1), share_consumer(b, g2)
    l1, l2 = [], []
    try:
        c1.subscribe([t])
        c2.subscribe([t])
        pairs = [(c1, lambda r: RELEASE if r["count"] < 3 else ACCEPT, l1),
                 (c2, lambda r: RELEASE if r["count"] < 2 else ACCEPT, l2)]
        poll_both(pairs, lambda _: len(l1) >= 3 and len(l2) >= 2, 30)
        poll_both(pairs, never, 2.0)
        eq([(r["offset"], r["count"], r["ack"]) for r in l1], [(0, 1, RELEASE), (0, 2, RELEASE), (0, 3, ACCEPT)],
           "backoff 1000,2500: deliveries (offset, count, ack)")
        eq([(r["offset"], r["count"], r["ack"]) for r in l2], [(0, 1, RELEASE), (0, 2, ACCEPT)],
           "no backoff: deliveries (offset, count, ack)")
        g12, g23 = l1[1]["t"] - l1[0]["t"], l1[2]["t"] - l1[1]["t"]
        n12 = l2[1]["t"] - l2[0]["t"]
        print(f"gaps: backoff {g12:.0f} ms, {g23:.0f} ms; none {n12:.0f} ms", file=sys.stderr)
        check(1000 - 50 <= g12 < 1000 + 1500, f"gap between deliveries 1 and 2 with backoff 1000,2500: {g12:.0f} ms "
                                              f"(expected 950 .. 2500)")
        check(2500 - 50 <= g23 < 2500 + 1500, f"gap between deliveries 2 and 3 with backoff 1000,2500: {g23:.0f} ms "
                                              f"(expected 2450 .. 4000)")
        check(n12 < 1000, f"gap between deliveries 1 and 2 without a backoff: {n12:.0f} ms (expected at once)")
    finally:
        c1.close()
        c2.close()


def share_auto_offset_reset_earliest_and_latest():
    b, t, ge = setup("reset")
    gl = group_name("latest")
    set_group_configs(b, ge, {"share.auto.offset.reset": "earliest"})
    eq(produce(b, t, "rst", 10), list(range(10)), "acked offsets of the first 10")
    ce, cl = share_consumer(b, ge), share_consumer(b, gl)
    try:
        ce.subscribe([t])
        le = consume(ce, lambda o, d: ACCEPT, lambda l: len(l) >= 10, 30, "earliest group, records produced before")
        eq(sorted((o, v, d) for o, v, d, _ in le), [(i, f"rst-{i}", 1) for i in range(10)],
           "share.auto.offset.reset=earliest: records produced before the group existed")
        wait_started(b, gl, [cl], lambda: cl.subscribe([t]))
        eq(produce(b, t, "rst", 5, start=10), list(range(10, 15)), "acked offsets of the next 5")
        ll = consume(cl, lambda o, d: ACCEPT, lambda l: len(l) >= 5, 30, "latest (default) group")
        check_quiet(cl, "latest (default) group after the 5", 2.0)
        eq(sorted((o, v, d) for o, v, d, _ in ll), [(i, f"rst-{i}", 1) for i in range(10, 15)],
           "default share.auto.offset.reset (latest): only the records produced after the group started")
        le2 = consume(ce, lambda o, d: ACCEPT, lambda l: len(l) >= 5, 20, "earliest group, the next 5")
        check_quiet(ce, "earliest group after all 15", 1.0)
        eq(sorted((o, v, d) for o, v, d, _ in le2), [(i, f"rst-{i}", 1) for i in range(10, 15)],
           "earliest group: the next 5")
    finally:
        ce.close()
        cl.close()


def share_group_describe_cli():
    b, t, g = setup("cli", partitions=2)
    set_group_configs(b, g, {"share.auto.offset.reset": "earliest"})
    recs = [(0, None, f"cli-{i}".encode(), None) for i in range(10)] + [(1, None, f"cli-p1-{i}".encode(), None)
                                                                         for i in range(4)]
    expect_offsets(produce_records(b, t, recs), "source")
    c = share_consumer(b, g, client_id="share-cli-1")
    cols = ["TOPIC", "PARTITION", "START-OFFSET", "END-OFFSET", "AVAILABLE", "ACQUIRED", "FILTERED", "DLQ",
            "DLQ-PENDING"]
    try:
        c.subscribe([t])
        log = consume_recs(c, lambda r: ACCEPT, pcount(14), 30, "ACCEPT all 14")
        eq(sorted((r["partition"], r["offset"]) for r in log), [(0, i) for i in range(10)] + [(1, i) for i in range(4)],
           "(partition, offset) delivered")
        member = share_group_describe(b, [g])[g]["members"][0]

        def table_view():
            head, members, parts, out = describe_table(b, g)
            return ({k: head.get(k) for k in ("group", "type", "state", "members", "assignor")},
                    [(m.get("MEMBER"), m.get("CLIENT-ID"), m.get("ASSIGNMENT")) for m in members],
                    [[p.get(k) for k in cols] for p in parts], out)
        want_parts = [[t, "0", "10", "10", "0", "0", "0", "0", "0"], [t, "1", "4", "4", "0", "0", "0", "0", "0"]]
        try:
            wait_until(lambda: table_view()[2] == want_parts, 5, "")
        except Fail:
            pass
        head, members, parts, out = table_view()
        print(out, file=sys.stderr)
        eq(head, {"group": g, "type": "share", "state": "Stable", "members": "1", "assignor": "simple"},
           f"skua group describe header\n{out}")
        eq(members, [(member["member_id"], "share-cli-1", f"{t}:0,1")], f"member rows (MEMBER, CLIENT-ID, ASSIGNMENT)\n{out}")
        eq(parts, want_parts, f"partition rows {cols} (START-OFFSET = records ACCEPTed)\n{out}")
        # three more records on partition 0, acquired and not acknowledged yet
        eq([(p, o) for p, o, _ in produce_records(b, t, [(0, None, f"cli-{i}".encode(), None) for i in range(10, 13)])],
           [(0, 10), (0, 11), (0, 12)], "acked (partition, offset) of 3 more")
        held = consume(c, None, lambda l: len(l) >= 1, 20, "acquiring 3 more", ack=False)
        eq([(o, d) for o, _, d, _, _ in held], [(10, 1), (11, 1), (12, 1)], "acquired (offset, count), unacknowledged")
        j = describe_json(b, g)
        eq({k: j.get(k) for k in ("group", "type", "state")}, {"group": g, "type": "share", "state": "Stable"},
           "skua group describe -o json: group, type, state")
        eq([(m["member_id"], m["client_id"], m["assignment"]) for m in j["members"]],
           [(member["member_id"], "share-cli-1", f"{t}:0,1")], "json members")
        eq([(p["topic"], p["partition"], p["start_offset"], p["end_offset"], p["available"], p["acquired"],
             p["filtered"], p["dead_letter"], p["dead_letter_pending"]) for p in j["partitions"]],
           [(t, 0, 10, 13, 0, 3, 0, 0, 0), (t, 1, 4, 4, 0, 0, 0, 0, 0)],
           "json partitions (topic, partition, start, end, available, acquired, filtered, dlq, dlq pending) "
           "with 3 records acquired")
        for m in held:
            c.acknowledge(m[4], ACCEPT)
        commit(c, "ACCEPT of the 3")
        c.close()
        c = None
        head, members, parts, out = table_view()
        eq((head["state"], head["members"], members), ("Empty", "0", []), f"after close: state, members\n{out}")
        eq(parts, [[t, "0", "13", "13", "0", "0", "0", "0", "0"], want_parts[1]], f"after close: partition rows\n{out}")
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
    "share_dlq_reject_copy": share_dlq_reject_copy,
    "share_dlq_copy_duplicate_headers": share_dlq_copy_duplicate_headers,
    "share_dlq_delivery_limit_headers_only": share_dlq_delivery_limit_headers_only,
    "share_dlq_not_enabled": share_dlq_not_enabled,
    "share_dlq_auto_create": share_dlq_auto_create,
    "share_dlq_once_across_kill9": share_dlq_once_across_kill9,
    "share_dlq_once_kill9_after_ack": share_dlq_once_kill9_after_ack,
    "share_record_filter": share_record_filter,
    "share_delayed_delivery": share_delayed_delivery,
    "share_redelivery_backoff": share_redelivery_backoff,
    "share_auto_offset_reset_earliest_and_latest": share_auto_offset_reset_earliest_and_latest,
    "share_group_describe_cli": share_group_describe_cli,
}

if __name__ == "__main__":
    main(SCENARIOS)
