"""Crash test: kill -9 the broker under an acks=all producer; every acknowledged record must survive.

Starts its own broker on a private data dir (SKUA_SCRATCH/data) and, three times on that same dir:
produce numbered records to 3 partitions with confluent-kafka (acks=all, no idempotence, no
retries, so the client never writes a record twice), `kill -9` the broker after >= 5000 acks while
records are still in flight, restart it, and check:
  - every acknowledged record is present exactly once, at the offset its ack reported;
  - each partition's offsets are contiguous from 0 and its records are in produce order
    (unacknowledged records may be present or not, but nothing is duplicated or reordered);
  - the restarted broker accepts more records right after the ones recovered.
"""

import os
import random
import signal
import time

from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from common import Fail, check, eq, main, confluent_read, OwnBroker

PARTS = 3
ROUNDS = 3


class CrashBroker(OwnBroker):
    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def value_of(rnd, seq):
    return b"r%d-%08d" % (rnd, seq)


def parse(v):
    r, s = v.decode().split("-")
    return int(r[1:]), int(s)


def produce_until_kill(b, topic, rnd, threshold):
    """Produce continuously; kill -9 the broker once `threshold` acks arrived. Returns {(rnd, seq): (part, off)}."""
    acked = {}
    failed = [0]

    def cb(err, msg):
        if err is None:
            acked[parse(msg.value())] = (msg.partition(), msg.offset())
        else:
            failed[0] += 1

    p = Producer({"bootstrap.servers": b.addr, "acks": "all", "enable.idempotence": False, "retries": 0,
                  "linger.ms": 1, "batch.num.messages": 100, "message.timeout.ms": 10000,
                  "queue.buffering.max.messages": 3000, "reconnect.backoff.max.ms": 200})
    seq = 0
    kill_at = None   # kill a random 0-30 ms after the threshold, with produce requests in flight
    killed_at = None
    deadline = time.monotonic() + 90
    while True:
        now = time.monotonic()
        check(now < deadline, f"round {rnd}: only {len(acked)} acks within 90s ({failed[0]} failed deliveries)")
        if killed_at is None and b.proc.poll() is not None:
            raise Fail(f"round {rnd}: the broker exited by itself with code {b.proc.returncode} before the kill "
                       f"({len(acked)} acks so far); see {b.log}")
        if kill_at is None and len(acked) >= threshold:
            kill_at = now + random.uniform(0, 0.03)
        if killed_at is None and kill_at is not None and now >= kill_at:
            b.kill9()
            killed_at = now
        if killed_at is not None and now - killed_at > 0.3:
            break
        try:
            p.produce(topic, value=value_of(rnd, seq), key=b"%d" % seq, partition=seq % PARTS, on_delivery=cb)
            seq += 1
        except BufferError:
            p.poll(0.001)
        p.poll(0)
    # fail whatever is still queued or in flight (the broker is gone), then collect every callback
    p.purge(in_queue=True, in_flight=True)
    p.flush(20)
    check(len(acked) >= threshold, f"round {rnd}: {len(acked)} acks, wanted >= {threshold}")
    return acked, seq


def watermarks(addr, topic):
    c = Consumer({"bootstrap.servers": addr, "group.id": "compat-unused", "enable.auto.commit": False})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False) for p in range(PARTS)]
    finally:
        c.close()


def verify_log(b, topic, all_acked, rnd):
    wms = watermarks(b.addr, topic)
    for p, (lo, hi) in enumerate(wms):
        eq(lo, 0, f"after restart #{rnd}: log start offset of partition {p}")
    total = sum(hi for _, hi in wms)
    got = confluent_read(topic, list(range(PARTS)), total, bootstrap=b.addr, timeout=60, linger=0.5,
                         extra={"fetch.max.bytes": 52428800})
    found = {}
    for p in range(PARTS):
        recs = got[p]
        eq(len(recs), wms[p][1], f"after restart #{rnd}: records read on partition {p} vs high watermark")
        prev = None
        for i, r in enumerate(recs):
            eq(r["offset"], i, f"after restart #{rnd}: offset of record #{i} on partition {p} (offsets must be contiguous)")
            rs = parse(r["value"])
            check(prev is None or rs > prev,
                  f"after restart #{rnd}: partition {p} offset {i} holds {rs} after {prev} (duplicate or reordered)")
            prev = rs
            check(rs not in found, f"after restart #{rnd}: record {rs} present twice")
            found[rs] = (p, r["offset"])
    missing = [k for k in all_acked if k not in found]
    if missing:
        missing.sort()
        k = missing[0]
        raise Fail(f"after restart #{rnd}: {len(missing)} acknowledged records missing, first {k} "
                   f"(acked at partition {all_acked[k][0]} offset {all_acked[k][1]}); high watermarks {wms}")
    moved = [(k, all_acked[k], found[k]) for k in all_acked if found[k] != all_acked[k]]
    if moved:
        k, a, f = sorted(moved)[0]
        raise Fail(f"after restart #{rnd}: {len(moved)} acked records not at their acked offset, "
                   f"first {k}: acked {a}, found {f}")
    return wms, len(found)


def crash_kill9():
    b = CrashBroker("crash")
    try:
        b.start()
        topic = "compat-crash"
        a = AdminClient({"bootstrap.servers": b.addr})
        a.create_topics([NewTopic(topic, num_partitions=PARTS, replication_factor=1)],
                        operation_timeout=10)[topic].result(20)
        time.sleep(0.2)
        all_acked = {}
        present_total = 0
        rng = random.Random()
        for rnd in range(1, ROUNDS + 1):
            threshold = 5000 + rng.randint(0, 3000)
            acked, sent = produce_until_kill(b, topic, rnd, threshold)
            all_acked.update(acked)
            b.start()
            before = present_total
            wms, present_total = verify_log(b, topic, all_acked, rnd)
            print(f"round {rnd}: produced {sent}, acked {len(acked)}, of the unacked {present_total - before - len(acked)} "
                  f"present after restart; high watermarks {[hi for _, hi in wms]}", flush=True)
        # after the last restart the broker still takes records, appended right after the recovered ones
        wms = watermarks(b.addr, topic)
        acked = {}
        p = Producer({"bootstrap.servers": b.addr, "acks": "all", "enable.idempotence": False, "linger.ms": 5})

        def cb(err, msg):
            check(err is None, f"produce after the last restart failed: {err}")
            acked[parse(msg.value())] = (msg.partition(), msg.offset())
        for seq in range(300):
            p.produce(topic, value=value_of(9, seq), partition=seq % PARTS, on_delivery=cb)
        check(p.flush(30) == 0, "records after the last restart not delivered within 30s")
        eq(len(acked), 300, "acks after the last restart")
        for seq in range(300):
            part, off = acked[(9, seq)]
            eq(off, wms[part][1] + seq // PARTS, f"offset of post-restart record {seq} on partition {part}")
        all_acked.update(acked)
        verify_log(b, topic, all_acked, "final")
    finally:
        b.stop()


SCENARIOS = {"crash_kill9": crash_kill9}

if __name__ == "__main__":
    main(SCENARIOS)
