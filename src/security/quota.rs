//! Client quotas (Kafka's `ClientQuotaManager`, `ClientRequestQuotaManager`, KIP-13/KIP-55/
//! KIP-124/KIP-219): byte-rate quotas for produce and fetch, a request-time percentage, per
//! user and/or client id, with Kafka's entity rules, windows and throttle formula.
//!
//! - **Entities** ([`QuotaEntity`]): a map of entity type (`user`, `client-id`, `ip`) to a
//!   name, `None` being the type's `<default>`. Client quotas live on `{user}`, `{client-id}`
//!   or `{user, client-id}`; `ip` entities carry `connection_creation_rate` only.
//! - **Precedence** (KIP-55, most specific wins), for user U and client id C:
//!   1. `/users/U/clients/C`, 2. `/users/U/clients/<default>`, 3. `/users/U`,
//!   4. `/users/<default>/clients/C`, 5. `/users/<default>/clients/<default>`,
//!   6. `/users/<default>`, 7. `/clients/C`, 8. `/clients/<default>`.
//!
//!   The level that applies also decides who shares the measured rate
//!   ([`QuotaTable::metric_tags`]): a quota on `/users/U` is shared by all of U's client ids,
//!   one on `/clients/C` by every user of C — as Kafka's `DefaultQuotaCallback`.
//! - **Rate** ([`Rate`]): Kafka's `Rate` over a `SampledStat`: `quota.window.num` samples
//!   (11) of `quota.window.size.seconds` (1 s); the rate divides the retained total by the
//!   elapsed time, counted as at least `samples - 1` full windows.
//! - **Throttle** ([`throttle_time_ms`]): the delay that brings the observed rate O back to
//!   the bound T over the window W: `(O - T) / T * W` (Kafka's `QuotaUtils.throttleTime`);
//!   request-time quotas bound it to one window (`boundedThrottleTime`).
//!
//! Time is a parameter (ms) everywhere: no clock, no I/O. [`ClientQuotaManagers`] is the
//! thread-safe front the broker holds; it does nothing (one atomic load) while no quota of a
//! kind is set.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::connection_quota::{ConnectionLimits, ConnectionQuotas};
use super::KafkaPrincipal;
use crate::cluster::image::quotas::ClientQuotasImage;

/// Entity types (Kafka's `ClientQuotaEntity.USER`, `CLIENT_ID`, `IP`).
pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

/// Quota keys (Kafka's `QuotaConfig`).
pub const PRODUCER_BYTE_RATE: &str = "producer_byte_rate";
pub const CONSUMER_BYTE_RATE: &str = "consumer_byte_rate";
pub const REQUEST_PERCENTAGE: &str = "request_percentage";
pub const CONTROLLER_MUTATION_RATE: &str = "controller_mutation_rate";
pub const CONNECTION_CREATION_RATE: &str = "connection_creation_rate";

/// A quota entity: entity type → name (`None`: the type's default).
pub type QuotaEntity = BTreeMap<String, Option<String>>;

/// A quota value (Kafka's float64). The controller never accepts NaN, so equality is total.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct QuotaValue(pub f64);

impl Eq for QuotaValue {}

/// The value type of a quota key, as Kafka's `ConfigDef` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Long,
    Int,
    Double,
}

/// The keys valid on a user and/or client-id entity.
pub const USER_CLIENT_KEYS: &[(&str, KeyType)] = &[
    (PRODUCER_BYTE_RATE, KeyType::Long),
    (CONSUMER_BYTE_RATE, KeyType::Long),
    (REQUEST_PERCENTAGE, KeyType::Double),
    (CONTROLLER_MUTATION_RATE, KeyType::Double),
];

/// The keys valid on an ip entity.
pub const IP_KEYS: &[(&str, KeyType)] = &[(CONNECTION_CREATION_RATE, KeyType::Int)];

/// The three enforced client quota kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    Produce,
    Fetch,
    Request,
}

impl QuotaKind {
    pub const ALL: [QuotaKind; 3] = [QuotaKind::Produce, QuotaKind::Fetch, QuotaKind::Request];

