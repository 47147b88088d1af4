//! The authorizer: Kafka's `StandardAuthorizer` semantics as a pure function of the ACLs, the
//! `super.users` and `allow.everyone.if.no.acl.found`.
//!
//! For a principal, a client host, an operation and a resource (type + name):
//! 1. a super user is allowed everything;
//! 2. the ACLs that apply to the resource are those on its exact LITERAL name, on the LITERAL
//!    wildcard `*`, and PREFIXED ones whose name is a prefix of the resource name;
//! 3. if none exists (for any principal), the answer is `allow.everyone.if.no.acl.found`
//!    (default false: deny);
//! 4. an ACL applies to the request when its principal is the principal or `User:*`, its host
//!    the client's IP or `*`, and its operation the operation or ALL — an ALLOW of READ,
//!    WRITE, DELETE or ALTER also allows DESCRIBE, an ALLOW of ALTER_CONFIGS also allows
//!    DESCRIBE_CONFIGS (a DENY implies nothing);
//! 5. any applicable DENY denies; else any applicable ALLOW allows; else deny.
//!
//! [`Authorizer`] holds the configuration and the current ACL set (swapped in whole when the
//! metadata image changes); [`AclSet`] is the immutable index the checks read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use super::acl::{
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, PatternType, ResourceType,
    WILDCARD_HOST, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE,
};
use super::KafkaPrincipal;

/// The authorizer class names accepted by `authorizer.class.name` (all mean this authorizer).
pub const AUTHORIZER_CLASS_NAMES: &[&str] = &[
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
    "kafka.security.auth.SimpleAclAuthorizer",
    "skua.StandardAuthorizer",
];

