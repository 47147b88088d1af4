#!/usr/bin/env bash
# The three-broker part of the skua benchmark. bench/run.sh (`make bench`) runs it after the
# single-node figures; it also runs alone (`bench/cluster.sh`), then it builds (unless told not
# to), and updates docs/PERFORMANCE.md and bench/history.tsv itself.
#
# On this machine (loopback, one data dir per node under bench/.work/cluster/, real disk) it
# starts three combined broker+controller nodes exactly as docs/operations.md says:
#   skua serve --node-id N --listen 127.0.0.1:P --controller-listen 127.0.0.1:C --data-dir D \
#       --metrics-listen off --set controller.quorum.voters=1@127.0.0.1:C1,2@...,3@...
# and measures, with the same load generator (examples/bench.rs, librdkafka) and the same record
# size and partition count as the single-node run:
#   1. throughput: topics with replication factor 3 and min.insync.replicas=2 (created with
#      `skua topic create`), one unmeasured warm-up, then BENCH_CLUSTER_REPEAT times
#      produce acks=all -> consume that topic back (from the leaders) -> delete it,
#      then one latency run (acks=all, fixed rate, linger.ms=0), as the single-node run does;
#   2. failover, with the default broker.session.timeout.ms / broker.heartbeat.interval.ms and
#      then on a fresh cluster with `--set broker.session.timeout.ms=3000 --set
#      broker.heartbeat.interval.ms=500`: a one-partition topic (RF 3, min ISR 2), a producer
#      writing acks=all at BENCH_FAILOVER_RATE records/s, `kill -9` of the partition's leader, and
#      the time from the last acknowledgement before the kill to the first acknowledgement after
#      it (every acknowledgement after the kill comes through the new leader: the old one is
#      dead). BENCH_FAILOVER_REPEAT kills of a leader that is not the active controller, then
#      BENCH_FAILOVER_CONTROLLER_REPEAT of one that is. The killed node is restarted and the next
#      kill waits until it is back in every ISR.
# Every process it starts is stopped by its pid (SIGTERM, then SIGKILL after 15 s) on exit.
#
# Knobs (environment), shared with run.sh: BENCH_MAX_BYTES (2G), BENCH_DURATION (20),
# BENCH_RECORD_SIZE (1024), BENCH_PARTITIONS (6), BENCH_LAT_SECS (30), BENCH_LAT_RATE (1000),
# BENCH_LAT_LINGER (0), BENCH_QUIET_WAIT (120), BENCH_MAX_OTHER (0.3), BENCH_RETRIES (2),
# BENCH_REPORT (1), BENCH_KEEP (0), BENCH_NO_BUILD (0), BENCH_BIN_DIR, BENCH_NOTE; and
#   BENCH_CLUSTER_REPEAT    default 3: produce/consume pairs on the cluster
#   BENCH_FAILOVER_REPEAT   default 3: kills per session-timeout setting of a leader that is not
#                           the active controller
#   BENCH_FAILOVER_CONTROLLER_REPEAT  default 1: kills per setting of a leader that is also the
#                           active controller (a Raft election comes first)
#   BENCH_FAILOVER_RATE     default 1000: records/s of the producer during a failover
#   BENCH_FAILOVER_PRE      default 3: seconds of producing before the kill
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/.work
CWORK=$WORK/cluster
MAX_BYTES=${BENCH_MAX_BYTES:-2G}
DURATION=${BENCH_DURATION:-20}
RECORD_SIZE=${BENCH_RECORD_SIZE:-1024}
PARTITIONS=${BENCH_PARTITIONS:-6}
LAT_SECS=${BENCH_LAT_SECS:-30}
LAT_RATE=${BENCH_LAT_RATE:-1000}
LAT_LINGER=${BENCH_LAT_LINGER:-0}
QUIET_WAIT=${BENCH_QUIET_WAIT:-120}
RETRIES=${BENCH_RETRIES:-2}
MAX_OTHER=${BENCH_MAX_OTHER:-0.3}
REPORT=${BENCH_REPORT:-1}
KEEP=${BENCH_KEEP:-0}
NO_BUILD=${BENCH_NO_BUILD:-0}
REPEAT=${BENCH_CLUSTER_REPEAT:-3}
FO_REPEAT=${BENCH_FAILOVER_REPEAT:-3}
FO_CTRL_REPEAT=${BENCH_FAILOVER_CONTROLLER_REPEAT:-1}
FO_RATE=${BENCH_FAILOVER_RATE:-1000}
FO_PRE=${BENCH_FAILOVER_PRE:-3}
# Set by run.sh: it has built and copied the binaries to $WORK and writes the report itself.
EMBEDDED=${BENCH_CLUSTER_EMBEDDED:-0}
FAST_SETTINGS=(--set broker.session.timeout.ms=3000 --set broker.heartbeat.interval.ms=500)

