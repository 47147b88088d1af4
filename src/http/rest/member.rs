//! A v2 consumer instance's group membership: the classic consumer protocol (JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup through the in-process handlers), with protocol type
//! `consumer` and the `range` assignor, so that REST instances and Kafka clients can share a
//! group. The instance whose member the coordinator makes leader computes the range
//! assignment for everyone (like Kafka's RangeAssignor: per topic, members sorted by member
//! id, consecutive partitions, the first `partitions % members` getting one more).
//!
//! One task per instance ([`run`]) joins when subscribed, heartbeats every
//! [`Limits::heartbeat_interval`], rejoins when the coordinator says so, auto-commits
//! consumed offsets every [`AUTO_COMMIT_INTERVAL`] (and before giving partitions up) when the
//! instance has `auto.commit.enable`, and leaves the group when the subscription goes. It
//! holds the proxy weakly: it ends when the proxy or the instance is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

use super::calls::{s, topic_name};
use super::consumers::{Instance, Sub, Tp};
use super::Rest;

pub const PROTOCOL_TYPE: &str = "consumer";
pub const ASSIGNOR: &str = "range";
/// How often consumed offsets are committed with `auto.commit.enable` (Kafka's
/// `auto.commit.interval.ms` default).
pub const AUTO_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// The wait after a failed join (coordinator moving, loading…).
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

const REBALANCE_IN_PROGRESS: i16 = 27;
const UNKNOWN_MEMBER_ID: i16 = 25;
const ILLEGAL_GENERATION: i16 = 22;
const MEMBER_ID_REQUIRED: i16 = 79;
const FENCED_INSTANCE_ID: i16 = 82;

/// A ConsumerProtocolSubscription v0 of `topics`.
pub fn encode_subscription(topics: &[String]) -> Bytes {
    let sub =
        ConsumerProtocolSubscription::default().with_topics(topics.iter().map(|t| s(t)).collect());
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    if sub.encode(&mut buf, 0).is_err() {
        return Bytes::new();
    }
    buf.freeze()
}

/// The topics of a ConsumerProtocolSubscription (any version: topics come first, so read as
/// v0 like Kafka); empty when it does not decode.
pub fn decode_subscription(metadata: &[u8]) -> Vec<String> {
    let mut b = Bytes::copy_from_slice(metadata);
    if b.remaining() < 2 || b.get_i16() < 0 {
        return Vec::new();
    }
    ConsumerProtocolSubscription::decode(&mut b, 0)
        .map(|s| s.topics.iter().map(|t| t.as_str().to_string()).collect())
        .unwrap_or_default()
}

/// A ConsumerProtocolAssignment v0 of `partitions`.
pub fn encode_assignment(partitions: &[Tp]) -> Bytes {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let a = ConsumerProtocolAssignment::default().with_assigned_partitions(
        by_topic
            .into_iter()
            .map(|(t, ps)| {
                AssignedTopic::default()
                    .with_topic(topic_name(t))
                    .with_partitions(ps)
            })
            .collect(),
    );
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    if a.encode(&mut buf, 0).is_err() {
        return Bytes::new();
    }
    buf.freeze()
}

