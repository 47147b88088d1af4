//! Load generator for skua (or any Kafka-compatible broker), driven by librdkafka through the
//! `rdkafka` crate — the same engine as `rdkafka_performance` and most non-Java clients.
//!
//! Modes:
//! * `produce` — send fixed-size records (a pseudo-random, incompressible payload) as fast as
//!   librdkafka accepts them (or at `--rate`), until `--max-bytes`, `--max-records` or
//!   `--duration-secs` is reached, then flush. Throughput is measured from the first send to the
//!   last delivery report. Every record's send→delivery-report latency is recorded too.
//! * `latency` — `produce` with other defaults: 1000 records/s, acks=all, linger.ms=0, 30 s;
//!   reports p50/p99/p99.9 of send→delivery-report latency, skipping `--warmup-secs`.
//! * `consume` — assign every partition of the given topic(s) manually (no consumer group) from
//!   the log start offset and read up to the high watermark measured before starting. Throughput
//!   is measured from `assign()` to the last record.
//! * `delete` — DeleteTopics for the given topic(s), so a script can free the disk between runs.
//!
//! Human-readable lines go to stdout, followed by exactly one JSON object on a line of its own
//! (the line starts with `{"bench":`), for scripts such as bench/run.sh.
//!
//! Units: MB = 10^6 bytes, GB = 10^9 bytes (MiB figures are in the JSON too). Payload bytes only
//! (the record value); batch and protocol overhead is not counted.
//!
//! Example:
//!   cargo run --release --example bench -- --brokers 127.0.0.1:9092 --mode produce \
//!       --topic t --partitions 6 --acks all --record-size 1024 --duration-secs 20 --max-bytes 2G

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Produce,
    Consume,
    Latency,
    /// Delete the topic(s) (comma-separated), e.g. to free the disk between runs.
    Delete,
}

#[derive(Parser, Debug)]
#[command(about = "Kafka-protocol load generator (librdkafka) for skua")]
struct Args {
    /// bootstrap.servers
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    #[arg(long, value_enum, default_value = "produce")]
    mode: Mode,
    /// Topic to write; for consume and delete a comma-separated list (consume reads all partitions).
    #[arg(long, default_value = "skua-bench")]
    topic: String,
    /// Create the topic with this many partitions first (produce/latency); existing is fine.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Do not create the topic (it must exist or be auto-created).
    #[arg(long)]
    no_create: bool,
    /// acks: 0, 1 or all (-1). Default: 1 for produce, all for latency.
    #[arg(long)]
    acks: Option<String>,
    /// Record value size in bytes.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// Stop sending after this long (produce default 20, latency default 30); consume: give up
    /// when no record arrived for this long (default 30).
    #[arg(long)]
    duration_secs: Option<f64>,
    /// Stop after this many payload bytes (suffixes k, M, G = powers of 10; Ki, Mi, Gi).
    #[arg(long, value_parser = parse_size)]
    max_bytes: Option<u64>,
    /// Stop after this many records.
    #[arg(long)]
    max_records: Option<u64>,
    /// Records per second (0 = unlimited). Default: 0 for produce, 1000 for latency.
    #[arg(long)]
    rate: Option<f64>,
    /// linger.ms. Default: librdkafka's (5) for produce, 0 for latency.
    #[arg(long)]
    linger_ms: Option<u32>,
    /// batch.size in bytes. Default: librdkafka's (1000000).
    #[arg(long)]
    batch_size: Option<u64>,
    /// compression.type
    #[arg(long, default_value = "none")]
    compression: String,
    /// Latency statistics ignore records sent during the first this many seconds.
    #[arg(long)]
    warmup_secs: Option<f64>,
    /// Any other librdkafka property, e.g. --set enable.idempotence=true (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Write every delivered record's "send_time_us latency_us" (since the producer started)
    /// to this file, for plots and for finding stalls.
    #[arg(long, value_name = "FILE")]
    latency_dump: Option<std::path::PathBuf>,
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
        "Ki" | "KiB" => 1024.0,
        "Mi" | "MiB" => 1024.0 * 1024.0,
        "Gi" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        u => return Err(format!("unknown size unit {u:?}")),
    };
    Ok((n * mult) as u64)
}

