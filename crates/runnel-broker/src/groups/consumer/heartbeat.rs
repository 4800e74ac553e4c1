//! A ConsumerGroupHeartbeat as the group sees it, its answer, and why it can be refused.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;

use super::{Assignment, LEAVE_EPOCH, STATIC_LEAVE_EPOCH};

/// ConsumerGroupHeartbeat v1 and later: the client names itself (KIP-1082).
const CLIENT_MEMBER_ID_VERSION: i16 = 1;

/// A ConsumerGroupHeartbeat, as the group needs it.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    pub version: i16,
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    /// `None`: unchanged.
    pub subscribed_topic_names: Option<Vec<String>>,
    /// `None`: unchanged; empty: none.
    pub subscribed_topic_regex: Option<String>,
    /// `None`: unchanged.
    pub server_assignor: Option<String>,
    /// The partitions the member owns; `None` when not reported.
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
    /// The existing topics the member's principal may DESCRIBE when an authorizer is
    /// configured; `None` without one. A regular-expression subscription sees only these, as
    /// in Kafka, so an unauthorized topic is never assigned through a pattern.
    pub describable: Option<BTreeSet<String>>,
}

impl Heartbeat {
    /// What must hold of any heartbeat before the group is looked at (INVALID_REQUEST), as in
    /// Kafka.
    pub fn validate(&self) -> Result<(), HeartbeatError> {
        let invalid = |why: &'static str| Err(HeartbeatError::InvalidRequest(why));
        if self.group_id.is_empty() {
            return invalid("the group id is empty");
        }
        if self.instance_id.as_deref() == Some("") {
            return invalid("the instance id is empty");
        }
        if self.rack_id.as_deref() == Some("") {
            return invalid("the rack id is empty");
        }
        if self.member_id.is_empty()
            && (self.version >= CLIENT_MEMBER_ID_VERSION || self.member_epoch != 0)
        {
            return invalid("the member id is empty (from version 1 the member picks it)");
        }
        match self.member_epoch {
            0 => {
                if self.rebalance_timeout_ms < 0 {
                    return invalid("a joining member states its rebalance timeout");
                }
                if self.owned.as_ref().is_some_and(|o| !o.is_empty()) {
                    return invalid("a joining member owns no partitions yet");
                }
                let names = self
                    .subscribed_topic_names
                    .as_ref()
                    .is_some_and(|n| !n.is_empty());
                let regex = self
                    .subscribed_topic_regex
                    .as_ref()
                    .is_some_and(|r| !r.is_empty());
                if !names && !regex {
                    return invalid(
                        "a joining member subscribes to topic names or a regular expression",
                    );
                }
            }
            STATIC_LEAVE_EPOCH if self.instance_id.is_none() => {
                return invalid("a static member leaving for now names its instance id");
            }
            epoch if epoch < STATIC_LEAVE_EPOCH => return invalid("no member epoch is below -2"),
            _ => {}
        }
        Ok(())
    }

    pub(super) fn is_leave(&self) -> bool {
        matches!(self.member_epoch, LEAVE_EPOCH | STATIC_LEAVE_EPOCH)
    }

    /// A full request states everything (the member joins, or resends after an error): the
    /// answer then carries the assignment whether it changed or not.
    pub(super) fn is_full(&self) -> bool {
        self.member_epoch == 0
            || (self.rebalance_timeout_ms != -1
                && self.subscribed_topic_names.is_some()
                && self.owned.is_some())
    }
}

/// What a heartbeat gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatOutcome {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// The member's partitions, when they changed or the request was a full one.
    pub assignment: Option<Assignment>,
}

/// Why a heartbeat (or a commit by a member) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("member {0} is not a member of the group")]
    UnknownMember(String),
    #[error("member epoch {received} is fenced: the member is at epoch {current}")]
    FencedEpoch { received: i32, current: i32 },
    #[error("member epoch {received} is stale: the member is at epoch {current}")]
    StaleEpoch { received: i32, current: i32 },
    #[error("instance id {0} belongs to another member")]
    FencedInstance(String),
    #[error("instance id {0} is still used by a member that has not left")]
    UnreleasedInstance(String),
    #[error("assignor {0:?} is not offered (offered: {1})")]
    UnsupportedAssignor(String, String),
    #[error("invalid regular expression {0:?}: {1}")]
    InvalidRegex(String, String),
    #[error("group {0} is a classic group with members")]
    NotConsumerGroup(String),
    #[error("members of consumer groups commit with OffsetCommit v9 or later")]
    OldCommitVersion,
}

impl HeartbeatError {
    pub fn code(&self) -> i16 {
        match self {
            HeartbeatError::InvalidRequest(_) => ResponseError::InvalidRequest,
            HeartbeatError::UnknownMember(_) => ResponseError::UnknownMemberId,
            HeartbeatError::FencedEpoch { .. } => ResponseError::FencedMemberEpoch,
            HeartbeatError::StaleEpoch { .. } => ResponseError::StaleMemberEpoch,
            HeartbeatError::FencedInstance(_) => ResponseError::FencedInstanceId,
            HeartbeatError::UnreleasedInstance(_) => ResponseError::UnreleasedInstanceId,
            HeartbeatError::UnsupportedAssignor(..) => ResponseError::UnsupportedAssignor,
            HeartbeatError::InvalidRegex(..) => ResponseError::InvalidRegularExpression,
            HeartbeatError::NotConsumerGroup(_) => ResponseError::GroupIdNotFound,
            HeartbeatError::OldCommitVersion => ResponseError::UnsupportedVersion,
        }
        .code()
    }
}
