//! `skua acl add|list|remove`: ACLs over the Kafka protocol (CreateAcls, DescribeAcls,
//! DeleteAcls), with flags in the spirit of `kafka-acls.sh`.

use anyhow::{bail, Result};
use clap::Args;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};

use super::client::{check, str_bytes};
use super::output::{emit, table, Json};
use super::{Common, Output};
use crate::security::acl::{
    AclOperation, AclPermissionType, PatternType, ResourceType, CLUSTER_NAME,
};

/// The resources a command names.
#[derive(Args, Debug, Clone, Default)]
pub struct Resources {
    /// A topic (repeatable; `*` for all topics).
    #[arg(long)]
    pub topic: Vec<String>,
    /// A consumer group (repeatable; `*` for all groups).
    #[arg(long)]
    pub group: Vec<String>,
    /// A transactional id (repeatable; `*` for all).
    #[arg(long)]
    pub transactional_id: Vec<String>,
    /// The cluster.
    #[arg(long)]
    pub cluster: bool,
    /// literal or prefixed (add/remove), also any or match (list, remove). Default: literal
    /// for add, any for list and remove.
    #[arg(long)]
    pub resource_pattern_type: Option<String>,
}

impl Resources {
    fn list(&self) -> Vec<(ResourceType, String)> {
        let mut v = Vec::new();
        v.extend(self.topic.iter().map(|t| (ResourceType::Topic, t.clone())));
        v.extend(self.group.iter().map(|g| (ResourceType::Group, g.clone())));
        v.extend(
            self.transactional_id
                .iter()
                .map(|t| (ResourceType::TransactionalId, t.clone())),
        );
        if self.cluster {
            v.push((ResourceType::Cluster, CLUSTER_NAME.to_string()));
        }
        v
    }

    fn pattern_type(&self, default: PatternType) -> Result<PatternType> {
        match &self.resource_pattern_type {
            None => Ok(default),
            Some(p) => match PatternType::parse(p) {
                Some(t) if t != PatternType::Unknown => Ok(t),
                _ => bail!("unknown --resource-pattern-type {p:?} (literal, prefixed, any, match)"),
            },
        }
    }
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Principal to allow, e.g. User:alice (repeatable).
    #[arg(long)]
    pub allow_principal: Vec<String>,
    /// Principal to deny (repeatable).
    #[arg(long)]
    pub deny_principal: Vec<String>,
    /// Host the allow applies to (repeatable; default `*`).
    #[arg(long)]
    pub allow_host: Vec<String>,
    /// Host the deny applies to (repeatable; default `*`).
    #[arg(long)]
    pub deny_host: Vec<String>,
    /// Operation: Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, All (repeatable; default All).
    #[arg(long)]
    pub operation: Vec<String>,
    #[command(flatten)]
    pub resources: Resources,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only the ACLs of this principal.
    #[arg(long)]
    pub principal: Option<String>,
    #[command(flatten)]
    pub resources: Resources,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// Only the allow ACLs of these principals (repeatable).
    #[arg(long)]
    pub allow_principal: Vec<String>,
    /// Only the deny ACLs of these principals (repeatable).
    #[arg(long)]
    pub deny_principal: Vec<String>,
    /// Only these operations (repeatable; default any).
    #[arg(long)]
    pub operation: Vec<String>,
    #[command(flatten)]
    pub resources: Resources,
    #[command(flatten)]
    pub common: Common,
}

/// `Read`, `describe-configs`, `IdempotentWrite`... as an operation.
fn operation(s: &str) -> Result<AclOperation> {
    let snake: String = s
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let sep = (i > 0 && c.is_ascii_uppercase()).then_some('_');
            sep.into_iter().chain(std::iter::once(c))
        })
        .collect();
    match AclOperation::parse(s).or_else(|| AclOperation::parse(&snake)) {
        Some(op) if !matches!(op, AclOperation::Unknown | AclOperation::Any) => Ok(op),
        _ => bail!("unknown --operation {s:?}"),
    }
}

