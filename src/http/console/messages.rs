//! The message browser: a page of records of a topic (one partition or all), from the
//! oldest, the newest, an offset or a timestamp, optionally only those whose key or value
//! contains a substring, read with Fetch (read_uncommitted, so records of open or aborted
//! transactions show too; control records do not) from offsets ListOffsets gives.
//!
//! Bounds: at most [`MAX_LIMIT`] records a page; each Fetch asks at most [`FETCH_BYTES`];
//! a search reads at most `max_scan_bytes` ([`DEFAULT_SCAN_BYTES`] unless asked, at most
//! [`MAX_SCAN_BYTES`]; the last fetch may end one record batch beyond) and answers how many
//! bytes it scanned, whether it reached the end, and where each partition would go on.
//! Newest first: the last `limit` offsets of each partition (without a search), or, with
//! one, windows of [`SEARCH_WINDOW`] offsets read from the end backwards; the records are
//! merged newest first by timestamp.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest};
use kafka_protocol::records::{Record, RecordBatchDecoder, TimestampType};
use serde_json::{json, Value};

use super::api::{
    check, error_name, list_offsets, metadata, non_empty, topic_name, ApiError, Ctx, EARLIEST,
    LATEST,
};
use super::decode::{show, Format, SchemaInfo, Schemas};
use crate::http::Request;
use crate::protocol::batch::{BatchError, BatchIter};
use crate::registry::data::DataSchema;
use crate::registry::wire::unframe_id;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;
pub const DEFAULT_SCAN_BYTES: u64 = 16 << 20;
pub const MAX_SCAN_BYTES: u64 = 256 << 20;
/// The most bytes one Fetch of one partition asks for.
pub const FETCH_BYTES: i32 = 1 << 20;
/// Offsets per backwards step of a newest-first search.
pub const SEARCH_WINDOW: i64 = 1000;
/// The longest search string.
const MAX_SEARCH: usize = 1024;
/// The most headers shown per record.
const MAX_HEADERS: usize = 64;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Oldest,
    Newest,
    Offset(i64),
    Timestamp(i64),
}

#[derive(Debug, Clone)]
pub struct Query {
    pub partition: Option<i32>,
    pub from: Start,
    pub limit: usize,
    pub format: Format,
    pub search: Option<String>,
    pub max_scan_bytes: u64,
}

fn num<T: std::str::FromStr + PartialOrd>(
    req: &Request,
    name: &str,
    min: T,
    max: T,
) -> Result<Option<T>, ApiError> {
    let Some(v) = req.param(name) else {
        return Ok(None);
    };
    match v.trim().parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(Some(n)),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be a whole number in range, not {v:?}"
        ))),
    }
}

impl Query {
    /// The query string of `GET /api/topics/NAME/messages`: `partition`, `from`
    /// (`newest` | `oldest` | `offset` | `timestamp`), `offset`, `timestamp` (ms), `limit`,
    /// `format` (`auto` | `text` | `json` | `hex`), `search`, `max_scan_bytes`.
    pub fn parse(req: &Request) -> Result<Query, ApiError> {
        let partition = num(req, "partition", 0, i32::MAX)?;
        let from = match req.param("from").unwrap_or("newest") {
            "newest" => Start::Newest,
            "oldest" => Start::Oldest,
            "offset" => Start::Offset(
                num(req, "offset", 0, i64::MAX)?
                    .ok_or_else(|| ApiError::bad_request("from=offset needs offset"))?,
            ),
            "timestamp" => Start::Timestamp(
                num(req, "timestamp", 0, i64::MAX)?
                    .ok_or_else(|| ApiError::bad_request("from=timestamp needs timestamp (ms)"))?,
            ),
            other => {
                return Err(ApiError::bad_request(format!(
                    "from must be newest, oldest, offset or timestamp, not {other:?}"
                )))
            }
        };
        let limit = num(req, "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let format = match req.param("format") {
            None => Format::Auto,
            Some(f) => Format::parse(f).ok_or_else(|| {
                ApiError::bad_request(format!("format must be auto, text, json or hex, not {f:?}"))
            })?,
        };
        let search = match req.param("search") {
            None | Some("") => None,
            Some(s) if s.len() > MAX_SEARCH => {
                return Err(ApiError::bad_request(format!(
                    "search is longer than {MAX_SEARCH} bytes"
                )))
            }
            Some(s) => Some(s.to_string()),
        };
        let max_scan_bytes =
            num(req, "max_scan_bytes", 1, MAX_SCAN_BYTES)?.unwrap_or(DEFAULT_SCAN_BYTES);
        Ok(Query {
            partition,
            from,
            limit,
            format,
            search,
            max_scan_bytes,
        })
    }
}

