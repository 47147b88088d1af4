//! Transactional and idempotent producer benchmark (librdkafka via the rdkafka crate) against
//! a running broker.
//!
//! - `txn`: `--producers` threads, each a transactional producer (its own transactional.id)
//!   running back-to-back transactions of `--txn-records` records (begin, produce, commit) to a
//!   topic of `--partitions` partitions for `--seconds`; reports committed records/s and
//!   transactions/s, and the median / p99 commit latency (commit_transaction call).
//! - `idempotent`: one idempotent producer (enable.idempotence=true, acks=all) producing as
//!   fast as it can for `--seconds`; reports records/s and MB/s.
//!
//! Prints one JSON line per run:
//!   cargo run --release --example txn_bench -- --brokers 127.0.0.1:9092 --mode txn

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DefaultProducerContext, Producer, ThreadedProducer,
};

/// librdkafka's own commit (it flushes, then EndTxn), served by the ThreadedProducer's poll
/// thread. rust-rdkafka's `commit_transaction` first flushes with a 100 ms poll loop of its
/// own, which would put a client-side 100 ms floor under every commit.
fn commit(p: &ThreadedProducer<DefaultProducerContext>) {
    // SAFETY: the pointer is the live producer handle; the returned error object is owned
    // and released here.
    unsafe {
        let err = rdkafka::bindings::rd_kafka_commit_transaction(p.client().native_ptr(), 30_000);
        if !err.is_null() {
            let msg = std::ffi::CStr::from_ptr(rdkafka::bindings::rd_kafka_error_string(err))
                .to_string_lossy()
                .into_owned();
            rdkafka::bindings::rd_kafka_error_destroy(err);
            panic!("commit_transaction: {msg}");
        }
    }
}

struct Args {
    brokers: String,
    mode: String,
    seconds: f64,
    producers: usize,
    txn_records: usize,
    record_size: usize,
    partitions: i32,
}

fn parse_args() -> Args {
    let mut a = Args {
        brokers: "127.0.0.1:9092".into(),
        mode: "txn".into(),
        seconds: 10.0,
        producers: 1,
        txn_records: 100,
        record_size: 1024,
        partitions: 6,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        let v = argv[i + 1].clone();
        match argv[i].as_str() {
            "--brokers" => a.brokers = v,
            "--mode" => a.mode = v,
            "--seconds" => a.seconds = v.parse().expect("--seconds"),
            "--producers" => a.producers = v.parse().expect("--producers"),
            "--txn-records" => a.txn_records = v.parse().expect("--txn-records"),
            "--record-size" => a.record_size = v.parse().expect("--record-size"),
            "--partitions" => a.partitions = v.parse().expect("--partitions"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn create_topic(brokers: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let res = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .expect("create topic");
    for r in res {
        r.expect("topic created");
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run_txn(a: &Args) {
    let topic = format!("txn-bench-{}", std::process::id());
    create_topic(&a.brokers, &topic, a.partitions);
    let payload = vec![b'x'; a.record_size];
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..a.producers)
        .map(|i| {
            let brokers = a.brokers.clone();
            let topic = topic.clone();
            let payload = payload.clone();
            let stop = Arc::clone(&stop);
            let n = a.txn_records;
            std::thread::spawn(move || {
                let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
                    .set("bootstrap.servers", &brokers)
                    .set(
                        "transactional.id",
                        format!("txn-bench-{}-{i}", std::process::id()),
                    )
                    .set("linger.ms", "5")
                    .create()
                    .expect("producer");
                p.init_transactions(Duration::from_secs(30))
                    .expect("init_transactions");
                let mut commits = Vec::new();
                let mut records = 0u64;
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    p.begin_transaction().expect("begin");
                    for _ in 0..n {
                        k += 1;
                        let key = k.to_string();
                        loop {
                            match p.send(BaseRecord::to(&topic).key(&key).payload(&payload)) {
                                Ok(()) => break,
                                Err((e, _)) => {
                                    assert!(
                                        e.rdkafka_error_code()
                                            == Some(rdkafka::types::RDKafkaErrorCode::QueueFull),
                                        "send: {e}"
                                    );
                                    std::thread::sleep(Duration::from_millis(1));
                                }
                            }
                        }
                    }
                    let t = Instant::now();
                    commit(&p);
                    commits.push(t.elapsed().as_secs_f64() * 1000.0);
                    records += n as u64;
                }
                (records, commits)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(a.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut records = 0u64;
    let mut commits = Vec::new();
    for t in threads {
        let (r, c) = t.join().expect("producer thread");
        records += r;
        commits.extend(c);
    }
    let secs = start.elapsed().as_secs_f64();
    commits.sort_by(|x, y| x.total_cmp(y));
    println!(
        "{{\"bench\":\"skua\",\"mode\":\"txn\",\"producers\":{},\"txn_records\":{},\"record_size\":{},\"seconds\":{:.2},\"records\":{},\"transactions\":{},\"records_per_s\":{:.0},\"txn_per_s\":{:.1},\"commit_p50_ms\":{:.2},\"commit_p99_ms\":{:.2}}}",
        a.producers,
        a.txn_records,
        a.record_size,
        secs,
        records,
        commits.len(),
        records as f64 / secs,
        commits.len() as f64 / secs,
        percentile(&commits, 0.5),
        percentile(&commits, 0.99),
    );
}

fn run_idempotent(a: &Args) {
    let topic = format!("idem-bench-{}", std::process::id());
    create_topic(&a.brokers, &topic, a.partitions);
    let payload = vec![b'x'; a.record_size];
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &a.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let start = Instant::now();
    let mut records = 0u64;
    while start.elapsed().as_secs_f64() < a.seconds {
        match p.send(BaseRecord::<(), _>::to(&topic).payload(&payload)) {
            Ok(()) => records += 1,
            Err((e, _)) => {
                assert!(
                    e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    "send: {e}"
                );
                p.poll(Duration::from_millis(5));
            }
        }
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(60)).expect("flush");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"bench\":\"skua\",\"mode\":\"idempotent\",\"record_size\":{},\"seconds\":{:.2},\"records\":{},\"records_per_s\":{:.0},\"mb_per_s\":{:.1}}}",
        a.record_size,
        secs,
        records,
        records as f64 / secs,
        records as f64 * a.record_size as f64 / secs / 1e6,
    );
}

fn main() {
    let a = parse_args();
    match a.mode.as_str() {
        "txn" => run_txn(&a),
        "idempotent" => run_idempotent(&a),
        other => panic!("unknown mode {other}"),
    }
}
