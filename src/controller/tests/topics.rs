use std::collections::BTreeMap;

use super::*;
use crate::controller::errors::*;

fn topic(name: &str, partitions: i32, rf: i16) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        assignments: vec![],
        configs: vec![],
    }
}

fn manual(name: &str, assignments: &[(i32, &[i32])]) -> CreatableTopic {
    CreatableTopic {
        assignments: assignments.iter().map(|(p, r)| (*p, r.to_vec())).collect(),
        ..topic(name, -1, -1)
    }
}

fn create_err(c: &mut Cluster, t: CreatableTopic) -> ApiError {
    let r = c.c.create_topics(&c.image, &[t], false);
    assert_eq!(r.records, vec![]);
    r.response[0].result.clone().unwrap_err()
}

/// (replicas, isr, leader, leader_epoch, partition_epoch)
type PartitionSummary = (Vec<i32>, Vec<i32>, i32, i32, i32);

/// The summary of each Partition record.
fn partitions(records: &[MetadataRecord]) -> Vec<PartitionSummary> {
    records
        .iter()
        .filter_map(|r| match r {
            MetadataRecord::Partition {
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
                adding_replicas,
                removing_replicas,
                ..
            } => {
                assert!(adding_replicas.is_empty() && removing_replicas.is_empty());
                Some((
                    replicas.clone(),
                    isr.clone(),
                    *leader,
                    *leader_epoch,
                    *partition_epoch,
                ))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn created_topics_spread_replicas_and_leaders_over_the_live_brokers() {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    let r = c.c.create_topics(&c.image, &[topic("t", 6, 2)], false);
    let created = r.response[0].result.clone().unwrap();
    assert_eq!((created.num_partitions, created.replication_factor), (6, 2));
    assert_eq!(
        r.records[0],
        MetadataRecord::Topic {
            name: "t".into(),
            topic_id: created.topic_id
        }
    );
    let parts = partitions(&r.records);
    assert_eq!(parts.len(), 6);
    let mut leaders = BTreeMap::new();
    for (replicas, isr, leader, le, pe) in &parts {
        assert_eq!(replicas.len(), 2);
        assert_ne!(replicas[0], replicas[1]);
        assert!(replicas.iter().all(|b| (1..=3).contains(b)));
        assert_eq!((isr, *leader, *le, *pe), (replicas, replicas[0], 0, 0));
        *leaders.entry(*leader).or_insert(0) += 1;
    }
    assert_eq!(leaders, BTreeMap::from([(1, 2), (2, 2), (3, 2)]));
    // The same seed places the same way.
    let mut again = Controller::new(config(), 42);
    let r2 = again.create_topics(&c.image, &[topic("t", 6, 2)], false);
    assert_eq!(partitions(&r2.records), parts);
    c.commit(&r.records);
    let image_topic = c.image.topic("t").unwrap();
    assert_eq!(image_topic.id, created.topic_id);
    assert_eq!(image_topic.partitions.len(), 6);
}

#[test]
fn a_replication_factor_above_the_live_broker_count_is_refused() {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    c.register(4, None); // registered, still fenced
    assert_eq!(
        create_err(&mut c, topic("t", 1, 4)),
        ApiError::new(
            INVALID_REPLICATION_FACTOR,
            "Unable to replicate the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3 broker(s) are registered."
        )
    );
    let mut empty = Cluster::new();
    empty.register(1, None);
    assert_eq!(
        create_err(&mut empty, topic("t", 1, 1)),
        ApiError::new(
            INVALID_REPLICATION_FACTOR,
            "Unable to replicate the partition 1 time(s): All brokers are currently fenced."
        )
    );
}

#[test]
fn minus_one_takes_the_configured_defaults() {
    let mut c = Cluster::with(ControllerConfig {
        num_partitions: 3,
        default_replication_factor: 2,
        ..config()
    });
    c.start(&[1, 2]);
    let r = c.c.create_topics(&c.image, &[topic("t", -1, -1)], false);
    let created = r.response[0].result.clone().unwrap();
    assert_eq!((created.num_partitions, created.replication_factor), (3, 2));
    assert_eq!(partitions(&r.records).len(), 3);
}

#[test]
fn invalid_topics_are_refused_with_kafkas_errors() {
    let mut c = Cluster::new();
    c.start(&[1]);
    c.create("t", &[&[1]]);
    c.create("a.b", &[&[1]]);
    let with_configs = |configs: &[(&str, Option<&str>)]| CreatableTopic {
        configs: configs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect(),
        ..topic("new", 1, 1)
    };
    let cases = vec![
        (
            topic("", 1, 1),
            ApiError::new(
                INVALID_TOPIC_EXCEPTION,
                "Topic name is illegal, it can't be empty",
            ),
        ),
        (
            topic("..", 1, 1),
            ApiError::new(
                INVALID_TOPIC_EXCEPTION,
                "Topic name cannot be \".\" or \"..\"",
            ),
        ),
        (
            topic("t", 1, 1),
            ApiError::new(TOPIC_ALREADY_EXISTS, "Topic 't' already exists."),
        ),
        (
            topic("a_b", 1, 1),
            ApiError::new(
                INVALID_TOPIC_EXCEPTION,
                "Topic 'a_b' collides with existing topic: a.b",
            ),
        ),
        (
            with_configs(&[("retention.ms", None), ("segment.ms", None)]),
            ApiError::new(
                INVALID_CONFIG,
                "Null value not supported for topic configs: retention.ms,segment.ms",
            ),
        ),
        (
            with_configs(&[("nope", Some("1"))]),
            ApiError::new(INVALID_CONFIG, "Unknown topic config name: nope"),
        ),
        (
            with_configs(&[("retention.ms", Some("abc"))]),
            ApiError::new(
                INVALID_CONFIG,
                "Invalid value abc for configuration retention.ms: expected an integer",
            ),
        ),
        (
            topic("new", 0, 1),
            ApiError::new(
                INVALID_PARTITIONS,
                "Number of partitions was set to an invalid non-positive value.",
            ),
        ),
        (
            topic("new", 1, 0),
            ApiError::new(
                INVALID_REPLICATION_FACTOR,
                "Replication factor must be larger than 0, or -1 to use the default value.",
            ),
        ),
        (
            topic("new", 20_000, 1),
            ApiError::new(
                POLICY_VIOLATION,
                "Unable to perform excessively large batch operation.",
            ),
        ),
    ];
    for (t, expected) in cases {
        let name = t.name.clone();
        assert_eq!(create_err(&mut c, t), expected, "{name}");
    }
}

#[test]
fn a_topics_configs_are_written_between_its_topic_and_partition_records() {
    let mut c = Cluster::new();
    c.start(&[1]);
    let t = CreatableTopic {
        configs: vec![
            ("retention.ms".into(), Some("1000".into())),
            ("cleanup.policy".into(), Some("compact".into())),
        ],
        ..topic("t", 1, 1)
    };
    let r = c.c.create_topics(&c.image, &[t], false);
    let id = r.response[0].result.clone().unwrap().topic_id;
    let config = |name: &str, value: &str| MetadataRecord::Config {
        resource: ConfigResource::Topic("t".into()),
        name: name.into(),
        value: Some(value.into()),
    };
    assert_eq!(
        r.records,
        vec![
            MetadataRecord::Topic {
                name: "t".into(),
                topic_id: id
            },
            config("cleanup.policy", "compact"),
            config("retention.ms", "1000"),
            MetadataRecord::Partition {
                topic_id: id,
                partition: 0,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
                adding_replicas: vec![],
                removing_replicas: vec![],
            },
        ]
    );
    c.commit(&r.records);
    assert_eq!(c.image.topic_configs("t").len(), 2);
}

#[test]
fn manual_assignments_are_validated_and_their_isr_is_the_live_replicas() {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    c.register(4, None); // fenced
    let r = c.c.create_topics(
        &c.image,
        &[manual("t", &[(1, &[4, 3]), (0, &[1, 2])])],
        false,
    );
    let created = r.response[0].result.clone().unwrap();
    assert_eq!((created.num_partitions, created.replication_factor), (2, 2));
    assert_eq!(
        partitions(&r.records),
        vec![
            (vec![1, 2], vec![1, 2], 1, 0, 0),
            (vec![4, 3], vec![3], 3, 0, 0)
        ]
    );
    let cases = vec![
        (
            CreatableTopic {
                replication_factor: 2,
                ..manual("x", &[(0, &[1])])
            },
            ApiError::new(
                INVALID_REQUEST,
                "A manual partition assignment was specified, but replication factor was not set to -1.",
            ),
        ),
        (
            CreatableTopic {
                num_partitions: 2,
                ..manual("x", &[(0, &[1])])
            },
            ApiError::new(
                INVALID_REQUEST,
                "A manual partition assignment was specified, but numPartitions was not set to -1.",
            ),
        ),
        (
            manual("x", &[(0, &[1]), (0, &[2])]),
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "Found multiple manual partition assignments for partition 0",
            ),
        ),
        (
            manual("x", &[(0, &[1]), (2, &[2])]),
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "partitions should be a consecutive 0-based integer sequence",
            ),
        ),
        (
            manual("x", &[(0, &[1]), (1, &[2, 3])]),
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "The manual partition assignment includes a partition with 2 replica(s), but this is not consistent with previous partitions, which have 1 replica(s).",
            ),
        ),
        (
            manual("x", &[(0, &[4])]),
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "All brokers specified in the manual partition assignment for partition 0 are fenced or in controlled shutdown.",
            ),
        ),
    ];
    for (t, expected) in cases {
        assert_eq!(create_err(&mut c, t), expected);
    }
}

