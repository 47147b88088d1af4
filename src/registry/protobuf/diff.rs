//! Protobuf compatibility: Confluent's `SchemaDiff` (`protobuf-provider/.../diff/`) over the
//! resolved descriptors, reporting only the differences Confluent counts as incompatible.
//!
//! Rules (original = the writer's schema, update = the reader's):
//! - the file package must not change (`PACKAGE_CHANGED`);
//! - messages are matched by name, scope by scope; a message that disappears is
//!   `MESSAGE_REMOVED` (map entries excepted); added/moved messages, enums and enum constants
//!   are compatible;
//! - fields are matched by tag across the whole message (oneof members included); names
//!   don't matter. A removed or added field is compatible unless it is `required` (proto2),
//!   or (removal) a member of a oneof that survives (`ONEOF_FIELD_REMOVED`). Fields that end
//!   up together in a oneof after being independent are `MULTIPLE_FIELDS_MOVED_TO_ONEOF` /
//!   `FIELD_MOVED_TO_EXISTING_ONEOF`;
//! - a field's kind (scalar incl. enum / message / map) must not change
//!   (`FIELD_KIND_CHANGED`); scalars must stay in their wire group
//!   (`FIELD_SCALAR_KIND_CHANGED`): {int32, int64, uint32, uint64, bool, enum},
//!   {sint32, sint64}, {string, bytes}, {fixed32, sfixed32}, {fixed64, sfixed64}, {float},
//!   {double}; a numeric field's explicit label must not change
//!   (`FIELD_NUMERIC_LABEL_CHANGED`; a missing label is not compared, as in Confluent);
//! - a message-typed field must keep naming the same message (package-relative name), and
//!   when that message comes from another file its own changes count
//!   (`FIELD_NAMED_TYPE_CHANGED`); map keys and values are compared like fields.
//!
//! Order of the reported differences follows Java's: messages of a scope in
//! `java.util.HashSet` iteration order (reproduced here), fields by tag.

use std::collections::{BTreeSet, HashMap, HashSet};

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};

use super::ProtoSchema;

/// One incompatible difference: Confluent's type name and the path (`#/Foo/2`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Difference {
    pub kind: &'static str,
    pub path: String,
}

impl Difference {
    /// Confluent's `Difference.toString()` with the `%s` placeholders filled as its schema
    /// validator does (reader first, then writer: "new", "old" for BACKWARD).
    pub fn message(&self, reader: &str, writer: &str) -> String {
        let p = &self.path;
        let template = match self.kind {
            "PACKAGE_CHANGED" => format!(
                "The package at '{p}' in the %s schema does not match the package in the %s schema"
            ),
            "MESSAGE_REMOVED" => {
                format!("The %s schema is missing a MESSAGE type at path '{p}' in the %s schema")
            }
            "FIELD_KIND_CHANGED" => format!(
                "The type of a field at path '{p}' in the %s schema does not match the %s schema"
            ),
            "FIELD_SCALAR_KIND_CHANGED" => format!(
                "The kind of a SCALAR field at path '{p}' in the %s schema does not match its \
                 kind in the %s schema"
            ),
            "FIELD_NAMED_TYPE_CHANGED" => format!(
                "The type of a MESSAGE field at path '{p}' in the %s schema does not match its \
                 type in the %s schema"
            ),
            "FIELD_NUMERIC_LABEL_CHANGED" => format!(
                "The label for a NUMERIC field at path '{p}' in the %s schema does not match its \
                 label in the %s schema"
            ),
            "REQUIRED_FIELD_ADDED" => format!(
                "A required field  at path '{p}' in the %s schema is missing in the %s schema"
            ),
            "REQUIRED_FIELD_REMOVED" => {
                format!("The %s schema is missing a required field at path: '{p}' in the %s schema")
            }
            "ONEOF_FIELD_REMOVED" => {
                format!("The %s schema is missing a oneof field at path '{p}' in the %s schema")
            }
            "MULTIPLE_FIELDS_MOVED_TO_ONEOF" => format!(
                "Multiple fields in the oneof at path '{p}' in the %s schema are outside a oneof \
                 in the %s schema"
            ),
            "FIELD_MOVED_TO_EXISTING_ONEOF" => format!(
                "A field in the oneof at path '{p}' in the %s schema is outside an existing oneof \
                 in the %s schema"
            ),
            _ => String::new(),
        };
        let description = template.replacen("%s", reader, 1).replacen("%s", writer, 1);
        format!(
            "{{errorType:\"{}\", description:\"{description}\"}}",
            self.kind
        )
    }
}

