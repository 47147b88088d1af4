"""The Schema Registry (`--schema-registry-listen`) with confluent-kafka-python's own
SchemaRegistryClient and serializers (2.16.1), against a broker of the scenario's own: records
produced with librdkafka through skua, framed by the serializers with ids skua's registry gave,
and read back through the deserializers. One SchemaRegistryClient serves both sides (its cache
is shared, as in an application that produces and consumes). Default serializer configs, so the
`/associations` lookup of the default subject-name strategy and auto-registration are exercised.

* `sr_avro`: AvroSerializer / AvroDeserializer: exact records back; an evolution with a defaulted
  field is registered as version 2 (new id), a field added without a default is refused with
  HTTP 409 (the registry's BACKWARD default) and nothing is produced; the reader sees records of
  both versions; after a broker restart the ids, the versions and the records decode the same.
"""

import socket

from confluent_kafka import Consumer, Producer

from common import OwnBroker, check, eq, main, topic_name


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def registry_broker(name):
    port = free_port()
    broker = OwnBroker(name, ["--schema-registry-listen", f"127.0.0.1:{port}"]).start()
    return broker, f"http://127.0.0.1:{port}"


def consume_all(bootstrap, topic, n, group, timeout=30):
    import time
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        check(m.error() is None, f"consume error {m.error()}")
        out.append(m)
    c.close()
    return out


def produce(bootstrap, topic, values, serialize):
    from confluent_kafka.serialization import MessageField, SerializationContext
    p = Producer({"bootstrap.servers": bootstrap})
    offsets = []
    for v in values:
        p.produce(topic, value=serialize(v, SerializationContext(topic, MessageField.VALUE)), partition=0,
                  on_delivery=lambda e, m: offsets.append(None if e else m.offset()))
    check(p.flush(20) == 0, "all records delivered")
    return offsets


USER_V1 = """{"type": "record", "name": "User", "namespace": "example.avro", "fields": [
  {"name": "name", "type": "string"},
  {"name": "favorite_number", "type": ["null", "int"], "default": null},
  {"name": "tags", "type": {"type": "array", "items": "string"}},
  {"name": "balance", "type": "long"}
]}"""

USER_V2 = """{"type": "record", "name": "User", "namespace": "example.avro", "fields": [
  {"name": "name", "type": "string"},
  {"name": "favorite_number", "type": ["null", "int"], "default": null},
  {"name": "tags", "type": {"type": "array", "items": "string"}},
  {"name": "balance", "type": "long"},
  {"name": "country", "type": "string", "default": "NL"}
]}"""

USER_BAD = """{"type": "record", "name": "User", "namespace": "example.avro", "fields": [
  {"name": "name", "type": "string"},
  {"name": "email", "type": "string"}
]}"""


def sr_avro():
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.serialization import MessageField, SerializationContext

    broker, url = registry_broker("sr-avro")
    try:
        b = broker.addr
        t = topic_name("sr-avro")
        src = SchemaRegistryClient({"url": url})
        v1 = [{"name": f"user-{i}", "favorite_number": None if i % 2 else i, "tags": ["a", str(i)],
               "balance": -(2 ** 40) + i} for i in range(4)]
        eq(produce(b, t, v1, AvroSerializer(src, USER_V1)), [0, 1, 2, 3], "offsets of v1 records")
        subject = f"{t}-value"
        eq(src.get_subjects(), [subject], "subjects after the first produce")
        first = src.get_latest_version(subject)
        eq((first.version, first.schema.schema_type), (1, "AVRO"), "version 1")

        v2 = [{"name": "user-9", "favorite_number": 9, "tags": [], "balance": 2 ** 40, "country": "PT"}]
        eq(produce(b, t, v2, AvroSerializer(src, USER_V2)), [4], "offset of the v2 record")
        second = src.get_version(subject, 2)  # get_latest_version is cached by the client
        check(second.version == 2 and second.schema_id != first.schema_id,
              f"v2 registered as a new version with a new id: {second.version} {second.schema_id}")

        # A field without a default: refused, and the produce never happens.
        try:
            produce(b, t, [{"name": "x", "email": "x@y"}], AvroSerializer(src, USER_BAD))
            check(False, "an incompatible schema was accepted")
        except Exception as e:  # the serializer wraps the registry's error
            err = e if isinstance(e, SchemaRegistryError) else getattr(e, "__cause__", None) or e
            text = str(err)
            check("409" in text or getattr(err, "http_status_code", None) == 409,
                  f"409 for an incompatible schema: {text}")
            check("incompatible" in text, f"Confluent's message: {text}")
        eq(src.get_versions(subject), [1, 2], "versions after the refusal")

        de = AvroDeserializer(src)
        msgs = consume_all(b, t, 5, "sr-avro-g")
        got = [de(m.value(), SerializationContext(t, MessageField.VALUE)) for m in msgs]
        eq(got[:4], v1, "v1 records read back")
        eq(got[4:], v2, "v2 record read back")
        ids = [int.from_bytes(m.value()[1:5], "big") for m in msgs]
        eq(ids, [first.schema_id] * 4 + [second.schema_id], "schema ids framed in the records")

        code = broker.stop()
        check(code == 0, f"broker exit code {code}")
        broker.start()
        src2 = SchemaRegistryClient({"url": url})
        eq(src2.get_versions(subject), [1, 2], "versions after a restart")
        eq(src2.get_latest_version(subject).schema_id, second.schema_id, "the id after a restart")
        de2 = AvroDeserializer(src2)
        msgs = consume_all(b, t, 5, "sr-avro-g2")
        eq([de2(m.value(), SerializationContext(t, MessageField.VALUE)) for m in msgs], v1 + v2,
           "records decoded after a restart")
    finally:
        broker.stop()


if __name__ == "__main__":
    main({"sr_avro": sr_avro})
