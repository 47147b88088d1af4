//! `skua topic create|list|describe|delete|alter-config`.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, ListOffsetsRequest,
};

use super::client::{check, str_bytes, topic_name, Cluster};
use super::output::{emit, ids, table, Json};
use super::{parse_kv, Common, Output};

/// ConfigResource type of a topic.
const RESOURCE_TOPIC: i8 = 2;
/// ListOffsets timestamps.
pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    /// Number of partitions (default: the broker's num.partitions).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replication factor (default: the broker's default.replication.factor).
    #[arg(long)]
    pub replication_factor: Option<i16>,
    /// Topic config override, e.g. --config retention.ms=60000 (repeatable).
    #[arg(long = "config", value_name = "NAME=VALUE")]
    pub config: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Also list internal topics (__consumer_offsets, ...).
    #[arg(long)]
    pub include_internal: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    pub name: String,
    /// Show every config with its value, not only the topic's overrides.
    #[arg(long)]
    pub all_configs: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    pub name: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct AlterConfigArgs {
    pub name: String,
    /// Set a config override (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Remove a config override, back to the default (repeatable).
    #[arg(long = "delete", value_name = "NAME")]
    pub delete: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

/// One partition as Metadata describes it.
#[derive(Debug, Clone)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// A topic's partitions (sorted), or the topic's error (e.g. UNKNOWN_TOPIC_OR_PARTITION).
pub fn partitions(cluster: &mut Cluster, topic: &str) -> Result<Vec<PartitionInfo>> {
    let md = cluster.metadata(Some(&[topic]))?;
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))
        .ok_or_else(|| anyhow!("topic {topic}: not in metadata"))?;
    check(t.error_code, None, &format!("topic {topic}"))?;
    let mut parts: Vec<PartitionInfo> = t
        .partitions
        .iter()
        .map(|p| PartitionInfo {
            partition: p.partition_index,
            leader: p.leader_id.0,
            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
        })
        .collect();
    parts.sort_by_key(|p| p.partition);
    Ok(parts)
}

/// ListOffsets at `timestamp` (EARLIEST/LATEST) for partitions, asking each leader.
pub fn list_offsets(
    cluster: &mut Cluster,
    topic: &str,
    parts: &[PartitionInfo],
    timestamp: i64,
) -> Result<HashMap<i32, i64>> {
    let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in parts {
        by_leader.entry(p.leader).or_default().push(p.partition);
    }
    let mut out = HashMap::new();
    for (leader, ps) in by_leader {
        let conn = cluster.node(leader)?;
        let v = conn.version::<ListOffsetsRequest>(1, 9)?;
        let mut t = ListOffsetsTopic::default();
        t.name = topic_name(topic);
        t.partitions = ps
            .iter()
            .map(|&p| {
                let mut lp = ListOffsetsPartition::default();
                lp.partition_index = p;
                lp.timestamp = timestamp;
                lp.current_leader_epoch = -1;
                lp
            })
            .collect();
        let mut req = ListOffsetsRequest::default();
        req.replica_id = kafka_protocol::messages::BrokerId(-1);
        req.topics = vec![t];
        let resp = conn.call(v, &req)?;
        for t in resp.topics {
            for p in t.partitions {
                check(
                    p.error_code,
                    None,
                    &format!("ListOffsets {topic}-{}", p.partition_index),
                )?;
                out.insert(p.partition_index, p.offset);
            }
        }
    }
    Ok(out)
}

