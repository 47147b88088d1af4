//! The authorizer as a pure function: examples of Kafka's rules and property tests.

use proptest::prelude::*;

use super::*;
use crate::security::acl::{AclBinding, ResourcePattern};

fn binding(
    rt: ResourceType,
    name: &str,
    pt: PatternType,
    principal: &str,
    host: &str,
    op: AclOperation,
    perm: AclPermissionType,
) -> AclBinding {
    AclBinding {
        pattern: ResourcePattern {
            resource_type: rt,
            name: name.into(),
            pattern_type: pt,
        },
        entry: AccessControlEntry {
            principal: principal.into(),
            host: host.into(),
            operation: op,
            permission: perm,
        },
    }
}

fn allow(rt: ResourceType, name: &str, pt: PatternType, op: AclOperation) -> AclBinding {
    binding(
        rt,
        name,
        pt,
        "User:alice",
        "*",
        op,
        AclPermissionType::Allow,
    )
}

fn deny(rt: ResourceType, name: &str, pt: PatternType, op: AclOperation) -> AclBinding {
    binding(rt, name, pt, "User:alice", "*", op, AclPermissionType::Deny)
}

fn alice() -> KafkaPrincipal {
    KafkaPrincipal::user("alice")
}

fn check(acls: &[AclBinding], op: AclOperation, rt: ResourceType, name: &str) -> bool {
    authorize(
        &AuthorizerConfig::default(),
        &AclSet::new(acls),
        &alice(),
        "10.0.0.1",
        op,
        rt,
        name,
    )
}

use AclOperation::*;
use PatternType::{Literal, Prefixed};
use ResourceType::{Cluster, Group, Topic};

#[test]
fn deny_by_default_and_allow_everyone_when_configured() {
    assert!(!check(&[], Read, Topic, "t"));
    let cfg = AuthorizerConfig {
        super_users: vec![],
        allow_everyone_if_no_acl_found: true,
    };
    assert!(authorize(
        &cfg,
        &AclSet::default(),
        &alice(),
        "h",
        Read,
        Topic,
        "t"
    ));
    // An ACL on the resource for someone else: no longer "no ACL found".
    let other = binding(
        Topic,
        "t",
        Literal,
        "User:bob",
        "*",
        Read,
        AclPermissionType::Allow,
    );
    assert!(!authorize(
        &cfg,
        &AclSet::new(&[other]),
        &alice(),
        "h",
        Read,
        Topic,
        "t"
    ));
}

#[test]
fn literal_wildcard_and_prefixed_patterns() {
    assert!(check(&[allow(Topic, "t", Literal, Read)], Read, Topic, "t"));
    assert!(!check(
        &[allow(Topic, "t", Literal, Read)],
        Read,
        Topic,
        "t2"
    ));
    assert!(check(
        &[allow(Topic, "*", Literal, Read)],
        Read,
        Topic,
        "any"
    ));
    assert!(check(
        &[allow(Topic, "pay", Prefixed, Read)],
        Read,
        Topic,
        "payments"
    ));
    assert!(check(
        &[allow(Topic, "pay", Prefixed, Read)],
        Read,
        Topic,
        "pay"
    ));
    assert!(!check(
        &[allow(Topic, "pay", Prefixed, Read)],
        Read,
        Topic,
        "pa"
    ));
    assert!(!check(
        &[allow(Topic, "t", Literal, Read)],
        Read,
        Group,
        "t"
    ));
}

#[test]
fn principal_and_host_rules() {
    let star = binding(
        Topic,
        "t",
        Literal,
        "User:*",
        "*",
        Read,
        AclPermissionType::Allow,
    );
    assert!(check(&[star], Read, Topic, "t"));
    let host = binding(
        Topic,
        "t",
        Literal,
        "User:alice",
        "10.0.0.1",
        Read,
        AclPermissionType::Allow,
    );
    assert!(check(&[host], Read, Topic, "t"));
    let other_host = binding(
        Topic,
        "t",
        Literal,
        "User:alice",
        "10.0.0.2",
        Read,
        AclPermissionType::Allow,
    );
    assert!(!check(&[other_host], Read, Topic, "t"));
    let bob = binding(
        Topic,
        "t",
        Literal,
        "User:bob",
        "*",
        Read,
        AclPermissionType::Allow,
    );
    assert!(!check(&[bob], Read, Topic, "t"));
}

