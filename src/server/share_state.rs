//! Where share-partition state is kept (KIP-932's share coordinator and persister).
//!
//! - **Coordinator** (the server side): the broker that leads a `__share_group_state`
//!   partition keeps the latest snapshot of each share-partition mapped to it
//!   ([`StateStore`], read from the partition when it becomes its leader), applies
//!   Read/Write/Initialize/DeleteShareGroupState and ReadShareGroupStateSummary with Kafka's
//!   fencing, appends what changed and answers once it is committed. The API handlers
//!   (`api::*_share_group_state*`) and this broker's own share-partitions use the same calls.
//! - **Persister** (the client side): the share-partition leader (the topic partition's leader,
//!   `share_runtime`) reads and writes the state of its share-partitions through the
//!   coordinator of each, here or on another broker over a pooled peer connection — Kafka's
//!   own RPCs, v0. A write whose coordinator is moving (NOT_COORDINATOR,
//!   COORDINATOR_NOT_AVAILABLE / LOAD_IN_PROGRESS, a broken connection) is retried for a few
//!   seconds, as Kafka's persister does.
//!
//! skua-to-skua extensions, ignored by Kafka brokers: a partition's data carries skua's
//! snapshot epoch, creation time and pending dead-letter copies in tagged field
//! [`SKUA_STATE_TAG`]; DeleteShareGroupState and ReadShareGroupStateSummary with no topics
//! mean every share-partition of the group this coordinator holds (and a topic with no
//! partitions: every partition of it), so a group coordinator can find a group's
//! share-partitions without a list of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{
    delete_share_group_state_request as del_req, initialize_share_group_state_request as init_req,
    read_share_group_state_request as read_req, write_share_group_state_request as write_req,
    DeleteShareGroupStateRequest, InitializeShareGroupStateRequest, ReadShareGroupStateRequest,
    ReadShareGroupStateSummaryRequest, WriteShareGroupStateRequest,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::internal_topic::{self, PendingCommit};
use super::peer::{PeerConfig, PeerPool};
use crate::api::now_ms;
use crate::cluster::{Broker, Partition};
use crate::share::coordinator::{StateStore, StateWrite};
use crate::share::partition::Snapshot;
use crate::share::records::{
    batches_from_wire, StateExtension, StateKey, StateValue, SKUA_STATE_TAG,
};

pub const STATE_TOPIC: &str = "__share_group_state";

/// Kafka error codes.
pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub const NOT_COORDINATOR: i16 = 16;
const UNKNOWN_SERVER_ERROR: i16 = -1;

/// Where the state of a share-partition is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Route {
    Local,
    Remote(String, u16),
}

pub struct ShareState {
    broker: Weak<Broker>,
    store: Mutex<StateStore>,
    peers: PeerPool,
}

/// A share-partition's state as the persister hands it to its leader.
pub type Loaded = Option<StateValue>;

