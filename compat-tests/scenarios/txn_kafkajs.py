"""Idempotence / transactions with kafkajs (reported as kafkajs/txn_*), driven through
scenarios/kafkajs/txn.js (modes idempotent, txns, consume, ctp); Python makes every assertion and
reads back with confluent-kafka (explicit isolation levels) as well as kafkajs's own consumer."""

import random
import time
import uuid

from common import check, eq, eq_records, topic_name, boot_groups, main, wait_until, confluent_create_topic, \
    java_partition
from txnlib import RC, RU, TxnBroker, txid, cf_producer, cf_send, end_offsets, cf_read, ov, cf_committed, JsonProc, \
    describe_producers

N_IDEM = 20000
P_IDEM = 3


def idempotent_bounce(how):
    """kafkajs producer with idempotent: true, maxInFlightRequests 1, acks -1 sends 20000 keyed
    records (sequential send() calls of 100) while the broker is restarted twice on the same dir and
    port (SIGTERM, or kill -9). Every send succeeds; the log holds each record exactly once at the
    offset its send() reported, offsets contiguous, per-partition order kept."""
    def run():
        b = TxnBroker(f"js-idem-{how}")
        b.start()
        js = None
        try:
            t = "compat-js-idem"
            confluent_create_topic(t, P_IDEM, bootstrap=b.addr)
            js = JsonProc.node("txn.js", {"mode": "idempotent", "bootstrap": b.addr, "topic": t, "n": N_IDEM,
                                          "chunk": 100, "delay_ms": 10}, "kafkajs-idem")

            def acked():
                return sum(e["count"] for e in js.of("acked"))
            for threshold in (5000, 12000):
                js.wait(lambda: acked() >= threshold, 90, f"{threshold} records acknowledged by kafkajs")
                if how == "kill9":
                    time.sleep(random.uniform(0, 0.03))
                n_at = acked()
                check(n_at < N_IDEM, f"all {N_IDEM} records were acknowledged before the restart at {threshold}")
                b.restart(how)
                print(f"{how} at {n_at} acknowledged records", flush=True)
            js.wait(lambda: js.of("done"), 150, "kafkajs to send all records")
            # acknowledged offsets: per send() and partition, the records of that partition in order
            # from its baseOffset
            expect = {}
            for ev in js.of("acked"):
                base = {p: (off, err) for p, off, err in ev["results"]}
                idx = {}
                for seq in range(ev["from"], ev["from"] + ev["count"]):
                    q = java_partition(b"key-%02d" % (seq % 50), P_IDEM)
                    check(q in base, f"send() of records {ev['from']}..: no result for partition {q} ({ev['results']})")
                    eq(base[q][1], 0, f"error code of send() of records {ev['from']}.. on partition {q}")
                    expect[seq] = (q, base[q][0] + idx.get(q, 0))
                    idx[q] = idx.get(q, 0) + 1
            eq(len(expect), N_IDEM, "records acknowledged by kafkajs")
            tps = [(t, q) for q in range(P_IDEM)]
            hw = end_offsets(b.addr, tps, RU)
            got = cf_read(b.addr, tps, RU, sum(hw.values()), timeout=60, linger=0.5)
            seen = {}
            for q in range(P_IDEM):
                recs = got[(t, q)]
                eq(len(recs), hw[(t, q)], f"records read from partition {q} vs its high watermark")
                prev = -1
                for i, r in enumerate(recs):
                    eq(r["offset"], i, f"offset of record #{i} on partition {q} (offsets must be contiguous)")
                    seq = int(r["value"])
                    check(seq not in seen, f"record {seq} is in the log twice: {seen.get(seq)} and partition {q} "
                                           f"offset {i} (a retried send was not deduplicated)")
                    seen[seq] = (q, i)
                    check(seq > prev, f"partition {q} offset {i} holds record {seq} after {prev} (reordered)")
                    prev = seq
            missing = sorted(set(range(N_IDEM)) - set(seen))
            check(not missing, f"{len(missing)} acknowledged records missing, first {missing[:1]}; high watermarks {hw}")
            moved = sorted(s for s in expect if expect[s] != seen[s])
            check(not moved, f"{len(moved)} records not at the offset kafkajs reported, first {moved[:1]}: "
                             f"reported {expect[moved[0]] if moved else None}, found {seen[moved[0]] if moved else None}")
            # one producer id for the whole run (kafkajs never had to re-init it: the broker kept its
            # state across the restarts), last sequence = records on the partition - 1
            dp = describe_producers(b.addr, tps)
            pids = {(x.producer_id, x.producer_epoch) for q in range(P_IDEM) for x in dp[(t, q)]}
            eq(len(pids), 1, f"producer ids / epochs in DescribeProducers over the partitions ({sorted(pids)})")
            for q in range(P_IDEM):
                eq([(x.last_sequence, x.current_transaction_start_offset) for x in dp[(t, q)]], [(hw[(t, q)] - 1, -1)],
                   f"DescribeProducers on partition {q} (last sequence, txn start)")
        finally:
            if js:
                js.kill9()
            b.stop()
    return run


