//! acks=all: NOT_ENOUGH_REPLICAS before the append, completion when the high watermark
//! reaches the append, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank meanwhile.

use super::*;

#[test]
fn acks_all_refused_before_append_when_isr_is_below_min() {
    let l = leader(&[1, 2, 3], &[1], 0, 0, 2, 0);
    let err = l.check_enough_replicas_for_append().unwrap_err();
    assert_eq!(
        err,
        NotEnoughReplicas {
            isr_size: 1,
            min_isr: 2
        }
    );
    assert_eq!(err.error_code(), ResponseError::NotEnoughReplicas.code());
    let l = leader(&[1, 2, 3], &[1, 3], 0, 0, 2, 0);
    assert_eq!(l.check_enough_replicas_for_append(), Ok(()));
}

#[test]
fn acks_all_before_append_counts_only_the_committed_isr() {
    let mut l = leader(&[1, 2], &[1], 10, 10, 2, 0);
    fetched(&mut l, 2, 10, 1).propose_isr.expect("expansion");
    // 2's addition is in flight: not committed, so still NOT_ENOUGH_REPLICAS.
    assert_eq!(l.maximal_isr(), vec![1, 2]);
    assert!(l.check_enough_replicas_for_append().is_err());
}

#[test]
fn acks_all_waits_for_every_isr_member() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 0, 0, 2, 0);
    l.on_local_append(10, 1);
    assert_eq!(l.check_acks_all(10), AcksAllStatus::Waiting);
    assert_eq!(l.check_acks_all(10).error_code(), None);
    fetched(&mut l, 2, 10, 2);
    assert_eq!(l.check_acks_all(10), AcksAllStatus::Waiting);
    fetched(&mut l, 3, 10, 3);
    assert_eq!(l.check_acks_all(10), AcksAllStatus::Acknowledged);
    assert_eq!(l.check_acks_all(10).error_code(), Some(0));
    assert_eq!(l.check_acks_all(11), AcksAllStatus::Waiting);
}

#[test]
fn acks_all_committed_after_isr_fell_below_min_is_not_enough_replicas_after_append() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 0, 0, 2, 0);
    l.on_local_append(10, 1);
    fetched(&mut l, 2, 10, 2);
    assert_eq!(l.high_watermark(), 10);
    let update = PartitionUpdate {
        leader_epoch: LEADER_EPOCH,
        partition_epoch: PARTITION_EPOCH + 1,
        replicas: vec![1, 2, 3],
        isr: vec![1],
    };
    l.on_partition_update(&update, 10, 3);
    let status = l.check_acks_all(10);
    assert_eq!(status, AcksAllStatus::NotEnoughReplicasAfterAppend);
    assert_eq!(
        status.error_code(),
        Some(ResponseError::NotEnoughReplicasAfterAppend.code())
    );
    // And a new acks=all produce is refused before its append.
    assert!(l.check_enough_replicas_for_append().is_err());
}

#[test]
fn waiters_complete_in_offset_order_when_high_watermark_moves() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 1, 0);
    let mut w = AcksAllWaiters::new();
    w.park(10, 5_000, "a");
    w.park(20, 5_000, "b");
    w.park(15, 3_000, "c");
    assert_eq!(w.len(), 3);
    assert_eq!(w.next_deadline_ms(), Some(3_000));
    l.on_local_append(20, 1);
    assert!(w.complete(&l).is_empty());
    fetched(&mut l, 2, 15, 2);
    assert_eq!(
        w.complete(&l),
        vec![
            ("a", AcksAllStatus::Acknowledged),
            ("c", AcksAllStatus::Acknowledged)
        ]
    );
    assert_eq!(w.expire(4_999), Vec::<&str>::new());
    assert_eq!(w.expire(5_000), vec!["b"]);
    assert!(w.is_empty());
}

#[test]
fn waiters_are_drained_when_leadership_is_lost() {
    let mut w = AcksAllWaiters::new();
    w.park(10, 5_000, 1);
    w.park(10, 6_000, 2);
    w.park(30, 6_000, 3);
    assert_eq!(w.drain(), vec![1, 2, 3]);
    assert!(w.is_empty());
    assert_eq!(w.next_deadline_ms(), None);
}
