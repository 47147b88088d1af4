#!/usr/bin/env bash
# librdkafka's own integration test suite (its tests/ directory) against one skua broker.
#
#   compat-tests/librdkafka-suite.sh SKUA_BINARY [TESTS_DIR] [OUT_DIR]
#
# TESTS_DIR is a built librdkafka tests/ directory (with ./test-runner). Without it, the
# script fetches Debian's librdkafka source package (bookworm: 2.0.2) into $WORK (default
# /tmp/librdkafka-suite) and builds it: that needs a deb-src line, which it adds in a
# temporary sources file and removes again. Build: ./configure --disable-ssl
# --disable-gssapi --disable-curl && make -C src && make -C src-cpp && make -C tests build.
#
# The broker runs as the suite's default scenario wants (auto-created topics with
# num.partitions=4; replication factor 3 cannot be had on one node) on a free port
# with a temporary data dir; tests/test.conf names it. Tests run with TEST_KAFKA_VERSION
# (default 3.9.0: the newest version librdkafka 2.0.2's suite knows), -L (no local-only
# tests: they test the client alone, e.g. its mock cluster), -Q (quick mode), TEST_PARALLEL
# tests at a time (default 2), and TESTS_SKIP (default: the tests below that need what skua
# does not have: SSL, SASL, OAUTHBEARER, ACL-based auth, and the one that reads broker
# logs). TESTS=0001,0002 limits the run. It is long (tens of minutes): not part of `make
# test`. The summary (one "NNNN PASSED|FAILED|SKIPPED" line per test) goes to
# OUT_DIR/summary.txt, the full output to OUT_DIR/run.log. Exit 0 unless the run itself
# could not start.
set -euo pipefail

BIN=${1:?usage: $0 SKUA_BINARY [TESTS_DIR] [OUT_DIR]}
BIN=$(readlink -f "$BIN")
TESTS_DIR=${2:-}
OUT=${3:-$(mktemp -d /tmp/rdk-suite-out.XXXXXX)}
WORK=${WORK:-/tmp/librdkafka-suite}
mkdir -p "$OUT"
OUT=$(readlink -f "$OUT")

if [ -z "$TESTS_DIR" ]; then
    mkdir -p "$WORK"
    cd "$WORK"
    if [ ! -x librdkafka-*/tests/test-runner ]; then
        SRC=/etc/apt/sources.list.d/librdkafka-suite-src.sources
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$SRC"
        trap 'rm -f "$SRC"' EXIT
        apt-get update -o Dir::Etc::sourcelist="$SRC" -o Dir::Etc::sourceparts=- >/dev/null
        apt-get source --download-only librdkafka
        rm -f "$SRC"
        dpkg-source -x librdkafka_*.dsc
        cd librdkafka-*/
        ./configure --disable-ssl --disable-gssapi --disable-curl
        make -C src && make -C src-cpp && make -C tests build
        cd ..
    fi
    TESTS_DIR=$(readlink -f librdkafka-*/tests)
fi
TESTS_DIR=$(readlink -f "$TESTS_DIR")

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA=$(mktemp -d /tmp/rdk-suite-data.XXXXXX)
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --metrics-listen off \
    --set num.partitions=4 >"$OUT/skua.log" 2>&1 &
SKUA=$!
cleanup() { kill "$SKUA" 2>/dev/null || true; wait "$SKUA" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

cd "$TESTS_DIR"
cat > test.conf <<EOF
metadata.broker.list=127.0.0.1:$PORT
EOF
# SSL/SASL/OAUTHBEARER/auth tests, and 0131 (wants a broker that never answers).
DEFAULT_SKIP=0097,0115,0119,0124,0126,0128,0133,0134,0135
export TESTS_SKIP=${TESTS_SKIP:-$DEFAULT_SKIP}
export TEST_KAFKA_VERSION=${TEST_KAFKA_VERSION:-3.9.0}
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}:../src:../src-cpp
set +e
timeout "${SUITE_TIMEOUT:-3000}" ./test-runner -L -Q "-p${TEST_PARALLEL:-2}" >"$OUT/run.log" 2>&1
echo "test-runner exit: $?" >>"$OUT/run.log"
set -e
# The runner's final table lists each test with its state (and why it failed); tests it
# does not list (the table is cut short when the runner aborts) are taken from their own
# PASSED / failure lines.
sed -E 's/\x1b\[[0-9;]*m//g' "$OUT/run.log" >"$OUT/run.txt"
grep -aE '^\| +[0-9]{4}_[^ ]+ +\| +[A-Z_]+ +\|' "$OUT/run.txt" \
    | sed -E 's/^\| +([0-9]{4})_([^ ]+) +\| +([A-Z_]+) +\| +[0-9.]+s +\|(.*)$/\1 \3 \2\4/' \
    >"$OUT/table.txt" || true
{
    cat "$OUT/table.txt"
    grep -aoE 'Test [0-9]{4}_[a-z0-9_]+ PASSED' "$OUT/run.txt" \
        | sed -E 's/Test ([0-9]{4})_([a-z0-9_]+) PASSED/\1 PASSED \2/'
    grep -aoE '### Test "[0-9]{4}_[a-z0-9_]+" failed at [^ ]+' "$OUT/run.txt" \
        | sed -E 's/### Test "([0-9]{4})_([a-z0-9_]+)" failed at (.*)/\1 FAILED \2 (at \3)/'
} | awk '{k=$1" "$3} !(k in seen) {seen[k]=1; print}' | sort -k1,1 -k3,3 >"$OUT/summary.txt"
echo "librdkafka suite: $(grep -c ' PASSED ' "$OUT/summary.txt") passed, $(grep -c ' FAILED ' "$OUT/summary.txt") failed, $(grep -c ' SKIPPED ' "$OUT/summary.txt") skipped; details in $OUT"