/// One partition's progress through its window `[next, until)`.
struct Cursor {
    partition: i32,
    log_start: i64,
    log_end: i64,
    /// Where this page started reading.
    first: i64,
    next: i64,
    until: i64,
    records: Vec<Record>,
    done: bool,
    error: Option<String>,
}

/// One Fetch of one partition from `offset`: the records at or after it and the offset
/// after the last batch read (`offset` itself when nothing came), and the bytes fetched.
async fn fetch_once(
    ctx: &Ctx,
    topic: &str,
    partition: i32,
    offset: i64,
    max_bytes: i32,
) -> Result<(Vec<Record>, i64, usize), String> {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(max_bytes)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(offset)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(max_bytes)])]);
    let resp = ctx.call(12, req).await.map_err(|e| e.message)?;
    if resp.error_code != 0 {
        return Err(error_name(resp.error_code));
    }
    let pd = resp
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or("Fetch answered without the partition")?;
    if pd.error_code != 0 {
        return Err(error_name(pd.error_code));
    }
    let bytes = pd.records.unwrap_or_default();
    let (records, next) = decode_batches(&bytes, offset)?;
    Ok((records, next, bytes.len()))
}

/// The records at or after `from` in fetched bytes (control records skipped) and the offset
/// after the last whole batch; a batch cut at the end of the bytes is left for the next fetch.
fn decode_batches(bytes: &Bytes, from: i64) -> Result<(Vec<Record>, i64), String> {
    let mut out = Vec::new();
    let mut next = from;
    let mut it = BatchIter::new(bytes);
    loop {
        let pos = it.position();
        match it.next() {
            None | Some(Err(BatchError::Truncated)) => break,
            Some(Err(e)) => {
                if out.is_empty() && next == from {
                    return Err(format!("cannot read the batch at offset {from}: {e}"));
                }
                break;
            }
            Some(Ok((h, raw))) => {
                next = next.max(h.last_offset() + 1);
                if h.is_control() {
                    continue;
                }
                let mut b = bytes.slice(pos..pos + raw.len());
                let set = RecordBatchDecoder::decode(&mut b)
                    .map_err(|e| format!("cannot decode the batch at {}: {e}", h.base_offset))?;
                out.extend(
                    set.records
                        .into_iter()
                        .filter(|r| r.offset >= from && !r.control),
                );
            }
        }
    }
    Ok((out, next))
}

fn contains(r: &Record, needle: &[u8]) -> bool {
    let has = |b: &Option<Bytes>| {
        b.as_ref()
            .is_some_and(|b| b.windows(needle.len()).any(|w| w == needle))
    };
    has(&r.key) || has(&r.value)
}

/// The partitions to read, with their log start and end offsets.
async fn open_cursors(ctx: &Ctx, topic: &str, q: &Query) -> Result<Vec<Cursor>, ApiError> {
    let md = metadata(ctx, Some(&[topic])).await?;
    let t = md
        .topics
        .first()
        .ok_or_else(|| ApiError::new(500, "INTERNAL", "Metadata answered no topic"))?;
    check(t.error_code, None, &format!("topic {topic}"))?;
    let mut ids: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
    ids.sort_unstable();
    if let Some(p) = q.partition {
        if !ids.contains(&p) {
            return Err(ApiError::kafka(3, None, &format!("partition {topic}-{p}")));
        }
        ids = vec![p];
    }
    let parts: Vec<(String, i32)> = ids.iter().map(|p| (topic.to_string(), *p)).collect();
    let starts = list_offsets(ctx, &parts, EARLIEST).await?;
    let ends = list_offsets(ctx, &parts, LATEST).await?;
    let at_time = match q.from {
        Start::Timestamp(ts) => Some(list_offsets(ctx, &parts, ts).await?),
        _ => None,
    };
    let mut out = Vec::new();
    for key in parts {
        let mut c = Cursor {
            partition: key.1,
            log_start: 0,
            log_end: 0,
            first: 0,
            next: 0,
            until: 0,
            records: Vec::new(),
            done: false,
            error: None,
        };
        match (starts.get(&key), ends.get(&key)) {
            (Some(Ok((s, _))), Some(Ok((e, _)))) => {
                c.log_start = *s;
                c.log_end = *e;
            }
            (Some(Err(code)), _) | (_, Some(Err(code))) => {
                c.error = Some(error_name(*code));
                c.done = true;
            }
            _ => {
                c.error = Some("no offsets".into());
                c.done = true;
            }
        }
        let window = if q.search.is_some() {
            SEARCH_WINDOW
        } else {
            q.limit as i64
        };
        c.first = match q.from {
            Start::Oldest => c.log_start,
            Start::Newest => (c.log_end - window).max(c.log_start),
            Start::Offset(o) => o.clamp(c.log_start, c.log_end),
            Start::Timestamp(_) => match at_time.as_ref().and_then(|m| m.get(&key)) {
                // No record at or after the time: the log end.
                Some(Ok((o, _))) if *o >= 0 => (*o).clamp(c.log_start, c.log_end),
                _ => c.log_end,
            },
        };
        c.next = c.first;
        c.until = c.log_end;
        c.done |= c.next >= c.until;
        out.push(c);
    }
    Ok(out)
}

