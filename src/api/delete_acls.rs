//! DeleteAcls (key 31), v1–3: remove the stored ACL bindings each filter matches, through
//! the controller; each filter's result lists what it matched. Needs ALTER on the CLUSTER
//! (else CLUSTER_AUTHORIZATION_FAILED per filter); without an authorizer SECURITY_DISABLED.

use std::sync::Arc;

use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{ApiKey, DeleteAclsRequest, DeleteAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::acl_wire::{filter, s};
use super::authz::authz;
use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::security::acl::{AclBindingFilter, AclOperation};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DeleteAcls,
    min: 1,
    max: 3,
};

fn failed(code: i16, m: Option<String>) -> DeleteAclsFilterResult {
    DeleteAclsFilterResult::default()
        .with_error_code(code)
        .with_error_message(m.map(StrBytes::from_string))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: DeleteAclsRequest = req.decode(ApiKey::DeleteAcls)?;
    let az = authz(broker, &req);
    let refuse = |code: i16, m: &str| {
        let results = body
            .filters
            .iter()
            .map(|_| failed(code, Some(m.to_string())))
            .collect();
        req.respond(
            &DeleteAclsResponse::default()
                .with_throttle_time_ms(0)
                .with_filter_results(results),
        )
    };
    if let Some((code, message)) = az.acl_admin_refusal(AclOperation::Alter) {
        return refuse(code, message).map(Reply::Now);
    }
    let filters: Vec<AclBindingFilter> = body
        .filters
        .iter()
        .map(|f| {
            filter(
                f.resource_type_filter,
                &f.resource_name_filter,
                f.pattern_type_filter,
                &f.principal_filter,
                &f.host_filter,
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let answers = if filters.is_empty() {
            Vec::new()
        } else {
            broker.delete_acls(filters).await
        };
        let results = answers
            .into_iter()
            .map(|r| {
                if r.error_code != 0 {
                    return failed(r.error_code, r.message);
                }
                failed(0, None).with_matching_acls(
                    r.matched
                        .into_iter()
                        .map(|b| {
                            DeleteAclsMatchingAcl::default()
                                .with_error_code(0)
                                .with_resource_type(b.pattern.resource_type.code())
                                .with_resource_name(s(&b.pattern.name))
                                .with_pattern_type(b.pattern.pattern_type.code())
                                .with_principal(s(&b.entry.principal))
                                .with_host(s(&b.entry.host))
                                .with_operation(b.entry.operation.code())
                                .with_permission_type(b.entry.permission.code())
                        })
                        .collect(),
                )
            })
            .collect();
        req.respond(
            &DeleteAclsResponse::default()
                .with_throttle_time_ms(0)
                .with_filter_results(results),
        )
    })))
}
