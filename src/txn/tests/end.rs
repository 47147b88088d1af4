//! EndTxn, markers, completion, fencing of an ongoing transaction and the timeout.

use super::*;
use crate::txn::state::TxnState;

/// "t" with an ongoing transaction on a-0, a-1 and b-0; returns (pid, epoch, start).
fn ongoing(h: &mut Harness) -> (i64, i16, i64) {
    let (pid, epoch) = init(h, "t");
    h.advance(10);
    let start = h.now;
    add(h, "t", pid, epoch, &[("a", 0), ("a", 1), ("b", 0)]);
    (pid, epoch, start)
}

#[test]
fn add_partitions_then_commit_emits_markers_and_completes() {
    let mut h = Harness::new();
    let (pid, epoch, start) = ongoing(&mut h);
    assert!(h.open.contains_key(&pid));
    h.advance(100);
    let (r, out) = h.call(end_req("t", pid, epoch, true));
    assert_eq!(r, Response::end_txn_error(0));
    // PrepareCommit persisted with the partitions (the answer goes out after it).
    let (_, v) = only_record(&out);
    assert_eq!(v.state, TxnState::PrepareCommit);
    assert_eq!(v.partitions, topics(&[("a", &[0, 1]), ("b", &[0])]));
    assert_eq!(
        (v.start_timestamp_ms, v.last_update_timestamp_ms),
        (start, h.now)
    );
    assert_eq!((v.producer_id, v.producer_epoch), (pid, epoch));
    assert_eq!(
        out.partitions,
        vec![PartitionsUpdate::Clear { producer_id: pid }]
    );
    assert_eq!(
        out.timers,
        vec![TimerOp::Cancel {
            key: timeout_key("t")
        }]
    );
    assert_eq!(
        out.markers,
        vec![MarkerRequest {
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            commit: true,
            coordinator_epoch: 0,
            partitions: tps(&[("a", 0), ("a", 1), ("b", 0)]),
        }]
    );
    assert!(h.open.is_empty() && !h.timers.contains_key(&timeout_key("t")));
    h.assert_replay_matches();
    h.advance(3);
    let outs = h.write_markers();
    let (_, v) = only_record(&outs[0]);
    assert_eq!(v.state, TxnState::CompleteCommit);
    assert_eq!(v.partitions, Some(vec![]));
    assert_eq!(
        (v.start_timestamp_ms, v.last_update_timestamp_ms),
        (start, h.now)
    );
    assert!(outs[0].markers.is_empty() && outs[0].responses.is_empty());
    assert_eq!(h.state("t"), Some("CompleteCommit"));
    h.assert_replay_matches();
    // The next transaction starts afresh.
    h.advance(1);
    let out = add(&mut h, "t", pid, epoch, &[("c", 0)]);
    let (_, v) = only_record(&out);
    assert_eq!(v.partitions, topics(&[("c", &[0])]));
    assert_eq!(v.start_timestamp_ms, h.now);
}

#[test]
fn abort_path() {
    let mut h = Harness::new();
    let (pid, epoch, _) = ongoing(&mut h);
    let (r, out) = h.call(end_req("t", pid, epoch, false));
    assert_eq!(r, Response::end_txn_error(0));
    assert_eq!(only_record(&out).1.state, TxnState::PrepareAbort);
    assert_eq!(out.markers.len(), 1);
    assert!(!out.markers[0].commit);
    assert_eq!(
        out.markers[0].producer_epoch, epoch,
        "a client abort keeps the epoch"
    );
    let outs = h.write_markers();
    assert_eq!(only_record(&outs[0]).1.state, TxnState::CompleteAbort);
    // The producer goes on with the same epoch.
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    h.assert_replay_matches();
}

#[test]
fn end_txn_retry_after_complete_is_ok() {
    let mut h = Harness::new();
    let (pid, epoch, _) = ongoing(&mut h);
    h.call(end_req("t", pid, epoch, true));
    h.write_markers();
    let (r, out) = h.call(end_req("t", pid, epoch, true));
    assert_eq!(r, Response::end_txn_error(0));
    assert!(out.records.is_empty() && out.markers.is_empty());
    // The other direction is not a retry.
    assert_eq!(end_error(&h.call(end_req("t", pid, epoch, false)).0), 48);
    // Same for an abort.
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    h.call(end_req("t", pid, epoch, false));
    h.write_markers();
    assert_eq!(end_error(&h.call(end_req("t", pid, epoch, false)).0), 0);
    assert_eq!(end_error(&h.call(end_req("t", pid, epoch, true)).0), 48);
}

