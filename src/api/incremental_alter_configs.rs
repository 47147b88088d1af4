//! IncrementalAlterConfigs (key 44): change single topic config overrides with SET (0),
//! DELETE (1: back to the default), APPEND (2) and SUBTRACT (3) — the last two only for
//! LIST-type configs (else INVALID_CONFIG, "Can't APPEND to key ... because its type is not
//! LIST.", as Kafka's controller answers). APPEND adds the items not already present to the
//! current value (the override, else the effective default); SUBTRACT removes items.
//! The new set of overrides is computed from the current one and handed to the active
//! controller, which validates it and writes it whole (all operations of a resource apply
//! together or not at all); `validate_only` checks without applying.
//!
//! BROKER resources are refused as in AlterConfigs (no dynamic broker configs here);
//! BROKER_LOGGER is not supported.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::alter_configs::{
    alter_broker, check_configs, check_topic_name, execute, invalid_request, plan_all,
    topic_api_error, ApiError, Plan,
};
use super::describe_configs::{
    RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_CLIENT_METRICS, RESOURCE_GROUP,
    RESOURCE_TOPIC,
};
use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::ConfigOp;
use crate::cluster::{Broker, TopicError};
use crate::config::{topic_config_def, ConfigType};
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::IncrementalAlterConfigs,
    min: 0,
    max: 1,
};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// Apply the operations to a copy of the current overrides.
fn apply_ops(
    broker: &Broker,
    current: &BTreeMap<String, String>,
    ops: &[AlterableConfig],
) -> Result<BTreeMap<String, String>, ApiError> {
    apply_ops_with(current, ops, |name| {
        topic_config_def(name)
            .filter(|d| d.kind == ConfigType::List)
            .map(|d| broker.config.topic_default(d))
    })
}

/// CLIENT_METRICS' LIST configs (`metrics`, `match`) default to the empty list.
fn client_metrics_list(name: &str) -> Option<Option<String>> {
    use crate::telemetry::config::{MATCH, METRICS};
    (name == METRICS || name == MATCH).then_some(None)
}

/// Apply the operations; `list_default(name)` is Some(default value) for a LIST config.
fn apply_ops_with(
    current: &BTreeMap<String, String>,
    ops: &[AlterableConfig],
    list_default: impl Fn(&str) -> Option<Option<String>>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut new = current.clone();
    for c in ops {
        let name = c.name.as_str();
        let value = c.value.as_ref().map(|v| v.as_str()).unwrap_or("");
        match c.config_operation {
            SET => {
                new.insert(name.to_string(), value.to_string());
            }
            DELETE => {
                new.remove(name);
            }
            APPEND | SUBTRACT => {
                let op = if c.config_operation == APPEND {
                    "APPEND"
                } else {
                    "SUBTRACT"
                };
                let Some(default) = list_default(name) else {
                    return Err((
                        ResponseError::InvalidConfig.code(),
                        Some(format!(
                            "Can't {op} to key {name} because its type is not LIST."
                        )),
                    ));
                };
                let old = new.get(name).cloned().or(default).unwrap_or_default();
                let mut items: Vec<String> = old
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                for v in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if c.config_operation == APPEND {
                        if !items.iter().any(|i| i == v) {
                            items.push(v.to_string());
                        }
                    } else {
                        items.retain(|i| i != v);
                    }
                }
                new.insert(name.to_string(), items.join(","));
            }
            other => {
                return Err(invalid_request(format!("Unknown operations type {other}")));
            }
        }
    }
    Ok(new)
}

fn plan_one(broker: &Broker, r: &AlterConfigsResource) -> Plan {
    if let Err(e) = check_configs(r.configs.iter().map(|c| {
        (
            c.name.as_str(),
            c.config_operation != DELETE && c.value.is_none(),
        )
    })) {
        return Plan::Done(Err(e));
    }
    let name = r.resource_name.as_str();
    match r.resource_type {
        RESOURCE_TOPIC => {
            if let Err(e) = check_topic_name(name) {
                return Plan::Done(Err(e));
            }
            let Some(topic) = broker.topic(name) else {
                return Plan::Done(Err(topic_api_error(TopicError::Unknown)));
            };
            // The new set of overrides, computed from the current one; the controller
            // validates and replaces it.
            match apply_ops(broker, &topic.configs, &r.configs) {
                Ok(new) => Plan::Topic(name.to_string(), set_ops(new)),
                Err(e) => Plan::Done(Err(e)),
            }
        }
        RESOURCE_BROKER => Plan::Done(alter_broker(
            broker,
            name,
            r.configs.iter().map(|c| c.name.as_str()),
        )),
        RESOURCE_GROUP => {
            if name.is_empty() {
                return Plan::Done(Err(invalid_request("Group name must not be empty.")));
            }
            let current = broker.group_configs(name);
            match apply_ops(broker, &current, &r.configs) {
                Ok(new) => Plan::Group(name.to_string(), set_ops(new)),
                Err(e) => Plan::Done(Err(e)),
            }
        }
        RESOURCE_CLIENT_METRICS => {
            let current = broker
                .all_client_metrics_configs()
                .get(name)
                .cloned()
                .unwrap_or_default();
            match apply_ops_with(&current, &r.configs, client_metrics_list) {
                Ok(new) => Plan::ClientMetrics(name.to_string(), set_ops(new)),
                Err(e) => Plan::Done(Err(e)),
            }
        }
        RESOURCE_BROKER_LOGGER => Plan::Done(Err(invalid_request(
            "Broker loggers are not configurable on this broker.",
        ))),
        other => Plan::Done(Err(invalid_request(format!(
            "Unknown resource type {other}"
        )))),
    }
}

/// The controller's ops that replace a resource's overrides with `new` (name → value).
fn set_ops(new: impl IntoIterator<Item = (String, String)>) -> Vec<ConfigOp> {
    new.into_iter()
        .map(|(name, value)| ConfigOp {
            name,
            op: 0,
            value: Some(value),
        })
        .collect()
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: IncrementalAlterConfigsRequest = req.decode(ApiKey::IncrementalAlterConfigs)?;
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
        let resp = IncrementalAlterConfigsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses);
        req.respond(&resp)
    })))
}
