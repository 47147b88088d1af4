//! ISR changes: expansion when a follower reaches the high watermark in the current epoch,
//! shrink after replica.lag.time.max.ms without catching up, one proposal at a time, the
//! controller's answers and metadata updates.

use super::*;

fn committed(partition_epoch: i32, isr: &[i32]) -> CommittedPartitionState {
    CommittedPartitionState {
        leader_epoch: LEADER_EPOCH,
        partition_epoch,
        isr: isr.to_vec(),
    }
}

#[test]
fn follower_reaching_high_watermark_is_proposed_into_isr() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1, 0);
    assert_eq!(fetched(&mut l, 3, 5, 1).propose_isr, None);
    let p = fetched(&mut l, 3, 10, 2).propose_isr.expect("proposal");
    assert_eq!(
        p,
        IsrProposal {
            sequence: 1,
            leader_id: 1,
            leader_epoch: LEADER_EPOCH,
            partition_epoch: PARTITION_EPOCH,
            new_isr: vec![
                BrokerState {
                    broker_id: 1,
                    broker_epoch: LOCAL_BROKER_EPOCH
                },
                BrokerState {
                    broker_id: 2,
                    broker_epoch: -1
                },
                BrokerState {
                    broker_id: 3,
                    broker_epoch: -1
                },
            ],
            change: IsrChange::Expand { replica_id: 3 },
        }
    );
    // Proposed, not committed: the ISR is unchanged, the maximal ISR counts 3 already.
    assert_eq!(l.isr(), &[1, 2]);
    assert_eq!(l.maximal_isr(), vec![1, 2, 3]);
    assert_eq!(l.pending_proposal(), Some(&p));
}

#[test]
fn expansion_waits_for_follower_to_reach_the_leader_epoch_start() {
    // The new leader's log ends at 20 but its high watermark is only 10.
    let mut l = leader(&[1, 2, 3], &[1, 2], 20, 10, 1, 0);
    assert_eq!(l.leader_epoch_start_offset(), 20);
    // 15 >= HW but below the epoch start: 3 may miss committed data, so it is not in sync.
    assert_eq!(fetched(&mut l, 3, 15, 1).propose_isr, None);
    let p = fetched(&mut l, 3, 20, 2).propose_isr.expect("proposal");
    assert_eq!(p.change, IsrChange::Expand { replica_id: 3 });
}

#[test]
fn maximal_isr_holds_high_watermark_during_pending_expansion() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1, 0);
    fetched(&mut l, 2, 10, 1);
    let p = fetched(&mut l, 3, 10, 2).propose_isr.unwrap();
    l.on_local_append(30, 3);
    assert_eq!(fetched(&mut l, 2, 30, 4).new_high_watermark, None);
    assert_eq!(l.high_watermark(), 10);
    let out = l.on_proposal_result(p.sequence, Ok(committed(11, &[1, 2, 3])), 5);
    assert_eq!(out, ProposalOutcome::default());
    assert_eq!(l.isr(), &[1, 2, 3]);
    assert_eq!(l.partition_epoch(), 11);
    assert_eq!(l.pending_proposal(), None);
    assert_eq!(fetched(&mut l, 3, 30, 6).new_high_watermark, Some(30));
}

#[test]
fn only_one_isr_proposal_is_in_flight() {
    let mut l = leader(&[1, 2, 3, 4], &[1, 2], 10, 10, 1, 0);
    let p = fetched(&mut l, 3, 10, 1).propose_isr.unwrap();
    // 4 is also in sync, and 2 has lagged past the limit: neither is proposed meanwhile.
    assert_eq!(fetched(&mut l, 4, 10, 2).propose_isr, None);
    assert_eq!(l.check_isr_shrink(LAG_MS + 1, 10), None);
    assert_eq!(l.out_of_sync_replicas(LAG_MS + 1), Vec::<i32>::new());
    l.on_proposal_result(p.sequence, Ok(committed(11, &[1, 2, 3])), LAG_MS + 2);
    // Now the next change goes out: the shrink first (the fetch path would wait for it).
    let shrink = l.check_isr_shrink(LAG_MS + 3, 10).expect("shrink");
    assert_eq!(shrink.sequence, 2);
    assert_eq!(shrink.partition_epoch, 11);
    assert_eq!(shrink.change, IsrChange::Shrink { removed: vec![2] });
    assert_eq!(fetched(&mut l, 4, 10, LAG_MS + 4).propose_isr, None);
}

