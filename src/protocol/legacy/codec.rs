//! Compression codecs for message sets and down-converted batches, with a bound on the
//! decompressed size (a few compressed bytes must never expand into unbounded memory).
//!
//! Codec ids are Kafka's attribute bits: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
//! - gzip: one or more gzip members (Java's GZIPInputStream reads concatenated members).
//! - snappy: xerial-framed (`\x82SNAPPY\0` header, then i32-length-prefixed raw blocks), as
//!   the Java client writes, or a bare raw block, as librdkafka writes; compression writes
//!   xerial framing, as Kafka does.
//! - lz4: the LZ4 frame format. Magic-0 messages carry Kafka's historical header-checksum bug
//!   (KAFKA-3160: the checksum byte was computed over the frame magic too); decompression
//!   recomputes the header checksum so both forms are read, and compression for magic 0
//!   writes the broken checksum, as Kafka does for the clients that expect it.

use std::io::Read;

use bytes::BytesMut;
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy};

use super::{LegacyError, Result};

pub const NONE: u8 = 0;
pub const GZIP: u8 = 1;
pub const SNAPPY: u8 = 2;
pub const LZ4: u8 = 3;
pub const ZSTD: u8 = 4;

fn codec_err(e: impl std::fmt::Display) -> LegacyError {
    LegacyError(format!("compression codec: {e}"))
}

fn too_large(limit: usize) -> LegacyError {
    LegacyError(format!("decompressed data exceeds {limit} bytes"))
}

/// Read all of `r`, failing once more than `limit` bytes come out.
fn read_bounded(r: impl Read, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(codec_err)?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

/// Decompress `data` compressed with `codec` (gzip, snappy or lz4), at most `limit` bytes.
pub fn decompress(codec: u8, data: &[u8], limit: usize) -> Result<Vec<u8>> {
    match codec {
        NONE => {
            if data.len() > limit {
                return Err(too_large(limit));
            }
            Ok(data.to_vec())
        }
        GZIP => read_bounded(flate2::read::MultiGzDecoder::new(data), limit),
        SNAPPY => snappy_decompress(data, limit),
        LZ4 => {
            if !data.starts_with(&LZ4_MAGIC) {
                return Err(codec_err("not an LZ4 frame"));
            }
            let fixed = lz4_fix_header_checksum(data);
            let mut decoder = lz4::Decoder::new(&fixed[..]).map_err(codec_err)?;
            let out = read_bounded(decoder.by_ref(), limit)?;
            // A frame cut short reads as a clean end: finish() tells.
            decoder.finish().1.map_err(codec_err)?;
            Ok(out)
        }
        c => Err(LegacyError(format!("unsupported compression codec {c}"))),
    }
}

const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";

fn snappy_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<()> {
    let len = snap::raw::decompress_len(block).map_err(codec_err)?;
    if out.len().saturating_add(len) > limit {
        return Err(too_large(limit));
    }
    let start = out.len();
    out.resize(start + len, 0);
    let n = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(codec_err)?;
    out.truncate(start + n);
    Ok(())
}

fn snappy_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if !data.starts_with(XERIAL_MAGIC) {
        snappy_block(data, &mut out, limit)?;
        return Ok(out);
    }
    // 8 bytes of magic, then i32 version and i32 compatible version.
    let mut r = super::Reader::new(data.get(16..).ok_or_else(|| codec_err("xerial header"))?);
    while r.remaining() > 0 {
        let len = r.i32()?;
        let len = usize::try_from(len).map_err(|_| codec_err("negative snappy block"))?;
        snappy_block(r.take(len)?, &mut out, limit)?;
    }
    Ok(out)
}

/// Compress `data` with `codec` (none, gzip, snappy or lz4) for a message of `magic`.
pub fn compress(codec: u8, data: &[u8], magic: i8) -> Result<Vec<u8>> {
    let mut out = BytesMut::new();
    let fill = |b: &mut BytesMut| {
        b.extend_from_slice(data);
        Ok(())
    };
    match codec {
        NONE => return Ok(data.to_vec()),
        GZIP => Gzip::compress(&mut out, fill).map_err(codec_err)?,
        SNAPPY => Snappy::compress(&mut out, fill).map_err(codec_err)?,
        LZ4 => Lz4::compress(&mut out, fill).map_err(codec_err)?,
        c => return Err(LegacyError(format!("unsupported compression codec {c}"))),
    }
    let mut out = out.to_vec();
    if codec == LZ4 && magic == 0 {
        lz4_break_header_checksum(&mut out);
    }
    Ok(out)
}

