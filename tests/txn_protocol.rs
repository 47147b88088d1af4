//! Idempotent and transactional producers over raw Kafka protocol against the real binary:
//! every served version of InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
//! TxnOffsetCommit, DescribeTransactions, ListTransactions and DescribeProducers, the produce
//! path's sequence and epoch checks, read_committed fetches (LSO, aborted transactions) and
//! ListOffsets, and restarts (including kill -9) in the middle of it all.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{decode_records, producer_batch, Broker, Client};
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
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
fn tname(x: &str) -> TopicName {
    TopicName(s(x))
}
fn tid(x: &str) -> TransactionalId {
    TransactionalId(s(x))
}

fn create(c: &mut Client, topic: &str, partitions: i32) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(tname(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = c.call(5, &req);
    assert_eq!(r.topics[0].error_code, 0);
}

fn init(c: &mut Client, v: i16, id: Option<&str>, timeout_ms: i32) -> (i16, i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(id.map(tid))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r: InitProducerIdResponse = c.call(v, &req);
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

/// InitProducerId, retried while the coordinator answers CONCURRENT_TRANSACTIONS.
fn init_ok(c: &mut Client, v: i16, id: &str, timeout_ms: i32) -> (i64, i16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (e, pid, epoch) = init(c, v, Some(id), timeout_ms);
        if e == 0 {
            return (pid, epoch);
        }
        assert_eq!(e, 51, "InitProducerId v{v}");
        assert!(Instant::now() < deadline, "still CONCURRENT_TRANSACTIONS");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn add_partitions(
    c: &mut Client,
    v: i16,
    id: &str,
    pid: i64,
    epoch: i16,
    parts: &[(&str, i32)],
) -> Vec<(String, i32, i16)> {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (t, p) in parts {
        match topics.iter_mut().find(|x| x.name.0.as_str() == *t) {
            Some(x) => x.partitions.push(*p),
            None => topics.push(
                AddPartitionsToTxnTopic::default()
                    .with_name(tname(t))
                    .with_partitions(vec![*p]),
            ),
        }
    }
    let req = if v <= 3 {
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(tid(id))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(topics)
    } else {
        AddPartitionsToTxnRequest::default().with_transactions(vec![
            AddPartitionsToTxnTransaction::default()
                .with_transactional_id(tid(id))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_verify_only(false)
                .with_topics(topics),
        ])
    };
    let r: AddPartitionsToTxnResponse = c.call(v, &req);
    let results = if v <= 3 {
        r.results_by_topic_v3_and_below
    } else {
        assert_eq!(r.results_by_transaction.len(), 1);
        r.results_by_transaction[0].topic_results.clone()
    };
    results
        .iter()
        .flat_map(|t| {
            t.results_by_partition.iter().map(move |p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    p.partition_error_code,
                )
            })
        })
        .collect()
}

fn add_offsets(c: &mut Client, v: i16, id: &str, pid: i64, epoch: i16, group: &str) -> i16 {
    let req = AddOffsetsToTxnRequest::default()
        .with_transactional_id(tid(id))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(s(group)));
    let r: AddOffsetsToTxnResponse = c.call(v, &req);
    r.error_code
}

fn end_txn(c: &mut Client, v: i16, id: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
    let req = EndTxnRequest::default()
        .with_transactional_id(tid(id))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    let r: EndTxnResponse = c.call(v, &req);
    r.error_code
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
        .with_transactional_id(tid(id))
        .with_group_id(GroupId(s(group)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_member_id(s(""))
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(tname(topic))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(Some(s("meta")))])]);
    let r: TxnOffsetCommitResponse = c.call(v, &req);
    r.topics[0].partitions[0].error_code
}

