//! The server side of the controller listener: accepts connections from peers (and brokers),
//! hands raft RPCs to openraft and application RPCs to the [`AppRpcHandler`]; adds a
//! broker-only node that asks to follow the metadata log as a learner.
//!
//! Each connection reads frames in a loop and serves each request in a task of its own (at
//! most `MAX_IN_FLIGHT` per connection; reading stops while that many are running), so a slow
//! application request does not hold up raft traffic on the same connection. Responses go back
//! through one writer task per connection, tagged with their request id. A frame that does
//! not decode closes the connection. There is no authentication: the controller listener
//! belongs on a trusted network, like Kafka's PLAINTEXT controller listener.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::types::{NodeId, Payload, Raft};
use super::wire::{self, AddLearnerError, Request, Response};
use super::AppRpcHandler;

/// Requests served concurrently on one connection.
const MAX_IN_FLIGHT: usize = 64;
/// Connections served at once; more wait in the accept queue.
const MAX_CONNECTIONS: usize = 256;
/// How long adding a learner may take to commit.
const LEARNER_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a connection handler needs.
#[derive(Clone)]
pub struct Handler {
    pub raft: Raft,
    pub app: Arc<dyn AppRpcHandler>,
    pub max_frame_bytes: usize,
}

/// Accept connections until the task is aborted (dropping the task drops every connection).
pub async fn serve(listener: TcpListener, handler: Handler) {
    let mut connections = JoinSet::new();
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                connections.spawn(async move {
                    if let Err(e) = serve_connection(stream, handler).await {
                        tracing::debug!(%peer, error = %e, "controller connection closed");
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "controller listener accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, handler: Handler) -> std::io::Result<()> {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(MAX_IN_FLIGHT);
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        while let Some(frame) = rx.recv().await {
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(payload) = wire::read_frame(&mut reader, handler.max_frame_bytes).await? {
        let env = wire::decode::<Request>(&payload)?;
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let handler = handler.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            let response = handle(&handler, env.body).await;
            match wire::encode(env.id, &response, handler.max_frame_bytes) {
                Ok(frame) => {
                    let _ = tx.send(frame).await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot encode a controller response"),
            }
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    Ok(())
}

async fn handle(handler: &Handler, request: Request) -> Response {
    match request {
        Request::AppendEntries(req) => {
            Response::AppendEntries(handler.raft.append_entries(req).await)
        }
        Request::Vote(req) => Response::Vote(handler.raft.vote(req).await),
        Request::InstallSnapshot(req) => {
            Response::InstallSnapshot(handler.raft.install_snapshot(req).await)
        }
        Request::App(req) => Response::App(Payload(handler.app.handle(req.0).await)),
        Request::AddLearner { node_id, addr } => {
            Response::AddLearner(add_learner(&handler.raft, node_id, addr).await)
        }
    }
}

/// Add a broker-only node as a learner (or record its new address), on the leader.
async fn add_learner(raft: &Raft, node_id: NodeId, addr: String) -> Result<(), AddLearnerError> {
    let membership = raft.metrics().borrow().membership_config.clone();
    let membership = membership.membership();
    if membership.voter_ids().any(|v| v == node_id) {
        return Err(AddLearnerError::Refused(format!(
            "node {node_id} is a voter of the metadata quorum, not a learner"
        )));
    }
    let known = membership.get_node(&node_id).map(|n| n.addr.clone());
    let node = BasicNode { addr: addr.clone() };
    let write = async {
        match known {
            // AddNodes never replaces a node: a learner that moved is set anew.
            Some(old) if old != addr => {
                let nodes = BTreeMap::from([(node_id, node)]);
                raft.change_membership(ChangeMembers::SetNodes(nodes), true)
                    .await
            }
            _ => raft.add_learner(node_id, node, false).await,
        }
    };
    match tokio::time::timeout(LEARNER_WRITE_TIMEOUT, write).await {
        Err(_) => Err(AddLearnerError::Refused(
            "the membership change timed out".into(),
        )),
        Ok(Ok(_)) => {
            tracing::info!(node_id, %addr, "broker-only node follows the metadata log as a learner");
            Ok(())
        }
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
            Err(AddLearnerError::NotLeader {
                leader: f.leader_id,
            })
        }
        Ok(Err(e)) => Err(AddLearnerError::Refused(e.to_string())),
    }
}
