//! The tokio side: listener, connections, background tasks (retention, segment roll, log
//! cleaner, time-based flush), and clean shutdown (stop accepting, let connections finish
//! their in-flight requests, flush and close every log).

pub mod broker_runtime;
pub mod connection;
pub mod connection_limits;
pub mod controller_dispatch;
pub mod controller_node;
pub mod controller_runtime;
pub mod group_runtime;
pub mod internal_topic;
pub mod metadata;
pub mod peer;
pub mod raft;
pub mod registry_runtime;
pub mod replica_fetcher;
pub mod share_dlq;
pub mod share_runtime;
pub mod share_state;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tls;
pub mod txn_forward;
pub mod txn_markers;
pub mod txn_runtime;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::api::now_ms;
use crate::cluster::controller_rpc::{ControllerRequest, ControllerResponse, NewTopic};
use crate::cluster::{Broker, LocalDelta};
use crate::config::BrokerConfig;
use crate::metrics;
use metadata::MetadataStore;
use raft::{MetaRaft, RaftSettings};
use replica_fetcher::ReplicaFetchers;

/// A running broker (used by `main` and by tests that start one in-process).
pub struct Server {
    pub broker: Arc<Broker>,
    /// The inter-broker listener's bound address (the only one by default).
    pub local_addr: SocketAddr,
    /// Every client listener, bound.
    listeners: Vec<BoundListener>,
    /// The `/metrics` endpoint's listener, if enabled (see [`Server::with_metrics`]).
    metrics: Option<TcpListener>,
    /// The console, Schema Registry and HTTP proxy listeners that are on (issue 13).
    http: Vec<(HttpRole, TcpListener)>,
    cluster: ClusterParts,
}

/// What an HTTP listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpRole {
    Console,
    SchemaRegistry,
    RestProxy,
}

/// A client listener, bound, with its TLS set-up when it has one.
struct BoundListener {
    tcp: TcpListener,
    info: Arc<connection::ListenerInfo>,
}

/// Bind every client listener (an empty host binds every address, as in Kafka).
async fn bind_listeners(config: &BrokerConfig) -> anyhow::Result<Vec<BoundListener>> {
    let mut out = Vec::new();
    for l in &config.listeners {
        let host = if l.host.is_empty() {
            "0.0.0.0"
        } else {
            l.host.as_str()
        };
        let addr = format!("{host}:{}", l.port);
        let tls = if l.protocol.uses_tls() {
            Some(Arc::new(tls::TlsListener::new(l)?))
        } else {
            None
        };
        let info = Arc::new(connection::ListenerInfo::new(l, tls)?);
        let tcp = TcpListener::bind(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (listener {}): {e}", l.name))?;
        out.push(BoundListener { tcp, info });
    }
    Ok(out)
}

/// The quorum member and the cluster tasks of a running node.
struct ClusterParts {
    raft: Arc<MetaRaft>,
    store: Arc<MetadataStore>,
    fetchers: Arc<ReplicaFetchers>,
    tasks: JoinSet<()>,
    shutdown: watch::Sender<bool>,
}

/// The group and transaction coordinators, following the leadership of their internal
/// topics' partitions.
#[derive(Clone)]
pub struct Coordinators {
    pub groups: group_runtime::GroupHandle,
    pub txns: txn_runtime::TxnHandle,
}

impl Coordinators {
    /// Load the coordinators of partitions this node now leads, unload the others.
    pub async fn follow(&self, delta: &LocalDelta) {
        let mut loads = Vec::new();
        for p in &delta.leaders {
            // The loads run on the coordinators' tasks (their outcome is logged there); they
            // are awaited below, bounded, so that the metadata counts as processed — and a
            // starting broker serves — once its coordinators are loaded.
            match p.topic.as_str() {
                group_runtime::OFFSETS_TOPIC => {
                    loads.push(self.groups.load_partition(p.index, p.leader_epoch()))
                }
                txn_runtime::TXN_TOPIC => {
                    loads.push(self.txns.load_partition(p.index, p.leader_epoch()))
                }
                _ => {}
            }
        }
        let lost = delta
            .followers
            .iter()
            .map(|(p, _)| p)
            .chain(delta.removed.iter());
        for p in lost {
            match p.topic.as_str() {
                group_runtime::OFFSETS_TOPIC => self.groups.unload_partition(p.index),
                txn_runtime::TXN_TOPIC => self.txns.unload_partition(p.index),
                _ => {}
            }
        }
        if !loads.is_empty() {
            let all = futures::future::join_all(loads);
            if tokio::time::timeout(Duration::from_secs(30), all)
                .await
                .is_err()
            {
                tracing::warn!("coordinator loads still running after 30 s");
            }
        }
    }
}

/// Where transaction markers go: the leader of each partition, from the metadata.
struct ClusterRouter(Arc<Broker>);

impl txn_runtime::MarkerRouter for ClusterRouter {
    fn route(&self, topic: &str, partition: i32) -> txn_runtime::MarkerRoute {
        use txn_runtime::MarkerRoute;
        let Some(t) = self.0.topic(topic) else {
            return MarkerRoute::Gone;
        };
        let Some(slot) = t.slot(partition) else {
            return MarkerRoute::Gone;
        };
        let leader = slot.meta.leader;
        if leader == self.0.config.node_id {
            return MarkerRoute::Local;
        }
        match self.0.cluster().live().find(|b| b.id == leader) {
            Some(b) => MarkerRoute::Remote {
                node_id: b.id,
                host: b.host.clone(),
                port: b.port,
            },
            None => MarkerRoute::Unavailable,
        }
    }
}

/// The cluster id recorded in a data directory's `meta.properties`, if any (a node that
/// ran before the quorum existed keeps its id when it forms the cluster).
fn recorded_cluster_id(config: &BrokerConfig) -> Option<String> {
    crate::config::read_properties(&config.data_dir.join("meta.properties"))
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "cluster.id")
        .map(|(_, v)| v)
}

