//! OffsetCommit v10 and OffsetFetch v10 (Kafka 4.1+, KIP-848: topics by id) over TCP against
//! the real binary. The crate cannot encode these requests: they are written with skua's own
//! hand encoders (property-tested against its decoders) and the answers decoded by the crate,
//! which knows the v10 responses. Offsets committed by id read back by id (v10) and by name
//! (v9, v1) and the other way round; unknown and zero ids are UNKNOWN_TOPIC_ID, partitions
//! past the topic's count UNKNOWN_TOPIC_OR_PARTITION; the classic protocol's generation
//! checks and KIP-848's member epoch checks apply at v10 as at v9.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::{Broker, Client};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use skua::protocol::legacy::requests::{encode_offset_commit_v10, encode_offset_fetch_v10};
use uuid::Uuid;

const FAST: &[&str] = &[
    "group.initial.rebalance.delay.ms=0",
    "group.min.session.timeout.ms=100",
    "group.consumer.heartbeat.interval.ms=300",
    "group.consumer.min.heartbeat.interval.ms=100",
    "group.consumer.session.timeout.ms=4000",
    "group.consumer.min.session.timeout.ms=1000",
];

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const UNKNOWN_TOPIC_ID: i16 = 100;
const STALE_MEMBER_EPOCH: i16 = 113;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn topic_id(c: &mut Client, topic: &str) -> Uuid {
    let req = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(TopicName(s(topic))))
    ]));
    let r: MetadataResponse = c.call(12, &req);
    assert_eq!(r.topics[0].error_code, 0);
    r.topics[0].topic_id
}

/// (topic id, partition, error) of a v10 commit, sorted.
type CommitResult = Vec<(Uuid, i32, i16)>;

/// Commit at v10: `offsets` are (topic id, partition, offset) with metadata `m<offset>`.
fn commit_v10(
    c: &mut Client,
    group: &str,
    generation_or_epoch: i32,
    member: &str,
    offsets: &[(Uuid, i32, i64)],
) -> CommitResult {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for &(id, p, o) in offsets {
        let part = OffsetCommitRequestPartition::default()
            .with_partition_index(p)
            .with_committed_offset(o)
            .with_committed_leader_epoch(0)
            .with_committed_metadata(Some(s(&format!("m{o}"))));
        match topics.iter_mut().find(|t| t.topic_id == id) {
            Some(t) => t.partitions.push(part),
            None => topics.push(
                OffsetCommitRequestTopic::default()
                    .with_topic_id(id)
                    .with_partitions(vec![part]),
            ),
        }
    }
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(generation_or_epoch)
        .with_member_id(s(member))
        .with_topics(topics);
    let mut body = c.call_body(ApiKey::OffsetCommit, 10, &encode_offset_commit_v10(&req));
    let r = OffsetCommitResponse::decode(&mut body, 10).unwrap();
    assert!(body.is_empty(), "trailing bytes");
    assert_eq!(r.throttle_time_ms, 0);
    let mut out: CommitResult = r
        .topics
        .iter()
        .flat_map(|t| {
            assert!(t.name.0.is_empty(), "v10 names topics by id only");
            t.partitions
                .iter()
                .map(|p| (t.topic_id, p.partition_index, p.error_code))
        })
        .collect();
    out.sort();
    out
}

/// Committed (partition → (offset, leader epoch, metadata, error)) per topic id.
type Fetched = BTreeMap<Uuid, BTreeMap<i32, (i64, i32, Option<String>, i16)>>;

/// Fetch at v10 for one group: `topics` None for all, else (id, partitions). The group's
/// error code and what it answered.
fn fetch_v10(
    c: &mut Client,
    group: &str,
    member: Option<(&str, i32)>,
    topics: Option<&[(Uuid, &[i32])]>,
) -> (i16, Fetched) {
    let g = OffsetFetchRequestGroup::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(member.map(|(m, _)| s(m)))
        .with_member_epoch(member.map_or(-1, |(_, e)| e))
        .with_topics(topics.map(|ts| {
            ts.iter()
                .map(|(id, parts)| {
                    OffsetFetchRequestTopics::default()
                        .with_topic_id(*id)
                        .with_partition_indexes(parts.to_vec())
                })
                .collect()
        }));
    let req = OffsetFetchRequest::default().with_groups(vec![g]);
    let mut body = c.call_body(ApiKey::OffsetFetch, 10, &encode_offset_fetch_v10(&req));
    let r = OffsetFetchResponse::decode(&mut body, 10).unwrap();
    assert!(body.is_empty(), "trailing bytes");
    assert_eq!(r.groups.len(), 1);
    let g = &r.groups[0];
    assert_eq!(g.group_id.0.as_str(), group);
    let mut out = Fetched::new();
    for t in &g.topics {
        assert!(t.name.0.is_empty(), "v10 names topics by id only");
        let parts = out.entry(t.topic_id).or_default();
        for p in &t.partitions {
            parts.insert(
                p.partition_index,
                (
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref().map(|m| m.to_string()),
                    p.error_code,
                ),
            );
        }
    }
    (g.error_code, out)
}

