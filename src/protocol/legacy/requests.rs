//! Decoders of the request versions the crate lacks into the crate's request structs: the
//! removed ones (KIP-896) and the newest ones the crate does not know yet (OffsetCommit and
//! OffsetFetch v10, topics by id). Fields a version lacks get the value Kafka implied for it
//! (Fetch v0–2: no response size limit; CreateTopics v0: not validate-only; OffsetCommit v0:
//! no generation, no member; OffsetForLeaderEpoch v0–1: no current leader epoch). The
//! `encode_*` functions write the same layouts, for tests and round trips.

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, DescribeConfigsRequest, FetchRequest, GroupId,
    ListOffsetsRequest, OffsetCommitRequest, OffsetFetchRequest, OffsetForLeaderEpochRequest,
    ProduceRequest, ProducerId, TopicName, WriteTxnMarkersRequest,
};

use super::{Reader, Result};

/// Produce v0–2: acks, timeout, topics[name, partitions[index, message set]].
pub fn produce(body: &[u8]) -> Result<ProduceRequest> {
    let mut r = Reader::new(body);
    let acks = r.i16()?;
    let timeout_ms = r.i32()?;
    let n = r.array_len(6)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = TopicName(r.string()?);
        let np = r.array_len(8)?;
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            let index = r.i32()?;
            let records = r.nullable_bytes()?.map(Bytes::copy_from_slice);
            parts.push(
                PartitionProduceData::default()
                    .with_index(index)
                    .with_records(records),
            );
        }
        topics.push(
            TopicProduceData::default()
                .with_name(name)
                .with_partition_data(parts),
        );
    }
    r.finish()?;
    Ok(ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(topics))
}

/// Fetch v0–3: replica, max wait, min bytes, [max bytes, v3], topics[name, partitions[
/// partition, fetch offset, partition max bytes]].
pub fn fetch(body: &[u8], version: i16) -> Result<FetchRequest> {
    let mut r = Reader::new(body);
    let replica_id = r.i32()?;
    let max_wait_ms = r.i32()?;
    let min_bytes = r.i32()?;
    let max_bytes = if version >= 3 { r.i32()? } else { i32::MAX };
    let n = r.array_len(6)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let topic = TopicName(r.string()?);
        let np = r.array_len(16)?;
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            let partition = r.i32()?;
            let fetch_offset = r.i64()?;
            let partition_max_bytes = r.i32()?;
            parts.push(
                FetchPartition::default()
                    .with_partition(partition)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(fetch_offset)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(partition_max_bytes),
            );
        }
        topics.push(
            FetchTopic::default()
                .with_topic(topic)
                .with_partitions(parts),
        );
    }
    r.finish()?;
    Ok(FetchRequest::default()
        .with_replica_id(BrokerId(replica_id))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(max_bytes)
        .with_isolation_level(0)
        .with_session_epoch(-1)
        .with_topics(topics))
}

/// ListOffsets v0: replica, topics[name, partitions[partition, timestamp, max_num_offsets]].
/// Returns the request and each partition's max_num_offsets, in request order.
pub fn list_offsets(body: &[u8]) -> Result<(ListOffsetsRequest, Vec<i32>)> {
    let mut r = Reader::new(body);
    let replica_id = r.i32()?;
    let n = r.array_len(6)?;
    let mut topics = Vec::with_capacity(n);
    let mut max_nums = Vec::new();
    for _ in 0..n {
        let name = TopicName(r.string()?);
        let np = r.array_len(16)?;
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            let partition = r.i32()?;
            let timestamp = r.i64()?;
            max_nums.push(r.i32()?);
            parts.push(
                ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(timestamp),
            );
        }
        topics.push(
            ListOffsetsTopic::default()
                .with_name(name)
                .with_partitions(parts),
        );
    }
    r.finish()?;
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(replica_id))
        .with_topics(topics);
    Ok((req, max_nums))
}

