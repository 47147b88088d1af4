//! The replica fetcher's decisions: the requests it builds, and what each response (data,
//! diverging epoch, each error code) makes it do.

use uuid::Uuid;

use super::*;

const BACKOFF_MS: i64 = 1_000;
const LEADER: i32 = 2;

fn topic_id() -> Uuid {
    Uuid::from_u128(0x1234)
}

fn plan() -> FetcherPlan {
    FetcherPlan::new(
        LEADER,
        FetcherConfig {
            partition_max_bytes: 1_048_576,
            fetch_backoff_ms: BACKOFF_MS,
        },
    )
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("orders", partition)
}

fn init(leader_epoch: i32, fetch_offset: i64, latest_epoch: Option<i32>) -> InitialFetchState {
    InitialFetchState {
        topic_id: topic_id(),
        leader_id: LEADER,
        leader_epoch,
        fetch_offset,
        latest_epoch,
    }
}

/// A plan following orders-0 in epoch 5 from 100 (local log: epochs 0@0, 4@80, end 100).
fn following() -> (FetcherPlan, FakeLog) {
    let mut p = plan();
    p.add_partition(tp(0), init(5, 100, Some(4)));
    (p, FakeLog::new(&[(0, 0), (4, 80)], 100))
}

fn only_request(p: &mut FetcherPlan, now_ms: i64) -> PartitionFetchRequest {
    let mut reqs = p.build_requests(now_ms, |_| Some(0));
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    reqs.remove(0)
}

fn response(error_code: i16) -> PartitionFetchResponse {
    PartitionFetchResponse {
        error_code,
        high_watermark: 150,
        log_start_offset: 0,
        diverging_epoch: None,
    }
}

#[test]
fn requests_carry_fetch_offset_epochs_and_log_start_of_ready_partitions() {
    let (mut p, _) = following();
    p.add_partition(tp(1), init(7, 30, None));
    let reqs = p.build_requests(0, |tp| Some(10 + i64::from(tp.partition)));
    // orders-1 has no local epoch: it first truncates to its high watermark, so it is not
    // fetched yet.
    assert_eq!(
        reqs,
        vec![PartitionFetchRequest {
            topic: "orders".into(),
            topic_id: topic_id(),
            partition: 0,
            fetch_offset: 100,
            current_leader_epoch: 5,
            last_fetched_epoch: Some(4),
            log_start_offset: 10,
            partition_max_bytes: 1_048_576,
        }]
    );
    assert_eq!(
        p.pending_truncations(0),
        vec![(tp(1), Truncation::To { offset: 30 })]
    );
    p.on_truncated(&tp(1), &FakeLog::new(&[], 30));
    let s = p.partition(&tp(1)).unwrap();
    assert_eq!(
        (s.status, s.fetch_offset, s.last_fetched_epoch),
        (FetchStatus::Fetching, 30, None)
    );
    assert_eq!(p.build_requests(0, |_| Some(0)).len(), 2);
}

#[test]
fn data_response_is_appended_then_fetching_moves_to_the_log_end() {
    let (mut p, mut log) = following();
    p.add_partition(tp(1), init(5, 0, Some(5)));
    let req = p.build_requests(0, |_| Some(0)).remove(0);
    assert_eq!(req.partition, 0);
    let d = p.on_partition_response(&tp(0), &req, &response(0), &log, 1);
    assert_eq!(
        d,
        FetchDecision::Append {
            fetch_offset: 100,
            leader_high_watermark: 150,
            leader_log_start_offset: 0
        }
    );
    // The server appended 40 records of epoch 5.
    log.log_end_offset = 140;
    log.epochs.push((5, 100));
    p.on_appended(&tp(0), 4_096, &log, 150);
    let s = p.partition(&tp(0)).unwrap();
    assert_eq!(
        (s.fetch_offset, s.last_fetched_epoch, s.lag),
        (140, Some(5), Some(10))
    );
    // The partition that got data moved behind the other one.
    let order: Vec<i32> = p.partitions().map(|(tp, _)| tp.partition).collect();
    assert_eq!(order, vec![1, 0]);
}

