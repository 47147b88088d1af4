//! The metadata quorum's glue to openraft (0.9): a durable raft log, a state machine that feeds
//! committed entries to the integrator's [`MetadataApplier`], and a TCP network over the
//! controller listener. Consensus itself is openraft's; nothing here decides who leads or what
//! is committed.
//!
//! ## Cluster formation
//! [`MetaRaft::start`] forms the cluster with no other step. On every start it calls openraft's
//! `initialize` with the full voter set (ids only, see `types.rs`); openraft accepts it only on
//! a pristine node (empty log, zero vote) and refuses it otherwise, which we ignore. Every voter
//! doing this with the same voter set is safe (openraft's cluster-formation docs: the same
//! membership on several nodes is safe, the entry at index 0 is identical everywhere and the
//! vote decides who leads). So any majority of fresh voters forms the quorum, whichever starts
//! first. The voter set is fixed at formation; there is no reconfiguration here.
//!
//! ## Learners (broker-only nodes)
//! A node started with [`RaftSettings::learner_addr`] is not a voter: it never initializes,
//! never votes, never counts for commit. It binds its own endpoint (the controller listener
//! address) and asks the voters, with a [`wire::Request::AddLearner`], until the leader has
//! added it with openraft's `add_learner(id, BasicNode { addr }, blocking = false)`; a voter
//! that is not the leader answers with the leader it knows. The leader then replicates the
//! metadata log to it like to any follower (snapshots included), reaching it through the
//! address in the membership. Once its own id is in its membership it stops asking (it asks
//! again if its address changed). It learns the leader from the AppendEntries it receives.
//!
//! Log indexes: 0 is the initial membership, 1 the first leader's blank entry; application
//! entries start at 2. A new leader always commits a blank entry first.
//!
//! ## Durability
//! An entry is acknowledged to raft (counts toward the quorum) only once fsynced; vote and
//! committed index are replaced atomically and fsynced on change; snapshots are fsynced before
//! the log they cover is purged. See `segments.rs`, `log_store.rs` and `state_machine.rs`.
//! `write` returns once the entry is committed by a quorum and applied by the local applier.
//! A `write` that fails with `Timeout` (or loses leadership while waiting) may still commit
//! later: callers must treat it as unknown, not as failed.
//!
//! ## Directory layout (`dir`, e.g. `<data_dir>/__cluster_metadata-0`)
//! `*.raftlog` segments, `raft-state.json`, `raft-snapshot.bin`.
//!
//! ## Concurrency
//! Everything runs on the caller's tokio runtime: openraft's core and state-machine tasks, the
//! listener, one task per connection and per request, a leader-watch task. The applier is
//! called from openraft's state-machine task, one entry at a time, in log order; it must not
//! block for long (it holds up applying and snapshotting).

mod log_store;
mod network;
mod segments;
mod server;
mod state_machine;
pub mod types;
mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{Config, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::log::storage::OsStorage;
use log_store::LogStore;
use network::{NetworkFactory, Peers};
use state_machine::StateMachine;
use types::{NodeId, Payload, Raft};

/// Applies committed metadata entries; implemented by the integrator (the metadata image).
pub trait MetadataApplier: Send + Sync + 'static {
    /// Apply one committed entry (its log index, its payload bytes), in log order.
    fn apply(&self, index: u64, payload: &[u8]);
    /// Serialize the applied state (for a raft snapshot), with the index it covers.
    fn snapshot(&self) -> (u64, Vec<u8>);
    /// Replace the applied state by a snapshot's.
    fn restore(&self, index: u64, data: &[u8]) -> anyhow::Result<()>;
}

/// Serves application RPCs (broker → controller) arriving on the controller listener.
pub trait AppRpcHandler: Send + Sync + 'static {
    /// Answer one request. Runs concurrently with other requests.
    fn handle(&self, req: Vec<u8>) -> BoxFuture<'_, Vec<u8>>;
}

/// Default minimum election timeout (the maximum is twice it).
pub const DEFAULT_ELECTION_TIMEOUT_MIN_MS: u64 = 1000;
/// Default leader heartbeat interval (also the AppendEntries RPC timeout).
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 200;
/// Default: build a snapshot every this many applied entries.
pub const DEFAULT_SNAPSHOT_EVERY_LOGS: u64 = 10_000;
/// Default time a `write` waits to be committed and applied.
pub const DEFAULT_WRITE_TIMEOUT_MS: u64 = 5_000;
/// Default frame limit on the controller listener.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// Room left in a frame for what surrounds one entry in an AppendEntries request.
const ENVELOPE_ALLOWANCE: usize = 64 * 1024;
/// Entries per log segment file.
const SEGMENT_MAX_ENTRIES: usize = 4096;
/// Largest snapshot chunk on the wire (JSON-encoded, so frames are a few times larger).
const SNAPSHOT_CHUNK_BYTES: u64 = 1024 * 1024;

