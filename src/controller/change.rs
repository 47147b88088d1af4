//! Kafka's `PartitionChangeBuilder` (without ELR, directories or leader recovery state): from a
//! partition's current registration and target ISR / replicas / reassignment sets, elect a
//! leader and produce the one `PartitionChange` record that gets there, or nothing when
//! nothing changes.
//!
//! Rules (Kafka's):
//! - A reassignment completes (replicas = target, removed replicas leave the ISR) as soon as
//!   the target ISR holds every target replica and at least one replica that stays.
//! - The current leader stays if it is still a valid leader (in the target ISR and
//!   acceptable). Otherwise the first valid replica in replica order leads; `Preferred` tries
//!   the first replica before keeping the current leader. `Unclean` falls back to the first
//!   acceptable replica outside the ISR, whose ISR then becomes `[it]`. No candidate: -1.
//! - A record that sets `leader` bumps the leader epoch when applied: the leader is set when
//!   it changes, and also (to the same broker) when the replica set loses a member.
//! - The ISR is never set empty: when every member would leave, the last ones stay (and the
//!   partition has no leader if none of them is acceptable).

use uuid::Uuid;

use crate::cluster::image::{PartitionRegistration, NO_LEADER};
use crate::cluster::records::MetadataRecord;

/// Kafka's `PartitionChangeBuilder.Election`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Election {
    /// Elect the preferred (first) replica if it is a valid leader.
    Preferred,
    /// Keep the partition online from the ISR.
    Online,
    /// Like `Online`, but elect an out-of-sync replica rather than none.
    Unclean,
}

pub(crate) struct PartitionChange<'a> {
    part: &'a PartitionRegistration,
    topic_id: Uuid,
    partition: i32,
    election: Election,
    target_isr: Vec<i32>,
    target_replicas: Vec<i32>,
    target_removing: Vec<i32>,
    target_adding: Vec<i32>,
}

impl<'a> PartitionChange<'a> {
    pub(crate) fn new(
        part: &'a PartitionRegistration,
        topic_id: Uuid,
        partition: i32,
    ) -> PartitionChange<'a> {
        PartitionChange {
            part,
            topic_id,
            partition,
            election: Election::Online,
            target_isr: part.isr.clone(),
            target_replicas: part.replicas.clone(),
            target_removing: part.removing_replicas.clone(),
            target_adding: part.adding_replicas.clone(),
        }
    }

    pub(crate) fn election(mut self, election: Election) -> Self {
        self.election = election;
        self
    }

    pub(crate) fn isr(mut self, isr: Vec<i32>) -> Self {
        self.target_isr = isr;
        self
    }

    pub(crate) fn replicas(mut self, replicas: Vec<i32>) -> Self {
        self.target_replicas = replicas;
        self
    }

    pub(crate) fn removing(mut self, removing: Vec<i32>) -> Self {
        self.target_removing = removing;
        self
    }

    pub(crate) fn adding(mut self, adding: Vec<i32>) -> Self {
        self.target_adding = adding;
        self
    }

    /// The record reaching the targets, `None` if nothing changes. `acceptable` says whether
    /// a broker may lead (registered, unfenced, not shutting down).
    pub(crate) fn build(mut self, acceptable: impl Fn(i32) -> bool) -> Option<MetadataRecord> {
        self.complete_reassignment_if_needed();
        let mut leader = None;
        let mut isr = None;
        let (elected, unclean) = self.elect(&acceptable);
        if elected != self.part.leader {
            leader = Some(elected);
            if unclean {
                // Data may be lost: the new leader's log is the truth from now on.
                isr = Some(vec![elected]);
            }
        }
        if leader.is_none()
            && !self
                .part
                .replicas
                .iter()
                .all(|r| self.target_replicas.contains(r))
        {
            // A replica leaves: bump the leader epoch so it cannot act on the old one.
            leader = Some(self.part.leader);
        }
        if isr.is_none() && !self.target_isr.is_empty() && self.target_isr != self.part.isr {
            isr = Some(self.target_isr.clone());
        }
        let replicas = (!self.target_replicas.is_empty()
            && self.target_replicas != self.part.replicas)
            .then(|| self.target_replicas.clone());
        let removing = (self.target_removing != self.part.removing_replicas)
            .then(|| self.target_removing.clone());
        let adding =
            (self.target_adding != self.part.adding_replicas).then(|| self.target_adding.clone());
        if leader.is_none()
            && isr.is_none()
            && replicas.is_none()
            && removing.is_none()
            && adding.is_none()
        {
            return None;
        }
        Some(MetadataRecord::PartitionChange {
            topic_id: self.topic_id,
            partition: self.partition,
            leader,
            isr,
            replicas,
            adding_replicas: adding,
            removing_replicas: removing,
        })
    }

    /// Kafka's `PartitionReassignmentReplicas.maybeCompleteReassignment`.
    fn complete_reassignment_if_needed(&mut self) {
        if self.target_removing.is_empty() && self.target_adding.is_empty() {
            return;
        }
        let mut isr = self.target_isr.clone();
        let mut replicas = self.target_replicas.clone();
        if !self.target_removing.is_empty() {
            isr.retain(|r| !self.target_removing.contains(r));
            replicas.retain(|r| !self.target_removing.contains(r));
            if isr.is_empty() || replicas.is_empty() {
                return;
            }
        }
        if !replicas.iter().all(|r| isr.contains(r)) {
            return;
        }
        self.target_isr = isr;
        self.target_replicas = replicas;
        self.target_removing.clear();
        self.target_adding.clear();
    }

    fn valid_leader(&self, r: i32, acceptable: &impl Fn(i32) -> bool) -> bool {
        r != NO_LEADER && self.target_isr.contains(&r) && acceptable(r)
    }

    /// (leader, unclean)
    fn elect(&self, acceptable: &impl Fn(i32) -> bool) -> (i32, bool) {
        let first_valid = |skip: usize| {
            self.target_replicas
                .iter()
                .skip(skip)
                .copied()
                .find(|r| self.valid_leader(*r, acceptable))
        };
        if self.election == Election::Preferred {
            if let Some(&preferred) = self.target_replicas.first() {
                if self.valid_leader(preferred, acceptable) {
                    return (preferred, false);
                }
            }
            if self.valid_leader(self.part.leader, acceptable) {
                return (self.part.leader, false);
            }
            return (first_valid(1).unwrap_or(NO_LEADER), false);
        }
        if self.valid_leader(self.part.leader, acceptable) {
            return (self.part.leader, false);
        }
        if let Some(r) = first_valid(0) {
            return (r, false);
        }
        if self.election == Election::Unclean {
            if let Some(r) = self
                .target_replicas
                .iter()
                .copied()
                .find(|r| acceptable(*r))
            {
                return (r, true);
            }
        }
        (NO_LEADER, false)
    }
}
