//! A share group's membership and assignment (KIP-932, Kafka's `GroupMetadataManager.
//! shareGroupHeartbeat` and `SimpleAssignor`), as a pure state machine: heartbeats and time come
//! in, responses and the members that left come out.
//!
//! - **Members** are named by the client (a UUID it keeps for its life). Epoch 0 joins (and must
//!   carry the subscription), -1 leaves, any other epoch must be the member's current one
//!   (UNKNOWN_MEMBER_ID / FENCED_MEMBER_EPOCH otherwise). A member not heard from within the
//!   session timeout is removed as if it left.
//! - **Epochs.** Every change of membership, subscriptions or topic metadata bumps the group
//!   epoch and recomputes the target assignment. There is no revocation step (partitions may be
//!   shared): a member moves to the new epoch at its next heartbeat, which carries its new
//!   assignment; an unchanged assignment is sent as null.
//! - **Assignment** ("simple"): per subscribed topic, with no more members than partitions each
//!   partition goes to exactly one member, sizes differing by at most one, keeping a member's
//!   previous partitions where balance allows; with more members than partitions every member
//!   gets one partition and partitions are shared round-robin.

use std::collections::{BTreeMap, BTreeSet};

/// Kafka error codes used here.
pub const INVALID_REQUEST: i16 = 42;
pub const UNKNOWN_MEMBER_ID: i16 = 25;
pub const FENCED_MEMBER_EPOCH: i16 = 110;
pub const GROUP_MAX_SIZE_REACHED: i16 = 81;

/// The group's settings (share group configs and broker limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// `share.session.timeout.ms`.
    pub session_timeout_ms: i64,
    /// `share.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: i32,
    /// `group.share.max.size`.
    pub max_size: usize,
}

impl Default for GroupSettings {
    fn default() -> GroupSettings {
        GroupSettings {
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5000,
            max_size: 200,
        }
    }
}

/// One ShareGroupHeartbeat.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    /// None: unchanged.
    pub rack_id: Option<String>,
    /// None: unchanged.
    pub subscribed_topic_names: Option<Vec<String>>,
    pub client_id: String,
    pub client_host: String,
}

/// A topic partition assignment: topic name → partitions, sorted.
pub type Assignment = BTreeMap<String, Vec<i32>>;

/// The answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatResponse {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Some when it changed since the member last got one.
    pub assignment: Option<Assignment>,
}

/// A refused heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatError {
    pub code: i16,
    pub message: String,
}

