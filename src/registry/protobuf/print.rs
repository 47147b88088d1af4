//! The canonical text of a Protobuf schema: Confluent's `ProtobufSchemaUtils.toString`
//! layout (not normalized) over the element model.
//!
//! `syntax`, `package`, a blank line and the imports (public ones last), a blank line and the
//! file options, a blank line and every message then every enum (declaration order kept:
//! clients number messages by position), `extend` blocks, services. Inside a message:
//! reserved, options, fields, oneofs, groups, extension ranges, extends, nested messages then
//! nested enums, each section after a newline; nested blocks are indented two spaces per
//! level (blank lines inside an indented block keep the indent, as Java's `appendIndented`
//! does).

use super::model::{
    Constant, Enum, Extend, Extensions, Field, File, Group, Message, Oneof, Opt, OptValue,
    Reserved, Rpc, Service, TypeElem,
};

/// Field numbers at or above this print as `max` in ranges.
const MAX_TAG_VALUE: i32 = 536_870_911;

pub(super) fn file(f: &File) -> String {
    let mut sb = String::new();
    if let Some(s) = &f.syntax {
        sb.push_str(&format!("syntax = \"{s}\";\n"));
    }
    if let Some(p) = &f.package {
        sb.push_str(&format!("package {p};\n"));
    }
    if !f.imports.is_empty() || !f.public_imports.is_empty() {
        sb.push('\n');
        for i in &f.imports {
            sb.push_str(&format!("import \"{i}\";\n"));
        }
        for i in &f.public_imports {
            sb.push_str(&format!("import public \"{i}\";\n"));
        }
    }
    if !f.options.is_empty() {
        sb.push('\n');
        for o in &f.options {
            sb.push_str(&option_statement(o));
        }
    }
    if !f.types.is_empty() {
        sb.push('\n');
        types(&mut sb, &f.types, false);
    }
    if !f.extends.is_empty() {
        sb.push('\n');
        for e in &f.extends {
            sb.push_str(&extend(e));
        }
    }
    if !f.services.is_empty() {
        sb.push('\n');
        for s in &f.services {
            sb.push_str(&service(s));
        }
    }
    sb
}

/// Messages first, then enums.
fn types(sb: &mut String, list: &[TypeElem], indented: bool) {
    let mut put = |s: String| {
        if indented {
            indent(sb, &s)
        } else {
            sb.push_str(&s)
        }
    };
    for t in list {
        if let TypeElem::Message(m) = t {
            put(message(m));
        }
    }
    for t in list {
        if let TypeElem::Enum(e) = t {
            put(enumeration(e));
        }
    }
}

/// Java's `appendIndented`: each line (trailing empty lines dropped) prefixed by two spaces.
fn indent(sb: &mut String, value: &str) {
    let mut lines: Vec<&str> = value.split('\n').collect();
    while lines.len() > 1 && lines.last() == Some(&"") {
        lines.pop();
    }
    for line in lines {
        sb.push_str("  ");
        sb.push_str(line);
        sb.push('\n');
    }
}

fn message(m: &Message) -> String {
    let mut sb = format!("message {} {{", m.name);
    if !m.reserved.is_empty() {
        sb.push('\n');
        for r in &m.reserved {
            indent(&mut sb, &reserved(r));
        }
    }
    if !m.options.is_empty() {
        sb.push('\n');
        for o in &m.options {
            indent(&mut sb, &option_statement(o));
        }
    }
    if !m.fields.is_empty() {
        sb.push('\n');
        for f in &m.fields {
            indent(&mut sb, &field(f));
        }
    }
    if !m.oneofs.is_empty() {
        sb.push('\n');
        for o in &m.oneofs {
            indent(&mut sb, &oneof(o));
        }
    }
    if !m.groups.is_empty() {
        sb.push('\n');
        for g in &m.groups {
            indent(&mut sb, &group(g));
        }
    }
    if !m.extensions.is_empty() {
        sb.push('\n');
        for e in &m.extensions {
            indent(&mut sb, &extensions(e));
        }
    }
    if !m.extends.is_empty() {
        sb.push('\n');
        for e in &m.extends {
            indent(&mut sb, &extend(e));
        }
    }
    if !m.nested.is_empty() {
        sb.push('\n');
        types(&mut sb, &m.nested, true);
    }
    sb.push_str("}\n");
    sb
}

