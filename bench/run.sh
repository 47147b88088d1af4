#!/usr/bin/env bash
# The skua benchmark (`make bench`): build, start the real broker on a free port with a fresh data
# dir under bench/.work/ (real disk, not tmpfs), drive it with examples/bench.rs (librdkafka),
# then write docs/PERFORMANCE.md and append a row to bench/history.tsv.
#
# After one unmeasured warm-up (produce, delete), runs, each repeated BENCH_REPEAT times (the
# report takes the median and shows the range):
#   produce acks=1   -> consume that topic back -> delete it
#   produce acks=all -> consume that topic back -> delete it
# then one latency run (acks=all, fixed rate). Broker CPU (utime+stime from /proc/<pid>/stat) is
# read before and after every run. Then consumer-group and transaction figures on a second broker,
# and (bench/cluster.sh) the same producer/consumer/latency runs on three brokers with replication
# factor 3, and leader failover times. Figures are in docs/PERFORMANCE.md, which explains the method.
#
# Knobs (environment):
#   BENCH_MAX_BYTES    per producer run, default 2G (10^9 bytes)
#   BENCH_DURATION     per producer run, seconds, default 20 (whichever of the two comes first)
#   BENCH_RECORD_SIZE  default 1024        BENCH_PARTITIONS  default 6
#   BENCH_REPEAT       default 5
#   BENCH_LAT_SECS     default 30          BENCH_LAT_RATE    default 1000 (records/s)
#   BENCH_LAT_LINGER   default 0 (linger.ms of the latency run)
#   BENCH_QUIET_WAIT   default 120: seconds to wait for other load on the machine to settle
#   BENCH_MAX_OTHER    default 0.3: a run during which other programs used more CPU (cores) than
#                      this is repeated, up to BENCH_RETRIES (default 2) times
#   BENCH_REPORT       default 1: update docs/PERFORMANCE.md and bench/history.tsv
#   BENCH_KEEP         default 0: keep the data dir afterwards
#   BENCH_NO_BUILD     default 0: skip cargo build (use the existing binaries)
#   BENCH_BIN_DIR      take skua and examples/{bench,group_bench,txn_bench} from this directory
#                      (laid out as target/release) instead of building into target/release
#   BENCH_CLUSTER      default 1: also run bench/cluster.sh (three brokers; its own knobs are
#                      listed there)
#   BENCH_NOTE         free text stored with this run in bench/history.tsv
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/.work
MAX_BYTES=${BENCH_MAX_BYTES:-2G}
DURATION=${BENCH_DURATION:-20}
RECORD_SIZE=${BENCH_RECORD_SIZE:-1024}
PARTITIONS=${BENCH_PARTITIONS:-6}
REPEAT=${BENCH_REPEAT:-5}
LAT_SECS=${BENCH_LAT_SECS:-30}
LAT_RATE=${BENCH_LAT_RATE:-1000}
LAT_LINGER=${BENCH_LAT_LINGER:-0}
QUIET_WAIT=${BENCH_QUIET_WAIT:-120}
RETRIES=${BENCH_RETRIES:-2}
MAX_OTHER=${BENCH_MAX_OTHER:-0.3}
REPORT=${BENCH_REPORT:-1}
KEEP=${BENCH_KEEP:-0}
NO_BUILD=${BENCH_NO_BUILD:-0}
BIN_DIR=${BENCH_BIN_DIR:-target/release}
CLUSTER=${BENCH_CLUSTER:-1}

T_START=$(date +%s)
log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

if [ "$NO_BUILD" != 1 ] && [ -z "${BENCH_BIN_DIR:-}" ]; then
    log "cargo build --release"
    cargo build --release
    log "cargo build --release --example bench"
    cargo build --release --example bench
    log "cargo build --release --example group_bench"
    cargo build --release --example group_bench
    log "cargo build --release --example txn_bench"
    cargo build --release --example txn_bench
fi

mkdir -p "$WORK"
# Private copies: others may rebuild target/ while the benchmark runs.
cp "$BIN_DIR/skua" "$WORK/skua"
cp "$BIN_DIR/examples/bench" "$WORK/bench"
cp "$BIN_DIR/examples/group_bench" "$WORK/group_bench"
cp "$BIN_DIR/examples/txn_bench" "$WORK/txn_bench"
BROKER_BIN=$WORK/skua
BENCH_BIN=$WORK/bench

DATA=$WORK/data
rm -rf "$DATA"
mkdir -p "$DATA"
FSTYPE=$(stat -f -c %T "$DATA")
case "$FSTYPE" in
    tmpfs|ramfs) echo "bench: $DATA is on $FSTYPE; the benchmark must write to a real disk" >&2; exit 1 ;;
