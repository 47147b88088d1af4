//! The topic pages: the list (partitions, size, a message count estimate), one topic's
//! partitions (offsets, size, leader, replicas, ISR), its configs, and the writes — create,
//! delete, config edits — each through the Kafka API a client would use (CreateTopics,
//! DeleteTopics, IncrementalAlterConfigs), so Kafka's validation and errors apply.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest,
};
use serde_json::{json, Value};

use super::api::{
    check, log_sizes, metadata, non_empty, offset_ranges, str_bytes, topic_name, ApiError, Ctx,
};

/// DescribeConfigs' resource type of a topic.
const RESOURCE_TOPIC: i8 = 2;
/// How long CreateTopics / DeleteTopics wait for the controller.
const ADMIN_TIMEOUT_MS: i32 = 30_000;
/// How long a write waits to be visible on this broker (the controller has committed it;
/// this broker applies the metadata a moment later), so the next page shows it.
const SETTLE: Duration = Duration::from_secs(5);
const SETTLE_STEP: Duration = Duration::from_millis(25);

/// `GET /api/topics`.
pub async fn list(ctx: &Ctx, internal: bool) -> Result<Value, ApiError> {
    let md = metadata(ctx, None).await?;
    let mut parts = Vec::new();
    for t in md.topics.iter().filter(|t| t.error_code == 0) {
        let name = t.name.as_ref().map(|n| n.0.as_str()).unwrap_or_default();
        for p in &t.partitions {
            parts.push((name.to_string(), p.partition_index));
        }
    }
    let ranges = offset_ranges(ctx, &parts).await?;
    let sizes = log_sizes(ctx, None).await?;
    let mut out = Vec::new();
    for t in md.topics.iter().filter(|t| t.error_code == 0) {
        if t.is_internal && !internal {
            continue;
        }
        let name = t.name.as_ref().map(|n| n.0.as_str()).unwrap_or_default();
        let (mut messages, mut size, mut under, mut offline) = (0i64, 0i64, 0, 0);
        for p in &t.partitions {
            let key = (name.to_string(), p.partition_index);
            if let Some((s, e)) = ranges.get(&key) {
                messages += e - s;
            }
            size += sizes
                .as_ref()
                .and_then(|m| m.get(&key))
                .copied()
                .unwrap_or(0);
            if p.isr_nodes.len() < p.replica_nodes.len() {
                under += 1;
            }
            if p.leader_id.0 < 0 {
                offline += 1;
            }
        }
        out.push(json!({
            "name": name,
            "topic_id": t.topic_id.to_string(),
            "internal": t.is_internal,
            "partitions": t.partitions.len(),
            "replication_factor": t.partitions.iter().map(|p| p.replica_nodes.len()).max().unwrap_or(0),
            "messages": messages,
            "size_bytes": sizes.is_some().then_some(size),
            "under_replicated_partitions": under,
            "offline_partitions": offline,
        }));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Value::Array(out))
}

/// A config value from JSON: a string, or a number or boolean written as Kafka would.
fn config_value(name: &str, v: &Value) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ApiError::bad_request(format!(
            "the value of config {name} must be a string, a number or a boolean"
        ))),
    }
}

fn int_field(body: &Value, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_i64()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be an integer from {min} to {max}"))
            }),
    }
}

/// `POST /api/topics` with `{"name", "partitions"?, "replication_factor"?, "configs"?:
/// {name: value}, "validate_only"?}` (partitions and replication factor default to the
/// broker's defaults).
pub async fn create(ctx: &Ctx, body: &Value) -> Result<Value, ApiError> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("name (a string) is required"))?;
    let partitions = int_field(body, "partitions", -1, -1, i64::from(i32::MAX))?;
    let rf = int_field(body, "replication_factor", -1, -1, i64::from(i16::MAX))?;
    let mut configs = Vec::new();
    match body.get("configs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                configs.push(
                    CreatableTopicConfig::default()
                        .with_name(str_bytes(k))
                        .with_value(Some(str_bytes(&config_value(k, v)?))),
                );
            }
        }
        Some(_) => return Err(ApiError::bad_request("configs must be an object")),
    }
    let validate_only = body
        .get("validate_only")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(ADMIN_TIMEOUT_MS)
        .with_validate_only(validate_only)
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(name))
            .with_num_partitions(partitions as i32)
            .with_replication_factor(rf as i16)
            .with_configs(configs)]);
    let resp = ctx.call(7, req).await?;
    let r = resp
        .topics
        .first()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "CreateTopics answered no topic"))?;
    check(
        r.error_code,
        r.error_message.as_ref(),
        &format!("create topic {name}"),
    )?;
    if !validate_only {
        settle(|| async {
            let md = metadata(ctx, Some(&[name])).await?;
            Ok(md.topics.first().is_some_and(|t| {
                t.error_code == 0 && t.partitions.iter().all(|p| p.leader_id.0 >= 0)
            }))
        })
        .await?;
    }
    Ok(json!({
        "name": name,
        "topic_id": r.topic_id.to_string(),
        "partitions": r.num_partitions,
        "replication_factor": r.replication_factor,
        "validate_only": validate_only,
    }))
}

