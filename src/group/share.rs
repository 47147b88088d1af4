//! Share groups (KIP-932) in the group coordinator: a third kind of group next to classic and
//! consumer groups, sharing their id space, their `__consumer_offsets` partition (and so
//! their coordinator) and the admin APIs. The membership and assignment state machine is
//! `crate::share::group`; this file routes ShareGroupHeartbeat / ShareGroupDescribe to it,
//! arms the session timers and writes the group's record.
//!
//! Persistence: a `ShareGroupMetadata` record (key version 11, value the group epoch) is
//! written when a group is created and whenever its epoch moves, and a tombstone when it is
//! deleted, so a share group outlives a restart or a coordinator move (ListGroups shows it,
//! DeleteGroups finds it, and a member's next heartbeat is answered UNKNOWN_MEMBER_ID, which
//! makes it rejoin, instead of GROUP_ID_NOT_FOUND, which the clients treat as fatal).
//! Members and assignments are soft state, as in Kafka's share groups: they rejoin.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::consumer::records::{decode_epoch, encode_epoch};
use super::errors::*;
use super::records::{RecordError, RecordKey};
use super::types::{
    DescribedTopicPartitions, Outcome, Response, ShareDescribedGroup, ShareDescribedMember,
    ShareHeartbeatRequest, ShareHeartbeatResult, TimerKey, TimerOp, TopicsImage,
};
use super::GroupCoordinator;
use crate::share::group::{GroupSettings, ShareGroup};

/// ListGroups' group type and protocol type of share groups.
pub const SHARE_GROUP_TYPE: &str = "share";

/// Kafka's only share-group assignor.
const ASSIGNOR: &str = "simple";

fn session_key(group_id: &str) -> TimerKey {
    TimerKey::ShareSession {
        group_id: group_id.to_string(),
    }
}

/// A topic's partition count, for the assignor (internal topics are not assignable).
fn partitions_of(topics: &TopicsImage) -> impl Fn(&str) -> Option<i32> + '_ {
    |t| {
        topics
            .by_name
            .get(t)
            .filter(|i| !i.internal)
            .map(|i| i.partitions)
    }
}

impl GroupCoordinator {
    fn share_settings(&self, group_id: &str) -> GroupSettings {
        let c = &self.config.share;
        let (session, interval) = c.overrides.get(group_id).copied().unwrap_or_default();
        GroupSettings {
            session_timeout_ms: i64::from(session.unwrap_or(c.session_timeout_ms)),
            heartbeat_interval_ms: interval.unwrap_or(c.heartbeat_interval_ms),
            max_size: c.max_size,
        }
    }

    /// A share group, for admin and tests.
    pub fn share_group(&self, group_id: &str) -> Option<&ShareGroup> {
        self.share.get(group_id)
    }

    /// Whether `group_id` names a group of another kind (classic, with members or
    /// offsets, or consumer).
    fn is_other_kind(&self, group_id: &str) -> bool {
        self.consumer.contains_key(group_id)
            || self
                .groups
                .get(group_id)
                .is_some_and(|g| !g.is(super::GroupState::Dead))
    }

    pub(super) fn share_heartbeat(
        &mut self,
        now_ms: i64,
        req: ShareHeartbeatRequest,
        out: &mut Outcome,
    ) -> Response {
        let fail = |error, message: String| {
            Response::ShareHeartbeat(ShareHeartbeatResult {
                error_message: Some(message),
                ..ShareHeartbeatResult::error(error)
            })
        };
        if req.group_id.is_empty() {
            return fail(INVALID_REQUEST, "GroupId can't be empty.".into());
        }
        let group_id = req.group_id.clone();
        if self.is_other_kind(&group_id) {
            return fail(
                GROUP_ID_NOT_FOUND,
                format!("Group {group_id} is not a share group."),
            );
        }
        let hb = &req.heartbeat;
        let settings = self.share_settings(&group_id);
        let created = !self.share.contains_key(&group_id);
        if created {
            if hb.member_epoch != 0 {
                return fail(
                    GROUP_ID_NOT_FOUND,
                    format!("Share group {group_id} not found."),
                );
            }
            if hb.member_id.is_empty() {
                return fail(INVALID_REQUEST, "MemberId can't be empty.".into());
            }
        }
        let topics = Arc::clone(&req.topics);
        self.last_topics = Some(Arc::clone(&topics));
        let group = self
            .share
            .entry(group_id.clone())
            .or_insert_with(|| ShareGroup::new(&group_id, settings.clone()));
        group.set_settings(settings);
        let epoch_before = group.group_epoch();
        // A member leaving by heartbeat (epoch -1) keeps its share sessions, as in Kafka: the
        // client's last acknowledgements (ShareAcknowledge with session epoch -1) may come
        // after its leave heartbeat, and they must still count. Its records are released when
        // that session ends or its connection closes.
        let result = group.heartbeat(hb, &partitions_of(&topics), now_ms);
        let epoch_after = group.group_epoch();
        let deadline = group.next_deadline();
        if created && result.is_err() {
            self.share.remove(&group_id);
        } else if created || epoch_after != epoch_before {
            self.share_group_record(out, &group_id, Some(epoch_after));
        }
        self.arm_share_session(out, &group_id, deadline);
        match result {
            Err(e) => fail(e.code, e.message),
            Ok(r) => {
                let assignment = r.assignment.map(|a| {
                    a.into_iter()
                        .filter_map(|(topic, parts)| {
                            topics.by_name.get(&topic).map(|t| (t.id, parts))
                        })
                        .collect()
                });
                Response::ShareHeartbeat(ShareHeartbeatResult {
                    error: NONE,
                    error_message: None,
                    member_id: Some(r.member_id),
                    member_epoch: r.member_epoch,
                    heartbeat_interval_ms: r.heartbeat_interval_ms,
                    assignment,
                })
            }
        }
    }

