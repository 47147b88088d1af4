//! `skua group list|describe|reset-offsets|delete`, and the offset commit/fetch helpers the
//! consumer shares. `list` shows each group's type (classic or consumer, ListGroups v5);
//! `describe` shows a KIP-848 consumer group (ConsumerGroupDescribe) with its epochs and each
//! member's epoch, subscription, assignment and target, and a classic group (DescribeGroups)
//! with its protocol and members' decoded assignments. Commits are "simple" commits (generation -1, no member id), which Kafka
//! accepts only for groups without members: that is also the rule reset-offsets enforces.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{anyhow, bail, Result};
use bytes::Buf;
use clap::Args;
use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as ConsumerGroup;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerProtocolAssignment, DeleteGroupsRequest,
    DescribeGroupsRequest, ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::Decodable;

use super::client::{check, group_id, str_bytes, topic_name, Cluster};
use super::output::{emit, table, Json};
use super::topic::{list_offsets, partitions, EARLIEST, LATEST};
use super::{Common, Output};
use crate::group::reset::{new_offset, Target};

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    pub group: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true)
    .args(["to_earliest", "to_latest", "to_offset"])))]
pub struct ResetArgs {
    pub group: String,
    /// Topic whose partitions are reset (all its partitions).
    #[arg(long)]
    pub topic: String,
    /// Reset to each partition's log start offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// Reset to each partition's log end offset.
    #[arg(long)]
    pub to_latest: bool,
    /// Reset to this offset (clamped to each partition's valid range).
    #[arg(long, value_name = "N")]
    pub to_offset: Option<i64>,
    /// Commit the new offsets (without it: print the plan only).
    #[arg(long)]
    pub execute: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    pub group: String,
    #[command(flatten)]
    pub common: Common,
}

/// Committed offsets of a group: (topic, partition) → offset; only partitions with a commit.
/// `topic` limits the answer to that topic's `parts`.
pub fn fetch_committed(
    cluster: &mut Cluster,
    group: &str,
    topic: Option<(&str, &[i32])>,
) -> Result<BTreeMap<(String, i32), i64>> {
    let conn = cluster.coordinator(group)?;
    let v = conn.version::<OffsetFetchRequest>(1, 7)?;
    let mut req = OffsetFetchRequest::default();
    req.group_id = group_id(group);
    req.topics = match topic {
        Some((t, ps)) => {
            let mut ft = OffsetFetchRequestTopic::default();
            ft.name = topic_name(t);
            ft.partition_indexes = ps.to_vec();
            Some(vec![ft])
        }
        None if v >= 2 => None,
        None => bail!("broker's OffsetFetch v{v} cannot list all of a group's offsets"),
    };
    let resp = conn.call(v, &req)?;
    check(
        resp.error_code,
        None,
        &format!("fetch offsets of group {group}"),
    )?;
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            check(
                p.error_code,
                None,
                &format!("fetch offset of {}-{}", t.name.as_str(), p.partition_index),
            )?;
            if p.committed_offset >= 0 {
                out.insert(
                    (t.name.as_str().to_string(), p.partition_index),
                    p.committed_offset,
                );
            }
        }
    }
    Ok(out)
}

/// A simple commit (no group membership) of `offsets` (partition → next offset to read).
pub fn commit(
    cluster: &mut Cluster,
    group: &str,
    topic: &str,
    offsets: &BTreeMap<i32, i64>,
) -> Result<()> {
    let conn = cluster.coordinator(group)?;
    let v = conn.version::<OffsetCommitRequest>(2, 8)?;
    let mut t = OffsetCommitRequestTopic::default();
    t.name = topic_name(topic);
    t.partitions = offsets
        .iter()
        .map(|(&p, &o)| {
            let mut cp = OffsetCommitRequestPartition::default();
            cp.partition_index = p;
            cp.committed_offset = o;
            cp.committed_leader_epoch = -1;
            cp.committed_metadata = Some(str_bytes(""));
            cp
        })
        .collect();
    let mut req = OffsetCommitRequest::default();
    req.group_id = group_id(group);
    req.generation_id_or_member_epoch = -1;
    req.member_id = str_bytes("");
    req.retention_time_ms = -1;
    req.topics = vec![t];
    let resp = conn.call(v, &req)?;
    for t in resp.topics {
        for p in t.partitions {
            check(
                p.error_code,
                None,
                &format!(
                    "commit offset of group {group} for {}-{}",
                    t.name.as_str(),
                    p.partition_index
                ),
            )?;
        }
    }
    Ok(())
}

