use super::*;

fn key(topic: &str, p: i32) -> PartKey {
    PartKey {
        topic: TopicKey::Name(Arc::from(topic)),
        partition: p,
    }
}

fn id_key(id: u128, p: i32) -> PartKey {
    PartKey {
        topic: TopicKey::Id(Uuid::from_u128(id)),
        partition: p,
    }
}

fn req(offset: i64) -> PartitionReq {
    PartitionReq {
        fetch_offset: offset,
        log_start_offset: -1,
        max_bytes: 1 << 20,
        current_leader_epoch: -1,
        last_fetched_epoch: -1,
    }
}

fn out(records_len: usize, hw: i64, log_start: i64) -> PartitionOutcome {
    PartitionOutcome {
        records_len,
        high_watermark: hw,
        log_start_offset: log_start,
        preferred_read_replica: -1,
        error_code: 0,
        diverging_epoch: false,
    }
}

/// A session of `n` partitions of topic `t`, all at HW 10, log start 0; returns its id.
fn full(cache: &mut FetchSessionCache, t: &str, n: i32, privileged: bool, now: i64) -> i32 {
    assert_eq!(
        cache.new_context(false, 0, INITIAL_EPOCH, privileged, &[], &[], now),
        Context::Full {
            privileged,
            uses_topic_ids: false
        }
    );
    let parts = (0..n).map(|p| (key(t, p), req(0), out(0, 10, 0))).collect();
    cache.create_session(now, privileged, false, parts)
}

fn incremental(
    cache: &mut FetchSessionCache,
    id: i32,
    epoch: i32,
    fetch: &[(PartKey, PartitionReq)],
    forget: &[PartKey],
    now: i64,
) -> Context {
    cache.new_context(false, id, epoch, false, fetch, forget, now)
}

fn session_keys(ctx: &Context) -> Vec<PartKey> {
    match ctx {
        Context::Incremental { partitions, .. } => {
            partitions.iter().map(|(k, _)| k.clone()).collect()
        }
        other => panic!("not incremental: {other:?}"),
    }
}

#[test]
fn epochs_wrap_to_one_and_final_stays_final() {
    assert_eq!(next_epoch(0), 1);
    assert_eq!(next_epoch(41), 42);
    assert_eq!(next_epoch(i32::MAX), 1);
    assert_eq!(next_epoch(-1), -1);
}

#[test]
fn full_request_creates_a_session_of_its_partitions_and_incremental_requests_advance_it() {
    let mut c = FetchSessionCache::new(1000, MIN_EVICTION_MS);
    let id = full(&mut c, "t", 3, false, 1000);
    assert!(id > 0);
    assert_eq!((c.len(), c.total_partitions()), (1, 3));
    let s = c.get(id).unwrap();
    assert_eq!((s.epoch, s.privileged, s.uses_topic_ids), (1, false, false));

    // Epoch 1: nothing named → the whole session is read, epoch becomes 2.
    let ctx = incremental(&mut c, id, 1, &[], &[], 1100);
    assert_eq!(
        ctx,
        Context::Incremental {
            session_id: id,
            epoch: 2,
            partitions: (0..3).map(|p| (key("t", p), req(0))).collect(),
        }
    );
    // The same epoch again: INVALID_FETCH_SESSION_EPOCH, and the session is unchanged.
    assert_eq!(
        incremental(&mut c, id, 1, &[], &[], 1200),
        Context::Error(71)
    );
    assert_eq!(
        incremental(&mut c, id, 3, &[], &[], 1200),
        Context::Error(71)
    );
    assert_eq!(c.get(id).unwrap().epoch, 2);
    // Unknown session: FETCH_SESSION_ID_NOT_FOUND.
    assert_eq!(
        incremental(&mut c, id ^ 1, 2, &[], &[], 1200),
        Context::Error(70)
    );
}

