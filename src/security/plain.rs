//! SASL/PLAIN (RFC 4616) as Kafka's `PlainSaslServer` does it, and Kafka's JAAS configuration
//! form (`sasl.jaas.config`, `listener.name.<l>.plain.sasl.jaas.config`), where PLAIN users live
//! as `user_<name>="<password>"` options of `PlainLoginModule`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::sasl::{constant_time_eq, CredentialStore, SaslError, SaslServer, SaslStep};
use super::scram::{ScramCredential, ScramMechanism};
use super::KafkaPrincipal;

/// Kafka's PLAIN login module class.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
/// Kafka's SCRAM login module class (what a SCRAM listener's JAAS entry names).
pub const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
/// Prefix of the JAAS options that hold PLAIN users' passwords (`PlainServerCallbackHandler`).
pub const JAAS_USER_PREFIX: &str = "user_";

/// Kafka's message for a wrong PLAIN username or password (the same for both).
pub const PLAIN_INVALID: &str = "Authentication failed: Invalid username or password";
/// Kafka's message when the client asks to act as someone else.
pub const AUTHZID_MISMATCH: &str =
    "Authentication failed: Client requested an authorization id that is different from username";

/// A PLAIN token: `[authzid] NUL authcid NUL passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainToken<'a> {
    pub authzid: &'a str,
    pub username: &'a str,
    pub password: &'a str,
}

/// Split a PLAIN token as Kafka's `PlainSaslServer.extractTokens` does: exactly three
/// NUL-separated UTF-8 fields (a fourth NUL makes it malformed).
pub fn parse_plain_token(token: &[u8]) -> Result<PlainToken<'_>, SaslError> {
    let s = std::str::from_utf8(token)
        .map_err(|_| SaslError::Malformed("Invalid SASL/PLAIN response: not UTF-8".into()))?;
    let parts: Vec<&str> = s.splitn(4, '\0').collect();
    if parts.len() != 3 {
        return Err(SaslError::Malformed(format!(
            "Invalid SASL/PLAIN response: expected 3 tokens, got {}",
            parts.len()
        )));
    }
    Ok(PlainToken {
        authzid: parts[0],
        username: parts[1],
        password: parts[2],
    })
}

/// One PLAIN exchange: a single token, then done.
pub struct PlainServer {
    store: Arc<dyn CredentialStore>,
    finished: bool,
}

impl PlainServer {
    pub fn new(store: Arc<dyn CredentialStore>) -> PlainServer {
        PlainServer {
            store,
            finished: false,
        }
    }
}

impl SaslServer for PlainServer {
    fn step(&mut self, token: &[u8]) -> Result<SaslStep, SaslError> {
        if self.finished {
            return Err(SaslError::Malformed(
                "Unexpected SASL/PLAIN token after the exchange ended".into(),
            ));
        }
        self.finished = true;
        let t = parse_plain_token(token)?;
        if t.username.is_empty() {
            return Err(SaslError::Failed(
                "Authentication failed: username not specified".into(),
            ));
        }
        if t.password.is_empty() {
            return Err(SaslError::Failed(
                "Authentication failed: password not specified".into(),
            ));
        }
        if !self.store.plain_password_ok(t.username, t.password) {
            return Err(SaslError::Failed(PLAIN_INVALID.into()));
        }
        if !t.authzid.is_empty() && t.authzid != t.username {
            return Err(SaslError::Failed(AUTHZID_MISMATCH.into()));
        }
        Ok(SaslStep::Done {
            response: Vec::new(),
            principal: KafkaPrincipal::user(t.username),
        })
    }

    fn mechanism(&self) -> &'static str {
        "PLAIN"
    }
}

/// PLAIN users and their passwords, from a JAAS config. Never holds SCRAM credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PlainUsers {
    users: HashMap<String, String>,
}

impl fmt::Debug for PlainUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: passwords stay out of logs.
        let mut names: Vec<&String> = self.users.keys().collect();
        names.sort();
        f.debug_struct("PlainUsers").field("users", &names).finish()
    }
}

