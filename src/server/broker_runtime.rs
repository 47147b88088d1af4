//! The broker side of the cluster: this node's life as a member (registration with the
//! active controller, heartbeats that keep it unfenced), and its reaction to every new
//! metadata image — host the replicas assigned here, give each its role, point the replica
//! fetchers at the leaders, load or unload the group and transaction coordinators of the
//! internal topics' partitions it leads — plus the ISR changes its leaders propose.
//!
//! Like Kafka's BrokerLifecycleManager: a broker registers (fenced), heartbeats every
//! `broker.heartbeat.interval.ms` with the metadata offset it has applied, and is unfenced
//! once that offset reaches its registration. A heartbeat answered "fenced" or "unknown
//! broker epoch" makes it register again.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::metadata::MetadataStore;
use super::replica_fetcher::ReplicaFetchers;
use crate::api::now_ms;
use crate::cluster::controller_rpc::{
    AlterIsr, ControllerRequest, ControllerResponse, PartitionResult,
};
use crate::cluster::image::{MetadataImage, TopicImage};
use crate::cluster::records::Endpoint;
use crate::cluster::{
    Broker, BrokerInfo, ClusterView, LocalDelta, Partition, PartitionMeta, TopicSpec,
};
use crate::replica::{BrokerStatus, CommittedPartitionState, IsrProposal};

/// The listener name of brokers that registered before listeners had names of their own.
pub const BROKER_LISTENER: &str = "PLAINTEXT";

/// One topic of an image, as the broker applies it.
fn topic_spec(image: &MetadataImage, t: &TopicImage) -> TopicSpec {
    let live = |id: i32| image.is_live(id);
    TopicSpec {
        name: t.name.clone(),
        id: t.id,
        configs: image.topic_configs(&t.name).clone(),
        partitions: t
            .partitions
            .iter()
            .map(|p| PartitionMeta {
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                adding_replicas: p.adding_replicas.clone(),
                removing_replicas: p.removing_replicas.clone(),
                offline_replicas: p.replicas.iter().copied().filter(|r| !live(*r)).collect(),
            })
            .collect(),
    }
}

/// The topics of `image` that differ from `prev` for this broker: the topic itself (same
/// shared `TopicImage` means unchanged), its configs, or (for all topics) the brokers, whose
/// liveness is in every partition's offline replicas and in the leaders' ISR rules.
/// `None` when every topic must be applied (no previous image, brokers changed).
fn unchanged_topics(prev: Option<&MetadataImage>, image: &MetadataImage) -> Option<HashSet<Uuid>> {
    let prev = prev?;
    if !prev.brokers().eq(image.brokers()) {
        return None;
    }
    Some(
        image
            .topics()
            .filter(|t| {
                prev.topic_by_id(&t.id).is_some_and(|p| Arc::ptr_eq(p, t))
                    && prev.topic_configs(&t.name) == image.topic_configs(&t.name)
            })
            .map(|t| t.id)
            .collect(),
    )
}

fn cluster_view(image: &MetadataImage, inter_broker_listener: &str) -> ClusterView {
    let brokers = image
        .brokers()
        .filter_map(|b| {
            let ep = b
                .listeners
                .iter()
                .find(|e| e.name == inter_broker_listener)
                .or_else(|| b.listeners.iter().find(|e| e.name == BROKER_LISTENER))
                .or_else(|| b.listeners.first())?;
            Some(BrokerInfo {
                id: b.id,
                host: ep.host.clone(),
                port: ep.port,
                rack: b.rack.clone(),
                fenced: b.fenced,
                listeners: b.listeners.clone(),
            })
        })
        .collect();
    ClusterView {
        brokers,
        controller_id: -1,
    }
}

