"""kcat scenarios (Debian 12's kcat 1.7.1 on librdkafka 2.0.2: an old client on purpose)."""

import json
import re
import subprocess
import time

from common import (Fail, check, eq, topic_name, boot, boot_np4, main, confluent_read, confluent_create_topic,
                    librdkafka_partition)


def kcat(args, stdin=None, timeout=30, bootstrap=None, check_rc=True):
    cmd = ["kcat", "-b", bootstrap or boot()] + args
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail(f"`{' '.join(cmd)}` did not finish within {timeout}s")
    if check_rc and p.returncode != 0:
        raise Fail(f"`{' '.join(cmd)}` exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[-400:]}")
    return p


def consume(topic, partition=None, fmt="%k|%s|%p|%o\\n", extra=(), timeout=30):
    args = ["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", fmt] + list(extra)
    if partition is not None:
        args += ["-p", str(partition)]
    return kcat(args, timeout=timeout).stdout.decode()


def version():
    out = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
    m = re.search(r"librdkafka version ([\d.]+)", out)
    return m.group(1) if m else "?"


def roundtrip():
    """kcat -P per partition with keys and headers, kcat -C -e with a format showing key/partition/offset."""
    t = topic_name("kcat-rt")
    confluent_create_topic(t, 3)
    for p in range(3):
        lines = "".join(f"key-{p}-{i}:value {p} {i}\n" for i in range(300))
        kcat(["-P", "-t", t, "-p", str(p), "-K", ":", "-H", "h=1", "-H", "h=2", "-X", "linger.ms=20"],
             stdin=lines.encode())
    for p in range(3):
        out = consume(t, p, fmt="%k|%s|%p|%o|%h\\n")
        want = "".join(f"key-{p}-{i}|value {p} {i}|{p}|{i}|h=1,h=2\n" for i in range(300))
        if out != want:
            got_l, want_l = out.splitlines(), want.splitlines()
            for i, (a, b) in enumerate(zip(got_l, want_l)):
                if a != b:
                    raise Fail(f"partition {p} line {i}: expected {b!r}, got {a!r}")
            raise Fail(f"partition {p}: expected {len(want_l)} lines, got {len(got_l)}")


def keyed():
    """kcat -P without -p: librdkafka's consistent_random partitioner; same key -> same partition."""
    t = topic_name("kcat-keyed")
    confluent_create_topic(t, 6)
    keys = [f"user-{i}" for i in range(30)]
    lines = "".join(f"{keys[j % 30]}\t{j}\n" for j in range(180))
    kcat(["-P", "-t", t, "-K", "\t"], stdin=lines.encode())
    out = consume(t, fmt="%k|%s|%p|%o\\n")
    rows = [l.split("|") for l in out.splitlines()]
    eq(len(rows), 180, "records read back")
    seen = {}
    next_off = {}
    for k, v, p, o in sorted(rows, key=lambda r: (int(r[2]), int(r[3]))):
        p, o = int(p), int(o)
        eq(p, librdkafka_partition(k.encode(), 6), f"partition of key {k}")
        eq(o, next_off.get(p, 0), f"offset on partition {p}")
        next_off[p] = o + 1
        seen.setdefault(k, []).append(int(v))
    for k, vs in seen.items():
        eq(vs, sorted(vs), f"order of key {k}")
        eq(len(vs), 6, f"records of key {k}")


def codec(name):
    def run():
        t = topic_name(f"kcat-{name}")
        confluent_create_topic(t, 1)
        lines = "".join(f"k{i}:{'compressible value %d ' % i * 10}\n" for i in range(400))
        kcat(["-P", "-t", t, "-p", "0", "-K", ":", "-z", name, "-X", "linger.ms=50"], stdin=lines.encode())
        out = consume(t, 0, fmt="%k:%s\\n")
        eq(out, lines, f"kcat read-back of {name}-compressed records")
        # What is on disk: librdkafka 2.0.2 compresses only when the broker's Produce range
        # starts at v0 (KAFKA-18659): every stored batch must carry the codec asked for.
        import rawproto
        want = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}[name]
        stored = rawproto.stored_codecs(boot(), t, 0)
        check(stored, "no batch stored")
        eq(sorted(set(stored)), [want], f"codec of the {len(stored)} stored batches (kcat -z {name})")
        got = confluent_read(t, [0], 400)[0]
        eq([(r["offset"], r["key"], r["value"]) for r in got[:3]],
           [(i, f"k{i}".encode(), ("compressible value %d " % i * 10).encode()) for i in range(3)],
           "confluent read-back (first records)")
        eq(len(got), 400, "confluent read-back count")
    return run


