//! The security pages: ACL bindings (DescribeAcls, CreateAcls, DeleteAcls) and SCRAM users
//! (DescribeUserScramCredentials, AlterUserScramCredentials), through the Kafka APIs a
//! client would use, so Kafka's validation and errors apply. As `kafka-configs.sh` and
//! `skua user create` do, the console picks the salt and salts the password itself; only
//! the salt and the salted password reach the broker, and the password is never logged nor
//! answered.

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest,
    DescribeUserScramCredentialsRequest,
};
use serde_json::{json, Value};

use super::api::{check, non_empty, str_bytes, ApiError, Ctx};
use super::topics::settle;
use crate::api::authz::SECURITY_DISABLED;
use crate::security::acl::{AclOperation, AclPermissionType, PatternType, ResourceType};
use crate::security::scram::{random_salt, ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};

/// One ACL binding, with Kafka's names, in the order the list sorts by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Binding {
    resource_type: ResourceType,
    resource_name: String,
    pattern_type: PatternType,
    principal: String,
    host: String,
    operation: AclOperation,
    permission: AclPermissionType,
}

impl Binding {
    fn json(&self) -> Value {
        json!({
            "resource_type": self.resource_type.name(),
            "resource_name": self.resource_name,
            "pattern_type": self.pattern_type.name(),
            "principal": self.principal,
            "host": self.host,
            "operation": self.operation.name(),
            "permission": self.permission.name(),
        })
    }

