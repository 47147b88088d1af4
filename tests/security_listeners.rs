//! Listeners, TLS, mTLS and SASL over TCP against the real binary: several listeners at once,
//! each answering Metadata with its own endpoints; librdkafka (the rdkafka crate, built with
//! OpenSSL — the broker uses rustls) producing and consuming over SSL with a client
//! certificate and over SASL_SSL with PLAIN; exact refusals for a wrong password, an untrusted
//! certificate, a client that skips authentication and an unsupported mechanism.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{free_port, Broker, Client};
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// A CA, a server certificate for 127.0.0.1/localhost, a client certificate signed by the CA
/// and one that is not; written as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "skua test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut sp = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        sp.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        sp.distinguished_name.push(DnType::CommonName, "localhost");
        let server = sp.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
        cp.distinguished_name.push(DnType::CommonName, "Alice");
        let client = cp.signed_by(&client_key, &issuer).unwrap();

        let rogue_key = KeyPair::generate().unwrap();
        let mut rp = CertificateParams::new(Vec::<String>::new()).unwrap();
        rp.distinguished_name.push(DnType::CommonName, "mallory");
        let rogue = rp.self_signed(&rogue_key).unwrap();

        let w = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        w("ca.pem", ca.pem());
        w(
            "server.pem",
            format!("{}{}", server_key.serialize_pem(), server.pem()),
        );
        w("client.crt", client.pem());
        w("client.key", client_key.serialize_pem());
        w("rogue.crt", rogue.pem());
        w("rogue.key", rogue_key.serialize_pem());
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

const JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";"#;

struct Ports {
    plaintext: u16,
    ssl: u16,
    sasl_ssl: u16,
    sasl_plaintext: u16,
}

fn start(pki: &Pki, dir: &Path) -> (Broker, Ports) {
    let ports = Ports {
        plaintext: free_port(),
        ssl: free_port(),
        sasl_ssl: free_port(),
        sasl_plaintext: free_port(),
    };
    let listeners = format!(
        "listeners=PLAINTEXT://127.0.0.1:{},SSL://127.0.0.1:{},SASL_SSL://127.0.0.1:{},SASL_PLAINTEXT://127.0.0.1:{}",
        ports.plaintext, ports.ssl, ports.sasl_ssl, ports.sasl_plaintext
    );
    let args = [
        listeners,
        format!("ssl.keystore.location={}", pki.path("server.pem")),
        format!("ssl.truststore.location={}", pki.path("ca.pem")),
        "listener.name.ssl.ssl.client.auth=required".to_string(),
        "listener.name.ssl.ssl.principal.mapping.rules=RULE:^CN=([^,]*)$/$1/L,DEFAULT".to_string(),
        "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".to_string(),
        format!("listener.name.sasl_ssl.plain.sasl.jaas.config={JAAS}"),
        format!("listener.name.sasl_plaintext.plain.sasl.jaas.config={JAAS}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let b = Broker::start_in(dir, ports.plaintext, &args);
    (b, ports)
}

fn ssl_config(pki: &Pki, port: u16, client_cert: Option<&str>) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("security.protocol", "ssl")
        .set("ssl.ca.location", pki.path("ca.pem"))
        .set("socket.timeout.ms", "10000");
    if let Some(name) = client_cert {
        c.set("ssl.certificate.location", pki.path(&format!("{name}.crt")))
            .set("ssl.key.location", pki.path(&format!("{name}.key")));
    }
    c
}

fn sasl_config(pki: &Pki, port: u16, user: &str, password: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("security.protocol", "sasl_ssl")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", user)
        .set("sasl.password", password)
        .set("ssl.ca.location", pki.path("ca.pem"))
        .set("socket.timeout.ms", "10000");
    c
}

/// Remembers each delivery's outcome (flush alone does not say whether records failed).
#[derive(Default)]
struct Deliveries(std::sync::Mutex<Vec<Result<(), String>>>);

impl rdkafka::ClientContext for Deliveries {}

impl rdkafka::producer::ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        let outcome = r.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string());
        self.0.lock().unwrap().push(outcome);
    }
}

