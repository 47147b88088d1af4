//! The embedded data formats of the proxy: how a JSON `data` becomes record bytes on
//! produce, and record bytes become JSON on consume.
//!
//! - BINARY: base64 text ⇄ the bytes.
//! - JSON: any JSON value ⇄ its UTF-8 JSON text.
//! - STRING (v3 produce only): a string ⇄ its UTF-8 bytes.
//! - AVRO, JSONSCHEMA, PROTOBUF: the data as JSON (Avro's JSON encoding, the value itself, the
//!   proto3 JSON mapping) ⇄ Confluent's framing of the serialized data
//!   ([`crate::registry::data`]), the schema from the Schema Registry of this broker
//!   (`schema_id`, `schema_version` of a subject, a raw `schema` registered on the fly, or the
//!   latest version of `<topic>-key|value`). Protobuf data is the schema's first message.
//!
//! Times are Java's `Instant` text (`2021-02-05T19:14:42Z`, `.SSS` when there are millis).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;

use std::collections::HashMap;
use std::sync::Arc;

use super::RestError;
use crate::registry::data::DataSchema;
use crate::registry::records::{SchemaType, SchemaValue};
use crate::registry::resolve;
use crate::registry::store::{RegistryError, Store};
use crate::registry::wire;
use crate::server::registry_runtime::Registry;

/// An embedded format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Binary,
    Json,
    String,
    Avro,
    JsonSchema,
    Protobuf,
}

impl Format {
    /// v3's `type` names.
    pub fn parse_v3(s: &str) -> Option<Format> {
        Some(match s.to_ascii_uppercase().as_str() {
            "BINARY" => Format::Binary,
            "JSON" => Format::Json,
            "STRING" => Format::String,
            "AVRO" => Format::Avro,
            "JSONSCHEMA" => Format::JsonSchema,
            "PROTOBUF" => Format::Protobuf,
            _ => return None,
        })
    }

    /// v2's names (`format` of a consumer instance, the `vnd.kafka.<f>.v2+json` types).
    pub fn parse_v2(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
            "binary" => Format::Binary,
            "json" => Format::Json,
            "avro" => Format::Avro,
            "jsonschema" => Format::JsonSchema,
            "protobuf" => Format::Protobuf,
            _ => return None,
        })
    }

    pub fn v3_name(self) -> &'static str {
        match self {
            Format::Binary => "BINARY",
            Format::Json => "JSON",
            Format::String => "STRING",
            Format::Avro => "AVRO",
            Format::JsonSchema => "JSONSCHEMA",
            Format::Protobuf => "PROTOBUF",
        }
    }

    pub fn v2_name(self) -> &'static str {
        match self {
            Format::Binary | Format::String => "binary",
            Format::Json => "json",
            Format::Avro => "avro",
            Format::JsonSchema => "jsonschema",
            Format::Protobuf => "protobuf",
        }
    }

    /// `application/vnd.kafka.<f>.v2+json`.
    pub fn v2_media_type(self) -> String {
        format!("application/vnd.kafka.{}.v2+json", self.v2_name())
    }

    pub fn needs_schema(self) -> bool {
        matches!(self, Format::Avro | Format::JsonSchema | Format::Protobuf)
    }
}

/// Bytes of a schema-less `data` (None: a null key or value).
pub fn encode_plain(format: Format, data: &Value) -> Result<Option<Vec<u8>>, RestError> {
    if data.is_null() {
        return Ok(None);
    }
    match format {
        Format::Binary => match data {
            Value::String(s) => B64.decode(s.as_bytes()).map(Some).map_err(|_| {
                RestError::new(
                    400,
                    400,
                    format!("Bad Request: data={data} is not a base64 string."),
                )
            }),
            _ => Err(RestError::new(
                400,
                400,
                format!("Bad Request: data={data} is not a base64 string."),
            )),
        },
        Format::Json => Ok(Some(data.to_string().into_bytes())),
        Format::String => match data {
            Value::String(s) => Ok(Some(s.clone().into_bytes())),
            other => Err(RestError::new(
                400,
                400,
                format!("Bad Request: data={other} is not a string."),
            )),
        },
        f => Err(RestError::new(
            400,
            400,
            format!("{} needs a schema.", f.v3_name()),
        )),
    }
}

/// The JSON of record bytes in a schema-less format (v2 consumers): base64 text, or the
/// parsed JSON (Err: the bytes are not JSON).
pub fn decode_plain(format: Format, bytes: Option<&[u8]>) -> Result<Value, String> {
    let Some(b) = bytes else {
        return Ok(Value::Null);
    };
    match format {
        Format::Json => serde_json::from_slice(b).map_err(|e| e.to_string()),
        _ => Ok(Value::String(B64.encode(b))),
    }
}

/// A schema from the registry, as a produce uses it.
#[derive(Clone)]
pub struct Resolved {
    pub subject: String,
    pub id: i32,
    pub version: i32,
    pub schema_type: SchemaType,
    /// The schema parsed with its references, ready to encode data.
    pub data: Arc<DataSchema>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("subject", &self.subject)
            .field("id", &self.id)
            .field("version", &self.version)
            .field("schema_type", &self.schema_type)
            .finish()
    }
}

