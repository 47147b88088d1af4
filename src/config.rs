//! Typed broker and topic configuration under Kafka's names.
//!
//! Sources, later wins: embedded defaults, `--config FILE` (Java properties, Kafka's
//! server.properties names), `--set NAME=VALUE`. Every name is checked against the table
//! [`BROKER_CONFIGS`]; an unknown name or a value of the wrong type or range is a startup error.
//! Topic-level configs ([`TOPIC_CONFIGS`]) fall back to their broker-level synonyms
//! (`retention.ms` → `log.retention.ms`, ...), exactly as in Kafka.

pub mod duration;
pub mod group_configs;
pub mod listeners;

pub use group_configs::{
    group_config_def, group_config_value, parse_tag_filter, validate_group_configs,
    AutoOffsetReset, GroupCheck, GroupConfigDef, GroupConfigLimits, ShareGroupBrokerConfig,
    ShareGroupSettings, GROUP_CONFIGS,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::log::{CleanupPolicy, LogConfig, TimestampType};

/// What a config value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    Int,
    Long,
    Double,
    Str,
    List,
    Password,
}

impl ConfigType {
    /// The name DescribeConfigs reports (KIP-569).
    pub fn as_i8(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::Str => 2,
            ConfigType::Int => 3,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Password => 9,
        }
    }
}

/// One known configuration name.
#[derive(Debug, Clone, Copy)]
pub struct ConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// Default as Kafka spells it; `None` is Kafka's `null`.
    pub default: Option<&'static str>,
    /// Inclusive numeric lower bound, if any.
    pub min: Option<i64>,
    /// Allowed string values, if restricted.
    pub one_of: &'static [&'static str],
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
    min: Option<i64>,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        kind,
        default,
        min,
        one_of: &[],
        doc,
    }
}

use ConfigType::*;

