//! Replica placement: Kafka's `StripedReplicaPlacer`, over the usable (unfenced, not shutting
//! down) brokers only, so a replication factor above the live broker count is refused.
//!
//! Each partition's first replica (its preferred leader) comes from the next rack in turn and,
//! within a rack, from the next broker in turn, so leaders spread round-robin; the other
//! replicas go to the following racks, one per rack while racks last (rack-aware when racks
//! are set; brokers without a rack share one). The start is random, from [`Rng`], a seeded
//! splitmix64 (no clock, no OS randomness: tests choose the seed).

/// A small deterministic generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A broker replicas may be placed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableBroker {
    pub id: i32,
    pub rack: Option<String>,
}

/// One rack's brokers, handed out in turn from a rotating offset.
struct BrokerList {
    brokers: Vec<i32>,
    index: usize,
    offset: usize,
    epoch: usize,
}

impl BrokerList {
    fn next(&mut self, epoch: usize) -> Option<i32> {
        if self.brokers.is_empty() {
            return None;
        }
        if self.epoch != epoch {
            self.epoch = epoch;
            self.index = 0;
            self.offset = (self.offset + 1) % self.brokers.len();
        }
        if self.index >= self.brokers.len() {
            return None;
        }
        let b = self.brokers[(self.index + self.offset) % self.brokers.len()];
        self.index += 1;
        Some(b)
    }
}

struct RackList<'r> {
    rng: &'r mut Rng,
    /// Racks sorted by name (no rack first), each with its brokers.
    racks: Vec<BrokerList>,
    num_brokers: usize,
    epoch: usize,
    offset: usize,
}

impl<'r> RackList<'r> {
    fn new(rng: &'r mut Rng, brokers: &[UsableBroker]) -> RackList<'r> {
        let mut by_rack: std::collections::BTreeMap<Option<&str>, Vec<i32>> = Default::default();
        for b in brokers {
            by_rack.entry(b.rack.as_deref()).or_default().push(b.id);
        }
        let mut racks = Vec::with_capacity(by_rack.len());
        for (_, mut ids) in by_rack {
            ids.sort_unstable();
            let offset = rng.below(ids.len());
            racks.push(BrokerList {
                brokers: ids,
                index: 0,
                offset,
                epoch: 0,
            });
        }
        let offset = if racks.is_empty() {
            0
        } else {
            rng.below(racks.len())
        };
        RackList {
            rng,
            racks,
            num_brokers: brokers.len(),
            epoch: 0,
            offset,
        }
    }

    fn place(&mut self, replication_factor: usize) -> Vec<i32> {
        // After as many partitions as brokers, shuffle to avoid repeating the same lists.
        if self.epoch == self.num_brokers && self.num_brokers > 1 {
            self.rng.shuffle(&mut self.racks);
            for r in &mut self.racks {
                self.rng.shuffle(&mut r.brokers);
            }
            self.epoch = 0;
        }
        if self.offset == self.racks.len() {
            self.offset = 0;
        }
        let n = self.racks.len();
        let mut out = Vec::with_capacity(replication_factor);
        // The first replica: the next broker of the first rack (from the offset) with one.
        let mut i = self.offset;
        loop {
            if let Some(b) = self.racks[i].next(self.epoch) {
                out.push(b);
                break;
            }
            i = (i + 1) % n;
        }
        let mut first_rack = Some(i);
        let mut rack = self.offset;
        while out.len() < replication_factor {
            let mut got = None;
            while got.is_none() {
                if first_rack == Some(rack) {
                    first_rack = None;
                } else {
                    got = self.racks[rack].next(self.epoch);
                }
                rack = (rack + 1) % n;
            }
            if let Some(b) = got {
                out.push(b);
            }
        }
        self.epoch += 1;
        self.offset += 1;
        out
    }
}

/// Replica lists for `partitions` new partitions. The error is Kafka's
/// `InvalidReplicationFactorException` message.
pub fn place(
    rng: &mut Rng,
    brokers: &[UsableBroker],
    partitions: usize,
    replication_factor: i32,
) -> Result<Vec<Vec<i32>>, String> {
    if replication_factor <= 0 {
        return Err(format!(
            "Invalid replication factor {replication_factor}: the replication factor must be positive."
        ));
    }
    if brokers.is_empty() {
        return Err("All brokers are currently fenced.".into());
    }
    let rf = replication_factor as usize;
    if rf > brokers.len() {
        return Err(format!(
            "The target replication factor of {rf} cannot be reached because only {} broker(s) are registered.",
            brokers.len()
        ));
    }
    let mut racks = RackList::new(rng, brokers);
    Ok((0..partitions).map(|_| racks.place(rf)).collect())
}
