//! The controller: Kafka's KRaft controller decisions (`ReplicationControlManager`,
//! `ClusterControlManager`, `BrokerHeartbeatManager`, `ConfigurationControlManager`,
//! `ProducerIdControlManager`) as a pure state machine over the [`MetadataImage`].
//!
//! Every operation reads the current image and returns the records to write (plus per-item
//! results with Kafka error codes); it never changes the image. The runtime commits an
//! operation's records as ONE raft entry (they are atomic, like Kafka's `atomicOf`), applies
//! it to the image, and only then asks the next question — so decisions may assume the image
//! is current. Within one operation, later decisions see earlier ones: records are applied
//! to a scratch copy of the image as they are produced ([`Work`]).
//!
//! In-memory state only (a new active controller starts afresh, as in Kafka): broker
//! sessions (last heartbeat, controlled shutdown), the placement RNG, the next leader
//! rebalance time. Time comes in as `now_ms`; randomness from the seed given to
//! [`Controller::new`] (use a random one in production: topic ids come from it).
//!
//! No tokio, no I/O, no clock.

mod acls;
mod brokers;
mod change;
mod configs;
pub mod errors;
mod partitions;
pub mod placement;
mod producer_ids;
mod quotas;
pub mod scram;
mod topics;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::cluster::image::{MetadataImage, NO_LEADER};
use crate::cluster::records::{ConfigResource, MetadataRecord, CLUSTER_DEFAULT_BROKER};
pub use brokers::{BrokerRegistrationRequest, HeartbeatReply, HeartbeatRequest, RegistrationReply};
pub use configs::{AlterConfigOp, AlterableConfig, ConfigResourceResult, IncrementalAlterResource};
pub use errors::ApiError;
pub use partitions::{
    AlterPartitionData, AlterPartitionRequest, AlterPartitionResult, AlterPartitionTopic,
    AlterPartitionTopicResult, ElectionType, IsrMember, PartitionResult, PartitionState,
    ReassignablePartition, ReassignableTopic, TopicPartitions, TopicPartitionsResult,
};
pub use producer_ids::ProducerIdBlock;
pub use quotas::{QuotaAlteration, QuotaAlterationResult};
pub use topics::{
    CreatableTopic, CreatePartitionsTopic, CreateTopicResult, CreatedTopic, DeleteTopicResult,
    ImportedTopic, NamedResult, TopicRef,
};

/// Kafka's `MAX_RECORDS_PER_USER_OP`: one admin request writes at most this many records.
pub const MAX_RECORDS_PER_USER_OP: usize = 10_000;

/// The controller's settings (Kafka's names, units last).
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerConfig {
    /// This controller's node id (`node.id`).
    pub node_id: i32,
    /// `default.replication.factor`: the replication factor of a topic created with -1.
    pub default_replication_factor: i16,
    /// `num.partitions`: the partition count of a topic created with -1.
    pub num_partitions: i32,
    /// `min.insync.replicas` (cluster default; reported, not used by decisions).
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable` (default of the topic config).
    pub unclean_leader_election_enable: bool,
    /// `broker.session.timeout.ms`: a broker not heard from for longer is fenced.
    pub broker_session_timeout_ms: i64,
    /// `auto.leader.rebalance.enable`.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.per.broker.percentage`: the share of a broker's preferred
    /// partitions led elsewhere above which the preferred leaders are elected back.
    pub leader_imbalance_per_broker_percentage: i32,
    /// `leader.imbalance.check.interval.seconds`, in ms.
    pub leader_imbalance_check_interval_ms: i64,
    /// `delete.topic.enable`.
    pub delete_topic_enable: bool,
    /// What GROUP config overrides are checked against: the broker's min/max of each bounded
    /// group config (`group.consumer.*`, `group.share.*`), the broker values of their
    /// synonyms, `errors.deadletterqueue.topic.name.prefix`.
    pub group_config_limits: crate::config::GroupConfigLimits,
}

impl Default for ControllerConfig {
    /// Kafka's defaults, node id 1.
    fn default() -> ControllerConfig {
        ControllerConfig {
            node_id: 1,
            default_replication_factor: 1,
            num_partitions: 1,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            broker_session_timeout_ms: 9_000,
            auto_leader_rebalance_enable: true,
            leader_imbalance_per_broker_percentage: 10,
            leader_imbalance_check_interval_ms: 300_000,
            delete_topic_enable: true,
            group_config_limits: crate::config::GroupConfigLimits::default(),
        }
    }
}

impl ControllerConfig {
    /// The controller settings of a broker configuration.
    pub fn from_broker_config(c: &crate::config::BrokerConfig) -> ControllerConfig {
        ControllerConfig {
            node_id: c.node_id,
            default_replication_factor: c.default_replication_factor,
            num_partitions: c.num_partitions,
            min_insync_replicas: c.min_insync_replicas,
            unclean_leader_election_enable: c.unclean_leader_election_enable,
            broker_session_timeout_ms: c.broker_session_timeout_ms,
            auto_leader_rebalance_enable: c.auto_leader_rebalance_enable,
            leader_imbalance_per_broker_percentage: c.leader_imbalance_per_broker_percentage,
            leader_imbalance_check_interval_ms: c.leader_imbalance_check_interval_ms,
            delete_topic_enable: c.delete_topic_enable,
            group_config_limits: crate::config::GroupConfigLimits::of(c),
        }
    }
}

/// The records an operation decided on, and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerResult<T> {
    /// To be committed as one raft entry (possibly none: then nothing to write).
    pub records: Vec<MetadataRecord>,
    pub response: T,
}

