//! Transactions V2 (KIP-890 part 2): EndTxn v5 bumps the epoch at every end, retries are
//! recognized by the epoch below the current one, an abort with nothing added bumps too, the
//! epochs running out rotate the producer id, and partitions added by a broker mark the
//! transaction client transaction version 2 (persisted in record v1).

use super::*;
use crate::txn::state::TxnState;

fn end_v5(tid: &str, pid: i64, epoch: i16, commit: bool) -> Request {
    Request::EndTxn {
        transactional_id: tid.to_string(),
        producer_id: pid,
        producer_epoch: epoch,
        commit,
        version: 5,
    }
}

fn implicit_add(tid: &str, pid: i64, epoch: i16, partitions: &[(&str, i32)]) -> Request {
    Request::AddPartitions {
        transactional_id: tid.to_string(),
        producer_id: pid,
        producer_epoch: epoch,
        partitions: tps(partitions),
        verify_only: false,
        version: 5,
        tv2: true,
    }
}

fn end_answer(r: &Response) -> (ErrorCode, i64, i16) {
    match r {
        Response::EndTxn {
            error,
            producer_id,
            producer_epoch,
        } => (*error, *producer_id, *producer_epoch),
        other => panic!("expected EndTxn, got {other:?}"),
    }
}

#[test]
fn commit_bumps_the_epoch_and_markers_carry_it() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    let (r, out) = h.call(implicit_add("t", pid, epoch, &[("a", 0)]));
    assert_eq!(add_error(&r), 0);
    let (_, v) = decoded(&out).pop().unwrap();
    let v = v.unwrap();
    assert_eq!(v.client_transaction_version, 2, "record v1 with TV2");
    let (r, out) = h.call(end_v5("t", pid, epoch, true));
    assert_eq!(end_answer(&r), (0, pid, epoch + 1));
    let (_, v) = decoded(&out).pop().unwrap();
    let v = v.unwrap();
    assert_eq!(
        (v.state, v.producer_epoch),
        (TxnState::PrepareCommit, epoch + 1)
    );
    assert_eq!(h.markers.len(), 1);
    assert_eq!(
        (h.markers[0].producer_epoch, h.markers[0].commit),
        (epoch + 1, true)
    );
    h.write_markers();
    assert_eq!(h.state("t"), Some("CompleteCommit"));
    // A retry (the old epoch) gets the same answer; the old epoch cannot start a new one.
    let (r, _) = h.call(end_v5("t", pid, epoch, true));
    assert_eq!(end_answer(&r), (0, pid, epoch + 1));
    let (r, _) = h.call(end_v5("t", pid, epoch, false));
    assert_eq!(end_answer(&r), (INVALID_TXN_STATE_CODE, -1, -1));
    let (r, _) = h.call(implicit_add("t", pid, epoch, &[("a", 0)]));
    assert_eq!(add_error(&r), PRODUCER_FENCED_CODE);
    // The next transaction runs at the new epoch.
    let (r, _) = h.call(implicit_add("t", pid, epoch + 1, &[("a", 1)]));
    assert_eq!(add_error(&r), 0);
    let (r, _) = h.call(end_v5("t", pid, epoch + 1, false));
    assert_eq!(end_answer(&r), (0, pid, epoch + 2));
    h.write_markers();
    assert_eq!(h.state("t"), Some("CompleteAbort"));
    // Two epochs below is a zombie.
    let (r, _) = h.call(end_v5("t", pid, epoch, false));
    assert_eq!(end_answer(&r), (PRODUCER_FENCED_CODE, -1, -1));
    h.assert_replay_matches();
}

#[test]
fn abort_with_nothing_added_bumps_and_completes_at_once() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    // Empty: commit is INVALID_TXN_STATE, abort bumps.
    let (r, _) = h.call(end_v5("t", pid, epoch, true));
    assert_eq!(end_answer(&r).0, INVALID_TXN_STATE_CODE);
    let (r, out) = h.call(end_v5("t", pid, epoch, false));
    assert_eq!(end_answer(&r), (0, pid, epoch + 1));
    let states: Vec<TxnState> = decoded(&out)
        .into_iter()
        .map(|(_, v)| v.unwrap().state)
        .collect();
    assert_eq!(
        states,
        vec![TxnState::PrepareAbort, TxnState::CompleteAbort]
    );
    assert!(h.markers.is_empty());
    // CompleteAbort at the current epoch: another abort bumps again; a retry is NONE.
    let (r, _) = h.call(end_v5("t", pid, epoch + 1, false));
    assert_eq!(end_answer(&r), (0, pid, epoch + 2));
    let (r, _) = h.call(end_v5("t", pid, epoch + 1, false));
    assert_eq!(end_answer(&r), (0, pid, epoch + 2));
    // Commit in CompleteAbort is INVALID_TXN_STATE, retry or not.
    let (r, _) = h.call(end_v5("t", pid, epoch + 2, true));
    assert_eq!(end_answer(&r).0, INVALID_TXN_STATE_CODE);
    h.assert_replay_matches();
}

#[test]
fn epochs_running_out_rotate_the_producer_id() {
    let mut h = Harness::new();
    let (pid, _) = init(&mut h, "t");
    // Put the transactional id at the last usable epoch through its record.
    let mut m = h.coord.transaction("t").unwrap().clone();
    m.producer_epoch = i16::MAX - 1;
    let value = crate::txn::records::TxnValue::from_metadata(&m).encode();
    let key = crate::txn::records::encode_key("t");
    h.coord.replay(h.now, &key, Some(&value)).unwrap();
    let epoch = i16::MAX - 1;
    let (r, _) = h.call(implicit_add("t", pid, epoch, &[("a", 0)]));
    assert_eq!(add_error(&r), 0);
    let (r, out) = h.call(end_v5("t", pid, epoch, true));
    // The next id (the allocator's next) at epoch 0.
    let (code, next_pid, next_epoch) = end_answer(&r);
    assert_eq!((code, next_epoch), (0, 0));
    assert_ne!(next_pid, pid);
    let (_, v) = decoded(&out).pop().unwrap();
    let v = v.unwrap();
    assert_eq!((v.producer_id, v.producer_epoch), (pid, i16::MAX));
    assert_eq!(v.next_producer_id, next_pid);
    // The markers carry the old id at the last epoch.
    assert_eq!(
        (h.markers[0].producer_id, h.markers[0].producer_epoch),
        (pid, i16::MAX)
    );
    h.write_markers();
    let m = h.coord.transaction("t").unwrap();
    assert_eq!((m.producer_id, m.producer_epoch), (next_pid, 0));
    assert_eq!(m.previous_producer_id, pid);
    // The retry with the old id and epoch is recognized.
    let (r, _) = h.call(end_v5("t", pid, epoch, true));
    assert_eq!(end_answer(&r), (0, next_pid, 0));
    h.assert_replay_matches();
}

#[test]
fn v4_end_keeps_the_epoch() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    let (r, _) = h.call(end_req("t", pid, epoch, true));
    assert_eq!(r, Response::end_txn_error(0));
    assert_eq!(h.markers[0].producer_epoch, epoch);
    h.write_markers();
    assert_eq!(h.coord.transaction("t").unwrap().producer_epoch, epoch);
}

const INVALID_TXN_STATE_CODE: i16 = 48;
const PRODUCER_FENCED_CODE: i16 = 90;
