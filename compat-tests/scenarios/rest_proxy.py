"""The HTTP proxy (`--rest-proxy-listen`) with confluent-kafka-python (librdkafka) on the Kafka
side, against a broker of the scenario's own:

* `rest_v3_produce`: records produced with REST v3 (BINARY, JSON, STRING, headers, timestamps,
  partitions) are read back by a librdkafka consumer exactly, at the offsets the stream answered.
* `rest_v2_mixed_group`: a REST v2 consumer instance and a librdkafka consumer in one group
  share the partitions (the classic protocol, range assignment, whichever member leads) and read
  every record librdkafka produced (once the group settled) exactly once between them; the instance's commit shows in
  the group's v3 lags; deleting the instance leaves the group (the librdkafka consumer then gets
  every partition).
* `rest_schemas`: schema-framed data through the proxy and skua's Schema Registry, crossing
  with confluent-kafka's serializers both ways: AVRO produced with REST v3 (a raw schema
  registered on the fly, then the subject's latest version) is read by `AvroDeserializer`;
  PROTOBUF produced with REST v3 is read by `ProtobufDeserializer` and by a v2 `protobuf`
  consumer instance; records written by `JSONSerializer` are read by a v2 `jsonschema` instance;
  v2 JSON Schema data that breaks the schema is refused (422 / 42203) and not produced.
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


AVRO_SCHEMA = json.dumps({"type": "record", "name": "Reading", "namespace": "demo", "fields": [
    {"name": "sensor", "type": "string"},
    {"name": "value", "type": "double"},
    {"name": "note", "type": ["null", "string"], "default": None}]})
PROTO_SCHEMA = 'syntax = "proto3";\npackage demo;\nmessage Event {\n  string id = 1;\n  int32 n = 2;\n  repeated string tags = 3;\n}\n'
JSON_SCHEMA = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                          "required": ["id", "name"]})


def _event_class():
    """demo.Event built from a descriptor in Python (no protoc), the same as PROTO_SCHEMA."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    F = descriptor_pb2.FieldDescriptorProto
    f = descriptor_pb2.FileDescriptorProto(name="event.proto", package="demo", syntax="proto3")
    m = f.message_type.add(name="Event")
    m.field.add(name="id", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    m.field.add(name="n", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    m.field.add(name="tags", number=3, type=F.TYPE_STRING, label=F.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("demo.Event"))


def _read_values(bootstrap, topic, n, group):
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False})
    cons.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        m = cons.poll(1.0)
        if m is None:
            continue
        check(m.error() is None, f"consume error {m.error()}")
        got.append(m)
    cons.close()
    eq(len(got), n, f"records of {topic}")
    return sorted(got, key=lambda m: m.offset())


def _v3_produce(url, c, topic, records):
    stream = "".join(json.dumps(r) for r in records).encode()
    status, body = http("POST", f"{url}/v3/clusters/{c}/topics/{topic}/records", stream)
    eq(status, 200, f"produce status: {body!r}")
    return [json.loads(x) for x in body.decode().split("\r\n") if x]


def _v2_read(url, group, fmt, topic, n):
    v2 = "application/vnd.kafka.v2+json"
    status, body = http("POST", f"{url}/consumers/{group}",
                        {"name": "r", "format": fmt, "auto.offset.reset": "earliest"}, v2)
    eq(status, 200, f"create a {fmt} instance: {body!r}")
    inst = f"{url}/consumers/{group}/instances/r"
    eq(http("POST", f"{inst}/subscription", {"topics": [topic]}, v2)[0], 204, "subscribe")
    got = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        status, body = http("GET", f"{inst}/records?timeout=500", accept=f"application/vnd.kafka.{fmt}.v2+json")
        eq(status, 200, f"{fmt} records: {body!r}")
        got.extend(json.loads(body))
    eq(http("DELETE", inst)[0], 204, "delete the instance")
    return [(r["offset"], r["value"]) for r in sorted(got, key=lambda r: r["offset"])]


