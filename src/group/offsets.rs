//! Committed offsets: the in-memory store (applied only through record replay), and
//! OffsetCommit, OffsetFetch, OffsetDelete and offsets expiry (KIP-211), following Kafka's
//! OffsetMetadataManager.
//!
//! # Invariants
//!
//! * The store changes only in [`GroupCoordinator::replay`]: handlers emit OffsetCommit
//!   records and tombstones and apply them through that same path, so a restart rebuilds
//!   exactly this state.
//! * Every stored offset's group exists (replaying a commit creates a simple group, as Kafka
//!   does), except after a malformed log tombstoned a group before its offsets.
//!
//! Transactional offset commits (TxnOffsetCommit, see `txn_offsets.rs`) are kept apart, per
//! producer, until the transaction's marker commits or discards them:
//! [`OffsetStore::has_pending_transactional_offset`] and [`OffsetStore::has_open_transactions`]
//! make require_stable fetches answer UNSTABLE_OFFSET_COMMIT and keep expiry and group
//! deletion away while they are pending.

use std::collections::BTreeMap;

use super::classic::Group;
use super::context::Cx;
use super::errors::*;
use super::records::{OffsetCommitValue, RecordKey, MAX_RECORD_STRING_BYTES};
use super::state::GroupState;
use super::types::{
    ErrorCode, FetchedOffset, OffsetCommit, OffsetFetch, OffsetFetchGroupResult, Outcome, Response,
};
use super::GroupCoordinator;

/// One committed offset, as stored in an OffsetCommitValue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    /// -1 when unknown.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Explicit expiry (OffsetCommit v2–4 with a retention time), else the broker default.
    pub expire_timestamp_ms: Option<i64>,
}

impl From<OffsetCommitValue> for CommittedOffset {
    fn from(v: OffsetCommitValue) -> Self {
        CommittedOffset {
            offset: v.offset,
            leader_epoch: v.leader_epoch,
            metadata: v.metadata,
            commit_timestamp_ms: v.commit_timestamp,
            expire_timestamp_ms: v.expire_timestamp,
        }
    }
}

type TopicOffsets = BTreeMap<String, BTreeMap<i32, CommittedOffset>>;

/// Offsets by group, topic and partition.
#[derive(Debug, Default, Clone)]
pub struct OffsetStore {
    by_group: BTreeMap<String, TopicOffsets>,
    /// Transactional commits not yet committed or aborted, by producer id then group.
    pending: BTreeMap<i64, BTreeMap<String, TopicOffsets>>,
}

impl OffsetStore {
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<&CommittedOffset> {
        self.by_group.get(group)?.get(topic)?.get(&partition)
    }

    pub fn group(&self, group: &str) -> Option<&TopicOffsets> {
        self.by_group.get(group)
    }

    pub fn put(&mut self, group: &str, topic: &str, partition: i32, value: CommittedOffset) {
        self.by_group
            .entry(group.to_string())
            .or_default()
            .entry(topic.to_string())
            .or_default()
            .insert(partition, value);
    }

    pub fn remove(&mut self, group: &str, topic: &str, partition: i32) {
        let Some(topics) = self.by_group.get_mut(group) else {
            return;
        };
        if let Some(partitions) = topics.get_mut(topic) {
            partitions.remove(&partition);
            if partitions.is_empty() {
                topics.remove(topic);
            }
        }
        if topics.is_empty() {
            self.by_group.remove(group);
        }
    }

