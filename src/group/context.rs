//! What one call into the coordinator writes to: the time of the call, the config, and the
//! [`Outcome`] being built (responses, `__consumer_offsets` records, timer operations).

use super::classic::Group;
use super::records::RecordKey;
use super::types::{GroupConfig, Outcome, Record, RequestId, Response, TimerKey, TimerOp};

/// Kafka's `group.classic.new.member.join.timeout.ms` (fixed at 5 minutes there too): a new
/// member's parked JoinGroup expires after this long, since it cannot heartbeat yet.
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: i64 = 5 * 60 * 1000;

pub struct Cx<'a> {
    pub now_ms: i64,
    pub config: &'a GroupConfig,
    pub out: &'a mut Outcome,
}

impl Cx<'_> {
    pub fn respond(&mut self, id: RequestId, response: Response) {
        self.out.responses.push((id, response));
    }

    /// Arms `key` at `now + delay_ms` (negative delays fire at once); returns the deadline.
    pub fn set_timer_in(&mut self, key: TimerKey, delay_ms: i64) -> i64 {
        let deadline_ms = self.now_ms.saturating_add(delay_ms.max(0));
        self.out.timers.push(TimerOp::Set { key, deadline_ms });
        deadline_ms
    }

    pub fn cancel_timer(&mut self, key: TimerKey) {
        self.out.timers.push(TimerOp::Cancel { key });
    }

    /// Appends a record to the Outcome (the caller applies it to state).
    pub fn push_record(&mut self, key: &RecordKey, value: Option<bytes::Bytes>) {
        let partition = partition_for(key.group(), self.config.offsets_topic_partitions);
        self.out.records.push(Record {
            partition,
            key: key.encode(),
            value,
            producer: None,
        });
    }

    /// The group's GroupMetadata record, a snapshot of its persistent fields. The live
    /// group already holds this state, so (unlike offset records) it is not re-applied.
    pub fn group_metadata_record(&mut self, group: &Group) {
        let key = RecordKey::GroupMetadata {
            group: group.group_id.clone(),
        };
        let value = group.metadata_value().encode();
        self.push_record(&key, Some(value));
    }
}

pub fn session_key(group_id: &str, member_id: &str) -> TimerKey {
    TimerKey::Session {
        group_id: group_id.to_string(),
        member_id: member_id.to_string(),
    }
}

pub fn join_key(group_id: &str) -> TimerKey {
    TimerKey::Join {
        group_id: group_id.to_string(),
    }
}

pub fn sync_key(group_id: &str) -> TimerKey {
    TimerKey::Sync {
        group_id: group_id.to_string(),
    }
}

/// Java's `String.hashCode` (over UTF-16 code units, wrapping).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Kafka's partitionFor: `Utils.abs(groupId.hashCode()) % partitions`, where
/// `Utils.abs(Integer.MIN_VALUE)` is 0.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let hash = java_string_hash(group_id);
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions.max(1)
}
