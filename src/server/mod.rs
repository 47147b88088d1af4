//! The tokio side: listener, connections, background tasks (retention, segment roll, log
//! cleaner, time-based flush), and clean shutdown (stop accepting, let connections finish
//! their in-flight requests, flush and close every log).

pub mod connection;
pub mod group_runtime;
pub mod internal_topic;
pub mod peer;
#[cfg(test)]
pub(crate) mod test_support;
pub mod txn_markers;
pub mod txn_runtime;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::api::now_ms;
use crate::cluster::Broker;
use crate::config::BrokerConfig;
use crate::metrics;

/// A running broker (used by `main` and by tests that start one in-process).
pub struct Server {
    pub broker: Arc<Broker>,
    pub local_addr: SocketAddr,
    listener: TcpListener,
    /// The `/metrics` endpoint's listener, if enabled (see [`Server::with_metrics`]).
    metrics: Option<TcpListener>,
}

impl Server {
    /// Open the data directory (recovering logs) and bind the listener.
    pub async fn bind(config: BrokerConfig) -> anyhow::Result<Server> {
        let addr = format!("{}:{}", config.listen_host, config.listen_port);
        let broker = tokio::task::spawn_blocking(move || Broker::open(config)).await??;
        // Groups are replayed from __consumer_offsets before anyone can connect.
        let groups = group_runtime::start(&broker, internal_topic::LoadMode::All)?;
        let _ = broker.groups.set(groups);
        // Then transactions (their markers may complete pending offsets in groups).
        let txns = txn_runtime::start(&broker, txn_runtime::TxnOptions::single_node(&broker))?;
        let _ = broker.txns.set(txns);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        let local_addr = listener.local_addr()?;
        Ok(Server {
            broker,
            local_addr,
            listener,
            metrics: None,
        })
    }

    /// Serve `/metrics` on this (already bound, see [`metrics::http::bind`]) listener while
    /// the broker runs.
    pub fn with_metrics(mut self, listener: TcpListener) -> Server {
        self.metrics = Some(listener);
        self
    }

    /// Serve until `stop` resolves; then shut down cleanly.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let Server {
            broker,
            listener,
            local_addr,
            metrics: metrics_listener,
        } = self;
        tracing::info!(%local_addr, cluster_id = %broker.cluster_id, node_id = broker.config.node_id, "skua listening");
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut background = spawn_background(Arc::clone(&broker), shutdown_rx.clone());
        if let Some(l) = metrics_listener {
            if let Ok(addr) = l.local_addr() {
                tracing::info!(%addr, "serving metrics at /metrics");
            }
            background.spawn(metrics::http::serve(
                l,
                Arc::clone(&broker),
                shutdown_rx.clone(),
            ));
        }
        let limit = Arc::new(Semaphore::new(
            broker.config.max_connections.min(Semaphore::MAX_PERMITS),
        ));
        let pool: connection::MemoryPool = broker
            .config
            .queued_max_request_bytes
            .map(|n| Arc::new(connection::Pool::new(n)));
        let mut conns = JoinSet::new();
        tokio::pin!(stop);
        loop {
            // Like Kafka's acceptor, wait for a free connection slot before accepting: at
            // max.connections further clients wait in the listen backlog until one closes.
            let permit = tokio::select! {
                _ = &mut stop => break,
                p = Arc::clone(&limit).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            };
            if limit.available_permits() == 0 {
                tracing::debug!(
                    max = broker.config.max_connections,
                    "max.connections reached; new connections wait"
                );
            }
            let accepted = loop {
                tokio::select! {
                    _ = &mut stop => break None,
                    a = listener.accept() => break Some(a),
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            };
            let Some(accepted) = accepted else { break };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            tracing::trace!(%peer, "accepted");
            let b = Arc::clone(&broker);
            let rx = shutdown_rx.clone();
            let pool = pool.clone();
            let counted = metrics::ConnectionGuard::open();
            conns.spawn(async move {
                connection::serve(b, stream, rx, pool).await;
                drop(counted);
                drop(permit);
            });
        }
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        drop(listener);
        let _ = shutdown_tx.send(true);
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("connections still open after 10 s; closing them");
            conns.abort_all();
        }
        background.abort_all();
        let b = Arc::clone(&broker);
        tokio::task::spawn_blocking(move || b.shutdown()).await?;
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// Periodic log maintenance, each sweep on the blocking pool.
fn spawn_background(broker: Arc<Broker>, shutdown: watch::Receiver<bool>) -> JoinSet<()> {
    let mut set = JoinSet::new();
    let retention_every =
        Duration::from_millis(broker.config.log_retention_check_interval_ms.max(1));
    // flush.ms is checked every second (or log.flush.scheduler.interval.ms if shorter).
    let flush_every =
        Duration::from_millis(broker.config.log_flush_scheduler_interval_ms.clamp(1, 1000));
    let b = Arc::clone(&broker);
    let mut rx = shutdown.clone();
    set.spawn(async move {
        let mut tick = tokio::time::interval(retention_every);
        tick.tick().await;
        loop {
            tokio::select! { _ = rx.changed() => return, _ = tick.tick() => {} }
            let b = Arc::clone(&b);
            let _ = tokio::task::spawn_blocking(move || retention_sweep(&b)).await;
        }
    });
    let b = Arc::clone(&broker);
    let mut rx = shutdown.clone();
    let expire_every = Duration::from_millis(
        broker
            .config
            .producer_id_expiration_check_interval_ms
            .max(1) as u64,
    );
    set.spawn(async move {
        let mut tick = tokio::time::interval(expire_every);
        tick.tick().await;
        loop {
            tokio::select! { _ = rx.changed() => return, _ = tick.tick() => {} }
            let b = Arc::clone(&b);
            let _ = tokio::task::spawn_blocking(move || producer_expiry_sweep(&b)).await;
        }
    });
    if broker.config.log_cleaner_enable {
        let b = Arc::clone(&broker);
        let mut rx = shutdown.clone();
        let clean_every = Duration::from_millis(broker.config.log_cleaner_backoff_ms.max(1));
        set.spawn(async move {
            let mut tick = tokio::time::interval(clean_every);
            tick.tick().await;
            loop {
                tokio::select! { _ = rx.changed() => return, _ = tick.tick() => {} }
                let b = Arc::clone(&b);
                let _ = tokio::task::spawn_blocking(move || cleaner_sweep(&b)).await;
            }
        });
    }
    let b = broker;
    let mut rx = shutdown;
    set.spawn(async move {
        let mut tick = tokio::time::interval(flush_every);
        loop {
            tokio::select! { _ = rx.changed() => return, _ = tick.tick() => {} }
            let b = Arc::clone(&b);
            let _ = tokio::task::spawn_blocking(move || flush_sweep(&b)).await;
        }
    });
    set
}

