//! The authorization decision, as Kafka's `StandardAuthorizer` makes it:
//!
//! 1. a principal listed in `super.users` may do everything;
//! 2. the bindings that apply are those whose pattern covers the resource (its LITERAL name,
//!    the LITERAL `*`, every PREFIXED pattern the name starts with), whose principal is the
//!    requester's or `User:*`, and whose host is the requester's or `*`;
//! 3. an applying DENY for the operation (or for ALL) refuses, whatever allows it;
//! 4. else an applying ALLOW for the operation, for ALL or for an operation implying it
//!    ([`Operation::allows`]) allows;
//! 5. else the request is refused, unless no binding at all covers the resource and
//!    `allow.everyone.if.no.acl.found` is set.

use std::collections::{BTreeMap, BTreeSet};

use crate::filter::AclFilter;
use crate::model::{
    AclBinding, AclError, Operation, PatternType, Permission, ResourcePattern, ResourceType,
    WILDCARD, WILDCARD_PRINCIPAL,
};

/// At most this many bindings are kept: each request's checks read them, and the file holding
/// them is read whole at start-up.
pub const MAX_ACLS: usize = 100_000;

/// Who asks: a principal (`User:alice`) connected from a host (its IP address as text).
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub principal: &'a str,
    pub host: &'a str,
}

/// The bindings, indexed by pattern, and the authorizer's two settings.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    by_pattern: BTreeMap<ResourcePattern, BTreeSet<AclBinding>>,
    len: usize,
    super_users: BTreeSet<String>,
    allow_if_no_acl: bool,
}

impl Authorizer {
    /// An authorizer without bindings; `super_users` are principals (`User:admin`).
    pub fn new(super_users: impl IntoIterator<Item = String>, allow_if_no_acl: bool) -> Self {
        Authorizer {
            super_users: super_users.into_iter().collect(),
            allow_if_no_acl,
            ..Authorizer::default()
        }
    }

    /// How many bindings there are.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every binding, in a stable order (by pattern, then entry).
    pub fn bindings(&self) -> impl Iterator<Item = &AclBinding> {
        self.by_pattern.values().flatten()
    }

    /// Adds `binding`; adding one already present changes nothing, as in Kafka.
    pub fn add(&mut self, binding: AclBinding) -> Result<(), AclError> {
        binding.validate()?;
        let set = self.by_pattern.entry(binding.pattern.clone()).or_default();
        if set.contains(&binding) {
            return Ok(());
        }
        if self.len >= MAX_ACLS {
            return Err(AclError::Invalid(format!(
                "at most {MAX_ACLS} ACLs may exist; delete some first"
            )));
        }
        set.insert(binding);
        self.len += 1;
        Ok(())
    }

    /// The bindings `filter` selects.
    pub fn matching<'a>(&'a self, filter: &'a AclFilter) -> impl Iterator<Item = &'a AclBinding> {
        self.bindings().filter(move |b| filter.matches(b))
    }

    /// Removes and returns the bindings `filter` selects.
    pub fn remove_matching(&mut self, filter: &AclFilter) -> Vec<AclBinding> {
        let removed: Vec<AclBinding> = self.matching(filter).cloned().collect();
        for binding in &removed {
            if let Some(set) = self.by_pattern.get_mut(&binding.pattern) {
                set.remove(binding);
                if set.is_empty() {
                    self.by_pattern.remove(&binding.pattern);
                }
            }
        }
        self.len -= removed.len();
        removed
    }

    /// Whether `requester` may do `operation` on the resource `name` of `resource_type`.
    pub fn authorize(
        &self,
        requester: Requester<'_>,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        if self.super_users.contains(requester.principal) {
            return true;
        }
        let mut covered = false;
        let mut allowed = false;
        for binding in self.covering(resource_type, name) {
            covered = true;
            if !applies_to(binding, requester) {
                continue;
            }
            match binding.permission {
                Permission::Deny if binding.operation.denies(operation) => return false,
                Permission::Allow if binding.operation.allows(operation) => allowed = true,
                _ => {}
            }
        }
        allowed || (!covered && self.allow_if_no_acl)
    }

    /// Kafka's authorized-operations bit set (bit n for the operation of code n) of the
    /// resource: the operations its type defines that `requester` may do.
    pub fn authorized_operations(
        &self,
        requester: Requester<'_>,
        resource_type: ResourceType,
        name: &str,
    ) -> i32 {
        resource_type
            .operations()
            .iter()
            .filter(|op| self.authorize(requester, **op, resource_type, name))
            .fold(0, |bits, op| bits | 1 << op.code())
    }

    /// Whether `requester` may do `operation` on at least one resource of `resource_type`
    /// (Kafka's `authorizeByResourceType`, used where an idempotent producer needs WRITE on
    /// some topic). Each ALLOW binding that could grant it names a candidate resource (its
    /// pattern's name), checked with [`Self::authorize`] so DENY bindings still win: a yes
    /// always has a resource behind it.
    pub fn authorize_any(
        &self,
        requester: Requester<'_>,
        operation: Operation,
        resource_type: ResourceType,
    ) -> bool {
        if self.super_users.contains(requester.principal) {
            return true;
        }
        let mut of_type = self
            .by_pattern
            .iter()
            .filter(|(pattern, _)| pattern.resource_type == resource_type)
            .peekable();
        if of_type.peek().is_none() {
            return self.allow_if_no_acl;
        }
        of_type.any(|(pattern, bindings)| {
            bindings.iter().any(|b| {
                b.permission == Permission::Allow
                    && b.operation.allows(operation)
                    && applies_to(b, requester)
            }) && self.authorize(requester, operation, resource_type, &pattern.name)
        })
    }

    /// Every binding whose pattern covers the resource `name` of `resource_type`.
    fn covering<'a>(
        &'a self,
        resource_type: ResourceType,
        name: &'a str,
    ) -> impl Iterator<Item = &'a AclBinding> {
        let pattern = |pattern_type, name: &str| ResourcePattern {
            resource_type,
            pattern_type,
            name: name.to_owned(),
        };
        let mut literals = vec![pattern(PatternType::Literal, name)];
        if name != WILDCARD {
            literals.push(pattern(PatternType::Literal, WILDCARD));
        }
        let literal = literals
            .into_iter()
            .filter_map(|pattern| self.by_pattern.get(&pattern))
            .flatten();
        // Every prefix of `name` sorts between the empty prefix and `name` itself: one range
        // walk over the prefixed patterns, with no pattern built per prefix (names come from
        // the network, and one per prefix would cost the square of a name's length).
        let prefixed = self
            .by_pattern
            .range(pattern(PatternType::Prefixed, "")..=pattern(PatternType::Prefixed, name))
            .filter(move |(pattern, _)| name.starts_with(pattern.name.as_str()))
            .flat_map(|(_, bindings)| bindings);
        literal.chain(prefixed)
    }
}

/// Whether `binding`'s principal and host are the requester's (or wildcards).
fn applies_to(binding: &AclBinding, requester: Requester<'_>) -> bool {
    (binding.principal == requester.principal || binding.principal == WILDCARD_PRINCIPAL)
        && (binding.host == requester.host || binding.host == WILDCARD)
}
