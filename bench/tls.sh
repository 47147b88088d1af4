#!/usr/bin/env bash
# Produce and consume over TLS next to plaintext (`make bench-tls`; issue 11). One broker with three
# listeners on free ports -- PLAINTEXT, SSL (server certificate only) and SASL_SSL (SCRAM-SHA-512) --
# and the same librdkafka load (examples/bench.rs) over each: produce acks=1 to a fresh
# 6-partition topic, consume it back from the start, delete it. Each listener's runs are
# interleaved with the others' (round-robin, BENCH_TLS_REPEAT rounds) so that a slow phase of the
# machine does not land on one listener only; the report takes each listener's median.
# Certificates are made at run time with the openssl CLI (RSA 2048, a throw-away CA).
#
# Knobs (environment):
#   BENCH_TLS_REPEAT      default 3 rounds
#   BENCH_TLS_MAX_BYTES   per producer run, default 4G      BENCH_TLS_DURATION  default 10 s
#   BENCH_RECORD_SIZE     default 1024                      BENCH_PARTITIONS    default 6
#   BENCH_REPORT          default 1: write the block <!-- bench:tls:begin/end --> of docs/PERFORMANCE.md
#   BENCH_NO_BUILD        default 0: skip cargo build       BENCH_BIN_DIR       default target/release
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/.work/tls
REPEAT=${BENCH_TLS_REPEAT:-3}
MAX_BYTES=${BENCH_TLS_MAX_BYTES:-4G}
DURATION=${BENCH_TLS_DURATION:-10}
RECORD_SIZE=${BENCH_RECORD_SIZE:-1024}
PARTITIONS=${BENCH_PARTITIONS:-6}
REPORT=${BENCH_REPORT:-1}
BIN_DIR=${BENCH_BIN_DIR:-target/release}
log() { echo "[bench-tls $(date +%H:%M:%S)] $*" >&2; }

if [ "${BENCH_NO_BUILD:-0}" != 1 ] && [ -z "${BENCH_BIN_DIR:-}" ]; then
    log "cargo build --release (broker and examples/bench)"
    cargo build --release
    cargo build --release --example bench
fi

rm -rf "$WORK"
mkdir -p "$WORK/pki" "$WORK/data"
cp "$BIN_DIR/skua" "$WORK/skua"
cp "$BIN_DIR/examples/bench" "$WORK/bench"

# --- certificates ---
(
    cd "$WORK/pki"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=skua bench CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
        -extfile server.ext 2>/dev/null
    cat server.key server.crt >server.pem
)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_PLAIN=$(free_port); P_SSL=$(free_port); P_SASL=$(free_port)

