//! DescribeUserScramCredentials (key 50), v0: which SCRAM mechanisms (and iterations) each user
//! has, from this broker's metadata image, as Kafka's `ScramImage.describe` answers: no users
//! (null or empty) = every user with a credential; a user named twice DUPLICATE_RESOURCE; a
//! user without credentials RESOURCE_NOT_FOUND. Never a salt or key. Authorization: DESCRIBE on
//! CLUSTER, else the top-level CLUSTER_AUTHORIZATION_FAILED (the check is marked below).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    ApiKey, DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeUserScramCredentials,
    min: 0,
    max: 0,
};

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: DescribeUserScramCredentialsRequest =
        req.decode(ApiKey::DescribeUserScramCredentials)?;
    // AUTHORIZATION (acl): DESCRIBE on CLUSTER; refused → respond with top-level
    // error_code CLUSTER_AUTHORIZATION_FAILED (31) and no results, as Kafka does.
    let users: Option<Vec<String>> = body
        .users
        .map(|u| u.iter().map(|n| n.name.as_str().to_string()).collect());
    let results = broker
        .scram_credentials
        .get()
        .describe(users.as_deref())
        .into_iter()
        .map(|d| {
            let r = DescribeUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(d.user));
            match d.result {
                Ok(infos) => r.with_credential_infos(
                    infos
                        .into_iter()
                        .map(|(m, iterations)| {
                            CredentialInfo::default()
                                .with_mechanism(m.type_id())
                                .with_iterations(iterations)
                        })
                        .collect(),
                ),
                Err((code, message)) => r
                    .with_error_code(code)
                    .with_error_message(Some(StrBytes::from_string(message))),
            }
        })
        .collect();
    let resp = DescribeUserScramCredentialsResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_error_message(None)
        .with_results(results);
    req.respond(&resp)
}