/// Broker configs skua acts on.
pub const BROKER_CONFIGS: &[ConfigDef] = &[
    def(
        "node.id",
        Int,
        Some("1"),
        Some(0),
        "The id of this broker (broker.id is a synonym).",
    ),
    def("broker.id", Int, None, Some(0), "Synonym of node.id."),
    def(
        "log.dirs",
        Str,
        None,
        None,
        "The data directory (the first entry is used); overrides --data-dir.",
    ),
    def(
        "log.dir",
        Str,
        None,
        None,
        "The data directory when log.dirs is not set.",
    ),
    def(
        "listeners",
        Str,
        None,
        None,
        "NAME://host:port,... to listen on (Kafka's form; CONTROLLER entries are the quorum's); overrides --listen.",
    ),
    def(
        "advertised.listeners",
        Str,
        None,
        None,
        "NAME://host:port per listener, returned in Metadata to the clients of that listener; overrides --advertise.",
    ),
    def(
        "listener.security.protocol.map",
        Str,
        None,
        None,
        "NAME:PROTOCOL per listener (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); default maps each protocol name to itself.",
    ),
    def(
        "inter.broker.listener.name",
        Str,
        None,
        None,
        "The listener other brokers connect to (default: the PLAINTEXT listener, or the only one).",
    ),
    def(
        "security.inter.broker.protocol",
        Str,
        None,
        None,
        "The inter-broker listener by its protocol name (instead of inter.broker.listener.name).",
    ),
    def(
        "num.partitions",
        Int,
        Some("1"),
        Some(1),
        "Default number of partitions of an auto-created topic or a CreateTopics request with -1.",
    ),
    def(
        "default.replication.factor",
        Int,
        Some("1"),
        Some(1),
        "Replication factor of auto-created topics and of CreateTopics with -1.",
    ),
    def(
        "auto.create.topics.enable",
        Boolean,
        Some("true"),
        None,
        "Create a topic on Metadata/Produce for an unknown name.",
    ),
    def(
        "delete.topic.enable",
        Boolean,
        Some("true"),
        None,
        "Allow DeleteTopics.",
    ),
    def(
        "message.max.bytes",
        Int,
        Some("1048588"),
        Some(0),
        "Largest record batch accepted (topic: max.message.bytes).",
    ),
    def(
        "log.segment.bytes",
        Int,
        Some("1073741824"),
        Some(14),
        "Size at which a segment is rolled (topic: segment.bytes).",
    ),
    def(
        "log.roll.ms",
        Long,
        None,
        Some(1),
        "Age at which a segment is rolled (topic: segment.ms); log.roll.hours when null.",
    ),
    def(
        "log.roll.hours",
        Int,
        Some("168"),
        Some(1),
        "Age in hours at which a segment is rolled.",
    ),
    def(
        "log.retention.ms",
        Long,
        None,
        Some(-1),
        "Time to keep a segment (topic: retention.ms); -1 keeps forever.",
    ),
    def(
        "log.retention.minutes",
        Int,
        None,
        Some(-1),
        "Used when log.retention.ms is null.",
    ),
    def(
        "log.retention.hours",
        Int,
        Some("168"),
        Some(-1),
        "Used when log.retention.ms and log.retention.minutes are null.",
    ),
    def(
        "log.retention.bytes",
        Long,
        Some("-1"),
        Some(-1),
        "Maximum partition size before old segments are deleted (topic: retention.bytes).",
    ),
    def(
        "log.retention.check.interval.ms",
        Long,
        Some("300000"),
        Some(1),
        "How often retention is applied.",
    ),
    def(
        "log.index.interval.bytes",
        Int,
        Some("4096"),
        Some(0),
        "Bytes of log between two offset-index entries (topic: index.interval.bytes).",
    ),
    def(
        "log.index.size.max.bytes",
        Int,
        Some("10485760"),
        Some(4),
        "Maximum offset-index size of a segment (topic: segment.index.bytes).",
    ),
    def(
        "log.flush.interval.messages",
        Long,
        Some("9223372036854775807"),
        Some(1),
        "fsync after this many records (topic: flush.messages).",
    ),
    def(
        "log.flush.interval.ms",
        Long,
        None,
        Some(0),
        "fsync when unflushed data is this old (topic: flush.ms).",
    ),
    def(
        "log.flush.scheduler.interval.ms",
        Long,
        Some("9223372036854775807"),
        Some(0),
        "How often the time-based flush policy is checked.",
    ),
    def(
        "log.message.timestamp.type",
        Str,
        Some("CreateTime"),
        None,
        "CreateTime or LogAppendTime (topic: message.timestamp.type).",
    ),
    def(
        "min.insync.replicas",
        Int,
        Some("1"),
        Some(1),
        "Replicas that must acknowledge an acks=all produce.",
    ),
    def(
        "process.roles",
        List,
        Some("broker,controller"),
        None,
        "broker, controller, or both: what this node runs (a combined node by default).",
    ),
    def(
        "controller.quorum.voters",
        List,
        None,
        None,
        "The controller quorum, id@host:port,...; unset = a quorum of this node alone.",
    ),
    def(
        "controller.listener.names",
        List,
        Some("CONTROLLER"),
        None,
        "Listener names (in listeners) used by the controller quorum.",
    ),
    def(
        "broker.rack",
        Str,
        None,
        None,
        "Rack of this broker; replicas of a partition are spread over racks.",
    ),
    def(
        "broker.heartbeat.interval.ms",
        Int,
        Some("2000"),
        Some(1),
        "How often a broker heartbeats to the active controller.",
    ),
    def(
        "broker.session.timeout.ms",
        Int,
        Some("9000"),
        Some(1),
        "A broker without a heartbeat for this long is fenced and loses its leaderships.",
    ),
    def(
        "replica.lag.time.max.ms",
        Long,
        Some("30000"),
        Some(1),
        "A follower that has not caught up for this long leaves the ISR.",
    ),
    def(
        "replica.fetch.max.bytes",
        Int,
        Some("1048576"),
        Some(0),
        "Bytes a follower fetches per partition (at least one batch).",
    ),
    def(
        "replica.fetch.response.max.bytes",
        Int,
        Some("10485760"),
        Some(0),
        "Bytes a follower fetches per request.",
    ),
    def(
        "replica.fetch.wait.max.ms",
        Int,
        Some("500"),
        Some(0),
        "How long a follower fetch waits at the leader for new data.",
    ),
    def(
        "replica.fetch.min.bytes",
        Int,
        Some("1"),
        Some(1),
        "Bytes a follower fetch waits for.",
    ),
    def(
        "replica.fetch.backoff.ms",
        Int,
        Some("1000"),
        Some(0),
        "Pause after a failed follower fetch.",
    ),
    def(
        "num.replica.fetchers",
        Int,
        Some("1"),
        Some(1),
        "Fetcher tasks per source broker.",
    ),
    def(
        "replica.fsync.enable",
        Boolean,
        Some("true"),
        None,
        "A follower fsyncs what it appended before it fetches again, so acks=all means fsynced \
         on every in-sync replica (false: Kafka's page-cache replication).",
    ),
    def(
        "unclean.leader.election.enable",
        Boolean,
        Some("false"),
        None,
        "Elect an out-of-sync replica when no in-sync one is alive (may lose data).",
    ),
    def(
        "offsets.topic.replication.factor",
        Int,
        Some("3"),
        Some(1),
        "Replication factor of __consumer_offsets (capped at the number of controller voters).",
    ),
    def(
        "transaction.state.log.replication.factor",
        Int,
        Some("3"),
        Some(1),
        "Replication factor of __transaction_state (capped at the number of controller voters).",
    ),
    def(
        "transaction.state.log.min.isr",
        Int,
        Some("2"),
        Some(1),
        "min.insync.replicas of __transaction_state (capped at its replication factor).",
    ),
    def(
        "auto.leader.rebalance.enable",
        Boolean,
        Some("true"),
        None,
        "Move leadership back to the preferred replica when it is in sync.",
    ),
    def(
        "leader.imbalance.check.interval.seconds",
        Long,
        Some("300"),
        Some(1),
        "How often the controller checks for leader imbalance.",
    ),
    def(
        "leader.imbalance.per.broker.percentage",
        Int,
        Some("10"),
        Some(0),
        "Imbalance per broker above which preferred leaders are elected.",
    ),
    def(
        "metadata.log.max.snapshot.interval.entries",
        Long,
        Some("10000"),
        Some(1),
        "Metadata log entries between two snapshots of the metadata image.",
    ),
    def(
        "compression.type",
        Str,
        Some("producer"),
        None,
        "Codec batches are stored with: uncompressed, gzip, snappy, lz4, zstd, or producer (keep the producer's) (topic: compression.type).",
    ),
    def(
        "compression.gzip.level",
        Int,
        Some("-1"),
        None,
        "gzip level when the broker compresses: -1 (zlib's default, 6) or 1-9.",
    ),
    def(
        "compression.lz4.level",
        Int,
        Some("9"),
        None,
        "lz4 level when the broker compresses: 1-17.",
    ),
    def(
        "compression.zstd.level",
        Int,
        Some("3"),
        None,
        "zstd level when the broker compresses: -131072 to 22.",
    ),
    def(
        "log.message.timestamp.before.max.ms",
        Long,
        Some("9223372036854775807"),
        Some(0),
        "CreateTime records older than the broker's clock by more than this are rejected (INVALID_TIMESTAMP).",
    ),
    def(
        "log.message.timestamp.after.max.ms",
        Long,
        Some("9223372036854775807"),
        Some(0),
        "CreateTime records newer than the broker's clock by more than this are rejected (INVALID_TIMESTAMP).",
    ),
    def(
        "log.message.timestamp.difference.max.ms",
        Long,
        Some("9223372036854775807"),
        Some(0),
        "Deprecated: before/after.max.ms when those are left at their default.",
    ),
    def(
        "log.cleanup.policy",
        List,
        Some("delete"),
        None,
        "delete, compact, or both (comma-separated) (topic: cleanup.policy).",
    ),
    def(
        "log.cleaner.enable",
        Boolean,
        Some("true"),
        None,
        "Run the log cleaner (compaction of topics whose cleanup.policy includes compact).",
    ),
    def(
        "log.cleaner.backoff.ms",
        Long,
        Some("15000"),
        Some(0),
        "How often the log cleaner looks for partitions to clean.",
    ),
    def(
        "log.cleaner.min.cleanable.ratio",
        Double,
        Some("0.5"),
        None,
        "Dirty bytes / total bytes at which a partition is cleaned (topic: min.cleanable.dirty.ratio).",
    ),
    def(
        "log.cleaner.min.compaction.lag.ms",
        Long,
        Some("0"),
        Some(0),
        "Records stay uncompacted at least this long (topic: min.compaction.lag.ms).",
    ),
    def(
        "log.cleaner.max.compaction.lag.ms",
        Long,
        Some("9223372036854775807"),
        Some(1),
        "A record becomes eligible for cleaning at most this long after it was written, \
         whatever the dirty ratio (topic: max.compaction.lag.ms).",
    ),
    def(
        "log.cleaner.delete.retention.ms",
        Long,
        Some("86400000"),
        Some(0),
        "How long tombstones and transaction markers are kept after their segment was cleaned \
         (topic: delete.retention.ms).",
    ),
    def(
        "socket.request.max.bytes",
        Int,
        Some("104857600"),
        Some(1),
        "Largest request frame accepted; checked before allocating.",
    ),
    def(
        "max.connections",
        Int,
        Some("2147483647"),
        Some(0),
        "Maximum concurrent client connections.",
    ),
    def(
        "log.max.open.files",
        Int,
        None,
        Some(16),
        "skua: most segment files held open at once (a bounded cache; others are opened \
         on use). Default: half the process's nofile limit, which skua raises to the hard \
         limit at start-up.",
    ),
    def(
        "telemetry.max.bytes",
        Int,
        Some("1048576"),
        Some(1),
        "Largest (compressed) PushTelemetry payload accepted (else TELEMETRY_TOO_LARGE); \
         a payload may decompress to 10 times this.",
    ),
    def(
        "client.metrics.max.instances",
        Int,
        Some("16384"),
        Some(1),
        "Client telemetry instances kept (KIP-714); beyond, the least recently used is evicted.",
    ),
    def(
        "client.metrics.exported.max.clients",
        Int,
        Some("1000"),
        Some(0),
        "Client instances whose pushed metrics are exposed on /metrics; pushes of further \
         clients are accepted but not exposed.",
    ),
    def(
        "client.metrics.exported.max.series.per.client",
        Int,
        Some("1000"),
        Some(0),
        "Series exposed on /metrics per client instance; further series are dropped.",
    ),
    def(
        "queued.max.requests",
        Int,
        Some("500"),
        Some(1),
        "Maximum requests in flight on one connection (pipelining depth).",
    ),
    def(
        "group.min.session.timeout.ms",
        Int,
        Some("6000"),
        Some(0),
        "Smallest session timeout a group member may ask for (else INVALID_SESSION_TIMEOUT).",
    ),
    def(
        "group.max.session.timeout.ms",
        Int,
        Some("1800000"),
        Some(0),
        "Largest session timeout a group member may ask for (else INVALID_SESSION_TIMEOUT).",
    ),
    def(
        "group.initial.rebalance.delay.ms",
        Int,
        Some("3000"),
        Some(0),
        "How long a new group waits for more members before its first rebalance completes.",
    ),
    def(
        "group.max.size",
        Int,
        Some("2147483647"),
        Some(1),
        "Maximum members of one group (else GROUP_MAX_SIZE_REACHED).",
    ),
    def(
        "group.consumer.session.timeout.ms",
        Int,
        Some("45000"),
        Some(1),
        "Session timeout of consumer-protocol (KIP-848) group members.",
    ),
    def(
        "group.consumer.min.session.timeout.ms",
        Int,
        Some("45000"),
        Some(1),
        "Smallest consumer.session.timeout.ms a group may be configured with.",
    ),
    def(
        "group.consumer.max.session.timeout.ms",
        Int,
        Some("60000"),
        Some(1),
        "Largest consumer.session.timeout.ms a group may be configured with.",
    ),
    def(
        "group.consumer.heartbeat.interval.ms",
        Int,
        Some("5000"),
        Some(1),
        "Heartbeat interval given to consumer-protocol group members.",
    ),
    def(
        "group.consumer.min.heartbeat.interval.ms",
        Int,
        Some("5000"),
        Some(1),
        "Smallest consumer.heartbeat.interval.ms a group may be configured with.",
    ),
    def(
        "group.consumer.max.heartbeat.interval.ms",
        Int,
        Some("15000"),
        Some(1),
        "Largest consumer.heartbeat.interval.ms a group may be configured with.",
    ),
    def(
        "group.consumer.max.size",
        Int,
        Some("2147483647"),
        Some(1),
        "Maximum members of one consumer-protocol group (else GROUP_MAX_SIZE_REACHED).",
    ),
    def(
        "group.consumer.assignors",
        List,
        Some("org.apache.kafka.coordinator.group.assignor.UniformAssignor,org.apache.kafka.coordinator.group.assignor.RangeAssignor"),
        None,
        "Server-side assignors of consumer-protocol groups (uniform, range, or Kafka's class \
         names); the first is the default.",
    ),
    def(
        "group.consumer.migration.policy",
        Str,
        Some("bidirectional"),
        None,
        "disabled, upgrade, downgrade or bidirectional (Kafka's online conversion of groups \
         with members; skua converts only empty groups, which Kafka does whatever the policy).",
    ),
    def(
        "group.share.session.timeout.ms",
        Int,
        Some("45000"),
        Some(1),
        "Session timeout of share group (KIP-932) members.",
    ),
    def(
        "group.share.min.session.timeout.ms",
        Int,
        Some("45000"),
        Some(1),
        "Smallest share.session.timeout.ms a group may be configured with.",
    ),
    def(
        "group.share.max.session.timeout.ms",
        Int,
        Some("60000"),
        Some(1),
        "Largest share.session.timeout.ms a group may be configured with.",
    ),
    def(
        "group.share.heartbeat.interval.ms",
        Int,
        Some("5000"),
        Some(1),
        "Heartbeat interval given to share group members.",
    ),
    def(
        "group.share.min.heartbeat.interval.ms",
        Int,
        Some("5000"),
        Some(1),
        "Smallest share.heartbeat.interval.ms a group may be configured with.",
    ),
    def(
        "group.share.max.heartbeat.interval.ms",
        Int,
        Some("15000"),
        Some(1),
        "Largest share.heartbeat.interval.ms a group may be configured with.",
    ),
    def(
        "group.share.record.lock.duration.ms",
        Int,
        Some("30000"),
        Some(1000),
        "How long a share group member holds the records it acquired before they are released.",
    ),
    def(
        "group.share.min.record.lock.duration.ms",
        Int,
        Some("15000"),
        Some(1000),
        "Smallest share.record.lock.duration.ms a group may be configured with.",
    ),
    def(
        "group.share.max.record.lock.duration.ms",
        Int,
        Some("60000"),
        Some(1000),
        "Largest share.record.lock.duration.ms a group may be configured with.",
    ),
    def(
        "group.share.delivery.count.limit",
        Int,
        Some("5"),
        Some(2),
        "Delivery attempts of a record to a share group before it is archived (2 to 10).",
    ),
    def(
        "group.share.min.delivery.count.limit",
        Int,
        Some("2"),
        Some(2),
        "Smallest share.delivery.count.limit a group may be configured with (2 to 10).",
    ),
    def(
        "group.share.max.delivery.count.limit",
        Int,
        Some("10"),
        Some(2),
        "Largest share.delivery.count.limit a group may be configured with (2 to 10).",
    ),
    def(
        "group.share.partition.max.record.locks",
        Int,
        Some("2000"),
        Some(100),
        "In-flight (acquired or awaiting redelivery) records of one share-partition (100 to 10000).",
    ),
    def(
        "group.share.min.partition.max.record.locks",
        Int,
        Some("100"),
        Some(100),
        "Smallest share.partition.max.record.locks a group may be configured with (100 to 10000).",
    ),
    def(
        "group.share.max.partition.max.record.locks",
        Int,
        Some("10000"),
        Some(100),
        "Largest share.partition.max.record.locks a group may be configured with (100 to 10000).",
    ),
    def(
        "group.share.max.size",
        Int,
        Some("200"),
        Some(1),
        "Maximum members of one share group (1 to 1000).",
    ),
    def(
        "group.share.max.share.sessions",
        Int,
        Some("2000"),
        Some(1),
        "Share sessions (ShareFetch sessions) the broker keeps.",
    ),
    def(
        "errors.deadletterqueue.topic.name.prefix",
        Str,
        Some("dlq."),
        None,
        "Prefix every share group's errors.deadletterqueue.topic.name must start with (KIP-1191); empty: any name.",
    ),
    def(
        "errors.deadletterqueue.auto.create.topics.enable",
        Boolean,
        Some("false"),
        None,
        "Create a missing share-group dead-letter queue topic (with errors.deadletterqueue.group.enable=true).",
    ),
    def(
        "offsets.retention.minutes",
        Int,
        Some("10080"),
        Some(1),
        "Committed offsets of an empty group expire after this long.",
    ),
    def(
        "offsets.retention.check.interval.ms",
        Long,
        Some("600000"),
        Some(1),
        "How often expired offsets are removed.",
    ),
    def(
        "offset.metadata.max.bytes",
        Int,
        Some("4096"),
        Some(0),
        "Largest commit metadata string (else OFFSET_METADATA_TOO_LARGE).",
    ),
    def(
        "offsets.topic.num.partitions",
        Int,
        Some("50"),
        Some(1),
        "Partitions of __consumer_offsets (fixed once the topic exists).",
    ),
    def(
        "offsets.topic.segment.bytes",
        Int,
        Some("104857600"),
        Some(1),
        "Segment size of __consumer_offsets.",
    ),
    def(
        "transaction.state.log.num.partitions",
        Int,
        Some("50"),
        Some(1),
        "Partitions of __transaction_state (fixed once the topic exists).",
    ),
    def(
        "transaction.state.log.segment.bytes",
        Int,
        Some("104857600"),
        Some(1),
        "Segment size of __transaction_state.",
    ),
    def(
        "transaction.max.timeout.ms",
        Int,
        Some("900000"),
        Some(1),
        "Largest transaction.timeout.ms a producer may ask for (else INVALID_TRANSACTION_TIMEOUT).",
    ),
    def(
        "transactional.id.expiration.ms",
        Int,
        Some("604800000"),
        Some(1),
        "A transactional id without a transaction for this long is forgotten.",
    ),
    def(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        Int,
        Some("10000"),
        Some(1),
        "How often transactions past their timeout are looked for and aborted.",
    ),
    def(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        Int,
        Some("3600000"),
        Some(1),
        "How often expired transactional ids are removed.",
    ),
    def(
        "producer.id.expiration.ms",
        Int,
        Some("86400000"),
        Some(1),
        "A partition forgets an idempotent producer's state this long after its last write \
         (unless it has an open transaction there).",
    ),
    def(
        "producer.id.expiration.check.interval.ms",
        Int,
        Some("600000"),
        Some(1),
        "How often expired producer state is removed.",
    ),
    def(
        "transaction.partition.verification.enable",
        Boolean,
        Some("true"),
        None,
        "Reject transactional writes to partitions not added to the producer's ongoing \
         transaction (KIP-890), with INVALID_TXN_STATE.",
    ),
    def(
        "queued.max.request.bytes",
        Long,
        Some("536870912"),
        Some(-1),
        "Bytes of requests held in memory across all connections (read but not yet answered); \
         readers wait when it is reached. -1 is unlimited (Kafka's default); skua defaults to 512 MiB.",
    ),
    def(
        "fetch.max.bytes",
        Int,
        Some("57671680"),
        Some(1024),
        "Upper bound on the size of one Fetch response.",
    ),
    def(
        "max.incremental.fetch.session.cache.slots",
        Int,
        Some("1000"),
        Some(0),
        "The maximum number of incremental fetch sessions (KIP-227) the broker keeps.",
    ),
    def(
        "connections.max.idle.ms",
        Long,
        Some("600000"),
        Some(-1),
        "Idle connections are closed after this long; -1 never.",
    ),
    def(
        "connection.failed.authentication.delay.ms",
        Long,
        Some("100"),
        Some(0),
        "A connection whose SASL authentication failed is closed this long after the failure is answered (Kafka's default; clients read the error before the close).",
    ),
    // ---- the HTTP listeners (issue 13) ----
    def(
        "http.authentication.method",
        Str,
        Some("NONE"),
        None,
        "NONE: the console, the Schema Registry and the HTTP proxy serve everyone as User:ANONYMOUS; BASIC: HTTP Basic authentication against the SCRAM users, and the console's and the proxy's Kafka calls run as that user (ACLs apply).",
    ),
    // ---- the HTTP proxy (issue 13) ----
    def(
        "consumer.instance.timeout.ms",
        Long,
        Some("300000"),
        Some(1),
        "The HTTP proxy removes a v2 consumer instance (leaving its group) after it is idle this long (Confluent REST Proxy's name and default).",
    ),
    // ---- authorization (issue 11, ACLs) ----
    def(
        "authorizer.class.name",
        Str,
        Some(""),
        None,
        "The authorizer; empty = none (every request allowed). \
         org.apache.kafka.metadata.authorizer.StandardAuthorizer, kafka.security.authorizer.AclAuthorizer \
         and skua.StandardAuthorizer all enable skua's ACL authorizer.",
    ),
    def(
        "super.users",
        Str,
        Some(""),
        None,
        "Principals allowed every operation whatever the ACLs, semicolon-separated (User:admin;User:broker).",
    ),
    def(
        "allow.everyone.if.no.acl.found",
        Boolean,
        Some("false"),
        None,
        "With an authorizer: allow a request on a resource that has no ACL at all.",
    ),
    // ---- client quotas and connection limits (issue 11) ----
    def(
        "quota.window.num",
        Int,
        Some("11"),
        Some(1),
        "The number of samples kept to measure client quota rates.",
    ),
    def(
        "quota.window.size.seconds",
        Int,
        Some("1"),
        Some(1),
        "The time span of each client quota rate sample.",
    ),
    def(
        "max.connections.per.ip",
        Int,
        Some("2147483647"),
        Some(0),
        "Most connections open at once from one IP address; further ones are closed at once.",
    ),
    def(
        "max.connections.per.ip.overrides",
        Str,
        Some(""),
        None,
        "Per-IP overrides of max.connections.per.ip: host:count,...",
    ),
    def(
        "max.connection.creation.rate",
        Int,
        Some("2147483647"),
        Some(0),
        "Most new connections accepted per second (broker-wide); above it accepting waits.",
    ),
];

