"""confluent-kafka (librdkafka) scenarios."""

import hashlib
import os
import time
import uuid

from confluent_kafka import Producer, Consumer, TopicPartition, KafkaError, KafkaException, TIMESTAMP_CREATE_TIME
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from common import (Fail, check, eq, eq_records, topic_name, boot, boot_np4, boot_noauto, wait_until, main,
                    confluent_read, confluent_create_topic, check_offsets_contiguous, librdkafka_partition,
                    java_partition)
import groups


def producer(extra=None, bootstrap=None):
    conf = {
        "bootstrap.servers": bootstrap or boot(),
        "enable.idempotence": False,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 20000,
    }
    conf.update(extra or {})
    return Producer(conf)


def produce_all(p, topic, recs, flush_timeout=30):
    """Produce recs (dicts: key, value, headers, timestamp, partition) and return delivery reports in order."""
    reports = [None] * len(recs)

    def cb_for(i):
        def cb(err, msg):
            reports[i] = (err, msg.partition(), msg.offset(), msg.timestamp())
        return cb

    for i, r in enumerate(recs):
        kw = {}
        if r.get("partition") is not None:
            kw["partition"] = r["partition"]
        if r.get("timestamp"):
            kw["timestamp"] = r["timestamp"]
        if r.get("headers") is not None:
            kw["headers"] = r["headers"]
        while True:
            try:
                p.produce(topic, value=r.get("value"), key=r.get("key"), on_delivery=cb_for(i), **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(flush_timeout)
    check(left == 0, f"{left} records still undelivered after flush({flush_timeout})")
    return reports


def expect_delivered(reports, what):
    for i, rep in enumerate(reports):
        check(rep is not None, f"{what}: no delivery report for record #{i}")
        err = rep[0]
        check(err is None, f"{what}: record #{i} delivery failed: {err}")


def expected_from_reports(recs, reports, with_offsets=True):
    """Group produced records by the partition/offset the broker acknowledged."""
    by_part = {}
    for r, (err, part, off, ts) in zip(recs, reports):
        by_part.setdefault(part, []).append({
            "partition": part,
            "offset": off,
            "key": r.get("key"),
            "value": r.get("value"),
            "headers": r.get("headers"),
            "timestamp": ts[1],
            "timestamp_type": TIMESTAMP_CREATE_TIME,
        })
    for part in by_part:
        by_part[part].sort(key=lambda x: x["offset"])
    return by_part


def norm(recs, with_headers=True):
    out = []
    for r in recs:
        d = dict(r)
        if not with_headers:
            d.pop("headers", None)
        elif d.get("headers") == []:
            d["headers"] = None
        out.append(d)
    return out


def verify_readback(topic, nparts, recs, reports, what):
    """Read the topic back with a fresh consumer and compare every field with what was acked."""
    exp = expected_from_reports(recs, reports)
    for part, lst in exp.items():
        check_offsets_contiguous(lst, f"{what}: acknowledged offsets on partition {part}")
    got = confluent_read(topic, list(range(nparts)), len(recs))
    for part in range(nparts):
        eq_records(norm(got.get(part, [])), norm(exp.get(part, [])), f"{what}: partition {part}")


# ---------------------------------------------------------------- scenarios

def roundtrip_1000():
    t = topic_name("cf-rt")
    confluent_create_topic(t, 3)
    recs = [{"key": b"key-%d" % (i % 37), "value": b"value-%06d-" % i + os.urandom(16).hex().encode(),
             "headers": [("seq", str(i).encode())]} for i in range(1000)]
    p = producer()
    reports = produce_all(p, t, recs)
    expect_delivered(reports, "produce")
    # per key, the order of acked offsets must follow the produce order
    last = {}
    for i, (r, rep) in enumerate(zip(recs, reports)):
        k = (rep[1], r["key"])
        check(last.get(k, -1) < rep[2], f"record #{i}: offset {rep[2]} not after previous offset of its key {last.get(k)}")
        last[k] = rep[2]
    verify_readback(t, 3, recs, reports, "roundtrip")


def codec(name):
    def run():
        t = topic_name(f"cf-{name}")
        confluent_create_topic(t, 1)
        recs = [{"key": b"k%d" % i, "value": (b"compressible value %d " % i) * 20 + os.urandom(8)}
                for i in range(500)]
        p = producer({"compression.type": name, "linger.ms": 50, "batch.num.messages": 100})
        reports = produce_all(p, t, recs)
        expect_delivered(reports, f"produce with {name}")
        verify_readback(t, 1, recs, reports, f"codec {name}")
    return run


def headers_timestamps():
    t = topic_name("cf-hdr")
    confluent_create_topic(t, 1)
    base = int(time.time() * 1000) - 3600_000
    recs = []
    for i in range(20):
        recs.append({
            "key": b"k%d" % i,
            "value": b"v%d" % i,
            "timestamp": base + i * 1000 + (7 if i % 2 else 0),
            "headers": [("dup", b"first"), ("dup", b"second"), ("null-value", None), ("empty", b""),
                        ("bin\u00e9", bytes(range(256))), ("i", str(i).encode())],
        })
    # null key, empty key, null value (tombstone), empty value
    recs.append({"key": None, "value": b"null key", "timestamp": base + 50_000, "headers": None})
    recs.append({"key": b"", "value": b"empty key", "timestamp": base + 51_000, "headers": None})
    recs.append({"key": b"tomb", "value": None, "timestamp": base + 52_000, "headers": None})
    recs.append({"key": b"ev", "value": b"", "timestamp": base + 53_000, "headers": [("only", b"1")]})
    p = producer()
    reports = produce_all(p, t, recs)
    expect_delivered(reports, "produce")
    for i, (r, rep) in enumerate(zip(recs, reports)):
        eq(rep[3], (TIMESTAMP_CREATE_TIME, r["timestamp"]), f"delivery report timestamp of record #{i}")
    got = confluent_read(t, [0], len(recs))[0]
    exp = [{"partition": 0, "offset": i, "key": r["key"], "value": r["value"], "headers": r["headers"],
            "timestamp": r["timestamp"], "timestamp_type": TIMESTAMP_CREATE_TIME} for i, r in enumerate(recs)]
    eq_records(norm(got), norm(exp), "headers/timestamps read back")


def keyed(partitioner):
    def run():
        t = topic_name("cf-keyed")
        confluent_create_topic(t, 6)
        keys = [b"user-%d" % i for i in range(40)]
        recs = [{"key": keys[j % 40], "value": b"%d" % j} for j in range(200)]
        p = producer({"partitioner": partitioner})
        reports = produce_all(p, t, recs)
        expect_delivered(reports, "produce")
        part_of = {}
        for r, rep in zip(recs, reports):
            k = r["key"]
            if partitioner == "consistent_random":
                want = librdkafka_partition(k, 6)
            else:
                want = java_partition(k, 6)
            eq(rep[1], want, f"partition of key {k!r} ({partitioner})")
            check(part_of.setdefault(k, rep[1]) == rep[1], f"key {k!r} went to two partitions")
        check(len(set(part_of.values())) > 1, "all keys on one partition")
        verify_readback(t, 6, recs, reports, "keyed")
    return run


def large_900k():
    t = topic_name("cf-large")
    confluent_create_topic(t, 1)
    big = os.urandom(900 * 1024)
    recs = [{"key": b"big", "value": big}, {"key": b"after", "value": b"small"}]
    p = producer({"compression.type": "none"})
    reports = produce_all(p, t, recs)
    expect_delivered(reports, "produce 900KB")
    got = confluent_read(t, [0], 2)[0]
    eq(len(got), 2, "records read")
    eq(got[0]["offset"], 0, "offset of big record")
    eq(len(got[0]["value"]), len(big), "size of big record read back")
    eq(hashlib.sha256(got[0]["value"]).hexdigest(), hashlib.sha256(big).hexdigest(), "sha256 of big record")
    eq((got[1]["offset"], got[1]["value"]), (1, b"small"), "record after the big one")


def too_large_2mb():
    t = topic_name("cf-toolarge")
    confluent_create_topic(t, 1)
    p = producer({"compression.type": "none", "message.max.bytes": 4_000_000, "message.timeout.ms": 15000})
    reports = produce_all(p, t, [{"key": b"huge", "value": os.urandom(2 * 1024 * 1024)}])
    err = reports[0][0]
    check(err is not None, f"2MB record was accepted at offset {reports[0][2]} (expected MESSAGE_TOO_LARGE)")
    eq((err.code(), err.name()), (KafkaError.MSG_SIZE_TOO_LARGE, "MSG_SIZE_TOO_LARGE"),
       "error code reported for a 2MB record")
    # nothing was appended, and the partition still takes normal records at offset 0
    reports = produce_all(p, t, [{"key": b"ok", "value": b"fine"}])
    expect_delivered(reports, "produce after rejection")
    eq(reports[0][2], 0, "offset of the first record after the rejected one")


def acks(level):
    def run():
        t = topic_name(f"cf-acks{level}")
        confluent_create_topic(t, 1)
        recs = [{"key": b"k%d" % i, "value": b"acks=%s %d" % (level.encode(), i)} for i in range(100)]
        p = producer({"acks": level})
        reports = produce_all(p, t, recs)
        expect_delivered(reports, f"acks={level}")
        got = confluent_read(t, [0], 100)[0]
        eq([(r["offset"], r["key"], r["value"]) for r in got],
           [(i, r["key"], r["value"]) for i, r in enumerate(recs)], f"records after acks={level}")
        if level != "0":
            eq([rep[2] for rep in reports], list(range(100)), "acknowledged offsets")
    return run


def list_offsets():
    t = topic_name("cf-lo")
    confluent_create_topic(t, 1)
    t0 = int(time.time() * 1000) - 600_000
    p = producer({"linger.ms": 100})
    # 10 batches of 10 records; record i has timestamp t0 + 10*i
    for b in range(10):
        recs = [{"key": b"k%d" % i, "value": b"v%d" % i, "timestamp": t0 + 10 * i} for i in range(b * 10, b * 10 + 10)]
        expect_delivered(produce_all(p, t, recs), f"batch {b}")
    c = Consumer({"bootstrap.servers": boot(), "group.id": "compat-unused-" + uuid.uuid4().hex[:8],
                  "enable.auto.commit": False})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(t, 0), timeout=10, cached=False)
        eq((lo, hi), (0, 100), "get_watermark_offsets (low, high)")
        cases = [
            (t0 - 100_000, 0),       # before everything -> first record
            (t0, 0),                 # exact first
            (t0 + 370, 37),          # exact, in the middle of a batch
            (t0 + 375, 38),          # between records -> next record
            (t0 + 55, 6),
            (t0 + 990, 99),          # the last record
            (t0 + 991, -1),          # after everything -> no offset (-1)
        ]
        wrong = []
        for ts, want in cases:  # one call each: a call holds one timestamp per partition
            tp = c.offsets_for_times([TopicPartition(t, 0, ts)], timeout=10)[0]
            got = f"error {tp.error}" if tp.error is not None else tp.offset
            if got != want:
                wrong.append(f"t0{ts - t0:+d}ms -> {got} (expected {want})")
        check(not wrong, "offsets_for_times: " + ", ".join(wrong))
    finally:
        c.close()
    a = AdminClient({"bootstrap.servers": boot()})
    tp = TopicPartition(t, 0)
    for spec, want, what in [(OffsetSpec.earliest(), 0, "earliest"), (OffsetSpec.latest(), 100, "latest"),
                             (OffsetSpec.for_timestamp(t0 + 375), 38, "for_timestamp(t0+375)")]:
        r = a.list_offsets({tp: spec}, request_timeout=10)[tp].result(timeout=15)
        eq(r.offset, want, f"AdminClient.list_offsets {what}")
        if what.startswith("for_timestamp"):
            eq(r.timestamp, t0 + 380, f"AdminClient.list_offsets {what} timestamp")