BROKER_PID=
cleanup() {
    if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$BROKER_PID" 2>/dev/null && kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK/data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$WORK/skua" --data-dir "$WORK/data" --metrics-listen off \
    --set "listeners=PLAINTEXT://127.0.0.1:$P_PLAIN,SSL://127.0.0.1:$P_SSL,SASL_SSL://127.0.0.1:$P_SASL" \
    --set "ssl.keystore.type=PEM" --set "ssl.keystore.location=$WORK/pki/server.pem" \
    --set "sasl.enabled.mechanisms=SCRAM-SHA-512" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$P_SASL") 2>/dev/null; then break; fi
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$WORK/broker.log" >&2; echo "bench-tls: broker exited" >&2; exit 1; }
    [ "$i" = 100 ] && { echo "bench-tls: broker did not listen" >&2; exit 1; }
    sleep 0.1
done
"$WORK/skua" user create bench --mechanism SCRAM-SHA-512 --password bench-secret -b "127.0.0.1:$P_PLAIN" >&2

CA=$WORK/pki/ca.pem
declare -A ADDR=([PLAINTEXT]=127.0.0.1:$P_PLAIN [SSL]=localhost:$P_SSL [SASL_SSL]=localhost:$P_SASL)
declare -A SETS=(
    [PLAINTEXT]=""
    [SSL]="--set security.protocol=SSL --set ssl.ca.location=$CA"
    [SASL_SSL]="--set security.protocol=SASL_SSL --set ssl.ca.location=$CA --set sasl.mechanism=SCRAM-SHA-512 --set sasl.username=bench --set sasl.password=bench-secret"
)
broker_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$BROKER_PID/stat"; }
CLK_TCK=$(getconf CLK_TCK)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# one LISTENER MODE TOPIC EXTRA...: a bench run, its JSON line plus the broker's CPU seconds.
one() {
    local l=$1 mode=$2 topic=$3 t0 t1 out
    shift 3
    t0=$(broker_ticks)
    # shellcheck disable=SC2086
    out=$("$WORK/bench" --brokers "${ADDR[$l]}" --mode "$mode" --topic "$topic" ${SETS[$l]} "$@" | grep '^{' | tail -n 1)
    t1=$(broker_ticks)
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["listener"]=sys.argv[2]; d["broker_cpu_s"]=(int(sys.argv[3])-int(sys.argv[4]))/int(sys.argv[5]); print(json.dumps(d))' \
        "$out" "$l" "$t1" "$t0" "$CLK_TCK" >>"$RESULTS"
}

# Warm-up (unmeasured): one small round over every listener.
for l in PLAINTEXT SSL SASL_SSL; do
    "$WORK/bench" --brokers "${ADDR[$l]}" --mode produce --topic "warm-$l" --partitions "$PARTITIONS" \
        --record-size "$RECORD_SIZE" --max-bytes 50M --duration-secs 5 ${SETS[$l]} >/dev/null
    "$WORK/bench" --brokers "${ADDR[$l]}" --mode delete --topic "warm-$l" ${SETS[$l]} >/dev/null
done

for r in $(seq 1 "$REPEAT"); do
    for l in PLAINTEXT SSL SASL_SSL; do
        t="tls-$l-$r"
        log "round $r/$REPEAT $l: produce"
        one "$l" produce "$t" --partitions "$PARTITIONS" --record-size "$RECORD_SIZE" --acks 1 \
            --max-bytes "$MAX_BYTES" --duration-secs "$DURATION"
        log "round $r/$REPEAT $l: consume"
        one "$l" consume "$t"
        "$WORK/bench" --brokers "${ADDR[$l]}" --mode delete --topic "$t" ${SETS[$l]} >/dev/null
    done
done

if [ "$REPORT" = 1 ]; then
    python3 - "$RESULTS" docs/PERFORMANCE.md "$REPEAT" "$RECORD_SIZE" "$PARTITIONS" "$MAX_BYTES" "$DURATION" <<'PY'
import json, statistics, subprocess, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
repeat, size, parts, maxb, dur = sys.argv[3:8]
def med(l, mode, key):
    v = [r[key] for r in rows if r["listener"] == l and r["mode"] == mode]
    return statistics.median(v), min(v), max(v)
def cpu_per_gb(l, mode):
    v = [r["broker_cpu_s"] / (r["mb_per_s"] * r["elapsed_s"] / 1000) for r in rows
         if r["listener"] == l and r["mode"] == mode and r["mb_per_s"] > 0]
    return statistics.median(v)
base = {m: med("PLAINTEXT", m, "mb_per_s")[0] for m in ("produce", "consume")}
lines = []
for l in ("PLAINTEXT", "SSL", "SASL_SSL"):
    cells = []
    for m in ("produce", "consume"):
        x, lo, hi = med(l, m, "mb_per_s")
        ratio = "" if l == "PLAINTEXT" else f" ({x / base[m]:.2f}×)"
        cells.append(f"{x:,.0f} MB/s [{lo:,.0f}–{hi:,.0f}]{ratio} · {cpu_per_gb(l, m):.2f} s/GB")
    lines.append(f"| {l} | {cells[0]} | {cells[1]} |")
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
lib = rows[0].get("librdkafka", "?")
block = f"""<!-- bench:tls:begin -->
Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at `{rev}` (`make bench-tls`): one broker, three
listeners, librdkafka {lib}; per run a fresh {parts}-partition topic, {size}-byte records, produce
acks=1 until {maxb} bytes or {dur} s, then consume it all back; median of {repeat} interleaved
rounds [range], the ratio to PLAINTEXT, and the broker's CPU seconds per GB moved.

| Listener | Produce | Consume |
|---|---|---|
{chr(10).join(lines)}

SSL: server certificate only (RSA 2048, TLS 1.3 as librdkafka and rustls agree on it);
SASL_SSL: SCRAM-SHA-512 on top (authentication costs once per connection, not per record).
<!-- bench:tls:end -->"""
doc = open(sys.argv[2]).read()
b, e = "<!-- bench:tls:begin -->", "<!-- bench:tls:end -->"
if b in doc and e in doc:
    doc = doc[:doc.index(b)] + block + doc[doc.index(e) + len(e):]
else:
    doc = doc.rstrip() + "\n\n## TLS and SASL\n\n" + block + "\n"
open(sys.argv[2], "w").write(doc)
print(block)
PY
else
    cat "$RESULTS"
fi
