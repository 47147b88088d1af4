use super::*;
use crate::cluster::image::{local_changes, LocalChangeKind};
use crate::controller::errors::*;

fn reassign(
    c: &Cluster,
    topic: &str,
    p: i32,
    target: Option<&[i32]>,
) -> ControllerResult<Vec<TopicPartitionsResult>> {
    c.c.alter_partition_reassignments(
        &c.image,
        &[ReassignableTopic {
            name: topic.into(),
            partitions: vec![ReassignablePartition {
                partition: p,
                replicas: target.map(<[i32]>::to_vec),
            }],
        }],
    )
}

fn result(r: &ControllerResult<Vec<TopicPartitionsResult>>) -> Result<(), ApiError> {
    r.response[0].partitions[0].result.clone()
}

fn setup() -> (Cluster, Uuid) {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3, 4]);
    let t = c.create("t", &[&[1, 2, 3]]);
    (c, t)
}

#[test]
fn a_reassignment_adds_replicas_waits_for_them_then_switches_and_removes() {
    let (mut c, t) = setup();
    let before = c.image.clone();
    let r = reassign(&c, "t", 0, Some(&[2, 3, 4]));
    assert_eq!(result(&r), Ok(()));
    assert_eq!(
        r.records,
        vec![pc(t, 0)
            .replicas(&[2, 3, 4, 1])
            .adding(&[4])
            .removing(&[1])
            .build()]
    );
    c.commit(&r.records);
    let p = c.part("t", 0);
    assert_eq!(summary(&p), (1, 0, 1, vec![1, 2, 3]));
    assert!(p.is_reassigning());
    // The new replica starts following the leader.
    assert_eq!(
        local_changes(&before, &c.image, 4)[0].kind,
        LocalChangeKind::BecomeFollower {
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 1
        }
    );
    // Nothing completes while 4 is out of sync.
    assert_eq!(c.tick(), vec![]);
    // 4 catches up: the leader's ISR expansion completes the reassignment, and since the
    // leader itself is being removed, leadership moves to the first target replica.
    let stage2 = c.image.clone();
    let req = alter_isr_request(&c, "t", 0, &[1, 2, 3, 4]);
    let r = c.c.alter_partition(&c.image, &req);
    assert_eq!(
        r.records,
        vec![pc(t, 0)
            .leader(2)
            .isr(&[2, 3, 4])
            .replicas(&[2, 3, 4])
            .adding(&[])
            .removing(&[])
            .build()]
    );
    assert_eq!(
        r.response.unwrap()[0].partitions[0].result,
        Err(ApiError::of(NEW_LEADER_ELECTED))
    );
    c.commit(&r.records);
    let p = c.part("t", 0);
    assert_eq!(summary(&p), (2, 1, 2, vec![2, 3, 4]));
    assert_eq!(p.replicas, vec![2, 3, 4]);
    assert!(!p.is_reassigning());
    assert_eq!(
        local_changes(&stage2, &c.image, 1)[0].kind,
        LocalChangeKind::Delete
    );
    assert!(matches!(
        local_changes(&stage2, &c.image, 2)[0].kind,
        LocalChangeKind::BecomeLeader {
            leader_epoch: 1,
            ..
        }
    ));
}

#[test]
fn reordering_replicas_completes_at_once_without_a_leader_change() {
    let (mut c, t) = setup();
    let r = reassign(&c, "t", 0, Some(&[3, 2, 1]));
    assert_eq!(r.records, vec![pc(t, 0).replicas(&[3, 2, 1]).build()]);
    c.commit(&r.records);
    assert_eq!(summary(&c.part("t", 0)), (1, 0, 1, vec![1, 2, 3]));
    assert!(!c.part("t", 0).has_preferred_leader());
}

#[test]
fn removing_an_in_sync_replica_completes_at_once_and_bumps_the_leader_epoch() {
    let (mut c, t) = setup();
    let r = reassign(&c, "t", 0, Some(&[1, 2]));
    assert_eq!(
        r.records,
        vec![pc(t, 0).leader(1).isr(&[1, 2]).replicas(&[1, 2]).build()]
    );
    c.commit(&r.records);
    assert_eq!(summary(&c.part("t", 0)), (1, 1, 1, vec![1, 2]));
}

#[test]
fn cancelling_reverts_to_the_original_replicas() {
    let (mut c, t) = setup();
    let r = reassign(&c, "t", 0, None);
    assert_eq!(r.records, vec![]);
    assert_eq!(
        result(&r),
        // Kafka answers a cancel with nothing to cancel without a message.
        Err(ApiError {
            code: NO_REASSIGNMENT_IN_PROGRESS,
            message: None
        })
    );
    let r = reassign(&c, "t", 0, Some(&[2, 3, 4]));
    c.commit(&r.records);
    let r = reassign(&c, "t", 0, None);
    assert_eq!(result(&r), Ok(()));
    // Kafka's revert: the replicas minus those being added (in the reassignment's order).
    assert_eq!(
        r.records,
        vec![pc(t, 0)
            .leader(1)
            .replicas(&[2, 3, 1])
            .adding(&[])
            .removing(&[])
            .build()]
    );
    c.commit(&r.records);
    let p = c.part("t", 0);
    assert_eq!(summary(&p), (1, 1, 2, vec![1, 2, 3]));
    assert!(!p.is_reassigning());
}

#[test]
fn invalid_targets_and_unknown_partitions_are_refused() {
    let (c, _) = setup();
    let cases: Vec<(&str, i32, &[i32], ApiError)> = vec![
        (
            "t",
            0,
            &[],
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "The manual partition assignment includes an empty replica list.",
            ),
        ),
        (
            "t",
            0,
            &[1, 9],
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "The manual partition assignment includes broker 9, but no such broker is registered.",
            ),
        ),
        (
            "t",
            0,
            &[2, 2],
            ApiError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "The manual partition assignment includes the broker 2 more than once.",
            ),
        ),
        (
            "t",
            5,
            &[1],
            ApiError::new(UNKNOWN_TOPIC_OR_PARTITION, "Unable to find partition t:5."),
        ),
        (
            "x",
            0,
            &[1],
            ApiError::new(UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named x."),
        ),
    ];
    for (topic, p, target, expected) in cases {
        let r = reassign(&c, topic, p, Some(target));
        assert_eq!(r.records, vec![]);
        assert_eq!(result(&r), Err(expected));
    }
}

#[test]
fn a_tick_completes_a_reassignment_whose_targets_are_already_in_sync() {
    let (mut c, t) = setup();
    // A log written by a controller that stopped before completing it.
    c.commit(&[pc(t, 0)
        .replicas(&[1, 2, 3, 4])
        .isr(&[1, 2, 3, 4])
        .adding(&[4])
        .build()]);
    assert!(c.part("t", 0).is_reassigning());
    assert_eq!(c.tick(), vec![pc(t, 0).adding(&[]).build()]);
    assert!(!c.part("t", 0).is_reassigning());
}
