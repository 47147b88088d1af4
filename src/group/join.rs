//! The join phase of the classic rebalance protocol (Kafka's GroupMetadataManager
//! classicGroupJoin* paths): admitting new, pending, existing and static members, preparing a
//! rebalance, the initial-rebalance delay, completing the join phase (new generation, protocol
//! vote, leader election, JoinGroup responses) and the timers that bound it.
//!
//! Every parked request is answered exactly once: when the phase completes, when its member
//! is removed or fenced, or when a newer request from the same member displaces it.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::classic::{Group, JoinTimer, JoinTimerKind, Member, SyncTimer};
use super::context::{join_key, session_key, sync_key, Cx, NEW_MEMBER_JOIN_TIMEOUT_MS};
use super::errors::{self, *};
use super::state::GroupState;
use super::types::{ErrorCode, JoinGroup, JoinResult, RequestId, Response, SyncResult};
use super::MemberIdGenerator;

pub fn protocol_names(protocols: &[(String, Bytes)]) -> BTreeSet<&str> {
    protocols.iter().map(|(n, _)| n.as_str()).collect()
}

fn join_error(cx: &mut Cx<'_>, id: RequestId, error: ErrorCode, member_id: &str) {
    cx.respond(id, Response::Join(JoinResult::error(error, member_id)));
}

impl Group {
    /// The current generation as a JoinGroup response for `member_id`.
    fn current_join_result(&self, member_id: &str, with_members: bool) -> JoinResult {
        JoinResult {
            error: NONE,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader_id.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members: if with_members {
                self.join_members()
            } else {
                Vec::new()
            },
            skip_assignment: false,
        }
    }

    /// JoinGroup with an empty member id.
    pub fn join_new_member(
        &mut self,
        cx: &mut Cx<'_>,
        ids: &mut dyn MemberIdGenerator,
        id: RequestId,
        req: JoinGroup,
    ) {
        if self.is(GroupState::Dead) {
            return join_error(cx, id, COORDINATOR_NOT_AVAILABLE, "");
        }
        if !self.supports_protocols(&req.protocol_type, &protocol_names(&req.protocols)) {
            return join_error(cx, id, INCONSISTENT_GROUP_PROTOCOL, "");
        }
        // Kafka: group_instance_id + "-" + uuid for static members, client_id + "-" + uuid.
        let prefix = req.group_instance_id.as_deref().unwrap_or(&req.client_id);
        let new_id = ids.next(prefix);
        match req.group_instance_id.clone() {
            Some(instance) => match self.static_member_id(&instance).map(str::to_string) {
                Some(old_id) => self.update_static_member(cx, id, req, &instance, &old_id, &new_id),
                None => self.add_member_then_rebalance(cx, id, req, new_id),
            },
            None if req.version >= 4 => {
                // KIP-394: hand out the id, expect the member back with it.
                let deadline = cx.set_timer_in(
                    session_key(&self.group_id, &new_id),
                    i64::from(req.session_timeout_ms),
                );
                self.pending_members.insert(new_id.clone(), deadline);
                join_error(cx, id, MEMBER_ID_REQUIRED, &new_id);
            }
            None => self.add_member_then_rebalance(cx, id, req, new_id),
        }
    }

