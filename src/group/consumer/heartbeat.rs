//! ConsumerGroupHeartbeat and ConsumerGroupDescribe, consumer-group session and rebalance
//! timers (Kafka's GroupMetadataManager.consumerGroupHeartbeat / consumerGroupLeave /
//! consumerGroupFenceMember / consumerGroupDescribe). Every change is a record, applied
//! through the same replay as at startup.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use uuid::Uuid;

use super::assignor::{self, MemberSpec};
use super::reconcile::reconcile;
use super::records::{self, Assignment, ConsumerKey, TopicMetadata};
use super::{
    anchored, ConsumerGroup, Member, MemberState, LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
};
use crate::group::context::Cx;
use crate::group::errors::*;
use crate::group::records::RecordKey;
use crate::group::types::{
    ConsumerDescribedGroup, ConsumerDescribedMember, ConsumerHeartbeat, ConsumerHeartbeatResult,
    DescribedTopicPartitions, ErrorCode, Outcome, Response, TimerKey, TopicsImage,
};
use crate::group::GroupCoordinator;

type Failure = (ErrorCode, String);

fn fail<T>(code: ErrorCode, msg: impl Into<String>) -> Result<T, Failure> {
    Err((code, msg.into()))
}

pub fn session_key(group_id: &str, member_id: &str) -> TimerKey {
    TimerKey::ConsumerSession {
        group_id: group_id.to_string(),
        member_id: member_id.to_string(),
    }
}

pub fn rebalance_key(group_id: &str, member_id: &str) -> TimerKey {
    TimerKey::ConsumerRebalance {
        group_id: group_id.to_string(),
        member_id: member_id.to_string(),
    }
}

fn to_assignment(owned: &[(Uuid, Vec<i32>)]) -> Assignment {
    let mut a = Assignment::new();
    for (t, ps) in owned {
        if !ps.is_empty() {
            a.entry(*t).or_default().extend(ps.iter().copied());
        }
    }
    a
}

fn from_assignment(a: &Assignment) -> Vec<(Uuid, Vec<i32>)> {
    a.iter()
        .map(|(t, ps)| (*t, ps.iter().copied().collect()))
        .collect()
}

/// Kafka's isSubset: every owned partition is in `target` (None is not a subset).
fn is_subset(owned: Option<&Assignment>, target: &Assignment) -> bool {
    let Some(owned) = owned else {
        return false;
    };
    owned
        .iter()
        .all(|(t, ps)| target.get(t).is_some_and(|tp| ps.is_subset(tp)))
}

/// Kafka's throwIfConsumerGroupMemberEpochIsInvalid.
fn check_epoch(member: &Member, received: i32, owned: Option<&Assignment>) -> Result<(), Failure> {
    if received > member.member_epoch {
        return fail(
            FENCED_MEMBER_EPOCH,
            format!(
                "The consumer group member has a greater member epoch ({received}) than the one \
                 known by the group coordinator ({}). The member must abandon all its partitions \
                 and rejoin.",
                member.member_epoch
            ),
        );
    }
    if received < member.member_epoch
        && (received != member.previous_member_epoch || !is_subset(owned, &member.assigned))
    {
        return fail(
            FENCED_MEMBER_EPOCH,
            format!(
                "The consumer group member has a smaller member epoch ({received}) than the one \
                 known by the group coordinator ({}). The member must abandon all its partitions \
                 and rejoin.",
                member.member_epoch
            ),
        );
    }
    Ok(())
}

/// The subscribed topics' metadata of `group` (every member's names and regex matches that
/// exist in `image`; regexes never match internal topics).
fn subscription_metadata(
    group: &ConsumerGroup,
    image: &TopicsImage,
) -> BTreeMap<String, TopicMetadata> {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    let mut regexes: BTreeSet<&str> = BTreeSet::new();
    for m in group.members.values() {
        names.extend(m.subscribed_topic_names.iter().map(String::as_str));
        if let Some(r) = &m.subscribed_topic_regex {
            regexes.insert(r);
        }
    }
    let compiled: Vec<regex::Regex> = regexes
        .into_iter()
        .filter_map(|r| regex::Regex::new(&anchored(r)).ok())
        .collect();
    image
        .by_name
        .iter()
        .filter(|(name, t)| {
            names.contains(name.as_str())
                || (!t.internal && compiled.iter().any(|re| re.is_match(name)))
        })
        .map(|(name, t)| {
            (
                name.clone(),
                TopicMetadata {
                    id: t.id,
                    name: name.clone(),
                    partitions: t.partitions,
                },
            )
        })
        .collect()
}

