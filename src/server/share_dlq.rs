//! Dead-letter topics for share groups (KIP-1191): a record archived because it failed — an
//! explicit REJECT, or released / lock-expired at the delivery limit — is copied to the group's
//! `errors.deadletterqueue.topic.name`, with Kafka's context headers (`__dlq.errors.topic`,
//! `__dlq.errors.partition`, `__dlq.errors.offset`, `__dlq.errors.group`,
//! `__dlq.errors.delivery.count`) and, with `errors.deadletterqueue.copy.record.enable`, the
//! original key, value and headers (else a null key and value). The copy goes to partition
//! `source partition % dead-letter partitions`, timestamped when written.
//!
//! Kafka's rules: the dead-letter topic must exist with `errors.deadletterqueue.group.enable=
//! true`, unless the broker's `errors.deadletterqueue.auto.create.topics.enable` lets it create
//! it (then with that config set); otherwise the records are archived without a copy (logged).
//!
//! Once: a failed record is first made durable as pending in the share-partition's state
//! (with the dead-letter partition's end offset then), the copy is appended and committed, and
//! only then is the pending entry dropped. After a restart with entries still pending, the
//! dead-letter partition is searched from those end offsets for copies already written, so a
//! crash between the copy and the state write does not copy a record twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Record as KRecord, RecordBatchDecoder};

use crate::api::now_ms;
use crate::cluster::controller_rpc::{ControllerRequest, NewTopic};
use crate::cluster::{Broker, Partition};
use crate::log::records::OwnedRecord;
use crate::log::AppendOrigin;
use crate::share::records::{DlqPending, StateKey};

pub const H_TOPIC: &str = "__dlq.errors.topic";
pub const H_PARTITION: &str = "__dlq.errors.partition";
pub const H_OFFSET: &str = "__dlq.errors.offset";
pub const H_GROUP: &str = "__dlq.errors.group";
pub const H_DELIVERY_COUNT: &str = "__dlq.errors.delivery.count";

/// The topic config a dead-letter topic must have.
pub const GROUP_ENABLE: &str = "errors.deadletterqueue.group.enable";

/// Why pending copies were not written.
#[derive(Debug)]
pub enum DlqError {
    /// The dead-letter topic cannot take them (missing, not enabled): archive without a copy.
    Drop(String),
    /// Not now (not the leader here, a write failed, the topic is being created): retry.
    Retry(String),
}

/// The end offset of the dead-letter partition that `source_partition`'s records go to, if
/// this broker hosts it.
pub fn dead_letter_end(broker: &Broker, topic: &str, source_partition: i32) -> Option<i64> {
    let t = broker.topic(topic)?;
    let n = t.partitions.len() as i32;
    if n == 0 {
        return None;
    }
    let p = t.replica(source_partition.rem_euclid(n))?;
    let end = p.log().log_end_offset();
    Some(end)
}

/// Every record of `p` in `[from, end)`, decoded (a bounded scan: stops at the log end).
fn read_records(p: &Partition, from: i64) -> Result<Vec<KRecord>, String> {
    let mut out = Vec::new();
    let mut offset = from.max(p.log().log_start_offset());
    loop {
        let end = p.log().log_end_offset();
        if offset >= end {
            return Ok(out);
        }
        let plan = p
            .log()
            .read(offset, 1 << 20, true)
            .map_err(|e| e.to_string())?;
        let mut bytes = plan.execute().map_err(|e| e.to_string())?;
        if bytes.is_empty() {
            return Ok(out);
        }
        let mut next = offset;
        while !bytes.is_empty() {
            let set = RecordBatchDecoder::decode(&mut bytes).map_err(|e| e.to_string())?;
            for r in set.records {
                next = next.max(r.offset + 1);
                if r.offset >= offset && !r.control {
                    out.push(r);
                }
            }
        }
        if next <= offset {
            return Ok(out);
        }
        offset = next;
    }
}

/// The source record at `offset` (headers in order, duplicates kept), if the log still holds
/// it.
fn source_record(p: &Partition, offset: i64) -> Option<OwnedRecord> {
    let plan = p.log().read(offset, 1 << 20, true).ok()?;
    let bytes = plan.execute().ok()?;
    crate::log::records::find_record(&bytes, offset)
        .ok()
        .flatten()
}

