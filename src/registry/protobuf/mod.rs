//! Protobuf schemas for the registry, as Confluent's Protobuf provider handles them.
//!
//! - **Input.** A schema arrives as `.proto` text or as base64 of a serialized
//!   `FileDescriptorProto` (what confluent-kafka-python's `ProtobufSerializer` registers);
//!   like Confluent, the text parser is tried first. References arrive as (import name,
//!   stored text) pairs; Google's well-known types (`google/protobuf/*.proto`) resolve
//!   without one.
//! - **Canonical text** ([`ProtoSchema::canonical`]): what Confluent stores and serves, its
//!   `ProtobufSchemaUtils.toString` layout over the file's element model (`model.rs`,
//!   `print.rs`). As in Confluent, text input keeps type names as written and `map<K, V>`
//!   fields, while descriptor input prints resolved names, map entries as nested messages and
//!   `json_name`s. A base64 descriptor is turned into its canonical text and that text is
//!   what gets compiled, so a schema and its canonical text always describe the same file
//!   (checked: printing the re-parsed text must give the text back).
//! - **Descriptors.** Every file (dependencies first) is compiled with protox into one
//!   `DescriptorPool`; [`ProtoSchema::serialized`] is the main file's resolved
//!   `FileDescriptorProto` (named `default`, as Confluent names it) in base64.
//! - **Compatibility** ([`ProtoSchema::can_read`]): Confluent's `SchemaDiff` rules (`diff.rs`).
//! - **Message indexes**: positions of messages among the messages of their scope, as the
//!   element model has them (Confluent's `toMessageIndexes`: map entries the parser
//!   generated are not counted, nor are proto2 group bodies).
//! - **Data**: proto3 JSON mapping through prost-reflect's dynamic messages.
//!
//! Untrusted input: the text's nesting depth is bounded before parsing (the parser recurses),
//! map-entry messages are checked before prost-reflect relies on their shape, and every
//! failure is an `Err` message (Confluent's `42201` details).

mod aggregate;
mod descriptor;
mod diff;
mod model;
mod print;

use std::collections::{HashMap, HashSet};

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use prost::Message as _;
use prost_reflect::{
    Cardinality, DescriptorPool, DynamicMessage, FileDescriptor, Kind, MessageDescriptor,
    SerializeOptions,
};
use prost_types::FileDescriptorProto;
use protox::file::{File as ProtoxFile, FileResolver, GoogleFileResolver};

/// The name the schema's own file gets (Confluent's `DynamicSchema` default name).
const MAIN_FILE: &str = "default";

/// Deepest nesting of braces/brackets accepted in schema text (the parser recurses).
const MAX_NESTING: usize = 100;

/// Java's `Base64.getDecoder()`: standard alphabet, padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A parsed Protobuf schema with its dependencies resolved.
#[derive(Debug, Clone)]
pub struct ProtoSchema {
    canonical: String,
    /// The element model that message indexes count in: the schema's own file, or for a file
    /// that only re-exports one other (no types, a single `import public`), that file's
    /// (Confluent's "public import wrapper").
    model: model::File,
    /// The schema's file, its dependencies and the well-known types it imports.
    pool: DescriptorPool,
    /// Canonical text of each dependency by import name (same text = same reference).
    deps: HashMap<String, String>,
    /// Full names of messages Confluent's model does not list: map entries generated for
    /// `map<K, V>` fields and group bodies.
    hidden: HashSet<String>,
}

/// One file of a schema: the text to compile and what its parse tells.
struct Source {
    /// `.proto` text (the input, or the canonical text of a descriptor).
    text: String,
    canonical: String,
    model: model::File,
    /// Messages not in the element model (full names).
    hidden: Vec<String>,
}