impl GroupCoordinator {
    pub(in crate::group) fn emit_consumer(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        key: ConsumerKey,
        value: Option<Bytes>,
    ) {
        self.emit_and_apply(out, now_ms, RecordKey::Consumer(key), value);
    }

    /// Apply a consumer-group record (from [`GroupCoordinator::replay`]).
    pub(in crate::group) fn replay_consumer(
        &mut self,
        key: ConsumerKey,
        value: Option<&[u8]>,
    ) -> Result<(), crate::group::RecordError> {
        let group_id = key.group().to_string();
        if value.is_none() {
            if matches!(key, ConsumerKey::GroupEpoch { .. }) {
                self.consumer.remove(&group_id);
                return Ok(());
            }
            return match self.consumer.get_mut(&group_id) {
                Some(g) => g.replay(&key, None),
                None => Ok(()),
            };
        }
        // A consumer group replaces an (empty) classic group of the same id.
        let group = self
            .consumer
            .entry(group_id.clone())
            .or_insert_with(|| ConsumerGroup::new(&group_id));
        group.replay(&key, value)
    }

    pub(in crate::group) fn session_timeout_ms(&self, group_id: &str) -> i32 {
        let c = &self.config.consumer;
        c.overrides
            .get(group_id)
            .and_then(|(s, _)| *s)
            .unwrap_or(c.session_timeout_ms)
    }

    fn heartbeat_interval_ms(&self, group_id: &str) -> i32 {
        let c = &self.config.consumer;
        c.overrides
            .get(group_id)
            .and_then(|(_, h)| *h)
            .unwrap_or(c.heartbeat_interval_ms)
    }

    fn default_assignor(&self) -> String {
        self.config
            .consumer
            .assignors
            .first()
            .cloned()
            .unwrap_or_else(|| assignor::UNIFORM.to_string())
    }

    pub(in crate::group) fn consumer_heartbeat(
        &mut self,
        now_ms: i64,
        req: ConsumerHeartbeat,
        out: &mut Outcome,
    ) -> Response {
        let result = match self.validate_heartbeat(&req) {
            Err(e) => Err(e),
            Ok(()) => {
                self.last_topics = Some(Arc::clone(&req.topics));
                if req.member_epoch == LEAVE_GROUP_MEMBER_EPOCH
                    || req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH
                {
                    self.consumer_leave(now_ms, &req, out)
                } else {
                    self.consumer_join_or_heartbeat(now_ms, req, out)
                }
            }
        };
        Response::ConsumerHeartbeat(
            result.unwrap_or_else(|(error, msg)| ConsumerHeartbeatResult {
                error,
                error_message: Some(msg),
                member_id: None,
                member_epoch: 0,
                heartbeat_interval_ms: 0,
                assignment: None,
            }),
        )
    }

