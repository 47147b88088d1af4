//! Follower truncation: the offset to truncate to for a diverging epoch (each case of Kafka's
//! getOffsetTruncationState), the OFFSET_OUT_OF_RANGE rule, and where a partition starts.

use super::*;

#[test]
fn same_epoch_truncates_to_the_smaller_end_offset() {
    // Leader's epoch 2 ends at 120, ours at 130 (we wrote 120..130 in epoch 2).
    assert_eq!(
        truncation_offset_for_diverging((2, 120), (2, 130), 135),
        120
    );
    // Ours ends first (we have epoch 4 from 110 on, which the leader lacks).
    assert_eq!(
        truncation_offset_for_diverging((2, 120), (2, 110), 135),
        110
    );
}

#[test]
fn leader_epoch_unknown_locally_truncates_to_our_largest_lower_epoch() {
    // The leader answers epoch 3; we have epochs 0, 2 (ending at 100) and 4.
    assert_eq!(
        truncation_offset_for_diverging((3, 200), (2, 100), 150),
        100
    );
}

#[test]
fn nothing_known_locally_truncates_to_the_leader_end_offset() {
    assert_eq!(
        truncation_offset_for_diverging((3, 90), (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET), 150),
        90
    );
}

#[test]
fn leader_without_epoch_truncates_to_its_end_offset() {
    assert_eq!(
        truncation_offset_for_diverging((UNDEFINED_EPOCH, 90), (2, 100), 150),
        90
    );
}

#[test]
fn leader_without_end_offset_keeps_the_log() {
    assert_eq!(
        truncation_offset_for_diverging((3, UNDEFINED_EPOCH_OFFSET), (2, 100), 150),
        150
    );
}

#[test]
fn truncation_never_extends_the_log() {
    assert_eq!(
        truncation_offset_for_diverging((2, 500), (2, 600), 300),
        300
    );
    assert_eq!(
        truncation_offset_for_diverging((3, 500), (2, 600), 300),
        300
    );
    assert_eq!(
        truncation_offset_for_diverging((3, 500), (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET), 300),
        300
    );
}

#[test]
fn truncation_with_a_real_epoch_cache_converges_on_the_common_prefix() {
    // Leader: epochs 0@0, 2@50, 5@120, end 150. Follower: 0@0, 2@50, 3@100, end 140
    // (it led in epoch 3, which the leader never had).
    let leader_log = FakeLog::new(&[(0, 0), (2, 50), (5, 120)], 150);
    let mut follower = FakeLog::new(&[(0, 0), (2, 50), (3, 100)], 140);
    let v = check_follower_fetch(5, Some(5), follower.latest_epoch(), 140, 0, 150, |e| {
        leader_log.end_offset_for(e)
    });
    let FetchValidation::Diverging { epoch, end_offset } = v else {
        panic!("expected diverging, got {v:?}");
    };
    assert_eq!((epoch, end_offset), (2, 120));
    let to = truncation_offset_for_diverging(
        (epoch, end_offset),
        follower.end_offset_for_epoch(epoch),
        follower.log_end_offset(),
    );
    // Our epoch 2 ends at 100 (epoch 3 starts there).
    assert_eq!(to, 100);
    follower.truncate_to(to);
    assert_eq!(follower.latest_epoch(), Some(2));
    // The next fetch, from 100 with last fetched epoch 2, is clean.
    let v = check_follower_fetch(5, Some(5), Some(2), 100, 0, 150, |e| {
        leader_log.end_offset_for(e)
    });
    assert_eq!(v, FetchValidation::Ok);
}

#[test]
fn follower_ahead_of_the_leader_truncates_to_the_leader_end() {
    assert_eq!(
        out_of_range_action(150, 0, 100),
        OutOfRangeAction::TruncateTo { offset: 100 }
    );
}

#[test]
fn follower_behind_the_leader_log_start_truncates_fully_and_starts_there() {
    assert_eq!(
        out_of_range_action(50, 80, 200),
        OutOfRangeAction::TruncateFullyAndStartAt { offset: 80 }
    );
}

#[test]
fn follower_within_the_leader_range_keeps_its_log() {
    assert_eq!(
        out_of_range_action(120, 80, 200),
        OutOfRangeAction::FetchFrom { offset: 120 }
    );
    assert_eq!(
        out_of_range_action(200, 80, 200),
        OutOfRangeAction::FetchFrom { offset: 200 }
    );
    assert_eq!(
        out_of_range_action(80, 80, 200),
        OutOfRangeAction::FetchFrom { offset: 80 }
    );
}

#[test]
fn initial_fetch_offset_is_log_end_with_epochs_else_high_watermark() {
    assert_eq!(initial_fetch_offset(150, 120, Some(5)), 150);
    assert_eq!(initial_fetch_offset(150, 120, None), 120);
}

#[test]
fn new_follower_state_depends_on_what_the_local_log_knows() {
    let init = |fetch_offset, latest_epoch| InitialFetchState {
        topic_id: uuid::Uuid::nil(),
        leader_id: 2,
        leader_epoch: 5,
        fetch_offset,
        latest_epoch,
    };
    let s = FollowerState::new(&init(150, Some(4)));
    assert_eq!(
        (s.status, s.fetch_offset, s.last_fetched_epoch),
        (FetchStatus::Fetching, 150, Some(4))
    );
    let s = FollowerState::new(&init(120, None));
    assert_eq!(
        s.status,
        FetchStatus::Truncating(Truncation::To { offset: 120 })
    );
    let s = FollowerState::new(&init(-1, None));
    assert_eq!(s.status, FetchStatus::ResolvingOutOfRange);
}
