//! The client side of the controller listener: one multiplexed TCP connection per peer, used
//! by openraft (`RaftNetworkFactory` / `RaftNetwork`) and by `MetaRaft::call_app`.
//!
//! Voters are resolved through the local `controller.quorum.voters` map given at start, never
//! through the addresses in the raft membership (which are empty for voters; see `types.rs`):
//! each node may know a peer by a different address (a proxy in the fault-injection tests).
//! A learner (a broker-only node) is in no voters map: it is resolved through the address it
//! gave when it joined, which the membership carries (learned in `new_client`).
//!
//! ## Connections
//! A connection is opened on first use and replaced when it fails. It has a writer task (frames
//! from a channel, in order) and a reader task that routes each response to the waiting caller
//! by request id, so a slow request (an application RPC, a snapshot chunk) never holds up a
//! heartbeat. Every call has a timeout; a call that times out without the connection having
//! delivered anything meanwhile drops the connection (a peer cut off without a reset), so the
//! next call reconnects. Dropping a connection fails its in-flight calls at once.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError, Timeout,
    Unreachable,
};
use openraft::network::{Backoff, RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::types::{NodeId, TypeConfig};
use super::wire::{self, Request, Response};

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("node {0} is neither in controller.quorum.voters nor a known learner")]
    UnknownTarget(NodeId),
    #[error("cannot connect to node {target} at {addr}: {source}")]
    Connect {
        target: NodeId,
        addr: String,
        source: io::Error,
    },
    #[error("connection to node {0} lost")]
    ConnectionLost(NodeId),
    #[error("request to node {0} timed out after {1:?}")]
    Timeout(NodeId, Duration),
    #[error("raft network is shut down")]
    Closed,
    #[error("request to node {0}: {1}")]
    Encode(NodeId, wire::EncodeError),
    #[error("node {0} answered with an unexpected response kind")]
    UnexpectedResponse(NodeId),
}

/// Requests waiting for their response on one connection.
struct Pending {
    /// `None` once the connection is dead: nothing more can be registered.
    waiting: Mutex<Option<HashMap<u64, oneshot::Sender<Response>>>>,
    /// When the connection last delivered a frame.
    last_received: Mutex<Instant>,
}

impl Pending {
    fn register(&self, id: u64) -> Option<oneshot::Receiver<Response>> {
        let (tx, rx) = oneshot::channel();
        let mut waiting = self.waiting.lock().ok()?;
        waiting.as_mut()?.insert(id, tx);
        Some(rx)
    }

    fn forget(&self, id: u64) {
        if let Ok(mut waiting) = self.waiting.lock() {
            if let Some(map) = waiting.as_mut() {
                map.remove(&id);
            }
        }
    }

    fn deliver(&self, id: u64, response: Response) {
        if let Ok(mut t) = self.last_received.lock() {
            *t = Instant::now();
        }
        let tx = match self.waiting.lock() {
            Ok(mut waiting) => waiting.as_mut().and_then(|m| m.remove(&id)),
            Err(_) => None,
        };
        if let Some(tx) = tx {
            let _ = tx.send(response);
        }
    }

    /// Mark the connection dead; dropping the senders fails every waiting call.
    fn close(&self) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting = None;
        }
    }

    fn is_closed(&self) -> bool {
        self.waiting.lock().map(|w| w.is_none()).unwrap_or(true)
    }

    fn silent_since(&self, t: Instant) -> bool {
        self.last_received.lock().map(|l| *l <= t).unwrap_or(true)
    }
}

/// One live connection to a peer.
struct Conn {
    frames: mpsc::Sender<Vec<u8>>,
    pending: Arc<Pending>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.pending.close();
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Conn {
    fn start(stream: TcpStream, max_frame_bytes: usize) -> Conn {
        let (mut reader, mut writer) = stream.into_split();
        let pending = Arc::new(Pending {
            waiting: Mutex::new(Some(HashMap::new())),
            last_received: Mutex::new(Instant::now()),
        });
        let (frames, mut rx) = mpsc::channel::<Vec<u8>>(256);
        let write_pending = pending.clone();
        let write_task = tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if writer.write_all(&frame).await.is_err() {
                    break;
                }
            }
            write_pending.close();
        });
        let read_pending = pending.clone();
        let read_task = tokio::spawn(async move {
            loop {
                let payload = match wire::read_frame(&mut reader, max_frame_bytes).await {
                    Ok(Some(p)) => p,
                    Ok(None) | Err(_) => break,
                };
                match wire::decode::<Response>(&payload) {
                    Ok(env) => read_pending.deliver(env.id, env.body),
                    Err(e) => {
                        tracing::warn!(error = %e, "bad frame from a controller peer; closing");
                        break;
                    }
                }
            }
            read_pending.close();
        });
        Conn {
            frames,
            pending,
            tasks: [write_task, read_task],
        }
    }
}

