//! Shared test helpers: start the real `skua` binary on a free port with a temp data dir,
//! and a blocking raw-protocol client built on the kafka-protocol crate.
#![allow(dead_code)]

pub mod cluster;
pub mod http;
pub mod proxy;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

pub struct Broker {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub args: Vec<String>,
    /// Port of the `/metrics` endpoint; None starts the broker with `--metrics-listen off`
    /// (the default port would collide between brokers of parallel tests).
    pub metrics_port: Option<u16>,
    /// `RLIMIT_NOFILE` (soft and hard) the broker process runs with; None: inherited.
    pub nofile: Option<u64>,
    /// Ports of the console, Schema Registry and HTTP proxy; None: `off` (the default ports
    /// would collide between brokers of parallel tests).
    pub console_port: Option<u16>,
    pub registry_port: Option<u16>,
    pub proxy_port: Option<u16>,
}

/// A free port below the ephemeral range (32768+), so that no outgoing connection of another
/// test can hold it, and a connect to it can never be a TCP self-connect.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() as u16).wrapping_mul(7919);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20000 + (seed.wrapping_add(n.wrapping_mul(97)) % 12000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn listen(port: Option<u16>) -> String {
    match port {
        Some(p) => format!("127.0.0.1:{p}"),
        None => "off".to_string(),
    }
}

impl Broker {
    pub fn start(extra: &[&str]) -> Broker {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut b = Broker {
            child: None,
            port: free_port(),
            dir,
            _tmp: Some(tmp),
            args: extra.iter().map(|s| s.to_string()).collect(),
            metrics_port: None,
            nofile: None,
            console_port: None,
            registry_port: None,
            proxy_port: None,
        };
        b.spawn();
        b
    }

    pub fn start_in(dir: &Path, port: u16, extra: &[&str]) -> Broker {
        let mut b = Broker {
            child: None,
            port,
            dir: dir.to_path_buf(),
            _tmp: None,
            args: extra.iter().map(|s| s.to_string()).collect(),
            metrics_port: None,
            nofile: None,
            console_port: None,
            registry_port: None,
            proxy_port: None,
        };
        b.spawn();
        b
    }

    /// Start with the metrics endpoint on a free port.
    pub fn start_with_metrics(extra: &[&str]) -> Broker {
        Broker::start_fresh(extra, None)
    }

    /// Start with the metrics endpoint, in a process limited to `nofile` descriptors (soft
    /// and hard, as `ulimit -n` sets them).
    pub fn start_limited(nofile: u64, extra: &[&str]) -> Broker {
        Broker::start_fresh(extra, Some(nofile))
    }

    fn start_fresh(extra: &[&str], nofile: Option<u64>) -> Broker {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut b = Broker {
            child: None,
            port: free_port(),
            dir,
            _tmp: Some(tmp),
            args: extra.iter().map(|s| s.to_string()).collect(),
            metrics_port: Some(free_port()),
            nofile,
            console_port: None,
            registry_port: None,
            proxy_port: None,
        };
        b.spawn();
        b
    }

    /// Start with the console, the Schema Registry and the HTTP proxy on free ports.
    pub fn start_with_http(extra: &[&str]) -> Broker {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Broker::start_with_http_on(free_port(), extra)
    }

    /// [`Broker::start_with_http`] with the Kafka port chosen by the caller (so the extra
    /// settings can name it, e.g. in `listeners`).
    pub fn start_with_http_on(port: u16, extra: Vec<String>) -> Broker {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut b = Broker {
            child: None,
            port,
            dir,
            _tmp: Some(tmp),
            args: extra,
            metrics_port: None,
            nofile: None,
            console_port: Some(free_port()),
            registry_port: Some(free_port()),
            proxy_port: Some(free_port()),
        };
        b.spawn();
        b
    }