    fn arm_share_session(&self, out: &mut Outcome, group_id: &str, deadline: Option<i64>) {
        let key = session_key(group_id);
        out.timers.push(match deadline {
            Some(deadline_ms) => TimerOp::Set { key, deadline_ms },
            None => TimerOp::Cancel { key },
        });
    }

    /// The group's record (None: its tombstone). Memory already holds the state.
    fn share_group_record(&self, out: &mut Outcome, group_id: &str, epoch: Option<i32>) {
        let key = RecordKey::ShareGroup {
            group: group_id.to_string(),
        };
        let mut cx = super::context::Cx {
            now_ms: 0,
            config: &self.config,
            out,
        };
        cx.push_record(&key, epoch.map(encode_epoch));
    }

    /// A share group's session deadline passed: members not heard from are removed.
    pub(super) fn on_share_timer(&mut self, now_ms: i64, group_id: &str) -> Outcome {
        let mut out = Outcome::default();
        let topics = self.last_topics.clone().unwrap_or_default();
        let Some(group) = self.share.get_mut(group_id) else {
            return out;
        };
        let before = group.group_epoch();
        let gone = group.expire(now_ms, &partitions_of(&topics));
        out.share_members_left
            .extend(gone.into_iter().map(|m| (group_id.to_string(), m)));
        let after = group.group_epoch();
        let deadline = group.next_deadline();
        if after != before {
            self.share_group_record(&mut out, group_id, Some(after));
        }
        self.arm_share_session(&mut out, group_id, deadline);
        out
    }

    pub(super) fn share_describe(&self, group_ids: Vec<String>, topics: &TopicsImage) -> Response {
        let groups = group_ids
            .into_iter()
            .map(|id| {
                let Some(g) = self.share.get(&id) else {
                    let message = if self.is_other_kind(&id) {
                        format!("Group {id} is not a share group.")
                    } else {
                        format!("Group {id} not found.")
                    };
                    return ShareDescribedGroup {
                        error_message: Some(message),
                        ..ShareDescribedGroup::error(&id, GROUP_ID_NOT_FOUND)
                    };
                };
                let members = g
                    .members()
                    .map(|m| ShareDescribedMember {
                        member_id: m.member_id.clone(),
                        rack_id: m.rack_id.clone(),
                        member_epoch: m.member_epoch,
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        subscribed_topic_names: m.subscribed.iter().cloned().collect(),
                        assignment: m
                            .current_assignment()
                            .iter()
                            .filter_map(|(topic, parts)| {
                                topics.by_name.get(topic).map(|t| DescribedTopicPartitions {
                                    topic_id: t.id,
                                    topic_name: topic.clone(),
                                    partitions: parts.clone(),
                                })
                            })
                            .collect(),
                    })
                    .collect();
                ShareDescribedGroup {
                    group_id: id,
                    error: NONE,
                    error_message: None,
                    state: g.state().to_string(),
                    group_epoch: g.group_epoch(),
                    assignment_epoch: g.assignment_epoch(),
                    assignor_name: ASSIGNOR.to_string(),
                    members,
                }
            })
            .collect();
        Response::ShareDescribe { groups }
    }

    /// DeleteGroups of a share group: only when it has no members.
    pub(super) fn delete_share_group(&mut self, group_id: &str, out: &mut Outcome) -> i16 {
        match self.share.get(group_id) {
            None => GROUP_ID_NOT_FOUND,
            Some(g) if !g.is_empty() => NON_EMPTY_GROUP,
            Some(_) => {
                self.share.remove(group_id);
                self.share_group_record(out, group_id, None);
                out.timers.push(TimerOp::Cancel {
                    key: session_key(group_id),
                });
                NONE
            }
        }
    }

    /// Replay of a ShareGroupMetadata record.
    pub(super) fn replay_share(
        &mut self,
        group_id: &str,
        value: Option<&[u8]>,
    ) -> Result<(), RecordError> {
        match value {
            Some(v) => {
                let epoch = decode_epoch(v)?;
                let settings = self.share_settings(group_id);
                if let Some(mut g) = self.groups.remove(group_id) {
                    g.transition_to(super::GroupState::Dead, 0);
                }
                self.consumer.remove(group_id);
                match self.share.get(group_id) {
                    // The live group wrote it: memory is ahead already.
                    Some(g) if g.group_epoch() >= epoch => {}
                    _ => {
                        self.share.insert(
                            group_id.to_string(),
                            ShareGroup::restored(group_id, epoch, settings),
                        );
                    }
                }
            }
            None => {
                self.share.remove(group_id);
            }
        }
        Ok(())
    }

    /// Drop the share groups of an unloaded partition (and their timers).
    pub(super) fn unload_share_groups(&mut self, partition: i32, out: &mut Outcome) {
        let n = self.config.offsets_topic_partitions;
        let gone: BTreeSet<String> = self
            .share
            .keys()
            .filter(|g| super::context::partition_for(g, n) == partition)
            .cloned()
            .collect();
        for g in gone {
            self.share.remove(&g);
            out.timers.push(TimerOp::Cancel {
                key: session_key(&g),
            });
        }
    }
}
