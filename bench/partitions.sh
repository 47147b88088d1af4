#!/usr/bin/env bash
# The many-partitions benchmark (`make bench-partitions`): for each N in BENCH_PARTITION_COUNTS,
# a fresh broker on a fresh data dir under bench/.work/partitions/ (real disk), driven by
# examples/partitions_bench.rs (librdkafka), measures what grows with the partition count:
#
#   1. start-up of the empty broker; RSS and open fds of the empty broker
#   2. CreateTopics of N partitions as N/BENCH_PPT topics (default 100 partitions each),
#      BENCH_CREATE_BATCH NewTopics per request (AdminClient batches), until Metadata shows
#      every partition led; the topics are `cleanup.policy=compact,delete` with
#      `segment.ms=BENCH_SEGMENT_MS`, so that the cleaner pass below has work
#   3. RSS, open fds (/proc/<pid>/fd) and idle CPU of the broker with N partitions
#   4. Metadata for all topics: librdkafka fetch_metadata(None) (median of 5) and one raw
#      request (time and response size); one /metrics scrape (time and size)
#   5. produce BENCH_PARTITION_BYTES (default 200M) round robin over all N partitions (keyed,
#      1 KiB records), acks=1, and consume it back; then the same with acks=all (the consumer
#      reads everything from the beginning: both runs' records); then both runs' records again
#      assigned at offset 0 (no per-partition ListOffsets lookups by librdkafka), and once more
#      with raw Fetch v12 requests in a fetch session (the broker's fetch path without librdkafka)
#   6. idle CPU with data; SIGTERM (time to exit); start-up until a Metadata answer lists every
#      partition led; `kill -9`; start-up again (recovery), now with
#      log.retention.check.interval.ms and log.cleaner.backoff.ms = BENCH_MAINT_INTERVAL_MS
#   7. maintenance: BENCH_MAINT_SECS seconds of broker CPU with retention and cleaner sweeps
#      every BENCH_MAINT_INTERVAL_MS (segments roll by segment.ms and are compacted): the
#      cleaner's "cleaned log" lines (count, first to last), and the CPU per sweep pair in the
#      last third of the window (scans only) minus the idle CPU
#   8. CreateTopics of one topic of min(BENCH_BIG_TOPIC, N) partitions on top, then
#      DeleteTopics of it
#
# Every step has a timeout; a step that fails or times out is reported with its name and the
# broker log's tail, the rest of that N is skipped, and the script exits non-zero at the end.
# The broker runs with `ulimit -n` at the hard limit, or at BENCH_NOFILE.
#
# Knobs (environment):
#   BENCH_PARTITION_COUNTS  default "1000 10000 100000"
#   BENCH_PPT               default 100: partitions per topic
#   BENCH_CREATE_BATCH      default 50: topics per CreateTopics request
#   BENCH_BIG_TOPIC         default 5000: partitions of the single big topic (capped at N;
#                           as in Kafka, one request may write at most 10,000 metadata records,
#                           so a topic of 10,000 partitions and configs is refused with
#                           POLICY_VIOLATION)
#   BENCH_PARTITION_BYTES   default 200M   BENCH_RECORD_SIZE default 1024
#   BENCH_NOFILE            default: the hard limit (`ulimit -Hn`)
#   BENCH_NOFILE_AT, BENCH_BYTES_AT  per-N overrides of BENCH_NOFILE and BENCH_PARTITION_BYTES,
#                           e.g. "1000=1024 10000=1024" (the issue's `ulimit -n 1024` for 10k)
#   BENCH_CONSUME_TIMEOUT_AT  per-N timeouts of the consume steps (seconds; default the step
#                           timeout); a consume that fails is reported and the run goes on
#   BENCH_SEGMENT_MS        default 30000  BENCH_MAINT_INTERVAL_MS default 2000
#   BENCH_MAINT_SECS        default 30     BENCH_IDLE_SECS default 10
#   BENCH_STEP_TIMEOUT      default 1800: seconds, each step (start-up, create, produce, ...)
#   BENCH_REPORT            default 1: update docs/PERFORMANCE.md and bench/partitions-history.tsv
#   BENCH_NO_BUILD          default 0   BENCH_BIN_DIR (laid out as target/release)
#   BENCH_KEEP              default 0: keep the data dirs   BENCH_NOTE: text for the history row
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/.work/partitions
COUNTS=${BENCH_PARTITION_COUNTS:-1000 10000 100000}
PPT=${BENCH_PPT:-100}
CREATE_BATCH=${BENCH_CREATE_BATCH:-50}
BIG=${BENCH_BIG_TOPIC:-5000}
BYTES=${BENCH_PARTITION_BYTES:-200M}
RECORD_SIZE=${BENCH_RECORD_SIZE:-1024}
NOFILE=${BENCH_NOFILE:-$(ulimit -Hn)}
SEGMENT_MS=${BENCH_SEGMENT_MS:-30000}
MAINT_INTERVAL_MS=${BENCH_MAINT_INTERVAL_MS:-2000}
MAINT_SECS=${BENCH_MAINT_SECS:-30}
IDLE_SECS=${BENCH_IDLE_SECS:-10}
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-1800}
REPORT=${BENCH_REPORT:-1}
NO_BUILD=${BENCH_NO_BUILD:-0}
KEEP=${BENCH_KEEP:-0}
BIN_DIR=${BENCH_BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}

