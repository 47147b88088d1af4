//! The admin APIs of issue 5 over raw protocol against the real binary, at every served
//! version, with Kafka's exact answers: CreatePartitions, DeleteRecords, DescribeCluster,
//! DescribeLogDirs, OffsetForLeaderEpoch, ElectLeaders, AlterPartitionReassignments,
//! ListPartitionReassignments.

mod common;

use bytes::Bytes;
use common::{batch, decode_records, Broker, Client};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

const NODE: i32 = 1;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create(c: &mut Client, topic: &str, partitions: i32) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)]);
    let r: CreateTopicsResponse = c.call(7, &req);
    assert_eq!(r.topics[0].error_code, 0, "create {topic}");
}

fn partition_count(c: &mut Client, topic: &str) -> usize {
    let req = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(name(topic)))
    ]));
    let r: MetadataResponse = c.call(12, &req);
    assert_eq!(r.topics[0].error_code, 0);
    r.topics[0].partitions.len()
}

fn produce(c: &mut Client, topic: &str, partition: i32, records: Bytes) -> i64 {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    let r: ProduceResponse = c.call(9, &req);
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0, "produce {topic}-{partition}");
    p.base_offset
}

fn fetch(
    c: &mut Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> fetch_response::PartitionData {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(12, &req);
    r.responses[0].partitions[0].clone()
}

fn earliest(c: &mut Client, topic: &str, partition: i32) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(-2)])]);
    let r: ListOffsetsResponse = c.call(7, &req);
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

fn create_partitions(
    c: &mut Client,
    version: i16,
    topics: Vec<CreatePartitionsTopic>,
    validate_only: bool,
) -> Vec<(String, i16, Option<String>)> {
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(5000)
        .with_validate_only(validate_only)
        .with_topics(topics);
    let r: CreatePartitionsResponse = c.call(version, &req);
    r.results
        .into_iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.error_code,
                t.error_message.map(|m| m.to_string()),
            )
        })
        .collect()
}

fn grow(topic: &str, count: i32, assignments: Option<Vec<Vec<i32>>>) -> CreatePartitionsTopic {
    CreatePartitionsTopic::default()
        .with_name(name(topic))
        .with_count(count)
        .with_assignments(assignments.map(|a| {
            a.into_iter()
                .map(|ids| {
                    CreatePartitionsAssignment::default()
                        .with_broker_ids(ids.into_iter().map(BrokerId).collect())
                })
                .collect()
        }))
}

