"""Harness for the consumer-group scenarios (groups.py, groups_admin.py, kcat.py's group_balanced).

Every group consumer runs in an agent process (group_agent.py for the Python clients,
kafkajs/group_agent.js for kafkajs) that reports assignments, revocations and committed records as
JSON lines; the scenario drives the agents (commit, close, kill -9) and asserts. Records are
produced with confluent-kafka to explicit partitions, so every expected (partition, offset, value)
is known. In the default "batch" commit mode an agent reports a record only after a commit covering
it succeeded, so over a whole group "exactly once" is the exact claim: every produced record
reported once, none twice, none missing.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

from common import Fail, check, scratch, COMPAT_DIR

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT_PY = os.path.join(HERE, "group_agent.py")
AGENT_JS = os.path.join(HERE, "kafkajs", "group_agent.js")
SHORT = {"confluent": "cf", "kafka-python": "kp", "aiokafka": "aio", "kafkajs": "js"}

COND = threading.Condition()
AGENTS = []


def group_name(client, what):
    return f"compat-{SHORT[client]}-{what}-{uuid.uuid4().hex[:8]}"


def tps(lst):
    return sorted((t, p) for t, p in lst)


# ----------------------------------------------------------------------------- agents

class CState:
    """What one consumer of an agent has reported so far."""

    def __init__(self, agent, name):
        self.agent = agent
        self.name = name
        self.events = []
        self.owned = None  # None until the first assignment
        self.member = None
        self.recs = []     # (topic, partition, offset, key, value)
        self.closed = None
        self.fatal = None
        self.subscribed = None

    def apply(self, ev):
        self.events.append(ev)
        k = ev["ev"]
        if k == "subscribed":
            self.subscribed = ev["t"]
        elif k == "assign":
            self.owned = tps(ev["owned"])
            self.member = ev.get("member") or self.member
        elif k in ("revoke", "lost"):
            self.owned = tps(ev["owned"])
        elif k == "msgs":
            self.recs.extend(tuple(r) for r in ev["recs"])
        elif k == "closed":
            self.closed = ev
        elif k == "fatal":
            self.fatal = ev["error"]

    def of(self, *kinds):
        return [e for e in self.events if e["ev"] in kinds]

    def parts(self):
        return sorted(p for _, p in (self.owned or []))

    def __repr__(self):
        return f"{self.agent.label}/{self.name}(owned={self.parts() if self.owned is not None else None}, " \
               f"recs={len(self.recs)}{', closed' if self.closed else ''})"


class Agent:
    def __init__(self, client, consumers, bootstrap, label):
        self.client = client
        self.label = label
        cfg = {"client": client, "bootstrap": bootstrap, "consumers": consumers}
        env = dict(os.environ)
        if client == "kafkajs":
            cmd = ["node", AGENT_JS, json.dumps(cfg)]
            env["NODE_PATH"] = os.path.join(COMPAT_DIR, "node_modules")
        else:
            cmd = [sys.executable, AGENT_PY, json.dumps(cfg)]
        self.logpath = os.path.join(scratch(), f"agent-{label}.log")
        with open(self.logpath, "ab") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logf,
                                         cwd=COMPAT_DIR, env=env, text=True, bufsize=1)
        self.c = {x["name"]: CState(self, x["name"]) for x in consumers}
        self.eof = False
        self.killed = False
        self.raw = open(os.path.join(scratch(), f"agent-{label}.events"), "a")
        threading.Thread(target=self._read, daemon=True).start()
        AGENTS.append(self)

    def _read(self):
        for line in self.proc.stdout:
            self.raw.write(line)
            self.raw.flush()
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with COND:
                st = self.c.get(ev.get("c"))
                if st is not None:
                    st.apply(ev)
                COND.notify_all()
        with COND:
            self.eof = True
            COND.notify_all()

    def __getitem__(self, name):
        return self.c[name]

    def send(self, **cmd):
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise Fail(f"agent {self.label} is gone ({e}); see {self.logpath}")

    def close(self, name, timeout=30):
        self.send(cmd="close", c=name)
        wait(lambda: self.c[name].closed is not None, timeout, f"{self.label}/{name} to close")
        ev = self.c[name].closed
        check(not ev.get("error"), f"{self.label}/{name}: close() failed: {ev.get('error')}")
        return ev

    def commit(self, name, offsets, timeout=20):
        """offsets: [(topic, partition, offset, metadata)]; returns the commit event."""
        n = len(self.c[name].of("commit"))
        self.send(cmd="commit", c=name, offsets=[list(o) for o in offsets])
        wait(lambda: len(self.c[name].of("commit")) > n, timeout, f"{self.label}/{name} commit result")
        return self.c[name].of("commit")[n]

    def committed(self, name, parts, timeout=20):
        n = len(self.c[name].of("committed"))
        self.send(cmd="committed", c=name, parts=[list(p) for p in parts])
        wait(lambda: len(self.c[name].of("committed")) > n, timeout, f"{self.label}/{name} committed() result")
        return self.c[name].of("committed")[n]

    def kill9(self):
        self.killed = True
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send(cmd="exit")
                self.proc.wait(5)
            except (Fail, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def stop_agents():
    for a in AGENTS:
        a.stop()
    AGENTS.clear()


def all_states():
    return [s for a in AGENTS for s in a.c.values()]


def summary():
    return "; ".join(repr(s) for s in all_states())


def _problems():
    for a in AGENTS:
        for s in a.c.values():
            if s.fatal:
                return f"consumer {a.label}/{s.name} failed: {s.fatal} (log {os.path.relpath(a.logpath, COMPAT_DIR)})"
        if a.eof and not a.killed and any(s.closed is None for s in a.c.values()):
            return f"agent {a.label} exited unexpectedly (code {a.proc.poll()}); see {os.path.relpath(a.logpath, COMPAT_DIR)}"
    return None


def wait(pred, timeout, what):
    """Wait (bounded) until pred() is true; fail at once if an agent crashed."""
    deadline = time.monotonic() + timeout
    with COND:
        while True:
            bad = _problems()
            if bad:
                raise Fail(f"while waiting for {what}: {bad}")
            try:
                if pred():
                    return
            except (TypeError, KeyError, IndexError, AttributeError):
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail(f"timed out after {timeout}s waiting for {what}; state: {summary()}")
            COND.wait(min(left, 0.2))


def wait_stable(pred, timeout, what, hold=1.0):
    """Wait until pred() has held for `hold` seconds in a row."""
    deadline = time.monotonic() + timeout
    while True:
        wait(pred, max(0.1, deadline - time.monotonic()), what)
        since = time.monotonic()
        while time.monotonic() - since < hold:
            time.sleep(0.1)
            with COND:
                try:
                    ok = pred()
                except (TypeError, KeyError, IndexError, AttributeError):
                    ok = False
            if not ok:
                break
        else:
            return
        if time.monotonic() > deadline:
            raise Fail(f"{what} did not stay true for {hold}s within {timeout}s; state: {summary()}")


def cons(name, group, topics, **kw):
    d = {"name": name, "group": group, "topics": topics, "client_id": kw.pop("client_id", name)}
    d.update(kw)
    return d


# ----------------------------------------------------------------------------- records

def produce(bootstrap, topic, counts, start=None):
    """Produce counts[p] records to partition p (value "p-i", key "k-p-i"); returns
    {(topic, partition, offset): (key, value)} from the delivery reports."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all", "linger.ms": 5,
                  "message.timeout.ms": 20000})
    out = {}
    errs = []

    def cb(err, msg):
        if err is not None:
            errs.append(str(err))
        else:
            out[(msg.topic(), msg.partition(), msg.offset())] = (msg.key().decode(), msg.value().decode())

    for part, n in counts.items():
        base = (start or {}).get(part, 0)
        for i in range(base, base + n):
            p.produce(topic, key=f"k-{part}-{i}".encode(), value=f"{part}-{i}".encode(), partition=part, on_delivery=cb)
        p.poll(0)
    left = p.flush(30)
    check(left == 0 and not errs, f"producing to {topic}: {left} undelivered, errors {errs[:3]}")
    return out


