//! CLIENT_METRICS config resources (KIP-714 subscriptions), with Kafka's names, defaults and
//! validation (`ClientMetricsConfigs`):
//! - `metrics`: a list of metric-name prefixes; `*` subscribes every metric; an empty list
//!   subscribes none (the client then pushes nothing).
//! - `interval.ms`: the push interval, 100..=3600000, default 300000.
//! - `match`: a list of `selector=regex`, every one of which must match (whole-string, as Java's
//!   `Matcher.matches`) the client's attribute; no pattern matches every client. Selectors:
//!   client_instance_id, client_id, client_software_name, client_software_version,
//!   client_source_address, client_source_port.
//!
//! Errors as Kafka's validator raises them: an empty name, an unknown config or an interval out
//! of bounds is INVALID_REQUEST; a value that does not parse (interval not an int, a pattern
//! that is not `selector=regex`, an unknown selector or an invalid regex) is INVALID_CONFIG.
//! Regexes are Rust's `regex` syntax (RE2-like), Java's differs in back-references and
//! look-arounds, which are refused here.

use std::collections::BTreeMap;

use regex::Regex;

/// Kafka's error codes used by the validation.
pub const INVALID_CONFIG: i16 = 40;
pub const INVALID_REQUEST: i16 = 42;

pub const METRICS: &str = "metrics";
pub const INTERVAL_MS: &str = "interval.ms";
pub const MATCH: &str = "match";

/// Every CLIENT_METRICS config name.
pub const NAMES: &[&str] = &[METRICS, INTERVAL_MS, MATCH];

pub const DEFAULT_INTERVAL_MS: i32 = 300_000;
pub const MIN_INTERVAL_MS: i32 = 100;
pub const MAX_INTERVAL_MS: i32 = 3_600_000;

/// The `metrics` value subscribing every metric.
pub const ALL_METRICS: &str = "*";

pub const CLIENT_INSTANCE_ID: &str = "client_instance_id";
pub const CLIENT_ID: &str = "client_id";
pub const CLIENT_SOFTWARE_NAME: &str = "client_software_name";
pub const CLIENT_SOFTWARE_VERSION: &str = "client_software_version";
pub const CLIENT_SOURCE_ADDRESS: &str = "client_source_address";
pub const CLIENT_SOURCE_PORT: &str = "client_source_port";

const SELECTORS: &[&str] = &[
    CLIENT_INSTANCE_ID,
    CLIENT_ID,
    CLIENT_SOFTWARE_NAME,
    CLIENT_SOFTWARE_VERSION,
    CLIENT_SOURCE_ADDRESS,
    CLIENT_SOURCE_PORT,
];

/// A validation failure: Kafka's error code and message.
pub type ConfigError = (i16, String);

/// One subscription (a CLIENT_METRICS resource), parsed.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub name: String,
    pub metrics: Vec<String>,
    pub interval_ms: i32,
    /// Selector → whole-string regex.
    pub patterns: Vec<(String, Regex)>,
}

/// Kafka's LIST parsing: comma-separated, trimmed; an empty value is the empty list.
fn list(v: &str) -> Vec<String> {
    if v.trim().is_empty() {
        return Vec::new();
    }
    v.split(',').map(|s| s.trim().to_string()).collect()
}

/// Parse `match` patterns as Kafka's `parseMatchingPatterns` does.
pub fn parse_patterns(patterns: &[String]) -> Result<Vec<(String, Regex)>, ConfigError> {
    let mut out: Vec<(String, Regex)> = Vec::new();
    for p in patterns {
        let illegal = || {
            (
                INVALID_CONFIG,
                format!("Illegal client matching pattern: {p}"),
            )
        };
        // Java's String.split drops trailing empty strings.
        let mut parts: Vec<&str> = p.split('=').collect();
        while parts.last().is_some_and(|s| s.is_empty()) {
            parts.pop();
        }
        let [selector, regex] = parts[..] else {
            return Err(illegal());
        };
        let selector = selector.trim();
        if !SELECTORS.contains(&selector) {
            return Err(illegal());
        }
        let re = Regex::new(&format!("^(?:{})$", regex.trim())).map_err(|_| illegal())?;
        // A later pattern for the same selector replaces the earlier one (Kafka's map put).
        out.retain(|(s, _)| s != selector);
        out.push((selector.to_string(), re));
    }
    Ok(out)
}