/// How to run this node's member of the quorum.
#[derive(Debug, Clone)]
pub struct RaftSettings {
    /// Kafka `node.id`.
    pub node_id: NodeId,
    /// Controller listener `host:port` to bind; `None` = a single voter without network.
    pub listen: Option<String>,
    /// `controller.quorum.voters`: every voter's id → the `host:port` this node reaches it at.
    pub voters: BTreeMap<NodeId, String>,
    /// The quorum's directory (`<data_dir>/__cluster_metadata-0`).
    pub dir: PathBuf,
    pub election_timeout_min_ms: u64,
    pub heartbeat_interval_ms: u64,
    /// Snapshot policy: a snapshot every this many entries (then the log before it is purged,
    /// keeping up to `min(this, 1000)` entries for followers slightly behind).
    pub snapshot_every_logs: u64,
    pub write_timeout_ms: u64,
    pub max_frame_bytes: usize,
    /// `Some(addr)`: this node is a learner (a broker-only node), not in `voters`, and the
    /// leader reaches it at `addr` (see the module notes).
    pub learner_addr: Option<String>,
}

impl RaftSettings {
    /// Settings with the defaults above.
    pub fn new(
        node_id: NodeId,
        listen: Option<String>,
        voters: BTreeMap<NodeId, String>,
        dir: PathBuf,
    ) -> RaftSettings {
        RaftSettings {
            node_id,
            listen,
            voters,
            dir,
            election_timeout_min_ms: DEFAULT_ELECTION_TIMEOUT_MIN_MS,
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            snapshot_every_logs: DEFAULT_SNAPSHOT_EVERY_LOGS,
            write_timeout_ms: DEFAULT_WRITE_TIMEOUT_MS,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            learner_addr: None,
        }
    }

    /// Check the settings and turn them into openraft's config.
    fn raft_config(&self) -> anyhow::Result<Config> {
        let node_id = self.node_id;
        if self.learner_addr.is_some() {
            anyhow::ensure!(
                !self.voters.contains_key(&node_id) && !self.voters.is_empty(),
                "a learner ({node_id}) follows voters and is not one of them ({:?})",
                self.voters.keys().collect::<Vec<_>>()
            );
            anyhow::ensure!(
                self.listen.is_some(),
                "a learner needs a listener: the leader replicates to it"
            );
        } else {
            anyhow::ensure!(
                self.voters.contains_key(&node_id),
                "node {node_id} is not in controller.quorum.voters ({:?})",
                self.voters.keys().collect::<Vec<_>>()
            );
            anyhow::ensure!(
                self.listen.is_some() || self.voters.len() == 1,
                "a quorum of {} voters needs a controller listener",
                self.voters.len()
            );
        }
        let election_min = self.election_timeout_min_ms.max(2);
        let keep = self.snapshot_every_logs.clamp(1, 1000);
        let config = Config {
            cluster_name: "skua-metadata".into(),
            election_timeout_min: election_min,
            election_timeout_max: election_min * 2,
            heartbeat_interval: self.heartbeat_interval_ms.max(1),
            install_snapshot_timeout: election_min.max(1000),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every_logs.max(1)),
            // A chunk travels as a JSON array of byte values (up to 4 bytes each).
            snapshot_max_chunk_size: ((self.max_frame_bytes / 5) as u64)
                .clamp(4096, SNAPSHOT_CHUNK_BYTES),
            max_in_snapshot_log_to_keep: keep,
            ..Default::default()
        };
        config.validate().context("controller quorum timeouts")
    }
}

/// Open (recover) the log and the state machine, restoring the stored snapshot.
async fn open_storage(
    dir: PathBuf,
    applier: Arc<dyn MetadataApplier>,
) -> anyhow::Result<(LogStore, StateMachine)> {
    tokio::task::spawn_blocking(move || {
        let storage = Arc::new(OsStorage);
        let log = LogStore::open(storage.clone(), &dir, SEGMENT_MAX_ENTRIES)
            .with_context(|| format!("opening the metadata log in {}", dir.display()))?;
        let sm = StateMachine::open(storage, &dir, applier)
            .with_context(|| format!("restoring the metadata snapshot in {}", dir.display()))?;
        anyhow::Ok((log, sm))
    })
    .await?
}

