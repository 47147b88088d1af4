//! The transaction runtime over a real broker's `__transaction_state`: loading and unloading
//! partitions on demand, and markers sent to partitions led by another broker (an in-process
//! broker serving WriteTxnMarkers, a fake peer answering NOT_LEADER_OR_FOLLOWER, a dead one).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{ApiKey, WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::server::test_support::{create_topic, start_server, test_config};
use crate::txn::types::DescribedTxn;

const PARTITIONS: i32 = 4;

async fn open_broker() -> (tempfile::TempDir, Arc<Broker>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = test_config(dir.path(), &["transaction.state.log.num.partitions=4"]);
    let broker = tokio::task::spawn_blocking(move || Broker::open(cfg, "test-cluster"))
        .await
        .unwrap()
        .unwrap();
    broker.producer_ids.add_block(0, 1000);
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), Some("compact".to_string()));
    broker.create_topic_here(TXN_TOPIC, PARTITIONS, configs);
    (dir, broker)
}

fn on_demand(broker: &Arc<Broker>, router: Arc<dyn MarkerRouter>) -> TxnHandle {
    let options = TxnOptions {
        mode: LoadMode::OnDemand,
        router,
        producer_ids: None,
    };
    start(broker, options).unwrap()
}

/// A transactional id stored in partition `p` of 4.
fn tid_in(p: i32, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}{i}"))
        .find(|t| crate::group::partition_for(t, PARTITIONS) == p)
        .unwrap()
}

fn init_req(tid: &str) -> Request {
    Request::InitProducerId {
        transactional_id: Some(tid.into()),
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        version: 4,
    }
}

async fn init(h: &TxnHandle, tid: &str) -> Result<(i64, i16), i16> {
    match h.submit(init_req(tid)).await {
        Some(Response::InitProducerId {
            error: 0,
            producer_id,
            producer_epoch,
        }) => Ok((producer_id, producer_epoch)),
        Some(Response::InitProducerId { error, .. }) => Err(error),
        other => panic!("{other:?}"),
    }
}

async fn add(h: &TxnHandle, tid: &str, (pid, epoch): (i64, i16), parts: &[(&str, i32)]) -> i16 {
    let req = Request::AddPartitions {
        transactional_id: tid.into(),
        producer_id: pid,
        producer_epoch: epoch,
        partitions: parts.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
        verify_only: false,
        version: 3,
        tv2: false,
    };
    match h.submit(req).await {
        Some(Response::AddPartitions { error, .. }) => error,
        other => panic!("{other:?}"),
    }
}

fn end_req(tid: &str, (pid, epoch): (i64, i16), commit: bool) -> Request {
    Request::EndTxn {
        transactional_id: tid.into(),
        producer_id: pid,
        producer_epoch: epoch,
        commit,
        version: 3,
    }
}