fn describe_group(cluster: &mut Cluster, group: &str) -> Result<DescribedGroup> {
    let conn = cluster.coordinator(group)?;
    let v = conn.version::<DescribeGroupsRequest>(0, 5)?;
    let mut req = DescribeGroupsRequest::default();
    req.groups = vec![group_id(group)];
    let resp = conn.call(v, &req)?;
    let g = resp
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("DescribeGroups: empty answer"))?;
    check(
        g.error_code,
        g.error_message.as_ref(),
        &format!("describe group {group}"),
    )?;
    Ok(g)
}

/// A consumer-protocol assignment as (topic, partitions), or None when not decodable.
fn decode_assignment(protocol_type: &str, bytes: &bytes::Bytes) -> Option<Vec<(String, Vec<i32>)>> {
    if protocol_type != "consumer" || bytes.len() < 2 {
        return None;
    }
    let mut b = bytes.clone();
    // Newer versions only add fields at the end: read them as the newest we know.
    let version = b.get_i16().clamp(0, 3);
    let a = ConsumerProtocolAssignment::decode(&mut b, version).ok()?;
    Some(
        a.assigned_partitions
            .into_iter()
            .map(|tp| (tp.topic.as_str().to_string(), tp.partitions))
            .collect(),
    )
}

pub fn list(a: ListArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    // group → (type, state, protocol type); type "classic" or "consumer" (ListGroups v5).
    let mut groups: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    for id in cluster.broker_ids() {
        let conn = cluster.node(id)?;
        let v = conn.version::<ListGroupsRequest>(0, 5)?;
        let resp = conn.call(v, &ListGroupsRequest::default())?;
        check(resp.error_code, None, "list groups")?;
        for g in resp.groups {
            let state = if v >= 4 {
                g.group_state.as_str().to_string()
            } else {
                "-".to_string()
            };
            let kind = if v >= 5 {
                g.group_type.as_str().to_ascii_lowercase()
            } else {
                "classic".to_string()
            };
            groups.insert(
                g.group_id.as_str().to_string(),
                (kind, state, g.protocol_type.as_str().to_string()),
            );
        }
    }
    match a.common.output {
        Output::Table => {
            let rows: Vec<Vec<String>> = groups
                .iter()
                .map(|(g, (k, s, p))| vec![g.clone(), k.clone(), s.clone(), p.clone()])
                .collect();
            emit(&table(&["GROUP", "TYPE", "STATE", "PROTOCOL-TYPE"], &rows))
        }
        Output::Json => {
            let items = groups
                .iter()
                .map(|(g, (k, s, p))| {
                    Json::obj(vec![
                        ("group", Json::str(g)),
                        ("type", Json::str(k)),
                        ("state", Json::str(s)),
                        ("protocol_type", Json::str(p)),
                    ])
                })
                .collect();
            emit(&format!("{}\n", Json::Arr(items).render()))
        }
    }
}

/// ConsumerGroupDescribe of a KIP-848 consumer group; None when the group is not one (or the
/// broker does not serve the API).
fn describe_consumer_group(cluster: &mut Cluster, group: &str) -> Result<Option<ConsumerGroup>> {
    let conn = cluster.coordinator(group)?;
    let Ok(v) = conn.version::<ConsumerGroupDescribeRequest>(0, 1) else {
        return Ok(None);
    };
    let mut req = ConsumerGroupDescribeRequest::default();
    req.group_ids = vec![group_id(group)];
    let resp = conn.call(v, &req)?;
    let g = resp
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("ConsumerGroupDescribe: empty answer"))?;
    if g.error_code == 69 {
        // GROUP_ID_NOT_FOUND: a classic group (or none): DescribeGroups says which.
        return Ok(None);
    }
    check(
        g.error_code,
        g.error_message.as_ref(),
        &format!("describe group {group}"),
    )?;
    Ok(Some(g))
}

/// A consumer group's members: (member id, epoch, client id, host, subscription, assignment,
/// target assignment).
type ConsumerMember = (
    String,
    i32,
    String,
    String,
    Vec<String>,
    Assignment,
    Assignment,
);

