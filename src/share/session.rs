//! Share sessions (KIP-932, Kafka's `SharePartitionManager.newContext`): the set of
//! share-partitions a member fetches from, kept between ShareFetch requests and keyed by
//! (group, member), with an epoch that orders the requests. A pure state machine.
//!
//! ShareFetch: epoch 0 opens a new session (replacing the member's old one; acknowledgements are
//! refused there — there is nothing acquired in a new session to acknowledge), -1 closes it
//! (no partitions to fetch may be named), n > 0 must equal the session's epoch, which then moves
//! to n + 1 (wrapping to 1). ShareAcknowledge: epoch 0 is refused, -1 closes after the
//! acknowledgements, n > 0 as for ShareFetch. Closing a session releases the member's acquired
//! records (the caller does it with what [`ShareSessions::fetch`] / [`ShareSessions::acknowledge`]
//! report). At most `max_sessions` sessions exist (`group.share.max.share.sessions`).

use std::collections::{BTreeSet, HashMap};

/// Kafka's error codes for session failures.
pub const INVALID_REQUEST: i16 = 42;
pub const SHARE_SESSION_NOT_FOUND: i16 = 122;
pub const INVALID_SHARE_SESSION_EPOCH: i16 = 123;
pub const SHARE_SESSION_LIMIT_REACHED: i16 = 133;

/// A share-partition named in a session: (topic id as text or name, partition).
pub type SharePartitionKey = (String, i32);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub epoch: i32,
    pub partitions: BTreeSet<SharePartitionKey>,
    pub last_used_ms: i64,
}

/// What a ShareFetch may go on with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchContext {
    /// The partitions to fetch from (the whole session).
    pub partitions: BTreeSet<SharePartitionKey>,
    /// A new session: the response names every partition.
    pub full: bool,
    /// The session ended with this request: release what the member holds.
    pub closed: bool,
}

