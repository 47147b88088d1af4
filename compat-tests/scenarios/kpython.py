"""kafka-python scenarios (produce with kafka-python, read back with kafka-python and confluent-kafka)."""

import os
import time

from kafka import KafkaProducer, KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
import kafka.errors as Errors

from common import (Fail, check, eq, eq_records, topic_name, boot, boot_np4, boot_noauto, main, confluent_read,
                    check_offsets_contiguous, java_partition, wait_until)
import groups

TS_CREATE = 0  # kafka-python's timestamp_type for CreateTime


def producer(bootstrap=None, **kw):
    conf = dict(bootstrap_servers=bootstrap or boot(), acks="all", enable_idempotence=False, linger_ms=5,
                request_timeout_ms=15000, max_block_ms=15000, retries=3)
    conf.update(kw)
    return KafkaProducer(**conf)


def admin_client(bootstrap=None):
    return KafkaAdminClient(bootstrap_servers=bootstrap or boot(), request_timeout_ms=15000)


def create_topic(name, parts, bootstrap=None):
    a = admin_client(bootstrap)
    try:
        res = a.create_topics({name: {"num_partitions": parts, "replication_factor": 1}}, raise_errors=False)
        eq([(t["name"], t["error_code"]) for t in res["topics"]], [(name, 0)], f"create_topics {name}")
        wait_until(lambda: _partitions(a, name) == parts, 15, f"{parts} partitions of {name} in metadata")
    finally:
        a.close()


def _partitions(a, name):
    for t in a.describe_topics([name]):
        if t["name"] == name and t["error_code"] == 0:
            return len(t["partitions"])
    return None


def send_all(p, topic, recs, timeout=30):
    futs = []
    for r in recs:
        futs.append(p.send(topic, value=r.get("value"), key=r.get("key"), headers=r.get("headers"),
                           partition=r.get("partition"), timestamp_ms=r.get("timestamp")))
    p.flush(timeout)
    return [f.get(timeout=timeout) for f in futs]


def kp_read(topic, parts, expected, timeout=30, linger=0.7, bootstrap=None, start=0, **extra):
    conf = dict(bootstrap_servers=bootstrap or boot(), group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", fetch_max_wait_ms=100, request_timeout_ms=15000,
                max_partition_fetch_bytes=2 << 20)
    conf.update(extra)
    c = KafkaConsumer(**conf)
    out = {p: [] for p in parts}
    total = 0
    try:
        c.assign([TopicPartition(topic, p) for p in parts])
        for p in parts:
            c.seek(TopicPartition(topic, p), start)
        deadline = time.monotonic() + timeout
        done_at = None
        while time.monotonic() < deadline and (done_at is None or time.monotonic() < done_at):
            for tp, msgs in c.poll(timeout_ms=200).items():
                for m in msgs:
                    out[tp.partition].append({"partition": m.partition, "offset": m.offset, "key": m.key,
                                              "value": m.value, "headers": list(m.headers or []),
                                              "timestamp": m.timestamp, "timestamp_type": m.timestamp_type})
                    total += 1
            if total >= expected and done_at is None:
                done_at = time.monotonic() + linger
    finally:
        c.close()
    check(total >= expected, f"kafka-python consumer read {total} of {expected} records within {timeout}s")
    return out


def verify(topic, parts, recs, metas, what, confluent_too=True):
    """Compare what kafka-python's consumer (and confluent's) read with the acked metadata, field by field."""
    exp = {p: [] for p in range(parts)}
    for r, m in zip(recs, metas):
        exp[m.partition].append({"partition": m.partition, "offset": m.offset, "key": r.get("key"),
                                 "value": r.get("value"), "headers": list(r.get("headers") or []),
                                 "timestamp": m.timestamp, "timestamp_type": TS_CREATE})
    for p in exp:
        exp[p].sort(key=lambda x: x["offset"])
        check_offsets_contiguous(exp[p], f"{what}: acked offsets on partition {p}")
    got = kp_read(topic, list(range(parts)), len(recs))
    for p in range(parts):
        eq_records(got[p], exp[p], f"{what}: kafka-python read, partition {p}")
    if confluent_too:
        got = confluent_read(topic, list(range(parts)), len(recs))
        for p in range(parts):
            eq_records([(x["offset"], x["key"], x["value"], x["headers"] or [], x["timestamp"]) for x in got[p]],
                       [(x["offset"], x["key"], x["value"], x["headers"], x["timestamp"]) for x in exp[p]],
                       f"{what}: confluent read, partition {p}")


