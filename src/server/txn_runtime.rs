//! The tokio side of the transaction coordinator: one task owns the
//! [`TransactionCoordinator`] state machine, takes requests in arrival order from a channel,
//! and carries out each Outcome — append its records to `__transaction_state` (Kafka's
//! schemas, one batch per partition) and, once they are committed, publish which partitions
//! each producer may write ([`crate::cluster::txn_partitions`]), send its responses and write
//! its transaction markers; timers are armed or cancelled at once.
//!
//! Coordinator partitions, as in group_runtime.rs: [`LoadMode::All`] (tests) replays every
//! hosted partition of an existing `__transaction_state` at start (transactions that were in
//! PrepareCommit or PrepareAbort get their markers written again); [`LoadMode::OnDemand`]
//! (every broker) starts empty and the broker calls
//! [`TxnHandle::load_partition`] / [`TxnHandle::unload_partition`] on leadership changes.
//! The partition's leader epoch is the coordinator epoch its markers carry. Requests for a
//! transactional id of a partition being loaded get COORDINATOR_LOAD_IN_PROGRESS, of one not
//! loaded here NOT_COORDINATOR. An unload drops the partition's transactions, cancels their
//! timers and marker writes, and answers their parked EndTxn (their PrepareCommit/Abort is
//! committed: the next coordinator completes them).
//!
//! Commit: an Outcome's answers, partition sets and markers wait until its records are
//! committed (at once on a single node). If that takes longer than the request timeout the
//! answers become errors (COORDINATOR_NOT_AVAILABLE) but the partition sets and markers still
//! wait for the commit; if the records are lost (leadership lost, storage failed) the
//! markers are never sent — the next coordinator decides from what its log holds. A failed
//! local append keeps today's single-node behaviour: answers become errors, the rest applies.
//!
//! Markers: written through [`MarkerSender`] (local partitions as WriteTxnMarkers serves
//! them, others through WriteTxnMarkers to their leader, retried — see txn_markers.rs); only
//! when every partition has its marker does the coordinator hear `markers_written` and
//! persist CompleteCommit/CompleteAbort.
//!
//! Producer ids come from a [`ProducerIdAllocator`]: by default the controller's blocks,
//! persisted in blocks in the data directory so they survive restarts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use kafka_protocol::records::Record as KRecord;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::internal_topic::{
    self, AppendError, CoordinatorPartitions, LoadMode, LoadOutcome, PendingCommit, Timers,
};
use super::txn_markers::{MarkerSender, MarkersResult};
use crate::api::now_ms;
use crate::cluster::{Broker, Partition};
use crate::server::group_runtime::OFFSETS_TOPIC;
use crate::txn::routing::{self, Gate, Scope};
use crate::txn::types::{
    ErrorCode, MarkerRequest, Outcome, PartitionsUpdate, ProducerIdAllocator, Request, RequestId,
    Response, TimerKey, TimerOp,
};
use crate::txn::TransactionCoordinator;

pub use super::txn_markers::{LocalOnly, MarkerRoute, MarkerRouter};

pub const TXN_TOPIC: &str = "__transaction_state";

/// request.timeout.ms (Kafka's default; TransactionStateManager bounds its appends by it).
pub const TXN_COMMIT_TIMEOUT: Duration = Duration::from_millis(30_000);

/// COORDINATOR_NOT_AVAILABLE: what a producer id allocation failure answers.
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;

/// How to start the transaction coordinator.
pub struct TxnOptions {
    pub mode: LoadMode,
    /// Where each partition's markers go.
    pub router: Arc<dyn MarkerRouter>,
    /// None: producer id blocks persisted in the data directory (a single node).
    pub producer_ids: Option<Box<dyn ProducerIdAllocator>>,
}

impl TxnOptions {
    /// Today's single node: load everything, every partition local, local id blocks.
    pub fn single_node(broker: &Arc<Broker>) -> TxnOptions {
        TxnOptions {
            mode: LoadMode::All,
            router: Arc::new(LocalOnly::new(broker)),
            producer_ids: None,
        }
    }
}

/// An Outcome whose records are appended but not known committed yet.
struct Deferred {
    responses: Vec<(RequestId, Response)>,
    partitions: Vec<PartitionsUpdate>,
    markers: Vec<MarkerRequest>,
}