/// Scan state shared by the partitions of one page.
struct Scan<'a> {
    ctx: &'a Ctx,
    topic: &'a str,
    q: &'a Query,
    scanned: u64,
    found: usize,
}

impl Scan<'_> {
    fn budget_left(&self) -> bool {
        self.q.search.is_none() || self.scanned < self.q.max_scan_bytes
    }

    /// One fetch for cursor `c` (marked done when it can make no more progress).
    async fn step(&mut self, c: &mut Cursor) {
        let want = match &self.q.search {
            Some(_) => (self.q.max_scan_bytes - self.scanned.min(self.q.max_scan_bytes))
                .min(FETCH_BYTES as u64) as i32,
            None => FETCH_BYTES,
        }
        .max(1);
        match fetch_once(self.ctx, self.topic, c.partition, c.next, want).await {
            Err(e) => {
                c.error = Some(e);
                c.done = true;
            }
            Ok((records, next, n)) => {
                self.scanned += n as u64;
                let newest_search = self.q.from == Start::Newest && self.q.search.is_some();
                let mut next = next;
                for r in records.into_iter().filter(|r| r.offset < c.until) {
                    let room = match (&self.q.search, newest_search) {
                        // Browsing: up to a page from each partition, merged after.
                        (None, _) => c.records.len() < self.q.limit,
                        // A newest-first search reads a whole window before stopping (its
                        // newest matches are at the window's end).
                        (Some(_), true) => true,
                        (Some(_), false) => self.found < self.q.limit,
                    };
                    if !room {
                        // The page is full: the next page starts at this record.
                        next = r.offset;
                        c.done = true;
                        break;
                    }
                    let keep = match &self.q.search {
                        Some(s) => contains(&r, s.as_bytes()),
                        None => true,
                    };
                    if keep {
                        c.records.push(r);
                        self.found += 1;
                    }
                }
                if next <= c.next {
                    // Nothing whole came back: the end of what can be read now.
                    c.done = true;
                } else {
                    c.next = next;
                }
                if c.next >= c.until {
                    c.done = true;
                }
            }
        }
        if self.q.search.is_some() && self.q.from == Start::Newest && c.done && c.error.is_none() {
            // Slide the window back, unless enough matches are in hand.
            let window_start = c.first;
            if self.found < self.q.limit && window_start > c.log_start {
                c.until = window_start;
                c.first = (window_start - SEARCH_WINDOW).max(c.log_start);
                c.next = c.first;
                c.done = false;
            }
        }
    }
}

fn timestamp_type(t: TimestampType) -> &'static str {
    match t {
        TimestampType::Creation => "CreateTime",
        TimestampType::LogAppend => "LogAppendTime",
    }
}

/// The schemas the framed fields of `records` may name, from the registry (one read).
async fn schemas_of(ctx: &Ctx, records: &[(i32, Record)]) -> Schemas {
    let mut ids = HashSet::new();
    for (_, r) in records {
        for f in [&r.key, &r.value] {
            if let Some((id, _)) = f.as_deref().and_then(unframe_id) {
                ids.insert(id);
            }
        }
    }
    if ids.is_empty() {
        return Schemas::new();
    }
    ctx.registry
        .read(|s| {
            ids.iter()
                .filter_map(|id| {
                    let v = s.by_id(*id)?;
                    Some((
                        *id,
                        SchemaInfo {
                            subject: v.subject.clone(),
                            version: v.version,
                            schema_type: v.schema_type,
                            data: DataSchema::of(s, v).map(Arc::new),
                        },
                    ))
                })
                .collect()
        })
        .await
}