/// OffsetCommit v0 (group, topics) and v1 (group, generation, member, topics with a
/// per-partition commit timestamp, which Kafka 2.x+ ignores for expiry as skua does).
pub fn offset_commit(body: &[u8], version: i16) -> Result<OffsetCommitRequest> {
    let mut r = Reader::new(body);
    let group_id = GroupId(r.string()?);
    let (generation, member_id) = if version >= 1 {
        (r.i32()?, r.string()?)
    } else {
        (-1, Default::default())
    };
    let n = r.array_len(6)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = TopicName(r.string()?);
        let np = r.array_len(14)?;
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            let partition = r.i32()?;
            let offset = r.i64()?;
            if version >= 1 {
                r.i64()?; // commit timestamp
            }
            let metadata = r.nullable_string()?;
            parts.push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(metadata),
            );
        }
        topics.push(
            OffsetCommitRequestTopic::default()
                .with_name(name)
                .with_partitions(parts),
        );
    }
    r.finish()?;
    Ok(OffsetCommitRequest::default()
        .with_group_id(group_id)
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(member_id)
        .with_retention_time_ms(-1)
        .with_topics(topics))
}

/// CreateTopics v0: topics[name, partitions, replication factor, assignments, configs],
/// timeout (v1 adds validate_only, and is v2's layout: the crate decodes it).
pub fn create_topics(body: &[u8]) -> Result<CreateTopicsRequest> {
    let mut r = Reader::new(body);
    let n = r.array_len(16)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = TopicName(r.string()?);
        let num_partitions = r.i32()?;
        let replication_factor = r.i16()?;
        let na = r.array_len(8)?;
        let mut assignments = Vec::with_capacity(na);
        for _ in 0..na {
            let partition_index = r.i32()?;
            let nb = r.array_len(4)?;
            let mut broker_ids = Vec::with_capacity(nb);
            for _ in 0..nb {
                broker_ids.push(BrokerId(r.i32()?));
            }
            assignments.push(
                CreatableReplicaAssignment::default()
                    .with_partition_index(partition_index)
                    .with_broker_ids(broker_ids),
            );
        }
        let nc = r.array_len(4)?;
        let mut configs = Vec::with_capacity(nc);
        for _ in 0..nc {
            let name = r.string()?;
            let value = r.nullable_string()?;
            configs.push(
                CreatableTopicConfig::default()
                    .with_name(name)
                    .with_value(value),
            );
        }
        topics.push(
            CreatableTopic::default()
                .with_name(name)
                .with_num_partitions(num_partitions)
                .with_replication_factor(replication_factor)
                .with_assignments(assignments)
                .with_configs(configs),
        );
    }
    let timeout_ms = r.i32()?;
    r.finish()?;
    Ok(CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(timeout_ms))
}

/// DescribeConfigs v0: resources[type, name, nullable keys] (v1 adds include_synonyms).
pub fn describe_configs(body: &[u8]) -> Result<DescribeConfigsRequest> {
    let mut r = Reader::new(body);
    let n = r.array_len(7)?;
    let mut resources = Vec::with_capacity(n);
    for _ in 0..n {
        let resource_type = r.i8()?;
        let resource_name = r.string()?;
        let nk = r.i32()?;
        let keys = if nk < 0 {
            None
        } else {
            let nk = nk as usize;
            if nk.saturating_mul(2) > r.remaining() {
                return Err(super::LegacyError("array longer than the input".into()));
            }
            let mut keys = Vec::with_capacity(nk);
            for _ in 0..nk {
                keys.push(r.string()?);
            }
            Some(keys)
        };
        resources.push(
            DescribeConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(resource_name)
                .with_configuration_keys(keys),
        );
    }
    r.finish()?;
    Ok(DescribeConfigsRequest::default().with_resources(resources))
}