fn consumer_members(g: &ConsumerGroup) -> Vec<ConsumerMember> {
    let parts = |a: &kafka_protocol::messages::consumer_group_describe_response::Assignment| {
        let mut v: Vec<(String, Vec<i32>)> = a
            .topic_partitions
            .iter()
            .map(|t| {
                let mut ps = t.partitions.clone();
                ps.sort_unstable();
                (t.topic_name.as_str().to_string(), ps)
            })
            .collect();
        v.sort();
        v
    };
    let mut members: Vec<ConsumerMember> = g
        .members
        .iter()
        .map(|m| {
            let mut sub: Vec<String> = m
                .subscribed_topic_names
                .iter()
                .map(|t| t.as_str().to_string())
                .collect();
            if let Some(re) = &m.subscribed_topic_regex {
                sub.push(format!("/{}/", re.as_str()));
            }
            (
                m.member_id.as_str().to_string(),
                m.member_epoch,
                m.client_id.as_str().to_string(),
                m.client_host.as_str().to_string(),
                sub,
                parts(&m.assignment),
                parts(&m.target_assignment),
            )
        })
        .collect();
    members.sort();
    members
}

fn describe_consumer(a: &DescribeArgs, g: &ConsumerGroup, offsets: &[OffsetRow]) -> Result<()> {
    let members = consumer_members(g);
    let mut owner: HashMap<(String, i32), String> = HashMap::new();
    for (id, _, _, _, _, asg, _) in &members {
        for (t, ps) in asg {
            for p in ps {
                owner.insert((t.clone(), *p), id.clone());
            }
        }
    }
    match a.common.output {
        Output::Table => {
            let mut s = format!(
                "group: {}\ntype: consumer\nstate: {}\ngroup epoch: {}\nassignment epoch: {}\n\
                 assignor: {}\nmembers: {}\n",
                a.group,
                g.group_state.as_str(),
                g.group_epoch,
                g.assignment_epoch,
                or_dash(g.assignor_name.as_str()),
                members.len()
            );
            if !members.is_empty() {
                s.push('\n');
                let rows: Vec<Vec<String>> = members
                    .iter()
                    .map(|(id, epoch, client, host, sub, asg, target)| {
                        vec![
                            id.clone(),
                            epoch.to_string(),
                            client.clone(),
                            host.clone(),
                            sub.join(","),
                            format_assignment(Some(asg)),
                            format_assignment(Some(target)),
                        ]
                    })
                    .collect();
                s.push_str(&table(
                    &[
                        "MEMBER-ID",
                        "EPOCH",
                        "CLIENT-ID",
                        "HOST",
                        "SUBSCRIPTION",
                        "ASSIGNMENT",
                        "TARGET",
                    ],
                    &rows,
                ));
            }
            s.push('\n');
            s.push_str(&offsets_table(offsets, &owner));
            emit(&s)
        }
        Output::Json => {
            let asg_json = |a: &Assignment| {
                Json::Arr(
                    a.iter()
                        .map(|(t, ps)| {
                            Json::obj(vec![
                                ("topic", Json::str(t)),
                                ("partitions", Json::ints(ps)),
                            ])
                        })
                        .collect(),
                )
            };
            let ms = members
                .iter()
                .map(|(id, epoch, client, host, sub, asg, target)| {
                    Json::obj(vec![
                        ("member_id", Json::str(id)),
                        ("member_epoch", Json::Int((*epoch).into())),
                        ("client_id", Json::str(client)),
                        ("host", Json::str(host)),
                        (
                            "subscription",
                            Json::Arr(sub.iter().map(String::as_str).map(Json::str).collect()),
                        ),
                        ("assignment", asg_json(asg)),
                        ("target_assignment", asg_json(target)),
                    ])
                })
                .collect();
            let j = Json::obj(vec![
                ("group", Json::str(&a.group)),
                ("type", Json::str("consumer")),
                ("state", Json::str(g.group_state.as_str())),
                ("group_epoch", Json::Int(g.group_epoch.into())),
                ("assignment_epoch", Json::Int(g.assignment_epoch.into())),
                ("assignor", Json::str(g.assignor_name.as_str())),
                ("members", Json::Arr(ms)),
                ("offsets", offsets_json(offsets)),
            ]);
            emit(&format!("{}\n", j.render()))
        }
    }
}

fn lag(o: i64, end: Option<i64>) -> Option<i64> {
    end.map(|e| (e - o).max(0))
}

