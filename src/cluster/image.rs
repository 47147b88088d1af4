//! The metadata image: the cluster-wide state built by applying the committed metadata log
//! (`cluster/records.rs`) in order — cluster id, broker registrations, topics and their
//! partitions (replicas, ISR, leader, epochs, reassignment), config overrides, the next
//! producer id block, and the log index it covers.
//!
//! Invariants:
//! - [`MetadataImage::apply`] is the only way an image changes, on the active controller and
//!   on every broker alike, so equal logs give equal images. A record that does not fit the
//!   image (an unknown topic, a stale broker epoch, ...) changes nothing and is reported as an
//!   [`ImageError`]; the log index still advances.
//! - A broker's epoch is the log index of the entry that registered it.
//! - Applying a `PartitionChange` bumps `partition_epoch`; one that sets the leader (even to
//!   the same broker, or to -1) also bumps `leader_epoch` (Kafka's `PartitionRegistration.merge`).
//! - Topics are shared `Arc<TopicImage>`s: cloning an image is cheap (one `Arc` per topic), and
//!   a change copies only the topic it touches. Readers hold a clone; the runtime swaps a new
//!   image in after each applied batch (no locks here).
//!
//! Snapshot format ([`MetadataImage::to_snapshot`]): serde_json of the whole image, brokers,
//! topics and configs as lists (raft snapshots bound the metadata log).
//!
//! [`local_changes`] is the broker-side delta between two images: what one broker must do for
//! the partitions it hosts (become leader or follower, apply an ISR change, delete a replica).
//!
//! No tokio, no I/O, no clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::records::{ConfigResource, Endpoint, MetadataRecord};

pub mod acls;
pub mod scram;

/// The leader of a partition that has none.
pub const NO_LEADER: i32 = -1;

/// One registered broker.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BrokerRegistration {
    pub id: i32,
    /// The log index of the entry that registered this incarnation.
    pub epoch: i64,
    pub incarnation_id: Uuid,
    pub listeners: Vec<Endpoint>,
    pub rack: Option<String>,
    /// A fenced broker leads nothing and is in no ISR (the controller sees to it).
    pub fenced: bool,
}

/// The state of one partition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PartitionRegistration {
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// [`NO_LEADER`] when offline.
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// Replicas a reassignment is adding (also in `replicas`).
    pub adding_replicas: Vec<i32>,
    /// Replicas a reassignment is removing (also in `replicas`).
    pub removing_replicas: Vec<i32>,
}

impl PartitionRegistration {
    pub fn has_leader(&self) -> bool {
        self.leader != NO_LEADER
    }

    /// The first replica, [`NO_LEADER`] if there is none.
    pub fn preferred_leader(&self) -> i32 {
        self.replicas.first().copied().unwrap_or(NO_LEADER)
    }

    /// Kafka's `hasPreferredLeader`: the leader is the first replica.
    pub fn has_preferred_leader(&self) -> bool {
        self.leader == self.preferred_leader()
    }

    pub fn is_reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }

    /// The partition state after a `PartitionChange` (Kafka's `PartitionRegistration.merge`).
    pub fn merge(&self, change: &PartitionChangeFields<'_>) -> PartitionRegistration {
        let mut p = self.clone();
        if let Some(r) = change.replicas {
            p.replicas = r.to_vec();
        }
        if let Some(i) = change.isr {
            p.isr = i.to_vec();
        }
        if let Some(a) = change.adding_replicas {
            p.adding_replicas = a.to_vec();
        }
        if let Some(r) = change.removing_replicas {
            p.removing_replicas = r.to_vec();
        }
        if let Some(l) = change.leader {
            p.leader = l;
            p.leader_epoch += 1;
        }
        p.partition_epoch += 1;
        p
    }
}

/// The optional fields of a `PartitionChange` record, borrowed.
#[derive(Debug, Default, Clone, Copy)]
pub struct PartitionChangeFields<'a> {
    pub leader: Option<i32>,
    pub isr: Option<&'a [i32]>,
    pub replicas: Option<&'a [i32]>,
    pub adding_replicas: Option<&'a [i32]>,
    pub removing_replicas: Option<&'a [i32]>,
}

/// One topic: its name, id and partitions (index = partition id).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<PartitionRegistration>,
}