/// OffsetCommit v10 (Kafka 4.1+, KIP-848): v9's flexible layout with each topic named by its
/// id instead of its name: group, generation or member epoch, member, instance, topics[id,
/// partitions[index, offset, leader epoch, metadata]]. Topic names are left empty: the
/// handler resolves the ids.
pub fn offset_commit_v10(body: &[u8]) -> Result<OffsetCommitRequest> {
    let mut r = Reader::new(body);
    let group_id = GroupId(r.compact_string()?);
    let generation = r.i32()?;
    let member_id = r.compact_string()?;
    let group_instance_id = r.compact_nullable_string()?;
    let n = r.compact_array_len(18)?.unwrap_or(0);
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let topic_id = r.uuid()?;
        let np = r.compact_array_len(18)?.unwrap_or(0);
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            let partition = r.i32()?;
            let offset = r.i64()?;
            let leader_epoch = r.i32()?;
            let metadata = r.compact_nullable_string()?;
            r.skip_tagged_fields()?;
            parts.push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)
                    .with_committed_leader_epoch(leader_epoch)
                    .with_committed_metadata(metadata),
            );
        }
        r.skip_tagged_fields()?;
        topics.push(
            OffsetCommitRequestTopic::default()
                .with_topic_id(topic_id)
                .with_partitions(parts),
        );
    }
    r.skip_tagged_fields()?;
    r.finish()?;
    Ok(OffsetCommitRequest::default()
        .with_group_id(group_id)
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(member_id)
        .with_group_instance_id(group_instance_id)
        .with_retention_time_ms(-1)
        .with_topics(topics))
}

/// OffsetCommit v10 body from the crate's request (topics by `topic_id`): what a Kafka 4.1+
/// client sends. For tests and the property tests' round trips.
pub fn encode_offset_commit_v10(req: &OffsetCommitRequest) -> Vec<u8> {
    let mut w = super::Writer::new();
    w.compact_string(req.group_id.0.as_str());
    w.i32(req.generation_id_or_member_epoch);
    w.compact_string(req.member_id.as_str());
    w.compact_nullable_string(req.group_instance_id.as_deref());
    w.compact_count(req.topics.len());
    for t in &req.topics {
        w.uuid(&t.topic_id);
        w.compact_count(t.partitions.len());
        for p in &t.partitions {
            w.i32(p.partition_index);
            w.i64(p.committed_offset);
            w.i32(p.committed_leader_epoch);
            w.compact_nullable_string(p.committed_metadata.as_deref());
            w.no_tags();
        }
        w.no_tags();
    }
    w.no_tags();
    w.buf.to_vec()
}

/// OffsetFetch v10 (Kafka 4.1+, KIP-848): v9's layout with topics by id: groups[group,
/// member, member epoch, nullable topics[id, partition indexes]], require stable. Topic
/// names are left empty: the handler resolves the ids.
pub fn offset_fetch_v10(body: &[u8]) -> Result<OffsetFetchRequest> {
    let mut r = Reader::new(body);
    let n = r.compact_array_len(8)?.unwrap_or(0);
    let mut groups = Vec::with_capacity(n);
    for _ in 0..n {
        let group_id = GroupId(r.compact_string()?);
        let member_id = r.compact_nullable_string()?;
        let member_epoch = r.i32()?;
        let topics = match r.compact_array_len(18)? {
            None => None,
            Some(nt) => {
                let mut topics = Vec::with_capacity(nt);
                for _ in 0..nt {
                    let topic_id = r.uuid()?;
                    let np = r.compact_array_len(4)?.unwrap_or(0);
                    let mut parts = Vec::with_capacity(np);
                    for _ in 0..np {
                        parts.push(r.i32()?);
                    }
                    r.skip_tagged_fields()?;
                    topics.push(
                        OffsetFetchRequestTopics::default()
                            .with_topic_id(topic_id)
                            .with_partition_indexes(parts),
                    );
                }
                Some(topics)
            }
        };
        r.skip_tagged_fields()?;
        groups.push(
            OffsetFetchRequestGroup::default()
                .with_group_id(group_id)
                .with_member_id(member_id)
                .with_member_epoch(member_epoch)
                .with_topics(topics),
        );
    }
    let require_stable = r.bool()?;
    r.skip_tagged_fields()?;
    r.finish()?;
    Ok(OffsetFetchRequest::default()
        .with_groups(groups)
        .with_require_stable(require_stable))
}

/// OffsetFetch v10 body from the crate's request (groups, topics by `topic_id`).
pub fn encode_offset_fetch_v10(req: &OffsetFetchRequest) -> Vec<u8> {
    let mut w = super::Writer::new();
    w.compact_count(req.groups.len());
    for g in &req.groups {
        w.compact_string(g.group_id.0.as_str());
        w.compact_nullable_string(g.member_id.as_deref());
        w.i32(g.member_epoch);
        match &g.topics {
            None => w.uvarint(0),
            Some(ts) => {
                w.compact_count(ts.len());
                for t in ts {
                    w.uuid(&t.topic_id);
                    w.compact_count(t.partition_indexes.len());
                    for &p in &t.partition_indexes {
                        w.i32(p);
                    }
                    w.no_tags();
                }
            }
        }
        w.no_tags();
    }
    w.bool(req.require_stable);
    w.no_tags();
    w.buf.to_vec()
}

