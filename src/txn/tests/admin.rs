//! DescribeTransactions, ListTransactions and the expiry of transactional ids.

use super::*;
use crate::txn::state::TxnState;

/// "a" Empty, "b" Ongoing (started 5 s before the returned time), "c" CompleteCommit,
/// "d" PrepareAbort. Returns the producer ids of a..d.
fn four_states(h: &mut Harness) -> [i64; 4] {
    let (a, _) = init(h, "a");
    let (b, eb) = init(h, "b");
    let (c, ec) = init(h, "c");
    let (d, ed) = init(h, "d");
    add(h, "c", c, ec, &[("x", 0)]);
    h.call(end_req("c", c, ec, true));
    h.write_markers();
    add(h, "d", d, ed, &[("x", 1)]);
    h.call(end_req("d", d, ed, false));
    add(h, "b", b, eb, &[("y", 1), ("x", 2)]);
    h.advance(5_000);
    [a, b, c, d]
}

fn list(h: &mut Harness, states: &[&str], pids: &[i64], duration: i64) -> Response {
    h.call(Request::List {
        state_filters: states.iter().map(|s| s.to_string()).collect(),
        producer_id_filters: pids.to_vec(),
        duration_filter_ms: duration,
        transactional_id_pattern: None,
    })
    .0
}

fn listed(entries: &[(&str, i64, &str)]) -> Vec<(String, i64, String)> {
    entries
        .iter()
        .map(|(t, p, s)| (t.to_string(), *p, s.to_string()))
        .collect()
}

#[test]
fn describe_and_list_filters() {
    let mut h = Harness::new();
    let [a, b, c, d] = four_states(&mut h);
    let started = h.now - 5_000;
    let (r, out) = h.call(Request::Describe {
        transactional_ids: vec!["b".into(), "a".into(), "missing".into(), "".into()],
    });
    assert!(out.records.is_empty());
    let Response::Describe { transactions } = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        transactions[0],
        DescribedTxn {
            transactional_id: "b".into(),
            error: 0,
            state: "Ongoing".into(),
            timeout_ms: TIMEOUT_MS,
            start_timestamp_ms: started,
            producer_id: b,
            producer_epoch: 0,
            partitions: tps(&[("x", 2), ("y", 1)]),
        }
    );
    assert_eq!(
        (
            transactions[1].state.as_str(),
            transactions[1].start_timestamp_ms
        ),
        ("Empty", -1)
    );
    assert!(transactions[1].partitions.is_empty());
    assert_eq!(transactions[2], DescribedTxn::error("missing", 105));
    assert_eq!(transactions[3], DescribedTxn::error("", 42));
    assert_eq!(transactions.len(), 4);

    let all = listed(&[
        ("a", a, "Empty"),
        ("b", b, "Ongoing"),
        ("c", c, "CompleteCommit"),
        ("d", d, "PrepareAbort"),
    ]);
    let ok = |transactions, unknown: &[&str]| Response::List {
        error: 0,
        unknown_state_filters: unknown.iter().map(|s| s.to_string()).collect(),
        transactions,
    };
    assert_eq!(list(&mut h, &[], &[], -1), ok(all, &[]));
    assert_eq!(
        list(&mut h, &["Ongoing", "Bogus", "PrepareAbort"], &[], -1),
        ok(
            listed(&[("b", b, "Ongoing"), ("d", d, "PrepareAbort")]),
            &["Bogus"]
        )
    );
    // State names are case-sensitive, as in Kafka; an unknown name matches nothing.
    assert_eq!(
        list(&mut h, &["ongoing"], &[], -1),
        ok(vec![], &["ongoing"])
    );
    assert_eq!(
        list(&mut h, &[], &[c, 999], -1),
        ok(listed(&[("c", c, "CompleteCommit")]), &[])
    );
    assert_eq!(list(&mut h, &["Ongoing"], &[c], -1), ok(vec![], &[]));
    // Duration (KIP-994): running longer than the filter.
    assert_eq!(
        list(&mut h, &["Ongoing"], &[], 4_999),
        ok(listed(&[("b", b, "Ongoing")]), &[])
    );
    assert_eq!(list(&mut h, &["Ongoing"], &[], 5_000), ok(vec![], &[]));
    // As in Kafka, an id that never started a transaction (start -1) passes the filter.
    let Response::List { transactions, .. } = list(&mut h, &[], &[a], 5_000) else {
        panic!()
    };
    assert_eq!(transactions, listed(&[("a", a, "Empty")]));
}