impl ShareState {
    pub fn new(broker: &Arc<Broker>) -> ShareState {
        ShareState {
            broker: Arc::downgrade(broker),
            store: Mutex::new(StateStore::new()),
            peers: PeerPool::new(PeerConfig {
                client_id: "skua-broker-share".to_string(),
                connect_timeout: Duration::from_secs(5),
                request_timeout: Duration::from_secs(10),
                ..PeerConfig::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, StateStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn broker(&self) -> Result<Arc<Broker>, i16> {
        self.broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)
    }

    // ----- the coordinator ---------------------------------------------------------------

    /// The state partition of `key` led here, loaded into `store`.
    fn loaded(
        store: &mut StateStore,
        broker: &Broker,
        key: &StateKey,
    ) -> Result<Arc<Partition>, i16> {
        let topic = broker.topic(STATE_TOPIC).ok_or(COORDINATOR_NOT_AVAILABLE)?;
        Self::load_index(
            store,
            broker,
            key.state_partition(topic.partitions.len() as i32),
        )
    }

    /// Every state partition led here, loaded.
    fn load_all(store: &mut StateStore, broker: &Broker) {
        let Some(topic) = broker.topic(STATE_TOPIC) else {
            return;
        };
        for slot in &topic.partitions {
            if topic.leader(slot.index, -1).is_ok() {
                let _ = Self::load_index(store, broker, slot.index);
            }
        }
    }

    /// State partition `index`, led here, loaded into `store`.
    fn load_index(
        store: &mut StateStore,
        broker: &Broker,
        index: i32,
    ) -> Result<Arc<Partition>, i16> {
        let topic = broker.topic(STATE_TOPIC).ok_or(COORDINATOR_NOT_AVAILABLE)?;
        let n = topic.partitions.len() as i32;
        let p = topic
            .leader(index, -1)
            .cloned()
            .map_err(|_| NOT_COORDINATOR)?;
        let epoch = p.leader_epoch();
        if store.is_loaded(index, epoch) {
            return Ok(p);
        }
        let records = internal_topic::read_records(STATE_TOPIC, &p).map_err(|e| {
            tracing::error!("cannot read {STATE_TOPIC}-{index}: {e}");
            COORDINATOR_NOT_AVAILABLE
        })?;
        let decoded = records.into_iter().filter_map(|r| {
            let k = StateKey::decode(r.key.as_ref()?).ok()?;
            match r.value.as_ref().map(|v| StateValue::decode(v)) {
                None => Some((k, None)),
                Some(Ok(v)) => Some((k, Some(v))),
                Some(Err(e)) => {
                    tracing::warn!("{STATE_TOPIC}: undecodable state of {k:?}: {e}");
                    None
                }
            }
        });
        store.load(index, n, epoch, decoded);
        Ok(p)
    }

    /// ReadShareGroupState of one share-partition whose state partition is led here.
    pub fn coord_read(&self, key: &StateKey, leader_epoch: i32) -> Result<Loaded, i16> {
        let broker = self.broker()?;
        let mut store = self.lock();
        Self::loaded(&mut store, &broker, key)?;
        store.read(key, leader_epoch)
    }

    /// The stored state of share-partitions led here (ReadShareGroupStateSummary): `keys`, or
    /// every one of `group` (of `topic`).
    pub fn coord_summary(
        &self,
        group: &str,
        keys: Option<Vec<StateKey>>,
        topic: Option<Uuid>,
    ) -> Vec<(StateKey, Result<Loaded, i16>)> {
        let Ok(broker) = self.broker() else {
            return Vec::new();
        };
        let mut store = self.lock();
        match keys {
            Some(keys) => keys
                .into_iter()
                .map(|k| {
                    let r = Self::loaded(&mut store, &broker, &k).map(|_| store.get(&k).cloned());
                    (k, r)
                })
                .collect(),
            None => {
                Self::load_all(&mut store, &broker);
                store
                    .keys_of(group, topic)
                    .into_iter()
                    .map(|k| {
                        let v = store.get(&k).cloned();
                        (k, Ok(v))
                    })
                    .collect()
            }
        }
    }

    /// Apply `op` to each key under the store's lock, append the values it returns (a None
    /// value: a tombstone) and wait for their commit. Per key: 0 or an error code.
    async fn coord_apply<T>(
        &self,
        items: Vec<(StateKey, T)>,
        mut op: impl FnMut(
            &mut StateStore,
            &StateKey,
            T,
            i64,
        ) -> Result<Option<Option<StateValue>>, i16>,
    ) -> Vec<(StateKey, i16)> {
        let broker = match self.broker() {
            Ok(b) => b,
            Err(code) => return items.into_iter().map(|(k, _)| (k, code)).collect(),
        };
        let now = now_ms();
        let mut results: Vec<(StateKey, i16)> = Vec::with_capacity(items.len());
        let pending: Option<Result<PendingCommit, i16>> = {
            let mut store = self.lock();
            let mut records: Vec<(Arc<Partition>, Bytes, Option<Bytes>)> = Vec::new();
            for (key, item) in items {
                let p = match Self::loaded(&mut store, &broker, &key) {
                    Ok(p) => p,
                    Err(code) => {
                        results.push((key, code));
                        continue;
                    }
                };
                match op(&mut store, &key, item, now) {
                    Ok(Some(value)) => {
                        records.push((p, key.encode(), value.map(|v| v.encode())));
                        results.push((key, 0));
                    }
                    Ok(None) => results.push((key, 0)),
                    Err(code) => results.push((key, code)),
                }
            }
            if records.is_empty() {
                None
            } else {
                let by_index: HashMap<i32, Arc<Partition>> = records
                    .iter()
                    .map(|(p, _, _)| (p.index, Arc::clone(p)))
                    .collect();
                Some(
                    internal_topic::append_records(
                        STATE_TOPIC,
                        |i| by_index.get(&i).cloned(),
                        records
                            .iter()
                            .map(|(p, k, v)| (p.index, None, k, v.as_ref())),
                        now,
                    )
                    .map_err(|e| e.coordinator_code()),
                )
            }
        };
        let outcome = match pending {
            None => Ok(()),
            Some(Ok(p)) => p.committed().await.map_err(|e| e.coordinator_code()),
            Some(Err(code)) => Err(code),
        };
        if let Err(code) = outcome {
            for r in results.iter_mut().filter(|r| r.1 == 0) {
                r.1 = code;
            }
        }
        results
    }

    /// WriteShareGroupState of share-partitions whose state partitions are led here.
    pub async fn coord_write(&self, items: Vec<(StateKey, StateWrite)>) -> Vec<(StateKey, i16)> {
        self.coord_apply(items, |store, key, w, now| {
            store.write(key, w, now).map(|v| Some(Some(v)))
        })
        .await
    }

    /// InitializeShareGroupState: (state epoch, start offset) per share-partition.
    pub async fn coord_initialize(
        &self,
        items: Vec<(StateKey, (i32, i64))>,
    ) -> Vec<(StateKey, i16)> {
        self.coord_apply(items, |store, key, (epoch, start), now| {
            Ok(Some(Some(store.initialize(key, epoch, start, now))))
        })
        .await
    }

    /// DeleteShareGroupState: `keys`, or every share-partition of `group` (of `topic`) here.
    pub async fn coord_delete(
        &self,
        group: &str,
        keys: Option<Vec<StateKey>>,
        topic: Option<Uuid>,
    ) -> Vec<(StateKey, i16)> {
        let keys = match keys {
            Some(k) => k,
            None => {
                let Ok(broker) = self.broker() else {
                    return Vec::new();
                };
                let mut store = self.lock();
                Self::load_all(&mut store, &broker);
                store.keys_of(group, topic)
            }
        };
        let items = keys.into_iter().map(|k| (k, ())).collect();
        self.coord_apply(items, |store, key, (), _| {
            Ok(if store.delete(key) { Some(None) } else { None })
        })
        .await
    }

    /// Share-partitions led here whose dead-letter copies are pending.
    pub fn coord_dlq_pending(&self) -> Vec<StateKey> {
        let Ok(broker) = self.broker() else {
            return Vec::new();
        };
        let mut store = self.lock();
        Self::load_all(&mut store, &broker);
        store.with_dlq_pending()
    }

    // ----- the persister -----------------------------------------------------------------

    fn route(broker: &Broker, key: &StateKey) -> Result<Route, i16> {
        let topic = broker.topic(STATE_TOPIC).ok_or(COORDINATOR_NOT_AVAILABLE)?;
        let n = topic.partitions.len() as i32;
        let slot = topic
            .slot(key.state_partition(n))
            .ok_or(COORDINATOR_NOT_AVAILABLE)?;
        let leader = slot.meta.leader;
        if leader == broker.config.node_id {
            return Ok(Route::Local);
        }
        broker
            .cluster()
            .live()
            .find(|b| b.id == leader)
            .map(|b| Route::Remote(b.host.clone(), b.port))
            .ok_or(COORDINATOR_NOT_AVAILABLE)
    }

    /// The brokers that lead at least one state partition.
    fn all_routes(broker: &Broker) -> Vec<Route> {
        let Some(topic) = broker.topic(STATE_TOPIC) else {
            return Vec::new();
        };
        let mut out: Vec<Route> = Vec::new();
        for slot in &topic.partitions {
            let leader = slot.meta.leader;
            let r = if leader == broker.config.node_id {
                Route::Local
            } else if let Some(b) = broker.cluster().live().find(|b| b.id == leader) {
                Route::Remote(b.host.clone(), b.port)
            } else {
                continue;
            };
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// Whether a persister call should try again (the coordinator is moving).
    fn retriable(code: i16) -> bool {
        matches!(
            code,
            COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR
        )
    }

    /// Run `attempt` until it answers something else than a moving coordinator, for up to
    /// about five seconds.
    async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, i16>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, i16>>,
    {
        let mut backoff = Duration::from_millis(50);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match attempt().await {
                Err(code) if Self::retriable(code) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    /// The state of `key` for its share-partition leader at `leader_epoch`.
    pub async fn read(&self, key: &StateKey, leader_epoch: i32) -> Result<Loaded, i16> {
        Self::retrying(|| self.read_once(key, leader_epoch)).await
    }

    async fn read_once(&self, key: &StateKey, leader_epoch: i32) -> Result<Loaded, i16> {
        let broker = self.broker()?;
        let (host, port) = match Self::route(&broker, key)? {
            Route::Local => return self.coord_read(key, leader_epoch),
            Route::Remote(h, p) => (h, p),
        };
        let req = ReadShareGroupStateRequest::default()
            .with_group_id(StrBytes::from_string(key.group.clone()))
            .with_topics(vec![read_req::ReadStateData::default()
                .with_topic_id(key.topic_id)
                .with_partitions(vec![read_req::PartitionData::default()
                    .with_partition(key.partition)
                    .with_leader_epoch(leader_epoch)])]);
        let resp = self
            .peers
            .send(&host, port, 0, &req)
            .await
            .map_err(|_| COORDINATOR_NOT_AVAILABLE)?;
        let p = resp
            .results
            .iter()
            .filter(|t| t.topic_id == key.topic_id)
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition == key.partition)
            .ok_or(UNKNOWN_SERVER_ERROR)?;
        if p.error_code != 0 {
            return Err(p.error_code);
        }
        if p.state_epoch < 0 {
            // Kafka: state epoch -1 and start offset -1 for state never initialized.
            return Ok(None);
        }
        let ext = p
            .unknown_tagged_fields
            .get(&SKUA_STATE_TAG)
            .and_then(|b| StateExtension::decode(b).ok())
            .unwrap_or_default();
        let batches = batches_from_wire(p.state_batches.iter().map(|b| {
            (
                b.first_offset,
                b.last_offset,
                b.delivery_state,
                b.delivery_count,
            )
        }))
        .ok_or(UNKNOWN_SERVER_ERROR)?;
        Ok(Some(StateValue {
            snapshot_epoch: ext.snapshot_epoch,
            state_epoch: p.state_epoch,
            leader_epoch,
            create_timestamp: ext.create_timestamp,
            write_timestamp: 0,
            snapshot: Snapshot {
                start_offset: p.start_offset,
                batches,
            },
            dlq_pending: ext.dlq_pending,
        }))
    }

    /// Write the snapshots of share-partitions: per key, 0 or the error code.
    pub async fn write(&self, items: Vec<(StateKey, StateWrite)>) -> Vec<(StateKey, i16)> {
        let mut results: Vec<(StateKey, i16)> = Vec::with_capacity(items.len());
        let mut todo = items;
        let mut backoff = Duration::from_millis(50);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let done = self.write_once(std::mem::take(&mut todo)).await;
            let mut again: Vec<(StateKey, StateWrite)> = Vec::new();
            for (key, w, code) in done {
                if Self::retriable(code) && tokio::time::Instant::now() < deadline {
                    again.push((key, w));
                } else {
                    results.push((key, code));
                }
            }
            if again.is_empty() {
                return results;
            }
            todo = again;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }

    async fn write_once(
        &self,
        items: Vec<(StateKey, StateWrite)>,
    ) -> Vec<(StateKey, StateWrite, i16)> {
        let broker = match self.broker() {
            Ok(b) => b,
            Err(code) => return items.into_iter().map(|(k, w)| (k, w, code)).collect(),
        };
        let mut out = Vec::new();
        let mut by_route: HashMap<Route, Vec<(StateKey, StateWrite)>> = HashMap::new();
        for (k, w) in items {
            match Self::route(&broker, &k) {
                Ok(r) => by_route.entry(r).or_default().push((k, w)),
                Err(code) => out.push((k, w, code)),
            }
        }
        let sends = by_route.into_iter().map(|(route, items)| async move {
            match route {
                Route::Local => {
                    let copy: HashMap<StateKey, StateWrite> = items.iter().cloned().collect();
                    self.coord_write(items)
                        .await
                        .into_iter()
                        .filter_map(|(k, code)| {
                            let w = copy.get(&k)?.clone();
                            Some((k, w, code))
                        })
                        .collect::<Vec<_>>()
                }
                Route::Remote(host, port) => self.write_remote(&host, port, items).await,
            }
        });
        for r in futures::future::join_all(sends).await {
            out.extend(r);
        }
        out
    }

    async fn write_remote(
        &self,
        host: &str,
        port: u16,
        items: Vec<(StateKey, StateWrite)>,
    ) -> Vec<(StateKey, StateWrite, i16)> {
        // One request per group (the RPC names one group).
        let mut by_group: BTreeMap<String, Vec<(StateKey, StateWrite)>> = BTreeMap::new();
        for (k, w) in items {
            by_group.entry(k.group.clone()).or_default().push((k, w));
        }
        let mut out = Vec::new();
        for (group, items) in by_group {
            let mut topics: BTreeMap<Uuid, Vec<write_req::PartitionData>> = BTreeMap::new();
            for (k, w) in &items {
                let ext = StateExtension {
                    snapshot_epoch: w.snapshot_epoch.unwrap_or(0),
                    create_timestamp: w.create_timestamp,
                    dlq_pending: w.dlq_pending.clone(),
                };
                let mut pd = write_req::PartitionData::default()
                    .with_partition(k.partition)
                    .with_state_epoch(w.state_epoch)
                    .with_leader_epoch(w.leader_epoch)
                    .with_start_offset(w.snapshot.start_offset)
                    .with_state_batches(
                        w.snapshot
                            .batches
                            .iter()
                            .map(|b| {
                                write_req::StateBatch::default()
                                    .with_first_offset(b.first_offset)
                                    .with_last_offset(b.last_offset)
                                    .with_delivery_state(b.state.id())
                                    .with_delivery_count(
                                        i16::try_from(b.delivery_count).unwrap_or(i16::MAX),
                                    )
                            })
                            .collect(),
                    );
                pd.unknown_tagged_fields
                    .insert(SKUA_STATE_TAG, ext.encode());
                topics.entry(k.topic_id).or_default().push(pd);
            }
            let req = WriteShareGroupStateRequest::default()
                .with_group_id(StrBytes::from_string(group))
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(id, ps)| {
                            write_req::WriteStateData::default()
                                .with_topic_id(id)
                                .with_partitions(ps)
                        })
                        .collect(),
                );
            let resp = self.peers.send(host, port, 0, &req).await;
            for (k, w) in items {
                let code = match &resp {
                    Err(e) => {
                        tracing::debug!(host, port, "WriteShareGroupState failed: {e}");
                        COORDINATOR_NOT_AVAILABLE
                    }
                    Ok(r) => r
                        .results
                        .iter()
                        .filter(|t| t.topic_id == k.topic_id)
                        .flat_map(|t| t.partitions.iter())
                        .find(|p| p.partition == k.partition)
                        .map_or(UNKNOWN_SERVER_ERROR, |p| p.error_code),
                };
                out.push((k, w, code));
            }
        }
        out
    }

    /// Initialize the state of `key` at `start` under a state epoch of at least `state_epoch`.
    pub async fn initialize(
        &self,
        key: &StateKey,
        state_epoch: i32,
        start: i64,
    ) -> Result<(), i16> {
        Self::retrying(|| self.initialize_once(key, state_epoch, start)).await
    }

    async fn initialize_once(
        &self,
        key: &StateKey,
        state_epoch: i32,
        start: i64,
    ) -> Result<(), i16> {
        let broker = self.broker()?;
        let code = match Self::route(&broker, key)? {
            Route::Local => self
                .coord_initialize(vec![(key.clone(), (state_epoch, start))])
                .await
                .first()
                .map_or(UNKNOWN_SERVER_ERROR, |r| r.1),
            Route::Remote(host, port) => {
                let req = InitializeShareGroupStateRequest::default()
                    .with_group_id(StrBytes::from_string(key.group.clone()))
                    .with_topics(vec![init_req::InitializeStateData::default()
                        .with_topic_id(key.topic_id)
                        .with_partitions(vec![init_req::PartitionData::default()
                            .with_partition(key.partition)
                            .with_state_epoch(state_epoch)
                            .with_start_offset(start)])]);
                let resp = self
                    .peers
                    .send(&host, port, 0, &req)
                    .await
                    .map_err(|_| COORDINATOR_NOT_AVAILABLE)?;
                resp.results
                    .iter()
                    .filter(|t| t.topic_id == key.topic_id)
                    .flat_map(|t| t.partitions.iter())
                    .find(|p| p.partition == key.partition)
                    .map_or(UNKNOWN_SERVER_ERROR, |p| p.error_code)
            }
        };
        if code == 0 {
            Ok(())
        } else {
            Err(code)
        }
    }

    /// Delete the state of every share-partition of `group` (of `topic`), wherever kept.
    pub async fn delete(&self, group: &str, topic: Option<Uuid>) -> Result<(), i16> {
        let broker = self.broker()?;
        for route in Self::all_routes(&broker) {
            let r = match route {
                Route::Local => self
                    .coord_delete(group, None, topic)
                    .await
                    .into_iter()
                    .map(|(_, c)| c)
                    .find(|c| *c != 0)
                    .map_or(Ok(()), Err),
                Route::Remote(host, port) => {
                    let req = DeleteShareGroupStateRequest::default()
                        .with_group_id(StrBytes::from_string(group.to_string()))
                        .with_topics(
                            topic
                                .map(|id| {
                                    vec![del_req::DeleteStateData::default().with_topic_id(id)]
                                })
                                .unwrap_or_default(),
                        );
                    match self.peers.send(&host, port, 0, &req).await {
                        Err(_) => Err(COORDINATOR_NOT_AVAILABLE),
                        Ok(resp) => resp
                            .results
                            .iter()
                            .flat_map(|t| t.partitions.iter())
                            .map(|p| p.error_code)
                            .find(|c| *c != 0)
                            .map_or(Ok(()), Err),
                    }
                }
            };
            r?;
        }
        Ok(())
    }

    /// The start offset of every share-partition of `group` with state, wherever kept.
    pub async fn start_offsets(&self, group: &str) -> Result<BTreeMap<(Uuid, i32), i64>, i16> {
        let broker = self.broker()?;
        let mut out = BTreeMap::new();
        for route in Self::all_routes(&broker) {
            match route {
                Route::Local => {
                    for (k, v) in self.coord_summary(group, None, None) {
                        if let Some(v) = v? {
                            out.insert((k.topic_id, k.partition), v.snapshot.start_offset);
                        }
                    }
                }
                Route::Remote(host, port) => {
                    let req = ReadShareGroupStateSummaryRequest::default()
                        .with_group_id(StrBytes::from_string(group.to_string()));
                    let resp = self
                        .peers
                        .send(&host, port, 0, &req)
                        .await
                        .map_err(|_| COORDINATOR_NOT_AVAILABLE)?;
                    for t in &resp.results {
                        for p in &t.partitions {
                            if p.error_code != 0 {
                                return Err(p.error_code);
                            }
                            if p.state_epoch >= 0 {
                                out.insert((t.topic_id, p.partition), p.start_offset);
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The partitions of a summary or delete request: None for "every one of the group".
pub fn requested_keys<'a>(
    group: &str,
    topics: impl Iterator<Item = (Uuid, &'a [i32])>,
) -> (Option<Vec<StateKey>>, Vec<Uuid>) {
    let mut keys = Vec::new();
    let mut whole = Vec::new();
    let mut any = false;
    for (id, parts) in topics {
        any = true;
        if parts.is_empty() {
            whole.push(id);
        }
        for p in parts {
            keys.push(StateKey {
                group: group.to_string(),
                topic_id: id,
                partition: *p,
            });
        }
    }
    (if any { Some(keys) } else { None }, whole)
}

/// Per-key codes grouped by topic, in first-seen order: (topic id, [(partition, code)]) — the
/// shape of every share-state response.
pub fn by_topic(codes: Vec<(StateKey, i16)>) -> Vec<(Uuid, Vec<(i32, i16)>)> {
    let mut out: Vec<(Uuid, Vec<(i32, i16)>)> = Vec::new();
    for (key, code) in codes {
        match out.iter_mut().find(|(id, _)| *id == key.topic_id) {
            Some((_, ps)) => ps.push((key.partition, code)),
            None => out.push((key.topic_id, vec![(key.partition, code)])),
        }
    }
    out
}