fn operations(v: &[String], default: AclOperation) -> Result<Vec<AclOperation>> {
    if v.is_empty() {
        return Ok(vec![default]);
    }
    v.iter().map(|s| operation(s)).collect()
}

fn principal_ok(p: &str) -> Result<()> {
    if crate::security::KafkaPrincipal::parse(p).is_none() {
        bail!("principal {p:?} must be Type:name, e.g. User:alice");
    }
    Ok(())
}

pub fn add(a: AddArgs) -> Result<()> {
    let resources = a.resources.list();
    if resources.is_empty() {
        bail!("name a resource: --topic, --group, --transactional-id or --cluster");
    }
    if a.allow_principal.is_empty() && a.deny_principal.is_empty() {
        bail!("name a principal: --allow-principal or --deny-principal");
    }
    let pattern = a.resources.pattern_type(PatternType::Literal)?;
    if !matches!(pattern, PatternType::Literal | PatternType::Prefixed) {
        bail!("add takes --resource-pattern-type literal or prefixed");
    }
    let ops = operations(&a.operation, AclOperation::All)?;
    let hosts = |h: &[String]| {
        if h.is_empty() {
            vec!["*".to_string()]
        } else {
            h.to_vec()
        }
    };
    let mut creations = Vec::new();
    let mut shown = Vec::new();
    for (perm, principals, hs) in [
        (
            AclPermissionType::Allow,
            &a.allow_principal,
            hosts(&a.allow_host),
        ),
        (
            AclPermissionType::Deny,
            &a.deny_principal,
            hosts(&a.deny_host),
        ),
    ] {
        for p in principals {
            principal_ok(p)?;
            for h in &hs {
                for (rt, name) in &resources {
                    for op in &ops {
                        creations.push(
                            AclCreation::default()
                                .with_resource_type(rt.code())
                                .with_resource_name(str_bytes(name))
                                .with_resource_pattern_type(pattern.code())
                                .with_principal(str_bytes(p))
                                .with_host(str_bytes(h))
                                .with_operation(op.code())
                                .with_permission_type(perm.code()),
                        );
                        shown.push(row(*rt, name, pattern, p, h, *op, perm));
                    }
                }
            }
        }
    }
    let mut cluster = a.common.connect()?;
    let conn = cluster.bootstrap();
    let v = conn.version::<CreateAclsRequest>(1, 3)?;
    let resp = conn.call(v, &CreateAclsRequest::default().with_creations(creations))?;
    for r in &resp.results {
        check(r.error_code, r.error_message.as_ref(), "create ACL")?;
    }
    print_rows(a.common.output, &shown, "added")
}

pub fn list(a: ListArgs) -> Result<()> {
    let pattern = a.resources.pattern_type(PatternType::Any)?;
    let mut filters: Vec<(ResourceType, Option<String>)> = a
        .resources
        .list()
        .into_iter()
        .map(|(t, n)| (t, Some(n)))
        .collect();
    if filters.is_empty() {
        filters.push((ResourceType::Any, None));
    }
    let mut cluster = a.common.connect()?;
    let conn = cluster.bootstrap();
    let v = conn.version::<DescribeAclsRequest>(1, 3)?;
    let mut rows = Vec::new();
    for (rt, name) in filters {
        let req = DescribeAclsRequest::default()
            .with_resource_type_filter(rt.code())
            .with_resource_name_filter(name.as_deref().map(str_bytes))
            .with_pattern_type_filter(pattern.code())
            .with_principal_filter(a.principal.as_deref().map(str_bytes))
            .with_host_filter(None)
            .with_operation(AclOperation::Any.code())
            .with_permission_type(AclPermissionType::Any.code());
        let resp = conn.call(v, &req)?;
        check(
            resp.error_code,
            resp.error_message.as_ref(),
            "describe ACLs",
        )?;
        for res in &resp.resources {
            for acl in &res.acls {
                rows.push(row(
                    ResourceType::from_code(res.resource_type),
                    res.resource_name.as_str(),
                    PatternType::from_code(res.pattern_type),
                    acl.principal.as_str(),
                    acl.host.as_str(),
                    AclOperation::from_code(acl.operation),
                    AclPermissionType::from_code(acl.permission_type),
                ));
            }
        }
    }
    rows.sort();
    rows.dedup();
    print_rows(a.common.output, &rows, "")
}