    /// Every committed offset as (group, topic, partition, offset), in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, i32, i64)> + '_ {
        self.by_group.iter().flat_map(|(g, topics)| {
            topics.iter().flat_map(move |(t, parts)| {
                parts
                    .iter()
                    .map(move |(p, c)| (g.as_str(), t.as_str(), *p, c.offset))
            })
        })
    }

    pub fn len(&self) -> usize {
        self.by_group
            .values()
            .flat_map(|t| t.values())
            .map(BTreeMap::len)
            .sum()
    }

    /// True while a transaction has an uncommitted offset for this partition.
    pub fn has_pending_transactional_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> bool {
        self.pending.values().any(|groups| {
            groups
                .get(group)
                .and_then(|t| t.get(topic))
                .is_some_and(|p| p.contains_key(&partition))
        })
    }

    /// True while a transaction that committed offsets for the group is open.
    pub fn has_open_transactions(&self, group: &str) -> bool {
        self.pending
            .values()
            .any(|groups| groups.contains_key(group))
    }

    /// Record a transactional commit of `producer_id`, pending until its marker.
    pub fn put_pending(
        &mut self,
        producer_id: i64,
        group: &str,
        topic: &str,
        partition: i32,
        value: CommittedOffset,
    ) {
        self.pending
            .entry(producer_id)
            .or_default()
            .entry(group.to_string())
            .or_default()
            .entry(topic.to_string())
            .or_default()
            .insert(partition, value);
    }

    /// A transaction marker of `producer_id` for the groups `in_partition` selects: on commit
    /// its pending offsets become committed offsets, on abort they are dropped.
    pub fn complete_pending(
        &mut self,
        producer_id: i64,
        commit: bool,
        in_partition: impl Fn(&str) -> bool,
    ) {
        let Some(groups) = self.pending.get_mut(&producer_id) else {
            return;
        };
        let done: Vec<String> = groups.keys().filter(|g| in_partition(g)).cloned().collect();
        for group in done {
            let Some(topics) = groups.remove(&group) else {
                continue;
            };
            if !commit {
                continue;
            }
            for (topic, partitions) in topics {
                for (partition, value) in partitions {
                    self.by_group
                        .entry(group.clone())
                        .or_default()
                        .entry(topic.clone())
                        .or_default()
                        .insert(partition, value);
                }
            }
        }
        if self
            .pending
            .get(&producer_id)
            .is_some_and(BTreeMap::is_empty)
        {
            self.pending.remove(&producer_id);
        }
    }

    /// Keep only the groups `keep` selects, committed and pending offsets alike (the others'
    /// `__consumer_offsets` partition was unloaded).
    pub fn retain_groups(&mut self, keep: impl Fn(&str) -> bool) {
        self.by_group.retain(|g, _| keep(g));
        for groups in self.pending.values_mut() {
            groups.retain(|g, _| keep(g));
        }
        self.pending.retain(|_, g| !g.is_empty());
    }

    /// Drop pending commits of a group (the group was deleted).
    pub fn remove_pending_group(&mut self, group: &str) {
        for groups in self.pending.values_mut() {
            groups.remove(group);
        }
        self.pending.retain(|_, g| !g.is_empty());
    }
}

/// Java's String.length() (UTF-16 units), which Kafka compares to offset.metadata.max.bytes.
fn java_length(s: &str) -> usize {
    s.encode_utf16().count()
}

fn fetched(
    topic: &str,
    partition: i32,
    stored: Option<&CommittedOffset>,
    error: ErrorCode,
) -> FetchedOffset {
    match stored {
        Some(o) if error == NONE => FetchedOffset {
            topic: topic.to_string(),
            partition,
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: Some(o.metadata.clone()),
            error,
        },
        _ => FetchedOffset {
            topic: topic.to_string(),
            partition,
            offset: -1,
            leader_epoch: -1,
            metadata: Some(String::new()),
            error,
        },
    }
}

