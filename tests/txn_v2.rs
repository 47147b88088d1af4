//! Transactions V2 (KIP-890 part 2) over raw Kafka protocol against the real binary: the
//! `transaction.version` feature in ApiVersions, Produce v12+ adding partitions to the
//! transaction itself, TxnOffsetCommit v5 adding the group's offsets partition, EndTxn v5
//! bumping the epoch (answered in the response, carried by the markers), retries and fencing
//! of the old epoch, and aborts of transactions nothing was added to. No client in the test
//! environment speaks transactions V2 (librdkafka 2.12 sends EndTxn v1 and Produce ≤ v10),
//! so these raw requests are the ones Kafka 4's Java producer sends.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{decode_records, producer_batch, Broker, Client};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn create(c: &mut Client, topic: &str) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(topic)))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = c.call(5, &req);
    assert_eq!(r.topics[0].error_code, 0);
}

fn init(c: &mut Client, id: &str) -> (i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r: InitProducerIdResponse = c.call(5, &req);
        if r.error_code == 0 {
            return (r.producer_id.0, r.producer_epoch);
        }
        assert_eq!(r.error_code, 51);
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Produce one batch at version `v`: (error, base offset).
fn produce(c: &mut Client, v: i16, topic: &str, records: Bytes, id: &str) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let r: ProduceResponse = c.call(v, &req);
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// EndTxn at `v`: (error, producer id, epoch).
fn end_txn(
    c: &mut Client,
    v: i16,
    id: &str,
    pid: i64,
    epoch: i16,
    commit: bool,
) -> (i16, i64, i16) {
    let req = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s(id)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    let r: EndTxnResponse = c.call(v, &req);
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

#[allow(clippy::too_many_arguments)]
fn txn_commit(
    c: &mut Client,
    v: i16,
    id: &str,
    group: &str,
    pid: i64,
    epoch: i16,
    topic: &str,
    offset: i64,
) -> i16 {
    let req = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s(id)))
        .with_group_id(GroupId(s(group)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_member_id(s(""))
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(-1)])]);
    let r: TxnOffsetCommitResponse = c.call(v, &req);
    r.topics[0].partitions[0].error_code
}

fn committed_offset(c: &mut Client, group: &str, topic: &str) -> i64 {
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_require_stable(true)
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partition_indexes(vec![0])]));
    let r: OffsetFetchResponse = c.call(7, &req);
    r.topics[0].partitions[0].committed_offset
}

/// read_committed fetch once the LSO reached the high watermark (markers written).
fn stable(c: &mut Client, topic: &str) -> fetch_response::PartitionData {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_isolation_level(1)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(s(topic)))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20)])]);
        let r: FetchResponse = c.call(11, &req);
        let p = r.responses[0].partitions[0].clone();
        if p.last_stable_offset == p.high_watermark {
            return p;
        }
        assert!(Instant::now() < deadline, "LSO stuck");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (offset, producer epoch, is control, value) of every record of the partition.
fn records(p: &fetch_response::PartitionData) -> Vec<(i64, i16, bool, String)> {
    decode_records(p.records.as_ref().expect("records"))
        .into_iter()
        .map(|r| {
            let v = r.value.map(|v| String::from_utf8_lossy(&v).to_string());
            let v = if r.control {
                String::new()
            } else {
                v.unwrap_or_default()
            };
            (r.offset, r.producer_epoch, r.control, v)
        })
        .collect()
}

