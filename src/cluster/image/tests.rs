use super::*;
use crate::cluster::records::CLUSTER_DEFAULT_BROKER;

fn register(id: i32) -> MetadataRecord {
    MetadataRecord::RegisterBroker {
        broker_id: id,
        incarnation_id: Uuid::from_u128(id as u128),
        listeners: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9000 + id as u16,
        }],
        rack: None,
    }
}

fn tid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn partition(topic_id: Uuid, p: i32, replicas: &[i32], leader: i32) -> MetadataRecord {
    MetadataRecord::Partition {
        topic_id,
        partition: p,
        replicas: replicas.to_vec(),
        isr: replicas.to_vec(),
        leader,
        leader_epoch: 0,
        partition_epoch: 0,
        adding_replicas: vec![],
        removing_replicas: vec![],
    }
}

fn change(topic_id: Uuid, p: i32) -> MetadataRecord {
    MetadataRecord::PartitionChange {
        topic_id,
        partition: p,
        leader: None,
        isr: None,
        replicas: None,
        adding_replicas: None,
        removing_replicas: None,
    }
}

fn with_leader(r: MetadataRecord, l: i32) -> MetadataRecord {
    match r {
        MetadataRecord::PartitionChange {
            topic_id,
            partition,
            isr,
            replicas,
            adding_replicas,
            removing_replicas,
            ..
        } => MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader: Some(l),
            isr,
            replicas,
            adding_replicas,
            removing_replicas,
        },
        other => other,
    }
}

fn with_isr(r: MetadataRecord, new_isr: &[i32]) -> MetadataRecord {
    match r {
        MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader,
            replicas,
            adding_replicas,
            removing_replicas,
            ..
        } => MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader,
            isr: Some(new_isr.to_vec()),
            replicas,
            adding_replicas,
            removing_replicas,
        },
        other => other,
    }
}

fn with_replicas(r: MetadataRecord, new_replicas: &[i32]) -> MetadataRecord {
    match r {
        MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader,
            isr,
            adding_replicas,
            removing_replicas,
            ..
        } => MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader,
            isr,
            replicas: Some(new_replicas.to_vec()),
            adding_replicas,
            removing_replicas,
        },
        other => other,
    }
}

/// Brokers 1..=3 registered at entries 1..=3 and unfenced at 4; topic "t" (id 1) with two
/// partitions: 0 on [1,2,3] led by 1, 1 on [2,3,1] led by 2 (entry 5).
fn three_brokers_one_topic() -> MetadataImage {
    let mut image = MetadataImage::new();
    for id in 1..=3 {
        assert!(image.apply_batch(id as u64, &[register(id)]).is_empty());
    }
    let unfence: Vec<_> = (1..=3)
        .map(|id| MetadataRecord::UnfenceBroker {
            broker_id: id,
            broker_epoch: id as i64,
        })
        .collect();
    assert!(image.apply_batch(4, &unfence).is_empty());
    let errors = image.apply_batch(
        5,
        &[
            MetadataRecord::Topic {
                name: "t".into(),
                topic_id: tid(1),
            },
            partition(tid(1), 0, &[1, 2, 3], 1),
            partition(tid(1), 1, &[2, 3, 1], 2),
        ],
    );
    assert!(errors.is_empty(), "{errors:?}");
    image
}

#[test]
fn a_registration_takes_the_entry_index_as_epoch_and_starts_fenced() {
    let mut image = MetadataImage::new();
    image.apply(7, &register(1)).unwrap();
    let b = image.broker(1).unwrap();
    assert_eq!((b.epoch, b.fenced), (7, true));
    assert_eq!(image.live_brokers().count(), 0);
    assert_eq!(image.last_applied_index(), 7);
    assert_eq!(
        image.broker_endpoint(1, "PLAINTEXT").map(|e| e.port),
        Some(9001)
    );
    assert_eq!(image.broker_endpoint(1, "SSL"), None);
}