    /// JoinGroup with a member id: a pending member coming back, or an existing member.
    pub fn join_existing_member(&mut self, cx: &mut Cx<'_>, id: RequestId, req: JoinGroup) {
        let member_id = req.member_id.clone();
        if self.is(GroupState::Dead) {
            return join_error(cx, id, COORDINATOR_NOT_AVAILABLE, &member_id);
        }
        if !self.supports_protocols(&req.protocol_type, &protocol_names(&req.protocols)) {
            return join_error(cx, id, INCONSISTENT_GROUP_PROTOCOL, &member_id);
        }
        if self.is_pending(&member_id) {
            if req.group_instance_id.is_some() {
                // Pending ids are only handed to dynamic members (Kafka fails the same way).
                return join_error(cx, id, UNKNOWN_SERVER_ERROR, &member_id);
            }
            return self.add_member_then_rebalance(cx, id, req, member_id);
        }
        if let Err(e) = self.validate_member(&member_id, req.group_instance_id.as_deref()) {
            return join_error(cx, id, e, &member_id);
        }
        let unchanged = self
            .member(&member_id)
            .is_some_and(|m| m.protocols == req.protocols);
        match self.state() {
            GroupState::PreparingRebalance => self.update_member_then_rebalance(cx, id, req),
            GroupState::CompletingRebalance if unchanged => {
                // It probably missed the JoinGroup response: send it again.
                let leader = self.is_leader(&member_id);
                let result = self.current_join_result(&member_id, leader);
                cx.respond(id, Response::Join(result));
            }
            GroupState::Stable if unchanged && !self.is_leader(&member_id) => {
                let result = self.current_join_result(&member_id, false);
                cx.respond(id, Response::Join(result));
            }
            // Changed metadata, or the leader asking for a rebalance (e.g. topic changes).
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_then_rebalance(cx, id, req)
            }
            GroupState::Empty | GroupState::Dead => {
                join_error(cx, id, UNKNOWN_MEMBER_ID, &member_id)
            }
        }
    }

    fn add_member_then_rebalance(
        &mut self,
        cx: &mut Cx<'_>,
        id: RequestId,
        req: JoinGroup,
        member_id: String,
    ) {
        assert!(
            !self.has_member(&member_id),
            "group {}: member id {member_id} generated twice",
            self.group_id
        );
        let member = Member {
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(id),
            awaiting_sync: None,
            is_new: true,
            session_deadline_ms: i64::MAX,
        };
        if self.is(GroupState::PreparingRebalance) && self.previous_state() == GroupState::Empty {
            // Each new member during the initial rebalance extends the delay.
            self.new_member_added = true;
        }
        self.add(member);
        // A new member cannot heartbeat while its JoinGroup is parked; bound the wait.
        self.reschedule_session(cx, &member_id, NEW_MEMBER_JOIN_TIMEOUT_MS);
        self.maybe_prepare_rebalance_or_complete_join(cx);
    }

    fn update_member_then_rebalance(&mut self, cx: &mut Cx<'_>, id: RequestId, req: JoinGroup) {
        let displaced = self.update_member(
            &req.member_id,
            req.protocols,
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            Some(id),
        );
        if let Some(old) = displaced {
            join_error(cx, old, REBALANCE_IN_PROGRESS, &req.member_id);
        }
        self.maybe_prepare_rebalance_or_complete_join(cx);
    }

    /// KIP-345: a known group.instance.id joins with an empty member id. The old member id
    /// is fenced; in Stable with an unchanged protocol the member gets the current
    /// generation back without a rebalance.
    fn update_static_member(
        &mut self,
        cx: &mut Cx<'_>,
        id: RequestId,
        req: JoinGroup,
        instance: &str,
        old_id: &str,
        new_id: &str,
    ) {
        let previous_leader = self.leader_id.clone().unwrap_or_default();
        let Some(old) = self.replace_static_member(instance, old_id, new_id) else {
            return join_error(cx, id, UNKNOWN_MEMBER_ID, "");
        };
        if let Some(j) = old.awaiting_join {
            join_error(cx, j, FENCED_INSTANCE_ID, old_id);
        }
        if let Some(s) = old.awaiting_sync {
            cx.respond(s, Response::Sync(SyncResult::error(FENCED_INSTANCE_ID)));
        }
        cx.cancel_timer(session_key(&self.group_id, old_id));
        self.reschedule_session(cx, new_id, i64::from(old.session_timeout_ms));
        self.update_member(
            new_id,
            req.protocols,
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            Some(id),
        );
        match self.state() {
            GroupState::Stable if self.select_protocol() == self.protocol_name => {
                cx.group_metadata_record(self);
                let result = if req.version >= 9 {
                    // KIP-814: a returning leader gets the members but skips the assignment.
                    let leader = self.is_leader(new_id);
                    JoinResult {
                        skip_assignment: leader,
                        ..self.current_join_result(new_id, leader)
                    }
                } else {
                    // Older clients: name the old leader id so the member just syncs.
                    JoinResult {
                        leader: previous_leader,
                        ..self.current_join_result(new_id, false)
                    }
                };
                if let Some(m) = self.member_mut(new_id) {
                    m.awaiting_join = None;
                }
                cx.respond(id, Response::Join(result));
            }
            GroupState::Stable => self.maybe_prepare_rebalance_or_complete_join(cx),
            // The leader may already be assigning to the old id: rebalance again.
            GroupState::CompletingRebalance => self.prepare_rebalance(cx),
            GroupState::PreparingRebalance => self.maybe_complete_join_phase(cx),
            GroupState::Empty | GroupState::Dead => {
                unreachable!(
                    "group {} has static members but is {:?}",
                    self.group_id,
                    self.state()
                )
            }
        }
    }

    pub fn maybe_prepare_rebalance_or_complete_join(&mut self, cx: &mut Cx<'_>) {
        if self.can_rebalance() {
            self.prepare_rebalance(cx);
        } else {
            self.maybe_complete_join_phase(cx);
        }
    }

    /// Enter PreparingRebalance: fail parked syncs, drop the sync deadline, and wait for
    /// the members to rejoin (an Empty group first waits the initial rebalance delay).
    pub fn prepare_rebalance(&mut self, cx: &mut Cx<'_>) {
        if self.is(GroupState::CompletingRebalance) {
            for m in self.members_mut() {
                m.assignment = Bytes::new();
            }
            self.propagate_assignment(cx, REBALANCE_IN_PROGRESS);
        }
        self.remove_sync_expiration(cx);
        let initial = self.is(GroupState::Empty);
        if initial {
            let delay_ms = cx.config.initial_rebalance_delay_ms;
            let remaining_ms = self.rebalance_timeout_ms().saturating_sub(delay_ms).max(0);
            let kind = JoinTimerKind::InitialDelay {
                delay_ms,
                remaining_ms,
            };
            self.arm_join_timer(cx, delay_ms, kind);
        }
        self.transition_to(GroupState::PreparingRebalance, cx.now_ms);
        if !initial {
            if self.has_all_members_joined() {
                self.complete_join(cx);
            } else {
                let timeout = self.rebalance_timeout_ms();
                self.arm_join_timer(cx, timeout, JoinTimerKind::Complete);
            }
        }
    }

    /// Completes the join phase once every member rejoined, except during an initial
    /// rebalance (which always waits for its delay).
    pub fn maybe_complete_join_phase(&mut self, cx: &mut Cx<'_>) {
        if self.is(GroupState::PreparingRebalance)
            && self.previous_state() != GroupState::Empty
            && self.has_all_members_joined()
        {
            self.complete_join(cx);
        }
    }

    fn arm_join_timer(&mut self, cx: &mut Cx<'_>, delay_ms: i32, kind: JoinTimerKind) {
        let deadline_ms = cx.set_timer_in(join_key(&self.group_id), i64::from(delay_ms));
        self.join_timer = Some(JoinTimer { deadline_ms, kind });
    }

    /// The Join timer fired: extend the initial delay if members keep arriving, else
    /// complete the join phase with whoever rejoined.
    pub fn on_join_timer(&mut self, cx: &mut Cx<'_>) {
        let Some(timer) = self.join_timer else { return };
        if cx.now_ms < timer.deadline_ms || !self.is(GroupState::PreparingRebalance) {
            return;
        }
        self.join_timer = None;
        match timer.kind {
            JoinTimerKind::InitialDelay {
                delay_ms,
                remaining_ms,
            } if self.new_member_added && remaining_ms != 0 => {
                self.new_member_added = false;
                let new_delay = cx.config.initial_rebalance_delay_ms.min(remaining_ms);
                let new_remaining = remaining_ms.saturating_sub(delay_ms).max(0);
                let kind = JoinTimerKind::InitialDelay {
                    delay_ms: new_delay,
                    remaining_ms: new_remaining,
                };
                self.arm_join_timer(cx, new_delay, kind);
            }
            _ => self.complete_join(cx),
        }
    }

    /// Ends the join phase: drops dynamic members that did not rejoin, elects a leader
    /// among those who did, starts the next generation and answers every parked JoinGroup.
    fn complete_join(&mut self, cx: &mut Cx<'_>) {
        if self.join_timer.take().is_some() {
            cx.cancel_timer(join_key(&self.group_id));
        }
        let gone: Vec<String> = self
            .members()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in gone {
            self.remove_member(cx, &member_id, true);
        }
        if self.is(GroupState::Dead) {
            return;
        }
        if !self.maybe_elect_new_joined_leader() && self.num_members() > 0 {
            // Only static members that did not rejoin are left: wait for them (or for their
            // sessions to expire).
            let timeout = self.rebalance_timeout_ms();
            self.arm_join_timer(cx, timeout, JoinTimerKind::Complete);
            return;
        }
        self.init_next_generation(cx.now_ms);
        if self.is(GroupState::Empty) {
            cx.group_metadata_record(self);
            return;
        }
        let leader_members = self.join_members();
        for member_id in self.member_ids() {
            let leader = self.is_leader(&member_id);
            let mut result = self.current_join_result(&member_id, false);
            if leader {
                result.members = leader_members.clone();
            }
            let Some(m) = self.member_mut(&member_id) else {
                continue;
            };
            m.is_new = false;
            let session_ms = i64::from(m.session_timeout_ms);
            if let Some(j) = m.awaiting_join.take() {
                cx.respond(j, Response::Join(result));
            }
            self.reschedule_session(cx, &member_id, session_ms);
            self.pending_sync.insert(member_id);
        }
        let deadline_ms = cx.set_timer_in(
            sync_key(&self.group_id),
            i64::from(self.rebalance_timeout_ms()),
        );
        self.sync_timer = Some(SyncTimer {
            deadline_ms,
            generation_id: self.generation_id,
        });
    }

    /// Answers every parked SyncGroup with the member's assignment (or `error`) and restarts
    /// those members' sessions.
    pub fn propagate_assignment(&mut self, cx: &mut Cx<'_>, error: ErrorCode) {
        let (protocol_type, protocol_name) = if error == NONE {
            (self.protocol_type.clone(), self.protocol_name.clone())
        } else {
            (None, None)
        };
        let mut answered = Vec::new();
        for m in self.members_mut() {
            if let Some(s) = m.awaiting_sync.take() {
                let result = SyncResult {
                    error,
                    protocol_type: protocol_type.clone(),
                    protocol_name: protocol_name.clone(),
                    assignment: m.assignment.clone(),
                };
                cx.respond(s, Response::Sync(result));
                answered.push((m.member_id.clone(), i64::from(m.session_timeout_ms)));
            }
        }
        for (member_id, session_ms) in answered {
            self.reschedule_session(cx, &member_id, session_ms);
        }
    }

    /// (Re)arms a member's session timer.
    pub fn reschedule_session(&mut self, cx: &mut Cx<'_>, member_id: &str, timeout_ms: i64) {
        if !self.has_member(member_id) {
            return;
        }
        let deadline = cx.set_timer_in(session_key(&self.group_id, member_id), timeout_ms);
        if let Some(m) = self.member_mut(member_id) {
            m.session_deadline_ms = deadline;
        }
    }

    pub fn remove_sync_expiration(&mut self, cx: &mut Cx<'_>) {
        self.pending_sync.clear();
        if self.sync_timer.take().is_some() {
            cx.cancel_timer(sync_key(&self.group_id));
        }
    }

    /// Removes a member, answering its parked requests with UNKNOWN_MEMBER_ID (so a client
    /// still waiting rejoins) and cancelling its session timer when asked.
    pub fn remove_member(&mut self, cx: &mut Cx<'_>, member_id: &str, cancel_session: bool) {
        let Some(m) = self.remove(member_id) else {
            return;
        };
        if let Some(j) = m.awaiting_join {
            join_error(cx, j, UNKNOWN_MEMBER_ID, "");
        }
        if let Some(s) = m.awaiting_sync {
            cx.respond(
                s,
                Response::Sync(SyncResult::error(errors::UNKNOWN_MEMBER_ID)),
            );
        }
        if cancel_session {
            cx.cancel_timer(session_key(&self.group_id, member_id));
        }
    }

    /// After members left or failed: rebalance, or finish a join phase that now has
    /// everyone it waits for.
    pub fn after_members_removed(&mut self, cx: &mut Cx<'_>) {
        match self.state() {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(cx)
            }
            GroupState::PreparingRebalance if self.has_all_members_joined() => {
                self.complete_join(cx)
            }
            _ => {}
        }
    }

    /// A session timer fired: a pending member that never came back is forgotten; a member
    /// that neither heartbeated nor waits in a rebalance is removed.
    pub fn on_session_timer(&mut self, cx: &mut Cx<'_>, member_id: &str) {
        if self.is(GroupState::Dead) {
            return;
        }
        if let Some(&deadline) = self.pending_members.get(member_id) {
            if cx.now_ms >= deadline {
                self.pending_members.shift_remove(member_id);
                if self.is(GroupState::PreparingRebalance) && self.has_all_members_joined() {
                    self.complete_join(cx);
                }
            }
            return;
        }
        let Some(m) = self.member(member_id) else {
            return;
        };
        if cx.now_ms < m.session_deadline_ms || m.has_satisfied_heartbeat() {
            return;
        }
        self.remove_member(cx, member_id, false);
        self.after_members_removed(cx);
    }

    /// The Sync timer fired: members of this generation that never sent SyncGroup are
    /// removed and the group rebalances.
    pub fn on_sync_timer(&mut self, cx: &mut Cx<'_>) {
        let Some(timer) = self.sync_timer else { return };
        if cx.now_ms < timer.deadline_ms {
            return;
        }
        self.sync_timer = None;
        let waiting = matches!(
            self.state(),
            GroupState::CompletingRebalance | GroupState::Stable
        );
        if timer.generation_id != self.generation_id || !waiting || self.pending_sync.is_empty() {
            return;
        }
        let missing: Vec<String> = self.pending_sync.iter().cloned().collect();
        for member_id in missing {
            self.remove_member(cx, &member_id, true);
        }
        self.prepare_rebalance(cx);
    }
}
