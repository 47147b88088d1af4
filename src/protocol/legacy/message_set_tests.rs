use super::*;
use crate::protocol::batch::{set_base_offset, set_log_append_time, verify_crc, BatchHeader};
use kafka_protocol::records::{Compression, RecordBatchDecoder};

fn msg(magic: i8, attributes: i8, ts: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    write_message(&mut out, 0, magic, attributes, ts, key, value);
    out
}

/// A compressed wrapper of `inner` (already a message set) with codec `c`.
fn wrapper(magic: i8, c: u8, ts: i64, inner: &[u8]) -> Vec<u8> {
    let payload = codec::compress(c, inner, magic).unwrap();
    let mut out = Vec::new();
    write_message(&mut out, 0, magic, c as i8, ts, None, Some(&payload));
    out
}

/// (timestamp, key, value, offset) of a record.
type Decoded = (i64, Option<Vec<u8>>, Option<Vec<u8>>, i64);

/// Every record of a v2 batch.
fn decode(batch: &[u8]) -> Vec<Decoded> {
    let mut b = bytes::Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut b).unwrap();
    set.records
        .into_iter()
        .map(|r| {
            (
                r.timestamp,
                r.key.map(|k| k.to_vec()),
                r.value.map(|v| v.to_vec()),
                r.offset,
            )
        })
        .collect()
}

#[test]
fn magic0_uncompressed_set_becomes_one_v2_batch_without_timestamps() {
    let set = [
        msg(0, 0, -1, Some(b"k1"), Some(b"v1")),
        msg(0, 0, -1, None, Some(b"v2")),
        msg(0, 0, -1, Some(b"k3"), None),
    ]
    .concat();
    let batch = up_convert(&set, false).unwrap();
    let h = BatchHeader::parse(&batch).unwrap();
    assert!(verify_crc(&batch));
    assert_eq!(
        (h.records_count, h.last_offset_delta, h.compression()),
        (3, 2, 0)
    );
    assert_eq!(
        (h.base_timestamp, h.max_timestamp, h.producer_id),
        (-1, -1, -1)
    );
    assert_eq!(
        decode(&batch),
        vec![
            (-1, Some(b"k1".to_vec()), Some(b"v1".to_vec()), 0),
            (-1, None, Some(b"v2".to_vec()), 1),
            (-1, Some(b"k3".to_vec()), None, 2),
        ]
    );
}

#[test]
fn compressed_magic1_wrapper_keeps_codec_and_timestamps() {
    for c in [GZIP, SNAPPY, LZ4] {
        let mut inner = Vec::new();
        write_message(&mut inner, 0, 1, 0, 1000, Some(b"a"), Some(b"x"));
        write_message(&mut inner, 1, 1, 0, 1005, Some(b"b"), Some(b"y"));
        let set = wrapper(1, c, 1005, &inner);
        let batch = up_convert(&set, false).unwrap();
        let h = BatchHeader::parse(&batch).unwrap();
        assert_eq!(h.compression(), c, "codec {c} kept");
        assert_eq!((h.base_timestamp, h.max_timestamp), (1000, 1005));
        let recs = decode(&batch);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1], (1005, Some(b"b".to_vec()), Some(b"y".to_vec()), 1));
    }
}

#[test]
fn magic0_lz4_with_kafkas_broken_header_checksum_is_read() {
    let inner = [msg(0, 0, -1, None, Some(b"old lz4"))].concat();
    let set = wrapper(0, LZ4, -1, &inner);
    let batch = up_convert(&set, false).unwrap();
    assert_eq!(decode(&batch)[0].2.as_deref(), Some(&b"old lz4"[..]));
}

#[test]
fn bad_message_sets_get_kafkas_errors() {
    let good = msg(1, 0, 5, None, Some(b"v"));
    let mut bad_crc = good.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    assert_eq!(up_convert(&bad_crc, false).unwrap_err().code(), 2);
    assert_eq!(
        up_convert(&good[..good.len() - 1], false)
            .unwrap_err()
            .code(),
        2
    );
    let inner = msg(1, 0, 5, None, Some(b"v"));
    let two = [wrapper(1, GZIP, 5, &inner), wrapper(1, GZIP, 5, &inner)].concat();
    assert_eq!(up_convert(&two, false).unwrap_err().code(), 87);
    let mixed = [msg(0, 0, -1, None, None), msg(1, 0, 1, None, None)].concat();
    assert_eq!(up_convert(&mixed, false).unwrap_err().code(), 87);
    let lat = msg(1, LOG_APPEND_TIME_BIT, 5, None, Some(b"v"));
    assert_eq!(up_convert(&lat, false).unwrap_err().code(), 32);
    assert!(up_convert(&lat, true).is_ok());
    let nested = wrapper(1, GZIP, 5, &wrapper(1, GZIP, 5, &inner));
    assert_eq!(up_convert(&nested, false).unwrap_err().code(), 87);
    let garbage = {
        let mut out = Vec::new();
        write_message(&mut out, 0, 1, GZIP as i8, 5, None, Some(b"not gzip"));
        out
    };
    assert_eq!(up_convert(&garbage, false).unwrap_err().code(), 2);
    assert_eq!(up_convert(&[], false).unwrap_err().code(), 87);
}

