//! The client side of SASL for the CLI's own connections (`--command-config` with
//! `sasl.mechanism`, `sasl.jaas.config` / username and password): PLAIN (RFC 4616) and
//! SCRAM-SHA-256/512 (RFC 5802/7677), as Kafka's `PlainSaslClient` / `ScramSaslClient` run
//! them. Pure: the connection sends [`SaslClient::initial`] in the first SaslAuthenticate,
//! then feeds each server token to [`SaslClient::step`] until it says complete.
//!
//! The client checks what the server sends: the server nonce must extend ours, iterations
//! must be at least 4096 (Kafka's client minimum) and at most [`MAX_CLIENT_ITERATIONS`] (so a
//! hostile server cannot make the CLI spin), and the server's final signature must prove it
//! knows the credential.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::security::scram::{encode_saslname, random_nonce, ScramMechanism, MIN_ITERATIONS};

/// The most iterations the CLI computes for a server (Kafka stores at most 16384).
pub const MAX_CLIENT_ITERATIONS: i32 = 1_000_000;

/// A PLAIN token: `NUL user NUL password` (no authzid, as Kafka's client sends it).
pub fn plain_token(user: &str, password: &str) -> Vec<u8> {
    let mut t = Vec::with_capacity(user.len() + password.len() + 2);
    t.push(0);
    t.extend_from_slice(user.as_bytes());
    t.push(0);
    t.extend_from_slice(password.as_bytes());
    t
}

/// The client side of one SCRAM exchange.
pub struct ScramClient {
    mechanism: ScramMechanism,
    user: String,
    password: String,
    nonce: String,
    first_bare: String,
    server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    pub fn new(mechanism: ScramMechanism, user: &str, password: &str) -> ScramClient {
        ScramClient::with_nonce(mechanism, user, password, random_nonce())
    }

    /// With a given client nonce (tests).
    pub fn with_nonce(
        mechanism: ScramMechanism,
        user: &str,
        password: &str,
        nonce: String,
    ) -> ScramClient {
        ScramClient {
            mechanism,
            user: user.to_string(),
            password: password.to_string(),
            nonce,
            first_bare: String::new(),
            server_signature: None,
        }
    }

    /// `n,,n=<user>,r=<nonce>`.
    pub fn first_message(&mut self) -> Vec<u8> {
        self.first_bare = format!("n={},r={}", encode_saslname(&self.user), self.nonce);
        format!("n,,{}", self.first_bare).into_bytes()
    }

