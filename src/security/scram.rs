//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side as Kafka's
//! `ScramSaslServer` runs it, and the salted credentials Kafka stores for a user
//! (`ScramCredential`: salt, StoredKey, ServerKey, iterations — never the password).
//!
//! The exchange:
//! ```text
//! client-first  gs2-header client-first-bare      n,,n=alice,r=<cnonce>[,ext=value...]
//! server-first  r=<cnonce><snonce>,s=<salt b64>,i=<iterations>
//! client-final  c=<b64 gs2-header>,r=<nonce>[,ext...],p=<proof b64>
//! server-final  v=<server signature b64>
//! ```
//! Differences from Kafka, all stricter or leaking less: the channel-binding field of the final
//! message must be the base64 of the gs2 header (RFC 5802 §5.1; Kafka does not check it), a `m=`
//! extension is refused
//! (RFC 5802 says so), an unknown user runs the whole exchange against a made-up credential
//! and fails at the proof exactly as a wrong password does (Kafka fails the first message), and
//! the authzid check does not depend on whether the user exists. `y,,` is accepted besides
//! `n,,` (the client supports channel binding but the server offers no -PLUS mechanism).
//! Delegation tokens (`tokenauth=true`) are refused: skua has none. Usernames may be UTF-8.
//! As in Kafka, the final nonce must end with the server's (not equal it): librdkafka before
//! 2.1 (Debian's kcat) sends its own nonce twice there, and Kafka accepts that.

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256, Sha512};

use super::plain::AUTHZID_MISMATCH;
use super::sasl::{
    constant_time_eq, invalid_credentials_message, CredentialStore, SaslError, SaslServer, SaslStep,
};
use super::KafkaPrincipal;

/// A SCRAM mechanism, with Kafka's names, wire type ids and iteration bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

/// Kafka's `ScramMechanism.minIterations()` (both mechanisms).
pub const MIN_ITERATIONS: i32 = 4096;
/// Kafka's `ScramMechanism.maxIterations()` (both mechanisms; AlterUserScramCredentials bound).
pub const MAX_ITERATIONS: i32 = 16384;

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// `SCRAM-SHA-256` / `SCRAM-SHA-512` (exact case, as Kafka matches mechanism names).
    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        match name {
            "SCRAM-SHA-256" => Some(ScramMechanism::Sha256),
            "SCRAM-SHA-512" => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The wire id in Describe/AlterUserScramCredentials (0 is Kafka's UNKNOWN).
    pub fn type_id(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    /// Kafka's name of a mechanism type id as DescribeUserScramCredentials answers it
    /// (`UNKNOWN(n)` for an id skua does not know).
    pub fn name_of_type_id(id: i8) -> String {
        ScramMechanism::from_type_id(id)
            .map_or_else(|| format!("UNKNOWN({id})"), |m| m.name().to_string())
    }

    pub fn from_type_id(id: i8) -> Option<ScramMechanism> {
        match id {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    /// Length of the hash (and of the HMAC, StoredKey, ServerKey, salted password).
    pub fn hash_len(self) -> usize {
        match self {
            ScramMechanism::Sha256 => 32,
            ScramMechanism::Sha512 => 64,
        }
    }

    pub fn min_iterations(self) -> i32 {
        MIN_ITERATIONS
    }

    pub fn max_iterations(self) -> i32 {
        MAX_ITERATIONS
    }

    /// H(data).
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// HMAC(key, data).
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length: new_from_slice cannot fail.
        match self {
            ScramMechanism::Sha256 => match Hmac::<Sha256>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => vec![0; 32],
            },
            ScramMechanism::Sha512 => match Hmac::<Sha512>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => vec![0; 64],
            },
        }
    }

    /// Hi(password, salt, i) = PBKDF2 with HMAC of this hash: the salted password.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.hash_len()];
        match self {
            ScramMechanism::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
            ScramMechanism::Sha512 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
            }
        }
        out
    }

    /// ClientKey = HMAC(SaltedPassword, "Client Key").
    pub fn client_key(self, salted_password: &[u8]) -> Vec<u8> {
        self.hmac(salted_password, b"Client Key")
    }

    /// ServerKey = HMAC(SaltedPassword, "Server Key").
    pub fn server_key(self, salted_password: &[u8]) -> Vec<u8> {
        self.hmac(salted_password, b"Server Key")
    }

    /// Whether `iterations` is within Kafka's bounds; the error is Kafka's wording
    /// (ScramControlManager: "Too few iterations" / "Too many iterations").
    pub fn check_iterations(self, iterations: i32) -> Result<(), String> {
        if iterations < self.min_iterations() {
            Err("Too few iterations".to_string())
        } else if iterations > self.max_iterations() {
            Err("Too many iterations".to_string())
        } else {
            Ok(())
        }
    }
}

