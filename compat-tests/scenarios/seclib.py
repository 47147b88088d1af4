"""Security set-up shared by the runner and the security scenarios (issue 11).

`make_pki(dir)` makes, with the `openssl` CLI, at run time (no key is checked in):
  ca.pem / ca.key            the suite's CA
  server.pem                 the broker's private key + certificate (CN=localhost, SAN localhost and
                             127.0.0.1), signed by the CA: skua's `ssl.keystore.location` format
  client.crt / client.key    a client certificate for "O=acme, CN=alice", signed by the CA
  rogue.crt / rogue.key      a client certificate signed by another CA the broker does not trust
rustls accepts X.509 v3 certificates only: every end-entity certificate gets v3 extensions.

`secure_sets(ports, pki)` is the broker's configuration: listeners PLAINTEXT + SSL (mTLS,
ssl.client.auth=required on that listener only, KIP-684 form) + SASL_SSL (PLAIN users from the JAAS
config, SCRAM mechanisms enabled).
"""

import os
import subprocess

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
        'password="admin-secret" user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";')
USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
SUPER_USERS = "User:admin;User:ANONYMOUS"


def _openssl(args, cwd):
    p = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {p.stderr.strip()[-500:]}")


def make_pki(d):
    os.makedirs(d, exist_ok=True)
    days = "2"
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=clientAuth\n")
    for ca in ("ca", "rogue-ca"):
        _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                  "-days", days, "-subj", f"/CN=skua compat {ca}"], d)
    for name, subj, ext, ca in (("server", "/CN=localhost", "server.ext", "ca"),
                                ("client", "/O=acme/CN=alice", "client.ext", "ca"),
                                ("rogue", "/O=acme/CN=mallory", "client.ext", "rogue-ca")):
        _openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                  "-subj", subj], d)
        _openssl(["x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                  "-CAcreateserial", "-out", f"{name}.crt", "-days", days, "-extfile", ext], d)
    with open(os.path.join(d, "server.pem"), "w") as out:
        for part in ("server.key", "server.crt"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    return d


def secure_sets(plaintext, ssl, sasl_ssl, pki):
    return [
        f"listeners=PLAINTEXT://127.0.0.1:{plaintext},SSL://127.0.0.1:{ssl},SASL_SSL://127.0.0.1:{sasl_ssl}",
        f"ssl.keystore.location={os.path.join(pki, 'server.pem')}",
        f"ssl.truststore.location={os.path.join(pki, 'ca.pem')}",
        "listener.name.ssl.ssl.client.auth=required",
        # "CN=alice,O=acme" -> "alice" (the SSL principal is then User:alice, as over SASL)
        "listener.name.ssl.ssl.principal.mapping.rules=RULE:^CN=([^,]*),O=acme$/$1/,DEFAULT",
        "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        f"listener.name.sasl_ssl.plain.sasl.jaas.config={JAAS}",
        "group.initial.rebalance.delay.ms=0",
    ]
