//! Many-partitions driver for skua (or any Kafka-compatible broker), used by
//! bench/partitions.sh: librdkafka through the `rdkafka` crate for what clients do (CreateTopics
//! batches, Metadata, produce, consume), plus skua's small blocking client (`skua::cli::client`)
//! where a raw figure is wanted (the Metadata response's size, readiness polling without
//! librdkafka's reconnect back-off).
//!
//! Modes:
//! * `create` — create `--topics` topics named `<prefix>-<i>` of `--partitions-per-topic`
//!   partitions, `--batch` NewTopics per CreateTopics request (as AdminClient users batch them),
//!   then wait until a Metadata answer lists every partition with a leader.
//! * `delete` — DeleteTopics for every topic whose name starts with `--prefix`.
//! * `metadata` — Metadata for all topics: `--repeat` times with librdkafka's
//!   `fetch_metadata(None)` (median, min, max) and once raw (time and response size).
//! * `wait-ready` — poll (raw client) until the broker answers a Metadata request listing at
//!   least `--expect-topics` topics with `--expect-partitions` partitions, all with a leader;
//!   prints the time since `--since-unix-ms` (the script's process start).
//! * `produce` — records round robin over every partition of the topics starting with
//!   `--prefix` (explicit partitions, keyed), until `--max-bytes`, then flush.
//! * `fetch-raw` — what the broker's fetch path does without librdkafka (whose consumer is
//!   CPU-bound at 100,000 partitions): Fetch v12 from offset 0 of every partition of those
//!   topics with an incremental fetch session (KIP-227, as the Java consumer does), 50 MB per
//!   response and 1 MB per partition, until `--expect-records` records were read.
//! * `consume` — assign every partition of those topics from `--start` (`earliest`, or an
//!   offset; no group) and read `--expect-records` records.
//!
//! Human-readable lines go to stderr; exactly one JSON object (starting `{"bench":`) to stdout.
//! MB = 10^6 bytes. Every mode has a deadline (`--timeout-secs`) and fails rather than hangs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::Encodable;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use skua::cli::client::Conn;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Create,
    Delete,
    Metadata,
    WaitReady,
    Produce,
    Consume,
    FetchRaw,
}

#[derive(Parser, Debug)]
#[command(about = "Many-partitions benchmark driver (librdkafka) for skua")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Topic name prefix (topics are `<prefix>-<i>`).
    #[arg(long, default_value = "parts")]
    prefix: String,
    /// create: number of topics.
    #[arg(long, default_value_t = 10)]
    topics: usize,
    /// create: partitions of each topic.
    #[arg(long, default_value_t = 100)]
    partitions_per_topic: i32,
    /// create: NewTopics per CreateTopics request.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    /// create: a topic config NAME=VALUE (repeatable).
    #[arg(long = "config", value_name = "NAME=VALUE")]
    configs: Vec<String>,
    /// metadata: librdkafka fetch_metadata(None) calls.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// wait-ready: topics (at least) the answer must list.
    #[arg(long, default_value_t = 0)]
    expect_topics: usize,
    /// wait-ready: partitions (at least) the answer must list, all with a leader.
    #[arg(long, default_value_t = 0)]
    expect_partitions: usize,
    /// wait-ready: the time (ms since the epoch) the measured interval starts at.
    #[arg(long)]
    since_unix_ms: Option<u64>,
    /// produce: payload bytes to send (suffixes k, M, G = powers of 10).
    #[arg(long, value_parser = parse_size, default_value = "200M")]
    max_bytes: u64,
    /// produce: record value size.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// produce: acks (1 or all).
    #[arg(long, default_value = "1")]
    acks: String,
    /// produce: linger.ms.
    #[arg(long, default_value_t = 5)]
    linger_ms: u32,
    /// consume: records to read.
    #[arg(long, default_value_t = 0)]
    expect_records: u64,
    /// consume: where each partition starts, `earliest` or an offset.
    #[arg(long, default_value = "earliest")]
    start: String,
    /// Deadline of the whole mode, seconds.
    #[arg(long, default_value_t = 600.0)]
    timeout_secs: f64,
    /// A label copied into the JSON line.
    #[arg(long, default_value = "")]
    label: String,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|e| format!("{s}: {e}"))?;
    let mult: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "k" | "K" | "kB" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        u => return Err(format!("unknown size unit {u:?}")),
    };
    Ok((n * mult) as u64)
}

/// A JSON object built by hand (the crate has no serde_json dev-dependency of its own).
#[derive(Default)]
struct Json(String);

