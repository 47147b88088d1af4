//! Producer ids for this broker's transaction coordinator, in blocks handed out by the
//! active controller (Kafka's AllocateProducerIds: each block is a `ProducerIds` metadata
//! record, so no id is ever handed out twice across the cluster, even after a crash —
//! the rest of a block is simply skipped).
//!
//! The pool keeps the current block and prefetches the next one when 90% of it is used
//! (a broker task asks the controller; see `server/mod.rs`). With no id at hand,
//! [`ProducerIdPool::allocate`] returns None and InitProducerId answers
//! COORDINATOR_LOAD_IN_PROGRESS, which clients retry — as Kafka's RPCProducerIdManager.
//!
//! Concurrency: one short mutex; `wanted` wakes the fetching task.

use std::sync::Mutex;

use tokio::sync::Notify;

/// Ids per block (Kafka's PRODUCER_ID_BLOCK_SIZE).
pub const BLOCK_SIZE: i64 = 1000;

#[derive(Debug, Default)]
struct PoolState {
    next: i64,
    /// First id beyond the current block (next == end: exhausted).
    end: i64,
    prefetched: Option<(i64, i64)>,
}

#[derive(Debug, Default)]
pub struct ProducerIdPool {
    state: Mutex<PoolState>,
    /// Notified when a new block should be fetched.
    pub wanted: Notify,
}

impl ProducerIdPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next id, or None if no block is at hand yet.
    pub fn allocate(&self) -> Option<i64> {
        let mut st = self.lock();
        if st.next >= st.end {
            if let Some((first, count)) = st.prefetched.take() {
                st.next = first;
                st.end = first + count;
            }
        }
        let id = (st.next < st.end).then(|| {
            st.next += 1;
            st.next - 1
        });
        let low = st.end - st.next <= BLOCK_SIZE / 10;
        let need = low && st.prefetched.is_none();
        drop(st);
        if need || id.is_none() {
            self.wanted.notify_one();
        }
        id
    }

    /// Whether a block should be fetched now.
    pub fn needs_block(&self) -> bool {
        let st = self.lock();
        st.prefetched.is_none() && st.end - st.next <= BLOCK_SIZE / 10
    }

    /// A block from the controller.
    pub fn add_block(&self, first: i64, count: i64) {
        let mut st = self.lock();
        if st.next >= st.end {
            st.next = first;
            st.end = first + count;
        } else {
            st.prefetched = Some((first, count));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_blocks_in_order_and_run_out() {
        let pool = ProducerIdPool::default();
        assert_eq!(pool.allocate(), None);
        assert!(pool.needs_block());
        pool.add_block(5000, 3);
        assert_eq!(pool.allocate(), Some(5000));
        assert!(pool.needs_block());
        pool.add_block(9000, 2);
        assert!(!pool.needs_block());
        assert_eq!(pool.allocate(), Some(5001));
        assert_eq!(pool.allocate(), Some(5002));
        assert_eq!(pool.allocate(), Some(9000));
        assert_eq!(pool.allocate(), Some(9001));
        assert_eq!(pool.allocate(), None);
    }
}
