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
pub struct TxnPartitions {
    by_producer: Mutex<HashMap<i64, Ongoing>>,
}

impl TxnPartitions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Ongoing>> {
        self.by_producer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The producer's ongoing transaction now covers exactly these partitions.
    pub fn set(&self, producer_id: i64, epoch: i16, partitions: Vec<(String, i32)>) {
        self.lock().insert(
            producer_id,
            Ongoing {
                epoch,
                partitions: partitions.into_iter().collect(),
            },
        );
    }

    /// The producer has no ongoing transaction any more.
    pub fn clear(&self, producer_id: i64) {
        self.lock().remove(&producer_id);
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
        let map = self.lock();
        let Some(t) = map.get(&producer_id) else {
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
    }
}
