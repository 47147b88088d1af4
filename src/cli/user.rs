//! `skua user create|delete|list`: SCRAM users over the Kafka protocol, as `kafka-configs.sh
//! --entity-type users --alter --add-config 'SCRAM-SHA-256=[iterations=8192,password=...]'`
//! does it: the CLI picks a random salt and salts the password itself, then sends only the
//! salt and salted password (AlterUserScramCredentials); `list` is DescribeUserScramCredentials.

use std::io::BufRead;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};

use super::client::{check, str_bytes, Cluster};
use super::output::{emit, table, Json};
use super::{Common, Output};
use crate::security::scram::{random_salt, ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The user name.
    pub name: String,
    /// The password (read from the first line of stdin when not given).
    #[arg(long)]
    pub password: Option<String>,
    /// SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable: a credential for each).
    #[arg(long = "mechanism", default_value = "SCRAM-SHA-256")]
    pub mechanisms: Vec<String>,
    /// PBKDF2 iterations, 4096..=16384 (Kafka's bounds).
    #[arg(long, default_value_t = MIN_ITERATIONS)]
    pub iterations: i32,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The user name.
    pub name: String,
    /// Only this mechanism's credential (repeatable; default: every credential the user has).
    #[arg(long = "mechanism")]
    pub mechanisms: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only these users (default: every user with a SCRAM credential).
    pub names: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

fn mechanism(name: &str) -> Result<ScramMechanism> {
    ScramMechanism::from_name(name).ok_or_else(|| {
        anyhow!("unknown SCRAM mechanism {name:?}: use SCRAM-SHA-256 or SCRAM-SHA-512")
    })
}

/// Send an AlterUserScramCredentials and fail on the first user error.
fn alter(
    cluster: &mut Cluster,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
    what: &str,
) -> Result<()> {
    let conn = cluster.bootstrap();
    let v = conn.version::<AlterUserScramCredentialsRequest>(0, 0)?;
    let mut req = AlterUserScramCredentialsRequest::default();
    req.deletions = deletions;
    req.upsertions = upsertions;
    let resp = conn.call(v, &req)?;
    if resp.results.is_empty() {
        bail!("{what}: empty answer");
    }
    for r in &resp.results {
        check(r.error_code, r.error_message.as_ref(), what)?;
    }
    Ok(())
}

/// A user and its (mechanism name, iterations), sorted.
pub type UserCredentials = (String, Vec<(String, i32)>);

/// (user, [(mechanism, iterations)]) for the named users (all when empty); a named user
/// without credentials is an error.
pub fn describe(cluster: &mut Cluster, names: &[String]) -> Result<Vec<UserCredentials>> {
    let conn = cluster.bootstrap();
    let v = conn.version::<DescribeUserScramCredentialsRequest>(0, 0)?;
    let mut req = DescribeUserScramCredentialsRequest::default();
    req.users = if names.is_empty() {
        None
    } else {
        Some(
            names
                .iter()
                .map(|n| {
                    let mut u = UserName::default();
                    u.name = str_bytes(n);
                    u
                })
                .collect(),
        )
    };
    let resp = conn.call(v, &req)?;
    check(
        resp.error_code,
        resp.error_message.as_ref(),
        "describe users",
    )?;
    let mut out = Vec::new();
    for r in resp.results {
        let user = r.user.to_string();
        check(
            r.error_code,
            r.error_message.as_ref(),
            &format!("user {user}"),
        )?;
        let mut creds: Vec<(String, i32)> = r
            .credential_infos
            .iter()
            .map(|c| (ScramMechanism::name_of_type_id(c.mechanism), c.iterations))
            .collect();
        creds.sort();
        out.push((user, creds));
    }
    out.sort();
    Ok(out)
}

pub fn create(a: CreateArgs) -> Result<()> {
    if a.name.is_empty() {
        bail!("the user name must not be empty");
    }
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&a.iterations) {
        bail!("--iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}");
    }
    let mechanisms = a
        .mechanisms
        .iter()
        .map(|m| mechanism(m))
        .collect::<Result<Vec<_>>>()?;
    let password = match a.password {
        Some(p) => p,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if password.is_empty() {
        bail!("the password must not be empty");
    }
    let upsertions: Vec<ScramCredentialUpsertion> = mechanisms
        .iter()
        .map(|m| {
            let salt = random_salt();
            let salted = m.salted_password(password.as_bytes(), &salt, a.iterations as u32);
            let mut u = ScramCredentialUpsertion::default();
            u.name = str_bytes(&a.name);
            u.mechanism = m.type_id();
            u.iterations = a.iterations;
            u.salt = salt.into();
            u.salted_password = salted.into();
            u
        })
        .collect();
    let mut cluster = a.common.connect()?;
    // One request per mechanism: Kafka refuses a user named twice in one request.
    for u in upsertions {
        alter(
            &mut cluster,
            vec![],
            vec![u],
            &format!("create user {}", a.name),
        )?;
    }
    let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
    match a.common.output {
        Output::Table => emit(&format!(
            "created user {} ({}, {} iterations)\n",
            a.name,
            names.join(", "),
            a.iterations
        )),
        Output::Json => emit(&format!(
            "{}\n",
            Json::obj(vec![
                ("created", Json::str(&a.name)),
                (
                    "mechanisms",
                    Json::Arr(names.iter().map(|n| Json::str(*n)).collect())
                ),
                ("iterations", Json::Int(i64::from(a.iterations))),
            ])
            .render()
        )),
    }
}

pub fn delete(a: DeleteArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let mechanisms: Vec<ScramMechanism> = if a.mechanisms.is_empty() {
        let users = describe(&mut cluster, std::slice::from_ref(&a.name))?;
        users
            .iter()
            .flat_map(|(_, creds)| {
                creds
                    .iter()
                    .filter_map(|(m, _)| ScramMechanism::from_name(m))
            })
            .collect()
    } else {
        a.mechanisms
            .iter()
            .map(|m| mechanism(m))
            .collect::<Result<Vec<_>>>()?
    };
    // One request per mechanism: Kafka refuses a user named twice in one request.
    for m in &mechanisms {
        let mut d = ScramCredentialDeletion::default();
        d.name = str_bytes(&a.name);
        d.mechanism = m.type_id();
        alter(
            &mut cluster,
            vec![d],
            vec![],
            &format!("delete user {} ({})", a.name, m.name()),
        )?;
    }
    let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
    match a.common.output {
        Output::Table => emit(&format!("deleted user {} ({})\n", a.name, names.join(", "))),
        Output::Json => emit(&format!(
            "{}\n",
            Json::obj(vec![
                ("deleted", Json::str(&a.name)),
                (
                    "mechanisms",
                    Json::Arr(names.iter().map(|n| Json::str(*n)).collect())
                ),
            ])
            .render()
        )),
    }
}

pub fn list(a: ListArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let users = describe(&mut cluster, &a.names)?;
    match a.common.output {
        Output::Table => {
            let mut rows = Vec::new();
            for (u, creds) in &users {
                for (m, i) in creds {
                    rows.push(vec![u.clone(), m.clone(), i.to_string()]);
                }
            }
            emit(&table(&["USER", "MECHANISM", "ITERATIONS"], &rows))
        }
        Output::Json => {
            let items = users
                .iter()
                .map(|(u, creds)| {
                    Json::obj(vec![
                        ("user", Json::str(u)),
                        (
                            "credentials",
                            Json::Arr(
                                creds
                                    .iter()
                                    .map(|(m, i)| {
                                        Json::obj(vec![
                                            ("mechanism", Json::str(m)),
                                            ("iterations", Json::Int(i64::from(*i))),
                                        ])
                                    })
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect();
            emit(&format!("{}\n", Json::Arr(items).render()))
        }
    }
}
