//! Kafka's consumer-group (KIP-848) records in `__consumer_offsets`, byte for byte as Kafka's
//! group coordinator writes them (group-coordinator/src/main/resources/common/message/).
//!
//! Keys are non-flexible: an `i16` version that doubles as the record type, then strings.
//!
//! | key version | record | key fields |
//! |---|---|---|
//! | 3 | ConsumerGroupMetadata (group epoch) | group |
//! | 4 | ConsumerGroupPartitionMetadata (subscribed topics' metadata) | group |
//! | 5 | ConsumerGroupMemberMetadata (a member's subscription) | group, member |
//! | 6 | ConsumerGroupTargetAssignmentMetadata (assignment epoch) | group |
//! | 7 | ConsumerGroupTargetAssignmentMember (a member's target partitions) | group, member |
//! | 8 | ConsumerGroupCurrentMemberAssignment (a member's epoch, state, partitions) | group, member |
//!
//! Values are version 0 and flexible (compact strings and arrays, tagged fields, which
//! readers skip, except the MemberMetadata's tag 0 `ClassicMemberMetadata`: the session
//! timeout and JoinGroup protocols of a member that uses the classic protocol inside a
//! consumer group, written and read as Kafka does).
//! A tombstone (no value) deletes the key.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use uuid::Uuid;

use crate::group::records::{Reader, RecordError, Writer};

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

pub const GROUP_EPOCH_KEY: i16 = 3;
pub const PARTITION_METADATA_KEY: i16 = 4;
pub const MEMBER_METADATA_KEY: i16 = 5;
pub const TARGET_ASSIGNMENT_EPOCH_KEY: i16 = 6;
pub const TARGET_ASSIGNMENT_MEMBER_KEY: i16 = 7;
pub const CURRENT_ASSIGNMENT_KEY: i16 = 8;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsumerKey {
    GroupEpoch { group: String },
    PartitionMetadata { group: String },
    MemberMetadata { group: String, member: String },
    TargetAssignmentEpoch { group: String },
    TargetAssignmentMember { group: String, member: String },
    CurrentAssignment { group: String, member: String },
}

impl ConsumerKey {
    pub fn group(&self) -> &str {
        match self {
            ConsumerKey::GroupEpoch { group }
            | ConsumerKey::PartitionMetadata { group }
            | ConsumerKey::MemberMetadata { group, .. }
            | ConsumerKey::TargetAssignmentEpoch { group }
            | ConsumerKey::TargetAssignmentMember { group, .. }
            | ConsumerKey::CurrentAssignment { group, .. } => group,
        }
    }

    pub(crate) fn encode_into(&self, w: &mut Writer) {
        let (version, group, member) = match self {
            ConsumerKey::GroupEpoch { group } => (GROUP_EPOCH_KEY, group, None),
            ConsumerKey::PartitionMetadata { group } => (PARTITION_METADATA_KEY, group, None),
            ConsumerKey::MemberMetadata { group, member } => {
                (MEMBER_METADATA_KEY, group, Some(member))
            }
            ConsumerKey::TargetAssignmentEpoch { group } => {
                (TARGET_ASSIGNMENT_EPOCH_KEY, group, None)
            }
            ConsumerKey::TargetAssignmentMember { group, member } => {
                (TARGET_ASSIGNMENT_MEMBER_KEY, group, Some(member))
            }
            ConsumerKey::CurrentAssignment { group, member } => {
                (CURRENT_ASSIGNMENT_KEY, group, Some(member))
            }
        };
        w.i16(version);
        w.string(group);
        if let Some(m) = member {
            w.string(m);
        }
    }

    /// The key after its version (3–8) was read.
    pub(crate) fn decode_after_version(
        version: i16,
        r: &mut Reader<'_>,
    ) -> Result<Self, RecordError> {
        let group = r.string("groupId")?;
        Ok(match version {
            GROUP_EPOCH_KEY => ConsumerKey::GroupEpoch { group },
            PARTITION_METADATA_KEY => ConsumerKey::PartitionMetadata { group },
            TARGET_ASSIGNMENT_EPOCH_KEY => ConsumerKey::TargetAssignmentEpoch { group },
            MEMBER_METADATA_KEY => ConsumerKey::MemberMetadata {
                group,
                member: r.string("memberId")?,
            },
            TARGET_ASSIGNMENT_MEMBER_KEY => ConsumerKey::TargetAssignmentMember {
                group,
                member: r.string("memberId")?,
            },
            CURRENT_ASSIGNMENT_KEY => ConsumerKey::CurrentAssignment {
                group,
                member: r.string("memberId")?,
            },
            v => return Err(RecordError::UnsupportedKeyVersion(v)),
        })
    }
}