impl Json {
    fn raw(&mut self, k: &str, v: &str) -> &mut Self {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        let _ = write!(self.0, "\"{k}\":{v}");
        self
    }
    fn str(&mut self, k: &str, v: &str) -> &mut Self {
        let v: String = v
            .chars()
            .map(|c| {
                if c == '"' || c == '\\' || c < ' ' {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        self.raw(k, &format!("\"{v}\""))
    }
    fn num(&mut self, k: &str, v: f64) -> &mut Self {
        if v.is_finite() {
            self.raw(k, &format!("{}", (v * 1e4).round() / 1e4))
        } else {
            self.raw(k, "null")
        }
    }
    fn int(&mut self, k: &str, v: u64) -> &mut Self {
        self.raw(k, &v.to_string())
    }
    fn print(&self, args: &Args, mode: &str) {
        println!(
            "{{\"bench\":\"partitions\",\"mode\":\"{mode}\",\"label\":\"{}\",{}}}",
            args.label, self.0
        );
    }
}

fn base_config(args: &Args) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &args.brokers)
        .set("client.id", "skua-partitions-bench")
        .set_log_level(RDKafkaLogLevel::Warning);
    c
}

fn deadline(args: &Args) -> Instant {
    Instant::now() + Duration::from_secs_f64(args.timeout_secs)
}

fn left(deadline: Instant) -> anyhow::Result<Duration> {
    let d = deadline.saturating_duration_since(Instant::now());
    anyhow::ensure!(!d.is_zero(), "timed out");
    Ok(d)
}

/// (topics, partitions, partitions with a leader) of the topics starting with `prefix`.
fn count(md: &Metadata, prefix: &str) -> (usize, usize, usize) {
    let mut t = 0;
    let (mut p, mut led) = (0, 0);
    for topic in md.topics().iter().filter(|t| t.name().starts_with(prefix)) {
        if topic.error().is_some() {
            continue;
        }
        t += 1;
        p += topic.partitions().len();
        led += topic
            .partitions()
            .iter()
            .filter(|p| p.leader() >= 0 && p.error().is_none())
            .count();
    }
    (t, p, led)
}

fn topic_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:05}")
}

fn run_create(args: &Args) -> anyhow::Result<()> {
    let end = deadline(args);
    let admin: AdminClient<DefaultClientContext> = base_config(args).create()?;
    let mut configs = Vec::new();
    for c in &args.configs {
        let (k, v) = c
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--config wants NAME=VALUE, got {c:?}"))?;
        configs.push((k.to_string(), v.to_string()));
    }
    let names: Vec<String> = (0..args.topics)
        .map(|i| topic_name(&args.prefix, i))
        .collect();
    let start = Instant::now();
    let mut request_ms: Vec<f64> = Vec::new();
    let mut timed_out = 0u64;
    for chunk in names.chunks(args.batch.max(1)) {
        let topics: Vec<NewTopic<'_>> = chunk
            .iter()
            .map(|n| {
                let mut t = NewTopic::new(n, args.partitions_per_topic, TopicReplication::Fixed(1));
                for (k, v) in &configs {
                    t = t.set(k, v);
                }
                t
            })
            .collect();
        let opts = AdminOptions::new()
            .operation_timeout(Some(left(end)?))
            .request_timeout(Some(left(end)?));
        let t0 = Instant::now();
        let res = futures::executor::block_on(admin.create_topics(&topics, &opts))?;
        request_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        for r in res {
            match r {
                Ok(_) => {}
                // Kafka's meaning: not finished within the request's timeout, still going on;
                // the wait for every partition below tells when it is done.
                Err((t, RDKafkaErrorCode::RequestTimedOut)) => {
                    timed_out += 1;
                    if timed_out <= 3 {
                        eprintln!("  CreateTopics {t}: REQUEST_TIMED_OUT (creation goes on)");
                    }
                }
                Err((t, e)) => anyhow::bail!("CreateTopics {t}: {e}"),
            }
        }
    }
    let created_s = start.elapsed().as_secs_f64();
    let want = args.topics * args.partitions_per_topic as usize;
    loop {
        let md = admin
            .inner()
            .fetch_metadata(None, left(end)?.min(Duration::from_secs(60)))?;
        let (t, p, led) = count(&md, &args.prefix);
        if t >= args.topics && p >= want && led >= want {
            break;
        }
        eprintln!("  metadata lists {t} topics, {p} partitions, {led} with a leader; waiting");
        left(end)?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let ready_s = start.elapsed().as_secs_f64();
    request_ms.sort_by(f64::total_cmp);
    let median = request_ms.get(request_ms.len() / 2).copied().unwrap_or(0.0);
    let max = request_ms.last().copied().unwrap_or(0.0);
    eprintln!(
        "create: {} topics x {} partitions in {} requests: answered in {created_s:.2} s, all led in {ready_s:.2} s (request median {median:.0} ms, max {max:.0} ms; {timed_out} topics answered REQUEST_TIMED_OUT)",
        args.topics,
        args.partitions_per_topic,
        request_ms.len()
    );
    let mut j = Json::default();
    j.int("topics", args.topics as u64)
        .int("partitions_per_topic", args.partitions_per_topic as u64)
        .int("partitions", want as u64)
        .int("requests", request_ms.len() as u64)
        .num("create_s", created_s)
        .num("ready_s", ready_s)
        .num("request_median_ms", median)
        .num("request_max_ms", max)
        .int("timed_out_topics", timed_out);
    j.print(args, "create");
    Ok(())
}

fn run_delete(args: &Args) -> anyhow::Result<()> {
    let end = deadline(args);
    let admin: AdminClient<DefaultClientContext> = base_config(args).create()?;
    let md = admin
        .inner()
        .fetch_metadata(None, left(end)?.min(Duration::from_secs(60)))?;
    let names: Vec<String> = md
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|n| n.starts_with(&args.prefix))
        .collect();
    let start = Instant::now();
    for chunk in names.chunks(args.batch.max(1)) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let opts = AdminOptions::new()
            .operation_timeout(Some(left(end)?))
            .request_timeout(Some(left(end)?));
        for r in futures::executor::block_on(admin.delete_topics(&refs, &opts))? {
            if let Err((t, e)) = r {
                anyhow::bail!("DeleteTopics {t}: {e}");
            }
        }
    }
    let deleted_s = start.elapsed().as_secs_f64();
    eprintln!("delete: {} topics in {deleted_s:.2} s", names.len());
    let mut j = Json::default();
    j.int("topics", names.len() as u64)
        .num("delete_s", deleted_s);
    j.print(args, "delete");
    Ok(())
}

