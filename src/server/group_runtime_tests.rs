//! The group runtime over a real broker's `__consumer_offsets`: loading and unloading
//! partitions on demand, NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS, stale loads, parked
//! joins answered on unload, and transaction markers.

use std::collections::BTreeMap;

use super::*;
use crate::group::types::{
    CommitPartition, Heartbeat, JoinGroup, OffsetCommit, OffsetFetch, OffsetFetchGroup,
    TxnOffsetCommit,
};
use crate::server::test_support::test_config;

const PARTITIONS: i32 = 4;

async fn open_broker(sets: &[&str]) -> (tempfile::TempDir, Arc<Broker>) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["offsets.topic.num.partitions=4"];
    all.extend_from_slice(sets);
    let cfg = test_config(dir.path(), &all);
    let broker = tokio::task::spawn_blocking(move || Broker::open(cfg, "test-cluster"))
        .await
        .unwrap()
        .unwrap();
    (dir, broker)
}

fn create_offsets_topic(broker: &Broker) {
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), Some("compact".to_string()));
    broker.create_topic_here(OFFSETS_TOPIC, PARTITIONS, configs);
}

/// A group id stored in partition `p` of 4.
fn group_in(p: i32, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}{i}"))
        .find(|g| crate::group::partition_for(g, PARTITIONS) == p)
        .unwrap()
}

fn commit(group: &str, offset: i64) -> Request {
    Request::OffsetCommit(OffsetCommit {
        group_id: group.into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        retention_time_ms: -1,
        partitions: vec![CommitPartition {
            topic: "orders".into(),
            partition: 0,
            offset,
            leader_epoch: -1,
            metadata: None,
        }],
        version: 8,
    })
}

fn commit_error(r: Option<Response>) -> i16 {
    match r {
        Some(Response::OffsetCommit { partitions }) => partitions[0].2,
        other => panic!("expected an OffsetCommit answer, got {other:?}"),
    }
}

/// (group, error, committed offset of orders-0 or -1).
async fn fetch(h: &GroupHandle, groups: &[&str]) -> Vec<(String, i16, i64)> {
    let req = Request::OffsetFetch(OffsetFetch {
        groups: groups
            .iter()
            .map(|g| OffsetFetchGroup {
                member: None,
                group_id: g.to_string(),
                topics: Some(vec![("orders".into(), vec![0])]),
            })
            .collect(),
        require_stable: false,
    });
    match h.submit(req).await {
        Some(Response::OffsetFetch { groups }) => groups
            .into_iter()
            .map(|g| {
                let offset = g.offsets.first().map_or(-1, |o| o.offset);
                (g.group_id, g.error, offset)
            })
            .collect(),
        other => panic!("expected an OffsetFetch answer, got {other:?}"),
    }
}

fn join(group: &str, member_id: &str) -> Request {
    Request::Join(JoinGroup {
        group_id: group.into(),
        member_id: member_id.into(),
        group_instance_id: None,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), bytes::Bytes::from_static(b"x"))],
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        reason: None,
        version: 9,
        topics: None,
    })
}

