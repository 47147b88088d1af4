//! Message sets of magic 0 and 1 (Produce v0–2, Fetch v0–3), converted to and from the v2
//! record batches skua stores.
//!
//! A legacy message is
//!
//! ```text
//! offset i64 | size i32 | crc u32 | magic i8 | attributes i8 | [timestamp i64, magic 1]
//! | key (i32 length, -1 null) | value (i32 length, -1 null)
//! ```
//!
//! with the CRC-32 (IEEE) over magic..value. Attributes: bits 0–2 the codec, bit 3 (magic 1)
//! LogAppendTime. A compressed message is a wrapper whose value is a compressed message set
//! of uncompressed inner messages of the same magic; inner offsets are absolute in magic 0
//! and relative (0, 1, ...: the wrapper carries the last absolute offset) in magic 1.
//!
//! Up-conversion ([`up_convert`], Kafka's LogValidator): the messages of a produced set
//! become one v2 batch with offsets 0..n-1 (the log assigns the real ones), the records'
//! timestamps (magic 0 has none: -1), no producer id, and the wrapper's codec: a compressed
//! set is recompressed with the same codec, as Kafka does when it up-converts.
//!
//! Down-conversion ([`down_convert`], Kafka's RecordsUtil.downConvert): control batches are
//! skipped; an uncompressed v2 batch becomes one message per record at or after the fetch
//! offset; a compressed one becomes one wrapper, same codec, with all its records (zstd has
//! no legacy form: UNSUPPORTED_COMPRESSION_TYPE); headers are dropped. Output stops at the
//! byte limit on a whole message (at least one), so memory stays bounded by the request.

use super::codec::{self, GZIP, LZ4, NONE, SNAPPY, ZSTD};
use super::{LegacyError, Reader};
use crate::protocol::batch::{compute_crc, BatchIter, BATCH_HEADER_LEN};

/// Upper bound on the decompressed size of one wrapper message or batch.
pub const DECOMPRESS_LIMIT: usize = 64 << 20;

const CREATE_TIME_BIT: i8 = 0;
const LOG_APPEND_TIME_BIT: i8 = 1 << 3;

/// Why a message set cannot be converted, with the Kafka error each maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// CORRUPT_MESSAGE (2): torn message, bad CRC, bad sizes, undecodable compression.
    #[error("corrupt message: {0}")]
    Corrupt(String),
    /// INVALID_RECORD (87): a message set Kafka refuses.
    #[error("invalid record: {0}")]
    Invalid(String),
    /// INVALID_TIMESTAMP (32): a producer set LogAppendTime on a CreateTime topic.
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// UNSUPPORTED_COMPRESSION_TYPE (76): zstd cannot be down-converted.
    #[error("unsupported compression: {0}")]
    UnsupportedCompression(String),
}

impl ConvertError {
    pub fn code(&self) -> i16 {
        match self {
            ConvertError::Corrupt(_) => 2,
            ConvertError::Invalid(_) => 87,
            ConvertError::InvalidTimestamp(_) => 32,
            ConvertError::UnsupportedCompression(_) => 76,
        }
    }
}

impl From<LegacyError> for ConvertError {
    fn from(e: LegacyError) -> Self {
        ConvertError::Corrupt(e.0)
    }
}

fn corrupt<T>(why: &str) -> Result<T, ConvertError> {
    Err(ConvertError::Corrupt(why.to_string()))
}

fn crc32(data: &[u8]) -> u32 {
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    CRC.checksum(data)
}

/// Whether `records` (a produce payload) is a legacy message set (magic 0 or 1).
pub fn is_legacy(records: &[u8]) -> bool {
    matches!(records.get(16), Some(0) | Some(1))
}

/// One message of a legacy set, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub offset: i64,
    pub magic: i8,
    pub attributes: i8,
    /// -1 for magic 0.
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

impl Message<'_> {
    fn codec(&self) -> u8 {
        (self.attributes & 0x07) as u8
    }
    fn log_append_time(&self) -> bool {
        self.magic == 1 && self.attributes & LOG_APPEND_TIME_BIT != 0
    }
}