impl ProtoSchema {
    /// Parses a schema. `text`: `.proto` source, or base64 of a serialized
    /// `FileDescriptorProto` (what confluent-kafka-python's `ProtobufSerializer` registers).
    /// `deps`: every referenced schema, transitively, dependencies first, as (import name as
    /// written in the `import` statement, that schema's stored text in either form). Imports of
    /// Google's well-known types (`google/protobuf/*.proto`) resolve without a reference.
    /// Err is the message for Confluent's `42201 Invalid schema of type PROTOBUF, details:`.
    pub fn parse(text: &str, deps: &[(String, String)]) -> Result<ProtoSchema, String> {
        let mut sources: HashMap<String, Source> = HashMap::new();
        let mut dep_texts = HashMap::new();
        for (name, dep) in deps {
            if name == MAIN_FILE {
                return Err(format!("a reference may not be named '{MAIN_FILE}'"));
            }
            let source =
                Source::parse(name, dep).map_err(|e| format!("reference '{name}': {e}"))?;
            dep_texts.insert(name.clone(), source.canonical.clone());
            sources.insert(name.clone(), source);
        }
        let main = Source::parse(MAIN_FILE, text)?;
        let canonical = main.canonical.clone();
        let model = match public_import_wrapper(&main.model) {
            Some(target) => sources
                .get(target)
                .map(|s| s.model.clone())
                .filter(|m| !m.types.is_empty())
                .unwrap_or_else(|| main.model.clone()),
            None => main.model.clone(),
        };
        sources.insert(MAIN_FILE.to_string(), main);
        let hidden: HashSet<String> = sources.values().flat_map(|s| s.hidden.clone()).collect();
        let texts: HashMap<String, String> = sources
            .into_iter()
            .map(|(name, s)| (name, s.text))
            .collect();
        let mut compiler = protox::Compiler::with_file_resolver(Resolver { texts });
        compiler
            .open_file(MAIN_FILE)
            .map_err(|e| format!("Invalid protobuf schema definition: {e}"))?;
        let pool = compiler.descriptor_pool();
        check_map_entries(&pool)?;
        Ok(ProtoSchema {
            canonical,
            model,
            pool,
            deps: dep_texts,
            hidden,
        })
    }

    /// The canonical `.proto` text the registry stores and serves (Confluent's
    /// `ProtobufSchema.canonicalString()`): syntax, package, imports, options, then messages,
    /// enums, extends and services in a fixed layout. Parsing it again gives it back.
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// Base64 of the schema's serialized `FileDescriptorProto`, type names resolved
    /// (Confluent's `format=serialized`, what confluent-kafka-python's deserializer fetches).
    pub fn serialized(&self) -> String {
        let proto = match self.main_file() {
            Some(f) => FileDescriptorProto {
                source_code_info: None,
                ..f.file_descriptor_proto().clone()
            },
            None => FileDescriptorProto::default(),
        };
        general_purpose::STANDARD.encode(proto.encode_to_vec())
    }

    /// Compatibility in Confluent's sense: Ok if `self` (the new schema) can read data written
    /// with `previous` per Confluent's Protobuf `SchemaDiff` rules (see `diff.rs`). Err lists
    /// the incompatible differences as Confluent words them, for BACKWARD (`self` is "new",
    /// `previous` "old"), e.g. `{errorType:"FIELD_KIND_CHANGED", description:"The type of a
    /// field at path '#/Foo/1' in the new schema does not match the old schema"}`. Confluent
    /// appends `{oldSchemaVersion: N}` and `{oldSchema: '…'}`; that is the caller's. For
    /// FORWARD use [`ProtoSchema::can_read_as`] with the labels swapped.
    pub fn can_read(&self, previous: &ProtoSchema) -> Result<(), Vec<String>> {
        self.can_read_as(previous, "new", "old")
    }

