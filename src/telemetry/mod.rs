//! Client telemetry (KIP-714): the broker side of GetTelemetrySubscriptions and PushTelemetry,
//! as Kafka's `ClientMetricsManager` does it, with the pushed metrics kept for `/metrics`.
//!
//! A pure state machine (no tokio, no sockets): every call takes the time (`now_ms`), so it is
//! tested with a fake clock. The server holds one [`Manager`] behind a mutex.
//!
//! **Subscriptions** are the CLIENT_METRICS config resources of the metadata image
//! ([`config`]); replacing them bumps a version, and each client instance is re-evaluated
//! (its subscription recomputed, its request timestamps reset) on its next request, as Kafka
//! does. A client matches a subscription when every `match` pattern matches its attribute
//! (client instance id, client id, software name and version from ApiVersions v3+, source
//! address and port); its metrics are the union of the matched subscriptions' (`*` alone when
//! one of them is `*`), its push interval the smallest of theirs (default 300000 when none
//! matches, with no metrics: the client then pushes nothing). The subscription id is a CRC32C
//! of the metric list and interval xor the instance id's hash: it changes when they do.
//!
//! **Requests** are checked in Kafka's order. GetTelemetrySubscriptions: a zero instance id
//! gets a new one; a request sooner than the push interval after the last Get or Push is
//! THROTTLING_QUOTA_EXCEEDED, except right after a push failed with UNKNOWN_SUBSCRIPTION_ID
//! or UNSUPPORTED_COMPRESSION_TYPE (what Kafka's check means to allow; its code has `||`
//! where `&&` was meant, and throttles those too). PushTelemetry: a zero or reserved instance
//! id is INVALID_REQUEST; a push after a terminating one is INVALID_REQUEST; a push sooner than
//! the interval after the last push (unless a Get came in between, or it is terminating) is
//! THROTTLING_QUOTA_EXCEEDED; then UNKNOWN_SUBSCRIPTION_ID, UNSUPPORTED_COMPRESSION_TYPE
//! (a codec id Kafka does not know), TELEMETRY_TOO_LARGE (compressed payload above
//! `telemetry.max.bytes`); a payload that does not decompress or decode is INVALID_RECORD.
//!
//! **Bounds**: at most `client.metrics.max.instances` instances (the least recently used one
//! is evicted, as Kafka's LRU cache of 16384); an instance expires `max(60 s, 3 × interval)`
//! after its last request, or when the connection it was created on closes (as Kafka). The
//! exported metrics are bounded separately: `client.metrics.exported.max.clients` clients
//! (a new client beyond is not exported) × `client.metrics.exported.max.series.per.client`
//! series (new series beyond are dropped, counted); a client's series expire with the same
//! delay after its last push, and outlive its connection so the last (terminating) push is
//! still scraped.

pub mod config;
pub mod otlp;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use uuid::Uuid;

pub use config::Subscription;
use otlp::PointKind;

/// Kafka error codes answered by the telemetry APIs.
pub const NONE: i16 = 0;
pub const INVALID_RECORD: i16 = 87;
pub const INVALID_REQUEST: i16 = 42;
pub const THROTTLING_QUOTA_EXCEEDED: i16 = 89;
pub const UNKNOWN_SUBSCRIPTION_ID: i16 = 117;
pub const TELEMETRY_TOO_LARGE: i16 = 118;
pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;

/// The codecs accepted for pushes, in Kafka's order of preference (zstd, lz4, gzip, snappy).
pub const ACCEPTED_COMPRESSION_TYPES: [i8; 4] = [4, 3, 1, 2];

/// The minimum expiry of an idle instance (Kafka's DEFAULT_CACHE_EXPIRY_MS).
pub const CACHE_EXPIRY_MS: i64 = 60_000;

/// How many times `telemetry.max.bytes` a payload may decompress to.
pub const DECOMPRESSED_FACTOR: usize = 10;

/// The manager's bounds (broker configs).
#[derive(Debug, Clone)]
pub struct Limits {
    /// `telemetry.max.bytes`: the largest (compressed) payload accepted.
    pub telemetry_max_bytes: i32,
    /// `client.metrics.max.instances`.
    pub max_instances: usize,
    /// `client.metrics.exported.max.clients`.
    pub exported_max_clients: usize,
    /// `client.metrics.exported.max.series.per.client`.
    pub exported_max_series: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            telemetry_max_bytes: 1_048_576,
            max_instances: 16_384,
            exported_max_clients: 1_000,
            exported_max_series: 1_000,
        }
    }
}

