//! The CLI's own TLS and SASL settings: `--command-config FILE`, a Java properties file with
//! the client settings Kafka's tools take there:
//!
//! - `security.protocol`: PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL;
//! - `ssl.truststore.location` (PEM CA file) or `ssl.truststore.certificates` (PEM text): the
//!   CAs that sign the brokers' certificates (without one, the system has no roots here: it is
//!   required for SSL and SASL_SSL);
//! - `ssl.keystore.location` (PEM key and certificate chain) or `ssl.keystore.certificate.chain`
//!   + `ssl.keystore.key`: a client certificate, for listeners with `ssl.client.auth`;
//! - `ssl.endpoint.identification.algorithm`: `https` (default: the broker's certificate must
//!   name the host connected to) or empty (the chain is still verified, the name is not);
//! - `sasl.mechanism` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and `sasl.jaas.config` with a
//!   `username` and `password` (PlainLoginModule or ScramLoginModule), as Kafka's clients.
//!
//! Other keys are ignored, as Kafka's tools ignore settings they do not use.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::security::pem::{certs_of, key_of, pem_blocks};
use crate::security::plain::parse_single_jaas_entry;
use crate::security::SecurityProtocol;

/// How the CLI connects.
#[derive(Clone)]
pub struct ClientSecurity {
    pub protocol: SecurityProtocol,
    pub tls: Option<Arc<ClientConfig>>,
    /// (mechanism, username, password).
    pub sasl: Option<(String, String, String)>,
}

impl std::fmt::Debug for ClientSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecurity")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|s| (&s.0, &s.1)))
            .finish()
    }
}

impl Default for ClientSecurity {
    fn default() -> ClientSecurity {
        ClientSecurity {
            protocol: SecurityProtocol::Plaintext,
            tls: None,
            sasl: None,
        }
    }
}

impl ClientSecurity {
    /// From `--command-config`, or plaintext without one.
    pub fn load(path: Option<&Path>) -> Result<ClientSecurity> {
        let Some(path) = path else {
            return Ok(ClientSecurity::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --command-config {}", path.display()))?;
        let props: std::collections::BTreeMap<String, String> =
            crate::config::parse_properties(&text).into_iter().collect();
        ClientSecurity::from_props(&props)
            .with_context(|| format!("--command-config {}", path.display()))
    }

    pub fn from_props(
        props: &std::collections::BTreeMap<String, String>,
    ) -> Result<ClientSecurity> {
        let get = |k: &str| props.get(k).map(String::as_str);
        let protocol = match get("security.protocol") {
            None => SecurityProtocol::Plaintext,
            Some(p) => SecurityProtocol::parse(p)
                .ok_or_else(|| anyhow!("security.protocol: unknown protocol {p}"))?,
        };
        let tls = if protocol.uses_tls() {
            Some(Arc::new(tls_config(props)?))
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            let mechanism = get("sasl.mechanism")
                .unwrap_or("GSSAPI")
                .to_ascii_uppercase();
            if !crate::security::sasl::SUPPORTED_MECHANISMS.contains(&mechanism.as_str()) {
                bail!("sasl.mechanism: {mechanism} is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)");
            }
            let jaas = get("sasl.jaas.config").ok_or_else(|| {
                anyhow!("sasl.jaas.config is needed for SASL (username and password)")
            })?;
            let entry =
                parse_single_jaas_entry(jaas).map_err(|e| anyhow!("sasl.jaas.config: {e}"))?;
            let user = entry
                .option("username")
                .ok_or_else(|| anyhow!("sasl.jaas.config has no username"))?;
            let password = entry
                .option("password")
                .ok_or_else(|| anyhow!("sasl.jaas.config has no password"))?;
            Some((mechanism, user.to_string(), password.to_string()))
        } else {
            None
        };
        Ok(ClientSecurity {
            protocol,
            tls,
            sasl,
        })
    }
}

fn tls_config(props: &std::collections::BTreeMap<String, String>) -> Result<ClientConfig> {
    let get = |k: &str| props.get(k).map(String::as_str);
    for key in ["ssl.keystore.type", "ssl.truststore.type"] {
        if let Some(t) = get(key).filter(|t| !t.eq_ignore_ascii_case("PEM")) {
            bail!("{key}: {t} is not supported: use PEM");
        }
    }
    let trust = match (
        get("ssl.truststore.location"),
        get("ssl.truststore.certificates"),
    ) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("ssl.truststore.location {path}"))?,
        (None, Some(text)) => text.to_string(),
        (None, None) => {
            bail!("ssl.truststore.location (a PEM file of the CA certificates) is needed for TLS")
        }
    };
    let mut roots = RootCertStore::empty();
    for c in certs_of(&pem_blocks(&trust).map_err(|e| anyhow!("trust store: {e}"))?) {
        roots
            .add(c)
            .map_err(|e| anyhow!("trust store certificate: {e}"))?;
    }
    if roots.is_empty() {
        bail!("the trust store holds no certificate");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("TLS: {e}"))?;
    let verify_names = get("ssl.endpoint.identification.algorithm")
        .map(|a| !a.trim().is_empty())
        .unwrap_or(true);
    let roots = Arc::new(roots);
    let builder = if verify_names {
        builder.with_root_certificates(Arc::clone(&roots))
    } else {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::clone(&roots),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| anyhow!("TLS: {e}"))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
    };
    let keystore = match (
        get("ssl.keystore.location"),
        get("ssl.keystore.certificate.chain"),
        get("ssl.keystore.key"),
    ) {
        (Some(path), _, _) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("ssl.keystore.location {path}"))?,
        ),
        (None, Some(chain), Some(key)) => Some(format!("{chain}\n{key}")),
        _ => None,
    };
    let config = match keystore {
        None => builder.with_no_client_auth(),
        Some(text) => {
            let blocks = pem_blocks(&text).map_err(|e| anyhow!("key store: {e}"))?;
            let key = key_of(&blocks)
                .map_err(|e| anyhow!("key store: {e}"))?
                .ok_or_else(|| anyhow!("key store: no private key"))?;
            builder
                .with_client_auth_cert(certs_of(&blocks), key)
                .map_err(|e| anyhow!("key store: {e}"))?
        }
    };
    Ok(config)
}

/// `ssl.endpoint.identification.algorithm=` (empty): the broker's chain is verified against
/// the trust store, its name is not (Kafka's clients allow the same).
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plaintext_by_default_and_sasl_from_jaas() {
        let s = ClientSecurity::from_props(&props(&[])).unwrap();
        assert_eq!(s.protocol, SecurityProtocol::Plaintext);
        let s = ClientSecurity::from_props(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="a-secret";"#,
            ),
        ]))
        .unwrap();
        assert_eq!(
            s.sasl,
            Some(("SCRAM-SHA-512".into(), "alice".into(), "a-secret".into()))
        );
    }

    #[test]
    fn mistakes_are_named() {
        let err = |kv: &[(&str, &str)]| {
            ClientSecurity::from_props(&props(kv))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[("security.protocol", "TLS")]).contains("security.protocol"));
        assert!(err(&[("security.protocol", "SSL")]).contains("ssl.truststore.location"));
        assert!(err(&[("security.protocol", "SASL_PLAINTEXT")]).contains("GSSAPI"));
        assert!(err(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN")
        ])
        .contains("sasl.jaas.config"));
    }
}
