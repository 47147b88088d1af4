//! Timestamp lookups for ListOffsets: the first record at or after a time, and the record
//! with the largest timestamp (KIP-734).
//!
//! Offsets count records, not batches, so both decode the one batch that holds the answer
//! (`RecordBatchDecoder` handles compression). A LogAppendTime batch needs no decoding:
//! every record in it carries the batch's max timestamp.

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::index::NO_TIMESTAMP;
use super::partition::PartitionLog;
use super::segment::{BatchReader, Scan, Segment};
use super::LogError;
use crate::protocol::batch::BatchHeader;

const SCAN_CHUNK: usize = 64 * 1024;

/// Decode the batch at `pos` and return the first record with `offset >= min_offset` that
/// satisfies `pred` on its timestamp, as (offset, timestamp).
fn find_record(
    seg: &Segment,
    pos: u64,
    header: &BatchHeader,
    min_offset: i64,
    pred: impl Fn(i64) -> bool,
) -> Result<Option<(i64, i64)>, LogError> {
    if header.is_log_append_time() {
        let offset = header.base_offset.max(min_offset);
        let found = pred(header.max_timestamp) && offset <= header.last_offset();
        return Ok(found.then_some((offset, header.max_timestamp)));
    }
    let bytes = seg.read_batch(pos, header)?;
    let set = RecordBatchDecoder::decode(&mut Bytes::from(bytes)).map_err(|e| {
        LogError::CorruptMessage(format!(
            "cannot decode stored batch at offset {}: {e}",
            header.base_offset
        ))
    })?;
    Ok(set
        .records
        .iter()
        .find(|r| r.offset >= min_offset && pred(r.timestamp))
        .map(|r| (r.offset, r.timestamp)))
}

impl PartitionLog {
    /// (offset, timestamp) of the first record at or after `log_start_offset` whose
    /// timestamp is `>= ts`; `None` if there is none.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.check_online()?;
        let start_offset = self.log_start_offset;
        for seg in self.segments.values() {
            if seg.index.max_timestamp < ts || seg.next_offset <= start_offset {
                continue;
            }
            // Every batch up to that time entry has max timestamps below `ts`.
            let from = seg
                .index
                .offset_before_timestamp(ts)
                .unwrap_or(seg.base_offset)
                .max(start_offset);
            let pos = seg.index.position_for(from);
            let mut reader =
                BatchReader::new(std::sync::Arc::clone(&seg.log), pos, seg.size, SCAN_CHUNK);
            loop {
                match reader.next_header()? {
                    Scan::Batch(pos, h) => {
                        if h.last_offset() < start_offset || h.max_timestamp < ts {
                            continue;
                        }
                        if let Some(found) = find_record(seg, pos, &h, start_offset, |t| t >= ts)? {
                            return Ok(Some(found));
                        }
                    }
                    Scan::End => break,
                    Scan::Invalid(pos, why) => {
                        return Err(LogError::CorruptMessage(format!(
                            "invalid stored batch at position {pos} of segment {}: {why}",
                            seg.base_offset
                        )))
                    }
                }
            }
        }
        Ok(None)
    }

    /// (timestamp, offset) of the record with the largest timestamp, the first one on ties;
    /// `None` if no record has a timestamp.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut best: Option<&Segment> = None;
        for seg in self.segments.values() {
            if seg.index.max_timestamp > best.map_or(NO_TIMESTAMP, |b| b.index.max_timestamp) {
                best = Some(seg);
            }
        }
        let seg = best?;
        let ts = seg.index.max_timestamp;
        let batch_offset = seg.index.max_timestamp_offset;
        let exact = match seg.locate(batch_offset) {
            Ok(Some((pos, h))) if h.base_offset == batch_offset => {
                find_record(seg, pos, &h, h.base_offset, |t| t == ts)
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        Some(exact.map_or((ts, batch_offset), |(offset, _)| (ts, offset)))
    }
}