T_START=$(date +%s)
log() { echo "[cluster $(date +%H:%M:%S)] $*" >&2; }

mkdir -p "$CWORK"
if [ "$EMBEDDED" = 1 ]; then
    SKUA=$WORK/skua
    BENCH=$WORK/bench
else
    BIN_DIR=${BENCH_BIN_DIR:-target/release}
    if [ "$NO_BUILD" != 1 ] && [ -z "${BENCH_BIN_DIR:-}" ]; then
        log "cargo build --release"
        cargo build --release
        log "cargo build --release --example bench"
        cargo build --release --example bench
    fi
    # Private copies: others may rebuild target/ while the benchmark runs.
    cp "$BIN_DIR/skua" "$CWORK/skua"
    cp "$BIN_DIR/examples/bench" "$CWORK/bench"
    SKUA=$CWORK/skua
    BENCH=$CWORK/bench
fi

for n in 1 2 3; do rm -rf "$CWORK/data$n"; done
FSTYPE=$(stat -f -c %T "$CWORK")
case "$FSTYPE" in
    tmpfs|ramfs) echo "cluster: $CWORK is on $FSTYPE; the benchmark must write to a real disk" >&2; exit 1 ;;
esac
# Three replicas of one run's data are on disk at a time (each topic is deleted after read-back).
NEED_MB=$(python3 -c 'import re, sys
m = re.fullmatch(r"([0-9.]+)([kMG]?)", sys.argv[1])
if not m: sys.exit("bad BENCH_MAX_BYTES " + sys.argv[1])
b = float(m[1]) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m[2]]
print(int(3 * b * 1.1 / 1e6) + 2048)' "$MAX_BYTES")
AVAIL_MB=$(df -Pm "$CWORK" | awk 'NR == 2 { print $4 }')
if [ "$AVAIL_MB" -lt "$NEED_MB" ]; then
    echo "cluster: $CWORK has ${AVAIL_MB} MB free; this run needs about ${NEED_MB} MB" >&2
    exit 1
fi

read -r -a FREE < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
declare -A PORT CPORT PID
for n in 1 2 3; do PORT[$n]=${FREE[$((n - 1))]}; CPORT[$n]=${FREE[$((n + 2))]}; PID[$n]=; done
VOTERS="1@127.0.0.1:${CPORT[1]},2@127.0.0.1:${CPORT[2]},3@127.0.0.1:${CPORT[3]}"
BOOT="127.0.0.1:${PORT[1]},127.0.0.1:${PORT[2]},127.0.0.1:${PORT[3]}"
EXTRA=()
LOGTAG=default
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)