def offsets():
    """-o <offset> -c, -o -N (from the end), -o s@ts, and -Q (offset for a timestamp)."""
    t = topic_name("kcat-off")
    confluent_create_topic(t, 1)
    t0 = int(time.time() * 1000) - 600_000
    # kcat -P cannot set timestamps per message: produce them with confluent-kafka
    from confluent_kafka import Producer
    pr = Producer({"bootstrap.servers": boot(), "linger.ms": 50})
    for i in range(100):
        pr.produce(t, key=b"k%d" % i, value=b"v%d" % i, partition=0, timestamp=t0 + 10 * i)
    check(pr.flush(20) == 0, "produce did not finish")
    out = kcat(["-C", "-t", t, "-p", "0", "-o", "37", "-c", "3", "-e", "-q", "-f", "%o:%s:%T\\n"]).stdout.decode()
    eq(out, "".join(f"{i}:v{i}:{t0 + 10 * i}\n" for i in range(37, 40)), "-o 37 -c 3")
    out = kcat(["-C", "-t", t, "-p", "0", "-o", "-3", "-e", "-q", "-f", "%o:%s\\n"]).stdout.decode()
    eq(out, "97:v97\n98:v98\n99:v99\n", "-o -3 (relative to the end)")
    out = kcat(["-C", "-t", t, "-p", "0", "-o", f"s@{t0 + 375}", "-c", "2", "-e", "-q", "-f", "%o:%s\\n"]).stdout.decode()
    eq(out, "38:v38\n39:v39\n", "-o s@(t0+375) (first record with timestamp >= t)")
    out = kcat(["-Q", "-t", f"{t}:0:{t0 + 375}"]).stdout.decode()
    check(re.search(rf"{re.escape(t)} \[0\] offset 38\b", out), f"-Q {t}:0:t0+375: expected offset 38, got {out.strip()!r}")


def metadata_list():
    t = topic_name("kcat-md")
    confluent_create_topic(t, 3)
    out = kcat(["-L"]).stdout.decode()
    check(re.search(r"^\s*1 brokers?:\s*$", out, re.M), f"-L: expected '1 brokers:', got:\n{out[:500]}")
    check(re.search(rf"^\s*broker 1 at {re.escape(boot())}( \(controller\))?\s*$", out, re.M),
          f"-L: expected 'broker 1 at {boot()}', got:\n{out[:500]}")
    m = re.search(rf'topic "{re.escape(t)}" with (\d+) partitions:', out)
    check(m, f"-L does not list topic {t}")
    eq(int(m.group(1)), 3, "partitions listed by -L")
    for p in range(3):
        check(re.search(rf"partition {p}, leader 1, replicas: 1, isrs: 1", out),
              f"-L: partition {p} line missing or wrong:\n{out[out.find(t) - 10:][:400]}")
    # the np4 broker advertises localhost:PORT
    port = boot_np4().rsplit(":", 1)[1]
    out = kcat(["-L"], bootstrap=boot_np4()).stdout.decode()
    check(re.search(rf"^\s*broker 1 at localhost:{port}( \(controller\))?\s*$", out, re.M),
          f"-L on the broker started with --advertise localhost:{port}: got\n{out[:400]}")


