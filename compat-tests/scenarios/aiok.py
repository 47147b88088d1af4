"""aiokafka scenarios (produce with aiokafka, read back with aiokafka and confluent-kafka)."""

import asyncio
import os
import time

from aiokafka import AIOKafkaProducer, AIOKafkaConsumer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError, KafkaError

from common import (Fail, check, eq, eq_records, topic_name, boot, main, confluent_read, confluent_create_topic,
                    check_offsets_contiguous, java_partition)
import groups

TS_CREATE = 0


def producer(**kw):
    conf = dict(bootstrap_servers=boot(), acks="all", enable_idempotence=False, linger_ms=5,
                request_timeout_ms=15000)
    conf.update(kw)
    return AIOKafkaProducer(**conf)


async def send_all(p, topic, recs):
    futs = []
    for r in recs:
        futs.append(await p.send(topic, value=r.get("value"), key=r.get("key"), partition=r.get("partition"),
                                 timestamp_ms=r.get("timestamp"), headers=r.get("headers")))
    await p.flush()
    return [await asyncio.wait_for(f, 30) for f in futs]


async def aio_read(topic, parts, expected, timeout=30, linger=0.7, start=0, **extra):
    conf = dict(bootstrap_servers=boot(), group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", fetch_max_wait_ms=100, request_timeout_ms=15000,
                max_partition_fetch_bytes=2 << 20)
    conf.update(extra)
    c = AIOKafkaConsumer(**conf)
    await c.start()
    out = {p: [] for p in parts}
    total = 0
    try:
        c.assign([TopicPartition(topic, p) for p in parts])
        for p in parts:
            c.seek(TopicPartition(topic, p), start)
        deadline = time.monotonic() + timeout
        done_at = None
        while time.monotonic() < deadline and (done_at is None or time.monotonic() < done_at):
            batch = await c.getmany(timeout_ms=200)
            for tp, msgs in batch.items():
                for m in msgs:
                    out[tp.partition].append({"partition": m.partition, "offset": m.offset, "key": m.key,
                                              "value": m.value, "headers": list(m.headers or []),
                                              "timestamp": m.timestamp, "timestamp_type": m.timestamp_type})
                    total += 1
            if total >= expected and done_at is None:
                done_at = time.monotonic() + linger
    finally:
        await c.stop()
    check(total >= expected, f"aiokafka consumer read {total} of {expected} records within {timeout}s")
    return out


async def verify(topic, parts, recs, metas, what, confluent_too=True):
    # aiokafka 0.14 bug: RecordMetadata.timestamp of every record after the first in a batch is the
    # first record's timestamp (ProducerBatch.done() overwrites its loop variable). So the expected
    # timestamp is the one we sent; every scenario here sends explicit timestamps.
    exp = {p: [] for p in range(parts)}
    for r, m in zip(recs, metas):
        exp[m.partition].append({"partition": m.partition, "offset": m.offset, "key": r.get("key"),
                                 "value": r.get("value"), "headers": list(r.get("headers") or []),
                                 "timestamp": r["timestamp"], "timestamp_type": TS_CREATE})
    for p in exp:
        exp[p].sort(key=lambda x: x["offset"])
        check_offsets_contiguous(exp[p], f"{what}: acked offsets on partition {p}")
    got = await aio_read(topic, list(range(parts)), len(recs))
    for p in range(parts):
        eq_records(got[p], exp[p], f"{what}: aiokafka read, partition {p}")
    if confluent_too:
        got = confluent_read(topic, list(range(parts)), len(recs))
        for p in range(parts):
            eq_records([(x["offset"], x["key"], x["value"], x["headers"] or [], x["timestamp"]) for x in got[p]],
                       [(x["offset"], x["key"], x["value"], x["headers"], x["timestamp"]) for x in exp[p]],
                       f"{what}: confluent read, partition {p}")


async def roundtrip_1000():
    t = topic_name("aio-rt")
    confluent_create_topic(t, 3)
    now = int(time.time() * 1000)
    recs = [{"key": b"key-%d" % (i % 37), "value": b"value-%06d-" % i + os.urandom(16),
             "headers": [("seq", str(i).encode())], "timestamp": now + i} for i in range(1000)]
    p = producer()
    await p.start()
    try:
        metas = await send_all(p, t, recs)
    finally:
        await p.stop()
    for r, m in zip(recs, metas):
        eq(m.partition, java_partition(r["key"], 3), f"partition of key {r['key']!r}")
    await verify(t, 3, recs, metas, "roundtrip")


