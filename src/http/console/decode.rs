//! How the message browser shows a key, a value or a header: UTF-8 text, JSON, hex, or —
//! for data framed by the Schema Registry's serializers (magic byte 0, then the schema id
//! as 4 bytes big-endian, then the serialized data) — the schema it names, and the data
//! decoded where a decoder exists.
//!
//! Framing is recognised only when the id is one the registry knows, so binary data that
//! merely starts with a zero byte stays hex. JSON Schema payloads are JSON text and are
//! shown parsed; Avro payloads go through [`decode_with_schema`] (see there); Protobuf
//! payloads (message indexes, then the message) are shown as hex with their schema id.
//! At most [`MAX_SHOWN`] bytes of any one field are shown (the size is always given).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::registry::records::SchemaType;

/// The most bytes of one key, value or header shown (as text, or hex: twice as many chars).
pub const MAX_SHOWN: usize = 8 << 10;

/// How a field is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Schema framing, else JSON, else text, else hex, whichever fits first.
    Auto,
    Text,
    Json,
    Hex,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "auto" => Format::Auto,
            "text" => Format::Text,
            "json" => Format::Json,
            "hex" => Format::Hex,
            _ => return None,
        })
    }
}

/// What the registry says about a schema id.
#[derive(Debug, Clone)]
pub struct SchemaInfo {
    pub subject: String,
    pub version: i32,
    pub schema_type: SchemaType,
    /// The schema's text (the Avro decoder parses it, once connected).
    #[allow(dead_code)]
    pub schema: String,
}

/// The schemas of the ids the framed fields of one page name.
pub type Schemas = HashMap<i32, SchemaInfo>;

/// The schema id of data framed by the registry's serializers and the bytes after it.
/// (Same as `registry::wire::unframe_id`, which is on another branch: use that one once
/// merged.)
pub fn unframe_id(data: &[u8]) -> Option<(i32, &[u8])> {
    match data {
        [0, a, b, c, d, rest @ ..] => Some((i32::from_be_bytes([*a, *b, *c, *d]), rest)),
        _ => None,
    }
}

/// THE one place to connect a decoder of registry-framed data to JSON: `payload` is what
/// follows the magic byte and id. Today only JSON Schema payloads (JSON text) decode; Avro
/// answers None (shown as "schema id N" and hex) until `registry::avro_data` is merged, when
/// this becomes:
///
/// ```ignore
/// SchemaType::Avro => Some(
///     crate::registry::avro::AvroSchema::parse(&info.schema)
///         .and_then(|s| crate::registry::avro_data::decode_to_json(&s, payload)),
/// ),
/// ```
pub fn decode_with_schema(info: &SchemaInfo, payload: &[u8]) -> Option<Result<Value, String>> {
    match info.schema_type {
        SchemaType::Json => Some(serde_json::from_slice(payload).map_err(|e| e.to_string())),
        SchemaType::Avro | SchemaType::Protobuf => None,
    }
}

fn hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The shown prefix of `data` and whether it was cut.
fn shown(data: &[u8]) -> (&[u8], bool) {
    if data.len() > MAX_SHOWN {
        (&data[..MAX_SHOWN], true)
    } else {
        (data, false)
    }
}

fn as_hex(data: &[u8], note: Option<&str>) -> Value {
    let (s, cut) = shown(data);
    let mut v = json!({ "size": data.len(), "encoding": "hex", "hex": hex(s), "truncated": cut });
    if let Some(n) = note {
        v["note"] = json!(n);
    }
    v
}

