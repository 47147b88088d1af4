//! Random leader/follower histories: the follower's log is always a prefix of its leader's,
//! byte for byte, with the leader's epochs; once caught up, its producer state, aborted
//! transactions and last stable offset are the leader's. Truncations, crashes and restarts
//! of the follower in between.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::replica::{fetch, txn_view};
use super::*;

/// Segments of a few batches: rolls and snapshots happen, without a file per append.
fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 3_000,
        index_interval_bytes: 300,
        ..LogConfig::default()
    }
}

struct Leader {
    log: PartitionLog,
    epoch: i32,
    /// Next sequence of idempotent producers 1..=3.
    seqs: [i32; 3],
    /// Transactional producers 10..=12: whether a transaction is open.
    open: [bool; 3],
}

impl Leader {
    fn append(&mut self, rng: &mut StdRng) {
        let (e, ts) = (self.epoch, rng.random_range(0..10_000));
        match rng.random_range(0..10) {
            0..=3 => {
                let mut b = simple(rng.random_range(1..8), ts);
                self.log.append(&mut b, e, ts).unwrap();
            }
            4..=5 => {
                let p = rng.random_range(0..3);
                let n = rng.random_range(1..5);
                let mut b = producer_batch_at(n, 1 + p as i64, 0, self.seqs[p], false, ts);
                self.log.append(&mut b, e, ts).unwrap();
                self.seqs[p] += n as i32;
            }
            6..=7 => {
                let p = rng.random_range(0..3);
                let mut b = producer_batch_at(2, 10 + p as i64, 0, 0, true, ts);
                // Transactional producers here do not track sequences: a fresh epoch-less
                // start each time would be refused, so use the coordinator origin.
                let origin = crate::log::AppendOrigin::Coordinator;
                self.log.append_from(&mut b, e, ts, origin).unwrap();
                self.open[p] = true;
            }
            8 => {
                let p = rng.random_range(0..3);
                let commit = rng.random_bool(0.5);
                self.log
                    .append_control(10 + p as i64, 0, commit, 0, e, ts)
                    .unwrap();
                self.open[p] = false;
            }
            _ => self.epoch += 1,
        }
    }
}

/// Returns whether the follower was caught up (and its transaction state compared).
fn check(leader: &PartitionLog, follower: &PartitionLog) -> bool {
    let end = follower.log_end_offset();
    let ours = read_all(follower, 0, 1 << 20);
    let theirs = read_all(leader, 0, 1 << 20);
    assert!(theirs.starts_with(&ours), "not a prefix at {end}");
    let epochs: Vec<(i32, i64)> = leader
        .leader_epoch_entries()
        .into_iter()
        .filter(|&(_, o)| o < end)
        .collect();
    assert_eq!(follower.leader_epoch_entries(), epochs);
    let (lso, hw) = (follower.last_stable_offset(), follower.high_watermark());
    assert!(follower.log_start_offset() <= lso && lso <= hw && hw <= end);
    if end == leader.log_end_offset() {
        let (mut ours, theirs) = (txn_view(follower), txn_view(leader));
        if hw != leader.high_watermark() {
            // The follower has not heard of the leader's high watermark yet.
            assert!(ours.last_stable_offset <= theirs.last_stable_offset);
            ours.last_stable_offset = theirs.last_stable_offset;
        }
        assert_eq!(ours, theirs);
        return true;
    }
    false
}

fn reopen(dir: &Path, clean: Option<PartitionLog>) -> PartitionLog {
    if let Some(log) = clean {
        log.close().unwrap();
    }
    let mut log = open(dir, &config());
    log.set_high_watermark_managed(true);
    log
}

fn run(seed: u64, ops: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let mut leader = Leader {
        log: open(&tmp.path().join("leader"), &config()),
        epoch: 0,
        seqs: [0; 3],
        open: [false; 3],
    };
    let dir = tmp.path().join("follower");
    let mut follower = Some(reopen(&dir, None));
    let (mut compared, mut cuts, mut open_txn_cut) = (0, 0, 0);
    for _ in 0..ops {
        let mut f = follower.take().unwrap();
        match rng.random_range(0..100) {
            0..=44 => leader.append(&mut rng),
            45..=74 => {
                // One fetch, or (as often) as many as it takes to catch up.
                let all = rng.random_bool(0.5);
                while f.log_end_offset() < leader.log.log_end_offset() {
                    fetch(&leader.log, &mut f, rng.random_range(1..1_500));
                    if !all {
                        break;
                    }
                }
                f.set_high_watermark(leader.log.high_watermark().min(f.log_end_offset()));
            }
            75..=84 => {
                let to = rng.random_range(0..=f.log_end_offset());
                let before = f.log_end_offset();
                f.truncate_to(to).unwrap();
                cuts += usize::from(f.log_end_offset() < before);
                open_txn_cut += usize::from(f.last_stable_offset() < f.log_end_offset());
                assert!(f.log_end_offset() <= to.max(f.log_start_offset()));
            }
            85..=89 => {
                drop(f);
                f = reopen(&dir, None);
            }
            90..=94 => f = reopen(&dir, Some(f)),
            95..=96 => {
                f.truncate_fully_and_start_at(0).unwrap();
                assert_eq!(f.log_end_offset(), 0);
            }
            _ => {
                f.flush().unwrap();
                f.checkpoint_high_watermark().unwrap();
            }
        }
        compared += usize::from(check(&leader.log, &f));
        follower = Some(f);
    }
    assert!(
        compared > 20 && cuts > 5 && open_txn_cut > 0,
        "{compared} {cuts} {open_txn_cut}"
    );
    let mut f = follower.take().unwrap();
    while f.log_end_offset() < leader.log.log_end_offset() {
        fetch(&leader.log, &mut f, 2_000);
    }
    f.set_high_watermark(leader.log.high_watermark());
    assert!(check(&leader.log, &f));
    // After a crash the managed high watermark restarts from its checkpoint (lower or
    // equal); the next fetch response brings it up again.
    drop(f);
    let mut f = reopen(&dir, None);
    assert!(f.high_watermark() <= leader.log.high_watermark());
    check(&leader.log, &f);
    f.set_high_watermark(leader.log.high_watermark());
    check(&leader.log, &f);
}

#[test]
fn random_replication_histories_keep_the_follower_a_prefix_of_its_leader() {
    for seed in 0..4 {
        run(seed, 250);
    }
}