impl PlainUsers {
    pub fn new(users: HashMap<String, String>) -> PlainUsers {
        PlainUsers { users }
    }

    /// The `user_<name>` options of a JAAS config whose single login module is
    /// `PlainLoginModule` (Kafka requires exactly one module in a `sasl.jaas.config` value).
    pub fn from_jaas(config: &str) -> Result<PlainUsers, JaasError> {
        let entry = parse_single_jaas_entry(config)?;
        if entry.login_module != PLAIN_LOGIN_MODULE {
            return Err(JaasError(format!(
                "the PLAIN JAAS config names login module '{}', expected {PLAIN_LOGIN_MODULE}",
                entry.login_module
            )));
        }
        Ok(PlainUsers::from_entry(&entry))
    }

    /// The `user_<name>` options of one entry (whatever its module).
    pub fn from_entry(entry: &JaasEntry) -> PlainUsers {
        let users = entry
            .options
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(JAAS_USER_PREFIX)
                    .map(|name| (name.to_string(), v.clone()))
            })
            .collect();
        PlainUsers { users }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// The user names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.users.keys().cloned().collect();
        v.sort();
        v
    }
}

impl CredentialStore for PlainUsers {
    fn plain_password_ok(&self, user: &str, password: &str) -> bool {
        match self.users.get(user) {
            Some(expected) => constant_time_eq(expected.as_bytes(), password.as_bytes()),
            None => {
                // Same work as a wrong password, so timing does not tell which users exist.
                let _ = constant_time_eq(password.as_bytes(), password.as_bytes());
                false
            }
        }
    }

    fn scram_credential(&self, _user: &str, _mechanism: ScramMechanism) -> Option<ScramCredential> {
        None
    }
}

/// A JAAS configuration error, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasError(pub String);

impl fmt::Display for JaasError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JAAS config: {}", self.0)
    }
}

impl std::error::Error for JaasError {}

/// One login module entry: `<loginModuleClass> <controlFlag> (<name>=<value>)* ;`.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasEntry {
    pub login_module: String,
    /// `REQUIRED`, `REQUISITE`, `SUFFICIENT` or `OPTIONAL` (upper-cased as Kafka compares it).
    pub control_flag: String,
    /// Options in order; a repeated name keeps its last value (Kafka's map) via [`JaasEntry::option`].
    pub options: Vec<(String, String)>,
}

impl fmt::Debug for JaasEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Option values are mostly passwords: names only.
        let names: Vec<&String> = self.options.iter().map(|(k, _)| k).collect();
        f.debug_struct("JaasEntry")
            .field("login_module", &self.login_module)
            .field("control_flag", &self.control_flag)
            .field("options", &names)
            .finish()
    }
}

impl JaasEntry {
    /// The last value of option `name`.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Char(char),
}

