//! Partition administration beyond create/delete topic: CreatePartitions (adding partitions
//! to a topic) and DeleteRecords (advancing a partition's log start offset).
//!
//! Adding partitions follows the same commit protocol as creating a topic: the new
//! partition directories are created first, then the topic's `meta/topics/<topic>.properties`
//! is rewritten atomically with the new count (the commit point), then the in-memory topic is
//! replaced by one with the extra partitions. A crash before the rewrite leaves directories
//! beyond the persisted count, which the next start removes (see `load_topics`).
//!
//! Concurrency: serialized with topic creation and deletion by the broker's admin mutex.

use std::fs;
use std::sync::Arc;

use super::{lock_write, now_ms, write_atomic, Broker, Partition, Topic, TopicError};
use crate::log::{LogError, PartitionLog};

/// Why adding partitions was refused, each with Kafka's error code and message.
#[derive(Debug, thiserror::Error)]
pub enum PartitionsError {
    #[error("This server does not host this topic.")]
    UnknownTopic,
    /// INVALID_PARTITIONS (37).
    #[error("{0}")]
    InvalidPartitions(String),
    /// INVALID_REPLICA_ASSIGNMENT (39).
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    /// KAFKA_STORAGE_ERROR (56).
    #[error("storage error: {0}")]
    Storage(String),
}

impl From<LogError> for PartitionsError {
    fn from(e: LogError) -> Self {
        PartitionsError::Storage(e.to_string())
    }
}
impl From<std::io::Error> for PartitionsError {
    fn from(e: std::io::Error) -> Self {
        PartitionsError::Storage(e.to_string())
    }
}
impl From<TopicError> for PartitionsError {
    fn from(e: TopicError) -> Self {
        PartitionsError::Storage(e.to_string())
    }
}

/// Why DeleteRecords failed for one partition.
#[derive(Debug, thiserror::Error)]
pub enum DeleteRecordsError {
    #[error("This server does not host this topic-partition.")]
    UnknownTopicOrPartition,
    /// INVALID_TOPIC_EXCEPTION (17): internal topics are never truncated by clients.
    #[error("Cannot delete records of internal topic {0}")]
    InternalTopic(String),
    /// POLICY_VIOLATION (44): the topic's cleanup.policy does not include delete.
    #[error("Records of partition {0} can not be deleted due to the configured policy")]
    PolicyViolation(String),
    #[error("{0}")]
    Log(#[from] LogError),
}

/// Kafka's checks of a manual replica assignment on this single-node cluster: a non-empty
/// list naming only registered brokers (this node), each once, with the topic's replication
/// factor (1) when given.
pub fn validate_assignment(
    node_id: i32,
    replicas: &[i32],
    replication_factor: Option<usize>,
) -> Result<(), String> {
    if replicas.is_empty() {
        return Err("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    let mut prev = None;
    for &b in &sorted {
        if b != node_id {
            return Err(format!(
                "The manual partition assignment includes broker {b}, but no such broker is registered."
            ));
        }
        if prev == Some(b) {
            return Err(format!(
                "The manual partition assignment includes the broker {b} more than once."
            ));
        }
        prev = Some(b);
    }
    if let Some(rf) = replication_factor {
        if sorted.len() != rf {
            return Err(format!(
                "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {rf} replica(s).",
                sorted.len()
            ));
        }
    }
    Ok(())
}

/// The text of a topic's metadata file.
fn topic_properties(topic: &Topic, partitions: usize) -> String {
    let mut text = format!("topic.id={}\npartitions={partitions}\n", topic.id);
    for (k, v) in &topic.configs {
        text.push_str(&format!("config.{k}={v}\n"));
    }
    text
}

impl Broker {
    /// Grow `name` to `count` partitions (CreatePartitions). `assignments`, when given, must
    /// hold one replica list per new partition, each `[node_id]`. With `validate_only`
    /// everything is checked and nothing changes. Returns the (new) topic.
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<Arc<Topic>, PartitionsError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self.topic(name).ok_or(PartitionsError::UnknownTopic)?;
        let current = topic.partitions.len() as i32;
        if count == current {
            return Err(PartitionsError::InvalidPartitions(format!(
                "Topic already has {current} partition(s)."
            )));
        }
        if count < current {
            return Err(PartitionsError::InvalidPartitions(format!(
                "The topic {name} currently has {current} partition(s); {count} would not be an increase."
            )));
        }
        let additional = count - current;
        if let Some(a) = assignments {
            if a.len() as i32 != additional {
                return Err(PartitionsError::InvalidReplicaAssignment(format!(
                    "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
                    a.len()
                )));
            }
            for replicas in a {
                validate_assignment(self.config.node_id, replicas, Some(1))
                    .map_err(PartitionsError::InvalidReplicaAssignment)?;
            }
        }
        if validate_only {
            return Ok(topic);
        }
        let log_config = self.config.log_config(&topic.configs);
        let now = now_ms();
        let mut partitions = topic.partitions.clone();
        for p in current..count {
            let dir = self.partition_dir(name, p);
            if dir.exists() {
                fs::remove_dir_all(&dir)?;
            }
            let log = PartitionLog::open(&dir, log_config.clone(), now)?;
            partitions.push(Partition::new(name, p, log));
        }
        write_atomic(
            &self.topics_dir().join(format!("{name}.properties")),
            topic_properties(&topic, partitions.len()).as_bytes(),
        )?;
        let grown = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            configs: topic.configs.clone(),
            internal: topic.internal,
        });
        lock_write(&self.topics)
            .by_name
            .insert(name.to_string(), Arc::clone(&grown));
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(grown)
    }

    /// Advance the log start offset of `topic`-`partition` to `offset` (-1: the high
    /// watermark), as DeleteRecords does. Returns the low watermark: the log start offset
    /// afterwards (which may already have been beyond `offset`).
    pub fn delete_records(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<i64, DeleteRecordsError> {
        let t = self
            .topic(topic)
            .ok_or(DeleteRecordsError::UnknownTopicOrPartition)?;
        let p = usize::try_from(partition)
            .ok()
            .and_then(|i| t.partitions.get(i))
            .cloned()
            .ok_or(DeleteRecordsError::UnknownTopicOrPartition)?;
        if t.internal {
            return Err(DeleteRecordsError::InternalTopic(topic.to_string()));
        }
        let policy = t
            .configs
            .get("cleanup.policy")
            .or_else(|| self.config.overrides.get("log.cleanup.policy"))
            .map_or("delete", String::as_str);
        if !policy.split(',').any(|s| s.trim() == "delete") {
            return Err(DeleteRecordsError::PolicyViolation(format!(
                "{topic}-{partition}"
            )));
        }
        let mut log = p.log();
        let target = if offset == -1 {
            log.high_watermark()
        } else {
            offset
        };
        if target < 0 || target > log.high_watermark() {
            return Err(DeleteRecordsError::Log(LogError::OffsetOutOfRange {
                offset: target,
                log_start_offset: log.log_start_offset(),
                log_end_offset: log.log_end_offset(),
            }));
        }
        log.advance_log_start_offset(target)?;
        Ok(log.log_start_offset())
    }
}
