"""Summarise bench/partitions.sh results; update docs/PERFORMANCE.md and bench/partitions-history.tsv.

The block between `<!-- bench:partitions:begin -->` and `<!-- bench:partitions:end -->` in the
doc is rewritten (added under a "Many partitions" heading when missing); the history gets one
row per N per run.
"""
import argparse
import json
import os
import platform
import subprocess
import time

HISTORY_COLS = [
    "date", "commit", "n", "nofile", "failed_step", "create_s", "create_ready_s", "rss_empty_mb",
    "rss_mb", "rss_per_partition_kb", "fds", "idle_cpu_pct", "metadata_ms", "metadata_raw_ms",
    "metadata_bytes", "metrics_scrape_ms", "metrics_bytes", "produce_acks1_mb_s",
    "produce_acksall_mb_s", "consume_mb_s", "stop_ms", "startup_clean_ms", "startup_kill9_ms",
    "cleaned_partitions", "cleaner_span_s", "sweep_cpu_ms", "big_topic_partitions",
    "big_create_s", "big_delete_s", "note",
]


def load(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    by_n = {}
    for r in rows:
        by_n.setdefault(r["n"], {})[r["step"]] = r
    return by_n


def figures(n, steps):
    g = lambda step, key: steps.get(step, {}).get(key)
    f = {"n": n, "nofile": next(iter(steps.values()))["nofile"]}
    failed = [s for s, r in steps.items() if r.get("failed")]
    f["failed_step"] = failed[0] if failed else ""
    f["error"] = steps[failed[0]].get("error", "") if failed else ""
    f["create_s"] = g("create", "create_s")
    f["create_ready_s"] = g("create", "ready_s")
    f["create_requests"] = g("create", "requests")
    f["create_cpu_s"] = g("create", "broker_cpu_s")
    rss0, rss = g("idle-empty", "rss_kb"), g("idle-created", "rss_kb")
    f["rss_empty_mb"] = round(rss0 / 1024, 1) if rss0 else None
    f["rss_mb"] = round(rss / 1024, 1) if rss else None
    f["rss_per_partition_kb"] = round((rss - rss0) / n, 2) if rss and rss0 else None
    f["fds"] = g("idle-created", "fds")
    f["fds_empty"] = g("idle-empty", "fds")
    cpu, secs = g("idle-created", "broker_cpu_s"), g("idle-created", "secs")
    f["idle_cpu_pct"] = round(cpu / secs * 100, 1) if cpu is not None and secs else None
    cpu_d, secs_d = g("idle-data", "broker_cpu_s"), g("idle-data", "secs")
    f["idle_data_cpu_pct"] = round(cpu_d / secs_d * 100, 1) if cpu_d is not None and secs_d else None
    f["metadata_ms"] = g("metadata", "median_ms")
    f["metadata_raw_ms"] = g("metadata", "raw_ms")
    f["metadata_bytes"] = g("metadata", "response_bytes")
    f["metrics_scrape_ms"] = g("metrics", "scrape_ms")
    f["metrics_bytes"] = g("metrics", "bytes")
    f["produce_acks1_mb_s"] = g("produce-acks1", "mb_per_s")
    f["produce_acksall_mb_s"] = g("produce-acksall", "mb_per_s")
    f["consume_mb_s"] = g("consume-acks1", "mb_per_s")
    f["consume_all_mb_s"] = g("consume-all", "mb_per_s")
    f["consume_offset0_mb_s"] = g("consume-offset0", "mb_per_s")
    f["fetch_raw_mb_s"] = g("fetch-raw", "mb_per_s")
    f["fetch_raw_s"] = g("fetch-raw", "elapsed_s")
    f["fetch_raw_requests"] = g("fetch-raw", "requests")
    f["stop_ms"] = g("stop-term", "stop_ms")
    f["startup_empty_ms"] = g("startup-empty", "ready_ms")
    f["startup_clean_ms"] = g("startup-clean", "ready_ms")
    f["startup_clean_first_ms"] = g("startup-clean", "first_answer_ms")
    f["startup_kill9_ms"] = g("startup-kill9", "ready_ms")
    f["startup_kill9_first_ms"] = g("startup-kill9", "first_answer_ms")
    rss_r = g("idle-restarted", "rss_kb")
    f["rss_restarted_mb"] = round(rss_r / 1024, 1) if rss_r else None
    f["cleaned_partitions"] = g("maintenance", "cleaned_partitions")
    f["cleaner_span_s"] = g("maintenance", "cleaner_span_s")
    f["maint_cpu_s"] = g("maintenance", "broker_cpu_s")
    f["maint_secs"] = g("maintenance", "secs")
    tail_cpu, tail_secs, interval = g("maintenance", "tail_cpu_s"), g("maintenance", "tail_secs"), g("maintenance", "interval_ms")
    if tail_cpu is not None and tail_secs and interval and cpu_d is not None and secs_d:
        sweeps = tail_secs * 1000 / interval
        extra = tail_cpu - cpu_d / secs_d * tail_secs
        f["sweep_cpu_ms"] = round(max(extra, 0) / sweeps * 1000, 1)
    else:
        f["sweep_cpu_ms"] = None
    f["big_topic_partitions"] = g("create-big", "partitions")
    f["big_create_s"] = g("create-big", "ready_s")
    f["big_delete_s"] = g("delete-big", "delete_s")
    return f


def fmt(v, unit="", digits=None):
    if v is None or v == "":
        return "—"
    if isinstance(v, float):
        if digits is None:
            digits = 1 if abs(v) >= 10 else 2
        return f"{v:,.{digits}f}{unit}"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    return f"{v}{unit}"


def table(figs):
    cols = [f"N = {f['n']:,}" for f in figs]
    rows = [
        ("fd limit of the broker (`ulimit -n`)", lambda f: fmt(f["nofile"])),
        ("CreateTopics, N/100 topics of 100 partitions (50 per request): answered", lambda f: fmt(f["create_s"], " s")),
        ("… until Metadata shows every partition led", lambda f: fmt(f["create_ready_s"], " s")),
        ("broker CPU during the creation", lambda f: fmt(f["create_cpu_s"], " s")),
        ("RSS empty → with N partitions (idle)", lambda f: f"{fmt(f['rss_empty_mb'], ' MB')} → {fmt(f['rss_mb'], ' MB')}"),
        ("RSS per partition", lambda f: fmt(f["rss_per_partition_kb"], " KB")),
        ("open fds (empty → with N partitions)", lambda f: f"{fmt(f['fds_empty'])} → {fmt(f['fds'])}"),
        ("idle broker CPU, no data → with data", lambda f: f"{fmt(f['idle_cpu_pct'], ' %')} → {fmt(f['idle_data_cpu_pct'], ' %')}"),
        ("Metadata, all topics, librdkafka fetch_metadata(None) (median of 5)", lambda f: fmt(f["metadata_ms"], " ms")),
        ("Metadata, raw request: time, response size", lambda f: f"{fmt(f['metadata_raw_ms'], ' ms')}, {fmt(f['metadata_bytes'], ' B')}"),
        ("/metrics scrape: time, size", lambda f: f"{fmt(f['metrics_scrape_ms'], ' ms')}, {fmt(f['metrics_bytes'], ' B')}"),
        ("produce acks=1 over all N partitions", lambda f: fmt(f["produce_acks1_mb_s"], " MB/s")),
        ("produce acks=all over all N partitions", lambda f: fmt(f["produce_acksall_mb_s"], " MB/s")),
        ("consume from earliest (first run's data; then both runs')", lambda f: f"{fmt(f['consume_mb_s'], ' MB/s')}; {fmt(f['consume_all_mb_s'], ' MB/s')}"),
        ("consume both runs' data assigned at offset 0 (no ListOffsets per partition)", lambda f: fmt(f.get('consume_offset0_mb_s'), ' MB/s')),
        ("… the same read with raw Fetch v12 and a fetch session (no librdkafka): rate, time, fetches", lambda f: f"{fmt(f.get('fetch_raw_mb_s'), ' MB/s')}, {fmt(f.get('fetch_raw_s'), ' s')}, {fmt(f.get('fetch_raw_requests'))}"),
        ("SIGTERM to exit", lambda f: fmt(f["stop_ms"], " ms")),
        ("start-up, empty broker", lambda f: fmt(f["startup_empty_ms"], " ms")),
        ("start-up after SIGTERM: first Metadata answer / all N led", lambda f: f"{fmt(f['startup_clean_first_ms'], ' ms')} / {fmt(f['startup_clean_ms'], ' ms')}"),
        ("start-up after kill -9: first Metadata answer / all N led", lambda f: f"{fmt(f['startup_kill9_first_ms'], ' ms')} / {fmt(f['startup_kill9_ms'], ' ms')}"),
        ("RSS after the restart", lambda f: fmt(f["rss_restarted_mb"], " MB")),
        ("cleaner: partitions compacted, first → last", lambda f: f"{fmt(f['cleaned_partitions'])}, {fmt(f['cleaner_span_s'], ' s')}"),
        ("retention + cleaner sweep of all partitions (scan only), broker CPU per sweep pair", lambda f: fmt(f["sweep_cpu_ms"], " ms")),
        ("one more topic of min(5000, N) partitions: CreateTopics until led", lambda f: f"{fmt(f['big_topic_partitions'])}: {fmt(f['big_create_s'], ' s')}"),
        ("… DeleteTopics of it", lambda f: fmt(f["big_delete_s"], " s")),
        ("failed step", lambda f: (f"**{f['failed_step']}**: {f['error']}" if f["failed_step"] else "none")),
    ]
    out = ["| Figure | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, fn in rows:
        out.append(f"| {name} | " + " | ".join(fn(f) for f in figs) + " |")
    return out


def commit():
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout.strip()
        return c + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--doc", help="the doc whose partitions block to rewrite (none: history only)")
    ap.add_argument("--history")
    ap.add_argument("--note", default="")
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--settings", default="")
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--commit", help="the broker's commit, when it is not the checkout's HEAD")
    a = ap.parse_args()
    by_n = load(a.results)
    figs = [figures(n, steps) for n, steps in sorted(by_n.items())]
    lines = table(figs)
    print("\n".join(lines))
    if a.summary_only:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rev = a.commit or commit()
    block = [
        "<!-- bench:partitions:begin -->",
        f"Run of {stamp} at {rev} ({os.cpu_count()} cores, {platform.machine()}; {a.elapsed} s in all; {a.settings}).",
        "",
        *lines,
        "<!-- bench:partitions:end -->",
    ]
    if not a.doc:
        write_history(a, figs, stamp, rev)
        return
    doc = open(a.doc).read()
    b, e = "<!-- bench:partitions:begin -->", "<!-- bench:partitions:end -->"
    text = "\n".join(block)
    if b in doc and e in doc:
        doc = doc[: doc.index(b)] + text + doc[doc.index(e) + len(e):]
    else:
        doc = doc.rstrip() + "\n\n## Many partitions\n\n" + text + "\n"
    open(a.doc, "w").write(doc)
    write_history(a, figs, stamp, rev)


def write_history(a, figs, stamp, rev):
    new = not os.path.exists(a.history)
    with open(a.history, "a") as h:
        if new:
            h.write("\t".join(HISTORY_COLS) + "\n")
        for f in figs:
            row = {**f, "date": stamp, "commit": rev, "note": a.note}
            h.write("\t".join("" if row.get(c) is None else str(row.get(c)) for c in HISTORY_COLS) + "\n")


if __name__ == "__main__":
    main()