/// (partition, offset, metadata) by name at v9 (groups) or v1 (one group).
fn fetch_by_name(c: &mut Client, v: i16, group: &str, topic: &str) -> Vec<(i32, i64, String)> {
    let topics: Vec<(i32, i64, Option<StrBytes>)> = if v >= 8 {
        let g = OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(TopicName(s(topic)))
                .with_partition_indexes(vec![0, 1, 2])]));
        let r: OffsetFetchResponse = c.call(v, &OffsetFetchRequest::default().with_groups(vec![g]));
        assert_eq!(r.groups[0].error_code, 0);
        r.groups[0].topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.committed_offset, p.metadata.clone()))
            .collect()
    } else {
        let r: OffsetFetchResponse = c.call(
            v,
            &OffsetFetchRequest::default()
                .with_group_id(GroupId(s(group)))
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_partition_indexes(vec![0, 1, 2])])),
        );
        r.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.committed_offset, p.metadata.clone()))
            .collect()
    };
    topics
        .into_iter()
        .map(|(p, o, m)| (p, o, m.map(|m| m.to_string()).unwrap_or_default()))
        .collect()
}

#[test]
fn api_versions_advertises_offset_commit_and_fetch_up_to_v10() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let r: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default());
    let range = |key: ApiKey| {
        let k = r
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .expect("advertised");
        (k.min_version, k.max_version)
    };
    assert_eq!(range(ApiKey::OffsetCommit), (0, 10));
    assert_eq!(range(ApiKey::OffsetFetch), (0, 10));
}

