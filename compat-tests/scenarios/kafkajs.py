"""kafkajs scenarios: kafkajs produces / administers (scenarios/kafkajs/helper.js), Python asserts.

Records written by kafkajs are read back with the confluent-kafka reference reader (manual
assignment, exact offsets); kafkajs's own consumer, which always runs in a group, is exercised by
the group scenarios (groups.py, kafkajs/group_agent.js).
"""

import base64
import json
import os
import subprocess
import time

from common import (Fail, check, eq, eq_records, topic_name, boot, boot_np4, boot_noauto, main, confluent_read,
                    check_offsets_contiguous, java_partition, COMPAT_DIR)
import groups

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafkajs", "helper.js")


def b64(v):
    return None if v is None else base64.b64encode(v).decode()


def js(ops, bootstrap=None, timeout=60, retries=None):
    spec = {"brokers": [bootstrap or boot()], "ops": ops}
    if retries is not None:
        spec["retries"] = retries
    env = dict(os.environ, NODE_PATH=os.path.join(COMPAT_DIR, "node_modules"), KAFKAJS_NO_PARTITIONER_WARNING="1")
    p = subprocess.run(["node", HELPER], input=json.dumps(spec), capture_output=True, text=True, timeout=timeout,
                       cwd=COMPAT_DIR, env=env)
    lines = [l for l in p.stdout.splitlines() if l.startswith("[")]
    if not lines:
        raise Fail(f"kafkajs helper exit {p.returncode}, no result; stderr: {p.stderr.strip()[-600:]}")
    res = json.loads(lines[-1])
    if res and "fatal" in res[0]:
        raise Fail(f"kafkajs client failed: {errtext(res[0]['fatal'])}")
    return res


def errtext(e):
    if not e:
        return "none"
    s = f"{e.get('name')}"
    if e.get("type"):
        s += f" type={e['type']} code={e.get('code')}"
    s += f": {e.get('message')}"
    for sub in e.get("errors") or []:
        s += f" [{errtext(sub)}]"
    if e.get("cause"):
        s += f" (cause: {errtext(e['cause'])})"
    if e.get("originalError"):
        s += f" (original: {errtext(e['originalError'])})"
    return s


def ok(res, what):
    if "error" in res:
        raise Fail(f"{what}: {errtext(res['error'])}")
    return res["ok"]


def error_types(e):
    """All protocol error types mentioned in a (possibly nested/aggregate) kafkajs error."""
    out = set()
    if not e:
        return out
    if e.get("type"):
        out.add(e["type"])
    for sub in e.get("errors") or []:
        out |= error_types(sub)
    for k in ("cause", "originalError"):
        out |= error_types(e.get(k))
    return out


def expect_error(res, typ, what):
    check("error" in res, f"{what}: succeeded ({json.dumps(res.get('ok'))[:200]}), expected {typ}")
    types = error_types(res["error"])
    check(typ in types, f"{what}: expected {typ}, got {errtext(res['error'])}")


def create(topic, parts, bootstrap=None):
    r = js([{"op": "createTopics", "topics": [{"topic": topic, "numPartitions": parts, "replicationFactor": 1}]}],
           bootstrap=bootstrap)
    eq(ok(r[0], f"createTopics {topic}"), True, f"createTopics {topic} result")


def rec_json(r):
    return {"key": b64(r.get("key")), "value": b64(r.get("value")), "headers":
            [[k, b64(v)] for k, v in r["headers"]] if r.get("headers") else None,
            "timestamp": r.get("timestamp"), "partition": r.get("partition")}


def produce(topic, recs, compression="none", acks=-1, chunk=100, bootstrap=None):
    r = js([{"op": "produce", "topic": topic, "records": [rec_json(x) for x in recs], "acks": acks,
             "compression": compression, "chunk": chunk}], bootstrap=bootstrap)
    return ok(r[0], f"produce ({compression}, acks={acks})")


