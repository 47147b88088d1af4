//! ACLs as Kafka models them (`org.apache.kafka.common.acl` / `common.resource`): resource
//! types, pattern types, operations and permission types with their wire codes, an ACL
//! binding (resource pattern + access control entry) and the binding filters of
//! DescribeAcls / DeleteAcls with Kafka's matching rules (including MATCH pattern filters).
//!
//! Pure data, no I/O.

use serde::{Deserialize, Serialize};

/// The literal wildcard resource name (`ResourcePattern.WILDCARD_RESOURCE`).
pub const WILDCARD_RESOURCE: &str = "*";
/// The wildcard principal (`User:*`).
pub const WILDCARD_PRINCIPAL: &str = "User:*";
/// The wildcard host.
pub const WILDCARD_HOST: &str = "*";
/// The name of the CLUSTER resource (`Resource.CLUSTER_NAME`).
pub const CLUSTER_NAME: &str = "kafka-cluster";

macro_rules! coded_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:expr, $text:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL_VALUES: &'static [$name] = &[$($name::$variant,)*];

            /// The wire code.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The value of a wire code; an unknown code is `Unknown` (as Kafka's `fromCode`).
            pub fn from_code(code: i8) -> $name {
                match code {
                    $($code => $name::$variant,)*
                    _ => $name::Unknown,
                }
            }

            /// Kafka's name (`TOPIC`, `PREFIXED`, `READ`, `ALLOW`...).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// Parse Kafka's name, case-insensitively, `-` read as `_`.
            pub fn parse(s: &str) -> Option<$name> {
                let up = s.trim().to_ascii_uppercase().replace('-', "_");
                match up.as_str() {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

coded_enum!(
    /// Kafka's `ResourceType`.
    ResourceType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        User = 7, "USER";
    }
);

coded_enum!(
    /// Kafka's `PatternType`.
    PatternType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Match = 2, "MATCH";
        Literal = 3, "LITERAL";
        Prefixed = 4, "PREFIXED";
    }
);

coded_enum!(
    /// Kafka's `AclOperation`.
    AclOperation {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        All = 2, "ALL";
        Read = 3, "READ";
        Write = 4, "WRITE";
        Create = 5, "CREATE";
        Delete = 6, "DELETE";
        Alter = 7, "ALTER";
        Describe = 8, "DESCRIBE";
        ClusterAction = 9, "CLUSTER_ACTION";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "ALTER_CONFIGS";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        CreateTokens = 13, "CREATE_TOKENS";
        DescribeTokens = 14, "DESCRIBE_TOKENS";
    }
);

coded_enum!(
    /// Kafka's `AclPermissionType`.
    AclPermissionType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
);

impl ResourceType {
    /// The operations an ACL on this resource type can grant (Kafka's
    /// `AclEntry.supportedOperations`), what an authorized-operations field reports on.
    pub fn supported_operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Describe,
                Delete,
                Alter,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Describe, Delete],
            ResourceType::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            ResourceType::TransactionalId => &[Describe, Write],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
            _ => &[],
        }
    }
}

/// A resource pattern (`ResourcePattern`): type, name and how the name matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern_type: PatternType,
}

/// An access control entry (`AccessControlEntry`): who, from where, what, allow or deny.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessControlEntry {
    /// `Type:name`, e.g. `User:alice` or `User:*`.
    pub principal: String,
    /// An IP address or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