/// The "authorized operations" value of a response field when the client did not ask
/// (Kafka's `Integer.MIN_VALUE`).
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// The authorizer's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// `super.users`: principals always allowed (`User:admin;User:broker`).
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`.
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerConfig {
    /// Parse `super.users` (semicolon-separated principals; blanks ignored).
    pub fn parse_super_users(s: &str) -> Vec<String> {
        s.split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The ACLs indexed by resource pattern (immutable; rebuilt when the ACLs change).
#[derive(Debug, Default, Clone)]
pub struct AclSet {
    by_pattern: HashMap<(ResourceType, PatternType, String), Vec<AccessControlEntry>>,
    /// Resource types that have at least one ACL (for `authorize_by_resource_type`).
    types: HashMap<ResourceType, usize>,
}

impl AclSet {
    pub fn new<'a>(acls: impl IntoIterator<Item = &'a AclBinding>) -> AclSet {
        let mut s = AclSet::default();
        for b in acls {
            s.by_pattern
                .entry((
                    b.pattern.resource_type,
                    b.pattern.pattern_type,
                    b.pattern.name.clone(),
                ))
                .or_default()
                .push(b.entry.clone());
            *s.types.entry(b.pattern.resource_type).or_default() += 1;
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.by_pattern.is_empty()
    }

    /// The ACL entries that apply to a resource: its literal name, the literal `*`, and
    /// every prefix pattern of its name.
    fn applicable<'a>(
        &'a self,
        rtype: ResourceType,
        name: &str,
    ) -> impl Iterator<Item = &'a AccessControlEntry> + 'a {
        let mut lists: Vec<&'a Vec<AccessControlEntry>> = Vec::new();
        let mut push = |pt: PatternType, n: &str| {
            if let Some(v) = self.by_pattern.get(&(rtype, pt, n.to_string())) {
                lists.push(v);
            }
        };
        push(PatternType::Literal, name);
        if name != WILDCARD_RESOURCE {
            push(PatternType::Literal, WILDCARD_RESOURCE);
        }
        for (i, _) in name.char_indices().skip(1) {
            push(PatternType::Prefixed, &name[..i]);
        }
        if !name.is_empty() {
            push(PatternType::Prefixed, name);
        }
        lists.into_iter().flatten()
    }
}

/// Does `acl` (already known to be on the resource) apply to this request?
fn entry_applies(acl: &AccessControlEntry, principal: &str, host: &str, op: AclOperation) -> bool {
    if acl.principal != principal && acl.principal != WILDCARD_PRINCIPAL {
        return false;
    }
    if acl.host != host && acl.host != WILDCARD_HOST {
        return false;
    }
    operation_applies(acl.operation, acl.permission, op)
}

/// Kafka's operation rule: ALL covers everything; an ALLOW of READ/WRITE/DELETE/ALTER covers
/// DESCRIBE and an ALLOW of ALTER_CONFIGS covers DESCRIBE_CONFIGS.
pub fn operation_applies(acl_op: AclOperation, perm: AclPermissionType, op: AclOperation) -> bool {
    use AclOperation::*;
    if acl_op == All || acl_op == op {
        return true;
    }
    if perm != AclPermissionType::Allow {
        return false;
    }
    match op {
        Describe => matches!(acl_op, Read | Write | Delete | Alter),
        DescribeConfigs => acl_op == AlterConfigs,
        _ => false,
    }
}

/// The decision for one request, as a pure function.
pub fn authorize(
    config: &AuthorizerConfig,
    acls: &AclSet,
    principal: &KafkaPrincipal,
    host: &str,
    op: AclOperation,
    rtype: ResourceType,
    name: &str,
) -> bool {
    let p = principal.to_string();
    if config.super_users.contains(&p) {
        return true;
    }
    let mut any = false;
    let mut allowed = false;
    for acl in acls.applicable(rtype, name) {
        any = true;
        if entry_applies(acl, &p, host, op) {
            match acl.permission {
                AclPermissionType::Deny => return false,
                AclPermissionType::Allow => allowed = true,
                _ => {}
            }
        }
    }
    if !any {
        return config.allow_everyone_if_no_acl_found;
    }
    allowed
}

/// Kafka's `Authorizer.authorizeByResourceType`: may the principal perform `op` on at least
/// one resource of the type (an ALLOW on a literal or prefixed pattern not covered by a DENY)?
pub fn authorize_by_resource_type(
    config: &AuthorizerConfig,
    acls: &AclSet,
    principal: &KafkaPrincipal,
    host: &str,
    op: AclOperation,
    rtype: ResourceType,
) -> bool {
    let p = principal.to_string();
    if config.super_users.contains(&p) {
        return true;
    }
    let applies = |e: &AccessControlEntry| {
        (e.principal == p || e.principal == WILDCARD_PRINCIPAL)
            && (e.host == host || e.host == WILDCARD_HOST)
            && (e.operation == op || e.operation == AclOperation::All)
    };
    let mut deny_lit: Vec<&str> = Vec::new();
    let mut deny_pre: Vec<&str> = Vec::new();
    let mut allow_lit: Vec<&str> = Vec::new();
    let mut allow_pre: Vec<&str> = Vec::new();
    for ((t, pt, name), entries) in &acls.by_pattern {
        if *t != rtype {
            continue;
        }
        for e in entries.iter().filter(|e| applies(e)) {
            let target = match (e.permission, pt) {
                (AclPermissionType::Deny, PatternType::Literal) => &mut deny_lit,
                (AclPermissionType::Deny, PatternType::Prefixed) => &mut deny_pre,
                (AclPermissionType::Allow, PatternType::Literal) => &mut allow_lit,
                (AclPermissionType::Allow, PatternType::Prefixed) => &mut allow_pre,
                _ => continue,
            };
            target.push(name.as_str());
        }
    }
    if deny_lit.contains(&WILDCARD_RESOURCE) {
        return false;
    }
    let denied_by_prefix = |n: &str| deny_pre.iter().any(|d| n.starts_with(d));
    if allow_pre.iter().any(|a| !denied_by_prefix(a)) {
        return true;
    }
    if allow_lit
        .iter()
        .any(|a| !deny_lit.contains(a) && (*a == WILDCARD_RESOURCE || !denied_by_prefix(a)))
    {
        return true;
    }
    config.allow_everyone_if_no_acl_found && !acls.types.contains_key(&rtype)
}

/// Kafka's authorized-operations bitfield: bit `op.code()` set for every supported operation
/// of the resource type the principal may perform.
pub fn authorized_operations(
    config: &AuthorizerConfig,
    acls: &AclSet,
    principal: &KafkaPrincipal,
    host: &str,
    rtype: ResourceType,
    name: &str,
) -> i32 {
    rtype
        .supported_operations()
        .iter()
        .filter(|op| authorize(config, acls, principal, host, **op, rtype, name))
        .fold(0i32, |bits, op| bits | (1 << op.code()))
}

/// The broker's authorizer: the configuration and the current ACLs.
#[derive(Debug)]
pub struct Authorizer {
    pub config: AuthorizerConfig,
    acls: RwLock<Arc<AclSet>>,
    /// The bindings the set was built from (to skip rebuilding an unchanged set).
    source: RwLock<Option<Arc<BTreeMap<Uuid, AclBinding>>>>,
}

impl Authorizer {
    pub fn new(config: AuthorizerConfig) -> Authorizer {
        Authorizer {
            config,
            acls: RwLock::new(Arc::new(AclSet::default())),
            source: RwLock::new(None),
        }
    }

    /// Replace the ACLs (from the metadata image); a no-op when `acls` is the same map.
    pub fn set_acls(&self, acls: &Arc<BTreeMap<Uuid, AclBinding>>) {
        let mut src = self.source.write().unwrap_or_else(|p| p.into_inner());
        if src.as_ref().is_some_and(|s| Arc::ptr_eq(s, acls)) {
            return;
        }
        let set = AclSet::new(acls.values());
        *self.acls.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        *src = Some(Arc::clone(acls));
    }

    /// The stored bindings (id → binding) the current index was built from.
    pub fn bindings(&self) -> Arc<BTreeMap<Uuid, AclBinding>> {
        self.source
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// The current ACL index.
    pub fn acls(&self) -> Arc<AclSet> {
        Arc::clone(&self.acls.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn authorize(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        op: AclOperation,
        rtype: ResourceType,
        name: &str,
    ) -> bool {
        authorize(&self.config, &self.acls(), principal, host, op, rtype, name)
    }

    pub fn authorize_by_resource_type(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        op: AclOperation,
        rtype: ResourceType,
    ) -> bool {
        authorize_by_resource_type(&self.config, &self.acls(), principal, host, op, rtype)
    }

    pub fn authorized_operations(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        rtype: ResourceType,
        name: &str,
    ) -> i32 {
        authorized_operations(&self.config, &self.acls(), principal, host, rtype, name)
    }
}

#[cfg(test)]
mod tests;
