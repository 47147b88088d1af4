"""Shared by the Go client scenarios (sarama.py, kafkago.py): run the small Go programs under
compat-tests/go/ (built by setup.sh against Debian 12's packaged sources, GOPATH mode) and
read what the broker stored."""

import os
import subprocess

import rawproto
from common import COMPAT_DIR, Fail, eq

BIN = os.path.join(COMPAT_DIR, ".work", "go", "bin")
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def run(program, args, timeout=60, env=None):
    """Run a Go program; its stdout lines (it exits 1 with the error on stderr). `env`: extra
    environment variables."""
    exe = os.path.join(BIN, program)
    if not os.path.exists(exe):
        raise Fail(f"{exe} is missing: run compat-tests/setup.sh")
    cmd = [exe] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout,
                           env=dict(os.environ, **(env or {})))
    except subprocess.TimeoutExpired:
        raise Fail(f"`{' '.join(cmd)}` did not finish within {timeout}s")
    if p.returncode != 0:
        raise Fail(f"`{' '.join(cmd)}` exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[-400:]}")
    return p.stdout.decode().splitlines()


def check_stored(addr, topic, codec, batches=1):
    """Exactly `batches` v2 batches stored in partition 0, each with `codec`."""
    eq(rawproto.stored_codecs(addr, topic, 0), [CODECS[codec]] * batches, f"codecs of the batches stored in {topic}")
