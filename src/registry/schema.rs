//! One place that knows the three schema languages: parse a schema (with its resolved
//! references) into its canonical text, check compatibility at a level, and format a stored
//! schema for a `format=` query.

use super::avro::{self, AvroSchema};
use super::json_schema::JsonSchema;
use super::protobuf::ProtoSchema;
use super::records::SchemaType;
use super::store::Level;

/// The schema types this registry takes (`GET /schemas/types`).
pub fn supported_types() -> Vec<&'static str> {
    vec!["JSON", "PROTOBUF", "AVRO"]
}

/// A parsed schema of any type.
pub enum Parsed {
    Avro(AvroSchema),
    Protobuf(Box<ProtoSchema>),
    Json(Box<JsonSchema>),
}

/// Parse `text` of type `t`; `deps` are its references' schemas, transitively, dependencies
/// first, as (reference name, stored text). Returns the schema and its canonical text; Err is
/// the parser's message.
pub fn parse(
    t: SchemaType,
    text: &str,
    deps: &[(String, String)],
) -> Result<(Parsed, String), String> {
    if text.trim().is_empty() {
        return Err("Empty schema".to_string());
    }
    match t {
        SchemaType::Avro => {
            let s = AvroSchema::parse_with_refs(text, deps)?;
            let canonical = avro::canonical_with_refs(text, deps)?;
            Ok((Parsed::Avro(s), canonical))
        }
        SchemaType::Protobuf => {
            let s = ProtoSchema::parse(text, deps)?;
            let canonical = s.canonical();
            Ok((Parsed::Protobuf(Box::new(s)), canonical))
        }
        SchemaType::Json => {
            let s = JsonSchema::parse(text, deps)?;
            let canonical = s.canonical();
            Ok((Parsed::Json(Box::new(s)), canonical))
        }
    }
}

/// Whether data written with `writer` can be read with `reader` (both of one type).
fn can_read(reader: &Parsed, writer: &Parsed) -> Result<(), Vec<String>> {
    match (reader, writer) {
        (Parsed::Avro(r), Parsed::Avro(w)) => r.can_read(w),
        (Parsed::Protobuf(new), Parsed::Protobuf(old)) => new.can_read(old),
        (Parsed::Json(new), Parsed::Json(old)) => new.can_read(old),
        _ => Err(vec![
            "{errorType:'TYPE_MISMATCH', description:'The schema types differ'}".to_string(),
        ]),
    }
}

/// Check `new` against `old` at `level` (the direction part of it; transitivity is the
/// caller's choice of `old`s). Err lists the incompatibilities.
pub fn check(level: Level, new: &Parsed, old: &Parsed) -> Result<(), Vec<String>> {
    let backward = matches!(
        level,
        Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive
    );
    let forward = matches!(
        level,
        Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive
    );
    let mut errors = Vec::new();
    if backward {
        if let Err(e) = can_read(new, old) {
            errors.extend(e);
        }
    }
    if forward {
        let r = match (old, new) {
            // The old schema reads the new one's data: Confluent's messages swap the words.
            (Parsed::Protobuf(o), Parsed::Protobuf(n)) => o.can_read_as(n, "old", "new"),
            (Parsed::Json(o), Parsed::Json(n)) => o.can_read_labelled(n, "old", "new"),
            _ => can_read(old, new),
        };
        if let Err(e) = r {
            errors.extend(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The stored text in the asked `format` (unknown formats: the stored text, as Confluent's
/// "don't throw an exception for forward compatibility of formats").
pub fn format(parsed: &Parsed, stored: &str, format: Option<&str>) -> String {
    match (parsed, format) {
        // Protobuf's `serialized`: base64 of the file's descriptor.
        (Parsed::Protobuf(p), Some(f)) if f.eq_ignore_ascii_case("serialized") => p.serialized(),
        _ => stored.to_string(),
    }
}