#[test]
fn incremental_requests_add_update_and_forget_partitions() {
    let mut c = FetchSessionCache::new(1000, MIN_EVICTION_MS);
    let id = full(&mut c, "t", 3, false, 0);
    // Update t-1's offset, add u-0, forget t-0.
    let ctx = incremental(
        &mut c,
        id,
        1,
        &[(key("t", 1), req(7)), (key("u", 0), req(3))],
        &[key("t", 0)],
        10,
    );
    assert_eq!(
        ctx,
        Context::Incremental {
            session_id: id,
            epoch: 2,
            partitions: vec![
                (key("t", 1), req(7)),
                (key("t", 2), req(0)),
                (key("u", 0), req(3))
            ],
        }
    );
    assert_eq!(c.total_partitions(), 3);
    // Forgetting a partition not in the session changes nothing.
    let ctx = incremental(&mut c, id, 2, &[], &[key("zzz", 9)], 20);
    assert_eq!(session_keys(&ctx).len(), 3);
    // A new partition starts with no high watermark sent: it is always in the next response.
    let cached = &c.get(id).unwrap().partitions[&key("u", 0)];
    assert_eq!(
        (cached.high_watermark, cached.local_log_start_offset),
        (-1, -1)
    );
}

#[test]
fn forgetting_every_partition_closes_the_session_and_answers_sessionless() {
    let mut c = FetchSessionCache::new(1000, MIN_EVICTION_MS);
    let id = full(&mut c, "t", 2, false, 0);
    let ctx = incremental(&mut c, id, 1, &[], &[key("t", 0), key("t", 1)], 10);
    assert_eq!(ctx, Context::Sessionless);
    assert_eq!((c.len(), c.total_partitions()), (0, 0));
    assert_eq!(incremental(&mut c, id, 2, &[], &[], 20), Context::Error(70));
}

#[test]
fn full_requests_close_the_session_they_name_and_final_creates_none() {
    let mut c = FetchSessionCache::new(1000, MIN_EVICTION_MS);
    let a = full(&mut c, "t", 2, false, 0);
    // INITIAL with the old id (kafka-python after an error): the old session goes, a new one
    // may be created.
    assert_eq!(
        c.new_context(false, a, INITIAL_EPOCH, false, &[], &[], 10),
        Context::Full {
            privileged: false,
            uses_topic_ids: false
        }
    );
    assert_eq!(c.len(), 0);
    let b = full(&mut c, "t", 2, false, 10);
    assert_ne!(a, b);
    // FINAL closes and creates nothing.
    assert_eq!(
        c.new_context(false, b, FINAL_EPOCH, false, &[], &[], 20),
        Context::Sessionless
    );
    assert_eq!((c.len(), c.total_partitions()), (0, 0));
    assert_eq!(incremental(&mut c, b, 1, &[], &[], 30), Context::Error(70));
    // Sessionless requests (librdkafka: id 0, FINAL) touch nothing.
    assert_eq!(
        c.new_context(false, 0, FINAL_EPOCH, false, &[], &[], 20),
        Context::Sessionless
    );
}

#[test]
fn a_session_keeps_to_topic_ids_or_names() {
    let mut c = FetchSessionCache::new(1000, MIN_EVICTION_MS);
    let id = c.create_session(0, false, true, vec![(id_key(7, 0), req(0), out(0, 5, 0))]);
    // v12 (names) on a v13 session, and the other way round: FETCH_SESSION_TOPIC_ID_ERROR.
    assert_eq!(
        c.new_context(false, id, 1, false, &[], &[], 1),
        Context::Error(106)
    );
    let named = full(&mut c, "t", 1, false, 0);
    assert_eq!(
        c.new_context(true, named, 1, false, &[], &[], 1),
        Context::Error(106)
    );
    // The right kind works; partitions by id are told apart by id.
    let ctx = c.new_context(true, id, 1, false, &[(id_key(8, 0), req(1))], &[], 2);
    assert_eq!(session_keys(&ctx), vec![id_key(7, 0), id_key(8, 0)]);
}