/// The quorum's voters as raft wants them; a lone node is a quorum of itself. A broker-only
/// node is a learner, reached at its controller listener's address (with the advertised host
/// when that listener binds a wildcard address).
fn raft_settings(config: &BrokerConfig) -> RaftSettings {
    let mut voters: BTreeMap<u64, String> = config
        .controller_quorum_voters
        .iter()
        .map(|(id, addr)| (*id as u64, addr.clone()))
        .collect();
    if voters.is_empty() {
        voters.insert(config.node_id as u64, "local".to_string());
    }
    let mut settings = RaftSettings::new(
        config.node_id as u64,
        config.controller_listen.clone(),
        voters,
        config.data_dir.join("__cluster_metadata-0"),
    );
    settings.snapshot_every_logs = config.metadata_log_max_snapshot_interval_entries;
    if config.is_broker_only() {
        settings.learner_addr = config
            .controller_listen
            .as_deref()
            .map(|l| learner_address(l, &config.advertised_host));
    }
    settings
}

/// This node's member of the metadata quorum (voter or learner): the image store it applies
/// to, the raft handle, and the receiving end of the controller requests raft hands over.
async fn start_quorum(
    config: &BrokerConfig,
) -> anyhow::Result<(
    Arc<MetadataStore>,
    Arc<MetaRaft>,
    tokio::sync::mpsc::UnboundedReceiver<controller_runtime::Pending>,
)> {
    let store = MetadataStore::new();
    let (rpc, requests) = controller_runtime::channel();
    let raft = MetaRaft::start(
        raft_settings(config),
        Arc::clone(&store) as Arc<dyn raft::MetadataApplier>,
        Arc::new(rpc),
    )
    .await?;
    Ok((store, Arc::new(raft), requests))
}

/// `host:port` as other nodes reach it: a wildcard host is replaced by `advertised_host`.
fn learner_address(listen: &str, advertised_host: &str) -> String {
    match listen.rsplit_once(':') {
        Some(("" | "0.0.0.0" | "[::]" | "::", port)) => {
            format!("{advertised_host}:{port}")
        }
        _ => listen.to_string(),
    }
}

/// Raise the soft `nofile` limit to the hard one and size the open-file cache of the logs
/// from it (or from `log.max.open.files`); say what the broker got.
fn apply_file_limits(config: &BrokerConfig) {
    let limits = crate::resource::raise_nofile_limit();
    let capacity = match (config.log_max_open_files, &limits) {
        (Some(n), _) => n,
        (None, Ok((soft, _))) => usize::try_from(soft / 2).unwrap_or(usize::MAX),
        (None, Err(_)) => crate::log::open_files::default_capacity(),
    };
    let cache = crate::log::open_files::global();
    cache.set_capacity(capacity);
    match &limits {
        Ok((soft, hard)) => tracing::info!(
            nofile = soft,
            nofile_hard = hard,
            log_max_open_files = cache.capacity(),
            "file descriptors: segment files beyond log.max.open.files are opened on use"
        ),
        Err(e) => tracing::warn!(
            log_max_open_files = cache.capacity(),
            "cannot read or raise the nofile limit: {e}"
        ),
    }
    if let Some(n) = config.log_max_open_files {
        if let Ok((soft, _)) = limits {
            if n as u64 >= soft {
                tracing::warn!(
                    log_max_open_files = n,
                    nofile = soft,
                    "log.max.open.files leaves no descriptors for connections"
                );
            }
        }
    }
}