    /// Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
    fn validate_heartbeat(&self, req: &ConsumerHeartbeat) -> Result<(), Failure> {
        let invalid = |m: &str| fail(INVALID_REQUEST, m);
        if req.version >= 1 && req.member_id.is_empty() {
            return invalid("MemberId can't be empty.");
        }
        if req.group_id.is_empty() {
            return invalid("GroupId can't be empty.");
        }
        if req.instance_id.as_deref() == Some("") {
            return invalid("InstanceId can't be empty.");
        }
        if req.rack_id.as_deref() == Some("") {
            return invalid("RackId can't be empty.");
        }
        match req.member_epoch {
            0 => {
                if req.rebalance_timeout_ms == -1 {
                    return invalid("RebalanceTimeoutMs must be provided in first request.");
                }
                if req.owned.as_ref().is_none_or(|o| !o.is_empty()) {
                    return invalid("TopicPartitions must be empty when (re-)joining.");
                }
                if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                    return invalid(
                        "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null \
                         when (re-)joining.",
                    );
                }
            }
            LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
                if req.member_id.is_empty() {
                    return invalid("MemberId can't be empty.");
                }
                if req.instance_id.is_none() {
                    return invalid("InstanceId can't be null.");
                }
            }
            e if e > 0 || e == LEAVE_GROUP_MEMBER_EPOCH => {
                if req.member_id.is_empty() {
                    return invalid("MemberId can't be empty.");
                }
            }
            _ => return invalid("MemberEpoch is invalid."),
        }
        if let Some(re) = &req.subscribed_topic_regex {
            if regex::Regex::new(&anchored(re)).is_err() {
                return fail(
                    INVALID_REGULAR_EXPRESSION,
                    format!("SubscribedTopicRegex `{re}` is not a valid regular expression."),
                );
            }
        }
        if let Some(a) = &req.server_assignor {
            if !self.config.consumer.assignors.iter().any(|x| x == a) {
                return fail(
                    UNSUPPORTED_ASSIGNOR,
                    format!(
                        "ServerAssignor {a} is not supported. Supported assignors: {}.",
                        self.config.consumer.assignors.join(", ")
                    ),
                );
            }
        }
        Ok(())
    }

    /// Kafka's getOrMaybeCreateConsumerGroup: an empty classic group (no members: only
    /// offsets, or all its members left) becomes a consumer group, its offsets kept.
    fn consumer_group_for(
        &mut self,
        now_ms: i64,
        group_id: &str,
        create: bool,
        image: &TopicsImage,
        out: &mut Outcome,
    ) -> Result<(), Failure> {
        if self.consumer.contains_key(group_id) {
            return Ok(());
        }
        match self.groups.get(group_id) {
            None if create => Ok(()),
            None => fail(
                GROUP_ID_NOT_FOUND,
                format!("Consumer group {group_id} not found."),
            ),
            Some(g) if create && g.num_members() == 0 => {
                let key = RecordKey::GroupMetadata {
                    group: group_id.to_string(),
                };
                self.emit_and_apply(out, now_ms, key, None);
                Ok(())
            }
            // Online upgrade of a classic group with members (migration.rs). A join the
            // converted group could not take leaves the group classic (Kafka discards the
            // conversion records with the failed request).
            Some(g) if create && self.can_upgrade(group_id) => {
                let max_size = self.config.consumer.max_size;
                if g.num_members() >= max_size {
                    return fail(
                        GROUP_MAX_SIZE_REACHED,
                        format!(
                            "The consumer group has reached its maximum capacity of {max_size} \
                             members."
                        ),
                    );
                }
                self.convert_to_consumer_group(out, now_ms, group_id, image)
            }
            Some(_) => fail(
                GROUP_ID_NOT_FOUND,
                format!("Group {group_id} is not a consumer group."),
            ),
        }
    }

    fn consumer_join_or_heartbeat(
        &mut self,
        now_ms: i64,
        req: ConsumerHeartbeat,
        out: &mut Outcome,
    ) -> Result<ConsumerHeartbeatResult, Failure> {
        let group_id = req.group_id.clone();
        let create = req.member_epoch == 0;
        let image = Arc::clone(&req.topics);
        self.consumer_group_for(now_ms, &group_id, create, &image, out)?;
        let empty = ConsumerGroup::new(&group_id);
        let group = self.consumer.get(&group_id).unwrap_or(&empty);
        let max_size = self.config.consumer.max_size;
        if group.members.len() >= max_size
            && (req.member_id.is_empty() || !group.members.contains_key(&req.member_id))
        {
            return fail(
                GROUP_MAX_SIZE_REACHED,
                format!(
                    "The consumer group has reached its maximum capacity of {max_size} members."
                ),
            );
        }
        let member_id = if req.member_id.is_empty() {
            self.ids.uuid()
        } else {
            req.member_id.clone()
        };
        let owned = req.owned.as_deref().map(to_assignment);

        // The member, or its replacement (a static member rejoining with a new member id).
        let mut replaced: Option<Member> = None;
        let member: Member = match &req.instance_id {
            None => match group.members.get(&member_id) {
                Some(m) => {
                    check_epoch(m, req.member_epoch, owned.as_ref())?;
                    m.clone()
                }
                None if create => Member::new(&member_id),
                None => {
                    return fail(
                        UNKNOWN_MEMBER_ID,
                        format!("Member {member_id} is not a member of group {group_id}."),
                    )
                }
            },
            Some(instance) => match (group.static_member(instance), create) {
                (None, true) => group
                    .members
                    .get(&member_id)
                    .cloned()
                    .unwrap_or_else(|| Member::new(&member_id)),
                (Some(existing), true) => {
                    if existing.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                        return fail(
                            UNRELEASED_INSTANCE_ID,
                            format!(
                                "Static member {member_id} with instance id {instance} cannot join \
                                 the group because the instance id is owned by {} member.",
                                existing.member_id
                            ),
                        );
                    }
                    let mut m = existing.clone();
                    m.member_id = member_id.clone();
                    m.member_epoch = 0;
                    m.previous_member_epoch = 0;
                    replaced = Some(existing.clone());
                    m
                }
                (None, false) => {
                    return fail(
                        UNKNOWN_MEMBER_ID,
                        format!("Instance id {instance} is unknown."),
                    )
                }
                (Some(existing), false) => {
                    if existing.member_id != member_id {
                        return fail(
                            FENCED_INSTANCE_ID,
                            format!(
                                "Static member {member_id} with instance id {instance} was fenced \
                                 by member {}.",
                                existing.member_id
                            ),
                        );
                    }
                    check_epoch(existing, req.member_epoch, owned.as_ref())?;
                    existing.clone()
                }
            },
        };
        if let Some(old) = &replaced {
            // Kafka's replaceMember: the old member's records go, the new one takes its
            // subscription, target assignment and assigned partitions.
            let old_target = self
                .consumer
                .get(&group_id)
                .and_then(|g| g.target.get(&old.member_id).cloned())
                .unwrap_or_default();
            self.remove_member_records(out, now_ms, &group_id, &old.member_id);
            self.cancel_member_timers(out, now_ms, &group_id, &old.member_id);
            let key = |f: fn(String, String) -> ConsumerKey| f(group_id.clone(), member_id.clone());
            self.emit_consumer(
                out,
                now_ms,
                key(|group, member| ConsumerKey::MemberMetadata { group, member }),
                Some(member.metadata_value().encode()),
            );
            self.emit_consumer(
                out,
                now_ms,
                key(|group, member| ConsumerKey::TargetAssignmentMember { group, member }),
                Some(records::encode_target_assignment(&old_target)),
            );
            self.emit_consumer(
                out,
                now_ms,
                key(|group, member| ConsumerKey::CurrentAssignment { group, member }),
                Some(member.assignment_value().encode()),
            );
        }

        // 1. The member's subscription.
        let mut updated = member.clone();
        if let Some(i) = &req.instance_id {
            updated.instance_id = Some(i.clone());
        }
        if let Some(r) = &req.rack_id {
            updated.rack_id = Some(r.clone());
        }
        if req.rebalance_timeout_ms != -1 {
            updated.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if let Some(a) = &req.server_assignor {
            updated.server_assignor = Some(a.clone());
        }
        if let Some(names) = &req.subscribed_topic_names {
            let set: BTreeSet<String> = names.iter().cloned().collect();
            updated.subscribed_topic_names = set.into_iter().collect();
        }
        if let Some(re) = &req.subscribed_topic_regex {
            updated.subscribed_topic_regex = Some(re.clone()).filter(|r| !r.is_empty());
        }
        updated.client_id = req.client_id.clone();
        updated.client_host = req.client_host.clone();
        // 2–3. The member's record, the subscribed topics' metadata, the group epoch and the
        // target assignment.
        self.write_member_and_target(out, now_ms, &group_id, &member_id, &member, &updated);

        // 4. Reconcile the member towards its target.
        let (assignment_epoch, target, current) = {
            let Some(g) = self.consumer.get(&group_id) else {
                return fail(UNKNOWN_SERVER_ERROR, "group vanished");
            };
            let Some(current) = g.members.get(&member_id) else {
                return fail(UNKNOWN_SERVER_ERROR, "member vanished");
            };
            (
                g.assignment_epoch,
                g.target.get(&member_id).cloned().unwrap_or_default(),
                current.clone(),
            )
        };
        let mut reconciled = current.clone();
        if !current.is_reconciled_to(assignment_epoch) {
            let next = {
                let g = self.consumer.get(&group_id);
                let owner = |t: &Uuid, p: i32| g.and_then(|g| g.partition_epoch(t, p));
                reconcile(&current, assignment_epoch, &target, &owner, owned.as_ref())
            };
            if next != current {
                self.emit_consumer(
                    out,
                    now_ms,
                    ConsumerKey::CurrentAssignment {
                        group: group_id.clone(),
                        member: member_id.clone(),
                    },
                    Some(next.assignment_value().encode()),
                );
                let mut cx = Cx {
                    now_ms,
                    config: &self.config,
                    out,
                };
                let key = rebalance_key(&group_id, &member_id);
                if next.state == MemberState::UnrevokedPartitions {
                    cx.set_timer_in(key, i64::from(next.rebalance_timeout_ms));
                    if let Some(g) = self.consumer.get_mut(&group_id) {
                        g.revocation_timers
                            .insert(member_id.clone(), next.member_epoch);
                    }
                } else {
                    cx.cancel_timer(key);
                    if let Some(g) = self.consumer.get_mut(&group_id) {
                        g.revocation_timers.remove(&member_id);
                    }
                }
            }
            reconciled = next;
        }

        let session = i64::from(self.session_timeout_ms(&group_id));
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out,
        };
        cx.set_timer_in(session_key(&group_id, &member_id), session);

        let full = req.member_epoch == 0
            || (req.rebalance_timeout_ms != -1
                && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some())
                && req.owned.is_some());
        let assignment = (full || reconciled.assigned != member.assigned)
            .then(|| from_assignment(&reconciled.assigned));
        tracing::debug!(
            group_id,
            member_id,
            request_epoch = req.member_epoch,
            owned = ?owned,
            epoch = reconciled.member_epoch,
            state = ?reconciled.state,
            assigned = ?reconciled.assigned,
            revoking = ?reconciled.pending_revocation,
            "consumer group heartbeat"
        );
        Ok(ConsumerHeartbeatResult {
            error: NONE,
            error_message: None,
            member_id: Some(member_id),
            member_epoch: reconciled.member_epoch,
            heartbeat_interval_ms: self.heartbeat_interval_ms(&group_id),
            assignment,
        })
    }

    /// Recompute the subscribed topics' metadata against the last topics image; a
    /// PartitionMetadata record when it changed. Returns whether it changed.
    /// Steps 1–3 of a member's heartbeat (Kafka's consumerGroupHeartbeat), shared with classic
    /// members of a consumer group: the member's metadata record when it is new or changed, the
    /// subscribed topics' metadata, a group epoch bump when the subscriptions changed, and the
    /// target assignment once the group epoch moved past it.
    pub(in crate::group) fn write_member_and_target(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
        member: &Member,
        updated: &Member,
    ) {
        let is_new = !self
            .consumer
            .get(group_id)
            .is_some_and(|g| g.members.contains_key(member_id));
        let mut bump = false;
        if is_new || updated.metadata_value() != member.metadata_value() {
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::MemberMetadata {
                    group: group_id.to_string(),
                    member: member_id.to_string(),
                },
                Some(updated.metadata_value().encode()),
            );
            bump = updated.subscribed_topic_names != member.subscribed_topic_names
                || updated.subscribed_topic_regex != member.subscribed_topic_regex;
        }
        bump |= self.refresh_subscription_metadata(out, now_ms, group_id);
        if bump {
            let epoch = self.consumer.get(group_id).map_or(0, |g| g.group_epoch) + 1;
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::GroupEpoch {
                    group: group_id.to_string(),
                },
                Some(records::encode_epoch(epoch)),
            );
        }
        self.maybe_update_target_assignment(out, now_ms, group_id);
    }

    pub(in crate::group) fn refresh_subscription_metadata(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
    ) -> bool {
        let (Some(g), Some(image)) = (self.consumer.get(group_id), self.last_topics.as_ref())
        else {
            // No topics image yet (after a restart, before any heartbeat): keep the metadata.
            return false;
        };
        let meta = subscription_metadata(g, image);
        if meta == g.subscription_metadata {
            return false;
        }
        let topics: Vec<TopicMetadata> = meta.into_values().collect();
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::PartitionMetadata {
                group: group_id.to_string(),
            },
            Some(records::encode_partition_metadata(&topics)),
        );
        true
    }

    /// Kafka's updateTargetAssignment (TargetAssignmentBuilder): when the group epoch is
    /// ahead of the assignment epoch, run the preferred assignor and write the members whose
    /// target changed, then the new assignment epoch.
    pub(in crate::group) fn maybe_update_target_assignment(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
    ) {
        let default = self.default_assignor();
        let Some(g) = self.consumer.get(group_id) else {
            return;
        };
        if g.group_epoch <= g.assignment_epoch {
            return;
        }
        let assignor = g.preferred_assignor().unwrap_or(default);
        let specs: Vec<MemberSpec> = g
            .members
            .values()
            .map(|m| MemberSpec {
                member_id: m.member_id.clone(),
                instance_id: m.instance_id.clone(),
                topics: g.subscribed_topic_ids(m),
                current: g.target.get(&m.member_id).cloned().unwrap_or_default(),
            })
            .collect();
        let topics: Vec<(Uuid, i32)> = g
            .subscription_metadata
            .values()
            .map(|t| (t.id, t.partitions))
            .collect();
        let result = assignor::assign(&assignor, &specs, &topics);
        let changed: Vec<(String, Assignment)> = specs
            .iter()
            .filter_map(|s| {
                let new = result.get(&s.member_id).cloned().unwrap_or_default();
                let had = g.target.get(&s.member_id);
                (had != Some(&new)).then(|| (s.member_id.clone(), new))
            })
            .collect();
        let epoch = g.group_epoch;
        for (member, a) in changed {
            self.emit_consumer(
                out,
                now_ms,
                ConsumerKey::TargetAssignmentMember {
                    group: group_id.to_string(),
                    member,
                },
                Some(records::encode_target_assignment(&a)),
            );
        }
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::TargetAssignmentEpoch {
                group: group_id.to_string(),
            },
            Some(records::encode_epoch(epoch)),
        );
    }

    /// Kafka's consumerGroupLeave.
    fn consumer_leave(
        &mut self,
        now_ms: i64,
        req: &ConsumerHeartbeat,
        out: &mut Outcome,
    ) -> Result<ConsumerHeartbeatResult, Failure> {
        let group_id = &req.group_id;
        let Some(g) = self.consumer.get(group_id) else {
            return fail(
                GROUP_ID_NOT_FOUND,
                if self.groups.contains_key(group_id) {
                    format!("Group {group_id} is not a consumer group.")
                } else {
                    format!("Consumer group {group_id} not found.")
                },
            );
        };
        let done = |epoch| ConsumerHeartbeatResult {
            error: NONE,
            error_message: None,
            member_id: Some(req.member_id.clone()),
            member_epoch: epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        };
        let member_id = match &req.instance_id {
            None => {
                if !g.members.contains_key(&req.member_id) {
                    return fail(
                        UNKNOWN_MEMBER_ID,
                        format!(
                            "Member {} is not a member of group {group_id}.",
                            req.member_id
                        ),
                    );
                }
                req.member_id.clone()
            }
            Some(instance) => {
                let Some(m) = g.static_member(instance) else {
                    return fail(
                        UNKNOWN_MEMBER_ID,
                        format!("Instance id {instance} is unknown."),
                    );
                };
                if m.member_id != req.member_id {
                    return fail(
                        FENCED_INSTANCE_ID,
                        format!(
                            "Static member {} with instance id {instance} was fenced by member {}.",
                            req.member_id, m.member_id
                        ),
                    );
                }
                if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                    // Leaves temporarily: keeps its partitions until its session expires.
                    let mut m = m.clone();
                    m.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
                    m.pending_revocation = Assignment::new();
                    self.emit_consumer(
                        out,
                        now_ms,
                        ConsumerKey::CurrentAssignment {
                            group: group_id.clone(),
                            member: m.member_id.clone(),
                        },
                        Some(m.assignment_value().encode()),
                    );
                    return Ok(done(LEAVE_GROUP_STATIC_MEMBER_EPOCH));
                }
                m.member_id.clone()
            }
        };
        self.fence_member(out, now_ms, group_id, &member_id);
        Ok(done(req.member_epoch))
    }

    pub(in crate::group) fn remove_member_records(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
    ) {
        // Tombstones for the member's three records, as Kafka removes a member.
        let (group, member) = (group_id.to_string(), member_id.to_string());
        let keys = [
            ConsumerKey::CurrentAssignment {
                group: group.clone(),
                member: member.clone(),
            },
            ConsumerKey::TargetAssignmentMember {
                group: group.clone(),
                member: member.clone(),
            },
            ConsumerKey::MemberMetadata { group, member },
        ];
        for key in keys {
            self.emit_consumer(out, now_ms, key, None);
        }
    }

    pub(in crate::group) fn cancel_member_timers(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
    ) {
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out,
        };
        cx.cancel_timer(session_key(group_id, member_id));
        cx.cancel_timer(rebalance_key(group_id, member_id));
    }

    /// Kafka's consumerGroupFenceMember: the member's records go, the subscription metadata
    /// is recomputed without it, and the group epoch is bumped (the next heartbeat computes
    /// the new target assignment).
    pub(in crate::group) fn fence_member(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
    ) {
        if self.maybe_downgrade(out, now_ms, group_id, member_id) {
            return;
        }
        self.remove_member_records(out, now_ms, group_id, member_id);
        self.refresh_subscription_metadata(out, now_ms, group_id);
        let epoch = self.consumer.get(group_id).map_or(0, |g| g.group_epoch) + 1;
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::GroupEpoch {
                group: group_id.to_string(),
            },
            Some(records::encode_epoch(epoch)),
        );
        self.cancel_member_timers(out, now_ms, group_id, member_id);
    }

    /// A consumer-group timer fired: session expiry fences the member; a rebalance timeout
    /// fences it if it still has not revoked what it had to in the same epoch.
    pub(in crate::group) fn on_consumer_timer(&mut self, now_ms: i64, key: TimerKey) -> Outcome {
        let mut out = Outcome::default();
        match key {
            TimerKey::ConsumerSession {
                group_id,
                member_id,
            } => {
                let known = self
                    .consumer
                    .get(&group_id)
                    .is_some_and(|g| g.members.contains_key(&member_id));
                if known {
                    tracing::info!(group_id, member_id, "consumer group member session expired");
                    self.fence_member(&mut out, now_ms, &group_id, &member_id);
                }
            }
            TimerKey::ConsumerRebalance {
                group_id,
                member_id,
            } => {
                if self.on_classic_deadline(&mut out, now_ms, &group_id, &member_id) {
                    return out;
                }
                let due = self.consumer.get(&group_id).is_some_and(|g| {
                    g.members.get(&member_id).is_some_and(|m| {
                        m.state == MemberState::UnrevokedPartitions
                            && g.revocation_timers.get(&member_id) == Some(&m.member_epoch)
                    })
                });
                if due {
                    tracing::info!(
                        group_id,
                        member_id,
                        "consumer group member failed to revoke partitions within the rebalance timeout"
                    );
                    self.fence_member(&mut out, now_ms, &group_id, &member_id);
                }
            }
            _ => {}
        }
        out
    }

    /// Session (and pending revocation) timers of the loaded consumer groups `select` picks.
    pub(in crate::group) fn consumer_groups_loaded(
        &mut self,
        now_ms: i64,
        select: &dyn Fn(&str) -> bool,
        out: &mut Outcome,
    ) {
        let mut timers = Vec::new();
        for g in self.consumer.values_mut().filter(|g| select(&g.group_id)) {
            for m in g.members.values() {
                // A classic member's session is its JoinGroup's session timeout.
                let classic = m.classic.as_ref().map(|c| i64::from(c.session_timeout_ms));
                timers.push((session_key(&g.group_id, &m.member_id), classic));
                if m.state == MemberState::UnrevokedPartitions {
                    timers.push((
                        rebalance_key(&g.group_id, &m.member_id),
                        Some(i64::from(m.rebalance_timeout_ms)),
                    ));
                    g.revocation_timers
                        .insert(m.member_id.clone(), m.member_epoch);
                }
            }
        }
        for (key, delay) in timers {
            let delay = match (&key, delay) {
                (_, Some(d)) => d,
                (TimerKey::ConsumerSession { group_id, .. }, None) => {
                    i64::from(self.session_timeout_ms(group_id))
                }
                _ => continue,
            };
            let mut cx = Cx {
                now_ms,
                config: &self.config,
                out,
            };
            cx.set_timer_in(key, delay);
        }
    }

    /// ConsumerGroupDescribe.
    pub(in crate::group) fn consumer_describe(
        &mut self,
        groups: Vec<String>,
        image: Arc<TopicsImage>,
    ) -> Response {
        let default = self.default_assignor();
        let described = groups
            .into_iter()
            .map(|group_id| {
                let Some(g) = self.consumer.get(&group_id) else {
                    let msg = if self.groups.contains_key(&group_id) {
                        format!("Group {group_id} is not a consumer group.")
                    } else {
                        format!("Group {group_id} not found.")
                    };
                    return ConsumerDescribedGroup {
                        group_id,
                        error: GROUP_ID_NOT_FOUND,
                        error_message: Some(msg),
                        state: String::new(),
                        group_epoch: 0,
                        assignment_epoch: 0,
                        assignor_name: String::new(),
                        members: Vec::new(),
                    };
                };
                let describe = |a: &Assignment| -> Vec<DescribedTopicPartitions> {
                    a.iter()
                        .filter_map(|(id, ps)| {
                            let name = image.name_of(id).or_else(|| {
                                g.subscription_metadata
                                    .values()
                                    .find(|t| t.id == *id)
                                    .map(|t| t.name.as_str())
                            })?;
                            Some(DescribedTopicPartitions {
                                topic_id: *id,
                                topic_name: name.to_string(),
                                partitions: ps.iter().copied().collect(),
                            })
                        })
                        .collect()
                };
                let members = g
                    .members
                    .values()
                    .map(|m| ConsumerDescribedMember {
                        member_id: m.member_id.clone(),
                        instance_id: m.instance_id.clone(),
                        rack_id: m.rack_id.clone(),
                        member_epoch: m.member_epoch,
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        subscribed_topic_names: m.subscribed_topic_names.clone(),
                        subscribed_topic_regex: m.subscribed_topic_regex.clone(),
                        assignment: describe(&m.assigned),
                        target_assignment: describe(
                            g.target.get(&m.member_id).unwrap_or(&Assignment::new()),
                        ),
                    })
                    .collect();
                ConsumerDescribedGroup {
                    group_id: group_id.clone(),
                    error: NONE,
                    error_message: None,
                    state: g.state().name().to_string(),
                    group_epoch: g.group_epoch,
                    assignment_epoch: g.assignment_epoch,
                    assignor_name: g.preferred_assignor().unwrap_or_else(|| default.clone()),
                    members,
                }
            })
            .collect();
        Response::ConsumerDescribe { groups: described }
    }

    /// Tombstones for an empty consumer group's records (DeleteGroups, a classic JoinGroup
    /// taking the group id over, offsets expiry). Offsets are the caller's.
    pub(in crate::group) fn delete_consumer_group_records(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        group_id: &str,
    ) {
        let members: Vec<String> = self
            .consumer
            .get(group_id)
            .map(|g| g.members.keys().cloned().collect())
            .unwrap_or_default();
        for m in &members {
            self.remove_member_records(out, now_ms, group_id, m);
        }
        let g = group_id.to_string();
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::TargetAssignmentEpoch { group: g.clone() },
            None,
        );
        self.emit_consumer(
            out,
            now_ms,
            ConsumerKey::PartitionMetadata { group: g.clone() },
            None,
        );
        self.emit_consumer(out, now_ms, ConsumerKey::GroupEpoch { group: g }, None);
    }
}
