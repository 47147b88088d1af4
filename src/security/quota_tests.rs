use super::*;

fn entity(user: Option<Option<&str>>, client: Option<Option<&str>>) -> UserClientEntity {
    let name = |n: Option<&str>| match n {
        Some(s) => EntityName::Named(s.to_string()),
        None => EntityName::Default,
    };
    UserClientEntity {
        user: user.map(name),
        client_id: client.map(name),
    }
}

fn bound_for(t: &QuotaTable, user: &str, client: &str) -> Option<f64> {
    t.limit(&t.metric_tags(user, client))
}

#[test]
fn the_eight_levels_most_specific_wins() {
    // Add levels from least to most specific; each time the new one must win for alice/app.
    type Level<'a> = (Option<Option<&'a str>>, Option<Option<&'a str>>);
    let levels: [Level; 8] = [
        (None, Some(None)),                       // 8 /clients/<default>
        (None, Some(Some("app"))),                // 7 /clients/app
        (Some(None), None),                       // 6 /users/<default>
        (Some(None), Some(None)),                 // 5 /users/<default>/clients/<default>
        (Some(None), Some(Some("app"))),          // 4 /users/<default>/clients/app
        (Some(Some("alice")), None),              // 3 /users/alice
        (Some(Some("alice")), Some(None)),        // 2 /users/alice/clients/<default>
        (Some(Some("alice")), Some(Some("app"))), // 1 /users/alice/clients/app
    ];
    let mut t = QuotaTable::new();
    assert_eq!(bound_for(&t, "alice", "app"), None);
    for (i, (u, c)) in levels.iter().enumerate() {
        let value = 8.0 - i as f64; // level number
        t.set(entity(*u, *c), value);
        assert_eq!(
            bound_for(&t, "alice", "app"),
            Some(value),
            "after adding level {value}"
        );
    }
    // Another user of the same client id falls to level 4 (default user, client app).
    assert_eq!(bound_for(&t, "bob", "app"), Some(4.0));
    // Another user with another client: level 5.
    assert_eq!(bound_for(&t, "bob", "other"), Some(5.0));
    // alice with another client id: level 2.
    assert_eq!(bound_for(&t, "alice", "other"), Some(2.0));
}

#[test]
fn sharing_follows_the_level_that_applies() {
    let mut t = QuotaTable::new();
    t.set(entity(Some(Some("alice")), None), 100.0);
    // A user quota: every client id of alice shares one sensor.
    assert_eq!(t.metric_tags("alice", "a"), ("alice".into(), "".into()));
    assert_eq!(t.metric_tags("alice", "b"), ("alice".into(), "".into()));
    // bob has no user quota: client-id tags, and no client quota → unlimited.
    assert_eq!(t.metric_tags("bob", "a"), ("".into(), "a".into()));
    assert_eq!(bound_for(&t, "bob", "a"), None);
    // A client-id default: each client id has its own sensor and the default bound.
    t.set(entity(None, Some(None)), 50.0);
    assert_eq!(t.metric_tags("bob", "a"), ("".into(), "a".into()));
    assert_eq!(bound_for(&t, "bob", "a"), Some(50.0));
    assert_eq!(bound_for(&t, "alice", "a"), Some(100.0));
    // users/<default>/clients/<default>: per (user, client) sensors.
    let mut t = QuotaTable::new();
    t.set(entity(Some(None), Some(None)), 10.0);
    assert_eq!(t.metric_tags("u", "c"), ("u".into(), "c".into()));
    assert_eq!(bound_for(&t, "u", "c"), Some(10.0));
}

#[test]
fn rate_counts_at_least_samples_minus_one_windows() {
    let cfg = WindowConfig::default();
    let mut r = Rate::new();
    r.record(cfg, 1000.0, 0);
    // 0 ms elapsed, counted as 10 full windows: 1000 / 10 s.
    assert_eq!(r.window_size(cfg, 0), 10_000);
    assert_eq!(r.measure(cfg, 0), 100.0);
    // 15 s later, after more events: the window is the time since the oldest kept sample.
    for t in 1..=15 {
        r.record(cfg, 1000.0, t * 1000);
    }
    // The sample of t = 4 s (no event for 11 windows) is reset; those of 5..=15 s are
    // kept: 11 × 1000 bytes over the 10 s since the oldest one's start.
    assert_eq!(r.window_size(cfg, 15_000), 10_000);
    assert_eq!(r.measure(cfg, 15_000), 1100.0);
}

