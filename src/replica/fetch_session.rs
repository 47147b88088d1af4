//! The fetching side of KIP-227 fetch sessions for the follower's replica fetcher (Kafka's
//! client `FetchSessionHandler`): the first request of a session is full (epoch 0) and names
//! every partition; once the leader answers with a session id, requests are incremental and
//! name only partitions that were added or whose fetch state changed since they were last
//! sent, plus the partitions to forget (no longer fetched: removed, or backing off). The leader
//! answers only partitions with news, so an idle partition costs nothing on the wire.
//! Any error (FETCH_SESSION_ID_NOT_FOUND: the leader lost the session; another session error or
//! a failed request: close it) makes the next request full again.

use std::collections::HashMap;

pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;

/// What a follower asks of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchData {
    pub fetch_offset: i64,
    pub current_leader_epoch: i32,
    pub last_fetched_epoch: i32,
    pub log_start_offset: i64,
    pub max_bytes: i32,
}

pub type Key = (String, i32);

/// One request's session part.
#[derive(Debug, PartialEq, Eq)]
pub struct Built {
    pub session_id: i32,
    pub epoch: i32,
    /// Partitions the request names (all of them when `epoch` is 0), in the order given.
    pub to_send: Vec<(Key, FetchData)>,
    pub to_forget: Vec<Key>,
}

#[derive(Debug, Default)]
pub struct SessionHandler {
    session_id: i32,
    /// The epoch of the next request: 0 = full (INITIAL).
    epoch: i32,
    /// The session's partitions as last sent.
    partitions: HashMap<Key, FetchData>,
}

impl SessionHandler {
    /// The next request for `next` (every partition to fetch now).
    pub fn build(&mut self, next: Vec<(Key, FetchData)>) -> Built {
        if self.epoch == 0 {
            self.partitions = next.iter().cloned().collect();
            return Built {
                session_id: self.session_id,
                epoch: 0,
                to_send: next,
                to_forget: Vec::new(),
            };
        }
        let mut to_send = Vec::new();
        let mut wanted: HashMap<&Key, ()> = HashMap::with_capacity(next.len());
        for (key, data) in &next {
            wanted.insert(key, ());
            if self.partitions.get(key) != Some(data) {
                to_send.push((key.clone(), *data));
            }
        }
        let mut to_forget: Vec<Key> = self
            .partitions
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .cloned()
            .collect();
        to_forget.sort();
        for k in &to_forget {
            self.partitions.remove(k);
        }
        for (key, data) in &to_send {
            self.partitions.insert(key.clone(), *data);
        }
        Built {
            session_id: self.session_id,
            epoch: self.epoch,
            to_send,
            to_forget,
        }
    }

    /// The leader's answer to the last built request: its top-level error and session id.
    pub fn on_response(&mut self, error_code: i16, session_id: i32) {
        if error_code == FETCH_SESSION_ID_NOT_FOUND {
            (self.session_id, self.epoch) = (0, 0);
        } else if error_code != 0 {
            self.epoch = 0;
        } else if session_id == 0 {
            // No session created, or the leader closed it.
            (self.session_id, self.epoch) = (0, 0);
        } else if self.epoch == 0 {
            (self.session_id, self.epoch) = (session_id, 1);
        } else {
            self.epoch = if self.epoch == i32::MAX {
                1
            } else {
                self.epoch + 1
            };
        }
    }

    /// The request failed (connection lost, timeout): close the session with the next
    /// request, which is full.
    pub fn on_failure(&mut self) {
        self.epoch = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(offset: i64) -> FetchData {
        FetchData {
            fetch_offset: offset,
            current_leader_epoch: 3,
            last_fetched_epoch: 3,
            log_start_offset: 0,
            max_bytes: 1 << 20,
        }
    }

    fn k(t: &str, p: i32) -> Key {
        (t.to_string(), p)
    }

    #[test]
    fn full_then_incremental_with_changes_only() {
        let mut h = SessionHandler::default();
        let all = vec![(k("a", 0), d(5)), (k("a", 1), d(7)), (k("b", 0), d(0))];
        let b = h.build(all.clone());
        assert_eq!((b.session_id, b.epoch, b.to_send.len()), (0, 0, 3));
        h.on_response(0, 42);
        // Nothing changed: an empty incremental request.
        let b = h.build(all.clone());
        assert_eq!(
            b,
            Built {
                session_id: 42,
                epoch: 1,
                to_send: vec![],
                to_forget: vec![]
            }
        );
        h.on_response(0, 42);
        // a-1 moved, b-0 left, c-0 came.
        let b = h.build(vec![
            (k("a", 0), d(5)),
            (k("a", 1), d(9)),
            (k("c", 0), d(1)),
        ]);
        assert_eq!(
            b,
            Built {
                session_id: 42,
                epoch: 2,
                to_send: vec![(k("a", 1), d(9)), (k("c", 0), d(1))],
                to_forget: vec![k("b", 0)]
            }
        );
        h.on_response(0, 42);
        assert_eq!(h.build(vec![]).epoch, 3);
    }

    #[test]
    fn errors_and_failures_go_back_to_full_requests() {
        let mut h = SessionHandler::default();
        let all = vec![(k("a", 0), d(5))];
        h.build(all.clone());
        h.on_response(0, 42);
        h.build(all.clone());
        // The leader lost the session: a new one from scratch.
        h.on_response(FETCH_SESSION_ID_NOT_FOUND, 0);
        let b = h.build(all.clone());
        assert_eq!((b.session_id, b.epoch, b.to_send.len()), (0, 0, 1));
        h.on_response(0, 43);
        h.build(all.clone());
        // Another error closes the session with a full request naming it.
        h.on_response(71, 0);
        let b = h.build(all.clone());
        assert_eq!((b.session_id, b.epoch, b.to_send.len()), (43, 0, 1));
        h.on_response(0, 44);
        h.build(all.clone());
        h.on_failure();
        let b = h.build(all.clone());
        assert_eq!((b.session_id, b.epoch, b.to_send.len()), (44, 0, 1));
        // No session created: stay with full requests.
        h.on_response(0, 0);
        let b = h.build(all);
        assert_eq!((b.session_id, b.epoch), (0, 0));
    }
}
