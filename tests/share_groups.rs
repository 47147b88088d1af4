//! Share groups (KIP-932) over TCP against the real binary, with raw requests: the
//! ShareGroupHeartbeat lifecycle and its error codes, share sessions and acknowledgements in
//! ShareFetch / ShareAcknowledge (Kafka's codes for every misuse), release and redelivery
//! counts, DescribeShareGroupOffsets, and the state surviving `kill -9`; v2 (Kafka 4.2): RENEW
//! acknowledgements (KIP-1222) and the record-limit acquire mode (KIP-1206); DescribeGroups of
//! a share group; a member leaving by heartbeat releasing its records at once.
//! (confluent-kafka's ShareConsumer runs the same paths in compat-tests/scenarios/share.py.)

mod common;

use std::time::{Duration, Instant};

use common::{batch, decode_records, Broker, Client};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckBatchA,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic,
};
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, GroupId,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, JoinGroupRequest,
    JoinGroupResponse, ListGroupsRequest, ListGroupsResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, ShareAcknowledgeRequest, ShareAcknowledgeResponse,
    ShareFetchRequest, ShareFetchResponse, ShareGroupDescribeRequest, ShareGroupDescribeResponse,
    ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use uuid::Uuid;

const ACCEPT: i8 = 1;
const RELEASE: i8 = 2;
const RENEW: i8 = 4;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn heartbeat(
    c: &mut Client,
    group: &str,
    member: &str,
    epoch: i32,
    topics: Option<&[&str]>,
) -> ShareGroupHeartbeatResponse {
    let req = ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(topics.map(|ts| ts.iter().map(|t| TopicName(s(t))).collect()));
    c.call(1, &req)
}

fn topic_id(c: &mut Client, topic: &str) -> Uuid {
    let md: MetadataResponse = c.call(
        12,
        &MetadataRequest::default().with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                .with_name(Some(TopicName(s(topic)))),
        ])),
    );
    md.topics[0].topic_id
}

fn produce(c: &mut Client, topic: &str, n: usize, tag: &str) {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(n, tag, 1000, Compression::None)))])]);
    let r: ProduceResponse = c.call(9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
}

/// Set a GROUP config of `group` (IncrementalAlterConfigs SET).
fn group_config(c: &mut Client, group: &str, name: &str, value: &str) {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(32)
            .with_resource_name(s(group))
            .with_configs(vec![AlterableConfig::default()
                .with_name(s(name))
                .with_config_operation(0)
                .with_value(Some(s(value)))]),
    ]);
    let r: IncrementalAlterConfigsResponse = c.call(1, &req);
    assert_eq!(r.responses[0].error_code, 0, "{:?}", r.responses[0]);
}

fn earliest(c: &mut Client, group: &str) {
    group_config(c, group, "share.auto.offset.reset", "earliest");
}

/// One ShareFetch v1 of partition 0 of `id` at `epoch`, with `acks` (first, last, type).
fn fetch(
    c: &mut Client,
    group: &str,
    member: &str,
    epoch: i32,
    id: Uuid,
    acks: &[(i64, i64, i8)],
) -> ShareFetchResponse {
    fetch_at(c, 1, (group, member, epoch), id, acks, (500, 100, 0, false))
}

/// One ShareFetch at `version` by (group, member, epoch) of partition 0 of `id`, with `acks`;
/// `ask` = (MaxWaitMs, MaxRecords, ShareAcquireMode, IsRenewAck). A renewing fetch asks for
/// no bytes.
fn fetch_at(
    c: &mut Client,
    version: i16,
    (group, member, epoch): (&str, &str, i32),
    id: Uuid,
    acks: &[(i64, i64, i8)],
    (max_wait_ms, max_records, mode, renew): (i32, i32, i8, bool),
) -> ShareFetchResponse {
    let req = ShareFetchRequest::default()
        .with_group_id(Some(GroupId(s(group))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(if renew { 0 } else { 1 })
        .with_max_bytes(if renew { 0 } else { 1 << 20 })
        .with_max_records(max_records)
        .with_batch_size(max_records)
        .with_share_acquire_mode(mode)
        .with_is_renew_ack(renew)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition_index(0)
                .with_acknowledgement_batches(
                    acks.iter()
                        .map(|(f, l, t)| {
                            AcknowledgementBatch::default()
                                .with_first_offset(*f)
                                .with_last_offset(*l)
                                .with_acknowledge_types(vec![*t])
                        })
                        .collect(),
                )])]);
    c.call(version, &req)
}

