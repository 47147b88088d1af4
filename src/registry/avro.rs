//! Avro schemas for the registry: parsing (the JSON forms of the Avro specification, named
//! types with namespaces, references to named types defined earlier, recursive types) and
//! the schema resolution rules that decide compatibility (Avro's `SchemaCompatibility`, as
//! Confluent's registry applies it): a reader schema can read data written with a writer
//! schema when
//! - both are the same primitive, or the writer's promotes to the reader's (int → long,
//!   float, double; long → float, double; float → double; string ↔ bytes);
//! - records have the same full name (or the reader has the writer's name as an alias), each
//!   reader field is read from the writer's field of the same name (or an alias) or has a
//!   default;
//! - enums have the same name and every writer symbol is a reader symbol, unless the reader
//!   has a default symbol; fixed types have the same name and size;
//! - arrays and maps have readable items and values;
//! - a writer union is readable when each branch is; a reader union reads a writer type that
//!   one of its branches reads.
//!
//! BACKWARD: the new schema reads the old one's data; FORWARD: the old reads the new's; FULL:
//! both.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// One node of a parsed schema (named types are referred to by index, so recursive types
/// are plain references). Named types carry their full name (`namespace.name`). Logical
/// types are their underlying type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record {
        name: String,
        aliases: Vec<String>,
        fields: Vec<Field>,
    },
    Enum {
        name: String,
        aliases: Vec<String>,
        symbols: Vec<String>,
        default: Option<String>,
    },
    Fixed {
        name: String,
        aliases: Vec<String>,
        size: u64,
    },
    Array(usize),
    Map(usize),
    Union(Vec<usize>),
}

/// A record field; `default` is the field's `default` as written (`Some(Null)` for
/// `"default": null`, `None` when there is none).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) aliases: Vec<String>,
    pub(super) node: usize,
    pub(super) default: Option<Value>,
}

/// A parsed Avro schema.
#[derive(Debug, Clone)]
pub struct AvroSchema {
    nodes: Vec<Node>,
    root: usize,
}

struct Parser {
    nodes: Vec<Node>,
    named: HashMap<String, usize>,
}

fn full_name(name: &str, namespace: Option<&str>) -> String {
    if name.contains('.') {
        return name.to_string();
    }
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn aliases(o: &serde_json::Map<String, Value>, ns: Option<&str>) -> Vec<String> {
    o.get("aliases")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| full_name(s, ns))
                .collect()
        })
        .unwrap_or_default()
}

impl Node {
    /// The name a union branch of this type goes by (Avro's JSON encoding, duplicate check):
    /// the full name of a named type, else the type's name (`"int"`, `"array"`, `"map"`).
    pub(super) fn label(&self) -> &str {
        match self {
            Node::Null => "null",
            Node::Boolean => "boolean",
            Node::Int => "int",
            Node::Long => "long",
            Node::Float => "float",
            Node::Double => "double",
            Node::Bytes => "bytes",
            Node::String => "string",
            Node::Record { name, .. } | Node::Enum { name, .. } | Node::Fixed { name, .. } => name,
            Node::Array(_) => "array",
            Node::Map(_) => "map",
            Node::Union(_) => "union",
        }
    }
}

impl Parser {
    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn primitive(name: &str) -> Option<Node> {
        Some(match name {
            "null" => Node::Null,
            "boolean" => Node::Boolean,
            "int" => Node::Int,
            "long" => Node::Long,
            "float" => Node::Float,
            "double" => Node::Double,
            "bytes" => Node::Bytes,
            "string" => Node::String,
            _ => return None,
        })
    }

