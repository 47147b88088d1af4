//! The Schema Registry's REST API (`--schema-registry-listen`, default 127.0.0.1:8081):
//! Confluent's paths at the root, its bodies, status codes and error codes
//! (`{"error_code":…,"message":…}`), over the state [`Registry`] keeps in `_schemas`.
//! docs/schema-registry.md lists the endpoints and the differences from Confluent's.

use std::sync::Arc;

use futures::future::BoxFuture;
use hyper::Method;
use serde_json::{json, Value};

use super::{accepts, Request, Response, Service};
use crate::registry::records::{Reference, SchemaType, SchemaValue};
use crate::registry::resolve;
use crate::registry::schema;
use crate::registry::store::{Level, RegistryError, Store};
use crate::server::registry_runtime::Registry;

const V1: &str = "application/vnd.schemaregistry.v1+json";
/// The largest request body (a schema and its metadata).
const MAX_BODY: usize = 8 << 20;
/// The modes Confluent's registry knows.
const MODES: [&str; 5] = [
    "READWRITE",
    "READONLY",
    "READONLY_OVERRIDE",
    "IMPORT",
    "FORWARD",
];

pub struct RegistryService {
    pub registry: Arc<Registry>,
}

impl Service for RegistryService {
    fn call(&self, req: Request) -> BoxFuture<'static, Response> {
        let registry = Arc::clone(&self.registry);
        Box::pin(async move {
            let ct = if accepts(&req, V1) {
                V1
            } else {
                "application/json"
            };
            match route(&registry, &req).await {
                Ok((status, body)) => match body {
                    Body::Json(v) => Response::json(status, ct, &v),
                    Body::Raw(s) => Response::new(status, ct, s),
                },
                Err(e) => Response::error(e.status, e.code, &e.message, ct),
            }
        })
    }

    fn max_body(&self) -> usize {
        MAX_BODY
    }

    fn transport_error(&self, status: u16, message: &str) -> Response {
        Response::error(status, i32::from(status), message, V1)
    }
}

enum Body {
    Json(Value),
    /// A schema's text as the whole body (`…/schema` endpoints).
    Raw(String),
}

type Answer = Result<(u16, Body), RegistryError>;

fn err(status: u16, code: i32, message: impl Into<String>) -> RegistryError {
    RegistryError {
        status,
        code,
        message: message.into(),
    }
}

fn ok(v: Value) -> Answer {
    Ok((200, Body::Json(v)))
}

fn not_found() -> RegistryError {
    err(404, 404, "HTTP 404 Not Found")
}

fn method_not_allowed() -> RegistryError {
    err(405, 405, "HTTP 405 Method Not Allowed")
}

