//! Tests of the group coordinator, driven through its public API with a fake clock
//! ([`Harness::advance`] fires due timers in deadline order) and a deterministic member-id
//! generator (`<client_id>-<n>`). Every test asserts responses, emitted records and timers.

mod admin;
mod consumer;
mod join;
mod membership;
mod migration;
mod offsets;
mod partitions;
mod records;
mod replay;
mod share;
mod static_members;
mod txn_offsets;

use std::collections::{BTreeMap, BTreeSet};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::records::{GroupMetadataValue, OffsetCommitValue, RecordKey};
use super::types::*;
use super::{GroupCoordinator, MemberIdGenerator};

/// `<prefix>-<n>`, n counting from 1 across the coordinator.
pub struct CountingIds(u64);

impl MemberIdGenerator for CountingIds {
    fn next(&mut self, client_id: &str) -> String {
        self.0 += 1;
        format!("{client_id}-{}", self.0)
    }

    fn uuid(&mut self) -> String {
        self.0 += 1;
        format!("uuid-{}", self.0)
    }
}

pub const SESSION_MS: i32 = 10_000;
pub const REBALANCE_MS: i32 = 60_000;
pub const INITIAL_DELAY_MS: i32 = 3_000;

pub fn config() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: INITIAL_DELAY_MS,
        ..GroupConfig::default()
    }
}

/// A coordinator with a fake clock, the timers it armed, and every record it emitted.
pub struct Harness {
    pub coord: GroupCoordinator,
    pub now: i64,
    next_id: RequestId,
    pub timers: BTreeMap<TimerKey, i64>,
    pub log: Vec<Record>,
    answered: BTreeSet<RequestId>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(config())
    }

    pub fn with_config(config: GroupConfig) -> Harness {
        Harness {
            coord: GroupCoordinator::new(config, Box::new(CountingIds(0))),
            now: 1_000_000,
            next_id: 0,
            timers: BTreeMap::new(),
            log: Vec::new(),
            answered: BTreeSet::new(),
        }
    }

    /// Records what the runtime would do with an Outcome; checks that no request is answered
    /// twice.
    fn apply(&mut self, out: &Outcome) {
        for (id, _) in &out.responses {
            assert!(self.answered.insert(*id), "request {id} answered twice");
        }
        self.log.extend(out.records.iter().cloned());
        for op in &out.timers {
            match op {
                TimerOp::Set { key, deadline_ms } => {
                    self.timers.insert(key.clone(), *deadline_ms);
                }
                TimerOp::Cancel { key } => {
                    self.timers.remove(key);
                }
            }
        }
    }

    pub fn send(&mut self, request: Request) -> (RequestId, Outcome) {
        self.next_id += 1;
        let id = self.next_id;
        let out = self.coord.handle(self.now, id, request);
        self.apply(&out);
        (id, out)
    }

    /// Sends and expects an immediate answer.
    pub fn call(&mut self, request: Request) -> Response {
        let (id, out) = self.send(request);
        response(&out, id).unwrap_or_else(|| panic!("no immediate answer to {id}: {out:?}"))
    }

    /// Moves the clock, firing every timer that comes due (in deadline order, including
    /// timers armed by earlier firings). Returns the Outcomes of the firings.
    pub fn advance(&mut self, ms: i64) -> Vec<Outcome> {
        let until = self.now + ms;
        let mut outs = Vec::new();
        loop {
            let due = self
                .timers
                .iter()
                .filter(|(_, &d)| d <= until)
                .min_by_key(|(k, &d)| (d, (*k).clone()))
                .map(|(k, &d)| (k.clone(), d));
            let Some((key, deadline)) = due else { break };
            self.timers.remove(&key);
            self.now = self.now.max(deadline);
            let out = self.coord.on_timer(self.now, key);
            self.apply(&out);
            outs.push(out);
        }
        self.now = until;
        outs
    }

    pub fn timer(&self, key: &TimerKey) -> Option<i64> {
        self.timers.get(key).copied()
    }

    /// A fresh coordinator rebuilt from every record emitted so far.
    pub fn replayed(&self) -> GroupCoordinator {
        let mut fresh = GroupCoordinator::new(config(), Box::new(CountingIds(1000)));
        for r in &self.log {
            match r.producer {
                Some((pid, _)) => fresh
                    .replay_transactional(self.now, pid, &r.key, r.value.as_deref())
                    .expect("replay"),
                None => fresh
                    .replay(self.now, &r.key, r.value.as_deref())
                    .expect("replay"),
            }
        }
        fresh
    }
}

