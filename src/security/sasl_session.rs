//! The SASL state of one connection on a SASL_PLAINTEXT or SASL_SSL listener, as Kafka's
//! `SaslServerAuthenticator` keeps it:
//!
//! ```text
//! Handshake ──SaslHandshake(mechanism)──▶ Authenticating ──SaslAuthenticate…──▶ Authenticated
//!     ▲ ApiVersions allowed                    │ failure: error, then close           │
//!     └────────────────────────────────────────┘                                      │
//!            Authenticated ──SaslHandshake (KIP-368 re-authentication)──▶ Reauthenticating
//! ```
//!
//! - Before authentication only ApiVersions, SaslHandshake and (once a mechanism is chosen)
//!   SaslAuthenticate are served; anything else closes the connection, as Kafka does.
//! - SaslHandshake v0 means the tokens that follow are raw (size-prefixed, no Kafka header):
//!   [`SaslSession::raw_tokens`].
//! - `connections.max.reauth.ms` > 0 gives the session a lifetime (returned in
//!   SaslAuthenticate v1+); a request other than SaslHandshake after it expired closes the
//!   connection (KIP-368). Re-authentication must keep the mechanism and the principal.
//!
//! Pure: time comes in as `now_ms`.

use std::sync::Arc;

use super::sasl::{new_server, CredentialStore, SaslError, SaslServer, SaslStep};
use super::KafkaPrincipal;

/// Kafka's API keys the session cares about.
pub const API_VERSIONS: i16 = 18;
pub const SASL_HANDSHAKE: i16 = 17;
pub const SASL_AUTHENTICATE: i16 = 36;

/// Kafka's `sasl.server.max.receive.size` default: the largest frame read before a client
/// has authenticated.
pub const MAX_UNAUTHENTICATED_FRAME: usize = 524_288;

enum State {
    Handshake,
    Authenticating {
        server: Box<dyn SaslServer>,
        raw: bool,
    },
    Authenticated {
        mechanism: &'static str,
        principal: KafkaPrincipal,
        expires_at_ms: Option<i64>,
    },
    Reauthenticating {
        server: Box<dyn SaslServer>,
        previous: KafkaPrincipal,
    },
    /// An exchange failed: nothing more is served.
    Failed,
}

/// A listener's SASL settings, shared by its connections.
pub struct SaslSettings {
    /// `sasl.enabled.mechanisms` that skua implements, in the configured order.
    pub mechanisms: Vec<String>,
    pub store: Arc<dyn CredentialStore>,
    /// `connections.max.reauth.ms`; 0 = sessions do not expire.
    pub reauth_ms: i64,
}

/// Why SaslHandshake is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// UNSUPPORTED_SASL_MECHANISM (33), then close.
    Unsupported,
    /// ILLEGAL_SASL_STATE (34), then close.
    IllegalState(String),
}

/// What one SaslAuthenticate (or raw token) produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Send this challenge; more tokens follow.
    Continue(Vec<u8>),
    /// Authenticated: send the final response; the connection is `principal` for
    /// `session_lifetime_ms` (0 = no limit).
    Done {
        response: Vec<u8>,
        principal: KafkaPrincipal,
        session_lifetime_ms: i64,
    },
}

/// Why SaslAuthenticate failed: SASL_AUTHENTICATION_FAILED (58) with `message` (or
/// ILLEGAL_SASL_STATE (34) when `illegal_state`), then close. `detail` is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    pub illegal_state: bool,
    pub message: String,
    pub detail: String,
}

pub struct SaslSession {
    settings: Arc<SaslSettings>,
    state: State,
}

impl SaslSession {
    pub fn new(settings: Arc<SaslSettings>) -> SaslSession {
        SaslSession {
            settings,
            state: State::Handshake,
        }
    }

    /// The mechanisms to list in a SaslHandshake response.
    pub fn enabled_mechanisms(&self) -> &[String] {
        &self.settings.mechanisms
    }