/// A JSON object built by hand (the crate has no serde_json dependency).
#[derive(Default)]
struct Json(String);

impl Json {
    fn raw(&mut self, k: &str, v: &str) -> &mut Self {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        let _ = write!(self.0, "\"{}\":{}", esc(k), v);
        self
    }
    fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.raw(k, &format!("\"{}\"", esc(v)))
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
    fn finish(&self) -> String {
        format!("{{{}}}", self.0)
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// CPU seconds used so far by this process's live threads (librdkafka's included), from
/// /proc/self/task/*/schedstat (nanoseconds on CPU). NaN where /proc is unavailable.
fn self_cpu_secs() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut ns: u64 = 0;
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 / 1e9
}

fn base_config(args: &Args) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &args.brokers)
        .set("client.id", "skua-bench")
        .set_log_level(RDKafkaLogLevel::Warning);
    c
}

fn apply_sets(c: &mut ClientConfig, sets: &[String]) -> anyhow::Result<()> {
    for s in sets {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--set wants NAME=VALUE, got {s:?}"))?;
        c.set(k.trim(), v.trim());
    }
    Ok(())
}

/// The admin client's configuration: the connection's own settings among --set (security.protocol,
/// ssl.*, sasl.*), so that create and delete run over the same listener as the measured clients.
fn admin_config(args: &Args) -> anyhow::Result<ClientConfig> {
    let mut c = base_config(args);
    let conn: Vec<String> = args
        .set
        .iter()
        .filter(|s| {
            let k = s.trim_start();
            k.starts_with("security.protocol") || k.starts_with("ssl.") || k.starts_with("sasl.")
        })
        .cloned()
        .collect();
    apply_sets(&mut c, &conn)?;
    Ok(c)
}

/// Create `topic` with `partitions` partitions unless it exists, then wait until metadata shows it.
fn ensure_topic(args: &Args, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = admin_config(args)?.create()?;
    let nt = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let res = futures::executor::block_on(admin.create_topics([&nt], &opts))?;
    for r in res {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => anyhow::bail!("CreateTopics {t}: {e}"),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let md = admin
            .inner()
            .fetch_metadata(Some(topic), Duration::from_secs(5))?;
        let ok = md
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
        if ok {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "topic {topic} did not appear in metadata"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Counters updated by delivery reports (all on the polling thread; atomics keep it `Sync`).
struct Ctx {
    start: Instant,
    record_size: u64,
    delivered: AtomicU64,
    errors: AtomicU64,
    /// Nanoseconds since `start` of the last delivery report.
    last_delivery_ns: AtomicU64,
    /// (send time since start in µs, latency in µs) per delivered record.
    latencies: Mutex<Vec<(u32, u32)>>,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    /// Send time in nanoseconds since `start`.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        let now_ns = self.start.elapsed().as_nanos() as u64;
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                let sent_ns = sent_ns as u64;
                let lat_us = (now_ns.saturating_sub(sent_ns) / 1000).min(u32::MAX as u64) as u32;
                if let Ok(mut v) = self.latencies.lock() {
                    v.push(((sent_ns / 1000) as u32, lat_us));
                }
            }
            Err((e, _)) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = self.first_error.lock() {
                    f.get_or_insert_with(|| e.to_string());
                }
            }
        }
        self.last_delivery_ns.fetch_max(now_ns, Ordering::Relaxed);
    }
}

/// A pseudo-random (xorshift) buffer; record i is a window into it at a varying offset, so
/// payloads differ from each other and do not compress.
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

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn acks_value(a: &str) -> anyhow::Result<&'static str> {
    Ok(match a {
        "0" => "0",
        "1" => "1",
        "all" | "-1" => "all",
        _ => anyhow::bail!("--acks must be 0, 1 or all"),
    })
}

