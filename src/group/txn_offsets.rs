//! Transactional offset commits (TxnOffsetCommit, KIP-98), following Kafka's
//! GroupCoordinator.handleTxnCommitOffsets and GroupMetadataManager.
//!
//! A TxnOffsetCommit writes ordinary OffsetCommit records (same key and value schemas), but in
//! a transactional batch of the committing producer ([`Record::producer`]). They are applied as
//! *pending* offsets of that producer ([`GroupCoordinator::replay_transactional`]), invisible
//! to OffsetFetch, until the transaction's commit or abort marker reaches the group's
//! `__consumer_offsets` partition ([`GroupCoordinator::replay_marker`]): commit makes them the
//! group's committed offsets, abort drops them. Startup replay calls the same two functions for
//! transactional batches and control batches, so a restart rebuilds exactly this state,
//! including transactions still open.
//!
//! Validation is Kafka's for transactional commits: a Dead group is COORDINATOR_NOT_AVAILABLE,
//! a fenced static member FENCED_INSTANCE_ID, a named member that is not in the group
//! UNKNOWN_MEMBER_ID, a generation other than the group's ILLEGAL_GENERATION; an unknown group
//! is created (as a simple group) when the records are replayed. Whether the producer may
//! commit at all (its transaction contains the offsets partition, its epoch is current) is
//! checked by the API layer against the transaction coordinator before the request gets here.

use super::classic::Group;
use super::errors::*;
use super::records::{OffsetCommitValue, RecordError, RecordKey, MAX_RECORD_STRING_BYTES};
use super::types::{ErrorCode, Outcome, Response, TxnOffsetCommit};
use super::GroupCoordinator;

impl GroupCoordinator {
    fn txn_commit_check(&self, req: &TxnOffsetCommit) -> Result<(), ErrorCode> {
        if req.group_id.is_empty() {
            return Err(INVALID_GROUP_ID);
        }
        if let Some(g) = self.consumer.get(&req.group_id) {
            return g.validate_offset_commit(&req.member_id, req.generation_id, true, i16::MAX);
        }
        let Some(group) = self.groups.get(&req.group_id) else {
            return Ok(());
        };
        if group.is(super::GroupState::Dead) {
            return Err(COORDINATOR_NOT_AVAILABLE);
        }
        if let Some(instance) = req.group_instance_id.as_deref() {
            if let Some(existing) = group.static_member_id(instance) {
                if existing != req.member_id {
                    return Err(FENCED_INSTANCE_ID);
                }
            }
        }
        if !req.member_id.is_empty() && !group.has_member(&req.member_id) {
            return Err(UNKNOWN_MEMBER_ID);
        }
        if req.generation_id >= 0 && req.generation_id != group.generation_id {
            return Err(ILLEGAL_GENERATION);
        }
        Ok(())
    }

    pub(super) fn txn_offset_commit(
        &mut self,
        now_ms: i64,
        req: TxnOffsetCommit,
        out: &mut Outcome,
    ) -> Response {
        if let Err(e) = self.txn_commit_check(&req) {
            let partitions = req
                .partitions
                .into_iter()
                .map(|p| (p.topic, p.partition, e))
                .collect();
            return Response::TxnOffsetCommit { partitions };
        }
        let max_metadata = self.config.offset_metadata_max_bytes;
        let mut partitions = Vec::with_capacity(req.partitions.len());
        for p in req.partitions {
            let metadata = p.metadata.unwrap_or_default();
            if metadata.encode_utf16().count() > max_metadata
                || metadata.len() > MAX_RECORD_STRING_BYTES
            {
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
                expire_timestamp: None,
            }
            .encode();
            let partition = self.partition_for(&req.group_id);
            out.records.push(super::types::Record {
                partition,
                key: key.encode(),
                value: Some(value.clone()),
                producer: Some((req.producer_id, req.producer_epoch)),
            });
            let applied =
                self.replay_transactional(now_ms, req.producer_id, &key.encode(), Some(&value));
            assert!(applied.is_ok(), "own record does not decode: {applied:?}");
            partitions.push((p.topic, p.partition, NONE));
        }
        Response::TxnOffsetCommit { partitions }
    }

    /// Apply one record of a transactional batch of `producer_id` (startup replay, and the
    /// path TxnOffsetCommit takes): offset commits become pending offsets of that producer.
    /// Other record types in a transactional batch are applied as usual.
    pub fn replay_transactional(
        &mut self,
        now_ms: i64,
        producer_id: i64,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), RecordError> {
        match (RecordKey::decode(key)?, value) {
            (
                RecordKey::OffsetCommit {
                    group,
                    topic,
                    partition,
                },
                Some(v),
            ) => {
                let v = OffsetCommitValue::decode(v)?;
                if !self.consumer.contains_key(&group) {
                    self.groups
                        .entry(group.clone())
                        .or_insert_with(|| Group::new(&group, now_ms));
                }
                self.offsets
                    .put_pending(producer_id, &group, &topic, partition, v.into());
                Ok(())
            }
            _ => self.replay(now_ms, key, value),
        }
    }

    /// A commit or abort marker of `producer_id` in `__consumer_offsets` partition
    /// `partition`: completes that producer's pending offsets of the groups stored there.
    pub fn replay_marker(&mut self, producer_id: i64, commit: bool, partition: i32) {
        let n = self.config.offsets_topic_partitions;
        self.offsets.complete_pending(producer_id, commit, |group| {
            super::context::partition_for(group, n) == partition
        });
    }
}