log() { echo "[partitions $(date +%H:%M:%S)] $*" >&2; }

if [ "$NO_BUILD" != 1 ] && [ -z "${BENCH_BIN_DIR:-}" ]; then
    log "cargo build --release --bin skua --example partitions_bench"
    cargo build --release --bin skua --example partitions_bench
fi
mkdir -p "$WORK"
# Private copies: others may rebuild target/ while the benchmark runs.
cp "$BIN_DIR/skua" "$WORK/skua"
cp "$BIN_DIR/examples/partitions_bench" "$WORK/partitions_bench"
BROKER_BIN=$WORK/skua
DRIVER=$WORK/partitions_bench
CLK_TCK=$(getconf CLK_TCK)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
FAILED=0
T_START=$(date +%s)

BROKER_PID=
DATA=
cleanup() {
    stop_broker KILL
    if [ "$KEEP" != 1 ] && [ -n "$DATA" ]; then rm -rf "$DATA"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# start_broker EXTRA_SETS...: start the broker on $DATA with the nofile limit; sets START_MS.
start_broker() {
    START_MS=$(now_ms)
    ( ulimit -n "$NOFILE" && exec "$BROKER_BIN" --listen "$BROKERS" --data-dir "$DATA" \
        --metrics-listen "127.0.0.1:$MPORT" "$@" ) >>"$BLOG" 2>&1 &
    BROKER_PID=$!
    log "broker pid $BROKER_PID (nofile $NOFILE) $*"
}

# stop_broker [TERM|KILL]: stop our broker by pid; sets STOP_MS (SIGTERM to exit).
stop_broker() {
    local sig=${1:-TERM} t0
    STOP_MS=
    [ -n "$BROKER_PID" ] || return 0
    if kill -0 "$BROKER_PID" 2>/dev/null; then
        t0=$(now_ms)
        kill -"$sig" "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 1 1200); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$BROKER_PID" 2>/dev/null; then
            log "broker $BROKER_PID still running 120 s after SIG$sig; SIGKILL"
            kill -KILL "$BROKER_PID" 2>/dev/null || true
        fi
        wait "$BROKER_PID" 2>/dev/null || true
        STOP_MS=$(( $(now_ms) - t0 ))
    fi
    BROKER_PID=
}

broker_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$BROKER_PID/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$BROKER_PID/status"; }
fd_count() { ls "/proc/$BROKER_PID/fd" | wc -l; }

# record JSON_OBJECT: add n, nofile and append to the results.
record() {
    python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r["n"] = int(sys.argv[2]); r["nofile"] = int(sys.argv[3]); print(json.dumps(r))' \
        "$1" "$N" "$NOFILE" >>"$RESULTS"
}

# fail STEP MESSAGE: report a failed step clearly, with the broker log's tail.
fail() {
    local step=$1; shift
    FAILED=1
    echo "bench: N=$N: step '$step' FAILED: $*" >&2
    if [ -n "$BROKER_PID" ] && ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "bench: the broker (pid $BROKER_PID) is gone" >&2
    elif [ -n "$BROKER_PID" ]; then
        echo "bench: broker still running: RSS $(rss_kb) kB, $(fd_count) open fds (limit $NOFILE)" >&2
    fi
    echo "bench: warnings and errors of the broker, then the last lines of $BLOG:" >&2
    sed 's/\x1b\[[0-9;]*m//g' "$BLOG" | grep -E ' (WARN|ERROR) ' | tail -n 10 >&2 || true
    echo "  ..." >&2
    sed 's/\x1b\[[0-9;]*m//g' "$BLOG" | tail -n 10 >&2 || true
    record "$(python3 -c 'import json, sys; print(json.dumps({"step": sys.argv[1], "failed": True, "error": sys.argv[2]}))' "$step" "$*")"
}

# drive STEP ARGS...: run the driver with the step timeout; its JSON line is recorded with the
# broker's CPU over the step. Returns non-zero (after `fail`) on error.
drive() {
    local step=$1; shift
    local out bt0 bt1 rc=0
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then fail "$step" "broker not running"; return 1; fi
    bt0=$(broker_ticks)
    local limit=${STEP_LIMIT:-$STEP_TIMEOUT}
    out=$(timeout --kill-after=10 "$limit" "$DRIVER" --brokers "$BROKERS" --label "$step" \
        --timeout-secs "$limit" "$@" 2> >(tee -a "$WORK/driver.log" >&2)) || rc=$?
    if [ "$rc" != 0 ]; then
        [ "$rc" = 124 ] && fail "$step" "timed out after $limit s" || fail "$step" "driver exited with $rc"
        return 1
    fi
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then fail "$step" "broker exited during the step"; return 1; fi
    bt1=$(broker_ticks)
    LAST=$(echo "$out" | grep '^{"bench":' | tail -n1)
    [ -n "$LAST" ] || { fail "$step" "no JSON line"; return 1; }
    record "$(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r["step"] = sys.argv[2]; r["broker_cpu_s"] = round(int(sys.argv[3]) / int(sys.argv[4]), 3); print(json.dumps(r))' \
        "$LAST" "$step" "$((bt1 - bt0))" "$CLK_TCK")"
}

# wait_ready STEP TOPICS PARTITIONS: start-up until Metadata lists them all led.
wait_ready() {
    drive "$1" --mode wait-ready --expect-topics "$2" --expect-partitions "$3" --since-unix-ms "$START_MS"
}

# sample STEP SECS: broker RSS, fds and CPU over SECS idle seconds.
sample() {
    local step=$1 secs=$2 bt0 bt1
    kill -0 "$BROKER_PID" 2>/dev/null || { fail "$step" "broker not running"; return 1; }
    bt0=$(broker_ticks)
    sleep "$secs"
    kill -0 "$BROKER_PID" 2>/dev/null || { fail "$step" "broker exited"; return 1; }
    bt1=$(broker_ticks)
    record "{\"step\": \"$step\", \"rss_kb\": $(rss_kb), \"fds\": $(fd_count), \"secs\": $secs, \"broker_cpu_s\": $(python3 -c "print(round($((bt1 - bt0)) / $CLK_TCK, 3))")}"
}

# scrape: one /metrics scrape, timed.
scrape() {
    local out
    out=$(curl -s -o /dev/null -w '%{time_total} %{size_download} %{http_code}' --max-time "$STEP_TIMEOUT" "http://127.0.0.1:$MPORT/metrics") || { fail metrics "curl failed"; return 1; }
    read -r secs size code <<<"$out"
    [ "$code" = 200 ] || { fail metrics "HTTP $code"; return 1; }
    record "{\"step\": \"metrics\", \"scrape_ms\": $(python3 -c "print(round($secs * 1000, 1))"), \"bytes\": $size}"
}

# maintenance: CPU over MAINT_SECS with retention and cleaner sweeps every MAINT_INTERVAL_MS;
# the cleaner's lines in the broker log.
maintenance() {
    local bt0 bt1 bt2 third lines0
    lines0=$(wc -l <"$BLOG")
    third=$(( MAINT_SECS / 3 > 0 ? MAINT_SECS / 3 : 1 ))
    bt0=$(broker_ticks)
    sleep $(( MAINT_SECS - third ))
    kill -0 "$BROKER_PID" 2>/dev/null || { fail maintenance "broker exited"; return 1; }
    bt1=$(broker_ticks)
    sleep "$third"
    kill -0 "$BROKER_PID" 2>/dev/null || { fail maintenance "broker exited"; return 1; }
    bt2=$(broker_ticks)
    tail -n +"$((lines0 + 1))" "$BLOG" >"$WORK/maint.log"
    record "$(python3 - "$WORK/maint.log" "$((bt1 - bt0))" "$((bt2 - bt1))" "$CLK_TCK" "$MAINT_SECS" "$third" "$MAINT_INTERVAL_MS" <<'PY'
import json, re, sys
from datetime import datetime
path, t1, t2, hz, secs, third, interval = sys.argv[1], *map(int, sys.argv[2:])
stamps = []
errors = 0
for line in open(path, errors="replace"):
    if "cleaned log" in line:
        m = re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", line)
        if m:
            s = m.group(0)
            if "." in s:
                head, frac = s.split(".")
                s = head + "." + frac[:6]
            stamps.append(datetime.fromisoformat(s).timestamp())
    if "cleaner failed" in line or "retention failed" in line or "segment roll failed" in line:
        errors += 1
print(json.dumps({
    "step": "maintenance", "secs": secs, "interval_ms": interval,
    "broker_cpu_s": round((t1 + t2) / hz, 3), "tail_secs": third, "tail_cpu_s": round(t2 / hz, 3),
    "cleaned_partitions": len(stamps),
    "cleaner_span_s": round(max(stamps) - min(stamps), 3) if stamps else None,
    "errors": errors}))
PY
)"
}