    /// [`ProtoSchema::can_read`] with the words the messages use for the reader (`self`) and
    /// the writer: Confluent says "new"/"old" for BACKWARD and, for FORWARD
    /// (`previous.can_read_as(new, "old", "new")`), "old"/"new".
    pub fn can_read_as(
        &self,
        writer: &ProtoSchema,
        reader_word: &str,
        writer_word: &str,
    ) -> Result<(), Vec<String>> {
        let diffs = diff::compare(writer, self);
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(diffs
                .iter()
                .map(|d| d.message(reader_word, writer_word))
                .collect())
        }
    }

    /// The Confluent message-index path of a message given by full name (`pkg.Outer.Inner`):
    /// the first top-level message is `[0]`, the second nested message of that one `[0, 1]`.
    /// None if the schema has no such message.
    pub fn message_indexes(&self, full_name: &str) -> Option<Vec<i32>> {
        let name = full_name.strip_prefix('.').unwrap_or(full_name);
        let local = match self.model.package.as_deref() {
            Some(p) if !p.is_empty() => name.strip_prefix(p)?.strip_prefix('.')?,
            _ => name,
        };
        let mut types = &self.model.types;
        let mut indexes = Vec::new();
        for part in local.split('.') {
            let (i, m) = messages(types).enumerate().find(|(_, m)| m.name == part)?;
            indexes.push(i32::try_from(i).ok()?);
            types = &m.nested;
        }
        Some(indexes)
    }

    /// The full name of the message at a Confluent message-index path (`[]` means `[0]`, as
    /// Confluent reads it). None if there is no message there.
    pub fn message_name(&self, indexes: &[i32]) -> Option<String> {
        let indexes = if indexes.is_empty() {
            &[0][..]
        } else {
            indexes
        };
        let mut types = &self.model.types;
        let mut parts = Vec::new();
        for &i in indexes {
            let m = messages(types).nth(usize::try_from(i).ok()?)?;
            parts.push(m.name.as_str());
            types = &m.nested;
        }
        let local = parts.join(".");
        Some(match self.model.package.as_deref() {
            Some(p) if !p.is_empty() => format!("{p}.{local}"),
            _ => local,
        })
    }

    /// JSON (proto3 JSON mapping) to the message's wire bytes, with the message's index path.
    /// `message`: a full name, or None for the first message of the file.
    pub fn encode_json(
        &self,
        message: Option<&str>,
        json: &serde_json::Value,
    ) -> Result<(Vec<i32>, Vec<u8>), String> {
        let name = match message {
            Some(n) => n.strip_prefix('.').unwrap_or(n).to_string(),
            None => self
                .message_name(&[0])
                .ok_or("the schema defines no message")?,
        };
        let indexes = self
            .message_indexes(&name)
            .ok_or_else(|| format!("the schema has no message '{name}'"))?;
        let desc = self.message(&name)?;
        let msg = DynamicMessage::deserialize(desc, json).map_err(|e| e.to_string())?;
        Ok((indexes, msg.encode_to_vec()))
    }

    /// A message's wire bytes to JSON (proto3 JSON mapping, fields with default values
    /// included, as Confluent's `ProtobufSchemaUtils.toJson`). `indexes`: the message's
    /// index path.
    pub fn decode_to_json(
        &self,
        indexes: &[i32],
        bytes: &[u8],
    ) -> Result<serde_json::Value, String> {
        let name = self
            .message_name(indexes)
            .ok_or_else(|| format!("no message at index path {indexes:?}"))?;
        let desc = self.message(&name)?;
        let msg = DynamicMessage::decode(desc, bytes).map_err(|e| e.to_string())?;
        msg.serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().skip_default_fields(false),
        )
        .map_err(|e| e.to_string())
    }

    fn message(&self, name: &str) -> Result<MessageDescriptor, String> {
        self.pool
            .get_message_by_name(name)
            .ok_or_else(|| format!("the schema has no message '{name}'"))
    }

    fn main_file(&self) -> Option<FileDescriptor> {
        self.pool.get_file_by_name(MAIN_FILE)
    }

    fn is_main(&self, file: &str) -> bool {
        file == MAIN_FILE
    }

    fn dependency_text(&self, file: &str) -> Option<&String> {
        self.deps.get(file)
    }

    /// Whether Confluent's element model lists this message.
    fn visible(&self, m: &MessageDescriptor) -> bool {
        !self.hidden.contains(m.full_name())
    }
}

/// The file a schema with no definitions of its own re-exports (its one `import public`).
fn public_import_wrapper(file: &model::File) -> Option<&str> {
    let empty = file.types.is_empty()
        && file.imports.is_empty()
        && file.services.is_empty()
        && file.extends.is_empty();
    match file.public_imports.as_slice() {
        [only] if empty => Some(only),
        _ => None,
    }
}

fn messages(types: &[model::TypeElem]) -> impl Iterator<Item = &model::Message> {
    types.iter().filter_map(|t| match t {
        model::TypeElem::Message(m) => Some(m),
        model::TypeElem::Enum(_) => None,
    })
}

impl Source {
    /// Parses one file given in either form.
    fn parse(name: &str, text: &str) -> Result<Source, String> {
        check_nesting(text)?;
        let parse_error = match protox_parse::parse(name, text) {
            Ok(parsed) => return Ok(Source::from_parsed(text.to_string(), &parsed)),
            Err(e) => e,
        };
        let Some(descriptor) = decode_descriptor(text) else {
            return Err(format!(
                "Could not parse Protobuf - {}",
                syntax_error(text, &parse_error)
            ));
        };
        let model =
            descriptor::file(&descriptor).map_err(|e| format!("Could not parse Protobuf - {e}"))?;
        let canonical = print::file(&model);
        check_nesting(&canonical)?;
        let parsed = protox_parse::parse(name, &canonical).map_err(|e| {
            format!(
                "Could not parse Protobuf - the descriptor's .proto form does not parse: {}",
                syntax_error(&canonical, &e)
            )
        })?;
        let source = Source::from_parsed(canonical, &parsed);
        if source.canonical != source.text {
            return Err(
                "Could not parse Protobuf - the descriptor has no stable .proto form".to_string(),
            );
        }
        Ok(source)
    }

