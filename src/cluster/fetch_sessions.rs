//! Incremental fetch sessions (KIP-227), as Kafka's `FetchManager` / `FetchSessionCache`
//! (core/src/main/scala/kafka/server/FetchSession.scala): a pure state machine, no I/O, the
//! clock passed in. The Fetch handler (api/fetch.rs) asks it for a context before reading and
//! hands it the partitions' outcome after.
//!
//! - A full request (epoch 0 = INITIAL, -1 = FINAL) first closes the session it names, if any.
//!   FINAL creates nothing (sessionless: response session id 0). INITIAL answers every
//!   requested partition and then creates a session of them if the cache has a free slot or can
//!   evict one ([`FetchSessionCache::create_session`]); the response carries its id (0 when
//!   none was created).
//! - An incremental request (epoch > 0) names a session: unknown → FETCH_SESSION_ID_NOT_FOUND;
//!   epoch not the session's → INVALID_FETCH_SESSION_EPOCH; a session made with topic ids
//!   (v13+) used below v13 or the other way round → FETCH_SESSION_TOPIC_ID_ERROR (all three
//!   answered with session id 0 and no partitions). Otherwise its partitions are added or
//!   updated, `forgotten_topics_data` removed, the epoch advanced, and every partition of the
//!   session is read (the long poll waits on all of them). A session left empty is closed and
//!   the request answered sessionless.
//! - The incremental response carries only the partitions Kafka's `maybeUpdateResponseData`
//!   selects: records returned, high watermark or log start offset changed since the last
//!   response that carried the partition, an error (which also forgets the cached high
//!   watermark, so the partition is sent again when it recovers), a preferred read replica, a
//!   diverging epoch. A partition that returned records moves to the end of the session's
//!   order, so the next responses give the others their turn under `max_bytes`.
//! - Eviction (Kafka's `tryEvict`): when the cache is full, a new session may replace the
//!   least recently used one if that was idle longer than [`MIN_EVICTION_MS`] (Kafka's
//!   `MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`, 120 s, not a config in Kafka either);
//!   otherwise the least valuable evictable session — unprivileged (consumer) before privileged
//!   (follower), then fewer partitions, then lower id — if the new one is worth at least as
//!   much. A session is evictable by a privileged one if it is unprivileged or older than
//!   120 s, by an unprivileged one only when older than 120 s (judged at its last use, as
//!   Kafka's `touch`). Idle sessions are not removed otherwise: like Kafka's, they stay until a
//!   new session needs their slot.
//!
//! Simplification: Kafka splits the cache into 8 shards of `slots / 8` entries each, by session
//! id range; here one cache holds all `max.incremental.fetch.session.cache.slots` (one lock,
//! taken twice per fetch for a few microseconds per thousand partitions).
//!
//! Memory: a session holds one entry per partition it fetches ([`CachedPartition`], about
//! 110 bytes with the map's index; the topic name of a pre-v13 session is shared by its
//! partitions). A full request creates a session of exactly its partitions, an incremental one
//! adds at most the partitions it names; a session beyond [`MAX_SESSION_PARTITIONS`] is not
//! kept (the request is answered sessionless), so one session is at most ~30 MB and the cache
//! at most `slots` sessions.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use indexmap::IndexMap;
use uuid::Uuid;

pub const INVALID_SESSION_ID: i32 = 0;
pub const INITIAL_EPOCH: i32 = 0;
pub const FINAL_EPOCH: i32 = -1;
/// Kafka's `KafkaServer.MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`.
pub const MIN_EVICTION_MS: i64 = 120_000;
/// The most partitions one session may hold (skua's bound; Kafka has none).
pub const MAX_SESSION_PARTITIONS: usize = 1 << 18;

const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
const FETCH_SESSION_TOPIC_ID_ERROR: i16 = 106;

/// Kafka's `FetchMetadata.nextEpoch`.
pub fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 {
        FINAL_EPOCH
    } else if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// A session's topics are keyed by id (v13+) or by name (v7–12), never both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TopicKey {
    Id(Uuid),
    Name(Arc<str>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartKey {
    pub topic: TopicKey,
    pub partition: i32,
}

/// What a request asks of one partition (Kafka's `FetchRequest.PartitionData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionReq {
    pub fetch_offset: i64,
    pub log_start_offset: i64,
    pub max_bytes: i32,
    pub current_leader_epoch: i32,
    pub last_fetched_epoch: i32,
}

