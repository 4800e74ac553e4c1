//! Kafka's ACL authorization model, pure: no sockets, no files, no clock.
//!
//! - [`model`]: the vocabulary (resource types, pattern types, operations, permissions) with
//!   Kafka's wire codes and names, and the [`AclBinding`] that grants or denies one operation.
//! - [`filter`]: [`AclFilter`], which DescribeAcls and DeleteAcls match bindings with.
//! - [`authorizer`]: [`Authorizer`], the set of bindings plus `super.users` and
//!   `allow.everyone.if.no.acl.found`, and the decision of Kafka's `StandardAuthorizer`.
//! - [`file`]: the pinned JSON format the broker saves the bindings in.

pub mod authorizer;
pub mod file;
pub mod filter;
pub mod model;

pub use authorizer::{Authorizer, Requester, MAX_ACLS};
pub use filter::AclFilter;
pub use model::{
    AclBinding, AclError, Operation, PatternType, Permission, ResourcePattern, ResourceType,
    CLUSTER_NAME, WILDCARD,
};
