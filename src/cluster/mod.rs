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

pub mod acl_admin;
pub mod admin;
mod apply;
pub mod controller_rpc;
pub mod fetch_sessions;
mod hw_checkpoint;
pub mod image;
pub mod legacy;
pub mod partition;
pub mod producer_ids;
pub mod records;
pub mod txn_partitions;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use crate::config::{read_properties, BrokerConfig, ConfigError};
use crate::log::LogError;
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

/// A partition as the metadata has it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionMeta {
    /// -1: no leader now.
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub adding_replicas: Vec<i32>,
    pub removing_replicas: Vec<i32>,
    /// Replicas on brokers that are fenced or gone.
    pub offline_replicas: Vec<i32>,
}

/// One partition of a topic: its metadata and, if this node hosts a replica, the replica.
pub struct PartitionSlot {
    pub index: i32,
    pub meta: PartitionMeta,
    pub replica: Option<Arc<Partition>>,
}

/// A topic as this node sees it: every partition from the metadata, with the replicas hosted
/// here. Replaced whole (a new `Arc`) when the metadata changes.
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<PartitionSlot>,
    pub configs: BTreeMap<String, String>,
    pub internal: bool,
}

/// NOT_LEADER_OR_FOLLOWER
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
/// UNKNOWN_TOPIC_OR_PARTITION
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

impl Topic {
    pub fn slot(&self, index: i32) -> Option<&PartitionSlot> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    /// The replica of partition `index` hosted here, if any (whatever its role).
    pub fn replica(&self, index: i32) -> Option<&Arc<Partition>> {
        self.slot(index).and_then(|s| s.replica.as_ref())
    }

    /// The replica of partition `index` if this node leads it, else Kafka's error code:
    /// UNKNOWN_TOPIC_OR_PARTITION for no such partition, NOT_LEADER_OR_FOLLOWER for one led
    /// elsewhere, FENCED/UNKNOWN_LEADER_EPOCH for a `current_leader_epoch` (-1: none) that
    /// is older/newer than ours.
    pub fn leader(&self, index: i32, current_leader_epoch: i32) -> Result<&Arc<Partition>, i16> {
        let slot = self.slot(index).ok_or(UNKNOWN_TOPIC_OR_PARTITION)?;
        match &slot.replica {
            Some(p) => p
                .check_leader(current_leader_epoch)
                .map(|()| p)
                .map_err(|e| e.code()),
            None => {
                partition::check_epoch(current_leader_epoch, slot.meta.leader_epoch)
                    .map_err(|e| e.code())?;
                Err(NOT_LEADER_OR_FOLLOWER)
            }
        }
    }

    /// The replicas hosted here.
    pub fn hosted(&self) -> impl Iterator<Item = &Arc<Partition>> {
        self.partitions.iter().filter_map(|s| s.replica.as_ref())
    }
}

/// A broker of the cluster, as Metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    /// The inter-broker listener's endpoint (what other brokers connect to).
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
    pub fenced: bool,
    /// Every listener the broker registered (name, advertised host and port).
    pub listeners: Vec<records::Endpoint>,
}

impl BrokerInfo {
    /// The broker as clients of the named listener reach it; None when it has no such
    /// listener (Kafka leaves such a broker out of the Metadata it gives those clients). A
    /// broker that registered no listeners is reached at its inter-broker endpoint.
    pub fn on_listener(&self, listener: &str) -> Option<BrokerInfo> {
        if self.listeners.is_empty() {
            return Some(self.clone());
        }
        let ep = self.listeners.iter().find(|e| e.name == listener)?;
        Some(BrokerInfo {
            host: ep.host.clone(),
            port: ep.port,
            ..self.clone()
        })
    }
}

/// GROUP config overrides: group id → config name → value.
pub type GroupConfigs =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

/// The cluster's brokers and its active controller.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Registered brokers by id (fenced ones included, marked).
    pub brokers: Vec<BrokerInfo>,
    /// The active controller's node id, -1 if none is known.
    pub controller_id: i32,
}

