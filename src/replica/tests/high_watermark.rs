//! The high watermark: the minimum log end offset over the (maximal) ISR, never backwards,
//! held by unknown followers after a leader change, and not advanced under min ISR.

use super::*;

#[test]
fn new_leader_keeps_log_high_watermark_until_every_isr_follower_has_fetched() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 100, 80, 1, 0);
    assert_eq!(l.high_watermark(), 80);
    assert_eq!(l.follower(2).unwrap().log_end_offset, UNKNOWN_OFFSET);
    assert_eq!(l.on_local_append(120, 10), None);
    assert_eq!(fetched(&mut l, 2, 100, 20).new_high_watermark, None);
    assert_eq!(l.high_watermark(), 80);
    // Only once 3 is known does the minimum over the ISR move, to 3's offset.
    assert_eq!(fetched(&mut l, 3, 90, 30).new_high_watermark, Some(90));
    assert_eq!(fetched(&mut l, 3, 120, 40).new_high_watermark, Some(100));
    assert_eq!(fetched(&mut l, 2, 120, 50).new_high_watermark, Some(120));
    assert_eq!(l.high_watermark(), 120);
}

#[test]
fn high_watermark_is_the_minimum_over_the_isr_as_followers_fetch() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 0, 0, 1, 0);
    assert_eq!(l.on_local_append(10, 1), None);
    assert_eq!(fetched(&mut l, 2, 0, 2).new_high_watermark, None);
    assert_eq!(fetched(&mut l, 3, 0, 3).new_high_watermark, None);
    assert_eq!(fetched(&mut l, 2, 10, 4).new_high_watermark, None);
    assert_eq!(l.high_watermark(), 0);
    assert_eq!(fetched(&mut l, 3, 7, 5).new_high_watermark, Some(7));
    assert_eq!(fetched(&mut l, 3, 10, 6).new_high_watermark, Some(10));
    assert_eq!(l.high_watermark(), 10);
    assert_eq!(l.follower_lag(2), Some(0));
    assert_eq!(l.on_local_append(25, 7), None);
    assert_eq!(l.follower_lag(3), Some(15));
}

#[test]
fn high_watermark_never_goes_backwards() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 1, 0);
    l.on_local_append(10, 1);
    assert_eq!(fetched(&mut l, 2, 10, 2).new_high_watermark, Some(10));
    // A follower reporting a smaller offset (it truncated) never lowers the high watermark.
    assert_eq!(fetched(&mut l, 2, 4, 3).new_high_watermark, None);
    assert_eq!(l.high_watermark(), 10);
    assert_eq!(l.on_local_append(12, 4), None);
    assert_eq!(l.high_watermark(), 10);
    assert_eq!(fetched(&mut l, 2, 12, 5).new_high_watermark, Some(12));
}

#[test]
fn leader_alone_in_isr_commits_on_local_append() {
    let mut l = leader(&[1, 2], &[1], 0, 0, 1, 0);
    // Replica 2 is outside the ISR and has never caught up: it does not hold the HW back.
    assert_eq!(l.on_local_append(10, 1), Some(10));
    assert_eq!(l.high_watermark(), 10);
}

#[test]
fn new_leader_with_single_member_isr_advances_to_its_log_end_at_once() {
    let l = leader(&[1, 2], &[1], 50, 30, 1, 0);
    assert_eq!(l.high_watermark(), 50);
}

#[test]
fn high_watermark_does_not_advance_under_min_isr() {
    let mut l = leader(&[1, 2, 3], &[1], 0, 0, 2, 0);
    assert!(l.is_under_min_isr());
    assert_eq!(l.on_local_append(10, 1), None);
    assert_eq!(l.high_watermark(), 0);
    // The controller adds 2 to the ISR; the HW waits for 2's offset to be known.
    let update = PartitionUpdate {
        leader_epoch: LEADER_EPOCH,
        partition_epoch: PARTITION_EPOCH + 1,
        replicas: vec![1, 2, 3],
        isr: vec![1, 2],
    };
    assert_eq!(l.on_partition_update(&update, 10, 2), None);
    assert_eq!(fetched(&mut l, 2, 10, 3).new_high_watermark, Some(10));
}

#[test]
fn min_isr_is_capped_by_the_replica_count() {
    let mut l = leader(&[1], &[1], 0, 0, 3, 0);
    assert_eq!(l.effective_min_isr(), 1);
    assert!(!l.is_under_min_isr());
    assert_eq!(l.on_local_append(5, 1), Some(5));
}

#[test]
fn caught_up_replica_outside_isr_holds_high_watermark_until_it_lags() {
    let mut l = leader(&[1, 2], &[1], 10, 10, 1, 0);
    // 2 reaches the leader's end at t=1000: proposed into the ISR...
    let out = fetched(&mut l, 2, 10, 1_000);
    let proposal = out.propose_isr.expect("expansion proposed");
    // ...but the controller does not apply it.
    let res = l.on_proposal_result(
        proposal.sequence,
        Err(ResponseError::OperationNotAttempted.code()),
        1_001,
    );
    assert_eq!(res, ProposalOutcome::default());
    assert_eq!(l.maximal_isr(), vec![1]);
    // 2 is still caught up (by time) and eligible: the leader waits for it to join.
    assert_eq!(l.on_local_append(20, 2_000), None);
    assert_eq!(l.high_watermark(), 10);
    // Once it has lagged for longer than replica.lag.time.max.ms it no longer counts.
    assert_eq!(l.on_local_append(25, 1_000 + LAG_MS + 1), Some(25));
}

#[test]
fn ineligible_caught_up_replica_does_not_hold_high_watermark() {
    let mut l = leader(&[1, 2], &[1], 10, 10, 1, 0);
    let p = fetched(&mut l, 2, 10, 1_000).propose_isr.unwrap();
    l.on_proposal_result(
        p.sequence,
        Err(ResponseError::IneligibleReplica.code()),
        1_001,
    );
    assert_eq!(l.on_local_append(20, 2_000), None);
    // 2's broker is fenced: the HW stops waiting for it.
    assert_eq!(
        l.set_broker_status(2, BrokerStatus::Ineligible, 2_001),
        Some(20)
    );
}

#[test]
fn committed_shrink_lets_high_watermark_advance() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 0, 0, 1, 0);
    l.on_local_append(10, 1);
    fetched(&mut l, 2, 10, 2);
    assert_eq!(l.high_watermark(), 0);
    let p = l
        .check_isr_shrink(LAG_MS + 1, 10)
        .expect("3 is out of sync");
    assert_eq!(p.new_isr_ids(), vec![1, 2]);
    // While the shrink is in flight the HW still waits for 3.
    assert_eq!(l.on_local_append(10, LAG_MS + 2), None);
    let committed = CommittedPartitionState {
        leader_epoch: LEADER_EPOCH,
        partition_epoch: PARTITION_EPOCH + 1,
        isr: vec![1, 2],
    };
    let out = l.on_proposal_result(p.sequence, Ok(committed), LAG_MS + 3);
    assert_eq!(out.new_high_watermark, Some(10));
    assert_eq!(out.resend, None);
}