def consumed(states):
    return [r for s in states for r in s.recs]


def total(states):
    return sum(len(s.recs) for s in states)


def check_exactly_once(recs, expected, what):
    """recs: (topic, partition, offset, key, value) as reported; expected: {(t, p, o): (key, value)}."""
    seen = Counter((r[0], r[1], r[2]) for r in recs)
    dups = sorted(k for k, n in seen.items() if n > 1)
    missing = sorted(set(expected) - set(seen))
    extra = sorted(set(seen) - set(expected))
    wrong = sorted((k, (r[3], r[4]), expected[k]) for r in recs for k in [(r[0], r[1], r[2])]
                   if k in expected and (r[3], r[4]) != expected[k])
    problems = []
    if missing:
        problems.append(f"{len(missing)} records never consumed (first: partition {missing[0][1]} offset {missing[0][2]})")
    if dups:
        problems.append(f"{len(dups)} records consumed more than once (first: partition {dups[0][1]} offset "
                        f"{dups[0][2]}, {seen[dups[0]]} times)")
    if extra:
        problems.append(f"{len(extra)} records that were never produced (first: {extra[0]})")
    if wrong:
        problems.append(f"{len(wrong)} records with wrong key/value (first: {wrong[0]})")
    check(not problems, f"{what}: " + "; ".join(problems) + f" [consumed {len(recs)}, produced {len(expected)}]")