/// A user's SCRAM credential for one mechanism, as Kafka stores it: no password, only what
/// verifying a proof needs.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        f.debug_struct("ScramCredential")
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .finish()
    }
}

impl ScramCredential {
    /// From a password (what a CLI or a test has): salts it here.
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &str,
        salt: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let salted = mechanism.salted_password(password.as_bytes(), salt, iterations.max(1) as u32);
        ScramCredential::from_salted_password(mechanism, &salted, salt, iterations)
    }

    /// From a salted password, as AlterUserScramCredentials carries it (`SaltedPassword` field).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salted_password: &[u8],
        salt: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let client_key = mechanism.client_key(salted_password);
        ScramCredential {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.server_key(salted_password),
            iterations,
        }
    }
}

/// A random salt for a new credential (the CLI's; 32 bytes).
pub fn random_salt() -> Vec<u8> {
    let mut s = vec![0u8; 32];
    rand::rng().fill(&mut s[..]);
    s
}

/// A random nonce: printable, no ',' (RFC 5802 `printable`), 32 alphanumerics.
pub fn random_nonce() -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// `saslname` → username: `=2C` is ',', `=3D` is '='; any other '=' (or a ',', or NUL) is
/// malformed (Kafka's `ScramFormatter.username`).
pub fn decode_saslname(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(['=', ',', '\0']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if tail.starts_with("=2C") {
            out.push(',');
        } else if tail.starts_with("=3D") {
            out.push('=');
        } else {
            return None;
        }
        rest = &tail[3..];
    }
    out.push_str(rest);
    Some(out)
}

/// username → `saslname` (the client side of [`decode_saslname`]).
pub fn encode_saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// A key for made-up credentials of unknown users, random per process, so the same unknown
/// user sees the same salt on every attempt.
fn fake_credential_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(rand::random)
}

fn fake_credential(mechanism: ScramMechanism, user: &str) -> ScramCredential {
    let mut input = mechanism.name().as_bytes().to_vec();
    input.push(0);
    input.extend_from_slice(user.as_bytes());
    let salt = ScramMechanism::Sha256.hmac(fake_credential_key(), &input);
    let mut stored_key = vec![0u8; mechanism.hash_len()];
    let mut server_key = vec![0u8; mechanism.hash_len()];
    rand::rng().fill(&mut stored_key[..]);
    rand::rng().fill(&mut server_key[..]);
    ScramCredential {
        salt,
        stored_key,
        server_key,
        iterations: MIN_ITERATIONS,
    }
}

/// A source of server nonces (random in production; fixed in tests).
pub type NonceSource = Box<dyn FnMut() -> String + Send>;

enum State {
    ClientFirst,
    ClientFinal(Box<Pending>),
    Ended,
}

struct Pending {
    username: String,
    known: bool,
    credential: ScramCredential,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// The server side of one SCRAM exchange.
pub struct ScramServer {
    mechanism: ScramMechanism,
    store: Arc<dyn CredentialStore>,
    nonces: NonceSource,
    state: State,
}

impl ScramServer {
    pub fn new(mechanism: ScramMechanism, store: Arc<dyn CredentialStore>) -> ScramServer {
        ScramServer::with_nonces(mechanism, store, Box::new(random_nonce))
    }

    /// With server nonces from `nonces` (the test seam).
    pub fn with_nonces(
        mechanism: ScramMechanism,
        store: Arc<dyn CredentialStore>,
        nonces: NonceSource,
    ) -> ScramServer {
        ScramServer {
            mechanism,
            store,
            nonces,
            state: State::ClientFirst,
        }
    }

    fn failed(&self) -> SaslError {
        SaslError::Failed(invalid_credentials_message(self.mechanism.name()))
    }

