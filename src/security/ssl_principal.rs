//! The principal of a TLS client certificate, as Kafka builds it: the subject's distinguished
//! name in RFC 2253 form (what Java's `X500Principal.getName()` prints: the last RDN first,
//! `CN=alice,OU=eng,O=acme,C=US`), then `ssl.principal.mapping.rules` (Kafka's
//! `SslPrincipalMapper`): a comma-separated list of `RULE:pattern/replacement/[LU]` and
//! `DEFAULT`. The first rule whose pattern matches the whole DN gives the name (with `$1`
//! groups; `L`/`U` lower/upper-case it); `DEFAULT` gives the DN itself; no matching rule is an
//! authentication failure, as in Kafka.
//!
//! Pure: certificate bytes in, a name out.

use std::fmt::Write as _;

use regex::Regex;
use x509_parser::prelude::*;

/// One mapping rule.
#[derive(Debug, Clone)]
enum Rule {
    Default,
    Map {
        /// Anchored: the pattern must match the whole DN (Java's `matches()`).
        whole: Regex,
        pattern: Regex,
        /// In the regex crate's syntax (`${1}`).
        replacement: String,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// `ssl.principal.mapping.rules`, parsed.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
    text: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("invalid ssl.principal.mapping.rules: {0}")]
    BadRules(String),
    #[error("no rules apply to {dn}, rules {rules}")]
    NoRuleApplies { dn: String, rules: String },
}

impl PrincipalMapper {
    /// Parse the rules (Kafka's syntax; `/` inside a pattern or replacement is written `\/`).
    pub fn parse(text: &str) -> Result<PrincipalMapper, MappingError> {
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("DEFAULT") {
                rules.push(Rule::Default);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("RULE:") {
                let (pattern, after) = take_part(after).ok_or_else(|| {
                    MappingError::BadRules(format!("unterminated rule in {text}"))
                })?;
                let (replacement, after) = take_part(after).ok_or_else(|| {
                    MappingError::BadRules(format!("unterminated rule in {text}"))
                })?;
                let (case, after) = match after.chars().next() {
                    Some('L') => (Case::Lower, &after[1..]),
                    Some('U') => (Case::Upper, &after[1..]),
                    _ => (Case::Keep, after),
                };
                let bad = |e: regex::Error| MappingError::BadRules(format!("{pattern}: {e}"));
                rules.push(Rule::Map {
                    whole: Regex::new(&format!("^(?:{pattern})$")).map_err(bad)?,
                    pattern: Regex::new(&pattern).map_err(bad)?,
                    replacement: java_replacement(&replacement),
                    case,
                });
                rest = after;
            } else {
                return Err(MappingError::BadRules(format!(
                    "expected RULE: or DEFAULT at '{rest}'"
                )));
            }
            rest = rest.trim_start();
            match rest.strip_prefix(',') {
                Some(r) => rest = r.trim_start(),
                None if rest.is_empty() => {}
                None => {
                    return Err(MappingError::BadRules(format!(
                        "expected ',' between rules at '{rest}'"
                    )))
                }
            }
        }
        if rules.is_empty() {
            rules.push(Rule::Default);
        }
        Ok(PrincipalMapper {
            rules,
            text: text.to_string(),
        })
    }

    /// The principal name for a DN.
    pub fn map(&self, dn: &str) -> Result<String, MappingError> {
        for rule in &self.rules {
            match rule {
                Rule::Default => return Ok(dn.to_string()),
                Rule::Map {
                    whole,
                    pattern,
                    replacement,
                    case,
                } => {
                    if !whole.is_match(dn) {
                        continue;
                    }
                    let name = pattern.replace_all(dn, replacement.as_str()).into_owned();
                    return Ok(match case {
                        Case::Keep => name,
                        Case::Lower => name.to_lowercase(),
                        Case::Upper => name.to_uppercase(),
                    });
                }
            }
        }
        Err(MappingError::NoRuleApplies {
            dn: dn.to_string(),
            rules: self.text.clone(),
        })
    }
}

