//! Fuzz the SASL mechanisms' server side (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and the JAAS
//! config parser: the first byte picks the mechanism, the rest is split at 0xFF bytes into the
//! client's tokens. Must never panic, whatever the bytes, and only ever authenticate as the one
//! user there is (a fuzzer that finds the password has found no bug).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use skua::security::plain::PlainUsers;
use skua::security::sasl::{new_server, CompositeStore, CredentialStore, SaslStep};
use skua::security::scram::{ScramCredential, ScramMechanism};

struct Scram;
impl CredentialStore for Scram {
    fn plain_password_ok(&self, _: &str, _: &str) -> bool {
        false
    }
    fn scram_credential(&self, user: &str, m: ScramMechanism) -> Option<ScramCredential> {
        (user == "alice").then(|| {
            ScramCredential::from_password(m, "a-long-unguessable-password", b"salt", 4096)
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    if let Ok(s) = std::str::from_utf8(rest) {
        let _ = skua::security::plain::parse_jaas_config(s);
    }
    let plain = PlainUsers::from_jaas(
        "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"a-long-unguessable-password\";",
    )
    .unwrap_or_default();
    let store: Arc<dyn CredentialStore> = Arc::new(CompositeStore {
        plain,
        scram: Some(Arc::new(Scram)),
    });
    let mech = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"][pick as usize % 3];
    let Some(mut server) = new_server(mech, store) else {
        return;
    };
    for token in rest.split(|b| *b == 0xFF).take(4) {
        match server.step(token) {
            Ok(SaslStep::Done { principal, .. }) => {
                assert_eq!(principal.to_string(), "User:alice", "{mech}");
                break;
            }
            Ok(SaslStep::Continue(_)) => {}
            Err(_) => break,
        }
    }
});
