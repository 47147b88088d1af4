//! Tests of the transaction coordinator, driven through its public API with a fake clock
//! ([`Harness::advance`] fires due timers in deadline order), a counting producer-id
//! allocator, and a fake runtime that records what it was asked to do: records appended,
//! markers to write (completed by [`Harness::write_markers`]), the produce path's view of open
//! transactions, armed timers. Tests assert responses and those effects, and that replaying
//! the emitted records into a fresh coordinator reproduces the state.

mod admin;
mod end;
mod init;
mod load;
mod partitions;
mod records;
mod restart;
mod tv2;

use std::collections::{BTreeMap, BTreeSet};

use super::records::{decode_key, TxnValue};
use super::types::*;
use super::TransactionCoordinator;

/// Producer ids counting up from a start; `fail_with` makes every allocation fail.
pub struct CountingIds {
    next: i64,
    fail_with: Option<ErrorCode>,
}

impl ProducerIdAllocator for CountingIds {
    fn allocate(&mut self) -> Result<i64, ErrorCode> {
        if let Some(e) = self.fail_with {
            return Err(e);
        }
        let id = self.next;
        self.next += 1;
        Ok(id)
    }
}

pub fn ids_from(next: i64) -> Box<CountingIds> {
    Box::new(CountingIds {
        next,
        fail_with: None,
    })
}

pub const TIMEOUT_MS: i32 = 60_000;
pub const START_MS: i64 = 1_000_000;

pub fn config() -> TxnConfig {
    TxnConfig::default()
}

/// A coordinator with a fake clock and a fake runtime.
pub struct Harness {
    pub coord: TransactionCoordinator,
    pub now: i64,
    next_id: RequestId,
    pub timers: BTreeMap<TimerKey, i64>,
    pub log: Vec<Record>,
    /// Marker requests not yet completed.
    pub markers: Vec<MarkerRequest>,
    /// The produce path's view: producer id → (epoch, partitions it may write).
    pub open: BTreeMap<i64, (i16, Vec<TopicPartition>)>,
    answered: BTreeSet<RequestId>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_coordinator(TransactionCoordinator::new(config(), ids_from(1000)))
    }

    pub fn with_coordinator(coord: TransactionCoordinator) -> Harness {
        Harness {
            coord,
            now: START_MS,
            next_id: 0,
            timers: BTreeMap::new(),
            log: Vec::new(),
            markers: Vec::new(),
            open: BTreeMap::new(),
            answered: BTreeSet::new(),
        }
    }

    /// What the runtime does with an Outcome; checks that no request is answered twice and
    /// that every record lands on its transactional id's partition.
    pub fn apply(&mut self, out: &Outcome) {
        for (id, _) in &out.responses {
            assert!(self.answered.insert(*id), "request {id} answered twice");
        }
        for r in &out.records {
            let tid = decode_key(&r.key).unwrap();
            assert_eq!(r.partition, self.coord.transaction_state_partition(&tid));
        }
        self.log.extend(out.records.iter().cloned());
        self.markers.extend(out.markers.iter().cloned());
        for u in &out.partitions {
            match u {
                PartitionsUpdate::Set {
                    producer_id,
                    producer_epoch,
                    partitions,
                } => {
                    self.open
                        .insert(*producer_id, (*producer_epoch, partitions.clone()));
                }
                PartitionsUpdate::Clear { producer_id } => {
                    self.open.remove(producer_id);
                }
            }
        }
        for op in &out.timers {
            match op {
                TimerOp::Set { key, deadline_ms } => {
                    self.timers.insert(key.clone(), *deadline_ms);
                }
                TimerOp::Cancel { key } => {
                    self.timers.remove(key);
                }
            }
        }
    }

    pub fn send(&mut self, request: Request) -> (RequestId, Outcome) {
        self.next_id += 1;
        let id = self.next_id;
        let out = self.coord.handle(self.now, id, request);
        self.apply(&out);
        (id, out)
    }

    /// Sends; every request is answered in its own Outcome.
    pub fn call(&mut self, request: Request) -> (Response, Outcome) {
        let (id, out) = self.send(request);
        let r = out
            .responses
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("no answer to {id}: {out:?}"));
        (r, out)
    }

    /// Moves the clock, firing every timer that comes due (in deadline order).
    pub fn advance(&mut self, ms: i64) -> Vec<Outcome> {
        let until = self.now + ms;
        let mut outs = Vec::new();
        loop {
            let due = self
                .timers
                .iter()
                .filter(|(_, &d)| d <= until)
                .min_by_key(|(k, &d)| (d, (*k).clone()))
                .map(|(k, &d)| (k.clone(), d));
            let Some((key, deadline)) = due else { break };
            self.timers.remove(&key);
            self.now = self.now.max(deadline);
            let out = self.coord.on_timer(self.now, key);
            self.apply(&out);
            outs.push(out);
        }
        self.now = until;
        outs
    }

    /// Writes every pending marker request and reports completion.
    pub fn write_markers(&mut self) -> Vec<Outcome> {
        let pending = std::mem::take(&mut self.markers);
        let mut outs = Vec::new();
        for m in pending {
            let out = self.coord.markers_written(
                self.now,
                &m.transactional_id,
                m.producer_id,
                m.producer_epoch,
            );
            self.apply(&out);
            outs.push(out);
        }
        outs
    }

    /// A fresh coordinator rebuilt from every record emitted so far.
    pub fn replayed(&self) -> TransactionCoordinator {
        let mut fresh = TransactionCoordinator::new(config(), ids_from(5000));
        for r in &self.log {
            fresh.replay(self.now, &r.key, r.value.as_deref()).unwrap();
        }
        fresh
    }

    /// Asserts a replay of the log reproduces every transactional id's persistent state.
    pub fn assert_replay_matches(&self) {
        let fresh = self.replayed();
        assert_eq!(fresh.transactional_ids(), self.coord.transactional_ids());
        for tid in self.coord.transactional_ids() {
            let live = self.coord.transaction(&tid).unwrap();
            let back = fresh.transaction(&tid).unwrap();
            assert!(
                back.same_record(live),
                "{tid}: replayed {back:?}, live {live:?}"
            );
        }
    }

    /// A restarted broker: a new coordinator replays the log and is loaded; the runtime's
    /// volatile state (timers, markers, open set) starts empty. Returns the load Outcome.
    pub fn restart(&self) -> (Harness, Outcome) {
        let mut h = Harness::with_coordinator(self.replayed());
        h.now = self.now;
        h.log = self.log.clone();
        h.next_id = self.next_id;
        let out = h.coord.loaded(h.now);
        h.apply(&out);
        (h, out)
    }

    pub fn timer_keys(&self) -> Vec<TimerKey> {
        self.timers
            .keys()
            .filter(|k| !matches!(k, TimerKey::ExpireTransactionalIds))
            .cloned()
            .collect()
    }

    pub fn state(&self, tid: &str) -> Option<&'static str> {
        self.coord.transaction(tid).map(|m| m.state.name())
    }
}

