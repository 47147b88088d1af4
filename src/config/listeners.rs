//! Listeners in Kafka's form: `listeners=PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094`,
//! `listener.security.protocol.map`, `advertised.listeners`, `inter.broker.listener.name` /
//! `security.inter.broker.protocol`, and the listener-scoped security settings (`ssl.*`,
//! `sasl.*`, `connections.max.reauth.ms`), each also in the prefixed form
//! `listener.name.<listener>.<setting>` that wins over the global one for that listener (KIP-684
//! for `ssl.client.auth`; Kafka's `ListenerName.configPrefix` for the rest).
//!
//! Entries named in `controller.listener.names` belong to the controller quorum and are not
//! client listeners. Without `listeners`, one PLAINTEXT listener on `--listen` (default
//! 127.0.0.1:9092): the single-node default is unchanged.
//!
//! Pure parsing; the TLS and SASL set-up built from these settings lives in `server/`.

use std::collections::{BTreeMap, BTreeSet};

use super::{parse_host_port, ConfigError};
use crate::security::SecurityProtocol;

/// One client listener.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerConfig {
    /// The listener name as written in `listeners`, upper-cased ("PLAINTEXT", "INTERNAL").
    pub name: String,
    pub protocol: SecurityProtocol,
    pub host: String,
    pub port: u16,
    /// What Metadata tells clients that connected to this listener.
    pub advertised_host: String,
    pub advertised_port: u16,
    /// The listener-scoped security settings in effect for this listener: the prefixed
    /// `listener.name.<name>.<key>` where given, else the global `<key>`.
    pub settings: BTreeMap<String, String>,
}

impl ListenerConfig {
    /// A listener-scoped setting, prefixed value first.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }

    /// `listener.name.<name>.` (Kafka lower-cases the listener name in the prefix).
    pub fn prefix(&self) -> String {
        format!("listener.name.{}.", self.name.to_ascii_lowercase())
    }
}

/// Listener-scoped settings (Kafka's names): accepted globally and with a listener prefix.
/// `<mechanism>.sasl.jaas.config` (e.g. `plain.sasl.jaas.config`) is accepted too.
pub const LISTENER_SETTINGS: &[(&str, &str)] = &[
    (
        "ssl.keystore.type",
        "PEM (the only type served; JKS and PKCS12 are refused).",
    ),
    (
        "ssl.keystore.location",
        "A PEM file with the private key and the certificate chain.",
    ),
    (
        "ssl.keystore.certificate.chain",
        "The certificate chain, PEM text (instead of a file).",
    ),
    (
        "ssl.keystore.key",
        "The private key, PEM text (unencrypted PKCS#8, PKCS#1 or SEC1).",
    ),
    (
        "ssl.keystore.password",
        "Accepted for PEM keystores and unused.",
    ),
    (
        "ssl.key.password",
        "Encrypted private keys are refused: leave unset.",
    ),
    ("ssl.truststore.type", "PEM (the only type served)."),
    (
        "ssl.truststore.location",
        "A PEM file of the CA certificates that sign client certificates.",
    ),
    (
        "ssl.truststore.certificates",
        "The trusted CA certificates, PEM text (instead of a file).",
    ),
    (
        "ssl.truststore.password",
        "Accepted for PEM truststores and unused.",
    ),
    (
        "ssl.client.auth",
        "none, requested or required: whether a client certificate is asked for.",
    ),
    (
        "ssl.principal.mapping.rules",
        "RULE:pattern/replacement/[LU] rules and DEFAULT, as Kafka's.",
    ),
    ("ssl.enabled.protocols", "TLSv1.2 and/or TLSv1.3."),
    (
        "ssl.protocol",
        "Accepted and unused (the enabled protocols decide).",
    ),
    (
        "ssl.cipher.suites",
        "Cipher suites by their IANA names; empty = the TLS library's defaults.",
    ),
    (
        "ssl.endpoint.identification.algorithm",
        "A client setting; accepted and unused here.",
    ),
    ("ssl.engine.factory.class", "Accepted only when empty."),
    (
        "sasl.enabled.mechanisms",
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (GSSAPI and OAUTHBEARER are not served).",
    ),
    (
        "sasl.jaas.config",
        "JAAS text; PlainLoginModule's user_<name>=\"password\" entries are the PLAIN users.",
    ),
    (
        "connections.max.reauth.ms",
        "KIP-368 session lifetime after SASL authentication; 0 = no limit.",
    ),
];

