//! DescribeUserScramCredentials (v0) and AlterUserScramCredentials (v0) over TCP against the
//! real binary with raw kafka-protocol requests: upsert, describe, replace, delete, Kafka's
//! errors, credentials surviving a restart (from the metadata log and from a snapshot), and
//! the stored credential verifying a SCRAM proof made from the password the client salted.

mod common;

use common::{Broker, Client};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const SHA256: i8 = 1;
const SHA512: i8 = 2;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const RESOURCE_NOT_FOUND: i16 = 91;
const DUPLICATE_RESOURCE: i16 = 92;
const UNACCEPTABLE_CREDENTIAL: i16 = 93;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn upsert(name: &str, mechanism: i8, password: &str, iterations: i32) -> ScramCredentialUpsertion {
    let m = skua::security::scram::ScramMechanism::from_type_id(mechanism)
        .unwrap_or(skua::security::scram::ScramMechanism::Sha256);
    let salt = format!("salt-{name}-{mechanism}").into_bytes();
    let salted = m.salted_password(password.as_bytes(), &salt, iterations.max(1) as u32);
    ScramCredentialUpsertion::default()
        .with_name(s(name))
        .with_mechanism(mechanism)
        .with_iterations(iterations)
        .with_salt(salt.into())
        .with_salted_password(salted.into())
}

fn delete(name: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion::default()
        .with_name(s(name))
        .with_mechanism(mechanism)
}

/// (user, error code, message) per result, sorted by user.
fn alter(
    c: &mut Client,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
) -> Vec<(String, i16, Option<String>)> {
    let req = AlterUserScramCredentialsRequest::default()
        .with_deletions(deletions)
        .with_upsertions(upsertions);
    let r: AlterUserScramCredentialsResponse = c.call(0, &req);
    assert_eq!(r.throttle_time_ms, 0);
    let mut out: Vec<_> = r
        .results
        .iter()
        .map(|x| {
            (
                x.user.to_string(),
                x.error_code,
                x.error_message.as_ref().map(|m| m.to_string()),
            )
        })
        .collect();
    out.sort();
    out
}

/// Per user: Ok(sorted (mechanism, iterations)) or Err((code, message)); in response order.
type Described = Vec<(String, Result<Vec<(i8, i32)>, (i16, String)>)>;

fn describe(c: &mut Client, users: Option<&[&str]>) -> Described {
    let req = DescribeUserScramCredentialsRequest::default().with_users(users.map(|u| {
        u.iter()
            .map(|n| UserName::default().with_name(s(n)))
            .collect()
    }));
    let r: DescribeUserScramCredentialsResponse = c.call(0, &req);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.error_message, None);
    r.results
        .iter()
        .map(|x| {
            let res = if x.error_code == 0 {
                let mut v: Vec<(i8, i32)> = x
                    .credential_infos
                    .iter()
                    .map(|i| (i.mechanism, i.iterations))
                    .collect();
                v.sort();
                Ok(v)
            } else {
                assert!(x.credential_infos.is_empty());
                Err((
                    x.error_code,
                    x.error_message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                ))
            };
            (x.user.to_string(), res)
        })
        .collect()
}

fn ok(user: &str) -> (String, i16, Option<String>) {
    (user.to_string(), 0, None)
}

#[test]
fn upsert_describe_replace_delete() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    assert_eq!(describe(&mut c, None), vec![]);
    assert_eq!(
        alter(
            &mut c,
            vec![],
            vec![
                upsert("alice", SHA256, "alice-secret", 4096),
                upsert("bob", SHA512, "bob-secret", 16384),
            ]
        ),
        vec![ok("alice"), ok("bob")]
    );
    // A second mechanism for alice.
    assert_eq!(
        alter(
            &mut c,
            vec![],
            vec![upsert("alice", SHA512, "alice-512", 8192)]
        ),
        vec![ok("alice")]
    );
    assert_eq!(
        describe(&mut c, None),
        vec![
            ("alice".into(), Ok(vec![(SHA256, 4096), (SHA512, 8192)])),
            ("bob".into(), Ok(vec![(SHA512, 16384)])),
        ]
    );
    assert_eq!(describe(&mut c, Some(&[])), describe(&mut c, None));
    assert_eq!(
        describe(&mut c, Some(&["bob", "nobody", "bob", "alice"])),
        vec![
            (
                "bob".into(),
                Err((
                    DUPLICATE_RESOURCE,
                    "Cannot describe SCRAM credentials for the same user twice in a single request: bob".into()
                ))
            ),
            (
                "nobody".into(),
                Err((
                    RESOURCE_NOT_FOUND,
                    "Attempt to describe a user credential that does not exist: nobody".into()
                ))
            ),
            ("alice".into(), Ok(vec![(SHA256, 4096), (SHA512, 8192)])),
        ]
    );
    // Replace bob's iterations; delete alice's SHA-256.
    assert_eq!(
        alter(
            &mut c,
            vec![delete("alice", SHA256)],
            vec![upsert("bob", SHA512, "new", 5000)]
        ),
        vec![ok("alice"), ok("bob")]
    );
    assert_eq!(
        describe(&mut c, Some(&["alice", "bob"])),
        vec![
            ("alice".into(), Ok(vec![(SHA512, 8192)])),
            ("bob".into(), Ok(vec![(SHA512, 5000)])),
        ]
    );
    // The last credential gone: the user is gone.
    assert_eq!(
        alter(&mut c, vec![delete("alice", SHA512)], vec![]),
        vec![ok("alice")]
    );
    assert_eq!(
        describe(&mut c, None),
        vec![("bob".into(), Ok(vec![(SHA512, 5000)]))]
    );
    // An empty request: no results.
    assert_eq!(alter(&mut c, vec![], vec![]), vec![]);
}