def roundtrip_1000():
    t = topic_name("kp-rt")
    create_topic(t, 3)
    recs = [{"key": b"key-%d" % (i % 37), "value": b"value-%06d-" % i + os.urandom(16),
             "headers": [("seq", str(i).encode())]} for i in range(1000)]
    p = producer()
    metas = send_all(p, t, recs)
    p.close()
    for r, m in zip(recs, metas):
        eq(m.partition, java_partition(r["key"], 3), f"partition of key {r['key']!r}")
    verify(t, 3, recs, metas, "roundtrip")


def codec(name):
    def run():
        t = topic_name(f"kp-{name}")
        create_topic(t, 1)
        recs = [{"key": b"k%d" % i, "value": (b"compressible value %d " % i) * 20 + os.urandom(8), "partition": 0}
                for i in range(500)]
        p = producer(compression_type=None if name == "none" else name, linger_ms=50, batch_size=32768)
        metas = send_all(p, t, recs)
        p.close()
        verify(t, 1, recs, metas, f"codec {name}")
    return run


def headers_timestamps():
    t = topic_name("kp-hdr")
    create_topic(t, 1)
    base = int(time.time() * 1000) - 3600_000
    # kafka-python accepts only (str, bytes) headers: no null header values
    recs = [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": 0, "timestamp": base + i * 1000 + i,
             "headers": [("dup", b"first"), ("dup", b"second"), ("empty", b""), ("bin\u00e9", bytes(range(256)))]}
            for i in range(20)]
    recs += [{"key": None, "value": b"null key", "partition": 0, "timestamp": base + 50_000},
             {"key": b"", "value": b"empty key", "partition": 0, "timestamp": base + 51_000},
             {"key": b"tomb", "value": None, "partition": 0, "timestamp": base + 52_000}]
    p = producer()
    metas = send_all(p, t, recs)
    p.close()
    for i, (r, m) in enumerate(zip(recs, metas)):
        eq(m.timestamp, r["timestamp"], f"acked timestamp of record #{i}")
    verify(t, 1, recs, metas, "headers/timestamps")


def keyed_partitioning():
    t = topic_name("kp-keyed")
    create_topic(t, 6)
    keys = [b"user-%d" % i for i in range(40)]
    recs = [{"key": keys[j % 40], "value": b"%d" % j} for j in range(200)]
    p = producer()
    metas = send_all(p, t, recs)
    p.close()
    for r, m in zip(recs, metas):
        eq(m.partition, java_partition(r["key"], 6), f"partition of key {r['key']!r} (murmur2)")
    check(len({m.partition for m in metas}) > 1, "all keys on one partition")
    verify(t, 6, recs, metas, "keyed", confluent_too=False)


def large_900k():
    t = topic_name("kp-large")
    create_topic(t, 1)
    big = os.urandom(900 * 1024)
    recs = [{"key": b"big", "value": big, "partition": 0}, {"key": b"after", "value": b"small", "partition": 0}]
    p = producer(max_request_size=2 << 20)
    metas = send_all(p, t, recs)
    p.close()
    eq([m.offset for m in metas], [0, 1], "acked offsets")
    verify(t, 1, recs, metas, "900KB")


