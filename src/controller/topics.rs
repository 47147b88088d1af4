//! Topic decisions: CreateTopics, DeleteTopics, CreatePartitions (Kafka's
//! `ReplicationControlManager`), and the import of a single-node data directory's topics.
//!
//! A new partition's ISR is its active replicas, its leader the first of them, both epochs 0.
//! Records of a new topic: `Topic`, then its `Config`s, then its `Partition`s (Kafka's order).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::errors::*;
use super::placement::{self, UsableBroker};
use super::{Controller, ControllerResult, Work, MAX_RECORDS_PER_USER_OP};
use crate::cluster::image::MetadataImage;
use crate::cluster::records::{ConfigResource, MetadataRecord};
use crate::cluster::validate_topic_name;
use crate::config::{validate_topic_config, ConfigError};

/// One topic of a CreateTopics request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatableTopic {
    pub name: String,
    /// -1: `num.partitions`.
    pub num_partitions: i32,
    /// -1: `default.replication.factor`.
    pub replication_factor: i16,
    /// Manual assignments (partition index, broker ids); empty: placed by the controller.
    pub assignments: Vec<(i32, Vec<i32>)>,
    /// Config overrides; a `None` value is refused.
    pub configs: Vec<(String, Option<String>)>,
}

/// A created (or, validate-only, creatable) topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    pub topic_id: Uuid,
    pub num_partitions: i32,
    pub replication_factor: i16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopicResult {
    pub name: String,
    pub result: Result<CreatedTopic, ApiError>,
}

/// A topic named by name or by id (DeleteTopics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRef {
    Name(String),
    Id(Uuid),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTopicResult {
    pub name: Option<String>,
    pub topic_id: Option<Uuid>,
    pub result: Result<(), ApiError>,
}

/// One topic of a CreatePartitions request: the new total count, and optionally the
/// replicas of each new partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePartitionsTopic {
    pub name: String,
    pub count: i32,
    pub assignments: Option<Vec<Vec<i32>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedResult {
    pub name: String,
    pub result: Result<(), ApiError>,
}

/// A topic of a single-node data directory, to be written to the metadata log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedTopic {
    pub name: String,
    pub topic_id: Uuid,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
}

/// A new partition's (replicas, isr).
type Assignment = (Vec<i32>, Vec<i32>);

/// A topic config error as Kafka's controller words it.
pub(crate) fn config_error(e: ConfigError) -> ApiError {
    let message = match e {
        ConfigError::Unknown(name) => format!("Unknown topic config name: {name}"),
        ConfigError::Invalid {
            name,
            value,
            reason,
        } => format!("Invalid value {value} for configuration {name}: {reason}"),
    };
    ApiError::new(INVALID_CONFIG, message)
}

fn too_large() -> ApiError {
    ApiError::new(
        POLICY_VIOLATION,
        "Unable to perform excessively large batch operation.",
    )
}

fn partition_record(
    topic_id: Uuid,
    partition: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
) -> MetadataRecord {
    MetadataRecord::Partition {
        topic_id,
        partition,
        leader: isr[0],
        replicas,
        isr,
        leader_epoch: 0,
        partition_epoch: 0,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
    }
}

impl Controller {
    fn usable_brokers(&self, image: &MetadataImage) -> Vec<UsableBroker> {
        image
            .brokers()
            .filter(|b| self.is_active(image, b.id))
            .map(|b| UsableBroker {
                id: b.id,
                rack: b.rack.clone(),
            })
            .collect()
    }

