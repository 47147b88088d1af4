//! The Schema Registry's state as a pure state machine: subjects and their versions, the
//! global schema ids, compatibility configs and modes, rebuilt from `_schemas` by
//! [`Store::apply`] and changed only by applying the records its commands return (the
//! runtime appends them, waits for the commit, then applies them), so what is answered is
//! always what the topic holds.
//!
//! Rules (Confluent's `KafkaSchemaRegistry` / `AbstractSchemaRegistry`):
//! - ids are global: the highest id ever seen plus one; the same schema (type, canonical
//!   text, references) registered under another subject reuses its id;
//! - registering a schema that is already a live version of the subject returns that
//!   version and writes nothing; a new version is the highest (deleted ones included) plus 1;
//! - a soft delete marks versions deleted (they stay readable with `deleted=true`), a
//!   permanent delete needs the soft delete first (40405 / 40407) and tombstones the versions;
//!   deleting a version another live schema references is 42206;
//! - compatibility is checked against the latest live version, or every live one for the
//!   `_TRANSITIVE` levels, by a checker the caller gives (per schema type).

use std::collections::{BTreeMap, HashMap};

use super::records::{
    decode_delete_subject, decode_setting, encode_delete_subject, encode_setting, Key, Reference,
    SchemaType, SchemaValue,
};

/// An error as the REST API answers it: HTTP status, Confluent error code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    pub status: u16,
    pub code: i32,
    pub message: String,
}

fn err(status: u16, code: i32, message: String) -> RegistryError {
    RegistryError {
        status,
        code,
        message,
    }
}

pub fn subject_not_found(s: &str) -> RegistryError {
    err(404, 40401, format!("Subject '{s}' not found."))
}

/// 42206: another live schema references `subject` version `version`.
fn referenced(subject: &str, version: i32) -> RegistryError {
    err(
        422,
        42206,
        format!(
            "One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={version}}}."
        ),
    )
}

pub fn version_not_found(v: &str) -> RegistryError {
    err(404, 40402, format!("Version {v} not found."))
}

/// A record to append to `_schemas` (a None value: a tombstone).
pub type Write = (Key, Option<Vec<u8>>);

/// Compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_uppercase().as_str() {
            "NONE" => Level::None,
            "BACKWARD" => Level::Backward,
            "BACKWARD_TRANSITIVE" => Level::BackwardTransitive,
            "FORWARD" => Level::Forward,
            "FORWARD_TRANSITIVE" => Level::ForwardTransitive,
            "FULL" => Level::Full,
            "FULL_TRANSITIVE" => Level::FullTransitive,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    pub fn transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }
}

/// What a registration asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchema {
    pub schema_type: SchemaType,
    /// The canonical text (the caller parses and canonicalizes it).
    pub schema: String,
    pub references: Vec<Reference>,
}

impl NewSchema {
    /// Whether `v` holds this schema (type, canonical text, references).
    fn is(&self, v: &SchemaValue) -> bool {
        v.schema_type == self.schema_type
            && v.schema == self.schema
            && v.references == self.references
    }

    /// The new version `version` of `subject` holding this schema with `id`, and its record.
    fn registered(&self, subject: &str, id: i32, version: i32) -> Registered {
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: self.schema_type,
            references: self.references.clone(),
            schema: self.schema.clone(),
            deleted: false,
        };
        Registered {
            id,
            version,
            write: Some((
                Key::Schema {
                    subject: subject.to_string(),
                    version,
                },
                Some(value.encode()),
            )),
        }
    }
}

/// The outcome of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub id: i32,
    pub version: i32,
    /// The record to append (None: the schema was already a live version).
    pub write: Option<Write>,
}

