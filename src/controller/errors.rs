//! Kafka error codes the controller answers with, and [`ApiError`]: a code with Kafka's
//! message. An error with no specific message carries Kafka's default text for its code
//! (`Errors.java`), as Kafka's `new ApiError(Errors.X)` does.

use kafka_protocol::ResponseError as E;

pub const NONE: i16 = 0;
pub const UNKNOWN_SERVER_ERROR: i16 = E::UnknownServerError.code();
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = E::UnknownTopicOrPartition.code();
pub const INVALID_TOPIC_EXCEPTION: i16 = E::InvalidTopicException.code();
pub const TOPIC_ALREADY_EXISTS: i16 = E::TopicAlreadyExists.code();
pub const INVALID_PARTITIONS: i16 = E::InvalidPartitions.code();
pub const INVALID_REPLICATION_FACTOR: i16 = E::InvalidReplicationFactor.code();
pub const INVALID_REPLICA_ASSIGNMENT: i16 = E::InvalidReplicaAssignment.code();
pub const INVALID_CONFIG: i16 = E::InvalidConfig.code();
pub const NOT_CONTROLLER: i16 = E::NotController.code();
pub const INVALID_REQUEST: i16 = E::InvalidRequest.code();
pub const POLICY_VIOLATION: i16 = E::PolicyViolation.code();
pub const TOPIC_DELETION_DISABLED: i16 = E::TopicDeletionDisabled.code();
pub const FENCED_LEADER_EPOCH: i16 = E::FencedLeaderEpoch.code();
pub const STALE_BROKER_EPOCH: i16 = E::StaleBrokerEpoch.code();
pub const PREFERRED_LEADER_NOT_AVAILABLE: i16 = E::PreferredLeaderNotAvailable.code();
pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = E::EligibleLeadersNotAvailable.code();
pub const ELECTION_NOT_NEEDED: i16 = E::ElectionNotNeeded.code();
pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = E::NoReassignmentInProgress.code();
pub const INVALID_UPDATE_VERSION: i16 = E::InvalidUpdateVersion.code();
pub const UNKNOWN_TOPIC_ID: i16 = E::UnknownTopicId.code();
pub const DUPLICATE_BROKER_REGISTRATION: i16 = E::DuplicateBrokerRegistration.code();
pub const BROKER_ID_NOT_REGISTERED: i16 = E::BrokerIdNotRegistered.code();
pub const INCONSISTENT_CLUSTER_ID: i16 = E::InconsistentClusterId.code();
pub const INELIGIBLE_REPLICA: i16 = E::IneligibleReplica.code();
pub const NEW_LEADER_ELECTED: i16 = E::NewLeaderElected.code();

/// A Kafka error code with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: i16,
    pub message: Option<String>,
}

impl ApiError {
    /// An error with a specific message.
    pub fn new(code: i16, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: Some(message.into()),
        }
    }

    /// An error with Kafka's default message for its code.
    pub fn of(code: i16) -> ApiError {
        ApiError {
            code,
            message: default_message(code).map(str::to_string),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, "error {}: {m}", self.code),
            None => write!(f, "error {}", self.code),
        }
    }
}

/// Kafka's default message (`Errors.java`) for the codes the controller uses.
pub fn default_message(code: i16) -> Option<&'static str> {
    Some(match code {
        UNKNOWN_SERVER_ERROR => {
            "The server experienced an unexpected error when processing the request."
        }
        UNKNOWN_TOPIC_OR_PARTITION => "This server does not host this topic-partition.",
        INVALID_TOPIC_EXCEPTION => {
            "The request attempted to perform an operation on an invalid topic."
        }
        TOPIC_ALREADY_EXISTS => "Topic with this name already exists.",
        INVALID_PARTITIONS => "Number of partitions is below 1.",
        INVALID_REPLICATION_FACTOR => {
            "Replication factor is below 1 or larger than the number of available brokers."
        }
        INVALID_REPLICA_ASSIGNMENT => "Replica assignment is invalid.",
        INVALID_CONFIG => "Configuration is invalid.",
        NOT_CONTROLLER => "This is not the correct controller for this cluster.",
        TOPIC_DELETION_DISABLED => "Topic deletion is disabled.",
        FENCED_LEADER_EPOCH => {
            "The leader epoch in the request is older than the epoch on the broker."
        }
        STALE_BROKER_EPOCH => "Broker epoch has changed.",
        PREFERRED_LEADER_NOT_AVAILABLE => "The preferred leader was not available.",
        ELIGIBLE_LEADERS_NOT_AVAILABLE => "Eligible topic partition leaders are not available.",
        ELECTION_NOT_NEEDED => "Leader election not needed for topic partition.",
        NO_REASSIGNMENT_IN_PROGRESS => "No partition reassignment is in progress.",
        INVALID_UPDATE_VERSION => "The given update version was invalid.",
        UNKNOWN_TOPIC_ID => "This server does not host this topic ID.",
        DUPLICATE_BROKER_REGISTRATION => "This broker ID is already in use.",
        BROKER_ID_NOT_REGISTERED => "The given broker ID was not registered.",
        INCONSISTENT_CLUSTER_ID => {
            "The clusterId in the request does not match that found on the server."
        }
        INELIGIBLE_REPLICA => "The new ISR contains at least one ineligible replica.",
        NEW_LEADER_ELECTED => {
            "The AlterPartition request successfully updated the partition state but the leader has changed."
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas() {
        assert_eq!(
            [
                UNKNOWN_TOPIC_OR_PARTITION,
                INVALID_TOPIC_EXCEPTION,
                TOPIC_ALREADY_EXISTS,
                INVALID_PARTITIONS,
                INVALID_REPLICATION_FACTOR,
                INVALID_REPLICA_ASSIGNMENT,
                INVALID_CONFIG,
                NOT_CONTROLLER,
                INVALID_REQUEST,
                POLICY_VIOLATION,
                TOPIC_DELETION_DISABLED,
                FENCED_LEADER_EPOCH,
                STALE_BROKER_EPOCH
            ],
            [3, 17, 36, 37, 38, 39, 40, 41, 42, 44, 73, 74, 77]
        );
        assert_eq!(
            [
                PREFERRED_LEADER_NOT_AVAILABLE,
                ELIGIBLE_LEADERS_NOT_AVAILABLE,
                ELECTION_NOT_NEEDED,
                NO_REASSIGNMENT_IN_PROGRESS,
                INVALID_UPDATE_VERSION,
                UNKNOWN_TOPIC_ID,
                DUPLICATE_BROKER_REGISTRATION,
                BROKER_ID_NOT_REGISTERED,
                INCONSISTENT_CLUSTER_ID,
                INELIGIBLE_REPLICA,
                NEW_LEADER_ELECTED
            ],
            [80, 83, 84, 85, 95, 100, 101, 102, 104, 107, 108]
        );
    }

    #[test]
    fn an_error_without_a_message_gets_kafkas_default() {
        assert_eq!(
            ApiError::of(ELECTION_NOT_NEEDED).message.as_deref(),
            Some("Leader election not needed for topic partition.")
        );
        assert_eq!(ApiError::of(NONE).message, None);
    }
}
