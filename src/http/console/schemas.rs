//! The Schema Registry pages: its subjects and each subject's versions with their schema
//! text, as the registry's state (caught up with `_schemas`) holds them. Soft-deleted
//! versions are listed, marked.

use serde_json::{json, Value};

use super::api::{ApiError, Ctx};

/// `GET /api/schemas`: every subject with its latest live version.
pub async fn subjects(ctx: &Ctx) -> Value {
    ctx.registry
        .read(|s| {
            let live = s.subjects(false);
            let out: Vec<Value> = s
                .subjects(true)
                .into_iter()
                .map(|subject| {
                    let versions = s.versions(&subject, true).unwrap_or_default();
                    let latest = s.version(&subject, -1, false).ok();
                    json!({
                        "subject": subject,
                        "versions": versions.len(),
                        "latest_version": latest.map(|v| v.version),
                        "latest_id": latest.map(|v| v.id),
                        "schema_type": latest.map(|v| v.schema_type.name()),
                        "compatibility": s.level(Some(&subject)).name(),
                        "deleted": !live.contains(&subject),
                    })
                })
                .collect();
            json!({
                "compatibility": s.level(None).name(),
                "mode": s.mode(None),
                "subjects": out,
            })
        })
        .await
}

/// `GET /api/schemas/SUBJECT`: its versions, newest first.
pub async fn subject(ctx: &Ctx, subject: &str) -> Result<Value, ApiError> {
    let subject = subject.to_string();
    ctx.registry
        .read(|s| {
            let versions = s
                .versions(&subject, true)
                .map_err(|e| ApiError::new(e.status, "NOT_FOUND", e.message))?;
            let mut out: Vec<Value> = versions
                .iter()
                .filter_map(|v| s.version(&subject, *v, true).ok())
                .map(|v| {
                    json!({
                        "version": v.version,
                        "id": v.id,
                        "schema_type": v.schema_type.name(),
                        "schema": v.schema,
                        "references": v.references.iter().map(|r| json!({
                            "name": r.name, "subject": r.subject, "version": r.version,
                        })).collect::<Vec<_>>(),
                        "deleted": v.deleted,
                    })
                })
                .collect();
            out.reverse();
            Ok(json!({
                "subject": subject,
                "compatibility": s.level(Some(&subject)).name(),
                "mode": s.mode(Some(&subject)),
                "versions": out,
            }))
        })
        .await
}
