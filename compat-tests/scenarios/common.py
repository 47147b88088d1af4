"""Shared helpers for the compat scenarios.

Every scenario file calls `main(SCENARIOS)`: `python file.py --list` prints the scenario names,
`python file.py NAME` runs one. A scenario is a function that raises on failure; `main` turns the
exception into a single `REASON: ...` line on stdout (the runner reports that line) and exit 1.

The runner passes the brokers through the environment:
  SKUA_BOOTSTRAP          the main broker (all defaults)
  SKUA_BOOTSTRAP_NP4      a broker started with num.partitions=4
  SKUA_BOOTSTRAP_NOAUTO   a broker started with auto.create.topics.enable=false
  SKUA_BOOTSTRAP_GROUPS   a broker started with group.initial.rebalance.delay.ms=0 (group scenarios)
  SKUA_BIN                the broker binary (for scenarios that start their own broker)
  SKUA_SCRATCH            a private scratch directory for this scenario
"""

import os
import sys
import time
import traceback
import uuid
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
COMPAT_DIR = os.path.dirname(HERE)


def env(name):
    v = os.environ.get(name)
    if not v:
        raise Fail(f"environment variable {name} is not set (run through run.sh)")
    return v


def boot():
    return env("SKUA_BOOTSTRAP")


def boot_np4():
    return env("SKUA_BOOTSTRAP_NP4")


def boot_noauto():
    return env("SKUA_BOOTSTRAP_NOAUTO")


def boot_groups():
    return env("SKUA_BOOTSTRAP_GROUPS")


def scratch():
    d = env("SKUA_SCRATCH")
    os.makedirs(d, exist_ok=True)
    return d


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def short(v, n=120):
    s = repr(v)
    return s if len(s) <= n else s[:n] + f"...({len(s)} chars)"


def eq(actual, expected, what):
    if actual != expected:
        raise Fail(f"{what}: expected {short(expected)}, got {short(actual)}")


def eq_records(actual, expected, what):
    """Compare two lists of records (tuples/dicts), reporting the first difference."""
    for i, (a, e) in enumerate(zip(actual, expected)):
        if a != e:
            if isinstance(a, dict) and isinstance(e, dict):
                diff = {k: (e.get(k), a.get(k)) for k in set(a) | set(e) if a.get(k) != e.get(k)}
                where = {k: e.get(k) for k in ("partition", "offset") if k in e}
                raise Fail(f"{what}: record #{i} {where} differs in " + "; ".join(
                    f"{k}: expected {short(x)}, got {short(y)}" for k, (x, y) in sorted(diff.items())))
            raise Fail(f"{what}: record #{i} differs: expected {short(e, 300)}, got {short(a, 300)}")
    if len(actual) != len(expected):
        extra = actual[len(expected):len(expected) + 1] or expected[len(actual):len(actual) + 1]
        raise Fail(f"{what}: expected {len(expected)} records, got {len(actual)} (first unmatched: {short(extra, 300)})")


def topic_name(prefix):
    return f"compat-{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until(fn, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported if the wait times out
            last = e
        time.sleep(interval)
    raise Fail(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last})" if last else ""))


# ---- partitioners (reference implementations, independent of the clients) ----

def murmur2(data: bytes) -> int:
    """Java client's Utils.murmur2 (used by the Java default partitioner, kafka-python, aiokafka, kafkajs)."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = (data[i4] & 0xFF) + ((data[i4 + 1] & 0xFF) << 8) + ((data[i4 + 2] & 0xFF) << 16) + ((data[i4 + 3] & 0xFF) << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    idx = length & ~3
    if extra >= 3:
        h ^= (data[idx + 2] & 0xFF) << 16
    if extra >= 2:
        h ^= (data[idx + 1] & 0xFF) << 8
    if extra >= 1:
        h ^= data[idx] & 0xFF
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h  # unsigned 32-bit


def java_partition(key: bytes, n: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % n


def librdkafka_partition(key: bytes, n: int) -> int:
    """librdkafka's default partitioner 'consistent_random': CRC32(key) % n for non-empty keys."""
    return zlib.crc32(key) % n


# ---- a reference reader (confluent-kafka / librdkafka), used to verify what other clients wrote ----

