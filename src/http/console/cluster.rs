//! The overview page: the cluster as Metadata and DescribeCluster describe it, and the
//! broker's own traffic counters (cumulative: the app samples them and draws rates).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use kafka_protocol::messages::DescribeClusterRequest;
use serde_json::{json, Value};

use super::api::{check, metadata, ApiError, Ctx};
use crate::api::APIS;
use crate::cluster::now_ms;
use crate::metrics;

/// `GET /api/cluster`.
pub async fn overview(ctx: &Ctx) -> Result<Value, ApiError> {
    let md = metadata(ctx, None).await?;
    let dc = ctx
        .call(
            2,
            DescribeClusterRequest::default()
                .with_include_cluster_authorized_operations(false)
                .with_include_fenced_brokers(true),
        )
        .await?;
    check(dc.error_code, dc.error_message.as_ref(), "DescribeCluster")?;
    let mut brokers: Vec<Value> = dc
        .brokers
        .iter()
        .map(|b| {
            json!({
                "id": b.broker_id.0,
                "host": b.host.as_str(),
                "port": b.port,
                "rack": b.rack.as_ref().map(|r| r.as_str()),
                "fenced": b.is_fenced,
                "controller": b.broker_id.0 == dc.controller_id.0,
            })
        })
        .collect();
    brokers.sort_by_key(|b| b["id"].as_i64());
    let (mut topics, mut internal, mut partitions, mut under, mut offline) = (0, 0, 0, 0, 0);
    let mut leaders: BTreeMap<i32, usize> = BTreeMap::new();
    for t in md.topics.iter().filter(|t| t.error_code == 0) {
        if t.is_internal {
            internal += 1;
        } else {
            topics += 1;
        }
        for p in &t.partitions {
            partitions += 1;
            if p.leader_id.0 < 0 {
                offline += 1;
            } else {
                *leaders.entry(p.leader_id.0).or_default() += 1;
            }
            if p.isr_nodes.len() < p.replica_nodes.len() {
                under += 1;
            }
        }
    }
    for b in brokers.iter_mut() {
        let id = b["id"].as_i64().and_then(|i| i32::try_from(i).ok());
        let led = id.and_then(|i| leaders.get(&i)).copied().unwrap_or(0);
        b["leader_partitions"] = json!(led);
    }
    Ok(json!({
        "cluster_id": dc.cluster_id.as_str(),
        "controller_id": dc.controller_id.0,
        "node_id": ctx.broker.config.node_id,
        "version": env!("CARGO_PKG_VERSION"),
        "brokers": brokers,
        "topics": topics,
        "internal_topics": internal,
        "partitions": partitions,
        "under_replicated_partitions": under,
        "offline_partitions": offline,
    }))
}

/// `GET /api/metrics`: this broker's counters now — bytes and records produced, bytes
/// fetched (consumers, followers and the console itself), requests served — in total and
/// per topic, for partitions hosted here. Counters only grow (until a restart, or a topic
/// is deleted); the app divides the differences of two samples by the time between them.
pub fn metrics(ctx: &Ctx) -> Value {
    let (mut bytes_in, mut records_in, mut bytes_out) = (0u64, 0u64, 0u64);
    let mut per_topic = serde_json::Map::new();
    for topic in ctx.broker.all_topics() {
        let (mut bi, mut ri, mut bo) = (0u64, 0u64, 0u64);
        for p in topic.hosted() {
            bi += p.stats.bytes_in.load(Relaxed);
            ri += p.stats.records_in.load(Relaxed);
            bo += p.stats.bytes_out.load(Relaxed);
        }
        bytes_in += bi;
        records_in += ri;
        bytes_out += bo;
        per_topic.insert(
            topic.name.clone(),
            json!({ "bytes_in": bi, "records_in": ri, "bytes_out": bo }),
        );
    }
    let m = metrics::global();
    let requests: u64 = APIS
        .iter()
        .filter_map(|e| m.api(e.key as i16))
        .map(|s| s.requests.load(Relaxed))
        .sum();
    json!({
        "time_ms": now_ms(),
        "node_id": ctx.broker.config.node_id,
        "bytes_in": bytes_in,
        "records_in": records_in,
        "bytes_out": bytes_out,
        "requests": requests,
        "connections": m.connections_active.load(Relaxed),
        "topics": per_topic,
    })
}