#[test]
fn implications_and_all() {
    for op in [Read, Write, Delete, Alter] {
        assert!(check(
            &[allow(Topic, "t", Literal, op)],
            Describe,
            Topic,
            "t"
        ));
    }
    assert!(!check(
        &[allow(Topic, "t", Literal, Create)],
        Describe,
        Topic,
        "t"
    ));
    assert!(check(
        &[allow(Topic, "t", Literal, AlterConfigs)],
        DescribeConfigs,
        Topic,
        "t"
    ));
    assert!(!check(
        &[allow(Topic, "t", Literal, DescribeConfigs)],
        AlterConfigs,
        Topic,
        "t"
    ));
    assert!(!check(
        &[allow(Topic, "t", Literal, Describe)],
        Read,
        Topic,
        "t"
    ));
    assert!(check(
        &[allow(Topic, "t", Literal, All)],
        Delete,
        Topic,
        "t"
    ));
    // A DENY of READ does not deny DESCRIBE; a DENY of ALL denies everything.
    let acls = [
        allow(Topic, "t", Literal, All),
        deny(Topic, "t", Literal, Read),
    ];
    assert!(!check(&acls, Read, Topic, "t"));
    assert!(check(&acls, Describe, Topic, "t"));
    let acls = [
        allow(Topic, "t", Literal, Read),
        deny(Topic, "*", Literal, All),
    ];
    assert!(!check(&acls, Describe, Topic, "t"));
}

#[test]
fn super_users_are_always_allowed() {
    let cfg = AuthorizerConfig {
        super_users: AuthorizerConfig::parse_super_users("User:admin; User:alice"),
        allow_everyone_if_no_acl_found: false,
    };
    let acls = AclSet::new(&[deny(Topic, "t", Literal, All)]);
    assert!(authorize(&cfg, &acls, &alice(), "h", Write, Topic, "t"));
}

#[test]
fn authorized_operations_bitfield() {
    let acls = AclSet::new(&[allow(Topic, "t", Literal, Read)]);
    let bits = authorized_operations(
        &AuthorizerConfig::default(),
        &acls,
        &alice(),
        "h",
        Topic,
        "t",
    );
    assert_eq!(bits, (1 << 3) | (1 << 8)); // READ and (implied) DESCRIBE
    let acls = AclSet::new(&[allow(Cluster, "kafka-cluster", Literal, All)]);
    let bits = authorized_operations(
        &AuthorizerConfig::default(),
        &acls,
        &alice(),
        "h",
        Cluster,
        "kafka-cluster",
    );
    assert_eq!(
        bits,
        (1 << 5) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 7) | (1 << 8)
    );
}

#[test]
fn by_resource_type_as_kip_679() {
    let cfg = AuthorizerConfig::default();
    let by_type = |acls: &[AclBinding]| {
        authorize_by_resource_type(&cfg, &AclSet::new(acls), &alice(), "h", Write, Topic)
    };
    assert!(!by_type(&[]));
    assert!(by_type(&[allow(Topic, "t", Literal, Write)]));
    assert!(!by_type(&[allow(Topic, "t", Literal, Read)]));
    assert!(!by_type(&[
        allow(Topic, "t", Literal, Write),
        deny(Topic, "t", Literal, Write)
    ]));
    assert!(!by_type(&[
        allow(Topic, "t", Literal, Write),
        deny(Topic, "*", Literal, Write)
    ]));
    assert!(!by_type(&[
        allow(Topic, "tx", Prefixed, Write),
        deny(Topic, "t", Prefixed, All)
    ]));
    assert!(by_type(&[
        allow(Topic, "tx", Prefixed, Write),
        deny(Topic, "ty", Prefixed, All)
    ]));
}

// ---- properties -------------------------------------------------------------------------

fn op_strategy() -> impl Strategy<Value = AclOperation> {
    prop::sample::select(vec![
        All,
        Read,
        Write,
        Create,
        Delete,
        Alter,
        Describe,
        ClusterAction,
        DescribeConfigs,
        AlterConfigs,
        IdempotentWrite,
    ])
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "ab", "abc", "b", "*"]).prop_map(str::to_string)
}