fn acknowledge(
    c: &mut Client,
    group: &str,
    member: &str,
    epoch: i32,
    id: Uuid,
    acks: &[(i64, i64, i8)],
) -> ShareAcknowledgeResponse {
    acknowledge_at(c, (1, false), (group, member, epoch), id, acks)
}

/// One ShareAcknowledge at (version, IsRenewAck) by (group, member, epoch).
fn acknowledge_at(
    c: &mut Client,
    (version, renew): (i16, bool),
    (group, member, epoch): (&str, &str, i32),
    id: Uuid,
    acks: &[(i64, i64, i8)],
) -> ShareAcknowledgeResponse {
    let req = ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(s(group))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_is_renew_ack(renew)
        .with_topics(vec![AcknowledgeTopic::default()
            .with_topic_id(id)
            .with_partitions(vec![AcknowledgePartition::default()
                .with_partition_index(0)
                .with_acknowledgement_batches(
                    acks.iter()
                        .map(|(f, l, t)| {
                            AckBatchA::default()
                                .with_first_offset(*f)
                                .with_last_offset(*l)
                                .with_acknowledge_types(vec![*t])
                        })
                        .collect(),
                )])]);
    c.call(version, &req)
}

/// (first, last, delivery count) of every acquired range, and the values of the records.
fn acquired(r: &ShareFetchResponse) -> (Vec<(i64, i64, i16)>, Vec<String>) {
    assert_eq!(r.error_code, 0, "{r:?}");
    let mut ranges = Vec::new();
    let mut values = Vec::new();
    for t in &r.responses {
        for p in &t.partitions {
            assert_eq!(p.error_code, 0, "{p:?}");
            for a in &p.acquired_records {
                ranges.push((a.first_offset, a.last_offset, a.delivery_count));
                if let Some(bytes) = &p.records {
                    for rec in decode_records(bytes) {
                        if rec.offset >= a.first_offset && rec.offset <= a.last_offset {
                            let v = rec.value.as_ref().map(|v| v.to_vec()).unwrap_or_default();
                            values.push(String::from_utf8(v).unwrap_or_default());
                        }
                    }
                }
            }
        }
    }
    (ranges, values)
}

fn ack_code(r: &ShareFetchResponse) -> i16 {
    r.responses[0].partitions[0].acknowledge_error_code
}