/// Apply `image` to the broker (blocking: opens and deletes logs), then re-point fetchers
/// and coordinators. Returns the delta. `prev` is the image applied before, if any: topics
/// unchanged since then are carried over without looking at their partitions, so that a
/// new image costs what changed, not every partition of the broker.
pub fn apply_image(
    broker: &Arc<Broker>,
    prev: Option<&MetadataImage>,
    image: &MetadataImage,
    controller_id: i32,
    fetchers: &ReplicaFetchers,
) -> LocalDelta {
    let unchanged = unchanged_topics(prev, image);
    let specs: Vec<TopicSpec> = image
        .topics()
        .filter(|t| !unchanged.as_ref().is_some_and(|u| u.contains(&t.id)))
        .map(|t| topic_spec(image, t))
        .collect();
    let mut view = cluster_view(image, &broker.config.inter_broker_listener_name);
    view.controller_id = controller_id;
    broker.set_cluster(view);
    broker.set_group_configs(
        image
            .config_resources()
            .filter_map(|r| match r {
                crate::cluster::records::ConfigResource::Group(g) => {
                    Some((g.clone(), image.configs(r).clone()))
                }
                _ => None,
            })
            .collect(),
    );
    broker.set_client_metrics_configs(
        image
            .config_resources()
            .filter_map(|r| match r {
                crate::cluster::records::ConfigResource::ClientMetrics(name) => {
                    Some((name.clone(), image.configs(r).clone()))
                }
                _ => None,
            })
            .collect(),
    );
    if let Some(a) = &broker.authorizer {
        a.set_acls(image.acls());
    }
    broker.quotas.set_image(image.client_quotas());
    broker.scram_credentials.set(image.scram());
    let now = now_ms();
    let keep = |t: &crate::cluster::Topic| unchanged.as_ref().is_some_and(|u| u.contains(&t.id));
    let delta = broker.update_topics(specs, &keep, now);
    // KIP-841: only registered, unfenced brokers at their current epoch may join an ISR.
    let status = |id: i32| match image.broker(id) {
        Some(b) if !b.fenced => BrokerStatus::Alive {
            broker_epoch: b.epoch,
        },
        _ => BrokerStatus::Ineligible,
    };
    for t in broker.all_topics() {
        if keep(&t) {
            continue; // same brokers, same partitions: same statuses
        }
        for p in t.hosted() {
            p.set_broker_statuses(status, now);
        }
    }
    for p in &delta.removed {
        fetchers.remove(p);
    }
    for p in &delta.leaders {
        fetchers.remove(p);
    }
    for (p, leader) in &delta.followers {
        fetchers.add(p, *leader);
    }
    delta
}

/// Follow the image: apply each new one, and tell `processed` which index is applied.
pub async fn follow_images(
    broker: Arc<Broker>,
    store: Arc<MetadataStore>,
    mut leader: watch::Receiver<Option<u64>>,
    fetchers: Arc<ReplicaFetchers>,
    coordinators: super::Coordinators,
    processed: watch::Sender<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut images = store.subscribe();
    // Until this incarnation is registered and unfenced, the image still shows the previous
    // incarnation's roles (a restarted node "leads" until the controller fences it): act on
    // none of them, as a Kafka broker waits for its registration before it serves.
    let mut started = false;
    // The image applied last (none until the first, which is applied whole).
    let mut applied: Option<Arc<MetadataImage>> = None;
    loop {
        let image = Arc::clone(&images.borrow_and_update());
        let controller_id = leader.borrow_and_update().map_or(-1, |l| l as i32);
        if !started {
            let epoch = broker.broker_epoch.load(Ordering::Acquire);
            started = epoch >= 0
                && image
                    .broker(broker.config.node_id)
                    .is_some_and(|b| b.epoch == epoch && !b.fenced);
        }
        if !started {
            processed.send_replace(image.last_applied_index());
            tokio::select! {
                r = images.changed() => if r.is_err() { return },
                r = leader.changed() => if r.is_err() { return },
                _ = shutdown.changed() => return,
                // The registration sets the epoch without a new image: look again soon.
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            continue;
        }
        let b = Arc::clone(&broker);
        let f = Arc::clone(&fetchers);
        let img = Arc::clone(&image);
        let prev = applied.take();
        let delta = tokio::task::spawn_blocking(move || {
            apply_image(&b, prev.as_deref(), &img, controller_id, &f)
        })
        .await;
        if let Ok(delta) = delta {
            coordinators.follow(&delta).await;
            applied = Some(Arc::clone(&image));
        }
        processed.send_replace(image.last_applied_index());
        // A replica that could not be opened (out of descriptors or disk space) is opened
        // again every 5 s until it is, rather than waiting for the next metadata change.
        let unhosted = broker.unhosted_replicas();
        if unhosted > 0 {
            tracing::warn!(
                unhosted,
                "replicas assigned here could not be opened; retrying in 5 s"
            );
        }
        tokio::select! {
            r = images.changed() => if r.is_err() { return },
            r = leader.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)), if unhosted > 0 => {}
        }
    }
}