pub fn create(a: CreateArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let conn = cluster.controller()?;
    let v = conn.version::<CreateTopicsRequest>(2, 7)?;
    let mut t = CreatableTopic::default();
    t.name = topic_name(&a.name);
    // -1 asks for the broker's defaults (v4+); older brokers need explicit values.
    t.num_partitions = a.partitions.unwrap_or(if v >= 4 { -1 } else { 1 });
    t.replication_factor = a.replication_factor.unwrap_or(if v >= 4 { -1 } else { 1 });
    for kv in &a.config {
        let (k, val) = parse_kv(kv)?;
        let mut c = CreatableTopicConfig::default();
        c.name = str_bytes(&k);
        c.value = Some(str_bytes(&val));
        t.configs.push(c);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 30_000;
    let resp = conn.call(v, &req)?;
    let r = resp
        .topics
        .first()
        .ok_or_else(|| anyhow!("CreateTopics: empty answer"))?;
    check(
        r.error_code,
        r.error_message.as_ref(),
        &format!("create topic {}", a.name),
    )?;
    match a.common.output {
        Output::Table => emit(&format!("created topic {}\n", a.name)),
        Output::Json => emit(&format!(
            "{}\n",
            Json::obj(vec![("created", Json::str(&a.name))]).render()
        )),
    }
}

pub fn list(a: ListArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let md = cluster.metadata(None)?;
    let mut rows: Vec<(String, usize)> = md
        .topics
        .iter()
        .filter(|t| a.include_internal || !t.is_internal)
        .filter_map(|t| {
            t.name
                .as_ref()
                .map(|n| (n.as_str().to_string(), t.partitions.len()))
        })
        .collect();
    rows.sort();
    match a.common.output {
        Output::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|(n, p)| vec![n.clone(), p.to_string()])
                .collect();
            emit(&table(&["TOPIC", "PARTITIONS"], &cells))
        }
        Output::Json => {
            let items = rows
                .iter()
                .map(|(n, p)| {
                    Json::obj(vec![
                        ("name", Json::str(n)),
                        ("partitions", Json::Int(*p as i64)),
                    ])
                })
                .collect();
            emit(&format!("{}\n", Json::Arr(items).render()))
        }
    }
}

/// The topic's configs: (name, value, is an override) in broker order; empty if the broker
/// does not serve DescribeConfigs.
fn describe_configs(
    cluster: &mut Cluster,
    topic: &str,
) -> Result<Vec<(String, Option<String>, bool)>> {
    let conn = cluster.bootstrap();
    if !conn.serves(ApiKey::DescribeConfigs) {
        return Ok(Vec::new());
    }
    let v = conn.version::<DescribeConfigsRequest>(1, 4)?;
    let mut r = DescribeConfigsResource::default();
    r.resource_type = RESOURCE_TOPIC;
    r.resource_name = str_bytes(topic);
    r.configuration_keys = None;
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![r];
    let resp = conn.call(v, &req)?;
    let mut out = Vec::new();
    for res in resp.results {
        check(
            res.error_code,
            res.error_message.as_ref(),
            &format!("describe configs of {topic}"),
        )?;
        for c in res.configs {
            // config_source 1 = DYNAMIC_TOPIC_CONFIG: a per-topic override.
            out.push((
                c.name.as_str().to_string(),
                c.value.as_ref().map(|v| v.as_str().to_string()),
                c.config_source == 1,
            ));
        }
    }
    Ok(out)
}

