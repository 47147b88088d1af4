//! What the coordinator runtimes (group_runtime.rs, txn_runtime.rs) share about their internal
//! topics `__consumer_offsets` / `__transaction_state`: which partitions this broker
//! coordinates ([`CoordinatorPartitions`]), reading a partition back record by record when it
//! is loaded, encoding records as v2 batches, appending them, waiting until they are
//! committed, and the armed timers of a state machine.
//!
//! Every coordinator append goes through [`append_records`] (records) or the runtimes'
//! marker path, and is then awaited with [`when_committed`], which waits on
//! [`Partition::await_committed`] (the high watermark passing the appended records) before
//! the answers leave: in a cluster a coordinator never answers with state that a leader
//! change could lose. On a single node the records are committed as soon as they are
//! appended, and the answers leave at once, on the runtime task.
//!
//! Concurrency: everything here is owned by one runtime task, except the commit waits, which
//! run on their own tasks when they cannot complete at once.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use kafka_protocol::records::{
    Compression, Record as KRecord, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType,
};

use crate::api::errors::log_error_code;
use crate::cluster::partition::{CommitError, LeaderAppendError};
use crate::cluster::Partition;
use crate::log::{AppendOrigin, LogError};

/// How a coordinator runtime starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// Load every hosted partition of the (existing) internal topic at start (tests).
    All,
    /// Every broker: start with nothing loaded; the broker loads and unloads partitions as
    /// it gains and loses their leadership (a single node too, through the same path).
    OnDemand,
}

/// What became of a request to load a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    /// Replayed (this many records) and serving.
    Loaded { records: usize },
    /// It was loaded already (a newer leader epoch is adopted without reloading).
    AlreadyLoaded,
    /// Its leader epoch is older than one already seen for the partition: ignored.
    Stale,
    /// Unloaded before the load finished.
    Cancelled,
    /// The partition could not be read (it stays unloaded: NOT_COORDINATOR).
    Failed(String),
}

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

/// Every record of `p` from its log start to its log end, in offset order (control records
/// included): what loading a partition replays. Blocking (reads the log files).
pub fn read_records(topic: &str, p: &Arc<Partition>) -> anyhow::Result<Vec<KRecord>> {
    let mut records = Vec::new();
    replay_partition(topic, p, |r| records.push(r.clone()))?;
    Ok(records)
}

/// One record a coordinator emitted: (partition, producer of a transactional record, key, value).
pub type Emitted<'a> = (i32, Option<(i64, i16)>, &'a Bytes, Option<&'a Bytes>);

/// Why a coordinator's append (or the wait for its commit) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("{topic} has no partition {partition} here")]
    UnknownPartition { topic: String, partition: i32 },
    #[error("append failed: {0}")]
    Log(String, i16),
    #[error("not committed: {0}")]
    Commit(#[from] CommitError),
    #[error("not committed within the timeout")]
    TimedOut,
}

/// Kafka's error codes used here.
const UNKNOWN_SERVER_ERROR: i16 = -1;
const INVALID_FETCH_SIZE: i16 = 4;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const REQUEST_TIMED_OUT: i16 = 7;
const MESSAGE_TOO_LARGE: i16 = 10;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const RECORD_LIST_TOO_LARGE: i16 = 18;
const NOT_ENOUGH_REPLICAS: i16 = 19;
const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
const KAFKA_STORAGE_ERROR: i16 = 56;

impl From<LeaderAppendError> for AppendError {
    fn from(e: LeaderAppendError) -> Self {
        match e {
            LeaderAppendError::NotLeader => AppendError::Commit(CommitError::NotLeader),
            LeaderAppendError::NotEnoughReplicas { .. } => {
                AppendError::Commit(CommitError::NotEnoughReplicas)
            }
            LeaderAppendError::Log(e) => AppendError::from(e),
        }
    }
}

impl From<LogError> for AppendError {
    fn from(e: LogError) -> Self {
        let code = log_error_code(&e);
        AppendError::Log(e.to_string(), code)
    }
}

