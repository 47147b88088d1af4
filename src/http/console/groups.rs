//! The consumer group pages: the list (ListGroups, with each group's members and total lag),
//! one group (ConsumerGroupDescribe for KIP-848 groups, DescribeGroups for classic ones;
//! committed offsets from OffsetFetch; lag against ListOffsets' log end), and the offset
//! reset: a plan computed as `skua group reset-offsets` computes it (earliest, latest, an
//! offset clamped to each partition's range, or the first offset at a timestamp), shown
//! as a dry run, and applied as a simple commit (OffsetCommit, generation -1, no member),
//! which Kafka accepts only while the group has no members: its refusal is answered as is.
//!
//! Groups are the coordinator's: on a cluster of several brokers, a group another broker
//! coordinates answers NOT_COORDINATOR here (open that broker's console).

use std::collections::{BTreeMap, HashMap};

use bytes::{Buf, Bytes};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerProtocolAssignment, DescribeGroupsRequest, GroupId,
    ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::Decodable;
use serde_json::{json, Value};

use super::api::{
    check, error_name, list_offsets, metadata, non_empty, offset_ranges, str_bytes, topic_name,
    ApiError, Ctx, LATEST,
};
use crate::group::reset::{new_offset, Target};

/// GROUP_ID_NOT_FOUND: ConsumerGroupDescribe's answer for a group of another type.
const GROUP_ID_NOT_FOUND: i16 = 69;

pub fn group_id(s: &str) -> GroupId {
    GroupId(str_bytes(s))
}

/// ListGroups v5 (every type and state).
pub async fn list_groups(ctx: &Ctx, types: &[&str]) -> Result<ListGroupsResponse, ApiError> {
    let req = ListGroupsRequest::default()
        .with_types_filter(types.iter().map(|t| str_bytes(t)).collect());
    let resp = ctx.call(5, req).await?;
    check(resp.error_code, None, "ListGroups")?;
    Ok(resp)
}

/// Committed offsets of `groups` (OffsetFetch v8, every topic): group → (topic, partition)
/// → offset; a group that answers an error maps to it.
async fn committed(
    ctx: &Ctx,
    groups: &[String],
    topic: Option<(&str, &[i32])>,
) -> Result<HashMap<String, Result<BTreeMap<(String, i32), i64>, i16>>, ApiError> {
    if groups.is_empty() {
        return Ok(HashMap::new());
    }
    let req = OffsetFetchRequest::default()
        .with_require_stable(false)
        .with_groups(
            groups
                .iter()
                .map(|g| {
                    OffsetFetchRequestGroup::default()
                        .with_group_id(group_id(g))
                        .with_member_epoch(-1)
                        .with_topics(topic.map(|(t, ps)| {
                            vec![OffsetFetchRequestTopics::default()
                                .with_name(topic_name(t))
                                .with_partition_indexes(ps.to_vec())]
                        }))
                })
                .collect(),
        );
    let resp = ctx.call(8, req).await?;
    let mut out = HashMap::new();
    for g in resp.groups {
        let v = if g.error_code != 0 {
            Err(g.error_code)
        } else {
            let mut m = BTreeMap::new();
            for t in g.topics {
                for p in t.partitions {
                    if p.error_code == 0 && p.committed_offset >= 0 {
                        m.insert(
                            (t.name.0.as_str().to_string(), p.partition_index),
                            p.committed_offset,
                        );
                    }
                }
            }
            Ok(m)
        };
        out.insert(g.group_id.0.as_str().to_string(), v);
    }
    Ok(out)
}

/// Log end offsets of the partitions of `offsets`.
async fn log_ends(
    ctx: &Ctx,
    offsets: impl Iterator<Item = (String, i32)>,
) -> Result<BTreeMap<(String, i32), i64>, ApiError> {
    let mut parts: Vec<(String, i32)> = offsets.collect();
    parts.sort();
    parts.dedup();
    Ok(list_offsets(ctx, &parts, LATEST)
        .await?
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.ok()?.0)))
        .collect())
}

fn lag(committed: i64, end: Option<i64>) -> Option<i64> {
    end.map(|e| (e - committed).max(0))
}

