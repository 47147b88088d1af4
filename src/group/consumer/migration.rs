//! Online migration between classic and consumer groups (KIP-848), as Kafka's
//! GroupMetadataManager does it:
//!
//! * **Upgrade** — a ConsumerGroupHeartbeat joining a non-empty classic group whose protocol
//!   type is "consumer" converts it (`group.consumer.migration.policy` upgrade or
//!   bidirectional, and no more members than `group.consumer.max.size`): the classic members
//!   become consumer-group members at the group's generation, Stable, with the partitions
//!   of their last classic assignment (decoded from the ConsumerProtocol bytes) as current
//!   and target assignment, their subscription from their JoinGroup metadata, and their
//!   JoinGroup protocols and session timeout kept as ClassicMemberMetadata. Kafka's records:
//!   a GroupMetadata tombstone, then the consumer group's records.
//! * **Classic members inside a consumer group** — JoinGroup, SyncGroup, Heartbeat and
//!   LeaveGroup keep working: a JoinGroup updates the member's subscription and reconciles it
//!   towards the server assignor's target (the partitions it reports owning in its
//!   subscription count as owned, so revocation comes before reassignment); the generation
//!   of the answer is the member epoch; SyncGroup returns the member's assigned partitions as
//!   a ConsumerProtocolAssignment; Heartbeat answers REBALANCE_IN_PROGRESS when the group
//!   epoch moved past the member's epoch, when it must revoke, or when partitions it waits
//!   for were released. Sessions expire after the member's classic session timeout; a
//!   member told to rejoin must join, and a joined member must sync, within its rebalance
//!   timeout (Kafka's join and sync timeouts, here the member's ConsumerRebalance timer).
//! * **Downgrade** — when the last member using the consumer protocol leaves or is fenced,
//!   only classic members remain (at least one), the policy allows it (downgrade or
//!   bidirectional) and they are no more than `group.max.size`: the consumer group's records
//!   are deleted, a GroupMetadata record writes the classic group (generation = group epoch,
//!   each member's target assignment as its assignment), and the classic group rebalances.
//!
//! Committed offsets belong to the group id and are untouched by either conversion.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use uuid::Uuid;

use super::heartbeat::{rebalance_key, session_key};
use super::reconcile::reconcile;
use super::records::{self, Assignment, ClassicMemberMetadata, ConsumerKey};
use super::{ClassicDeadline, ConsumerGroup, Member, MemberState};
use crate::group::classic::CONSUMER_PROTOCOL_TYPE;
use crate::group::context::Cx;
use crate::group::errors::*;
use crate::group::membership::leave_result;
use crate::group::records::{GroupMetadataValue, MemberMetadata, RecordKey};
use crate::group::types::{
    ErrorCode, Heartbeat, JoinGroup, JoinResult, LeaveGroup, LeaveResult, Outcome, RequestId,
    Response, SyncGroup, SyncResult, TopicsImage,
};
use crate::group::GroupCoordinator;

/// A ConsumerProtocolAssignment as (topic, partitions); None when it does not decode. Empty
/// bytes (a member that never received an assignment) are no partitions.
pub fn decode_assignment(bytes: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut b = Bytes::copy_from_slice(bytes);
    if b.remaining() < 2 {
        return None;
    }
    // Newer versions only add fields at the end: read them as the newest known.
    let version = b.get_i16();
    if version < 0 {
        return None;
    }
    let a = ConsumerProtocolAssignment::decode(&mut b, version.min(3)).ok()?;
    Some(
        a.assigned_partitions
            .into_iter()
            .map(|tp| (tp.topic.as_str().to_string(), tp.partitions))
            .collect(),
    )
}

/// A ConsumerProtocolAssignment of `version` (capped to 3, the newest Kafka defines).
pub fn encode_assignment(version: i16, partitions: &[(String, Vec<i32>)]) -> Bytes {
    let version = version.clamp(0, 3);
    let a = ConsumerProtocolAssignment::default().with_assigned_partitions(
        partitions
            .iter()
            .map(|(t, ps)| {
                TopicPartition::default()
                    .with_topic(StrBytes::from_string(t.clone()).into())
                    .with_partitions(ps.clone())
            })
            .collect(),
    );
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    if a.encode(&mut buf, version).is_err() {
        return Bytes::new();
    }
    buf.freeze()
}

