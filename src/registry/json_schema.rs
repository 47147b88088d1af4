//! JSON Schema for the registry (Confluent's schema type `JSON`): parsing, the canonical text,
//! Confluent's compatibility rules and instance validation. Pure: no I/O, no HTTP.
//!
//! Model. A document is loaded the way Confluent's provider loads it (the Everit loader it
//! uses for drafts 4, 6 and 7, the default): every schema object becomes one node of a graph.
//! `true`/`false` are the True/False schemas; an object with `$ref` is a reference (its other
//! keywords are ignored, as in draft 7); otherwise each keyword family present contributes
//! one schema, in Everit's order — `enum`, `allOf`/`anyOf`/`oneOf`, `not`, `const`, `type`
//! (a list of types is an `anyOf` of one schema per type), then the keywords of the types not
//! named by `type` ("sniffed" schemas that do not require their type) — and a node with
//! several of them is a synthetic `allOf`; with none it is the empty schema. This structure
//! matters: Confluent compares these shapes (for instance `{"type":"string","enum":[..]}` is an
//! `allOf` of an enum and a string, so a narrowed enum there is reported as
//! `COMBINED_TYPE_SUBSCHEMAS_CHANGED`). Drafts 2019-09/2020-12 (which Confluent loads with a
//! different library and translates into the same model) are approximated on this model:
//! `$defs`, `prefixItems`, `dependentRequired`/`dependentSchemas`, `unevaluated*` and `$ref`
//! with siblings are understood.
//!
//! References. Each document (the schema and its dependencies) has a base URI: the schema's
//! `$id` if any, a dependency's reference name resolved against it; `$id`s inside change the
//! base as in the specification. A `$ref` is resolved against the base in force, then looked up
//! among the documents and the subschemas carrying an `$id`/`$anchor` (failing that, a
//! dependency whose reference name is the `$ref` as written); its fragment is a JSON
//! pointer (`#/$defs/X` falls back to `#/definitions/X`, as Confluent bridges the two) or an
//! anchor. Unresolvable references reject the schema (Confluent would try to fetch remote ones;
//! skua never fetches). References to the JSON Schema meta-schemas load as the empty schema.
//! Nodes are keyed by (document, pointer), so recursion through `$ref` is a cycle in the graph.
//!
//! Compatibility: the behaviour of Confluent's `json/diff` package, default (STRICT) policy —
//! see [`JsonSchema::can_read`]. Comparisons are memoized per pair of nodes; a pair met again
//! while being compared is assumed compatible, and the whole comparison is repeated with the
//! pairs found incompatible fed back until that set stops growing (Confluent's fixpoint).
//!
//! Bounds (schema text is user input): serde_json refuses JSON nested deeper than 128; loading
//! follows at most [`MAX_DEPTH`] nested schemas/references; a comparison recurses at most
//! [`MAX_COMPARE_DEPTH`] pairs deep and does at most [`COMPARE_BUDGET`] pair comparisons;
//! validation at most [`MAX_VALIDATE_DEPTH`] deep and [`VALIDATE_BUDGET`] steps. Regular
//! expressions use the `regex` crate (linear time, compiled size bounded). At those bounds a
//! release build uses under 512 KiB of stack (measured), so call from a thread with at least
//! 1 MiB (tokio's workers have 2 MiB); debug builds need several times more.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

/// Deepest chain of nested schemas (including `$ref` hops) a document may have.
pub const MAX_DEPTH: usize = 128;
/// Deepest recursion of a compatibility comparison (pairs of schemas).
pub const MAX_COMPARE_DEPTH: usize = 256;
/// Most pairs of schemas one compatibility check compares.
pub const COMPARE_BUDGET: usize = 500_000;
/// Deepest recursion while validating an instance.
pub const MAX_VALIDATE_DEPTH: usize = 256;
/// Most validation steps (schema applications, uniqueness comparisons) for one instance.
pub const VALIDATE_BUDGET: usize = 1_000_000;
/// Violations reported by [`JsonSchema::validate`].
pub const MAX_VIOLATIONS: usize = 10;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draft {
    V4,
    V6,
    V7,
    /// 2019-09 and 2020-12.
    Modern,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crit {
    All,
    Any,
    One,
}

impl Crit {
    fn name(self) -> &'static str {
        match self {
            Crit::All => "allOf",
            Crit::Any => "anyOf",
            Crit::One => "oneOf",
        }
    }
}

#[derive(Debug, Clone)]
struct Pattern {
    source: String,
    /// None when the `regex` crate cannot run it (look-around, backreferences, too big): the
    /// pattern is then compared by text but not checked during validation.
    re: Option<Regex>,
}

/// `additionalProperties` / `additionalItems`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Extra {
    Open,
    Closed,
    Schema(usize),
}

impl Extra {
    fn permits(self) -> bool {
        self != Extra::Closed
    }
    fn schema(self) -> Option<usize> {
        match self {
            Extra::Schema(n) => Some(n),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Str {
    requires: bool,
    min_length: Option<i64>,
    max_length: Option<i64>,
    pattern: Option<Pattern>,
}

#[derive(Debug, Clone)]
struct Num {
    requires_number: bool,
    requires_integer: bool,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    /// Draft 4's boolean `exclusiveMinimum`/`exclusiveMaximum` (validation only).
    minimum_exclusive: bool,
    maximum_exclusive: bool,
    multiple_of: Option<f64>,
}

#[derive(Debug, Clone)]
struct Obj {
    requires: bool,
    properties: BTreeMap<String, usize>,
    required: Vec<String>,
    additional: Extra,
    pattern_properties: Vec<(Pattern, usize)>,
    property_deps: BTreeMap<String, Vec<String>>,
    schema_deps: BTreeMap<String, usize>,
    min_properties: Option<i64>,
    max_properties: Option<i64>,
    property_names: Option<usize>,
    unevaluated: Option<usize>,
}

#[derive(Debug, Clone)]
struct Arr {
    requires: bool,
    all_items: Option<usize>,
    /// `items` as a list (draft 7) / `prefixItems`; None when absent.
    tuple: Option<Vec<usize>>,
    additional: Extra,
    min_items: Option<i64>,
    max_items: Option<i64>,
    unique: bool,
    contains: Option<usize>,
    min_contains: Option<i64>,
    max_contains: Option<i64>,
    unevaluated: Option<usize>,
}

#[derive(Debug, Clone)]
enum Kind {
    Empty,
    True,
    False,
    Ref(usize),
    String(Str),
    Number(Num),
    Boolean,
    Null,
    Object(Box<Obj>),
    Array(Box<Arr>),
    Enum(Vec<Value>),
    Const(Value),
    Combined(Crit, Vec<usize>),
    Not(usize),
    Conditional(Option<usize>, Option<usize>, Option<usize>),
}

/// Annotations every schema may carry (`connect.type` is kept for Confluent's bytes rule).
#[derive(Debug, Clone, Default)]
struct Common {
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    default: Option<Value>,
    connect_type: Option<String>,
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    common: Common,
    /// The (document, JSON pointer) it was loaded from; None for synthetic nodes.
    src: Option<(usize, String)>,
}

/// A parsed JSON Schema with its referenced schemas.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    canonical: String,
    /// The schema (index 0) and its dependencies, as parsed.
    docs: Vec<Value>,
    nodes: Vec<Node>,
    root: usize,
}

// ---------------------------------------------------------------------------------------------
// Loading

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

fn node_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    }
}

/// A child pointer: `ptr` + `/seg` for each segment, escaped (RFC 6901).
fn child(ptr: &str, segs: &[&str]) -> String {
    let mut p = ptr.to_string();
    for s in segs {
        p.push('/');
        p.push_str(&s.replace('~', "~0").replace('/', "~1"));
    }
    p
}

fn mismatch(ptr: &str, key: &str, expected: &str, v: &Value) -> String {
    format!(
        "#{ptr}/{key}: expected type: {expected}, found: {}",
        json_type(v)
    )
}

fn opt_str(ptr: &str, o: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(mismatch(ptr, key, "String", v)),
    }
}

fn opt_int(ptr: &str, o: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| mismatch(ptr, key, "Integer", v)),
    }
}

fn opt_num(ptr: &str, o: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| mismatch(ptr, key, "Number", v)),
    }
}

fn opt_bool(ptr: &str, o: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| mismatch(ptr, key, "Boolean", v)),
    }
}

fn strings(ptr: &str, key: &str, v: &Value) -> Result<Vec<String>, String> {
    let a = v
        .as_array()
        .ok_or_else(|| mismatch(ptr, key, "JSONArray", v))?;
    a.iter()
        .map(|s| {
            s.as_str()
                .map(str::to_string)
                .ok_or_else(|| mismatch(ptr, key, "String", s))
        })
        .collect()
}

fn compile(loc: &str, source: &str) -> Result<Pattern, String> {
    let re = match RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(re) => Some(re),
        Err(regex::Error::CompiledTooBig(_)) => None,
        Err(e) if e.to_string().contains("not supported") => None,
        Err(_) => return Err(format!("{loc}: invalid regular expression [{source}]")),
    };
    Ok(Pattern {
        source: source.to_string(),
        re,
    })
}

fn draft_of(v: &Value) -> Option<Draft> {
    let s = v.get("$schema")?.as_str()?;
    Some(if s.contains("draft-04") {
        Draft::V4
    } else if s.contains("draft-06") {
        Draft::V6
    } else if s.contains("2019-09") || s.contains("2020-12") {
        Draft::Modern
    } else {
        Draft::V7
    })
}

fn id_keyword(d: Draft) -> &'static str {
    if d == Draft::V4 {
        "id"
    } else {
        "$id"
    }
}

fn array_keywords(d: Draft) -> &'static [&'static str] {
    match d {
        Draft::V4 => &[
            "items",
            "additionalItems",
            "minItems",
            "maxItems",
            "uniqueItems",
        ],
        Draft::V6 | Draft::V7 => &[
            "items",
            "additionalItems",
            "minItems",
            "maxItems",
            "uniqueItems",
            "contains",
        ],
        Draft::Modern => &[
            "items",
            "additionalItems",
            "minItems",
            "maxItems",
            "uniqueItems",
            "contains",
            "prefixItems",
            "unevaluatedItems",
        ],
    }
}

fn object_keywords(d: Draft) -> &'static [&'static str] {
    const V4: &[&str] = &[
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "dependencies",
        "patternProperties",
        "additionalProperties",
    ];
    match d {
        Draft::V4 => V4,
        Draft::V6 | Draft::V7 => &[
            "properties",
            "required",
            "minProperties",
            "maxProperties",
            "dependencies",
            "patternProperties",
            "additionalProperties",
            "propertyNames",
        ],
        Draft::Modern => &[
            "properties",
            "required",
            "minProperties",
            "maxProperties",
            "dependencies",
            "patternProperties",
            "additionalProperties",
            "propertyNames",
            "dependentRequired",
            "dependentSchemas",
            "unevaluatedProperties",
        ],
    }
}

const NUMBER_KEYWORDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
];
const STRING_KEYWORDS: &[&str] = &["minLength", "maxLength", "pattern", "format"];

fn is_meta_schema(r: &str) -> bool {
    let base = r.split('#').next().unwrap_or(r);
    let rest = base
        .strip_prefix("http://json-schema.org/")
        .or_else(|| base.strip_prefix("https://json-schema.org/"));
    matches!(
        rest,
        Some(
            "schema"
                | "draft-04/schema"
                | "draft-06/schema"
                | "draft-07/schema"
                | "draft/2019-09/schema"
                | "draft/2020-12/schema"
        )
    )
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return false;
    }
    for c in chars {
        if c == ':' {
            return true;
        }
        if !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.') {
            return false;
        }
    }
    false
}

/// (scheme and authority, path) of a URI without fragment.
fn split_authority(s: &str) -> (&str, &str) {
    if !has_scheme(s) {
        return ("", s);
    }
    let colon = s.find(':').unwrap_or(0);
    let rest = &s[colon + 1..];
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').map_or(s.len(), |i| colon + 3 + i);
        (&s[..end], &s[end..])
    } else {
        (&s[..=colon], rest)
    }
}

