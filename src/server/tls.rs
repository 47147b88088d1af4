//! TLS for SSL and SASL_SSL listeners, with rustls (no OpenSSL in the broker).
//!
//! Built from Kafka's listener-scoped settings (see `config/listeners.rs`):
//! - the key and certificate chain from `ssl.keystore.location` (one PEM file holding both)
//!   or `ssl.keystore.certificate.chain` + `ssl.keystore.key` (PEM text); only
//!   `ssl.keystore.type=PEM`, and only unencrypted keys (`ssl.key.password` is refused);
//! - the CAs that sign client certificates from `ssl.truststore.location` or
//!   `ssl.truststore.certificates`;
//! - `ssl.client.auth`: `none` (no certificate asked), `requested` (asked, optional),
//!   `required` (the handshake fails without a trusted one);
//! - `ssl.enabled.protocols` (TLSv1.2, TLSv1.3) and `ssl.cipher.suites` (IANA names);
//! - `ssl.principal.mapping.rules` for the principal of a client certificate.
//!
//! Certificates are reloaded without a restart: every accept checks (at most once a second)
//! whether the keystore or truststore files changed, and rebuilds the server config if so;
//! a reload that fails keeps the old config and logs why.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

use crate::config::listeners::ListenerConfig;
use crate::security::pem::{certs_of, key_of, pem_blocks};
use crate::security::ssl_principal::PrincipalMapper;

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// A TLS listener's acceptor, reloading its files when they change.
pub struct TlsListener {
    listener: ListenerConfig,
    pub client_auth: ClientAuth,
    pub mapper: PrincipalMapper,
    state: Mutex<Loaded>,
}

struct Loaded {
    config: Arc<ServerConfig>,
    stamps: Vec<(PathBuf, Option<SystemTime>)>,
    checked: Instant,
}

/// A listener setting that is wrong, with the setting's name.
fn bad(l: &ListenerConfig, key: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("listener {}: {key}: {reason}", l.name)
}

impl TlsListener {
    /// Build from the listener's settings; every mistake is a start-up error naming the setting.
    pub fn new(l: &ListenerConfig) -> anyhow::Result<TlsListener> {
        let client_auth = match l
            .get("ssl.client.auth")
            .unwrap_or("none")
            .to_ascii_lowercase()
            .as_str()
        {
            "none" => ClientAuth::None,
            "requested" => ClientAuth::Requested,
            "required" => ClientAuth::Required,
            other => {
                return Err(bad(
                    l,
                    "ssl.client.auth",
                    format!("{other}: expected none, requested or required"),
                ))
            }
        };
        let mapper = PrincipalMapper::parse(l.get("ssl.principal.mapping.rules").unwrap_or(""))
            .map_err(|e| bad(l, "ssl.principal.mapping.rules", e))?;
        let (config, stamps) = build(l, client_auth)?;
        Ok(TlsListener {
            listener: l.clone(),
            client_auth,
            mapper,
            state: Mutex::new(Loaded {
                config,
                stamps,
                checked: Instant::now(),
            }),
        })
    }

    /// The acceptor for a new connection (after reloading changed files, at most once a second).
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.checked.elapsed() >= Duration::from_secs(1) {
            st.checked = Instant::now();
            let changed = st.stamps.iter().any(|(p, t)| modified(p) != *t);
            if changed {
                match build(&self.listener, self.client_auth) {
                    Ok((config, stamps)) => {
                        tracing::info!(listener = %self.listener.name, "TLS key store or trust store changed: reloaded");
                        st.config = config;
                        st.stamps = stamps;
                    }
                    Err(e) => {
                        // Keep serving with what worked; try again once the files change again.
                        st.stamps = st
                            .stamps
                            .iter()
                            .map(|(p, _)| (p.clone(), modified(p)))
                            .collect();
                        tracing::warn!(listener = %self.listener.name, "TLS reload failed, keeping the previous certificates: {e:#}");
                    }
                }
            }
        }
        tokio_rustls::TlsAcceptor::from(Arc::clone(&st.config))
    }
}

