//! The configs of Kafka's GROUP config resource (resource type 32): per-group overrides of the
//! broker's group settings as Kafka's `GroupConfig` defines them — consumer groups (KIP-848),
//! share groups (KIP-932), the share-group dead-letter queue (KIP-1191) — and skua's share-group
//! extensions (`skua.share.*`, all off by default).
//!
//! - [`GROUP_CONFIGS`] is the table: name, type, static default, broker synonym, check.
//! - [`validate_group_configs`] checks a group's whole set of overrides as the controller is
//!   about to store it (Kafka's `GroupConfig.validate`): known names, a value of the config's
//!   type, bounded INTs within the broker's min/max configs ([`GroupConfigLimits`]), and each
//!   session timeout above its heartbeat interval (each side its override or the broker's
//!   value). The messages are Kafka's.
//! - [`group_config_value`] and [`ShareGroupSettings::effective`] give the value that applies:
//!   the group's override, else its broker synonym's value, else the static default. An
//!   override that does not parse (it came from the metadata log, which another version may
//!   have written) is skipped for the next source, never a panic.
//! - [`ShareGroupBrokerConfig`] is the broker side (`group.share.*`, `errors.deadletterqueue.*`),
//!   checked at start-up as Kafka checks it: min ≤ value ≤ max, heartbeat interval < session
//!   timeout (for the `group.consumer.*` triples as well, see [`check_broker_group_bounds`]).
//!
//! Pure functions over strings; no I/O, no clock.

use std::collections::BTreeMap;

pub use super::duration::parse_duration_ms;
use super::{broker_config_def, invalid, legal_topic_name, BrokerConfig, ConfigError, ConfigType};

pub const CONSUMER_SESSION_TIMEOUT_MS: &str = "consumer.session.timeout.ms";
pub const CONSUMER_HEARTBEAT_INTERVAL_MS: &str = "consumer.heartbeat.interval.ms";
pub const SHARE_SESSION_TIMEOUT_MS: &str = "share.session.timeout.ms";
pub const SHARE_HEARTBEAT_INTERVAL_MS: &str = "share.heartbeat.interval.ms";
pub const SHARE_RECORD_LOCK_DURATION_MS: &str = "share.record.lock.duration.ms";
pub const SHARE_DELIVERY_COUNT_LIMIT: &str = "share.delivery.count.limit";
pub const SHARE_PARTITION_MAX_RECORD_LOCKS: &str = "share.partition.max.record.locks";
pub const SHARE_AUTO_OFFSET_RESET: &str = "share.auto.offset.reset";
pub const SHARE_ISOLATION_LEVEL: &str = "share.isolation.level";
pub const DLQ_TOPIC_NAME: &str = "errors.deadletterqueue.topic.name";
pub const DLQ_COPY_RECORD_ENABLE: &str = "errors.deadletterqueue.copy.record.enable";
pub const SKUA_REDELIVERY_BACKOFF_MS: &str = "skua.share.redelivery.backoff.ms";
pub const SKUA_DELAYED_DELIVERY_ENABLE: &str = "skua.share.delayed.delivery.enable";
pub const SKUA_RECORD_FILTER: &str = "skua.share.record.filter";

/// The broker config of the dead-letter queue topic prefix (KIP-1191).
pub const DLQ_TOPIC_NAME_PREFIX: &str = "errors.deadletterqueue.topic.name.prefix";

/// Most entries of `skua.share.redelivery.backoff.ms`.
pub const MAX_REDELIVERY_BACKOFFS: usize = 32;
/// Largest entry of `skua.share.redelivery.backoff.ms`: one day.
pub const MAX_REDELIVERY_BACKOFF_MS: u64 = 86_400_000;
/// Most tags of `skua.share.record.filter`.
pub const MAX_RECORD_FILTER_TAGS: usize = 64;
/// Longest tag of `skua.share.record.filter`, in bytes.
pub const MAX_RECORD_FILTER_TAG_BYTES: usize = 255;