#[test]
fn end_txn_without_a_transaction_is_invalid() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    assert_eq!(end_error(&h.call(end_req("t", pid, epoch, true)).0), 48);
    assert_eq!(end_error(&h.call(end_req("u", pid, epoch, true)).0), 49);
    assert_eq!(end_error(&h.call(end_req("t", pid + 1, epoch, true)).0), 49);
    assert_eq!(end_error(&h.call(end_req("", pid, epoch, true)).0), 42);
    assert_eq!(h.log.len(), 1);
}

#[test]
fn concurrent_transactions_while_markers_pending() {
    let mut h = Harness::new();
    let (pid, epoch, _) = ongoing(&mut h);
    h.call(end_req("t", pid, epoch, true));
    let log_len = h.log.len();
    // InitProducerId, AddPartitions, AddOffsets and a retried EndTxn wait for the markers.
    assert_eq!(init_error(&h.call(init_req("t")).0), 51);
    assert_eq!(
        add_error(&h.call(add_req("t", pid, epoch, &[("a", 0)])).0),
        51
    );
    let offsets = Request::AddOffsets {
        transactional_id: "t".into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: "g".into(),
        version: 3,
    };
    assert_eq!(h.call(offsets).0, Response::AddOffsets { error: 51 });
    assert_eq!(end_error(&h.call(end_req("t", pid, epoch, true)).0), 51);
    // Abort while committing: INVALID_TXN_STATE.
    assert_eq!(end_error(&h.call(end_req("t", pid, epoch, false)).0), 48);
    assert_eq!(h.log.len(), log_len);
    assert!(h.markers.len() == 1 && h.open.is_empty());
    h.write_markers();
    assert_eq!(init(&mut h, "t"), (pid, epoch + 1));
}

#[test]
fn markers_written_for_another_producer_or_twice_is_ignored() {
    let mut h = Harness::new();
    let (pid, epoch, _) = ongoing(&mut h);
    h.call(end_req("t", pid, epoch, true));
    assert_eq!(
        h.coord.markers_written(h.now, "t", pid, epoch + 1),
        Outcome::default()
    );
    assert_eq!(
        h.coord.markers_written(h.now, "t", pid + 1, epoch),
        Outcome::default()
    );
    assert_eq!(
        h.coord.markers_written(h.now, "u", pid, epoch),
        Outcome::default()
    );
    assert_eq!(h.state("t"), Some("PrepareCommit"));
    let out = h.coord.markers_written(h.now, "t", pid, epoch);
    h.apply(&out);
    assert_eq!(h.state("t"), Some("CompleteCommit"));
    assert_eq!(
        h.coord.markers_written(h.now, "t", pid, epoch),
        Outcome::default()
    );
}

#[test]
fn end_txn_without_partitions_completes_at_once() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    // Kafka lets an empty AddPartitions open a transaction with no partitions.
    add(&mut h, "t", pid, epoch, &[]);
    assert_eq!(h.state("t"), Some("Ongoing"));
    let (r, out) = h.call(end_req("t", pid, epoch, true));
    assert_eq!(r, Response::end_txn_error(0));
    let states: Vec<TxnState> = decoded(&out)
        .into_iter()
        .map(|(_, v)| v.unwrap().state)
        .collect();
    assert_eq!(
        states,
        vec![TxnState::PrepareCommit, TxnState::CompleteCommit]
    );
    assert!(out.markers.is_empty());
    h.assert_replay_matches();
}

