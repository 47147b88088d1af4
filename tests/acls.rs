//! ACLs over TCP against the real binary (issue 11): CreateAcls / DescribeAcls / DeleteAcls
//! round-trip and survive a restart; with `authorizer.class.name` set, a principal without
//! ACLs (User:ANONYMOUS on the PLAINTEXT listener) gets Kafka's exact authorization errors on
//! produce, fetch, group, transaction and admin APIs and sees no topics in Metadata; an
//! ALLOW makes the request work; a DENY wins over it. Without an authorizer the ACL APIs
//! answer SECURITY_DISABLED.

mod common;

use common::{batch, Broker, Client};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

const STANDARD: &str =
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer";

// Kafka's codes.
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const TXN_ID: i8 = 5;
const ANY: i8 = 1;
const MATCH: i8 = 2;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const ALL: i8 = 2;
const READ: i8 = 3;
const WRITE: i8 = 4;
const ALTER: i8 = 7;
const DESCRIBE: i8 = 8;
const DENY: i8 = 2;
const ALLOW: i8 = 3;

const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const GROUP_AUTHORIZATION_FAILED: i16 = 30;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const INVALID_REQUEST: i16 = 42;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
const SECURITY_DISABLED: i16 = 54;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn acl(rt: i8, name: &str, pt: i8, op: i8, perm: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(rt)
        .with_resource_name(s(name))
        .with_resource_pattern_type(pt)
        .with_principal(s("User:ANONYMOUS"))
        .with_host(s("*"))
        .with_operation(op)
        .with_permission_type(perm)
}

fn create_acls(c: &mut Client, acls: Vec<AclCreation>) -> Vec<i16> {
    let r: CreateAclsResponse = c.call(3, &CreateAclsRequest::default().with_creations(acls));
    r.results.iter().map(|r| r.error_code).collect()
}

/// (error code, [(resource type, name, pattern type, principal, host, op, permission)]).
type Described = (i16, Vec<(i8, String, i8, String, String, i8, i8)>);

fn describe_acls(c: &mut Client, rt: i8, name: Option<&str>, pt: i8) -> Described {
    let req = DescribeAclsRequest::default()
        .with_resource_type_filter(rt)
        .with_resource_name_filter(name.map(s))
        .with_pattern_type_filter(pt)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(ANY)
        .with_permission_type(ANY);
    let r: DescribeAclsResponse = c.call(3, &req);
    let mut out = Vec::new();
    for res in &r.resources {
        for a in &res.acls {
            out.push((
                res.resource_type,
                res.resource_name.to_string(),
                res.pattern_type,
                a.principal.to_string(),
                a.host.to_string(),
                a.operation,
                a.permission_type,
            ));
        }
    }
    out.sort();
    (r.error_code, out)
}

fn delete_acls(c: &mut Client, rt: i8, name: Option<&str>, pt: i8, op: i8) -> (i16, usize) {
    let req = DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()
        .with_resource_type_filter(rt)
        .with_resource_name_filter(name.map(s))
        .with_pattern_type_filter(pt)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(op)
        .with_permission_type(ANY)]);
    let r: DeleteAclsResponse = c.call(3, &req);
    (
        r.filter_results[0].error_code,
        r.filter_results[0].matching_acls.len(),
    )
}

fn create_topic(c: &mut Client, name: &str) -> i16 {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(name)))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = c.call(7, &req);
    r.topics[0].error_code
}

fn produce(c: &mut Client, topic: &str, tag: &str) -> i16 {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(
                    2,
                    tag,
                    1_700_000_000_000,
                    Compression::None,
                )))])]);
    let r: ProduceResponse = c.call(9, &req);
    r.responses[0].partition_responses[0].error_code
}

/// (error code, high watermark, has records).
fn fetch(c: &mut Client, topic: &str) -> (i16, i64, bool) {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(s(topic)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = c.call(12, &req);
    let p = &r.responses[0].partitions[0];
    (
        p.error_code,
        p.high_watermark,
        p.records.as_ref().is_some_and(|r| !r.is_empty()),
    )
}

/// Metadata of all topics: names, and the cluster's authorized operations.
fn metadata_all(c: &mut Client) -> (Vec<String>, i32) {
    let req = MetadataRequest::default()
        .with_topics(None)
        .with_include_cluster_authorized_operations(true);
    let r: MetadataResponse = c.call(9, &req);
    let names = r
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect();
    (names, r.cluster_authorized_operations)
}

fn metadata_named(c: &mut Client, topic: &str) -> (i16, i32) {
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(TopicName(s(topic))))
        ]))
        .with_allow_auto_topic_creation(false)
        .with_include_topic_authorized_operations(true);
    let r: MetadataResponse = c.call(9, &req);
    (
        r.topics[0].error_code,
        r.topics[0].topic_authorized_operations,
    )
}