/// `GET /api/groups`: consumer groups (classic and KIP-848; share groups are listed apart).
pub async fn list(ctx: &Ctx) -> Result<Value, ApiError> {
    let listed = list_groups(ctx, &[]).await?;
    let groups: Vec<_> = listed
        .groups
        .iter()
        .filter(|g| !g.group_type.as_str().eq_ignore_ascii_case("share"))
        .collect();
    let ids: Vec<String> = groups
        .iter()
        .map(|g| g.group_id.0.as_str().to_string())
        .collect();
    let offsets = committed(ctx, &ids, None).await?;
    let ends = log_ends(
        ctx,
        offsets
            .values()
            .filter_map(|v| v.as_ref().ok())
            .flat_map(|m| m.keys().cloned()),
    )
    .await?;
    let members = member_counts(ctx, &groups).await?;
    let mut out: Vec<Value> = groups
        .iter()
        .map(|g| {
            let id = g.group_id.0.as_str();
            let (lag_total, partitions, error) = match offsets.get(id) {
                Some(Ok(m)) => (
                    m.iter()
                        .filter_map(|(k, o)| lag(*o, ends.get(k).copied()))
                        .sum::<i64>(),
                    m.len(),
                    None,
                ),
                Some(Err(code)) => (0, 0, Some(error_name(*code))),
                None => (0, 0, None),
            };
            json!({
                "group_id": id,
                "type": g.group_type.as_str().to_ascii_lowercase(),
                "state": g.group_state.as_str(),
                "protocol_type": g.protocol_type.as_str(),
                "members": members.get(id).copied(),
                "partitions": partitions,
                "lag": lag_total,
                "error": error,
            })
        })
        .collect();
    out.sort_by(|a, b| a["group_id"].as_str().cmp(&b["group_id"].as_str()));
    Ok(Value::Array(out))
}

/// Members per group: DescribeGroups for classic groups, ConsumerGroupDescribe for the others.
async fn member_counts(
    ctx: &Ctx,
    groups: &[&ListedGroup],
) -> Result<HashMap<String, usize>, ApiError> {
    let (classic, consumer): (Vec<&ListedGroup>, Vec<&ListedGroup>) = groups
        .iter()
        .copied()
        .partition(|g| !g.group_type.as_str().eq_ignore_ascii_case("consumer"));
    let mut out = HashMap::new();
    if !classic.is_empty() {
        let req = DescribeGroupsRequest::default()
            .with_groups(classic.iter().map(|g| g.group_id.clone()).collect());
        for g in ctx.call(5, req).await?.groups {
            out.insert(g.group_id.0.as_str().to_string(), g.members.len());
        }
    }
    if !consumer.is_empty() {
        let req = ConsumerGroupDescribeRequest::default()
            .with_group_ids(consumer.iter().map(|g| g.group_id.clone()).collect());
        for g in ctx.call(0, req).await?.groups {
            out.insert(g.group_id.0.as_str().to_string(), g.members.len());
        }
    }
    Ok(out)
}

/// A classic consumer-protocol assignment as (topic, partitions).
fn decode_assignment(protocol_type: &str, bytes: &Bytes) -> Option<Vec<(String, Vec<i32>)>> {
    if protocol_type != "consumer" || bytes.len() < 2 {
        return None;
    }
    let mut b = bytes.clone();
    // Later versions only add fields at the end: read them as the newest known.
    let version = b.get_i16().clamp(0, 3);
    let a = ConsumerProtocolAssignment::decode(&mut b, version).ok()?;
    Some(
        a.assigned_partitions
            .into_iter()
            .map(|tp| (tp.topic.0.as_str().to_string(), tp.partitions))
            .collect(),
    )
}

fn assignment_json(a: &[(String, Vec<i32>)]) -> Value {
    Value::Array(
        a.iter()
            .map(|(t, ps)| json!({ "topic": t, "partitions": ps }))
            .collect(),
    )
}

/// What describing a group says: type, state, protocol, members.
struct Described {
    kind: &'static str,
    state: String,
    protocol_type: String,
    protocol: String,
    epoch: Option<i32>,
    members: Vec<Value>,
    /// (topic, partition) → member id.
    owners: HashMap<(String, i32), String>,
}

