//! The in-memory sparse offset and time indexes of one segment, and their file encoding.
//!
//! Offset index entry (8 bytes, big endian): `offset - base u32, position u32`, naming the
//! batch whose *base* offset is `offset` and which starts at `position` in the `.log` file.
//! Time index entry (12 bytes): `timestamp i64, offset - base u32`: the segment's max
//! timestamp so far and the base offset of the first batch that reached it.
//!
//! Entries are added exactly as Kafka adds them, per batch, in file order:
//! the batch's max timestamp updates the running maximum; then, if more than
//! `index_interval_bytes` were written since the last entry, an offset entry for this batch
//! is added, plus a time entry if the running maximum grew past the last time entry. The same
//! [`SegmentIndex::observe`] runs on append and on rebuild, so a rebuilt index is identical.
//!
//! Invariants checked on load (a file failing them is rebuilt from the log): whole entries
//! only; offset entries strictly increasing in both offset and position; time entries strictly
//! increasing in timestamp and non-decreasing in offset.

use crate::protocol::batch::BatchHeader;

pub(super) const OFFSET_ENTRY_LEN: usize = 8;
pub(super) const TIME_ENTRY_LEN: usize = 12;

/// No timestamp seen (Kafka's `RecordBatch.NO_TIMESTAMP`).
pub(super) const NO_TIMESTAMP: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

/// Both indexes of a segment plus the running state that decides the next entries.
#[derive(Debug, Clone)]
pub(super) struct SegmentIndex {
    pub base_offset: i64,
    pub offsets: Vec<OffsetEntry>,
    pub times: Vec<TimeEntry>,
    /// Log bytes written since the last offset entry (Kafka's bytesSinceLastIndexEntry).
    pub bytes_since_entry: u64,
    /// Largest batch max timestamp in the segment, or [`NO_TIMESTAMP`].
    pub max_timestamp: i64,
    /// Base offset of the first batch with `max_timestamp`, or -1.
    pub max_timestamp_offset: i64,
}

/// The state of a [`SegmentIndex`] before an append, to undo the append's entries if its
/// writes fail.
#[derive(Debug, Clone, Copy)]
pub(super) struct IndexMark {
    offsets: usize,
    times: usize,
    bytes_since_entry: u64,
    max_timestamp: i64,
    max_timestamp_offset: i64,
}

impl SegmentIndex {
    pub fn mark(&self) -> IndexMark {
        IndexMark {
            offsets: self.offsets.len(),
            times: self.times.len(),
            bytes_since_entry: self.bytes_since_entry,
            max_timestamp: self.max_timestamp,
            max_timestamp_offset: self.max_timestamp_offset,
        }
    }

    /// Forget everything observed since `mark` was taken.
    pub fn rollback(&mut self, mark: IndexMark) {
        self.offsets.truncate(mark.offsets);
        self.times.truncate(mark.times);
        self.bytes_since_entry = mark.bytes_since_entry;
        self.max_timestamp = mark.max_timestamp;
        self.max_timestamp_offset = mark.max_timestamp_offset;
    }

    pub fn new(base_offset: i64) -> SegmentIndex {
        SegmentIndex {
            base_offset,
            offsets: Vec::new(),
            times: Vec::new(),
            bytes_since_entry: 0,
            max_timestamp: NO_TIMESTAMP,
            max_timestamp_offset: -1,
        }
    }

    fn relative(&self, offset: i64) -> u32 {
        let rel = offset - self.base_offset;
        assert!(
            (0..=i64::from(u32::MAX)).contains(&rel),
            "relative offset {rel} out of range"
        );
        rel as u32
    }

    /// Account for one batch at `position`; encodes any new entries into the two buffers.
    pub fn observe(
        &mut self,
        position: u64,
        header: &BatchHeader,
        interval: u32,
        offset_out: &mut Vec<u8>,
        time_out: &mut Vec<u8>,
    ) {
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.max_timestamp_offset = header.base_offset;
        }
        if self.bytes_since_entry > u64::from(interval) {
            assert!(
                position <= u64::from(u32::MAX),
                "segment position overflows u32"
            );
            let entry = OffsetEntry {
                relative_offset: self.relative(header.base_offset),
                position: position as u32,
            };
            offset_out.extend_from_slice(&entry.relative_offset.to_be_bytes());
            offset_out.extend_from_slice(&entry.position.to_be_bytes());
            self.offsets.push(entry);
            let last_ts = self.times.last().map_or(NO_TIMESTAMP, |t| t.timestamp);
            if self.max_timestamp > last_ts {
                let entry = TimeEntry {
                    timestamp: self.max_timestamp,
                    relative_offset: self.relative(self.max_timestamp_offset),
                };
                time_out.extend_from_slice(&entry.timestamp.to_be_bytes());
                time_out.extend_from_slice(&entry.relative_offset.to_be_bytes());
                self.times.push(entry);
            }
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += header.total_size() as u64;
    }

    /// Start position for a scan towards `offset`: the last entry at or before it, else 0.
    pub fn position_for(&self, offset: i64) -> u64 {
        let rel = offset - self.base_offset;
        if rel <= 0 {
            return 0;
        }
        let i = self
            .offsets
            .partition_point(|e| i64::from(e.relative_offset) <= rel);
        if i == 0 {
            0
        } else {
            u64::from(self.offsets[i - 1].position)
        }
    }