    /// The quota key that configures this kind.
    pub fn key(self) -> &'static str {
        match self {
            QuotaKind::Produce => PRODUCER_BYTE_RATE,
            QuotaKind::Fetch => CONSUMER_BYTE_RATE,
            QuotaKind::Request => REQUEST_PERCENTAGE,
        }
    }

    fn index(self) -> usize {
        match self {
            QuotaKind::Produce => 0,
            QuotaKind::Fetch => 1,
            QuotaKind::Request => 2,
        }
    }
}

// ---- rate measurement ------------------------------------------------------------------

/// `quota.window.num` and `quota.window.size.seconds` (in ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    pub samples: usize,
    pub window_ms: i64,
}

impl Default for WindowConfig {
    /// Kafka's defaults: 11 samples of 1 s.
    fn default() -> WindowConfig {
        WindowConfig {
            samples: 11,
            window_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    value: f64,
    start_ms: i64,
    last_event_ms: i64,
}

impl Sample {
    fn new(now: i64) -> Sample {
        Sample {
            value: 0.0,
            start_ms: now,
            last_event_ms: now,
        }
    }
}

/// Kafka's `Rate` (per second) over a `SampledStat` of `samples` windows.
#[derive(Debug, Clone, Default)]
pub struct Rate {
    samples: Vec<Sample>,
    current: usize,
}

impl Rate {
    pub fn new() -> Rate {
        Rate::default()
    }

    fn current(&mut self, now: i64) -> &mut Sample {
        if self.samples.is_empty() {
            self.samples.push(Sample::new(now));
            self.current = 0;
        }
        &mut self.samples[self.current]
    }

    /// Add `value` at `now` (a new sample starts when the current one is a window old).
    pub fn record(&mut self, cfg: WindowConfig, value: f64, now: i64) {
        let complete = now - self.current(now).start_ms >= cfg.window_ms;
        if complete {
            // One extra sample for the one overlapping the window's start.
            let max = cfg.samples.max(1) + 1;
            self.current = (self.current + 1) % max;
            if self.current >= self.samples.len() {
                self.samples.push(Sample::new(now));
            } else {
                self.samples[self.current] = Sample::new(now);
            }
        }
        let s = self.current(now);
        s.value += value;
        s.last_event_ms = now;
    }

    /// Reset samples with no event within the whole window.
    fn purge(&mut self, cfg: WindowConfig, now: i64) {
        let expire = cfg.samples as i64 * cfg.window_ms;
        for s in &mut self.samples {
            if now - s.last_event_ms >= expire {
                *s = Sample::new(now);
            }
        }
    }

    /// The elapsed time the rate divides by, ms: since the oldest sample's start, at least
    /// `samples - 1` full windows, at least 1 ms.
    pub fn window_size(&mut self, cfg: WindowConfig, now: i64) -> i64 {
        self.purge(cfg, now);
        if self.samples.is_empty() {
            self.samples.push(Sample::new(now));
        }
        let oldest = self.samples.iter().map(|s| s.start_ms).min().unwrap_or(now);
        let mut elapsed = now - oldest;
        let full = elapsed / cfg.window_ms;
        let min_full = cfg.samples.max(1) as i64 - 1;
        if full < min_full {
            elapsed += (min_full - full) * cfg.window_ms;
        }
        elapsed.max(1)
    }

    /// The rate per second at `now`.
    pub fn measure(&mut self, cfg: WindowConfig, now: i64) -> f64 {
        self.purge(cfg, now);
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total / (self.window_size(cfg, now) as f64 / 1000.0)
    }
}

/// Kafka's `QuotaUtils.throttleTime`: the delay bringing `observed` back to `bound` over a
/// window of `window_ms`, rounded.
pub fn throttle_time_ms(observed: f64, bound: f64, window_ms: i64) -> i64 {
    if bound <= 0.0 || observed <= bound {
        return 0;
    }
    ((observed - bound) / bound * window_ms as f64).round() as i64
}

/// Kafka's `QuotaUtils.boundedThrottleTime`.
pub fn bounded_throttle_time_ms(observed: f64, bound: f64, window_ms: i64, max_ms: i64) -> i64 {
    throttle_time_ms(observed, bound, window_ms).min(max_ms)
}

// ---- entities and precedence -----------------------------------------------------------

/// A name or the `<default>` of its type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntityName {
    Default,
    Named(String),
}

/// A user and/or client-id entity (None: the type is not part of the entity).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserClientEntity {
    pub user: Option<EntityName>,
    pub client_id: Option<EntityName>,
}

