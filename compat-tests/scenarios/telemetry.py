"""Client telemetry (KIP-714) with confluent-kafka-python (librdkafka 2.16, which pushes metrics by
default when the broker advertises GetTelemetrySubscriptions / PushTelemetry), against a broker of
the scenario's own with `/metrics` on.

* `telemetry_push`: with no subscription a producer works as usual (records delivered at exact
  offsets; it asked for its subscription: one telemetry instance); CLIENT_METRICS resources are
  created through raw IncrementalAlterConfigs v0 (confluent-kafka's AdminClient has no resource
  type 16) — bad ones refused with Kafka's codes (interval.ms 50: INVALID_REQUEST, an unknown
  selector: INVALID_CONFIG, an unknown config: INVALID_REQUEST); DescribeConfigs v1 shows the
  subscription's configs (source CLIENT_METRICS_CONFIG 7) and ListConfigResources v0 lists it;
  then a producer whose client.id matches the subscription (interval.ms 500, metrics
  `org.apache.kafka.producer.`) pushes, and `/metrics` shows its series — labelled with its
  client id and instance id — under librdkafka's producer metric names, while a producer whose
  client id does not match pushes nothing.
"""

import re
import struct
import time
import urllib.request

from confluent_kafka import Producer

import rawproto
from common import OwnBroker, check, eq, main, topic_name, wait_until


def _str(s):
    return rawproto._str(s)


def iac_v0(resources):
    """IncrementalAlterConfigs v0: [(type, name, [(config, op, value)])], validate_only false."""
    body = struct.pack(">i", len(resources))
    for rtype, name, configs in resources:
        body += struct.pack(">b", rtype) + _str(name) + struct.pack(">i", len(configs))
        for c, op, v in configs:
            body += _str(c) + struct.pack(">b", op) + _str(v)
    body += struct.pack(">?", False)
    return rawproto.frame(44, 0, 11, body)


def parse_iac_v0(r):
    r.i32()
    return r.array(lambda: (r.i16(), r.string(), r.i8(), r.string()))


def describe_configs_v1(rtype, name):
    body = struct.pack(">i", 1) + struct.pack(">b", rtype) + _str(name) + struct.pack(">i", -1)
    body += struct.pack(">?", False)
    return rawproto.frame(32, 1, 12, body)


def parse_describe_configs_v1(r):
    r.i32()

    def entry():
        name = r.string()
        value = r.string()
        read_only = r.boolean()
        source = r.i8()
        sensitive = r.boolean()
        synonyms = r.array(lambda: (r.string(), r.string(), r.i8()))
        return name, value, read_only, source, sensitive, synonyms

    return r.array(lambda: (r.i16(), r.string(), r.i8(), r.string(), r.array(entry)))


def _uvarint(r):
    shift = n = 0
    while True:
        b = r.i8() & 0xFF
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n
        shift += 7


def list_config_resources_v0():
    """Flexible v0: request header v2 (client id, then empty tagged fields), empty body."""
    payload = struct.pack(">hhi", 74, 0, 13) + _str("compat-raw") + b"\x00" + b"\x00"
    return struct.pack(">i", len(payload)) + payload


def parse_list_config_resources_v0(r):
    _uvarint(r)  # response header tagged fields
    r.i32()  # throttle
    err = r.i16()
    n = _uvarint(r) - 1
    names = []
    for _ in range(n):
        ln = _uvarint(r) - 1
        names.append(r.take(ln).decode())
        _uvarint(r)
    return err, names


