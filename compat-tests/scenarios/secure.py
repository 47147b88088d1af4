"""Security scenarios (issue 11): the real clients over SASL_SSL and mTLS against the runner's
`secure` broker (seclib.secure_sets: PLAINTEXT + SSL with ssl.client.auth=required + SASL_SSL with
PLAIN and SCRAM), certificates made with openssl at run time (seclib.make_pki).

Scenario names are `<what>_<client>` for client in kcat, confluent, kafka-python, aiokafka, kafkajs:
  sasl_plain_*       produce over SASL_SSL (PLAIN, user alice) and read back over SASL_SSL: exact
                     partition, offset, key, value of 20 records (and the same through PLAINTEXT)
  scram_sha_256_*, scram_sha_512_*
                     the same with a SCRAM user made with AlterUserScramCredentials (skipped while
                     the broker does not advertise it)
  mtls_*             the same over the SSL listener with a client certificate signed by the CA
  group_sasl_*       the client's group consumer over SASL_SSL reads exactly the 20 records once and
                     commits; the group's committed offsets are the end offsets
  txn_sasl_*         (not kcat) commit / abort / commit over SASL_SSL: read_committed sees exactly the
                     committed records at their offsets (markers included)
  wrong_password_*   PLAIN with a wrong password: the client reports an authentication failure
                     (SASL_AUTHENTICATION_FAILED's text) within seconds, nothing is produced
  untrusted_cert_*   a client certificate from a CA the broker does not trust: the handshake fails,
                     the client gets no metadata, within seconds
Debian 12's sarama (1.22, compat-tests/go/sarama with SARAMA_SASL_* / SARAMA_TLS_CA):
  sasl_plain_sarama_v0   Version 0.10.2.0: SaslHandshake v0, then the PLAIN token raw (no Kafka
                         framing, answered with a raw empty token); produce 3, read them back
  sasl_plain_sarama_v1   Version 2.1.0: SaslHandshake v1 + SaslAuthenticate v0; the same
  wrong_password_sarama  Version 2.1.0 with a wrong password: "SASL Authentication failed"
A scenario that needs a broker feature main does not have yet prints `SKIP: reason`.
"""

import asyncio
import json
import os
import subprocess
import time
import uuid

from common import Fail, check, eq, eq_records, topic_name, main, confluent_read, confluent_create_topic, COMPAT_DIR
import rawproto
import seclib

CLIENTS = ["kcat", "confluent", "kafka-python", "aiokafka", "kafkajs"]
TXN_CLIENTS = ["confluent", "kafka-python", "aiokafka", "kafkajs"]
N = 20


class Skip(Exception):
    pass


def env(name):
    v = os.environ.get(name)
    if not v:
        raise Fail(f"{name} is not set (run through run.sh)")
    return v


def plaintext():
    return env("SKUA_SECURE_PLAINTEXT")


def pki(name):
    return os.path.join(env("SKUA_PKI"), name)


def sasl(mech="PLAIN", user="alice", password="alice-secret"):
    return {"kind": "sasl", "addr": env("SKUA_SECURE_SASL_SSL"), "mech": mech, "user": user, "password": password}


def mtls(cert="client"):
    return {"kind": "ssl", "addr": env("SKUA_SECURE_SSL"), "cert": cert}


def advertised(api_key):
    s = rawproto.connect(plaintext(), timeout=5)
    try:
        s.sendall(rawproto.api_versions_v0())
        _, r = rawproto.recv_response(s)
        err, apis = rawproto.parse_api_versions_v0(r)
        return err == 0 and api_key in apis
    finally:
        s.close()


# ---- per-client security settings ----

def librdkafka_conf(sec):
    c = {"bootstrap.servers": sec["addr"], "ssl.ca.location": pki("ca.pem")}
    if sec["kind"] == "sasl":
        c.update({"security.protocol": "SASL_SSL", "sasl.mechanism": sec["mech"],
                  "sasl.username": sec["user"], "sasl.password": sec["password"]})
    else:
        c.update({"security.protocol": "SSL", "ssl.certificate.location": pki(sec["cert"] + ".crt"),
                  "ssl.key.location": pki(sec["cert"] + ".key")})
    return c


def kafka_python_conf(sec):
    c = {"bootstrap_servers": sec["addr"], "ssl_cafile": pki("ca.pem")}
    if sec["kind"] == "sasl":
        c.update({"security_protocol": "SASL_SSL", "sasl_mechanism": sec["mech"],
                  "sasl_plain_username": sec["user"], "sasl_plain_password": sec["password"]})
    else:
        c.update({"security_protocol": "SSL", "ssl_certfile": pki(sec["cert"] + ".crt"),
                  "ssl_keyfile": pki(sec["cert"] + ".key")})
    return c


