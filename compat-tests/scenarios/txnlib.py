"""Helpers for the idempotence / transaction scenarios (txn.py, txn_kpython.py, txn_aiok.py,
txn_kafkajs.py, txn_kcat.py).

Reading back: `cf_read` assigns every partition from offset 0 with confluent-kafka and an explicit
isolation.level ("read_committed" or "read_uncommitted"), so a scenario states exactly which records
each isolation level must show, at which offsets. `end_offsets` asks ListOffsets(latest) with an
isolation level: read_committed answers the last stable offset (LSO), read_uncommitted the high
watermark. Transaction markers (control records) take an offset each but are never delivered.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

from common import Fail, check, eq, short, scratch, OwnBroker, COMPAT_DIR

HERE = os.path.dirname(os.path.abspath(__file__))
RC = "read_committed"
RU = "read_uncommitted"


class TxnBroker(OwnBroker):
    """An own broker that can also be killed with SIGKILL and restarted on the same dir and port."""

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def restart(self, how):
        """Stop (SIGTERM, must exit 0) or kill -9, then start again on the same data dir and port."""
        # a cached admin client answers "No leaders found" for a while after its broker went away
        _ADMINS.pop(self.addr, None)
        if how == "kill9":
            self.kill9()
        else:
            rc = self.stop()
            eq(rc, 0, f"broker exit code after SIGTERM (log {self.log})")
        self.start()


def txid(what):
    return f"compat-txn-{what}-{uuid.uuid4().hex[:8]}"


# ----------------------------------------------------------------------------- confluent-kafka

def cf_producer(bootstrap, extra=None):
    from confluent_kafka import Producer
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "enable.idempotence": False,
            "message.timeout.ms": 30000}
    conf.update(extra or {})
    return Producer(conf)


def cf_txn_producer(bootstrap, tid, extra=None, init=True):
    """A transactional confluent-kafka producer, init_transactions() done."""
    conf = {"transactional.id": tid, "enable.idempotence": True, "transaction.timeout.ms": 30000}
    conf.update(extra or {})
    p = cf_producer(bootstrap, conf)
    if init:
        p.init_transactions(30)
    return p


def cf_send(p, topic, recs, flush=True, what="produce"):
    """recs: dicts with partition, key, value (headers, timestamp optional). Returns the delivery
    reports [(partition, offset)] in order; any delivery error fails the scenario."""
    reports = [None] * len(recs)

    def cb_for(i):
        def cb(err, msg):
            reports[i] = (err, msg.partition(), msg.offset())
        return cb
    for i, r in enumerate(recs):
        kw = {k: r[k] for k in ("headers", "timestamp") if r.get(k) is not None}
        while True:
            try:
                p.produce(r.get("topic", topic), key=r.get("key"), value=r.get("value"), partition=r["partition"],
                          on_delivery=cb_for(i), **kw)
                break
            except BufferError:
                p.poll(0.05)
    if not flush:
        return reports
    left = p.flush(30)
    check(left == 0, f"{what}: {left} records still undelivered after flush(30)")
    for i, rep in enumerate(reports):
        check(rep is not None, f"{what}: no delivery report for record #{i}")
        check(rep[0] is None, f"{what}: record #{i} ({short(recs[i].get('value'))}) delivery failed: {rep[0]}")
    return [(part, off) for _, part, off in reports]


def kerr(e):
    """The KafkaError inside a KafkaException (or the error itself)."""
    return e.args[0] if getattr(e, "args", None) else e


def errdesc(err):
    try:
        return (f"{err.name()} (code {err.code()}, fatal={err.fatal()}, retriable={err.retriable()}, "
                f"txn_requires_abort={err.txn_requires_abort()}): {err.str()}")
    except Exception:  # noqa: BLE001
        return repr(err)


_ADMINS = {}


def end_offsets(bootstrap, tps, isolation):
    """{(topic, partition): ListOffsets latest} with the given isolation level (RC -> LSO, RU -> HW)."""
    from confluent_kafka import TopicPartition, IsolationLevel
    from confluent_kafka.admin import AdminClient, OffsetSpec
    a = _ADMINS.get(bootstrap)
    if a is None:
        a = _ADMINS[bootstrap] = AdminClient({"bootstrap.servers": bootstrap})
    lvl = IsolationLevel.READ_COMMITTED if isolation == RC else IsolationLevel.READ_UNCOMMITTED
    req = {TopicPartition(t, p): OffsetSpec.latest() for t, p in tps}
    fs = a.list_offsets(req, isolation_level=lvl, request_timeout=15)
    return {(tp.topic, tp.partition): f.result(timeout=20).offset for tp, f in fs.items()}


class CfReader:
    """A confluent-kafka consumer assigned to `tps` from offset 0 with an explicit isolation level;
    `poll_for` collects what arrives. Records are dicts: offset, key, value, headers."""

    def __init__(self, bootstrap, tps, isolation, start=0):
        from confluent_kafka import Consumer, TopicPartition
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-unused-" + uuid.uuid4().hex[:8],
                           "enable.auto.commit": False, "enable.auto.offset.store": False,
                           "isolation.level": isolation, "fetch.wait.max.ms": 100, "enable.partition.eof": False,
                           "topic.metadata.refresh.interval.ms": 1000})
        self.tps = list(tps)
        self.isolation = isolation
        self.got = {tp: [] for tp in self.tps}
        self.c.assign([TopicPartition(t, p, start) for t, p in self.tps])

    def total(self):
        return sum(len(v) for v in self.got.values())

    def poll_for(self, secs):
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            self._poll()

    def poll_until(self, n, timeout, linger=0.7, what="records"):
        """Poll until `n` records in total arrived (then `linger` s more, to see extra ones)."""
        deadline = time.monotonic() + timeout
        while self.total() < n and time.monotonic() < deadline:
            self._poll()
        check(self.total() >= n, f"{self.isolation} consumer: {what}: got {self.total()} of {n} records within "
                                 f"{timeout}s ({ {f'{t}/{p}': len(v) for (t, p), v in self.got.items()} })")
        self.poll_for(linger)
        return self.got

    def _poll(self):
        for m in self.c.consume(num_messages=1000, timeout=0.2):
            if m.error():
                raise Fail(f"{self.isolation} consumer: error {m.error()}")
            self.got[(m.topic(), m.partition())].append({"offset": m.offset(), "key": m.key(), "value": m.value(),
                                                         "headers": m.headers() or None})

    def positions(self):
        from confluent_kafka import TopicPartition
        return {(tp.topic, tp.partition): tp.offset
                for tp in self.c.position([TopicPartition(t, p) for t, p in self.tps])}

    def close(self):
        self.c.close()


def cf_read(bootstrap, tps, isolation, expected, timeout=30, linger=0.7):
    r = CfReader(bootstrap, tps, isolation)
    try:
        return r.poll_until(expected, timeout, linger)
    finally:
        r.close()


def ov(recs):
    """[(offset, value)] of reader records."""
    return [(r["offset"], r["value"]) for r in recs]


def cf_committed(bootstrap, group, tps):
    """The group's committed offsets (OffsetFetch; librdkafka asks require_stable in read_committed)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "isolation.level": RC})
    try:
        res = c.committed([TopicPartition(t, p) for t, p in tps], timeout=20)
    finally:
        c.close()
    return {(tp.topic, tp.partition): tp.offset for tp in res}