def too_large_2mb():
    t = topic_name("kp-toolarge")
    create_topic(t, 1)
    p = producer(max_request_size=4 << 20, retries=0)
    fut = p.send(t, key=b"huge", value=os.urandom(2 << 20), partition=0)
    p.flush(20)
    try:
        m = fut.get(timeout=20)
        raise Fail(f"2MB record accepted at offset {m.offset} (expected MESSAGE_TOO_LARGE)")
    except Errors.MessageSizeTooLargeError as e:
        eq(getattr(e, "errno", None), 10, "error code")
    except Errors.KafkaError as e:
        raise Fail(f"expected MessageSizeTooLargeError (10), got {type(e).__name__}: {e}")
    m = p.send(t, key=b"ok", value=b"fine", partition=0).get(timeout=20)
    eq(m.offset, 0, "offset of the first record after the rejected one")
    p.close()


def acks(level):
    def run():
        t = topic_name(f"kp-acks{level}")
        create_topic(t, 1)
        recs = [{"key": b"k%d" % i, "value": b"acks=%s %d" % (str(level).encode(), i), "partition": 0}
                for i in range(100)]
        p = producer(acks=level)
        metas = send_all(p, t, recs)
        p.close()
        if level != 0:
            eq([m.offset for m in metas], list(range(100)), "acked offsets")
        got = kp_read(t, [0], 100)[0]
        eq([(r["offset"], r["key"], r["value"]) for r in got], [(i, r["key"], r["value"]) for i, r in enumerate(recs)],
           f"records after acks={level}")
    return run


def list_offsets():
    t = topic_name("kp-lo")
    create_topic(t, 1)
    t0 = int(time.time() * 1000) - 600_000
    p = producer(linger_ms=100)
    for b in range(10):
        send_all(p, t, [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": 0, "timestamp": t0 + 10 * i}
                        for i in range(b * 10, b * 10 + 10)])
    p.close()
    c = KafkaConsumer(bootstrap_servers=boot(), group_id=None, enable_auto_commit=False, request_timeout_ms=15000)
    try:
        tp = TopicPartition(t, 0)
        eq(c.beginning_offsets([tp], timeout_ms=10000), {tp: 0}, "beginning_offsets")
        eq(c.end_offsets([tp], timeout_ms=10000), {tp: 100}, "end_offsets")
        for delta, want in [(-100_000, 0), (0, 0), (370, 37), (375, 38), (990, 99)]:
            r = c.offsets_for_times({tp: t0 + delta}, timeout_ms=10000)[tp]
            check(r is not None, f"offsets_for_times(t0{delta:+d}) returned None")
            eq((r.offset, r.timestamp), (want, t0 + 10 * want), f"offsets_for_times(t0{delta:+d}) (offset, timestamp)")
        r = c.offsets_for_times({tp: t0 + 991}, timeout_ms=10000)[tp]
        eq(r, None, "offsets_for_times after the last record (no such offset)")
    finally:
        c.close()


