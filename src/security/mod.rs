//! Security (issue 11): who a connection is and what it may do.
//!
//! - [`KafkaPrincipal`]: the authenticated identity of a connection, `User:alice`, as Kafka's
//!   `KafkaPrincipal` prints it. A connection starts as `User:ANONYMOUS` (PLAINTEXT, SSL without
//!   a client certificate) and becomes the SASL user or the certificate's mapped name once
//!   authenticated.
//! - [`SecurityProtocol`]: the four protocols a listener speaks, Kafka's names.
//!
//! Pure data here; TLS and the SASL exchange on the wire live in `server/`, the mechanisms,
//! the authorizer and the quotas in the submodules. No tokio, no I/O.

pub mod acl;
pub mod authorizer;
pub mod connection_quota;
pub mod pem;
pub mod plain;
pub mod quota;
pub mod sasl;
pub mod sasl_session;
pub mod scram;
pub mod ssl_principal;

use std::fmt;

/// A principal, as Kafka's `KafkaPrincipal`: a type (always `User` for what authentication
/// produces) and a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaPrincipal {
    pub principal_type: String,
    pub name: String,
}

/// Kafka's `KafkaPrincipal.USER_TYPE`.
pub const USER_TYPE: &str = "User";

impl KafkaPrincipal {
    /// `User:<name>`.
    pub fn user(name: impl Into<String>) -> KafkaPrincipal {
        KafkaPrincipal {
            principal_type: USER_TYPE.to_string(),
            name: name.into(),
        }
    }

    /// `User:ANONYMOUS`: an unauthenticated connection (Kafka's `KafkaPrincipal.ANONYMOUS`).
    pub fn anonymous() -> KafkaPrincipal {
        KafkaPrincipal::user("ANONYMOUS")
    }

    /// Parse `Type:name` (the name may contain ':'); None without a ':' or with an empty type.
    pub fn parse(s: &str) -> Option<KafkaPrincipal> {
        let (t, n) = s.split_once(':')?;
        if t.is_empty() {
            return None;
        }
        Some(KafkaPrincipal {
            principal_type: t.to_string(),
            name: n.to_string(),
        })
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

/// A listener's security protocol (Kafka's `SecurityProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` (case-insensitive).
    pub fn parse(s: &str) -> Option<SecurityProtocol> {
        match s.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the listener wraps connections in TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether clients must authenticate with SASL before anything but the handshake APIs.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_print_and_parse_as_kafka_does() {
        assert_eq!(KafkaPrincipal::anonymous().to_string(), "User:ANONYMOUS");
        let p = KafkaPrincipal::parse("User:CN=a:b").unwrap();
        assert_eq!(p, KafkaPrincipal::user("CN=a:b"));
        assert_eq!(KafkaPrincipal::parse("alice"), None);
        assert_eq!(KafkaPrincipal::parse(":alice"), None);
    }

    #[test]
    fn security_protocols_by_name() {
        for p in [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ] {
            assert_eq!(SecurityProtocol::parse(p.name()), Some(p));
        }
        assert_eq!(
            SecurityProtocol::parse("sasl_ssl"),
            Some(SecurityProtocol::SaslSsl)
        );
        assert_eq!(SecurityProtocol::parse("TLS"), None);
        assert!(SecurityProtocol::SaslSsl.uses_tls() && SecurityProtocol::SaslSsl.uses_sasl());
        assert!(!SecurityProtocol::Ssl.uses_sasl());
    }
}
