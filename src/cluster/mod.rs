//! The metadata image of this node: cluster id, topics and their partitions, persisted in the
//! data directory.
//!
//! On-disk layout under `data_dir`:
//! - `meta.properties`: `cluster.id`, `node.id`, `version` (written once, like Kafka's).
//! - `meta/topics/<topic>.properties`: `topic.id`, `partitions`, `config.<name>=<value>`.
//!   Written atomically (tmp, fsync, rename, fsync dir). Its presence is the commit point of a
//!   topic: partition directories are created before it and removed after it is deleted, and
//!   directories without one are removed at startup.
//! - `<topic>-<partition>/`: the partition logs (see `log/`).
//!
//! Concurrency: the topic map is behind an RwLock taken briefly; partitions are `Arc`s so a
//! request keeps using a partition even while its topic is being deleted.

pub mod admin;
pub mod image;
pub mod partition;
pub mod producer_ids;
pub mod records;
pub mod txn_partitions;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use crate::config::{read_properties, validate_topic_config, BrokerConfig, ConfigError};
use crate::log::{LogError, PartitionLog};
pub use partition::Partition;

/// Errors of topic administration, each mapped to a Kafka error code by the API layer.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("Number of partitions must be larger than 0 (got {0}).")]
    InvalidPartitions(i32),
    #[error("Replication factor {0} is not valid on a single-node cluster (must be 1 or -1).")]
    InvalidReplicationFactor(i16),
    #[error("Replica assignments must name only broker {node_id}.")]
    InvalidReplicaAssignment { node_id: i32 },
    #[error("{0}")]
    InvalidConfig(#[from] ConfigError),
    #[error("This server does not host this topic.")]
    Unknown,
    #[error("Topic deletion is disabled (delete.topic.enable=false).")]
    DeletionDisabled,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("storage error: {0}")]
    Storage(String),
}

impl From<LogError> for TopicError {
    fn from(e: LogError) -> Self {
        TopicError::Storage(e.to_string())
    }
}
impl From<std::io::Error> for TopicError {
    fn from(e: std::io::Error) -> Self {
        TopicError::Storage(e.to_string())
    }
}

pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<Arc<Partition>>,
    pub configs: BTreeMap<String, String>,
    pub internal: bool,
}

#[derive(Default)]
struct Topics {
    by_name: HashMap<String, Arc<Topic>>,
    by_id: HashMap<Uuid, String>,
}

/// The broker's shared state.
pub struct Broker {
    pub config: BrokerConfig,
    pub cluster_id: String,
    topics: RwLock<Topics>,
    /// Serializes topic creation and deletion (slow path, disk work).
    admin: std::sync::Mutex<()>,
    /// The group coordinator, once its runtime has started.
    pub groups: std::sync::OnceLock<crate::server::group_runtime::GroupHandle>,
    /// The transaction coordinator, once its runtime has started.
    pub txns: std::sync::OnceLock<crate::server::txn_runtime::TxnHandle>,
    /// Partitions each transactional producer may write now (set by the transaction runtime).
    pub txn_partitions: txn_partitions::TxnPartitions,
}

