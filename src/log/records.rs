//! Record-level access to v2 batches, for the two places that look inside a batch: the
//! keyless-record check on produce to a compacted topic, and the cleaner.
//!
//! A batch's records section (after the 61-byte header) is, possibly compressed with the
//! codec in the attributes, `records_count` records of
//!
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
//! | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value | headers...
//! ```
//!
//! (zigzag varints). A record's offset and timestamp are deltas from the batch's base offset
//! and base timestamp, so a subset of a batch's records, copied byte for byte behind the
//! original header (records count, length and CRC updated, re-compressed with the same
//! codec), is a valid batch whose records keep their offsets and timestamps. That is how the
//! cleaner rewrites batches ([`rebuild_batch`]); nothing is re-encoded record by record.
//!
//! Codecs come from kafka-protocol's compression module (gzip, snappy, lz4, zstd).

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};

use crate::protocol::batch::{compute_crc, BatchHeader, BATCH_HEADER_LEN, LOG_OVERHEAD};

/// One record of a (decompressed) records section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RecordView {
    /// Byte range of the whole record (length prefix included) in the records section.
    pub start: usize,
    pub end: usize,
    pub offset_delta: i64,
    pub timestamp_delta: i64,
    /// Byte range of the key, `None` for a null key.
    pub key: Option<(usize, usize)>,
    /// The value is null (a tombstone).
    pub tombstone: bool,
    /// Length of the value, -1 when null.
    pub value_len: i64,
}

/// Read a zigzag varint (up to 64 bits) at `*pos`.
fn varint(buf: &[u8], pos: &mut usize) -> Result<i64, String> {
    let mut raw: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        raw |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    Err("varint too long".into())
}

/// A length-prefixed byte field: `None` for -1 (null).
fn bytes_field(buf: &[u8], pos: &mut usize) -> Result<Option<(usize, usize)>, String> {
    let len = varint(buf, pos)?;
    if len < 0 {
        return Ok(None);
    }
    let start = *pos;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&e| e <= buf.len())
        .ok_or("field extends past the record")?;
    *pos = end;
    Ok(Some((start, end)))
}

/// Parse `count` records of a decompressed records section.
pub(super) fn parse_records(data: &[u8], count: i32) -> Result<Vec<RecordView>, String> {
    // Each record takes at least 7 bytes: bound the allocation by the data.
    let mut out = Vec::with_capacity((count.max(0) as usize).min(data.len() / 7 + 1));
    let mut pos = 0;
    for _ in 0..count {
        let start = pos;
        let len = varint(data, &mut pos)?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| pos.checked_add(l))
            .filter(|&e| e <= data.len())
            .ok_or("record extends past the batch")?;
        let body = &data[..end];
        pos += 1; // attributes
        let timestamp_delta = varint(body, &mut pos)?;
        let offset_delta = varint(body, &mut pos)?;
        let key = bytes_field(body, &mut pos)?;
        let value = bytes_field(body, &mut pos)?;
        out.push(RecordView {
            start,
            end,
            offset_delta,
            timestamp_delta,
            key,
            tombstone: value.is_none(),
            value_len: value.map_or(-1, |(a, b)| (b - a) as i64),
        });
        pos = end;
    }
    if pos != data.len() {
        return Err("trailing bytes after the last record".into());
    }
    Ok(out)
}

fn codec_error(e: anyhow::Error) -> String {
    format!("compression codec: {e}")
}

/// The records section of `batch`, decompressed.
pub(super) fn records_section(batch: &[u8], header: &BatchHeader) -> Result<Vec<u8>, String> {
    let raw = batch
        .get(BATCH_HEADER_LEN..header.total_size())
        .ok_or("batch shorter than its header says")?;
    let mut input = Bytes::copy_from_slice(raw);
    let copy = |b: &mut Bytes| Ok(b.to_vec());
    match header.compression() {
        0 => Ok(raw.to_vec()),
        1 => Gzip::decompress(&mut input, copy).map_err(codec_error),
        2 => Snappy::decompress(&mut input, copy).map_err(codec_error),
        3 => Lz4::decompress(&mut input, copy).map_err(codec_error),
        4 => Zstd::decompress(&mut input, copy).map_err(codec_error),
        c => Err(format!("unknown compression codec {c}")),
    }
}

