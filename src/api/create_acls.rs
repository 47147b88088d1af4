//! CreateAcls (key 30), v1–3: store ACL bindings through the controller. Needs ALTER on the
//! CLUSTER (else CLUSTER_AUTHORIZATION_FAILED for every creation); without an authorizer
//! every creation is SECURITY_DISABLED, as Kafka answers. An invalid binding (ANY/UNKNOWN/
//! MATCH values, a bad principal) is INVALID_REQUEST with a message; an existing one succeeds.

use std::sync::Arc;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{ApiKey, CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::authz::authz;
use super::{ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;
use crate::security::acl::{
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, PatternType, ResourcePattern,
    ResourceType,
};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::CreateAcls,
    min: 1,
    max: 3,
};

fn result(code: i16, message: Option<String>) -> AclCreationResult {
    AclCreationResult::default()
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: CreateAclsRequest = req.decode(ApiKey::CreateAcls)?;
    let az = authz(broker, &req);
    let refuse = |code: i16, m: &str| {
        let results = body
            .creations
            .iter()
            .map(|_| result(code, Some(m.to_string())))
            .collect();
        req.respond(
            &CreateAclsResponse::default()
                .with_throttle_time_ms(0)
                .with_results(results),
        )
    };
    if let Some((code, message)) = az.acl_admin_refusal(AclOperation::Alter) {
        return refuse(code, message).map(Reply::Now);
    }
    let acls: Vec<AclBinding> = body
        .creations
        .iter()
        .map(|c| AclBinding {
            pattern: ResourcePattern {
                resource_type: ResourceType::from_code(c.resource_type),
                name: c.resource_name.as_str().to_string(),
                pattern_type: PatternType::from_code(c.resource_pattern_type),
            },
            entry: AccessControlEntry {
                principal: c.principal.as_str().to_string(),
                host: c.host.as_str().to_string(),
                operation: AclOperation::from_code(c.operation),
                permission: AclPermissionType::from_code(c.permission_type),
            },
        })
        .collect();
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let answers = if acls.is_empty() {
            Vec::new()
        } else {
            broker.create_acls(acls).await
        };
        let results = answers
            .into_iter()
            .map(|(code, m)| result(code, if code == 0 { None } else { m }))
            .collect();
        req.respond(
            &CreateAclsResponse::default()
                .with_throttle_time_ms(0)
                .with_results(results),
        )
    })))
}