#[test]
fn isr_shrinks_after_lag_time_without_catching_up() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 10, 10, 1, 0);
    fetched(&mut l, 2, 10, 1_000);
    // 3 never fetched: caught up only as of becoming leader (t=0).
    assert_eq!(l.check_isr_shrink(LAG_MS, 10), None);
    let p = l.check_isr_shrink(LAG_MS + 1, 10).expect("shrink");
    assert_eq!(p.change, IsrChange::Shrink { removed: vec![3] });
    assert_eq!(p.new_isr_ids(), vec![1, 2]);
    // Pending shrink: the committed and maximal ISR still hold 3.
    assert_eq!(l.isr(), &[1, 2, 3]);
    assert_eq!(l.maximal_isr(), vec![1, 2, 3]);
    l.on_proposal_result(p.sequence, Ok(committed(11, &[1, 2])), LAG_MS + 2);
    assert_eq!(l.isr(), &[1, 2]);
    assert_eq!(l.lagging_replicas(), vec![3]);
    assert!(l.is_under_replicated());
}

#[test]
fn follower_fetching_but_never_reaching_leader_end_is_out_of_sync() {
    let mut l = leader(&[1, 2], &[1, 2], 100, 100, 1, 0);
    // Every second the leader appends 10 records and 2 fetches, always one append behind:
    // its fetch offset is below the leader's end now and at its previous fetch.
    let mut leo = 100;
    let mut t = 0;
    while t <= LAG_MS + 1_000 {
        leo += 10;
        t += 1_000;
        l.on_local_append(leo, t);
        fetched(&mut l, 2, leo - 20, t);
    }
    assert_eq!(l.follower(2).unwrap().last_caught_up_time_ms, 0);
    let p = l.check_isr_shrink(t, leo).expect("2 is out of sync");
    assert_eq!(p.change, IsrChange::Shrink { removed: vec![2] });
    assert_eq!(p.new_isr_ids(), vec![1]);
}

#[test]
fn follower_reaching_leader_end_of_its_previous_fetch_stays_in_sync() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 1, 0);
    // Produces arrive between every two fetches, so 2 is never at the leader's current end,
    // but each fetch reaches the end the leader had at the previous fetch.
    let mut leo = 0;
    let mut t = 0;
    while t <= 2 * LAG_MS {
        let previous_leo = leo;
        leo += 10;
        t += 1_000;
        l.on_local_append(leo, t);
        l.on_follower_fetch(fetch(2, previous_leo, leo, t)).unwrap();
    }
    assert_eq!(l.follower(2).unwrap().last_caught_up_time_ms, t - 1_000);
    assert_eq!(l.check_isr_shrink(t, leo), None);
}

#[test]
fn shrink_never_removes_the_leader() {
    let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1, 0);
    let p = l.check_isr_shrink(10 * LAG_MS, 10).expect("shrink");
    assert_eq!(p.new_isr_ids(), vec![1]);
    l.on_proposal_result(p.sequence, Ok(committed(11, &[1])), 10 * LAG_MS);
    assert_eq!(l.check_isr_shrink(20 * LAG_MS, 10), None);
    assert_eq!(l.isr(), &[1]);
}

#[test]
fn follower_at_leader_end_is_in_sync_however_long_ago_it_caught_up() {
    let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1, 0);
    fetched(&mut l, 2, 10, 1);
    // No appends since: 2 stays at the leader's end and is never out of sync.
    assert_eq!(l.check_isr_shrink(100 * LAG_MS, 10), None);
}

#[test]
fn rejected_proposal_reverts_to_committed_state() {
    let mut l = leader(&[1, 2], &[1], 10, 10, 1, 0);
    let p = fetched(&mut l, 2, 10, 1).propose_isr.unwrap();
    let out = l.on_proposal_result(
        p.sequence,
        Err(ResponseError::OperationNotAttempted.code()),
        2,
    );
    assert_eq!(out, ProposalOutcome::default());
    assert_eq!(l.pending_proposal(), None);
    assert_eq!(l.maximal_isr(), vec![1]);
    // The next fetch proposes again, as a new proposal.
    let again = fetched(&mut l, 2, 10, 3).propose_isr.unwrap();
    assert_eq!(again.sequence, 2);
    assert_eq!(again.change, IsrChange::Expand { replica_id: 2 });
}