esac

# Each topic is deleted once it has been read back, so one run's data is on disk at a time.
NEED_MB=$(python3 -c 'import re, sys
m = re.fullmatch(r"([0-9.]+)([kMG]?)", sys.argv[1])
if not m: sys.exit("bad BENCH_MAX_BYTES " + sys.argv[1])
b = float(m[1]) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m[2]]
print(int(b * 1.1 / 1e6) + 2048)' "$MAX_BYTES")
AVAIL_MB=$(df -Pm "$DATA" | awk 'NR == 2 { print $4 }')
if [ "$AVAIL_MB" -lt "$NEED_MB" ]; then
    echo "bench: $DATA has ${AVAIL_MB} MB free; this run needs about ${NEED_MB} MB" >&2
    exit 1
fi

# What the machine itself does, for context in the report: page-cache write speed into a new
# file, and the latency of a 1 KiB append + fdatasync on the data dir's filesystem.
probe_disk() {
    local t0 t1
    sync
    t0=$(date +%s.%N)
    dd if=/dev/zero of="$DATA/probe.dd" bs=1M count=1024 status=none
    t1=$(date +%s.%N)
    rm -f "$DATA/probe.dd"
    python3 - "$DATA/probe.fsync" "$t0" "$t1" >"$WORK/probe.json" <<'PY'
import json, os, sys, time
path, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
lat = []
buf = os.urandom(1024)
for _ in range(500):
    os.write(fd, buf)
    t = time.perf_counter()
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1000)
os.close(fd)
os.unlink(path)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
print(json.dumps({"dd_page_cache_mb_s": round(1024 * 1048576 / 1e6 / (t1 - t0), 1),
                  "fdatasync_p50_ms": round(q(50), 3), "fdatasync_p99_ms": round(q(99), 3),
                  "fdatasync_max_ms": round(lat[-1], 3)}))
PY
    log "disk probe: $(cat "$WORK/probe.json")"
}
probe_disk

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BROKERS=127.0.0.1:$PORT
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)