#[test]
fn a_reregistration_replaces_the_old_one_fenced_with_a_new_epoch() {
    let mut image = three_brokers_one_topic();
    assert!(image.is_live(2));
    image.apply(9, &register(2)).unwrap();
    let b = image.broker(2).unwrap();
    assert_eq!((b.epoch, b.fenced), (9, true));
    // Records naming the old epoch no longer apply.
    assert_eq!(
        image.apply(
            10,
            &MetadataRecord::UnfenceBroker {
                broker_id: 2,
                broker_epoch: 2
            }
        ),
        Err(ImageError::StaleBrokerEpoch {
            broker_id: 2,
            current: 9,
            record: 2
        })
    );
    assert!(!image.is_live(2));
    image
        .apply(
            11,
            &MetadataRecord::UnfenceBroker {
                broker_id: 2,
                broker_epoch: 9,
            },
        )
        .unwrap();
    assert!(image.is_live(2));
}

#[test]
fn fence_and_unregister_apply_only_to_the_named_epoch() {
    let mut image = three_brokers_one_topic();
    image
        .apply(
            6,
            &MetadataRecord::FenceBroker {
                broker_id: 3,
                broker_epoch: 3,
            },
        )
        .unwrap();
    assert_eq!(
        image.live_brokers().map(|b| b.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let p = image.partition(&tid(1), 0).unwrap().clone();
    assert_eq!(image.offline_replicas(&p), vec![3]);
    assert!(image
        .apply(
            7,
            &MetadataRecord::UnregisterBroker {
                broker_id: 3,
                broker_epoch: 4
            }
        )
        .is_err());
    image
        .apply(
            7,
            &MetadataRecord::UnregisterBroker {
                broker_id: 3,
                broker_epoch: 3,
            },
        )
        .unwrap();
    assert!(image.broker(3).is_none());
    assert_eq!(
        image.apply(
            8,
            &MetadataRecord::FenceBroker {
                broker_id: 3,
                broker_epoch: 3
            }
        ),
        Err(ImageError::UnknownBroker(3))
    );
}

#[test]
fn topics_are_found_by_name_and_id_with_their_partitions() {
    let image = three_brokers_one_topic();
    let t = image.topic("t").unwrap();
    assert_eq!(t.id, tid(1));
    assert!(Arc::ptr_eq(t, image.topic_by_id(&tid(1)).unwrap()));
    assert_eq!(t.partitions.len(), 2);
    assert_eq!(image.partition(&tid(1), 1).unwrap().leader, 2);
    assert_eq!(
        image.partition_by_name("t", 0).unwrap().replicas,
        vec![1, 2, 3]
    );
    assert!(image.partition_by_name("t", 2).is_none());
    assert!(image.partition_by_name("t", -1).is_none());
    assert_eq!(image.topics().count(), 1);
}

#[test]
fn a_topic_name_or_id_cannot_be_reused_while_it_exists() {
    let mut image = three_brokers_one_topic();
    assert_eq!(
        image.apply(
            6,
            &MetadataRecord::Topic {
                name: "t".into(),
                topic_id: tid(2)
            }
        ),
        Err(ImageError::TopicExists {
            name: "t".into(),
            existing: tid(1)
        })
    );
    assert!(image
        .apply(
            6,
            &MetadataRecord::Topic {
                name: "u".into(),
                topic_id: tid(1)
            }
        )
        .is_err());
    // The same record again is a no-op.
    image
        .apply(
            6,
            &MetadataRecord::Topic {
                name: "t".into(),
                topic_id: tid(1),
            },
        )
        .unwrap();
    assert_eq!(image.topic("t").unwrap().partitions.len(), 2);
}

#[test]
fn a_partition_must_be_the_next_one_or_replace_an_existing_one() {
    let mut image = three_brokers_one_topic();
    assert_eq!(
        image.apply(6, &partition(tid(1), 3, &[1], 1)),
        Err(ImageError::InvalidPartition {
            topic_id: tid(1),
            partition: 3
        })
    );
    assert_eq!(
        image.apply(6, &partition(tid(9), 0, &[1], 1)),
        Err(ImageError::UnknownTopicId(tid(9)))
    );
    image.apply(6, &partition(tid(1), 2, &[3], 3)).unwrap();
    assert_eq!(image.topic("t").unwrap().partitions.len(), 3);
}

#[test]
fn a_partition_change_bumps_the_partition_epoch_and_a_leader_change_the_leader_epoch() {
    let mut image = three_brokers_one_topic();
    image
        .apply(6, &with_isr(change(tid(1), 0), &[1, 2]))
        .unwrap();
    let p = image.partition(&tid(1), 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (1, 0, 1));
    assert_eq!(p.isr, vec![1, 2]);
    image.apply(7, &with_leader(change(tid(1), 0), 2)).unwrap();
    let p = image.partition(&tid(1), 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 2));
    assert_eq!(p.isr, vec![1, 2]);
    // Setting the same leader still bumps the leader epoch (Kafka's reassignment trick).
    image
        .apply(
            8,
            &with_replicas(with_leader(change(tid(1), 0), 2), &[2, 1]),
        )
        .unwrap();
    let p = image.partition(&tid(1), 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 2, 3));
    assert_eq!(p.replicas, vec![2, 1]);
    assert!(p.has_preferred_leader());
    // No leader.
    image.apply(9, &with_leader(change(tid(1), 0), -1)).unwrap();
    let p = image.partition(&tid(1), 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.has_leader()), (-1, 3, false));
    // The other partition is untouched.
    assert_eq!(image.partition(&tid(1), 1).unwrap().partition_epoch, 0);
}

