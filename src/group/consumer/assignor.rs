//! Server-side partition assignors of consumer groups (KIP-848): `uniform` and `range`, as
//! Kafka's UniformAssignor and RangeAssignor compute them.
//!
//! * `range` is Kafka's algorithm exactly: per topic, the members subscribed to it (static
//!   members first by instance id, then the others by member id) get consecutive ranges,
//!   the first `partitions % members` of them one partition more.
//! * `uniform`, when every member has the same subscription, is Kafka's
//!   UniformHomogeneousAssignmentBuilder: each member keeps up to its quota of its current
//!   target partitions (`total / members`, one more for the first `total % members`
//!   members), and the freed and unassigned partitions fill the members below quota. Kafka
//!   walks members and topics in hash order; skua walks members by id and topics by name, so
//!   results are deterministic. With different subscriptions it is a sticky balance of its
//!   own: members keep their partitions of subscribed topics, each unassigned partition goes
//!   to the least loaded member subscribed to its topic, then partitions move from the most
//!   to the least loaded eligible member until no move narrows the gap.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::records::Assignment;

pub const UNIFORM: &str = "uniform";
pub const RANGE: &str = "range";

/// Kafka's class names for the two assignors (accepted in `group.consumer.assignors`).
pub const UNIFORM_CLASS: &str = "org.apache.kafka.coordinator.group.assignor.UniformAssignor";
pub const RANGE_CLASS: &str = "org.apache.kafka.coordinator.group.assignor.RangeAssignor";

/// The assignor name for a `group.consumer.assignors` entry (a name or Kafka's class name).
pub fn assignor_name(entry: &str) -> Option<&'static str> {
    match entry.trim() {
        UNIFORM | UNIFORM_CLASS => Some(UNIFORM),
        RANGE | RANGE_CLASS => Some(RANGE),
        _ => None,
    }
}

/// One member as the assignor sees it.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub member_id: String,
    pub instance_id: Option<String>,
    /// Subscribed topics that exist.
    pub topics: BTreeSet<Uuid>,
    /// The member's current target assignment.
    pub current: Assignment,
}

/// Compute a target assignment. `topics`: (id, partition count) of every subscribed topic,
/// in topic-name order.
pub fn assign(
    assignor: &str,
    members: &[MemberSpec],
    topics: &[(Uuid, i32)],
) -> BTreeMap<String, Assignment> {
    if members.is_empty() {
        return BTreeMap::new();
    }
    let counts: BTreeMap<Uuid, i32> = topics.iter().copied().collect();
    let mut members: Vec<MemberSpec> = members
        .iter()
        .map(|m| {
            let mut m = m.clone();
            m.topics.retain(|t| counts.contains_key(t));
            m
        })
        .collect();
    members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    if assignor == RANGE {
        return range(&members, topics);
    }
    let homogeneous = members.windows(2).all(|w| w[0].topics == w[1].topics);
    if homogeneous {
        uniform_homogeneous(&members, topics)
    } else {
        uniform_heterogeneous(&members, topics)
    }
}

fn range(members: &[MemberSpec], topics: &[(Uuid, i32)]) -> BTreeMap<String, Assignment> {
    let mut sorted: Vec<&MemberSpec> = members.iter().collect();
    sorted.sort_by(|a, b| match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    });
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::new()))
        .collect();
    for &(topic, partitions) in topics {
        let subscribed: Vec<&&MemberSpec> = sorted
            .iter()
            .filter(|m| m.topics.contains(&topic))
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        let n = subscribed.len() as i32;
        let min_quota = partitions / n;
        let mut extra = partitions % n;
        let mut next = 0;
        for m in subscribed {
            let mut quota = min_quota;
            if extra > 0 {
                quota += 1;
                extra -= 1;
            }
            let end = (next + quota).min(partitions);
            if next < end {
                if let Some(a) = out.get_mut(&m.member_id) {
                    a.insert(topic, (next..end).collect());
                }
            }
            next = end;
        }
    }
    out
}

