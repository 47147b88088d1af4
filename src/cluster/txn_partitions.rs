//! Which partitions each transactional producer may write right now: the transaction
//! coordinator's view, published to the produce path so it can check transactional batches
//! synchronously (KIP-890 part 1 "verification": a transactional batch for a partition that
//! is not in the producer's ongoing transaction is INVALID_TXN_STATE and is never written, so
//! no transaction can hang in a partition the coordinator does not know about).
//!
//! The transaction runtime sets a producer's full partition set after the coordinator
//! persisted it (AddPartitionsToTxn / AddOffsetsToTxn) and clears it as soon as the
//! transaction ends (EndTxn accepted, timeout abort, fencing): a late or zombie write after
//! that is rejected. Concurrency: one short mutex; readers copy nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// INVALID_PRODUCER_EPOCH
const INVALID_PRODUCER_EPOCH: i16 = 47;
/// INVALID_TXN_STATE
const INVALID_TXN_STATE: i16 = 48;

#[derive(Debug, Default)]
struct Ongoing {
    epoch: i16,
    partitions: HashSet<(String, i32)>,
}

#[derive(Debug, Default)]
struct State {
    ongoing: HashMap<i64, Ongoing>,
    /// The newest epoch the coordinator gave or fenced with, per transactional producer id
    /// (one entry per transactional id: bounded by them, not by idempotent producers).
    epochs: HashMap<i64, i16>,
}

#[derive(Debug, Default)]
pub struct TxnPartitions {
    state: Mutex<State>,
}

impl TxnPartitions {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The producer's ongoing transaction now covers exactly these partitions.
    pub fn set(&self, producer_id: i64, epoch: i16, partitions: Vec<(String, i32)>) {
        let mut st = self.lock();
        let e = st.epochs.entry(producer_id).or_insert(epoch);
        *e = (*e).max(epoch);
        st.ongoing.insert(
            producer_id,
            Ongoing {
                epoch,
                partitions: partitions.into_iter().collect(),
            },
        );
    }

    /// The producer has no ongoing transaction any more.
    pub fn clear(&self, producer_id: i64) {
        self.lock().ongoing.remove(&producer_id);
    }

    /// The coordinator handed out (InitProducerId) or fenced with (a timeout or a newer
    /// instance's abort) this epoch: writes with an older one are INVALID_PRODUCER_EPOCH, as
    /// Kafka's verification answers, even when no transaction is open.
    pub fn note_epoch(&self, producer_id: i64, epoch: i16) {
        let mut st = self.lock();
        let e = st.epochs.entry(producer_id).or_insert(epoch);
        *e = (*e).max(epoch);
    }

    /// May this producer write a transactional batch to this partition? Err is the Kafka
    /// error code: INVALID_PRODUCER_EPOCH for an older epoch than the transaction's,
    /// INVALID_TXN_STATE when the partition is not in an ongoing transaction of the producer.
    pub fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), i16> {
        let st = self.lock();
        if st.epochs.get(&producer_id).is_some_and(|&e| epoch < e) {
            return Err(INVALID_PRODUCER_EPOCH);
        }
        let Some(t) = st.ongoing.get(&producer_id) else {
            return Err(INVALID_TXN_STATE);
        };
        if epoch < t.epoch {
            return Err(INVALID_PRODUCER_EPOCH);
        }
        if epoch == t.epoch && t.partitions.contains(&(topic.to_string(), partition)) {
            Ok(())
        } else {
            Err(INVALID_TXN_STATE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_partitions_of_the_ongoing_transaction_at_its_epoch_are_writable() {
        let t = TxnPartitions::default();
        assert_eq!(t.check(7, 0, "a", 0), Err(INVALID_TXN_STATE));
        t.set(7, 2, vec![("a".into(), 0), ("b".into(), 1)]);
        assert_eq!(t.check(7, 2, "a", 0), Ok(()));
        assert_eq!(t.check(7, 2, "b", 1), Ok(()));
        assert_eq!(t.check(7, 2, "b", 0), Err(INVALID_TXN_STATE));
        assert_eq!(t.check(7, 1, "a", 0), Err(INVALID_PRODUCER_EPOCH));
        assert_eq!(t.check(7, 3, "a", 0), Err(INVALID_TXN_STATE));
        t.clear(7);
        assert_eq!(t.check(7, 2, "a", 0), Err(INVALID_TXN_STATE));
        // Fenced (e.g. a newer instance aborted the transaction with epoch 3): the old epoch
        // is INVALID_PRODUCER_EPOCH, not INVALID_TXN_STATE.
        t.note_epoch(7, 3);
        assert_eq!(t.check(7, 2, "a", 0), Err(INVALID_PRODUCER_EPOCH));
        assert_eq!(t.check(7, 3, "a", 0), Err(INVALID_TXN_STATE));
    }
}
