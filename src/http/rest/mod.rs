//! The HTTP proxy (`--rest-proxy-listen`, default 127.0.0.1:8082): Confluent's REST Proxy
//! API v3 (`/v3/clusters/…`: cluster, brokers, topics, partitions, configs, consumer groups
//! and lags, streaming produce) and v2 (`/topics`, `/consumers/…`: produce and consumer
//! instances), with Confluent's paths, bodies, status codes and `{"error_code","message"}`
//! errors. docs/http-proxy.md lists the endpoints and the differences.
//!
//! Every read and write goes through the broker's own Kafka API handlers, in-process
//! ([`calls`]): the proxy is a Kafka client that skips the network, so Kafka's validation,
//! offsets and error codes apply. A v2 consumer instance is a real member of its group
//! ([`consumers`]).
//!
//! Layout: [`v3`] (clusters, brokers, topics, partitions, configs), [`groups`] (v3 consumer
//! groups, consumers, lags), [`produce`] (v3 record stream, v2 produce), [`formats`] (the
//! embedded data formats; schemas from the registry), [`consumers`] (v2 instances) and
//! [`member`] (their group membership), [`v2`] (v2 routes). Limits: request bodies
//! [`MAX_BODY`]; the others next to what they bound ([`produce::MAX_RECORDS`],
//! [`consumers::Limits`]).

pub mod calls;
pub mod consumers;
pub mod formats;
mod groups;
mod member;
pub mod produce;
mod v2;
mod v3;

use std::sync::Arc;

use futures::future::BoxFuture;
use hyper::Method;
use serde_json::{json, Value};

use super::{Request, Response, Service};
use crate::api::ConnectionInfo;
use crate::cluster::Broker;
use crate::server::registry_runtime::Registry;

/// v3's content type.
pub const V3_JSON: &str = "application/json";
/// v2's content type.
pub const V2_JSON: &str = "application/vnd.kafka.v2+json";
/// The largest request body (a produce request and all its records).
pub const MAX_BODY: usize = 8 << 20;

/// An error answer: HTTP status, Confluent error code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: u16,
    pub code: i32,
    pub message: String,
}

impl RestError {
    pub fn new(status: u16, code: i32, message: impl Into<String>) -> RestError {
        RestError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found() -> RestError {
        RestError::new(404, 404, "HTTP 404 Not Found")
    }

    pub fn method_not_allowed() -> RestError {
        RestError::new(405, 405, "HTTP 405 Method Not Allowed")
    }

    pub fn unsupported_media_type() -> RestError {
        RestError::new(415, 415, "HTTP 415 Unsupported Media Type")
    }

    /// A body that is not JSON (Jersey's JsonParseException mapping: 400).
    pub fn bad_json(e: impl std::fmt::Display) -> RestError {
        RestError::new(400, 400, format!("Error processing JSON: {e}"))
    }

    /// A JSON body of the wrong shape (a constraint violation: 422).
    pub fn unprocessable(message: impl Into<String>) -> RestError {
        RestError::new(422, 422, message)
    }

    /// A Kafka error code as Confluent's KafkaExceptionMapper answers it (rest-utils):
    /// `message` is the broker's, else Kafka's text for the code.
    pub fn kafka(code: i16, message: Option<&str>) -> RestError {
        let text = message
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| kafka_message(code));
        let (status, rest_code) = match code {
            3 => (404, 40403),
            58 => (401, 40101),
            29..=31 | 53 => (403, 40301),
            8 => (503, 50302),
            89 => (429, 42901),
            17 | 35 | 36..=40 | 42 | 44 | 73 | -1 => (400, 40002),
            c if is_retriable(c) => (500, 50003),
            _ => (500, 50002),
        };
        RestError::new(status, rest_code, text)
    }
}

/// Whether Kafka's client counts `code` as retriable (a RetriableException).
pub fn is_retriable(code: i16) -> bool {
    kafka_protocol::error::ResponseError::try_from_code(code).is_some_and(|e| e.is_retriable())
}

/// Kafka's text for the error codes the proxy meets most (others: the code's name).
pub fn kafka_message(code: i16) -> String {
    let m = match code {
        -1 => "The server experienced an unexpected error when processing the request.",
        2 => "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.",
        3 => "This server does not host this topic-partition.",
        5 => "There is no leader for this topic-partition as we are in the middle of a leadership election.",
        6 => "For requests intended only for the leader, this error indicates that the broker is not the current leader. For requests intended for any replica, this error indicates that the broker is not a replica of the topic partition.",
        7 => "The request timed out.",
        8 => "The broker is not available.",
        10 => "The request included a message larger than the max message size the server will accept.",
        14 => "The coordinator is loading and hence can't process requests.",
        15 => "The coordinator is not available.",
        16 => "This is not the correct coordinator.",
        17 => "The request attempted to perform an operation on an invalid topic.",
        19 => "Messages are rejected since there are fewer in-sync replicas than required.",
        20 => "Messages are written to the log, but to fewer in-sync replicas than required.",
        22 => "The provided member's generation id is not the current generation.",
        25 => "The coordinator is not aware of this member.",
        27 => "The group is rebalancing, so a rejoin is needed.",
        29 => "Topic authorization failed.",
        30 => "Group authorization failed.",
        31 => "Cluster authorization failed.",
        36 => "Topic with this name already exists.",
        37 => "Number of partitions is below 1.",
        38 => "Replication factor is below 1 or larger than the number of available brokers.",
        40 => "Configuration is invalid.",
        42 => "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.",
        87 => "The record was rejected.",
        _ => {
            return kafka_protocol::error::ResponseError::try_from_code(code)
                .map(|e| format!("Kafka error: {e}"))
                .unwrap_or_else(|| "Kafka error".to_string())
        }
    };
    m.to_string()
}