#[test]
fn removing_a_topic_removes_its_partitions_and_configs() {
    let mut image = three_brokers_one_topic();
    image
        .apply(
            6,
            &MetadataRecord::Config {
                resource: ConfigResource::Topic("t".into()),
                name: "retention.ms".into(),
                value: Some("100".into()),
            },
        )
        .unwrap();
    assert_eq!(image.topic_configs("t").get("retention.ms").unwrap(), "100");
    image
        .apply(7, &MetadataRecord::RemoveTopic { topic_id: tid(1) })
        .unwrap();
    assert!(image.topic("t").is_none());
    assert!(image.topic_by_id(&tid(1)).is_none());
    assert!(image.topic_configs("t").is_empty());
    assert_eq!(image.config_resources().count(), 0);
    assert_eq!(
        image.apply(8, &MetadataRecord::RemoveTopic { topic_id: tid(1) }),
        Err(ImageError::UnknownTopicId(tid(1)))
    );
}

#[test]
fn config_records_set_and_delete_overrides() {
    let mut image = MetadataImage::new();
    let res = ConfigResource::Broker(CLUSTER_DEFAULT_BROKER);
    let set = |v: Option<&str>| MetadataRecord::Config {
        resource: res.clone(),
        name: "log.retention.ms".into(),
        value: v.map(str::to_string),
    };
    image.apply(1, &set(Some("5"))).unwrap();
    assert_eq!(image.configs(&res).get("log.retention.ms").unwrap(), "5");
    image.apply(2, &set(Some("6"))).unwrap();
    assert_eq!(image.configs(&res).get("log.retention.ms").unwrap(), "6");
    image.apply(3, &set(None)).unwrap();
    assert!(image.configs(&res).is_empty());
    assert_eq!(image.config_resources().count(), 0);
}

#[test]
fn producer_id_blocks_only_move_forward() {
    let mut image = MetadataImage::new();
    let block = |next| MetadataRecord::ProducerIds {
        broker_id: 1,
        broker_epoch: 1,
        next_producer_id: next,
    };
    image.apply(1, &block(1000)).unwrap();
    assert_eq!(image.next_producer_id(), 1000);
    assert_eq!(
        image.apply(2, &block(1000)),
        Err(ImageError::ProducerIdNotIncreasing {
            current: 1000,
            record: 1000
        })
    );
    image.apply(3, &block(2000)).unwrap();
    assert_eq!(image.next_producer_id(), 2000);
}

#[test]
fn an_entry_before_the_last_applied_one_is_refused() {
    let mut image = MetadataImage::new();
    image.apply(5, &register(1)).unwrap();
    assert_eq!(
        image.apply(4, &register(2)),
        Err(ImageError::IndexRegression { index: 4, last: 5 })
    );
    assert!(image.broker(2).is_none());
    // An empty entry still advances the index.
    assert!(image.apply_batch(9, &[]).is_empty());
    assert_eq!(image.last_applied_index(), 9);
}

#[test]
fn the_cluster_id_is_set_once() {
    let mut image = MetadataImage::new();
    let id = |s: &str| MetadataRecord::ClusterId {
        cluster_id: s.into(),
    };
    image.apply(1, &id("a")).unwrap();
    image.apply(2, &id("a")).unwrap();
    assert!(image.apply(3, &id("b")).is_err());
    assert_eq!(image.cluster_id(), Some("a"));
}