/// `DELETE /api/topics/NAME`.
pub async fn delete(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    non_empty(name, "the topic name")?;
    let req = DeleteTopicsRequest::default()
        .with_timeout_ms(ADMIN_TIMEOUT_MS)
        .with_topics(vec![
            DeleteTopicState::default().with_name(Some(topic_name(name)))
        ]);
    let resp = ctx.call(6, req).await?;
    let r = resp
        .responses
        .first()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "DeleteTopics answered no topic"))?;
    check(
        r.error_code,
        r.error_message.as_ref(),
        &format!("delete topic {name}"),
    )?;
    settle(|| async {
        let md = metadata(ctx, Some(&[name])).await?;
        Ok(md.topics.first().is_none_or(|t| t.error_code != 0))
    })
    .await?;
    Ok(json!({ "deleted": name }))
}

/// `GET /api/topics/NAME`: the topic and its partitions.
pub async fn describe(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    non_empty(name, "the topic name")?;
    let md = metadata(ctx, Some(&[name])).await?;
    let t = md
        .topics
        .first()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "Metadata answered no topic"))?;
    check(t.error_code, None, &format!("topic {name}"))?;
    let parts: Vec<(String, i32)> = t
        .partitions
        .iter()
        .map(|p| (name.to_string(), p.partition_index))
        .collect();
    let ranges = offset_ranges(ctx, &parts).await?;
    let ids: Vec<i32> = parts.iter().map(|(_, p)| *p).collect();
    let sizes = log_sizes(ctx, Some(&[(name.to_string(), ids)])).await?;
    let mut partitions: Vec<Value> = t
        .partitions
        .iter()
        .map(|p| {
            let key = (name.to_string(), p.partition_index);
            let range = ranges.get(&key);
            json!({
                "partition": p.partition_index,
                "leader": p.leader_id.0,
                "leader_epoch": p.leader_epoch,
                "replicas": p.replica_nodes.iter().map(|b| b.0).collect::<Vec<_>>(),
                "isr": p.isr_nodes.iter().map(|b| b.0).collect::<Vec<_>>(),
                "offline_replicas": p.offline_replicas.iter().map(|b| b.0).collect::<Vec<_>>(),
                "log_start_offset": range.map(|r| r.0),
                "log_end_offset": range.map(|r| r.1),
                "messages": range.map(|r| r.1 - r.0),
                "size_bytes": sizes.as_ref().and_then(|m| m.get(&key)),
                "error": (p.error_code != 0).then(|| super::api::error_name(p.error_code)),
            })
        })
        .collect();
    partitions.sort_by_key(|p| p["partition"].as_i64());
    let messages: i64 = partitions
        .iter()
        .filter_map(|p| p["messages"].as_i64())
        .sum();
    let size: i64 = partitions
        .iter()
        .filter_map(|p| p["size_bytes"].as_i64())
        .sum();
    Ok(json!({
        "name": name,
        "topic_id": t.topic_id.to_string(),
        "internal": t.is_internal,
        "messages": messages,
        "size_bytes": sizes.is_some().then_some(size),
        "partitions": partitions,
    }))
}

fn type_name(t: i8) -> &'static str {
    match t {
        1 => "BOOLEAN",
        2 => "STRING",
        3 => "INT",
        4 => "SHORT",
        5 => "LONG",
        6 => "DOUBLE",
        7 => "LIST",
        8 => "CLASS",
        9 => "PASSWORD",
        _ => "UNKNOWN",
    }
}

