"""Idempotence / transactions with aiokafka (reported as aiokafka/txn_*): the idempotent producer,
the transactional producer with aiokafka's read_committed / read_uncommitted consumer, and
consume-transform-produce with send_offsets_to_transaction (one transaction aborted on purpose and
redone)."""

import asyncio
import os
import time
import uuid

from aiokafka import AIOKafkaProducer, AIOKafkaConsumer, TopicPartition

from common import check, eq, eq_records, topic_name, boot, boot_groups, main, wait_until, confluent_create_topic, \
    java_partition
from aiok import aio_read, verify, sync
from txnlib import RC, RU, txid, cf_producer, cf_send, end_offsets, cf_read, cf_committed, describe_producers


async def txn_idempotent():
    """AIOKafkaProducer(enable_idempotence=True): it gets a producer id, 1000 keyed records land at
    contiguous offsets and read back exactly (aiokafka and confluent consumers); DescribeProducers
    shows that producer id / epoch with last sequence = records on the partition - 1."""
    t = topic_name("aio-idem")
    confluent_create_topic(t, 3)
    now = int(time.time() * 1000)
    recs = [{"key": b"key-%d" % (i % 37), "value": b"idem-%06d-" % i + os.urandom(8), "timestamp": now + i,
             "headers": [("seq", str(i).encode())]} for i in range(1000)]
    p = AIOKafkaProducer(bootstrap_servers=boot(), enable_idempotence=True, linger_ms=5, request_timeout_ms=15000)
    await p.start()
    try:
        futs = [await p.send(t, key=r["key"], value=r["value"], timestamp_ms=r["timestamp"], headers=r["headers"])
                for r in recs]
        await p.flush()
        metas = [await asyncio.wait_for(f, 30) for f in futs]
        pid, epoch = p._txn_manager.producer_id, p._txn_manager.producer_epoch
        check(pid >= 0, f"aiokafka's idempotent producer has no producer id after sending ({pid})")
    finally:
        await p.stop()
    for r, m in zip(recs, metas):
        eq(m.partition, java_partition(r["key"], 3), f"partition of key {r['key']!r}")
    await verify(t, 3, recs, metas, "idempotent producer")
    counts = {q: sum(1 for m in metas if m.partition == q) for q in range(3)}
    dp = describe_producers(boot(), [(t, q) for q in range(3)])
    for q in range(3):
        eq([(s.producer_id, s.producer_epoch, s.last_sequence, s.current_transaction_start_offset) for s in dp[(t, q)]],
           [(pid, epoch, counts[q] - 1, -1)], f"DescribeProducers on partition {q}")


async def txn_commit_abort():
    """aiokafka transactional producer: commit, abort, commit on 2 partitions; aiokafka's consumer
    with isolation_level=read_committed reads exactly the committed records at their offsets (each
    marker takes one), with read_uncommitted every data record."""
    bs = boot()
    t = topic_name("aio-txn")
    confluent_create_topic(t, 2)
    p = AIOKafkaProducer(bootstrap_servers=bs, transactional_id=txid("aio"), linger_ms=5, request_timeout_ms=15000)
    await p.start()
    plan = [("c1", True, {0: 4, 1: 3}), ("a2", False, {0: 3, 1: 2}), ("c3", True, {0: 2, 1: 2})]
    want_rc, want_ru, nxt = {0: [], 1: []}, {0: [], 1: []}, {0: 0, 1: 0}
    try:
        for tag, commit, counts in plan:
            await p.begin_transaction()
            futs = []
            for q, n in counts.items():
                for i in range(n):
                    v = b"%s-%d-%d" % (tag.encode(), q, i)
                    futs.append((q, v, await p.send(t, key=b"k%d" % i, value=v, partition=q)))
            for q, v, f in futs:
                m = await asyncio.wait_for(f, 30)
                eq((m.partition, m.offset), (q, nxt[q]), f"partition/offset of {v!r}")
                nxt[q] += 1
                want_ru[q].append((m.offset, v))
                if commit:
                    want_rc[q].append((m.offset, v))
            await (p.commit_transaction() if commit else p.abort_transaction())
            for q in counts:
                nxt[q] += 1  # the marker
    finally:
        await p.stop()
    tps = [(t, 0), (t, 1)]
    wait_until(lambda: end_offsets(bs, tps, RU) == {(t, 0): nxt[0], (t, 1): nxt[1]}, 15,
               f"high watermarks {nxt} (data + 3 markers per partition)")
    eq(end_offsets(bs, tps, RC), {(t, 0): nxt[0], (t, 1): nxt[1]}, "LSO at the end")
    got = await aio_read(t, [0, 1], sum(len(v) for v in want_rc.values()), isolation_level="read_committed",
                         linger=1.0)
    for q in (0, 1):
        eq([(r["offset"], r["value"]) for r in got[q]], want_rc[q], f"read_committed records on partition {q}")
    got = await aio_read(t, [0, 1], sum(len(v) for v in want_ru.values()), isolation_level="read_uncommitted",
                         linger=1.0)
    for q in (0, 1):
        eq([(r["offset"], r["value"]) for r in got[q]], want_ru[q], f"read_uncommitted records on partition {q}")


