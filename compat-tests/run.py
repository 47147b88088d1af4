#!/usr/bin/env python3
"""skua compat-suite runner.

usage: run.sh [--bin PATH] [--timeout SECONDS] [-j JOBS] [--keep] [FILTER ...]

Starts the brokers it needs on free 127.0.0.1 ports with data dirs under .work/, runs every
scenario (a subprocess each, with a timeout; JOBS of them at a time, longest first), prints one
line per scenario as it finishes (`PASS client/scenario` or `FAIL client/scenario: reason`) and a
final `N passed, M failed` (`, K skipped` when some were skipped). FILTER selects scenarios: a glob
(`kafkajs/*`, `*/codec_*`) or a substring (`codec`). Every process it started is stopped, by pid, on
every way out.

Scenarios of CLUSTER_FILES need a three-node cluster: when any is selected and the binary has
cluster support (`skua serve --help` offers --controller-listen, or SKUA_COMPAT_CLUSTER=1; =0
turns them off), the runner starts one cluster and runs those scenarios one at a time beside the
others (they kill and restart its nodes through the runner's control socket, see ClusterControl);
without cluster support they are reported as `SKIP client/scenario: reason`.
"""

import argparse
import fnmatch
import json
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
import seclib  # noqa: E402

# client name -> scenario file; run in this order
CLIENTS = [
    ("kcat", "kcat.py"),
    ("confluent", "confluent.py"),
    ("kafka-python", "kpython.py"),
    ("aiokafka", "aiok.py"),
    ("kafkajs", "kafkajs.py"),
    ("raw", "raw.py"),
    ("sarama", "sarama.py"),
    ("kafka-go", "kafkago.py"),
    ("confluent", "crash.py"),
    ("kcat", "txn_kcat.py"),
    ("confluent", "txn.py"),
    ("kafka-python", "txn_kpython.py"),
    ("aiokafka", "txn_aiok.py"),
    ("kafkajs", "txn_kafkajs.py"),
    ("confluent", "configs.py"),
    ("confluent", "admin_apis.py"),
    ("confluent", "consumer_protocol.py"),
    ("share", "share.py"),
    ("confluent", "telemetry.py"),
    ("confluent", "schema_registry.py"),
    ("confluent", "console.py"),
    ("confluent", "rest_proxy.py"),
    ("confluent", "acls.py"),
    ("confluent", "quotas.py"),
    ("confluent", "scram.py"),
    ("cluster", "cluster.py"),
    ("security", "secure.py"),
    ("docs", "docs_walkthrough.py"),
]
# scenario files that need the `secure` broker (TLS/mTLS/SASL listeners, certificates made with openssl)
SECURE_FILES = {"secure.py"}
# scenario files that run against the three-node cluster, one scenario at a time
CLUSTER_FILES = {"cluster.py"}
# per-scenario timeouts (glob on client/scenario -> seconds); everything else DEFAULT_TIMEOUT
TIMEOUTS = {"confluent/crash_kill9": 400, "cluster/*": 180, "*/group_many_20": 180, "*/group_restart": 150,
            "*/group_kill9_evict": 120, "*/txn_idempotent_restart": 240, "*/txn_idempotent_kill9": 240,
            "*/txn_consume_transform_produce": 150, "confluent/kip848_online_*": 150,
            "kafka-python/fetch_sessions_many": 180, "share/share_lock_expiry": 120,
            "confluent/console_browser": 180}
