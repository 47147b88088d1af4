//! One partition hosted by this node: its log behind a mutex, the notification that wakes
//! waiting fetches on append, and the group-commit syncer that makes acks=all durable.
//!
//! Group commit: an acks=all produce appends, then waits until `flushed >= its end offset`.
//! At most one fsync runs per partition at a time; appends that land while it runs are
//! covered by the next one, so concurrent producers share fsyncs. An fsync error takes the
//! partition offline (KAFKA_STORAGE_ERROR) — it is never retried and pretended.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify};

use crate::log::{LogError, PartitionLog};
use crate::metrics::{self, PartitionStats};

/// Why records appended to a partition could not be confirmed committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// This broker stopped leading the partition; the records may be truncated.
    #[error("this broker is not the leader of the partition")]
    NotLeader,
    /// The in-sync replica set shrank below min.insync.replicas after the append.
    #[error("fewer in-sync replicas than min.insync.replicas")]
    NotEnoughReplicas,
    /// A storage error took the partition offline.
    #[error("partition is offline after a storage error")]
    Offline,
}

/// Durability progress published to waiting producers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durable {
    pub flushed_offset: i64,
    pub failed: bool,
}

#[derive(Debug, Default)]
struct SyncState {
    in_progress: bool,
    requested: i64,
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub leader_epoch: i32,
    log: Mutex<PartitionLog>,
    /// Woken (notify_waiters) after every append.
    pub appended: Notify,
    sync: Mutex<SyncState>,
    durable: watch::Sender<Durable>,
    /// Produce/fetch traffic counters (metrics).
    pub stats: PartitionStats,
}

impl Partition {
    /// Host a partition as its leader with epoch 0 (the only epoch a single node has): as
    /// Kafka does on becoming leader, the epoch starts at the log end offset unless known.
    pub fn new(topic: &str, index: i32, mut log: PartitionLog) -> Arc<Partition> {
        let leader_epoch = 0;
        if let Err(e) = log.assign_leader_epoch(leader_epoch) {
            tracing::error!(
                topic,
                partition = index,
                "cannot record the leader epoch: {e}"
            );
        }
        let flushed = log.flushed_offset();
        Arc::new(Partition {
            topic: topic.to_string(),
            index,
            leader_epoch,
            log: Mutex::new(log),
            appended: Notify::new(),
            sync: Mutex::new(SyncState::default()),
            durable: watch::channel(Durable {
                flushed_offset: flushed,
                failed: false,
            })
            .0,
            stats: PartitionStats::default(),
        })
    }

    /// Lock the log. A poisoned lock (a panic while holding it) is a bug elsewhere; the log
    /// itself stays consistent because every mutation is validated before it is applied.
    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        match self.log.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn sync_state(&self) -> MutexGuard<'_, SyncState> {
        match self.sync.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Take the log out (shutdown, when no one else holds the partition).
    pub fn into_log(self) -> PartitionLog {
        match self.log.into_inner() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Ask for everything below `end_offset` to be fsynced, without waiting: starts the sync
    /// loop if none is running. Called right after the append, so that requests pipelined on
    /// one connection share fsyncs instead of each starting its own once its turn comes.
    pub fn request_durable(self: &Arc<Self>, end_offset: i64) {
        let d = *self.durable.borrow();
        if d.failed || d.flushed_offset >= end_offset {
            return;
        }
        let mut st = self.sync_state();
        st.requested = st.requested.max(end_offset);
        if !st.in_progress {
            st.in_progress = true;
            let me = Arc::clone(self);
            tokio::spawn(async move { me.sync_loop().await });
        }
    }

    /// Wait until every record below `end_offset` is fsynced. Err if the partition failed.
    pub async fn await_durable(self: &Arc<Self>, end_offset: i64) -> Result<(), LogError> {
        let mut rx = self.durable.subscribe();
        self.request_durable(end_offset);
        let res = rx
            .wait_for(|d| d.failed || d.flushed_offset >= end_offset)
            .await
            .map(|d| *d);
        match res {
            Ok(d) if d.flushed_offset >= end_offset => Ok(()),
            _ => Err(LogError::Offline),
        }
    }

    /// Wait until every record below `end_offset` is committed (the high watermark has
    /// passed it): what the coordinators await before answering a request whose records they
    /// appended to `__consumer_offsets` / `__transaction_state`, and transaction markers
    /// before counting as written. On a single node the high watermark is the log end
    /// offset, so this returns at once after the append. No timeout: callers bound it.
    pub async fn await_committed(self: &Arc<Self>, end_offset: i64) -> Result<(), CommitError> {
        loop {
            let appended = self.appended.notified();
            tokio::pin!(appended);
            // Registered before the check, so an append between the check and the wait
            // is not missed.
            appended.as_mut().enable();
            {
                let log = self.log();
                if log.is_offline() {
                    return Err(CommitError::Offline);
                }
                if log.high_watermark() >= end_offset {
                    return Ok(());
                }
            }
            appended.await;
        }
    }

    async fn sync_loop(self: Arc<Self>) {
        loop {
            let plan = self.log().sync_plan();
            let end = plan.end_offset;
            let res = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let r = plan.execute();
                if !plan.is_empty() {
                    metrics::global()
                        .fsync_group_commit
                        .observe(started.elapsed());
                }
                r
            })
            .await;
            let ok = matches!(res, Ok(Ok(())));
            if ok {
                let mut log = self.log();
                log.mark_flushed(end);
                let flushed = log.flushed_offset();
                drop(log);
                self.durable
                    .send_modify(|d| d.flushed_offset = d.flushed_offset.max(flushed));
            } else {
                tracing::error!(topic = %self.topic, partition = self.index, "fsync failed; partition offline: {res:?}");
                self.log().mark_offline();
                self.durable.send_modify(|d| d.failed = true);
            }
            let mut st = self.sync_state();
            let flushed = self.durable.borrow().flushed_offset;
            if !ok || st.requested <= flushed {
                st.in_progress = false;
                return;
            }
        }
    }

    /// Publish a flush done elsewhere (flush policy, shutdown) to waiting producers.
    pub fn publish_flushed(&self, flushed: i64) {
        self.durable
            .send_modify(|d| d.flushed_offset = d.flushed_offset.max(flushed));
    }
}
