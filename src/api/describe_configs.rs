//! DescribeConfigs (key 32): every config of a TOPIC (2), BROKER (4) or GROUP (32) resource
//! with its value, source and (v1+, on request) synonyms; v3+ adds its type and, on request,
//! documentation.
//!
//! As Kafka: a null or empty `configuration_keys` means all; names that are not configs are
//! simply left out. A topic config not overridden takes its broker synonym's value; its source
//! is the first of its synonyms (topic override 1, static broker config 4, default 5), the
//! synonym list built as Kafka's ConfigHelper builds it (static values of every broker synonym,
//! then their defaults, dropping those before the config's own broker name — which is why
//! `retention.ms` has no synonyms when `log.retention.ms` is unset). GROUP (32) lists every
//! group config (consumer, share, dead-letter queue, skua's share extensions) with its type:
//! an override has source GROUP_CONFIG (8); otherwise the broker synonym's value and source, or,
//! for a config with no broker synonym, its default (DEFAULT_CONFIG 5). Broker configs are
//! read-only: none can be changed at runtime here. BROKER with an empty name describes the
//! cluster-wide dynamic defaults, of which there are none. CLIENT_METRICS (16) lists the
//! subscription's set configs only, as Kafka does (source CLIENT_METRICS_CONFIG 7, no
//! synonyms; a subscription that does not exist has no configs, without error).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request};
use crate::cluster::{validate_topic_name, Broker, TopicError};
use crate::config::{
    broker_config_def, broker_config_synonyms, ConfigType, BROKER_CONFIGS, TOPIC_CONFIGS,
};
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeConfigs,
    min: 0,
    max: 4,
};

/// ConfigResource.Type ids.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
pub const RESOURCE_CLIENT_METRICS: i8 = 16;
pub const RESOURCE_GROUP: i8 = 32;

/// ConfigSource ids.
pub const SOURCE_TOPIC: i8 = 1;
pub const SOURCE_STATIC_BROKER: i8 = 4;
pub const SOURCE_DEFAULT: i8 = 5;
pub const SOURCE_CLIENT_METRICS: i8 = 7;
pub const SOURCE_GROUP: i8 = 8;

/// One described config, before it is put on the wire.
struct Entry {
    name: &'static str,
    value: Option<String>,
    read_only: bool,
    kind: ConfigType,
    doc: &'static str,
    /// Name, value, source; the first one is the config's source.
    synonyms: Vec<(String, Option<String>, i8)>,
    /// Synonyms are never listed (CLIENT_METRICS configs, as Kafka answers them).
    no_synonyms: bool,
}

/// Kafka's broker synonyms of `own` (its static values, then defaults), from `own` on.
fn broker_synonyms(broker: &Broker, own: &str) -> Vec<(String, Option<String>, i8)> {
    let names = broker_config_synonyms(own);
    let statics = names.iter().filter_map(|n| {
        broker
            .config
            .overrides
            .get(*n)
            .map(|v| (n.to_string(), Some(v.clone()), SOURCE_STATIC_BROKER))
    });
    let defaults = names.iter().filter_map(|n| {
        broker_config_def(n)
            .and_then(|d| d.default)
            .map(|v| (n.to_string(), Some(v.to_string()), SOURCE_DEFAULT))
    });
    statics
        .chain(defaults)
        .skip_while(|(n, _, _)| n != own)
        .collect()
}

fn topic_entries(
    broker: &Broker,
    overrides: &std::collections::BTreeMap<String, String>,
) -> Vec<Entry> {
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let mut synonyms = d
                .broker_synonym
                .map(|b| broker_synonyms(broker, b))
                .unwrap_or_default();
            let value = match overrides.get(d.name) {
                Some(v) => {
                    synonyms.insert(0, (d.name.to_string(), Some(v.clone()), SOURCE_TOPIC));
                    Some(v.clone())
                }
                None => broker.config.topic_default(d),
            };
            Entry {
                name: d.name,
                value,
                read_only: false,
                kind: d.kind,
                doc: d.doc,
                synonyms,
                no_synonyms: false,
            }
        })
        .collect()
}

