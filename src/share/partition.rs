//! One share-partition (KIP-932): the delivery state of a topic partition's records for one share
//! group, as Kafka's `SharePartition` keeps it, as a pure state machine (time comes in as
//! `now_ms`; no clock, no I/O).
//!
//! - **Offsets.** `start_offset` (Kafka's SPSO) is the first offset not yet in a terminal state;
//!   everything below it is done (acknowledged or archived). `end_offset` is one past the last
//!   offset ever acquired (Kafka's SPEO + 1). The in-flight records are those in
//!   `[start_offset, end_offset)`; only they carry state.
//! - **States.** AVAILABLE → ACQUIRED (by one member, with a lock deadline) → ACKNOWLEDGED
//!   (ACCEPT) / ARCHIVED (REJECT, GAP, or released past the delivery limit) / AVAILABLE again
//!   (RELEASE, lock expiry, the member leaving). ACKNOWLEDGED and ARCHIVED are terminal. RENEW
//!   (KIP-1222) keeps a record ACQUIRED by its holder with a new full lock from now, its
//!   delivery count unchanged.
//! - **Delivery count.** Raised by each acquisition; a record released (or whose lock expires)
//!   once its count reached `delivery_count_limit` is archived instead of made available, so no
//!   record is ever delivered more than the limit.
//! - **In-flight cap.** At most `max_record_locks` non-terminal in-flight records: acquisition of
//!   new offsets stops there (Kafka's `share.partition.max.record.locks`).
//! - **skua's redelivery backoff** (off unless configured): a record that goes back to AVAILABLE
//!   on its i-th delivery becomes acquirable only `backoff_ms[i-1]` later (the last value repeats).
//! - **Persistence.** [`SharePartition::snapshot`] is what must be durable (Kafka's ShareSnapshot:
//!   start offset and state batches); an ACQUIRED record is stored as AVAILABLE with its delivery
//!   count, so a restart makes it available again without losing a delivery attempt.
//!   [`SharePartition::restore`] is its inverse.
//!
//! Invariants (checked by the property tests): a record is held by at most one member; its
//! delivery count never exceeds the limit; a terminal state never changes; `start_offset` never
//! moves back; the in-flight cap holds.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Per-partition settings, from the group's share configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareConfig {
    /// `share.record.lock.duration.ms`.
    pub record_lock_duration_ms: i64,
    /// `share.delivery.count.limit`.
    pub delivery_count_limit: u16,
    /// `share.partition.max.record.locks`.
    pub max_record_locks: usize,
    /// `skua.share.redelivery.backoff.ms` (empty: Kafka's behaviour, available at once).
    pub redelivery_backoff_ms: Vec<i64>,
}

impl Default for ShareConfig {
    /// Kafka 4.2's defaults.
    fn default() -> ShareConfig {
        ShareConfig {
            record_lock_duration_ms: 30_000,
            delivery_count_limit: 5,
            max_record_locks: 2000,
            redelivery_backoff_ms: Vec::new(),
        }
    }
}

/// A record's delivery state; the numbers are Kafka's `RecordState` ids (persisted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordState {
    Available = 0,
    Acquired = 1,
    Acknowledged = 2,
    Archived = 4,
}

impl RecordState {
    pub fn is_terminal(self) -> bool {
        matches!(self, RecordState::Acknowledged | RecordState::Archived)
    }

    pub fn id(self) -> i8 {
        self as i8
    }

    pub fn from_id(id: i8) -> Option<RecordState> {
        match id {
            0 => Some(RecordState::Available),
            1 => Some(RecordState::Acquired),
            2 => Some(RecordState::Acknowledged),
            4 => Some(RecordState::Archived),
            _ => None,
        }
    }
}

/// An acknowledgement type (ShareFetch / ShareAcknowledge `AcknowledgeTypes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckType {
    /// The offset holds no record (a compacted gap, a control record): archived.
    Gap = 0,
    Accept = 1,
    Release = 2,
    Reject = 3,
    /// KIP-1222 (ShareFetch / ShareAcknowledge v2): the holder keeps the record, with a new
    /// full acquisition lock from now; the delivery count does not change. Which request
    /// versions may carry it is the API layer's concern.
    Renew = 4,
}

