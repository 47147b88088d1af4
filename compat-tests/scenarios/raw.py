"""Raw-socket scenarios: many connections, garbage frames, exact error codes on hand-built requests."""

import os
import selectors
import socket
import struct
import time

import rawproto as rp
from common import (Fail, check, eq, topic_name, boot, boot_noauto, main, confluent_create_topic, confluent_read,
                    wait_until)


def addr_tuple(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)


def healthy(what):
    """After abuse: a new raw connection and a real client are both still served."""
    check(rp.api_versions_ok(boot(), timeout=5), f"{what}: broker no longer answers ApiVersions on a new connection")
    from confluent_kafka import Producer
    t = topic_name("raw-healthy")
    confluent_create_topic(t, 1)
    p = Producer({"bootstrap.servers": boot(), "message.timeout.ms": 10000})
    errs = []
    p.produce(t, key=b"k", value=b"still alive", on_delivery=lambda e, m: errs.append(e))
    check(p.flush(15) == 0 and errs == [None], f"{what}: produce afterwards failed: {errs}")
    got = confluent_read(t, [0], 1)[0]
    eq([(r["offset"], r["value"]) for r in got], [(0, b"still alive")], f"{what}: read afterwards")


def concurrent_200():
    n = 200
    host, port = addr_tuple(boot())
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection((host, port), timeout=10)
            socks.append(s)
        # all 200 are open at once; now every one sends ApiVersions + Metadata, pipelined
        for i, s in enumerate(socks):
            s.sendall(rp.api_versions_v0(2 * i) + rp.metadata_v1(None, 2 * i + 1))
        sel = selectors.DefaultSelector()
        bufs = {}
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = b""
        frames = {s: [] for s in socks}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(len(f) < 2 for f in frames.values()):
            for key, _ in sel.select(timeout=0.5):
                s = key.fileobj
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise Fail(f"connection #{socks.index(s)} closed by the broker before answering")
                bufs[s] += chunk
                while len(bufs[s]) >= 4:
                    size = struct.unpack(">i", bufs[s][:4])[0]
                    if len(bufs[s]) < 4 + size:
                        break
                    frames[s].append(bufs[s][4:4 + size])
                    bufs[s] = bufs[s][4 + size:]
                if len(frames[s]) >= 2:
                    sel.unregister(s)
        done = {s: f for s, f in frames.items() if len(f) >= 2}
        check(len(done) == n, f"only {len(done)} of {n} concurrent connections got both responses within 30s")
        for i, s in enumerate(socks):
            f = done[s]
            eq(len(f), 2, f"responses on connection #{i}")
            r = rp.Reader(f[0][4:])
            eq(struct.unpack(">i", f[0][:4])[0], 2 * i, f"ApiVersions correlation id on connection #{i}")
            err, apis = rp.parse_api_versions_v0(r)
            eq(err, 0, f"ApiVersions error on connection #{i}")
            check(3 in apis and 18 in apis, f"ApiVersions on #{i} lacks Metadata/ApiVersions: {apis}")
            eq(struct.unpack(">i", f[1][:4])[0], 2 * i + 1, f"Metadata correlation id on connection #{i}")
            md = rp.parse_metadata_v1(rp.Reader(f[1][4:]))
            eq([(b[0], b[1], b[2]) for b in md["brokers"]], [(1, host, port)], f"Metadata brokers on connection #{i}")
            eq(md["controller"], 1, f"Metadata controller id on connection #{i}")
    finally:
        for s in socks:
            s.close()
    healthy("after 200 concurrent connections")


def expect_closed(payload, what, half_close=False, timeout=5.0):
    s = rp.connect(boot())
    try:
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        closed, secs, got = rp.wait_closed(s, timeout)
        check(closed, f"{what}: connection still open {timeout}s after the frame ({got} bytes received)")
    finally:
        s.close()
    healthy(what)


def garbage_random():
    # a well-formed size followed by random bytes with an unknown api key
    body = struct.pack(">hhi", 9999, 0, 1) + os.urandom(60)
    expect_closed(struct.pack(">i", len(body)) + body, "random bytes with an unknown api key")


def garbage_bad_body():
    # Metadata v1 whose topic array claims 2^31-1 entries that never come
    body = struct.pack(">hhi", 3, 1, 1) + struct.pack(">h", 3) + b"raw" + struct.pack(">i", 0x7FFFFFFF) + os.urandom(16)
    expect_closed(struct.pack(">i", len(body)) + body, "Metadata v1 with a garbage body")


def garbage_negative_size():
    expect_closed(struct.pack(">i", -5) + os.urandom(32), "negative frame size")


