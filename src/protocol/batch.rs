//! A zero-copy view of a Kafka v2 RecordBatch header, and in-place edits of it.
//!
//! Layout (big endian), as stored on disk and sent on the wire:
//!
//! ```text
//! @0  baseOffset i64          @27 baseTimestamp i64
//! @8  batchLength i32         @35 maxTimestamp i64
//! @12 partitionLeaderEpoch i32@43 producerId i64
//! @16 magic i8 (= 2)          @51 producerEpoch i16
//! @17 crc u32                 @53 baseSequence i32
//! @21 attributes i16          @57 recordsCount i32
//! @23 lastOffsetDelta i32     @61 records...
//! ```
//!
//! `batchLength` counts the bytes after that field, so a batch occupies `12 + batchLength`
//! bytes. The CRC is CRC-32C over everything from `attributes` (@21) to the end of the batch;
//! `baseOffset` and `partitionLeaderEpoch` are outside it, which is why the broker can assign
//! offsets in place without recomputing it. Legacy message sets (magic 0 and 1) also keep
//! their magic byte at @16, so checking it first reports them as unsupported rather than as
//! garbage.
//!
//! Nothing here allocates or decompresses; the log calls these on every produced batch.

/// Bytes before the part that `batchLength` counts: baseOffset + batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the fixed v2 batch header, up to and including recordsCount.
pub const BATCH_HEADER_LEN: usize = 61;
/// The smallest legal `batchLength`: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;
/// The only batch format version skua stores.
pub const CURRENT_MAGIC: i8 = 2;

const BASE_OFFSET_AT: usize = 0;
const BATCH_LENGTH_AT: usize = 8;
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORDS_COUNT_AT: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

/// Why bytes are not a valid v2 batch header.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("record batch is truncated")]
    Truncated,
    #[error("invalid record batch length {0}")]
    InvalidLength(i32),
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    #[error("record batch CRC mismatch")]
    CorruptCrc,
    #[error("invalid record count {0}")]
    InvalidRecordCount(i32),
    #[error("invalid last offset delta {0}")]
    InvalidOffsetDelta(i32),
}

/// The decoded fixed header of one v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn i16_at(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}

fn i32_at(buf: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    i32::from_be_bytes(b)
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_be_bytes(b)
}

fn i64_at(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

impl BatchHeader {
    /// Parse the header at the start of `buf` (at least [`BATCH_HEADER_LEN`] bytes).
    ///
    /// Checks magic, `batch_length >= 49`, `records_count >= 0` and `last_offset_delta >= 0`.
    /// Does not check the CRC or that the whole batch is present.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        // The magic byte sits at the same place in legacy message sets, which can be shorter
        // than a v2 header: report them as what they are.
        if buf.len() > MAGIC_AT {
            let magic = buf[MAGIC_AT] as i8;
            if magic != CURRENT_MAGIC {
                return Err(BatchError::UnsupportedMagic(magic));
            }
        }
        if buf.len() < BATCH_HEADER_LEN {
            return Err(BatchError::Truncated);
        }
        let header = BatchHeader {
            base_offset: i64_at(buf, BASE_OFFSET_AT),
            batch_length: i32_at(buf, BATCH_LENGTH_AT),
            partition_leader_epoch: i32_at(buf, LEADER_EPOCH_AT),
            magic: buf[MAGIC_AT] as i8,
            crc: u32_at(buf, CRC_AT),
            attributes: i16_at(buf, ATTRIBUTES_AT),
            last_offset_delta: i32_at(buf, LAST_OFFSET_DELTA_AT),
            base_timestamp: i64_at(buf, BASE_TIMESTAMP_AT),
            max_timestamp: i64_at(buf, MAX_TIMESTAMP_AT),
            producer_id: i64_at(buf, PRODUCER_ID_AT),
            producer_epoch: i16_at(buf, PRODUCER_EPOCH_AT),
            base_sequence: i32_at(buf, BASE_SEQUENCE_AT),
            records_count: i32_at(buf, RECORDS_COUNT_AT),
        };
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::InvalidLength(header.batch_length));
        }
        if header.records_count < 0 {
            return Err(BatchError::InvalidRecordCount(header.records_count));
        }
        if header.last_offset_delta < 0 {
            return Err(BatchError::InvalidOffsetDelta(header.last_offset_delta));
        }
        Ok(header)
    }

    /// Bytes the whole batch occupies: `12 + batch_length`.
    pub fn total_size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// Offset of the last record: `base_offset + last_offset_delta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
}

