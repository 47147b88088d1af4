//! `skua group describe` of a share group (KIP-932): its state, epochs and members with their
//! assignments (ShareGroupDescribe), and per share-partition the start offset
//! (DescribeShareGroupOffsets), the log end offset, and skua's figures that ride in a tagged
//! field of that answer: in-flight records by state, records the record filter archived,
//! dead-letter copies written and pending.

use anyhow::{anyhow, Result};
use bytes::Buf;
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::share_group_describe_response::DescribedGroup as ShareGroup;
use kafka_protocol::messages::{DescribeShareGroupOffsetsRequest, ShareGroupDescribeRequest};

use super::client::{check, group_id, Cluster};
use super::group::DescribeArgs;
use super::output::{emit, table, Json};
use super::topic::{list_offsets, partitions, LATEST};
use super::Output;
use crate::api::describe_share_group_offsets::SKUA_STATS_TAG;

/// ShareGroupDescribe of `group`; None when it is not a share group (or the broker does not
/// serve the API).
fn describe_share_group(cluster: &mut Cluster, group: &str) -> Result<Option<ShareGroup>> {
    let conn = cluster.coordinator(group)?;
    let Ok(v) = conn.version::<ShareGroupDescribeRequest>(1, 1) else {
        return Ok(None);
    };
    let mut req = ShareGroupDescribeRequest::default();
    req.group_ids = vec![group_id(group)];
    let resp = conn.call(v, &req)?;
    let g = resp
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("ShareGroupDescribe: empty answer"))?;
    if g.error_code == 69 {
        return Ok(None);
    }
    check(
        g.error_code,
        g.error_message.as_ref(),
        &format!("describe group {group}"),
    )?;
    Ok(Some(g))
}

/// One share-partition row.
struct Row {
    topic: String,
    partition: i32,
    start: i64,
    end: Option<i64>,
    /// available, acquired, acknowledged, archived, filtered, dlq written, dlq pending.
    figures: Option<[i64; 7]>,
}

fn share_rows(cluster: &mut Cluster, group: &str) -> Result<Vec<Row>> {
    let conn = cluster.coordinator(group)?;
    let v = conn.version::<DescribeShareGroupOffsetsRequest>(0, 0)?;
    let mut req = DescribeShareGroupOffsetsRequest::default();
    let mut g = DescribeShareGroupOffsetsRequestGroup::default();
    g.group_id = group_id(group);
    g.topics = None;
    req.groups = vec![g];
    let resp = conn.call(v, &req)?;
    let mut rows = Vec::new();
    for g in resp.groups {
        check(
            g.error_code,
            g.error_message.as_ref(),
            "describe share offsets",
        )?;
        for t in g.topics {
            for p in t.partitions {
                let figures = p.unknown_tagged_fields.get(&SKUA_STATS_TAG).and_then(|b| {
                    let mut b = b.clone();
                    (b.len() >= 56).then(|| std::array::from_fn(|_| b.get_i64()))
                });
                rows.push(Row {
                    topic: t.topic_name.as_str().to_string(),
                    partition: p.partition_index,
                    start: p.start_offset,
                    end: None,
                    figures,
                });
            }
        }
    }
    let mut topics: Vec<String> = rows.iter().map(|r| r.topic.clone()).collect();
    topics.sort();
    topics.dedup();
    for t in topics {
        let parts = partitions(cluster, &t)?;
        let ends = list_offsets(cluster, &t, &parts, LATEST)?;
        for r in rows.iter_mut().filter(|r| r.topic == t) {
            r.end = ends.get(&r.partition).copied();
        }
    }
    rows.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(rows)
}