/// How a group config's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCheck {
    /// An INT within the broker's values of two configs (inclusive).
    Within {
        min_broker: &'static str,
        max_broker: &'static str,
    },
    /// `true` or `false`, in any case.
    Boolean,
    /// Exactly one of these strings.
    OneOf(&'static [&'static str]),
    /// [`parse_auto_offset_reset`].
    AutoOffsetReset,
    /// [`check_dlq_topic_name`] with the broker's prefix.
    DlqTopicName,
    /// [`parse_redelivery_backoff`].
    BackoffList,
    /// [`parse_tag_filter`].
    TagFilter,
}

/// One config of the GROUP resource.
#[derive(Debug)]
pub struct GroupConfigDef {
    pub name: &'static str,
    /// The type DescribeConfigs reports.
    pub kind: ConfigType,
    /// The static default as Kafka spells it; for a config with a broker synonym, that broker
    /// config's default.
    pub default: &'static str,
    /// The broker config whose value applies when the group has no override.
    pub broker_synonym: Option<&'static str>,
    pub check: GroupCheck,
    pub doc: &'static str,
}

const fn bounded(
    name: &'static str,
    default: &'static str,
    broker_synonym: &'static str,
    min_broker: &'static str,
    max_broker: &'static str,
    doc: &'static str,
) -> GroupConfigDef {
    GroupConfigDef {
        name,
        kind: ConfigType::Int,
        default,
        broker_synonym: Some(broker_synonym),
        check: GroupCheck::Within {
            min_broker,
            max_broker,
        },
        doc,
    }
}

const fn own(
    name: &'static str,
    kind: ConfigType,
    default: &'static str,
    check: GroupCheck,
    doc: &'static str,
) -> GroupConfigDef {
    GroupConfigDef {
        name,
        kind,
        default,
        broker_synonym: None,
        check,
        doc,
    }
}

