//! SyncGroup, Heartbeat and LeaveGroup for an existing classic group, and the membership
//! check of OffsetCommit (Kafka's classicGroupSync / classicGroupHeartbeat /
//! classicGroupLeave and ClassicGroup.validateOffsetCommit).

use std::collections::HashMap;

use bytes::Bytes;

use super::classic::Group;
use super::context::{session_key, sync_key, Cx};
use super::errors::*;
use super::state::GroupState;
use super::types::{
    ErrorCode, Heartbeat, LeaveGroup, LeaveResult, RequestId, Response, SyncGroup, SyncResult,
};

/// Kafka's isProtocolInconsistent: both sides known and different.
fn inconsistent(requested: Option<&str>, group: Option<&str>) -> bool {
    matches!((requested, group), (Some(r), Some(g)) if r != g)
}

impl Group {
    fn validate_sync(&self, req: &SyncGroup) -> Result<(), ErrorCode> {
        if self.is(GroupState::Dead) {
            return Err(COORDINATOR_NOT_AVAILABLE);
        }
        self.validate_member(&req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != self.generation_id {
            return Err(ILLEGAL_GENERATION);
        }
        if inconsistent(req.protocol_type.as_deref(), self.protocol_type.as_deref())
            || inconsistent(req.protocol_name.as_deref(), self.protocol_name.as_deref())
        {
            return Err(INCONSISTENT_GROUP_PROTOCOL);
        }
        Ok(())
    }

    /// SyncGroup for a group that exists and is not Empty.
    pub fn sync(&mut self, cx: &mut Cx<'_>, id: RequestId, req: SyncGroup) {
        if let Err(e) = self.validate_sync(&req) {
            return cx.respond(id, Response::Sync(SyncResult::error(e)));
        }
        match self.state() {
            GroupState::PreparingRebalance => {
                cx.respond(id, Response::Sync(SyncResult::error(REBALANCE_IN_PROGRESS)));
            }
            GroupState::CompletingRebalance => {
                let displaced = self
                    .member_mut(&req.member_id)
                    .and_then(|m| m.awaiting_sync.replace(id));
                if let Some(old) = displaced {
                    cx.respond(
                        old,
                        Response::Sync(SyncResult::error(REBALANCE_IN_PROGRESS)),
                    );
                }
                self.remove_pending_sync_member(cx, &req.member_id);
                if self.is_leader(&req.member_id) {
                    self.complete_sync(cx, req.assignments);
                }
            }
            GroupState::Stable => {
                self.remove_pending_sync_member(cx, &req.member_id);
                let assignment = self
                    .member(&req.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                let result = SyncResult {
                    error: NONE,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment,
                };
                cx.respond(id, Response::Sync(result));
            }
            GroupState::Empty | GroupState::Dead => {
                cx.respond(id, Response::Sync(SyncResult::error(UNKNOWN_MEMBER_ID)));
            }
        }
    }

    /// The leader's assignment: store it (GroupMetadata record), answer every parked
    /// SyncGroup, and become Stable. Members the leader left out get an empty assignment.
    fn complete_sync(&mut self, cx: &mut Cx<'_>, assignments: Vec<(String, Bytes)>) {
        let by_member: HashMap<String, Bytes> = assignments.into_iter().collect();
        for m in self.members_mut() {
            m.assignment = by_member.get(&m.member_id).cloned().unwrap_or_default();
        }
        cx.group_metadata_record(self);
        self.propagate_assignment(cx, NONE);
        self.transition_to(GroupState::Stable, cx.now_ms);
    }

    fn remove_pending_sync_member(&mut self, cx: &mut Cx<'_>, member_id: &str) {
        self.pending_sync.remove(member_id);
        let done = match self.state() {
            GroupState::CompletingRebalance | GroupState::Stable => self.pending_sync.is_empty(),
            _ => true,
        };
        if done && self.sync_timer.take().is_some() {
            cx.cancel_timer(sync_key(&self.group_id));
        }
    }

    /// Heartbeat: keeps the session alive and tells the member whether to rejoin.
    pub fn heartbeat(&mut self, cx: &mut Cx<'_>, req: &Heartbeat) -> ErrorCode {
        if self.is(GroupState::Dead) {
            return COORDINATOR_NOT_AVAILABLE;
        }
        if let Err(e) = self.validate_member(&req.member_id, req.group_instance_id.as_deref()) {
            return e;
        }
        if req.generation_id != self.generation_id {
            return ILLEGAL_GENERATION;
        }
        let session_ms = self
            .member(&req.member_id)
            .map_or(0, |m| i64::from(m.session_timeout_ms));
        match self.state() {
            GroupState::Empty | GroupState::Dead => UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => {
                self.reschedule_session(cx, &req.member_id, session_ms);
                REBALANCE_IN_PROGRESS
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.reschedule_session(cx, &req.member_id, session_ms);
                NONE
            }
        }
    }

    /// LeaveGroup: each member by member id, or (empty member id) by group.instance.id.
    pub fn leave(&mut self, cx: &mut Cx<'_>, req: LeaveGroup) -> LeaveResult {
        if self.is(GroupState::Dead) {
            return LeaveResult {
                error: COORDINATOR_NOT_AVAILABLE,
                members: Vec::new(),
            };
        }
        let mut members = Vec::with_capacity(req.members.len());
        let mut removed_any = false;
        for (member_id, instance, _reason) in req.members {
            let error = self.leave_one(cx, &member_id, instance.as_deref());
            removed_any |= error == NONE;
            members.push((member_id, instance, error));
        }
        if removed_any {
            match self.state() {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(cx)
                }
                GroupState::PreparingRebalance => self.maybe_complete_join_phase(cx),
                GroupState::Empty | GroupState::Dead => {}
            }
        }
        leave_result(req.version, members)
    }

    fn leave_one(&mut self, cx: &mut Cx<'_>, member_id: &str, instance: Option<&str>) -> ErrorCode {
        if member_id.is_empty() {
            // Administrative removal by group.instance.id (KIP-345).
            let current = instance
                .and_then(|i| self.static_member_id(i))
                .map(str::to_string);
            return match current {
                Some(current) => {
                    self.remove_member(cx, &current, true);
                    NONE
                }
                None => UNKNOWN_MEMBER_ID,
            };
        }
        if self.is_pending(member_id) {
            self.pending_members.shift_remove(member_id);
            cx.cancel_timer(session_key(&self.group_id, member_id));
            return NONE;
        }
        match self.validate_member(member_id, instance) {
            Ok(()) => {
                self.remove_member(cx, member_id, true);
                NONE
            }
            Err(e) => e,
        }
    }

    /// Kafka's ClassicGroup.validateOffsetCommit (non-transactional).
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ErrorCode> {
        if self.is(GroupState::Dead) {
            return Err(COORDINATOR_NOT_AVAILABLE);
        }
        if generation_id < 0 && self.is(GroupState::Empty) {
            // A simple commit (admin client, or a consumer without group management).
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || group_instance_id.is_some() {
            self.validate_member(member_id, group_instance_id)?;
            if generation_id != self.generation_id {
                return Err(ILLEGAL_GENERATION);
            }
        } else if !self.is(GroupState::Empty) {
            return Err(UNKNOWN_MEMBER_ID);
        }
        if self.is(GroupState::CompletingRebalance) {
            // The member knows the new generation but has no assignment yet.
            return Err(REBALANCE_IN_PROGRESS);
        }
        Ok(())
    }
}

/// LeaveGroup v0–2 carry one member and report its error at the top level (as Kafka's
/// LeaveGroupResponse does); v3+ report per member.
pub fn leave_result(
    version: i16,
    members: Vec<(String, Option<String>, ErrorCode)>,
) -> LeaveResult {
    let error = if version < 3 {
        members
            .iter()
            .map(|m| m.2)
            .find(|&e| e != NONE)
            .unwrap_or(NONE)
    } else {
        NONE
    };
    LeaveResult { error, members }
}
