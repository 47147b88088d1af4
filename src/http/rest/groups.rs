//! v3 consumer groups (`/v3/clusters/{c}/consumer-groups/…`): groups, their consumers and
//! assignments, per-partition lags and the lag summary, from ListGroups, DescribeGroups
//! (classic groups), ConsumerGroupDescribe (KIP-848 groups), FindCoordinator, OffsetFetch
//! and ListOffsets (read_committed, as Confluent's lag managers).

use hyper::Method;
use serde_json::{json, Value};

use super::v3::{ok, Urls};
use super::{related, Answer, Rest, RestError};
use crate::http::{percent_encode, Request};

/// One member of a group.
struct Member {
    consumer_id: String,
    instance_id: Option<String>,
    client_id: String,
    assignment: Vec<(String, i32)>,
}

/// A group as the v3 API shows it.
struct Group {
    id: String,
    is_simple: bool,
    assignor: String,
    state: String,
    kind: &'static str,
    members: Vec<Member>,
}

/// Kafka's state names (`PreparingRebalance`) as Confluent's enum (`PREPARING_REBALANCE`).
fn state_name(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    if out.is_empty() {
        "UNKNOWN".to_string()
    } else {
        out
    }
}

async fn describe(rest: &Rest, g: &str) -> Result<Option<Group>, RestError> {
    let d = rest.describe_classic_group(g).await?;
    let dead = d.group_state.as_str() == "Dead";
    if d.error_code == 0 && !(dead && d.protocol_type.is_empty()) {
        if !d.protocol_type.is_empty() && d.protocol_type.as_str() != "consumer" {
            return Ok(None); // a Connect or other non-consumer group
        }
        let members = d
            .members
            .iter()
            .map(|m| Member {
                consumer_id: m.member_id.as_str().to_string(),
                instance_id: m.group_instance_id.as_ref().map(|i| i.as_str().to_string()),
                client_id: m.client_id.as_str().to_string(),
                assignment: super::consumers::decode_assignment(&m.member_assignment),
            })
            .collect();
        return Ok(Some(Group {
            id: g.to_string(),
            is_simple: d.protocol_type.is_empty(),
            assignor: d.protocol_data.as_str().to_string(),
            state: state_name(d.group_state.as_str()),
            kind: "CLASSIC",
            members,
        }));
    }
    if d.error_code != 0 && d.error_code != 69 {
        return Err(RestError::kafka(
            d.error_code,
            d.error_message.as_ref().map(|m| m.as_str()),
        ));
    }
    // Not a classic group: a KIP-848 consumer group, or nothing.
    let c = rest.describe_consumer_group(g).await?;
    if c.error_code == 69 {
        return Ok(None);
    }
    if c.error_code != 0 {
        return Err(RestError::kafka(
            c.error_code,
            c.error_message.as_ref().map(|m| m.as_str()),
        ));
    }
    let members = c
        .members
        .iter()
        .map(|m| Member {
            consumer_id: m.member_id.as_str().to_string(),
            instance_id: m.instance_id.as_ref().map(|i| i.as_str().to_string()),
            client_id: m.client_id.as_str().to_string(),
            assignment: m
                .assignment
                .topic_partitions
                .iter()
                .flat_map(|tp| {
                    tp.partitions
                        .iter()
                        .map(|p| (tp.topic_name.0.as_str().to_string(), *p))
                })
                .collect(),
        })
        .collect();
    Ok(Some(Group {
        id: g.to_string(),
        is_simple: false,
        assignor: c.assignor_name.as_str().to_string(),
        state: state_name(c.group_state.as_str()),
        kind: "CONSUMER",
        members,
    }))
}

async fn group_data(rest: &Rest, u: &Urls, g: &Group) -> Value {
    let coordinator = rest.coordinator(&g.id).await;
    let url = group_url(u, &g.id);
    json!({
        "kind": "KafkaConsumerGroup",
        "metadata": u.metadata(url.clone(), &format!("/consumer-group={}", g.id)),
        "cluster_id": u.cluster,
        "consumer_group_id": g.id,
        "is_simple": g.is_simple,
        "partition_assignor": g.assignor,
        "state": g.state,
        "type": g.kind,
        "is_mixed_consumer_group": false,
        "coordinator": if coordinator >= 0 { related(u.broker(coordinator)) } else { Value::Null },
        "consumers": related(format!("{url}/consumers")),
        "lag_summary": related(format!("{url}/lag-summary")),
    })
}