/// The incompatible differences between `original` (written) and `update` (reading).
pub(super) fn compare(original: &ProtoSchema, update: &ProtoSchema) -> Vec<Difference> {
    let mut ctx = Ctx {
        orig: original,
        upd: update,
        path: Vec::new(),
        in_progress: HashSet::new(),
        diffs: Vec::new(),
    };
    let (Some(of), Some(uf)) = (original.main_file(), update.main_file()) else {
        return Vec::new();
    };
    if of.package_name() != uf.package_name() {
        ctx.add("PACKAGE_CHANGED");
    }
    let om: Vec<_> = of.messages().filter(|m| original.visible(m)).collect();
    let um: Vec<_> = uf.messages().filter(|m| update.visible(m)).collect();
    ctx.compare_types(&om, &um);
    ctx.diffs
}

struct Ctx<'a> {
    orig: &'a ProtoSchema,
    upd: &'a ProtoSchema,
    path: Vec<String>,
    /// Original messages whose fields are being compared (recursive types stop here).
    in_progress: HashSet<String>,
    diffs: Vec<Difference>,
}

/// What a field's type is, for comparison.
enum TypeInfo {
    Scalar(ScalarKind),
    Message(MessageDescriptor),
    Map(Box<TypeInfo>, Box<TypeInfo>),
}

/// The wire groups within which a scalar may change type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarKind {
    GeneralNumber,
    SignedNumber,
    StringOrBytes,
    Fixed32,
    Fixed64,
    Float,
    Double,
}

fn kind_info(kind: Kind) -> TypeInfo {
    use ScalarKind::*;
    TypeInfo::Scalar(match kind {
        Kind::Message(m) => return TypeInfo::Message(m),
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => {
            GeneralNumber
        }
        Kind::Sint32 | Kind::Sint64 => SignedNumber,
        Kind::String | Kind::Bytes => StringOrBytes,
        Kind::Fixed32 | Kind::Sfixed32 => Fixed32,
        Kind::Fixed64 | Kind::Sfixed64 => Fixed64,
        Kind::Float => Float,
        Kind::Double => Double,
    })
}

fn type_info(f: &FieldDescriptor) -> TypeInfo {
    if f.is_map() {
        if let Kind::Message(entry) = f.kind() {
            if let (Some(k), Some(v)) = (entry.get_field(1), entry.get_field(2)) {
                return TypeInfo::Map(Box::new(kind_info(k.kind())), Box::new(kind_info(v.kind())));
            }
        }
    }
    kind_info(f.kind())
}

/// The label as the text has it (None: none written, or a oneof member).
fn label(f: &FieldDescriptor) -> Option<Cardinality> {
    if f.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
        return None;
    }
    if f.field_descriptor_proto().proto3_optional() {
        return Some(Cardinality::Optional);
    }
    match f.cardinality() {
        Cardinality::Optional if f.parent_file().syntax() == prost_reflect::Syntax::Proto3 => None,
        c => Some(c),
    }
}

/// A message's name relative to its file's package.
fn local_name(m: &MessageDescriptor) -> String {
    let package = m.package_name();
    let full = m.full_name();
    match full.strip_prefix(package).and_then(|s| s.strip_prefix('.')) {
        Some(local) if !package.is_empty() => local.to_string(),
        _ => full.to_string(),
    }
}

/// The oneof a field belongs to (proto3 `optional` fields belong to none).
fn oneof_name(f: &FieldDescriptor) -> Option<String> {
    f.containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_string())
}

/// Fields by tag (groups are not fields in Confluent's model) and their oneofs.
fn fields_by_tag(m: &MessageDescriptor) -> HashMap<u32, (FieldDescriptor, Option<String>)> {
    m.fields()
        .filter(|f| !f.is_group())
        .map(|f| {
            let oneof = oneof_name(&f);
            (f.number(), (f, oneof))
        })
        .collect()
}