#[test]
fn idle_samples_expire() {
    let cfg = WindowConfig::default();
    let mut r = Rate::new();
    r.record(cfg, 5000.0, 0);
    assert_eq!(r.measure(cfg, 11_000), 0.0);
}

#[test]
fn throttle_formula_is_kafkas() {
    // O = 200, T = 100 over W = 10 s: X = (O - T) / T * W = 10 s.
    assert_eq!(throttle_time_ms(200.0, 100.0, 10_000), 10_000);
    assert_eq!(throttle_time_ms(100.0, 100.0, 10_000), 0);
    assert_eq!(throttle_time_ms(150.5, 100.0, 1_000), 505);
    assert_eq!(bounded_throttle_time_ms(200.0, 100.0, 10_000, 1_000), 1_000);
}

#[test]
fn a_manager_throttles_over_quota_and_not_under() {
    let cfg = WindowConfig::default();
    let mut m = QuotaManager::new(QuotaKind::Produce, cfg);
    let mut t = QuotaTable::new();
    t.set(entity(None, Some(Some("noisy"))), 100.0);
    m.set_table(t);
    // 2000 bytes at once: 200 B/s over the 10 s window → (200-100)/100 × 10 s.
    assert_eq!(m.record("ANONYMOUS", "noisy", 2000.0, 0), 10_000);
    // Another client id is unlimited and unthrottled.
    assert_eq!(m.record("ANONYMOUS", "quiet", 1e9, 0), 0);
    // A steady 90 B/s stays within 100 B/s: never throttled.
    let mut m = QuotaManager::new(QuotaKind::Produce, cfg);
    let mut t = QuotaTable::new();
    t.set(entity(None, Some(Some("steady"))), 100.0);
    m.set_table(t);
    for i in 0..300 {
        assert_eq!(m.record("ANONYMOUS", "steady", 9.0, i * 100), 0, "at {i}");
    }
    let rate = m.measured("ANONYMOUS", "steady", 30_000);
    assert!((rate - 90.0).abs() < 10.0, "{rate}");
}

#[test]
fn request_quotas_bound_the_throttle_to_one_window() {
    let cfg = WindowConfig::default();
    let mut m = QuotaManager::new(QuotaKind::Request, cfg);
    let mut t = QuotaTable::new();
    t.set(entity(Some(None), None), 1.0);
    m.set_table(t);
    // 100 percent-seconds at once: 10 %/s against 1 % → 90 s unbounded, 1 s bounded.
    assert_eq!(m.record("alice", "c", 100.0, 0), 1_000);
}

#[test]
fn unrecord_takes_a_fetch_back() {
    let cfg = WindowConfig::default();
    let mut m = QuotaManager::new(QuotaKind::Fetch, cfg);
    let mut t = QuotaTable::new();
    t.set(entity(None, Some(None)), 100.0);
    m.set_table(t);
    assert!(m.record("u", "c", 5000.0, 0) > 0);
    m.unrecord("u", "c", 5000.0, 0);
    assert_eq!(m.measured("u", "c", 0), 0.0);
    assert_eq!(m.record("u", "c", 500.0, 1), 0);
    // 100 B/s × 10 windows × 1 s.
    assert_eq!(m.max_value_in_window("u", "c"), Some(1000.0));
    assert_eq!(m.max_value_in_window("u", "other"), Some(1000.0));
}

#[test]
fn the_front_is_inactive_without_quotas() {
    let q = ClientQuotaManagers::new(super::super::connection_quota::ConnectionLimits::default());
    let p = KafkaPrincipal::anonymous();
    assert!(!q.is_active(QuotaKind::Produce));
    assert_eq!(q.record(QuotaKind::Produce, &p, "c", 1e12, 0), 0);
    let mut values = BTreeMap::new();
    values.insert(PRODUCER_BYTE_RATE.to_string(), 10.0);
    let mut e = QuotaEntity::new();
    e.insert(USER.to_string(), Some("ANONYMOUS".to_string()));
    q.set_tables(tables_from([(&e, &values)].into_iter()));
    assert!(q.is_active(QuotaKind::Produce));
    assert!(!q.is_active(QuotaKind::Fetch));
    // 1000 bytes: 100 B/s against 10 → (100-10)/10 × 10 s = 90 s.
    assert_eq!(q.record(QuotaKind::Produce, &p, "c", 1000.0, 0), 90_000);
    assert_eq!(
        q.counters.throttled[0].load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}