/// Forgets a pending request if its caller gives up (timeout, cancellation).
struct ForgetOnDrop<'a>(&'a Pending, u64);

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.forget(self.1);
    }
}

/// One peer's connection slot.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<Conn>>>>;

/// The connections of this node to the other voters (and, on the leader, to the learners).
pub struct Peers {
    self_id: NodeId,
    /// The voters (from `controller.quorum.voters`): their addresses are never replaced.
    voters: BTreeMap<NodeId, String>,
    /// Learners' addresses, from the membership.
    learners: Mutex<BTreeMap<NodeId, String>>,
    slots: Mutex<BTreeMap<NodeId, Slot>>,
    next_id: AtomicU64,
    max_frame_bytes: usize,
    closed: AtomicBool,
    backoff: Duration,
}

impl Peers {
    /// `voters` maps every voter (this one included, it is skipped) to its `host:port`.
    pub fn new(
        self_id: NodeId,
        voters: &BTreeMap<NodeId, String>,
        max_frame_bytes: usize,
        backoff: Duration,
    ) -> Peers {
        let voters: BTreeMap<NodeId, String> = voters
            .iter()
            .filter(|(id, _)| **id != self_id)
            .map(|(id, a)| (*id, a.clone()))
            .collect();
        Peers {
            self_id,
            voters,
            learners: Mutex::new(BTreeMap::new()),
            slots: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            max_frame_bytes,
            closed: AtomicBool::new(false),
            backoff,
        }
    }

    /// Remember where learner `id` listens (from the membership). A voter's address always
    /// comes from the local voters map; a changed learner address drops its connection.
    pub fn learn(&self, id: NodeId, addr: &str) {
        if id == self.self_id || self.voters.contains_key(&id) || addr.is_empty() {
            return;
        }
        let Ok(mut learners) = self.learners.lock() else {
            return;
        };
        if learners.get(&id).is_some_and(|a| a == addr) {
            return;
        }
        learners.insert(id, addr.to_string());
        drop(learners);
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(&id);
        }
    }

    /// The address of `target`, voter or learner.
    fn addr_of(&self, target: NodeId) -> Option<String> {
        if let Some(a) = self.voters.get(&target) {
            return Some(a.clone());
        }
        self.learners.lock().ok()?.get(&target).cloned()
    }

    /// The connection slot of `target` (created on first use).
    fn slot(&self, target: NodeId) -> Option<Slot> {
        let mut slots = self.slots.lock().ok()?;
        Some(Arc::clone(slots.entry(target).or_default()))
    }

    /// Send `request` to `target` and wait for its response, at most `timeout`.
    pub async fn call(
        &self,
        target: NodeId,
        request: Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let started = Instant::now();
        let mut used: Option<Arc<Conn>> = None;
        let res = tokio::time::timeout(timeout, self.call_inner(target, request, &mut used)).await;
        match res {
            Ok(r) => r,
            Err(_) => {
                if let Some(conn) = used {
                    if conn.pending.silent_since(started) {
                        self.drop_connection(target, &conn).await;
                    }
                }
                Err(CallError::Timeout(target, timeout))
            }
        }
    }

    async fn call_inner(
        &self,
        target: NodeId,
        request: Request,
        used: &mut Option<Arc<Conn>>,
    ) -> Result<Response, CallError> {
        let conn = self.connection(target).await?;
        *used = Some(conn.clone());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode(id, &request, self.max_frame_bytes)
            .map_err(|e| CallError::Encode(target, e))?;
        let rx = conn
            .pending
            .register(id)
            .ok_or(CallError::ConnectionLost(target))?;
        let _forget = ForgetOnDrop(&conn.pending, id);
        conn.frames
            .send(frame)
            .await
            .map_err(|_| CallError::ConnectionLost(target))?;
        rx.await.map_err(|_| CallError::ConnectionLost(target))
    }

    /// The live connection to `target`, connecting if there is none.
    async fn connection(&self, target: NodeId) -> Result<Arc<Conn>, CallError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(CallError::Closed);
        }
        let addr = self
            .addr_of(target)
            .ok_or(CallError::UnknownTarget(target))?;
        let slot = self.slot(target).ok_or(CallError::Closed)?;
        let mut guard = slot.lock().await;
        if let Some(conn) = guard.as_ref() {
            if !conn.pending.is_closed() {
                return Ok(conn.clone());
            }
        }
        *guard = None;
        let stream =
            TcpStream::connect(addr.as_str())
                .await
                .map_err(|source| CallError::Connect {
                    target,
                    addr: addr.clone(),
                    source,
                })?;
        let _ = stream.set_nodelay(true);
        if self.closed.load(Ordering::Acquire) {
            return Err(CallError::Closed);
        }
        let conn = Arc::new(Conn::start(stream, self.max_frame_bytes));
        *guard = Some(conn.clone());
        Ok(conn)
    }

    async fn drop_connection(&self, target: NodeId, conn: &Arc<Conn>) {
        let slot = self.slots.lock().ok().and_then(|s| s.get(&target).cloned());
        if let Some(slot) = slot {
            let mut guard = slot.lock().await;
            if guard.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
                tracing::debug!(target, "dropping a silent controller connection");
                *guard = None;
            }
        }
        conn.pending.close();
    }

    /// Close every connection; later calls fail with [`CallError::Closed`].
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let slots: Vec<Slot> = match self.slots.lock() {
            Ok(s) => s.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        for slot in slots {
            *slot.lock().await = None;
        }
    }
}

