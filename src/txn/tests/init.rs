//! InitProducerId: idempotent producers, epoch bumps, fencing, KIP-360 and id rotation.

use super::*;
use crate::txn::state::TxnState;

#[test]
fn init_idempotent_producer_gets_fresh_ids() {
    let mut h = Harness::new();
    let idempotent = Request::InitProducerId {
        transactional_id: None,
        transaction_timeout_ms: 0,
        producer_id: -1,
        producer_epoch: -1,
        version: 4,
    };
    let (first, out) = h.call(idempotent.clone());
    let (second, _) = h.call(idempotent);
    let expected = |id| Response::InitProducerId {
        error: 0,
        producer_id: id,
        producer_epoch: 0,
    };
    assert_eq!((first, second), (expected(1000), expected(1001)));
    assert!(out.records.is_empty() && out.timers.is_empty() && out.partitions.is_empty());
    assert!(h.log.is_empty());
    assert!(h.coord.transactional_ids().is_empty());
}

#[test]
fn init_transactional_bumps_epoch_on_reinit() {
    let mut h = Harness::new();
    let (r, out) = h.call(init_req("t"));
    assert_eq!(
        r,
        Response::InitProducerId {
            error: 0,
            producer_id: 1000,
            producer_epoch: 0
        }
    );
    let (tid, v) = only_record(&out);
    assert_eq!(tid, "t");
    assert_eq!(
        v,
        TxnValue {
            producer_id: 1000,
            producer_epoch: 0,
            timeout_ms: TIMEOUT_MS,
            state: TxnState::Empty,
            partitions: None,
            last_update_timestamp_ms: START_MS,
            start_timestamp_ms: -1,
            previous_producer_id: -1,
            next_producer_id: -1,
            client_transaction_version: 0,
        }
    );
    assert!(out.markers.is_empty() && out.partitions.is_empty() && out.timers.is_empty());
    h.advance(10);
    let mut req = init_req("t");
    if let Request::InitProducerId {
        transaction_timeout_ms,
        ..
    } = &mut req
    {
        *transaction_timeout_ms = 5_000;
    }
    let (r, out) = h.call(req);
    assert_eq!(init_error(&r), 0);
    assert_eq!(r, init_ok(1000, 1));
    let (_, v) = only_record(&out);
    assert_eq!(
        (v.producer_epoch, v.timeout_ms, v.last_update_timestamp_ms),
        (1, 5_000, START_MS + 10)
    );
    assert_eq!(init(&mut h, "t"), (1000, 2));
    // Another transactional id gets its own producer id.
    assert_eq!(init(&mut h, "u"), (1001, 0));
    h.assert_replay_matches();
}

fn init_ok(producer_id: i64, producer_epoch: i16) -> Response {
    Response::InitProducerId {
        error: 0,
        producer_id,
        producer_epoch,
    }
}

fn init_with(tid: Option<&str>, timeout: i32, pid: i64, epoch: i16, version: i16) -> Request {
    Request::InitProducerId {
        transactional_id: tid.map(str::to_string),
        transaction_timeout_ms: timeout,
        producer_id: pid,
        producer_epoch: epoch,
        version,
    }
}

#[test]
fn invalid_timeout() {
    let mut h = Harness::new();
    for timeout in [0, -1, 900_001, i32::MAX] {
        let (r, out) = h.call(init_with(Some("t"), timeout, -1, -1, 4));
        assert_eq!(
            r,
            Response::InitProducerId {
                error: 50,
                producer_id: -1,
                producer_epoch: -1
            },
            "timeout {timeout}"
        );
        assert!(out.records.is_empty());
    }
    assert!(h.coord.transaction("t").is_none());
    // The maximum itself is allowed; an idempotent producer's timeout is not checked.
    assert_eq!(
        h.call(init_with(Some("t"), 900_000, -1, -1, 4)).0,
        init_ok(1000, 0)
    );
    assert_eq!(h.call(init_with(None, 0, -1, -1, 4)).0, init_ok(1001, 0));
}

