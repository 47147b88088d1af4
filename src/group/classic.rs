//! One classic group's data: members, static-member map, pending members, the selected
//! protocol and generation, and the in-memory-only rebalance bookkeeping (parked JoinGroup /
//! SyncGroup requests, armed timers). This file holds the data operations (add, remove,
//! replace, protocol vote, validation); the protocol flows live in `join.rs` and
//! `membership.rs`.
//!
//! # Invariants
//!
//! * `members` keeps insertion order; when the leader leaves, the first remaining member leads.
//! * `static_members` maps each member's group_instance_id to its member_id, and nothing else.
//! * `supported_protocols[name]` = number of members listing `name` (each member counted once).
//! * `pending_members` (MEMBER_ID_REQUIRED was answered, the rejoin is awaited) and `members`
//!   are disjoint; `pending_sync` ⊆ members.
//! * A non-empty group has a protocol type; a group in CompletingRebalance or Stable has a
//!   protocol name that every member supports.
//!
//! Only the fields written to GroupMetadataValue (generation, protocol type and name, leader,
//! state timestamp, members with their metadata and assignment) survive a restart.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use indexmap::IndexMap;
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::Decodable;

use super::errors;
use super::records::{GroupMetadataValue, MemberMetadata};
use super::state::GroupState;
use super::types::{ErrorCode, JoinMember, RequestId};

/// The protocol type of Kafka's consumer (its metadata is a ConsumerProtocolSubscription).
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// One member of a classic group.
#[derive(Debug, Clone)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// A parked JoinGroup, answered when the join phase completes.
    pub awaiting_join: Option<RequestId>,
    /// A parked SyncGroup, answered when the leader's assignment arrives.
    pub awaiting_sync: Option<RequestId>,
    /// Joined during the current join phase: its session may expire while it waits.
    pub is_new: bool,
    /// Deadline of the armed session timer (a firing before it is stale).
    pub session_deadline_ms: i64,
}

impl Member {
    /// The metadata this member sent for `protocol` (empty if it did not list it).
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Distinct protocol names (a member listing one twice counts once).
    fn protocol_names(&self) -> BTreeSet<&str> {
        self.protocols.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Kafka: awaiting members satisfy the heartbeat expectation unless they are new.
    pub fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.awaiting_join.is_some() || self.awaiting_sync.is_some())
    }
}

