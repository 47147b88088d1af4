//! Confluent's wire framing of a serialized key or value (what the Confluent serializers
//! write and expect, `SchemaId` in confluent-kafka-python's `serde.py`): magic byte `0`, the
//! schema id as 4 bytes big-endian, then for Protobuf only the message indexes (the path of
//! the message type in the `.proto` file: top-level index, then nested indexes), then the
//! serialized data.
//!
//! The message indexes are zig-zag varints (as Avro longs are): the count, then each index;
//! the common case `[0]` (the first top-level message) is the single byte `0`, which also
//! reads back as `[0]` (a count of 0). Reading bounds the count by the bytes left (each index
//! takes at least one byte) and by [`MAX_MESSAGE_INDEXES`] before allocating. The GUID form
//! (magic `1` + 16 bytes, opt-in in the clients) is not handled here.

/// The most message indexes read (confluent-kafka-python refuses more than 100000).
pub const MAX_MESSAGE_INDEXES: usize = 100_000;

/// The magic byte of the id framing.
pub const MAGIC: u8 = 0;

/// `payload` framed with schema `id`; `message_indexes` for Protobuf (`Some(&[0])` for the
/// file's first message; an empty slice is written like `[0]`, the form it reads back as).
pub fn frame(id: i32, message_indexes: Option<&[i32]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len() + 8);
    out.push(MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
    match message_indexes {
        None => {}
        Some([]) | Some([0]) => out.push(0),
        Some(indexes) => {
            write_varint(&mut out, i32::try_from(indexes.len()).unwrap_or(i32::MAX));
            for i in indexes {
                write_varint(&mut out, *i);
            }
        }
    }
    out.extend_from_slice(payload);
    out
}

/// The schema id of framed data and the bytes after it; None unless it starts with the magic
/// byte and a whole id.
pub fn unframe_id(data: &[u8]) -> Option<(i32, &[u8])> {
    match data {
        [MAGIC, a, b, c, d, rest @ ..] => Some((i32::from_be_bytes([*a, *b, *c, *d]), rest)),
        _ => None,
    }
}

/// The Protobuf message indexes at the start of `rest` (what follows the id) and the bytes
/// after them; a count of 0 is `[0]`. None if truncated, a varint is malformed, or the count
/// or an index is negative or the count is beyond what the bytes left or
/// [`MAX_MESSAGE_INDEXES`] allow.
pub fn read_message_indexes(rest: &[u8]) -> Option<(Vec<i32>, &[u8])> {
    let (count, mut rest) = read_varint(rest)?;
    if count == 0 {
        return Some((vec![0], rest));
    }
    let count = usize::try_from(count).ok()?;
    if count > rest.len() || count > MAX_MESSAGE_INDEXES {
        return None;
    }
    let mut indexes = Vec::with_capacity(count);
    for _ in 0..count {
        let (i, r) = read_varint(rest)?;
        if i < 0 {
            return None;
        }
        indexes.push(i);
        rest = r;
    }
    Some((indexes, rest))
}

fn write_varint(out: &mut Vec<u8>, n: i32) {
    let mut z = ((n << 1) ^ (n >> 31)) as u32;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// A zig-zag varint of at most 5 bytes that fits 32 bits.
fn read_varint(data: &[u8]) -> Option<(i32, &[u8])> {
    let mut z: u64 = 0;
    for (i, b) in data.iter().take(5).enumerate() {
        z |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let z = u32::try_from(z).ok()?;
            let n = (z >> 1) as i32 ^ -((z & 1) as i32);
            return Some((n, &data[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