    /// A random topic id, not the nil id, not in use, and whose Kafka base64 form does not
    /// start with '-' (Kafka's `Uuid.randomUuid`).
    fn new_topic_id(&mut self, image: &MetadataImage) -> Uuid {
        loop {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
            bytes[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
            let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
            if bytes[0] >> 2 != 62 && image.topic_by_id(&id).is_none() {
                return id;
            }
        }
    }

    /// CreateTopics. With `validate_only` the answers are the same and no record is kept.
    pub fn create_topics(
        &mut self,
        image: &MetadataImage,
        topics: &[CreatableTopic],
        validate_only: bool,
    ) -> ControllerResult<Vec<CreateTopicResult>> {
        let mut work = Work::new(image);
        let results = topics
            .iter()
            .map(|t| CreateTopicResult {
                name: t.name.clone(),
                result: self.create_topic(&mut work, t),
            })
            .collect();
        let records = if validate_only {
            Vec::new()
        } else {
            work.records
        };
        ControllerResult::new(records, results)
    }

    fn check_new_topic(
        image: &MetadataImage,
        t: &CreatableTopic,
    ) -> Result<Vec<(String, String)>, ApiError> {
        validate_topic_name(&t.name)
            .map_err(|e| ApiError::new(INVALID_TOPIC_EXCEPTION, e.to_string()))?;
        if image.topic(&t.name).is_some() {
            return Err(ApiError::new(
                TOPIC_ALREADY_EXISTS,
                format!("Topic '{}' already exists.", t.name),
            ));
        }
        if t.name.contains(['.', '_']) {
            let norm = t.name.replace('.', "_");
            if let Some(other) = image.topics().find(|o| o.name.replace('.', "_") == norm) {
                return Err(ApiError::new(
                    INVALID_TOPIC_EXCEPTION,
                    format!(
                        "Topic '{}' collides with existing topic: {}",
                        t.name, other.name
                    ),
                ));
            }
        }
        let nulls: Vec<&str> = t
            .configs
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
            .collect();
        if !nulls.is_empty() {
            return Err(ApiError::new(
                INVALID_CONFIG,
                format!(
                    "Null value not supported for topic configs: {}",
                    nulls.join(",")
                ),
            ));
        }
        let configs: BTreeMap<String, String> = t
            .configs
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        for (k, v) in &configs {
            validate_topic_config(k, Some(v)).map_err(config_error)?;
        }
        Ok(configs.into_iter().collect())
    }

    fn create_topic(
        &mut self,
        work: &mut Work,
        t: &CreatableTopic,
    ) -> Result<CreatedTopic, ApiError> {
        let configs = Self::check_new_topic(&work.image, t)?;
        let assignments = if t.assignments.is_empty() {
            self.placed_assignments(work, t, configs.len())?
        } else {
            self.manual_assignments(work, t, configs.len())?
        };
        let topic_id = self.new_topic_id(&work.image);
        work.push(MetadataRecord::Topic {
            name: t.name.clone(),
            topic_id,
        });
        for (name, value) in configs {
            work.push(MetadataRecord::Config {
                resource: ConfigResource::Topic(t.name.clone()),
                name,
                value: Some(value),
            });
        }
        let num_partitions = assignments.len() as i32;
        let replication_factor = assignments.first().map_or(0, |(r, _)| r.len()) as i16;
        for (i, (replicas, isr)) in assignments.into_iter().enumerate() {
            work.push(partition_record(topic_id, i as i32, replicas, isr));
        }
        Ok(CreatedTopic {
            topic_id,
            num_partitions,
            replication_factor,
        })
    }

    /// (replicas, isr) of each partition, placed by the controller.
    fn placed_assignments(
        &mut self,
        work: &Work,
        t: &CreatableTopic,
        num_configs: usize,
    ) -> Result<Vec<Assignment>, ApiError> {
        if t.replication_factor < -1 || t.replication_factor == 0 {
            return Err(ApiError::new(
                INVALID_REPLICATION_FACTOR,
                "Replication factor must be larger than 0, or -1 to use the default value.",
            ));
        }
        if t.num_partitions < -1 || t.num_partitions == 0 {
            return Err(ApiError::new(
                INVALID_PARTITIONS,
                "Number of partitions was set to an invalid non-positive value.",
            ));
        }
        let n = if t.num_partitions == -1 {
            self.config.num_partitions
        } else {
            t.num_partitions
        };
        let rf = if t.replication_factor == -1 {
            self.config.default_replication_factor
        } else {
            t.replication_factor
        };
        if work.records.len() + 1 + num_configs + n.max(0) as usize > MAX_RECORDS_PER_USER_OP {
            return Err(too_large());
        }
        let brokers = self.usable_brokers(&work.image);
        let placed = placement::place(&mut self.rng, &brokers, n.max(0) as usize, rf as i32)
            .map_err(|msg| {
                ApiError::new(
                    INVALID_REPLICATION_FACTOR,
                    format!("Unable to replicate the partition {rf} time(s): {msg}"),
                )
            })?;
        Ok(placed
            .into_iter()
            .map(|replicas| (replicas.clone(), replicas))
            .collect())
    }

    /// (replicas, isr) of each partition, as the request assigns them.
    fn manual_assignments(
        &self,
        work: &Work,
        t: &CreatableTopic,
        num_configs: usize,
    ) -> Result<Vec<Assignment>, ApiError> {
        if t.replication_factor != -1 {
            return Err(ApiError::new(
                INVALID_REQUEST,
                "A manual partition assignment was specified, but replication factor was not set to -1.",
            ));
        }
        if t.num_partitions != -1 {
            return Err(ApiError::new(
                INVALID_REQUEST,
                "A manual partition assignment was specified, but numPartitions was not set to -1.",
            ));
        }
        if work.records.len() + 1 + num_configs + t.assignments.len() > MAX_RECORDS_PER_USER_OP {
            return Err(too_large());
        }
        let image = &work.image;
        let mut parts: BTreeMap<i32, Assignment> = BTreeMap::new();
        let mut rf = None;
        for (index, replicas) in &t.assignments {
            if parts.contains_key(index) {
                return Err(ApiError::new(
                    INVALID_REPLICA_ASSIGNMENT,
                    format!("Found multiple manual partition assignments for partition {index}"),
                ));
            }
            self.validate_manual_assignment(image, replicas, rf)?;
            rf = Some(replicas.len());
            let isr = self.active_of(image, replicas);
            if isr.is_empty() {
                return Err(ApiError::new(
                    INVALID_REPLICA_ASSIGNMENT,
                    format!("All brokers specified in the manual partition assignment for partition {index} are fenced or in controlled shutdown."),
                ));
            }
            parts.insert(*index, (replicas.clone(), isr));
        }
        if parts.keys().enumerate().any(|(i, k)| *k != i as i32) {
            return Err(ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "partitions should be a consecutive 0-based integer sequence",
            ));
        }
        Ok(parts.into_values().collect())
    }