/// A flexible v0 value: the reader after the version.
fn value_reader<'a>(buf: &'a [u8], record: &'static str) -> Result<Reader<'a>, RecordError> {
    let mut r = Reader::new(buf, false);
    let version = r.i16()?;
    if version != 0 {
        return Err(RecordError::UnsupportedValueVersion { record, version });
    }
    r.set_flexible(true);
    Ok(r)
}

fn value_writer() -> Writer {
    let mut w = Writer::new(true);
    w.i16(0);
    w
}

fn read_uuid(r: &mut Reader<'_>) -> Result<Uuid, RecordError> {
    let raw = r.take(16)?;
    let mut b = [0u8; 16];
    b.copy_from_slice(raw);
    Ok(Uuid::from_bytes(b))
}

fn write_assignment(w: &mut Writer, a: &Assignment) {
    w.array_len(a.len());
    for (id, parts) in a {
        w.raw(id.as_bytes());
        w.array_len(parts.len());
        for p in parts {
            w.i32(*p);
        }
        w.tagged_fields();
    }
}

fn read_assignment(r: &mut Reader<'_>, field: &'static str) -> Result<Assignment, RecordError> {
    let n = r.array_len(field)?;
    let mut a = Assignment::new();
    for _ in 0..n {
        let id = read_uuid(r)?;
        let count = r.array_len("partitions")?;
        let mut parts = BTreeSet::new();
        for _ in 0..count {
            parts.insert(r.i32()?);
        }
        r.skip_tagged_fields()?;
        if !parts.is_empty() {
            a.entry(id).or_default().extend(parts);
        }
    }
    Ok(a)
}

/// ConsumerGroupMetadataValue and ConsumerGroupTargetAssignmentMetadataValue: one epoch.
pub fn encode_epoch(epoch: i32) -> Bytes {
    let mut w = value_writer();
    w.i32(epoch);
    w.tagged_fields();
    w.finish()
}

pub fn decode_epoch(buf: &[u8]) -> Result<i32, RecordError> {
    let mut r = value_reader(buf, "ConsumerGroupMetadataValue")?;
    let epoch = r.i32()?;
    r.skip_tagged_fields()?;
    Ok(epoch)
}

/// One topic of ConsumerGroupPartitionMetadataValue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub id: Uuid,
    pub name: String,
    pub partitions: i32,
}

/// ConsumerGroupPartitionMetadataValue (the deprecated per-partition racks written empty).
pub fn encode_partition_metadata(topics: &[TopicMetadata]) -> Bytes {
    let mut w = value_writer();
    w.array_len(topics.len());
    for t in topics {
        w.raw(t.id.as_bytes());
        w.string(&t.name);
        w.i32(t.partitions);
        w.array_len(0);
        w.tagged_fields();
    }
    w.tagged_fields();
    w.finish()
}

pub fn decode_partition_metadata(buf: &[u8]) -> Result<Vec<TopicMetadata>, RecordError> {
    let mut r = value_reader(buf, "ConsumerGroupPartitionMetadataValue")?;
    let n = r.array_len("topics")?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let id = read_uuid(&mut r)?;
        let name = r.string("topicName")?;
        let partitions = r.i32()?;
        let racks = r.array_len("partitionMetadata")?;
        for _ in 0..racks {
            r.i32()?;
            let k = r.array_len("racks")?;
            for _ in 0..k {
                r.string("rack")?;
            }
            r.skip_tagged_fields()?;
        }
        r.skip_tagged_fields()?;
        topics.push(TopicMetadata {
            id,
            name,
            partitions,
        });
    }
    r.skip_tagged_fields()?;
    Ok(topics)
}

/// ConsumerGroupMemberMetadataValue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberMetadataValue {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    /// Tagged field 0: set for a member using the classic protocol.
    pub classic: Option<ClassicMemberMetadata>,
}

/// ConsumerGroupMemberMetadataValue.ClassicMemberMetadata: what a classic member sent in
/// its JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClassicMemberMetadata {
    pub session_timeout_ms: i32,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
}

impl ClassicMemberMetadata {
    fn encode(&self) -> Bytes {
        let mut w = Writer::new(true);
        w.i32(self.session_timeout_ms);
        w.array_len(self.protocols.len());
        for (name, metadata) in &self.protocols {
            w.string(name);
            w.bytes(metadata);
            w.tagged_fields();
        }
        w.tagged_fields();
        w.finish()
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, RecordError> {
        let session_timeout_ms = r.i32()?;
        let n = r.array_len("supportedProtocols")?;
        let mut protocols = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.string("name")?;
            let metadata = r.bytes("metadata")?;
            r.skip_tagged_fields()?;
            protocols.push((name, metadata));
        }
        r.skip_tagged_fields()?;
        Ok(ClassicMemberMetadata {
            session_timeout_ms,
            protocols,
        })
    }
}