/// Produce `k{i}`/`v{i}`; Err with the first delivery error.
fn produce(config: &ClientConfig, topic: &str, n: usize) -> Result<(), String> {
    let p: ThreadedProducer<Deliveries> = config
        .clone()
        .set("message.timeout.ms", "15000")
        .create_with_context(Deliveries::default())
        .map_err(|e| e.to_string())?;
    for i in 0..n {
        let v = format!("v{i}");
        let k = format!("k{i}");
        p.send(BaseRecord::to(topic).key(&k).payload(&v))
            .map_err(|(e, _)| e.to_string())?;
    }
    p.flush(Duration::from_secs(20))
        .map_err(|e| e.to_string())?;
    let outcomes = p.context().0.lock().unwrap().clone();
    assert_eq!(outcomes.len(), n, "every record reported");
    outcomes.into_iter().collect()
}

fn consume(config: &ClientConfig, topic: &str, n: usize) -> Vec<(String, String, i64)> {
    let c: BaseConsumer = config
        .clone()
        .set("group.id", "g-unused")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n && std::time::Instant::now() < deadline {
        let polled = c.poll(Duration::from_millis(200));
        if let Some(Err(e)) = &polled {
            eprintln!("consume from {topic}: {e}");
        }
        if let Some(Ok(m)) = polled {
            out.push((
                String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                m.offset(),
            ));
        }
    }
    out
}

fn expected(n: usize) -> Vec<(String, String, i64)> {
    (0..n)
        .map(|i| (format!("k{i}"), format!("v{i}"), i as i64))
        .collect()
}

#[test]
fn every_listener_serves_with_its_own_protocol_and_endpoints() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (b, ports) = start(&pki, dir.path());
    b.client().create_topic("secure", 1);

    // Metadata on each listener names the endpoints of that listener.
    let mut c = b.client();
    let md = c.call(12, &MetadataRequest::default());
    assert_eq!(md.brokers.len(), 1);
    assert_eq!(md.brokers[0].port, i32::from(ports.plaintext));
    let check_port = |config: ClientConfig, port: u16| {
        let p: ThreadedProducer<DefaultProducerContext> = config.create().unwrap();
        let md = p
            .client()
            .fetch_metadata(None, Duration::from_secs(20))
            .unwrap();
        let ports: Vec<i32> = md.brokers().iter().map(|b| b.port()).collect();
        assert_eq!(ports, vec![i32::from(port)]);
    };
    check_port(ssl_config(&pki, ports.ssl, Some("client")), ports.ssl);
    check_port(
        sasl_config(&pki, ports.sasl_ssl, "alice", "alice-secret"),
        ports.sasl_ssl,
    );

    // SASL_SSL with PLAIN: produce and consume.
    let sasl = sasl_config(&pki, ports.sasl_ssl, "alice", "alice-secret");
    produce(&sasl, "secure", 20).unwrap();
    assert_eq!(consume(&sasl, "secure", 20), expected(20));

    // mTLS: a client certificate signed by the CA reads the same records.
    let ssl = ssl_config(&pki, ports.ssl, Some("client"));
    assert_eq!(consume(&ssl, "secure", 20), expected(20));
    produce(&ssl, "secure", 5).unwrap();

    // And the plaintext listener still works alongside.
    let plain = {
        let mut c = ClientConfig::new();
        c.set(
            "bootstrap.servers",
            format!("127.0.0.1:{}", ports.plaintext),
        );
        c
    };
    assert_eq!(consume(&plain, "secure", 25).len(), 25);
}

