//! What every console endpoint shares: the request context (the broker, the registry, the
//! in-process Kafka connection), the error type and its JSON body, and the Kafka queries
//! several pages make (Metadata, ListOffsets, DescribeLogDirs).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    DescribeLogDirsRequest, ListOffsetsRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::ResponseError;
use serde_json::json;

use crate::api::ConnectionInfo;
use crate::cluster::Broker;
use crate::http::kafka::{call, connection_as};
use crate::http::Response;
use crate::server::registry_runtime::Registry;

/// The client id the console's in-process requests carry (the broker's logs show it).
pub const CLIENT_ID: &str = "skua-console";

/// ListOffsets' special timestamps.
pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;

/// One request's context.
pub struct Ctx {
    pub broker: Arc<Broker>,
    pub registry: Arc<Registry>,
    conn: Arc<ConnectionInfo>,
}

impl Ctx {
    /// The calls of one request, as `user` (Basic-authenticated) or `User:ANONYMOUS`.
    pub fn new(
        broker: Arc<Broker>,
        registry: Arc<Registry>,
        peer: Option<SocketAddr>,
        user: Option<&str>,
    ) -> Ctx {
        Ctx {
            broker,
            registry,
            conn: connection_as(peer, user),
        }
    }

    /// Call a Kafka API handler of this broker; a failure of the call itself (not a Kafka
    /// error code, which is in the response) is a 500.
    pub async fn call<R>(&self, version: i16, req: R) -> Result<R::Response, ApiError>
    where
        R: Request + Encodable,
        R::Response: Decodable + HeaderVersion,
    {
        call(&self.broker, &self.conn, CLIENT_ID, version, req)
            .await
            .map_err(|e| ApiError::new(500, "INTERNAL", format!("in-process Kafka call: {e}")))
    }
}

/// A console API error: an HTTP status, a name (Kafka's error name when a handler refused)
/// and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, error: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.to_string(),
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BAD_REQUEST", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NOT_FOUND", message)
    }

    /// A Kafka error code a handler answered, about `what`.
    pub fn kafka(code: i16, message: Option<&StrBytes>, what: &str) -> ApiError {
        let detail = message.map(|m| m.as_str()).filter(|m| !m.is_empty());
        let name = error_name(code);
        let message = match detail {
            Some(d) => format!("{what}: {name}: {d}"),
            None => format!("{what}: {name}"),
        };
        ApiError {
            status: kafka_status(code),
            error: name,
            message,
        }
    }

    pub fn response(&self) -> Response {
        Response::json(
            self.status,
            "application/json",
            &json!({ "error": self.error, "message": self.message }),
        )
        .with_header("cache-control", "no-store")
    }
}

/// Ok for code 0, else the Kafka error.
pub fn check(code: i16, message: Option<&StrBytes>, what: &str) -> Result<(), ApiError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ApiError::kafka(code, message, what))
    }
}

pub use crate::api::errors::error_name;

/// The HTTP status of a Kafka error: the thing is missing (404), exists or is busy (409),
/// denied (403), retriable (503: leadership moving, coordinator loading…), else the request
/// was refused as invalid (400).
pub fn kafka_status(code: i16) -> u16 {
    match code {
        3 | 69 | 91 | 100 => 404, // UNKNOWN_TOPIC_OR_PARTITION, GROUP_ID_NOT_FOUND, RESOURCE_NOT_FOUND, UNKNOWN_TOPIC_ID
        36 | 68 | 25 | 22 | 27 => 409, // TOPIC_ALREADY_EXISTS, NON_EMPTY_GROUP, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS
        29..=31 | 53 => 403,           // topic/group/cluster/transactional-id authorization
        _ => match ResponseError::try_from_code(code) {
            Some(e) if e.is_retriable() => 503,
            _ => 400,
        },
    }
}

pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

/// Metadata v12 of `topics` (None: every topic, internal ones included).
pub async fn metadata(ctx: &Ctx, topics: Option<&[&str]>) -> Result<MetadataResponse, ApiError> {
    let req = crate::http::kafka::metadata_request(topics);
    ctx.call(12, req).await
}

/// One partition's answer to ListOffsets: (offset, timestamp), or a Kafka error code.
pub type OffsetAnswer = Result<(i64, i64), i16>;