pub type Answer = Result<Response, RestError>;

tokio::task_local! {
    /// The Basic-authenticated user a request (and the tasks it starts: a streaming produce,
    /// a consumer instance) acts for; None: `User:ANONYMOUS`.
    pub static USER: Option<String>;
}

/// The user the current task acts for.
pub fn current_user() -> Option<String> {
    USER.try_with(Clone::clone).ok().flatten()
}

/// The proxy's shared state.
pub struct Rest {
    pub broker: Arc<Broker>,
    pub registry: Arc<Registry>,
    /// The connection identity of the proxy's own Kafka calls (`User:ANONYMOUS`).
    pub conn: Arc<ConnectionInfo>,
    /// The connection identities of authenticated users' calls (`User:<name>`).
    user_conns: std::sync::Mutex<std::collections::HashMap<String, Arc<ConnectionInfo>>>,
    pub consumers: Arc<consumers::Consumers>,
}

impl Rest {
    /// The connection identity of the current task's user.
    pub fn conn_now(&self) -> Arc<ConnectionInfo> {
        let Some(user) = current_user() else {
            return Arc::clone(&self.conn);
        };
        let mut conns = self.user_conns.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(
            conns
                .entry(user.clone())
                .or_insert_with(|| crate::http::kafka::connection_as(None, Some(&user))),
        )
    }
}

/// The listener's service.
pub struct RestService {
    rest: Arc<Rest>,
}

impl RestService {
    /// The proxy over `broker` (schemas from `registry`). Starts the task that expires idle
    /// consumer instances (it ends when the service is dropped).
    pub fn new(broker: Arc<Broker>, registry: Arc<Registry>) -> RestService {
        let limits = consumers::Limits::from_config(&broker.config);
        RestService::with_limits(broker, registry, limits)
    }

    pub fn with_limits(
        broker: Arc<Broker>,
        registry: Arc<Registry>,
        limits: consumers::Limits,
    ) -> RestService {
        let conn = crate::http::kafka::connection(None);
        let consumers = consumers::Consumers::new(limits);
        let rest = Arc::new(Rest {
            broker,
            registry,
            conn,
            user_conns: std::sync::Mutex::new(std::collections::HashMap::new()),
            consumers,
        });
        tokio::spawn(consumers::expire_idle(Arc::downgrade(&rest)));
        RestService { rest }
    }
}

impl Service for RestService {
    fn call(&self, req: Request) -> BoxFuture<'static, Response> {
        let rest = Arc::clone(&self.rest);
        let user = req.user.clone();
        Box::pin(USER.scope(user, async move { route(rest, req).await }))
    }

    fn max_body(&self) -> usize {
        MAX_BODY
    }

    fn transport_error(&self, status: u16, message: &str) -> Response {
        Response::error(status, i32::from(status), message, V3_JSON)
    }
}

async fn route(rest: Arc<Rest>, req: Request) -> Response {
    let segs = req.segs();
    let (v3, answer) = match segs.first().copied() {
        None => (
            true,
            match req.method {
                Method::GET => Ok(Response::json(200, V3_JSON, &json!({}))),
                _ => Err(RestError::method_not_allowed()),
            },
        ),
        Some("v3") => (true, v3::route(&rest, &req).await),
        Some("topics" | "consumers" | "brokers") => (false, v2::route(&rest, &req).await),
        Some(_) => (true, Err(RestError::not_found())),
    };
    match answer {
        Ok(r) => r,
        Err(e) => {
            let ct = if v3 { V3_JSON } else { V2_JSON };
            Response::error(e.status, e.code, &e.message, ct)
        }
    }
}

/// `http://<Host header>`: the base of the `self`/`related` URLs (Confluent builds them from
/// the request's base URI unless advertised listeners are configured).
pub fn base_url(req: &Request) -> String {
    let host = req
        .header("host")
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The request body as JSON: 400 when it does not parse.
pub fn json_body(req: &Request) -> Result<Value, RestError> {
    serde_json::from_slice(&req.body).map_err(RestError::bad_json)
}

/// The body as `T`: 400 when it is not JSON, 422 when it has the wrong shape.
pub fn parse_body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, RestError> {
    let v = json_body(req)?;
    serde_json::from_value(v).map_err(|e| RestError::unprocessable(e.to_string()))
}

/// `{"related": url}`.
pub fn related(url: String) -> Value {
    json!({ "related": url })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_map_like_confluents_exception_mapper() {
        let e = RestError::kafka(3, None);
        assert_eq!(
            (e.status, e.code, e.message.as_str()),
            (
                404,
                40403,
                "This server does not host this topic-partition."
            )
        );
        let e = RestError::kafka(36, Some("Topic 'x' already exists."));
        assert_eq!(
            (e.status, e.code, e.message.as_str()),
            (400, 40002, "Topic 'x' already exists.")
        );
        assert_eq!(RestError::kafka(38, None).code, 40002);
        assert_eq!(RestError::kafka(29, None).status, 403);
        // NOT_LEADER_OR_FOLLOWER is retriable, MESSAGE_TOO_LARGE is not.
        assert_eq!(
            (
                RestError::kafka(6, None).status,
                RestError::kafka(6, None).code
            ),
            (500, 50003)
        );
        assert_eq!(RestError::kafka(10, None).code, 50002);
        assert_eq!(RestError::kafka(89, None).status, 429);
    }
}