#[test]
fn heartbeats_join_assign_fence_describe_and_leave_with_kafkas_codes() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    c.create_topic("hb", 2);
    let id = topic_id(&mut c, "hb");

    // Epoch 0 joins: a member epoch and the whole assignment.
    let r = heartbeat(&mut c, "g", "m1", 0, Some(&["hb"]));
    assert_eq!(r.error_code, 0, "{r:?}");
    assert_eq!(r.member_id.as_deref(), Some("m1"));
    assert_eq!((r.member_epoch, r.heartbeat_interval_ms), (1, 5000));
    let a = r.assignment.expect("assignment on join");
    assert_eq!(a.topic_partitions.len(), 1);
    assert_eq!(a.topic_partitions[0].topic_id, id);
    assert_eq!(a.topic_partitions[0].partitions, vec![0, 1]);
    // Unchanged: no assignment.
    let r = heartbeat(&mut c, "g", "m1", 1, None);
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    assert!(r.assignment.is_none());
    // A second member: the group epoch moves; m2 gets one partition.
    let r = heartbeat(&mut c, "g", "m2", 0, Some(&["hb"]));
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    assert_eq!(
        r.assignment.unwrap().topic_partitions[0].partitions.len(),
        1
    );
    // Misuse: stale epoch, unknown member, empty member id, join without topics.
    assert_eq!(heartbeat(&mut c, "g", "m1", 7, None).error_code, 110);
    assert_eq!(heartbeat(&mut c, "g", "nobody", 3, None).error_code, 25);
    assert_eq!(heartbeat(&mut c, "g", "", 0, Some(&["hb"])).error_code, 42);
    assert_eq!(heartbeat(&mut c, "g", "m3", 0, None).error_code, 42);
    // m1 moves to the new epoch with its new, smaller assignment.
    let r = heartbeat(&mut c, "g", "m1", 1, None);
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    assert_eq!(
        r.assignment.unwrap().topic_partitions[0].partitions.len(),
        1
    );

    let d: ShareGroupDescribeResponse = c.call(
        1,
        &ShareGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(s("g")), GroupId(s("none"))]),
    );
    assert_eq!(d.groups[0].error_code, 0);
    assert_eq!(d.groups[0].group_state.as_str(), "Stable");
    assert_eq!(d.groups[0].assignor_name.as_str(), "simple");
    assert_eq!(d.groups[0].members.len(), 2);
    assert_eq!(d.groups[1].error_code, 69);

    // The id is taken by a share group: a classic JoinGroup is refused.
    let j: JoinGroupResponse = c.call(
        5,
        &JoinGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type(s("consumer")),
    );
    assert_eq!(j.error_code, 23);
    let l: ListGroupsResponse = c.call(
        5,
        &ListGroupsRequest::default().with_types_filter(vec![s("share")]),
    );
    let listed: Vec<(String, String, String)> = l
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.as_str().to_string(),
                g.group_type.as_str().to_string(),
                g.group_state.as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(listed, vec![("g".into(), "share".into(), "Stable".into())]);

    // Leaving: epoch -1 answers -1; the group is Empty when both left.
    let r = heartbeat(&mut c, "g", "m1", -1, None);
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    heartbeat(&mut c, "g", "m2", -1, None);
    let d: ShareGroupDescribeResponse = c.call(
        1,
        &ShareGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g"))]),
    );
    assert_eq!(d.groups[0].group_state.as_str(), "Empty");
    assert!(d.groups[0].members.is_empty());
}