#[derive(Debug, Default)]
pub struct Store {
    subjects: BTreeMap<String, BTreeMap<i32, SchemaValue>>,
    max_id: i32,
    configs: HashMap<Option<String>, Level>,
    modes: HashMap<Option<String>, String>,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Apply one `_schemas` record (replay, or a write once committed). Records that cannot
    /// be read are skipped, as Confluent's reader does.
    pub fn apply(&mut self, key: &Key, value: Option<&[u8]>) {
        match (key, value) {
            (Key::Schema { subject, version }, Some(v)) => {
                let Ok(v) = SchemaValue::decode(v) else {
                    return;
                };
                if &v.subject != subject || v.version != *version {
                    return;
                }
                self.max_id = self.max_id.max(v.id);
                self.subjects
                    .entry(subject.clone())
                    .or_default()
                    .insert(*version, v);
            }
            (Key::Schema { subject, version }, None) => {
                if let Some(vs) = self.subjects.get_mut(subject) {
                    vs.remove(version);
                    if vs.is_empty() {
                        self.subjects.remove(subject);
                    }
                }
            }
            (Key::Config { subject }, v) => {
                match v.map(|v| decode_setting(v, "compatibilityLevel")) {
                    Some(Ok(l)) => {
                        if let Some(level) = Level::parse(&l) {
                            self.configs.insert(subject.clone(), level);
                        }
                    }
                    Some(Err(_)) => {}
                    None => {
                        self.configs.remove(subject);
                    }
                }
            }
            (Key::Mode { subject }, v) => match v.map(|v| decode_setting(v, "mode")) {
                Some(Ok(m)) => {
                    self.modes.insert(subject.clone(), m.to_ascii_uppercase());
                }
                Some(Err(_)) => {}
                None => {
                    self.modes.remove(subject);
                }
            },
            (Key::DeleteSubject { subject }, Some(v)) => {
                let Ok(upto) = decode_delete_subject(v) else {
                    return;
                };
                if let Some(vs) = self.subjects.get_mut(subject) {
                    for (_, s) in vs.range_mut(..=upto) {
                        s.deleted = true;
                    }
                }
            }
            _ => {}
        }
    }

