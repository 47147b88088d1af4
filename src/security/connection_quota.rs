//! Connection limits (Kafka's `ConnectionQuotas`, KIP-402/KIP-612):
//!
//! - `max.connections.per.ip` (default 2147483647) with `max.connections.per.ip.overrides`
//!   (`host:count,...`): a new connection from an IP that already has its limit open is
//!   closed at once (Kafka's `TooManyConnectionsException`).
//! - `max.connection.creation.rate` (default 2147483647 per second, broker-wide): each new
//!   connection is recorded in a [`Rate`]; over the rate, the acceptor waits the throttle
//!   time before accepting it (Kafka delays, it does not refuse).
//! - `connection_creation_rate` client quotas on `ip` entities (a named IP, or the ip
//!   `<default>`): over it, the connection is closed after the throttle time (Kafka's
//!   `ConnectionThrottledException` → delayed close).
//!
//! Pure state with time as a parameter; [`ConnectionQuotas`] is the thread-safe front the
//! accept loop calls, [`ConnectionSlot`] gives the IP's slot back when dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::quota::{throttle_time_ms, Rate, WindowConfig};

/// Kafka's "unlimited" for these settings.
pub const UNLIMITED: i64 = i32::MAX as i64;

/// The connection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionLimits {
    /// `max.connections.per.ip`.
    pub max_per_ip: i64,
    /// `max.connections.per.ip.overrides`, by address.
    pub overrides: HashMap<IpAddr, i64>,
    /// `max.connection.creation.rate`, connections per second.
    pub max_creation_rate: i64,
    /// `quota.window.num` / `quota.window.size.seconds`.
    pub window: WindowConfig,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_per_ip: UNLIMITED,
            overrides: HashMap::new(),
            max_creation_rate: UNLIMITED,
            window: WindowConfig::default(),
        }
    }
}

/// Parse `max.connections.per.ip.overrides`: `host:count` pairs separated by commas (hosts
/// are IP addresses here; `localhost` is 127.0.0.1). Kafka refuses a bad entry at start-up.
pub fn parse_overrides(s: &str) -> Result<HashMap<IpAddr, i64>, String> {
    let mut out = HashMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, count) = part
            .rsplit_once(':')
            .ok_or_else(|| format!("expected host:count, got {part}"))?;
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.parse()
                .map_err(|_| format!("{host} is not an IP address"))?
        };
        let count: i64 = count
            .trim()
            .parse()
            .ok()
            .filter(|c| *c >= 0)
            .ok_or_else(|| format!("invalid connection count in {part}"))?;
        out.insert(ip, count);
    }
    Ok(out)
}

/// Why a new connection is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `max.connections.per.ip` (or its override) is reached: close now.
    TooManyFromIp { ip: IpAddr, limit: i64 },
    /// The IP's `connection_creation_rate` quota is exceeded: close after this many ms.
    IpThrottled { ip: IpAddr, close_after_ms: i64 },
}

#[derive(Debug, Default)]
struct IpRate {
    rate: Rate,
    throttled_until_ms: i64,
}

/// The pure state: open connections per IP, the broker's creation rate, per-IP rates.
#[derive(Debug)]
pub struct ConnectionQuotaState {
    limits: ConnectionLimits,
    counts: HashMap<IpAddr, i64>,
    creation: Rate,
    /// `connection_creation_rate` quotas: a named IP, or None for the ip default.
    ip_quotas: HashMap<Option<IpAddr>, f64>,
    ip_rates: HashMap<IpAddr, IpRate>,
}

impl ConnectionQuotaState {
    pub fn new(limits: ConnectionLimits) -> ConnectionQuotaState {
        ConnectionQuotaState {
            limits,
            counts: HashMap::new(),
            creation: Rate::new(),
            ip_quotas: HashMap::new(),
            ip_rates: HashMap::new(),
        }
    }