/// OffsetForLeaderEpoch v0–1 (same layout): topics[name, partitions[index, leader epoch]].
/// v2 added current_leader_epoch (-1 here: no fencing check) and v3 replica_id (-2 here, its
/// default: a consumer).
pub fn offset_for_leader_epoch(body: &[u8]) -> Result<OffsetForLeaderEpochRequest> {
    let mut r = Reader::new(body);
    let n = r.array_len(6)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = TopicName(r.string()?);
        let np = r.array_len(8)?;
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            let partition = r.i32()?;
            let leader_epoch = r.i32()?;
            parts.push(
                OffsetForLeaderPartition::default()
                    .with_partition(partition)
                    .with_current_leader_epoch(-1)
                    .with_leader_epoch(leader_epoch),
            );
        }
        topics.push(
            OffsetForLeaderTopic::default()
                .with_topic(name)
                .with_partitions(parts),
        );
    }
    r.finish()?;
    Ok(OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-2))
        .with_topics(topics))
}

/// OffsetForLeaderEpoch v0–1 body from the crate's request.
pub fn encode_offset_for_leader_epoch(req: &OffsetForLeaderEpochRequest) -> Vec<u8> {
    let mut w = super::Writer::new();
    w.count(req.topics.len());
    for t in &req.topics {
        w.string(t.topic.0.as_str());
        w.count(t.partitions.len());
        for p in &t.partitions {
            w.i32(p.partition);
            w.i32(p.leader_epoch);
        }
    }
    w.buf.to_vec()
}

/// WriteTxnMarkers v0: v1's fields without the flexible encoding: markers[producer id,
/// producer epoch, result, topics[name, partition indexes], coordinator epoch].
pub fn write_txn_markers_v0(body: &[u8]) -> Result<WriteTxnMarkersRequest> {
    let mut r = Reader::new(body);
    let n = r.array_len(19)?;
    let mut markers = Vec::with_capacity(n);
    for _ in 0..n {
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        let commit = r.bool()?;
        let nt = r.array_len(6)?;
        let mut topics = Vec::with_capacity(nt);
        for _ in 0..nt {
            let name = TopicName(r.string()?);
            let np = r.array_len(4)?;
            let mut parts = Vec::with_capacity(np);
            for _ in 0..np {
                parts.push(r.i32()?);
            }
            topics.push(
                WritableTxnMarkerTopic::default()
                    .with_name(name)
                    .with_partition_indexes(parts),
            );
        }
        let coordinator_epoch = r.i32()?;
        markers.push(
            WritableTxnMarker::default()
                .with_producer_id(ProducerId(producer_id))
                .with_producer_epoch(producer_epoch)
                .with_transaction_result(commit)
                .with_topics(topics)
                .with_coordinator_epoch(coordinator_epoch),
        );
    }
    r.finish()?;
    Ok(WriteTxnMarkersRequest::default().with_markers(markers))
}

