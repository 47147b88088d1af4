//! The controller's runtime: on the node that leads the metadata quorum (the active
//! controller), one task owns the [`Controller`] state machine, takes brokers' requests in
//! arrival order, writes the records each decision returns to the quorum, waits until they
//! are applied to the image, then answers — so every decision sees the effect of the ones
//! before it. A timer drives the controller's own decisions (fencing brokers whose session
//! expired, electing leaders, finishing reassignments). On another node requests are
//! answered NOT_CONTROLLER and the caller retries at the leader.
//!
//! [`RaftChannel`] is the brokers' side: it finds the active controller through the quorum,
//! sends the request there, retries across controller changes, and returns once this node's
//! broker has processed the metadata that holds the answer's effect.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, watch};

use super::metadata::MetadataStore;
use super::raft::{AppRpcHandler, MetaRaft};
use crate::api::now_ms;
use crate::cluster::controller_rpc::{
    decode, encode, CallError, CallFuture, ControllerChannel, ControllerReply, ControllerRequest,
    ControllerResponse, NOT_CONTROLLER,
};
use crate::cluster::records::encode_batch;
use crate::config::BrokerConfig;
use crate::controller::Controller;

/// A controller request and where its reply goes.
pub type Pending = (ControllerRequest, oneshot::Sender<ControllerReply>);

/// Hands controller requests arriving over the quorum's network to the runtime task.
pub struct ControllerRpc {
    tx: mpsc::UnboundedSender<Pending>,
}

impl AppRpcHandler for ControllerRpc {
    fn handle(&self, req: Vec<u8>) -> BoxFuture<'_, Vec<u8>> {
        Box::pin(async move {
            let reply = match decode::<ControllerRequest>(&req) {
                Ok(request) => {
                    let (tx, rx) = oneshot::channel();
                    if self.tx.send((request, tx)).is_err() {
                        not_controller("the controller is shutting down")
                    } else {
                        rx.await
                            .unwrap_or_else(|_| not_controller("the controller stopped"))
                    }
                }
                Err(e) => ControllerReply {
                    response: ControllerResponse::Error {
                        error_code: 42, // INVALID_REQUEST
                        message: Some(format!("undecodable controller request: {e}")),
                    },
                    index: 0,
                },
            };
            encode(&reply)
        })
    }
}

fn not_controller(why: &str) -> ControllerReply {
    ControllerReply {
        response: ControllerResponse::Error {
            error_code: NOT_CONTROLLER,
            message: Some(why.to_string()),
        },
        index: 0,
    }
}

/// The request channel and the task's receiving end (the task needs the raft handle, which
/// needs the channel first).
pub fn channel() -> (ControllerRpc, mpsc::UnboundedReceiver<Pending>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ControllerRpc { tx }, rx)
}

/// How long one attempt to reach the active controller may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the active controller runs its timers.
const TICK: Duration = Duration::from_millis(250);

/// Run the controller: active while this node leads the quorum.
pub async fn run(
    config: BrokerConfig,
    raft: Arc<MetaRaft>,
    store: Arc<MetadataStore>,
    mut requests: mpsc::UnboundedReceiver<Pending>,
    legacy_cluster_id: Option<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut leader = raft.leader_watch();
    let mut active: Option<Controller> = None;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            r = leader.changed() => {
                if r.is_err() { return; }
                let leads = *leader.borrow_and_update() == Some(raft.node_id());
                if leads && active.is_none() {
                    active = activate(&config, &raft, &store, legacy_cluster_id.clone()).await;
                } else if !leads && active.is_some() {
                    tracing::info!("no longer the active controller");
                    active = None;
                }
            }
            Some((request, reply)) = requests.recv() => {
                if active.is_none() && raft.is_leader() {
                    active = activate(&config, &raft, &store, legacy_cluster_id.clone()).await;
                }
                let answer = match active.as_mut() {
                    Some(c) => decide(c, &raft, &store, request).await,
                    None => not_controller("this node is not the active controller"),
                };
                let _ = reply.send(answer);
            }
            _ = tick.tick() => {
                if active.is_none() && raft.is_leader() {
                    active = activate(&config, &raft, &store, legacy_cluster_id.clone()).await;
                }
                if let Some(c) = active.as_mut() {
                    let image = store.image();
                    let records = c.tick(&image, now_ms());
                    for r in &records {
                        if let crate::cluster::records::MetadataRecord::FenceBroker { broker_id, .. } = r {
                            // Its partitions lose this broker as leader: say so loudly.
                            tracing::warn!(
                                broker_id,
                                session_timeout_ms = config.broker_session_timeout_ms,
                                "fencing broker: no heartbeat within broker.session.timeout.ms"
                            );
                        }
                    }
                    if !records.is_empty() {
                        if let Err(e) = write(&raft, &store, records).await {
                            tracing::warn!("controller timer write failed: {e}");
                        }
                    }
                }
            }
        }
    }
}