fn compress(codec: u8, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = BytesMut::new();
    let fill = |b: &mut BytesMut| {
        b.extend_from_slice(data);
        Ok(())
    };
    match codec {
        0 => return Ok(data.to_vec()),
        1 => Gzip::compress(&mut out, fill).map_err(codec_error)?,
        2 => Snappy::compress(&mut out, fill).map_err(codec_error)?,
        3 => Lz4::compress(&mut out, fill).map_err(codec_error)?,
        4 => Zstd::compress(&mut out, fill).map_err(codec_error)?,
        c => return Err(format!("unknown compression codec {c}")),
    }
    Ok(out.to_vec())
}

/// Compress `data` with `codec` at `level` (the broker's recompression, KIP-390 levels):
/// gzip -1 (zlib's default) or 1–9, lz4 1–17 (lz4-java's range; the lz4 frame library tops
/// out at 12), zstd -131072–22; snappy and none take no level.
pub(super) fn compress_level(codec: u8, level: i32, data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let io = |e: std::io::Error| format!("compression codec: {e}");
    match codec {
        1 => {
            let level = if level < 0 {
                6
            } else {
                level.clamp(1, 9) as u32
            };
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2),
                flate2::Compression::new(level),
            );
            enc.write_all(data).map_err(io)?;
            enc.finish().map_err(io)
        }
        3 => {
            let mut enc = lz4::EncoderBuilder::new()
                .level(level.clamp(1, 12) as u32)
                .block_mode(lz4::BlockMode::Independent)
                .build(Vec::with_capacity(data.len() / 2))
                .map_err(io)?;
            enc.write_all(data).map_err(io)?;
            let (out, res) = enc.finish();
            res.map_err(io)?;
            Ok(out)
        }
        4 => zstd::stream::encode_all(data, level).map_err(io),
        c => compress(c, data),
    }
}

/// `batch` with its records re-compressed with `codec` at `level` (Kafka's LogValidator when
/// the topic's compression.type differs from the producer's): the header is kept (base offset,
/// last offset delta, timestamps, producer id/epoch/sequence, transactional and control
/// flags), the codec bits, length and CRC are updated.
pub(super) fn recompress_batch(
    batch: &[u8],
    header: &BatchHeader,
    codec: u8,
    level: i32,
) -> Result<Vec<u8>, String> {
    let plain = records_section(batch, header)?;
    let body = compress_level(codec, level, &plain)?;
    let mut out = Vec::with_capacity(BATCH_HEADER_LEN + body.len());
    out.extend_from_slice(&batch[..BATCH_HEADER_LEN]);
    let attributes = (header.attributes & !0x07) | i16::from(codec);
    out[21..23].copy_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&body);
    let batch_length = i32::try_from(out.len() - LOG_OVERHEAD).map_err(|_| "batch too large")?;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// The per-record rules of Kafka's LogValidator that need a look inside a batch: keys in a
/// compacted topic, and CreateTime timestamps within `message.timestamp.before/after.max.ms`
/// of the broker's clock (a producer may not claim LogAppendTime either).
#[derive(Debug, Clone, Copy)]
pub(super) struct RecordRules {
    pub compacted: bool,
    /// The topic's `message.timestamp.type` is CreateTime.
    pub create_time: bool,
    pub now_ms: i64,
    pub before_max_ms: i64,
    pub after_max_ms: i64,
}

impl RecordRules {
    /// Whether `header`'s records must be looked at: never for control batches, nor when no
    /// rule can reject a record (the zero-copy hot path: no decompression, no parsing).
    pub fn needed(&self, header: &BatchHeader) -> bool {
        !header.is_control()
            && (self.compacted
                || header.is_log_append_time()
                || (self.create_time
                    && (self.before_max_ms != i64::MAX || self.after_max_ms != i64::MAX)))
    }
}

/// One rejected record (KIP-467): its index in the batch, the error code (INVALID_RECORD or
/// INVALID_TIMESTAMP) and Kafka's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub batch_index: i32,
    pub code: i16,
    pub message: String,
}