#[test]
fn a_snapshot_round_trips_the_whole_image() {
    let mut image = three_brokers_one_topic();
    let errors = image.apply_batch(
        6,
        &[
            MetadataRecord::ClusterId {
                cluster_id: "c1".into(),
            },
            MetadataRecord::Config {
                resource: ConfigResource::Topic("t".into()),
                name: "cleanup.policy".into(),
                value: Some("compact".into()),
            },
            MetadataRecord::Config {
                resource: ConfigResource::Broker(2),
                name: "log.retention.ms".into(),
                value: Some("1".into()),
            },
            MetadataRecord::ProducerIds {
                broker_id: 1,
                broker_epoch: 1,
                next_producer_id: 3000,
            },
            with_isr(with_leader(change(tid(1), 1), 3), &[3, 1]),
        ],
    );
    assert!(errors.is_empty());
    let restored = MetadataImage::from_snapshot(&image.to_snapshot()).unwrap();
    assert_eq!(restored, image);
    assert_eq!(restored.last_applied_index(), 6);
    assert!(MetadataImage::from_snapshot(b"[]").is_err());
}

#[test]
fn cloning_an_image_shares_unchanged_topics() {
    let image = three_brokers_one_topic();
    let mut next = image.clone();
    assert!(Arc::ptr_eq(
        image.topic("t").unwrap(),
        next.topic("t").unwrap()
    ));
    next.apply(6, &with_isr(change(tid(1), 0), &[1])).unwrap();
    assert!(!Arc::ptr_eq(
        image.topic("t").unwrap(),
        next.topic("t").unwrap()
    ));
    assert_eq!(image.partition(&tid(1), 0).unwrap().isr, vec![1, 2, 3]);
}

// ---- local_changes ----------------------------------------------------------------------

fn leader_of(epoch: i32, pe: i32, replicas: &[i32], isr: &[i32]) -> LocalChangeKind {
    LocalChangeKind::BecomeLeader {
        leader_epoch: epoch,
        partition_epoch: pe,
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
    }
}

fn kinds(changes: &[LocalChange]) -> Vec<(String, i32, LocalChangeKind)> {
    changes
        .iter()
        .map(|c| (c.topic.clone(), c.partition, c.kind.clone()))
        .collect()
}

#[test]
fn a_new_topic_makes_its_replicas_leaders_and_followers() {
    let image = three_brokers_one_topic();
    let empty = MetadataImage::new();
    assert_eq!(
        kinds(&local_changes(&empty, &image, 1)),
        vec![
            ("t".into(), 0, leader_of(0, 0, &[1, 2, 3], &[1, 2, 3])),
            (
                "t".into(),
                1,
                LocalChangeKind::BecomeFollower {
                    leader: 2,
                    leader_epoch: 0,
                    partition_epoch: 0
                }
            ),
        ]
    );
    assert_eq!(local_changes(&empty, &image, 4), vec![]);
    assert_eq!(local_changes(&image, &image.clone(), 1), vec![]);
}

#[test]
fn a_leader_change_tells_the_new_leader_and_the_followers() {
    let old = three_brokers_one_topic();
    let mut new = old.clone();
    new.apply(6, &with_isr(with_leader(change(tid(1), 0), 2), &[2, 3]))
        .unwrap();
    assert_eq!(
        kinds(&local_changes(&old, &new, 2)),
        vec![("t".into(), 0, leader_of(1, 1, &[1, 2, 3], &[2, 3]))]
    );
    let follow = LocalChangeKind::BecomeFollower {
        leader: 2,
        leader_epoch: 1,
        partition_epoch: 1,
    };
    assert_eq!(
        kinds(&local_changes(&old, &new, 1)),
        vec![("t".into(), 0, follow.clone())]
    );
    assert_eq!(
        kinds(&local_changes(&old, &new, 3)),
        vec![("t".into(), 0, follow)]
    );
}

#[test]
fn an_isr_change_is_news_for_the_leader_only() {
    let old = three_brokers_one_topic();
    let mut new = old.clone();
    new.apply(6, &with_isr(change(tid(1), 0), &[1, 3])).unwrap();
    assert_eq!(
        kinds(&local_changes(&old, &new, 1)),
        vec![(
            "t".into(),
            0,
            LocalChangeKind::IsrChanged {
                partition_epoch: 1,
                replicas: vec![1, 2, 3],
                isr: vec![1, 3]
            }
        )]
    );
    assert_eq!(local_changes(&old, &new, 2), vec![]);
    assert_eq!(local_changes(&old, &new, 3), vec![]);
}

