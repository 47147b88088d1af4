//! Avro data, directed by a parsed [`AvroSchema`]: Avro's JSON encoding (what Confluent's REST
//! Proxy takes as `"type":"AVRO"` data and answers to avro consumers) to Avro's binary
//! encoding, and back. Used by the HTTP proxy to produce and consume Avro records and by the
//! console's message browser; framing (magic byte, schema id) is [`super::wire`]'s.
//!
//! The JSON encoding (Avro specification, "JSON Encoding"): null, booleans, numbers and
//! strings as themselves; `bytes` and `fixed` as strings whose code points U+0000..U+00FF are
//! the bytes; enums as their symbol; records and maps as objects; arrays as arrays; a union
//! value as `{"<branch name>": value}` — the full name of a named type, else the type's name
//! (`"string"`, `"array"`) — except `null`, which is plain `null`. A union label may also be
//! the short name of a named branch when only one branch has it. A record field missing from
//! the object takes its default (written as in the schema, where a union default is the
//! first branch's value, unwrapped); a field the schema does not have is an error, as in
//! Avro's Java `JsonDecoder`. Numbers are range-checked (int, long, float; a float is
//! rounded to the nearest f32) and ints and longs must be integers.
//! NaN and the infinities, which JSON cannot carry, are the strings `"NaN"`, `"Infinity"` and
//! `"-Infinity"` both ways. Logical types are their underlying type. The decoded objects come
//! out with keys in alphabetical order (serde_json without `preserve_order`).
//!
//! Binary encoding: ints and longs as zig-zag varints (at most 5 and 10 bytes; longer or
//! overflowing ones refused), floats and doubles little-endian, bytes and strings as a long
//! length then the bytes (strings must be UTF-8), records as their fields in order, enums as
//! an int index, arrays and maps as blocks (a long count, negative when followed by the
//! block's byte size, up to a 0 count), unions as a long branch index then the value.
//!
//! Invariants when decoding untrusted bytes: all bytes are consumed or it is an error; a
//! length is checked against the bytes left before anything is allocated; array items and map
//! entries are counted against a budget of the input length plus [`MAX_EMPTY_ITEMS`] (items
//! that take no bytes, like nulls, would otherwise be free); nesting is bounded by
//! [`MAX_DEPTH`] (a recursive schema cannot recurse without bound, and the JSON produced stays
//! within what serde_json parses back). Errors are a message, with the path of the value when
//! inside a record, array, map or union.

use serde_json::{Map, Number, Value};

use super::avro::{AvroSchema, Field, Node};

/// The deepest nesting of records, arrays, maps and union branches (each one JSON level),
/// in data and JSON alike: serde_json's parser refuses JSON nested 128 deep.
pub const MAX_DEPTH: usize = 127;

/// Array items and map entries allowed beyond one per input byte (items can take no bytes).
pub const MAX_EMPTY_ITEMS: usize = 1 << 16;

/// Avro's JSON encoding of a value of `schema` to Avro binary; Err says what and where.
pub fn encode_json(schema: &AvroSchema, v: &Value) -> Result<Vec<u8>, String> {
    let mut e = Encoder {
        schema,
        out: Vec::new(),
    };
    e.value(schema.root(), v, false, 0)
        .map_err(DataError::into_message)?;
    Ok(e.out)
}

/// Avro binary of `schema` to Avro's JSON encoding; all of `data` must be one value.
pub fn decode_to_json(schema: &AvroSchema, data: &[u8]) -> Result<Value, String> {
    let mut d = Decoder {
        schema,
        data,
        pos: 0,
        items_left: data.len().saturating_add(MAX_EMPTY_ITEMS),
    };
    let v = d.value(schema.root(), 0).map_err(DataError::into_message)?;
    if d.pos != data.len() {
        return Err(format!(
            "{} bytes left after the value (of {})",
            data.len() - d.pos,
            data.len()
        ));
    }
    Ok(v)
}