/// A simple (group-less) commit by id reads back by id, by name at v9 and v1, and a v9
/// commit by name reads back by id; unknown and zero ids and missing partitions get their
/// errors, per partition, and nothing is stored for them.
#[test]
fn commit_by_topic_id_reads_back_by_id_and_by_name() {
    let b = Broker::start(FAST);
    let mut c = b.client();
    c.create_topic("ids", 3);
    c.create_topic("other", 1);
    let id = topic_id(&mut c, "ids");
    let other = topic_id(&mut c, "other");
    let unknown = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    assert_ne!(id, other);

    let got = commit_v10(
        &mut c,
        "g10",
        -1,
        "",
        &[
            (id, 0, 5),
            (id, 1, 7),
            (id, 9, 1),
            (unknown, 0, 1),
            (unknown, 1, 2),
            (Uuid::nil(), 0, 3),
            (other, 0, 42),
        ],
    );
    let mut want = vec![
        (id, 0, 0),
        (id, 1, 0),
        (id, 9, UNKNOWN_TOPIC_OR_PARTITION),
        (unknown, 0, UNKNOWN_TOPIC_ID),
        (unknown, 1, UNKNOWN_TOPIC_ID),
        (Uuid::nil(), 0, UNKNOWN_TOPIC_ID),
        (other, 0, 0),
    ];
    want.sort();
    assert_eq!(got, want);

    // By id at v10: the committed ones with leader epoch and metadata, -1 for the rest;
    // an unknown id: UNKNOWN_TOPIC_ID for each partition asked.
    let (err, got) = fetch_v10(
        &mut c,
        "g10",
        None,
        Some(&[(id, &[0, 1, 2]), (unknown, &[4])]),
    );
    assert_eq!(err, 0);
    let want: Fetched = [
        (
            id,
            [
                (0, (5, 0, Some("m5".to_string()), 0)),
                (1, (7, 0, Some("m7".to_string()), 0)),
                (2, (-1, -1, Some(String::new()), 0)),
            ]
            .into(),
        ),
        (
            unknown,
            [(4, (-1, -1, Some(String::new()), UNKNOWN_TOPIC_ID))].into(),
        ),
    ]
    .into();
    assert_eq!(got, want);

    // All of the group's topics at v10: each by its id, only what was committed.
    let (err, got) = fetch_v10(&mut c, "g10", None, None);
    assert_eq!(err, 0);
    let all: BTreeMap<Uuid, Vec<(i32, i64)>> = got
        .iter()
        .map(|(t, ps)| (*t, ps.iter().map(|(p, v)| (*p, v.0)).collect()))
        .collect();
    assert_eq!(
        all,
        [(id, vec![(0, 5), (1, 7)]), (other, vec![(0, 42)])].into()
    );

    // The same offsets by name, at v9 and at v1.
    for v in [9, 1] {
        assert_eq!(
            fetch_by_name(&mut c, v, "g10", "ids"),
            vec![
                (0, 5, "m5".to_string()),
                (1, 7, "m7".to_string()),
                (2, -1, String::new())
            ],
            "v{v}"
        );
    }

    // A v9 commit by name reads back by id at v10.
    let r: OffsetCommitResponse = c.call(
        9,
        &OffsetCommitRequest::default()
            .with_group_id(GroupId(s("g10")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("ids")))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(2)
                    .with_committed_offset(11)
                    .with_committed_leader_epoch(3)])]),
    );
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let (_, got) = fetch_v10(&mut c, "g10", None, Some(&[(id, &[2])]));
    // (Null metadata is stored as "", as Kafka's OffsetAndMetadata.NoMetadata.)
    assert_eq!(got[&id][&2], (11, 3, Some(String::new()), 0));

    // Only unknown ids: answered without the group coordinator, no group created.
    let got = commit_v10(&mut c, "g10-none", -1, "", &[(unknown, 0, 1)]);
    assert_eq!(got, vec![(unknown, 0, UNKNOWN_TOPIC_ID)]);
    let r: ListGroupsResponse = c.call(4, &ListGroupsRequest::default());
    assert!(
        r.groups.iter().all(|g| g.group_id.0.as_str() != "g10-none"),
        "{r:?}"
    );
}

/// A classic group's generation is checked at v10 as at v9: the current member and
/// generation commit, a stale generation is ILLEGAL_GENERATION, an unknown member
/// UNKNOWN_MEMBER_ID; nothing is stored for the refused ones.
#[test]
fn classic_group_generation_checks_at_v10() {
    let b = Broker::start(FAST);
    let mut c = b.client();
    c.create_topic("cls", 2);
    let id = topic_id(&mut c, "cls");
    let join = |c: &mut Client, member: &str| -> JoinGroupResponse {
        c.call(
            5,
            &JoinGroupRequest::default()
                .with_group_id(GroupId(s("g-cls")))
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(10_000)
                .with_member_id(s(member))
                .with_protocol_type(s("consumer"))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(s("range"))
                    .with_metadata(Bytes::from_static(b"meta"))]),
        )
    };
    let r = join(&mut c, "");
    assert_eq!(r.error_code, 79, "MEMBER_ID_REQUIRED");
    let member = r.member_id.to_string();
    let r = join(&mut c, &member);
    assert_eq!(r.error_code, 0);
    let generation = r.generation_id;
    assert_eq!(generation, 1);
    let r: SyncGroupResponse = c.call(
        5,
        &SyncGroupRequest::default()
            .with_group_id(GroupId(s("g-cls")))
            .with_generation_id(generation)
            .with_member_id(s(&member))
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")))
            .with_assignments(vec![SyncGroupRequestAssignment::default()
                .with_member_id(s(&member))
                .with_assignment(Bytes::from_static(b"a"))]),
    );
    assert_eq!(r.error_code, 0);

    let got = commit_v10(&mut c, "g-cls", generation, &member, &[(id, 0, 10)]);
    assert_eq!(got, vec![(id, 0, 0)]);
    let got = commit_v10(&mut c, "g-cls", generation + 1, &member, &[(id, 1, 20)]);
    assert_eq!(got, vec![(id, 1, ILLEGAL_GENERATION)]);
    let got = commit_v10(&mut c, "g-cls", generation, "nobody", &[(id, 1, 30)]);
    assert_eq!(got, vec![(id, 1, UNKNOWN_MEMBER_ID)]);
    let (err, got) = fetch_v10(&mut c, "g-cls", None, Some(&[(id, &[0, 1])]));
    assert_eq!(err, 0);
    let offsets: Vec<(i32, i64)> = got[&id].iter().map(|(p, v)| (*p, v.0)).collect();
    assert_eq!(offsets, vec![(0, 10), (1, -1)]);
}