/// What a produce says about the schema of a key or value.
#[derive(Debug, Default, Clone)]
pub struct SchemaRef {
    pub format: Option<Format>,
    pub subject: Option<String>,
    pub strategy: Option<String>,
    pub schema_id: Option<i32>,
    pub schema_version: Option<i32>,
    pub raw_schema: Option<String>,
}

fn bad(message: impl Into<String>) -> RestError {
    RestError::new(400, 400, message)
}

/// The schema type of an embedded format that takes a schema.
pub fn schema_type_of(format: Format) -> Option<SchemaType> {
    match format {
        Format::Avro => Some(SchemaType::Avro),
        Format::JsonSchema => Some(SchemaType::Json),
        Format::Protobuf => Some(SchemaType::Protobuf),
        _ => None,
    }
}

/// The embedded format of a schema type.
pub fn format_of(t: SchemaType) -> Format {
    match t {
        SchemaType::Avro => Format::Avro,
        SchemaType::Json => Format::JsonSchema,
        SchemaType::Protobuf => Format::Protobuf,
    }
}

/// The subject of `topic`'s key or value under `strategy` (only TOPIC_NAME can be computed
/// without the schema).
fn subject_for(topic: &str, is_key: bool, r: &SchemaRef) -> Result<String, RestError> {
    if let Some(s) = &r.subject {
        return Ok(s.clone());
    }
    match r
        .strategy
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("TOPIC_NAME") => {
            Ok(format!("{topic}-{}", if is_key { "key" } else { "value" }))
        }
        Some(other) => Err(bad(format!(
            "Cannot use schema_subject_strategy={other} without schema_id or schema."
        ))),
    }
}

/// `v` of `subject`, parsed for data (a stored schema that no longer parses is 42205).
fn resolved(
    s: &Store,
    v: &SchemaValue,
    subject: String,
    version: i32,
) -> Result<Resolved, RestError> {
    let data = DataSchema::of(s, v)
        .map_err(|e| RestError::new(422, 42205, format!("Invalid schema: {e}")))?;
    Ok(Resolved {
        subject,
        id: v.id,
        version,
        schema_type: v.schema_type,
        data: Arc::new(data),
    })
}

/// Find (or register, for a raw schema) the schema a produce names, as Confluent's
/// SchemaManager does.
pub async fn resolve(
    registry: &Registry,
    topic: &str,
    is_key: bool,
    r: &SchemaRef,
) -> Result<Resolved, RestError> {
    if let Some(id) = r.schema_id {
        if r.schema_version.is_some() || r.raw_schema.is_some() || r.format.is_some() {
            return Err(bad("schema_id excludes type, schema_version and schema."));
        }
        let subject = subject_for(topic, is_key, r)?;
        return registry
            .read(|s| {
                let v = s.by_id(id).ok_or_else(|| {
                    bad(format!(
                        "Error when fetching schema by id. schemaId = {id}: Schema {id} not found"
                    ))
                })?;
                // The version of that schema under the subject, when it has one.
                let version = s
                    .versions_of_id(id, false)
                    .into_iter()
                    .find(|(sub, _)| *sub == subject)
                    .map_or(v.version, |(_, ver)| ver);
                resolved(s, v, subject, version)
            })
            .await;
    }
    if let Some(version) = r.schema_version {
        if r.raw_schema.is_some() || r.format.is_some() {
            return Err(bad("schema_version excludes type and schema."));
        }
        let subject = subject_for(topic, is_key, r)?;
        return registry
            .read(|s| {
                let v = s.version(&subject, version, false).map_err(|_| {
                    bad(format!(
                        "Schema does not exist for subject: {subject}, version: {version}"
                    ))
                })?;
                resolved(s, v, subject.clone(), v.version)
            })
            .await;
    }
    if let Some(raw) = &r.raw_schema {
        let format = r
            .format
            .ok_or_else(|| bad("A raw schema needs a type (AVRO, JSONSCHEMA or PROTOBUF)."))?;
        return register_raw(registry, topic, is_key, r, format, raw).await;
    }
    if r.format.is_some() {
        return Err(bad("A type of AVRO, JSONSCHEMA or PROTOBUF needs schema."));
    }
    let subject = subject_for(topic, is_key, r)?;
    registry
        .read(|s| {
            let v = s.version(&subject, -1, false).map_err(|_| {
                bad(format!(
                    "Error when fetching latest schema version. subject = {subject}"
                ))
            })?;
            resolved(s, v, subject.clone(), v.version)
        })
        .await
}