impl TopicImage {
    pub fn partition(&self, partition: i32) -> Option<&PartitionRegistration> {
        usize::try_from(partition)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// A record that does not fit the image; applying it changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("entry {index} is before the last applied entry {last}")]
    IndexRegression { index: u64, last: u64 },
    #[error("the cluster id is {current}, a record sets {record}")]
    ClusterIdMismatch { current: String, record: String },
    #[error("broker {0} is not registered")]
    UnknownBroker(i32),
    #[error("broker {broker_id} has epoch {current}, the record names epoch {record}")]
    StaleBrokerEpoch {
        broker_id: i32,
        current: i64,
        record: i64,
    },
    #[error("no topic has id {0}")]
    UnknownTopicId(Uuid),
    #[error("topic {name} already exists with id {existing}")]
    TopicExists { name: String, existing: Uuid },
    #[error("topic id {id} is already used by topic {name}")]
    TopicIdExists { id: Uuid, name: String },
    #[error("topic {topic_id} has no partition {partition} (and it is not the next one)")]
    InvalidPartition { topic_id: Uuid, partition: i32 },
    #[error("no ACL has id {0}")]
    UnknownAcl(Uuid),
    #[error("next producer id {record} does not advance past {current}")]
    ProducerIdNotIncreasing { current: i64, record: i64 },
    #[error("SCRAM credential record: {0}")]
    Scram(String),
}

/// The cluster metadata at one log index. See the module doc.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetadataImage {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerRegistration>,
    topics: BTreeMap<Uuid, Arc<TopicImage>>,
    topic_ids: BTreeMap<String, Uuid>,
    configs: BTreeMap<ConfigResource, BTreeMap<String, String>>,
    next_producer_id: i64,
    last_applied_index: u64,
    acls: acls::AclImage,
    /// Client quotas (ClientQuota records).
    client_quotas: quotas::ClientQuotasImage,
    /// Users' SCRAM credentials (`image/scram.rs`).
    scram: Arc<scram::ScramImage>,
}

static NO_CONFIGS: BTreeMap<String, String> = BTreeMap::new();

impl MetadataImage {
    /// The empty image (before the first entry).
    pub fn new() -> MetadataImage {
        MetadataImage::default()
    }