    fn client_first(&mut self, token: &[u8]) -> Result<SaslStep, SaslError> {
        let msg = std::str::from_utf8(token).map_err(|_| malformed_first("not UTF-8"))?;
        // gs2-header: cbind-flag "," [authzid] ","
        let (flag, rest) = msg
            .split_once(',')
            .ok_or_else(|| malformed_first("no gs2 header"))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => {
                return Err(malformed_first("channel binding is not supported"))
            }
            _ => return Err(malformed_first("bad channel binding flag")),
        }
        let (authz, bare) = rest
            .split_once(',')
            .ok_or_else(|| malformed_first("no gs2 header"))?;
        let authzid = if authz.is_empty() {
            String::new()
        } else {
            let a = authz
                .strip_prefix("a=")
                .ok_or_else(|| malformed_first("bad authzid"))?;
            decode_saslname(a)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| malformed_first("bad authzid"))?
        };
        let gs2_header = msg[..flag.len() + 1 + authz.len() + 1].to_string();

        let mut fields = bare.split(',');
        let mut field = fields.next().unwrap_or("");
        if field.starts_with("m=") {
            return Err(malformed_first("mandatory extension is not supported"));
        }
        let saslname = field
            .strip_prefix("n=")
            .ok_or_else(|| malformed_first("no username"))?;
        let username = decode_saslname(saslname)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| malformed_first("bad username"))?;
        field = fields.next().unwrap_or("");
        let client_nonce = field
            .strip_prefix("r=")
            .filter(|n| valid_nonce(n))
            .ok_or_else(|| malformed_first("bad nonce"))?;
        let mut token_auth = false;
        for ext in fields {
            let (k, v) = ext
                .split_once('=')
                .ok_or_else(|| malformed_first("bad extension"))?;
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) || v.is_empty() {
                return Err(malformed_first("bad extension"));
            }
            // Kafka: Boolean.parseBoolean; other extensions are ignored as Kafka ignores them.
            if k == "tokenauth" && v.eq_ignore_ascii_case("true") {
                token_auth = true;
            }
        }
        if token_auth {
            // Delegation tokens do not exist in skua: no token can match.
            return Err(self.failed());
        }
        if !authzid.is_empty() && authzid != username {
            return Err(SaslError::Failed(AUTHZID_MISMATCH.into()));
        }
        let (credential, known) = match self.store.scram_credential(&username, self.mechanism) {
            Some(c) => {
                if c.iterations < self.mechanism.min_iterations() {
                    return Err(self.failed());
                }
                (c, true)
            }
            None => (fake_credential(self.mechanism, &username), false),
        };
        let server_nonce = (self.nonces)();
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        self.state = State::ClientFinal(Box::new(Pending {
            username,
            known,
            credential,
            gs2_header,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        }));
        Ok(SaslStep::Continue(server_first.into_bytes()))
    }

    fn client_final(&mut self, p: &Pending, token: &[u8]) -> Result<SaslStep, SaslError> {
        let msg = std::str::from_utf8(token).map_err(|_| malformed_final("not UTF-8"))?;
        let (without_proof, proof_b64) = msg
            .rsplit_once(",p=")
            .ok_or_else(|| malformed_final("no proof"))?;
        let mut fields = without_proof.split(',');
        let cbind = fields
            .next()
            .and_then(|f| f.strip_prefix("c="))
            .ok_or_else(|| malformed_final("no channel binding"))?;
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or_else(|| malformed_final("no nonce"))?;
        for ext in fields {
            match ext.split_once('=') {
                Some((k, v))
                    if !k.is_empty()
                        && k.bytes().all(|b| b.is_ascii_alphabetic())
                        && !v.is_empty() => {}
                _ => return Err(malformed_final("bad extension")),
            }
        }
        let cbind = B64
            .decode(cbind)
            .map_err(|_| malformed_final("channel binding is not base64"))?;
        if cbind != p.gs2_header.as_bytes() {
            return Err(malformed_final(
                "channel binding does not match the gs2 header",
            ));
        }
        // Kafka's rule (ScramSaslServer): the client's nonce must end with the server-first
        // nonce, not equal it. librdkafka before 2.1 sends `r=<cnonce><cnonce+snonce>` and Kafka
        // accepts it; the proof still covers the whole message, so the server nonce stays bound.
        if !nonce.ends_with(p.nonce.as_str()) {
            return Err(SaslError::Malformed(
                "Invalid client nonce in the final client message.".into(),
            ));
        }
        let proof = B64
            .decode(proof_b64)
            .map_err(|_| malformed_final("proof is not base64"))?;
        if proof.len() != self.mechanism.hash_len() {
            return Err(self.failed());
        }
        let auth_message = format!(
            "{},{},{}",
            p.client_first_bare, p.server_first, without_proof
        );
        let m = self.mechanism;
        let client_signature = m.hmac(&p.credential.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let ok = constant_time_eq(&m.hash(&client_key), &p.credential.stored_key);
        if !(ok && p.known) {
            return Err(self.failed());
        }
        let server_signature = m.hmac(&p.credential.server_key, auth_message.as_bytes());
        Ok(SaslStep::Done {
            response: format!("v={}", B64.encode(server_signature)).into_bytes(),
            principal: KafkaPrincipal::user(p.username.clone()),
        })
    }
}