#[test]
fn share_fetch_sessions_acknowledgements_and_redelivery() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    c.create_topic("sf", 1);
    let id = topic_id(&mut c, "sf");
    earliest(&mut c, "sg");
    produce(&mut c, "sf", 5, "r");
    heartbeat(&mut c, "sg", "a", 0, Some(&["sf"]));

    // Acknowledgements on the initial request: INVALID_REQUEST, nothing acquired.
    let r = fetch(&mut c, "sg", "a", 0, id, &[(0, 0, ACCEPT)]);
    assert_eq!(r.error_code, 42);
    // No session yet: SHARE_SESSION_NOT_FOUND.
    assert_eq!(fetch(&mut c, "sg", "a", 3, id, &[]).error_code, 122);
    // Epoch 0 opens the session and acquires all five, delivery 1, locked for 30 s.
    let r = fetch(&mut c, "sg", "a", 0, id, &[]);
    assert_eq!(r.acquisition_lock_timeout_ms, 30_000);
    let (ranges, values) = acquired(&r);
    assert_eq!(ranges, vec![(0, 4, 1)]);
    assert_eq!(values, vec!["r-v0", "r-v1", "r-v2", "r-v3", "r-v4"]);
    // The session is at epoch 1 now: 5 is out of order.
    assert_eq!(fetch(&mut c, "sg", "a", 5, id, &[]).error_code, 123);
    // Another member gets nothing while a holds them.
    let r = fetch(&mut c, "sg", "b", 0, id, &[]);
    assert_eq!(acquired(&r).0, vec![]);
    // ShareAcknowledge: epoch 0 is refused; b cannot acknowledge a's records.
    assert_eq!(
        acknowledge(&mut c, "sg", "a", 0, id, &[(0, 1, ACCEPT)]).error_code,
        123
    );
    let r = acknowledge(&mut c, "sg", "b", 1, id, &[(0, 1, ACCEPT)]);
    assert_eq!(r.responses[0].partitions[0].error_code, 121);
    // a accepts 0-1 and releases 2-4.
    let r = acknowledge(&mut c, "sg", "a", 1, id, &[(0, 1, ACCEPT), (2, 4, RELEASE)]);
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 0)
    );
    // Accepting 0-1 again: they are done (Kafka's INVALID_RECORD_STATE).
    let r = fetch(&mut c, "sg", "a", 2, id, &[(0, 1, ACCEPT)]);
    assert_eq!(ack_code(&r), 121);
    // The same fetch re-acquired the released records, delivery 2.
    assert_eq!(acquired(&r).0, vec![(2, 4, 2)]);
    // Closing the session (epoch -1) releases what a holds; b gets them with delivery 3.
    let r = fetch(&mut c, "sg", "a", -1, id, &[]);
    assert_eq!(
        r.error_code, 42,
        "a final fetch may not name partitions to fetch"
    );
    let r = acknowledge(&mut c, "sg", "a", -1, id, &[(2, 2, ACCEPT)]);
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    let r = fetch(&mut c, "sg", "b", 2, id, &[]);
    assert_eq!(
        acquired(&r),
        (vec![(3, 4, 3)], vec!["r-v3".into(), "r-v4".into()])
    );

    let d: DescribeShareGroupOffsetsResponse = c.call(
        0,
        &DescribeShareGroupOffsetsRequest::default().with_groups(vec![
            kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default()
                .with_group_id(GroupId(s("sg")))
                .with_topics(None),
        ]),
    );
    assert_eq!(d.groups[0].error_code, 0, "{d:?}");
    let p = &d.groups[0].topics[0].partitions[0];
    assert_eq!((p.partition_index, p.start_offset, p.error_code), (0, 3, 0));
}

#[test]
fn accepted_records_stay_accepted_after_kill_9() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    c.create_topic("sk", 1);
    let id = topic_id(&mut c, "sk");
    earliest(&mut c, "sk");
    produce(&mut c, "sk", 6, "r");
    heartbeat(&mut c, "sk", "a", 0, Some(&["sk"]));
    let r = fetch(&mut c, "sk", "a", 0, id, &[]);
    assert_eq!(acquired(&r).0, vec![(0, 5, 1)]);
    let r = acknowledge(&mut c, "sk", "a", 1, id, &[(0, 2, ACCEPT)]);
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    drop(c);
    b.kill9();
    b.spawn();
    let mut c = b.client();
    heartbeat(&mut c, "sk", "b", 0, Some(&["sk"]));
    // 0-2 were accepted: never again. 3-5 were held when the broker died: delivered again,
    // their first delivery counted.
    let r = fetch(&mut c, "sk", "b", 0, id, &[]);
    assert_eq!(
        acquired(&r),
        (
            vec![(3, 5, 2)],
            vec!["r-v3".into(), "r-v4".into(), "r-v5".into()]
        )
    );
}