fn group_url(u: &Urls, g: &str) -> String {
    u.at(&format!("/consumer-groups/{}", percent_encode(g)))
}

fn consumer_data(u: &Urls, g: &str, m: &Member) -> Value {
    let url = format!(
        "{}/consumers/{}",
        group_url(u, g),
        percent_encode(&m.consumer_id)
    );
    json!({
        "kind": "KafkaConsumer",
        "metadata": u.metadata(url.clone(), &format!("/consumer-group={g}/consumer={}", m.consumer_id)),
        "cluster_id": u.cluster,
        "consumer_group_id": g,
        "consumer_id": m.consumer_id,
        "instance_id": m.instance_id,
        "client_id": m.client_id,
        "assignments": related(format!("{url}/assignments")),
    })
}

fn assignment_data(u: &Urls, g: &str, m: &Member, t: &str, p: i32) -> Value {
    let url = format!(
        "{}/consumers/{}/assignments/{}/partitions/{p}",
        group_url(u, g),
        percent_encode(&m.consumer_id),
        percent_encode(t)
    );
    json!({
        "kind": "KafkaConsumerAssignment",
        "metadata": u.metadata(url, &format!(
            "/consumer-group={g}/consumer={}/assignment={t}/partition={p}", m.consumer_id)),
        "cluster_id": u.cluster,
        "consumer_group_id": g,
        "consumer_id": m.consumer_id,
        "topic_name": t,
        "partition_id": p,
        "partition": related(u.partition(t, p)),
        "lag": related(format!("{}/lags/{}/partitions/{p}", group_url(u, g), percent_encode(t))),
    })
}

/// One partition's lag.
struct Lag {
    topic: String,
    partition: i32,
    current: i64,
    end: i64,
    member: Option<usize>,
}