fn retention_sweep(broker: &Broker) {
    let now = now_ms();
    for topic in broker.all_topics() {
        for p in &topic.partitions {
            let mut log = p.log();
            if let Err(e) = log.roll_if_due(now) {
                tracing::error!(topic = %topic.name, partition = p.index, "segment roll failed: {e}");
            }
            match log.apply_retention(now) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(topic = %topic.name, partition = p.index, segments = n, log_start_offset = log.log_start_offset(), "retention deleted segments")
                }
                Err(e) => {
                    tracing::error!(topic = %topic.name, partition = p.index, "retention failed: {e}")
                }
            }
        }
    }
}

/// The log cleaner: compact every partition whose cleanup.policy includes compact and that
/// is due. The partition lock is held only to plan and to swap the cleaned segments in;
/// reading the log and writing the cleaned segments happen without it.
fn cleaner_sweep(broker: &Broker) {
    for topic in broker.all_topics() {
        for p in &topic.partitions {
            let plan = match p.log().plan_cleaning(now_ms()) {
                Ok(Some(plan)) => plan,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(topic = %topic.name, partition = p.index, "cleaner failed: {e}");
                    continue;
                }
            };
            let started = std::time::Instant::now();
            let finished = plan
                .execute()
                .and_then(|result| p.log().finish_cleaning(result));
            match finished {
                Ok(s) => tracing::info!(topic = %topic.name, partition = p.index,
                    segments = s.segments_cleaned, rewritten = s.segments_rewritten,
                    bytes_before = s.bytes_before, bytes_after = s.bytes_after,
                    records_removed = s.records_removed, keys = s.keys,
                    ms = started.elapsed().as_millis() as u64, "cleaned log"),
                Err(e) => {
                    tracing::error!(topic = %topic.name, partition = p.index, "cleaner failed: {e}")
                }
            }
        }
    }
}

/// producer.id.expiration.ms: forget idempotent producers idle that long (none with an open
/// transaction in the partition).
fn producer_expiry_sweep(broker: &Broker) {
    let now = now_ms();
    let expiration = broker.config.producer_id_expiration_ms;
    for topic in broker.all_topics() {
        for p in &topic.partitions {
            let n = p.log().expire_producers(now, expiration);
            if n > 0 {
                tracing::debug!(topic = %topic.name, partition = p.index, producers = n, "expired producer state");
            }
        }
    }
}

fn flush_sweep(broker: &Broker) {
    let now = now_ms();
    for topic in broker.all_topics() {
        for p in &topic.partitions {
            let mut log = p.log();
            if log.config().flush_ms == i64::MAX {
                continue;
            }
            let before = log.flushed_offset();
            let started = std::time::Instant::now();
            match log.maybe_flush(now) {
                Ok(()) => {
                    let flushed = log.flushed_offset();
                    if flushed != before {
                        metrics::global()
                            .fsync_flush_policy
                            .observe(started.elapsed());
                    }
                    drop(log);
                    p.publish_flushed(flushed);
                }
                Err(e) => {
                    tracing::error!(topic = %topic.name, partition = p.index, "flush failed: {e}")
                }
            }
        }
    }
}