/// Names from a stock Kafka server.properties that have no meaning here; accepted and ignored
/// so that such a file loads (documented in docs/configuration.md).
pub const IGNORED_BROKER_CONFIGS: &[&str] = &[
    "num.network.threads",
    "num.io.threads",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "num.recovery.threads.per.data.dir",
    "zookeeper.connect",
    "zookeeper.connection.timeout.ms",
    "controller.quorum.bootstrap.servers",
];

/// Topic configs, with the broker config each falls back to.
pub struct TopicConfigDef {
    pub name: &'static str,
    pub broker_synonym: Option<&'static str>,
    pub kind: ConfigType,
    pub default: Option<&'static str>,
    pub min: Option<i64>,
    pub doc: &'static str,
}

const fn tdef(
    name: &'static str,
    broker_synonym: Option<&'static str>,
    kind: ConfigType,
    default: Option<&'static str>,
    min: Option<i64>,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_synonym,
        kind,
        default,
        min,
        doc,
    }
}

pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    tdef(
        "cleanup.policy",
        Some("log.cleanup.policy"),
        List,
        None,
        None,
        "delete, compact, or both (comma-separated).",
    ),
    tdef(
        "compression.type",
        Some("compression.type"),
        Str,
        None,
        None,
        "uncompressed, gzip, snappy, lz4, zstd, or producer; the broker recompresses batches in another codec.",
    ),
    tdef(
        "compression.gzip.level",
        Some("compression.gzip.level"),
        Int,
        None,
        None,
        "gzip level of batches the broker compresses: -1 or 1-9.",
    ),
    tdef(
        "compression.lz4.level",
        Some("compression.lz4.level"),
        Int,
        None,
        None,
        "lz4 level of batches the broker compresses: 1-17.",
    ),
    tdef(
        "compression.zstd.level",
        Some("compression.zstd.level"),
        Int,
        None,
        None,
        "zstd level of batches the broker compresses: -131072 to 22.",
    ),
    tdef(
        "errors.deadletterqueue.group.enable",
        None,
        Boolean,
        Some("false"),
        None,
        "The topic may be a share group's dead-letter queue (KIP-1191): a group's \
         errors.deadletterqueue.topic.name must name a topic that opts in.",
    ),
    tdef(
        "file.delete.delay.ms",
        Some("log.segment.delete.delay.ms"),
        Long,
        Some("60000"),
        Some(0),
        "No-op in skua: deleted segments are removed at once.",
    ),
    tdef(
        "follower.replication.throttled.replicas",
        None,
        List,
        Some(""),
        None,
        "No-op in skua (no replication quotas): partition:broker pairs or *.",
    ),
    tdef(
        "leader.replication.throttled.replicas",
        None,
        List,
        Some(""),
        None,
        "No-op in skua (no replication quotas): partition:broker pairs or *.",
    ),
    tdef(
        "local.retention.bytes",
        Some("log.local.retention.bytes"),
        Long,
        Some("-2"),
        Some(-2),
        "No-op in skua (no tiered storage).",
    ),
    tdef(
        "local.retention.ms",
        Some("log.local.retention.ms"),
        Long,
        Some("-2"),
        Some(-2),
        "No-op in skua (no tiered storage).",
    ),
    tdef(
        "message.format.version",
        Some("log.message.format.version"),
        Str,
        Some("3.0-IV1"),
        None,
        "Deprecated, no-op: batches are always v2 (magic 2), as in Kafka 3.0+.",
    ),
    tdef(
        "message.timestamp.after.max.ms",
        Some("log.message.timestamp.after.max.ms"),
        Long,
        None,
        Some(0),
        "CreateTime records newer than the broker's clock by more than this are rejected.",
    ),
    tdef(
        "message.timestamp.before.max.ms",
        Some("log.message.timestamp.before.max.ms"),
        Long,
        None,
        Some(0),
        "CreateTime records older than the broker's clock by more than this are rejected.",
    ),
    tdef(
        "message.timestamp.difference.max.ms",
        Some("log.message.timestamp.difference.max.ms"),
        Long,
        None,
        Some(0),
        "Deprecated: before/after.max.ms when those are left at their default.",
    ),
    tdef(
        "preallocate",
        Some("log.preallocate"),
        Boolean,
        Some("false"),
        None,
        "No-op in skua: segment files grow as they are written.",
    ),
    tdef(
        "remote.log.copy.disable",
        None,
        Boolean,
        Some("false"),
        None,
        "No-op in skua (no tiered storage).",
    ),
    tdef(
        "remote.log.delete.on.disable",
        None,
        Boolean,
        Some("false"),
        None,
        "No-op in skua (no tiered storage).",
    ),
    tdef(
        "remote.storage.enable",
        None,
        Boolean,
        Some("false"),
        None,
        "Tiered storage: only false is accepted (skua has none).",
    ),
    tdef(
        "segment.jitter.ms",
        Some("log.roll.jitter.ms"),
        Long,
        Some("0"),
        Some(0),
        "No-op in skua: segments roll at segment.ms exactly.",
    ),
    tdef(
        "delete.retention.ms",
        Some("log.cleaner.delete.retention.ms"),
        Long,
        None,
        Some(0),
        "How long tombstones are kept after their segment was cleaned.",
    ),
    tdef(
        "flush.messages",
        Some("log.flush.interval.messages"),
        Long,
        None,
        Some(1),
        "fsync after this many records.",
    ),
    tdef(
        "flush.ms",
        Some("log.flush.interval.ms"),
        Long,
        Some("9223372036854775807"),
        Some(0),
        "fsync when unflushed data is this old.",
    ),
    tdef(
        "index.interval.bytes",
        Some("log.index.interval.bytes"),
        Int,
        None,
        Some(0),
        "Bytes between offset-index entries.",
    ),
    tdef(
        "max.message.bytes",
        Some("message.max.bytes"),
        Int,
        None,
        Some(0),
        "Largest record batch accepted.",
    ),
    tdef(
        "message.downconversion.enable",
        Some("log.message.downconversion.enable"),
        Boolean,
        Some("true"),
        None,
        "Down-convert batches for Fetch v0-3 consumers; false answers them UNSUPPORTED_VERSION.",
    ),
    tdef(
        "message.timestamp.type",
        Some("log.message.timestamp.type"),
        Str,
        None,
        None,
        "CreateTime or LogAppendTime.",
    ),
    tdef(
        "max.compaction.lag.ms",
        Some("log.cleaner.max.compaction.lag.ms"),
        Long,
        None,
        Some(1),
        "Clean a record at most this long after it was written, whatever the dirty ratio.",
    ),
    tdef(
        "min.cleanable.dirty.ratio",
        Some("log.cleaner.min.cleanable.ratio"),
        Double,
        None,
        None,
        "Dirty bytes / total bytes at which the partition is cleaned.",
    ),
    tdef(
        "min.compaction.lag.ms",
        Some("log.cleaner.min.compaction.lag.ms"),
        Long,
        None,
        Some(0),
        "Records stay uncompacted at least this long.",
    ),
    tdef(
        "min.insync.replicas",
        Some("min.insync.replicas"),
        Int,
        None,
        Some(1),
        "Replicas that must acknowledge acks=all.",
    ),
    tdef(
        "retention.bytes",
        Some("log.retention.bytes"),
        Long,
        None,
        Some(-1),
        "Maximum partition size before old segments are deleted.",
    ),
    tdef(
        "retention.ms",
        Some("log.retention.ms"),
        Long,
        None,
        Some(-1),
        "Time to keep a segment; -1 keeps forever.",
    ),
    tdef(
        "segment.bytes",
        Some("log.segment.bytes"),
        Int,
        None,
        Some(14),
        "Segment size at which to roll.",
    ),
    tdef(
        "segment.ms",
        Some("log.roll.ms"),
        Long,
        None,
        Some(1),
        "Segment age at which to roll.",
    ),
    tdef(
        "segment.index.bytes",
        Some("log.index.size.max.bytes"),
        Int,
        None,
        Some(4),
        "Maximum offset-index size of a segment.",
    ),
    tdef(
        "unclean.leader.election.enable",
        Some("unclean.leader.election.enable"),
        Boolean,
        Some("false"),
        None,
        "Elect an out-of-sync replica when no in-sync one is alive (may lose data).",
    ),
];

