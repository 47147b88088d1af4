//! The tokio side of the group coordinator: one task owns the [`GroupCoordinator`] state
//! machine, takes requests in arrival order from a channel, and carries out each Outcome —
//! append its records to `__consumer_offsets` (Kafka's schemas, one batch per partition), send
//! its responses, arm or cancel its timers. On start it creates `__consumer_offsets` if needed
//! and replays it into the coordinator before the listener accepts anyone.
//!
//! Durability of group records: appended like an acks=1 produce (in the page cache before the
//! answer, so a committed offset survives `kill -9`; fsynced per the topic's flush policy).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::internal_topic::{self, Timers};
use crate::api::now_ms;
use crate::cluster::{Broker, Partition};
use crate::group::types::{Outcome, Record, Request, RequestId, Response, TimerKey, TimerOp};
use crate::group::{GroupCoordinator, UuidMemberIds};
use crate::metrics::CommittedOffsetRow;

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// COORDINATOR_NOT_AVAILABLE: what every response of an Outcome becomes if its records could
/// not be appended.
const COORDINATOR_NOT_AVAILABLE: i16 = 15;

enum Msg {
    Request(Request, oneshot::Sender<Response>),
    /// Write a transaction marker to one `__consumer_offsets` partition and complete the
    /// producer's pending offsets there.
    Marker {
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        done: oneshot::Sender<anyhow::Result<()>>,
    },
    /// A snapshot of every committed offset (read-only; for consumer-group lag metrics).
    CommittedOffsets(oneshot::Sender<Vec<CommittedOffsetRow>>),
}

/// Cheap to clone; how API handlers reach the coordinator.
#[derive(Clone)]
pub struct GroupHandle {
    tx: mpsc::UnboundedSender<Msg>,
}

impl GroupHandle {
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

impl GroupHandle {
    /// Write a transaction marker to `__consumer_offsets` partition `partition` (appended and
    /// fsynced), and apply it to the producer's pending transactional offsets there.
    pub async fn write_marker(
        &self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> anyhow::Result<()> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Msg::Marker {
                partition,
                producer_id,
                producer_epoch,
                commit,
                coordinator_epoch,
                done,
            })
            .map_err(|_| anyhow::anyhow!("group coordinator stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("group coordinator stopped"))?
    }
}

impl GroupHandle {
    /// Every committed offset now; None if the coordinator has stopped.
    pub async fn committed_offsets(&self) -> Option<Vec<CommittedOffsetRow>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::CommittedOffsets(tx)).ok()?;
        rx.await.ok()
    }
}

/// Create `__consumer_offsets` if missing and replay it; then spawn the coordinator task.
pub fn start(broker: &Arc<Broker>) -> anyhow::Result<GroupHandle> {
    let cfg = &broker.config;
    let topic = match broker.topic(OFFSETS_TOPIC) {
        Some(t) => t,
        None => {
            let mut configs = BTreeMap::new();
            // Compacted, as in Kafka: the latest record per key is kept, never deleted by age.
            configs.insert("cleanup.policy".to_string(), Some("compact".to_string()));
            configs.insert(
                "segment.bytes".to_string(),
                Some(cfg.offsets_topic_segment_bytes.to_string()),
            );
            broker.create_topic(OFFSETS_TOPIC, cfg.offsets_topic_num_partitions, 1, configs)?
        }
    };
    let mut group_config = cfg.group_config();
    group_config.offsets_topic_partitions = topic.partitions.len() as i32;
    let mut coordinator = GroupCoordinator::new(group_config, Box::new(UuidMemberIds));
    let now = now_ms();
    let mut replayed = 0usize;
    for p in &topic.partitions {
        replayed += replay_partition(&mut coordinator, p, now)?;
    }
    let loaded = coordinator.loaded(now);
    tracing::info!(records = replayed, "replayed {OFFSETS_TOPIC}");
    let (tx, rx) = mpsc::unbounded_channel();
    let partitions = topic.partitions.clone();
    tokio::spawn(run(coordinator, partitions, rx, loaded));
    Ok(GroupHandle { tx })
}

fn replay_partition(
    coordinator: &mut GroupCoordinator,
    p: &Arc<Partition>,
    now: i64,
) -> anyhow::Result<usize> {
    internal_topic::replay_partition(OFFSETS_TOPIC, p, |r| {
        let res = if r.control {
            // A transaction marker: commit or discard the producer's pending offsets.
            if let Some(commit) = r.key.as_deref().and_then(marker_type) {
                coordinator.replay_marker(r.producer_id, commit, p.index);
            }
            Ok(())
        } else if let Some(key) = &r.key {
            if r.transactional {
                coordinator.replay_transactional(now, r.producer_id, key, r.value.as_deref())
            } else {
                coordinator.replay(now, key, r.value.as_deref())
            }
        } else {
            Ok(())
        };
        if let Err(e) = res {
            tracing::warn!(
                partition = p.index,
                offset = r.offset,
                "skipping record: {e}"
            );
        }
    })
}

