//! The tokio side of the transaction coordinator: one task owns the
//! [`TransactionCoordinator`] state machine, takes requests in arrival order from a channel,
//! and carries out each Outcome — append its records to `__transaction_state` (Kafka's
//! schemas, one batch per partition), publish which partitions each producer may write
//! ([`crate::cluster::txn_partitions`]), send its responses, arm or cancel its timers, and
//! write its transaction markers. On start it creates `__transaction_state` if needed and
//! replays it before the listener accepts anyone; transactions that were in PrepareCommit or
//! PrepareAbort get their markers written again.
//!
//! Markers: for every partition of a MarkerRequest a control batch is appended (for
//! `__consumer_offsets` partitions through the group runtime, which also completes the pending
//! transactional offsets), then fsynced; only when every partition has its marker does the
//! coordinator hear `markers_written` and persist CompleteCommit/CompleteAbort. A partition
//! that cannot take its marker (offline) is retried every second, as Kafka's marker channel
//! retries; a partition whose topic was deleted needs none.
//!
//! Producer ids come from [`ProducerIdBlocks`], persisted in blocks so they survive restarts.
//!
//! Durability of transaction records: like group records, appended to the page cache before
//! the answer (survives `kill -9`), fsynced per the topic's flush policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::internal_topic::{self, Timers};
use crate::api::now_ms;
use crate::cluster::producer_ids::ProducerIdBlocks;
use crate::cluster::{Broker, Partition};
use crate::server::group_runtime::OFFSETS_TOPIC;
use crate::txn::types::{
    ErrorCode, MarkerRequest, Outcome, PartitionsUpdate, ProducerIdAllocator, Record, Request,
    RequestId, Response, TimerKey, TimerOp,
};
use crate::txn::TransactionCoordinator;

pub const TXN_TOPIC: &str = "__transaction_state";

/// COORDINATOR_NOT_AVAILABLE: every response of an Outcome whose records were not appended.
const COORDINATOR_NOT_AVAILABLE: i16 = 15;

enum Msg {
    Request(Request, oneshot::Sender<Response>),
    MarkersWritten {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
    },
}

/// Cheap to clone; how API handlers reach the coordinator.
#[derive(Clone)]
pub struct TxnHandle {
    tx: mpsc::UnboundedSender<Msg>,
}

impl TxnHandle {
    /// Queue a request now (so requests from one connection reach the coordinator in order)
    /// and return a future for its response.
    pub fn submit(
        &self,
        request: Request,
    ) -> impl std::future::Future<Output = Option<Response>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.send(Msg::Request(request, tx)).is_ok();
        async move {
            if !sent {
                return None;
            }
            rx.await.ok()
        }
    }
}

/// The persistent producer id allocator behind the coordinator's seam.
struct PersistentIds(ProducerIdBlocks);

impl ProducerIdAllocator for PersistentIds {
    fn allocate(&mut self) -> Result<i64, ErrorCode> {
        self.0.allocate().map_err(|e| {
            tracing::error!("cannot reserve producer ids: {e}");
            COORDINATOR_NOT_AVAILABLE
        })
    }
}

/// Create `__transaction_state` if missing and replay it; then spawn the coordinator task.
pub fn start(broker: &Arc<Broker>) -> anyhow::Result<TxnHandle> {
    let cfg = &broker.config;
    let topic = match broker.topic(TXN_TOPIC) {
        Some(t) => t,
        None => {
            let mut configs = BTreeMap::new();
            // Compacted, as in Kafka: the latest record per key is kept, never deleted by age.
            configs.insert("cleanup.policy".to_string(), Some("compact".to_string()));
            configs.insert(
                "segment.bytes".to_string(),
                Some(cfg.transaction_state_log_segment_bytes.to_string()),
            );
            broker.create_topic(
                TXN_TOPIC,
                cfg.transaction_state_log_num_partitions,
                1,
                configs,
            )?
        }
    };
    let mut txn_config = cfg.txn_config();
    txn_config.transaction_state_partitions = topic.partitions.len() as i32;
    if let Some(offsets) = broker.topic(OFFSETS_TOPIC) {
        txn_config.offsets_topic_partitions = offsets.partitions.len() as i32;
    }
    let ids = ProducerIdBlocks::open(&cfg.data_dir.join("meta"))?;
    let mut coordinator = TransactionCoordinator::new(txn_config, Box::new(PersistentIds(ids)));
    let now = now_ms();
    let mut replayed = 0usize;
    for p in &topic.partitions {
        replayed += replay_partition(&mut coordinator, p, now)?;
    }
    // Zombies of every known transactional id stay fenced across restarts.
    for id in coordinator.transactional_ids() {
        if let Some(m) = coordinator.transaction(&id) {
            broker
                .txn_partitions
                .note_epoch(m.producer_id, m.producer_epoch);
        }
    }
    let loaded = coordinator.loaded(now);
    tracing::info!(records = replayed, "replayed {TXN_TOPIC}");
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = TxnHandle { tx };
    let rt = Runtime {
        broker: Arc::clone(broker),
        partitions: topic.partitions.clone(),
        self_tx: handle.tx.clone(),
        waiting: HashMap::new(),
        timers: Timers::default(),
        end_txn_ids: HashMap::new(),
        txn_inits: std::collections::HashSet::new(),
        parked: HashMap::new(),
    };
    tokio::spawn(rt.run(coordinator, rx, loaded));
    Ok(handle)
}