def garbage_zero_size():
    expect_closed(struct.pack(">i", 0), "zero frame size")


def garbage_huge_size():
    # 200 MB > socket.request.max.bytes (104857600): rejected on the size alone
    expect_closed(struct.pack(">i", 200 * 1024 * 1024) + os.urandom(64), "frame size 200MB")


def garbage_truncated():
    expect_closed(struct.pack(">i", 100) + os.urandom(20), "truncated frame then close", half_close=True)


def api_versions_unsupported():
    """ApiVersions with a version the broker does not know: UNSUPPORTED_VERSION (35) in v0 form + the version list."""
    s = rp.connect(boot())
    try:
        s.sendall(rp.frame(18, 99, 42, b""))
        corr, r = rp.recv_response(s)
        eq(corr, 42, "correlation id")
        err, apis = rp.parse_api_versions_v0(r)
        eq(err, 35, "error code for ApiVersions v99")
        check(18 in apis and apis[18][0] == 0, f"ApiVersions range missing from the v0-form answer: {apis}")
    finally:
        s.close()


def _metadata(addr, topic, allow):
    s = rp.connect(addr)
    try:
        s.sendall(rp.metadata_v4([topic], 5, allow_auto_create=allow))
        corr, r = rp.recv_response(s)
        eq(corr, 5, "correlation id")
        return rp.parse_metadata_v4(r)
    finally:
        s.close()


def metadata_auto_create():
    """Metadata v4 allow_auto_topic_creation: true creates (num.partitions=1), false / broker-off does not."""
    t = topic_name("raw-mdauto")
    md = _metadata(boot(), t, False)
    eq([(x["name"], x["error"]) for x in md["topics"]], [(t, 3)], "Metadata(allow_auto_create=false) for unknown topic")
    md = _metadata(boot(), t, True)
    eq(len(md["topics"]), 1, "topics in response")
    check(md["topics"][0]["error"] in (0, 5), f"Metadata(allow_auto_create=true): error {md['topics'][0]['error']}")
    deadline = time.monotonic() + 10
    while True:
        md = _metadata(boot(), t, False)
        x = md["topics"][0]
        if x["error"] == 0 and x["partitions"]:
            break
        check(time.monotonic() < deadline, f"auto-created topic not usable after 10s: {x}")
        time.sleep(0.2)
    eq([(p[0], p[1], p[2], p[3], p[4]) for p in x["partitions"]], [(0, 0, 1, [1], [1])],
       "partitions of the auto-created topic (error, id, leader, replicas, isr)")
    t2 = topic_name("raw-mdnoauto")
    md = _metadata(boot_noauto(), t2, True)
    eq([(x["name"], x["error"]) for x in md["topics"]], [(t2, 3)], "Metadata on a broker with auto-create off")


def _produce(addr, topic, partition, batch):
    s = rp.connect(addr)
    try:
        s.sendall(rp.produce_v3(topic, partition, batch, correlation_id=9))
        corr, r = rp.recv_response(s)
        eq(corr, 9, "correlation id")
        res, _ = rp.parse_produce_v3(r)
        return res
    finally:
        s.close()


def produce_errors():
    """Hand-built Produce v3: unknown topic, unknown partition, bad CRC -> Kafka's error codes; a good batch works."""
    now = int(time.time() * 1000)
    good = rp.record_batch([(b"k1", b"v1"), (b"k2", b"v2"), (None, b"v3")], now)
    t = topic_name("raw-prod")
    res = _produce(boot_noauto(), t, 0, good)
    eq([(p["partition"], p["error"]) for p in res.get(t, [])], [(0, 3)], "produce to unknown topic (auto-create off)")
    confluent_create_topic(t, 1)
    res = _produce(boot(), t, 5, good)
    eq([(p["partition"], p["error"]) for p in res.get(t, [])], [(5, 3)], "produce to unknown partition 5 of 1")
    res = _produce(boot(), t, 0, rp.record_batch([(b"k", b"v")], now, corrupt_crc=True))
    eq([(p["partition"], p["error"]) for p in res.get(t, [])], [(0, 2)], "produce with a bad CRC (CORRUPT_MESSAGE)")
    res = _produce(boot(), t, 0, good)
    eq([(p["partition"], p["error"], p["base_offset"]) for p in res.get(t, [])], [(0, 0, 0)], "produce a good batch")
    res = _produce(boot(), t, 0, good)
    eq([(p["partition"], p["error"], p["base_offset"]) for p in res.get(t, [])], [(0, 0, 3)],
       "second batch: base offset counts records, not batches")
    got = confluent_read(t, [0], 6)[0]
    eq([(r["offset"], r["key"], r["value"]) for r in got],
       [(0, b"k1", b"v1"), (1, b"k2", b"v2"), (2, None, b"v3"), (3, b"k1", b"v1"), (4, b"k2", b"v2"), (5, None, b"v3")],
       "records read back (the bad-CRC batch must not be there)")


