//! Requests to the cluster: raw CreateTopics / Produce / ListOffsets on a node's real listener,
//! rdkafka producers and consumers through the advertised addresses, and the checks of what a
//! partition's log holds against what was acknowledged.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, ListOffsetsRequest, ProduceRequest, ResponseHeader,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Request, StrBytes};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::super::Client;
use super::views::PartitionState;
use super::{code, Cluster, WAIT};

impl Cluster {
    /// CreateTopics v7 sent to the active controller if known, else to any reachable node,
    /// moving on to another node on NOT_CONTROLLER: the topic's result.
    pub fn create_topic_raw(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(&str, &str)],
    ) -> CreatableTopicResult {
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(15000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(topic_name(name))
                .with_num_partitions(partitions)
                .with_replication_factor(replication_factor)
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_string(k.to_string()))
                                .with_value(Some(StrBytes::from_string(v.to_string())))
                        })
                        .collect(),
                )]);
        self.wait_for(&format!("CreateTopics {name}"), WAIT, |c| {
            let mut order = c.reachable();
            if let Some(ctl) = c.controller_id() {
                order.sort_by_key(|&i| i != ctl);
            }
            let mut last = "no reachable node".to_string();
            for id in order {
                match call(&c.direct_addr(id), 7, &req, Duration::from_secs(20)) {
                    Ok(r) => {
                        let t = r.topics.into_iter().next().ok_or("no topic in response")?;
                        if t.error_code != code::NOT_CONTROLLER {
                            return Ok(t);
                        }
                        last = format!("node {id}: NOT_CONTROLLER");
                    }
                    Err(e) => last = format!("node {id}: {e}"),
                }
            }
            Err(last)
        })
    }

    /// Create a topic (asserting success) and wait until it is fully replicated.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(&str, &str)],
    ) -> Vec<PartitionState> {
        let r = self.create_topic_raw(name, partitions, replication_factor, configs);
        assert_eq!(
            r.error_code,
            code::NONE,
            "create {name}: {:?}",
            r.error_message
        );
        let states = self.wait_healthy(name);
        assert_eq!(states.len(), partitions as usize, "{name}: {states:?}");
        states
    }

    /// An rdkafka config with the advertised addresses of the reachable nodes and timeouts
    /// short enough for failover tests.
    pub fn client_config(&self) -> ClientConfig {
        let skip: Vec<i32> = self
            .broker_ids()
            .into_iter()
            .filter(|i| !self.reachable().contains(i))
            .collect();
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", self.bootstrap_except(&skip))
            .set("topic.metadata.refresh.interval.ms", "1000")
            .set("socket.timeout.ms", "10000")
            .set("reconnect.backoff.max.ms", "500")
            .set("retry.backoff.max.ms", "500");
        cfg
    }

    /// Every record of `topic`-`p` from offset 0 up to its high watermark, read with an
    /// rdkafka consumer through the advertised addresses: (offset, value).
    pub fn read_partition(&self, topic: &str, p: i32) -> Vec<(i64, Vec<u8>)> {
        let c: BaseConsumer = self
            .client_config()
            .set("group.id", "cluster-test-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "100")
            .create()
            .expect("consumer");
        let (low, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("watermarks of {topic}-{p}: {e}"));
        assert_eq!(low, 0, "{topic}-{p}: log start offset");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
        c.assign(&tpl).unwrap();
        let mut out: Vec<(i64, Vec<u8>)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while out.last().map_or(0, |r| r.0 + 1) < high {
            assert!(
                Instant::now() < deadline,
                "{topic}-{p}: read {} records up to offset {:?} of high watermark {high} in 60 s",
                out.len(),
                out.last().map(|r| r.0)
            );
            match c.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => out.push((m.offset(), m.payload().unwrap_or(&[]).to_vec())),
                Some(Err(e)) => eprintln!("{topic}-{p}: consumer: {e}"),
                None => {}
            }
        }
        out
    }

    /// An idempotent `acks=all` rdkafka producer reporting to `acks`; `extra` overrides.
    pub fn producer(&self, acks: &Acks, extra: &[(&str, &str)]) -> ThreadedProducer<Acks> {
        let mut cfg = self.client_config();
        cfg.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("request.timeout.ms", "10000")
            .set("message.timeout.ms", "120000");
        for (k, v) in extra {
            cfg.set(*k, *v);
        }
        cfg.create_with_context(acks.clone()).expect("producer")
    }

    /// Send `values` to `topic`-`p` with an idempotent acks=all producer and wait for every
    /// delivery report; asserts that all were acknowledged: (offset, value) in offset order.
    pub fn produce_acked(&self, topic: &str, p: i32, values: &[Vec<u8>]) -> Vec<(i64, Vec<u8>)> {
        let acks = Acks::default();
        let producer = self.producer(&acks, &[]);
        for v in values {
            producer
                .send(BaseRecord::<(), _>::to(topic).partition(p).payload(v))
                .map_err(|(e, _)| e)
                .expect("enqueue");
        }
        producer
            .flush(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("flush to {topic}-{p}: {e}"));
        assert_eq!(acks.failures(), vec![], "{topic}-{p}: failed deliveries");
        let mut got: Vec<(i64, Vec<u8>)> =
            acks.acked().into_iter().map(|(_, o, v)| (o, v)).collect();
        got.sort();
        assert_eq!(got.len(), values.len(), "{topic}-{p}: acknowledged");
        got
    }

    /// The high watermark of `topic`-`p` (ListOffsets latest, read_uncommitted) from the
    /// leader a reachable node names.
    pub fn high_watermark(&self, topic: &str, p: i32) -> Result<i64, String> {
        let leader = self
            .leader_of(topic, p)
            .ok_or_else(|| format!("{topic}-{p}: no leader"))?;
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(0)
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(p)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(-1)])]);
        let r = call(&self.direct_addr(leader), 7, &req, Duration::from_secs(5))?;
        let part = r
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or("empty ListOffsets response")?;
        if part.error_code != code::NONE {
            return Err(format!(
                "node {leader}: ListOffsets error {}",
                part.error_code
            ));
        }
        Ok(part.offset)
    }

    /// Wait until the high watermark of `topic`-`p` is `hw`.
    pub fn wait_high_watermark(&self, topic: &str, p: i32, hw: i64) {
        self.wait_for(
            &format!("{topic}-{p} high watermark {hw}"),
            WAIT,
            |c| match c.high_watermark(topic, p)? {
                h if h == hw => Ok(()),
                h => Err(format!("high watermark {h}")),
            },
        )
    }
}

