//! [`PartitionLog`]: appends, reads, rolls, the flush policy and retention of one partition.
//!
//! Hot path: `append` validates every batch of a produce payload (headers and CRC-32C, no
//! decompression, no per-record work), checks the producer state of batches that carry a
//! producer id (idempotence, transactions; skipped entirely when none does), writes offsets,
//! the leader epoch and (for LogAppendTime) the append time into the bytes in place, and
//! hands the payload to the active segment as one write. Any write or fsync error takes the
//! partition offline for good (until reopened): later calls fail with [`LogError::Offline`];
//! nothing retries.
//!
//! Opening and recovery live in `recovery.rs`; timestamp lookups in `timestamps.rs`;
//! transaction markers, the last stable offset, producer snapshots and their recovery in
//! `transactions.rs`; follower appends and truncation in `replica.rs`; the high watermark in
//! `high_watermark.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::high_watermark::HighWatermark;
use super::plan::{Generation, ReadPlan, SyncPlan};
use super::producer_state::{DataBatch, Prepared, ProducerStateManager};
use super::records;
use super::recovery::{encode_clean_shutdown, SegmentSummary};
use super::segment::{Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use super::storage::{write_atomic, OpenMode, OsStorage, Storage};
use super::txn_index::TXN_INDEX_SUFFIX;
use super::{AppendInfo, AppendOrigin, LogConfig, LogError, TimestampType, TopicCompression};
use crate::protocol::batch::{
    peek_total_size, set_base_offset, set_log_append_time, set_partition_leader_epoch, verify_crc,
    BatchError, BatchHeader, BatchIter,
};

/// Written by `close` after everything was fsynced; its presence lets `open` skip the scan.
pub(super) const CLEAN_SHUTDOWN_FILE: &str = "clean-shutdown";
/// The persisted log start offset, as decimal text.
pub(super) const LOG_START_OFFSET_FILE: &str = "log-start-offset";

/// The log of one partition. Not synchronized: the caller holds it in a mutex.
#[derive(Debug)]
pub struct PartitionLog {
    pub(super) dir: PathBuf,
    pub(super) config: LogConfig,
    pub(super) storage: Arc<dyn Storage>,
    /// Segments by base offset; the last one is the active segment. Never empty.
    pub(super) segments: BTreeMap<i64, Segment>,
    pub(super) log_start_offset: i64,
    pub(super) log_end_offset: i64,
    pub(super) flushed_offset: i64,
    /// When the oldest data not yet fsynced was appended (for `flush.ms`).
    pub(super) oldest_unflushed_ms: Option<i64>,
    pub(super) size_bytes: u64,
    pub(super) offline: bool,
    /// Idempotent and transactional producers, and the open transactions.
    pub(super) producers: ProducerStateManager,
    /// Offsets of the producer-state snapshot files on disk.
    pub(super) snapshots: BTreeSet<i64>,
    /// Batches replayed into the producer state when the log was opened.
    pub(super) replayed_batches: u64,
    /// The first offset of each leader epoch (`leader-epoch-checkpoint`).
    pub(super) leader_epochs: super::leader_epoch::LeaderEpochCache,
    /// The high watermark and whether it follows the log end offset (`high_watermark.rs`).
    pub(super) hw: HighWatermark,
    /// Truncations so far; read, sync and clean plans taken before one are stale.
    pub(super) generation: Generation,
    /// Segments whose batches may skip offsets (`segments-with-gaps`, `replica.rs`).
    pub(super) gapped: BTreeSet<i64>,
}

/// What validation learned about a produce payload.
pub(super) struct PayloadSummary {
    pub batches: usize,
    pub records: i64,
    /// Offsets the payload will take: the sum of `last_offset_delta + 1`.
    pub offset_span: i64,
    /// Some batch carries a producer id (idempotent or transactional).
    pub has_producer_ids: bool,
}

pub(super) fn batch_error(e: BatchError) -> LogError {
    match e {
        BatchError::Truncated | BatchError::InvalidLength(_) | BatchError::CorruptCrc => {
            LogError::CorruptMessage(e.to_string())
        }
        BatchError::UnsupportedMagic(_)
        | BatchError::InvalidRecordCount(_)
        | BatchError::InvalidOffsetDelta(_) => LogError::InvalidRecord(e.to_string()),
    }
}

/// Kafka's processRecordErrors: the batch fails with INVALID_TIMESTAMP if any record had a
/// bad timestamp, else with INVALID_RECORD and a message quoting the first three errors.
fn record_errors_failure(errors: Vec<records::RecordError>) -> LogError {
    let timestamp = errors.iter().any(|e| e.code == records::INVALID_TIMESTAMP);
    let message = if timestamp {
        "One or more records have been rejected due to invalid timestamp".to_string()
    } else {
        let first: Vec<String> = errors
            .iter()
            .take(3)
            .map(|e| {
                format!(
                    "RecordError(batchIndex={}, message='{}')",
                    e.batch_index, e.message
                )
            })
            .collect();
        format!(
            "One or more records have been rejected due to {} record errors in total, and only \
             showing the first three errors at most: [{}]",
            errors.len(),
            first.join(", ")
        )
    };
    LogError::RecordErrors {
        timestamp,
        message,
        errors,
    }
}

/// The payload with every data batch not in `codec` re-compressed, or `None` when all are
/// (nothing to do). A re-compressed batch over `max.message.bytes` is MESSAGE_TOO_LARGE, as in
/// Kafka.
fn recompress_payload(
    records: &[u8],
    codec: u8,
    level: i32,
    max_message_bytes: u32,
) -> Result<Option<Vec<u8>>, LogError> {
    if BatchIter::new(records)
        .map_while(Result::ok)
        .all(|(h, _)| h.compression() == codec || h.is_control())
    {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(records.len());
    for item in BatchIter::new(records) {
        let (header, bytes) = item.map_err(batch_error)?;
        if header.compression() == codec || header.is_control() {
            out.extend_from_slice(bytes);
            continue;
        }
        let batch = records::recompress_batch(bytes, &header, codec, level)
            .map_err(LogError::CorruptMessage)?;
        if batch.len() > max_message_bytes as usize {
            return Err(LogError::MessageTooLarge {
                size: batch.len(),
                max: max_message_bytes,
            });
        }
        out.extend_from_slice(&batch);
    }
    Ok(Some(out))
}

/// Check every batch of a produce payload before anything is written.
fn validate_payload(
    records: &[u8],
    max_message_bytes: u32,
    origin: AppendOrigin,
    rules: &records::RecordRules,
    partition: &str,
) -> Result<PayloadSummary, LogError> {
    if records.is_empty() {
        return Err(LogError::InvalidRecord("empty record set".into()));
    }
    let mut summary = PayloadSummary {
        batches: 0,
        records: 0,
        offset_span: 0,
        has_producer_ids: false,
    };
    for item in BatchIter::new(records) {
        let (header, bytes) = item.map_err(batch_error)?;
        if bytes.len() > max_message_bytes as usize {
            return Err(LogError::MessageTooLarge {
                size: bytes.len(),
                max: max_message_bytes,
            });
        }
        if header.records_count < 1 {
            return Err(LogError::InvalidRecord("batch without records".into()));
        }
        // Kafka's "inconsistent batch offset range": also keeps a batch from claiming more
        // offsets than it has records.
        if i64::from(header.last_offset_delta) + 1 != i64::from(header.records_count) {
            return Err(LogError::InvalidRecord(format!(
                "last offset delta {} does not match record count {}",
                header.last_offset_delta, header.records_count
            )));
        }
        if !verify_crc(bytes) {
            return Err(batch_error(BatchError::CorruptCrc));
        }
        if header.is_control() {
            return Err(LogError::InvalidRecord(
                "clients may not write control batches".into(),
            ));
        }
        if rules.needed(&header) {
            match records::record_errors(bytes, &header, rules, partition) {
                Ok(errors) if errors.is_empty() => {}
                Ok(errors) => return Err(record_errors_failure(errors)),
                Err(why) => return Err(LogError::CorruptMessage(why)),
            }
        }
        if header.producer_id >= 0 {
            if header.base_sequence < 0 && origin == AppendOrigin::Client {
                return Err(LogError::InvalidRecord(format!(
                    "invalid sequence {} in a batch of producer {}",
                    header.base_sequence, header.producer_id
                )));
            }
            summary.has_producer_ids = true;
        }
        summary.batches += 1;
        summary.records += i64::from(header.records_count);
        summary.offset_span += i64::from(header.last_offset_delta) + 1;
    }
    if summary.offset_span > i64::from(i32::MAX) {
        return Err(LogError::InvalidRecord(
            "payload spans too many offsets".into(),
        ));
    }
    Ok(summary)
}

impl PartitionLog {
    /// Open (or create) the log in `dir`, recovering it if it was not closed cleanly.
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64) -> Result<PartitionLog, LogError> {
        Self::open_with_storage(dir, config, now_ms, Arc::new(OsStorage))
    }

    pub(super) fn check_online(&self) -> Result<(), LogError> {
        if self.offline {
            Err(LogError::Offline)
        } else {
            Ok(())
        }
    }

    /// Take the partition offline after a write or fsync error.
    pub(super) fn fail(&mut self, e: io::Error) -> LogError {
        crate::resource::report(&e, &format_args!("a write to {}", self.dir.display()));
        tracing::error!(dir = %self.dir.display(), "storage error, partition offline: {e}");
        self.offline = true;
        LogError::Io(e)
    }

    /// An operation that changes nothing when it fails (an append, which rolls itself back;
    /// a roll; reopening a file for an fsync) failed: if a resource ran out (descriptors,
    /// disk space, memory) that is reported and the partition stays online, so the client's
    /// retry succeeds once the resource is back. Any other error takes it offline.
    pub(super) fn fail_soft(&mut self, e: io::Error, what: &str) -> LogError {
        let context = format_args!("{what} {}", self.dir.display());
        if crate::resource::report(&e, &context).is_some() {
            return LogError::Io(e);
        }
        self.fail(e)
    }

    pub(super) fn active(&self) -> &Segment {
        match self.segments.last_key_value() {
            Some((_, seg)) => seg,
            None => unreachable!("a partition log always has an active segment"),
        }
    }

    pub(super) fn active_mut(&mut self) -> &mut Segment {
        match self.segments.last_entry() {
            Some(entry) => entry.into_mut(),
            None => unreachable!("a partition log always has an active segment"),
        }
    }

    /// Append one produce payload (one or more v2 batches) and return where it landed.
    ///
    /// Batches with a producer id are checked against its state first; a retry of one of
    /// its last 5 batches writes nothing and returns the original placement with
    /// `duplicate: true`.
    pub fn append(
        &mut self,
        records: &mut [u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.append_from(records, leader_epoch, now_ms, AppendOrigin::Client)
    }

    /// [`PartitionLog::append`] for a given origin (see [`AppendOrigin`]).
    pub fn append_from(
        &mut self,
        records: &mut [u8],
        leader_epoch: i32,
        now_ms: i64,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        self.check_online()?;
        let rules = records::RecordRules {
            compacted: self.config.cleanup_policy.compact,
            create_time: self.config.message_timestamp_type == TimestampType::CreateTime,
            now_ms,
            before_max_ms: self.config.timestamp_before_max_ms,
            after_max_ms: self.config.timestamp_after_max_ms,
        };
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let summary = validate_payload(
            records,
            self.config.max_message_bytes,
            origin,
            &rules,
            &name,
        )?;
        // compression.type other than `producer`: batches in another codec are re-compressed
        // (whole payload copied); batches already in the topic's codec keep the zero-copy path.
        let mut recompressed;
        let records: &mut [u8] = match self.config.compression {
            TopicCompression::Codec { codec, level } => {
                match recompress_payload(records, codec, level, self.config.max_message_bytes)? {
                    Some(v) => {
                        recompressed = v;
                        &mut recompressed
                    }
                    None => records,
                }
            }
            TopicCompression::Producer => records,
        };
        if records.len() as u64 > u64::from(u32::MAX) {
            return Err(LogError::MessageTooLarge {
                size: records.len(),
                max: u32::MAX,
            });
        }
        let log_append_time = self.log_append_time(now_ms);
        let pending = if summary.has_producer_ids {
            match self.prepare_producers(records, log_append_time, origin)? {
                Prepared::Duplicate(b) => {
                    return Ok(AppendInfo {
                        base_offset: b.first_offset,
                        last_offset: b.last_offset,
                        log_append_time: if log_append_time >= 0 {
                            b.timestamp
                        } else {
                            -1
                        },
                        log_start_offset: self.log_start_offset,
                        records: 0,
                        max_timestamp: b.timestamp,
                        duplicate: true,
                    })
                }
                Prepared::Update(pending) => Some(pending),
            }
        } else {
            None
        };
        let info = self.write_payload(records, &summary, leader_epoch, now_ms)?;
        if let Some(pending) = pending {
            let completed = self.producers.commit(pending);
            assert!(completed.is_none(), "data batches complete no transaction");
        }
        self.flush_if_due()?;
        Ok(info)
    }

    pub(super) fn log_append_time(&self, now_ms: i64) -> i64 {
        match self.config.message_timestamp_type {
            TimestampType::LogAppendTime => now_ms,
            TimestampType::CreateTime => -1,
        }
    }

    /// Validate the producer state of a payload's batches at the offsets they will take.
    fn prepare_producers(
        &self,
        records: &[u8],
        log_append_time: i64,
        origin: AppendOrigin,
    ) -> Result<Prepared, LogError> {
        let mut next = self.log_end_offset;
        let batches = BatchIter::new(records)
            .map_while(Result::ok)
            .filter_map(|(h, _)| {
                let base = next;
                next += i64::from(h.last_offset_delta) + 1;
                let ts = if log_append_time >= 0 {
                    log_append_time
                } else {
                    h.max_timestamp
                };
                (h.producer_id >= 0).then(|| DataBatch::new(&h, base, ts))
            });
        self.producers
            .prepare_append(batches, origin == AppendOrigin::Client)
    }

    /// Roll if due, assign offsets in place, and write a validated payload to the active
    /// segment.
    pub(super) fn write_payload(
        &mut self,
        records: &mut [u8],
        summary: &PayloadSummary,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let base_offset = self.log_end_offset;
        let last_offset = base_offset + summary.offset_span - 1;
        if self.needs_roll(records.len() as u64, summary.batches, last_offset, now_ms) {
            self.roll(now_ms)?;
        }

        let log_append_time = self.log_append_time(now_ms);
        let mut next = base_offset;
        let mut max_timestamp = -1;
        let mut pos = 0;
        while let Some(size) = peek_total_size(&records[pos..]) {
            let batch = &mut records[pos..pos + size];
            set_base_offset(batch, next);
            set_partition_leader_epoch(batch, leader_epoch);
            if log_append_time >= 0 {
                set_log_append_time(batch, log_append_time);
            }
            let header = BatchHeader::parse(batch).map_err(batch_error)?;
            next = header.last_offset() + 1;
            max_timestamp = max_timestamp.max(header.max_timestamp);
            pos += size;
        }
        assert_eq!(
            next,
            last_offset + 1,
            "offsets assigned differ from validation"
        );

        // The epoch is noted (and its checkpoint written) before the data, as Kafka assigns
        // the epoch start offset before appending: an entry at the log end offset without
        // data is harmless (becoming leader writes the same), whereas data written and then
        // answered with an error because the checkpoint could not be written would come
        // back doubled with the client's retry.
        if self.leader_epochs.is_dirty()
            || self
                .leader_epochs
                .latest_epoch()
                .is_none_or(|latest| leader_epoch > latest)
        {
            self.note_leader_epoch(leader_epoch, base_offset)?;
        }
        self.write_to_active(records, next, now_ms)?;
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time,
            log_start_offset: self.log_start_offset,
            records: summary.records,
            max_timestamp,
            duplicate: false,
        })
    }

    /// Append whole batches with their offsets in place to the active segment; `next` is
    /// the new log end offset.
    pub(super) fn write_to_active(
        &mut self,
        records: &[u8],
        next: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let interval = self.config.index_interval_bytes;
        let active = self.active_mut();
        if active.is_empty() {
            // segment.ms counts from the first data, not from an idle empty segment's birth.
            active.rolling_base_ms = now_ms;
        }
        if let Err(e) = active.append(records, interval) {
            return Err(self.fail_soft(e, "append to"));
        }
        self.log_end_offset = next;
        self.size_bytes += records.len() as u64;
        self.oldest_unflushed_ms.get_or_insert(now_ms);
        self.hw.appended();
        Ok(())
    }

    /// Apply `flush.messages` after an append.
    pub(super) fn flush_if_due(&mut self) -> Result<(), LogError> {
        if self.log_end_offset - self.flushed_offset >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn needs_roll(
        &self,
        payload_len: u64,
        batches: usize,
        last_offset: i64,
        now_ms: i64,
    ) -> bool {
        let seg = self.active();
        if seg.is_empty() {
            return false;
        }
        let index_bytes = self.config.segment_index_bytes as usize;
        let new_size = seg.size + payload_len;
        new_size > self.config.segment_bytes
            || new_size > u64::from(u32::MAX)
            || now_ms.saturating_sub(seg.rolling_base_ms) >= self.config.segment_ms
            || seg.index.offsets.len() + batches > index_bytes / 8
            || seg.index.times.len() + batches > index_bytes / 12
            || last_offset - seg.base_offset > i64::from(i32::MAX)
    }

    /// Start a new active segment at the log end offset, snapshotting the producer state
    /// there first (as Kafka does), so recovery replays at most the active segment.
    fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.roll_at(self.log_end_offset, now_ms)
    }

    /// [`Self::roll`] with the new segment at `base` (a follower rolls at the offset of the
    /// batch it appends next, which may lie past a gap, as Kafka does).
    pub(super) fn roll_at(&mut self, base: i64, now_ms: i64) -> Result<(), LogError> {
        assert!(
            base >= self.log_end_offset,
            "rolling below the log end offset"
        );
        assert!(base > self.active().base_offset, "rolling an empty segment");
        // Nothing below changes the log in memory before the new segment is in place, and
        // a retry truncates whatever files a failed attempt left: running out is soft.
        if let Err(e) = self.take_snapshot() {
            return Err(self.fail_soft(e, "snapshot producer state of"));
        }
        let created = Segment::create(self.storage.as_ref(), &self.dir, base, now_ms)
            .and_then(|seg| self.storage.sync_dir(&self.dir).map(|()| seg));
        match created {
            Ok(seg) => {
                self.segments.insert(base, seg);
                Ok(())
            }
            Err(e) => Err(self.fail_soft(e, "roll a segment of")),
        }
    }

    /// Roll a non-empty active segment older than `segment.ms` (for idle partitions).
    pub fn roll_if_due(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.check_online()?;
        let seg = self.active();
        if !seg.is_empty() && now_ms.saturating_sub(seg.rolling_base_ms) >= self.config.segment_ms {
            self.roll(now_ms)?;
        }
        Ok(())
    }

    /// Plan a read of whole batches starting with the one containing `offset`.
    pub fn read(&self, offset: i64, max_bytes: usize, min_one: bool) -> Result<ReadPlan, LogError> {
        self.read_upto(offset, max_bytes, min_one, i64::MAX)
    }

    /// As [`PartitionLog::read`], but only whole batches whose base offset is below
    /// `max_offset` (the last stable offset, for read_committed fetches). A read at or past
    /// `max_offset` (within the log) returns an empty plan.
    pub fn read_upto(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        max_offset: i64,
    ) -> Result<ReadPlan, LogError> {
        self.check_online()?;
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        if offset == self.log_end_offset || offset >= max_offset {
            return Ok(ReadPlan::empty());
        }
        let from = self
            .segments
            .range(..=offset)
            .next_back()
            .map_or(i64::MIN, |(base, _)| *base);
        for seg in self.segments.range(from..).map(|(_, s)| s) {
            if let Some((pos, header)) = seg.locate(offset)? {
                if header.base_offset >= max_offset {
                    return Ok(ReadPlan::empty());
                }
                let end = seg.end_before(max_offset)?;
                return Ok(ReadPlan::new(
                    Arc::clone(&seg.log),
                    pos,
                    end,
                    max_bytes,
                    min_one,
                    self.generation.now(),
                ));
            }
        }
        Ok(ReadPlan::empty())
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Every record below this offset has been fsynced.
    pub fn flushed_offset(&self) -> i64 {
        self.flushed_offset
    }

    /// Bytes of all segment `.log` files.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a storage error took the partition offline.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Take the partition offline, e.g. after a [`SyncPlan::execute`] failed.
    pub fn mark_offline(&mut self) {
        self.offline = true;
    }

    /// The fsyncs that would make everything appended so far durable. Cheap.
    pub fn sync_plan(&self) -> SyncPlan {
        if self.offline {
            return SyncPlan {
                end_offset: self.flushed_offset,
                files: Vec::new(),
                generation: self.generation.now(),
            };
        }
        SyncPlan {
            end_offset: self.log_end_offset,
            files: self
                .segments
                .values()
                .filter(|s| s.is_dirty())
                .map(|s| Arc::clone(&s.log))
                .collect(),
            generation: self.generation.now(),
        }
    }

    /// Record that `plan` was executed successfully: everything below its `end_offset` is
    /// durable, unless the log was truncated since the plan was made (then the offsets it
    /// covered may hold new, unsynced data and nothing is recorded). Returns whether it
    /// counted.
    pub fn mark_synced(&mut self, plan: &SyncPlan) -> bool {
        if plan.is_stale() {
            return false;
        }
        self.mark_flushed(plan.end_offset);
        true
    }

    /// Record that a [`SyncPlan`] with this `end_offset` succeeded. Monotonic. Only for
    /// plans made since the last truncation (`truncate_to`, `truncate_fully_and_start_at`);
    /// [`PartitionLog::mark_synced`] checks that.
    pub fn mark_flushed(&mut self, end_offset: i64) {
        if self.offline {
            return;
        }
        let end = end_offset.min(self.log_end_offset);
        if end <= self.flushed_offset {
            return;
        }
        self.flushed_offset = end;
        for seg in self.segments.range_mut(..end).map(|(_, s)| s) {
            seg.flushed_offset = seg.flushed_offset.max(end.min(seg.next_offset));
        }
        if end >= self.log_end_offset {
            self.oldest_unflushed_ms = None;
        }
    }

    /// fsync everything not yet flushed, now.
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.check_online()?;
        let plan = self.sync_plan();
        if let Err(e) = plan.execute() {
            // No descriptor to reopen a file with: nothing was synced, nothing was lost.
            // Any fsync error proper (EIO, ENOSPC) may have lost data: offline.
            if crate::resource::classify(&e) == Some(crate::resource::Resource::FileDescriptors) {
                return Err(self.fail_soft(e, "flush"));
            }
            return Err(self.fail(e));
        }
        self.mark_synced(&plan);
        Ok(())
    }

    /// Apply `flush.ms`: flush if the oldest unflushed data is at least that old.
    pub fn maybe_flush(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.check_online()?;
        if let Some(since) = self.oldest_unflushed_ms {
            if now_ms.saturating_sub(since) >= self.config.flush_ms {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Delete old non-active segments by `retention.ms` and `retention.bytes` (only when
    /// `cleanup.policy` includes delete) and by the log start offset; returns how many were
    /// deleted. As in Kafka, only segments wholly below the high watermark go.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        self.check_online()?;
        let inactive: Vec<&Segment> = self.segments.values().rev().skip(1).rev().collect();
        // Segments entirely below the log start offset (after DeleteRecords).
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let by_start = bases
            .windows(2)
            .take_while(|w| w[1] <= self.log_start_offset)
            .count();
        let delete = self.config.cleanup_policy.delete;
        let mut by_time = 0;
        if delete && self.config.retention_ms >= 0 {
            for seg in &inactive {
                let newest = if seg.index.max_timestamp >= 0 {
                    seg.index.max_timestamp
                } else {
                    match self.storage.modified_ms(&seg.path(LOG_SUFFIX)) {
                        Ok(ms) => ms,
                        Err(_) => break,
                    }
                };
                if now_ms.saturating_sub(newest) <= self.config.retention_ms {
                    break;
                }
                by_time += 1;
            }
        }
        let mut by_size = 0;
        if delete && self.config.retention_bytes >= 0 {
            let mut excess = self.size_bytes as i64 - self.config.retention_bytes;
            for seg in &inactive {
                if excess - (seg.size as i64) < 0 {
                    break;
                }
                excess -= seg.size as i64;
                by_size += 1;
            }
        }
        let hw = self.high_watermark();
        let below_hw = bases.windows(2).take_while(|w| w[1] <= hw).count();
        let count = by_start.max(by_time).max(by_size).min(below_hw);
        if count > 0 {
            self.delete_oldest(count)?;
        }
        Ok(count)
    }

    /// Move the log start offset forward (DeleteRecords, or a follower following its
    /// leader's), deleting segments entirely below it. Not past the high watermark (Kafka's
    /// OFFSET_OUT_OF_RANGE).
    pub fn advance_log_start_offset(&mut self, offset: i64) -> Result<(), LogError> {
        self.check_online()?;
        if offset > self.high_watermark() {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(());
        }
        if let Err(e) = self.persist_log_start_offset(offset) {
            return Err(self.fail_soft(e, "persist the log start offset of"));
        }
        self.log_start_offset = offset;
        self.leader_epochs_follow_log_start()?;
        self.apply_retention_below_start()
    }

    fn apply_retention_below_start(&mut self) -> Result<(), LogError> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let count = bases
            .windows(2)
            .take_while(|w| w[1] <= self.log_start_offset)
            .count();
        if count > 0 {
            self.delete_oldest(count)?;
        }
        Ok(())
    }

    pub(super) fn persist_log_start_offset(&self, offset: i64) -> io::Result<()> {
        write_atomic(
            self.storage.as_ref(),
            &self.dir,
            LOG_START_OFFSET_FILE,
            format!("{offset}\n").as_bytes(),
        )
    }

    /// Delete the `count` oldest segments (never the active one). The new log start offset
    /// is persisted first, so a crash midway leaves segments that the next open deletes.
    fn delete_oldest(&mut self, count: usize) -> Result<(), LogError> {
        assert!(
            count < self.segments.len(),
            "retention must keep the active segment"
        );
        let Some(&next_base) = self.segments.keys().nth(count) else {
            return Ok(());
        };
        if next_base > self.log_start_offset {
            if let Err(e) = self.persist_log_start_offset(next_base) {
                return Err(self.fail_soft(e, "persist the log start offset of"));
            }
            self.log_start_offset = next_base;
            self.leader_epochs_follow_log_start()?;
        }
        for _ in 0..count {
            let Some((_, seg)) = self.segments.pop_first() else {
                break;
            };
            self.size_bytes -= seg.size;
            seg.retire();
            for suffix in [
                LOG_SUFFIX,
                INDEX_SUFFIX,
                TIME_INDEX_SUFFIX,
                TXN_INDEX_SUFFIX,
            ] {
                match self.storage.remove_file(&seg.path(suffix)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.fail(e)),
                }
            }
        }
        if let Err(e) = self.storage.sync_dir(&self.dir) {
            // The files are gone; should the removals not be durable, the next open deletes
            // the segments below the (persisted) log start offset again.
            return Err(self.fail_soft(e, "sync the directory of"));
        }
        Ok(())
    }

    /// Flush everything, fsync the indexes, snapshot the producer state at the log end
    /// offset, checkpoint the high watermark, and leave the clean-shutdown marker.
    pub fn close(mut self) -> Result<(), LogError> {
        self.flush()?;
        if self.high_watermark_to_checkpoint().is_some() {
            self.checkpoint_high_watermark()?;
        }
        for seg in self.segments.values_mut() {
            if let Err(e) = seg.sync_indexes() {
                return Err(LogError::Io(e));
            }
        }
        self.take_snapshot()?;
        let summary = encode_clean_shutdown(self.segments.values().map(|s| {
            let summary = SegmentSummary {
                size: s.size,
                offset_entries: s.index.offsets.len(),
                time_entries: s.index.times.len(),
            };
            (s.base_offset, summary)
        }));
        let marker = self.dir.join(CLEAN_SHUTDOWN_FILE);
        self.storage
            .open(&marker, OpenMode::CreateTruncate)
            .and_then(|f| {
                f.write_all_at(summary.as_bytes(), 0)?;
                f.sync_data()
            })?;
        self.storage.sync_dir(&self.dir)?;
        Ok(())
    }

    /// Remove the partition's directory and everything in it.
    pub fn delete(self) -> Result<(), LogError> {
        let storage = Arc::clone(&self.storage);
        let dir = self.dir.clone();
        drop(self);
        storage.remove_dir_all(&dir)?;
        if let Some(parent) = dir.parent() {
            storage.sync_dir(parent)?;
        }
        Ok(())
    }
}
