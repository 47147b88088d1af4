"""Minimal hand-written Kafka wire encoding for raw-socket scenarios (no client library).

Only non-flexible request versions are used, so every field layout here is the classic one:
  request  = int32 size, int16 api_key, int16 api_version, int32 correlation_id, string client_id, body
  response = int32 size, int32 correlation_id, body
"""

import socket
import struct
import time


def _str(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _bytes(b):
    if b is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(b)) + b


def frame(api_key, api_version, correlation_id, body, client_id="compat-raw"):
    payload = struct.pack(">hhi", api_key, api_version, correlation_id) + _str(client_id) + body
    return struct.pack(">i", len(payload)) + payload


def api_versions_v0(correlation_id=1):
    return frame(18, 0, correlation_id, b"")


def metadata_v4(topics, correlation_id=1, allow_auto_create=True):
    """Metadata v4: topics (None = all), allow_auto_topic_creation."""
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics)) + b"".join(_str(t) for t in topics)
    body += struct.pack(">?", allow_auto_create)
    return frame(3, 4, correlation_id, body)


def metadata_v1(topics, correlation_id=1):
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics)) + b"".join(_str(t) for t in topics)
    return frame(3, 1, correlation_id, body)


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise ValueError(f"response truncated: need {n} bytes at {self.p}, have {len(self.d) - self.p}")
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def boolean(self):
        return self.i8() != 0

    def array(self, fn):
        n = self.i32()
        return None if n < 0 else [fn() for _ in range(n)]

    def done(self):
        return self.p == len(self.d)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def recv_response(sock):
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    if size < 4 or size > 100 * 1024 * 1024:
        raise ValueError(f"bad response size {size}")
    data = recv_exact(sock, size)
    corr = struct.unpack(">i", data[:4])[0]
    return corr, Reader(data[4:])


def parse_api_versions_v0(r):
    err = r.i16()
    apis = r.array(lambda: (r.i16(), r.i16(), r.i16()))
    return err, {k: (lo, hi) for k, lo, hi in apis or []}


def parse_metadata_v1(r):
    brokers = r.array(lambda: (r.i32(), r.string(), r.i32(), r.string()))
    controller = r.i32()

    def topic():
        err = r.i16()
        name = r.string()
        internal = r.boolean()
        parts = r.array(lambda: (r.i16(), r.i32(), r.i32(), r.array(r.i32), r.array(r.i32)))
        return {"error": err, "name": name, "internal": internal, "partitions": parts}
    topics = r.array(topic)
    return {"brokers": brokers, "controller": controller, "topics": topics}


def parse_metadata_v4(r):
    throttle = r.i32()
    brokers = r.array(lambda: (r.i32(), r.string(), r.i32(), r.string()))
    cluster_id = r.string()
    controller = r.i32()

    def topic():
        err = r.i16()
        name = r.string()
        internal = r.boolean()
        parts = r.array(lambda: (r.i16(), r.i32(), r.i32(), r.array(r.i32), r.array(r.i32)))
        return {"error": err, "name": name, "internal": internal, "partitions": parts}
    topics = r.array(topic)
    return {"throttle": throttle, "brokers": brokers, "cluster_id": cluster_id, "controller": controller,
            "topics": topics}


def connect(addr, timeout=10.0):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    return s


def api_versions_ok(addr, timeout=2.0):
    """True if the broker at addr answers an ApiVersions v0 request with error 0."""
    try:
        s = connect(addr, timeout)
        try:
            s.sendall(api_versions_v0(7))
            corr, r = recv_response(s)
            err, apis = parse_api_versions_v0(r)
            return corr == 7 and err == 0 and 18 in apis
        finally:
            s.close()
    except (OSError, EOFError, ValueError):
        return False


def wait_closed(sock, timeout):
    """Read until EOF (or a reset); return (closed, seconds, bytes_received)."""
    start = time.monotonic()
    got = 0
    sock.settimeout(0.5)
    while time.monotonic() - start < timeout:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, time.monotonic() - start, got
        if not chunk:
            return True, time.monotonic() - start, got
        got += len(chunk)
    return False, time.monotonic() - start, got


