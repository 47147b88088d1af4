//! REST Proxy API v2: topic metadata (`/topics`, `/brokers`), produce (`POST /topics/{t}`,
//! in [`super::produce`]) and consumer instances (`/consumers/{group}/…`, in
//! [`super::consumers`]). Responses are `application/vnd.kafka.v2+json`; record reads answer
//! in the embedded type asked for.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use serde_json::{json, Value};

use super::consumers::{illegal_state, Instance, InstanceConfig, Reset, Sub, Tp};
use super::formats::{self, Format};
use super::{base_url, json_body, parse_body, Answer, Rest, RestError, V2_JSON};
use crate::http::{percent_encode, Request, Response};

/// The longest an instance's `consumer.request.timeout.ms` may make a records read wait.
const MAX_READ_WAIT_MS: u64 = 60_000;

fn ok(v: &Value) -> Answer {
    Ok(Response::json(200, V2_JSON, v))
}

fn only(req: &Request, m: Method) -> Result<(), RestError> {
    if req.method == m {
        Ok(())
    } else {
        Err(RestError::method_not_allowed())
    }
}

/// Request bodies of the consumer endpoints: JSON, v2's types or none.
fn check_json_body(req: &Request) -> Result<(), RestError> {
    let Some(ct) = req.header("content-type") else {
        return Ok(());
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = media == "application/json"
        || (media.starts_with("application/vnd.kafka.") && media.ends_with("+json"));
    if json || media.is_empty() {
        Ok(())
    } else {
        Err(RestError::unsupported_media_type())
    }
}

pub async fn route(rest: &Arc<Rest>, req: &Request) -> Answer {
    let segs = req.segs();
    match segs.as_slice() {
        ["brokers"] => {
            only(req, Method::GET)?;
            let md = rest.metadata(Some(&[])).await?;
            let mut ids: Vec<i32> = md.brokers.iter().map(|b| b.node_id.0).collect();
            ids.sort_unstable();
            ok(&json!({ "brokers": ids }))
        }
        ["topics"] => {
            only(req, Method::GET)?;
            let md = rest.metadata(None).await?;
            let mut names: Vec<&str> = md
                .topics
                .iter()
                .filter(|t| t.error_code == 0 && !t.is_internal)
                .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str()))
                .collect();
            names.sort_unstable();
            ok(&json!(names))
        }
        ["topics", t] => match req.method {
            Method::GET => topic(rest, t).await,
            Method::POST => super::produce::v2_produce(rest, req, t, None).await,
            _ => Err(RestError::method_not_allowed()),
        },
        ["topics", t, "partitions"] => {
            only(req, Method::GET)?;
            let md = rest.topic_metadata(t).await?;
            let mut parts: Vec<Value> = md.partitions.iter().map(partition).collect();
            parts.sort_by_key(|p| p["partition"].as_i64());
            ok(&json!(parts))
        }
        ["topics", t, "partitions", p] => {
            let p: i32 = p
                .parse()
                .map_err(|_| RestError::new(404, 40402, "Partition not found."))?;
            match req.method {
                Method::GET => {
                    let md = rest.topic_metadata(t).await?;
                    md.partitions
                        .iter()
                        .find(|x| x.partition_index == p)
                        .map_or_else(
                            || Err(RestError::new(404, 40402, "Partition not found.")),
                            |x| ok(&partition(x)),
                        )
                }
                Method::POST => super::produce::v2_produce(rest, req, t, Some(p)).await,
                _ => Err(RestError::method_not_allowed()),
            }
        }
        ["consumers", g] => {
            only(req, Method::POST)?;
            check_json_body(req)?;
            create(rest, req, g)
        }
        ["consumers", g, "instances", i] => {
            only(req, Method::DELETE)?;
            let inst = rest.consumers.remove(g, i)?;
            inst.shutdown(rest).await;
            Ok(Response::no_content())
        }
        ["consumers", g, "instances", i, tail @ ..] => {
            if req.method == Method::POST {
                check_json_body(req)?;
            }
            instance(rest, req, g, i, tail).await
        }
        _ => Err(RestError::not_found()),
    }
}

