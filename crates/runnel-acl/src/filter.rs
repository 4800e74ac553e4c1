//! ACL filters, as DescribeAcls and DeleteAcls send them (Kafka's `AclBindingFilter`).
//!
//! `None` in a field is ANY (or a null string): it matches every value. The pattern filter
//! has two more kinds than a binding: ANY (every pattern type, the name compared exactly) and
//! MATCH (every binding that would apply to a resource of that name: the LITERAL one, the
//! LITERAL `*` and every PREFIXED one the name starts with).

use crate::model::{
    invalid, AclBinding, AclError, Operation, PatternType, Permission, ResourceType, ANY_CODE,
    WILDCARD,
};

/// How a filter matches a binding's pattern type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternFilter {
    /// Every pattern type; the name, if any, compared exactly.
    Any,
    /// The patterns that apply to the named resource.
    Match,
    /// Exactly this pattern type.
    Only(PatternType),
}

/// The wire code of MATCH.
const MATCH_CODE: i8 = 2;

impl PatternFilter {
    pub fn code(self) -> i8 {
        match self {
            PatternFilter::Any => ANY_CODE,
            PatternFilter::Match => MATCH_CODE,
            PatternFilter::Only(p) => p.code(),
        }
    }

    pub fn from_code(code: i8) -> Option<PatternFilter> {
        match code {
            ANY_CODE => Some(PatternFilter::Any),
            MATCH_CODE => Some(PatternFilter::Match),
            other => PatternType::from_code(other).map(PatternFilter::Only),
        }
    }
}

/// Which bindings a DescribeAcls or DeleteAcls filter selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: Option<ResourceType>,
    pub name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<Operation>,
    pub permission: Option<Permission>,
}

impl AclFilter {
    /// The filter that selects every binding.
    pub fn any() -> AclFilter {
        AclFilter {
            resource_type: None,
            name: None,
            pattern: PatternFilter::Any,
            principal: None,
            host: None,
            operation: None,
            permission: None,
        }
    }

    /// The filter of the wire fields; a code that is neither ANY nor a value (UNKNOWN
    /// included) makes it invalid, as Kafka refuses it.
    pub fn from_wire(
        resource_type: i8,
        name: Option<&str>,
        pattern: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<AclFilter, AclError> {
        fn any_or<T>(
            code: i8,
            parse: fn(i8) -> Option<T>,
            what: &str,
        ) -> Result<Option<T>, AclError> {
            if code == ANY_CODE {
                return Ok(None);
            }
            parse(code)
                .map(Some)
                .ok_or_else(|| invalid(format!("unknown {what} {code}")))
        }
        Ok(AclFilter {
            resource_type: any_or(resource_type, ResourceType::from_code, "resource type")?,
            name: name.map(str::to_owned),
            pattern: PatternFilter::from_code(pattern)
                .ok_or_else(|| invalid(format!("unknown pattern type {pattern}")))?,
            principal: principal.map(str::to_owned),
            host: host.map(str::to_owned),
            operation: any_or(operation, Operation::from_code, "operation")?,
            permission: any_or(permission, Permission::from_code, "permission type")?,
        })
    }

    /// Whether `binding` is one this filter selects.
    pub fn matches(&self, binding: &AclBinding) -> bool {
        fn field<T: PartialEq>(wanted: &Option<T>, actual: &T) -> bool {
            wanted.as_ref().is_none_or(|w| w == actual)
        }
        let pattern = &binding.pattern;
        field(&self.resource_type, &pattern.resource_type)
            && self.matches_pattern(pattern.pattern_type, &pattern.name)
            && self
                .principal
                .as_deref()
                .is_none_or(|p| p == binding.principal)
            && self.host.as_deref().is_none_or(|h| h == binding.host)
            && field(&self.operation, &binding.operation)
            && field(&self.permission, &binding.permission)
    }

    fn matches_pattern(&self, pattern_type: PatternType, pattern_name: &str) -> bool {
        if let PatternFilter::Only(wanted) = self.pattern {
            if wanted != pattern_type {
                return false;
            }
        }
        let Some(name) = &self.name else {
            return true;
        };
        match self.pattern {
            PatternFilter::Any | PatternFilter::Only(_) => name == pattern_name,
            PatternFilter::Match => match pattern_type {
                PatternType::Literal => name == pattern_name || pattern_name == WILDCARD,
                PatternType::Prefixed => name.starts_with(pattern_name),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::ResourcePattern;

    fn topic(pattern_type: PatternType, name: &str) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern {
                resource_type: ResourceType::Topic,
                pattern_type,
                name: name.to_owned(),
            },
            principal: "User:alice".to_owned(),
            host: "*".to_owned(),
            operation: Operation::Read,
            permission: Permission::Allow,
        }
    }

    fn by_name(pattern: PatternFilter, name: &str) -> AclFilter {
        AclFilter {
            name: Some(name.to_owned()),
            pattern,
            ..AclFilter::any()
        }
    }

    #[test]
    fn match_selects_what_applies_to_the_resource() {
        let filter = by_name(PatternFilter::Match, "orders-eu");
        assert!(filter.matches(&topic(PatternType::Literal, "orders-eu")));
        assert!(filter.matches(&topic(PatternType::Literal, "*")));
        assert!(filter.matches(&topic(PatternType::Prefixed, "orders-")));
        assert!(!filter.matches(&topic(PatternType::Prefixed, "orders-eu-1")));
        assert!(!filter.matches(&topic(PatternType::Literal, "orders")));
    }

    #[test]
    fn any_and_exact_pattern_filters_compare_names_exactly() {
        let any = by_name(PatternFilter::Any, "orders");
        assert!(any.matches(&topic(PatternType::Prefixed, "orders")));
        assert!(!any.matches(&topic(PatternType::Literal, "*")));
        let literal = by_name(PatternFilter::Only(PatternType::Literal), "*");
        assert!(literal.matches(&topic(PatternType::Literal, "*")));
        assert!(!literal.matches(&topic(PatternType::Literal, "orders")));
    }

    #[test]
    fn unknown_codes_make_an_invalid_filter() {
        assert!(AclFilter::from_wire(1, None, 1, None, None, 1, 1).is_ok());
        assert!(AclFilter::from_wire(0, None, 1, None, None, 1, 1).is_err());
        assert!(AclFilter::from_wire(1, None, 0, None, None, 1, 1).is_err());
        assert!(AclFilter::from_wire(1, None, 1, None, None, 0, 1).is_err());
        assert!(AclFilter::from_wire(1, None, 1, None, None, 1, 9).is_err());
        let filter = AclFilter::from_wire(2, Some("t"), 2, Some("User:a"), None, 3, 3).unwrap();
        assert_eq!(filter.pattern, PatternFilter::Match);
        assert_eq!(filter.operation, Some(Operation::Read));
    }
}