enum Msg {
    Request(Request, oneshot::Sender<Response>),
    MarkersWritten {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
    },
    /// The commit wait of a Deferred ended.
    Committed {
        deferred: Box<Deferred>,
        pending: PendingCommit,
        result: Result<(), AppendError>,
    },
    Load {
        partition: i32,
        leader_epoch: i32,
        done: oneshot::Sender<LoadOutcome>,
    },
    Read {
        partition: i32,
        generation: u64,
        records: Result<Vec<KRecord>, String>,
    },
    Unload {
        partition: i32,
    },
}

/// Cheap to clone; how API handlers (and the broker, on leadership changes) reach the
/// coordinator.
#[derive(Clone)]
pub struct TxnHandle {
    tx: mpsc::UnboundedSender<Msg>,
    /// `__transaction_state` partition count.
    partitions: i32,
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

    /// This broker became leader of `__transaction_state` partition `partition` with
    /// `leader_epoch` (the coordinator epoch of its markers): load its transactions. The
    /// receiver tells how the load ended (dropping it is fine).
    pub fn load_partition(
        &self,
        partition: i32,
        leader_epoch: i32,
    ) -> oneshot::Receiver<LoadOutcome> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Msg::Load {
            partition,
            leader_epoch,
            done,
        });
        rx
    }

    /// This broker stopped leading `partition`: drop its transactions (NOT_COORDINATOR).
    pub fn unload_partition(&self, partition: i32) {
        let _ = self.tx.send(Msg::Unload { partition });
    }

    /// The `__transaction_state` partition of a transactional id (FindCoordinator: its
    /// leader).
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        crate::group::partition_for(transactional_id, self.partitions)
    }

    pub fn transaction_state_partitions(&self) -> i32 {
        self.partitions
    }
}

/// Producer ids from the blocks the controller hands this broker (see
/// `cluster/producer_ids.rs`); none at hand yet is COORDINATOR_LOAD_IN_PROGRESS, which
/// clients retry, as Kafka's RPCProducerIdManager answers.
struct ClusterIds(Arc<Broker>);

impl ProducerIdAllocator for ClusterIds {
    fn allocate(&mut self) -> Result<i64, ErrorCode> {
        self.0
            .producer_ids
            .allocate()
            .ok_or(COORDINATOR_LOAD_IN_PROGRESS)
    }
}

/// Start the transaction coordinator (see [`TxnOptions`]).
pub fn start(broker: &Arc<Broker>, options: TxnOptions) -> anyhow::Result<TxnHandle> {
    let cfg = &broker.config;
    let topic = match (broker.topic(TXN_TOPIC), options.mode) {
        (Some(t), _) => Some(t),
        (None, LoadMode::OnDemand) => None,
        // Internal topics are created through the controller (server/mod.rs); until
        // then nothing is loaded here.
        (None, LoadMode::All) => None,
    };
    let mut txn_config = cfg.txn_config();
    if let Some(t) = &topic {
        txn_config.transaction_state_partitions = t.partitions.len() as i32;
    }
    if let Some(offsets) = broker.topic(OFFSETS_TOPIC) {
        txn_config.offsets_topic_partitions = offsets.partitions.len() as i32;
    }
    let partitions = txn_config.transaction_state_partitions;
    let ids = match options.producer_ids {
        Some(ids) => ids,
        None => Box::new(ClusterIds(Arc::clone(broker))),
    };
    let mut coordinator = TransactionCoordinator::new(txn_config, ids);
    let mut served = CoordinatorPartitions::default();
    let now = now_ms();
    if let (LoadMode::All, Some(topic)) = (options.mode, &topic) {
        let mut replayed = 0usize;
        for p in topic.hosted() {
            replayed += internal_topic::replay_partition(TXN_TOPIC, p, |r| {
                apply_record(&mut coordinator, p.index, r, now)
            })?;
            served.set_loaded(p.index, p.leader_epoch());
            coordinator.set_coordinator_epoch(p.index, p.leader_epoch());
        }
        tracing::info!(records = replayed, "replayed {TXN_TOPIC}");
    }
    // Zombies of every known transactional id stay fenced across restarts.
    note_epochs(broker, &coordinator, |_| true);
    let loaded = coordinator.loaded(now);
    let (tx, rx) = mpsc::unbounded_channel();
    let rt = Runtime {
        broker: Arc::clone(broker),
        coordinator,
        served,
        markers: Arc::new(MarkerSender::new(broker, options.router)),
        self_tx: tx.downgrade(),
        load_waiters: HashMap::new(),
        waiting: HashMap::new(),
        timers: Timers::default(),
        next_id: 0,
        end_txn_ids: HashMap::new(),
        txn_inits: HashSet::new(),
        parked: HashMap::new(),
        marker_tasks: HashMap::new(),
        last_appended: HashMap::new(),
    };
    tokio::spawn(rt.run(rx, loaded));
    Ok(TxnHandle { tx, partitions })
}