def _create(a, topics):
    fs = a.create_topics(topics, operation_timeout=10, request_timeout=15)
    out = {}
    for name, f in fs.items():
        try:
            f.result(timeout=20)
            out[name] = None
        except KafkaException as e:
            out[name] = e.args[0]
    return out


def admin():
    a = AdminClient({"bootstrap.servers": boot()})
    t = topic_name("cf-admin")
    res = _create(a, [NewTopic(t, num_partitions=4, replication_factor=1)])
    check(res[t] is None, f"create {t}: {res[t]}")

    def md_ok():
        md = a.list_topics(topic=t, timeout=5).topics.get(t)
        return md if md is not None and md.error is None and len(md.partitions) == 4 else None
    md = wait_until(md_ok, 15, "4 partitions in metadata")
    for pid, pm in sorted(md.partitions.items()):
        eq((pm.id, pm.leader, list(pm.replicas), list(pm.isrs), pm.error), (pid, 1, [1], [1], None),
           f"metadata of partition {pid}")
    eq(sorted(md.partitions), [0, 1, 2, 3], "partition ids")

    errors = {
        "existing": (t, 4, 1, KafkaError.TOPIC_ALREADY_EXISTS),
        "slash": ("bad/name", 1, 1, KafkaError.TOPIC_EXCEPTION),
        "space": ("bad name", 1, 1, KafkaError.TOPIC_EXCEPTION),
        "dot": (".", 1, 1, KafkaError.TOPIC_EXCEPTION),
        "dotdot": ("..", 1, 1, KafkaError.TOPIC_EXCEPTION),
        "250 chars": ("x" * 250, 1, 1, KafkaError.TOPIC_EXCEPTION),
        "rf3": (topic_name("cf-rf3"), 1, 3, KafkaError.INVALID_REPLICATION_FACTOR),
        "0 partitions": (topic_name("cf-p0"), 0, 1, KafkaError.INVALID_PARTITIONS),
    }
    for what, (name, parts, rf, code) in errors.items():
        try:
            nt = NewTopic(name, num_partitions=parts, replication_factor=rf)
        except Exception as e:  # noqa: BLE001
            raise Fail(f"client refused NewTopic({what}): {e}")
        err = _create(a, [nt])[name]
        check(err is not None, f"create topic ({what}) succeeded, expected {KafkaError(code).name()}")
        eq(err.code(), code, f"create topic ({what}) error (got {err.name()})")
    all_topics = a.list_topics(timeout=5).topics
    for name in ["bad/name", "bad name", "x" * 250, errors["rf3"][0], errors["0 partitions"][0]]:
        check(name not in all_topics, f"rejected topic {name[:40]!r} appears in metadata")

    # put a few records in, delete, check it is gone, then re-create by producing (auto-create on)
    p = producer()
    expect_delivered(produce_all(p, t, [{"key": b"old", "value": b"old %d" % i, "partition": i % 4}
                                        for i in range(8)]), "produce before delete")
    fs = a.delete_topics([t], operation_timeout=10, request_timeout=15)
    fs[t].result(timeout=20)
    wait_until(lambda: t not in a.list_topics(timeout=5).topics, 15, f"{t} gone from metadata")
    fs = a.delete_topics([t], operation_timeout=10, request_timeout=15)
    try:
        fs[t].result(timeout=20)
        raise Fail("deleting a deleted topic succeeded (expected UNKNOWN_TOPIC_OR_PART)")
    except KafkaException as e:
        eq(e.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART, f"delete unknown topic error ({e.args[0].name()})")
    p2 = producer()
    reps = produce_all(p2, t, [{"key": b"new", "value": b"after delete"}])
    expect_delivered(reps, "produce to deleted topic (auto-create on)")
    eq((reps[0][1], reps[0][2]), (0, 0), "partition/offset of first record in the re-created topic")
    md = a.list_topics(topic=t, timeout=5).topics[t]
    eq(len(md.partitions), 1, "partitions of the auto-created topic (num.partitions default 1)")
    got = confluent_read(t, [0], 1)[0]
    eq([(r["offset"], r["key"], r["value"]) for r in got], [(0, b"new", b"after delete")],
       "records of the re-created topic (old data must be gone)")