# ---- CRC32C (Castagnoli), for hand-built record batches ----
_CRC32C_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def record_batch(records, base_ts, corrupt_crc=False):
    """A magic-2 RecordBatch of (key, value) records, no compression, base offset 0."""
    recs = b""
    for i, (k, v) in enumerate(records):
        body = bytes([0]) + _varint(0) + _varint(i)
        body += _varint(-1) if k is None else _varint(len(k)) + k
        body += _varint(-1) if v is None else _varint(len(v)) + v
        body += _varint(0)  # headers
        recs += _varint(len(body)) + body
    n = len(records)
    after_crc = struct.pack(">hiqqqhii", 0, n - 1, base_ts, base_ts, -1, -1, -1, n) + recs
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    batch_tail = struct.pack(">iBI", 0, 2, crc) + after_crc  # partition_leader_epoch, magic, crc
    return struct.pack(">qi", 0, len(batch_tail)) + batch_tail


def produce_v3(topic, partition, batch, acks=-1, timeout_ms=5000, correlation_id=1):
    body = _str(None) + struct.pack(">hi", acks, timeout_ms)
    body += struct.pack(">i", 1) + _str(topic) + struct.pack(">i", 1) + struct.pack(">i", partition) + _bytes(batch)
    return frame(0, 3, correlation_id, body)


def parse_produce_v3(r):
    def part():
        return {"partition": r.i32(), "error": r.i16(), "base_offset": r.i64(), "log_append_time": r.i64()}
    topics = r.array(lambda: (r.string(), r.array(part)))
    throttle = r.i32()
    return {name: parts for name, parts in topics}, throttle


def fetch_v4(topic, partition, offset, max_wait_ms=500, min_bytes=1, max_bytes=1 << 20, correlation_id=1):
    body = struct.pack(">iiiib", -1, max_wait_ms, min_bytes, max_bytes, 0)
    body += struct.pack(">i", 1) + _str(topic) + struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes)
    return frame(1, 4, correlation_id, body)


def parse_fetch_v4(r):
    """Returns {(topic, partition): {error, high_watermark, last_stable_offset, records}}."""
    r.i32()  # throttle
    out = {}

    def part(topic):
        p = r.i32()
        err = r.i16()
        hw = r.i64()
        lso = r.i64()
        r.array(lambda: (r.i64(), r.i64()))
        n = r.i32()
        recs = None if n < 0 else r.take(n)
        out[(topic, p)] = {"error": err, "high_watermark": hw, "last_stable_offset": lso, "records": recs}

    def topic():
        name = r.string()
        r.array(lambda: part(name))
    r.array(topic)
    return out


def batches(data):
    """(base_offset, last_offset_delta, record_count) of each complete v2 batch in a records blob."""
    out = []
    pos = 0
    while data and pos + 61 <= len(data):
        base, length = struct.unpack(">qi", data[pos:pos + 12])
        if pos + 12 + length > len(data):
            break  # a partial trailing batch is allowed in fetch responses
        last_delta = struct.unpack(">i", data[pos + 23:pos + 27])[0]
        count = struct.unpack(">i", data[pos + 57:pos + 61])[0]
        out.append((base, last_delta, count))
        pos += 12 + length
    return out


def batch_codecs(data):
    """The compression codec (attributes & 7: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd) of each
    complete v2 batch in a records blob."""
    out = []
    pos = 0
    while data and pos + 61 <= len(data):
        length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
        if pos + 12 + length > len(data):
            break
        out.append(struct.unpack(">h", data[pos + 21:pos + 23])[0] & 7)
        pos += 12 + length
    return out


def stored_codecs(addr, topic, partition, offset=0):
    """The codec of every batch stored in a partition from `offset`, as a raw Fetch v4 returns the
    batches exactly as the broker keeps them on disk."""
    s = connect(addr)
    try:
        out = []
        while True:
            s.sendall(fetch_v4(topic, partition, offset, max_wait_ms=0))
            _, r = recv_response(s)
            p = parse_fetch_v4(r)[(topic, partition)]
            if p["error"] != 0:
                raise ValueError(f"fetch {topic}[{partition}]@{offset}: error {p['error']}")
            got = batches(p["records"] or b"")
            if not got:
                return out
            out += batch_codecs(p["records"])
            offset = got[-1][0] + got[-1][1] + 1
    finally:
        s.close()