/// Why a [`MetaRaft::write`] did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// This node is not the leader; `leader` is the one it knows of, if any.
    #[error("not the metadata quorum leader (leader: {leader:?})")]
    NotLeader { leader: Option<NodeId> },
    /// Not committed and applied within the write timeout; it may still commit later.
    #[error("metadata write timed out (it may still commit)")]
    Timeout,
    /// The entry could never be replicated within the controller listener's frame limit.
    #[error("metadata entry of {bytes} bytes (encoded) is over the limit of {max}")]
    TooLarge { bytes: usize, max: usize },
    /// The raft node stopped (storage error, shutdown).
    #[error("metadata quorum stopped: {0}")]
    Fatal(String),
}

/// A running member of the metadata quorum.
pub struct MetaRaft {
    node_id: NodeId,
    raft: Raft,
    voters: BTreeMap<NodeId, String>,
    peers: Arc<Peers>,
    app: Arc<dyn AppRpcHandler>,
    local_addr: Option<SocketAddr>,
    leader_rx: watch::Receiver<Option<NodeId>>,
    applied_next: Arc<AtomicU64>,
    write_timeout: Duration,
    max_frame_bytes: usize,
    check_quorum: CheckQuorum,
    /// A learner (broker-only node): never a voter, never the leader.
    learner: bool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl MetaRaft {
    /// Open the quorum's directory, bind the controller listener, start raft, and form the
    /// cluster if it is new (see the module notes).
    pub async fn start(
        settings: RaftSettings,
        applier: Arc<dyn MetadataApplier>,
        app: Arc<dyn AppRpcHandler>,
    ) -> anyhow::Result<MetaRaft> {
        let node_id = settings.node_id;
        let config = Arc::new(settings.raft_config()?);
        let listener = match &settings.listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen on {addr} (controller listener of node {node_id})")
            })?),
            None => None,
        };
        let local_addr = listener.as_ref().map(|l| l.local_addr()).transpose()?;

        let (log_store, state_machine) = open_storage(settings.dir.clone(), applier).await?;
        let applied_next = state_machine.applied_next();

        let backoff = Duration::from_millis(
            settings
                .heartbeat_interval_ms
                .saturating_mul(2)
                .clamp(50, 500),
        );
        let peers = Arc::new(Peers::new(
            node_id,
            &settings.voters,
            settings.max_frame_bytes,
            backoff,
        ));
        let network = NetworkFactory {
            peers: peers.clone(),
        };
        let raft = Raft::new(node_id, config.clone(), network, log_store, state_machine)
            .await
            .context("starting the metadata quorum")?;

        let mut tasks = Vec::new();
        if let Some(listener) = listener {
            let handler = server::Handler {
                raft: raft.clone(),
                app: app.clone(),
                max_frame_bytes: settings.max_frame_bytes,
            };
            tasks.push(tokio::spawn(server::serve(listener, handler)));
        }
        let check_quorum = CheckQuorum {
            node_id,
            single_voter: settings.voters.len() == 1 && settings.learner_addr.is_none(),
            lease_ms: config.election_timeout_max,
        };
        let (leader_tx, leader_rx) = watch::channel(None);
        tasks.push(tokio::spawn(watch_leader(
            raft.clone(),
            check_quorum,
            leader_tx,
        )));
        if let Some(addr) = &settings.learner_addr {
            tasks.push(tokio::spawn(join_as_learner(
                raft.clone(),
                peers.clone(),
                node_id,
                addr.clone(),
                settings.voters.keys().copied().collect(),
            )));
        }

        let meta = MetaRaft {
            node_id,
            raft,
            voters: settings.voters,
            peers,
            app,
            local_addr,
            leader_rx,
            applied_next,
            write_timeout: Duration::from_millis(settings.write_timeout_ms),
            max_frame_bytes: settings.max_frame_bytes,
            check_quorum,
            learner: settings.learner_addr.is_some(),
            tasks: Mutex::new(tasks),
        };
        if meta.learner {
            tracing::info!(node_id, voters = ?meta.voters.keys().collect::<Vec<_>>(), "following the metadata quorum as a learner");
            return Ok(meta);
        }
        if let Err(e) = meta.form_cluster().await {
            meta.shutdown().await;
            return Err(e);
        }
        Ok(meta)
    }

    /// `initialize` with every voter; refused (and ignored) unless this node is pristine.
    async fn form_cluster(&self) -> anyhow::Result<()> {
        // A node with a log was formed before: openraft would refuse (and log an error).
        if self.raft.metrics().borrow().last_log_index.is_some() {
            return Ok(());
        }
        let members: BTreeSet<NodeId> = self.voters.keys().copied().collect();
        match self.raft.initialize(members).await {
            Ok(()) => {
                tracing::info!(node_id = self.node_id, voters = ?self.voters.keys().collect::<Vec<_>>(), "formed a new metadata quorum");
                Ok(())
            }
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("initializing the metadata quorum: {e}")),
        }
    }

    /// Append `payload` to the metadata log through the leader (this node); returns its log
    /// index once it is committed and applied here.
    pub async fn write(&self, payload: Vec<u8>) -> Result<u64, WriteError> {
        let payload = Payload(payload);
        // An entry must fit in one AppendEntries frame, with room for the envelope.
        let bytes = serde_json::to_vec(&payload).map_or(usize::MAX, |v| v.len());
        let max = self.max_frame_bytes.saturating_sub(ENVELOPE_ALLOWANCE);
        if bytes > max {
            return Err(WriteError::TooLarge { bytes, max });
        }
        let res = tokio::time::timeout(self.write_timeout, self.raft.client_write(payload));
        match res.await {
            Err(_) => Err(WriteError::Timeout),
            Ok(Ok(resp)) => Ok(resp.log_id.index),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(WriteError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Ok(Err(RaftError::APIError(e))) => Err(WriteError::Fatal(e.to_string())),
            Ok(Err(RaftError::Fatal(e))) => Err(WriteError::Fatal(e.to_string())),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Whether this node follows the quorum as a learner (a broker-only node).
    pub fn is_learner(&self) -> bool {
        self.learner
    }

    /// Whether node `id` is in this node's view of the membership (voter or learner).
    pub fn in_membership(&self, id: NodeId) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        m.membership_config.membership().get_node(&id).is_some()
    }

    /// The leader this node knows of (this node itself only while a quorum acknowledges it).
    pub fn current_leader(&self) -> Option<NodeId> {
        *self.leader_rx.borrow()
    }

    /// Whether this node is the leader (the active controller) and a quorum acknowledged it
    /// within the lease.
    pub fn is_leader(&self) -> bool {
        let metrics = self.raft.metrics();
        let leader = self.check_quorum.leader(&metrics.borrow());
        leader == Some(self.node_id)
    }

    /// Changes of the known leader (`None` while there is none).
    pub fn leader_watch(&self) -> watch::Receiver<Option<NodeId>> {
        self.leader_rx.clone()
    }

    /// Index of the last entry applied here (0 when none: index 0 is the initial membership,
    /// which carries no application data).
    pub fn last_applied(&self) -> u64 {
        self.applied_next.load(Ordering::Acquire).saturating_sub(1)
    }

    /// `controller.quorum.voters` as given at start.
    pub fn voters(&self) -> &BTreeMap<NodeId, String> {
        &self.voters
    }

    /// The bound controller listener address, if any.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Send an application request to voter `target` (this node included) and wait at most
    /// `timeout` for its answer.
    pub async fn call_app(
        &self,
        target: NodeId,
        req: Vec<u8>,
        timeout: Duration,
    ) -> anyhow::Result<Vec<u8>> {
        if target == self.node_id {
            return tokio::time::timeout(timeout, self.app.handle(req))
                .await
                .map_err(|_| {
                    anyhow::anyhow!("local application request timed out after {timeout:?}")
                });
        }
        call_app_remote(&self.peers, target, req, timeout).await
    }

    /// Stop raft, the listener and every connection. Call it before opening the same directory
    /// again (dropping a `MetaRaft` stops its tasks too, but without waiting for them).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "metadata quorum shutdown");
        }
        let tasks: Vec<JoinHandle<()>> = match self.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        self.peers.close().await;
    }
}

