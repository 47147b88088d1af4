#!/usr/bin/env python3
"""Summarise bench/run.sh results; update docs/PERFORMANCE.md and bench/history.tsv.

The doc keeps hand-written text; only the blocks between
`<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->` (NAME = results, history) are rewritten.
history.tsv gets one row per run; ratios are against the previous row.
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
    "lat_p50_ms", "lat_p99_ms", "lat_p999_ms", "note",
]
METRIC_COLS = HISTORY_COLS[4:-1]
# Metrics compared against the previous row, and whether higher is better.
RATIO_COLS = [
    ("produce_acks1_mb_s", True), ("produce_acksall_mb_s", True), ("consume_mb_s", True),
    ("cpu_s_per_gb_acks1", False), ("cpu_s_per_gb_acksall", False),
    ("lat_p50_ms", False), ("lat_p99_ms", False), ("lat_p999_ms", False),
]


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
    out.append(f"- CPU: {mach['cpu_model']}, {mach['nproc']} logical CPUs (`nproc`), shared by broker and client")
    out.append(f"- RAM: {mach['ram_gib']} GiB")
    out.append(f"- Data dir: {mach['disk']}")
    out.append(f"- Kernel: {mach['kernel']}; virtualisation: {mach['virt']}")
    if probe:
        out.append(f"- Disk probe before the runs: `dd` of 1 GiB into a new file (page cache) "
                   f"{fmt(probe.get('dd_page_cache_mb_s'), 0)} MB/s; 1 KiB append + `fdatasync` "
                   f"p50 {fmt(probe.get('fdatasync_p50_ms'), 2)} ms, p99 {fmt(probe.get('fdatasync_p99_ms'), 2)} ms, "
                   f"max {fmt(probe.get('fdatasync_max_ms'), 2)} ms")
    out.append(f"- Client: librdkafka {librdkafka} via the rdkafka crate; {mach['rustc']}\n")
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


def history_block(rows):
    out = ["Each `make bench` appends a row to `bench/history.tsv`; ×N is the ratio to the previous "
           "row (for CPU and latency, lower is better).\n"]
    cols = [("produce_acks1_mb_s", "acks=1 MB/s"), ("produce_acksall_mb_s", "acks=all MB/s"),
            ("consume_mb_s", "consume MB/s"), ("cpu_s_per_gb_acks1", "CPU-s/GB acks=1"),
            ("cpu_s_per_gb_acksall", "CPU-s/GB acks=all"), ("lat_p50_ms", "p50 ms"),
            ("lat_p99_ms", "p99 ms"), ("lat_p999_ms", "p99.9 ms")]
    out.append("| Date | Commit | CPUs | " + " | ".join(n for _, n in cols) + " | Note |")
    out.append("|---|---|---|" + "---|" * len(cols) + "---|")
    prev = None
    for r in rows:
        cells = []
        for k, _ in cols:
            v = num(r.get(k))
            cell = "—" if v is None else (f"{v:.2f}" if k.startswith(("cpu", "lat")) else f"{v:.1f}")
            if prev is not None:
                q = ratio(r.get(k), prev.get(k))
                if q is not None:
                    cell += f" (×{q:.2f})"
            cells.append(cell)
        out.append(f"| {r.get('date', '')} | `{r.get('commit', '')}` | {r.get('nproc', '')} | " + " | ".join(cells)
                   + f" | {r.get('note', '')} |")
        prev = r
    return "\n".join(out)


def replace_block(doc, name, body):
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    pat = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    block = f"{begin}\n{body}\n{end}"
    if pat.search(doc):
        return pat.sub(lambda _: block, doc)
    return doc.rstrip("\n") + "\n\n" + block + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--commands")
    ap.add_argument("--data-dir", default=".")
    ap.add_argument("--history")
    ap.add_argument("--doc")
    ap.add_argument("--elapsed", default="?")
    ap.add_argument("--probe")
    ap.add_argument("--note", default="")
    ap.add_argument("--summary-only", action="store_true")
    a = ap.parse_args()

    with open(a.results) as f:
        results = [json.loads(l) for l in f if l.strip()]
    s, by = summarise(results)
    mach = machine(a.data_dir)
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    commit = git_commit()
    librdkafka = next((r.get("librdkafka") for r in results if r.get("librdkafka")), "?")

    print("\n== skua benchmark summary ==")
    for k in METRIC_COLS:
        print(f"  {k:24s} {fmt(s.get(k), 3)}")
    if a.summary_only:
        return 0

    hist = read_history(a.history)
    prev = hist[-1] if hist else None
    row = {"date": date, "commit": commit, "nproc": mach["nproc"], "cpu_model": mach["cpu_model"],
           "note": re.sub(r"\s+", " ", a.note or "").strip()}
    for k in METRIC_COLS:
        v = s.get(k)
        row[k] = "" if v is None else (f"{v:.4f}" if k.startswith(("cpu", "lat")) else f"{v:.2f}")
    hist.append(row)
    write_history(a.history, hist)
    if prev:
        print(f"\n== ratio to the previous run ({prev.get('date')}, {prev.get('commit')}) ==")
        for k, higher_better in RATIO_COLS:
            q = ratio(row.get(k), prev.get(k))
            if q is not None:
                verdict_word = "same" if abs(q - 1) < 0.005 else ("better" if (q > 1) == higher_better else "worse")
                print(f"  {k:24s} ×{q:.3f} ({verdict_word})")

    commands = []
    if a.commands and os.path.exists(a.commands):
        with open(a.commands) as f:
            commands = [l.strip() for l in f if l.strip()]
    doc = open(a.doc).read() if os.path.exists(a.doc) else "# Performance\n"
    probe = None
    if a.probe and os.path.exists(a.probe):
        with open(a.probe) as f:
            probe = json.load(f)
    doc = replace_block(doc, "results", results_block(s, by, mach, commands, date, commit, a.elapsed, librdkafka, probe))
    doc = replace_block(doc, "history", history_block(hist))
    with open(a.doc, "w") as f:
        f.write(doc)
    print(f"\nwrote {a.doc} and {a.history}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