    fn parse(&mut self, v: &Value, ns: Option<&str>, depth: usize) -> Result<usize, String> {
        if depth > 64 {
            return Err("schema nested too deeply".into());
        }
        match v {
            Value::String(s) => {
                if let Some(p) = Self::primitive(s) {
                    return Ok(self.push(p));
                }
                let full = full_name(s, ns);
                self.named
                    .get(&full)
                    .or_else(|| self.named.get(s))
                    .copied()
                    .ok_or_else(|| format!("Undefined name: \"{full}\""))
            }
            Value::Array(branches) => {
                let mut ids = Vec::with_capacity(branches.len());
                let mut labels = HashSet::new();
                for b in branches {
                    let id = self.parse(b, ns, depth + 1)?;
                    let label = self.nodes[id].label();
                    if matches!(self.nodes[id], Node::Union(_)) {
                        return Err("Nested union".into());
                    }
                    // A union is written and read by branch name: one branch per type name.
                    if !labels.insert(label.to_string()) {
                        return Err(format!("Duplicate in union: {label}"));
                    }
                    ids.push(id);
                }
                Ok(self.push(Node::Union(ids)))
            }
            Value::Object(o) => {
                let t = o.get("type").ok_or_else(|| format!("No type: {v}"))?;
                let t = match t {
                    Value::String(t) => t.as_str(),
                    // {"type": {...}} or {"type": [...]}: the inner schema.
                    other => return self.parse(other, ns, depth + 1),
                };
                match t {
                    "record" | "error" | "enum" | "fixed" => self.named_type(t, o, ns, depth),
                    "array" => {
                        let items = o.get("items").ok_or("Array has no items type")?;
                        let id = self.parse(items, ns, depth + 1)?;
                        Ok(self.push(Node::Array(id)))
                    }
                    "map" => {
                        let values = o.get("values").ok_or("Map has no values type")?;
                        let id = self.parse(values, ns, depth + 1)?;
                        Ok(self.push(Node::Map(id)))
                    }
                    other => self.parse(&Value::String(other.to_string()), ns, depth + 1),
                }
            }
            other => Err(format!("Not a schema: {other}")),
        }
    }

    fn named_type(
        &mut self,
        t: &str,
        o: &serde_json::Map<String, Value>,
        ns: Option<&str>,
        depth: usize,
    ) -> Result<usize, String> {
        let name = o
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("No name in schema: {}", Value::Object(o.clone())))?;
        let own_ns = o.get("namespace").and_then(Value::as_str).or(ns);
        let full = full_name(name, own_ns);
        if !full.split('.').all(valid_name) {
            return Err(format!("Illegal name: {full}"));
        }
        if self.named.contains_key(&full) {
            return Err(format!("Can't redefine: {full}"));
        }
        let inner_ns = full.rsplit_once('.').map(|(n, _)| n.to_string());
        let al = aliases(o, inner_ns.as_deref());
        // Reserve the index first: fields may refer to the record itself (a union among
        // them sees its name).
        let id = self.push(Node::Record {
            name: full.clone(),
            aliases: Vec::new(),
            fields: Vec::new(),
        });
        self.named.insert(full.clone(), id);
        let node = match t {
            "enum" => {
                let symbols: Vec<String> = o
                    .get("symbols")
                    .and_then(Value::as_array)
                    .ok_or("Enum has no symbols")?
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_string)
                            .ok_or("Enum symbol not a string")
                    })
                    .collect::<Result<_, _>>()?;
                let mut seen = HashSet::new();
                if !symbols
                    .iter()
                    .all(|s| valid_name(s) && seen.insert(s.clone()))
                {
                    return Err(format!("Invalid or duplicate enum symbols of {full}"));
                }
                Node::Enum {
                    name: full,
                    aliases: al,
                    symbols,
                    default: o.get("default").and_then(Value::as_str).map(str::to_string),
                }
            }
            "fixed" => Node::Fixed {
                name: full,
                aliases: al,
                size: o
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or("Invalid fixed size")?,
            },
            _ => {
                let fields_json = o
                    .get("fields")
                    .and_then(Value::as_array)
                    .ok_or("Record has no fields")?;
                let mut fields = Vec::with_capacity(fields_json.len());
                let mut names = HashSet::new();
                for f in fields_json {
                    let f = f.as_object().ok_or("Field not an object")?;
                    let fname = f
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or("No field name")?;
                    if !valid_name(fname) || !names.insert(fname.to_string()) {
                        return Err(format!("Invalid or duplicate field name: {fname}"));
                    }
                    let ft = f.get("type").ok_or("No field type")?;
                    let node = self.parse(ft, inner_ns.as_deref(), depth + 1)?;
                    fields.push(Field {
                        name: fname.to_string(),
                        aliases: f
                            .get("aliases")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default(),
                        node,
                        default: f.get("default").cloned(),
                    });
                }
                Node::Record {
                    name: full,
                    aliases: al,
                    fields,
                }
            }
        };
        self.nodes[id] = node;
        Ok(id)
    }
}

impl AvroSchema {
    /// Parse a schema's JSON text; Err is the parser's message (the registry answers 42201).
    pub fn parse(text: &str) -> Result<AvroSchema, String> {
        Self::parse_with_refs(text, &[])
    }

