use super::*;
use proptest::prelude::*;

fn cfg() -> ShareConfig {
    ShareConfig {
        record_lock_duration_ms: 1000,
        delivery_count_limit: 3,
        max_record_locks: 10,
        redelivery_backoff_ms: Vec::new(),
    }
}

fn acq(first: i64, last: i64, delivery_count: u16) -> Acquired {
    Acquired {
        first_offset: first,
        last_offset: last,
        delivery_count,
    }
}

const ACCEPT: i8 = 1;
const RELEASE: i8 = 2;
const REJECT: i8 = 3;
const RENEW: i8 = 4;

#[test]
fn records_are_acquired_once_and_accepted_records_move_the_start_offset() {
    let mut p = SharePartition::new(0, cfg());
    assert_eq!(p.acquire("a", 3, 100, 0), vec![acq(0, 2, 1)]);
    // The next member gets the next records, not the same ones.
    assert_eq!(p.acquire("b", 3, 100, 0), vec![acq(3, 5, 1)]);
    assert_eq!(p.acknowledge("a", 0, 2, &[ACCEPT], 10), Ok(vec![]));
    assert_eq!(p.start_offset(), 3);
    // b's records are not a's to acknowledge.
    assert_eq!(
        p.acknowledge("a", 3, 3, &[ACCEPT], 10),
        Err(AckError::InvalidRecordState(3))
    );
    assert_eq!(p.acknowledge("b", 3, 5, &[ACCEPT], 10), Ok(vec![]));
    assert_eq!((p.start_offset(), p.end_offset(), p.in_flight()), (6, 6, 0));
}

#[test]
fn acquisition_stops_at_the_fetch_end_and_the_in_flight_cap() {
    let mut p = SharePartition::new(0, cfg());
    assert_eq!(p.acquire("a", 100, 4, 0), vec![acq(0, 3, 1)]);
    // Cap 10: six more at most while four are held.
    assert_eq!(p.acquire("a", 100, 100, 0), vec![acq(4, 9, 1)]);
    assert_eq!(p.acquire("b", 100, 100, 0), vec![]);
    assert_eq!(p.in_flight(), 10);
    p.acknowledge("a", 0, 4, &[ACCEPT], 0).unwrap();
    assert_eq!(p.acquire("b", 100, 100, 0), vec![acq(10, 14, 1)]);
}

#[test]
fn released_records_come_back_with_a_raised_delivery_count_until_the_limit_archives_them() {
    let mut p = SharePartition::new(0, cfg());
    assert_eq!(p.acquire("a", 2, 100, 0), vec![acq(0, 1, 1)]);
    assert_eq!(p.acknowledge("a", 0, 1, &[RELEASE], 0), Ok(vec![]));
    assert_eq!(p.next_fetch_offset(0), 0);
    assert_eq!(p.acquire("b", 2, 100, 0), vec![acq(0, 1, 2)]);
    assert_eq!(p.acknowledge("b", 0, 1, &[RELEASE], 0), Ok(vec![]));
    assert_eq!(p.acquire("c", 2, 100, 0), vec![acq(0, 1, 3)]);
    // Third delivery was the last (limit 3): released again, archived and reported.
    let failed = p.acknowledge("c", 0, 1, &[RELEASE], 0).unwrap();
    assert_eq!(
        failed,
        vec![
            Failed {
                offset: 0,
                delivery_count: 3
            },
            Failed {
                offset: 1,
                delivery_count: 3
            }
        ]
    );
    assert_eq!(p.start_offset(), 2);
}

#[test]
fn an_expired_lock_makes_the_records_available_to_others() {
    let mut p = SharePartition::new(0, cfg());
    p.acquire("dead", 3, 100, 0);
    assert_eq!(p.next_deadline(0), Some(1000));
    assert_eq!(p.expire_locks(999), vec![]);
    assert_eq!(p.acquire("b", 3, 3, 999), vec![]);
    assert_eq!(p.expire_locks(1000), vec![]);
    assert_eq!(p.acquire("b", 3, 3, 1000), vec![acq(0, 2, 2)]);
    // The dead member's late acknowledgement is refused.
    assert_eq!(
        p.acknowledge("dead", 0, 0, &[ACCEPT], 1001),
        Err(AckError::InvalidRecordState(0))
    );
}

