//! A controller-only node (`process.roles=controller`, Kafka's dedicated controller): a voter
//! of the metadata quorum that runs the controller when it leads, and nothing else. It never
//! registers as a broker (so no placement, Metadata or DescribeCluster ever counts it), hosts
//! no partition, runs no group or transaction coordinator, and binds no client listener: like
//! Kafka's, it listens only on the controller listener, where voters exchange raft traffic and
//! brokers send their controller requests.
//!
//! Its data directory holds only the metadata log (`__cluster_metadata-0`) and
//! `meta.properties` (cluster id and node id, written once the cluster has an id).
//!
//! Concurrency: the quorum member's tasks plus the controller runtime task, on the caller's
//! runtime; [`ControllerNode::run`] waits for the stop signal, then stops them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::metadata::MetadataStore;
use super::raft::MetaRaft;
use super::{controller_runtime, recorded_cluster_id, start_quorum};
use crate::config::BrokerConfig;

/// A running controller-only node.
pub struct ControllerNode {
    config: BrokerConfig,
    raft: Arc<MetaRaft>,
    store: Arc<MetadataStore>,
    tasks: JoinSet<()>,
    shutdown: watch::Sender<bool>,
}

impl ControllerNode {
    /// Join (or form) the quorum and start the controller runtime; returns at once (the
    /// cluster id comes when a quorum has formed, see [`ControllerNode::run`]).
    pub async fn start(config: BrokerConfig) -> anyhow::Result<ControllerNode> {
        anyhow::ensure!(
            config.is_controller_only(),
            "ControllerNode is for process.roles=controller"
        );
        std::fs::create_dir_all(&config.data_dir)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (store, raft, requests) = start_quorum(&config).await?;
        let mut tasks = JoinSet::new();
        tasks.spawn(controller_runtime::run(
            config.clone(),
            Arc::clone(&raft),
            Arc::clone(&store),
            requests,
            recorded_cluster_id(&config),
            shutdown_rx.clone(),
        ));
        tasks.spawn(record_cluster_id(
            config.clone(),
            Arc::clone(&store),
            shutdown_rx,
        ));
        Ok(ControllerNode {
            config,
            raft,
            store,
            tasks,
            shutdown,
        })
    }

    /// The bound controller listener.
    pub fn controller_addr(&self) -> Option<std::net::SocketAddr> {
        self.raft.local_addr()
    }

    /// Serve until `stop` resolves; then stop the controller and leave the quorum's traffic.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let ControllerNode {
            config,
            raft,
            store,
            mut tasks,
            shutdown,
        } = self;
        tracing::info!(
            node_id = config.node_id,
            controller_listener = ?raft.local_addr(),
            "skua controller (process.roles=controller): no client listener"
        );
        stop.await;
        tracing::info!("shutting down the controller");
        let _ = shutdown.send(true);
        let stopped = tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if stopped.is_err() {
            tasks.abort_all();
        }
        raft.shutdown().await;
        drop(store);
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// Write `meta.properties` once the quorum has given the cluster its id (as a Kafka
/// controller's `log.dirs` carries it), so that the directory is recognisably this cluster's.
async fn record_cluster_id(
    config: BrokerConfig,
    store: Arc<MetadataStore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut images = store.subscribe();
    let id = loop {
        if let Some(id) = images.borrow_and_update().cluster_id() {
            break id.to_string();
        }
        tokio::select! {
            r = images.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
    };
    let path = config.data_dir.join("meta.properties");
    if path.exists() {
        return;
    }
    let text = format!(
        "#skua metadata\nversion=1\ncluster.id={id}\nnode.id={}\n",
        config.node_id
    );
    let written =
        tokio::task::spawn_blocking(move || crate::cluster::write_atomic(&path, text.as_bytes()))
            .await;
    match written {
        Ok(Ok(())) => tracing::info!(cluster_id = %id, "cluster id recorded"),
        Ok(Err(e)) => tracing::warn!("cannot write meta.properties: {e}"),
        Err(e) => tracing::warn!("cannot write meta.properties: {e}"),
    }
}
