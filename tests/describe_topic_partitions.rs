//! DescribeTopicPartitions (KIP-966) over TCP against the real binary: every partition's
//! leader, epoch, replicas and ISR, topic ids, internal topics, unknown topics, cursor
//! pagination, and the same answer from every broker of a three-node cluster.

mod common;

use std::time::Duration;

use common::cluster::{call, Cluster};
use common::{Broker, Client};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn tname(x: &str) -> TopicName {
    TopicName(StrBytes::from_string(x.to_string()))
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

fn request(
    topics: &[&str],
    limit: i32,
    cursor: Option<(&str, i32)>,
) -> DescribeTopicPartitionsRequest {
    DescribeTopicPartitionsRequest::default()
        .with_topics(
            topics
                .iter()
                .map(|t| TopicRequest::default().with_name(tname(t)))
                .collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(t, p)| {
            Cursor::default()
                .with_topic_name(tname(t))
                .with_partition_index(p)
        }))
}

/// (topic, error, [partition indexes]) of each answered topic, and the next cursor.
type Page = (Vec<(String, i16, Vec<i32>)>, Option<(String, i32)>);

fn page(r: &DescribeTopicPartitionsResponse) -> Page {
    let topics = r
        .topics
        .iter()
        .map(|t| {
            let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
            let parts = t.partitions.iter().map(|p| p.partition_index).collect();
            (name, t.error_code, parts)
        })
        .collect();
    let next = r
        .next_cursor
        .as_ref()
        .map(|c| (c.topic_name.to_string(), c.partition_index));
    (topics, next)
}

fn topic_ids(c: &mut Client) -> Vec<(String, uuid::Uuid)> {
    let r: MetadataResponse = c.call(12, &MetadataRequest::default().with_topics(None));
    r.topics
        .iter()
        .map(|t| (t.name.as_ref().unwrap().to_string(), t.topic_id))
        .collect()
}

#[test]
fn describes_partitions_with_cursor_pagination() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "dtp-a", 3);
    create(&mut c, "dtp-b", 2);
    create(&mut c, "dtp-c", 1);
    // Everything, in name order, regardless of the requested order.
    let r: DescribeTopicPartitionsResponse =
        c.call(0, &request(&["dtp-c", "dtp-a", "dtp-b"], 2000, None));
    assert_eq!(
        page(&r),
        (
            vec![
                ("dtp-a".into(), 0, vec![0, 1, 2]),
                ("dtp-b".into(), 0, vec![0, 1]),
                ("dtp-c".into(), 0, vec![0]),
            ],
            None
        )
    );
    let ids = topic_ids(&mut c);
    for t in &r.topics {
        let name = t.name.as_ref().unwrap().to_string();
        let id = ids.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(t.topic_id, id, "{name}");
        assert!(!t.topic_id.is_nil());
        assert!(!t.is_internal);
        assert_eq!(t.topic_authorized_operations, 3576, "READ..ALTER_CONFIGS");
        for p in &t.partitions {
            assert_eq!(p.error_code, 0);
            assert_eq!(p.leader_id.0, 1);
            assert_eq!(p.leader_epoch, 0);
            assert_eq!(p.replica_nodes, vec![BrokerId(1)]);
            assert_eq!(p.isr_nodes, vec![BrokerId(1)]);
            assert_eq!(p.eligible_leader_replicas, Some(vec![]));
            assert_eq!(p.last_known_elr, Some(vec![]));
            assert!(p.offline_replicas.is_empty());
        }
    }
    // Pages of two partitions, following next_cursor.
    let all = ["dtp-a", "dtp-b", "dtp-c"];
    let mut cursor: Option<(String, i32)> = None;
    let mut pages = Vec::new();
    loop {
        let cur = cursor.as_ref().map(|(t, p)| (t.as_str(), *p));
        let r: DescribeTopicPartitionsResponse = c.call(0, &request(&all, 2, cur));
        let (topics, next) = page(&r);
        pages.push(topics);
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages.len() < 10);
    }
    assert_eq!(
        pages,
        vec![
            vec![("dtp-a".into(), 0, vec![0, 1])],
            vec![("dtp-a".into(), 0, vec![2]), ("dtp-b".into(), 0, vec![0])],
            vec![("dtp-b".into(), 0, vec![1]), ("dtp-c".into(), 0, vec![0])],
        ]
    );
    // A limit reached exactly at a topic's end points at the next topic.
    let r: DescribeTopicPartitionsResponse = c.call(0, &request(&all, 3, None));
    assert_eq!(
        page(&r),
        (
            vec![("dtp-a".into(), 0, vec![0, 1, 2])],
            Some(("dtp-b".into(), 0))
        )
    );
    // Unknown topics; a cursor topic that was not asked for.
    let r: DescribeTopicPartitionsResponse =
        c.call(0, &request(&["dtp-a", "nope"], 2000, Some(("dtp-a", 1))));
    assert_eq!(
        page(&r),
        (
            vec![("dtp-a".into(), 0, vec![1, 2]), ("nope".into(), 3, vec![])],
            None
        )
    );
    assert!(r.topics[1].topic_id.is_nil());
    let r: DescribeTopicPartitionsResponse =
        c.call(0, &request(&["dtp-a"], 2000, Some(("dtp-b", 0))));
    assert_eq!(page(&r).0, vec![("dtp-a".into(), 42, vec![])]);
    // An empty list is every topic (internal ones flagged).
    let r: DescribeTopicPartitionsResponse = c.call(0, &request(&[], 2000, None));
    let names: Vec<String> = page(&r).0.into_iter().map(|(n, _, _)| n).collect();
    for t in all {
        assert!(names.contains(&t.to_string()), "{names:?}");
    }
    for t in &r.topics {
        let internal = t.name.as_ref().unwrap().starts_with("__");
        assert_eq!(t.is_internal, internal);
    }
}

#[test]
fn every_broker_of_a_cluster_answers_alike() {
    let c = Cluster::start(3, &[]);
    let st = c.create_topic("spread", 3, 3, &[]);
    type Part = (i32, i32, i32, Vec<i32>, Vec<i32>);
    let describe = |id: i32| -> Vec<Part> {
        let r: DescribeTopicPartitionsResponse = call(
            &c.direct_addr(id),
            0,
            &request(&["spread"], 2000, None),
            Duration::from_secs(20),
        )
        .expect("DescribeTopicPartitions");
        let t = &r.topics[0];
        assert_eq!(t.error_code, 0);
        t.partitions
            .iter()
            .map(|p| {
                let ids = |v: &[BrokerId]| {
                    let mut v: Vec<i32> = v.iter().map(|b| b.0).collect();
                    v.sort();
                    v
                };
                let replicas = p.replica_nodes.iter().map(|b| b.0).collect();
                (
                    p.partition_index,
                    p.leader_id.0,
                    p.leader_epoch,
                    replicas,
                    ids(&p.isr_nodes),
                )
            })
            .collect()
    };
    // Once every follower joined the ISR, all brokers give the same answer, the one the
    // controller's placement made.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answers: Vec<Vec<Part>> = c.broker_ids().into_iter().map(describe).collect();
        let full = answers
            .iter()
            .all(|a| a.len() == 3 && a.iter().all(|p| p.4.len() == 3));
        if full && answers.iter().all(|a| *a == answers[0]) {
            for (got, want) in answers[0].iter().zip(&st) {
                assert_eq!(got.1, want.leader);
                assert_eq!(got.3, want.replicas);
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answers:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