#[test]
fn init_rejects_malformed_requests() {
    let mut h = Harness::new();
    let invalid = Response::InitProducerId {
        error: 42,
        producer_id: -1,
        producer_epoch: -1,
    };
    // An empty transactional id, and a producer id without an epoch (or the reverse).
    assert_eq!(
        h.call(init_with(Some(""), TIMEOUT_MS, -1, -1, 4)).0,
        invalid
    );
    assert_eq!(
        h.call(init_with(Some("t"), TIMEOUT_MS, 5, -1, 4)).0,
        invalid
    );
    assert_eq!(h.call(init_with(None, TIMEOUT_MS, -1, 3, 4)).0, invalid);
    let long = "x".repeat(i16::MAX as usize + 1);
    assert_eq!(
        h.call(init_with(Some(&long), TIMEOUT_MS, -1, -1, 4)).0,
        invalid
    );
    assert!(h.log.is_empty());
}

#[test]
fn allocator_failure_is_answered_with_its_error() {
    let ids = Box::new(CountingIds {
        next: 1,
        fail_with: Some(15),
    });
    let mut h = Harness::with_coordinator(TransactionCoordinator::new(config(), ids));
    let failed = Response::InitProducerId {
        error: 15,
        producer_id: -1,
        producer_epoch: -1,
    };
    assert_eq!(h.call(init_req("t")).0, failed);
    assert_eq!(h.call(init_with(None, 0, -1, -1, 4)).0, failed);
    assert!(h.log.is_empty() && h.coord.transaction("t").is_none());
}

#[test]
fn zombie_with_old_epoch_is_fenced() {
    let mut h = Harness::new();
    let (pid, zombie) = init(&mut h, "t");
    let (_, current) = init(&mut h, "t");
    assert_eq!(current, zombie + 1);
    // The zombie's requests: PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH before the version
    // that introduced it.
    let (r, out) = h.call(add_req("t", pid, zombie, &[("a", 0)]));
    assert_eq!(add_error(&r), 90);
    assert!(out.records.is_empty() && out.partitions.is_empty());
    let mut old = add_req("t", pid, zombie, &[("a", 0)]);
    if let Request::AddPartitions { version, .. } = &mut old {
        *version = 1;
    }
    assert_eq!(add_error(&h.call(old).0), 47);
    let offsets = |version| Request::AddOffsets {
        transactional_id: "t".into(),
        producer_id: pid,
        producer_epoch: zombie,
        group_id: "g".into(),
        version,
    };
    assert_eq!(h.call(offsets(2)).0, Response::AddOffsets { error: 90 });
    assert_eq!(h.call(offsets(1)).0, Response::AddOffsets { error: 47 });
    assert_eq!(end_error(&h.call(end_req("t", pid, zombie, true)).0), 90);
    let mut old_end = end_req("t", pid, zombie, true);
    if let Request::EndTxn { version, .. } = &mut old_end {
        *version = 1;
    }
    assert_eq!(end_error(&h.call(old_end).0), 47);
    // KIP-360 InitProducerId with the zombie's epoch.
    let (r, _) = h.call(init_with(Some("t"), TIMEOUT_MS, pid, zombie, 4));
    assert_eq!(init_error(&r), 90);
    let (r, _) = h.call(init_with(Some("t"), TIMEOUT_MS, pid, zombie, 3));
    assert_eq!(init_error(&r), 47);
    // An unknown producer id for the transactional id.
    let (r, _) = h.call(add_req("t", pid + 1, current, &[("a", 0)]));
    assert_eq!(add_error(&r), 49);
    // The current producer is unaffected.
    add(&mut h, "t", pid, current, &[("a", 0)]);
    assert_eq!(h.state("t"), Some("Ongoing"));
    h.assert_replay_matches();
}