fn apply_record(coordinator: &mut TransactionCoordinator, partition: i32, r: &KRecord, now: i64) {
    let Some(key) = r.key.as_ref().filter(|_| !r.control) else {
        return;
    };
    if let Err(e) = coordinator.replay(now, key, r.value.as_deref()) {
        tracing::warn!(partition, offset = r.offset, "skipping record: {e:?}");
    }
}

/// Publish the epoch of every transactional id `select` picks to the produce path.
fn note_epochs(
    broker: &Broker,
    coordinator: &TransactionCoordinator,
    select: impl Fn(&str) -> bool,
) {
    for id in coordinator.transactional_ids() {
        if !select(&id) {
            continue;
        }
        if let Some(m) = coordinator.transaction(&id) {
            broker
                .txn_partitions
                .note_epoch(m.producer_id, m.producer_epoch);
        }
    }
}

struct Runtime {
    broker: Arc<Broker>,
    coordinator: TransactionCoordinator,
    served: CoordinatorPartitions,
    markers: Arc<MarkerSender>,
    /// For tasks to report back (weak: the runtime ends with its handles).
    self_tx: mpsc::WeakUnboundedSender<Msg>,
    load_waiters: HashMap<i32, Vec<oneshot::Sender<LoadOutcome>>>,
    waiting: HashMap<RequestId, oneshot::Sender<Response>>,
    timers: Timers<TimerKey>,
    next_id: RequestId,
    /// InitProducerId requests with a transactional id, not answered yet.
    txn_inits: HashSet<RequestId>,
    /// Transactional ids of EndTxn requests not answered yet.
    end_txn_ids: HashMap<RequestId, String>,
    /// Successful EndTxn answers held until the transaction's markers are written.
    parked: HashMap<String, Vec<(oneshot::Sender<Response>, Response)>>,
    /// The marker task of each completing transaction (aborted on unload).
    marker_tasks: HashMap<String, tokio::task::AbortHandle>,
    /// The end offset of this coordinator's last append to each partition: answers that
    /// read a partition's state wait until it is committed.
    last_appended: HashMap<i32, (Arc<Partition>, i64)>,
}

impl Runtime {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>, loaded: Outcome) {
        self.deliver(loaded, &[]);
        loop {
            let next = self.timers.next();
            let sleep_for = next.as_ref().map(|(_, d)| {
                let ms = (*d - now_ms()).max(0) as u64;
                Instant::now() + Duration::from_millis(ms)
            });
            tokio::select! {
                msg = rx.recv() => match msg {
                    None => return,
                    Some(msg) => self.on_message(msg),
                },
                _ = async {
                    match sleep_for {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    if let Some((key, _)) = next {
                        self.timers.cancel(&key);
                        let scope: Vec<i32> = match &key {
                            TimerKey::TxnTimeout { transactional_id } => {
                                vec![self.coordinator.transaction_state_partition(transactional_id)]
                            }
                            TimerKey::ExpireTransactionalIds => self.served.loaded(),
                        };
                        let outcome = self.coordinator.on_timer(now_ms(), key);
                        self.deliver(outcome, &scope);
                    }
                }
            }
        }
    }

    fn on_message(&mut self, msg: Msg) {
        match msg {
            Msg::Request(req, reply) => self.on_request(req, reply),
            Msg::MarkersWritten {
                transactional_id,
                producer_id,
                producer_epoch,
                coordinator_epoch,
            } => {
                let p = self
                    .coordinator
                    .transaction_state_partition(&transactional_id);
                if self.served.check(p) != Ok(coordinator_epoch) {
                    // Written for an earlier coordinator epoch of the partition: stale.
                    return;
                }
                self.marker_tasks.remove(&transactional_id);
                let out = self.coordinator.markers_written(
                    now_ms(),
                    &transactional_id,
                    producer_id,
                    producer_epoch,
                );
                self.deliver(out, &[p]);
                // The transaction is complete: answer its parked EndTxn.
                for (tx, resp) in self.parked.remove(&transactional_id).unwrap_or_default() {
                    let _ = tx.send(resp);
                }
            }
            Msg::Committed {
                deferred,
                pending,
                result,
            } => self.committed(*deferred, pending, result),
            Msg::Load {
                partition,
                leader_epoch,
                done,
            } => self.load(partition, leader_epoch, done),
            Msg::Read {
                partition,
                generation,
                records,
            } => self.finish_load(partition, generation, records),
            Msg::Unload { partition } => self.unload(partition),
        }
    }