# run_n N: the whole sequence on a fresh broker; returns non-zero at the first failed step.
run_n() {
    local topics=$(( N / PPT )) big=$(( N < BIG ? N : BIG )) records
    [ "$topics" -ge 1 ] || { fail setup "N=$N is less than BENCH_PPT=$PPT"; return 1; }
    DATA=$WORK/data-$N
    BLOG=$WORK/broker-$N.log
    rm -rf "$DATA"; mkdir -p "$DATA"; : >"$BLOG"
    case "$(stat -f -c %T "$DATA")" in
        tmpfs|ramfs) echo "bench: $DATA is not on a real disk" >&2; exit 1 ;;
    esac
    PORT=$(free_port); MPORT=$(free_port)
    BROKERS=127.0.0.1:$PORT
    log "N=$N: $topics topics x $PPT partitions on $BROKERS (metrics :$MPORT), data $DATA"
    start_broker
    wait_ready startup-empty 0 0 || return 1
    sleep 3
    sample idle-empty 3 || return 1
    drive create --mode create --prefix parts --topics "$topics" --partitions-per-topic "$PPT" \
        --batch "$CREATE_BATCH" --config cleanup.policy=compact,delete --config "segment.ms=$SEGMENT_MS" || return 1
    sleep 5
    sample idle-created "$IDLE_SECS" || return 1
    drive metadata --mode metadata --repeat 5 || return 1
    scrape || return 1
    drive produce-acks1 --mode produce --prefix parts --acks 1 --max-bytes "$BYTES" --record-size "$RECORD_SIZE" || return 1
    records=$(echo "$LAST" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
    # Consuming is bounded by the client at large N (librdkafka); a consume that fails or
    # times out is reported and the run goes on: the steps after it do not need it.
    local produced_records=$records
    STEP_LIMIT=$CONSUME_TIMEOUT drive consume-acks1 --mode consume --prefix parts --expect-records "$records" || true
    drive produce-acksall --mode produce --prefix parts --acks all --max-bytes "$BYTES" --record-size "$RECORD_SIZE" || return 1
    records=$(( produced_records + $(echo "$LAST" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])') ))
    STEP_LIMIT=$CONSUME_TIMEOUT drive consume-all --mode consume --prefix parts --expect-records "$records" || true
    STEP_LIMIT=$CONSUME_TIMEOUT drive consume-offset0 --mode consume --prefix parts --start 0 --expect-records "$records" || true
    STEP_LIMIT=$CONSUME_TIMEOUT drive fetch-raw --mode fetch-raw --prefix parts --expect-records "$records" || true
    sample idle-data "$IDLE_SECS" || return 1
    stop_broker TERM
    record "{\"step\": \"stop-term\", \"stop_ms\": ${STOP_MS:-null}}"
    start_broker
    wait_ready startup-clean "$topics" "$N" || return 1
    sample idle-restarted 3 || return 1
    stop_broker KILL
    start_broker --set "log.retention.check.interval.ms=$MAINT_INTERVAL_MS" --set "log.cleaner.backoff.ms=$MAINT_INTERVAL_MS"
    wait_ready startup-kill9 "$topics" "$N" || return 1
    maintenance || return 1
    drive create-big --mode create --prefix big --topics 1 --partitions-per-topic "$big" --batch 1 || return 1
    drive delete-big --mode delete --prefix big || return 1
    stop_broker TERM
    if [ "$KEEP" != 1 ]; then rm -rf "$DATA"; fi
    log "N=$N done"
}

# per_n "N=V ..." DEFAULT: the value for the current N in a list of overrides.
per_n() {
    local pair
    for pair in $1; do
        if [ "${pair%%=*}" = "$N" ]; then echo "${pair#*=}"; return; fi
    done
    echo "$2"
}

DEFAULT_NOFILE=$NOFILE
DEFAULT_BYTES=$BYTES
for N in $COUNTS; do
    NOFILE=$(per_n "${BENCH_NOFILE_AT:-}" "$DEFAULT_NOFILE")
    BYTES=$(per_n "${BENCH_BYTES_AT:-}" "$DEFAULT_BYTES")
    CONSUME_TIMEOUT=$(per_n "${BENCH_CONSUME_TIMEOUT_AT:-}" "$STEP_TIMEOUT")
    if ! run_n; then
        log "N=$N: stopped at the failed step; broker log: $BLOG"
    fi
    stop_broker KILL
    if [ "$KEEP" != 1 ] && [ -n "$DATA" ]; then rm -rf "$DATA"; fi
done
T_END=$(date +%s)
log "done in $((T_END - T_START)) s"
if [ "$REPORT" = 1 ]; then
    python3 bench/partitions_report.py --results "$RESULTS" --doc docs/PERFORMANCE.md \
        --history bench/partitions-history.tsv --note "${BENCH_NOTE:-}" --elapsed "$((T_END - T_START))" \
        --settings "ppt=$PPT batch=$CREATE_BATCH bytes=$DEFAULT_BYTES ${BENCH_BYTES_AT:+($BENCH_BYTES_AT) }record=$RECORD_SIZE nofile=$DEFAULT_NOFILE ${BENCH_NOFILE_AT:+($BENCH_NOFILE_AT) }segment.ms=$SEGMENT_MS maint=${MAINT_INTERVAL_MS}ms/${MAINT_SECS}s"
else
    python3 bench/partitions_report.py --results "$RESULTS" --summary-only
fi
exit "$FAILED"