/// Kafka's defaults of the listener-scoped settings that have one.
pub fn listener_setting_default(key: &str) -> Option<&'static str> {
    match key {
        "ssl.keystore.type" | "ssl.truststore.type" => Some("PEM"),
        "ssl.client.auth" => Some("none"),
        "ssl.principal.mapping.rules" => Some("DEFAULT"),
        "ssl.enabled.protocols" => Some("TLSv1.2,TLSv1.3"),
        "ssl.protocol" => Some("TLSv1.3"),
        "sasl.enabled.mechanisms" => Some("GSSAPI"),
        "connections.max.reauth.ms" => Some("0"),
        _ => None,
    }
}

/// Whether `key` (unprefixed) is a listener-scoped setting.
pub fn is_listener_setting(key: &str) -> bool {
    LISTENER_SETTINGS.iter().any(|(k, _)| *k == key)
        || key
            .strip_suffix(".sasl.jaas.config")
            .is_some_and(|m| !m.is_empty() && !m.contains('='))
}

/// Split `listener.name.<listener>.<key>` → (listener, key) when `key` is listener-scoped.
pub fn split_prefixed(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("listener.name.")?;
    let (listener, setting) = rest.split_once('.')?;
    (!listener.is_empty() && is_listener_setting(setting)).then_some((listener, setting))
}

fn invalid(name: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// `NAME://host:port` entries of a listener list, names upper-cased. A bare `host:port` is
/// PLAINTEXT (the `--listen` form). An empty host binds every address (Kafka's form).
pub fn parse_listener_list(
    config: &str,
    value: &str,
) -> Result<Vec<(String, String, u16)>, ConfigError> {
    let mut out = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, hostport) = match entry.split_once("://") {
            Some((n, rest)) => (n.trim().to_ascii_uppercase(), rest.trim()),
            None => ("PLAINTEXT".to_string(), entry),
        };
        if name.is_empty() {
            return Err(invalid(config, value, "a listener needs a name"));
        }
        let (host, port) = parse_host_port(hostport)
            .ok_or_else(|| invalid(config, value, format!("bad address in {entry}")))?;
        if out
            .iter()
            .any(|(n, _, _): &(String, String, u16)| *n == name)
        {
            return Err(invalid(
                config,
                value,
                format!("listener {name} is given twice"),
            ));
        }
        out.push((name, host, port));
    }
    Ok(out)
}

/// `listener.security.protocol.map`: `NAME:PROTOCOL,...`; Kafka's default maps each of the
/// four protocol names to itself.
pub fn parse_protocol_map(
    value: Option<&str>,
) -> Result<BTreeMap<String, SecurityProtocol>, ConfigError> {
    let mut map: BTreeMap<String, SecurityProtocol> = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ]
    .into_iter()
    .map(|p| (p.name().to_string(), p))
    .collect();
    let Some(value) = value else {
        return Ok(map);
    };
    map.clear();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, proto) = entry.split_once(':').ok_or_else(|| {
            invalid(
                "listener.security.protocol.map",
                value,
                "expected NAME:PROTOCOL entries",
            )
        })?;
        let proto = SecurityProtocol::parse(proto.trim()).ok_or_else(|| {
            invalid(
                "listener.security.protocol.map",
                value,
                format!("unknown security protocol {proto}"),
            )
        })?;
        map.insert(name.trim().to_ascii_uppercase(), proto);
    }
    Ok(map)
}

/// Everything [`resolve`] reads.
pub struct ListenerSources<'a> {
    /// `listeners` (or the `--listen` address as a bare `host:port`).
    pub listeners: &'a str,
    /// `advertised.listeners` (or `--advertise`), if given.
    pub advertised: Option<&'a str>,
    pub protocol_map: Option<&'a str>,
    /// `controller.listener.names`, upper-cased.
    pub controller_names: &'a [String],
    pub inter_broker_listener_name: Option<&'a str>,
    pub security_inter_broker_protocol: Option<&'a str>,
    /// Every listener-scoped setting given, prefixed or not, as written.
    pub settings: &'a BTreeMap<String, String>,
}