    /// GET `path` from the metrics endpoint: (status line, body).
    pub fn http_get(&self, path: &str) -> (String, String) {
        let port = self.metrics_port.expect("started with metrics");
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_string(), body.to_string())
    }

    /// Scrape `/metrics`.
    pub fn scrape(&self) -> String {
        let (status, body) = self.http_get("/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        body
    }

    /// Start the binary and wait until it answers ApiVersions on its port. If it exits at
    /// once (e.g. the port was taken in the meantime), try again a few times.
    pub fn spawn(&mut self) {
        for attempt in 0..20 {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_skua"));
            if let Some(n) = self.nofile {
                use std::os::unix::process::CommandExt;
                // SAFETY: only setrlimit (async-signal-safe) runs between fork and exec.
                unsafe {
                    cmd.pre_exec(move || {
                        let lim = libc::rlimit {
                            rlim_cur: n as libc::rlim_t,
                            rlim_max: n as libc::rlim_t,
                        };
                        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            }
            let mut child = cmd
                .arg("--listen")
                .arg(format!("127.0.0.1:{}", self.port))
                .arg("--data-dir")
                .arg(&self.dir)
                .arg("--metrics-listen")
                .arg(listen(self.metrics_port))
                .arg("--console-listen")
                .arg(listen(self.console_port))
                .arg("--schema-registry-listen")
                .arg(listen(self.registry_port))
                .arg("--rest-proxy-listen")
                .arg(listen(self.proxy_port))
                .args(
                    self.args
                        .iter()
                        .flat_map(|a| ["--set".to_string(), a.clone()]),
                )
                .stdout(Stdio::null())
                .stderr(if std::env::var("SKUA_TEST_LOG").is_ok() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .spawn()
                .expect("start skua");
            // Generous: a broker with thousands of partitions takes seconds to start on a
            // loaded 2-core machine.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    eprintln!("skua exited at start ({status}), attempt {attempt}");
                    std::thread::sleep(Duration::from_millis(250));
                    break;
                }
                if self.answers() {
                    self.child = Some(child);
                    return;
                }
                if Instant::now() >= deadline {
                    // Never leave a broker running on a data dir about to be removed.
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("broker did not start within 60 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("broker could not start on port {}", self.port);
    }

    /// True when something on our port answers an ApiVersions request like skua.
    fn answers(&self) -> bool {
        let Ok(stream) = TcpStream::connect(self.addr()) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut c = Client {
            stream,
            correlation: 0,
        };
        let (corr, frame) =
            c.encode_request(3, &kafka_protocol::messages::ApiVersionsRequest::default());
        if c.stream.write_all(&frame).is_err() {
            return false;
        }
        match c.read_frame() {
            Some(mut f) => {
                f.len() > 8
                    && ResponseHeader::decode(&mut f, 0)
                        .map(|h| h.correlation_id == corr)
                        .unwrap_or(false)
            }
            None => false,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        c.wait().unwrap()
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.addr())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub struct Client {
    pub stream: TcpStream,
    correlation: i32,
}

impl Client {
    pub fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            correlation: 0,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Read one response frame; None on EOF.
    pub fn read_frame(&mut self) -> Option<Bytes> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut buf).ok()?;
        Some(Bytes::from(buf))
    }

    pub fn encode_request<R: Request>(&mut self, version: i16, req: &R) -> (i32, BytesMut) {
        self.correlation += 1;
        let key = ApiKey::try_from(R::KEY).unwrap();
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("skua-test")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(version))
            .unwrap();
        req.encode(&mut body, version).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        (self.correlation, frame)
    }

    pub fn send<R: Request>(&mut self, version: i16, req: &R) -> i32 {
        let (c, frame) = self.encode_request(version, req);
        self.send_raw(&frame);
        c
    }

    pub fn recv<R: Request>(&mut self, version: i16, correlation: i32) -> R::Response {
        let key = ApiKey::try_from(R::KEY).unwrap();
        let mut frame = self.read_frame().expect("response");
        let header =
            ResponseHeader::decode(&mut frame, key.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, correlation);
        let resp = R::Response::decode(&mut frame, version).unwrap();
        assert_eq!(
            frame.remaining(),
            0,
            "{key:?} v{version}: trailing bytes in response"
        );
        resp
    }

    pub fn call<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        let c = self.send(version, req);
        self.recv::<R>(version, c)
    }

    /// Send `body`, encoded by hand, as `key` v`version` (for the versions the crate cannot
    /// encode: the removed ones and the ones newer than it); the response body after its
    /// header. Header versions are Kafka's for that version (WriteTxnMarkers v0 is not
    /// flexible, whatever the crate, generated from Kafka 4's specs, says).
    pub fn call_body(&mut self, key: ApiKey, version: i16, body: &[u8]) -> Bytes {
        self.correlation += 1;
        let (request_header, response_header) = match (key, version) {
            (ApiKey::WriteTxnMarkers, 0) => (1, 0),
            _ => (
                key.request_header_version(version),
                key.response_header_version(version),
            ),
        };
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("skua-test")));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, request_header).unwrap();
        buf.extend_from_slice(body);
        let mut frame = BytesMut::new();
        frame.put_i32(buf.len() as i32);
        frame.extend_from_slice(&buf);
        self.send_raw(&frame);
        let mut resp = self.read_frame().expect("response");
        let h = ResponseHeader::decode(&mut resp, response_header).unwrap();
        assert_eq!(h.correlation_id, self.correlation);
        resp
    }

    /// CreateTopics v7 with `configs`; panics unless the topic is created.
    pub fn create_topic_with(&mut self, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
        use kafka_protocol::messages::create_topics_request::{
            CreatableTopic, CreatableTopicConfig,
        };
        use kafka_protocol::messages::{CreateTopicsRequest, TopicName};
        let s = |x: &str| StrBytes::from_string(x.to_string());
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(s(topic)))
                .with_num_partitions(partitions)
                .with_replication_factor(-1)
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(s(k))
                                .with_value(Some(s(v)))
                        })
                        .collect(),
                )]);
        let r: kafka_protocol::messages::CreateTopicsResponse = self.call(7, &req);
        assert_eq!(r.topics[0].error_code, 0, "create {topic}: {r:?}");
    }

    pub fn create_topic(&mut self, topic: &str, partitions: i32) {
        self.create_topic_with(topic, partitions, &[]);
    }
}

