"""ACLs with confluent-kafka (librdkafka): AdminClient create_acls / describe_acls / delete_acls
against a broker of its own with the StandardAuthorizer, and the authorization refusals a real
producer and consumer see, over PLAINTEXT where the principal is User:ANONYMOUS (the SASL_SSL
variants are the lead's). Bootstrapped as a super user, then restarted without it, so the ACLs
also survive a restart."""

import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                   NewTopic, ResourcePatternType, ResourceType)

from common import Fail, OwnBroker, check, eq, main

STANDARD = "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ANON = "User:ANONYMOUS"


def admin(addr):
    return AdminClient({"bootstrap.servers": addr})


def binding(rt, name, pt, op, perm):
    return AclBinding(rt, name, pt, ANON, "*", op, perm)


def acls_admin_and_refusals():
    """create_acls/describe_acls/delete_acls round trip (and survive a restart); a producer and a
    consumer without ACLs get TOPIC_AUTHORIZATION_FAILED, with an ALLOW they work, a DENY wins."""
    b = OwnBroker("acls", ["--set", STANDARD, "--set", "super.users=User:ANONYMOUS"])
    b.start()
    try:
        a = admin(b.addr)
        t = "compat-acl-topic"
        for f in a.create_topics([NewTopic(t, 1, 1)]).values():
            f.result(15)
        cluster_alter = binding(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL,
                                AclOperation.ALTER, AclPermissionType.ALLOW)
        cluster_describe = binding(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL,
                                   AclOperation.DESCRIBE, AclPermissionType.ALLOW)
        for f in a.create_acls([cluster_alter, cluster_describe]).values():
            f.result(15)
        everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                      AclOperation.ANY, AclPermissionType.ANY)
        got = a.describe_acls(everything).result(15)
        eq(sorted(str(x) for x in got), sorted(str(x) for x in [cluster_alter, cluster_describe]),
           "describe_acls after create_acls")
    finally:
        eq(b.stop(), 0, "broker exit code")

    b.args = ["--set", STANDARD]
    b.start()
    try:
        a = admin(b.addr)
        got = a.describe_acls(everything).result(15)
        eq(len(got), 2, "ACLs after a restart")
        # No ACL on the topic: the topic is invisible and refused.
        md = a.list_topics(timeout=10)
        check(t not in md.topics, f"{t} is hidden from a principal without DESCRIBE: {list(md.topics)}")

        def produce_one(value):
            errs = []
            p = Producer({"bootstrap.servers": b.addr, "message.timeout.ms": 5000, "enable.idempotence": False,
                          "topic.metadata.refresh.interval.ms": 500})
            p.produce(t, value=value, partition=0, on_delivery=lambda err, msg: errs.append(err))
            p.flush(10)
            eq(len(errs), 1, "delivery reports")
            return errs[0]

        err = produce_one(b"refused")
        check(err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED,
              f"produce without ACLs: expected TOPIC_AUTHORIZATION_FAILED, got {err}")

        # ALLOW WRITE and READ on the topic: the producer and a consumer work.
        for f in a.create_acls([
            binding(ResourceType.TOPIC, t, ResourcePatternType.LITERAL, AclOperation.WRITE, AclPermissionType.ALLOW),
            binding(ResourceType.TOPIC, "compat-acl-", ResourcePatternType.PREFIXED, AclOperation.READ,
                    AclPermissionType.ALLOW),
            # librdkafka looks up the consumer's group coordinator even with assign().
            binding(ResourceType.GROUP, "compat-acl-", ResourcePatternType.PREFIXED, AclOperation.READ,
                    AclPermissionType.ALLOW),
        ]).values():
            f.result(15)
        err = produce_one(b"allowed")
        check(err is None, f"produce with WRITE allowed: {err}")
        c = Consumer({"bootstrap.servers": b.addr, "group.id": "compat-acl-unused", "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(t, 0, 0)])
            deadline = time.monotonic() + 15
            got_values = []
            while time.monotonic() < deadline and not got_values:
                m = c.poll(0.5)
                if m is not None:
                    check(m.error() is None, f"consume: {m.error()}")
                    got_values.append(m.value())
            eq(got_values, [b"allowed"], "consumed with READ allowed")
        finally:
            c.close()

        # A DENY of WRITE wins over the ALLOW.
        for f in a.create_acls([binding(ResourceType.TOPIC, t, ResourcePatternType.LITERAL, AclOperation.WRITE,
                                        AclPermissionType.DENY)]).values():
            f.result(15)
        err = produce_one(b"denied")
        check(err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED,
              f"produce with a DENY: expected TOPIC_AUTHORIZATION_FAILED, got {err}")

        # A consumer without READ: remove the prefixed READ; the fetch is refused.
        topic_filter = AclBindingFilter(ResourceType.TOPIC, "compat-acl-", ResourcePatternType.PREFIXED, None, None,
                                        AclOperation.ANY, AclPermissionType.ANY)
        deleted = a.delete_acls([topic_filter])
        removed = list(deleted.values())[0].result(15)
        eq(len(removed), 1, "delete_acls removed the prefixed READ")
        c = Consumer({"bootstrap.servers": b.addr, "group.id": "compat-acl-unused", "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(t, 0, 0)])
            deadline = time.monotonic() + 15
            seen = None
            while time.monotonic() < deadline and seen is None:
                m = c.poll(0.5)
                if m is not None and m.error() is not None:
                    seen = m.error()
                elif m is not None:
                    raise Fail(f"consumed {m.value()} without READ")
            check(seen is not None and seen.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED,
                  f"consume without READ: expected TOPIC_AUTHORIZATION_FAILED, got {seen}")
        finally:
            c.close()
        remaining = a.describe_acls(everything).result(15)
        eq(len(remaining), 5, "cluster ALTER/DESCRIBE, topic WRITE allow and deny, group READ remain")
    finally:
        eq(b.stop(), 0, "broker exit code")


SCENARIOS = {"acls_admin_and_refusals": acls_admin_and_refusals}

if __name__ == "__main__":
    main(SCENARIOS)
