//! DescribeAcls (key 29), v1–3: the stored ACL bindings a filter matches, grouped by
//! resource pattern. Needs DESCRIBE on the CLUSTER (else CLUSTER_AUTHORIZATION_FAILED);
//! without an authorizer SECURITY_DISABLED; a filter with an UNKNOWN field INVALID_REQUEST.

use std::sync::Arc;

use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{ApiKey, DescribeAclsRequest, DescribeAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::acl_wire::{by_pattern, filter, s};
use super::authz::{authz, SECURITY_DISABLED};
use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::security::acl::AclOperation;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeAcls,
    min: 1,
    max: 3,
};

const INVALID_REQUEST: i16 = 42;

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let b: DescribeAclsRequest = req.decode(ApiKey::DescribeAcls)?;
    let az = authz(broker, &req);
    let error = |code: i16, m: &str| {
        req.respond(
            &DescribeAclsResponse::default()
                .with_throttle_time_ms(0)
                .with_error_code(code)
                .with_error_message(Some(StrBytes::from_string(m.to_string()))),
        )
    };
    if let Some((code, message)) = az.acl_admin_refusal(AclOperation::Describe) {
        return error(code, message).map(Reply::Now);
    }
    let Some(authorizer) = broker.authorizer.as_ref() else {
        return error(SECURITY_DISABLED, "No Authorizer is configured.").map(Reply::Now);
    };
    let f = filter(
        b.resource_type_filter,
        &b.resource_name_filter,
        b.pattern_type_filter,
        &b.principal_filter,
        &b.host_filter,
        b.operation,
        b.permission_type,
    );
    if let Some(m) = f.indefinite() {
        return error(INVALID_REQUEST, m).map(Reply::Now);
    }
    let matched = authorizer
        .bindings()
        .values()
        .filter(|acl| f.matches(acl))
        .cloned()
        .collect();
    let resources = by_pattern(matched)
        .into_iter()
        .map(|(p, acls)| {
            DescribeAclsResource::default()
                .with_resource_type(p.resource_type.code())
                .with_resource_name(s(&p.name))
                .with_pattern_type(p.pattern_type.code())
                .with_acls(
                    acls.into_iter()
                        .map(|a| {
                            AclDescription::default()
                                .with_principal(s(&a.entry.principal))
                                .with_host(s(&a.entry.host))
                                .with_operation(a.entry.operation.code())
                                .with_permission_type(a.entry.permission.code())
                        })
                        .collect(),
                )
        })
        .collect();
    req.respond(
        &DescribeAclsResponse::default()
            .with_throttle_time_ms(0)
            .with_error_code(0)
            .with_error_message(None)
            .with_resources(resources),
    )
    .map(Reply::Now)
}
