//! HTTP Basic authentication for the console, the Schema Registry and the HTTP proxy
//! (`http.authentication.method=BASIC`; `NONE`, the default, serves everyone as
//! `User:ANONYMOUS`). The user name and password are checked against the cluster's SCRAM
//! credentials (the users AlterUserScramCredentials / `skua user create` made; either
//! mechanism): the password is salted with the stored salt and iterations and its stored key
//! compared in constant time, as a SCRAM exchange would prove it. A user who passes is
//! `User:<name>` for the Kafka calls the console and the proxy make, so ACLs apply to them as
//! to any Kafka client of that user.
//!
//! Salting costs thousands of HMACs, so a success is remembered for [`CACHE_TTL`] (by user and
//! a hash of the password, and only while the stored credential is unchanged); at most
//! [`CACHE_MAX`] entries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::security::sasl::{constant_time_eq, CredentialStore};
use crate::security::scram::{ScramCredential, ScramMechanism};

/// How long a verified user and password pair is taken without salting again.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// The most remembered pairs.
pub const CACHE_MAX: usize = 1024;
/// The challenge of a 401.
pub const CHALLENGE: &str = "Basic realm=\"skua\", charset=\"UTF-8\"";

/// (user, SHA-256 of the password) → (the stored key it matched, when).
type Verified = HashMap<(String, [u8; 32]), (Vec<u8>, Instant)>;

/// Basic authentication against a credential store.
pub struct BasicAuth {
    store: Box<dyn CredentialStore>,
    cache: Mutex<Verified>,
}

impl BasicAuth {
    pub fn new(store: Box<dyn CredentialStore>) -> BasicAuth {
        BasicAuth {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The user an `Authorization` header proves, or why not.
    pub fn check(&self, header: Option<&str>) -> Result<String, &'static str> {
        let h = header.ok_or("authentication required")?;
        let (scheme, token) = h.trim().split_once(' ').ok_or("malformed Authorization")?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("only Basic authentication is served");
        }
        let decoded = B64
            .decode(token.trim())
            .map_err(|_| "malformed Basic credentials")?;
        let text = String::from_utf8(decoded).map_err(|_| "malformed Basic credentials")?;
        let (user, password) = text.split_once(':').ok_or("malformed Basic credentials")?;
        if user.is_empty() {
            return Err("invalid user name or password");
        }
        if self.verify(user, password) {
            Ok(user.to_string())
        } else {
            Err("invalid user name or password")
        }
    }

    fn verify(&self, user: &str, password: &str) -> bool {
        let creds: Vec<(ScramMechanism, ScramCredential)> =
            [ScramMechanism::Sha256, ScramMechanism::Sha512]
                .into_iter()
                .filter_map(|m| Some((m, self.store.scram_credential(user, m)?)))
                .collect();
        if creds.is_empty() {
            return false;
        }
        let key = (user.to_string(), <[u8; 32]>::from(Sha256::digest(password)));
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((stored, at)) = cache.get(&key) {
                if now.duration_since(*at) < CACHE_TTL
                    && creds.iter().any(|(_, c)| c.stored_key == *stored)
                {
                    return true;
                }
            }
        }
        for (m, c) in &creds {
            let proof = ScramCredential::from_password(*m, password, &c.salt, c.iterations);
            if constant_time_eq(&proof.stored_key, &c.stored_key) {
                let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= CACHE_MAX {
                    cache.retain(|_, (_, at)| now.duration_since(*at) < CACHE_TTL);
                    if cache.len() >= CACHE_MAX {
                        cache.clear();
                    }
                }
                cache.insert(key, (c.stored_key.clone(), now));
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Users(Vec<(String, ScramMechanism, ScramCredential)>);

    impl CredentialStore for Users {
        fn plain_password_ok(&self, _: &str, _: &str) -> bool {
            false
        }
        fn scram_credential(&self, user: &str, m: ScramMechanism) -> Option<ScramCredential> {
            self.0
                .iter()
                .find(|(u, mm, _)| u == user && *mm == m)
                .map(|(_, _, c)| c.clone())
        }
    }

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", B64.encode(format!("{user}:{password}")))
    }

    #[test]
    fn users_prove_their_scram_password() {
        let m = ScramMechanism::Sha512;
        let c = ScramCredential::from_password(m, "pw:with colon", b"salt", 4096);
        let auth = BasicAuth::new(Box::new(Users(vec![("alice".into(), m, c)])));
        assert_eq!(
            auth.check(Some(&basic("alice", "pw:with colon"))),
            Ok("alice".to_string())
        );
        // Cached, same answer.
        assert_eq!(
            auth.check(Some(&basic("alice", "pw:with colon"))),
            Ok("alice".to_string())
        );
        assert!(auth.check(Some(&basic("alice", "wrong"))).is_err());
        assert!(auth.check(Some(&basic("bob", "pw:with colon"))).is_err());
        assert!(auth.check(None).is_err());
        assert!(auth.check(Some("Bearer abc")).is_err());
        assert!(auth.check(Some("Basic !!!")).is_err());
        assert!(auth
            .check(Some(&format!("Basic {}", B64.encode("nocolon"))))
            .is_err());
    }
}