impl Drop for MetaRaft {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.lock() {
            for t in tasks.iter() {
                t.abort();
            }
        }
    }
}

/// Kafka's check-quorum (KIP-595): openraft 0.9 keeps a leader that is cut off from the other
/// voters in the leader state until it hears of a higher term. Here, a leader that no quorum
/// has acknowledged for `lease_ms` (openraft's leader lease, the maximum election timeout, by
/// when the others may have elected someone else) does not count itself as the leader: its
/// leader watch shows `None` and `is_leader` is false. Its writes cannot commit anyway. The
/// metrics are refreshed on every raft tick (1.5 heartbeat intervals), which bounds how stale
/// this view is.
#[derive(Debug, Clone, Copy)]
struct CheckQuorum {
    node_id: NodeId,
    single_voter: bool,
    lease_ms: u64,
}

impl CheckQuorum {
    fn leader(&self, m: &openraft::RaftMetrics<NodeId, openraft::BasicNode>) -> Option<NodeId> {
        if m.current_leader != Some(self.node_id) {
            return m.current_leader;
        }
        let acked = m
            .millis_since_quorum_ack
            .is_some_and(|ms| ms <= self.lease_ms);
        (m.state == ServerState::Leader && (self.single_voter || acked)).then_some(self.node_id)
    }
}

