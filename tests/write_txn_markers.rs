//! WriteTxnMarkers (key 27) v0 and v1 over raw Kafka protocol against the real binary, as a
//! transaction coordinator on another broker sends it: a commit marker completes an open
//! transaction for read_committed consumers, errors are per partition (unknown partitions,
//! fenced producer and coordinator epochs), and a marker for a `__consumer_offsets`
//! partition materializes the transaction's offsets through the group coordinator.

mod common;

use bytes::Bytes;
use common::{decode_records, producer_batch, Broker, Client};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}
fn tname(x: &str) -> TopicName {
    TopicName(s(x))
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

fn init(c: &mut Client, id: &str) -> (i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r: InitProducerIdResponse = c.call(4, &req);
    assert_eq!(r.error_code, 0);
    (r.producer_id.0, r.producer_epoch)
}

/// One marker for `partitions` of the producer.
fn marker(
    (pid, epoch): (i64, i16),
    commit: bool,
    coordinator_epoch: i32,
    partitions: &[(&str, i32)],
) -> WritableTxnMarker {
    let mut topics: Vec<WritableTxnMarkerTopic> = Vec::new();
    for (t, p) in partitions {
        match topics.iter_mut().find(|x| x.name.0.as_str() == *t) {
            Some(x) => x.partition_indexes.push(*p),
            None => topics.push(
                WritableTxnMarkerTopic::default()
                    .with_name(tname(t))
                    .with_partition_indexes(vec![*p]),
            ),
        }
    }
    WritableTxnMarker::default()
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_transaction_result(commit)
        .with_coordinator_epoch(coordinator_epoch)
        .with_topics(topics)
}

/// Per marker of an answer: (producer id, [(topic, partition, error)]).
type Answer = Vec<(i64, Vec<(String, i32, i16)>)>;

/// Send markers; the answer in its order.
fn write(c: &mut Client, markers: Vec<WritableTxnMarker>) -> Answer {
    write_v(c, 1, markers)
}

/// Send markers at `version`: v0 (Kafka 2.x–3.x brokers; not flexible) is encoded with
/// skua's hand encoder and its answer read by hand.
fn write_v(c: &mut Client, version: i16, markers: Vec<WritableTxnMarker>) -> Answer {
    let req = WriteTxnMarkersRequest::default().with_markers(markers);
    if version == 0 {
        let body = skua::protocol::legacy::requests::encode_write_txn_markers_v0(&req);
        let r = c.call_body(ApiKey::WriteTxnMarkers, 0, &body);
        let mut r = &r[..];
        let mut take = |n: usize| {
            let (a, b) = r.split_at(n);
            r = b;
            a.to_vec()
        };
        let i32_of = |take: &mut dyn FnMut(usize) -> Vec<u8>| {
            i32::from_be_bytes(take(4).try_into().unwrap())
        };
        let mut out = Vec::new();
        for _ in 0..i32_of(&mut take) {
            let pid = i64::from_be_bytes(take(8).try_into().unwrap());
            let mut parts = Vec::new();
            for _ in 0..i32_of(&mut take) {
                let len = i16::from_be_bytes(take(2).try_into().unwrap()) as usize;
                let name = String::from_utf8(take(len)).unwrap();
                for _ in 0..i32_of(&mut take) {
                    let p = i32_of(&mut take);
                    let e = i16::from_be_bytes(take(2).try_into().unwrap());
                    parts.push((name.clone(), p, e));
                }
            }
            out.push((pid, parts));
        }
        assert!(r.is_empty(), "trailing bytes");
        return out;
    }
    let r: WriteTxnMarkersResponse = c.call(version, &req);
    r.markers
        .iter()
        .map(|m| {
            let parts = m
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(move |p| (t.name.0.to_string(), p.partition_index, p.error_code))
                })
                .collect();
            (m.producer_id.0, parts)
        })
        .collect()
}

fn list_offset(c: &mut Client, topic: &str, read_committed: bool) -> i64 {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
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
fn api_versions_advertises_write_txn_markers_v0_and_v1() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let r: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default());
    let k = r
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::WriteTxnMarkers as i16)
        .expect("WriteTxnMarkers advertised");
    assert_eq!((k.min_version, k.max_version), (0, 1));
}

#[test]
fn commit_marker_completes_an_open_transaction() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "t", 1);
    let producer = init(&mut c, "wtm-1");
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s("wtm-1")))
        .with_v3_and_below_producer_id(ProducerId(producer.0))
        .with_v3_and_below_producer_epoch(producer.1)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(tname("t"))
            .with_partitions(vec![0])]);
    let r: AddPartitionsToTxnResponse = c.call(3, &add);
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let batch = producer_batch(2, "x", producer.0, producer.1, 0, true);
    let req = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s("wtm-1"))))
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(tname("t"))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch))])]);
    let r: ProduceResponse = c.call(9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(
        list_offset(&mut c, "t", true),
        0,
        "LSO held by the open transaction"
    );
    assert_eq!(list_offset(&mut c, "t", false), 2);
    let answer = write(&mut c, vec![marker(producer, true, 0, &[("t", 0)])]);
    assert_eq!(answer, vec![(producer.0, vec![("t".into(), 0, 0)])]);
    assert_eq!(
        list_offset(&mut c, "t", true),
        3,
        "records and the marker are stable"
    );
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(1)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(tname("t"))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(11, &fetch);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.aborted_transactions.as_ref().map_or(0, |a| a.len()), 0);
    let records = decode_records(p.records.as_ref().unwrap_or(&Bytes::new()));
    let kinds: Vec<(i64, bool)> = records.iter().map(|r| (r.offset, r.control)).collect();
    assert_eq!(kinds, vec![(0, false), (1, false), (2, true)]);
}