/// The version of a ConsumerProtocol payload (its first i16; 0 when absent).
fn protocol_version(metadata: &[u8]) -> i16 {
    if metadata.len() < 2 {
        return 0;
    }
    i16::from_be_bytes([metadata[0], metadata[1]])
}

/// What a classic member's subscription metadata says.
struct Subscription {
    topics: Vec<String>,
    owned: Vec<(String, Vec<i32>)>,
    rack_id: Option<String>,
}

fn decode_subscription(metadata: &[u8]) -> Option<Subscription> {
    let mut b = Bytes::copy_from_slice(metadata);
    if b.remaining() < 2 {
        return None;
    }
    let version = b.get_i16();
    if version < 0 {
        return None;
    }
    let s = ConsumerProtocolSubscription::decode(&mut b, version.min(3)).ok()?;
    let topics: BTreeSet<String> = s.topics.iter().map(|t| t.as_str().to_string()).collect();
    Some(Subscription {
        topics: topics.into_iter().collect(),
        owned: s
            .owned_partitions
            .into_iter()
            .map(|tp| (tp.topic.as_str().to_string(), tp.partitions))
            .collect(),
        rack_id: s.rack_id.map(|r| r.as_str().to_string()),
    })
}

/// Partitions by topic name → by topic id (topics `image` does not know are dropped, as
/// Kafka's toTopicPartitionMap does).
fn by_id(parts: &[(String, Vec<i32>)], image: &TopicsImage) -> Assignment {
    let mut a = Assignment::new();
    for (topic, ps) in parts {
        if let Some(t) = image.by_name.get(topic) {
            if !ps.is_empty() {
                a.entry(t.id).or_default().extend(ps.iter().copied());
            }
        }
    }
    a
}

/// Partitions by topic id → by name, with the group's subscribed topics' metadata (and the
/// last topics image for topics no longer subscribed).
fn by_name(
    a: &Assignment,
    group: &ConsumerGroup,
    image: Option<&TopicsImage>,
) -> Vec<(String, Vec<i32>)> {
    a.iter()
        .filter_map(|(id, ps)| {
            let name = group
                .subscription_metadata
                .values()
                .find(|t| t.id == *id)
                .map(|t| t.name.clone())
                .or_else(|| image.and_then(|i| i.name_of(id)).map(str::to_string))?;
            Some((name, ps.iter().copied().collect()))
        })
        .collect()
}

/// Kafka's vote for a classic group's protocol: among the protocols every member supports,
/// each member votes for its most preferred; most votes wins (ties: first voted for).
fn select_protocol(members: &[&ClassicMemberMetadata]) -> Option<String> {
    let candidates: BTreeSet<&str> = members
        .first()?
        .protocols
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| {
            members
                .iter()
                .all(|m| m.protocols.iter().any(|(p, _)| p == n))
        })
        .collect();
    let mut votes: Vec<(&str, usize)> = Vec::new();
    for m in members {
        if let Some((name, _)) = m
            .protocols
            .iter()
            .find(|(n, _)| candidates.contains(n.as_str()))
        {
            match votes.iter_mut().find(|(n, _)| *n == name.as_str()) {
                Some((_, c)) => *c += 1,
                None => votes.push((name.as_str(), 1)),
            }
        }
    }
    let mut best: Option<(&str, usize)> = None;
    for (name, count) in votes {
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((name, count));
        }
    }
    best.map(|(n, _)| n.to_string())
}

type Failure = (ErrorCode, String);