    /// A binding from a request body: every field named, `host` defaulting to `*`,
    /// `pattern_type` to LITERAL and `permission` to ALLOW. Kafka validates the rest (the
    /// principal's form, an operation the resource type does not take).
    fn from_body(body: &Value) -> Result<Binding, ApiError> {
        let text = |name: &str| -> Result<Option<&str>, ApiError> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
            }
        };
        let required = |name: &str| -> Result<&str, ApiError> {
            let v =
                text(name)?.ok_or_else(|| ApiError::bad_request(format!("{name} is required")))?;
            non_empty(v, name)
        };
        fn named<T: Copy + PartialEq>(
            field: &str,
            value: &str,
            parse: fn(&str) -> Option<T>,
            allowed: &[T],
            names: fn(T) -> &'static str,
        ) -> Result<T, ApiError> {
            match parse(value) {
                Some(v) if allowed.contains(&v) => Ok(v),
                _ => Err(ApiError::bad_request(format!(
                    "{field} {value:?} is not one of {}",
                    allowed
                        .iter()
                        .map(|v| names(*v))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
        let resource_type = named(
            "resource_type",
            required("resource_type")?,
            ResourceType::parse,
            &[
                ResourceType::Topic,
                ResourceType::Group,
                ResourceType::Cluster,
                ResourceType::TransactionalId,
                ResourceType::DelegationToken,
            ],
            ResourceType::name,
        )?;
        let pattern_type = named(
            "pattern_type",
            text("pattern_type")?.unwrap_or("LITERAL"),
            PatternType::parse,
            &[PatternType::Literal, PatternType::Prefixed],
            PatternType::name,
        )?;
        let ops: Vec<AclOperation> = AclOperation::ALL_VALUES
            .iter()
            .copied()
            .filter(|o| !matches!(o, AclOperation::Unknown | AclOperation::Any))
            .collect();
        let operation = named(
            "operation",
            required("operation")?,
            AclOperation::parse,
            &ops,
            AclOperation::name,
        )?;
        let permission = named(
            "permission",
            text("permission")?.unwrap_or("ALLOW"),
            AclPermissionType::parse,
            &[AclPermissionType::Allow, AclPermissionType::Deny],
            AclPermissionType::name,
        )?;
        Ok(Binding {
            resource_type,
            resource_name: required("resource_name")?.to_string(),
            pattern_type,
            principal: required("principal")?.to_string(),
            host: text("host")?.unwrap_or("*").to_string(),
            operation,
            permission,
        })
    }
}

/// Every binding (a DescribeAcls matching anything), sorted; None: no authorizer.
async fn bindings(ctx: &Ctx) -> Result<Option<Vec<Binding>>, ApiError> {
    let req = DescribeAclsRequest::default()
        .with_resource_type_filter(ResourceType::Any.code())
        .with_resource_name_filter(None)
        .with_pattern_type_filter(PatternType::Any.code())
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(AclOperation::Any.code())
        .with_permission_type(AclPermissionType::Any.code());
    let resp = ctx.call(3, req).await?;
    if resp.error_code == SECURITY_DISABLED {
        return Ok(None);
    }
    check(resp.error_code, resp.error_message.as_ref(), "DescribeAcls")?;
    let mut out = Vec::new();
    for r in &resp.resources {
        for a in &r.acls {
            out.push(Binding {
                resource_type: ResourceType::from_code(r.resource_type),
                resource_name: r.resource_name.as_str().to_string(),
                pattern_type: PatternType::from_code(r.pattern_type),
                principal: a.principal.as_str().to_string(),
                host: a.host.as_str().to_string(),
                operation: AclOperation::from_code(a.operation),
                permission: AclPermissionType::from_code(a.permission_type),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

/// `GET /api/acls`: `{"enabled": false, "acls": []}` when the broker has no authorizer.
pub async fn list_acls(ctx: &Ctx) -> Result<Value, ApiError> {
    Ok(match bindings(ctx).await? {
        None => json!({ "enabled": false, "acls": [] }),
        Some(list) => json!({
            "enabled": true,
            "acls": list.iter().map(Binding::json).collect::<Vec<_>>(),
        }),
    })
}

/// Whether this broker's view holds `b` (`present`) or no longer does.
async fn shows(ctx: &Ctx, b: &Binding, present: bool) -> Result<bool, ApiError> {
    let list = bindings(ctx).await?.unwrap_or_default();
    Ok(list.contains(b) == present)
}

/// `POST /api/acls` with one binding.
pub async fn create_acl(ctx: &Ctx, body: &Value) -> Result<Value, ApiError> {
    let b = Binding::from_body(body)?;
    let creation = AclCreation::default()
        .with_resource_type(b.resource_type.code())
        .with_resource_name(str_bytes(&b.resource_name))
        .with_resource_pattern_type(b.pattern_type.code())
        .with_principal(str_bytes(&b.principal))
        .with_host(str_bytes(&b.host))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission.code());
    let resp = ctx
        .call(
            3,
            CreateAclsRequest::default().with_creations(vec![creation]),
        )
        .await?;
    let r = resp
        .results
        .first()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "CreateAcls answered no result"))?;
    check(r.error_code, r.error_message.as_ref(), "create ACL")?;
    settle(|| shows(ctx, &b, true)).await?;
    Ok(json!({ "created": b.json() }))
}

/// `POST /api/acls/delete` with one exact binding: how many bindings went.
pub async fn delete_acl(ctx: &Ctx, body: &Value) -> Result<Value, ApiError> {
    let b = Binding::from_body(body)?;
    let filter = DeleteAclsFilter::default()
        .with_resource_type_filter(b.resource_type.code())
        .with_resource_name_filter(Some(str_bytes(&b.resource_name)))
        .with_pattern_type_filter(b.pattern_type.code())
        .with_principal_filter(Some(str_bytes(&b.principal)))
        .with_host_filter(Some(str_bytes(&b.host)))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission.code());
    let resp = ctx
        .call(3, DeleteAclsRequest::default().with_filters(vec![filter]))
        .await?;
    let r = resp
        .filter_results
        .first()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "DeleteAcls answered no result"))?;
    check(r.error_code, r.error_message.as_ref(), "delete ACL")?;
    let mut deleted = 0;
    for m in &r.matching_acls {
        check(m.error_code, m.error_message.as_ref(), "delete ACL")?;
        deleted += 1;
    }
    if deleted > 0 {
        settle(|| shows(ctx, &b, false)).await?;
    }
    Ok(json!({ "deleted": deleted }))
}

/// Every SCRAM user: (user, sorted (mechanism name, iterations)), sorted.
async fn users(ctx: &Ctx) -> Result<Vec<(String, Vec<(String, i32)>)>, ApiError> {
    let resp = ctx
        .call(
            0,
            DescribeUserScramCredentialsRequest::default().with_users(None),
        )
        .await?;
    check(
        resp.error_code,
        resp.error_message.as_ref(),
        "DescribeUserScramCredentials",
    )?;
    let mut out = Vec::new();
    for r in resp.results {
        let user = r.user.as_str().to_string();
        check(
            r.error_code,
            r.error_message.as_ref(),
            &format!("user {user}"),
        )?;
        let mut creds: Vec<(String, i32)> = r
            .credential_infos
            .iter()
            .map(|c| (ScramMechanism::name_of_type_id(c.mechanism), c.iterations))
            .collect();
        creds.sort();
        out.push((user, creds));
    }
    out.sort();
    Ok(out)
}

/// `GET /api/users`.
pub async fn list_users(ctx: &Ctx) -> Result<Value, ApiError> {
    let list = users(ctx).await?;
    Ok(Value::Array(
        list.iter()
            .map(|(user, creds)| {
                json!({
                    "user": user,
                    "credentials": creds
                        .iter()
                        .map(|(m, i)| json!({ "mechanism": m, "iterations": i }))
                        .collect::<Vec<_>>(),
                })
            })
            .collect(),
    ))
}

/// Whether this broker's view shows `user` with a `mechanism` credential of `iterations`
/// (Some), or without any `mechanism` credential (None).
async fn user_shows(
    ctx: &Ctx,
    user: &str,
    mechanism: ScramMechanism,
    iterations: Option<i32>,
) -> Result<bool, ApiError> {
    let list = users(ctx).await?;
    let cred = list
        .iter()
        .find(|(u, _)| u == user)
        .and_then(|(_, creds)| creds.iter().find(|(m, _)| m == mechanism.name()))
        .map(|(_, i)| *i);
    Ok(cred == iterations)
}

fn mechanism(name: &str) -> Result<ScramMechanism, ApiError> {
    ScramMechanism::from_name(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown SCRAM mechanism {name:?}: use SCRAM-SHA-256 or SCRAM-SHA-512"
        ))
    })
}

