//! Authorized operations: the bit set (bit n for the ACL operation of code n) that
//! Metadata, DescribeCluster, DescribeGroups and ConsumerGroupDescribe return when asked.
//! Runnel has no authorizer, so, as Kafka does without one, every operation a resource
//! type supports is allowed.

/// Kafka's ACL operation codes (`AclOperation`).
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
enum Operation {
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
}

const fn bits(operations: &[Operation]) -> i32 {
    let mut set = 0;
    let mut i = 0;
    while i < operations.len() {
        set |= 1 << operations[i] as u8;
        i += 1;
    }
    set
}

use Operation::*;

/// What a topic supports: read, write, create, delete, alter, describe and both config
/// operations.
pub(crate) const TOPIC: i32 = bits(&[
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    DescribeConfigs,
    AlterConfigs,
]);

/// What a group supports (Kafka 4 added the config operations, for group configs).
pub(crate) const GROUP: i32 = bits(&[Read, Delete, Describe, DescribeConfigs, AlterConfigs]);

/// What the cluster supports.
pub(crate) const CLUSTER: i32 = bits(&[
    Create,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
]);

/// The value of an authorized-operations field the client did not ask for.
pub(crate) const NOT_REQUESTED: i32 = i32::MIN;

/// `operations` if the client asked for them, else Kafka's "not requested" value.
pub(crate) fn if_requested(requested: bool, operations: i32) -> i32 {
    if requested {
        operations
    } else {
        NOT_REQUESTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sets_are_kafkas_without_an_authorizer() {
        // The values a Kafka 4 broker without an authorizer answers.
        assert_eq!(TOPIC, 3576);
        assert_eq!(GROUP, 3400);
        assert_eq!(CLUSTER, 8096);
        assert_eq!(if_requested(false, TOPIC), i32::MIN);
        assert_eq!(if_requested(true, GROUP), GROUP);
    }
}
