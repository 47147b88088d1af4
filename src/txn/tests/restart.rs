//! Restart: replaying the emitted records into a fresh coordinator, then `loaded`.

use super::*;
use crate::txn::state::TxnState;

fn expiry_timer(out: &Outcome, now: i64) -> bool {
    out.timers.contains(&TimerOp::Set {
        key: TimerKey::ExpireTransactionalIds,
        deadline_ms: now + config().remove_expired_transaction_cleanup_interval_ms,
    })
}

#[test]
fn restart_in_prepare_commit_resends_markers() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    add(&mut h, "t", pid, epoch, &[("a", 0), ("b", 3)]);
    let (_, out) = h.call(end_req("t", pid, epoch, true));
    let sent = out.markers.clone();
    // Crash before the markers were written.
    let (mut r, loaded) = h.restart();
    assert_eq!(loaded.markers, sent);
    assert!(loaded.records.is_empty() && loaded.responses.is_empty());
    assert!(loaded.partitions.is_empty());
    assert!(expiry_timer(&loaded, r.now));
    assert_eq!(r.state("t"), Some("PrepareCommit"));
    let outs = r.write_markers();
    assert_eq!(only_record(&outs[0]).1.state, TxnState::CompleteCommit);
    assert_eq!(init(&mut r, "t"), (pid, epoch + 1));
    r.assert_replay_matches();
}

#[test]
fn restart_in_fenced_abort_resends_markers_with_the_bumped_epoch() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    assert_eq!(init_error(&h.call(init_req("t")).0), 51);
    let (mut r, loaded) = h.restart();
    assert_eq!(loaded.markers.len(), 1);
    let m = &loaded.markers[0];
    assert_eq!(
        (m.commit, m.producer_id, m.producer_epoch),
        (false, pid, epoch + 1)
    );
    r.write_markers();
    assert_eq!(r.state("t"), Some("CompleteAbort"));
    assert_eq!(init(&mut r, "t"), (pid, epoch + 2));
}

#[test]
fn restart_with_ongoing_keeps_timeout() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    let start = h.now;
    add(&mut h, "t", pid, epoch, &[("a", 0), ("a", 1)]);
    h.advance(30_000);
    let (mut r, loaded) = h.restart();
    assert_eq!(
        loaded.partitions,
        vec![PartitionsUpdate::Set {
            producer_id: pid,
            producer_epoch: epoch,
            partitions: tps(&[("a", 0), ("a", 1)]),
        }]
    );
    // The timeout counts from the transaction's start, not from the restart.
    let deadline = start + i64::from(TIMEOUT_MS);
    assert!(loaded.timers.contains(&TimerOp::Set {
        key: timeout_key("t"),
        deadline_ms: deadline
    }));
    assert!(expiry_timer(&loaded, r.now));
    assert!(loaded.markers.is_empty() && loaded.records.is_empty());
    // The producer carries on after the restart...
    add(&mut r, "t", pid, epoch, &[("b", 0)]);
    // ...until its transaction times out.
    let outs = r.advance(deadline - r.now);
    let (_, v) = only_record(&outs[0]);
    assert_eq!(
        (v.state, v.producer_epoch),
        (TxnState::PrepareAbort, epoch + 1)
    );
    assert_eq!(outs[0].markers[0].partitions.len(), 3);
}

#[test]
fn restart_keeps_epoch_so_next_init_fences_zombie() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    h.call(end_req("t", pid, epoch, true));
    h.write_markers();
    let (_, second) = init(&mut h, "t");
    // KIP-360 resumption bumps once more and remembers the epoch it came from...
    let kip360 = Request::InitProducerId {
        transactional_id: Some("t".into()),
        transaction_timeout_ms: TIMEOUT_MS,
        producer_id: pid,
        producer_epoch: second,
        version: 4,
    };
    assert_eq!(init_error(&h.call(kip360.clone()).0), 0);
    let (mut r, loaded) = h.restart();
    assert!(loaded.markers.is_empty() && loaded.partitions.is_empty());
    let m = r.coord.transaction("t").unwrap();
    assert_eq!((m.state, m.producer_epoch), (TxnState::Empty, second + 1));
    // ...but that memory does not survive a restart (nor does it in Kafka): the retry of the
    // KIP-360 request is fenced.
    assert_eq!(init_error(&r.call(kip360).0), 90);
    // A new instance bumps past every epoch handed out before the restart.
    assert_eq!(init(&mut r, "t"), (pid, second + 2));
    assert_eq!(
        add_error(&r.call(add_req("t", pid, second + 1, &[("a", 0)])).0),
        90
    );
    assert_eq!(
        add_error(&r.call(add_req("t", pid, epoch, &[("a", 0)])).0),
        90
    );
}

#[test]
fn replay_of_emitted_records_reproduces_every_state() {
    let mut h = Harness::new();
    init(&mut h, "empty");
    let (p, e) = init(&mut h, "ongoing");
    add(&mut h, "ongoing", p, e, &[("a", 0)]);
    let (p, e) = init(&mut h, "committing");
    add(&mut h, "committing", p, e, &[("a", 1)]);
    h.call(end_req("committing", p, e, true));
    let (p, e) = init(&mut h, "aborted");
    add(&mut h, "aborted", p, e, &[("a", 2)]);
    h.call(end_req("aborted", p, e, false));
    h.write_markers();
    let (p, e) = init(&mut h, "committing");
    add(&mut h, "committing", p, e, &[("b", 0)]);
    h.call(end_req("committing", p, e, true));
    h.assert_replay_matches();
    let states: Vec<_> = ["aborted", "committing", "empty", "ongoing"]
        .iter()
        .map(|t| h.replayed().transaction(t).unwrap().state)
        .collect();
    assert_eq!(
        states,
        vec![
            TxnState::CompleteAbort,
            TxnState::PrepareCommit,
            TxnState::Empty,
            TxnState::Ongoing
        ]
    );
}

#[test]
fn loaded_on_an_empty_log_only_arms_expiry() {
    let h = Harness::new();
    let (_, loaded) = h.restart();
    assert_eq!(
        loaded,
        Outcome {
            timers: vec![TimerOp::Set {
                key: TimerKey::ExpireTransactionalIds,
                deadline_ms: h.now + config().remove_expired_transaction_cleanup_interval_ms,
            }],
            ..Outcome::default()
        }
    );
}
