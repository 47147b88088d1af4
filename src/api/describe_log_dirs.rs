//! DescribeLogDirs (key 35), v0–4 (v0 has v1's layout — Kafka's JSON: "Version 1 is the same
//! as version 0" — and is decoded and answered as v1): the one data directory (absolute path) with the size of
//! every hosted partition (its `.log` bytes), offset lag 0 and no future replicas; all
//! partitions when the topic list is null, else the requested ones that exist (unknown ones
//! are left out, as Kafka does). v4 adds the file system's total and usable bytes (statvfs).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{
    ApiKey, DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeLogDirs,
    min: 0,
    max: 4,
};

/// (total, usable) bytes of the file system holding `path`, or (-1, -1).
pub fn disk_space(path: &Path) -> (i64, i64) {
    match nix::sys::statvfs::statvfs(path) {
        Ok(st) => {
            let frsize = st.fragment_size() as i64;
            (
                (st.blocks() as i64).saturating_mul(frsize),
                (st.blocks_available() as i64).saturating_mul(frsize),
            )
        }
        Err(_) => (-1, -1),
    }
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let version = req.version;
    let body: DescribeLogDirsRequest =
        crate::protocol::decode_body(ApiKey::DescribeLogDirs, version.max(1), &mut req.body)?;
    // Kafka: DESCRIBE on the cluster, else no log dirs (and CLUSTER_AUTHORIZATION_FAILED v3+).
    if let Some(code) = super::authz::authz(broker, &req)
        .cluster_error(crate::security::acl::AclOperation::Describe)
    {
        let resp =
            DescribeLogDirsResponse::default().with_error_code(if version >= 3 { code } else { 0 });
        return crate::protocol::encode_response(req.header.correlation_id, version.max(1), &resp);
    }
    let mut topics = Vec::new();
    let describe = |t: &crate::cluster::Topic, wanted: Option<&[i32]>| {
        let partitions: Vec<DescribeLogDirsPartition> = t
            .hosted()
            .filter(|p| wanted.is_none_or(|w| w.contains(&p.index)))
            .map(|p| {
                DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(p.log().size_bytes() as i64)
                    .with_offset_lag(0)
                    .with_is_future_key(false)
            })
            .collect();
        (!partitions.is_empty()).then(|| {
            DescribeLogDirsTopic::default()
                .with_name(TopicName(StrBytes::from_string(t.name.clone())))
                .with_partitions(partitions)
        })
    };
    match &body.topics {
        None => {
            for t in broker.all_topics() {
                topics.extend(describe(&t, None));
            }
        }
        Some(wanted) => {
            for w in wanted {
                if let Some(t) = broker.topic(w.topic.0.as_str()) {
                    topics.extend(describe(&t, Some(&w.partitions)));
                }
            }
        }
    }
    let dir = std::path::absolute(&broker.config.data_dir)
        .unwrap_or_else(|_| broker.config.data_dir.clone());
    let mut result = DescribeLogDirsResult::default()
        .with_error_code(0)
        .with_log_dir(StrBytes::from_string(dir.to_string_lossy().into_owned()))
        .with_topics(topics);
    if version >= 4 {
        let (total, usable) = disk_space(&dir);
        result = result.with_total_bytes(total).with_usable_bytes(usable);
    }
    let resp = DescribeLogDirsResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_results(vec![result]);
    crate::protocol::encode_response(req.header.correlation_id, version.max(1), &resp)
}