/// A configuration error: unknown name or invalid value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown configuration '{0}'")]
    Unknown(String),
    #[error("invalid value '{value}' for configuration '{name}': {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

fn invalid(name: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Check one value against its type, bound and allowed set.
fn check_value(
    name: &str,
    kind: ConfigType,
    min: Option<i64>,
    value: &str,
) -> Result<(), ConfigError> {
    let v = value.trim();
    match kind {
        Boolean => {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return Err(invalid(name, value, "expected true or false"));
            }
        }
        Int | Long => {
            let n: i64 = v
                .parse()
                .map_err(|_| invalid(name, value, "expected an integer"))?;
            if kind == Int && i32::try_from(n).is_err() {
                return Err(invalid(name, value, "out of the range of an int"));
            }
            if let Some(m) = min {
                if n < m {
                    return Err(invalid(name, value, format!("must be at least {m}")));
                }
            }
        }
        Double => {
            v.parse::<f64>()
                .map_err(|_| invalid(name, value, "expected a number"))?;
        }
        Str | List | Password => {}
    }
    match name {
        "log.message.timestamp.type" | "message.timestamp.type"
            if v != "CreateTime" && v != "LogAppendTime" =>
        {
            Err(invalid(name, value, "expected CreateTime or LogAppendTime"))
        }
        "http.authentication.method"
            if !v.eq_ignore_ascii_case("NONE") && !v.eq_ignore_ascii_case("BASIC") =>
        {
            Err(invalid(name, value, "expected NONE or BASIC"))
        }
        "compression.type" if compression_codec(v).is_none() => Err(invalid(
            name,
            value,
            "expected one of uncompressed, zstd, lz4, snappy, gzip, producer",
        )),
        "compression.gzip.level"
            if !v
                .parse::<i32>()
                .is_ok_and(|l| l == -1 || (1..=9).contains(&l)) =>
        {
            Err(invalid(name, value, "must be -1 or between 1 and 9"))
        }
        "compression.lz4.level" if !v.parse::<i32>().is_ok_and(|l| (1..=17).contains(&l)) => {
            Err(invalid(name, value, "must be between 1 and 17"))
        }
        "compression.zstd.level"
            if !v.parse::<i32>().is_ok_and(|l| (-131_072..=22).contains(&l)) =>
        {
            Err(invalid(name, value, "must be between -131072 and 22"))
        }
        "message.format.version" | "log.message.format.version" if !is_metadata_version(v) => Err(
            invalid(name, value, "not a Kafka version (e.g. 3.0-IV1, 2.8)"),
        ),
        "remote.storage.enable" if v.eq_ignore_ascii_case("true") => {
            Err(invalid(name, value, "tiered storage is not supported"))
        }
        "leader.replication.throttled.replicas" | "follower.replication.throttled.replicas"
            if !throttled_replicas_valid(v) =>
        {
            Err(invalid(
                name,
                value,
                "expected * or a list of partitionId:brokerId",
            ))
        }
        "log.cleanup.policy" | "cleanup.policy" if CleanupPolicy::parse(v).is_none() => Err(
            invalid(name, value, "expected delete, compact, or compact,delete"),
        ),
        "log.cleaner.min.cleanable.ratio" | "min.cleanable.dirty.ratio"
            if !v.parse::<f64>().is_ok_and(|r| (0.0..=1.0).contains(&r)) =>
        {
            Err(invalid(name, value, "must be between 0 and 1"))
        }
        // Kafka's between(...) validators of the share group settings.
        "group.share.delivery.count.limit"
        | "group.share.min.delivery.count.limit"
        | "group.share.max.delivery.count.limit"
            if !v.parse::<i32>().is_ok_and(|n| (2..=10).contains(&n)) =>
        {
            Err(invalid(name, value, "must be between 2 and 10"))
        }
        "group.share.partition.max.record.locks"
        | "group.share.min.partition.max.record.locks"
        | "group.share.max.partition.max.record.locks"
            if !v.parse::<i32>().is_ok_and(|n| (100..=10_000).contains(&n)) =>
        {
            Err(invalid(name, value, "must be between 100 and 10000"))
        }
        "group.share.max.size" if !v.parse::<i32>().is_ok_and(|n| (1..=1000).contains(&n)) => {
            Err(invalid(name, value, "must be between 1 and 1000"))
        }
        "listeners" | "advertised.listeners" => listeners::parse_listener_list(name, v).map(drop),
        _ => Ok(()),
    }
}

/// `compression.type` → `None` (keep the producer's codec) or `Some(codec)` as in a batch's
/// attributes; `Option::None` if the name is not a Kafka compression type.
pub fn compression_codec(v: &str) -> Option<Option<u8>> {
    match v.trim() {
        "producer" => Some(None),
        "uncompressed" => Some(Some(0)),
        "gzip" => Some(Some(1)),
        "snappy" => Some(Some(2)),
        "lz4" => Some(Some(3)),
        "zstd" => Some(Some(4)),
        _ => None,
    }
}

/// Kafka's MetadataVersionValidator, loosely: `major.minor[.patch][-IVn]` of a released
/// line (0.8 to 4.x) with 2 to 4 parts, as `message.format.version` takes.
fn is_metadata_version(v: &str) -> bool {
    let (ver, iv) = match v.split_once("-IV") {
        Some((ver, iv)) => (ver, Some(iv)),
        None => (v, None),
    };
    if iv.is_some_and(|iv| iv.is_empty() || !iv.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    // Kafka's own spellings include four-part 0.x versions such as 0.10.0.0.
    let parts: Vec<&str> = ver.split('.').collect();
    if !(2..=4).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    matches!(parts[0], "0" | "1" | "2" | "3" | "4")
}

/// Kafka's ThrottledReplicaListValidator: empty, `*`, or `partition:broker` pairs.
fn throttled_replicas_valid(v: &str) -> bool {
    let items: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    items == ["*"]
        || items.iter().all(|i| {
            i.split_once(':').is_some_and(|(p, b)| {
                p.trim().parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok()
            })
        })
}

/// `host:port` → (host, port).
pub fn parse_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port))
}

/// Parse Java properties text (`name=value` or `name: value`, `#`/`!` comments,
/// backslash line continuations).
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let idx = entry.find(['=', ':']);
        let (k, v) = match idx {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry.as_str(), ""),
        };
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// `process.roles` → (broker, controller).
fn parse_roles(value: &str) -> Result<(bool, bool), ConfigError> {
    let (mut broker, mut controller) = (false, false);
    for role in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        match role {
            "broker" => broker = true,
            "controller" => controller = true,
            _ => {
                return Err(invalid(
                    "process.roles",
                    value,
                    "expected broker, controller, or broker,controller",
                ))
            }
        }
    }
    if !broker && !controller {
        return Err(invalid("process.roles", value, "needs at least one role"));
    }
    Ok((broker, controller))
}

/// `controller.quorum.voters` (`1@host:port,2@host:port`) → node id → host:port.
pub fn parse_voters(value: &str) -> Result<BTreeMap<i32, String>, ConfigError> {
    let mut voters = BTreeMap::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = entry.split_once('@').and_then(|(id, addr)| {
            let id: i32 = id.trim().parse().ok().filter(|id| *id >= 0)?;
            parse_host_port(addr.trim())?;
            Some((id, addr.trim().to_string()))
        });
        let Some((id, addr)) = parsed else {
            return Err(invalid(
                "controller.quorum.voters",
                value,
                "expected id@host:port,id@host:port,...",
            ));
        };
        if voters.insert(id, addr).is_some() {
            return Err(invalid(
                "controller.quorum.voters",
                value,
                format!("node {id} is listed twice"),
            ));
        }
    }
    Ok(voters)
}