def confluent_read(topic, partitions, expected_total, bootstrap=None, timeout=30.0, linger=0.7, extra=None, start=0):
    """Read every record of `partitions` from offset `start` (default 0) with manual assignment.

    Returns {partition: [rec, ...]} where rec is a dict with key, value, headers, timestamp,
    timestamp_type, offset, partition. Reads until `expected_total` records arrived, then keeps
    polling `linger` seconds more so that extra (duplicate) records are seen too.
    """
    from confluent_kafka import Consumer, TopicPartition, KafkaError
    conf = {
        "bootstrap.servers": bootstrap or boot(),
        "group.id": "compat-unused-" + uuid.uuid4().hex[:8],
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "fetch.wait.max.ms": 100,
        "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": 1000,
    }
    if extra:
        conf.update(extra)
    c = Consumer(conf)
    out = {p: [] for p in partitions}
    total = 0
    try:
        c.assign([TopicPartition(topic, p, start) for p in partitions])
        deadline = time.monotonic() + timeout
        done_at = None
        while time.monotonic() < deadline:
            if done_at is not None and time.monotonic() > done_at:
                break
            msgs = c.consume(num_messages=1000, timeout=0.2)
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise Fail(f"confluent reader: error on {topic}: {m.error()}")
                ts_type, ts = m.timestamp()
                out[m.partition()].append({
                    "partition": m.partition(),
                    "offset": m.offset(),
                    "key": m.key(),
                    "value": m.value(),
                    "headers": m.headers(),
                    "timestamp": ts,
                    "timestamp_type": ts_type,
                })
                total += 1
            if total >= expected_total and done_at is None:
                done_at = time.monotonic() + linger
    finally:
        c.close()
    if total < expected_total:
        got = {p: len(v) for p, v in out.items()}
        raise Fail(f"confluent reader: expected {expected_total} records on {topic}, got {total} {got} within {timeout}s")
    return out


def confluent_create_topic(name, partitions, bootstrap=None, config=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap or boot()})
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
                         operation_timeout=10, request_timeout=15)
    fs[name].result(timeout=20)

    def ready():
        md = a.list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        return t is not None and t.error is None and len(t.partitions) == partitions
    wait_until(ready, 15, f"topic {name} with {partitions} partitions in metadata")


def check_offsets_contiguous(recs, what, start=0):
    offs = [r["offset"] for r in recs]
    exp = list(range(start, start + len(recs)))
    if offs != exp:
        for i, (a, b) in enumerate(zip(offs, exp)):
            if a != b:
                raise Fail(f"{what}: offsets not contiguous from {start}: record #{i} has offset {a}, expected {b}")
        raise Fail(f"{what}: offsets {short(offs)} expected {short(exp)}")


# ---- a private broker for scenarios that need their own config or lifecycle ----

class OwnBroker:
    """A broker on a free port with its data under SKUA_SCRATCH; it is in the scenario's process
    group, so the runner's cleanup stops it too."""

    def __init__(self, name="own", args=()):
        import socket
        self.dir = os.path.join(scratch(), f"data-{name}")
        self.log = os.path.join(scratch(), f"broker-{name}.log")
        self.args = list(args)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{s.getsockname()[1]}"
        s.close()
        self.proc = None

    def start(self, timeout=60):
        import subprocess
        import rawproto
        with open(self.log, "a") as lf:
            self.proc = subprocess.Popen([env("SKUA_BIN"), "serve", "--listen", self.addr, "--data-dir", self.dir]
                                         + self.args
                                         + [x for f in ("--metrics-listen", "--console-listen", "--schema-registry-listen", "--rest-proxy-listen")
                                            if f not in self.args for x in (f, "off")], stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail(f"broker {' '.join(self.args)} exited with {self.proc.returncode} at start; see {self.log}")
            if rawproto.api_versions_ok(self.addr, timeout=1.0):
                return self
            time.sleep(0.1)
        raise Fail(f"broker did not answer within {timeout}s after start; see {self.log}")

    def stop(self):
        import subprocess
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return None


# ---- entry point ----

def _die(line):
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()
    print(line.replace("\n", " | "), flush=True)
    # client background threads (librdkafka, asyncio) must not keep a failed scenario alive
    os._exit(1)


def main(scenarios):
    args = sys.argv[1:]
    if not args or args[0] == "--list":
        for name in scenarios:
            print(name)
        return
    name = args[0]
    fn = scenarios.get(name)
    if fn is None:
        print(f"REASON: unknown scenario {name}")
        sys.exit(2)
    try:
        fn()
    except Fail as e:
        _die(f"REASON: {e}")
    except BaseException as e:  # noqa: BLE001 - any client exception is a failure with its text
        _die(f"REASON: {type(e).__name__}: {e}")
    print("OK", flush=True)
    sys.stdout.flush()
    # librdkafka / client threads must not keep a finished scenario alive
    os._exit(0)