async fn route(registry: &Registry, req: &Request) -> Answer {
    let segs = req.segs();
    let m = &req.method;
    match segs.as_slice() {
        [] => match *m {
            Method::GET | Method::POST => ok(json!({})),
            _ => Err(method_not_allowed()),
        },
        ["schemas", "types"] => get(m, || ok(json!(schema::supported_types()))),
        ["schemas", "ids", id] => {
            let id = parse_id(id)?;
            only_get(m)?;
            let format = req.param("format").map(str::to_string);
            registry
                .read(|s| {
                    let v = s.by_id(id).ok_or_else(|| schema_not_found(id))?;
                    ok(schema_string(s, v, format.as_deref()))
                })
                .await
        }
        ["schemas", "ids", id, "schema"] => {
            let id = parse_id(id)?;
            only_get(m)?;
            let format = req.param("format").map(str::to_string);
            registry
                .read(|s| {
                    let v = s.by_id(id).ok_or_else(|| schema_not_found(id))?;
                    let text = formatted(s, v, format.as_deref());
                    Ok((200, Body::Raw(text)))
                })
                .await
        }
        ["schemas", "ids", id, what @ ("subjects" | "versions")] => {
            let id = parse_id(id)?;
            only_get(m)?;
            let deleted = req.flag("deleted", false);
            let subjects = *what == "subjects";
            registry
                .read(|s| {
                    if s.by_id(id).is_none() {
                        return Err(schema_not_found(id));
                    }
                    let mut found = s.versions_of_id(id, deleted);
                    found.sort();
                    if subjects {
                        let mut names: Vec<String> = found.into_iter().map(|(s, _)| s).collect();
                        names.dedup();
                        ok(json!(page(names, req)))
                    } else {
                        let list: Vec<Value> = found
                            .into_iter()
                            .map(|(s, v)| json!({"subject": s, "version": v}))
                            .collect();
                        ok(json!(page(list, req)))
                    }
                })
                .await
        }
        ["subjects"] => {
            only_get(m)?;
            let deleted = req.flag("deleted", false);
            let deleted_only = req.flag("deletedOnly", false) || req.flag("deleted_only", false);
            let prefix = req
                .param("subjectPrefix")
                .or_else(|| req.param("subject"))
                .unwrap_or("")
                .to_string();
            registry
                .read(|s| {
                    let live = s.subjects(false);
                    let names: Vec<String> = s
                        .subjects(deleted || deleted_only)
                        .into_iter()
                        .filter(|n| n.starts_with(&prefix))
                        .filter(|n| !deleted_only || !live.contains(n))
                        .collect();
                    ok(json!(page(names, req)))
                })
                .await
        }
        ["subjects", subject] => match *m {
            Method::POST => lookup(registry, req, subject).await,
            Method::DELETE => {
                let permanent = req.flag("permanent", false);
                let subject = subject.to_string();
                registry
                    .write(|s| {
                        check_not_readonly(s, &subject)?;
                        let (versions, writes) = s.delete_subject(&subject, permanent)?;
                        Ok((json!(versions), writes))
                    })
                    .await
                    .and_then(ok)
            }
            _ => Err(method_not_allowed()),
        },
        ["subjects", subject, "versions"] => match *m {
            Method::GET => {
                let deleted = req.flag("deleted", false);
                let deleted_only =
                    req.flag("deletedOnly", false) || req.flag("deleted_only", false);
                let negative = req.flag("deletedAsNegative", false);
                registry
                    .read(|s| {
                        let all = s.versions(subject, true)?;
                        let live = s.versions(subject, false).unwrap_or_default();
                        let list: Vec<i32> = if deleted_only {
                            all.into_iter().filter(|v| !live.contains(v)).collect()
                        } else if deleted || negative {
                            all.into_iter()
                                .map(|v| {
                                    if negative && !live.contains(&v) {
                                        -v
                                    } else {
                                        v
                                    }
                                })
                                .filter(|v| deleted || live.contains(v) || *v < 0)
                                .collect()
                        } else if live.is_empty() {
                            return Err(crate::registry::store::subject_not_found(subject));
                        } else {
                            live
                        };
                        ok(json!(page(list, req)))
                    })
                    .await
            }
            Method::POST => register(registry, req, subject).await,
            _ => Err(method_not_allowed()),
        },
        ["subjects", subject, "versions", version] => {
            let v = parse_version(version)?;
            match *m {
                Method::GET => {
                    let deleted = req.flag("deleted", false);
                    let format = req.param("format").map(str::to_string);
                    registry
                        .read(|s| {
                            let sv = s.version(subject, v, deleted)?;
                            ok(schema_entity(s, sv, format.as_deref()))
                        })
                        .await
                }
                Method::DELETE => {
                    let permanent = req.flag("permanent", false);
                    let subject = subject.to_string();
                    registry
                        .write(|s| {
                            check_not_readonly(s, &subject)?;
                            let (version, write) = s.delete_version(&subject, v, permanent)?;
                            Ok((json!(version), vec![write]))
                        })
                        .await
                        .and_then(ok)
                }
                _ => Err(method_not_allowed()),
            }
        }
        ["subjects", subject, "versions", version, "schema"] => {
            let v = parse_version(version)?;
            only_get(m)?;
            let deleted = req.flag("deleted", false);
            let format = req.param("format").map(str::to_string);
            registry
                .read(|s| {
                    let sv = s.version(subject, v, deleted)?;
                    Ok((200, Body::Raw(formatted(s, sv, format.as_deref()))))
                })
                .await
        }
        ["subjects", subject, "versions", version, "referencedby"] => {
            let v = parse_version(version)?;
            only_get(m)?;
            registry
                .read(|s| {
                    let sv = s.version(subject, v, true)?;
                    ok(json!(page(s.referenced_by(subject, sv.version), req)))
                })
                .await
        }
        ["config"] => config(registry, req, None).await,
        ["config", subject] => config(registry, req, Some(subject)).await,
        ["mode"] => mode(registry, req, None).await,
        ["mode", subject] => mode(registry, req, Some(subject)).await,
        ["compatibility", "subjects", subject, "versions"] => {
            compatibility(registry, req, subject, None).await
        }
        ["compatibility", "subjects", subject, "versions", version] => {
            let v = parse_version(version)?;
            compatibility(registry, req, subject, Some(v)).await
        }
        ["contexts"] => get(m, || ok(json!(["."]))),
        // confluent-kafka's default subject-name strategy asks for associations first; there
        // are none here (an empty list makes it fall back to `<topic>-key|value`).
        ["associations", "resources", _namespace, _resource] => get(m, || ok(json!([]))),
        _ => Err(not_found()),
    }
}