def _list_offsets(addr, topic, version, ts):
    """ListOffsets v1..v5 (non-flexible) for partition 0; returns (error, timestamp, offset)."""
    body = struct.pack(">i", -1)
    if version >= 2:
        body += struct.pack(">b", 0)
    part = struct.pack(">i", 0)
    if version >= 4:
        part += struct.pack(">i", -1)
    part += struct.pack(">q", ts)
    body += struct.pack(">i", 1) + rp._str(topic) + struct.pack(">i", 1) + part
    s = rp.connect(addr)
    try:
        s.sendall(rp.frame(2, version, 11, body))
        try:
            corr, r = rp.recv_response(s)
        except (EOFError, ConnectionResetError) as e:
            return f"connection closed without a response ({e})"
        if version >= 2:
            r.i32()
        topics = r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.i16(), r.i64(), r.i64()) +
                                                     ((r.i32(),) if version >= 4 else ()))))
        return tuple(topics[0][1][0][1:4])
    finally:
        s.close()


def list_offsets_versions():
    """ListOffsets v1..v5 on raw sockets: earliest, latest, by timestamp (first record >= t), after all (-1)."""
    t = topic_name("raw-lo")
    confluent_create_topic(t, 1)
    t0 = int(time.time() * 1000) - 60_000
    res = _produce(boot(), t, 0, rp.record_batch([(b"a", b"0"), (b"b", b"1"), (b"c", b"2")], t0))
    eq([p["error"] for p in res[t]], [0], "produce")
    # record_batch gives every record the batch's base timestamp; add a later batch at t0+100
    res = _produce(boot(), t, 0, rp.record_batch([(b"d", b"3")], t0 + 100))
    eq([(p["error"], p["base_offset"]) for p in res[t]], [(0, 3)], "produce second batch")
    wrong = []
    for v in range(1, 6):
        for ts, want in [(-2, (0, -1, 0)), (-1, (0, -1, 4)), (t0 - 5, (0, t0, 0)), (t0 + 50, (0, t0 + 100, 3)),
                         (t0 + 101, (0, -1, -1))]:
            got = _list_offsets(boot(), t, v, ts)
            if got != want:
                name = {-2: "earliest", -1: "latest"}.get(ts, f"t0{ts - t0:+d}")
                wrong.append(f"v{v} {name}: expected (error, timestamp, offset) {want}, got {got}")
    check(not wrong, f"{len(wrong)} wrong answers: " + "; ".join(wrong[:8]) + (" ..." if len(wrong) > 8 else ""))


def _fetch(addr, topic, offset, max_wait_ms, partition=0):
    s = rp.connect(addr, timeout=max_wait_ms / 1000 + 10)
    try:
        t0 = time.monotonic()
        s.sendall(rp.fetch_v4(topic, partition, offset, max_wait_ms=max_wait_ms, correlation_id=21))
        corr, r = rp.recv_response(s)
        elapsed = time.monotonic() - t0
        eq(corr, 21, "correlation id")
        return rp.parse_fetch_v4(r)[(topic, partition)], elapsed
    finally:
        s.close()


def fetch_long_poll():
    """Fetch v4 on an empty partition waits max_wait_ms; a produce wakes a waiting fetch at once."""
    import threading
    t = topic_name("raw-poll")
    confluent_create_topic(t, 1)
    res, secs = _fetch(boot(), t, 0, 1000)
    eq((res["error"], res["high_watermark"], rp.batches(res["records"] or b"")), (0, 0, []), "empty fetch")
    check(0.8 <= secs <= 3.0, f"empty fetch with max_wait_ms=1000 answered after {secs:.2f}s (Kafka waits ~1s)")
    now = int(time.time() * 1000)

    def later():
        time.sleep(0.5)
        _produce(boot(), t, 0, rp.record_batch([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], now))
    th = threading.Thread(target=later)
    th.start()
    res, secs = _fetch(boot(), t, 0, 8000)
    th.join()
    eq((res["error"], res["high_watermark"], rp.batches(res["records"] or b"")), (0, 3, [(0, 2, 3)]),
       "fetch woken by a produce (error, high watermark, batches)")
    check(secs < 3.0, f"fetch with max_wait_ms=8000 answered {secs:.2f}s after the request; the produce came at 0.5s")


