#!/usr/bin/env python3
"""A consumer-group agent: hosts one or more group consumers of one Python client and reports
what they do as JSON lines on stdout. The scenarios (groups.py) start it as a subprocess, drive it
with JSON commands on stdin and make every assertion themselves.

usage: python group_agent.py '<config json>'
  config = {"client": "confluent" | "kafka-python" | "aiokafka", "bootstrap": "host:port",
            "consumers": [{"name", "group", "topics", "client_id", "instance_id" (static member or null),
                           "session_ms", "heartbeat_ms", "strategy" ("range" | "roundrobin" |
                           "cooperative-sticky"), "commit" ("batch" | "manual"), "extra": {client config},
                           "protocol" (confluent only: "consumer" for group.protocol=consumer, KIP-848;
                           session_ms, heartbeat_ms and strategy are then the broker's)}]}

commit modes:
  batch   after every poll batch the consumer commits (synchronously) the next offset of each
          partition it read, and reports those records ("msgs") only once the commit succeeded; a
          record whose commit failed is reported when a later commit covers it, or never if its
          partition was revoked (it is then redelivered to the next owner from the committed
          offset). So across a group, "msgs" are exactly the committed records: a record reported
          twice is a real duplicate, a record never reported was lost.
  manual  records are reported as they are delivered; commits only on a "commit" command.

events (one JSON object a line, each with "ev", "c" (consumer name) and "t" (unix time)):
  subscribed; assign {mode: eager|incr, added, owned, member}; revoke {mode, removed, owned};
  lost {removed}; msgs {recs: [[topic, partition, offset, key, value], ...]};
  commit {ok, error, offsets}; commit_error {error} (batch mode); committed {offsets};
  error {error}; log {level, msg} (client log lines naming an unknown member id);
  closed {secs}; fatal {error}
commands (stdin, one JSON object a line):
  {"cmd": "commit", "c": name, "offsets": [[topic, partition, offset, metadata], ...]}
  {"cmd": "committed", "c": name, "parts": [[topic, partition], ...]}
  {"cmd": "close", "c": name}      close the consumer (a dynamic member sends LeaveGroup)
  {"cmd": "exit"}                   exit the process at once, closing nothing
Client log lines (INFO and up) go to stderr, which the scenarios keep in scratch/agent-LABEL.log;
GROUP_AGENT_LOG_LEVEL=DEBUG in the environment logs kafka-python / aiokafka at DEBUG for debugging.
"""

import json
import logging
import os
import queue
import re
import sys
import threading
import time
import traceback

OUT = threading.Lock()
LEAK = re.compile(r"UNKNOWN_MEMBER_ID|UnknownMemberId|Unknown member", re.I)


def emit(**ev):
    ev["t"] = time.time()
    line = json.dumps(ev)
    with OUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def txt(b):
    return None if b is None else b.decode("utf-8", "replace")


class LogToEvents(logging.Handler):
    """Client log lines go to stderr; those naming an unknown member id also become events."""

    def __init__(self, name):
        super().__init__(logging.DEBUG)
        self.cname = name

    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001
            msg = str(record.msg)
        if record.levelno >= logging.INFO or os.environ.get("GROUP_AGENT_LOG_LEVEL") == "DEBUG":
            sys.stderr.write(f"[{self.cname}] {record.threadName} {record.levelname} {record.name}: {msg}\n")
        if LEAK.search(msg):
            emit(ev="log", c=self.cname, level=record.levelname, msg=msg[:500])


class Tracker:
    """Records delivered but not yet covered by a successful commit (batch mode)."""

    def __init__(self, name, mode):
        self.name = name
        self.mode = mode
        self.pending = {}  # (topic, partition) -> {offset: rec}

    def add(self, recs):
        if not recs:
            return
        if self.mode != "batch":
            emit(ev="msgs", c=self.name, recs=recs)
            return
        for r in recs:
            self.pending.setdefault((r[0], r[1]), {})[r[2]] = r

    def to_commit(self, parts=None):
        """{(topic, partition): next offset} for pending records (of `parts`, if given)."""
        return {tp: max(offs) + 1 for tp, offs in self.pending.items() if offs and (parts is None or tp in parts)}

    def committed(self, offsets):
        out = []
        for tp, nxt in offsets.items():
            offs = self.pending.get(tp, {})
            for off in sorted(o for o in offs if o < nxt):
                out.append(offs.pop(off))
        if out:
            emit(ev="msgs", c=self.name, recs=out)

    def drop(self, parts):
        for tp in parts:
            self.pending.pop(tp, None)


