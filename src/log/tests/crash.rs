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