    /// Whether the next frame is a raw token (after a v0 SaslHandshake).
    pub fn raw_tokens(&self) -> bool {
        matches!(self.state, State::Authenticating { raw: true, .. })
    }

    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated { .. })
    }

    /// The largest request frame to read now.
    pub fn max_frame(&self, configured: usize) -> usize {
        match self.state {
            State::Authenticated { .. } => configured,
            _ => configured.min(MAX_UNAUTHENTICATED_FRAME),
        }
    }

    /// Whether a request of `api_key` may be served now; Err(reason) closes the connection.
    pub fn admits(&self, api_key: i16, now_ms: i64) -> Result<(), String> {
        match &self.state {
            State::Authenticated { expires_at_ms, .. } => match expires_at_ms {
                Some(t) if now_ms >= *t && api_key != SASL_HANDSHAKE => Err(
                    "the SASL session expired (connections.max.reauth.ms) and the client did not re-authenticate"
                        .into(),
                ),
                _ => Ok(()),
            },
            State::Handshake if api_key == API_VERSIONS || api_key == SASL_HANDSHAKE => Ok(()),
            State::Authenticating { .. } | State::Reauthenticating { .. }
                if api_key == SASL_AUTHENTICATE || api_key == API_VERSIONS =>
            {
                Ok(())
            }
            State::Failed => Err("authentication failed".into()),
            _ => Err(format!(
                "unexpected request (API key {api_key}) before SASL authentication completed"
            )),
        }
    }

    /// A SaslHandshake for `mechanism` at `version`.
    pub fn handshake(&mut self, mechanism: &str, version: i16) -> Result<(), HandshakeError> {
        let enabled = self.settings.mechanisms.iter().any(|m| m == mechanism);
        let server = enabled
            .then(|| new_server(mechanism, Arc::clone(&self.settings.store)))
            .flatten();
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Handshake => {
                let Some(server) = server else {
                    return Err(HandshakeError::Unsupported);
                };
                self.state = State::Authenticating {
                    server,
                    raw: version == 0,
                };
                Ok(())
            }
            State::Authenticated {
                mechanism: previous_mechanism,
                principal,
                ..
            } => {
                // KIP-368: only a v1+ client re-authenticates, with the same mechanism.
                if version == 0 {
                    return Err(HandshakeError::IllegalState(
                        "re-authentication needs SaslHandshake v1 or later".into(),
                    ));
                }
                if previous_mechanism != mechanism {
                    return Err(HandshakeError::IllegalState(format!(
                        "re-authentication must keep the SASL mechanism ({previous_mechanism})"
                    )));
                }
                let Some(server) = server else {
                    return Err(HandshakeError::Unsupported);
                };
                self.state = State::Reauthenticating {
                    server,
                    previous: principal,
                };
                Ok(())
            }
            _ => Err(HandshakeError::IllegalState(
                "unexpected SaslHandshake during authentication".into(),
            )),
        }
    }

    /// The client's next token (from SaslAuthenticate, or raw after a v0 handshake).
    pub fn authenticate(&mut self, token: &[u8], now_ms: i64) -> Result<AuthOutcome, AuthFailure> {
        let (mut server, raw, previous) = match std::mem::replace(&mut self.state, State::Failed) {
            State::Authenticating { server, raw } => (server, raw, None),
            State::Reauthenticating { server, previous } => (server, false, Some(previous)),
            _ => {
                return Err(AuthFailure {
                    illegal_state: true,
                    message: "Unexpected SaslAuthenticate request: no SASL handshake in progress"
                        .into(),
                    detail: "SaslAuthenticate out of turn".into(),
                })
            }
        };
        let step = server.step(token);
        self.finish(server, raw, previous, step, now_ms)
    }

    fn finish(
        &mut self,
        server: Box<dyn SaslServer>,
        raw: bool,
        previous: Option<KafkaPrincipal>,
        step: Result<SaslStep, SaslError>,
        now_ms: i64,
    ) -> Result<AuthOutcome, AuthFailure> {
        let mechanism = server.mechanism();
        match step {
            Ok(SaslStep::Continue(challenge)) => {
                self.state = match previous {
                    None => State::Authenticating { server, raw },
                    Some(previous) => State::Reauthenticating { server, previous },
                };
                Ok(AuthOutcome::Continue(challenge))
            }
            Ok(SaslStep::Done {
                response,
                principal,
            }) => {
                if let Some(prev) = previous {
                    if prev != principal {
                        self.state = State::Failed;
                        return Err(AuthFailure {
                            illegal_state: false,
                            message: format!(
                                "Cannot change principals during re-authentication from {prev}: {principal}"
                            ),
                            detail: "re-authentication as another principal".into(),
                        });
                    }
                }
                let lifetime = self.settings.reauth_ms.max(0);
                self.state = State::Authenticated {
                    mechanism,
                    principal: principal.clone(),
                    expires_at_ms: (lifetime > 0).then(|| now_ms.saturating_add(lifetime)),
                };
                Ok(AuthOutcome::Done {
                    response,
                    principal,
                    session_lifetime_ms: lifetime,
                })
            }
            Err(e) => {
                self.state = State::Failed;
                let detail = match &e {
                    SaslError::Failed(m) | SaslError::Malformed(m) => m.clone(),
                };
                Err(AuthFailure {
                    illegal_state: false,
                    message: e.client_message(mechanism),
                    detail,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::plain::PlainUsers;
    use crate::security::sasl::CompositeStore;

    fn session(reauth_ms: i64) -> SaslSession {
        let users = PlainUsers::new(
            [("alice".to_string(), "alice-secret".to_string())]
                .into_iter()
                .collect(),
        );
        SaslSession::new(Arc::new(SaslSettings {
            mechanisms: vec!["PLAIN".into()],
            store: Arc::new(CompositeStore {
                plain: users,
                scram: None,
            }),
            reauth_ms,
        }))
    }

    #[test]
    fn only_the_handshake_apis_before_authentication() {
        let s = session(0);
        assert!(s.admits(API_VERSIONS, 0).is_ok());
        assert!(s.admits(SASL_HANDSHAKE, 0).is_ok());
        assert!(s.admits(3, 0).is_err());
        assert!(s.admits(SASL_AUTHENTICATE, 0).is_err());
        assert_eq!(s.max_frame(100 << 20), MAX_UNAUTHENTICATED_FRAME);
    }

    #[test]
    fn plain_authentication_then_everything() {
        let mut s = session(0);
        assert_eq!(
            s.handshake("SCRAM-SHA-256", 1),
            Err(HandshakeError::Unsupported)
        );
        let mut s2 = session(0);
        s2.handshake("PLAIN", 1).unwrap();
        assert!(!s2.raw_tokens());
        assert!(s2.admits(3, 0).is_err());
        let out = s2.authenticate(b"\0alice\0alice-secret", 0).unwrap();
        assert_eq!(
            out,
            AuthOutcome::Done {
                response: vec![],
                principal: KafkaPrincipal::user("alice"),
                session_lifetime_ms: 0
            }
        );
        assert!(s2.admits(3, i64::MAX).is_ok());
        assert_eq!(s2.max_frame(100 << 20), 100 << 20);
        // The first session refused the mechanism: it is over.
        assert!(s.admits(API_VERSIONS, 0).is_err());
    }

    #[test]
    fn a_wrong_password_fails_without_saying_why_and_ends_the_session() {
        let mut s = session(0);
        s.handshake("PLAIN", 1).unwrap();
        let e = s.authenticate(b"\0alice\0nope", 0).unwrap_err();
        assert!(!e.illegal_state);
        assert_eq!(
            e.message,
            "Authentication failed: Invalid username or password"
        );
        let e2 = session_with_unknown_user();
        assert_eq!(e.message, e2.message);
        assert!(s.admits(API_VERSIONS, 0).is_err());
    }

    fn session_with_unknown_user() -> AuthFailure {
        let mut s = session(0);
        s.handshake("PLAIN", 1).unwrap();
        s.authenticate(b"\0mallory\0alice-secret", 0).unwrap_err()
    }

    #[test]
    fn v0_handshake_means_raw_tokens() {
        let mut s = session(0);
        s.handshake("PLAIN", 0).unwrap();
        assert!(s.raw_tokens());
        s.authenticate(b"\0alice\0alice-secret", 0).unwrap();
        assert!(!s.raw_tokens());
        assert!(s.is_authenticated());
    }

    #[test]
    fn sessions_expire_and_reauthenticate_as_the_same_principal() {
        let mut s = session(1_000);
        s.handshake("PLAIN", 1).unwrap();
        match s.authenticate(b"\0alice\0alice-secret", 5_000).unwrap() {
            AuthOutcome::Done {
                session_lifetime_ms,
                ..
            } => assert_eq!(session_lifetime_ms, 1_000),
            other => panic!("{other:?}"),
        }
        assert!(s.admits(0, 5_999).is_ok());
        assert!(s.admits(0, 6_000).is_err());
        assert!(s.admits(SASL_HANDSHAKE, 6_000).is_ok());
        assert!(matches!(
            s.handshake("PLAIN", 0),
            Err(HandshakeError::IllegalState(_))
        ));
        let mut s = session(1_000);
        s.handshake("PLAIN", 1).unwrap();
        s.authenticate(b"\0alice\0alice-secret", 0).unwrap();
        s.handshake("PLAIN", 1).unwrap();
        s.authenticate(b"\0alice\0alice-secret", 2_000).unwrap();
        assert!(s.admits(0, 2_999).is_ok());
        // Another principal on re-authentication is refused.
        let users = PlainUsers::new(
            [
                ("alice".to_string(), "a".to_string()),
                ("bob".to_string(), "b".to_string()),
            ]
            .into_iter()
            .collect(),
        );
        let mut s = SaslSession::new(Arc::new(SaslSettings {
            mechanisms: vec!["PLAIN".into()],
            store: Arc::new(CompositeStore {
                plain: users,
                scram: None,
            }),
            reauth_ms: 1_000,
        }));
        s.handshake("PLAIN", 1).unwrap();
        s.authenticate(b"\0alice\0a", 0).unwrap();
        s.handshake("PLAIN", 1).unwrap();
        let e = s.authenticate(b"\0bob\0b", 10).unwrap_err();
        assert!(e.message.contains("Cannot change principals"));
    }

    #[test]
    fn authenticate_out_of_turn_is_an_illegal_state() {
        let mut s = session(0);
        let e = s.authenticate(b"x", 0).unwrap_err();
        assert!(e.illegal_state);
    }
}
