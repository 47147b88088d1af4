//! Kafka's `__consumer_offsets` record format: the keys and values the classic group
//! coordinator writes, byte for byte as Kafka writes them, so a log written by skua can be read
//! by Kafka's tools and the other way round.
//!
//! # On-disk format
//!
//! Every key and every value starts with a big-endian `i16` schema version, followed by the
//! struct in Kafka's message encoding (big-endian integers; `string` = `i16` length + UTF-8,
//! `-1` for null; `bytes` = `i32` length + data; arrays = `i32` count + elements). Flexible
//! versions (value v4) use compact strings/bytes/arrays (unsigned varint length + 1, `0` for
//! null) and end every struct with tagged fields (`uvarint` count, then `uvarint` tag,
//! `uvarint` size and data per field), which readers skip.
//!
//! * Key v0/v1 — `OffsetCommitKey { group, topic, partition: i32 }` (written as v1).
//! * Key v2 — `GroupMetadataKey { group }`.
//! * `OffsetCommitValue` v0 `{offset, metadata, commitTimestamp}`, v1 adds `expireTimestamp`,
//!   v2 = v0, v3 `{offset, leaderEpoch, metadata, commitTimestamp}`, v4 = flexible v3. Written
//!   as v3, or as v1 when the commit carries an explicit expire timestamp (OffsetCommit v2–4
//!   with a retention time), which is what Kafka does (v1 has no leader epoch).
//! * `GroupMetadataValue` v0 `{protocolType, generation, protocol?, leader?, members}`, v1 adds
//!   the members' `rebalanceTimeout`, v2 `currentStateTimestamp`, v3 the members'
//!   `groupInstanceId`, v4 = flexible v3. Written as v3.
//!
//! A tombstone (no value) deletes the key. Readers accept every version Kafka defines
//! (0–4 for values) and reject others with a typed [`RecordError`]; nothing here panics on bad
//! input, and no length read from input is allocated before it is checked against the bytes
//! that remain. Writers assume strings fit Kafka's `i16` length; the coordinator rejects
//! requests whose strings do not (see `MAX_RECORD_STRING_BYTES`).
//!
//! The bounds-checked [`Reader`] and the [`Writer`] are crate-visible: `__transaction_state`
//! records (src/txn/records.rs) use the same message encoding.

use bytes::{BufMut, Bytes, BytesMut};

/// The longest string a non-flexible record schema can hold (`i16` length prefix).
pub const MAX_RECORD_STRING_BYTES: usize = i16::MAX as usize;

/// Key schema versions.
const OFFSET_COMMIT_KEY_V0: i16 = 0;
const OFFSET_COMMIT_KEY_V1: i16 = 1;
const GROUP_METADATA_KEY_V2: i16 = 2;

/// A malformed or unknown `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record truncated")]
    Truncated,
    #[error("unsupported record key version {0}")]
    UnsupportedKeyVersion(i16),
    #[error("unsupported {record} value version {version}")]
    UnsupportedValueVersion { record: &'static str, version: i16 },
    #[error("invalid length {0}")]
    InvalidLength(i64),
    #[error("null value for non-nullable field {0}")]
    NullField(&'static str),
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("unsigned varint too long")]
    VarintTooLong,
}

/// The key of a `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    OffsetCommit {
        group: String,
        topic: String,
        partition: i32,
    },
    GroupMetadata {
        group: String,
    },
    /// A consumer-group (KIP-848) record: key versions 3–8.
    Consumer(super::consumer::records::ConsumerKey),
    /// A share group's `ShareGroupMetadata` record (key version 11): the group exists, with
    /// its group epoch (value: flexible v0 `Epoch int32, MetadataHash int64`).
    ShareGroup {
        group: String,
    },
}

/// Key version of Kafka's ShareGroupMetadataKey.
pub const SHARE_GROUP_METADATA_KEY: i16 = 11;

