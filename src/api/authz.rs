//! Authorization checks for the API handlers, in one place: each handler asks
//! `authz(broker, &req)` once and then checks one operation on one resource per call, as
//! Kafka's `AuthHelper` does. Without an authorizer (`authorizer.class.name` unset) every
//! check passes and authorized-operations fields report every supported operation.

use std::sync::Arc;

use super::Request;
use crate::cluster::Broker;
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::security::authorizer::Authorizer;
use crate::security::KafkaPrincipal;

pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
pub const SECURITY_DISABLED: i16 = 54;

/// Who asks, from where, and the authorizer to ask (cheap to clone into a later reply).
#[derive(Clone)]
pub struct Authz {
    authorizer: Option<Arc<Authorizer>>,
    principal: Arc<KafkaPrincipal>,
    host: String,
}

/// The checks for one request.
pub fn authz(broker: &Broker, req: &Request) -> Authz {
    Authz {
        authorizer: broker.authorizer.clone(),
        principal: req.conn.principal(),
        host: req
            .conn
            .peer
            .map(|p| p.ip().to_string())
            .unwrap_or_default(),
    }
}

impl Authz {
    /// An authorizer is configured.
    pub fn enabled(&self) -> bool {
        self.authorizer.is_some()
    }

    pub fn allowed(&self, op: AclOperation, rtype: ResourceType, name: &str) -> bool {
        match &self.authorizer {
            None => true,
            Some(a) => {
                let ok = a.authorize(&self.principal, &self.host, op, rtype, name);
                if !ok {
                    // Kafka's authorizer logger says the same at INFO; here at DEBUG, as
                    // Metadata and the list APIs filter with denials that are no error.
                    tracing::debug!(
                        principal = %self.principal,
                        host = %self.host,
                        operation = ?op,
                        resource = ?rtype,
                        name,
                        "denied"
                    );
                }
                ok
            }
        }
    }

    pub fn topic(&self, op: AclOperation, name: &str) -> bool {
        self.allowed(op, ResourceType::Topic, name)
    }

    pub fn group(&self, op: AclOperation, name: &str) -> bool {
        self.allowed(op, ResourceType::Group, name)
    }

    pub fn cluster(&self, op: AclOperation) -> bool {
        self.allowed(op, ResourceType::Cluster, CLUSTER_NAME)
    }

    pub fn transactional_id(&self, op: AclOperation, name: &str) -> bool {
        self.allowed(op, ResourceType::TransactionalId, name)
    }

    /// May the principal perform `op` on some resource of the type (KIP-679)?
    pub fn any_of_type(&self, op: AclOperation, rtype: ResourceType) -> bool {
        match &self.authorizer {
            None => true,
            Some(a) => a.authorize_by_resource_type(&self.principal, &self.host, op, rtype),
        }
    }

    /// Kafka's authorized-operations bitfield for the resource.
    pub fn operations(&self, rtype: ResourceType, name: &str) -> i32 {
        match &self.authorizer {
            None => rtype
                .supported_operations()
                .iter()
                .fold(0, |bits, op| bits | (1 << op.code())),
            Some(a) => a.authorized_operations(&self.principal, &self.host, rtype, name),
        }
    }

    /// The topic error code when `op` on `name` is denied, else None.
    pub fn topic_error(&self, op: AclOperation, name: &str) -> Option<i16> {
        (!self.topic(op, name)).then_some(TOPIC_AUTHORIZATION_FAILED)
    }

    /// The group error code when `op` on `group` is denied, else None.
    pub fn group_error(&self, op: AclOperation, group: &str) -> Option<i16> {
        (!self.group(op, group)).then_some(GROUP_AUTHORIZATION_FAILED)
    }

    /// The cluster error code when `op` on the cluster is denied, else None.
    /// The refusal of an ACL admin request (Create/Describe/DeleteAcls need `op` on the
    /// cluster): SECURITY_DISABLED without an authorizer, else CLUSTER_AUTHORIZATION_FAILED
    /// when `op` is denied, with Kafka's messages.
    pub fn acl_admin_refusal(&self, op: AclOperation) -> Option<(i16, &'static str)> {
        if !self.enabled() {
            Some((SECURITY_DISABLED, "No Authorizer is configured."))
        } else if !self.cluster(op) {
            Some((
                CLUSTER_AUTHORIZATION_FAILED,
                "Cluster authorization failed.",
            ))
        } else {
            None
        }
    }

    pub fn cluster_error(&self, op: AclOperation) -> Option<i16> {
        (!self.cluster(op)).then_some(CLUSTER_AUTHORIZATION_FAILED)
    }

    /// The transactional-id error code when `op` on `id` is denied, else None.
    pub fn txn_error(&self, op: AclOperation, id: &str) -> Option<i16> {
        (!self.transactional_id(op, id)).then_some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    }

    /// Offset commits (OffsetCommit, TxnOffsetCommit): READ on the group, else every
    /// partition is GROUP_AUTHORIZATION_FAILED; then READ on each topic. Returns the allowed
    /// commits and the refused (topic, partition, code).
    pub fn commit_partitions(
        &self,
        group: &str,
        parts: Vec<crate::group::types::CommitPartition>,
    ) -> (
        Vec<crate::group::types::CommitPartition>,
        Vec<(String, i32, i16)>,
    ) {
        let group_denied = !self.group(AclOperation::Read, group);
        let mut ok = Vec::with_capacity(parts.len());
        let mut refused = Vec::new();
        for p in parts {
            if group_denied {
                refused.push((p.topic, p.partition, GROUP_AUTHORIZATION_FAILED));
            } else if !self.topic(AclOperation::Read, &p.topic) {
                refused.push((p.topic, p.partition, TOPIC_AUTHORIZATION_FAILED));
            } else {
                ok.push(p);
            }
        }
        (ok, refused)
    }

    /// A config resource (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs) by its
    /// wire type: TOPIC needs `op` on the topic, GROUP on the group, BROKER, BROKER_LOGGER
    /// and CLIENT_METRICS on the cluster. The error code when denied, else None.
    pub fn config_resource_error(
        &self,
        op: AclOperation,
        resource_type: i8,
        name: &str,
    ) -> Option<i16> {
        match resource_type {
            2 => self.topic_error(op, name),
            32 => self.group_error(op, name),
            4 | 8 | 16 => self.cluster_error(op),
            _ => None,
        }
    }
}
