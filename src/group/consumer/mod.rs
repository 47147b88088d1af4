//! Consumer groups of the KIP-848 "consumer" protocol (ConsumerGroupHeartbeat): the group
//! and member state, as Kafka's ConsumerGroup / ConsumerGroupMember, changed only by
//! replaying records (the handlers in `heartbeat.rs` emit records and apply them through
//! [`ConsumerGroup::replay`], the code startup runs, so a restart rebuilds exactly this).
//!
//! # Epochs
//!
//! * group epoch — bumped when a member joins, leaves or changes its subscription, or when
//!   the metadata of the subscribed topics changes (a partition added, a topic created that
//!   a regex matches, a subscribed topic deleted);
//! * assignment epoch — the group epoch the target assignment was computed for (recomputed
//!   on the next heartbeat after a bump);
//! * member epoch — the assignment epoch a member is reconciled to (see `reconcile.rs`).
//!
//! # State (Kafka's names)
//!
//! Empty (no members), Assigning (group epoch > assignment epoch), Reconciling (a member is
//! not yet at the assignment epoch, or not Stable), Stable.

pub mod assignor;
pub mod reconcile;
pub mod records;

mod heartbeat;
mod migration;

pub use migration::{decode_assignment, encode_assignment};

/// The timer keys of a consumer-group member.
pub mod heartbeat_keys {
    pub use super::heartbeat::rebalance_key as rebalance;
    pub use super::heartbeat::session_key as session;
}

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use records::{
    Assignment, ClassicMemberMetadata, ConsumerKey, CurrentAssignmentValue, MemberMetadataValue,
    TopicMetadata,
};

use super::records::RecordError;

/// The member epoch of a static member that left temporarily (ConsumerGroupHeartbeat -2).
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;
/// The member epoch of a leaving member.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;

/// Kafka's MemberState.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberState {
    #[default]
    Stable,
    UnrevokedPartitions,
    UnreleasedPartitions,
}

impl MemberState {
    pub fn value(self) -> i8 {
        match self {
            MemberState::Stable => 0,
            MemberState::UnrevokedPartitions => 1,
            MemberState::UnreleasedPartitions => 2,
        }
    }

    /// Unknown values (a newer Kafka's) load as UNRELEASED_PARTITIONS: the member is then
    /// reconciled again from its assigned partitions.
    pub fn from_value(v: i8) -> MemberState {
        match v {
            0 => MemberState::Stable,
            1 => MemberState::UnrevokedPartitions,
            _ => MemberState::UnreleasedPartitions,
        }
    }
}

/// A consumer group's state, Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// One member (Kafka's ConsumerGroupMember).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Member {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
    /// Set for a member that uses the classic protocol (JoinGroup/SyncGroup/Heartbeat)
    /// inside the consumer group.
    pub classic: Option<ClassicMemberMetadata>,
}

impl Member {
    pub fn new(member_id: &str) -> Member {
        Member {
            member_id: member_id.to_string(),
            rebalance_timeout_ms: -1,
            ..Member::default()
        }
    }

    /// Kafka's updateMemberEpoch: the current epoch becomes the previous one.
    pub fn set_epoch(&mut self, epoch: i32) {
        self.previous_member_epoch = self.member_epoch;
        self.member_epoch = epoch;
    }

    pub fn uses_classic_protocol(&self) -> bool {
        self.classic.is_some()
    }

    pub fn is_reconciled_to(&self, assignment_epoch: i32) -> bool {
        self.state == MemberState::Stable && self.member_epoch == assignment_epoch
    }

    pub fn metadata_value(&self) -> MemberMetadataValue {
        MemberMetadataValue {
            instance_id: self.instance_id.clone(),
            rack_id: self.rack_id.clone(),
            client_id: self.client_id.clone(),
            client_host: self.client_host.clone(),
            subscribed_topic_names: self.subscribed_topic_names.clone(),
            subscribed_topic_regex: self.subscribed_topic_regex.clone(),
            rebalance_timeout_ms: self.rebalance_timeout_ms,
            server_assignor: self.server_assignor.clone(),
            classic: self.classic.clone(),
        }
    }

