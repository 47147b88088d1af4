"""The HTTP proxy (`--rest-proxy-listen`) with confluent-kafka-python (librdkafka) on the Kafka
side, against a broker of the scenario's own:

* `rest_v3_produce`: records produced with REST v3 (BINARY, JSON, STRING, headers, timestamps,
  partitions) are read back by a librdkafka consumer exactly, at the offsets the stream answered.
* `rest_v2_mixed_group`: a REST v2 consumer instance and a librdkafka consumer in one group
  share the partitions (the classic protocol, range assignment, whichever member leads) and read
  every record librdkafka produced (once the group settled) exactly once between them; the instance's commit shows in
  the group's v3 lags; deleting the instance leaves the group (the librdkafka consumer then gets
  every partition).
"""

import base64
import json
import socket
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer

from common import OwnBroker, check, eq, main, topic_name


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proxy_broker(name):
    port = free_port()
    broker = OwnBroker(name, ["--rest-proxy-listen", f"127.0.0.1:{port}",
                              "--set", "group.initial.rebalance.delay.ms=0"]).start()
    return broker, f"http://127.0.0.1:{port}"


def http(method, url, body=None, content_type="application/json", accept=None):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def rest_v3_produce():
    broker, url = proxy_broker("rest-v3")
    try:
        status, body = http("GET", f"{url}/v3/clusters")
        eq(status, 200, "GET /v3/clusters")
        c = json.loads(body)["data"][0]["cluster_id"]
        t = topic_name("rest-v3")
        status, body = http("POST", f"{url}/v3/clusters/{c}/topics", {"topic_name": t, "partitions_count": 2})
        eq(status, 201, f"create topic: {body!r}")
        records = [
            {"partition_id": 0, "key": {"type": "BINARY", "data": b64("k0")}, "value": {"type": "JSON", "data": {"n": 0}},
             "headers": [{"name": "h", "value": b64("hv")}], "timestamp": "2024-01-02T03:04:05.678Z"},
            {"partition_id": 0, "key": {"type": "STRING", "data": "k1"}, "value": {"type": "STRING", "data": "one"}},
            {"partition_id": 1, "value": {"type": "BINARY", "data": b64("two")}},
        ]
        stream = "".join(json.dumps(r) for r in records).encode()
        status, body = http("POST", f"{url}/v3/clusters/{c}/topics/{t}/records", stream)
        eq(status, 200, "produce status")
        lines = [json.loads(x) for x in body.decode().split("\r\n") if x]
        eq([(x["error_code"], x["partition_id"], x["offset"]) for x in lines], [(200, 0, 0), (200, 0, 1), (200, 1, 0)],
           "one result per record, in order")

        cons = Consumer({"bootstrap.servers": broker.addr, "group.id": "rest-v3-check", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
        cons.subscribe([t])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 3 and time.monotonic() < deadline:
            m = cons.poll(1.0)
            if m is None:
                continue
            check(m.error() is None, f"consume error {m.error()}")
            got.append(m)
        cons.close()
        got.sort(key=lambda m: (m.partition(), m.offset()))
        eq([(m.partition(), m.offset(), m.key(), m.value()) for m in got],
           [(0, 0, b"k0", b'{"n":0}'), (0, 1, b"k1", b"one"), (1, 0, None, b"two")], "records read by librdkafka")
        eq(got[0].headers(), [("h", b"hv")], "headers")
        eq(got[0].timestamp()[1], 1704164645678, "the record's timestamp")
    finally:
        broker.stop()


def rest_v2_mixed_group():
    broker, url = proxy_broker("rest-v2")
    try:
        t = topic_name("rest-v2")
        v2 = "application/vnd.kafka.v2+json"
        status, body = http("GET", f"{url}/v3/clusters")
        c = json.loads(body)["data"][0]["cluster_id"]
        status, body = http("POST", f"{url}/v3/clusters/{c}/topics", {"topic_name": t, "partitions_count": 4})
        eq(status, 201, "create topic")
        group = "mixed"
        status, body = http("POST", f"{url}/consumers/{group}",
                            {"name": "rest", "format": "binary", "auto.offset.reset": "earliest",
                             "auto.commit.enable": "false"}, v2)
        eq(status, 200, f"create instance: {body!r}")
        inst = f"{url}/consumers/{group}/instances/rest"
        eq(http("POST", f"{inst}/subscription", {"topics": [t]}, v2)[0], 204, "subscribe")
        kc = Consumer({"bootstrap.servers": broker.addr, "group.id": group, "auto.offset.reset": "earliest",
                       "enable.auto.commit": False})
        kc.subscribe([t])
        seen = {}

        def poll_kafka(timeout):
            m = kc.poll(timeout)
            if m is not None and m.error() is None:
                key = (m.partition(), m.offset())
                check(key not in seen, f"{key} twice")
                seen[key] = ("librdkafka", m.value())

        # Both in the group before the instance reads (it rejoins on its next heartbeat).
        deadline = time.monotonic() + 30
        members = []
        while time.monotonic() < deadline:
            poll_kafka(0.2)
            status, body = http("GET", f"{url}/v3/clusters/{c}/consumer-groups/{group}")
            state = json.loads(body).get("state") if status == 200 else None
            status, body = http("GET", f"{url}/v3/clusters/{c}/consumer-groups/{group}/consumers")
            members = json.loads(body).get("data", []) if status == 200 else []
            if state == "STABLE" and len(members) == 2 and kc.assignment():
                break
        eq(len(members), 2, "two members in the group")
        # Produced once the group is settled: no record is read before the partitions are split.
        p = Producer({"bootstrap.servers": broker.addr})
        for i in range(40):
            p.produce(t, key=f"k{i}".encode(), value=f"v{i}".encode())
        check(p.flush(20) == 0, "all records delivered")

        deadline = time.monotonic() + 60
        while len(seen) < 40 and time.monotonic() < deadline:
            poll_kafka(0.2)
            status, body = http("GET", f"{inst}/records?timeout=200", accept="application/vnd.kafka.binary.v2+json")
            eq(status, 200, f"records: {body!r}")
            for r in json.loads(body):
                key = (r["partition"], r["offset"])
                check(key not in seen, f"{key} twice")
                seen[key] = ("rest", base64.b64decode(r["value"]))
        eq(sorted(v for _, v in seen.values()), sorted(f"v{i}".encode() for i in range(40)), "every record once")
        who = {src for src, _ in seen.values()}
        eq(who, {"librdkafka", "rest"}, "both members got partitions")

        status, body = http("GET", f"{url}/v3/clusters/{c}/consumer-groups/{group}/consumers")
        clients = sorted(m["client_id"] for m in json.loads(body)["data"])
        eq(len(clients), 2, f"two members: {clients}")
        check("rest" in clients, f"the REST instance is a member: {clients}")

        eq(http("POST", f"{inst}/offsets", b"", v2), (200, b"[]"), "commit what the instance read")
        status, body = http("GET", f"{url}/v3/clusters/{c}/consumer-groups/{group}/lags")
        eq(status, 200, f"lags: {body!r}")
        rest_parts = {k[0] for k, (src, _) in seen.items() if src == "rest"}
        lags = {x["partition_id"]: x for x in json.loads(body)["data"]}
        for part in rest_parts:
            eq(lags[part]["lag"], 0, f"partition {part} committed to its end")
            eq(lags[part]["client_id"], "rest", f"partition {part} is the instance's")

        eq(http("DELETE", inst)[0], 204, "delete the instance")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            kc.poll(0.5)
            if len(kc.assignment()) == 4:
                break
        eq(len(kc.assignment()), 4, "librdkafka gets every partition once the instance left")
        kc.close()
    finally:
        broker.stop()


if __name__ == "__main__":
    main({"rest_v3_produce": rest_v3_produce, "rest_v2_mixed_group": rest_v2_mixed_group})