    /// Refuse what this broker does not coordinate, hand the rest to the state machine.
    fn on_request(&mut self, req: Request, reply: oneshot::Sender<Response>) {
        if matches!(req, Request::List { .. }) && self.served.any_loading() {
            let resp = crate::txn::errors::error_response(&req, COORDINATOR_LOAD_IN_PROGRESS);
            let _ = reply.send(resp);
            return;
        }
        let scope: Vec<i32> = match routing::scope(&req) {
            Scope::Free => Vec::new(),
            Scope::One(t) => vec![self.coordinator.transaction_state_partition(t)],
            Scope::Many(ts) => ts
                .into_iter()
                .map(|t| self.coordinator.transaction_state_partition(t))
                .collect(),
            Scope::All => self.served.loaded(),
        };
        let gate = routing::gate(req, |t| {
            self.served
                .check(self.coordinator.transaction_state_partition(t))
                .err()
        });
        let (req, split) = match gate {
            Gate::Reject(resp) => {
                let _ = reply.send(resp);
                return;
            }
            Gate::Pass(req) => (req, None),
            Gate::Partial { request, errors } => (request, Some(errors)),
        };
        self.next_id += 1;
        let id = self.next_id;
        match &req {
            Request::EndTxn {
                transactional_id, ..
            } => {
                self.end_txn_ids.insert(id, transactional_id.clone());
            }
            Request::InitProducerId {
                transactional_id: Some(_),
                ..
            } => {
                self.txn_inits.insert(id);
            }
            _ => {}
        }
        self.waiting.insert(id, reply);
        let mut outcome = self.coordinator.handle(now_ms(), id, req);
        if let Some(errors) = split {
            let handled = outcome
                .responses
                .iter()
                .position(|(i, _)| *i == id)
                .map(|at| outcome.responses.remove(at).1);
            outcome
                .responses
                .push((id, routing::merge(handled, &errors)));
        }
        self.deliver(outcome, &scope);
    }

    /// Carry out an Outcome: timers now; records appended now; the rest once they (and
    /// earlier appends to the partitions in `scope`) are committed.
    fn deliver(&mut self, outcome: Outcome, scope: &[i32]) {
        for op in outcome.timers {
            match op {
                TimerOp::Set { key, deadline_ms } => self.timers.set(key, deadline_ms),
                TimerOp::Cancel { key } => self.timers.cancel(&key),
            }
        }
        let mut pending = PendingCommit::default();
        for p in scope {
            if let Some((part, end)) = self.last_appended.get(p) {
                pending.add(*p, Arc::clone(part), *end);
            }
        }
        let deferred = Deferred {
            responses: outcome.responses,
            partitions: outcome.partitions,
            markers: outcome.markers,
        };
        if !outcome.records.is_empty() {
            let broker = &self.broker;
            let emitted = outcome
                .records
                .iter()
                .map(|r| (r.partition, None, &r.key, r.value.as_ref()));
            let appended = internal_topic::append_records(
                TXN_TOPIC,
                |i| broker.partition(TXN_TOPIC, i),
                emitted,
                now_ms(),
            );
            match appended {
                Ok(new) => {
                    for (i, p, end) in new.waits() {
                        self.last_appended.insert(i, (Arc::clone(p), end));
                        pending.add(i, Arc::clone(p), end);
                    }
                }
                // Memory is ahead of the log: the answers become errors, but partition
                // updates and markers still apply (see txn::errors, Outcome::with_error).
                Err(e) => return self.finish(deferred, Some(e.coordinator_code())),
            }
        }
        let mut wait = Box::pin(pending.clone().committed());
        if let Some(result) = wait.as_mut().now_or_never() {
            return self.committed(deferred, pending, result);
        }
        // Not committed yet (a cluster): wait on a task, then report back.
        let back = self.self_tx.clone();
        tokio::spawn(async move {
            let result = tokio::time::timeout(TXN_COMMIT_TIMEOUT, wait)
                .await
                .unwrap_or(Err(AppendError::TimedOut));
            if let Some(tx) = back.upgrade() {
                let deferred = Box::new(deferred);
                let _ = tx.send(Msg::Committed {
                    deferred,
                    pending,
                    result,
                });
            }
        });
    }