/// The type of a control record key (version i16, type i16): Some(true) for COMMIT,
/// Some(false) for ABORT, None for anything else.
fn marker_type(key: &[u8]) -> Option<bool> {
    match key {
        [0, 0, 0, 1] => Some(true),
        [0, 0, 0, 0] => Some(false),
        _ => None,
    }
}

fn append_records(partitions: &[Arc<Partition>], records: &[Record], now: i64) -> bool {
    let emitted = records
        .iter()
        .map(|r| (r.partition, r.producer, &r.key, r.value.as_ref()));
    internal_topic::append_records(OFFSETS_TOPIC, partitions, emitted, now)
}

/// Append a commit/abort marker for `producer_id` to one `__consumer_offsets` partition.
fn append_marker(
    partitions: &[Arc<Partition>],
    index: i32,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
) -> anyhow::Result<(Arc<Partition>, i64)> {
    let p = usize::try_from(index)
        .ok()
        .and_then(|i| partitions.get(i))
        .ok_or_else(|| anyhow::anyhow!("{OFFSETS_TOPIC} has no partition {index}"))?;
    let info = p.log().append_control(
        producer_id,
        producer_epoch,
        commit,
        coordinator_epoch,
        p.leader_epoch,
        now_ms(),
    )?;
    p.appended.notify_waiters();
    Ok((Arc::clone(p), info.last_offset + 1))
}

fn apply_timers(timers: &mut Timers<TimerKey>, ops: Vec<TimerOp>) {
    for op in ops {
        match op {
            TimerOp::Set { key, deadline_ms } => timers.set(key, deadline_ms),
            TimerOp::Cancel { key } => timers.cancel(&key),
        }
    }
}

async fn run(
    mut coordinator: GroupCoordinator,
    partitions: Vec<Arc<Partition>>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    loaded: Outcome,
) {
    let mut waiting: HashMap<RequestId, oneshot::Sender<Response>> = HashMap::new();
    let mut timers: Timers<TimerKey> = Timers::default();
    let mut next_id: RequestId = 0;
    deliver(loaded, &partitions, &mut waiting, &mut timers);
    loop {
        let next = timers.next();
        let sleep_for = next.as_ref().map(|(_, d)| {
            let ms = (*d - now_ms()).max(0) as u64;
            Instant::now() + std::time::Duration::from_millis(ms)
        });
        tokio::select! {
            msg = rx.recv() => match msg {
                None => return,
                Some(Msg::Request(req, reply)) => {
                    next_id += 1;
                    waiting.insert(next_id, reply);
                    let outcome = coordinator.handle(now_ms(), next_id, req);
                    deliver(outcome, &partitions, &mut waiting, &mut timers);
                }
                Some(Msg::Marker { partition, producer_id, producer_epoch, commit, coordinator_epoch, done }) => {
                    let res = append_marker(&partitions, partition, producer_id, producer_epoch, commit, coordinator_epoch);
                    if res.is_ok() {
                        coordinator.replay_marker(producer_id, commit, partition);
                    }
                    // Durable before the transaction coordinator completes the transaction.
                    match res {
                        Ok((p, end)) => {
                            tokio::spawn(async move {
                                let r = p.await_durable(end).await.map_err(anyhow::Error::from);
                                let _ = done.send(r);
                            });
                        }
                        Err(e) => {
                            let _ = done.send(Err(e));
                        }
                    }
                }
                Some(Msg::CommittedOffsets(reply)) => {
                    let rows = coordinator
                        .committed_offsets()
                        .map(|(group, topic, partition, offset)| CommittedOffsetRow {
                            group: group.to_string(),
                            topic: topic.to_string(),
                            partition,
                            offset,
                        })
                        .collect();
                    let _ = reply.send(rows);
                }
            },
            _ = async {
                match sleep_for {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            } => {
                if let Some((key, _)) = next {
                    timers.cancel(&key);
                    let outcome = coordinator.on_timer(now_ms(), key);
                    deliver(outcome, &partitions, &mut waiting, &mut timers);
                }
            }
        }
    }
}

fn deliver(
    outcome: Outcome,
    partitions: &[Arc<Partition>],
    waiting: &mut HashMap<RequestId, oneshot::Sender<Response>>,
    timers: &mut Timers<TimerKey>,
) {
    let appended =
        outcome.records.is_empty() || append_records(partitions, &outcome.records, now_ms());
    for (id, resp) in outcome.responses {
        let resp = if appended {
            resp
        } else {
            resp.with_error(COORDINATOR_NOT_AVAILABLE)
        };
        if let Some(tx) = waiting.remove(&id) {
            let _ = tx.send(resp);
        }
    }
    apply_timers(timers, outcome.timers);
}