#[test]
fn init_during_ongoing_aborts_and_fences() {
    let mut h = Harness::new();
    let (pid, epoch, start) = ongoing(&mut h);
    let (r, out) = h.call(init_req("t"));
    assert_eq!(
        r,
        Response::InitProducerId {
            error: 51,
            producer_id: -1,
            producer_epoch: -1
        }
    );
    // Kafka's PrepareEpochFence, written as PrepareAbort with the epoch bumped.
    let (_, v) = only_record(&out);
    assert_eq!(v.state, TxnState::PrepareAbort);
    assert_eq!((v.producer_id, v.producer_epoch), (pid, epoch + 1));
    assert_eq!(v.partitions, topics(&[("a", &[0, 1]), ("b", &[0])]));
    assert_eq!(v.start_timestamp_ms, start);
    assert_eq!(
        out.partitions,
        vec![PartitionsUpdate::Clear { producer_id: pid }]
    );
    assert_eq!(
        out.timers,
        vec![TimerOp::Cancel {
            key: timeout_key("t")
        }]
    );
    assert_eq!(out.markers.len(), 1);
    assert_eq!(
        (out.markers[0].commit, out.markers[0].producer_epoch),
        (false, epoch + 1)
    );
    h.assert_replay_matches();
    // The old producer is fenced; its commit cannot win.
    assert_eq!(end_error(&h.call(end_req("t", pid, epoch, true)).0), 90);
    assert_eq!(
        add_error(&h.call(add_req("t", pid, epoch, &[("a", 0)])).0),
        90
    );
    // The new producer's retry waits for the abort, then gets the next epoch.
    assert_eq!(init_error(&h.call(init_req("t")).0), 51);
    let outs = h.write_markers();
    assert_eq!(only_record(&outs[0]).1.state, TxnState::CompleteAbort);
    assert_eq!(init(&mut h, "t"), (pid, epoch + 2));
    h.assert_replay_matches();
}

#[test]
fn timeout_aborts_with_epoch_bump() {
    let mut h = Harness::new();
    let (pid, epoch, start) = ongoing(&mut h);
    let deadline = start + i64::from(TIMEOUT_MS);
    assert_eq!(h.timers.get(&timeout_key("t")), Some(&deadline));
    assert!(h.advance(i64::from(TIMEOUT_MS) - 1).is_empty());
    assert_eq!(h.state("t"), Some("Ongoing"));
    let outs = h.advance(1);
    assert_eq!(outs.len(), 1);
    let out = &outs[0];
    assert!(out.responses.is_empty());
    let (_, v) = only_record(out);
    assert_eq!(v.state, TxnState::PrepareAbort);
    assert_eq!(v.producer_epoch, epoch + 1);
    assert_eq!(v.last_update_timestamp_ms, deadline);
    assert_eq!(
        out.partitions,
        vec![PartitionsUpdate::Clear { producer_id: pid }]
    );
    assert_eq!(out.markers.len(), 1);
    assert_eq!(
        (out.markers[0].commit, out.markers[0].producer_epoch),
        (false, epoch + 1)
    );
    h.write_markers();
    assert_eq!(h.state("t"), Some("CompleteAbort"));
    // The timed-out producer is fenced.
    assert_eq!(
        add_error(&h.call(add_req("t", pid, epoch, &[("a", 0)])).0),
        90
    );
    let mut old = end_req("t", pid, epoch, true);
    if let Request::EndTxn { version, .. } = &mut old {
        *version = 0;
    }
    assert_eq!(end_error(&h.call(old).0), 47);
    assert_eq!(init(&mut h, "t"), (pid, epoch + 2));
    h.assert_replay_matches();
}

#[test]
fn stale_timeout_of_an_earlier_transaction_is_rearmed() {
    let mut h = Harness::new();
    let (pid, epoch, start) = ongoing(&mut h);
    h.call(end_req("t", pid, epoch, true));
    h.write_markers();
    h.advance(1_000);
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    let second_start = h.now;
    // A firing armed for the first transaction (the runtime had not cancelled it yet).
    let out = h
        .coord
        .on_timer(start + i64::from(TIMEOUT_MS), timeout_key("t"));
    assert!(out.records.is_empty());
    assert_eq!(
        out.timers,
        vec![TimerOp::Set {
            key: timeout_key("t"),
            deadline_ms: second_start + i64::from(TIMEOUT_MS)
        }]
    );
    assert_eq!(h.state("t"), Some("Ongoing"));
    // A firing for a transaction that already ended does nothing.
    h.call(end_req("t", pid, epoch, false));
    let out = h.coord.on_timer(h.now + 10_000_000, timeout_key("t"));
    assert_eq!(out, Outcome::default());
}