async def txn_consume_transform_produce():
    """aiokafka consume-transform-produce: a group consumer (read_committed, no auto commit) reads 300
    records of 2 partitions; each getmany() batch (<= 40 records) becomes one transaction producing
    b"T:"+value to the same partition of the output, with send_offsets_to_transaction(group). The 3rd
    transaction is aborted and the consumer seeks back to the committed offsets and redoes it.
    read_committed output = every input exactly once, in order; read_uncommitted = plus exactly the
    aborted batch; the group's committed offsets = the input's end offsets."""
    bs = boot_groups()
    tin, tout = topic_name("aio-ctp-in"), topic_name("aio-ctp-out")
    confluent_create_topic(tin, 2, bootstrap=bs)
    confluent_create_topic(tout, 2, bootstrap=bs)
    group = f"compat-aio-ctp-{uuid.uuid4().hex[:8]}"
    inputs = {q: [b"in-%d-%03d" % (q, i) for i in range(150)] for q in (0, 1)}
    cf_send(cf_producer(bs), tin, [{"partition": q, "value": v} for q in (0, 1) for v in inputs[q]], what="input")
    p = AIOKafkaProducer(bootstrap_servers=bs, transactional_id=txid("aio-ctp"), linger_ms=5, request_timeout_ms=15000)
    c = AIOKafkaConsumer(tin, bootstrap_servers=bs, group_id=group, isolation_level="read_committed",
                         enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100,
                         session_timeout_ms=10000, heartbeat_interval_ms=500, request_timeout_ms=15000)
    await p.start()
    await c.start()
    aborted = None
    committed = {0: 0, 1: 0}
    n = 0
    try:
        deadline = time.monotonic() + 60
        while committed != {0: 150, 1: 150}:
            check(time.monotonic() < deadline, f"consume-transform-produce not done within 60s: committed {committed}")
            batch = await c.getmany(timeout_ms=500, max_records=40)
            msgs = [m for ms in batch.values() for m in ms]
            if not msgs:
                continue
            n += 1
            await p.begin_transaction()
            futs = [await p.send(tout, value=b"T:" + m.value, partition=m.partition) for m in msgs]
            for f in futs:
                await asyncio.wait_for(f, 30)
            offsets = {}
            for m in msgs:
                offsets[m.partition] = m.offset + 1
            await p.send_offsets_to_transaction({TopicPartition(tin, q): o for q, o in offsets.items()}, group)
            if n == 3:
                await p.abort_transaction()
                aborted = [(m.partition, m.offset) for m in msgs]
                for q in (0, 1):
                    c.seek(TopicPartition(tin, q), committed[q])
                continue
            await p.commit_transaction()
            committed.update(offsets)
    finally:
        await c.stop()
        await p.stop()
    check(aborted, "no transaction was aborted")
    tps = [(tout, 0), (tout, 1)]
    got = cf_read(bs, tps, RC, 300, linger=1.0)
    for q in (0, 1):
        eq_records([r["value"] for r in got[(tout, q)]], [b"T:" + v for v in inputs[q]],
                   f"read_committed output partition {q}")
    ab = {q: [o for p_, o in aborted if p_ == q] for q in (0, 1)}
    want_ru = {}
    for q in (0, 1):
        if ab[q]:
            a = ab[q][0]
            eq(ab[q], list(range(a, a + len(ab[q]))), f"input offsets of the aborted batch on partition {q}")
            want_ru[q] = [b"T:" + v for v in inputs[q][:a + len(ab[q])]] + [b"T:" + v for v in inputs[q][a:]]
        else:
            want_ru[q] = [b"T:" + v for v in inputs[q]]
    got = cf_read(bs, tps, RU, sum(len(v) for v in want_ru.values()), linger=1.0)
    for q in (0, 1):
        eq_records([r["value"] for r in got[(tout, q)]], want_ru[q], f"read_uncommitted output partition {q}")
    eq(cf_committed(bs, group, [(tin, 0), (tin, 1)]), {(tin, 0): 150, (tin, 1): 150},
       "the group's committed offsets on the input")


SCENARIOS = {
    "txn_idempotent": sync(txn_idempotent),
    "txn_commit_abort": sync(txn_commit_abort),
    "txn_consume_transform_produce": sync(txn_consume_transform_produce),
}

if __name__ == "__main__":
    main(SCENARIOS)
