//! Hand-written codecs for the protocol versions the kafka-protocol crate (generated from
//! Kafka 4.0's specs) cannot decode or encode: those Kafka 4 removed (KIP-896) that real
//! clients or older brokers still send — Produce v0–2, Fetch v0–3, ListOffsets v0,
//! CreateTopics v0–1, DeleteTopics v0, DescribeConfigs v0, OffsetCommit v0–1,
//! OffsetForLeaderEpoch v0–1, WriteTxnMarkers v0 — and the requests of the newest versions
//! it does not know yet, OffsetCommit and OffsetFetch v10 (Kafka 4.1+, topics by id; the
//! crate encodes their responses). Each decodes into the crate's
//! request struct (the fields an old version lacks get Kafka's implied values), so the API
//! handlers serve every version with one code path, and encodes the crate's response struct
//! in the old layout.
//!
//! Everything read from the wire is bounds-checked: [`Reader`] fails on truncation, and an
//! array or string length is checked against the bytes left before anything is allocated.
//! [`message_set`] converts message sets of magic 0 and 1 to and from v2 record batches.

pub mod codec;
pub mod message_set;
pub mod requests;
pub mod responses;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;

/// Why legacy bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LegacyError(pub String);

pub type Result<T> = std::result::Result<T, LegacyError>;

fn err<T>(why: &str) -> Result<T> {
    Err(LegacyError(why.to_string()))
}

/// A bounds-checked big-endian cursor over a request body.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return err("truncated");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn i8(&mut self) -> Result<i8> {
        Ok(i8::from_be_bytes(self.array()?))
    }
    pub fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.i8()? != 0)
    }

    /// A nullable i16-length string.
    pub fn nullable_string(&mut self) -> Result<Option<StrBytes>> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        let s = std::str::from_utf8(raw).map_err(|_| LegacyError("string is not UTF-8".into()))?;
        Ok(Some(StrBytes::from_string(s.to_string())))
    }

    /// A non-null i16-length string.
    pub fn string(&mut self) -> Result<StrBytes> {
        self.nullable_string()?
            .ok_or_else(|| LegacyError("null string".into()))
    }

    /// Nullable i32-length bytes, as a slice of the input.
    pub fn nullable_bytes(&mut self) -> Result<Option<&'a [u8]>> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        self.take(len as usize).map(Some)
    }

    /// An i32 array length: -1 is null (as an empty array), anything the remaining input
    /// cannot hold at `min_elem` bytes an element is an error, before any allocation.
    pub fn array_len(&mut self, min_elem: usize) -> Result<usize> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(0);
        }
        let n = n as usize;
        if n.saturating_mul(min_elem.max(1)) > self.remaining() {
            return err("array longer than the input");
        }
        Ok(n)
    }

    /// An unsigned varint (at most 5 bytes: a u32).
    pub fn uvarint(&mut self) -> Result<u32> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            v |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err("varint longer than 5 bytes")
    }

    /// A compact (flexible-version) length: the varint is length + 1, 0 is null.
    fn compact_len(&mut self) -> Result<Option<usize>> {
        match self.uvarint()? {
            0 => Ok(None),
            n => Ok(Some((n - 1) as usize)),
        }
    }

    /// A nullable compact string.
    pub fn compact_nullable_string(&mut self) -> Result<Option<StrBytes>> {
        let Some(len) = self.compact_len()? else {
            return Ok(None);
        };
        let raw = self.take(len)?;
        let s = std::str::from_utf8(raw).map_err(|_| LegacyError("string is not UTF-8".into()))?;
        Ok(Some(StrBytes::from_string(s.to_string())))
    }

    /// A non-null compact string.
    pub fn compact_string(&mut self) -> Result<StrBytes> {
        self.compact_nullable_string()?
            .ok_or_else(|| LegacyError("null string".into()))
    }

    /// A compact array length (None: null), checked against the input at `min_elem` bytes
    /// an element before any allocation.
    pub fn compact_array_len(&mut self, min_elem: usize) -> Result<Option<usize>> {
        let n = self.compact_len()?;
        if let Some(n) = n {
            if n.saturating_mul(min_elem.max(1)) > self.remaining() {
                return err("array longer than the input");
            }
        }
        Ok(n)
    }

    /// A 16-byte UUID.
    pub fn uuid(&mut self) -> Result<uuid::Uuid> {
        Ok(uuid::Uuid::from_bytes(self.array()?))
    }

    /// A tagged-field section: skipped (none of the hand-decoded versions defines a tag).
    pub fn skip_tagged_fields(&mut self) -> Result<()> {
        let n = self.uvarint()?;
        if n as usize > self.remaining() {
            return err("more tagged fields than the input");
        }
        for _ in 0..n {
            self.uvarint()?; // tag
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }

    /// The whole input must have been read.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return err("trailing bytes");
        }
        Ok(())
    }
}

/// Big-endian writers over a growing buffer.
pub struct Writer {
    pub buf: BytesMut,
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            buf: BytesMut::new(),
        }
    }
    pub fn i8(&mut self, v: i8) {
        self.buf.put_i8(v)
    }
    pub fn i16(&mut self, v: i16) {
        self.buf.put_i16(v)
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32(v)
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.put_i64(v)
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.put_i8(i8::from(v))
    }
    /// An array length (a count of an in-memory collection, always small enough).
    pub fn count(&mut self, n: usize) {
        self.buf.put_i32(i32::try_from(n).unwrap_or(i32::MAX))
    }
    pub fn string(&mut self, s: &str) {
        let b = s.as_bytes();
        let n = b.len().min(i16::MAX as usize);
        self.buf.put_i16(n as i16);
        self.buf.put_slice(&b[..n]);
    }
    pub fn nullable_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.buf.put_i16(-1),
        }
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.count(b.len());
        self.buf.put_slice(b);
    }

    /// An unsigned varint.
    pub fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.put_u8(v as u8);
    }
    /// A compact array length.
    pub fn compact_count(&mut self, n: usize) {
        self.uvarint(u32::try_from(n).unwrap_or(u32::MAX - 1) + 1)
    }
    pub fn compact_string(&mut self, s: &str) {
        self.compact_count(s.len());
        self.buf.put_slice(s.as_bytes());
    }
    pub fn compact_nullable_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.compact_string(s),
            None => self.uvarint(0),
        }
    }
    pub fn uuid(&mut self, id: &uuid::Uuid) {
        self.buf.put_slice(id.as_bytes())
    }
    /// An empty tagged-field section.
    pub fn no_tags(&mut self) {
        self.buf.put_u8(0)
    }

    /// A response frame: size, a v0 response header (the correlation id), this body.
    pub fn into_frame(self, correlation_id: i32) -> Bytes {
        let mut out = BytesMut::with_capacity(8 + self.buf.len());
        out.put_i32(i32::try_from(4 + self.buf.len()).unwrap_or(i32::MAX));
        out.put_i32(correlation_id);
        out.put_slice(&self.buf);
        out.freeze()
    }
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_rejects_truncation_and_huge_arrays() {
        let mut r = Reader::new(&[0, 0, 0]);
        assert!(r.i32().is_err());
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert!(r.array_len(4).is_err());
        let mut r = Reader::new(&[0, 5, b'a']);
        assert!(r.string().is_err());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.nullable_bytes().unwrap(), None);
        r.finish().unwrap();
    }

    #[test]
    fn frame_has_v0_header() {
        let mut w = Writer::new();
        w.i16(7);
        let f = w.into_frame(9);
        assert_eq!(&f[..], &[0, 0, 0, 6, 0, 0, 0, 9, 0, 7]);
    }
}