/// Every GROUP config, in the order DescribeConfigs lists them.
pub const GROUP_CONFIGS: &[GroupConfigDef] = &[
    bounded(
        CONSUMER_SESSION_TIMEOUT_MS,
        "45000",
        "group.consumer.session.timeout.ms",
        "group.consumer.min.session.timeout.ms",
        "group.consumer.max.session.timeout.ms",
        "The timeout to detect client failures when using the consumer group protocol.",
    ),
    bounded(
        CONSUMER_HEARTBEAT_INTERVAL_MS,
        "5000",
        "group.consumer.heartbeat.interval.ms",
        "group.consumer.min.heartbeat.interval.ms",
        "group.consumer.max.heartbeat.interval.ms",
        "The heartbeat interval given to the members of a consumer group.",
    ),
    bounded(
        SHARE_SESSION_TIMEOUT_MS,
        "45000",
        "group.share.session.timeout.ms",
        "group.share.min.session.timeout.ms",
        "group.share.max.session.timeout.ms",
        "The timeout to detect client failures when using the share group protocol.",
    ),
    bounded(
        SHARE_HEARTBEAT_INTERVAL_MS,
        "5000",
        "group.share.heartbeat.interval.ms",
        "group.share.min.heartbeat.interval.ms",
        "group.share.max.heartbeat.interval.ms",
        "The heartbeat interval given to the members of a share group.",
    ),
    bounded(
        SHARE_RECORD_LOCK_DURATION_MS,
        "30000",
        "group.share.record.lock.duration.ms",
        "group.share.min.record.lock.duration.ms",
        "group.share.max.record.lock.duration.ms",
        "The record acquisition lock duration in milliseconds for share groups.",
    ),
    bounded(
        SHARE_DELIVERY_COUNT_LIMIT,
        "5",
        "group.share.delivery.count.limit",
        "group.share.min.delivery.count.limit",
        "group.share.max.delivery.count.limit",
        "The maximum number of delivery attempts for a record delivered to a share group.",
    ),
    bounded(
        SHARE_PARTITION_MAX_RECORD_LOCKS,
        "2000",
        "group.share.partition.max.record.locks",
        "group.share.min.partition.max.record.locks",
        "group.share.max.partition.max.record.locks",
        "Share-group record lock limit per share-partition.",
    ),
    own(
        SHARE_AUTO_OFFSET_RESET,
        ConfigType::Str,
        "latest",
        GroupCheck::AutoOffsetReset,
        "The strategy to initialize the share-partition start offset: earliest, latest, or \
         by_duration:<ISO-8601 duration> (the first offset of a record at or after now minus \
         the duration).",
    ),
    own(
        SHARE_ISOLATION_LEVEL,
        ConfigType::Str,
        "read_uncommitted",
        GroupCheck::OneOf(&["read_committed", "read_uncommitted"]),
        "Controls how to read records written transactionally: read_committed delivers only \
         committed transactional records, read_uncommitted delivers all records.",
    ),
    own(
        DLQ_TOPIC_NAME,
        ConfigType::Str,
        "",
        GroupCheck::DlqTopicName,
        "The dead-letter queue topic of the share group: records archived after their last \
         delivery attempt or rejected are written to it; empty: no dead-letter queue. It must \
         start with the broker's errors.deadletterqueue.topic.name.prefix and not with '__'.",
    ),
    own(
        DLQ_COPY_RECORD_ENABLE,
        ConfigType::Boolean,
        "false",
        GroupCheck::Boolean,
        "Copy the original record's key, value and headers into the dead-letter record \
         (false: the dead-letter record carries only the headers that describe the failure).",
    ),
    own(
        SKUA_REDELIVERY_BACKOFF_MS,
        ConfigType::List,
        "",
        GroupCheck::BackoffList,
        "skua extension: how long a record released back to the share group waits before it \
         can be delivered again, in ms, by delivery attempt (the last entry repeats); at most \
         32 entries, each at most 86400000. Empty (the default): at once, as in Kafka.",
    ),
    own(
        SKUA_DELAYED_DELIVERY_ENABLE,
        ConfigType::Boolean,
        "false",
        GroupCheck::Boolean,
        "skua extension: delayed delivery for the share group (a record becomes deliverable \
         only at its delivery time). false (the default): records are deliverable at once, as \
         in Kafka.",
    ),
    own(
        SKUA_RECORD_FILTER,
        ConfigType::Str,
        "",
        GroupCheck::TagFilter,
        "skua extension: a tag expression, * or tags joined by || (TagA || TagB): the share \
         group is delivered only the records carrying one of the tags. Empty (the default) or \
         *: every record, as in Kafka.",
    ),
];

/// The definition of a GROUP config, if it is one.
pub fn group_config_def(name: &str) -> Option<&'static GroupConfigDef> {
    GROUP_CONFIGS.iter().find(|d| d.name == name)
}

/// What validating GROUP overrides needs from the broker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfigLimits {
    /// Each group config with a broker synonym → the broker's value of it (what a group
    /// without an override gets).
    pub broker_values: BTreeMap<&'static str, String>,
    /// Each bounded group config → its inclusive (min, max): the broker's values of its
    /// `min_broker` / `max_broker` configs.
    pub bounds: BTreeMap<&'static str, (i64, i64)>,
    /// `errors.deadletterqueue.topic.name.prefix` ("" = no rule).
    pub dlq_topic_name_prefix: String,
}

impl GroupConfigLimits {
    /// The limits of a broker's configuration.
    pub fn of(config: &BrokerConfig) -> GroupConfigLimits {
        GroupConfigLimits::from_lookup(|name| config.broker_value(name))
    }

    fn from_lookup(value: impl Fn(&str) -> Option<String>) -> GroupConfigLimits {
        let int = |name: &str| value(name).and_then(|v| v.trim().parse::<i64>().ok());
        let mut broker_values = BTreeMap::new();
        let mut bounds = BTreeMap::new();
        for d in GROUP_CONFIGS {
            if let Some(v) = d.broker_synonym.and_then(&value) {
                broker_values.insert(d.name, v);
            }
            if let GroupCheck::Within {
                min_broker,
                max_broker,
            } = d.check
            {
                // Both are INT broker configs checked at start-up; a missing one leaves that
                // side open rather than refusing every value.
                let min = int(min_broker).unwrap_or(i64::MIN);
                let max = int(max_broker).unwrap_or(i64::MAX);
                bounds.insert(d.name, (min, max));
            }
        }
        GroupConfigLimits {
            broker_values,
            bounds,
            dlq_topic_name_prefix: value(DLQ_TOPIC_NAME_PREFIX).unwrap_or_default(),
        }
    }
}