/// Why the group's Join timer is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinTimerKind {
    /// Initial rebalance of a group that was Empty: wait for more members.
    InitialDelay { delay_ms: i32, remaining_ms: i32 },
    /// The rebalance timeout of the join phase.
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinTimer {
    pub deadline_ms: i64,
    pub kind: JoinTimerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncTimer {
    pub deadline_ms: i64,
    pub generation_id: i32,
}

/// One classic group.
#[derive(Debug, Clone)]
pub struct Group {
    pub group_id: String,
    state: GroupState,
    previous_state: GroupState,
    state_timestamp_ms: Option<i64>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    members: IndexMap<String, Member>,
    static_members: HashMap<String, String>,
    /// Pending member id → deadline of its session timer.
    pub pending_members: IndexMap<String, i64>,
    pub pending_sync: BTreeSet<String>,
    supported_protocols: HashMap<String, usize>,
    pub new_member_added: bool,
    pub join_timer: Option<JoinTimer>,
    pub sync_timer: Option<SyncTimer>,
    subscribed_topics: Option<BTreeSet<String>>,
}

impl Group {
    /// A new Empty group (created by a JoinGroup or a simple offset commit).
    pub fn new(group_id: &str, now_ms: i64) -> Group {
        Group {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            previous_state: GroupState::Dead,
            state_timestamp_ms: Some(now_ms),
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: IndexMap::new(),
            static_members: HashMap::new(),
            pending_members: IndexMap::new(),
            pending_sync: BTreeSet::new(),
            supported_protocols: HashMap::new(),
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            subscribed_topics: None,
        }
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn previous_state(&self) -> GroupState {
        self.previous_state
    }

    pub fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    pub fn state_timestamp_ms(&self) -> Option<i64> {
        self.state_timestamp_ms
    }

    /// Moves to `to`; panics on an illegal transition (a coordinator bug).
    pub fn transition_to(&mut self, to: GroupState, now_ms: i64) {
        assert!(
            to.can_follow(self.state),
            "group {}: illegal transition {:?} -> {:?}",
            self.group_id,
            self.state,
            to
        );
        self.previous_state = self.state;
        self.state = to;
        self.state_timestamp_ms = Some(now_ms);
    }

    /// Kafka's canRebalance: PreparingRebalance may follow the current state.
    pub fn can_rebalance(&self) -> bool {
        GroupState::PreparingRebalance.can_follow(self.state)
    }

    pub fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.get(member_id)
    }

    pub fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.get_mut(member_id)
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn members_mut(&mut self) -> impl Iterator<Item = &mut Member> {
        self.members.values_mut()
    }

    pub fn member_ids(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    pub fn num_members(&self) -> usize {
        self.members.len()
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    pub fn is_pending(&self, member_id: &str) -> bool {
        self.pending_members.contains_key(member_id)
    }

    pub fn static_member_id(&self, group_instance_id: &str) -> Option<&str> {
        self.static_members
            .get(group_instance_id)
            .map(String::as_str)
    }

    pub fn num_awaiting_join(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.awaiting_join.is_some())
            .count()
    }

    /// Every member has a parked JoinGroup and no pending member is still expected.
    pub fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join() && self.pending_members.is_empty()
    }

    /// The largest rebalance timeout among members (0 without members).
    pub fn rebalance_timeout_ms(&self) -> i32 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    /// Adds a member; panics if it breaks an invariant (the caller validated the join).
    pub fn add(&mut self, member: Member) {
        if let Some(instance) = &member.group_instance_id {
            assert!(
                !self.static_members.contains_key(instance),
                "group {}: static member {instance} added twice",
                self.group_id
            );
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        assert_eq!(
            self.protocol_type.as_deref(),
            Some(member.protocol_type.as_str()),
            "group {}: protocol type mismatch",
            self.group_id
        );
        assert!(
            self.supports_protocols(&member.protocol_type, &member.protocol_names()),
            "group {}: member {} supports none of the group's protocols",
            self.group_id,
            member.member_id
        );
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        self.count_protocols(&member, true);
        self.pending_members.shift_remove(&member.member_id);
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member (and any trace of it); returns it so the caller can answer its
    /// parked requests and cancel its timer.
    pub fn remove(&mut self, member_id: &str) -> Option<Member> {
        let removed = self.members.shift_remove(member_id);
        if let Some(m) = &removed {
            self.count_protocols(m, false);
            if let Some(instance) = &m.group_instance_id {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
        self.pending_members.shift_remove(member_id);
        self.pending_sync.remove(member_id);
        removed
    }

    fn count_protocols(&mut self, member: &Member, add: bool) {
        for name in member.protocol_names() {
            let count = self
                .supported_protocols
                .entry(name.to_string())
                .or_insert(0);
            if add {
                *count += 1;
            } else {
                *count = count.saturating_sub(1);
            }
        }
        self.supported_protocols.retain(|_, c| *c > 0);
    }

    /// Replaces a member's protocols and timeouts and parks `waiter` as its JoinGroup.
    /// Returns the JoinGroup request it displaced, if one was parked.
    pub fn update_member(
        &mut self,
        member_id: &str,
        protocols: Vec<(String, Bytes)>,
        rebalance_timeout_ms: i32,
        session_timeout_ms: i32,
        waiter: Option<RequestId>,
    ) -> Option<RequestId> {
        let old = self.members.get(member_id).cloned()?;
        self.count_protocols(&old, false);
        let m = self.members.get_mut(member_id)?;
        m.protocols = protocols;
        m.rebalance_timeout_ms = rebalance_timeout_ms;
        m.session_timeout_ms = session_timeout_ms;
        let displaced = std::mem::replace(&mut m.awaiting_join, waiter);
        let updated = m.clone();
        self.count_protocols(&updated, true);
        displaced
    }

    /// KIP-345: the static member `instance` now has member id `new_id`. The old member is
    /// returned (its parked requests must be answered with FENCED_INSTANCE_ID); the new one
    /// keeps its metadata, assignment, leadership and pending-sync obligation.
    pub fn replace_static_member(
        &mut self,
        instance: &str,
        old_id: &str,
        new_id: &str,
    ) -> Option<Member> {
        let index = self.members.get_index_of(old_id)?;
        let (_, old) = self.members.shift_remove_index(index)?;
        let mut new = old.clone();
        new.member_id = new_id.to_string();
        new.awaiting_join = None;
        new.awaiting_sync = None;
        new.is_new = false;
        self.members.insert(new_id.to_string(), new);
        let last = self.members.len() - 1;
        self.members.move_index(last, index);
        if self.is_leader(old_id) {
            self.leader_id = Some(new_id.to_string());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.to_string());
        }
        self.static_members
            .insert(instance.to_string(), new_id.to_string());
        Some(old)
    }

    /// Kafka's supportsProtocols: an Empty group takes any non-empty protocol type and
    /// list; otherwise the type must match and one protocol must be supported by all.
    pub fn supports_protocols(&self, protocol_type: &str, names: &BTreeSet<&str>) -> bool {
        if self.is(GroupState::Empty) {
            return !protocol_type.is_empty() && !names.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && names.iter().any(|n| {
                self.supported_protocols.get(*n).copied().unwrap_or(0) == self.members.len()
            })
    }

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> BTreeSet<&str> {
        self.supported_protocols
            .iter()
            .filter(|(_, c)| **c == self.members.len())
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// The vote: each member picks its most preferred candidate; most votes wins (ties go
    /// to the protocol voted for first, in member order). `None` without members.
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: IndexMap<&str, usize> = IndexMap::new();
        for m in self.members.values() {
            if let Some((name, _)) = m
                .protocols
                .iter()
                .find(|(n, _)| candidates.contains(n.as_str()))
            {
                *votes.entry(name.as_str()).or_insert(0) += 1;
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

    /// Kafka's validateMember: UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID.
    pub fn validate_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), ErrorCode> {
        if let Some(instance) = group_instance_id {
            match self.static_member_id(instance) {
                None => return Err(errors::UNKNOWN_MEMBER_ID),
                Some(existing) if existing != member_id => return Err(errors::FENCED_INSTANCE_ID),
                Some(_) => {}
            }
        }
        if !self.has_member(member_id) {
            return Err(errors::UNKNOWN_MEMBER_ID);
        }
        Ok(())
    }

    /// When the leader did not rejoin, the first member that did leads. False when no member
    /// rejoined (or there is no leader at all).
    pub fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader_id.as_deref() else {
            return false;
        };
        if self
            .members
            .get(leader)
            .is_some_and(|m| m.awaiting_join.is_some())
        {
            return true;
        }
        match self.members.values().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader_id = Some(m.member_id.clone());
                true
            }
            None => false,
        }
    }

    /// Next generation: CompletingRebalance with the voted protocol, or Empty.
    pub fn init_next_generation(&mut self, now_ms: i64) {
        self.generation_id = self.generation_id.wrapping_add(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition_to(GroupState::Empty, now_ms);
        } else {
            self.protocol_name = self.select_protocol();
            assert!(self.protocol_name.is_some(), "no common protocol");
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition_to(GroupState::CompletingRebalance, now_ms);
        }
        self.pending_sync.clear();
    }

    /// What the leader's JoinGroup response lists: every member with its metadata for the
    /// selected protocol.
    pub fn join_members(&self) -> Vec<JoinMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        self.members
            .values()
            .map(|m| JoinMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    pub fn uses_consumer_protocol(&self) -> bool {
        self.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE)
    }

    /// Topics the members subscribe to, for "consumer" groups whose metadata parses.
    fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if !self.uses_consumer_protocol() {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = BTreeSet::new();
        for m in self.members.values() {
            topics.extend(subscription_topics(&m.metadata(protocol))?);
        }
        Some(topics)
    }

    /// Kafka's isSubscribedToTopic: unknown subscriptions of a consumer group count as
    /// subscribed to everything.
    pub fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        match &self.subscribed_topics {
            Some(topics) => topics.contains(topic),
            None => self.uses_consumer_protocol(),
        }
    }

    /// Whether the subscriptions are known (they parsed), for offsets expiry in Stable.
    pub fn has_known_subscriptions(&self) -> bool {
        self.subscribed_topics.is_some()
    }

    /// The GroupMetadataValue Kafka writes for this group's current members and assignments.
    pub fn metadata_value(&self) -> GroupMetadataValue {
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp: self.state_timestamp_ms.unwrap_or(-1),
            members: self
                .members
                .values()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: m.metadata(protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// Rebuilds a group from its GroupMetadataValue (startup replay): Stable with the stored
    /// members, or Empty without any.
    pub fn from_metadata_value(group_id: &str, value: &GroupMetadataValue) -> Group {
        let mut group = Group::new(group_id, 0);
        group.state = if value.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        group.state_timestamp_ms = Some(value.current_state_timestamp).filter(|&t| t != -1);
        group.generation_id = value.generation;
        group.protocol_type = Some(value.protocol_type.clone()).filter(|t| !t.is_empty());
        group.protocol_name = value.protocol.clone();
        group.leader_id = value.leader.clone();
        let protocol = value.protocol.clone().unwrap_or_default();
        for m in &value.members {
            let member = Member {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: if m.rebalance_timeout == -1 {
                    m.session_timeout
                } else {
                    m.rebalance_timeout
                },
                session_timeout_ms: m.session_timeout,
                protocol_type: value.protocol_type.clone(),
                protocols: vec![(protocol.clone(), m.subscription.clone())],
                assignment: m.assignment.clone(),
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                session_deadline_ms: i64::MAX,
            };
            group.insert_loaded(member);
        }
        group.subscribed_topics = group.compute_subscribed_topics();
        group
    }

    /// Adds a member read from the log without the join-time checks (a log written by
    /// another broker is trusted as Kafka trusts it; duplicates replace earlier entries).
    fn insert_loaded(&mut self, member: Member) {
        if let Some(old) = self.members.shift_remove(&member.member_id) {
            self.count_protocols(&old, false);
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        self.count_protocols(&member, true);
        self.members.insert(member.member_id.clone(), member);
    }
}

/// The topics of a ConsumerProtocolSubscription (version in its first i16). Topics come
/// first in every version, so like Kafka this reads them with the v0 schema, which also
/// works for versions newer than the decoder knows.
pub fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut buf = metadata;
    if buf.len() < 2 || i16::from_be_bytes([buf[0], buf[1]]) < 0 {
        return None;
    }
    buf = &buf[2..];
    let mut bytes = Bytes::copy_from_slice(buf);
    let sub = ConsumerProtocolSubscription::decode(&mut bytes, 0).ok()?;
    Some(sub.topics.iter().map(|t| t.as_str().to_string()).collect())
}
