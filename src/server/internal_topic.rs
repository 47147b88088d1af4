//! What the coordinator runtimes (group_runtime.rs, txn_runtime.rs) share about their internal
//! topics: reading a partition back record by record at startup, encoding records as one v2
//! batch, and the armed timers of a state machine.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record as KRecord, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType,
};

use crate::cluster::Partition;
use crate::log::AppendOrigin;

/// Feed every record of `p`, from its log start to its log end, to `apply` in offset order
/// (control records included). Returns how many records were read.
pub fn replay_partition(
    topic: &str,
    p: &Arc<Partition>,
    mut apply: impl FnMut(&KRecord),
) -> anyhow::Result<usize> {
    let mut offset = p.log().log_start_offset();
    let mut count = 0;
    loop {
        let end = p.log().log_end_offset();
        if offset >= end {
            return Ok(count);
        }
        let plan = p.log().read(offset, 1 << 20, true)?;
        let mut bytes = plan.execute()?;
        if bytes.is_empty() {
            return Ok(count);
        }
        while !bytes.is_empty() {
            let set = RecordBatchDecoder::decode(&mut bytes)
                .map_err(|e| anyhow::anyhow!("{topic}-{}: {e}", p.index))?;
            for r in set.records {
                // A read starts with the whole batch holding `offset`.
                if r.offset < offset {
                    continue;
                }
                offset = r.offset + 1;
                count += 1;
                apply(&r);
            }
        }
    }
}

/// Encode (key, value) records as one v2 batch; with a producer (id, epoch) the batch is
/// transactional (TxnOffsetCommit), else it carries no producer.
pub fn encode_batch<'a>(
    records: impl Iterator<Item = (&'a Bytes, Option<&'a Bytes>)>,
    producer: Option<(i64, i16)>,
    now: i64,
) -> anyhow::Result<BytesMut> {
    let (producer_id, producer_epoch) = producer.unwrap_or((-1, -1));
    let krecords: Vec<KRecord> = records
        .enumerate()
        .map(|(i, (key, value))| KRecord {
            transactional: producer.is_some(),
            control: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: now,
            key: Some(key.clone()),
            value: value.cloned(),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &krecords,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )?;
    Ok(buf)
}

/// One record a coordinator emitted: (partition, producer of a transactional record, key, value).
pub type Emitted<'a> = (i32, Option<(i64, i16)>, &'a Bytes, Option<&'a Bytes>);

/// Append a coordinator's records to its internal topic: one batch per (partition, producer),
/// each partition's batches in the records' order, appended as the coordinator (a
/// transactional batch's producer epoch is checked and its transaction tracked by the log, no
/// client sequence). False if any partition could not take its records.
pub fn append_records<'a>(
    topic: &str,
    partitions: &[Arc<Partition>],
    records: impl Iterator<Item = Emitted<'a>>,
    now: i64,
) -> bool {
    type BatchKey = (i32, Option<(i64, i16)>);
    type KeyValue<'b> = (&'b Bytes, Option<&'b Bytes>);
    let mut batches: Vec<(BatchKey, Vec<KeyValue<'a>>)> = Vec::new();
    for (partition, producer, key, value) in records {
        let k = (partition, producer);
        match batches.iter_mut().find(|(bk, _)| *bk == k) {
            Some((_, v)) => v.push((key, value)),
            None => batches.push((k, vec![(key, value)])),
        }
    }
    let mut ok = true;
    for ((index, producer), recs) in batches {
        let Some(p) = usize::try_from(index).ok().and_then(|i| partitions.get(i)) else {
            tracing::error!(partition = index, "{topic} has no such partition");
            ok = false;
            continue;
        };
        let res = encode_batch(recs.into_iter(), producer, now).and_then(|mut buf| {
            let epoch = p.leader_epoch;
            p.log()
                .append_from(&mut buf, epoch, now, AppendOrigin::Coordinator)
                .map_err(anyhow::Error::from)
        });
        match res {
            Ok(_) => p.appended.notify_waiters(),
            Err(e) => {
                tracing::error!(partition = index, "cannot append to {topic}: {e}");
                ok = false;
            }
        }
    }
    ok
}

/// Armed timers: at most one deadline per key, ordered by deadline.
pub struct Timers<K> {
    by_key: HashMap<K, i64>,
    by_deadline: BTreeSet<(i64, K)>,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_key: HashMap::new(),
            by_deadline: BTreeSet::new(),
        }
    }
}

impl<K: Clone + Ord + Hash> Timers<K> {
    /// Arm `key` for `deadline_ms`, replacing an earlier deadline of the same key.
    pub fn set(&mut self, key: K, deadline_ms: i64) {
        self.cancel(&key);
        self.by_deadline.insert((deadline_ms, key.clone()));
        self.by_key.insert(key, deadline_ms);
    }

    pub fn cancel(&mut self, key: &K) {
        if let Some(d) = self.by_key.remove(key) {
            self.by_deadline.remove(&(d, key.clone()));
        }
    }

    /// The earliest armed timer.
    pub fn next(&self) -> Option<(K, i64)> {
        self.by_deadline.first().map(|(d, k)| (k.clone(), *d))
    }
}