/// The controller listener and the voters. The controller listener comes from
/// `--controller-listen`, else from the entry of `listeners` named in
/// `controller.listener.names`, else from this node's own entry in the voters.
fn controller_settings(
    overrides: &BTreeMap<String, String>,
    src: &ConfigSources,
    node_id: i32,
    (is_broker, is_controller): (bool, bool),
) -> Result<(Option<String>, BTreeMap<i32, String>), ConfigError> {
    let voters = match overrides.get("controller.quorum.voters") {
        Some(v) => parse_voters(v)?,
        None => BTreeMap::new(),
    };
    let names: Vec<String> = overrides
        .get("controller.listener.names")
        .map_or("CONTROLLER", |s| s.as_str())
        .split(',')
        .map(|n| n.trim().to_ascii_uppercase())
        .collect();
    let from_listeners = overrides.get("listeners").and_then(|l| {
        l.split(',').find_map(|entry| {
            let (name, rest) = entry.trim().split_once("://")?;
            names
                .contains(&name.trim().to_ascii_uppercase())
                .then(|| rest.trim().to_string())
        })
    });
    let listen = match (&src.controller_listen, from_listeners) {
        (Some(l), _) => Some(l.clone()),
        (None, Some(l)) => Some(l),
        // A lone combined voter needs no network; a controller-only one serves brokers.
        (None, None) => voters
            .get(&node_id)
            .cloned()
            .filter(|_| voters.len() > 1 || !is_broker),
    };
    if let Some(l) = &listen {
        if parse_host_port(l).is_none() {
            return Err(invalid("--controller-listen", l, "expected HOST:PORT"));
        }
    }
    let voters_text = overrides
        .get("controller.quorum.voters")
        .map_or("", |s| s.as_str());
    // Kafka's rules (KafkaConfig): a controller is a voter, a broker-only node is not.
    if is_controller && !voters.is_empty() && !voters.contains_key(&node_id) {
        return Err(invalid(
            "controller.quorum.voters",
            voters_text,
            format!("this node ({node_id}) has the controller role but is not a voter"),
        ));
    }
    if is_controller && !is_broker && voters.is_empty() {
        return Err(invalid(
            "process.roles",
            "controller",
            format!(
                "a controller-only node needs controller.quorum.voters, with its own id ({node_id})"
            ),
        ));
    }
    if !is_controller && voters.is_empty() {
        return Err(invalid(
            "process.roles",
            "broker",
            "a broker-only node needs controller.quorum.voters",
        ));
    }
    if !is_controller && voters.contains_key(&node_id) {
        return Err(invalid(
            "controller.quorum.voters",
            voters_text,
            format!(
                "this node ({node_id}) is broker-only (process.roles=broker) but is listed as a voter"
            ),
        ));
    }
    if !is_controller && listen.is_none() {
        // The leader replicates the metadata log to a broker-only node (a raft learner) by
        // connecting to it: it needs an endpoint of its own.
        return Err(invalid(
            "--controller-listen",
            "",
            "a broker-only node needs a controller listener (--controller-listen HOST:PORT or a CONTROLLER:// entry in listeners): the metadata log is replicated to it there",
        ));
    }
    if (voters.len() > 1 || !is_broker) && is_controller && listen.is_none() {
        return Err(invalid(
            "--controller-listen",
            "",
            "a controller of a multi-node quorum (or a controller-only node) needs a controller listener",
        ));
    }
    Ok((listen, voters))
}

/// The broker's configuration, typed. Field names are Kafka's with units last.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The client listeners (`listeners`), each with its security protocol and settings.
    pub listeners: Vec<listeners::ListenerConfig>,
    /// The listener other brokers reach this one on; `listen_*` / `advertised_*` are its.
    pub inter_broker_listener_name: String,
    pub listen_host: String,
    pub listen_port: u16,
    pub advertised_host: String,
    pub advertised_port: u16,
    pub data_dir: PathBuf,
    pub node_id: i32,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub message_max_bytes: u32,
    pub log_segment_bytes: u64,
    pub log_roll_ms: i64,
    pub log_retention_ms: i64,
    pub log_retention_bytes: i64,
    pub log_retention_check_interval_ms: u64,
    pub log_index_interval_bytes: u32,
    pub log_index_size_max_bytes: u32,
    pub log_flush_interval_messages: i64,
    pub log_flush_interval_ms: i64,
    pub log_flush_scheduler_interval_ms: u64,
    pub log_message_timestamp_type: TimestampType,
    pub log_cleaner_enable: bool,
    pub log_cleaner_backoff_ms: u64,
    pub min_insync_replicas: i32,
    pub socket_request_max_bytes: usize,
    pub max_connections: usize,
    /// Client quota windows (`quota.window.num`, `quota.window.size.seconds`) and connection
    /// limits (`max.connections.per.ip[.overrides]`, `max.connection.creation.rate`).
    pub connection_limits: crate::security::connection_quota::ConnectionLimits,
    /// `log.max.open.files`; `None`: half the `nofile` limit.
    pub log_max_open_files: Option<usize>,
    /// Client telemetry bounds (`telemetry.max.bytes`, `client.metrics.*`).
    pub telemetry: crate::telemetry::Limits,
    /// `authorizer.class.name` set: the authorizer's settings (`super.users`,
    /// `allow.everyone.if.no.acl.found`); None = no authorizer.
    pub authorizer: Option<crate::security::authorizer::AuthorizerConfig>,
    pub queued_max_requests: usize,
    /// None = unlimited.
    pub queued_max_request_bytes: Option<usize>,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub group_initial_rebalance_delay_ms: i32,
    pub group_max_size: usize,
    /// group.consumer.* (KIP-848 consumer groups).
    pub group_consumer: crate::group::types::ConsumerGroupConfig,
    /// group.share.* (KIP-932 share groups) and errors.deadletterqueue.* (KIP-1191); checked
    /// with the group.consumer.* bounds by `group_configs::check_broker_group_bounds`.
    pub group_share: group_configs::ShareGroupBrokerConfig,
    pub offsets_retention_minutes: i64,
    pub offsets_retention_check_interval_ms: i64,
    pub offset_metadata_max_bytes: usize,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_segment_bytes: u64,
    pub transaction_state_log_num_partitions: i32,
    pub transaction_state_log_segment_bytes: u64,
    pub transaction_max_timeout_ms: i32,
    pub transactional_id_expiration_ms: i64,
    pub transaction_abort_timed_out_transaction_cleanup_interval_ms: i64,
    pub transaction_remove_expired_transaction_cleanup_interval_ms: i64,
    pub producer_id_expiration_ms: i64,
    pub producer_id_expiration_check_interval_ms: i64,
    pub transaction_partition_verification_enable: bool,
    pub fetch_max_bytes: usize,
    /// `max.incremental.fetch.session.cache.slots`: fetch sessions kept (KIP-227).
    pub max_incremental_fetch_session_cache_slots: usize,
    pub connections_max_idle_ms: i64,
    /// `connection.failed.authentication.delay.ms`.
    pub connection_failed_authentication_delay_ms: i64,
    /// `process.roles`: this node runs the broker.
    pub process_roles_broker: bool,
    /// `process.roles`: this node is a controller (a voter of the metadata quorum).
    pub process_roles_controller: bool,
    /// `controller.quorum.voters` (node id → host:port); just this node when unset.
    pub controller_quorum_voters: BTreeMap<i32, String>,
    /// Where the controller listener binds (`--controller-listen`, or the listener named by
    /// `controller.listener.names` in `listeners`); None = no network (a quorum of one).
    pub controller_listen: Option<String>,
    pub broker_rack: Option<String>,
    pub broker_heartbeat_interval_ms: i64,
    pub broker_session_timeout_ms: i64,
    pub replica_lag_time_max_ms: i64,
    pub replica_fetch_max_bytes: i32,
    pub replica_fetch_response_max_bytes: i32,
    pub replica_fetch_wait_max_ms: i32,
    pub replica_fetch_min_bytes: i32,
    pub replica_fetch_backoff_ms: i64,
    pub num_replica_fetchers: usize,
    pub replica_fsync_enable: bool,
    pub unclean_leader_election_enable: bool,
    pub offsets_topic_replication_factor: i16,
    pub transaction_state_log_replication_factor: i16,
    pub transaction_state_log_min_isr: i32,
    pub auto_leader_rebalance_enable: bool,
    pub leader_imbalance_check_interval_ms: i64,
    pub leader_imbalance_per_broker_percentage: i32,
    pub metadata_log_max_snapshot_interval_entries: u64,
    /// Every explicitly set name → value (for DescribeConfigs sources later).
    pub overrides: BTreeMap<String, String>,
}

/// Builder input: the CLI's view before typing.
#[derive(Debug, Default, Clone)]
pub struct ConfigSources {
    pub listen: Option<String>,
    pub advertise: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub sets: Vec<String>,
    /// `--node-id` (wins over node.id / broker.id).
    pub node_id: Option<i32>,
    /// `--controller-listen HOST:PORT`.
    pub controller_listen: Option<String>,
}

impl BrokerConfig {
    /// `process.roles=controller`: a voter of the metadata quorum that serves no Kafka client
    /// API and is never a broker.
    pub fn is_controller_only(&self) -> bool {
        self.process_roles_controller && !self.process_roles_broker
    }

    /// `process.roles=broker`: not a voter; follows the metadata log as a raft learner.
    pub fn is_broker_only(&self) -> bool {
        self.process_roles_broker && !self.process_roles_controller
    }

    /// A combined node that is the whole quorum (the plain `skua` single node).
    pub fn is_lone_node(&self) -> bool {
        self.process_roles_broker
            && self.process_roles_controller
            && self.controller_quorum_voters.len() <= 1
    }

    /// This node's advertised endpoint on the named listener (the inter-broker one when it
    /// has no such listener).
    pub fn advertised_on(&self, listener: &str) -> (String, u16) {
        self.listeners
            .iter()
            .find(|l| l.name == listener)
            .map(|l| (l.advertised_host.clone(), l.advertised_port))
            .unwrap_or_else(|| (self.advertised_host.clone(), self.advertised_port))
    }

    /// Defaults only (listen 127.0.0.1:9092, data in ./data).
    pub fn defaults() -> Result<BrokerConfig, ConfigError> {
        Self::from_sources(&ConfigSources::default())
    }