/// One `/`-terminated part of a rule, with `\/` unescaped; None without the closing `/`.
fn take_part(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '/')) => out.push('/'),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => return None,
            },
            '/' => return Some((out, &s[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

/// Java's `$1` group references as the regex crate's `${1}` (so `$1a` stays group 1 then
/// 'a'); `\$` is a literal dollar.
fn java_replacement(r: &str) -> String {
    let mut out = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => {}
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    let _ = write!(out, "${{{digits}}}");
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The subject DN of a DER certificate in RFC 2253 form (Java's `X500Principal.getName()`).
pub fn subject_dn(cert_der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    Some(rfc2253(cert.subject()))
}

fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    match keyword(&oid) {
                        Some(k) => match atv.as_str() {
                            Ok(v) => format!("{k}={}", escape(v)),
                            Err(_) => format!("{k}=#{}", hex(atv.attr_value().data)),
                        },
                        None => format!("{oid}=#{}", hex(&attr_der(atv))),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The keywords Java prints in RFC 2253 form; other attribute types print as OIDs.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The attribute value's DER encoding (tag, length, content), as `#hex` shows it.
fn attr_der(atv: &AttributeTypeAndValue<'_>) -> Vec<u8> {
    let v = atv.attr_value();
    let data = v.data;
    let mut out = vec![v.header.tag().0 as u8];
    let len = data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(data);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// RFC 2253 escaping of an attribute value.
fn escape(v: &str) -> String {
    let mut out = String::new();
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keeps_the_dn() {
        let m = PrincipalMapper::parse("DEFAULT").unwrap();
        assert_eq!(m.map("CN=alice,OU=eng").unwrap(), "CN=alice,OU=eng");
    }

    #[test]
    fn kafka_documented_rules() {
        // The examples of Kafka's documentation (security.html, "Customizing SSL User Name").
        let m = PrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT",
        )
        .unwrap();
        assert_eq!(
            m.map("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .unwrap(),
            "serviceuser"
        );
        assert_eq!(
            m.map("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .unwrap(),
            "adminuser@admin"
        );
        assert_eq!(m.map("CN=Bob.Smith,DC=example").unwrap(), "bob.smith");
        assert_eq!(m.map("O=none").unwrap(), "O=none");
    }

    #[test]
    fn upper_case_escaped_slash_and_no_match() {
        let m = PrincipalMapper::parse("RULE:^CN=([^,]*),O=a\\/b$/$1x/U").unwrap();
        assert_eq!(m.map("CN=joe,O=a/b").unwrap(), "JOEX");
        let e = m.map("CN=joe,O=c").unwrap_err();
        assert!(e.to_string().starts_with("no rules apply to CN=joe,O=c"));
        assert!(PrincipalMapper::parse("RULE:unterminated").is_err());
        assert!(PrincipalMapper::parse("RULE:(/x/,").is_err());
        assert!(PrincipalMapper::parse("NOPE").is_err());
    }

    /// Made with `openssl req -subj "/C=US/O=acme/OU=eng/CN=alice"`; `openssl x509 -noout
    /// -subject -nameopt RFC2253` prints `CN=alice,OU=eng,O=acme,C=US`, as Java does.
    const OPENSSL_CLIENT_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIDSDCCAjCgAwIBAgIUJWsE8ApkXxxwaCyjzVqGKGPzCj8wDQYJKoZIhvcNAQEL\nBQAwETEPMA0GA1UEAwwGdGVzdGNhMB4XDTI2MTIwNzA2NDMzMFoXDTI2MTIwOTA2\nNDMzMFowOjELMAkGA1UEBhMCVVMxDTALBgNVBAoMBGFjbWUxDDAKBgNVBAsMA2Vu\nZzEOMAwGA1UEAwwFYWxpY2UwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIB\nAQDV828onSN3bI1+/zeKomM7UPzlAZli38kheiExzF2yfyoDmF1a29f6xzxa2bpr\n1QTPwSJX3t98jDQprhKRFxTpMOD2snX9L1szX2vQ0V90g7fXYCH2JHhB+V9s/uhA\nzg3tkux8PjwX6G1ZVzirv2A284mDSKzfhre4lU713MxOFl/5ksB0kHtIuPhhKLn6\niVeL+1TkVhysQDU6z/PfgyJHR/EMlfhyHC5aMaXGzwYousIFSQvBaiGzT9hRpTJE\nE0jTruy+EarFpwSiTn4al72H7b+Tw7hXMz3jgXWoRN9yfCkDV0k2Tm503OXBEgRT\nWC6HbEULAzsDX5EZmcW+Rp8NAgMBAAGjbzBtMAkGA1UdEwQCMAAwCwYDVR0PBAQD\nAgWgMBMGA1UdJQQMMAoGCCsGAQUFBwMCMB0GA1UdDgQWBBTPsmBrUzY5gnfYdx1U\n+xPBmab4zzAfBgNVHSMEGDAWgBRijG+/+rwPTkSWNOCOwfTBqVO0eTANBgkqhkiG\n9w0BAQsFAAOCAQEAEIpOcgttQR+0rLBatzngAmPlUZeThCz/WWRt4QevWmNXpVZ6\ncPMsKqwX2YWmybZ29gpx67osLWXZOC1U3LbyDc3eHLlIMvGyDWoN6L2d5jTDwZTT\nuJAO1q388lD+r41MvR0XCq8nIJVtKgeC3KtkdPPpX8CXUY2gydjsmOmXy1aPnnfX\nC0s6wwc6DCtiaopjvKnZsFzPyyJqN57giHt8LVFySHPZtB9LbXTdrmSQnVOdSp8h\n1ceZT0jq3rLcr+iEMLNeq/q3FUDMPqxl/m4tVt1dTzkZqd4GyeJsydqQ47IcvNty\nSLKepGuSgBzFG6M0YjpgH7P25DJovNUvp3UjBQ==\n-----END CERTIFICATE-----";

    #[test]
    fn subject_dns_print_as_java_and_openssl_do() {
        let blocks = crate::security::pem::pem_blocks(OPENSSL_CLIENT_CERT).unwrap();
        assert_eq!(
            subject_dn(&blocks[0].der).unwrap(),
            "CN=alice,OU=eng,O=acme,C=US"
        );
        assert_eq!(subject_dn(b"garbage"), None);
    }

    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(escape("Acme, Inc"), "Acme\\, Inc");
        assert_eq!(escape(" a+b "), "\\ a\\+b\\ ");
        assert_eq!(escape("#x"), "\\#x");
    }
}