    /// Apply one record of the entry at `index` (every record of an entry has its index).
    pub fn apply(&mut self, index: u64, record: &MetadataRecord) -> Result<(), ImageError> {
        if index < self.last_applied_index {
            return Err(ImageError::IndexRegression {
                index,
                last: self.last_applied_index,
            });
        }
        self.last_applied_index = index;
        match record {
            MetadataRecord::ClusterId { cluster_id } => self.apply_cluster_id(cluster_id),
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                listeners,
                rack,
            } => {
                self.brokers.insert(
                    *broker_id,
                    BrokerRegistration {
                        id: *broker_id,
                        epoch: index as i64,
                        incarnation_id: *incarnation_id,
                        listeners: listeners.clone(),
                        rack: rack.clone(),
                        fenced: true,
                    },
                );
                Ok(())
            }
            MetadataRecord::UnregisterBroker {
                broker_id,
                broker_epoch,
            } => {
                self.broker_with_epoch(*broker_id, *broker_epoch)?;
                self.brokers.remove(broker_id);
                Ok(())
            }
            MetadataRecord::FenceBroker {
                broker_id,
                broker_epoch,
            } => {
                self.broker_with_epoch(*broker_id, *broker_epoch)?.fenced = true;
                Ok(())
            }
            MetadataRecord::UnfenceBroker {
                broker_id,
                broker_epoch,
            } => {
                self.broker_with_epoch(*broker_id, *broker_epoch)?.fenced = false;
                Ok(())
            }
            MetadataRecord::Topic { name, topic_id } => self.apply_topic(name, *topic_id),
            MetadataRecord::Partition { .. } => self.apply_partition(record),
            MetadataRecord::PartitionChange { .. } => self.apply_partition_change(record),
            MetadataRecord::RemoveTopic { topic_id } => self.apply_remove_topic(*topic_id),
            MetadataRecord::Config {
                resource,
                name,
                value,
            } => {
                self.apply_config(resource, name, value.as_deref());
                Ok(())
            }
            MetadataRecord::AccessControlEntry { id, acl } => {
                self.acls.add(*id, acl);
                Ok(())
            }
            MetadataRecord::RemoveAccessControlEntry { id } => self.acls.remove(*id),
            MetadataRecord::ProducerIds {
                next_producer_id, ..
            } => self.apply_producer_ids(*next_producer_id),
            MetadataRecord::ClientQuota { entity, key, value } => {
                self.client_quotas.apply(entity, key, value.map(|v| v.0));
                Ok(())
            }
            MetadataRecord::UserScramCredential {
                name,
                mechanism,
                salt,
                stored_key,
                server_key,
                iterations,
            } => {
                let credential = crate::security::scram::ScramCredential {
                    salt: salt.clone(),
                    stored_key: stored_key.clone(),
                    server_key: server_key.clone(),
                    iterations: *iterations,
                };
                Arc::make_mut(&mut self.scram)
                    .upsert(name, *mechanism, credential)
                    .map_err(ImageError::Scram)
            }
            MetadataRecord::RemoveUserScramCredential { name, mechanism } => {
                Arc::make_mut(&mut self.scram)
                    .remove(name, *mechanism)
                    .map_err(ImageError::Scram)
            }
        }
    }

    /// Apply every record of one entry; returns the records that did not fit (each changed
    /// nothing), with their position in the batch.
    pub fn apply_batch(
        &mut self,
        index: u64,
        records: &[MetadataRecord],
    ) -> Vec<(usize, ImageError)> {
        let mut errors = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if let Err(e) = self.apply(index, r) {
                errors.push((i, e));
            }
        }
        if records.is_empty() && index > self.last_applied_index {
            self.last_applied_index = index;
        }
        errors
    }

    fn broker_with_epoch(
        &mut self,
        broker_id: i32,
        epoch: i64,
    ) -> Result<&mut BrokerRegistration, ImageError> {
        let b = self
            .brokers
            .get_mut(&broker_id)
            .ok_or(ImageError::UnknownBroker(broker_id))?;
        if b.epoch != epoch {
            return Err(ImageError::StaleBrokerEpoch {
                broker_id,
                current: b.epoch,
                record: epoch,
            });
        }
        Ok(b)
    }

    fn apply_topic(&mut self, name: &str, topic_id: Uuid) -> Result<(), ImageError> {
        if let Some(existing) = self.topic_ids.get(name) {
            if *existing == topic_id {
                return Ok(());
            }
            return Err(ImageError::TopicExists {
                name: name.to_string(),
                existing: *existing,
            });
        }
        if let Some(t) = self.topics.get(&topic_id) {
            return Err(ImageError::TopicIdExists {
                id: topic_id,
                name: t.name.clone(),
            });
        }
        self.topic_ids.insert(name.to_string(), topic_id);
        self.topics.insert(
            topic_id,
            Arc::new(TopicImage {
                name: name.to_string(),
                id: topic_id,
                partitions: Vec::new(),
            }),
        );
        Ok(())
    }

    fn apply_cluster_id(&mut self, cluster_id: &str) -> Result<(), ImageError> {
        match &self.cluster_id {
            Some(current) if current != cluster_id => Err(ImageError::ClusterIdMismatch {
                current: current.clone(),
                record: cluster_id.to_string(),
            }),
            _ => {
                self.cluster_id = Some(cluster_id.to_string());
                Ok(())
            }
        }
    }

    /// The topic of a partition record and the index of the partition, which must exist
    /// (`new`: or be the next one).
    fn topic_slot(
        &mut self,
        topic_id: Uuid,
        partition: i32,
        new: bool,
    ) -> Result<(&mut TopicImage, usize), ImageError> {
        let topic = self
            .topics
            .get_mut(&topic_id)
            .ok_or(ImageError::UnknownTopicId(topic_id))?;
        let len = topic.partitions.len();
        let idx = usize::try_from(partition)
            .ok()
            .filter(|i| *i < len || (new && *i == len))
            .ok_or(ImageError::InvalidPartition {
                topic_id,
                partition,
            })?;
        Ok((Arc::make_mut(topic), idx))
    }

    fn apply_partition(&mut self, record: &MetadataRecord) -> Result<(), ImageError> {
        let MetadataRecord::Partition {
            topic_id,
            partition,
            replicas,
            isr,
            leader,
            leader_epoch,
            partition_epoch,
            adding_replicas,
            removing_replicas,
        } = record
        else {
            return Ok(());
        };
        let registration = PartitionRegistration {
            replicas: replicas.clone(),
            isr: isr.clone(),
            leader: *leader,
            leader_epoch: *leader_epoch,
            partition_epoch: *partition_epoch,
            adding_replicas: adding_replicas.clone(),
            removing_replicas: removing_replicas.clone(),
        };
        let (topic, idx) = self.topic_slot(*topic_id, *partition, true)?;
        if idx == topic.partitions.len() {
            topic.partitions.push(registration);
        } else {
            topic.partitions[idx] = registration;
        }
        Ok(())
    }

    fn apply_partition_change(&mut self, record: &MetadataRecord) -> Result<(), ImageError> {
        let MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader,
            isr,
            replicas,
            adding_replicas,
            removing_replicas,
        } = record
        else {
            return Ok(());
        };
        let fields = PartitionChangeFields {
            leader: *leader,
            isr: isr.as_deref(),
            replicas: replicas.as_deref(),
            adding_replicas: adding_replicas.as_deref(),
            removing_replicas: removing_replicas.as_deref(),
        };
        let (topic, idx) = self.topic_slot(*topic_id, *partition, false)?;
        topic.partitions[idx] = topic.partitions[idx].merge(&fields);
        Ok(())
    }

    fn apply_remove_topic(&mut self, topic_id: Uuid) -> Result<(), ImageError> {
        let topic = self
            .topics
            .remove(&topic_id)
            .ok_or(ImageError::UnknownTopicId(topic_id))?;
        self.topic_ids.remove(&topic.name);
        self.configs
            .remove(&ConfigResource::Topic(topic.name.clone()));
        Ok(())
    }

    fn apply_config(&mut self, resource: &ConfigResource, name: &str, value: Option<&str>) {
        match value {
            Some(v) => {
                self.configs
                    .entry(resource.clone())
                    .or_default()
                    .insert(name.to_string(), v.to_string());
            }
            None => {
                if let Some(c) = self.configs.get_mut(resource) {
                    c.remove(name);
                    if c.is_empty() {
                        self.configs.remove(resource);
                    }
                }
            }
        }
    }

    fn apply_producer_ids(&mut self, next_producer_id: i64) -> Result<(), ImageError> {
        if next_producer_id <= self.next_producer_id {
            return Err(ImageError::ProducerIdNotIncreasing {
                current: self.next_producer_id,
                record: next_producer_id,
            });
        }
        self.next_producer_id = next_producer_id;
        Ok(())
    }

    // ---- lookups -------------------------------------------------------------------------

    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// The log index of the last applied entry (0 before any).
    pub fn last_applied_index(&self) -> u64 {
        self.last_applied_index
    }

    /// The first producer id of the next block to hand out.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    pub fn broker(&self, id: i32) -> Option<&BrokerRegistration> {
        self.brokers.get(&id)
    }

    /// Every registered broker, by id.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerRegistration> {
        self.brokers.values()
    }

    /// The registered, unfenced brokers, by id.
    pub fn live_brokers(&self) -> impl Iterator<Item = &BrokerRegistration> {
        self.brokers.values().filter(|b| !b.fenced)
    }

    pub fn is_live(&self, broker_id: i32) -> bool {
        self.brokers.get(&broker_id).is_some_and(|b| !b.fenced)
    }

    /// A partition's replicas on brokers that are fenced or not registered (Metadata's
    /// `offline_replicas`).
    pub fn offline_replicas(&self, partition: &PartitionRegistration) -> Vec<i32> {
        partition
            .replicas
            .iter()
            .copied()
            .filter(|r| !self.is_live(*r))
            .collect()
    }

    /// The endpoint a broker advertises for the named listener.
    pub fn broker_endpoint(&self, broker_id: i32, listener: &str) -> Option<&Endpoint> {
        self.brokers
            .get(&broker_id)?
            .listeners
            .iter()
            .find(|e| e.name == listener)
    }

    pub fn topic(&self, name: &str) -> Option<&Arc<TopicImage>> {
        self.topics.get(self.topic_ids.get(name)?)
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<&Arc<TopicImage>> {
        self.topics.get(id)
    }

    /// Every topic, by name.
    pub fn topics(&self) -> impl Iterator<Item = &Arc<TopicImage>> {
        self.topic_ids.values().filter_map(|id| self.topics.get(id))
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    pub fn partition(&self, topic_id: &Uuid, partition: i32) -> Option<&PartitionRegistration> {
        self.topics.get(topic_id)?.partition(partition)
    }

    pub fn partition_by_name(&self, topic: &str, partition: i32) -> Option<&PartitionRegistration> {
        self.topic(topic)?.partition(partition)
    }

    /// The overrides set on a resource (empty if none).
    pub fn configs(&self, resource: &ConfigResource) -> &BTreeMap<String, String> {
        self.configs.get(resource).unwrap_or(&NO_CONFIGS)
    }

    /// A topic's config overrides (empty if none).
    pub fn topic_configs(&self, topic: &str) -> &BTreeMap<String, String> {
        self.configs
            .get(&ConfigResource::Topic(topic.to_string()))
            .unwrap_or(&NO_CONFIGS)
    }

    /// Users' SCRAM credentials.
    pub fn scram(&self) -> Arc<scram::ScramImage> {
        Arc::clone(&self.scram)
    }

    /// Every resource with overrides.
    pub fn config_resources(&self) -> impl Iterator<Item = &ConfigResource> {
        self.configs.keys()
    }

    /// The ACLs (id → binding); the same `Arc` until an ACL changes.
    pub fn acls(&self) -> &Arc<BTreeMap<Uuid, crate::security::acl::AclBinding>> {
        self.acls.all()
    }

    /// The client quotas.
    pub fn client_quotas(&self) -> &quotas::ClientQuotasImage {
        &self.client_quotas
    }

    // ---- snapshots -----------------------------------------------------------------------

    /// The whole image, serialized (a raft snapshot's payload).
    pub fn to_snapshot(&self) -> Vec<u8> {
        let s = SnapshotRef {
            cluster_id: self.cluster_id.as_deref(),
            brokers: self.brokers.values().collect(),
            topics: self.topics.values().map(|t| &**t).collect(),
            configs: self.configs.iter().collect(),
            next_producer_id: self.next_producer_id,
            last_applied_index: self.last_applied_index,
            acls: self.acls.all().iter().collect(),
            client_quotas: &self.client_quotas,
            scram: self.scram.entries(),
        };
        match serde_json::to_vec(&s) {
            Ok(bytes) => bytes,
            Err(e) => unreachable!("the image always serializes: {e}"),
        }
    }

    /// The image a snapshot holds.
    pub fn from_snapshot(bytes: &[u8]) -> Result<MetadataImage, serde_json::Error> {
        let s: Snapshot = serde_json::from_slice(bytes)?;
        let mut image = MetadataImage {
            cluster_id: s.cluster_id,
            next_producer_id: s.next_producer_id,
            last_applied_index: s.last_applied_index,
            client_quotas: s.client_quotas,
            ..MetadataImage::default()
        };
        for b in s.brokers {
            image.brokers.insert(b.id, b);
        }
        for t in s.topics {
            image.topic_ids.insert(t.name.clone(), t.id);
            image.topics.insert(t.id, Arc::new(t));
        }
        image.configs = s.configs.into_iter().collect();
        image.acls = acls::AclImage::from_list(s.acls);
        image.scram = Arc::new(scram::ScramImage::from_entries(s.scram));
        Ok(image)
    }
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    cluster_id: Option<&'a str>,
    brokers: Vec<&'a BrokerRegistration>,
    topics: Vec<&'a TopicImage>,
    configs: Vec<(&'a ConfigResource, &'a BTreeMap<String, String>)>,
    next_producer_id: i64,
    last_applied_index: u64,
    acls: Vec<(&'a Uuid, &'a crate::security::acl::AclBinding)>,
    client_quotas: &'a quotas::ClientQuotasImage,
    scram: Vec<scram::ScramEntry>,
}

#[derive(Deserialize)]
struct Snapshot {
    cluster_id: Option<String>,
    brokers: Vec<BrokerRegistration>,
    topics: Vec<TopicImage>,
    configs: Vec<(ConfigResource, BTreeMap<String, String>)>,
    next_producer_id: i64,
    last_applied_index: u64,
    /// Absent in snapshots written before ACLs existed.
    #[serde(default)]
    acls: Vec<(Uuid, crate::security::acl::AclBinding)>,
    /// Absent from snapshots written before client quotas existed.
    #[serde(default)]
    client_quotas: quotas::ClientQuotasImage,
    /// Absent in snapshots written before SCRAM credentials existed.
    #[serde(default)]
    scram: Vec<scram::ScramEntry>,
}

// ---- the broker-side delta ------------------------------------------------------------------

/// What one broker must do for one partition it hosts or hosted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalChange {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
    pub kind: LocalChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalChangeKind {
    /// This broker is now the leader (newly, or under a new leader epoch).
    BecomeLeader {
        leader_epoch: i32,
        partition_epoch: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
    },
    /// This broker is a follower of `leader` ([`NO_LEADER`] if the partition is offline),
    /// newly or under a new leader epoch.
    BecomeFollower {
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
    },
    /// This broker stays leader under the same leader epoch, but the ISR or the replica set
    /// changed (an AlterPartition applied, a reassignment adding replicas).
    IsrChanged {
        partition_epoch: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
    },
    /// The replica is no longer this broker's: the topic was deleted (or recreated under a
    /// new id) or a reassignment moved it away. Delete its log.
    Delete,
}

/// The changes between two images for the partitions `broker_id` hosts in either, deletions
/// first, then by topic name and partition. Kafka's `TopicsDelta.localChanges`, except that a
/// follower is told only about leader changes (an ISR change is the leader's business).
pub fn local_changes(old: &MetadataImage, new: &MetadataImage, broker_id: i32) -> Vec<LocalChange> {
    let mut deletes = Vec::new();
    let mut others = Vec::new();
    for t in old.topics() {
        let gone = new.topic_by_id(&t.id);
        for (i, p) in t.partitions.iter().enumerate() {
            let still = gone
                .and_then(|n| n.partitions.get(i))
                .is_some_and(|np| np.replicas.contains(&broker_id));
            if p.replicas.contains(&broker_id) && !still {
                deletes.push(change(t, i, LocalChangeKind::Delete));
            }
        }
    }
    for t in new.topics() {
        let before = old.topic_by_id(&t.id);
        if before.is_some_and(|b| Arc::ptr_eq(b, t)) {
            continue;
        }
        for (i, p) in t.partitions.iter().enumerate() {
            if !p.replicas.contains(&broker_id) {
                continue;
            }
            let prev = before
                .and_then(|b| b.partitions.get(i))
                .filter(|pp| pp.replicas.contains(&broker_id));
            if let Some(kind) = partition_change(prev, p, broker_id) {
                others.push(change(t, i, kind));
            }
        }
    }
    deletes.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    deletes.extend(others);
    deletes
}

fn change(t: &TopicImage, i: usize, kind: LocalChangeKind) -> LocalChange {
    LocalChange {
        topic: t.name.clone(),
        topic_id: t.id,
        partition: i as i32,
        kind,
    }
}

/// What a hosting broker must do about one partition; `prev` is its state when the broker
/// already hosted it.
fn partition_change(
    prev: Option<&PartitionRegistration>,
    p: &PartitionRegistration,
    broker_id: i32,
) -> Option<LocalChangeKind> {
    let new_epoch =
        prev.is_none_or(|pp| pp.leader_epoch != p.leader_epoch || pp.leader != p.leader);
    if p.leader == broker_id {
        if new_epoch {
            Some(LocalChangeKind::BecomeLeader {
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
            })
        } else if prev.is_some_and(|pp| pp.partition_epoch != p.partition_epoch) {
            Some(LocalChangeKind::IsrChanged {
                partition_epoch: p.partition_epoch,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
            })
        } else {
            None
        }
    } else if new_epoch {
        Some(LocalChangeKind::BecomeFollower {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
        })
    } else {
        None
    }
}

pub mod quotas;

#[cfg(test)]
mod tests;