fn find_group_coordinator(c: &mut Client, group: &str) -> i16 {
    let req = FindCoordinatorRequest::default()
        .with_key(s(group))
        .with_key_type(0);
    let r: FindCoordinatorResponse = c.call(3, &req);
    r.error_code
}

fn join(c: &mut Client, group: &str) -> i16 {
    let req = JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(s(""))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(bytes::Bytes::new())]);
    let r: JoinGroupResponse = c.call(5, &req);
    r.error_code
}

fn init_producer_id(c: &mut Client, txn: Option<&str>) -> i16 {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(txn.map(|t| TransactionalId(s(t))))
        .with_transaction_timeout_ms(10_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r: InitProducerIdResponse = c.call(4, &req);
    r.error_code
}

#[test]
fn acl_apis_answer_security_disabled_without_an_authorizer() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    assert_eq!(
        create_acls(&mut c, vec![acl(TOPIC, "t", LITERAL, READ, ALLOW)]),
        vec![SECURITY_DISABLED]
    );
    assert_eq!(describe_acls(&mut c, ANY, None, ANY).0, SECURITY_DISABLED);
    assert_eq!(
        delete_acls(&mut c, ANY, None, ANY, ANY).0,
        SECURITY_DISABLED
    );
    // And nothing is refused.
    assert_eq!(create_topic(&mut c, "open"), 0);
    assert_eq!(produce(&mut c, "open", "a"), 0);
}

#[test]
fn an_unknown_authorizer_class_is_a_start_up_error() {
    let out = std::process::Command::new(common::cluster::skua_bin())
        .args([
            "--set",
            "authorizer.class.name=com.example.Nope",
            "--data-dir",
        ])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authorizer.class.name"), "{err}");
}