def tpl(parts):
    return sorted([tp.topic, tp.partition] for tp in parts)


# ----------------------------------------------------------------------------- confluent-kafka

def run_confluent(cfg, bootstrap, cmds):
    from confluent_kafka import Consumer, TopicPartition, KafkaException
    name = cfg["name"]
    tracker = Tracker(name, cfg.get("commit", "batch"))
    log = logging.getLogger(f"rdkafka.{name}")
    log.setLevel(logging.DEBUG)
    log.addHandler(LogToEvents(name))
    log.propagate = False
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": cfg["group"],
        "client.id": cfg.get("client_id") or name,
        "session.timeout.ms": cfg.get("session_ms", 10000),
        "heartbeat.interval.ms": cfg.get("heartbeat_ms", 500),
        "partition.assignment.strategy": cfg.get("strategy", "range"),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
        "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": 2000,
        "logger": log,
    }
    if cfg.get("instance_id"):
        conf["group.instance.id"] = cfg["instance_id"]
    if cfg.get("protocol") == "consumer":
        # KIP-848: the broker assigns and times sessions; librdkafka refuses the classic knobs
        conf["group.protocol"] = "consumer"
        for k in ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy"):
            del conf[k]
    conf.update(cfg.get("extra") or {})
    c = Consumer(conf)

    def cooperative():
        # confluent-kafka has no rebalance_protocol(); cooperative-sticky is the only cooperative
        # classic assignor, and the consumer protocol (KIP-848) is always incremental
        return conf.get("group.protocol") == "consumer" or \
            conf.get("partition.assignment.strategy") == "cooperative-sticky"

    def commit(offsets, metadata=None):
        """Synchronous commit; returns None or an error string."""
        tps = []
        for (t, p), o in offsets.items():
            m = (metadata or {}).get((t, p))
            tps.append(TopicPartition(t, p, o) if m is None else TopicPartition(t, p, o, metadata=m))
        try:
            res = c.commit(offsets=tps, asynchronous=False)
        except KafkaException as e:
            return f"{e.args[0].name()}: {e.args[0].str()}"
        errs = [f"{tp.topic}/{tp.partition}: {tp.error}" for tp in res or [] if tp.error is not None]
        return "; ".join(errs) or None

    def flush_pending(parts=None):
        offs = tracker.to_commit(parts)
        if offs:
            err = commit(offs)
            if err is None:
                tracker.committed(offs)
            else:
                emit(ev="commit_error", c=name, error=err, offsets=sorted([t, p, o] for (t, p), o in offs.items()))

    def assignment(cons):
        # during close() librdkafka raises a KafkaError object (not an Exception subclass) here
        try:
            return tpl(cons.assignment())
        except:  # noqa: E722
            return []

    def on_assign(cons, parts):
        incr = cooperative()
        if incr:
            cons.incremental_assign(parts)
        else:
            cons.assign(parts)
        emit(ev="assign", c=name, mode="incr" if incr else "eager", added=tpl(parts), owned=assignment(cons),
             member=cons.memberid())

    def on_revoke(cons, parts):
        keys = {(tp.topic, tp.partition) for tp in parts}
        if tracker.mode == "batch":
            flush_pending(keys)  # commit what was read before giving the partitions up
        tracker.drop(keys)
        incr = cooperative()
        if incr:
            cons.incremental_unassign(parts)
        else:
            cons.unassign()
        emit(ev="revoke", c=name, mode="incr" if incr else "eager", removed=tpl(parts), owned=assignment(cons))

    def on_lost(cons, parts):
        tracker.drop({(tp.topic, tp.partition) for tp in parts})
        if cooperative():
            cons.incremental_unassign(parts)
        else:
            cons.unassign()
        emit(ev="lost", c=name, removed=tpl(parts), owned=assignment(cons))

    c.subscribe(cfg["topics"], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit(ev="subscribed", c=name)
    while True:
        while True:
            try:
                cmd = cmds.get_nowait()
            except queue.Empty:
                break
            if cmd["cmd"] == "close":
                t0 = time.monotonic()
                err = None
                try:
                    c.close()
                except:  # noqa: E722 - a KafkaError object, not an Exception
                    err = repr(sys.exc_info()[1])
                emit(ev="closed", c=name, secs=time.monotonic() - t0, error=err)
                return
            if cmd["cmd"] == "commit":
                offs = {(t, p): o for t, p, o, _m in cmd["offsets"]}
                err = commit(offs, {(t, p): m for t, p, _o, m in cmd["offsets"]})
                emit(ev="commit", c=name, ok=err is None, error=err, offsets=cmd["offsets"])
            elif cmd["cmd"] == "committed":
                try:
                    res = c.committed([TopicPartition(t, p) for t, p in cmd["parts"]], timeout=10)
                    emit(ev="committed", c=name, offsets=[[tp.topic, tp.partition, tp.offset, tp.metadata]
                                                          for tp in res])
                except KafkaException as e:
                    emit(ev="committed", c=name, error=str(e))
        msgs = c.consume(num_messages=500, timeout=0.1)
        recs = []
        for m in msgs:
            if m.error():
                emit(ev="error", c=name, error=f"{m.error().name()}: {m.error().str()}")
                continue
            recs.append([m.topic(), m.partition(), m.offset(), txt(m.key()), txt(m.value())])
        tracker.add(recs)
        if tracker.mode == "batch":
            flush_pending()


# ----------------------------------------------------------------------------- kafka-python

def run_kafka_python(cfg, bootstrap, cmds):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    from kafka.consumer.subscription_state import ConsumerRebalanceListener
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    import kafka.errors as Errors
    name = cfg["name"]
    tracker = Tracker(name, cfg.get("commit", "batch"))
    strategy = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
                "cooperative-sticky": CooperativeStickyAssignor}[cfg.get("strategy", "range")]
    conf = dict(bootstrap_servers=bootstrap, group_id=cfg["group"], client_id=cfg.get("client_id") or name,
                session_timeout_ms=cfg.get("session_ms", 10000), heartbeat_interval_ms=cfg.get("heartbeat_ms", 500),
                enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100,
                request_timeout_ms=30000, partition_assignment_strategy=[strategy])
    if cfg.get("instance_id"):
        conf["group_instance_id"] = cfg["instance_id"]
    conf.update(cfg.get("extra") or {})
    c = KafkaConsumer(**conf)
    incr = cfg.get("strategy") == "cooperative-sticky"

    def member():
        try:
            return c._coordinator._generation.member_id  # noqa: SLF001 - only for the report
        except Exception:  # noqa: BLE001
            return None

    class Listener(ConsumerRebalanceListener):
        # A sync listener runs on kafka-python's IO thread, where a blocking commit is not allowed;
        # batch mode commits after every poll, so only a failed commit can leave records pending:
        # those are dropped here and redelivered from the committed offset.
        def on_partitions_revoked(self, revoked):
            tracker.drop({(tp.topic, tp.partition) for tp in revoked})
            emit(ev="revoke", c=name, mode="incr" if incr else "eager", removed=tpl(revoked),
                 owned=[] if not incr else tpl(set(c.assignment()) - set(revoked)))

        def on_partitions_assigned(self, assigned):
            emit(ev="assign", c=name, mode="incr" if incr else "eager", added=tpl(assigned),
                 owned=tpl(c.assignment()), member=member())

        def on_partitions_lost(self, lost):
            tracker.drop({(tp.topic, tp.partition) for tp in lost})
            emit(ev="lost", c=name, removed=tpl(lost), owned=[])

    def commit(offsets, metadata=None):
        try:
            c.commit({TopicPartition(t, p): OffsetAndMetadata(o, (metadata or {}).get((t, p)) or "", -1)
                      for (t, p), o in offsets.items()})
            return None
        except Errors.KafkaError as e:
            return f"{type(e).__name__}: {e}"

    c.subscribe(cfg["topics"], listener=Listener())
    # kafka-python 3.0.12 bug (client side; the broker's responses are correct): the leader records
    # the coordinator's metadata snapshot with its assignment; if the first join happens before a
    # metadata update for the subscribed topics, that snapshot is {} and the update right after it
    # makes the leader rejoin. If a poll() times out while that rejoin is in flight, the next poll
    # finds need_rejoin() already False (the leader's assignment updated the snapshot), drops the
    # finished join, never takes its partitions and stops heartbeating (join_group_async). So wait
    # for the snapshot to hold the topics before the first poll (the join).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(  # {topic: set()} until the partitions are known
            (getattr(c._coordinator, "_metadata_snapshot", None) or {}).get(t) for t in cfg["topics"]):  # noqa: SLF001
        time.sleep(0.05)
    emit(ev="subscribed", c=name)
    while True:
        while True:
            try:
                cmd = cmds.get_nowait()
            except queue.Empty:
                break
            if cmd["cmd"] == "close":
                t0 = time.monotonic()
                c.close()
                emit(ev="closed", c=name, secs=time.monotonic() - t0)
                return
            if cmd["cmd"] == "commit":
                err = commit({(t, p): o for t, p, o, _m in cmd["offsets"]},
                             {(t, p): m for t, p, _o, m in cmd["offsets"]})
                emit(ev="commit", c=name, ok=err is None, error=err, offsets=cmd["offsets"])
            elif cmd["cmd"] == "committed":
                out = []
                for t, p in cmd["parts"]:
                    r = c.committed(TopicPartition(t, p), metadata=True)
                    out.append([t, p, None if r is None else r.offset, None if r is None else r.metadata])
                emit(ev="committed", c=name, offsets=out)
        recs = []
        for tp, msgs in c.poll(timeout_ms=100, max_records=500).items():
            for m in msgs:
                recs.append([m.topic, m.partition, m.offset, txt(m.key), txt(m.value)])
        tracker.add(recs)
        if tracker.mode == "batch":
            offs = tracker.to_commit()
            if offs:
                err = commit(offs)
                if err is None:
                    tracker.committed(offs)
                else:
                    emit(ev="commit_error", c=name, error=err, offsets=sorted([t, p, o] for (t, p), o in offs.items()))