/// The response to `id` in an Outcome.
pub fn response(out: &Outcome, id: RequestId) -> Option<Response> {
    out.responses
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, r)| r.clone())
}

/// The response to `id` in any of several Outcomes.
pub fn response_in(outs: &[Outcome], id: RequestId) -> Option<Response> {
    outs.iter().find_map(|o| response(o, id))
}

pub fn join_result(r: Option<Response>) -> JoinResult {
    match r {
        Some(Response::Join(j)) => j,
        other => panic!("expected a JoinGroup response, got {other:?}"),
    }
}

pub fn sync_result(r: Option<Response>) -> SyncResult {
    match r {
        Some(Response::Sync(s)) => s,
        other => panic!("expected a SyncGroup response, got {other:?}"),
    }
}

/// Consumer protocol metadata (ConsumerProtocolSubscription v1) for `topics`.
pub fn subscription(topics: &[&str]) -> Bytes {
    let sub = ConsumerProtocolSubscription::default().with_topics(
        topics
            .iter()
            .map(|t| StrBytes::from_string(t.to_string()))
            .collect(),
    );
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    sub.encode(&mut buf, 1).expect("encode subscription");
    buf.freeze()
}

pub fn join_req(group: &str, member_id: &str, client: &str) -> JoinGroup {
    JoinGroup {
        group_id: group.to_string(),
        member_id: member_id.to_string(),
        group_instance_id: None,
        protocol_type: "consumer".to_string(),
        protocols: vec![("range".to_string(), subscription(&["orders"]))],
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        client_id: client.to_string(),
        client_host: "/127.0.0.1".to_string(),
        reason: None,
        version: 9,
        topics: None,
    }
}