pub fn remove(a: RemoveArgs) -> Result<()> {
    let resources = a.resources.list();
    if resources.is_empty() {
        bail!("name a resource: --topic, --group, --transactional-id or --cluster");
    }
    let pattern = a.resources.pattern_type(PatternType::Any)?;
    let ops = operations(&a.operation, AclOperation::Any)?;
    let mut who: Vec<(AclPermissionType, Option<String>)> = Vec::new();
    for p in &a.allow_principal {
        principal_ok(p)?;
        who.push((AclPermissionType::Allow, Some(p.clone())));
    }
    for p in &a.deny_principal {
        principal_ok(p)?;
        who.push((AclPermissionType::Deny, Some(p.clone())));
    }
    if who.is_empty() {
        who.push((AclPermissionType::Any, None));
    }
    let mut filters = Vec::new();
    for (rt, name) in &resources {
        for (perm, p) in &who {
            for op in &ops {
                filters.push(
                    DeleteAclsFilter::default()
                        .with_resource_type_filter(rt.code())
                        .with_resource_name_filter(Some(str_bytes(name)))
                        .with_pattern_type_filter(pattern.code())
                        .with_principal_filter(p.as_deref().map(str_bytes))
                        .with_host_filter(None)
                        .with_operation(op.code())
                        .with_permission_type(perm.code()),
                );
            }
        }
    }
    let mut cluster = a.common.connect()?;
    let conn = cluster.bootstrap();
    let v = conn.version::<DeleteAclsRequest>(1, 3)?;
    let resp = conn.call(v, &DeleteAclsRequest::default().with_filters(filters))?;
    let mut rows = Vec::new();
    for f in &resp.filter_results {
        check(f.error_code, f.error_message.as_ref(), "delete ACLs")?;
        for m in &f.matching_acls {
            rows.push(row(
                ResourceType::from_code(m.resource_type),
                m.resource_name.as_str(),
                PatternType::from_code(m.pattern_type),
                m.principal.as_str(),
                m.host.as_str(),
                AclOperation::from_code(m.operation),
                AclPermissionType::from_code(m.permission_type),
            ));
        }
    }
    rows.sort();
    rows.dedup();
    print_rows(a.common.output, &rows, "removed")
}

type Row = [String; 7];

fn row(
    rt: ResourceType,
    name: &str,
    pt: PatternType,
    principal: &str,
    host: &str,
    op: AclOperation,
    perm: AclPermissionType,
) -> Row {
    [
        rt.name().to_string(),
        name.to_string(),
        pt.name().to_string(),
        principal.to_string(),
        host.to_string(),
        op.name().to_string(),
        perm.name().to_string(),
    ]
}

const HEADER: [&str; 7] = [
    "RESOURCE-TYPE",
    "NAME",
    "PATTERN",
    "PRINCIPAL",
    "HOST",
    "OPERATION",
    "PERMISSION",
];

fn print_rows(output: Output, rows: &[Row], verb: &str) -> Result<()> {
    match output {
        Output::Table => {
            let body: Vec<Vec<String>> = rows.iter().map(|r| r.to_vec()).collect();
            let mut out = String::new();
            if !verb.is_empty() {
                out.push_str(&format!("{verb} {} ACL(s)\n", rows.len()));
            }
            out.push_str(&table(&HEADER, &body));
            emit(&out)
        }
        Output::Json => {
            let items = rows
                .iter()
                .map(|r| {
                    Json::obj(
                        [
                            "resource_type",
                            "name",
                            "pattern_type",
                            "principal",
                            "host",
                            "operation",
                            "permission",
                        ]
                        .iter()
                        .zip(r.iter())
                        .map(|(k, v)| (*k, Json::str(v.as_str())))
                        .collect(),
                    )
                })
                .collect();
            emit(&format!("{}\n", Json::Arr(items).render()))
        }
    }
}