def split_ok(states, topic, nparts, sizes=None):
    """Every partition of topic owned by exactly one of `states` (and the sizes match)."""
    owned = [s.owned for s in states]
    if any(o is None for o in owned):
        return False
    flat = [tp for o in owned for tp in o]
    if len(flat) != len(set(flat)) or set(flat) != {(topic, p) for p in range(nparts)}:
        return False
    return sizes is None or sorted(len(o) for o in owned) == sorted(sizes)


def check_member_ids_stable(states, what):
    """A member keeps its member id across rebalances; a new id means the broker answered it
    UNKNOWN_MEMBER_ID (or fenced it) and it rejoined as a new member."""
    for s in states:
        ids = [e["member"] for e in s.of("assign") if e.get("member")]
        for a, b in zip(ids, ids[1:]):
            check(a == b, f"{what}: {s.agent.label}/{s.name}'s member id changed from {a} to {b} (it was told "
                          f"UNKNOWN_MEMBER_ID or fenced, and rejoined as a new member)")


def linger(secs=1.0):
    time.sleep(secs)


# ----------------------------------------------------------------------------- committed offsets

def committed(client, bootstrap, group, topic, nparts):
    """{partition: (offset, metadata)} as the client's own committed-offsets API reports it
    (offset None when nothing is committed; metadata None where the API does not return it)."""
    if client == "confluent":
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            res = c.committed([TopicPartition(topic, p) for p in range(nparts)], timeout=15)
        finally:
            c.close()
        return {tp.partition: (tp.offset if tp.offset >= 0 else None, tp.metadata) for tp in res}
    if client == "kafka-python":
        from kafka import KafkaConsumer, TopicPartition
        c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                          request_timeout_ms=15000)
        try:
            out = {}
            for p in range(nparts):
                r = c.committed(TopicPartition(topic, p), metadata=True)
                out[p] = (None, None) if r is None else (r.offset, r.metadata)
            return out
        finally:
            c.close()
    if client == "aiokafka":
        import asyncio
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka import TopicPartition

        async def run():
            a = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
            await a.start()
            try:
                return await a.list_consumer_group_offsets(group, partitions=[TopicPartition(topic, p)
                                                                              for p in range(nparts)])
            finally:
                await a.close()
        res = asyncio.run(run())
        return {p: ((res[tp].offset if res[tp].offset >= 0 else None, res[tp].metadata) if tp in res else (None, None))
                for p in range(nparts) for tp in [TopicPartition(topic, p)]}
    if client == "kafkajs":
        import kafkajs as kjs
        r = kjs.js([{"op": "fetchOffsets", "groupId": group, "topics": [topic]}], bootstrap=bootstrap)
        res = kjs.ok(r[0], f"admin.fetchOffsets({group})")
        parts = {x["partition"]: x for t in res if t["topic"] == topic for x in t["partitions"]}
        return {p: ((int(parts[p]["offset"]) if int(parts[p]["offset"]) >= 0 else None, parts[p].get("metadata"))
                    if p in parts else (None, None)) for p in range(nparts)}
    raise Fail(f"no committed() for {client}")


def expected_owned(client, names, nparts):
    """The assignment the client's default assignor computes for members sorted by member id
    (member id = client id + '-' + uuid, so by client id here): range for the Python clients,
    round robin for kafkajs."""
    n = len(names)
    if client == "kafkajs":
        return {nm: [p for p in range(nparts) if p % n == i] for i, nm in enumerate(sorted(names))}
    per, extra = divmod(nparts, n)
    out, start = {}, 0
    for i, nm in enumerate(sorted(names)):
        k = per + (1 if i < extra else 0)
        out[nm] = list(range(start, start + k))
        start += k
    return out


def committed_meta(client):
    """The metadata a plain commit (no metadata given) reads back as: the broker returns "" (Kafka
    stores a null commit metadata as ""); librdkafka and kafkajs's admin.fetchOffsets show "" as
    None/null."""
    return {"confluent": None, "kafka-python": "", "aiokafka": "", "kafkajs": None}[client]
