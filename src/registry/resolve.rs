//! Schemas in the store, parsed: a schema's references resolved to the texts they stand for,
//! a submitted schema prepared for storing, stored versions parsed, and a new schema checked
//! against stored versions at a compatibility level. The REST API, the HTTP proxy (raw
//! schemas on produce) and the data codec ([`super::data`]) share these.

use super::records::{Reference, SchemaType, SchemaValue};
use super::schema::{self, Parsed};
use super::store::{Level, NewSchema, RegistryError, Store};

/// How deep references may nest.
const MAX_DEPTH: usize = 32;

fn err(status: u16, code: i32, message: impl Into<String>) -> RegistryError {
    RegistryError {
        status,
        code,
        message: message.into(),
    }
}

/// The schemas `refs` stand for, transitively, dependencies first, as (name, text). A
/// reference to a missing version is 42201.
pub fn deps(s: &Store, refs: &[Reference]) -> Result<Vec<(String, String)>, RegistryError> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    collect(s, refs, &mut out, &mut seen, 0)?;
    Ok(out)
}

fn collect(
    s: &Store,
    refs: &[Reference],
    out: &mut Vec<(String, String)>,
    seen: &mut Vec<(String, i32)>,
    depth: usize,
) -> Result<(), RegistryError> {
    if depth > MAX_DEPTH {
        return Err(err(
            422,
            42201,
            "Invalid schema: references nest too deeply",
        ));
    }
    for r in refs {
        let v = s.version(&r.subject, r.version, true).map_err(|_| {
            err(
                422,
                42201,
                format!(
                    "Invalid schema: no schema reference found for subject \"{}\" and version {}",
                    r.subject, r.version
                ),
            )
        })?;
        let key = (v.subject.clone(), v.version);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        collect(s, &v.references, out, seen, depth + 1)?;
        out.push((r.name.clone(), v.schema.clone()));
    }
    Ok(())
}

/// Parse a submitted schema against the store (references resolved): the parsed schema and
/// what to store. A reference to `latest` (-1) is pinned to the version it resolves to. A
/// schema that does not parse is 42201.
pub fn prepare(
    s: &Store,
    schema_type: SchemaType,
    text: &str,
    references: &[Reference],
) -> Result<(Parsed, NewSchema), RegistryError> {
    let mut references = references.to_vec();
    for r in &mut references {
        if r.version == -1 {
            if let Ok(v) = s.version(&r.subject, -1, false) {
                r.version = v.version;
            }
        }
    }
    let deps = deps(s, &references)?;
    let (parsed, canonical) = schema::parse(schema_type, text, &deps).map_err(|e| {
        err(
            422,
            42201,
            format!(
                "Invalid schema of type {}, details: {e}",
                schema_type.name()
            ),
        )
    })?;
    Ok((
        parsed,
        NewSchema {
            schema_type,
            schema: canonical,
            references,
        },
    ))
}

/// Parse a stored version, its references resolved.
pub fn parse_stored(s: &Store, v: &SchemaValue) -> Result<Parsed, String> {
    let deps = deps(s, &v.references).map_err(|e| e.message)?;
    schema::parse(v.schema_type, &v.schema, &deps).map(|(p, _)| p)
}

/// Check `new` (of type `new_type`) against the stored versions `olds` at `level`: Err lists
/// the incompatibilities found. A stored version that no longer parses is skipped with a
/// warning.
pub fn check_against(
    s: &Store,
    level: Level,
    new: &Parsed,
    new_type: SchemaType,
    olds: &[&SchemaValue],
) -> Result<(), Vec<String>> {
    if level == Level::None {
        return Ok(());
    }
    let mut messages = Vec::new();
    for old in olds {
        if old.schema_type != new_type {
            messages.push(format!(
                "{{errorType:'TYPE_MISMATCH', description:'The schema type {} of the new schema does not match the type {} of version {}'}}",
                new_type.name(),
                old.schema_type.name(),
                old.version
            ));
            continue;
        }
        match parse_stored(s, old) {
            Ok(p) => {
                if let Err(e) = schema::check(level, new, &p) {
                    messages.extend(e);
                }
            }
            Err(e) => tracing::warn!(
                subject = %old.subject,
                version = old.version,
                "stored schema does not parse; not checked against: {e}"
            ),
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(messages)
    }
}