    pub fn assignment_value(&self) -> CurrentAssignmentValue {
        CurrentAssignmentValue {
            member_epoch: self.member_epoch,
            previous_member_epoch: self.previous_member_epoch,
            state: self.state.value(),
            assigned: self.assigned.clone(),
            pending_revocation: self.pending_revocation.clone(),
        }
    }

    fn apply_metadata(&mut self, v: MemberMetadataValue) {
        self.instance_id = v.instance_id;
        self.rack_id = v.rack_id;
        self.client_id = v.client_id;
        self.client_host = v.client_host;
        self.subscribed_topic_names = v.subscribed_topic_names;
        self.subscribed_topic_regex = v.subscribed_topic_regex;
        self.rebalance_timeout_ms = v.rebalance_timeout_ms;
        self.server_assignor = v.server_assignor;
        self.classic = v.classic;
    }

    fn apply_assignment(&mut self, v: CurrentAssignmentValue) {
        self.member_epoch = v.member_epoch;
        self.previous_member_epoch = v.previous_member_epoch;
        self.state = MemberState::from_value(v.state);
        self.assigned = v.assigned;
        self.pending_revocation = v.pending_revocation;
    }

    fn owned_partitions(&self) -> impl Iterator<Item = (Uuid, i32)> + '_ {
        self.assigned
            .iter()
            .chain(self.pending_revocation.iter())
            .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
    }
}

/// A consumer group (Kafka's ConsumerGroup).
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    pub group_id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, Member>,
    /// instance id → member id.
    pub static_members: BTreeMap<String, String>,
    /// Target assignment per member.
    pub target: BTreeMap<String, Assignment>,
    /// The subscribed topics' metadata the target assignment was computed with, by name.
    pub subscription_metadata: BTreeMap<String, TopicMetadata>,
    /// (topic, partition) → epoch of the member owning it (assigned or pending revocation).
    pub partition_epochs: BTreeMap<(Uuid, i32), i32>,
    /// Not persisted: the member epoch each armed rebalance (revocation) timer expects.
    pub revocation_timers: BTreeMap<String, i32>,
    /// Not persisted: classic members with an armed join or sync deadline (Kafka's
    /// consumer-group join and sync timeouts; they share the member's ConsumerRebalance
    /// timer key, which classic members do not otherwise use).
    pub classic_timers: BTreeMap<String, ClassicDeadline>,
}

/// Which deadline a classic member of a consumer group has armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicDeadline {
    /// Told to rejoin (REBALANCE_IN_PROGRESS): must send JoinGroup within its rebalance
    /// timeout.
    Join,
    /// Joined: must send SyncGroup within its rebalance timeout.
    Sync,
}

impl ConsumerGroup {
    pub fn new(group_id: &str) -> ConsumerGroup {
        ConsumerGroup {
            group_id: group_id.to_string(),
            ..ConsumerGroup::default()
        }
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    pub fn static_member(&self, instance_id: &str) -> Option<&Member> {
        self.static_members
            .get(instance_id)
            .and_then(|m| self.members.get(m))
    }

    /// The epoch of the member owning a partition, if one does.
    pub fn partition_epoch(&self, topic: &Uuid, partition: i32) -> Option<i32> {
        self.partition_epochs.get(&(*topic, partition)).copied()
    }

    /// The topic names the group is subscribed to (every member's names and regex matches,
    /// resolved against `subscription_metadata`).
    pub fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        self.subscription_metadata.contains_key(topic)
            || self
                .members
                .values()
                .any(|m| m.subscribed_topic_names.iter().any(|t| t == topic))
    }