#[test]
fn per_offset_types_reject_and_report_failures() {
    let mut p = SharePartition::new(10, cfg());
    assert_eq!(p.acquire("a", 4, 100, 0), vec![acq(10, 13, 1)]);
    let failed = p
        .acknowledge("a", 10, 13, &[ACCEPT, REJECT, 0, RELEASE], 5)
        .unwrap();
    assert_eq!(
        failed,
        vec![Failed {
            offset: 11,
            delivery_count: 1
        }]
    );
    // 10–12 are done (accepted, rejected, a gap): the start offset passes them.
    assert_eq!(p.record(12), None);
    assert_eq!(p.start_offset(), 13);
    assert_eq!(p.record(13).map(|r| r.0), Some(RecordState::Available));
}

#[test]
fn malformed_batches_change_nothing() {
    let mut p = SharePartition::new(0, cfg());
    p.acquire("a", 4, 100, 0);
    let before = p.snapshot();
    assert!(matches!(
        p.acknowledge("a", 3, 1, &[ACCEPT], 0),
        Err(AckError::InvalidRequest(_))
    ));
    assert!(matches!(
        p.acknowledge("a", 0, 3, &[ACCEPT, ACCEPT], 0),
        Err(AckError::InvalidRequest(_))
    ));
    assert!(matches!(
        p.acknowledge("a", 0, 0, &[9], 0),
        Err(AckError::InvalidRequest(_))
    ));
    // One offset not acquired refuses the whole batch.
    assert_eq!(
        p.acknowledge("a", 0, 4, &[ACCEPT], 0),
        Err(AckError::InvalidRecordState(4))
    );
    assert_eq!(p.snapshot(), before);
    assert_eq!(p.counts(), (0, 4, 0, 0));
}

#[test]
fn acknowledgements_below_the_start_offset_are_refused_as_kafka_does() {
    let mut p = SharePartition::new(0, cfg());
    p.acquire("a", 4, 100, 0);
    p.acknowledge("a", 0, 1, &[ACCEPT], 0).unwrap();
    // Entirely done: Kafka's "Batch record not found" (INVALID_RECORD_STATE).
    assert_eq!(
        p.acknowledge("a", 0, 1, &[ACCEPT], 0),
        Err(AckError::InvalidRecordState(0))
    );
    // Across the start offset: the part still in flight is acknowledged.
    assert_eq!(p.acknowledge("a", 0, 3, &[ACCEPT], 0), Ok(vec![]));
    assert_eq!(p.start_offset(), 4);
}

#[test]
fn renew_gives_the_holder_a_new_full_lock_and_keeps_the_delivery_count() {
    let mut p = SharePartition::new(0, cfg());
    assert_eq!(p.acquire("a", 3, 100, 0), vec![acq(0, 2, 1)]);
    // At 800 ms, renewing 0-1 locks them until 1800 (a full lock from now); 2 keeps 1000.
    assert_eq!(p.acknowledge("a", 0, 1, &[RENEW], 800), Ok(vec![]));
    assert_eq!(p.record(0), Some((RecordState::Acquired, 1, Some("a"))));
    assert_eq!(p.record(1), Some((RecordState::Acquired, 1, Some("a"))));
    assert_eq!(p.next_deadline(800), Some(1000));
    assert_eq!(p.expire_locks(1000), vec![]);
    assert_eq!(p.record(2), Some((RecordState::Available, 1, None)));
    // Another member gets only the record whose lock expired.
    assert_eq!(p.acquire("b", 10, 3, 1000), vec![acq(2, 2, 2)]);
    // Renewing again before the lock runs out keeps moving it.
    assert_eq!(p.acknowledge("a", 0, 1, &[RENEW], 1700), Ok(vec![]));
    p.expire_locks(2600);
    assert_eq!(p.acquire("b", 10, 2, 2600), vec![]);
    assert_eq!(p.record(0), Some((RecordState::Acquired, 1, Some("a"))));
    // Once the renewals stop, the lock expires like any other: delivered again, count 2.
    p.expire_locks(2700);
    assert_eq!(p.acquire("b", 10, 2, 2700), vec![acq(0, 1, 2)]);
    // A renewed record is still the holder's to acknowledge for good.
    assert_eq!(p.acknowledge("b", 0, 1, &[RENEW], 2800), Ok(vec![]));
    assert_eq!(p.acknowledge("b", 0, 1, &[ACCEPT], 2900), Ok(vec![]));
    assert_eq!(p.start_offset(), 2);
}