#[test]
fn api_versions_finalizes_transaction_version_2() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    for v in 3..=4 {
        let r: ApiVersionsResponse = c.call(v, &ApiVersionsRequest::default());
        let supported: Vec<(String, i16, i16)> = r
            .supported_features
            .iter()
            .map(|f| (f.name.to_string(), f.min_version, f.max_version))
            .collect();
        assert_eq!(
            supported,
            vec![("transaction.version".into(), 0, 2)],
            "v{v}"
        );
        let finalized: Vec<(String, i16, i16)> = r
            .finalized_features
            .iter()
            .map(|f| (f.name.to_string(), f.min_version_level, f.max_version_level))
            .collect();
        assert_eq!(
            finalized,
            vec![("transaction.version".into(), 2, 2)],
            "v{v}"
        );
        assert_eq!(r.finalized_features_epoch, 0);
        let end = r.api_keys.iter().find(|k| k.api_key == 26).unwrap();
        assert_eq!(end.max_version, 5);
        let toc = r.api_keys.iter().find(|k| k.api_key == 28).unwrap();
        assert_eq!(toc.max_version, 5);
    }
    // Without verification the brokers cannot add partitions: no transactions V2.
    let b = Broker::start(&["transaction.partition.verification.enable=false"]);
    let r: ApiVersionsResponse = b.client().call(3, &ApiVersionsRequest::default());
    assert!(r.finalized_features.is_empty() && r.supported_features.is_empty());
}