impl AppendError {
    /// The error as the log layer reports it (what Produce or WriteTxnMarkers would answer).
    pub fn kafka_code(&self) -> i16 {
        match self {
            AppendError::UnknownPartition { .. } => UNKNOWN_TOPIC_OR_PARTITION,
            AppendError::Log(_, code) => *code,
            AppendError::Commit(CommitError::NotLeader) => NOT_LEADER_OR_FOLLOWER,
            AppendError::Commit(CommitError::NotEnoughReplicas) => NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            AppendError::Commit(CommitError::Offline) => KAFKA_STORAGE_ERROR,
            AppendError::TimedOut => REQUEST_TIMED_OUT,
        }
    }

    /// What a coordinator answers instead, as Kafka translates its own write errors
    /// (GroupCoordinatorService's `handleOperationException`, TransactionStateManager's
    /// `appendTransactionToLog`): the client retries, rediscovering the coordinator when
    /// this broker no longer is one.
    pub fn coordinator_code(&self) -> i16 {
        match self.kafka_code() {
            UNKNOWN_TOPIC_OR_PARTITION
            | NOT_ENOUGH_REPLICAS
            | NOT_ENOUGH_REPLICAS_AFTER_APPEND
            | REQUEST_TIMED_OUT => COORDINATOR_NOT_AVAILABLE,
            NOT_LEADER_OR_FOLLOWER | KAFKA_STORAGE_ERROR => NOT_COORDINATOR,
            MESSAGE_TOO_LARGE | RECORD_LIST_TOO_LARGE | INVALID_FETCH_SIZE => UNKNOWN_SERVER_ERROR,
            other => other,
        }
    }

    /// A commit wait that may still succeed later (the records stay in the leader's log).
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            AppendError::TimedOut | AppendError::Commit(CommitError::NotEnoughReplicas)
        )
    }
}