/// Register `raw` under the subject (or find it there), checking compatibility as the
/// registry's own API does.
async fn register_raw(
    registry: &Registry,
    topic: &str,
    is_key: bool,
    r: &SchemaRef,
    format: Format,
    raw: &str,
) -> Result<Resolved, RestError> {
    let schema_type = schema_type_of(format).ok_or_else(|| {
        bad(format!(
            "Raw schema not supported with format = {}",
            format.v3_name()
        ))
    })?;
    let subject = subject_for(topic, is_key, r)?;
    registry
        .write(|s| {
            let (parsed, new) =
                resolve::prepare(s, schema_type, raw, &[]).map_err(|e| RegistryError {
                    status: 422,
                    code: 42205,
                    message: format!(
                        "Invalid schema: Error parsing schema with format = {}: {}",
                        format.v3_name(),
                        e.message
                    ),
                })?;
            let reg = s.register(&subject, &new, |level, olds| {
                resolve::check_against(s, level, &parsed, schema_type, olds)
            })?;
            let writes = reg.write.clone().into_iter().collect();
            let data = DataSchema::from_parsed(reg.id, schema_type, parsed);
            Ok(((reg, data), writes))
        })
        .await
        .map(|(reg, data)| Resolved {
            subject,
            id: reg.id,
            version: reg.version,
            schema_type,
            data: Arc::new(data),
        })
        .map_err(|e| RestError::new(e.status, e.code, e.message))
}

/// Encode `data` with a resolved schema, framed (null stays null).
pub fn encode_schema(r: &Resolved, data: &Value) -> Result<Option<Vec<u8>>, RestError> {
    if data.is_null() {
        return Ok(None);
    }
    r.data
        .encode(None, data)
        .map(Some)
        .map_err(|e| RestError::new(422, 42207, format!("Error serializing message. {e}")))
}

/// Schemas parsed for decoding, by id, for one batch of records.
pub type SchemaCache = HashMap<i32, Arc<DataSchema>>;

/// Decode framed bytes with the schema their id names (v2 consumers of `format`, a schema
/// format); a record of another schema type is an error, as the deserializer's would be.
pub async fn decode_schema(
    registry: &Registry,
    cache: &mut SchemaCache,
    format: Format,
    bytes: Option<&[u8]>,
) -> Result<Value, String> {
    let Some(b) = bytes else {
        return Ok(Value::Null);
    };
    let (id, payload) = wire::unframe_id(b).ok_or("Unknown magic byte!")?;
    let schema = match cache.get(&id) {
        Some(s) => Arc::clone(s),
        None => {
            let s = Arc::new(registry.read(|s| DataSchema::by_id(s, id)).await?);
            cache.insert(id, Arc::clone(&s));
            s
        }
    };
    if format_of(schema.schema_type) != format {
        return Err(format!(
            "schema {id} is of type {}, not {}",
            schema.schema_type.name(),
            format.v3_name()
        ));
    }
    schema.decode(payload)
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the epoch as Java's `Instant.toString()` (UTC, millis when non-zero).
pub fn instant(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if millis == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}Z")
    }
}

/// An ISO-8601 instant (`2021-02-05T19:14:42Z`, fractions, `+hh:mm` offsets) → millis.
pub fn parse_instant(text: &str) -> Option<i64> {
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = t.get(start..i)?;
        if frac.is_empty() {
            return None;
        }
        let three: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = three.parse().ok()?;
    }
    let offset_secs = match t.get(i..)? {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
    secs.checked_mul(1000)?.checked_add(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_and_print_like_java() {
        assert_eq!(instant(0), "1970-01-01T00:00:00Z");
        assert_eq!(instant(1_612_552_482_000), "2021-02-05T19:14:42Z");
        assert_eq!(instant(1_612_552_482_123), "2021-02-05T19:14:42.123Z");
        assert_eq!(
            parse_instant("2021-02-05T19:14:42Z"),
            Some(1_612_552_482_000)
        );
        assert_eq!(
            parse_instant("2021-02-05T19:14:42.1234Z"),
            Some(1_612_552_482_123)
        );
        assert_eq!(
            parse_instant("2021-02-05T20:14:42+01:00"),
            Some(1_612_552_482_000)
        );
        assert_eq!(
            parse_instant("2024-02-29T00:00:00Z")
                .map(instant)
                .as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(parse_instant("2021-13-05T19:14:42Z"), None);
        assert_eq!(parse_instant("2021-02-05T19:14:42"), None);
    }

    #[test]
    fn plain_formats_encode_and_refuse() {
        let j = serde_json::json!({"a": [1, 2]});
        assert_eq!(
            encode_plain(Format::Json, &j).unwrap(),
            Some(br#"{"a":[1,2]}"#.to_vec())
        );
        assert_eq!(
            encode_plain(Format::Binary, &serde_json::json!("Zm9vYmFy")).unwrap(),
            Some(b"foobar".to_vec())
        );
        let e = encode_plain(Format::Binary, &serde_json::json!(1)).unwrap_err();
        assert_eq!(e.message, "Bad Request: data=1 is not a base64 string.");
        assert_eq!(encode_plain(Format::String, &Value::Null).unwrap(), None);
        assert_eq!(
            decode_plain(Format::Binary, Some(b"foobar")).unwrap(),
            serde_json::json!("Zm9vYmFy")
        );
        assert_eq!(
            decode_plain(Format::Json, Some(br#"{"x":1}"#)).unwrap(),
            serde_json::json!({"x": 1})
        );
        assert!(decode_plain(Format::Json, Some(b"{")).is_err());
    }
}