#[test]
fn a_wrong_password_an_untrusted_certificate_and_no_certificate_fail() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (b, ports) = start(&pki, dir.path());
    b.client().create_topic("t", 1);
    let fails = |config: ClientConfig| {
        let p: ThreadedProducer<DefaultProducerContext> = config
            .clone()
            .set("message.timeout.ms", "3000")
            .create()
            .unwrap();
        let md = p.client().fetch_metadata(Some("t"), Duration::from_secs(4));
        assert!(
            md.is_err(),
            "metadata was served: {:?}",
            md.map(|m| m.orig_broker_id())
        );
    };
    fails(sasl_config(&pki, ports.sasl_ssl, "alice", "wrong"));
    fails(sasl_config(&pki, ports.sasl_ssl, "nobody", "alice-secret"));
    fails(ssl_config(&pki, ports.ssl, Some("rogue")));
    fails(ssl_config(&pki, ports.ssl, None));
    // The broker counted the failures.
    let _ = b;
}

fn sasl_client(port: u16) -> Client {
    Client::connect(&format!("127.0.0.1:{port}"))
}

fn handshake(c: &mut Client, mechanism: &str) -> (i16, Vec<String>) {
    let r = c.call(
        1,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into())),
    );
    (
        r.error_code,
        r.mechanisms.iter().map(|m| m.to_string()).collect(),
    )
}

#[test]
fn the_sasl_exchange_on_the_wire() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (_b, ports) = start(&pki, dir.path());
    let all = vec![
        "PLAIN".to_string(),
        "SCRAM-SHA-256".to_string(),
        "SCRAM-SHA-512".to_string(),
    ];

    // PLAIN with SaslAuthenticate v2, then a normal request.
    let mut c = sasl_client(ports.sasl_plaintext);
    assert_eq!(handshake(&mut c, "PLAIN"), (0, all.clone()));
    let r = c.call(
        2,
        &SaslAuthenticateRequest::default()
            .with_auth_bytes(bytes::Bytes::from_static(b"\0alice\0alice-secret")),
    );
    assert_eq!(r.error_code, 0);
    assert_eq!(r.session_lifetime_ms, 0);
    let md = c.call(12, &MetadataRequest::default());
    assert_eq!(md.brokers[0].port, i32::from(ports.sasl_plaintext));

    // A wrong password: SASL_AUTHENTICATION_FAILED with Kafka's message, then the
    // connection closes.
    let mut c = sasl_client(ports.sasl_plaintext);
    assert_eq!(handshake(&mut c, "PLAIN").0, 0);
    let r = c.call(
        1,
        &SaslAuthenticateRequest::default()
            .with_auth_bytes(bytes::Bytes::from_static(b"\0alice\0nope")),
    );
    assert_eq!(r.error_code, 58);
    assert_eq!(
        r.error_message.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert!(c.read_frame().is_none(), "connection stays open");

    // An unknown user gets the very same answer.
    let mut c = sasl_client(ports.sasl_plaintext);
    handshake(&mut c, "PLAIN");
    let r = c.call(
        1,
        &SaslAuthenticateRequest::default()
            .with_auth_bytes(bytes::Bytes::from_static(b"\0mallory\0nope")),
    );
    assert_eq!(r.error_code, 58);
    assert_eq!(
        r.error_message.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );

    // A mechanism not enabled: UNSUPPORTED_SASL_MECHANISM with the enabled list, then close.
    let mut c = sasl_client(ports.sasl_plaintext);
    assert_eq!(handshake(&mut c, "GSSAPI"), (33, all));
    assert!(c.read_frame().is_none());

    // Skipping authentication: the connection closes without an answer.
    let mut c = sasl_client(ports.sasl_plaintext);
    let corr = c.send(12, &MetadataRequest::default());
    let _ = corr;
    assert!(c.read_frame().is_none());

    // SaslHandshake v0: raw tokens follow (PLAIN answers an empty token).
    let mut c = sasl_client(ports.sasl_plaintext);
    let r = c.call(
        0,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
    );
    assert_eq!(r.error_code, 0);
    let token = b"\0alice\0alice-secret";
    let mut raw = (token.len() as u32).to_be_bytes().to_vec();
    raw.extend_from_slice(token);
    c.send_raw(&raw);
    assert_eq!(c.read_frame().as_deref(), Some(&b""[..]));
    let md = c.call(1, &MetadataRequest::default());
    assert_eq!(md.brokers.len(), 1);

    // On a listener without SASL the handshake APIs answer ILLEGAL_SASL_STATE.
    let mut c = sasl_client(ports.plaintext);
    assert_eq!(handshake(&mut c, "PLAIN").0, 34);
    let md = c.call(12, &MetadataRequest::default());
    assert_eq!(md.brokers.len(), 1);
    let _ = ApiKey::SaslAuthenticate;
}