impl MemberMetadataValue {
    pub fn encode(&self) -> Bytes {
        let mut w = value_writer();
        w.nullable_string(self.instance_id.as_deref());
        w.nullable_string(self.rack_id.as_deref());
        w.string(&self.client_id);
        w.string(&self.client_host);
        w.array_len(self.subscribed_topic_names.len());
        for t in &self.subscribed_topic_names {
            w.string(t);
        }
        w.nullable_string(self.subscribed_topic_regex.as_deref());
        w.i32(self.rebalance_timeout_ms);
        w.nullable_string(self.server_assignor.as_deref());
        match &self.classic {
            None => w.tagged_fields(),
            Some(c) => {
                // One tagged field: tag 0, its size, then the nullable struct (a presence
                // varint of 1, then the struct), as Kafka's generated code writes it.
                let body = c.encode();
                w.uvarint(1);
                w.uvarint(0);
                w.uvarint(u32::try_from(body.len() + 1).unwrap_or(u32::MAX));
                w.uvarint(1);
                w.raw(&body);
            }
        }
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<Self, RecordError> {
        let mut r = value_reader(buf, "ConsumerGroupMemberMetadataValue")?;
        let instance_id = r.nullable_string()?;
        let rack_id = r.nullable_string()?;
        let client_id = r.string("clientId")?;
        let client_host = r.string("clientHost")?;
        let n = r.array_len("subscribedTopicNames")?;
        let mut subscribed_topic_names = Vec::with_capacity(n);
        for _ in 0..n {
            subscribed_topic_names.push(r.string("topic")?);
        }
        let subscribed_topic_regex = r.nullable_string()?;
        let rebalance_timeout_ms = r.i32()?;
        let server_assignor = r.nullable_string()?;
        let mut classic = None;
        let tags = r.uvarint()?;
        for _ in 0..tags {
            let tag = r.uvarint()?;
            let size = usize::try_from(r.uvarint()?).map_err(|_| RecordError::Truncated)?;
            let body = r.take(size)?;
            if tag == 0 {
                let mut t = Reader::new(body, true);
                if t.uvarint()? > 0 {
                    classic = Some(ClassicMemberMetadata::decode(&mut t)?);
                }
            }
        }
        Ok(MemberMetadataValue {
            instance_id,
            rack_id,
            client_id,
            client_host,
            subscribed_topic_names,
            subscribed_topic_regex,
            rebalance_timeout_ms,
            server_assignor,
            classic,
        })
    }
}

/// ConsumerGroupTargetAssignmentMemberValue.
pub fn encode_target_assignment(a: &Assignment) -> Bytes {
    let mut w = value_writer();
    write_assignment(&mut w, a);
    w.tagged_fields();
    w.finish()
}

pub fn decode_target_assignment(buf: &[u8]) -> Result<Assignment, RecordError> {
    let mut r = value_reader(buf, "ConsumerGroupTargetAssignmentMemberValue")?;
    let a = read_assignment(&mut r, "topicPartitions")?;
    r.skip_tagged_fields()?;
    Ok(a)
}

/// ConsumerGroupCurrentMemberAssignmentValue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CurrentAssignmentValue {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    /// Kafka's MemberState: 0 STABLE, 1 UNREVOKED_PARTITIONS, 2 UNRELEASED_PARTITIONS.
    pub state: i8,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
}

impl CurrentAssignmentValue {
    pub fn encode(&self) -> Bytes {
        let mut w = value_writer();
        w.i32(self.member_epoch);
        w.i32(self.previous_member_epoch);
        w.i8(self.state);
        write_assignment(&mut w, &self.assigned);
        write_assignment(&mut w, &self.pending_revocation);
        w.tagged_fields();
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<Self, RecordError> {
        let mut r = value_reader(buf, "ConsumerGroupCurrentMemberAssignmentValue")?;
        let member_epoch = r.i32()?;
        let previous_member_epoch = r.i32()?;
        let state = r.i8()?;
        let assigned = read_assignment(&mut r, "assignedPartitions")?;
        let pending_revocation = read_assignment(&mut r, "partitionsPendingRevocation")?;
        r.skip_tagged_fields()?;
        Ok(CurrentAssignmentValue {
            member_epoch,
            previous_member_epoch,
            state,
            assigned,
            pending_revocation,
        })
    }
}