def txn_commit_abort():
    """kafkajs transactional producer: commit, abort, commit on 2 partitions. kafkajs's group
    consumer (read_committed, its default) gets exactly the committed records at their offsets,
    with readUncommitted every data record; confluent's read_committed reader agrees."""
    bs = boot_groups()
    t = topic_name("js-txn")
    confluent_create_topic(t, 2, bootstrap=bs)
    plan = []
    for tag, commit, counts in (("c1", True, {0: 4, 1: 3}), ("a2", False, {0: 3, 1: 2}), ("c3", True, {0: 2, 1: 2})):
        plan.append({"tag": tag, "commit": commit, "records": [
            {"partition": q, "key": f"k{i}", "value": f"{tag}-{q}-{i}"} for q, n in counts.items() for i in range(n)]})
    js = JsonProc.node("txn.js", {"mode": "txns", "bootstrap": bs, "topic": t, "txid": txid("js"), "plan": plan},
                       "kafkajs-txns")
    js.wait(lambda: js.of("done"), 60, "kafkajs's transactions")
    want_rc, want_ru, nxt = {0: [], 1: []}, {0: [], 1: []}, {0: 0, 1: 0}
    evs = {e["tag"]: e for e in js.of("txn")}
    for step in plan:
        base = {p: off for p, off, err in evs[step["tag"]]["results"]}
        eq(base, {q: nxt[q] for q in (0, 1)}, f"baseOffset per partition of transaction {step['tag']}")
        for q in (0, 1):
            for r in step["records"]:
                if r["partition"] == q:
                    want_ru[q].append((nxt[q], r["value"]))
                    if step["commit"]:
                        want_rc[q].append((nxt[q], r["value"]))
                    nxt[q] += 1
            nxt[q] += 1  # the marker
    tps = [(t, 0), (t, 1)]
    wait_until(lambda: end_offsets(bs, tps, RU) == {(t, 0): nxt[0], (t, 1): nxt[1]}, 15, f"high watermarks {nxt}")
    eq(end_offsets(bs, tps, RC), {(t, 0): nxt[0], (t, 1): nxt[1]}, "LSO at the end")
    for ru, want in ((False, want_rc), (True, want_ru)):
        what = "readUncommitted" if ru else "read_committed"
        c = JsonProc.node("txn.js", {"mode": "consume", "bootstrap": bs, "topic": t, "read_uncommitted": ru,
                                     "group": f"compat-js-txnread-{uuid.uuid4().hex[:8]}",
                                     "expect": sum(len(v) for v in want.values()), "linger_ms": 1000},
                          f"kafkajs-consume-{what}")
        c.wait(lambda: c.of("done"), 60, f"kafkajs's {what} consumer")
        recs = c.of("msgs")[0]["recs"]
        for q in (0, 1):
            eq(sorted((o, v.encode()) for p, o, v in recs if p == q), [(o, v.encode()) for o, v in want[q]],
               f"kafkajs {what} consumer, partition {q}")
    got = cf_read(bs, tps, RC, sum(len(v) for v in want_rc.values()), linger=1.0)
    for q in (0, 1):
        eq(ov(got[(t, q)]), [(o, v.encode()) for o, v in want_rc[q]], f"confluent read_committed, partition {q}")


