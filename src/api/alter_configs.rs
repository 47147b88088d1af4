//! AlterConfigs (key 33): replace all dynamic config overrides of a TOPIC resource with the
//! given set (a config left out returns to its default), validated against the topic configs'
//! names, types and ranges by the active controller; `validate_only` checks without applying.
//! Applied overrides are metadata records; every broker applies them to its partition logs.
//!
//! BROKER resources: no broker config can be changed at runtime here, so any config in such a
//! resource is refused with Kafka's answer for non-dynamic configs (INVALID_REQUEST,
//! "Cannot update these configs dynamically: ..."). The checks shared with
//! IncrementalAlterConfigs (resource once per request, config names once per resource, the
//! broker id, Kafka's error messages) live here.

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, ApiKey};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::describe_configs::{
    RESOURCE_BROKER, RESOURCE_CLIENT_METRICS, RESOURCE_GROUP, RESOURCE_TOPIC,
};
use super::errors::topic_error_code;
use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::ConfigOp;
use crate::cluster::records::ConfigResource;
use crate::cluster::{validate_topic_name, Broker, TopicError};
use crate::config::ConfigError;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::AlterConfigs,
    min: 0,
    max: 2,
};

/// An error code with Kafka's message.
pub type ApiError = (i16, Option<String>);

pub(super) fn invalid_request(message: impl Into<String>) -> ApiError {
    (ResponseError::InvalidRequest.code(), Some(message.into()))
}

/// A topic administration error as Kafka words it for config changes.
pub(super) fn topic_api_error(e: TopicError) -> ApiError {
    let message = match &e {
        TopicError::InvalidConfig(ConfigError::Unknown(name)) => {
            format!("Unknown topic config name: {name}")
        }
        TopicError::InvalidConfig(ConfigError::Invalid {
            name,
            value,
            reason,
        }) => format!("Invalid value {value} for configuration {name}: {reason}"),
        TopicError::Unknown => "This server does not host this topic-partition.".into(),
        other => other.to_string(),
    };
    (topic_error_code(&e), Some(message))
}

/// The (type, name) pairs that appear more than once in a request: each such resource is
/// answered "Each resource must appear at most once.", as Kafka does.
pub(super) fn duplicate_resources<'a>(
    resources: impl Iterator<Item = (i8, &'a str)>,
) -> HashSet<(i8, &'a str)> {
    let mut seen = HashSet::new();
    let mut dups = HashSet::new();
    for r in resources {
        if !seen.insert(r) {
            dups.insert(r);
        }
    }
    dups
}

/// Checks every resource of an alter gets before its type is looked at.
pub(super) fn check_configs<'a>(
    names: impl Iterator<Item = (&'a str, bool)> + Clone,
) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    if names.clone().any(|(n, _)| !seen.insert(n)) {
        return Err(invalid_request("Error due to duplicate config keys"));
    }
    let nulls: Vec<&str> = names.filter(|(_, null)| *null).map(|(n, _)| n).collect();
    if !nulls.is_empty() {
        return Err(invalid_request(format!(
            "Null value not supported for : {}",
            nulls.join(", ")
        )));
    }
    Ok(())
}

/// A BROKER resource: the name must be empty (cluster default) or this node's id; no config
/// can be changed dynamically.
pub(super) fn alter_broker<'a>(
    broker: &Broker,
    name: &str,
    configs: impl Iterator<Item = &'a str>,
) -> Result<(), ApiError> {
    if !name.is_empty() {
        let id: i32 = name.parse().map_err(|_| {
            invalid_request(format!("Node id must be an integer, but it is: {name}"))
        })?;
        if id != broker.config.node_id {
            return Err(invalid_request(format!(
                "Unexpected broker id, expected {}, but received {name}",
                broker.config.node_id
            )));
        }
    }
    let names: Vec<&str> = configs.collect();
    if names.is_empty() {
        return Ok(());
    }
    Err(invalid_request(format!(
        "Cannot update these configs dynamically: Set({})",
        names.join(", ")
    )))
}

/// Validate a topic name as Kafka does before looking the topic up.
pub(super) fn check_topic_name(name: &str) -> Result<(), ApiError> {
    validate_topic_name(name).map_err(topic_api_error)
}

/// What to do for one resource: answered here, or a topic's new overrides for the
/// controller.
pub(super) enum Plan {
    Done(Result<(), ApiError>),
    Topic(String, Vec<ConfigOp>),
    /// A GROUP resource's new overrides.
    Group(String, Vec<ConfigOp>),
    /// A CLIENT_METRICS resource's new configs.
    ClientMetrics(String, Vec<ConfigOp>),
}

/// AlterConfigs replaces every override: the ones given are the new set.
fn replacing_ops(
    r: &kafka_protocol::messages::alter_configs_request::AlterConfigsResource,
) -> Vec<ConfigOp> {
    r.configs
        .iter()
        .filter_map(|c| {
            c.value.as_ref().map(|v| ConfigOp {
                name: c.name.as_str().to_string(),
                op: 0,
                value: Some(v.as_str().to_string()),
            })
        })
        .collect()
}

