//! The openraft type configuration of the metadata quorum, and the opaque payload newtype.
//!
//! - `NodeId` is Kafka's `node.id` (u64 here; node ids are non-negative i32 in Kafka).
//! - `Node` is openraft's `BasicNode`. Its address is deliberately left empty in the membership:
//!   every voter initializes the cluster with the same (id-only) membership, so the entry at
//!   index 0 is identical on every node, and peers are found through the local
//!   `controller.quorum.voters` map (see `network.rs`), never through the membership. A learner
//!   (a broker-only node, added by `add_learner`) is the exception: it is in no voters map, so
//!   its entry carries the address the leader reaches it at.
//! - The application data of a normal entry is [`Payload`]: opaque bytes (the integrator puts a
//!   serde_json `Vec<MetadataRecord>` in it). The response of an applied entry is its log index.
//!
//! [`Payload`] serializes as a JSON string when the bytes are UTF-8 (the common case: the
//! payload is itself JSON, so the raft log and the wire stay compact and readable) and as an
//! array of byte values otherwise; deserialization accepts both, and round-trips byte for byte.

use std::fmt;
use std::io::Cursor;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

openraft::declare_raft_types!(
    /// The metadata quorum's raft types.
    pub TypeConfig:
        D = Payload,
        R = u64,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A Kafka node id, as raft sees it.
pub type NodeId = u64;
/// One entry of the metadata log.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id (leader term + node, index).
pub type LogId = openraft::LogId<NodeId>;
/// The openraft handle.
pub type Raft = openraft::Raft<TypeConfig>;
/// What storage operations return to openraft.
pub type StorageError = openraft::StorageError<NodeId>;
/// Membership as stored in the state machine and snapshots.
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
/// The metadata of a snapshot.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;

/// The opaque bytes of a normal log entry or of an application RPC.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Payload(pub Vec<u8>);

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({} bytes)", self.0.len())
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => serializer.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a sequence of bytes")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Payload, E> {
        Ok(Payload(v.as_bytes().to_vec()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Payload, E> {
        Ok(Payload(v.into_bytes()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Payload, E> {
        Ok(Payload(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Payload, E> {
        Ok(Payload(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Payload, A::Error> {
        // The size hint comes from the input; cap the pre-allocation.
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64 * 1024));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Ok(Payload(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_payload_is_a_json_string_and_round_trips() {
        let p = Payload(br#"[{"ClusterId":{"cluster_id":"x"}}]"#.to_vec());
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.starts_with('"'), "{json}");
        assert_eq!(serde_json::from_str::<Payload>(&json).unwrap(), p);
    }

    #[test]
    fn binary_payload_round_trips_as_an_array() {
        let p = Payload(vec![0xff, 0, 1, 0xc3]);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "[255,0,1,195]");
        assert_eq!(serde_json::from_str::<Payload>(&json).unwrap(), p);
    }
}
