//! The element model of a `.proto` file: what Confluent's registry keeps of a Protobuf schema
//! (Square Wire's `ProtoFileElement`, which `ProtobufSchemaUtils.toString` prints as the
//! canonical text). Built two ways, as Confluent builds it:
//! - here, [`from_parsed`]: from `.proto` text, through `protox_parse::parse` (syntax only, nothing
//!   resolved): type names stay as written, `map<K, V>` fields stay maps (the parser's
//!   generated `…Entry` messages are hidden), options stay as written (uninterpreted), and
//!   `reserved`/`extensions`/`extend` statements keep their grouping (recovered from the
//!   parser's source locations);
//! - in `descriptor.rs`: from a `FileDescriptorProto` (the base64 form clients register),
//!   as `ProtobufSchema.toProtoFile(FileDescriptorProto)` does: type names as stored
//!   (usually fully qualified, `.pkg.Foo`), map entries as the nested messages they are
//!   (`option map_entry = true;`), `json_name` when present, one `reserved` statement per
//!   range, only the standard options Confluent copies (custom options are not kept: prost
//!   drops extensions when decoding).
//!
//! Either way the printer (`print.rs`) writes the same layout, and parsing its output again
//! with [`from_parsed`] gives the same model.

use prost_types::field_descriptor_proto::{Label, Type as FieldType};
use prost_types::source_code_info::Location;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    ServiceDescriptorProto, UninterpretedOption,
};

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct File {
    pub syntax: Option<String>,
    pub package: Option<String>,
    pub imports: Vec<String>,
    pub public_imports: Vec<String>,
    pub options: Vec<Opt>,
    pub types: Vec<TypeElem>,
    pub extends: Vec<Extend>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TypeElem {
    Message(Message),
    Enum(Enum),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Message {
    pub name: String,
    pub reserved: Vec<Vec<Reserved>>,
    pub options: Vec<Opt>,
    pub fields: Vec<Field>,
    pub oneofs: Vec<Oneof>,
    pub groups: Vec<Group>,
    pub extensions: Vec<Extensions>,
    pub extends: Vec<Extend>,
    pub nested: Vec<TypeElem>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Field {
    /// `None` when the text has no label (proto3 singular fields, oneof members, maps).
    pub label: Option<&'static str>,
    /// The type as written (`int32`, `Foo`, `.pkg.Foo`, `map<string, Foo>`).
    pub ty: String,
    pub name: String,
    pub tag: i32,
    pub options: Vec<Opt>,
    /// proto2 `[default = …]`, as the descriptor stores it (strings unescaped, bytes
    /// C-escaped).
    pub default: Option<String>,
    pub json_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Oneof {
    pub name: String,
    pub options: Vec<Opt>,
    pub fields: Vec<Field>,
    pub groups: Vec<Group>,
}

/// A proto2 group (`optional group Result = 1 { … }`), text form only.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Group {
    pub label: Option<&'static str>,
    pub name: String,
    pub tag: i32,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Enum {
    pub name: String,
    pub reserved: Vec<Vec<Reserved>>,
    pub options: Vec<Opt>,
    pub constants: Vec<Constant>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Constant {
    pub name: String,
    pub tag: i32,
    pub options: Vec<Opt>,
}

/// One value of a `reserved` or `extensions` statement (ranges inclusive).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Reserved {
    Name(String),
    Num(i32),
    Range(i32, i32),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Extensions {
    pub values: Vec<Reserved>,
    pub options: Vec<Opt>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Extend {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Service {
    pub name: String,
    pub options: Vec<Opt>,
    pub rpcs: Vec<Rpc>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Rpc {
    pub name: String,
    pub input: String,
    pub output: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
    pub options: Vec<Opt>,
}

/// An option: its name as written (`java_package`, `(my.ext).field`) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Opt {
    pub name: String,
    pub value: OptValue,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum OptValue {
    /// A string literal (raw bytes: option strings need not be UTF-8).
    Str(Vec<u8>),
    /// Printed as is: identifiers, booleans, enum constants, numbers.
    Raw(String),
    /// A message literal (`{ a: 1 b: "x" }`), keys in order.
    Map(Vec<(String, OptValue)>),
    List(Vec<OptValue>),
}

pub(super) fn opt_raw(name: &str, value: impl ToString) -> Opt {
    Opt {
        name: name.to_string(),
        value: OptValue::Raw(value.to_string()),
    }
}

pub(super) fn opt_str(name: &str, value: &str) -> Opt {
    Opt {
        name: name.to_string(),
        value: OptValue::Str(value.as_bytes().to_vec()),
    }
}

/// `int32`, `string`, … for a scalar field type (`Type::Int32.as_str_name()` is `TYPE_INT32`).
pub(super) fn scalar_name(t: FieldType) -> String {
    t.as_str_name()
        .trim_start_matches("TYPE_")
        .to_ascii_lowercase()
}

fn field_type(f: &FieldDescriptorProto) -> Option<FieldType> {
    f.r#type.and_then(|t| FieldType::try_from(t).ok())
}

pub(super) fn field_label(f: &FieldDescriptorProto) -> Label {
    f.label
        .and_then(|l| Label::try_from(l).ok())
        .unwrap_or(Label::Optional)
}

// ---------------------------------------------------------------------------------------
// From `.proto` text (protox-parse output)
// ---------------------------------------------------------------------------------------

/// Field numbers of descriptor.proto used in source-location paths.
mod tag {
    pub const FILE_MESSAGE: i32 = 4;
    pub const FILE_ENUM: i32 = 5;
    pub const FILE_EXTENSION: i32 = 7;
    pub const FILE_SYNTAX: i32 = 12;
    pub const MSG_NESTED: i32 = 3;
    pub const MSG_ENUM: i32 = 4;
    pub const MSG_EXTENSION_RANGE: i32 = 5;
    pub const MSG_EXTENSION: i32 = 6;
    pub const MSG_RESERVED_RANGE: i32 = 9;
    pub const MSG_RESERVED_NAME: i32 = 10;
    pub const ENUM_RESERVED_RANGE: i32 = 4;
    pub const ENUM_RESERVED_NAME: i32 = 5;
}

struct Parsed<'a> {
    proto3: bool,
    locations: &'a [Location],
}

/// The model of a file parsed from `.proto` text by `protox_parse::parse` (which keeps type
/// names and options as written, and records source locations).
pub(super) fn from_parsed(file: &FileDescriptorProto) -> File {
    let locations = file
        .source_code_info
        .as_ref()
        .map(|s| s.location.as_slice())
        .unwrap_or(&[]);
    let cx = Parsed {
        proto3: file.syntax.as_deref() == Some("proto3"),
        locations,
    };
    // protox-parse leaves `syntax` unset for proto2; a written `syntax = "proto2";` shows in
    // the source locations.
    let syntax = match &file.syntax {
        Some(s) => Some(s.clone()),
        None if locations.iter().any(|l| l.path == [tag::FILE_SYNTAX]) => {
            Some("proto2".to_string())
        }
        None => None,
    };
    let (imports, public_imports) = split_imports(file);
    let mut types = Vec::new();
    for (i, m) in file.message_type.iter().enumerate() {
        if !is_group_message(&file.extension, m) {
            types.push(TypeElem::Message(
                cx.message(m, &[tag::FILE_MESSAGE, i as i32]),
            ));
        }
    }
    for (i, e) in file.enum_type.iter().enumerate() {
        types.push(TypeElem::Enum(
            cx.enumeration(e, &[tag::FILE_ENUM, i as i32]),
        ));
    }
    File {
        syntax,
        package: file.package.clone(),
        imports,
        public_imports,
        options: uninterpreted(
            file.options
                .as_ref()
                .map(|o| o.uninterpreted_option.as_slice()),
        ),
        types,
        extends: cx.extends(&file.extension, &[tag::FILE_EXTENSION]),
        services: file.service.iter().map(service_parsed).collect(),
    }
}

/// Imports (weak imports are not printed by Confluent) and public imports.
pub(super) fn split_imports(file: &FileDescriptorProto) -> (Vec<String>, Vec<String>) {
    let mut imports = Vec::new();
    let mut public = Vec::new();
    for (i, d) in file.dependency.iter().enumerate() {
        let i = i as i32;
        if file.public_dependency.contains(&i) {
            public.push(d.clone());
        } else if !file.weak_dependency.contains(&i) {
            imports.push(d.clone());
        }
    }
    (imports, public)
}

/// Whether `m` is the message protox-parse generates for a group field among `fields`.
fn is_group_message(fields: &[FieldDescriptorProto], m: &DescriptorProto) -> bool {
    fields.iter().any(|f| {
        field_type(f) == Some(FieldType::Group) && f.type_name.as_deref() == m.name.as_deref()
    })
}

/// Whether `m` is a map entry generated by the parser for a `map<K, V>` field (an entry
/// written out as a message carries `map_entry` as an uninterpreted option instead).
fn is_generated_map_entry(m: &DescriptorProto) -> bool {
    m.options.as_ref().and_then(|o| o.map_entry) == Some(true)
}

impl Parsed<'_> {
    fn message(&self, m: &DescriptorProto, path: &[i32]) -> Message {
        let nested_by_name = |name: &str| {
            m.nested_type
                .iter()
                .find(|n| n.name.as_deref() == Some(name))
        };
        let mut out = Message {
            name: m.name.clone().unwrap_or_default(),
            reserved: self.reserved(
                path,
                tag::MSG_RESERVED_RANGE,
                tag::MSG_RESERVED_NAME,
                &m.reserved_range
                    .iter()
                    .map(|r| exclusive_range(r.start(), r.end()))
                    .collect::<Vec<_>>(),
                &m.reserved_name,
            ),
            options: uninterpreted(
                m.options
                    .as_ref()
                    .map(|o| o.uninterpreted_option.as_slice()),
            ),
            ..Default::default()
        };
        // Real oneofs: those not made up for proto3 `optional` fields.
        let synthetic = |i: i32| {
            m.field
                .iter()
                .any(|f| f.oneof_index == Some(i) && f.proto3_optional == Some(true))
        };
        let mut oneofs: Vec<(i32, Oneof)> = m
            .oneof_decl
            .iter()
            .enumerate()
            .filter(|(i, _)| !synthetic(*i as i32))
            .map(|(i, o)| {
                let oneof = Oneof {
                    name: o.name.clone().unwrap_or_default(),
                    options: uninterpreted(
                        o.options
                            .as_ref()
                            .map(|o| o.uninterpreted_option.as_slice()),
                    ),
                    ..Default::default()
                };
                (i as i32, oneof)
            })
            .collect();
        for f in &m.field {
            let in_oneof = f
                .oneof_index
                .and_then(|i| oneofs.iter_mut().find(|(j, _)| *j == i))
                .map(|(_, o)| o);
            if field_type(f) == Some(FieldType::Group) {
                let group = Group {
                    label: if in_oneof.is_some() {
                        None
                    } else {
                        self.label(f)
                    },
                    name: f.type_name.clone().unwrap_or_default(),
                    tag: f.number(),
                    fields: nested_by_name(f.type_name())
                        .map(|g| g.field.iter().map(|f| self.field(f, None)).collect())
                        .unwrap_or_default(),
                };
                match in_oneof {
                    Some(o) => o.groups.push(group),
                    None => out.groups.push(group),
                }
                continue;
            }
            let entry = f
                .type_name
                .as_deref()
                .and_then(nested_by_name)
                .filter(|n| is_generated_map_entry(n) && field_label(f) == Label::Repeated);
            match in_oneof {
                Some(o) => {
                    let mut field = self.field(f, entry);
                    field.label = None;
                    o.fields.push(field);
                }
                None => out.fields.push(self.field(f, entry)),
            }
        }
        out.oneofs = oneofs.into_iter().map(|(_, o)| o).collect();
        out.extensions = self.extensions(m, path);
        let mut ext_path = path.to_vec();
        ext_path.push(tag::MSG_EXTENSION);
        out.extends = self.extends(&m.extension, &ext_path);
        for (i, n) in m.nested_type.iter().enumerate() {
            if is_generated_map_entry(n)
                || is_group_message(&m.field, n)
                || is_group_message(&m.extension, n)
            {
                continue;
            }
            let mut p = path.to_vec();
            p.extend([tag::MSG_NESTED, i as i32]);
            out.nested.push(TypeElem::Message(self.message(n, &p)));
        }
        for (i, e) in m.enum_type.iter().enumerate() {
            let mut p = path.to_vec();
            p.extend([tag::MSG_ENUM, i as i32]);
            out.nested.push(TypeElem::Enum(self.enumeration(e, &p)));
        }
        out
    }

    /// The label as written: proto3 singular fields have none.
    fn label(&self, f: &FieldDescriptorProto) -> Option<&'static str> {
        if f.proto3_optional == Some(true) {
            return Some("optional");
        }
        match field_label(f) {
            Label::Repeated => Some("repeated"),
            Label::Required => Some("required"),
            Label::Optional if self.proto3 => None,
            Label::Optional => Some("optional"),
        }
    }

    /// A field; `entry` is its generated map entry when it is a `map<K, V>` field.
    fn field(&self, f: &FieldDescriptorProto, entry: Option<&DescriptorProto>) -> Field {
        let (label, ty) = match entry {
            Some(entry) => {
                let part = |n: i32| {
                    entry
                        .field
                        .iter()
                        .find(|f| f.number() == n)
                        .map(written_type)
                        .unwrap_or_default()
                };
                (None, format!("map<{}, {}>", part(1), part(2)))
            }
            None => (self.label(f), written_type(f)),
        };
        Field {
            label,
            ty,
            name: f.name.clone().unwrap_or_default(),
            tag: f.number(),
            options: uninterpreted(
                f.options
                    .as_ref()
                    .map(|o| o.uninterpreted_option.as_slice()),
            ),
            default: f.default_value.clone(),
            json_name: f.json_name.clone(),
        }
    }

    fn enumeration(&self, e: &EnumDescriptorProto, path: &[i32]) -> Enum {
        Enum {
            name: e.name.clone().unwrap_or_default(),
            reserved: self.reserved(
                path,
                tag::ENUM_RESERVED_RANGE,
                tag::ENUM_RESERVED_NAME,
                &e.reserved_range
                    .iter()
                    .map(|r| inclusive_range(r.start(), r.end()))
                    .collect::<Vec<_>>(),
                &e.reserved_name,
            ),
            options: uninterpreted(
                e.options
                    .as_ref()
                    .map(|o| o.uninterpreted_option.as_slice()),
            ),
            constants: e
                .value
                .iter()
                .map(|v| Constant {
                    name: v.name.clone().unwrap_or_default(),
                    tag: v.number(),
                    options: uninterpreted(
                        v.options
                            .as_ref()
                            .map(|o| o.uninterpreted_option.as_slice()),
                    ),
                })
                .collect(),
        }
    }

    /// `reserved` statements as written: ranges and names regrouped by statement, in source
    /// order.
    fn reserved(
        &self,
        path: &[i32],
        range_tag: i32,
        name_tag: i32,
        ranges: &[Reserved],
        names: &[String],
    ) -> Vec<Vec<Reserved>> {
        let mut statements: Vec<(Pos, Vec<Reserved>)> = Vec::new();
        for (start, members) in self.statements(path, range_tag, ranges.len()) {
            let values = members
                .iter()
                .filter_map(|&i| ranges.get(i).cloned())
                .collect();
            statements.push((start, values));
        }
        for (start, members) in self.statements(path, name_tag, names.len()) {
            let values = members
                .iter()
                .filter_map(|&i| names.get(i).cloned().map(Reserved::Name))
                .collect();
            statements.push((start, values));
        }
        statements.sort_by_key(|(start, _)| *start);
        statements.into_iter().map(|(_, v)| v).collect()
    }

    fn extensions(&self, m: &DescriptorProto, path: &[i32]) -> Vec<Extensions> {
        self.statements(path, tag::MSG_EXTENSION_RANGE, m.extension_range.len())
            .into_iter()
            .map(|(_, members)| {
                let ranges: Vec<_> = members
                    .iter()
                    .filter_map(|&i| m.extension_range.get(i))
                    .collect();
                Extensions {
                    values: ranges
                        .iter()
                        .map(|r| exclusive_range(r.start(), r.end()))
                        .collect(),
                    options: uninterpreted(
                        ranges
                            .first()
                            .and_then(|r| r.options.as_ref())
                            .map(|o| o.uninterpreted_option.as_slice()),
                    ),
                }
            })
            .collect()
    }

    /// `extend` blocks as written (the fields of one block share an extendee).
    fn extends(&self, fields: &[FieldDescriptorProto], path: &[i32]) -> Vec<Extend> {
        let (parent, tag) = match path.split_last() {
            Some((tag, parent)) => (parent, *tag),
            None => return Vec::new(),
        };
        self.statements(parent, tag, fields.len())
            .into_iter()
            .filter_map(|(_, members)| {
                let fields: Vec<&FieldDescriptorProto> =
                    members.iter().filter_map(|&i| fields.get(i)).collect();
                let name = fields.first()?.extendee.clone().unwrap_or_default();
                Some(Extend {
                    name,
                    fields: fields
                        .into_iter()
                        .filter(|f| field_type(f) != Some(FieldType::Group))
                        .map(|f| self.field(f, None))
                        .collect(),
                })
            })
            .collect()
    }

    /// Groups the `count` elements under `path + [tag]` by the statement that declared them:
    /// the parser records a location for each statement (`path + [tag]`) and for each element
    /// (`path + [tag, i, …]`); an element belongs to the statement whose span holds it.
    /// Returns (statement start, element indexes) in source order.
    fn statements(&self, path: &[i32], tag: i32, count: usize) -> Vec<(Pos, Vec<usize>)> {
        let mut prefix = path.to_vec();
        prefix.push(tag);
        let mut out: Vec<(Pos, Pos, Vec<usize>)> = self
            .locations
            .iter()
            .filter(|l| l.path == prefix)
            .map(|l| {
                let (start, end) = span(&l.span);
                (start, end, Vec::new())
            })
            .collect();
        out.sort_by_key(|(start, _, _)| *start);
        for i in 0..count {
            let mut element = prefix.clone();
            element.push(i as i32);
            let at = self
                .locations
                .iter()
                .filter(|l| l.path.starts_with(&element))
                .map(|l| span(&l.span).0)
                .min();
            let statement = at.and_then(|at| {
                out.iter_mut()
                    .find(|(start, end, _)| *start <= at && at <= *end)
            });
            match statement {
                Some((_, _, members)) => members.push(i),
                None => {
                    let at = at.unwrap_or((i32::MAX, i as i32));
                    out.push((at, at, vec![i]));
                }
            }
        }
        out.retain(|(_, _, members)| !members.is_empty());
        out.sort_by_key(|(start, _, _)| *start);
        out.into_iter().map(|(start, _, m)| (start, m)).collect()
    }
}

/// A (line, column) position in the source.
type Pos = (i32, i32);

/// A source span's (line, column) start and end (`[line, col, end_col]` or
/// `[line, col, end_line, end_col]`).
fn span(s: &[i32]) -> (Pos, Pos) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    match s.len() {
        3 => ((at(0), at(1)), (at(0), at(2))),
        _ => ((at(0), at(1)), (at(2), at(3))),
    }
}

/// The type of a field as written: its type name, or the scalar's name.
pub(super) fn written_type(f: &FieldDescriptorProto) -> String {
    match (&f.type_name, field_type(f)) {
        (Some(name), _) => name.clone(),
        (None, Some(t)) => scalar_name(t),
        (None, None) => String::new(),
    }
}

/// A message's reserved/extension range (end exclusive) as Confluent prints it.
pub(super) fn exclusive_range(start: i32, end: i32) -> Reserved {
    let last = end.saturating_sub(1);
    if start == last {
        Reserved::Num(start)
    } else {
        Reserved::Range(start, last)
    }
}

/// An enum's reserved range (end inclusive).
pub(super) fn inclusive_range(start: i32, end: i32) -> Reserved {
    if start == end {
        Reserved::Num(start)
    } else {
        Reserved::Range(start, end)
    }
}

fn service_parsed(s: &ServiceDescriptorProto) -> Service {
    Service {
        name: s.name.clone().unwrap_or_default(),
        options: uninterpreted(
            s.options
                .as_ref()
                .map(|o| o.uninterpreted_option.as_slice()),
        ),
        rpcs: s
            .method
            .iter()
            .map(|m| Rpc {
                name: m.name.clone().unwrap_or_default(),
                input: m.input_type.clone().unwrap_or_default(),
                output: m.output_type.clone().unwrap_or_default(),
                client_streaming: m.client_streaming(),
                server_streaming: m.server_streaming(),
                options: uninterpreted(
                    m.options
                        .as_ref()
                        .map(|o| o.uninterpreted_option.as_slice()),
                ),
            })
            .collect(),
    }
}

/// Options as written.
fn uninterpreted(options: Option<&[UninterpretedOption]>) -> Vec<Opt> {
    options
        .unwrap_or(&[])
        .iter()
        .map(|o| Opt {
            name: o
                .name
                .iter()
                .map(|p| {
                    if p.is_extension {
                        format!("({})", p.name_part)
                    } else {
                        p.name_part.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join("."),
            value: uninterpreted_value(o),
        })
        .collect()
}

fn uninterpreted_value(o: &UninterpretedOption) -> OptValue {
    if let Some(v) = &o.identifier_value {
        OptValue::Raw(v.clone())
    } else if let Some(v) = o.positive_int_value {
        OptValue::Raw(v.to_string())
    } else if let Some(v) = o.negative_int_value {
        OptValue::Raw(v.to_string())
    } else if let Some(v) = o.double_value {
        OptValue::Raw(format_double(v))
    } else if let Some(v) = &o.string_value {
        OptValue::Str(v.clone())
    } else if let Some(v) = &o.aggregate_value {
        super::aggregate::parse(v)
            .map(OptValue::Map)
            .unwrap_or_else(|| OptValue::Raw(format!("{{ {v} }}")))
    } else {
        OptValue::Raw(String::new())
    }
}

/// A float literal the way the parser's tokens print it (`1.0`, `2.5`).
pub(super) fn format_double(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}