def ask(addr, frame, parse):
    s = rawproto.connect(addr)
    try:
        s.sendall(frame)
        _, r = rawproto.recv_response(s)
        return parse(r)
    finally:
        s.close()


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def series(text, family):
    """{labels-string: value} of one family's samples."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^" + re.escape(family) + r"\{(.*)\} (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def produce(b, t, client_id, n):
    p = Producer({"bootstrap.servers": b, "client.id": client_id, "linger.ms": 5})
    offsets = []
    for i in range(n):
        p.produce(t, value=f"v{i}".encode(), partition=0,
                  on_delivery=lambda e, m: offsets.append(None if e else m.offset()))
    check(p.flush(20) == 0, "all records delivered")
    return p, offsets


def telemetry_push():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    mport = s.getsockname()[1]
    s.close()
    broker = OwnBroker("telemetry", ["--metrics-listen", f"127.0.0.1:{mport}"]).start()
    b = broker.addr
    url = f"http://127.0.0.1:{mport}/metrics"
    try:
        # No subscription: a telemetry-enabled producer works as usual.
        t = topic_name("telemetry")
        p0, offs = produce(b, t, "telemetry-none", 5)
        eq(offs, [0, 1, 2, 3, 4], "offsets of the producer without subscription")
        # librdkafka asks for its subscription from its main thread, independently of produce:
        # the request may arrive just after flush() returns.
        deadline = time.monotonic() + 10
        while True:
            text = scrape(url)
            inst = re.search(r"^skua_client_metrics_instances (\d+)$", text, re.M)
            if (inst is not None and int(inst.group(1)) >= 1) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        check(inst is not None and int(inst.group(1)) >= 1,
              f"the producer asked for its subscription: {inst.group(0) if inst else 'no gauge'}")
        check("kafka_client_" not in text, "nothing pushed without a subscription")
        p0.flush(1)
        del p0

        # Bad subscriptions, refused with Kafka's codes.
        bad = ask(b, iac_v0([
            (16, "bad-interval", [("interval.ms", 0, "50")]),
            (16, "bad-match", [("match", 0, "bogus=x")]),
            (16, "bad-name", [("foo", 0, "1")]),
        ]), parse_iac_v0)
        eq([(e, n) for e, _, _, n in bad], [(42, "bad-interval"), (40, "bad-match"), (42, "bad-name")],
           "invalid subscriptions")
        ok = ask(b, iac_v0([(16, "compat-sub", [
            ("metrics", 0, "org.apache.kafka.producer."),
            ("interval.ms", 0, "500"),
            ("match", 0, "client_id=telemetry-producer-.*"),
        ])]), parse_iac_v0)
        eq([(e, n) for e, _, _, n in ok], [(0, "compat-sub")], "subscription created")

        def described():
            res = ask(b, describe_configs_v1(16, "compat-sub"), parse_describe_configs_v1)
            return sorted((n, v, src) for n, v, _, src, _, _ in res[0][4])
        want = [("interval.ms", "500", 7), ("match", "client_id=telemetry-producer-.*", 7),
                ("metrics", "org.apache.kafka.producer.", 7)]
        wait_until(lambda: described() == want, 10, "DescribeConfigs of the subscription")
        eq(ask(b, list_config_resources_v0(), parse_list_config_resources_v0), (0, ["compat-sub"]),
           "ListConfigResources v0")

        # A matching producer pushes; one that does not match does not.
        p1, offs = produce(b, t, "telemetry-producer-1", 5)
        eq(offs, [5, 6, 7, 8, 9], "offsets of the subscribed producer")
        p2, offs = produce(b, t, "telemetry-other", 5)
        eq(offs, [10, 11, 12, 13, 14], "offsets of the unsubscribed producer")
        fam = "kafka_client_org_apache_kafka_producer_connection_creation_total"
        found = {}

        def pushed():
            p1.poll(0.1)
            p2.poll(0.1)
            text = scrape(url)
            found.update(series(text, fam))
            return bool(found) and "kafka_client_org_apache_kafka_producer_record_queue_time_avg{" in text
        wait_until(pushed, 30, "the subscribed producer's metrics on /metrics", interval=0.5)
        check(len(found) == 1, f"one instance pushed: {found}")
        labels, value = next(iter(found.items()))
        check(re.fullmatch(r'client_instance_id="[0-9a-f-]{36}",client_id="telemetry-producer-1"', labels)
              is not None, f"labels {labels}")
        # A delta sum (the broker asks for delta temporality), accumulated by the broker:
        # librdkafka counts the connections made since it got its subscription.
        check(value >= 0 and value == int(value), f"connections created: {value}")
        text = scrape(url)
        check("# TYPE kafka_client_org_apache_kafka_producer_connection_creation counter" in text,
              "a monotonic sum is a counter (exposed as <family>_total)")
        check("# TYPE kafka_client_org_apache_kafka_producer_record_queue_time_avg gauge" in text,
              "a gauge is a gauge")
        import sys
        print("\n".join(l for l in text.splitlines() if l.startswith("kafka_client_")), file=sys.stderr)
        check('client_id="telemetry-other"' not in text, "the unsubscribed producer pushed nothing")
        lat = series(text, "kafka_client_org_apache_kafka_producer_node_request_latency_avg")
        check(lat and all('client_id="telemetry-producer-1"' in k for k in lat), f"per-node latency series: {lat}")
        p1.flush(1)
        p2.flush(1)
    finally:
        code = broker.stop()
        check(code == 0, f"broker exit code {code}")


if __name__ == "__main__":
    main({"telemetry_push": telemetry_push})