def admin():
    a = admin_client()
    t = topic_name("kp-admin")
    try:
        res = a.create_topics({t: {"num_partitions": 4, "replication_factor": 1}}, raise_errors=False)
        eq([(x["name"], x["error_code"]) for x in res["topics"]], [(t, 0)], "create_topics result")
        wait_until(lambda: _partitions(a, t) == 4, 15, "4 partitions in metadata")
        desc = [x for x in a.describe_topics([t])][0]
        parts = sorted(desc["partitions"], key=lambda p: p["partition_index"])
        eq([(p["partition_index"], p["leader_id"], p["replica_nodes"], p["isr_nodes"], p["error_code"]) for p in parts],
           [(i, 1, [1], [1], 0) for i in range(4)], "partition metadata")
        cases = [
            (t, 4, 1, Errors.TopicAlreadyExistsError.errno, "existing"),
            ("bad/name", 1, 1, Errors.InvalidTopicError.errno, "bad/name"),
            ("x" * 250, 1, 1, Errors.InvalidTopicError.errno, "250 chars"),
            (topic_name("kp-rf3"), 1, 3, Errors.InvalidReplicationFactorError.errno, "replication factor 3"),
            (topic_name("kp-p0"), 0, 1, Errors.InvalidPartitionsError.errno, "0 partitions"),
        ]
        for name, parts_n, rf, code, what in cases:
            res = a.create_topics({name: {"num_partitions": parts_n, "replication_factor": rf}}, raise_errors=False)
            got = [(x["name"], x["error_code"]) for x in res["topics"]]
            eq(got, [(name, code)], f"create_topics ({what}) -> {Errors.for_code(code).__name__}")
        res = a.delete_topics([t], raise_errors=False)
        eq([(x["name"], x["error_code"]) for x in res["topics"]], [(t, 0)], "delete_topics result")
        wait_until(lambda: t not in a.list_topics(), 15, "deleted topic gone from list_topics")
        res = a.delete_topics([t], raise_errors=False)
        eq([(x["name"], x["error_code"]) for x in res["topics"]], [(t, Errors.UnknownTopicOrPartitionError.errno)],
           "delete_topics of a deleted topic")
    finally:
        a.close()


def auto_create_on():
    t = topic_name("kp-auto")
    p = producer(bootstrap=boot_np4())
    try:
        parts = p.partitions_for(t)
        eq(sorted(parts or []), [0, 1, 2, 3], "partitions_for(unknown topic) with num.partitions=4")
        m = p.send(t, key=b"a", value=b"auto").get(timeout=20)
        eq((m.partition, m.offset), (java_partition(b"a", 4), 0), "partition/offset of first record")
    finally:
        p.close()


def auto_create_off():
    t = topic_name("kp-noauto")
    a = admin_client(boot_noauto())
    try:
        try:
            desc = a.describe_topics([t])
            eq([(x["name"], x["error_code"]) for x in desc], [(t, Errors.UnknownTopicOrPartitionError.errno)],
               "describe_topics(unknown) with auto-create off")
        except Errors.UnknownTopicOrPartitionError:
            pass  # the client surfaced the broker's error code 3 as an exception: also right
        p = producer(bootstrap=boot_noauto(), max_block_ms=3000)
        try:
            p.send(t, value=b"nope").get(timeout=10)
            raise Fail("produce to unknown topic succeeded with auto-create off")
        except (Errors.KafkaTimeoutError, Errors.UnknownTopicOrPartitionError):
            pass
        finally:
            p.close(timeout=5)
        check(t not in a.list_topics(), "unknown topic was created with auto-create off")
    finally:
        a.close()