impl UserClientEntity {
    /// The user/client-id entity of a stored quota entity; None for ip entities or others.
    pub fn from_entity(entity: &QuotaEntity) -> Option<UserClientEntity> {
        let name = |n: &Option<String>| match n {
            Some(s) => EntityName::Named(s.clone()),
            None => EntityName::Default,
        };
        let mut e = UserClientEntity {
            user: None,
            client_id: None,
        };
        for (t, n) in entity {
            match t.as_str() {
                USER => e.user = Some(name(n)),
                CLIENT_ID => e.client_id = Some(name(n)),
                _ => return None,
            }
        }
        if e.user.is_none() && e.client_id.is_none() {
            return None;
        }
        Some(e)
    }

    fn of(user: Option<EntityName>, client_id: Option<EntityName>) -> UserClientEntity {
        UserClientEntity { user, client_id }
    }
}

fn named(s: &str) -> Option<EntityName> {
    Some(EntityName::Named(s.to_string()))
}
const DEFAULT: Option<EntityName> = Some(EntityName::Default);

/// The quotas of one kind: entity → bound.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaTable {
    quotas: HashMap<UserClientEntity, f64>,
}

impl QuotaTable {
    pub fn new() -> QuotaTable {
        QuotaTable::default()
    }

    pub fn set(&mut self, entity: UserClientEntity, bound: f64) {
        self.quotas.insert(entity, bound);
    }

    pub fn is_empty(&self) -> bool {
        self.quotas.is_empty()
    }

    fn has(&self, user: Option<EntityName>, client: Option<EntityName>) -> bool {
        self.quotas
            .contains_key(&UserClientEntity::of(user, client))
    }

    fn get(&self, user: Option<EntityName>, client: Option<EntityName>) -> Option<f64> {
        self.quotas
            .get(&UserClientEntity::of(user, client))
            .copied()
    }

    /// Kafka's `quotaMetricTags`: the (user, client-id) tags whose sensor a request of
    /// `user`/`client_id` records into — "" for the part the applicable quota ignores.
    pub fn metric_tags(&self, user: &str, client_id: &str) -> (String, String) {
        let both = (user.to_string(), client_id.to_string());
        let user_only = (user.to_string(), String::new());
        if self.has(named(user), named(client_id)) || self.has(named(user), DEFAULT) {
            both
        } else if self.has(named(user), None) {
            user_only
        } else if self.has(DEFAULT, named(client_id)) || self.has(DEFAULT, DEFAULT) {
            both
        } else if self.has(DEFAULT, None) {
            user_only
        } else {
            (String::new(), client_id.to_string())
        }
    }

    /// Kafka's `quotaLimit`: the bound for a sensor's tags, None when unlimited.
    pub fn limit(&self, tags: &(String, String)) -> Option<f64> {
        let (user, client) = (tags.0.as_str(), tags.1.as_str());
        if !user.is_empty() && !client.is_empty() {
            self.get(named(user), named(client))
                .or_else(|| self.get(named(user), DEFAULT))
                .or_else(|| self.get(DEFAULT, named(client)))
                .or_else(|| self.get(DEFAULT, DEFAULT))
        } else if !user.is_empty() {
            self.get(named(user), None)
                .or_else(|| self.get(DEFAULT, None))
        } else if !client.is_empty() {
            self.get(None, named(client))
                .or_else(|| self.get(None, DEFAULT))
        } else {
            None
        }
    }
}

/// Sensors idle this long are dropped (Kafka's `InactiveSensorExpirationTimeSeconds`, 1 h).
const SENSOR_EXPIRY_MS: i64 = 3_600_000;

#[derive(Debug, Clone)]
struct Sensor {
    rate: Rate,
    last_record_ms: i64,
}

/// One quota kind's manager: its quotas and the per-tags sensors. Pure: time comes in.
#[derive(Debug, Clone)]
pub struct QuotaManager {
    table: QuotaTable,
    sensors: HashMap<(String, String), Sensor>,
    cfg: WindowConfig,
    /// Request-time quotas bound the throttle to one window.
    max_throttle_ms: Option<i64>,
    records_since_expiry: u32,
}

