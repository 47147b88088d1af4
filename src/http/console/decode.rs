//! How the message browser shows a key, a value or a header: UTF-8 text, JSON, hex, or —
//! for data framed by the Schema Registry's serializers (magic byte 0, then the schema id
//! as 4 bytes big-endian, then the serialized data) — the schema it names, and the data
//! decoded.
//!
//! Framing is recognised only when the id is one the registry knows, so binary data that
//! merely starts with a zero byte stays hex. The data is decoded with the schema
//! (`crate::registry::data`: Avro, Protobuf and JSON Schema data to JSON); data that does not
//! decode is shown as hex with the decoder's error.
//! At most [`MAX_SHOWN`] bytes of any one field are shown (the size is always given).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use std::sync::Arc;

use crate::registry::data::DataSchema;
use crate::registry::records::SchemaType;
use crate::registry::wire::unframe_id;

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
#[derive(Clone)]
pub struct SchemaInfo {
    pub subject: String,
    pub version: i32,
    pub schema_type: SchemaType,
    /// The schema parsed for decoding, or why it does not parse.
    pub data: Result<Arc<DataSchema>, String>,
}

/// The schemas of the ids the framed fields of one page name.
pub type Schemas = HashMap<i32, SchemaInfo>;

/// `payload` (what follows the magic byte and id) decoded to JSON with the schema.
fn decode_with_schema(info: &SchemaInfo, payload: &[u8]) -> Result<Value, String> {
    match &info.data {
        Ok(d) => d.decode(payload),
        Err(e) => Err(format!("the schema does not parse: {e}")),
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
        Ok(d) => {
            v.insert("decoded".into(), d);
        }
        Err(e) => {
            v.insert("decode_error".into(), json!(e));
        }
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

    fn info(id: i32, subject: &str, version: i32, t: SchemaType, text: &str) -> SchemaInfo {
        let (parsed, _) = crate::registry::schema::parse(t, text, &[]).expect("parses");
        SchemaInfo {
            subject: subject.into(),
            version,
            schema_type: t,
            data: Ok(Arc::new(DataSchema::from_parsed(id, t, parsed))),
        }
    }

    fn schemas() -> Schemas {
        let mut m = Schemas::new();
        m.insert(7, info(7, "orders-value", 2, SchemaType::Json, "{}"));
        m.insert(8, info(8, "users-value", 1, SchemaType::Avro, "\"string\""));
        m.insert(
            9,
            info(
                9,
                "events-value",
                1,
                SchemaType::Protobuf,
                "syntax = \"proto3\"; message E { string n = 1; }",
            ),
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
        // Avro: decoded.
        let v = show(&[0, 0, 0, 0, 8, 6, b'a', b'b', b'c'], Format::Auto, &s);
        assert_eq!(
            (v["schema_type"].as_str(), &v["decoded"]),
            (Some("AVRO"), &json!("abc"))
        );
        // Avro that does not decode: the hex and the decoder's error.
        let v = show(&[0, 0, 0, 0, 8, 9, b'a'], Format::Auto, &s);
        assert_eq!(v["hex"], "0961");
        assert!(v["decode_error"].is_string(), "{v}");
        // Protobuf: message indexes [0], then field 1 = "hi".
        let v = show(&[0, 0, 0, 0, 9, 0, 0x0a, 2, b'h', b'i'], Format::Auto, &s);
        assert_eq!(
            (v["schema_type"].as_str(), &v["decoded"]),
            (Some("PROTOBUF"), &json!({"n": "hi"}))
        );
        // An id the registry does not know: not framing.
        assert_eq!(
            show(&[0, 0, 0, 0, 10, 1], Format::Auto, &s)["encoding"],
            "hex"
        );
        // Asked for hex: hex.
        assert_eq!(show(&framed[..5], Format::Hex, &s)["hex"], "0000000007");
    }
}