def verify(topic, nparts, recs, what, part_of=None, check_ts=True):
    """Every record must be read back, in produce order per partition, offsets 0.. contiguous."""
    exp = {p: [] for p in range(nparts)}
    for r in recs:
        p = r.get("partition") if r.get("partition") is not None else part_of(r)
        exp[p].append(r)
    got = confluent_read(topic, list(range(nparts)), len(recs))
    for p in range(nparts):
        check_offsets_contiguous(got[p], f"{what}: partition {p}")
        actual = [(x["key"], x["value"], x["headers"] or None) + ((x["timestamp"],) if check_ts else ())
                  for x in got[p]]
        expected = [(r.get("key"), r.get("value"), [tuple(h) for h in r["headers"]] if r.get("headers") else None)
                    + ((r["timestamp"],) if check_ts else ()) for r in exp[p]]
        eq_records(actual, expected, f"{what}: partition {p}")
    return got


def roundtrip_1000():
    t = topic_name("js-rt")
    create(t, 3)
    now = int(time.time() * 1000)
    recs = [{"key": b"key-%d" % (i % 37), "value": b"value-%06d-" % i + os.urandom(12), "timestamp": now + i}
            for i in range(1000)]
    meta = produce(t, recs, chunk=100)
    # every send() reports one base offset per partition; together they must tile 0..n-1
    for send in meta:
        for m in send:
            check(m["errorCode"] == 0, f"send result error {m}")
    verify(t, 3, recs, "roundtrip", part_of=lambda r: java_partition(r["key"], 3))


def codec(name):
    def run():
        t = topic_name(f"js-{name}")
        create(t, 1)
        now = int(time.time() * 1000)
        recs = [{"key": b"k%d" % i, "value": (b"compressible value %d " % i) * 20 + os.urandom(8),
                 "partition": 0, "timestamp": now + i} for i in range(500)]
        meta = produce(t, recs, compression=name, chunk=100)
        eq([m[0]["baseOffset"] for m in meta], [str(i) for i in range(0, 500, 100)], "baseOffset of each send")
        verify(t, 1, recs, f"codec {name}")
    return run


def headers_timestamps():
    t = topic_name("js-hdr")
    create(t, 1)
    base = int(time.time() * 1000) - 3600_000
    recs = []
    for i in range(20):
        # kafkajs cannot write a null header value (Buffer.byteLength(null) throws), so none here
        recs.append({"key": b"k%d" % i, "value": b"v%d" % i, "partition": 0, "timestamp": base + i * 1000 + i,
                     "headers": [("dup", b"first"), ("dup", b"second"), ("empty", b""),
                                 ("bin", bytes(range(256))), ("i", str(i).encode())]})
    recs.append({"key": None, "value": b"null key", "partition": 0, "timestamp": base + 50_000})
    recs.append({"key": b"tomb", "value": None, "partition": 0, "timestamp": base + 51_000})
    produce(t, recs, chunk=7)
    verify(t, 1, recs, "headers/timestamps")


def keyed_partitioning():
    t = topic_name("js-keyed")
    create(t, 6)
    keys = [b"user-%d" % i for i in range(40)]
    recs = [{"key": keys[j % 40], "value": b"%d" % j} for j in range(200)]
    produce(t, recs, chunk=50)
    got = verify(t, 6, recs, "keyed", part_of=lambda r: java_partition(r["key"], 6), check_ts=False)
    check(sum(1 for p in got if got[p]) > 1, "all keys on one partition")


def large_900k():
    t = topic_name("js-large")
    create(t, 1)
    big = os.urandom(900 * 1024)
    recs = [{"key": b"big", "value": big, "partition": 0}, {"key": b"after", "value": b"small", "partition": 0}]
    produce(t, recs, chunk=1)
    got = confluent_read(t, [0], 2)[0]
    eq([(r["offset"], r["key"], len(r["value"])) for r in got], [(0, b"big", len(big)), (1, b"after", 5)],
       "records read back")
    check(got[0]["value"] == big, "900KB value differs after the round trip")


def too_large_2mb():
    t = topic_name("js-toolarge")
    create(t, 1)
    r = js([{"op": "produce", "topic": t, "records": [rec_json({"key": b"huge", "value": os.urandom(2 << 20),
                                                                 "partition": 0})]},
            {"op": "produce", "topic": t, "records": [rec_json({"key": b"ok", "value": b"fine", "partition": 0})]}],
           retries=0)
    expect_error(r[0], "MESSAGE_TOO_LARGE", "produce 2MB record")
    meta = ok(r[1], "produce after the rejected record")
    eq(meta[0][0]["baseOffset"], "0", "offset of the first record after the rejected one")


