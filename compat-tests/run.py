#!/usr/bin/env python3
"""skua compat-suite runner.

usage: run.sh [--bin PATH] [--timeout SECONDS] [-j JOBS] [--keep] [FILTER ...]

Starts the brokers it needs on free 127.0.0.1 ports with data dirs under .work/, runs every
scenario (a subprocess each, with a timeout; JOBS of them at a time, longest first), prints one
line per scenario as it finishes (`PASS client/scenario` or `FAIL client/scenario: reason`) and a
final `N passed, M failed`. FILTER selects scenarios: a glob (`kafkajs/*`, `*/codec_*`) or a
substring (`codec`). Every process it started is stopped, by pid, on every way out.
"""

import argparse
import fnmatch
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCEN = os.path.join(HERE, "scenarios")
sys.path.insert(0, SCEN)
import rawproto  # noqa: E402

# client name -> scenario file; run in this order
CLIENTS = [
    ("kcat", "kcat.py"),
    ("confluent", "confluent.py"),
    ("kafka-python", "kpython.py"),
    ("aiokafka", "aiok.py"),
    ("kafkajs", "kafkajs.py"),
    ("raw", "raw.py"),
    ("confluent", "crash.py"),
    ("kcat", "txn_kcat.py"),
    ("confluent", "txn.py"),
    ("kafka-python", "txn_kpython.py"),
    ("aiokafka", "txn_aiok.py"),
    ("kafkajs", "txn_kafkajs.py"),
    ("confluent", "configs.py"),
    ("confluent", "admin_apis.py"),
]
# per-scenario timeouts (glob on client/scenario -> seconds); everything else DEFAULT_TIMEOUT
TIMEOUTS = {"confluent/crash_kill9": 400, "*/group_many_20": 180, "*/group_restart": 150,
            "*/group_kill9_evict": 120, "*/txn_idempotent_restart": 240, "*/txn_idempotent_kill9": 240,
            "*/txn_consume_transform_produce": 150}
DEFAULT_TIMEOUT = 90
# rough durations in seconds (2 cores), to start the long ones first; everything else ~2 s
EXPECTED = {"*/group_kill9_evict": 10, "kcat/group_balanced": 11, "confluent/group_initial_delay": 8,
            "confluent/crash_kill9": 8, "confluent/segments_restart": 7, "*/group_many_20": 5,
            "*/group_restart": 5, "*/group_static": 5, "*/group_cooperative": 5, "*/group_handover": 4,
            "*/txn_consume_transform_produce": 9, "confluent/txn_timeout": 8, "confluent/txn_broker_*": 6,
            "*/txn_idempotent_restart": 5, "*/txn_idempotent_kill9": 5, "confluent/txn_commit": 5}
DEFAULT_JOBS = 2

# broker name -> extra flags
BROKERS = {
    "main": [],
    "np4": ["--set", "num.partitions=4", "--advertise", "localhost:{port}"],
    "noauto": ["--set", "auto.create.topics.enable=false"],
    "groups": ["--set", "group.initial.rebalance.delay.ms=0"],
}

STARTED = []  # every Popen we started (brokers and scenarios), for cleanup


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def kill_group(proc, sig=signal.SIGKILL):
    """Signal a scenario's process group (it was started with start_new_session, so pgid == pid)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Broker:
    def __init__(self, name, binary, workdir, extra):
        self.name = name
        self.binary = binary
        self.port = free_port()
        self.data = os.path.join(workdir, f"data-{name}")
        self.log = os.path.join(workdir, f"broker-{name}.log")
        self.extra = [a.replace("{port}", str(self.port)) for a in extra]
        self.proc = None
        self.starts = 0

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        os.makedirs(self.data, exist_ok=True)
        cmd = [self.binary, "serve", "--listen", self.addr, "--data-dir", self.data] + self.extra
        if "--metrics-listen" not in self.extra:
            # Brokers run side by side: the default metrics port would collide.
            cmd += ["--metrics-listen", "off"]
        logf = open(self.log, "a")
        logf.write(f"\n===== start #{self.starts + 1}: {' '.join(cmd)}\n")
        logf.flush()
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        logf.close()
        STARTED.append(self.proc)
        self.starts += 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker {self.name} exited with {self.proc.returncode} at startup; see {self.log}")
            if rawproto.api_versions_ok(self.addr, timeout=1.0):
                return
            time.sleep(0.1)
        raise RuntimeError(f"broker {self.name} did not answer ApiVersions within 30s; see {self.log}")

    def died(self):
        return self.proc is not None and self.proc.poll() is not None

    def stop(self, timeout=15):
        """SIGTERM, wait; SIGKILL if still alive. Returns (exit code, seconds, clean)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0, False
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
            return rc, time.monotonic() - start, True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, time.monotonic() - start, False