impl QuotaManager {
    pub fn new(kind: QuotaKind, cfg: WindowConfig) -> QuotaManager {
        QuotaManager {
            table: QuotaTable::new(),
            sensors: HashMap::new(),
            cfg,
            max_throttle_ms: (kind == QuotaKind::Request).then_some(cfg.window_ms),
            records_since_expiry: 0,
        }
    }

    /// Replace the quotas; measured rates are kept (a changed bound applies from now).
    pub fn set_table(&mut self, table: QuotaTable) {
        self.table = table;
    }

    pub fn table(&self) -> &QuotaTable {
        &self.table
    }

    /// Kafka's `recordAndGetThrottleTimeMs`: record `value` for the principal's user name
    /// and `client_id` at `now`; the throttle time (0 when within the quota or unlimited).
    pub fn record(&mut self, user: &str, client_id: &str, value: f64, now: i64) -> i64 {
        if self.table.is_empty() {
            return 0;
        }
        self.expire(now);
        let tags = self.table.metric_tags(user, client_id);
        let bound = self.table.limit(&tags);
        let cfg = self.cfg;
        let sensor = self.sensors.entry(tags).or_insert_with(|| Sensor {
            rate: Rate::new(),
            last_record_ms: now,
        });
        sensor.rate.record(cfg, value, now);
        sensor.last_record_ms = now;
        let Some(bound) = bound else { return 0 };
        let observed = sensor.rate.measure(cfg, now);
        if observed <= bound {
            return 0;
        }
        let window = sensor.rate.window_size(cfg, now);
        match self.max_throttle_ms {
            Some(max) => bounded_throttle_time_ms(observed, bound, window, max),
            None => throttle_time_ms(observed, bound, window),
        }
    }

    /// Kafka's `unrecordQuotaSensor`: take back a value recorded at `now` (a throttled fetch
    /// returns nothing, so its bytes do not count).
    pub fn unrecord(&mut self, user: &str, client_id: &str, value: f64, now: i64) {
        if self.table.is_empty() {
            return;
        }
        let tags = self.table.metric_tags(user, client_id);
        if let Some(s) = self.sensors.get_mut(&tags) {
            s.rate.record(self.cfg, -value, now);
        }
    }

    /// The rate measured now for a user/client id's sensor (0 without one).
    pub fn measured(&mut self, user: &str, client_id: &str, now: i64) -> f64 {
        let tags = self.table.metric_tags(user, client_id);
        let cfg = self.cfg;
        self.sensors
            .get_mut(&tags)
            .map_or(0.0, |s| s.rate.measure(cfg, now))
    }

    /// Kafka's `getMaxValueInQuotaWindow`: the most that can be recorded at once without
    /// certain throttling (bounds a fetch's size); None when unlimited.
    pub fn max_value_in_window(&self, user: &str, client_id: &str) -> Option<f64> {
        let tags = self.table.metric_tags(user, client_id);
        self.table.limit(&tags).map(|q| {
            q * (self.cfg.samples.max(1) as f64 - 1.0) * (self.cfg.window_ms as f64 / 1000.0)
        })
    }

    fn expire(&mut self, now: i64) {
        self.records_since_expiry += 1;
        if self.records_since_expiry < 1024 {
            return;
        }
        self.records_since_expiry = 0;
        self.sensors
            .retain(|_, s| now - s.last_record_ms < SENSOR_EXPIRY_MS);
    }

    pub fn sensor_count(&self) -> usize {
        self.sensors.len()
    }
}

/// The quota tables of every kind from the stored quotas (entity → key → value).
pub fn tables_from<'a>(
    entities: impl Iterator<Item = (&'a QuotaEntity, &'a BTreeMap<String, f64>)>,
) -> [QuotaTable; 3] {
    let mut tables = [QuotaTable::new(), QuotaTable::new(), QuotaTable::new()];
    for (entity, values) in entities {
        let Some(e) = UserClientEntity::from_entity(entity) else {
            continue;
        };
        for kind in QuotaKind::ALL {
            if let Some(v) = values.get(kind.key()) {
                tables[kind.index()].set(e.clone(), *v);
            }
        }
    }
    tables
}

