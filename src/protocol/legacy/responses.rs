//! Encoders of the crate's response structs in the removed versions' layouts (the crate
//! encodes the OffsetCommit/OffsetFetch v10 responses itself). Each returns a
//! whole frame (size, v0 response header, body). Versions that share a layout with a version
//! the crate encodes (OffsetCommit v0–1 = v2, OffsetFetch v0 = v1) use the crate instead.

use bytes::Bytes;
use kafka_protocol::messages::{
    CreateTopicsResponse, DeleteTopicsResponse, DescribeConfigsResponse, FetchResponse,
    ListOffsetsResponse, OffsetForLeaderEpochResponse, ProduceResponse, WriteTxnMarkersResponse,
};

use super::Writer;

/// Produce v0–2: responses[name, partitions[index, error, base offset, (v2) log append
/// time]], (v1+) throttle time.
pub fn produce(correlation_id: i32, version: i16, resp: &ProduceResponse) -> Bytes {
    let mut w = Writer::new();
    w.count(resp.responses.len());
    for t in &resp.responses {
        w.string(t.name.0.as_str());
        w.count(t.partition_responses.len());
        for p in &t.partition_responses {
            w.i32(p.index);
            w.i16(p.error_code);
            w.i64(p.base_offset);
            if version >= 2 {
                w.i64(p.log_append_time_ms);
            }
        }
    }
    if version >= 1 {
        w.i32(resp.throttle_time_ms);
    }
    w.into_frame(correlation_id)
}

/// Fetch v0–3: (v1+) throttle time, responses[topic, partitions[index, error, high
/// watermark, message set]]. The records must already be in the version's magic.
pub fn fetch(correlation_id: i32, version: i16, resp: &FetchResponse) -> Bytes {
    let mut w = Writer::new();
    if version >= 1 {
        w.i32(resp.throttle_time_ms);
    }
    w.count(resp.responses.len());
    for t in &resp.responses {
        w.string(t.topic.0.as_str());
        w.count(t.partitions.len());
        for p in &t.partitions {
            w.i32(p.partition_index);
            w.i16(p.error_code);
            w.i64(p.high_watermark);
            w.bytes(p.records.as_deref().unwrap_or(&[]));
        }
    }
    w.into_frame(correlation_id)
}

/// ListOffsets v0: topics[name, partitions[index, error, offsets[]]]; `offsets` holds each
/// partition's old-style offset list, in response order.
pub fn list_offsets(
    correlation_id: i32,
    resp: &ListOffsetsResponse,
    offsets: &[Vec<i64>],
) -> Bytes {
    let mut w = Writer::new();
    let mut lists = offsets.iter();
    w.count(resp.topics.len());
    for t in &resp.topics {
        w.string(t.name.0.as_str());
        w.count(t.partitions.len());
        for p in &t.partitions {
            w.i32(p.partition_index);
            w.i16(p.error_code);
            let list = lists.next().map(Vec::as_slice).unwrap_or(&[]);
            w.count(list.len());
            for &o in list {
                w.i64(o);
            }
        }
    }
    w.into_frame(correlation_id)
}

/// CreateTopics v0: topics[name, error]; v1 adds the error message.
pub fn create_topics(correlation_id: i32, version: i16, resp: &CreateTopicsResponse) -> Bytes {
    let mut w = Writer::new();
    w.count(resp.topics.len());
    for t in &resp.topics {
        w.string(t.name.0.as_str());
        w.i16(t.error_code);
        if version >= 1 {
            // Kafka's default is null (the crate's is ""): null on success.
            let message = t.error_message.as_deref().filter(|_| t.error_code != 0);
            w.nullable_string(message);
        }
    }
    w.into_frame(correlation_id)
}

/// DeleteTopics v0: responses[name, error] (no throttle time).
pub fn delete_topics(correlation_id: i32, resp: &DeleteTopicsResponse) -> Bytes {
    let mut w = Writer::new();
    w.count(resp.responses.len());
    for t in &resp.responses {
        w.string(t.name.as_ref().map_or("", |n| n.0.as_str()));
        w.i16(t.error_code);
    }
    w.into_frame(correlation_id)
}

/// ConfigSource DEFAULT_CONFIG: v0's `is_default`.
const DEFAULT_CONFIG: i8 = 5;

/// DescribeConfigs v0: throttle, results[error, message, type, name, configs[name, value,
/// read only, is default, is sensitive]].
pub fn describe_configs(correlation_id: i32, resp: &DescribeConfigsResponse) -> Bytes {
    let mut w = Writer::new();
    w.i32(resp.throttle_time_ms);
    w.count(resp.results.len());
    for r in &resp.results {
        w.i16(r.error_code);
        w.nullable_string(r.error_message.as_deref().filter(|_| r.error_code != 0));
        w.i8(r.resource_type);
        w.string(r.resource_name.as_str());
        w.count(r.configs.len());
        for c in &r.configs {
            w.string(c.name.as_str());
            w.nullable_string(c.value.as_deref());
            w.bool(c.read_only);
            w.bool(c.config_source == DEFAULT_CONFIG);
            w.bool(c.is_sensitive);
        }
    }
    w.into_frame(correlation_id)
}

/// OffsetForLeaderEpoch v0–1: topics[name, partitions[error, index, (v1) leader epoch, end
/// offset]] (no throttle time: v2 added it).
pub fn offset_for_leader_epoch(
    correlation_id: i32,
    version: i16,
    resp: &OffsetForLeaderEpochResponse,
) -> Bytes {
    let mut w = Writer::new();
    w.count(resp.topics.len());
    for t in &resp.topics {
        w.string(t.topic.0.as_str());
        w.count(t.partitions.len());
        for p in &t.partitions {
            w.i16(p.error_code);
            w.i32(p.partition);
            if version >= 1 {
                w.i32(p.leader_epoch);
            }
            w.i64(p.end_offset);
        }
    }
    w.into_frame(correlation_id)
}

/// WriteTxnMarkers v0: markers[producer id, topics[name, partitions[index, error]]].
pub fn write_txn_markers_v0(correlation_id: i32, resp: &WriteTxnMarkersResponse) -> Bytes {
    let mut w = Writer::new();
    w.count(resp.markers.len());
    for m in &resp.markers {
        w.i64(m.producer_id.0);
        w.count(m.topics.len());
        for t in &m.topics {
            w.string(t.name.0.as_str());
            w.count(t.partitions.len());
            for p in &t.partitions {
                w.i32(p.partition_index);
                w.i16(p.error_code);
            }
        }
    }
    w.into_frame(correlation_id)
}