fn enumeration(e: &Enum) -> String {
    let mut sb = format!("enum {} {{", e.name);
    if !e.reserved.is_empty() {
        sb.push('\n');
        for r in &e.reserved {
            indent(&mut sb, &reserved(r));
        }
    } else if !e.options.is_empty() || !e.constants.is_empty() {
        sb.push('\n');
    }
    for o in &e.options {
        indent(&mut sb, &option_statement(o));
    }
    for c in &e.constants {
        indent(&mut sb, &constant(c));
    }
    sb.push_str("}\n");
    sb
}

fn constant(c: &Constant) -> String {
    let mut sb = format!("{} = {}", c.name, c.tag);
    if !c.options.is_empty() {
        sb.push(' ');
        option_list(&mut sb, &c.options);
    }
    sb.push_str(";\n");
    sb
}

fn range_values(values: &[Reserved]) -> String {
    values
        .iter()
        .map(|v| match v {
            Reserved::Name(n) => format!("\"{n}\""),
            Reserved::Num(n) => n.to_string(),
            Reserved::Range(a, b) if *b < MAX_TAG_VALUE => format!("{a} to {b}"),
            Reserved::Range(a, _) => format!("{a} to max"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn reserved(values: &[Reserved]) -> String {
    format!("reserved {};\n", range_values(values))
}

fn extensions(e: &Extensions) -> String {
    let mut sb = format!("extensions {}", range_values(&e.values));
    if !e.options.is_empty() {
        sb.push(' ');
        option_list(&mut sb, &e.options);
    }
    sb.push_str(";\n");
    sb
}

fn oneof(o: &Oneof) -> String {
    let mut sb = format!("oneof {} {{", o.name);
    if !o.options.is_empty() {
        sb.push('\n');
        for opt in &o.options {
            indent(&mut sb, &option_statement(opt));
        }
    }
    if !o.fields.is_empty() {
        sb.push('\n');
        for f in &o.fields {
            indent(&mut sb, &field(f));
        }
    }
    if !o.groups.is_empty() {
        sb.push('\n');
        for g in &o.groups {
            indent(&mut sb, &group(g));
        }
    }
    sb.push_str("}\n");
    sb
}

fn group(g: &Group) -> String {
    let mut sb = String::new();
    if let Some(l) = g.label {
        sb.push_str(l);
        sb.push(' ');
    }
    sb.push_str(&format!("group {} = {} {{", g.name, g.tag));
    if !g.fields.is_empty() {
        sb.push('\n');
        for f in &g.fields {
            indent(&mut sb, &field(f));
        }
    }
    sb.push_str("}\n");
    sb
}

fn extend(e: &Extend) -> String {
    let mut sb = format!("extend {} {{", e.name);
    if !e.fields.is_empty() {
        sb.push('\n');
        for f in &e.fields {
            indent(&mut sb, &field(f));
        }
    }
    sb.push_str("}\n");
    sb
}

fn field(f: &Field) -> String {
    let mut sb = String::new();
    if let Some(l) = f.label {
        sb.push_str(l);
        sb.push(' ');
    }
    sb.push_str(&format!("{} {} = {}", f.ty, f.name, f.tag));
    let mut options = f.options.clone();
    if let Some(d) = &f.default {
        // Strings are stored unescaped; bytes already C-escaped (kept as they are, quoted, so
        // the text parses back; Confluent writes bytes defaults unquoted).
        let value = match f.ty.as_str() {
            "string" => OptValue::Str(d.as_bytes().to_vec()),
            "bytes" => OptValue::Raw(format!("\"{d}\"")),
            _ => OptValue::Raw(d.clone()),
        };
        options.push(Opt {
            name: "default".to_string(),
            value,
        });
    }
    if let Some(j) = &f.json_name {
        options.push(Opt {
            name: "json_name".to_string(),
            value: OptValue::Str(j.as_bytes().to_vec()),
        });
    }
    if !options.is_empty() {
        sb.push(' ');
        option_list(&mut sb, &options);
    }
    sb.push_str(";\n");
    sb
}

fn service(s: &Service) -> String {
    let mut sb = format!("service {} {{", s.name);
    if !s.options.is_empty() {
        sb.push('\n');
        for o in &s.options {
            indent(&mut sb, &option_statement(o));
        }
    }
    if !s.rpcs.is_empty() {
        sb.push('\n');
        for r in &s.rpcs {
            indent(&mut sb, &rpc(r));
        }
    }
    sb.push_str("}\n");
    sb
}

fn rpc(r: &Rpc) -> String {
    let stream = |yes: bool| if yes { "stream " } else { "" };
    let mut sb = format!(
        "rpc {} ({}{}) returns ({}{})",
        r.name,
        stream(r.client_streaming),
        r.input,
        stream(r.server_streaming),
        r.output
    );
    if !r.options.is_empty() {
        sb.push_str(" {\n");
        for o in &r.options {
            indent(&mut sb, &option_statement(o));
        }
        sb.push('}');
    }
    sb.push_str(";\n");
    sb
}

fn option_statement(o: &Opt) -> String {
    format!("option {};\n", option(o))
}

/// `name = value`.
fn option(o: &Opt) -> String {
    let mut sb = o.name.clone();
    match &o.value {
        OptValue::Str(s) => {
            sb.push_str(" = \"");
            sb.push_str(&escape(s));
            sb.push('"');
        }
        OptValue::Raw(r) => {
            sb.push_str(" = ");
            sb.push_str(r);
        }
        OptValue::Map(m) => {
            sb.push_str(" = {\n");
            option_map(&mut sb, m);
            sb.push('}');
        }
        OptValue::List(items) => {
            sb.push_str(" = ");
            let values: Vec<String> = items.iter().map(value).collect();
            bracketed(&mut sb, &values);
        }
    }
    sb
}

/// A bracketed option list (`[a = 1]`, or one per line when there are several).
fn option_list(sb: &mut String, options: &[Opt]) {
    let values: Vec<String> = options.iter().map(option).collect();
    bracketed(sb, &values);
}

fn bracketed(sb: &mut String, values: &[String]) {
    if let [only] = values {
        sb.push('[');
        sb.push_str(only);
        sb.push(']');
        return;
    }
    sb.push_str("[\n");
    for (i, v) in values.iter().enumerate() {
        let sep = if i + 1 < values.len() { "," } else { "" };
        indent(sb, &format!("{v}{sep}"));
    }
    sb.push(']');
}

fn option_map(sb: &mut String, map: &[(String, OptValue)]) {
    for (i, (k, v)) in map.iter().enumerate() {
        let sep = if i + 1 < map.len() { "," } else { "" };
        indent(sb, &format!("{k}: {}{sep}", value(v)));
    }
}

/// A value inside a message literal or list.
fn value(v: &OptValue) -> String {
    match v {
        OptValue::Str(s) => format!("\"{}\"", escape(s)),
        OptValue::Raw(r) => r.clone(),
        OptValue::Map(m) => {
            let mut sb = String::from("{\n");
            option_map(&mut sb, m);
            sb.push('}');
            sb
        }
        OptValue::List(items) => {
            let mut sb = String::from("[\n");
            for (i, item) in items.iter().enumerate() {
                let sep = if i + 1 < items.len() { "," } else { "" };
                indent(&mut sb, &format!("{}{sep}", value(item)));
            }
            sb.push(']');
            sb
        }
    }
}

/// Java's `escapeChars`, plus octal escapes for other control characters and for bytes that
/// are not UTF-8 (so the text always parses back to the same bytes).
pub(super) fn escape(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '"' => out.push_str("\\\""),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\{:03o}", c as u32))
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out
}