#[test]
fn alter_and_delete_share_group_offsets_need_an_empty_group() {
    use kafka_protocol::messages::alter_share_group_offsets_request::{
        AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
    };
    use kafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
    use kafka_protocol::messages::{
        AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse,
        DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse,
    };
    let b = Broker::start(&[]);
    let mut c = b.client();
    c.create_topic("ao", 1);
    let id = topic_id(&mut c, "ao");
    earliest(&mut c, "ag");
    produce(&mut c, "ao", 6, "r");
    heartbeat(&mut c, "ag", "a", 0, Some(&["ao"]));
    let alter = |c: &mut Client, start: i64| -> AlterShareGroupOffsetsResponse {
        c.call(
            0,
            &AlterShareGroupOffsetsRequest::default()
                .with_group_id(GroupId(s("ag")))
                .with_topics(vec![AlterShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(TopicName(s("ao")))
                    .with_partitions(vec![
                        AlterShareGroupOffsetsRequestPartition::default()
                            .with_partition_index(0)
                            .with_start_offset(start),
                    ])]),
        )
    };
    let delete = |c: &mut Client| -> DeleteShareGroupOffsetsResponse {
        c.call(
            0,
            &DeleteShareGroupOffsetsRequest::default()
                .with_group_id(GroupId(s("ag")))
                .with_topics(vec![DeleteShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(TopicName(s("ao")))]),
        )
    };
    // A member is in the group: NON_EMPTY_GROUP.
    assert_eq!(alter(&mut c, 4).error_code, 68);
    assert_eq!(delete(&mut c).error_code, 68);
    heartbeat(&mut c, "ag", "a", -1, None);
    // Outside the log: OFFSET_OUT_OF_RANGE; inside: the share-partition starts there.
    let r = alter(&mut c, 99);
    assert_eq!(r.responses[0].partitions[0].error_code, 1);
    let r = alter(&mut c, 4);
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 0)
    );
    assert_eq!(r.responses[0].topic_id, id);
    heartbeat(&mut c, "ag", "b", 0, Some(&["ao"]));
    let f = fetch(&mut c, "ag", "b", 0, id, &[]);
    assert_eq!(
        acquired(&f),
        (vec![(4, 5, 1)], vec!["r-v4".into(), "r-v5".into()])
    );
    acknowledge(&mut c, "ag", "b", -1, id, &[(4, 5, ACCEPT)]);
    heartbeat(&mut c, "ag", "b", -1, None);
    // Deleting forgets the state: the next member starts again at the log start (earliest).
    let r = delete(&mut c);
    assert_eq!((r.error_code, r.responses[0].error_code), (0, 0));
    heartbeat(&mut c, "ag", "d", 0, Some(&["ao"]));
    let f = fetch(&mut c, "ag", "d", 0, id, &[]);
    assert_eq!(acquired(&f).0, vec![(0, 5, 1)]);
}

#[test]
fn renew_keeps_records_past_the_lock_until_renewals_stop() {
    let b = Broker::start(&["group.share.min.record.lock.duration.ms=1000"]);
    let (mut ca, mut cb) = (b.client(), b.client());
    ca.create_topic("rn", 1);
    let id = topic_id(&mut ca, "rn");
    earliest(&mut ca, "rg");
    group_config(&mut ca, "rg", "share.record.lock.duration.ms", "1500");
    produce(&mut ca, "rn", 4, "r");
    heartbeat(&mut ca, "rg", "a", 0, Some(&["rn"]));
    heartbeat(&mut cb, "rg", "b", 0, Some(&["rn"]));
    let r = fetch_at(&mut ca, 2, ("rg", "a", 0), id, &[], (500, 100, 0, false));
    assert_eq!(r.acquisition_lock_timeout_ms, 1500);
    assert_eq!(acquired(&r).0, vec![(0, 3, 1)]);
    // a renews every 700 ms for 3.5 s (more than twice the 1.5 s lock), by ShareAcknowledge
    // and by ShareFetch in turn; b, fetching meanwhile, gets nothing.
    let started = Instant::now();
    let (mut a_epoch, mut b_epoch) = (1, 0);
    for i in 0..5 {
        std::thread::sleep(Duration::from_millis(700));
        if i % 2 == 0 {
            let r = acknowledge_at(
                &mut ca,
                (2, true),
                ("rg", "a", a_epoch),
                id,
                &[(0, 3, RENEW)],
            );
            let p = &r.responses[0].partitions[0];
            assert_eq!((r.error_code, p.error_code), (0, 0), "{r:?}");
            assert_eq!(r.acquisition_lock_timeout_ms, 1500);
        } else {
            // A renewing fetch only acknowledges: no records, whatever is available.
            let r = fetch_at(
                &mut ca,
                2,
                ("rg", "a", a_epoch),
                id,
                &[(0, 3, RENEW)],
                (0, 0, 0, true),
            );
            assert_eq!((r.error_code, ack_code(&r)), (0, 0), "{r:?}");
            assert_eq!(acquired(&r).0, vec![]);
            assert_eq!(r.acquisition_lock_timeout_ms, 1500);
        }
        a_epoch += 1;
        let r = fetch_at(
            &mut cb,
            2,
            ("rg", "b", b_epoch),
            id,
            &[],
            (0, 100, 0, false),
        );
        assert_eq!(acquired(&r).0, vec![], "b acquired a's renewed records");
        b_epoch += 1;
    }
    assert!(started.elapsed() >= Duration::from_millis(3500));
    // The renewals stop: one lock later the records are b's, their second delivery.
    let last_renewal = Instant::now();
    let r = fetch_at(
        &mut cb,
        2,
        ("rg", "b", b_epoch),
        id,
        &[],
        (5000, 100, 0, false),
    );
    assert_eq!(
        acquired(&r),
        (
            vec![(0, 3, 2)],
            vec!["r-v0".into(), "r-v1".into(), "r-v2".into(), "r-v3".into()]
        )
    );
    assert!(last_renewal.elapsed() >= Duration::from_millis(1000));
    // a renews too late: the records are not a's any more.
    let r = acknowledge_at(
        &mut ca,
        (2, true),
        ("rg", "a", a_epoch),
        id,
        &[(0, 3, RENEW)],
    );
    assert_eq!(r.responses[0].partitions[0].error_code, 121);
}

