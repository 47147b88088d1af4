//! The group coordinator's inputs and outputs, independent of wire versions. The API layer
//! maps Kafka requests to [`Request`] and [`Response`] back to Kafka responses; the runtime
//! (src/server/group_runtime.rs) feeds requests and timer firings to the coordinator and
//! carries out each [`Outcome`]: append `records` to `__consumer_offsets`, then send
//! `responses`, then apply `timers`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use uuid::Uuid;

/// Identifies one in-flight request inside the runtime; responses may come back in a later
/// Outcome (a JoinGroup parked until the rebalance completes).
pub type RequestId = u64;

/// Kafka error codes the coordinator answers with (numeric values are Kafka's).
pub type ErrorCode = i16;

#[derive(Debug, Clone, PartialEq)]
pub struct JoinGroup {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub session_timeout_ms: i32,
    /// v0 has none: use session_timeout_ms.
    pub rebalance_timeout_ms: i32,
    pub client_id: String,
    pub client_host: String,
    pub reason: Option<String>,
    /// The JoinGroup request version (v4+ answers MEMBER_ID_REQUIRED to unknown members).
    pub version: i16,
    /// The cluster's topics (a classic member joining a consumer group resolves its
    /// subscription against them); None leaves the coordinator's last image in use.
    pub topics: Option<Arc<TopicsImage>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncGroup {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// Only the leader sends assignments: (member_id, assignment).
    pub assignments: Vec<(String, Bytes)>,
    pub version: i16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeaveGroup {
    pub group_id: String,
    /// (member_id, group_instance_id, reason); v0–2 send exactly one with no instance id.
    pub members: Vec<(String, Option<String>, Option<String>)>,
    pub version: i16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommitPartition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OffsetCommit {
    pub group_id: String,
    /// -1 with an empty member_id: a "simple" commit outside any generation.
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// v2–4 only; -1 = broker default (offsets.retention.minutes).
    pub retention_time_ms: i64,
    pub partitions: Vec<CommitPartition>,
    pub version: i16,
}

/// TxnOffsetCommit: offsets committed inside a transaction. They stay pending (invisible to
/// OffsetFetch, UNSTABLE_OFFSET_COMMIT for require_stable) until the transaction's marker
/// reaches the group's `__consumer_offsets` partition.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnOffsetCommit {
    pub transactional_id: String,
    pub group_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// v3+; -1 / "" / None for older versions.
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub partitions: Vec<CommitPartition>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OffsetFetchGroup {
    pub group_id: String,
    /// v9+: the member fetching (consumer groups check its epoch); None for admin fetches.
    pub member: Option<(String, i32)>,
    /// None: every partition the group has an offset for.
    pub topics: Option<Vec<(String, Vec<i32>)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OffsetFetch {
    pub groups: Vec<OffsetFetchGroup>,
    pub require_stable: bool,
}

/// A topic as the consumer-group coordinator sees it (from the broker's metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub id: Uuid,
    pub partitions: i32,
    pub internal: bool,
}

/// The cluster's topics when a request was made (the API layer takes it from the broker's
/// metadata): consumer groups resolve subscriptions and topic ids against it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicsImage {
    pub by_name: BTreeMap<String, TopicInfo>,
}

impl TopicsImage {
    pub fn name_of(&self, id: &Uuid) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(_, t)| t.id == *id)
            .map(|(n, _)| n.as_str())
    }
}

/// ConsumerGroupHeartbeat (KIP-848). `None` fields did not change since the last heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerHeartbeat {
    pub group_id: String,
    pub member_id: String,
    /// 0 to join, -1 to leave, -2 for a static member leaving temporarily.
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    /// v1+.
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns.
    pub owned: Option<Vec<(Uuid, Vec<i32>)>>,
    pub client_id: String,
    pub client_host: String,
    pub version: i16,
    pub topics: Arc<TopicsImage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerHeartbeatResult {
    pub error: ErrorCode,
    pub error_message: Option<String>,
    pub member_id: Option<String>,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Sent on full requests and when the member's assigned partitions changed.
    pub assignment: Option<Vec<(Uuid, Vec<i32>)>>,
}