/// This node's listeners as registered (advertised addresses).
pub fn endpoints(broker: &Broker) -> Vec<Endpoint> {
    broker
        .config
        .listeners
        .iter()
        .map(|l| Endpoint {
            name: l.name.clone(),
            host: l.advertised_host.clone(),
            port: l.advertised_port,
        })
        .collect()
}

/// Register with the active controller (retrying until it answers); returns the epoch.
pub async fn register(broker: &Broker, incarnation: uuid::Uuid) -> i64 {
    let Some(channel) = broker.controller.get() else {
        return -1;
    };
    loop {
        let req = ControllerRequest::RegisterBroker {
            broker_id: broker.config.node_id,
            incarnation_id: incarnation,
            listeners: endpoints(broker),
            rack: broker.config.broker_rack.clone(),
        };
        match channel.call(req).await {
            Ok(reply) => match reply.response {
                ControllerResponse::Registered { broker_epoch } => {
                    broker.broker_epoch.store(broker_epoch, Ordering::Release);
                    tracing::info!(broker_epoch, "registered with the controller");
                    return broker_epoch;
                }
                other => tracing::warn!("registration refused: {other:?}"),
            },
            Err(e) => tracing::info!("waiting for the controller to register: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One heartbeat right after registering, so a starting broker is unfenced at once.
pub async fn heartbeat_once(broker: &Broker, store: &MetadataStore) {
    let Some(channel) = broker.controller.get() else {
        return;
    };
    let req = ControllerRequest::Heartbeat {
        broker_id: broker.config.node_id,
        broker_epoch: broker.broker_epoch.load(Ordering::Acquire),
        metadata_offset: store.image().last_applied_index(),
        want_shutdown: false,
    };
    if let Err(e) = channel.call(req).await {
        tracing::debug!("first heartbeat failed: {e}");
    }
}

/// Kafka's controlled shutdown: heartbeat with `want_shutdown` until the controller has
/// moved this broker's leaderships away and says it may stop (bounded: 10 s), so clients
/// fail over at once instead of after `broker.session.timeout.ms`.
pub async fn controlled_shutdown(broker: &Broker, store: &MetadataStore) {
    let Some(channel) = broker.controller.get() else {
        return;
    };
    broker.shutting_down.store(true, Ordering::Release);
    let every =
        Duration::from_millis(broker.config.broker_heartbeat_interval_ms.clamp(10, 500) as u64);
    let done = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let req = ControllerRequest::Heartbeat {
                broker_id: broker.config.node_id,
                broker_epoch: broker.broker_epoch.load(Ordering::Acquire),
                metadata_offset: store.image().last_applied_index(),
                want_shutdown: true,
            };
            if let Ok(reply) = channel.call(req).await {
                if let ControllerResponse::Heartbeat {
                    should_shutdown: true,
                    ..
                } = reply.response
                {
                    return;
                }
            }
            tokio::time::sleep(every).await;
        }
    })
    .await;
    match done {
        Ok(()) => tracing::info!("controlled shutdown: leaderships moved to other brokers"),
        Err(_) => tracing::warn!("controlled shutdown not confirmed within 10 s; stopping anyway"),
    }
}

/// Heartbeat every `broker.heartbeat.interval.ms`; register again if the controller no
/// longer knows this incarnation's epoch.
pub async fn heartbeats(
    broker: Arc<Broker>,
    store: Arc<MetadataStore>,
    incarnation: uuid::Uuid,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = Duration::from_millis(broker.config.broker_heartbeat_interval_ms.max(10) as u64);
    let Some(channel) = broker.controller.get().cloned() else {
        return;
    };
    let mut fenced_logged = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let epoch = broker.broker_epoch.load(Ordering::Acquire);
        let req = ControllerRequest::Heartbeat {
            broker_id: broker.config.node_id,
            broker_epoch: epoch,
            metadata_offset: store.image().last_applied_index(),
            want_shutdown: broker.shutting_down.load(Ordering::Acquire),
        };
        let sent = std::time::Instant::now();
        let answer = channel.call(req).await;
        let took = sent.elapsed();
        if took.as_millis() as i64 > broker.config.broker_heartbeat_interval_ms.max(10) * 2 {
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                "a broker heartbeat took longer than two heartbeat intervals; the controller \
                 fences a broker it has not heard from within broker.session.timeout.ms"
            );
        }
        match answer {
            Ok(reply) => match reply.response {
                ControllerResponse::Heartbeat { fenced, .. } => {
                    if fenced_logged != Some(fenced) {
                        if fenced && fenced_logged == Some(false) {
                            tracing::warn!(
                                "this broker is fenced: it leads no partition until unfenced"
                            );
                        } else {
                            tracing::info!(fenced, "broker heartbeat");
                        }
                        fenced_logged = Some(fenced);
                    }
                }
                ControllerResponse::Error {
                    error_code,
                    message,
                } => {
                    tracing::warn!(error_code, ?message, "heartbeat refused; registering again");
                    register(&broker, incarnation).await;
                }
                other => tracing::warn!("unexpected heartbeat answer: {other:?}"),
            },
            Err(e) => tracing::warn!("heartbeat failed: {e}"),
        }
    }
}