/// Append a coordinator's records to its internal topic: one batch per (partition,
/// producer), each partition's batches in the records' order, appended as the coordinator (a
/// transactional batch's producer epoch is checked and its transaction tracked by the log, no
/// client sequence). `partition` finds a partition of the topic. Returns what must be
/// committed before answering; the first error if any partition could not take its records
/// (the others are appended all the same).
pub fn append_records<'a>(
    topic: &str,
    partition: impl Fn(i32) -> Option<Arc<Partition>>,
    records: impl Iterator<Item = Emitted<'a>>,
    now: i64,
) -> Result<PendingCommit, AppendError> {
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
    let mut pending = PendingCommit::default();
    let mut first_error = None;
    for ((index, producer), recs) in batches {
        let res = append_batch(topic, &partition, index, producer, recs, now);
        match res {
            Ok((p, end)) => pending.add(index, p, end),
            Err(e) => {
                tracing::error!(partition = index, "cannot append to {topic}: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(pending),
    }
}

fn append_batch(
    topic: &str,
    partition: &impl Fn(i32) -> Option<Arc<Partition>>,
    index: i32,
    producer: Option<(i64, i16)>,
    records: Vec<(&Bytes, Option<&Bytes>)>,
    now: i64,
) -> Result<(Arc<Partition>, i64), AppendError> {
    let p = partition(index).ok_or_else(|| AppendError::UnknownPartition {
        topic: topic.to_string(),
        partition: index,
    })?;
    let mut buf = encode_batch(records.into_iter(), producer, now)
        .map_err(|e| AppendError::Log(e.to_string(), UNKNOWN_SERVER_ERROR))?;
    let info = p.append_as_leader(&mut buf, now, AppendOrigin::Coordinator, false)?;
    Ok((p, info.last_offset + 1))
}

/// Appended records not yet known to be committed: per internal-topic partition, the end
/// offset to wait for.
#[derive(Clone, Default)]
pub struct PendingCommit {
    waits: Vec<(i32, Arc<Partition>, i64)>,
}

impl PendingCommit {
    /// Also wait until `p` (partition `index` of the topic) is committed below `end_offset`.
    pub fn add(&mut self, index: i32, p: Arc<Partition>, end_offset: i64) {
        match self.waits.iter_mut().find(|(i, _, _)| *i == index) {
            Some(w) => {
                w.2 = w.2.max(end_offset);
                w.1 = p;
            }
            None => self.waits.push((index, p, end_offset)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.waits.is_empty()
    }

    /// (partition index, partition, end offset) of every wait.
    pub fn waits(&self) -> impl Iterator<Item = (i32, &Arc<Partition>, i64)> + '_ {
        self.waits.iter().map(|(i, p, e)| (*i, p, *e))
    }

    /// Resolves once every wait is committed (no timeout: see [`when_committed`]).
    pub async fn committed(self) -> Result<(), AppendError> {
        for (_, p, end) in &self.waits {
            p.await_committed(*end).await?;
        }
        Ok(())
    }
}

/// Call `finish` with the outcome of waiting for `pending` to be committed: at once (on the
/// caller's task) when it already is — always on a single node — else on a new task, after
/// at most `timeout` (None: no limit).
pub fn when_committed(
    pending: PendingCommit,
    timeout: Option<Duration>,
    finish: impl FnOnce(Result<(), AppendError>) + Send + 'static,
) {
    let mut wait = Box::pin(pending.committed());
    if let Some(result) = wait.as_mut().now_or_never() {
        return finish(result);
    }
    tokio::spawn(async move {
        let result = match timeout {
            Some(t) => tokio::time::timeout(t, wait)
                .await
                .unwrap_or(Err(AppendError::TimedOut)),
            None => wait.await,
        };
        finish(result);
    });
}

/// Where one internal-topic partition stands on this broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionState {
    /// Being replayed; `generation` tells this load from a later one.
    Loading {
        leader_epoch: i32,
        generation: u64,
    },
    Loaded {
        leader_epoch: i32,
    },
}

/// The next step after asking to load a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStep {
    /// Read and replay the partition, then call [`CoordinatorPartitions::finish_load`].
    Start { generation: u64 },
    /// Already loading: the running load now carries the newer epoch (if newer).
    AlreadyLoading,
    /// Already loaded: its epoch is now `leader_epoch` (unchanged if not newer).
    AlreadyLoaded { leader_epoch: i32 },
    /// Older than an epoch already seen for the partition: ignored.
    Stale,
}

/// Which internal-topic partitions this coordinator serves (Loaded), is replaying (Loading)
/// or does not serve (absent): Kafka's NOT_COORDINATOR and COORDINATOR_LOAD_IN_PROGRESS.
/// Pure bookkeeping, owned by a runtime task.
#[derive(Debug, Default)]
pub struct CoordinatorPartitions {
    states: HashMap<i32, PartitionState>,
    /// The newest leader epoch seen per partition, kept after an unload so that a late,
    /// older load is recognized as stale.
    newest_epoch: HashMap<i32, i32>,
    next_generation: u64,
}

impl CoordinatorPartitions {
    /// Mark `partition` loaded at once (LoadMode::All replays before serving).
    pub fn set_loaded(&mut self, partition: i32, leader_epoch: i32) {
        self.states
            .insert(partition, PartitionState::Loaded { leader_epoch });
        self.note_epoch(partition, leader_epoch);
    }

    fn note_epoch(&mut self, partition: i32, leader_epoch: i32) {
        let e = self.newest_epoch.entry(partition).or_insert(leader_epoch);
        *e = (*e).max(leader_epoch);
    }

    /// This broker became leader of `partition` with `leader_epoch`.
    pub fn begin_load(&mut self, partition: i32, leader_epoch: i32) -> LoadStep {
        if self
            .newest_epoch
            .get(&partition)
            .is_some_and(|&e| leader_epoch < e)
        {
            return LoadStep::Stale;
        }
        self.note_epoch(partition, leader_epoch);
        match self.states.get_mut(&partition) {
            Some(PartitionState::Loading {
                leader_epoch: e, ..
            }) => {
                *e = (*e).max(leader_epoch);
                LoadStep::AlreadyLoading
            }
            Some(PartitionState::Loaded { leader_epoch: e }) => {
                *e = (*e).max(leader_epoch);
                LoadStep::AlreadyLoaded { leader_epoch: *e }
            }
            None => {
                self.next_generation += 1;
                let generation = self.next_generation;
                self.states.insert(
                    partition,
                    PartitionState::Loading {
                        leader_epoch,
                        generation,
                    },
                );
                LoadStep::Start { generation }
            }
        }
    }

    /// The load `generation` of `partition` finished: Some(its leader epoch) if it is still
    /// the current load (the partition is now Loaded), None if it was unloaded meanwhile.
    pub fn finish_load(&mut self, partition: i32, generation: u64) -> Option<i32> {
        match self.states.get(&partition) {
            Some(&PartitionState::Loading {
                leader_epoch,
                generation: g,
            }) if g == generation => {
                self.states
                    .insert(partition, PartitionState::Loaded { leader_epoch });
                Some(leader_epoch)
            }
            _ => None,
        }
    }

    /// The load `generation` failed: the partition is not served.
    pub fn fail_load(&mut self, partition: i32, generation: u64) {
        if matches!(self.states.get(&partition),
            Some(PartitionState::Loading { generation: g, .. }) if *g == generation)
        {
            self.states.remove(&partition);
        }
    }

    /// This broker stopped leading `partition`; returns what it was.
    pub fn unload(&mut self, partition: i32) -> Option<PartitionState> {
        self.states.remove(&partition)
    }

    /// Ok(leader epoch) if `partition` is served here, else the Kafka error to answer.
    pub fn check(&self, partition: i32) -> Result<i32, i16> {
        match self.states.get(&partition) {
            Some(PartitionState::Loaded { leader_epoch }) => Ok(*leader_epoch),
            Some(PartitionState::Loading { .. }) => Err(COORDINATOR_LOAD_IN_PROGRESS),
            None => Err(NOT_COORDINATOR),
        }
    }

    pub fn state(&self, partition: i32) -> Option<PartitionState> {
        self.states.get(&partition).copied()
    }

    pub fn any_loading(&self) -> bool {
        self.states
            .values()
            .any(|s| matches!(s, PartitionState::Loading { .. }))
    }

    /// Every loaded partition, sorted.
    pub fn loaded(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self
            .states
            .iter()
            .filter(|(_, s)| matches!(s, PartitionState::Loaded { .. }))
            .map(|(p, _)| *p)
            .collect();
        v.sort_unstable();
        v
    }
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

    /// Cancel every timer whose key `keep` rejects.
    pub fn retain(&mut self, keep: impl Fn(&K) -> bool) {
        self.by_key.retain(|k, _| keep(k));
        self.by_deadline.retain(|(_, k)| keep(k));
    }

    /// The earliest armed timer.
    pub fn next(&self) -> Option<(K, i64)> {
        self.by_deadline.first().map(|(d, k)| (k.clone(), *d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogConfig, PartitionLog};

    #[test]
    fn partitions_load_serve_and_unload() {
        let mut c = CoordinatorPartitions::default();
        assert_eq!(c.check(3), Err(16), "NOT_COORDINATOR before any load");
        let LoadStep::Start { generation } = c.begin_load(3, 5) else {
            panic!("first load starts");
        };
        assert_eq!(c.check(3), Err(14), "COORDINATOR_LOAD_IN_PROGRESS");
        assert!(c.any_loading());
        assert_eq!(c.begin_load(3, 5), LoadStep::AlreadyLoading);
        assert_eq!(c.finish_load(3, generation), Some(5));
        assert_eq!(c.check(3), Ok(5));
        assert!(!c.any_loading());
        assert_eq!(c.loaded(), vec![3]);
        // A newer epoch while loaded is adopted without a reload; an older one is stale.
        assert_eq!(
            c.begin_load(3, 6),
            LoadStep::AlreadyLoaded { leader_epoch: 6 }
        );
        assert_eq!(c.begin_load(3, 4), LoadStep::Stale);
        assert_eq!(c.check(3), Ok(6));
        assert_eq!(
            c.unload(3),
            Some(PartitionState::Loaded { leader_epoch: 6 })
        );
        assert_eq!(c.check(3), Err(16));
        // After the unload, a late load of an older epoch stays ignored; the same or a
        // newer epoch loads again.
        assert_eq!(c.begin_load(3, 5), LoadStep::Stale);
        assert!(matches!(c.begin_load(3, 6), LoadStep::Start { .. }));
    }

    #[test]
    fn a_load_overtaken_by_an_unload_does_not_complete() {
        let mut c = CoordinatorPartitions::default();
        let LoadStep::Start { generation: first } = c.begin_load(1, 0) else {
            panic!("starts");
        };
        c.unload(1);
        let LoadStep::Start { generation: second } = c.begin_load(1, 1) else {
            panic!("starts again");
        };
        assert_eq!(c.finish_load(1, first), None, "the first load is obsolete");
        assert_eq!(c.check(1), Err(14));
        c.fail_load(1, first);
        assert_eq!(c.check(1), Err(14), "an obsolete failure changes nothing");
        c.fail_load(1, second);
        assert_eq!(c.check(1), Err(16));
        c.set_loaded(2, 7);
        assert_eq!(c.check(2), Ok(7));
        assert_eq!(c.begin_load(2, 6), LoadStep::Stale);
    }

    #[test]
    fn append_errors_become_kafkas_coordinator_errors() {
        let cases: Vec<(AppendError, i16, i16)> = vec![
            (
                AppendError::UnknownPartition {
                    topic: "t".into(),
                    partition: 1,
                },
                3,
                15,
            ),
            (AppendError::Commit(CommitError::NotEnoughReplicas), 20, 15),
            (AppendError::TimedOut, 7, 15),
            (AppendError::Commit(CommitError::NotLeader), 6, 16),
            (AppendError::Commit(CommitError::Offline), 56, 16),
            (AppendError::from(LogError::Offline), 56, 16),
            (
                AppendError::from(LogError::MessageTooLarge { size: 2, max: 1 }),
                10,
                -1,
            ),
            (
                AppendError::from(LogError::InvalidProducerEpoch("x".into())),
                47,
                47,
            ),
        ];
        for (e, kafka, coordinator) in cases {
            assert_eq!(
                (e.kafka_code(), e.coordinator_code()),
                (kafka, coordinator),
                "{e}"
            );
        }
        assert!(AppendError::TimedOut.is_pending());
        assert!(!AppendError::Commit(CommitError::NotLeader).is_pending());
    }

    #[test]
    fn timers_retain_cancels_the_rejected_keys() {
        let mut t: Timers<(i32, i32)> = Timers::default();
        t.set((1, 1), 30);
        t.set((2, 1), 10);
        t.set((1, 2), 20);
        t.retain(|(p, _)| *p != 2);
        assert_eq!(t.next(), Some(((1, 2), 20)));
        t.cancel(&(1, 2));
        assert_eq!(t.next(), Some(((1, 1), 30)));
    }

    #[tokio::test]
    async fn appended_records_are_committed_at_once_on_a_single_node() {
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(dir.path(), LogConfig::default(), 0).unwrap();
        let p = Partition::new("__consumer_offsets", 0, 1, log);
        let config = crate::replica::LeaderConfig {
            min_insync_replicas: 1,
            replica_lag_time_max_ms: 30_000,
        };
        p.become_leader(0, 0, &[1], &[1], config, -1, 0).unwrap();
        let (k1, v1, k2) = (Bytes::from("k1"), Bytes::from("v1"), Bytes::from("k2"));
        let records = vec![(0, None, &k1, Some(&v1)), (0, None, &k2, None)];
        let lookup = |i: i32| (i == 0).then(|| Arc::clone(&p));
        let pending = append_records("__consumer_offsets", lookup, records.into_iter(), 1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pending.waits().map(|(i, _, e)| (i, e)).collect::<Vec<_>>(),
            vec![(0, 2)]
        );
        let (tx, rx) = std::sync::mpsc::channel();
        when_committed(pending, Some(Duration::from_secs(1)), move |r| {
            let _ = tx.send(r.is_ok());
        });
        // Called back before when_committed returned, on this task.
        assert_eq!(rx.try_recv(), Ok(true));
        let missing = vec![(1, None, &k1, Some(&v1))];
        let err = append_records("__consumer_offsets", lookup, missing.into_iter(), 1)
            .err()
            .unwrap_or_else(|| panic!("partition 1 does not exist"));
        assert_eq!(err.coordinator_code(), 15);
        assert_eq!(read_records("__consumer_offsets", &p).unwrap().len(), 2);
    }
}
