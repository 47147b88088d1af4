//! Transaction markers: building the control batch Kafka writes to end a transaction, and
//! reading one back from the log.
//!
//! A marker is a v2 batch (magic 2, no compression, CreateTime) with attributes
//! transactional | control, the producer's id and epoch, base sequence -1 and exactly one
//! record: offset delta 0, timestamp delta 0, no headers,
//!
//! ```text
//! key   = version i16 (0), type i16 (0 = ABORT, 1 = COMMIT)      Kafka's ControlRecordType
//! value = version i16 (0), coordinator_epoch i32                 Kafka's EndTransactionMarker
//! ```
//!
//! Record fields are Kafka's zigzag varints. The batch leaves here with base offset 0 and
//! partition leader epoch -1; the append path writes both in place (outside the CRC).

use crate::protocol::batch::{compute_crc, BatchHeader, BATCH_HEADER_LEN, LOG_OVERHEAD};

/// ControlRecordType ABORT / COMMIT.
const ABORT: i16 = 0;
const COMMIT: i16 = 1;
/// transactional (bit 4) | control (bit 5).
const MARKER_ATTRIBUTES: i16 = 0x30;
/// The one record: attributes, timestamp delta, offset delta, key length, 4-byte key,
/// value length, 6-byte value, header count.
const RECORD_BODY_LEN: usize = 1 + 1 + 1 + 1 + 4 + 1 + 6 + 1;
/// Total marker batch size: header, the record's length varint, its body.
pub(super) const MARKER_BATCH_LEN: usize = BATCH_HEADER_LEN + 1 + RECORD_BODY_LEN;

/// What a transaction marker says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Marker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// Zigzag-encode a small non-negative length as a one-byte varint.
fn varint_byte(n: usize) -> u8 {
    assert!(n < 64, "marker field lengths fit one varint byte");
    (n as u8) << 1
}

/// The marker batch, with base offset 0 and leader epoch -1 (set by the append path).
pub(super) fn encode_marker(
    producer_id: i64,
    producer_epoch: i16,
    marker: Marker,
    timestamp: i64,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(MARKER_BATCH_LEN);
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset
    b.extend_from_slice(&((MARKER_BATCH_LEN - LOG_OVERHEAD) as i32).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // crc, filled in below
    b.extend_from_slice(&MARKER_ATTRIBUTES.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    b.extend_from_slice(&timestamp.to_be_bytes()); // base timestamp
    b.extend_from_slice(&timestamp.to_be_bytes()); // max timestamp
    b.extend_from_slice(&producer_id.to_be_bytes());
    b.extend_from_slice(&producer_epoch.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&1i32.to_be_bytes()); // records count
    debug_assert_eq!(b.len(), BATCH_HEADER_LEN);

    b.push(varint_byte(RECORD_BODY_LEN));
    b.push(0); // record attributes
    b.push(0); // timestamp delta
    b.push(0); // offset delta
    b.push(varint_byte(4));
    b.extend_from_slice(&0i16.to_be_bytes()); // key version
    let kind = if marker.commit { COMMIT } else { ABORT };
    b.extend_from_slice(&kind.to_be_bytes());
    b.push(varint_byte(6));
    b.extend_from_slice(&0i16.to_be_bytes()); // value version
    b.extend_from_slice(&marker.coordinator_epoch.to_be_bytes());
    b.push(0); // header count
    debug_assert_eq!(b.len(), MARKER_BATCH_LEN);

    let crc = compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Reads zigzag varints and raw bytes from a record.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let out = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }

    fn varlong(&mut self) -> Option<i64> {
        let mut raw: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes(1)?.first()?;
            raw |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        None
    }

    /// A length-prefixed field; `None` for a null (-1) or malformed one.
    fn field(&mut self) -> Option<&[u8]> {
        let len = usize::try_from(self.varlong()?).ok()?;
        self.bytes(len)
    }
}

/// The marker in a stored control batch, or `None` if the batch is not a well-formed,
/// uncompressed transaction marker (Kafka also ignores empty control batches).
pub(super) fn parse_marker(batch: &[u8]) -> Option<Marker> {
    let header = BatchHeader::parse(batch).ok()?;
    if !header.is_control() || header.compression() != 0 || header.records_count < 1 {
        return None;
    }
    let mut c = Cursor {
        buf: batch.get(BATCH_HEADER_LEN..header.total_size())?,
        pos: 0,
    };
    let _record_len = c.varlong()?;
    let _attributes = c.bytes(1)?;
    let _timestamp_delta = c.varlong()?;
    let _offset_delta = c.varlong()?;
    let key = c.field()?;
    let kind = i16::from_be_bytes([*key.get(2)?, *key.get(3)?]);
    let value = c.field()?;
    if value.len() < 6 || i16::from_be_bytes([value[0], value[1]]) < 0 {
        return None;
    }
    let coordinator_epoch = i32::from_be_bytes([value[2], value[3], value[4], value[5]]);
    let commit = match kind {
        ABORT => false,
        COMMIT => true,
        _ => return None,
    };
    Some(Marker {
        commit,
        coordinator_epoch,
    })
}