/// The partitions of a ConsumerProtocolAssignment (fields after the partitions are read as
/// v0 would: newer versions only add fields at the end); empty when it does not decode.
pub fn decode_assignment(bytes: &[u8]) -> Vec<Tp> {
    let mut b = Bytes::copy_from_slice(bytes);
    if b.remaining() < 2 || b.get_i16() < 0 {
        return Vec::new();
    }
    ConsumerProtocolAssignment::decode(&mut b, 0)
        .map(|a| {
            a.assigned_partitions
                .into_iter()
                .flat_map(|tp| {
                    let t = tp.topic.0.as_str().to_string();
                    tp.partitions.into_iter().map(move |p| (t.clone(), p))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Kafka's RangeAssignor: `members` are (member id, subscribed topics), `partitions` the
/// partition count of each topic. Answers every member's partitions.
pub fn range_assign(
    members: &[(String, Vec<String>)],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<Tp>> {
    let mut out: BTreeMap<String, Vec<Tp>> = members
        .iter()
        .map(|(m, _)| (m.clone(), Vec::new()))
        .collect();
    let topics: BTreeSet<&String> = members.iter().flat_map(|(_, ts)| ts).collect();
    for t in topics {
        let Some(&count) = partitions.get(t) else {
            continue;
        };
        let mut subscribed: Vec<&String> = members
            .iter()
            .filter(|(_, ts)| ts.contains(t))
            .map(|(m, _)| m)
            .collect();
        subscribed.sort();
        let n = subscribed.len() as i32;
        if n == 0 {
            continue;
        }
        let (per, extra) = (count / n, count % n);
        for (i, m) in subscribed.into_iter().enumerate() {
            let i = i as i32;
            let start = i * per + i.min(extra);
            let len = per + i32::from(i < extra);
            if let Some(v) = out.get_mut(m) {
                v.extend((start..start + len).map(|p| (t.clone(), p)));
            }
        }
    }
    out
}

/// What a round of the member loop should do next.
enum Next {
    Join,
    Heartbeat,
    Idle,
}

/// The membership task of `inst` (see the module note).
pub async fn run(rest: Weak<Rest>, inst: Arc<Instance>) {
    let mut last_commit = Instant::now();
    loop {
        if inst.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(rest) = rest.upgrade() else {
            return;
        };
        let next = {
            let st = inst.state.lock().await;
            match st.sub {
                Sub::Topics(_) | Sub::Pattern(..) if st.rejoin || st.member_id.is_empty() => {
                    Next::Join
                }
                Sub::Topics(_) | Sub::Pattern(..) => Next::Heartbeat,
                Sub::None | Sub::Assigned(_) => Next::Idle,
            }
        };
        let wait = match next {
            Next::Join => {
                if join(&rest, &inst).await {
                    Duration::ZERO
                } else {
                    RETRY_BACKOFF
                }
            }
            Next::Heartbeat => {
                heartbeat(&rest, &inst).await;
                if inst.auto_commit && last_commit.elapsed() >= AUTO_COMMIT_INTERVAL {
                    let _ = inst.commit_consumed(&rest).await;
                    last_commit = Instant::now();
                }
                rest.consumers.limits.heartbeat_interval
            }
            Next::Idle => {
                leave(&rest, &inst).await;
                Duration::from_secs(60)
            }
        };
        drop(rest);
        if !wait.is_zero() {
            tokio::select! {
                _ = inst.changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// The topics a subscription stands for now (a pattern: the matching topics).
async fn subscribed_topics(rest: &Rest, sub: &Sub) -> Vec<String> {
    match sub {
        Sub::Topics(ts) => ts.clone(),
        Sub::Pattern(_, re) => match rest.metadata(None).await {
            Ok(md) => {
                let mut ts: Vec<String> = md
                    .topics
                    .iter()
                    .filter(|t| t.error_code == 0 && !t.is_internal)
                    .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str().to_string()))
                    .filter(|n| re.is_match(n))
                    .collect();
                ts.sort();
                ts
            }
            Err(_) => Vec::new(),
        },
        Sub::None | Sub::Assigned(_) => Vec::new(),
    }
}

/// Join (or rejoin) the group and take this member's assignment. False: it did not work
/// out this time (try again after a backoff).
async fn join(rest: &Rest, inst: &Instance) -> bool {
    if inst.auto_commit {
        let _ = inst.commit_consumed(rest).await;
    }
    let (mut member_id, sub, version) = {
        let mut st = inst.state.lock().await;
        st.revoke();
        (st.member_id.clone(), st.sub.clone(), st.sub_version)
    };
    let topics = subscribed_topics(rest, &sub).await;
    let limits = &rest.consumers.limits;
    let mut joined = None;
    for _ in 0..5 {
        let req = JoinGroupRequest::default()
            .with_group_id(GroupId(s(&inst.group)))
            .with_session_timeout_ms(limits.session_timeout_ms)
            .with_rebalance_timeout_ms(limits.rebalance_timeout_ms)
            .with_member_id(s(&member_id))
            .with_protocol_type(s(PROTOCOL_TYPE))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s(ASSIGNOR))
                .with_metadata(encode_subscription(&topics))]);
        let resp = match rest.call_as(&inst.name, 7, req).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(group = %inst.group, "REST consumer join failed: {}", e.message);
                return false;
            }
        };
        match resp.error_code {
            0 => {
                joined = Some(resp);
                break;
            }
            MEMBER_ID_REQUIRED => member_id = resp.member_id.as_str().to_string(),
            UNKNOWN_MEMBER_ID | FENCED_INSTANCE_ID => member_id.clear(),
            REBALANCE_IN_PROGRESS => {}
            code => {
                tracing::debug!(group = %inst.group, code, "REST consumer join refused");
                inst.state.lock().await.member_id = member_id;
                return false;
            }
        }
    }
    let Some(resp) = joined else {
        inst.state.lock().await.member_id = member_id;
        return false;
    };
    member_id = resp.member_id.as_str().to_string();
    let generation = resp.generation_id;
    let assignments = if resp.leader == resp.member_id {
        leader_assignments(rest, &resp.members).await
    } else {
        Vec::new()
    };
    let req = SyncGroupRequest::default()
        .with_group_id(GroupId(s(&inst.group)))
        .with_generation_id(generation)
        .with_member_id(s(&member_id))
        .with_protocol_type(Some(s(PROTOCOL_TYPE)))
        .with_protocol_name(Some(s(ASSIGNOR)))
        .with_assignments(assignments);
    let synced = rest.call_as(&inst.name, 5, req).await;
    let mut st = inst.state.lock().await;
    st.member_id = member_id;
    st.generation = generation;
    match synced {
        Ok(r) if r.error_code == 0 => {
            if st.sub_version != version {
                st.rejoin = true; // subscribed anew meanwhile
                return true;
            }
            st.rejoin = false;
            st.matched_topics = topics;
            let parts = decode_assignment(&r.assignment);
            st.assign(parts);
            drop(st);
            inst.bump();
            true
        }
        Ok(r) => {
            if matches!(r.error_code, UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION) {
                st.member_id.clear();
            }
            st.rejoin = true;
            r.error_code == REBALANCE_IN_PROGRESS
        }
        Err(_) => {
            st.rejoin = true;
            false
        }
    }
}

/// The leader's SyncGroup assignments for `members`.
async fn leader_assignments(
    rest: &Rest,
    members: &[join_group_response::JoinGroupResponseMember],
) -> Vec<SyncGroupRequestAssignment> {
    let subs: Vec<(String, Vec<String>)> = members
        .iter()
        .map(|m| {
            (
                m.member_id.as_str().to_string(),
                decode_subscription(&m.metadata),
            )
        })
        .collect();
    let topics: BTreeSet<&str> = subs
        .iter()
        .flat_map(|(_, ts)| ts.iter().map(String::as_str))
        .collect();
    let topics: Vec<&str> = topics.into_iter().collect();
    let mut counts = BTreeMap::new();
    if !topics.is_empty() {
        if let Ok(md) = rest.metadata(Some(&topics)).await {
            for t in md.topics.iter().filter(|t| t.error_code == 0) {
                if let Some(n) = &t.name {
                    counts.insert(n.0.as_str().to_string(), t.partitions.len() as i32);
                }
            }
        }
    }
    range_assign(&subs, &counts)
        .into_iter()
        .map(|(m, parts)| {
            SyncGroupRequestAssignment::default()
                .with_member_id(s(&m))
                .with_assignment(encode_assignment(&parts))
        })
        .collect()
}

async fn heartbeat(rest: &Rest, inst: &Instance) {
    let (member_id, generation, pattern) = {
        let st = inst.state.lock().await;
        (
            st.member_id.clone(),
            st.generation,
            matches!(st.sub, Sub::Pattern(..)).then(|| (st.sub.clone(), st.matched_topics.clone())),
        )
    };
    // A pattern subscription follows topics created and deleted (Kafka checks on metadata
    // refresh).
    if let Some((sub, matched)) = pattern {
        if subscribed_topics(rest, &sub).await != matched {
            inst.state.lock().await.rejoin = true;
            return;
        }
    }
    let req = HeartbeatRequest::default()
        .with_group_id(GroupId(s(&inst.group)))
        .with_generation_id(generation)
        .with_member_id(s(&member_id));
    let code = match rest.call_as(&inst.name, 4, req).await {
        Ok(r) => r.error_code,
        Err(_) => return,
    };
    match code {
        0 => {}
        REBALANCE_IN_PROGRESS => inst.state.lock().await.rejoin = true,
        UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION | FENCED_INSTANCE_ID => {
            let mut st = inst.state.lock().await;
            st.member_id.clear();
            st.rejoin = true;
        }
        _ => {} // coordinator moving or loading: the next heartbeat tells
    }
}

/// Leave the group if this instance is a member (after a last auto-commit).
pub async fn leave(rest: &Rest, inst: &Instance) {
    let member_id = {
        let st = inst.state.lock().await;
        if st.member_id.is_empty() {
            return;
        }
        st.member_id.clone()
    };
    if inst.auto_commit {
        let _ = inst.commit_consumed(rest).await;
    }
    let req = LeaveGroupRequest::default()
        .with_group_id(GroupId(s(&inst.group)))
        .with_members(vec![MemberIdentity::default().with_member_id(s(&member_id))]);
    if let Err(e) = rest.call_as(&inst.name, 4, req).await {
        tracing::debug!(group = %inst.group, "REST consumer leave failed: {}", e.message);
    }
    let mut st = inst.state.lock().await;
    st.member_id.clear();
    st.generation = -1;
    if !matches!(st.sub, Sub::Assigned(_)) {
        st.revoke();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assigns_like_kafka() {
        let members = vec![
            ("b".to_string(), vec!["t".to_string(), "u".to_string()]),
            ("a".to_string(), vec!["t".to_string()]),
        ];
        let counts = BTreeMap::from([("t".to_string(), 3), ("u".to_string(), 2)]);
        let a = range_assign(&members, &counts);
        let t = |p| ("t".to_string(), p);
        let u = |p| ("u".to_string(), p);
        assert_eq!(a["a"], vec![t(0), t(1)]);
        assert_eq!(a["b"], vec![t(2), u(0), u(1)]);
    }

    #[test]
    fn protocol_payloads_round_trip() {
        let topics = vec!["x".to_string(), "y".to_string()];
        assert_eq!(decode_subscription(&encode_subscription(&topics)), topics);
        let parts = vec![
            ("x".to_string(), 0),
            ("x".to_string(), 2),
            ("y".to_string(), 1),
        ];
        assert_eq!(decode_assignment(&encode_assignment(&parts)), parts);
        assert!(decode_assignment(b"\xff").is_empty());
        assert!(decode_subscription(b"").is_empty());
    }
}
