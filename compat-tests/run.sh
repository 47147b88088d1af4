#!/usr/bin/env bash
# Runs the skua compat suite. usage: ./run.sh [--bin PATH | PATH] [FILTER ...]   (see run.py)
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ ! -x "$DIR/.venv/bin/python" || ! -d "$DIR/node_modules/kafkajs" ]] || ! command -v kcat >/dev/null; then
  echo "compat-tests: dependencies missing; run $DIR/setup.sh first" >&2
  exit 2
fi
exec "$DIR/.venv/bin/python" "$DIR/run.py" "$@"