def list_scenarios(py, client, fname):
    out = subprocess.run([py, os.path.join(SCEN, fname), "--list"], capture_output=True, text=True, timeout=60,
                         cwd=SCEN)
    if out.returncode != 0:
        raise RuntimeError(f"listing {fname} failed: {out.stderr.strip()[-500:]}")
    return [(client, fname, n.strip()) for n in out.stdout.splitlines() if n.strip()]


def selected(full, filters):
    if not filters:
        return True
    for f in filters:
        if any(ch in f for ch in "*?["):
            if fnmatch.fnmatch(full, f):
                return True
        elif f in full:
            return True
    return False


def reason_of(output, rc, timed_out, timeout):
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    reasons = [l[len("REASON: "):] for l in lines if l.startswith("REASON: ")]
    if timed_out:
        tail = reasons[-1] if reasons else (lines[-1] if lines else "no output")
        return f"timed out after {timeout}s (last output: {tail[:300]})"
    if reasons:
        return reasons[-1][:1000]
    return f"exit code {rc}; last output: {(lines[-1] if lines else 'none')[:300]}"


def run_scenario(py, fname, name, env, timeout, logpath):
    with open(logpath, "w") as logf:
        proc = subprocess.Popen([py, os.path.join(SCEN, fname), name], stdout=subprocess.PIPE,
                                stderr=logf, stdin=subprocess.DEVNULL, cwd=SCEN, env=env,
                                start_new_session=True, text=True)
        STARTED.append(proc)
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc)
            out, _ = proc.communicate()
        # whatever the scenario left behind in its group (node, kcat, agents, a broker) goes too
        kill_group(proc)
        logf.write("\n----- stdout -----\n" + (out or ""))
    ok = proc.returncode == 0 and not timed_out and "OK" in (out or "").splitlines()
    return ok, reason_of(out or "", proc.returncode, timed_out, timeout)


def glob_value(table, full, default):
    for pat, v in table.items():
        if fnmatch.fnmatch(full, pat):
            return v
    return default


