//! Fuzz what skua decodes around a TLS handshake: PEM files (key and certificate stores), the
//! subject DN of a client certificate (DER, RFC 2253 text), and `ssl.principal.mapping.rules`
//! (parsed, then applied to a DN). The first byte picks the decoder. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skua::security::pem::{certs_of, key_of, pem_blocks};
use skua::security::ssl_principal::{subject_dn, PrincipalMapper};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                if let Ok(blocks) = pem_blocks(text) {
                    for c in certs_of(&blocks) {
                        let _ = subject_dn(c.as_ref());
                    }
                    let _ = key_of(&blocks);
                }
            }
        }
        1 => {
            if let Some(dn) = subject_dn(rest) {
                let _ = PrincipalMapper::parse("DEFAULT").map(|m| m.map(&dn));
            }
        }
        _ => {
            // rules, a 0xFF byte, then a DN to map with them
            let mut parts = rest.splitn(2, |b| *b == 0xFF);
            let rules = parts.next().unwrap_or_default();
            let dn = parts.next().unwrap_or_default();
            if let (Ok(rules), Ok(dn)) = (std::str::from_utf8(rules), std::str::from_utf8(dn)) {
                if let Ok(m) = PrincipalMapper::parse(rules) {
                    let _ = m.map(dn);
                }
            }
        }
    }
});