impl AckType {
    pub fn from_id(id: i8) -> Option<AckType> {
        match id {
            0 => Some(AckType::Gap),
            1 => Some(AckType::Accept),
            2 => Some(AckType::Release),
            3 => Some(AckType::Reject),
            4 => Some(AckType::Renew),
            _ => None,
        }
    }
}

/// Why an acknowledgement was refused (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// A malformed batch: first > last, or a types array that is neither one type nor one per
    /// offset, or an unknown type (Kafka: INVALID_REQUEST).
    #[error("invalid acknowledgement batch: {0}")]
    InvalidRequest(&'static str),
    /// An offset that is not acquired by this member (Kafka: INVALID_RECORD_STATE).
    #[error("offset {0} is not acquired by this member")]
    InvalidRecordState(i64),
}

/// A run of acquired offsets with one delivery count (ShareFetch's `AcquiredRecords`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acquired {
    pub first_offset: i64,
    pub last_offset: i64,
    pub delivery_count: u16,
}

/// A record that reached ARCHIVED because it failed (rejected, or released past the delivery
/// limit): what a dead-letter queue receives. GAP acks and records archived below a moved log
/// start are not failures and are not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    pub offset: i64,
    pub delivery_count: u16,
}

/// One persisted run of offsets with one state and delivery count (Kafka's `StateBatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateBatch {
    pub first_offset: i64,
    pub last_offset: i64,
    pub state: RecordState,
    pub delivery_count: u16,
}

/// What must be durable for a share-partition (Kafka's ShareSnapshot value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub start_offset: i64,
    pub batches: Vec<StateBatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct InFlight {
    state: RecordState,
    delivery_count: u16,
    /// The holder while ACQUIRED.
    member: Option<Arc<str>>,
    /// ACQUIRED: when the lock expires. AVAILABLE: not acquirable before (backoff).
    deadline_ms: i64,
}

/// The state of one share-partition.
#[derive(Debug, Clone)]
pub struct SharePartition {
    cfg: ShareConfig,
    start_offset: i64,
    end_offset: i64,
    records: BTreeMap<i64, InFlight>,
}

impl SharePartition {
    /// A share-partition whose delivery starts at `start_offset` (from `share.auto.offset.reset`
    /// or an AlterShareGroupOffsets).
    pub fn new(start_offset: i64, cfg: ShareConfig) -> SharePartition {
        SharePartition {
            cfg,
            start_offset,
            end_offset: start_offset,
            records: BTreeMap::new(),
        }
    }

    /// Rebuild from a snapshot. Batches below the start offset, overlapping or malformed ones
    /// are skipped (a snapshot is trusted only as far as it is consistent). A record stored as
    /// available whose delivery count reached the limit was held when the state was saved and
    /// its last delivery never came back: it is archived (and returned, for a dead-letter queue).
    pub fn restore(snapshot: &Snapshot, cfg: ShareConfig) -> (SharePartition, Vec<Failed>) {
        let mut p = SharePartition::new(snapshot.start_offset, cfg);
        for b in &snapshot.batches {
            if b.first_offset > b.last_offset || b.last_offset < p.start_offset {
                continue;
            }
            let state = match b.state {
                RecordState::Acquired => RecordState::Available,
                s => s,
            };
            let count = b.delivery_count;
            for o in b.first_offset.max(p.start_offset).max(p.end_offset)..=b.last_offset {
                p.records.insert(
                    o,
                    InFlight {
                        state,
                        delivery_count: count,
                        member: None,
                        deadline_ms: 0,
                    },
                );
            }
            p.end_offset = p.end_offset.max(b.last_offset + 1);
        }
        // Offsets between the stored batches were never delivered: available.
        for o in p.start_offset..p.end_offset {
            p.records.entry(o).or_insert(InFlight {
                state: RecordState::Available,
                delivery_count: 0,
                member: None,
                deadline_ms: 0,
            });
        }
        let failed = p.archive_exhausted();
        p.advance_start();
        (p, failed)
    }

    /// Archive the available records whose delivery count reached the limit (after a restore,
    /// or a lowered limit): they may not be delivered again.
    fn archive_exhausted(&mut self) -> Vec<Failed> {
        let limit = self.cfg.delivery_count_limit;
        let mut failed = Vec::new();
        for (o, r) in self.records.iter_mut() {
            if r.state == RecordState::Available && r.delivery_count >= limit {
                finish(r, RecordState::Archived);
                failed.push(Failed {
                    offset: *o,
                    delivery_count: r.delivery_count,
                });
            }
        }
        failed
    }