fn header(r: &KRecord, name: &'static str) -> Option<String> {
    r.headers
        .get(&StrBytes::from_static_str(name))
        .and_then(|v| v.as_ref())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Ask the controller to create the dead-letter topic (auto-create), enabled for groups.
async fn create(broker: &Arc<Broker>, topic: &str) {
    let Some(channel) = broker.controller.get() else {
        return;
    };
    let mut configs = BTreeMap::new();
    configs.insert(GROUP_ENABLE.to_string(), Some("true".to_string()));
    let req = ControllerRequest::CreateTopics {
        topics: vec![NewTopic {
            name: topic.to_string(),
            num_partitions: broker.config.num_partitions,
            replication_factor: broker.config.default_replication_factor,
            assignments: None,
            configs,
        }],
        validate_only: false,
    };
    if let Err(e) = channel.call(req).await {
        tracing::warn!("dead-letter topic {topic} not created: {e}");
    }
}

/// Write the dead-letter copies of `pending` (records of share-partition `key`); `checked`:
/// the dead-letter partition was already searched for copies made before a restart. Returns
/// the offsets done (copied now or found copied) and how many copies were written.
pub async fn write(
    broker: &Arc<Broker>,
    key: &StateKey,
    dlq_topic: &str,
    copy_record: bool,
    pending: &[DlqPending],
    checked: bool,
) -> Result<(Vec<i64>, usize), DlqError> {
    let Some(topic) = broker.topic(dlq_topic) else {
        let auto = broker
            .config
            .broker_value("errors.deadletterqueue.auto.create.topics.enable")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if auto {
            create(broker, dlq_topic).await;
            return Err(DlqError::Retry(format!("creating {dlq_topic}")));
        }
        return Err(DlqError::Drop(format!(
            "the dead-letter topic {dlq_topic} does not exist"
        )));
    };
    if !topic
        .configs
        .get(GROUP_ENABLE)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return Err(DlqError::Drop(format!(
            "DLQ is not enabled on configured DLQ topic {dlq_topic} ({GROUP_ENABLE} is not true)"
        )));
    }
    let n = topic.partitions.len() as i32;
    if n == 0 {
        return Err(DlqError::Retry(format!(
            "{dlq_topic} has no partitions yet"
        )));
    }
    let dp = key.partition.rem_euclid(n);
    let target = topic
        .leader(dp, -1)
        .cloned()
        .map_err(|code| DlqError::Retry(format!("{dlq_topic}-{dp} not led here ({code})")))?;
    let source_topic = broker.topic_by_id(&key.topic_id);
    let source_name = source_topic
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_else(|| key.topic_id.to_string());
    let source = source_topic
        .as_ref()
        .and_then(|t| t.replica(key.partition).cloned());
    let mut done: BTreeSet<i64> = BTreeSet::new();
    if !checked {
        let from = pending
            .iter()
            .map(|d| d.mark)
            .filter(|m| *m >= 0)
            .min()
            .unwrap_or(0);
        let wanted: BTreeSet<i64> = pending.iter().map(|d| d.offset).collect();
        let found = read_records(&target, from).map_err(DlqError::Retry)?;
        for r in found {
            let ours = header(&r, H_GROUP).as_deref() == Some(key.group.as_str())
                && header(&r, H_TOPIC).as_deref() == Some(source_name.as_str())
                && header(&r, H_PARTITION).as_deref() == Some(key.partition.to_string().as_str());
            if let Some(o) = header(&r, H_OFFSET).and_then(|o| o.parse::<i64>().ok()) {
                if ours && wanted.contains(&o) {
                    done.insert(o);
                }
            }
        }
    }
    let now = now_ms();
    let mut records: Vec<crate::log::records::NewRecord> = Vec::new();
    for d in pending.iter().filter(|d| !done.contains(&d.offset)) {
        let original = if copy_record {
            source.as_ref().and_then(|p| source_record(p, d.offset))
        } else {
            None
        };
        let (rkey, value, mut headers) = match original {
            Some(o) => (o.key, o.value, o.headers),
            None => (None, None, Vec::new()),
        };
        let mut put = |k: &'static str, v: String| {
            headers.push((Bytes::from_static(k.as_bytes()), Some(Bytes::from(v))));
        };
        put(H_TOPIC, source_name.clone());
        put(H_PARTITION, key.partition.to_string());
        put(H_OFFSET, d.offset.to_string());
        put(H_GROUP, key.group.clone());
        put(H_DELIVERY_COUNT, d.delivery_count.to_string());
        records.push((rkey, value, headers));
    }
    let written = records.len();
    if !records.is_empty() {
        let batch =
            crate::log::records::encode_plain_batch(&records, now).map_err(DlqError::Retry)?;
        let mut buf = BytesMut::from(&batch[..]);
        let info = target
            .append_as_leader(&mut buf, now, AppendOrigin::Coordinator, false)
            .map_err(|e| DlqError::Retry(format!("append to {dlq_topic}-{dp}: {e:?}")))?;
        target
            .await_committed(info.last_offset + 1)
            .await
            .map_err(|e| DlqError::Retry(format!("commit of {dlq_topic}-{dp}: {e:?}")))?;
    }
    Ok((pending.iter().map(|d| d.offset).collect(), written))
}