BROKER_PID=
GPID=
cleanup() {
    local p
    for p in "$BROKER_PID" "$GPID"; do
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    if [ "$KEEP" != 1 ]; then rm -rf "$DATA"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting $BROKER_BIN --listen $BROKERS --data-dir $DATA"
"$BROKER_BIN" --listen "$BROKERS" --data-dir "$DATA" --metrics-listen off >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$WORK/broker.log" >&2; echo "bench: broker exited" >&2; exit 1; }
    [ "$i" = 100 ] && { echo "bench: broker did not listen on $PORT" >&2; exit 1; }
    sleep 0.1
done

broker_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$BROKER_PID/stat"; }
# Busy and total jiffies of the whole machine.
cpu_jiffies() { awk '/^cpu /{ print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }

# Wait until the machine is quiet (other tenants' builds skew every figure on a small box).
wait_quiet() {
    local deadline=$(( $(date +%s) + QUIET_WAIT )) b0 t0 b1 t1 busy
    while :; do
        read -r b0 t0 < <(cpu_jiffies)
        sleep 2
        read -r b1 t1 < <(cpu_jiffies)
        busy=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v n="$NPROC" 'BEGIN{ printf "%.2f", (t > 0 ? b / t * n : 0) }')
        if awk -v x="$busy" 'BEGIN{ exit !(x < 0.3) }'; then return 0; fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "machine still busy ($busy cores used by others); running anyway"
            return 0
        fi
        # One line every ~10 s is enough.
        if [ $(( ($(date +%s) / 2) % 5 )) = 0 ]; then log "waiting for other load to settle ($busy cores busy)"; fi
    done
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
CMDS=$WORK/commands.txt
: >"$CMDS"

broker_alive() {
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "bench: the broker (pid $BROKER_PID) is gone; last lines of $WORK/broker.log:" >&2
        tail -n 20 "$WORK/broker.log" >&2
        exit 1
    fi
}

# run_once LABEL ARGS... : one bench invocation with broker CPU and machine load around it;
# appends the JSON line (plus broker_cpu_s, broker_cpu_s_per_gb, other_cores) to $RESULTS and
# sets LAST_OTHER to the other load in cores.
run_once() {
    local label=$1; shift
    wait_quiet
    # The page cache may hold dirty data of the previous run; write it out first.
    sync
    broker_alive
    local bt0 bt1 b0 t0 b1 t1 out json
    bt0=$(broker_ticks)
    read -r b0 t0 < <(cpu_jiffies)
    log "bench $label: $*"
    out=$("$BENCH_BIN" --brokers "$BROKERS" --label "$label" "$@") || { echo "$out" >&2; broker_alive; exit 1; }
    read -r b1 t1 < <(cpu_jiffies)
    broker_alive
    bt1=$(broker_ticks)
    echo "$out" | grep -v '^{"bench":' >&2
    json=$(echo "$out" | grep '^{"bench":' | tail -n1)
    [ -n "$json" ] || { echo "bench: no JSON line from $label" >&2; exit 1; }
    python3 - "$json" "$((bt1 - bt0))" "$CLK_TCK" "$((b1 - b0))" "$((t1 - t0))" "$NPROC" >>"$RESULTS" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
ticks, hz, busy, total, nproc = (int(x) for x in sys.argv[2:7])
r["broker_cpu_s"] = round(ticks / hz, 3)
gb = r.get("bytes", 0) / 1e9
if r["mode"] != "consume" and gb > 0:
    r["broker_cpu_s_per_gb"] = round(r["broker_cpu_s"] / gb, 4)
wall = total / hz / nproc
r["wall_s"] = round(wall, 3)
# CPU used by anything other than the broker and the bench client, in cores (kernel
# writeback threads included).
other = busy / hz - r["broker_cpu_s"] - r.get("client_total_cpu_s", r.get("client_cpu_s", 0))
r["other_cores"] = round(max(other, 0) / wall, 3) if wall > 0 else 0
print(json.dumps(r))
PY
    LAST_OTHER=$(tail -n1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["other_cores"])')
    tail -n1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  broker CPU %.2f s%s, other load %.2f cores" % (r["broker_cpu_s"], (", %.3f s/GB" % r["broker_cpu_s_per_gb"]) if "broker_cpu_s_per_gb" in r else "", r["other_cores"]))' >&2
}

# noisy: true when the last run had more other load than BENCH_MAX_OTHER cores.
noisy() { awk -v x="$LAST_OTHER" -v m="$MAX_OTHER" 'BEGIN{ exit !(x > m) }'; }
# discard_last: drop the last result line (a noisy attempt that is being repeated).
discard_last() { sed -i '$d' "$RESULTS"; }

COMMON=(--record-size "$RECORD_SIZE" --partitions "$PARTITIONS" --compression none)

# Warm-up, not measured: write one run's worth and delete it. Every measured producer run then
# writes into page-cache memory freed just before (each topic is deleted once read back), as on a
# broker whose retention keeps deleting segments. See docs/PERFORMANCE.md for why this matters on
# VMs that back guest memory lazily.
wait_quiet
log "warm-up: produce $MAX_BYTES to bench-warmup and delete it"
"$BENCH_BIN" --brokers "$BROKERS" --mode produce --topic bench-warmup --acks 1 "${COMMON[@]}" \
    --duration-secs "$DURATION" --max-bytes "$MAX_BYTES" >/dev/null
"$BENCH_BIN" --brokers "$BROKERS" --mode delete --topic bench-warmup >/dev/null
printf '%s\n' "bench --brokers \$BROKERS --mode produce --topic bench-warmup --acks 1 ${COMMON[*]} --duration-secs $DURATION --max-bytes $MAX_BYTES" \
    "bench --brokers \$BROKERS --mode delete --topic bench-warmup" >>"$CMDS"
for r in $(seq 1 "$REPEAT"); do
    for acks in 1 all; do
        # A producer run and the consumer run reading it back form one attempt; an attempt during
        # which other programs used the CPU is repeated (up to BENCH_RETRIES times) on a new topic.
        for attempt in $(seq 0 "$RETRIES"); do
            topic=bench-acks$acks-r$r-a$attempt
            args=(--mode produce --topic "$topic" --acks "$acks" "${COMMON[@]}"
                --duration-secs "$DURATION" --max-bytes "$MAX_BYTES")
            run_once "produce-acks$acks" "${args[@]}"
            p_noisy=0; noisy && p_noisy=1
            run_once "consume-acks$acks" --mode consume --topic "$topic"
            c_noisy=0; noisy && c_noisy=1
            "$BENCH_BIN" --brokers "$BROKERS" --mode delete --topic "$topic" >/dev/null
            if [ $p_noisy = 0 ] && [ $c_noisy = 0 ]; then break; fi
            if [ "$attempt" -lt "$RETRIES" ]; then
                log "other programs used the CPU during this attempt; repeating it"
                discard_last; discard_last
            else
                log "still noisy after $RETRIES retries; keeping this attempt"
            fi
        done
        printf '%s\n' "bench --brokers \$BROKERS ${args[*]}" "bench --brokers \$BROKERS --mode consume --topic $topic" \
            "bench --brokers \$BROKERS --mode delete --topic $topic" >>"$CMDS"
    done
done
for attempt in $(seq 0 "$RETRIES"); do
    args=(--mode latency --topic "bench-latency-a$attempt" --acks all --rate "$LAT_RATE"
        --linger-ms "$LAT_LINGER" --duration-secs "$LAT_SECS" --warmup-secs 1 "${COMMON[@]}"
        --latency-dump "$WORK/latency.txt")
    run_once latency "${args[@]}"
    noisy || break
    if [ "$attempt" -lt "$RETRIES" ]; then
        log "other programs used the CPU during the latency run; repeating it"
        discard_last
    fi
done
printf '%s\n' "bench --brokers \$BROKERS ${args[*]}" >>"$CMDS"

# Consumer groups: a second broker with group.initial.rebalance.delay.ms=0 (so the figure is
# the coordinator's own time, not the configured delay), a 10-member group joining to Stable,
# and OffsetCommit throughput of one pipelining client.
GDATA=$WORK/gdata
rm -rf "$GDATA"
GPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BROKER_BIN" --listen "127.0.0.1:$GPORT" --data-dir "$GDATA" --metrics-listen off --set group.initial.rebalance.delay.ms=0 2>"$WORK/gbroker.log" &
GPID=$!
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$GPORT") 2>/dev/null && break; sleep 0.1; done
GROUPS_OUT=$WORK/groups.jsonl
: >"$GROUPS_OUT"
# The rebalance run races by design: a member whose JoinGroup lands after the join phase has
# completed starts a new generation, and the others' SyncGroup gets REBALANCE_IN_PROGRESS, which
# group_bench treats as a failure. On a busy machine that happens now and then; try again.
for try in 1 2 3; do
    if "$WORK/group_bench" --brokers "127.0.0.1:$GPORT" --mode rebalance --members 10 --rounds 9 >"$WORK/rebalance.json"; then
        cat "$WORK/rebalance.json" >>"$GROUPS_OUT"
        break
    fi
    [ "$try" = 3 ] && { echo "bench: group_bench --mode rebalance failed 3 times" >&2; exit 1; }
    log "group_bench --mode rebalance failed (a late JoinGroup started a new generation); again"
done
"$WORK/group_bench" --brokers "127.0.0.1:$GPORT" --mode commit --seconds 10 --pipeline 16 --partitions 1 >>"$GROUPS_OUT"
"$WORK/group_bench" --brokers "127.0.0.1:$GPORT" --mode commit --seconds 10 --pipeline 16 --partitions 6 >>"$GROUPS_OUT"
# Transactions (same broker): 100-record transactions back to back, one producer and four;
# an idempotent acks=all producer for comparison with the plain acks=all figure.
TXN_OUT=$WORK/txn.jsonl
: >"$TXN_OUT"
"$WORK/txn_bench" --brokers "127.0.0.1:$GPORT" --mode txn --seconds 15 --producers 1 --txn-records 100 >>"$TXN_OUT"
"$WORK/txn_bench" --brokers "127.0.0.1:$GPORT" --mode txn --seconds 15 --producers 4 --txn-records 100 >>"$TXN_OUT"
"$WORK/txn_bench" --brokers "127.0.0.1:$GPORT" --mode idempotent --seconds 15 >>"$TXN_OUT"
cat "$TXN_OUT" >&2
kill "$GPID" 2>/dev/null || true
wait "$GPID" 2>/dev/null || true
GPID=
cat "$GROUPS_OUT" >&2
# Three brokers (bench/cluster.sh, with the binaries copied above). The single-node broker is
# idle by now; stop it so that it takes nothing from the cluster's runs. A failing cluster part
# leaves the single-node report as it was.
CLUSTER_ARGS=()
if [ "$CLUSTER" = 1 ]; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=
    log "three-broker part: bench/cluster.sh"
    rm -f "$WORK/cluster/results.jsonl"
    if BENCH_CLUSTER_EMBEDDED=1 bench/cluster.sh; then
        CLUSTER_ARGS=(--cluster-results "$WORK/cluster/results.jsonl" --cluster-commands "$WORK/cluster/commands.txt"
            --cluster-elapsed "$(cat "$WORK/cluster/elapsed")")
    else
        log "bench/cluster.sh failed; reporting the single-node figures only"
    fi
fi
T_END=$(date +%s)
log "benchmark runs done in $((T_END - T_START)) s"
if [ "$REPORT" = 1 ]; then
    python3 - "$GROUPS_OUT" docs/PERFORMANCE.md "127.0.0.1:$GPORT" <<'PY'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reb = next(r for r in rows if r["mode"] == "rebalance")
c1 = next(r for r in rows if r["mode"] == "commit" and r["partitions_per_request"] == 1)
c6 = next(r for r in rows if r["mode"] == "commit" and r["partitions_per_request"] == 6)
block = f"""<!-- bench:groups:begin -->
Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; broker with `--set group.initial.rebalance.delay.ms=0`.

| Figure | Result |
|---|---|
| 10-member group, first JoinGroup to the last SyncGroup answer (Stable), median of {reb['rounds']} fresh groups | {reb['median_ms']:.1f} ms [{reb['min_ms']:.1f}–{reb['max_ms']:.1f}] |
| OffsetCommit, 1 partition per request, 16 in flight | {c1['commits_per_s']:,.0f} requests/s |
| OffsetCommit, 6 partitions per request, 16 in flight | {c6['commits_per_s']:,.0f} requests/s ({c6['partition_commits_per_s']:,.0f} partition commits/s) |

Commands: `group_bench --brokers $B --mode rebalance --members 10 --rounds 9`,
`group_bench --brokers $B --mode commit --seconds 10 --pipeline 16 --partitions 1` (and `6`).
With the default `group.initial.rebalance.delay.ms=3000` a new group's first rebalance takes that
long by design.
<!-- bench:groups:end -->"""
doc = open(sys.argv[2]).read()
b, e = "<!-- bench:groups:begin -->", "<!-- bench:groups:end -->"
if b in doc and e in doc:
    doc = doc[:doc.index(b)] + block + doc[doc.index(e) + len(e):]
else:
    doc = doc.rstrip() + "\n\n## Consumer groups\n\n" + block + "\n"
open(sys.argv[2], "w").write(doc)
PY
    python3 - "$TXN_OUT" docs/PERFORMANCE.md <<'PY'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t1 = next(r for r in rows if r["mode"] == "txn" and r["producers"] == 1)
t4 = next(r for r in rows if r["mode"] == "txn" and r["producers"] == 4)
idem = next(r for r in rows if r["mode"] == "idempotent")
block = f"""<!-- bench:txn:begin -->
Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; librdkafka via the rdkafka crate, 1 KiB records, 6 partitions, linger 5 ms.

| Figure | Result |
|---|---|
| Transactional producer, 100-record transactions back to back, 1 producer | {t1['records_per_s']:,.0f} records/s ({t1['txn_per_s']:,.0f} transactions/s; commit p50 {t1['commit_p50_ms']:.1f} ms, p99 {t1['commit_p99_ms']:.1f} ms) |
| Same, 4 producers (own transactional ids) | {t4['records_per_s']:,.0f} records/s ({t4['txn_per_s']:,.0f} transactions/s; commit p50 {t4['commit_p50_ms']:.1f} ms, p99 {t4['commit_p99_ms']:.1f} ms) |
| Idempotent producer (enable.idempotence, acks=all) | {idem['records_per_s']:,.0f} records/s ({idem['mb_per_s']:,.0f} MB/s) |

Commands: `txn_bench --brokers $B --mode txn --seconds 15 --producers 1 --txn-records 100` (and
`--producers 4`), `txn_bench --brokers $B --mode idempotent --seconds 15`. A commit is answered once
PrepareCommit is persisted; the markers (one control batch per partition, fsynced) follow.
<!-- bench:txn:end -->"""
doc = open(sys.argv[2]).read()
b, e = "<!-- bench:txn:begin -->", "<!-- bench:txn:end -->"
if b in doc and e in doc:
    doc = doc[:doc.index(b)] + block + doc[doc.index(e) + len(e):]
else:
    doc = doc.rstrip() + "\n\n## Transactions\n\n" + block + "\n"
open(sys.argv[2], "w").write(doc)
PY
    python3 bench/report.py --results "$RESULTS" --commands "$CMDS" --data-dir "$DATA" "${CLUSTER_ARGS[@]}" \
        --probe "$WORK/probe.json" --note "${BENCH_NOTE:-}" --history bench/history.tsv --doc docs/PERFORMANCE.md --elapsed "$((T_END - T_START))"
else
    python3 bench/report.py --results "$RESULTS" --commands "$CMDS" --data-dir "$DATA" "${CLUSTER_ARGS[@]}" --summary-only
fi