fn uniform_homogeneous(
    members: &[MemberSpec],
    topics: &[(Uuid, i32)],
) -> BTreeMap<String, Assignment> {
    let subscribed = &members[0].topics;
    if subscribed.is_empty() {
        return members
            .iter()
            .map(|m| (m.member_id.clone(), Assignment::new()))
            .collect();
    }
    let assigned: BTreeSet<(Uuid, i32)> = members
        .iter()
        .flat_map(|m| {
            m.current
                .iter()
                .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
        })
        .collect();
    let mut unassigned: Vec<(Uuid, i32)> = Vec::new();
    let mut total = 0;
    for &(topic, count) in topics.iter().filter(|(t, _)| subscribed.contains(t)) {
        for p in 0..count {
            if !assigned.contains(&(topic, p)) {
                unassigned.push((topic, p));
            }
        }
        total += count;
    }
    let n = members.len() as i32;
    let min_quota = total / n;
    let mut extra = total % n;
    let mut out = BTreeMap::new();
    let mut unfilled: Vec<(String, i32)> = Vec::new();
    for m in members {
        let mut quota = min_quota;
        if extra > 0 {
            quota += 1;
            extra -= 1;
        }
        let mut kept = Assignment::new();
        for (topic, parts) in &m.current {
            if !subscribed.contains(topic) {
                continue;
            }
            let count = counts_of(topics, topic);
            for &p in parts {
                if p >= count {
                    continue;
                }
                if quota > 0 {
                    quota -= 1;
                    kept.entry(*topic).or_default().insert(p);
                } else {
                    unassigned.push((*topic, p));
                }
            }
        }
        if quota > 0 {
            unfilled.push((m.member_id.clone(), quota));
        }
        out.insert(m.member_id.clone(), kept);
    }
    let mut next = unassigned.into_iter();
    for (member, quota) in unfilled {
        let Some(a) = out.get_mut(&member) else {
            continue;
        };
        for _ in 0..quota {
            match next.next() {
                Some((t, p)) => {
                    a.entry(t).or_default().insert(p);
                }
                None => break,
            }
        }
    }
    out
}

fn counts_of(topics: &[(Uuid, i32)], topic: &Uuid) -> i32 {
    topics
        .iter()
        .find(|(t, _)| t == topic)
        .map_or(0, |(_, c)| *c)
}

fn uniform_heterogeneous(
    members: &[MemberSpec],
    topics: &[(Uuid, i32)],
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = BTreeMap::new();
    let mut owner: BTreeMap<(Uuid, i32), String> = BTreeMap::new();
    for m in members {
        let mut kept = Assignment::new();
        for (topic, parts) in &m.current {
            if !m.topics.contains(topic) {
                continue;
            }
            let count = counts_of(topics, topic);
            for &p in parts {
                if p < count && !owner.contains_key(&(*topic, p)) {
                    owner.insert((*topic, p), m.member_id.clone());
                    kept.entry(*topic).or_default().insert(p);
                }
            }
        }
        out.insert(m.member_id.clone(), kept);
    }
    let load = |out: &BTreeMap<String, Assignment>, id: &str| -> usize {
        out.get(id)
            .map_or(0, |a| a.values().map(BTreeSet::len).sum())
    };
    for &(topic, count) in topics {
        for p in 0..count {
            if owner.contains_key(&(topic, p)) {
                continue;
            }
            let best = members
                .iter()
                .filter(|m| m.topics.contains(&topic))
                .min_by_key(|m| load(&out, &m.member_id));
            if let Some(m) = best {
                owner.insert((topic, p), m.member_id.clone());
                out.entry(m.member_id.clone())
                    .or_default()
                    .entry(topic)
                    .or_default()
                    .insert(p);
            }
        }
    }
    // Balance: move one partition at a time from a member to an eligible member with at
    // least two fewer, the most loaded first, until no such move exists.
    loop {
        let mut moved = false;
        let mut by_load: Vec<&MemberSpec> = members.iter().collect();
        by_load.sort_by_key(|m| std::cmp::Reverse(load(&out, &m.member_id)));
        'find: for from in &by_load {
            let from_load = load(&out, &from.member_id);
            let parts: Vec<(Uuid, i32)> = out
                .get(&from.member_id)
                .map(|a| {
                    a.iter()
                        .rev()
                        .flat_map(|(t, ps)| ps.iter().rev().map(move |p| (*t, *p)))
                        .collect()
                })
                .unwrap_or_default();
            for (topic, p) in parts {
                let to = members
                    .iter()
                    .filter(|m| m.topics.contains(&topic) && m.member_id != from.member_id)
                    .filter(|m| load(&out, &m.member_id) + 1 < from_load)
                    .min_by_key(|m| load(&out, &m.member_id));
                if let Some(to) = to {
                    let to_id = to.member_id.clone();
                    if let Some(a) = out.get_mut(&from.member_id) {
                        if let Some(ps) = a.get_mut(&topic) {
                            ps.remove(&p);
                            if ps.is_empty() {
                                a.remove(&topic);
                            }
                        }
                    }
                    out.entry(to_id)
                        .or_default()
                        .entry(topic)
                        .or_default()
                        .insert(p);
                    moved = true;
                    break 'find;
                }
            }
        }
        if !moved {
            return out;
        }
    }
}