fn modified(p: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

type Built = (Arc<ServerConfig>, Vec<(PathBuf, Option<SystemTime>)>);

fn build(l: &ListenerConfig, client_auth: ClientAuth) -> anyhow::Result<Built> {
    let mut stamps = Vec::new();
    for key in ["ssl.keystore.type", "ssl.truststore.type"] {
        let t = l.get(key).unwrap_or("PEM");
        if !t.eq_ignore_ascii_case("PEM") {
            return Err(bad(l, key, format!("{t} is not supported: use PEM")));
        }
    }
    if l.get("ssl.key.password").is_some_and(|p| !p.is_empty()) {
        return Err(bad(
            l,
            "ssl.key.password",
            "encrypted private keys are not supported: give an unencrypted PEM key",
        ));
    }
    if l.get("ssl.engine.factory.class")
        .is_some_and(|c| !c.is_empty())
    {
        return Err(bad(l, "ssl.engine.factory.class", "not supported"));
    }
    let (certs, key) = match (
        l.get("ssl.keystore.location"),
        l.get("ssl.keystore.certificate.chain"),
        l.get("ssl.keystore.key"),
    ) {
        (Some(path), _, _) => {
            let path = PathBuf::from(path);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| bad(l, "ssl.keystore.location", format!("{}: {e}", path.display())))?;
            stamps.push((path.clone(), modified(&path)));
            let blocks = pem_blocks(&text).map_err(|e| bad(l, "ssl.keystore.location", e))?;
            (certs_of(&blocks), key_of(&blocks).map_err(|e| bad(l, "ssl.keystore.location", e))?)
        }
        (None, Some(chain), Some(key)) => {
            let chain = pem_blocks(chain).map_err(|e| bad(l, "ssl.keystore.certificate.chain", e))?;
            let key = pem_blocks(key).map_err(|e| bad(l, "ssl.keystore.key", e))?;
            (certs_of(&chain), key_of(&key).map_err(|e| bad(l, "ssl.keystore.key", e))?)
        }
        _ => {
            return Err(bad(
                l,
                "ssl.keystore.location",
                format!(
                    "a {} listener needs a key and certificate: ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key",
                    l.protocol.name()
                ),
            ))
        }
    };
    let Some(key) = key else {
        return Err(bad(
            l,
            "ssl.keystore.key",
            "no private key found in the PEM",
        ));
    };
    if certs.is_empty() {
        return Err(bad(
            l,
            "ssl.keystore.location",
            "no certificate found in the PEM",
        ));
    }
    let roots = match (
        l.get("ssl.truststore.location"),
        l.get("ssl.truststore.certificates"),
    ) {
        (Some(path), _) => {
            let path = PathBuf::from(path);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                bad(
                    l,
                    "ssl.truststore.location",
                    format!("{}: {e}", path.display()),
                )
            })?;
            stamps.push((path.clone(), modified(&path)));
            Some(pem_blocks(&text).map_err(|e| bad(l, "ssl.truststore.location", e))?)
        }
        (None, Some(text)) => {
            Some(pem_blocks(text).map_err(|e| bad(l, "ssl.truststore.certificates", e))?)
        }
        (None, None) => None,
    };
    let provider = Arc::new(crypto_provider(l)?);
    let versions = protocol_versions(l)?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| bad(l, "ssl.enabled.protocols", e))?;
    let builder = match (client_auth, roots) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => return Err(bad(
            l,
            "ssl.truststore.location",
            "ssl.client.auth asks for client certificates: a trust store is needed to verify them",
        )),
        (auth, Some(blocks)) => {
            let mut store = RootCertStore::empty();
            for c in certs_of(&blocks) {
                store
                    .add(c)
                    .map_err(|e| bad(l, "ssl.truststore.location", e))?;
            }
            if store.is_empty() {
                return Err(bad(
                    l,
                    "ssl.truststore.location",
                    "no CA certificate in the PEM",
                ));
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(store), Arc::clone(&provider));
            let verifier = if auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| bad(l, "ssl.truststore.location", e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        bad(
            l,
            "ssl.keystore.location",
            format!("key and certificate: {e}"),
        )
    })?;
    Ok((Arc::new(config), stamps))
}