pub(super) const INVALID_RECORD: i16 = 87;
pub(super) const INVALID_TIMESTAMP: i16 = 32;

/// The records of a data batch that `rules` reject, in order (empty: all pass). `partition`
/// names the topic partition in the messages (`topic-N`), as Kafka's do.
pub(super) fn record_errors(
    batch: &[u8],
    header: &BatchHeader,
    rules: &RecordRules,
    partition: &str,
) -> Result<Vec<RecordError>, String> {
    let data = records_section(batch, header)?;
    let records = parse_records(&data, header.records_count)?;
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let batch_index = i32::try_from(i).map_err(|_| "too many records")?;
        if rules.compacted && r.key.is_none() {
            out.push(RecordError {
                batch_index,
                code: INVALID_RECORD,
                message: format!(
                    "Compacted topic cannot accept message without key in topic partition {partition}"
                ),
            });
            continue;
        }
        let timestamp = header.base_timestamp.wrapping_add(r.timestamp_delta);
        let offset = header.base_offset.wrapping_add(r.offset_delta);
        if rules.create_time && timestamp != -1 {
            let diff = rules.now_ms.wrapping_sub(timestamp);
            if diff > rules.before_max_ms || diff.wrapping_neg() > rules.after_max_ms {
                out.push(RecordError {
                    batch_index,
                    code: INVALID_TIMESTAMP,
                    message: format!(
                        "Timestamp {timestamp} of message with offset {offset} is out of range. \
                         The timestamp should be within [{}, {}]",
                        rules.now_ms.wrapping_sub(rules.before_max_ms),
                        rules.now_ms.wrapping_add(rules.after_max_ms)
                    ),
                });
            }
        } else if header.is_log_append_time() {
            let key = r.key.map_or(-1, |(a, b)| (b - a) as i64);
            out.push(RecordError {
                batch_index,
                code: INVALID_TIMESTAMP,
                message: format!(
                    "Invalid timestamp type in message DefaultRecord(offset={offset}, \
                     timestamp={timestamp}, key={key} bytes, value={} bytes). Producer should \
                     not set timestamp type to LogAppendTime.",
                    r.value_len
                ),
            });
        }
    }
    Ok(out)
}

/// `original` with only `kept` records (byte ranges of the decompressed `data`): header
/// copied (base offset, last offset delta, timestamps, producer id/epoch/sequence and
/// attributes unchanged), records count, length and CRC updated, records re-compressed with
/// the original codec.
pub(super) fn rebuild_batch(
    original: &[u8],
    header: &BatchHeader,
    data: &[u8],
    kept: &[RecordView],
) -> Result<Vec<u8>, String> {
    let mut plain = Vec::with_capacity(data.len());
    for r in kept {
        plain.extend_from_slice(&data[r.start..r.end]);
    }
    // An empty batch (kept for its producer state) is written uncompressed, as Kafka does.
    let codec = if kept.is_empty() {
        0
    } else {
        header.compression()
    };
    let body = compress(codec, &plain)?;
    let mut out = Vec::with_capacity(BATCH_HEADER_LEN + body.len());
    out.extend_from_slice(&original[..BATCH_HEADER_LEN]);
    let attributes = (header.attributes & !0x07) | i16::from(codec);
    out[21..23].copy_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&body);
    let batch_length = i32::try_from(out.len() - LOG_OVERHEAD).map_err(|_| "batch too large")?;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    let count = i32::try_from(kept.len()).map_err(|_| "too many records")?;
    out[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// A record with its headers in order (duplicate keys kept), as the dead-letter copy of
/// share groups needs it (kafka-protocol's `Record` keeps headers in a map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(Bytes, Option<Bytes>)>,
}