fn acl_strategy() -> impl Strategy<Value = AclBinding> {
    (
        prop::sample::select(vec![Topic, Group]),
        name_strategy(),
        prop::sample::select(vec![Literal, Prefixed]),
        prop::sample::select(vec!["User:alice", "User:bob", "User:*"]),
        prop::sample::select(vec!["*", "10.0.0.1", "10.0.0.2"]),
        op_strategy(),
        prop::sample::select(vec![AclPermissionType::Allow, AclPermissionType::Deny]),
    )
        .prop_map(|(rt, n, pt, p, h, op, perm)| binding(rt, &n, pt, p, h, op, perm))
}

proptest! {
    /// Adding a DENY that applies to the request always denies it, whatever else is there.
    #[test]
    fn deny_beats_allow(acls in prop::collection::vec(acl_strategy(), 0..12),
                        op in op_strategy().prop_filter("concrete", |o| *o != All),
                        name in prop::sample::select(vec!["a", "ab", "abc", "b"])) {
        let mut with = acls.clone();
        with.push(binding(Topic, name, Literal, "User:*", "*", op, AclPermissionType::Deny));
        prop_assert!(!check(&with, op, Topic, name));
        // ... and a DENY of ALL on a prefix of the name too.
        let mut with = acls;
        with.push(binding(Topic, &name[..1], Prefixed, "User:alice", "10.0.0.1", All, AclPermissionType::Deny));
        prop_assert!(!check(&with, op, Topic, name));
    }

    /// Whatever ALLOWs READ, WRITE, DELETE or ALTER also allows DESCRIBE; ALTER_CONFIGS
    /// implies DESCRIBE_CONFIGS. (The implication is of ALLOWs: a DENY of DESCRIBE still
    /// denies DESCRIBE, as in Kafka, so the property is over ALLOW-only ACL sets.)
    #[test]
    fn implication_rules(acls in prop::collection::vec(acl_strategy(), 0..12),
                         name in prop::sample::select(vec!["a", "ab", "abc", "b"])) {
        let acls: Vec<AclBinding> = acls
            .into_iter()
            .filter(|b| b.entry.permission == AclPermissionType::Allow)
            .collect();
        for op in [Read, Write, Delete, Alter] {
            if check(&acls, op, Topic, name) {
                prop_assert!(check(&acls, Describe, Topic, name));
            }
        }
        if check(&acls, AlterConfigs, Topic, name) {
            prop_assert!(check(&acls, DescribeConfigs, Topic, name));
        }
    }

    /// A super user is allowed every operation on every resource.
    #[test]
    fn super_user_always_allowed(acls in prop::collection::vec(acl_strategy(), 0..12),
                                 op in op_strategy(), name in name_strategy()) {
        let cfg = AuthorizerConfig { super_users: vec!["User:alice".into()], allow_everyone_if_no_acl_found: false };
        prop_assert!(authorize(&cfg, &AclSet::new(&acls), &alice(), "10.0.0.1", op, Topic, &name));
    }

    /// The decision equals a brute-force reading of the rules over all bindings using
    /// MATCH filters (the wildcard and prefix matching of DescribeAcls agree with the checks).
    #[test]
    fn matches_the_rules_read_literally(acls in prop::collection::vec(acl_strategy(), 0..12),
                                        op in op_strategy().prop_filter("concrete", |o| *o != All),
                                        name in prop::sample::select(vec!["a", "ab", "abc", "b"])) {
        let filter = crate::security::acl::ResourcePatternFilter {
            resource_type: Topic,
            name: Some(name.to_string()),
            pattern_type: PatternType::Match,
        };
        let on: Vec<&AclBinding> = acls.iter().filter(|b| filter.matches(&b.pattern)).collect();
        let applies = |b: &&&AclBinding| {
            (b.entry.principal == "User:alice" || b.entry.principal == "User:*")
                && (b.entry.host == "*" || b.entry.host == "10.0.0.1")
                && operation_applies(b.entry.operation, b.entry.permission, op)
        };
        let expected = !on.is_empty()
            && !on.iter().filter(applies).any(|b| b.entry.permission == AclPermissionType::Deny)
            && on.iter().filter(applies).any(|b| b.entry.permission == AclPermissionType::Allow);
        prop_assert_eq!(check(&acls, op, Topic, name), expected);
    }
}
