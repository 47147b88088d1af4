//! Consumer-group APIs at every served version, over TCP with raw kafka-protocol requests
//! against the real binary: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete.

mod common;

use bytes::Bytes;
use common::{Broker, Client};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}
fn gid(x: &str) -> GroupId {
    GroupId(s(x))
}

const FAST: &[&str] = &[
    "group.initial.rebalance.delay.ms=0",
    "group.min.session.timeout.ms=100",
];

fn join_req(v: i16, group: &str, member: &str, instance: Option<&str>) -> JoinGroupRequest {
    let mut r = JoinGroupRequest::default()
        .with_group_id(gid(group))
        .with_session_timeout_ms(10_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(b"meta"))]);
    if v >= 1 {
        r.rebalance_timeout_ms = 10_000;
    }
    if v >= 5 {
        r.group_instance_id = instance.map(s);
    }
    r
}

/// Join until admitted (v4+ first gets MEMBER_ID_REQUIRED with an id to use).
fn join(c: &mut Client, v: i16, group: &str, instance: Option<&str>) -> JoinGroupResponse {
    let r: JoinGroupResponse = c.call(v, &join_req(v, group, "", instance));
    if r.error_code == 79 {
        assert!(v >= 4, "MEMBER_ID_REQUIRED only from v4");
        assert!(!r.member_id.is_empty());
        let member = r.member_id.as_str().to_string();
        return c.call(v, &join_req(v, group, &member, instance));
    }
    r
}

fn sync(
    c: &mut Client,
    v: i16,
    group: &str,
    generation: i32,
    member: &str,
    assignments: Vec<(&str, &[u8])>,
) -> SyncGroupResponse {
    let mut r = SyncGroupRequest::default()
        .with_group_id(gid(group))
        .with_generation_id(generation)
        .with_member_id(s(member))
        .with_assignments(
            assignments
                .into_iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(m))
                        .with_assignment(Bytes::copy_from_slice(a))
                })
                .collect(),
        );
    if v >= 5 {
        r.protocol_type = Some(s("consumer"));
        r.protocol_name = Some(s("range"));
    }
    c.call(v, &r)
}

fn heartbeat(c: &mut Client, v: i16, group: &str, generation: i32, member: &str) -> i16 {
    let r: HeartbeatResponse = c.call(
        v,
        &HeartbeatRequest::default()
            .with_group_id(gid(group))
            .with_generation_id(generation)
            .with_member_id(s(member)),
    );
    r.error_code
}

fn commit(
    c: &mut Client,
    v: i16,
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    offsets: &[(i32, i64)],
) -> Vec<i16> {
    let req = OffsetCommitRequest::default()
        .with_group_id(gid(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(
                offsets
                    .iter()
                    .map(|(p, o)| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(*o)
                            .with_committed_metadata(Some(s(&format!("meta-{o}"))))
                    })
                    .collect(),
            )]);
    let r: OffsetCommitResponse = c.call(v, &req);
    r.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// (partition, offset, metadata) committed for `topic`, at any OffsetFetch version.
fn fetch_offsets(
    c: &mut Client,
    v: i16,
    group: &str,
    topic: Option<&str>,
) -> (i16, Vec<(i32, i64, Option<String>)>) {
    if v >= 8 {
        let g = OffsetFetchRequestGroup::default()
            .with_group_id(gid(group))
            .with_topics(topic.map(|t| {
                vec![OffsetFetchRequestTopics::default()
                    .with_name(TopicName(s(t)))
                    .with_partition_indexes(vec![0, 1, 2])]
            }));
        let r: OffsetFetchResponse = c.call(v, &OffsetFetchRequest::default().with_groups(vec![g]));
        let g = &r.groups[0];
        let out = g
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        p.partition_index,
                        p.committed_offset,
                        p.metadata.as_ref().map(|m| m.to_string()),
                    )
                })
            })
            .collect();
        (g.error_code, out)
    } else {
        let topics = topic.map(|t| {
            vec![OffsetFetchRequestTopic::default()
                .with_name(TopicName(s(t)))
                .with_partition_indexes(vec![0, 1, 2])]
        });
        let r: OffsetFetchResponse = c.call(
            v,
            &OffsetFetchRequest::default()
                .with_group_id(gid(group))
                .with_topics(topics),
        );
        let out = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        p.partition_index,
                        p.committed_offset,
                        p.metadata.as_ref().map(|m| m.to_string()),
                    )
                })
            })
            .collect();
        (r.error_code, out)
    }
}