fn plan_one(
    broker: &Broker,
    r: &kafka_protocol::messages::alter_configs_request::AlterConfigsResource,
) -> Plan {
    if let Err(e) = check_configs(
        r.configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.is_none())),
    ) {
        return Plan::Done(Err(e));
    }
    let name = r.resource_name.as_str();
    match r.resource_type {
        RESOURCE_TOPIC => {
            if let Err(e) = check_topic_name(name) {
                return Plan::Done(Err(e));
            }
            Plan::Topic(name.to_string(), replacing_ops(r))
        }
        RESOURCE_GROUP if name.is_empty() => {
            Plan::Done(Err(invalid_request("Group name must not be empty.")))
        }
        // As for a topic, the given overrides replace the group's.
        RESOURCE_GROUP => Plan::Group(name.to_string(), replacing_ops(r)),
        RESOURCE_BROKER => Plan::Done(alter_broker(
            broker,
            name,
            r.configs.iter().map(|c| c.name.as_str()),
        )),
        // Kafka's AlterConfigs takes CLIENT_METRICS too: the given set replaces the configs
        // (the controller validates it as a whole).
        RESOURCE_CLIENT_METRICS => Plan::ClientMetrics(
            name.to_string(),
            r.configs
                .iter()
                .filter_map(|c| {
                    c.value.as_ref().map(|v| ConfigOp {
                        name: c.name.as_str().to_string(),
                        op: 0,
                        value: Some(v.as_str().to_string()),
                    })
                })
                .collect(),
        ),
        other => Plan::Done(Err(invalid_request(format!(
            "Unknown resource type {other}"
        )))),
    }
}

/// Carry out a plan: a topic's change goes through the controller.
pub(super) async fn execute(
    broker: &Arc<Broker>,
    plan: Plan,
    replace: bool,
    validate_only: bool,
) -> (i16, Option<String>) {
    match plan {
        Plan::Done(r) => r.err().unwrap_or((0, None)),
        Plan::Topic(name, ops) => {
            broker
                .alter_configs(ConfigResource::Topic(name), ops, replace, validate_only)
                .await
        }
        Plan::Group(name, ops) => {
            broker
                .alter_configs(ConfigResource::Group(name), ops, replace, validate_only)
                .await
        }
        Plan::ClientMetrics(name, ops) => {
            broker
                .alter_configs(
                    ConfigResource::ClientMetrics(name),
                    ops,
                    replace,
                    validate_only,
                )
                .await
        }
    }
}

/// Every resource's plan, in request order: refused without ALTER_CONFIGS on it (Kafka's
/// check), INVALID_REQUEST when it appears twice, else what `plan_one` makes of it. Shared by
/// AlterConfigs and IncrementalAlterConfigs.
pub(super) fn plan_all<R>(
    az: &super::authz::Authz,
    resources: &[R],
    key: impl Fn(&R) -> (i8, &StrBytes),
    plan_one: impl Fn(&R) -> Plan,
) -> Vec<(i8, StrBytes, Plan)> {
    let dups = duplicate_resources(resources.iter().map(|r| {
        let (t, n) = key(r);
        (t, n.as_str())
    }));
    resources
        .iter()
        .map(|r| {
            let (resource_type, name) = key(r);
            let denied = az.config_resource_error(
                crate::security::acl::AclOperation::AlterConfigs,
                resource_type,
                name.as_str(),
            );
            let plan = if let Some(code) = denied {
                Plan::Done(Err((code, None)))
            } else if dups.contains(&(resource_type, name.as_str())) {
                Plan::Done(Err(invalid_request(
                    "Each resource must appear at most once.",
                )))
            } else {
                plan_one(r)
            };
            (resource_type, name.clone(), plan)
        })
        .collect()
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: AlterConfigsRequest = req.decode(ApiKey::AlterConfigs)?;
    // Kafka: ALTER_CONFIGS on the topic, the group or the cluster.
    let az = super::authz::authz(broker, &req);
    let plans = plan_all(
        &az,
        &body.resources,
        |r| (r.resource_type, &r.resource_name),
        |r| plan_one(broker, r),
    );
    let broker = Arc::clone(broker);
    let validate_only = body.validate_only;
    Ok(Reply::Later(Box::pin(async move {
        let mut responses = Vec::with_capacity(plans.len());
        for (resource_type, resource_name, plan) in plans {
            let (code, message) = execute(&broker, plan, true, validate_only).await;
            responses.push(
                AlterConfigsResourceResponse::default()
                    .with_error_code(code)
                    .with_error_message(message.map(StrBytes::from_string))
                    .with_resource_type(resource_type)
                    .with_resource_name(resource_name),
            );
        }
        let resp = AlterConfigsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses);
        req.respond(&resp)
    })))
}
