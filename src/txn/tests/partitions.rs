//! AddPartitionsToTxn, AddOffsetsToTxn and broker-side verification.

use super::*;
use crate::group::partition_for;
use crate::txn::state::TxnState;

#[test]
fn add_partitions_starts_transaction_and_publishes_the_set() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    h.advance(5);
    let start = h.now;
    let (r, out) = h.call(add_req("t", pid, epoch, &[("b", 1), ("a", 2), ("a", 0)]));
    assert_eq!(
        r,
        Response::AddPartitions {
            error: 0,
            partitions: vec![
                (("b".into(), 1), 0),
                (("a".into(), 2), 0),
                (("a".into(), 0), 0)
            ],
        }
    );
    let (_, v) = only_record(&out);
    assert_eq!(v.state, TxnState::Ongoing);
    assert_eq!(v.partitions, topics(&[("a", &[0, 2]), ("b", &[1])]));
    assert_eq!(
        (v.start_timestamp_ms, v.last_update_timestamp_ms),
        (start, start)
    );
    let all = tps(&[("a", 0), ("a", 2), ("b", 1)]);
    assert_eq!(
        out.partitions,
        vec![PartitionsUpdate::Set {
            producer_id: pid,
            producer_epoch: epoch,
            partitions: all.clone()
        }]
    );
    assert_eq!(
        out.timers,
        vec![TimerOp::Set {
            key: timeout_key("t"),
            deadline_ms: start + i64::from(TIMEOUT_MS)
        }]
    );
    // More partitions later: the full set again, the start and the timeout unchanged.
    h.advance(7);
    let out = add(&mut h, "t", pid, epoch, &[("c", 0), ("a", 0)]);
    let (_, v) = only_record(&out);
    assert_eq!(
        v.partitions,
        topics(&[("a", &[0, 2]), ("b", &[1]), ("c", &[0])])
    );
    assert_eq!(
        (v.start_timestamp_ms, v.last_update_timestamp_ms),
        (start, start + 7)
    );
    assert!(out.timers.is_empty());
    assert_eq!(h.open[&pid].1.len(), 4);
    h.assert_replay_matches();
}

#[test]
fn add_partitions_already_in_txn_answers_without_record() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    add(&mut h, "t", pid, epoch, &[("a", 0), ("a", 1)]);
    let out = add(&mut h, "t", pid, epoch, &[("a", 1)]);
    assert!(out.records.is_empty() && out.partitions.is_empty() && out.timers.is_empty());
}

#[test]
fn add_partitions_checks_the_producer() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    // Unknown transactional id, another producer id: INVALID_PRODUCER_ID_MAPPING.
    assert_eq!(
        add_error(&h.call(add_req("u", pid, epoch, &[("a", 0)])).0),
        49
    );
    assert_eq!(
        add_error(&h.call(add_req("t", 5, epoch, &[("a", 0)])).0),
        49
    );
    // A newer epoch than the coordinator's is fenced too (TV1: strict equality).
    assert_eq!(
        add_error(&h.call(add_req("t", pid, epoch + 1, &[("a", 0)])).0),
        90
    );
    assert_eq!(
        add_error(&h.call(add_req("", pid, epoch, &[("a", 0)])).0),
        42
    );
    let long = "x".repeat(i16::MAX as usize + 1);
    assert_eq!(
        add_error(&h.call(add_req("t", pid, epoch, &[(&long, 0)])).0),
        42
    );
    assert_eq!(h.state("t"), Some("Empty"));
    assert_eq!(h.log.len(), 1);
}

#[test]
fn add_offsets_adds_the_group_partition() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    let (r, out) = h.call(Request::AddOffsets {
        transactional_id: "t".into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: "my-group".into(),
        version: 3,
    });
    assert_eq!(r, Response::AddOffsets { error: 0 });
    let p = partition_for("my-group", 50);
    let (_, v) = only_record(&out);
    assert_eq!(v.partitions, topics(&[("__consumer_offsets", &[p])]));
    assert_eq!(v.state, TxnState::Ongoing);
    // Committing writes a marker to that partition like any other.
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    let (_, out) = h.call(end_req("t", pid, epoch, true));
    assert_eq!(
        out.markers[0].partitions,
        vec![("__consumer_offsets".to_string(), p), ("a".to_string(), 0)]
    );
    // Unknown transactional id.
    let (r, _) = h.call(Request::AddOffsets {
        transactional_id: "u".into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: "g".into(),
        version: 3,
    });
    assert_eq!(r, Response::AddOffsets { error: 49 });
    h.assert_replay_matches();
}

fn verify_req(
    tid: &str,
    pid: i64,
    epoch: i16,
    partitions: &[(&str, i32)],
    version: i16,
) -> Request {
    Request::AddPartitions {
        transactional_id: tid.to_string(),
        producer_id: pid,
        producer_epoch: epoch,
        partitions: tps(partitions),
        verify_only: true,
        version,
        tv2: false,
    }
}

#[test]
fn verify_only_answers_without_state_change() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    // No open transaction: no partition is in it.
    let (r, out) = h.call(verify_req("t", pid, epoch, &[("a", 0)], 4));
    assert_eq!(
        r,
        Response::AddPartitions {
            error: 0,
            partitions: vec![(("a".into(), 0), 48)]
        }
    );
    assert!(out.records.is_empty() && out.partitions.is_empty() && out.timers.is_empty());
    assert_eq!(h.state("t"), Some("Empty"));
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    let log_len = h.log.len();
    let (r, out) = h.call(verify_req("t", pid, epoch, &[("a", 0), ("a", 1)], 4));
    assert_eq!(
        r,
        Response::AddPartitions {
            error: 0,
            partitions: vec![(("a".into(), 0), 0), (("a".into(), 1), 48)]
        }
    );
    assert!(out.records.is_empty() && out.partitions.is_empty() && out.timers.is_empty());
    // v5 knows TRANSACTION_ABORTABLE.
    let (r, _) = h.call(verify_req("t", pid, epoch, &[("a", 1)], 5));
    assert_eq!(
        r,
        Response::AddPartitions {
            error: 0,
            partitions: vec![(("a".into(), 1), 120)]
        }
    );
    // Producer checks apply to the whole transaction.
    let (r, _) = h.call(verify_req("t", pid, epoch + 1, &[("a", 0)], 4));
    assert_eq!(add_error(&r), 90);
    let (r, _) = h.call(verify_req("t", pid + 1, epoch, &[("a", 0)], 4));
    assert_eq!(add_error(&r), 49);
    let (r, _) = h.call(verify_req("nope", pid, epoch, &[("a", 0)], 4));
    assert_eq!(add_error(&r), 49);
    // While markers are pending: CONCURRENT_TRANSACTIONS.
    h.call(end_req("t", pid, epoch, true));
    let (r, _) = h.call(verify_req("t", pid, epoch, &[("a", 0)], 4));
    assert_eq!(add_error(&r), 51);
    assert_eq!(h.log.len(), log_len + 1, "only the EndTxn wrote");
    assert_eq!(h.coord.transaction("t").unwrap().partitions.len(), 1);
}
