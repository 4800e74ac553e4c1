//! The ACL vocabulary, with Kafka's wire codes (`ResourceType`, `PatternType`, `AclOperation`,
//! `AclPermissionType`) and names (as `kafka-acls` and the ACL file spell them).

use serde::{Deserialize, Serialize};

/// The name matching every resource in a LITERAL pattern, and every principal's name or
/// every host in an ACL entry.
pub const WILDCARD: &str = "*";
/// The only name a CLUSTER resource has.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// Why a binding or filter read from a request or a file is not valid; the message is the
/// one Kafka answers with INVALID_REQUEST.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("{0}")]
    Invalid(String),
}

pub(crate) fn invalid(message: impl Into<String>) -> AclError {
    AclError::Invalid(message.into())
}

/// Generates a code-carrying enum with its wire code and Kafka name.
macro_rules! coded {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),* }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code),* }
            }

            /// The value of a wire code, if it names one.
            pub fn from_code(code: i8) -> Option<$name> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }

            /// Kafka's name (`TOPIC`, `DESCRIBE_CONFIGS`...).
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            /// The value named `text`, in any case, words joined or separated by `-` or
            /// `_` (`DescribeConfigs`, `describe-configs`, `DESCRIBE_CONFIGS`).
            pub fn parse(text: &str) -> Option<$name> {
                let squeezed = |s: &str| s.replace(['-', '_'], "").to_ascii_uppercase();
                let wanted = squeezed(text);
                $name::ALL.iter().copied().find(|v| squeezed(v.name()) == wanted)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

coded! {
    /// A kind of resource ACLs protect (`UNKNOWN` = 0 and `ANY` = 1 exist only on the wire).
    ResourceType {
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        User = 7, "USER";
    }
}

coded! {
    /// How a binding's resource name matches resources (`MATCH` and `ANY` exist only in
    /// filters; see [`crate::filter`]).
    PatternType {
        Literal = 3, "LITERAL";
        Prefixed = 4, "PREFIXED";
    }
}

coded! {
    /// An operation on a resource (`ANY` = 1 exists only in filters).
    Operation {
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
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
}

coded! {
    /// Whether a binding grants or refuses its operation (`ANY` = 1 exists only in filters).
    Permission {
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
}

/// The wire code of ANY in every ACL enum.
pub const ANY_CODE: i8 = 1;

impl ResourceType {
    /// The operations Kafka defines for this resource type: those an authorized-operations
    /// field reports on.
    pub fn operations(self) -> &'static [Operation] {
        use Operation::*;
        match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Delete,
                Alter,
                Describe,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Delete, Describe, DescribeConfigs, AlterConfigs],
            ResourceType::Cluster => &[
                Create,
                Alter,
                Describe,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
            ],
            ResourceType::TransactionalId => &[Write, Describe, TwoPhaseCommit],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
        }
    }
}

impl Operation {
    /// Whether an ALLOW binding for `self` allows `wanted`: ALL allows everything, and, as
    /// Kafka, READ, WRITE, DELETE and ALTER imply DESCRIBE, ALTER_CONFIGS implies
    /// DESCRIBE_CONFIGS. A DENY binding denies only its own operation (or all, for ALL).
    pub fn allows(self, wanted: Operation) -> bool {
        use Operation::*;
        self == All
            || self == wanted
            || (wanted == Describe && matches!(self, Read | Write | Delete | Alter))
            || (wanted == DescribeConfigs && self == AlterConfigs)
    }

    /// Whether a DENY binding for `self` denies `wanted`.
    pub fn denies(self, wanted: Operation) -> bool {
        self == Operation::All || self == wanted
    }
}

/// The resources a binding applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub pattern_type: PatternType,
    pub name: String,
}

impl ResourcePattern {
    /// Whether the resource `name` of this pattern's type is covered by it.
    pub fn covers(&self, name: &str) -> bool {
        match self.pattern_type {
            PatternType::Literal => self.name == name || self.name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&self.name),
        }
    }
}

/// One ACL: `principal` from `host` is allowed or denied `operation` on the resources of
/// `pattern`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    #[serde(flatten)]
    pub pattern: ResourcePattern,
    /// `Type:name`, e.g. `User:alice`; `User:*` is every user.
    pub principal: String,
    /// An IP address, or `*` for every host.
    pub host: String,
    pub operation: Operation,
    pub permission: Permission,
}