impl Default for GroupConfigLimits {
    /// Kafka's defaults (a broker with no group setting configured).
    fn default() -> GroupConfigLimits {
        GroupConfigLimits::from_lookup(static_broker_default)
    }
}

fn static_broker_default(name: &str) -> Option<String> {
    broker_config_def(name).and_then(|d| d.default.map(str::to_string))
}

/// The (session timeout, heartbeat interval) pairs: the session must be the longer.
const SESSION_HEARTBEAT_PAIRS: [(&str, &str); 2] = [
    (CONSUMER_SESSION_TIMEOUT_MS, CONSUMER_HEARTBEAT_INTERVAL_MS),
    (SHARE_SESSION_TIMEOUT_MS, SHARE_HEARTBEAT_INTERVAL_MS),
];

/// Check a GROUP resource's whole set of overrides (after a change), as Kafka's
/// `GroupConfig.validate`: each one, then each session timeout against its heartbeat interval
/// (an override, else the broker's value). Err is the message of INVALID_CONFIG.
pub fn validate_group_configs(
    configs: &BTreeMap<String, String>,
    limits: &GroupConfigLimits,
) -> Result<(), String> {
    for (name, value) in configs {
        validate_group_config(name, value, limits)?;
    }
    let effective = |name: &str| {
        configs
            .get(name)
            .or_else(|| limits.broker_values.get(name))
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    for (session, heartbeat) in SESSION_HEARTBEAT_PAIRS {
        if let (Some(s), Some(h)) = (effective(session), effective(heartbeat)) {
            if s <= h {
                return Err(format!("{session} must be greater than {heartbeat}"));
            }
        }
    }
    Ok(())
}

/// Check one GROUP config override. Err is the message of INVALID_CONFIG, Kafka's where Kafka
/// has one ("Invalid value V for configuration N: reason" for a value of the wrong form).
pub fn validate_group_config(
    name: &str,
    value: &str,
    limits: &GroupConfigLimits,
) -> Result<(), String> {
    let Some(def) = group_config_def(name) else {
        return Err(format!("Unknown group config name: {name}"));
    };
    // Kafka's ConfigDef trims every value before parsing it.
    let v = value.trim();
    let bad = |reason: String| format!("Invalid value {value} for configuration {name}: {reason}");
    match def.check {
        GroupCheck::Within {
            min_broker,
            max_broker,
        } => {
            let Ok(n) = v.parse::<i32>() else {
                return Err(bad("Not a number of type INT".to_string()));
            };
            let (min, max) = limits
                .bounds
                .get(name)
                .copied()
                .unwrap_or((i64::MIN, i64::MAX));
            if i64::from(n) < min {
                return Err(format!(
                    "{name} must be greater than or equal to {min_broker}"
                ));
            }
            if i64::from(n) > max {
                return Err(format!("{name} must be less than or equal to {max_broker}"));
            }
            Ok(())
        }
        GroupCheck::Boolean => parse_bool(v)
            .map(drop)
            .ok_or_else(|| bad("Expected value to be either true or false".to_string())),
        GroupCheck::OneOf(allowed) => {
            if allowed.contains(&v) {
                Ok(())
            } else {
                Err(bad(format!(
                    "String must be one of: {}",
                    allowed.join(", ")
                )))
            }
        }
        GroupCheck::AutoOffsetReset => parse_auto_offset_reset(v).map(drop).map_err(bad),
        GroupCheck::DlqTopicName => check_dlq_topic_name(v, &limits.dlq_topic_name_prefix)
            .map(drop)
            .map_err(bad),
        GroupCheck::BackoffList => parse_redelivery_backoff(v).map(drop).map_err(bad),
        GroupCheck::TagFilter => parse_tag_filter(v).map(drop).map_err(bad),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.trim().eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.trim().eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `share.auto.offset.reset`: where a share-partition without state starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOffsetReset {
    /// The log start offset.
    Earliest,
    /// The log end offset (Kafka's default).
    Latest,
    /// The first record with a timestamp at or after now minus this many ms.
    ByDuration(u64),
}

/// Parse `share.auto.offset.reset`: `earliest`, `latest` or `by_duration:<duration>` with a
/// duration in Java's `Duration.parse` form (ISO-8601 `PnDTnHnMn.nS`: `PT1H`, `P1DT2H30M`,
/// `PT0.5S`); a negative duration is refused, as Kafka refuses it. Case-sensitive like Kafka's
/// validator, except for the duration's letters (`Duration.parse` ignores their case).
pub fn parse_auto_offset_reset(value: &str) -> Result<AutoOffsetReset, String> {
    match value.trim() {
        "earliest" => Ok(AutoOffsetReset::Earliest),
        "latest" => Ok(AutoOffsetReset::Latest),
        v => match v.strip_prefix("by_duration:") {
            Some(d) => parse_duration_ms(d)
                .map(AutoOffsetReset::ByDuration)
                .map_err(|e| format!("by_duration: {e}")),
            None => Err(
                "The value must be either 'earliest', 'latest' or of the format \
                 'by_duration:<PnDTnHnMn.nS.>'."
                    .to_string(),
            ),
        },
    }
}

/// Check `errors.deadletterqueue.topic.name` (KIP-1191): empty is no dead-letter queue;
/// otherwise not an internal topic (`__`), starting with the broker's
/// `errors.deadletterqueue.topic.name.prefix` unless that is empty, and a legal topic name.
/// Ok(None) for no dead-letter queue, Ok(Some(name)) for its topic.
pub fn check_dlq_topic_name(name: &str, prefix: &str) -> Result<Option<String>, String> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.starts_with("__") {
        return Err(
            "a dead-letter queue topic name cannot start with '__' (internal topics)".to_string(),
        );
    }
    if !prefix.is_empty() && !name.starts_with(prefix) {
        return Err(format!(
            "a dead-letter queue topic name must start with '{prefix}' (the broker's \
             {DLQ_TOPIC_NAME_PREFIX})"
        ));
    }
    legal_topic_name(name)?;
    Ok(Some(name.to_string()))
}

/// Parse `skua.share.redelivery.backoff.ms`: comma-separated non-negative integers (ms), at
/// most [`MAX_REDELIVERY_BACKOFFS`] of them, each at most [`MAX_REDELIVERY_BACKOFF_MS`]; empty
/// (or blank) is no backoff.
pub fn parse_redelivery_backoff(value: &str) -> Result<Vec<u64>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<&str> = value.split(',').map(str::trim).collect();
    if entries.len() > MAX_REDELIVERY_BACKOFFS {
        return Err(format!(
            "at most {MAX_REDELIVERY_BACKOFFS} backoffs, not {}",
            entries.len()
        ));
    }
    entries
        .into_iter()
        .map(|e| {
            let ms = e
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| e.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| {
                    format!("'{e}' is not a non-negative integer number of milliseconds")
                })?;
            if ms > MAX_REDELIVERY_BACKOFF_MS {
                return Err(format!(
                    "a backoff of {ms} ms is above the maximum of {MAX_REDELIVERY_BACKOFF_MS} (one day)"
                ));
            }
            Ok(ms)
        })
        .collect()
}