/// Become the active controller: catch up with everything committed before, then make
/// sure the cluster has an id.
async fn activate(
    config: &BrokerConfig,
    raft: &MetaRaft,
    store: &MetadataStore,
    legacy_cluster_id: Option<String>,
) -> Option<Controller> {
    // An entry of our own term commits everything of earlier terms: once the image has
    // applied it, decisions see every record committed before this node led.
    if let Err(e) = write(raft, store, Vec::new()).await {
        tracing::debug!("not active yet: {e}");
        return None;
    }
    let controller = Controller::new(
        crate::controller::ControllerConfig::from_broker_config(config),
        rand::random::<u64>(),
    );
    let image = store.image();
    if image.cluster_id().is_none() {
        let id = legacy_cluster_id.unwrap_or_else(crate::cluster::new_cluster_id);
        let records = controller.bootstrap(&image, &id);
        if let Err(e) = write(raft, store, records).await {
            tracing::warn!("cannot write the cluster id: {e}");
            return None;
        }
        tracing::info!(cluster_id = %id, "cluster formed");
    }
    tracing::info!(node_id = raft.node_id(), "active controller");
    Some(controller)
}

/// Write records as one entry; returns its index once the image has applied it.
async fn write(
    raft: &MetaRaft,
    store: &MetadataStore,
    records: Vec<crate::cluster::records::MetadataRecord>,
) -> anyhow::Result<u64> {
    let index = raft.write(encode_batch(&records)).await?;
    store
        .wait_for_index(index, Duration::from_secs(10))
        .await
        .ok_or_else(|| anyhow::anyhow!("entry {index} not applied in time"))?;
    Ok(index)
}

/// Decide one request, write its records, and answer.
async fn decide(
    c: &mut Controller,
    raft: &MetaRaft,
    store: &MetadataStore,
    request: ControllerRequest,
) -> ControllerReply {
    let image = store.image();
    let (mut response, records, after) =
        super::controller_dispatch::decide(c, &image, request, now_ms());
    if records.is_empty() {
        return ControllerReply { response, index: 0 };
    }
    match write(raft, store, records).await {
        Ok(index) => {
            if let super::controller_dispatch::After::RegisteredAtIndex = after {
                response = ControllerResponse::Registered {
                    broker_epoch: index as i64,
                };
            }
            ControllerReply { response, index }
        }
        Err(e) => {
            tracing::warn!("controller write failed: {e}");
            not_controller(&format!("the metadata write failed: {e}"))
        }
    }
}

/// The brokers' way to the active controller, through the quorum.
pub struct RaftChannel {
    pub raft: Arc<MetaRaft>,
    /// The metadata index this node's broker has processed (see broker_runtime).
    pub processed: watch::Receiver<u64>,
    pub timeout: Duration,
}

impl ControllerChannel for RaftChannel {
    fn call(&self, request: ControllerRequest) -> CallFuture {
        let raft = Arc::clone(&self.raft);
        let mut processed = self.processed.clone();
        let timeout = self.timeout;
        // A heartbeat's answer is about the controller's view; waiting until this broker has
        // applied the records it caused (an unfence, and with it the leaders of every
        // partition: seconds at 100,000 partitions) would hold back the next heartbeat until
        // the session expired and the controller fenced the broker again. Kafka's
        // BrokerLifecycleManager does not wait either. A controlled-shutdown heartbeat still
        // waits: the broker must have applied its leaderships' moves before it exits.
        let wait_applied = !matches!(
            request,
            ControllerRequest::Heartbeat {
                want_shutdown: false,
                ..
            }
        );
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let bytes = encode(&request);
            let mut leader_rx = raft.leader_watch();
            loop {
                if let Some(leader) = raft.current_leader() {
                    // One attempt is bounded well below the deadline: a controller that
                    // stopped answering (paused, cut off) is replaced by a new one meanwhile.
                    let left = deadline
                        .saturating_duration_since(tokio::time::Instant::now())
                        .min(ATTEMPT_TIMEOUT);
                    match raft.call_app(leader, bytes.clone(), left).await {
                        Ok(answer) => match decode::<ControllerReply>(&answer) {
                            Ok(reply) if is_not_controller(&reply) => {}
                            Ok(reply) if !wait_applied => return Ok(reply),
                            Ok(reply) => {
                                let index = reply.index;
                                let waited = tokio::time::timeout_at(
                                    deadline,
                                    processed.wait_for(|p| *p >= index),
                                )
                                .await;
                                return match waited {
                                    Ok(Ok(_)) => Ok(reply),
                                    _ => Err(CallError::Timeout(format!(
                                        "metadata index {index} not applied here in time"
                                    ))),
                                };
                            }
                            Err(e) => return Err(CallError::Unavailable(e.to_string())),
                        },
                        Err(e) => tracing::debug!(leader, "controller call failed: {e}"),
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(CallError::Timeout("no active controller answered".into()));
                }
                tokio::select! {
                    _ = leader_rx.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        })
    }
}

fn is_not_controller(reply: &ControllerReply) -> bool {
    matches!(
        reply.response,
        ControllerResponse::Error {
            error_code: NOT_CONTROLLER,
            ..
        }
    )
}
