//! Authorization of requests: who asks ([`Access`]: the connection's principal and host) and
//! the checks handlers make before touching state, one helper per pattern. With no
//! authorizer configured every check passes, as in Kafka.
//!
//! Also the authorized-operations bit sets (bit n for the ACL operation of code n) that
//! Metadata, DescribeCluster, DescribeGroups and ConsumerGroupDescribe return when asked.

use std::net::IpAddr;

use kafka_protocol::error::ResponseError;
use runnel_acl::{Operation, Requester, ResourceType, CLUSTER_NAME};

use crate::acls::Acls;

/// The principal and host a request comes from, and the ACLs it is checked against.
#[derive(Debug)]
pub(crate) struct Access<'a> {
    acls: &'a Acls,
    /// `User:<name>` of the connection's authenticated user.
    principal: String,
    host: String,
}

impl<'a> Access<'a> {
    pub(crate) fn new(acls: &'a Acls, user: &str, peer: IpAddr) -> Self {
        Access {
            acls,
            principal: format!("User:{user}"),
            // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d; ACLs name
            // it a.b.c.d, as Kafka sees it.
            host: peer.to_canonical().to_string(),
        }
    }

    fn requester(&self) -> Requester<'_> {
        Requester {
            principal: &self.principal,
            host: &self.host,
        }
    }

    /// Whether an authorizer is configured (ACL administration needs one).
    pub(crate) fn enabled(&self) -> bool {
        self.acls.enabled()
    }

    /// May the requester do `operation` on the resource `name` of `resource_type`?
    pub(crate) fn allows(
        &self,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        !self.acls.enabled()
            || self
                .acls
                .authorizer()
                .authorize(self.requester(), operation, resource_type, name)
    }

    /// May the requester do `operation` on the topic `name`?
    pub(crate) fn topic(&self, operation: Operation, name: &str) -> bool {
        self.allows(operation, ResourceType::Topic, name)
    }

    /// May the requester do `operation` on the group `id`?
    pub(crate) fn group(&self, operation: Operation, id: &str) -> bool {
        self.allows(operation, ResourceType::Group, id)
    }

    /// May the requester do `operation` on the transactional id `id`?
    pub(crate) fn transactional_id(&self, operation: Operation, id: &str) -> bool {
        self.allows(operation, ResourceType::TransactionalId, id)
    }

    /// May the requester do `operation` on the cluster?
    pub(crate) fn cluster(&self, operation: Operation) -> bool {
        self.allows(operation, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// May the requester create the topic `name`: CREATE on the cluster or on the topic.
    pub(crate) fn may_create_topic(&self, name: &str) -> bool {
        self.cluster(Operation::Create) || self.topic(Operation::Create, name)
    }

    /// May the requester write idempotently: IDEMPOTENT_WRITE on the cluster, or WRITE on
    /// some topic (KIP-679).
    pub(crate) fn may_write_idempotently(&self) -> bool {
        self.cluster(Operation::IdempotentWrite)
            || !self.acls.enabled()
            || self.acls.authorizer().authorize_any(
                self.requester(),
                Operation::Write,
                ResourceType::Topic,
            )
    }

    /// Why a subscription may not name `topics`, if it may not: Kafka's group and share-group
    /// heartbeats need DESCRIBE on every topic named.
    pub(crate) fn undescribable_topics<'n>(
        &self,
        topics: impl IntoIterator<Item = &'n str>,
    ) -> Option<String> {
        let hidden: Vec<&str> = topics
            .into_iter()
            .filter(|name| !self.topic(Operation::Describe, name))
            .collect();
        (!hidden.is_empty()).then(|| {
            format!(
                "the client is not authorized to describe topics: {}",
                hidden.join(", ")
            )
        })
    }

    /// The error code for a refused `operation` on a topic: TOPIC_AUTHORIZATION_FAILED, 0
    /// when allowed.
    pub(crate) fn topic_code(&self, operation: Operation, name: &str) -> i16 {
        refused(
            self.topic(operation, name),
            ResponseError::TopicAuthorizationFailed,
        )
    }

    /// GROUP_AUTHORIZATION_FAILED when `operation` on the group is refused, else 0.
    pub(crate) fn group_code(&self, operation: Operation, id: &str) -> i16 {
        refused(
            self.group(operation, id),
            ResponseError::GroupAuthorizationFailed,
        )
    }

    /// CLUSTER_AUTHORIZATION_FAILED when `operation` on the cluster is refused, else 0.
    pub(crate) fn cluster_code(&self, operation: Operation) -> i16 {
        refused(
            self.cluster(operation),
            ResponseError::ClusterAuthorizationFailed,
        )
    }

    /// TRANSACTIONAL_ID_AUTHORIZATION_FAILED when `operation` on the id is refused, else 0.
    pub(crate) fn transactional_id_code(&self, operation: Operation, id: &str) -> i16 {
        refused(
            self.transactional_id(operation, id),
            ResponseError::TransactionalIdAuthorizationFailed,
        )
    }

    /// The authorized-operations field of a resource: what the requester may do on it if
    /// the client asked, else Kafka's "not requested" value.
    pub(crate) fn operations(
        &self,
        requested: bool,
        resource_type: ResourceType,
        name: &str,
    ) -> i32 {
        if !requested {
            return NOT_REQUESTED;
        }
        if !self.acls.enabled() {
            return every_operation(resource_type);
        }
        self.acls
            .authorizer()
            .authorized_operations(self.requester(), resource_type, name)
    }
}

/// `error`'s code when not `allowed`, else 0.
fn refused(allowed: bool, error: ResponseError) -> i16 {
    if allowed {
        0
    } else {
        error.code()
    }
}

/// Every operation `resource_type` supports: what a broker without an authorizer answers.
fn every_operation(resource_type: ResourceType) -> i32 {
    resource_type
        .operations()
        .iter()
        .fold(0, |bits, op| bits | 1 << op.code())
}

/// The value of an authorized-operations field the client did not ask for.
pub(crate) const NOT_REQUESTED: i32 = i32::MIN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_authorizer_the_sets_are_kafkas() {
        // The values a Kafka 4 broker without an authorizer answers.
        assert_eq!(every_operation(ResourceType::Topic), 3576);
        assert_eq!(every_operation(ResourceType::Group), 3400);
        assert_eq!(every_operation(ResourceType::Cluster), 8096);
    }

    #[test]
    fn an_ipv4_client_of_a_dual_stack_listener_is_its_ipv4_host() {
        let dir = tempfile::tempdir().unwrap();
        let acls = Acls::open(dir.path(), &crate::acls::AuthorizationConfig::default()).unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(
            Access::new(&acls, "alice", mapped).requester().host,
            "10.0.0.7"
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            Access::new(&acls, "alice", v6).requester().host,
            "2001:db8::1"
        );
    }
}