    /// The per-IP limit of an address.
    pub fn limit(&self, ip: IpAddr) -> i64 {
        self.limits
            .overrides
            .get(&ip)
            .copied()
            .unwrap_or(self.limits.max_per_ip)
    }

    /// Record a new connection in the broker-wide creation rate; the time to wait before
    /// accepting it (0 when within `max.connection.creation.rate`).
    pub fn creation_delay_ms(&mut self, now: i64) -> i64 {
        if self.limits.max_creation_rate >= UNLIMITED {
            return 0;
        }
        let cfg = self.limits.window;
        self.creation.record(cfg, 1.0, now);
        let bound = self.limits.max_creation_rate as f64;
        let observed = self.creation.measure(cfg, now);
        throttle_time_ms(observed, bound, self.creation.window_size(cfg, now))
    }

    /// Replace the `connection_creation_rate` quotas (from the metadata image).
    pub fn set_ip_quotas(&mut self, quotas: HashMap<Option<IpAddr>, f64>) {
        self.ip_quotas = quotas;
        if self.ip_quotas.is_empty() {
            self.ip_rates.clear();
        }
    }

    fn ip_quota(&self, ip: IpAddr) -> Option<f64> {
        self.ip_quotas
            .get(&Some(ip))
            .or_else(|| self.ip_quotas.get(&None))
            .copied()
    }

    /// Admit a new connection from `ip` (its slot is taken) or refuse it.
    pub fn admit(&mut self, ip: IpAddr, now: i64) -> Result<(), Refusal> {
        if let Some(bound) = self.ip_quota(ip) {
            let cfg = self.limits.window;
            let r = self.ip_rates.entry(ip).or_default();
            if r.throttled_until_ms > now {
                return Err(Refusal::IpThrottled {
                    ip,
                    close_after_ms: r.throttled_until_ms - now,
                });
            }
            r.rate.record(cfg, 1.0, now);
            let observed = r.rate.measure(cfg, now);
            let t = throttle_time_ms(observed, bound, r.rate.window_size(cfg, now));
            if t > 0 {
                r.throttled_until_ms = now + t;
                return Err(Refusal::IpThrottled {
                    ip,
                    close_after_ms: t,
                });
            }
        }
        let limit = self.limit(ip);
        let count = self.counts.entry(ip).or_insert(0);
        if *count >= limit {
            return Err(Refusal::TooManyFromIp { ip, limit });
        }
        *count += 1;
        Ok(())
    }

    /// A connection from `ip` closed.
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(c) = self.counts.get_mut(&ip) {
            *c -= 1;
            if *c <= 0 {
                self.counts.remove(&ip);
            }
        }
    }

    /// Open connections from `ip`.
    pub fn count(&self, ip: IpAddr) -> i64 {
        self.counts.get(&ip).copied().unwrap_or(0)
    }
}

/// The thread-safe front.
#[derive(Debug)]
pub struct ConnectionQuotas {
    state: Mutex<ConnectionQuotaState>,
}

/// An admitted connection's slot: released when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.quotas.lock().release(self.ip);
    }
}