#[test]
fn errors_are_per_partition_and_fenced_markers_are_not_written() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "t", 1);
    let (p1, p2) = ((7001, 3), (7002, 0));
    let answer = write(
        &mut c,
        vec![
            marker(p1, false, 4, &[("t", 0), ("t", 7), ("nope", 0)]),
            marker(p2, true, 0, &[("t", 0)]),
        ],
    );
    assert_eq!(
        answer,
        vec![
            (
                7001,
                vec![
                    ("t".into(), 0, 0),
                    ("t".into(), 7, 3),
                    ("nope".into(), 0, 3)
                ]
            ),
            (7002, vec![("t".into(), 0, 0)]),
        ]
    );
    assert_eq!(list_offset(&mut c, "t", false), 2);
    // An older producer epoch: INVALID_PRODUCER_EPOCH; an older coordinator epoch:
    // TRANSACTION_COORDINATOR_FENCED. Neither is written.
    let answer = write(&mut c, vec![marker((7001, 2), true, 4, &[("t", 0)])]);
    assert_eq!(answer, vec![(7001, vec![("t".into(), 0, 47)])]);
    let answer = write(&mut c, vec![marker(p1, true, 3, &[("t", 0)])]);
    assert_eq!(answer, vec![(7001, vec![("t".into(), 0, 52)])]);
    assert_eq!(list_offset(&mut c, "t", false), 2);
    // An empty request gets an empty answer.
    assert!(write(&mut c, vec![]).is_empty());
}

#[test]
fn marker_for_consumer_offsets_materializes_transactional_offsets() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "t", 1);
    let producer = init(&mut c, "wtm-offsets");
    let add = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(s("wtm-offsets")))
        .with_producer_id(ProducerId(producer.0))
        .with_producer_epoch(producer.1)
        .with_group_id(GroupId(s("g")));
    let r: AddOffsetsToTxnResponse = c.call(3, &add);
    assert_eq!(r.error_code, 0);
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("wtm-offsets")))
        .with_group_id(GroupId(s("g")))
        .with_producer_id(ProducerId(producer.0))
        .with_producer_epoch(producer.1)
        .with_generation_id(-1)
        .with_member_id(s(""))
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(tname("t"))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(9)
                .with_committed_leader_epoch(-1)])]);
    let r: TxnOffsetCommitResponse = c.call(3, &commit);
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let fetch = |c: &mut Client| {
        let req = OffsetFetchRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_require_stable(true)
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(tname("t"))
                .with_partition_indexes(vec![0])]));
        let r: OffsetFetchResponse = c.call(7, &req);
        let p = &r.topics[0].partitions[0];
        (p.committed_offset, p.error_code)
    };
    assert_eq!(
        fetch(&mut c),
        (-1, 88),
        "UNSTABLE_OFFSET_COMMIT while pending"
    );
    let offsets_partition = skua::group::partition_for("g", 50);
    let answer = write(
        &mut c,
        vec![marker(
            producer,
            true,
            0,
            &[
                ("__consumer_offsets", offsets_partition),
                ("__consumer_offsets", 50),
            ],
        )],
    );
    assert_eq!(
        answer,
        vec![(
            producer.0,
            vec![
                ("__consumer_offsets".into(), offsets_partition, 0),
                ("__consumer_offsets".into(), 50, 3)
            ]
        )]
    );
    assert_eq!(fetch(&mut c), (9, 0));
}

/// v0, as a Kafka 2.x–3.x transaction coordinator sends it: the same outcomes as v1 — a
/// commit marker completes the open transaction, errors per partition, fenced epochs refused.
#[test]
fn v0_markers_commit_and_fail_per_partition_like_v1() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "t0", 1);
    let producer = init(&mut c, "wtm-v0");
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s("wtm-v0")))
        .with_v3_and_below_producer_id(ProducerId(producer.0))
        .with_v3_and_below_producer_epoch(producer.1)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(tname("t0"))
            .with_partitions(vec![0])]);
    let r: AddPartitionsToTxnResponse = c.call(3, &add);
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let batch = producer_batch(3, "x", producer.0, producer.1, 0, true);
    let req = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s("wtm-v0"))))
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(tname("t0"))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch))])]);
    let r: ProduceResponse = c.call(9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(list_offset(&mut c, "t0", true), 0, "LSO held");
    // The commit lands; an unknown partition and topic are UNKNOWN_TOPIC_OR_PARTITION.
    let answer = write_v(
        &mut c,
        0,
        vec![marker(
            producer,
            true,
            0,
            &[("t0", 0), ("t0", 4), ("nope", 0)],
        )],
    );
    assert_eq!(
        answer,
        vec![(
            producer.0,
            vec![
                ("t0".into(), 0, 0),
                ("t0".into(), 4, 3),
                ("nope".into(), 0, 3)
            ]
        )]
    );
    assert_eq!(
        list_offset(&mut c, "t0", true),
        4,
        "3 records and the marker are stable"
    );
    // Another producer's abort at epoch 3 is written; then its epoch 2 is fenced
    // (INVALID_PRODUCER_EPOCH) and not written.
    let answer = write_v(&mut c, 0, vec![marker((7001, 3), false, 0, &[("t0", 0)])]);
    assert_eq!(answer, vec![(7001, vec![("t0".into(), 0, 0)])]);
    let answer = write_v(&mut c, 0, vec![marker((7001, 2), true, 0, &[("t0", 0)])]);
    assert_eq!(answer, vec![(7001, vec![("t0".into(), 0, 47)])]);
    assert_eq!(list_offset(&mut c, "t0", false), 5);
    // An empty v0 request gets an empty answer.
    assert!(write_v(&mut c, 0, vec![]).is_empty());
}