/// `OffsetCommitValue` (all versions folded into one shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub offset: i64,
    /// -1 when unknown (and always in v0–v2).
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Only v1 carries it; `None` otherwise (Kafka's default -1).
    pub expire_timestamp: Option<i64>,
}

/// One member in a `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    pub member_id: String,
    /// v3+.
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// v1+; -1 when absent (readers then use the session timeout).
    pub rebalance_timeout: i32,
    pub session_timeout: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// `GroupMetadataValue` (all versions folded into one shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// "" when the group has no protocol type (a simple group).
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// v2+; -1 when absent.
    pub current_state_timestamp: i64,
    pub members: Vec<MemberMetadata>,
}

impl RecordKey {
    /// The group the record belongs to.
    pub fn group(&self) -> &str {
        match self {
            RecordKey::OffsetCommit { group, .. }
            | RecordKey::GroupMetadata { group }
            | RecordKey::ShareGroup { group } => group,
            RecordKey::Consumer(k) => k.group(),
        }
    }

    /// Kafka's bytes: OffsetCommitKey v1 or GroupMetadataKey v2.
    pub fn encode(&self) -> Bytes {
        let mut w = Writer::new(false);
        match self {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => {
                w.i16(OFFSET_COMMIT_KEY_V1);
                w.string(group);
                w.string(topic);
                w.i32(*partition);
            }
            RecordKey::GroupMetadata { group } => {
                w.i16(GROUP_METADATA_KEY_V2);
                w.string(group);
            }
            RecordKey::Consumer(k) => k.encode_into(&mut w),
            RecordKey::ShareGroup { group } => {
                w.i16(SHARE_GROUP_METADATA_KEY);
                w.string(group);
            }
        }
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(buf, false);
        match r.i16()? {
            OFFSET_COMMIT_KEY_V0 | OFFSET_COMMIT_KEY_V1 => Ok(RecordKey::OffsetCommit {
                group: r.string("group")?,
                topic: r.string("topic")?,
                partition: r.i32()?,
            }),
            GROUP_METADATA_KEY_V2 => Ok(RecordKey::GroupMetadata {
                group: r.string("group")?,
            }),
            v @ 3..=8 => Ok(RecordKey::Consumer(
                super::consumer::records::ConsumerKey::decode_after_version(v, &mut r)?,
            )),
            SHARE_GROUP_METADATA_KEY => Ok(RecordKey::ShareGroup {
                group: r.string("groupId")?,
            }),
            v => Err(RecordError::UnsupportedKeyVersion(v)),
        }
    }
}

impl OffsetCommitValue {
    /// The version Kafka writes: v1 with an explicit expire timestamp, else v3.
    pub fn write_version(&self) -> i16 {
        if self.expire_timestamp.is_some() {
            1
        } else {
            3
        }
    }

    pub fn encode(&self) -> Bytes {
        self.encode_version(self.write_version())
    }

    /// Encodes with an explicit version (0–4); fields the version lacks are dropped. Used by
    /// tests to produce every version Kafka may have written.
    pub fn encode_version(&self, version: i16) -> Bytes {
        assert!((0..=4).contains(&version), "OffsetCommitValue v{version}");
        let mut w = Writer::new(version >= 4);
        w.i16(version);
        w.i64(self.offset);
        if version >= 3 {
            w.i32(self.leader_epoch);
        }
        w.string(&self.metadata);
        w.i64(self.commit_timestamp);
        if version == 1 {
            w.i64(self.expire_timestamp.unwrap_or(-1));
        }
        w.tagged_fields();
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<Self, RecordError> {
        let (mut r, version) = Reader::value(buf, "OffsetCommitValue")?;
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
        let metadata = r.string("metadata")?;
        let commit_timestamp = r.i64()?;
        let expire_timestamp = if version == 1 {
            Some(r.i64()?).filter(|&t| t != -1)
        } else {
            None
        };
        r.skip_tagged_fields()?;
        Ok(OffsetCommitValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp,
            expire_timestamp,
        })
    }
}