    fn from_parsed(text: String, parsed: &FileDescriptorProto) -> Source {
        let model = model::from_parsed(parsed);
        let mut hidden = Vec::new();
        let package = parsed.package.clone().unwrap_or_default();
        for m in &parsed.message_type {
            hidden_messages(&package, m, &mut hidden);
        }
        Source {
            text,
            canonical: print::file(&model),
            model,
            hidden,
        }
    }
}

/// Messages of a parsed file that Confluent's model does not list: generated map entries and
/// group bodies (names are what the compiled pool will call them).
fn hidden_messages(scope: &str, m: &prost_types::DescriptorProto, out: &mut Vec<String>) {
    let full = if scope.is_empty() {
        m.name().to_string()
    } else {
        format!("{scope}.{}", m.name())
    };
    for n in &m.nested_type {
        let generated_entry = n.options.as_ref().and_then(|o| o.map_entry) == Some(true);
        let group = m.field.iter().chain(&m.extension).any(|f| {
            f.r#type == Some(prost_types::field_descriptor_proto::Type::Group as i32)
                && f.type_name.as_deref() == n.name.as_deref()
        });
        if generated_entry || group {
            out.push(format!("{full}.{}", n.name()));
        }
        hidden_messages(&full, n, out);
    }
}

/// A parse error with its position, worded like Wire's (`Syntax error in :3:5: …`).
fn syntax_error(text: &str, e: &protox_parse::ParseError) -> String {
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("Syntax error in :{line}:{column}: {e}")
        }
        None => format!("Syntax error: {e}"),
    }
}

/// base64 (padding optional) of a `FileDescriptorProto`.
fn decode_descriptor(text: &str) -> Option<FileDescriptorProto> {
    let bytes = BASE64.decode(text.trim()).ok()?;
    FileDescriptorProto::decode(bytes.as_slice()).ok()
}

/// Rejects text nested deeper than [`MAX_NESTING`] (outside strings and comments).
fn check_nesting(text: &str) -> Result<(), String> {
    let b = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'{' | b'[' | b'(' | b'<' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "Could not parse Protobuf - nested deeper than {MAX_NESTING} levels"
                    ));
                }
            }
            b'}' | b']' | b')' | b'>' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// prost-reflect takes a map entry's key and value fields for granted: check every message
/// marked `map_entry` has exactly `key = 1` (an integral, bool or string type) and
/// `value = 2`, and is used by repeated fields only.
fn check_map_entries(pool: &DescriptorPool) -> Result<(), String> {
    for m in pool.all_messages() {
        let used_as_singular = m.fields().any(|f| {
            matches!(f.kind(), Kind::Message(e) if e.is_map_entry())
                && f.cardinality() != Cardinality::Repeated
        });
        if used_as_singular {
            return Err(format!(
                "Invalid protobuf schema definition: a field of '{}' uses a map entry type but is not repeated",
                m.full_name()
            ));
        }
        if !m.is_map_entry() {
            continue;
        }
        let key = m.get_field(1).filter(|f| f.name() == "key");
        let value = m.get_field(2).filter(|f| f.name() == "value");
        let key_ok = key.is_some_and(|k| {
            k.cardinality() != Cardinality::Repeated
                && matches!(
                    k.kind(),
                    Kind::Int32
                        | Kind::Int64
                        | Kind::Uint32
                        | Kind::Uint64
                        | Kind::Sint32
                        | Kind::Sint64
                        | Kind::Fixed32
                        | Kind::Fixed64
                        | Kind::Sfixed32
                        | Kind::Sfixed64
                        | Kind::Bool
                        | Kind::String
                )
        });
        let value_ok = value.is_some_and(|v| v.cardinality() != Cardinality::Repeated);
        if !key_ok || !value_ok || m.fields().len() != 2 {
            return Err(format!(
                "Invalid protobuf schema definition: map entry '{}' must have exactly the fields key = 1 and value = 2",
                m.full_name()
            ));
        }
    }
    Ok(())
}

/// Files by name: the schema's and its references' texts, then Google's well-known types.
struct Resolver {
    texts: HashMap<String, String>,
}

impl FileResolver for Resolver {
    fn open_file(&self, name: &str) -> Result<ProtoxFile, protox::Error> {
        match self.texts.get(name) {
            Some(text) => ProtoxFile::from_source(name, text),
            None => GoogleFileResolver::new().open_file(name),
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