#[test]
fn create_partitions_every_version() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    for v in 0..=3i16 {
        let t = format!("grow-{v}");
        create(&mut c, &t, 1);
        assert_eq!(
            create_partitions(&mut c, v, vec![grow(&t, 3, None)], false),
            vec![(t.clone(), 0, None)],
            "v{v}"
        );
        assert_eq!(partition_count(&mut c, &t), 3);
        // The new partitions are usable at once.
        let base = produce(
            &mut c,
            &t,
            2,
            batch(4, "new", 1_700_000_000_000, Compression::None),
        );
        assert_eq!(base, 0);
        let f = fetch(&mut c, &t, 2, 0);
        assert_eq!(f.error_code, 0);
        assert_eq!(decode_records(&f.records.unwrap()).len(), 4);

        let msg = |s: &str| Some(s.to_string());
        assert_eq!(
            create_partitions(&mut c, v, vec![grow(&t, 2, None)], false),
            vec![(
                t.clone(),
                37,
                msg(&format!(
                    "The topic {t} currently has 3 partition(s); 2 would not be an increase."
                ))
            )]
        );
        assert_eq!(
            create_partitions(&mut c, v, vec![grow(&t, 3, None)], false),
            vec![(t.clone(), 37, msg("Topic already has 3 partition(s)."))]
        );
        assert_eq!(
            create_partitions(&mut c, v, vec![grow("nope", 3, None)], false),
            vec![("nope".to_string(), 3, None)]
        );
        assert_eq!(
            create_partitions(&mut c, v, vec![grow(&t, 4, Some(vec![vec![2]]))], false),
            vec![(
                t.clone(),
                39,
                msg("The manual partition assignment includes broker 2, but no such broker is registered.")
            )]
        );
        assert_eq!(
            create_partitions(&mut c, v, vec![grow(&t, 5, Some(vec![vec![NODE]]))], false),
            vec![(
                t.clone(),
                39,
                msg("Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.")
            )]
        );
        assert_eq!(
            create_partitions(
                &mut c,
                v,
                vec![grow(&t, 4, Some(vec![vec![NODE, NODE]]))],
                false
            ),
            vec![(
                t.clone(),
                39,
                msg("The manual partition assignment includes the broker 1 more than once.")
            )]
        );
        // validate_only checks, and changes nothing.
        assert_eq!(
            create_partitions(&mut c, v, vec![grow(&t, 6, None)], true),
            vec![(t.clone(), 0, None)]
        );
        assert_eq!(partition_count(&mut c, &t), 3);
        // An explicit assignment to this node.
        assert_eq!(
            create_partitions(&mut c, v, vec![grow(&t, 4, Some(vec![vec![NODE]]))], false),
            vec![(t.clone(), 0, None)]
        );
        assert_eq!(partition_count(&mut c, &t), 4);
        // A topic named twice: INVALID_REQUEST once, first; the others proceed.
        let other = format!("grow-other-{v}");
        create(&mut c, &other, 1);
        assert_eq!(
            create_partitions(
                &mut c,
                v,
                vec![grow(&t, 9, None), grow(&other, 2, None), grow(&t, 9, None)],
                false
            ),
            vec![
                (t.clone(), 42, msg("Duplicate topic name.")),
                (other.clone(), 0, None)
            ]
        );
    }
    // Persisted: the counts and the data in a new partition survive a restart.
    b.stop();
    let dir = b.dir.clone();
    let mut b2 = Broker::start_in(&dir, b.port, &[]);
    let mut c = b2.client();
    assert_eq!(partition_count(&mut c, "grow-0"), 4);
    assert_eq!(partition_count(&mut c, "grow-other-3"), 2);
    let f = fetch(&mut c, "grow-3", 2, 0);
    assert_eq!(decode_records(&f.records.unwrap()).len(), 4);
    assert!(dir.join("grow-3-3").is_dir());
    b2.stop();
}

#[test]
fn a_partition_directory_beyond_the_count_is_removed_at_start() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "half", 2);
    b.stop();
    // As left by a CreatePartitions cut short before its commit.
    std::fs::create_dir_all(b.dir.join("half-2")).unwrap();
    std::fs::write(b.dir.join("half-2/00000000000000000000.log"), b"junk").unwrap();
    let dir = b.dir.clone();
    let b2 = Broker::start_in(&dir, b.port, &[]);
    assert!(!dir.join("half-2").exists());
    let mut c = b2.client();
    assert_eq!(partition_count(&mut c, "half"), 2);
    create_partitions(&mut c, 3, vec![grow("half", 3, None)], false);
    assert_eq!(fetch(&mut c, "half", 2, 0).high_watermark, 0);
}

fn delete_records(
    c: &mut Client,
    version: i16,
    topic: &str,
    partitions: &[(i32, i64)],
) -> Vec<(i32, i16, i64)> {
    let req = DeleteRecordsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(name(topic))
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(p, o)| {
                        DeleteRecordsPartition::default()
                            .with_partition_index(p)
                            .with_offset(o)
                    })
                    .collect(),
            )]);
    let r: DeleteRecordsResponse = c.call(version, &req);
    assert_eq!(r.topics[0].name.0.as_str(), topic);
    r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code, p.low_watermark))
        .collect()
}