/// Parse `skua.share.record.filter`, a tag expression: empty or `*` is no filter (Ok(None));
/// otherwise tags joined by `||` (`TagA || TagB`, spaces around `||` optional), each non-empty
/// and without whitespace or `|`, at most [`MAX_RECORD_FILTER_TAGS`] distinct ones of at most
/// [`MAX_RECORD_FILTER_TAG_BYTES`] each; `*` cannot be one of several. Ok(Some(tags)) in
/// order, duplicates dropped.
pub fn parse_tag_filter(expr: &str) -> Result<Option<Vec<String>>, String> {
    let expr = expr.trim();
    if expr.is_empty() || expr == "*" {
        return Ok(None);
    }
    let mut tags: Vec<String> = Vec::new();
    for part in expr.split("||") {
        let tag = part.trim();
        if tag.is_empty() {
            return Err(format!(
                "'{expr}' has an empty tag (tags are joined by ||, e.g. TagA || TagB)"
            ));
        }
        if tag == "*" {
            return Err(format!(
                "'{expr}': * matches every record and cannot be combined with tags"
            ));
        }
        if tag.chars().any(|c| c.is_whitespace() || c == '|') {
            return Err(format!(
                "tag '{tag}' contains whitespace or '|' (tags are joined by ||, e.g. TagA || TagB)"
            ));
        }
        if tag.len() > MAX_RECORD_FILTER_TAG_BYTES {
            return Err(format!(
                "a tag is at most {MAX_RECORD_FILTER_TAG_BYTES} bytes long, not {}",
                tag.len()
            ));
        }
        if !tags.iter().any(|t| t == tag) {
            if tags.len() == MAX_RECORD_FILTER_TAGS {
                return Err(format!("at most {MAX_RECORD_FILTER_TAGS} tags"));
            }
            tags.push(tag.to_string());
        }
    }
    Ok(Some(tags))
}