#[test]
fn kip360_existing_producer_bumps_its_own_epoch() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    // The current producer resumes: epoch bumped, its old epoch remembered.
    let (r, out) = h.call(init_with(Some("t"), TIMEOUT_MS, pid, epoch, 4));
    assert_eq!(r, init_ok(pid, epoch + 1));
    assert_eq!(out.records.len(), 1);
    assert_eq!(h.coord.transaction("t").unwrap().last_producer_epoch, epoch);
    // Its retry (the answer was lost) gets the same answer.
    let (r, _) = h.call(init_with(Some("t"), TIMEOUT_MS, pid, epoch, 4));
    assert_eq!(r, init_ok(pid, epoch + 1));
    // Another epoch, or another producer id, is fenced.
    let (r, _) = h.call(init_with(Some("t"), TIMEOUT_MS, pid, 7, 4));
    assert_eq!(init_error(&r), 90);
    let (r, _) = h.call(init_with(Some("t"), TIMEOUT_MS, pid + 5, epoch + 1, 4));
    assert_eq!(init_error(&r), 90);
    // A new instance (no producer id) fences the resumed one.
    assert_eq!(init(&mut h, "t"), (pid, epoch + 2));
    let (r, _) = h.call(init_with(Some("t"), TIMEOUT_MS, pid, epoch + 1, 4));
    assert_eq!(init_error(&r), 90);
    // A KIP-360 request for a transactional id the coordinator does not know (expired):
    // a fresh producer id.
    let (r, _) = h.call(init_with(Some("new"), TIMEOUT_MS, 77, 3, 4));
    assert_eq!(r, init_ok(1001, 0));
    h.assert_replay_matches();
}

/// Loads `tid` at (`pid`, `epoch`), Empty, through a replayed record.
fn at_epoch(h: &mut Harness, tid: &str, pid: i64, epoch: i16) {
    let value = TxnValue {
        producer_id: pid,
        producer_epoch: epoch,
        timeout_ms: TIMEOUT_MS,
        state: TxnState::Empty,
        partitions: None,
        last_update_timestamp_ms: h.now,
        start_timestamp_ms: -1,
        previous_producer_id: -1,
        next_producer_id: -1,
        client_transaction_version: 0,
    };
    let key = crate::txn::records::encode_key(tid);
    let encoded = value.encode();
    h.coord.replay(h.now, &key, Some(&encoded)).unwrap();
    h.log.push(Record {
        partition: h.coord.transaction_state_partition(tid),
        key,
        value: Some(encoded),
    });
}

#[test]
fn epoch_exhaustion_allocates_new_producer_id() {
    let mut h = Harness::new();
    at_epoch(&mut h, "t", 7, i16::MAX - 2);
    // The last epoch handed out is MAX - 1; after it the producer id rotates.
    assert_eq!(init(&mut h, "t"), (7, i16::MAX - 1));
    let (r, out) = h.call(init_req("t"));
    assert_eq!(r, init_ok(1000, 0));
    let (_, v) = only_record(&out);
    assert_eq!(
        (v.producer_id, v.producer_epoch, v.state),
        (1000, 0, TxnState::Empty)
    );
    let m = h.coord.transaction("t").unwrap();
    assert_eq!((m.previous_producer_id, m.last_producer_epoch), (7, -1));
    assert_eq!(init(&mut h, "t"), (1000, 1));
    h.assert_replay_matches();
}

#[test]
fn epoch_exhaustion_with_kip360_retry_gets_the_rotated_id() {
    let mut h = Harness::new();
    let exhausted = i16::MAX - 1;
    at_epoch(&mut h, "t", 7, exhausted);
    let (r, _) = h.call(init_with(Some("t"), TIMEOUT_MS, 7, exhausted, 4));
    assert_eq!(r, init_ok(1000, 0));
    // The answer was lost: the retry names the old id and epoch and gets the same answer,
    // without another id being allocated.
    let (r, _) = h.call(init_with(Some("t"), TIMEOUT_MS, 7, exhausted, 4));
    assert_eq!(r, init_ok(1000, 0));
    assert_eq!(init(&mut h, "u"), (1001, 0));
    h.assert_replay_matches();
}

#[test]
fn fencing_at_the_last_epoch_then_rotates() {
    let mut h = Harness::new();
    at_epoch(&mut h, "t", 7, i16::MAX - 2);
    let (pid, epoch) = init(&mut h, "t");
    assert_eq!(epoch, i16::MAX - 1);
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    let (r, out) = h.call(init_req("t"));
    assert_eq!(init_error(&r), 51);
    assert_eq!(out.markers[0].producer_epoch, i16::MAX);
    h.write_markers();
    assert_eq!(init(&mut h, "t"), (1000, 0));
    h.assert_replay_matches();
}
