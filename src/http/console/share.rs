//! The share group pages (KIP-932): the list (ListGroups of type share, members from
//! ShareGroupDescribe) and one group: its members and their assignments
//! (ShareGroupDescribe), and per share-partition the start offset
//! (DescribeShareGroupOffsets) against the log end offset (ListOffsets), the records not
//! yet acknowledged past the start being at most their difference.

use std::collections::HashMap;

use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::{DescribeShareGroupOffsetsRequest, ShareGroupDescribeRequest};
use serde_json::{json, Value};

use super::api::{check, error_name, list_offsets, non_empty, ApiError, Ctx, LATEST};
use super::groups::{group_id, list_groups};

/// `GET /api/share-groups`.
pub async fn list(ctx: &Ctx) -> Result<Value, ApiError> {
    let listed = list_groups(ctx, &["share"]).await?;
    let ids: Vec<_> = listed
        .groups
        .iter()
        .filter(|g| g.group_type.as_str().eq_ignore_ascii_case("share"))
        .map(|g| (g.group_id.clone(), g.group_state.as_str().to_string()))
        .collect();
    let mut members = HashMap::new();
    if !ids.is_empty() {
        let req = ShareGroupDescribeRequest::default()
            .with_group_ids(ids.iter().map(|(g, _)| g.clone()).collect());
        for g in ctx.call(1, req).await?.groups {
            members.insert(g.group_id.0.as_str().to_string(), g.members.len());
        }
    }
    let mut out: Vec<Value> = ids
        .iter()
        .map(|(g, state)| {
            json!({
                "group_id": g.0.as_str(),
                "state": state,
                "members": members.get(g.0.as_str()),
            })
        })
        .collect();
    out.sort_by(|a, b| a["group_id"].as_str().cmp(&b["group_id"].as_str()));
    Ok(Value::Array(out))
}

/// `GET /api/share-groups/ID`.
pub async fn describe(ctx: &Ctx, group: &str) -> Result<Value, ApiError> {
    non_empty(group, "the group id")?;
    let req = ShareGroupDescribeRequest::default().with_group_ids(vec![group_id(group)]);
    let g = ctx
        .call(1, req)
        .await?
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "ShareGroupDescribe answered no group"))?;
    check(
        g.error_code,
        g.error_message.as_ref(),
        &format!("share group {group}"),
    )?;
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id.as_str(),
                "client_id": m.client_id.as_str(),
                "client_host": m.client_host.as_str(),
                "member_epoch": m.member_epoch,
                "subscribed_topics": m.subscribed_topic_names.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
                "assignment": m.assignment.topic_partitions.iter().map(|tp| json!({
                    "topic": tp.topic_name.0.as_str(),
                    "partitions": tp.partitions,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let req = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(group_id(group))
            .with_topics(None),
    ]);
    let offsets = ctx.call(0, req).await?;
    let mut rows = Vec::new();
    for og in offsets.groups {
        check(
            og.error_code,
            og.error_message.as_ref(),
            &format!("offsets of share group {group}"),
        )?;
        for t in og.topics {
            for p in t.partitions {
                rows.push((
                    t.topic_name.0.as_str().to_string(),
                    p.partition_index,
                    p.start_offset,
                    p.error_code,
                ));
            }
        }
    }
    let parts: Vec<(String, i32)> = rows.iter().map(|r| (r.0.clone(), r.1)).collect();
    let ends = list_offsets(ctx, &parts, LATEST).await?;
    rows.sort();
    let offsets: Vec<Value> = rows
        .iter()
        .map(|(t, p, start, code)| {
            let end = ends.get(&(t.clone(), *p)).and_then(|r| r.ok()).map(|r| r.0);
            json!({
                "topic": t,
                "partition": p,
                "start_offset": (*start >= 0).then_some(*start),
                "log_end_offset": end,
                "lag": end.filter(|_| *start >= 0).map(|e| (e - start).max(0)),
                "error": (*code != 0).then(|| error_name(*code)),
            })
        })
        .collect();
    Ok(json!({
        "group_id": group,
        "state": g.group_state.as_str(),
        "group_epoch": g.group_epoch,
        "assignment_epoch": g.assignment_epoch,
        "assignor": g.assignor_name.as_str(),
        "members": members,
        "offsets": offsets,
    }))
}