    pub fn config(&self) -> &ShareConfig {
        &self.cfg
    }

    /// Replace the settings (a group config change); locks already taken keep their deadlines.
    /// Available records past a lowered delivery limit are archived and returned.
    pub fn set_config(&mut self, cfg: ShareConfig) -> Vec<Failed> {
        self.cfg = cfg;
        let failed = self.archive_exhausted();
        self.advance_start();
        failed
    }

    /// Kafka's SPSO.
    pub fn start_offset(&self) -> i64 {
        self.start_offset
    }

    /// One past the last offset ever acquired.
    pub fn end_offset(&self) -> i64 {
        self.end_offset
    }

    /// Non-terminal in-flight records (what the in-flight cap counts).
    pub fn in_flight(&self) -> usize {
        self.records
            .values()
            .filter(|r| !r.state.is_terminal())
            .count()
    }

    /// Records of each state in flight: (available, acquired, acknowledged, archived).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for r in self.records.values() {
            match r.state {
                RecordState::Available => c.0 += 1,
                RecordState::Acquired => c.1 += 1,
                RecordState::Acknowledged => c.2 += 1,
                RecordState::Archived => c.3 += 1,
            }
        }
        c
    }

    /// The state, delivery count and holder of an in-flight offset.
    pub fn record(&self, offset: i64) -> Option<(RecordState, u16, Option<&str>)> {
        self.records
            .get(&offset)
            .map(|r| (r.state, r.delivery_count, r.member.as_deref()))
    }

    /// Where the next log read for this partition starts: the first in-flight record that can be
    /// acquired now, else `end_offset`.
    pub fn next_fetch_offset(&self, now_ms: i64) -> i64 {
        self.records
            .iter()
            .find(|(_, r)| r.state == RecordState::Available && r.deadline_ms <= now_ms)
            .map_or(self.end_offset, |(o, _)| *o)
    }

    /// Acquire for `member` up to `max_records` records among those that exist below
    /// `fetch_end` (the high watermark, or the last stable offset under read_committed): first
    /// the in-flight records that are available now, then new offsets from `end_offset`, as far
    /// as the in-flight cap allows. Returns the acquired runs in offset order.
    pub fn acquire(
        &mut self,
        member: &str,
        max_records: usize,
        fetch_end: i64,
        now_ms: i64,
    ) -> Vec<Acquired> {
        let member: Arc<str> = Arc::from(member);
        let deadline = now_ms.saturating_add(self.cfg.record_lock_duration_ms);
        let mut taken: Vec<(i64, u16)> = Vec::new();
        for (o, r) in self.records.range_mut(..fetch_end) {
            if taken.len() >= max_records {
                break;
            }
            if r.state == RecordState::Available && r.deadline_ms <= now_ms {
                r.state = RecordState::Acquired;
                r.delivery_count = r.delivery_count.saturating_add(1);
                r.member = Some(Arc::clone(&member));
                r.deadline_ms = deadline;
                taken.push((*o, r.delivery_count));
            }
        }
        let room = self.cfg.max_record_locks.saturating_sub(self.in_flight());
        let fresh = (max_records - taken.len().min(max_records)).min(room);
        let fresh_end = fetch_end.min(self.end_offset.saturating_add(fresh as i64));
        for o in self.end_offset..fresh_end {
            self.records.insert(
                o,
                InFlight {
                    state: RecordState::Acquired,
                    delivery_count: 1,
                    member: Some(Arc::clone(&member)),
                    deadline_ms: deadline,
                },
            );
            taken.push((o, 1));
        }
        self.end_offset = self.end_offset.max(fresh_end);
        runs(&taken)
    }

    /// Apply one acknowledgement batch of `member` over `[first, last]`: `types` holds one type
    /// for the whole batch or one per offset. All or nothing: any offset not acquired by the
    /// member refuses the batch. Offsets below the start offset are already done and ignored.
    /// Returns the records that failed into ARCHIVED (for a dead-letter queue).
    pub fn acknowledge(
        &mut self,
        member: &str,
        first: i64,
        last: i64,
        types: &[i8],
        now_ms: i64,
    ) -> Result<Vec<Failed>, AckError> {
        if first > last || first < 0 {
            return Err(AckError::InvalidRequest("first offset after last offset"));
        }
        let len = last - first + 1;
        if types.is_empty() || (types.len() != 1 && types.len() as i64 != len) {
            return Err(AckError::InvalidRequest(
                "one acknowledge type, or one per offset",
            ));
        }
        let mut parsed = Vec::with_capacity(types.len());
        for t in types {
            parsed.push(AckType::from_id(*t).ok_or(AckError::InvalidRequest("unknown type"))?);
        }
        let type_of = |o: i64| -> AckType {
            if parsed.len() == 1 {
                parsed[0]
            } else {
                parsed[(o - first) as usize]
            }
        };
        let from = first.max(self.start_offset);
        if from > last {
            // Kafka: "Batch record not found" — every offset is already done (possibly by
            // another member after this one's lock expired).
            return Err(AckError::InvalidRecordState(first));
        }
        for o in from..=last {
            match self.records.get(&o) {
                Some(r)
                    if r.state == RecordState::Acquired && r.member.as_deref() == Some(member) => {}
                _ => return Err(AckError::InvalidRecordState(o)),
            }
        }
        let renewed_until = now_ms.saturating_add(self.cfg.record_lock_duration_ms);
        let mut failed = Vec::new();
        for o in from..=last {
            let ack = type_of(o);
            let Some(r) = self.records.get_mut(&o) else {
                continue;
            };
            match ack {
                AckType::Accept => finish(r, RecordState::Acknowledged),
                AckType::Gap => finish(r, RecordState::Archived),
                AckType::Reject => {
                    finish(r, RecordState::Archived);
                    failed.push(Failed {
                        offset: o,
                        delivery_count: r.delivery_count,
                    });
                }
                AckType::Release => {
                    if let Some(f) = release(r, o, &self.cfg, now_ms) {
                        failed.push(f);
                    }
                }
                // Held by `member` (checked above): only the lock deadline moves.
                AckType::Renew => r.deadline_ms = renewed_until,
            }
        }
        self.advance_start();
        Ok(failed)
    }

    /// Give back records of `member` in `[first, last]` that were acquired but not sent (the
    /// read stopped short of them, or they are held back until `not_before_ms`): AVAILABLE
    /// again from then, with the delivery count they had before the acquisition.
    pub fn unacquire(&mut self, member: &str, first: i64, last: i64, not_before_ms: i64) {
        if first > last {
            return;
        }
        for r in self.records.range_mut(first..=last).map(|(_, r)| r) {
            if r.state == RecordState::Acquired && r.member.as_deref() == Some(member) {
                r.state = RecordState::Available;
                r.member = None;
                r.delivery_count = r.delivery_count.saturating_sub(1);
                r.deadline_ms = not_before_ms;
            }
        }
    }

    /// An acquired record of `member` that is not to be delivered to this group at all (skua's
    /// record filter): ARCHIVED without counting as a delivery or a failure.
    pub fn archive_unsent(&mut self, member: &str, offset: i64) -> bool {
        let Some(r) = self.records.get_mut(&offset) else {
            return false;
        };
        if r.state != RecordState::Acquired || r.member.as_deref() != Some(member) {
            return false;
        }
        r.delivery_count = r.delivery_count.saturating_sub(1);
        finish(r, RecordState::Archived);
        self.advance_start();
        true
    }

    /// Locks that expired by `now_ms` go back to AVAILABLE (or ARCHIVED past the delivery
    /// limit). Returns the records archived that way.
    pub fn expire_locks(&mut self, now_ms: i64) -> Vec<Failed> {
        let mut failed = Vec::new();
        for (o, r) in self.records.iter_mut() {
            if r.state == RecordState::Acquired && r.deadline_ms <= now_ms {
                if let Some(f) = release(r, *o, &self.cfg, now_ms) {
                    failed.push(f);
                }
            }
        }
        self.advance_start();
        failed
    }

    /// A member left (or its share session closed): its acquired records are released as by
    /// RELEASE. Returns the records archived past the delivery limit.
    pub fn release_member(&mut self, member: &str, now_ms: i64) -> Vec<Failed> {
        let mut failed = Vec::new();
        for (o, r) in self.records.iter_mut() {
            if r.state == RecordState::Acquired && r.member.as_deref() == Some(member) {
                if let Some(f) = release(r, *o, &self.cfg, now_ms) {
                    failed.push(f);
                }
            }
        }
        self.advance_start();
        failed
    }

    /// The log start moved (retention, DeleteRecords): what lies below it is gone, archived
    /// without counting as failed.
    pub fn log_start_moved(&mut self, log_start: i64) {
        if log_start <= self.start_offset {
            return;
        }
        let keep = self.records.split_off(&log_start);
        self.records = keep;
        self.start_offset = log_start;
        self.end_offset = self.end_offset.max(log_start);
        self.advance_start();
    }

    /// The earliest time something changes by itself (a lock expires, a backoff ends).
    pub fn next_deadline(&self, now_ms: i64) -> Option<i64> {
        self.records
            .values()
            .filter(|r| {
                r.state == RecordState::Acquired
                    || (r.state == RecordState::Available && r.deadline_ms > now_ms)
            })
            .map(|r| r.deadline_ms)
            .min()
    }

    /// What must be durable: the start offset and the in-flight states in runs (ACQUIRED stored
    /// as AVAILABLE; fresh AVAILABLE records with no delivery yet are not stored).
    pub fn snapshot(&self) -> Snapshot {
        let mut batches: Vec<StateBatch> = Vec::new();
        for (o, r) in &self.records {
            let state = match r.state {
                RecordState::Acquired => RecordState::Available,
                s => s,
            };
            if state == RecordState::Available && r.delivery_count == 0 {
                continue;
            }
            match batches.last_mut() {
                Some(b)
                    if b.last_offset + 1 == *o
                        && b.state == state
                        && b.delivery_count == r.delivery_count =>
                {
                    b.last_offset = *o;
                }
                _ => batches.push(StateBatch {
                    first_offset: *o,
                    last_offset: *o,
                    state,
                    delivery_count: r.delivery_count,
                }),
            }
        }
        Snapshot {
            start_offset: self.start_offset,
            batches,
        }
    }

    /// Move the start offset past the leading terminal records and forget them.
    fn advance_start(&mut self) {
        while let Some((&o, r)) = self.records.first_key_value() {
            if o < self.start_offset {
                self.records.remove(&o);
                continue;
            }
            if o != self.start_offset || !r.state.is_terminal() {
                break;
            }
            self.records.remove(&o);
            self.start_offset = o + 1;
        }
        if self.records.is_empty() && self.start_offset < self.end_offset {
            // Every offset below end_offset was acquired and is done.
            self.start_offset = self.end_offset;
        }
    }
}