/// Validate a subscription's whole set of configs (after the change) and parse it.
pub fn validate(
    name: &str,
    configs: &BTreeMap<String, String>,
) -> Result<Subscription, ConfigError> {
    if name.is_empty() {
        return Err((INVALID_REQUEST, "Subscription name can't be empty".into()));
    }
    if let Some(k) = configs.keys().find(|k| !NAMES.contains(&k.as_str())) {
        return Err((
            INVALID_REQUEST,
            format!("Unknown client metrics configuration: {k}"),
        ));
    }
    let interval_ms = match configs.get(INTERVAL_MS) {
        None => DEFAULT_INTERVAL_MS,
        Some(v) => {
            let n: i32 = v.trim().parse().map_err(|_| {
                (
                    INVALID_CONFIG,
                    format!("Invalid value {v} for configuration {INTERVAL_MS}: Not a number of type INT"),
                )
            })?;
            if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&n) {
                return Err((
                    INVALID_REQUEST,
                    format!(
                        "Invalid value {n} for {INTERVAL_MS}, interval must be between 100 and 3600000 (1 hour)"
                    ),
                ));
            }
            n
        }
    };
    let patterns = parse_patterns(&configs.get(MATCH).map(|v| list(v)).unwrap_or_default())?;
    Ok(Subscription {
        name: name.to_string(),
        metrics: configs.get(METRICS).map(|v| list(v)).unwrap_or_default(),
        interval_ms,
        patterns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_lists() {
        let s = validate("s", &cfg(&[])).unwrap();
        assert_eq!(s.interval_ms, 300_000);
        assert!(s.metrics.is_empty());
        assert!(s.patterns.is_empty());
        let s = validate(
            "s",
            &cfg(&[
                (
                    "metrics",
                    "org.apache.kafka.producer., org.apache.kafka.consumer.",
                ),
                ("interval.ms", "1000"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.metrics,
            vec!["org.apache.kafka.producer.", "org.apache.kafka.consumer."]
        );
        assert_eq!(s.interval_ms, 1000);
    }

    #[test]
    fn errors_are_kafkas() {
        assert_eq!(validate("", &cfg(&[])).unwrap_err().0, INVALID_REQUEST);
        assert_eq!(
            validate("s", &cfg(&[("foo", "1")])).unwrap_err().0,
            INVALID_REQUEST
        );
        assert_eq!(
            validate("s", &cfg(&[("interval.ms", "99")])).unwrap_err().0,
            INVALID_REQUEST
        );
        assert_eq!(
            validate("s", &cfg(&[("interval.ms", "3600001")]))
                .unwrap_err()
                .0,
            INVALID_REQUEST
        );
        assert!(validate("s", &cfg(&[("interval.ms", "100")])).is_ok());
        assert!(validate("s", &cfg(&[("interval.ms", "3600000")])).is_ok());
        assert_eq!(
            validate("s", &cfg(&[("interval.ms", "x")])).unwrap_err().0,
            INVALID_CONFIG
        );
        for bad in [
            "client_id",
            "client_id=",
            "bogus=a",
            "client_id=a=b",
            "client_id=(",
            "=a",
        ] {
            let e = validate("s", &cfg(&[("match", bad)])).unwrap_err();
            assert_eq!(
                e,
                (
                    INVALID_CONFIG,
                    format!("Illegal client matching pattern: {bad}")
                )
            );
        }
    }

    #[test]
    fn patterns_match_whole_values() {
        let s = validate(
            "s",
            &cfg(&[(
                "match",
                "client_id=prod-.*, client_software_name=librdkafka",
            )]),
        )
        .unwrap();
        assert_eq!(s.patterns.len(), 2);
        let (_, re) = &s.patterns[0];
        assert!(re.is_match("prod-1"));
        assert!(!re.is_match("xprod-1"));
    }
}
