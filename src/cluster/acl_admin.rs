//! CreateAcls and DeleteAcls through the active controller (their effect is in this node's
//! metadata, hence in its authorizer, when the call returns).

use std::sync::Arc;

use super::controller_rpc::{
    AclDeleteResult, ControllerRequest, ControllerResponse, NOT_CONTROLLER,
};
use super::Broker;
use crate::security::acl::{AclBinding, AclBindingFilter};

impl Broker {
    /// CreateAcls: per binding, (error code, message).
    pub async fn create_acls(
        self: &Arc<Self>,
        acls: Vec<AclBinding>,
    ) -> Vec<(i16, Option<String>)> {
        let n = acls.len();
        match self.ask(ControllerRequest::CreateAcls { acls }).await {
            Ok(ControllerResponse::AclsCreated(r)) if r.len() == n => r,
            Ok(other) => vec![(NOT_CONTROLLER, Some(format!("unexpected answer {other:?}"))); n],
            Err((code, m)) => vec![(code, Some(m)); n],
        }
    }

    /// DeleteAcls: per filter, the outcome.
    pub async fn delete_acls(
        self: &Arc<Self>,
        filters: Vec<AclBindingFilter>,
    ) -> Vec<AclDeleteResult> {
        let n = filters.len();
        let fail = |code: i16, message: String| AclDeleteResult {
            error_code: code,
            message: Some(message),
            matched: Vec::new(),
        };
        match self.ask(ControllerRequest::DeleteAcls { filters }).await {
            Ok(ControllerResponse::AclsDeleted(r)) if r.len() == n => r,
            Ok(other) => vec![fail(NOT_CONTROLLER, format!("unexpected answer {other:?}")); n],
            Err((code, m)) => vec![fail(code, m); n],
        }
    }
}
