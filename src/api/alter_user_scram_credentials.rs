//! AlterUserScramCredentials (key 51), v0: add, replace or remove users' SCRAM credentials.
//! The client salts the password (`Salt`, `SaltedPassword`, `Iterations`); the active
//! controller derives StoredKey and ServerKey and writes those (never the salted password)
//! to the metadata log, with Kafka's checks (`controller/scram.rs`): DUPLICATE_RESOURCE,
//! UNACCEPTABLE_CREDENTIAL, UNSUPPORTED_SASL_MECHANISM, RESOURCE_NOT_FOUND. One result per
//! user. Authorization: ALTER on CLUSTER, else every user's result is
//! CLUSTER_AUTHORIZATION_FAILED (the check is marked below).

use std::sync::Arc;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::{
    CallError, ControllerRequest, ControllerResponse, ScramUpsertion,
};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::AlterUserScramCredentials,
    min: 0,
    max: 0,
};

fn result(user: String, code: i16, message: Option<String>) -> AlterUserScramCredentialsResult {
    AlterUserScramCredentialsResult::default()
        .with_user(StrBytes::from_string(user))
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: AlterUserScramCredentialsRequest = req.decode(ApiKey::AlterUserScramCredentials)?;
    let deletions: Vec<(String, i8)> = body
        .deletions
        .iter()
        .map(|d| (d.name.as_str().to_string(), d.mechanism))
        .collect();
    let upsertions: Vec<ScramUpsertion> = body
        .upsertions
        .iter()
        .map(|u| ScramUpsertion {
            name: u.name.as_str().to_string(),
            mechanism: u.mechanism,
            iterations: u.iterations,
            salt: u.salt.to_vec(),
            salted_password: u.salted_password.to_vec(),
        })
        .collect();
    // Every user named, once, in order (for answering a whole-call failure).
    let mut users: Vec<String> = Vec::new();
    for n in deletions
        .iter()
        .map(|d| &d.0)
        .chain(upsertions.iter().map(|u| &u.name))
    {
        if !users.contains(n) {
            users.push(n.clone());
        }
    }
    // AUTHORIZATION (acl): ALTER on CLUSTER; refused → every user in `users` gets
    // CLUSTER_AUTHORIZATION_FAILED (31) and nothing is sent to the controller, as Kafka does.
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let results = if users.is_empty() {
            Vec::new()
        } else {
            match broker.controller.get() {
                None => fail_all(
                    &users,
                    ResponseError::NotController.code(),
                    "no controller channel",
                ),
                Some(channel) => {
                    let call = channel.call(ControllerRequest::AlterUserScramCredentials {
                        deletions,
                        upsertions,
                    });
                    match call.await {
                        Ok(reply) => match reply.response {
                            ControllerResponse::UserScramCredentials(r) => r
                                .into_iter()
                                .map(|(u, code, m)| result(u, code, m))
                                .collect(),
                            ControllerResponse::Error {
                                error_code,
                                message,
                            } => fail_all(&users, error_code, &message.unwrap_or_default()),
                            other => fail_all(
                                &users,
                                ResponseError::UnknownServerError.code(),
                                &format!("unexpected controller answer {other:?}"),
                            ),
                        },
                        Err(CallError::Timeout(m)) => {
                            fail_all(&users, ResponseError::RequestTimedOut.code(), &m)
                        }
                        Err(CallError::Unavailable(m)) => {
                            fail_all(&users, ResponseError::NotController.code(), &m)
                        }
                    }
                }
            }
        };
        let resp = AlterUserScramCredentialsResponse::default()
            .with_throttle_time_ms(0)
            .with_results(results);
        req.respond(&resp)
    })))
}

fn fail_all(users: &[String], code: i16, message: &str) -> Vec<AlterUserScramCredentialsResult> {
    users
        .iter()
        .map(|u| result(u.clone(), code, Some(message.to_string())))
        .collect()
}