/// The delivery reports of an rdkafka producer: acknowledged (partition, offset, value) and
/// failed (partition, value, error).
#[derive(Clone, Default)]
pub struct Acks {
    acked: Arc<Mutex<Vec<Acked>>>,
    failed: Arc<Mutex<Vec<Failed>>>,
}

/// An acknowledged record: (partition, offset, value).
pub type Acked = (i32, i64, Vec<u8>);
/// A record whose delivery failed: (partition, value, error).
pub type Failed = (i32, Vec<u8>, String);

impl Acks {
    pub fn acked(&self) -> Vec<Acked> {
        self.acked.lock().unwrap().clone()
    }

    pub fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    pub fn failures(&self) -> Vec<Failed> {
        self.failed.lock().unwrap().clone()
    }

    pub fn failed_count(&self) -> usize {
        self.failed.lock().unwrap().len()
    }
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(m) => self.acked.lock().unwrap().push((
                m.partition(),
                m.offset(),
                m.payload().unwrap_or(&[]).to_vec(),
            )),
            Err((e, m)) => self.failed.lock().unwrap().push((
                m.partition(),
                m.payload().unwrap_or(&[]).to_vec(),
                e.to_string(),
            )),
        }
    }
}

pub fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// A raw acks/timeout Produce v9 of `records` to `topic`-`p` at `addr`; the partition's
/// answer, or an error when no answer came within `wait`.
pub fn produce_raw(
    addr: &str,
    topic: &str,
    p: i32,
    records: Bytes,
    acks: i16,
    timeout_ms: i32,
    wait: Duration,
) -> Result<PartitionProduceResponse, String> {
    let req = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(p)
                .with_records(Some(records))])]);
    let r = call(addr, 9, &req, wait)?;
    r.responses
        .into_iter()
        .next()
        .and_then(|t| t.partition_responses.into_iter().next())
        .ok_or_else(|| "no partition in the Produce response".to_string())
}

/// One request/response on a fresh connection to `addr`, without panicking: connect within
/// 2 s, answer within `wait`.
pub fn call<R: Request>(
    addr: &str,
    version: i16,
    req: &R,
    wait: Duration,
) -> Result<R::Response, String> {
    let sa: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let stream = TcpStream::connect_timeout(&sa, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(wait))
        .and_then(|_| stream.set_write_timeout(Some(wait)))
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut c = Client {
        stream,
        correlation: 0,
    };
    let (corr, frame) = c.encode_request(version, req);
    c.stream
        .write_all(&frame)
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut frame = c
        .read_frame()
        .ok_or_else(|| format!("no answer from {addr} within {wait:?} (or closed)"))?;
    let key = ApiKey::try_from(R::KEY).map_err(|_| "api key")?;
    let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))
        .map_err(|e| format!("{addr}: header: {e}"))?;
    if header.correlation_id != corr {
        return Err(format!(
            "{addr}: correlation {} != {corr}",
            header.correlation_id
        ));
    }
    let resp = R::Response::decode(&mut frame, version).map_err(|e| format!("{addr}: {e}"))?;
    if frame.remaining() != 0 {
        return Err(format!("{addr}: {key:?} v{version}: trailing bytes"));
    }
    Ok(resp)
}

