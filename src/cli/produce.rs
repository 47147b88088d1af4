//! `skua produce TOPIC`: lines from stdin become records, batched into v2 record batches per
//! partition and sent to each partition's leader. Keyed records go to Kafka's default
//! partition (murmur2 of the key), unkeyed ones round-robin by chunk; `--partition` pins all.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use bytes::{Bytes, BytesMut};
use clap::Args;
use indexmap::IndexMap;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::client::{check, str_bytes, topic_name, Cluster};
use super::topic::{partitions, PartitionInfo};
use super::{parse_kv, Common};
use crate::protocol::partitioner::key_partition;

/// Records per chunk read from stdin before sending; also bounded by CHUNK_BYTES.
const CHUNK_RECORDS: usize = 10_000;
const CHUNK_BYTES: usize = 1 << 20;

#[derive(Args, Debug)]
pub struct ProduceArgs {
    pub topic: String,
    /// Split each line at the first SEP into key and value (lines without it are an error).
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Header added to every record (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub header: Vec<String>,
    /// Send every record to this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Acknowledgements: all (-1), 1 or 0.
    #[arg(long, default_value = "all")]
    pub acks: String,
    /// Batch compression: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none")]
    pub compression: String,
    #[command(flatten)]
    pub common: Common,
}

fn parse_acks(s: &str) -> Result<i16> {
    match s {
        "all" | "-1" => Ok(-1),
        "1" => Ok(1),
        "0" => Ok(0),
        _ => bail!("--acks must be all, -1, 1 or 0, not {s:?}"),
    }
}

fn parse_compression(s: &str) -> Result<Compression> {
    Ok(match s {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => bail!("--compression must be none, gzip, snappy, lz4 or zstd, not {s:?}"),
    })
}

struct Producer {
    cluster: Cluster,
    topic: String,
    parts: Vec<PartitionInfo>,
    acks: i16,
    compression: Compression,
    headers: IndexMap<StrBytes, Option<Bytes>>,
    separator: Option<Vec<u8>>,
    pinned: Option<i32>,
    round_robin: usize,
    records: usize,
    bytes: usize,
    line_no: usize,
}

pub fn produce(a: ProduceArgs) -> Result<()> {
    let acks = parse_acks(&a.acks)?;
    let compression = parse_compression(&a.compression)?;
    let mut headers = IndexMap::new();
    for h in &a.header {
        let (k, v) = parse_kv(h)?;
        headers.insert(str_bytes(&k), Some(Bytes::from(v.into_bytes())));
    }
    let mut cluster = a.common.connect()?;
    let parts = partitions(&mut cluster, &a.topic)?;
    if parts.is_empty() {
        bail!("topic {} has no partitions", a.topic);
    }
    if let Some(p) = a.partition {
        if !parts.iter().any(|x| x.partition == p) {
            bail!(
                "topic {} has no partition {p} (partitions: {})",
                a.topic,
                parts.len()
            );
        }
    }
    let mut producer = Producer {
        cluster,
        topic: a.topic.clone(),
        parts,
        acks,
        compression,
        headers,
        separator: a.key_separator.map(String::into_bytes),
        pinned: a.partition,
        round_robin: 0,
        records: 0,
        bytes: 0,
        line_no: 0,
    };
    let started = Instant::now();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut chunk: Vec<(Option<Bytes>, Bytes)> = Vec::new();
    let mut chunk_bytes = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        producer.line_no += 1;
        let (key, value) = producer.split(&line)?;
        chunk_bytes += key.as_ref().map_or(0, |k| k.len()) + value.len();
        chunk.push((key, value));
        if chunk.len() >= CHUNK_RECORDS || chunk_bytes >= CHUNK_BYTES {
            producer.send(std::mem::take(&mut chunk))?;
            chunk_bytes = 0;
        }
    }
    if !chunk.is_empty() {
        producer.send(chunk)?;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "produced {} records ({} bytes) to {} in {secs:.3}s",
        producer.records, producer.bytes, producer.topic
    );
    Ok(())
}

impl Producer {
    fn split(&self, line: &[u8]) -> Result<(Option<Bytes>, Bytes)> {
        let Some(sep) = &self.separator else {
            return Ok((None, Bytes::copy_from_slice(line)));
        };
        let at = (!sep.is_empty())
            .then(|| line.windows(sep.len()).position(|w| w == sep.as_slice()))
            .flatten()
            .ok_or_else(|| anyhow!("line {} has no key separator", self.line_no))?;
        Ok((
            Some(Bytes::copy_from_slice(&line[..at])),
            Bytes::copy_from_slice(&line[at + sep.len()..]),
        ))
    }

    fn partition_of(&mut self, key: Option<&Bytes>) -> i32 {
        if let Some(p) = self.pinned {
            return p;
        }
        let n = self.parts.len().max(1);
        let i = match key {
            Some(k) => key_partition(k, n),
            None => self.round_robin % n,
        };
        self.parts.get(i).map_or(0, |p| p.partition)
    }

    /// Send one chunk of records: one batch per partition, one request per leader.
    fn send(&mut self, chunk: Vec<(Option<Bytes>, Bytes)>) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut by_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
        for (key, value) in chunk {
            let p = self.partition_of(key.as_ref());
            self.records += 1;
            self.bytes += key.as_ref().map_or(0, |k| k.len()) + value.len();
            let recs = by_partition.entry(p).or_default();
            let delta = recs.len() as i64;
            recs.push(Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: delta,
                // offset - sequence constant keeps all records in one batch with
                // base_sequence -1 (no producer id).
                sequence: delta as i32 - 1,
                timestamp: now,
                key,
                value: Some(value),
                headers: self.headers.clone(),
            });
        }
        self.round_robin = self.round_robin.wrapping_add(1);
        let mut by_leader: BTreeMap<i32, Vec<PartitionProduceData>> = BTreeMap::new();
        for (p, recs) in by_partition {
            let mut buf = BytesMut::new();
            RecordBatchEncoder::encode(
                &mut buf,
                &recs,
                &RecordEncodeOptions {
                    version: 2,
                    compression: self.compression,
                },
            )?;
            let leader = self
                .parts
                .iter()
                .find(|x| x.partition == p)
                .map_or(-1, |x| x.leader);
            let mut d = PartitionProduceData::default();
            d.index = p;
            d.records = Some(buf.freeze());
            by_leader.entry(leader).or_default().push(d);
        }
        for (leader, data) in by_leader {
            let conn = self.cluster.node(leader)?;
            let v = conn.version::<ProduceRequest>(3, 12)?;
            let mut t = TopicProduceData::default();
            t.name = topic_name(&self.topic);
            t.partition_data = data;
            let mut req = ProduceRequest::default();
            req.acks = self.acks;
            req.timeout_ms = 30_000;
            req.topic_data = vec![t];
            if self.acks == 0 {
                conn.send_only(v, &req)?;
                continue;
            }
            let resp = conn.call(v, &req)?;
            for t in resp.responses {
                for p in t.partition_responses {
                    check(
                        p.error_code,
                        p.error_message.as_ref(),
                        &format!("produce to {}-{}", self.topic, p.index),
                    )?;
                }
            }
        }
        Ok(())
    }
}
