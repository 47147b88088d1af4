//! The records of `__share_group_state`, the compacted internal topic that keeps every
//! share-partition's delivery state (KIP-932's share-group state), modelled on Kafka's
//! `ShareSnapshotKey` / `ShareSnapshotValue`:
//!
//! - key: `i16` record type 0 (snapshot), then `GroupId` (string), `TopicId` (16 bytes),
//!   `Partition` (int32) — non-flexible, as Kafka's coordinator keys;
//! - value: `i16` version 0, then flexible: `SnapshotEpoch int32`, `StateEpoch int32`,
//!   `LeaderEpoch int32`, `StartOffset int64`, `CreateTimestamp int64`, `WriteTimestamp int64`,
//!   `StateBatches` (compact array of `FirstOffset int64, LastOffset int64, DeliveryState int8,
//!   DeliveryCount int16`, each with tagged fields), tagged fields.
//!
//! Version 1 (skua) adds, after `StateBatches`, `DlqPending` (compact array of `Offset int64,
//! DeliveryCount int16, Mark int64`, each with tagged fields): records archived as failed whose
//! dead-letter copy is not written yet, with the dead-letter partition's end offset when they
//! failed (where a restart looks for copies already written, so each goes there once).
//! skua writes version 1 only when something is pending, so the value stays Kafka's shape
//! otherwise.
//!
//! Every record is a full snapshot (skua writes no delta "update" records), so the latest
//! record per key is the state, and compaction keeps exactly that; a tombstone deletes the
//! share-partition's state (DeleteGroups, DeleteShareGroupOffsets).

use bytes::Bytes;
use uuid::Uuid;

use super::partition::{RecordState, Snapshot, StateBatch};
use crate::group::records::{Reader, RecordError, Writer};

/// The record type of a snapshot key.
pub const SNAPSHOT_KEY: i16 = 0;

/// A share-partition: (group, topic id, partition).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    pub group: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

impl StateKey {
    pub fn encode(&self) -> Bytes {
        let mut w = Writer::new(false);
        w.i16(SNAPSHOT_KEY);
        w.string(&self.group);
        w.raw(self.topic_id.as_bytes());
        w.i32(self.partition);
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<StateKey, RecordError> {
        let mut r = Reader::new(buf, false);
        let version = r.i16()?;
        if version != SNAPSHOT_KEY {
            return Err(RecordError::UnsupportedKeyVersion(version));
        }
        let group = r.string("groupId")?;
        let mut id = [0u8; 16];
        id.copy_from_slice(r.take(16)?);
        let partition = r.i32()?;
        Ok(StateKey {
            group,
            topic_id: Uuid::from_bytes(id),
            partition,
        })
    }

    /// Kafka's share coordinator key (`groupId:topicId:partition`), hashed as Kafka hashes
    /// coordinator keys onto the state topic's partitions.
    pub fn state_partition(&self, partitions: i32) -> i32 {
        let key = format!(
            "{}:{}:{}",
            self.group,
            crate::group::kafka_uuid_string(self.topic_id.as_bytes()),
            self.partition
        );
        crate::group::partition_for(&key, partitions)
    }
}

/// A failed record waiting for its dead-letter copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlqPending {
    pub offset: i64,
    pub delivery_count: u16,
    /// The dead-letter partition's end offset when the record failed (-1: unknown).
    pub mark: i64,
}

/// A snapshot with the epochs and times Kafka's value carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateValue {
    pub snapshot_epoch: i32,
    /// Changes when the share-partition is initialized again (AlterShareGroupOffsets, a
    /// re-creation after a delete): a writer holding an older state epoch is fenced.
    pub state_epoch: i32,
    pub leader_epoch: i32,
    pub create_timestamp: i64,
    pub write_timestamp: i64,
    pub snapshot: Snapshot,
    pub dlq_pending: Vec<DlqPending>,
}

impl StateValue {
    pub fn encode(&self) -> Bytes {
        let mut w = Writer::new(true);
        w.i16(if self.dlq_pending.is_empty() { 0 } else { 1 });
        w.i32(self.snapshot_epoch);
        w.i32(self.state_epoch);
        w.i32(self.leader_epoch);
        w.i64(self.snapshot.start_offset);
        w.i64(self.create_timestamp);
        w.i64(self.write_timestamp);
        w.array_len(self.snapshot.batches.len());
        for b in &self.snapshot.batches {
            w.i64(b.first_offset);
            w.i64(b.last_offset);
            w.i8(b.state.id());
            w.i16(i16::try_from(b.delivery_count).unwrap_or(i16::MAX));
            w.tagged_fields();
        }
        if !self.dlq_pending.is_empty() {
            write_dlq_pending(&mut w, &self.dlq_pending);
        }
        w.tagged_fields();
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<StateValue, RecordError> {
        let mut r = Reader::new(buf, false);
        let version = r.i16()?;
        if !(0..=1).contains(&version) {
            return Err(RecordError::UnsupportedValueVersion {
                record: "ShareSnapshotValue",
                version,
            });
        }
        r.set_flexible(true);
        let snapshot_epoch = r.i32()?;
        let state_epoch = r.i32()?;
        let leader_epoch = r.i32()?;
        let start_offset = r.i64()?;
        let create_timestamp = r.i64()?;
        let write_timestamp = r.i64()?;
        let n = r.array_len("stateBatches")?;
        let mut batches = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            let first_offset = r.i64()?;
            let last_offset = r.i64()?;
            let state = RecordState::from_id(r.i8()?).ok_or(RecordError::Truncated)?;
            let delivery_count = u16::try_from(r.i16()?.max(0)).unwrap_or(0);
            r.skip_tagged_fields()?;
            if first_offset > last_offset {
                return Err(RecordError::Truncated);
            }
            batches.push(StateBatch {
                first_offset,
                last_offset,
                state,
                delivery_count,
            });
        }
        let dlq_pending = if version >= 1 {
            read_dlq_pending(&mut r)?
        } else {
            Vec::new()
        };
        r.skip_tagged_fields()?;
        Ok(StateValue {
            snapshot_epoch,
            state_epoch,
            leader_epoch,
            create_timestamp,
            write_timestamp,
            snapshot: Snapshot {
                start_offset,
                batches,
            },
            dlq_pending,
        })
    }
}