#[test]
fn an_offline_partition_makes_its_replicas_followers_of_no_leader() {
    let old = three_brokers_one_topic();
    let mut new = old.clone();
    new.apply(6, &with_leader(change(tid(1), 0), -1)).unwrap();
    assert_eq!(
        kinds(&local_changes(&old, &new, 2)),
        vec![(
            "t".into(),
            0,
            LocalChangeKind::BecomeFollower {
                leader: -1,
                leader_epoch: 1,
                partition_epoch: 1
            }
        )]
    );
    // The old leader is a follower of nobody too.
    assert_eq!(
        kinds(&local_changes(&old, &new, 1))[0].2,
        LocalChangeKind::BecomeFollower {
            leader: -1,
            leader_epoch: 1,
            partition_epoch: 1
        }
    );
}

#[test]
fn a_reassignment_adds_a_follower_and_deletes_the_removed_replica() {
    let old = three_brokers_one_topic();
    let mut adding = old.clone();
    // Stage 1: add 4, remove 3.
    adding
        .apply(
            6,
            &MetadataRecord::PartitionChange {
                topic_id: tid(1),
                partition: 0,
                leader: None,
                isr: None,
                replicas: Some(vec![1, 2, 4, 3]),
                adding_replicas: Some(vec![4]),
                removing_replicas: Some(vec![3]),
            },
        )
        .unwrap();
    assert_eq!(
        kinds(&local_changes(&old, &adding, 4)),
        vec![(
            "t".into(),
            0,
            LocalChangeKind::BecomeFollower {
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 1
            }
        )]
    );
    assert_eq!(
        kinds(&local_changes(&old, &adding, 1)),
        vec![(
            "t".into(),
            0,
            LocalChangeKind::IsrChanged {
                partition_epoch: 1,
                replicas: vec![1, 2, 4, 3],
                isr: vec![1, 2, 3]
            }
        )]
    );
    // Stage 2: done; 3 leaves (with a leader epoch bump, as Kafka does).
    let mut done = adding.clone();
    done.apply(
        7,
        &MetadataRecord::PartitionChange {
            topic_id: tid(1),
            partition: 0,
            leader: Some(1),
            isr: Some(vec![1, 2, 4]),
            replicas: Some(vec![1, 2, 4]),
            adding_replicas: Some(vec![]),
            removing_replicas: Some(vec![]),
        },
    )
    .unwrap();
    assert_eq!(
        kinds(&local_changes(&adding, &done, 3)),
        vec![("t".into(), 0, LocalChangeKind::Delete)]
    );
    assert_eq!(
        kinds(&local_changes(&adding, &done, 1)),
        vec![("t".into(), 0, leader_of(1, 2, &[1, 2, 4], &[1, 2, 4]))]
    );
}

#[test]
fn a_deleted_or_recreated_topic_deletes_the_old_replicas_first() {
    let old = three_brokers_one_topic();
    let mut deleted = old.clone();
    deleted
        .apply(6, &MetadataRecord::RemoveTopic { topic_id: tid(1) })
        .unwrap();
    assert_eq!(
        kinds(&local_changes(&old, &deleted, 3)),
        vec![
            ("t".into(), 0, LocalChangeKind::Delete),
            ("t".into(), 1, LocalChangeKind::Delete)
        ]
    );
    let mut recreated = deleted.clone();
    let errors = recreated.apply_batch(
        7,
        &[
            MetadataRecord::Topic {
                name: "t".into(),
                topic_id: tid(2),
            },
            partition(tid(2), 0, &[3], 3),
        ],
    );
    assert!(errors.is_empty());
    let changes = local_changes(&old, &recreated, 3);
    assert_eq!(
        changes.iter().map(|c| c.topic_id).collect::<Vec<_>>(),
        vec![tid(1), tid(1), tid(2)]
    );
    assert_eq!(
        kinds(&changes),
        vec![
            ("t".into(), 0, LocalChangeKind::Delete),
            ("t".into(), 1, LocalChangeKind::Delete),
            ("t".into(), 0, leader_of(0, 0, &[3], &[3])),
        ]
    );
}