/// Kafka's legal topic names: `[a-zA-Z0-9._-]{1,249}`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::InvalidName(
            "Topic name is illegal, it can't be empty".into(),
        ));
    }
    if name == "." || name == ".." {
        return Err(TopicError::InvalidName(
            "Topic name cannot be \".\" or \"..\"".into(),
        ));
    }
    if name.len() > 249 {
        return Err(TopicError::InvalidName(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(TopicError::InvalidName(format!(
            "Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        )));
    }
    Ok(())
}

/// Wall-clock milliseconds: the one place the broker reads the clock (handlers, tasks).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn lock_read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn lock_write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// Write a file atomically (tmp, fsync, rename, fsync dir) through the log's storage seam.
fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad file name"))?;
    crate::log::storage::write_atomic(&crate::log::OsStorage, dir, name, contents)
}

/// The text of a topic's metadata file.
fn topic_properties(id: Uuid, partitions: i32, configs: &BTreeMap<String, String>) -> String {
    let mut text = format!("topic.id={id}\npartitions={partitions}\n");
    for (k, v) in configs {
        text.push_str(&format!("config.{k}={v}\n"));
    }
    text
}

/// A cluster id like Kafka's: 16 random bytes, URL-safe base64 without padding (22 chars).
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

impl Broker {
    /// Open the data directory: cluster id, topics, and every partition log (with recovery).
    pub fn open(config: BrokerConfig) -> anyhow::Result<Arc<Broker>> {
        let dir = config.data_dir.clone();
        fs::create_dir_all(dir.join("meta").join("topics"))?;
        let meta_path = dir.join("meta.properties");
        let cluster_id = match read_properties(&meta_path) {
            Ok(props) => props
                .into_iter()
                .find(|(k, _)| k == "cluster.id")
                .map(|(_, v)| v)
                .ok_or_else(|| anyhow::anyhow!("{} has no cluster.id", meta_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = new_cluster_id();
                let text = format!(
                    "#skua metadata\nversion=1\ncluster.id={id}\nnode.id={}\n",
                    config.node_id
                );
                write_atomic(&meta_path, text.as_bytes())?;
                id
            }
            Err(e) => return Err(e.into()),
        };
        let broker = Broker {
            config,
            cluster_id,
            topics: RwLock::new(Topics::default()),
            admin: std::sync::Mutex::new(()),
            groups: std::sync::OnceLock::new(),
            txns: std::sync::OnceLock::new(),
            txn_partitions: txn_partitions::TxnPartitions::default(),
        };
        broker.load_topics()?;
        Ok(Arc::new(broker))
    }

    fn topics_dir(&self) -> PathBuf {
        self.config.data_dir.join("meta").join("topics")
    }

    fn partition_dir(&self, topic: &str, p: i32) -> PathBuf {
        self.config.data_dir.join(format!("{topic}-{p}"))
    }

    fn load_topics(&self) -> anyhow::Result<()> {
        let now = now_ms();
        let mut loaded = Topics::default();
        for entry in fs::read_dir(self.topics_dir())? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("properties") {
                if path.extension().and_then(|e| e.to_str()) == Some("tmp") {
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            let Some(name) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let props = read_properties(&path)?;
            let mut id = None;
            let mut count = 0i32;
            let mut configs = BTreeMap::new();
            for (k, v) in props {
                match k.as_str() {
                    "topic.id" => id = Uuid::parse_str(&v).ok(),
                    "partitions" => count = v.parse().unwrap_or(0),
                    _ => {
                        if let Some(c) = k.strip_prefix("config.") {
                            configs.insert(c.to_string(), v);
                        }
                    }
                }
            }
            let id =
                id.ok_or_else(|| anyhow::anyhow!("{} has no valid topic.id", path.display()))?;
            if count < 1 {
                anyhow::bail!("{} has no valid partition count", path.display());
            }
            let log_config = self.config.log_config(&configs);
            let mut partitions = Vec::with_capacity(count as usize);
            for p in 0..count {
                let log =
                    PartitionLog::open(&self.partition_dir(&name, p), log_config.clone(), now)?;
                partitions.push(Partition::new(&name, p, log));
            }
            tracing::info!(topic = %name, partitions = count, "loaded topic");
            loaded.by_id.insert(id, name.clone());
            loaded.by_name.insert(
                name.clone(),
                Arc::new(Topic {
                    internal: name.starts_with("__"),
                    name,
                    id,
                    partitions,
                    configs,
                }),
            );
        }
        // Partition directories of no topic: a creation or deletion cut short by a crash.
        for entry in fs::read_dir(&self.config.data_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let fname = entry.file_name().to_string_lossy().to_string();
            if fname == "meta" {
                continue;
            }
            // A directory beyond its topic's partition count is left by a CreatePartitions
            // cut short before its commit.
            let owner = fname
                .rsplit_once('-')
                .map(|(t, p)| (t, p.parse::<usize>().ok()));
            let orphan = fname.ends_with("-delete")
                || owner.is_none_or(|(t, p)| {
                    loaded
                        .by_name
                        .get(t)
                        .is_none_or(|topic| p.is_some_and(|p| p >= topic.partitions.len()))
                });
            if orphan {
                tracing::warn!(dir = %fname, "removing partition directory of no topic");
                fs::remove_dir_all(entry.path())?;
            }
        }
        *lock_write(&self.topics) = loaded;
        Ok(())
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        lock_read(&self.topics).by_name.get(name).cloned()
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        let t = lock_read(&self.topics);
        t.by_id.get(id).and_then(|n| t.by_name.get(n)).cloned()
    }

    pub fn partition(&self, topic: &str, p: i32) -> Option<Arc<Partition>> {
        let t = lock_read(&self.topics);
        let topic = t.by_name.get(topic)?;
        usize::try_from(p)
            .ok()
            .and_then(|i| topic.partitions.get(i))
            .cloned()
    }

    /// All topics, sorted by name.
    pub fn all_topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = lock_read(&self.topics).by_name.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Check everything CreateTopics checks, without creating.
    pub fn validate_new_topic(
        &self,
        name: &str,
        num_partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, Option<String>>,
    ) -> Result<i32, TopicError> {
        validate_topic_name(name)?;
        let t = lock_read(&self.topics);
        if t.by_name.contains_key(name) {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        let norm = name.replace('.', "_");
        if let Some(other) = t.by_name.keys().find(|k| k.replace('.', "_") == norm) {
            return Err(TopicError::InvalidName(format!(
                "Topic '{name}' collides with existing topic: {other}"
            )));
        }
        drop(t);
        let n = if num_partitions == -1 {
            self.config.num_partitions
        } else {
            num_partitions
        };
        if n < 1 {
            return Err(TopicError::InvalidPartitions(num_partitions));
        }
        if replication_factor != -1 && replication_factor != 1 {
            return Err(TopicError::InvalidReplicationFactor(replication_factor));
        }
        for (k, v) in configs {
            validate_topic_config(k, v.as_deref())?;
        }
        Ok(n)
    }

    /// Create a topic; returns it. Partition dirs first, then the metadata file (the commit).
    pub fn create_topic(
        &self,
        name: &str,
        num_partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, Option<String>>,
    ) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.validate_new_topic(name, num_partitions, replication_factor, &configs)?;
        let configs: BTreeMap<String, String> = configs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let id = Uuid::new_v4();
        let log_config = self.config.log_config(&configs);
        let now = now_ms();
        let mut partitions = Vec::with_capacity(n as usize);
        for p in 0..n {
            let dir = self.partition_dir(name, p);
            if dir.exists() {
                fs::remove_dir_all(&dir)?;
            }
            let log = PartitionLog::open(&dir, log_config.clone(), now)?;
            partitions.push(Partition::new(name, p, log));
        }
        write_atomic(
            &self.topics_dir().join(format!("{name}.properties")),
            topic_properties(id, n, &configs).as_bytes(),
        )?;
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id,
            partitions,
            configs,
            internal: name.starts_with("__"),
        });
        let mut t = lock_write(&self.topics);
        t.by_id.insert(id, name.to_string());
        t.by_name.insert(name.to_string(), Arc::clone(&topic));
        tracing::info!(topic = name, partitions = n, %id, "created topic");
        Ok(topic)
    }

    /// Replace a topic's config overrides (AlterConfigs, IncrementalAlterConfigs): `change`
    /// computes the new overrides from the current ones, under the admin lock so that
    /// concurrent alters of one topic do not lose updates. Every resulting override is
    /// validated; unless `validate_only`, the metadata file is rewritten atomically (the
    /// commit), the topic's `Arc` in the map is replaced by one with the new configs and the
    /// same partitions (requests holding the old one finish with it), and each partition log
    /// gets its new `LogConfig` at once. Returns the new overrides.
    pub fn alter_topic_configs<F>(
        &self,
        name: &str,
        validate_only: bool,
        change: F,
    ) -> Result<BTreeMap<String, String>, TopicError>
    where
        F: FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, TopicError>,
    {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self.topic(name).ok_or(TopicError::Unknown)?;
        let configs = change(&topic.configs)?;
        for (k, v) in &configs {
            validate_topic_config(k, Some(v))?;
            if v.contains(['\n', '\r']) {
                return Err(TopicError::InvalidConfig(ConfigError::Invalid {
                    name: k.clone(),
                    value: v.clone(),
                    reason: "line breaks are not allowed".into(),
                }));
            }
        }
        if validate_only || configs == topic.configs {
            return Ok(configs);
        }
        write_atomic(
            &self.topics_dir().join(format!("{name}.properties")),
            topic_properties(topic.id, topic.partitions.len() as i32, &configs).as_bytes(),
        )?;
        let log_config = self.config.log_config(&configs);
        let updated = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions: topic.partitions.clone(),
            configs: configs.clone(),
            internal: topic.internal,
        });
        lock_write(&self.topics)
            .by_name
            .insert(name.to_string(), updated);
        for p in &topic.partitions {
            p.log().set_config(log_config.clone());
        }
        tracing::info!(topic = name, ?configs, "altered topic configs");
        Ok(configs)
    }

    /// Delete a topic: metadata file first (the commit), then its directories.
    pub fn delete_topic(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        if !self.config.delete_topic_enable {
            return Err(TopicError::DeletionDisabled);
        }
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self.topic(name).ok_or(TopicError::Unknown)?;
        let meta = self.topics_dir().join(format!("{name}.properties"));
        fs::remove_file(&meta)?;
        fs::File::open(self.topics_dir())?.sync_all()?;
        {
            let mut t = lock_write(&self.topics);
            t.by_name.remove(name);
            t.by_id.remove(&topic.id);
        }
        for p in &topic.partitions {
            let dir = self.partition_dir(name, p.index);
            let doomed = self.config.data_dir.join(format!(
                "{name}-{}.{}-delete",
                p.index,
                topic.id.simple()
            ));
            if let Err(e) = fs::rename(&dir, &doomed).and_then(|_| fs::remove_dir_all(&doomed)) {
                tracing::warn!(dir = %dir.display(), "could not remove deleted partition: {e}");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Flush and close every log (clean shutdown). A partition still referenced elsewhere
    /// (should not happen once connections are drained) is flushed but not marked clean.
    pub fn shutdown(&self) {
        let topics = std::mem::take(&mut *lock_write(&self.topics));
        for (_, topic) in topics.by_name {
            let partitions = match Arc::try_unwrap(topic) {
                Ok(t) => t.partitions,
                Err(shared) => shared.partitions.clone(),
            };
            for p in partitions {
                let (name, index) = (p.topic.clone(), p.index);
                let res = match Arc::try_unwrap(p) {
                    Ok(p) => p.into_log().close(),
                    Err(shared) => shared.log().flush(),
                };
                if let Err(e) = res {
                    tracing::error!(topic = %name, partition = index, "close at shutdown failed: {e}");
                }
            }
        }
    }
}
