//! The leader's checks on a follower Fetch: leader epoch fencing, diverging epochs, and
//! offsets out of range.

use super::*;

/// The leader's log: epoch 0 from 0, epoch 2 from 50, epoch 5 (current) from 120; ends at
/// 150, starts at `log_start`.
fn check(
    current_leader_epoch: Option<i32>,
    last_fetched_epoch: Option<i32>,
    fetch_offset: i64,
    log_start: i64,
) -> FetchValidation {
    let cache = FakeLog::new(&[(0, 0), (2, 50), (5, 120)], 150);
    check_follower_fetch(
        5,
        current_leader_epoch,
        last_fetched_epoch,
        fetch_offset,
        log_start,
        150,
        |e| cache.end_offset_for(e),
    )
}

#[test]
fn fetch_with_older_leader_epoch_is_fenced() {
    let v = check(Some(4), Some(5), 150, 0);
    assert_eq!(v, FetchValidation::FencedLeaderEpoch);
    assert_eq!(v.error_code(), ResponseError::FencedLeaderEpoch.code());
}

#[test]
fn fetch_with_newer_leader_epoch_is_unknown() {
    let v = check(Some(6), Some(5), 150, 0);
    assert_eq!(v, FetchValidation::UnknownLeaderEpoch);
    assert_eq!(v.error_code(), ResponseError::UnknownLeaderEpoch.code());
}

#[test]
fn clean_fetches_are_ok() {
    assert_eq!(check(Some(5), Some(5), 150, 0), FetchValidation::Ok);
    assert_eq!(check(Some(5), Some(5), 130, 0), FetchValidation::Ok);
    // A follower that stopped in epoch 2 at 50 (epoch 2 ends at 120 here).
    assert_eq!(check(Some(5), Some(2), 50, 0), FetchValidation::Ok);
    assert_eq!(check(Some(5), Some(2), 120, 0), FetchValidation::Ok);
    // No epochs in the request (an old client): only the offset range is checked.
    assert_eq!(check(None, None, 0, 0), FetchValidation::Ok);
    assert_eq!(FetchValidation::Ok.error_code(), 0);
}

#[test]
fn follower_ahead_in_the_same_epoch_diverges_at_the_leader_end_of_that_epoch() {
    // The follower wrote 120..130 in epoch 2; the leader's epoch 2 ends at 120.
    let v = check(Some(5), Some(2), 130, 0);
    assert_eq!(
        v,
        FetchValidation::Diverging {
            epoch: 2,
            end_offset: 120
        }
    );
    assert_eq!(v.error_code(), 0);
}

#[test]
fn follower_epoch_the_leader_never_had_diverges_at_the_largest_lower_epoch() {
    // The follower wrote in epoch 3, which the leader never had: even below the end of the
    // leader's epoch 2 it diverges, at the end of epoch 2.
    for fetch_offset in [110, 125] {
        assert_eq!(
            check(Some(5), Some(3), fetch_offset, 0),
            FetchValidation::Diverging {
                epoch: 2,
                end_offset: 120
            }
        );
    }
}

#[test]
fn epoch_older_than_the_leader_cache_diverges_at_its_first_entry() {
    let cache = FakeLog::new(&[(2, 0), (5, 120)], 150);
    let v = check_follower_fetch(5, Some(5), Some(1), 10, 0, 150, |e| cache.end_offset_for(e));
    assert_eq!(
        v,
        FetchValidation::Diverging {
            epoch: 1,
            end_offset: 0
        }
    );
}

#[test]
fn last_fetched_epoch_newer_than_the_leader_cache_is_out_of_range() {
    let v = check(Some(5), Some(7), 150, 0);
    assert_eq!(v, FetchValidation::OffsetOutOfRange);
    assert_eq!(v.error_code(), ResponseError::OffsetOutOfRange.code());
}

#[test]
fn fetch_below_log_start_is_out_of_range_even_when_diverging() {
    assert_eq!(
        check(Some(5), Some(3), 55, 60),
        FetchValidation::OffsetOutOfRange
    );
    assert_eq!(
        check(Some(5), None, 55, 60),
        FetchValidation::OffsetOutOfRange
    );
}

#[test]
fn fetch_beyond_log_end_is_out_of_range() {
    assert_eq!(
        check(Some(5), None, 151, 0),
        FetchValidation::OffsetOutOfRange
    );
    assert_eq!(check(Some(5), None, 150, 0), FetchValidation::Ok);
}

#[test]
fn wire_minus_one_epochs_are_treated_as_absent() {
    assert_eq!(check(Some(-1), Some(-1), 150, 0), FetchValidation::Ok);
}
