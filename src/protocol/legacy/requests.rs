//! Decoders of the removed request versions into the crate's request structs. Fields a
//! version lacks get the value Kafka implied for it (Fetch v0–2: no response size limit;
//! CreateTopics v0: not validate-only; OffsetCommit v0: no generation, no member).

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
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, DescribeConfigsRequest, FetchRequest, GroupId,
    ListOffsetsRequest, OffsetCommitRequest, ProduceRequest, TopicName,
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
