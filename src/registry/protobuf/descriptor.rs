//! The element model of a file given as a `FileDescriptorProto` (the base64 form clients
//! register), built as Confluent's `ProtobufSchema.toProtoFile(FileDescriptorProto)` builds
//! it: type names as stored (usually fully qualified, `.pkg.Foo`), map entries as the nested
//! messages they are (`option map_entry = true;`), `json_name` when present, one `reserved`
//! statement per range, and only the standard options Confluent copies (custom options are
//! not kept: prost drops extensions when decoding).

use prost_types::field_descriptor_proto::Label;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    ServiceDescriptorProto,
};

use super::model::{
    exclusive_range, field_label, inclusive_range, opt_raw, opt_str, split_imports, written_type,
    Constant, Enum, Extend, Extensions, Field, File, Message, Oneof, Opt, Reserved, Rpc, Service,
    TypeElem,
};
/// The model of a file given as a `FileDescriptorProto`, as Confluent converts one.
/// Err when the descriptor is inconsistent (a field in a oneof that does not exist).
pub(super) fn file(file: &FileDescriptorProto) -> Result<File, String> {
    let proto3 = file.syntax.as_deref() == Some("proto3");
    let syntax = match file.syntax.as_deref() {
        Some(s @ ("proto2" | "proto3")) => Some(s.to_string()),
        _ => None,
    };
    let (imports, public_imports) = split_imports(file);
    let mut types = Vec::new();
    for m in &file.message_type {
        types.push(TypeElem::Message(message_desc(proto3, m)?));
    }
    types.extend(file.enum_type.iter().map(|e| TypeElem::Enum(enum_desc(e))));
    Ok(File {
        syntax,
        package: file.package.clone().filter(|p| !p.is_empty()),
        imports,
        public_imports,
        options: file.options.as_ref().map(file_options).unwrap_or_default(),
        types,
        extends: extends_desc(proto3, &file.extension),
        services: file.service.iter().map(service_desc).collect(),
    })
}

/// The standard file options Confluent copies, in its order.
#[allow(deprecated)] // java_generate_equals_and_hash: Confluent still copies it
fn file_options(o: &prost_types::FileOptions) -> Vec<Opt> {
    let mut out = Vec::new();
    for (name, v) in [
        ("java_package", &o.java_package),
        ("java_outer_classname", &o.java_outer_classname),
    ] {
        if let Some(v) = v {
            out.push(opt_str(name, v));
        }
    }
    for (name, v) in [
        ("java_multiple_files", o.java_multiple_files),
        (
            "java_generate_equals_and_hash",
            o.java_generate_equals_and_hash,
        ),
        ("java_string_check_utf8", o.java_string_check_utf8),
    ] {
        if let Some(v) = v {
            out.push(opt_raw(name, v));
        }
    }
    if o.optimize_for.is_some() {
        out.push(opt_raw("optimize_for", o.optimize_for().as_str_name()));
    }
    if let Some(v) = &o.go_package {
        out.push(opt_str("go_package", v));
    }
    for (name, v) in [
        ("cc_generic_services", o.cc_generic_services),
        ("java_generic_services", o.java_generic_services),
        ("py_generic_services", o.py_generic_services),
        ("deprecated", o.deprecated),
        ("cc_enable_arenas", o.cc_enable_arenas),
    ] {
        if let Some(v) = v {
            out.push(opt_raw(name, v));
        }
    }
    for (name, v) in [
        ("objc_class_prefix", &o.objc_class_prefix),
        ("csharp_namespace", &o.csharp_namespace),
        ("swift_prefix", &o.swift_prefix),
        ("php_class_prefix", &o.php_class_prefix),
        ("php_namespace", &o.php_namespace),
        ("php_metadata_namespace", &o.php_metadata_namespace),
        ("ruby_package", &o.ruby_package),
    ] {
        if let Some(v) = v {
            out.push(opt_str(name, v));
        }
    }
    out
}

fn message_desc(proto3: bool, m: &DescriptorProto) -> Result<Message, String> {
    let mut oneofs: Vec<Oneof> = m
        .oneof_decl
        .iter()
        .map(|o| Oneof {
            name: o.name.clone().unwrap_or_default(),
            ..Default::default()
        })
        .collect();
    let mut fields = Vec::new();
    for f in &m.field {
        match f.oneof_index {
            Some(i) if f.proto3_optional != Some(true) => {
                let o = usize::try_from(i)
                    .ok()
                    .and_then(|i| oneofs.get_mut(i))
                    .ok_or_else(|| {
                        format!("field '{}' names oneof {i}, which does not exist", f.name())
                    })?;
                o.fields.push(field_desc(proto3, f, true));
            }
            _ => fields.push(field_desc(proto3, f, false)),
        }
    }
    let mut reserved: Vec<Vec<Reserved>> = m
        .reserved_range
        .iter()
        .map(|r| vec![exclusive_range(r.start(), r.end())])
        .collect();
    reserved.extend(
        m.reserved_name
            .iter()
            .map(|n| vec![Reserved::Name(n.clone())]),
    );
    let mut options = Vec::new();
    if let Some(o) = &m.options {
        for (name, v) in [
            (
                "no_standard_descriptor_accessor",
                o.no_standard_descriptor_accessor,
            ),
            ("deprecated", o.deprecated),
            ("map_entry", o.map_entry),
        ] {
            if let Some(v) = v {
                options.push(opt_raw(name, v));
            }
        }
    }
    let mut nested = Vec::new();
    for n in &m.nested_type {
        nested.push(TypeElem::Message(message_desc(proto3, n)?));
    }
    nested.extend(m.enum_type.iter().map(|e| TypeElem::Enum(enum_desc(e))));
    Ok(Message {
        name: m.name.clone().unwrap_or_default(),
        reserved,
        options,
        fields,
        oneofs: oneofs
            .into_iter()
            .filter(|o| !o.fields.is_empty())
            .collect(),
        groups: Vec::new(),
        extensions: m
            .extension_range
            .iter()
            .map(|r| Extensions {
                values: vec![exclusive_range(r.start(), r.end())],
                options: Vec::new(),
            })
            .collect(),
        extends: extends_desc(proto3, &m.extension),
        nested,
    })
}