/// Throttle-time totals per kind (for the metrics endpoint).
#[derive(Debug, Default)]
pub struct ThrottleCounters {
    pub throttled: [std::sync::atomic::AtomicU64; 3],
    pub throttle_ms: [std::sync::atomic::AtomicU64; 3],
}

/// The broker's client quota managers: thread-safe, and free while no quota of a kind is
/// set (an atomic load). Also holds the image's quotas (for DescribeClientQuotas) and the
/// connection limits.
#[derive(Debug)]
pub struct ClientQuotaManagers {
    active: [AtomicBool; 3],
    managers: [Mutex<QuotaManager>; 3],
    pub counters: ThrottleCounters,
    image: std::sync::RwLock<Arc<ClientQuotasImage>>,
    pub connections: Arc<ConnectionQuotas>,
}

impl ClientQuotaManagers {
    /// Managers with the connection limits' quota window.
    pub fn new(limits: ConnectionLimits) -> ClientQuotaManagers {
        let cfg = limits.window;
        ClientQuotaManagers {
            active: Default::default(),
            managers: QuotaKind::ALL.map(|k| Mutex::new(QuotaManager::new(k, cfg))),
            counters: ThrottleCounters::default(),
            image: Default::default(),
            connections: Arc::new(ConnectionQuotas::new(limits)),
        }
    }

    /// Take the metadata image's client quotas (a no-op when they did not change).
    pub fn set_image(&self, quotas: &ClientQuotasImage) {
        {
            let current = self.image.read().unwrap_or_else(|p| p.into_inner());
            if **current == *quotas {
                return;
            }
        }
        self.set_tables(tables_from(quotas.iter()));
        let mut ips = HashMap::new();
        for (entity, values) in quotas.iter() {
            let (Some(ip), Some(rate)) = (entity.get(IP), values.get(CONNECTION_CREATION_RATE))
            else {
                continue;
            };
            match ip {
                None => {
                    ips.insert(None, *rate);
                }
                Some(s) => {
                    if let Ok(addr) = s.parse::<std::net::IpAddr>() {
                        ips.insert(Some(addr), *rate);
                    }
                }
            }
        }
        self.connections.set_ip_quotas(ips);
        *self.image.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(quotas.clone());
    }

    /// The client quotas of the last image taken.
    pub fn image(&self) -> Arc<ClientQuotasImage> {
        Arc::clone(&self.image.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn lock(&self, kind: QuotaKind) -> std::sync::MutexGuard<'_, QuotaManager> {
        self.managers[kind.index()]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any quota of this kind is set (the hot path's only cost otherwise).
    pub fn is_active(&self, kind: QuotaKind) -> bool {
        self.active[kind.index()].load(Ordering::Relaxed)
    }

    /// Replace every kind's quotas (from the metadata image).
    pub fn set_tables(&self, tables: [QuotaTable; 3]) {
        for (kind, table) in QuotaKind::ALL.into_iter().zip(tables) {
            let empty = table.is_empty();
            self.lock(kind).set_table(table);
            self.active[kind.index()].store(!empty, Ordering::Relaxed);
        }
    }

    /// Record `value` for the principal and client id; the throttle time in ms.
    pub fn record(
        &self,
        kind: QuotaKind,
        principal: &KafkaPrincipal,
        client_id: &str,
        value: f64,
        now: i64,
    ) -> i64 {
        if !self.is_active(kind) {
            return 0;
        }
        let t = self
            .lock(kind)
            .record(&principal.name, client_id, value, now);
        if t > 0 {
            let i = kind.index();
            self.counters.throttled[i].fetch_add(1, Ordering::Relaxed);
            self.counters.throttle_ms[i].fetch_add(t as u64, Ordering::Relaxed);
        }
        t
    }

    pub fn unrecord(
        &self,
        kind: QuotaKind,
        principal: &KafkaPrincipal,
        client_id: &str,
        value: f64,
        now: i64,
    ) {
        if self.is_active(kind) {
            self.lock(kind)
                .unrecord(&principal.name, client_id, value, now);
        }
    }

    pub fn max_value_in_window(
        &self,
        kind: QuotaKind,
        principal: &KafkaPrincipal,
        client_id: &str,
    ) -> Option<f64> {
        if !self.is_active(kind) {
            return None;
        }
        self.lock(kind)
            .max_value_in_window(&principal.name, client_id)
    }
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
