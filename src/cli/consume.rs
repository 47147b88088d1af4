//! `skua consume TOPIC`: fetch records from each partition's leader and write them to stdout,
//! one per line (`--format`, or JSON lines with `--output json`). Stops after `--max-messages`,
//! after `--timeout-ms` without records, at the end of the log with `--exit-at-end`, or on
//! Ctrl-C. With `--group`, starts from the group's committed offsets and commits its progress
//! (simple commits: no group membership). Reads uncommitted data and skips control records.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::{Buf, Bytes};
use clap::Args;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest};
use kafka_protocol::records::{Record, RecordBatchDecoder};
use kafka_protocol::ResponseError;

use super::client::{check, topic_name, Cluster};
use super::group::{commit, fetch_committed};
use super::output::Json;
use super::topic::{list_offsets, partitions, PartitionInfo, EARLIEST, LATEST};
use super::{Common, Output};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    pub topic: String,
    /// Start at the log start (default: the log end), when the group has no commit.
    #[arg(long)]
    pub from_beginning: bool,
    /// Read only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Exit after this many records.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Exit after this long without a record.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Exit once every partition is read up to its end.
    #[arg(long)]
    pub exit_at_end: bool,
    /// Start from this group's committed offsets and commit progress (simple commits).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Line format: %t topic, %p partition, %o offset, %T timestamp, %k key, %v value,
    /// %h headers (k=v,k=v), %% a percent sign; \n and \t escapes.
    #[arg(long, default_value = "%v")]
    pub format: String,
    #[command(flatten)]
    pub common: Common,
}

/// Why the consume loop stopped.
enum Stop {
    Running,
    Done,
    PipeClosed,
}

struct Consumer {
    args: ConsumeArgs,
    cluster: Cluster,
    parts: Vec<PartitionInfo>,
    position: BTreeMap<i32, i64>,
    high_watermark: HashMap<i32, i64>,
    out: std::io::BufWriter<std::io::Stdout>,
    count: u64,
}

pub fn consume(a: ConsumeArgs) -> Result<()> {
    let interrupted = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(interrupted.clone());
    let mut cluster = a.common.connect()?;
    let mut parts = partitions(&mut cluster, &a.topic)?;
    if let Some(p) = a.partition {
        parts.retain(|x| x.partition == p);
        if parts.is_empty() {
            bail!("topic {} has no partition {p}", a.topic);
        }
    }
    let ids: Vec<i32> = parts.iter().map(|p| p.partition).collect();
    let reset = if a.from_beginning { EARLIEST } else { LATEST };
    let defaults = list_offsets(&mut cluster, &a.topic, &parts, reset)?;
    let committed = match &a.group {
        Some(g) => fetch_committed(&mut cluster, g, Some((&a.topic, &ids)))?,
        None => BTreeMap::new(),
    };
    let position = ids
        .iter()
        .map(|&p| {
            let start = committed
                .get(&(a.topic.clone(), p))
                .or_else(|| defaults.get(&p))
                .copied()
                .unwrap_or(0);
            (p, start)
        })
        .collect();
    let mut c = Consumer {
        args: a,
        cluster,
        parts,
        position,
        high_watermark: HashMap::new(),
        out: std::io::BufWriter::new(std::io::stdout()),
        count: 0,
    };
    let started = Instant::now();
    let result = c.run(&interrupted);
    let committed = c.commit_progress();
    result?;
    committed?;
    eprintln!(
        "consumed {} records from {} in {:.3}s",
        c.count,
        c.args.topic,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Set `flag` on Ctrl-C (a tokio signal listener on its own thread; no unsafe code).
fn watch_ctrl_c(flag: Arc<AtomicBool>) {
    let _ = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    flag.store(true, Ordering::SeqCst);
                }
            });
        });
}