#[test]
fn delete_records_every_version() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    for v in 0..=2i16 {
        let t = format!("trim-{v}");
        create(&mut c, &t, 2);
        produce(
            &mut c,
            &t,
            0,
            batch(10, "a", 1_700_000_000_000, Compression::None),
        );
        produce(
            &mut c,
            &t,
            0,
            batch(5, "b", 1_700_000_000_100, Compression::None),
        );
        assert_eq!(
            delete_records(&mut c, v, &t, &[(0, 3), (1, 0), (7, 1)]),
            vec![(0, 0, 3), (1, 0, 0), (7, 3, -1)],
            "v{v}"
        );
        assert_eq!(earliest(&mut c, &t, 0), 3);
        // Below the log start: OFFSET_OUT_OF_RANGE; at it: the batch containing it.
        assert_eq!(fetch(&mut c, &t, 0, 2).error_code, 1);
        let f = fetch(&mut c, &t, 0, 3);
        assert_eq!((f.error_code, f.log_start_offset), (0, 3));
        // Beyond the high watermark, or negative other than -1: OFFSET_OUT_OF_RANGE.
        assert_eq!(delete_records(&mut c, v, &t, &[(0, 16)]), vec![(0, 1, -1)]);
        assert_eq!(delete_records(&mut c, v, &t, &[(0, -5)]), vec![(0, 1, -1)]);
        // Behind the current start: nothing moves, the low watermark is answered.
        assert_eq!(delete_records(&mut c, v, &t, &[(0, 1)]), vec![(0, 0, 3)]);
        // -1: up to the high watermark.
        assert_eq!(delete_records(&mut c, v, &t, &[(0, -1)]), vec![(0, 0, 15)]);
        assert_eq!(earliest(&mut c, &t, 0), 15);
        assert_eq!(
            delete_records(&mut c, v, "unknown-topic", &[(0, 0)]),
            vec![(0, 3, -1)]
        );
    }
    // Survives a restart.
    b.stop();
    let dir = b.dir.clone();
    let b2 = Broker::start_in(&dir, b.port, &[]);
    let mut c = b2.client();
    assert_eq!(earliest(&mut c, "trim-1", 0), 15);
    assert_eq!(fetch(&mut c, "trim-1", 0, 14).error_code, 1);
}

#[test]
fn delete_records_refuses_internal_topics() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    // FindCoordinator creates __consumer_offsets.
    let req = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_static_str("g"))
        .with_key_type(0);
    let _: FindCoordinatorResponse = c.call(3, &req);
    for _ in 0..100 {
        if partition_count_opt(&mut c, "__consumer_offsets").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        delete_records(&mut c, 2, "__consumer_offsets", &[(0, 0)]),
        vec![(0, 17, -1)]
    );
}

fn partition_count_opt(c: &mut Client, topic: &str) -> Option<usize> {
    let req = MetadataRequest::default()
        .with_allow_auto_topic_creation(false)
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name(topic)))
        ]));
    let r: MetadataResponse = c.call(12, &req);
    (r.topics[0].error_code == 0).then(|| r.topics[0].partitions.len())
}

#[test]
fn describe_cluster_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let meta: MetadataResponse = c.call(12, &MetadataRequest::default().with_topics(Some(vec![])));
    for v in 0..=2i16 {
        for with_ops in [false, true] {
            let req = DescribeClusterRequest::default()
                .with_include_cluster_authorized_operations(with_ops);
            let r: DescribeClusterResponse = c.call(v, &req);
            assert_eq!(r.error_code, 0, "v{v}");
            assert_eq!(r.error_message, None);
            assert_eq!(Some(r.cluster_id.clone()), meta.cluster_id);
            assert_eq!(r.controller_id, BrokerId(NODE));
            assert_eq!(r.brokers.len(), 1);
            let broker = &r.brokers[0];
            assert_eq!(broker.broker_id, BrokerId(NODE));
            assert_eq!(broker.host.as_str(), meta.brokers[0].host.as_str());
            assert_eq!(broker.port, i32::from(b.port));
            assert_eq!(broker.rack, None);
            assert!(!broker.is_fenced);
            assert_eq!(r.endpoint_type, 1);
            // CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
            // IDEMPOTENT_WRITE; Kafka's schema default when not asked.
            let ops = if with_ops { 8096 } else { i32::MIN };
            assert_eq!(r.cluster_authorized_operations, ops);
        }
    }
    for v in 1..=2i16 {
        let r: DescribeClusterResponse =
            c.call(v, &DescribeClusterRequest::default().with_endpoint_type(2));
        assert_eq!(r.error_code, 114, "controllers asked of a broker, v{v}");
        let r: DescribeClusterResponse =
            c.call(v, &DescribeClusterRequest::default().with_endpoint_type(9));
        assert_eq!(r.error_code, 115);
        assert_eq!(
            r.error_message.as_ref().map(|m| m.as_str()),
            Some("Unsupported endpoint type 9")
        );
    }
}