fn replay_partition(
    coordinator: &mut TransactionCoordinator,
    p: &Arc<Partition>,
    now: i64,
) -> anyhow::Result<usize> {
    internal_topic::replay_partition(TXN_TOPIC, p, |r| {
        let Some(key) = r.key.as_ref().filter(|_| !r.control) else {
            return;
        };
        if let Err(e) = coordinator.replay(now, key, r.value.as_deref()) {
            tracing::warn!(
                partition = p.index,
                offset = r.offset,
                "skipping record: {e:?}"
            );
        }
    })
}

fn append_records(partitions: &[Arc<Partition>], records: &[Record], now: i64) -> bool {
    let emitted = records
        .iter()
        .map(|r| (r.partition, None, &r.key, r.value.as_ref()));
    internal_topic::append_records(TXN_TOPIC, partitions, emitted, now)
}

struct Runtime {
    broker: Arc<Broker>,
    partitions: Vec<Arc<Partition>>,
    self_tx: mpsc::UnboundedSender<Msg>,
    waiting: HashMap<RequestId, oneshot::Sender<Response>>,
    timers: Timers<TimerKey>,
    /// InitProducerId requests with a transactional id, not answered yet.
    txn_inits: std::collections::HashSet<RequestId>,
    /// Transactional ids of EndTxn requests not answered yet.
    end_txn_ids: HashMap<RequestId, String>,
    /// Successful EndTxn answers held until the transaction's markers are written.
    parked: HashMap<String, Vec<(oneshot::Sender<Response>, Response)>>,
}

