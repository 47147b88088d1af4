//! Incremental reconciliation of one member towards its target assignment (Kafka's
//! CurrentAssignmentBuilder). A member never receives a partition that another member
//! still owns (assigned or pending revocation): it first revokes what it must give up, in
//! its current epoch (UNREVOKED_PARTITIONS), and only once its heartbeat no longer reports
//! those partitions does it move to the target epoch and receive the partitions that are
//! free; partitions still owned elsewhere are given later (UNRELEASED_PARTITIONS).

use std::collections::BTreeSet;

use uuid::Uuid;

use super::records::Assignment;
use super::{Member, MemberState};

/// Reconcile `member` towards `target` (of `target_epoch`). `owner_epoch(topic, partition)`
/// is the epoch of the member currently owning a partition, if any other member does;
/// `owned` is what the heartbeat reports (None: not sent). The caller validated that the
/// member's epoch is acceptable.
pub fn reconcile(
    member: &Member,
    target_epoch: i32,
    target: &Assignment,
    owner_epoch: &dyn Fn(&Uuid, i32) -> Option<i32>,
    owned: Option<&Assignment>,
) -> Member {
    match member.state {
        MemberState::Stable => {
            if member.member_epoch != target_epoch {
                next(
                    member,
                    member.member_epoch,
                    target_epoch,
                    target,
                    owner_epoch,
                    owned,
                )
            } else {
                member.clone()
            }
        }
        MemberState::UnrevokedPartitions => {
            if owns_any(owned, &member.pending_revocation) {
                return member.clone();
            }
            next(
                member,
                member.member_epoch + 1,
                target_epoch,
                target,
                owner_epoch,
                owned,
            )
        }
        MemberState::UnreleasedPartitions => next(
            member,
            member.member_epoch,
            target_epoch,
            target,
            owner_epoch,
            owned,
        ),
    }
}

/// Whether the reported partitions include any of `revoked` (not reported counts as yes).
fn owns_any(owned: Option<&Assignment>, revoked: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned.iter().any(|(topic, parts)| {
        revoked
            .get(topic)
            .is_some_and(|r| parts.iter().any(|p| r.contains(p)))
    })
}

fn next(
    member: &Member,
    member_epoch: i32,
    target_epoch: i32,
    target: &Assignment,
    owner_epoch: &dyn Fn(&Uuid, i32) -> Option<i32>,
    owned: Option<&Assignment>,
) -> Member {
    let mut unreleased = false;
    let mut assigned = Assignment::new();
    let mut revoking = Assignment::new();
    let mut pending = Assignment::new();
    let topics: BTreeSet<&Uuid> = target.keys().chain(member.assigned.keys()).collect();
    let empty = BTreeSet::new();
    for topic in topics {
        let want = target.get(topic).unwrap_or(&empty);
        let have = member.assigned.get(topic).unwrap_or(&empty);
        let keep: BTreeSet<i32> = have.intersection(want).copied().collect();
        let revoke: BTreeSet<i32> = have.difference(&keep).copied().collect();
        let mut add: BTreeSet<i32> = want.difference(&keep).copied().collect();
        let before = add.len();
        add.retain(|p| owner_epoch(topic, *p).is_none());
        unreleased |= add.len() != before;
        if !keep.is_empty() {
            assigned.insert(*topic, keep);
        }
        if !revoke.is_empty() {
            revoking.insert(*topic, revoke);
        }
        if !add.is_empty() {
            pending.insert(*topic, add);
        }
    }
    let mut out = member.clone();
    if !revoking.is_empty() && owns_any(owned, &revoking) {
        out.state = MemberState::UnrevokedPartitions;
        out.set_epoch(member_epoch);
        out.assigned = assigned;
        out.pending_revocation = revoking;
        return out;
    }
    for (topic, parts) in pending {
        assigned.entry(topic).or_default().extend(parts);
    }
    out.state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    out.set_epoch(target_epoch);
    out.assigned = assigned;
    out.pending_revocation = Assignment::new();
    out
}