impl ClusterView {
    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.iter().find(|b| b.id == id)
    }

    /// Unfenced brokers (what Metadata lists).
    pub fn live(&self) -> impl Iterator<Item = &BrokerInfo> {
        self.brokers.iter().filter(|b| !b.fenced)
    }

    /// The "controller" clients are told about (Metadata, DescribeCluster). Kafka (KRaft)
    /// names a random live broker, since every broker forwards controller requests; here the
    /// active controller when it is a live broker (what admin tools expect), else `me` when
    /// live, else the first live broker (-1: none). Never a fenced, stopped or controller-only
    /// node: a client told such an id waits for a broker it cannot find (librdkafka's admin
    /// requests then time out "waiting for controller").
    pub fn client_controller_id(&self, me: i32) -> i32 {
        let live = |id: i32| self.live().any(|b| b.id == id);
        if live(self.controller_id) {
            self.controller_id
        } else if live(me) {
            me
        } else {
            self.live().map(|b| b.id).min().unwrap_or(-1)
        }
    }
}

/// A topic as the metadata image defines it (input of [`Broker::apply_topics`]).
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub id: Uuid,
    pub configs: BTreeMap<String, String>,
    pub partitions: Vec<PartitionMeta>,
}

/// What changed for this node's replicas after [`Broker::apply_topics`].
#[derive(Default)]
pub struct LocalDelta {
    /// Replicas that became (or stay, with a new epoch) leaders.
    pub leaders: Vec<Arc<Partition>>,
    /// Replicas that became followers, with their leader (-1: none now).
    pub followers: Vec<(Arc<Partition>, i32)>,
    /// Replicas no longer hosted (deleted topic, reassigned away).
    pub removed: Vec<Arc<Partition>>,
}

#[derive(Default, Clone)]
struct Topics {
    by_name: HashMap<String, Arc<Topic>>,
    by_id: HashMap<Uuid, String>,
}

/// The broker's shared state.
pub struct Broker {
    pub config: BrokerConfig,
    pub cluster_id: String,
    topics: RwLock<Topics>,
    cluster: RwLock<Arc<ClusterView>>,
    /// The GROUP config resources' overrides in the metadata image: group id → name → value.
    group_configs: RwLock<Arc<GroupConfigs>>,
    /// The CLIENT_METRICS config resources (KIP-714 subscriptions) in the metadata image:
    /// subscription name → name → value.
    client_metrics_configs: RwLock<Arc<GroupConfigs>>,
    /// Users' SCRAM credentials in the metadata image (DescribeUserScramCredentials, and the
    /// `CredentialStore` SASL/SCRAM authenticates against).
    pub scram_credentials: image::scram::ScramCredentials,
    /// Client telemetry (GetTelemetrySubscriptions, PushTelemetry, the pushed metrics).
    pub telemetry: std::sync::Mutex<crate::telemetry::Manager>,
    /// The authorizer (`authorizer.class.name` set), with the image's ACLs; None = none.
    pub authorizer: Option<Arc<crate::security::authorizer::Authorizer>>,
    /// Incremental fetch sessions (KIP-227).
    fetch_sessions: std::sync::Mutex<fetch_sessions::FetchSessionCache>,
    /// Serializes metadata application (slow path, disk work).
    admin: std::sync::Mutex<()>,
    /// The way to the active controller (set by the server before it accepts clients).
    pub controller: std::sync::OnceLock<Arc<dyn controller_rpc::ControllerChannel>>,
    /// The group coordinator, once its runtime has started.
    pub groups: std::sync::OnceLock<crate::server::group_runtime::GroupHandle>,
    /// The transaction coordinator, once its runtime has started.
    pub txns: std::sync::OnceLock<crate::server::txn_runtime::TxnHandle>,
    /// The share-partition runtime (share groups' delivery state), once started.
    pub shares: std::sync::OnceLock<Arc<crate::server::share_runtime::ShareManager>>,
    /// The way to transaction coordinators on other brokers (KIP-890 verification and the
    /// implicit adds of transactions V2), set by a broker of a cluster.
    pub txn_forward: std::sync::OnceLock<Arc<crate::server::txn_forward::TxnForwarder>>,
    /// Partitions each transactional producer may write now (set by the transaction runtime).
    pub txn_partitions: txn_partitions::TxnPartitions,
    /// ISR changes leaders propose, for the runtime that sends them to the controller.
    pub isr_proposals: std::sync::OnceLock<
        tokio::sync::mpsc::UnboundedSender<(Arc<Partition>, crate::replica::IsrProposal)>,
    >,
    /// This broker's epoch (the index of its registration), -1 until registered.
    pub broker_epoch: std::sync::atomic::AtomicI64,
    /// Producer ids for the transaction coordinator, in blocks from the controller.
    pub producer_ids: producer_ids::ProducerIdPool,
    /// Set when a controlled shutdown began: heartbeats ask the controller to move
    /// leaderships away.
    pub shutting_down: std::sync::atomic::AtomicBool,
    /// The data directory's high-watermark checkpoint (`replication-offset-checkpoint`).
    hw_checkpoints: std::sync::Mutex<hw_checkpoint::HwCheckpoints>,
    /// Client quotas (produce, fetch, request time) and connection limits (issue 11).
    pub quotas: Arc<crate::security::quota::ClientQuotaManagers>,
}