    /// Members using the classic protocol.
    pub fn num_classic_members(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.uses_classic_protocol())
            .count()
    }

    /// Kafka's supportsClassicProtocols: protocol type "consumer", and one of `names`
    /// supported by every classic member (any non-empty list when there is none).
    pub fn supports_classic_protocols(&self, protocol_type: &str, names: &BTreeSet<&str>) -> bool {
        if protocol_type != crate::group::classic::CONSUMER_PROTOCOL_TYPE {
            return false;
        }
        let classic: Vec<&ClassicMemberMetadata> = self
            .members
            .values()
            .filter_map(|m| m.classic.as_ref())
            .collect();
        if self.members.is_empty() {
            return !names.is_empty();
        }
        names.iter().any(|n| {
            classic
                .iter()
                .all(|c| c.protocols.iter().any(|(p, _)| p == n))
        })
    }

    /// Kafka's allMembersUseClassicProtocolExcept: `member_id` uses the consumer protocol
    /// and every other member the classic one.
    pub fn all_members_use_classic_except(&self, member_id: &str) -> bool {
        self.members
            .get(member_id)
            .is_some_and(|m| !m.uses_classic_protocol())
            && self.num_classic_members() + 1 == self.members.len()
    }

    /// Kafka's waitingOnUnreleasedPartition: a partition of the member's target that it
    /// does not have is still owned by another member.
    pub fn waiting_on_unreleased_partition(&self, member: &Member) -> bool {
        if member.state != MemberState::UnreleasedPartitions {
            return false;
        }
        let Some(target) = self.target.get(&member.member_id) else {
            return false;
        };
        target.iter().any(|(t, ps)| {
            ps.iter().any(|p| {
                !member.assigned.get(t).is_some_and(|a| a.contains(p))
                    && self.partition_epoch(t, *p).is_some()
            })
        })
    }

    /// The server assignor the members prefer most (Kafka's computePreferredServerAssignor:
    /// the most used among members that name one; ties by name).
    pub fn preferred_assignor(&self) -> Option<String> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.server_assignor {
                *counts.entry(a.as_str()).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(a, _)| a.to_string())
    }

    /// Kafka's ConsumerGroup.validateOffsetCommit: a commit with a negative epoch passes
    /// while the group has no members; otherwise the member must exist (UNKNOWN_MEMBER_ID),
    /// use OffsetCommit v9+ unless transactional (UNSUPPORTED_VERSION), and send its current
    /// epoch (STALE_MEMBER_EPOCH).
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        member_epoch: i32,
        transactional: bool,
        version: i16,
    ) -> Result<(), i16> {
        use crate::group::errors::*;
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let member = self.members.get(member_id).ok_or(UNKNOWN_MEMBER_ID)?;
        let classic = member.uses_classic_protocol();
        if !transactional && !classic && version < 9 {
            return Err(UNSUPPORTED_VERSION);
        }
        if member_epoch != member.member_epoch {
            // A classic member's generation id is its member epoch.
            return Err(if classic {
                ILLEGAL_GENERATION
            } else {
                STALE_MEMBER_EPOCH
            });
        }
        Ok(())
    }

    /// Kafka's ConsumerGroup.validateOffsetFetch (a fetch naming a member, OffsetFetch v9+).
    pub fn validate_offset_fetch(&self, member_id: &str, member_epoch: i32) -> Result<(), i16> {
        use crate::group::errors::*;
        let member = self.members.get(member_id).ok_or(UNKNOWN_MEMBER_ID)?;
        if member_epoch != member.member_epoch && member.uses_classic_protocol() {
            return Err(ILLEGAL_GENERATION);
        }
        if member_epoch != member.member_epoch {
            tracing::debug!(
                group = self.group_id,
                member_id,
                member_epoch,
                expected = member.member_epoch,
                "offset fetch with a stale member epoch"
            );
            return Err(STALE_MEMBER_EPOCH);
        }
        Ok(())
    }

    fn remove_partition_epochs(&mut self, member_id: &str) {
        if let Some(m) = self.members.get(member_id) {
            let owned: Vec<(Uuid, i32)> = m.owned_partitions().collect();
            for k in owned {
                self.partition_epochs.remove(&k);
            }
        }
    }

    fn add_partition_epochs(&mut self, member_id: &str) {
        if let Some(m) = self.members.get(member_id) {
            let epoch = m.member_epoch;
            let owned: Vec<(Uuid, i32)> = m.owned_partitions().collect();
            for k in owned {
                self.partition_epochs.insert(k, epoch);
            }
        }
    }

    fn member_mut(&mut self, member_id: &str) -> &mut Member {
        self.members
            .entry(member_id.to_string())
            .or_insert_with(|| Member::new(member_id))
    }

    /// Apply one consumer-group record of this group. Nothing changes when the value does
    /// not decode.
    pub fn replay(&mut self, key: &ConsumerKey, value: Option<&[u8]>) -> Result<(), RecordError> {
        match key {
            ConsumerKey::GroupEpoch { .. } => {
                if let Some(v) = value {
                    self.group_epoch = records::decode_epoch(v)?;
                }
            }
            ConsumerKey::PartitionMetadata { .. } => {
                self.subscription_metadata = match value {
                    Some(v) => records::decode_partition_metadata(v)?
                        .into_iter()
                        .map(|t| (t.name.clone(), t))
                        .collect(),
                    None => BTreeMap::new(),
                };
            }
            ConsumerKey::TargetAssignmentEpoch { .. } => {
                if let Some(v) = value {
                    self.assignment_epoch = records::decode_epoch(v)?;
                }
            }
            ConsumerKey::TargetAssignmentMember { member, .. } => match value {
                Some(v) => {
                    let a = records::decode_target_assignment(v)?;
                    self.target.insert(member.clone(), a);
                }
                None => {
                    self.target.remove(member);
                }
            },
            ConsumerKey::MemberMetadata { member, .. } => match value {
                Some(v) => {
                    let v = MemberMetadataValue::decode(v)?;
                    let m = self.member_mut(member);
                    let old_instance = m.instance_id.clone();
                    m.apply_metadata(v);
                    let new_instance = m.instance_id.clone();
                    if let Some(i) = old_instance {
                        if self.static_members.get(&i) == Some(member) {
                            self.static_members.remove(&i);
                        }
                    }
                    if let Some(i) = new_instance {
                        self.static_members.insert(i, member.clone());
                    }
                }
                None => {
                    self.remove_partition_epochs(member);
                    if let Some(m) = self.members.remove(member) {
                        if let Some(i) = m.instance_id {
                            if self.static_members.get(&i) == Some(member) {
                                self.static_members.remove(&i);
                            }
                        }
                    }
                    self.revocation_timers.remove(member);
                    self.classic_timers.remove(member);
                }
            },
            ConsumerKey::CurrentAssignment { member, .. } => match value {
                Some(v) => {
                    let v = CurrentAssignmentValue::decode(v)?;
                    self.remove_partition_epochs(member);
                    self.member_mut(member).apply_assignment(v);
                    self.add_partition_epochs(member);
                }
                None => {
                    self.remove_partition_epochs(member);
                    if let Some(m) = self.members.get_mut(member) {
                        m.apply_assignment(CurrentAssignmentValue::default());
                    }
                }
            },
        }
        Ok(())
    }

    /// The ids of subscribed topics that exist, by name (for the assignor).
    pub fn subscribed_topic_ids(&self, member: &Member) -> BTreeSet<Uuid> {
        let mut ids = BTreeSet::new();
        for name in &member.subscribed_topic_names {
            if let Some(t) = self.subscription_metadata.get(name) {
                ids.insert(t.id);
            }
        }
        if let Some(re) = &member.subscribed_topic_regex {
            if let Ok(re) = regex::Regex::new(&anchored(re)) {
                for (name, t) in &self.subscription_metadata {
                    if re.is_match(name) {
                        ids.insert(t.id);
                    }
                }
            }
        }
        ids
    }
}

/// A subscription regex matches whole topic names (as Java's `Pattern.matcher().matches()`
/// that Kafka's RE2J use does).
pub fn anchored(re: &str) -> String {
    format!("^(?:{re})$")
}