def rest_schemas():
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    pport, rport = free_port(), free_port()
    broker = OwnBroker("rest-schemas", ["--rest-proxy-listen", f"127.0.0.1:{pport}",
                                        "--schema-registry-listen", f"127.0.0.1:{rport}",
                                        "--set", "group.initial.rebalance.delay.ms=0"]).start()
    url, reg = f"http://127.0.0.1:{pport}", f"http://127.0.0.1:{rport}"
    try:
        b = broker.addr
        src = SchemaRegistryClient({"url": reg})
        status, body = http("GET", f"{url}/v3/clusters")
        c = json.loads(body)["data"][0]["cluster_id"]

        # AVRO: a raw schema registered on the fly, then the subject's latest version.
        t = topic_name("rest-avro")
        eq(http("POST", f"{url}/v3/clusters/{c}/topics", {"topic_name": t, "partitions_count": 1})[0], 201, "create")
        lines = _v3_produce(url, c, t, [
            {"value": {"type": "AVRO", "schema": AVRO_SCHEMA,
                       "data": {"sensor": "s1", "value": 21.5, "note": {"string": "first"}}}},
            {"value": {"data": {"sensor": "s2", "value": -3.25, "note": None}}},
        ])
        eq([(x["error_code"], x["offset"]) for x in lines], [(200, 0), (200, 1)], f"avro results: {lines}")
        sid = src.get_latest_version(f"{t}-value").schema_id
        eq([x["value"]["schema_id"] for x in lines], [sid, sid], "both records name the registered schema")
        eq([x["value"]["type"] for x in lines], ["AVRO", "AVRO"], "the data type answered")
        de = AvroDeserializer(src)
        got = [de(m.value(), SerializationContext(t, MessageField.VALUE)) for m in _read_values(b, t, 2, "g-avro")]
        eq(got, [{"sensor": "s1", "value": 21.5, "note": "first"}, {"sensor": "s2", "value": -3.25, "note": None}],
           "AvroDeserializer reads what the proxy wrote")

        # PROTOBUF: produced with v3, read by ProtobufDeserializer and by a v2 protobuf instance.
        t = topic_name("rest-proto")
        eq(http("POST", f"{url}/v3/clusters/{c}/topics", {"topic_name": t, "partitions_count": 1})[0], 201, "create")
        lines = _v3_produce(url, c, t, [
            {"value": {"type": "PROTOBUF", "schema": PROTO_SCHEMA, "data": {"id": "e1", "n": 5, "tags": ["a", "b"]}}},
            {"value": {"data": {"id": "e2"}}},
        ])
        eq([(x["error_code"], x["offset"]) for x in lines], [(200, 0), (200, 1)], f"protobuf results: {lines}")
        Event = _event_class()
        msgs = _read_values(b, t, 2, "g-proto")
        eq(msgs[0].value()[5:6], b"\x00", "message indexes [0] framed as the single byte 0")
        de = ProtobufDeserializer(Event, {}, schema_registry_client=src)
        got = [de(m.value(), SerializationContext(t, MessageField.VALUE)) for m in msgs]
        eq(got, [Event(id="e1", n=5, tags=["a", "b"]), Event(id="e2")], "ProtobufDeserializer reads them")
        eq(_v2_read(url, "g-proto-rest", "protobuf", t, 2),
           [(0, {"id": "e1", "n": 5, "tags": ["a", "b"]}), (1, {"id": "e2", "n": 0, "tags": []})],
           "a v2 protobuf instance reads them as JSON (defaults included)")

        # JSON Schema: written by JSONSerializer, read by a v2 jsonschema instance.
        t = topic_name("rest-json")
        eq(http("POST", f"{url}/v3/clusters/{c}/topics", {"topic_name": t, "partitions_count": 1})[0], 201, "create")
        ser = JSONSerializer(JSON_SCHEMA, src)
        p = Producer({"bootstrap.servers": b})
        values = [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]
        for v in values:
            p.produce(t, value=ser(v, SerializationContext(t, MessageField.VALUE)))
        check(p.flush(20) == 0, "all records delivered")
        eq(_v2_read(url, "g-json-rest", "jsonschema", t, 2), [(0, values[0]), (1, values[1])],
           "a v2 jsonschema instance reads JSONSerializer's records")
        # v2 JSON Schema produce: data that breaks the schema is refused, nothing written.
        jid = src.get_latest_version(f"{t}-value").schema_id
        status, body = http("POST", f"{url}/topics/{t}", {"value_schema_id": jid, "records": [{"value": {"id": "x"}}]},
                            "application/vnd.kafka.jsonschema.v2+json")
        eq((status, json.loads(body)["error_code"]), (422, 42203), f"invalid data refused: {body!r}")
        status, body = http("POST", f"{url}/topics/{t}", {"value_schema_id": jid, "records": [{"value": {"id": 3, "name": "three"}}]},
                            "application/vnd.kafka.jsonschema.v2+json")
        eq(status, 200, f"valid data produced: {body!r}")
        eq([o["offset"] for o in json.loads(body)["offsets"]], [2], "the valid record's offset (the refused one took none)")
    finally:
        broker.stop()


if __name__ == "__main__":
    main({"rest_v3_produce": rest_v3_produce, "rest_v2_mixed_group": rest_v2_mixed_group,
          "rest_schemas": rest_schemas})