#[test]
fn proposal_refused_for_stale_state_stays_pending_until_metadata() {
    for code in [
        ResponseError::FencedLeaderEpoch.code(),
        ResponseError::InvalidUpdateVersion.code(),
        ResponseError::UnknownTopicOrPartition.code(),
        ResponseError::UnknownTopicId.code(),
        ResponseError::InvalidRequest.code(),
        ResponseError::NewLeaderElected.code(),
    ] {
        let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1, 0);
        let p = fetched(&mut l, 3, 10, 1).propose_isr.unwrap();
        assert_eq!(
            l.on_proposal_result(p.sequence, Err(code), 2),
            ProposalOutcome::default(),
            "code {code}"
        );
        assert_eq!(l.pending_proposal(), Some(&p), "code {code}");
        assert_eq!(l.check_isr_shrink(LAG_MS + 1, 10), None, "code {code}");
        // The image brings the partition's state: the pending change is dropped.
        let update = PartitionUpdate {
            leader_epoch: LEADER_EPOCH,
            partition_epoch: PARTITION_EPOCH + 1,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2],
        };
        l.on_partition_update(&update, 10, LAG_MS + 2);
        assert_eq!(l.pending_proposal(), None, "code {code}");
        assert_eq!(l.partition_epoch(), PARTITION_EPOCH + 1);
    }
}

#[test]
fn unexpected_proposal_error_resends_the_same_proposal() {
    let mut l = leader(&[1, 2], &[1], 10, 10, 1, 0);
    let p = fetched(&mut l, 2, 10, 1).propose_isr.unwrap();
    let out = l.on_proposal_result(p.sequence, Err(ResponseError::NotController.code()), 2);
    assert_eq!(out.resend, Some(p.clone()));
    assert_eq!(l.pending_proposal(), Some(&p));
}

#[test]
fn stale_proposal_results_are_ignored() {
    let mut l = leader(&[1, 2], &[1], 10, 10, 1, 0);
    let p = fetched(&mut l, 2, 10, 1).propose_isr.unwrap();
    // Another proposal's answer.
    l.on_proposal_result(p.sequence + 7, Ok(committed(11, &[1, 2])), 2);
    assert_eq!(l.isr(), &[1]);
    // An answer in another leader epoch, or older than our partition epoch.
    let other_epoch = CommittedPartitionState {
        leader_epoch: LEADER_EPOCH + 1,
        partition_epoch: 11,
        isr: vec![1, 2],
    };
    l.on_proposal_result(p.sequence, Ok(other_epoch), 3);
    l.on_proposal_result(p.sequence, Ok(committed(9, &[1, 2])), 4);
    assert_eq!(l.isr(), &[1]);
    assert_eq!(l.pending_proposal(), Some(&p));
    // The same partition epoch (nothing changed on the controller) still commits.
    l.on_proposal_result(p.sequence, Ok(committed(PARTITION_EPOCH, &[1, 2])), 5);
    assert_eq!(l.isr(), &[1, 2]);
    assert_eq!(l.pending_proposal(), None);
}

#[test]
fn partition_update_replaces_replicas_and_isr_and_ignores_older_epochs() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 10, 10, 1, 0);
    let older = PartitionUpdate {
        leader_epoch: LEADER_EPOCH,
        partition_epoch: PARTITION_EPOCH - 1,
        replicas: vec![1],
        isr: vec![1],
    };
    assert_eq!(l.on_partition_update(&older, 10, 1), None);
    assert_eq!(l.isr(), &[1, 2, 3]);
    // Reassignment: 3 leaves, 4 joins (unknown offset, never caught up).
    let update = PartitionUpdate {
        leader_epoch: LEADER_EPOCH,
        partition_epoch: PARTITION_EPOCH + 1,
        replicas: vec![1, 2, 4],
        isr: vec![1, 2],
    };
    l.on_partition_update(&update, 10, 2);
    assert_eq!(l.replicas(), &[1, 2, 4]);
    assert_eq!(l.isr(), &[1, 2]);
    assert_eq!(l.follower(3), None);
    let f4 = l.follower(4).unwrap();
    assert_eq!(f4.log_end_offset, UNKNOWN_OFFSET);
    assert_eq!(f4.last_caught_up_time_ms, NEVER_MS);
    assert_eq!(
        l.on_follower_fetch(fetch(3, 10, 10, 3)),
        Err(FollowerFetchError::UnknownReplica(3))
    );
}