#[test]
fn produce_v12_and_txn_offset_commit_v5_add_implicitly_and_end_txn_v5_bumps() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "tv2");
    let (pid, e0) = init(&mut c, "tx2");
    // Produce v11 (transactions V1) to a partition not added: refused, as before.
    let batch = producer_batch(1, "v1", pid, e0, 0, true);
    assert_eq!(produce(&mut c, 11, "tv2", batch, "tx2").0, 48);
    // Produce v12 adds the partition itself.
    let batch = producer_batch(3, "c", pid, e0, 0, true);
    assert_eq!(produce(&mut c, 12, "tv2", batch, "tx2"), (0, 0));
    // TxnOffsetCommit v4 needs AddOffsetsToTxn; v5 adds the offsets partition itself.
    assert_eq!(txn_commit(&mut c, 4, "tx2", "g2", pid, e0, "tv2", 3), 48);
    assert_eq!(txn_commit(&mut c, 5, "tx2", "g2", pid, e0, "tv2", 3), 0);
    // Commit: the epoch is bumped and answered.
    assert_eq!(end_txn(&mut c, 5, "tx2", pid, e0, true), (0, pid, e0 + 1));
    let p = stable(&mut c, "tv2");
    assert_eq!(
        records(&p),
        vec![
            (0, e0, false, "c-v0".into()),
            (1, e0, false, "c-v1".into()),
            (2, e0, false, "c-v2".into()),
            (3, e0 + 1, true, String::new()),
        ],
        "the commit marker carries the bumped epoch"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while committed_offset(&mut c, "g2", "tv2") != 3 {
        assert!(Instant::now() < deadline, "offset not committed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A retry of the EndTxn (old epoch) gets the same answer.
    assert_eq!(end_txn(&mut c, 5, "tx2", pid, e0, true), (0, pid, e0 + 1));
    // The old epoch is fenced everywhere.
    let batch = producer_batch(1, "z", pid, e0, 3, true);
    assert_eq!(produce(&mut c, 12, "tv2", batch, "tx2").0, 47);
    assert_eq!(txn_commit(&mut c, 5, "tx2", "g2", pid, e0, "tv2", 9), 90);
    assert_eq!(end_txn(&mut c, 5, "tx2", pid, e0, false), (48, -1, -1));
    // The next transaction at the new epoch, aborted.
    let e1 = e0 + 1;
    let batch = producer_batch(2, "a", pid, e1, 0, true);
    assert_eq!(produce(&mut c, 12, "tv2", batch, "tx2"), (0, 4));
    assert_eq!(end_txn(&mut c, 5, "tx2", pid, e1, false), (0, pid, e1 + 1));
    let p = stable(&mut c, "tv2");
    let aborted: Vec<(i64, i64)> = p
        .aborted_transactions
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    assert_eq!(aborted, vec![(pid, 4)]);
    assert_eq!(
        records(&p).last().unwrap(),
        &(6, e1 + 1, true, String::new())
    );
    // A zombie two epochs behind is fenced.
    assert_eq!(end_txn(&mut c, 5, "tx2", pid, e0, false), (90, -1, -1));
    // EndTxn v4 fenced-name rules are unchanged.
    assert_eq!(end_txn(&mut c, 4, "tx2", pid, e0, false).0, 90);
}

#[test]
fn abort_with_nothing_added_bumps_the_epoch() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let (pid, e0) = init(&mut c, "empty");
    assert_eq!(end_txn(&mut c, 5, "empty", pid, e0, true), (48, -1, -1));
    assert_eq!(
        end_txn(&mut c, 5, "empty", pid, e0, false),
        (0, pid, e0 + 1)
    );
    assert_eq!(
        end_txn(&mut c, 5, "empty", pid, e0, false),
        (0, pid, e0 + 1)
    );
    assert_eq!(
        end_txn(&mut c, 5, "empty", pid, e0 + 1, false),
        (0, pid, e0 + 2)
    );
    // A new instance still fences and bumps as before.
    let (pid2, e) = init(&mut c, "empty");
    assert_eq!((pid2, e), (pid, e0 + 3));
    // The state survives a restart (record v1 with the client transaction version).
    drop(c);
    let mut b = b;
    b.stop();
    b.spawn();
    let mut c = b.client();
    assert_eq!(
        end_txn(&mut c, 5, "empty", pid, e0 + 3, false),
        (0, pid, e0 + 4)
    );
}

/// FindCoordinator v4 for one key (0 group, 1 transaction) at any node: the coordinator's id.
fn coordinator(c: &common::cluster::Cluster, key: &str, key_type: i8) -> i32 {
    let req = FindCoordinatorRequest::default()
        .with_key_type(key_type)
        .with_coordinator_keys(vec![s(key)]);
    c.wait_for(
        &format!("coordinator of {key}"),
        Duration::from_secs(30),
        |c| {
            let addr = c.direct_addr(c.broker_ids()[0]);
            let r: FindCoordinatorResponse =
                common::cluster::call(&addr, 4, &req, Duration::from_secs(10))?;
            let k = r.coordinators.first().ok_or("no coordinator")?;
            if k.error_code != 0 {
                return Err(format!("error {}", k.error_code));
            }
            Ok(k.node_id.0)
        },
    )
}

/// A cluster: the partition's leader and the group coordinator are not the transaction
/// coordinator, so the implicit adds (v12 produce, TxnOffsetCommit v5) and the verification of
/// a transactions-V1 batch (produce v11) go to the coordinator's broker as AddPartitionsToTxn.
#[test]
fn in_a_cluster_partition_leaders_add_and_verify_through_a_remote_coordinator() {
    let c = common::cluster::Cluster::start(3, &[]);
    c.create_topic("tv2c", 1, 3, &[]);
    let leader = c.wait_for_leader("tv2c", 0);
    let pick = |prefix: &str, key_type: i8, avoid: &[i32]| -> (String, i32) {
        (0..200)
            .map(|i| format!("{prefix}-{i}"))
            .map(|k| {
                let n = coordinator(&c, &k, key_type);
                (k, n)
            })
            .find(|(_, n)| !avoid.contains(n))
            .expect("a key coordinated elsewhere")
    };
    let (tid, txn_node) = pick("txc", 1, &[leader]);
    let (group, group_node) = pick("gc", 0, &[txn_node]);
    let mut at_txn = Client::connect(&c.direct_addr(txn_node));
    let mut at_leader = Client::connect(&c.direct_addr(leader));
    let mut at_group = Client::connect(&c.direct_addr(group_node));

    // Every broker finalizes transactions V2.
    for id in c.broker_ids() {
        let r: ApiVersionsResponse =
            Client::connect(&c.direct_addr(id)).call(3, &ApiVersionsRequest::default());
        let finalized: Vec<(String, i16)> = r
            .finalized_features
            .iter()
            .map(|f| (f.name.to_string(), f.max_version_level))
            .collect();
        assert_eq!(
            finalized,
            vec![("transaction.version".into(), 2)],
            "node {id}"
        );
    }

    let (pid, e0) = init(&mut at_txn, &tid);
    // Produce v12 at the leader adds the partition through the coordinator's broker.
    let batch = producer_batch(3, "c", pid, e0, 0, true);
    assert_eq!(produce(&mut at_leader, 12, "tv2c", batch, &tid), (0, 0));
    let batch = producer_batch(2, "d", pid, e0, 3, true);
    assert_eq!(produce(&mut at_leader, 12, "tv2c", batch, &tid), (0, 3));
    // TxnOffsetCommit v5 at the group coordinator adds the offsets partition the same way.
    assert_eq!(
        txn_commit(&mut at_group, 5, &tid, &group, pid, e0, "tv2c", 5),
        0
    );
    // The coordinator knows both partitions: its commit writes both markers.
    assert_eq!(
        end_txn(&mut at_txn, 5, &tid, pid, e0, true),
        (0, pid, e0 + 1)
    );
    let p = stable(&mut at_leader, "tv2c");
    assert_eq!(
        records(&p),
        vec![
            (0, e0, false, "c-v0".into()),
            (1, e0, false, "c-v1".into()),
            (2, e0, false, "c-v2".into()),
            (3, e0, false, "d-v0".into()),
            (4, e0, false, "d-v1".into()),
            (5, e0 + 1, true, String::new()),
        ]
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while committed_offset(&mut at_group, &group, "tv2c") != 5 {
        assert!(Instant::now() < deadline, "offset not committed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The old epoch is fenced at the leader (its producer state has the bumped epoch).
    let batch = producer_batch(1, "z", pid, e0, 5, true);
    assert_eq!(produce(&mut at_leader, 12, "tv2c", batch, &tid).0, 47);

    // Transactions V1 (produce v11): a partition not added is refused after the remote
    // coordinator says so; once added with AddPartitionsToTxn it is accepted.
    let (tid1, txn1_node) = pick("txv1", 1, &[leader]);
    let mut at_txn1 = Client::connect(&c.direct_addr(txn1_node));
    let (pid1, e1) = init(&mut at_txn1, &tid1);
    let batch = producer_batch(1, "v1", pid1, e1, 0, true);
    assert_eq!(
        produce(&mut at_leader, 11, "tv2c", batch.clone(), &tid1).0,
        48
    );
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s(&tid1)))
        .with_v3_and_below_producer_id(ProducerId(pid1))
        .with_v3_and_below_producer_epoch(e1)
        .with_v3_and_below_topics(vec![
            add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                .with_name(TopicName(s("tv2c")))
                .with_partitions(vec![0]),
        ]);
    let r: AddPartitionsToTxnResponse = at_txn1.call(3, &add);
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    assert_eq!(produce(&mut at_leader, 11, "tv2c", batch, &tid1), (0, 6));
    // TxnOffsetCommit v3 at a group coordinator elsewhere: refused until AddOffsetsToTxn
    // (the remote coordinator verifies), accepted after it.
    let (group1, group1_node) = pick("gv1", 0, &[txn1_node]);
    let mut at_group1 = Client::connect(&c.direct_addr(group1_node));
    assert_eq!(
        txn_commit(&mut at_group1, 3, &tid1, &group1, pid1, e1, "tv2c", 7),
        48
    );
    let r: AddOffsetsToTxnResponse = at_txn1.call(
        3,
        &AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(s(&tid1)))
            .with_producer_id(ProducerId(pid1))
            .with_producer_epoch(e1)
            .with_group_id(GroupId(s(&group1))),
    );
    assert_eq!(r.error_code, 0);
    assert_eq!(
        txn_commit(&mut at_group1, 3, &tid1, &group1, pid1, e1, "tv2c", 7),
        0
    );
    assert_eq!(end_txn(&mut at_txn1, 4, &tid1, pid1, e1, true).0, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while committed_offset(&mut at_group1, &group1, "tv2c") != 7 {
        assert!(Instant::now() < deadline, "offset not committed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let p = stable(&mut at_leader, "tv2c");
    assert_eq!(
        records(&p)[6..].to_vec(),
        vec![(6, e1, false, "v1-v0".into()), (7, e1, true, String::new())]
    );
}