def fetch_errors():
    """Fetch v4: offset past the end -> OFFSET_OUT_OF_RANGE at once; unknown topic -> 3; mid-batch -> whole batch."""
    t = topic_name("raw-fetch")
    confluent_create_topic(t, 1)
    now = int(time.time() * 1000)
    _produce(boot(), t, 0, rp.record_batch([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], now))
    res, secs = _fetch(boot(), t, 5, 5000)
    eq((res["error"], res["high_watermark"]), (1, 3), "fetch at offset 5 of 3 (OFFSET_OUT_OF_RANGE, high watermark)")
    check(secs < 2.0, f"OFFSET_OUT_OF_RANGE took {secs:.2f}s (errors are answered without waiting)")
    res, _ = _fetch(boot(), topic_name("raw-nosuch"), 0, 500)
    eq(res["error"], 3, "fetch of an unknown topic")
    res, _ = _fetch(boot(), t, 0, 5000, partition=7)
    eq(res["error"], 3, "fetch of an unknown partition")
    res, _ = _fetch(boot(), t, 1, 500)
    eq((res["error"], rp.batches(res["records"] or b"")), (0, [(0, 2, 3)]), "fetch at offset 1 (inside the batch)")
    res, secs = _fetch(boot(), t, 3, 300)
    eq((res["error"], rp.batches(res["records"] or b"")), (0, []), "fetch at the high watermark")


def config_limits():
    """Own broker with message.max.bytes=10000, socket.request.max.bytes=50000, max.connections=5."""
    from common import OwnBroker
    b = OwnBroker("limits", ["--set", "message.max.bytes=10000", "--set", "socket.request.max.bytes=50000",
                             "--set", "max.connections=5"]).start()
    try:
        t = topic_name("raw-limits")
        confluent_create_topic(t, 1, bootstrap=b.addr)
        now = int(time.time() * 1000)
        res = _produce(b.addr, t, 0, rp.record_batch([(b"big", os.urandom(20000))], now))
        eq([(p["partition"], p["error"]) for p in res[t]], [(0, 10)],
           "produce of a 20 KB batch with message.max.bytes=10000 (MESSAGE_TOO_LARGE)")
        res = _produce(b.addr, t, 0, rp.record_batch([(b"ok", os.urandom(5000))], now))
        eq([(p["partition"], p["error"], p["base_offset"]) for p in res[t]], [(0, 0, 0)], "produce of a 5 KB batch")
        s = rp.connect(b.addr)
        try:
            s.sendall(struct.pack(">i", 60000) + os.urandom(64))
            closed, secs, _ = rp.wait_closed(s, 5)
            check(closed, "a 60000-byte frame with socket.request.max.bytes=50000 did not close the connection")
        finally:
            s.close()
        # max.connections=5: five connections are served; a sixth is not served while they stay open
        socks = [rp.connect(b.addr) for _ in range(5)]
        try:
            for i, s in enumerate(socks):
                s.sendall(rp.api_versions_v0(i))
                corr, r = rp.recv_response(s)
                eq((corr, rp.parse_api_versions_v0(r)[0]), (i, 0), f"ApiVersions on connection {i + 1} of 5")
            extra = None
            try:
                extra = rp.connect(b.addr, timeout=2)
                extra.sendall(rp.api_versions_v0(99))
                corr, _ = rp.recv_response(extra)
                raise Fail("a 6th connection was served with max.connections=5")
            except (OSError, EOFError, socket.timeout):
                pass  # refused, closed, or left waiting: all keep the limit
            finally:
                if extra:
                    extra.close()
        finally:
            for s in socks:
                s.close()
        wait_until(lambda: rp.api_versions_ok(b.addr, timeout=1.0), 10, "a new connection served after the 5 closed")
    finally:
        b.stop()


SCENARIOS = {
    "config_limits": config_limits,
    "fetch_long_poll": fetch_long_poll,
    "fetch_errors": fetch_errors,
    "list_offsets_versions": list_offsets_versions,
    "concurrent_200": concurrent_200,
    "garbage_random": garbage_random,
    "garbage_bad_body": garbage_bad_body,
    "garbage_negative_size": garbage_negative_size,
    "garbage_zero_size": garbage_zero_size,
    "garbage_huge_size": garbage_huge_size,
    "garbage_truncated": garbage_truncated,
    "api_versions_unsupported": api_versions_unsupported,
    "metadata_auto_create": metadata_auto_create,
    "produce_errors": produce_errors,
}

if __name__ == "__main__":
    main(SCENARIOS)