/// What skua's share-state RPCs (Read/WriteShareGroupState between brokers) carry beyond
/// Kafka's fields, in tagged field [`SKUA_STATE_TAG`] of a partition's data: `SnapshotEpoch
/// int32`, `CreateTimestamp int64`, then `DlqPending` as in the value. Kafka's brokers skip an
/// unknown tagged field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateExtension {
    pub snapshot_epoch: i32,
    pub create_timestamp: i64,
    pub dlq_pending: Vec<DlqPending>,
}

/// The tagged field of [`StateExtension`].
pub const SKUA_STATE_TAG: i32 = 10000;

impl StateExtension {
    pub fn encode(&self) -> Bytes {
        let mut w = Writer::new(true);
        w.i32(self.snapshot_epoch);
        w.i64(self.create_timestamp);
        write_dlq_pending(&mut w, &self.dlq_pending);
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<StateExtension, RecordError> {
        let mut r = Reader::new(buf, true);
        let snapshot_epoch = r.i32()?;
        let create_timestamp = r.i64()?;
        let dlq_pending = read_dlq_pending(&mut r)?;
        Ok(StateExtension {
            snapshot_epoch,
            create_timestamp,
            dlq_pending,
        })
    }
}

/// `DlqPending` (compact array of `Offset int64, DeliveryCount int16, Mark int64`).
fn write_dlq_pending(w: &mut Writer, pending: &[DlqPending]) {
    w.array_len(pending.len());
    for d in pending {
        w.i64(d.offset);
        w.i16(i16::try_from(d.delivery_count).unwrap_or(i16::MAX));
        w.i64(d.mark);
        w.tagged_fields();
    }
}

fn read_dlq_pending(r: &mut Reader) -> Result<Vec<DlqPending>, RecordError> {
    let n = r.array_len("dlqPending")?;
    let mut pending = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let offset = r.i64()?;
        let delivery_count = u16::try_from(r.i16()?.max(0)).unwrap_or(0);
        let mark = r.i64()?;
        r.skip_tagged_fields()?;
        pending.push(DlqPending {
            offset,
            delivery_count,
            mark,
        });
    }
    Ok(pending)
}

/// Kafka's `StateBatch`es of the share-state RPCs as (first offset, last offset, delivery
/// state, delivery count), into the state machine's; None if one is not valid.
pub fn batches_from_wire(
    batches: impl IntoIterator<Item = (i64, i64, i8, i16)>,
) -> Option<Vec<StateBatch>> {
    batches
        .into_iter()
        .map(|(first, last, state, count)| {
            (first <= last).then_some(())?;
            Some(StateBatch {
                first_offset: first,
                last_offset: last,
                state: RecordState::from_id(state)?,
                delivery_count: u16::try_from(count.max(0)).unwrap_or(0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let key = StateKey {
            group: "g".into(),
            topic_id: Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
            partition: 3,
        };
        assert_eq!(StateKey::decode(&key.encode()).unwrap(), key);
        let v = StateValue {
            snapshot_epoch: 7,
            state_epoch: 3,
            leader_epoch: 2,
            create_timestamp: 10,
            write_timestamp: 20,
            snapshot: Snapshot {
                start_offset: 5,
                batches: vec![
                    StateBatch {
                        first_offset: 5,
                        last_offset: 9,
                        state: RecordState::Available,
                        delivery_count: 2,
                    },
                    StateBatch {
                        first_offset: 10,
                        last_offset: 10,
                        state: RecordState::Acknowledged,
                        delivery_count: 1,
                    },
                ],
            },
            dlq_pending: Vec::new(),
        };
        assert_eq!(StateValue::decode(&v.encode()).unwrap(), v);
        assert_eq!(v.encode()[..2], [0, 0]);
        let with_pending = StateValue {
            dlq_pending: vec![DlqPending {
                offset: 6,
                delivery_count: 5,
                mark: 12,
            }],
            ..v.clone()
        };
        assert_eq!(
            StateValue::decode(&with_pending.encode()).unwrap(),
            with_pending
        );
        // Truncated input is an error, never a panic.
        let bytes = v.encode();
        for n in 0..bytes.len() {
            assert!(StateValue::decode(&bytes[..n]).is_err());
        }
        assert!(key.state_partition(50) >= 0 && key.state_partition(50) < 50);
        let ext = StateExtension {
            snapshot_epoch: 4,
            create_timestamp: 99,
            dlq_pending: with_pending.dlq_pending.clone(),
        };
        let bytes = ext.encode();
        assert_eq!(StateExtension::decode(&bytes).unwrap(), ext);
        for n in 0..bytes.len() {
            assert!(StateExtension::decode(&bytes[..n]).is_err());
        }
    }
}