fn remove_dots(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let last = segs.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                if out.len() > 1 || out.first().is_some_and(|s| !s.is_empty()) {
                    out.pop();
                }
            }
            s => out.push(s),
        }
        if i == last && (*seg == "." || *seg == "..") {
            out.push("");
        }
    }
    out.join("/")
}

/// `r` resolved against `base` (RFC 3986, simplified; fragments dropped; "" = no base).
fn resolve_uri(base: &str, r: &str) -> String {
    let r = r.split('#').next().unwrap_or("");
    if has_scheme(r) {
        let (pre, path) = split_authority(r);
        return format!("{pre}{}", remove_dots(path));
    }
    let base = base.split('#').next().unwrap_or("");
    if r.is_empty() {
        return base.to_string();
    }
    let (pre, bpath) = split_authority(base);
    if let Some(scheme_rel) = r.strip_prefix("//") {
        let scheme = pre.split(':').next().unwrap_or("");
        return format!("{scheme}://{scheme_rel}");
    }
    let merged = if r.starts_with('/') {
        r.to_string()
    } else {
        match bpath.rfind('/') {
            Some(i) => format!("{}{r}", &bpath[..=i]),
            None => r.to_string(),
        }
    };
    format!("{pre}{}", remove_dots(&merged))
}

struct Parser<'a> {
    docs: &'a [Value],
    drafts: Vec<Draft>,
    /// The base URI in force at each document's root, before its own `$id`.
    bases: Vec<String>,
    /// Absolute URI (or URI#anchor) → (document, pointer) of the schema it names.
    registry: HashMap<String, (usize, String)>,
    nodes: Vec<Node>,
    at: HashMap<(usize, String), usize>,
}

/// Keys whose values are schemas (single), maps of schemas, or arrays of schemas: where
/// `$id`s and `$anchor`s are looked for.
const SCHEMA_KEYS: &[&str] = &[
    "additionalProperties",
    "additionalItems",
    "items",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
];
const SCHEMA_MAP_KEYS: &[&str] = &[
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "dependencies",
    "dependentSchemas",
];
const SCHEMA_LIST_KEYS: &[&str] = &["allOf", "anyOf", "oneOf", "items", "prefixItems"];