impl GroupCoordinator {
    /// Appends a record to `out` and applies it through [`GroupCoordinator::replay`], the
    /// path startup uses too.
    pub(super) fn emit_and_apply(
        &mut self,
        out: &mut Outcome,
        now_ms: i64,
        key: RecordKey,
        value: Option<bytes::Bytes>,
    ) {
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out,
        };
        cx.push_record(&key, value);
        let Some(record) = cx.out.records.last() else {
            return;
        };
        let (key, value) = (record.key.clone(), record.value.clone());
        let applied = self.replay(now_ms, &key, value.as_deref());
        assert!(applied.is_ok(), "own record does not decode: {applied:?}");
    }

    fn commit_check(
        &mut self,
        now_ms: i64,
        req: &OffsetCommit,
        out: &mut Outcome,
    ) -> Result<(), ErrorCode> {
        if let Some(g) = self.consumer.get(&req.group_id) {
            return g.validate_offset_commit(&req.member_id, req.generation_id, false, req.version);
        }
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            // A simple commit creates the group (when its first record is replayed).
            return match (req.generation_id < 0, req.version >= 9) {
                (true, _) => Ok(()),
                (false, true) => Err(GROUP_ID_NOT_FOUND),
                (false, false) => Err(ILLEGAL_GENERATION),
            };
        };
        group.validate_offset_commit(
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
        )?;
        // In the classic protocol a commit also keeps the member's session alive.
        if group.is(GroupState::Stable) || group.is(GroupState::PreparingRebalance) {
            if let Some(session_ms) = group
                .member(&req.member_id)
                .map(|m| i64::from(m.session_timeout_ms))
            {
                let mut cx = Cx {
                    now_ms,
                    config: &self.config,
                    out,
                };
                group.reschedule_session(&mut cx, &req.member_id, session_ms);
            }
        }
        Ok(())
    }

    pub(super) fn offset_commit(
        &mut self,
        now_ms: i64,
        req: OffsetCommit,
        out: &mut Outcome,
    ) -> Response {
        if let Err(e) = self.commit_check(now_ms, &req, out) {
            let partitions = req
                .partitions
                .into_iter()
                .map(|p| (p.topic, p.partition, e))
                .collect();
            return Response::OffsetCommit { partitions };
        }
        let expire_timestamp =
            (req.retention_time_ms != -1).then(|| now_ms.saturating_add(req.retention_time_ms));
        let max_metadata = self.config.offset_metadata_max_bytes;
        let mut partitions = Vec::with_capacity(req.partitions.len());
        for p in req.partitions {
            let metadata = p.metadata.unwrap_or_default();
            if java_length(&metadata) > max_metadata || metadata.len() > MAX_RECORD_STRING_BYTES {
                partitions.push((p.topic, p.partition, OFFSET_METADATA_TOO_LARGE));
                continue;
            }
            let key = RecordKey::OffsetCommit {
                group: req.group_id.clone(),
                topic: p.topic.clone(),
                partition: p.partition,
            };
            let value = OffsetCommitValue {
                offset: p.offset,
                leader_epoch: p.leader_epoch,
                metadata,
                commit_timestamp: now_ms,
                expire_timestamp,
            };
            self.emit_and_apply(out, now_ms, key, Some(value.encode()));
            partitions.push((p.topic, p.partition, NONE));
        }
        Response::OffsetCommit { partitions }
    }

    pub(super) fn offset_fetch(&self, req: OffsetFetch) -> Response {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let check = match (self.consumer.get(&g.group_id), &g.member) {
                    (Some(cg), Some((member, epoch))) => cg.validate_offset_fetch(member, *epoch),
                    _ => Ok(()),
                };
                match check {
                    Ok(()) if self.consumer.contains_key(&g.group_id) => {
                        let r = self.fetch_group(&g.group_id, g.topics, req.require_stable);
                        tracing::debug!(group = g.group_id, member = ?g.member, offsets = ?r.offsets.iter().map(|o| (o.partition, o.offset)).collect::<Vec<_>>(), "consumer group offset fetch");
                        r
                    }
                    Ok(()) => self.fetch_group(&g.group_id, g.topics, req.require_stable),
                    Err(error) => OffsetFetchGroupResult {
                        group_id: g.group_id,
                        error,
                        offsets: Vec::new(),
                    },
                }
            })
            .collect();
        Response::OffsetFetch { groups }
    }

    fn fetch_group(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> OffsetFetchGroupResult {
        let known = self.consumer.contains_key(group_id)
            || self
                .groups
                .get(group_id)
                .is_some_and(|g| !g.is(GroupState::Dead));
        let stable_error = |topic: &str, partition: i32| {
            if require_stable
                && self
                    .offsets
                    .has_pending_transactional_offset(group_id, topic, partition)
            {
                UNSTABLE_OFFSET_COMMIT
            } else {
                NONE
            }
        };
        let mut offsets = Vec::new();
        match topics {
            Some(topics) => {
                for (topic, partitions) in topics {
                    for partition in partitions {
                        let stored = known
                            .then(|| self.offsets.get(group_id, &topic, partition))
                            .flatten();
                        offsets.push(fetched(
                            &topic,
                            partition,
                            stored,
                            stable_error(&topic, partition),
                        ));
                    }
                }
            }
            None if known => {
                for (topic, partitions) in self.offsets.group(group_id).into_iter().flatten() {
                    for (&partition, stored) in partitions {
                        offsets.push(fetched(
                            topic,
                            partition,
                            Some(stored),
                            stable_error(topic, partition),
                        ));
                    }
                }
            }
            None => {}
        }
        OffsetFetchGroupResult {
            group_id: group_id.to_string(),
            error: NONE,
            offsets,
        }
    }

    pub(super) fn offset_delete(
        &mut self,
        now_ms: i64,
        group_id: &str,
        partitions: Vec<(String, i32)>,
        out: &mut Outcome,
    ) -> Response {
        let fail = |error| Response::OffsetDelete {
            error,
            partitions: Vec::new(),
        };
        if group_id.is_empty() {
            return fail(INVALID_GROUP_ID);
        }
        if let Some(g) = self.consumer.get(group_id) {
            // Kafka's ConsumerGroup.validateOffsetDelete accepts any state; offsets of
            // subscribed topics stay.
            let subscribed: Vec<bool> = partitions
                .iter()
                .map(|(t, _)| g.is_subscribed_to_topic(t))
                .collect();
            return self.delete_partition_offsets(now_ms, group_id, partitions, subscribed, out);
        }
        let Some(group) = self.groups.get(group_id) else {
            return fail(GROUP_ID_NOT_FOUND);
        };
        match group.state() {
            GroupState::Dead => return fail(GROUP_ID_NOT_FOUND),
            GroupState::Empty => {}
            _ if !group.uses_consumer_protocol() => return fail(NON_EMPTY_GROUP),
            _ => {}
        }
        let subscribed: Vec<bool> = partitions
            .iter()
            .map(|(t, _)| group.is_subscribed_to_topic(t))
            .collect();
        self.delete_partition_offsets(now_ms, group_id, partitions, subscribed, out)
    }

    fn delete_partition_offsets(
        &mut self,
        now_ms: i64,
        group_id: &str,
        partitions: Vec<(String, i32)>,
        subscribed: Vec<bool>,
        out: &mut Outcome,
    ) -> Response {
        let mut results = Vec::with_capacity(partitions.len());
        let mut tombstones = Vec::new();
        for ((topic, partition), subscribed) in partitions.into_iter().zip(subscribed) {
            if subscribed {
                results.push((topic, partition, GROUP_SUBSCRIBED_TO_TOPIC));
                continue;
            }
            if self.offsets.get(group_id, &topic, partition).is_some()
                || self
                    .offsets
                    .has_pending_transactional_offset(group_id, &topic, partition)
            {
                tombstones.push((topic.clone(), partition));
            }
            results.push((topic, partition, NONE));
        }
        for (topic, partition) in tombstones {
            let key = RecordKey::OffsetCommit {
                group: group_id.to_string(),
                topic,
                partition,
            };
            self.emit_and_apply(out, now_ms, key, None);
        }
        Response::OffsetDelete {
            error: NONE,
            partitions: results,
        }
    }

    /// The OffsetsExpiry timer: tombstone expired offsets of every group, delete Empty groups
    /// left without offsets, and re-arm the timer.
    pub(super) fn expire_offsets(&mut self, now_ms: i64, out: &mut Outcome) {
        self.expire_consumer_group_offsets(now_ms, out);
        let group_ids: Vec<String> = self.groups.keys().cloned().collect();
        for group_id in group_ids {
            let (expired, all_expired) = self.expired_offsets(&group_id, now_ms);
            for (topic, partition) in expired {
                let key = RecordKey::OffsetCommit {
                    group: group_id.clone(),
                    topic,
                    partition,
                };
                self.emit_and_apply(out, now_ms, key, None);
            }
            let empty = self
                .groups
                .get(&group_id)
                .is_some_and(|g| g.is(GroupState::Empty));
            if all_expired && empty {
                let key = RecordKey::GroupMetadata { group: group_id };
                self.emit_and_apply(out, now_ms, key, None);
            }
        }
        let mut cx = Cx {
            now_ms,
            config: &self.config,
            out,
        };
        cx.set_timer_in(
            super::types::TimerKey::OffsetsExpiry,
            self.config.offsets_retention_check_interval_ms,
        );
    }

    /// Consumer groups: offsets of topics the group is not subscribed to expire
    /// offsets.retention.minutes after their commit (Kafka's ConsumerGroup
    /// offsetExpirationCondition); an empty group left without offsets is deleted.
    fn expire_consumer_group_offsets(&mut self, now_ms: i64, out: &mut Outcome) {
        let retention = self.config.offsets_retention_ms;
        let ids: Vec<String> = self.consumer.keys().cloned().collect();
        for group_id in ids {
            let Some(g) = self.consumer.get(&group_id) else {
                continue;
            };
            let mut expired = Vec::new();
            let mut all = true;
            for (topic, partitions) in self.offsets.group(&group_id).into_iter().flatten() {
                if g.is_subscribed_to_topic(topic) {
                    all = false;
                    continue;
                }
                for (&partition, o) in partitions {
                    let due = match o.expire_timestamp_ms {
                        Some(expire) => now_ms >= expire,
                        None => now_ms.saturating_sub(o.commit_timestamp_ms) >= retention,
                    };
                    if due
                        && !self
                            .offsets
                            .has_pending_transactional_offset(&group_id, topic, partition)
                    {
                        expired.push((topic.clone(), partition));
                    } else {
                        all = false;
                    }
                }
            }
            let empty = g.members.is_empty();
            for (topic, partition) in expired {
                let key = RecordKey::OffsetCommit {
                    group: group_id.clone(),
                    topic,
                    partition,
                };
                self.emit_and_apply(out, now_ms, key, None);
            }
            if all && empty && !self.offsets.has_open_transactions(&group_id) {
                self.delete_consumer_group_records(out, now_ms, &group_id);
            }
        }
    }

    /// Kafka's cleanupExpiredOffsets: the group's expired partitions, and whether every
    /// offset of the group expired (so an Empty group can go).
    fn expired_offsets(&self, group_id: &str, now_ms: i64) -> (Vec<(String, i32)>, bool) {
        let Some(group) = self.groups.get(group_id) else {
            return (Vec::new(), false);
        };
        let Some(topics) = self.offsets.group(group_id) else {
            return (Vec::new(), !self.offsets.has_open_transactions(group_id));
        };
        let Some(base) = expiry_base(group) else {
            return (Vec::new(), false);
        };
        let retention = self.config.offsets_retention_ms;
        let mut expired = Vec::new();
        let mut all = true;
        for (topic, partitions) in topics {
            if group.is_subscribed_to_topic(topic) {
                all = false;
                continue;
            }
            for (&partition, o) in partitions {
                let due = match o.expire_timestamp_ms {
                    Some(expire) => now_ms >= expire,
                    None => now_ms.saturating_sub(base.start_ms(o)) >= retention,
                };
                if due
                    && !self
                        .offsets
                        .has_pending_transactional_offset(group_id, topic, partition)
                {
                    expired.push((topic.clone(), partition));
                } else {
                    all = false;
                }
            }
        }
        (
            expired,
            all && !self.offsets.has_open_transactions(group_id),
        )
    }
}