#[test]
fn new_leader_epoch_restarts_epoch_start_and_follower_timers() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1, 0);
    fetched(&mut l, 2, 10, 1_000);
    fetched(&mut l, 3, 4, 1_000);
    l.on_local_append(40, 2_000);
    let update = PartitionUpdate {
        leader_epoch: LEADER_EPOCH + 1,
        partition_epoch: PARTITION_EPOCH + 1,
        replicas: vec![1, 2, 3],
        isr: vec![1, 2],
    };
    l.on_partition_update(&update, 40, 5_000);
    assert_eq!(l.leader_epoch(), LEADER_EPOCH + 1);
    assert_eq!(l.leader_epoch_start_offset(), 40);
    let f2 = *l.follower(2).unwrap();
    assert_eq!(
        (
            f2.log_end_offset,
            f2.last_caught_up_time_ms,
            f2.last_fetch_time_ms
        ),
        (10, 5_000, 5_000)
    );
    assert_eq!(f2.last_fetch_leader_log_end_offset, 40);
    let f3 = *l.follower(3).unwrap();
    assert_eq!(
        (
            f3.log_end_offset,
            f3.last_caught_up_time_ms,
            f3.last_fetch_time_ms
        ),
        (4, NEVER_MS, NEVER_MS)
    );
    // 3 must now reach 40 (the new epoch's start) to be proposed, even past the HW.
    assert_eq!(fetched(&mut l, 3, 30, 5_001).propose_isr, None);
}

#[test]
fn stale_broker_epoch_fetch_is_refused_and_matching_one_joins_with_its_epoch() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1, 0);
    l.set_broker_status(3, BrokerStatus::Alive { broker_epoch: 50 }, 0);
    let mut f = fetch(3, 10, 10, 1);
    f.broker_epoch = 40;
    let err = l.on_follower_fetch(f).unwrap_err();
    assert_eq!(
        err,
        FollowerFetchError::StaleBrokerEpoch {
            replica: 3,
            fetched: 40,
            expected: 50
        }
    );
    assert_eq!(
        err.error_code(true),
        ResponseError::NotLeaderOrFollower.code()
    );
    assert_eq!(l.follower(3).unwrap().log_end_offset, UNKNOWN_OFFSET);
    f.broker_epoch = 50;
    let p = l.on_follower_fetch(f).unwrap().propose_isr.unwrap();
    assert_eq!(
        p.new_isr[2],
        BrokerState {
            broker_id: 3,
            broker_epoch: 50
        }
    );
}

#[test]
fn ineligible_or_restarted_broker_is_not_added_to_isr() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1, 0);
    l.set_broker_status(3, BrokerStatus::Ineligible, 0);
    assert_eq!(fetched(&mut l, 3, 10, 1).propose_isr, None);
    // Alive again with broker epoch 60 in our image. A fetch carrying 70 (the broker
    // re-registered and our image is behind) is accepted, but the replica is not eligible
    // until its fetch epoch matches the image's (or is -1).
    l.set_broker_status(3, BrokerStatus::Alive { broker_epoch: 60 }, 2);
    let mut f = fetch(3, 10, 10, 3);
    f.broker_epoch = 70;
    assert_eq!(l.on_follower_fetch(f).unwrap().propose_isr, None);
    f.broker_epoch = -1;
    assert!(l.on_follower_fetch(f).unwrap().propose_isr.is_some());
}

#[test]
fn unknown_replica_fetch_is_refused() {
    let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1, 0);
    for id in [9, LOCAL] {
        let err = l.on_follower_fetch(fetch(id, 10, 10, 1)).unwrap_err();
        assert_eq!(err, FollowerFetchError::UnknownReplica(id));
        assert_eq!(
            err.error_code(true),
            ResponseError::UnknownLeaderEpoch.code()
        );
        assert_eq!(
            err.error_code(false),
            ResponseError::NotLeaderOrFollower.code()
        );
    }
}
