//! Producing through the in-process Produce API (acks=all, so Kafka's validation and
//! offsets apply): v3's record stream (`POST /v3/clusters/{c}/topics/{t}/records`, one or
//! more concatenated JSON objects, answered 200 with one JSON object per record, in input
//! order, each followed by `\r\n`, streamed chunk by chunk) and v2's produce
//! (`POST /topics/{t}[/partitions/{p}]`, a `records` array, answered with `offsets`).
//!
//! Records are grouped per partition into batches of at most [`BATCH_BYTES`] (the Java
//! producer's `batch.size`), one batch per partition per Produce request; a partition is the
//! one given, else murmur2 of the key (Kafka's default partitioner), else one partition per
//! request chunk, round robin (the sticky partitioner's effect). Limits: [`MAX_RECORDS`]
//! records per request (more: an error line, and the stream ends), the body size
//! ([`super::MAX_BODY`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::formats::{self, Format, SchemaRef};
use super::{Answer, Rest, RestError, V2_JSON, V3_JSON};
use crate::cluster::now_ms;
use crate::http::{Request, Response};
use crate::protocol::partitioner::key_partition;

/// Records one request may carry.
pub const MAX_RECORDS: usize = 10_000;
/// The largest batch built for one partition (more records: another Produce request).
pub const BATCH_BYTES: usize = 16 * 1024;
/// Records produced (and answered) together in a v3 stream.
const CHUNK_RECORDS: usize = 1_000;

/// A record ready to produce.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: i64,
}

/// Where a produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Landed {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
}

/// The next unkeyed partition, across requests.
static STICKY: AtomicU32 = AtomicU32::new(0);

fn size(r: &Prepared) -> usize {
    r.key.as_ref().map_or(0, Vec::len)
        + r.value.as_ref().map_or(0, Vec::len)
        + r.headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
            .sum::<usize>()
        + 24
}

fn encode_batch(records: &[&Prepared]) -> Result<Bytes, RestError> {
    let recs: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(j, r)| {
            let mut headers = IndexMap::new();
            for (k, v) in &r.headers {
                headers.insert(StrBytes::from_string(k.clone()), v.clone().map(Bytes::from));
            }
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: j as i64,
                // The encoder keeps records in one batch while offset - sequence is
                // constant; this keeps the base sequence at -1 (no producer id).
                sequence: j as i32 - 1,
                timestamp: r.timestamp,
                key: r.key.clone().map(Bytes::from),
                value: r.value.clone().map(Bytes::from),
                headers,
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &recs,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| RestError::new(500, 50002, format!("Kafka error: encoding a batch: {e}")))?;
    Ok(buf.freeze())
}

/// Produce `records` to `topic` (of `partitions` partitions); one result per record, in
/// order.
pub async fn produce_all(
    rest: &Rest,
    topic: &str,
    partitions: i32,
    records: &[Prepared],
) -> Vec<Result<Landed, RestError>> {
    let n = records.len();
    let mut results: Vec<Option<Result<Landed, RestError>>> = vec![None; n];
    let count = partitions.max(1) as u32;
    let sticky = (STICKY.fetch_add(1, Ordering::Relaxed) % count) as i32;
    // partition → its batches (indexes into `records`), each within BATCH_BYTES.
    let mut batches: BTreeMap<i32, Vec<(usize, Vec<usize>)>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        let p = r.partition.unwrap_or_else(|| match &r.key {
            Some(k) => key_partition(k, count as usize) as i32,
            None => sticky,
        });
        let sz = size(r);
        let bs = batches.entry(p).or_default();
        match bs.last_mut() {
            Some((bytes, idxs)) if *bytes + sz <= BATCH_BYTES || idxs.is_empty() => {
                *bytes += sz;
                idxs.push(i);
            }
            _ => bs.push((sz, vec![i])),
        }
    }
    let rounds = batches.values().map(Vec::len).max().unwrap_or(0);
    for k in 0..rounds {
        let mut wire = Vec::new();
        let mut members = Vec::new();
        for (p, bs) in &batches {
            let Some((_, idxs)) = bs.get(k) else {
                continue;
            };
            let recs: Vec<&Prepared> = idxs.iter().map(|&i| &records[i]).collect();
            match encode_batch(&recs) {
                Ok(b) => {
                    wire.push((*p, b));
                    members.push((*p, idxs));
                }
                Err(e) => idxs.iter().for_each(|&i| results[i] = Some(Err(e.clone()))),
            }
        }
        if wire.is_empty() {
            continue;
        }
        match rest.produce(topic, wire).await {
            Ok(resps) => {
                for (p, idxs) in members {
                    let r = resps.iter().find(|r| r.index == p);
                    for (j, &i) in idxs.iter().enumerate() {
                        results[i] = Some(match r {
                            None => Err(RestError::kafka(3, None)),
                            Some(r) if r.error_code != 0 => Err(RestError::kafka(
                                r.error_code,
                                r.error_message.as_ref().map(|m| m.as_str()),
                            )),
                            Some(r) => Ok(Landed {
                                partition: p,
                                offset: r.base_offset + j as i64,
                                timestamp: if r.log_append_time_ms >= 0 {
                                    r.log_append_time_ms
                                } else {
                                    records[i].timestamp
                                },
                            }),
                        });
                    }
                }
            }
            Err(e) => {
                for (_, idxs) in members {
                    idxs.iter().for_each(|&i| results[i] = Some(Err(e.clone())));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(RestError::new(500, 50002, "Kafka error: not produced"))))
        .collect()
}

/// `{"error_code": …, "message": …}` of a per-record failure.
fn error_line(e: &RestError) -> Value {
    json!({ "error_code": e.code, "message": e.message })
}

/// v3's description of a key or value in the result.
#[derive(Debug, Clone)]
struct DataInfo {
    format: Format,
    schema: Option<formats::Resolved>,
    size: usize,
}

impl DataInfo {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(self.format.v3_name()));
        if let Some(r) = &self.schema {
            m.insert("subject".into(), json!(r.subject));
            m.insert("schema_id".into(), json!(r.id));
            m.insert("schema_version".into(), json!(r.version));
        }
        m.insert("size".into(), json!(self.size));
        Value::Object(m)
    }
}

