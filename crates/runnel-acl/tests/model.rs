//! The authorizer and the filters against brute-force models: random bindings, requesters and
//! resources drawn from small alphabets so that names, prefixes and wildcards collide often.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use runnel_acl::filter::PatternFilter;
use runnel_acl::{
    AclBinding, AclFilter, Authorizer, Operation, PatternType, Permission, Requester,
    ResourcePattern, ResourceType,
};

const NAMES: &[&str] = &["a", "ab", "abc", "b", "*"];
const PRINCIPALS: &[&str] = &["User:alice", "User:bob", "User:*"];
const HOSTS: &[&str] = &["10.0.0.1", "10.0.0.2", "*"];
const TYPES: &[ResourceType] = &[ResourceType::Topic, ResourceType::Group];

fn binding() -> impl Strategy<Value = AclBinding> {
    (
        prop::sample::select(TYPES),
        prop::sample::select(PatternType::ALL),
        prop::sample::select(NAMES),
        prop::sample::select(PRINCIPALS),
        prop::sample::select(HOSTS),
        prop::sample::select(Operation::ALL),
        prop::sample::select(Permission::ALL),
    )
        .prop_map(
            |(t, p, name, principal, host, operation, permission)| AclBinding {
                pattern: ResourcePattern {
                    resource_type: t,
                    pattern_type: p,
                    name: name.to_owned(),
                },
                principal: principal.to_owned(),
                host: host.to_owned(),
                operation,
                permission,
            },
        )
}

fn filter() -> impl Strategy<Value = AclFilter> {
    let pattern = prop_oneof![
        Just(PatternFilter::Any),
        Just(PatternFilter::Match),
        prop::sample::select(PatternType::ALL).prop_map(PatternFilter::Only),
    ];
    (
        prop::option::of(prop::sample::select(TYPES)),
        prop::option::of(prop::sample::select(NAMES)),
        pattern,
        prop::option::of(prop::sample::select(PRINCIPALS)),
        prop::option::of(prop::sample::select(HOSTS)),
        prop::option::of(prop::sample::select(Operation::ALL)),
        prop::option::of(prop::sample::select(Permission::ALL)),
    )
        .prop_map(
            |(t, name, pattern, principal, host, operation, permission)| AclFilter {
                resource_type: t,
                name: name.map(str::to_owned),
                pattern,
                principal: principal.map(str::to_owned),
                host: host.map(str::to_owned),
                operation,
                permission,
            },
        )
}

/// Kafka's rules, written out over a plain list.
fn model_authorize(
    bindings: &[AclBinding],
    super_users: &[&str],
    allow_if_no_acl: bool,
    (principal, host): (&str, &str),
    op: Operation,
    t: ResourceType,
    name: &str,
) -> bool {
    if super_users.contains(&principal) {
        return true;
    }
    let covering: Vec<&AclBinding> = bindings
        .iter()
        .filter(|b| b.pattern.resource_type == t)
        .filter(|b| match b.pattern.pattern_type {
            PatternType::Literal => b.pattern.name == name || b.pattern.name == "*",
            PatternType::Prefixed => name.starts_with(b.pattern.name.as_str()),
        })
        .collect();
    if covering.is_empty() {
        return allow_if_no_acl;
    }
    let applying: Vec<&&AclBinding> = covering
        .iter()
        .filter(|b| b.principal == principal || b.principal == "User:*")
        .filter(|b| b.host == host || b.host == "*")
        .collect();
    let deny = applying.iter().any(|b| {
        b.permission == Permission::Deny && (b.operation == op || b.operation == Operation::All)
    });
    let implied = |granted: Operation| {
        granted == op
            || granted == Operation::All
            || (op == Operation::Describe
                && matches!(
                    granted,
                    Operation::Read | Operation::Write | Operation::Delete | Operation::Alter
                ))
            || (op == Operation::DescribeConfigs && granted == Operation::AlterConfigs)
    };
    let allow = applying
        .iter()
        .any(|b| b.permission == Permission::Allow && implied(b.operation));
    !deny && allow
}