#[test]
fn incremental_responses_carry_only_changed_partitions() {
    let mut c = FetchSessionCache::new(1000, MIN_EVICTION_MS);
    let id = full(&mut c, "t", 6, false, 0); // all sent with HW 10, log start 0
    let ctx = incremental(&mut c, id, 1, &[], &[], 10);
    let keys = session_keys(&ctx);
    let mut error = out(0, -1, -1);
    error.error_code = 6; // NOT_LEADER_OR_FOLLOWER
    let mut diverging = out(0, 10, 0);
    diverging.diverging_epoch = true;
    let outcomes = [
        out(0, 10, 0),   // t-0 unchanged: left out
        out(100, 10, 0), // t-1 records
        out(0, 11, 0),   // t-2 high watermark moved
        out(0, 10, 4),   // t-3 log start moved
        error,           // t-4 error
        diverging,       // t-5 diverging epoch
    ];
    let pairs: Vec<_> = keys.iter().zip(outcomes).collect();
    assert_eq!(
        c.finish_incremental(id, 2, &pairs),
        Finish::Include(vec![false, true, true, true, true, true])
    );
    // t-1 returned records: it moved to the end of the session's order.
    let ctx = incremental(&mut c, id, 2, &[], &[], 20);
    let keys = session_keys(&ctx);
    assert_eq!(
        keys,
        [0, 2, 3, 4, 5, 1]
            .iter()
            .map(|&p| key("t", p))
            .collect::<Vec<_>>()
    );
    // Same state again: only the recovered partition (its HW was forgotten by the error) and
    // the diverging one are sent; the values sent last time are remembered.
    let outcomes = [
        out(0, 10, 0),
        out(0, 11, 0),
        out(0, 10, 4),
        out(0, 10, 0), // t-4 recovered
        diverging,
        out(0, 10, 0), // t-1 no more records
    ];
    let pairs: Vec<_> = keys.iter().zip(outcomes).collect();
    assert_eq!(
        c.finish_incremental(id, 3, &pairs),
        Finish::Include(vec![false, false, false, true, true, false])
    );
    // A preferred read replica is always sent.
    let ctx = incremental(&mut c, id, 3, &[], &[], 30);
    let keys = session_keys(&ctx);
    let mut preferred = out(0, 10, 0);
    preferred.preferred_read_replica = 2;
    let outcomes = [
        out(0, 10, 0),
        out(0, 11, 0),
        out(0, 10, 4),
        out(0, 10, 0),
        out(0, 10, 0),
        preferred,
    ];
    let pairs: Vec<_> = keys.iter().zip(outcomes).collect();
    assert_eq!(
        c.finish_incremental(id, 4, &pairs),
        Finish::Include(vec![false, false, false, false, false, true])
    );
}

#[test]
fn a_duplicate_request_racing_the_session_is_invalid_epoch_and_an_evicted_session_sends_all() {
    let mut c = FetchSessionCache::new(1, MIN_EVICTION_MS);
    let id = full(&mut c, "t", 2, false, 0);
    let ctx = incremental(&mut c, id, 1, &[], &[], 10);
    let keys = session_keys(&ctx);
    // Another request at epoch 2 got in first.
    let _ = incremental(&mut c, id, 2, &[], &[], 20);
    let pairs: Vec<_> = keys.iter().map(|k| (k, out(0, 10, 0))).collect();
    assert_eq!(c.finish_incremental(id, 2, &pairs), Finish::Error(71));
    // Evicted while the fetch waited (stale, replaced by a new session): everything is sent.
    let ctx = incremental(&mut c, id, 3, &[], &[], 30);
    let keys = session_keys(&ctx);
    let other = full(&mut c, "u", 1, false, 30 + MIN_EVICTION_MS + 1);
    assert!(other > 0);
    assert!(c.get(id).is_none());
    let pairs: Vec<_> = keys.iter().map(|k| (k, out(0, 10, 0))).collect();
    assert_eq!(
        c.finish_incremental(id, 4, &pairs),
        Finish::Include(vec![true, true])
    );
}

