//! Calling the broker's own Kafka API handlers in-process, so that the console and the HTTP
//! proxy read and write through exactly the code Kafka clients go through (validation,
//! error codes, and the authorizer once HTTP principals exist): a request struct of the
//! `kafka-protocol` crate is encoded, dispatched to [`crate::api::dispatch`] as if it came on
//! a connection of its own, and the response decoded back.
//!
//! ```ignore
//! let resp: MetadataResponse = call(&broker, &conn, 12, MetadataRequest::default()).await?;
//! ```

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use crate::api::{dispatch, ConnectionInfo, Reply};
use crate::cluster::Broker;

/// Why an in-process call failed (not a Kafka error code: those are in the response).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("encoding the request: {0}")]
    Encode(String),
    #[error("the handler refused the request: {0}")]
    Handler(String),
    #[error("decoding the response: {0}")]
    Decode(String),
    #[error("no response (acks=0)")]
    NoResponse,
}

/// The connection identity the HTTP services' calls carry (one per service; its client id
/// shows in the broker's logs and group descriptions).
pub fn connection(peer: Option<std::net::SocketAddr>) -> Arc<ConnectionInfo> {
    Arc::new(ConnectionInfo::new(peer))
}

/// A connection identity for calls made on behalf of `user` (Basic-authenticated on an HTTP
/// listener): its principal is `User:<user>`, so the authorizer judges them as that user's.
/// None: `User:ANONYMOUS`.
pub fn connection_as(
    peer: Option<std::net::SocketAddr>,
    user: Option<&str>,
) -> Arc<ConnectionInfo> {
    let c = ConnectionInfo::new(peer);
    if let Some(u) = user {
        c.set_principal(crate::security::KafkaPrincipal::user(u));
    }
    Arc::new(c)
}

/// Call API `R` at `version` with `request` and decode its response.
pub async fn call<R>(
    broker: &Arc<Broker>,
    conn: &Arc<ConnectionInfo>,
    client_id: &str,
    version: i16,
    request: R,
) -> Result<R::Response, CallError>
where
    R: Request + Encodable,
    R::Response: Decodable + HeaderVersion,
{
    let key = ApiKey::try_from(R::KEY)
        .map_err(|_| CallError::Encode(format!("unknown api key {}", R::KEY)))?;
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
    let mut body = BytesMut::new();
    request
        .encode(&mut body, version)
        .map_err(|e| CallError::Encode(e.to_string()))?;
    let req = crate::api::Request {
        header,
        version,
        body: body.freeze(),
        client_host: Arc::from(
            conn.peer
                .map_or_else(|| "/127.0.0.1".to_string(), |p| format!("/{}", p.ip())),
        ),
        conn: Arc::clone(conn),
    };
    let reply = dispatch(broker, key, req)
        .await
        .map_err(|e| CallError::Handler(e.to_string()))?;
    let mut bytes: Bytes = match reply {
        Reply::Now(b) => b,
        Reply::Later(f) => f.await.map_err(|e| CallError::Handler(e.to_string()))?,
        Reply::None => return Err(CallError::NoResponse),
    };
    if bytes.remaining() < 4 {
        return Err(CallError::Decode("short response".into()));
    }
    bytes.advance(4); // the size prefix
    let hv = <R::Response as HeaderVersion>::header_version(version);
    ResponseHeader::decode(&mut bytes, hv).map_err(|e| CallError::Decode(e.to_string()))?;
    R::Response::decode(&mut bytes, version).map_err(|e| CallError::Decode(e.to_string()))
}

/// A Metadata request for `topics` (None: every topic), never creating one: what the console
/// and the proxy read topics and partitions with.
pub fn metadata_request(topics: Option<&[&str]>) -> kafka_protocol::messages::MetadataRequest {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{MetadataRequest, TopicName};
    MetadataRequest::default()
        .with_allow_auto_topic_creation(false)
        .with_topics(topics.map(|ts| {
            ts.iter()
                .map(|t| {
                    MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(t.to_string()))))
                })
                .collect()
        }))
}

/// Kafka's ConfigSource names (DescribeConfigs' `config_source`).
pub fn config_source_name(s: i8) -> &'static str {
    match s {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::test_support::{create_topic, start_server};
    use kafka_protocol::messages::{
        metadata_request::MetadataRequestTopic, MetadataRequest, TopicName,
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metadata_through_the_handler() {
        let server = start_server(&[]).await;
        create_topic(&server.broker, "http-call", 3).await;
        let conn = connection(None);
        let req = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_topics(Some(vec![
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("http-call")))),
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("missing")))),
            ]));
        let resp = call(&server.broker, &conn, "test", 12, req).await.unwrap();
        assert_eq!(resp.topics.len(), 2);
        let t = &resp.topics[0];
        assert_eq!(t.name.as_ref().map(|n| n.0.as_str()), Some("http-call"));
        assert_eq!((t.error_code, t.partitions.len()), (0, 3));
        // UNKNOWN_TOPIC_OR_PARTITION, as a Kafka client gets it.
        assert_eq!(resp.topics[1].error_code, 3);
        server.stop().await;
    }
}