impl Consumer {
    fn run(&mut self, interrupted: &AtomicBool) -> Result<()> {
        let mut last_record = Instant::now();
        loop {
            if interrupted.load(Ordering::SeqCst) || self.reached_max() {
                return Ok(());
            }
            let before = self.count;
            match self.fetch_round()? {
                Stop::Running => {}
                Stop::Done | Stop::PipeClosed => return Ok(()),
            }
            if let Err(e) = self.out.flush() {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(e.into());
            }
            if self.count > before {
                last_record = Instant::now();
                self.commit_progress()?;
            }
            if self.args.exit_at_end && self.at_end() {
                return Ok(());
            }
            if let Some(ms) = self.args.timeout_ms {
                if last_record.elapsed() >= Duration::from_millis(ms) {
                    return Ok(());
                }
            }
        }
    }

    fn reached_max(&self) -> bool {
        self.args.max_messages.is_some_and(|m| self.count >= m)
    }

    fn at_end(&self) -> bool {
        self.position
            .iter()
            .all(|(p, pos)| self.high_watermark.get(p).is_some_and(|&hw| *pos >= hw))
    }

    fn commit_progress(&mut self) -> Result<()> {
        match &self.args.group {
            Some(g) => commit(&mut self.cluster, g, &self.args.topic, &self.position),
            None => Ok(()),
        }
    }

    /// One Fetch to each leader; writes the records it gets.
    fn fetch_round(&mut self) -> Result<Stop> {
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in &self.parts {
            by_leader.entry(p.leader).or_default().push(p.partition);
        }
        // Fewer leaders wait less each: at most ~500 ms per round in total.
        let wait = (500 / by_leader.len().max(1)) as i32;
        for (leader, ps) in by_leader {
            let conn = self.cluster.node(leader)?;
            let v = conn.version::<FetchRequest>(4, 12)?;
            let mut t = FetchTopic::default();
            t.topic = topic_name(&self.args.topic);
            t.partitions = ps
                .iter()
                .map(|&p| {
                    let mut fp = FetchPartition::default();
                    fp.partition = p;
                    fp.fetch_offset = self.position.get(&p).copied().unwrap_or(0);
                    fp.current_leader_epoch = -1;
                    fp.last_fetched_epoch = -1;
                    fp.log_start_offset = -1;
                    fp.partition_max_bytes = 1 << 20;
                    fp
                })
                .collect();
            let mut req = FetchRequest::default();
            req.replica_id = BrokerId(-1);
            req.max_wait_ms = wait;
            req.min_bytes = 1;
            req.max_bytes = 32 << 20;
            req.isolation_level = 0;
            req.session_id = 0;
            req.session_epoch = -1;
            req.topics = vec![t];
            let resp = conn.call(v, &req)?;
            check(resp.error_code, None, "fetch")?;
            for t in resp.responses {
                for p in t.partitions {
                    let part = p.partition_index;
                    if p.error_code == ResponseError::OffsetOutOfRange.code() {
                        self.reset_position(part)?;
                        continue;
                    }
                    check(
                        p.error_code,
                        None,
                        &format!("fetch {}-{part}", self.args.topic),
                    )?;
                    self.high_watermark.insert(part, p.high_watermark);
                    if let Some(records) = p.records {
                        match self.write_records(part, records)? {
                            Stop::Running => {}
                            stop => return Ok(stop),
                        }
                    }
                }
            }
        }
        Ok(Stop::Running)
    }

    fn reset_position(&mut self, partition: i32) -> Result<()> {
        let reset = if self.args.from_beginning {
            EARLIEST
        } else {
            LATEST
        };
        let parts: Vec<PartitionInfo> = self
            .parts
            .iter()
            .filter(|p| p.partition == partition)
            .cloned()
            .collect();
        let offsets = list_offsets(&mut self.cluster, &self.args.topic, &parts, reset)?;
        if let Some(&o) = offsets.get(&partition) {
            eprintln!(
                "offset out of range on {}-{partition}: moving to {o}",
                self.args.topic
            );
            self.position.insert(partition, o);
        }
        Ok(())
    }

