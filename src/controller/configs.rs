//! Config decisions: IncrementalAlterConfigs and AlterConfigs on TOPIC, BROKER, GROUP and
//! CLIENT_METRICS resources (Kafka's `ConfigurationControlManager`). A resource's changes apply
//! together or not at all.
//!
//! Validation: every topic override of the result through `config::validate_topic_config`;
//! a broker override must name a known broker config (`config::broker_config_def`) with a
//! value of its type; a group's whole set of overrides through `config::validate_group_configs`
//! (a group need not exist, as in Kafka). Whether a broker config may change at runtime is the
//! API layer's call
//! (Kafka's brokers check it before forwarding). Then the resource must exist: the topic, or a
//! registered broker / this controller's node (-1, the cluster default, always does).
//! Records are written only for values that change, except on BROKER resources, where Kafka
//! writes them anyway so brokers reload (KAFKA-14136).

use std::collections::BTreeMap;

use super::errors::*;
use super::topics::config_error;
use super::{Controller, ControllerResult, Work};
use crate::cluster::image::MetadataImage;
use crate::cluster::records::{ConfigResource, MetadataRecord, CLUSTER_DEFAULT_BROKER};
use crate::config::{
    broker_config_def, group_config_def, topic_config_def, validate_group_configs,
    validate_topic_config, ConfigType,
};

/// IncrementalAlterConfigs' operation (SET 0, DELETE 1, APPEND 2, SUBTRACT 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterConfigOp {
    Set,
    Delete,
    Append,
    Subtract,
}