#[tokio::test]
async fn on_demand_coordinator_serves_only_the_partitions_it_loaded() {
    let (_dir, broker) = open_broker(&[]).await;
    create_offsets_topic(&broker);
    let h = start(&broker, LoadMode::OnDemand).unwrap();
    let (a, b) = (group_in(1, "a"), group_in(2, "b"));
    assert_eq!(h.partition_for(&a), 1);
    assert_eq!(
        commit_error(h.submit(commit(&a, 5)).await),
        16,
        "NOT_COORDINATOR"
    );
    assert_eq!(
        h.load_partition(1, 0).await.unwrap(),
        LoadOutcome::Loaded { records: 0 }
    );
    assert_eq!(commit_error(h.submit(commit(&a, 5)).await), 0);
    assert_eq!(commit_error(h.submit(commit(&b, 6)).await), 16);
    // One OffsetFetch for both: each group gets its own answer, in request order.
    assert_eq!(
        fetch(&h, &[&b, &a]).await,
        vec![(b.clone(), 16, -1), (a.clone(), 0, 5)]
    );
    let listed = h
        .submit(Request::List {
            states: vec![],
            types: vec![],
        })
        .await;
    match listed {
        Some(Response::List { error: 0, groups }) => {
            assert_eq!(
                groups
                    .iter()
                    .map(|g| g.group_id.clone())
                    .collect::<Vec<_>>(),
                vec![a]
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn requests_during_a_load_get_coordinator_load_in_progress() {
    let (_dir, broker) = open_broker(&[]).await;
    create_offsets_topic(&broker);
    let h = start(&broker, LoadMode::OnDemand).unwrap();
    let a = group_in(3, "a");
    // Queued right behind the load: handled before the partition's read comes back.
    let loading = h.load_partition(3, 0);
    let during = h.submit(commit(&a, 1));
    let list = h.submit(Request::List {
        states: vec![],
        types: vec![],
    });
    assert_eq!(
        commit_error(during.await),
        14,
        "COORDINATOR_LOAD_IN_PROGRESS"
    );
    assert!(matches!(list.await, Some(Response::List { error: 14, .. })));
    assert_eq!(loading.await.unwrap(), LoadOutcome::Loaded { records: 0 });
    assert_eq!(commit_error(h.submit(commit(&a, 1)).await), 0);
}

#[tokio::test]
async fn a_load_replays_what_an_earlier_coordinator_wrote() {
    let (_dir, broker) = open_broker(&[]).await;
    let (a, b) = (group_in(0, "a"), group_in(2, "b"));
    create_offsets_topic(&broker);
    {
        // Load everything at start, then write.
        let first = start(&broker, LoadMode::All).unwrap();
        assert_eq!(commit_error(first.submit(commit(&a, 7)).await), 0);
        assert_eq!(commit_error(first.submit(commit(&b, 8)).await), 0);
    }
    let h = start(&broker, LoadMode::OnDemand).unwrap();
    assert_eq!(h.offsets_topic_partitions(), PARTITIONS);
    assert_eq!(
        h.load_partition(0, 3).await.unwrap(),
        LoadOutcome::Loaded { records: 1 }
    );
    assert_eq!(
        fetch(&h, &[&a, &b]).await,
        vec![(a.clone(), 0, 7), (b.clone(), 16, -1)]
    );
}

#[tokio::test]
async fn unloading_answers_parked_joins_and_refuses_the_partition() {
    let (_dir, broker) = open_broker(&["group.initial.rebalance.delay.ms=60000"]).await;
    create_offsets_topic(&broker);
    let h = start(&broker, LoadMode::OnDemand).unwrap();
    let g = group_in(2, "g");
    h.load_partition(2, 1).await.unwrap();
    let member_id = match h.submit(join(&g, "")).await {
        Some(Response::Join(j)) if j.error == 79 => j.member_id,
        other => panic!("expected MEMBER_ID_REQUIRED, got {other:?}"),
    };
    // Parked for the initial rebalance delay.
    let parked = h.submit(join(&g, &member_id));
    h.unload_partition(2);
    match parked.await {
        Some(Response::Join(j)) => assert_eq!((j.error, j.member_id), (16, member_id.clone())),
        other => panic!("{other:?}"),
    }
    let hb = h
        .submit(Request::Heartbeat(Heartbeat {
            group_id: g.clone(),
            generation_id: 0,
            member_id,
            group_instance_id: None,
        }))
        .await;
    assert_eq!(hb, Some(Response::Heartbeat { error: 16 }));
    // Leadership comes back with a newer epoch: the group's record (written by the join)
    // is replayed.
    assert_eq!(
        h.load_partition(2, 2).await.unwrap(),
        LoadOutcome::Loaded { records: 1 }
    );
    assert_eq!(fetch(&h, &[&g]).await, vec![(g, 0, -1)]);
}

#[tokio::test]
async fn stale_and_repeated_loads_are_ignored() {
    let (_dir, broker) = open_broker(&[]).await;
    create_offsets_topic(&broker);
    let h = start(&broker, LoadMode::OnDemand).unwrap();
    let a = group_in(1, "a");
    assert_eq!(
        h.load_partition(1, 5).await.unwrap(),
        LoadOutcome::Loaded { records: 0 }
    );
    assert_eq!(
        h.load_partition(1, 6).await.unwrap(),
        LoadOutcome::AlreadyLoaded
    );
    assert_eq!(commit_error(h.submit(commit(&a, 2)).await), 0);
    h.unload_partition(1);
    assert_eq!(h.load_partition(1, 4).await.unwrap(), LoadOutcome::Stale);
    assert_eq!(commit_error(h.submit(commit(&a, 3)).await), 16);
    // A load overtaken by an unload is cancelled.
    let cancelled = h.load_partition(1, 7);
    h.unload_partition(1);
    assert_eq!(cancelled.await.unwrap(), LoadOutcome::Cancelled);
    assert_eq!(commit_error(h.submit(commit(&a, 3)).await), 16);
    // A partition that does not exist here fails to load and stays NOT_COORDINATOR.
    match h.load_partition(9, 0).await.unwrap() {
        LoadOutcome::Failed(e) => assert!(e.contains("not hosted"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn markers_reach_only_loaded_partitions_and_complete_pending_offsets() {
    let (_dir, broker) = open_broker(&[]).await;
    create_offsets_topic(&broker);
    let h = start(&broker, LoadMode::OnDemand).unwrap();
    let g = group_in(3, "t");
    assert_eq!(h.write_marker(3, 77, 0, true, 0).await, Err(6));
    h.load_partition(3, 0).await.unwrap();
    let txn_commit = Request::TxnOffsetCommit(TxnOffsetCommit {
        transactional_id: "tx".into(),
        group_id: g.clone(),
        producer_id: 77,
        producer_epoch: 0,
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        partitions: vec![CommitPartition {
            topic: "orders".into(),
            partition: 0,
            offset: 42,
            leader_epoch: -1,
            metadata: None,
        }],
    });
    assert_eq!(
        h.submit(txn_commit).await,
        Some(Response::TxnOffsetCommit {
            partitions: vec![("orders".into(), 0, 0)]
        })
    );
    assert_eq!(fetch(&h, &[&g]).await, vec![(g.clone(), 0, -1)], "pending");
    assert_eq!(h.write_marker(3, 77, 0, true, 0).await, Ok(()));
    assert_eq!(fetch(&h, &[&g]).await, vec![(g.clone(), 0, 42)]);
    // An older producer epoch is fenced by the log.
    assert_eq!(h.write_marker(3, 77, -1, false, 0).await, Err(47));
    // After a reload the marker is replayed from the log.
    h.unload_partition(3);
    h.load_partition(3, 1).await.unwrap();
    assert_eq!(fetch(&h, &[&g]).await, vec![(g, 0, 42)]);
}