async fn describe(h: &TxnHandle, tids: &[&str]) -> Vec<DescribedTxn> {
    let req = Request::Describe {
        transactional_ids: tids.iter().map(|t| t.to_string()).collect(),
    };
    match h.submit(req).await {
        Some(Response::Describe { transactions }) => transactions,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn on_demand_coordinator_serves_only_the_partitions_it_loaded() {
    let (_dir, broker) = open_broker().await;
    let h = on_demand(&broker, Arc::new(LocalOnly::new(&broker)));
    let (a, b) = (tid_in(1, "a"), tid_in(2, "b"));
    assert_eq!(h.partition_for(&a), 1);
    assert_eq!(init(&h, &a).await, Err(16), "NOT_COORDINATOR");
    // An idempotent producer gets an id from any coordinator.
    let idempotent = Request::InitProducerId {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        version: 4,
    };
    assert!(matches!(
        h.submit(idempotent).await,
        Some(Response::InitProducerId { error: 0, .. })
    ));
    assert_eq!(
        h.load_partition(1, 3).await.unwrap(),
        LoadOutcome::Loaded { records: 0 }
    );
    let producer = init(&h, &a).await.unwrap();
    assert_eq!(add(&h, &a, producer, &[("t", 0)]).await, 0);
    let d = describe(&h, &[&b, &a]).await;
    assert_eq!(
        d.iter()
            .map(|t| (t.transactional_id.as_str(), t.error, t.state.as_str()))
            .collect::<Vec<_>>(),
        vec![(b.as_str(), 16, ""), (a.as_str(), 0, "Ongoing")]
    );
    // While a partition loads, ListTransactions is COORDINATOR_LOAD_IN_PROGRESS and its ids
    // are too.
    let loading = h.load_partition(2, 0);
    let during = init(&h, &b);
    let list = h.submit(Request::List {
        state_filters: vec![],
        producer_id_filters: vec![],
        duration_filter_ms: -1,
        transactional_id_pattern: None,
    });
    assert_eq!(during.await, Err(14));
    assert!(matches!(list.await, Some(Response::List { error: 14, .. })));
    assert_eq!(loading.await.unwrap(), LoadOutcome::Loaded { records: 0 });
    assert!(init(&h, &b).await.is_ok());
}

#[tokio::test]
async fn unload_drops_the_transactions_and_a_reload_restores_them() {
    let (_dir, broker) = open_broker().await;
    let h = on_demand(&broker, Arc::new(LocalOnly::new(&broker)));
    let a = tid_in(3, "a");
    h.load_partition(3, 2).await.unwrap();
    let (pid, epoch) = init(&h, &a).await.unwrap();
    assert_eq!(add(&h, &a, (pid, epoch), &[("t", 0)]).await, 0);
    assert_eq!(broker.txn_partitions.check(pid, epoch, "t", 0), Ok(()));
    h.unload_partition(3);
    assert_eq!(init(&h, &a).await, Err(16));
    assert_eq!(
        broker.txn_partitions.check(pid, epoch, "t", 0),
        Err(48),
        "this broker no longer vouches for the transaction"
    );
    assert_eq!(h.load_partition(3, 1).await.unwrap(), LoadOutcome::Stale);
    assert_eq!(
        h.load_partition(3, 2).await.unwrap(),
        LoadOutcome::Loaded { records: 2 }
    );
    let d = describe(&h, &[&a]).await;
    assert_eq!(
        (
            d[0].state.as_str(),
            d[0].producer_id,
            d[0].partitions.clone()
        ),
        ("Ongoing", pid, vec![("t".to_string(), 0)])
    );
    assert_eq!(broker.txn_partitions.check(pid, epoch, "t", 0), Ok(()));
}

/// Routes topic "t": first to a fake leader answering NOT_LEADER_OR_FOLLOWER, then to a
/// dead address, then to the real leader.
struct MovingLeader {
    calls: AtomicUsize,
    fake: u16,
    dead: u16,
    real: u16,
}

impl MarkerRouter for MovingLeader {
    fn route(&self, topic: &str, _partition: i32) -> MarkerRoute {
        assert_eq!(topic, "t");
        let port = match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => self.fake,
            1 => self.dead,
            _ => self.real,
        };
        MarkerRoute::Remote {
            node_id: 2,
            host: "127.0.0.1".into(),
            port,
        }
    }
}

/// A peer that answers every WriteTxnMarkers with NOT_LEADER_OR_FOLLOWER and records
/// (producer id, coordinator epoch, partitions) of what it got.
/// (producer id, coordinator epoch, partitions) of each WriteTxnMarkers a fake peer got.
type Seen = Arc<Mutex<Vec<(i64, i32, Vec<i32>)>>>;

async fn not_leader_peer(seen: Seen) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        while let Ok(size) = s.read_i32().await {
            let mut buf = vec![0u8; size as usize];
            s.read_exact(&mut buf).await.unwrap();
            let mut frame = Bytes::from(buf);
            let header =
                crate::protocol::decode_header(ApiKey::WriteTxnMarkers, 1, &mut frame).unwrap();
            let req: WriteTxnMarkersRequest =
                crate::protocol::decode_body(ApiKey::WriteTxnMarkers, 1, &mut frame).unwrap();
            let m = &req.markers[0];
            let parts = m.topics[0].partition_indexes.clone();
            seen.lock()
                .unwrap()
                .push((m.producer_id.0, m.coordinator_epoch, parts.clone()));
            let result = WritableTxnMarkerResult::default()
                .with_producer_id(m.producer_id)
                .with_topics(vec![WritableTxnMarkerTopicResult::default()
                    .with_name(m.topics[0].name.clone())
                    .with_partitions(
                        parts
                            .iter()
                            .map(|&p| {
                                WritableTxnMarkerPartitionResult::default()
                                    .with_partition_index(p)
                                    .with_error_code(6)
                            })
                            .collect(),
                    )]);
            let resp = WriteTxnMarkersResponse::default().with_markers(vec![result]);
            let out: BytesMut = crate::protocol::encode_response(header.correlation_id, 1, &resp)
                .unwrap()
                .into();
            s.write_all(&out).await.unwrap();
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_reach_partitions_led_by_another_broker() {
    let leader = start_server(&[]).await;
    create_topic(&leader.broker, "t", 2).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let router = MovingLeader {
        calls: AtomicUsize::new(0),
        fake: not_leader_peer(Arc::clone(&seen)).await,
        dead: dead_port,
        real: leader.addr.port(),
    };
    let (_dir, broker) = open_broker().await;
    let h = on_demand(&broker, Arc::new(router));
    let tid = tid_in(0, "x");
    h.load_partition(0, 7).await.unwrap();
    let producer = init(&h, &tid).await.unwrap();
    assert_eq!(add(&h, &tid, producer, &[("t", 0)]).await, 0);
    // Answered once the marker is written on the leader (after a NOT_LEADER_OR_FOLLOWER
    // and a refused connection).
    let end = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        h.submit(end_req(&tid, producer, true)),
    )
    .await
    .unwrap();
    assert_eq!(end, Some(Response::end_txn_error(0)));
    assert_eq!(*seen.lock().unwrap(), vec![(producer.0, 7, vec![0])]);
    let p = leader.broker.partition("t", 0).unwrap();
    assert_eq!(p.log().log_end_offset(), 1, "one control batch");
    assert_eq!(
        leader
            .broker
            .partition("t", 1)
            .unwrap()
            .log()
            .log_end_offset(),
        0
    );
    assert_eq!(describe(&h, &[&tid]).await[0].state, "CompleteCommit");
    leader.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_marker_is_abandoned() {
    let leader = start_server(&[]).await;
    create_topic(&leader.broker, "t", 1).await;
    let (_dir, broker) = open_broker().await;
    let router = MovingLeader {
        calls: AtomicUsize::new(2),
        fake: 0,
        dead: 0,
        real: leader.addr.port(),
    };
    let h = on_demand(&broker, Arc::new(router));
    let tid = tid_in(0, "f");
    h.load_partition(0, 1).await.unwrap();
    let producer = init(&h, &tid).await.unwrap();
    assert_eq!(add(&h, &tid, producer, &[("t", 0)]).await, 0);
    // A newer coordinator (epoch 5) already wrote a marker for this producer there.
    let newer = crate::api::write_txn_markers::TxnMarker {
        producer_id: producer.0,
        producer_epoch: producer.1,
        commit: false,
        coordinator_epoch: 5,
    };
    crate::api::write_txn_markers::write_marker(&leader.broker, newer, "t", 0)
        .await
        .unwrap();
    let end = h.submit(end_req(&tid, producer, true));
    let waited = tokio::time::timeout(std::time::Duration::from_millis(700), end).await;
    assert!(waited.is_err(), "EndTxn stays parked: {waited:?}");
    assert_eq!(describe(&h, &[&tid]).await[0].state, "PrepareCommit");
    assert_eq!(
        leader
            .broker
            .partition("t", 0)
            .unwrap()
            .log()
            .log_end_offset(),
        1,
        "only the newer coordinator's marker"
    );
    leader.stop().await;
}