    /// Decode the complete v2 batches in `records` (a fetch may end in a partial batch) and
    /// print the records at or after the partition's position.
    fn write_records(&mut self, partition: i32, mut records: Bytes) -> Result<Stop> {
        while records.len() >= 17 {
            let base_offset = i64::from_be_bytes(slice8(&records));
            let len = i32::from_be_bytes([records[8], records[9], records[10], records[11]]);
            let Ok(len) = usize::try_from(len) else {
                bail!("bad batch length {len} in fetch response");
            };
            if records.len() < 12 + len {
                break; // partial batch at the end of the response
            }
            let magic = records[16];
            if magic != 2 {
                bail!("message format v{magic} is not supported (only v2 record batches)");
            }
            let mut batch = records.split_to(12 + len);
            let last_offset = if batch.len() >= 27 {
                base_offset
                    + i64::from(i32::from_be_bytes([
                        batch[23], batch[24], batch[25], batch[26],
                    ]))
            } else {
                base_offset
            };
            let set = RecordBatchDecoder::decode(&mut batch)
                .map_err(|e| anyhow::anyhow!("cannot decode record batch: {e}"))?;
            let from = self.position.get(&partition).copied().unwrap_or(0);
            for r in set.records {
                if r.offset < from {
                    continue;
                }
                if !r.control {
                    if self.reached_max() {
                        return Ok(Stop::Done);
                    }
                    if let Err(e) = self.write_record(partition, &r) {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            return Ok(Stop::PipeClosed);
                        }
                        return Err(e.into());
                    }
                    self.count += 1;
                }
                self.position.insert(partition, r.offset + 1);
            }
            // Compaction may remove a batch's last records: continue after the batch.
            let pos = self.position.entry(partition).or_insert(0);
            *pos = (*pos).max(last_offset + 1);
            if self.reached_max() {
                return Ok(Stop::Done);
            }
        }
        Ok(Stop::Running)
    }

    fn write_record(&mut self, partition: i32, r: &Record) -> std::io::Result<()> {
        let line = match self.args.common.output {
            Output::Json => record_json(&self.args.topic, partition, r).render(),
            Output::Table => format_record(&self.args.format, &self.args.topic, partition, r),
        };
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }
}

fn slice8(b: &Bytes) -> [u8; 8] {
    let mut a = [0u8; 8];
    let mut c = b.slice(0..8);
    c.copy_to_slice(&mut a);
    a
}

fn record_json(topic: &str, partition: i32, r: &Record) -> Json {
    let headers = r
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), Json::bytes(v.as_deref())))
        .collect();
    Json::obj(vec![
        ("topic", Json::str(topic)),
        ("partition", Json::Int(partition.into())),
        ("offset", Json::Int(r.offset)),
        ("timestamp", Json::Int(r.timestamp)),
        ("key", Json::bytes(r.key.as_deref())),
        ("value", Json::bytes(r.value.as_deref())),
        ("headers", Json::Obj(headers)),
    ])
}

/// Expand a `--format` string for one record.
pub fn format_record(fmt: &str, topic: &str, partition: i32, r: &Record) -> String {
    let text = |b: Option<&Bytes>| {
        b.map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('%', Some(n)) => {
                chars.next();
                match n {
                    't' => out.push_str(topic),
                    'p' => out.push_str(&partition.to_string()),
                    'o' => out.push_str(&r.offset.to_string()),
                    'T' => out.push_str(&r.timestamp.to_string()),
                    'k' => out.push_str(&text(r.key.as_ref())),
                    'v' => out.push_str(&text(r.value.as_ref())),
                    'h' => {
                        let hs: Vec<String> = r
                            .headers
                            .iter()
                            .map(|(k, v)| format!("{}={}", k.as_str(), text(v.as_ref())))
                            .collect();
                        out.push_str(&hs.join(","));
                    }
                    '%' => out.push('%'),
                    other => {
                        out.push('%');
                        out.push(other);
                    }
                }
            }
            ('\\', Some('n')) => {
                chars.next();
                out.push('\n');
            }
            ('\\', Some('t')) => {
                chars.next();
                out.push('\t');
            }
            (c, _) => out.push(c),
        }
    }
    out
}
