//! Replica fetchers: the follower side of Kafka's replication. One task per source broker
//! (the leader of the partitions it fetches) sends Kafka Fetch requests (v12, with this
//! node's id as `replica_id`, each partition's current leader epoch and last fetched epoch)
//! and appends the leader's batches to the local logs byte for byte.
//!
//! Per partition response: data is appended ([`PartitionLog::append_as_follower`]); a
//! `diverging_epoch` truncates the local log to where it agrees with the leader (KIP-320);
//! OFFSET_OUT_OF_RANGE below the leader's log start restarts the log there; leadership
//! errors park the partition until the metadata moves it. The follower's high watermark is
//! the leader's, capped at its own log end; its log start follows the leader's.
//!
//! Durability: with `replica.fsync.enable` (the default) everything appended is fsynced
//! before the next fetch, so the offset a follower fetches from — which the leader counts
//! toward the high watermark — is durable here: acks=all means fsynced on every ISR member.
//!
//! Fetch sessions (KIP-227, [`crate::replica::fetch_session`]): each task keeps a session with
//! its leader, so once the first full request is answered, requests name only partitions whose
//! fetch state moved (and those to forget) and responses carry only partitions with news; a
//! partition absent from a response had nothing new. Any error starts a new session.
//!
//! Concurrency: the assignment (which partitions a task fetches) is a mutex-guarded map
//! shared with the broker runtime; log work runs on the blocking pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::peer::{PeerConfig, PeerConnection};
use crate::api::now_ms;
use crate::cluster::{Broker, Partition};
use crate::replica::fetch_session::{FetchData, SessionHandler};

const FETCH_VERSION: i16 = 12;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

struct Fetched {
    partition: Arc<Partition>,
    /// Not fetched before this instant (after an error).
    backoff_until: Option<Instant>,
}

type Assignment = Arc<Mutex<HashMap<(String, i32), Fetched>>>;

struct FetcherTask {
    partitions: Assignment,
    wake: Arc<Notify>,
    handle: JoinHandle<()>,
}