/// When an offset's retention period starts.
#[derive(Debug, Clone, Copy)]
enum ExpiryBase {
    /// At the commit.
    Commit,
    /// When the group became Empty (if known), or at a later commit.
    EmptySince(Option<i64>),
}

impl ExpiryBase {
    fn start_ms(self, o: &CommittedOffset) -> i64 {
        match self {
            ExpiryBase::Commit => o.commit_timestamp_ms,
            ExpiryBase::EmptySince(t) => {
                t.map_or(o.commit_timestamp_ms, |t| t.max(o.commit_timestamp_ms))
            }
        }
    }
}

/// Kafka's offsetExpirationCondition, or `None` when the group's offsets do not expire now
/// (a non-Empty group, except a Stable consumer group whose subscriptions are known: its
/// offsets of unsubscribed topics do).
fn expiry_base(group: &Group) -> Option<ExpiryBase> {
    if group.protocol_type.is_none() {
        // A simple group.
        return Some(ExpiryBase::Commit);
    }
    if group.is(GroupState::Empty) {
        return Some(ExpiryBase::EmptySince(group.state_timestamp_ms()));
    }
    if group.uses_consumer_protocol()
        && group.has_known_subscriptions()
        && group.is(GroupState::Stable)
    {
        return Some(ExpiryBase::Commit);
    }
    None
}