/// What a response said of one partition: the fields the inclusion rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOutcome {
    pub records_len: usize,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub preferred_read_replica: i32,
    pub error_code: i16,
    pub diverging_epoch: bool,
}

/// One partition of a session (Kafka's `CachedPartition`).
#[derive(Debug, Clone)]
pub struct CachedPartition {
    pub req: PartitionReq,
    /// The high watermark last sent for it; -1 after an error.
    pub high_watermark: i64,
    /// The log start offset last sent for it.
    pub local_log_start_offset: i64,
    /// Set while a response is being filtered: it returned records and moves to the end.
    moved: bool,
}

impl CachedPartition {
    /// Kafka's `maybeUpdateResponseData`: must the partition be in the response? Updates the
    /// cached high watermark and log start offset when `update`.
    fn must_respond(&mut self, out: &PartitionOutcome, update: bool) -> bool {
        let mut must = out.records_len > 0;
        if self.high_watermark != out.high_watermark {
            must = true;
            if update {
                self.high_watermark = out.high_watermark;
            }
        }
        if self.local_log_start_offset != out.log_start_offset {
            must = true;
            if update {
                self.local_log_start_offset = out.log_start_offset;
            }
        }
        if out.preferred_read_replica >= 0 {
            must = true;
        }
        if out.error_code != 0 {
            if update {
                self.high_watermark = -1;
            }
            must = true;
        }
        must || out.diverging_epoch
    }
}

#[derive(Debug)]
pub struct Session {
    pub id: i32,
    pub privileged: bool,
    pub uses_topic_ids: bool,
    pub creation_ms: i64,
    pub last_used_ms: i64,
    /// The epoch the next incremental request must carry.
    pub epoch: i32,
    /// The size recorded in the eviction sets at the last `touch`.
    cached_size: Option<usize>,
    /// In fetch order (Kafka's `ImplicitLinkedHashCollection`).
    pub partitions: IndexMap<PartKey, CachedPartition>,
}

impl Session {
    fn evictable_key(&self) -> (bool, usize, i32) {
        (self.privileged, self.cached_size.unwrap_or(0), self.id)
    }
}

/// How to answer a Fetch request.
#[derive(Debug, PartialEq, Eq)]
pub enum Context {
    /// Answer at once with this error code, session id 0, no partitions.
    Error(i16),
    /// Answer the request's partitions with session id 0.
    Sessionless,
    /// Answer the request's partitions, then try to create a session of them.
    Full {
        privileged: bool,
        uses_topic_ids: bool,
    },
    /// Read `partitions` (the whole session, in its order), then let
    /// [`FetchSessionCache::finish_incremental`] pick what the response carries.
    Incremental {
        session_id: i32,
        /// The session's epoch after this request (checked again when answering).
        epoch: i32,
        partitions: Vec<(PartKey, PartitionReq)>,
    },
}

/// How an incremental request's response ends.
#[derive(Debug, PartialEq, Eq)]
pub enum Finish {
    /// Carry the partitions marked true (same order as given), with the session's id.
    Include(Vec<bool>),
    /// The session's epoch moved meanwhile (a duplicate request): this error, the session's
    /// id, no partitions.
    Error(i16),
}

/// The fetch session cache (Kafka's `FetchSessionCacheShard` + `FetchManager.newContext`).
#[derive(Debug)]
pub struct FetchSessionCache {
    max_entries: usize,
    eviction_ms: i64,
    sessions: HashMap<i32, Session>,
    /// (last used ms, id), oldest first.
    last_used: BTreeSet<(i64, i32)>,
    /// (privileged, size, id): sessions any new session may evict.
    evictable_by_all: BTreeSet<(bool, usize, i32)>,
    /// (privileged, size, id): sessions a privileged new session may evict.
    evictable_by_privileged: BTreeSet<(bool, usize, i32)>,
    num_partitions: usize,
    evictions: u64,
}