/// A stored batch of `n` records from `base`, timestamps 100.., with codec `c`.
fn stored(base: i64, n: usize, c: u8) -> Vec<u8> {
    let recs: Vec<PlainRecord> = (0..n)
        .map(|i| PlainRecord {
            timestamp: 100 + i as i64,
            key: Some(format!("k{i}").into_bytes()),
            value: Some(format!("v{i}").into_bytes()),
        })
        .collect();
    let mut b = build_v2_batch(&recs, c).unwrap();
    set_base_offset(&mut b, base);
    b
}

fn offsets_and_values(set: &[u8]) -> Vec<(i64, i8, i64, Vec<u8>)> {
    read_messages(set)
        .unwrap()
        .iter()
        .map(|m| {
            (
                m.offset,
                m.magic,
                m.timestamp,
                m.value.unwrap_or_default().to_vec(),
            )
        })
        .collect()
}

#[test]
fn uncompressed_batches_down_convert_one_message_per_record_from_the_fetch_offset() {
    let data = [stored(10, 3, NONE), stored(13, 2, NONE)].concat();
    let v1 = down_convert(&data, 1, 11, 1 << 20).unwrap();
    assert_eq!(
        offsets_and_values(&v1),
        vec![
            (11, 1, 101, b"v1".to_vec()),
            (12, 1, 102, b"v2".to_vec()),
            (13, 1, 100, b"v0".to_vec()),
            (14, 1, 101, b"v1".to_vec()),
        ]
    );
    let v0 = down_convert(&data, 0, 10, 1 << 20).unwrap();
    let got = offsets_and_values(&v0);
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], (10, 0, -1, b"v0".to_vec()));
    // The byte limit stops on a whole message, and the first always comes.
    let one = down_convert(&data, 1, 10, 1).unwrap();
    assert_eq!(offsets_and_values(&one).len(), 1);
    let two = down_convert(&data, 1, 10, v1.len() / 4 * 2).unwrap();
    assert_eq!(offsets_and_values(&two).len(), 2);
}

#[test]
fn compressed_batches_down_convert_to_one_wrapper_with_the_codec() {
    for c in [GZIP, SNAPPY, LZ4] {
        for magic in [0i8, 1] {
            let data = stored(20, 3, c);
            let set = down_convert(&data, magic, 21, 1 << 20).unwrap();
            let outer = read_messages(&set).unwrap();
            assert_eq!(outer.len(), 1);
            let w = &outer[0];
            assert_eq!((w.offset, w.codec(), w.magic), (22, c, magic));
            if magic == 1 {
                assert_eq!(w.timestamp, 102);
            }
            let inner = codec::decompress(c, w.value.unwrap(), 1 << 20).unwrap();
            let inner = offsets_and_values(&inner);
            let want_offsets: Vec<i64> = if magic == 1 {
                vec![0, 1, 2]
            } else {
                vec![20, 21, 22]
            };
            assert_eq!(inner.iter().map(|m| m.0).collect::<Vec<_>>(), want_offsets);
            assert_eq!(inner[2].3, b"v2".to_vec());
            // and what an old client reads back up-converts to the same records
            let again = up_convert(&set, false).unwrap();
            assert_eq!(decode(&again).len(), 3);
        }
    }
}

#[test]
fn control_batches_are_skipped_and_zstd_is_refused() {
    let mut control = stored(5, 1, NONE);
    let attrs = (1i16 << 5) | (1 << 4);
    control[21..23].copy_from_slice(&attrs.to_be_bytes());
    let data = [stored(0, 5, NONE), control].concat();
    let set = down_convert(&data, 1, 0, 1 << 20).unwrap();
    assert_eq!(offsets_and_values(&set).len(), 5);
    let mut zstd = stored(0, 1, NONE);
    zstd[22] |= 4;
    let e = down_convert(&zstd, 1, 0, 1 << 20).unwrap_err();
    assert_eq!(e.code(), 76);
}

#[test]
fn log_append_time_batches_carry_the_append_time_in_magic1() {
    let mut b = stored(0, 2, NONE);
    set_log_append_time(&mut b, 777);
    let set = down_convert(&b, 1, 0, 1 << 20).unwrap();
    for m in read_messages(&set).unwrap() {
        assert_eq!(
            (m.timestamp, m.attributes & LOG_APPEND_TIME_BIT),
            (777, LOG_APPEND_TIME_BIT)
        );
    }
    let _ = Compression::None;
}
