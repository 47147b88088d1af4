//! The records of `_schemas`, the Schema Registry's compacted one-partition topic, in
//! Confluent's format (so the data moves between skua and Confluent's registry): UTF-8 JSON
//! keys and values.
//!
//! Keys, written byte for byte in Confluent's field order (compaction compares key bytes, so
//! one logical key must always encode alike):
//! - `{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`
//! - `{"keytype":"CONFIG","subject":"s","magic":0}`, global `{"keytype":"CONFIG","magic":0}`
//! - `{"keytype":"MODE","subject":"s","magic":0}`, global `{"keytype":"MODE","magic":0}`
//! - `{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}`
//! - `{"keytype":"CLEAR_SUBJECT","subject":"s","magic":0}`
//! - `{"keytype":"NOOP","magic":0}`
//!
//! Values: SCHEMA `{"subject","version","id","schemaType"?,"references"?,"schema","deleted"}`
//! (`schemaType` absent means AVRO, `references` omitted when empty); CONFIG
//! `{"subject"?,"compatibilityLevel"}`; MODE `{"subject"?,"mode"}`; DELETE_SUBJECT
//! `{"subject","version"}` (versions 1..=version are deleted); CLEAR_SUBJECT `{"subject"}`. A
//! null value (tombstone) removes the key's state. Reading is lenient, as Confluent's: any
//! field order, unknown fields ignored, `subject` null or absent on global keys; a key type
//! skua does not know decodes as [`Key::Other`] and is skipped.

use serde_json::{Map, Value};

/// A `_schemas` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Schema {
        subject: String,
        version: i32,
    },
    /// None: the global config.
    Config {
        subject: Option<String>,
    },
    /// None: the global mode.
    Mode {
        subject: Option<String>,
    },
    DeleteSubject {
        subject: String,
    },
    ClearSubject {
        subject: String,
    },
    Noop,
    /// A key type skua does not know (newer registries' CONTEXT, ASSOC, …).
    Other(String),
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("field {0} missing or of the wrong type")]
    Field(&'static str),
    #[error("magic byte {0} not supported")]
    Magic(i64),
}

fn object(buf: &[u8]) -> Result<Map<String, Value>, RecordError> {
    match serde_json::from_slice::<Value>(buf) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(RecordError::Json("not an object".into())),
        Err(e) => Err(RecordError::Json(e.to_string())),
    }
}

fn string(m: &Map<String, Value>, f: &'static str) -> Result<String, RecordError> {
    m.get(f)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(RecordError::Field(f))
}

fn opt_string(m: &Map<String, Value>, f: &str) -> Option<String> {
    m.get(f).and_then(Value::as_str).map(str::to_string)
}

fn int(m: &Map<String, Value>, f: &'static str) -> Result<i32, RecordError> {
    m.get(f)
        .and_then(Value::as_i64)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or(RecordError::Field(f))
}

/// JSON text of `s` (quoted and escaped).
fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

impl Key {
    pub fn encode(&self) -> Vec<u8> {
        let with_subject = |t: &str, s: &Option<String>| match s {
            Some(s) => format!(r#"{{"keytype":"{t}","subject":{},"magic":0}}"#, quoted(s)),
            None => format!(r#"{{"keytype":"{t}","magic":0}}"#),
        };
        match self {
            Key::Schema { subject, version } => format!(
                r#"{{"keytype":"SCHEMA","subject":{},"version":{version},"magic":1}}"#,
                quoted(subject)
            ),
            Key::Config { subject } => with_subject("CONFIG", subject),
            Key::Mode { subject } => with_subject("MODE", subject),
            Key::DeleteSubject { subject } => {
                with_subject("DELETE_SUBJECT", &Some(subject.clone()))
            }
            Key::ClearSubject { subject } => with_subject("CLEAR_SUBJECT", &Some(subject.clone())),
            Key::Noop => r#"{"keytype":"NOOP","magic":0}"#.to_string(),
            Key::Other(t) => format!(r#"{{"keytype":{},"magic":0}}"#, quoted(t)),
        }
        .into_bytes()
    }

    pub fn decode(buf: &[u8]) -> Result<Key, RecordError> {
        let m = object(buf)?;
        let keytype = string(&m, "keytype")?;
        let magic = m.get("magic").and_then(Value::as_i64).unwrap_or(0);
        let max_magic = if keytype == "SCHEMA" { 1 } else { 0 };
        if !(0..=max_magic).contains(&magic) {
            return Err(RecordError::Magic(magic));
        }
        Ok(match keytype.as_str() {
            "SCHEMA" => Key::Schema {
                subject: string(&m, "subject")?,
                version: int(&m, "version")?,
            },
            "CONFIG" => Key::Config {
                subject: opt_string(&m, "subject"),
            },
            "MODE" => Key::Mode {
                subject: opt_string(&m, "subject"),
            },
            "DELETE_SUBJECT" => Key::DeleteSubject {
                subject: string(&m, "subject")?,
            },
            "CLEAR_SUBJECT" => Key::ClearSubject {
                subject: string(&m, "subject")?,
            },
            "NOOP" => Key::Noop,
            other => Key::Other(other.to_string()),
        })
    }
}

/// The schema languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemaType {
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }

    /// Confluent's names; case-insensitive as its `SchemaProvider` lookup.
    pub fn parse(s: &str) -> Option<SchemaType> {
        match s.to_ascii_uppercase().as_str() {
            "AVRO" => Some(SchemaType::Avro),
            "JSON" => Some(SchemaType::Json),
            "PROTOBUF" => Some(SchemaType::Protobuf),
            _ => None,
        }
    }
}

/// A schema's reference to another subject's version (`{"name","subject","version"}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A SCHEMA value: one version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema_type: SchemaType,
    pub references: Vec<Reference>,
    pub schema: String,
    pub deleted: bool,
}