# ----------------------------------------------------------------------------- aiokafka

async def run_aiokafka(cfg, bootstrap, cmds):
    import asyncio
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.abc import ConsumerRebalanceListener
    from aiokafka.structs import OffsetAndMetadata
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from aiokafka.errors import KafkaError
    name = cfg["name"]
    tracker = Tracker(name, cfg.get("commit", "batch"))
    strategy = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[cfg.get("strategy", "range")]
    conf = dict(bootstrap_servers=bootstrap, group_id=cfg["group"], client_id=cfg.get("client_id") or name,
                session_timeout_ms=cfg.get("session_ms", 10000), heartbeat_interval_ms=cfg.get("heartbeat_ms", 500),
                enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100,
                partition_assignment_strategy=(strategy,))
    if cfg.get("instance_id"):
        conf["group_instance_id"] = cfg["instance_id"]
    conf.update(cfg.get("extra") or {})
    c = AIOKafkaConsumer(**conf)

    async def commit(offsets, metadata=None):
        try:
            await c.commit({TopicPartition(t, p): OffsetAndMetadata(o, (metadata or {}).get((t, p)) or "")
                            for (t, p), o in offsets.items()})
            return None
        except KafkaError as e:
            return f"{type(e).__name__}: {e}"

    async def flush_pending(parts=None):
        offs = tracker.to_commit(parts)
        if offs:
            err = await commit(offs)
            if err is None:
                tracker.committed(offs)
            else:
                emit(ev="commit_error", c=name, error=err, offsets=sorted([t, p, o] for (t, p), o in offs.items()))

    def member():
        try:
            return c._coordinator.member_id  # noqa: SLF001 - only for the report
        except Exception:  # noqa: BLE001
            return None

    class Listener(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            keys = {(tp.topic, tp.partition) for tp in revoked}
            if tracker.mode == "batch":
                await flush_pending(keys)
            tracker.drop(keys)
            emit(ev="revoke", c=name, mode="eager", removed=tpl(revoked), owned=[])

        async def on_partitions_assigned(self, assigned):
            emit(ev="assign", c=name, mode="eager", added=tpl(assigned), owned=tpl(c.assignment()), member=member())

    await c.start()
    c.subscribe(cfg["topics"], listener=Listener())
    emit(ev="subscribed", c=name)
    while True:
        while True:
            try:
                cmd = cmds.get_nowait()
            except queue.Empty:
                break
            if cmd["cmd"] == "close":
                t0 = time.monotonic()
                await c.stop()
                emit(ev="closed", c=name, secs=time.monotonic() - t0)
                return
            if cmd["cmd"] == "commit":
                err = await commit({(t, p): o for t, p, o, _m in cmd["offsets"]},
                                   {(t, p): m for t, p, _o, m in cmd["offsets"]})
                emit(ev="commit", c=name, ok=err is None, error=err, offsets=cmd["offsets"])
            elif cmd["cmd"] == "committed":
                out = []
                for t, p in cmd["parts"]:
                    out.append([t, p, await c.committed(TopicPartition(t, p)), None])
                emit(ev="committed", c=name, offsets=out)
        recs = []
        try:
            batch = await c.getmany(timeout_ms=100, max_records=500)
        except KafkaError as e:
            emit(ev="error", c=name, error=f"{type(e).__name__}: {e}")
            await asyncio.sleep(0.1)
            continue
        for tp, msgs in batch.items():
            for m in msgs:
                recs.append([m.topic, m.partition, m.offset, txt(m.key), txt(m.value)])
        tracker.add(recs)
        if tracker.mode == "batch":
            await flush_pending()


# ----------------------------------------------------------------------------- main

def main():
    cfg = json.loads(sys.argv[1])
    client = cfg["client"]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if client in ("kafka-python", "aiokafka"):
        root = logging.getLogger("kafka" if client == "kafka-python" else "aiokafka")
        root.setLevel(os.environ.get("GROUP_AGENT_LOG_LEVEL", "INFO"))
        root.addHandler(LogToEvents(client))
        root.propagate = False
    queues = {c["name"]: queue.Queue() for c in cfg["consumers"]}
    threads = []

    def guard(name, fn, *args):
        try:
            fn(*args)
        except BaseException as e:  # noqa: BLE001 - reported to the scenario
            traceback.print_exc()
            emit(ev="fatal", c=name, error=f"{type(e).__name__}: {e}")

    if client == "aiokafka":
        import asyncio

        async def all_consumers():
            async def one(c):
                try:
                    await run_aiokafka(c, cfg["bootstrap"], queues[c["name"]])
                except BaseException as e:  # noqa: BLE001
                    traceback.print_exc()
                    emit(ev="fatal", c=c["name"], error=f"{type(e).__name__}: {e}")
            await asyncio.gather(*(one(c) for c in cfg["consumers"]))
        threads.append(threading.Thread(target=lambda: asyncio.run(all_consumers()), daemon=True))
    else:
        fn = {"confluent": run_confluent, "kafka-python": run_kafka_python}[client]
        for c in cfg["consumers"]:
            threads.append(threading.Thread(target=guard, args=(c["name"], fn, c, cfg["bootstrap"], queues[c["name"]]),
                                            daemon=True))
    for t in threads:
        t.start()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        if cmd["cmd"] == "exit":
            break
        queues[cmd["c"]].put(cmd)
    os._exit(0)  # stdin closed or "exit": leave without closing anything


if __name__ == "__main__":
    main()