/// The value of a GROUP config that applies to a group: its override, else the broker
/// synonym's value, else the static default. None if `name` is not a GROUP config. The value
/// is returned as stored (an override is the controller-validated text).
pub fn group_config_value(
    broker_config: &BrokerConfig,
    overrides: Option<&BTreeMap<String, String>>,
    name: &str,
) -> Option<String> {
    let def = group_config_def(name)?;
    overrides
        .and_then(|o| o.get(name).cloned())
        .or_else(|| {
            def.broker_synonym
                .and_then(|b| broker_config.broker_value(b))
        })
        .or_else(|| Some(def.default.to_string()))
}

/// A share group's settings, typed: each from its GROUP config (override, else broker value,
/// else default; a source whose value does not parse is skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupSettings {
    /// `share.session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `share.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: i32,
    /// `share.record.lock.duration.ms`.
    pub record_lock_duration_ms: i32,
    /// `share.delivery.count.limit`.
    pub delivery_count_limit: i32,
    /// `share.partition.max.record.locks`.
    pub partition_max_record_locks: i32,
    /// `share.auto.offset.reset`.
    pub auto_offset_reset: AutoOffsetReset,
    /// `share.isolation.level` is `read_committed`.
    pub read_committed: bool,
    /// `errors.deadletterqueue.topic.name`; None: no dead-letter queue.
    pub dlq_topic: Option<String>,
    /// `errors.deadletterqueue.copy.record.enable`.
    pub dlq_copy_record: bool,
    /// `skua.share.redelivery.backoff.ms`; empty: none.
    pub redelivery_backoff_ms: Vec<u64>,
    /// `skua.share.delayed.delivery.enable`.
    pub delayed_delivery: bool,
    /// `skua.share.record.filter`; None: every record.
    pub record_filter: Option<Vec<String>>,
}

impl ShareGroupSettings {
    /// The settings of a share group with these GROUP overrides (None: none) on a broker
    /// with this configuration.
    pub fn effective(
        broker_config: &BrokerConfig,
        overrides: Option<&BTreeMap<String, String>>,
    ) -> ShareGroupSettings {
        ShareGroupSettings::resolve(overrides, |name| broker_config.broker_value(name))
    }