fn partition(p: &kafka_protocol::messages::metadata_response::MetadataResponsePartition) -> Value {
    let replicas: Vec<Value> = p
        .replica_nodes
        .iter()
        .map(|b| {
            json!({
                "broker": b.0,
                "leader": b.0 == p.leader_id.0,
                "in_sync": p.isr_nodes.contains(b),
            })
        })
        .collect();
    json!({ "partition": p.partition_index, "leader": p.leader_id.0, "replicas": replicas })
}

async fn topic(rest: &Rest, t: &str) -> Answer {
    let md = rest.topic_metadata(t).await?;
    let configs = rest.topic_configs(t).await?;
    let configs: serde_json::Map<String, Value> = configs
        .configs
        .iter()
        .map(|c| {
            (
                c.name.as_str().to_string(),
                c.value.as_ref().map_or(Value::Null, |v| json!(v.as_str())),
            )
        })
        .collect();
    let mut parts: Vec<Value> = md.partitions.iter().map(partition).collect();
    parts.sort_by_key(|p| p["partition"].as_i64());
    ok(&json!({ "name": t, "configs": configs, "partitions": parts }))
}

fn invalid_config(message: String) -> RestError {
    RestError::new(
        422,
        42204,
        format!("Invalid consumer configuration: {message}"),
    )
}

/// A config value given as a string or a JSON scalar.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn instance_config(body: &Value) -> Result<InstanceConfig, RestError> {
    let get = |k: &str| body.get(k).filter(|v| !v.is_null());
    let name = match get("id").or_else(|| get("name")) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => s.clone(),
        Some(other) => return Err(invalid_config(format!("invalid instance name {other}"))),
        None => format!("rest-consumer-{}", uuid::Uuid::new_v4()),
    };
    let format = match get("format").and_then(text) {
        None => Format::Binary,
        Some(f) => match Format::parse_v2(&f) {
            Some(f) => f,
            None => return Err(invalid_config(format!("unknown format {f}"))),
        },
    };
    let reset = match get("auto.offset.reset").and_then(text).as_deref() {
        None | Some("latest" | "largest") => Reset::Latest,
        Some("earliest" | "smallest") => Reset::Earliest,
        Some("none") => Reset::None,
        Some(other) => {
            return Err(invalid_config(format!(
                "Invalid value {other} for configuration auto.offset.reset: String must be one of: latest, earliest, none"
            )))
        }
    };
    let auto_commit = match get("auto.commit.enable").and_then(text).as_deref() {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            return Err(invalid_config(format!(
                "Invalid value {other} for configuration auto.commit.enable: Expected value to be either true or false"
            )))
        }
    };
    let int = |k: &str| -> Result<Option<i64>, RestError> {
        match get(k).and_then(text) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| invalid_config(format!("Invalid value {v} for configuration {k}"))),
        }
    };
    let fetch_min_bytes =
        int("fetch.min.bytes")?.map_or(1, |n| i32::try_from(n).unwrap_or(i32::MAX));
    let request_timeout = int("consumer.request.timeout.ms")?
        .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0).min(MAX_READ_WAIT_MS)));
    Ok(InstanceConfig {
        name,
        format,
        reset,
        auto_commit,
        fetch_min_bytes,
        request_timeout,
    })
}

fn create(rest: &Arc<Rest>, req: &Request, group: &str) -> Answer {
    let body = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        json_body(req)?
    };
    if !body.is_object() {
        return Err(RestError::unprocessable(
            "The request body must be a JSON object",
        ));
    }
    let cfg = instance_config(&body)?;
    let inst = rest.consumers.create(rest, group, cfg)?;
    ok(&json!({
        "instance_id": inst.name,
        "base_uri": format!(
            "{}/consumers/{}/instances/{}",
            base_url(req),
            percent_encode(group),
            percent_encode(&inst.name)
        ),
    }))
}