/// A client of the controller listener for a node that is not a voter (a broker-only node):
/// application RPCs to any voter, over the same connections and framing as [`MetaRaft`].
pub struct AppClient {
    peers: Peers,
}

impl AppClient {
    /// `voters` is `controller.quorum.voters` (id → `host:port` as this node reaches it).
    pub fn new(voters: &BTreeMap<NodeId, String>, max_frame_bytes: usize) -> AppClient {
        // No voter has id u64::MAX (Kafka node ids are i32), so every voter is a peer.
        let backoff = Duration::from_millis(DEFAULT_HEARTBEAT_INTERVAL_MS);
        AppClient {
            peers: Peers::new(NodeId::MAX, voters, max_frame_bytes, backoff),
        }
    }

    /// Send an application request to voter `target`; wait at most `timeout`.
    pub async fn call(
        &self,
        target: NodeId,
        req: Vec<u8>,
        timeout: Duration,
    ) -> anyhow::Result<Vec<u8>> {
        call_app_remote(&self.peers, target, req, timeout).await
    }

    /// Close the connections.
    pub async fn close(&self) {
        self.peers.close().await;
    }
}

async fn call_app_remote(
    peers: &Peers,
    target: NodeId,
    req: Vec<u8>,
    timeout: Duration,
) -> anyhow::Result<Vec<u8>> {
    match peers
        .call(target, wire::Request::App(Payload(req)), timeout)
        .await?
    {
        wire::Response::App(p) => Ok(p.0),
        _ => anyhow::bail!("node {target} answered an application request with a raft response"),
    }
}

/// How often a learner that is not in the membership yet asks again.
const JOIN_RETRY: Duration = Duration::from_millis(500);

/// A learner's loop: until its own id (with `addr`) is in its membership, ask the leader
/// (the last one a voter named, else each voter in turn) to add it.
async fn join_as_learner(
    raft: Raft,
    peers: Arc<Peers>,
    node_id: NodeId,
    addr: String,
    voters: Vec<NodeId>,
) {
    let mut metrics = raft.metrics();
    let mut hint: Option<NodeId> = None;
    let mut logged = false;
    loop {
        let joined = {
            let m = metrics.borrow_and_update();
            let node = m.membership_config.membership().get_node(&node_id).cloned();
            node.is_some_and(|n| n.addr == addr)
        };
        if joined {
            if !logged {
                tracing::info!(node_id, %addr, "in the metadata quorum's membership as a learner");
                logged = true;
            }
            if metrics.changed().await.is_err() {
                return;
            }
            continue;
        }
        let targets: Vec<NodeId> = hint.into_iter().chain(voters.iter().copied()).collect();
        for target in targets {
            let request = wire::Request::AddLearner {
                node_id,
                addr: addr.clone(),
            };
            match peers.call(target, request, Duration::from_secs(6)).await {
                Ok(wire::Response::AddLearner(Ok(()))) => {
                    hint = Some(target);
                    break;
                }
                Ok(wire::Response::AddLearner(Err(wire::AddLearnerError::NotLeader {
                    leader: Some(l),
                }))) if l != target => {
                    hint = Some(l);
                    break;
                }
                Ok(wire::Response::AddLearner(Err(e))) => {
                    tracing::debug!(target, "add learner: {e}")
                }
                Ok(_) => tracing::debug!(target, "add learner: unexpected answer"),
                Err(e) => tracing::debug!(target, "add learner: {e}"),
            }
        }
        tokio::select! {
            r = metrics.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(JOIN_RETRY) => {}
        }
    }
}

/// Mirror openraft's metrics into the leader watch until raft stops.
async fn watch_leader(raft: Raft, check: CheckQuorum, tx: watch::Sender<Option<NodeId>>) {
    let mut metrics = raft.metrics();
    loop {
        let leader = check.leader(&metrics.borrow_and_update());
        tx.send_if_modified(|cur| {
            let changed = *cur != leader;
            *cur = leader;
            changed
        });
        if metrics.changed().await.is_err() {
            break;
        }
    }
    tx.send_if_modified(|cur| cur.take().is_some());
}

#[cfg(test)]
mod tests;
