"""kcat and transactions (reported as kcat/txn_*): kcat 1.7.1 (librdkafka 2.0.2) reading a topic
with committed, aborted and open transactions written by confluent-kafka."""

from common import eq, topic_name, boot, main, wait_until, confluent_create_topic
from kcat import kcat
from txnlib import RC, RU, txid, cf_txn_producer, cf_send, end_offsets


def lines(isolation, t, extra=()):
    args = ["-C", "-t", t, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o|%k|%s\\n"] + list(extra)
    if isolation:
        args += ["-X", f"isolation.level={isolation}"]
    return kcat(args).stdout.decode().splitlines()


def txn_read_committed():
    """Partition 0 holds: a committed transaction (offsets 0-2, marker 3), an aborted one (4-6,
    marker 7), a committed one (8-10, marker 11), then an open one (12-13). `kcat -C -e -X
    isolation.level=read_committed` prints exactly the 6 committed records and stops at the LSO (12);
    librdkafka's default isolation level is read_committed too; read_uncommitted prints all 11 data
    records, the open transaction's included, never a marker."""
    bs = boot()
    t = topic_name("kcat-txn")
    confluent_create_topic(t, 1)
    p = cf_txn_producer(bs, txid("kcat"))
    want_all = []
    off = 0
    committed = []
    for tag, commit in (("c0", True), ("a1", False), ("c2", True)):
        p.begin_transaction()
        recs = [{"partition": 0, "key": b"%s-k%d" % (tag.encode(), i), "value": b"%s-v%d" % (tag.encode(), i)}
                for i in range(3)]
        eq(cf_send(p, t, recs, what=tag), [(0, off + i) for i in range(3)], f"offsets of transaction {tag}")
        rows = [f"{off + i}|{r['key'].decode()}|{r['value'].decode()}" for i, r in enumerate(recs)]
        want_all += rows
        if commit:
            committed += rows
        (p.commit_transaction if commit else p.abort_transaction)(30)
        off += 4
    wait_until(lambda: end_offsets(bs, [(t, 0)], RU)[(t, 0)] == 12, 15, "three markers (high watermark 12)")
    p.begin_transaction()
    recs = [{"partition": 0, "key": b"o3-k%d" % i, "value": b"o3-v%d" % i} for i in range(2)]
    eq(cf_send(p, t, recs, what="open transaction"), [(0, 12), (0, 13)], "offsets of the open transaction")
    want_all += [f"{12 + i}|{r['key'].decode()}|{r['value'].decode()}" for i, r in enumerate(recs)]
    eq(end_offsets(bs, [(t, 0)], RC)[(t, 0)], 12, "LSO with the open transaction")
    eq(lines(RC, t), committed, "kcat -X isolation.level=read_committed")
    eq(lines(None, t), committed, "kcat with librdkafka's default isolation level (read_committed)")
    eq(lines(RU, t), want_all, "kcat -X isolation.level=read_uncommitted")
    p.abort_transaction(30)
    wait_until(lambda: end_offsets(bs, [(t, 0)], RC)[(t, 0)] == 15, 15, "the open transaction's abort marker (LSO 15)")
    eq(lines(RC, t), committed, "kcat read_committed after the last transaction was aborted")


SCENARIOS = {"txn_read_committed": txn_read_committed}

if __name__ == "__main__":
    main(SCENARIOS)