/// The ACL filter semantics of Kafka's `ResourcePatternFilter` and
/// `AccessControlEntryFilter`, over plain fields.
fn model_matches(f: &AclFilter, b: &AclBinding) -> bool {
    let p = &b.pattern;
    if f.resource_type.is_some_and(|t| t != p.resource_type) {
        return false;
    }
    let name_ok = match (&f.name, f.pattern) {
        (_, PatternFilter::Only(t)) if t != p.pattern_type => false,
        (None, _) => true,
        (Some(n), PatternFilter::Match) if p.pattern_type == PatternType::Literal => {
            *n == p.name || p.name == "*"
        }
        (Some(n), PatternFilter::Match) => n.starts_with(p.name.as_str()),
        (Some(n), _) => *n == p.name,
    };
    name_ok
        && f.principal.as_ref().is_none_or(|x| *x == b.principal)
        && f.host.as_ref().is_none_or(|x| *x == b.host)
        && f.operation.is_none_or(|x| x == b.operation)
        && f.permission.is_none_or(|x| x == b.permission)
}

fn authorizer_of(bindings: &[AclBinding], super_users: &[&str], allow: bool) -> Authorizer {
    let mut authorizer = Authorizer::new(super_users.iter().map(|s| s.to_string()), allow);
    for b in bindings {
        authorizer.add(b.clone()).unwrap();
    }
    authorizer
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn authorize_agrees_with_the_model(
        bindings in prop::collection::vec(binding(), 0..12),
        super_user in any::<bool>(),
        allow_if_no_acl in any::<bool>(),
        principal in prop::sample::select(&PRINCIPALS[..2]),
        host in prop::sample::select(&HOSTS[..2]),
        t in prop::sample::select(TYPES),
        name in prop::sample::select(NAMES),
    ) {
        let supers: &[&str] = if super_user { &["User:bob"] } else { &[] };
        let authorizer = authorizer_of(&bindings, supers, allow_if_no_acl);
        let requester = Requester { principal, host };
        let mut bits = 0;
        for &op in Operation::ALL {
            let expected = model_authorize(
                &bindings, supers, allow_if_no_acl, (principal, host), op, t, name,
            );
            prop_assert_eq!(authorizer.authorize(requester, op, t, name), expected, "{:?}", op);
            if expected && t.operations().contains(&op) {
                bits |= 1 << op.code();
            }
        }
        prop_assert_eq!(authorizer.authorized_operations(requester, t, name), bits);
    }

    #[test]
    fn authorize_any_only_says_yes_with_a_resource_behind_it(
        bindings in prop::collection::vec(binding(), 0..12),
        principal in prop::sample::select(&PRINCIPALS[..2]),
        op in prop::sample::select(Operation::ALL),
        t in prop::sample::select(TYPES),
    ) {
        let authorizer = authorizer_of(&bindings, &[], false);
        let requester = Requester { principal, host: "10.0.0.1" };
        if authorizer.authorize_any(requester, op, t) {
            prop_assert!(NAMES.iter().any(|name| authorizer.authorize(requester, op, t, name)));
        }
        // A literal ALLOW for the requester alone, with no DENY of it anywhere, is a yes.
        let granted = bindings.iter().any(|b| {
            b.pattern.resource_type == t
                && b.pattern.pattern_type == PatternType::Literal
                && b.principal == principal
                && b.host == "*"
                && b.permission == Permission::Allow
                && b.operation == op
        });
        let denied = bindings.iter().any(|b| b.permission == Permission::Deny);
        if granted && !denied {
            prop_assert!(authorizer.authorize_any(requester, op, t));
        }
    }

    #[test]
    fn filters_select_and_delete_what_the_model_selects(
        bindings in prop::collection::vec(binding(), 0..16),
        filter in filter(),
    ) {
        let mut authorizer = authorizer_of(&bindings, &[], false);
        let mut all: Vec<AclBinding> = bindings.clone();
        all.sort();
        all.dedup();
        let expected: Vec<&AclBinding> = all.iter().filter(|b| model_matches(&filter, b)).collect();
        let described: Vec<&AclBinding> = authorizer.matching(&filter).collect();
        prop_assert_eq!(&described, &expected);
        let expected: Vec<AclBinding> = expected.into_iter().cloned().collect();
        let removed = authorizer.remove_matching(&filter);
        prop_assert_eq!(&removed, &expected);
        prop_assert_eq!(authorizer.len(), all.len() - removed.len());
        prop_assert!(authorizer.bindings().all(|b| !model_matches(&filter, b)));
    }

    #[test]
    fn filters_from_the_network_never_panic(
        codes in prop::array::uniform7(any::<i8>()),
        name in prop::option::of(".{0,8}"),
        principal in prop::option::of(".{0,8}"),
    ) {
        let _ = AclFilter::from_wire(
            codes[0], name.as_deref(), codes[1], principal.as_deref(), None, codes[2], codes[3],
        );
        let _ = AclBinding::from_wire(
            codes[4], name.as_deref().unwrap_or(""), codes[5],
            principal.as_deref().unwrap_or(""), "*", codes[6], codes[0],
        );
    }
}