    /// Parse a schema that uses named types defined in referenced schemas. `deps` are the
    /// referenced schemas as (reference name, schema text), transitively, each after the ones
    /// it uses; the names do not matter for Avro. As Confluent's `AvroSchema` does, each
    /// dependency is parsed first with the same parser, so every named type it defines
    /// (nested ones included) is known to the later ones and to `text`. A dependency text
    /// given twice (a diamond of references) is parsed once.
    pub fn parse_with_refs(text: &str, deps: &[(String, String)]) -> Result<AvroSchema, String> {
        let mut p = Parser {
            nodes: Vec::new(),
            named: HashMap::new(),
        };
        let mut seen = HashSet::new();
        for (name, dep) in deps {
            if !seen.insert(dep.as_str()) {
                continue;
            }
            let v: Value = serde_json::from_str(dep)
                .map_err(|e| format!("Invalid schema reference {name}: {e}"))?;
            p.parse(&v, None, 0)
                .map_err(|e| format!("Invalid schema reference {name}: {e}"))?;
        }
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let root = p.parse(&v, None, 0)?;
        Ok(AvroSchema {
            nodes: p.nodes,
            root,
        })
    }

    /// The root node's index (for the data codec).
    pub(super) fn root(&self) -> usize {
        self.root
    }

    /// The node at `i`; every index held by a node of this schema is valid.
    pub(super) fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// Whether data written with `writer` can be read with `self`; Err lists why not.
    pub fn can_read(&self, writer: &AvroSchema) -> Result<(), Vec<String>> {
        let mut c = Check {
            r: self,
            w: writer,
            assumed: HashSet::new(),
            errors: Vec::new(),
        };
        c.check(self.root, writer.root, "/");
        if c.errors.is_empty() {
            Ok(())
        } else {
            Err(c.errors)
        }
    }
}

struct Check<'a> {
    r: &'a AvroSchema,
    w: &'a AvroSchema,
    /// Pairs of named types being compared (recursive types: assumed readable).
    assumed: HashSet<(usize, usize)>,
    errors: Vec<String>,
}

fn names_match(rname: &str, raliases: &[String], wname: &str) -> bool {
    let short = |n: &str| n.rsplit('.').next().unwrap_or(n).to_string();
    rname == wname || raliases.iter().any(|a| a == wname) || short(rname) == short(wname)
}

impl Check<'_> {
    fn fail(&mut self, path: &str, msg: String) -> bool {
        self.errors
            .push(format!("{{errorType:'{msg}', location:'{path}'}}"));
        false
    }

    fn check(&mut self, r: usize, w: usize, path: &str) -> bool {
        use Node::*;
        let (rn, wn) = (&self.r.nodes[r], &self.w.nodes[w]);
        if let Union(ws) = wn {
            let ws = ws.clone();
            let mut ok = true;
            for (i, b) in ws.iter().enumerate() {
                ok &= self.check(r, *b, &format!("{path}{i}/"));
            }
            return ok;
        }
        match (rn, wn) {
            (Union(rs), _) => {
                let rs = rs.clone();
                let found = rs.iter().any(|b| {
                    let mut probe = Check {
                        r: self.r,
                        w: self.w,
                        assumed: self.assumed.clone(),
                        errors: Vec::new(),
                    };
                    probe.check(*b, w, path)
                });
                found || self.fail(path, "MISSING_UNION_BRANCH".into())
            }
            (Null, Null)
            | (Boolean, Boolean)
            | (Int, Int)
            | (Long, Long)
            | (Float, Float)
            | (Double, Double)
            | (Bytes, Bytes)
            | (String, String) => true,
            (Long, Int) | (Float, Int | Long) | (Double, Int | Long | Float) => true,
            (String, Bytes) | (Bytes, String) => true,
            (Array(ri), Array(wi)) => {
                let (ri, wi) = (*ri, *wi);
                self.check(ri, wi, &format!("{path}items/"))
            }
            (Map(rv), Map(wv)) => {
                let (rv, wv) = (*rv, *wv);
                self.check(rv, wv, &format!("{path}values/"))
            }
            (
                Fixed {
                    name: rname,
                    aliases,
                    size: rs,
                },
                Fixed {
                    name: wname,
                    size: ws,
                    ..
                },
            ) => {
                if !names_match(rname, aliases, wname) {
                    return self.fail(path, "NAME_MISMATCH".into());
                }
                rs == ws
                    || self.fail(
                        path,
                        format!("FIXED_SIZE_MISMATCH: expected {ws}, found {rs}"),
                    )
            }
            (
                Enum {
                    name: rname,
                    aliases,
                    symbols: rsym,
                    default,
                },
                Enum {
                    name: wname,
                    symbols: wsym,
                    ..
                },
            ) => {
                if !names_match(rname, aliases, wname) {
                    return self.fail(path, "NAME_MISMATCH".into());
                }
                let missing: Vec<std::string::String> =
                    wsym.iter().filter(|s| !rsym.contains(s)).cloned().collect();
                missing.is_empty()
                    || default.is_some()
                    || self.fail(
                        &format!("{path}symbols"),
                        format!("MISSING_ENUM_SYMBOLS: [{}]", missing.join(", ")),
                    )
            }
            (
                Record {
                    name: rname,
                    aliases,
                    fields: rf,
                },
                Record {
                    name: wname,
                    fields: wf,
                    ..
                },
            ) => {
                if !names_match(rname, aliases, wname) {
                    return self.fail(path, "NAME_MISMATCH".into());
                }
                if !self.assumed.insert((r, w)) {
                    return true;
                }
                let (rf, wf) = (rf.clone(), wf.clone());
                let mut ok = true;
                for (i, f) in rf.iter().enumerate() {
                    let from = wf
                        .iter()
                        .find(|g| g.name == f.name || f.aliases.contains(&g.name));
                    match from {
                        Some(g) => {
                            ok &= self.check(f.node, g.node, &format!("{path}fields/{i}/type/"));
                        }
                        None if f.default.is_some() => {}
                        None => {
                            ok &= self.fail(
                                &format!("{path}fields/{i}"),
                                format!("READER_FIELD_MISSING_DEFAULT_VALUE: {}", f.name),
                            );
                        }
                    }
                }
                ok
            }
            _ => self.fail(path, "TYPE_MISMATCH".into()),
        }
    }
}

