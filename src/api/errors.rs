//! Internal errors → Kafka error codes, in one place.

use kafka_protocol::ResponseError;

use crate::cluster::TopicError;
use crate::log::LogError;

/// The Kafka error code of a log error.
pub fn log_error_code(e: &LogError) -> i16 {
    match e {
        LogError::CorruptMessage(_) => ResponseError::CorruptMessage.code(),
        LogError::MessageTooLarge { .. } => ResponseError::MessageTooLarge.code(),
        LogError::InvalidRecord(_) => ResponseError::InvalidRecord.code(),
        LogError::RecordErrors {
            timestamp: true, ..
        } => ResponseError::InvalidTimestamp.code(),
        LogError::RecordErrors { .. } => ResponseError::InvalidRecord.code(),
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange.code(),
        LogError::Io(_) | LogError::Offline => ResponseError::KafkaStorageError.code(),
        LogError::InvalidProducerEpoch(_) => ResponseError::InvalidProducerEpoch.code(),
        LogError::OutOfOrderSequence(_) => ResponseError::OutOfOrderSequenceNumber.code(),
        LogError::InvalidTxnState(_) => ResponseError::InvalidTxnState.code(),
        LogError::TransactionCoordinatorFenced(_) => {
            ResponseError::TransactionCoordinatorFenced.code()
        }
        // Only a replica fetcher's append can fail so; Kafka has no wire code for it.
        LogError::UnexpectedOffset { .. } => ResponseError::UnknownServerError.code(),
    }
}

/// The Kafka error code of a topic administration error.
pub fn topic_error_code(e: &TopicError) -> i16 {
    match e {
        TopicError::AlreadyExists(_) => ResponseError::TopicAlreadyExists.code(),
        TopicError::InvalidName(_) => ResponseError::InvalidTopicException.code(),
        TopicError::InvalidPartitions(_) => ResponseError::InvalidPartitions.code(),
        TopicError::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor.code(),
        TopicError::InvalidReplicaAssignment { .. } => {
            ResponseError::InvalidReplicaAssignment.code()
        }
        TopicError::InvalidConfig(_) => ResponseError::InvalidConfig.code(),
        TopicError::Unknown => ResponseError::UnknownTopicOrPartition.code(),
        TopicError::DeletionDisabled => ResponseError::TopicDeletionDisabled.code(),
        TopicError::InvalidRequest(_) => ResponseError::InvalidRequest.code(),
        TopicError::Storage(_) => ResponseError::KafkaStorageError.code(),
    }
}

/// The Kafka name of an error code, e.g. `TOPIC_ALREADY_EXISTS` (Kafka's spelling: the
/// CamelCase variant name of kafka-protocol, in upper snake case).
pub fn error_name(code: i16) -> String {
    match kafka_protocol::ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(kafka_protocol::ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_CODE_{c}"),
        Some(e) => {
            let camel = format!("{e:?}");
            let mut out = String::with_capacity(camel.len() + 8);
            for (i, ch) in camel.chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(ch.to_ascii_uppercase());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        assert_eq!(log_error_code(&LogError::CorruptMessage("x".into())), 2);
        assert_eq!(
            log_error_code(&LogError::MessageTooLarge { size: 2, max: 1 }),
            10
        );
        assert_eq!(log_error_code(&LogError::InvalidRecord("x".into())), 87);
        let rec = |timestamp| LogError::RecordErrors {
            timestamp,
            message: String::new(),
            errors: vec![],
        };
        assert_eq!(log_error_code(&rec(false)), 87);
        assert_eq!(log_error_code(&rec(true)), 32);
        assert_eq!(log_error_code(&LogError::Offline), 56);
        assert_eq!(
            log_error_code(&LogError::OutOfOrderSequence("x".into())),
            45
        );
        assert_eq!(
            log_error_code(&LogError::InvalidProducerEpoch("x".into())),
            47
        );
        assert_eq!(log_error_code(&LogError::InvalidTxnState("x".into())), 48);
        assert_eq!(
            log_error_code(&LogError::TransactionCoordinatorFenced("x".into())),
            52
        );
        assert_eq!(topic_error_code(&TopicError::AlreadyExists("t".into())), 36);
        assert_eq!(topic_error_code(&TopicError::InvalidName("t".into())), 17);
        assert_eq!(
            topic_error_code(&TopicError::InvalidReplicationFactor(3)),
            38
        );
        assert_eq!(topic_error_code(&TopicError::InvalidPartitions(0)), 37);
        assert_eq!(topic_error_code(&TopicError::Unknown), 3);
        assert_eq!(topic_error_code(&TopicError::DeletionDisabled), 73);
    }
}