impl AlterConfigOp {
    pub fn from_i8(op: i8) -> Option<AlterConfigOp> {
        match op {
            0 => Some(AlterConfigOp::Set),
            1 => Some(AlterConfigOp::Delete),
            2 => Some(AlterConfigOp::Append),
            3 => Some(AlterConfigOp::Subtract),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterableConfig {
    pub name: String,
    pub op: AlterConfigOp,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementalAlterResource {
    pub resource: ConfigResource,
    pub configs: Vec<AlterableConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigResourceResult {
    pub resource: ConfigResource,
    pub result: Result<(), ApiError>,
}

/// The declared type of a config of a resource, and its static default (a topic config's
/// is its broker synonym's when it has none of its own, as Kafka's `LogConfig` defaults are).
fn def_of(resource: &ConfigResource, name: &str) -> Option<(ConfigType, Option<&'static str>)> {
    match resource {
        ConfigResource::Topic(_) => topic_config_def(name).map(|d| {
            let default = d.default.or_else(|| {
                d.broker_synonym
                    .and_then(broker_config_def)
                    .and_then(|b| b.default)
            });
            (d.kind, default)
        }),
        ConfigResource::Broker(_) => broker_config_def(name).map(|d| (d.kind, d.default)),
        ConfigResource::Group(_) => group_config_def(name).map(|d| (d.kind, Some(d.default))),
        ConfigResource::ClientMetrics(_) => match name {
            crate::telemetry::config::METRICS | crate::telemetry::config::MATCH => {
                Some((ConfigType::List, None))
            }
            crate::telemetry::config::INTERVAL_MS => Some((ConfigType::Int, Some("300000"))),
            _ => None,
        },
    }
}

/// A broker config value of the right type and bound.
fn check_broker_value(name: &str, value: &str) -> Result<(), ApiError> {
    let Some(def) = broker_config_def(name) else {
        return Err(ApiError::new(
            INVALID_CONFIG,
            format!("Unknown broker config name: {name}"),
        ));
    };
    let v = value.trim();
    let reason = match def.kind {
        ConfigType::Boolean
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") =>
        {
            Some("expected true or false".to_string())
        }
        ConfigType::Int | ConfigType::Long => match v.parse::<i64>() {
            Err(_) => Some("expected an integer".to_string()),
            Ok(n) if def.kind == ConfigType::Int && i32::try_from(n).is_err() => {
                Some("out of the range of an int".to_string())
            }
            Ok(n) => def
                .min
                .filter(|m| n < *m)
                .map(|m| format!("must be at least {m}")),
        },
        ConfigType::Double if v.parse::<f64>().is_err() => Some("expected a number".to_string()),
        _ => None,
    };
    match reason {
        Some(reason) => Err(ApiError::new(
            INVALID_CONFIG,
            format!("Invalid value {value} for configuration {name}: {reason}"),
        )),
        None => Ok(()),
    }
}

impl Controller {
    /// IncrementalAlterConfigs. With `validate_only` the answers are the same and no record
    /// is kept.
    pub fn incremental_alter_configs(
        &self,
        image: &MetadataImage,
        resources: &[IncrementalAlterResource],
        validate_only: bool,
    ) -> ControllerResult<Vec<ConfigResourceResult>> {
        let mut work = Work::new(image);
        let results = resources
            .iter()
            .map(|r| ConfigResourceResult {
                resource: r.resource.clone(),
                result: self
                    .incremental_records(&work.image, r)
                    .and_then(|records| self.validated(&mut work, &r.resource, records)),
            })
            .collect();
        let records = if validate_only {
            Vec::new()
        } else {
            work.records
        };
        ControllerResult::new(records, results)
    }

    /// AlterConfigs: each resource's overrides become exactly the given set.
    pub fn alter_configs(
        &self,
        image: &MetadataImage,
        resources: &[(ConfigResource, Vec<(String, String)>)],
        validate_only: bool,
    ) -> ControllerResult<Vec<ConfigResourceResult>> {
        let mut work = Work::new(image);
        let mut results = Vec::with_capacity(resources.len());
        for (resource, configs) in resources {
            let current = work.image.configs(resource);
            let wanted: BTreeMap<&str, &str> = configs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let is_broker = matches!(resource, ConfigResource::Broker(_));
            let mut records = Vec::new();
            for (k, v) in &wanted {
                if is_broker || current.get(*k).map(String::as_str) != Some(*v) {
                    records.push(config_record(resource, k, Some(v)));
                }
            }
            for k in current.keys() {
                if !wanted.contains_key(k.as_str()) {
                    records.push(config_record(resource, k, None));
                }
            }
            results.push(ConfigResourceResult {
                resource: resource.clone(),
                result: self.validated(&mut work, resource, records),
            });
        }
        let records = if validate_only {
            Vec::new()
        } else {
            work.records
        };
        ControllerResult::new(records, results)
    }

    /// The Config records of one IncrementalAlterConfigs resource.
    fn incremental_records(
        &self,
        image: &MetadataImage,
        r: &IncrementalAlterResource,
    ) -> Result<Vec<MetadataRecord>, ApiError> {
        let current = image.configs(&r.resource);
        let is_broker = matches!(r.resource, ConfigResource::Broker(_));
        let mut records = Vec::new();
        for c in &r.configs {
            let old = current.get(&c.name).cloned();
            let new = match c.op {
                AlterConfigOp::Set => c.value.clone(),
                AlterConfigOp::Delete => None,
                AlterConfigOp::Append | AlterConfigOp::Subtract => {
                    let op = if c.op == AlterConfigOp::Append {
                        "APPEND"
                    } else {
                        "SUBTRACT"
                    };
                    let Some((ConfigType::List, default)) = def_of(&r.resource, &c.name) else {
                        return Err(ApiError::new(
                            INVALID_CONFIG,
                            format!("Can't {op} to key {} because its type is not LIST.", c.name),
                        ));
                    };
                    let base = old
                        .clone()
                        .or(default.map(str::to_string))
                        .unwrap_or_default();
                    let mut items: Vec<String> = split_list(&base).map(str::to_string).collect();
                    for v in split_list(c.value.as_deref().unwrap_or("")) {
                        if c.op == AlterConfigOp::Subtract {
                            items.retain(|i| i != v);
                        } else if !items.iter().any(|i| i == v) {
                            items.push(v.to_string());
                        }
                    }
                    Some(items.join(","))
                }
            };
            if is_broker || new != old {
                records.push(config_record(&r.resource, &c.name, new.as_deref()));
            }
        }
        Ok(records)
    }

    /// Check the resource's configs as they would be after `records`, then the resource's
    /// existence; on success the records are decided.
    fn validated(
        &self,
        work: &mut Work,
        resource: &ConfigResource,
        records: Vec<MetadataRecord>,
    ) -> Result<(), ApiError> {
        let mut after = work.image.configs(resource).clone();
        for r in &records {
            if let MetadataRecord::Config { name, value, .. } = r {
                match value {
                    Some(v) => after.insert(name.clone(), v.clone()),
                    None => after.remove(name),
                };
            }
        }
        match resource {
            ConfigResource::Topic(topic) => {
                for (k, v) in &after {
                    validate_topic_config(k, Some(v)).map_err(config_error)?;
                }
                if work.image.topic(topic).is_none() {
                    return Err(ApiError::new(
                        UNKNOWN_TOPIC_OR_PARTITION,
                        format!("The topic '{topic}' does not exist."),
                    ));
                }
            }
            ConfigResource::Group(_) => self.check_group_configs(&after)?,
            // Kafka's ClientMetricsConfigs.validate on the whole set after the change; a
            // subscription exists once it has a config (there is nothing else to check).
            ConfigResource::ClientMetrics(name) => {
                crate::telemetry::config::validate(name, &after)
                    .map_err(|(code, message)| ApiError::new(code, message))?;
            }
            ConfigResource::Broker(id) => {
                for r in &records {
                    if let MetadataRecord::Config {
                        name,
                        value: Some(v),
                        ..
                    } = r
                    {
                        check_broker_value(name, v)?;
                    }
                }
                let known = *id == CLUSTER_DEFAULT_BROKER
                    || *id == self.config.node_id
                    || work.image.broker(*id).is_some();
                if !known {
                    return Err(ApiError::new(
                        BROKER_ID_NOT_REGISTERED,
                        format!("No node with id {id} found."),
                    ));
                }
            }
        }
        for r in records {
            work.push(r);
        }
        Ok(())
    }
}

impl Controller {
    /// A GROUP resource's overrides as Kafka's GroupConfig validates them
    /// (`config::validate_group_configs`): known names, values of each config's type and
    /// form, INTs within the broker's `group.{consumer,share}.min/max.*` bounds, a dead-letter
    /// queue topic under the broker's prefix, each session timeout above its heartbeat interval
    /// (each side its override or the broker's value).
    fn check_group_configs(&self, after: &BTreeMap<String, String>) -> Result<(), ApiError> {
        validate_group_configs(after, &self.config.group_config_limits)
            .map_err(|message| ApiError::new(INVALID_CONFIG, message))
    }
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn config_record(resource: &ConfigResource, name: &str, value: Option<&str>) -> MetadataRecord {
    MetadataRecord::Config {
        resource: resource.clone(),
        name: name.to_string(),
        value: value.map(str::to_string),
    }
}