RESULTS=$CWORK/results.jsonl
: >"$RESULTS"
CMDS=$CWORK/commands.txt
: >"$CMDS"
# What the report prints as the commands; $C1..$C3 / $B1..$B3 stand for the ports used.
cmd() {
    local c="$*" n a b
    for n in 1 2 3; do
        a=127.0.0.1:${CPORT[$n]}; b="\$C$n"; c=${c//"$a"/"$b"}
        a=127.0.0.1:${PORT[$n]}; b="\$B$n"; c=${c//"$a"/"$b"}
    done
    a=target/release/examples/bench; c=${c//"$BENCH"/"$a"}
    a=skua; c=${c//"$SKUA"/"$a"}
    a=$ROOT/; c=${c//"$a"/}
    echo "$c" >>"$CMDS"
}

node_alive() { [ -n "${PID[$1]}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }

# start_node N [restart]: start node N; a restart is listed with the commands as such.
start_node() {
    local n=$1
    local args=(serve --node-id "$n" --listen "127.0.0.1:${PORT[$n]}" --controller-listen "127.0.0.1:${CPORT[$n]}"
        --data-dir "$CWORK/data$n" --metrics-listen off --set "controller.quorum.voters=$VOTERS" "${EXTRA[@]}")
    "$SKUA" "${args[@]}" >>"$CWORK/$LOGTAG-node$n.log" 2>&1 &
    PID[$n]=$!
    if [ "${2:-}" = restart ]; then
        cmd "skua serve ...   # the killed node again, with its own command line from above"
    else
        cmd "$SKUA ${args[*]}"
    fi
    local i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$n]}") 2>/dev/null; then return 0; fi
        node_alive "$n" || { tail -n 20 "$CWORK/$LOGTAG-node$n.log" >&2; echo "cluster: node $n exited" >&2; exit 1; }
        sleep 0.1
    done
    echo "cluster: node $n did not listen on ${PORT[$n]}" >&2
    exit 1
}

# stop_node N: SIGTERM (a controlled shutdown), SIGKILL if it is still there after 15 s.
stop_node() {
    local n=$1 p=${PID[$1]} i
    [ -n "$p" ] || return 0
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null || true
        for i in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
    PID[$n]=
}

stop_all() { local n; for n in 1 2 3; do stop_node "$n"; done; }

BENCH_PIDS=()
cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    stop_all
    if [ "$KEEP" != 1 ]; then for n in 1 2 3; do rm -rf "$CWORK/data$n"; done; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

all_alive() {
    local n
    for n in 1 2 3; do
        if ! node_alive "$n"; then
            echo "cluster: node $n (pid ${PID[$n]}) is gone; last lines of $CWORK/$LOGTAG-node$n.log:" >&2
            tail -n 20 "$CWORK/$LOGTAG-node$n.log" >&2
            exit 1
        fi
    done
}

# An address of a running node (the CLI talks to one broker).
any_addr() { local n; for n in 1 2 3; do node_alive "$n" && { echo "127.0.0.1:${PORT[$n]}"; return; }; done; }

describe_cluster() { timeout 10 "$SKUA" cluster describe -b "$(any_addr)" 2>/dev/null || true; }
describe_topic() { timeout 10 "$SKUA" topic describe "$1" -b "${2:-$(any_addr)}" 2>/dev/null || true; }
controller_id() { describe_cluster | awk '/^controller:/ { print $2 }'; }
# leader_of TOPIC PARTITION [ADDR]
leader_of() { describe_topic "$1" "${3:-}" | awk -v p="$2" '$1 == p && NF >= 4 { print $2 }'; }

# wait_healthy [SECONDS]: three active brokers, nothing under-replicated or offline.
wait_healthy() {
    local deadline=$(( $(date +%s) + ${1:-120} )) out
    while :; do
        all_alive
        out=$(describe_cluster)
        if [ "$(awk '$NF == "active"' <<<"$out" | wc -l)" = 3 ] \
            && grep -q '^under-replicated partitions: 0$' <<<"$out" \
            && grep -q '^offline partitions: 0$' <<<"$out"; then
            return 0
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "cluster: not healthy after ${1:-120} s:" >&2
            echo "$out" >&2
            exit 1
        fi
        sleep 0.5
    done
}

# create_topic NAME PARTITIONS: replication factor 3, min.insync.replicas=2; waits until every
# partition has a leader and three in-sync replicas.
create_topic() {
    local args=(topic create "$1" -b "$(any_addr)" --partitions "$2" --replication-factor 3
        --config min.insync.replicas=2)
    timeout 30 "$SKUA" "${args[@]}" >/dev/null
    cmd "$SKUA ${args[*]}"
    local i full
    for i in $(seq 1 200); do
        full=$(describe_topic "$1" | awk '$1 ~ /^[0-9]+$/ && NF >= 4 && $2 > 0 && split($4, a, ",") == 3' | wc -l)
        [ "$full" = "$2" ] && return 0
        sleep 0.1
    done
    echo "cluster: topic $1 has no leader and full ISR on every partition:" >&2
    describe_topic "$1" >&2
    exit 1
}

delete_topic() {
    "$BENCH" --brokers "$BOOT" --mode delete --topic "$1" >/dev/null
    cmd "$BENCH --brokers $BOOT --mode delete --topic $1"
}

cluster_ticks() {
    local t=0 n v
    for n in 1 2 3; do
        v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/${PID[$n]}/stat")
        t=$((t + v))
    done
    echo "$t"
}
cpu_jiffies() { awk '/^cpu /{ print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }

# Same as run.sh: wait (up to BENCH_QUIET_WAIT s) until others use less than 0.3 cores.
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
        if [ $(( ($(date +%s) / 2) % 5 )) = 0 ]; then log "waiting for other load to settle ($busy cores busy)"; fi
    done
}

# run_once LABEL ARGS...: as run.sh's, with the CPU of all three brokers.
run_once() {
    local label=$1; shift
    wait_quiet
    sync
    all_alive
    local bt0 bt1 b0 t0 b1 t1 out json
    bt0=$(cluster_ticks)
    read -r b0 t0 < <(cpu_jiffies)
    log "bench $label: $*"
    out=$("$BENCH" --brokers "$BOOT" --label "$label" "$@") || { echo "$out" >&2; all_alive; exit 1; }
    read -r b1 t1 < <(cpu_jiffies)
    all_alive
    bt1=$(cluster_ticks)
    echo "$out" | grep -v '^{"bench":' >&2
    json=$(echo "$out" | grep '^{"bench":' | tail -n1)
    [ -n "$json" ] || { echo "cluster: no JSON line from $label" >&2; exit 1; }
    python3 - "$json" "$((bt1 - bt0))" "$CLK_TCK" "$((b1 - b0))" "$((t1 - t0))" "$NPROC" >>"$RESULTS" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
ticks, hz, busy, total, nproc = (int(x) for x in sys.argv[2:7])
r["brokers"] = 3
r["broker_cpu_s"] = round(ticks / hz, 3)
gb = r.get("bytes", 0) / 1e9
if r["mode"] != "consume" and gb > 0:
    r["broker_cpu_s_per_gb"] = round(r["broker_cpu_s"] / gb, 4)
wall = total / hz / nproc
r["wall_s"] = round(wall, 3)
other = busy / hz - r["broker_cpu_s"] - r.get("client_total_cpu_s", r.get("client_cpu_s", 0))
r["other_cores"] = round(max(other, 0) / wall, 3) if wall > 0 else 0
print(json.dumps(r))
PY
    LAST_OTHER=$(tail -n1 "$RESULTS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["other_cores"])')
    tail -n1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  brokers CPU %.2f s%s, other load %.2f cores" % (r["broker_cpu_s"], (", %.3f s/GB" % r["broker_cpu_s_per_gb"]) if "broker_cpu_s_per_gb" in r else "", r["other_cores"]))' >&2
}
noisy() { awk -v x="$LAST_OTHER" -v m="$MAX_OTHER" 'BEGIN{ exit !(x > m) }'; }
discard_last() { sed -i '$d' "$RESULTS"; }

# start_cluster TAG: fresh data dirs, logs in $CWORK/TAG-nodeN.log.
start_cluster() {
    local n
    LOGTAG=$1
    for n in 1 2 3; do rm -rf "$CWORK/data$n"; : >"$CWORK/$LOGTAG-node$n.log"; done
    log "starting three nodes (brokers $BOOT, voters $VOTERS) ${EXTRA[*]}"
    for n in 1 2 3; do start_node "$n"; done
    wait_healthy 120
    log "cluster formed: controller $(controller_id)"
}

# ---- 1. throughput and latency (default settings) ----
COMMON=(--record-size "$RECORD_SIZE" --partitions "$PARTITIONS" --compression none)
start_cluster default
wait_quiet
log "warm-up: produce $MAX_BYTES (acks=all) to bench-cluster-warmup and delete it"
create_topic bench-cluster-warmup "$PARTITIONS"
"$BENCH" --brokers "$BOOT" --mode produce --topic bench-cluster-warmup --no-create --acks all "${COMMON[@]}" \
    --duration-secs "$DURATION" --max-bytes "$MAX_BYTES" >/dev/null
cmd "$BENCH --brokers $BOOT --mode produce --topic bench-cluster-warmup --no-create --acks all ${COMMON[*]} --duration-secs $DURATION --max-bytes $MAX_BYTES"
delete_topic bench-cluster-warmup
for r in $(seq 1 "$REPEAT"); do
    for attempt in $(seq 0 "$RETRIES"); do
        topic=bench-cluster-acksall-r$r-a$attempt
        wait_healthy
        create_topic "$topic" "$PARTITIONS"
        args=(--mode produce --topic "$topic" --no-create --acks all "${COMMON[@]}"
            --duration-secs "$DURATION" --max-bytes "$MAX_BYTES")
        run_once cluster-produce-acksall "${args[@]}"
        p_noisy=0; noisy && p_noisy=1
        run_once cluster-consume --mode consume --topic "$topic"
        c_noisy=0; noisy && c_noisy=1
        cmd "$BENCH --brokers $BOOT ${args[*]}"
        cmd "$BENCH --brokers $BOOT --mode consume --topic $topic"
        delete_topic "$topic"
        if [ $p_noisy = 0 ] && [ $c_noisy = 0 ]; then break; fi
        if [ "$attempt" -lt "$RETRIES" ]; then
            log "other programs used the CPU during this attempt; repeating it"
            discard_last; discard_last
        else
            log "still noisy after $RETRIES retries; keeping this attempt"
        fi
    done
done
for attempt in $(seq 0 "$RETRIES"); do
    topic=bench-cluster-latency-a$attempt
    wait_healthy
    create_topic "$topic" "$PARTITIONS"
    args=(--mode latency --topic "$topic" --no-create --acks all --rate "$LAT_RATE"
        --linger-ms "$LAT_LINGER" --duration-secs "$LAT_SECS" --warmup-secs 1 "${COMMON[@]}"
        --latency-dump "$CWORK/latency.txt")
    run_once cluster-latency "${args[@]}"
    cmd "$BENCH --brokers $BOOT ${args[*]}"
    delete_topic "$topic"
    noisy || break
    if [ "$attempt" -lt "$RETRIES" ]; then
        log "other programs used the CPU during the latency run; repeating it"
        discard_last
    fi
done

# ---- 2. failover ----
# failover_rep SETTING SESSION_MS CASE REP: CASE "broker" kills a leader that is not the active
# controller, "controller" one that is (then the quorum elects a controller first). Placement
# picks the leader, so topics are created (and deleted) until one's leader fits, up to 8 times.
failover_rep() {
    local setting=$1 session_ms=$2 case=$3 rep=$4
    local topic dump=$CWORK/failover-$setting-$case-r$rep.txt out=$CWORK/failover-$setting-$case-r$rep.out
    local try leader ctrl
    for try in $(seq 1 8); do
        topic=bench-failover-$setting-$case-r$rep-a$try
        wait_healthy
        create_topic "$topic" 1
        leader=$(leader_of "$topic" 0)
        ctrl=$(controller_id)
        if { [ "$case" = controller ] && [ "$leader" = "$ctrl" ]; } \
            || { [ "$case" = broker ] && [ "$leader" != "$ctrl" ]; }; then
            break
        fi
        [ "$try" = 8 ] && { log "no topic with a fitting leader after 8 tries; killing leader $leader anyway"; break; }
        # Not a step of the measurement: not listed with the commands.
        "$BENCH" --brokers "$BOOT" --mode delete --topic "$topic" >/dev/null
    done
    local dur=$(( FO_PRE + session_ms / 1000 + 15 ))
    local args=(--mode latency --topic "$topic" --no-create --acks all --rate "$FO_RATE" --linger-ms 0
        --duration-secs "$dur" --warmup-secs 0 --record-size "$RECORD_SIZE" --partitions 1
        --label "failover-$setting-$case" --latency-dump "$dump")
    cmd "$BENCH --brokers $BOOT ${args[*]} &"
    local t_launch
    t_launch=$(date +%s%N)
    "$BENCH" --brokers "$BOOT" "${args[@]}" >"$out" 2>&1 &
    local bp=$!
    BENCH_PIDS=("$bp")
    sleep "$FO_PRE"
    leader=$(leader_of "$topic" 0)
    ctrl=$(controller_id)
    if ! [[ "$leader" =~ ^[123]$ ]]; then
        echo "cluster: no leader for $topic before the kill ($leader)" >&2
        exit 1
    fi
    local t_kill
    t_kill=$(date +%s%N)
    kill -KILL "${PID[$leader]}"
    wait "${PID[$leader]}" 2>/dev/null || true
    PID[$leader]=
    log "failover $setting/$case #$rep: killed node $leader (leader of $topic-0; active controller was $ctrl)"
    cmd "kill -9 <pid of the leader of $topic partition 0>   # after $FO_PRE s of producing"
    # Watch Metadata (from a surviving broker) for the new leader; the client's first
    # acknowledgement through it is the figure, this is its controller-side part.
    local meta_ms=null l n
    for n in 1 2 3; do node_alive "$n" && break; done
    while node_alive "$n" && kill -0 "$bp" 2>/dev/null; do
        l=$(leader_of "$topic" 0 "127.0.0.1:${PORT[$n]}")
        if [[ "$l" =~ ^[123]$ ]] && [ "$l" != "$leader" ]; then
            meta_ms=$(( ($(date +%s%N) - t_kill) / 1000000 ))
            break
        fi
        sleep 0.1
    done
    local rc=0
    wait "$bp" || rc=$?
    BENCH_PIDS=()
    local new_leader
    new_leader=$(leader_of "$topic" 0)
    log "restarting node $leader"
    local t_restart
    t_restart=$(date +%s%N)
    start_node "$leader" restart
    wait_healthy
    local rejoin_ms=$(( ($(date +%s%N) - t_restart) / 1000000 ))
    python3 - "$dump" "$out" "$setting" "$case" "$session_ms" "$rep" "$leader" "$ctrl" "${new_leader:-?}" "$meta_ms" \
        "$rejoin_ms" "$rc" "$(( (t_kill - t_launch) / 1000 ))" "$FO_RATE" "${EXTRA[*]}" >>"$RESULTS" <<'PY'
import json, sys
(dump, out, setting, case, session_ms, rep, killed, ctrl, new_leader, meta_ms, rejoin_ms, rc,
 kill_us, rate, extra) = sys.argv[1:16]
r = {"bench": "skua", "mode": "failover", "label": "failover-" + setting, "setting": setting,
     "case": case,
     "settings": extra, "session_timeout_ms": int(session_ms), "rep": int(rep),
     "killed": int(killed), "killed_was_controller": killed == ctrl, "controller_before": ctrl,
     "new_leader": new_leader, "metadata_new_leader_ms": None if meta_ms == "null" else int(meta_ms),
     "rejoin_ms": int(rejoin_ms), "exit_code": int(rc), "rate": float(rate),
     "kill_after_launch_s": round(int(kill_us) / 1e6, 3)}
for line in open(out):
    if line.startswith('{"bench":'):
        j = json.loads(line)
        r.update({k: j[k] for k in ("records", "errors", "librdkafka")})
rows = []
try:
    rows = [tuple(int(x) for x in l.split()) for l in open(dump) if l.strip()]
except OSError:
    pass
acks = sorted(s + l for s, l in rows)  # µs since the producer started
if len(acks) > 2:
    i = max(range(len(acks) - 1), key=lambda k: acks[k + 1] - acks[k])
    before, after = acks[i], acks[i + 1]
    pre_lat = sorted(l for s, l in rows if s + l <= before and s >= 1e6)
    # The producer's clock starts a little after its process was launched, so the kill is at
    # most kill_us on that clock, and at least `before` (the broker sent that acknowledgement):
    # the figure (from `before`) is an upper bound, `failover_lower_ms` a lower one.
    r.update({
        "failover_ms": round((after - before) / 1000, 1),
        "failover_lower_ms": round((after - int(kill_us)) / 1000, 1),
        "last_ack_before_kill_s": round(before / 1e6, 3),
        "lat_p50_before_ms": round(pre_lat[len(pre_lat) // 2] / 1000, 2) if pre_lat else None,
        "lat_p99_before_ms": round(pre_lat[int(len(pre_lat) * 0.99)] / 1000, 2) if pre_lat else None,
        "records_acked_after": len(acks) - i - 1,
    })
r["ok"] = r["exit_code"] == 0 and r.get("errors", 1) == 0 and "failover_ms" in r \
    and r["new_leader"] != killed and 0 <= r["kill_after_launch_s"] - r["last_ack_before_kill_s"] < 1
print(json.dumps(r))
PY
    tail -n1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  failover %s ms (Metadata showed leader %s after %s ms), %s records, %s errors, node back in every ISR %.1f s after its restart%s" % (r.get("failover_ms"), r["new_leader"], r["metadata_new_leader_ms"], r.get("records"), r.get("errors"), r["rejoin_ms"] / 1000, "" if r["ok"] else " -- NOT OK, see " + sys.argv[1]))' "$out" >&2
    delete_topic "$topic"
}

cmd "# failover, default settings (the cluster above); one-partition topics are created until the leader is (or is not) the active controller"
for r in $(seq 1 "$FO_REPEAT"); do failover_rep default 9000 broker "$r"; done
for r in $(seq 1 "$FO_CTRL_REPEAT"); do failover_rep default 9000 controller "$r"; done

log "restarting the cluster with ${FAST_SETTINGS[*]}"
stop_all
EXTRA=("${FAST_SETTINGS[@]}")
cmd "# failover, fast settings: a fresh cluster, each node started with ${FAST_SETTINGS[*]}"
start_cluster fast
for r in $(seq 1 "$FO_REPEAT"); do failover_rep fast 3000 broker "$r"; done
for r in $(seq 1 "$FO_CTRL_REPEAT"); do failover_rep fast 3000 controller "$r"; done
stop_all

T_END=$(date +%s)
log "cluster runs done in $((T_END - T_START)) s"
echo "$((T_END - T_START))" >"$CWORK/elapsed"
if [ "$EMBEDDED" != 1 ]; then
    if [ "$REPORT" = 1 ]; then
        python3 bench/report.py --cluster-results "$RESULTS" --cluster-commands "$CMDS" \
            --cluster-elapsed "$((T_END - T_START))" --data-dir "$CWORK" --note "${BENCH_NOTE:-}" \
            --history bench/history.tsv --doc docs/PERFORMANCE.md
    else
        python3 bench/report.py --cluster-results "$RESULTS" --data-dir "$CWORK" --summary-only
    fi
fi