/// One v3 produce object, serialized.
struct V3Record {
    record: Prepared,
    key: Option<DataInfo>,
    value: Option<DataInfo>,
}

fn bad(message: impl Into<String>) -> RestError {
    RestError::new(400, 400, message)
}

/// A key or value of a v3 produce object → (bytes, description).
async fn v3_data(
    rest: &Rest,
    topic: &str,
    is_key: bool,
    d: &Value,
) -> Result<(Option<Vec<u8>>, DataInfo), RestError> {
    let Value::Object(o) = d else {
        return Err(bad(format!(
            "Bad Request: {} must be an object",
            if is_key { "key" } else { "value" }
        )));
    };
    let str_field = |name: &str| -> Result<Option<String>, RestError> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad(format!("Bad Request: {name}={other} is not a string"))),
        }
    };
    let int_field = |name: &str| -> Result<Option<i32>, RestError> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| bad(format!("Bad Request: {name}={v} is not an integer"))),
        }
    };
    let format = match str_field("type")? {
        None => None,
        Some(t) => Some(
            Format::parse_v3(&t).ok_or_else(|| bad(format!("Bad Request: unknown type {t}")))?,
        ),
    };
    let data = o.get("data").cloned().unwrap_or(Value::Null);
    if let Some(f) = format.filter(|f| !f.needs_schema()) {
        let bytes = formats::encode_plain(f, &data)?;
        let size = bytes.as_ref().map_or(0, Vec::len);
        return Ok((
            bytes,
            DataInfo {
                format: f,
                schema: None,
                size,
            },
        ));
    }
    let r = SchemaRef {
        format,
        subject: str_field("subject")?,
        strategy: str_field("subject_name_strategy")?,
        schema_id: int_field("schema_id")?,
        schema_version: int_field("schema_version")?,
        raw_schema: str_field("schema")?,
    };
    let resolved = formats::resolve(&rest.registry, topic, is_key, &r).await?;
    let bytes = formats::encode_schema(&resolved, &data)?;
    let size = bytes.as_ref().map_or(0, Vec::len);
    Ok((
        bytes,
        DataInfo {
            format: formats::format_of(resolved.schema_type),
            schema: Some(resolved),
            size,
        },
    ))
}

async fn v3_record(rest: &Rest, topic: &str, v: &Value) -> Result<V3Record, RestError> {
    let Value::Object(o) = v else {
        return Err(bad("Bad Request: a produce request must be a JSON object"));
    };
    let partition = match o.get("partition_id") {
        None | Some(Value::Null) => None,
        Some(p) => match p.as_i64() {
            Some(p) if p < 0 => {
                return Err(RestError::new(404, 40402, "Partition not found."));
            }
            Some(p) => Some(
                i32::try_from(p).map_err(|_| RestError::new(404, 40402, "Partition not found."))?,
            ),
            None => {
                return Err(bad(format!(
                    "Bad Request: partition_id={p} is not an integer"
                )))
            }
        },
    };
    let mut headers = Vec::new();
    match o.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(hs)) => {
            for h in hs {
                let name = h
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("Bad Request: a header needs a string name"))?;
                let value = match h.get("value") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(formats::encode_plain(Format::Binary, v)?.unwrap_or_default()),
                };
                headers.push((name.to_string(), value));
            }
        }
        Some(other) => return Err(bad(format!("Bad Request: headers={other} is not an array"))),
    }
    let timestamp = match o.get("timestamp") {
        None | Some(Value::Null) => now_ms(),
        Some(Value::String(t)) => formats::parse_instant(t).ok_or_else(|| {
            bad(format!(
                "Bad Request: timestamp={t} is not an ISO-8601 instant"
            ))
        })?,
        Some(other) => {
            return Err(bad(format!(
                "Bad Request: timestamp={other} is not a string"
            )))
        }
    };
    let mut record = Prepared {
        partition,
        headers,
        timestamp,
        ..Default::default()
    };
    let key = match o.get("key") {
        None | Some(Value::Null) => None,
        Some(k) => {
            let (bytes, info) = v3_data(rest, topic, true, k).await?;
            record.key = bytes;
            Some(info)
        }
    };
    let value = match o.get("value") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let (bytes, info) = v3_data(rest, topic, false, v).await?;
            record.value = bytes;
            Some(info)
        }
    };
    Ok(V3Record { record, key, value })
}