def codec(name):
    async def run():
        t = topic_name(f"aio-{name}")
        confluent_create_topic(t, 1)
        now = int(time.time() * 1000)
        recs = [{"key": b"k%d" % i, "value": (b"compressible value %d " % i) * 20 + os.urandom(8), "partition": 0,
                 "timestamp": now + i} for i in range(500)]
        p = producer(compression_type=None if name == "none" else name, linger_ms=50, max_batch_size=32768)
        await p.start()
        try:
            metas = await send_all(p, t, recs)
        finally:
            await p.stop()
        await verify(t, 1, recs, metas, f"codec {name}")
    return run


async def headers_timestamps():
    t = topic_name("aio-hdr")
    confluent_create_topic(t, 1)
    base = int(time.time() * 1000) - 3600_000
    recs = [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": 0, "timestamp": base + i * 1000 + i,
             "headers": [("dup", b"first"), ("dup", b"second"), ("null-value", None), ("empty", b""),
                         ("bin\u00e9", bytes(range(256)))]}
            for i in range(20)]
    recs += [{"key": None, "value": b"null key", "partition": 0, "timestamp": base + 50_000},
             {"key": b"", "value": b"empty key", "partition": 0, "timestamp": base + 51_000},
             {"key": b"tomb", "value": None, "partition": 0, "timestamp": base + 52_000}]
    p = producer()
    await p.start()
    try:
        metas = await send_all(p, t, recs)
    finally:
        await p.stop()
    await verify(t, 1, recs, metas, "headers/timestamps")


async def keyed_partitioning():
    t = topic_name("aio-keyed")
    confluent_create_topic(t, 6)
    keys = [b"user-%d" % i for i in range(40)]
    now = int(time.time() * 1000)
    recs = [{"key": keys[j % 40], "value": b"%d" % j, "timestamp": now + j} for j in range(200)]
    p = producer()
    await p.start()
    try:
        metas = await send_all(p, t, recs)
    finally:
        await p.stop()
    for r, m in zip(recs, metas):
        eq(m.partition, java_partition(r["key"], 6), f"partition of key {r['key']!r} (murmur2)")
    check(len({m.partition for m in metas}) > 1, "all keys on one partition")
    await verify(t, 6, recs, metas, "keyed", confluent_too=False)


async def large_900k():
    t = topic_name("aio-large")
    confluent_create_topic(t, 1)
    big = os.urandom(900 * 1024)
    now = int(time.time() * 1000)
    recs = [{"key": b"big", "value": big, "partition": 0, "timestamp": now},
            {"key": b"after", "value": b"small", "partition": 0, "timestamp": now + 1}]
    p = producer(max_request_size=2 << 20)
    await p.start()
    try:
        metas = await send_all(p, t, recs)
    finally:
        await p.stop()
    eq([m.offset for m in metas], [0, 1], "acked offsets")
    await verify(t, 1, recs, metas, "900KB")


async def too_large_2mb():
    t = topic_name("aio-toolarge")
    confluent_create_topic(t, 1)
    p = producer(max_request_size=4 << 20, max_batch_size=4 << 20)
    await p.start()
    try:
        try:
            m = await asyncio.wait_for(await p.send(t, key=b"huge", value=os.urandom(2 << 20), partition=0), 20)
            raise Fail(f"2MB record accepted at offset {m.offset} (expected MESSAGE_TOO_LARGE)")
        except MessageSizeTooLargeError as e:
            eq(getattr(e, "errno", None), 10, "error code")
        except KafkaError as e:
            raise Fail(f"expected MessageSizeTooLargeError (10), got {type(e).__name__}: {e}")
        m = await (await p.send(t, key=b"ok", value=b"fine", partition=0))
        eq(m.offset, 0, "offset of the first record after the rejected one")
    finally:
        await p.stop()