#[test]
fn record_limit_mode_and_invalid_v2_requests() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let av: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default());
    let range = |key: i16| {
        av.api_keys
            .iter()
            .find(|k| k.api_key == key)
            .map(|k| (k.min_version, k.max_version))
    };
    assert_eq!((range(78), range(79)), (Some((1, 2)), Some((1, 2))));
    c.create_topic("rl", 1);
    let id = topic_id(&mut c, "rl");
    earliest(&mut c, "lg");
    // One log batch of ten records.
    produce(&mut c, "rl", 10, "r");
    heartbeat(&mut c, "lg", "m", 0, Some(&["rl"]));
    let m = |epoch| ("lg", "m", epoch);
    // record_limit: exactly MaxRecords, though the whole batch is sent.
    let r = fetch_at(&mut c, 2, m(0), id, &[], (500, 3, 1, false));
    assert_eq!(
        acquired(&r),
        (
            vec![(0, 2, 1)],
            vec!["r-v0".into(), "r-v1".into(), "r-v2".into()]
        )
    );
    assert_eq!(
        decode_records(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        10
    );
    let r = fetch_at(&mut c, 2, m(1), id, &[], (500, 4, 1, false));
    assert_eq!(acquired(&r).0, vec![(3, 6, 1)]);
    // batch_optimized: skua does not round up to the batch end either.
    let r = fetch_at(&mut c, 2, m(2), id, &[], (500, 2, 0, false));
    assert_eq!(acquired(&r).0, vec![(7, 8, 1)]);

    // Refused as a whole (the session epoch does not move): an unknown acquire mode, a
    // renewing fetch that asks for records.
    let r = fetch_at(&mut c, 2, m(3), id, &[], (500, 3, 2, false));
    assert_eq!(r.error_code, 42);
    let r = fetch_at(&mut c, 2, m(3), id, &[(0, 0, RENEW)], (500, 3, 0, true));
    assert_eq!(r.error_code, 42);
    // Refused for the partition: RENEW without IsRenewAck, RENEW at v1 (unknown type there).
    let r = fetch_at(&mut c, 2, m(3), id, &[(0, 0, RENEW)], (0, 1, 0, false));
    assert_eq!((r.error_code, ack_code(&r)), (0, 42));
    assert_eq!(acquired(&r).0, vec![(9, 9, 1)]);
    let r = fetch_at(&mut c, 1, m(4), id, &[(0, 0, RENEW)], (0, 1, 0, false));
    assert_eq!((r.error_code, ack_code(&r)), (0, 42));
    let code =
        |r: ShareAcknowledgeResponse| (r.error_code, r.responses[0].partitions[0].error_code);
    assert_eq!(
        code(acknowledge_at(
            &mut c,
            (1, false),
            m(5),
            id,
            &[(0, 0, RENEW)]
        )),
        (0, 42)
    );
    assert_eq!(
        code(acknowledge_at(
            &mut c,
            (2, false),
            m(6),
            id,
            &[(0, 0, RENEW)]
        )),
        (0, 42)
    );
    // IsRenewAck with other types beside RENEW is fine; the answer carries the lock duration
    // (the default 30 s here).
    let r = acknowledge_at(
        &mut c,
        (2, true),
        m(7),
        id,
        &[(0, 0, RENEW), (1, 9, ACCEPT)],
    );
    assert_eq!(r.acquisition_lock_timeout_ms, 30_000);
    assert_eq!(code(r), (0, 0));
    let r = acknowledge_at(&mut c, (2, false), m(8), id, &[(0, 0, ACCEPT)]);
    assert_eq!(code(r), (0, 0));
}