fn run_produce(args: &Args) -> anyhow::Result<()> {
    let latency_mode = args.mode == Mode::Latency;
    let acks = acks_value(
        args.acks
            .as_deref()
            .unwrap_or(if latency_mode { "all" } else { "1" }),
    )?;
    let duration = args
        .duration_secs
        .unwrap_or(if latency_mode { 30.0 } else { 20.0 });
    let rate = args.rate.unwrap_or(if latency_mode { 1000.0 } else { 0.0 });
    let linger = args.linger_ms.or(if latency_mode { Some(0) } else { None });
    let warmup = args
        .warmup_secs
        .unwrap_or(if latency_mode { 1.0 } else { 0.0 });
    let max_bytes = args.max_bytes.unwrap_or(u64::MAX);
    let max_records = args.max_records.unwrap_or(u64::MAX);

    if !args.no_create {
        ensure_topic(args, &args.topic, args.partitions)?;
    }

    let mut cfg = base_config(args);
    cfg.set("acks", acks)
        .set("compression.type", &args.compression);
    if let Some(l) = linger {
        cfg.set("linger.ms", l.to_string());
    }
    if let Some(b) = args.batch_size {
        cfg.set("batch.size", b.to_string());
    }
    apply_sets(&mut cfg, &args.set)?;
    let ctx = Ctx {
        start: Instant::now(),
        record_size: args.record_size as u64,
        delivered: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        last_delivery_ns: AtomicU64::new(0),
        latencies: Mutex::new(Vec::with_capacity(1 << 20)),
        first_error: Mutex::new(None),
    };
    // Delivery reports are served on librdkafka's polling thread (ThreadedProducer), so their
    // timestamps are taken as they arrive, while this thread only sends (and sleeps for pacing).
    let producer: ThreadedProducer<Ctx> = cfg.create_with_context(ctx)?;
    // Connect and learn the leaders before the clock starts.
    producer
        .client()
        .fetch_metadata(Some(&args.topic), Duration::from_secs(10))?;

    let pool = payload_pool(args.record_size);
    let window = pool.len() - args.record_size;
    let cpu0 = self_cpu_secs();
    let start = producer.context().start;
    // Re-base: the context's clock is the measurement clock; send times are relative to `t0`.
    let t0_ns = start.elapsed().as_nanos() as u64;
    let deadline_ns = t0_ns + (duration * 1e9) as u64;
    let interval_ns = if rate > 0.0 { 1e9 / rate } else { 0.0 };
    let mut sent: u64 = 0;
    let mut sent_bytes: u64 = 0;
    let mut max_behind_ns: u64 = 0;
    let mut queue_full: u64 = 0;
    while sent < max_records && sent_bytes < max_bytes {
        let now_ns = start.elapsed().as_nanos() as u64;
        if now_ns >= deadline_ns {
            break;
        }
        if interval_ns > 0.0 {
            let due_ns = t0_ns + (sent as f64 * interval_ns) as u64;
            if now_ns < due_ns {
                std::thread::sleep(Duration::from_nanos(due_ns - now_ns));
            } else {
                max_behind_ns = max_behind_ns.max(now_ns - due_ns);
            }
        }
        let off = ((sent.wrapping_mul(2_654_435_761)) % window as u64) as usize;
        let payload = &pool[off..off + args.record_size];
        let sent_ns = start.elapsed().as_nanos() as usize;
        let mut rec =
            BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, sent_ns).payload(payload);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    queue_full += 1;
                    rec = r;
                    std::thread::sleep(Duration::from_micros(500));
                }
                Err((e, _)) => anyhow::bail!("send failed: {e}"),
            }
        }
        sent += 1;
        sent_bytes += args.record_size as u64;
    }
    let send_end_ns = start.elapsed().as_nanos() as u64;
    producer.flush(Duration::from_secs(300))?;
    let cpu = self_cpu_secs() - cpu0;
    let c = producer.context();
    let delivered = c.delivered.load(Ordering::Relaxed);
    let errors = c.errors.load(Ordering::Relaxed);
    let last_ns = c.last_delivery_ns.load(Ordering::Relaxed).max(t0_ns + 1);
    let elapsed = (last_ns - t0_ns) as f64 / 1e9;
    let bytes = delivered * c.record_size;
    let mut lats: Vec<u32> = match c.latencies.lock() {
        Ok(v) => {
            if let Some(path) = &args.latency_dump {
                let mut out = String::with_capacity(v.len() * 16);
                for (s, l) in v.iter() {
                    let _ = writeln!(out, "{s} {l}");
                }
                std::fs::write(path, out)?;
            }
            let warm_us = ((t0_ns as f64 / 1e3) + warmup * 1e6) as u32;
            v.iter()
                .filter(|(s, _)| *s >= warm_us)
                .map(|(_, l)| *l)
                .collect()
        }
        Err(_) => Vec::new(),
    };
    lats.sort_unstable();
    let mean = if lats.is_empty() {
        f64::NAN
    } else {
        lats.iter().map(|&l| l as f64).sum::<f64>() / lats.len() as f64 / 1000.0
    };
    let mbps = bytes as f64 / 1e6 / elapsed;
    let rps = delivered as f64 / elapsed;
    let (p50, p99, p999, pmax) = (
        percentile(&lats, 50.0),
        percentile(&lats, 99.0),
        percentile(&lats, 99.9),
        percentile(&lats, 100.0),
    );

    println!(
        "{}: topic={} acks={} record_size={} linger.ms={} rate={}",
        if latency_mode { "latency" } else { "produce" },
        args.topic,
        acks,
        args.record_size,
        linger.map_or("default(5)".to_string(), |l| l.to_string()),
        if rate > 0.0 {
            format!("{rate}/s")
        } else {
            "unlimited".into()
        }
    );
    println!(
        "  {delivered} records ({:.1} MB) delivered in {elapsed:.2} s, {errors} errors: {mbps:.1} MB/s, {rps:.0} records/s",
        bytes as f64 / 1e6
    );
    println!(
        "  latency send->delivery report (ms, {} samples after {warmup} s warmup): mean {mean:.3} p50 {p50:.3} p99 {p99:.3} p99.9 {p999:.3} max {pmax:.3}",
        lats.len()
    );
    println!(
        "  sending took {:.2} s, queue-full retries {queue_full}, max behind schedule {:.3} ms, client CPU {cpu:.2} s",
        (send_end_ns - t0_ns) as f64 / 1e9,
        max_behind_ns as f64 / 1e6
    );
    if let Ok(f) = c.first_error.lock() {
        if let Some(e) = f.as_ref() {
            println!("  first delivery error: {e}");
        }
    }
    let mut j = Json::default();
    j.str("bench", "skua")
        .str("mode", if latency_mode { "latency" } else { "produce" })
        .str("label", &args.label)
        .str("topic", &args.topic)
        .str("acks", acks)
        .int("record_size", args.record_size as u64)
        .int("partitions", args.partitions as u64)
        .str(
            "linger_ms",
            &linger.map_or("default".to_string(), |l| l.to_string()),
        )
        .str(
            "batch_size",
            &args
                .batch_size
                .map_or("default".to_string(), |b| b.to_string()),
        )
        .str("compression", &args.compression)
        .num("rate", rate)
        .int("records", delivered)
        .int("bytes", bytes)
        .int("errors", errors)
        .num("elapsed_s", elapsed)
        .num("mb_per_s", mbps)
        .num("mib_per_s", bytes as f64 / 1048576.0 / elapsed)
        .num("records_per_s", rps)
        .num("lat_mean_ms", mean)
        .num("lat_p50_ms", p50)
        .num("lat_p99_ms", p99)
        .num("lat_p999_ms", p999)
        .num("lat_max_ms", pmax)
        .int("lat_samples", lats.len() as u64)
        .num("max_behind_schedule_ms", max_behind_ns as f64 / 1e6)
        .int("queue_full_retries", queue_full)
        .num("client_cpu_s", cpu)
        .num("client_total_cpu_s", self_cpu_secs())
        .str("librdkafka", &rdkafka::util::get_rdkafka_version().1);
    println!("{}", j.finish());
    anyhow::ensure!(errors == 0, "{errors} records failed");
    Ok(())
}