impl FetchSessionCache {
    pub fn new(max_entries: usize, eviction_ms: i64) -> FetchSessionCache {
        FetchSessionCache {
            max_entries,
            eviction_ms,
            sessions: HashMap::new(),
            last_used: BTreeSet::new(),
            evictable_by_all: BTreeSet::new(),
            evictable_by_privileged: BTreeSet::new(),
            num_partitions: 0,
            evictions: 0,
        }
    }

    /// Sessions in the cache (Kafka's `NumIncrementalFetchSessions`).
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Partitions cached over all sessions (Kafka's `NumIncrementalFetchPartitionsCached`).
    pub fn total_partitions(&self) -> usize {
        self.num_partitions
    }

    /// Sessions evicted so far (Kafka's `IncrementalFetchSessionEvictionsPerSec` meter).
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    pub fn get(&self, id: i32) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// Kafka's `FetchManager.newContext`. `uses_topic_ids`: the request is v13+. `fetch`: the
    /// request's partitions (needed for incremental requests only; full ones are answered from
    /// the request as it is). A v0–6 request is sessionless: pass (0, FINAL_EPOCH).
    #[allow(clippy::too_many_arguments)]
    pub fn new_context(
        &mut self,
        uses_topic_ids: bool,
        session_id: i32,
        epoch: i32,
        privileged: bool,
        fetch: &[(PartKey, PartitionReq)],
        forget: &[PartKey],
        now_ms: i64,
    ) -> Context {
        if epoch == INITIAL_EPOCH || epoch == FINAL_EPOCH {
            if session_id != INVALID_SESSION_ID {
                self.remove(session_id);
            }
            return if epoch == FINAL_EPOCH {
                Context::Sessionless
            } else {
                Context::Full {
                    privileged,
                    uses_topic_ids,
                }
            };
        }
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return Context::Error(FETCH_SESSION_ID_NOT_FOUND);
        };
        if session.epoch != epoch {
            return Context::Error(INVALID_FETCH_SESSION_EPOCH);
        }
        if session.uses_topic_ids != uses_topic_ids {
            return Context::Error(FETCH_SESSION_TOPIC_ID_ERROR);
        }
        // Kafka's `FetchSession.update`: add or update, then forget.
        for (key, req) in fetch {
            match session.partitions.get_mut(key) {
                Some(cached) => cached.req = *req,
                None => {
                    session.partitions.insert(
                        key.clone(),
                        CachedPartition {
                            req: *req,
                            high_watermark: -1,
                            local_log_start_offset: -1,
                            moved: false,
                        },
                    );
                }
            }
        }
        for key in forget {
            session.partitions.shift_remove(key);
        }
        if session.partitions.is_empty() || session.partitions.len() > MAX_SESSION_PARTITIONS {
            self.remove(session_id);
            return Context::Sessionless;
        }
        session.epoch = next_epoch(session.epoch);
        let epoch = session.epoch;
        let partitions = session
            .partitions
            .iter()
            .map(|(k, c)| (k.clone(), c.req))
            .collect();
        self.touch(session_id, now_ms);
        Context::Incremental {
            session_id,
            epoch,
            partitions,
        }
    }

    /// Kafka's `FullFetchContext.updateAndGenerateResponseData` → `maybeCreateSession`: a
    /// session of the partitions a full request was answered with (request data, and the high
    /// watermark and log start offset sent), if there is room. Returns its id, or 0.
    pub fn create_session(
        &mut self,
        now_ms: i64,
        privileged: bool,
        uses_topic_ids: bool,
        partitions: Vec<(PartKey, PartitionReq, PartitionOutcome)>,
    ) -> i32 {
        let size = partitions.len();
        if size > MAX_SESSION_PARTITIONS {
            return INVALID_SESSION_ID;
        }
        if self.sessions.len() >= self.max_entries && !self.try_evict(privileged, size, now_ms) {
            return INVALID_SESSION_ID;
        }
        let mut map = IndexMap::with_capacity(size);
        for (key, req, out) in partitions {
            map.insert(
                key,
                CachedPartition {
                    req,
                    high_watermark: out.high_watermark,
                    local_log_start_offset: out.log_start_offset,
                    moved: false,
                },
            );
        }
        let id = self.new_session_id();
        self.sessions.insert(
            id,
            Session {
                id,
                privileged,
                uses_topic_ids,
                creation_ms: now_ms,
                last_used_ms: now_ms,
                epoch: next_epoch(INITIAL_EPOCH),
                cached_size: None,
                partitions: map,
            },
        );
        self.touch(id, now_ms);
        id
    }