#[test]
fn expired_transactional_id_is_tombstoned() {
    const HOUR: i64 = 3_600_000;
    let config = TxnConfig {
        transactional_id_expiration_ms: 2 * HOUR,
        remove_expired_transaction_cleanup_interval_ms: HOUR,
        ..config()
    };
    let mut h = Harness::with_coordinator(TransactionCoordinator::new(config, ids_from(1)));
    let loaded = h.coord.loaded(h.now);
    h.apply(&loaded);
    let t0 = h.now;
    assert_eq!(
        h.timers.get(&TimerKey::ExpireTransactionalIds),
        Some(&(t0 + HOUR))
    );
    let (idle, _) = init(&mut h, "idle");
    // "busy" times out after a minute and stays in PrepareAbort (markers not written).
    let (busy, eb) = init(&mut h, "busy");
    add(&mut h, "busy", busy, eb, &[("a", 0)]);
    let outs = h.advance(HOUR);
    assert_eq!(outs.len(), 2, "timeout, then the first expiry check");
    assert!(outs[1].records.is_empty(), "nothing is two hours old yet");
    assert_eq!(
        h.timers.get(&TimerKey::ExpireTransactionalIds),
        Some(&(t0 + 2 * HOUR))
    );
    h.advance(HOUR / 2);
    init(&mut h, "recent");
    let outs = h.advance(HOUR / 2);
    let out = &outs[0];
    // Only "idle" (Empty, untouched for two hours): a tombstone on its partition.
    assert_eq!(decoded(out), vec![("idle".to_string(), None)]);
    assert_eq!(
        out.records[0].partition,
        h.coord.transaction_state_partition("idle")
    );
    assert_eq!(
        out.partitions,
        vec![PartitionsUpdate::Clear { producer_id: idle }]
    );
    assert!(out.timers.contains(&TimerOp::Set {
        key: TimerKey::ExpireTransactionalIds,
        deadline_ms: t0 + 3 * HOUR
    }));
    assert_eq!(h.coord.transactional_ids(), vec!["busy", "recent"]);
    assert_eq!(
        h.coord.transaction("busy").unwrap().state,
        TxnState::PrepareAbort
    );
    h.assert_replay_matches();
    let (r, _) = h.call(Request::Describe {
        transactional_ids: vec!["idle".into()],
    });
    assert_eq!(
        r,
        Response::Describe {
            transactions: vec![DescribedTxn::error("idle", 105)]
        }
    );
    // The old producer id is gone: its requests no longer map, and a new instance starts over.
    assert_eq!(
        add_error(&h.call(add_req("idle", idle, 0, &[("a", 0)])).0),
        49
    );
    let (new_pid, epoch) = init(&mut h, "idle");
    assert_ne!(new_pid, idle);
    assert_eq!(epoch, 0);
}

#[test]
fn list_by_transactional_id_pattern() {
    let mut h = Harness::new();
    for tid in ["orders-1", "orders-2", "payments-1", "xorders-1"] {
        init(&mut h, tid);
    }
    let by = |h: &mut Harness, p: Option<&str>| match h
        .call(Request::List {
            state_filters: vec![],
            producer_id_filters: vec![],
            duration_filter_ms: -1,
            transactional_id_pattern: p.map(str::to_string),
        })
        .0
    {
        Response::List {
            error,
            transactions,
            ..
        } => (
            error,
            transactions.into_iter().map(|t| t.0).collect::<Vec<_>>(),
        ),
        other => panic!("{other:?}"),
    };
    // The whole id must match (Kafka's Matcher.matches).
    assert_eq!(
        by(&mut h, Some("orders-.*")),
        (0, vec!["orders-1".to_string(), "orders-2".to_string()])
    );
    assert_eq!(by(&mut h, Some("orders")), (0, vec![]));
    assert_eq!(by(&mut h, Some(".*-1")).1.len(), 3);
    assert_eq!(by(&mut h, Some("")).1.len(), 4, "empty: no filter");
    assert_eq!(by(&mut h, None).1.len(), 4);
    assert_eq!(by(&mut h, Some("orders-(")), (128, vec![]));
    assert_eq!(by(&mut h, Some("a|b)")).0, 128);
}