/// A tokenizer with the rules of the `java.io.StreamTokenizer` Kafka's `JaasConfig` uses: `//`
/// and `/* */` comments, words of letters, digits, `.`, `-`, `_`, `$`, strings in `"` or `'`
/// with backslash escapes, any other character on its own.
fn tokenize(s: &str) -> Result<Vec<Tok>, JaasError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let is_word_start =
        |c: char| c.is_ascii_alphabetic() || matches!(c, '-' | '_' | '$') || (c as u32) >= 0xA0;
    let is_word = |c: char| is_word_start(c) || c.is_ascii_digit() || c == '.';
    while i < chars.len() {
        let c = chars[i];
        if (c as u32) <= 0x20 {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let mut j = i + 2;
            loop {
                if j + 1 >= chars.len() {
                    return Err(JaasError("unterminated /* comment".into()));
                }
                if chars[j] == '*' && chars[j + 1] == '/' {
                    break;
                }
                j += 1;
            }
            i = j + 2;
        } else if c == '/' {
            // `//` comment, or a lone '/' (StreamTokenizer's comment character): to end of line.
            while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                i += 1;
            }
        } else if c == '"' || c == '\'' {
            let quote = c;
            let mut v = String::new();
            i += 1;
            loop {
                let Some(&d) = chars.get(i) else {
                    return Err(JaasError(format!(
                        "unterminated quoted value {quote}{v}..."
                    )));
                };
                if d == '\n' || d == '\r' {
                    return Err(JaasError("line break inside a quoted value".into()));
                }
                i += 1;
                if d == quote {
                    break;
                }
                if d != '\\' {
                    v.push(d);
                    continue;
                }
                let Some(&e) = chars.get(i) else {
                    return Err(JaasError("unterminated quoted value".into()));
                };
                i += 1;
                match e {
                    'a' => v.push('\x07'),
                    'b' => v.push('\x08'),
                    'f' => v.push('\x0C'),
                    'n' => v.push('\n'),
                    'r' => v.push('\r'),
                    't' => v.push('\t'),
                    'v' => v.push('\x0B'),
                    '0'..='7' => {
                        // Up to three octal digits (at most two more when the first is > 3).
                        let mut n = e as u32 - '0' as u32;
                        let max = if e <= '3' { 2 } else { 1 };
                        for _ in 0..max {
                            match chars.get(i) {
                                Some(&o @ '0'..='7') => {
                                    n = n * 8 + (o as u32 - '0' as u32);
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        v.push(char::from_u32(n).unwrap_or('\u{FFFD}'));
                    }
                    other => v.push(other),
                }
            }
            out.push(Tok::Quoted(v));
        } else if is_word_start(c) {
            let start = i;
            while i < chars.len() && is_word(chars[i]) {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else {
            out.push(Tok::Char(c));
            i += 1;
        }
    }
    Ok(out)
}

/// Parse a JAAS config value into its login module entries (Kafka's `JaasConfig`).
pub fn parse_jaas_config(config: &str) -> Result<Vec<JaasEntry>, JaasError> {
    let toks = tokenize(config)?;
    let mut it = toks.into_iter().peekable();
    let mut entries = Vec::new();
    while let Some(t) = it.next() {
        let login_module = match t {
            Tok::Word(w) => w,
            other => {
                return Err(JaasError(format!(
                    "expected a login module class name, found {}",
                    describe(&other)
                )))
            }
        };
        let flag = match it.next() {
            Some(Tok::Word(w)) => w,
            None => {
                return Err(JaasError(
                    "Login module control flag not specified in JAAS config".into(),
                ))
            }
            Some(other) => {
                return Err(JaasError(format!(
                    "Invalid login module control flag '{}' in JAAS config",
                    describe(&other)
                )))
            }
        };
        let control_flag = flag.to_ascii_uppercase();
        if !matches!(
            control_flag.as_str(),
            "REQUIRED" | "REQUISITE" | "SUFFICIENT" | "OPTIONAL"
        ) {
            return Err(JaasError(format!(
                "Invalid login module control flag '{flag}' in JAAS config"
            )));
        }
        let mut options = Vec::new();
        let mut terminated = false;
        while let Some(t) = it.next() {
            let key = match t {
                Tok::Char(';') => {
                    terminated = true;
                    break;
                }
                Tok::Word(w) | Tok::Quoted(w) => w,
                Tok::Char(c) => {
                    return Err(JaasError(format!(
                        "unexpected '{c}' where an option name was expected"
                    )))
                }
            };
            if it.next() != Some(Tok::Char('=')) {
                return Err(JaasError(format!(
                    "Value not specified for key '{key}' in JAAS config"
                )));
            }
            match it.next() {
                Some(Tok::Word(v)) | Some(Tok::Quoted(v)) => options.push((key, v)),
                _ => {
                    return Err(JaasError(format!(
                        "Value not specified for key '{key}' in JAAS config"
                    )))
                }
            }
        }
        if !terminated {
            return Err(JaasError(
                "JAAS config entry not terminated by semi-colon".into(),
            ));
        }
        entries.push(JaasEntry {
            login_module,
            control_flag,
            options,
        });
    }
    if entries.is_empty() {
        return Err(JaasError(
            "Login module not specified in JAAS config".into(),
        ));
    }
    Ok(entries)
}

/// The one entry of a `sasl.jaas.config` value (Kafka's `JaasContext` refuses any other count).
pub fn parse_single_jaas_entry(config: &str) -> Result<JaasEntry, JaasError> {
    let mut entries = parse_jaas_config(config)?;
    if entries.len() != 1 {
        return Err(JaasError(format!(
            "JAAS config property contains {} login modules, should be 1 module",
            entries.len()
        )));
    }
    Ok(entries.remove(0))
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => w.clone(),
        Tok::Quoted(_) => "a quoted value".into(),
        Tok::Char(c) => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";"#;

    fn store() -> Arc<dyn CredentialStore> {
        Arc::new(PlainUsers::from_jaas(JAAS).unwrap())
    }

    fn run(token: &[u8]) -> Result<SaslStep, SaslError> {
        PlainServer::new(store()).step(token)
    }

    #[test]
    fn jaas_users_as_kafka_reads_them() {
        let entry = parse_single_jaas_entry(JAAS).unwrap();
        assert_eq!(entry.login_module, PLAIN_LOGIN_MODULE);
        assert_eq!(entry.control_flag, "REQUIRED");
        assert_eq!(entry.option("username"), Some("admin"));
        assert_eq!(entry.option("password"), Some("admin-secret"));
        let users = PlainUsers::from_jaas(JAAS).unwrap();
        assert_eq!(
            users.names(),
            vec!["admin".to_string(), "alice".to_string()]
        );
        assert!(users.plain_password_ok("alice", "alice-secret"));
        assert!(!users.plain_password_ok("alice", "admin-secret"));
        assert!(!users.plain_password_ok("bob", "alice-secret"));
        // Debug output names users, never passwords.
        assert!(!format!("{users:?}").contains("secret"));
        assert!(!format!("{entry:?}").contains("secret"));
    }

    #[test]
    fn jaas_quoting_escapes_comments_and_bare_words() {
        let cfg = "/* brokers */ org.apache.kafka.common.security.plain.PlainLoginModule Required\n  // the admin\n  user_admin=\"a \\\"quoted\\\" \\\\ pass\\tword;=\"\n  user_bob='single'\n  user_carol=bare-Word_1.2$ ;";
        let users = PlainUsers::from_jaas(cfg).unwrap();
        assert!(users.plain_password_ok("admin", "a \"quoted\" \\ pass\tword;="));
        assert!(users.plain_password_ok("bob", "single"));
        assert!(users.plain_password_ok("carol", "bare-Word_1.2$"));
        assert_eq!(users.len(), 3);
        // A repeated option keeps its last value (Kafka's option map).
        let e = parse_single_jaas_entry("M optional a=\"1\" a=\"2\";").unwrap();
        assert_eq!(e.option("a"), Some("2"));
        assert_eq!(e.control_flag, "OPTIONAL");
    }

    #[test]
    fn malformed_jaas_is_a_clear_error() {
        let cases = [
            ("", "Login module not specified in JAAS config"),
            ("   // nothing\n", "Login module not specified in JAAS config"),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule",
                "Login module control flag not specified in JAAS config",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule mandatory;",
                "Invalid login module control flag 'mandatory' in JAAS config",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"x\"",
                "JAAS config entry not terminated by semi-colon",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_a;",
                "Value not specified for key 'user_a' in JAAS config",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=;",
                "Value not specified for key 'user_a' in JAAS config",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"x;",
                "unterminated quoted value",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"x\"; org.apache.kafka.common.security.plain.PlainLoginModule required;",
                "JAAS config property contains 2 login modules, should be 1 module",
            ),
            (
                "org.apache.kafka.common.security.scram.ScramLoginModule required user_a=\"x\";",
                "the PLAIN JAAS config names login module 'org.apache.kafka.common.security.scram.ScramLoginModule'",
            ),
            ("/* open", "unterminated /* comment"),
        ];
        for (cfg, want) in cases {
            let err = PlainUsers::from_jaas(cfg).unwrap_err();
            assert!(
                err.0.contains(want),
                "{cfg:?}: got {:?}, want {want:?}",
                err.0
            );
        }
    }

    #[test]
    fn plain_exchange_accepts_the_right_password() {
        let step = run(b"\0alice\0alice-secret").unwrap();
        assert_eq!(
            step,
            SaslStep::Done {
                response: vec![],
                principal: KafkaPrincipal::user("alice")
            }
        );
        // authzid equal to the user is accepted.
        let step = run(b"alice\0alice\0alice-secret").unwrap();
        assert!(
            matches!(step, SaslStep::Done { principal, .. } if principal == KafkaPrincipal::user("alice"))
        );
    }

    #[test]
    fn plain_failures_are_kafkas_and_leak_nothing() {
        // Unknown user and wrong password: the same message.
        assert_eq!(
            run(b"\0alice\0wrong"),
            Err(SaslError::Failed(PLAIN_INVALID.into()))
        );
        assert_eq!(
            run(b"\0mallory\0alice-secret"),
            Err(SaslError::Failed(PLAIN_INVALID.into()))
        );
        assert_eq!(
            run(b"admin\0alice\0alice-secret"),
            Err(SaslError::Failed(AUTHZID_MISMATCH.into()))
        );
        // authzid mismatch with a wrong password says only "invalid" (the password is checked first).
        assert_eq!(
            run(b"admin\0alice\0nope"),
            Err(SaslError::Failed(PLAIN_INVALID.into()))
        );
        assert_eq!(
            run(b"\0\0x"),
            Err(SaslError::Failed(
                "Authentication failed: username not specified".into()
            ))
        );
        assert_eq!(
            run(b"\0alice\0"),
            Err(SaslError::Failed(
                "Authentication failed: password not specified".into()
            ))
        );
        assert_eq!(
            run(b"alice\0alice-secret"),
            Err(SaslError::Malformed(
                "Invalid SASL/PLAIN response: expected 3 tokens, got 2".into()
            ))
        );
        assert_eq!(
            run(b"\0alice\0alice-secret\0"),
            Err(SaslError::Malformed(
                "Invalid SASL/PLAIN response: expected 3 tokens, got 4".into()
            ))
        );
        assert!(matches!(
            run(b"\0al\xffice\0x"),
            Err(SaslError::Malformed(_))
        ));
        assert!(matches!(run(b""), Err(SaslError::Malformed(_))));
    }

    #[test]
    fn plain_refuses_a_second_token() {
        let mut s = PlainServer::new(store());
        assert!(s.step(b"\0alice\0alice-secret").is_ok());
        assert!(matches!(
            s.step(b"\0alice\0alice-secret"),
            Err(SaslError::Malformed(_))
        ));
        let mut s = PlainServer::new(store());
        assert!(s.step(b"\0alice\0bad").is_err());
        assert!(matches!(
            s.step(b"\0alice\0alice-secret"),
            Err(SaslError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn plain_never_panics_on_arbitrary_bytes(tokens in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..4)) {
            let mut s = PlainServer::new(store());
            for t in &tokens {
                match s.step(t) {
                    Ok(SaslStep::Done { principal, .. }) => prop_assert!(principal.name == "alice" || principal.name == "admin"),
                    Ok(SaslStep::Continue(_)) => prop_assert!(false, "PLAIN never continues"),
                    Err(_) => {}
                }
            }
        }

        #[test]
        fn jaas_parser_never_panics(s in "[ -~\\n\\t]{0,80}") {
            let _ = parse_jaas_config(&s);
            let _ = PlainUsers::from_jaas(&s);
        }

        #[test]
        fn jaas_round_trips_any_quoted_password(pw in "[ -~]{0,40}") {
            let escaped = pw.replace('\\', "\\\\").replace('"', "\\\"");
            let cfg = format!("{PLAIN_LOGIN_MODULE} required user_u=\"{escaped}\";");
            let users = PlainUsers::from_jaas(&cfg).unwrap();
            prop_assert!(users.plain_password_ok("u", &pw));
        }
    }
}