/// The principal every user matches.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// Checks that `principal` is `Type:name` with both parts present.
pub fn validate_principal(principal: &str) -> Result<(), AclError> {
    match principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(()),
        _ => Err(invalid(format!(
            "invalid principal {principal:?}: expected Type:name, e.g. User:alice"
        ))),
    }
}

impl AclBinding {
    /// The binding an ACL creation of the wire names, validated as Kafka validates new ACLs.
    pub fn from_wire(
        resource_type: i8,
        name: &str,
        pattern_type: i8,
        principal: &str,
        host: &str,
        operation: i8,
        permission: i8,
    ) -> Result<AclBinding, AclError> {
        let resource_type = ResourceType::from_code(resource_type)
            .ok_or_else(|| invalid(format!("Invalid resourceType {resource_type}")))?;
        let pattern_type = PatternType::from_code(pattern_type)
            .ok_or_else(|| invalid(format!("Invalid patternType {pattern_type}")))?;
        let operation = Operation::from_code(operation)
            .ok_or_else(|| invalid(format!("Invalid operation {operation}")))?;
        let permission = Permission::from_code(permission)
            .ok_or_else(|| invalid(format!("Invalid permissionType {permission}")))?;
        let binding = AclBinding {
            pattern: ResourcePattern {
                resource_type,
                pattern_type,
                name: name.to_owned(),
            },
            principal: principal.to_owned(),
            host: host.to_owned(),
            operation,
            permission,
        };
        binding.validate()?;
        Ok(binding)
    }

    /// Checks what the enums cannot: names present, the cluster named as Kafka names it.
    pub fn validate(&self) -> Result<(), AclError> {
        if self.pattern.name.is_empty() {
            return Err(invalid("Resource name should not be empty"));
        }
        if self.pattern.resource_type == ResourceType::Cluster && self.pattern.name != CLUSTER_NAME
        {
            return Err(invalid(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            )));
        }
        validate_principal(&self.principal)?;
        if self.host.is_empty() {
            return Err(invalid("Host should not be empty: use * for every host"));
        }
        Ok(())
    }
}

impl std::fmt::Display for AclBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={}) on {}:{}:{}",
            self.principal,
            self.host,
            self.operation,
            self.permission,
            self.pattern.resource_type,
            self.pattern.pattern_type,
            self.pattern.name
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_and_names_are_kafkas() {
        assert_eq!(ResourceType::Topic.code(), 2);
        assert_eq!(ResourceType::User.code(), 7);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(Operation::TwoPhaseCommit.code(), 15);
        assert_eq!(Permission::Allow.code(), 3);
        assert_eq!(
            Operation::parse("describe-configs"),
            Some(Operation::DescribeConfigs)
        );
        assert_eq!(
            ResourceType::parse("Transactional_Id"),
            Some(ResourceType::TransactionalId)
        );
        assert_eq!(Operation::from_code(ANY_CODE), None);
    }

    #[test]
    fn implications_are_kafkas() {
        use Operation::*;
        for op in [Read, Write, Delete, Alter, Describe, All] {
            assert!(op.allows(Describe), "{op}");
        }
        assert!(!Create.allows(Describe));
        assert!(AlterConfigs.allows(DescribeConfigs));
        assert!(!Describe.allows(Read));
        assert!(!Read.denies(Describe));
        assert!(All.denies(Describe));
    }

    #[test]
    fn bad_creations_are_refused_with_kafkas_messages() {
        let ok = AclBinding::from_wire(2, "orders", 3, "User:alice", "*", 3, 3);
        assert!(ok.is_ok());
        let err = |r: Result<AclBinding, AclError>| r.unwrap_err().to_string();
        assert_eq!(
            err(AclBinding::from_wire(1, "orders", 3, "User:a", "*", 3, 3)),
            "Invalid resourceType 1"
        );
        assert_eq!(
            err(AclBinding::from_wire(2, "orders", 2, "User:a", "*", 3, 3)),
            "Invalid patternType 2"
        );
        assert_eq!(
            err(AclBinding::from_wire(2, "orders", 3, "User:a", "*", 1, 3)),
            "Invalid operation 1"
        );
        assert_eq!(
            err(AclBinding::from_wire(2, "", 3, "User:a", "*", 3, 3)),
            "Resource name should not be empty"
        );
        assert!(AclBinding::from_wire(4, "other", 3, "User:a", "*", 7, 3).is_err());
        assert!(AclBinding::from_wire(2, "t", 3, "alice", "*", 3, 3).is_err());
    }
}