def txn_consume_transform_produce():
    """kafkajs consume-transform-produce (txn.js ctp): a group consumer (read_committed, autoCommit
    off) on a 2-partition input of 1000 records; every 50 records of a batch become one transaction
    (send "T:"+value to the same output partition, sendOffsets for the group, commit). The 6th
    transaction is left open and the node process is killed -9; a new one with the same
    transactionalId aborts it and finishes. read_committed output = every input exactly once, in
    order; read_uncommitted = plus exactly the killed transaction's records; committed offsets = the
    input's end offsets."""
    bs = boot_groups()
    tin, tout = topic_name("js-ctp-in"), topic_name("js-ctp-out")
    confluent_create_topic(tin, 2, bootstrap=bs)
    confluent_create_topic(tout, 2, bootstrap=bs)
    group = f"compat-js-ctp-{uuid.uuid4().hex[:8]}"
    inputs = {q: [b"in-%d-%04d" % (q, i) for i in range(500)] for q in (0, 1)}
    cf_send(cf_producer(bs), tin, [{"partition": q, "key": b"k%d" % (i % 7), "value": v}
                                   for q in (0, 1) for i, v in enumerate(inputs[q])], what="input records")
    cfg = {"mode": "ctp", "bootstrap": bs, "input": tin, "output": tout, "group": group, "txid": txid("js-ctp"),
           "batch": 50, "end": {"0": 500, "1": 500}, "session_ms": 6000}
    a1 = JsonProc.node("txn.js", dict(cfg, hang_at=6), "kafkajs-ctp-1")
    try:
        hung = a1.wait(lambda: (a1.of("in_txn") or [None])[0], 60, "the first processor's 6th transaction")
        a1.kill9()
        committed_before = {}
        for ev in a1.of("txn"):
            for q, o in ev["offsets"].items():
                committed_before[int(q)] = max(committed_before.get(int(q), 0), o)
        a2 = JsonProc.node("txn.js", dict(cfg, hang_at=None), "kafkajs-ctp-2")
        ready = a2.wait(lambda: (a2.of("ready") or [None])[0], 30, "the second processor to start")
        eq({int(k): v for k, v in ready["committed"].items() if v > 0}, committed_before,
           "the group's committed offsets when the second processor starts (the killed transaction's not included)")
        a2.wait(lambda: a2.of("done"), 70, "the second processor to finish")
        a2.stop()
    finally:
        a1.kill9()
    tps_out = [(tout, 0), (tout, 1)]
    got = cf_read(bs, tps_out, RC, 1000, timeout=40, linger=1.0)
    for q in (0, 1):
        eq_records([r["value"] for r in got[(tout, q)]], [b"T:" + v for v in inputs[q]],
                   f"read_committed output partition {q} (each input exactly once, in order)")
    hung_recs = {q: [o for p_, o in hung["recs"] if p_ == q] for q in (0, 1)}
    want_ru = {}
    for q in (0, 1):
        a = committed_before.get(q, 0)
        if hung_recs[q]:
            eq(hung_recs[q], list(range(a, a + len(hung_recs[q]))),
               f"input offsets of the killed transaction on partition {q} (after the committed offset {a})")
        want_ru[q] = [b"T:" + v for v in inputs[q][:a + len(hung_recs[q])]] + [b"T:" + v for v in inputs[q][a:]]
    got = cf_read(bs, tps_out, RU, sum(len(v) for v in want_ru.values()), timeout=40, linger=1.0)
    for q in (0, 1):
        eq_records([r["value"] for r in got[(tout, q)]], want_ru[q],
                   f"read_uncommitted output partition {q} (the killed transaction's records once more)")
    eq(cf_committed(bs, group, [(tin, 0), (tin, 1)]), {(tin, 0): 500, (tin, 1): 500},
       "the group's committed offsets on the input (= its end offsets)")
    hw = end_offsets(bs, tps_out, RU)
    eq(end_offsets(bs, tps_out, RC), hw, "output LSO = high watermark (no transaction left open)")


SCENARIOS = {
    "txn_idempotent_restart": idempotent_bounce("sigterm"),
    "txn_idempotent_kill9": idempotent_bounce("kill9"),
    "txn_commit_abort": txn_commit_abort,
    "txn_consume_transform_produce": txn_consume_transform_produce,
}

if __name__ == "__main__":
    main(SCENARIOS)