#[test]
fn describe_groups_of_a_share_group_is_group_id_not_found_from_v6() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    c.create_topic("dt", 1);
    heartbeat(&mut c, "dg", "m", 0, Some(&["dt"]));
    let describe = |c: &mut Client, v: i16| -> DescribeGroupsResponse {
        c.call(
            v,
            &DescribeGroupsRequest::default().with_groups(vec![GroupId(s("dg"))]),
        )
    };
    // Before v6: Dead without an error, as Kafka answers.
    let g = &describe(&mut c, 5).groups[0];
    assert_eq!((g.error_code, g.group_state.as_str()), (0, "Dead"));
    assert!(g.members.is_empty());
    let g = &describe(&mut c, 6).groups[0];
    assert_eq!((g.error_code, g.group_state.as_str()), (69, "Dead"));
    assert_eq!(
        g.error_message.as_deref(),
        Some("Group dg is not a classic group.")
    );
}

#[test]
fn a_member_leaving_by_heartbeat_keeps_its_session_until_its_last_acknowledgement() {
    let b = Broker::start(&[]);
    let (mut ca, mut cb) = (b.client(), b.client());
    ca.create_topic("lv", 1);
    let id = topic_id(&mut ca, "lv");
    earliest(&mut ca, "lvg");
    produce(&mut ca, "lv", 3, "r");
    heartbeat(&mut ca, "lvg", "a", 0, Some(&["lv"]));
    heartbeat(&mut cb, "lvg", "b", 0, Some(&["lv"]));
    let r = fetch(&mut ca, "lvg", "a", 0, id, &[]);
    assert_eq!(acquired(&r).0, vec![(0, 2, 1)]);
    // a leaves the group (librdkafka sends its leave heartbeat before its last
    // acknowledgements); its session and its records stay.
    let r = heartbeat(&mut ca, "lvg", "a", -1, None);
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    let r = fetch(&mut cb, "lvg", "b", 0, id, &[]);
    assert_eq!(acquired(&r).0, vec![]);
    // Its ACCEPT of offset 0 still counts; closing its session releases 1-2 at once.
    let r = acknowledge(&mut ca, "lvg", "a", 1, id, &[(0, 0, ACCEPT)]);
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 0)
    );
    let closed = Instant::now();
    let r = acknowledge(&mut ca, "lvg", "a", -1, id, &[]);
    assert_eq!(r.error_code, 0);
    let r = fetch(&mut cb, "lvg", "b", 1, id, &[]);
    assert_eq!(
        acquired(&r),
        (vec![(1, 2, 2)], vec!["r-v1".into(), "r-v2".into()])
    );
    assert!(closed.elapsed() < Duration::from_secs(5));
}