    /// Build from the CLI sources: defaults, then the file, then each `--set`.
    pub fn from_sources(src: &ConfigSources) -> Result<BrokerConfig, ConfigError> {
        let mut props: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = &src.config_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid("--config", &path.display().to_string(), e.to_string()))?;
            for (k, v) in parse_properties(&text) {
                props.insert(k, v);
            }
        }
        for s in &src.sets {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| invalid("--set", s, "expected NAME=VALUE"))?;
            props.insert(k.trim().to_string(), v.trim().to_string());
        }
        Self::from_props(props, src)
    }

    fn from_props(
        props: BTreeMap<String, String>,
        src: &ConfigSources,
    ) -> Result<BrokerConfig, ConfigError> {
        let mut overrides = BTreeMap::new();
        let mut security_settings = BTreeMap::new();
        for (k, v) in &props {
            if IGNORED_BROKER_CONFIGS.contains(&k.as_str()) {
                continue;
            }
            if listeners::is_listener_setting(k) || listeners::split_prefixed(k).is_some() {
                security_settings.insert(k.clone(), v.clone());
                continue;
            }
            let d = BROKER_CONFIGS
                .iter()
                .find(|d| d.name == k)
                .ok_or_else(|| ConfigError::Unknown(k.clone()))?;
            check_value(k, d.kind, d.min, v)?;
            overrides.insert(k.clone(), v.clone());
        }
        let get = |name: &str| -> Option<String> {
            overrides.get(name).cloned().or_else(|| {
                BROKER_CONFIGS
                    .iter()
                    .find(|d| d.name == name)
                    .and_then(|d| d.default.map(str::to_string))
            })
        };
        let num =
            |name: &str| -> i64 { get(name).and_then(|v| v.trim().parse().ok()).unwrap_or(0) };
        let boolean = |name: &str| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));

        let controller_names: Vec<String> = overrides
            .get("controller.listener.names")
            .map_or("CONTROLLER", |s| s.as_str())
            .split(',')
            .map(|n| n.trim().to_ascii_uppercase())
            .collect();
        let listen_value = match (overrides.get("listeners"), &src.listen) {
            (Some(l), _) => l.clone(),
            (None, Some(l)) => {
                parse_host_port(l).ok_or_else(|| invalid("--listen", l, "expected HOST:PORT"))?;
                l.clone()
            }
            (None, None) => "PLAINTEXT://127.0.0.1:9092".to_string(),
        };
        let advertise_value = match (overrides.get("advertised.listeners"), &src.advertise) {
            (Some(l), _) => Some(l.clone()),
            (None, Some(a)) => {
                parse_host_port(a)
                    .ok_or_else(|| invalid("--advertise", a, "expected HOST:PORT"))?;
                Some(a.clone())
            }
            (None, None) => None,
        };
        let (listeners, inter_broker_listener_name) =
            listeners::resolve(&listeners::ListenerSources {
                listeners: &listen_value,
                advertised: advertise_value.as_deref(),
                protocol_map: overrides
                    .get("listener.security.protocol.map")
                    .map(String::as_str),
                controller_names: &controller_names,
                inter_broker_listener_name: overrides
                    .get("inter.broker.listener.name")
                    .map(String::as_str),
                security_inter_broker_protocol: overrides
                    .get("security.inter.broker.protocol")
                    .map(String::as_str),
                settings: &security_settings,
            })?;
        let inter = listeners
            .iter()
            .find(|l| l.name == inter_broker_listener_name)
            .unwrap_or(&listeners[0]);
        let (listen_host, listen_port) = (inter.host.clone(), inter.port);
        let (advertised_host, advertised_port) =
            (inter.advertised_host.clone(), inter.advertised_port);
        let data_dir = overrides
            .get("log.dirs")
            .and_then(|d| d.split(',').next().map(|s| PathBuf::from(s.trim())))
            .or_else(|| overrides.get("log.dir").map(PathBuf::from))
            .or_else(|| src.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./data"));
        let node_id = if overrides.contains_key("node.id") || !overrides.contains_key("broker.id") {
            num("node.id")
        } else {
            num("broker.id")
        };
        let log_roll_ms = if overrides.contains_key("log.roll.ms") {
            num("log.roll.ms")
        } else {
            num("log.roll.hours") * 3_600_000
        };
        let log_retention_ms = if overrides.contains_key("log.retention.ms") {
            num("log.retention.ms")
        } else if overrides.contains_key("log.retention.minutes") {
            let m = num("log.retention.minutes");
            if m < 0 {
                -1
            } else {
                m * 60_000
            }
        } else {
            let h = num("log.retention.hours");
            if h < 0 {
                -1
            } else {
                h * 3_600_000
            }
        };
        let rf = num("default.replication.factor");
        if rf > i64::from(i16::MAX) {
            return Err(invalid(
                "default.replication.factor",
                &rf.to_string(),
                "out of the range of a short",
            ));
        }
        let node_id = src.node_id.map_or(node_id, i64::from);
        let roles = parse_roles(&get("process.roles").unwrap_or_default())?;
        let authorizer = match get("authorizer.class.name").unwrap_or_default().trim() {
            "" => None,
            class if crate::security::authorizer::AUTHORIZER_CLASS_NAMES.contains(&class) => {
                Some(crate::security::authorizer::AuthorizerConfig {
                    super_users: crate::security::authorizer::AuthorizerConfig::parse_super_users(
                        &get("super.users").unwrap_or_default(),
                    ),
                    allow_everyone_if_no_acl_found: boolean("allow.everyone.if.no.acl.found"),
                })
            }
            class => {
                return Err(invalid(
                    "authorizer.class.name",
                    class,
                    format!(
                        "unknown authorizer; use one of {}",
                        crate::security::authorizer::AUTHORIZER_CLASS_NAMES.join(", ")
                    ),
                ))
            }
        };
        let (controller_listen, controller_quorum_voters) =
            controller_settings(&overrides, src, node_id as i32, roles)?;
        // Brokers replicate from each other over the inter-broker listener with a client that
        // speaks PLAINTEXT only: in a cluster, a TLS or SASL inter-broker listener would leave
        // every follower unable to fetch. Refuse it at start-up rather than fail later.
        let inter_protocol = listeners
            .iter()
            .find(|l| l.name == inter_broker_listener_name)
            .map(|l| l.protocol);
        let in_cluster = controller_quorum_voters.len() > 1 || roles != (true, true);
        if in_cluster
            && inter_protocol.is_some_and(|p| p != crate::security::SecurityProtocol::Plaintext)
        {
            return Err(invalid(
                "inter.broker.listener.name",
                &inter_broker_listener_name,
                "brokers of a cluster talk to each other over PLAINTEXT only (TLS and SASL between \
                 brokers are not supported yet): name a PLAINTEXT listener, on a private network",
            ));
        }
        let tt = get("log.message.timestamp.type").unwrap_or_default();
        Ok(BrokerConfig {
            listeners,
            inter_broker_listener_name,
            authorizer,
            listen_host,
            listen_port,
            advertised_host,
            advertised_port,
            data_dir,
            node_id: node_id as i32,
            num_partitions: num("num.partitions") as i32,
            default_replication_factor: rf as i16,
            auto_create_topics_enable: boolean("auto.create.topics.enable"),
            delete_topic_enable: boolean("delete.topic.enable"),
            message_max_bytes: num("message.max.bytes") as u32,
            log_segment_bytes: num("log.segment.bytes") as u64,
            log_roll_ms,
            log_retention_ms,
            log_retention_bytes: num("log.retention.bytes"),
            log_retention_check_interval_ms: num("log.retention.check.interval.ms") as u64,
            log_index_interval_bytes: num("log.index.interval.bytes") as u32,
            log_index_size_max_bytes: num("log.index.size.max.bytes") as u32,
            log_flush_interval_messages: num("log.flush.interval.messages"),
            log_flush_interval_ms: if overrides.contains_key("log.flush.interval.ms") {
                num("log.flush.interval.ms")
            } else {
                i64::MAX
            },
            log_flush_scheduler_interval_ms: num("log.flush.scheduler.interval.ms") as u64,
            log_message_timestamp_type: if tt == "LogAppendTime" {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            log_cleaner_enable: boolean("log.cleaner.enable"),
            log_cleaner_backoff_ms: num("log.cleaner.backoff.ms") as u64,
            min_insync_replicas: num("min.insync.replicas") as i32,
            socket_request_max_bytes: num("socket.request.max.bytes") as usize,
            max_connections: num("max.connections") as usize,
            connection_limits: crate::security::connection_quota::ConnectionLimits {
                max_per_ip: num("max.connections.per.ip"),
                overrides: crate::security::connection_quota::parse_overrides(
                    &get("max.connections.per.ip.overrides").unwrap_or_default(),
                )
                .map_err(|e| {
                    invalid(
                        "max.connections.per.ip.overrides",
                        &get("max.connections.per.ip.overrides").unwrap_or_default(),
                        e,
                    )
                })?,
                max_creation_rate: num("max.connection.creation.rate"),
                window: crate::security::quota::WindowConfig {
                    samples: num("quota.window.num").max(1) as usize,
                    window_ms: num("quota.window.size.seconds").max(1) * 1000,
                },
            },
            log_max_open_files: get("log.max.open.files")
                .and_then(|v| v.trim().parse::<usize>().ok()),
            telemetry: crate::telemetry::Limits {
                telemetry_max_bytes: num("telemetry.max.bytes") as i32,
                max_instances: num("client.metrics.max.instances") as usize,
                exported_max_clients: num("client.metrics.exported.max.clients") as usize,
                exported_max_series: num("client.metrics.exported.max.series.per.client") as usize,
            },
            queued_max_requests: num("queued.max.requests") as usize,
            group_min_session_timeout_ms: num("group.min.session.timeout.ms") as i32,
            group_max_session_timeout_ms: num("group.max.session.timeout.ms") as i32,
            group_initial_rebalance_delay_ms: num("group.initial.rebalance.delay.ms") as i32,
            group_max_size: num("group.max.size") as usize,
            group_share: group_configs::ShareGroupBrokerConfig::from_values(&get)?,
            group_consumer: {
                use crate::group::consumer::assignor::assignor_name;
                use crate::group::types::{ConsumerGroupConfig, MigrationPolicy};
                let list = get("group.consumer.assignors").unwrap_or_default();
                let mut assignors = Vec::new();
                for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                    let name = assignor_name(entry).ok_or_else(|| {
                        invalid("group.consumer.assignors", entry, "unknown assignor")
                    })?;
                    if !assignors.iter().any(|a| a == name) {
                        assignors.push(name.to_string());
                    }
                }
                let policy = get("group.consumer.migration.policy").unwrap_or_default();
                ConsumerGroupConfig {
                    session_timeout_ms: num("group.consumer.session.timeout.ms") as i32,
                    min_session_timeout_ms: num("group.consumer.min.session.timeout.ms") as i32,
                    max_session_timeout_ms: num("group.consumer.max.session.timeout.ms") as i32,
                    heartbeat_interval_ms: num("group.consumer.heartbeat.interval.ms") as i32,
                    min_heartbeat_interval_ms: num("group.consumer.min.heartbeat.interval.ms")
                        as i32,
                    max_heartbeat_interval_ms: num("group.consumer.max.heartbeat.interval.ms")
                        as i32,
                    max_size: num("group.consumer.max.size") as usize,
                    assignors,
                    migration_policy: MigrationPolicy::parse(&policy).ok_or_else(|| {
                        invalid(
                            "group.consumer.migration.policy",
                            &policy,
                            "expected disabled, upgrade, downgrade or bidirectional",
                        )
                    })?,
                    overrides: Default::default(),
                }
            },
            offsets_retention_minutes: num("offsets.retention.minutes"),
            offsets_retention_check_interval_ms: num("offsets.retention.check.interval.ms"),
            offset_metadata_max_bytes: num("offset.metadata.max.bytes") as usize,
            offsets_topic_num_partitions: num("offsets.topic.num.partitions") as i32,
            offsets_topic_segment_bytes: num("offsets.topic.segment.bytes") as u64,
            transaction_state_log_num_partitions: num("transaction.state.log.num.partitions")
                as i32,
            transaction_state_log_segment_bytes: num("transaction.state.log.segment.bytes") as u64,
            transaction_max_timeout_ms: num("transaction.max.timeout.ms") as i32,
            transactional_id_expiration_ms: num("transactional.id.expiration.ms"),
            transaction_abort_timed_out_transaction_cleanup_interval_ms: num(
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            ),
            transaction_remove_expired_transaction_cleanup_interval_ms: num(
                "transaction.remove.expired.transaction.cleanup.interval.ms",
            ),
            producer_id_expiration_ms: num("producer.id.expiration.ms"),
            producer_id_expiration_check_interval_ms: num(
                "producer.id.expiration.check.interval.ms",
            ),
            transaction_partition_verification_enable: boolean(
                "transaction.partition.verification.enable",
            ),
            queued_max_request_bytes: match num("queued.max.request.bytes") {
                n if n < 0 => None,
                n => Some(n as usize),
            },
            fetch_max_bytes: num("fetch.max.bytes") as usize,
            max_incremental_fetch_session_cache_slots: num(
                "max.incremental.fetch.session.cache.slots",
            )
            .max(0) as usize,
            connections_max_idle_ms: num("connections.max.idle.ms"),
            connection_failed_authentication_delay_ms: num(
                "connection.failed.authentication.delay.ms",
            ),
            process_roles_broker: roles.0,
            process_roles_controller: roles.1,
            controller_quorum_voters,
            controller_listen,
            broker_rack: get("broker.rack").filter(|r| !r.is_empty()),
            broker_heartbeat_interval_ms: num("broker.heartbeat.interval.ms"),
            broker_session_timeout_ms: num("broker.session.timeout.ms"),
            replica_lag_time_max_ms: num("replica.lag.time.max.ms"),
            replica_fetch_max_bytes: num("replica.fetch.max.bytes") as i32,
            replica_fetch_response_max_bytes: num("replica.fetch.response.max.bytes") as i32,
            replica_fetch_wait_max_ms: num("replica.fetch.wait.max.ms") as i32,
            replica_fetch_min_bytes: num("replica.fetch.min.bytes") as i32,
            replica_fetch_backoff_ms: num("replica.fetch.backoff.ms"),
            num_replica_fetchers: num("num.replica.fetchers") as usize,
            replica_fsync_enable: boolean("replica.fsync.enable"),
            unclean_leader_election_enable: boolean("unclean.leader.election.enable"),
            offsets_topic_replication_factor: num("offsets.topic.replication.factor")
                .min(i64::from(i16::MAX)) as i16,
            transaction_state_log_replication_factor: num(
                "transaction.state.log.replication.factor",
            )
            .min(i64::from(i16::MAX)) as i16,
            transaction_state_log_min_isr: num("transaction.state.log.min.isr") as i32,
            auto_leader_rebalance_enable: boolean("auto.leader.rebalance.enable"),
            leader_imbalance_check_interval_ms: num("leader.imbalance.check.interval.seconds")
                .saturating_mul(1000),
            leader_imbalance_per_broker_percentage: num("leader.imbalance.per.broker.percentage")
                as i32,
            metadata_log_max_snapshot_interval_entries: num(
                "metadata.log.max.snapshot.interval.entries",
            ) as u64,
            overrides,
        })
    }

    /// The client telemetry bounds.
    pub fn telemetry_limits(&self) -> crate::telemetry::Limits {
        self.telemetry.clone()
    }

    /// A broker config's value: the configured one, else its default.
    pub fn broker_value(&self, name: &str) -> Option<String> {
        self.overrides
            .get(name)
            .cloned()
            .or_else(|| broker_config_def(name).and_then(|d| d.default.map(str::to_string)))
    }

    /// The broker-level value a topic config falls back to, as a string.
    pub fn topic_default(&self, def: &TopicConfigDef) -> Option<String> {
        match def.name {
            "segment.ms" => Some(self.log_roll_ms.to_string()),
            "retention.ms" => Some(self.log_retention_ms.to_string()),
            "flush.ms" => Some(self.log_flush_interval_ms.to_string()),
            _ => def
                .broker_synonym
                .and_then(|b| {
                    self.overrides.get(b).cloned().or_else(|| {
                        BROKER_CONFIGS
                            .iter()
                            .find(|d| d.name == b)
                            .and_then(|d| d.default.map(str::to_string))
                    })
                })
                .or_else(|| def.default.map(str::to_string)),
        }
    }

    /// The effective log config of a topic with the given overrides (already validated).
    pub fn log_config(&self, topic_overrides: &BTreeMap<String, String>) -> LogConfig {
        let value = |name: &str| -> Option<String> {
            topic_overrides.get(name).cloned().or_else(|| {
                TOPIC_CONFIGS
                    .iter()
                    .find(|d| d.name == name)
                    .and_then(|d| self.topic_default(d))
            })
        };
        let num = |name: &str, fallback: i64| -> i64 {
            value(name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(fallback)
        };
        LogConfig {
            segment_bytes: num("segment.bytes", 1 << 30) as u64,
            segment_ms: num("segment.ms", 604_800_000),
            index_interval_bytes: num("index.interval.bytes", 4096) as u32,
            segment_index_bytes: num("segment.index.bytes", 10 << 20) as u32,
            retention_ms: num("retention.ms", 604_800_000),
            retention_bytes: num("retention.bytes", -1),
            max_message_bytes: num("max.message.bytes", 1_048_588) as u32,
            flush_messages: num("flush.messages", i64::MAX),
            flush_ms: num("flush.ms", i64::MAX),
            cleanup_policy: value("cleanup.policy")
                .and_then(|v| CleanupPolicy::parse(&v))
                .unwrap_or_default(),
            min_cleanable_dirty_ratio: value("min.cleanable.dirty.ratio")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0.5),
            min_compaction_lag_ms: num("min.compaction.lag.ms", 0),
            max_compaction_lag_ms: num("max.compaction.lag.ms", i64::MAX),
            delete_retention_ms: num("delete.retention.ms", 86_400_000),
            timestamp_before_max_ms: match num("message.timestamp.before.max.ms", i64::MAX) {
                i64::MAX => num("message.timestamp.difference.max.ms", i64::MAX),
                v => v,
            },
            timestamp_after_max_ms: match num("message.timestamp.after.max.ms", i64::MAX) {
                i64::MAX => num("message.timestamp.difference.max.ms", i64::MAX),
                v => v,
            },
            compression: match value("compression.type")
                .and_then(|v| compression_codec(&v))
                .flatten()
            {
                None => crate::log::TopicCompression::Producer,
                Some(codec) => crate::log::TopicCompression::Codec {
                    codec,
                    level: match codec {
                        1 => num("compression.gzip.level", -1) as i32,
                        3 => num("compression.lz4.level", 9) as i32,
                        4 => num("compression.zstd.level", 3) as i32,
                        _ => 0,
                    },
                },
            },
            message_timestamp_type: if value("message.timestamp.type").as_deref()
                == Some("LogAppendTime")
            {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
        }
    }

    /// The group coordinator's settings.
    pub fn group_config(&self) -> crate::group::types::GroupConfig {
        crate::group::types::GroupConfig {
            min_session_timeout_ms: self.group_min_session_timeout_ms,
            max_session_timeout_ms: self.group_max_session_timeout_ms,
            initial_rebalance_delay_ms: self.group_initial_rebalance_delay_ms,
            max_size: self.group_max_size,
            offsets_retention_ms: self.offsets_retention_minutes * 60_000,
            offsets_retention_check_interval_ms: self.offsets_retention_check_interval_ms,
            offset_metadata_max_bytes: self.offset_metadata_max_bytes,
            offsets_topic_partitions: self.offsets_topic_num_partitions,
            consumer: self.group_consumer.clone(),
            share: crate::group::types::ShareGroupConfig {
                session_timeout_ms: self.group_share.session_timeout_ms,
                heartbeat_interval_ms: self.group_share.heartbeat_interval_ms,
                max_size: usize::try_from(self.group_share.max_size).unwrap_or(200),
                overrides: Default::default(),
            },
        }
    }

    /// The transaction coordinator's settings.
    pub fn txn_config(&self) -> crate::txn::types::TxnConfig {
        crate::txn::types::TxnConfig {
            transaction_max_timeout_ms: self.transaction_max_timeout_ms,
            transactional_id_expiration_ms: self.transactional_id_expiration_ms,
            abort_timed_out_transaction_cleanup_interval_ms: self
                .transaction_abort_timed_out_transaction_cleanup_interval_ms,
            remove_expired_transaction_cleanup_interval_ms: self
                .transaction_remove_expired_transaction_cleanup_interval_ms,
            transaction_state_partitions: self.transaction_state_log_num_partitions,
            offsets_topic_partitions: self.offsets_topic_num_partitions,
        }
    }

    /// The effective `min.insync.replicas` of a topic.
    pub fn min_insync_replicas(&self, topic_overrides: &BTreeMap<String, String>) -> i32 {
        topic_overrides
            .get("min.insync.replicas")
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.min_insync_replicas)
    }
}