#[test]
fn kafkas_errors() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    assert_eq!(
        alter(&mut c, vec![], vec![upsert("alice", SHA256, "pw", 4096)]),
        vec![ok("alice")]
    );
    let m = |x: &str| Some(x.to_string());
    assert_eq!(
        alter(
            &mut c,
            vec![
                delete("alice", SHA512),
                delete("", SHA256),
                delete("carol", 0)
            ],
            vec![
                upsert("few", SHA256, "pw", 4095),
                upsert("many", SHA512, "pw", 16385),
                upsert("", SHA256, "pw", 4096),
                upsert("mech", 3, "pw", 4096),
                upsert("twice", SHA256, "pw", 4096),
                upsert("twice", SHA512, "pw", 4096),
                upsert("good", SHA512, "pw", 4096),
            ]
        ),
        vec![
            (
                "".into(),
                UNACCEPTABLE_CREDENTIAL,
                m("Username must not be empty")
            ),
            (
                "alice".into(),
                RESOURCE_NOT_FOUND,
                m("Attempt to delete a user credential that does not exist")
            ),
            (
                "carol".into(),
                UNSUPPORTED_SASL_MECHANISM,
                m("Unknown SCRAM mechanism")
            ),
            (
                "few".into(),
                UNACCEPTABLE_CREDENTIAL,
                m("Too few iterations")
            ),
            ok("good"),
            (
                "many".into(),
                UNACCEPTABLE_CREDENTIAL,
                m("Too many iterations")
            ),
            (
                "mech".into(),
                UNSUPPORTED_SASL_MECHANISM,
                m("Unknown SCRAM mechanism")
            ),
            (
                "twice".into(),
                DUPLICATE_RESOURCE,
                m("A user credential cannot be altered twice in the same request")
            ),
        ]
    );
    // Deleting and upserting one user in one request: refused, nothing changes.
    assert_eq!(
        alter(
            &mut c,
            vec![delete("alice", SHA256)],
            vec![upsert("alice", SHA512, "pw", 4096)]
        ),
        vec![(
            "alice".into(),
            DUPLICATE_RESOURCE,
            m("A user credential cannot be altered twice in the same request")
        )]
    );
    assert_eq!(
        describe(&mut c, None),
        vec![
            ("alice".into(), Ok(vec![(SHA256, 4096)])),
            ("good".into(), Ok(vec![(SHA512, 4096)])),
        ]
    );
}

/// The credential the broker stored verifies a SCRAM exchange made with the password the
/// client salted, after a restart that replays the metadata log, and after one that loads
/// a snapshot (snapshot every 2 entries).
#[test]
fn credentials_survive_restart_and_authenticate() {
    use skua::security::sasl::{CredentialStore, SaslStep};
    use skua::security::scram::{ScramCredential, ScramMechanism};
    for snapshot_every in [None, Some("2")] {
        let extra: Vec<String> = snapshot_every
            .map(|n| format!("metadata.log.max.snapshot.interval.entries={n}"))
            .into_iter()
            .collect();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let mut b = Broker::start(&extra);
        let mut c = b.client();
        for i in 0..4 {
            // Several entries, so the snapshot interval is crossed.
            assert_eq!(
                alter(
                    &mut c,
                    vec![],
                    vec![upsert(&format!("u{i}"), SHA256, "pw", 4096)]
                ),
                vec![ok(&format!("u{i}"))]
            );
        }
        assert_eq!(
            alter(
                &mut c,
                vec![delete("u3", SHA256)],
                vec![upsert("alice", SHA512, "alice-secret", 4096)]
            ),
            vec![ok("alice"), ok("u3")]
        );
        let before = describe(&mut c, None);
        drop(c);
        b.stop();
        b.spawn();
        let mut c = b.client();
        let after = describe(&mut c, None);
        assert_eq!(after, before, "snapshot_every={snapshot_every:?}");
        assert_eq!(
            after,
            vec![
                ("alice".into(), Ok(vec![(SHA512, 4096)])),
                ("u0".into(), Ok(vec![(SHA256, 4096)])),
                ("u1".into(), Ok(vec![(SHA256, 4096)])),
                ("u2".into(), Ok(vec![(SHA256, 4096)])),
            ]
        );
        // Raw data dir check: the password never reaches the disk.
        assert!(!dir_contains(&b.dir, b"alice-secret"));
    }

    // The derivation the broker does from the salted password matches a credential built
    // from the password: so a SCRAM client with the password authenticates.
    struct One(ScramCredential);
    impl CredentialStore for One {
        fn plain_password_ok(&self, _: &str, _: &str) -> bool {
            false
        }
        fn scram_credential(&self, _: &str, _: ScramMechanism) -> Option<ScramCredential> {
            Some(self.0.clone())
        }
    }
    let u = upsert("alice", SHA512, "alice-secret", 4096);
    let stored = ScramCredential::from_salted_password(
        ScramMechanism::Sha512,
        &u.salted_password,
        &u.salt,
        u.iterations,
    );
    let mut server =
        skua::security::sasl::new_server("SCRAM-SHA-512", std::sync::Arc::new(One(stored)))
            .unwrap();
    let mut client =
        skua::cli::sasl_client::ScramClient::new(ScramMechanism::Sha512, "alice", "alice-secret");
    let first = client.first_message();
    let SaslStep::Continue(sf) = server.step(&first).unwrap() else {
        panic!("expected a challenge")
    };
    let fin = client.final_message(&sf).unwrap();
    let SaslStep::Done {
        response,
        principal,
    } = server.step(&fin).unwrap()
    else {
        panic!("expected done")
    };
    assert_eq!(principal.to_string(), "User:alice");
    client.verify_server_final(&response).unwrap();
}