/// Produce one batch (v9), returning (error, base offset).
fn produce(
    c: &mut Client,
    topic: &str,
    partition: i32,
    records: Bytes,
    txn: Option<&str>,
) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_transactional_id(txn.map(tid))
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(tname(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    let r: ProduceResponse = c.call(9, &req);
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// Fetch (v11) with an isolation level.
fn fetch(
    c: &mut Client,
    topic: &str,
    partition: i32,
    offset: i64,
    read_committed: bool,
) -> fetch_response::PartitionData {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(if read_committed { 1 } else { 0 })
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(tname(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(11, &req);
    assert_eq!(r.error_code, 0);
    r.responses[0].partitions[0].clone()
}

/// The data records (not control records) of a fetch, as (offset, value).
fn data(p: &fetch_response::PartitionData) -> Vec<(i64, String)> {
    decode_records(p.records.as_ref().expect("records"))
        .into_iter()
        .filter(|r| !r.control)
        .map(|r| {
            let v = r
                .value
                .map(|v| String::from_utf8_lossy(&v).to_string())
                .unwrap_or_default();
            (r.offset, v)
        })
        .collect()
}

/// The data records a read_committed client keeps: it drops the records of each aborted
/// transaction (from its first offset to its producer's next control record), as clients do
/// with the aborted-transactions list.
fn visible(p: &fetch_response::PartitionData) -> Vec<(i64, String)> {
    let aborted: Vec<(i64, i64)> = p
        .aborted_transactions
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    let mut active: Vec<i64> = Vec::new();
    let mut out = Vec::new();
    for r in decode_records(p.records.as_ref().expect("records")) {
        if aborted
            .iter()
            .any(|&(pid, first)| pid == r.producer_id && first == r.offset)
        {
            active.push(r.producer_id);
        }
        if r.control {
            active.retain(|&pid| pid != r.producer_id);
            continue;
        }
        if r.transactional && active.contains(&r.producer_id) {
            continue;
        }
        let v = r
            .value
            .map(|v| String::from_utf8_lossy(&v).to_string())
            .unwrap_or_default();
        out.push((r.offset, v));
    }
    out
}

/// Wait until the partition's last stable offset reaches its high watermark (markers written).
fn await_stable(c: &mut Client, topic: &str, partition: i32) -> fetch_response::PartitionData {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = fetch(c, topic, partition, 0, true);
        if p.last_stable_offset == p.high_watermark {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "LSO {} stuck below HW {}",
            p.last_stable_offset,
            p.high_watermark
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn committed_offset(c: &mut Client, group: &str, topic: &str, require_stable: bool) -> (i64, i16) {
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_require_stable(require_stable)
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(tname(topic))
            .with_partition_indexes(vec![0])]));
    let r: OffsetFetchResponse = c.call(7, &req);
    let p = &r.topics[0].partitions[0];
    (p.committed_offset, p.error_code)
}

fn list_offset(c: &mut Client, topic: &str, read_committed: bool) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(if read_committed { 1 } else { 0 })
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(tname(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    let r: ListOffsetsResponse = c.call(5, &req);
    r.topics[0].partitions[0].offset
}

#[test]
fn init_producer_id_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let mut seen = Vec::new();
    for v in 0..=5i16 {
        let (e, pid, epoch) = init(&mut c, v, None, 60_000);
        assert_eq!((e, epoch), (0, 0), "idempotent v{v}");
        assert!(
            pid >= 0 && !seen.contains(&pid),
            "fresh producer id at v{v}: {pid}"
        );
        seen.push(pid);
        let id = format!("init-{v}");
        let (pid1, e1) = init_ok(&mut c, v, &id, 60_000);
        let (pid2, e2) = init_ok(&mut c, v, &id, 60_000);
        assert_eq!(
            (pid2, e2),
            (pid1, e1 + 1),
            "re-init bumps the epoch at v{v}"
        );
        // Timeouts outside (0, transaction.max.timeout.ms] are INVALID_TRANSACTION_TIMEOUT.
        assert_eq!(init(&mut c, v, Some(&id), 0).0, 50, "v{v}");
        assert_eq!(init(&mut c, v, Some(&id), 900_001).0, 50, "v{v}");
    }
}

#[test]
fn commit_and_abort_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    for v in 0..=5i16 {
        let (ap, ao, et, tc) = (v, v.min(4), v, v);
        let topic = format!("txn-v{v}");
        let group = format!("g-v{v}");
        let id = format!("tx-v{v}");
        create(&mut c, &topic, 1);
        let (pid, epoch) = init_ok(&mut c, v, &id, 60_000);
        assert_eq!(
            add_partitions(&mut c, ap, &id, pid, epoch, &[(&topic, 0)]),
            vec![(topic.clone(), 0, 0)],
            "AddPartitionsToTxn v{ap}"
        );
        let batch = producer_batch(3, "c", pid, epoch, 0, true);
        assert_eq!(produce(&mut c, &topic, 0, batch, Some(&id)), (0, 0));
        // Open: read_committed sees nothing yet, the LSO is the transaction's first offset.
        let p = fetch(&mut c, &topic, 0, 0, true);
        assert_eq!((p.high_watermark, p.last_stable_offset), (3, 0));
        assert_eq!(data(&p), vec![]);
        assert_eq!(list_offset(&mut c, &topic, true), 0);
        assert_eq!(list_offset(&mut c, &topic, false), 3);
        assert_eq!(
            add_offsets(&mut c, ao, &id, pid, epoch, &group),
            0,
            "AddOffsetsToTxn v{ao}"
        );
        assert_eq!(
            txn_commit(&mut c, tc, &id, &group, pid, epoch, &topic, 3),
            0,
            "TxnOffsetCommit v{tc}"
        );
        // Pending: require_stable gets UNSTABLE_OFFSET_COMMIT, a plain fetch sees no offset.
        assert_eq!(committed_offset(&mut c, &group, &topic, true).1, 88);
        assert_eq!(committed_offset(&mut c, &group, &topic, false), (-1, 0));
        assert_eq!(
            end_txn(&mut c, et, &id, pid, epoch, true),
            0,
            "EndTxn v{et}"
        );
        let p = await_stable(&mut c, &topic, 0);
        // 3 records and the commit marker.
        assert_eq!(p.high_watermark, 4);
        assert_eq!(
            data(&p),
            vec![(0, "c-v0".into()), (1, "c-v1".into()), (2, "c-v2".into())]
        );
        assert_eq!(p.aborted_transactions, Some(vec![]));
        let deadline = Instant::now() + Duration::from_secs(10);
        while committed_offset(&mut c, &group, &topic, true) != (3, 0) {
            assert!(
                Instant::now() < deadline,
                "offset not committed by the marker"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // A second transaction, aborted (EndTxn v5, transactions V2, bumped the epoch: the
        // producer's sequences restart at 0).
        let (pid2, epoch2, seq2) = if et >= 5 {
            (pid, epoch + 1, 0)
        } else {
            (pid, epoch, 3)
        };
        assert_eq!(
            add_partitions(&mut c, ap, &id, pid2, epoch2, &[(&topic, 0)]),
            vec![(topic.clone(), 0, 0)]
        );
        let batch = producer_batch(2, "a", pid2, epoch2, seq2, true);
        assert_eq!(produce(&mut c, &topic, 0, batch, Some(&id)), (0, 4));
        assert_eq!(end_txn(&mut c, et, &id, pid2, epoch2, false), 0);
        let p = await_stable(&mut c, &topic, 0);
        assert_eq!(p.high_watermark, 7);
        let aborted: Vec<(i64, i64)> = p
            .aborted_transactions
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|a| (a.producer_id.0, a.first_offset))
            .collect();
        assert_eq!(aborted, vec![(pid, 4)], "aborted transactions at v{v}");
        assert_eq!(
            visible(&p).len(),
            3,
            "read_committed keeps the committed records only"
        );
        // read_uncommitted sees every data record, with no aborted list.
        let p = fetch(&mut c, &topic, 0, 0, false);
        assert_eq!(data(&p).len(), 5);
        assert_eq!(p.aborted_transactions, None);
        // A read from past the aborted transaction has no aborted list.
        let p = fetch(&mut c, &topic, 0, 7, true);
        assert_eq!(p.aborted_transactions, Some(vec![]));
    }
}

#[test]
fn transactional_errors() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "te", 2);
    let (pid, epoch) = init_ok(&mut c, 4, "te-1", 60_000);
    // A transactional batch to a partition not in the transaction: INVALID_TXN_STATE.
    let batch = producer_batch(1, "x", pid, epoch, 0, true);
    assert_eq!(produce(&mut c, "te", 0, batch, Some("te-1")).0, 48);
    // An unknown partition fails the whole request; nothing is added.
    let mut r = add_partitions(&mut c, 3, "te-1", pid, epoch, &[("te", 0), ("te", 9)]);
    r.sort();
    assert_eq!(r, vec![("te".into(), 0, 55), ("te".into(), 9, 3)]);
    // Unknown transactional id / wrong producer id: INVALID_PRODUCER_ID_MAPPING.
    assert_eq!(
        add_partitions(&mut c, 3, "nope", pid, epoch, &[("te", 0)])[0].2,
        49
    );
    assert_eq!(
        add_partitions(&mut c, 3, "te-1", pid + 1, epoch, &[("te", 0)])[0].2,
        49
    );
    // EndTxn with nothing begun: INVALID_TXN_STATE.
    assert_eq!(end_txn(&mut c, 3, "te-1", pid, epoch, true), 48);
    // A newer instance fences this one: PRODUCER_FENCED (v2+), INVALID_PRODUCER_EPOCH before.
    let (pid2, epoch2) = init_ok(&mut c, 4, "te-1", 60_000);
    assert_eq!((pid2, epoch2), (pid, epoch + 1));
    assert_eq!(
        add_partitions(&mut c, 1, "te-1", pid, epoch, &[("te", 0)])[0].2,
        47
    );
    assert_eq!(
        add_partitions(&mut c, 2, "te-1", pid, epoch, &[("te", 0)])[0].2,
        90
    );
    assert_eq!(end_txn(&mut c, 1, "te-1", pid, epoch, true), 47);
    assert_eq!(end_txn(&mut c, 2, "te-1", pid, epoch, true), 90);
    assert_eq!(add_offsets(&mut c, 3, "te-1", pid, epoch, "g"), 90);
    // The current epoch works; the old epoch cannot write to the partition.
    assert_eq!(
        add_partitions(&mut c, 3, "te-1", pid2, epoch2, &[("te", 1)]),
        vec![("te".into(), 1, 0)]
    );
    let old = producer_batch(1, "z", pid, epoch, 0, true);
    assert_eq!(produce(&mut c, "te", 1, old, Some("te-1")).0, 47);
    // Also to a partition the fenced instance never wrote to.
    let old = producer_batch(1, "z", pid, epoch, 0, true);
    assert_eq!(produce(&mut c, "te", 0, old, Some("te-1")).0, 47);
    let new = producer_batch(1, "n", pid2, epoch2, 0, true);
    assert_eq!(produce(&mut c, "te", 1, new, Some("te-1")), (0, 0));
    // TxnOffsetCommit before AddOffsetsToTxn: the offsets partition is not in the transaction.
    assert_eq!(
        txn_commit(&mut c, 3, "te-1", "g", pid2, epoch2, "te", 1),
        48
    );
    // Commit; a retried EndTxn(commit) is fine, an abort after it is INVALID_TXN_STATE.
    assert_eq!(end_txn(&mut c, 3, "te-1", pid2, epoch2, true), 0);
    await_stable(&mut c, "te", 1);
    // CONCURRENT_TRANSACTIONS until the coordinator has completed the commit.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut retry = end_txn(&mut c, 3, "te-1", pid2, epoch2, true);
    while retry == 51 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        retry = end_txn(&mut c, 3, "te-1", pid2, epoch2, true);
    }
    assert_eq!(retry, 0);
    assert_eq!(end_txn(&mut c, 3, "te-1", pid2, epoch2, false), 48);
}