#[test]
fn a_full_cache_evicts_stale_sessions_first() {
    let mut c = FetchSessionCache::new(2, MIN_EVICTION_MS);
    let a = full(&mut c, "a", 5, false, 0);
    let b = full(&mut c, "b", 5, false, 1000);
    // Full, nothing stale, nothing old enough to be evictable: no session, nothing evicted.
    assert_eq!(full(&mut c, "c", 100, false, 2000), 0);
    assert_eq!((c.len(), c.evictions()), (2, 0));
    // b is used; a idles past 120 s and is evicted for a new session, however small.
    let _ = incremental(&mut c, b, 1, &[], &[], MIN_EVICTION_MS);
    let d = full(&mut c, "d", 1, false, MIN_EVICTION_MS + 1);
    assert!(d > 0);
    assert!(c.get(a).is_none() && c.get(b).is_some());
    assert_eq!((c.len(), c.total_partitions(), c.evictions()), (2, 6, 1));
    assert_eq!(
        incremental(&mut c, a, 1, &[], &[], MIN_EVICTION_MS + 2),
        Context::Error(70)
    );
}

#[test]
fn eviction_prefers_unprivileged_then_smaller_sessions() {
    let mut c = FetchSessionCache::new(2, MIN_EVICTION_MS);
    let follower = full(&mut c, "f", 10, true, 0);
    let consumer = full(&mut c, "c", 10, false, 0);
    // Neither is older than 120 s: a new consumer session cannot evict; a follower (privileged)
    // evicts the unprivileged consumer session, whatever the sizes.
    assert_eq!(full(&mut c, "x", 1000, false, 10), 0);
    let f2 = full(&mut c, "f2", 1, true, 10);
    assert!(f2 > 0);
    assert!(c.get(consumer).is_none() && c.get(follower).is_some());
    assert_eq!(c.evictions(), 1);
    // Two follower sessions, both young: nothing can be evicted.
    assert_eq!(full(&mut c, "f3", 1000, true, 20), 0);

    // Sessions older than 120 s that are still used (not stale): a bigger new session evicts
    // the smallest; a smaller one cannot.
    let mut c = FetchSessionCache::new(2, MIN_EVICTION_MS);
    let big = full(&mut c, "big", 50, false, 0);
    let small = full(&mut c, "small", 5, false, 0);
    let t = MIN_EVICTION_MS + 10;
    let _ = incremental(&mut c, big, 1, &[], &[], t);
    let _ = incremental(&mut c, small, 1, &[], &[], t);
    assert_eq!(full(&mut c, "tiny", 4, false, t + 1), 0);
    let mid = full(&mut c, "mid", 20, false, t + 1);
    assert!(mid > 0);
    assert!(c.get(small).is_none() && c.get(big).is_some());
    assert_eq!((c.total_partitions(), c.evictions()), (70, 1));
}

#[test]
fn zero_slots_create_no_session() {
    let mut c = FetchSessionCache::new(0, MIN_EVICTION_MS);
    assert_eq!(full(&mut c, "t", 3, true, 0), 0);
    assert_eq!(c.len(), 0);
}

#[test]
fn sessions_are_bounded_in_partitions() {
    let mut c = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let too_many = (0..=MAX_SESSION_PARTITIONS as i32)
        .map(|p| (key("t", p), req(0), out(0, 0, 0)))
        .collect();
    assert_eq!(c.create_session(0, false, false, too_many), 0);
    let id = full(&mut c, "t", MAX_SESSION_PARTITIONS as i32, false, 0);
    assert!(id > 0);
    // Growing past the bound closes the session; the request is answered sessionless.
    let ctx = incremental(&mut c, id, 1, &[(key("u", 0), req(0))], &[], 1);
    assert_eq!(ctx, Context::Sessionless);
    assert_eq!((c.len(), c.total_partitions()), (0, 0));
}

#[test]
fn memory_per_cached_partition() {
    // The per-partition entry the module doc states (~110 bytes with the map's index).
    let entry = std::mem::size_of::<PartKey>() + std::mem::size_of::<CachedPartition>() + 8;
    assert!(entry <= 100, "entry is {entry} bytes");
}