def delete_noauto():
    """On a broker with auto-create off, producing to a deleted topic fails with an unknown-topic error."""
    a = AdminClient({"bootstrap.servers": boot_noauto()})
    t = topic_name("cf-delna")
    confluent_create_topic(t, 2, bootstrap=boot_noauto())
    p = producer(bootstrap=boot_noauto())
    expect_delivered(produce_all(p, t, [{"value": b"x", "partition": 0}]), "produce before delete")
    a.delete_topics([t], operation_timeout=10, request_timeout=15)[t].result(timeout=20)
    wait_until(lambda: t not in a.list_topics(timeout=5).topics, 15, f"{t} gone from metadata")
    p2 = producer({"message.timeout.ms": 5000, "topic.metadata.propagation.max.ms": 1000}, bootstrap=boot_noauto())
    reps = produce_all(p2, t, [{"value": b"y"}], flush_timeout=20)
    err = reps[0][0]
    check(err is not None, f"produce to deleted topic succeeded at {reps[0][1]}/{reps[0][2]} with auto-create off")
    check(err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC),
          f"produce to deleted topic: expected UNKNOWN_TOPIC_OR_PART, got {err.name()}")
    check(t not in a.list_topics(timeout=5).topics, "deleted topic re-appeared with auto-create off")


def auto_create_on():
    t = topic_name("cf-auto")
    a = AdminClient({"bootstrap.servers": boot_np4()})
    p = producer(bootstrap=boot_np4())
    reps = produce_all(p, t, [{"key": b"a", "value": b"auto %d" % i} for i in range(10)])
    expect_delivered(reps, "produce to unknown topic")
    md = a.list_topics(topic=t, timeout=5).topics[t]
    check(md.error is None, f"metadata error for auto-created topic: {md.error}")
    eq(len(md.partitions), 4, "partitions of auto-created topic (num.partitions=4)")
    want = librdkafka_partition(b"a", 4)
    eq({r[1] for r in reps}, {want}, "partition of keyed records in auto-created topic")
    eq([r[2] for r in reps], list(range(10)), "offsets in auto-created topic")