/// One raw Metadata request for all topics: (seconds, response body bytes, the response).
fn raw_metadata(args: &Args, timeout: Duration) -> anyhow::Result<(f64, usize, MetadataResponse)> {
    let mut conn = Conn::connect(&args.brokers, timeout)?;
    let version = conn.version::<MetadataRequest>(1, 12)?;
    let req = MetadataRequest::default().with_topics(None); // None: all topics (v1+)
    let t0 = Instant::now();
    let resp = conn.call(version, &req)?;
    let secs = t0.elapsed().as_secs_f64();
    let size = resp.compute_size(version)?;
    Ok((secs, size, resp))
}

fn run_metadata(args: &Args) -> anyhow::Result<()> {
    let end = deadline(args);
    let admin: AdminClient<DefaultClientContext> = base_config(args).create()?;
    // Connect first, so the first timing is not a connection set-up.
    admin
        .inner()
        .fetch_metadata(Some("__no_such_topic_probe"), left(end)?)
        .ok();
    let mut ms = Vec::new();
    let (mut topics, mut partitions) = (0, 0);
    for _ in 0..args.repeat.max(1) {
        let t0 = Instant::now();
        let md = admin.inner().fetch_metadata(None, left(end)?)?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        topics = md.topics().len();
        partitions = md.topics().iter().map(|t| t.partitions().len()).sum();
    }
    ms.sort_by(f64::total_cmp);
    let (raw_s, size, _) = raw_metadata(args, left(end)?)?;
    eprintln!(
        "metadata: {topics} topics, {partitions} partitions; librdkafka fetch_metadata(None) median {:.1} ms [{:.1}-{:.1}]; raw request {:.1} ms, {size} bytes",
        ms[ms.len() / 2],
        ms[0],
        ms[ms.len() - 1],
        raw_s * 1e3
    );
    let mut j = Json::default();
    j.int("topics", topics as u64)
        .int("partitions", partitions as u64)
        .num("median_ms", ms[ms.len() / 2])
        .num("min_ms", ms[0])
        .num("max_ms", ms[ms.len() - 1])
        .num("raw_ms", raw_s * 1e3)
        .int("response_bytes", size as u64);
    j.print(args, "metadata");
    Ok(())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn run_wait_ready(args: &Args) -> anyhow::Result<()> {
    let end = deadline(args);
    let since = args.since_unix_ms.unwrap_or_else(unix_ms);
    let mut first_answer_ms: Option<u64> = None;
    let mut last;
    loop {
        match raw_metadata(args, left(end)?.min(Duration::from_secs(30))) {
            Ok((_, size, resp)) => {
                first_answer_ms.get_or_insert_with(|| unix_ms().saturating_sub(since));
                let mut t = 0;
                let (mut p, mut led) = (0, 0);
                for topic in &resp.topics {
                    if topic.error_code != 0
                        || topic.name.as_ref().is_none_or(|n| n.starts_with("__"))
                    {
                        continue;
                    }
                    t += 1;
                    p += topic.partitions.len();
                    led += topic
                        .partitions
                        .iter()
                        .filter(|p| p.leader_id.0 >= 0 && p.error_code == 0)
                        .count();
                }
                if t >= args.expect_topics
                    && p >= args.expect_partitions
                    && led >= args.expect_partitions
                {
                    let ready = unix_ms().saturating_sub(since);
                    eprintln!(
                        "ready: {t} topics, {p} partitions all led, {ready} ms after start (first Metadata answer at {} ms, {size} bytes)",
                        first_answer_ms.unwrap_or(ready)
                    );
                    let mut j = Json::default();
                    j.int("ready_ms", ready)
                        .int("first_answer_ms", first_answer_ms.unwrap_or(ready))
                        .int("topics", t as u64)
                        .int("partitions", p as u64);
                    j.print(args, "wait-ready");
                    return Ok(());
                }
                last = format!("{t} topics, {p} partitions, {led} led");
            }
            Err(e) => last = format!("{e:#}"),
        }
        if Instant::now() >= end {
            anyhow::bail!("not ready after {} s: {last}", args.timeout_secs);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The partitions of the topics starting with `prefix`, by topic name.
fn partitions_of(md: &Metadata, prefix: &str) -> BTreeMap<String, i32> {
    md.topics()
        .iter()
        .filter(|t| t.name().starts_with(prefix) && t.error().is_none())
        .map(|t| (t.name().to_string(), t.partitions().len() as i32))
        .collect()
}

struct Ctx {
    delivered: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = self.first_error.lock() {
                    f.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

/// A pseudo-random (xorshift) pool; record i is a window into it, so payloads do not compress.
fn payload_pool(record_size: usize) -> Vec<u8> {
    let len = (8 << 20) + record_size;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn run_produce(args: &Args) -> anyhow::Result<()> {
    let end = deadline(args);
    let acks = match args.acks.as_str() {
        "1" => "1",
        "all" | "-1" => "all",
        _ => anyhow::bail!("--acks must be 1 or all"),
    };
    let mut cfg = base_config(args);
    cfg.set("acks", acks)
        .set("linger.ms", args.linger_ms.to_string())
        .set("compression.type", "none")
        .set(
            "message.timeout.ms",
            ((args.timeout_secs * 1e3) as u64).to_string(),
        );
    let producer: ThreadedProducer<Ctx> = cfg.create_with_context(Ctx {
        delivered: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: Mutex::new(None),
    })?;
    let md = producer
        .client()
        .fetch_metadata(None, left(end)?.min(Duration::from_secs(120)))?;
    let topics = partitions_of(&md, &args.prefix);
    let targets: Vec<(&str, i32)> = topics
        .iter()
        .flat_map(|(t, n)| (0..*n).map(move |p| (t.as_str(), p)))
        .collect();
    anyhow::ensure!(!targets.is_empty(), "no topic starts with {}", args.prefix);
    let pool = payload_pool(args.record_size);
    let window = pool.len() - args.record_size;
    let start = Instant::now();
    let (mut sent, mut sent_bytes) = (0u64, 0u64);
    while sent_bytes < args.max_bytes {
        let (topic, partition) = targets[(sent % targets.len() as u64) as usize];
        let off = ((sent.wrapping_mul(2_654_435_761)) % window as u64) as usize;
        // Unique keys (per run too): the topics are compacted during the bench, and the
        // consumer must find every record it produced.
        let key = format!("{}-{sent}", args.acks);
        let mut rec = BaseRecord::<str, [u8], ()>::to(topic)
            .partition(partition)
            .key(key.as_str())
            .payload(&pool[off..off + args.record_size]);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    left(end)?;
                    rec = r;
                    std::thread::sleep(Duration::from_micros(500));
                }
                Err((e, _)) => anyhow::bail!("send failed: {e}"),
            }
        }
        sent += 1;
        sent_bytes += args.record_size as u64;
    }
    producer.flush(left(end)?)?;
    let elapsed = start.elapsed().as_secs_f64();
    let c = producer.context();
    let delivered = c.delivered.load(Ordering::Relaxed);
    let errors = c.errors.load(Ordering::Relaxed);
    let bytes = delivered * args.record_size as u64;
    eprintln!(
        "produce acks={acks}: {delivered} records ({:.1} MB) over {} partitions in {elapsed:.2} s, {errors} errors: {:.1} MB/s",
        bytes as f64 / 1e6,
        targets.len(),
        bytes as f64 / 1e6 / elapsed
    );
    if let Ok(f) = c.first_error.lock() {
        if let Some(e) = f.as_ref() {
            eprintln!("  first delivery error: {e}");
        }
    }
    let mut j = Json::default();
    j.str("acks", acks)
        .int("partitions", targets.len() as u64)
        .int("records", delivered)
        .int("bytes", bytes)
        .int("errors", errors)
        .num("elapsed_s", elapsed)
        .num("mb_per_s", bytes as f64 / 1e6 / elapsed)
        .num("records_per_s", delivered as f64 / elapsed);
    j.print(args, "produce");
    anyhow::ensure!(errors == 0, "{errors} records failed");
    Ok(())
}

fn run_consume(args: &Args) -> anyhow::Result<()> {
    let end = deadline(args);
    let mut cfg = base_config(args);
    cfg.set(
        "group.id",
        format!("skua-partitions-bench-{}", std::process::id()),
    )
    .set("enable.auto.commit", "false")
    .set("enable.auto.offset.store", "false")
    .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = cfg.create()?;
    let md = consumer.fetch_metadata(None, left(end)?.min(Duration::from_secs(120)))?;
    let topics = partitions_of(&md, &args.prefix);
    // `earliest` is what a new consumer does: librdkafka then looks the offset up with one
    // ListOffsets request per partition, queued behind its fetches' long polls on the same
    // connection, which dominates with thousands of partitions; an explicit offset skips it.
    let start = match args.start.as_str() {
        "earliest" => Offset::Beginning,
        n => Offset::Offset(
            n.parse()
                .map_err(|_| anyhow::anyhow!("--start: earliest or an offset"))?,
        ),
    };
    let mut tpl = TopicPartitionList::new();
    let mut partitions = 0u64;
    for (t, n) in &topics {
        for p in 0..*n {
            tpl.add_partition_offset(t, p, start)?;
            partitions += 1;
        }
    }
    let start = Instant::now();
    consumer.assign(&tpl)?;
    let (mut records, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    while records < args.expect_records {
        if Instant::now() >= end {
            anyhow::bail!(
                "read {records} of {} records in {} s",
                args.expect_records,
                args.timeout_secs
            );
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                bytes += m.payload().map_or(0, |p| p.len() as u64);
                records += 1;
            }
            Some(Err(e)) => {
                errors += 1;
                if errors <= 5 {
                    eprintln!("consume error: {e}");
                }
            }
            None => {}
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    eprintln!(
        "consume: {records} records ({:.1} MB) from {partitions} partitions in {elapsed:.2} s: {:.1} MB/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / elapsed
    );
    let mut j = read_figures(partitions, records, bytes, elapsed);
    j.int("errors", errors);
    j.print(args, "consume");
    Ok(())
}

/// The JSON figures of a read (consume, fetch-raw): what was read, how long it took, rates.
fn read_figures(partitions: u64, records: u64, bytes: u64, elapsed: f64) -> Json {
    let mut j = Json::default();
    j.int("partitions", partitions)
        .int("records", records)
        .int("bytes", bytes)
        .num("elapsed_s", elapsed)
        .num("mb_per_s", bytes as f64 / 1e6 / elapsed)
        .num("records_per_s", records as f64 / elapsed);
    j
}

fn run_fetch_raw(args: &Args) -> anyhow::Result<()> {
    let end = deadline(args);
    let (_, _, md) = raw_metadata(args, left(end)?)?;
    let mut offsets: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for t in &md.topics {
        let Some(name) = t.name.as_ref() else {
            continue;
        };
        if name.as_str().starts_with(&args.prefix) && t.error_code == 0 {
            for p in &t.partitions {
                offsets.insert((name.as_str().to_string(), p.partition_index), 0);
            }
        }
    }
    let partitions = offsets.len() as u64;
    let mut conn = Conn::connect(&args.brokers, left(end)?)?;
    let version = conn.version::<FetchRequest>(7, 12)?;
    let request = |changed: &[(&(String, i32), i64)], session_id: i32, epoch: i32| {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for ((t, p), off) in changed {
            if topics
                .last()
                .is_none_or(|l| l.topic.0.as_str() != t.as_str())
            {
                topics.push(
                    FetchTopic::default().with_topic(TopicName(StrBytes::from_string(t.clone()))),
                );
            }
            if let Some(last) = topics.last_mut() {
                last.partitions.push(
                    FetchPartition::default()
                        .with_partition(*p)
                        .with_fetch_offset(*off)
                        .with_partition_max_bytes(1 << 20),
                );
            }
        }
        FetchRequest::default()
            .with_replica_id(kafka_protocol::messages::BrokerId(-1))
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_bytes(50 << 20)
            .with_session_id(session_id)
            .with_session_epoch(epoch)
            .with_topics(topics)
    };
    let start = Instant::now();
    let (mut records, mut bytes, mut requests, mut epoch, mut session) =
        (0u64, 0u64, 0u64, 0i32, 0i32);
    let mut changed: Vec<(String, i32)> = offsets.keys().cloned().collect();
    while records < args.expect_records {
        if Instant::now() >= end {
            anyhow::bail!(
                "read {records} of {} records in {} s",
                args.expect_records,
                args.timeout_secs
            );
        }
        let list: Vec<(&(String, i32), i64)> = changed
            .iter()
            .filter_map(|k| offsets.get_key_value(k).map(|(k, &o)| (k, o)))
            .collect();
        let req = request(&list, session, epoch);
        let resp = conn.call(version, &req)?;
        requests += 1;
        if resp.error_code != 0 {
            anyhow::bail!("fetch error {}", resp.error_code);
        }
        session = resp.session_id;
        epoch = if session == 0 { 0 } else { epoch + 1 };
        changed.clear();
        for t in &resp.responses {
            for p in &t.partitions {
                if p.error_code != 0 {
                    anyhow::bail!(
                        "{}-{}: error {}",
                        t.topic.0.as_str(),
                        p.partition_index,
                        p.error_code
                    );
                }
                let Some(data) = p.records.as_ref() else {
                    continue;
                };
                // v2 batches: base offset (8), length (4), ..., last offset delta at 23,
                // record count at 57; a partial batch at the end is left for the next fetch.
                let mut pos = 0usize;
                let mut next = None;
                while data.len() >= pos + 61 {
                    let len = i32::from_be_bytes(data[pos + 8..pos + 12].try_into()?) as usize;
                    if data.len() < pos + 12 + len {
                        break;
                    }
                    let base = i64::from_be_bytes(data[pos..pos + 8].try_into()?);
                    let delta = i32::from_be_bytes(data[pos + 23..pos + 27].try_into()?);
                    let count = i32::from_be_bytes(data[pos + 57..pos + 61].try_into()?);
                    records += count.max(0) as u64;
                    bytes += (12 + len) as u64;
                    next = Some(base + i64::from(delta) + 1);
                    pos += 12 + len;
                }
                if let Some(next) = next {
                    let key = (t.topic.0.as_str().to_string(), p.partition_index);
                    offsets.insert(key.clone(), next);
                    changed.push(key);
                }
            }
        }
        if session == 0 {
            // No session: every fetch lists every partition.
            changed = offsets.keys().cloned().collect();
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    eprintln!(
        "fetch-raw: {records} records ({:.1} MB of batches) from {partitions} partitions in {elapsed:.2} s, {requests} fetches (session {}): {:.1} MB/s",
        bytes as f64 / 1e6,
        if session != 0 { "incremental" } else { "none" },
        bytes as f64 / 1e6 / elapsed
    );
    let mut j = read_figures(partitions, records, bytes, elapsed);
    j.int("requests", requests);
    j.print(args, "fetch-raw");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let res = match args.mode {
        Mode::Create => run_create(&args),
        Mode::Delete => run_delete(&args),
        Mode::Metadata => run_metadata(&args),
        Mode::WaitReady => run_wait_ready(&args),
        Mode::Produce => run_produce(&args),
        Mode::Consume => run_consume(&args),
        Mode::FetchRaw => run_fetch_raw(&args),
    };
    match res {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("partitions_bench {:?}: {e:#}", args.mode);
            std::process::ExitCode::FAILURE
        }
    }
}