/// A refused request: (error code, message).
pub type SessionError = (i16, &'static str);

/// Every share session of the broker.
#[derive(Debug, Clone, Default)]
pub struct ShareSessions {
    max_sessions: usize,
    sessions: HashMap<(String, String), Session>,
}

fn next_epoch(e: i32) -> i32 {
    if e == i32::MAX {
        1
    } else {
        e + 1
    }
}

impl ShareSessions {
    pub fn new(max_sessions: usize) -> ShareSessions {
        ShareSessions {
            max_sessions,
            sessions: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn get(&self, group: &str, member: &str) -> Option<&Session> {
        self.sessions.get(&(group.to_string(), member.to_string()))
    }

    /// A ShareFetch of `member` at `epoch` naming `add` to fetch and `forget` to drop;
    /// `has_acks`: it carries acknowledgements.
    #[allow(clippy::too_many_arguments)]
    pub fn fetch(
        &mut self,
        group: &str,
        member: &str,
        epoch: i32,
        add: &[SharePartitionKey],
        forget: &[SharePartitionKey],
        has_acks: bool,
        now_ms: i64,
    ) -> Result<FetchContext, SessionError> {
        let key = (group.to_string(), member.to_string());
        match epoch {
            0 => {
                if has_acks {
                    return Err((
                        INVALID_REQUEST,
                        "Acknowledge data is present on the initial ShareFetch request",
                    ));
                }
                let replacing = self.sessions.contains_key(&key);
                if !replacing && self.sessions.len() >= self.max_sessions {
                    return Err((
                        SHARE_SESSION_LIMIT_REACHED,
                        "The limit of share sessions has been reached.",
                    ));
                }
                let partitions: BTreeSet<SharePartitionKey> = add.iter().cloned().collect();
                self.sessions.insert(
                    key,
                    Session {
                        epoch: 1,
                        partitions: partitions.clone(),
                        last_used_ms: now_ms,
                    },
                );
                Ok(FetchContext {
                    partitions,
                    full: true,
                    closed: false,
                })
            }
            -1 => {
                if !add.is_empty() {
                    return Err((
                        INVALID_REQUEST,
                        "Fetch data is present on the final ShareFetch request",
                    ));
                }
                let s = self
                    .sessions
                    .remove(&key)
                    .ok_or((SHARE_SESSION_NOT_FOUND, "The share session was not found."))?;
                Ok(FetchContext {
                    partitions: s.partitions,
                    full: false,
                    closed: true,
                })
            }
            e if e < -1 => Err((
                INVALID_SHARE_SESSION_EPOCH,
                "The share session epoch is invalid.",
            )),
            e => {
                let s = self
                    .sessions
                    .get_mut(&key)
                    .ok_or((SHARE_SESSION_NOT_FOUND, "The share session was not found."))?;
                if s.epoch != e {
                    return Err((
                        INVALID_SHARE_SESSION_EPOCH,
                        "The share session epoch is invalid.",
                    ));
                }
                for p in forget {
                    s.partitions.remove(p);
                }
                s.partitions.extend(add.iter().cloned());
                s.epoch = next_epoch(e);
                s.last_used_ms = now_ms;
                Ok(FetchContext {
                    partitions: s.partitions.clone(),
                    full: false,
                    closed: false,
                })
            }
        }
    }

    /// A ShareAcknowledge of `member` at `epoch`: Ok(true) when the session ends with it.
    pub fn acknowledge(
        &mut self,
        group: &str,
        member: &str,
        epoch: i32,
        now_ms: i64,
    ) -> Result<bool, SessionError> {
        let key = (group.to_string(), member.to_string());
        match epoch {
            0 => Err((
                INVALID_SHARE_SESSION_EPOCH,
                "The share session epoch is invalid.",
            )),
            -1 => {
                self.sessions
                    .remove(&key)
                    .ok_or((SHARE_SESSION_NOT_FOUND, "The share session was not found."))?;
                Ok(true)
            }
            e => {
                let s = self
                    .sessions
                    .get_mut(&key)
                    .ok_or((SHARE_SESSION_NOT_FOUND, "The share session was not found."))?;
                if s.epoch != e {
                    return Err((
                        INVALID_SHARE_SESSION_EPOCH,
                        "The share session epoch is invalid.",
                    ));
                }
                s.epoch = next_epoch(e);
                s.last_used_ms = now_ms;
                Ok(false)
            }
        }
    }

    /// The member left its group: its session goes; returns whether it had one.
    pub fn remove_member(&mut self, group: &str, member: &str) -> bool {
        self.sessions
            .remove(&(group.to_string(), member.to_string()))
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> SharePartitionKey {
        (t.to_string(), p)
    }

    #[test]
    fn a_session_opens_at_zero_advances_and_closes_at_minus_one() {
        let mut s = ShareSessions::new(10);
        let c = s
            .fetch("g", "m", 0, &[tp("t", 0), tp("t", 1)], &[], false, 0)
            .unwrap();
        assert!(c.full && !c.closed);
        assert_eq!(c.partitions.len(), 2);
        let c = s
            .fetch("g", "m", 1, &[tp("u", 0)], &[tp("t", 1)], true, 1)
            .unwrap();
        assert_eq!(
            c.partitions.into_iter().collect::<Vec<_>>(),
            vec![tp("t", 0), tp("u", 0)]
        );
        assert_eq!(s.acknowledge("g", "m", 2, 2), Ok(false));
        assert_eq!(s.get("g", "m").map(|x| x.epoch), Some(3));
        let c = s.fetch("g", "m", -1, &[], &[], true, 3).unwrap();
        assert!(c.closed);
        assert!(s.is_empty());
    }

    #[test]
    fn epochs_and_missing_sessions_are_refused_with_kafkas_codes() {
        let mut s = ShareSessions::new(1);
        assert_eq!(
            s.fetch("g", "m", 3, &[], &[], false, 0).unwrap_err().0,
            SHARE_SESSION_NOT_FOUND
        );
        assert_eq!(
            s.fetch("g", "m", 0, &[], &[], true, 0).unwrap_err().0,
            INVALID_REQUEST
        );
        s.fetch("g", "m", 0, &[tp("t", 0)], &[], false, 0).unwrap();
        assert_eq!(
            s.fetch("g", "m", 5, &[], &[], false, 0).unwrap_err().0,
            INVALID_SHARE_SESSION_EPOCH
        );
        assert_eq!(
            s.fetch("g", "m", -1, &[tp("t", 0)], &[], false, 0)
                .unwrap_err()
                .0,
            INVALID_REQUEST
        );
        assert_eq!(
            s.acknowledge("g", "m", 0, 0).unwrap_err().0,
            INVALID_SHARE_SESSION_EPOCH
        );
        // The limit counts sessions; the member's own re-open replaces its session.
        assert_eq!(
            s.fetch("g", "other", 0, &[], &[], false, 0).unwrap_err().0,
            SHARE_SESSION_LIMIT_REACHED
        );
        assert!(s.fetch("g", "m", 0, &[], &[], false, 0).is_ok());
        assert_eq!(s.acknowledge("g", "m", -1, 0), Ok(true));
        assert_eq!(
            s.acknowledge("g", "m", -1, 0).unwrap_err().0,
            SHARE_SESSION_NOT_FOUND
        );
    }

    #[test]
    fn the_epoch_wraps_to_one() {
        let mut s = ShareSessions::new(1);
        s.fetch("g", "m", 0, &[], &[], false, 0).unwrap();
        if let Some(x) = s.sessions.get_mut(&("g".to_string(), "m".to_string())) {
            x.epoch = i32::MAX;
        }
        s.fetch("g", "m", i32::MAX, &[], &[], false, 0).unwrap();
        assert_eq!(s.get("g", "m").map(|x| x.epoch), Some(1));
    }
}