fn get(m: &Method, f: impl FnOnce() -> Answer) -> Answer {
    only_get(m)?;
    f()
}

fn only_get(m: &Method) -> Result<(), RegistryError> {
    if *m == Method::GET {
        Ok(())
    } else {
        Err(method_not_allowed())
    }
}

fn schema_not_found(id: i32) -> RegistryError {
    err(404, 40403, format!("Schema {id} not found"))
}

fn parse_id(s: &str) -> Result<i32, RegistryError> {
    s.trim().parse::<i32>().map_err(|_| not_found())
}

/// A version path parameter: `latest` (any case) is -1, else 1..=2^31-1 or -1 (42202).
fn parse_version(s: &str) -> Result<i32, RegistryError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("latest") {
        return Ok(-1);
    }
    match t.parse::<i32>() {
        Ok(v) if v >= 1 || v == -1 => Ok(v),
        _ => Err(err(
            422,
            42202,
            format!(
                "The specified version '{s}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
            ),
        )),
    }
}

/// Confluent's subject rule: no ISO control characters, not its reserved names.
fn check_subject(subject: &str) -> Result<(), RegistryError> {
    if subject.chars().any(char::is_control) || subject == "__GLOBAL" || subject == "__EMPTY" {
        return Err(err(
            422,
            42208,
            format!("The specified subject '{subject}' is not a valid."),
        ));
    }
    Ok(())
}

/// `offset` and `limit` query parameters (limit -1 or absent: all).
fn page<T>(items: Vec<T>, req: &Request) -> Vec<T> {
    let offset = req
        .param("offset")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let limit = req
        .param("limit")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|l| *l >= 0)
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    items.into_iter().skip(offset).take(limit).collect()
}

fn references_json(refs: &[Reference]) -> Value {
    Value::Array(
        refs.iter()
            .map(|r| json!({"name": r.name, "subject": r.subject, "version": r.version}))
            .collect(),
    )
}

/// The stored text of `v` in the asked format.
fn formatted(s: &Store, v: &SchemaValue, format: Option<&str>) -> String {
    let Some(f) = format.filter(|f| !f.is_empty()) else {
        return v.schema.clone();
    };
    match resolve::deps(s, &v.references)
        .ok()
        .and_then(|deps| schema::parse(v.schema_type, &v.schema, &deps).ok())
    {
        Some((parsed, _)) => schema::format(&parsed, &v.schema, Some(f)),
        None => v.schema.clone(),
    }
}

/// `GET /schemas/ids/{id}`'s body (Confluent's SchemaString).
fn schema_string(s: &Store, v: &SchemaValue, format: Option<&str>) -> Value {
    let mut o = json!({
        "schemaType": v.schema_type.name(),
        "schema": formatted(s, v, format),
    });
    if !v.references.is_empty() {
        o["references"] = references_json(&v.references);
    }
    o
}

/// A subject version's body (Confluent's Schema entity).
fn schema_entity(s: &Store, v: &SchemaValue, format: Option<&str>) -> Value {
    let mut o = json!({
        "subject": v.subject,
        "version": v.version,
        "id": v.id,
        "schemaType": v.schema_type.name(),
        "schema": formatted(s, v, format),
    });
    if !v.references.is_empty() {
        o["references"] = references_json(&v.references);
    }
    if v.deleted {
        o["deleted"] = json!(true);
    }
    o
}

/// The schema a register / lookup / compatibility request carries (not yet parsed).
struct Submitted {
    schema_type: SchemaType,
    text: String,
    references: Vec<Reference>,
    /// IMPORT mode: the id (and version) the schema keeps.
    id: Option<i32>,
    version: Option<i32>,
}