/// A failure with the path to the value, innermost segment first.
struct DataError {
    path: Vec<String>,
    msg: String,
}

type Res<T> = Result<T, DataError>;

fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(DataError {
        path: Vec::new(),
        msg: msg.into(),
    })
}

impl DataError {
    fn under(mut self, segment: impl std::fmt::Display) -> DataError {
        self.path.push(segment.to_string());
        self
    }

    fn into_message(self) -> String {
        if self.path.is_empty() {
            return self.msg;
        }
        let path: Vec<&str> = self.path.iter().rev().map(String::as_str).collect();
        format!("at /{}: {}", path.join("/"), self.msg)
    }
}

/// A JSON value as a short text for error messages.
fn show(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

fn expected<T>(what: &str, v: &Value) -> Res<T> {
    fail(format!("expected {what}, found {}", show(v)))
}

fn enter(depth: usize) -> Res<usize> {
    if depth >= MAX_DEPTH {
        return fail(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(depth + 1)
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Avro's long: a zig-zag varint.
fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = zigzag(n);
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// The bytes a JSON string of code points U+0000..U+00FF stands for.
fn code_points(v: &Value, what: &str) -> Res<Vec<u8>> {
    let Some(s) = v.as_str() else {
        return expected(what, v);
    };
    s.chars()
        .map(|c| u8::try_from(u32::from(c)))
        .collect::<Result<_, _>>()
        .or_else(|_| {
            fail(format!(
                "expected {what} (characters U+0000 to U+00FF), found {}",
                show(v)
            ))
        })
}

fn integer(v: &Value, what: &str, min: i64, max: i64) -> Res<i64> {
    match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ if v.is_i64() || v.is_u64() => fail(format!("{} is out of range for {what}", show(v))),
        _ => expected(what, v),
    }
}

fn floating(v: &Value, what: &str) -> Res<f64> {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| expected(what, v), Ok),
        Value::String(s) if s == "NaN" => Ok(f64::NAN),
        Value::String(s) if s == "Infinity" => Ok(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => expected(what, v),
    }
}

struct Encoder<'a> {
    schema: &'a AvroSchema,
    out: Vec<u8>,
}

impl Encoder<'_> {
    /// Writes `v` as a value of node `n`. `default_form`: `v` is a default from the schema,
    /// where a union value is the first branch's, unwrapped.
    fn value(&mut self, n: usize, v: &Value, default_form: bool, depth: usize) -> Res<()> {
        let schema = self.schema;
        match schema.node(n) {
            Node::Null if v.is_null() => {}
            Node::Null => return expected("null", v),
            Node::Boolean => match v {
                Value::Bool(b) => self.out.push(u8::from(*b)),
                _ => return expected("a boolean", v),
            },
            Node::Int => {
                let i = integer(v, "an int", i32::MIN.into(), i32::MAX.into())?;
                write_long(&mut self.out, i);
            }
            Node::Long => {
                let i = integer(v, "a long", i64::MIN, i64::MAX)?;
                write_long(&mut self.out, i);
            }
            Node::Float => {
                let d = floating(v, "a float")?;
                let f = d as f32;
                if d.is_finite() && !f.is_finite() {
                    return fail(format!("{} is out of range for a float", show(v)));
                }
                self.out.extend_from_slice(&f.to_le_bytes());
            }
            Node::Double => {
                let f = floating(v, "a double")?;
                self.out.extend_from_slice(&f.to_le_bytes());
            }
            Node::Bytes => {
                let b = code_points(v, "bytes as a string")?;
                write_bytes(&mut self.out, &b);
            }
            Node::String => match v {
                Value::String(s) => write_bytes(&mut self.out, s.as_bytes()),
                _ => return expected("a string", v),
            },
            Node::Record { name, fields, .. } => {
                let depth = enter(depth)?;
                let Value::Object(o) = v else {
                    return expected(&format!("an object (record {name})"), v);
                };
                self.record(fields, o, default_form, depth)?;
            }
            Node::Enum { name, symbols, .. } => {
                let Some(s) = v.as_str() else {
                    return expected(&format!("a symbol of enum {name}"), v);
                };
                let Some(i) = symbols.iter().position(|x| x == s) else {
                    return fail(format!("{} is not a symbol of enum {name}", show(v)));
                };
                write_long(&mut self.out, i as i64);
            }
            Node::Fixed { name, size, .. } => {
                let b = code_points(v, &format!("fixed {name} as a string"))?;
                if b.len() as u64 != *size {
                    return fail(format!("fixed {name} has {size} bytes, found {}", b.len()));
                }
                self.out.extend_from_slice(&b);
            }
            Node::Array(items) => self.array(*items, v, default_form, depth)?,
            Node::Map(values) => self.map(*values, v, default_form, depth)?,
            Node::Union(branches) if default_form => self.union_default(branches, v, depth)?,
            Node::Union(branches) => self.union(branches, v, depth)?,
        }
        Ok(())
    }

    /// One block of all the items (when there are any), then the 0 that ends the array.
    fn array(&mut self, items: usize, v: &Value, default_form: bool, depth: usize) -> Res<()> {
        let depth = enter(depth)?;
        let Value::Array(a) = v else {
            return expected("an array", v);
        };
        if !a.is_empty() {
            write_long(&mut self.out, a.len() as i64);
            for (i, x) in a.iter().enumerate() {
                self.value(items, x, default_form, depth)
                    .map_err(|e| e.under(i))?;
            }
        }
        self.out.push(0);
        Ok(())
    }

    fn map(&mut self, values: usize, v: &Value, default_form: bool, depth: usize) -> Res<()> {
        let depth = enter(depth)?;
        let Value::Object(o) = v else {
            return expected("an object (map)", v);
        };
        if !o.is_empty() {
            write_long(&mut self.out, o.len() as i64);
            for (k, x) in o {
                write_bytes(&mut self.out, k.as_bytes());
                self.value(values, x, default_form, depth)
                    .map_err(|e| e.under(k))?;
            }
        }
        self.out.push(0);
        Ok(())
    }

    fn record(
        &mut self,
        fields: &[Field],
        o: &Map<String, Value>,
        default_form: bool,
        depth: usize,
    ) -> Res<()> {
        if let Some(k) = o.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
            return fail(format!("unknown field {}", show(&Value::String(k.clone()))));
        }
        for f in fields {
            let r = match (o.get(&f.name), &f.default) {
                (Some(x), _) => self.value(f.node, x, default_form, depth),
                (None, Some(d)) => self.value(f.node, d, true, depth).map_err(|e| DataError {
                    path: Vec::new(),
                    msg: format!("invalid default in the schema: {}", e.into_message()),
                }),
                (None, None) => fail("missing field (and no default in the schema)"),
            };
            r.map_err(|e| e.under(&f.name))?;
        }
        Ok(())
    }

    /// A union value in the JSON encoding: `null`, or `{"<branch name>": value}`.
    fn union(&mut self, branches: &[usize], v: &Value, depth: usize) -> Res<()> {
        let schema = self.schema;
        let null_branch = || {
            branches
                .iter()
                .position(|b| matches!(schema.node(*b), Node::Null))
        };
        let (label, inner) = match v {
            Value::Null => {
                let Some(i) = null_branch() else {
                    return fail("null is not a branch of the union");
                };
                write_long(&mut self.out, i as i64);
                return Ok(());
            }
            Value::Object(o) if o.len() == 1 => match o.iter().next() {
                Some((label, inner)) => (label, inner),
                None => return fail("empty union object"),
            },
            _ => {
                let names: Vec<&str> = branches.iter().map(|b| schema.node(*b).label()).collect();
                return fail(format!(
                    "expected a union value {{\"<branch>\": value}} or null, branches {names:?}; found {}",
                    show(v)
                ));
            }
        };
        let i = match branches
            .iter()
            .position(|b| schema.node(*b).label() == label.as_str())
        {
            Some(i) => i,
            None => {
                // The short name of a named branch, when only one branch has it.
                let short = |b: &usize| {
                    let l = schema.node(*b).label();
                    l.rsplit('.').next() == Some(label.as_str())
                };
                let mut hits = branches.iter().enumerate().filter(|(_, b)| short(b));
                match (hits.next(), hits.next()) {
                    (Some((i, _)), None) => i,
                    _ => return fail(format!("{label:?} is not a branch of the union")),
                }
            }
        };
        let depth = enter(depth)?;
        write_long(&mut self.out, i as i64);
        self.value(branches[i], inner, false, depth)
            .map_err(|e| e.under(label))
    }

    /// A union default: the first branch's value, unwrapped (Avro's rule); the other branches
    /// are tried after it, as newer Avro versions accept.
    fn union_default(&mut self, branches: &[usize], v: &Value, depth: usize) -> Res<()> {
        let start = self.out.len();
        let mut first_err = None;
        for (i, b) in branches.iter().enumerate() {
            write_long(&mut self.out, i as i64);
            match self.value(*b, v, true, depth) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.out.truncate(start);
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => fail("empty union"),
        }
    }
}