    /// The commit wait of `d` ended with `result`.
    fn committed(
        &mut self,
        mut d: Deferred,
        pending: PendingCommit,
        result: Result<(), AppendError>,
    ) {
        let e = match result {
            Ok(()) => return self.finish(d, None),
            Err(e) => e,
        };
        let code = e.coordinator_code();
        tracing::warn!("transaction coordinator write not committed, answering {code}: {e}");
        for (id, resp) in std::mem::take(&mut d.responses) {
            self.txn_inits.remove(&id);
            self.end_txn_ids.remove(&id);
            if let Some(tx) = self.waiting.remove(&id) {
                let _ = tx.send(resp.with_error(code));
            }
        }
        if d.partitions.is_empty() && d.markers.is_empty() {
            return;
        }
        if e.is_pending() {
            // Still in the leader's log: the partition sets and markers follow its commit.
            let back = self.self_tx.clone();
            tokio::spawn(async move {
                let result = loop {
                    match pending.clone().committed().await {
                        Err(e) if e.is_pending() => {
                            tokio::time::sleep(Duration::from_secs(1)).await
                        }
                        r => break r,
                    }
                };
                if let Some(tx) = back.upgrade() {
                    let deferred = Box::new(d);
                    let _ = tx.send(Msg::Committed {
                        deferred,
                        pending,
                        result,
                    });
                }
            });
        } else {
            // Lost with the leadership (or the storage): no markers; the next coordinator
            // decides from its log. Only the restrictive updates apply.
            d.partitions
                .retain(|u| matches!(u, PartitionsUpdate::Clear { .. }));
            d.markers.clear();
            self.finish(d, None);
        }
    }

    /// Apply a committed (or, on a failed local append, errored) Outcome: partition sets,
    /// answers (a successful EndTxn parked until its markers are written), markers.
    fn finish(&mut self, d: Deferred, error: Option<i16>) {
        for update in d.partitions {
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
        for m in &d.markers {
            self.broker
                .txn_partitions
                .note_epoch(m.producer_id, m.producer_epoch);
        }
        for (id, resp) in d.responses {
            let resp = match error {
                Some(code) => resp.with_error(code),
                None => resp,
            };
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
            if let Response::EndTxn {
                error: 0,
                producer_id,
                producer_epoch,
            } = resp
            {
                // Transactions V2: the epoch the producer continues with (older ones are
                // fenced on the produce path).
                if producer_id >= 0 {
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
                    if matches!(resp, Response::EndTxn { error: 0, .. })
                        && d.markers.iter().any(|m| m.transactional_id == tid) =>
                {
                    self.parked.entry(tid).or_default().push((tx, resp));
                }
                _ => {
                    let _ = tx.send(resp);
                }
            }
        }
        for m in d.markers {
            self.spawn_markers(m);
        }
    }

    /// Write the markers of `m` on a task; report MarkersWritten when done.
    fn spawn_markers(&mut self, m: MarkerRequest) {
        let p = self
            .coordinator
            .transaction_state_partition(&m.transactional_id);
        if self.served.check(p) != Ok(m.coordinator_epoch) {
            return;
        }
        let sender = Arc::clone(&self.markers);
        let back = self.self_tx.clone();
        let tid = m.transactional_id.clone();
        let task = tokio::spawn(async move {
            if sender.write(&m).await != MarkersResult::Written {
                return;
            }
            if let Some(tx) = back.upgrade() {
                let _ = tx.send(Msg::MarkersWritten {
                    transactional_id: m.transactional_id,
                    producer_id: m.producer_id,
                    producer_epoch: m.producer_epoch,
                    coordinator_epoch: m.coordinator_epoch,
                });
            }
        });
        if let Some(old) = self.marker_tasks.insert(tid, task.abort_handle()) {
            old.abort();
        }
    }
}

#[path = "txn_runtime_load.rs"]
mod load;

#[cfg(test)]
#[path = "txn_runtime_tests.rs"]
mod tests;