/// What the broker knows of the client sending a request.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    pub connection_id: u64,
    pub client_id: String,
    pub software_name: Option<String>,
    pub software_version: Option<String>,
    /// The peer address as Java's `getHostAddress` gives it (no slash), and its port.
    pub source_address: Option<String>,
    pub source_port: Option<u16>,
}

/// A GetTelemetrySubscriptions answer (the error code alone when it is not 0).
#[derive(Debug, Clone, PartialEq)]
pub struct GetResponse {
    pub error_code: i16,
    pub client_instance_id: Uuid,
    pub subscription_id: i32,
    pub accepted_compression_types: Vec<i8>,
    pub push_interval_ms: i32,
    pub telemetry_max_bytes: i32,
    pub delta_temporality: bool,
    pub requested_metrics: Vec<String>,
}

impl GetResponse {
    fn error(code: i16) -> GetResponse {
        GetResponse {
            error_code: code,
            client_instance_id: Uuid::nil(),
            subscription_id: 0,
            accepted_compression_types: Vec::new(),
            push_interval_ms: 0,
            telemetry_max_bytes: 0,
            delta_temporality: false,
            requested_metrics: Vec::new(),
        }
    }
}

/// A PushTelemetry request's fields.
#[derive(Debug, Clone)]
pub struct PushRequest<'a> {
    pub client_instance_id: Uuid,
    pub subscription_id: i32,
    pub terminating: bool,
    pub compression_type: i8,
    pub metrics: &'a [u8],
}

struct Instance {
    /// Selector → value, for matching.
    attributes: Vec<(&'static str, Option<String>)>,
    client_id: String,
    connection_id: u64,
    subscription_id: i32,
    version: u64,
    metrics: Vec<String>,
    push_interval_ms: i32,
    last_get_ms: i64,
    last_push_ms: i64,
    terminating: bool,
    last_error: i16,
    expires_at_ms: i64,
    last_used_ms: i64,
}

impl Instance {
    fn expiry_ms(&self) -> i64 {
        CACHE_EXPIRY_MS.max(3 * i64::from(self.push_interval_ms))
    }

    fn matches(&self, sub: &Subscription) -> bool {
        sub.patterns.iter().all(|(selector, re)| {
            self.attributes
                .iter()
                .find(|(s, _)| s == selector)
                .and_then(|(_, v)| v.as_deref())
                .is_some_and(|v| re.is_match(v))
        })
    }

    /// Kafka's `maybeUpdateGetRequestTimestamp`.
    fn accept_get(&mut self, now: i64) -> bool {
        let last = self.last_get_ms.max(self.last_push_ms);
        if now - last >= i64::from(self.push_interval_ms) {
            self.last_get_ms = now;
            return true;
        }
        false
    }

    /// Kafka's `maybeUpdatePushRequestTimestamp`: a push right after a Get is accepted (the
    /// client jitters its interval), else one interval after the last push.
    fn accept_push(&mut self, now: i64) -> bool {
        let ok = self.last_get_ms > self.last_push_ms
            || now - self.last_push_ms >= i64::from(self.push_interval_ms);
        if ok {
            self.last_push_ms = now;
        }
        ok
    }
}

/// A series' key: family (metric) name and point attributes.
type SeriesKey = (String, Vec<(String, String)>);

/// One client's exported series.
struct Exported {
    client_id: String,
    series: BTreeMap<SeriesKey, (PointKind, f64)>,
    expires_at_ms: i64,
}

/// One exported sample, for the scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The OTLP metric name as pushed.
    pub name: String,
    pub kind: PointKind,
    /// client_instance_id, client_id, then the point's attributes.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Counters of what the bounds refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub instances: usize,
    pub exported_clients: usize,
    pub dropped_series: u64,
    pub dropped_clients: u64,
    pub evicted_instances: u64,
}

/// Kafka's ClientMetricsManager, bounded.
pub struct Manager {
    limits: Limits,
    subscriptions: Vec<Subscription>,
    version: u64,
    instances: HashMap<Uuid, Instance>,
    by_connection: HashMap<u64, Uuid>,
    exported: HashMap<Uuid, Exported>,
    next_sweep_ms: i64,
    stats: Stats,
}

/// Java's `Uuid.hashCode`.
fn java_uuid_hash(id: Uuid) -> i32 {
    let (hi, lo) = id.as_u64_pair();
    let h = hi ^ lo;
    ((h >> 32) as i32) ^ (h as i32)
}

/// The instance ids Kafka reserves (`Uuid.RESERVED`: zero, one and the metadata topic id,
/// which is one).
fn reserved(id: Uuid) -> bool {
    id.as_u128() <= 1
}