/// Every fetcher task of this broker, by source broker and fetcher id
/// (`num.replica.fetchers` per source broker).
pub struct ReplicaFetchers {
    broker: Arc<Broker>,
    tasks: Mutex<HashMap<(i32, usize), FetcherTask>>,
    shutdown: watch::Receiver<bool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ReplicaFetchers {
    pub fn new(broker: Arc<Broker>, shutdown: watch::Receiver<bool>) -> Arc<ReplicaFetchers> {
        Arc::new(ReplicaFetchers {
            broker,
            tasks: Mutex::new(HashMap::new()),
            shutdown,
        })
    }

    /// Fetch `p` from `leader` from now on (any other fetcher stops fetching it).
    pub fn add(&self, p: &Arc<Partition>, leader: i32) {
        self.remove(p);
        if leader < 0 || leader == self.broker.config.node_id {
            return;
        }
        let fetcher = fetcher_id(&p.topic, p.index, self.broker.config.num_replica_fetchers);
        let mut tasks = lock(&self.tasks);
        let task = tasks.entry((leader, fetcher)).or_insert_with(|| {
            let partitions: Assignment = Arc::default();
            let wake = Arc::new(Notify::new());
            let handle = tokio::spawn(run(
                Arc::clone(&self.broker),
                leader,
                Arc::clone(&partitions),
                Arc::clone(&wake),
                self.shutdown.clone(),
            ));
            FetcherTask {
                partitions,
                wake,
                handle,
            }
        });
        lock(&task.partitions).insert(
            (p.topic.clone(), p.index),
            Fetched {
                partition: Arc::clone(p),
                backoff_until: None,
            },
        );
        task.wake.notify_one();
    }

    /// Stop fetching `p` (it became leader, or is no longer hosted).
    pub fn remove(&self, p: &Partition) {
        let key = (p.topic.clone(), p.index);
        for task in lock(&self.tasks).values() {
            lock(&task.partitions).remove(&key);
        }
    }

    /// Stop every task (shutdown).
    pub fn stop_all(&self) {
        for (_, task) in lock(&self.tasks).drain() {
            task.handle.abort();
        }
    }
}

/// Which of the `n` fetchers of a source broker follows `topic`-`index`: as Kafka, a hash
/// of the topic and the partition, so that a partition keeps its fetcher.
fn fetcher_id(topic: &str, index: i32, n: usize) -> usize {
    // Java's String.hashCode, as Kafka's AbstractFetcherManager spreads partitions.
    let h = topic
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    let h = h.wrapping_mul(31).wrapping_add(index);
    (h.unsigned_abs() as usize) % n.max(1)
}

/// One source broker's fetch loop (one of its `num.replica.fetchers`).
async fn run(
    broker: Arc<Broker>,
    leader: i32,
    partitions: Assignment,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let backoff = Duration::from_millis(broker.config.replica_fetch_backoff_ms.max(10) as u64);
    let mut client: Option<PeerConnection> = None;
    let mut session = SessionHandler::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = Instant::now();
        let due: Vec<Arc<Partition>> = lock(&partitions)
            .values()
            .filter(|f| f.backoff_until.is_none_or(|t| t <= now))
            .map(|f| Arc::clone(&f.partition))
            .collect();
        if due.is_empty() {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let Some(endpoint) = broker
            .cluster()
            .broker(leader)
            .map(|b| format!("{}:{}", b.host, b.port))
        else {
            tokio::time::sleep(backoff).await;
            continue;
        };
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            let config = PeerConfig {
                client_id: format!("skua-replica-fetcher-{}", broker.config.node_id),
                connect_timeout: Duration::from_secs(5),
                request_timeout: Duration::from_millis(
                    broker.config.replica_fetch_wait_max_ms.max(0) as u64,
                ) + Duration::from_secs(10),
                ..PeerConfig::default()
            };
            match PeerConnection::connect(&endpoint, config).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    tracing::debug!(leader, %endpoint, "replica fetcher cannot connect: {e}");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            }
        }
        let (request, sent) = build_request(&broker, &due, &mut session);
        let Some(c) = client.clone() else { continue };
        let response = tokio::select! {
            r = c.send(FETCH_VERSION, &request) => r,
            _ = shutdown.changed() => return,
        };
        match response {
            Ok(resp) => {
                session.on_response(resp.error_code, resp.session_id);
                let b = Arc::clone(&broker);
                let parts = Arc::clone(&partitions);
                let _ =
                    tokio::task::spawn_blocking(move || handle_response(&b, &parts, sent, resp))
                        .await;
            }
            Err(e) => {
                tracing::debug!(leader, %endpoint, "replica fetch failed: {e}");
                session.on_failure();
                client = None;
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// What was asked for one partition.
struct Sent {
    partition: Arc<Partition>,
    leader_epoch: i32,
    fetch_offset: i64,
}

fn build_request(
    broker: &Broker,
    due: &[Arc<Partition>],
    session: &mut SessionHandler,
) -> (FetchRequest, Vec<Sent>) {
    let cfg = &broker.config;
    let mut next = Vec::with_capacity(due.len());
    let mut sent = Vec::with_capacity(due.len());
    for p in due {
        let (fetch_offset, last_fetched_epoch, log_start) = {
            let log = p.log();
            (
                log.log_end_offset(),
                log.latest_leader_epoch().unwrap_or(-1),
                log.log_start_offset(),
            )
        };
        let leader_epoch = p.leader_epoch();
        next.push((
            (p.topic.clone(), p.index),
            FetchData {
                fetch_offset,
                current_leader_epoch: leader_epoch,
                last_fetched_epoch,
                log_start_offset: log_start,
                max_bytes: cfg.replica_fetch_max_bytes,
            },
        ));
        sent.push(Sent {
            partition: Arc::clone(p),
            leader_epoch,
            fetch_offset,
        });
    }
    let built = session.build(next);
    let mut by_topic: Vec<FetchTopic> = Vec::new();
    for ((topic, index), d) in built.to_send {
        let fp = FetchPartition::default()
            .with_partition(index)
            .with_current_leader_epoch(d.current_leader_epoch)
            .with_fetch_offset(d.fetch_offset)
            .with_last_fetched_epoch(d.last_fetched_epoch)
            .with_log_start_offset(d.log_start_offset)
            .with_partition_max_bytes(d.max_bytes);
        match by_topic.iter_mut().find(|t| t.topic.0.as_str() == topic) {
            Some(t) => t.partitions.push(fp),
            None => by_topic.push(
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(vec![fp]),
            ),
        }
    }
    let mut forgotten: Vec<ForgottenTopic> = Vec::new();
    for (topic, index) in built.to_forget {
        match forgotten.iter_mut().find(|t| t.topic.0.as_str() == topic) {
            Some(t) => t.partitions.push(index),
            None => forgotten.push(
                ForgottenTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(vec![index]),
            ),
        }
    }
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(cfg.node_id))
        .with_max_wait_ms(cfg.replica_fetch_wait_max_ms)
        .with_min_bytes(cfg.replica_fetch_min_bytes)
        .with_max_bytes(cfg.replica_fetch_response_max_bytes)
        .with_isolation_level(0)
        .with_session_id(built.session_id)
        .with_session_epoch(built.epoch)
        .with_topics(by_topic)
        .with_forgotten_topics_data(forgotten);
    (request, sent)
}

/// Apply one fetch response to the local logs (blocking).
fn handle_response(broker: &Broker, assignment: &Assignment, sent: Vec<Sent>, resp: FetchResponse) {
    let mut by_key: HashMap<(String, i32), &PartitionData> = HashMap::new();
    for t in &resp.responses {
        for pd in &t.partitions {
            by_key.insert((t.topic.0.as_str().to_string(), pd.partition_index), pd);
        }
    }
    let backoff = Duration::from_millis(broker.config.replica_fetch_backoff_ms.max(10) as u64);
    for s in sent {
        let p = &s.partition;
        let key = (p.topic.clone(), p.index);
        let Some(pd) = by_key.get(&key) else { continue };
        // The leadership moved while the request was out: the answer is stale.
        if p.leader_epoch() != s.leader_epoch || p.is_leader() {
            continue;
        }
        let outcome = apply_partition(broker, p, &s, pd);
        if let Err(why) = outcome {
            tracing::debug!(topic = %p.topic, partition = p.index, "replica fetch: {why}");
            if let Some(f) = lock(assignment).get_mut(&key) {
                f.backoff_until = Some(Instant::now() + backoff);
            }
        }
    }
}

fn apply_partition(
    broker: &Broker,
    p: &Arc<Partition>,
    s: &Sent,
    pd: &PartitionData,
) -> Result<(), String> {
    match pd.error_code {
        0 => {}
        OFFSET_OUT_OF_RANGE => {
            let mut log = p.log();
            // Below the leader's log start: start over there. Ahead of the leader (an
            // unclean election): keep only what it has committed (its high watermark is at
            // most its log end offset), and fetch the rest.
            let res = if s.fetch_offset < pd.log_start_offset {
                log.truncate_fully_and_start_at(pd.log_start_offset)
            } else {
                let to = pd.high_watermark.max(log.log_start_offset());
                log.truncate_to(to)
            };
            let (flushed, hw) = (log.flushed_offset(), log.high_watermark());
            drop(log);
            p.publish_flushed(flushed);
            p.set_follower_high_watermark(hw);
            return res.map_err(|e| format!("truncation after OFFSET_OUT_OF_RANGE failed: {e}"));
        }
        UNKNOWN_LEADER_EPOCH => return Err("the leader does not know our epoch yet".into()),
        code => return Err(format!("error {code}; waiting for new metadata")),
    }
    let mut log = p.log();
    if pd.diverging_epoch.epoch >= 0 {
        let diverging = (pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset);
        let local = log.end_offset_for_epoch(pd.diverging_epoch.epoch);
        let to =
            crate::replica::truncation_offset_for_diverging(diverging, local, log.log_end_offset());
        tracing::info!(topic = %p.topic, partition = p.index, ?diverging, truncate_to = to, "diverged from the leader: truncating");
        let res = log.truncate_to(to);
        let (flushed, hw) = (log.flushed_offset(), log.high_watermark());
        drop(log);
        p.publish_flushed(flushed);
        p.set_follower_high_watermark(hw);
        return res.map_err(|e| format!("truncation failed: {e}"));
    }
    let mut appended = false;
    if let Some(records) = pd.records.as_ref().filter(|r| !r.is_empty()) {
        if log.log_end_offset() != s.fetch_offset {
            return Ok(()); // truncated meanwhile; the next fetch starts over
        }
        log.append_as_follower(records, now_ms())
            .map_err(|e| format!("append failed: {e}"))?;
        appended = true;
    }
    if appended && broker.config.replica_fsync_enable {
        log.flush().map_err(|e| format!("fsync failed: {e}"))?;
    }
    let leo = log.log_end_offset();
    if pd.high_watermark >= 0 {
        log.set_high_watermark(pd.high_watermark.min(leo));
    }
    // The log start follows the leader's (DeleteRecords, retention), up to our HW.
    if pd.log_start_offset > log.log_start_offset() {
        let to = pd.log_start_offset.min(log.high_watermark());
        if let Err(e) = log.advance_log_start_offset(to) {
            tracing::warn!(topic = %p.topic, partition = p.index, "cannot follow the leader's log start offset: {e}");
        }
    }
    let (flushed, hw) = (log.flushed_offset(), log.high_watermark());
    drop(log);
    p.publish_flushed(flushed);
    p.set_follower_high_watermark(hw);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fetcher_id;

    #[test]
    fn partitions_spread_over_the_fetchers_as_kafka_hashes_them() {
        // Kafka: abs(31 * "t".hashCode() + p) % n, "t".hashCode() = 116.
        assert_eq!(fetcher_id("t", 0, 3), (31 * 116) % 3);
        assert_eq!(fetcher_id("t", 1, 3), (31 * 116 + 1) % 3);
        let used: std::collections::BTreeSet<usize> =
            (0..12).map(|p| fetcher_id("orders", p, 4)).collect();
        assert_eq!(used.len(), 4, "{used:?}");
        assert!((0..100).all(|p| fetcher_id("orders", p, 1) == 0));
        // A name whose hash overflows stays in range.
        assert!(fetcher_id(&"z".repeat(100), i32::MAX, 7) < 7);
    }
}
