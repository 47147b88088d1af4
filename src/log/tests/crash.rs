//! `kill -9` of a process appending in a loop: every acknowledged append survives, the torn
//! tail (if any) is cut, and the log accepts appends again.
//!
//! The test binary re-runs itself as the child (`kill9_child`, inert without the env var).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::*;

const DIR_ENV: &str = "SKUA_LOG_KILL9_DIR";

fn crash_config() -> LogConfig {
    LogConfig {
        segment_bytes: 64 * 1024,
        index_interval_bytes: 1024,
        flush_messages: 50,
        ..LogConfig::default()
    }
}

/// Batch `k`: `1 + k % 7` records whose timestamps encode `k`.
fn batch_for(k: i64) -> Vec<u8> {
    let ts: Vec<i64> = (0..1 + k % 7).map(|j| k * 100 + j).collect();
    encode(&ts, CODECS[(k % 5) as usize], 100 + (k % 300) as usize)
}

#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let mut log = PartitionLog::open(Path::new(&dir), crash_config(), 0).unwrap();
    let mut k = 0;
    loop {
        let info = log.append(&mut batch_for(k), 0, 0).unwrap();
        println!("acked {k} {}", info.last_offset + 1);
        k += 1;
    }
}

#[test]
fn kill9_loses_no_acknowledged_append() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "log::tests::crash::kill9_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut last_acked = (-1, 0);
        let mut acks = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let Some(rest) = line.strip_prefix("acked ") else {
                continue;
            };
            let mut it = rest.split(' ').map(|f| f.parse::<i64>().unwrap());
            last_acked = (it.next().unwrap(), it.next().unwrap());
            acks += 1;
            if acks == 1_500 + round * 700 {
                // SIGKILL, mid-append or not.
                child.kill().unwrap();
                break;
            }
        }
        child.wait().unwrap();

        let log = PartitionLog::open(&dir, crash_config(), 0).unwrap();
        assert!(log.segment_count() > 2);
        let end = log.log_end_offset();
        assert!(
            end >= last_acked.1,
            "lost acknowledged data: {end} < {}",
            last_acked.1
        );
        // Each restart begins a new sequence of batches at k = 0 from the child's view.
        let bytes = read_all(&log, 0, 1 << 20);
        let mut offset = 0;
        let mut batches = 0;
        let mut prev_k = -1;
        for item in BatchIter::new(&bytes) {
            let (h, b) = item.unwrap();
            assert!(crate::protocol::batch::verify_crc(b));
            assert_eq!(h.base_offset, offset);
            // Content: batch k of some child run, in order.
            let records = decode_records(b);
            let k = records[0].1 / 100;
            assert!(k == prev_k + 1 || k == 0, "batch {k} after {prev_k}");
            let want: Vec<i64> = (0..1 + k % 7).map(|j| k * 100 + j).collect();
            assert_eq!(records.iter().map(|r| r.1).collect::<Vec<_>>(), want);
            prev_k = k;
            offset = h.last_offset() + 1;
            batches += 1;
        }
        assert_eq!(offset, end);
        assert!(batches >= acks as usize);
        log.close().unwrap();
    }
}

const TXN_DIR_ENV: &str = "SKUA_LOG_KILL9_TXN_DIR";

/// A transactional producer: four data batches (1-4 records), then a marker, alternately
/// ABORT and COMMIT; it resumes at the recovered sequence after each restart.
#[test]
fn kill9_txn_child() {
    let Ok(dir) = std::env::var(TXN_DIR_ENV) else {
        return;
    };
    let mut log = PartitionLog::open(Path::new(&dir), crash_config(), 0).unwrap();
    let mut seq = log.producers().first().map_or(0, |p| p.last_sequence + 1);
    for k in 0i64.. {
        if k % 5 == 4 {
            let commit = (k / 5) % 2 == 1;
            let info = log.append_control(1, 0, commit, 0, 0, 0).unwrap();
            println!("marker {commit} {}", info.base_offset);
        } else {
            let n = 1 + (k % 4) as i32;
            let mut batch = producer_batch(n as usize, 1, 0, seq, true);
            let info = log.append(&mut batch, 0, 0).unwrap();
            println!("data {seq} {n} {} {}", info.base_offset, info.last_offset);
            seq += n;
        }
    }
}

/// What the parent saw acknowledged, across child runs.
#[derive(Default)]
struct Acked {
    /// (sequence, records, base offset, last offset) of every data batch.
    data: Vec<(i32, i32, i64, i64)>,
    /// (producer id, first offset) of every acknowledged abort.
    aborted: Vec<(i64, i64)>,
    /// First offset of the transaction open at the last acknowledgement.
    open_txn: Option<i64>,
}

impl Acked {
    fn line(&mut self, line: &str) {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields[0] {
            "data" => {
                let n = |i: usize| fields[i].parse::<i64>().unwrap();
                self.data.push((n(1) as i32, n(2) as i32, n(3), n(4)));
                self.open_txn.get_or_insert(n(3));
            }
            "marker" => {
                let first = self.open_txn.take().unwrap();
                if fields[1] == "false" {
                    self.aborted.push((1, first));
                }
            }
            _ => {}
        }
    }
}

#[test]
fn kill9_keeps_acknowledged_producer_state_transactions_and_aborts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut acked = Acked::default();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "log::tests::crash::kill9_txn_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(TXN_DIR_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = 0;
        // The child runs ahead of the parent: after the kill, everything it printed (each
        // line after its append returned) still counts as acknowledged.
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            // libtest prints "test <name> ... " without a newline before the first line.
            let Some(at) = line.find("data ").or_else(|| line.find("marker ")) else {
                continue;
            };
            acked.line(&line[at..]);
            lines += 1;
            if lines == 1_200 + round * 500 {
                child.kill().unwrap();
            }
        }
        child.wait().unwrap();

        let mut log = PartitionLog::open(&dir, crash_config(), 0).unwrap();
        assert!(log.segment_count() > 1);
        let &(seq, n, _, last) = acked.data.last().unwrap();
        let state = log.producers()[0];
        assert!(state.last_sequence >= seq + n - 1);
        assert!(log.log_end_offset() > last);
        // At most one more batch than acknowledged was written: the last four acknowledged
        // batches are still in the producer's cache.
        for &(seq, n, base, last) in &acked.data[acked.data.len() - 4..] {
            let mut retry = producer_batch(n as usize, 1, 0, seq, true);
            let info = log.append(&mut retry, 0, 0).unwrap();
            assert!(info.duplicate, "retry of sequence {seq}");
            assert_eq!((info.base_offset, info.last_offset), (base, last));
        }
        // Every acknowledged abort is indexed, plus at most one written but not acknowledged.
        let aborted = log.aborted_transactions(0, i64::MAX);
        assert!(aborted.len() <= acked.aborted.len() + 1);
        assert_eq!(aborted[..acked.aborted.len()], acked.aborted[..]);
        match (acked.open_txn, state.current_txn_start_offset) {
            (Some(first), txn) => assert!(txn == first || txn == -1),
            (None, txn) => assert!(txn == -1 || txn > last),
        }
        if state.current_txn_start_offset >= 0 {
            assert_eq!(log.last_stable_offset(), state.current_txn_start_offset);
        } else {
            assert_eq!(log.last_stable_offset(), log.log_end_offset());
        }
        // What was written without being acknowledged is the next child's starting point.
        acked.open_txn =
            (state.current_txn_start_offset >= 0).then_some(state.current_txn_start_offset);
        acked.aborted = aborted;
        drop(log);
    }
}
