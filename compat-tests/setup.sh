#!/usr/bin/env bash
# Installs everything the compat suite needs, idempotently, into local folders:
#   kcat (Debian 12's 1.7.1 on librdkafka 2.0.2, an old client on purpose) via apt,
#   openssl (the CLI: the security scenarios make a CA and certificates at run time) via apt,
#   Debian 12's Go clients (sarama 1.22, kafka-go 0.2.1: old protocol versions on purpose) via apt,
#     and compat-tests/.work/go/bin/{sarama,kafkago}-compat built from compat-tests/go/ against them,
#   compat-tests/.venv (confluent-kafka, kafka-python, aiokafka + codec libraries) via pip,
#   compat-tests/node_modules (kafkajs + pure-JS codecs, playwright-core for the console's browser test,
#     from package.json / package-lock.json) via npm,
#   Debian's chromium (the browser the console test drives headless; playwright downloads nothing) via apt.
# Needs: Debian 12 (root or sudo for apt), python3 (3.11) with venv, node 20 and npm.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$DIR"

# ---- apt: kcat, and python3-venv where Debian's python3 lacks ensurepip ----
APT_PKGS=()
command -v kcat >/dev/null 2>&1 || APT_PKGS+=(kcat)
command -v go >/dev/null 2>&1 || APT_PKGS+=(golang-go)
command -v openssl >/dev/null 2>&1 || APT_PKGS+=(openssl)  # the security scenarios make their certificates with it
[[ -x /usr/bin/chromium ]] || APT_PKGS+=(chromium)  # the console scenario (console.py) drives it headless
[[ -d /usr/share/gocode/src/github.com/Shopify/sarama ]] || APT_PKGS+=(golang-github-shopify-sarama-dev)
[[ -d /usr/share/gocode/src/github.com/segmentio/kafka-go ]] || APT_PKGS+=(golang-github-segmentio-kafka-go-dev)
if [[ ! -x .venv/bin/python ]] && ! python3 -c "import ensurepip" >/dev/null 2>&1; then
  APT_PKGS+=(python3-venv)
fi
if [[ ${#APT_PKGS[@]} -gt 0 ]]; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "setup: apt-get install ${APT_PKGS[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT_PKGS[@]}" >/dev/null
fi
kcat -V 2>/dev/null | grep "^Version" | sed "s/^/setup: kcat /" || true

# ---- go: the sarama and kafka-go programs, built in GOPATH mode against Debian's sources ----
mkdir -p .work/go/bin
for prog in sarama kafkago; do
  exe=".work/go/bin/$prog-compat"
  if [[ ! -x "$exe" ]] || [[ "go/$prog/main.go" -nt "$exe" ]]; then
    echo "setup: go build $exe"
    GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE="$DIR/.work/go/cache" GOFLAGS= \
      CGO_CFLAGS="-Wno-deprecated-declarations" go build -o "$exe" "./go/$prog"
  fi
done
echo "setup: $(go version | cut -d' ' -f3), sarama $(dpkg-query -W -f='${Version}' golang-github-shopify-sarama-dev), kafka-go $(dpkg-query -W -f='${Version}' golang-github-segmentio-kafka-go-dev)"

# ---- python ----
PY_REQS=(
  "confluent-kafka[avro,json,protobuf]==2.16.1"
  "kafka-python==3.0.12"
  "aiokafka==0.14.0"
  "lz4==4.4.5"
  "cramjam==2.14.0"
  "python-snappy==0.7.3"
  "zstandard==0.25.0"
)
STAMP=".venv/.compat-reqs"
WANT="$(printf '%s\n' "${PY_REQS[@]}")"
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if [[ ! -f "$STAMP" ]] || [[ "$(cat "$STAMP")" != "$WANT" ]]; then
  echo "setup: pip install ${PY_REQS[*]}"
  .venv/bin/python -m pip install -q --disable-pip-version-check "${PY_REQS[@]}"
  printf '%s\n' "$WANT" > "$STAMP"
fi
.venv/bin/python - <<'EOF'
import confluent_kafka, kafka, aiokafka
from kafka.codec import has_gzip, has_snappy, has_lz4, has_zstd
assert has_gzip() and has_snappy() and has_lz4() and has_zstd(), "kafka-python codecs missing"
print(f"setup: confluent-kafka {confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]}), "
      f"kafka-python {kafka.__version__}, aiokafka {aiokafka.__version__}")
EOF

# ---- node ----
if [[ ! -f node_modules/.compat-stamp ]] || ! cmp -s package.json node_modules/.compat-stamp; then
  echo "setup: npm install (kafkajs, playwright-core)"
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
  cp package.json node_modules/.compat-stamp
fi
node -e "console.log('setup: kafkajs ' + require('kafkajs/package.json').version + ', playwright-core ' + require('playwright-core/package.json').version + ', node ' + process.version)"
/usr/bin/chromium --version 2>/dev/null | sed "s/^/setup: /" || true
echo "setup: done"