/// One ACL (`AclBinding`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// Why this binding cannot be stored (Kafka's `AclControlManager.validateNewAcl`), or None.
    pub fn validate(&self) -> Option<String> {
        match self.pattern.resource_type {
            ResourceType::Any | ResourceType::Unknown => {
                return Some(
                    "Invalid resourceType ".to_string() + self.pattern.resource_type.name(),
                )
            }
            _ => {}
        }
        match self.pattern.pattern_type {
            PatternType::Literal | PatternType::Prefixed => {}
            other => return Some(format!("Invalid patternType {other}")),
        }
        match self.entry.operation {
            AclOperation::Any | AclOperation::Unknown => {
                return Some(format!("Invalid operation {}", self.entry.operation))
            }
            _ => {}
        }
        match self.entry.permission {
            AclPermissionType::Deny | AclPermissionType::Allow => {}
            other => return Some(format!("Invalid permissionType {other}")),
        }
        if self.pattern.name.is_empty() {
            return Some("Resource name should not be empty".into());
        }
        if crate::security::KafkaPrincipal::parse(&self.entry.principal).is_none() {
            return Some(format!(
                "Could not parse principal from `{}` (no colon is present separating the principal type from the principal name)",
                self.entry.principal
            ));
        }
        if self.pattern.resource_type == ResourceType::Cluster && self.pattern.name != CLUSTER_NAME
        {
            return Some(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            ));
        }
        None
    }
}

/// A filter on resource patterns (`ResourcePatternFilter`); `None` name matches any name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcePatternFilter {
    pub resource_type: ResourceType,
    pub name: Option<String>,
    pub pattern_type: PatternType,
}

impl ResourcePatternFilter {
    /// Kafka's `ResourcePatternFilter.matches`: ANY pattern type matches equal names of any
    /// pattern type; MATCH matches the patterns that would apply to the named resource
    /// (equal literal, the `*` literal, prefixes of the name).
    pub fn matches(&self, p: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != p.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != p.pattern_type
        {
            return false;
        }
        let Some(name) = &self.name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == p.pattern_type {
            return *name == p.name;
        }
        match p.pattern_type {
            PatternType::Literal => *name == p.name || p.name == WILDCARD_RESOURCE,
            PatternType::Prefixed => name.starts_with(&p.name),
            _ => false,
        }
    }

    /// Why this filter is unusable (Kafka's `ResourcePatternFilter.findIndefiniteField` for
    /// UNKNOWN values), or None.
    pub fn indefinite(&self) -> Option<&'static str> {
        if self.resource_type == ResourceType::Unknown {
            return Some("Resource type is UNKNOWN.");
        }
        if self.pattern_type == PatternType::Unknown {
            return Some("Resource pattern type is UNKNOWN.");
        }
        None
    }
}

/// A filter on access control entries (`AccessControlEntryFilter`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessControlEntryFilter {
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

impl AccessControlEntryFilter {
    pub fn matches(&self, e: &AccessControlEntry) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == e.principal)
            && self.host.as_ref().is_none_or(|h| *h == e.host)
            && (self.operation == AclOperation::Any || self.operation == e.operation)
            && (self.permission == AclPermissionType::Any || self.permission == e.permission)
    }

    pub fn indefinite(&self) -> Option<&'static str> {
        if self.operation == AclOperation::Unknown {
            return Some("Operation is UNKNOWN.");
        }
        if self.permission == AclPermissionType::Unknown {
            return Some("Permission type is UNKNOWN.");
        }
        None
    }
}

/// A filter on bindings (`AclBindingFilter`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclBindingFilter {
    pub pattern: ResourcePatternFilter,
    pub entry: AccessControlEntryFilter,
}