/// WriteTxnMarkers v0 body from the crate's request.
pub fn encode_write_txn_markers_v0(req: &WriteTxnMarkersRequest) -> Vec<u8> {
    let mut w = super::Writer::new();
    w.count(req.markers.len());
    for m in &req.markers {
        w.i64(m.producer_id.0);
        w.i16(m.producer_epoch);
        w.bool(m.transaction_result);
        w.count(m.topics.len());
        for t in &m.topics {
            w.string(t.name.0.as_str());
            w.count(t.partition_indexes.len());
            for &p in &t.partition_indexes {
                w.i32(p);
            }
        }
        w.i32(m.coordinator_epoch);
    }
    w.buf.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_oversized_requests_fail_cleanly() {
        // Produce: acks, timeout, then an array claiming 2^31-1 topics.
        let body = [0, 1, 0, 0, 3, 232, 0x7f, 0xff, 0xff, 0xff];
        assert!(produce(&body).is_err());
        assert!(fetch(&[0, 0, 0], 0).is_err());
        assert!(list_offsets(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]).is_err());
        assert!(offset_commit(&[0, 1, b'g', 0, 0], 1).is_err());
        assert!(create_topics(&[0, 0, 0, 1, 0, 1, b't']).is_err());
        assert!(describe_configs(&[0, 0, 0, 1, 2, 0, 1, b't', 0x7f, 0, 0, 0]).is_err());
    }

    /// OffsetCommit v10 and OffsetFetch v10 bytes written out from the specs (not by the
    /// encoders here), decoded field by field.
    #[test]
    fn v10_requests_known_bytes() {
        let id = [0x11u8; 16];
        let mut commit = vec![2, b'g', 0, 0, 0, 1, 2, b'm', 0, 2];
        commit.extend_from_slice(&id);
        commit.extend_from_slice(&[2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5]);
        commit.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 3, b'm', b'd', 0, 0, 0]);
        let r = offset_commit_v10(&commit).unwrap();
        assert_eq!(r.group_id.0.as_str(), "g");
        assert_eq!(r.generation_id_or_member_epoch, 1);
        assert_eq!(r.member_id.as_str(), "m");
        assert_eq!(r.group_instance_id, None);
        assert_eq!(r.topics[0].topic_id, uuid::Uuid::from_bytes(id));
        assert!(r.topics[0].name.0.is_empty());
        let p = &r.topics[0].partitions[0];
        assert_eq!(
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch
            ),
            (3, 5, -1)
        );
        assert_eq!(p.committed_metadata.as_deref(), Some("md"));
        assert_eq!(encode_offset_commit_v10(&r), commit);
        // A tagged field is skipped; trailing bytes are refused.
        let mut tagged = commit.clone();
        let last = tagged.len() - 1;
        tagged.splice(last.., [1, 7, 2, 0xaa, 0xbb]);
        assert_eq!(offset_commit_v10(&tagged).unwrap(), r);
        commit.push(0);
        assert!(offset_commit_v10(&commit).is_err());

        // groups[g, member null, epoch -1, topics[id, [0, 2]]], then one with all topics.
        let mut fetch = vec![3, 2, b'g', 0, 0xff, 0xff, 0xff, 0xff, 2];
        fetch.extend_from_slice(&id);
        fetch.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]);
        fetch.extend_from_slice(&[2, b'h', 2, b'x', 0, 0, 0, 4, 0, 0, 1, 0]);
        let r = offset_fetch_v10(&fetch).unwrap();
        assert_eq!(r.groups.len(), 2);
        let g = &r.groups[0];
        assert_eq!(
            (g.group_id.0.as_str(), g.member_id.clone(), g.member_epoch),
            ("g", None, -1)
        );
        let ts = g.topics.as_ref().unwrap();
        assert_eq!(ts[0].topic_id, uuid::Uuid::from_bytes(id));
        assert_eq!(ts[0].partition_indexes, vec![0, 2]);
        let h = &r.groups[1];
        assert_eq!(h.member_id.as_deref(), Some("x"));
        assert_eq!((h.member_epoch, h.topics.is_none()), (4, true));
        assert!(r.require_stable);
        assert_eq!(encode_offset_fetch_v10(&r), fetch);
    }

    #[test]
    fn fetch_v0_has_no_max_bytes_and_v3_does() {
        let mut body = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 100, 0, 0, 0, 1];
        let topics = [0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 2];
        let part = [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 4, 0];
        let v0: Vec<u8> = [&body[..], &topics, &part].concat();
        let f = fetch(&v0, 0).unwrap();
        assert_eq!(f.max_bytes, i32::MAX);
        assert_eq!(f.topics[0].partitions[0].fetch_offset, 5);
        assert_eq!(f.topics[0].partitions[0].partition, 2);
        body.extend_from_slice(&[0, 0, 1, 0]);
        let v3: Vec<u8> = [&body[..], &topics, &part].concat();
        assert_eq!(fetch(&v3, 3).unwrap().max_bytes, 256);
        assert!(fetch(&v3, 0).is_err(), "trailing bytes");
    }
}
