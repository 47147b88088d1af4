//! Random operation sequences checked against an in-memory model of the log.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::log::LogError;

struct ModelBatch {
    base: i64,
    last: i64,
    bytes: Vec<u8>,
    /// (offset, timestamp) per record.
    records: Vec<(i64, i64)>,
}

#[derive(Default)]
struct Model {
    batches: Vec<ModelBatch>,
    log_start_offset: i64,
    log_end_offset: i64,
}

impl Model {
    fn size(&self) -> u64 {
        self.batches.iter().map(|b| b.bytes.len() as u64).sum()
    }

    fn records(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.batches.iter().flat_map(|b| b.records.iter().copied())
    }
}

fn random_payload(rng: &mut StdRng) -> (Vec<u8>, Vec<Vec<i64>>) {
    let mut payload = Vec::new();
    let mut timestamps = Vec::new();
    for _ in 0..rng.random_range(1..=3) {
        let n = rng.random_range(1..=12);
        let ts: Vec<i64> = (0..n).map(|_| rng.random_range(0..10_000)).collect();
        let codec = CODECS[rng.random_range(0..CODECS.len())];
        payload.extend_from_slice(&encode(&ts, codec, rng.random_range(0..120)));
        timestamps.push(ts);
    }
    (payload, timestamps)
}

fn append(log: &mut PartitionLog, model: &mut Model, rng: &mut StdRng) {
    let (mut payload, timestamps) = random_payload(rng);
    let info = log.append(&mut payload, 5, 1_000).unwrap();
    assert_eq!(info.base_offset, model.log_end_offset);
    for ((header, bytes), ts) in BatchIter::new(&payload).map(Result::unwrap).zip(timestamps) {
        assert_eq!(header.partition_leader_epoch, 5);
        let records = ts
            .iter()
            .enumerate()
            .map(|(i, &t)| (header.base_offset + i as i64, t))
            .collect();
        model.batches.push(ModelBatch {
            base: header.base_offset,
            last: header.last_offset(),
            bytes: bytes.to_vec(),
            records,
        });
    }
    model.log_end_offset = info.last_offset + 1;
}

/// What a read must return: the batch holding `offset`, then following batches of the same
/// segment while the total stays within `max_bytes`.
fn expected_read(
    log: &PartitionLog,
    model: &Model,
    offset: i64,
    max_bytes: usize,
    min_one: bool,
) -> Vec<u8> {
    let Some(first) = model.batches.iter().position(|b| b.last >= offset) else {
        return Vec::new();
    };
    let next_segment = log
        .segments
        .keys()
        .copied()
        .find(|&base| base > model.batches[first].base)
        .unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for b in model.batches[first..]
        .iter()
        .take_while(|b| b.base < next_segment)
    {
        if out.len() + b.bytes.len() > max_bytes {
            break;
        }
        out.extend_from_slice(&b.bytes);
    }
    if out.is_empty() && min_one {
        out = model.batches[first].bytes.clone();
    }
    out
}

fn check_read(log: &PartitionLog, model: &Model, rng: &mut StdRng) {
    let offset = rng.random_range(model.log_start_offset..=model.log_end_offset);
    let max_bytes = rng.random_range(0..3_000);
    let min_one = rng.random_bool(0.7);
    let got = log
        .read(offset, max_bytes, min_one)
        .unwrap()
        .execute()
        .unwrap();
    let want = expected_read(log, model, offset, max_bytes, min_one);
    assert_eq!(
        got.len(),
        want.len(),
        "read at {offset} max {max_bytes} min_one {min_one}"
    );
    assert!(got == want, "read bytes differ at {offset}");
    for bad in [model.log_start_offset - 1, model.log_end_offset + 1] {
        if bad >= 0 {
            assert!(matches!(
                log.read(bad, 100, true),
                Err(LogError::OffsetOutOfRange { .. })
            ));
        }
    }
}