/// Partitions of one topic in a ConsumerGroupDescribe answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedTopicPartitions {
    pub topic_id: Uuid,
    pub topic_name: String,
    pub partitions: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerDescribedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub assignment: Vec<DescribedTopicPartitions>,
    pub target_assignment: Vec<DescribedTopicPartitions>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerDescribedGroup {
    pub group_id: String,
    pub error: ErrorCode,
    pub error_message: Option<String>,
    /// Empty, Assigning, Reconciling, Stable.
    pub state: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor_name: String,
    pub members: Vec<ConsumerDescribedMember>,
}

/// ShareGroupHeartbeat (KIP-932).
#[derive(Debug, Clone)]
pub struct ShareHeartbeatRequest {
    pub group_id: String,
    pub heartbeat: crate::share::group::Heartbeat,
    pub topics: Arc<TopicsImage>,
}

impl PartialEq for ShareHeartbeatRequest {
    fn eq(&self, other: &Self) -> bool {
        self.group_id == other.group_id
            && self.heartbeat.member_id == other.heartbeat.member_id
            && self.heartbeat.member_epoch == other.heartbeat.member_epoch
            && self.topics == other.topics
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShareHeartbeatResult {
    pub error: ErrorCode,
    pub error_message: Option<String>,
    pub member_id: Option<String>,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Sent when the member's assignment changed since it last got one.
    pub assignment: Option<Vec<(Uuid, Vec<i32>)>>,
}

impl ShareHeartbeatResult {
    pub fn error(error: ErrorCode) -> Self {
        ShareHeartbeatResult {
            error,
            error_message: None,
            member_id: None,
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShareDescribedMember {
    pub member_id: String,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub assignment: Vec<DescribedTopicPartitions>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShareDescribedGroup {
    pub group_id: String,
    pub error: ErrorCode,
    pub error_message: Option<String>,
    /// Empty or Stable.
    pub state: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor_name: String,
    pub members: Vec<ShareDescribedMember>,
}

impl ShareDescribedGroup {
    pub fn error(group_id: &str, error: ErrorCode) -> Self {
        ShareDescribedGroup {
            group_id: group_id.to_string(),
            error,
            error_message: None,
            state: String::new(),
            group_epoch: 0,
            assignment_epoch: 0,
            assignor_name: String::new(),
            members: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Join(JoinGroup),
    Sync(SyncGroup),
    Heartbeat(Heartbeat),
    Leave(LeaveGroup),
    OffsetCommit(OffsetCommit),
    TxnOffsetCommit(TxnOffsetCommit),
    OffsetFetch(OffsetFetch),
    Describe {
        groups: Vec<String>,
    },
    /// Empty filters match everything; states compare case-insensitively (KIP-518).
    List {
        states: Vec<String>,
        types: Vec<String>,
    },
    Delete {
        groups: Vec<String>,
    },
    OffsetDelete {
        group_id: String,
        partitions: Vec<(String, i32)>,
    },
    ConsumerHeartbeat(Box<ConsumerHeartbeat>),
    ConsumerDescribe {
        groups: Vec<String>,
        topics: Arc<TopicsImage>,
    },
    ShareHeartbeat(Box<ShareHeartbeatRequest>),
    ShareDescribe {
        groups: Vec<String>,
        topics: Arc<TopicsImage>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinResult {
    pub error: ErrorCode,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Non-empty only for the leader.
    pub members: Vec<JoinMember>,
    pub skip_assignment: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncResult {
    pub error: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeaveResult {
    pub error: ErrorCode,
    /// Per member (v3+): (member_id, group_instance_id, error).
    pub members: Vec<(String, Option<String>, ErrorCode)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchedOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when none is committed.
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    pub error: ErrorCode,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OffsetFetchGroupResult {
    pub group_id: String,
    pub error: ErrorCode,
    pub offsets: Vec<FetchedOffset>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DescribedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DescribedGroup {
    pub group_id: String,
    pub error: ErrorCode,
    /// Kafka's names: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead.
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<DescribedMember>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListedGroup {
    pub group_id: String,
    /// "classic" or "consumer" (ListGroups v5).
    pub group_type: String,
    pub protocol_type: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Join(JoinResult),
    Sync(SyncResult),
    Heartbeat {
        error: ErrorCode,
    },
    Leave(LeaveResult),
    /// (topic, partition, error) in request order.
    OffsetCommit {
        partitions: Vec<(String, i32, ErrorCode)>,
    },
    /// (topic, partition, error) in request order.
    TxnOffsetCommit {
        partitions: Vec<(String, i32, ErrorCode)>,
    },
    OffsetFetch {
        groups: Vec<OffsetFetchGroupResult>,
    },
    Describe {
        groups: Vec<DescribedGroup>,
    },
    List {
        error: ErrorCode,
        groups: Vec<ListedGroup>,
    },
    /// (group_id, error) in request order.
    Delete {
        results: Vec<(String, ErrorCode)>,
    },
    OffsetDelete {
        error: ErrorCode,
        partitions: Vec<(String, i32, ErrorCode)>,
    },
    ConsumerHeartbeat(ConsumerHeartbeatResult),
    ConsumerDescribe {
        groups: Vec<ConsumerDescribedGroup>,
    },
    ShareHeartbeat(ShareHeartbeatResult),
    ShareDescribe {
        groups: Vec<ShareDescribedGroup>,
    },
}

/// What a timer is for. At most one timer per key is armed; setting a key again replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// Session timeout of one member (also used for pending members awaiting their rejoin).
    Session { group_id: String, member_id: String },
    /// End of the join phase (rebalance timeout, or initial rebalance delay for a new group).
    Join { group_id: String },
    /// Members that joined must sync within the rebalance timeout.
    Sync { group_id: String },
    /// Periodic expiry of old offsets (offsets.retention.check.interval.ms).
    OffsetsExpiry,
    /// Session timeout of a consumer-group (KIP-848) member.
    ConsumerSession { group_id: String, member_id: String },
    /// A consumer-group member must revoke its partitions within its rebalance timeout.
    ConsumerRebalance { group_id: String, member_id: String },
    /// The earliest session deadline of a share group's members.
    ShareSession { group_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerOp {
    Set { key: TimerKey, deadline_ms: i64 },
    Cancel { key: TimerKey },
}

/// A record for `__consumer_offsets`, in Kafka's key/value schemas (see records.rs).
/// `value: None` is a tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Partition of __consumer_offsets: abs(java_hash(group_id)) % partitions.
    pub partition: i32,
    pub key: Bytes,
    pub value: Option<Bytes>,
    /// Set for TxnOffsetCommit records: (producer_id, producer_epoch) of the transaction;
    /// the runtime writes them in a transactional batch of that producer.
    pub producer: Option<(i64, i16)>,
}

/// Everything one call produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    pub responses: Vec<(RequestId, Response)>,
    pub records: Vec<Record>,
    pub timers: Vec<TimerOp>,
    /// Share-group members whose session expired: (group id, member id). The runtime ends
    /// their share sessions and releases what they hold at once. (A member leaving by
    /// heartbeat is not listed: its share session ends with its last acknowledgement.)
    pub share_members_left: Vec<(String, String)>,
}

/// Broker configs the coordinator obeys (Kafka's names and defaults).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// group.min.session.timeout.ms (6000)
    pub min_session_timeout_ms: i32,
    /// group.max.session.timeout.ms (1800000)
    pub max_session_timeout_ms: i32,
    /// group.initial.rebalance.delay.ms (3000)
    pub initial_rebalance_delay_ms: i32,
    /// group.max.size (2147483647)
    pub max_size: usize,
    /// offsets.retention.minutes (10080) in ms
    pub offsets_retention_ms: i64,
    /// offsets.retention.check.interval.ms (600000)
    pub offsets_retention_check_interval_ms: i64,
    /// offset.metadata.max.bytes (4096)
    pub offset_metadata_max_bytes: usize,
    /// offsets.topic.num.partitions (50)
    pub offsets_topic_partitions: i32,
    /// Consumer groups (KIP-848): Kafka's group.consumer.* configs.
    pub consumer: ConsumerGroupConfig,
    /// Share groups (KIP-932): Kafka's group.share.* configs.
    pub share: ShareGroupConfig,
}

/// Kafka's group.share.* broker configs the coordinator uses, and the groups' overrides.
#[derive(Debug, Clone)]
pub struct ShareGroupConfig {
    /// group.share.session.timeout.ms (45000)
    pub session_timeout_ms: i32,
    /// group.share.heartbeat.interval.ms (5000)
    pub heartbeat_interval_ms: i32,
    /// group.share.max.size (200)
    pub max_size: usize,
    /// Per-group overrides (share.session.timeout.ms, share.heartbeat.interval.ms).
    pub overrides: BTreeMap<String, (Option<i32>, Option<i32>)>,
}

impl Default for ShareGroupConfig {
    fn default() -> Self {
        ShareGroupConfig {
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            max_size: 200,
            overrides: BTreeMap::new(),
        }
    }
}

/// group.consumer.migration.policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationPolicy {
    Disabled,
    Upgrade,
    Downgrade,
    Bidirectional,
}

impl MigrationPolicy {
    pub fn parse(s: &str) -> Option<MigrationPolicy> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disabled" => Some(MigrationPolicy::Disabled),
            "upgrade" => Some(MigrationPolicy::Upgrade),
            "downgrade" => Some(MigrationPolicy::Downgrade),
            "bidirectional" => Some(MigrationPolicy::Bidirectional),
            _ => None,
        }
    }

    pub fn upgrade_enabled(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Upgrade | MigrationPolicy::Bidirectional
        )
    }

    pub fn downgrade_enabled(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Downgrade | MigrationPolicy::Bidirectional
        )
    }
}

/// Kafka's group.consumer.* broker configs and defaults.
#[derive(Debug, Clone)]
pub struct ConsumerGroupConfig {
    /// group.consumer.session.timeout.ms (45000)
    pub session_timeout_ms: i32,
    /// group.consumer.min.session.timeout.ms (45000)
    pub min_session_timeout_ms: i32,
    /// group.consumer.max.session.timeout.ms (60000)
    pub max_session_timeout_ms: i32,
    /// group.consumer.heartbeat.interval.ms (5000)
    pub heartbeat_interval_ms: i32,
    /// group.consumer.min.heartbeat.interval.ms (5000)
    pub min_heartbeat_interval_ms: i32,
    /// group.consumer.max.heartbeat.interval.ms (15000)
    pub max_heartbeat_interval_ms: i32,
    /// group.consumer.max.size (2147483647)
    pub max_size: usize,
    /// group.consumer.assignors as assignor names ("uniform", "range"); the first is the
    /// default.
    pub assignors: Vec<String>,
    /// group.consumer.migration.policy (bidirectional)
    pub migration_policy: MigrationPolicy,
    /// Per-group overrides (the GROUP config resource): group id → (session timeout,
    /// heartbeat interval).
    pub overrides: BTreeMap<String, (Option<i32>, Option<i32>)>,
}

impl Default for ConsumerGroupConfig {
    fn default() -> Self {
        ConsumerGroupConfig {
            session_timeout_ms: 45_000,
            min_session_timeout_ms: 45_000,
            max_session_timeout_ms: 60_000,
            heartbeat_interval_ms: 5_000,
            min_heartbeat_interval_ms: 5_000,
            max_heartbeat_interval_ms: 15_000,
            max_size: i32::MAX as usize,
            assignors: vec!["uniform".to_string(), "range".to_string()],
            migration_policy: MigrationPolicy::Bidirectional,
            overrides: BTreeMap::new(),
        }
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3000,
            max_size: i32::MAX as usize,
            offsets_retention_ms: 10080 * 60_000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            offsets_topic_partitions: 50,
            consumer: ConsumerGroupConfig::default(),
            share: ShareGroupConfig::default(),
        }
    }
}
