//! Conversions between the ACL messages' wire fields and [`crate::security::acl`] types,
//! shared by CreateAcls, DescribeAcls and DeleteAcls.

use kafka_protocol::protocol::StrBytes;

use crate::security::acl::{
    AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
    PatternType, ResourcePatternFilter, ResourceType,
};

/// A filter from its wire fields.
#[allow(clippy::too_many_arguments)]
pub fn filter(
    resource_type: i8,
    name: &Option<StrBytes>,
    pattern_type: i8,
    principal: &Option<StrBytes>,
    host: &Option<StrBytes>,
    operation: i8,
    permission: i8,
) -> AclBindingFilter {
    AclBindingFilter {
        pattern: ResourcePatternFilter {
            resource_type: ResourceType::from_code(resource_type),
            name: name.as_ref().map(|s| s.as_str().to_string()),
            pattern_type: PatternType::from_code(pattern_type),
        },
        entry: AccessControlEntryFilter {
            principal: principal.as_ref().map(|s| s.as_str().to_string()),
            host: host.as_ref().map(|s| s.as_str().to_string()),
            operation: AclOperation::from_code(operation),
            permission: AclPermissionType::from_code(permission),
        },
    }
}

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// The bindings sorted as Kafka groups them in DescribeAcls: by resource pattern.
pub fn by_pattern(
    bindings: Vec<AclBinding>,
) -> Vec<(crate::security::acl::ResourcePattern, Vec<AclBinding>)> {
    let mut map: std::collections::BTreeMap<_, Vec<AclBinding>> = Default::default();
    for b in bindings {
        map.entry(b.pattern.clone()).or_default().push(b);
    }
    map.into_iter().collect()
}