fn err(code: i16, message: &str) -> HeartbeatError {
    HeartbeatError {
        code,
        message: message.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    pub member_epoch: i32,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed: BTreeSet<String>,
    pub assignment: Assignment,
    /// The assignment last sent (None: never).
    sent: Option<Assignment>,
    deadline_ms: i64,
}

/// A share group.
#[derive(Debug, Clone)]
pub struct ShareGroup {
    pub group_id: String,
    group_epoch: i32,
    assignment_epoch: i32,
    members: BTreeMap<String, Member>,
    /// Partition counts of the topics the assignment was computed with.
    topics_seen: BTreeMap<String, i32>,
    settings: GroupSettings,
}

impl Member {
    /// The assignment the member was last given (what it consumes now; the target
    /// assignment reaches it at its next heartbeat).
    pub fn current_assignment(&self) -> Assignment {
        self.sent.clone().unwrap_or_default()
    }
}

impl ShareGroup {
    pub fn new(group_id: &str, settings: GroupSettings) -> ShareGroup {
        ShareGroup {
            group_id: group_id.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            topics_seen: BTreeMap::new(),
            settings,
        }
    }

    /// A group read back from its record: no members (membership is not persisted; members
    /// rejoin), the group epoch it had.
    pub fn restored(group_id: &str, group_epoch: i32, settings: GroupSettings) -> ShareGroup {
        ShareGroup {
            group_epoch,
            assignment_epoch: group_epoch,
            ..ShareGroup::new(group_id, settings)
        }
    }

    pub fn group_epoch(&self) -> i32 {
        self.group_epoch
    }

    pub fn assignment_epoch(&self) -> i32 {
        self.assignment_epoch
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Kafka's state name for ListGroups / ShareGroupDescribe.
    pub fn state(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else {
            "Stable"
        }
    }

    pub fn set_settings(&mut self, settings: GroupSettings) {
        self.settings = settings;
    }

    /// Every topic some member subscribes to.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed.iter().cloned())
            .collect()
    }

    /// Handle a heartbeat at `now_ms`; `partitions` gives a topic's partition count (None: the
    /// topic does not exist). Returns the response, or the error to answer with.
    pub fn heartbeat(
        &mut self,
        hb: &Heartbeat,
        partitions: &dyn Fn(&str) -> Option<i32>,
        now_ms: i64,
    ) -> Result<HeartbeatResponse, HeartbeatError> {
        if hb.member_id.is_empty() {
            return Err(err(INVALID_REQUEST, "MemberId can't be empty."));
        }
        if hb.rack_id.as_deref() == Some("") {
            return Err(err(INVALID_REQUEST, "RackId can't be empty."));
        }
        if hb.member_epoch < -1 {
            return Err(err(INVALID_REQUEST, "MemberEpoch is invalid."));
        }
        if hb.member_epoch == -1 {
            if self.members.remove(&hb.member_id).is_some() {
                self.bump(partitions);
            }
            return Ok(HeartbeatResponse {
                member_id: hb.member_id.clone(),
                member_epoch: -1,
                heartbeat_interval_ms: 0,
                assignment: None,
            });
        }
        let mut changed = false;
        if hb.member_epoch == 0 {
            let subs = match &hb.subscribed_topic_names {
                Some(s) if !s.is_empty() => s,
                _ => {
                    return Err(err(
                        INVALID_REQUEST,
                        "SubscribedTopicNames must be set in first request.",
                    ))
                }
            };
            if !self.members.contains_key(&hb.member_id)
                && self.members.len() >= self.settings.max_size
            {
                return Err(err(
                    GROUP_MAX_SIZE_REACHED,
                    &format!(
                        "The share group has reached its maximum capacity of {} members.",
                        self.settings.max_size
                    ),
                ));
            }
            let subscribed: BTreeSet<String> = subs.iter().cloned().collect();
            let m = self
                .members
                .entry(hb.member_id.clone())
                .or_insert_with(|| Member {
                    member_id: hb.member_id.clone(),
                    member_epoch: 0,
                    rack_id: None,
                    client_id: String::new(),
                    client_host: String::new(),
                    subscribed: BTreeSet::new(),
                    assignment: Assignment::new(),
                    sent: None,
                    deadline_ms: 0,
                });
            // A re-join starts over: the whole assignment is sent again.
            m.sent = None;
            m.member_epoch = 0;
            if m.subscribed != subscribed {
                m.subscribed = subscribed;
                changed = true;
            }
            if m.assignment.is_empty() {
                changed = true;
            }
        } else {
            let Some(m) = self.members.get_mut(&hb.member_id) else {
                return Err(err(
                    UNKNOWN_MEMBER_ID,
                    &format!("Member {} is not a member of the group.", hb.member_id),
                ));
            };
            if hb.member_epoch != m.member_epoch {
                return Err(err(
                    FENCED_MEMBER_EPOCH,
                    &format!(
                        "The share group member has a smaller member epoch ({}) than the one known by the group coordinator ({}).",
                        hb.member_epoch, m.member_epoch
                    ),
                ));
            }
            if let Some(subs) = &hb.subscribed_topic_names {
                let subscribed: BTreeSet<String> = subs.iter().cloned().collect();
                if m.subscribed != subscribed {
                    m.subscribed = subscribed;
                    changed = true;
                }
            }
        }
        let session = self.settings.session_timeout_ms;
        if let Some(m) = self.members.get_mut(&hb.member_id) {
            m.deadline_ms = now_ms.saturating_add(session);
            m.client_id = hb.client_id.clone();
            m.client_host = hb.client_host.clone();
            if hb.rack_id.is_some() {
                m.rack_id = hb.rack_id.clone();
            }
        }
        if changed || self.metadata_changed(partitions) {
            self.bump(partitions);
        }
        let epoch = self.assignment_epoch;
        let interval = self.settings.heartbeat_interval_ms;
        let Some(m) = self.members.get_mut(&hb.member_id) else {
            return Err(err(UNKNOWN_MEMBER_ID, "member vanished"));
        };
        m.member_epoch = epoch;
        let assignment = (m.sent.as_ref() != Some(&m.assignment)).then(|| m.assignment.clone());
        if assignment.is_some() {
            m.sent = Some(m.assignment.clone());
        }
        Ok(HeartbeatResponse {
            member_id: m.member_id.clone(),
            member_epoch: epoch,
            heartbeat_interval_ms: interval,
            assignment,
        })
    }

    /// Remove the members whose session expired by `now_ms`; returns their ids (their acquired
    /// records are to be released).
    pub fn expire(&mut self, now_ms: i64, partitions: &dyn Fn(&str) -> Option<i32>) -> Vec<String> {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.deadline_ms <= now_ms)
            .map(|m| m.member_id.clone())
            .collect();
        for id in &gone {
            self.members.remove(id);
        }
        if !gone.is_empty() {
            self.bump(partitions);
        }
        gone
    }

    /// The earliest session deadline.
    pub fn next_deadline(&self) -> Option<i64> {
        self.members.values().map(|m| m.deadline_ms).min()
    }

    fn metadata_changed(&self, partitions: &dyn Fn(&str) -> Option<i32>) -> bool {
        let now: BTreeMap<String, i32> = self
            .subscribed_topics()
            .into_iter()
            .filter_map(|t| partitions(&t).map(|n| (t, n)))
            .collect();
        now != self.topics_seen
    }

    /// A new group epoch and target assignment.
    fn bump(&mut self, partitions: &dyn Fn(&str) -> Option<i32>) {
        self.group_epoch += 1;
        self.topics_seen = self
            .subscribed_topics()
            .into_iter()
            .filter_map(|t| partitions(&t).map(|n| (t, n)))
            .collect();
        let target = assign(&self.members, &self.topics_seen);
        for (id, m) in self.members.iter_mut() {
            m.assignment = target.get(id).cloned().unwrap_or_default();
        }
        self.assignment_epoch = self.group_epoch;
    }
}