async fn lags(rest: &Rest, g: &Group) -> Result<Vec<Lag>, RestError> {
    let committed = rest.committed_offsets(&g.id, None).await?;
    if committed.is_empty() {
        return Err(RestError::new(
            404,
            404,
            "Consumer group offsets could not be found.",
        ));
    }
    let parts: Vec<(String, i32)> = committed
        .iter()
        .map(|(t, p, _, _)| (t.clone(), *p))
        .collect();
    let ends = rest.list_offsets(&parts, super::calls::LATEST, 1).await?;
    let mut out: Vec<Lag> = committed
        .into_iter()
        .filter_map(|(t, p, current, _)| {
            let end = ends
                .iter()
                .find(|((et, ep), _)| *et == t && *ep == p)
                .and_then(|(_, r)| r.ok())?;
            let member = g
                .members
                .iter()
                .position(|m| m.assignment.iter().any(|(mt, mp)| *mt == t && *mp == p));
            Some(Lag {
                topic: t,
                partition: p,
                current,
                end,
                member,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(out)
}

fn lag_data(u: &Urls, g: &Group, l: &Lag) -> Value {
    let m = l.member.and_then(|i| g.members.get(i));
    json!({
        "kind": "KafkaConsumerLag",
        "metadata": u.metadata(
            format!("{}/lags/{}/partitions/{}", group_url(u, &g.id), percent_encode(&l.topic), l.partition),
            &format!("/consumer-group={}/lag={}/partition={}", g.id, l.topic, l.partition),
        ),
        "cluster_id": u.cluster,
        "consumer_group_id": g.id,
        "topic_name": l.topic,
        "partition_id": l.partition,
        "consumer_id": m.map_or("", |m| m.consumer_id.as_str()),
        "instance_id": m.and_then(|m| m.instance_id.clone()),
        "client_id": m.map_or("", |m| m.client_id.as_str()),
        "current_offset": l.current,
        "log_end_offset": l.end,
        "lag": l.end - l.current,
    })
}

fn lag_summary(u: &Urls, g: &Group, lags: &[Lag]) -> Value {
    let total: i64 = lags.iter().map(|l| (l.end - l.current).max(0)).sum();
    // The first partition with the largest lag (Confluent never reports a negative lag).
    let max = lags.iter().fold(None::<&Lag>, |best, l| match best {
        Some(b) if (b.end - b.current).max(0) >= (l.end - l.current).max(0) => Some(b),
        _ => Some(l),
    });
    let m = max.and_then(|l| l.member).and_then(|i| g.members.get(i));
    let consumer_id = m.map_or("", |m| m.consumer_id.as_str());
    json!({
        "kind": "KafkaConsumerGroupLagSummary",
        "metadata": u.metadata(
            format!("{}/lag-summary", group_url(u, &g.id)),
            &format!("/consumer-groups={}/lag-summary", g.id),
        ),
        "cluster_id": u.cluster,
        "consumer_group_id": g.id,
        "max_lag_consumer_id": consumer_id,
        "max_lag_instance_id": m.and_then(|m| m.instance_id.clone()),
        "max_lag_client_id": m.map_or("", |m| m.client_id.as_str()),
        "max_lag_topic_name": max.map_or("", |l| l.topic.as_str()),
        "max_lag_partition_id": max.map_or(0, |l| l.partition),
        "max_lag": max.map_or(0, |l| (l.end - l.current).max(0)),
        "total_lag": total,
        "max_lag_consumer": related(format!("{}/consumers/{}", group_url(u, &g.id), percent_encode(consumer_id))),
        "max_lag_partition": related(max.map_or_else(String::new, |l| u.partition(&l.topic, l.partition))),
    })
}

pub async fn route(rest: &Rest, req: &Request, u: &Urls, tail: &[&str]) -> Answer {
    if req.method != Method::GET {
        return Err(RestError::method_not_allowed());
    }
    let Some((&g, rest_of)) = tail.split_first() else {
        let mut groups = Vec::new();
        let mut listed = rest.list_groups().await?;
        listed.sort();
        for (id, protocol_type, _, kind) in listed {
            let classic = kind.is_empty() || kind.eq_ignore_ascii_case("classic");
            if !(kind.eq_ignore_ascii_case("consumer")
                || classic && (protocol_type.is_empty() || protocol_type == "consumer"))
            {
                continue;
            }
            if let Some(d) = describe(rest, &id).await? {
                groups.push(group_data(rest, u, &d).await);
            }
        }
        return ok(&u.list("KafkaConsumerGroupList", u.at("/consumer-groups"), groups));
    };
    let group = describe(rest, g).await?.ok_or_else(RestError::not_found)?;
    let url = group_url(u, g);
    let member = |cid: &str| {
        group
            .members
            .iter()
            .find(|m| m.consumer_id == cid)
            .ok_or_else(RestError::not_found)
    };
    match rest_of {
        [] => ok(&group_data(rest, u, &group).await),
        ["consumers"] => {
            let data = group
                .members
                .iter()
                .map(|m| consumer_data(u, g, m))
                .collect();
            ok(&u.list("KafkaConsumerList", format!("{url}/consumers"), data))
        }
        ["consumers", cid] => ok(&consumer_data(u, g, member(cid)?)),
        ["consumers", cid, "assignments"] => {
            let m = member(cid)?;
            let data = m
                .assignment
                .iter()
                .map(|(t, p)| assignment_data(u, g, m, t, *p))
                .collect();
            let list_url = format!("{url}/consumers/{}/assignments", percent_encode(cid));
            ok(&u.list("KafkaConsumerAssignmentList", list_url, data))
        }
        ["consumers", cid, "assignments", t, "partitions", p] => {
            let m = member(cid)?;
            let p: i32 = p.parse().map_err(|_| RestError::not_found())?;
            if !m.assignment.iter().any(|(mt, mp)| mt == t && *mp == p) {
                return Err(RestError::not_found());
            }
            ok(&assignment_data(u, g, m, t, p))
        }
        ["lags"] => {
            let lags = lags(rest, &group).await?;
            let data = lags.iter().map(|l| lag_data(u, &group, l)).collect();
            ok(&u.list("KafkaConsumerLagList", format!("{url}/lags"), data))
        }
        ["lags", t, "partitions", p] => {
            let p: i32 = p.parse().map_err(|_| RestError::not_found())?;
            let lags = lags(rest, &group).await?;
            lags.iter()
                .find(|l| l.topic == *t && l.partition == p)
                .map_or_else(
                    || Err(RestError::not_found()),
                    |l| ok(&lag_data(u, &group, l)),
                )
        }
        ["lag-summary"] => {
            let lags = lags(rest, &group).await?;
            ok(&lag_summary(u, &group, &lags))
        }
        _ => Err(RestError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::state_name;

    #[test]
    fn states_read_as_confluents_enum() {
        assert_eq!(state_name("PreparingRebalance"), "PREPARING_REBALANCE");
        assert_eq!(state_name("Stable"), "STABLE");
        assert_eq!(state_name(""), "UNKNOWN");
    }
}