def auto_create_off():
    t = topic_name("cf-noauto")
    a = AdminClient({"bootstrap.servers": boot_noauto()})
    md = a.list_topics(topic=t, timeout=5).topics.get(t)
    check(md is not None, "unknown topic missing from the metadata response")
    check(md.error is not None and md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART,
          f"metadata for unknown topic: expected UNKNOWN_TOPIC_OR_PART, got {md.error and md.error.name()}")
    p = producer({"message.timeout.ms": 5000, "topic.metadata.propagation.max.ms": 1000}, bootstrap=boot_noauto())
    reps = produce_all(p, t, [{"value": b"nope"}], flush_timeout=20)
    err = reps[0][0]
    check(err is not None, "produce to unknown topic succeeded with auto-create off")
    check(err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC),
          f"produce to unknown topic: expected UNKNOWN_TOPIC_OR_PART, got {err.name()}")
    check(t not in a.list_topics(timeout=5).topics, "unknown topic was created with auto-create off")


def _batched_topic(prefix, n=100, per_batch=10, t0=None):
    """A 1-partition topic holding n records in batches of per_batch; record i has timestamp t0 + 10*i."""
    t = topic_name(prefix)
    confluent_create_topic(t, 1)
    t0 = t0 or int(time.time() * 1000) - 600_000
    p = producer({"linger.ms": 100})
    for b in range(0, n, per_batch):
        recs = [{"key": b"k%d" % i, "value": b"v%d" % i, "timestamp": t0 + 10 * i, "partition": 0}
                for i in range(b, min(n, b + per_batch))]
        expect_delivered(produce_all(p, t, recs), f"batch at {b}")
    return t, t0