/// A KIP-848 member commits and fetches at v10 with its member epoch: a stale epoch is
/// STALE_MEMBER_EPOCH (per partition for a commit, for the group for a fetch), an unknown
/// member UNKNOWN_MEMBER_ID.
#[test]
fn consumer_group_member_epoch_checks_at_v10() {
    let b = Broker::start(FAST);
    let mut c = b.client();
    c.create_topic("kip848", 2);
    let id = topic_id(&mut c, "kip848");
    let r: ConsumerGroupHeartbeatResponse = c.call(
        1,
        &ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("g-848")))
            .with_member_id(s("member-a"))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(5000)
            .with_subscribed_topic_names(Some(vec![TopicName(s("kip848"))]))
            .with_topic_partitions(Some(vec![])),
    );
    assert_eq!(r.error_code, 0);
    let epoch = r.member_epoch;
    assert_eq!(epoch, 1);

    let got = commit_v10(
        &mut c,
        "g-848",
        epoch,
        "member-a",
        &[(id, 0, 4), (id, 1, 6)],
    );
    assert_eq!(got, vec![(id, 0, 0), (id, 1, 0)]);
    let got = commit_v10(&mut c, "g-848", epoch - 1, "member-a", &[(id, 0, 9)]);
    assert_eq!(got, vec![(id, 0, STALE_MEMBER_EPOCH)]);
    let got = commit_v10(&mut c, "g-848", epoch, "member-b", &[(id, 0, 9)]);
    assert_eq!(got, vec![(id, 0, UNKNOWN_MEMBER_ID)]);

    let (err, got) = fetch_v10(
        &mut c,
        "g-848",
        Some(("member-a", epoch)),
        Some(&[(id, &[0, 1])]),
    );
    assert_eq!(err, 0);
    let offsets: Vec<(i32, i64)> = got[&id].iter().map(|(p, v)| (*p, v.0)).collect();
    assert_eq!(offsets, vec![(0, 4), (1, 6)]);
    let (err, got) = fetch_v10(
        &mut c,
        "g-848",
        Some(("member-a", epoch + 5)),
        Some(&[(id, &[0])]),
    );
    assert_eq!((err, got.len()), (STALE_MEMBER_EPOCH, 0));
    let (err, _) = fetch_v10(&mut c, "g-848", Some(("member-b", epoch)), None);
    assert_eq!(err, UNKNOWN_MEMBER_ID);

    // ConsumerGroupDescribe at both versions: the member and its epoch; v1 adds its type.
    for v in 0..=1i16 {
        let d: ConsumerGroupDescribeResponse = c.call(
            v,
            &ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g-848"))]),
        );
        let g = &d.groups[0];
        assert_eq!((g.error_code, g.group_id.0.as_str()), (0, "g-848"), "v{v}");
        assert_eq!(g.members.len(), 1);
        let m = &g.members[0];
        assert_eq!(
            (m.member_id.as_str(), m.member_epoch),
            ("member-a", epoch),
            "v{v}"
        );
        assert_eq!(m.member_type, if v == 0 { -1 } else { 1 }, "v{v}");
    }
}

/// Garbage after a valid v10 header closes the connection (as Kafka does for a request it
/// cannot parse); the broker keeps serving others.
#[test]
fn malformed_v10_body_closes_the_connection() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let mut frame = vec![];
    let body: &[u8] = &[
        0, 8, 0, 10, 0, 0, 0, 1, 0, 1, b'x',
        0, // header v2: key, version, corr, client id, tags
        0x05, b'g', // a group id claiming 4 bytes with 1 left
    ];
    frame.extend_from_slice(&(body.len() as i32).to_be_bytes());
    frame.extend_from_slice(body);
    c.send_raw(&frame);
    assert!(c.read_frame().is_none(), "connection closed");
    let mut c = b.client();
    let r: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default());
    assert_eq!(r.error_code, 0);
}