/// openraft's network factory: a client per target, all sharing [`Peers`].
pub struct NetworkFactory {
    pub peers: Arc<Peers>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        self.peers.learn(target, &node.addr);
        PeerClient {
            target,
            peers: self.peers.clone(),
        }
    }
}

/// openraft's view of one peer.
pub struct PeerClient {
    target: NodeId,
    peers: Arc<Peers>,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl PeerClient {
    fn rpc_error<E: std::error::Error>(
        &self,
        e: CallError,
        action: RPCTypes,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        match e {
            CallError::Timeout(_, timeout) => RPCError::Timeout(Timeout {
                action,
                id: self.peers.self_id,
                target: self.target,
                timeout,
            }),
            CallError::UnknownTarget(_) | CallError::Connect { .. } | CallError::Closed => {
                RPCError::Unreachable(Unreachable::new(&e))
            }
            CallError::ConnectionLost(_)
            | CallError::Encode(..)
            | CallError::UnexpectedResponse(_) => RPCError::Network(NetworkError::new(&e)),
        }
    }

    async fn call(&self, request: Request, option: &RPCOption) -> Result<Response, CallError> {
        self.peers
            .call(self.target, request, option.hard_ttl())
            .await
    }

    // openraft's own error type, returned as openraft's RaftNetwork methods require.
    #[allow(clippy::result_large_err)]
    fn remote<T, E: std::error::Error>(
        &self,
        r: Result<T, RaftError<NodeId, E>>,
    ) -> RpcResult<T, E> {
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        let entries = rpc.entries.len() as u64;
        match self.call(Request::AppendEntries(rpc), &option).await {
            Ok(Response::AppendEntries(r)) => self.remote(r),
            Ok(_) => Err(self.rpc_error(
                CallError::UnexpectedResponse(self.target),
                RPCTypes::AppendEntries,
            )),
            // openraft sends fewer entries per request after this.
            Err(CallError::Encode(_, wire::EncodeError::TooLarge { .. })) if entries > 1 => Err(
                RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(entries / 2)),
            ),
            Err(e) => Err(self.rpc_error(e, RPCTypes::AppendEntries)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        match self.call(Request::InstallSnapshot(rpc), &option).await {
            Ok(Response::InstallSnapshot(r)) => self.remote(r),
            Ok(_) => Err(self.rpc_error(
                CallError::UnexpectedResponse(self.target),
                RPCTypes::InstallSnapshot,
            )),
            Err(e) => Err(self.rpc_error(e, RPCTypes::InstallSnapshot)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        match self.call(Request::Vote(rpc), &option).await {
            Ok(Response::Vote(r)) => self.remote(r),
            Ok(_) => {
                Err(self.rpc_error(CallError::UnexpectedResponse(self.target), RPCTypes::Vote))
            }
            Err(e) => Err(self.rpc_error(e, RPCTypes::Vote)),
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(self.peers.backoff))
    }
}