async fn describe_members(ctx: &Ctx, group: &str) -> Result<Described, ApiError> {
    let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![group_id(group)]);
    let cg = ctx.call(0, req).await?.groups.into_iter().next();
    if let Some(g) = cg.filter(|g| g.error_code != GROUP_ID_NOT_FOUND) {
        check(
            g.error_code,
            g.error_message.as_ref(),
            &format!("group {group}"),
        )?;
        let mut owners = HashMap::new();
        let members = g
            .members
            .iter()
            .map(|m| {
                let a: Vec<(String, Vec<i32>)> = m
                    .assignment
                    .topic_partitions
                    .iter()
                    .map(|tp| (tp.topic_name.0.as_str().to_string(), tp.partitions.clone()))
                    .collect();
                for (t, ps) in &a {
                    for p in ps {
                        owners.insert((t.clone(), *p), m.member_id.as_str().to_string());
                    }
                }
                json!({
                    "member_id": m.member_id.as_str(),
                    "instance_id": m.instance_id.as_ref().map(|s| s.as_str()),
                    "client_id": m.client_id.as_str(),
                    "client_host": m.client_host.as_str(),
                    "member_epoch": m.member_epoch,
                    "subscribed_topics": m.subscribed_topic_names.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
                    "assignment": assignment_json(&a),
                })
            })
            .collect();
        return Ok(Described {
            kind: "consumer",
            state: g.group_state.as_str().to_string(),
            protocol_type: "consumer".into(),
            protocol: g.assignor_name.as_str().to_string(),
            epoch: Some(g.group_epoch),
            members,
            owners,
        });
    }
    let req = DescribeGroupsRequest::default().with_groups(vec![group_id(group)]);
    let g = ctx
        .call(5, req)
        .await?
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "DescribeGroups answered no group"))?;
    check(
        g.error_code,
        g.error_message.as_ref(),
        &format!("group {group}"),
    )?;
    let pt = g.protocol_type.as_str().to_string();
    let mut owners = HashMap::new();
    let members = g
        .members
        .iter()
        .map(|m| {
            let a = decode_assignment(&pt, &m.member_assignment);
            for (t, ps) in a.iter().flatten() {
                for p in ps {
                    owners.insert((t.clone(), *p), m.member_id.as_str().to_string());
                }
            }
            json!({
                "member_id": m.member_id.as_str(),
                "instance_id": m.group_instance_id.as_ref().map(|s| s.as_str()),
                "client_id": m.client_id.as_str(),
                "client_host": m.client_host.as_str(),
                "assignment": a.as_deref().map(assignment_json),
            })
        })
        .collect();
    Ok(Described {
        kind: "classic",
        state: g.group_state.as_str().to_string(),
        protocol_type: pt,
        protocol: g.protocol_data.as_str().to_string(),
        epoch: None,
        members,
        owners,
    })
}

/// `GET /api/groups/ID`.
pub async fn describe(ctx: &Ctx, group: &str) -> Result<Value, ApiError> {
    non_empty(group, "the group id")?;
    let d = describe_members(ctx, group).await?;
    let offsets = match committed(ctx, &[group.to_string()], None)
        .await?
        .remove(group)
    {
        Some(Ok(m)) => m,
        Some(Err(code)) => {
            return Err(ApiError::kafka(
                code,
                None,
                &format!("offsets of group {group}"),
            ))
        }
        None => BTreeMap::new(),
    };
    if d.state.eq_ignore_ascii_case("dead") && offsets.is_empty() {
        return Err(ApiError::kafka(
            GROUP_ID_NOT_FOUND,
            None,
            &format!("group {group}"),
        ));
    }
    // Assigned partitions without a commit are listed too (lag unknown).
    let mut keys: Vec<(String, i32)> = offsets.keys().cloned().collect();
    keys.extend(d.owners.keys().cloned());
    let ends = log_ends(ctx, keys.clone().into_iter()).await?;
    keys.sort();
    keys.dedup();
    let mut total = 0;
    let rows: Vec<Value> = keys
        .iter()
        .map(|k| {
            let c = offsets.get(k).copied();
            let end = ends.get(k).copied();
            let l = c.and_then(|c| lag(c, end));
            total += l.unwrap_or(0);
            json!({
                "topic": k.0,
                "partition": k.1,
                "committed_offset": c,
                "log_end_offset": end,
                "lag": l,
                "member_id": d.owners.get(k),
            })
        })
        .collect();
    Ok(json!({
        "group_id": group,
        "type": d.kind,
        "state": d.state,
        "protocol_type": d.protocol_type,
        "protocol": d.protocol,
        "group_epoch": d.epoch,
        "members": d.members,
        "offsets": rows,
        "lag": total,
    }))
}

fn parse_target(body: &Value) -> Result<Target, ApiError> {
    let int = |name: &str| {
        body.get(name)
            .and_then(Value::as_i64)
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ApiError::bad_request(format!("{name} (a whole number >= 0) is required"))
            })
    };
    match body.get("to").and_then(Value::as_str) {
        Some("earliest") => Ok(Target::Earliest),
        Some("latest") => Ok(Target::Latest),
        Some("offset") => Ok(Target::Offset(int("offset")?)),
        Some("timestamp") => Ok(Target::Timestamp(int("timestamp")?)),
        _ => Err(ApiError::bad_request(
            "to must be earliest, latest, offset or timestamp",
        )),
    }
}