#[test]
fn validate_only_answers_without_records() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    let r =
        c.c.create_topics(&c.image, &[topic("t", 2, 2), topic("u", 1, 3)], true);
    assert_eq!(r.records, vec![]);
    assert!(r.response[0].result.is_ok());
    assert_eq!(
        r.response[1].result.clone().unwrap_err().code,
        INVALID_REPLICATION_FACTOR
    );
}

#[test]
fn a_name_twice_in_one_request_is_created_once() {
    let mut c = Cluster::new();
    c.start(&[1]);
    let r =
        c.c.create_topics(&c.image, &[topic("t", 1, 1), topic("t", 1, 1)], false);
    assert!(r.response[0].result.is_ok());
    assert_eq!(
        r.response[1].result,
        Err(ApiError::new(
            TOPIC_ALREADY_EXISTS,
            "Topic 't' already exists."
        ))
    );
    assert_eq!(r.records.len(), 2);
    c.commit(&r.records);
}

#[test]
fn topics_are_deleted_by_name_or_id() {
    let mut c = Cluster::new();
    c.start(&[1]);
    let t = c.create("t", &[&[1]]);
    let u = c.create("u", &[&[1]]);
    let unknown = Uuid::from_u128(5);
    let r = c.c.delete_topics(
        &c.image,
        &[
            TopicRef::Name("t".into()),
            TopicRef::Id(u),
            TopicRef::Name("x".into()),
            TopicRef::Id(unknown),
        ],
    );
    assert_eq!(
        r.records,
        vec![
            MetadataRecord::RemoveTopic { topic_id: t },
            MetadataRecord::RemoveTopic { topic_id: u }
        ]
    );
    assert_eq!(
        r.response,
        vec![
            DeleteTopicResult {
                name: Some("t".into()),
                topic_id: Some(t),
                result: Ok(())
            },
            DeleteTopicResult {
                name: Some("u".into()),
                topic_id: Some(u),
                result: Ok(())
            },
            DeleteTopicResult {
                name: Some("x".into()),
                topic_id: None,
                result: Err(ApiError::of(UNKNOWN_TOPIC_OR_PARTITION))
            },
            DeleteTopicResult {
                name: None,
                topic_id: Some(unknown),
                result: Err(ApiError::of(UNKNOWN_TOPIC_ID))
            },
        ]
    );
    c.commit(&r.records);
    assert_eq!(c.image.topic_count(), 0);
}

