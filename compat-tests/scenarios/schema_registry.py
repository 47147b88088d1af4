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
* `sr_json`: JSONSerializer / JSONDeserializer: the serializer validates records against the
  registered schema; an optional property added to an open content model is refused with 409
  (Confluent's default, strict rules); a looser maxLength is version 2; exact records back.
* `sr_protobuf`: ProtobufSerializer / ProtobufDeserializer with classes built from descriptors
  in Python: the serializer registers the imported file under its name and references it (the
  well-known google/protobuf/timestamp.proto needs no reference); the registry stores .proto
  text; a second message of the file is framed with message index [1]; records read back
  equal; the deserializer's `format=serialized` fetch returns the file's descriptor.
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


ORDER_V1 = """{"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
  "properties": {"id": {"type": "integer"}, "item": {"type": "string", "maxLength": 20},
                 "tags": {"type": "array", "items": {"type": "string"}}},
  "required": ["id", "item"]}"""

# An optional property added to an open content model: incompatible under Confluent's default
# (strict) rules, since old data may hold "note" with any type.
ORDER_OPEN_ADD = """{"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
  "properties": {"id": {"type": "integer"}, "item": {"type": "string", "maxLength": 20},
                 "tags": {"type": "array", "items": {"type": "string"}}, "note": {"type": "string"}},
  "required": ["id", "item"]}"""

# A looser bound: compatible.
ORDER_V2 = """{"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
  "properties": {"id": {"type": "integer"}, "item": {"type": "string", "maxLength": 40},
                 "tags": {"type": "array", "items": {"type": "string"}}},
  "required": ["id", "item"]}"""


def sr_json():
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    broker, url = registry_broker("sr-json")
    try:
        b = broker.addr
        t = topic_name("sr-json")
        subject = f"{t}-value"
        src = SchemaRegistryClient({"url": url})
        v1 = [{"id": i, "item": f"item-{i}", "tags": ["x"] * i} for i in range(3)]
        eq(produce(b, t, v1, JSONSerializer(ORDER_V1, src)), [0, 1, 2], "offsets of v1 records")
        first = src.get_version(subject, 1)
        eq(first.schema.schema_type, "JSON", "schema type")
        # The serializer validates: an invalid record never leaves.
        try:
            produce(b, t, [{"id": "not a number", "item": "x"}], JSONSerializer(ORDER_V1, src))
            check(False, "an invalid record was serialized")
        except Exception as e:  # SerializationError from jsonschema's validation
            check("not a number" in str(e) or "integer" in str(e), f"validation error: {e}")
        try:
            produce(b, t, [{"id": 1, "item": "x", "note": "n"}], JSONSerializer(ORDER_OPEN_ADD, src))
            check(False, "an optional property added to an open content model was accepted")
        except Exception as e:
            err = e if isinstance(e, SchemaRegistryError) else getattr(e, "__cause__", None) or e
            check(getattr(err, "http_status_code", None) == 409 or "409" in str(err),
                  f"409 for PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL: {err}")
        v2 = [{"id": 7, "item": "a longer item name, 31 chars!!"}]
        eq(produce(b, t, v2, JSONSerializer(ORDER_V2, src)), [3], "offset of the v2 record")
        eq(src.get_versions(subject), [1, 2], "versions")
        de = JSONDeserializer(None, schema_registry_client=src)
        msgs = consume_all(b, t, 4, "sr-json-g")
        eq([de(m.value(), SerializationContext(t, MessageField.VALUE)) for m in msgs], v1 + v2,
           "records read back")
    finally:
        broker.stop()


def _proto_classes():
    """Two .proto files built in Python (no protoc): common.proto (Address) and orders.proto
    (package shop; Order imports common.proto and google/protobuf/timestamp.proto; a second
    message Refund, and a nested message)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2  # noqa: F401
    from google.protobuf import message_factory
    F = descriptor_pb2.FieldDescriptorProto
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    common = descriptor_pb2.FileDescriptorProto(name="common.proto", package="shop", syntax="proto3")
    a = common.message_type.add(name="Address")
    a.field.add(name="street", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    a.field.add(name="zip", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    pool.Add(common)
    orders = descriptor_pb2.FileDescriptorProto(name="orders.proto", package="shop", syntax="proto3")
    orders.dependency.extend(["common.proto", "google/protobuf/timestamp.proto"])
    o = orders.message_type.add(name="Order")
    o.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    o.field.add(name="items", number=2, type=F.TYPE_STRING, label=F.LABEL_REPEATED)
    o.field.add(name="ship_to", number=3, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=".shop.Address")
    o.field.add(name="at", number=4, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                type_name=".google.protobuf.Timestamp")
    o.field.add(name="line", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=".shop.Order.Line")
    line = o.nested_type.add(name="Line")
    line.field.add(name="sku", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    r = orders.message_type.add(name="Refund")
    r.field.add(name="order_id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    r.field.add(name="reason", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    pool.Add(orders)
    get = message_factory.GetMessageClass
    return get(pool.FindMessageTypeByName("shop.Order")), get(pool.FindMessageTypeByName("shop.Refund"))


def sr_protobuf():
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    Order, Refund = _proto_classes()
    broker, url = registry_broker("sr-protobuf")
    try:
        b = broker.addr
        t = topic_name("sr-proto")
        src = SchemaRegistryClient({"url": url})
        # Inspection through another client: get_version caches the .proto text under the id,
        # where the serializers' client keeps the descriptor it registered (Confluent's
        # registry serves the same text, so this is the client's behaviour, not the server's).
        admin = SchemaRegistryClient({"url": url})
        orders = []
        for i in range(3):
            o = Order(id=i, items=[f"i{i}", "x"])
            o.ship_to.street = f"street {i}"
            o.ship_to.zip = 1000 + i
            o.at.seconds = 1_700_000_000 + i
            o.line.sku = f"sku-{i}"
            orders.append(o)
        eq(produce(b, t, orders, ProtobufSerializer(Order, src)), [0, 1, 2], "offsets of the orders")
        subjects = sorted(admin.get_subjects())
        eq(subjects, sorted(["common.proto", f"{t}-value"]),
           "the import registered under its file name; the well-known type needs no reference")
        latest = admin.get_version(f"{t}-value", 1)
        eq(latest.schema.schema_type, "PROTOBUF", "schema type")
        eq([(r.name, r.subject, r.version) for r in latest.schema.references], [("common.proto", "common.proto", 1)],
           "the reference")
        check("message Order" in latest.schema.schema_str and "message Refund" in latest.schema.schema_str,
              f"stored as .proto text: {latest.schema.schema_str[:200]!r}")
        # A second message of the same file: its message index is [1], not [0].
        t2 = topic_name("sr-proto-refund")
        refunds = [Refund(order_id=1, reason="late")]
        eq(produce(b, t2, refunds, ProtobufSerializer(Refund, src)), [0], "offset of the refund")
        msgs = consume_all(b, t2, 1, "sr-proto-g2")
        raw = msgs[0].value()
        eq(raw[5:7], b"\x02\x02", "message indexes [1] framed as count 1, index 1 (zigzag varints: 2, 2)")
        for topic, cls, want, group in ((t, Order, orders, "sr-proto-g"), (t2, Refund, refunds, "sr-proto-g3")):
            de = ProtobufDeserializer(cls, {}, schema_registry_client=src)
            msgs = consume_all(b, topic, len(want), group)
            eq([de(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in msgs], want,
               f"{cls.__name__} records read back")
        # The writer schema as the deserializer fetches it: the serialized descriptor.
        sid = int.from_bytes(raw[1:5], "big")
        s = admin.get_schema(sid, fmt="serialized")
        import base64
        from google.protobuf import descriptor_pb2
        fd = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(s.schema_str))
        eq([m.name for m in fd.message_type], ["Order", "Refund"], "messages of the served descriptor")
    finally:
        broker.stop()


if __name__ == "__main__":
    main({"sr_avro": sr_avro, "sr_json": sr_json, "sr_protobuf": sr_protobuf})
