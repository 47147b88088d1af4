//! Coordinator partitions: unloading one `__transaction_state` partition's transactional ids
//! when this broker stops leading it, and loading them back with a new coordinator epoch.

use super::*;

/// A transactional id (`<tag><n>`) stored in `__transaction_state` partition `partition`.
fn tid_in(partition: i32, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}{i}"))
        .find(|t| crate::group::partition_for(t, 50) == partition)
        .unwrap_or_else(|| unreachable!())
}

fn replay_partition(h: &mut Harness, partition: i32) {
    for r in h.log.clone().iter().filter(|r| r.partition == partition) {
        h.coord.replay(h.now, &r.key, r.value.as_deref()).unwrap();
    }
}

#[test]
fn unloading_forgets_the_partitions_transactions_and_their_timeouts() {
    let mut h = Harness::new();
    let (a, b) = (tid_in(2, "a"), tid_in(5, "b"));
    let (pa, ea) = init(&mut h, &a);
    let (pb, eb) = init(&mut h, &b);
    add(&mut h, &a, pa, ea, &[("t", 0)]);
    add(&mut h, &b, pb, eb, &[("t", 1)]);
    let out = h.coord.unload_partition(2);
    h.apply(&out);
    assert!(out.records.is_empty() && out.responses.is_empty() && out.markers.is_empty());
    assert_eq!(
        out.partitions,
        vec![PartitionsUpdate::Clear { producer_id: pa }]
    );
    assert_eq!(h.coord.transaction(&a), None);
    assert_eq!(h.timer_keys(), vec![timeout_key(&b)]);
    assert_eq!(h.state(&b), Some("Ongoing"));
    assert_eq!(h.open.keys().copied().collect::<Vec<_>>(), vec![pb]);
    // A late markers_written for an unloaded transaction is ignored.
    let out = h.coord.markers_written(h.now, &a, pa, ea);
    assert_eq!(out, Outcome::default());
}

#[test]
fn reloading_restores_ongoing_transactions_with_their_original_timeout() {
    let mut h = Harness::new();
    let a = tid_in(2, "a");
    let (pa, ea) = init(&mut h, &a);
    add(&mut h, &a, pa, ea, &[("t", 0), ("u", 3)]);
    let deadline = h.timers[&timeout_key(&a)];
    let out = h.coord.unload_partition(2);
    h.apply(&out);
    h.now += 10_000;
    replay_partition(&mut h, 2);
    let out = h.coord.partition_loaded(h.now, 2, 4);
    h.apply(&out);
    assert_eq!(h.state(&a), Some("Ongoing"));
    assert_eq!(
        h.timers[&timeout_key(&a)],
        deadline,
        "counted from the start"
    );
    assert_eq!(h.open[&pa], (ea, tps(&[("t", 0), ("u", 3)])));
    assert!(out.markers.is_empty() && out.records.is_empty());
}

#[test]
fn reloaded_completing_transaction_gets_markers_with_the_new_coordinator_epoch() {
    let mut h = Harness::new();
    let (a, b) = (tid_in(7, "a"), tid_in(8, "b"));
    let (pa, ea) = init(&mut h, &a);
    let (pb, eb) = init(&mut h, &b);
    add(&mut h, &a, pa, ea, &[("t", 0)]);
    add(&mut h, &b, pb, eb, &[("t", 1)]);
    let (r, _) = h.call(end_req(&a, pa, ea, true));
    assert_eq!(end_error(&r), 0);
    let (r, _) = h.call(end_req(&b, pb, eb, false));
    assert_eq!(end_error(&r), 0);
    // Loaded at startup: coordinator epoch 0.
    assert_eq!(
        h.markers
            .iter()
            .map(|m| m.coordinator_epoch)
            .collect::<Vec<_>>(),
        vec![0, 0]
    );
    h.markers.clear();
    let out = h.coord.unload_partition(7);
    h.apply(&out);
    replay_partition(&mut h, 7);
    let out = h.coord.partition_loaded(h.now, 7, 12);
    h.apply(&out);
    assert_eq!(
        out.markers,
        vec![MarkerRequest {
            transactional_id: a.clone(),
            producer_id: pa,
            producer_epoch: ea,
            commit: true,
            coordinator_epoch: 12,
            partitions: tps(&[("t", 0)]),
        }]
    );
    // The other partition keeps its epoch; a newer leader epoch without reload is adopted.
    assert_eq!(h.coord.coordinator_epoch(8), 0);
    h.coord.set_coordinator_epoch(7, 13);
    assert_eq!(h.coord.coordinator_epoch(7), 13);
    h.write_markers();
    assert_eq!(h.state(&a), Some("CompleteCommit"));
    assert_eq!(
        h.state(&b),
        Some("PrepareAbort"),
        "its markers were cleared above"
    );
}