def cleanup():
    for p in STARTED:
        if p.poll() is None:
            try:
                if p.args and isinstance(p.args, list) and p.args[1:2] == ["serve"]:
                    p.send_signal(signal.SIGTERM)
                else:
                    kill_group(p)
                    p.kill()
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    for p in STARTED:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("SKUA_BIN") or os.path.join(HERE, "..", "target", "release", "skua"))
    ap.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                    help="per-scenario timeout (longer for crash_kill9 and some group scenarios)")
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("COMPAT_JOBS", DEFAULT_JOBS)),
                    help=f"scenarios run at once (default {DEFAULT_JOBS}, or $COMPAT_JOBS)")
    ap.add_argument("--keep", action="store_true", help="keep this run's .work directory even if all passed")
    ap.add_argument("filters", nargs="*")
    args = ap.parse_args()
    filters = list(args.filters)
    # `run.sh /path/to/skua [filters]` works too
    if filters and os.path.isfile(filters[0]) and os.access(filters[0], os.X_OK):
        args.bin = filters.pop(0)
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"broker binary not found or not executable: {binary}", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, on_signal)
    py = sys.executable
    t_start = time.monotonic()

    scenarios = []
    for client, fname in CLIENTS:
        for c, f, n in list_scenarios(py, client, fname):
            if selected(f"{c}/{n}", filters):
                scenarios.append((c, f, n))
    want_sigterm = selected("broker/sigterm_shutdown", filters)
    if not scenarios and not want_sigterm:
        print("no scenario matches the filter", file=sys.stderr)
        return 2

    work_root = os.path.join(HERE, ".work")
    os.makedirs(work_root, exist_ok=True)
    for old in sorted(os.listdir(work_root))[:-4]:  # keep the last few runs only
        shutil.rmtree(os.path.join(work_root, old), ignore_errors=True)
    workdir = os.path.join(work_root, time.strftime("run-%Y%m%d-%H%M%S") + f"-{os.getpid()}")
    os.makedirs(os.path.join(workdir, "logs"))
    print(f"# broker {binary}; work dir {os.path.relpath(workdir, HERE)}", file=sys.stderr, flush=True)
    # run a private copy: a concurrent `cargo build` must not swap the binary under a running suite
    shutil.copy2(binary, os.path.join(workdir, "skua"))
    binary = os.path.join(workdir, "skua")

    passed = failed = 0
    brokers = {}
    try:
        for name, extra in BROKERS.items():
            b = Broker(name, binary, workdir, extra)
            brokers[name] = b
            b.start()
        env = dict(os.environ)
        env.update({
            "SKUA_BOOTSTRAP": brokers["main"].addr,
            "SKUA_BOOTSTRAP_NP4": brokers["np4"].addr,
            "SKUA_BOOTSTRAP_NOAUTO": brokers["noauto"].addr,
            "SKUA_BOOTSTRAP_GROUPS": brokers["groups"].addr,
            "SKUA_BIN": binary,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        # longest first (stable otherwise), JOBS at a time; results print as they finish
        todo = sorted(scenarios, key=lambda s: -glob_value(EXPECTED, f"{s[0]}/{s[2]}", 2))
        results = queue.Queue()
        deaths = []  # (detected at, broker name, exit code, log)
        running = 0

        def worker(client, fname, name, t0):
            scenv = dict(env, SKUA_SCRATCH=os.path.join(workdir, "scratch", f"{client}_{name}"))
            timeout = glob_value(TIMEOUTS, f"{client}/{name}", args.timeout)
            logpath = os.path.join(workdir, "logs", f"{client}_{name}.log")
            try:
                ok, reason = run_scenario(py, fname, name, scenv, timeout, logpath)
            except Exception as e:  # noqa: BLE001 - reported as the scenario's failure
                ok, reason = False, f"runner error: {type(e).__name__}: {e}"
            results.put((client, name, t0, ok, reason, logpath))

        def check_brokers():
            for b in brokers.values():
                if b.died():
                    deaths.append((time.monotonic(), b.name, b.proc.returncode, os.path.relpath(b.log, HERE)))
                    b.start()  # keep the rest of the suite meaningful

        while todo or running:
            while todo and running < max(1, args.jobs):
                client, fname, name = todo.pop(0)
                threading.Thread(target=worker, args=(client, fname, name, time.monotonic()), daemon=True).start()
                running += 1
            try:
                client, name, t0, ok, reason, logpath = results.get(timeout=0.2)
            except queue.Empty:
                check_brokers()
                continue
            running -= 1
            check_brokers()
            dt = time.monotonic() - t0
            # a broker that died while this scenario ran fails it (with JOBS > 1 possibly along with
            # the scenarios that ran beside it: the suite cannot tell which one killed it)
            dead = [d for d in deaths if d[0] >= t0]
            if dead:
                ok = False
                what = ", ".join(f"'{n}' with code {rc}" + (" (a clean shutdown: SIGTERM/SIGINT from outside the suite?)"
                                                            if rc == 0 else "") + f" (log {log})"
                                 for _, n, rc, log in dead)
                reason = f"broker exited during this scenario: {what}; scenario said: {reason}"
            if ok:
                passed += 1
                print(f"PASS {client}/{name}", flush=True)
            else:
                failed += 1
                print(f"FAIL {client}/{name}: {reason}", flush=True)
            print(f"#   {dt:.1f}s, log {os.path.relpath(logpath, HERE)}", file=sys.stderr, flush=True)

        if want_sigterm:
            problems = []
            for b in brokers.values():
                rc, secs, clean = b.stop(15)
                if not clean or rc != 0:
                    problems.append(f"{b.name}: exit code {rc} after {secs:.1f}s" +
                                    ("" if clean else " (did not exit within 15s of SIGTERM; killed)"))
            if problems:
                failed += 1
                print(f"FAIL broker/sigterm_shutdown: {'; '.join(problems)}", flush=True)
            else:
                passed += 1
                print("PASS broker/sigterm_shutdown", flush=True)
    except KeyboardInterrupt as e:
        print(f"# interrupted ({e})", file=sys.stderr)
        failed += 1
    except RuntimeError as e:
        print(f"FAIL suite/setup: {e}", flush=True)
        failed += 1
    finally:
        cleanup()
    print(f"# total {time.monotonic() - t_start:.0f}s", file=sys.stderr)
    print(f"{passed} passed, {failed} failed", flush=True)
    if failed == 0 and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