/// Kafka's legal topic names: `[a-zA-Z0-9._-]{1,249}`, not `.` or `..` (the rule lives in
/// `config`, below every layer that checks a name).
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    crate::config::legal_topic_name(name).map_err(TopicError::InvalidName)
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
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad file name"))?;
    crate::log::storage::write_atomic(&crate::log::OsStorage, dir, name, contents)
}

/// A cluster id like Kafka's: 16 random bytes, URL-safe base64 without padding (22 chars).
pub fn new_cluster_id() -> String {
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
    /// Open the data directory of a node of cluster `cluster_id` (agreed through the
    /// controller quorum). `meta.properties` records the cluster and node ids; a data
    /// directory of another cluster or node is refused, as Kafka does.
    pub fn open(config: BrokerConfig, cluster_id: &str) -> anyhow::Result<Arc<Broker>> {
        let dir = config.data_dir.clone();
        fs::create_dir_all(&dir)?;
        let meta_path = dir.join("meta.properties");
        match read_properties(&meta_path) {
            Ok(props) => {
                let get = |k: &str| props.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                if let Some(existing) = get("cluster.id") {
                    if existing != cluster_id {
                        anyhow::bail!(
                            "{} belongs to cluster {existing}, but the controller quorum's cluster is {cluster_id}",
                            meta_path.display()
                        );
                    }
                }
                if let Some(node) = get("node.id").and_then(|n| n.parse::<i32>().ok()) {
                    if node != config.node_id {
                        anyhow::bail!(
                            "{} belongs to node {node}, but this is node {}",
                            meta_path.display(),
                            config.node_id
                        );
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = format!(
                    "#skua metadata\nversion=1\ncluster.id={cluster_id}\nnode.id={}\n",
                    config.node_id
                );
                write_atomic(&meta_path, text.as_bytes())?;
            }
            Err(e) => return Err(e.into()),
        }
        let telemetry_limits = config.telemetry_limits();
        let quotas = Arc::new(crate::security::quota::ClientQuotaManagers::new(
            config.connection_limits.clone(),
        ));
        let fetch_sessions = fetch_sessions::FetchSessionCache::new(
            config.max_incremental_fetch_session_cache_slots,
            fetch_sessions::MIN_EVICTION_MS,
        );
        let authorizer = config
            .authorizer
            .clone()
            .map(|c| Arc::new(crate::security::authorizer::Authorizer::new(c)));
        Ok(Arc::new(Broker {
            config,
            cluster_id: cluster_id.to_string(),
            topics: RwLock::new(Topics::default()),
            cluster: RwLock::new(Arc::new(ClusterView {
                brokers: Vec::new(),
                controller_id: -1,
            })),
            group_configs: RwLock::new(Arc::new(GroupConfigs::new())),
            client_metrics_configs: RwLock::new(Arc::new(GroupConfigs::new())),
            scram_credentials: image::scram::ScramCredentials::new(),
            telemetry: std::sync::Mutex::new(crate::telemetry::Manager::new(telemetry_limits)),
            authorizer,
            fetch_sessions: std::sync::Mutex::new(fetch_sessions),
            admin: std::sync::Mutex::new(()),
            controller: std::sync::OnceLock::new(),
            groups: std::sync::OnceLock::new(),
            txns: std::sync::OnceLock::new(),
            shares: std::sync::OnceLock::new(),
            txn_forward: std::sync::OnceLock::new(),
            txn_partitions: txn_partitions::TxnPartitions::default(),
            isr_proposals: std::sync::OnceLock::new(),
            broker_epoch: std::sync::atomic::AtomicI64::new(-1),
            producer_ids: producer_ids::ProducerIdPool::default(),
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            hw_checkpoints: std::sync::Mutex::new(hw_checkpoint::HwCheckpoints::load(&dir)),
            quotas,
        }))
    }

    fn partition_dir(&self, topic: &str, p: i32) -> PathBuf {
        self.config.data_dir.join(format!("{topic}-{p}"))
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        lock_read(&self.topics).by_name.get(name).cloned()
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        let t = lock_read(&self.topics);
        t.by_id.get(id).and_then(|n| t.by_name.get(n)).cloned()
    }

    /// The replica of `topic`-`p` hosted here, whatever its role.
    pub fn partition(&self, topic: &str, p: i32) -> Option<Arc<Partition>> {
        lock_read(&self.topics)
            .by_name
            .get(topic)
            .and_then(|t| t.replica(p).cloned())
    }

    /// All topics, sorted by name.
    pub fn all_topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = lock_read(&self.topics).by_name.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Queue an ISR change a leader wants (sent to the controller by the broker runtime).
    pub fn propose_isr(&self, p: &Arc<Partition>, proposal: crate::replica::IsrProposal) {
        if let Some(tx) = self.isr_proposals.get() {
            let _ = tx.send((Arc::clone(p), proposal));
        }
    }

    /// The cluster's brokers and active controller.
    pub fn cluster(&self) -> Arc<ClusterView> {
        Arc::clone(&lock_read(&self.cluster))
    }

    pub fn set_cluster(&self, view: ClusterView) {
        *lock_write(&self.cluster) = Arc::new(view);
    }

    /// Replace the GROUP config overrides (from the metadata image).
    pub fn set_group_configs(&self, configs: GroupConfigs) {
        *lock_write(&self.group_configs) = Arc::new(configs);
    }

    /// One group's GROUP config overrides (empty when it has none).
    pub fn group_configs(&self, group: &str) -> std::collections::BTreeMap<String, String> {
        lock_read(&self.group_configs)
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    /// Replace the CLIENT_METRICS resources (from the metadata image); the telemetry
    /// manager's subscriptions follow.
    pub fn set_client_metrics_configs(&self, configs: GroupConfigs) {
        self.telemetry().set_subscriptions(&configs);
        *lock_write(&self.client_metrics_configs) = Arc::new(configs);
    }

    /// Every CLIENT_METRICS resource's configs.
    pub fn all_client_metrics_configs(&self) -> Arc<GroupConfigs> {
        Arc::clone(&lock_read(&self.client_metrics_configs))
    }

    /// The telemetry manager (a short lock: no I/O is done under it).
    pub fn telemetry(&self) -> std::sync::MutexGuard<'_, crate::telemetry::Manager> {
        self.telemetry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fetch session cache (KIP-227), locked.
    pub fn fetch_sessions(&self) -> std::sync::MutexGuard<'_, fetch_sessions::FetchSessionCache> {
        self.fetch_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Every group's GROUP config overrides.
    pub fn all_group_configs(&self) -> Arc<GroupConfigs> {
        Arc::clone(&lock_read(&self.group_configs))
    }

    /// Delete the directory of a replica no longer hosted (renamed first, like Kafka's
    /// `-delete` directories, so a crash midway leaves nothing that looks like a live log).
    fn remove_replica_dir(&self, r: &Partition) {
        let dir = self.partition_dir(&r.topic, r.index);
        let doomed = self.config.data_dir.join(format!(
            "{}-{}.{}-delete",
            r.topic,
            r.index,
            Uuid::new_v4().simple()
        ));
        if let Err(e) = fs::rename(&dir, &doomed).and_then(|_| fs::remove_dir_all(&doomed)) {
            tracing::warn!(dir = %dir.display(), "could not remove the replica: {e}");
        } else {
            tracing::info!(topic = %r.topic, partition = r.index, "removed replica");
        }
    }

    /// Test seam: create a topic led by this node alone, without a controller (the unit
    /// tests of the coordinator runtimes run a bare broker).
    #[cfg(test)]
    pub fn create_topic_here(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, Option<String>>,
    ) -> Arc<Topic> {
        let me = self.config.node_id;
        let mut specs: Vec<TopicSpec> = self
            .all_topics()
            .iter()
            .map(|t| TopicSpec {
                name: t.name.clone(),
                id: t.id,
                configs: t.configs.clone(),
                partitions: t.partitions.iter().map(|s| s.meta.clone()).collect(),
            })
            .collect();
        specs.push(TopicSpec {
            name: name.to_string(),
            id: Uuid::new_v4(),
            configs: configs
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect(),
            partitions: (0..partitions)
                .map(|_| PartitionMeta {
                    leader: me,
                    replicas: vec![me],
                    isr: vec![me],
                    ..PartitionMeta::default()
                })
                .collect(),
        });
        self.apply_topics(specs, now_ms());
        match self.topic(name) {
            Some(t) => t,
            None => panic!("topic {name} was not created"),
        }
    }

    /// Remove partition directories of no hosted replica (left by a crash, or by a topic
    /// deleted while this node was down). Called once the metadata is caught up.
    pub fn remove_stray_dirs(&self) -> std::io::Result<()> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topics = lock_read(&self.topics);
        for entry in fs::read_dir(&self.config.data_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let fname = entry.file_name().to_string_lossy().to_string();
            if fname == "meta" || fname.starts_with("__cluster_metadata") {
                continue;
            }
            let hosted = fname.rsplit_once('-').is_some_and(|(t, p)| {
                p.parse::<i32>()
                    .ok()
                    .and_then(|p| topics.by_name.get(t).and_then(|t| t.replica(p)))
                    .is_some()
            });
            if !hosted {
                tracing::warn!(dir = %fname, "removing partition directory of no hosted replica");
                fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(())
    }

    /// Flush and close every log (clean shutdown), on up to [`apply::OPEN_THREADS`] threads
    /// (each close waits for fsyncs). A partition still referenced elsewhere (should not
    /// happen once connections are drained) is flushed but not marked clean.
    pub fn shutdown(&self) {
        // One checkpoint of every high watermark first: then closing a log writes none.
        self.checkpoint_high_watermarks(false);
        let topics = std::mem::take(&mut *lock_write(&self.topics));
        let mut partitions: Vec<Arc<Partition>> = Vec::new();
        for (_, topic) in topics.by_name {
            partitions.extend(topic.hosted().cloned());
        }
        apply::parallel_map(partitions, apply::OPEN_THREADS, |p| {
            let (name, index) = (p.topic.clone(), p.index);
            let res = match Arc::try_unwrap(p) {
                Ok(p) => p.into_log().close(),
                Err(shared) => shared.log().flush(),
            };
            if let Err(e) = res {
                tracing::error!(topic = %name, partition = index, "close at shutdown failed: {e}");
            }
        });
    }
}

/// Kafka's per-partition `partition.metadata` file: which topic id the directory holds.
const PARTITION_METADATA: &str = "partition.metadata";

fn partition_metadata(id: Uuid) -> String {
    format!("version: 0\ntopic_id: {}\n", id)
}

fn parse_partition_metadata(text: &str) -> Option<Uuid> {
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id:"))
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
}