def metadata_json():
    t = topic_name("kcat-mdj")
    confluent_create_topic(t, 2)
    out = kcat(["-L", "-J"]).stdout.decode()
    try:
        md = json.loads(out)
    except ValueError as e:
        raise Fail(f"-L -J output is not JSON ({e}): {out[:300]!r}")
    eq([(b["id"], b["name"]) for b in md["brokers"]], [(1, boot())], "-L -J brokers")
    eq(md.get("controllerid"), 1, "-L -J controllerid")
    topics = {x["topic"]: x for x in md["topics"]}
    check(t in topics, f"-L -J does not list {t}")
    parts = sorted(topics[t]["partitions"], key=lambda p: p["partition"])
    eq([(p["partition"], p["leader"], [r["id"] for r in p["replicas"]], [r["id"] for r in p["isrs"]]) for p in parts],
       [(0, 1, [1], [1]), (1, 1, [1], [1])], "-L -J partitions of the topic")
    check("error" not in topics[t], f"-L -J topic error: {topics[t].get('error')}")
    # -L -t for one unknown topic: auto-created with the defaults by the metadata request
    u = topic_name("kcat-mdu")
    out = kcat(["-L", "-J", "-t", u]).stdout.decode()
    md = json.loads(out)
    eq([x["topic"] for x in md["topics"]], [u], "-L -J -t topics")


def group_balanced():
    """kcat -G (librdkafka 2.0.2's balanced consumer) on the main broker, whose
    group.initial.rebalance.delay.ms is the default 3000: two `kcat -G -e` started together land
    in one generation, split the 4 partitions 2+2 and together print every record once; they commit
    on exit, so a third run prints exactly the records produced since; `kcat -L` still works."""
    import uuid
    import grouplib
    b = boot()
    t = topic_name("kcat-group")
    confluent_create_topic(t, 4)
    g = f"compat-kcat-{uuid.uuid4().hex[:8]}"
    exp = grouplib.produce(b, t, {p: 25 for p in range(4)})

    def run_group(clients, timeout=45):
        procs = [subprocess.Popen(["kcat", "-b", b, "-G", g, "-e", "-q", "-f", "%t|%p|%o|%k|%s\\n",
                                   "-X", "auto.offset.reset=earliest", "-X", f"client.id={cid}", t],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for cid in clients]
        out = {}
        for cid, pr in zip(clients, procs):
            try:
                so, se = pr.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise Fail(f"`kcat -G {g} -e` ({cid}) did not exit within {timeout}s")
            check(pr.returncode == 0, f"`kcat -G {g} -e` ({cid}) exit {pr.returncode}: {se.decode()[-300:]}")
            recs = []
            for line in so.decode().splitlines():
                tt, p, o, k, v = line.split("|")
                recs.append((tt, int(p), int(o), k, v))
            out[cid] = recs
        return out

    first = run_group(["kcat-1", "kcat-2"])
    grouplib.check_exactly_once([r for rs in first.values() for r in rs], exp, "two kcat -G consumers")
    parts = {cid: sorted({r[1] for r in rs}) for cid, rs in first.items()}
    eq(sorted(len(v) for v in parts.values()), [2, 2], f"partitions read by each kcat -G ({parts})")
    eq(sorted(parts["kcat-1"] + parts["kcat-2"]), [0, 1, 2, 3], "partitions read by the two kcat -G together")
    eq(grouplib.committed("confluent", b, g, t, 4), {p: (25, None) for p in range(4)},
       "offsets kcat -G committed on exit")
    exp2 = grouplib.produce(b, t, {p: 5 for p in range(4)}, start={p: 25 for p in range(4)})
    again = run_group(["kcat-3"])
    grouplib.check_exactly_once(again["kcat-3"], exp2, "a later kcat -G in the same group (from the committed offsets)")
    out = kcat(["-L", "-t", t]).stdout.decode()
    check("1 brokers:" in out and f'topic "{t}" with 4 partitions:' in out,
          f"kcat -L after the group runs: {out[:300]!r}")


SCENARIOS = {
    "roundtrip": roundtrip,
    "keyed_partitioning": keyed,
    **{f"codec_{c}": codec(c) for c in ["gzip", "snappy", "lz4", "zstd"]},
    "offsets": offsets,
    "metadata_list": metadata_list,
    "metadata_json": metadata_json,
    "group_balanced": group_balanced,
}

if __name__ == "__main__":
    main(SCENARIOS)