struct Decoder<'a> {
    schema: &'a AvroSchema,
    data: &'a [u8],
    pos: usize,
    items_left: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Res<&[u8]> {
        if self.data.len() - self.pos < n {
            return fail(format!(
                "truncated: {n} bytes needed at byte {}, {} left",
                self.pos,
                self.data.len() - self.pos
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A zig-zag varint of at most `max_bytes` bytes whose value fits `bits` bits.
    fn varint(&mut self, max_bytes: usize, bits: u32) -> Res<i64> {
        let start = self.pos;
        let mut z: u64 = 0;
        for i in 0..max_bytes {
            let b = self.take(1)?[0];
            z |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                let overflow = if bits < 64 {
                    z >> bits != 0
                } else {
                    i == 9 && b > 1
                };
                if overflow {
                    return fail(format!("varint at byte {start} overflows {bits} bits"));
                }
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        fail(format!(
            "varint at byte {start} longer than {max_bytes} bytes"
        ))
    }

    fn long(&mut self) -> Res<i64> {
        self.varint(10, 64)
    }

    fn int(&mut self) -> Res<i64> {
        self.varint(5, 32)
    }

    /// A length of bytes: not negative, and at most the bytes left, so nothing is allocated
    /// for bytes that are not there.
    fn length(&mut self) -> Res<usize> {
        let at = self.pos;
        let n = self.long()?;
        let left = self.data.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => fail(format!(
                "length {n} at byte {at} is negative or beyond the {left} bytes left"
            )),
        }
    }

    fn value(&mut self, n: usize, depth: usize) -> Res<Value> {
        let schema = self.schema;
        Ok(match schema.node(n) {
            Node::Null => Value::Null,
            Node::Boolean => match self.take(1)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return fail(format!("boolean byte {b} at byte {}", self.pos - 1)),
            },
            Node::Int => self.int()?.into(),
            Node::Long => self.long()?.into(),
            Node::Float => {
                let mut b = [0u8; 4];
                b.copy_from_slice(self.take(4)?);
                float_json(f32::from_le_bytes(b))
            }
            Node::Double => {
                let mut b = [0u8; 8];
                b.copy_from_slice(self.take(8)?);
                double_json(f64::from_le_bytes(b))
            }
            Node::Bytes => {
                let len = self.length()?;
                Value::String(self.take(len)?.iter().map(|b| char::from(*b)).collect())
            }
            Node::String => Value::String(self.string()?),
            Node::Record { fields, .. } => {
                let depth = enter(depth)?;
                let mut o = Map::new();
                for f in fields {
                    let x = self.value(f.node, depth).map_err(|e| e.under(&f.name))?;
                    o.insert(f.name.clone(), x);
                }
                Value::Object(o)
            }
            Node::Enum { name, symbols, .. } => {
                let at = self.pos;
                let i = self.int()?;
                match usize::try_from(i).ok().and_then(|i| symbols.get(i)) {
                    Some(s) => Value::String(s.clone()),
                    None => {
                        return fail(format!("enum {name} has no symbol {i} (at byte {at})"));
                    }
                }
            }
            Node::Fixed { size, .. } => {
                let size = usize::try_from(*size).unwrap_or(usize::MAX);
                Value::String(self.take(size)?.iter().map(|b| char::from(*b)).collect())
            }
            Node::Array(items) => {
                let depth = enter(depth)?;
                let mut a = Vec::new();
                self.blocks(|d, i| {
                    let x = d.value(*items, depth).map_err(|e| e.under(i))?;
                    a.push(x);
                    Ok(())
                })?;
                Value::Array(a)
            }
            Node::Map(values) => {
                let depth = enter(depth)?;
                let mut o = Map::new();
                self.blocks(|d, _| {
                    let k = d.string()?;
                    let x = d.value(*values, depth).map_err(|e| e.under(&k))?;
                    o.insert(k, x);
                    Ok(())
                })?;
                Value::Object(o)
            }
            Node::Union(branches) => self.union(branches, depth)?,
        })
    }

    /// The branch index, then `null` or `{"<branch name>": value}`.
    fn union(&mut self, branches: &[usize], depth: usize) -> Res<Value> {
        let at = self.pos;
        let i = self.long()?;
        let Some(b) = usize::try_from(i).ok().and_then(|i| branches.get(i)) else {
            return fail(format!("union has no branch {i} (at byte {at})"));
        };
        let node = self.schema.node(*b);
        if matches!(node, Node::Null) {
            return Ok(Value::Null);
        }
        let depth = enter(depth)?;
        let label = node.label();
        let x = self.value(*b, depth).map_err(|e| e.under(label))?;
        let mut o = Map::new();
        o.insert(label.to_string(), x);
        Ok(Value::Object(o))
    }

    fn string(&mut self) -> Res<String> {
        let at = self.pos;
        let len = self.length()?;
        match std::str::from_utf8(self.take(len)?) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => fail(format!("string at byte {at} is not UTF-8")),
        }
    }

    /// The blocks of an array or map: `item(decoder, index)` once per item.
    fn blocks(&mut self, mut item: impl FnMut(&mut Self, usize) -> Res<()>) -> Res<()> {
        let mut index = 0usize;
        loop {
            let at = self.pos;
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            // A negative count is followed by the block's size in bytes.
            let size = if count < 0 {
                Some(self.length()?)
            } else {
                None
            };
            let count = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
            if count > self.items_left {
                return fail(format!(
                    "block of {count} items at byte {at}: more than the data can hold"
                ));
            }
            self.items_left -= count;
            let start = self.pos;
            for _ in 0..count {
                item(self, index)?;
                index += 1;
            }
            if let Some(size) = size {
                if self.pos - start != size {
                    return fail(format!(
                        "block at byte {at} says {size} bytes, its items took {}",
                        self.pos - start
                    ));
                }
            }
        }
    }
}

fn float_json(f: f32) -> Value {
    if !f.is_finite() {
        return non_finite(f.into());
    }
    // The shortest decimal that reads back as this f32 (0.1, not 0.10000000149011612).
    let shortest: f64 = f.to_string().parse().unwrap_or(f64::from(f));
    Number::from_f64(shortest).map_or(Value::Null, Value::Number)
}

fn double_json(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => non_finite(f),
    }
}

fn non_finite(f: f64) -> Value {
    Value::String(
        if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .to_string(),
    )
}

#[cfg(test)]
#[path = "avro_data_tests.rs"]
mod tests;