def acks(level):
    async def run():
        t = topic_name(f"aio-acks{level}")
        confluent_create_topic(t, 1)
        recs = [{"key": b"k%d" % i, "value": b"acks=%s %d" % (str(level).encode(), i), "partition": 0}
                for i in range(100)]
        p = producer(acks=level)
        await p.start()
        try:
            metas = await send_all(p, t, recs)
        finally:
            await p.stop()
        if level != 0:
            eq([m.offset for m in metas], list(range(100)), "acked offsets")
        got = (await aio_read(t, [0], 100))[0]
        eq([(r["offset"], r["key"], r["value"]) for r in got], [(i, r["key"], r["value"]) for i, r in enumerate(recs)],
           f"records after acks={level}")
    return run


async def list_offsets():
    t = topic_name("aio-lo")
    confluent_create_topic(t, 1)
    t0 = int(time.time() * 1000) - 600_000
    p = producer(linger_ms=100)
    await p.start()
    try:
        for b in range(10):
            await send_all(p, t, [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": 0, "timestamp": t0 + 10 * i}
                                  for i in range(b * 10, b * 10 + 10)])
    finally:
        await p.stop()
    c = AIOKafkaConsumer(bootstrap_servers=boot(), group_id=None, enable_auto_commit=False, request_timeout_ms=15000)
    await c.start()
    try:
        tp = TopicPartition(t, 0)
        eq(await c.beginning_offsets([tp]), {tp: 0}, "beginning_offsets")
        eq(await c.end_offsets([tp]), {tp: 100}, "end_offsets")
        for delta, want in [(-100_000, 0), (0, 0), (370, 37), (375, 38), (990, 99)]:
            r = (await c.offsets_for_times({tp: t0 + delta}))[tp]
            check(r is not None, f"offsets_for_times(t0{delta:+d}) returned None")
            eq((r.offset, r.timestamp), (want, t0 + 10 * want), f"offsets_for_times(t0{delta:+d}) (offset, timestamp)")
        r = (await c.offsets_for_times({tp: t0 + 991}))[tp]
        eq(r, None, "offsets_for_times after the last record (no such offset)")
    finally:
        await c.stop()


async def fetch_mid_batch():
    t = topic_name("aio-mid")
    confluent_create_topic(t, 1)
    p = producer(linger_ms=100)
    await p.start()
    try:
        for b in range(10):
            await send_all(p, t, [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": 0}
                                  for i in range(b * 10, b * 10 + 10)])
    finally:
        await p.stop()
    for start in (37, 40, 99):
        got = (await aio_read(t, [0], 100 - start, start=start))[0]
        eq([(r["offset"], r["value"]) for r in got], [(i, b"v%d" % i) for i in range(start, 100)],
           f"records read from offset {start}")


async def fetch_small_max_bytes():
    t = topic_name("aio-kip74")
    confluent_create_topic(t, 1)
    vals = [os.urandom(200 * 1024) for _ in range(3)]
    p = producer(max_request_size=1 << 20)
    await p.start()
    try:
        metas = [await p.send_and_wait(t, value=v, partition=0) for v in vals]
    finally:
        await p.stop()
    eq([m.offset for m in metas], [0, 1, 2], "acked offsets")
    got = (await aio_read(t, [0], 3, max_partition_fetch_bytes=1024, fetch_max_bytes=1024))[0]
    eq([(r["offset"], len(r["value"])) for r in got], [(i, len(v)) for i, v in enumerate(vals)],
       "records read with 1 KiB fetch limits")
    check([r["value"] for r in got] == vals, "values differ")


def sync(coro_fn):
    return lambda: asyncio.run(asyncio.wait_for(coro_fn(), 80))


SCENARIOS = {
    "roundtrip_1000": sync(roundtrip_1000),
    **{f"codec_{c}": sync(codec(c)) for c in ["none", "gzip", "snappy", "lz4", "zstd"]},
    "headers_timestamps": sync(headers_timestamps),
    "keyed_partitioning": sync(keyed_partitioning),
    "large_900k": sync(large_900k),
    "too_large_2mb": sync(too_large_2mb),
    "acks_0": sync(acks(0)),
    "acks_1": sync(acks(1)),
    "acks_all": sync(acks("all")),
    "list_offsets": sync(list_offsets),
    "fetch_mid_batch": sync(fetch_mid_batch),
    "fetch_small_max_bytes": sync(fetch_small_max_bytes),
}

SCENARIOS.update(groups.scenarios("aiokafka"))

if __name__ == "__main__":
    main(SCENARIOS)