fn check_timestamps(log: &PartitionLog, model: &Model, rng: &mut StdRng) {
    let target = rng.random_range(-5..10_005);
    let want = model.records().find(|&(_, ts)| ts >= target);
    assert_eq!(
        log.offset_for_timestamp(target).unwrap(),
        want,
        "target {target}"
    );
    let max = model.records().map(|(_, ts)| ts).max();
    let want_max = max.map(|m| {
        let (offset, _) = model.records().find(|&(_, ts)| ts == m).unwrap();
        (m, offset)
    });
    assert_eq!(log.max_timestamp(), want_max);
}

fn retain(log: &mut PartitionLog, model: &mut Model, rng: &mut StdRng) {
    let retention_bytes = rng.random_range(0..12_000);
    let mut config = log.config().clone();
    config.retention_bytes = retention_bytes;
    log.set_config(config);
    let before = log.segment_count();
    let deleted = log.apply_retention(1_000).unwrap();
    assert_eq!(log.segment_count(), before - deleted);
    model.log_start_offset = log.log_start_offset();
    model.batches.retain(|b| b.last >= model.log_start_offset);
    let first_base = *log.segments.keys().next().unwrap();
    assert_eq!(first_base, model.log_start_offset);
    if let Some(b) = model.batches.first() {
        assert_eq!(
            b.base, model.log_start_offset,
            "retention deletes whole segments"
        );
    }
    // Only as much is kept as the limit needs, plus at most one segment.
    let first_size = log.segments.values().next().unwrap().size as i64;
    if log.segment_count() > 1 {
        assert!(log.size_bytes() as i64 - first_size < retention_bytes);
    }
}

fn check_state(log: &PartitionLog, model: &Model) {
    assert_eq!(log.log_end_offset(), model.log_end_offset);
    assert_eq!(log.log_start_offset(), model.log_start_offset);
    assert_eq!(log.high_watermark(), model.log_end_offset);
    assert_eq!(log.size_bytes(), model.size());
}

fn run(seed: u64, ops: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = LogConfig {
        segment_bytes: rng.random_range(1_500..6_000),
        index_interval_bytes: [0, 64, 500][rng.random_range(0..3)],
        ..LogConfig::default()
    };
    let mut log = Some(open(&dir, &config));
    let mut model = Model::default();
    for _ in 0..ops {
        let l = log.as_mut().unwrap();
        match rng.random_range(0..100) {
            0..=44 => append(l, &mut model, &mut rng),
            45..=69 => check_read(l, &model, &mut rng),
            70..=79 => check_timestamps(l, &model, &mut rng),
            80..=83 => retain(l, &mut model, &mut rng),
            84..=87 => {
                log.take().unwrap().close().unwrap();
                log = Some(open(&dir, &config));
            }
            88..=91 => {
                // A crash: the process dies without closing; the page cache keeps the writes.
                drop(log.take());
                log = Some(open(&dir, &config));
            }
            92..=95 => {
                let (mut payload, _) = random_payload(&mut rng);
                // Inside the first batch's CRC-covered bytes.
                let first_len = crate::protocol::batch::peek_total_size(&payload).unwrap();
                let at = rng.random_range(21..first_len);
                payload[at] ^= 0x40;
                assert!(l.append(&mut payload, 5, 1_000).is_err());
            }
            _ => {
                l.flush().unwrap();
                assert_eq!(l.flushed_offset(), model.log_end_offset);
            }
        }
        check_state(log.as_ref().unwrap(), &model);
    }
    // Everything still there, byte for byte, after a last reopen.
    drop(log);
    let log = open(&dir, &config);
    check_state(&log, &model);
    let all: Vec<u8> = model
        .batches
        .iter()
        .flat_map(|b| b.bytes.iter().copied())
        .collect();
    assert!(read_all(&log, model.log_start_offset, 1 << 20) == all);
}

#[test]
fn random_operations_match_the_model() {
    for seed in 0..8 {
        run(seed, 250);
    }
}