fn describe(c: &mut Client, v: i16, group: &str) -> describe_groups_response::DescribedGroup {
    let r: DescribeGroupsResponse = c.call(
        v,
        &DescribeGroupsRequest::default().with_groups(vec![gid(group)]),
    );
    r.groups[0].clone()
}

#[test]
fn find_coordinator_every_version() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    for v in 0..=6i16 {
        let r: FindCoordinatorResponse = if v >= 4 {
            c.call(
                v,
                &FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g1"), s("g2")]),
            )
        } else {
            c.call(v, &FindCoordinatorRequest::default().with_key(s("g1")))
        };
        if v >= 4 {
            assert_eq!(r.coordinators.len(), 2);
            for co in &r.coordinators {
                assert_eq!(
                    (co.error_code, co.node_id.0, co.port as u16),
                    (0, 1, b.port),
                    "v{v}"
                );
                assert_eq!(co.host.as_str(), "127.0.0.1");
            }
        } else {
            assert_eq!(
                (r.error_code, r.node_id.0, r.port as u16),
                (0, 1, b.port),
                "v{v}"
            );
        }
    }
    // This node is also the transaction coordinator; an empty transactional id is invalid.
    let r: FindCoordinatorResponse = c.call(
        3,
        &FindCoordinatorRequest::default()
            .with_key(s("tx"))
            .with_key_type(1),
    );
    assert_eq!((r.error_code, r.node_id.0, r.port as u16), (0, 1, b.port));
    let r: FindCoordinatorResponse = c.call(
        3,
        &FindCoordinatorRequest::default()
            .with_key(s(""))
            .with_key_type(1),
    );
    assert_eq!(r.error_code, 42);
}

#[test]
fn single_member_lifecycle_every_version() {
    let b = Broker::start(FAST);
    let mut c = b.client();
    c.create_topic("t", 3);
    for v in 0..=9i16 {
        let group = format!("life-{v}");
        let sv = v.min(5);
        let hv = v.min(4);
        let lv = v.min(5);
        let cv = v.clamp(2, 9);
        let fv = v.clamp(1, 9);
        let dv = v.min(6);
        let j = join(&mut c, v, &group, None);
        assert_eq!(j.error_code, 0, "join v{v}");
        assert_eq!(j.generation_id, 1);
        assert_eq!(j.leader, j.member_id, "the only member leads");
        assert_eq!(j.members.len(), 1);
        assert_eq!(j.members[0].metadata, Bytes::from_static(b"meta"));
        assert_eq!(j.protocol_name.as_ref().map(|p| p.as_str()), Some("range"));
        let me = j.member_id.as_str().to_string();
        let sr = sync(&mut c, sv, &group, 1, &me, vec![(&me, b"assigned")]);
        assert_eq!(sr.error_code, 0, "sync v{sv}");
        assert_eq!(sr.assignment, Bytes::from_static(b"assigned"));
        assert_eq!(heartbeat(&mut c, hv, &group, 1, &me), 0, "heartbeat v{hv}");
        assert_eq!(
            heartbeat(&mut c, hv, &group, 7, &me),
            22,
            "ILLEGAL_GENERATION v{hv}"
        );
        assert_eq!(
            heartbeat(&mut c, hv, &group, 1, "nobody"),
            25,
            "UNKNOWN_MEMBER_ID v{hv}"
        );
        assert_eq!(
            commit(&mut c, cv, &group, 1, &me, "t", &[(0, 10), (1, 20)]),
            vec![0, 0],
            "commit v{cv}"
        );
        assert_eq!(
            commit(&mut c, cv, &group, 0, &me, "t", &[(0, 11)]),
            vec![22],
            "stale generation v{cv}"
        );
        let (err, offs) = fetch_offsets(&mut c, fv, &group, Some("t"));
        assert_eq!(err, 0);
        let pos: Vec<(i32, i64)> = offs.iter().map(|(p, o, _)| (*p, *o)).collect();
        assert_eq!(pos, vec![(0, 10), (1, 20), (2, -1)], "fetch v{fv}");
        assert_eq!(offs[0].2.as_deref(), Some("meta-10"));
        assert_eq!(offs[1].2.as_deref(), Some("meta-20"));
        let d = describe(&mut c, dv, &group);
        assert_eq!(
            (
                d.error_code,
                d.group_state.as_str(),
                d.protocol_type.as_str(),
                d.protocol_data.as_str()
            ),
            (0, "Stable", "consumer", "range"),
            "describe v{dv}"
        );
        assert_eq!(d.members.len(), 1);
        assert_eq!(
            d.members[0].member_assignment,
            Bytes::from_static(b"assigned")
        );
        assert_eq!(d.members[0].client_id.as_str(), "skua-test");
        assert_eq!(d.members[0].client_host.as_str(), "/127.0.0.1");
        let leave = if lv >= 3 {
            LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_members(vec![MemberIdentity::default().with_member_id(s(&me))])
        } else {
            LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_member_id(s(&me))
        };
        let r: LeaveGroupResponse = c.call(lv, &leave);
        assert_eq!(r.error_code, 0, "leave v{lv}");
        if lv >= 3 {
            assert_eq!(r.members[0].error_code, 0);
        }
        assert_eq!(describe(&mut c, dv, &group).group_state.as_str(), "Empty");
    }
}

