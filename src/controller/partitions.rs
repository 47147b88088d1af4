//! Partition decisions: AlterPartition (ISR changes proposed by leaders), ElectLeaders,
//! AlterPartitionReassignments, and the periodic reassignment completion and preferred-leader
//! rebalance (Kafka's `ReplicationControlManager`).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::change::{Election, PartitionChange};
use super::errors::*;
use super::{Controller, ControllerResult, Work};
use crate::cluster::image::{MetadataImage, PartitionRegistration};
use crate::cluster::records::MetadataRecord;

/// A member of a proposed ISR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsrMember {
    pub broker_id: i32,
    /// The member's broker epoch as the leader knows it; -1 skips the check.
    pub broker_epoch: i64,
}

/// Kafka's AlterPartitionRequest (topic ids, v2+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionRequest {
    pub broker_id: i32,
    pub broker_epoch: i64,
    pub topics: Vec<AlterPartitionTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionTopic {
    pub topic_id: Uuid,
    pub partitions: Vec<AlterPartitionData>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionData {
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<IsrMember>,
}

/// A partition's state as AlterPartition reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionTopicResult {
    pub topic_id: Uuid,
    pub partitions: Vec<AlterPartitionResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionResult {
    pub partition: i32,
    pub result: Result<PartitionState, ApiError>,
}

/// ElectLeaders' election type (0 preferred, 1 unclean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

/// A topic and some of its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPartitions {
    pub topic: String,
    pub partitions: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResult {
    pub partition: i32,
    pub result: Result<(), ApiError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPartitionsResult {
    pub topic: String,
    pub partitions: Vec<PartitionResult>,
}

/// AlterPartitionReassignments: `replicas: None` cancels the partition's reassignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassignableTopic {
    pub name: String,
    pub partitions: Vec<ReassignablePartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassignablePartition {
    pub partition: i32,
    pub replicas: Option<Vec<i32>>,
}

fn state(p: &PartitionRegistration) -> PartitionState {
    PartitionState {
        leader: p.leader,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        isr: p.isr.clone(),
    }
}

/// Kafka's `Replicas.validateIsr`: no negative ids, no duplicates, all replicas.
fn valid_isr(replicas: &[i32], isr: &[i32]) -> bool {
    let mut seen = Vec::with_capacity(isr.len());
    for r in isr {
        if *r < 0 || seen.contains(r) || !replicas.contains(r) {
            return false;
        }
        seen.push(*r);
    }
    true
}

impl Controller {
    fn election_for(&self, image: &MetadataImage, topic: &str) -> Election {
        if self.unclean_election_enabled(image, topic) {
            Election::Unclean
        } else {
            Election::Online
        }
    }

    /// An ISR change proposed by a partition leader (Kafka's `alterPartition`). The broker
    /// epoch must be current (else the whole request fails with STALE_BROKER_EPOCH). Each
    /// partition answers its new state, or an error: NOT_CONTROLLER for epochs newer than the
    /// image's, FENCED_LEADER_EPOCH for an older leader epoch, INVALID_REQUEST if the broker
    /// is not the leader or the ISR is not a set of replicas holding the leader,
    /// INVALID_UPDATE_VERSION for an older partition epoch, INELIGIBLE_REPLICA for a member
    /// that is not registered, fenced, shutting down or of another epoch. A change that
    /// completes a reassignment may move the leadership: NEW_LEADER_ELECTED (records kept).
    pub fn alter_partition(
        &self,
        image: &MetadataImage,
        req: &AlterPartitionRequest,
    ) -> ControllerResult<Result<Vec<AlterPartitionTopicResult>, ApiError>> {
        if let Err(e) = Self::check_broker_epoch(image, req.broker_id, req.broker_epoch) {
            return ControllerResult::new(Vec::new(), Err(e));
        }
        let mut work = Work::new(image);
        let mut out = Vec::with_capacity(req.topics.len());
        for t in &req.topics {
            let mut results = Vec::with_capacity(t.partitions.len());
            for d in &t.partitions {
                let result = self.alter_one_partition(&mut work, req.broker_id, t.topic_id, d);
                results.push(AlterPartitionResult {
                    partition: d.partition,
                    result,
                });
            }
            out.push(AlterPartitionTopicResult {
                topic_id: t.topic_id,
                partitions: results,
            });
        }
        ControllerResult::new(work.records, Ok(out))
    }

    fn alter_one_partition(
        &self,
        work: &mut Work,
        broker_id: i32,
        topic_id: Uuid,
        d: &AlterPartitionData,
    ) -> Result<PartitionState, ApiError> {
        let image = &work.image;
        let topic = image
            .topic_by_id(&topic_id)
            .ok_or_else(|| ApiError::of(UNKNOWN_TOPIC_ID))?;
        let part = topic
            .partition(d.partition)
            .ok_or_else(|| ApiError::of(UNKNOWN_TOPIC_OR_PARTITION))?;
        let new_isr = self.validate_alter_partition(image, &topic.name, part, broker_id, d)?;
        let record = PartitionChange::new(part, topic_id, d.partition)
            .election(self.election_for(image, &topic.name))
            .isr(new_isr)
            .build(|r| self.is_active(image, r));
        let current = state(part);
        let Some(record) = record else {
            return Ok(current);
        };
        let new_leader = match &record {
            MetadataRecord::PartitionChange { leader, .. } => *leader,
            _ => None,
        };
        work.push(record);
        if new_leader.is_some_and(|l| l != broker_id) {
            // The change completed a reassignment that moved the leadership away.
            return Err(ApiError::of(NEW_LEADER_ELECTED));
        }
        Ok(work
            .image
            .partition(&topic_id, d.partition)
            .map(state)
            .unwrap_or(current))
    }

    /// Kafka's `validateAlterPartitionData`; the proposed ISR.
    fn validate_alter_partition(
        &self,
        image: &MetadataImage,
        name: &str,
        part: &PartitionRegistration,
        broker_id: i32,
        d: &AlterPartitionData,
    ) -> Result<Vec<i32>, ApiError> {
        let p = d.partition;
        if d.leader_epoch > part.leader_epoch || d.partition_epoch > part.partition_epoch {
            return Err(ApiError::new(
                NOT_CONTROLLER,
                format!("The epochs of {name}-{p} in the request are newer than the controller's."),
            ));
        }
        if d.leader_epoch < part.leader_epoch {
            return Err(ApiError::new(
                FENCED_LEADER_EPOCH,
                format!(
                    "The leader epoch of {name}-{p} is {}, not {}.",
                    part.leader_epoch, d.leader_epoch
                ),
            ));
        }
        if broker_id != part.leader {
            return Err(ApiError::new(
                INVALID_REQUEST,
                format!(
                    "The leader of {name}-{p} is {}, not {broker_id}.",
                    part.leader
                ),
            ));
        }
        if d.partition_epoch < part.partition_epoch {
            return Err(ApiError::new(
                INVALID_UPDATE_VERSION,
                format!(
                    "The partition epoch of {name}-{p} is {}, not {}.",
                    part.partition_epoch, d.partition_epoch
                ),
            ));
        }
        let new_isr: Vec<i32> = d.new_isr.iter().map(|m| m.broker_id).collect();
        if !valid_isr(&part.replicas, &new_isr) || !new_isr.contains(&part.leader) {
            return Err(ApiError::new(
                INVALID_REQUEST,
                format!(
                    "Invalid ISR {new_isr:?} for {name}-{p} (replicas {:?}, leader {}).",
                    part.replicas, part.leader
                ),
            ));
        }
        let ineligible: Vec<String> = d
            .new_isr
            .iter()
            .filter_map(|m| {
                self.ineligible_reason(image, m)
                    .map(|why| format!("{} ({why})", m.broker_id))
            })
            .collect();
        if !ineligible.is_empty() {
            return Err(ApiError::new(
                INELIGIBLE_REPLICA,
                format!(
                    "The new ISR of {name}-{p} has ineligible replicas: {}.",
                    ineligible.join(", ")
                ),
            ));
        }
        Ok(new_isr)
    }

    /// Why a broker may not join an ISR (Kafka's `ineligibleReplicasForIsr`), if it may not.
    fn ineligible_reason(&self, image: &MetadataImage, m: &IsrMember) -> Option<String> {
        let Some(b) = image.broker(m.broker_id) else {
            return Some("not registered".into());
        };
        if self
            .sessions
            .get(&m.broker_id)
            .is_some_and(|s| s.in_controlled_shutdown)
        {
            Some("shutting down".into())
        } else if b.fenced {
            Some("fenced".into())
        } else if m.broker_epoch != -1 && m.broker_epoch != b.epoch {
            Some(format!(
                "broker epoch mismatch: requested={} VS expected={}",
                m.broker_epoch, b.epoch
            ))
        } else {
            None
        }
    }

    /// ElectLeaders (Kafka's `electLeaders`). `partitions: None` means every partition, and
    /// then partitions that need no election are left out of the answer.
    pub fn elect_leaders(
        &self,
        image: &MetadataImage,
        election: ElectionType,
        partitions: Option<&[TopicPartitions]>,
    ) -> ControllerResult<Vec<TopicPartitionsResult>> {
        let mut work = Work::new(image);
        let mut out = Vec::new();
        match partitions {
            None => {
                for t in image.topics() {
                    let mut results = Vec::new();
                    for p in 0..t.partitions.len() as i32 {
                        let result = self.elect_one(&mut work, &t.name, p, election);
                        if result.as_ref().err().map(|e| e.code) != Some(ELECTION_NOT_NEEDED) {
                            results.push(PartitionResult {
                                partition: p,
                                result,
                            });
                        }
                    }
                    out.push(TopicPartitionsResult {
                        topic: t.name.clone(),
                        partitions: results,
                    });
                }
            }
            Some(topics) => {
                for t in topics {
                    let results = t
                        .partitions
                        .iter()
                        .map(|&p| PartitionResult {
                            partition: p,
                            result: self.elect_one(&mut work, &t.topic, p, election),
                        })
                        .collect();
                    out.push(TopicPartitionsResult {
                        topic: t.topic.clone(),
                        partitions: results,
                    });
                }
            }
        }
        ControllerResult::new(work.records, out)
    }

    fn elect_one(
        &self,
        work: &mut Work,
        topic: &str,
        p: i32,
        election: ElectionType,
    ) -> Result<(), ApiError> {
        let image = &work.image;
        let t = image.topic(topic).ok_or_else(|| {
            ApiError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                format!("No such topic as {topic}"),
            )
        })?;
        let part = t.partition(p).ok_or_else(|| {
            ApiError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                format!("No such partition as {topic}-{p}"),
            )
        })?;
        let not_needed = match election {
            ElectionType::Preferred => part.has_preferred_leader(),
            ElectionType::Unclean => part.has_leader(),
        };
        if not_needed {
            return Err(ApiError::of(ELECTION_NOT_NEEDED));
        }
        let kind = match election {
            ElectionType::Preferred => Election::Preferred,
            ElectionType::Unclean => Election::Unclean,
        };
        let record = PartitionChange::new(part, t.id, p)
            .election(kind)
            .build(|r| self.is_active(image, r));
        match record {
            Some(r) => {
                work.push(r);
                Ok(())
            }
            None if election == ElectionType::Preferred => {
                Err(ApiError::of(PREFERRED_LEADER_NOT_AVAILABLE))
            }
            None => Err(ApiError::of(ELIGIBLE_LEADERS_NOT_AVAILABLE)),
        }
    }

    /// AlterPartitionReassignments (Kafka's `alterPartitionReassignments`). A target makes the
    /// replicas `target ++ (current - target)` with the adding/removing sets, or completes at
    /// once if the ISR already allows; the reassignment completes when every target replica is
    /// in the ISR (then replicas = target, and a leader outside the target hands over).
    /// `None` cancels: back to the original replicas (an unclean election if no original
    /// replica is in the ISR, allowed only where unclean election is enabled).
    pub fn alter_partition_reassignments(
        &self,
        image: &MetadataImage,
        topics: &[ReassignableTopic],
    ) -> ControllerResult<Vec<TopicPartitionsResult>> {
        let mut work = Work::new(image);
        let mut out = Vec::with_capacity(topics.len());
        for t in topics {
            let partitions = t
                .partitions
                .iter()
                .map(|rp| PartitionResult {
                    partition: rp.partition,
                    result: self.reassign_one(&mut work, &t.name, rp),
                })
                .collect();
            out.push(TopicPartitionsResult {
                topic: t.name.clone(),
                partitions,
            });
        }
        ControllerResult::new(work.records, out)
    }

    fn reassign_one(
        &self,
        work: &mut Work,
        topic: &str,
        rp: &ReassignablePartition,
    ) -> Result<(), ApiError> {
        let image = &work.image;
        let t = image.topic(topic).ok_or_else(|| {
            ApiError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                format!("Unable to find a topic named {topic}."),
            )
        })?;
        let p = rp.partition;
        let part = t.partition(p).ok_or_else(|| {
            ApiError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                format!("Unable to find partition {topic}:{p}."),
            )
        })?;
        let builder = match &rp.replicas {
            Some(target) => {
                self.validate_manual_assignment(image, target, None)?;
                let removing: Vec<i32> = sorted_difference(&part.replicas, target);
                let adding: Vec<i32> = sorted_difference(target, &part.replicas);
                let mut replicas = target.clone();
                replicas.extend(&removing);
                let mut b = PartitionChange::new(part, t.id, p);
                if replicas != part.replicas {
                    b = b.replicas(replicas);
                }
                if !removing.is_empty() {
                    b = b.removing(removing);
                }
                if !adding.is_empty() {
                    b = b.adding(adding);
                }
                b
            }
            None => self.revert_reassignment(image, topic, t.id, p, part)?,
        };
        if let Some(record) = builder.build(|r| self.is_active(image, r)) {
            work.push(record);
        }
        Ok(())
    }

    /// Cancel a reassignment (Kafka's `PartitionReassignmentRevert`): back to the replicas
    /// minus those being added, and the ISR minus them; if that empties the ISR, the first
    /// original replica, an unclean election only allowed where unclean election is enabled.
    fn revert_reassignment<'a>(
        &self,
        image: &MetadataImage,
        topic: &str,
        topic_id: Uuid,
        p: i32,
        part: &'a PartitionRegistration,
    ) -> Result<PartitionChange<'a>, ApiError> {
        if !part.is_reassigning() {
            // Kafka answers a cancel with nothing to cancel without a message.
            return Err(ApiError {
                code: NO_REASSIGNMENT_IN_PROGRESS,
                message: None,
            });
        }
        let not_adding = |r: &i32| !part.adding_replicas.contains(r);
        let original: Vec<i32> = part.replicas.iter().copied().filter(not_adding).collect();
        let mut isr: Vec<i32> = part.isr.iter().copied().filter(not_adding).collect();
        if isr.is_empty() {
            let Some(&first) = original.first() else {
                return Err(ApiError::new(
                    INVALID_REPLICA_ASSIGNMENT,
                    "Invalid replica assignment: addingReplicas contains all replicas.",
                ));
            };
            if !self.unclean_election_enabled(image, topic) {
                return Err(ApiError::new(
                    INVALID_REPLICA_ASSIGNMENT,
                    format!("Unable to revert partition assignment for {topic}:{p} because it would require an unclean leader election."),
                ));
            }
            isr.push(first);
        }
        Ok(PartitionChange::new(part, topic_id, p)
            .election(self.election_for(image, topic))
            .isr(isr)
            .replicas(original)
            .removing(Vec::new())
            .adding(Vec::new()))
    }

    /// Kafka's `validateManualPartitionAssignment`.
    pub(crate) fn validate_manual_assignment(
        &self,
        image: &MetadataImage,
        replicas: &[i32],
        replication_factor: Option<usize>,
    ) -> Result<(), ApiError> {
        if replicas.is_empty() {
            return Err(ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "The manual partition assignment includes an empty replica list.",
            ));
        }
        let mut sorted = replicas.to_vec();
        sorted.sort_unstable();
        let mut prev = None;
        for b in sorted {
            if image.broker(b).is_none() {
                return Err(ApiError::new(
                    INVALID_REPLICA_ASSIGNMENT,
                    format!("The manual partition assignment includes broker {b}, but no such broker is registered."),
                ));
            }
            if prev == Some(b) {
                return Err(ApiError::new(
                    INVALID_REPLICA_ASSIGNMENT,
                    format!(
                        "The manual partition assignment includes the broker {b} more than once."
                    ),
                ));
            }
            prev = Some(b);
        }
        if let Some(rf) = replication_factor {
            if replicas.len() != rf {
                return Err(ApiError::new(
                    INVALID_REPLICA_ASSIGNMENT,
                    format!("The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {rf} replica(s).", replicas.len()),
                ));
            }
        }
        Ok(())
    }

    /// Complete every reassignment whose ISR already allows it.
    pub(super) fn complete_reassignments(&self, work: &mut Work) {
        let parts = Self::partitions_where(&work.image, |p| p.is_reassigning());
        for (topic_id, p) in parts {
            let image = &work.image;
            let Some(topic) = image.topic_by_id(&topic_id) else {
                continue;
            };
            let Some(part) = topic.partition(p) else {
                continue;
            };
            let record = PartitionChange::new(part, topic_id, p)
                .election(self.election_for(image, &topic.name))
                .build(|r| self.is_active(image, r));
            if let Some(record) = record {
                work.push(record);
            }
        }
    }

    /// Elect preferred leaders back on brokers whose share of preferred partitions led
    /// elsewhere exceeds `leader.imbalance.per.broker.percentage` (reassigning partitions
    /// are left alone).
    pub(super) fn rebalance_leaders(&self, work: &mut Work) {
        let mut per_broker: BTreeMap<i32, (usize, Vec<(Uuid, i32)>)> = BTreeMap::new();
        for t in work.image.topics() {
            for (i, p) in t.partitions.iter().enumerate() {
                if p.is_reassigning() || p.replicas.is_empty() {
                    continue;
                }
                let entry = per_broker.entry(p.preferred_leader()).or_default();
                entry.0 += 1;
                if !p.has_preferred_leader() {
                    entry.1.push((t.id, i as i32));
                }
            }
        }
        let pct = self.config.leader_imbalance_per_broker_percentage.max(0) as usize;
        for (_, (total, imbalanced)) in per_broker {
            if imbalanced.is_empty() || imbalanced.len() * 100 <= total * pct {
                continue;
            }
            for (topic_id, p) in imbalanced {
                let image = &work.image;
                let Some(part) = image.partition(&topic_id, p) else {
                    continue;
                };
                let preferred = part.preferred_leader();
                let record = PartitionChange::new(part, topic_id, p)
                    .election(Election::Preferred)
                    .build(|r| self.is_active(image, r));
                // Only a move to the preferred replica is a rebalance.
                let to_preferred = matches!(
                    &record,
                    Some(MetadataRecord::PartitionChange { leader: Some(l), .. }) if *l == preferred
                );
                if let (true, Some(record)) = (to_preferred, record) {
                    work.push(record);
                }
            }
        }
    }
}

/// `a - b`, sorted (Kafka's `calculateDifference` into a TreeSet).
fn sorted_difference(a: &[i32], b: &[i32]) -> Vec<i32> {
    let mut d: Vec<i32> = a.iter().copied().filter(|x| !b.contains(x)).collect();
    d.sort_unstable();
    d.dedup();
    d
}