fn offsets_table(offsets: &[OffsetRow], owner: &HashMap<(String, i32), String>) -> String {
    let rows: Vec<Vec<String>> = offsets
        .iter()
        .map(|(t, p, o, end)| {
            vec![
                t.clone(),
                p.to_string(),
                o.to_string(),
                end.map_or("-".into(), |e| e.to_string()),
                lag(*o, *end).map_or("-".into(), |l| l.to_string()),
                owner
                    .get(&(t.clone(), *p))
                    .cloned()
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        &[
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
        ],
        &rows,
    )
}

fn offsets_json(offsets: &[OffsetRow]) -> Json {
    Json::Arr(
        offsets
            .iter()
            .map(|(t, p, o, end)| {
                Json::obj(vec![
                    ("topic", Json::str(t)),
                    ("partition", Json::Int((*p).into())),
                    ("committed_offset", Json::Int(*o)),
                    ("log_end_offset", end.map_or(Json::Null, Json::Int)),
                    ("lag", lag(*o, *end).map_or(Json::Null, Json::Int)),
                ])
            })
            .collect(),
    )
}

/// A member: (member id, client id, host, decoded assignment).
type Member = (String, String, String, Option<Assignment>);
/// A consumer-protocol assignment: (topic, partitions).
type Assignment = Vec<(String, Vec<i32>)>;

/// Per committed partition: (topic, partition, committed, log end offset if known).
type OffsetRow = (String, i32, i64, Option<i64>);

fn offsets_with_ends(cluster: &mut Cluster, group: &str) -> Result<Vec<OffsetRow>> {
    let committed = fetch_committed(cluster, group, None)?;
    let topics: BTreeSet<String> = committed.keys().map(|(t, _)| t.clone()).collect();
    let mut ends: HashMap<String, HashMap<i32, i64>> = HashMap::new();
    for t in &topics {
        // A deleted topic keeps its commits until they expire: show them without an end.
        if let Ok(parts) = partitions(cluster, t) {
            ends.insert(t.clone(), list_offsets(cluster, t, &parts, LATEST)?);
        }
    }
    Ok(committed
        .into_iter()
        .map(|((t, p), o)| {
            let end = ends.get(&t).and_then(|m| m.get(&p)).copied();
            (t, p, o, end)
        })
        .collect())
}

pub fn describe(a: DescribeArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    if super::share_group::describe(&a, &mut cluster)? {
        return Ok(());
    }
    if let Some(cg) = describe_consumer_group(&mut cluster, &a.group)? {
        let offsets = offsets_with_ends(&mut cluster, &a.group)?;
        return describe_consumer(&a, &cg, &offsets);
    }
    let g = describe_group(&mut cluster, &a.group)?;
    let offsets = offsets_with_ends(&mut cluster, &a.group)?;
    let ptype = g.protocol_type.as_str().to_string();
    let members: Vec<Member> = g
        .members
        .iter()
        .map(|m| {
            (
                m.member_id.as_str().to_string(),
                m.client_id.as_str().to_string(),
                m.client_host.as_str().to_string(),
                decode_assignment(&ptype, &m.member_assignment),
            )
        })
        .collect();
    let mut owner: HashMap<(String, i32), String> = HashMap::new();
    for (id, _, _, asg) in &members {
        for (t, ps) in asg.iter().flatten() {
            for p in ps {
                owner.insert((t.clone(), *p), id.clone());
            }
        }
    }
    match a.common.output {
        Output::Table => {
            let mut s = format!(
                "group: {}\ntype: classic\nstate: {}\nprotocol type: {}\nprotocol: {}\nmembers: {}\n",
                a.group,
                g.group_state.as_str(),
                or_dash(&ptype),
                or_dash(g.protocol_data.as_str()),
                members.len()
            );
            if !members.is_empty() {
                s.push('\n');
                let rows: Vec<Vec<String>> = members
                    .iter()
                    .map(|(id, client, host, asg)| {
                        vec![
                            id.clone(),
                            client.clone(),
                            host.clone(),
                            format_assignment(asg.as_deref()),
                        ]
                    })
                    .collect();
                s.push_str(&table(
                    &["MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"],
                    &rows,
                ));
            }
            s.push('\n');
            s.push_str(&offsets_table(&offsets, &owner));
            emit(&s)
        }
        Output::Json => {
            let ms = members
                .iter()
                .map(|(id, client, host, asg)| {
                    let asg = match asg {
                        Some(a) => Json::Arr(
                            a.iter()
                                .map(|(t, ps)| {
                                    Json::obj(vec![
                                        ("topic", Json::str(t)),
                                        ("partitions", Json::ints(ps)),
                                    ])
                                })
                                .collect(),
                        ),
                        None => Json::Null,
                    };
                    Json::obj(vec![
                        ("member_id", Json::str(id)),
                        ("client_id", Json::str(client)),
                        ("host", Json::str(host)),
                        ("assignment", asg),
                    ])
                })
                .collect();
            let j = Json::obj(vec![
                ("group", Json::str(&a.group)),
                ("type", Json::str("classic")),
                ("state", Json::str(g.group_state.as_str())),
                ("protocol_type", Json::str(&ptype)),
                ("protocol", Json::str(g.protocol_data.as_str())),
                ("members", Json::Arr(ms)),
                ("offsets", offsets_json(&offsets)),
            ]);
            emit(&format!("{}\n", j.render()))
        }
    }
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

fn format_assignment(a: Option<&[(String, Vec<i32>)]>) -> String {
    match a {
        None => "-".into(),
        Some(a) => a
            .iter()
            .map(|(t, ps)| format!("{t}:{}", super::output::ids(ps)))
            .collect::<Vec<_>>()
            .join(";"),
    }
}

pub fn reset_offsets(a: ResetArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let g = describe_group(&mut cluster, &a.group)?;
    if !g.members.is_empty() {
        bail!(
            "group {} has {} active member(s) (state {}): offsets can only be reset while the \
             group is inactive; stop its consumers first",
            a.group,
            g.members.len(),
            g.group_state.as_str()
        );
    }
    let parts = partitions(&mut cluster, &a.topic)?;
    let ids: Vec<i32> = parts.iter().map(|p| p.partition).collect();
    let current = fetch_committed(&mut cluster, &a.group, Some((&a.topic, &ids)))?;
    let start = list_offsets(&mut cluster, &a.topic, &parts, EARLIEST)?;
    let end = list_offsets(&mut cluster, &a.topic, &parts, LATEST)?;
    let target = match (a.to_earliest, a.to_latest, a.to_offset) {
        (true, _, _) => Target::Earliest,
        (_, true, _) => Target::Latest,
        (_, _, Some(n)) => Target::Offset(n),
        _ => bail!("give one of --to-earliest, --to-latest, --to-offset N"),
    };
    let mut plan: BTreeMap<i32, i64> = BTreeMap::new();
    for p in &ids {
        let lo = start.get(p).copied().unwrap_or(0);
        let hi = end.get(p).copied().unwrap_or(lo);
        plan.insert(*p, new_offset(target, lo, hi, None));
    }
    let cur = |p: i32| current.get(&(a.topic.clone(), p)).copied();
    match a.common.output {
        Output::Table => {
            let rows: Vec<Vec<String>> = plan
                .iter()
                .map(|(p, n)| {
                    vec![
                        a.topic.clone(),
                        p.to_string(),
                        cur(*p).map_or("-".into(), |c| c.to_string()),
                        n.to_string(),
                    ]
                })
                .collect();
            emit(&table(
                &["TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"],
                &rows,
            ))?;
        }
        Output::Json => {
            let items = plan
                .iter()
                .map(|(p, n)| {
                    Json::obj(vec![
                        ("topic", Json::str(&a.topic)),
                        ("partition", Json::Int((*p).into())),
                        ("current_offset", cur(*p).map_or(Json::Null, Json::Int)),
                        ("new_offset", Json::Int(*n)),
                    ])
                })
                .collect();
            let j = Json::obj(vec![
                ("group", Json::str(&a.group)),
                ("executed", Json::Bool(a.execute)),
                ("offsets", Json::Arr(items)),
            ]);
            emit(&format!("{}\n", j.render()))?;
        }
    }
    if a.execute {
        commit(&mut cluster, &a.group, &a.topic, &plan)?;
        eprintln!("committed new offsets for group {}", a.group);
    } else {
        eprintln!("dry run: nothing committed (add --execute to commit these offsets)");
    }
    Ok(())
}

pub fn delete(a: DeleteArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let conn = cluster.coordinator(&a.group)?;
    let v = conn.version::<DeleteGroupsRequest>(0, 2)?;
    let mut req = DeleteGroupsRequest::default();
    req.groups_names = vec![group_id(&a.group)];
    let resp = conn.call(v, &req)?;
    let r = resp
        .results
        .first()
        .ok_or_else(|| anyhow!("DeleteGroups: empty answer"))?;
    check(r.error_code, None, &format!("delete group {}", a.group))?;
    match a.common.output {
        Output::Table => emit(&format!("deleted group {}\n", a.group)),
        Output::Json => emit(&format!(
            "{}\n",
            Json::obj(vec![("deleted", Json::str(&a.group))]).render()
        )),
    }
}