/// `POST /v3/clusters/{c}/topics/{t}/records`.
pub async fn v3_records(rest: &Arc<Rest>, req: &Request, topic: &str) -> Answer {
    if let Some(ct) = req.header("content-type") {
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(V3_JSON) {
            return Err(RestError::unsupported_media_type());
        }
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::new(
            422,
            422,
            "Payload error. Request body is empty. Data is required.",
        ));
    }
    let md = rest.topic_metadata(topic).await?;
    let partitions = md.partitions.len() as i32;
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let rest = Arc::clone(rest);
    let body = req.body.clone();
    let topic = topic.to_string();
    tokio::spawn(super::USER.scope(super::current_user(), async move {
        stream_records(&rest, &topic, partitions, &body, tx).await;
    }));
    Ok(Response::stream(200, V3_JSON, rx))
}

/// Parse, produce and answer chunk by chunk until the body ends, a JSON error, the record
/// limit, or the client going away.
async fn stream_records(
    rest: &Rest,
    topic: &str,
    partitions: i32,
    body: &[u8],
    tx: mpsc::Sender<Bytes>,
) {
    let cluster = rest.broker.cluster_id.clone();
    let mut objects = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let mut seen = 0usize;
    let mut done = false;
    while !done {
        // One chunk: each slot an answer already known, or a record to produce.
        let mut slots: Vec<Result<V3Record, RestError>> = Vec::new();
        while slots.len() < CHUNK_RECORDS {
            match objects.next() {
                None => {
                    done = true;
                    break;
                }
                Some(Err(e)) => {
                    slots.push(Err(RestError::bad_json(e)));
                    done = true;
                    break;
                }
                Some(Ok(_)) if seen >= MAX_RECORDS => {
                    slots.push(Err(RestError::new(
                        413,
                        413,
                        format!("Too many records in one request: at most {MAX_RECORDS}."),
                    )));
                    done = true;
                    break;
                }
                Some(Ok(v)) => {
                    seen += 1;
                    slots.push(v3_record(rest, topic, &v).await);
                }
            }
        }
        let ready: Vec<Prepared> = slots
            .iter()
            .filter_map(|s| s.as_ref().ok().map(|r| r.record.clone()))
            .collect();
        let mut landed = produce_all(rest, topic, partitions, &ready)
            .await
            .into_iter();
        let mut out = String::new();
        for slot in &slots {
            let line = match slot {
                Err(e) => error_line(e),
                Ok(r) => match landed.next() {
                    Some(Ok(l)) => {
                        let mut m = Map::new();
                        m.insert("error_code".into(), json!(200));
                        m.insert("cluster_id".into(), json!(cluster));
                        m.insert("topic_name".into(), json!(topic));
                        m.insert("partition_id".into(), json!(l.partition));
                        m.insert("offset".into(), json!(l.offset));
                        m.insert("timestamp".into(), json!(formats::instant(l.timestamp)));
                        if let Some(k) = &r.key {
                            m.insert("key".into(), k.to_json());
                        }
                        if let Some(v) = &r.value {
                            m.insert("value".into(), v.to_json());
                        }
                        Value::Object(m)
                    }
                    Some(Err(e)) => error_line(&e),
                    None => error_line(&RestError::new(500, 50002, "Kafka error: not produced")),
                },
            };
            out.push_str(&line.to_string());
            out.push_str("\r\n");
        }
        if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
            return; // the client went away
        }
    }
}

/// The v2 produce's embedded format, from its Content-Type.
fn v2_format(req: &Request) -> Result<Format, RestError> {
    let ct = req.header("content-type").unwrap_or("");
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media
        .strip_prefix("application/vnd.kafka.")
        .and_then(|r| r.strip_suffix(".v2+json"))
        .and_then(Format::parse_v2)
        .ok_or_else(RestError::unsupported_media_type)
}