    /// The last time entry whose timestamp is below `ts`, as an absolute offset.
    pub fn offset_before_timestamp(&self, ts: i64) -> Option<i64> {
        let i = self.times.partition_point(|e| e.timestamp < ts);
        if i == 0 {
            None
        } else {
            Some(self.base_offset + i64::from(self.times[i - 1].relative_offset))
        }
    }

    pub fn encode_offsets(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.offsets.len() * OFFSET_ENTRY_LEN);
        for e in &self.offsets {
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
            out.extend_from_slice(&e.position.to_be_bytes());
        }
        out
    }

    pub fn encode_times(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.times.len() * TIME_ENTRY_LEN);
        for e in &self.times {
            out.extend_from_slice(&e.timestamp.to_be_bytes());
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
        }
        out
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Decode an offset index file; `None` if it breaks an invariant.
pub(super) fn parse_offset_index(bytes: &[u8]) -> Option<Vec<OffsetEntry>> {
    if !bytes.len().is_multiple_of(OFFSET_ENTRY_LEN) {
        return None;
    }
    let mut out: Vec<OffsetEntry> = Vec::with_capacity(bytes.len() / OFFSET_ENTRY_LEN);
    for chunk in bytes.chunks_exact(OFFSET_ENTRY_LEN) {
        let e = OffsetEntry {
            relative_offset: be_u32(&chunk[0..4]),
            position: be_u32(&chunk[4..8]),
        };
        if let Some(prev) = out.last() {
            if e.relative_offset <= prev.relative_offset || e.position <= prev.position {
                return None;
            }
        }
        out.push(e);
    }
    Some(out)
}

/// Decode a time index file; `None` if it breaks an invariant.
pub(super) fn parse_time_index(bytes: &[u8]) -> Option<Vec<TimeEntry>> {
    if !bytes.len().is_multiple_of(TIME_ENTRY_LEN) {
        return None;
    }
    let mut out: Vec<TimeEntry> = Vec::with_capacity(bytes.len() / TIME_ENTRY_LEN);
    for chunk in bytes.chunks_exact(TIME_ENTRY_LEN) {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&chunk[0..8]);
        let e = TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: be_u32(&chunk[8..12]),
        };
        let last_ts = out.last().map_or(NO_TIMESTAMP, |t| t.timestamp);
        if e.timestamp <= last_ts {
            return None;
        }
        if out
            .last()
            .is_some_and(|p| e.relative_offset < p.relative_offset)
        {
            return None;
        }
        out.push(e);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(base: i64, delta: i32, size: usize, max_ts: i64) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: (size - 12) as i32,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: delta,
            base_timestamp: max_ts,
            max_timestamp: max_ts,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: delta + 1,
        }
    }

    #[test]
    fn observe_follows_kafka_spacing_and_round_trips() {
        let mut idx = SegmentIndex::new(100);
        let (mut o, mut t) = (Vec::new(), Vec::new());
        let mut pos = 0u64;
        let mut offset = 100;
        for (i, ts) in [5, 3, 9, 9, 2, 11, 1].into_iter().enumerate() {
            let h = header(offset, 1, 100, ts);
            idx.observe(pos, &h, 150, &mut o, &mut t);
            pos += 100;
            offset += 2;
            let _ = i;
        }
        // Entries once more than 150 bytes passed: before batches 2, 4, 6.
        assert_eq!(
            idx.offsets.iter().map(|e| e.position).collect::<Vec<_>>(),
            vec![200, 400, 600]
        );
        assert_eq!(
            idx.times,
            vec![
                TimeEntry {
                    timestamp: 9,
                    relative_offset: 4
                },
                TimeEntry {
                    timestamp: 11,
                    relative_offset: 10
                },
            ]
        );
        assert_eq!(idx.max_timestamp, 11);
        assert_eq!(idx.max_timestamp_offset, 110);
        assert_eq!(parse_offset_index(&o), Some(idx.offsets.clone()));
        assert_eq!(parse_time_index(&t), Some(idx.times.clone()));
        assert_eq!(idx.encode_offsets(), o);
        assert_eq!(idx.encode_times(), t);

        assert_eq!(idx.position_for(99), 0);
        assert_eq!(idx.position_for(103), 0);
        assert_eq!(idx.position_for(104), 200);
        assert_eq!(idx.position_for(109), 400);
        assert_eq!(idx.position_for(1000), 600);
        assert_eq!(idx.offset_before_timestamp(9), None);
        assert_eq!(idx.offset_before_timestamp(10), Some(104));
        assert_eq!(idx.offset_before_timestamp(12), Some(110));
    }

    #[test]
    fn garbage_index_files_are_rejected() {
        assert_eq!(parse_offset_index(&[0; 7]), None);
        assert_eq!(
            parse_offset_index(&[0; 16]),
            None,
            "zero-filled is not increasing"
        );
        assert_eq!(parse_time_index(&[0; 13]), None);
        assert_eq!(parse_time_index(&[0; 24]), None);
        assert_eq!(parse_offset_index(&[]), Some(vec![]));
    }
}