fn broker_entries(broker: &Broker) -> Vec<Entry> {
    BROKER_CONFIGS
        .iter()
        .map(|d| Entry {
            name: d.name,
            value: broker
                .config
                .overrides
                .get(d.name)
                .cloned()
                .or_else(|| d.default.map(str::to_string)),
            read_only: true,
            kind: d.kind,
            doc: d.doc,
            synonyms: broker_synonyms(broker, d.name),
            no_synonyms: false,
        })
        .collect()
}

/// A GROUP resource's configs, every one of `config::GROUP_CONFIGS` with its type: an override
/// is the value with source GROUP_CONFIG (the override first among the synonyms), else the
/// broker synonym's value with Kafka's synonym list; a config without a broker synonym and
/// without an override is its default, source DEFAULT_CONFIG, no synonyms.
fn group_entries(
    broker: &Broker,
    overrides: &std::collections::BTreeMap<String, String>,
) -> Vec<Entry> {
    crate::config::GROUP_CONFIGS
        .iter()
        .map(|d| {
            let mut synonyms = d
                .broker_synonym
                .map(|b| broker_synonyms(broker, b))
                .unwrap_or_default();
            if let Some(v) = overrides.get(d.name) {
                synonyms.insert(0, (d.name.to_string(), Some(v.clone()), SOURCE_GROUP));
            }
            Entry {
                name: d.name,
                value: crate::config::group_config_value(&broker.config, Some(overrides), d.name),
                read_only: false,
                kind: d.kind,
                doc: d.doc,
                synonyms,
                no_synonyms: false,
            }
        })
        .collect()
}

/// A CLIENT_METRICS resource's configs, as Kafka describes them: only those set (no
/// defaults), source CLIENT_METRICS_CONFIG, no synonyms; an unknown subscription has none.
fn client_metrics_entries(configs: std::collections::BTreeMap<String, String>) -> Vec<Entry> {
    use crate::telemetry::config::{INTERVAL_MS, NAMES};
    configs
        .into_iter()
        .filter_map(|(k, v)| {
            let name = NAMES.iter().copied().find(|n| *n == k)?;
            Some(Entry {
                name,
                value: Some(v.clone()),
                read_only: false,
                kind: if name == INTERVAL_MS {
                    ConfigType::Int
                } else {
                    ConfigType::List
                },
                doc: match name {
                    INTERVAL_MS => "Push interval in milliseconds",
                    "metrics" => "Subscription metrics list",
                    _ => "Client match pattern list",
                },
                synonyms: vec![(k, Some(v), SOURCE_CLIENT_METRICS)],
                no_synonyms: true,
            })
        })
        .collect()
}

/// The configs of one resource, or its error code and message.
fn describe(
    broker: &Broker,
    r: &DescribeConfigsResource,
) -> Result<Vec<Entry>, (i16, Option<String>)> {
    let name = r.resource_name.as_str();
    let invalid = |m: String| (ResponseError::InvalidRequest.code(), Some(m));
    match r.resource_type {
        RESOURCE_TOPIC => {
            validate_topic_name(name).map_err(|e: TopicError| {
                (
                    ResponseError::InvalidTopicException.code(),
                    Some(e.to_string()),
                )
            })?;
            let topic = broker
                .topic(name)
                .ok_or((ResponseError::UnknownTopicOrPartition.code(), None))?;
            Ok(topic_entries(broker, &topic.configs))
        }
        RESOURCE_BROKER if name.is_empty() => Ok(Vec::new()),
        RESOURCE_BROKER => match name.parse::<i32>() {
            Ok(id) if id == broker.config.node_id => Ok(broker_entries(broker)),
            Ok(_) => Err(invalid(format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                broker.config.node_id
            ))),
            Err(_) => Err(invalid(format!(
                "Broker id must be an integer, but it is: {name}"
            ))),
        },
        RESOURCE_GROUP if name.is_empty() => Err(invalid("Group name must not be empty.".into())),
        RESOURCE_GROUP => Ok(group_entries(broker, &broker.group_configs(name))),
        RESOURCE_CLIENT_METRICS if name.is_empty() => Err(invalid(
            "Client metrics subscription name must not be empty".into(),
        )),
        RESOURCE_CLIENT_METRICS => Ok(client_metrics_entries(
            broker
                .all_client_metrics_configs()
                .get(name)
                .cloned()
                .unwrap_or_default(),
        )),
        RESOURCE_BROKER_LOGGER => Err(invalid(
            "Unsupported resource type: BROKER_LOGGER (broker loggers are not configurable)".into(),
        )),
        other => Err(invalid(format!("Unsupported resource type: {other}"))),
    }
}