impl GroupMetadataValue {
    /// The version Kafka writes (highest non-flexible).
    pub const WRITE_VERSION: i16 = 3;

    pub fn encode(&self) -> Bytes {
        self.encode_version(Self::WRITE_VERSION)
    }

    /// Encodes with an explicit version (0–4); fields the version lacks are dropped.
    pub fn encode_version(&self, version: i16) -> Bytes {
        assert!((0..=4).contains(&version), "GroupMetadataValue v{version}");
        let mut w = Writer::new(version >= 4);
        w.i16(version);
        w.string(&self.protocol_type);
        w.i32(self.generation);
        w.nullable_string(self.protocol.as_deref());
        w.nullable_string(self.leader.as_deref());
        if version >= 2 {
            w.i64(self.current_state_timestamp);
        }
        w.array_len(self.members.len());
        for m in &self.members {
            w.string(&m.member_id);
            if version >= 3 {
                w.nullable_string(m.group_instance_id.as_deref());
            }
            w.string(&m.client_id);
            w.string(&m.client_host);
            if version >= 1 {
                w.i32(m.rebalance_timeout);
            }
            w.i32(m.session_timeout);
            w.bytes(&m.subscription);
            w.bytes(&m.assignment);
            w.tagged_fields();
        }
        w.tagged_fields();
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<Self, RecordError> {
        let (mut r, version) = Reader::value(buf, "GroupMetadataValue")?;
        let protocol_type = r.string("protocolType")?;
        let generation = r.i32()?;
        let protocol = r.nullable_string()?;
        let leader = r.nullable_string()?;
        let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
        let count = r.array_len("members")?;
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            members.push(decode_member(&mut r, version)?);
        }
        r.skip_tagged_fields()?;
        Ok(GroupMetadataValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

fn decode_member(r: &mut Reader<'_>, version: i16) -> Result<MemberMetadata, RecordError> {
    let member_id = r.string("memberId")?;
    let group_instance_id = if version >= 3 {
        r.nullable_string()?
    } else {
        None
    };
    let client_id = r.string("clientId")?;
    let client_host = r.string("clientHost")?;
    let rebalance_timeout = if version >= 1 { r.i32()? } else { -1 };
    let session_timeout = r.i32()?;
    let subscription = r.bytes("subscription")?;
    let assignment = r.bytes("assignment")?;
    r.skip_tagged_fields()?;
    Ok(MemberMetadata {
        member_id,
        group_instance_id,
        client_id,
        client_host,
        rebalance_timeout,
        session_timeout,
        subscription,
        assignment,
    })
}

/// Bounds-checked reader over one record's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    flexible: bool,
}

impl<'a> Reader<'a> {
    /// A value record: its i16 version (0–4 for both value schemas; 4+ is flexible), and a
    /// reader positioned after it.
    fn value(buf: &'a [u8], record: &'static str) -> Result<(Self, i16), RecordError> {
        let mut r = Reader::new(buf, false);
        let version = r.i16()?;
        if !(0..=4).contains(&version) {
            return Err(RecordError::UnsupportedValueVersion { record, version });
        }
        r.flexible = version >= 4;
        Ok((r, version))
    }

    pub(crate) fn new(buf: &'a [u8], flexible: bool) -> Self {
        Reader { buf, flexible }
    }

    /// Switch to (or from) the flexible encoding, e.g. after a value's version prefix.
    pub(crate) fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, RecordError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(crate) fn uvarint(&mut self) -> Result<u32, RecordError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let [b] = self.array::<1>()?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordError::VarintTooLong)
    }

    /// Length of a string/bytes/array: `None` for null.
    fn length(&mut self, wide: bool) -> Result<Option<usize>, RecordError> {
        let len: i64 = if self.flexible {
            i64::from(self.uvarint()?) - 1
        } else if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        match len {
            -1 => Ok(None),
            n if n < -1 => Err(RecordError::InvalidLength(n)),
            n => usize::try_from(n)
                .map(Some)
                .map_err(|_| RecordError::InvalidLength(n)),
        }
    }