/// Validate a topic config override (CreateTopics).
pub fn validate_topic_config(name: &str, value: Option<&str>) -> Result<(), ConfigError> {
    let d = TOPIC_CONFIGS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
    match value {
        None => Err(invalid(name, "null", "a value is required")),
        Some(v) => check_value(name, d.kind, d.min, v),
    }
}

/// Kafka's legal topic names: `[a-zA-Z0-9._-]{1,249}`, not `.` or `..`; Err is Kafka's
/// message (`cluster::validate_topic_name` wraps it in its TopicError).
pub fn legal_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > 249 {
        return Err(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!(
            "Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// The definition of a topic config, if it is one.
pub fn topic_config_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The definition of a broker config, if it is one.
pub fn broker_config_def(name: &str) -> Option<&'static ConfigDef> {
    BROKER_CONFIGS.iter().find(|d| d.name == name)
}

/// The broker names that set the same value as `name`, most specific first, as Kafka lists
/// them in DescribeConfigs synonyms (`log.retention.ms` ← `.minutes` ← `.hours`).
pub fn broker_config_synonyms(name: &str) -> &'static [&'static str] {
    const RETENTION: &[&str] = &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ];
    const ROLL: &[&str] = &["log.roll.ms", "log.roll.hours"];
    const FLUSH: &[&str] = &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"];
    match name {
        "log.retention.ms" | "log.retention.minutes" | "log.retention.hours" => {
            &RETENTION[RETENTION.iter().position(|n| *n == name).unwrap_or(0)..]
        }
        "log.roll.ms" | "log.roll.hours" => {
            &ROLL[ROLL.iter().position(|n| *n == name).unwrap_or(0)..]
        }
        "log.flush.interval.ms" => FLUSH,
        _ => match broker_config_def(name) {
            Some(d) => std::slice::from_ref(&d.name),
            None => &[],
        },
    }
}