def fetch_mid_batch():
    """Fetching from inside a batch (the broker returns the whole batch) still starts at that offset."""
    t = topic_name("kp-mid")
    create_topic(t, 1)
    p = producer(linger_ms=100)
    for b in range(10):
        send_all(p, t, [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": 0} for i in range(b * 10, b * 10 + 10)])
    p.close()
    for start in (37, 40, 99):
        got = kp_read(t, [0], 100 - start, start=start)[0]
        eq([(r["offset"], r["value"]) for r in got], [(i, b"v%d" % i) for i in range(start, 100)],
           f"records read from offset {start}")


def fetch_small_max_bytes():
    """KIP-74: a fetch whose max bytes are smaller than the first batch still returns that batch."""
    t = topic_name("kp-kip74")
    create_topic(t, 1)
    vals = [os.urandom(200 * 1024) for _ in range(3)]
    p = producer(max_request_size=1 << 20)
    metas = [p.send(t, value=v, partition=0).get(timeout=20) for v in vals]
    p.close()
    eq([m.offset for m in metas], [0, 1, 2], "acked offsets")
    got = kp_read(t, [0], 3, max_partition_fetch_bytes=1024, fetch_max_bytes=1024)[0]
    eq([(r["offset"], len(r["value"])) for r in got], [(i, len(v)) for i, v in enumerate(vals)],
       "records read with 1 KiB fetch limits")
    check([r["value"] for r in got] == vals, "values differ")


def describe_topic_partitions():
    """KIP-966 DescribeTopicPartitions (kafka-python's describe_topic_partitions): partitions with
    leader/replicas/ISR, the topic id Metadata gives, pagination with the cursor."""
    t1, t2 = topic_name("kp_dtp_a"), topic_name("kp_dtp_b")
    create_topic(t1, 3)
    create_topic(t2, 2)
    a = admin_client()
    try:
        res = a.describe_topic_partitions([t2, t1])
        eq([(t["name"], t["error_code"], [p["partition_index"] for p in t["partitions"]]) for t in res["topics"]],
           sorted([(t1, 0, [0, 1, 2]), (t2, 0, [0, 1])]), "topics sorted by name with every partition")
        eq(res["next_cursor"], None, "no next cursor")
        for t in res["topics"]:
            for p in t["partitions"]:
                eq((p["error_code"], p["leader_id"], p["replica_nodes"], p["isr_nodes"], p["offline_replicas"]),
                   (0, 1, [1], [1], []), f"partition {t['name']}-{p['partition_index']}")
        ids = {t["name"]: str(t["topic_id"]) for t in a.describe_topics([t1, t2])}
        eq({t["name"]: str(t["topic_id"]) for t in res["topics"]}, ids, "topic ids as Metadata's")
        # Pages of 2 partitions.
        pages, cursor = [], None
        while True:
            r = a.describe_topic_partitions([t1, t2], response_partition_limit=2, cursor=cursor)
            pages.append([(t["name"], [p["partition_index"] for p in t["partitions"]]) for t in r["topics"]])
            cursor = r["next_cursor"]
            if cursor is None:
                break
            check(len(pages) < 6, "pagination does not end")
        first, second = sorted([t1, t2])
        n1 = 3 if first == t1 else 2
        flat = [(n, i) for page in pages for (n, ps) in page for i in ps]
        eq(flat, [(first, i) for i in range(n1)] + [(second, i) for i in range(5 - n1)], "every partition once, in order")
        check(all(sum(len(ps) for _, ps in page) <= 2 for page in pages), f"pages above the limit: {pages}")
        missing = topic_name("kp_dtp_missing")
        r = a.describe_topic_partitions([missing])
        eq([(t["name"], t["error_code"]) for t in r["topics"]], [(missing, 3)], "unknown topic")
    finally:
        a.close()


def _metrics(addr):
    import urllib.request
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
        body = r.read().decode()
    out = {}
    for line in body.splitlines():
        if line.startswith("skua_incremental_fetch"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def fetch_sessions_many():
    """KIP-227 with a client that uses it: kafka-python's Fetcher (FetchSessionHandler) assigned
    1,000 partitions of one topic on a broker of its own. Over 12 fetch waves records go to a few
    partitions at a time while the consumer keeps polling; every record is read exactly once, in
    order, with its offset. While it consumes, the broker's /metrics shows one incremental session
    of the 1,000 partitions, and kafka-python's session is past epoch 1 (it sent incremental
    requests, which name only the partitions whose position moved)."""
    from common import OwnBroker
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    maddr = f"127.0.0.1:{s.getsockname()[1]}"
    s.close()
    own = OwnBroker("fetch-sessions", ["--metrics-listen", maddr]).start()
    try:
        parts = 1000
        t = topic_name("kp-sessions")
        a = KafkaAdminClient(bootstrap_servers=own.addr, request_timeout_ms=120000)
        try:
            started = time.monotonic()
            res = a.create_topics({t: {"num_partitions": parts, "replication_factor": 1}}, timeout_ms=120000,
                                  raise_errors=False)
            # On a loaded machine 1,000 partitions can take longer than the request's timeout:
            # REQUEST_TIMED_OUT (7), as Kafka, and the creation completes anyway.
            codes = [(x["name"], x["error_code"]) for x in res["topics"]]
            check(codes in ([(t, 0)], [(t, 7)]), f"create_topics {t}: {codes}")
            wait_until(lambda: _partitions(a, t) == parts, 90, f"{parts} partitions of {t} in metadata")
            print(f"created {parts} partitions in {time.monotonic() - started:.1f}s", flush=True)
        finally:
            a.close()
        p = producer(bootstrap=own.addr)
        c = KafkaConsumer(bootstrap_servers=own.addr, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest", fetch_max_wait_ms=200, request_timeout_ms=15000)
        try:
            c.assign([TopicPartition(t, i) for i in range(parts)])
            c.seek_to_beginning()
            expected = {}
            got = {}

            def drain(n, timeout=30):
                deadline = time.monotonic() + timeout
                total = sum(len(v) for v in got.values())
                while total < n and time.monotonic() < deadline:
                    for tp, msgs in c.poll(timeout_ms=200).items():
                        for m in msgs:
                            got.setdefault(m.partition, []).append((m.offset, m.value))
                            total += 1
                check(total >= n, f"read {total} of {n} records within {timeout}s")

            sent = 0
            metrics_during = None
            for wave in range(12):
                targets = [(wave * 97 + k * 331) % parts for k in range(4)]
                for i, tp in enumerate(targets):
                    for j in range(3):
                        v = b"w%d-p%d-%d-%d" % (wave, tp, i, j)
                        md = p.send(t, value=v, partition=tp).get(timeout=15)
                        expected.setdefault(tp, []).append((md.offset, v))
                        sent += 1
                drain(sent)
                if wave == 6:
                    metrics_during = _metrics(maddr)
            # a little more polling: nothing else may arrive
            for _ in range(3):
                for tp, msgs in c.poll(timeout_ms=200).items():
                    for m in msgs:
                        got.setdefault(m.partition, []).append((m.offset, m.value))
            eq(sorted(got), sorted(expected), "partitions that returned records")
            for tp in expected:
                eq(got[tp], expected[tp], f"records of partition {tp}")
            eq({k: metrics_during.get(k) for k in ("skua_incremental_fetch_sessions",
                                                   "skua_incremental_fetch_partitions_cached")},
               {"skua_incremental_fetch_sessions": 1.0, "skua_incremental_fetch_partitions_cached": float(parts)},
               "fetch sessions in /metrics while consuming")
            handlers = getattr(c._fetcher, "_session_handlers", {})
            epochs = [h.next_metadata.epoch for h in handlers.values()]
            check(len(epochs) == 1 and epochs[0] > 1,
                  f"kafka-python's fetch session did not go incremental (next epochs {epochs})")
        finally:
            c.close()
            p.close()
        # The consumer closed its connection; the session stays until evicted, as in Kafka.
        m = _metrics(maddr)
        eq(m.get("skua_incremental_fetch_session_evictions_total"), 0.0, "evictions")
    finally:
        own.stop()


SCENARIOS = {
    "describe_topic_partitions": describe_topic_partitions,
    "roundtrip_1000": roundtrip_1000,
    **{f"codec_{c}": codec(c) for c in ["none", "gzip", "snappy", "lz4", "zstd"]},
    "headers_timestamps": headers_timestamps,
    "keyed_partitioning": keyed_partitioning,
    "large_900k": large_900k,
    "too_large_2mb": too_large_2mb,
    "acks_0": acks(0),
    "acks_1": acks(1),
    "acks_all": acks("all"),
    "list_offsets": list_offsets,
    "admin": admin,
    "auto_create_on": auto_create_on,
    "auto_create_off": auto_create_off,
    "fetch_mid_batch": fetch_mid_batch,
    "fetch_small_max_bytes": fetch_small_max_bytes,
    "fetch_sessions_many": fetch_sessions_many,
}

SCENARIOS.update(groups.scenarios("kafka-python"))

if __name__ == "__main__":
    main(SCENARIOS)