fn record_json(partition: i32, r: &Record, format: Format, schemas: &Schemas) -> Value {
    let field = |b: &Option<Bytes>| match b {
        Some(b) => show(b, format, schemas),
        None => Value::Null,
    };
    let headers: Vec<Value> = r
        .headers
        .iter()
        .take(MAX_HEADERS)
        .map(|(k, v)| json!({ "key": k.as_str(), "value": field(v) }))
        .collect();
    json!({
        "partition": partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "timestamp_type": timestamp_type(r.timestamp_type),
        "key": field(&r.key),
        "value": field(&r.value),
        "headers": headers,
        "headers_total": r.headers.len(),
        "transactional": r.transactional,
    })
}

/// `GET /api/topics/NAME/messages`.
pub async fn browse(ctx: &Ctx, topic: &str, q: &Query) -> Result<Value, ApiError> {
    non_empty(topic, "the topic name")?;
    let mut cursors = open_cursors(ctx, topic, q).await?;
    let mut scan = Scan {
        ctx,
        topic,
        q,
        scanned: 0,
        found: 0,
    };
    // Round robin, one fetch per partition per turn, so every partition gets its share of
    // a search's byte budget.
    loop {
        let enough = q.search.is_some() && q.from != Start::Newest && scan.found >= q.limit;
        if enough || !scan.budget_left() || cursors.iter().all(|c| c.done) {
            break;
        }
        for c in cursors.iter_mut().filter(|c| !c.done) {
            if !scan.budget_left() {
                break;
            }
            scan.step(c).await;
        }
    }
    let mut records: Vec<(i32, Record)> = Vec::new();
    for c in cursors.iter_mut() {
        records.extend(c.records.drain(..).map(|r| (c.partition, r)));
    }
    if q.from == Start::Newest {
        records.sort_by(|a, b| {
            (b.1.timestamp, b.1.offset, b.0).cmp(&(a.1.timestamp, a.1.offset, a.0))
        });
    } else if q.partition.is_none() {
        records.sort_by_key(|(p, r)| (r.timestamp, *p, r.offset));
    }
    records.truncate(q.limit);
    let schemas = schemas_of(ctx, &records).await;
    let messages: Vec<Value> = records
        .iter()
        .map(|(p, r)| record_json(*p, r, q.format, &schemas))
        .collect();
    // Every partition read to the end of its range (or its error), or the page full.
    let complete = cursors.iter().all(|c| c.done);
    let partitions: Vec<Value> = cursors
        .iter()
        .map(|c| {
            json!({
                "partition": c.partition,
                "log_start_offset": c.log_start,
                "log_end_offset": c.log_end,
                "first_offset": c.first,
                "next_offset": c.next,
                "error": c.error,
            })
        })
        .collect();
    Ok(json!({
        "topic": topic,
        "messages": messages,
        "partitions": partitions,
        "search": q.search,
        "scan": {
            "bytes": scan.scanned,
            "max_bytes": q.search.as_ref().map(|_| q.max_scan_bytes),
            "complete": complete,
            "limit_reached": scan.found >= q.limit,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{Compression, RecordBatchEncoder, RecordEncodeOptions};

    fn batch(base: i64, n: i64) -> Bytes {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: base + i,
                // One batch: the encoder splits where offset - sequence changes.
                sequence: (base + i) as i32 - 1,
                timestamp: 1000 + i,
                key: Some(Bytes::from(format!("k{}", base + i))),
                value: Some(Bytes::from(format!("v{}", base + i))),
                headers: Default::default(),
                delete_horizon: false,
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        buf.freeze()
    }

    #[test]
    fn batches_decode_from_an_offset_and_a_cut_batch_waits() {
        let mut all = BytesMut::new();
        all.extend_from_slice(&batch(0, 3));
        all.extend_from_slice(&batch(3, 2));
        let all = all.freeze();
        let (rs, next) = decode_batches(&all, 1).unwrap();
        assert_eq!(
            rs.iter().map(|r| r.offset).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(next, 5);
        let cut = all.slice(..all.len() - 3);
        let (rs, next) = decode_batches(&cut, 0).unwrap();
        assert_eq!((rs.len(), next), (3, 3));
        assert!(contains(&rs[2], b"v2") && !contains(&rs[2], b"v3"));
        let (rs, next) = decode_batches(&Bytes::new(), 7).unwrap();
        assert_eq!((rs.len(), next), (0, 7));
    }
}