fn dir_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if dir_contains(&p, needle) {
                return true;
            }
        } else if let Ok(bytes) = std::fs::read(&p) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
        }
    }
    false
}

/// Run `skua <args> --bootstrap-server <b>` with `stdin`: (exit code, stdout, stderr).
fn cli(b: &Broker, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_skua"))
        .args(args)
        .arg("--bootstrap-server")
        .arg(b.addr())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run skua");
    {
        let mut input = child.stdin.take().expect("stdin");
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("wait skua");
    let r = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!r.2.contains("panicked"), "skua {args:?} panicked: {}", r.2);
    r
}

#[test]
fn skua_user_cli() {
    let b = Broker::start(&[]);
    let ok = |args: &[&str], stdin: &str| {
        let (code, out, err) = cli(&b, args, stdin);
        assert_eq!(code, 0, "skua {args:?}: {err}");
        out
    };
    assert_eq!(
        ok(
            &[
                "user",
                "create",
                "alice",
                "--password",
                "s3cret",
                "--iterations",
                "8192"
            ],
            ""
        ),
        "created user alice (SCRAM-SHA-256, 8192 iterations)\n"
    );
    // Password from stdin, two mechanisms (one request each: Kafka refuses a user twice).
    assert_eq!(
        ok(
            &[
                "user",
                "create",
                "bob",
                "--mechanism",
                "SCRAM-SHA-256",
                "--mechanism",
                "SCRAM-SHA-512"
            ],
            "bob-pw\n"
        ),
        "created user bob (SCRAM-SHA-256, SCRAM-SHA-512, 4096 iterations)\n"
    );
    assert_eq!(
        ok(&["user", "list"], ""),
        "USER   MECHANISM      ITERATIONS\n\
         alice  SCRAM-SHA-256  8192\n\
         bob    SCRAM-SHA-256  4096\n\
         bob    SCRAM-SHA-512  4096\n"
    );
    assert_eq!(
        ok(&["user", "list", "alice", "--output", "json"], ""),
        "[{\"user\":\"alice\",\"credentials\":[{\"mechanism\":\"SCRAM-SHA-256\",\"iterations\":8192}]}]\n"
    );
    // The credential the CLI salted is the one the broker holds: the salt it stored and the
    // password give back the stored keys (checked through the describe API's iterations and
    // the data dir holding no password).
    assert!(!dir_contains(&b.dir, b"s3cret"));
    assert!(!dir_contains(&b.dir, b"bob-pw"));

    let (code, _, err) = cli(
        &b,
        &[
            "user",
            "create",
            "eve",
            "--password",
            "x",
            "--iterations",
            "100",
        ],
        "",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("--iterations must be between 4096 and 16384"),
        "{err}"
    );
    let (code, _, err) = cli(
        &b,
        &[
            "user",
            "create",
            "eve",
            "--password",
            "x",
            "--mechanism",
            "PLAIN",
        ],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown SCRAM mechanism \"PLAIN\""), "{err}");
    let (code, _, err) = cli(&b, &["user", "list", "nobody"], "");
    assert_eq!(code, 1);
    assert!(
        err.contains("user nobody: RESOURCE_NOT_FOUND (Attempt to describe a user credential that does not exist: nobody)"),
        "{err}"
    );
    let (code, _, err) = cli(
        &b,
        &["user", "delete", "alice", "--mechanism", "SCRAM-SHA-512"],
        "",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "RESOURCE_NOT_FOUND (Attempt to delete a user credential that does not exist)"
        ),
        "{err}"
    );
    assert_eq!(
        ok(&["user", "delete", "bob"], ""),
        "deleted user bob (SCRAM-SHA-256, SCRAM-SHA-512)\n"
    );
    assert_eq!(
        ok(&["user", "list"], ""),
        "USER   MECHANISM      ITERATIONS\nalice  SCRAM-SHA-256  8192\n"
    );
}