pub fn describe(a: DescribeArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let parts = partitions(&mut cluster, &a.name)?;
    let start = list_offsets(&mut cluster, &a.name, &parts, EARLIEST)?;
    let end = list_offsets(&mut cluster, &a.name, &parts, LATEST)?;
    let mut configs: Vec<(String, Option<String>)> = describe_configs(&mut cluster, &a.name)?
        .into_iter()
        .filter(|(_, _, is_override)| a.all_configs || *is_override)
        .map(|(k, v, _)| (k, v))
        .collect();
    configs.sort();
    let rf = parts.first().map(|p| p.replicas.len()).unwrap_or(0);
    let off = |m: &HashMap<i32, i64>, p: i32| m.get(&p).copied().unwrap_or(-1);
    match a.common.output {
        Output::Table => {
            let mut s = format!(
                "topic: {}\npartitions: {}\nreplication factor: {rf}\n",
                a.name,
                parts.len()
            );
            let cfg: Vec<String> = configs
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
                .collect();
            if cfg.is_empty() {
                s.push_str("configs: (none)\n");
            } else {
                s.push_str(&format!("configs: {}\n", cfg.join(", ")));
            }
            s.push('\n');
            let rows: Vec<Vec<String>> = parts
                .iter()
                .map(|p| {
                    vec![
                        p.partition.to_string(),
                        p.leader.to_string(),
                        ids(&p.replicas),
                        ids(&p.isr),
                        off(&start, p.partition).to_string(),
                        off(&end, p.partition).to_string(),
                    ]
                })
                .collect();
            s.push_str(&table(
                &[
                    "PARTITION",
                    "LEADER",
                    "REPLICAS",
                    "ISR",
                    "LOG-START-OFFSET",
                    "LOG-END-OFFSET",
                ],
                &rows,
            ));
            emit(&s)
        }
        Output::Json => {
            let ps = parts
                .iter()
                .map(|p| {
                    Json::obj(vec![
                        ("partition", Json::Int(p.partition.into())),
                        ("leader", Json::Int(p.leader.into())),
                        ("replicas", Json::ints(&p.replicas)),
                        ("isr", Json::ints(&p.isr)),
                        ("log_start_offset", Json::Int(off(&start, p.partition))),
                        ("log_end_offset", Json::Int(off(&end, p.partition))),
                    ])
                })
                .collect();
            let cfg = configs
                .into_iter()
                .map(|(k, v)| (k, v.map(Json::Str).unwrap_or(Json::Null)))
                .collect();
            let j = Json::obj(vec![
                ("name", Json::str(&a.name)),
                ("replication_factor", Json::Int(rf as i64)),
                ("partitions", Json::Arr(ps)),
                ("configs", Json::Obj(cfg)),
            ]);
            emit(&format!("{}\n", j.render()))
        }
    }
}

pub fn delete(a: DeleteArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let conn = cluster.controller()?;
    let v = conn.version::<DeleteTopicsRequest>(1, 6)?;
    let mut req = DeleteTopicsRequest::default();
    if v >= 6 {
        let mut t = DeleteTopicState::default();
        t.name = Some(topic_name(&a.name));
        req.topics = vec![t];
    } else {
        req.topic_names = vec![topic_name(&a.name)];
    }
    req.timeout_ms = 30_000;
    let resp = conn.call(v, &req)?;
    let r = resp
        .responses
        .first()
        .ok_or_else(|| anyhow!("DeleteTopics: empty answer"))?;
    check(
        r.error_code,
        r.error_message.as_ref(),
        &format!("delete topic {}", a.name),
    )?;
    match a.common.output {
        Output::Table => emit(&format!("deleted topic {}\n", a.name)),
        Output::Json => emit(&format!(
            "{}\n",
            Json::obj(vec![("deleted", Json::str(&a.name))]).render()
        )),
    }
}

pub fn alter_config(a: AlterConfigArgs) -> Result<()> {
    if a.set.is_empty() && a.delete.is_empty() {
        bail!("nothing to change: give --set NAME=VALUE and/or --delete NAME");
    }
    let mut configs = Vec::new();
    for kv in &a.set {
        let (k, v) = parse_kv(kv)?;
        let mut c = AlterableConfig::default();
        c.name = str_bytes(&k);
        c.config_operation = 0; // SET
        c.value = Some(str_bytes(&v));
        configs.push(c);
    }
    for k in &a.delete {
        let mut c = AlterableConfig::default();
        c.name = str_bytes(k);
        c.config_operation = 1; // DELETE
        c.value = None;
        configs.push(c);
    }
    let mut cluster = a.common.connect()?;
    let conn = cluster.bootstrap();
    let v = conn.version::<IncrementalAlterConfigsRequest>(0, 1)?;
    let mut r = AlterConfigsResource::default();
    r.resource_type = RESOURCE_TOPIC;
    r.resource_name = str_bytes(&a.name);
    r.configs = configs;
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![r];
    let resp = conn.call(v, &req)?;
    for r in &resp.responses {
        check(
            r.error_code,
            r.error_message.as_ref(),
            &format!("alter config of topic {}", a.name),
        )?;
    }
    match a.common.output {
        Output::Table => emit(&format!("altered config of topic {}\n", a.name)),
        Output::Json => emit(&format!(
            "{}\n",
            Json::obj(vec![("altered", Json::str(&a.name))]).render()
        )),
    }
}