#[test]
fn join_errors() {
    let b = Broker::start(FAST);
    let mut c = b.client();
    let r: JoinGroupResponse = c.call(5, &join_req(5, "", "", None));
    assert_eq!(r.error_code, 24, "INVALID_GROUP_ID");
    let r: JoinGroupResponse = c.call(5, &join_req(5, "g", "", None).with_session_timeout_ms(10));
    assert_eq!(r.error_code, 26, "INVALID_SESSION_TIMEOUT");
    let r: JoinGroupResponse = c.call(5, &join_req(5, "g", "who-is-this", None));
    assert_eq!(r.error_code, 25, "UNKNOWN_MEMBER_ID");
}

#[test]
fn second_member_triggers_rebalance() {
    let b = Broker::start(FAST);
    let mut a = b.client();
    let ja = join(&mut a, 7, "pair", None);
    let ma = ja.member_id.as_str().to_string();
    assert_eq!(
        sync(&mut a, 5, "pair", 1, &ma, vec![(&ma, b"all")]).error_code,
        0
    );
    let addr = b.addr();
    let other = std::thread::spawn(move || {
        let mut bc = Client::connect(&addr);
        join(&mut bc, 7, "pair", None)
    });
    // A learns of the rebalance through its heartbeat, then rejoins.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let e = heartbeat(&mut a, 4, "pair", 1, &ma);
        if e == 27 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no REBALANCE_IN_PROGRESS (last {e})"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ja2: JoinGroupResponse = a.call(7, &join_req(7, "pair", &ma, None));
    let jb = other.join().unwrap();
    assert_eq!((ja2.error_code, jb.error_code), (0, 0));
    assert_eq!((ja2.generation_id, jb.generation_id), (2, 2));
    assert_eq!(ja2.leader, jb.leader);
    let (leader, follower) = if ja2.leader == ja2.member_id {
        (&ja2, &jb)
    } else {
        (&jb, &ja2)
    };
    assert_eq!(leader.members.len(), 2);
    assert!(follower.members.is_empty());
}

#[test]
fn list_delete_and_offset_delete_every_version() {
    let b = Broker::start(FAST);
    let mut c = b.client();
    c.create_topic("t", 3);
    // An empty group with offsets (simple commit), and a live group.
    assert_eq!(commit(&mut c, 9, "simple", -1, "", "t", &[(0, 5)]), vec![0]);
    let j = join(&mut c, 9, "live", None);
    let me = j.member_id.as_str().to_string();
    sync(&mut c, 5, "live", 1, &me, vec![(&me, b"x")]);
    for v in 0..=5i16 {
        let mut req = ListGroupsRequest::default();
        if v >= 4 {
            req.states_filter = vec![s("stable")];
        }
        let r: ListGroupsResponse = c.call(v, &req);
        assert_eq!(r.error_code, 0);
        let names: Vec<&str> = r.groups.iter().map(|g| g.group_id.0.as_str()).collect();
        if v >= 4 {
            assert_eq!(names, vec!["live"], "state filter v{v}");
            assert_eq!(r.groups[0].group_state.as_str(), "Stable");
        } else {
            assert!(
                names.contains(&"live") && names.contains(&"simple"),
                "v{v}: {names:?}"
            );
        }
    }
    // OffsetDelete on the empty group removes the offset.
    let od = OffsetDeleteRequest::default()
        .with_group_id(gid("simple"))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![
                OffsetDeleteRequestPartition::default().with_partition_index(0)
            ])]);
    let r: OffsetDeleteResponse = c.call(0, &od);
    assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
    assert_eq!(fetch_offsets(&mut c, 8, "simple", Some("t")).1[0].1, -1);
    for v in 0..=2i16 {
        let r: DeleteGroupsResponse = c.call(
            v,
            &DeleteGroupsRequest::default().with_groups_names(vec![gid("live"), gid("nope")]),
        );
        assert_eq!(r.results[0].error_code, 68, "NON_EMPTY_GROUP v{v}");
        assert_eq!(r.results[1].error_code, 69, "GROUP_ID_NOT_FOUND v{v}");
    }
    let r: DeleteGroupsResponse = c.call(
        2,
        &DeleteGroupsRequest::default().with_groups_names(vec![gid("simple")]),
    );
    assert_eq!(r.results[0].error_code, 0);
    assert_eq!(describe(&mut c, 5, "simple").group_state.as_str(), "Dead");
}