def fetch_mid_batch():
    """A fetch starting inside a batch gets the whole batch; the client must still start at its offset."""
    t, _ = _batched_topic("cf-mid")
    for start in (37, 40, 99):
        got = confluent_read(t, [0], 100 - start, start=start)[0]
        eq([(r["offset"], r["value"]) for r in got], [(i, b"v%d" % i) for i in range(start, 100)],
           f"records read from offset {start}")


def offset_out_of_range():
    t, _ = _batched_topic("cf-oor", n=10, per_batch=10)
    # auto.offset.reset=error: the broker's OFFSET_OUT_OF_RANGE surfaces as a consumer error
    c = Consumer({"bootstrap.servers": boot(), "group.id": "compat-unused-" + uuid.uuid4().hex[:8],
                  "enable.auto.commit": False, "auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition(t, 0, 50)])
        err = None
        deadline = time.monotonic() + 15
        while err is None and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            check(m.error() is not None, f"fetch at offset 50 of 10 returned a record at offset {m.offset()}")
            err = m.error()
        check(err is not None, "no error within 15s for a fetch at offset 50 of a 10-record partition")
        check(err.code() == KafkaError._AUTO_OFFSET_RESET and "out of range" in err.str().lower(),
              f"fetch at offset 50 of 10: expected OFFSET_OUT_OF_RANGE (as _AUTO_OFFSET_RESET), got {err.name()}: {err.str()}")
    finally:
        c.close()
    # auto.offset.reset=earliest: the consumer resets to 0 and reads everything
    got = confluent_read(t, [0], 10, start=50, extra={"auto.offset.reset": "earliest"})[0]
    eq([r["offset"] for r in got], list(range(10)), "offsets after reset to earliest")


def segments_restart():
    """Own broker with log.segment.bytes=1 MiB: ~6 MB over 2 partitions rolls segments; reads and
    timestamp lookups across segments are exact, before and after a clean restart (SIGTERM)."""
    import signal
    from common import OwnBroker
    b = OwnBroker("segments", ["--set", "log.segment.bytes=1048576"])
    addr, data = b.addr, b.dir
    b.start()
    try:
        t = "compat-segments"
        confluent_create_topic(t, 2, bootstrap=addr)
        t0 = int(time.time() * 1000) - 3600_000
        n = 3000  # per partition, ~1 KiB each
        recs = [{"key": b"k%d" % i, "value": b"%06d-" % i + os.urandom(500).hex().encode(), "partition": i % 2,
                 "timestamp": t0 + i} for i in range(2 * n)]
        p = producer({"linger.ms": 20, "compression.type": "none"}, bootstrap=addr)
        reports = produce_all(p, t, recs)
        expect_delivered(reports, "produce")
        logs = [f for _, _, fs in os.walk(data) for f in fs if f.endswith(".log")]
        check(len(logs) >= 6, f"expected several rolled .log segments with log.segment.bytes=1MiB, found {len(logs)}")
        exp = expected_from_reports(recs, reports)

        def verify(when):
            c = Consumer({"bootstrap.servers": addr, "group.id": "compat-unused", "enable.auto.commit": False})
            try:
                for part in (0, 1):
                    eq(c.get_watermark_offsets(TopicPartition(t, part), timeout=10, cached=False), (0, n),
                       f"{when}: watermarks of partition {part}")
                    for i in (0, 1, 1234, 2047, 2999):  # record i of partition p has timestamp t0 + 2i + p
                        r = c.offsets_for_times([TopicPartition(t, part, t0 + 2 * i + part)], timeout=10)[0]
                        eq(r.offset, i, f"{when}: offsets_for_times of record {i} on partition {part}")
            finally:
                c.close()
            got = confluent_read(t, [0, 1], 2 * n, bootstrap=addr, timeout=60)
            for part in (0, 1):
                eq_records(norm(got[part]), norm(exp[part]), f"{when}: partition {part}")
            for start_off in (1500, 2999):
                got = confluent_read(t, [1], n - start_off, bootstrap=addr, start=start_off)[1]
                eq(got[0]["offset"], start_off, f"{when}: first offset read from {start_off}")
        verify("before restart")
        b.proc.send_signal(signal.SIGTERM)
        rc = b.proc.wait(20)
        eq(rc, 0, "broker exit code after SIGTERM")
        b.start()
        verify("after restart")
        reps = produce_all(producer(bootstrap=addr), t, [{"value": b"after", "partition": 0}])
        expect_delivered(reps, "produce after restart")
        eq(reps[0][2], n, "offset of the first record after restart")
    finally:
        b.stop()


SCENARIOS = {
    "roundtrip_1000": roundtrip_1000,
    **{f"codec_{c}": codec(c) for c in ["none", "gzip", "snappy", "lz4", "zstd"]},
    "headers_timestamps": headers_timestamps,
    "keyed_partitioning": keyed("consistent_random"),
    "keyed_partitioning_murmur2": keyed("murmur2_random"),
    "large_900k": large_900k,
    "too_large_2mb": too_large_2mb,
    "acks_0": acks("0"),
    "acks_1": acks("1"),
    "acks_all": acks("all"),
    "list_offsets": list_offsets,
    "admin": admin,
    "delete_noauto": delete_noauto,
    "auto_create_on": auto_create_on,
    "auto_create_off": auto_create_off,
    "fetch_mid_batch": fetch_mid_batch,
    "offset_out_of_range": offset_out_of_range,
    "segments_restart": segments_restart,
}

SCENARIOS.update(groups.scenarios("confluent"))

if __name__ == "__main__":
    main(SCENARIOS)