const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// The offset of the header checksum byte of an LZ4 frame, if `frame` starts with one.
fn lz4_hc_at(frame: &[u8]) -> Option<usize> {
    if frame.get(..4)? != LZ4_MAGIC {
        return None;
    }
    let flg = *frame.get(4)?;
    let mut at = 6; // magic, FLG, BD
    if flg & 0x08 != 0 {
        at += 8; // content size
    }
    if flg & 0x01 != 0 {
        at += 4; // dictionary id
    }
    (at < frame.len()).then_some(at)
}

/// A copy of `frame` whose header checksum is the correct one (over the frame descriptor).
fn lz4_fix_header_checksum(frame: &[u8]) -> Vec<u8> {
    let mut out = frame.to_vec();
    if let Some(at) = lz4_hc_at(frame) {
        out[at] = (xxh32(&frame[4..at], 0) >> 8) as u8;
    }
    out
}

/// Kafka's magic-0 LZ4 header checksum: computed over the frame magic and the descriptor.
fn lz4_break_header_checksum(frame: &mut [u8]) {
    if let Some(at) = lz4_hc_at(frame) {
        frame[at] = (xxh32(&frame[..at], 0) >> 8) as u8;
    }
}

const P1: u32 = 2_654_435_761;
const P2: u32 = 2_246_822_519;
const P3: u32 = 3_266_489_917;
const P4: u32 = 668_265_263;
const P5: u32 = 374_761_393;

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn xxh_round(acc: u32, input: u32) -> u32 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(13)
        .wrapping_mul(P1)
}

/// XXH32, the checksum of the LZ4 frame format.
pub fn xxh32(data: &[u8], seed: u32) -> u32 {
    let mut chunks = data.chunks_exact(16);
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        for c in &mut chunks {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = xxh_round(*lane, le32(&c[i * 4..]));
            }
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u32);
    let rest = if data.len() >= 16 {
        chunks.remainder()
    } else {
        data
    };
    let mut words = rest.chunks_exact(4);
    for w in &mut words {
        h = h
            .wrapping_add(le32(w).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
    }
    for &b in words.remainder() {
        h = h
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh32_known_values() {
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"a", 0), 0x550D_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xE229_3B2F
        );
    }

    #[test]
    fn every_codec_round_trips_and_is_bounded() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        for codec in [NONE, GZIP, SNAPPY, LZ4] {
            for magic in [0, 1] {
                let c = compress(codec, &data, magic).unwrap();
                assert_eq!(decompress(codec, &c, 5000).unwrap(), data, "codec {codec}");
                assert!(decompress(codec, &c, 4999).is_err(), "codec {codec} bound");
            }
        }
    }

    #[test]
    fn lz4_magic0_checksum_is_kafkas_broken_one() {
        let good = compress(LZ4, b"hello hello hello", 1).unwrap();
        let broken = compress(LZ4, b"hello hello hello", 0).unwrap();
        let at = lz4_hc_at(&good).unwrap();
        assert_eq!(
            good[at],
            (xxh32(&good[4..at], 0) >> 8) as u8,
            "lz4 crate agrees"
        );
        assert_ne!(good[at], broken[at]);
        assert_eq!(good[..at], broken[..at]);
        // liblz4 refuses the broken checksum; decompress repairs it.
        assert!(lz4::Decoder::new(&broken[..])
            .and_then(|mut d| std::io::copy(&mut d, &mut std::io::sink()))
            .is_err());
        assert_eq!(decompress(LZ4, &broken, 100).unwrap(), b"hello hello hello");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in [GZIP, SNAPPY, LZ4, ZSTD, 7] {
            let r = decompress(codec, &[0x82, b'S', 1, 2, 3], 1000);
            assert!(r.is_err(), "codec {codec}: {r:?}");
        }
        let whole = compress(LZ4, &[7u8; 300], 1).unwrap();
        assert!(decompress(LZ4, &whole[..whole.len() - 4], 1000).is_err());
        let mut xerial = XERIAL_MAGIC.to_vec();
        xerial.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]);
        assert!(decompress(SNAPPY, &xerial, 1000).is_err());
    }
}