/// Send the ISR changes leaders propose to the controller (batched), and check every led
/// partition for followers out of sync for `replica.lag.time.max.ms`.
pub async fn isr_changes(
    broker: Arc<Broker>,
    mut proposals: mpsc::UnboundedReceiver<(Arc<Partition>, IsrProposal)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let lag = broker.config.replica_lag_time_max_ms;
    let check_every = Duration::from_millis((lag / 2).clamp(50, 5000) as u64);
    let mut tick = tokio::time::interval(check_every);
    let mut inflight: JoinSet<()> = JoinSet::new();
    loop {
        let mut batch: Vec<(Arc<Partition>, IsrProposal)> = Vec::new();
        tokio::select! {
            _ = shutdown.changed() => return,
            Some(p) = proposals.recv() => batch.push(p),
            _ = tick.tick() => {
                let now = now_ms();
                for t in broker.all_topics() {
                    for p in t.hosted() {
                        if let Some(proposal) = p.check_isr_shrink(now) {
                            batch.push((Arc::clone(p), proposal));
                        }
                    }
                }
            }
            Some(_) = inflight.join_next(), if !inflight.is_empty() => continue,
        }
        while let Ok(p) = proposals.try_recv() {
            batch.push(p);
        }
        if batch.is_empty() {
            continue;
        }
        let b = Arc::clone(&broker);
        inflight.spawn(async move { send_isr_changes(&b, batch).await });
    }
}

async fn send_isr_changes(broker: &Broker, batch: Vec<(Arc<Partition>, IsrProposal)>) {
    let Some(channel) = broker.controller.get() else {
        return;
    };
    let mut items = Vec::with_capacity(batch.len());
    for (p, proposal) in &batch {
        let Some(topic) = broker.topic(&p.topic) else {
            continue;
        };
        let new_isr = proposal.new_isr_ids();
        tracing::info!(topic = %p.topic, partition = p.index, isr = ?new_isr, "proposing ISR change");
        items.push(AlterIsr {
            topic_id: topic.id,
            partition: p.index,
            leader_epoch: proposal.leader_epoch,
            partition_epoch: proposal.partition_epoch,
            new_isr,
        });
    }
    let req = ControllerRequest::AlterPartition {
        broker_id: broker.config.node_id,
        broker_epoch: broker.broker_epoch.load(Ordering::Acquire),
        partitions: items,
    };
    let results: Vec<PartitionResult> = match channel.call(req).await {
        Ok(reply) => match reply.response {
            ControllerResponse::Partitions(r) => r,
            other => {
                tracing::warn!("AlterPartition refused: {other:?}");
                Vec::new()
            }
        },
        Err(e) => {
            tracing::warn!("AlterPartition failed: {e}");
            Vec::new()
        }
    };
    let now = now_ms();
    for (p, proposal) in batch {
        let result = results
            .iter()
            .find(|r| r.topic == p.topic && r.partition == p.index);
        let outcome = match result {
            Some(r) if r.error_code == 0 => Ok(CommittedPartitionState {
                leader_epoch: r.leader_epoch,
                partition_epoch: r.partition_epoch,
                isr: r.isr.clone(),
            }),
            Some(r) => Err(r.error_code),
            // No answer (the call failed): REQUEST_TIMED_OUT, retried below.
            None => Err(7),
        };
        if outcome.is_ok() {
            let counter = match proposal.change {
                crate::replica::IsrChange::Shrink { .. } => &crate::metrics::global().isr_shrinks,
                crate::replica::IsrChange::Expand { .. } => &crate::metrics::global().isr_expands,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(again) = p.on_proposal_result(proposal.sequence, outcome, now) {
            broker.propose_isr(&p, again);
        }
    }
}