def aiokafka_conf(sec):
    from aiokafka.helpers import create_ssl_context
    if sec["kind"] == "sasl":
        ctx = create_ssl_context(cafile=pki("ca.pem"))
        return {"bootstrap_servers": sec["addr"], "ssl_context": ctx, "security_protocol": "SASL_SSL",
                "sasl_mechanism": sec["mech"], "sasl_plain_username": sec["user"],
                "sasl_plain_password": sec["password"]}
    ctx = create_ssl_context(cafile=pki("ca.pem"), certfile=pki(sec["cert"] + ".crt"),
                             keyfile=pki(sec["cert"] + ".key"))
    return {"bootstrap_servers": sec["addr"], "ssl_context": ctx, "security_protocol": "SSL"}


def kcat_args(sec):
    return [f"{k}={v}" for k, v in librdkafka_conf(sec).items() if k != "bootstrap.servers"]


def kafkajs(spec, sec, timeout=60):
    spec = dict(spec, brokers=[sec["addr"]])
    if sec["kind"] == "sasl":
        spec["ssl"] = {"ca": pki("ca.pem")}
        spec["sasl"] = {"mechanism": sec["mech"].lower(), "username": sec["user"], "password": sec["password"]}
    else:
        spec["ssl"] = {"ca": pki("ca.pem"), "cert": pki(sec["cert"] + ".crt"), "key": pki(sec["cert"] + ".key")}
    node_env = dict(os.environ, NODE_PATH=os.path.join(COMPAT_DIR, "node_modules"), KAFKAJS_NO_PARTITIONER_WARNING="1")
    p = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafkajs", "secure.js")],
                       input=json.dumps(spec), capture_output=True, text=True, timeout=timeout, cwd=COMPAT_DIR,
                       env=node_env)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise Fail(f"kafkajs secure.js exit {p.returncode}, no result; stderr: {p.stderr.strip()[-600:]}")
    return json.loads(lines[-1])


def js_ok(res, what):
    if "error" in res:
        raise Fail(f"kafkajs {what}: {json.dumps(res['error'])[:600]}")
    return res["ok"]


def kcat(args, sec, stdin=None, timeout=30):
    cmd = ["kcat", "-b", sec["addr"]]
    for x in kcat_args(sec):
        cmd += ["-X", x]
    return subprocess.run(cmd + args, input=stdin, capture_output=True, text=True, timeout=timeout)


# ---- the records ----

def records():
    """N records over 2 partitions: (partition, key, value)."""
    return [(i % 2, f"k{i}", f"v{i}-{uuid.uuid4().hex[:6]}") for i in range(N)]


def expected(recs):
    """(partition, offset, key, value) each record must have, in partition-then-offset order."""
    nxt = {}
    out = []
    for p, k, v in recs:
        out.append((p, nxt.get(p, 0), k, v))
        nxt[p] = nxt.get(p, 0) + 1
    return sorted(out)


def reference_read(topic, n, extra=None, bootstrap=None):
    """The log as confluent-kafka reads it over PLAINTEXT (or with `extra` settings)."""
    got = confluent_read(topic, [0, 1], n, bootstrap=bootstrap or plaintext(), extra=extra)
    return sorted((r["partition"], r["offset"], r["key"].decode(), r["value"].decode()) for p in got.values() for r in p)


def new_topic(prefix):
    t = topic_name(prefix)
    confluent_create_topic(t, 2, bootstrap=plaintext())
    return t


# ---- produce + read back with the client itself, over `sec` ----

