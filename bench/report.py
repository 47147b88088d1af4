#!/usr/bin/env python3
"""Summarise bench/run.sh and bench/cluster.sh results; update docs/PERFORMANCE.md and bench/history.tsv.

The doc keeps hand-written text; only the blocks between
`<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->` (NAME = results, cluster, history) are
rewritten. history.tsv gets one row per run (single-node columns, three-broker columns, or both
when run.sh ran the cluster part too); ratios are against the previous row.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

TARGETS = {
    "produce_acks1_mb_s": (">=", 550.0),
    "produce_acksall_mb_s": (">=", 350.0),
    "consume_mb_s": (">=", 600.0),
    "cpu_s_per_gb": ("<=", 1.5),
    "lat_p99_ms": ("<=", 5.0),
}

HISTORY_COLS = [
    "date", "commit", "nproc", "cpu_model",
    "produce_acks1_mb_s", "produce_acks1_rec_s", "produce_acksall_mb_s", "produce_acksall_rec_s",
    "consume_mb_s", "consume_rec_s",
    "cpu_s_per_gb_acks1", "cpu_s_per_gb_acksall",
    "lat_p50_ms", "lat_p99_ms", "lat_p999_ms",
    # Three brokers, replication factor 3, min.insync.replicas=2 (bench/cluster.sh).
    "cluster_produce_acksall_mb_s", "cluster_produce_acksall_rec_s", "cluster_consume_mb_s",
    "cluster_cpu_s_per_gb_acksall", "cluster_lat_p50_ms", "cluster_lat_p99_ms", "cluster_lat_p999_ms",
    "failover_default_ms", "failover_fast_ms", "failover_default_ctrl_ms", "failover_fast_ctrl_ms",
    "note",
]
METRIC_COLS = HISTORY_COLS[4:-1]
SINGLE_COLS = METRIC_COLS[:METRIC_COLS.index("cluster_produce_acksall_mb_s")]
CLUSTER_COLS = METRIC_COLS[len(SINGLE_COLS):]
# Metrics compared against the previous row, and whether higher is better.
RATIO_COLS = [
    ("produce_acks1_mb_s", True), ("produce_acksall_mb_s", True), ("consume_mb_s", True),
    ("cpu_s_per_gb_acks1", False), ("cpu_s_per_gb_acksall", False),
    ("lat_p50_ms", False), ("lat_p99_ms", False), ("lat_p999_ms", False),
    ("cluster_produce_acksall_mb_s", True), ("cluster_consume_mb_s", True),
    ("cluster_cpu_s_per_gb_acksall", False), ("cluster_lat_p99_ms", False),
    ("failover_default_ms", False), ("failover_fast_ms", False),
    ("failover_default_ctrl_ms", False), ("failover_fast_ctrl_ms", False),
]
# The failover figures the cluster run measures: (setting, what the nodes were started with).
FAILOVER_SETTINGS = [
    ("default", "defaults (`broker.session.timeout.ms=9000`, `broker.heartbeat.interval.ms=2000`)"),
    ("fast", "`--set broker.session.timeout.ms=3000 --set broker.heartbeat.interval.ms=500`"),
]


def small(k):
    """CPU and latency columns: kept with 4 decimals, shown with 2."""
    return re.search(r"(^|_)(cpu|lat)_", k) is not None


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine(data_dir):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    df = sh("df", "-PT", data_dir).splitlines()
    dev, fstype = "?", "?"
    if len(df) >= 2:
        parts = df[1].split()
        dev, fstype = parts[0], parts[1]
    opts = ""
    mount_point = sh("stat", "-c", "%m", data_dir) or "/"
    with open("/proc/mounts") as f:
        for line in f:
            p = line.split()
            if p[1] == mount_point:
                opts = p[3]
    blk = os.path.basename(dev)
    base = re.sub(r"p?\d+$", "", blk) if not os.path.exists(f"/sys/block/{blk}") else blk
    rot = sh("cat", f"/sys/block/{base}/queue/rotational")
    if base.startswith("vd"):
        disk_kind = "virtio block device"
    else:
        disk_kind = {"0": "non-rotational", "1": "rotational"}.get(rot, "unknown")
    virt = sh("systemd-detect-virt", "--vm")
    if not virt or virt == "none":
        virt = "VM (hypervisor flag)" if "hypervisor" in open("/proc/cpuinfo").read() else "none detected"
    if fstype.startswith("ext") and os.path.isdir("/proc/fs/jbd2"):
        has_journal = any(e.startswith(blk + "-") for e in os.listdir("/proc/fs/jbd2"))
        fstype += "" if has_journal else " (no journal)"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "disk": f"{dev} ({disk_kind}), {fstype}, mounted {mount_point} with {opts}",
        "kernel": platform.release(),
        "virt": virt,
        "rustc": sh("rustc", "--version"),
    }


def git_commit():
    rev = sh("git", "rev-parse", "--short", "HEAD")
    if not rev:
        return "uncommitted"
    dirty = sh("git", "status", "--porcelain", "--untracked-files=no")
    return rev + ("+dirty" if dirty else "")


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def rng(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return (min(vals), max(vals)) if len(vals) > 1 else None


def summarise(results):
    by = {}
    for r in results:
        by.setdefault(r["label"], []).append(r)
    s = {"ranges": {}}
    for acks in ("acks1", "acksall"):
        rows = by.get(f"produce-{acks}", [])
        s["ranges"][f"produce_{acks}_mb_s"] = rng(rows, "mb_per_s")
        s["ranges"][f"cpu_s_per_gb_{acks}"] = rng(rows, "broker_cpu_s_per_gb")
        s[f"produce_{acks}_mb_s"] = med(rows, "mb_per_s")
        s[f"produce_{acks}_rec_s"] = med(rows, "records_per_s")
        s[f"cpu_s_per_gb_{acks}"] = med(rows, "broker_cpu_s_per_gb")
    cons = by.get("consume-acks1", []) + by.get("consume-acksall", [])
    s["consume_mb_s"] = med(cons, "mb_per_s")
    s["ranges"]["consume_mb_s"] = rng(cons, "mb_per_s")
    s["consume_rec_s"] = med(cons, "records_per_s")
    lat = by.get("latency", [])
    for k in ("lat_p50_ms", "lat_p99_ms", "lat_p999_ms"):
        s[k] = med(lat, k)
    return s, by


def fmt(v, digits=1):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def span(s, key, digits=0):
    r = s["ranges"].get(key)
    return "" if not r else f" [{fmt(r[0], digits)}–{fmt(r[1], digits)}]"


def verdict(value, target):
    if value is None:
        return "—"
    op, t = target
    ok = value >= t if op == ">=" else value <= t
    return "met" if ok else f"**missed** ({value / t:.2f}× target)"


def machine_lines(mach, probe, librdkafka, who="broker and client"):
    out = [f"- CPU: {mach['cpu_model']}, {mach['nproc']} logical CPUs (`nproc`), shared by {who}",
           f"- RAM: {mach['ram_gib']} GiB",
           f"- Data dir: {mach['disk']}",
           f"- Kernel: {mach['kernel']}; virtualisation: {mach['virt']}"]
    if probe:
        out.append(f"- Disk probe before the runs: `dd` of 1 GiB into a new file (page cache) "
                   f"{fmt(probe.get('dd_page_cache_mb_s'), 0)} MB/s; 1 KiB append + `fdatasync` "
                   f"p50 {fmt(probe.get('fdatasync_p50_ms'), 2)} ms, p99 {fmt(probe.get('fdatasync_p99_ms'), 2)} ms, "
                   f"max {fmt(probe.get('fdatasync_max_ms'), 2)} ms")
    out.append(f"- Client: librdkafka {librdkafka} via the rdkafka crate; {mach['rustc']}\n")
    return out


def results_block(s, by, mach, commands, date, commit, elapsed, librdkafka, probe):
    cpu_worst = max([v for v in (s["cpu_s_per_gb_acks1"], s["cpu_s_per_gb_acksall"]) if v is not None], default=None)
    rows = [
        ("Producer, acks=1, 1 KiB records, 6 partitions",
         f"{fmt(s['produce_acks1_mb_s'])} MB/s{span(s, 'produce_acks1_mb_s')} ({fmt(s['produce_acks1_rec_s'], 0)} records/s)",
         "≥ 550 MB/s", verdict(s["produce_acks1_mb_s"], TARGETS["produce_acks1_mb_s"])),
        ("Producer, acks=all (fsync, group commit)",
         f"{fmt(s['produce_acksall_mb_s'])} MB/s{span(s, 'produce_acksall_mb_s')} ({fmt(s['produce_acksall_rec_s'], 0)} records/s)",
         "≥ 350 MB/s", verdict(s["produce_acksall_mb_s"], TARGETS["produce_acksall_mb_s"])),
        ("Consumer, all 6 partitions from offset 0",
         f"{fmt(s['consume_mb_s'])} MB/s{span(s, 'consume_mb_s')} ({fmt(s['consume_rec_s'], 0)} records/s)",
         "≥ 600 MB/s", verdict(s["consume_mb_s"], TARGETS["consume_mb_s"])),
        ("Broker CPU per GB produced, acks=1 / acks=all",
         f"{fmt(s['cpu_s_per_gb_acks1'], 2)}{span(s, 'cpu_s_per_gb_acks1', 2)} / {fmt(s['cpu_s_per_gb_acksall'], 2)}{span(s, 'cpu_s_per_gb_acksall', 2)} CPU-s/GB",
         "≤ 1.5 CPU-s/GB", verdict(cpu_worst, TARGETS["cpu_s_per_gb"])),
        ("Latency, 1000 records/s, acks=all: p50 / p99 / p99.9",
         f"{fmt(s['lat_p50_ms'], 2)} / {fmt(s['lat_p99_ms'], 2)} / {fmt(s['lat_p999_ms'], 2)} ms",
         "p99 ≤ 5 ms", verdict(s["lat_p99_ms"], TARGETS["lat_p99_ms"])),
    ]
    out = []
    out.append(f"Run of {date} on commit `{commit}`; `make bench` took {elapsed} s.\n")
    out.append("**Machine**\n")
    out += machine_lines(mach, probe, librdkafka)
    n = len(by.get("produce-acks1", []))
    out.append(f"**Figures** (median of {n} runs, [min–max] in brackets; MB = 10^6 bytes of record values)\n")
    out.append("| Figure | Result | Target | |")
    out.append("|---|---|---|---|")
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    out.append("")
    out.append("**Every run**\n")
    out.append("| Run | Records | MB | Seconds | MB/s | Records/s | Broker CPU s | Broker CPU s/GB | Client CPU s | Other load (cores) | Latency p50 / p99 / p99.9 ms |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for label in ("produce-acks1", "consume-acks1", "produce-acksall", "consume-acksall", "latency"):
        for r in by.get(label, []):
            lat = "—"
            if r["mode"] != "consume":
                lat = f"{fmt(r.get('lat_p50_ms'), 2)} / {fmt(r.get('lat_p99_ms'), 2)} / {fmt(r.get('lat_p999_ms'), 2)}"
            out.append(
                f"| {label} | {r['records']:,} | {fmt(r['bytes'] / 1e6, 0)} | {fmt(r['elapsed_s'], 2)} | "
                f"{fmt(r['mb_per_s'])} | {fmt(r['records_per_s'], 0)} | {fmt(r.get('broker_cpu_s'), 2)} | "
                f"{fmt(r.get('broker_cpu_s_per_gb'), 2)} | {fmt(r.get('client_cpu_s'), 2)} | "
                f"{fmt(r.get('other_cores'), 2)} | {lat} |"
            )
    out.append("")
    out.append("Throughput-run latencies are dominated by time queued inside librdkafka (up to "
               "`queue.buffering.max.messages` = 100000 records); they are not the latency figure.\n")
    out.append("**Exact commands**, in order (`$BROKERS` is a free 127.0.0.1 port; the broker ran as "
               "`target/release/skua --listen $BROKERS --data-dir bench/.work/data`; `-rN` is repetition N "
               "of the producer/consumer/delete triple)\n")
    out.append("```")
    seen = set()
    for c in commands:
        c = re.sub(r"--brokers 127\.0\.0\.1:\d+", "--brokers $BROKERS", c)
        c = re.sub(r"-r\d+-a\d+\b", "-rN", c)
        c = re.sub(r"-a\d+\b", "", c)
        c = c.replace(os.getcwd() + "/", "")
        if c not in seen:
            seen.add(c)
            out.append("target/release/examples/" + c)
    out.append("```")
    return "\n".join(out)


def read_history(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    if not lines:
        return []
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:]]


def write_history(path, rows):
    with open(path, "w") as f:
        f.write("\t".join(HISTORY_COLS) + "\n")
        for r in rows:
            f.write("\t".join(str(r.get(c, "")) for c in HISTORY_COLS) + "\n")


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def ratio(cur, prev):
    c, p = num(cur), num(prev)
    if c is None or p is None or p == 0:
        return None
    return c / p


def history_table(rows, cols):
    """A markdown table of `cols` over the rows that have any of them; ×N against the row above."""
    out = ["| Date | Commit | CPUs | " + " | ".join(n for _, n in cols) + " | Note |",
           "|---|---|---|" + "---|" * len(cols) + "---|"]
    prev = None
    for r in rows:
        if all(num(r.get(k)) is None for k, _ in cols):
            continue
        cells = []
        for k, _ in cols:
            v = num(r.get(k))
            cell = "—" if v is None else (f"{v:.2f}" if small(k) else f"{v:.1f}")
            if prev is not None:
                q = ratio(r.get(k), prev.get(k))
                if q is not None:
                    cell += f" (×{q:.2f})"
            cells.append(cell)
        out.append(f"| {r.get('date', '')} | `{r.get('commit', '')}` | {r.get('nproc', '')} | " + " | ".join(cells)
                   + f" | {r.get('note', '')} |")
        prev = r
    return out


def history_block(rows):
    out = ["Each `make bench` appends a row to `bench/history.tsv`; ×N is the ratio to the previous "
           "row (for CPU, latency and failover time, lower is better).\n"]
    out += history_table(rows, [
        ("produce_acks1_mb_s", "acks=1 MB/s"), ("produce_acksall_mb_s", "acks=all MB/s"),
        ("consume_mb_s", "consume MB/s"), ("cpu_s_per_gb_acks1", "CPU-s/GB acks=1"),
        ("cpu_s_per_gb_acksall", "CPU-s/GB acks=all"), ("lat_p50_ms", "p50 ms"),
        ("lat_p99_ms", "p99 ms"), ("lat_p999_ms", "p99.9 ms")])
    cluster = history_table(rows, [
        ("cluster_produce_acksall_mb_s", "acks=all MB/s"), ("cluster_consume_mb_s", "consume MB/s"),
        ("cluster_cpu_s_per_gb_acksall", "CPU-s/GB acks=all (3 brokers)"),
        ("cluster_lat_p50_ms", "p50 ms"), ("cluster_lat_p99_ms", "p99 ms"), ("cluster_lat_p999_ms", "p99.9 ms"),
        ("failover_default_ms", "failover ms, defaults"), ("failover_fast_ms", "failover ms, 3 s session"),
        ("failover_default_ctrl_ms", "… leader + controller, defaults"),
        ("failover_fast_ctrl_ms", "… leader + controller, 3 s session")])
    if len(cluster) > 2:
        out.append("\nThree brokers on the same machine (`bench/cluster.sh`): replication factor 3, "
                   "`min.insync.replicas=2`, acks=all; failover = `kill -9` of a partition leader to the "
                   "first acknowledged write through the new leader (median), with the leader not the "
                   "active controller, and (…) with the leader also the active controller.\n")
        out += cluster
    return "\n".join(out)


def summarise_cluster(results):
    by = {}
    for r in results:
        by.setdefault(r["label"], []).append(r)
    s = {"ranges": {}}
    for key, label, field in (
            ("cluster_produce_acksall_mb_s", "cluster-produce-acksall", "mb_per_s"),
            ("cluster_produce_acksall_rec_s", "cluster-produce-acksall", "records_per_s"),
            ("cluster_cpu_s_per_gb_acksall", "cluster-produce-acksall", "broker_cpu_s_per_gb"),
            ("cluster_consume_mb_s", "cluster-consume", "mb_per_s"),
            ("cluster_consume_rec_s", "cluster-consume", "records_per_s"),
            ("cluster_lat_p50_ms", "cluster-latency", "lat_p50_ms"),
            ("cluster_lat_p99_ms", "cluster-latency", "lat_p99_ms"),
            ("cluster_lat_p999_ms", "cluster-latency", "lat_p999_ms")):
        rows = by.get(label, [])
        s[key] = med(rows, field)
        s["ranges"][key] = rng(rows, field)
    for setting, _ in FAILOVER_SETTINGS:
        for ctrl, suffix in ((False, ""), (True, "_ctrl")):
            # By what was killed (the script aims at a case, placement may not allow it).
            every = [r for r in by.get(f"failover-{setting}", []) if r.get("killed_was_controller") == ctrl]
            ok = [r for r in every if r.get("ok")]
            key = f"failover_{setting}{suffix}"
            s[f"{key}_ms"] = med(ok, "failover_ms")
            s["ranges"][f"{key}_ms"] = rng(ok, "failover_ms")
            s[f"{key}_meta_ms"] = med(ok, "metadata_new_leader_ms")
            s["ranges"][f"{key}_meta_ms"] = rng(ok, "metadata_new_leader_ms")
            s[f"{key}_count"] = (len(ok), len(every))
    return s, by


def normalise_commands(commands):
    """Drop repetition/attempt suffixes and repeated lines, keeping the first occurrence's order.
    A topic created and deleted with nothing in between (cluster.sh trying placements until a
    leader fits) is not a step of the measurement and is left out."""
    created = re.compile(r"topic create (\S+)")
    deleted = re.compile(r"--mode delete --topic (\S+)$")
    kept = []
    for c in commands:
        d = deleted.search(c)
        m = created.search(kept[-1]) if kept and d else None
        if m and m[1] == d[1]:
            kept.pop()
            continue
        # A restart of a killed node: its command line is the one it was started with.
        if re.search(r"serve .*# restart of the killed node$", c):
            c = "skua serve ...   # the killed node again, with its own command line from above"
        kept.append(c)
    out, seen = [], set()
    for c in kept:
        c = c.strip()
        if c.startswith("#"):
            seen = set()  # a new section (cluster.sh's comment lines) lists its steps again
        c = re.sub(r"-r\d+(-a\d+)?\b", "-rN", c)
        c = re.sub(r"-a\d+\b", "", c)
        c = c.replace(os.getcwd() + "/", "")
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def cluster_block(cs, cby, single, mach, probe, commands, date, commit, elapsed, librdkafka):
    """The `cluster` block. `single`: the single-node figures to show next to the cluster's, with
    `source` saying where they come from (this run, or an earlier history row)."""
    same_run = single.get("source") == "this run"
    out = [f"Run of {date} on commit `{commit}`; the three-broker part took {elapsed} s"
           + (", in the same `make bench` run as the single-node figures above (same machine, same "
              "binaries, same client and workload), so the two columns are comparable.\n" if same_run else
              f" (`bench/cluster.sh` alone); the single-node column is the {single.get('source')}, "
              "comparable only if the machine was as quiet then.\n")]
    if not same_run:
        out.append("**Machine**\n")
        out += machine_lines(mach, probe, librdkafka, "the three brokers and the client")
    out.append("Three `skua serve` processes on this one machine (broker and controller each, loopback, "
               "data dirs on the same disk, so every byte is written and fsynced three times to one disk "
               f"and the three brokers share the {mach['nproc']} CPUs with the client). Topics: "
               "replication factor 3, `min.insync.replicas=2`, created with `skua topic create`. "
               "Medians, [min–max] in brackets.\n")

    def both(key_single, key_cluster, unit, digits=1, rate=None):
        sv = fmt(single.get(key_single), digits)
        sv = "—" if sv == "—" else f"{sv} {unit}"
        rs = single.get("ranges", {}).get(key_single)
        if rs:
            sv += f" [{fmt(rs[0], 0 if digits == 1 else digits)}–{fmt(rs[1], 0 if digits == 1 else digits)}]"
        cv = f"{fmt(cs.get(key_cluster), digits)} {unit}{span(cs, key_cluster, 0 if digits == 1 else digits)}"
        if rate:
            cv += f" ({fmt(cs.get(rate), 0)} records/s)"
        return sv, cv

    def ms(v):
        return None if v is None else v / 1000

    def secs(d, key):
        r = d["ranges"].get(key)
        return "—" if d.get(key) is None else \
            f"{fmt(ms(d[key]), 2)} s" + ("" if not r else f" [{fmt(ms(r[0]), 2)}–{fmt(ms(r[1]), 2)}]")

    n = len(cby.get("cluster-produce-acksall", []))
    rows = [
        ("Producer, acks=all, 1 KiB records, 6 partitions", *both("produce_acksall_mb_s", "cluster_produce_acksall_mb_s", "MB/s", rate="cluster_produce_acksall_rec_s")),
        ("Consumer, all 6 partitions from offset 0 (from the leaders)", *both("consume_mb_s", "cluster_consume_mb_s", "MB/s", rate="cluster_consume_rec_s")),
        ("Broker CPU per GB produced, acks=all (sum of the brokers)", *both("cpu_s_per_gb_acksall", "cluster_cpu_s_per_gb_acksall", "CPU-s/GB", 2)),
    ]
    lat = " / ".join(fmt(single.get(k), 2) for k in ("lat_p50_ms", "lat_p99_ms", "lat_p999_ms")) + " ms"
    clat = " / ".join(fmt(cs.get(k), 2) for k in ("cluster_lat_p50_ms", "cluster_lat_p99_ms", "cluster_lat_p999_ms")) + " ms"
    rows.append(("Latency, 1000 records/s, acks=all, linger.ms=0: p50 / p99 / p99.9", lat, clat))
    out.append(f"**Throughput and latency** ({n} producer/consumer pair{'' if n == 1 else 's'} on the cluster)\n")
    out.append(f"| Figure | Single node ({single.get('source')}) | Three brokers, RF 3 |")
    out.append("|---|---|---|")
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    out.append("")

    out.append("**Failover**: a one-partition topic (RF 3, `min.insync.replicas=2`), a producer writing "
               "acks=all at 1000 records/s (the latency mode of the same tool, linger.ms=0, librdkafka's "
               "default retries), `kill -9` of the partition's leader after 3 s; the figure is the time "
               "from the last acknowledgement before the kill to the first acknowledgement after it, "
               "which comes through the new leader (the old one is dead). Every node is also a "
               "controller, so the leader killed is either just a broker to the active controller, or "
               "the active controller itself (then the two survivors first elect a new one); both "
               "cases are measured (topics are created until the leader is of the wanted kind). "
               "\"Metadata\" is when `skua topic describe` (polled every ~0.1 s from a surviving broker) "
               "first showed the new leader: the cluster's part; the rest is the client noticing "
               "(librdkafka refreshes metadata with a backoff of up to `retry.backoff.max.ms`=1000 ms). "
               "The killed node is restarted and rejoins every ISR before the next kill.\n")
    out.append("| Nodes started with | Killed | Kill → first acknowledged write | Kill → Metadata shows the new leader | Kills |")
    out.append("|---|---|---|---|---|")
    for setting, desc in FAILOVER_SETTINGS:
        for suffix, what in (("", "the leader (not the active controller)"),
                             ("_ctrl", "the leader, also the active controller")):
            key = f"failover_{setting}{suffix}"
            ok, total = cs.get(f"{key}_count", (0, 0))
            out.append(f"| {desc} | {what} | {secs(cs, f'{key}_ms')} | {secs(cs, f'{key}_meta_ms')} | "
                       f"{ok} of {total} measured" + ("" if ok == total else " (see below)") + " |")
    out.append("")
    out.append("Every kill:\n")
    out.append("| Settings | # | Killed leader | It was the active controller | New leader | Kill → first ack s (lower bound) | Metadata s | Records (errors) | Acks p50 / p99 ms before the kill | Back in every ISR after its restart | OK |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for setting, _ in FAILOVER_SETTINGS:
        for r in cby.get(f"failover-{setting}", []):
            out.append(
                f"| {setting} | {r['rep']} | {r['killed']} | {'yes' if r['killed_was_controller'] else 'no'} | "
                f"{r['new_leader']} | {fmt(ms(r.get('failover_ms')), 2)} ({fmt(ms(r.get('failover_lower_ms')), 2)}) | "
                f"{fmt(ms(r.get('metadata_new_leader_ms')), 2)} | {fmt(r.get('records'), 0)} ({r.get('errors', '—')}) | "
                f"{fmt(r.get('lat_p50_before_ms'), 2)} / {fmt(r.get('lat_p99_before_ms'), 2)} | "
                f"{fmt(r['rejoin_ms'] / 1000, 1)} s | {'yes' if r.get('ok') else '**no**'} |")
    out.append("")
    out.append("The lower bound counts from the kill as the script's clock saw it, mapped onto the "
               "producer's clock through the producer's launch time (its clock starts a little later), "
               "so the true figure lies between the two.\n")

    out.append("**Every throughput run on the cluster**\n")
    out.append("| Run | Records | MB | Seconds | MB/s | Records/s | Brokers' CPU s | CPU s/GB | Client CPU s | Other load (cores) | Latency p50 / p99 / p99.9 ms |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for label in ("cluster-produce-acksall", "cluster-consume", "cluster-latency"):
        for r in cby.get(label, []):
            lat = "—" if r["mode"] == "consume" else \
                f"{fmt(r.get('lat_p50_ms'), 2)} / {fmt(r.get('lat_p99_ms'), 2)} / {fmt(r.get('lat_p999_ms'), 2)}"
            out.append(
                f"| {label} | {r['records']:,} | {fmt(r['bytes'] / 1e6, 0)} | {fmt(r['elapsed_s'], 2)} | "
                f"{fmt(r['mb_per_s'])} | {fmt(r['records_per_s'], 0)} | {fmt(r.get('broker_cpu_s'), 2)} | "
                f"{fmt(r.get('broker_cpu_s_per_gb'), 2)} | {fmt(r.get('client_cpu_s'), 2)} | "
                f"{fmt(r.get('other_cores'), 2)} | {lat} |")
    out.append("")
    out.append("**Exact commands**, in order (`$B1`–`$B3` and `$C1`–`$C3` are free 127.0.0.1 ports: the "
               "brokers' and the controllers' listeners; `skua` is `target/release/skua`; `-rN` is "
               "repetition N; a command ending in `&` runs in the background while the next lines run)\n")
    out.append("```")
    out += normalise_commands(commands)
    out.append("```")
    return "\n".join(out)


def replace_block(doc, name, body):
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    pat = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    block = f"{begin}\n{body}\n{end}"
    if pat.search(doc):
        return pat.sub(lambda _: block, doc)
    return doc.rstrip("\n") + "\n\n" + block + "\n"


def read_jsonl(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def read_lines(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.strip() for l in f if l.strip()]


def single_for_cluster(s, results, hist):
    """The single-node figures shown next to the cluster's: this run's, else the last history row's."""
    if results:
        return dict(s, source="this run")
    for r in reversed(hist):
        if num(r.get("produce_acksall_mb_s")) is not None:
            d = {k: num(r.get(k)) for k in SINGLE_COLS}
            d["source"] = f"history row of {r.get('date')}"
            return d
    return {"source": "none"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", help="single-node results (bench/run.sh)")
    ap.add_argument("--commands")
    ap.add_argument("--cluster-results", help="three-broker results (bench/cluster.sh)")
    ap.add_argument("--cluster-commands")
    ap.add_argument("--cluster-elapsed", default="?")
    ap.add_argument("--data-dir", default=".")
    ap.add_argument("--history")
    ap.add_argument("--doc")
    ap.add_argument("--elapsed", default="?")
    ap.add_argument("--probe")
    ap.add_argument("--note", default="")
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--date", help="date of the run (default: now), to re-render a stored run")
    a = ap.parse_args()
    if not a.results and not a.cluster_results:
        ap.error("--results or --cluster-results (or both)")

    results = read_jsonl(a.results)
    cresults = read_jsonl(a.cluster_results)
    s, by = summarise(results)
    cs, cby = summarise_cluster(cresults)
    mach = machine(a.data_dir)
    date = a.date or datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    commit = git_commit()
    librdkafka = next((r.get("librdkafka") for r in results + cresults if r.get("librdkafka")), "?")

    print("\n== skua benchmark summary ==")
    for k in (SINGLE_COLS if results else []) + (CLUSTER_COLS if cresults else []):
        v = s.get(k) if k in SINGLE_COLS else cs.get(k)
        print(f"  {k:30s} {fmt(v, 3)}")
    if a.summary_only:
        return 0

    hist = read_history(a.history)
    prev = hist[-1] if hist else None
    row = {"date": date, "commit": commit, "nproc": mach["nproc"], "cpu_model": mach["cpu_model"],
           "note": re.sub(r"\s+", " ", a.note or "").strip()}
    for k in METRIC_COLS:
        v = s.get(k) if k in SINGLE_COLS else cs.get(k)
        row[k] = "" if v is None else (f"{v:.4f}" if small(k) else f"{v:.2f}")
    hist.append(row)
    write_history(a.history, hist)
    if prev:
        print(f"\n== ratio to the previous run ({prev.get('date')}, {prev.get('commit')}) ==")
        for k, higher_better in RATIO_COLS:
            q = ratio(row.get(k), prev.get(k))
            if q is not None:
                verdict_word = "same" if abs(q - 1) < 0.005 else ("better" if (q > 1) == higher_better else "worse")
                print(f"  {k:30s} ×{q:.3f} ({verdict_word})")

    doc = open(a.doc).read() if os.path.exists(a.doc) else "# Performance\n"
    probe = None
    if a.probe and os.path.exists(a.probe):
        with open(a.probe) as f:
            probe = json.load(f)
    if results:
        doc = replace_block(doc, "results", results_block(s, by, mach, read_lines(a.commands), date, commit,
                                                          a.elapsed, librdkafka, probe))
    if cresults:
        single = single_for_cluster(s, results, hist[:-1])
        doc = replace_block(doc, "cluster", cluster_block(cs, cby, single, mach, probe, read_lines(a.cluster_commands),
                                                          date, commit, a.cluster_elapsed, librdkafka))
    doc = replace_block(doc, "history", history_block(hist))
    with open(a.doc, "w") as f:
        f.write(doc)
    print(f"\nwrote {a.doc} and {a.history}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