#[test]
fn empty_response_sets_the_lag_once_and_keeps_the_offset() {
    let (mut p, log) = following();
    let req = only_request(&mut p, 0);
    p.on_partition_response(&tp(0), &req, &response(0), &log, 1);
    p.on_appended(&tp(0), 0, &log, 130);
    let s = p.partition(&tp(0)).unwrap();
    assert_eq!(
        (s.fetch_offset, s.last_fetched_epoch, s.lag),
        (100, Some(4), Some(30))
    );
    // Later empty responses leave the state alone (Kafka updates only with data or no lag).
    p.on_appended(&tp(0), 0, &log, 160);
    assert_eq!(p.partition(&tp(0)).unwrap().lag, Some(30));
}

#[test]
fn diverging_epoch_truncates_then_fetches_from_the_truncation_point() {
    let (mut p, mut log) = following();
    let req = only_request(&mut p, 0);
    // The leader's epoch 4 ends at 90: we have 10 records it never committed.
    let mut r = response(0);
    r.diverging_epoch = Some((4, 90));
    let d = p.on_partition_response(&tp(0), &req, &r, &log, 1);
    assert_eq!(d, FetchDecision::Truncate(Truncation::To { offset: 90 }));
    assert_eq!(
        p.partition(&tp(0)).unwrap().status,
        FetchStatus::Truncating(Truncation::To { offset: 90 })
    );
    assert!(p.build_requests(2, |_| Some(0)).is_empty());
    assert_eq!(
        p.pending_truncations(2),
        vec![(tp(0), Truncation::To { offset: 90 })]
    );
    log.truncate_to(90);
    p.on_truncated(&tp(0), &log);
    let req = only_request(&mut p, 3);
    assert_eq!((req.fetch_offset, req.last_fetched_epoch), (90, Some(4)));
}

#[test]
fn diverging_epoch_unknown_locally_truncates_to_our_lower_epoch_end() {
    // Local: epochs 0@0, 2@50, 3@100, end 140; the leader says its epoch 2 ends at 120.
    let mut p = plan();
    p.add_partition(tp(0), init(5, 140, Some(3)));
    let log = FakeLog::new(&[(0, 0), (2, 50), (3, 100)], 140);
    let req = only_request(&mut p, 0);
    let mut r = response(0);
    r.diverging_epoch = Some((2, 120));
    assert_eq!(
        p.on_partition_response(&tp(0), &req, &r, &log, 1),
        FetchDecision::Truncate(Truncation::To { offset: 100 })
    );
}

#[test]
fn minus_one_diverging_epoch_is_no_divergence() {
    let (mut p, log) = following();
    let req = only_request(&mut p, 0);
    let mut r = response(0);
    r.diverging_epoch = Some((-1, -1));
    assert!(matches!(
        p.on_partition_response(&tp(0), &req, &r, &log, 1),
        FetchDecision::Append { .. }
    ));
}

#[test]
fn response_for_an_older_fetch_offset_is_ignored() {
    let (mut p, log) = following();
    let mut req = only_request(&mut p, 0);
    req.fetch_offset = 90;
    assert_eq!(
        p.on_partition_response(&tp(0), &req, &response(0), &log, 1),
        FetchDecision::Ignore
    );
    assert_eq!(
        p.on_partition_response(&tp(9), &req, &response(0), &log, 1),
        FetchDecision::Ignore
    );
}

#[test]
fn data_that_does_not_fit_the_local_log_end_fails_the_partition() {
    let (mut p, mut log) = following();
    let req = only_request(&mut p, 0);
    log.log_end_offset = 95;
    assert_eq!(
        p.on_partition_response(&tp(0), &req, &response(0), &log, 1),
        FetchDecision::Remove
    );
    assert!(p.is_empty());
    assert!(p.failed_partitions().contains(&tp(0)));
}

#[test]
fn follower_ahead_of_leader_after_out_of_range_truncates_to_leader_end() {
    let (mut p, mut log) = following();
    let req = only_request(&mut p, 0);
    let d = p.on_partition_response(
        &tp(0),
        &req,
        &response(ResponseError::OffsetOutOfRange.code()),
        &log,
        1,
    );
    assert_eq!(
        d,
        FetchDecision::ResolveOutOfRange {
            current_leader_epoch: 5
        }
    );
    assert!(p.build_requests(2, |_| Some(0)).is_empty());
    assert_eq!(p.pending_out_of_range(2), vec![(tp(0), 5)]);
    // The leader's log ends at 85 (an unclean election): we truncate to it.
    assert_eq!(
        p.on_leader_offsets(&tp(0), 0, 85, &log),
        Some(OutOfRangeAction::TruncateTo { offset: 85 })
    );
    assert_eq!(
        p.pending_truncations(2),
        vec![(tp(0), Truncation::To { offset: 85 })]
    );
    log.truncate_to(85);
    p.on_truncated(&tp(0), &log);
    let s = p.partition(&tp(0)).unwrap();
    assert_eq!(
        (s.status, s.fetch_offset, s.last_fetched_epoch, s.lag),
        (FetchStatus::Fetching, 85, Some(4), Some(0))
    );
}