/// Read a properties file into ordered pairs (topic metadata files use it too).
pub fn read_properties(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    Ok(parse_properties(&std::fs::read_to_string(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(s: &[&str]) -> ConfigSources {
        ConfigSources {
            sets: s.iter().map(|x| x.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_match_kafka() {
        let c = BrokerConfig::defaults().unwrap();
        assert_eq!((c.listen_host.as_str(), c.listen_port), ("127.0.0.1", 9092));
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.node_id, 1);
        assert_eq!(c.num_partitions, 1);
        assert!(c.auto_create_topics_enable);
        assert_eq!(c.message_max_bytes, 1_048_588);
        assert_eq!(c.log_segment_bytes, 1 << 30);
        assert_eq!(c.log_retention_ms, 168 * 3_600_000);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
        assert_eq!(
            (c.advertised_host.as_str(), c.advertised_port),
            ("127.0.0.1", 9092)
        );
    }

    #[test]
    fn set_overrides_and_synonyms() {
        let c = BrokerConfig::from_sources(&sets(&[
            "num.partitions=3",
            "auto.create.topics.enable=false",
            "log.retention.minutes=5",
            "broker.id=7",
        ]))
        .unwrap();
        assert_eq!(c.num_partitions, 3);
        assert!(!c.auto_create_topics_enable);
        assert_eq!(c.log_retention_ms, 300_000);
        assert_eq!(c.node_id, 7);
    }

    #[test]
    fn unknown_or_invalid_names_are_errors() {
        assert_eq!(
            BrokerConfig::from_sources(&sets(&["no.such.thing=1"])).unwrap_err(),
            ConfigError::Unknown("no.such.thing".into())
        );
        assert!(matches!(
            BrokerConfig::from_sources(&sets(&["num.partitions=zero"])).unwrap_err(),
            ConfigError::Invalid { .. }
        ));
        assert!(matches!(
            BrokerConfig::from_sources(&sets(&["num.partitions=0"])).unwrap_err(),
            ConfigError::Invalid { .. }
        ));
        assert!(BrokerConfig::from_sources(&sets(&["num.partitions"])).is_err());
    }

    #[test]
    fn properties_file_syntax() {
        let p = parse_properties("# c\n a = 1\nb:2\n! x\nc=multi\\\n  line\n\n");
        assert_eq!(
            p,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "multiline".into())
            ]
        );
    }

    #[test]
    fn cluster_settings_parse() {
        let c = BrokerConfig::defaults().unwrap();
        assert!(c.process_roles_broker && c.process_roles_controller);
        assert!(c.controller_quorum_voters.is_empty());
        assert_eq!(c.controller_listen, None);
        assert_eq!(c.broker_session_timeout_ms, 9000);
        assert_eq!(c.offsets_topic_replication_factor, 3);
        assert!(!c.unclean_leader_election_enable);
        let src = ConfigSources {
            sets: vec![
                "controller.quorum.voters=1@127.0.0.1:9093, 2@127.0.0.1:9193,3@[::1]:9293".into(),
                "default.replication.factor=3".into(),
            ],
            node_id: Some(2),
            controller_listen: Some("127.0.0.1:9193".into()),
            ..Default::default()
        };
        let c = BrokerConfig::from_sources(&src).unwrap();
        assert_eq!(c.node_id, 2);
        assert_eq!(c.default_replication_factor, 3);
        assert_eq!(c.controller_listen.as_deref(), Some("127.0.0.1:9193"));
        assert_eq!(
            c.controller_quorum_voters.get(&3).map(String::as_str),
            Some("[::1]:9293")
        );
        // The controller listener from `listeners`, Kafka's way.
        let c = BrokerConfig::from_sources(&sets(&[
            "listeners=CONTROLLER://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092",
            "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193",
        ]))
        .unwrap();
        assert_eq!(c.controller_listen.as_deref(), Some("127.0.0.1:9093"));
        assert_eq!((c.listen_host.as_str(), c.listen_port), ("127.0.0.1", 9092));
        for bad in [
            &["controller.quorum.voters=1@nowhere"][..],
            &["controller.quorum.voters=1@h:1,1@h:2"],
            &["controller.quorum.voters=2@h:1,3@h:2"],
            &["process.roles=observer"],
            &["process.roles=broker"],
        ] {
            assert!(BrokerConfig::from_sources(&sets(bad)).is_err(), "{bad:?}");
        }
    }

    fn roles_config(
        roles: &str,
        node_id: i32,
        listen: Option<&str>,
    ) -> Result<BrokerConfig, String> {
        BrokerConfig::from_sources(&ConfigSources {
            sets: vec![
                format!("process.roles={roles}"),
                "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293"
                    .into(),
            ],
            node_id: Some(node_id),
            controller_listen: listen.map(str::to_string),
            ..Default::default()
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn controller_only_node_must_be_a_voter() {
        let c = roles_config("controller", 2, None).unwrap();
        assert!(c.is_controller_only() && !c.is_broker_only() && !c.is_lone_node());
        // Its controller listener defaults to its own voters entry.
        assert_eq!(c.controller_listen.as_deref(), Some("127.0.0.1:9193"));
        let e = roles_config("controller", 4, Some("127.0.0.1:9393")).unwrap_err();
        assert!(e.contains("not a voter"), "{e}");
        // A lone controller-only node (no voters) would control nothing.
        let e = BrokerConfig::from_sources(&sets(&["process.roles=controller"])).unwrap_err();
        assert!(e.to_string().contains("controller-only"), "{e}");
        // One voter: still a network endpoint, brokers must reach it.
        let c = BrokerConfig::from_sources(&ConfigSources {
            sets: vec![
                "process.roles=controller".into(),
                "controller.quorum.voters=1@127.0.0.1:9093".into(),
            ],
            node_id: Some(1),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.controller_listen.as_deref(), Some("127.0.0.1:9093"));
    }

    #[test]
    fn a_cluster_needs_a_plaintext_inter_broker_listener() {
        let cluster = |listeners: &str, extra: &[&str]| {
            let mut sets = vec![
                "process.roles=broker,controller".to_string(),
                "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293"
                    .into(),
                format!("listeners={listeners}"),
                "ssl.keystore.location=/nonexistent.pem".into(),
            ];
            sets.extend(extra.iter().map(|s| s.to_string()));
            BrokerConfig::from_sources(&ConfigSources {
                sets,
                node_id: Some(1),
                ..Default::default()
            })
            .map_err(|e| e.to_string())
        };
        let e = cluster("SSL://127.0.0.1:9092", &[]).unwrap_err();
        assert!(
            e.contains("inter.broker.listener.name") && e.contains("PLAINTEXT"),
            "{e}"
        );
        let e = cluster(
            "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094",
            &["inter.broker.listener.name=SASL_SSL"],
        )
        .unwrap_err();
        assert!(e.contains("inter.broker.listener.name"), "{e}");
        // A PLAINTEXT inter-broker listener next to secure client listeners is fine.
        let c = cluster("PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9094", &[]).unwrap();
        assert_eq!(c.inter_broker_listener_name, "PLAINTEXT");
        // A lone node may have no PLAINTEXT listener at all.
        let c = BrokerConfig::from_sources(&ConfigSources {
            sets: vec!["listeners=SSL://127.0.0.1:9094".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.inter_broker_listener_name, "SSL");
    }

    #[test]
    fn broker_only_node_must_not_be_a_voter() {
        let c = roles_config("broker", 4, Some("127.0.0.1:9393")).unwrap();
        assert!(c.is_broker_only() && !c.is_controller_only() && !c.is_lone_node());
        assert_eq!(c.controller_quorum_voters.len(), 3);
        let e = roles_config("broker", 2, Some("127.0.0.1:9193")).unwrap_err();
        assert!(e.contains("broker-only") && e.contains("voter"), "{e}");
        // The raft learner endpoint is required.
        let e = roles_config("broker", 4, None).unwrap_err();
        assert!(e.contains("controller listener"), "{e}");
        // Without voters it would have no quorum to follow.
        let e = BrokerConfig::from_sources(&ConfigSources {
            sets: vec!["process.roles=broker".into()],
            controller_listen: Some("127.0.0.1:9393".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("controller.quorum.voters"), "{e}");
    }

    #[test]
    fn combined_node_must_be_a_voter() {
        let c = roles_config("broker,controller", 3, None).unwrap();
        assert!(!c.is_broker_only() && !c.is_controller_only() && !c.is_lone_node());
        let c = roles_config(" controller , broker ", 1, None).unwrap();
        assert!(c.process_roles_broker && c.process_roles_controller);
        let e = roles_config("broker,controller", 4, Some("127.0.0.1:9393")).unwrap_err();
        assert!(e.contains("not a voter"), "{e}");
        let e = roles_config("", 1, None).unwrap_err();
        assert!(e.contains("at least one role"), "{e}");
        // The plain single node is unchanged.
        assert!(BrokerConfig::defaults().unwrap().is_lone_node());
    }

    #[test]
    fn topic_overrides_fall_back_to_broker() {
        let c = BrokerConfig::from_sources(&sets(&["log.segment.bytes=2048"])).unwrap();
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "1000".to_string());
        let lc = c.log_config(&o);
        assert_eq!(lc.segment_bytes, 2048);
        assert_eq!(lc.retention_ms, 1000);
        assert_eq!(lc.max_message_bytes, 1_048_588);
        assert!(validate_topic_config("retention.ms", Some("x")).is_err());
        assert!(validate_topic_config("nope", Some("1")).is_err());
        assert!(validate_topic_config("retention.ms", Some("-1")).is_ok());
    }
}