def acks(level):
    def run():
        t = topic_name(f"js-acks{level}")
        create(t, 1)
        recs = [{"key": b"k%d" % i, "value": b"acks=%d %d" % (level, i), "partition": 0} for i in range(100)]
        produce(t, recs, acks=level, chunk=10)
        verify(t, 1, recs, f"acks={level}", check_ts=False)
    return run


def list_offsets():
    t = topic_name("js-lo")
    create(t, 2)
    t0 = int(time.time() * 1000) - 600_000
    recs = [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": 0, "timestamp": t0 + 10 * i} for i in range(100)]
    recs += [{"key": b"p1", "value": b"x", "partition": 1, "timestamp": t0 + 5000}]
    produce(t, recs, chunk=10)
    r = js([{"op": "fetchTopicOffsets", "topic": t},
            {"op": "fetchTopicOffsetsByTimestamp", "topic": t, "timestamp": t0 + 375},
            {"op": "fetchTopicOffsetsByTimestamp", "topic": t, "timestamp": t0 - 1000},
            {"op": "fetchTopicOffsetsByTimestamp", "topic": t, "timestamp": t0 + 100_000}])
    offs = sorted(ok(r[0], "fetchTopicOffsets"), key=lambda x: x["partition"])
    eq([(o["partition"], o["low"], o["high"], o["offset"]) for o in offs],
       [(0, "0", "100", "100"), (1, "0", "1", "1")], "fetchTopicOffsets (partition, low, high, offset)")
    by_ts = sorted(ok(r[1], "fetchTopicOffsetsByTimestamp"), key=lambda x: x["partition"])
    eq([(o["partition"], o["offset"]) for o in by_ts], [(0, "38"), (1, "0")], "fetchTopicOffsetsByTimestamp(t0+375)")
    by_ts = sorted(ok(r[2], "fetchTopicOffsetsByTimestamp early"), key=lambda x: x["partition"])
    eq([(o["partition"], o["offset"]) for o in by_ts], [(0, "0"), (1, "0")], "fetchTopicOffsetsByTimestamp(t0-1s)")
    # kafkajs maps "no record at or after t" (-1) to the high watermark
    by_ts = sorted(ok(r[3], "fetchTopicOffsetsByTimestamp late"), key=lambda x: x["partition"])
    eq([(o["partition"], o["offset"]) for o in by_ts], [(0, "100"), (1, "1")], "fetchTopicOffsetsByTimestamp(after all)")


def admin():
    t = topic_name("js-admin")
    r = js([
        {"op": "createTopics", "topics": [{"topic": t, "numPartitions": 4, "replicationFactor": 1}]},
        {"op": "fetchTopicMetadata", "topics": [t]},
        {"op": "createTopics", "topics": [{"topic": t, "numPartitions": 4, "replicationFactor": 1}]},
        {"op": "createTopics", "topics": [{"topic": "bad/name", "numPartitions": 1, "replicationFactor": 1}]},
        {"op": "createTopics", "topics": [{"topic": topic_name("js-rf3"), "numPartitions": 1, "replicationFactor": 3}]},
        {"op": "produce", "topic": t, "records": [rec_json({"value": b"old", "partition": i}) for i in range(4)]},
        {"op": "deleteTopics", "topics": [t]},
        {"op": "listTopics"},
        {"op": "deleteTopics", "topics": [t]},
        {"op": "describeCluster"},
    ], retries=1)
    eq(ok(r[0], "createTopics"), True, "createTopics result")
    md = ok(r[1], "fetchTopicMetadata")["topics"]
    eq(len(md), 1, "topics in fetchTopicMetadata")
    parts = sorted(md[0]["partitions"], key=lambda p: p["partitionId"])
    eq([(p["partitionId"], p["leader"], p["replicas"], p["isr"], p["partitionErrorCode"]) for p in parts],
       [(i, 1, [1], [1], 0) for i in range(4)], "partition metadata")
    eq(ok(r[2], "createTopics again"), False, "createTopics of an existing topic (kafkajs: false = TOPIC_ALREADY_EXISTS)")
    expect_error(r[3], "INVALID_TOPIC_EXCEPTION", "createTopics bad/name")
    expect_error(r[4], "INVALID_REPLICATION_FACTOR", "createTopics replicationFactor 3")
    ok(r[5], "produce before delete")
    ok(r[6], "deleteTopics")
    check(t not in ok(r[7], "listTopics"), "deleted topic still listed")
    expect_error(r[8], "UNKNOWN_TOPIC_OR_PARTITION", "deleteTopics of a deleted topic")
    cl = ok(r[9], "describeCluster")
    eq([(b["nodeId"], b["host"], b["port"]) for b in cl["brokers"]],
       [(1, "127.0.0.1", int(boot().rsplit(":", 1)[1]))], "describeCluster brokers")
    eq(cl["controller"], 1, "describeCluster controller")


def auto_create_on():
    t = topic_name("js-auto")
    r = js([{"op": "produce", "topic": t, "records": [rec_json({"key": b"a", "value": b"auto %d" % i})
                                                      for i in range(10)]},
            {"op": "fetchTopicMetadata", "topics": [t]}], bootstrap=boot_np4())
    meta = ok(r[0], "produce to unknown topic (auto-create on)")
    want = java_partition(b"a", 4)
    eq([(m["partition"], m["baseOffset"], m["errorCode"]) for m in meta[0]], [(want, "0", 0)], "send result")
    md = ok(r[1], "fetchTopicMetadata")["topics"][0]
    eq(len(md["partitions"]), 4, "partitions of the auto-created topic (num.partitions=4)")


def auto_create_off():
    t = topic_name("js-noauto")
    r = js([{"op": "produce", "topic": t, "records": [rec_json({"value": b"nope"})]},
            {"op": "listTopics"}], bootstrap=boot_noauto(), retries=1)
    expect_error(r[0], "UNKNOWN_TOPIC_OR_PARTITION", "produce to unknown topic (auto-create off)")
    check(t not in ok(r[1], "listTopics"), "unknown topic was created with auto-create off")



def configs_describe_alter():
    """kafkajs admin.describeConfigs / alterConfigs: sources, a full replace, validateOnly, errors."""
    t = topic_name("js-cfg")
    r = js([
        {"op": "createTopics", "topics": [{"topic": t, "numPartitions": 1, "replicationFactor": 1,
                                           "configEntries": [{"name": "retention.ms", "value": "60000"}]}]},
        {"op": "describeConfigs", "includeSynonyms": True, "resources": [{"type": 2, "name": t}]},
        {"op": "describeConfigs", "resources": [{"type": 2, "name": t,
                                                 "configNames": ["max.message.bytes", "no.such.config"]}]},
        {"op": "alterConfigs", "resources": [{"type": 2, "name": t,
                                              "configEntries": [{"name": "max.message.bytes", "value": "2000"}]}]},
        {"op": "alterConfigs", "validateOnly": True,
         "resources": [{"type": 2, "name": t, "configEntries": [{"name": "max.message.bytes", "value": "3000"}]}]},
        {"op": "describeConfigs", "resources": [{"type": 2, "name": t}]},
        {"op": "alterConfigs", "resources": [{"type": 2, "name": t,
                                              "configEntries": [{"name": "retention.ms", "value": "soon"}]}]},
        {"op": "describeConfigs", "resources": [{"type": 4, "name": "1", "configNames": ["num.partitions"]}]},
    ], retries=0)
    ok(r[0], "createTopics")

    def entries(res, what):
        resources = ok(res, what)["resources"]
        eq(len(resources), 1, f"{what}: resources")
        eq(resources[0]["errorCode"], 0, f"{what}: error code")
        return {e["configName"]: e for e in resources[0]["configEntries"]}

    c = entries(r[1], "describe all")
    for name in ("cleanup.policy", "max.message.bytes", "retention.bytes", "segment.bytes", "segment.ms"):
        check(name in c, f"{name} not described")
    eq((c["retention.ms"]["configValue"], c["retention.ms"]["configSource"]), ("60000", 1), "retention.ms")
    eq((c["max.message.bytes"]["configValue"], c["max.message.bytes"]["configSource"]), ("1048588", 5),
       "max.message.bytes")
    eq([(s["configName"], s["configValue"], s["configSource"]) for s in c["segment.bytes"]["configSynonyms"]],
       [("log.segment.bytes", "1073741824", 5)], "segment.bytes synonyms")
    eq(sorted(entries(r[2], "describe selected")), ["max.message.bytes"], "selected keys")
    ok(r[3], "alterConfigs")
    ok(r[4], "alterConfigs validateOnly")
    c = entries(r[5], "describe after alter")
    eq((c["max.message.bytes"]["configValue"], c["max.message.bytes"]["configSource"]), ("2000", 1),
       "max.message.bytes after alter (validateOnly changed nothing)")
    eq((c["retention.ms"]["configValue"], c["retention.ms"]["configSource"]), ("604800000", 5),
       "retention.ms after a full replace")
    expect_error(r[6], "INVALID_CONFIG", "alterConfigs retention.ms=soon")
    b = entries(r[7], "describe broker")
    eq((b["num.partitions"]["configValue"], b["num.partitions"]["readOnly"]), ("1", True), "broker num.partitions")

def admin_partitions_records():
    """kafkajs admin: createPartitions (grow, shrink refused), deleteTopicRecords, then offsets."""
    t = topic_name("js-parts")
    create(t, 2)
    r = js([
        {"op": "createPartitions", "topicPartitions": [{"topic": t, "count": 4}]},
        {"op": "fetchTopicMetadata", "topics": [t]},
        {"op": "produce", "topic": t, "records": [rec_json({"value": b"v%d" % i, "partition": 3}) for i in range(10)]},
        {"op": "deleteTopicRecords", "topic": t, "partitions": [{"partition": 3, "offset": "6"}]},
        {"op": "fetchTopicOffsets", "topic": t},
        {"op": "createPartitions", "topicPartitions": [{"topic": t, "count": 3}]},
        {"op": "deleteTopicRecords", "topic": t, "partitions": [{"partition": 3, "offset": "11"}]},
    ], retries=0)
    eq(ok(r[0], "createPartitions 2 -> 4"), True, "createPartitions result")
    parts = sorted(p["partitionId"] for p in ok(r[1], "fetchTopicMetadata")["topics"][0]["partitions"])
    eq(parts, [0, 1, 2, 3], "partitions after createPartitions")
    ok(r[2], "produce to the new partition 3")
    eq(ok(r[3], "deleteTopicRecords"), True, "deleteTopicRecords result")
    offs = sorted(ok(r[4], "fetchTopicOffsets"), key=lambda x: x["partition"])
    eq([(o["partition"], o["low"], o["high"]) for o in offs],
       [(0, "0", "0"), (1, "0", "0"), (2, "0", "0"), (3, "6", "10")],
       "offsets after deleteTopicRecords (partition, low, high)")
    expect_error(r[5], "INVALID_PARTITIONS", "createPartitions 4 -> 3")
    # kafkajs reports a partition error of DeleteRecords as KafkaJSDeleteTopicRecordsError
    # without the code; the log start offset must stay where it was.
    check("error" in r[6] and "DeleteTopicRecords" in errtext(r[6]["error"]),
          f"deleteTopicRecords beyond the high watermark: {json.dumps(r[6])[:300]}")
    offs = sorted(ok(js([{"op": "fetchTopicOffsets", "topic": t}])[0], "fetchTopicOffsets"),
                  key=lambda x: x["partition"])
    eq((offs[3]["low"], offs[3]["high"]), ("6", "10"), "partition 3 after the refused deleteTopicRecords")


SCENARIOS = {
    "admin_partitions_records": admin_partitions_records,
    "configs_describe_alter": configs_describe_alter,
    "roundtrip_1000": roundtrip_1000,
    **{f"codec_{c}": codec(c) for c in ["none", "gzip", "snappy", "lz4", "zstd"]},
    "headers_timestamps": headers_timestamps,
    "keyed_partitioning": keyed_partitioning,
    "large_900k": large_900k,
    "too_large_2mb": too_large_2mb,
    "acks_0": acks(0),
    "acks_1": acks(1),
    "acks_all": acks(-1),
    "list_offsets": list_offsets,
    "admin": admin,
    "auto_create_on": auto_create_on,
    "auto_create_off": auto_create_off,
}

SCENARIOS.update(groups.scenarios("kafkajs"))

if __name__ == "__main__":
    main(SCENARIOS)