/// Read one message (CRC checked) from `r`.
fn read_message<'a>(r: &mut Reader<'a>) -> Result<Message<'a>, ConvertError> {
    let offset = r.i64()?;
    let size = r.i32()?;
    let size = usize::try_from(size).map_err(|_| ConvertError::Corrupt("negative size".into()))?;
    let body = r.take(size)?;
    let mut m = Reader::new(body);
    let crc = m.u32()?;
    if crc32(&body[4..]) != crc {
        return corrupt("message CRC mismatch");
    }
    let magic = m.i8()?;
    if magic != 0 && magic != 1 {
        return Err(ConvertError::Invalid(format!(
            "message set mixes magic {magic} in"
        )));
    }
    let attributes = m.i8()?;
    let timestamp = if magic == 1 { m.i64()? } else { -1 };
    let key = m.nullable_bytes()?;
    let value = m.nullable_bytes()?;
    if m.remaining() != 0 {
        return corrupt("message size does not match its key and value");
    }
    Ok(Message {
        offset,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

/// Every message of a set; a torn or trailing partial message is an error.
pub fn read_messages(set: &[u8]) -> Result<Vec<Message<'_>>, ConvertError> {
    let mut r = Reader::new(set);
    // A message takes at least 26 bytes: bound the allocation by the input.
    let mut out = Vec::with_capacity((set.len() / 26).min(1024));
    while r.remaining() > 0 {
        out.push(read_message(&mut r)?);
    }
    Ok(out)
}

/// A record to put into a v2 batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainRecord {
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Up-convert a produced message set of magic 0/1 to one v2 batch (offsets from 0).
/// `topic_log_append_time`: the topic's `message.timestamp.type` is LogAppendTime.
pub fn up_convert(set: &[u8], topic_log_append_time: bool) -> Result<Vec<u8>, ConvertError> {
    let outer = read_messages(set)?;
    let Some(first) = outer.first() else {
        return Err(ConvertError::Invalid("message set is empty".into()));
    };
    let magic = first.magic;
    if outer.iter().any(|m| m.magic != magic) {
        return Err(ConvertError::Invalid(
            "message set mixes magic values".into(),
        ));
    }
    let check_ts = |m: &Message| {
        if m.log_append_time() && !topic_log_append_time {
            return Err(ConvertError::InvalidTimestamp(
                "producer set timestamp type LogAppendTime".into(),
            ));
        }
        Ok(())
    };
    let compressed = outer.iter().any(|m| m.codec() != NONE);
    if !compressed {
        let mut records = Vec::with_capacity(outer.len());
        for m in &outer {
            check_ts(m)?;
            records.push(plain(m, m.timestamp));
        }
        return build_v2_batch(&records, NONE);
    }
    if outer.len() != 1 {
        return Err(ConvertError::Invalid(
            "compressed outer record has more than one batch".into(),
        ));
    }
    let wrapper = first;
    check_ts(wrapper)?;
    let c = wrapper.codec();
    if ![GZIP, SNAPPY, LZ4].contains(&c) {
        return Err(ConvertError::Invalid(format!(
            "compression codec {c} in a magic {magic} message"
        )));
    }
    let Some(payload) = wrapper.value else {
        return corrupt("compressed wrapper has a null value");
    };
    let inner_bytes = codec::decompress(c, payload, DECOMPRESS_LIMIT)?;
    let inner = read_messages(&inner_bytes)?;
    if inner.is_empty() {
        return Err(ConvertError::Invalid(
            "compressed wrapper holds no message".into(),
        ));
    }
    let mut records = Vec::with_capacity(inner.len());
    for m in &inner {
        if m.magic != magic {
            return Err(ConvertError::Invalid(
                "compressed message magic does not match wrapper magic".into(),
            ));
        }
        if m.codec() != NONE {
            return Err(ConvertError::Invalid(
                "compressed outer record has a compressed inner record".into(),
            ));
        }
        // A LogAppendTime wrapper gives every inner record its timestamp (Kafka).
        let ts = if wrapper.log_append_time() {
            wrapper.timestamp
        } else {
            m.timestamp
        };
        records.push(plain(m, ts));
    }
    build_v2_batch(&records, c)
}

fn plain(m: &Message, timestamp: i64) -> PlainRecord {
    PlainRecord {
        timestamp,
        key: m.key.map(<[u8]>::to_vec),
        value: m.value.map(<[u8]>::to_vec),
    }
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_varbytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// Build a v2 batch (base offset 0, no producer id, CreateTime) of `records`, compressed
/// with `codec`; base timestamp is the first record's, max timestamp the largest (-1 when
/// none has one), as Kafka's MemoryRecordsBuilder.
pub fn build_v2_batch(records: &[PlainRecord], codec: u8) -> Result<Vec<u8>, ConvertError> {
    let base_ts = records.first().map_or(-1, |r| r.timestamp);
    let max_ts = records
        .iter()
        .map(|r| r.timestamp)
        .max()
        .unwrap_or(-1)
        .max(-1);
    let mut section = Vec::new();
    let mut body = Vec::new();
    for (i, r) in records.iter().enumerate() {
        body.clear();
        body.push(0); // attributes
        put_varint(&mut body, r.timestamp.wrapping_sub(base_ts));
        put_varint(&mut body, i as i64);
        put_varbytes(&mut body, r.key.as_deref());
        put_varbytes(&mut body, r.value.as_deref());
        put_varint(&mut body, 0); // headers
        put_varint(&mut section, body.len() as i64);
        section.extend_from_slice(&body);
    }
    let section = codec::compress(codec, &section, 2)?;
    let count = i32::try_from(records.len())
        .map_err(|_| ConvertError::Invalid("too many records".into()))?;
    let mut out = Vec::with_capacity(BATCH_HEADER_LEN + section.len());
    out.extend_from_slice(&0i64.to_be_bytes()); // base offset
    let length = i32::try_from(BATCH_HEADER_LEN - 12 + section.len())
        .map_err(|_| ConvertError::Invalid("batch too large".into()))?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    out.push(2); // magic
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, below
    out.extend_from_slice(&i16::from(codec).to_be_bytes());
    out.extend_from_slice(&(count - 1).max(0).to_be_bytes()); // last offset delta
    out.extend_from_slice(&base_ts.to_be_bytes());
    out.extend_from_slice(&max_ts.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    out.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    out.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&section);
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// Bytes a message of `magic` with this key and value takes in a set.
fn message_size(magic: i8, key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
    let ts = if magic == 1 { 8 } else { 0 };
    12 + 4 + 1 + 1 + ts + 8 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len)
}

/// Whether a message of `size` still fits below `limit` (the first always does).
fn fits(used: usize, size: usize, limit: usize) -> bool {
    used == 0 || used + size <= limit
}

/// Append one legacy message to `out`.
#[allow(clippy::too_many_arguments)]
fn write_message(
    out: &mut Vec<u8>,
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    out.extend_from_slice(&offset.to_be_bytes());
    let size_at = out.len();
    out.extend_from_slice(&0i32.to_be_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&0u32.to_be_bytes());
    out.push(magic as u8);
    out.push(attributes as u8);
    if magic == 1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    for b in [key, value] {
        match b {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    let size = (out.len() - crc_at) as i32;
    out[size_at..size_at + 4].copy_from_slice(&size.to_be_bytes());
    let crc = crc32(&out[crc_at + 4..]);
    out[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
}

/// A record of a v2 batch, with its absolute offset and effective timestamp.
struct V2Record<'a> {
    offset: i64,
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

fn read_varint(r: &mut Reader) -> Result<i64, ConvertError> {
    let mut raw: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = r.take(1)?[0];
        raw |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    corrupt("varint too long")
}

fn read_varbytes<'a>(r: &mut Reader<'a>) -> Result<Option<&'a [u8]>, ConvertError> {
    let len = read_varint(r)?;
    if len < 0 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| ConvertError::Corrupt("length".into()))?;
    Ok(Some(r.take(len)?))
}

/// The records of a decompressed v2 records section.
fn v2_records<'a>(
    section: &'a [u8],
    count: i32,
    base_offset: i64,
    base_ts: i64,
    log_append_time: Option<i64>,
) -> Result<Vec<V2Record<'a>>, ConvertError> {
    let mut r = Reader::new(section);
    let mut out = Vec::with_capacity((count.max(0) as usize).min(section.len() / 7 + 1));
    for _ in 0..count {
        let len = read_varint(&mut r)?;
        let len =
            usize::try_from(len).map_err(|_| ConvertError::Corrupt("record length".into()))?;
        let mut rec = Reader::new(r.take(len)?);
        rec.i8()?; // attributes
        let ts_delta = read_varint(&mut rec)?;
        let offset_delta = read_varint(&mut rec)?;
        let key = read_varbytes(&mut rec)?;
        let value = read_varbytes(&mut rec)?;
        out.push(V2Record {
            offset: base_offset.wrapping_add(offset_delta),
            timestamp: log_append_time.unwrap_or(base_ts.wrapping_add(ts_delta)),
            key,
            value,
        });
    }
    Ok(out)
}

