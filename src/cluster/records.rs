//! The metadata records: the cluster-wide state changes written to the controller quorum's
//! replicated log, in the spirit of Kafka's `metadata/src/main/resources/common/metadata/*.json`.
//!
//! A raft log entry carries one batch (`Vec<MetadataRecord>`) serialized with serde_json
//! ([`encode_batch`] / [`decode_batch`]); the raft layer sees only those bytes. A batch is
//! atomic: it is committed and applied whole, at one log index.
//!
//! Invariants the records rely on (the contract with `cluster/image.rs`):
//! - The broker epoch of a registration is the log index of the entry carrying its
//!   `RegisterBroker` (as Kafka uses the record offset); records naming a broker epoch apply
//!   only to that registration.
//! - `PartitionChange` fields left `None` keep their value. Applying one always bumps the
//!   partition epoch; a `leader: Some(_)` (even the same leader, or `-1` for none) bumps the
//!   leader epoch, as Kafka's `PartitionRegistration.merge` does.
//! - Topic ids are `uuid::Uuid`; `-1` is "no leader".
//!
//! No I/O, no clock: pure data.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One change to the cluster metadata.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum MetadataRecord {
    /// The first record ever written.
    ClusterId {
        cluster_id: String,
    },
    /// A broker (re-)registers; its broker epoch is the index of the entry carrying this.
    /// A new registration starts fenced.
    RegisterBroker {
        broker_id: i32,
        incarnation_id: Uuid,
        listeners: Vec<Endpoint>,
        rack: Option<String>,
    },
    UnregisterBroker {
        broker_id: i32,
        broker_epoch: i64,
    },
    FenceBroker {
        broker_id: i32,
        broker_epoch: i64,
    },
    UnfenceBroker {
        broker_id: i32,
        broker_epoch: i64,
    },
    Topic {
        name: String,
        topic_id: Uuid,
    },
    Partition {
        topic_id: Uuid,
        partition: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        adding_replicas: Vec<i32>,
        removing_replicas: Vec<i32>,
    },
    /// Applying a change bumps the partition epoch; `leader: Some(_)` also bumps the leader
    /// epoch (`Some(-1)` = no leader).
    PartitionChange {
        topic_id: Uuid,
        partition: i32,
        leader: Option<i32>,
        isr: Option<Vec<i32>>,
        replicas: Option<Vec<i32>>,
        adding_replicas: Option<Vec<i32>>,
        removing_replicas: Option<Vec<i32>>,
    },
    /// Removes the topic, its partitions and its config overrides.
    RemoveTopic {
        topic_id: Uuid,
    },
    /// `value: None` deletes the override.
    Config {
        resource: ConfigResource,
        name: String,
        value: Option<String>,
    },
    /// A block of producer ids was handed out; the next block starts at `next_producer_id`.
    ProducerIds {
        broker_id: i32,
        broker_epoch: i64,
        next_producer_id: i64,
    },
    /// An ACL (Kafka's `AccessControlEntryRecord`), with its id.
    AccessControlEntry {
        id: Uuid,
        acl: crate::security::acl::AclBinding,
    },
    /// An ACL removed (Kafka's `RemoveAccessControlEntryRecord`).
    RemoveAccessControlEntry {
        id: Uuid,
    },
    /// A client quota (Kafka's ClientQuotaRecord): `value: None` removes the key.
    ClientQuota {
        entity: crate::security::quota::QuotaEntity,
        key: String,
        value: Option<crate::security::quota::QuotaValue>,
    },
    /// A user's SCRAM credential for one mechanism (Kafka's `UserScramCredentialRecord`):
    /// salted values only, never a password. Replaces any earlier one for (name, mechanism).
    UserScramCredential {
        name: String,
        /// Kafka's SCRAM mechanism type: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
        mechanism: i8,
        salt: Vec<u8>,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
        iterations: i32,
    },
    /// Removes a user's SCRAM credential for one mechanism (`RemoveUserScramCredentialRecord`).
    RemoveUserScramCredential {
        name: String,
        mechanism: i8,
    },
}

/// A listener a broker advertises.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The listener name, e.g. "PLAINTEXT".
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// What a config override belongs to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigResource {
    Topic(String),
    /// A broker id; `-1` is the cluster-wide default (Kafka's empty BROKER resource name).
    Broker(i32),
    /// A group id (Kafka's GROUP resource, KIP-848): per-group overrides of the broker's
    /// `group.consumer.*` settings. Kept whether or not the group exists, as Kafka does.
    Group(String),
    /// A client metrics subscription (Kafka's CLIENT_METRICS resource, KIP-714).
    ClientMetrics(String),
}