DEFAULT_TIMEOUT = 90
# rough durations in seconds (2 cores), to start the long ones first; everything else ~2 s
EXPECTED = {"cluster/*": 20, "*/group_kill9_evict": 10, "kcat/group_balanced": 11, "confluent/group_initial_delay": 8,
            "confluent/crash_kill9": 8, "confluent/segments_restart": 7, "*/group_many_20": 5,
            "*/group_restart": 5, "*/group_static": 5, "*/group_cooperative": 5, "*/group_handover": 4,
            "*/txn_consume_transform_produce": 9, "confluent/txn_timeout": 8, "confluent/txn_broker_*": 6,
            "*/txn_idempotent_restart": 5, "*/txn_idempotent_kill9": 5, "confluent/txn_commit": 5,
            "confluent/kip848_online_*": 15, "confluent/kip848_kill9": 10,
            "kafka-python/fetch_sessions_many": 40, "confluent/quota_throttled_producer": 8,
            "share/share_three_consumers_one_partition": 12, "share/share_consumer_killed": 12,
            "share/share_broker_*": 10, "share/share_lock_expiry": 36, "share/share_delivery_limit": 8, "share/share_reject": 10,
            "share/share_dlq_once_*": 10, "share/share_redelivery_backoff": 6, "share/share_dlq_delivery_limit_*": 5,
            "share/share_delayed_delivery": 5, "share/share_auto_offset_reset_*": 5,
            "confluent/console_browser": 25}
DEFAULT_JOBS = 2

# broker name -> extra flags
BROKERS = {
    "main": [],
    "np4": ["--set", "num.partitions=4", "--advertise", "localhost:{port}"],
    "noauto": ["--set", "auto.create.topics.enable=false"],
    "groups": ["--set", "group.initial.rebalance.delay.ms=0",
               # KIP-848 consumer groups (consumer_protocol.py): fast heartbeats, short sessions
               "--set", "group.consumer.heartbeat.interval.ms=500",
               "--set", "group.consumer.min.heartbeat.interval.ms=100",
               "--set", "group.consumer.session.timeout.ms=6000",
               "--set", "group.consumer.min.session.timeout.ms=1000"],
}

# the cluster: three nodes (SKUA_COMPAT_CLUSTER_NODES=1 runs the cluster scenarios against one node,
# a self-test of the suite), failure detection in seconds, internal and new topics replicated on
# every node with two in sync
CLUSTER_NODES = int(os.environ.get("SKUA_COMPAT_CLUSTER_NODES", "3"))