    /// The client-final message answering the server-first message.
    pub fn final_message(&mut self, server_first: &[u8]) -> Result<Vec<u8>, String> {
        let sf = std::str::from_utf8(server_first)
            .map_err(|_| "invalid SCRAM server first message: not UTF-8".to_string())?;
        let mut fields = sf.split(',');
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or("invalid SCRAM server first message: no nonce")?;
        let salt = fields
            .next()
            .and_then(|f| f.strip_prefix("s="))
            .and_then(|s| B64.decode(s).ok())
            .ok_or("invalid SCRAM server first message: no salt")?;
        let iterations: i32 = fields
            .next()
            .and_then(|f| f.strip_prefix("i="))
            .and_then(|i| i.parse().ok())
            .ok_or("invalid SCRAM server first message: no iterations")?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(
                "invalid SCRAM server first message: the server nonce does not extend ours".into(),
            );
        }
        if iterations < MIN_ITERATIONS {
            return Err(format!(
                "Requested iterations {iterations} is less than the minimum {MIN_ITERATIONS} for {}",
                self.mechanism.name()
            ));
        }
        if iterations > MAX_CLIENT_ITERATIONS {
            return Err(format!(
                "the server asked for {iterations} iterations, more than {MAX_CLIENT_ITERATIONS}"
            ));
        }
        let m = self.mechanism;
        let salted = m.salted_password(self.password.as_bytes(), &salt, iterations as u32);
        let client_key = m.client_key(&salted);
        let stored_key = m.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{},{sf},{without_proof}", self.first_bare);
        let signature = m.hmac(&stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        self.server_signature = Some(m.hmac(&m.server_key(&salted), auth.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Check the server-final message (`v=<signature>`; `e=<error>` is the server's refusal).
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), String> {
        let sf = std::str::from_utf8(server_final)
            .map_err(|_| "invalid SCRAM server final message".to_string())?;
        if let Some(e) = sf.strip_prefix("e=") {
            return Err(format!("SCRAM authentication failed: {e}"));
        }
        let sig = sf
            .split(',')
            .next()
            .and_then(|f| f.strip_prefix("v="))
            .and_then(|v| B64.decode(v).ok())
            .ok_or("invalid SCRAM server final message")?;
        match &self.server_signature {
            Some(expected) if crate::security::sasl::constant_time_eq(expected, &sig) => Ok(()),
            _ => Err("Invalid server signature in server final message".into()),
        }
    }
}

enum State {
    Plain {
        token: Vec<u8>,
    },
    ScramFirst(Box<ScramClient>),
    ScramFinal(Box<ScramClient>),
    /// The client-final message is sent; the server-final message is next.
    ScramVerify(Box<ScramClient>),
    Complete,
}

/// A client exchange for one mechanism.
pub struct SaslClient {
    mechanism: &'static str,
    state: State,
}

impl SaslClient {
    /// For `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`; Err for any other mechanism.
    pub fn new(mechanism: &str, user: &str, password: &str) -> Result<SaslClient, String> {
        if mechanism == "PLAIN" {
            return Ok(SaslClient {
                mechanism: "PLAIN",
                state: State::Plain {
                    token: plain_token(user, password),
                },
            });
        }
        let m = ScramMechanism::from_name(mechanism)
            .ok_or_else(|| format!("unsupported SASL mechanism {mechanism}"))?;
        Ok(SaslClient {
            mechanism: m.name(),
            state: State::ScramFirst(Box::new(ScramClient::new(m, user, password))),
        })
    }

    pub fn mechanism(&self) -> &'static str {
        self.mechanism
    }

    /// The first token to send.
    pub fn initial(&mut self) -> Result<Vec<u8>, String> {
        match std::mem::replace(&mut self.state, State::Complete) {
            State::Plain { token } => Ok(token),
            State::ScramFirst(mut c) => {
                let first = c.first_message();
                self.state = State::ScramFinal(c);
                Ok(first)
            }
            _ => Err("the SASL exchange already started".into()),
        }
    }

    /// The server's token after the last one sent: Some(next token to send), or None when the
    /// exchange is complete (the server is authenticated too, for SCRAM).
    pub fn step(&mut self, server_token: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match std::mem::replace(&mut self.state, State::Complete) {
            State::ScramFinal(mut c) => {
                let fin = c.final_message(server_token)?;
                self.state = State::ScramVerify(c);
                Ok(Some(fin))
            }
            State::ScramVerify(c) => {
                c.verify_server_final(server_token)?;
                Ok(None)
            }
            // PLAIN: the server's (empty) answer ends it.
            State::Complete if self.mechanism == "PLAIN" => Ok(None),
            _ => Err("unexpected SASL token from the server".into()),
        }
    }

    /// Whether the exchange has finished.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::plain::PlainUsers;
    use crate::security::sasl::{new_server, CredentialStore, SaslStep};
    use crate::security::scram::ScramCredential;
    use std::sync::Arc;

    struct Store;
    impl CredentialStore for Store {
        fn plain_password_ok(&self, u: &str, p: &str) -> bool {
            u == "alice" && p == "pw"
        }
        fn scram_credential(&self, u: &str, m: ScramMechanism) -> Option<ScramCredential> {
            (u == "al,ice").then(|| ScramCredential::from_password(m, "pw", b"salty", 4096))
        }
    }

    fn run(mech: &str, user: &str, password: &str) -> Result<String, String> {
        let mut server = new_server(mech, Arc::new(Store)).unwrap();
        let mut client = SaslClient::new(mech, user, password)?;
        let mut token = client.initial()?;
        loop {
            match server.step(&token) {
                Ok(SaslStep::Continue(ch)) => match client.step(&ch)? {
                    Some(t) => token = t,
                    None => return Err("client done before the server".into()),
                },
                Ok(SaslStep::Done {
                    response,
                    principal,
                }) => {
                    assert_eq!(client.step(&response)?, None);
                    assert!(client.is_complete());
                    return Ok(principal.to_string());
                }
                Err(e) => return Err(e.client_message(mech)),
            }
        }
    }

    #[test]
    fn client_and_server_agree() {
        assert_eq!(run("PLAIN", "alice", "pw"), Ok("User:alice".into()));
        assert_eq!(
            run("PLAIN", "alice", "no"),
            Err("Authentication failed: Invalid username or password".into())
        );
        for m in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
            assert_eq!(run(m, "al,ice", "pw"), Ok("User:al,ice".into()));
            assert_eq!(
                run(m, "al,ice", "no"),
                Err(format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {m}"))
            );
        }
        assert!(SaslClient::new("GSSAPI", "a", "b").is_err());
        let _ = PlainUsers::default();
    }

    #[test]
    fn client_checks_the_server() {
        let mut c = ScramClient::with_nonce(ScramMechanism::Sha256, "u", "pw", "abc".into());
        c.first_message();
        assert!(c.final_message(b"r=xyz123,s=c2FsdA==,i=4096").is_err()); // nonce not ours
        assert!(c.final_message(b"r=abc,s=c2FsdA==,i=4096").is_err()); // nothing added
        assert!(c.final_message(b"r=abcd,s=c2FsdA==,i=4095").is_err());
        assert!(c.final_message(b"r=abcd,s=c2FsdA==,i=99999999").is_err());
        assert!(c.final_message(b"r=abcd,s=***,i=4096").is_err());
        assert!(c.final_message(b"\xff").is_err());
        assert!(c.final_message(b"r=abcd,s=c2FsdA==,i=4096").is_ok());
        assert!(c.verify_server_final(b"v=AAAA").is_err());
        assert!(c.verify_server_final(b"e=invalid-proof").is_err());
        assert!(c.verify_server_final(b"garbage").is_err());
    }
}