    fn resolve(
        overrides: Option<&BTreeMap<String, String>>,
        broker_value: impl Fn(&str) -> Option<String>,
    ) -> ShareGroupSettings {
        let pick = |name: &'static str| Source {
            name,
            overrides,
            broker_value: &broker_value,
        };
        let int = |name: &'static str| pick(name).first(|v| v.trim().parse::<i32>().ok());
        let boolean = |name: &'static str| pick(name).first(parse_bool).unwrap_or(false);
        ShareGroupSettings {
            session_timeout_ms: int(SHARE_SESSION_TIMEOUT_MS).unwrap_or(45_000),
            heartbeat_interval_ms: int(SHARE_HEARTBEAT_INTERVAL_MS).unwrap_or(5_000),
            record_lock_duration_ms: int(SHARE_RECORD_LOCK_DURATION_MS).unwrap_or(30_000),
            delivery_count_limit: int(SHARE_DELIVERY_COUNT_LIMIT).unwrap_or(5),
            partition_max_record_locks: int(SHARE_PARTITION_MAX_RECORD_LOCKS).unwrap_or(2_000),
            auto_offset_reset: pick(SHARE_AUTO_OFFSET_RESET)
                .first(|v| parse_auto_offset_reset(v).ok())
                .unwrap_or(AutoOffsetReset::Latest),
            read_committed: pick(SHARE_ISOLATION_LEVEL)
                .first(|v| match v.trim() {
                    "read_committed" => Some(true),
                    "read_uncommitted" => Some(false),
                    _ => None,
                })
                .unwrap_or(false),
            // Parsed without the prefix rule: the broker's prefix applies when the name is set.
            dlq_topic: pick(DLQ_TOPIC_NAME)
                .first(|v| check_dlq_topic_name(v, "").ok())
                .flatten(),
            dlq_copy_record: boolean(DLQ_COPY_RECORD_ENABLE),
            redelivery_backoff_ms: pick(SKUA_REDELIVERY_BACKOFF_MS)
                .first(|v| parse_redelivery_backoff(v).ok())
                .unwrap_or_default(),
            delayed_delivery: boolean(SKUA_DELAYED_DELIVERY_ENABLE),
            record_filter: pick(SKUA_RECORD_FILTER)
                .first(|v| parse_tag_filter(v).ok())
                .flatten(),
        }
    }
}

impl Default for ShareGroupSettings {
    /// Kafka's defaults (and skua's extensions off): a group without overrides on a broker
    /// with no group setting configured.
    fn default() -> ShareGroupSettings {
        ShareGroupSettings::resolve(None, static_broker_default)
    }
}

/// The sources of one group config's value, most specific first.
struct Source<'a, F> {
    name: &'a str,
    overrides: Option<&'a BTreeMap<String, String>>,
    broker_value: &'a F,
}

impl<F: Fn(&str) -> Option<String>> Source<'_, F> {
    /// The first source whose value `parse` accepts: the override, the broker synonym's
    /// value, the static default.
    fn first<T>(&self, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let def = group_config_def(self.name)?;
        self.overrides
            .and_then(|o| o.get(self.name))
            .and_then(|v| parse(v))
            .or_else(|| {
                def.broker_synonym
                    .and_then(|b| (self.broker_value)(b))
                    .and_then(|v| parse(&v))
            })
            .or_else(|| parse(def.default))
    }
}

/// The broker's share-group settings (`group.share.*`) and the dead-letter queue's
/// (`errors.deadletterqueue.*`), Kafka's names with units last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupBrokerConfig {
    pub session_timeout_ms: i32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub heartbeat_interval_ms: i32,
    pub min_heartbeat_interval_ms: i32,
    pub max_heartbeat_interval_ms: i32,
    pub record_lock_duration_ms: i32,
    pub min_record_lock_duration_ms: i32,
    pub max_record_lock_duration_ms: i32,
    pub delivery_count_limit: i32,
    pub min_delivery_count_limit: i32,
    pub max_delivery_count_limit: i32,
    pub partition_max_record_locks: i32,
    pub min_partition_max_record_locks: i32,
    pub max_partition_max_record_locks: i32,
    /// `group.share.max.size`: members of one share group.
    pub max_size: i32,
    /// `group.share.max.share.sessions`: share sessions kept by the broker.
    pub max_share_sessions: i32,
    /// `errors.deadletterqueue.topic.name.prefix` ("" = any name).
    pub dlq_topic_name_prefix: String,
    /// `errors.deadletterqueue.auto.create.topics.enable`.
    pub dlq_auto_create_topics_enable: bool,
}