impl AclBindingFilter {
    /// Everything.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: ResourceType::Any,
                name: None,
                pattern_type: PatternType::Any,
            },
            entry: AccessControlEntryFilter {
                principal: None,
                host: None,
                operation: AclOperation::Any,
                permission: AclPermissionType::Any,
            },
        }
    }

    pub fn matches(&self, b: &AclBinding) -> bool {
        self.pattern.matches(&b.pattern) && self.entry.matches(&b.entry)
    }

    /// Why the filter cannot be used (an UNKNOWN field), or None.
    pub fn indefinite(&self) -> Option<&'static str> {
        self.pattern
            .indefinite()
            .or_else(|| self.entry.indefinite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(t: ResourceType, n: &str) -> ResourcePattern {
        ResourcePattern {
            resource_type: t,
            name: n.into(),
            pattern_type: PatternType::Literal,
        }
    }

    fn pre(t: ResourceType, n: &str) -> ResourcePattern {
        ResourcePattern {
            resource_type: t,
            name: n.into(),
            pattern_type: PatternType::Prefixed,
        }
    }

    fn f(t: ResourceType, n: Option<&str>, p: PatternType) -> ResourcePatternFilter {
        ResourcePatternFilter {
            resource_type: t,
            name: n.map(str::to_string),
            pattern_type: p,
        }
    }

    #[test]
    fn codes_round_trip_and_match_kafka() {
        for op in AclOperation::ALL_VALUES {
            assert_eq!(AclOperation::from_code(op.code()), *op);
            assert_eq!(AclOperation::parse(op.name()), Some(*op));
        }
        assert_eq!(ResourceType::Topic.code(), 2);
        assert_eq!(ResourceType::TransactionalId.code(), 5);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclPermissionType::Allow.code(), 3);
        assert_eq!(AclOperation::from_code(99), AclOperation::Unknown);
        assert_eq!(
            AclOperation::parse("describe-configs"),
            Some(AclOperation::DescribeConfigs)
        );
    }

    #[test]
    fn pattern_filters_as_kafka() {
        use ResourceType::*;
        // ANY: exact names, any pattern type.
        assert!(f(Topic, Some("foo"), PatternType::Any).matches(&lit(Topic, "foo")));
        assert!(f(Topic, Some("foo"), PatternType::Any).matches(&pre(Topic, "foo")));
        assert!(!f(Topic, Some("foo"), PatternType::Any).matches(&lit(Topic, "*")));
        assert!(!f(Topic, Some("foobar"), PatternType::Any).matches(&pre(Topic, "foo")));
        // MATCH: what applies to the resource.
        let m = f(Topic, Some("foobar"), PatternType::Match);
        assert!(m.matches(&lit(Topic, "foobar")));
        assert!(m.matches(&lit(Topic, "*")));
        assert!(m.matches(&pre(Topic, "foo")));
        assert!(m.matches(&pre(Topic, "foobar")));
        assert!(!m.matches(&pre(Topic, "foobarx")));
        assert!(!m.matches(&lit(Topic, "foo")));
        assert!(!m.matches(&lit(Group, "foobar")));
        // Specific pattern type: exact.
        assert!(f(Topic, Some("foo"), PatternType::Prefixed).matches(&pre(Topic, "foo")));
        assert!(!f(Topic, Some("foo"), PatternType::Prefixed).matches(&lit(Topic, "foo")));
        // No name: any name.
        assert!(f(Any, None, PatternType::Literal).matches(&lit(Group, "g")));
        assert!(!f(Any, None, PatternType::Literal).matches(&pre(Group, "g")));
    }

    #[test]
    fn validation_refuses_what_kafka_refuses() {
        let ok = AclBinding {
            pattern: lit(ResourceType::Topic, "t"),
            entry: AccessControlEntry {
                principal: "User:a".into(),
                host: "*".into(),
                operation: AclOperation::Read,
                permission: AclPermissionType::Allow,
            },
        };
        assert_eq!(ok.validate(), None);
        let mut b = ok.clone();
        b.pattern.pattern_type = PatternType::Match;
        assert!(b.validate().is_some());
        let mut b = ok.clone();
        b.entry.operation = AclOperation::Any;
        assert!(b.validate().is_some());
        let mut b = ok.clone();
        b.entry.permission = AclPermissionType::Any;
        assert!(b.validate().is_some());
        let mut b = ok.clone();
        b.pattern.resource_type = ResourceType::Any;
        assert!(b.validate().is_some());
        let mut b = ok;
        b.entry.principal = "alice".into();
        assert!(b.validate().is_some());
    }
}
