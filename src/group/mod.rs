//! The group coordinator: Kafka's classic consumer-group protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup), committed offsets (OffsetCommit, OffsetFetch, OffsetDelete,
//! retention) and group administration (DescribeGroups, ListGroups, DeleteGroups), as a pure
//! state machine: no tokio, no I/O, no clock, no randomness (member ids come from a
//! [`MemberIdGenerator`]).
//!
//! # How it is driven
//!
//! The runtime (src/server/group_runtime.rs) calls [`GroupCoordinator::handle`] for each
//! request and [`GroupCoordinator::on_timer`] when an armed timer fires, always with the
//! current time; each returns an [`Outcome`]: records to append to `__consumer_offsets`,
//! responses to send (possibly for requests handled earlier: a JoinGroup parks until the join
//! phase completes, a follower's SyncGroup until the leader's assignment), and timer
//! operations. At startup it feeds every `__consumer_offsets` record to
//! [`GroupCoordinator::replay`] in log order, then calls [`GroupCoordinator::loaded`] once
//! (also when the log is empty).
//!
//! # Persistent state
//!
//! Records use Kafka's formats (see `records.rs`), keyed so that compaction keeps the latest
//! value: OffsetCommit records per (group, topic, partition), and GroupMetadata records per
//! group, written when a generation's assignment is complete (leader's SyncGroup), when a
//! group becomes Empty, when a static member is replaced without a rebalance, and when a
//! JoinGroup creates a group. Offset records and all tombstones are applied to memory only by
//! `replay`, the same code startup runs. A GroupMetadata value is a snapshot of the live
//! group's persistent fields (generation, protocol type and name, leader, members with
//! metadata and assignment), which replay restores as a Stable (or Empty) group; members then
//! have one session timeout to heartbeat. Rebalance progress in between (parked requests,
//! new members not yet synced) is not persisted, exactly as in Kafka.
//!
//! If the runtime cannot append an Outcome's records it sends `outcome.with_error(15)`
//! instead; memory is then ahead of the log until the next successful write or restart
//! (Kafka would roll its in-memory state back).
//!
//! # Concurrency and isolation
//!
//! One coordinator serves every group; it is not synchronized (the runtime owns it). Groups
//! share nothing mutable but the member-id generator: a request, timer or error for one
//! group never touches another.

pub mod records;
pub mod reset;
pub mod types;

mod admin;
mod classic;
pub mod consumer;
mod context;
pub mod errors;
mod join;
mod membership;
mod offsets;
mod partitions;
pub mod routing;
pub mod share;
mod state;
mod txn_offsets;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use bytes::Bytes;

pub use context::{java_string_hash, partition_for};
pub use offsets::CommittedOffset;
pub use records::RecordError;
pub use state::GroupState;

use classic::Group;
use context::Cx;
use errors::*;
use offsets::OffsetStore;
use records::{GroupMetadataValue, OffsetCommitValue, RecordKey, MAX_RECORD_STRING_BYTES};
use types::*;

/// Source of new member ids. Kafka's format is `prefix + "-" + uuid`, where the prefix is the
/// client id (the group.instance.id for static members).
pub trait MemberIdGenerator {
    fn next(&mut self, client_id: &str) -> String;
    /// A consumer-group member id the coordinator generates (ConsumerGroupHeartbeat v0):
    /// Kafka's `Uuid.randomUuid().toString()`.
    fn uuid(&mut self) -> String;
}

/// The production generator: `client_id-<random uuid>`, like Kafka.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidMemberIds;

impl MemberIdGenerator for UuidMemberIds {
    fn next(&mut self, client_id: &str) -> String {
        format!("{client_id}-{}", uuid::Uuid::new_v4())
    }

    fn uuid(&mut self) -> String {
        kafka_uuid_string(uuid::Uuid::new_v4().as_bytes())
    }
}

