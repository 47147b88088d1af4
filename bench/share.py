#!/usr/bin/env python3
"""Share groups vs a classic consumer group (`make bench-share`; issue 12).

One broker on a free port and a fresh data dir; one topic of BENCH_SHARE_PARTITIONS (6)
partitions filled with BENCH_SHARE_RECORDS (300,000) records of BENCH_RECORD_SIZE (100) bytes;
then, for 1, 4 and 16 consumers (separate processes, confluent-kafka 2.16 / librdkafka 2.16):
  - share: a new share group (share.auto.offset.reset=earliest, set with
    IncrementalAlterConfigs on the GROUP resource), each consumer a ShareConsumer in implicit
    acknowledgement mode (every record of a poll is ACCEPTed by the next poll / commit);
    measured from the consumers' start until every record was received and the last
    acknowledgements were committed (commit_sync);
  - classic: a new consumer group (auto.offset.reset=earliest, group.protocol=classic,
    enable.auto.commit; the broker runs with group.initial.rebalance.delay.ms=0), measured
    until every record was received.
Prints records/s per run and writes the block <!-- bench:share:begin/end --> of
docs/PERFORMANCE.md (BENCH_REPORT=0: don't). Records are counted by offset per partition, so
a record delivered twice is counted once (and reported as a duplicate).
"""
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "bench", ".work", "share")
RECORDS = int(os.environ.get("BENCH_SHARE_RECORDS", "300000"))
SIZE = int(os.environ.get("BENCH_RECORD_SIZE", "100"))
PARTITIONS = int(os.environ.get("BENCH_SHARE_PARTITIONS", "6"))
COUNTS = [int(x) for x in os.environ.get("BENCH_SHARE_CONSUMERS", "1,4,16").split(",")]
BIN = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target", "release", "skua"))
TOPIC = "bench-share"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def consumer(kind, bootstrap, group, seen, done, stop):
    from confluent_kafka import Consumer, ShareConsumer
    if kind == "share":
        c = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                           "max.poll.records": 500})
    else:
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                      "auto.offset.reset": "earliest", "enable.auto.commit": True,
                      "group.protocol": "classic"})
    c.subscribe([TOPIC])
    got = []
    while not stop.is_set():
        if kind == "share":
            msgs = c.poll(0.5) or []
        else:
            msgs = c.consume(500, 0.5)
        n = 0
        for m in msgs:
            if m.error() is None:
                got.append((m.partition(), m.offset()))
                n += 1
        if n:
            with seen.get_lock():
                seen.value += n
                if seen.value >= RECORDS:
                    done.set()
    if kind == "share":
        c.commit_sync()
    c.close()
    # Distinct offsets go back through a file (a pipe of 300k tuples is slow).
    path = os.path.join(WORK, f"{group}-{os.getpid()}.txt")
    with open(path, "w") as f:
        f.write("\n".join(f"{p} {o}" for p, o in got))


def run(kind, bootstrap, n, round_no):
    group = f"{kind}-{n}-{round_no}"
    if kind == "share":
        from confluent_kafka.admin import AdminClient, ConfigResource, AlterConfigOpType, ConfigEntry
        a = AdminClient({"bootstrap.servers": bootstrap})
        res = ConfigResource(ConfigResource.Type.GROUP, group, incremental_configs=[
            ConfigEntry("share.auto.offset.reset", "earliest",
                        incremental_operation=AlterConfigOpType.SET)])
        for f in a.incremental_alter_configs([res]).values():
            f.result()
    seen = mp.Value("q", 0)
    done = mp.Event()
    stop = mp.Event()
    procs = [mp.Process(target=consumer, args=(kind, bootstrap, group, seen, done, stop)) for _ in range(n)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    finished = done.wait(300)
    t1 = time.monotonic()
    stop.set()
    for p in procs:
        p.join(60)
    t2 = time.monotonic()
    distinct = set()
    total = 0
    for f in os.listdir(WORK):
        if f.startswith(group + "-"):
            with open(os.path.join(WORK, f)) as fh:
                for line in fh:
                    if line.strip():
                        total += 1
                        distinct.add(line.strip())
            os.remove(os.path.join(WORK, f))
    secs = (t2 - t0) if kind == "share" else (t1 - t0)
    return {"kind": kind, "consumers": n, "secs": secs, "rate": len(distinct) / secs if secs else 0,
            "distinct": len(distinct), "duplicates": total - len(distinct), "complete": finished}


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(os.path.join(WORK, "data"))
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    log = open(os.path.join(WORK, "broker.log"), "w")
    broker = subprocess.Popen([BIN, "--listen", bootstrap, "--data-dir", os.path.join(WORK, "data"),
                               "--metrics-listen", "off",
                               # The classic group's first join would otherwise wait 3 s.
                               "--set", "group.initial.rebalance.delay.ms=0"],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic
        deadline = time.time() + 30
        while True:
            try:
                a = AdminClient({"bootstrap.servers": bootstrap})
                a.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(10)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.num.messages": 10000})
        value = b"x" * SIZE
        for i in range(RECORDS):
            while True:
                try:
                    p.produce(TOPIC, value=value, partition=i % PARTITIONS)
                    break
                except BufferError:
                    p.poll(0.1)
        p.flush(60)
        results = []
        for n in COUNTS:
            for kind in ("share", "classic"):
                r = run(kind, bootstrap, n, 0)
                results.append(r)
                print(f"{kind:7} {n:2} consumers: {r['distinct']} records in {r['secs']:.2f} s = "
                      f"{r['rate']:,.0f} records/s (duplicates {r['duplicates']}, complete {r['complete']})",
                      flush=True)
    finally:
        broker.terminate()
        broker.wait(30)
    if os.environ.get("BENCH_REPORT", "1") == "1":
        report(results)


def report(results):
    by = {(r["kind"], r["consumers"]): r for r in results}
    lines = [f"<!-- bench:share:begin -->",
             f"{RECORDS:,} records of {SIZE} B on {PARTITIONS} partitions, one broker, consumers in "
             f"separate processes (confluent-kafka 2.16.1, librdkafka 2.16.0), {time.strftime('%Y-%m-%d')}:",
             "",
             "| Consumers | Share group (ACCEPTed, records/s) | Classic group (records/s) | Share / classic |",
             "|---|---|---|---|"]
    for n in COUNTS:
        s, c = by.get(("share", n)), by.get(("classic", n))
        if not s or not c:
            continue
        ratio = s["rate"] / c["rate"] if c["rate"] else 0
        lines.append(f"| {n} | {s['rate']:,.0f} ({s['secs']:.1f} s) | {c['rate']:,.0f} ({c['secs']:.1f} s) | {ratio:.2f}× |")
    lines.append("<!-- bench:share:end -->")
    path = os.path.join(ROOT, "docs", "PERFORMANCE.md")
    text = open(path).read()
    block = "\n".join(lines)
    if "<!-- bench:share:begin -->" in text:
        text = re.sub(r"<!-- bench:share:begin -->.*?<!-- bench:share:end -->", block, text, flags=re.S)
    else:
        text += "\n## Share groups (queues)\n\n`make bench-share` (bench/share.py): share consumers next to a classic consumer group on the same data.\n\n" + block + "\n"
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