fn field_desc(proto3: bool, f: &FieldDescriptorProto, in_oneof: bool) -> Field {
    let label = if in_oneof {
        None
    } else if f.proto3_optional == Some(true) {
        Some("optional")
    } else {
        match field_label(f) {
            Label::Repeated => Some("repeated"),
            Label::Required if !proto3 => Some("required"),
            Label::Optional if !proto3 => Some("optional"),
            _ => None,
        }
    };
    let mut options = Vec::new();
    if let Some(o) = &f.options {
        if o.ctype.is_some() {
            options.push(opt_raw("ctype", o.ctype().as_str_name()));
        }
        if let Some(v) = o.packed {
            options.push(opt_raw("packed", v));
        }
        if o.jstype.is_some() {
            options.push(opt_raw("jstype", o.jstype().as_str_name()));
        }
        if let Some(v) = o.deprecated {
            options.push(opt_raw("deprecated", v));
        }
    }
    Field {
        label,
        ty: written_type(f),
        name: f.name.clone().unwrap_or_default(),
        tag: f.number(),
        options,
        default: if proto3 {
            None
        } else {
            f.default_value.clone()
        },
        json_name: f.json_name.clone(),
    }
}

fn enum_desc(e: &EnumDescriptorProto) -> Enum {
    let mut reserved: Vec<Vec<Reserved>> = e
        .reserved_range
        .iter()
        .map(|r| vec![inclusive_range(r.start(), r.end())])
        .collect();
    reserved.extend(
        e.reserved_name
            .iter()
            .map(|n| vec![Reserved::Name(n.clone())]),
    );
    let mut options = Vec::new();
    if let Some(o) = &e.options {
        for (name, v) in [("allow_alias", o.allow_alias), ("deprecated", o.deprecated)] {
            if let Some(v) = v {
                options.push(opt_raw(name, v));
            }
        }
    }
    Enum {
        name: e.name.clone().unwrap_or_default(),
        reserved,
        options,
        constants: e
            .value
            .iter()
            .map(|v| {
                let mut options = Vec::new();
                if let Some(o) = &v.options {
                    if let Some(v) = o.deprecated {
                        options.push(opt_raw("deprecated", v));
                    }
                }
                Constant {
                    name: v.name.clone().unwrap_or_default(),
                    tag: v.number(),
                    options,
                }
            })
            .collect(),
    }
}

/// Extension fields grouped by extendee, in order of first appearance.
fn extends_desc(proto3: bool, fields: &[FieldDescriptorProto]) -> Vec<Extend> {
    let mut out: Vec<Extend> = Vec::new();
    for f in fields {
        let name = f.extendee.clone().unwrap_or_default();
        let field = field_desc(proto3, f, false);
        match out.iter_mut().find(|e| e.name == name) {
            Some(e) => e.fields.push(field),
            None => out.push(Extend {
                name,
                fields: vec![field],
            }),
        }
    }
    out
}

fn service_desc(s: &ServiceDescriptorProto) -> Service {
    let mut options = Vec::new();
    if let Some(v) = s.options.as_ref().and_then(|o| o.deprecated) {
        options.push(opt_raw("deprecated", v));
    }
    Service {
        name: s.name.clone().unwrap_or_default(),
        options,
        rpcs: s
            .method
            .iter()
            .map(|m| {
                let mut options = Vec::new();
                if let Some(o) = &m.options {
                    if let Some(v) = o.deprecated {
                        options.push(opt_raw("deprecated", v));
                    }
                    if o.idempotency_level.is_some() {
                        options.push(opt_raw(
                            "idempotency_level",
                            o.idempotency_level().as_str_name(),
                        ));
                    }
                }
                Rpc {
                    name: m.name.clone().unwrap_or_default(),
                    input: m.input_type.clone().unwrap_or_default(),
                    output: m.output_type.clone().unwrap_or_default(),
                    client_streaming: m.client_streaming(),
                    server_streaming: m.server_streaming(),
                    options,
                }
            })
            .collect(),
    }
}