fn read_bounded(r: impl Read, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() > limit {
        return Err(format!("decompressed payload exceeds {limit} bytes"));
    }
    Ok(out)
}

/// Decompress a payload with Kafka's codec id, at most `limit` bytes out.
pub fn decompress(codec: i8, data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    use crate::protocol::legacy::codec;
    match codec {
        4 => read_bounded(
            zstd::stream::read::Decoder::new(data).map_err(|e| e.to_string())?,
            limit,
        ),
        0..=3 => codec::decompress(codec as u8, data, limit).map_err(|e| e.to_string()),
        c => Err(format!("unknown compression type {c}")),
    }
}

/// Decompress and decode a payload into its number points (INVALID_RECORD on failure).
pub fn decode_payload(
    codec: i8,
    data: &[u8],
    telemetry_max_bytes: i32,
) -> Result<Vec<otlp::Point>, String> {
    let limit = usize::try_from(telemetry_max_bytes)
        .unwrap_or(0)
        .saturating_mul(DECOMPRESSED_FACTOR);
    let raw = decompress(codec, data, limit)?;
    let data = otlp::decode(&raw).map_err(|e| e.to_string())?;
    Ok(otlp::points(&data))
}

/// Prometheus-safe name: `[a-zA-Z0-9_]`, not starting with a digit, at most 200 bytes.
pub fn sanitize_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(200)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A label value without the characters the text format escapes, at most 200 chars.
fn sanitize_value(s: &str) -> String {
    s.chars()
        .take(200)
        .map(|c| {
            if matches!(c, '"' | '\\' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

impl Manager {
    pub fn new(limits: Limits) -> Manager {
        Manager {
            limits,
            subscriptions: Vec::new(),
            version: 0,
            instances: HashMap::new(),
            by_connection: HashMap::new(),
            exported: HashMap::new(),
            next_sweep_ms: 0,
            stats: Stats::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Replace the subscriptions (from the metadata image's CLIENT_METRICS resources, each
    /// already validated by the controller; one that no longer parses is skipped). A change
    /// bumps the version, so every instance is re-evaluated on its next request.
    pub fn set_subscriptions(&mut self, resources: &BTreeMap<String, BTreeMap<String, String>>) {
        let subs: Vec<Subscription> = resources
            .iter()
            .filter_map(|(name, cfg)| match config::validate(name, cfg) {
                Ok(s) => Some(s),
                Err((_, e)) => {
                    tracing::warn!("client metrics subscription {name} ignored: {e}");
                    None
                }
            })
            .collect();
        let key = |s: &[Subscription]| {
            s.iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.metrics.clone(),
                        s.interval_ms,
                        s.patterns
                            .iter()
                            .map(|(k, r)| (k.clone(), r.as_str().to_string()))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        };
        if key(&subs) != key(&self.subscriptions) {
            self.subscriptions = subs;
            self.version += 1;
        }
    }

    /// The subscription names (ListConfigResources' CLIENT_METRICS resources).
    pub fn subscription_names(&self) -> Vec<String> {
        self.subscriptions.iter().map(|s| s.name.clone()).collect()
    }

    fn evaluate(&self, id: Uuid, inst: &mut Instance) {
        let mut metrics: Vec<String> = Vec::new();
        let mut all = false;
        let mut interval = config::DEFAULT_INTERVAL_MS;
        for sub in &self.subscriptions {
            if inst.matches(sub) {
                all |= sub.metrics.iter().any(|m| m == config::ALL_METRICS);
                for m in &sub.metrics {
                    if !metrics.contains(m) {
                        metrics.push(m.clone());
                    }
                }
                interval = interval.min(sub.interval_ms);
            }
        }
        if all {
            metrics = vec![config::ALL_METRICS.to_string()];
        }
        metrics.sort();
        let text = format!("[{}]{interval}", metrics.join(", "));
        let crc = crc32c::crc32c(text.as_bytes()) as i32;
        inst.subscription_id = crc ^ java_uuid_hash(id);
        inst.metrics = metrics;
        inst.push_interval_ms = interval;
        inst.version = self.version;
        inst.last_get_ms = 0;
        inst.last_push_ms = 0;
        inst.terminating = false;
    }

    /// Drop expired instances and exported clients (at most once a second).
    fn sweep(&mut self, now: i64) {
        if now < self.next_sweep_ms {
            return;
        }
        self.next_sweep_ms = now + 1000;
        let expired: Vec<Uuid> = self
            .instances
            .iter()
            .filter(|(_, i)| i.expires_at_ms <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.remove_instance(id);
        }
        self.exported.retain(|_, e| e.expires_at_ms > now);
    }

    fn remove_instance(&mut self, id: Uuid) {
        if let Some(inst) = self.instances.remove(&id) {
            if self.by_connection.get(&inst.connection_id) == Some(&id) {
                self.by_connection.remove(&inst.connection_id);
            }
        }
    }

    /// Kafka's `clientInstance`: the instance, created or re-evaluated as needed, its expiry
    /// pushed back.
    fn instance(&mut self, id: Uuid, ctx: &ClientContext, now: i64) -> &mut Instance {
        self.sweep(now);
        let mut inst = match self.instances.remove(&id) {
            Some(mut inst) => {
                if inst.version < self.version {
                    self.evaluate(id, &mut inst);
                }
                inst
            }
            None => {
                if self.instances.len() >= self.limits.max_instances.max(1) {
                    let lru = self
                        .instances
                        .iter()
                        .min_by_key(|(_, i)| i.last_used_ms)
                        .map(|(id, _)| *id);
                    if let Some(lru) = lru {
                        self.remove_instance(lru);
                        self.stats.evicted_instances += 1;
                    }
                }
                let mut inst = Instance {
                    attributes: vec![
                        (config::CLIENT_INSTANCE_ID, Some(id.to_string())),
                        (config::CLIENT_ID, Some(ctx.client_id.clone())),
                        (config::CLIENT_SOFTWARE_NAME, ctx.software_name.clone()),
                        (
                            config::CLIENT_SOFTWARE_VERSION,
                            ctx.software_version.clone(),
                        ),
                        (config::CLIENT_SOURCE_ADDRESS, ctx.source_address.clone()),
                        (
                            config::CLIENT_SOURCE_PORT,
                            ctx.source_port.map(|p| p.to_string()),
                        ),
                    ],
                    client_id: ctx.client_id.clone(),
                    connection_id: ctx.connection_id,
                    subscription_id: 0,
                    version: 0,
                    metrics: Vec::new(),
                    push_interval_ms: config::DEFAULT_INTERVAL_MS,
                    last_get_ms: 0,
                    last_push_ms: 0,
                    terminating: false,
                    last_error: NONE,
                    expires_at_ms: 0,
                    last_used_ms: now,
                };
                self.evaluate(id, &mut inst);
                self.by_connection.insert(ctx.connection_id, id);
                inst
            }
        };
        inst.expires_at_ms = now + inst.expiry_ms();
        inst.last_used_ms = now;
        match self.instances.entry(id) {
            std::collections::hash_map::Entry::Vacant(v) => v.insert(inst),
            std::collections::hash_map::Entry::Occupied(o) => {
                let slot = o.into_mut();
                *slot = inst;
                slot
            }
        }
    }

    /// GetTelemetrySubscriptions.
    pub fn get_subscriptions(
        &mut self,
        requested_id: Uuid,
        ctx: &ClientContext,
        now: i64,
    ) -> GetResponse {
        let id = if requested_id.is_nil() {
            let mut id = Uuid::new_v4();
            while self.instances.contains_key(&id) || reserved(id) {
                id = Uuid::new_v4();
            }
            id
        } else {
            requested_id
        };
        let max_bytes = self.limits.telemetry_max_bytes;
        let inst = self.instance(id, ctx, now);
        let after_push_error = matches!(
            inst.last_error,
            UNKNOWN_SUBSCRIPTION_ID | UNSUPPORTED_COMPRESSION_TYPE
        );
        if !inst.accept_get(now) && !after_push_error {
            return GetResponse::error(THROTTLING_QUOTA_EXCEEDED);
        }
        if after_push_error {
            inst.last_get_ms = now;
        }
        inst.last_error = NONE;
        GetResponse {
            error_code: NONE,
            client_instance_id: id,
            subscription_id: inst.subscription_id,
            accepted_compression_types: ACCEPTED_COMPRESSION_TYPES.to_vec(),
            push_interval_ms: inst.push_interval_ms,
            telemetry_max_bytes: max_bytes,
            delta_temporality: true,
            requested_metrics: inst.metrics.clone(),
        }
    }

    /// PushTelemetry's checks (everything but decoding the payload): Ok(true) when there is a
    /// payload to decode and record with [`Manager::record`], Ok(false) when done.
    pub fn check_push(
        &mut self,
        req: &PushRequest<'_>,
        ctx: &ClientContext,
        now: i64,
    ) -> Result<bool, i16> {
        if reserved(req.client_instance_id) {
            return Err(INVALID_REQUEST);
        }
        let max_bytes = self.limits.telemetry_max_bytes;
        let inst = self.instance(req.client_instance_id, ctx, now);
        let result = (|| {
            if inst.terminating {
                return Err(INVALID_REQUEST);
            }
            if !inst.accept_push(now) && !req.terminating {
                return Err(THROTTLING_QUOTA_EXCEEDED);
            }
            if req.subscription_id != inst.subscription_id {
                return Err(UNKNOWN_SUBSCRIPTION_ID);
            }
            if !(0..=4).contains(&req.compression_type) {
                return Err(UNSUPPORTED_COMPRESSION_TYPE);
            }
            if req.metrics.len() > usize::try_from(max_bytes).unwrap_or(0) {
                return Err(TELEMETRY_TOO_LARGE);
            }
            Ok(())
        })();
        inst.terminating = req.terminating;
        match result {
            Err(code) => {
                inst.last_error = code;
                Err(code)
            }
            Ok(()) => {
                inst.last_error = NONE;
                Ok(!req.metrics.is_empty())
            }
        }
    }

    /// A payload that did not decode: INVALID_RECORD is the instance's last error.
    pub fn record_failed(&mut self, id: Uuid) {
        if let Some(inst) = self.instances.get_mut(&id) {
            inst.last_error = INVALID_RECORD;
        }
    }

    /// Keep a decoded push's points for `/metrics`, within the bounds.
    pub fn record(&mut self, id: Uuid, points: Vec<otlp::Point>, now: i64) {
        let Some(inst) = self.instances.get(&id) else {
            return;
        };
        let expires_at_ms = now + inst.expiry_ms();
        let client_id = inst.client_id.clone();
        if !self.exported.contains_key(&id) {
            if self.exported.len() >= self.limits.exported_max_clients {
                self.stats.dropped_clients += 1;
                return;
            }
            self.exported.insert(
                id,
                Exported {
                    client_id,
                    series: BTreeMap::new(),
                    expires_at_ms,
                },
            );
        }
        let max_series = self.limits.exported_max_series;
        let Some(e) = self.exported.get_mut(&id) else {
            return;
        };
        e.expires_at_ms = expires_at_ms;
        for p in points {
            let mut attrs: Vec<(String, String)> = p
                .attributes
                .iter()
                .map(|(k, v)| (sanitize_name(k), sanitize_value(v)))
                .filter(|(k, _)| k != "client_instance_id" && k != "client_id")
                .collect();
            attrs.sort();
            attrs.dedup_by(|a, b| a.0 == b.0);
            let key = (p.name.chars().take(200).collect::<String>(), attrs);
            let len = e.series.len();
            match e.series.get_mut(&key) {
                Some((kind, value)) => {
                    *value = match p.kind {
                        PointKind::Counter { delta: true } | PointKind::UpDown { delta: true } => {
                            *value + p.value
                        }
                        _ => p.value,
                    };
                    *kind = p.kind;
                }
                None if len >= max_series => self.stats.dropped_series += 1,
                None => {
                    e.series.insert(key, (p.kind, p.value));
                }
            }
        }
    }

    /// The connection closed: drop the instance created on it (Kafka's disconnect listener).
    pub fn connection_closed(&mut self, connection_id: u64) {
        if let Some(id) = self.by_connection.remove(&connection_id) {
            self.instances.remove(&id);
        }
    }

    /// Every exported sample, for the scrape (expired clients are dropped first).
    pub fn samples(&mut self, now: i64) -> Vec<Sample> {
        self.next_sweep_ms = 0;
        self.sweep(now);
        let mut out = Vec::new();
        for (id, e) in &self.exported {
            for ((name, attrs), (kind, value)) in &e.series {
                let mut labels = vec![
                    ("client_instance_id".to_string(), id.to_string()),
                    ("client_id".to_string(), sanitize_value(&e.client_id)),
                ];
                labels.extend(attrs.iter().cloned());
                out.push(Sample {
                    name: name.clone(),
                    kind: *kind,
                    labels,
                    value: *value,
                });
            }
        }
        out
    }

    pub fn stats(&self) -> Stats {
        Stats {
            instances: self.instances.len(),
            exported_clients: self.exported.len(),
            ..self.stats
        }
    }

    /// The instance's push interval and requested metrics (tests, debugging).
    pub fn instance_subscription(&self, id: Uuid) -> Option<(i32, i32, Vec<String>)> {
        self.instances
            .get(&id)
            .map(|i| (i.subscription_id, i.push_interval_ms, i.metrics.clone()))
    }
}