/// The record at `offset` in `batches` (whole v2 batches as the log returns them), if there.
pub fn find_record(batches: &[u8], offset: i64) -> Result<Option<OwnedRecord>, String> {
    let mut pos = 0;
    while pos < batches.len() {
        let rest = &batches[pos..];
        let header = BatchHeader::parse(rest).map_err(|e| format!("{e:?}"))?;
        let size = header.total_size();
        let batch = rest.get(..size).ok_or("truncated batch")?;
        pos += size;
        if header.is_control() || offset < header.base_offset || offset > header.last_offset() {
            continue;
        }
        let data = records_section(batch, &header)?;
        let mut p = 0;
        for _ in 0..header.records_count {
            let len = varint(&data, &mut p)?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| p.checked_add(l))
                .filter(|&e| e <= data.len())
                .ok_or("record extends past the batch")?;
            let body = &data[..end];
            p += 1; // attributes
            let ts_delta = varint(body, &mut p)?;
            let off_delta = varint(body, &mut p)?;
            if header.base_offset + off_delta != offset {
                p = end;
                continue;
            }
            let field =
                |r: Option<(usize, usize)>| r.map(|(a, b)| Bytes::copy_from_slice(&body[a..b]));
            let key = field(bytes_field(body, &mut p)?);
            let value = field(bytes_field(body, &mut p)?);
            let count = varint(body, &mut p)?;
            let mut headers = Vec::with_capacity(count.clamp(0, 1024) as usize);
            for _ in 0..count.max(0) {
                let k = bytes_field(body, &mut p)?.ok_or("null header key")?;
                let v = bytes_field(body, &mut p)?;
                headers.push((Bytes::copy_from_slice(&body[k.0..k.1]), field(v)));
            }
            return Ok(Some(OwnedRecord {
                offset,
                timestamp: header.base_timestamp + ts_delta,
                key,
                value,
                headers,
            }));
        }
    }
    Ok(None)
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_field(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// A record to write: key, value, headers in order.
pub type NewRecord = (Option<Bytes>, Option<Bytes>, Vec<(Bytes, Option<Bytes>)>);

/// One uncompressed v2 batch (CreateTime `timestamp`, no producer) of `records`: (key, value,
/// headers in order). Base offset 0; the append path assigns offsets.
pub fn encode_plain_batch(records: &[NewRecord], timestamp: i64) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    for (i, (k, v, hs)) in records.iter().enumerate() {
        let mut r = vec![0u8]; // attributes
        put_varint(&mut r, 0); // timestamp delta
        put_varint(&mut r, i as i64);
        put_field(&mut r, k.as_deref());
        put_field(&mut r, v.as_deref());
        put_varint(&mut r, hs.len() as i64);
        for (hk, hv) in hs {
            put_field(&mut r, Some(hk));
            put_field(&mut r, hv.as_deref());
        }
        put_varint(&mut body, r.len() as i64);
        body.extend_from_slice(&r);
    }
    let count = i32::try_from(records.len()).map_err(|_| "too many records")?;
    let mut b = Vec::with_capacity(BATCH_HEADER_LEN + body.len());
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset
    let len = i32::try_from(BATCH_HEADER_LEN + body.len() - LOG_OVERHEAD)
        .map_err(|_| "batch too large")?;
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // crc
    b.extend_from_slice(&0i16.to_be_bytes()); // attributes
    b.extend_from_slice(&(count - 1).max(0).to_be_bytes()); // last offset delta
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(&body);
    let crc = compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(b)
}

#[cfg(test)]
mod owned_record_tests {
    use super::*;

    #[test]
    fn a_plain_batch_reads_back_with_its_headers_in_order() {
        let h = |k: &str, v: Option<&str>| {
            (
                Bytes::copy_from_slice(k.as_bytes()),
                v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            )
        };
        let recs = vec![
            (None, Some(Bytes::from_static(b"a")), vec![]),
            (
                Some(Bytes::from_static(b"k")),
                None,
                vec![
                    h("dup", Some("1")),
                    h("x", Some("a")),
                    h("dup", Some("2")),
                    h("dup", None),
                ],
            ),
        ];
        let mut b = encode_plain_batch(&recs, 77).unwrap();
        crate::protocol::batch::set_base_offset(&mut b, 10);
        assert!(crate::protocol::batch::verify_crc(&b));
        let r = find_record(&b, 11).unwrap().unwrap();
        assert_eq!((r.offset, r.timestamp), (11, 77));
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(r.value, None);
        assert_eq!(r.headers, recs[1].2);
        assert_eq!(find_record(&b, 12).unwrap(), None);
        for n in 0..b.len() {
            let _ = find_record(&b[..n], 11);
        }
    }
}