/// Down-convert stored v2 batches (read from `fetch_offset`) to a message set of `magic`
/// (0 or 1), stopping before `limit` bytes on a whole message (at least one is returned).
pub fn down_convert(
    batches: &[u8],
    magic: i8,
    fetch_offset: i64,
    limit: usize,
) -> Result<Vec<u8>, ConvertError> {
    let mut out = Vec::new();
    for item in BatchIter::new(batches) {
        // A torn tail (the read stopped mid-batch) ends the conversion, as in Kafka.
        let Ok((h, batch)) = item else { break };
        if h.is_control() {
            continue;
        }
        let c = h.compression();
        if c == ZSTD {
            return Err(ConvertError::UnsupportedCompression(
                "down-conversion of zstandard-compressed batches is not supported".into(),
            ));
        }
        let section = batch.get(BATCH_HEADER_LEN..).unwrap_or(&[]);
        let section = codec::decompress(c, section, DECOMPRESS_LIMIT)?;
        let log_append = h.is_log_append_time().then_some(h.max_timestamp);
        let records = v2_records(
            &section,
            h.records_count,
            h.base_offset,
            h.base_timestamp,
            log_append,
        )?;
        let ts_bit = if log_append.is_some() && magic == 1 {
            LOG_APPEND_TIME_BIT
        } else {
            CREATE_TIME_BIT
        };
        if c == NONE {
            for r in records.iter().filter(|r| r.offset >= fetch_offset) {
                if !fits(out.len(), message_size(magic, r.key, r.value), limit) {
                    return Ok(out);
                }
                write_message(
                    &mut out,
                    r.offset,
                    magic,
                    ts_bit,
                    r.timestamp,
                    r.key,
                    r.value,
                );
            }
        } else if let (Some(first), Some(last)) = (records.first(), records.last()) {
            let mut inner = Vec::new();
            for r in &records {
                let inner_offset = if magic == 1 {
                    r.offset - first.offset
                } else {
                    r.offset
                };
                write_message(
                    &mut inner,
                    inner_offset,
                    magic,
                    ts_bit,
                    r.timestamp,
                    r.key,
                    r.value,
                );
            }
            let wrapped = codec::compress(c, &inner, magic)?;
            if !fits(out.len(), message_size(magic, None, Some(&wrapped)), limit) {
                return Ok(out);
            }
            let wrapper_ts = match log_append {
                Some(t) => t,
                None => records.iter().map(|r| r.timestamp).max().unwrap_or(-1),
            };
            write_message(
                &mut out,
                last.offset,
                magic,
                ts_bit | c as i8,
                wrapper_ts,
                None,
                Some(&wrapped),
            );
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "message_set_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "fuzz_tests.rs"]
mod fuzz_tests;