impl Ctx<'_> {
    fn add(&mut self, kind: &'static str) {
        self.diffs.push(Difference {
            kind,
            path: format!("#/{}", self.path.join("/")),
        });
    }

    fn add_at(&mut self, parts: &[&str], kind: &'static str) {
        let n = self.path.len();
        self.path.extend(parts.iter().map(|p| p.to_string()));
        self.add(kind);
        self.path.truncate(n);
    }

    /// The messages of one scope, matched by name (enum changes are all compatible).
    fn compare_types(&mut self, original: &[MessageDescriptor], update: &[MessageDescriptor]) {
        let by_name = |list: &[MessageDescriptor]| -> HashMap<String, MessageDescriptor> {
            list.iter()
                .map(|m| (m.name().to_string(), m.clone()))
                .collect()
        };
        let (om, um) = (by_name(original), by_name(update));
        let names = |list: &[MessageDescriptor]| -> Vec<String> {
            list.iter().map(|m| m.name().to_string()).collect()
        };
        for name in java_set_union_order(&names(original), &names(update)) {
            self.path.push(name.clone());
            match (om.get(&name), um.get(&name)) {
                (Some(o), None) if !o.is_map_entry() => self.add("MESSAGE_REMOVED"),
                (Some(o), Some(u)) => self.compare_message(o, u),
                _ => {}
            }
            self.path.pop();
        }
    }

    fn compare_message(&mut self, o: &MessageDescriptor, u: &MessageDescriptor) {
        let key = format!("{}:{}", o.parent_file().name(), o.full_name());
        if self.in_progress.insert(key.clone()) {
            self.compare_fields(o, u);
            self.in_progress.remove(&key);
        }
        let on: Vec<_> = o
            .child_messages()
            .filter(|m| self.orig.visible(m))
            .collect();
        let un: Vec<_> = u.child_messages().filter(|m| self.upd.visible(m)).collect();
        self.compare_types(&on, &un);
    }

    fn compare_fields(&mut self, o: &MessageDescriptor, u: &MessageDescriptor) {
        let ob = fields_by_tag(o);
        let ub = fields_by_tag(u);
        // A oneof gone with all its members is a compatible deletion.
        let deleted_oneofs: HashSet<String> = o
            .oneofs()
            .filter(|x| !x.is_synthetic())
            .filter(|x| !u.oneofs().any(|y| y.name() == x.name()))
            .filter(|x| !x.fields().any(|f| ub.contains_key(&f.number())))
            .map(|x| x.name().to_string())
            .collect();
        // Fields that were independent and now share a oneof.
        for oneof in u.oneofs().filter(|x| !x.is_synthetic()) {
            let mut origins = HashSet::new();
            let mut moved_in = 0;
            for f in oneof.fields() {
                match ob.get(&f.number()) {
                    Some((_, Some(was))) => {
                        origins.insert(format!("oneof:{was}"));
                    }
                    Some((_, None)) => {
                        origins.insert(format!("field:{}", f.number()));
                        moved_in += 1;
                    }
                    None => {}
                }
            }
            if origins.len() > 1 {
                let kind = if moved_in > 1 {
                    "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
                } else {
                    "FIELD_MOVED_TO_EXISTING_ONEOF"
                };
                self.add_at(&[oneof.name()], kind);
            }
        }
        let tags: BTreeSet<u32> = ob.keys().chain(ub.keys()).copied().collect();
        for tag in tags {
            let t = tag.to_string();
            match (ob.get(&tag), ub.get(&tag)) {
                (Some((_, Some(oneof))), None) if !deleted_oneofs.contains(oneof) => {
                    self.add_at(&[oneof, &t], "ONEOF_FIELD_REMOVED");
                }
                (Some((f, None)), None) if f.cardinality() == Cardinality::Required => {
                    self.add_at(&[&t], "REQUIRED_FIELD_REMOVED");
                }
                (None, Some((f, None))) if f.cardinality() == Cardinality::Required => {
                    self.add_at(&[&t], "REQUIRED_FIELD_ADDED");
                }
                (Some((of, _)), Some((uf, uo))) => {
                    let n = self.path.len();
                    if let Some(oneof) = uo {
                        self.path.push(oneof.clone());
                    }
                    self.path.push(t);
                    self.compare_types_of(label(of), label(uf), &type_info(of), &type_info(uf));
                    self.path.truncate(n);
                }
                _ => {}
            }
        }
    }

    fn compare_types_of(
        &mut self,
        ol: Option<Cardinality>,
        ul: Option<Cardinality>,
        ot: &TypeInfo,
        ut: &TypeInfo,
    ) {
        match (ot, ut) {
            (TypeInfo::Scalar(a), TypeInfo::Scalar(b)) => {
                if a != b {
                    self.add("FIELD_SCALAR_KIND_CHANGED");
                } else if let (Some(x), Some(y)) = (ol, ul) {
                    if x != y && *a != ScalarKind::StringOrBytes {
                        self.add("FIELD_NUMERIC_LABEL_CHANGED");
                    }
                }
            }
            (TypeInfo::Message(a), TypeInfo::Message(b)) => self.compare_message_types(a, b),
            (TypeInfo::Map(ak, av), TypeInfo::Map(bk, bv)) => {
                self.compare_types_of(None, None, ak, bk);
                self.compare_types_of(None, None, av, bv);
            }
            _ => self.add("FIELD_KIND_CHANGED"),
        }
    }

    fn compare_message_types(&mut self, o: &MessageDescriptor, u: &MessageDescriptor) {
        let name = local_name(o);
        if name != local_name(u) {
            self.add("FIELD_NAMED_TYPE_CHANGED");
            return;
        }
        if self.same_reference(o, u) {
            return;
        }
        // Confluent compares a message from another file in a fresh context rooted at its
        // name, and the field's type is incompatible if that message's changes are.
        let mut sub = Ctx {
            orig: self.orig,
            upd: self.upd,
            path: name.split('.').map(str::to_string).collect(),
            in_progress: self.in_progress.clone(),
            diffs: Vec::new(),
        };
        sub.compare_message(o, u);
        if !sub.diffs.is_empty() {
            self.diffs.append(&mut sub.diffs);
            self.add("FIELD_NAMED_TYPE_CHANGED");
        }
    }

    /// Both types defined in the schema itself, or both in the same dependency (Confluent:
    /// the same subject and version; here: the same import with the same text).
    fn same_reference(&self, o: &MessageDescriptor, u: &MessageDescriptor) -> bool {
        let (of, uf) = (o.parent_file(), u.parent_file());
        if self.orig.is_main(of.name()) && self.upd.is_main(uf.name()) {
            return true;
        }
        match (
            self.orig.dependency_text(of.name()),
            self.upd.dependency_text(uf.name()),
        ) {
            (Some(a), Some(b)) => of.name() == uf.name() && a == b,
            _ => false,
        }
    }
}