pub fn init_req(tid: &str) -> Request {
    Request::InitProducerId {
        transactional_id: Some(tid.to_string()),
        transaction_timeout_ms: TIMEOUT_MS,
        producer_id: -1,
        producer_epoch: -1,
        version: 4,
    }
}

pub fn add_req(tid: &str, pid: i64, epoch: i16, partitions: &[(&str, i32)]) -> Request {
    Request::AddPartitions {
        transactional_id: tid.to_string(),
        producer_id: pid,
        producer_epoch: epoch,
        partitions: tps(partitions),
        verify_only: false,
        version: 3,
        tv2: false,
    }
}

pub fn end_req(tid: &str, pid: i64, epoch: i16, commit: bool) -> Request {
    Request::EndTxn {
        transactional_id: tid.to_string(),
        producer_id: pid,
        producer_epoch: epoch,
        commit,
        version: 3,
    }
}

pub fn tps(partitions: &[(&str, i32)]) -> Vec<TopicPartition> {
    partitions
        .iter()
        .map(|(t, p)| (t.to_string(), *p))
        .collect()
}

/// InitProducerId for `tid`, expecting success: (producer_id, epoch).
pub fn init(h: &mut Harness, tid: &str) -> (i64, i16) {
    match h.call(init_req(tid)).0 {
        Response::InitProducerId {
            error: 0,
            producer_id,
            producer_epoch,
        } => (producer_id, producer_epoch),
        other => panic!("init {tid}: {other:?}"),
    }
}

/// AddPartitions expecting success.
pub fn add(
    h: &mut Harness,
    tid: &str,
    pid: i64,
    epoch: i16,
    partitions: &[(&str, i32)],
) -> Outcome {
    let (r, out) = h.call(add_req(tid, pid, epoch, partitions));
    assert_eq!(add_error(&r), 0, "{r:?}");
    out
}

pub fn init_error(r: &Response) -> ErrorCode {
    match r {
        Response::InitProducerId { error, .. } => *error,
        other => panic!("expected InitProducerId response, got {other:?}"),
    }
}

/// The transaction-level error of an AddPartitions answer (checks every partition carries it).
pub fn add_error(r: &Response) -> ErrorCode {
    match r {
        Response::AddPartitions { error, partitions } => {
            assert!(partitions.iter().all(|(_, e)| e == error), "{r:?}");
            *error
        }
        other => panic!("expected AddPartitions response, got {other:?}"),
    }
}

pub fn end_error(r: &Response) -> ErrorCode {
    match r {
        Response::EndTxn { error, .. } => *error,
        other => panic!("expected EndTxn response, got {other:?}"),
    }
}

/// The decoded records of an Outcome: (transactional id, value).
pub fn decoded(out: &Outcome) -> Vec<(String, Option<TxnValue>)> {
    out.records
        .iter()
        .map(|r| {
            let v = r.value.as_ref().map(|v| TxnValue::decode(v).unwrap());
            (decode_key(&r.key).unwrap(), v)
        })
        .collect()
}

/// The single record of an Outcome, decoded.
pub fn only_record(out: &Outcome) -> (String, TxnValue) {
    let mut records = decoded(out);
    assert_eq!(records.len(), 1, "{records:?}");
    let (tid, value) = records.remove(0);
    let value = value.unwrap_or_else(|| panic!("tombstone for {tid}"));
    (tid, value)
}

pub fn timeout_key(tid: &str) -> TimerKey {
    TimerKey::TxnTimeout {
        transactional_id: tid.to_string(),
    }
}

pub fn topics(partitions: &[(&str, &[i32])]) -> Option<Vec<(String, Vec<i32>)>> {
    Some(
        partitions
            .iter()
            .map(|(t, ps)| (t.to_string(), ps.to_vec()))
            .collect(),
    )
}