#[test]
fn follower_behind_leader_log_start_after_out_of_range_truncates_fully() {
    let (mut p, log) = following();
    let req = only_request(&mut p, 0);
    p.on_partition_response(
        &tp(0),
        &req,
        &response(ResponseError::OffsetOutOfRange.code()),
        &log,
        1,
    );
    assert_eq!(
        p.on_leader_offsets(&tp(0), 500, 900, &log),
        Some(OutOfRangeAction::TruncateFullyAndStartAt { offset: 500 })
    );
    assert_eq!(
        p.pending_truncations(2),
        vec![(tp(0), Truncation::FullyAndStartAt { offset: 500 })]
    );
    let restarted = FakeLog {
        log_start_offset: 500,
        log_end_offset: 500,
        epochs: vec![],
    };
    p.on_truncated(&tp(0), &restarted);
    let s = p.partition(&tp(0)).unwrap();
    assert_eq!(
        (s.fetch_offset, s.last_fetched_epoch, s.lag),
        (500, None, Some(400))
    );
}

#[test]
fn follower_within_leader_range_after_out_of_range_fetches_again_at_once() {
    let (mut p, log) = following();
    let req = only_request(&mut p, 0);
    p.on_partition_response(
        &tp(0),
        &req,
        &response(ResponseError::OffsetOutOfRange.code()),
        &log,
        1,
    );
    assert_eq!(
        p.on_leader_offsets(&tp(0), 50, 300, &log),
        Some(OutOfRangeAction::FetchFrom { offset: 100 })
    );
    assert_eq!(only_request(&mut p, 2).fetch_offset, 100);
    // A second answer for a partition no longer resolving changes nothing.
    assert_eq!(p.on_leader_offsets(&tp(0), 50, 300, &log), None);
}

#[test]
fn failing_to_get_leader_offsets_backs_off_or_removes_when_fenced() {
    let (mut p, log) = following();
    let oor = response(ResponseError::OffsetOutOfRange.code());
    let req = only_request(&mut p, 0);
    p.on_partition_response(&tp(0), &req, &oor, &log, 1);
    assert_eq!(
        p.on_leader_offsets_error(&tp(0), ResponseError::NotLeaderOrFollower.code(), 5, 2),
        FetchDecision::Backoff {
            until_ms: 2 + BACKOFF_MS
        }
    );
    let s = p.partition(&tp(0)).unwrap();
    assert_eq!((s.status, s.fetch_offset), (FetchStatus::Fetching, 100));
    let req = only_request(&mut p, 2 + BACKOFF_MS);
    p.on_partition_response(&tp(0), &req, &oor, &log, 2 + BACKOFF_MS);
    assert_eq!(
        p.on_leader_offsets_error(&tp(0), ResponseError::FencedLeaderEpoch.code(), 5, 3),
        FetchDecision::Remove
    );
    assert!(p.is_empty());
}

#[test]
fn retriable_errors_back_off_and_retry() {
    for code in [
        ResponseError::UnknownLeaderEpoch.code(),
        ResponseError::NotLeaderOrFollower.code(),
        ResponseError::UnknownTopicOrPartition.code(),
        ResponseError::UnknownTopicId.code(),
        ResponseError::InconsistentTopicId.code(),
        ResponseError::KafkaStorageError.code(),
    ] {
        let (mut p, log) = following();
        let req = only_request(&mut p, 0);
        let d = p.on_partition_response(&tp(0), &req, &response(code), &log, 10);
        assert_eq!(
            d,
            FetchDecision::Backoff {
                until_ms: 10 + BACKOFF_MS
            },
            "code {code}"
        );
        assert!(p
            .build_requests(10 + BACKOFF_MS - 1, |_| Some(0))
            .is_empty());
        assert_eq!(p.next_wakeup_ms(10), Some(10 + BACKOFF_MS));
        let again = only_request(&mut p, 10 + BACKOFF_MS);
        assert_eq!(again, req, "code {code}");
    }
}