#[test]
fn bad_security_settings_stop_the_start_with_the_setting_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skua"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--metrics-listen")
        .arg("off")
        .arg("--set")
        .arg(format!(
            "listeners=SASL_PLAINTEXT://127.0.0.1:{}",
            free_port()
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sasl.enabled.mechanisms"), "stderr: {err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skua"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--metrics-listen")
        .arg("off")
        .arg("--set")
        .arg(format!("listeners=SSL://127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ssl.keystore.location"), "stderr: {err}");
    let _: PathBuf = dir.path().to_path_buf();
}

fn skua(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skua"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn command_config(dir: &Path, name: &str, lines: &[String]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n")).unwrap();
    p.display().to_string()
}

/// SCRAM users made with the CLI, ACLs enforced for SASL and certificate principals, and the
/// CLI itself over SASL_SSL with `--command-config`.
#[test]
fn scram_users_acls_and_the_cli_over_sasl_ssl() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports {
        plaintext: free_port(),
        ssl: free_port(),
        sasl_ssl: free_port(),
        sasl_plaintext: free_port(),
    };
    let args = [
        format!(
            "listeners=PLAINTEXT://127.0.0.1:{},SSL://127.0.0.1:{},SASL_SSL://127.0.0.1:{}",
            ports.plaintext, ports.ssl, ports.sasl_ssl
        ),
        format!("ssl.keystore.location={}", pki.path("server.pem")),
        format!("ssl.truststore.location={}", pki.path("ca.pem")),
        "listener.name.ssl.ssl.client.auth=required".to_string(),
        "listener.name.ssl.ssl.principal.mapping.rules=RULE:^CN=([^,]*)$/$1/L,DEFAULT".to_string(),
        "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".to_string(),
        format!("listener.name.sasl_ssl.plain.sasl.jaas.config={JAAS}"),
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_string(),
        // The loopback PLAINTEXT listener is the operator's (as docs/security.md sets it up).
        "super.users=User:admin;User:ANONYMOUS".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let b = Broker::start_in(dir.path(), ports.plaintext, &args);
    b.client().create_topic("orders", 1);
    let plain_bootstrap = format!("127.0.0.1:{}", ports.plaintext);
    let sasl_bootstrap = format!("127.0.0.1:{}", ports.sasl_ssl);

    // A SCRAM user, created with the CLI.
    let (ok, _, err) = skua(&[
        "user",
        "create",
        "carol",
        "--password",
        "carol-secret",
        "--mechanism",
        "SCRAM-SHA-512",
        "-b",
        &plain_bootstrap,
    ]);
    assert!(ok, "user create: {err}");

    let scram = |user: &str, password: &str| {
        let mut c = sasl_config(&pki, ports.sasl_ssl, user, password);
        c.set("sasl.mechanism", "SCRAM-SHA-512");
        c
    };
    // carol (SCRAM) and alice (PLAIN) have no ACLs: refused, and they see no topics.
    let p: ThreadedProducer<DefaultProducerContext> =
        scram("carol", "carol-secret").create().unwrap();
    let md = p
        .client()
        .fetch_metadata(None, Duration::from_secs(20))
        .unwrap();
    assert!(
        md.topics().iter().all(|t| t.name() != "orders"),
        "orders visible without ACLs"
    );
    let e = produce(&scram("carol", "carol-secret"), "orders", 1).unwrap_err();
    assert!(e.contains("Authorization") || e.contains("authoriz"), "{e}");
    let e = produce(
        &sasl_config(&pki, ports.sasl_ssl, "alice", "alice-secret"),
        "orders",
        1,
    )
    .unwrap_err();
    assert!(e.contains("Authorization") || e.contains("authoriz"), "{e}");
    // A wrong SCRAM password is an authentication failure, not an authorization one.
    let p: ThreadedProducer<DefaultProducerContext> = scram("carol", "wrong")
        .set("message.timeout.ms", "3000")
        .create()
        .unwrap();
    assert!(p
        .client()
        .fetch_metadata(None, Duration::from_secs(4))
        .is_err());

    // The admin, over SASL_SSL with --command-config, allows carol and alice (the SASL user
    // and the certificate's mapped principal are the same name) to write and read orders.
    let admin = command_config(
        dir.path(),
        "admin.properties",
        &[
            "security.protocol=SASL_SSL".into(),
            format!("ssl.truststore.location={}", pki.path("ca.pem")),
            "sasl.mechanism=PLAIN".into(),
            "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\";".into(),
        ],
    );
    for principal in ["User:carol", "User:alice"] {
        let (ok, out, err) = skua(&[
            "acl",
            "add",
            "--allow-principal",
            principal,
            "--operation",
            "Write",
            "--operation",
            "Read",
            "--operation",
            "Describe",
            "--topic",
            "orders",
            "-b",
            &sasl_bootstrap,
            "--command-config",
            &admin,
        ]);
        assert!(ok, "acl add over SASL_SSL: {out} {err}");
    }
    let (ok, out, err) = skua(&[
        "acl",
        "add",
        "--allow-principal",
        "User:alice",
        "--operation",
        "Read",
        "--group",
        "*",
        "-b",
        &sasl_bootstrap,
        "--command-config",
        &admin,
    ]);
    assert!(ok, "{out} {err}");
    let (ok, out, err) = skua(&[
        "acl",
        "list",
        "--topic",
        "orders",
        "-b",
        &sasl_bootstrap,
        "--command-config",
        &admin,
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("User:carol") && out.contains("User:alice"),
        "{out}"
    );
    // A wrong password in the CLI's config fails with the broker's answer.
    let bad = command_config(
        dir.path(),
        "bad.properties",
        &[
            "security.protocol=SASL_SSL".into(),
            format!("ssl.truststore.location={}", pki.path("ca.pem")),
            "sasl.mechanism=SCRAM-SHA-512".into(),
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"carol\" password=\"nope\";".into(),
        ],
    );
    let (ok, _, err) = skua(&[
        "topic",
        "list",
        "-b",
        &sasl_bootstrap,
        "--command-config",
        &bad,
    ]);
    assert!(!ok);
    assert!(err.contains("SASL_AUTHENTICATION_FAILED"), "{err}");

    // Now carol writes over SCRAM, alice reads over mTLS (as User:alice by the mapping rule).
    produce(&scram("carol", "carol-secret"), "orders", 10).unwrap();
    let mtls = ssl_config(&pki, ports.ssl, Some("client"));
    assert_eq!(consume(&mtls, "orders", 10), expected(10));
    // carol's CLI (SCRAM over SASL_SSL) sees orders and nothing else it may not describe.
    let carol = command_config(
        dir.path(),
        "carol.properties",
        &[
            "security.protocol=SASL_SSL".into(),
            format!("ssl.truststore.location={}", pki.path("ca.pem")),
            "sasl.mechanism=SCRAM-SHA-512".into(),
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"carol\" password=\"carol-secret\";".into(),
        ],
    );
    b.client().create_topic("secret", 1);
    let (ok, out, err) = skua(&[
        "topic",
        "list",
        "-b",
        &sasl_bootstrap,
        "--command-config",
        &carol,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("orders") && !out.contains("secret"), "{out}");
}