/// ring's provider, limited to `ssl.cipher.suites` when set (IANA/JSSE names; rustls calls
/// the TLS 1.3 suites `TLS13_*`).
fn crypto_provider(l: &ListenerConfig) -> anyhow::Result<rustls::crypto::CryptoProvider> {
    // ring rather than aws-lc-rs: no C toolchain beyond cc and no cmake to build it. rustls
    // marks ring's provider deprecated because it has no post-quantum key exchange.
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    let wanted: Vec<String> = l
        .get("ssl.cipher.suites")
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .collect();
    if wanted.is_empty() {
        return Ok(provider);
    }
    let name = |s: &SupportedCipherSuite| {
        s.suite()
            .as_str()
            .unwrap_or("")
            .replacen("TLS13_", "TLS_", 1)
    };
    provider.cipher_suites.retain(|s| wanted.contains(&name(s)));
    if provider.cipher_suites.is_empty() {
        return Err(bad(
            l,
            "ssl.cipher.suites",
            "none of these cipher suites is supported",
        ));
    }
    Ok(provider)
}

fn protocol_versions(l: &ListenerConfig) -> anyhow::Result<Vec<&'static SupportedProtocolVersion>> {
    let mut out = Vec::new();
    for p in l
        .get("ssl.enabled.protocols")
        .unwrap_or("TLSv1.2,TLSv1.3")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match p {
            "TLSv1.3" => out.push(&rustls::version::TLS13),
            "TLSv1.2" => out.push(&rustls::version::TLS12),
            "TLSv1" | "TLSv1.1" | "SSLv3" => {
                tracing::warn!(listener = %l.name, "ssl.enabled.protocols: {p} is not served (insecure)")
            }
            other => {
                return Err(bad(
                    l,
                    "ssl.enabled.protocols",
                    format!("unknown protocol {other}"),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(bad(
            l,
            "ssl.enabled.protocols",
            "enables neither TLSv1.2 nor TLSv1.3",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn listener(settings: &[(&str, String)]) -> ListenerConfig {
        ListenerConfig {
            name: "SSL".into(),
            protocol: crate::security::SecurityProtocol::Ssl,
            host: "127.0.0.1".into(),
            port: 0,
            advertised_host: "127.0.0.1".into(),
            advertised_port: 0,
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn inline_pem_even_on_one_line_builds_a_config() {
        let (cert, key) = self_signed();
        let one_line = |s: &str| s.replace('\n', "");
        let l = listener(&[
            ("ssl.keystore.certificate.chain", one_line(&cert)),
            ("ssl.keystore.key", one_line(&key)),
        ]);
        let t = TlsListener::new(&l).unwrap();
        assert_eq!(t.client_auth, ClientAuth::None);
    }

    #[test]
    fn mistakes_name_the_setting() {
        let (cert, key) = self_signed();
        let err = |s: &[(&str, String)]| match TlsListener::new(&listener(s)) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err(&[]).contains("ssl.keystore.location"));
        assert!(err(&[("ssl.keystore.type", "JKS".into())]).contains("JKS is not supported"));
        let base = [
            ("ssl.keystore.certificate.chain", cert.clone()),
            ("ssl.keystore.key", key.clone()),
        ];
        let with = |extra: (&str, String)| {
            let mut v = base.to_vec();
            v.push(extra);
            err(&v)
        };
        assert!(with(("ssl.client.auth", "required".into())).contains("trust store"));
        assert!(with(("ssl.client.auth", "maybe".into())).contains("ssl.client.auth"));
        assert!(with(("ssl.enabled.protocols", "TLSv1.1".into())).contains("neither"));
        assert!(with(("ssl.cipher.suites", "TLS_NOPE".into())).contains("ssl.cipher.suites"));
        assert!(with(("ssl.key.password", "x".into())).contains("encrypted"));
        assert!(err(&[
            ("ssl.keystore.certificate.chain", cert.clone()),
            (
                "ssl.keystore.key",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----"
                    .into()
            ),
        ])
        .contains("encrypted"));
        // Known suites and protocols are accepted.
        let mut v = base.to_vec();
        v.push((
            "ssl.cipher.suites",
            "TLS_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(),
        ));
        v.push(("ssl.enabled.protocols", "TLSv1.3".into()));
        assert!(TlsListener::new(&listener(&v)).is_ok());
    }
}