#[test]
fn acls_round_trip_persist_and_are_enforced() {
    // Phase 1: User:ANONYMOUS is a super user: set things up.
    let mut b = Broker::start(&[STANDARD, "super.users=User:admin;User:ANONYMOUS"]);
    let mut c = b.client();
    assert_eq!(create_topic(&mut c, "t"), 0);
    assert_eq!(create_topic(&mut c, "hidden"), 0);
    assert_eq!(produce(&mut c, "t", "one"), 0);
    let mut bad = acl(TOPIC, "t", MATCH, READ, ALLOW);
    bad.resource_pattern_type = MATCH;
    let mut bad_principal = acl(TOPIC, "t", LITERAL, READ, ALLOW);
    bad_principal.principal = s("ANONYMOUS");
    assert_eq!(
        create_acls(
            &mut c,
            vec![
                acl(CLUSTER, "kafka-cluster", LITERAL, ALTER, ALLOW),
                acl(CLUSTER, "kafka-cluster", LITERAL, DESCRIBE, ALLOW),
                bad,
                bad_principal,
                // A duplicate is a success and stores nothing more.
                acl(CLUSTER, "kafka-cluster", LITERAL, ALTER, ALLOW),
            ]
        ),
        vec![0, 0, INVALID_REQUEST, INVALID_REQUEST, 0]
    );
    let cluster_acls = vec![
        (
            CLUSTER,
            "kafka-cluster".to_string(),
            LITERAL,
            "User:ANONYMOUS".to_string(),
            "*".to_string(),
            ALTER,
            ALLOW,
        ),
        (
            CLUSTER,
            "kafka-cluster".to_string(),
            LITERAL,
            "User:ANONYMOUS".to_string(),
            "*".to_string(),
            DESCRIBE,
            ALLOW,
        ),
    ];
    assert_eq!(
        describe_acls(&mut c, ANY, None, ANY),
        (0, cluster_acls.clone())
    );
    drop(c);

    // Phase 2: restart without the super user: the ACLs are still there, and enforced.
    b.stop();
    b.args = vec![STANDARD.to_string()];
    b.spawn();
    let mut c = b.client();
    assert_eq!(describe_acls(&mut c, ANY, None, ANY), (0, cluster_acls));

    // No ACL on the topics, the group, the transactional id: refused, with Kafka's codes.
    let (names, cluster_ops) = metadata_all(&mut c);
    assert_eq!(names, Vec::<String>::new());
    assert_eq!(
        cluster_ops,
        (1 << 7) | (1 << 8),
        "ALTER and DESCRIBE on the cluster"
    );
    assert_eq!(metadata_named(&mut c, "t").0, TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(produce(&mut c, "t", "two"), TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(fetch(&mut c, "t").0, TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(
        find_group_coordinator(&mut c, "g"),
        GROUP_AUTHORIZATION_FAILED
    );
    assert_eq!(join(&mut c, "g"), GROUP_AUTHORIZATION_FAILED);
    assert_eq!(
        init_producer_id(&mut c, Some("tx")),
        TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    );
    assert_eq!(init_producer_id(&mut c, None), CLUSTER_AUTHORIZATION_FAILED);
    assert_eq!(create_topic(&mut c, "new"), TOPIC_AUTHORIZATION_FAILED);

    // ALLOWs make them work: WRITE on t, READ on the prefix "t" (covers DESCRIBE), READ on
    // group g, WRITE on transactional id tx.
    assert_eq!(
        create_acls(
            &mut c,
            vec![
                acl(TOPIC, "t", LITERAL, WRITE, ALLOW),
                acl(TOPIC, "t", PREFIXED, READ, ALLOW),
                acl(GROUP, "g", LITERAL, READ, ALLOW),
                acl(TXN_ID, "tx", LITERAL, WRITE, ALLOW),
            ]
        ),
        vec![0, 0, 0, 0]
    );
    let (names, _) = metadata_all(&mut c);
    assert_eq!(names, vec!["t".to_string()], "\"hidden\" stays hidden");
    // READ, WRITE and the DESCRIBE they imply.
    assert_eq!(
        metadata_named(&mut c, "t"),
        (0, (1 << 3) | (1 << 4) | (1 << 8))
    );
    assert_eq!(produce(&mut c, "t", "two"), 0);
    assert_eq!(fetch(&mut c, "t"), (0, 4, true));
    assert_eq!(
        join(&mut c, "g"),
        79,
        "authorized: the first join asks for a member id (MEMBER_ID_REQUIRED)"
    );
    assert_eq!(
        init_producer_id(&mut c, None),
        0,
        "WRITE on a topic suffices (KIP-679)"
    );
    assert_eq!(init_producer_id(&mut c, Some("tx")), 0);

    // A DENY wins over the ALLOW, for that operation only.
    assert_eq!(
        create_acls(&mut c, vec![acl(TOPIC, "t", LITERAL, WRITE, DENY)]),
        vec![0]
    );
    assert_eq!(produce(&mut c, "t", "three"), TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(fetch(&mut c, "t").0, 0);
    // A DENY of ALL on a prefix denies every operation.
    assert_eq!(
        create_acls(&mut c, vec![acl(TOPIC, "t", PREFIXED, ALL, DENY)]),
        vec![0]
    );
    assert_eq!(fetch(&mut c, "t").0, TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(metadata_all(&mut c).0, Vec::<String>::new());

    // DescribeAcls with a MATCH filter: what applies to topic "t".
    let (code, matched) = describe_acls(&mut c, TOPIC, Some("t"), MATCH);
    assert_eq!(code, 0);
    assert_eq!(matched.len(), 4);
    // DeleteAcls removes the topic ACLs and reports them.
    assert_eq!(delete_acls(&mut c, TOPIC, None, ANY, ANY), (0, 4));
    assert_eq!(describe_acls(&mut c, TOPIC, None, ANY), (0, vec![]));
    assert_eq!(produce(&mut c, "t", "four"), TOPIC_AUTHORIZATION_FAILED);
    // Without ALTER on the cluster, ACLs cannot be changed.
    assert_eq!(delete_acls(&mut c, CLUSTER, None, ANY, ALTER), (0, 1));
    assert_eq!(
        create_acls(&mut c, vec![acl(TOPIC, "t", LITERAL, WRITE, ALLOW)]),
        vec![CLUSTER_AUTHORIZATION_FAILED]
    );
    assert_eq!(
        delete_acls(&mut c, ANY, None, ANY, ANY).0,
        CLUSTER_AUTHORIZATION_FAILED
    );
}