#[test]
fn idempotent_sequences_duplicates_and_epochs() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "idem", 1);
    let (_, pid, epoch) = init(&mut c, 4, None, 60_000);
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            producer_batch(3, "a", pid, epoch, 0, false),
            None
        ),
        (0, 0)
    );
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            producer_batch(2, "b", pid, epoch, 3, false),
            None
        ),
        (0, 3)
    );
    // A retry of either batch gets its original offset and is not written again.
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            producer_batch(3, "a", pid, epoch, 0, false),
            None
        ),
        (0, 0)
    );
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            producer_batch(2, "b", pid, epoch, 3, false),
            None
        ),
        (0, 3)
    );
    assert_eq!(fetch(&mut c, "idem", 0, 0, false).high_watermark, 5);
    // A gap: OUT_OF_ORDER_SEQUENCE_NUMBER.
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            producer_batch(1, "c", pid, epoch, 9, false),
            None
        )
        .0,
        45
    );
    // A new epoch starts at sequence 0; the old epoch is then INVALID_PRODUCER_EPOCH.
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            producer_batch(1, "d", pid, epoch + 1, 5, false),
            None
        )
        .0,
        45
    );
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            producer_batch(1, "d", pid, epoch + 1, 0, false),
            None
        ),
        (0, 5)
    );
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            producer_batch(1, "e", pid, epoch, 5, false),
            None
        )
        .0,
        47
    );
    let p = fetch(&mut c, "idem", 0, 0, false);
    assert_eq!(p.high_watermark, 6);
    // DescribeProducers shows the producer's state.
    let req = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(tname("idem"))
        .with_partition_indexes(vec![0, 7])]);
    let r: DescribeProducersResponse = c.call(0, &req);
    let parts = &r.topics[0].partitions;
    assert_eq!(parts[0].error_code, 0);
    let st = &parts[0].active_producers;
    assert_eq!(st.len(), 1);
    assert_eq!(
        (
            st[0].producer_id.0,
            st[0].producer_epoch,
            st[0].last_sequence,
            st[0].current_txn_start_offset
        ),
        (pid, i32::from(epoch + 1), 0, -1)
    );
    assert_eq!(parts[1].error_code, 3);
}