/// Describe `a.group` if it is a share group; false when it is not one.
pub fn describe(a: &DescribeArgs, cluster: &mut Cluster) -> Result<bool> {
    let Some(g) = describe_share_group(cluster, &a.group)? else {
        return Ok(false);
    };
    let rows = share_rows(cluster, &a.group)?;
    let members: Vec<(String, i32, String, String, String)> = g
        .members
        .iter()
        .map(|m| {
            let mut asg: Vec<String> = m
                .assignment
                .topic_partitions
                .iter()
                .map(|t| {
                    let mut ps = t.partitions.clone();
                    ps.sort_unstable();
                    let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
                    format!("{}:{}", t.topic_name.as_str(), ps.join(","))
                })
                .collect();
            asg.sort();
            (
                m.member_id.as_str().to_string(),
                m.member_epoch,
                m.client_id.as_str().to_string(),
                m.client_host.as_str().to_string(),
                if asg.is_empty() {
                    "-".to_string()
                } else {
                    asg.join(" ")
                },
            )
        })
        .collect();
    let fig = |r: &Row, i: usize| r.figures.map_or("-".to_string(), |f| f[i].to_string());
    match a.common.output {
        Output::Table => {
            let mut s = format!(
                "group: {}\ntype: share\nstate: {}\ngroup epoch: {}\nassignment epoch: {}\nassignor: {}\nmembers: {}\n",
                a.group,
                g.group_state.as_str(),
                g.group_epoch,
                g.assignment_epoch,
                g.assignor_name.as_str(),
                members.len()
            );
            if !members.is_empty() {
                s.push('\n');
                let rows: Vec<Vec<String>> = members
                    .iter()
                    .map(|(id, e, c, h, asg)| {
                        vec![id.clone(), e.to_string(), c.clone(), h.clone(), asg.clone()]
                    })
                    .collect();
                s.push_str(&table(
                    &["MEMBER", "EPOCH", "CLIENT-ID", "HOST", "ASSIGNMENT"],
                    &rows,
                ));
            }
            if !rows.is_empty() {
                s.push('\n');
                let t: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.topic.clone(),
                            r.partition.to_string(),
                            r.start.to_string(),
                            r.end.map_or("-".into(), |e| e.to_string()),
                            fig(r, 0),
                            fig(r, 1),
                            fig(r, 4),
                            fig(r, 5),
                            fig(r, 6),
                        ]
                    })
                    .collect();
                s.push_str(&table(
                    &[
                        "TOPIC",
                        "PARTITION",
                        "START-OFFSET",
                        "END-OFFSET",
                        "AVAILABLE",
                        "ACQUIRED",
                        "FILTERED",
                        "DLQ",
                        "DLQ-PENDING",
                    ],
                    &t,
                ));
            }
            emit(&s)?;
        }
        Output::Json => {
            let num = Json::Int;
            let members = members
                .iter()
                .map(|(id, e, c, h, asg)| {
                    Json::obj(vec![
                        ("member_id", Json::str(id)),
                        ("member_epoch", num(i64::from(*e))),
                        ("client_id", Json::str(c)),
                        ("host", Json::str(h)),
                        ("assignment", Json::str(asg)),
                    ])
                })
                .collect();
            let parts = rows
                .iter()
                .map(|r| {
                    let mut f = vec![
                        ("topic", Json::str(&r.topic)),
                        ("partition", num(i64::from(r.partition))),
                        ("start_offset", num(r.start)),
                        ("end_offset", r.end.map_or(Json::Null, Json::Int)),
                    ];
                    if let Some(x) = r.figures {
                        f.push(("available", num(x[0])));
                        f.push(("acquired", num(x[1])));
                        f.push(("acknowledged", num(x[2])));
                        f.push(("archived", num(x[3])));
                        f.push(("filtered", num(x[4])));
                        f.push(("dead_letter", num(x[5])));
                        f.push(("dead_letter_pending", num(x[6])));
                    }
                    Json::obj(f)
                })
                .collect();
            let out = Json::obj(vec![
                ("group", Json::str(&a.group)),
                ("type", Json::str("share")),
                ("state", Json::str(g.group_state.as_str())),
                ("group_epoch", num(i64::from(g.group_epoch))),
                ("assignment_epoch", num(i64::from(g.assignment_epoch))),
                ("members", Json::Arr(members)),
                ("partitions", Json::Arr(parts)),
            ]);
            emit(&format!("{}\n", out.render()))?;
        }
    }
    Ok(true)
}