#[test]
fn deletion_can_be_disabled() {
    let mut c = Cluster::with(ControllerConfig {
        delete_topic_enable: false,
        ..config()
    });
    c.start(&[1]);
    c.create("t", &[&[1]]);
    let r = c.c.delete_topics(&c.image, &[TopicRef::Name("t".into())]);
    assert_eq!(r.records, vec![]);
    assert_eq!(
        r.response[0].result,
        Err(ApiError::new(
            TOPIC_DELETION_DISABLED,
            "Topic deletion is disabled."
        ))
    );
}

fn grow(name: &str, count: i32, assignments: Option<Vec<Vec<i32>>>) -> CreatePartitionsTopic {
    CreatePartitionsTopic {
        name: name.into(),
        count,
        assignments,
    }
}

#[test]
fn create_partitions_adds_placed_or_assigned_partitions_with_the_topics_replication_factor() {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    let t = c.create("t", &[&[1, 2]]);
    let r =
        c.c.create_partitions(&c.image, &[grow("t", 3, None)], false);
    assert_eq!(r.response[0].result, Ok(()));
    let parts = partitions(&r.records);
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|(replicas, ..)| replicas.len() == 2));
    assert!(matches!(
        r.records[0],
        MetadataRecord::Partition { topic_id, partition: 1, .. } if topic_id == t
    ));
    c.commit(&r.records);
    assert_eq!(c.image.topic("t").unwrap().partitions.len(), 3);
    let r =
        c.c.create_partitions(&c.image, &[grow("t", 4, Some(vec![vec![3, 1]]))], false);
    assert_eq!(
        partitions(&r.records),
        vec![(vec![3, 1], vec![3, 1], 3, 0, 0)]
    );
    // Validate-only writes nothing.
    let r = c.c.create_partitions(&c.image, &[grow("t", 5, None)], true);
    assert_eq!((r.records, r.response[0].result.clone()), (vec![], Ok(())));
}

