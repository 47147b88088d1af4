#!/usr/bin/env python3
"""A consume-transform-produce processor (confluent-kafka) for txn.py's txn_consume_transform_produce.

usage: python txn_agent.py '<config json>'
  config = {"bootstrap", "input", "output", "group", "txid", "batch" (records per transaction, at
            most), "hang_at" (transaction number, or null), "end" ({partition: end offset of the input}),
            "session_ms"}

The processor first calls init_transactions() (which aborts whatever an earlier instance with the
same transactional.id left open), then subscribes to `input` in group `group` (isolation.level
read_committed, no auto commit). For every consume() batch (<= `batch` records) it runs one
transaction: produce each record to `output`, same partition, key kept, value b"T:" + value; send
the next offsets of the batch with send_offsets_to_transaction(); commit. Transaction number
`hang_at` is left open after its records were flushed and its offsets sent: the processor reports
"in_txn" and waits to be killed. When its position reached `end` on every input partition it
reports "done", closes the consumer and exits.

events (JSON lines on stdout, each with "ev" and "t"): ready {}; assign {parts};
txn {n, recs: [[partition, offset], ...], offsets: {partition: next}}; in_txn {n, recs, offsets};
done {positions}; error {error}
"""

import json
import sys
import time
import traceback


def emit(**ev):
    ev["t"] = time.time()
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


def main():
    from confluent_kafka import Producer, Consumer, TopicPartition
    cfg = json.loads(sys.argv[1])
    end = {int(k): v for k, v in cfg["end"].items()}
    p = Producer({"bootstrap.servers": cfg["bootstrap"], "transactional.id": cfg["txid"], "linger.ms": 5,
                  "transaction.timeout.ms": 60000})
    p.init_transactions(60)
    emit(ev="ready")
    c = Consumer({"bootstrap.servers": cfg["bootstrap"], "group.id": cfg["group"], "isolation.level": "read_committed",
                  "enable.auto.commit": False, "enable.auto.offset.store": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": cfg.get("session_ms", 6000), "heartbeat.interval.ms": 500,
                  "fetch.wait.max.ms": 100, "enable.partition.eof": False})

    def on_assign(cons, parts):
        emit(ev="assign", parts=sorted(tp.partition for tp in parts))
    c.subscribe([cfg["input"]], on_assign=on_assign)
    n = 0
    while True:
        msgs = c.consume(num_messages=cfg["batch"], timeout=0.5)
        for m in msgs:
            if m.error():
                raise RuntimeError(f"consume error: {m.error()}")
        if not msgs:
            assigned = c.assignment()
            if assigned and {tp.partition for tp in assigned} == set(end):
                pos = {tp.partition: tp.offset for tp in c.position(assigned)}
                if all(pos[q] >= end[q] for q in end):
                    emit(ev="done", positions=pos)
                    c.close()
                    return
            continue
        n += 1
        p.begin_transaction()
        offsets = {}
        recs = []
        for m in msgs:
            while True:
                try:
                    p.produce(cfg["output"], key=m.key(), value=b"T:" + m.value(), partition=m.partition())
                    break
                except BufferError:
                    p.poll(0.05)
            offsets[m.partition()] = m.offset() + 1
            recs.append([m.partition(), m.offset()])
        if n == cfg.get("hang_at"):
            # the records are in the output log, the offsets pending in the group: then nothing
            left = p.flush(30)
            if left:
                raise RuntimeError(f"{left} records undelivered before the hang")
        p.send_offsets_to_transaction([TopicPartition(cfg["input"], q, o) for q, o in sorted(offsets.items())],
                                      c.consumer_group_metadata(), 30)
        if n == cfg.get("hang_at"):
            emit(ev="in_txn", n=n, recs=recs, offsets=offsets)
            while True:
                time.sleep(1)
        p.commit_transaction(30)
        emit(ev="txn", n=n, recs=recs, offsets=offsets)


if __name__ == "__main__":
    try:
        main()
    except BaseException as e:  # noqa: BLE001 - reported as an event
        traceback.print_exc()
        emit(ev="error", error=f"{type(e).__name__}: {e}")
        sys.exit(1)