impl ConnectionQuotas {
    pub fn new(limits: ConnectionLimits) -> ConnectionQuotas {
        ConnectionQuotas {
            state: Mutex::new(ConnectionQuotaState::new(limits)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConnectionQuotaState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn creation_delay_ms(&self, now: i64) -> i64 {
        self.lock().creation_delay_ms(now)
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr, now: i64) -> Result<ConnectionSlot, Refusal> {
        self.lock().admit(ip, now)?;
        Ok(ConnectionSlot {
            quotas: Arc::clone(self),
            ip,
        })
    }

    pub fn set_ip_quotas(&self, quotas: HashMap<Option<IpAddr>, f64>) {
        self.lock().set_ip_quotas(quotas);
    }

    pub fn count(&self, ip: IpAddr) -> i64 {
        self.lock().count(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_ip_limit_refuses_the_next_and_accepts_after_a_close() {
        let mut limits = ConnectionLimits {
            max_per_ip: 2,
            ..ConnectionLimits::default()
        };
        limits.overrides = parse_overrides("10.0.0.9:0, 127.0.0.1:3").unwrap();
        let mut s = ConnectionQuotaState::new(limits);
        let a = ip("10.0.0.1");
        assert_eq!(s.admit(a, 0), Ok(()));
        assert_eq!(s.admit(a, 0), Ok(()));
        assert_eq!(
            s.admit(a, 0),
            Err(Refusal::TooManyFromIp { ip: a, limit: 2 })
        );
        // Other addresses have their own count; overrides apply.
        assert_eq!(s.admit(ip("10.0.0.2"), 0), Ok(()));
        assert!(s.admit(ip("10.0.0.9"), 0).is_err());
        for _ in 0..3 {
            assert_eq!(s.admit(ip("127.0.0.1"), 0), Ok(()));
        }
        assert!(s.admit(ip("127.0.0.1"), 0).is_err());
        s.release(a);
        assert_eq!(s.count(a), 1);
        assert_eq!(s.admit(a, 0), Ok(()));
    }

    #[test]
    fn overrides_parse_as_kafka_writes_them() {
        let o = parse_overrides("127.0.0.1:5,localhost:7,[::1]:2").unwrap();
        assert_eq!(o[&ip("127.0.0.1")], 7);
        assert_eq!(o[&ip("::1")], 2);
        assert!(parse_overrides("").unwrap().is_empty());
        assert!(parse_overrides("127.0.0.1").is_err());
        assert!(parse_overrides("127.0.0.1:x").is_err());
        assert!(parse_overrides("nohost:1").is_err());
    }

    #[test]
    fn creation_rate_delays_over_the_rate() {
        let limits = ConnectionLimits {
            max_creation_rate: 2,
            ..ConnectionLimits::default()
        };
        let mut s = ConnectionQuotaState::new(limits);
        // 2/s over a 10 s window: 20 connections at once are within it.
        for _ in 0..20 {
            assert_eq!(s.creation_delay_ms(0), 0);
        }
        // The 21st: 2.1/s → (2.1 - 2) / 2 × 10 s = 500 ms.
        assert_eq!(s.creation_delay_ms(0), 500);
        // Unlimited by default.
        let mut s = ConnectionQuotaState::new(ConnectionLimits::default());
        for _ in 0..10_000 {
            assert_eq!(s.creation_delay_ms(0), 0);
        }
    }

    #[test]
    fn ip_creation_quota_throttles_that_ip_only() {
        let mut s = ConnectionQuotaState::new(ConnectionLimits::default());
        let a = ip("10.0.0.1");
        s.set_ip_quotas([(Some(a), 1.0)].into_iter().collect());
        for _ in 0..10 {
            assert_eq!(s.admit(a, 0), Ok(()));
        }
        // 11/10 s against 1/s: (1.1 - 1) / 1 × 10 s = 1 s.
        assert_eq!(
            s.admit(a, 0),
            Err(Refusal::IpThrottled {
                ip: a,
                close_after_ms: 1000
            })
        );
        // Throttled until then.
        assert!(matches!(
            s.admit(a, 500),
            Err(Refusal::IpThrottled {
                close_after_ms: 500,
                ..
            })
        ));
        // Another address is not limited (no default).
        for _ in 0..50 {
            assert_eq!(s.admit(ip("10.0.0.2"), 0), Ok(()));
        }
    }

    #[test]
    fn slots_release_on_drop() {
        let q = Arc::new(ConnectionQuotas::new(ConnectionLimits {
            max_per_ip: 1,
            ..ConnectionLimits::default()
        }));
        let a = ip("10.0.0.1");
        let slot = q.admit(a, 0).unwrap();
        assert!(q.admit(a, 0).is_err());
        drop(slot);
        assert_eq!(q.count(a), 0);
        assert!(q.admit(a, 0).is_ok());
    }
}
