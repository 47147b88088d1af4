//! What brokers ask the active controller, and its answers: the application RPCs carried by
//! the controller quorum's network (serde_json), like Kafka's BrokerRegistration,
//! BrokerHeartbeat, AlterPartition and the admin requests a broker forwards to the
//! controller. Every reply names the metadata log index that holds its effect, so the
//! asking broker can wait until its own image has applied it before answering its client.
//!
//! [`ControllerChannel`] is how API handlers reach the active controller without knowing
//! the runtime that carries the call (implemented in `server/`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::legacy::LegacyTopic;
use super::records::{ConfigResource, Endpoint};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTopic {
    pub name: String,
    /// -1: num.partitions.
    pub num_partitions: i32,
    /// -1: default.replication.factor.
    pub replication_factor: i16,
    /// Explicit replica lists per partition (then the two counts above are -1).
    pub assignments: Option<Vec<Vec<i32>>>,
    /// Config overrides (a null value is Kafka's "use the default").
    pub configs: BTreeMap<String, Option<String>>,
}

/// One topic's result: Kafka's error code (0 = none) and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicResult {
    pub name: String,
    pub topic_id: Uuid,
    pub error_code: i16,
    pub message: Option<String>,
    pub num_partitions: i32,
    pub replication_factor: i16,
    /// The overrides the topic got (CreateTopics v5+ reports effective configs).
    pub configs: BTreeMap<String, String>,
}

/// A topic named by name or by id (DeleteTopics v6+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TopicRef {
    Name(String),
    Id(Uuid),
}

/// CreatePartitions for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPartitions {
    pub name: String,
    pub count: i32,
    pub assignments: Option<Vec<Vec<i32>>>,
}

/// An ISR change a leader proposes (Kafka's AlterPartition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterIsr {
    pub topic_id: Uuid,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

/// The result for one partition of an AlterPartition / ElectLeaders / reassignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionResult {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
    pub error_code: i16,
    pub message: Option<String>,
    /// After an accepted AlterPartition: the partition's state.
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub isr: Vec<i32>,
}

/// One incremental config operation (IncrementalAlterConfigs' op codes: 0 SET, 1 DELETE,
/// 2 APPEND, 3 SUBTRACT); AlterConfigs is sent as a full replacement (`replace`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigOp {
    pub name: String,
    pub op: i8,
    pub value: Option<String>,
}

/// A request to the active controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControllerRequest {
    RegisterBroker {
        broker_id: i32,
        incarnation_id: Uuid,
        listeners: Vec<Endpoint>,
        rack: Option<String>,
    },
    Heartbeat {
        broker_id: i32,
        broker_epoch: i64,
        /// The metadata log index this broker has applied.
        metadata_offset: u64,
        want_shutdown: bool,
    },
    CreateTopics {
        topics: Vec<NewTopic>,
        validate_only: bool,
    },
    DeleteTopics {
        topics: Vec<TopicRef>,
    },
    CreatePartitions {
        topics: Vec<NewPartitions>,
        validate_only: bool,
    },
    AlterPartition {
        broker_id: i32,
        broker_epoch: i64,
        partitions: Vec<AlterIsr>,
    },
    ElectLeaders {
        unclean: bool,
        /// None: every partition.
        partitions: Option<Vec<(String, i32)>>,
    },
    AlterReassignments {
        /// (topic, partition, target replicas; None cancels).
        reassignments: Vec<(String, i32, Option<Vec<i32>>)>,
    },
    AlterConfigs {
        resource: ConfigResource,
        ops: Vec<ConfigOp>,
        /// AlterConfigs (not incremental): the ops are the complete new set of overrides.
        replace: bool,
        validate_only: bool,
    },
    AllocateProducerIds {
        broker_id: i32,
        broker_epoch: i64,
    },
    /// Topics of a pre-quorum data directory on `broker_id` (see `legacy.rs`).
    ImportTopics {
        broker_id: i32,
        topics: Vec<LegacyTopic>,
        next_producer_id: Option<i64>,
    },
    /// CreateAcls.
    CreateAcls {
        acls: Vec<crate::security::acl::AclBinding>,
    },
    /// DeleteAcls.
    DeleteAcls {
        filters: Vec<crate::security::acl::AclBindingFilter>,
    },
    /// AlterClientQuotas.
    AlterClientQuotas {
        alterations: Vec<crate::controller::QuotaAlteration>,
        validate_only: bool,
    },
    /// AlterUserScramCredentials: (user, mechanism type) to delete; upsertions carry the
    /// client's salt and salted password.
    AlterUserScramCredentials {
        deletions: Vec<(String, i8)>,
        upsertions: Vec<ScramUpsertion>,
    },
}

/// A SCRAM credential to add or replace, as AlterUserScramCredentials sends it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramUpsertion {
    pub name: String,
    pub mechanism: i8,
    pub iterations: i32,
    pub salt: Vec<u8>,
    pub salted_password: Vec<u8>,
}

impl std::fmt::Debug for ScramUpsertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramUpsertion")
            .field("name", &self.name)
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish()
    }
}

/// The active controller's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControllerResponse {
    Registered {
        broker_epoch: i64,
    },
    Heartbeat {
        fenced: bool,
        should_shutdown: bool,
    },
    Topics(Vec<TopicResult>),
    Partitions(Vec<PartitionResult>),
    /// One config resource's outcome.
    Config {
        error_code: i16,
        message: Option<String>,
    },
    ProducerIds {
        first_id: i64,
        count: i64,
    },
    Imported,
    /// CreateAcls: per binding, (error code, message).
    AclsCreated(Vec<(i16, Option<String>)>),
    /// DeleteAcls: per filter, the outcome.
    AclsDeleted(Vec<AclDeleteResult>),
    /// AlterClientQuotas' results, one per distinct entity.
    ClientQuotas(Vec<crate::controller::QuotaAlterationResult>),
    /// AlterUserScramCredentials: (user, error code, message) per user.
    UserScramCredentials(Vec<(String, i16, Option<String>)>),
    /// The whole request failed (NOT_CONTROLLER, STALE_BROKER_EPOCH, ...).
    Error {
        error_code: i16,
        message: Option<String>,
    },
}

/// One DeleteAcls filter's outcome: its error, or the bindings it removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclDeleteResult {
    pub error_code: i16,
    pub message: Option<String>,
    pub matched: Vec<crate::security::acl::AclBinding>,
}

/// A response and the metadata log index holding its effect (0: nothing written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerReply {
    pub response: ControllerResponse,
    pub index: u64,
}

/// NOT_CONTROLLER
pub const NOT_CONTROLLER: i16 = 41;

/// Why a call to the controller failed as a whole.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// No active controller answered in time (REQUEST_TIMED_OUT to clients).
    #[error("the controller did not answer in time: {0}")]
    Timeout(String),
    /// The controller quorum is gone (shutting down).
    #[error("the controller is unavailable: {0}")]
    Unavailable(String),
}

pub type CallFuture = Pin<Box<dyn Future<Output = Result<ControllerReply, CallError>> + Send>>;

/// The way from a handler to the active controller. `call` retries across controller
/// changes until its deadline; when it returns Ok, this node's metadata has applied the
/// reply's index (so the handler's next look at the broker sees the effect).
pub trait ControllerChannel: Send + Sync {
    fn call(&self, request: ControllerRequest) -> CallFuture;
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(bytes)
}