/// The "simple" assignment, topic by topic (see the module note).
fn assign(
    members: &BTreeMap<String, Member>,
    topics: &BTreeMap<String, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = BTreeMap::new();
    for (topic, &n) in topics {
        if n <= 0 {
            continue;
        }
        let subs: Vec<&Member> = members
            .values()
            .filter(|m| m.subscribed.contains(topic))
            .collect();
        if subs.is_empty() {
            continue;
        }
        let mut owned: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        if subs.len() as i32 > n {
            // More members than partitions: one partition each, shared round-robin.
            for (i, m) in subs.iter().enumerate() {
                owned.insert(&m.member_id, vec![(i as i32) % n]);
            }
        } else {
            let m = subs.len();
            let base = n as usize / m;
            let extra = n as usize % m;
            // Quotas: the first `extra` members (by id) may hold one more.
            let quota = |i: usize| base + usize::from(i < extra);
            let mut taken: BTreeSet<i32> = BTreeSet::new();
            for (i, mem) in subs.iter().enumerate() {
                let mut keep: Vec<i32> = mem
                    .assignment
                    .get(topic)
                    .map(|ps| {
                        ps.iter()
                            .copied()
                            .filter(|p| *p < n && !taken.contains(p))
                            .collect()
                    })
                    .unwrap_or_default();
                keep.truncate(quota(i));
                taken.extend(keep.iter().copied());
                owned.insert(&mem.member_id, keep);
            }
            let mut free = (0..n).filter(|p| !taken.contains(p));
            for (i, mem) in subs.iter().enumerate() {
                if let Some(ps) = owned.get_mut(mem.member_id.as_str()) {
                    while ps.len() < quota(i) {
                        match free.next() {
                            Some(p) => ps.push(p),
                            None => break,
                        }
                    }
                }
            }
        }
        for (id, mut ps) in owned {
            ps.sort_unstable();
            if !ps.is_empty() {
                out.entry(id.to_string())
                    .or_default()
                    .insert(topic.clone(), ps);
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