/// The text the registry stores and answers for a schema: Java Avro's `Schema.toString()`
/// (compact JSON, Confluent's canonical string), so a pretty-printed and a compact submission
/// of one schema get one id. Keys in Java's order — record `type, name, namespace (when it
/// differs from the enclosing one), doc, fields, <props>, aliases`; field `name, type, doc,
/// default, order (unless ascending), aliases, <props>`; enum `type, name, namespace, doc,
/// symbols, default, <props>, aliases`; fixed `type, name, namespace, doc, size, <props>,
/// aliases`; array `type, items, <props>`; map `type, values, <props>` —, a primitive without
/// props as a bare string, a named type used again as its name. Other properties come in
/// alphabetical order (Java keeps them as written). The schema must parse ([`AvroSchema`]).
pub fn canonical(text: &str) -> Result<String, String> {
    canonical_with_refs(text, &[])
}

/// [`canonical`] for a schema with references (`deps` as for
/// [`AvroSchema::parse_with_refs`]): the referenced named types are not inlined, the main
/// schema names them (short when in the enclosing namespace, else by full name), as
/// Confluent's `AvroSchema.canonicalString()` prints them. One difference: Java only treats
/// the top-level type of each reference as known and would inline a type defined *inside* a
/// reference on first use (a text its own parser then refuses as a redefinition); here every
/// type a reference defines is printed by name.
pub fn canonical_with_refs(text: &str, deps: &[(String, String)]) -> Result<String, String> {
    AvroSchema::parse_with_refs(text, deps)?;
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut defined = HashSet::new();
    emit(&v, None, &mut defined, &mut out);
    Ok(out)
}

fn push_json(out: &mut String, v: &Value) {
    out.push_str(&v.to_string());
}

fn push_field(out: &mut String, first: &mut bool, key: &str, v: &Value) {
    if !*first {
        out.push(',');
    }
    *first = false;
    push_json(out, &Value::String(key.to_string()));
    out.push(':');
    push_json(out, v);
}