impl Server {
    /// Join (or form) the controller quorum, open the data directory for the cluster it
    /// agrees on, register this broker and wait until it serves its replicas; then bind the
    /// listener.
    pub async fn bind(config: BrokerConfig) -> anyhow::Result<Server> {
        apply_file_limits(&config);
        let listeners = bind_listeners(&config).await?;
        let inter = listeners
            .iter()
            .find(|l| l.info.name.as_ref() == config.inter_broker_listener_name)
            .or_else(|| listeners.first())
            .ok_or_else(|| anyhow::anyhow!("no client listener"))?;
        let local_addr = inter.tcp.local_addr()?;
        std::fs::create_dir_all(&config.data_dir)?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let (store, raft, requests) = start_quorum(&config).await?;
        if config.process_roles_controller {
            tasks.spawn(controller_runtime::run(
                config.clone(),
                Arc::clone(&raft),
                Arc::clone(&store),
                requests,
                recorded_cluster_id(&config),
                shutdown_rx.clone(),
            ));
        } else {
            // A learner never leads: controller requests reaching it are answered
            // NOT_CONTROLLER (the runtime's end of the channel is gone).
            drop(requests);
        }
        let cluster_id = wait_for_cluster_id(&store).await;
        let broker = {
            let config = config.clone();
            let id = cluster_id.clone();
            tokio::task::spawn_blocking(move || Broker::open(config, &id)).await??
        };
        // SASL/SCRAM looks users up in the credentials of the applied metadata image.
        for l in &listeners {
            l.info
                .set_scram_source(Arc::new(broker.scram_credentials.clone()));
        }
        let (processed_tx, processed_rx) = watch::channel(0u64);
        let channel = controller_runtime::RaftChannel {
            raft: Arc::clone(&raft),
            processed: processed_rx.clone(),
            timeout: Duration::from_secs(30),
        };
        let _ = broker.controller.set(Arc::new(channel));
        let _ = broker
            .txn_forward
            .set(Arc::new(txn_forward::TxnForwarder::new()));
        let fetchers = ReplicaFetchers::new(Arc::clone(&broker), shutdown_rx.clone());
        let groups = group_runtime::start(&broker, internal_topic::LoadMode::OnDemand)?;
        let _ = broker.groups.set(groups.clone());
        let txns = txn_runtime::start(
            &broker,
            txn_runtime::TxnOptions {
                mode: internal_topic::LoadMode::OnDemand,
                router: Arc::new(ClusterRouter(Arc::clone(&broker))),
                producer_ids: None,
            },
        )?;
        let _ = broker.txns.set(txns.clone());
        let shares = share_runtime::ShareManager::new(&broker);
        let _ = broker.shares.set(Arc::clone(&shares));
        tasks.spawn(shares.run_timers());
        tasks.spawn(broker_runtime::follow_images(
            Arc::clone(&broker),
            Arc::clone(&store),
            raft.leader_watch(),
            Arc::clone(&fetchers),
            Coordinators { groups, txns },
            processed_tx,
            shutdown_rx.clone(),
        ));
        let (isr_tx, isr_rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = broker.isr_proposals.set(isr_tx);
        tasks.spawn(broker_runtime::isr_changes(
            Arc::clone(&broker),
            isr_rx,
            shutdown_rx.clone(),
        ));
        import_legacy_topics(&broker).await?;
        let incarnation = uuid::Uuid::new_v4();
        broker_runtime::register(&broker, incarnation).await;
        broker_runtime::heartbeat_once(&broker, &store).await;
        tasks.spawn(broker_runtime::heartbeats(
            Arc::clone(&broker),
            Arc::clone(&store),
            incarnation,
            shutdown_rx.clone(),
        ));
        wait_until_serving(&broker, &store, processed_rx).await;
        tasks.spawn(fetch_producer_ids(Arc::clone(&broker), shutdown_rx.clone()));
        let internal = create_internal_topics(Arc::clone(&broker), shutdown_rx.clone());
        if config.is_lone_node() {
            // A lone node can create them right away: have them before the first client.
            if tokio::time::timeout(Duration::from_secs(10), internal)
                .await
                .is_err()
            {
                tracing::warn!("internal topics not created within 10 s");
            }
        } else {
            tasks.spawn(internal);
        }
        if let Err(e) = broker.remove_stray_dirs() {
            tracing::warn!("cannot remove stray partition directories: {e}");
        }
        Ok(Server {
            broker,
            local_addr,
            listeners,
            metrics: None,
            http: Vec::new(),
            cluster: ClusterParts {
                raft,
                store,
                fetchers,
                tasks,
                shutdown: shutdown_tx,
            },
        })
    }

    /// Serve `/metrics` on this (already bound, see [`crate::http::listen::ListenSpec`]) listener while
    /// the broker runs.
    pub fn with_metrics(mut self, listener: TcpListener) -> Server {
        self.metrics = Some(listener);
        self
    }

    /// Serve `role` on this (already bound, see [`crate::http::listen`]) listener.
    pub fn with_http(mut self, role: HttpRole, listener: TcpListener) -> Server {
        self.http.push((role, listener));
        self
    }

    /// Serve until `stop` resolves; then shut down cleanly.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let Server {
            broker,
            listeners,
            local_addr,
            metrics: metrics_listener,
            http,
            cluster,
        } = self;
        tracing::info!(%local_addr, cluster_id = %broker.cluster_id, node_id = broker.config.node_id, "skua listening");
        for l in &listeners {
            if let Ok(addr) = l.tcp.local_addr() {
                tracing::info!(listener = %l.info.name, protocol = l.info.protocol.name(), %addr, "listener open");
            }
        }
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
        let registry = registry_runtime::Registry::new(Arc::clone(&broker));
        let http_auth = broker
            .config
            .broker_value("http.authentication.method")
            .filter(|m| m.eq_ignore_ascii_case("BASIC"))
            .map(|_| {
                Arc::new(crate::http::auth::BasicAuth::new(Box::new(
                    broker.scram_credentials.clone(),
                )))
            });
        for (role, l) in http {
            let (service, name): (crate::http::SharedService, &'static str) = match role {
                HttpRole::SchemaRegistry => (
                    Arc::new(crate::http::registry::RegistryService {
                        registry: Arc::clone(&registry),
                    }),
                    "schema registry",
                ),
                HttpRole::RestProxy => (
                    Arc::new(crate::http::rest::RestService::new(
                        Arc::clone(&broker),
                        Arc::clone(&registry),
                    )),
                    "HTTP proxy",
                ),
                HttpRole::Console => (
                    Arc::new(crate::http::console::ConsoleService {
                        broker: Arc::clone(&broker),
                        registry: Arc::clone(&registry),
                    }),
                    "console",
                ),
            };
            if let Ok(addr) = l.local_addr() {
                tracing::info!(%addr, "serving the {name} at http://{addr}/");
            }
            background.spawn(crate::http::server::serve(
                l,
                service,
                name,
                http_auth.clone(),
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
                // Every listener's accept, whichever comes first (accept is cancel-safe).
                let accepts =
                    futures::future::select_all(listeners.iter().map(|l| {
                        Box::pin(async move { (l.tcp.accept().await, Arc::clone(&l.info)) })
                    }));
                tokio::select! {
                    _ = &mut stop => break None,
                    ((a, info), _, _) = accepts => break Some((a, info)),
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            };
            let Some((accepted, info)) = accepted else {
                break;
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors (EMFILE): the connection waits in the backlog, the
                    // loop goes on, existing connections keep being served; counted and
                    // logged at most every 10 s (crate::resource).
                    if crate::resource::report(&e, &"accept").is_none() {
                        tracing::warn!("accept failed: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            tracing::trace!(%peer, "accepted");
            // Connection limits (max.connections.per.ip, max.connection.creation.rate).
            let Some((stream, slot)) = connection_limits::admit(&broker, stream, peer).await else {
                continue;
            };
            let b = Arc::clone(&broker);
            let rx = shutdown_rx.clone();
            let pool = pool.clone();
            let counted = metrics::ConnectionGuard::open();
            conns.spawn(async move {
                connection::accept(b, stream, info, rx, pool).await;
                drop(counted);
                drop(slot);
                drop(permit);
            });
        }
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        drop(listeners);
        // Kafka's controlled shutdown, whenever another broker may take over this one's
        // leaderships (a lone node has none to hand them to).
        let me = broker.config.node_id;
        let other_brokers = cluster.store.image().brokers().any(|b| b.id != me);
        if !broker.config.is_lone_node() || other_brokers {
            broker_runtime::controlled_shutdown(&broker, &cluster.store).await;
        }
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
        let _ = cluster.shutdown.send(true);
        cluster.fetchers.stop_all();
        let mut cluster_tasks = cluster.tasks;
        cluster_tasks.abort_all();
        cluster.raft.shutdown().await;
        let b = Arc::clone(&broker);
        tokio::task::spawn_blocking(move || b.shutdown()).await?;
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// Wait until the active controller has given the cluster its id.
async fn wait_for_cluster_id(store: &MetadataStore) -> String {
    let mut images = store.subscribe();
    let mut waited = 0u64;
    loop {
        if let Some(id) = images.borrow_and_update().cluster_id() {
            return id.to_string();
        }
        tokio::select! {
            _ = images.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {
                waited += 5;
                tracing::info!("waiting for the controller quorum to form ({waited} s)");
            }
        }
    }
}

/// Import the topics of a data directory from before the quorum (see `cluster/legacy.rs`).
async fn import_legacy_topics(broker: &Broker) -> anyhow::Result<()> {
    let dir = broker.config.data_dir.clone();
    let topics = crate::cluster::legacy::legacy_topics(&dir)?;
    if topics.is_empty() {
        return Ok(());
    }
    let Some(channel) = broker.controller.get() else {
        return Ok(());
    };
    tracing::info!(
        topics = topics.len(),
        "importing the topics of this data directory into the cluster metadata"
    );
    let req = ControllerRequest::ImportTopics {
        broker_id: broker.config.node_id,
        topics,
        next_producer_id: crate::cluster::legacy::legacy_next_producer_id(&dir),
    };
    let reply = channel.call(req).await?;
    match reply.response {
        ControllerResponse::Imported => {
            crate::cluster::legacy::retire_legacy_topics(&dir)?;
            Ok(())
        }
        other => anyhow::bail!("the controller refused the import: {other:?}"),
    }
}

/// Wait (bounded) until this broker is unfenced and has applied the metadata that says so,
/// so that the partitions it leads are served from the first client request on.
async fn wait_until_serving(
    broker: &Broker,
    store: &MetadataStore,
    mut processed: watch::Receiver<u64>,
) {
    let me = broker.config.node_id;
    let mut images = store.subscribe();
    let unfenced = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let index = {
                let img = images.borrow_and_update();
                img.broker(me)
                    .filter(|b| !b.fenced)
                    .map(|_| img.last_applied_index())
            };
            if let Some(index) = index {
                return index;
            }
            if images.changed().await.is_err() {
                return 0;
            }
        }
    })
    .await;
    match unfenced {
        Ok(index) => {
            let _ =
                tokio::time::timeout(Duration::from_secs(10), processed.wait_for(|p| *p >= index))
                    .await;
        }
        Err(_) => tracing::warn!("still fenced after 30 s; serving anyway"),
    }
}

/// The replication factors of `__consumer_offsets` and `__transaction_state`. On combined
/// nodes (every voter is also a broker) they are capped at the number of voters, so that a
/// single node or a small combined cluster works with Kafka's defaults. A broker-only node
/// does as Kafka does: the configured factor, and the topic is created once that many
/// brokers are registered (see `create_internal_topics`).
fn internal_replication_factors(cfg: &BrokerConfig) -> (i16, i16) {
    let cap = if cfg.process_roles_controller {
        cfg.controller_quorum_voters.len().max(1) as i16
    } else {
        i16::MAX
    };
    (
        cfg.offsets_topic_replication_factor.min(cap),
        cfg.transaction_state_log_replication_factor.min(cap),
    )
}

/// Create `__consumer_offsets` and `__transaction_state` once the cluster can hold them
/// (enough registered brokers for their replication factor, see
/// `internal_replication_factors`), retrying until they exist.
async fn create_internal_topics(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let cfg = &broker.config;
    let (offsets_rf, txn_rf) = internal_replication_factors(cfg);
    let mut waiting_logged = false;
    let wanted = [
        (
            group_runtime::OFFSETS_TOPIC,
            cfg.offsets_topic_num_partitions,
            offsets_rf,
            cfg.offsets_topic_segment_bytes,
            None,
        ),
        (
            txn_runtime::TXN_TOPIC,
            cfg.transaction_state_log_num_partitions,
            txn_rf,
            cfg.transaction_state_log_segment_bytes,
            Some(cfg.transaction_state_log_min_isr.min(i32::from(txn_rf))),
        ),
    ];
    loop {
        let mut missing = Vec::new();
        for (name, partitions, rf, segment_bytes, min_isr) in &wanted {
            if broker.topic(name).is_some() {
                continue;
            }
            let mut configs = BTreeMap::new();
            // Compacted, as in Kafka: the latest record per key is kept, never deleted by age.
            configs.insert("cleanup.policy".to_string(), Some("compact".to_string()));
            configs.insert("segment.bytes".to_string(), Some(segment_bytes.to_string()));
            // As Kafka creates them: the coordinators' batches are stored as written, whatever
            // the broker's compression.type.
            configs.insert("compression.type".to_string(), Some("producer".to_string()));
            if let Some(m) = min_isr {
                configs.insert("min.insync.replicas".to_string(), Some(m.to_string()));
            }
            missing.push(NewTopic {
                name: name.to_string(),
                num_partitions: *partitions,
                replication_factor: *rf,
                assignments: None,
                configs,
            });
        }
        if missing.is_empty() {
            return;
        }
        let needed = missing
            .iter()
            .map(|t| usize::try_from(t.replication_factor).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let registered = broker.cluster().live().count();
        if registered < needed {
            // Kafka: "internal topic creation will fail until the cluster size meets this
            // replication factor requirement".
            if !waiting_logged {
                tracing::info!(
                    registered,
                    needed,
                    "internal topics wait for enough registered brokers"
                );
                waiting_logged = true;
            }
        } else if let Some(channel) = broker.controller.get() {
            let req = ControllerRequest::CreateTopics {
                topics: missing,
                validate_only: false,
            };
            match channel.call(req).await {
                Ok(reply) => tracing::debug!("internal topics: {:?}", reply.response),
                Err(e) => tracing::debug!("internal topics not created yet: {e}"),
            }
        }
        if broker.topic(group_runtime::OFFSETS_TOPIC).is_some()
            && broker.topic(txn_runtime::TXN_TOPIC).is_some()
        {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Keep the producer id pool stocked with blocks from the controller.
async fn fetch_producer_ids(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if broker.producer_ids.needs_block() {
            let req = ControllerRequest::AllocateProducerIds {
                broker_id: broker.config.node_id,
                broker_epoch: broker
                    .broker_epoch
                    .load(std::sync::atomic::Ordering::Acquire),
            };
            let answer = match broker.controller.get() {
                Some(c) => c.call(req).await.map(|r| r.response),
                None => return,
            };
            match answer {
                Ok(ControllerResponse::ProducerIds { first_id, count }) => {
                    broker.producer_ids.add_block(first_id, count);
                    continue;
                }
                Ok(other) => tracing::warn!("no producer ids from the controller: {other:?}"),
                Err(e) => tracing::debug!("no producer ids from the controller yet: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        tokio::select! {
            _ = broker.producer_ids.wanted.notified() => {}
            _ = shutdown.changed() => return,
        }
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
    // replica.high.watermark.checkpoint.interval.ms (Kafka's default, 5 s).
    let b = Arc::clone(&broker);
    let mut rx = shutdown.clone();
    set.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! { _ = rx.changed() => return, _ = tick.tick() => {} }
            let b = Arc::clone(&b);
            let _ = tokio::task::spawn_blocking(move || b.checkpoint_high_watermarks(false)).await;
        }
    });
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
        for p in topic.hosted() {
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
        for p in topic.hosted() {
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
        for p in topic.hosted() {
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
        for p in topic.hosted() {
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

#[cfg(test)]
mod roles_tests {
    use super::learner_address;

    #[test]
    fn a_learner_is_reached_at_its_advertised_host_when_it_binds_a_wildcard() {
        assert_eq!(learner_address("0.0.0.0:9093", "10.0.0.4"), "10.0.0.4:9093");
        assert_eq!(learner_address("[::]:9093", "b4"), "b4:9093");
        assert_eq!(learner_address("10.0.0.4:9093", "x"), "10.0.0.4:9093");
    }
}