fn run_consume(args: &Args) -> anyhow::Result<()> {
    let idle_timeout = Duration::from_secs_f64(args.duration_secs.unwrap_or(30.0));
    let mut cfg = base_config(args);
    // No consumer groups on the broker: a group.id is needed by librdkafka's assign(), but
    // nothing is committed and no group API is called.
    cfg.set(
        "group.id",
        format!("skua-bench-unused-{}", std::process::id()),
    )
    .set("enable.auto.commit", "false")
    .set("enable.auto.offset.store", "false")
    .set("enable.partition.eof", "false");
    apply_sets(&mut cfg, &args.set)?;
    let consumer: BaseConsumer = cfg.create()?;

    let mut tpl = TopicPartitionList::new();
    let mut expected: u64 = 0;
    let topics: Vec<&str> = args
        .topic
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let mut partitions = 0u64;
    for topic in &topics {
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == *topic)
            .ok_or_else(|| anyhow::anyhow!("topic {topic} not in metadata"))?;
        anyhow::ensure!(t.error().is_none(), "topic {topic}: {:?}", t.error());
        for p in t.partitions() {
            let (lo, hi) = consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(10))?;
            expected += (hi - lo).max(0) as u64;
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(lo))?;
            partitions += 1;
        }
    }
    let max_records = args.max_records.unwrap_or(u64::MAX);
    let max_bytes = args.max_bytes.unwrap_or(u64::MAX);
    let target = expected.min(max_records);

    let cpu0 = self_cpu_secs();
    let start = Instant::now();
    consumer.assign(&tpl)?;
    let mut records: u64 = 0;
    let mut bytes: u64 = 0;
    let mut errors: u64 = 0;
    let mut checksum: u64 = 0;
    let mut last = start;
    while records < target && bytes < max_bytes {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let p = m.payload().unwrap_or(&[]);
                // Touch the payload so that nothing is optimised away.
                checksum = checksum.wrapping_add(p.first().copied().unwrap_or(0) as u64);
                bytes += p.len() as u64;
                records += 1;
                last = Instant::now();
            }
            Some(Err(e)) => {
                errors += 1;
                if errors <= 5 {
                    eprintln!("consume error: {e}");
                }
            }
            None => {
                if last.elapsed() > idle_timeout {
                    eprintln!("no record for {idle_timeout:?}; giving up");
                    break;
                }
            }
        }
    }
    let cpu = self_cpu_secs() - cpu0;
    let elapsed = last.duration_since(start).as_secs_f64().max(1e-9);
    let mbps = bytes as f64 / 1e6 / elapsed;
    let rps = records as f64 / elapsed;
    println!(
        "consume: topics={} partitions={partitions} expected {expected} records",
        topics.join(",")
    );
    println!(
        "  {records} records ({:.1} MB) in {elapsed:.2} s, {errors} errors: {mbps:.1} MB/s, {rps:.0} records/s, client CPU {cpu:.2} s (checksum {checksum})",
        bytes as f64 / 1e6
    );
    let mut j = Json::default();
    j.str("bench", "skua")
        .str("mode", "consume")
        .str("label", &args.label)
        .str("topic", &args.topic)
        .int("partitions", partitions)
        .int("expected_records", expected)
        .int("records", records)
        .int("bytes", bytes)
        .int("errors", errors)
        .num("elapsed_s", elapsed)
        .num("mb_per_s", mbps)
        .num("mib_per_s", bytes as f64 / 1048576.0 / elapsed)
        .num("records_per_s", rps)
        .num("client_cpu_s", cpu)
        .num("client_total_cpu_s", self_cpu_secs())
        .str("librdkafka", &rdkafka::util::get_rdkafka_version().1);
    println!("{}", j.finish());
    anyhow::ensure!(records >= target, "read {records} of {target} records");
    Ok(())
}

fn run_delete(args: &Args) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = admin_config(args)?.create()?;
    let topics: Vec<&str> = args
        .topic
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let res = futures::executor::block_on(admin.delete_topics(&topics, &opts))?;
    for r in res {
        match r {
            Ok(t) => println!("deleted topic {t}"),
            Err((t, RDKafkaErrorCode::UnknownTopicOrPartition)) => println!("no topic {t}"),
            Err((t, e)) => anyhow::bail!("DeleteTopics {t}: {e}"),
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let res = match args.mode {
        Mode::Produce | Mode::Latency => run_produce(&args),
        Mode::Consume => run_consume(&args),
        Mode::Delete => run_delete(&args),
    };
    match res {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