#[test]
fn renew_of_records_the_member_does_not_hold_is_refused() {
    let mut p = SharePartition::new(0, cfg());
    p.acquire("a", 4, 100, 0);
    p.acknowledge("a", 0, 0, &[ACCEPT], 0).unwrap();
    let before = p.snapshot();
    // Someone else's records, a terminal record (below the start offset), an offset never
    // acquired: INVALID_RECORD_STATE, nothing changes.
    assert_eq!(
        p.acknowledge("b", 1, 1, &[RENEW], 10),
        Err(AckError::InvalidRecordState(1))
    );
    assert_eq!(
        p.acknowledge("a", 0, 0, &[RENEW], 10),
        Err(AckError::InvalidRecordState(0))
    );
    assert_eq!(
        p.acknowledge("a", 3, 4, &[RENEW], 10),
        Err(AckError::InvalidRecordState(4))
    );
    assert_eq!(p.snapshot(), before);
    // An expired lock cannot be renewed.
    p.expire_locks(1000);
    assert_eq!(
        p.acknowledge("a", 1, 1, &[RENEW], 1000),
        Err(AckError::InvalidRecordState(1))
    );
}

#[test]
fn renew_mixes_with_other_types_per_offset_and_is_not_persisted_as_a_change_of_state() {
    let mut p = SharePartition::new(0, cfg());
    p.acquire("a", 3, 100, 0);
    let held = p.snapshot();
    assert_eq!(p.acknowledge("a", 0, 2, &[RENEW], 500), Ok(vec![]));
    // Acquired records are stored as available with their count: a renewal changes nothing
    // durable.
    assert_eq!(p.snapshot(), held);
    assert_eq!(
        p.acknowledge("a", 0, 2, &[ACCEPT, RENEW, REJECT], 600),
        Ok(vec![Failed {
            offset: 2,
            delivery_count: 1
        }])
    );
    assert_eq!(p.start_offset(), 1);
    assert_eq!(p.record(1), Some((RecordState::Acquired, 1, Some("a"))));
    assert_eq!(p.next_deadline(600), Some(1600));
}

#[test]
fn a_leaving_member_releases_what_it_holds() {
    let mut p = SharePartition::new(0, cfg());
    p.acquire("a", 2, 100, 0);
    p.acquire("b", 2, 100, 0);
    assert_eq!(p.release_member("a", 0), vec![]);
    assert_eq!(p.acquire("c", 10, 100, 0), vec![acq(0, 1, 2), acq(4, 9, 1)]);
    assert_eq!(p.record(2).and_then(|r| r.2), Some("b"));
}

#[test]
fn redelivery_backoff_delays_availability_per_delivery() {
    let mut c = cfg();
    c.delivery_count_limit = 5;
    c.redelivery_backoff_ms = vec![100, 300];
    let mut p = SharePartition::new(0, c);
    p.acquire("a", 1, 100, 0);
    p.acknowledge("a", 0, 0, &[RELEASE], 0).unwrap();
    // First redelivery after 100 ms: offset 0 is skipped until then.
    assert_eq!(p.next_fetch_offset(50), 1);
    assert_eq!(p.acquire("a", 1, 1, 99), vec![]);
    assert_eq!(p.next_deadline(0), Some(100));
    assert_eq!(p.acquire("a", 1, 1, 100), vec![acq(0, 0, 2)]);
    p.acknowledge("a", 0, 0, &[RELEASE], 200).unwrap();
    assert_eq!(p.acquire("a", 1, 1, 499), vec![]);
    assert_eq!(p.acquire("a", 1, 1, 500), vec![acq(0, 0, 3)]);
    // The last value repeats.
    p.acknowledge("a", 0, 0, &[RELEASE], 1000).unwrap();
    assert_eq!(p.acquire("a", 1, 1, 1299), vec![]);
    assert_eq!(p.acquire("a", 1, 1, 1300), vec![acq(0, 0, 4)]);
}