    pub(crate) fn nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        match self.length(false)? {
            None => Ok(None),
            Some(n) => {
                let raw = self.take(n)?;
                let s = std::str::from_utf8(raw).map_err(|_| RecordError::InvalidUtf8)?;
                Ok(Some(s.to_string()))
            }
        }
    }

    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, RecordError> {
        self.nullable_string()?.ok_or(RecordError::NullField(field))
    }

    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<Bytes, RecordError> {
        let n = self.length(true)?.ok_or(RecordError::NullField(field))?;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }

    /// Element count of a non-nullable array, bounded by the bytes left (every element
    /// takes at least one byte) so a corrupt count cannot cause a huge allocation.
    pub(crate) fn array_len(&mut self, field: &'static str) -> Result<usize, RecordError> {
        let n = self.length(true)?.ok_or(RecordError::NullField(field))?;
        if n > self.buf.len() {
            return Err(RecordError::Truncated);
        }
        Ok(n)
    }

    /// Element count of a nullable array (`None` for null), bounded like [`Self::array_len`].
    pub(crate) fn nullable_array_len(&mut self) -> Result<Option<usize>, RecordError> {
        match self.length(true)? {
            Some(n) if n > self.buf.len() => Err(RecordError::Truncated),
            n => Ok(n),
        }
    }

    pub(crate) fn skip_tagged_fields(&mut self) -> Result<(), RecordError> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint()?;
        for _ in 0..count {
            let _tag = self.uvarint()?;
            let size = self.uvarint()?;
            let size = usize::try_from(size).map_err(|_| RecordError::Truncated)?;
            self.take(size)?;
        }
        Ok(())
    }
}

/// Writer in Kafka's message encoding, flexible (compact) or not.
pub(crate) struct Writer {
    buf: BytesMut,
    flexible: bool,
}

impl Writer {
    pub(crate) fn new(flexible: bool) -> Self {
        Writer {
            buf: BytesMut::with_capacity(64),
            flexible,
        }
    }

    pub(crate) fn finish(self) -> Bytes {
        self.buf.freeze()
    }

    pub(crate) fn i8(&mut self, v: i8) {
        self.buf.put_i8(v);
    }

    pub(crate) fn i16(&mut self, v: i16) {
        self.buf.put_i16(v);
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.put_i32(v);
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.put_i64(v);
    }

    pub(crate) fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.put_u8((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.buf.put_u8(v as u8);
    }

    /// Compact lengths are `len + 1`; `None` (null) is 0 / -1.
    fn length(&mut self, len: Option<usize>, wide: bool) {
        if self.flexible {
            let v = len.map_or(0, |n| u32::try_from(n + 1).unwrap_or(u32::MAX));
            self.uvarint(v);
        } else if wide {
            self.i32(len.map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)));
        } else {
            let n = len.map_or(-1, |n| {
                // The coordinator rejects longer strings before they reach a record.
                assert!(n <= MAX_RECORD_STRING_BYTES, "record string of {n} bytes");
                n as i16
            });
            self.i16(n);
        }
    }

    pub(crate) fn nullable_string(&mut self, s: Option<&str>) {
        self.length(s.map(str::len), false);
        if let Some(s) = s {
            self.buf.put_slice(s.as_bytes());
        }
    }

    pub(crate) fn string(&mut self, s: &str) {
        self.nullable_string(Some(s));
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.length(Some(b.len()), true);
        self.buf.put_slice(b);
    }

    /// Bytes as they are (a `uuid` field: 16 bytes).
    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.buf.put_slice(b);
    }

    pub(crate) fn array_len(&mut self, n: usize) {
        self.length(Some(n), true);
    }

    /// A nullable array's element count; `None` writes null.
    pub(crate) fn nullable_array_len(&mut self, n: Option<usize>) {
        self.length(n, true);
    }

    pub(crate) fn tagged_fields(&mut self) {
        if self.flexible {
            self.uvarint(0);
        }
    }
}