/// One AlterUserScramCredentials; Kafka's error for the user, if any.
async fn alter(
    ctx: &Ctx,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
    what: &str,
) -> Result<(), ApiError> {
    let req = AlterUserScramCredentialsRequest::default()
        .with_deletions(deletions)
        .with_upsertions(upsertions);
    let resp = ctx.call(0, req).await?;
    if resp.results.is_empty() {
        return Err(ApiError::new(
            500,
            "INTERNAL",
            "AlterUserScramCredentials answered no result",
        ));
    }
    for r in &resp.results {
        check(r.error_code, r.error_message.as_ref(), what)?;
    }
    Ok(())
}

/// `POST /api/users` with `{"user", "mechanism", "password", "iterations"?}`: create the
/// credential or replace it.
pub async fn upsert_user(ctx: &Ctx, body: &Value) -> Result<Value, ApiError> {
    let field = |name: &str| -> Result<&str, ApiError> {
        body.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("{name} (a string) is required")))
    };
    let user = non_empty(field("user")?, "the user name")?;
    let m = mechanism(field("mechanism")?)?;
    let password = field("password")?;
    if password.is_empty() {
        return Err(ApiError::bad_request("the password is empty"));
    }
    let iterations = match body.get("iterations") {
        None | Some(Value::Null) => MIN_ITERATIONS,
        Some(v) => v
            .as_i64()
            .filter(|n| (i64::from(MIN_ITERATIONS)..=i64::from(MAX_ITERATIONS)).contains(n))
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "iterations must be an integer from {MIN_ITERATIONS} to {MAX_ITERATIONS}"
                ))
            })?,
    };
    let salt = random_salt();
    let salted = m.salted_password(password.as_bytes(), &salt, iterations as u32);
    let upsertion = ScramCredentialUpsertion::default()
        .with_name(str_bytes(user))
        .with_mechanism(m.type_id())
        .with_iterations(iterations)
        .with_salt(salt.into())
        .with_salted_password(salted.into());
    alter(ctx, vec![], vec![upsertion], &format!("user {user}")).await?;
    settle(|| user_shows(ctx, user, m, Some(iterations))).await?;
    Ok(json!({ "user": user, "mechanism": m.name(), "iterations": iterations }))
}

/// `DELETE /api/users/NAME?mechanism=SCRAM-SHA-256`.
pub async fn delete_user(
    ctx: &Ctx,
    user: &str,
    mechanism_name: Option<&str>,
) -> Result<Value, ApiError> {
    non_empty(user, "the user name")?;
    let m = mechanism(mechanism_name.ok_or_else(|| {
        ApiError::bad_request("name the credential: ?mechanism=SCRAM-SHA-256 or SCRAM-SHA-512")
    })?)?;
    let deletion = ScramCredentialDeletion::default()
        .with_name(str_bytes(user))
        .with_mechanism(m.type_id());
    alter(ctx, vec![deletion], vec![], &format!("user {user}")).await?;
    settle(|| user_shows(ctx, user, m, None)).await?;
    Ok(json!({ "user": user, "mechanism": m.name(), "deleted": true }))
}