#[test]
fn a_snapshot_restores_states_and_counts_and_acquired_records_come_back_available() {
    let mut p = SharePartition::new(5, cfg());
    p.acquire("a", 6, 100, 0);
    p.acknowledge("a", 5, 5, &[ACCEPT], 0).unwrap();
    p.acknowledge("a", 7, 7, &[REJECT], 0).unwrap();
    p.acknowledge("a", 8, 8, &[RELEASE], 0).unwrap();
    let s = p.snapshot();
    assert_eq!(s.start_offset, 6);
    assert_eq!(
        s.batches,
        vec![
            StateBatch {
                first_offset: 6,
                last_offset: 6,
                state: RecordState::Available,
                delivery_count: 1
            },
            StateBatch {
                first_offset: 7,
                last_offset: 7,
                state: RecordState::Archived,
                delivery_count: 1
            },
            StateBatch {
                first_offset: 8,
                last_offset: 10,
                state: RecordState::Available,
                delivery_count: 1
            },
        ]
    );
    let (mut r, failed) = SharePartition::restore(&s, cfg());
    assert_eq!(failed, vec![]);
    assert_eq!(r.snapshot(), s);
    assert_eq!(r.counts(), (4, 0, 0, 1));
    // Nothing accepted comes back; the released and the once-acquired ones do.
    assert_eq!(
        r.acquire("b", 100, 11, 0),
        vec![acq(6, 6, 2), acq(8, 10, 2)]
    );
}

#[test]
fn a_record_held_at_its_last_delivery_when_the_broker_stopped_is_archived_on_restore() {
    let mut p = SharePartition::new(0, cfg());
    for n in 1..=3u16 {
        assert_eq!(p.acquire("a", 1, 1, 0), vec![acq(0, 0, n)]);
        if n < 3 {
            p.acknowledge("a", 0, 0, &[RELEASE], 0).unwrap();
        }
    }
    // Stopped while held at delivery 3 of 3.
    let (mut r, failed) = SharePartition::restore(&p.snapshot(), cfg());
    assert_eq!(
        failed,
        vec![Failed {
            offset: 0,
            delivery_count: 3
        }]
    );
    assert_eq!(r.start_offset(), 1);
    assert_eq!(r.acquire("b", 1, 2, 0), vec![acq(1, 1, 1)]);
}

#[test]
fn lowering_the_delivery_limit_archives_what_reached_it() {
    let mut p = SharePartition::new(0, cfg());
    p.acquire("a", 2, 2, 0);
    p.acknowledge("a", 0, 1, &[RELEASE], 0).unwrap();
    let failed = p.set_config(ShareConfig {
        delivery_count_limit: 1,
        ..cfg()
    });
    assert_eq!(failed.len(), 2);
    assert_eq!(p.start_offset(), 2);
}

#[test]
fn a_moved_log_start_archives_what_is_gone() {
    let mut p = SharePartition::new(0, cfg());
    p.acquire("a", 4, 100, 0);
    p.log_start_moved(2);
    assert_eq!(p.start_offset(), 2);
    assert_eq!(
        p.acknowledge("a", 0, 1, &[ACCEPT], 0),
        Err(AckError::InvalidRecordState(0)),
        "below the start: gone"
    );
    p.log_start_moved(50);
    assert_eq!((p.start_offset(), p.end_offset()), (50, 50));
    assert_eq!(p.acquire("a", 2, 100, 0), vec![acq(50, 51, 1)]);
}

/// An offset's state, delivery count and holder, owned.
type Seen = Option<(RecordState, u16, Option<String>)>;