pub fn sync_req(
    group: &str,
    member_id: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> SyncGroup {
    SyncGroup {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member_id.to_string(),
        group_instance_id: None,
        protocol_type: Some("consumer".to_string()),
        protocol_name: Some("range".to_string()),
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
            .collect(),
        version: 5,
    }
}

pub fn heartbeat_req(group: &str, member_id: &str, generation: i32) -> Request {
    Request::Heartbeat(Heartbeat {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member_id.to_string(),
        group_instance_id: None,
    })
}

pub fn leave_req(group: &str, members: &[(&str, Option<&str>)]) -> Request {
    Request::Leave(LeaveGroup {
        group_id: group.to_string(),
        members: members
            .iter()
            .map(|(m, i)| (m.to_string(), i.map(str::to_string), None))
            .collect(),
        version: 5,
    })
}

pub fn commit_req(
    group: &str,
    member_id: &str,
    generation: i32,
    offsets: &[(&str, i32, i64)],
) -> OffsetCommit {
    OffsetCommit {
        group_id: group.to_string(),
        generation_id: generation,
        member_id: member_id.to_string(),
        group_instance_id: None,
        retention_time_ms: -1,
        partitions: offsets
            .iter()
            .map(|(t, p, o)| CommitPartition {
                topic: t.to_string(),
                partition: *p,
                offset: *o,
                leader_epoch: 7,
                metadata: Some(format!("m{o}")),
            })
            .collect(),
        version: 8,
    }
}

pub fn commit_errors(r: Response) -> Vec<(String, i32, ErrorCode)> {
    match r {
        Response::OffsetCommit { partitions } => partitions,
        other => panic!("expected OffsetCommit response, got {other:?}"),
    }
}

/// Joins a new dynamic member the v4+ way (MEMBER_ID_REQUIRED, then rejoin with the id).
/// Returns its member id and the id of the parked JoinGroup.
pub fn join_new(h: &mut Harness, group: &str, client: &str) -> (String, RequestId) {
    let first = join_result(Some(h.call(Request::Join(join_req(group, "", client)))));
    assert_eq!(first.error, 79, "MEMBER_ID_REQUIRED");
    let member_id = first.member_id;
    let (id, out) = h.send(Request::Join(join_req(group, &member_id, client)));
    assert!(response(&out, id).is_none(), "a first join parks");
    (member_id, id)
}

/// A group with one member, Stable at generation 1; returns the member id.
pub fn stable_group_of_one(h: &mut Harness, group: &str) -> String {
    let (m, join_id) = join_new(h, group, "c1");
    let outs = h.advance(i64::from(INITIAL_DELAY_MS));
    let j = join_result(response_in(&outs, join_id));
    assert_eq!(
        (j.error, j.generation_id, j.leader.as_str()),
        (0, 1, m.as_str())
    );
    let s = sync_result(Some(h.call(Request::Sync(sync_req(
        group,
        &m,
        1,
        &[(&m, "a1")],
    )))));
    assert_eq!(s.error, 0);
    m
}

/// A Stable two-member group: returns (leader, follower, generation).
pub fn stable_group_of_two(h: &mut Harness, group: &str) -> (String, String, i32) {
    let (a, ja) = join_new(h, group, "ca");
    let (b, jb) = join_new(h, group, "cb");
    let outs = h.advance(i64::from(INITIAL_DELAY_MS) * 2);
    let ra = join_result(response_in(&outs, ja));
    let rb = join_result(response_in(&outs, jb));
    assert_eq!((ra.error, rb.error), (0, 0));
    let generation = ra.generation_id;
    let (sb, _) = h.send(Request::Sync(sync_req(group, &b, generation, &[])));
    let (sa, out) = h.send(Request::Sync(sync_req(
        group,
        &a,
        generation,
        &[(&a, "pa"), (&b, "pb")],
    )));
    assert_eq!(sync_result(response(&out, sa)).error, 0);
    assert_eq!(
        sync_result(response(&out, sb)).assignment,
        Bytes::from("pb")
    );
    (a, b, generation)
}

/// Decodes a record for assertions.
pub fn decode(record: &Record) -> (RecordKey, Option<DecodedValue>) {
    let key = RecordKey::decode(&record.key).expect("key");
    let value = record.value.as_ref().map(|v| match &key {
        RecordKey::OffsetCommit { .. } => {
            DecodedValue::Offset(OffsetCommitValue::decode(v).expect("offset value"))
        }
        RecordKey::GroupMetadata { .. } => {
            DecodedValue::Group(GroupMetadataValue::decode(v).expect("group value"))
        }
        RecordKey::Consumer(_) | RecordKey::ShareGroup { .. } => DecodedValue::Consumer(v.clone()),
    });
    (key, value)
}

#[derive(Debug, Clone, PartialEq)]
pub enum DecodedValue {
    Consumer(Bytes),
    Offset(OffsetCommitValue),
    Group(GroupMetadataValue),
}

/// The GroupMetadata values in an Outcome.
pub fn group_records(out: &Outcome) -> Vec<GroupMetadataValue> {
    out.records
        .iter()
        .filter_map(|r| match decode(r) {
            (_, Some(DecodedValue::Group(g))) => Some(g),
            _ => None,
        })
        .collect()
}

pub fn session_key(group: &str, member: &str) -> TimerKey {
    TimerKey::Session {
        group_id: group.to_string(),
        member_id: member.to_string(),
    }
}

pub fn join_key(group: &str) -> TimerKey {
    TimerKey::Join {
        group_id: group.to_string(),
    }
}

pub fn sync_key(group: &str) -> TimerKey {
    TimerKey::Sync {
        group_id: group.to_string(),
    }
}