impl<T> ControllerResult<T> {
    fn new(records: Vec<MetadataRecord>, response: T) -> ControllerResult<T> {
        ControllerResult { records, response }
    }
}

/// A scratch copy of the image with the records decided so far applied, so that later
/// decisions of one operation see earlier ones.
pub(crate) struct Work {
    image: MetadataImage,
    records: Vec<MetadataRecord>,
}

impl Work {
    fn new(image: &MetadataImage) -> Work {
        Work {
            image: image.clone(),
            records: Vec::new(),
        }
    }

    /// Decide one record. (Never a `RegisterBroker`: its epoch is the real entry's index.)
    fn push(&mut self, record: MetadataRecord) {
        let index = self.image.last_applied_index();
        // A record the controller decided always fits the image it was decided on.
        let applied = self.image.apply(index, &record);
        debug_assert!(applied.is_ok(), "{applied:?} applying {record:?}");
        self.records.push(record);
    }
}

/// One broker's session with this controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    last_contact_ms: i64,
    /// The last metadata log index the broker reported having applied.
    metadata_offset: u64,
    in_controlled_shutdown: bool,
    /// The log index the other brokers must reach before a controlled shutdown completes.
    controlled_shutdown_offset: Option<u64>,
}

/// Kafka's active controller, minus the quorum: see the module doc.
#[derive(Debug)]
pub struct Controller {
    config: ControllerConfig,
    sessions: BTreeMap<i32, Session>,
    rng: placement::Rng,
    next_rebalance_ms: Option<i64>,
}

impl Controller {
    /// A controller that just became active. `seed` drives placement and topic ids.
    pub fn new(config: ControllerConfig, seed: u64) -> Controller {
        Controller {
            config,
            sessions: BTreeMap::new(),
            rng: placement::Rng::new(seed),
            next_rebalance_ms: None,
        }
    }

    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// The first records of a new cluster: its id, unless the image has one.
    pub fn bootstrap(&self, image: &MetadataImage, cluster_id: &str) -> Vec<MetadataRecord> {
        if image.cluster_id().is_some() {
            return Vec::new();
        }
        vec![MetadataRecord::ClusterId {
            cluster_id: cluster_id.to_string(),
        }]
    }

    /// Kafka's `isActive`: registered, unfenced and not in controlled shutdown. Only active
    /// brokers may lead, join an ISR, or receive new replicas.
    pub fn is_active(&self, image: &MetadataImage, broker_id: i32) -> bool {
        image.is_live(broker_id)
            && !self
                .sessions
                .get(&broker_id)
                .is_some_and(|s| s.in_controlled_shutdown)
    }

    /// Whether a topic may elect an out-of-sync leader: its `unclean.leader.election.enable`
    /// override, else the cluster default override, else the configured default.
    pub fn unclean_election_enabled(&self, image: &MetadataImage, topic: &str) -> bool {
        const NAME: &str = "unclean.leader.election.enable";
        image
            .topic_configs(topic)
            .get(NAME)
            .or_else(|| {
                image
                    .configs(&ConfigResource::Broker(CLUSTER_DEFAULT_BROKER))
                    .get(NAME)
            })
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
            .unwrap_or(self.config.unclean_leader_election_enable)
    }

    /// Generate ISR and leader changes for `parts` (Kafka's `generateLeaderAndIsrUpdates`):
    /// `remove` (or -1) leaves every ISR and may not lead; `add` (or -1) may lead even though
    /// the image still has it fenced (it is being unfenced).
    fn leader_and_isr_updates(
        &self,
        work: &mut Work,
        remove: i32,
        add: i32,
        parts: &[(Uuid, i32)],
    ) {
        for &(topic_id, p) in parts {
            let image = &work.image;
            let Some(topic) = image.topic_by_id(&topic_id) else {
                continue;
            };
            let Some(part) = topic.partition(p) else {
                continue;
            };
            let election = if self.unclean_election_enabled(image, &topic.name) {
                change::Election::Unclean
            } else {
                change::Election::Online
            };
            let isr = part.isr.iter().copied().filter(|r| *r != remove).collect();
            let record = change::PartitionChange::new(part, topic_id, p)
                .election(election)
                .isr(isr)
                .build(|r| r != remove && (r == add || self.is_active(image, r)));
            if let Some(record) = record {
                work.push(record);
            }
        }
    }

    /// The partitions whose ISR holds `broker_id` or which it leads.
    fn partitions_with_broker(image: &MetadataImage, broker_id: i32) -> Vec<(Uuid, i32)> {
        Self::partitions_where(image, |p| {
            p.leader == broker_id || p.isr.contains(&broker_id)
        })
    }

    fn partitions_where(
        image: &MetadataImage,
        pred: impl Fn(&crate::cluster::image::PartitionRegistration) -> bool,
    ) -> Vec<(Uuid, i32)> {
        let mut out = Vec::new();
        for t in image.topics() {
            for (i, p) in t.partitions.iter().enumerate() {
                if pred(p) {
                    out.push((t.id, i as i32));
                }
            }
        }
        out
    }

    /// Elect leaders for offline partitions that can have one (clean, or unclean where the
    /// topic allows it).
    fn elect_offline_leaders(&self, work: &mut Work) {
        let offline = Self::partitions_where(&work.image, |p| p.leader == NO_LEADER);
        self.leader_and_isr_updates(work, NO_LEADER, NO_LEADER, &offline);
    }
}