/// `GET /api/topics/NAME/configs`: every config (DescribeConfigs), with its source.
pub async fn configs(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    non_empty(name, "the topic name")?;
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(false)
        .with_include_documentation(true)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(RESOURCE_TOPIC)
            .with_resource_name(str_bytes(name))
            .with_configuration_keys(None)]);
    let resp = ctx.call(4, req).await?;
    let r = resp
        .results
        .first()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "DescribeConfigs answered nothing"))?;
    check(
        r.error_code,
        r.error_message.as_ref(),
        &format!("configs of topic {name}"),
    )?;
    let mut out: Vec<Value> = r
        .configs
        .iter()
        .map(|c| {
            json!({
                "name": c.name.as_str(),
                "value": c.value.as_ref().map(|v| v.as_str()),
                "source": crate::http::kafka::config_source_name(c.config_source),
                "is_default": c.config_source == 5,
                "read_only": c.read_only,
                "sensitive": c.is_sensitive,
                "type": type_name(c.config_type),
                "doc": c.documentation.as_ref().map(|d| d.as_str()),
            })
        })
        .collect();
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Value::Array(out))
}

/// `PUT /api/topics/NAME/configs` with `{"set"?: {name: value}, "delete"?: [name],
/// "validate_only"?}` (IncrementalAlterConfigs: SET and DELETE, which resets to the
/// default). Answers the configs after the change.
pub async fn alter_configs(ctx: &Ctx, name: &str, body: &Value) -> Result<Value, ApiError> {
    non_empty(name, "the topic name")?;
    let mut ops: BTreeMap<String, (i8, Option<String>)> = BTreeMap::new();
    match body.get("set") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                ops.insert(k.clone(), (0, Some(config_value(k, v)?)));
            }
        }
        Some(_) => return Err(ApiError::bad_request("set must be an object")),
    }
    match body.get("delete") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for k in a {
                let k = k
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request("delete must list config names"))?;
                if ops.insert(k.to_string(), (1, None)).is_some() {
                    return Err(ApiError::bad_request(format!(
                        "config {k} is both set and deleted"
                    )));
                }
            }
        }
        Some(_) => return Err(ApiError::bad_request("delete must be an array")),
    }
    if ops.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: give set and/or delete",
        ));
    }
    let validate_only = body
        .get("validate_only")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let req = IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(RESOURCE_TOPIC)
            .with_resource_name(str_bytes(name))
            .with_configs(
                ops.iter()
                    .map(|(k, (op, v))| {
                        AlterableConfig::default()
                            .with_name(str_bytes(k))
                            .with_config_operation(*op)
                            .with_value(v.as_deref().map(str_bytes))
                    })
                    .collect(),
            )]);
    let resp = ctx.call(1, req).await?;
    let r = resp.responses.first().ok_or_else(|| {
        ApiError::new(500, "INTERNAL", "IncrementalAlterConfigs answered nothing")
    })?;
    check(
        r.error_code,
        r.error_message.as_ref(),
        &format!("alter configs of topic {name}"),
    )?;
    let mut now = configs(ctx, name).await?;
    if !validate_only {
        let deadline = tokio::time::Instant::now() + SETTLE;
        while !applied(&now, &ops) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(SETTLE_STEP).await;
            now = configs(ctx, name).await?;
        }
    }
    Ok(json!({
        "validate_only": validate_only,
        "configs": now,
    }))
}

/// Whether the configs show the edit: set values, deleted ones no longer the topic's own.
fn applied(configs: &Value, ops: &BTreeMap<String, (i8, Option<String>)>) -> bool {
    let list = configs.as_array().map(Vec::as_slice).unwrap_or_default();
    ops.iter().all(|(name, (op, value))| {
        let c = list.iter().find(|c| c["name"] == name.as_str());
        match (op, c) {
            (0, Some(c)) => c["value"].as_str() == value.as_deref(),
            (_, Some(c)) => c["source"] != "DYNAMIC_TOPIC_CONFIG",
            // A config DescribeConfigs does not list: nothing to wait for.
            (_, None) => true,
        }
    })
}

/// Poll `check` until it holds or [`SETTLE`] passes (then answer anyway: the write is
/// committed, only this broker's view lags).
pub(super) async fn settle<F, Fut>(check: F) -> Result<(), ApiError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, ApiError>>,
{
    let deadline = tokio::time::Instant::now() + SETTLE;
    while !check().await? && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(SETTLE_STEP).await;
    }
    Ok(())
}