/// The broker id of a cluster-wide default config resource.
pub const CLUSTER_DEFAULT_BROKER: i32 = -1;

/// A batch that is not a valid serialized `Vec<MetadataRecord>`.
#[derive(Debug, thiserror::Error)]
#[error("invalid metadata record batch: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

/// Serialize one batch (one raft entry's payload).
pub fn encode_batch(records: &[MetadataRecord]) -> Vec<u8> {
    match serde_json::to_vec(records) {
        Ok(bytes) => bytes,
        // Only maps with non-string keys or failing Serialize impls can fail; records have none.
        Err(e) => unreachable!("metadata records always serialize: {e}"),
    }
}

/// Parse one batch written by [`encode_batch`].
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<MetadataRecord>, DecodeError> {
    Ok(serde_json::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<MetadataRecord> {
        let id = Uuid::from_u128(7);
        vec![
            MetadataRecord::ClusterId {
                cluster_id: "abc".into(),
            },
            MetadataRecord::RegisterBroker {
                broker_id: 1,
                incarnation_id: Uuid::from_u128(9),
                listeners: vec![Endpoint {
                    name: "PLAINTEXT".into(),
                    host: "localhost".into(),
                    port: 9092,
                }],
                rack: Some("r1".into()),
            },
            MetadataRecord::UnregisterBroker {
                broker_id: 1,
                broker_epoch: 3,
            },
            MetadataRecord::FenceBroker {
                broker_id: 1,
                broker_epoch: 3,
            },
            MetadataRecord::UnfenceBroker {
                broker_id: 1,
                broker_epoch: 3,
            },
            MetadataRecord::Topic {
                name: "t".into(),
                topic_id: id,
            },
            MetadataRecord::Partition {
                topic_id: id,
                partition: 0,
                replicas: vec![1, 2],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
                adding_replicas: vec![],
                removing_replicas: vec![],
            },
            MetadataRecord::PartitionChange {
                topic_id: id,
                partition: 0,
                leader: Some(-1),
                isr: None,
                replicas: Some(vec![2]),
                adding_replicas: None,
                removing_replicas: Some(vec![]),
            },
            MetadataRecord::RemoveTopic { topic_id: id },
            MetadataRecord::Config {
                resource: ConfigResource::Broker(CLUSTER_DEFAULT_BROKER),
                name: "x".into(),
                value: None,
            },
            MetadataRecord::Config {
                resource: ConfigResource::Topic("t".into()),
                name: "retention.ms".into(),
                value: Some("1".into()),
            },
            MetadataRecord::ProducerIds {
                broker_id: 1,
                broker_epoch: 3,
                next_producer_id: 1000,
            },
            MetadataRecord::AccessControlEntry {
                id,
                acl: crate::security::acl::AclBinding {
                    pattern: crate::security::acl::ResourcePattern {
                        resource_type: crate::security::acl::ResourceType::Topic,
                        name: "t".into(),
                        pattern_type: crate::security::acl::PatternType::Prefixed,
                    },
                    entry: crate::security::acl::AccessControlEntry {
                        principal: "User:alice".into(),
                        host: "*".into(),
                        operation: crate::security::acl::AclOperation::Read,
                        permission: crate::security::acl::AclPermissionType::Allow,
                    },
                },
            },
            MetadataRecord::RemoveAccessControlEntry { id },
            MetadataRecord::ClientQuota {
                entity: [
                    ("user".to_string(), Some("alice".to_string())),
                    ("client-id".to_string(), None),
                ]
                .into_iter()
                .collect(),
                key: "producer_byte_rate".into(),
                value: Some(crate::security::quota::QuotaValue(1024.0)),
            },
        ]
    }

    #[test]
    fn every_record_kind_survives_a_batch_round_trip() {
        let batch = every_kind();
        assert_eq!(decode_batch(&encode_batch(&batch)).unwrap(), batch);
    }

    #[test]
    fn an_empty_batch_round_trips() {
        assert_eq!(decode_batch(&encode_batch(&[])).unwrap(), vec![]);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(decode_batch(b"{not json").is_err());
        assert!(decode_batch(b"[{\"NoSuchRecord\":{}}]").is_err());
    }
}