impl GroupCoordinator {
    /// Kafka's validateOnlineUpgrade (for a non-empty classic group).
    pub(in crate::group) fn can_upgrade(&self, group_id: &str) -> bool {
        let Some(g) = self.groups.get(group_id) else {
            return false;
        };
        if !self.config.consumer.migration_policy.upgrade_enabled() {
            tracing::info!(
                group_id,
                "cannot upgrade classic group to consumer group: the online upgrade is disabled"
            );
            return false;
        }
        if g.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            tracing::info!(
                group_id,
                "cannot upgrade classic group: it does not use the consumer embedded protocol"
            );
            return false;
        }
        if g.num_members() > self.config.consumer.max_size {
            tracing::info!(
                group_id,
                "cannot upgrade classic group: its size exceeds group.consumer.max.size"
            );
            return false;
        }
        true
    }

    /// Kafka's convertToConsumerGroup: parked JoinGroup/SyncGroup requests are answered
    /// REBALANCE_IN_PROGRESS, the classic group's timers cancelled, its GroupMetadata
    /// tombstoned, and the consumer group written (members, group epoch, targets, assignment
    /// epoch, current assignments), each member's session armed with its classic timeout.
    pub(in crate::group) fn convert_to_consumer_group(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        image: &TopicsImage,
    ) -> Result<(), Failure> {
        let Some(classic) = self.groups.get(group_id) else {
            return Err((GROUP_ID_NOT_FOUND, format!("Group {group_id} not found.")));
        };
        let malformed = || {
            (
                GROUP_ID_NOT_FOUND,
                format!(
                    "Cannot upgrade the classic group {group_id} to consumer group because the \
                     embedded consumer protocol is malformed."
                ),
            )
        };
        let generation = classic.generation_id;
        let protocol = classic.protocol_name.clone();
        let mut members = Vec::new();
        for m in classic.members() {
            let metadata = match &protocol {
                Some(p) => m.metadata(p),
                None => m
                    .protocols
                    .first()
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default(),
            };
            let sub = decode_subscription(&metadata).ok_or_else(malformed)?;
            let assigned = decode_assignment(&m.assignment).ok_or_else(malformed)?;
            let assigned = by_id(&assigned, image);
            members.push(Member {
                member_id: m.member_id.clone(),
                instance_id: m.group_instance_id.clone(),
                rack_id: sub.rack_id,
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                subscribed_topic_names: sub.topics,
                subscribed_topic_regex: None,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                server_assignor: None,
                member_epoch: generation,
                previous_member_epoch: generation,
                state: MemberState::Stable,
                assigned,
                pending_revocation: Assignment::new(),
                classic: Some(ClassicMemberMetadata {
                    session_timeout_ms: m.session_timeout_ms,
                    protocols: m.protocols.clone(),
                }),
            });
        }
        tracing::info!(
            group_id,
            members = members.len(),
            generation,
            "upgrading classic group to consumer group"
        );
        // Parked requests learn of the new rebalance; classic timers go.
        let mut timers = vec![
            crate::group::context::join_key(group_id),
            crate::group::context::sync_key(group_id),
        ];
        for m in classic.members() {
            if let Some(id) = m.awaiting_join {
                let r = JoinResult::error(REBALANCE_IN_PROGRESS, &m.member_id);
                out.responses.push((id, Response::Join(r)));
            }
            if let Some(id) = m.awaiting_sync {
                out.responses
                    .push((id, Response::Sync(SyncResult::error(REBALANCE_IN_PROGRESS))));
            }
            timers.push(crate::group::context::session_key(group_id, &m.member_id));
        }
        for pending in classic.pending_members.keys() {
            timers.push(crate::group::context::session_key(group_id, pending));
        }
        {
            let mut cx = Cx {
                now_ms,
                config: &self.config,
                out,
            };
            for key in timers {
                cx.cancel_timer(key);
            }
        }
        let key = RecordKey::GroupMetadata {
            group: group_id.to_string(),
        };
        self.emit_and_apply(out, now_ms, key, None);

        let g = group_id.to_string();
        for m in &members {
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::MemberMetadata {
                    group: g.clone(),
                    member: m.member_id.clone(),
                },
                Some(m.metadata_value().encode()),
            );
        }
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::GroupEpoch { group: g.clone() },
            Some(records::encode_epoch(generation)),
        );
        for m in &members {
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::TargetAssignmentMember {
                    group: g.clone(),
                    member: m.member_id.clone(),
                },
                Some(records::encode_target_assignment(&m.assigned)),
            );
        }
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::TargetAssignmentEpoch { group: g.clone() },
            Some(records::encode_epoch(generation)),
        );
        for m in &members {
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::CurrentAssignment {
                    group: g.clone(),
                    member: m.member_id.clone(),
                },
                Some(m.assignment_value().encode()),
            );
        }
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out,
        };
        for m in &members {
            let session = m.classic.as_ref().map_or(0, |c| c.session_timeout_ms);
            cx.set_timer_in(session_key(group_id, &m.member_id), i64::from(session));
        }
        Ok(())
    }

    /// Kafka's validateOnlineDowngradeWithFencedMember.
    fn can_downgrade_without(&self, group_id: &str, fenced: &str) -> bool {
        let Some(g) = self.consumer.get(group_id) else {
            return false;
        };
        if !g.all_members_use_classic_except(fenced) || g.members.len() <= 1 {
            return false;
        }
        if !self.config.consumer.migration_policy.downgrade_enabled() {
            tracing::info!(
                group_id,
                "cannot downgrade consumer group to classic group: the online downgrade is disabled"
            );
            return false;
        }
        if g.members.len() - 1 > self.config.max_size {
            tracing::info!(
                group_id,
                "cannot downgrade consumer group: its size exceeds group.max.size"
            );
            return false;
        }
        true
    }

    /// When `fenced` (leaving or fenced) is the last member using the consumer protocol and
    /// the downgrade is allowed, convert the group to a classic group (Kafka's
    /// convertToClassicGroup) and return true; the classic group then rebalances.
    pub(in crate::group) fn maybe_downgrade(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        fenced: &str,
    ) -> bool {
        if !self.can_downgrade_without(group_id, fenced) {
            return false;
        }
        let Some(g) = self.consumer.get(group_id).cloned() else {
            return false;
        };
        let remaining: Vec<&Member> = g
            .members
            .values()
            .filter(|m| m.member_id != fenced)
            .collect();
        let classic: Vec<&ClassicMemberMetadata> = remaining
            .iter()
            .filter_map(|m| m.classic.as_ref())
            .collect();
        let Some(protocol) = select_protocol(&classic) else {
            tracing::warn!(
                group_id,
                "cannot downgrade: the classic members share no protocol"
            );
            return false;
        };
        tracing::info!(
            group_id,
            fenced,
            epoch = g.group_epoch,
            "downgrading consumer group to classic group"
        );
        let image = self.last_topics.clone();
        let mut value = GroupMetadataValue {
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
            generation: g.group_epoch,
            protocol: Some(protocol.clone()),
            leader: remaining.first().map(|m| m.member_id.clone()),
            current_state_timestamp: now_ms,
            members: Vec::new(),
        };
        for m in &remaining {
            let Some(c) = &m.classic else { continue };
            let metadata = c
                .protocols
                .iter()
                .find(|(n, _)| *n == protocol)
                .map(|(_, b)| b.clone())
                .unwrap_or_default();
            let target = g.target.get(&m.member_id).cloned().unwrap_or_default();
            let parts = by_name(&target, &g, image.as_deref());
            value.members.push(MemberMetadata {
                member_id: m.member_id.clone(),
                group_instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout: m.rebalance_timeout_ms,
                session_timeout: c.session_timeout_ms,
                subscription: metadata.clone(),
                assignment: encode_assignment(protocol_version(&metadata), &parts),
            });
        }
        // The consumer group's records go (Kafka's createGroupTombstoneRecords order), its
        // timers too.
        let gid = group_id.to_string();
        for key in [
            |group, member| ConsumerKey::CurrentAssignment { group, member },
            |group, member| ConsumerKey::TargetAssignmentMember { group, member },
        ] {
            for m in g.members.keys() {
                self.emit_consumer(out, now_ms, key(gid.clone(), m.clone()), None);
            }
        }
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::TargetAssignmentEpoch { group: gid.clone() },
            None,
        );
        for m in g.members.keys() {
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::MemberMetadata {
                    group: gid.clone(),
                    member: m.clone(),
                },
                None,
            );
        }
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::PartitionMetadata { group: gid.clone() },
            None,
        );
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::GroupEpoch { group: gid.clone() },
            None,
        );
        for m in g.members.keys() {
            self.cancel_member_timers(out, now_ms, group_id, m);
        }
        // The classic group, written and applied through replay (Stable, these members).
        let key = RecordKey::GroupMetadata { group: gid.clone() };
        self.emit_and_apply(out, now_ms, key, Some(value.encode()));
        let Self { groups, config, .. } = self;
        let Some(group) = groups.get_mut(group_id) else {
            return true;
        };
        // The full protocol lists, as the members sent them.
        for m in &remaining {
            if let (Some(c), Some(cm)) = (&m.classic, group.member(&m.member_id).cloned()) {
                group.update_member(
                    &m.member_id,
                    c.protocols.clone(),
                    cm.rebalance_timeout_ms,
                    cm.session_timeout_ms,
                    None,
                );
            }
        }
        let mut cx = Cx {
            now_ms,
            config,
            out,
        };
        let sessions: Vec<(String, i64)> = group
            .members()
            .map(|m| (m.member_id.clone(), i64::from(m.session_timeout_ms)))
            .collect();
        for (member_id, session_ms) in sessions {
            group.reschedule_session(&mut cx, &member_id, session_ms);
        }
        group.prepare_rebalance(&mut cx);
        true
    }

    /// Kafka's validateConsumerGroupMember plus throwIfMemberDoesNotUseClassicProtocol.
    fn classic_member(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<Member, ErrorCode> {
        let g = self.consumer.get(group_id).ok_or(UNKNOWN_MEMBER_ID)?;
        let m = match instance_id {
            None => g.members.get(member_id).ok_or(UNKNOWN_MEMBER_ID)?,
            Some(i) => {
                let m = g.static_member(i).ok_or(UNKNOWN_MEMBER_ID)?;
                if m.member_id != member_id {
                    return Err(FENCED_INSTANCE_ID);
                }
                m
            }
        };
        if !m.uses_classic_protocol() {
            return Err(UNKNOWN_MEMBER_ID);
        }
        Ok(m.clone())
    }

    /// Arms a classic member's deadline: a join deadline only if none is armed (Kafka's
    /// scheduleConsumerGroupJoinTimeoutIfAbsent), a sync deadline always.
    fn arm_classic_deadline(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        member: &Member,
        kind: ClassicDeadline,
    ) {
        let Some(g) = self.consumer.get_mut(group_id) else {
            return;
        };
        if kind == ClassicDeadline::Join && g.classic_timers.contains_key(&member.member_id) {
            return;
        }
        g.classic_timers.insert(member.member_id.clone(), kind);
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out,
        };
        cx.set_timer_in(
            rebalance_key(group_id, &member.member_id),
            i64::from(member.rebalance_timeout_ms),
        );
    }

    fn cancel_classic_deadline(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
        kind: ClassicDeadline,
    ) {
        let Some(g) = self.consumer.get_mut(group_id) else {
            return;
        };
        if g.classic_timers.get(member_id) != Some(&kind) {
            return;
        }
        g.classic_timers.remove(member_id);
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out,
        };
        cx.cancel_timer(rebalance_key(group_id, member_id));
    }

    /// A classic member's join or sync deadline passed (its ConsumerRebalance timer): it is
    /// fenced. Returns false when the timer is not a classic deadline.
    pub(in crate::group) fn on_classic_deadline(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
    ) -> bool {
        let Some(kind) = self
            .consumer
            .get_mut(group_id)
            .and_then(|g| g.classic_timers.remove(member_id))
        else {
            return false;
        };
        tracing::info!(
            group_id,
            member_id,
            ?kind,
            "classic member of a consumer group failed to join or sync within the rebalance timeout"
        );
        self.fence_member(out, now_ms, group_id, member_id);
        true
    }

    fn reschedule_classic_session(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        member: &Member,
    ) {
        let session = member.classic.as_ref().map_or(0, |c| c.session_timeout_ms);
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out,
        };
        cx.set_timer_in(session_key(group_id, &member.member_id), i64::from(session));
    }

    /// Kafka's classicGroupJoinToConsumerGroup: a JoinGroup to a non-empty consumer group.
    pub(in crate::group) fn classic_join_to_consumer(
        &mut self,
        now_ms: i64,
        id: RequestId,
        req: JoinGroup,
        out: &mut Outcome,
    ) {
        let reply = match self.classic_join_inner(now_ms, &req, out) {
            Ok(r) => r,
            Err(code) => JoinResult::error(code, &req.member_id),
        };
        out.responses.push((id, Response::Join(reply)));
    }

    fn classic_join_inner(
        &mut self,
        now_ms: i64,
        req: &JoinGroup,
        out: &mut Outcome,
    ) -> Result<JoinResult, ErrorCode> {
        let group_id = req.group_id.as_str();
        if let Some(image) = &req.topics {
            self.last_topics = Some(Arc::clone(image));
        }
        let unknown = req.member_id.is_empty();
        let member_id = if unknown {
            self.ids.uuid()
        } else {
            req.member_id.clone()
        };
        let g = self.consumer.get(group_id).ok_or(UNKNOWN_MEMBER_ID)?;
        let max_size = self.config.consumer.max_size;
        if g.members.len() >= max_size && (unknown || !g.members.contains_key(&member_id)) {
            return Err(GROUP_MAX_SIZE_REACHED);
        }
        let names: BTreeSet<&str> = req.protocols.iter().map(|(n, _)| n.as_str()).collect();
        if !g.supports_classic_protocols(&req.protocol_type, &names) {
            return Err(INCONSISTENT_GROUP_PROTOCOL);
        }
        if unknown && req.group_instance_id.is_none() && req.version >= 4 {
            // Kafka's requiresKnownMemberId: the member rejoins with this id.
            return Ok(JoinResult::error(MEMBER_ID_REQUIRED, &member_id));
        }
        let sub = req
            .protocols
            .first()
            .and_then(|(_, m)| decode_subscription(m))
            .ok_or(UNKNOWN_SERVER_ERROR)?;

        // The member: existing, new, or a static member replacing the previous instance.
        let mut replaced: Option<Member> = None;
        let member = match &req.group_instance_id {
            None => g
                .members
                .get(&member_id)
                .cloned()
                .unwrap_or_else(|| Member::new(&member_id)),
            Some(instance) => match g.static_member(instance) {
                None => g
                    .members
                    .get(&member_id)
                    .cloned()
                    .unwrap_or_else(|| Member::new(&member_id)),
                Some(existing) if existing.member_id == member_id => existing.clone(),
                // A known member id that is not the instance's: fenced.
                Some(_) if !unknown => return Err(FENCED_INSTANCE_ID),
                Some(existing) => {
                    let mut m = existing.clone();
                    m.member_id = member_id.clone();
                    m.member_epoch = 0;
                    m.previous_member_epoch = 0;
                    replaced = Some(existing.clone());
                    m
                }
            },
        };
        if let Some(old) = &replaced {
            self.replace_member_records(out, now_ms, group_id, old, &member);
        }
        let mut updated = member.clone();
        if let Some(i) = &req.group_instance_id {
            updated.instance_id = Some(i.clone());
        }
        if sub.rack_id.is_some() {
            updated.rack_id = sub.rack_id.clone();
        }
        if req.rebalance_timeout_ms != -1 {
            updated.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        updated.subscribed_topic_names = sub.topics.clone();
        updated.client_id = req.client_id.clone();
        updated.client_host = req.client_host.clone();
        updated.classic = Some(ClassicMemberMetadata {
            session_timeout_ms: req.session_timeout_ms,
            protocols: req.protocols.clone(),
        });
        self.write_member_and_target(out, now_ms, group_id, &member_id, &member, &updated);

        // Reconcile, with the partitions the member reports owning in its subscription.
        let image = self.last_topics.clone().unwrap_or_default();
        let owned = by_id(&sub.owned, &image);
        let (current, next) = {
            let g = self.consumer.get(group_id).ok_or(UNKNOWN_SERVER_ERROR)?;
            let current = g
                .members
                .get(&member_id)
                .ok_or(UNKNOWN_SERVER_ERROR)?
                .clone();
            let target = g.target.get(&member_id).cloned().unwrap_or_default();
            let next = if current.is_reconciled_to(g.assignment_epoch) {
                current.clone()
            } else {
                let owner = |t: &Uuid, p: i32| g.partition_epoch(t, p);
                reconcile(&current, g.assignment_epoch, &target, &owner, Some(&owned))
            };
            (current, next)
        };
        if next != current {
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::CurrentAssignment {
                    group: group_id.to_string(),
                    member: member_id.clone(),
                },
                Some(next.assignment_value().encode()),
            );
        }
        tracing::debug!(
            group_id,
            member_id,
            epoch = next.member_epoch,
            state = ?next.state,
            assigned = ?next.assigned,
            revoking = ?next.pending_revocation,
            "classic member joined the consumer group"
        );
        self.cancel_classic_deadline(out, now_ms, group_id, &member_id, ClassicDeadline::Join);
        self.reschedule_classic_session(out, now_ms, group_id, &next);
        self.arm_classic_deadline(out, now_ms, group_id, &next, ClassicDeadline::Sync);
        let protocol_name = req.protocols.first().map(|(n, _)| n.clone());
        Ok(JoinResult {
            error: NONE,
            generation_id: next.member_epoch,
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
            protocol_name,
            leader: String::new(),
            member_id,
            members: Vec::new(),
            skip_assignment: false,
        })
    }

    /// Kafka's replaceMember: the old static member's records go, the new member id takes
    /// its subscription, target and current assignment.
    pub(in crate::group) fn replace_member_records(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        old: &Member,
        new: &Member,
    ) {
        let old_target = self
            .consumer
            .get(group_id)
            .and_then(|g| g.target.get(&old.member_id).cloned())
            .unwrap_or_default();
        self.remove_member_records(out, now_ms, group_id, &old.member_id);
        self.cancel_member_timers(out, now_ms, group_id, &old.member_id);
        let (g, m) = (group_id.to_string(), new.member_id.clone());
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::MemberMetadata {
                group: g.clone(),
                member: m.clone(),
            },
            Some(new.metadata_value().encode()),
        );
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::TargetAssignmentMember {
                group: g.clone(),
                member: m.clone(),
            },
            Some(records::encode_target_assignment(&old_target)),
        );
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::CurrentAssignment {
                group: g,
                member: m,
            },
            Some(new.assignment_value().encode()),
        );
    }

    /// Kafka's classicGroupSyncToConsumerGroup.
    pub(in crate::group) fn classic_sync_to_consumer(
        &mut self,
        now_ms: i64,
        id: RequestId,
        req: SyncGroup,
        out: &mut Outcome,
    ) {
        let reply = match self.classic_sync_inner(now_ms, &req, out) {
            Ok(r) => r,
            Err(code) => SyncResult::error(code),
        };
        out.responses.push((id, Response::Sync(reply)));
    }

    fn classic_sync_inner(
        &mut self,
        now_ms: i64,
        req: &SyncGroup,
        out: &mut Outcome,
    ) -> Result<SyncResult, ErrorCode> {
        let group_id = req.group_id.as_str();
        let member =
            self.classic_member(group_id, &req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != member.member_epoch {
            return Err(ILLEGAL_GENERATION);
        }
        let (name, metadata) = member
            .classic
            .as_ref()
            .and_then(|c| c.protocols.first().cloned())
            .unwrap_or_default();
        if req
            .protocol_type
            .as_deref()
            .is_some_and(|t| t != CONSUMER_PROTOCOL_TYPE)
            || req.protocol_name.as_deref().is_some_and(|n| n != name)
        {
            return Err(INCONSISTENT_GROUP_PROTOCOL);
        }
        let (group_epoch, parts) = {
            let g = self.consumer.get(group_id).ok_or(UNKNOWN_MEMBER_ID)?;
            (
                g.group_epoch,
                by_name(&member.assigned, g, self.last_topics.as_deref()),
            )
        };
        if group_epoch > member.member_epoch && member.state != MemberState::UnrevokedPartitions {
            self.arm_classic_deadline(out, now_ms, group_id, &member, ClassicDeadline::Join);
            return Err(REBALANCE_IN_PROGRESS);
        }
        self.cancel_classic_deadline(
            out,
            now_ms,
            group_id,
            &member.member_id,
            ClassicDeadline::Sync,
        );
        self.reschedule_classic_session(out, now_ms, group_id, &member);
        Ok(SyncResult {
            error: NONE,
            protocol_type: req.protocol_type.clone(),
            protocol_name: req.protocol_name.clone(),
            assignment: encode_assignment(protocol_version(&metadata), &parts),
        })
    }

    /// Kafka's classicGroupHeartbeatToConsumerGroup.
    pub(in crate::group) fn classic_heartbeat_to_consumer(
        &mut self,
        now_ms: i64,
        req: &Heartbeat,
        out: &mut Outcome,
    ) -> ErrorCode {
        let group_id = req.group_id.as_str();
        let member =
            match self.classic_member(group_id, &req.member_id, req.group_instance_id.as_deref()) {
                Ok(m) => m,
                Err(e) => return e,
            };
        if req.generation_id != member.member_epoch {
            return ILLEGAL_GENERATION;
        }
        self.reschedule_classic_session(out, now_ms, group_id, &member);
        let rejoin = self.consumer.get(group_id).is_some_and(|g| {
            member.member_epoch < g.group_epoch
                || member.state == MemberState::UnrevokedPartitions
                || (member.state == MemberState::UnreleasedPartitions
                    && !g.waiting_on_unreleased_partition(&member))
        });
        if rejoin {
            self.arm_classic_deadline(out, now_ms, group_id, &member, ClassicDeadline::Join);
            return REBALANCE_IN_PROGRESS;
        }
        NONE
    }

    /// Kafka's classicGroupLeaveToConsumerGroup: the classic members named leave; the group
    /// epoch is bumped once if any did.
    pub(in crate::group) fn classic_leave_to_consumer(
        &mut self,
        now_ms: i64,
        req: LeaveGroup,
        out: &mut Outcome,
    ) -> LeaveResult {
        let group_id = req.group_id.clone();
        let mut results = Vec::with_capacity(req.members.len());
        let mut removed = false;
        for (member_id, instance, _reason) in req.members {
            let found = match (&instance, self.consumer.get(&group_id)) {
                (_, None) => Err(UNKNOWN_MEMBER_ID),
                (None, Some(g)) => g.members.get(&member_id).cloned().ok_or(UNKNOWN_MEMBER_ID),
                (Some(i), Some(g)) => match g.static_member(i) {
                    None => Err(UNKNOWN_MEMBER_ID),
                    Some(m) if !member_id.is_empty() && m.member_id != member_id => {
                        Err(FENCED_INSTANCE_ID)
                    }
                    Some(m) => Ok(m.clone()),
                },
            };
            let found = found.and_then(|m| {
                if m.uses_classic_protocol() {
                    Ok(m)
                } else {
                    Err(UNKNOWN_MEMBER_ID)
                }
            });
            match found {
                Ok(m) => {
                    tracing::info!(
                        group_id,
                        member_id = m.member_id,
                        "classic member left the consumer group"
                    );
                    self.remove_member_records(out, now_ms, &group_id, &m.member_id);
                    self.cancel_member_timers(out, now_ms, &group_id, &m.member_id);
                    removed = true;
                    results.push((m.member_id.clone(), instance, NONE));
                }
                Err(e) => results.push((member_id, instance, e)),
            }
        }
        if removed {
            self.refresh_subscription_metadata(out, now_ms, &group_id);
            let epoch = self.consumer.get(&group_id).map_or(0, |g| g.group_epoch) + 1;
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::GroupEpoch {
                    group: group_id.clone(),
                },
                Some(records::encode_epoch(epoch)),
            );
        }
        leave_result(req.version, results)
    }
}
