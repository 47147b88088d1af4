"""Idempotence / transactions with kafka-python (reported as kafka-python/txn_*): its default
(idempotent) producer, its transactional producer with its read_committed / read_uncommitted
consumer, and its admin client's ListTransactions / DescribeTransactions / DescribeProducers
(KIP-664) against a confluent-kafka transactional producer whose producer id and epoch come from
librdkafka's statistics."""

import os
import time

from kafka import KafkaProducer
import kafka.errors as Errors

from common import Fail, check, eq, topic_name, boot, main, wait_until, confluent_create_topic, java_partition
from kpython import kp_read, verify
from txnlib import RC, RU, txid, cf_txn_producer, cf_send, end_offsets, EosStats, kp_admin, describe_producers


def idempotent_default():
    """KafkaProducer with no idempotence setting (3.x default: enable_idempotence=True, acks=all):
    it gets a producer id from the broker, 1000 keyed records land at contiguous offsets and read back
    exactly (kafka-python and confluent consumers), and DescribeProducers shows that producer on
    every partition with last sequence = records on the partition - 1."""
    t = topic_name("kp-idem")
    confluent_create_topic(t, 3)
    p = KafkaProducer(bootstrap_servers=boot(), linger_ms=5, request_timeout_ms=15000, max_block_ms=15000)
    try:
        tm = p._transaction_manager
        check(tm is not None, "kafka-python's default producer is not idempotent (no transaction manager)")
        eq(p.config["acks"], -1, "acks of the default idempotent producer")
        recs = [{"key": b"key-%d" % (i % 37), "value": b"idem-%06d-" % i + os.urandom(8)} for i in range(1000)]
        futs = [p.send(t, key=r["key"], value=r["value"]) for r in recs]
        p.flush(30)
        metas = [f.get(timeout=30) for f in futs]
        pe = tm.producer_id_and_epoch
        check(pe.producer_id >= 0, f"the producer has no producer id after sending: {pe}")
    finally:
        p.close(10)
    for r, m in zip(recs, metas):
        eq(m.partition, java_partition(r["key"], 3), f"partition of key {r['key']!r}")
    verify(t, 3, recs, metas, "idempotent default producer")
    counts = {q: sum(1 for m in metas if m.partition == q) for q in range(3)}
    dp = describe_producers(boot(), [(t, q) for q in range(3)])
    for q in range(3):
        eq([(s.producer_id, s.producer_epoch, s.last_sequence, s.current_transaction_start_offset) for s in dp[(t, q)]],
           [(pe.producer_id, pe.epoch, counts[q] - 1, -1)],
           f"DescribeProducers on partition {q} (producer id, epoch, last sequence, txn start offset)")


def txn_commit_abort():
    """kafka-python transactional producer: commit, abort, commit on 2 partitions; its consumer with
    isolation_level=read_committed reads exactly the committed records at their offsets (each
    marker takes one), with read_uncommitted every data record."""
    bs = boot()
    t = topic_name("kp-txn")
    confluent_create_topic(t, 2)
    p = KafkaProducer(bootstrap_servers=bs, transactional_id=txid("kp"), linger_ms=5, request_timeout_ms=15000,
                      max_block_ms=15000)
    plan = [("c1", True, {0: 4, 1: 3}), ("a2", False, {0: 3, 1: 2}), ("c3", True, {0: 2, 1: 2})]
    want_rc = {0: [], 1: []}
    want_ru = {0: [], 1: []}
    nxt = {0: 0, 1: 0}
    try:
        p.init_transactions()
        for tag, commit, counts in plan:
            p.begin_transaction()
            futs = []
            for q, n in counts.items():
                for i in range(n):
                    v = b"%s-%d-%d" % (tag.encode(), q, i)
                    futs.append((q, v, p.send(t, key=b"k%d" % i, value=v, partition=q)))
            p.flush(30)
            for q, v, f in futs:
                m = f.get(timeout=30)
                eq((m.partition, m.offset), (q, nxt[q]), f"partition/offset of {v!r}")
                nxt[q] += 1
                want_ru[q].append((m.offset, v))
                if commit:
                    want_rc[q].append((m.offset, v))
            (p.commit_transaction if commit else p.abort_transaction)()
            for q in counts:
                nxt[q] += 1  # the marker
    finally:
        p.close(10)
    wait_until(lambda: end_offsets(bs, [(t, 0), (t, 1)], RU) == {(t, 0): nxt[0], (t, 1): nxt[1]}, 15,
               f"high watermarks {nxt} (data + 3 markers per partition)")
    eq(end_offsets(bs, [(t, 0), (t, 1)], RC), {(t, 0): nxt[0], (t, 1): nxt[1]}, "LSO at the end")
    got = kp_read(t, [0, 1], sum(len(v) for v in want_rc.values()), isolation_level="read_committed", linger=1.0)
    for q in (0, 1):
        eq([(r["offset"], r["value"]) for r in got[q]], want_rc[q], f"read_committed records on partition {q}")
    got = kp_read(t, [0, 1], sum(len(v) for v in want_ru.values()), isolation_level="read_uncommitted", linger=1.0)
    for q in (0, 1):
        eq([(r["offset"], r["value"]) for r in got[q]], want_ru[q], f"read_uncommitted records on partition {q}")