impl Runtime {
    async fn run(
        mut self,
        mut coordinator: TransactionCoordinator,
        mut rx: mpsc::UnboundedReceiver<Msg>,
        loaded: Outcome,
    ) {
        let mut next_id: RequestId = 0;
        self.deliver(loaded);
        loop {
            let next = self.timers.next();
            let sleep_for = next.as_ref().map(|(_, d)| {
                let ms = (*d - now_ms()).max(0) as u64;
                Instant::now() + Duration::from_millis(ms)
            });
            tokio::select! {
                msg = rx.recv() => {
                    let outcome = match msg {
                        None => return,
                        Some(Msg::Request(req, reply)) => {
                            next_id += 1;
                            match &req {
                                Request::EndTxn { transactional_id, .. } => {
                                    self.end_txn_ids.insert(next_id, transactional_id.clone());
                                }
                                Request::InitProducerId { transactional_id: Some(_), .. } => {
                                    self.txn_inits.insert(next_id);
                                }
                                _ => {}
                            }
                            self.waiting.insert(next_id, reply);
                            coordinator.handle(now_ms(), next_id, req)
                        }
                        Some(Msg::MarkersWritten { transactional_id, producer_id, producer_epoch }) => {
                            let out = coordinator.markers_written(now_ms(), &transactional_id, producer_id, producer_epoch);
                            self.deliver(out);
                            // The transaction is complete: answer its parked EndTxn.
                            for (tx, resp) in self.parked.remove(&transactional_id).unwrap_or_default() {
                                let _ = tx.send(resp);
                            }
                            continue;
                        }
                    };
                    self.deliver(outcome);
                }
                _ = async {
                    match sleep_for {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    if let Some((key, _)) = next {
                        self.timers.cancel(&key);
                        let outcome = coordinator.on_timer(now_ms(), key);
                        self.deliver(outcome);
                    }
                }
            }
        }
    }

    fn deliver(&mut self, outcome: Outcome) {
        let appended = outcome.records.is_empty()
            || append_records(&self.partitions, &outcome.records, now_ms());
        // Memory is ahead of the log when the append failed: the answers become errors, but
        // partition updates and markers still apply (see txn::errors, Outcome::with_error).
        let outcome = if appended {
            outcome
        } else {
            outcome.with_error(COORDINATOR_NOT_AVAILABLE)
        };
        for update in outcome.partitions {
            match update {
                PartitionsUpdate::Set {
                    producer_id,
                    producer_epoch,
                    partitions,
                } => self
                    .broker
                    .txn_partitions
                    .set(producer_id, producer_epoch, partitions),
                PartitionsUpdate::Clear { producer_id } => {
                    self.broker.txn_partitions.clear(producer_id)
                }
            }
        }
        for m in &outcome.markers {
            self.broker
                .txn_partitions
                .note_epoch(m.producer_id, m.producer_epoch);
        }
        for (id, resp) in outcome.responses {
            if self.txn_inits.remove(&id) {
                if let Response::InitProducerId {
                    error: 0,
                    producer_id,
                    producer_epoch,
                } = resp
                {
                    self.broker
                        .txn_partitions
                        .note_epoch(producer_id, producer_epoch);
                }
            }
            let end_txn = self.end_txn_ids.remove(&id);
            let Some(tx) = self.waiting.remove(&id) else {
                continue;
            };
            // A successful EndTxn is answered once its markers are written (Kafka answers
            // right after PrepareCommit, and the client's next AddPartitionsToTxn then meets
            // CONCURRENT_TRANSACTIONS and backs off ~100 ms; waiting for the markers costs
            // about one fsync and spares that).
            match end_txn {
                Some(tid)
                    if matches!(resp, Response::EndTxn { error: 0 })
                        && outcome.markers.iter().any(|m| m.transactional_id == tid) =>
                {
                    self.parked.entry(tid).or_default().push((tx, resp));
                }
                _ => {
                    let _ = tx.send(resp);
                }
            }
        }
        for op in outcome.timers {
            match op {
                TimerOp::Set { key, deadline_ms } => self.timers.set(key, deadline_ms),
                TimerOp::Cancel { key } => self.timers.cancel(&key),
            }
        }
        for m in outcome.markers {
            let broker = Arc::clone(&self.broker);
            let done = self.self_tx.clone();
            tokio::spawn(async move {
                write_markers(&broker, &m).await;
                let _ = done.send(Msg::MarkersWritten {
                    transactional_id: m.transactional_id,
                    producer_id: m.producer_id,
                    producer_epoch: m.producer_epoch,
                });
            });
        }
    }
}

/// Write (and fsync) the marker of `m` to every partition, retrying partitions that fail.
/// Every marker is appended first and the fsyncs then run concurrently.
async fn write_markers(broker: &Arc<Broker>, m: &MarkerRequest) {
    let mut left: Vec<(String, i32)> = m.partitions.clone();
    loop {
        let writes = left
            .iter()
            .map(|(topic, index)| write_marker(broker, m, topic, *index));
        let results = futures::future::join_all(writes).await;
        let mut failed = Vec::new();
        for ((topic, index), r) in left.into_iter().zip(results) {
            if let Err(e) = r {
                tracing::warn!(%topic, partition = index, producer_id = m.producer_id, "transaction marker not written, retrying: {e}");
                failed.push((topic, index));
            }
        }
        if failed.is_empty() {
            return;
        }
        left = failed;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn write_marker(
    broker: &Arc<Broker>,
    m: &MarkerRequest,
    topic: &str,
    index: i32,
) -> anyhow::Result<()> {
    if topic == OFFSETS_TOPIC {
        let groups = broker
            .groups
            .get()
            .ok_or_else(|| anyhow::anyhow!("group coordinator not running"))?;
        return groups
            .write_marker(
                index,
                m.producer_id,
                m.producer_epoch,
                m.commit,
                m.coordinator_epoch,
            )
            .await;
    }
    let Some(p) = broker.topic(topic).and_then(|t| {
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i).cloned())
    }) else {
        // The topic was deleted (or never had this partition): nothing to complete there.
        return Ok(());
    };
    let end = {
        let mut log = p.log();
        let info = log.append_control(
            m.producer_id,
            m.producer_epoch,
            m.commit,
            m.coordinator_epoch,
            p.leader_epoch,
            now_ms(),
        )?;
        info.last_offset + 1
    };
    p.appended.notify_waiters();
    p.await_durable(end).await?;
    Ok(())
}