#[test]
fn describe_log_dirs_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "dirs-a", 2);
    create(&mut c, "dirs-b", 1);
    let one = batch(3, "x", 1_700_000_000_000, Compression::None);
    let size = one.len() as i64;
    produce(&mut c, "dirs-a", 1, one);
    let data_dir = std::fs::canonicalize(&b.dir).unwrap();
    for v in 1..=4i16 {
        let r: DescribeLogDirsResponse =
            c.call(v, &DescribeLogDirsRequest::default().with_topics(None));
        assert_eq!(r.error_code, 0);
        assert_eq!(r.results.len(), 1);
        let d = &r.results[0];
        assert_eq!(d.error_code, 0);
        assert_eq!(
            std::fs::canonicalize(d.log_dir.as_str()).unwrap(),
            data_dir,
            "v{v}"
        );
        let find = |t: &str| d.topics.iter().find(|x| x.name.0.as_str() == t).unwrap();
        let a: Vec<(i32, i64, i64, bool)> = find("dirs-a")
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.partition_size,
                    p.offset_lag,
                    p.is_future_key,
                )
            })
            .collect();
        assert_eq!(a, vec![(0, 0, 0, false), (1, size, 0, false)]);
        assert_eq!(find("dirs-b").partitions.len(), 1);
        if v >= 4 {
            assert!(d.total_bytes > 0 && d.usable_bytes >= 0 && d.usable_bytes <= d.total_bytes);
        } else {
            assert_eq!((d.total_bytes, d.usable_bytes), (-1, -1));
        }
        // Only the requested partitions; unknown ones are left out.
        let req = DescribeLogDirsRequest::default().with_topics(Some(vec![
            DescribableLogDirTopic::default()
                .with_topic(name("dirs-a"))
                .with_partitions(vec![1, 9]),
            DescribableLogDirTopic::default()
                .with_topic(name("missing"))
                .with_partitions(vec![0]),
        ]));
        let r: DescribeLogDirsResponse = c.call(v, &req);
        let topics = &r.results[0].topics;
        assert_eq!(topics.len(), 1);
        assert_eq!(topics[0].name.0.as_str(), "dirs-a");
        assert_eq!(topics[0].partitions.len(), 1);
        assert_eq!(topics[0].partitions[0].partition_index, 1);
        assert_eq!(topics[0].partitions[0].partition_size, size);
    }
}

fn epoch_end(
    c: &mut Client,
    version: i16,
    topic: &str,
    partition: i32,
    current: i32,
    epoch: i32,
) -> (i16, i32, i64) {
    let req = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(current)
                .with_leader_epoch(epoch)])]);
    if version < 2 {
        // v0–1 (no current leader epoch; v0 answers no leader epoch): encoded by hand.
        assert_eq!(current, -1, "v0-1 carry no current leader epoch");
        let body = skua::protocol::legacy::requests::encode_offset_for_leader_epoch(&req);
        let r = c.call_body(ApiKey::OffsetForLeaderEpoch, version, &body);
        let mut r = &r[..];
        let mut take = |n: usize| {
            let (a, b) = r.split_at(n);
            r = b;
            a.to_vec()
        };
        let i32_of = |b: Vec<u8>| i32::from_be_bytes(b.try_into().unwrap());
        assert_eq!(i32_of(take(4)), 1, "one topic");
        let len = i16::from_be_bytes(take(2).try_into().unwrap()) as usize;
        assert_eq!(take(len), topic.as_bytes());
        assert_eq!(i32_of(take(4)), 1, "one partition");
        let error = i16::from_be_bytes(take(2).try_into().unwrap());
        assert_eq!(i32_of(take(4)), partition);
        let epoch = if version >= 1 { i32_of(take(4)) } else { -1 };
        let end = i64::from_be_bytes(take(8).try_into().unwrap());
        assert!(
            r.is_empty(),
            "v{version}: trailing bytes (no throttle time before v2)"
        );
        return (error, epoch, end);
    }
    let r: OffsetForLeaderEpochResponse = c.call(version, &req);
    assert_eq!(r.topics[0].topic.0.as_str(), topic);
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.partition, partition);
    (p.error_code, p.leader_epoch, p.end_offset)
}