#[test]
fn describe_and_list_transactions() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "dl", 1);
    let (pid, epoch) = init_ok(&mut c, 4, "dl-1", 45_000);
    let describe = |c: &mut Client, id: &str| -> describe_transactions_response::TransactionState {
        let r: DescribeTransactionsResponse = c.call(
            0,
            &DescribeTransactionsRequest::default().with_transactional_ids(vec![tid(id)]),
        );
        r.transaction_states[0].clone()
    };
    let d = describe(&mut c, "dl-1");
    assert_eq!(
        (
            d.error_code,
            d.transaction_state.as_str(),
            d.producer_id.0,
            d.producer_epoch
        ),
        (0, "Empty", pid, epoch)
    );
    assert_eq!(d.transaction_timeout_ms, 45_000);
    assert_eq!(describe(&mut c, "missing").error_code, 105);
    add_partitions(&mut c, 3, "dl-1", pid, epoch, &[("dl", 0)]);
    produce(
        &mut c,
        "dl",
        0,
        producer_batch(2, "x", pid, epoch, 0, true),
        Some("dl-1"),
    );
    let d = describe(&mut c, "dl-1");
    assert_eq!(d.transaction_state.as_str(), "Ongoing");
    assert!(d.transaction_start_time_ms > 0);
    assert_eq!(d.topics.len(), 1);
    assert_eq!(
        (d.topics[0].topic.0.as_str(), d.topics[0].partitions.clone()),
        ("dl", vec![0])
    );
    for v in 0..=1i16 {
        let req = ListTransactionsRequest::default()
            .with_state_filters(vec![s("Ongoing"), s("Bogus")])
            .with_duration_filter(-1);
        let r: ListTransactionsResponse = c.call(v, &req);
        assert_eq!(r.error_code, 0);
        assert_eq!(r.unknown_state_filters, vec![s("Bogus")]);
        let ids: Vec<(String, i64, String)> = r
            .transaction_states
            .iter()
            .map(|t| {
                (
                    t.transactional_id.0.to_string(),
                    t.producer_id.0,
                    t.transaction_state.to_string(),
                )
            })
            .collect();
        assert_eq!(ids, vec![("dl-1".into(), pid, "Ongoing".into())], "v{v}");
        let r: ListTransactionsResponse = c.call(
            v,
            &ListTransactionsRequest::default()
                .with_producer_id_filters(vec![ProducerId(pid + 1000)]),
        );
        assert!(r.transaction_states.is_empty());
    }
    // DescribeProducers shows the open transaction's first offset.
    let req = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(tname("dl"))
        .with_partition_indexes(vec![0])]);
    let r: DescribeProducersResponse = c.call(0, &req);
    assert_eq!(
        r.topics[0].partitions[0].active_producers[0].current_txn_start_offset,
        0
    );
    assert_eq!(end_txn(&mut c, 3, "dl-1", pid, epoch, true), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while describe(&mut c, "dl-1").transaction_state.as_str() != "CompleteCommit" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn state_survives_clean_restart_and_kill9() {
    let tmp = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut b = Broker::start_in(tmp.path(), port, &[]);
    let mut c = b.client();
    create(&mut c, "rs", 1);
    let (_, ipid, _) = init(&mut c, 4, None, 60_000);
    assert_eq!(
        produce(
            &mut c,
            "rs",
            0,
            producer_batch(2, "i", ipid, 0, 0, false),
            None
        ),
        (0, 0)
    );
    let (pid, epoch) = init_ok(&mut c, 4, "rs-1", 60_000);
    add_partitions(&mut c, 3, "rs-1", pid, epoch, &[("rs", 0)]);
    assert_eq!(
        produce(
            &mut c,
            "rs",
            0,
            producer_batch(3, "t", pid, epoch, 0, true),
            Some("rs-1")
        ),
        (0, 2)
    );
    drop(c);
    b.kill9();
    let mut b = Broker::start_in(tmp.path(), port, &[]);
    let mut c = b.client();
    // Deduplication survived: the retried idempotent batch gets its original offset.
    assert_eq!(
        produce(
            &mut c,
            "rs",
            0,
            producer_batch(2, "i", ipid, 0, 0, false),
            None
        ),
        (0, 0)
    );
    // The open transaction still holds the LSO; the producer can still abort it.
    let p = fetch(&mut c, "rs", 0, 0, true);
    assert_eq!((p.last_stable_offset, p.high_watermark), (2, 5));
    assert_eq!(data(&p).len(), 2);
    assert_eq!(end_txn(&mut c, 3, "rs-1", pid, epoch, false), 0);
    let p = await_stable(&mut c, "rs", 0);
    assert_eq!(visible(&p).len(), 2, "the aborted records stay invisible");
    assert_eq!(
        data(&p).len(),
        5,
        "they are returned, with the aborted list to drop them"
    );
    drop(c);
    b.stop();
    let b = Broker::start_in(tmp.path(), port, &[]);
    let mut c = b.client();
    let p = fetch(&mut c, "rs", 0, 0, true);
    assert_eq!((p.last_stable_offset, p.high_watermark), (6, 6));
    assert_eq!(visible(&p).len(), 2);
    assert_eq!(p.aborted_transactions.unwrap_or_default().len(), 1);
    // The transactional id keeps its producer id; the next instance gets the next epoch.
    assert_eq!(init_ok(&mut c, 4, "rs-1", 60_000), (pid, epoch + 1));
    // Producer ids are never handed out twice across restarts.
    let (_, fresh, _) = init(&mut c, 4, None, 60_000);
    assert!(fresh != ipid && fresh != pid);
}

#[test]
fn transaction_timeout_aborts_and_fences() {
    let b = Broker::start(&["transaction.abort.timed.out.transaction.cleanup.interval.ms=100"]);
    let mut c = b.client();
    create(&mut c, "to", 1);
    let (pid, epoch) = init_ok(&mut c, 4, "to-1", 1000);
    add_partitions(&mut c, 3, "to-1", pid, epoch, &[("to", 0)]);
    assert_eq!(
        produce(
            &mut c,
            "to",
            0,
            producer_batch(2, "x", pid, epoch, 0, true),
            Some("to-1")
        ),
        (0, 0)
    );
    let p = await_stable(&mut c, "to", 0);
    assert_eq!(p.high_watermark, 3, "2 records and the abort marker");
    assert_eq!(visible(&p), vec![]);
    let aborted: Vec<i64> = p
        .aborted_transactions
        .unwrap_or_default()
        .iter()
        .map(|a| a.producer_id.0)
        .collect();
    assert_eq!(aborted, vec![pid]);
    // The producer was fenced by the abort's epoch bump.
    assert_eq!(end_txn(&mut c, 3, "to-1", pid, epoch, true), 90);
}

#[test]
fn list_transactions_v2_filters_by_id_pattern() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    for id in ["orders-1", "orders-2", "payments-1"] {
        init_ok(&mut c, 5, id, 60_000);
    }
    let list = |c: &mut Client, v: i16, pattern: Option<&str>| {
        let req = ListTransactionsRequest::default()
            .with_duration_filter(-1)
            .with_transactional_id_pattern(pattern.map(s));
        let r: ListTransactionsResponse = c.call(v, &req);
        let mut ids: Vec<String> = r
            .transaction_states
            .iter()
            .map(|t| t.transactional_id.0.to_string())
            .collect();
        ids.sort();
        (r.error_code, ids)
    };
    assert_eq!(
        list(&mut c, 2, Some("orders-.*")),
        (0, vec!["orders-1".to_string(), "orders-2".to_string()])
    );
    assert_eq!(list(&mut c, 2, Some("orders")), (0, vec![]), "whole id");
    assert_eq!(list(&mut c, 2, Some("")).1.len(), 3, "empty = no filter");
    assert_eq!(list(&mut c, 2, None).1.len(), 3);
    // INVALID_REGULAR_EXPRESSION
    assert_eq!(list(&mut c, 2, Some("orders-(")), (128, vec![]));
    // v1 has no pattern field: everything.
    assert_eq!(list(&mut c, 1, None).1.len(), 3);
}