fn valid_nonce(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

fn malformed_first(why: &str) -> SaslError {
    SaslError::Malformed(format!("Invalid SCRAM client first message format: {why}"))
}

fn malformed_final(why: &str) -> SaslError {
    SaslError::Malformed(format!("Invalid SCRAM client final message format: {why}"))
}

impl SaslServer for ScramServer {
    fn step(&mut self, token: &[u8]) -> Result<SaslStep, SaslError> {
        match std::mem::replace(&mut self.state, State::Ended) {
            State::ClientFirst => self.client_first(token),
            State::ClientFinal(p) => self.client_final(&p, token),
            State::Ended => Err(SaslError::Malformed(
                "Unexpected SCRAM token after the exchange ended".into(),
            )),
        }
    }

    fn mechanism(&self) -> &'static str {
        self.mechanism.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::sasl::new_server;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Credentials by (user, mechanism).
    struct Users(HashMap<(String, ScramMechanism), ScramCredential>);

    impl CredentialStore for Users {
        fn plain_password_ok(&self, _: &str, _: &str) -> bool {
            false
        }
        fn scram_credential(&self, user: &str, m: ScramMechanism) -> Option<ScramCredential> {
            self.0.get(&(user.to_string(), m)).cloned()
        }
    }

    fn store(users: &[(&str, &str, ScramMechanism, i32)]) -> Arc<dyn CredentialStore> {
        let mut map = HashMap::new();
        for &(u, pw, m, i) in users {
            let salt = format!("salt-of-{u}").into_bytes();
            map.insert(
                (u.to_string(), m),
                ScramCredential::from_password(m, pw, &salt, i),
            );
        }
        Arc::new(Users(map))
    }

    fn fixed(nonce: &'static str) -> NonceSource {
        Box::new(move || nonce.to_string())
    }

    /// RFC 7677 §3: the SCRAM-SHA-256 example, byte for byte.
    #[test]
    fn rfc7677_sha256_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = ScramCredential::from_password(ScramMechanism::Sha256, "pencil", &salt, 4096);
        let mut map = HashMap::new();
        map.insert(("user".to_string(), ScramMechanism::Sha256), cred);
        let store: Arc<dyn CredentialStore> = Arc::new(Users(map));
        let mut s = ScramServer::with_nonces(
            ScramMechanism::Sha256,
            store,
            fixed("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"),
        );
        let first = s.step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(
            first,
            SaslStep::Continue(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".to_vec()
            )
        );
        let fin = s
            .step(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        assert_eq!(
            fin,
            SaslStep::Done {
                response: b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec(),
                principal: KafkaPrincipal::user("user"),
            }
        );
        // Nothing after the end.
        assert!(matches!(s.step(b"x"), Err(SaslError::Malformed(_))));
    }

    /// An independent client, written from RFC 5802 with the hmac/sha2/pbkdf2 crates directly
    /// (none of the code under test), for SHA-256 and SHA-512.
    mod client {
        use base64::engine::general_purpose::STANDARD as B64;
        use base64::Engine as _;
        use hmac::{Hmac, Mac};
        use sha2::{Digest, Sha256, Sha512};

        pub struct Client {
            pub sha512: bool,
            pub user: String,
            pub password: String,
            pub authzid: Option<String>,
            pub gs2_flag: &'static str,
            pub nonce: String,
            pub first_bare: String,
            pub server_signature: Vec<u8>,
            /// Sent before the server's nonce in the final message (librdkafka < 2.1 repeats
            /// its own nonce there).
            pub final_nonce_prefix: String,
            /// Characters cut off the end of the final message's nonce (a wrong nonce).
            pub final_nonce_cut: usize,
        }

        fn hmac(sha512: bool, key: &[u8], data: &[u8]) -> Vec<u8> {
            if sha512 {
                let mut m = <Hmac<Sha512> as Mac>::new_from_slice(key).unwrap();
                m.update(data);
                m.finalize().into_bytes().to_vec()
            } else {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }

        impl Client {
            pub fn new(sha512: bool, user: &str, password: &str) -> Client {
                Client {
                    sha512,
                    user: user.into(),
                    password: password.into(),
                    authzid: None,
                    gs2_flag: "n",
                    nonce: "fyko+d2lbbFgONRv9qkxdawL".into(),
                    first_bare: String::new(),
                    server_signature: vec![],
                    final_nonce_prefix: String::new(),
                    final_nonce_cut: 0,
                }
            }

            fn gs2(&self) -> String {
                let a = match &self.authzid {
                    Some(a) => format!("a={}", a.replace('=', "=3D").replace(',', "=2C")),
                    None => String::new(),
                };
                format!("{},{},", self.gs2_flag, a)
            }

            pub fn first(&mut self) -> Vec<u8> {
                let name = self.user.replace('=', "=3D").replace(',', "=2C");
                self.first_bare = format!("n={name},r={}", self.nonce);
                format!("{}{}", self.gs2(), self.first_bare).into_bytes()
            }

            pub fn final_message(&mut self, server_first: &[u8]) -> Vec<u8> {
                let sf = std::str::from_utf8(server_first).unwrap();
                let mut nonce = "";
                let mut salt = vec![];
                let mut iters = 0u32;
                for part in sf.split(',') {
                    if let Some(v) = part.strip_prefix("r=") {
                        nonce = v;
                    } else if let Some(v) = part.strip_prefix("s=") {
                        salt = B64.decode(v).unwrap();
                    } else if let Some(v) = part.strip_prefix("i=") {
                        iters = v.parse().unwrap();
                    }
                }
                assert!(nonce.starts_with(&self.nonce), "server nonce extends ours");
                let n = if self.sha512 { 64 } else { 32 };
                let mut salted = vec![0u8; n];
                if self.sha512 {
                    pbkdf2::pbkdf2_hmac::<Sha512>(
                        self.password.as_bytes(),
                        &salt,
                        iters,
                        &mut salted,
                    );
                } else {
                    pbkdf2::pbkdf2_hmac::<Sha256>(
                        self.password.as_bytes(),
                        &salt,
                        iters,
                        &mut salted,
                    );
                }
                let client_key = hmac(self.sha512, &salted, b"Client Key");
                let stored_key = if self.sha512 {
                    Sha512::digest(&client_key).to_vec()
                } else {
                    Sha256::digest(&client_key).to_vec()
                };
                let sent = format!("{}{nonce}", self.final_nonce_prefix);
                let sent = &sent[..sent.len() - self.final_nonce_cut];
                let without_proof = format!("c={},r={sent}", B64.encode(self.gs2()));
                let auth = format!("{},{sf},{without_proof}", self.first_bare);
                let sig = hmac(self.sha512, &stored_key, auth.as_bytes());
                let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
                let server_key = hmac(self.sha512, &salted, b"Server Key");
                self.server_signature = hmac(self.sha512, &server_key, auth.as_bytes());
                format!("{without_proof},p={}", B64.encode(proof)).into_bytes()
            }

            pub fn verify_server_final(&self, server_final: &[u8]) -> bool {
                let sf = std::str::from_utf8(server_final).unwrap();
                sf == format!("v={}", B64.encode(&self.server_signature))
            }
        }
    }

    fn exchange(
        store: &Arc<dyn CredentialStore>,
        mut c: client::Client,
    ) -> (Result<SaslStep, SaslError>, client::Client) {
        let mech = if c.sha512 {
            "SCRAM-SHA-512"
        } else {
            "SCRAM-SHA-256"
        };
        let mut s = new_server(mech, store.clone()).unwrap();
        let server_first = match s.step(&c.first()) {
            Ok(SaslStep::Continue(sf)) => sf,
            other => return (other, c),
        };
        let fin = c.final_message(&server_first);
        (s.step(&fin), c)
    }

    fn users() -> Arc<dyn CredentialStore> {
        store(&[
            ("alice", "alice-secret", ScramMechanism::Sha256, 4096),
            ("alice", "alice-512", ScramMechanism::Sha512, 8192),
            ("b,o=b", "pw", ScramMechanism::Sha256, 4096),
            ("zoë", "pw", ScramMechanism::Sha512, 4096),
            ("weak", "pw", ScramMechanism::Sha256, 1000),
        ])
    }

    #[test]
    fn full_exchange_with_an_independent_client_both_mechanisms() {
        let store = users();
        for (sha512, user, pw) in [
            (false, "alice", "alice-secret"),
            (true, "alice", "alice-512"),
            (false, "b,o=b", "pw"),
            (true, "zoë", "pw"),
        ] {
            let (res, c) = exchange(&store, client::Client::new(sha512, user, pw));
            match res {
                Ok(SaslStep::Done {
                    response,
                    principal,
                }) => {
                    assert_eq!(principal, KafkaPrincipal::user(user));
                    assert!(
                        c.verify_server_final(&response),
                        "server signature for {user}"
                    );
                }
                other => panic!("{user} sha512={sha512}: {other:?}"),
            }
        }
        // y,, and a matching authzid are accepted.
        let mut c = client::Client::new(false, "alice", "alice-secret");
        c.gs2_flag = "y";
        c.authzid = Some("alice".into());
        let (res, _) = exchange(&store, c);
        assert!(matches!(res, Ok(SaslStep::Done { principal, .. }) if principal.name == "alice"));
    }

    #[test]
    fn wrong_password_and_unknown_user_fail_alike() {
        let store = users();
        let want = Err(SaslError::Failed(
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256".into(),
        ));
        let (wrong, _) = exchange(&store, client::Client::new(false, "alice", "nope"));
        assert_eq!(wrong, want);
        // An unknown user gets a server-first message too, and fails at the proof.
        let mut s = new_server("SCRAM-SHA-256", store.clone()).unwrap();
        let mut c = client::Client::new(false, "mallory", "x");
        let sf = match s.step(&c.first()).unwrap() {
            SaslStep::Continue(sf) => sf,
            other => panic!("{other:?}"),
        };
        assert!(String::from_utf8(sf.clone()).unwrap().ends_with(",i=4096"));
        assert_eq!(s.step(&c.final_message(&sf)), want);
        // The same unknown user sees the same salt each time (no tell-tale randomness).
        let salt_of = |u: &str| {
            let mut s = new_server("SCRAM-SHA-256", store.clone()).unwrap();
            let mut c = client::Client::new(false, u, "x");
            match s.step(&c.first()).unwrap() {
                SaslStep::Continue(sf) => String::from_utf8(sf)
                    .unwrap()
                    .split(',')
                    .find(|p| p.starts_with("s="))
                    .unwrap()
                    .to_string(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(salt_of("mallory"), salt_of("mallory"));
        assert_ne!(salt_of("mallory"), salt_of("eve"));
        // A user with only a SHA-256 credential fails SHA-512.
        let (r, _) = exchange(&store, client::Client::new(true, "b,o=b", "pw"));
        assert!(matches!(r, Err(SaslError::Failed(m)) if m.ends_with("SCRAM-SHA-512")));
        // Stored iterations below Kafka's minimum: refused.
        let (r, _) = exchange(&store, client::Client::new(false, "weak", "pw"));
        assert_eq!(r, want);
    }

    #[test]
    fn final_nonce_may_be_prefixed_as_kafka_accepts_but_must_end_with_the_servers() {
        // librdkafka 2.0 (Debian's kcat) sends r=<cnonce><cnonce><snonce>; Kafka checks endsWith.
        let mut c = client::Client::new(false, "alice", "alice-secret");
        c.final_nonce_prefix = c.nonce.clone();
        let (r, c) = exchange(&users(), c);
        match r {
            Ok(SaslStep::Done {
                response,
                principal,
            }) => {
                assert!(c.verify_server_final(&response));
                assert_eq!(principal, KafkaPrincipal::user("alice".to_string()));
            }
            other => panic!("expected success, got {other:?}"),
        }
        let mut c = client::Client::new(false, "alice", "alice-secret");
        c.final_nonce_cut = 1;
        let (r, _) = exchange(&users(), c);
        match r {
            Err(SaslError::Malformed(m)) => assert!(m.contains("nonce"), "{m}"),
            other => panic!("expected a nonce error, got {other:?}"),
        }
    }

    #[test]
    fn authzid_must_be_the_user() {
        let store = users();
        for user in ["alice", "mallory"] {
            let mut c = client::Client::new(false, user, "alice-secret");
            c.authzid = Some("admin".into());
            let (res, _) = exchange(&store, c);
            assert_eq!(res, Err(SaslError::Failed(AUTHZID_MISMATCH.into())));
        }
    }

    #[test]
    fn malformed_and_refused_first_messages() {
        let store = users();
        let first = |m: &[u8]| new_server("SCRAM-SHA-256", store.clone()).unwrap().step(m);
        for bad in [
            &b""[..],
            b"n",
            b"n,",
            b"p=tls-unique,,n=alice,r=abc",
            b"x,,n=alice,r=abc",
            b"n,alice,n=alice,r=abc",
            b"n,a=,n=alice,r=abc",
            b"n,,m=ext,n=alice,r=abc",
            b"n,,n=,r=abc",
            b"n,,n=al=ice,r=abc",
            b"n,,n=al=2Xice,r=abc",
            b"n,,r=abc,n=alice",
            b"n,,n=alice",
            b"n,,n=alice,r=",
            b"n,,n=alice,r=a b",
            b"n,,n=alice,r=abc,noequals",
            b"n,,n=alice,r=abc,1=x",
            b"n,,n=alice,r=abc,k=",
            b"n,,n=al\xffice,r=abc",
            b"n,,n=al\0ice,r=abc",
        ] {
            assert!(
                matches!(first(bad), Err(SaslError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Delegation tokens: refused with the generic message.
        assert!(matches!(
            first(b"n,,n=alice,r=abc,tokenauth=true"),
            Err(SaslError::Failed(m)) if m.contains("invalid credentials")
        ));
        // Other extensions are ignored, as Kafka ignores them.
        assert!(matches!(
            first(b"n,,n=alice,r=abc,tokenauth=false,foo=bar"),
            Ok(SaslStep::Continue(_))
        ));
    }

    #[test]
    fn malformed_and_tampered_final_messages() {
        let store = users();
        let start = || {
            let mut s =
                ScramServer::with_nonces(ScramMechanism::Sha256, store.clone(), fixed("SRV"));
            let mut c = client::Client::new(false, "alice", "alice-secret");
            let sf = match s.step(&c.first()).unwrap() {
                SaslStep::Continue(sf) => sf,
                other => panic!("{other:?}"),
            };
            let good = String::from_utf8(c.final_message(&sf)).unwrap();
            (s, good)
        };
        let (_, good) = start();
        let nonce = "fyko+d2lbbFgONRv9qkxdawLSRV";
        assert!(good.starts_with(&format!("c=biws,r={nonce},p=")));
        let proof = good.rsplit_once(",p=").unwrap().1.to_string();
        let mut flipped = B64.decode(&proof).unwrap();
        flipped[0] ^= 1;
        let cases: Vec<(String, bool)> = vec![
            (String::new(), true),
            (format!("c=biws,r={nonce}"), true),
            (format!("r={nonce},p={proof}"), true),
            (format!("c=eSws,r={nonce},p={proof}"), true), // y,, binding for an n,, header
            (format!("c=bi!s,r={nonce},p={proof}"), true),
            (format!("c=biws,r={nonce}X,p={proof}"), true),
            (format!("c=biws,r=fyko+d2lbbFgONRv9qkxdawL,p={proof}"), true),
            (format!("c=biws,r={nonce},p=***"), true),
            (format!("c=biws,r={nonce},p=AAAA"), false), // wrong length: invalid credentials
            (
                format!("c=biws,r={nonce},p={}", B64.encode(&flipped)),
                false,
            ),
        ];
        for (msg, malformed) in cases {
            let (mut s, _) = start();
            let r = s.step(msg.as_bytes());
            if malformed {
                assert!(matches!(r, Err(SaslError::Malformed(_))), "{msg}: {r:?}");
            } else {
                assert!(matches!(r, Err(SaslError::Failed(_))), "{msg}: {r:?}");
            }
            // Over after a failure.
            assert!(s.step(good.as_bytes()).is_err());
        }
        let (mut s, good) = start();
        assert!(matches!(s.step(good.as_bytes()), Ok(SaslStep::Done { .. })));
    }

    #[test]
    fn credentials_from_password_and_from_salted_password_agree() {
        for m in ScramMechanism::ALL {
            let salt = b"NaCl";
            let a = ScramCredential::from_password(m, "secret", salt, 4096);
            let salted = m.salted_password(b"secret", salt, 4096);
            assert_eq!(salted.len(), m.hash_len());
            let b = ScramCredential::from_salted_password(m, &salted, salt, 4096);
            assert_eq!(a, b);
            assert_eq!(a.stored_key.len(), m.hash_len());
            assert_eq!(a.server_key.len(), m.hash_len());
            assert!(!format!("{a:?}").contains("stored"));
        }
        // RFC 7677: SaltedPassword for "pencil".
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let c = ScramCredential::from_password(ScramMechanism::Sha256, "pencil", &salt, 4096);
        assert_eq!(c.iterations, 4096);
        assert_eq!(c.salt, salt);
    }

    #[test]
    fn mechanism_names_ids_and_bounds() {
        for m in ScramMechanism::ALL {
            assert_eq!(ScramMechanism::from_name(m.name()), Some(m));
            assert_eq!(ScramMechanism::from_type_id(m.type_id()), Some(m));
            assert_eq!(m.check_iterations(4095), Err("Too few iterations".into()));
            assert_eq!(m.check_iterations(4096), Ok(()));
            assert_eq!(m.check_iterations(16384), Ok(()));
            assert_eq!(m.check_iterations(16385), Err("Too many iterations".into()));
        }
        assert_eq!(ScramMechanism::from_type_id(0), None);
        assert_eq!(ScramMechanism::from_name("scram-sha-256"), None);
    }

    #[test]
    fn saslname_escaping() {
        assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(encode_saslname("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(decode_saslname("a=2"), None);
        assert_eq!(decode_saslname("a=3d"), None);
        assert_eq!(decode_saslname("a,b"), None);
        assert_eq!(decode_saslname("=3D=2C").as_deref(), Some("=,"));
    }

    proptest! {
        #[test]
        fn scram_never_panics_on_arbitrary_bytes(
            sha512 in any::<bool>(),
            tokens in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..96), 1..4),
        ) {
            let mech = if sha512 { "SCRAM-SHA-512" } else { "SCRAM-SHA-256" };
            let mut s = new_server(mech, users()).unwrap();
            for t in &tokens {
                match s.step(t) {
                    Ok(SaslStep::Done { .. }) => prop_assert!(false, "random bytes authenticated"),
                    Ok(SaslStep::Continue(_)) | Err(_) => {}
                }
            }
        }

        #[test]
        fn scram_never_panics_on_near_valid_messages(
            user in "[a-z=,]{0,6}",
            nonce in "[!-~]{0,8}",
            tail in "[ -~]{0,24}",
            proof in "[A-Za-z0-9+/=]{0,48}",
        ) {
            let mut s = new_server("SCRAM-SHA-256", users()).unwrap();
            let first = format!("n,,n={user},r={nonce}{tail}");
            if let Ok(SaslStep::Continue(sf)) = s.step(first.as_bytes()) {
                let sf = String::from_utf8(sf).unwrap();
                let n = sf.split(',').next().unwrap().to_string();
                let fin = format!("c=biws,{n}{tail},p={proof}");
                prop_assert!(s.step(fin.as_bytes()).is_err());
            }
        }

        #[test]
        fn saslname_round_trips(u in "\\PC{0,12}") {
            prop_assume!(!u.contains('\0'));
            prop_assert_eq!(decode_saslname(&encode_saslname(&u)), Some(u));
        }
    }
}