#[test]
fn create_partitions_refuses_what_kafka_refuses() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    c.create("t", &[&[1, 2], &[2, 1]]);
    let cases = vec![
        (
            grow("t", 2, None),
            ApiError::new(INVALID_PARTITIONS, "Topic already has 2 partition(s)."),
        ),
        (
            grow("t", 1, None),
            ApiError::new(
                INVALID_PARTITIONS,
                "The topic t currently has 2 partition(s); 1 would not be an increase.",
            ),
        ),
        (
            grow("t", 4, Some(vec![vec![1, 2]])),
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.",
            ),
        ),
        (
            grow("t", 3, Some(vec![vec![1]])),
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s).",
            ),
        ),
        (
            grow("x", 3, None),
            ApiError {
                code: UNKNOWN_TOPIC_OR_PARTITION,
                message: None,
            },
        ),
        (
            grow("t", 20_000, None),
            ApiError::new(
                POLICY_VIOLATION,
                "Unable to perform excessively large batch operation.",
            ),
        ),
    ];
    for (t, expected) in cases {
        let r = c.c.create_partitions(&c.image, &[t], false);
        assert_eq!(r.records, vec![]);
        assert_eq!(r.response[0].result, Err(expected));
    }
}

#[test]
fn a_single_node_topic_is_imported_on_this_node() {
    let mut c = Cluster::new();
    let id = Uuid::from_u128(77);
    let imported = ImportedTopic {
        name: "old".into(),
        topic_id: id,
        partitions: 2,
        configs: BTreeMap::from([("retention.ms".to_string(), "5".to_string())]),
    };
    let records = c.c.import_topic(&c.image, &imported).unwrap();
    let partition = |p| MetadataRecord::Partition {
        topic_id: id,
        partition: p,
        replicas: vec![1],
        isr: vec![1],
        leader: 1,
        leader_epoch: 0,
        partition_epoch: 0,
        adding_replicas: vec![],
        removing_replicas: vec![],
    };
    assert_eq!(
        records,
        vec![
            MetadataRecord::Topic {
                name: "old".into(),
                topic_id: id
            },
            MetadataRecord::Config {
                resource: ConfigResource::Topic("old".into()),
                name: "retention.ms".into(),
                value: Some("5".into())
            },
            partition(0),
            partition(1),
        ]
    );
    c.commit(&records);
    // Importing again is a no-op; a different id under the same name is a conflict.
    assert_eq!(c.c.import_topic(&c.image, &imported), Ok(vec![]));
    let other = ImportedTopic {
        topic_id: Uuid::from_u128(78),
        ..imported.clone()
    };
    assert_eq!(
        c.c.import_topic(&c.image, &other).unwrap_err().code,
        TOPIC_ALREADY_EXISTS
    );
    let same_id = ImportedTopic {
        name: "renamed".into(),
        ..imported
    };
    assert_eq!(
        c.c.import_topic(&c.image, &same_id).unwrap_err().code,
        TOPIC_ALREADY_EXISTS
    );
}

#[test]
fn bootstrap_writes_the_cluster_id_only_once() {
    let c = Cluster::new();
    assert_eq!(c.image.cluster_id(), Some("test-cluster"));
    assert_eq!(c.c.bootstrap(&c.image, "other"), vec![]);
}