/// A record for test batches.
pub fn record(offset_delta: i64, key: &str, value: &str, ts: i64) -> Record {
    Record {
        transactional: false,
        control: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: offset_delta,
        // The encoder groups records into one batch while offset - sequence is constant;
        // this keeps base_sequence at -1 (no producer id) for the whole batch.
        sequence: offset_delta as i32 - 1,
        timestamp: ts,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: Default::default(),
        delete_horizon: false,
    }
}

/// One v2 batch of `n` records `key-i`/`value-i` with timestamps ts0+i.
pub fn batch(n: usize, tag: &str, ts0: i64, compression: Compression) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            record(
                i as i64,
                &format!("{tag}-k{i}"),
                &format!("{tag}-v{i}"),
                ts0 + i as i64,
            )
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.freeze()
}

/// Decode every record in fetched bytes.
pub fn decode_records(bytes: &Bytes) -> Vec<Record> {
    let mut b = bytes.clone();
    let mut out = Vec::new();
    while b.remaining() > 0 {
        let set = RecordBatchDecoder::decode(&mut b).unwrap();
        out.extend(set.records);
    }
    out
}

/// One v2 batch of `n` records of an idempotent (or transactional) producer: producer id and
/// epoch, base sequence `base_seq`.
pub fn producer_batch(
    n: usize,
    tag: &str,
    producer_id: i64,
    producer_epoch: i16,
    base_seq: i32,
    transactional: bool,
) -> Bytes {
    let ts0 = 1_700_000_000_000i64;
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let mut r = record(
                i as i64,
                &format!("{tag}-k{i}"),
                &format!("{tag}-v{i}"),
                ts0 + i as i64,
            );
            r.producer_id = producer_id;
            r.producer_epoch = producer_epoch;
            r.sequence = base_seq + i as i32;
            r.transactional = transactional;
            r
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