/// `[{"topic","partition"}]` → partitions.
fn partitions_of(v: &Value, field: &str) -> Result<Vec<Tp>, RestError> {
    let list = v
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| RestError::unprocessable(format!("{field} must be an array")))?;
    list.iter()
        .map(|p| {
            let t = p.get("topic").and_then(Value::as_str);
            let n = p
                .get("partition")
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok());
            match (t, n) {
                (Some(t), Some(n)) => Ok((t.to_string(), n)),
                _ => Err(RestError::unprocessable(
                    "each partition needs a topic and a partition",
                )),
            }
        })
        .collect()
}

/// `[{"topic","partition","offset"[,"metadata"]}]` → offsets.
fn offsets_of(v: &Value) -> Result<Vec<(Tp, i64, String)>, RestError> {
    let list = v
        .get("offsets")
        .and_then(Value::as_array)
        .ok_or_else(|| RestError::unprocessable("offsets must be an array"))?;
    list.iter()
        .map(|o| {
            let t = o.get("topic").and_then(Value::as_str);
            let p = o
                .get("partition")
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok());
            let off = o.get("offset").and_then(Value::as_i64);
            let meta = o
                .get("metadata")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match (t, p, off) {
                (Some(t), Some(p), Some(off)) => Ok(((t.to_string(), p), off, meta)),
                _ => Err(RestError::unprocessable(
                    "each offset needs a topic, a partition and an offset",
                )),
            }
        })
        .collect()
}

fn has_body(req: &Request) -> bool {
    !req.body.iter().all(u8::is_ascii_whitespace)
}

async fn instance(rest: &Arc<Rest>, req: &Request, g: &str, i: &str, tail: &[&str]) -> Answer {
    let inst = rest.consumers.get(g, i)?;
    match tail {
        ["subscription"] => subscription(req, &inst).await,
        ["assignments"] => assignments(req, &inst).await,
        ["positions"] => {
            only(req, Method::POST)?;
            let offsets: Vec<(Tp, i64)> = offsets_of(&json_body(req)?)?
                .into_iter()
                .map(|(tp, o, _)| (tp, o))
                .collect();
            inst.seek(&offsets).await?;
            Ok(Response::no_content())
        }
        ["positions", end @ ("beginning" | "end")] => {
            only(req, Method::POST)?;
            let parts = partitions_of(&json_body(req)?, "partitions")?;
            let ts = if *end == "beginning" {
                super::calls::EARLIEST
            } else {
                super::calls::LATEST
            };
            let mut offsets = Vec::new();
            for (tp, r) in rest.list_offsets(&parts, ts, 0).await? {
                let o = r.map_err(|code| RestError::kafka(code, None))?;
                offsets.push((tp, o));
            }
            inst.seek(&offsets).await?;
            Ok(Response::no_content())
        }
        ["offsets"] => offsets(rest, req, &inst).await,
        ["records"] => {
            only(req, Method::GET)?;
            records(rest, req, &inst).await
        }
        _ => Err(RestError::not_found()),
    }
}

const EXCLUSIVE: &str = "Subscription to topics, partitions and pattern are mutually exclusive";