#[test]
fn deny_wins_over_allow_and_super_users_over_deny() {
    let read = |principal: &str, permission| AclBinding {
        pattern: ResourcePattern {
            resource_type: ResourceType::Topic,
            pattern_type: PatternType::Prefixed,
            name: "orders".to_owned(),
        },
        principal: principal.to_owned(),
        host: "*".to_owned(),
        operation: Operation::Read,
        permission,
    };
    let authorizer = authorizer_of(
        &[
            read("User:*", Permission::Allow),
            read("User:bob", Permission::Deny),
        ],
        &["User:root"],
        false,
    );
    let who = |principal| Requester {
        principal,
        host: "10.0.0.9",
    };
    let t = ResourceType::Topic;
    assert!(authorizer.authorize(who("User:alice"), Operation::Read, t, "orders-eu"));
    assert!(authorizer.authorize(who("User:alice"), Operation::Describe, t, "orders-eu"));
    assert!(!authorizer.authorize(who("User:alice"), Operation::Write, t, "orders-eu"));
    assert!(!authorizer.authorize(who("User:alice"), Operation::Read, t, "order"));
    assert!(!authorizer.authorize(who("User:bob"), Operation::Read, t, "orders"));
    // A DENY of READ does not deny the DESCRIBE the wildcard's READ implies.
    assert!(authorizer.authorize(who("User:bob"), Operation::Describe, t, "orders"));
    assert!(authorizer.authorize(who("User:root"), Operation::Delete, t, "anything"));
}

/// Names come from the network unchecked: a name of a mebibyte is decided by walking the
/// prefixed patterns, not by building one pattern per prefix (which would need about half a
/// tebibyte for this name).
#[test]
fn a_huge_name_is_decided_without_a_pattern_per_prefix() {
    let mut authorizer = Authorizer::new(Vec::new(), false);
    for (name, permission) in [
        ("orders-", Permission::Allow),
        ("orders-eu", Permission::Deny),
    ] {
        authorizer
            .add(AclBinding {
                pattern: ResourcePattern {
                    resource_type: ResourceType::Topic,
                    pattern_type: PatternType::Prefixed,
                    name: name.to_owned(),
                },
                principal: "User:alice".to_owned(),
                host: "*".to_owned(),
                operation: Operation::Read,
                permission,
            })
            .unwrap();
    }
    let alice = Requester {
        principal: "User:alice",
        host: "10.0.0.1",
    };
    let huge = |prefix: &str| format!("{prefix}{}", "x".repeat(1 << 20));
    let read = |name: &str| authorizer.authorize(alice, Operation::Read, ResourceType::Topic, name);
    assert!(read(&huge("orders-us-")));
    assert!(!read(&huge("orders-eu-")), "a DENY wins");
    assert!(!read(&huge("payments-")));
}