impl<'a> Parser<'a> {
    fn new(docs: &'a [Value], names: &[&str]) -> Parser<'a> {
        let root_draft = draft_of(&docs[0]).unwrap_or(Draft::V7);
        let drafts: Vec<Draft> = docs
            .iter()
            .map(|d| draft_of(d).unwrap_or(root_draft))
            .collect();
        let root_id = docs[0]
            .get(id_keyword(root_draft))
            .and_then(Value::as_str)
            .map(|id| resolve_uri("", id))
            .unwrap_or_default();
        let mut bases = vec![String::new()];
        bases.extend(names.iter().map(|n| resolve_uri(&root_id, n)));
        let mut p = Parser {
            docs,
            drafts,
            bases,
            registry: HashMap::new(),
            nodes: Vec::new(),
            at: HashMap::new(),
        };
        for (d, v) in docs.iter().enumerate() {
            let base = p.bases[d].clone();
            p.register(d, String::new(), v, &base);
        }
        for (i, n) in names.iter().enumerate() {
            p.registry
                .entry(p.bases[i + 1].clone())
                .or_insert((i + 1, String::new()));
            p.registry
                .entry((*n).to_string())
                .or_insert((i + 1, String::new()));
            p.registry
                .entry(resolve_uri("", n))
                .or_insert((i + 1, String::new()));
        }
        p
    }

    fn register(&mut self, doc: usize, ptr: String, v: &'a Value, scope: &str) {
        let Value::Object(o) = v else { return };
        let mut scope = scope.to_string();
        if let Some(id) = o.get(id_keyword(self.drafts[doc])).and_then(Value::as_str) {
            let (base, frag) = id.split_once('#').unwrap_or((id, ""));
            if !base.is_empty() {
                scope = resolve_uri(&scope, base);
                self.registry
                    .entry(scope.clone())
                    .or_insert((doc, ptr.clone()));
            }
            if !frag.is_empty() {
                self.registry
                    .entry(format!("{scope}#{frag}"))
                    .or_insert((doc, ptr.clone()));
            }
        }
        if ptr.is_empty() {
            self.registry
                .entry(scope.clone())
                .or_insert((doc, String::new()));
        }
        if let Some(a) = o.get("$anchor").and_then(Value::as_str) {
            self.registry
                .entry(format!("{scope}#{a}"))
                .or_insert((doc, ptr.clone()));
        }
        for k in SCHEMA_KEYS {
            if let Some(c @ Value::Object(_)) = o.get(*k) {
                self.register(doc, child(&ptr, &[k]), c, &scope);
            }
        }
        for k in SCHEMA_MAP_KEYS {
            if let Some(Value::Object(m)) = o.get(*k) {
                for (name, c) in m {
                    self.register(doc, child(&ptr, &[k, name]), c, &scope);
                }
            }
        }
        for k in SCHEMA_LIST_KEYS {
            if let Some(Value::Array(a)) = o.get(*k) {
                for (i, c) in a.iter().enumerate() {
                    self.register(doc, child(&ptr, &[k, &i.to_string()]), c, &scope);
                }
            }
        }
    }

    /// The base URI in force at `ptr` of `doc`: the `$id`s of it and of the schemas above it
    /// applied (only at schema positions: a `properties` map or an `enum` value is not one).
    fn scope_of(&self, doc: usize, ptr: &str) -> String {
        let id_kw = id_keyword(self.drafts[doc]);
        let apply = |v: &Value, scope: &mut String| {
            if let Some(id) = v.get(id_kw).and_then(Value::as_str) {
                let base = id.split('#').next().unwrap_or("");
                if !base.is_empty() {
                    *scope = resolve_uri(scope, base);
                }
            }
        };
        let mut scope = self.bases[doc].clone();
        let mut cur = &self.docs[doc];
        apply(cur, &mut scope);
        // Whether `cur` is a schema, or a map/list of schemas (its members are schemas).
        let (mut is_schema, mut holds_schemas) = (true, false);
        for tok in ptr.split('/').skip(1) {
            let tok = tok.replace("~1", "/").replace("~0", "~");
            let next = match cur {
                Value::Object(o) => o.get(&tok),
                Value::Array(a) => tok.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            let Some(next) = next else { break };
            let (was_schema, was_holder) = (is_schema, holds_schemas);
            is_schema = was_holder
                || (was_schema && SCHEMA_KEYS.contains(&tok.as_str()) && !next.is_array());
            holds_schemas = was_schema
                && (SCHEMA_MAP_KEYS.contains(&tok.as_str())
                    || (SCHEMA_LIST_KEYS.contains(&tok.as_str()) && next.is_array()));
            if !is_schema && !holds_schemas {
                break;
            }
            if is_schema {
                apply(next, &mut scope);
            }
            cur = next;
        }
        scope
    }

    fn push(&mut self, kind: Kind, common: Common, src: Option<(usize, String)>) -> usize {
        self.nodes.push(Node { kind, common, src });
        self.nodes.len() - 1
    }

    /// The node for the schema at `ptr` of `doc` (loaded once; cycles come back to it).
    fn node_at(&mut self, doc: usize, ptr: String, depth: usize) -> Result<usize, String> {
        let key = (doc, ptr);
        if let Some(&id) = self.at.get(&key) {
            return Ok(id);
        }
        let ptr = key.1;
        if depth > MAX_DEPTH {
            return Err(format!(
                "#{ptr}: schema nested too deeply (more than {MAX_DEPTH} levels)"
            ));
        }
        let docs = self.docs;
        let v = docs[doc]
            .pointer(&ptr)
            .ok_or_else(|| format!("#{ptr}: no schema at this location"))?;
        let id = self.push(Kind::Empty, Common::default(), Some((doc, ptr.clone())));
        self.at.insert((doc, ptr.clone()), id);
        let (kind, common) = match v {
            Value::Bool(true) => (Kind::True, Common::default()),
            Value::Bool(false) => (Kind::False, Common::default()),
            Value::Object(o) => self.object(doc, &ptr, o, depth, false)?,
            other => {
                return Err(format!(
                    "#{ptr}: expected type is one of Boolean or JSONObject, found: {}",
                    json_type(other)
                ))
            }
        };
        self.nodes[id].kind = kind;
        self.nodes[id].common = common;
        Ok(id)
    }

    fn sub(&mut self, doc: usize, ptr: &str, segs: &[&str], depth: usize) -> Result<usize, String> {
        self.node_at(doc, child(ptr, segs), depth + 1)
    }

    fn common(&self, doc: usize, ptr: &str, o: &Map<String, Value>) -> Result<Common, String> {
        let draft = self.drafts[doc];
        if draft == Draft::V7 {
            opt_bool(ptr, o, "readOnly")?;
            opt_bool(ptr, o, "writeOnly")?;
        }
        Ok(Common {
            id: opt_str(ptr, o, id_keyword(draft))?,
            title: opt_str(ptr, o, "title")?,
            description: opt_str(ptr, o, "description")?,
            default: o.get("default").cloned(),
            connect_type: o
                .get("connect.type")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    fn object(
        &mut self,
        doc: usize,
        ptr: &str,
        o: &'a Map<String, Value>,
        depth: usize,
        skip_ref: bool,
    ) -> Result<(Kind, Common), String> {
        let draft = self.drafts[doc];
        let common = self.common(doc, ptr, o)?;
        if let (false, Some(r)) = (skip_ref, o.get("$ref")) {
            let r = r
                .as_str()
                .ok_or_else(|| mismatch(ptr, "$ref", "String", r))?;
            let target = self.reference(doc, ptr, r, depth)?;
            // 2019-09 and later apply the other keywords beside a $ref too.
            let has_siblings = o.keys().any(|k| {
                let k = k.as_str();
                [
                    NUMBER_KEYWORDS,
                    STRING_KEYWORDS,
                    array_keywords(draft),
                    object_keywords(draft),
                ]
                .iter()
                .any(|l| l.contains(&k))
                    || [
                        "type", "enum", "const", "allOf", "anyOf", "oneOf", "not", "if",
                    ]
                    .contains(&k)
            });
            if draft == Draft::Modern && has_siblings {
                let (rest, _) = self.object(doc, ptr, o, depth, true)?;
                let rest = self.push(rest, Common::default(), None);
                let r = self.push(Kind::Ref(target), Common::default(), None);
                return Ok((Kind::Combined(Crit::All, vec![r, rest]), common));
            }
            return Ok((Kind::Ref(target), common));
        }
        let mut kinds = Vec::new();
        if let Some(e) = o.get("enum") {
            let a = e
                .as_array()
                .ok_or_else(|| mismatch(ptr, "enum", "JSONArray", e))?;
            kinds.push(Kind::Enum(a.clone()));
        }
        for crit in [Crit::All, Crit::Any, Crit::One] {
            let key = crit.name();
            if let Some(v) = o.get(key) {
                let a = v
                    .as_array()
                    .ok_or_else(|| mismatch(ptr, key, "JSONArray", v))?;
                let mut subs = Vec::with_capacity(a.len());
                for i in 0..a.len() {
                    subs.push(self.sub(doc, ptr, &[key, &i.to_string()], depth)?);
                }
                kinds.push(Kind::Combined(crit, subs));
            }
        }
        if o.contains_key("not") {
            kinds.push(Kind::Not(self.sub(doc, ptr, &["not"], depth)?));
        }
        if let (true, Some(c)) = (draft != Draft::V4, o.get("const")) {
            kinds.push(Kind::Const(c.clone()));
        }
        // The keyword families consumed by `type`: (array, object, number, string).
        let mut consumed = [false; 4];
        match o.get("type") {
            None => {}
            Some(Value::String(t)) => {
                kinds.push(self.typed(doc, ptr, o, t, depth, &mut consumed)?)
            }
            Some(Value::Array(ts)) => {
                let mut subs = Vec::with_capacity(ts.len());
                for t in ts {
                    let t = t
                        .as_str()
                        .ok_or_else(|| mismatch(ptr, "type", "String", t))?;
                    let k = self.typed(doc, ptr, o, t, depth, &mut consumed)?;
                    subs.push(self.push(k, Common::default(), None));
                }
                kinds.push(Kind::Combined(Crit::Any, subs));
            }
            Some(other) => {
                return Err(format!(
                    "#{ptr}/type: expected type is one of JSONArray or String, found: {}",
                    json_type(other)
                ))
            }
        }
        let has = |kws: &[&str]| kws.iter().any(|k| o.contains_key(*k));
        if !consumed[0] && has(array_keywords(draft)) {
            kinds.push(Kind::Array(Box::new(
                self.array(doc, ptr, o, false, depth)?,
            )));
        }
        if !consumed[1] && has(object_keywords(draft)) {
            kinds.push(Kind::Object(Box::new(self.obj(doc, ptr, o, false, depth)?)));
        }
        if !consumed[2] && has(NUMBER_KEYWORDS) {
            kinds.push(Kind::Number(self.number(doc, ptr, o, false, false)?));
        }
        if !consumed[3] && has(STRING_KEYWORDS) {
            kinds.push(Kind::String(string(ptr, o, false)?));
        }
        if draft != Draft::V4 && draft != Draft::V6 && has(&["if", "then", "else"]) {
            let mut opt = |k: &str| -> Result<Option<usize>, String> {
                match o.contains_key(k) {
                    true => self.sub(doc, ptr, &[k], depth).map(Some),
                    false => Ok(None),
                }
            };
            let (i, t, e) = (opt("if")?, opt("then")?, opt("else")?);
            kinds.push(Kind::Conditional(i, t, e));
        }
        let kind = match kinds.len() {
            0 => Kind::Empty,
            1 => kinds.pop().unwrap_or(Kind::Empty),
            _ => {
                let subs = kinds
                    .into_iter()
                    .map(|k| self.push(k, Common::default(), None))
                    .collect();
                Kind::Combined(Crit::All, subs)
            }
        };
        Ok((kind, common))
    }

    fn typed(
        &mut self,
        doc: usize,
        ptr: &str,
        o: &'a Map<String, Value>,
        t: &str,
        depth: usize,
        consumed: &mut [bool; 4],
    ) -> Result<Kind, String> {
        Ok(match t {
            "string" => {
                consumed[3] = true;
                Kind::String(string(ptr, o, true)?)
            }
            "integer" | "number" => {
                consumed[2] = true;
                Kind::Number(self.number(doc, ptr, o, true, t == "integer")?)
            }
            "boolean" => Kind::Boolean,
            "null" => Kind::Null,
            "array" => {
                consumed[0] = true;
                Kind::Array(Box::new(self.array(doc, ptr, o, true, depth)?))
            }
            "object" => {
                consumed[1] = true;
                Kind::Object(Box::new(self.obj(doc, ptr, o, true, depth)?))
            }
            other => return Err(format!("#{ptr}: unknown type: [{other}]")),
        })
    }

    fn number(
        &self,
        doc: usize,
        ptr: &str,
        o: &Map<String, Value>,
        requires_number: bool,
        requires_integer: bool,
    ) -> Result<Num, String> {
        let multiple_of = opt_num(ptr, o, "multipleOf")?;
        if multiple_of == Some(0.0) {
            return Err(format!("#{ptr}: multipleOf should not be 0"));
        }
        let mut n = Num {
            requires_number,
            requires_integer,
            minimum: opt_num(ptr, o, "minimum")?,
            maximum: opt_num(ptr, o, "maximum")?,
            exclusive_minimum: None,
            exclusive_maximum: None,
            minimum_exclusive: false,
            maximum_exclusive: false,
            multiple_of,
        };
        if self.drafts[doc] == Draft::V4 {
            n.minimum_exclusive = opt_bool(ptr, o, "exclusiveMinimum")?.unwrap_or(false);
            n.maximum_exclusive = opt_bool(ptr, o, "exclusiveMaximum")?.unwrap_or(false);
        } else {
            n.exclusive_minimum = opt_num(ptr, o, "exclusiveMinimum")?;
            n.exclusive_maximum = opt_num(ptr, o, "exclusiveMaximum")?;
        }
        Ok(n)
    }

    fn extra(
        &mut self,
        doc: usize,
        ptr: &str,
        key: &str,
        v: &Value,
        depth: usize,
    ) -> Result<Extra, String> {
        match v {
            Value::Bool(true) => Ok(Extra::Open),
            Value::Bool(false) => Ok(Extra::Closed),
            Value::Object(_) => Ok(Extra::Schema(self.sub(doc, ptr, &[key], depth)?)),
            other => Err(format!(
                "#{ptr}/{key}: expected type is one of Boolean or JSONObject, found: {}",
                json_type(other)
            )),
        }
    }

    fn schema_map(
        &mut self,
        doc: usize,
        ptr: &str,
        key: &str,
        v: &Value,
        depth: usize,
    ) -> Result<Vec<(String, usize)>, String> {
        let m = v
            .as_object()
            .ok_or_else(|| mismatch(ptr, key, "JSONObject", v))?;
        let mut out = Vec::with_capacity(m.len());
        for k in m.keys() {
            out.push((k.clone(), self.sub(doc, ptr, &[key, k], depth)?));
        }
        Ok(out)
    }

    fn obj(
        &mut self,
        doc: usize,
        ptr: &str,
        o: &'a Map<String, Value>,
        requires: bool,
        depth: usize,
    ) -> Result<Obj, String> {
        let draft = self.drafts[doc];
        let mut ob = Obj {
            requires,
            properties: BTreeMap::new(),
            required: Vec::new(),
            additional: Extra::Open,
            pattern_properties: Vec::new(),
            property_deps: BTreeMap::new(),
            schema_deps: BTreeMap::new(),
            min_properties: opt_int(ptr, o, "minProperties")?,
            max_properties: opt_int(ptr, o, "maxProperties")?,
            property_names: None,
            unevaluated: None,
        };
        if let Some(v) = o.get("properties") {
            let m = v
                .as_object()
                .ok_or_else(|| mismatch(ptr, "properties", "JSONObject", v))?;
            for (k, pv) in m {
                // Everit reads a non-object "$id" entry as the id keyword, not a property.
                if k == id_keyword(draft) && !pv.is_object() {
                    continue;
                }
                let n = self.sub(doc, ptr, &["properties", k], depth)?;
                ob.properties.insert(k.clone(), n);
            }
        }
        if let Some(v) = o.get("additionalProperties") {
            ob.additional = self.extra(doc, ptr, "additionalProperties", v, depth)?;
        }
        if let Some(v) = o.get("required") {
            ob.required = strings(ptr, "required", v)?;
        }
        if let Some(v) = o.get("patternProperties") {
            for (k, n) in self.schema_map(doc, ptr, "patternProperties", v, depth)? {
                let p = compile(&format!("#{ptr}/patternProperties"), &k)?;
                ob.pattern_properties.push((p, n));
            }
        }
        if let Some(v) = o.get("dependencies") {
            let m = v
                .as_object()
                .ok_or_else(|| mismatch(ptr, "dependencies", "JSONObject", v))?;
            for (k, d) in m {
                if d.is_array() {
                    ob.property_deps
                        .insert(k.clone(), strings(ptr, "dependencies", d)?);
                } else if d.is_object() || d.is_boolean() {
                    let n = self.sub(doc, ptr, &["dependencies", k], depth)?;
                    ob.schema_deps.insert(k.clone(), n);
                } else {
                    return Err(mismatch(ptr, "dependencies", "JSONArray", d));
                }
            }
        }
        if draft != Draft::V4 && o.contains_key("propertyNames") {
            ob.property_names = Some(self.sub(doc, ptr, &["propertyNames"], depth)?);
        }
        if draft == Draft::Modern {
            if let Some(v) = o.get("dependentRequired") {
                let m = v
                    .as_object()
                    .ok_or_else(|| mismatch(ptr, "dependentRequired", "JSONObject", v))?;
                for (k, d) in m {
                    ob.property_deps
                        .insert(k.clone(), strings(ptr, "dependentRequired", d)?);
                }
            }
            if let Some(v) = o.get("dependentSchemas") {
                for (k, n) in self.schema_map(doc, ptr, "dependentSchemas", v, depth)? {
                    ob.schema_deps.insert(k, n);
                }
            }
            if o.contains_key("unevaluatedProperties") {
                ob.unevaluated = Some(self.sub(doc, ptr, &["unevaluatedProperties"], depth)?);
            }
        }
        Ok(ob)
    }

    fn array(
        &mut self,
        doc: usize,
        ptr: &str,
        o: &'a Map<String, Value>,
        requires: bool,
        depth: usize,
    ) -> Result<Arr, String> {
        let draft = self.drafts[doc];
        let contains_count = |k: &str| o.get(k).and_then(Value::as_f64).map(|f| f as i64);
        let mut a = Arr {
            requires,
            all_items: None,
            tuple: None,
            additional: Extra::Open,
            min_items: opt_int(ptr, o, "minItems")?,
            max_items: opt_int(ptr, o, "maxItems")?,
            unique: opt_bool(ptr, o, "uniqueItems")?.unwrap_or(false),
            contains: None,
            min_contains: contains_count("minContains"),
            max_contains: contains_count("maxContains"),
            unevaluated: None,
        };
        if let Some(v) = o.get("additionalItems") {
            a.additional = self.extra(doc, ptr, "additionalItems", v, depth)?;
        }
        let list = |p: &mut Self, key: &str, v: &Value| -> Result<Vec<usize>, String> {
            let items = v
                .as_array()
                .ok_or_else(|| mismatch(ptr, key, "JSONArray", v))?;
            (0..items.len())
                .map(|i| p.sub(doc, ptr, &[key, &i.to_string()], depth))
                .collect()
        };
        let prefix = match (draft, o.get("prefixItems")) {
            (Draft::Modern, Some(v)) => {
                a.tuple = Some(list(self, "prefixItems", v)?);
                true
            }
            _ => false,
        };
        match o.get("items") {
            None => {}
            Some(v @ Value::Array(_)) if !prefix => {
                a.tuple = Some(list(self, "items", v)?);
            }
            Some(Value::Bool(false)) if draft == Draft::Modern => {
                // No items at all (beyond prefixItems).
                a.additional = Extra::Closed;
                a.tuple.get_or_insert_with(Vec::new);
            }
            Some(Value::Bool(true)) if draft == Draft::Modern => {}
            Some(Value::Object(_)) | Some(Value::Bool(_)) => {
                let n = self.sub(doc, ptr, &["items"], depth)?;
                if prefix {
                    a.additional = Extra::Schema(n);
                } else {
                    a.all_items = Some(n);
                }
            }
            Some(other) => {
                return Err(format!(
                    "#{ptr}/items: expected type is one of JSONArray or JSONObject, found: {}",
                    json_type(other)
                ))
            }
        }
        if draft != Draft::V4 && o.contains_key("contains") {
            a.contains = Some(self.sub(doc, ptr, &["contains"], depth)?);
        }
        if draft == Draft::Modern && o.contains_key("unevaluatedItems") {
            a.unevaluated = Some(self.sub(doc, ptr, &["unevaluatedItems"], depth)?);
        }
        Ok(a)
    }

    /// The node a `$ref` found at `ptr` of `doc` designates.
    fn reference(&mut self, doc: usize, ptr: &str, r: &str, depth: usize) -> Result<usize, String> {
        if is_meta_schema(r) {
            return Ok(self.push(Kind::Empty, Common::default(), None));
        }
        let unresolved = |why: &str| format!("#{ptr}: unresolved $ref '{r}': {why}");
        let scope = self.scope_of(doc, ptr);
        let (base, frag) = r.split_once('#').unwrap_or((r, ""));
        let frag = percent_decode(frag);
        let (uri, (rdoc, root_ptr)) = if base.is_empty() {
            let hit = self.registry.get(&scope).cloned();
            (scope, hit.unwrap_or((doc, String::new())))
        } else {
            let abs = resolve_uri(&scope, base);
            let hit = self
                .registry
                .get(&abs)
                .or_else(|| self.registry.get(base))
                .or_else(|| self.registry.get(&resolve_uri("", base)))
                .cloned()
                .ok_or_else(|| unresolved("no referenced schema has that name"))?;
            (abs, hit)
        };
        let docs = self.docs;
        let (rdoc, target) = if frag.is_empty() {
            (rdoc, root_ptr)
        } else if frag.starts_with('/') {
            let p = format!("{root_ptr}{frag}");
            if docs[rdoc].pointer(&p).is_some() {
                (rdoc, p)
            } else {
                let alt = frag
                    .strip_prefix("/$defs/")
                    .map(|rest| format!("{root_ptr}/definitions/{rest}"))
                    .filter(|alt| docs[rdoc].pointer(alt).is_some())
                    .ok_or_else(|| unresolved("no schema at that pointer"))?;
                (rdoc, alt)
            }
        } else {
            self.registry
                .get(&format!("{uri}#{frag}"))
                .cloned()
                .ok_or_else(|| unresolved("no schema has that anchor"))?
        };
        self.node_at(rdoc, target, depth + 1)
    }
}

fn string(ptr: &str, o: &Map<String, Value>, requires: bool) -> Result<Str, String> {
    opt_str(ptr, o, "format")?;
    let pattern = match opt_str(ptr, o, "pattern")? {
        Some(p) => Some(compile(&format!("#{ptr}/pattern"), &p)?),
        None => None,
    };
    Ok(Str {
        requires,
        min_length: opt_int(ptr, o, "minLength")?,
        max_length: opt_int(ptr, o, "maxLength")?,
        pattern,
    })
}

impl JsonSchema {
    /// Parses a JSON Schema.
    ///
    /// `text`: the schema's JSON text (an object or a boolean). `deps`: every referenced
    /// schema, transitively, dependencies first, as (reference name = the `$ref` URL/name it
    /// is referred to by, that schema's text). Rejects, with a message for Confluent's
    /// `42201 Invalid schema of type JSON, details: <msg>`, text that is not JSON, a root that
    /// is neither an object nor a boolean, and anything Confluent's loader refuses in the
    /// schemas it reaches: a `type` that is not a type name or a list of them, keywords of the
    /// wrong JSON type (`"properties": 5`, `"minLength": "x"`, `"required": [1]`, …), a
    /// non-schema where a schema is expected, `multipleOf: 0`, an invalid regular expression,
    /// a `$ref` that resolves to nothing. Like Confluent, schemas reachable only from unused
    /// `definitions` are not checked.
    pub fn parse(text: &str, deps: &[(String, String)]) -> Result<JsonSchema, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("Invalid JSON: {e}"))?;
        if !root.is_object() && !root.is_boolean() {
            return Err(format!(
                "Invalid JSON schema: expected an object or boolean at the root, found {}",
                node_type(&root)
            ));
        }
        let canonical = serde_json::to_string(&root).map_err(|e| format!("Invalid JSON: {e}"))?;
        let mut docs = vec![root];
        for (name, t) in deps {
            let v: Value = serde_json::from_str(t)
                .map_err(|e| format!("Invalid JSON in referenced schema '{name}': {e}"))?;
            if !v.is_object() && !v.is_boolean() {
                return Err(format!(
                    "Invalid JSON schema: referenced schema '{name}' is not an object or boolean"
                ));
            }
            docs.push(v);
        }
        let names: Vec<&str> = deps.iter().map(|(n, _)| n.as_str()).collect();
        let mut p = Parser::new(&docs, &names);
        let root = p.node_at(0, String::new(), 0)?;
        let nodes = p.nodes;
        Ok(JsonSchema {
            canonical,
            docs,
            nodes,
            root,
        })
    }

    /// The canonical text the registry stores: the schema as compact JSON. Confluent stores
    /// Jackson's compact form in the original key order; here keys come out sorted (serde_json
    /// without `preserve_order`). Pretty and compact inputs of one schema give the same text.
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// Confluent's compatibility check: Ok if `self` (the new schema) is backward compatible
    /// with `previous` under Confluent's JSON `SchemaDiff` with its default STRICT policy
    /// (`previous` is the "original", `self` the "update"). Among its rules: adding an optional
    /// property to an open content model (no `additionalProperties: false`, no
    /// `patternProperties`, no schema-valued `additionalProperties`) is incompatible, to a
    /// closed one compatible; removing a property from a closed model is incompatible, from an
    /// open one compatible; adding a required property without default, narrowing a type
    /// (`number` → `integer`), tightening `maxLength`/`minimum`/…, adding a `pattern`,
    /// narrowing an `enum`, closing `additionalProperties`, fewer `anyOf`/`oneOf` branches or
    /// more `allOf` branches are incompatible; the reverse changes are compatible, as is a new
    /// schema that is a `oneOf`/`anyOf` with a branch compatible with the old schema. `$ref`s
    /// are followed (within the document and to the dependencies given to [`parse`]).
    ///
    /// Err lists the incompatible differences as Confluent prints them, e.g.
    /// `{errorType:"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", description:"The new schema
    /// has an open content model and has a property or item at path '#/properties/b' which is
    /// missing in the old schema'}` (sic: Confluent closes with `'}`), with "new"/"old" filled
    /// in as for a BACKWARD check. For FORWARD (`previous.can_read(self)`) use
    /// [`can_read_labelled`](Self::can_read_labelled) with ("old", "new") to word the messages
    /// as Confluent does. Confluent's extra `{oldSchemaVersion: ..}`/`{oldSchema: '..'}` entries
    /// are the caller's to add.
    ///
    /// [`parse`]: JsonSchema::parse
    pub fn can_read(&self, previous: &JsonSchema) -> Result<(), Vec<String>> {
        self.can_read_labelled(previous, "new", "old")
    }

    /// [`can_read`](Self::can_read) with the two words Confluent substitutes into its messages:
    /// `reader` names `self`'s side, `writer` `previous`'s ("new"/"old" for BACKWARD,
    /// "old"/"new" when called as `previous.can_read_labelled(new, "old", "new")` for FORWARD).
    pub fn can_read_labelled(
        &self,
        previous: &JsonSchema,
        reader: &str,
        writer: &str,
    ) -> Result<(), Vec<String>> {
        let diffs = diff(previous, self).map_err(|e| vec![e])?;
        let errors: Vec<String> = diffs
            .iter()
            .filter(|d| !d.ty.compatible())
            .map(|d| d.describe(reader, writer))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Validates one JSON value against the schema: Ok, or the first few (at most
    /// [`MAX_VIOLATIONS`]) violations as `"#/path: message"`. Supports the draft-07 keywords
    /// (`type`, `properties`, `required`, `additionalProperties`, `patternProperties`,
    /// `dependencies`, `propertyNames`, `min/maxProperties`, `items` (also tuples),
    /// `additionalItems`, `min/maxItems`, `uniqueItems`, `contains`, `enum`, `const`,
    /// `minimum`/`maximum`/`exclusive*` (draft-04 booleans too), `multipleOf`,
    /// `min/maxLength` (in characters), `pattern` (searched, not anchored), `allOf`/`anyOf`/
    /// `oneOf`/`not`, `if`/`then`/`else`, `$ref` local and to dependencies). Not checked:
    /// `format`, `unevaluated*`, and patterns the `regex` crate cannot run (look-around,
    /// backreferences).
    pub fn validate(&self, value: &Value) -> Result<(), Vec<String>> {
        let mut v = Validator {
            s: self,
            steps: VALIDATE_BUDGET,
            aborted: None,
        };
        let mut errs = Vec::new();
        v.check(self.root, value, "", 0, &mut errs, MAX_VIOLATIONS);
        if let Some(why) = v.aborted {
            return Err(vec![why]);
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    /// Follows `$ref`s (a pure reference cycle stays a reference).
    fn resolve(&self, mut n: usize) -> usize {
        for _ in 0..=self.nodes.len() {
            match self.nodes[n].kind {
                Kind::Ref(t) => n = t,
                _ => return n,
            }
        }
        n
    }

    /// The JSON a node was loaded from (for de-duplicating combined subschemas).
    fn source(&self, n: usize) -> Option<&Value> {
        let (doc, ptr) = self.nodes[n].src.as_ref()?;
        self.docs.get(*doc)?.pointer(ptr)
    }
}

/// Structural equality with numbers compared by value (`1 == 1.0`), as JSON Schema wants.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------------
// Compatibility (Confluent's json/diff)

/// How Confluent words a difference (`Difference.error()`), by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wording {
    /// "The keyword at path .. in the %s schema is not present in the %s schema".
    Keyword,
    /// "The value at path .. in the %s schema is more than its value in the %s schema".
    Increased,
    /// ".. is less than its value ..".
    Decreased,
    /// "The value at path .. is different between the %s and %s schema".
    Changed,
    /// "An array or combined type at path .. has fewer elements in the %s schema ..".
    Narrowed,
    /// ".. has more elements ..".
    Extended,
    /// "A type at path .. is different between the %s schema and the %s schema".
    TypeChanged,
    /// Per type (content-model messages), or no description.
    Other,
}

macro_rules! strict {
    (ok) => {
        true
    };
    (no) => {
        false
    };
}

macro_rules! diff_types {
    ($($name:ident $ok:tt $wording:ident,)*) => {
        /// Confluent's `Difference.Type`s this port produces.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        enum DiffType { $($name),* }
        impl DiffType {
            fn name(self) -> &'static str {
                match self { $(DiffType::$name => stringify!($name)),* }
            }
            /// Whether Confluent's `COMPATIBLE_CHANGES_STRICT` (the default policy) has it.
            fn compatible(self) -> bool {
                match self { $(DiffType::$name => strict!($ok)),* }
            }
            fn wording(self) -> Wording {
                match self { $(DiffType::$name => Wording::$wording),* }
            }
        }
    };
}

// Every difference type: its name, whether the STRICT policy accepts it ("ok"), its wording.
diff_types! {
    ID_CHANGED ok Other,
    DESCRIPTION_CHANGED ok Other,
    TITLE_CHANGED ok Other,
    DEFAULT_CHANGED ok Other,
    SCHEMA_ADDED no Other,
    SCHEMA_REMOVED ok Other,
    TYPE_EXTENDED ok Other,
    TYPE_NARROWED no TypeChanged,
    TYPE_CHANGED no TypeChanged,
    MAX_LENGTH_ADDED no Keyword,
    MAX_LENGTH_REMOVED ok Other,
    MAX_LENGTH_INCREASED ok Other,
    MAX_LENGTH_DECREASED no Decreased,
    MIN_LENGTH_ADDED no Keyword,
    MIN_LENGTH_REMOVED ok Other,
    MIN_LENGTH_INCREASED no Increased,
    MIN_LENGTH_DECREASED ok Other,
    PATTERN_ADDED no Keyword,
    PATTERN_REMOVED ok Other,
    PATTERN_CHANGED no Changed,
    MAXIMUM_ADDED no Keyword,
    MAXIMUM_REMOVED ok Other,
    MAXIMUM_INCREASED ok Other,
    MAXIMUM_DECREASED no Decreased,
    MINIMUM_ADDED no Keyword,
    MINIMUM_REMOVED ok Other,
    MINIMUM_INCREASED no Increased,
    MINIMUM_DECREASED ok Other,
    EXCLUSIVE_MAXIMUM_ADDED no Keyword,
    EXCLUSIVE_MAXIMUM_REMOVED ok Other,
    EXCLUSIVE_MAXIMUM_INCREASED ok Other,
    EXCLUSIVE_MAXIMUM_DECREASED no Decreased,
    EXCLUSIVE_MINIMUM_ADDED no Keyword,
    EXCLUSIVE_MINIMUM_REMOVED ok Other,
    EXCLUSIVE_MINIMUM_INCREASED no Increased,
    EXCLUSIVE_MINIMUM_DECREASED ok Other,
    MULTIPLE_OF_ADDED no Keyword,
    MULTIPLE_OF_REMOVED ok Other,
    MULTIPLE_OF_EXPANDED no Increased,
    MULTIPLE_OF_REDUCED ok Other,
    MULTIPLE_OF_CHANGED no Changed,
    REQUIRED_ATTRIBUTE_ADDED no Keyword,
    REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED ok Other,
    REQUIRED_ATTRIBUTE_REMOVED ok Other,
    MAX_PROPERTIES_ADDED no Keyword,
    MAX_PROPERTIES_REMOVED ok Other,
    MAX_PROPERTIES_INCREASED ok Other,
    MAX_PROPERTIES_DECREASED no Decreased,
    MIN_PROPERTIES_ADDED no Keyword,
    MIN_PROPERTIES_REMOVED ok Other,
    MIN_PROPERTIES_INCREASED no Increased,
    MIN_PROPERTIES_DECREASED ok Other,
    ADDITIONAL_PROPERTIES_ADDED ok Other,
    ADDITIONAL_PROPERTIES_REMOVED no Keyword,
    ADDITIONAL_PROPERTIES_EXTENDED ok Other,
    ADDITIONAL_PROPERTIES_NARROWED no Narrowed,
    DEPENDENCY_ARRAY_ADDED no Keyword,
    DEPENDENCY_ARRAY_REMOVED ok Other,
    DEPENDENCY_ARRAY_EXTENDED no Extended,
    DEPENDENCY_ARRAY_NARROWED ok Other,
    DEPENDENCY_ARRAY_CHANGED no Changed,
    DEPENDENCY_SCHEMA_ADDED no Keyword,
    DEPENDENCY_SCHEMA_REMOVED ok Other,
    REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL no Other,
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL no Other,
    OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL no Other,
    PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL ok Other,
    REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL no Other,
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL ok Other,
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL ok Other,
    PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL ok Other,
    PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL ok Other,
    PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL no Other,
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL ok Other,
    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL no Other,
    PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL ok Other,
    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL no Other,
    UNEVALUATED_PROPERTIES_ADDED ok Other,
    UNEVALUATED_PROPERTIES_REMOVED no Keyword,
    UNEVALUATED_PROPERTIES_EXTENDED ok Other,
    UNEVALUATED_PROPERTIES_NARROWED no Narrowed,
    MAX_ITEMS_ADDED no Keyword,
    MAX_ITEMS_REMOVED ok Other,
    MAX_ITEMS_INCREASED ok Other,
    MAX_ITEMS_DECREASED no Decreased,
    MIN_ITEMS_ADDED no Keyword,
    MIN_ITEMS_REMOVED ok Other,
    MIN_ITEMS_INCREASED no Increased,
    MIN_ITEMS_DECREASED ok Other,
    MAX_CONTAINS_ADDED no Keyword,
    MAX_CONTAINS_REMOVED ok Other,
    MAX_CONTAINS_INCREASED ok Other,
    MAX_CONTAINS_DECREASED no Decreased,
    MIN_CONTAINS_ADDED no Keyword,
    MIN_CONTAINS_REMOVED ok Other,
    MIN_CONTAINS_INCREASED no Increased,
    MIN_CONTAINS_DECREASED ok Other,
    UNIQUE_ITEMS_ADDED no Keyword,
    UNIQUE_ITEMS_REMOVED ok Other,
    ADDITIONAL_ITEMS_ADDED ok Other,
    ADDITIONAL_ITEMS_REMOVED no Keyword,
    ADDITIONAL_ITEMS_EXTENDED ok Other,
    ADDITIONAL_ITEMS_NARROWED no Narrowed,
    UNEVALUATED_ITEMS_ADDED ok Other,
    UNEVALUATED_ITEMS_REMOVED no Keyword,
    UNEVALUATED_ITEMS_EXTENDED ok Other,
    UNEVALUATED_ITEMS_NARROWED no Narrowed,
    ITEM_ADDED_TO_OPEN_CONTENT_MODEL no Other,
    ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL ok Other,
    ITEM_ADDED_TO_CLOSED_CONTENT_MODEL ok Other,
    ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL ok Other,
    ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL ok Other,
    ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL no Other,
    ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL ok Other,
    ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL no Other,
    ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL ok Other,
    ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL no Other,
    ENUM_ARRAY_EXTENDED ok Other,
    ENUM_ARRAY_NARROWED no Narrowed,
    ENUM_ARRAY_CHANGED no TypeChanged,
    COMBINED_TYPE_EXTENDED ok Other,
    COMBINED_TYPE_CHANGED no TypeChanged,
    PRODUCT_TYPE_EXTENDED no Extended,
    PRODUCT_TYPE_NARROWED ok Other,
    SUM_TYPE_EXTENDED ok Extended,
    SUM_TYPE_NARROWED no Narrowed,
    COMBINED_TYPE_SUBSCHEMAS_CHANGED no TypeChanged,
    NOT_TYPE_EXTENDED no Extended,
    NOT_TYPE_NARROWED ok Other,
}

use DiffType::*;

/// One difference; `path` is relative ("" = the pair compared), printed as `#/` + path.
#[derive(Debug, Clone, PartialEq)]
struct Diff {
    ty: DiffType,
    path: String,
}

impl Diff {
    /// Confluent's `Difference.toString()` after its `%s`s are filled with `r` and `w`.
    fn describe(&self, r: &str, w: &str) -> String {
        let p = format!("#/{}", self.path);
        let d = match self.ty.wording() {
            Wording::Keyword => format!(
                "The keyword at path '{p}' in the {r} schema is not present in the {w} schema"
            ),
            Wording::Increased => format!(
                "The value at path '{p}' in the {r} schema is more than its value in the {w} schema"
            ),
            Wording::Decreased => format!(
                "The value at path '{p}' in the {r} schema is less than its value in the {w} schema"
            ),
            Wording::Changed => {
                format!("The value at path '{p}' is different between the {r} and {w} schema")
            }
            Wording::Narrowed => format!(
                "An array or combined type at path '{p}' has fewer elements in the {r} schema than the {w} schema"
            ),
            Wording::Extended => format!(
                "An array or combined type at path '{p}' has more elements in the {r} schema than the {w} schema"
            ),
            Wording::TypeChanged => format!(
                "A type at path '{p}' is different between the {r} schema and the {w} schema"
            ),
            Wording::Other => match self.ty {
                REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
                | REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL
                | OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
                | ITEM_ADDED_TO_OPEN_CONTENT_MODEL => format!(
                    "The {r} schema has an open content model and has a property or item at path '{p}' which is missing in the {w} schema"
                ),
                REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL => format!(
                    "The {r} schema has an unopen content model and has a required property at path '{p}' which is missing in the {w} schema"
                ),
                PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL | ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL => format!(
                    "The {r} has a closed content model and is missing a property or item present at path '{p}' in the {w} schema"
                ),
                PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                | ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => format!(
                    "A property or item is missing in the {r} schema but present at path '{p}' in the {w} schema and is not covered by its partially open content model"
                ),
                PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                | ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => format!(
                    "The {r} schema has a property or item at path '{p}' which is missing in the {w} schema and is not covered by its partially open content model"
                ),
                _ => String::new(),
            },
        };
        format!("{{errorType:\"{}\", description:\"{d}'}}", self.ty.name())
    }
}

fn all_compatible(diffs: &[Diff]) -> bool {
    diffs.iter().all(|d| d.ty.compatible())
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else if seg.is_empty() {
        path.to_string()
    } else {
        format!("{path}/{seg}")
    }
}

type Pair = (usize, usize);

/// One pass of the comparison of `o` (original, the previous schema) with `u` (update).
struct Cmp<'a, 's> {
    o: &'a JsonSchema,
    u: &'a JsonSchema,
    /// Pair → its differences, relative to the pair.
    memo: HashMap<Pair, Vec<Diff>>,
    in_progress: std::collections::HashSet<Pair>,
    /// Pairs a previous pass found incompatible (used when a cycle comes back to them).
    seed: &'s HashMap<Pair, Vec<Diff>>,
    /// A cycle was assumed compatible without a seed entry.
    optimism: bool,
    budget: usize,
    depth: usize,
    exhausted: bool,
}

/// Everything that differs from `original` to `update` (compatible differences included).
fn diff(original: &JsonSchema, update: &JsonSchema) -> Result<Vec<Diff>, String> {
    let mut seed = HashMap::new();
    let mut budget = COMPARE_BUDGET;
    loop {
        let mut c = Cmp {
            o: original,
            u: update,
            memo: HashMap::new(),
            in_progress: Default::default(),
            seed: &seed,
            optimism: false,
            budget,
            depth: 0,
            exhausted: false,
        };
        let mut out = Vec::new();
        c.compare("", Some(original.root), Some(update.root), &mut out);
        if c.exhausted {
            return Err(
                "The schemas are too large or too deeply nested to check their compatibility"
                    .to_string(),
            );
        }
        budget = c.budget;
        let optimism = c.optimism;
        let incompatible: HashMap<Pair, Vec<Diff>> = c
            .memo
            .into_iter()
            .filter(|(_, d)| !all_compatible(d))
            .collect();
        let same =
            incompatible.len() == seed.len() && incompatible.keys().all(|k| seed.contains_key(k));
        if !optimism || same {
            return Ok(out);
        }
        seed = incompatible;
    }
}

macro_rules! limit_families {
    ($($family:ident = $a:ident $r:ident $i:ident $d:ident;)*) => {
        $(const $family: [DiffType; 4] = [$a, $r, $i, $d];)*
    };
}

// The differences of each limit keyword: [added, removed, increased, decreased].
limit_families! {
    MAX_PROPERTIES = MAX_PROPERTIES_ADDED MAX_PROPERTIES_REMOVED
        MAX_PROPERTIES_INCREASED MAX_PROPERTIES_DECREASED;
    MIN_PROPERTIES = MIN_PROPERTIES_ADDED MIN_PROPERTIES_REMOVED
        MIN_PROPERTIES_INCREASED MIN_PROPERTIES_DECREASED;
    MAX_ITEMS = MAX_ITEMS_ADDED MAX_ITEMS_REMOVED MAX_ITEMS_INCREASED MAX_ITEMS_DECREASED;
    MIN_ITEMS = MIN_ITEMS_ADDED MIN_ITEMS_REMOVED MIN_ITEMS_INCREASED MIN_ITEMS_DECREASED;
    MAX_CONTAINS = MAX_CONTAINS_ADDED MAX_CONTAINS_REMOVED
        MAX_CONTAINS_INCREASED MAX_CONTAINS_DECREASED;
    MIN_CONTAINS = MIN_CONTAINS_ADDED MIN_CONTAINS_REMOVED
        MIN_CONTAINS_INCREASED MIN_CONTAINS_DECREASED;
    MAX_LENGTH = MAX_LENGTH_ADDED MAX_LENGTH_REMOVED MAX_LENGTH_INCREASED MAX_LENGTH_DECREASED;
    MIN_LENGTH = MIN_LENGTH_ADDED MIN_LENGTH_REMOVED MIN_LENGTH_INCREASED MIN_LENGTH_DECREASED;
    MAXIMUM = MAXIMUM_ADDED MAXIMUM_REMOVED MAXIMUM_INCREASED MAXIMUM_DECREASED;
    MINIMUM = MINIMUM_ADDED MINIMUM_REMOVED MINIMUM_INCREASED MINIMUM_DECREASED;
    EXCLUSIVE_MAXIMUM = EXCLUSIVE_MAXIMUM_ADDED EXCLUSIVE_MAXIMUM_REMOVED
        EXCLUSIVE_MAXIMUM_INCREASED EXCLUSIVE_MAXIMUM_DECREASED;
    EXCLUSIVE_MINIMUM = EXCLUSIVE_MINIMUM_ADDED EXCLUSIVE_MINIMUM_REMOVED
        EXCLUSIVE_MINIMUM_INCREASED EXCLUSIVE_MINIMUM_DECREASED;
}

/// A limit keyword compared as Confluent does: added, removed, increased or decreased.
fn limit<T: PartialOrd>(
    out: &mut Vec<Diff>,
    keyword: &str,
    o: Option<T>,
    u: Option<T>,
    types: [DiffType; 4],
) {
    let ty = match (o, u) {
        (None, Some(_)) => types[0],
        (Some(_), None) => types[1],
        (Some(a), Some(b)) if a < b => types[2],
        (Some(a), Some(b)) if a > b => types[3],
        _ => return,
    };
    out.push(Diff {
        ty,
        path: keyword.to_string(),
    });
}

fn is_multiple(x: f64, m: f64) -> bool {
    let q = x / m;
    q.is_finite() && (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
}

fn is_empty_kind(k: &Kind) -> bool {
    matches!(k, Kind::Empty | Kind::True)
}

impl<'a> Cmp<'a, '_> {
    fn push(out: &mut Vec<Diff>, path: &str, ty: DiffType) {
        out.push(Diff {
            ty,
            path: path.to_string(),
        });
    }

    /// `SchemaDiff.compare`: a missing side, then the resolved pair through the memo.
    fn compare(&mut self, path: &str, o: Option<usize>, u: Option<usize>, out: &mut Vec<Diff>) {
        let (o, u) = match (o, u) {
            (None, None) => return,
            (None, Some(_)) => return Self::push(out, path, SCHEMA_ADDED),
            (Some(_), None) => return Self::push(out, path, SCHEMA_REMOVED),
            (Some(o), Some(u)) => (self.o.resolve(o), self.u.resolve(u)),
        };
        let key = (o, u);
        let relative = if let Some(m) = self.memo.get(&key) {
            m.clone()
        } else if self.in_progress.contains(&key) {
            match self.seed.get(&key) {
                Some(s) => s.clone(),
                None => {
                    self.optimism = true;
                    return;
                }
            }
        } else if self.budget == 0 || self.depth >= MAX_COMPARE_DEPTH || self.exhausted {
            self.exhausted = true;
            return;
        } else {
            self.budget -= 1;
            self.depth += 1;
            self.in_progress.insert(key);
            let mut sub = Vec::new();
            self.compare_types(o, u, &mut sub);
            self.in_progress.remove(&key);
            self.depth -= 1;
            self.memo.insert(key, sub.clone());
            sub
        };
        out.extend(relative.into_iter().map(|d| Diff {
            ty: d.ty,
            path: join(path, &d.path),
        }));
    }

    /// Whether `o` (a node of the update) compares compatibly with `u` (of the original): a
    /// separate comparison with the two schemas' roles swapped.
    fn reversed(&mut self, o: usize, u: usize) -> bool {
        let no_seed = HashMap::new();
        let mut c = Cmp {
            o: self.u,
            u: self.o,
            memo: HashMap::new(),
            in_progress: Default::default(),
            seed: &no_seed,
            optimism: false,
            budget: self.budget,
            depth: self.depth,
            exhausted: false,
        };
        let mut d = Vec::new();
        c.compare("", Some(o), Some(u), &mut d);
        self.budget = c.budget;
        self.exhausted |= c.exhausted;
        self.optimism |= c.optimism;
        all_compatible(&d)
    }

    /// `compare` into a fresh list: (differences, compatible?).
    fn sub(&mut self, path: &str, o: usize, u: usize) -> (Vec<Diff>, bool) {
        let mut d = Vec::new();
        self.compare(path, Some(o), Some(u), &mut d);
        let ok = all_compatible(&d);
        (d, ok)
    }

    /// `SchemaDiff.compareTypes` for a resolved pair, paths relative to it.
    fn compare_types(&mut self, o: usize, u: usize, out: &mut Vec<Diff>) {
        let (og, ug): (&'a JsonSchema, &'a JsonSchema) = (self.o, self.u);
        let (on, un) = (&og.nodes[o], &ug.nodes[u]);
        match (&on.kind, &un.kind) {
            (Kind::Combined(..), Kind::Combined(..)) => {}
            (_, Kind::Combined(crit, subs)) => {
                if subs.len() == 1 {
                    let (d, ok) = self.sub("", o, subs[0]);
                    if ok {
                        return out.extend(d);
                    }
                } else if *crit != Crit::All {
                    for &s in subs {
                        let (d, ok) = self.sub("", o, s);
                        if ok {
                            out.extend(d);
                            return Self::push(out, "", SUM_TYPE_EXTENDED);
                        }
                    }
                }
            }
            (Kind::Combined(crit, subs), _) => {
                if subs.len() == 1 {
                    let (d, ok) = self.sub("", subs[0], u);
                    if ok {
                        return out.extend(d);
                    }
                } else if *crit == Crit::All {
                    for &s in subs {
                        let (d, ok) = self.sub("", s, u);
                        if ok {
                            out.extend(d);
                            return Self::push(out, "", PRODUCT_TYPE_NARROWED);
                        }
                    }
                }
            }
            _ => {}
        }
        if std::mem::discriminant(&on.kind) != std::mem::discriminant(&un.kind) {
            if matches!(on.kind, Kind::False) || is_empty_kind(&un.kind) {
                return;
            }
            let bytes = |n: &Node| n.common.connect_type.as_deref() == Some("bytes");
            if bytes(on) && bytes(un) {
                return;
            }
            return Self::push(out, "", TYPE_CHANGED);
        }
        let (oc, uc) = (&on.common, &un.common);
        if oc.id != uc.id {
            Self::push(out, "", ID_CHANGED);
        }
        if oc.title != uc.title {
            Self::push(out, "", TITLE_CHANGED);
        }
        if oc.description != uc.description {
            Self::push(out, "", DESCRIPTION_CHANGED);
        }
        if oc.default != uc.default {
            Self::push(out, "", DEFAULT_CHANGED);
        }
        match (&on.kind, &un.kind) {
            (Kind::String(a), Kind::String(b)) => string_diff(a, b, out),
            (Kind::Number(a), Kind::Number(b)) => number_diff(a, b, out),
            (Kind::Const(a), Kind::Const(b)) if !json_eq(a, b) => {
                Self::push(out, "const", ENUM_ARRAY_CHANGED);
            }
            (Kind::Enum(a), Kind::Enum(b)) => {
                let within =
                    |x: &[Value], y: &[Value]| x.iter().all(|v| y.iter().any(|w| json_eq(v, w)));
                let (a_in_b, b_in_a) = (within(a, b), within(b, a));
                if !(a_in_b && b_in_a) {
                    let ty = if a_in_b {
                        ENUM_ARRAY_EXTENDED
                    } else if b_in_a {
                        ENUM_ARRAY_NARROWED
                    } else {
                        ENUM_ARRAY_CHANGED
                    };
                    Self::push(out, "enum", ty);
                }
            }
            (Kind::Combined(ac, a), Kind::Combined(bc, b)) => self.combined(*ac, a, *bc, b, out),
            (Kind::Not(a), Kind::Not(b)) => {
                // Reversed: the update's negated schema must accept what the original's did.
                let ok = self.reversed(*b, *a);
                Self::push(
                    out,
                    "not",
                    if ok {
                        NOT_TYPE_NARROWED
                    } else {
                        NOT_TYPE_EXTENDED
                    },
                );
            }
            (Kind::Object(a), Kind::Object(b)) => self.object(a, b, out),
            (Kind::Array(a), Kind::Array(b)) => self.array(a, b, out),
            _ => {}
        }
    }

    /// `CombinedSchemaDiff`: criteria, then a maximum matching of compatible subschemas.
    fn combined(&mut self, oc: Crit, os: &[usize], uc: Crit, us: &[usize], out: &mut Vec<Diff>) {
        if oc != uc {
            let extended = uc == Crit::Any
                || (os.len() == 1 && us.len() == 1)
                || (os.len() == 1 && uc == Crit::One)
                || (us.len() == 1 && oc == Crit::All);
            if !extended {
                return Self::push(out, "", COMBINED_TYPE_CHANGED);
            }
            Self::push(out, "", COMBINED_TYPE_EXTENDED);
        }
        let os = dedup(self.o, os);
        let us = dedup(self.u, us);
        if os.len() < us.len() {
            Self::push(
                out,
                "",
                if uc == Crit::All {
                    PRODUCT_TYPE_EXTENDED
                } else {
                    SUM_TYPE_EXTENDED
                },
            );
        } else if os.len() > us.len() {
            Self::push(
                out,
                "",
                if oc == Crit::All {
                    PRODUCT_TYPE_NARROWED
                } else {
                    SUM_TYPE_NARROWED
                },
            );
        }
        let mut edges: Vec<Vec<(usize, Vec<Diff>)>> = Vec::with_capacity(os.len());
        for (i, &s) in os.iter().enumerate() {
            let p = format!("{}/{i}", oc.name());
            let mut row = Vec::new();
            for (j, &t) in us.iter().enumerate() {
                let (d, ok) = self.sub(&p, s, t);
                if ok {
                    row.push((j, d));
                }
            }
            edges.push(row);
        }
        let matched = max_matching(&edges, us.len());
        let mut count = 0;
        for (j, m) in matched.iter().enumerate() {
            if let Some(i) = *m {
                count += 1;
                if let Some((_, d)) = edges[i].iter().find(|(jj, _)| *jj == j) {
                    out.extend(d.iter().cloned());
                }
            }
        }
        if count < os.len().min(us.len()) {
            Self::push(out, "", COMBINED_TYPE_SUBSCHEMAS_CHANGED);
        }
    }

    fn object(&mut self, o: &'a Obj, u: &'a Obj, out: &mut Vec<Diff>) {
        let (og, ug): (&'a JsonSchema, &'a JsonSchema) = (self.o, self.u);
        let has_default = |n: usize| ug.nodes[n].common.default.is_some();
        // required
        for k in o.properties.keys() {
            if let Some(&un) = u.properties.get(k) {
                let (or, ur) = (o.required.contains(k), u.required.contains(k));
                let ty = match (or, ur) {
                    (true, false) => REQUIRED_ATTRIBUTE_REMOVED,
                    (false, true) if has_default(un) => REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED,
                    (false, true) => REQUIRED_ATTRIBUTE_ADDED,
                    _ => continue,
                };
                Self::push(out, &join("required", k), ty);
            }
        }
        // properties
        let keys: BTreeSet<&String> = o.properties.keys().chain(u.properties.keys()).collect();
        for k in keys {
            let kp = join("properties", k);
            match (o.properties.get(k), u.properties.get(k)) {
                (Some(&os), None) => {
                    if open_object(ug, u) {
                        Self::push(out, &kp, PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL);
                    } else if let Some(ps) = partial_object(ug, u, k) {
                        let (d, ok) = self.sub(&kp, os, ps);
                        out.extend(d);
                        Self::push(
                            out,
                            &kp,
                            if ok {
                                PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                            } else {
                                PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                            },
                        );
                    } else if matches!(og.nodes[os].kind, Kind::False) {
                        Self::push(
                            out,
                            &kp,
                            PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL,
                        );
                    } else {
                        Self::push(out, &kp, PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL);
                    }
                }
                (None, Some(&us)) => {
                    let required = u.required.contains(k);
                    if open_object(og, o) {
                        let ty = if is_empty_kind(&ug.nodes[us].kind) {
                            PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
                        } else if required && has_default(us) {
                            REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL
                        } else if required {
                            REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
                        } else {
                            OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
                        };
                        Self::push(out, &kp, ty);
                    } else {
                        if let Some(ps) = partial_object(og, o, k) {
                            let (d, ok) = self.sub(&kp, ps, us);
                            out.extend(d);
                            Self::push(
                                out,
                                &kp,
                                if ok {
                                    PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                                } else {
                                    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                                },
                            );
                        }
                        let ty = if required && has_default(us) {
                            REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
                        } else if required {
                            REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
                        } else {
                            OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
                        };
                        Self::push(out, &kp, ty);
                    }
                }
                (Some(&os), Some(&us)) => self.compare(&kp, Some(os), Some(us), out),
                (None, None) => {}
            }
        }
        // dependencies
        let keys: BTreeSet<&String> = o
            .property_deps
            .keys()
            .chain(u.property_deps.keys())
            .collect();
        for k in keys {
            let p = join("dependencies", k);
            let ty = match (o.property_deps.get(k), u.property_deps.get(k)) {
                (_, None) => DEPENDENCY_ARRAY_REMOVED,
                (None, Some(_)) => DEPENDENCY_ARRAY_ADDED,
                (Some(a), Some(b)) => {
                    let (a_in_b, b_in_a) = (
                        a.iter().all(|x| b.contains(x)),
                        b.iter().all(|x| a.contains(x)),
                    );
                    if a_in_b && b_in_a {
                        continue;
                    } else if a_in_b {
                        DEPENDENCY_ARRAY_EXTENDED
                    } else if b_in_a {
                        DEPENDENCY_ARRAY_NARROWED
                    } else {
                        DEPENDENCY_ARRAY_CHANGED
                    }
                }
            };
            Self::push(out, &p, ty);
        }
        let keys: BTreeSet<&String> = o.schema_deps.keys().chain(u.schema_deps.keys()).collect();
        for k in keys {
            let p = join("dependencies", k);
            match (o.schema_deps.get(k), u.schema_deps.get(k)) {
                (_, None) => Self::push(out, &p, DEPENDENCY_SCHEMA_REMOVED),
                (None, Some(_)) => Self::push(out, &p, DEPENDENCY_SCHEMA_ADDED),
                (Some(&a), Some(&b)) => self.compare(&p, Some(a), Some(b), out),
            }
        }
        // additionalProperties
        let ap = "additionalProperties";
        if o.additional.permits() != u.additional.permits() {
            let ty = if u.additional.permits() {
                ADDITIONAL_PROPERTIES_ADDED
            } else {
                ADDITIONAL_PROPERTIES_REMOVED
            };
            Self::push(out, ap, ty);
        } else {
            match (o.additional.schema(), u.additional.schema()) {
                (None, Some(_)) => Self::push(out, ap, ADDITIONAL_PROPERTIES_NARROWED),
                (Some(_), None) => Self::push(out, ap, ADDITIONAL_PROPERTIES_EXTENDED),
                (a, b) => self.compare(ap, a, b, out),
            }
        }
        let types = [
            UNEVALUATED_PROPERTIES_ADDED,
            UNEVALUATED_PROPERTIES_REMOVED,
            UNEVALUATED_PROPERTIES_EXTENDED,
            UNEVALUATED_PROPERTIES_NARROWED,
        ];
        self.unevaluated(
            "unevaluatedProperties",
            o.unevaluated,
            u.unevaluated,
            types,
            out,
        );
        limit(
            out,
            "maxProperties",
            o.max_properties,
            u.max_properties,
            MAX_PROPERTIES,
        );
        limit(
            out,
            "minProperties",
            o.min_properties,
            u.min_properties,
            MIN_PROPERTIES,
        );
    }

    /// `unevaluatedProperties`/`unevaluatedItems`; `types` = [ADDED (opened), REMOVED
    /// (closed), EXTENDED, NARROWED].
    fn unevaluated(
        &mut self,
        key: &str,
        o: Option<usize>,
        u: Option<usize>,
        types: [DiffType; 4],
        out: &mut Vec<Diff>,
    ) {
        let (og, ug): (&'a JsonSchema, &'a JsonSchema) = (self.o, self.u);
        let is_false = |g: &JsonSchema, n: usize| matches!(g.nodes[n].kind, Kind::False);
        let is_empty = |g: &JsonSchema, n: usize| is_empty_kind(&g.nodes[n].kind);
        let [added, removed, extended, narrowed] = types;
        let ty = match (o, u) {
            (None, None) => return,
            (None, Some(b)) => {
                if is_false(ug, b) {
                    removed
                } else {
                    narrowed
                }
            }
            (Some(a), None) => {
                if is_false(og, a) {
                    added
                } else {
                    extended
                }
            }
            (Some(a), Some(b)) => {
                if is_false(og, a) && !is_false(ug, b) {
                    added
                } else if !is_false(og, a) && is_false(ug, b) {
                    removed
                } else if is_empty(og, a) && !is_empty(ug, b) {
                    narrowed
                } else if !is_empty(og, a) && is_empty(ug, b) {
                    extended
                } else {
                    return self.compare(key, Some(a), Some(b), out);
                }
            }
        };
        Self::push(out, key, ty);
    }

    fn array(&mut self, o: &'a Arr, u: &'a Arr, out: &mut Vec<Diff>) {
        let (og, ug): (&'a JsonSchema, &'a JsonSchema) = (self.o, self.u);
        self.compare("items", o.all_items, u.all_items, out);
        // tuples
        let (ot, ut) = (
            o.tuple.as_deref().unwrap_or(&[]),
            u.tuple.as_deref().unwrap_or(&[]),
        );
        let common = ot.len().min(ut.len());
        for i in 0..common {
            self.compare(&format!("items/{i}"), Some(ot[i]), Some(ut[i]), out);
        }
        for (i, &os) in ot.iter().enumerate().skip(common) {
            let p = format!("items/{i}");
            if open_array(ug, u) {
                Self::push(out, &p, ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL);
            } else if let Some(ps) = partial_array(ug, u) {
                let (d, ok) = self.sub(&p, os, ps);
                out.extend(d);
                Self::push(
                    out,
                    &p,
                    if ok {
                        ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    } else {
                        ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    },
                );
            } else if matches!(og.nodes[os].kind, Kind::False) {
                Self::push(out, &p, ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL);
            } else {
                Self::push(out, &p, ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL);
            }
        }
        for (i, &us) in ut.iter().enumerate().skip(common) {
            let p = format!("items/{i}");
            if open_array(og, o) {
                let ty = if is_empty_kind(&ug.nodes[us].kind) {
                    ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
                } else {
                    ITEM_ADDED_TO_OPEN_CONTENT_MODEL
                };
                Self::push(out, &p, ty);
            } else if let Some(ps) = partial_array(og, o) {
                let (d, ok) = self.sub(&p, ps, us);
                out.extend(d);
                Self::push(
                    out,
                    &p,
                    if ok {
                        ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    } else {
                        ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    },
                );
            } else {
                Self::push(out, &p, ITEM_ADDED_TO_CLOSED_CONTENT_MODEL);
            }
        }
        // additionalItems
        let ai = "additionalItems";
        if o.additional.permits() != u.additional.permits() {
            let ty = if o.additional.permits() {
                ADDITIONAL_ITEMS_REMOVED
            } else {
                ADDITIONAL_ITEMS_ADDED
            };
            Self::push(out, ai, ty);
        } else {
            match (o.additional.schema(), u.additional.schema()) {
                (None, Some(_)) => Self::push(out, ai, ADDITIONAL_ITEMS_NARROWED),
                (Some(_), None) => Self::push(out, ai, ADDITIONAL_ITEMS_EXTENDED),
                (a, b) => self.compare(ai, a, b, out),
            }
        }
        let types = [
            UNEVALUATED_ITEMS_ADDED,
            UNEVALUATED_ITEMS_REMOVED,
            UNEVALUATED_ITEMS_EXTENDED,
            UNEVALUATED_ITEMS_NARROWED,
        ];
        self.unevaluated("unevaluatedItems", o.unevaluated, u.unevaluated, types, out);
        limit(out, "maxItems", o.max_items, u.max_items, MAX_ITEMS);
        limit(out, "minItems", o.min_items, u.min_items, MIN_ITEMS);
        if o.unique != u.unique {
            Self::push(
                out,
                "uniqueItems",
                if o.unique {
                    UNIQUE_ITEMS_REMOVED
                } else {
                    UNIQUE_ITEMS_ADDED
                },
            );
        }
        limit(
            out,
            "maxContains",
            o.max_contains,
            u.max_contains,
            MAX_CONTAINS,
        );
        limit(
            out,
            "minContains",
            o.min_contains,
            u.min_contains,
            MIN_CONTAINS,
        );
    }
}

fn string_diff(o: &Str, u: &Str, out: &mut Vec<Diff>) {
    limit(out, "maxLength", o.max_length, u.max_length, MAX_LENGTH);
    limit(out, "minLength", o.min_length, u.min_length, MIN_LENGTH);
    let ty = match (&o.pattern, &u.pattern) {
        (None, Some(_)) => PATTERN_ADDED,
        (Some(_), None) => PATTERN_REMOVED,
        (Some(a), Some(b)) if a.source != b.source => PATTERN_CHANGED,
        _ => return,
    };
    Cmp::push(out, "pattern", ty);
}

fn number_diff(o: &Num, u: &Num, out: &mut Vec<Diff>) {
    limit(out, "maximum", o.maximum, u.maximum, MAXIMUM);
    limit(out, "minimum", o.minimum, u.minimum, MINIMUM);
    limit(
        out,
        "exclusiveMaximum",
        o.exclusive_maximum,
        u.exclusive_maximum,
        EXCLUSIVE_MAXIMUM,
    );
    limit(
        out,
        "exclusiveMinimum",
        o.exclusive_minimum,
        u.exclusive_minimum,
        EXCLUSIVE_MINIMUM,
    );
    let ty = match (o.multiple_of, u.multiple_of) {
        (a, b) if a == b => None,
        (None, Some(_)) => Some(MULTIPLE_OF_ADDED),
        (Some(_), None) => Some(MULTIPLE_OF_REMOVED),
        (Some(a), Some(b)) if is_multiple(b, a) => Some(MULTIPLE_OF_EXPANDED),
        (Some(a), Some(b)) if is_multiple(a, b) => Some(MULTIPLE_OF_REDUCED),
        _ => Some(MULTIPLE_OF_CHANGED),
    };
    if let Some(ty) = ty {
        Cmp::push(out, "multipleOf", ty);
    }
    if o.requires_integer != u.requires_integer {
        Cmp::push(
            out,
            "",
            if o.requires_integer {
                TYPE_EXTENDED
            } else {
                TYPE_NARROWED
            },
        );
    }
}

/// Subschemas without duplicates (same JSON text), first occurrence kept.
fn dedup(g: &JsonSchema, subs: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(subs.len());
    for &s in subs {
        let dup = g
            .source(s)
            .is_some_and(|v| out.iter().any(|&t| g.source(t) == Some(v)));
        if !dup {
            out.push(s);
        }
    }
    out
}

/// Maximum bipartite matching (augmenting paths); result: for each right vertex, its left.
fn max_matching(edges: &[Vec<(usize, Vec<Diff>)>], right: usize) -> Vec<Option<usize>> {
    fn augment(
        i: usize,
        edges: &[Vec<(usize, Vec<Diff>)>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for (j, _) in &edges[i] {
            if seen[*j] {
                continue;
            }
            seen[*j] = true;
            if owner[*j].is_none_or(|k| augment(k, edges, seen, owner)) {
                owner[*j] = Some(i);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; right];
    for i in 0..edges.len() {
        let mut seen = vec![false; right];
        augment(i, edges, &mut seen, &mut owner);
    }
    owner
}

/// Confluent's "open content model" for objects: anything goes for unknown properties.
fn open_object(g: &JsonSchema, o: &Obj) -> bool {
    o.additional == Extra::Open
        && o.pattern_properties.is_empty()
        && o.unevaluated
            .is_none_or(|n| is_empty_kind(&g.nodes[n].kind))
}

/// The schema a partially open object model gives to property `key`, if any.
fn partial_object(g: &JsonSchema, o: &Obj, key: &str) -> Option<usize> {
    for (p, n) in &o.pattern_properties {
        if p.re.as_ref().is_some_and(|re| re.is_match(key)) {
            return Some(*n);
        }
    }
    if let Extra::Schema(n) = o.additional {
        return Some(n);
    }
    match (o.additional, o.unevaluated) {
        (Extra::Open, Some(n))
            if !matches!(g.nodes[n].kind, Kind::False | Kind::Empty | Kind::True) =>
        {
            Some(n)
        }
        _ => None,
    }
}

fn open_array(g: &JsonSchema, a: &Arr) -> bool {
    a.additional == Extra::Open
        && a.unevaluated
            .is_none_or(|n| is_empty_kind(&g.nodes[n].kind))
}

fn partial_array(g: &JsonSchema, a: &Arr) -> Option<usize> {
    match (a.additional, a.unevaluated) {
        (Extra::Schema(n), _) => Some(n),
        (Extra::Open, Some(n))
            if !matches!(g.nodes[n].kind, Kind::False | Kind::Empty | Kind::True) =>
        {
            Some(n)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

struct Validator<'a> {
    s: &'a JsonSchema,
    steps: usize,
    /// Set when a bound is hit: the whole validation fails with this message.
    aborted: Option<String>,
}

fn loc(at: &str) -> String {
    format!("#{at}")
}

fn number_text(x: &Value) -> String {
    x.to_string()
}

impl Validator<'_> {
    /// Whether `x` is valid against node `n` (errors discarded, stops at the first).
    fn passes(&mut self, n: usize, x: &Value, at: &str, depth: usize) -> bool {
        let mut errs = Vec::new();
        self.check(n, x, at, depth, &mut errs, 1);
        errs.is_empty() && self.aborted.is_none()
    }

    fn tick(&mut self) -> bool {
        if self.aborted.is_some() {
            return false;
        }
        if self.steps == 0 {
            self.aborted = Some("#: the instance is too complex to validate".to_string());
            return false;
        }
        self.steps -= 1;
        true
    }

    /// Appends the violations of `x` against node `n` to `errs`, up to `cap` in total.
    fn check(
        &mut self,
        n: usize,
        x: &Value,
        at: &str,
        depth: usize,
        errs: &mut Vec<String>,
        cap: usize,
    ) {
        if errs.len() >= cap || !self.tick() {
            return;
        }
        if depth > MAX_VALIDATE_DEPTH {
            self.aborted = Some(format!("{}: the schema recurses too deeply", loc(at)));
            return;
        }
        let s = self.s;
        let d = depth + 1;
        match &s.nodes[n].kind {
            Kind::Empty | Kind::True => {}
            Kind::False => errs.push(format!("{}: false schema always fails", loc(at))),
            Kind::Ref(t) => self.check(*t, x, at, d, errs, cap),
            Kind::Boolean => type_is(x.is_boolean(), "Boolean", x, at, errs),
            Kind::Null => type_is(x.is_null(), "Null", x, at, errs),
            Kind::String(st) => match x {
                Value::String(v) => check_string(st, v, at, errs),
                _ if st.requires => type_is(false, "String", x, at, errs),
                _ => {}
            },
            Kind::Number(nu) => match x {
                Value::Number(v) => check_number(nu, v, x, at, errs),
                _ if nu.requires_number => type_is(
                    false,
                    if nu.requires_integer {
                        "Integer"
                    } else {
                        "Number"
                    },
                    x,
                    at,
                    errs,
                ),
                _ => {}
            },
            Kind::Object(o) => match x {
                Value::Object(_) => self.check_object(o, x, at, d, errs, cap),
                _ if o.requires => type_is(false, "JSONObject", x, at, errs),
                _ => {}
            },
            Kind::Array(a) => match x {
                Value::Array(v) => self.check_array(a, v, at, d, errs, cap),
                _ if a.requires => type_is(false, "JSONArray", x, at, errs),
                _ => {}
            },
            Kind::Enum(vals) => {
                if !vals.iter().any(|v| json_eq(v, x)) {
                    errs.push(format!(
                        "{}: {} is not a valid enum value",
                        loc(at),
                        number_text(x)
                    ));
                }
            }
            Kind::Const(c) => {
                if !json_eq(c, x) {
                    errs.push(format!(
                        "{}: {} does not match the const value",
                        loc(at),
                        number_text(x)
                    ));
                }
            }
            Kind::Combined(Crit::All, subs) => {
                for &t in subs {
                    self.check(t, x, at, d, errs, cap);
                }
            }
            Kind::Combined(crit, subs) => {
                let mut matched = 0;
                for &t in subs {
                    if self.passes(t, x, at, d) {
                        matched += 1;
                        if *crit == Crit::Any {
                            break;
                        }
                    }
                }
                if matched == 0 {
                    errs.push(format!(
                        "{}: no subschema matched out of the total {} subschemas",
                        loc(at),
                        subs.len()
                    ));
                } else if *crit == Crit::One && matched > 1 {
                    errs.push(format!(
                        "{}: {matched} subschemas matched instead of one",
                        loc(at)
                    ));
                }
            }
            Kind::Not(t) => {
                if self.passes(*t, x, at, d) {
                    errs.push(format!(
                        "{}: subject must not be valid against schema",
                        loc(at)
                    ));
                }
            }
            Kind::Conditional(i, t, e) => {
                let branch = match i {
                    Some(i) if self.passes(*i, x, at, d) => t,
                    Some(_) => e,
                    None => &None,
                };
                if let Some(b) = branch {
                    self.check(*b, x, at, d, errs, cap);
                }
            }
        }
    }

    fn check_object(
        &mut self,
        o: &Obj,
        x: &Value,
        at: &str,
        d: usize,
        errs: &mut Vec<String>,
        cap: usize,
    ) {
        let Value::Object(m) = x else { return };
        for k in &o.required {
            if !m.contains_key(k) {
                errs.push(format!("{}: required key [{k}] not found", loc(at)));
            }
        }
        let count = m.len() as i64;
        if o.min_properties.is_some_and(|min| count < min) {
            errs.push(format!(
                "{}: minimum size: [{}], found: [{count}]",
                loc(at),
                o.min_properties.unwrap_or(0)
            ));
        }
        if o.max_properties.is_some_and(|max| count > max) {
            errs.push(format!(
                "{}: maximum size: [{}], found: [{count}]",
                loc(at),
                o.max_properties.unwrap_or(0)
            ));
        }
        for (k, v) in m {
            if errs.len() >= cap || self.aborted.is_some() {
                return;
            }
            let kat = child(at, &[k]);
            let mut known = false;
            if let Some(&p) = o.properties.get(k) {
                known = true;
                self.check(p, v, &kat, d, errs, cap);
            }
            for (pat, p) in &o.pattern_properties {
                match &pat.re {
                    Some(re) if re.is_match(k) => {
                        known = true;
                        self.check(*p, v, &kat, d, errs, cap);
                    }
                    Some(_) => {}
                    // A pattern we cannot run: its schema is not applied, and the key is not
                    // reported as extraneous either.
                    None => known = true,
                }
            }
            if !known {
                match o.additional {
                    Extra::Open => {}
                    Extra::Closed => errs.push(format!(
                        "{}: extraneous key [{k}] is not permitted",
                        loc(at)
                    )),
                    Extra::Schema(p) => self.check(p, v, &kat, d, errs, cap),
                }
            }
            if let Some(deps) = o.property_deps.get(k) {
                for dep in deps {
                    if !m.contains_key(dep) {
                        errs.push(format!("{}: property [{dep}] is required", loc(at)));
                    }
                }
            }
            if let Some(&p) = o.schema_deps.get(k) {
                self.check(p, x, at, d, errs, cap);
            }
            if let Some(p) = o.property_names {
                if !self.passes(p, &Value::String(k.clone()), &kat, d) {
                    errs.push(format!("{}: property name [{k}] is not valid", loc(at)));
                }
            }
        }
    }

    fn check_array(
        &mut self,
        a: &Arr,
        v: &[Value],
        at: &str,
        d: usize,
        errs: &mut Vec<String>,
        cap: usize,
    ) {
        let len = v.len() as i64;
        if a.min_items.is_some_and(|min| len < min) {
            errs.push(format!(
                "{}: expected minimum item count: {}, found: {len}",
                loc(at),
                a.min_items.unwrap_or(0)
            ));
        }
        if a.max_items.is_some_and(|max| len > max) {
            errs.push(format!(
                "{}: expected maximum item count: {}, found: {len}",
                loc(at),
                a.max_items.unwrap_or(0)
            ));
        }
        for (i, item) in v.iter().enumerate() {
            if errs.len() >= cap || self.aborted.is_some() {
                return;
            }
            let iat = child(at, &[&i.to_string()]);
            if let Some(p) = a.all_items {
                self.check(p, item, &iat, d, errs, cap);
            } else if let Some(&p) = a.tuple.as_ref().and_then(|t| t.get(i)) {
                self.check(p, item, &iat, d, errs, cap);
            } else if let Some(tuple) = &a.tuple {
                match a.additional {
                    Extra::Open => {}
                    Extra::Closed => {
                        errs.push(format!(
                            "{}: expected: [{}] array items, found: [{len}]",
                            loc(at),
                            tuple.len()
                        ));
                        break;
                    }
                    Extra::Schema(p) => self.check(p, item, &iat, d, errs, cap),
                }
            }
        }
        if a.unique {
            'outer: for i in 0..v.len() {
                for j in i + 1..v.len() {
                    if !self.tick() {
                        return;
                    }
                    if json_eq(&v[i], &v[j]) {
                        errs.push(format!("{}: array items are not unique", loc(at)));
                        break 'outer;
                    }
                }
            }
        }
        if let Some(c) = a.contains {
            let mut matched = 0i64;
            for (i, item) in v.iter().enumerate() {
                if self.passes(c, item, &child(at, &[&i.to_string()]), d) {
                    matched += 1;
                }
            }
            let min = a.min_contains.unwrap_or(1);
            if matched < min {
                errs.push(format!(
                    "{}: expected at least {min} array item(s) to match the 'contains' schema, found: {matched}",
                    loc(at)
                ));
            }
            if a.max_contains.is_some_and(|max| matched > max) {
                errs.push(format!(
                    "{}: expected at most {} array item(s) to match the 'contains' schema, found: {matched}",
                    loc(at),
                    a.max_contains.unwrap_or(0)
                ));
            }
        }
    }
}

fn type_is(ok: bool, expected: &str, x: &Value, at: &str, errs: &mut Vec<String>) {
    if !ok {
        errs.push(format!(
            "{}: expected type: {expected}, found: {}",
            loc(at),
            json_type(x)
        ));
    }
}

fn check_string(st: &Str, v: &str, at: &str, errs: &mut Vec<String>) {
    let len = v.chars().count() as i64;
    if let Some(min) = st.min_length.filter(|&m| len < m) {
        errs.push(format!(
            "{}: expected minLength: {min}, actual: {len}",
            loc(at)
        ));
    }
    if let Some(max) = st.max_length.filter(|&m| len > m) {
        errs.push(format!(
            "{}: expected maxLength: {max}, actual: {len}",
            loc(at)
        ));
    }
    if let Some(p) = &st.pattern {
        if p.re.as_ref().is_some_and(|re| !re.is_match(v)) {
            errs.push(format!(
                "{}: string [{v}] does not match pattern {}",
                loc(at),
                p.source
            ));
        }
    }
}

fn check_number(nu: &Num, v: &serde_json::Number, x: &Value, at: &str, errs: &mut Vec<String>) {
    let f = v.as_f64().unwrap_or(f64::NAN);
    let integral = v.is_i64() || v.is_u64() || (f.is_finite() && f.fract() == 0.0);
    if nu.requires_integer && !integral {
        return type_is(false, "Integer", x, at, errs);
    }
    let t = number_text(x);
    let mut fail = |what: String| errs.push(format!("{}: {t} {what}", loc(at)));
    if let Some(m) = nu.minimum {
        if f < m || (nu.minimum_exclusive && f == m) {
            let op = if nu.minimum_exclusive {
                "greater than"
            } else {
                "greater or equal to"
            };
            fail(format!("is not {op} {m}"));
        }
    }
    if let Some(m) = nu.maximum {
        if f > m || (nu.maximum_exclusive && f == m) {
            let op = if nu.maximum_exclusive {
                "less than"
            } else {
                "less or equal to"
            };
            fail(format!("is not {op} {m}"));
        }
    }
    if let Some(m) = nu.exclusive_minimum.filter(|&m| f <= m) {
        fail(format!("is not greater than {m}"));
    }
    if let Some(m) = nu.exclusive_maximum.filter(|&m| f >= m) {
        fail(format!("is not less than {m}"));
    }
    if let Some(m) = nu.multiple_of.filter(|&m| !is_multiple(f, m)) {
        fail(format!("is not a multiple of {m}"));
    }
}

#[cfg(test)]
#[path = "json_schema_tests.rs"]
mod tests;