/// The client listeners and the name of the inter-broker one.
pub fn resolve(src: &ListenerSources) -> Result<(Vec<ListenerConfig>, String), ConfigError> {
    let map = parse_protocol_map(src.protocol_map)?;
    let entries: Vec<_> = parse_listener_list("listeners", src.listeners)?
        .into_iter()
        .filter(|(n, _, _)| !src.controller_names.contains(n))
        .collect();
    if entries.is_empty() {
        return Err(invalid(
            "listeners",
            src.listeners,
            "no client listener (every entry is a controller listener)",
        ));
    }
    let advertised = match src.advertised {
        Some(a) => parse_listener_list("advertised.listeners", a)?,
        None => Vec::new(),
    };
    for (name, _, _) in &advertised {
        if !entries.iter().any(|(n, _, _)| n == name) && !src.controller_names.contains(name) {
            return Err(invalid(
                "advertised.listeners",
                src.advertised.unwrap_or(""),
                format!("{name} is not in listeners"),
            ));
        }
    }
    let mut out = Vec::new();
    for (name, host, port) in entries {
        let protocol = *map.get(&name).ok_or_else(|| {
            invalid(
                "listener.security.protocol.map",
                src.protocol_map.unwrap_or(""),
                format!("no security protocol for listener {name}"),
            )
        })?;
        let (advertised_host, advertised_port) = advertised
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, h, p)| (h.clone(), *p))
            .unwrap_or_else(|| (advertised_host_for(&host), port));
        let settings = settings_for(&name, src.settings);
        out.push(ListenerConfig {
            name,
            protocol,
            host,
            port,
            advertised_host,
            advertised_port,
            settings,
        });
    }
    let inter = inter_broker_listener(src, &out)?;
    Ok((out, inter))
}

/// A wildcard bind address is advertised as the machine's loopback name, as before; a
/// cluster sets `advertised.listeners`.
fn advertised_host_for(host: &str) -> String {
    host.to_string()
}