/// The CRC-32C a batch should carry: over everything from `attributes` to its end.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES_AT..).unwrap_or(&[]))
}

/// Whether the stored CRC of `batch` (exactly one whole batch) matches its contents.
pub fn verify_crc(batch: &[u8]) -> bool {
    if batch.len() < BATCH_HEADER_LEN {
        return false;
    }
    u32_at(batch, CRC_AT) == compute_crc(batch)
}

/// Write `base_offset` into the batch in place (outside the CRC).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Write the partition leader epoch into the batch in place (outside the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Stamp a batch with the broker's append time, as Kafka does for
/// `message.timestamp.type=LogAppendTime`: set the timestamp-type attribute bit and
/// maxTimestamp, then recompute the CRC. Records keep their deltas; readers take the batch's
/// maxTimestamp as every record's timestamp.
pub fn set_log_append_time(batch: &mut [u8], ts: i64) {
    let attributes = i16_at(batch, ATTRIBUTES_AT) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&ts.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Read only the total size of the batch starting at `buf[0]` from its length field, without
/// validating anything else. `None` if fewer than 12 bytes or a negative length.
pub fn peek_total_size(buf: &[u8]) -> Option<usize> {
    if buf.len() < LOG_OVERHEAD {
        return None;
    }
    let len = i32_at(buf, BATCH_LENGTH_AT);
    if len < 0 {
        return None;
    }
    Some(LOG_OVERHEAD + len as usize)
}

/// Iterates whole batches in a byte slice (stored log bytes or a produce payload).
///
/// Yields `Ok((header, batch_bytes))` per batch; if the slice ends mid-batch or a header is
/// invalid, yields that error once and then stops. Checks no CRC.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> BatchIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        BatchIter {
            buf,
            pos: 0,
            done: false,
        }
    }

    /// Byte position of the next batch within the slice.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<(BatchHeader, &'a [u8]), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let header = match BatchHeader::parse(rest) {
            Ok(h) => h,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let size = header.total_size();
        if size > rest.len() {
            self.done = true;
            return Some(Err(BatchError::Truncated));
        }
        self.pos += size;
        Some(Ok((header, &rest[..size])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
        TimestampType,
    };

    fn record(offset: i64, ts: i64) -> Record {
        let mut headers = indexmap::IndexMap::new();
        headers.insert(
            StrBytes::from_static_str("h"),
            Some(Bytes::from_static(b"v")),
        );
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: 7,
            producer_epoch: 3,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: offset as i32,
            timestamp: ts,
            key: Some(Bytes::from(format!("k{offset}"))),
            value: Some(Bytes::from(vec![b'x'; 100])),
            headers,
        }
    }

    fn encode(n: i64, compression: Compression) -> Vec<u8> {
        let records: Vec<Record> = (0..n).map(|i| record(i, 1_000 + i * 10)).collect();
        let mut buf = BytesMut::new();
        let opts = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
        buf.to_vec()
    }

    #[test]
    fn parses_a_real_batch() {
        let bytes = encode(5, Compression::None);
        let h = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(h.base_offset, 0);
        assert_eq!(h.total_size(), bytes.len());
        assert_eq!(h.magic, 2);
        assert_eq!(h.last_offset_delta, 4);
        assert_eq!(h.last_offset(), 4);
        assert_eq!(h.records_count, 5);
        assert_eq!(h.base_timestamp, 1_000);
        assert_eq!(h.max_timestamp, 1_040);
        assert_eq!(h.producer_id, 7);
        assert_eq!(h.producer_epoch, 3);
        assert_eq!(h.base_sequence, 0);
        assert_eq!(h.compression(), 0);
        assert!(!h.is_transactional() && !h.is_control() && !h.is_log_append_time());
        assert!(verify_crc(&bytes));
    }

    #[test]
    fn compression_codec_is_reported() {
        for (c, code) in [
            (Compression::Gzip, 1),
            (Compression::Snappy, 2),
            (Compression::Lz4, 3),
            (Compression::Zstd, 4),
        ] {
            let bytes = encode(3, c);
            let h = BatchHeader::parse(&bytes).unwrap();
            assert_eq!(h.compression(), code);
            assert!(verify_crc(&bytes));
        }
    }

    #[test]
    fn corrupt_byte_fails_crc() {
        let mut bytes = encode(3, Compression::None);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        assert!(!verify_crc(&bytes));
        let mut bytes = encode(3, Compression::None);
        bytes[ATTRIBUTES_AT + 5] ^= 0x80;
        assert!(!verify_crc(&bytes));
    }

    #[test]
    fn base_offset_and_epoch_rewrite_keeps_crc() {
        let mut bytes = encode(3, Compression::None);
        set_base_offset(&mut bytes, 1234);
        set_partition_leader_epoch(&mut bytes, 9);
        assert!(verify_crc(&bytes));
        let h = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(h.base_offset, 1234);
        assert_eq!(h.last_offset(), 1236);
        assert_eq!(h.partition_leader_epoch, 9);
        let decoded = RecordBatchDecoder::decode(&mut Bytes::from(bytes)).unwrap();
        let offsets: Vec<i64> = decoded.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![1234, 1235, 1236]);
    }

    #[test]
    fn log_append_time_sets_attribute_timestamp_and_crc() {
        let mut bytes = encode(3, Compression::Lz4);
        set_log_append_time(&mut bytes, 99_999);
        assert!(verify_crc(&bytes));
        let h = BatchHeader::parse(&bytes).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 99_999);
        assert_eq!(h.compression(), 3);
        let decoded = RecordBatchDecoder::decode(&mut Bytes::from(bytes)).unwrap();
        assert_eq!(decoded.records[0].timestamp_type, TimestampType::LogAppend);
    }

    #[test]
    fn rejects_bad_headers() {
        let bytes = encode(2, Compression::None);
        assert_eq!(BatchHeader::parse(&bytes[..60]), Err(BatchError::Truncated));
        assert_eq!(BatchHeader::parse(&bytes[..10]), Err(BatchError::Truncated));

        let mut m = bytes.clone();
        m[MAGIC_AT] = 1;
        assert_eq!(BatchHeader::parse(&m), Err(BatchError::UnsupportedMagic(1)));
        assert_eq!(
            BatchHeader::parse(&m[..30]),
            Err(BatchError::UnsupportedMagic(1))
        );

        let mut m = bytes.clone();
        m[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&48i32.to_be_bytes());
        assert_eq!(BatchHeader::parse(&m), Err(BatchError::InvalidLength(48)));

        let mut m = bytes.clone();
        m[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            BatchHeader::parse(&m),
            Err(BatchError::InvalidRecordCount(-1))
        );

        let mut m = bytes;
        m[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&(-2i32).to_be_bytes());
        assert_eq!(
            BatchHeader::parse(&m),
            Err(BatchError::InvalidOffsetDelta(-2))
        );
    }

    #[test]
    fn iterates_whole_batches_and_reports_truncation_once() {
        let a = encode(2, Compression::None);
        let b = encode(4, Compression::Gzip);
        let mut all = a.clone();
        all.extend_from_slice(&b);

        let got: Vec<_> = BatchIter::new(&all).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().unwrap().1, &a[..]);
        assert_eq!(got[1].as_ref().unwrap().1, &b[..]);
        assert_eq!(got[1].as_ref().unwrap().0.records_count, 4);

        let cut = &all[..all.len() - 1];
        let got: Vec<_> = BatchIter::new(cut).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(got[1], Err(BatchError::Truncated));

        let cut = &all[..a.len() + 20];
        let got: Vec<_> = BatchIter::new(cut).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], Err(BatchError::Truncated));

        assert_eq!(BatchIter::new(&[]).count(), 0);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            magic_at_16 in proptest::bool::ANY,
        ) {
            let mut bytes = bytes;
            if magic_at_16 && bytes.len() > MAGIC_AT {
                bytes[MAGIC_AT] = 2;
            }
            let mut end = 0;
            for item in BatchIter::new(&bytes) {
                match item {
                    Ok((h, b)) => {
                        proptest::prop_assert_eq!(b.len(), h.total_size());
                        proptest::prop_assert!(h.total_size() >= BATCH_HEADER_LEN);
                        end += b.len();
                        let _ = verify_crc(b);
                    }
                    Err(_) => break,
                }
            }
            proptest::prop_assert!(end <= bytes.len());
            let _ = peek_total_size(&bytes);
        }
    }

    #[test]
    fn peek_total_size_reads_length_field() {
        let a = encode(2, Compression::None);
        assert_eq!(peek_total_size(&a), Some(a.len()));
        assert_eq!(peek_total_size(&a[..11]), None);
    }
}