def produce_consume(client, sec):
    t = new_topic(f"sec-{client}")
    recs = records()
    want = expected(recs)
    if client == "kcat":
        for p in (0, 1):
            lines = "".join(f"{k}:{v}\n" for pp, k, v in recs if pp == p)
            r = kcat(["-P", "-t", t, "-p", str(p), "-K:"], sec, stdin=lines)
            eq(r.returncode, 0, f"kcat -P exit code (stderr {r.stderr.strip()[-300:]})")
        r = kcat(["-C", "-t", t, "-o", "beginning", "-e", "-q", "-f", "%p|%o|%k|%s\\n"], sec)
        eq(r.returncode, 0, f"kcat -C exit code (stderr {r.stderr.strip()[-300:]})")
        got = sorted((int(p), int(o), k, v) for p, o, k, v in (l.split("|") for l in r.stdout.splitlines() if l))
    elif client == "confluent":
        from confluent_kafka import Producer
        acks = []
        pr = Producer(dict(librdkafka_conf(sec), **{"linger.ms": 5}))
        for p, k, v in recs:
            pr.produce(t, key=k, value=v, partition=p,
                       on_delivery=lambda err, m: acks.append((err, m.partition(), m.offset())))
        left = pr.flush(20)
        eq(left, 0, "records still unacknowledged after flush(20)")
        check(all(a[0] is None for a in acks), f"delivery errors: {[a for a in acks if a[0]]}")
        eq(sorted((a[1], a[2]) for a in acks), [(w[0], w[1]) for w in want], "acknowledged (partition, offset)")
        got = sorted((r["partition"], r["offset"], r["key"].decode(), r["value"].decode())
                     for p in confluent_read(t, [0, 1], N, bootstrap=sec["addr"],
                                             extra={k: v for k, v in librdkafka_conf(sec).items()
                                                    if k != "bootstrap.servers"}).values() for r in p)
    elif client == "kafka-python":
        from kafka import KafkaProducer, KafkaConsumer, TopicPartition
        pr = KafkaProducer(enable_idempotence=False, request_timeout_ms=15000, max_block_ms=15000,
                           **kafka_python_conf(sec))
        acks = [(m.partition, m.offset) for m in
                [pr.send(t, key=k.encode(), value=v.encode(), partition=p).get(timeout=20) for p, k, v in recs]]
        pr.close(5)
        eq(sorted(acks), [(w[0], w[1]) for w in want], "acknowledged (partition, offset)")
        c = KafkaConsumer(enable_auto_commit=False, consumer_timeout_ms=1000, **kafka_python_conf(sec))
        c.assign([TopicPartition(t, 0), TopicPartition(t, 1)])
        c.seek_to_beginning()
        got = []
        deadline = time.monotonic() + 30
        while len(got) < N and time.monotonic() < deadline:
            for tp, ms in c.poll(500).items():
                got += [(m.partition, m.offset, m.key.decode(), m.value.decode()) for m in ms]
        c.close()
        got.sort()
    elif client == "aiokafka":
        got = asyncio.run(aio_produce_consume(t, recs, want, sec))
    elif client == "kafkajs":
        acks = js_ok(kafkajs({"op": "produce", "topic": t,
                              "records": [{"partition": p, "key": k, "value": v} for p, k, v in recs]}, sec),
                     "produce")
        eq(sorted((a["partition"], a["offset"]) for a in acks), [(w[0], w[1]) for w in want],
           "acknowledged (partition, offset)")
        # kafkajs's consumer is a group consumer: group_sasl_kafkajs reads with it
        got = reference_read(t, N, bootstrap=sec["addr"],
                             extra={k: v for k, v in librdkafka_conf(sec).items() if k != "bootstrap.servers"})
    else:
        raise Fail(f"unknown client {client}")
    eq_records(got, want, f"{client} read back over {sec['kind']} (partition, offset, key, value)")
    eq_records(reference_read(t, N), want, "confluent-kafka over PLAINTEXT (partition, offset, key, value)")


async def aio_produce_consume(t, recs, want, sec):
    from aiokafka import AIOKafkaProducer, AIOKafkaConsumer, TopicPartition
    pr = AIOKafkaProducer(request_timeout_ms=15000, **aiokafka_conf(sec))
    await pr.start()
    try:
        acks = [(m.partition, m.offset) for m in
                [await pr.send_and_wait(t, key=k.encode(), value=v.encode(), partition=p) for p, k, v in recs]]
    finally:
        await pr.stop()
    eq(sorted(acks), [(w[0], w[1]) for w in want], "acknowledged (partition, offset)")
    c = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", **aiokafka_conf(sec))
    await c.start()
    got = []
    try:
        c.assign([TopicPartition(t, 0), TopicPartition(t, 1)])
        await c.seek_to_beginning()
        deadline = time.monotonic() + 30
        while len(got) < N and time.monotonic() < deadline:
            for tp, ms in (await c.getmany(timeout_ms=500)).items():
                got += [(m.partition, m.offset, m.key.decode(), m.value.decode()) for m in ms]
    finally:
        await c.stop()
    return sorted(got)


# ---- a consumer group over SASL_SSL ----

def produce_plain(t, recs):
    from confluent_kafka import Producer
    pr = Producer({"bootstrap.servers": plaintext(), "linger.ms": 5})
    for p, k, v in recs:
        pr.produce(t, key=k, value=v, partition=p)
    eq(pr.flush(20), 0, "setup records unacknowledged after flush(20)")


def committed(group, t):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": plaintext(), "group.id": group, "enable.auto.commit": False})
    try:
        return {tp.partition: tp.offset for tp in c.committed([TopicPartition(t, 0), TopicPartition(t, 1)], timeout=15)}
    finally:
        c.close()


