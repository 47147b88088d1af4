//! The group coordinator's inputs and outputs, independent of wire versions. The API layer
//! maps Kafka requests to [`Request`] and [`Response`] back to Kafka responses; the runtime
//! (src/server/group_runtime.rs) feeds requests and timer firings to the coordinator and
//! carries out each [`Outcome`]: append `records` to `__consumer_offsets`, then send
//! `responses`, then apply `timers`.

use bytes::Bytes;

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
    /// None: every partition the group has an offset for.
    pub topics: Option<Vec<(String, Vec<i32>)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OffsetFetch {
    pub groups: Vec<OffsetFetchGroup>,
    pub require_stable: bool,
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
        }
    }
}
