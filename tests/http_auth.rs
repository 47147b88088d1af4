//! `http.authentication.method=BASIC` against the real binary over TCP: the console, the
//! Schema Registry and the HTTP proxy answer 401 (with the Basic challenge) without valid
//! credentials, take a SCRAM user's name and password, and make their Kafka calls as that
//! user, so the broker's ACLs decide what the user sees and may change.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::http::{request, HttpResponse};
use common::{Broker, Client};
use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use serde_json::json;

const STANDARD: &str =
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer";

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn add_user(c: &mut Client, name: &str, password: &str) {
    let m = skua::security::scram::ScramMechanism::Sha256;
    let salt = format!("salt-{name}").into_bytes();
    let salted = m.salted_password(password.as_bytes(), &salt, 4096);
    let up = ScramCredentialUpsertion::default()
        .with_name(s(name))
        .with_mechanism(1)
        .with_iterations(4096)
        .with_salt(salt.into())
        .with_salted_password(salted.into());
    let r: AlterUserScramCredentialsResponse = c.call(
        0,
        &AlterUserScramCredentialsRequest::default().with_upsertions(vec![up]),
    );
    assert_eq!(r.results[0].error_code, 0, "{r:?}");
}

/// ALLOW `op` on topic `name` (literal) for `principal`.
fn allow_topic(c: &mut Client, principal: &str, name: &str, op: i8) {
    let a = AclCreation::default()
        .with_resource_type(2)
        .with_resource_name(s(name))
        .with_resource_pattern_type(3)
        .with_principal(s(principal))
        .with_host(s("*"))
        .with_operation(op)
        .with_permission_type(3);
    let r: CreateAclsResponse = c.call(3, &CreateAclsRequest::default().with_creations(vec![a]));
    assert_eq!(r.results[0].error_code, 0);
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", B64.encode(format!("{user}:{password}")))
}

fn call(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> HttpResponse {
    let mut headers = Vec::new();
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    if let Some(ct) = content_type {
        headers.push(("Content-Type", ct));
    }
    request(port, method, path, &headers, body)
}

fn topic_names(r: &HttpResponse) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text());
    let mut names: Vec<String> = r
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .filter(|n| !n.starts_with('_'))
        .collect();
    names.sort();
    names
}

#[test]
fn basic_users_act_as_themselves_on_every_http_listener() {
    let b = Broker::start_with_http(&[
        STANDARD,
        "super.users=User:admin;User:ANONYMOUS",
        "http.authentication.method=BASIC",
    ]);
    let (console, registry, proxy) = (
        b.console_port.unwrap(),
        b.registry_port.unwrap(),
        b.proxy_port.unwrap(),
    );
    let mut k = b.client();
    add_user(&mut k, "alice", "alice-pw");
    add_user(&mut k, "admin", "admin-pw");
    let alice = basic("alice", "alice-pw");
    let admin = basic("admin", "admin-pw");

    // No credentials, a wrong password, an unknown user: 401 with the challenge, everywhere.
    for port in [console, registry, proxy] {
        for auth in [
            None,
            Some(basic("alice", "nope")),
            Some(basic("mallory", "alice-pw")),
        ] {
            let r = call(port, "GET", "/", auth.as_deref(), None, b"");
            assert_eq!(r.status, 401, "port {port}: {}", r.text());
            assert_eq!(
                r.header("www-authenticate"),
                Some("Basic realm=\"skua\", charset=\"UTF-8\"")
            );
        }
    }
    let r = call(registry, "GET", "/subjects", None, None, b"");
    assert_eq!(
        (r.status, r.json()),
        (
            401,
            json!({"error_code": 401, "message": "Unauthorized: authentication required"})
        )
    );
    let r = call(registry, "GET", "/subjects", Some(&alice), None, b"");
    assert_eq!((r.status, r.json()), (200, json!([])));

    // The console as admin (a super user) creates a topic; alice, without ACLs, neither sees
    // it nor may create one.
    let create = |auth: &str, name: &str| {
        call(
            console,
            "POST",
            "/api/topics",
            Some(auth),
            Some("application/json"),
            json!({"name": name, "partitions": 1})
                .to_string()
                .as_bytes(),
        )
    };
    let r = create(&admin, "orders");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = create(&alice, "alices");
    assert_eq!(
        r.json()["error"],
        "TOPIC_AUTHORIZATION_FAILED",
        "{}",
        r.text()
    );
    assert_eq!(
        topic_names(&call(
            console,
            "GET",
            "/api/topics",
            Some(&admin),
            None,
            b""
        )),
        vec!["orders"]
    );
    assert!(topic_names(&call(
        console,
        "GET",
        "/api/topics",
        Some(&alice),
        None,
        b""
    ))
    .is_empty());
    // DESCRIBE granted: alice sees it in the console.
    allow_topic(&mut k, "User:alice", "orders", 8);
    assert_eq!(
        topic_names(&call(
            console,
            "GET",
            "/api/topics",
            Some(&alice),
            None,
            b""
        )),
        vec!["orders"]
    );

    // The proxy: alice may not write to orders (403 / 40301) until WRITE is granted.
    let r = call(proxy, "GET", "/v3/clusters", Some(&alice), None, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let c = r.json()["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v3/clusters/{c}/topics/orders/records");
    let rec = br#"{"value":{"type":"STRING","data":"hi"}}"#;
    let r = call(
        proxy,
        "POST",
        &path,
        Some(&alice),
        Some("application/json"),
        rec,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let line: serde_json::Value = serde_json::from_str(r.text().lines().next().unwrap()).unwrap();
    assert_eq!(line["error_code"], 40301, "{line}");
    allow_topic(&mut k, "User:alice", "orders", 4);
    let r = call(
        proxy,
        "POST",
        &path,
        Some(&alice),
        Some("application/json"),
        rec,
    );
    let line: serde_json::Value = serde_json::from_str(r.text().lines().next().unwrap()).unwrap();
    assert_eq!(
        (line["error_code"].clone(), line["offset"].clone()),
        (json!(200), json!(0)),
        "{line}"
    );
}