/// Unacknowledged records a feeder allows in flight.
const WINDOW: u64 = 1000;

/// A continuous producer: record `seq` (its decimal text) goes to partition `seq % parts`;
/// at most WINDOW records unacknowledged.
pub struct Feeder {
    producer: ThreadedProducer<Acks>,
    acks: Acks,
    topic: String,
    parts: i32,
    next: u64,
    /// Per partition, the sequence numbers sent to it, in send order.
    sent: Vec<Vec<u64>>,
}

impl Feeder {
    pub fn new(c: &Cluster, topic: &str, parts: i32) -> Feeder {
        let acks = Acks::default();
        Feeder {
            producer: c.producer(&acks, &[]),
            acks,
            topic: topic.to_string(),
            parts,
            next: 0,
            sent: vec![Vec::new(); parts as usize],
        }
    }

    /// Send one record, or wait 1 ms if the window is full.
    pub fn step(&mut self) {
        let done = (self.acks.acked_count() + self.acks.failed_count()) as u64;
        if self.next - done >= WINDOW {
            std::thread::sleep(Duration::from_millis(1));
            return;
        }
        let p = (self.next % self.parts as u64) as i32;
        let value = self.next.to_string();
        match self.producer.send(
            BaseRecord::<(), _>::to(&self.topic)
                .partition(p)
                .payload(&value),
        ) {
            Ok(()) => {
                self.sent[p as usize].push(self.next);
                self.next += 1;
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => panic!("enqueue: {e}"),
        }
    }

    /// Keep sending until `acked` records are acknowledged (at most `timeout`).
    pub fn until_acked(&mut self, acked: usize, timeout: Duration, what: &str) {
        let deadline = Instant::now() + timeout;
        while self.acks.acked_count() < acked {
            assert!(
                Instant::now() < deadline,
                "{what}: {} of {acked} acknowledged within {timeout:?}, {} failed: {:?}",
                self.acks.acked_count(),
                self.acks.failed_count(),
                self.acks.failures().first()
            );
            self.step();
        }
    }

    /// Records acknowledged so far.
    pub fn acked_count(&self) -> usize {
        self.acks.acked_count()
    }

    /// Flush and check the whole topic against what was sent and acknowledged.
    pub fn verify(self, c: &Cluster) {
        self.producer
            .flush(Duration::from_secs(120))
            .expect("flush every record");
        assert_eq!(self.acks.failures(), vec![], "failed deliveries");
        let acked = self.acks.acked();
        assert_eq!(acked.len() as u64, self.next, "every record acknowledged");
        verify_log(c, &self.topic, &self.sent, &acked);
    }
}

/// Each partition holds exactly the records sent to it, in send order, at offsets 0..; every
/// acknowledgement names the offset its record is at.
pub fn verify_log(c: &Cluster, topic: &str, sent: &[Vec<u64>], acked: &[Acked]) {
    let mut logs = Vec::new();
    for (p, want) in sent.iter().enumerate() {
        let log = c.read_partition(topic, p as i32);
        let offsets: Vec<i64> = log.iter().map(|r| r.0).collect();
        assert_eq!(
            offsets,
            (0..log.len() as i64).collect::<Vec<_>>(),
            "{topic}-{p}: dense offsets"
        );
        let values: Vec<u64> = log.iter().map(|r| parse_seq(&r.1)).collect();
        if let Some(i) = (0..values.len().max(want.len())).find(|&i| values.get(i) != want.get(i)) {
            panic!(
                "{topic}-{p}: {} records, {} sent; first difference at offset {i}: log has {:?}, \
                 sent {:?} (a record lost, duplicated or reordered)",
                values.len(),
                want.len(),
                values.get(i),
                want.get(i)
            );
        }
        logs.push(log);
    }
    for (p, offset, value) in acked {
        assert_eq!(
            logs[*p as usize].get(*offset as usize).map(|r| &r.1),
            Some(value),
            "{topic}-{p}: the record acknowledged at offset {offset}"
        );
    }
}

pub fn parse_seq(v: &[u8]) -> u64 {
    std::str::from_utf8(v).unwrap().parse().unwrap()
}