def group_sasl(client):
    sec = sasl()
    t = new_topic(f"secg-{client}")
    g = f"compat-secg-{client}-{uuid.uuid4().hex[:8]}"
    recs = records()
    want = expected(recs)
    produce_plain(t, recs)
    if client == "kcat":
        r = kcat(["-G", g, "-e", "-q", "-f", "%p|%o|%k|%s\\n", "-X", "auto.offset.reset=earliest", t], sec, timeout=60)
        eq(r.returncode, 0, f"kcat -G exit code (stderr {r.stderr.strip()[-300:]})")
        got = sorted((int(p), int(o), k, v) for p, o, k, v in (l.split("|") for l in r.stdout.splitlines() if l))
    elif client == "confluent":
        from confluent_kafka import Consumer
        c = Consumer(dict(librdkafka_conf(sec), **{"group.id": g, "auto.offset.reset": "earliest",
                                                    "enable.auto.commit": False}))
        c.subscribe([t])
        got = []
        deadline = time.monotonic() + 40
        while len(got) < N and time.monotonic() < deadline:
            for m in c.consume(100, 0.5):
                check(m.error() is None, f"consumer error: {m.error()}")
                got.append((m.partition(), m.offset(), m.key().decode(), m.value().decode()))
        c.commit(asynchronous=False)
        c.close()
        got.sort()
    elif client == "kafka-python":
        from kafka import KafkaConsumer
        c = KafkaConsumer(t, group_id=g, auto_offset_reset="earliest", enable_auto_commit=False,
                          **kafka_python_conf(sec))
        got = []
        deadline = time.monotonic() + 40
        while len(got) < N and time.monotonic() < deadline:
            for tp, ms in c.poll(500).items():
                got += [(m.partition, m.offset, m.key.decode(), m.value.decode()) for m in ms]
        c.commit()
        c.close()
        got.sort()
    elif client == "aiokafka":
        got = asyncio.run(aio_group(t, g, sec))
    elif client == "kafkajs":
        res = js_ok(kafkajs({"op": "group", "topic": t, "group": g, "count": N}, sec), "group consumer")
        got = sorted((r["partition"], r["offset"], r["key"], r["value"]) for r in res)
    eq_records(got, want, f"{client} group consumer over SASL_SSL (partition, offset, key, value)")
    eq(committed(g, t), {0: N // 2, 1: N // 2}, f"group {g}'s committed offsets")


async def aio_group(t, g, sec):
    from aiokafka import AIOKafkaConsumer
    c = AIOKafkaConsumer(t, group_id=g, auto_offset_reset="earliest", enable_auto_commit=False, **aiokafka_conf(sec))
    await c.start()
    got = []
    try:
        deadline = time.monotonic() + 40
        while len(got) < N and time.monotonic() < deadline:
            for tp, ms in (await c.getmany(timeout_ms=500)).items():
                got += [(m.partition, m.offset, m.key.decode(), m.value.decode()) for m in ms]
        await c.commit()
    finally:
        await c.stop()
    return sorted(got)


# ---- a transaction over SASL_SSL ----

def txn_sasl(client):
    """Three transactions over 2 partitions: commit (3 records), abort (2), commit (3)."""
    sec = sasl()
    t = new_topic(f"sect-{client}")
    txid = f"compat-sect-{client}-{uuid.uuid4().hex[:8]}"
    plan = [(True, [(0, "a0", "A0"), (1, "a1", "A1"), (0, "a2", "A2")]),
            (False, [(0, "b0", "B0"), (1, "b1", "B1")]),
            (True, [(0, "c0", "C0"), (1, "c1", "C1"), (1, "c2", "C2")])]
    if client == "confluent":
        from confluent_kafka import Producer
        pr = Producer(dict(librdkafka_conf(sec), **{"transactional.id": txid}))
        pr.init_transactions(20)
        for commit, recs in plan:
            pr.begin_transaction()
            for p, k, v in recs:
                pr.produce(t, key=k, value=v, partition=p)
            # abort_transaction purges records not sent yet: send them first, the abort marker then
            # follows them in the log
            eq(pr.flush(20), 0, "records unacknowledged after flush(20)")
            (pr.commit_transaction if commit else pr.abort_transaction)(20)
    elif client == "kafka-python":
        from kafka import KafkaProducer
        pr = KafkaProducer(transactional_id=txid, request_timeout_ms=15000, max_block_ms=15000,
                           **kafka_python_conf(sec))
        pr.init_transactions()
        for commit, recs in plan:
            pr.begin_transaction()
            for p, k, v in recs:
                pr.send(t, key=k.encode(), value=v.encode(), partition=p).get(timeout=20)
            (pr.commit_transaction if commit else pr.abort_transaction)()
        pr.close(5)
    elif client == "aiokafka":
        asyncio.run(aio_txn(t, txid, plan, sec))
    elif client == "kafkajs":
        js_ok(kafkajs({"op": "txn", "topic": t, "txid": txid,
                       "plan": [{"commit": c, "records": [{"partition": p, "key": k, "value": v} for p, k, v in rs]}
                                for c, rs in plan]}, sec), "transactions")
    # offsets: p0 = a0 0, a2 1, marker 2, b0 3, marker 4, c0 5, marker 6; p1 = a1 0, marker 1, b1 2,
    # marker 3, c1 4, c2 5, marker 6
    want_rc = sorted([(0, 0, "a0", "A0"), (0, 1, "a2", "A2"), (0, 5, "c0", "C0"),
                      (1, 0, "a1", "A1"), (1, 4, "c1", "C1"), (1, 5, "c2", "C2")])
    got = reference_read(t, len(want_rc), extra={"isolation.level": "read_committed"})
    eq_records(got, want_rc, f"read_committed after {client}'s transactions over SASL_SSL")
    want_ru = sorted(want_rc + [(0, 3, "b0", "B0"), (1, 2, "b1", "B1")])
    eq_records(reference_read(t, len(want_ru), extra={"isolation.level": "read_uncommitted"}), want_ru,
               "read_uncommitted (every data record, never a marker)")


async def aio_txn(t, txid, plan, sec):
    from aiokafka import AIOKafkaProducer
    pr = AIOKafkaProducer(transactional_id=txid, request_timeout_ms=15000, **aiokafka_conf(sec))
    await pr.start()
    try:
        for commit, recs in plan:
            await pr.begin_transaction()
            for p, k, v in recs:
                await pr.send_and_wait(t, key=k.encode(), value=v.encode(), partition=p)
            await (pr.commit_transaction() if commit else pr.abort_transaction())
    finally:
        await pr.stop()


# ---- refusals ----

AUTH_TEXT = "Authentication failed: Invalid username or password"


def refused(client, sec, what):
    """Connect with `sec` and ask for metadata: returns the client's error text (the client must fail
    within the bound; a success is a failure of the scenario)."""
    t0 = time.monotonic()
    if client == "kcat":
        r = kcat(["-L", "-m", "5"], sec, timeout=30)
        check(r.returncode != 0, f"kcat -L succeeded with {what}: {r.stdout[:200]}")
        err = r.stderr
    elif client == "confluent":
        from confluent_kafka.admin import AdminClient
        errors = []
        a = AdminClient(dict(librdkafka_conf(sec), error_cb=lambda e: errors.append(str(e))))
        try:
            a.list_topics(timeout=5)
            raise Fail(f"list_topics succeeded with {what}")
        except Fail:
            raise
        except Exception as e:  # noqa: BLE001 - the expected failure
            errors.append(str(e))
        a.poll(1)  # error_cb is served by poll
        err = " | ".join(errors)
    elif client == "kafka-python":
        # kafka-python 3.0 retries a failed bootstrap until bootstrap_timeout_ms and then raises
        # KafkaTimeoutError (against Kafka too); the broker's answer is in what it logs meanwhile.
        import logging
        from kafka import KafkaAdminClient
        seen = []

        class Keep(logging.Handler):
            def emit(self, rec):
                seen.append(rec.getMessage())
        h = Keep(level=logging.WARNING)
        klog = logging.getLogger("kafka")
        klog.addHandler(h)
        try:
            a = KafkaAdminClient(request_timeout_ms=5000, bootstrap_timeout_ms=8000, **kafka_python_conf(sec))
            a.list_topics()
            raise Fail(f"list_topics succeeded with {what}")
        except Fail:
            raise
        except Exception as e:  # noqa: BLE001 - the expected failure
            err = f"{type(e).__name__}: {e} | logged: " + " | ".join(seen)[:2000]
        finally:
            klog.removeHandler(h)
    elif client == "aiokafka":
        err = asyncio.run(aio_refused(sec, what))
    elif client == "kafkajs":
        res = kafkajs({"op": "metadata", "retries": 0}, sec)
        check("error" in res, f"kafkajs listTopics succeeded with {what}: {res}")
        err = json.dumps(res["error"])
    dt = time.monotonic() - t0
    check(dt < 25, f"{client} took {dt:.1f}s to give up with {what} (a hang?)")
    return err


async def aio_refused(sec, what):
    """aiokafka's start() says only "Unable to bootstrap"; the reason is in what it logs."""
    import logging
    from aiokafka import AIOKafkaProducer
    logged = []

    class Keep(logging.Handler):
        def emit(self, record):
            logged.append(record.getMessage())
    logging.getLogger("aiokafka").addHandler(Keep())
    pr = AIOKafkaProducer(request_timeout_ms=5000, **aiokafka_conf(sec))
    try:
        await pr.start()
    except Exception as e:  # noqa: BLE001 - the expected failure
        return f"{type(e).__name__}: {e}; logged: {' | '.join(logged)}"
    finally:
        try:
            await pr.stop()
        except Exception:  # noqa: BLE001
            pass
    raise Fail(f"AIOKafkaProducer.start() succeeded with {what}")


def wrong_password(client):
    err = refused(client, sasl(password="not-alice-secret"), "a wrong password")
    # every client names the authentication failure (kafka-python / aiokafka by the error class,
    # librdkafka and kafkajs with the broker's SaslAuthenticate error message)
    want = {"kcat": AUTH_TEXT, "confluent": AUTH_TEXT, "kafkajs": AUTH_TEXT, "aiokafka": AUTH_TEXT,
            "kafka-python": "SaslAuthenticationFailedError: " + AUTH_TEXT}[client]
    check(want in err, f"{client}'s error for a wrong password should contain {want!r}: {err[:600]}")


def untrusted_cert(client):
    err = refused(client, mtls(cert="rogue"), "a client certificate from an untrusted CA")
    low = err.lower()
    check(any(w in low for w in ("ssl", "certificate", "tls", "handshake", "connection", "broker transport",
                                 "nobrokersavailable", "kafkaconnectionerror", "unable to bootstrap")),
          f"{client}'s error for an untrusted certificate names no TLS/connection failure: {err[:600]}")


def scram(client, mech):
    if not advertised(51):
        raise Skip("the broker does not advertise AlterUserScramCredentials (SCRAM users not in main yet)")
    user = f"scram{uuid.uuid4().hex[:6]}"
    password = "pw-" + uuid.uuid4().hex[:8]
    create_scram_user(user, mech, password)
    produce_consume(client, sasl(mech=mech, user=user, password=password))


def create_scram_user(user, mech, password):
    """AlterUserScramCredentials through kafka-python's admin client is not available in 3.0;
    confluent-kafka's AdminClient has alter_user_scram_credentials (KIP-554)."""
    from confluent_kafka.admin import AdminClient, UserScramCredentialUpsertion, ScramCredentialInfo, ScramMechanism
    a = AdminClient({"bootstrap.servers": plaintext()})
    m = {"SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256, "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512}[mech]
    fs = a.alter_user_scram_credentials([UserScramCredentialUpsertion(user, ScramCredentialInfo(m, 8192),
                                                                      password.encode())], request_timeout=15)
    for f in fs.values():
        f.result(timeout=20)


# ---- authorization (a broker of its own with the standard authorizer) ----

TOPIC_AUTHZ = {"kcat": "Topic authorization failed", "confluent": "TOPIC_AUTHORIZATION_FAILED",
               "kafka-python": "TopicAuthorizationFailedError", "aiokafka": "TopicAuthorizationFailedError",
               "kafkajs": "TOPIC_AUTHORIZATION_FAILED"}


def acl_broker():
    """PLAINTEXT (its clients are User:ANONYMOUS, a super user: the test's admin door), SSL and
    SASL_SSL as on the suite's secure broker, ACLs on, deny by default."""
    from common import OwnBroker
    import socket as _s
    ports = []
    for _ in range(2):
        so = _s.socket()
        so.bind(("127.0.0.1", 0))
        ports.append(so.getsockname()[1])
        so.close()
    b = OwnBroker("acl")
    pt = int(b.addr.rsplit(":", 1)[1])
    args = []
    for x in seclib.secure_sets(pt, ports[0], ports[1], env("SKUA_PKI")) + [
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users={seclib.SUPER_USERS}", "allow.everyone.if.no.acl.found=false"]:
        args += ["--set", x]
    b.args = args
    b.start()
    return b, {"kind": "sasl", "addr": f"127.0.0.1:{ports[1]}", "mech": "PLAIN", "user": "alice",
               "password": "alice-secret"}


def try_produce(client, sec, t):
    """Produce one record to partition 0 of t; returns None or the client's error text."""
    try:
        if client == "kcat":
            r = kcat(["-P", "-t", t, "-p", "0", "-X", "message.timeout.ms=8000"], sec, stdin="x\n")
            return None if r.returncode == 0 and "ERROR" not in r.stderr else r.stderr
        if client == "confluent":
            from confluent_kafka import Producer
            errs = []
            pr = Producer(dict(librdkafka_conf(sec), **{"message.timeout.ms": 8000}))
            pr.produce(t, value=b"x", partition=0, on_delivery=lambda e, m: errs.append(e))
            pr.flush(15)
            # (KafkaError's == raises TypeError against None: compare by identity)
            return None if len(errs) == 1 and errs[0] is None else " ".join(f"{e.name()} {e}" for e in errs if e) or "no delivery report"
        if client == "kafka-python":
            from kafka import KafkaProducer
            pr = KafkaProducer(enable_idempotence=False, max_block_ms=8000, request_timeout_ms=8000,
                               **kafka_python_conf(sec))
            try:
                pr.send(t, value=b"x", partition=0).get(timeout=15)
            finally:
                pr.close(2)
            return None
        if client == "aiokafka":
            async def go():
                from aiokafka import AIOKafkaProducer
                pr = AIOKafkaProducer(request_timeout_ms=8000, **aiokafka_conf(sec))
                await pr.start()
                try:
                    await pr.send_and_wait(t, b"x", partition=0)
                finally:
                    await pr.stop()
            asyncio.run(go())
            return None
        if client == "kafkajs":
            res = kafkajs({"op": "produce", "topic": t, "retries": 0,
                           "records": [{"partition": 0, "key": "k", "value": "x"}]}, sec)
            return json.dumps(res["error"]) if "error" in res else None
    except Exception as e:  # noqa: BLE001 - the client's refusal
        return f"{type(e).__name__}: {e}"


def acl_refused_then_allowed(client):
    """alice (SASL_SSL, PLAIN) without ACLs: producing is refused with TOPIC_AUTHORIZATION_FAILED and
    her Metadata lists no topic; after ALLOW Write/Read/Describe on the topic (CreateAcls by the
    PLAINTEXT super user) she produces and reads back exactly, and her Metadata lists that topic only."""
    if not advertised(30):
        raise Skip("the broker does not advertise CreateAcls (ACLs not in main yet)")
    from confluent_kafka.admin import AdminClient, AclBinding, ResourceType, ResourcePatternType, AclOperation, \
        AclPermissionType
    b, sec = acl_broker()
    try:
        admin = AdminClient({"bootstrap.servers": b.addr})
        t = topic_name(f"acl-{client}")
        other = topic_name(f"acl-other-{client}")
        confluent_create_topic(t, 2, bootstrap=b.addr)
        confluent_create_topic(other, 1, bootstrap=b.addr)
        err = try_produce(client, sec, t)
        check(err is not None, f"{client}: alice without ACLs produced to {t}")
        check(TOPIC_AUTHZ[client] in err, f"{client}: alice's refusal should name {TOPIC_AUTHZ[client]}: {err[:500]}")
        md = AdminClient(librdkafka_conf(sec)).list_topics(timeout=10)
        eq(sorted(n for n in md.topics if not n.startswith("__")), [], "topics alice's Metadata lists without ACLs")
        acls = [AclBinding(ResourceType.TOPIC, t, ResourcePatternType.LITERAL, "User:alice", "*", op,
                           AclPermissionType.ALLOW) for op in (AclOperation.WRITE, AclOperation.READ)]
        # the reference reader (confluent-kafka with assign) has a group.id: librdkafka looks up its
        # coordinator, which needs DESCRIBE on the group (READ implies it)
        acls.append(AclBinding(ResourceType.GROUP, "compat-unused-", ResourcePatternType.PREFIXED, "User:alice", "*",
                               AclOperation.READ, AclPermissionType.ALLOW))
        for f in admin.create_acls(acls, request_timeout=15).values():
            f.result()
        time.sleep(0.5)
        md = AdminClient(librdkafka_conf(sec)).list_topics(timeout=10)
        eq(sorted(n for n in md.topics if not n.startswith("__")), [t],
           "topics alice's Metadata lists with READ/WRITE on one topic (both imply DESCRIBE)")
        old = os.environ.get("SKUA_SECURE_PLAINTEXT")
        os.environ["SKUA_SECURE_PLAINTEXT"] = b.addr  # new_topic / reference_read on this broker
        try:
            produce_consume_on(client, sec, t)
        finally:
            os.environ["SKUA_SECURE_PLAINTEXT"] = old or ""
    finally:
        b.stop()


def produce_consume_on(client, sec, t):
    global new_topic
    saved = new_topic
    new_topic = lambda prefix: t  # noqa: E731 - the topic the ACL names
    try:
        produce_consume(client, sec)
    finally:
        new_topic = saved


# ---- quotas ----

def alter_client_quotas_v0(addr, entity, ops):
    """AlterClientQuotas v0 on a raw socket: entity [(type, name)], ops [(key, value or None to remove)]."""
    import struct
    body = struct.pack(">i", 1) + struct.pack(">i", len(entity))
    for typ, name in entity:
        body += rawproto._str(typ) + rawproto._str(name)
    body += struct.pack(">i", len(ops))
    for key, value in ops:
        body += rawproto._str(key) + struct.pack(">d", value or 0.0) + struct.pack(">?", value is None)
    body += struct.pack(">?", False)
    s = rawproto.connect(addr, timeout=10)
    try:
        s.sendall(rawproto.frame(49, 0, 7, body))
        _, r = rawproto.recv_response(s)
        r.i32()
        res = r.array(lambda: (r.i16(), r.string(), r.array(lambda: (r.string(), r.string()))))
    finally:
        s.close()
    eq([x[0] for x in res], [0], f"AlterClientQuotas error codes (messages {[x[1] for x in res]})")


def quota_throttled():
    """bob gets producer_byte_rate=40960 (user entity, AlterClientQuotas); bob and alice produce 1 KiB
    records as fast as they can for 6 s over SASL_SSL, each to its own topic: bob's acknowledged rate
    over the last 4 s stays near his quota (<= 1.5x) and librdkafka reports broker throttling,
    while alice's rate is at least 5x bob's quota."""
    if not advertised(49):
        raise Skip("the broker does not advertise AlterClientQuotas (quotas not in main yet)")
    import threading
    from confluent_kafka import Producer
    quota = 40960
    alter_client_quotas_v0(plaintext(), [("user", "bob")], [("producer_byte_rate", float(quota))])
    time.sleep(1)
    results = {}

    def run(user, password):
        t = new_topic(f"quota-{user}")
        stats = []
        sec = sasl(user=user, password=password)
        # Batches of at most 16 KiB: one produce response cannot carry a burst of many seconds of
        # bob's quota into the measured window (the default 1 MB batch is 25 s of it).
        pr = Producer(dict(librdkafka_conf(sec), **{"linger.ms": 5, "statistics.interval.ms": 1000,
                                                     "batch.size": 16384,
                                                     "stats_cb": lambda j: stats.append(json.loads(j)),
                                                     "queue.buffering.max.messages": 2000}))
        acked = []
        value = b"q" * 1024
        start = time.monotonic()
        while time.monotonic() - start < 6:
            try:
                pr.produce(t, value=value, partition=0,
                           on_delivery=lambda e, m: acked.append(time.monotonic()) if e is None else None)
                pr.poll(0)
            except BufferError:
                pr.poll(0.01)  # the queue is full: wait for acks
        pr.flush(30)
        # The first produce response may carry a burst the quota lets through before throttling
        # (a full queue of 2000 records); when the TLS/SASL set-up is slow it lands inside the
        # window. Measure from 2 s after the start, and at least 0.5 s after the first ack.
        first = acked[0] if acked else start
        lo = max(start + 2, first + 0.5)
        window = [a for a in acked if lo <= a <= start + 6]
        span = max(start + 6 - lo, 1.0)
        throttle = max((b.get("throttle", {}).get("max", 0) for s in stats for b in s.get("brokers", {}).values()),
                       default=0)
        results[user] = (len(window) * 1024 / span, throttle)

    ths = [threading.Thread(target=run, args=u) for u in (("bob", "bob-secret"), ("alice", "alice-secret"))]
    for th in ths:
        th.start()
    for th in ths:
        th.join(60)
    check(set(results) == {"bob", "alice"}, f"producers did not finish: {results}")
    bob_rate, bob_throttle = results["bob"]
    alice_rate, _ = results["alice"]
    print(f"# bob {bob_rate:.0f} B/s (quota {quota}, max throttle {bob_throttle} ms), alice {alice_rate:.0f} B/s",
          file=__import__("sys").stderr)
    check(bob_rate <= 1.5 * quota, f"bob produced {bob_rate:.0f} B/s over a {quota} B/s quota")
    check(bob_throttle > 0, "librdkafka reported no throttle time for bob")
    check(alice_rate >= 5 * quota, f"alice (no quota) produced only {alice_rate:.0f} B/s beside throttled bob")


def sarama_env(password="alice-secret"):
    return {"SARAMA_SASL_USER": "alice", "SARAMA_SASL_PASSWORD": password, "SARAMA_TLS_CA": pki("ca.pem")}


def sarama_sasl(version):
    from golib import run as go_run
    sec = sasl()
    t = new_topic(f"sec-sarama-{version.replace('.', '')}")
    out = go_run("sarama-compat", [sec["addr"], "produce", t, 3, "none", version], env=sarama_env())
    eq(out, ["0|0", "0|1", "0|2"], "sarama's acknowledged partition|offset over SASL_SSL")
    out = go_run("sarama-compat", [sec["addr"], "consume", t, 3, version], env=sarama_env())
    eq(out, ["0|k0|v0", "1|k1|v1", "2|k2|v2"], "what sarama read back over SASL_SSL")
    eq(reference_read(t, 3), [(0, 0, "k0", "v0"), (0, 1, "k1", "v1"), (0, 2, "k2", "v2")],
       "what a PLAINTEXT reader sees")


def wrong_password_sarama():
    from golib import run as go_run
    sec = sasl()
    t0 = time.monotonic()
    try:
        go_run("sarama-compat", [sec["addr"], "produce", new_topic("sec-sarama-bad"), 1, "none", "2.1.0"],
               env=sarama_env("not-alice-secret"), timeout=30)
        raise Fail("sarama produced with a wrong password")
    except Fail as e:
        check("SASL Authentication failed" in str(e), f"sarama's error for a wrong password: {str(e)[-400:]}")
    check(time.monotonic() - t0 < 25, "sarama took too long to give up")


SCENARIOS = {"quota_producer_throttled": quota_throttled,
             "sasl_plain_sarama_v0": lambda: sarama_sasl("0.10.2.0"),
             "sasl_plain_sarama_v1": lambda: sarama_sasl("2.1.0"),
             "wrong_password_sarama": wrong_password_sarama}
for _c in CLIENTS:
    SCENARIOS[f"acl_refused_then_allowed_{_c}"] = (lambda c: lambda: acl_refused_then_allowed(c))(_c)
    SCENARIOS[f"sasl_plain_{_c}"] = (lambda c: lambda: produce_consume(c, sasl()))(_c)
    SCENARIOS[f"mtls_{_c}"] = (lambda c: lambda: produce_consume(c, mtls()))(_c)
    SCENARIOS[f"group_sasl_{_c}"] = (lambda c: lambda: group_sasl(c))(_c)
    if _c in TXN_CLIENTS:
        SCENARIOS[f"txn_sasl_{_c}"] = (lambda c: lambda: txn_sasl(c))(_c)
    SCENARIOS[f"wrong_password_{_c}"] = (lambda c: lambda: wrong_password(c))(_c)
    SCENARIOS[f"untrusted_cert_{_c}"] = (lambda c: lambda: untrusted_cert(c))(_c)
    SCENARIOS[f"scram_sha_256_{_c}"] = (lambda c: lambda: scram(c, "SCRAM-SHA-256"))(_c)
    SCENARIOS[f"scram_sha_512_{_c}"] = (lambda c: lambda: scram(c, "SCRAM-SHA-512"))(_c)


def run_with_skip(scenarios):
    wrapped = {}
    for name, fn in scenarios.items():
        def w(fn=fn):
            try:
                fn()
            except Skip as e:
                print(f"SKIP: {e}", flush=True)
                os._exit(0)
        wrapped[name] = w
    return wrapped


if __name__ == "__main__":
    main(run_with_skip(SCENARIOS))