impl SchemaValue {
    /// Confluent's field order (its `SchemaValue` property order).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            r#"{{"subject":{},"version":{},"id":{}"#,
            quoted(&self.subject),
            self.version,
            self.id
        );
        if self.schema_type != SchemaType::Avro {
            out.push_str(&format!(r#","schemaType":"{}""#, self.schema_type.name()));
        }
        if !self.references.is_empty() {
            let refs: Vec<String> = self
                .references
                .iter()
                .map(|r| {
                    format!(
                        r#"{{"name":{},"subject":{},"version":{}}}"#,
                        quoted(&r.name),
                        quoted(&r.subject),
                        r.version
                    )
                })
                .collect();
            out.push_str(&format!(r#","references":[{}]"#, refs.join(",")));
        }
        out.push_str(&format!(
            r#","schema":{},"deleted":{}}}"#,
            quoted(&self.schema),
            self.deleted
        ));
        out.into_bytes()
    }

    pub fn decode(buf: &[u8]) -> Result<SchemaValue, RecordError> {
        let m = object(buf)?;
        let schema_type = match m.get("schemaType").and_then(Value::as_str) {
            None => SchemaType::Avro,
            Some(t) => SchemaType::parse(t).ok_or(RecordError::Field("schemaType"))?,
        };
        let references = match m.get("references") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|r| {
                    let Value::Object(o) = r else {
                        return Err(RecordError::Field("references"));
                    };
                    Ok(Reference {
                        name: string(o, "name")?,
                        subject: string(o, "subject")?,
                        version: int(o, "version")?,
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(RecordError::Field("references")),
        };
        Ok(SchemaValue {
            subject: string(&m, "subject")?,
            version: int(&m, "version")?,
            id: int(&m, "id")?,
            schema_type,
            references,
            schema: string(&m, "schema")?,
            deleted: m.get("deleted").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// A CONFIG value's compatibility level, or a MODE value's mode (the subject comes from the
/// key when the value lacks it, as in legacy records).
pub fn encode_setting(subject: Option<&str>, field: &str, value: &str) -> Vec<u8> {
    match subject {
        Some(s) => format!(
            r#"{{"subject":{},{}:{}}}"#,
            quoted(s),
            quoted(field),
            quoted(value)
        ),
        None => format!(r#"{{{}:{}}}"#, quoted(field), quoted(value)),
    }
    .into_bytes()
}

/// The `compatibilityLevel` of a CONFIG value or the `mode` of a MODE value.
pub fn decode_setting(buf: &[u8], field: &'static str) -> Result<String, RecordError> {
    string(&object(buf)?, field)
}

/// A DELETE_SUBJECT value: `{"subject","version"}`.
pub fn encode_delete_subject(subject: &str, version: i32) -> Vec<u8> {
    format!(r#"{{"subject":{},"version":{version}}}"#, quoted(subject)).into_bytes()
}

/// The highest version a DELETE_SUBJECT value deletes.
pub fn decode_delete_subject(buf: &[u8]) -> Result<i32, RecordError> {
    int(&object(buf)?, "version")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_encode_in_confluents_byte_order_and_decode_leniently() {
        let cases = [
            (
                Key::Schema {
                    subject: "orders-value".into(),
                    version: 3,
                },
                r#"{"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1}"#,
            ),
            (
                Key::Config { subject: None },
                r#"{"keytype":"CONFIG","magic":0}"#,
            ),
            (
                Key::Config {
                    subject: Some("s".into()),
                },
                r#"{"keytype":"CONFIG","subject":"s","magic":0}"#,
            ),
            (
                Key::Mode { subject: None },
                r#"{"keytype":"MODE","magic":0}"#,
            ),
            (
                Key::DeleteSubject {
                    subject: "a\"b".into(),
                },
                r#"{"keytype":"DELETE_SUBJECT","subject":"a\"b","magic":0}"#,
            ),
            (Key::Noop, r#"{"keytype":"NOOP","magic":0}"#),
        ];
        for (key, text) in cases {
            assert_eq!(String::from_utf8(key.encode()).unwrap(), text);
            assert_eq!(Key::decode(text.as_bytes()).unwrap(), key);
        }
        // Another field order, a null subject, unknown fields: as Confluent reads them.
        assert_eq!(
            Key::decode(br#"{"magic":0,"subject":null,"keytype":"CONFIG","x":1}"#).unwrap(),
            Key::Config { subject: None }
        );
        assert_eq!(
            Key::decode(br#"{"keytype":"CONTEXT","magic":0}"#).unwrap(),
            Key::Other("CONTEXT".into())
        );
        assert_eq!(
            Key::decode(br#"{"keytype":"CONFIG","magic":1}"#),
            Err(RecordError::Magic(1))
        );
        assert!(Key::decode(br#"{"keytype":"SCHEMA","magic":1}"#).is_err());
        assert!(Key::decode(b"[1]").is_err());
        assert!(Key::decode(b"\xff").is_err());
    }

    #[test]
    fn schema_values_round_trip_with_confluents_defaults() {
        let v = SchemaValue {
            subject: "s".into(),
            version: 2,
            id: 7,
            schema_type: SchemaType::Protobuf,
            references: vec![Reference {
                name: "other.proto".into(),
                subject: "other".into(),
                version: 1,
            }],
            schema: "syntax = \"proto3\";\nmessage M {}\n".into(),
            deleted: false,
        };
        assert_eq!(SchemaValue::decode(&v.encode()).unwrap(), v);
        // Avro is the default type; references are left out when empty.
        let avro = SchemaValue {
            schema_type: SchemaType::Avro,
            references: Vec::new(),
            deleted: true,
            ..v.clone()
        };
        let text = String::from_utf8(avro.encode()).unwrap();
        assert_eq!(
            text,
            r#"{"subject":"s","version":2,"id":7,"schema":"syntax = \"proto3\";\nmessage M {}\n","deleted":true}"#
        );
        assert_eq!(SchemaValue::decode(text.as_bytes()).unwrap(), avro);
        // A legacy value without `deleted`.
        let legacy = br#"{"subject":"s","version":1,"id":1,"schema":"\"string\""}"#;
        let d = SchemaValue::decode(legacy).unwrap();
        assert_eq!(
            (d.schema_type, d.deleted, d.schema.as_str()),
            (SchemaType::Avro, false, "\"string\"")
        );
        assert!(SchemaValue::decode(
            br#"{"subject":"s","version":1,"id":1,"schema":"x","schemaType":"XML"}"#
        )
        .is_err());
    }

    #[test]
    fn settings_and_deletes_round_trip() {
        let c = encode_setting(Some("s"), "compatibilityLevel", "FULL");
        assert_eq!(
            String::from_utf8(c.clone()).unwrap(),
            r#"{"subject":"s","compatibilityLevel":"FULL"}"#
        );
        assert_eq!(decode_setting(&c, "compatibilityLevel").unwrap(), "FULL");
        let m = encode_setting(None, "mode", "READONLY");
        assert_eq!(decode_setting(&m, "mode").unwrap(), "READONLY");
        assert!(decode_setting(&m, "compatibilityLevel").is_err());
        let d = encode_delete_subject("s", 4);
        assert_eq!(decode_delete_subject(&d).unwrap(), 4);
    }
}
