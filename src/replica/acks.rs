//! [`AcksAllWaiters`]: `acks=all` produces parked until the high watermark reaches the end of
//! their append (Kafka's delayed produce, keyed by offset). The server parks a waiter per
//! appended partition, calls [`AcksAllWaiters::complete`] whenever the partition's high
//! watermark moves or its ISR changes, [`AcksAllWaiters::expire`] at the earliest deadline
//! (REQUEST_TIMED_OUT), and [`AcksAllWaiters::drain`] when it stops leading the partition
//! (NOT_LEADER_OR_FOLLOWER).

use std::collections::BTreeMap;

use super::leader::{AcksAllStatus, LeaderState};

#[derive(Debug)]
pub struct AcksAllWaiters<T> {
    /// required offset (last offset + 1 of the append) → (deadline, waiter), in park order.
    waiting: BTreeMap<i64, Vec<(i64, T)>>,
}

impl<T> Default for AcksAllWaiters<T> {
    fn default() -> Self {
        AcksAllWaiters {
            waiting: BTreeMap::new(),
        }
    }
}

impl<T> AcksAllWaiters<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.waiting.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Wait for the high watermark to reach `required_offset`, until `deadline_ms`.
    pub fn park(&mut self, required_offset: i64, deadline_ms: i64, waiter: T) {
        self.waiting
            .entry(required_offset)
            .or_default()
            .push((deadline_ms, waiter));
    }

    /// The waiters the leader's high watermark has reached, with their answer (acknowledged,
    /// or NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below min meanwhile), in offset
    /// order.
    pub fn complete(&mut self, leader: &LeaderState) -> Vec<(T, AcksAllStatus)> {
        let high_watermark = leader.high_watermark();
        let pending = self.waiting.split_off(&(high_watermark + 1));
        let done = std::mem::replace(&mut self.waiting, pending);
        done.into_iter()
            .flat_map(|(required, ws)| {
                let status = leader.check_acks_all(required);
                ws.into_iter().map(move |(_, w)| (w, status))
            })
            .collect()
    }

    /// The waiters whose deadline has passed (answer REQUEST_TIMED_OUT).
    pub fn expire(&mut self, now_ms: i64) -> Vec<T> {
        let mut out = Vec::new();
        self.waiting.retain(|_, ws| {
            let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(ws)
                .into_iter()
                .partition(|(d, _)| *d <= now_ms);
            out.extend(expired.into_iter().map(|(_, w)| w));
            *ws = kept;
            !ws.is_empty()
        });
        out
    }

    /// Every waiter (leadership lost: answer NOT_LEADER_OR_FOLLOWER).
    pub fn drain(&mut self) -> Vec<T> {
        std::mem::take(&mut self.waiting)
            .into_values()
            .flatten()
            .map(|(_, w)| w)
            .collect()
    }

    pub fn next_deadline_ms(&self) -> Option<i64> {
        self.waiting.values().flatten().map(|(d, _)| *d).min()
    }
}
