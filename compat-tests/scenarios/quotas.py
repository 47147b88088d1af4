"""Client quota scenarios: quotas set and described with `skua quota` (AlterClientQuotas /
DescribeClientQuotas over the Kafka protocol), and a confluent-kafka (librdkafka) producer under a
producer_byte_rate quota told to back off (throttle_time_ms > 0, librdkafka's throttle_cb) while a
producer with another client id on the same broker never is."""

import json
import subprocess
import threading
import time

from confluent_kafka import Producer

from common import Fail, check, eq, topic_name, boot, env, main, confluent_create_topic


def skua(*args):
    r = subprocess.run([env("SKUA_BIN"), *args, "--bootstrap-server", boot()], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        raise Fail(f"skua {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def produce_for(client_id, topic, seconds, throttles):
    """Produce 1 kB records as fast as librdkafka lets us; returns bytes delivered."""
    delivered = [0]

    def on_delivery(err, msg):
        if err is None:
            delivered[0] += len(msg.value())

    def on_throttle(ev):
        throttles.append(ev.throttle_time)

    p = Producer({"bootstrap.servers": boot(), "client.id": client_id, "acks": 1, "linger.ms": 5,
                  "enable.idempotence": False, "throttle_cb": on_throttle, "message.timeout.ms": 30000})
    value = b"q" * 1000
    end = time.time() + seconds
    while time.time() < end:
        try:
            p.produce(topic, value=value, partition=0, on_delivery=on_delivery)
        except BufferError:
            p.poll(0.05)
        p.poll(0)
    p.flush(30)
    return delivered[0]


def throttled_producer():
    topic = topic_name("quota")
    confluent_create_topic(topic, 1)
    noisy, quiet = f"noisy-{topic}", f"quiet-{topic}"
    skua("quota", "set", "--client-id", noisy, "--producer-byte-rate", "50000")
    described = json.loads(skua("quota", "describe", "--client-id", noisy, "--output", "json"))
    eq(described, [{"entity": {"client-id": noisy}, "quotas": {"producer_byte_rate": "50000"}}],
       "skua quota describe")
    noisy_throttles, quiet_throttles = [], []
    result = {}
    t = threading.Thread(target=lambda: result.update(noisy=produce_for(noisy, topic, 5, noisy_throttles)))
    t.start()
    result["quiet"] = produce_for(quiet, topic, 5, quiet_throttles)
    t.join()
    print(f"noisy: {result['noisy']} bytes, throttles {noisy_throttles[:10]}...; "
          f"quiet: {result['quiet']} bytes, throttles {quiet_throttles[:10]}")
    check(any(ms > 0 for ms in noisy_throttles), f"the noisy producer was never throttled: {noisy_throttles}")
    eq([ms for ms in quiet_throttles if ms > 0], [], "throttles of the producer without a quota")
    check(result["noisy"] > 0 and result["quiet"] > 0, f"both delivered: {result}")
    # Removing the quota removes it from the metadata.
    skua("quota", "set", "--client-id", noisy, "--delete", "producer_byte_rate")
    eq(json.loads(skua("quota", "describe", "--client-id", noisy, "--output", "json")), [],
       "describe after delete")


SCENARIOS = {
    "quota_throttled_producer": throttled_producer,
}

if __name__ == "__main__":
    main(SCENARIOS)
