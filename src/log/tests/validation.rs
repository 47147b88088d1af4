//! Produce payload validation: a bad payload is rejected whole, with nothing written.

use super::*;
use crate::log::{LogError, TimestampType};
use crate::protocol::batch::{verify_crc, BatchHeader};

fn fresh() -> (tempfile::TempDir, PartitionLog) {
    let tmp = tempfile::tempdir().unwrap();
    let log = open(&partition_dir(&tmp), &LogConfig::default());
    (tmp, log)
}

/// Append `payload` after one good batch and check it is refused with nothing written.
fn assert_rejected(mut payload: Vec<u8>, check: impl Fn(&LogError) -> bool) {
    let (tmp, mut log) = fresh();
    log.append(&mut simple(3, 10), 0, 1_000).unwrap();
    let (end, size) = (log.log_end_offset(), log.size_bytes());
    let err = log.append(&mut payload, 0, 1_000).unwrap_err();
    assert!(check(&err), "unexpected error {err:?}");
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.size_bytes(), size);
    let file = segment_path(&partition_dir(&tmp), 0, ".log");
    assert_eq!(std::fs::metadata(file).unwrap().len(), size);
    // Still usable.
    assert_eq!(
        log.append(&mut simple(1, 10), 0, 1_000)
            .unwrap()
            .base_offset,
        end
    );
}

#[test]
fn bad_crc_is_corrupt_message() {
    let mut b = simple(3, 10);
    let last = b.len() - 1;
    b[last] ^= 1;
    assert_rejected(b, |e| matches!(e, LogError::CorruptMessage(_)));
}

#[test]
fn bad_crc_in_a_later_batch_rejects_the_whole_payload() {
    let mut payload = simple(2, 10);
    let mut second = simple(2, 10);
    second[40] ^= 0xff;
    payload.extend_from_slice(&second);
    assert_rejected(payload, |e| matches!(e, LogError::CorruptMessage(_)));
}

#[test]
fn batch_over_max_message_bytes_is_too_large() {
    let tmp = tempfile::tempdir().unwrap();
    let config = LogConfig {
        max_message_bytes: 500,
        ..LogConfig::default()
    };
    let mut log = open(&partition_dir(&tmp), &config);
    let mut big = encode(&[1, 2, 3], kafka_protocol::records::Compression::None, 300);
    let size = big.len();
    assert!(matches!(
        log.append(&mut big, 0, 1_000),
        Err(LogError::MessageTooLarge { size: s, max: 500 }) if s == size
    ));
    assert_eq!(log.log_end_offset(), 0);
    let mut fits = simple(2, 1);
    assert!(fits.len() <= 500);
    log.append(&mut fits, 0, 1_000).unwrap();
}

#[test]
fn magic_one_is_invalid_record() {
    let mut b = simple(2, 10);
    b[16] = 1;
    assert_rejected(b, |e| matches!(e, LogError::InvalidRecord(_)));
}

#[test]
fn truncated_payload_is_corrupt_message() {
    let mut payload = simple(2, 10);
    payload.extend_from_slice(&simple(2, 10));
    payload.truncate(payload.len() - 5);
    assert_rejected(payload, |e| matches!(e, LogError::CorruptMessage(_)));
    let b = simple(2, 10);
    assert_rejected(b[..40].to_vec(), |e| {
        matches!(e, LogError::CorruptMessage(_))
    });
}

#[test]
fn empty_payload_is_invalid_record() {
    assert_rejected(Vec::new(), |e| matches!(e, LogError::InvalidRecord(_)));
}