fn submitted(req: &Request) -> Result<Submitted, RegistryError> {
    let body: Value = serde_json::from_slice(&req.body).map_err(|e| {
        err(
            400,
            400,
            format!("Unexpected character or end of input in the request body: {e}"),
        )
    })?;
    let Value::Object(o) = body else {
        return Err(err(422, 422, "The request body must be a JSON object"));
    };
    let schema_type = match o.get("schemaType") {
        None | Some(Value::Null) => SchemaType::Avro,
        Some(Value::String(t)) => SchemaType::parse(t)
            .filter(|t| schema::supported_types().contains(&t.name()))
            .ok_or_else(|| err(422, 42201, format!("Invalid schema type {t}")))?,
        Some(_) => return Err(err(422, 422, "schemaType must be a string")),
    };
    let text = match o.get("schema") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(err(422, 42201, "Empty schema"))
        }
        Some(_) => return Err(err(422, 422, "schema must be a string")),
    };
    let mut references = Vec::new();
    match o.get("references") {
        None | Some(Value::Null) => {}
        Some(Value::Array(refs)) => {
            for r in refs {
                let name = r.get("name").and_then(Value::as_str);
                let subject = r.get("subject").and_then(Value::as_str);
                let version = r.get("version").and_then(Value::as_i64);
                let (Some(name), Some(subject), Some(version)) = (name, subject, version) else {
                    return Err(err(
                        422,
                        42201,
                        "Invalid schema: a reference needs a name, a subject and a version",
                    ));
                };
                references.push(Reference {
                    name: name.to_string(),
                    subject: subject.to_string(),
                    version: i32::try_from(version).unwrap_or(-1),
                });
            }
        }
        Some(_) => return Err(err(422, 422, "references must be a list")),
    }
    let int = |name: &str| {
        o.get(name)
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
    };
    Ok(Submitted {
        schema_type,
        text,
        references,
        // Clients may send 0 or -1 for "none".
        id: int("id").filter(|i| *i > 0),
        version: int("version"),
    })
}

async fn register(registry: &Registry, req: &Request, subject: &str) -> Answer {
    check_subject(subject)?;
    let sub = submitted(req)?;
    let force = req.flag("force", false);
    let subject = subject.to_string();
    let registered = registry
        .write(|s| {
            let (parsed, new) = resolve::prepare(s, sub.schema_type, &sub.text, &sub.references)?;
            if let Some(id) = sub.id {
                let r = s.import(&subject, &new, id, sub.version)?;
                let writes = r.write.clone().into_iter().collect();
                return Ok((r, writes));
            }
            let r = s.register(&subject, &new, |level, olds| {
                if force {
                    return Ok(());
                }
                resolve::check_against(s, level, &parsed, new.schema_type, olds)
            })?;
            let writes = r.write.clone().into_iter().collect();
            Ok((r, writes))
        })
        .await?;
    // Without the schema text: confluent-kafka caches the text it sent under the id.
    ok(json!({ "id": registered.id, "version": registered.version }))
}

async fn lookup(registry: &Registry, req: &Request, subject: &str) -> Answer {
    let sub = submitted(req)?;
    let deleted = req.flag("deleted", false);
    let format = req.param("format").map(str::to_string);
    registry
        .read(|s| {
            if s.versions(subject, deleted).is_err() {
                return Err(crate::registry::store::subject_not_found(subject));
            }
            let (_, new) = resolve::prepare(s, sub.schema_type, &sub.text, &sub.references)?;
            let v = s.lookup(subject, &new, deleted)?;
            ok(schema_entity(s, v, format.as_deref()))
        })
        .await
}

async fn compatibility(
    registry: &Registry,
    req: &Request,
    subject: &str,
    version: Option<i32>,
) -> Answer {
    if req.method != Method::POST {
        return Err(method_not_allowed());
    }
    let sub = submitted(req)?;
    let verbose = req.flag("verbose", false);
    registry
        .read(|s| {
            let (parsed, new) = resolve::prepare(s, sub.schema_type, &sub.text, &sub.references)?;
            let level = s.level(Some(subject));
            let olds: Vec<&SchemaValue> = match version {
                Some(v) => match s.version(subject, v, false) {
                    Ok(sv) => vec![sv],
                    // Nothing to be incompatible with.
                    Err(_) if v == -1 => Vec::new(),
                    Err(e) => return Err(e),
                },
                None => {
                    let live = s
                        .versions(subject, false)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|v| s.version(subject, v, false).ok())
                        .collect::<Vec<_>>();
                    if level.transitive() {
                        live
                    } else {
                        live.last().copied().into_iter().collect()
                    }
                }
            };
            let result = if level == Level::None {
                Ok(())
            } else {
                resolve::check_against(s, level, &parsed, new.schema_type, &olds)
            };
            let mut body = json!({ "is_compatible": result.is_ok() });
            if verbose {
                let mut messages = result.err().unwrap_or_default();
                if !messages.is_empty() {
                    messages.push(format!(
                        "{{validateFields: 'false', compatibility: '{}'}}",
                        level.name()
                    ));
                }
                body["messages"] = json!(messages);
            }
            ok(body)
        })
        .await
}

/// A JSON object body with a string field (`compatibility`, `mode`).
fn body_field(req: &Request, field: &str) -> Result<Option<String>, RegistryError> {
    let body: Value = serde_json::from_slice(&req.body).map_err(|e| {
        err(
            400,
            400,
            format!("Unexpected character or end of input in the request body: {e}"),
        )
    })?;
    Ok(body.get(field).and_then(Value::as_str).map(str::to_string))
}