#[test]
fn offset_for_leader_epoch_every_version() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "epochs", 1);
    for v in 0..=4i16 {
        let end = produce(
            &mut c,
            "epochs",
            0,
            batch(2, "e", 1_700_000_000_000, Compression::None),
        ) + 2;
        // v0 answers no leader epoch (read as -1 here).
        let epoch = |e: i32| if v == 0 { -1 } else { e };
        // The current epoch (0) ends at the log end offset.
        assert_eq!(
            epoch_end(&mut c, v, "epochs", 0, -1, 0),
            (0, epoch(0), end),
            "v{v}"
        );
        if v >= 2 {
            assert_eq!(epoch_end(&mut c, v, "epochs", 0, 0, 0), (0, 0, end));
            // A current leader epoch newer than the partition's: UNKNOWN_LEADER_EPOCH.
            assert_eq!(epoch_end(&mut c, v, "epochs", 0, 1, 0), (75, -1, -1));
        }
        // An unknown newer epoch: no error, UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET.
        assert_eq!(epoch_end(&mut c, v, "epochs", 0, -1, 3), (0, -1, -1));
        assert_eq!(epoch_end(&mut c, v, "epochs", 0, -1, -1), (0, -1, -1));
        assert_eq!(epoch_end(&mut c, v, "epochs", 5, -1, 0), (3, -1, -1));
        assert_eq!(epoch_end(&mut c, v, "nope", 0, -1, 0), (3, -1, -1));
    }
    // An empty partition's epoch starts at its log end offset, as on becoming leader.
    create(&mut c, "epochs-empty", 1);
    assert_eq!(epoch_end(&mut c, 4, "epochs-empty", 0, 0, 0), (0, 0, 0));
    // Kafka's checkpoint file, and a restart (also with it removed) answers the same.
    let cp = b.dir.join("epochs-0").join("leader-epoch-checkpoint");
    assert_eq!(std::fs::read_to_string(&cp).unwrap(), "0\n1\n0 0\n");
    b.stop();
    std::fs::remove_file(&cp).unwrap();
    let dir = b.dir.clone();
    let b2 = Broker::start_in(&dir, b.port, &[]);
    let mut c = b2.client();
    // A restarted broker registers again and leads under a newer epoch (as in KRaft), which
    // starts at the log end offset: epoch 0 still ends at 10 (5 versions × 2 records).
    assert_eq!(epoch_end(&mut c, 4, "epochs", 0, -1, 0), (0, 0, 10));
    // The same at every version after the epoch bump, then with records in the new epoch
    // (the current one, as Metadata reports it).
    let md: MetadataResponse = c.call(
        12,
        &MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name("epochs")))
        ])),
    );
    let current = md.topics[0].partitions[0].leader_epoch;
    assert!(current >= 1, "a newer epoch after the restart: {current}");
    for v in 0..=4i16 {
        let epoch = |e: i32| if v == 0 { -1 } else { e };
        assert_eq!(
            epoch_end(&mut c, v, "epochs", 0, -1, 0),
            (0, epoch(0), 10),
            "v{v}"
        );
    }
    produce(
        &mut c,
        "epochs",
        0,
        batch(2, "n", 1_700_000_000_000, Compression::None),
    );
    for v in 0..=4i16 {
        let epoch = |e: i32| if v == 0 { -1 } else { e };
        // Epoch 0 still ends where the newer epochs began; the current one at the log end.
        assert_eq!(
            epoch_end(&mut c, v, "epochs", 0, -1, 0),
            (0, epoch(0), 10),
            "v{v}"
        );
        assert_eq!(
            epoch_end(&mut c, v, "epochs", 0, -1, current),
            (0, epoch(current), 12),
            "v{v}"
        );
    }
    let text = std::fs::read_to_string(&cp).unwrap();
    assert!(
        text.starts_with("0\n") && text.contains("\n0 0\n"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(" 10"),
        "a newer epoch from offset 10: {text}"
    );
}

fn elect(
    c: &mut Client,
    version: i16,
    election_type: i8,
    topics: Option<Vec<TopicPartitions>>,
) -> ElectLeadersResponse {
    let req = ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_timeout_ms(5000)
        .with_topic_partitions(topics);
    c.call(version, &req)
}

fn results(r: &ElectLeadersResponse) -> Vec<(String, i32, i16, Option<String>)> {
    r.replica_election_results
        .iter()
        .flat_map(|t| {
            t.partition_result.iter().map(|p| {
                (
                    t.topic.0.to_string(),
                    p.partition_id,
                    p.error_code,
                    p.error_message.as_ref().map(|m| m.to_string()),
                )
            })
        })
        .collect()
}

