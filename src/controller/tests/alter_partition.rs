use super::*;
use crate::controller::errors::*;

fn three() -> (Cluster, Uuid) {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    let t = c.create("t", &[&[1, 2, 3]]);
    (c, t)
}

fn code(r: &Result<PartitionState, ApiError>) -> i16 {
    r.as_ref().err().map_or(NONE, |e| e.code)
}

/// The partition's result for a request edited by `edit`, and the records.
fn try_alter(
    c: &Cluster,
    isr: &[i32],
    edit: impl FnOnce(&mut AlterPartitionRequest),
) -> (Vec<MetadataRecord>, Result<PartitionState, ApiError>) {
    let mut req = alter_isr_request(c, "t", 0, isr);
    edit(&mut req);
    let r = c.c.alter_partition(&c.image, &req);
    let result = r.response.unwrap()[0].partitions[0].result.clone();
    (r.records, result)
}

#[test]
fn the_leader_shrinks_and_expands_the_isr() {
    let (mut c, t) = three();
    let (records, result) = try_alter(&c, &[1, 2], |_| {});
    assert_eq!(records, vec![pc(t, 0).isr(&[1, 2]).build()]);
    assert_eq!(
        result,
        Ok(PartitionState {
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 1,
            isr: vec![1, 2]
        })
    );
    c.commit(&records);
    assert_eq!(summary(&c.part("t", 0)), (1, 0, 1, vec![1, 2]));
    let back = alter_isr(&mut c, "t", 0, &[1, 2, 3]).unwrap();
    assert_eq!(back.isr, vec![1, 2, 3]);
    assert_eq!(summary(&c.part("t", 0)), (1, 0, 2, vec![1, 2, 3]));
}

#[test]
fn an_unchanged_isr_writes_nothing_and_answers_the_current_state() {
    let (c, _) = three();
    let (records, result) = try_alter(&c, &[1, 2, 3], |_| {});
    assert_eq!(records, vec![]);
    assert_eq!(
        result,
        Ok(PartitionState {
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
            isr: vec![1, 2, 3]
        })
    );
}

#[test]
fn a_stale_broker_epoch_fails_the_whole_request() {
    let (c, _) = three();
    let mut req = alter_isr_request(&c, "t", 0, &[1]);
    req.broker_epoch -= 1;
    let r = c.c.alter_partition(&c.image, &req);
    assert_eq!(r.records, vec![]);
    assert_eq!(r.response.unwrap_err().code, STALE_BROKER_EPOCH);
}

#[test]
fn epochs_are_checked_as_kafka_does() {
    let (mut c, _) = three();
    alter_isr(&mut c, "t", 0, &[1, 2]).unwrap();
    // Now leader epoch 0, partition epoch 1.
    let cases: Vec<(i32, i32, i16)> = vec![
        (1, 1, NOT_CONTROLLER),
        (0, 2, NOT_CONTROLLER),
        (0, 0, INVALID_UPDATE_VERSION),
    ];
    for (leader_epoch, partition_epoch, expected) in cases {
        let (records, result) = try_alter(&c, &[1], |r| {
            r.topics[0].partitions[0].leader_epoch = leader_epoch;
            r.topics[0].partitions[0].partition_epoch = partition_epoch;
        });
        assert_eq!(records, vec![]);
        assert_eq!(code(&result), expected, "{leader_epoch}/{partition_epoch}");
    }
    // A leader epoch older than the partition's: FENCED_LEADER_EPOCH.
    c.heartbeat_with(1, true);
    assert_eq!(c.part("t", 0).leader, 2);
    let (_, result) = try_alter(&c, &[2], |r| {
        r.broker_id = 2;
        r.broker_epoch = c.epoch(2);
        r.topics[0].partitions[0].leader_epoch = 0;
    });
    assert_eq!(
        result,
        Err(ApiError::new(
            FENCED_LEADER_EPOCH,
            "The leader epoch of t-0 is 1, not 0."
        ))
    );
}

#[test]
fn only_the_leader_may_change_the_isr_and_it_must_stay_in_it() {
    let (c, t) = three();
    let (_, result) = try_alter(&c, &[2, 3], |r| {
        r.broker_id = 2;
        r.broker_epoch = c.epoch(2);
    });
    assert_eq!(code(&result), INVALID_REQUEST);
    for bad in [&[2, 3][..], &[1, 4], &[1, 1, 2], &[], &[-1, 1]] {
        let (records, result) = try_alter(&c, bad, |_| {});
        assert_eq!(records, vec![]);
        assert_eq!(code(&result), INVALID_REQUEST, "{bad:?}");
    }
    let (_, result) = try_alter(&c, &[1], |r| r.topics[0].topic_id = Uuid::from_u128(99));
    assert_eq!(result, Err(ApiError::of(UNKNOWN_TOPIC_ID)));
    let (_, result) = try_alter(&c, &[1], |r| r.topics[0].partitions[0].partition = 5);
    assert_eq!(code(&result), UNKNOWN_TOPIC_OR_PARTITION);
    assert_eq!(c.image.topic_by_id(&t).unwrap().partitions.len(), 1);
}

#[test]
fn fenced_shutting_down_and_stale_members_are_ineligible() {
    let (mut c, _) = three();
    alter_isr(&mut c, "t", 0, &[1, 2]).unwrap();
    // 3 is fenced (its session expires).
    c.advance(TIMEOUT + 1);
    c.heartbeat_all_but(&[3]);
    c.tick();
    let (records, result) = try_alter(&c, &[1, 2, 3], |_| {});
    assert_eq!(records, vec![]);
    assert_eq!(
        result,
        Err(ApiError::new(
            INELIGIBLE_REPLICA,
            "The new ISR of t-0 has ineligible replicas: 3 (fenced)."
        ))
    );
    // 3 returns with a new epoch: the leader's view of its epoch is checked.
    let e3 = c.register(3, None);
    c.heartbeat(3);
    let (_, result) = try_alter(&c, &[1, 2, 3], |r| {
        r.topics[0].partitions[0].new_isr[2].broker_epoch = e3 - 1;
    });
    assert_eq!(code(&result), INELIGIBLE_REPLICA);
    let (_, result) = try_alter(&c, &[1, 2, 3], |r| {
        r.topics[0].partitions[0].new_isr[2].broker_epoch = e3;
    });
    assert_eq!(result.unwrap().isr, vec![1, 2, 3]);
    // A broker in controlled shutdown (it leads w-0, so it does not stop at once) may not
    // join an ISR.
    c.create("u", &[&[1, 2]]);
    c.create("w", &[&[2, 1]]);
    assert!(c.heartbeat_with(2, true).in_controlled_shutdown);
    assert_eq!(c.part("u", 0).isr, vec![1]);
    let req = alter_isr_request(&c, "u", 0, &[1, 2]);
    let r = c.c.alter_partition(&c.image, &req);
    assert_eq!(
        r.response.unwrap()[0].partitions[0].result,
        Err(ApiError::new(
            INELIGIBLE_REPLICA,
            "The new ISR of u-0 has ineligible replicas: 2 (shutting down)."
        ))
    );
}