/// `POST /api/groups/ID/reset` with `{"topic", "partitions"?: [..], "to": "earliest" |
/// "latest" | "offset" | "timestamp", "offset"?, "timestamp"?, "dry_run"?}` (`dry_run`
/// defaults to true: the plan only).
pub async fn reset(ctx: &Ctx, group: &str, body: &Value) -> Result<Value, ApiError> {
    non_empty(group, "the group id")?;
    let topic = body
        .get("topic")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("topic (a string) is required"))?;
    let target = parse_target(body)?;
    let dry_run = match body.get("dry_run") {
        None | Some(Value::Null) => true,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| ApiError::bad_request("dry_run must be true or false"))?,
    };
    let md = metadata(ctx, Some(&[topic])).await?;
    let t = md
        .topics
        .first()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "Metadata answered no topic"))?;
    check(t.error_code, None, &format!("topic {topic}"))?;
    let all: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
    let mut ids: Vec<i32> = match body.get("partitions") {
        None | Some(Value::Null) => all.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|p| {
                p.as_i64()
                    .and_then(|p| i32::try_from(p).ok())
                    .filter(|p| all.contains(p))
                    .ok_or_else(|| ApiError::kafka(3, None, &format!("partition {topic}-{p}")))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::bad_request("partitions must be an array")),
    };
    ids.sort_unstable();
    ids.dedup();
    let parts: Vec<(String, i32)> = ids.iter().map(|p| (topic.to_string(), *p)).collect();
    let ranges = offset_ranges(ctx, &parts).await?;
    let at_time = match target {
        Target::Timestamp(ts) => Some(list_offsets(ctx, &parts, ts).await?),
        _ => None,
    };
    let current = match committed(ctx, &[group.to_string()], Some((topic, &ids)))
        .await?
        .remove(group)
    {
        Some(Ok(m)) => m,
        Some(Err(code)) => {
            return Err(ApiError::kafka(
                code,
                None,
                &format!("offsets of group {group}"),
            ))
        }
        None => BTreeMap::new(),
    };
    let mut plan = BTreeMap::new();
    let mut rows = Vec::new();
    for key in &parts {
        let (start, end) = *ranges.get(key).ok_or_else(|| {
            ApiError::new(
                503,
                "LEADER_NOT_AVAILABLE",
                format!("no offsets for {}-{} on this broker", key.0, key.1),
            )
        })?;
        let found = at_time
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(|r| r.ok())
            .map(|(o, _)| o);
        let new = new_offset(target, start, end, found);
        plan.insert(key.1, new);
        rows.push(json!({
            "partition": key.1,
            "current_offset": current.get(key),
            "new_offset": new,
            "log_start_offset": start,
            "log_end_offset": end,
            "lag_after": end - new,
        }));
    }
    let d = describe_members(ctx, group).await.ok();
    let members = d.as_ref().map_or(0, |d| d.members.len());
    let state = d.as_ref().map(|d| d.state.clone());
    if !dry_run {
        commit(ctx, group, topic, &plan, members, state.as_deref()).await?;
    }
    Ok(json!({
        "group_id": group,
        "topic": topic,
        "dry_run": dry_run,
        "executed": !dry_run,
        "state": state,
        "members": members,
        "offsets": rows,
        "warning": (members > 0).then(|| format!(
            "the group has {members} member(s): Kafka accepts a reset only while the group is empty; stop its consumers first"
        )),
    }))
}

/// The simple commit of a reset (generation -1, no member id).
async fn commit(
    ctx: &Ctx,
    group: &str,
    topic: &str,
    plan: &BTreeMap<i32, i64>,
    members: usize,
    state: Option<&str>,
) -> Result<(), ApiError> {
    let req = OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(str_bytes(""))
        .with_retention_time_ms(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(
                plan.iter()
                    .map(|(p, o)| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(*o)
                            .with_committed_leader_epoch(-1)
                            .with_committed_metadata(Some(str_bytes("")))
                    })
                    .collect(),
            )]);
    let resp = ctx.call(8, req).await?;
    for t in resp.topics {
        for p in t.partitions {
            if p.error_code != 0 {
                let mut e = ApiError::kafka(
                    p.error_code,
                    None,
                    &format!(
                        "reset offsets of group {group} for {topic}-{}",
                        p.partition_index
                    ),
                );
                if members > 0 {
                    e.message.push_str(&format!(
                        " (the group is {} with {members} member(s): Kafka accepts a reset only while it is empty)",
                        state.unwrap_or("active")
                    ));
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target(&json!({"to": "offset", "offset": 4})).unwrap(),
            Target::Offset(4)
        );
        assert!(parse_target(&json!({"to": "offset"})).is_err());
        assert!(parse_target(&json!({"to": "offset", "offset": -1})).is_err());
        assert!(parse_target(&json!({"to": "sideways"})).is_err());
    }
}
