"""confluent-kafka (librdkafka) AdminClient SCRAM user scenarios: alter_user_scram_credentials and
describe_user_scram_credentials against skua's AlterUserScramCredentials / DescribeUserScramCredentials
(librdkafka salts the password itself and sends only the salt and salted password)."""

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialDeletion, UserScramCredentialUpsertion)

from common import Fail, check, eq, topic_name, boot, main

SHA256 = ScramMechanism.SCRAM_SHA_256
SHA512 = ScramMechanism.SCRAM_SHA_512


def admin():
    return AdminClient({"bootstrap.servers": boot()})


def upsert(user, mechanism, iterations, password):
    return UserScramCredentialUpsertion(user, ScramCredentialInfo(mechanism, iterations), password.encode())


def delete(user, mechanism):
    return UserScramCredentialDeletion(user, mechanism)


def alter(a, alterations):
    """user -> None on success, or (error code, message)."""
    out = {}
    for user, fut in a.alter_user_scram_credentials(alterations, request_timeout=15).items():
        try:
            fut.result(15)
            out[user] = None
        except KafkaException as e:
            err = e.args[0]
            out[user] = (err.code(), err.str())
    return out


def creds(description):
    return sorted((int(c.mechanism.value), c.iterations) for c in description.scram_credential_infos)


def describe_all(a, prefix):
    got = a.describe_user_scram_credentials(request_timeout=15).result(15)
    return {u: creds(d) for u, d in got.items() if u.startswith(prefix)}


def describe_some(a, users):
    """user -> sorted [(mechanism, iterations)] or (error code, message)."""
    out = {}
    for user, fut in a.describe_user_scram_credentials(users, request_timeout=15).items():
        try:
            out[user] = creds(fut.result(15))
        except KafkaException as e:
            err = e.args[0]
            out[user] = (err.code(), err.str())
    return out


def scram_users():
    a = admin()
    p = topic_name("scram") + "-"
    alice, bob = p + "alice", p + "bob"
    eq(describe_all(a, p), {}, "no users yet")
    eq(alter(a, [upsert(alice, SHA256, 8192, "alice-secret"), upsert(bob, SHA512, 4096, "bob-secret")]),
       {alice: None, bob: None}, "create alice and bob")
    eq(alter(a, [upsert(alice, SHA512, 16384, "alice-512")]), {alice: None}, "second mechanism for alice")
    eq(describe_all(a, p), {alice: [(1, 8192), (2, 16384)], bob: [(2, 4096)]}, "describe all")
    nobody = p + "nobody"
    got = describe_some(a, [alice, nobody])
    eq(got[alice], [(1, 8192), (2, 16384)], "describe alice")
    eq(got[nobody][0], KafkaError.RESOURCE_NOT_FOUND, "describe an unknown user: error code")
    check("Attempt to describe a user credential that does not exist" in got[nobody][1],
          f"describe an unknown user: message {got[nobody][1]!r}")

    # Replace bob's credential, delete alice's SHA-256 one.
    eq(alter(a, [upsert(bob, SHA512, 10000, "new"), delete(alice, SHA256)]), {alice: None, bob: None},
       "replace and delete")
    eq(describe_all(a, p), {alice: [(2, 16384)], bob: [(2, 10000)]}, "after replace and delete")
    eq(alter(a, [delete(alice, SHA512), delete(bob, SHA512)]), {alice: None, bob: None}, "delete the rest")
    eq(describe_all(a, p), {}, "no users left")


def scram_errors():
    a = admin()
    p = topic_name("scramx") + "-"
    ok, few, many, twice, ghost = (p + n for n in ("ok", "few", "many", "twice", "ghost"))
    got = alter(a, [
        upsert(ok, SHA256, 4096, "pw"),
        upsert(few, SHA256, 4095, "pw"),
        upsert(many, SHA512, 16385, "pw"),
        upsert(twice, SHA256, 4096, "pw"),
        upsert(twice, SHA512, 4096, "pw"),
        delete(ghost, SHA256),
    ])
    eq(got[ok], None, "a good upsertion beside bad ones")
    eq(got[few], (KafkaError.UNACCEPTABLE_CREDENTIAL, "Too few iterations"), "4095 iterations")
    eq(got[many], (KafkaError.UNACCEPTABLE_CREDENTIAL, "Too many iterations"), "16385 iterations")
    eq(got[twice], (KafkaError.DUPLICATE_RESOURCE, "A user credential cannot be altered twice in the same request"),
       "a user twice in one request")
    eq(got[ghost], (KafkaError.RESOURCE_NOT_FOUND, "Attempt to delete a user credential that does not exist"),
       "deleting what does not exist")
    eq(describe_all(a, p), {ok: [(1, 4096)]}, "only the good one stored")
    eq(alter(a, [delete(ok, SHA256)]), {ok: None}, "cleanup")


SCENARIOS = {
    "scram_users": scram_users,
    "scram_errors": scram_errors,
}

if __name__ == "__main__":
    main(SCENARIOS)