/// Text the eye can read: UTF-8 without control characters other than tab and newlines.
fn readable(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

fn as_text(data: &[u8], s: &str) -> Value {
    let (prefix, cut) = shown(data);
    // A cut may fall inside a character: keep the valid part.
    let text = if cut {
        match std::str::from_utf8(prefix) {
            Ok(t) => t,
            Err(e) => &s[..e.valid_up_to()],
        }
    } else {
        s
    };
    json!({ "size": data.len(), "encoding": "text", "text": text, "truncated": cut })
}

/// JSON if `s` is a whole JSON document (object or array; a bare `12` stays text): the
/// text as sent and re-indented, every token as written (key order, number spelling).
fn as_json(data: &[u8], s: &str) -> Option<Value> {
    let t = s.trim_start();
    if data.len() > MAX_SHOWN || !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<serde::de::IgnoredAny>(s).ok()?;
    Some(json!({ "size": data.len(), "encoding": "json", "text": s, "pretty": pretty_json(s) }))
}

/// Valid JSON text `s` re-indented by two spaces; strings, numbers and key order untouched.
pub fn pretty_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    let mut depth = 0usize;
    let (mut in_str, mut escaped) = (false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', depth * 2));
    };
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                out.push(c);
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

fn as_schema(data: &[u8], id: i32, payload: &[u8], info: &SchemaInfo) -> Value {
    let (s, cut) = shown(payload);
    let mut v = Map::new();
    v.insert("size".into(), json!(data.len()));
    v.insert("encoding".into(), json!("schema"));
    v.insert("schema_id".into(), json!(id));
    v.insert("schema_type".into(), json!(info.schema_type.name()));
    v.insert("subject".into(), json!(info.subject));
    v.insert("version".into(), json!(info.version));
    match decode_with_schema(info, payload) {
        Some(Ok(d)) => {
            v.insert("decoded".into(), d);
        }
        Some(Err(e)) => {
            v.insert("decode_error".into(), json!(e));
        }
        None => {}
    }
    if !v.contains_key("decoded") {
        v.insert("hex".into(), json!(hex(s)));
        v.insert("truncated".into(), json!(cut));
    }
    Value::Object(v)
}

/// How `data` is shown in `format`.
pub fn show(data: &[u8], format: Format, schemas: &Schemas) -> Value {
    if format == Format::Hex {
        return as_hex(data, None);
    }
    if format == Format::Auto {
        if let Some((id, payload)) = unframe_id(data) {
            if let Some(info) = schemas.get(&id) {
                return as_schema(data, id, payload, info);
            }
        }
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return as_hex(data, (format != Format::Auto).then_some("not UTF-8"));
    };
    match format {
        Format::Json => as_json(data, s).unwrap_or_else(|| {
            let mut v = as_text(data, s);
            v["note"] = json!("not a JSON object or array");
            v
        }),
        Format::Text => as_text(data, s),
        _ => as_json(data, s).unwrap_or_else(|| {
            if readable(s) {
                as_text(data, s)
            } else {
                as_hex(data, None)
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> Schemas {
        let mut m = Schemas::new();
        m.insert(
            7,
            SchemaInfo {
                subject: "orders-value".into(),
                version: 2,
                schema_type: SchemaType::Json,
                schema: "{}".into(),
            },
        );
        m.insert(
            8,
            SchemaInfo {
                subject: "users-value".into(),
                version: 1,
                schema_type: SchemaType::Avro,
                schema: "\"string\"".into(),
            },
        );
        m
    }

    #[test]
    fn text_json_and_hex() {
        let s = Schemas::new();
        assert_eq!(show(b"hello", Format::Auto, &s)["text"], "hello");
        let j = show(
            br#"{"z": [1, 2.50], "a": {}, "s": "x,{\"y"}"#,
            Format::Auto,
            &s,
        );
        assert_eq!(j["encoding"], "json");
        assert_eq!(j["text"], r#"{"z": [1, 2.50], "a": {}, "s": "x,{\"y"}"#);
        assert_eq!(
            j["pretty"],
            "{\n  \"z\": [\n    1,\n    2.50\n  ],\n  \"a\": {},\n  \"s\": \"x,{\\\"y\"\n}"
        );
        assert_eq!(show(b"12", Format::Auto, &s)["encoding"], "text");
        assert_eq!(show(&[0xff, 0x00], Format::Auto, &s)["hex"], "ff00");
        assert_eq!(show(b"a\x01b", Format::Auto, &s)["encoding"], "hex");
        assert_eq!(show(b"hi", Format::Hex, &s)["hex"], "6869");
        assert_eq!(
            show(b"hi", Format::Json, &s)["note"],
            "not a JSON object or array"
        );
        assert_eq!(show(&[0xff], Format::Text, &s)["note"], "not UTF-8");
        let big = vec![b'x'; MAX_SHOWN + 10];
        let v = show(&big, Format::Auto, &s);
        assert_eq!(
            (v["size"].as_u64(), v["truncated"].as_bool()),
            (Some(MAX_SHOWN as u64 + 10), Some(true))
        );
        assert_eq!(v["text"].as_str().map(str::len), Some(MAX_SHOWN));
    }

    #[test]
    fn registry_framing() {
        let s = schemas();
        let mut framed = vec![0, 0, 0, 0, 7];
        framed.extend_from_slice(br#"{"id":1}"#);
        let v = show(&framed, Format::Auto, &s);
        assert_eq!(v["encoding"], "schema");
        assert_eq!(
            (v["schema_id"].as_i64(), v["subject"].as_str()),
            (Some(7), Some("orders-value"))
        );
        assert_eq!(v["decoded"], json!({"id": 1}));
        // Avro: the id and the hex until the decoder is connected.
        let v = show(&[0, 0, 0, 0, 8, 6, b'a', b'b', b'c'], Format::Auto, &s);
        assert_eq!(
            (v["schema_type"].as_str(), v["hex"].as_str()),
            (Some("AVRO"), Some("06616263"))
        );
        // An id the registry does not know: not framing.
        assert_eq!(
            show(&[0, 0, 0, 0, 9, 1], Format::Auto, &s)["encoding"],
            "hex"
        );
        // Asked for hex: hex.
        assert_eq!(show(&framed[..5], Format::Hex, &s)["hex"], "0000000007");
    }
}