    fn active_of(&self, image: &MetadataImage, replicas: &[i32]) -> Vec<i32> {
        replicas
            .iter()
            .copied()
            .filter(|r| self.is_active(image, *r))
            .collect()
    }

    /// DeleteTopics, by name or id (TOPIC_DELETION_DISABLED when `delete.topic.enable` is
    /// false; the API maps it to INVALID_REQUEST for versions below 3, as Kafka does).
    pub fn delete_topics(
        &self,
        image: &MetadataImage,
        topics: &[TopicRef],
    ) -> ControllerResult<Vec<DeleteTopicResult>> {
        let mut work = Work::new(image);
        let mut out = Vec::with_capacity(topics.len());
        for r in topics {
            let (name, id) = match r {
                TopicRef::Name(n) => (Some(n.clone()), None),
                TopicRef::Id(i) => (None, Some(*i)),
            };
            let found = match r {
                _ if !self.config.delete_topic_enable => Err(ApiError::of(TOPIC_DELETION_DISABLED)),
                TopicRef::Name(n) => work
                    .image
                    .topic(n)
                    .ok_or_else(|| ApiError::of(UNKNOWN_TOPIC_OR_PARTITION)),
                TopicRef::Id(i) => work
                    .image
                    .topic_by_id(i)
                    .ok_or_else(|| ApiError::of(UNKNOWN_TOPIC_ID)),
            }
            .map(|t| (t.name.clone(), t.id));
            out.push(match found {
                Err(e) => DeleteTopicResult {
                    name,
                    topic_id: id,
                    result: Err(e),
                },
                Ok((name, topic_id)) => {
                    work.push(MetadataRecord::RemoveTopic { topic_id });
                    DeleteTopicResult {
                        name: Some(name),
                        topic_id: Some(topic_id),
                        result: Ok(()),
                    }
                }
            });
        }
        ControllerResult::new(work.records, out)
    }

    /// CreatePartitions: grow topics to `count` partitions, placed by the controller with the
    /// topic's replication factor, or as assigned.
    pub fn create_partitions(
        &mut self,
        image: &MetadataImage,
        topics: &[CreatePartitionsTopic],
        validate_only: bool,
    ) -> ControllerResult<Vec<NamedResult>> {
        let mut work = Work::new(image);
        let results = topics
            .iter()
            .map(|t| NamedResult {
                name: t.name.clone(),
                result: self.create_partitions_one(&mut work, t),
            })
            .collect();
        let records = if validate_only {
            Vec::new()
        } else {
            work.records
        };
        ControllerResult::new(records, results)
    }