#[test]
fn fenced_in_our_own_epoch_removes_the_partition_until_new_metadata() {
    let (mut p, log) = following();
    let req = only_request(&mut p, 0);
    let d = p.on_partition_response(
        &tp(0),
        &req,
        &response(ResponseError::FencedLeaderEpoch.code()),
        &log,
        1,
    );
    assert_eq!(d, FetchDecision::Remove);
    assert!(p.partition(&tp(0)).is_none());
    assert!(p.failed_partitions().contains(&tp(0)));
    // New metadata: the partition is followed again in epoch 6.
    p.add_partition(tp(0), init(6, 100, Some(4)));
    assert!(p.failed_partitions().is_empty());
    assert_eq!(only_request(&mut p, 2).current_leader_epoch, 6);
}

#[test]
fn fenced_after_we_moved_to_a_newer_epoch_backs_off() {
    let (mut p, log) = following();
    let req = only_request(&mut p, 0);
    // Before the response arrives, metadata moves us to epoch 6 (same leader, same offset).
    p.add_partition(tp(0), init(6, 100, Some(4)));
    let d = p.on_partition_response(
        &tp(0),
        &req,
        &response(ResponseError::FencedLeaderEpoch.code()),
        &log,
        1,
    );
    assert_eq!(
        d,
        FetchDecision::Backoff {
            until_ms: 1 + BACKOFF_MS
        }
    );
    assert_eq!(p.partition(&tp(0)).unwrap().leader_epoch, 6);
}

#[test]
fn adding_a_partition_again_in_the_same_epoch_keeps_its_progress() {
    let (mut p, mut log) = following();
    let req = only_request(&mut p, 0);
    p.on_partition_response(&tp(0), &req, &response(0), &log, 1);
    log.log_end_offset = 120;
    log.epochs.push((5, 100));
    p.on_appended(&tp(0), 100, &log, 150);
    p.add_partition(tp(0), init(5, 100, Some(4)));
    assert_eq!(p.partition(&tp(0)).unwrap().fetch_offset, 120);
    assert_eq!(
        p.remove_partition(&tp(0)).map(|s| s.fetch_offset),
        Some(120)
    );
    assert!(p.is_empty());
    assert!(p.failed_partitions().is_empty());
}

#[test]
fn failed_request_backs_off_every_partition_once() {
    let (mut p, _) = following();
    p.add_partition(tp(1), init(5, 0, Some(5)));
    p.on_request_failed(10);
    assert!(p.build_requests(10, |_| Some(0)).is_empty());
    // A second failure while backing off does not extend the back-off.
    p.on_request_failed(500);
    assert_eq!(p.next_wakeup_ms(500), Some(10 + BACKOFF_MS));
    assert_eq!(p.build_requests(10 + BACKOFF_MS, |_| Some(0)).len(), 2);
}

#[test]
fn append_failures_back_off_when_corrupt_and_remove_on_storage_error() {
    let (mut p, _) = following();
    assert_eq!(
        p.on_append_failed(&tp(0), AppendFailure::CorruptRecords, 5),
        FetchDecision::Backoff {
            until_ms: 5 + BACKOFF_MS
        }
    );
    assert_eq!(
        p.on_append_failed(&tp(0), AppendFailure::Storage, 6),
        FetchDecision::Remove
    );
    assert!(p.failed_partitions().contains(&tp(0)));
}

#[test]
fn partition_without_readable_local_log_backs_off() {
    let (mut p, _) = following();
    assert!(p.build_requests(0, |_| None).is_empty());
    assert_eq!(
        p.partition(&tp(0)).unwrap().backoff_until_ms,
        Some(BACKOFF_MS)
    );
}

#[test]
fn negative_initial_offset_is_resolved_with_the_leader_first() {
    let mut p = plan();
    p.add_partition(tp(0), init(5, -1, None));
    assert!(p.build_requests(0, |_| Some(0)).is_empty());
    assert_eq!(p.pending_out_of_range(0), vec![(tp(0), 5)]);
    let empty = FakeLog::new(&[], 0);
    assert_eq!(
        p.on_leader_offsets(&tp(0), 0, 40, &empty),
        Some(OutOfRangeAction::FetchFrom { offset: 0 })
    );
    assert_eq!(only_request(&mut p, 1).fetch_offset, 0);
}