fn emit(v: &Value, ns: Option<&str>, defined: &mut HashSet<String>, out: &mut String) {
    match v {
        Value::Array(branches) => {
            out.push('[');
            for (i, b) in branches.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                emit(b, ns, defined, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let Some(t) = o.get("type") else {
                return push_json(out, v);
            };
            let Value::String(t) = t else {
                return emit(t, ns, defined, out);
            };
            let reserved: &[&str] = match t.as_str() {
                "record" | "error" => &["type", "name", "namespace", "doc", "fields", "aliases"],
                "enum" => &[
                    "type",
                    "name",
                    "namespace",
                    "doc",
                    "symbols",
                    "default",
                    "aliases",
                ],
                "fixed" => &["type", "name", "namespace", "doc", "size", "aliases"],
                "array" => &["type", "items"],
                "map" => &["type", "values"],
                _ => &["type"],
            };
            let props: Vec<(&String, &Value)> = o
                .iter()
                .filter(|(k, _)| !reserved.contains(&k.as_str()))
                .collect();
            let named = matches!(t.as_str(), "record" | "error" | "enum" | "fixed");
            if !named && !matches!(t.as_str(), "array" | "map") && props.is_empty() {
                return emit(&Value::String(t.clone()), ns, defined, out);
            }
            out.push('{');
            let mut first = true;
            push_field(out, &mut first, "type", &Value::String(t.clone()));
            let mut inner_ns = ns.map(str::to_string);
            if named {
                let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                let own = o.get("namespace").and_then(Value::as_str).or(ns);
                let full = full_name(name, own);
                let (space, short) = match full.rsplit_once('.') {
                    Some((sp, sh)) => (Some(sp.to_string()), sh.to_string()),
                    None => (None, full.clone()),
                };
                defined.insert(full.clone());
                push_field(out, &mut first, "name", &Value::String(short));
                match (&space, ns) {
                    (Some(sp), _) if Some(sp.as_str()) != ns => {
                        push_field(out, &mut first, "namespace", &Value::String(sp.clone()));
                    }
                    // Java marks a type in the null namespace inside a namespaced one.
                    (None, Some(_)) => {
                        push_field(out, &mut first, "namespace", &Value::String(String::new()));
                    }
                    _ => {}
                }
                inner_ns = space;
                if let Some(d) = o.get("doc") {
                    push_field(out, &mut first, "doc", d);
                }
            }
            match t.as_str() {
                "record" | "error" => {
                    out.push_str(",\"fields\":[");
                    let fields = o.get("fields").and_then(Value::as_array);
                    for (i, f) in fields.into_iter().flatten().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        emit_field(f, inner_ns.as_deref(), defined, out);
                    }
                    out.push(']');
                }
                "enum" => {
                    for k in ["symbols", "default"] {
                        if let Some(x) = o.get(k) {
                            push_field(out, &mut first, k, x);
                        }
                    }
                }
                "fixed" => {
                    if let Some(x) = o.get("size") {
                        push_field(out, &mut first, "size", x);
                    }
                }
                "array" | "map" => {
                    let k = if t == "array" { "items" } else { "values" };
                    if let Some(x) = o.get(k) {
                        out.push_str(&format!(",\"{k}\":"));
                        emit(x, ns, defined, out);
                    }
                }
                _ => {}
            }
            for (k, x) in props {
                push_field(out, &mut first, k, x);
            }
            if named {
                if let Some(a) = o.get("aliases") {
                    push_field(out, &mut first, "aliases", a);
                }
            }
            out.push('}');
        }
        Value::String(name) => {
            if Parser::primitive(name).is_some() {
                return push_json(out, v);
            }
            // A named type used again: its name, short when in the enclosing namespace.
            let full = full_name(name, ns);
            let short = match (full.rsplit_once('.'), ns) {
                (Some((sp, sh)), Some(n)) if sp == n => sh.to_string(),
                (None, _) => full.clone(),
                _ => full.clone(),
            };
            push_json(out, &Value::String(short));
        }
        other => push_json(out, other),
    }
}

fn emit_field(f: &Value, ns: Option<&str>, defined: &mut HashSet<String>, out: &mut String) {
    let Some(o) = f.as_object() else {
        return push_json(out, f);
    };
    out.push('{');
    let mut first = true;
    if let Some(n) = o.get("name") {
        push_field(out, &mut first, "name", n);
    }
    if let Some(t) = o.get("type") {
        out.push_str(",\"type\":");
        emit(t, ns, defined, out);
    }
    for k in ["doc", "default"] {
        if let Some(x) = o.get(k) {
            push_field(out, &mut first, k, x);
        }
    }
    if let Some(x) = o.get("order").filter(|x| x.as_str() != Some("ascending")) {
        push_field(out, &mut first, "order", x);
    }
    if let Some(x) = o.get("aliases") {
        push_field(out, &mut first, "aliases", x);
    }
    for (k, x) in o.iter().filter(|(k, _)| {
        !["name", "type", "doc", "default", "order", "aliases"].contains(&k.as_str())
    }) {
        push_field(out, &mut first, k, x);
    }
    out.push('}');
}

#[cfg(test)]
#[path = "avro_tests.rs"]
mod tests;