async fn config(registry: &Registry, req: &Request, subject: Option<&str>) -> Answer {
    let subject_owned = subject.map(str::to_string);
    match req.method {
        Method::GET => {
            let default_to_global = req.flag("defaultToGlobal", false);
            registry
                .read(|s| {
                    let level = match subject {
                        None => s.level(None),
                        Some(sub) => match s.config(Some(sub)) {
                            Some(l) => l,
                            None if default_to_global => s.level(None),
                            None => {
                                return Err(err(
                                    404,
                                    40408,
                                    format!("Subject '{sub}' does not have subject-level compatibility configured"),
                                ))
                            }
                        },
                    };
                    ok(json!({ "compatibilityLevel": level.name() }))
                })
                .await
        }
        Method::PUT => {
            if let Some(sub) = subject {
                check_subject(sub)?;
            }
            let level = body_field(req, "compatibility")?
                .and_then(|l| Level::parse(l.trim()))
                .ok_or_else(|| {
                    err(422, 42203, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
                })?;
            registry
                .write(|_| {
                    Ok((
                        json!({ "compatibility": level.name() }),
                        vec![Store::set_config(subject_owned.as_deref(), level)],
                    ))
                })
                .await
                .and_then(ok)
        }
        Method::DELETE => registry
            .write(|s| {
                let previous = match subject_owned.as_deref() {
                    None => s.level(None),
                    Some(sub) => s
                        .config(Some(sub))
                        .ok_or_else(|| crate::registry::store::subject_not_found(sub))?,
                };
                Ok((
                    json!({ "compatibilityLevel": previous.name() }),
                    vec![Store::clear_setting(subject_owned.as_deref(), false)],
                ))
            })
            .await
            .and_then(ok),
        _ => Err(method_not_allowed()),
    }
}

async fn mode(registry: &Registry, req: &Request, subject: Option<&str>) -> Answer {
    let subject_owned = subject.map(str::to_string);
    match req.method {
        Method::GET => {
            let default_to_global = req.flag("defaultToGlobal", false);
            registry
                .read(|s| {
                    let mode = match subject {
                        None => s.mode(None),
                        Some(sub) => match s.mode_set(Some(sub)) {
                            Some(m) => m.to_string(),
                            None if default_to_global => s.mode(None),
                            None => {
                                return Err(err(
                                    404,
                                    40409,
                                    format!(
                                    "Subject '{sub}' does not have subject-level mode configured"
                                ),
                                ))
                            }
                        },
                    };
                    ok(json!({ "mode": mode }))
                })
                .await
        }
        Method::PUT => {
            if let Some(sub) = subject {
                check_subject(sub)?;
            }
            let mode = body_field(req, "mode")?
                .map(|m| m.trim().to_ascii_uppercase())
                .filter(|m| MODES.contains(&m.as_str()))
                .ok_or_else(|| {
                    err(
                        422,
                        42204,
                        "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT and FORWARD.",
                    )
                })?;
            let force = req.flag("force", false);
            registry
                .write(|s| {
                    if mode == "IMPORT" && !force {
                        let has = match subject_owned.as_deref() {
                            None => !s.subjects(true).is_empty(),
                            Some(sub) => s.has_subject(sub),
                        };
                        if has {
                            return Err(err(
                                422,
                                42205,
                                "Cannot import since found existing subjects",
                            ));
                        }
                    }
                    Ok((
                        json!({ "mode": mode }),
                        vec![Store::set_mode(subject_owned.as_deref(), &mode)],
                    ))
                })
                .await
                .and_then(ok)
        }
        Method::DELETE => registry
            .write(|s| {
                let previous = match subject_owned.as_deref() {
                    None => s.mode(None),
                    Some(sub) => s
                        .mode_set(Some(sub))
                        .map(str::to_string)
                        .ok_or_else(|| crate::registry::store::subject_not_found(sub))?,
                };
                Ok((
                    json!({ "mode": previous }),
                    vec![Store::clear_setting(subject_owned.as_deref(), true)],
                ))
            })
            .await
            .and_then(ok),
        _ => Err(method_not_allowed()),
    }
}

/// Deletes are refused in the read-only modes (42205).
fn check_not_readonly(s: &Store, subject: &str) -> Result<(), RegistryError> {
    let mode = s.mode(Some(subject));
    if mode == "READONLY" || mode == "READONLY_OVERRIDE" {
        return Err(err(
            422,
            42205,
            format!("Subject {subject} is in read-only mode"),
        ));
    }
    Ok(())
}