def cluster_sets(n):
    rf, isr = min(n, 3), min(n, 2)
    return ["broker.session.timeout.ms=3000", "broker.heartbeat.interval.ms=500",
            "replica.lag.time.max.ms=3000", f"default.replication.factor={rf}", f"min.insync.replicas={isr}",
            f"offsets.topic.replication.factor={rf}", f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={isr}", "group.initial.rebalance.delay.ms=0"]


STARTED = []  # every Popen we started (brokers and scenarios), for cleanup


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def low_free_port():
    """A free port below the ephemeral range (32768+): a node restarted on it cannot find it taken
    by some client's outgoing connection."""
    import random
    for _ in range(1000):
        port = random.randrange(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return free_port()


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

    def command(self):
        cmd = [self.binary, "serve", "--listen", self.addr, "--data-dir", self.data] + self.extra
        # Brokers run side by side: the default HTTP ports would collide.
        for flag in ("--metrics-listen", "--console-listen", "--schema-registry-listen", "--rest-proxy-listen"):
            if flag not in self.extra:
                cmd += [flag, "off"]
        return cmd

    def start(self, timeout=30):
        self.launch()
        self.wait_answering(timeout)

    def launch(self):
        """Start the process (no wait)."""
        os.makedirs(self.data, exist_ok=True)
        cmd = self.command()
        logf = open(self.log, "a")
        logf.write(f"\n===== start #{self.starts + 1}: {' '.join(cmd)}\n")
        logf.flush()
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        logf.close()
        STARTED.append(self.proc)
        self.starts += 1

    def wait_answering(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker {self.name} exited with {self.proc.returncode} at startup; see {self.log}")
            if rawproto.api_versions_ok(self.addr, timeout=1.0):
                return
            time.sleep(0.1)
        raise RuntimeError(f"broker {self.name} did not answer ApiVersions within {timeout}s; see {self.log}")

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


class ClusterNode(Broker):
    """One node (broker and controller) of the three-node cluster, started with the command line
    of issue 8: --node-id, --listen, --controller-listen, --data-dir and the voters."""

    def __init__(self, node_id, binary, workdir, controller_port):
        super().__init__(f"cluster-{node_id}", binary, workdir, [])
        self.port = low_free_port()
        self.node_id = node_id
        self.controller_port = controller_port
        self.voters = ""
        self.expected_down = False  # stopped or killed on purpose (by a scenario, through the control socket)

    def command(self):
        cmd = [self.binary, "serve", "--node-id", str(self.node_id), "--listen", self.addr,
               "--controller-listen", f"127.0.0.1:{self.controller_port}", "--data-dir", self.data,
               "--metrics-listen", "off", "--console-listen", "off", "--schema-registry-listen", "off",
               "--rest-proxy-listen", "off", "--set", f"controller.quorum.voters={self.voters}"]
        for s in cluster_sets(CLUSTER_NODES):
            cmd += ["--set", s]
        return cmd


class Cluster:
    """The three-node cluster: every node on its own broker and controller port, data under the
    work dir, log in cluster-N.log. `restore` brings every node back and waits until each one's
    Metadata lists all brokers and a controller."""

    def __init__(self, binary, workdir, n=CLUSTER_NODES):
        self.nodes = {i: ClusterNode(i, binary, workdir, low_free_port()) for i in range(1, n + 1)}
        voters = ",".join(f"{i}@127.0.0.1:{nd.controller_port}" for i, nd in self.nodes.items())
        for nd in self.nodes.values():
            nd.voters = voters
        self.lock = threading.Lock()
        self.deaths = []  # (detected at, node name, exit code, log) of nodes that died unasked

    @property
    def bootstrap(self):
        return ",".join(nd.addr for nd in self.nodes.values())

    def start(self, timeout=60):
        for nd in self.nodes.values():
            nd.launch()
        for nd in self.nodes.values():
            nd.wait_answering(timeout)
        self.wait_formed(timeout)

    def problem(self):
        """None when every node's Metadata lists all brokers and a controller, else what is wrong."""
        want = sorted(self.nodes)
        for nd in self.nodes.values():
            if nd.proc is None or nd.proc.poll() is not None:
                return f"node {nd.node_id} is not running"
            try:
                s = rawproto.connect(nd.addr, timeout=3)
                try:
                    s.sendall(rawproto.metadata_v1([], correlation_id=5))
                    _, r = rawproto.recv_response(s)
                    md = rawproto.parse_metadata_v1(r)
                finally:
                    s.close()
            except (OSError, EOFError, ValueError) as e:
                return f"node {nd.node_id}: Metadata: {e}"
            ids = sorted(b[0] for b in md["brokers"] or [])
            if ids != want:
                return f"node {nd.node_id} lists brokers {ids}"
            if md["controller"] < 0:
                return f"node {nd.node_id} knows no controller"
        return None

    def wait_formed(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            why = self.problem()
            if why is None:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not form within {timeout}s: {why}; "
                                   f"logs {', '.join(os.path.relpath(nd.log, HERE) for nd in self.nodes.values())}")
            time.sleep(0.2)

    def node(self, i):
        nd = self.nodes.get(int(i))
        if nd is None:
            raise ValueError(f"no node {i}")
        return nd

    def kill9(self, i):
        nd = self.node(i)
        with self.lock:
            nd.expected_down = True
            if nd.proc.poll() is None:
                nd.proc.kill()
        nd.proc.wait(10)
        return nd.proc.returncode

    def stop(self, i, timeout=30):
        nd = self.node(i)
        with self.lock:
            nd.expected_down = True
        rc, secs, clean = nd.stop(timeout)
        if not clean:
            raise RuntimeError(f"node {i} did not exit within {timeout}s of SIGTERM (killed)")
        return rc

    def start_node(self, i, timeout=60):
        nd = self.node(i)
        with self.lock:
            if nd.proc is not None and nd.proc.poll() is None:
                raise ValueError(f"node {i} is running")
            nd.launch()
            nd.expected_down = False
        nd.wait_answering(timeout)

    def check(self):
        """Record and restart nodes that died without being asked to."""
        with self.lock:
            for nd in self.nodes.values():
                if not nd.expected_down and nd.died():
                    self.deaths.append((time.monotonic(), nd.name, nd.proc.returncode, os.path.relpath(nd.log, HERE)))
                    nd.launch()

    def restore(self, timeout=60):
        for nd in self.nodes.values():
            if nd.proc is None or nd.proc.poll() is not None:
                self.start_node(nd.node_id, timeout)
        self.wait_formed(timeout)


class ClusterControl:
    """The cluster scenarios' handle on the cluster (scenarios/clusterlib.py): a TCP socket on
    127.0.0.1, one command per connection, one JSON line back ({"ok": result} or {"error": text}):
    `nodes` -> [{id, addr, pid, alive}], `kill9 N`, `stop N` (SIGTERM, wait; -> exit code),
    `start N` (waits until it answers ApiVersions), `formed` (waits until every node lists every
    broker). The runner owns the processes, so they survive the scenario that stopped them."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.closing = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(120)
                try:
                    line = conn.makefile("r").readline().split()
                    reply = {"ok": self.run(line)}
                except Exception as e:  # noqa: BLE001 - reported to the scenario
                    reply = {"error": f"{type(e).__name__}: {e}"}
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    pass

    def run(self, cmd):
        c = self.cluster
        if cmd == ["nodes"]:
            return [{"id": nd.node_id, "addr": nd.addr, "pid": nd.proc.pid if nd.proc else None,
                     "alive": nd.proc is not None and nd.proc.poll() is None} for nd in c.nodes.values()]
        if cmd == ["formed"]:
            c.wait_formed(60)
            return True
        if len(cmd) == 2 and cmd[0] == "kill9":
            return c.kill9(cmd[1])
        if len(cmd) == 2 and cmd[0] == "stop":
            return c.stop(cmd[1])
        if len(cmd) == 2 and cmd[0] == "start":
            c.start_node(cmd[1])
            return True
        raise ValueError(f"unknown command {cmd}")

    def close(self):
        self.closing = True
        self.thread.join(5)
        self.sock.close()


def cluster_support(binary):
    """(supported, why). SKUA_COMPAT_CLUSTER=1 / 0 decides; otherwise the binary must offer
    --controller-listen in `serve --help`."""
    forced = os.environ.get("SKUA_COMPAT_CLUSTER")
    if forced == "1":
        return True, "SKUA_COMPAT_CLUSTER=1"
    if forced == "0":
        return False, "cluster scenarios turned off (SKUA_COMPAT_CLUSTER=0)"
    try:
        out = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=30)
        text = out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"`skua serve --help` failed: {e}"
    if "--controller-listen" in text:
        return True, "`skua serve --help` offers --controller-listen"
    return False, "no cluster support (`skua serve --help` offers no --controller-listen; SKUA_COMPAT_CLUSTER=1 forces)"


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
    lines = (out or "").splitlines()
    skip = [l[len("SKIP: "):] for l in lines if l.startswith("SKIP: ")]
    if proc.returncode == 0 and not timed_out and skip:
        return "skip", skip[-1][:500]
    ok = proc.returncode == 0 and not timed_out and "OK" in lines
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
    # SKUA_COMPAT_SKIP=client/scenario,...: known failures under investigation, reported as
    # SKIP (never as PASS) so that they stay visible in every run's summary.
    known = {k.strip() for k in os.environ.get("SKUA_COMPAT_SKIP", "").split(",") if k.strip()}
    skipped = 0
    for c, _, n in [s for s in scenarios if f"{s[0]}/{s[2]}" in known]:
        print(f"SKIP {c}/{n}: known failure under investigation (SKUA_COMPAT_SKIP)", flush=True)
        skipped += 1
    scenarios = [s for s in scenarios if f"{s[0]}/{s[2]}" not in known]
    # the cluster scenarios run only against a binary with cluster support; otherwise SKIP
    cluster_scens = [s for s in scenarios if s[1] in CLUSTER_FILES]
    if cluster_scens:
        supported, why = cluster_support(binary)
        print(f"# cluster scenarios: {'on' if supported else 'off'} ({why})", file=sys.stderr, flush=True)
        if not supported:
            for c, _, n in cluster_scens:
                print(f"SKIP {c}/{n}: {why}", flush=True)
            skipped += len(cluster_scens)
            scenarios = [s for s in scenarios if s[1] not in CLUSTER_FILES]
            cluster_scens = []
            if not scenarios and not want_sigterm:
                print(f"0 passed, 0 failed, {skipped} skipped", flush=True)
                return 0
    want_cluster_sigterm = bool(cluster_scens) and selected("cluster/sigterm_shutdown", filters)

    work_root = os.path.join(HERE, ".work")
    os.makedirs(work_root, exist_ok=True)
    # keep the last few runs only (and nothing else there, e.g. setup.sh's go/ build, is touched)
    for old in sorted(d for d in os.listdir(work_root) if d.startswith("run-"))[:-4]:
        shutil.rmtree(os.path.join(work_root, old), ignore_errors=True)
    workdir = os.path.join(work_root, time.strftime("run-%Y%m%d-%H%M%S") + f"-{os.getpid()}")
    os.makedirs(os.path.join(workdir, "logs"))
    print(f"# broker {binary}; work dir {os.path.relpath(workdir, HERE)}", file=sys.stderr, flush=True)
    # run a private copy: a concurrent `cargo build` must not swap the binary under a running suite
    shutil.copy2(binary, os.path.join(workdir, "skua"))
    binary = os.path.join(workdir, "skua")

    passed = failed = 0
    brokers = {}
    cluster = control = None
    try:
        for name, extra in BROKERS.items():
            b = Broker(name, binary, workdir, extra)
            brokers[name] = b
            b.start()
        secure_ports = None
        if any(s[1] in SECURE_FILES for s in scenarios):
            # PLAINTEXT on the broker's port (the runner's liveness checks), SSL (mTLS) and SASL_SSL
            pki = seclib.make_pki(os.path.join(workdir, "pki"))
            b = Broker("secure", binary, workdir, [])
            ssl_port, sasl_port = free_port(), free_port()
            for s in seclib.secure_sets(b.port, ssl_port, sasl_port, pki):
                b.extra += ["--set", s]
            brokers["secure"] = b
            b.start()
            secure_ports = (b.addr, f"127.0.0.1:{ssl_port}", f"127.0.0.1:{sasl_port}", pki)
        if cluster_scens:
            cluster = Cluster(binary, workdir)
            try:
                cluster.start()
                control = ClusterControl(cluster)
            except RuntimeError as e:
                # the cluster scenarios fail; the rest of the suite runs
                for c, _, n in cluster_scens:
                    failed += 1
                    print(f"FAIL {c}/{n}: cluster setup: {e}", flush=True)
                scenarios = [s for s in scenarios if s[1] not in CLUSTER_FILES]
                want_cluster_sigterm = False
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
        if secure_ports is not None:
            env.update(dict(zip(("SKUA_SECURE_PLAINTEXT", "SKUA_SECURE_SSL", "SKUA_SECURE_SASL_SSL", "SKUA_PKI"),
                                secure_ports)))
        if control is not None:
            env.update({"SKUA_CLUSTER_BOOTSTRAP": cluster.bootstrap, "SKUA_CLUSTER_CONTROL": control.addr})
        # longest first (stable otherwise), JOBS at a time; results print as they finish
        todo = sorted(scenarios, key=lambda s: -glob_value(EXPECTED, f"{s[0]}/{s[2]}", 2))
        results = queue.Queue()
        deaths = []  # (detected at, broker name, exit code, log)
        running = 0
        cluster_busy = False  # a cluster scenario (or the cluster's recovery after it) is running

        def worker(client, fname, name, t0):
            scenv = dict(env, SKUA_SCRATCH=os.path.join(workdir, "scratch", f"{client}_{name}"))
            timeout = glob_value(TIMEOUTS, f"{client}/{name}", args.timeout)
            logpath = os.path.join(workdir, "logs", f"{client}_{name}.log")
            try:
                ok, reason = run_scenario(py, fname, name, scenv, timeout, logpath)
            except Exception as e:  # noqa: BLE001 - reported as the scenario's failure
                ok, reason = False, f"runner error: {type(e).__name__}: {e}"
            if fname in CLUSTER_FILES:
                # every node back and agreed before the next cluster scenario
                try:
                    cluster.restore()
                except Exception as e:  # noqa: BLE001 - reported as the scenario's failure
                    ok, reason = False, f"the cluster did not recover after the scenario: {e}; scenario said: {reason}"
            results.put((client, fname, name, t0, ok, reason, logpath))

        def check_brokers():
            for b in brokers.values():
                if b.died():
                    deaths.append((time.monotonic(), b.name, b.proc.returncode, os.path.relpath(b.log, HERE)))
                    b.start()  # keep the rest of the suite meaningful
            if cluster is not None:
                cluster.check()

        def next_scenario():
            """The first scenario that may start now: cluster scenarios run one at a time."""
            for i, s in enumerate(todo):
                if s[1] not in CLUSTER_FILES or not cluster_busy:
                    return todo.pop(i)
            return None

        while todo or running:
            while todo and running < max(1, args.jobs):
                picked = next_scenario()
                if picked is None:
                    break
                client, fname, name = picked
                cluster_busy = cluster_busy or fname in CLUSTER_FILES
                threading.Thread(target=worker, args=(client, fname, name, time.monotonic()), daemon=True).start()
                running += 1
            try:
                client, fname, name, t0, ok, reason, logpath = results.get(timeout=0.2)
            except queue.Empty:
                check_brokers()
                continue
            running -= 1
            if fname in CLUSTER_FILES:
                cluster_busy = False
            check_brokers()
            dt = time.monotonic() - t0
            # a broker that died while this scenario ran fails it (with JOBS > 1 possibly along with
            # the scenarios that ran beside it: the suite cannot tell which one killed it); a cluster
            # node that died unasked fails the cluster scenario that was running
            dead = [d for d in deaths if d[0] >= t0]
            if fname in CLUSTER_FILES:
                dead += [d for d in cluster.deaths if d[0] >= t0]
            if dead:
                ok = False
                what = ", ".join(f"'{n}' with code {rc}" + (" (a clean shutdown: SIGTERM/SIGINT from outside the suite?)"
                                                            if rc == 0 else "") + f" (log {log})"
                                 for _, n, rc, log in dead)
                reason = f"broker exited during this scenario: {what}; scenario said: {reason}"
            if ok == "skip":
                skipped += 1
                print(f"SKIP {client}/{name}: {reason}", flush=True)
            elif ok:
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
        if want_cluster_sigterm:
            # one node after the other: the last ones stop without a quorum and must still exit
            problems = []
            for nd in cluster.nodes.values():
                nd.expected_down = True
                rc, secs, clean = nd.stop(30)
                if not clean or rc != 0:
                    problems.append(f"{nd.name}: exit code {rc} after {secs:.1f}s" +
                                    ("" if clean else " (did not exit within 30s of SIGTERM; killed)"))
            if problems:
                failed += 1
                print(f"FAIL cluster/sigterm_shutdown: {'; '.join(problems)}", flush=True)
            else:
                passed += 1
                print("PASS cluster/sigterm_shutdown", flush=True)
    except KeyboardInterrupt as e:
        print(f"# interrupted ({e})", file=sys.stderr)
        failed += 1
    except RuntimeError as e:
        print(f"FAIL suite/setup: {e}", flush=True)
        failed += 1
    finally:
        if control is not None:
            control.close()
        cleanup()
    print(f"# total {time.monotonic() - t_start:.0f}s", file=sys.stderr)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""), flush=True)
    if failed == 0 and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