    /// Kafka's `IncrementalFetchContext.updateAndGenerateResponseData`: which of the session's
    /// partitions (`outcomes`, in the order [`Context::Incremental`] gave them) the response
    /// carries. A session evicted meanwhile carries everything (Kafka still holds the evicted
    /// session object and answers from it; the next request meets FETCH_SESSION_ID_NOT_FOUND).
    pub fn finish_incremental(
        &mut self,
        session_id: i32,
        epoch: i32,
        outcomes: &[(&PartKey, PartitionOutcome)],
    ) -> Finish {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return Finish::Include(vec![true; outcomes.len()]);
        };
        if session.epoch != epoch {
            return Finish::Error(INVALID_FETCH_SESSION_EPOCH);
        }
        let mut include = Vec::with_capacity(outcomes.len());
        let mut any_moved = false;
        for (key, out) in outcomes {
            let Some(cached) = session.partitions.get_mut(*key) else {
                // Forgotten by a request that raced this one: nothing to say about it.
                include.push(false);
                continue;
            };
            let must = cached.must_respond(out, true);
            if must && out.records_len > 0 {
                cached.moved = true;
                any_moved = true;
            }
            include.push(must);
        }
        if any_moved {
            // Those that returned records go to the end, in their order (Kafka's remove +
            // mustAdd while iterating the response).
            let mut moved = Vec::new();
            session.partitions.retain(|k, c| {
                if c.moved {
                    c.moved = false;
                    moved.push((k.clone(), c.clone()));
                    false
                } else {
                    true
                }
            });
            session.partitions.extend(moved);
        }
        Finish::Include(include)
    }

    /// Close a session (a full request naming it).
    pub fn remove(&mut self, session_id: i32) -> Option<Session> {
        let session = self.sessions.remove(&session_id)?;
        self.last_used.remove(&(session.last_used_ms, session.id));
        let key = session.evictable_key();
        self.evictable_by_all.remove(&key);
        self.evictable_by_privileged.remove(&key);
        self.num_partitions -= session.cached_size.unwrap_or(0);
        Some(session)
    }

    /// A positive id no session has (Kafka's `newSessionId`).
    fn new_session_id(&self) -> i32 {
        loop {
            let id = rand::random_range(1..i32::MAX);
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// Kafka's `tryEvict`: make room for a new session of `size` partitions.
    fn try_evict(&mut self, privileged: bool, size: usize, now_ms: i64) -> bool {
        let Some(&(last_used, oldest)) = self.last_used.first() else {
            return false;
        };
        if now_ms - last_used > self.eviction_ms {
            self.remove(oldest);
            self.evictions += 1;
            return true;
        }
        let set = if privileged {
            &self.evictable_by_privileged
        } else {
            &self.evictable_by_all
        };
        let Some(&victim) = set.first() else {
            return false;
        };
        if (privileged, size, 0) < victim {
            return false;
        }
        self.remove(victim.2);
        self.evictions += 1;
        true
    }

    /// Kafka's `touch`: the session was used at `now_ms`; refresh its places in the
    /// last-used and evictable sets and the partition count.
    fn touch(&mut self, session_id: i32, now_ms: i64) {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        self.last_used.remove(&(session.last_used_ms, session.id));
        session.last_used_ms = now_ms;
        self.last_used.insert((now_ms, session.id));
        if let Some(old) = session.cached_size {
            let key = session.evictable_key();
            self.evictable_by_all.remove(&key);
            self.evictable_by_privileged.remove(&key);
            self.num_partitions -= old;
        }
        session.cached_size = Some(session.partitions.len());
        let key = session.evictable_key();
        let old_enough = now_ms - session.creation_ms > self.eviction_ms;
        if !session.privileged || old_enough {
            self.evictable_by_privileged.insert(key);
        }
        if old_enough {
            self.evictable_by_all.insert(key);
        }
        self.num_partitions += session.partitions.len();
    }
}

#[cfg(test)]
#[path = "fetch_sessions_tests.rs"]
mod tests;
