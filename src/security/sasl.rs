//! The server side of a SASL exchange, mechanism by mechanism, as pure code.
//!
//! The connection (in `server/`) owns a [`SaslServer`] made by [`new_server`] once the client's
//! SaslHandshake picked a mechanism, feeds it each SaslAuthenticate token and sends back what
//! [`SaslServer::step`] answers: a challenge to continue with, or the final response and the
//! principal the connection now is. A [`SaslError`] ends the exchange: the connection answers
//! SASL_AUTHENTICATION_FAILED with [`SaslError::client_message`] and closes.
//!
//! Mechanisms look users up in a [`CredentialStore`]: PLAIN asks whether a password is right
//! (the JAAS `user_<name>` passwords, see `plain.rs`), SCRAM asks for a user's salted credential
//! (the metadata image, see `scram.rs`). [`CompositeStore`] joins the two.

use std::sync::Arc;

use super::plain::{PlainServer, PlainUsers};
use super::scram::{ScramCredential, ScramMechanism, ScramServer};
use super::KafkaPrincipal;

/// What one step of an exchange produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this challenge and wait for the client's next token.
    Continue(Vec<u8>),
    /// Authenticated: send `response` (may be empty) and the connection is `principal`.
    Done {
        response: Vec<u8>,
        principal: KafkaPrincipal,
    },
}

/// Why an exchange failed. Either way the exchange is over (the mechanism refuses further steps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// Authentication failed; the message is safe to send to the client (it tells nothing about
    /// which users exist) and is Kafka's own.
    Failed(String),
    /// The client's token could not be parsed or came out of turn. The detail is for the broker's
    /// log only (it may echo what the client sent); the client gets [`SaslError::client_message`].
    Malformed(String),
}

impl SaslError {
    /// The message to put in SaslAuthenticate's `error_message`: a `Failed` message as it is, and
    /// for `Malformed` the generic message Kafka's `SaslServerAuthenticator` sends for any
    /// `SaslException`: "Authentication failed during authentication due to invalid credentials
    /// with SASL mechanism <M>".
    pub fn client_message(&self, mechanism: &str) -> String {
        match self {
            SaslError::Failed(m) => m.clone(),
            SaslError::Malformed(_) => invalid_credentials_message(mechanism),
        }
    }
}

/// Kafka's generic SASL failure message (SaslServerAuthenticator, for a `SaslException`).
pub fn invalid_credentials_message(mechanism: &str) -> String {
    format!(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
    )
}

/// One server-side exchange of one mechanism.
pub trait SaslServer: Send {
    /// Feed the client's next token.
    fn step(&mut self, token: &[u8]) -> Result<SaslStep, SaslError>;
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    fn mechanism(&self) -> &'static str;
}

/// Where mechanisms look users up.
pub trait CredentialStore: Send + Sync {
    /// PLAIN: whether `password` is `user`'s password (compared in constant time).
    fn plain_password_ok(&self, user: &str, password: &str) -> bool;
    /// SCRAM: the user's salted credential for the mechanism, if any.
    fn scram_credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential>;
}

/// The mechanisms skua implements, Kafka's names.
pub const SUPPORTED_MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// A server for `mechanism` (Kafka's name, exact case as Kafka compares it), None for one skua
/// does not implement.
pub fn new_server(mechanism: &str, store: Arc<dyn CredentialStore>) -> Option<Box<dyn SaslServer>> {
    if mechanism == "PLAIN" {
        return Some(Box::new(PlainServer::new(store)));
    }
    let m = ScramMechanism::from_name(mechanism)?;
    Some(Box::new(ScramServer::new(m, store)))
}

/// Bytes equal, in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

/// PLAIN users from JAAS and SCRAM credentials from elsewhere (the metadata image), as one store.
pub struct CompositeStore {
    pub plain: PlainUsers,
    pub scram: Option<Arc<dyn CredentialStore>>,
}

impl CredentialStore for CompositeStore {
    fn plain_password_ok(&self, user: &str, password: &str) -> bool {
        self.plain.plain_password_ok(user, password)
    }

    fn scram_credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.scram
            .as_ref()
            .and_then(|s| s.scram_credential(user, mechanism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nobody;
    impl CredentialStore for Nobody {
        fn plain_password_ok(&self, _: &str, _: &str) -> bool {
            false
        }
        fn scram_credential(&self, _: &str, _: ScramMechanism) -> Option<ScramCredential> {
            None
        }
    }

    #[test]
    fn servers_by_kafka_mechanism_name() {
        let store: Arc<dyn CredentialStore> = Arc::new(Nobody);
        for m in SUPPORTED_MECHANISMS {
            let s = new_server(m, store.clone()).unwrap();
            assert_eq!(s.mechanism(), m);
        }
        assert!(new_server("GSSAPI", store.clone()).is_none());
        assert!(new_server("OAUTHBEARER", store.clone()).is_none());
        assert!(new_server("plain", store.clone()).is_none());
        assert!(new_server("SCRAM-SHA-1", store).is_none());
    }

    #[test]
    fn malformed_tokens_get_kafkas_generic_message() {
        let e = SaslError::Malformed("Invalid SCRAM client first message format: x".into());
        assert_eq!(
            e.client_message("SCRAM-SHA-512"),
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
        );
        let f = SaslError::Failed("Authentication failed: Invalid username or password".into());
        assert_eq!(
            f.client_message("PLAIN"),
            "Authentication failed: Invalid username or password"
        );
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