    /// Subjects with a live version (or any version, with `deleted`).
    pub fn subjects(&self, deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, vs)| deleted || vs.values().any(|v| !v.deleted))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The versions of `subject` (live ones, or all with `deleted`).
    pub fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, RegistryError> {
        let vs: Vec<i32> = self
            .subjects
            .get(subject)
            .map(|vs| {
                vs.values()
                    .filter(|v| deleted || !v.deleted)
                    .map(|v| v.version)
                    .collect()
            })
            .unwrap_or_default();
        if vs.is_empty() {
            return Err(subject_not_found(subject));
        }
        Ok(vs)
    }

    /// Version `version` of `subject` (-1: the latest live one).
    pub fn version(
        &self,
        subject: &str,
        version: i32,
        deleted: bool,
    ) -> Result<&SchemaValue, RegistryError> {
        let vs = self
            .subjects
            .get(subject)
            .filter(|vs| vs.values().any(|v| deleted || !v.deleted))
            .ok_or_else(|| subject_not_found(subject))?;
        let found = if version == -1 {
            vs.values().rev().find(|v| deleted || !v.deleted)
        } else {
            vs.get(&version).filter(|v| deleted || !v.deleted)
        };
        found.ok_or_else(|| {
            version_not_found(&if version == -1 {
                "latest".to_string()
            } else {
                version.to_string()
            })
        })
    }

    /// The schema with id `id` (from any version that still holds it).
    pub fn by_id(&self, id: i32) -> Option<&SchemaValue> {
        self.subjects
            .values()
            .flat_map(|vs| vs.values())
            .find(|v| v.id == id)
    }

    /// (subject, version) of every version with id `id`.
    pub fn versions_of_id(&self, id: i32, deleted: bool) -> Vec<(String, i32)> {
        self.subjects
            .values()
            .flat_map(|vs| vs.values())
            .filter(|v| v.id == id && (deleted || !v.deleted))
            .map(|v| (v.subject.clone(), v.version))
            .collect()
    }

    /// The ids of live schemas that reference `subject` version `version`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .subjects
            .values()
            .flat_map(|vs| vs.values())
            .filter(|v| {
                !v.deleted
                    && v.references
                        .iter()
                        .any(|r| r.subject == subject && r.version == version)
            })
            .map(|v| v.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The compatibility level in force for `subject`: its own, else the global one, else
    /// BACKWARD (Confluent's default).
    pub fn level(&self, subject: Option<&str>) -> Level {
        subject
            .and_then(|s| self.configs.get(&Some(s.to_string())))
            .or_else(|| self.configs.get(&None))
            .copied()
            .unwrap_or(Level::Backward)
    }

    /// The configured level of `subject` (None: the global one), if set.
    pub fn config(&self, subject: Option<&str>) -> Option<Level> {
        self.configs.get(&subject.map(str::to_string)).copied()
    }

    /// The mode in force for `subject` (READWRITE by default).
    pub fn mode(&self, subject: Option<&str>) -> String {
        subject
            .and_then(|s| self.modes.get(&Some(s.to_string())))
            .or_else(|| self.modes.get(&None))
            .cloned()
            .unwrap_or_else(|| "READWRITE".to_string())
    }

    /// Register `new` under `subject`. `compatible` gets the live versions to check against
    /// (per the subject's level) and answers the incompatibilities found.
    pub fn register(
        &self,
        subject: &str,
        new: &NewSchema,
        compatible: impl FnOnce(Level, &[&SchemaValue]) -> Result<(), Vec<String>>,
    ) -> Result<Registered, RegistryError> {
        let mode = self.mode(Some(subject));
        if mode != "READWRITE" && mode != "FORWARD" {
            return Err(err(
                422,
                42205,
                format!("Subject {subject} is not in read-write mode"),
            ));
        }
        let same = |v: &SchemaValue| new.is(v);
        let versions = self.subjects.get(subject);
        if let Some(v) = versions.and_then(|vs| vs.values().find(|v| !v.deleted && same(v))) {
            return Ok(Registered {
                id: v.id,
                version: v.version,
                write: None,
            });
        }
        let live: Vec<&SchemaValue> = versions
            .map(|vs| vs.values().filter(|v| !v.deleted).collect())
            .unwrap_or_default();
        let level = self.level(Some(subject));
        if level != Level::None && !live.is_empty() {
            let against: Vec<&SchemaValue> = if level.transitive() {
                live.clone()
            } else {
                live.last().copied().into_iter().collect()
            };
            if let Err(messages) = compatible(level, &against) {
                let mut details: Vec<String> = messages;
                details.push(format!(
                    "{{validateFields: 'false', compatibility: '{}'}}",
                    level.name()
                ));
                return Err(err(
                    409,
                    409,
                    format!(
                        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                        details.join(", ")
                    ),
                ));
            }
        }
        let id = self
            .subjects
            .values()
            .flat_map(|vs| vs.values())
            .find(|v| same(v))
            .map_or(self.max_id.saturating_add(1), |v| v.id);
        let version = versions
            .and_then(|vs| vs.keys().next_back().copied())
            .unwrap_or(0)
            .saturating_add(1);
        Ok(new.registered(subject, id, version))
    }

    /// Register `new` under `subject` with the id (and version) it had elsewhere: IMPORT mode
    /// (moving schemas between registries). No compatibility check; the id may not name
    /// another schema, nor the version another one of the subject (42207).
    pub fn import(
        &self,
        subject: &str,
        new: &NewSchema,
        id: i32,
        version: Option<i32>,
    ) -> Result<Registered, RegistryError> {
        if self.mode(Some(subject)) != "IMPORT" {
            return Err(err(
                422,
                42205,
                format!("Subject {subject} is not in import mode"),
            ));
        }
        if id < 1 {
            return Err(err(422, 42207, format!("Invalid schema id {id}")));
        }
        let same = |v: &SchemaValue| new.is(v);
        if let Some(other) = self.by_id(id) {
            if !same(other) {
                return Err(err(
                    422,
                    42207,
                    format!("Overwrite new schema with id {id} is not permitted."),
                ));
            }
        }
        let versions = self.subjects.get(subject);
        let version = match version {
            Some(v) if v >= 1 => v,
            Some(v) => return Err(version_not_found(&v.to_string())),
            None => versions
                .and_then(|vs| vs.keys().next_back().copied())
                .unwrap_or(0)
                .saturating_add(1),
        };
        if let Some(existing) = versions.and_then(|vs| vs.get(&version)) {
            if existing.id == id && same(existing) && !existing.deleted {
                return Ok(Registered {
                    id,
                    version,
                    write: None,
                });
            }
            return Err(err(
                422,
                42207,
                format!("Overwrite new schema with version {version} of subject {subject} is not permitted."),
            ));
        }
        Ok(new.registered(subject, id, version))
    }

    /// DELETE /subjects/{s}/versions/{v} (-1: latest): the record to write and the version.
    pub fn delete_version(
        &self,
        subject: &str,
        version: i32,
        permanent: bool,
    ) -> Result<(i32, Write), RegistryError> {
        let v = self.version(subject, version, true)?;
        if version == -1 && v.deleted && !permanent {
            return Err(version_not_found("latest"));
        }
        let key = Key::Schema {
            subject: subject.to_string(),
            version: v.version,
        };
        if !self.referenced_by(subject, v.version).is_empty() {
            return Err(referenced(subject, v.version));
        }
        if permanent {
            if !v.deleted {
                return Err(err(
                    404,
                    40407,
                    format!(
                        "Subject '{subject}' Version {} was not deleted first before being permanently deleted",
                        v.version
                    ),
                ));
            }
            return Ok((v.version, (key, None)));
        }
        if v.deleted {
            return Err(err(
                404,
                40406,
                format!(
                    "Subject '{subject}' Version {} was soft deleted.Set permanent=true to delete permanently",
                    v.version
                ),
            ));
        }
        let value = SchemaValue {
            deleted: true,
            ..v.clone()
        };
        Ok((v.version, (key, Some(value.encode()))))
    }

    /// DELETE /subjects/{s}: the versions deleted and the records to write.
    pub fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<(Vec<i32>, Vec<Write>), RegistryError> {
        let vs = self
            .subjects
            .get(subject)
            .filter(|vs| !vs.is_empty())
            .ok_or_else(|| subject_not_found(subject))?;
        for v in vs.values().filter(|v| !v.deleted || permanent) {
            if self.referenced_by(subject, v.version).iter().any(|id| {
                self.versions_of_id(*id, false)
                    .iter()
                    .any(|(s, _)| s != subject)
            }) {
                return Err(err(
                    422,
                    42206,
                    format!(
                        "One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={}}}.",
                        v.version
                    ),
                ));
            }
        }
        let live: Vec<i32> = vs
            .values()
            .filter(|v| !v.deleted)
            .map(|v| v.version)
            .collect();
        if permanent {
            if !live.is_empty() {
                return Err(err(
                    404,
                    40405,
                    format!("Subject '{subject}' was not deleted first before being permanently deleted"),
                ));
            }
            let mut writes: Vec<Write> = vs
                .keys()
                .rev()
                .map(|v| {
                    (
                        Key::Schema {
                            subject: subject.to_string(),
                            version: *v,
                        },
                        None,
                    )
                })
                .collect();
            writes.push((
                Key::Config {
                    subject: Some(subject.to_string()),
                },
                None,
            ));
            writes.push((
                Key::Mode {
                    subject: Some(subject.to_string()),
                },
                None,
            ));
            return Ok((vs.keys().copied().collect(), writes));
        }
        let Some(&highest) = live.last() else {
            return Err(err(
                404,
                40404,
                format!(
                    "Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
                ),
            ));
        };
        let write = (
            Key::DeleteSubject {
                subject: subject.to_string(),
            },
            Some(encode_delete_subject(subject, highest)),
        );
        Ok((live, vec![write]))
    }

    /// POST /subjects/{s} (lookup): the version of `subject` holding `new` (soft-deleted ones
    /// too with `deleted`): 40401 for an unknown subject, 40403 when no version matches.
    pub fn lookup(
        &self,
        subject: &str,
        new: &NewSchema,
        deleted: bool,
    ) -> Result<&SchemaValue, RegistryError> {
        let vs = self
            .subjects
            .get(subject)
            .filter(|vs| vs.values().any(|v| deleted || !v.deleted))
            .ok_or_else(|| subject_not_found(subject))?;
        vs.values()
            .rev()
            .find(|v| (deleted || !v.deleted) && new.is(v))
            .ok_or_else(|| err(404, 40403, "Schema not found".to_string()))
    }

    /// Whether `subject` has any version, soft-deleted ones included.
    pub fn has_subject(&self, subject: &str) -> bool {
        self.subjects.get(subject).is_some_and(|vs| !vs.is_empty())
    }

    /// The mode set on `subject` itself (None: the global one), if any.
    pub fn mode_set(&self, subject: Option<&str>) -> Option<&str> {
        self.modes
            .get(&subject.map(str::to_string))
            .map(String::as_str)
    }

    /// PUT /mode[/{s}]: the record setting `mode` (already validated).
    pub fn set_mode(subject: Option<&str>, mode: &str) -> Write {
        (
            Key::Mode {
                subject: subject.map(str::to_string),
            },
            Some(encode_setting(subject, "mode", mode)),
        )
    }

    /// DELETE /config[/{s}] and DELETE /mode[/{s}]: the tombstone of the setting.
    pub fn clear_setting(subject: Option<&str>, mode: bool) -> Write {
        let subject = subject.map(str::to_string);
        let key = if mode {
            Key::Mode { subject }
        } else {
            Key::Config { subject }
        };
        (key, None)
    }

    /// PUT /config[/{s}]: the record setting `level`.
    pub fn set_config(subject: Option<&str>, level: Level) -> Write {
        (
            Key::Config {
                subject: subject.map(str::to_string),
            },
            Some(encode_setting(subject, "compatibilityLevel", level.name())),
        )
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