/// One step of the property test's random schedule.
#[derive(Debug, Clone)]
enum Op {
    Acquire {
        member: u8,
        max: usize,
        end: i64,
    },
    Ack {
        member: u8,
        first: i64,
        len: i64,
        kind: i8,
    },
    Advance(i64),
    Leave(u8),
    Restart,
    LogStart(i64),
    /// skua's delayed delivery: acquired records given back until `delay` ms from now.
    Delay {
        member: u8,
        first: i64,
        len: i64,
        delay: i64,
    },
    /// skua's record filter: an acquired record archived unsent.
    Filter {
        member: u8,
        offset: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, 1usize..6, 0i64..40).prop_map(|(member, max, end)| Op::Acquire {
            member,
            max,
            end
        }),
        (0u8..3, 0i64..40, 1i64..4, 0i8..5).prop_map(|(member, first, len, kind)| Op::Ack {
            member,
            first,
            len,
            kind
        }),
        (0i64..1500).prop_map(Op::Advance),
        (0u8..3).prop_map(Op::Leave),
        Just(Op::Restart),
        (0i64..20).prop_map(Op::LogStart),
        (0u8..3, 0i64..40, 1i64..4, 0i64..2000).prop_map(|(member, first, len, delay)| {
            Op::Delay {
                member,
                first,
                len,
                delay,
            }
        }),
        (0u8..3, 0i64..40).prop_map(|(member, offset)| Op::Filter { member, offset }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn invariants_hold_under_any_schedule(ops in proptest::collection::vec(op(), 1..80)) {
        let c = ShareConfig { redelivery_backoff_ms: vec![50, 200], ..cfg() };
        let mut p = SharePartition::new(0, c.clone());
        let mut now = 0i64;
        // Terminal states seen so far, by offset; accepted offsets are never acquired again.
        let mut terminal: BTreeMap<i64, RecordState> = BTreeMap::new();
        let mut start = p.start_offset();
        // Offsets held back until a time (delayed delivery): never acquired before it.
        let mut not_before: BTreeMap<i64, i64> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Acquire { member, max, end } => {
                    let got = p.acquire(&format!("m{member}"), max, end, now);
                    let n: i64 = got.iter().map(|a| a.last_offset - a.first_offset + 1).sum();
                    prop_assert!(n as usize <= max);
                    for a in &got {
                        prop_assert!(a.last_offset < end);
                        prop_assert!(a.delivery_count >= 1 && a.delivery_count <= c.delivery_count_limit);
                        for o in a.first_offset..=a.last_offset {
                            prop_assert!(!terminal.contains_key(&o), "terminal offset {o} acquired again");
                            if let Some(t) = not_before.remove(&o) {
                                prop_assert!(now >= t, "offset {o} acquired at {now}, held until {t}");
                            }
                            prop_assert!(o >= p.start_offset());
                        }
                    }
                }
                Op::Ack { member, first, len, kind } => {
                    let before: Vec<(i64, Seen)> = (first..first + len)
                        .map(|o| (o, p.record(o).map(|(s, c, m)| (s, c, m.map(str::to_string)))))
                        .collect();
                    let m = format!("m{member}");
                    match p.acknowledge(&m, first, first + len - 1, &[kind], now) {
                        Ok(_) if kind == RENEW => {
                            // RENEW never changes a record's state, delivery count or holder
                            // (and so never revives a terminal one).
                            for (o, b) in before {
                                let after = p.record(o).map(|(s, c, m)| (s, c, m.map(str::to_string)));
                                prop_assert_eq!(&after, &b, "renew changed offset {}", o);
                                if let Some((s, _, holder)) = b {
                                    prop_assert_eq!(s, RecordState::Acquired);
                                    prop_assert_eq!(holder.as_deref(), Some(m.as_str()));
                                }
                            }
                            // The renewed locks hold for a full duration from now.
                            if let Some(d) = p.next_deadline(now) {
                                prop_assert!(d > now);
                            }
                        }
                        Ok(_) => {
                            for (o, b) in before {
                                if let Some((s, _, holder)) = b {
                                    prop_assert_eq!(s, RecordState::Acquired);
                                    prop_assert_eq!(holder.as_deref(), Some(m.as_str()));
                                }
                                if let Some((s, _, _)) = p.record(o) {
                                    if s.is_terminal() { terminal.insert(o, s); }
                                } else if o < p.start_offset() && (kind == 1 || kind == 3 || kind == 0) {
                                    terminal.entry(o).or_insert(RecordState::Acknowledged);
                                }
                            }
                        }
                        Err(_) => {
                            for (o, b) in before {
                                let now_state = p.record(o).map(|(s, c, m)| (s, c, m.map(str::to_string)));
                                prop_assert_eq!(now_state, b, "a refused batch changed offset {}", o);
                            }
                        }
                    }
                }
                Op::Advance(ms) => {
                    now += ms;
                    p.expire_locks(now);
                }
                Op::Leave(member) => {
                    p.release_member(&format!("m{member}"), now);
                }
                Op::Restart => {
                    let s = p.snapshot();
                    let (r, failed) = SharePartition::restore(&s, c.clone());
                    p = r;
                    for f in &failed {
                        prop_assert_eq!(f.delivery_count, c.delivery_count_limit);
                        terminal.insert(f.offset, RecordState::Archived);
                    }
                    if failed.is_empty() {
                        prop_assert_eq!(p.snapshot(), s);
                    }
                    prop_assert_eq!(p.counts().1, 0, "nothing is held after a restart");
                    // The runtime reads a delayed record's header again on every acquisition.
                    not_before.clear();
                }
                Op::LogStart(o) => p.log_start_moved(o),
                Op::Delay { member, first, len, delay } => {
                    let m = format!("m{member}");
                    let held: Vec<(i64, u16)> = (first..first + len)
                        .filter_map(|o| match p.record(o) {
                            Some((RecordState::Acquired, c, Some(h))) if h == m => Some((o, c)),
                            _ => None,
                        })
                        .collect();
                    p.unacquire(&m, first, first + len - 1, now + delay);
                    for (o, c) in held {
                        let (s, c2, h) = p.record(o).expect("still in flight");
                        prop_assert_eq!((s, c2, h), (RecordState::Available, c - 1, None));
                        not_before.insert(o, now + delay);
                    }
                }
                Op::Filter { member, offset } => {
                    let m = format!("m{member}");
                    let held = matches!(p.record(offset), Some((RecordState::Acquired, _, Some(h))) if h == m);
                    prop_assert_eq!(p.archive_unsent(&m, offset), held);
                    if held {
                        terminal.insert(offset, RecordState::Archived);
                        if let Some((s, _, _)) = p.record(offset) {
                            prop_assert_eq!(s, RecordState::Archived);
                        }
                    }
                }
            }
            // Invariants after every step.
            prop_assert!(p.start_offset() >= start, "start offset moved back");
            start = p.start_offset();
            prop_assert!(p.start_offset() <= p.end_offset());
            prop_assert!(p.in_flight() <= c.max_record_locks);
            for o in p.start_offset()..p.end_offset() {
                let (s, count, holder) = p.record(o).expect("every in-flight offset has a state");
                prop_assert!(count <= c.delivery_count_limit);
                prop_assert_eq!(s == RecordState::Acquired, holder.is_some());
                if let Some(t) = terminal.get(&o) {
                    prop_assert_eq!(s, *t, "terminal state of {} changed", o);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// A holder that renews before each lock runs out keeps its records for as long as it
    /// renews; once it stops, they come back after one full lock, counted as one delivery.
    #[test]
    fn renewing_within_the_lock_keeps_records_held(gaps in proptest::collection::vec(1i64..1000, 1..30)) {
        let c = cfg();
        let mut p = SharePartition::new(0, c.clone());
        let mut now = 0i64;
        prop_assert_eq!(p.acquire("a", 3, 3, now), vec![acq(0, 2, 1)]);
        for gap in gaps {
            now += gap;
            p.expire_locks(now);
            prop_assert_eq!(p.acquire("b", 3, 3, now), vec![]);
            for o in 0..3 {
                prop_assert_eq!(p.record(o), Some((RecordState::Acquired, 1, Some("a"))));
            }
            prop_assert_eq!(p.acknowledge("a", 0, 2, &[RENEW], now), Ok(vec![]));
        }
        p.expire_locks(now + c.record_lock_duration_ms - 1);
        prop_assert_eq!(p.counts().1, 3);
        now += c.record_lock_duration_ms;
        p.expire_locks(now);
        prop_assert_eq!(p.acquire("b", 3, 3, now), vec![acq(0, 2, 2)]);
    }
}