#[test]
fn groups_and_offsets_survive_restart_and_kill_9() {
    let mut b = Broker::start(FAST);
    let mut c = b.client();
    c.create_topic("t", 3);
    let j = join(&mut c, 9, "durable", None);
    let me = j.member_id.as_str().to_string();
    sync(&mut c, 5, "durable", 1, &me, vec![(&me, b"a")]);
    assert_eq!(
        commit(&mut c, 9, "durable", 1, &me, "t", &[(0, 100), (2, 300)]),
        vec![0, 0]
    );
    drop(c);
    assert!(b.stop().success());
    b.spawn();
    let mut c = b.client();
    let (_, offs) = fetch_offsets(&mut c, 9, "durable", None);
    assert_eq!(
        offs.iter().map(|(p, o, _)| (*p, *o)).collect::<Vec<_>>(),
        vec![(0, 100), (2, 300)]
    );
    let d = describe(&mut c, 5, "durable");
    assert_eq!(d.protocol_type.as_str(), "consumer");
    assert_eq!(
        commit(&mut c, 9, "durable", -1, "", "t", &[(1, 200)]).len(),
        1
    );
    drop(c);
    b.kill9();
    b.spawn();
    let mut c = b.client();
    let (_, offs) = fetch_offsets(&mut c, 9, "durable", None);
    let got: Vec<(i32, i64)> = offs.iter().map(|(p, o, _)| (*p, *o)).collect();
    assert!(
        got.contains(&(0, 100)) && got.contains(&(2, 300)),
        "{got:?}"
    );
}

/// Kafka 4 answers UNKNOWN_TOPIC_OR_PARTITION for a committed partition the metadata image
/// does not hold (unknown topic, or an index past the topic's partition count), per partition,
/// and commits the others; nothing is stored for the unknown ones.
#[test]
fn offset_commit_to_unknown_topic_or_partition() {
    let b = Broker::start(FAST);
    let mut c = b.client();
    c.create_topic("known", 2);
    for v in [2i16, 5, 8, 9] {
        let group = format!("unk-{v}");
        let req = OffsetCommitRequest::default()
            .with_group_id(gid(&group))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s("known")))
                    .with_partitions(
                        [0, 1, 2, -1]
                            .iter()
                            .map(|&p| {
                                OffsetCommitRequestPartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(7)
                            })
                            .collect(),
                    ),
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s("nosuch")))
                    .with_partitions(vec![OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(3)]),
            ]);
        let r: OffsetCommitResponse = c.call(v, &req);
        let mut got: Vec<(String, i32, i16)> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.name.0.to_string(), p.partition_index, p.error_code))
            })
            .collect();
        got.sort();
        let want: Vec<(String, i32, i16)> = vec![
            ("known".into(), -1, 3),
            ("known".into(), 0, 0),
            ("known".into(), 1, 0),
            ("known".into(), 2, 3),
            ("nosuch".into(), 0, 3),
        ];
        assert_eq!(got, want, "v{v}");
        let (err, offs) = fetch_offsets(&mut c, 8, &group, Some("known"));
        assert_eq!(err, 0);
        let offs: Vec<(i32, i64)> = offs.iter().map(|(p, o, _)| (*p, *o)).collect();
        assert_eq!(offs, vec![(0, 7), (1, 7), (2, -1)], "v{v}");
        // Only unknown partitions: answered without the coordinator, nothing created.
        let r: OffsetCommitResponse = c.call(
            v,
            &OffsetCommitRequest::default()
                .with_group_id(gid("only-unknown"))
                .with_generation_id_or_member_epoch(-1)
                .with_topics(vec![OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s("nosuch")))
                    .with_partitions(vec![OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(3)])]),
        );
        assert_eq!(r.topics[0].partitions[0].error_code, 3, "v{v}");
    }
    assert_eq!(
        describe(&mut c, 5, "only-unknown").group_state.as_str(),
        "Dead"
    );
}