impl ShareGroupBrokerConfig {
    /// From the broker's values (`get`: configured, else default; each already checked
    /// against its type and lower bound), after [`check_broker_group_bounds`].
    pub(super) fn from_values(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ShareGroupBrokerConfig, ConfigError> {
        check_broker_group_bounds(get)?;
        let int = |name: &str| {
            get(name)
                .and_then(|v| v.trim().parse::<i32>().ok())
                .ok_or_else(|| invalid(name, "", "expected an int"))
        };
        Ok(ShareGroupBrokerConfig {
            session_timeout_ms: int("group.share.session.timeout.ms")?,
            min_session_timeout_ms: int("group.share.min.session.timeout.ms")?,
            max_session_timeout_ms: int("group.share.max.session.timeout.ms")?,
            heartbeat_interval_ms: int("group.share.heartbeat.interval.ms")?,
            min_heartbeat_interval_ms: int("group.share.min.heartbeat.interval.ms")?,
            max_heartbeat_interval_ms: int("group.share.max.heartbeat.interval.ms")?,
            record_lock_duration_ms: int("group.share.record.lock.duration.ms")?,
            min_record_lock_duration_ms: int("group.share.min.record.lock.duration.ms")?,
            max_record_lock_duration_ms: int("group.share.max.record.lock.duration.ms")?,
            delivery_count_limit: int("group.share.delivery.count.limit")?,
            min_delivery_count_limit: int("group.share.min.delivery.count.limit")?,
            max_delivery_count_limit: int("group.share.max.delivery.count.limit")?,
            partition_max_record_locks: int("group.share.partition.max.record.locks")?,
            min_partition_max_record_locks: int("group.share.min.partition.max.record.locks")?,
            max_partition_max_record_locks: int("group.share.max.partition.max.record.locks")?,
            max_size: int("group.share.max.size")?,
            max_share_sessions: int("group.share.max.share.sessions")?,
            dlq_topic_name_prefix: get(DLQ_TOPIC_NAME_PREFIX).unwrap_or_default(),
            dlq_auto_create_topics_enable: get("errors.deadletterqueue.auto.create.topics.enable")
                .and_then(|v| parse_bool(&v))
                .unwrap_or(false),
        })
    }
}

/// Kafka's start-up checks of the broker's group settings: each bounded GROUP config's broker
/// synonym within its min and max (so min ≤ max), and each heartbeat interval below its
/// session timeout (`group.consumer.*` and `group.share.*`).
pub(super) fn check_broker_group_bounds(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let int = |name: &str| get(name).and_then(|v| v.trim().parse::<i64>().ok());
    for d in GROUP_CONFIGS {
        let (
            GroupCheck::Within {
                min_broker,
                max_broker,
            },
            Some(name),
        ) = (d.check, d.broker_synonym)
        else {
            continue;
        };
        if let (Some(v), Some(lo), Some(hi)) = (int(name), int(min_broker), int(max_broker)) {
            if v < lo || v > hi {
                return Err(invalid(
                    name,
                    &v.to_string(),
                    format!("must be between {min_broker} ({lo}) and {max_broker} ({hi})"),
                ));
            }
        }
    }
    for (session, heartbeat) in SESSION_HEARTBEAT_PAIRS {
        let broker_name =
            |group_name: &str| group_config_def(group_name).and_then(|d| d.broker_synonym);
        let (Some(s_name), Some(h_name)) = (broker_name(session), broker_name(heartbeat)) else {
            continue;
        };
        if let (Some(s), Some(h)) = (int(s_name), int(h_name)) {
            if h >= s {
                return Err(invalid(
                    h_name,
                    &h.to_string(),
                    format!("must be less than {s_name} ({s})"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "group_configs_tests.rs"]
mod tests;
