//! IncrementalAlterConfigs (key 44): change single topic config overrides with SET (0),
//! DELETE (1: back to the default), APPEND (2) and SUBTRACT (3) — the last two only for
//! LIST-type configs (else INVALID_CONFIG, "Can't APPEND to key ... because its type is not
//! LIST.", as Kafka's controller answers). APPEND adds the items not already present to the
//! current value (the override, else the effective default); SUBTRACT removes items.
//! All operations of a resource apply together or not at all, under the broker's admin lock
//! ([`Broker::alter_topic_configs`]); `validate_only` checks without applying.
//!
//! BROKER resources are refused as in AlterConfigs (no dynamic broker configs here);
//! BROKER_LOGGER is not supported.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
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
    alter_broker, check_configs, check_topic_name, duplicate_resources, invalid_request,
    topic_api_error, ApiError,
};
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC};
use super::{ApiEntry, Request};
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
                let Some(def) = topic_config_def(name).filter(|d| d.kind == ConfigType::List)
                else {
                    return Err((
                        ResponseError::InvalidConfig.code(),
                        Some(format!(
                            "Can't {op} to key {name} because its type is not LIST."
                        )),
                    ));
                };
                let old = new
                    .get(name)
                    .cloned()
                    .or_else(|| broker.config.topic_default(def))
                    .unwrap_or_default();
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

fn alter_one(
    broker: &Broker,
    r: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), ApiError> {
    check_configs(r.configs.iter().map(|c| {
        (
            c.name.as_str(),
            c.config_operation != DELETE && c.value.is_none(),
        )
    }))?;
    let name = r.resource_name.as_str();
    match r.resource_type {
        RESOURCE_TOPIC => {
            check_topic_name(name)?;
            let mut op_error = None;
            let res = broker.alter_topic_configs(name, validate_only, |current| {
                apply_ops(broker, current, &r.configs).map_err(|e| {
                    op_error = Some(e);
                    TopicError::InvalidRequest(String::new())
                })
            });
            match (res, op_error) {
                (_, Some(e)) => Err(e),
                (Ok(_), None) => Ok(()),
                (Err(e), None) => Err(topic_api_error(e)),
            }
        }
        RESOURCE_BROKER => alter_broker(broker, name, r.configs.iter().map(|c| c.name.as_str())),
        RESOURCE_BROKER_LOGGER => Err(invalid_request(
            "Broker loggers are not configurable on this broker.",
        )),
        other => Err(invalid_request(format!("Unknown resource type {other}"))),
    }
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: IncrementalAlterConfigsRequest = req.decode(ApiKey::IncrementalAlterConfigs)?;
    let dups = duplicate_resources(
        body.resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let responses = body
        .resources
        .iter()
        .map(|r| {
            let res = if dups.contains(&(r.resource_type, r.resource_name.as_str())) {
                Err(invalid_request("Each resource must appear at most once."))
            } else {
                alter_one(broker, r, body.validate_only)
            };
            let (code, message) = res.err().unwrap_or((0, None));
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string))
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
        })
        .collect();
    let resp = IncrementalAlterConfigsResponse::default()
        .with_throttle_time_ms(0)
        .with_responses(responses);
    req.respond(&resp)
}
