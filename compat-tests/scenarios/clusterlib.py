"""Helpers for the three-node cluster scenarios (cluster.py).

The runner (run.py) starts the cluster and passes it through the environment:
  SKUA_CLUSTER_BOOTSTRAP  every node's broker address, comma-separated
  SKUA_CLUSTER_CONTROL    the runner's control socket: `nodes`, `kill9 N`, `stop N`, `start N`,
                          `formed` (see ClusterControl in run.py). The runner owns the node
                          processes: a node a scenario kills stays down until the scenario starts
                          it again, and the runner brings every node back after the scenario.

Views come from raw Metadata v1 requests to each running node's own listener; the waits poll every
running node until all of them agree (bounded deadlines).
"""

import json
import socket
import struct
import time

import rawproto
from common import Fail, check, env

COORDINATOR_GROUP = 0
COORDINATOR_TXN = 1


def boot_cluster():
    return env("SKUA_CLUSTER_BOOTSTRAP")


def control(*cmd, timeout=150):
    host, port = env("SKUA_CLUSTER_CONTROL").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.settimeout(timeout)
        s.sendall((" ".join(str(c) for c in cmd) + "\n").encode())
        line = s.makefile("r").readline()
    if not line:
        raise Fail(f"cluster control `{' '.join(map(str, cmd))}`: no answer")
    reply = json.loads(line)
    if "error" in reply:
        raise Fail(f"cluster control `{' '.join(map(str, cmd))}`: {reply['error']}")
    return reply["ok"]


def nodes():
    """[{id, addr, pid, alive}] of every node."""
    return control("nodes")


def node_ids():
    return [n["id"] for n in nodes()]


def alive():
    return [n for n in nodes() if n["alive"]]


def addr_of(node_id):
    return next(n["addr"] for n in nodes() if n["id"] == node_id)


def kill9(node_id):
    control("kill9", node_id)


def stop(node_id):
    return control("stop", node_id)


def start(node_id):
    """Start a stopped/killed node again and wait until every node lists every broker."""
    control("start", node_id)
    control("formed")


def metadata(addr, topics):
    """Metadata v1 from one node: {brokers: [ids], controller, topics: {name: (error, {p: state})}}
    with state = {leader, replicas, isr}."""
    s = rawproto.connect(addr, timeout=5)
    try:
        s.sendall(rawproto.metadata_v1(topics, correlation_id=3))
        _, r = rawproto.recv_response(s)
        md = rawproto.parse_metadata_v1(r)
    finally:
        s.close()
    out = {}
    for t in md["topics"] or []:
        parts = {p: {"leader": leader, "replicas": list(reps or []), "isr": list(isr or []), "error": err}
                 for err, p, leader, reps, isr in t["partitions"] or []}
        out[t["name"]] = (t["error"], parts)
    return {"brokers": sorted(b[0] for b in md["brokers"] or []), "controller": md["controller"], "topics": out}


def views(topics):
    return [(n["id"], metadata(n["addr"], topics)) for n in alive()]


def wait_partition(topic, p, pred, what, timeout=30):
    """Wait until every running node shows the same state of topic-p and pred(state) holds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            vs = views([topic])
            states = [(i, v["topics"].get(topic, (None, {}))[1].get(p)) for i, v in vs]
            last = states
            first = states[0][1]
            if first is not None and all(s == first for _, s in states) and pred(first):
                return first
        except (OSError, EOFError, ValueError) as e:
            last = e
        if time.monotonic() > deadline:
            raise Fail(f"timed out after {timeout}s waiting for {topic}-{p}: {what}; last views {last}")
        time.sleep(0.2)


def leader_of(topic, p):
    return wait_partition(topic, p, lambda s: s["leader"] >= 0, "a leader")["leader"]


def wait_leader_change(topic, p, old, timeout=30):
    """The new leader every running node agrees on (a running node other than `old`)."""
    live = {n["id"] for n in alive()}
    return wait_partition(topic, p, lambda s: s["leader"] != old and s["leader"] in live,
                          f"a leader other than {old}", timeout)["leader"]


def wait_healthy(topic, nparts, timeout=30):
    """Every partition led by a running node with its whole replica set in sync, on every node."""
    for p in range(nparts):
        wait_partition(topic, p, lambda s: s["error"] == 0 and s["leader"] in s["isr"]
                       and sorted(s["isr"]) == sorted(s["replicas"]) and len(s["replicas"]) > 0,
                       "a full ISR", timeout)


def create_topic(name, nparts, config=None):
    """A topic replicated on every node (min.insync.replicas 2 when there are three), fully in sync."""
    from confluent_kafka.admin import AdminClient, NewTopic
    n = len(nodes())
    conf = {"min.insync.replicas": str(min(n, 2))}
    conf.update(config or {})
    a = AdminClient({"bootstrap.servers": boot_cluster()})
    fs = a.create_topics([NewTopic(name, num_partitions=nparts, replication_factor=n, config=conf)],
                         operation_timeout=15, request_timeout=20)
    fs[name].result(timeout=30)
    wait_healthy(name, nparts)
    for p in range(nparts):
        s = wait_partition(name, p, lambda s: True, "metadata")
        check(len(s["replicas"]) == n, f"{name}-{p}: replicas {s['replicas']}, expected {n} (one per node)")
    return n


def find_coordinator(key, key_type, timeout=30):
    """FindCoordinator v1 (group: key_type 0, transaction: 1) asked of the running nodes until one
    answers without error: the coordinator's node id."""
    body = rawproto._str(key) + struct.pack(">b", key_type)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for n in alive():
            try:
                s = rawproto.connect(n["addr"], timeout=5)
                try:
                    s.sendall(rawproto.frame(10, 1, 11, body))
                    _, r = rawproto.recv_response(s)
                finally:
                    s.close()
                r.i32()  # throttle
                err, msg, node = r.i16(), r.string(), r.i32()
                if err == 0:
                    return node
                last = f"node {n['id']}: error {err} {msg}"
            except (OSError, EOFError, ValueError) as e:
                last = f"node {n['id']}: {e}"
        time.sleep(0.2)
    raise Fail(f"FindCoordinator({key!r}, type {key_type}) found none within {timeout}s; last: {last}")


def fail_over(node_id, topic=None, p=0):
    """kill -9 `node_id`; with more than one node, and a topic given, wait until topic-p has another
    leader and return it (else None). A one-node cluster (SKUA_COMPAT_CLUSTER_NODES=1, a self-test of
    the suite) is restarted at once instead: there is nobody to fail over to."""
    kill9(node_id)
    if len(nodes()) == 1:
        start(node_id)
        return None
    if topic is not None:
        return wait_leader_change(topic, p, node_id)
    return None


def restore(node_id):
    """Start `node_id` again if it is down; wait until every node lists every broker."""
    if not any(n["id"] == node_id and n["alive"] for n in nodes()):
        control("start", node_id)
    control("formed")