/// ListOffsets v7 at `timestamp` (or [`LATEST`] / [`EARLIEST`]) for `parts`.
pub async fn list_offsets(
    ctx: &Ctx,
    parts: &[(String, i32)],
    timestamp: i64,
) -> Result<BTreeMap<(String, i32), OffsetAnswer>, ApiError> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in parts {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    if by_topic.is_empty() {
        return Ok(BTreeMap::new());
    }
    let req = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_isolation_level(0)
        .with_topics(
            by_topic
                .iter()
                .map(|(t, ps)| {
                    ListOffsetsTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(
                            ps.iter()
                                .map(|p| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(*p)
                                        .with_current_leader_epoch(-1)
                                        .with_timestamp(timestamp)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    let resp = ctx.call(7, req).await?;
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            let v = if p.error_code == 0 {
                Ok((p.offset, p.timestamp))
            } else {
                Err(p.error_code)
            };
            out.insert((t.name.0.as_str().to_string(), p.partition_index), v);
        }
    }
    Ok(out)
}

/// Log start and end offsets of `parts` (partitions whose leader is elsewhere, or that
/// answer an error, are missing).
pub async fn offset_ranges(
    ctx: &Ctx,
    parts: &[(String, i32)],
) -> Result<HashMap<(String, i32), (i64, i64)>, ApiError> {
    let start = list_offsets(ctx, parts, EARLIEST).await?;
    let end = list_offsets(ctx, parts, LATEST).await?;
    Ok(start
        .into_iter()
        .filter_map(|(k, s)| {
            let (s, _) = s.ok()?;
            let (e, _) = end.get(&k)?.ok()?;
            Some((k, (s, e)))
        })
        .collect())
}

/// CLUSTER_AUTHORIZATION_FAILED.
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;

/// Partition sizes on this broker's log directories (DescribeLogDirs v4); `topics` None:
/// every topic. None when the user may not describe the cluster (DescribeLogDirs needs
/// DESCRIBE on it): the pages then show no sizes rather than fail.
pub async fn log_sizes(
    ctx: &Ctx,
    topics: Option<&[(String, Vec<i32>)]>,
) -> Result<Option<HashMap<(String, i32), i64>>, ApiError> {
    let req = DescribeLogDirsRequest::default().with_topics(topics.map(|ts| {
        ts.iter()
            .map(|(t, ps)| {
                DescribableLogDirTopic::default()
                    .with_topic(topic_name(t))
                    .with_partitions(ps.clone())
            })
            .collect()
    }));
    let resp = ctx.call(4, req).await?;
    if resp.error_code == CLUSTER_AUTHORIZATION_FAILED {
        return Ok(None);
    }
    check(resp.error_code, None, "DescribeLogDirs")?;
    let mut out = HashMap::new();
    for dir in resp.results.into_iter().filter(|d| d.error_code == 0) {
        for t in dir.topics {
            for p in t.partitions.into_iter().filter(|p| !p.is_future_key) {
                *out.entry((t.name.0.as_str().to_string(), p.partition_index))
                    .or_insert(0) += p.partition_size;
            }
        }
    }
    Ok(Some(out))
}

/// A required path or body string that must not be empty.
pub fn non_empty<'a>(v: &'a str, what: &str) -> Result<&'a str, ApiError> {
    if v.trim().is_empty() {
        Err(ApiError::bad_request(format!("{what} is empty")))
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_have_names_and_statuses() {
        assert_eq!(error_name(36), "TOPIC_ALREADY_EXISTS");
        assert_eq!(error_name(40), "INVALID_CONFIG");
        assert_eq!(kafka_status(36), 409);
        assert_eq!(kafka_status(3), 404);
        assert_eq!(kafka_status(40), 400);
        assert_eq!(kafka_status(6), 503); // NOT_LEADER_OR_FOLLOWER
        let e = ApiError::kafka(37, Some(&str_bytes("must be > 0")), "create topic x");
        assert_eq!(e.status, 400);
        assert_eq!(e.error, "INVALID_PARTITIONS");
        assert_eq!(e.message, "create topic x: INVALID_PARTITIONS: must be > 0");
    }
}