/// Java's `String.hashCode`.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The bucket count of a `java.util.HashMap` with this initial table size after inserting
/// keys with these spread hashes: it doubles when the size passes three quarters of it, and
/// when a bucket already holding 8 keys gets another while the table is under 64 buckets
/// (Java resizes rather than build a tree bin there).
fn final_capacity(initial: usize, hashes: &[usize]) -> usize {
    let mut cap = initial;
    for (i, h) in hashes.iter().enumerate() {
        let bucket = h & (cap - 1);
        let before = hashes[..i]
            .iter()
            .filter(|x| *x & (cap - 1) == bucket)
            .count();
        if before >= 8 && cap < 64 {
            cap *= 2;
        }
        if i + 1 > cap * 3 / 4 {
            cap *= 2;
        }
    }
    cap
}

/// Iteration order of a `java.util.HashMap`/`HashSet` holding these distinct keys, inserted
/// in this order: by bucket (`hash ^ hash >>> 16`, masked), then insertion order (resizing
/// keeps the relative order within a bucket). Tree bins (9+ keys in one bucket of a table of
/// 64 or more) are not modelled.
fn java_hash_order(keys: Vec<String>, initial: usize) -> Vec<String> {
    let hashes: Vec<usize> = keys
        .iter()
        .map(|k| {
            let h = java_hash(k) as u32;
            (h ^ (h >> 16)) as usize
        })
        .collect();
    let mask = final_capacity(initial, &hashes) - 1;
    let mut keyed: Vec<(usize, String)> = hashes.iter().map(|h| h & mask).zip(keys).collect();
    keyed.sort_by_key(|(bucket, _)| *bucket);
    keyed.into_iter().map(|(_, k)| k).collect()
}

/// The order Confluent visits the message names of one scope: a `HashSet` built from the
/// original's `HashMap` keys, then the update's.
fn java_set_union_order(original: &[String], update: &[String]) -> Vec<String> {
    let o = java_hash_order(original.to_vec(), 16);
    let u = java_hash_order(update.to_vec(), 16);
    let mut inserted = o.clone();
    inserted.extend(u.into_iter().filter(|n| !o.contains(n)));
    // new HashSet<>(collection): max(size / .75f + 1, 16) rounded up to a power of two.
    let initial = ((o.len() as f32 / 0.75) as usize + 1)
        .max(16)
        .next_power_of_two();
    java_hash_order(inserted, initial)
}

#[cfg(test)]
pub(super) fn java_order_for_test(original: &[&str], update: &[&str]) -> Vec<String> {
    let s = |l: &[&str]| l.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    java_set_union_order(&s(original), &s(update))
}