/// The listener-scoped settings of one listener: prefixed over global, then Kafka's default.
fn settings_for(name: &str, given: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let prefix = format!("listener.name.{}.", name.to_ascii_lowercase());
    let mut out = BTreeMap::new();
    for (k, v) in given {
        if !k.starts_with("listener.name.") {
            out.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in given {
        if let Some(key) = k
            .to_ascii_lowercase()
            .strip_prefix(&prefix)
            .map(str::to_string)
        {
            out.insert(key, v.clone());
        }
    }
    for (key, _) in LISTENER_SETTINGS {
        if let Some(d) = listener_setting_default(key) {
            out.entry(key.to_string()).or_insert_with(|| d.to_string());
        }
    }
    out
}

fn inter_broker_listener(
    src: &ListenerSources,
    listeners: &[ListenerConfig],
) -> Result<String, ConfigError> {
    let names: BTreeSet<&str> = listeners.iter().map(|l| l.name.as_str()).collect();
    if let Some(n) = src.inter_broker_listener_name {
        if src.security_inter_broker_protocol.is_some() {
            return Err(invalid(
                "inter.broker.listener.name",
                n,
                "only one of inter.broker.listener.name and security.inter.broker.protocol may be set",
            ));
        }
        let n = n.trim().to_ascii_uppercase();
        if !names.contains(n.as_str()) {
            return Err(invalid(
                "inter.broker.listener.name",
                &n,
                "not a listener in listeners",
            ));
        }
        return Ok(n);
    }
    if let Some(p) = src.security_inter_broker_protocol {
        let proto = SecurityProtocol::parse(p)
            .ok_or_else(|| invalid("security.inter.broker.protocol", p, "unknown protocol"))?;
        return listeners
            .iter()
            .find(|l| l.name == proto.name())
            .map(|l| l.name.clone())
            .ok_or_else(|| {
                invalid(
                    "security.inter.broker.protocol",
                    p,
                    "no listener of that name in listeners",
                )
            });
    }
    // Kafka's default (security.inter.broker.protocol=PLAINTEXT) needs a PLAINTEXT listener;
    // a broker with one listener uses it.
    Ok(listeners
        .iter()
        .find(|l| l.name == "PLAINTEXT")
        .or_else(|| (listeners.len() == 1).then(|| &listeners[0]))
        .map(|l| l.name.clone())
        .unwrap_or_else(|| listeners[0].name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_with(
        listeners: &str,
        advertised: Option<&str>,
        map: Option<&str>,
        settings: &[(&str, &str)],
    ) -> Result<(Vec<ListenerConfig>, String), ConfigError> {
        let settings: BTreeMap<String, String> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&ListenerSources {
            listeners,
            advertised,
            protocol_map: map,
            controller_names: &["CONTROLLER".to_string()],
            inter_broker_listener_name: None,
            security_inter_broker_protocol: None,
            settings: &settings,
        })
    }

    #[test]
    fn kafka_form_listeners_with_protocols_and_advertised_addresses() {
        let (ls, inter) = resolve_with(
            "PLAINTEXT://127.0.0.1:9092,SASL_SSL://0.0.0.0:9094,CONTROLLER://127.0.0.1:9093",
            Some("PLAINTEXT://localhost:9092,SASL_SSL://broker.example:19094"),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(ls.len(), 2);
        assert_eq!(ls[0].name, "PLAINTEXT");
        assert_eq!(ls[0].protocol, SecurityProtocol::Plaintext);
        assert_eq!(
            (ls[0].advertised_host.as_str(), ls[0].advertised_port),
            ("localhost", 9092)
        );
        assert_eq!(ls[1].protocol, SecurityProtocol::SaslSsl);
        assert_eq!((ls[1].host.as_str(), ls[1].port), ("0.0.0.0", 9094));
        assert_eq!(
            (ls[1].advertised_host.as_str(), ls[1].advertised_port),
            ("broker.example", 19094)
        );
        assert_eq!(inter, "PLAINTEXT");
    }

    #[test]
    fn custom_names_need_the_protocol_map() {
        let e = resolve_with("INTERNAL://127.0.0.1:1", None, None, &[]).unwrap_err();
        assert!(e
            .to_string()
            .contains("no security protocol for listener INTERNAL"));
        let (ls, inter) = resolve_with(
            "INTERNAL://127.0.0.1:1,EXTERNAL://127.0.0.1:2",
            None,
            Some("INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT"),
            &[],
        )
        .unwrap();
        assert_eq!(ls[1].protocol, SecurityProtocol::SaslSsl);
        assert_eq!(inter, "INTERNAL");
        assert!(parse_protocol_map(Some("A:TLS")).is_err());
    }

    #[test]
    fn prefixed_settings_win_for_their_listener_only() {
        let (ls, _) = resolve_with(
            "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093",
            None,
            None,
            &[
                ("ssl.client.auth", "none"),
                ("listener.name.ssl.ssl.client.auth", "required"),
                ("listener.name.ssl.plain.sasl.jaas.config", "x"),
            ],
        )
        .unwrap();
        assert_eq!(ls[0].get("ssl.client.auth"), Some("none"));
        assert_eq!(ls[1].get("ssl.client.auth"), Some("required"));
        assert_eq!(ls[1].get("plain.sasl.jaas.config"), Some("x"));
        assert_eq!(ls[0].get("plain.sasl.jaas.config"), None);
        assert_eq!(ls[0].get("ssl.enabled.protocols"), Some("TLSv1.2,TLSv1.3"));
        assert_eq!(ls[1].get("sasl.enabled.mechanisms"), Some("GSSAPI"));
    }

    #[test]
    fn listener_scoped_keys_are_recognised_with_and_without_prefix() {
        assert!(is_listener_setting("ssl.client.auth"));
        assert!(is_listener_setting("scram-sha-256.sasl.jaas.config"));
        assert!(!is_listener_setting("log.dirs"));
        assert_eq!(
            split_prefixed("listener.name.sasl_ssl.ssl.keystore.location"),
            Some(("sasl_ssl", "ssl.keystore.location"))
        );
        assert_eq!(split_prefixed("listener.name.sasl_ssl.log.dirs"), None);
    }

    #[test]
    fn bad_lists_are_refused_with_the_reason() {
        assert!(resolve_with(
            "PLAINTEXT://127.0.0.1:9092,PLAINTEXT://127.0.0.1:9093",
            None,
            None,
            &[]
        )
        .is_err());
        assert!(resolve_with("PLAINTEXT://nope", None, None, &[]).is_err());
        assert!(resolve_with("CONTROLLER://127.0.0.1:9093", None, None, &[]).is_err());
        let e =
            resolve_with("PLAINTEXT://127.0.0.1:9092", Some("SSL://x:1"), None, &[]).unwrap_err();
        assert!(e.to_string().contains("SSL is not in listeners"));
    }

    #[test]
    fn a_bare_address_is_a_plaintext_listener() {
        let (ls, inter) = resolve_with("127.0.0.1:9092", None, None, &[]).unwrap();
        assert_eq!(ls[0].name, "PLAINTEXT");
        assert_eq!(inter, "PLAINTEXT");
    }
}