def txn_admin():
    """KIP-664 admin APIs (kafka-python's admin client) on a confluent-kafka transactional producer:
    DescribeTransactions shows Empty after init (epoch 0 for a new id), Ongoing with both partitions,
    the producer id / epoch librdkafka holds, the timeout and a start time while a transaction is open,
    CompleteCommit with no partitions after the commit, and Empty with epoch + 1 after a new
    producer's InitProducerId; ListTransactions with state / producer-id filters agrees;
    DescribeProducers shows the producer on each partition with its last sequence, last timestamp
    and the transaction's first offset (-1 once committed); an unknown id is
    TRANSACTIONAL_ID_NOT_FOUND."""
    bs = boot()
    t = topic_name("kp-txadm")
    confluent_create_topic(t, 2)
    tid = txid("admin")
    st = EosStats()
    p = cf_txn_producer(bs, tid, {"statistics.interval.ms": 100, "stats_cb": st.cb, "transaction.timeout.ms": 30000})
    pid, epoch = st.pid_epoch(p)
    eq(epoch, 0, "librdkafka's producer epoch for a new transactional id")
    a = kp_admin(bs)
    try:
        def desc():
            d = a.describe_transactions([tid])[tid]
            return (d.state.value, d.producer_id, d.producer_epoch, d.transaction_timeout_ms,
                    sorted((x.topic, x.partition) for x in d.topic_partitions)), d

        def listed(**kw):
            return sorted((x.transactional_id, x.producer_id, x.state.value)
                          for v in a.list_transactions(**kw).values() for x in v if x.transactional_id == tid)
        eq(desc()[0], ("Empty", pid, 0, 30000, []), "DescribeTransactions after init_transactions")
        wall0 = int(time.time() * 1000)
        ts0 = wall0 - 60_000
        p.begin_transaction()
        cf_send(p, t, [{"partition": 0, "value": b"a%d" % i, "timestamp": ts0 + i} for i in range(3)]
                + [{"partition": 1, "value": b"b%d" % i, "timestamp": ts0 + 10 + i} for i in range(2)], what="produce")
        wall1 = int(time.time() * 1000)
        got, d = desc()
        eq(got, ("Ongoing", pid, 0, 30000, [(t, 0), (t, 1)]), "DescribeTransactions while the transaction is open")
        check(wall0 - 2000 <= d.transaction_start_time_ms <= wall1 + 2000,
              f"transaction start time {d.transaction_start_time_ms} not within [{wall0}, {wall1}] (+-2s)")
        eq(listed(), [(tid, pid, "Ongoing")], "ListTransactions")
        eq(listed(state_filters=["Ongoing"]), [(tid, pid, "Ongoing")], "ListTransactions state_filters=[Ongoing]")
        eq(listed(state_filters=["CompleteCommit"]), [], "ListTransactions state_filters=[CompleteCommit]")
        eq(listed(producer_id_filters=[pid]), [(tid, pid, "Ongoing")], f"ListTransactions producer_id_filters=[{pid}]")
        eq(listed(producer_id_filters=[pid + 1000000]), [], "ListTransactions with another producer id")
        dp = describe_producers(bs, [(t, 0), (t, 1)])
        for q, n, last_ts in ((0, 3, ts0 + 2), (1, 2, ts0 + 11)):
            eq([(s.producer_id, s.producer_epoch, s.last_sequence, s.last_timestamp, s.current_transaction_start_offset)
                for s in dp[(t, q)]], [(pid, 0, n - 1, last_ts, 0)],
               f"DescribeProducers on partition {q} while open (id, epoch, last sequence, last timestamp, txn start)")
        p.commit_transaction(30)
        wait_until(lambda: desc()[0][0] == "CompleteCommit", 15, "DescribeTransactions state CompleteCommit")
        eq(desc()[0], ("CompleteCommit", pid, 0, 30000, []), "DescribeTransactions after the commit")
        eq(listed(state_filters=["Ongoing"]), [], "ListTransactions state_filters=[Ongoing] after the commit")
        eq(listed(), [(tid, pid, "CompleteCommit")], "ListTransactions after the commit")
        wait_until(lambda: end_offsets(bs, [(t, 0), (t, 1)], RC) == {(t, 0): 4, (t, 1): 3}, 15, "commit markers")
        dp = describe_producers(bs, [(t, 0), (t, 1)])
        for q, n in ((0, 3), (1, 2)):
            eq([(s.producer_id, s.producer_epoch, s.last_sequence, s.current_transaction_start_offset)
                for s in dp[(t, q)]], [(pid, 0, n - 1, -1)], f"DescribeProducers on partition {q} after the commit")
        # a new instance with the same transactional.id: same producer id, next epoch, state Empty
        st2 = EosStats()
        p2 = cf_txn_producer(bs, tid, {"statistics.interval.ms": 100, "stats_cb": st2.cb,
                                       "transaction.timeout.ms": 30000})
        eq(st2.pid_epoch(p2), (pid, 1), "librdkafka's producer id / epoch of the next instance")
        eq(desc()[0], ("Empty", pid, 1, 30000, []), "DescribeTransactions after the next instance's init")
        unknown = txid("never-used")
        try:
            r = a.describe_transactions([unknown])
            raise Fail(f"DescribeTransactions of an unknown id succeeded: {r}")
        except Errors.TransactionalIdNotFoundError:
            pass
        except Errors.KafkaError as e:
            raise Fail(f"DescribeTransactions of an unknown id: expected TRANSACTIONAL_ID_NOT_FOUND (105), got "
                       f"{type(e).__name__}: {e}")
    finally:
        a.close()


SCENARIOS = {
    "txn_idempotent_default": idempotent_default,
    "txn_commit_abort": txn_commit_abort,
    "txn_admin": txn_admin,
}

if __name__ == "__main__":
    main(SCENARIOS)