/// Kafka's `Uuid.toString()`: URL-safe base64 of the 16 bytes, without padding.
pub fn kafka_uuid_string(bytes: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// A group's persistent view (what a GroupMetadata record holds), for admin and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    pub group_id: String,
    pub state: GroupState,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    pub members: Vec<MemberSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSnapshot {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// The metadata for the group's selected protocol.
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// The classic group coordinator for every group of this broker.
pub struct GroupCoordinator {
    config: GroupConfig,
    ids: Box<dyn MemberIdGenerator + Send>,
    groups: BTreeMap<String, Group>,
    /// Consumer groups (KIP-848); a group id is in `groups` or here, never both.
    consumer: BTreeMap<String, consumer::ConsumerGroup>,
    /// Share groups (KIP-932); a group id is in one of the three maps at most.
    share: BTreeMap<String, crate::share::group::ShareGroup>,
    /// The topics of the last consumer-group request (session expiry recomputes the
    /// subscribed topics' metadata with it).
    last_topics: Option<std::sync::Arc<TopicsImage>>,
    offsets: OffsetStore,
}

impl GroupCoordinator {
    pub fn new(config: GroupConfig, ids: Box<dyn MemberIdGenerator + Send>) -> Self {
        GroupCoordinator {
            config,
            ids,
            groups: BTreeMap::new(),
            consumer: BTreeMap::new(),
            share: BTreeMap::new(),
            last_topics: None,
            offsets: OffsetStore::default(),
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Replace the per-group consumer config overrides (the GROUP config resource).
    pub fn set_group_overrides(&mut self, overrides: BTreeMap<String, (Option<i32>, Option<i32>)>) {
        self.config.consumer.overrides = overrides;
    }

    /// Replace the per-group share config overrides (share.session.timeout.ms,
    /// share.heartbeat.interval.ms).
    pub fn set_share_overrides(&mut self, overrides: BTreeMap<String, (Option<i32>, Option<i32>)>) {
        self.config.share.overrides = overrides;
    }

    /// Handle one request at time `now_ms`. Responses for `id` may be in this Outcome or a
    /// later one (JoinGroup waits for the rebalance; a follower's SyncGroup for the leader).
    pub fn handle(&mut self, now_ms: i64, id: RequestId, request: Request) -> Outcome {
        let mut out = Outcome::default();
        if !strings_fit_records(&request) {
            out.responses
                .push((id, error_response(&request, INVALID_REQUEST)));
            return out;
        }
        if let Some(r) = self.refuse_for_share_group(&request) {
            out.responses.push((id, r));
            return out;
        }
        let response = match request {
            Request::Join(r) => {
                self.join(now_ms, id, r, &mut out);
                None
            }
            Request::Sync(r) => {
                self.sync(now_ms, id, r, &mut out);
                None
            }
            Request::Heartbeat(r) => Some(self.heartbeat(now_ms, &r, &mut out)),
            Request::Leave(r) => Some(self.leave(now_ms, r, &mut out)),
            Request::OffsetCommit(r) => Some(self.offset_commit(now_ms, r, &mut out)),
            Request::TxnOffsetCommit(r) => Some(self.txn_offset_commit(now_ms, r, &mut out)),
            Request::OffsetFetch(r) => Some(self.offset_fetch(r)),
            Request::Describe { groups } => Some(self.describe(groups)),
            Request::List { states, types } => Some(self.list(&states, &types)),
            Request::Delete { groups } => Some(self.delete(now_ms, groups, &mut out)),
            Request::OffsetDelete {
                group_id,
                partitions,
            } => Some(self.offset_delete(now_ms, &group_id, partitions, &mut out)),
            Request::ConsumerHeartbeat(r) => Some(self.consumer_heartbeat(now_ms, *r, &mut out)),
            Request::ConsumerDescribe { groups, topics } => {
                Some(self.consumer_describe(groups, topics))
            }
            Request::ShareHeartbeat(r) => Some(self.share_heartbeat(now_ms, *r, &mut out)),
            Request::ShareDescribe { groups, topics } => Some(self.share_describe(groups, &topics)),
        };
        if let Some(r) = response {
            out.responses.push((id, r));
        }
        out
    }

    /// A timer armed earlier fired. Stale firings (the timer was re-armed or is no longer
    /// expected) are ignored.
    pub fn on_timer(&mut self, now_ms: i64, key: TimerKey) -> Outcome {
        let mut out = Outcome::default();
        let group_id = match &key {
            TimerKey::Session { group_id, .. }
            | TimerKey::Join { group_id }
            | TimerKey::Sync { group_id } => group_id.clone(),
            TimerKey::OffsetsExpiry => {
                self.expire_offsets(now_ms, &mut out);
                return out;
            }
            TimerKey::ConsumerSession { .. } | TimerKey::ConsumerRebalance { .. } => {
                return self.on_consumer_timer(now_ms, key);
            }
            TimerKey::ShareSession { group_id } => {
                return self.on_share_timer(now_ms, group_id);
            }
        };
        let Self { groups, config, .. } = self;
        let Some(group) = groups.get_mut(&group_id) else {
            return out;
        };
        let mut cx = Cx {
            now_ms,
            config,
            out: &mut out,
        };
        match key {
            TimerKey::Session { member_id, .. } => group.on_session_timer(&mut cx, &member_id),
            TimerKey::Join { .. } => group.on_join_timer(&mut cx),
            TimerKey::Sync { .. } => group.on_sync_timer(&mut cx),
            _ => {}
        }
        out
    }

    /// Apply one record from `__consumer_offsets` (startup replay, in log order; also the
    /// path every offset record and tombstone `handle` emits goes through). State is
    /// unchanged when the record does not decode.
    pub fn replay(
        &mut self,
        now_ms: i64,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), RecordError> {
        match RecordKey::decode(key)? {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => match value {
                Some(v) => {
                    let v = OffsetCommitValue::decode(v)?;
                    // Offsets without a group belong to a simple group (Kafka creates it).
                    if !self.consumer.contains_key(&group) && !self.share.contains_key(&group) {
                        self.groups
                            .entry(group.clone())
                            .or_insert_with(|| Group::new(&group, now_ms));
                    }
                    self.offsets.put(&group, &topic, partition, v.into());
                }
                None => self.offsets.remove(&group, &topic, partition),
            },
            RecordKey::GroupMetadata { group } => match value {
                Some(v) => {
                    let v = GroupMetadataValue::decode(v)?;
                    self.consumer.remove(&group);
                    self.groups
                        .insert(group.clone(), Group::from_metadata_value(&group, &v));
                }
                None => {
                    if !self.consumer.contains_key(&group) {
                        self.offsets.remove_pending_group(&group);
                    }
                    if let Some(mut g) = self.groups.remove(&group) {
                        g.transition_to(GroupState::Dead, now_ms);
                    }
                }
            },
            RecordKey::Consumer(key) => {
                if value.is_some() {
                    // A consumer group takes the id over from a classic one.
                    if let Some(mut g) = self.groups.remove(key.group()) {
                        g.transition_to(GroupState::Dead, now_ms);
                    }
                }
                self.replay_consumer(key, value)?;
            }
            RecordKey::ShareGroup { group } => self.replay_share(&group, value)?,
        }
        Ok(())
    }

    /// After replay at startup: session timers for loaded members (they must heartbeat
    /// within one session timeout), a rebalance for groups over group.max.size, and the
    /// periodic OffsetsExpiry timer.
    pub fn loaded(&mut self, now_ms: i64) -> Outcome {
        let mut out = self.groups_loaded(now_ms, |_| true);
        let interval = self.config.offsets_retention_check_interval_ms;
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out: &mut out,
        };
        cx.set_timer_in(TimerKey::OffsetsExpiry, interval);
        out
    }

    /// Session timers for the members of the groups `select` picks, and a rebalance for
    /// those over group.max.size (after their records were replayed).
    fn groups_loaded(&mut self, now_ms: i64, select: impl Fn(&str) -> bool) -> Outcome {
        let mut out = Outcome::default();
        self.consumer_groups_loaded(now_ms, &select, &mut out);
        let Self { groups, config, .. } = self;
        let mut cx = Cx {
            now_ms,
            config,
            out: &mut out,
        };
        for group in groups.values_mut().filter(|g| select(&g.group_id)) {
            let sessions: Vec<(String, i64)> = group
                .members()
                .map(|m| (m.member_id.clone(), i64::from(m.session_timeout_ms)))
                .collect();
            for (member_id, session_ms) in sessions {
                group.reschedule_session(&mut cx, &member_id, session_ms);
            }
            if group.num_members() > cx.config.max_size && group.can_rebalance() {
                group.prepare_rebalance(&mut cx);
            }
        }
        out
    }

    /// The `__consumer_offsets` partition of a group: Kafka's
    /// `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        context::partition_for(group_id, self.config.offsets_topic_partitions)
    }

    /// The committed offset of one partition, if any.
    pub fn committed_offset(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<CommittedOffset> {
        self.offsets.get(group_id, topic, partition).cloned()
    }

    /// Every committed offset as (group, topic, partition, offset), in key order (metrics).
    pub fn committed_offsets(&self) -> impl Iterator<Item = (&str, &str, i32, i64)> + '_ {
        self.offsets.iter()
    }

    /// A consumer group (KIP-848), for admin and tests.
    pub fn consumer_group(&self, group_id: &str) -> Option<&consumer::ConsumerGroup> {
        self.consumer.get(group_id)
    }

    /// Number of committed offsets across all groups.
    pub fn num_offsets(&self) -> usize {
        self.offsets.len()
    }

    /// Every group id, sorted.
    pub fn group_ids(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    /// A group's state and persistent view.
    pub fn group(&self, group_id: &str) -> Option<GroupSnapshot> {
        let g = self.groups.get(group_id)?;
        let protocol = g.protocol_name.clone().unwrap_or_default();
        Some(GroupSnapshot {
            group_id: g.group_id.clone(),
            state: g.state(),
            generation_id: g.generation_id,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol_name.clone(),
            leader_id: g.leader_id.clone(),
            members: g
                .members()
                .map(|m| MemberSnapshot {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    metadata: m.metadata(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        })
    }

    /// A classic or consumer-group request for the id of a share group: Kafka's answer
    /// (INCONSISTENT_GROUP_PROTOCOL for a classic member, GROUP_ID_NOT_FOUND otherwise).
    fn refuse_for_share_group(&self, request: &Request) -> Option<Response> {
        let (group_id, code) = match request {
            Request::Join(r) => (&r.group_id, INCONSISTENT_GROUP_PROTOCOL),
            Request::Sync(r) => (&r.group_id, INCONSISTENT_GROUP_PROTOCOL),
            Request::Heartbeat(r) => (&r.group_id, INCONSISTENT_GROUP_PROTOCOL),
            Request::Leave(r) => (&r.group_id, UNKNOWN_MEMBER_ID),
            Request::OffsetCommit(r) => (&r.group_id, GROUP_ID_NOT_FOUND),
            Request::TxnOffsetCommit(r) => (&r.group_id, GROUP_ID_NOT_FOUND),
            Request::ConsumerHeartbeat(r) => (&r.group_id, GROUP_ID_NOT_FOUND),
            _ => return None,
        };
        if !self.share.contains_key(group_id) {
            return None;
        }
        let mut response = error_response(request, code);
        if let Response::ConsumerHeartbeat(r) = &mut response {
            r.error_message = Some(format!("Group {group_id} is not a consumer group."));
        }
        Some(response)
    }

    fn join(&mut self, now_ms: i64, id: RequestId, req: JoinGroup, out: &mut Outcome) {
        let reject = |out: &mut Outcome, error| {
            let r = JoinResult::error(error, &req.member_id);
            out.responses.push((id, Response::Join(r)));
        };
        if req.group_id.is_empty() {
            return reject(out, INVALID_GROUP_ID);
        }
        let timeout = req.session_timeout_ms;
        if timeout < self.config.min_session_timeout_ms
            || timeout > self.config.max_session_timeout_ms
        {
            return reject(out, INVALID_SESSION_TIMEOUT);
        }
        // A consumer group (KIP-848) of this id: a classic member joins it as a member
        // using the classic protocol (consumer/migration.rs); an empty one gives the id over
        // to the classic protocol (Kafka deletes it and creates a classic group).
        if let Some(cg) = self.consumer.get(&req.group_id) {
            if !cg.members.is_empty() {
                return self.classic_join_to_consumer(now_ms, id, req, out);
            }
            self.delete_consumer_group_records(out, now_ms, &req.group_id);
        }
        let new_member = req.member_id.is_empty();
        let new_group = !self.groups.contains_key(&req.group_id);
        if new_group && !new_member {
            return reject(out, UNKNOWN_MEMBER_ID);
        }
        let Self {
            groups,
            config,
            ids,
            ..
        } = self;
        let group_id = req.group_id.clone();
        let group = groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::new(&group_id, now_ms));
        let mut cx = Cx {
            now_ms,
            config,
            out,
        };
        let records_before = cx.out.records.len();
        if !accept_joining_member(group, &req.member_id, config.max_size) {
            group.remove_member(&mut cx, &req.member_id, true);
            let r = JoinResult::error(GROUP_MAX_SIZE_REACHED, "");
            cx.respond(id, Response::Join(r));
        } else if new_member {
            group.join_new_member(&mut cx, ids.as_mut(), id, req);
        } else {
            group.join_existing_member(&mut cx, id, req);
        }
        if new_group && cx.out.records.len() == records_before {
            // Kafka commits a newly created group with an empty GroupMetadata record.
            let value = GroupMetadataValue {
                protocol_type: String::new(),
                generation: 0,
                protocol: None,
                leader: None,
                current_state_timestamp: group.state_timestamp_ms().unwrap_or(-1),
                members: Vec::new(),
            };
            let key = RecordKey::GroupMetadata { group: group_id };
            cx.push_record(&key, Some(value.encode()));
        }
    }

    fn sync(&mut self, now_ms: i64, id: RequestId, req: SyncGroup, out: &mut Outcome) {
        let error = |e| Response::Sync(SyncResult::error(e));
        if req.group_id.is_empty() {
            return out.responses.push((id, error(INVALID_GROUP_ID)));
        }
        if self.consumer.contains_key(&req.group_id) {
            return self.classic_sync_to_consumer(now_ms, id, req, out);
        }
        let Self { groups, config, .. } = self;
        match groups.get_mut(&req.group_id) {
            Some(group) if !group.is(GroupState::Empty) => {
                let mut cx = Cx {
                    now_ms,
                    config,
                    out,
                };
                group.sync(&mut cx, id, req);
            }
            _ => out.responses.push((id, error(UNKNOWN_MEMBER_ID))),
        }
    }

    fn heartbeat(&mut self, now_ms: i64, req: &Heartbeat, out: &mut Outcome) -> Response {
        if req.group_id.is_empty() {
            return Response::Heartbeat {
                error: INVALID_GROUP_ID,
            };
        }
        if self.consumer.contains_key(&req.group_id) {
            return Response::Heartbeat {
                error: self.classic_heartbeat_to_consumer(now_ms, req, out),
            };
        }
        let Self { groups, config, .. } = self;
        let error = match groups.get_mut(&req.group_id) {
            Some(group) => group.heartbeat(
                &mut Cx {
                    now_ms,
                    config,
                    out,
                },
                req,
            ),
            None => UNKNOWN_MEMBER_ID,
        };
        Response::Heartbeat { error }
    }

    fn leave(&mut self, now_ms: i64, req: LeaveGroup, out: &mut Outcome) -> Response {
        if req.group_id.is_empty() {
            return Response::Leave(LeaveResult {
                error: INVALID_GROUP_ID,
                members: Vec::new(),
            });
        }
        if self.consumer.contains_key(&req.group_id) {
            return Response::Leave(self.classic_leave_to_consumer(now_ms, req, out));
        }
        let Self { groups, config, .. } = self;
        let result = match groups.get_mut(&req.group_id) {
            Some(group) => group.leave(
                &mut Cx {
                    now_ms,
                    config,
                    out,
                },
                req,
            ),
            None => {
                let members = req
                    .members
                    .into_iter()
                    .map(|(m, i, _)| (m, i, UNKNOWN_MEMBER_ID))
                    .collect();
                membership::leave_result(req.version, members)
            }
        };
        Response::Leave(result)
    }
}

/// Kafka's acceptJoiningMember: group.max.size counts parked joins while preparing a
/// rebalance (so the last rejoiners of an oversized group are turned away), members otherwise.
fn accept_joining_member(group: &Group, member_id: &str, max_size: usize) -> bool {
    match group.state() {
        GroupState::Empty | GroupState::Dead => true,
        GroupState::PreparingRebalance => {
            group
                .member(member_id)
                .is_some_and(|m| m.awaiting_join.is_some())
                || group.num_awaiting_join() < max_size
        }
        GroupState::CompletingRebalance | GroupState::Stable => {
            group.has_member(member_id) || group.num_members() < max_size
        }
    }
}

/// Whether every string a request may write into a record fits Kafka's non-flexible record
/// schemas (i16 lengths). Kafka fails such a write; skua rejects the request up front.
/// (Commit metadata is checked per partition: OFFSET_METADATA_TOO_LARGE.)
fn strings_fit_records(request: &Request) -> bool {
    let fits = |s: &str| s.len() <= MAX_RECORD_STRING_BYTES;
    match request {
        Request::Join(r) => {
            fits(&r.group_id)
                && fits(&r.member_id)
                && r.group_instance_id.as_deref().is_none_or(fits)
                && fits(&r.client_id)
                && fits(&r.client_host)
                && fits(&r.protocol_type)
                && r.protocols.iter().all(|(n, _)| fits(n))
        }
        Request::OffsetCommit(r) => {
            fits(&r.group_id) && r.partitions.iter().all(|p| fits(&p.topic))
        }
        Request::TxnOffsetCommit(r) => {
            fits(&r.group_id) && r.partitions.iter().all(|p| fits(&p.topic))
        }
        _ => true,
    }
}