class EosStats:
    """librdkafka statistics: the producer id / epoch it holds ("eos" object of the stats JSON)."""

    def __init__(self):
        self.last = None
        self.lock = threading.Lock()

    def cb(self, js):
        d = json.loads(js)
        with self.lock:
            self.last = d.get("eos")

    def pid_epoch(self, p, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p.poll(0.1)
            with self.lock:
                e = self.last
            if e and e.get("producer_id", -1) >= 0:
                return e["producer_id"], e["producer_epoch"]
        raise Fail(f"librdkafka statistics show no producer id within {timeout}s (last eos: {self.last})")


# ----------------------------------------------------------------------------- kafka-python admin

def kp_admin(bootstrap):
    from kafka.admin import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)


def describe_producers(bootstrap, tps):
    """{(topic, partition): [ProducerState, ...]} via kafka-python's DescribeProducers."""
    from kafka import TopicPartition
    a = kp_admin(bootstrap)
    try:
        res = a.describe_producers([TopicPartition(t, p) for t, p in tps])
    finally:
        a.close()
    return {(tp.topic, tp.partition): list(v.active_producers) for tp, v in res.items()}


# ----------------------------------------------------------------------------- agent processes

class JsonProc:
    """A child process (python or node) that prints one JSON event a line on stdout; stderr goes to
    a log in the scratch dir. `wait(pred)` waits for a condition on the events seen so far."""

    def __init__(self, cmd, label, env=None):
        self.label = label
        self.logpath = os.path.join(scratch(), f"{label}.log")
        self.events = []
        self.cond = threading.Condition()
        self.eof = False
        self.killed = False
        e = dict(os.environ, NODE_PATH=os.path.join(COMPAT_DIR, "node_modules"), KAFKAJS_NO_PARTITIONER_WARNING="1")
        e.update(env or {})
        with open(self.logpath, "ab") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logf,
                                         cwd=COMPAT_DIR, env=e, text=True, bufsize=1)
        self.raw = open(os.path.join(scratch(), f"{label}.events"), "a")
        threading.Thread(target=self._read, daemon=True).start()

    @classmethod
    def python(cls, script, cfg, label):
        return cls([sys.executable, os.path.join(HERE, script), json.dumps(cfg)], label)

    @classmethod
    def node(cls, script, cfg, label):
        return cls(["node", os.path.join(HERE, "kafkajs", script), json.dumps(cfg)], label)

    def _read(self):
        for line in self.proc.stdout:
            self.raw.write(line)
            self.raw.flush()
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def of(self, kind):
        with self.cond:
            return [e for e in self.events if e.get("ev") == kind]

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred()
                if v:
                    return v
                errs = [e for e in self.events if e.get("ev") in ("error", "fatal")]
                if errs:
                    raise Fail(f"while waiting for {what}: {self.label} reported {errs[0].get('error')} "
                               f"(log {os.path.relpath(self.logpath, COMPAT_DIR)})")
                if self.eof and not self.killed:
                    v = pred()
                    if v:
                        return v
                    raise Fail(f"while waiting for {what}: {self.label} exited (code {self.proc.poll()}); "
                               f"last events {short(self.events[-3:], 400)}; log {os.path.relpath(self.logpath, COMPAT_DIR)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail(f"timed out after {timeout}s waiting for {what} ({self.label}: last events "
                               f"{short(self.events[-3:], 400)}; log {os.path.relpath(self.logpath, COMPAT_DIR)})")
                self.cond.wait(min(left, 0.2))

    def kill9(self):
        self.killed = True
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