fn finish(r: &mut InFlight, state: RecordState) {
    r.state = state;
    r.member = None;
    r.deadline_ms = 0;
}

/// ACQUIRED → AVAILABLE (after the backoff, if one is set), or ARCHIVED once the delivery
/// count reached the limit (then reported as failed).
fn release(r: &mut InFlight, offset: i64, cfg: &ShareConfig, now_ms: i64) -> Option<Failed> {
    if r.delivery_count >= cfg.delivery_count_limit {
        finish(r, RecordState::Archived);
        return Some(Failed {
            offset,
            delivery_count: r.delivery_count,
        });
    }
    let backoff = match cfg.redelivery_backoff_ms.as_slice() {
        [] => 0,
        b => b[(usize::from(r.delivery_count).max(1) - 1).min(b.len() - 1)],
    };
    r.state = RecordState::Available;
    r.member = None;
    r.deadline_ms = now_ms.saturating_add(backoff.max(0));
    None
}

/// Consecutive (offset, delivery count) pairs merged into runs.
fn runs(taken: &[(i64, u16)]) -> Vec<Acquired> {
    let mut out: Vec<Acquired> = Vec::new();
    let mut sorted = taken.to_vec();
    sorted.sort_unstable();
    for (o, c) in sorted {
        match out.last_mut() {
            Some(a) if a.last_offset + 1 == o && a.delivery_count == c => a.last_offset = o,
            _ => out.push(Acquired {
                first_offset: o,
                last_offset: o,
                delivery_count: c,
            }),
        }
    }
    out
}

#[cfg(test)]
#[path = "partition_tests.rs"]
mod tests;