#[test]
fn bad_record_count_or_offset_delta_is_invalid_record() {
    let set_i32 = |b: &mut Vec<u8>, at: usize, v: i32| {
        b[at..at + 4].copy_from_slice(&v.to_be_bytes());
        let crc = crate::protocol::batch::compute_crc(b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
    };
    let mut zero = simple(1, 10);
    set_i32(&mut zero, 57, 0);
    set_i32(&mut zero, 23, -1);
    assert_rejected(zero, |e| matches!(e, LogError::InvalidRecord(_)));
    // A batch claiming more offsets than it has records.
    let mut wide = simple(2, 10);
    set_i32(&mut wide, 23, 1_000_000);
    assert!(verify_crc(&wide));
    assert_rejected(wide, |e| matches!(e, LogError::InvalidRecord(_)));
}

#[test]
fn append_assigns_offsets_epoch_and_keeps_crc() {
    let (_tmp, mut log) = fresh();
    let mut payload = simple(3, 10);
    payload.extend_from_slice(&encode(
        &[50, 40],
        kafka_protocol::records::Compression::Zstd,
        10,
    ));
    let info = log.append(&mut payload, 7, 1_000).unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.records),
        (0, 4, 5)
    );
    assert_eq!(info.log_append_time, -1);
    assert_eq!(info.max_timestamp, 50);
    let headers: Vec<BatchHeader> = BatchIter::new(&payload).map(|r| r.unwrap().0).collect();
    assert_eq!(headers[0].base_offset, 0);
    assert_eq!(headers[1].base_offset, 3);
    assert!(headers.iter().all(|h| h.partition_leader_epoch == 7));
    assert!(BatchIter::new(&payload).all(|r| verify_crc(r.unwrap().1)));
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(read_all(&log, 0, 1 << 20), payload);
    assert_eq!(
        decode_records(&payload)
            .iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
}

#[test]
fn log_append_time_stamps_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = open(&partition_dir(&tmp), &config);
    let mut payload = simple(3, 10);
    let info = log.append(&mut payload, 0, 77_777).unwrap();
    assert_eq!(info.log_append_time, 77_777);
    assert_eq!(info.max_timestamp, 77_777);
    let stored = read_all(&log, 0, 1 << 20);
    let h = BatchHeader::parse(&stored).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 77_777);
    assert!(verify_crc(&stored));
    assert_eq!(log.offset_for_timestamp(77_777).unwrap(), Some((0, 77_777)));
    assert_eq!(log.max_timestamp(), Some((77_777, 0)));
}

/// KIP-467: CreateTime timestamps outside `message.timestamp.before/after.max.ms` of the
/// broker's clock fail the batch with INVALID_TIMESTAMP naming each bad record (in every
/// codec); nothing is written; in-range batches and unchecked defaults pass.
#[test]
fn timestamps_out_of_range_are_record_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let config = LogConfig {
        timestamp_before_max_ms: 1_000,
        timestamp_after_max_ms: 500,
        ..LogConfig::default()
    };
    let mut log = open(&partition_dir(&tmp), &config);
    let now = 100_000;
    use kafka_protocol::records::Compression as C;
    for (i, codec) in [C::None, C::Gzip, C::Snappy, C::Lz4, C::Zstd]
        .into_iter()
        .enumerate()
    {
        // Records 1 (too old) and 3 (too new) are out of [99_000, 100_500].
        let mut b = encode(&[99_000, 98_999, 100_500, 100_501], codec, 10);
        let err = log.append(&mut b, 0, now).unwrap_err();
        let LogError::RecordErrors {
            timestamp: true,
            message,
            errors,
        } = err
        else {
            panic!("{codec:?}: {err:?}");
        };
        assert_eq!(
            message,
            "One or more records have been rejected due to invalid timestamp"
        );
        let got: Vec<(i32, i16, &str)> = errors
            .iter()
            .map(|e| (e.batch_index, e.code, e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    1,
                    32,
                    "Timestamp 98999 of message with offset 1 is out of range. The timestamp \
                     should be within [99000, 100500]"
                ),
                (
                    3,
                    32,
                    "Timestamp 100501 of message with offset 3 is out of range. The timestamp \
                     should be within [99000, 100500]"
                ),
            ],
            "{codec:?}"
        );
        assert_eq!(log.log_end_offset(), 2 * i as i64, "nothing written");
        let mut ok = encode(&[99_000, 100_500], codec, 10);
        log.append(&mut ok, 0, now).unwrap();
    }
    assert_eq!(log.log_end_offset(), 10);
    // LogAppendTime topics stamp the broker's time and check nothing.
    let lat = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..config
    };
    let tmp2 = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp2), &lat);
    log.append(&mut encode(&[1, 2], C::None, 10), 0, now)
        .unwrap();
    // Defaults (Long.MAX_VALUE): any timestamp.
    let (_t, mut log) = fresh();
    log.append(&mut encode(&[1, i64::MAX / 2], C::None, 10), 0, now)
        .unwrap();
}