async fn subscription(req: &Request, inst: &Instance) -> Answer {
    match req.method {
        Method::POST => {
            #[derive(serde::Deserialize)]
            struct Subscribe {
                topics: Option<Vec<String>>,
                topic_pattern: Option<String>,
            }
            if !has_body(req) {
                return Ok(Response::no_content());
            }
            let body: Subscribe = parse_body(req)?;
            let new = match (body.topics, body.topic_pattern) {
                (Some(ts), _) if ts.is_empty() => Sub::None,
                (Some(ts), _) => Sub::Topics(ts),
                (None, Some(p)) => {
                    let re = regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                        RestError::unprocessable(format!("Invalid topic_pattern: {e}"))
                    })?;
                    Sub::Pattern(p, re)
                }
                (None, None) => {
                    return Err(RestError::unprocessable(
                        "A subscription needs topics or a topic_pattern",
                    ))
                }
            };
            let current = inst.state.lock().await.sub.clone();
            let clash = matches!(
                (&current, &new),
                (Sub::Assigned(_), Sub::Topics(_) | Sub::Pattern(..))
                    | (Sub::Topics(_), Sub::Pattern(..))
                    | (Sub::Pattern(..), Sub::Topics(_))
            );
            if clash {
                return Err(illegal_state(EXCLUSIVE));
            }
            inst.set_sub(new).await;
            Ok(Response::no_content())
        }
        Method::GET => ok(&json!({ "topics": inst.subscription().await })),
        Method::DELETE => {
            inst.set_sub(Sub::None).await;
            Ok(Response::no_content())
        }
        _ => Err(RestError::method_not_allowed()),
    }
}

async fn assignments(req: &Request, inst: &Instance) -> Answer {
    match req.method {
        Method::POST => {
            let parts = partitions_of(&json_body(req)?, "partitions")?;
            let current = inst.state.lock().await.sub.clone();
            if matches!(current, Sub::Topics(_) | Sub::Pattern(..)) {
                return Err(illegal_state(EXCLUSIVE));
            }
            inst.set_sub(if parts.is_empty() {
                Sub::None
            } else {
                Sub::Assigned(parts)
            })
            .await;
            Ok(Response::no_content())
        }
        Method::GET => {
            let parts: Vec<Value> = inst
                .assignment()
                .await
                .into_iter()
                .map(|(t, p)| json!({"topic": t, "partition": p}))
                .collect();
            ok(&json!({ "partitions": parts }))
        }
        _ => Err(RestError::method_not_allowed()),
    }
}

async fn offsets(rest: &Rest, req: &Request, inst: &Instance) -> Answer {
    match req.method {
        Method::POST => {
            if has_body(req) {
                // Confluent commits the offset after the one named.
                let offsets: Vec<(Tp, i64, String)> = offsets_of(&json_body(req)?)?
                    .into_iter()
                    .map(|(tp, o, meta)| (tp, o + 1, meta))
                    .collect();
                inst.commit(rest, &offsets).await?;
            } else {
                inst.commit_consumed(rest).await?;
            }
            ok(&json!([]))
        }
        Method::GET => {
            if !has_body(req) {
                return Err(RestError::new(404, 40402, "Partition not found."));
            }
            let parts = partitions_of(&json_body(req)?, "partitions")?;
            let committed = rest.committed_offsets(&inst.group, Some(&parts)).await?;
            let offsets: Vec<Value> = committed
                .into_iter()
                .map(|(t, p, o, meta)| {
                    json!({"topic": t, "partition": p, "offset": o, "metadata": meta})
                })
                .collect();
            ok(&json!({ "offsets": offsets }))
        }
        _ => Err(RestError::method_not_allowed()),
    }
}

/// A query parameter as a positive number.
fn positive(req: &Request, name: &str) -> Option<u64> {
    req.param(name)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
}