fn to_wire(e: Entry, include_synonyms: bool, include_doc: bool) -> DescribeConfigsResourceResult {
    let source = e.synonyms.first().map_or(SOURCE_DEFAULT, |s| s.2);
    let sensitive = e.kind == ConfigType::Password;
    let synonyms = if include_synonyms && !e.no_synonyms {
        e.synonyms
            .into_iter()
            .map(|(n, v, s)| {
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_string(n))
                    .with_value(if sensitive {
                        None
                    } else {
                        v.map(StrBytes::from_string)
                    })
                    .with_source(s)
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_static_str(e.name))
        .with_value(if sensitive {
            None
        } else {
            e.value.map(StrBytes::from_string)
        })
        .with_read_only(e.read_only)
        .with_config_source(source)
        .with_is_sensitive(sensitive)
        .with_synonyms(synonyms)
        .with_config_type(e.kind.as_i8())
        .with_documentation(include_doc.then(|| StrBytes::from_static_str(e.doc)))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    // v0 (removed by KIP-896): no include_synonyms, and `is_default` instead of the source.
    let body: DescribeConfigsRequest = if req.version == 0 {
        crate::protocol::legacy::requests::describe_configs(&req.body).map_err(|e| {
            FrameError::Malformed {
                api: ApiKey::DescribeConfigs,
                version: 0,
                reason: e.to_string(),
            }
        })?
    } else {
        req.decode(ApiKey::DescribeConfigs)?
    };
    // Kafka: DESCRIBE_CONFIGS on the topic, the group or the cluster.
    let az = super::authz::authz(broker, &req);
    let results = body
        .resources
        .iter()
        .map(|r| {
            let base = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let denied = az.config_resource_error(
                crate::security::acl::AclOperation::DescribeConfigs,
                r.resource_type,
                r.resource_name.as_str(),
            );
            let described = match denied {
                Some(code) => Err((code, None)),
                None => describe(broker, r),
            };
            match described {
                Ok(entries) => {
                    let wanted = r.configuration_keys.as_ref().filter(|k| !k.is_empty());
                    let configs = entries
                        .into_iter()
                        .filter(|e| wanted.is_none_or(|k| k.iter().any(|n| n.as_str() == e.name)))
                        .map(|e| to_wire(e, body.include_synonyms, body.include_documentation))
                        .collect();
                    base.with_error_code(0).with_configs(configs)
                }
                Err((code, message)) => base
                    .with_error_code(code)
                    .with_error_message(message.map(StrBytes::from_string)),
            }
        })
        .collect();
    let resp = DescribeConfigsResponse::default()
        .with_throttle_time_ms(0)
        .with_results(results);
    if req.version == 0 {
        let corr = req.header.correlation_id;
        return Ok(crate::protocol::legacy::responses::describe_configs(
            corr, &resp,
        ));
    }
    req.respond(&resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BrokerConfig, ConfigSources};

    fn broker_with(sets: &[&str]) -> (tempfile::TempDir, Arc<Broker>) {
        let tmp = tempfile::tempdir().unwrap();
        let mut s: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        s.push(format!("log.dirs={}", tmp.path().display()));
        let config = BrokerConfig::from_sources(&ConfigSources {
            sets: s,
            ..Default::default()
        })
        .unwrap();
        let b = Broker::open(config, "test-cluster").unwrap();
        (tmp, b)
    }

    fn find<'a>(v: &'a [Entry], name: &str) -> &'a Entry {
        v.iter().find(|e| e.name == name).unwrap()
    }

    #[test]
    fn topic_sources_and_synonyms_follow_kafka() {
        let (_tmp, b) = broker_with(&["log.segment.bytes=2048", "log.retention.hours=1"]);
        let mut o = std::collections::BTreeMap::new();
        o.insert("max.message.bytes".to_string(), "5000".to_string());
        let e = topic_entries(&b, &o);
        let seg = find(&e, "segment.bytes");
        assert_eq!(seg.value.as_deref(), Some("2048"));
        assert_eq!(
            seg.synonyms,
            vec![
                ("log.segment.bytes".into(), Some("2048".into()), 4),
                ("log.segment.bytes".into(), Some("1073741824".into()), 5)
            ]
        );
        let ret = find(&e, "retention.ms");
        assert_eq!(ret.value.as_deref(), Some("3600000"));
        assert!(ret.synonyms.is_empty(), "{:?}", ret.synonyms);
        let mmb = find(&e, "max.message.bytes");
        assert_eq!(
            mmb.synonyms[0],
            ("max.message.bytes".into(), Some("5000".into()), 1)
        );
        assert_eq!(mmb.synonyms[1].2, 5);
    }

    #[test]
    fn group_entries_list_every_group_config_with_type_value_and_source() {
        let (_tmp, b) = broker_with(&["group.share.delivery.count.limit=4"]);
        let mut o = std::collections::BTreeMap::new();
        o.insert(
            "share.auto.offset.reset".to_string(),
            "earliest".to_string(),
        );
        o.insert(
            "share.record.lock.duration.ms".to_string(),
            "20000".to_string(),
        );
        let e = group_entries(&b, &o);
        let got: Vec<(&str, Option<&str>, i8, i8)> = e
            .iter()
            .map(|e| {
                (
                    e.name,
                    e.value.as_deref(),
                    e.synonyms.first().map_or(SOURCE_DEFAULT, |s| s.2),
                    e.kind.as_i8(),
                )
            })
            .collect();
        let (int, string, boolean, list) = (3, 2, 1, 7);
        assert_eq!(
            got,
            vec![
                (
                    "consumer.session.timeout.ms",
                    Some("45000"),
                    SOURCE_DEFAULT,
                    int
                ),
                (
                    "consumer.heartbeat.interval.ms",
                    Some("5000"),
                    SOURCE_DEFAULT,
                    int
                ),
                (
                    "share.session.timeout.ms",
                    Some("45000"),
                    SOURCE_DEFAULT,
                    int
                ),
                (
                    "share.heartbeat.interval.ms",
                    Some("5000"),
                    SOURCE_DEFAULT,
                    int
                ),
                (
                    "share.record.lock.duration.ms",
                    Some("20000"),
                    SOURCE_GROUP,
                    int
                ),
                (
                    "share.delivery.count.limit",
                    Some("4"),
                    SOURCE_STATIC_BROKER,
                    int
                ),
                (
                    "share.partition.max.record.locks",
                    Some("2000"),
                    SOURCE_DEFAULT,
                    int
                ),
                (
                    "share.auto.offset.reset",
                    Some("earliest"),
                    SOURCE_GROUP,
                    string
                ),
                (
                    "share.isolation.level",
                    Some("read_uncommitted"),
                    SOURCE_DEFAULT,
                    string
                ),
                (
                    "errors.deadletterqueue.topic.name",
                    Some(""),
                    SOURCE_DEFAULT,
                    string
                ),
                (
                    "errors.deadletterqueue.copy.record.enable",
                    Some("false"),
                    SOURCE_DEFAULT,
                    boolean
                ),
                (
                    "skua.share.redelivery.backoff.ms",
                    Some(""),
                    SOURCE_DEFAULT,
                    list
                ),
                (
                    "skua.share.delayed.delivery.enable",
                    Some("false"),
                    SOURCE_DEFAULT,
                    boolean
                ),
                ("skua.share.record.filter", Some(""), SOURCE_DEFAULT, string),
            ]
        );
        let syn = |name: &str| {
            find(&e, name)
                .synonyms
                .iter()
                .map(|(n, v, s)| (n.as_str(), v.as_deref(), *s))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            syn("share.record.lock.duration.ms"),
            vec![
                ("share.record.lock.duration.ms", Some("20000"), SOURCE_GROUP),
                (
                    "group.share.record.lock.duration.ms",
                    Some("30000"),
                    SOURCE_DEFAULT
                ),
            ]
        );
        assert_eq!(
            syn("share.delivery.count.limit"),
            vec![
                (
                    "group.share.delivery.count.limit",
                    Some("4"),
                    SOURCE_STATIC_BROKER
                ),
                (
                    "group.share.delivery.count.limit",
                    Some("5"),
                    SOURCE_DEFAULT
                ),
            ]
        );
        assert_eq!(
            syn("share.auto.offset.reset"),
            vec![("share.auto.offset.reset", Some("earliest"), SOURCE_GROUP)]
        );
        assert_eq!(syn("share.isolation.level"), vec![]);
    }
}