#[test]
fn elect_leaders_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "lead", 2);
    let not_needed = Some("Leader election not needed for topic partition.".to_string());
    for v in 0..=2i16 {
        let types: &[i8] = if v == 0 { &[0] } else { &[0, 1] };
        for &ty in types {
            let r = elect(
                &mut c,
                v,
                ty,
                Some(vec![
                    TopicPartitions::default()
                        .with_topic(name("lead"))
                        .with_partitions(vec![0, 1, 7]),
                    TopicPartitions::default()
                        .with_topic(name("ghost"))
                        .with_partitions(vec![0]),
                ]),
            );
            assert_eq!(r.error_code, 0);
            assert_eq!(
                results(&r),
                vec![
                    ("lead".into(), 0, 84, not_needed.clone()),
                    ("lead".into(), 1, 84, not_needed.clone()),
                    (
                        "lead".into(),
                        7,
                        3,
                        Some("No such partition as lead-7".into())
                    ),
                    ("ghost".into(), 0, 3, Some("No such topic as ghost".into())),
                ],
                "v{v} type {ty}"
            );
        }
        // All partitions: none needs an election, so none is listed.
        let r = elect(&mut c, v, 0, None);
        assert_eq!(r.error_code, 0);
        assert!(r
            .replica_election_results
            .iter()
            .any(|t| t.topic.0.as_str() == "lead"));
        assert!(results(&r).is_empty());
    }
    for v in 1..=2i16 {
        let r = elect(
            &mut c,
            v,
            5,
            Some(vec![TopicPartitions::default()
                .with_topic(name("lead"))
                .with_partitions(vec![0])]),
        );
        assert_eq!(r.error_code, 42);
        assert_eq!(
            results(&r),
            vec![("lead".into(), 0, 42, Some("Unknown election type 5".into()))]
        );
    }
}

#[test]
fn partition_reassignments_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "move", 1);
    let part = |i: i32, replicas: Option<Vec<i32>>| {
        ReassignablePartition::default()
            .with_partition_index(i)
            .with_replicas(replicas.map(|r| r.into_iter().map(BrokerId).collect()))
    };
    for v in 0..=1i16 {
        let req = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![
                ReassignableTopic::default()
                    .with_name(name("move"))
                    .with_partitions(vec![
                        part(0, Some(vec![NODE])),
                        part(0, Some(vec![NODE, 2])),
                        part(0, Some(vec![])),
                        part(0, None),
                        part(4, Some(vec![NODE])),
                    ]),
                ReassignableTopic::default()
                    .with_name(name("ghost"))
                    .with_partitions(vec![part(0, Some(vec![NODE]))]),
            ]);
        let r: AlterPartitionReassignmentsResponse = c.call(v, &req);
        assert_eq!((r.error_code, r.error_message.clone()), (0, None));
        assert!(r.allow_replication_factor_change);
        let got: Vec<(i32, i16, Option<String>)> = r
            .responses
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        p.partition_index,
                        p.error_code,
                        p.error_message.as_ref().map(|m| m.to_string()),
                    )
                })
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 0, None),
                (0, 39, Some("The manual partition assignment includes broker 2, but no such broker is registered.".into())),
                (0, 39, Some("The manual partition assignment includes an empty replica list.".into())),
                (0, 85, None),
                (4, 3, Some("Unable to find partition move:4.".into())),
                (0, 3, Some("Unable to find a topic named ghost.".into())),
            ],
            "v{v}"
        );
    }
    // v1 echoes allow_replication_factor_change.
    let req = AlterPartitionReassignmentsRequest::default()
        .with_allow_replication_factor_change(false)
        .with_topics(vec![]);
    let r: AlterPartitionReassignmentsResponse = c.call(1, &req);
    assert!(!r.allow_replication_factor_change);

    // Nothing is ever in progress.
    for topics in [
        None,
        Some(vec![ListPartitionReassignmentsTopics::default()
            .with_name(name("move"))
            .with_partition_indexes(vec![0])]),
    ] {
        let req = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(topics);
        let r: ListPartitionReassignmentsResponse = c.call(0, &req);
        assert_eq!(
            (r.error_code, r.error_message, r.topics.len()),
            (0, None, 0)
        );
    }
}