async fn records(rest: &Rest, req: &Request, inst: &Instance) -> Answer {
    let (format, media) = records_format(req.header("accept"))?;
    if format != inst.format {
        return Err(RestError::new(
            406,
            40601,
            "The requested embedded data format does not match the deserializer for this consumer instance",
        ));
    }
    let limits = &rest.consumers.limits;
    let default_wait = inst.request_timeout.unwrap_or(limits.request_timeout);
    let wait = positive(req, "timeout").map_or(default_wait, |ms| {
        default_wait.min(Duration::from_millis(ms))
    });
    let max_bytes = positive(req, "max_bytes").map_or(limits.max_response_bytes, |b| {
        limits
            .max_response_bytes
            .min(usize::try_from(b).unwrap_or(usize::MAX))
    });
    let records = inst.read(rest, wait, max_bytes).await?;
    let mut out = Vec::with_capacity(records.len());
    let mut cache = formats::SchemaCache::new();
    for (n, r) in records.iter().enumerate() {
        let conv = match format {
            f if f.needs_schema() => {
                let k =
                    formats::decode_schema(&rest.registry, &mut cache, f, r.key.as_deref()).await;
                let v =
                    formats::decode_schema(&rest.registry, &mut cache, f, r.value.as_deref()).await;
                k.and_then(|k| v.map(|v| (k, v)))
            }
            f => formats::decode_plain(f, r.key.as_deref())
                .and_then(|k| formats::decode_plain(f, r.value.as_deref()).map(|v| (k, v))),
        };
        match conv {
            Ok((k, v)) => out.push(json!({
                "topic": r.topic, "key": k, "value": v,
                "partition": r.partition, "offset": r.offset,
            })),
            Err(e) => {
                // Not handed out: this record and the ones after it stay first in line. The
                // records before it are answered; when it is the first, the read fails (the
                // instance stays there until a seek, as Confluent's).
                inst.unread(records[n..].to_vec()).await;
                if out.is_empty() {
                    return Err(RestError::new(
                        500,
                        50002,
                        format!(
                            "Kafka error: Error deserializing key/value for partition {}-{} at offset {}: {e}",
                            r.topic, r.partition, r.offset
                        ),
                    ));
                }
                break;
            }
        }
    }
    Ok(Response::json(200, &media, &json!(out)))
}

/// The embedded format a records read asks for (Accept), and the type to answer in.
fn records_format(accept: Option<&str>) -> Result<(Format, String), RestError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok((Format::Binary, Format::Binary.v2_media_type()));
    };
    for item in accept.split(',') {
        let media = item
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "*/*" | "application/*" | "application/vnd.kafka.binary.v2+json" => {
                return Ok((Format::Binary, Format::Binary.v2_media_type()))
            }
            V2_JSON => return Ok((Format::Binary, V2_JSON.to_string())),
            m => {
                if let Some(f) = m
                    .strip_prefix("application/vnd.kafka.")
                    .and_then(|r| r.strip_suffix(".v2+json"))
                    .and_then(Format::parse_v2)
                {
                    return Ok((f, media.clone()));
                }
            }
        }
    }
    Err(RestError::new(406, 406, "HTTP 406 Not Acceptable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_accept_picks_the_format() {
        assert_eq!(records_format(None).unwrap().0, Format::Binary);
        assert_eq!(
            records_format(Some("application/vnd.kafka.json.v2+json")).unwrap(),
            (
                Format::Json,
                "application/vnd.kafka.json.v2+json".to_string()
            )
        );
        assert_eq!(
            records_format(Some("application/vnd.kafka.v2+json")).unwrap(),
            (Format::Binary, V2_JSON.to_string())
        );
        assert_eq!(records_format(Some("text/html")).unwrap_err().status, 406);
    }

    #[test]
    fn instance_configs_parse_like_confluents() {
        let c = instance_config(&json!({"name": "a", "format": "json",
            "auto.offset.reset": "earliest", "auto.commit.enable": "false"}))
        .unwrap();
        assert_eq!(
            (c.name.as_str(), c.format, c.reset, c.auto_commit),
            ("a", Format::Json, Reset::Earliest, false)
        );
        let d = instance_config(&json!({})).unwrap();
        assert!(d.name.starts_with("rest-consumer-"));
        assert_eq!(
            (d.format, d.reset, d.auto_commit),
            (Format::Binary, Reset::Latest, true)
        );
        let e = instance_config(&json!({"auto.offset.reset": "soon"})).unwrap_err();
        assert_eq!((e.status, e.code), (422, 42204));
        assert_eq!(
            instance_config(&json!({"format": "protobuf"}))
                .map(|c| c.format)
                .ok(),
            Some(Format::Protobuf)
        );
        assert_eq!(
            instance_config(&json!({"format": "xml"})).unwrap_err().code,
            42204
        );
    }
}
