//! Fuzz record-batch parsing and the log's validation and recovery: arbitrary bytes as a
//! produce payload (must be rejected or appended, never panic), and as a segment file found on
//! disk at start-up (recovery must truncate to valid batches, never panic); and as a Produce
//! v0–2 message set (up-conversion) and stored data for Fetch v0–3 (down-conversion).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skua::log::{LogConfig, PartitionLog};
use skua::protocol::batch::{verify_crc, BatchHeader, BatchIter};
use skua::protocol::legacy::message_set;

fuzz_target!(|data: &[u8]| {
    let _ = message_set::up_convert(data, false);
    if let Ok(batch) = message_set::up_convert(data, true) {
        let _ = message_set::down_convert(&batch, 1, 0, 1 << 20);
    }
    for magic in [0, 1] {
        let _ = message_set::down_convert(data, magic, 0, 1 << 16);
    }
    let _ = BatchHeader::parse(data);
    for item in BatchIter::new(data) {
        match item {
            Ok((_, bytes)) => {
                let _ = verify_crc(bytes);
            }
            Err(_) => break,
        }
    }
    let Ok(dir) = tempfile::tempdir() else { return };
    let part = dir.path().join("t-0");
    if let Ok(mut log) = PartitionLog::open(&part, LogConfig::default(), 0) {
        let mut payload = data.to_vec();
        let _ = log.append(&mut payload, 0, 0);
        let _ = log.read(0, 1 << 20, true).and_then(|p| p.execute());
    }
    // The same bytes as a segment left by a crash.
    let crashed = dir.path().join("c-0");
    if std::fs::create_dir_all(&crashed).is_ok()
        && std::fs::write(crashed.join("00000000000000000000.log"), data).is_ok()
    {
        if let Ok(log) = PartitionLog::open(&crashed, LogConfig::default(), 0) {
            let end = log.log_end_offset();
            let _ = log.read(0, 1 << 20, true).and_then(|p| p.execute());
            assert!(end >= 0);
        }
    }
});
