//! PEM text (RFC 7468) as Kafka's PEM key and trust stores hold it: certificates and
//! unencrypted private keys. Pure parsing.

use base64::Engine as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A PEM block: its label and DER bytes.
pub struct Block {
    pub label: String,
    pub der: Vec<u8>,
}

/// Every `-----BEGIN X-----` ... `-----END X-----` block. Whitespace inside the base64 is
/// ignored, so PEM text given on one line (Java properties' continuation lines join the lines
/// of an inline `ssl.keystore.key`) parses as Kafka's PEM reader does.
pub fn pem_blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(end_label) = after.find("-----") else {
            return Err("malformed PEM header".into());
        };
        let label = after[..end_label].to_string();
        let body_start = &after[end_label + 5..];
        let footer = format!("-----END {label}-----");
        let Some(end) = body_start.find(&footer) else {
            return Err(format!("PEM block {label} has no end"));
        };
        let b64: String = body_start[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("PEM block {label}: {e}"))?;
        out.push(Block { label, der });
        rest = &body_start[end + footer.len()..];
    }
    if out.is_empty() {
        return Err("no PEM block found".into());
    }
    Ok(out)
}

/// The certificates among the blocks, in order.
pub fn certs_of(blocks: &[Block]) -> Vec<CertificateDer<'static>> {
    blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.der.clone()))
        .collect()
}

/// The first private key among the blocks (PKCS#8, PKCS#1 or SEC1); encrypted keys are refused.
pub fn key_of(blocks: &[Block]) -> Result<Option<PrivateKeyDer<'static>>, String> {
    for b in blocks {
        match b.label.as_str() {
            "PRIVATE KEY" => return Ok(Some(PrivateKeyDer::Pkcs8(b.der.clone().into()))),
            "RSA PRIVATE KEY" => return Ok(Some(PrivateKeyDer::Pkcs1(b.der.clone().into()))),
            "EC PRIVATE KEY" => return Ok(Some(PrivateKeyDer::Sec1(b.der.clone().into()))),
            "ENCRYPTED PRIVATE KEY" => {
                return Err("encrypted private keys are not supported".into())
            }
            _ => {}
        }
    }
    Ok(None)
}