/// A v2 schema given by id or text, for keys or values.
async fn v2_schema(
    rest: &Rest,
    topic: &str,
    is_key: bool,
    id: Option<i32>,
    text: Option<String>,
    format: Format,
) -> Result<formats::Resolved, RestError> {
    let r = SchemaRef {
        format: if id.is_some() { None } else { Some(format) },
        schema_id: id,
        raw_schema: text,
        ..Default::default()
    };
    let resolved = formats::resolve(&rest.registry, topic, is_key, &r).await?;
    if formats::format_of(resolved.schema_type) != format {
        return Err(RestError::new(
            422,
            42205,
            format!(
                "Schema {} is of type {}, not the request's {}",
                resolved.id,
                resolved.schema_type.name(),
                format.v3_name()
            ),
        ));
    }
    Ok(resolved)
}

/// `POST /topics/{t}` and `POST /topics/{t}/partitions/{p}`.
pub async fn v2_produce(
    rest: &Arc<Rest>,
    req: &Request,
    topic: &str,
    partition: Option<i32>,
) -> Answer {
    let format = v2_format(req)?;
    #[derive(serde::Deserialize)]
    struct Rec {
        #[serde(default)]
        key: Value,
        #[serde(default)]
        value: Value,
        partition: Option<i32>,
    }
    #[derive(serde::Deserialize)]
    struct Body {
        records: Vec<Rec>,
        key_schema: Option<String>,
        key_schema_id: Option<i32>,
        value_schema: Option<String>,
        value_schema_id: Option<i32>,
    }
    let body: Body = super::parse_body(req)?;
    if body.records.len() > MAX_RECORDS {
        return Err(RestError::new(
            413,
            413,
            format!("Too many records in one request: at most {MAX_RECORDS}."),
        ));
    }
    let md = rest
        .topic_metadata(topic)
        .await
        .map_err(|_| RestError::new(404, 40401, "Topic not found."))?;
    let partitions = md.partitions.len() as i32;
    if partition.is_some_and(|p| !md.partitions.iter().any(|x| x.partition_index == p)) {
        return Err(RestError::new(404, 40402, "Partition not found."));
    }
    let (mut key_schema, mut value_schema) = (None, None);
    if format.needs_schema() {
        let any_key = body.records.iter().any(|r| !r.key.is_null());
        let any_value = body.records.iter().any(|r| !r.value.is_null());
        if any_key && body.key_schema.is_none() && body.key_schema_id.is_none() {
            return Err(RestError::new(
                422,
                42201,
                "Request includes keys but does not include key schema",
            ));
        }
        if any_value && body.value_schema.is_none() && body.value_schema_id.is_none() {
            return Err(RestError::new(
                422,
                42202,
                "Request includes values but does not include value schema",
            ));
        }
        if any_key {
            key_schema = Some(
                v2_schema(
                    rest,
                    topic,
                    true,
                    body.key_schema_id,
                    body.key_schema,
                    format,
                )
                .await?,
            );
        }
        if any_value {
            value_schema = Some(
                v2_schema(
                    rest,
                    topic,
                    false,
                    body.value_schema_id,
                    body.value_schema,
                    format,
                )
                .await?,
            );
        }
    }
    let conversion = |e: RestError| {
        RestError::new(
            422,
            42203,
            format!("Conversion of JSON to Object failed: {}", e.message),
        )
    };
    let now = now_ms();
    let mut records = Vec::with_capacity(body.records.len());
    for r in &body.records {
        let encode = |schema: &Option<formats::Resolved>, v: &Value| match schema {
            Some(s) => formats::encode_schema(s, v),
            None => formats::encode_plain(format, v),
        };
        records.push(Prepared {
            partition: partition.or(r.partition),
            key: encode(&key_schema, &r.key).map_err(conversion)?,
            value: encode(&value_schema, &r.value).map_err(conversion)?,
            headers: Vec::new(),
            timestamp: now,
        });
    }
    let results = produce_all(rest, topic, partitions, &records).await;
    let offsets: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(l) => json!({"partition": l.partition, "offset": l.offset, "error_code": null, "error": null}),
            Err(e) => {
                // AbstractProduceAction.errorCodeFromProducerException.
                let code = match e.code {
                    40101 | 40301 | 50003 => e.code,
                    _ => 50002,
                };
                json!({"partition": null, "offset": null, "error_code": code, "error": e.message})
            }
        })
        .collect();
    Ok(Response::json(
        200,
        V2_JSON,
        &json!({
            "offsets": offsets,
            "key_schema_id": key_schema.map(|s| s.id),
            "value_schema_id": value_schema.map(|s| s.id),
        }),
    ))
}