    fn create_partitions_one(
        &mut self,
        work: &mut Work,
        t: &CreatePartitionsTopic,
    ) -> Result<(), ApiError> {
        let topic = work
            .image
            .topic(&t.name)
            // Kafka's CreatePartitions answers an unknown topic without a message.
            .ok_or(ApiError {
                code: UNKNOWN_TOPIC_OR_PARTITION,
                message: None,
            })?
            .clone();
        let current = topic.partitions.len() as i32;
        if t.count == current {
            return Err(ApiError::new(
                INVALID_PARTITIONS,
                format!("Topic already has {current} partition(s)."),
            ));
        }
        if t.count < current {
            return Err(ApiError::new(
                INVALID_PARTITIONS,
                format!("The topic {} currently has {current} partition(s); {} would not be an increase.", t.name, t.count),
            ));
        }
        let additional = (t.count - current) as usize;
        if let Some(a) = &t.assignments {
            if a.len() != additional {
                return Err(ApiError::new(
                    INVALID_REPLICA_ASSIGNMENT,
                    format!("Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.", a.len()),
                ));
            }
        }
        if work.records.len() + additional > MAX_RECORDS_PER_USER_OP {
            return Err(too_large());
        }
        let rf = topic.partitions.first().map_or(0, |p| p.replicas.len());
        let new: Vec<Assignment> = match &t.assignments {
            Some(assignments) => {
                let mut out = Vec::with_capacity(additional);
                for (i, replicas) in assignments.iter().enumerate() {
                    self.validate_manual_assignment(&work.image, replicas, Some(rf))?;
                    let isr = self.active_of(&work.image, replicas);
                    if isr.is_empty() {
                        return Err(ApiError::new(
                            INVALID_REPLICA_ASSIGNMENT,
                            format!("All brokers specified in the manual partition assignment for partition {} are fenced or in controlled shutdown.", current as usize + i),
                        ));
                    }
                    out.push((replicas.clone(), isr));
                }
                out
            }
            None => {
                let brokers = self.usable_brokers(&work.image);
                placement::place(&mut self.rng, &brokers, additional, rf as i32)
                    .map_err(|msg| {
                        ApiError::new(
                            INVALID_REPLICATION_FACTOR,
                            format!("Unable to replicate the partition {rf} time(s): {msg}"),
                        )
                    })?
                    .into_iter()
                    .map(|r| (r.clone(), r))
                    .collect()
            }
        };
        for (i, (replicas, isr)) in new.into_iter().enumerate() {
            work.push(partition_record(
                topic.id,
                current + i as i32,
                replicas,
                isr,
            ));
        }
        Ok(())
    }

    /// The records that bring a topic of a single-node data directory into the metadata log:
    /// every partition on this node (replicas = ISR = [node], led by it, epochs 0). Nothing if
    /// the log already has it with the same id; TOPIC_ALREADY_EXISTS if the name or the id is
    /// taken otherwise.
    pub fn import_topic(
        &self,
        image: &MetadataImage,
        topic: &ImportedTopic,
    ) -> Result<Vec<MetadataRecord>, ApiError> {
        validate_topic_name(&topic.name)
            .map_err(|e| ApiError::new(INVALID_TOPIC_EXCEPTION, e.to_string()))?;
        if let Some(t) = image.topic(&topic.name) {
            if t.id == topic.topic_id {
                return Ok(Vec::new());
            }
            return Err(ApiError::new(
                TOPIC_ALREADY_EXISTS,
                format!("Topic '{}' already exists.", topic.name),
            ));
        }
        if let Some(t) = image.topic_by_id(&topic.topic_id) {
            return Err(ApiError::new(
                TOPIC_ALREADY_EXISTS,
                format!(
                    "Topic id {} is already used by topic '{}'.",
                    topic.topic_id, t.name
                ),
            ));
        }
        if topic.partitions < 1 {
            return Err(ApiError::new(
                INVALID_PARTITIONS,
                format!(
                    "Number of partitions must be larger than 0 (got {}).",
                    topic.partitions
                ),
            ));
        }
        let node = self.config.node_id;
        let mut records = vec![MetadataRecord::Topic {
            name: topic.name.clone(),
            topic_id: topic.topic_id,
        }];
        for (name, value) in &topic.configs {
            records.push(MetadataRecord::Config {
                resource: ConfigResource::Topic(topic.name.clone()),
                name: name.clone(),
                value: Some(value.clone()),
            });
        }
        for p in 0..topic.partitions {
            records.push(partition_record(topic.topic_id, p, vec![node], vec![node]));
        }
        Ok(records)
    }
}
