//! Tests of the peer client against an in-process broker and against fake peers that
//! misbehave (silence, oversized frames, unknown correlation ids, garbled bodies, closing).

use std::time::Duration;

use bytes::BufMut;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::server::test_support::{create_topic, start_server};

fn metadata_for(topic: &str) -> MetadataRequest {
    MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.to_string()))))]))
}

fn quick() -> PeerConfig {
    PeerConfig {
        request_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(2),
        ..PeerConfig::default()
    }
}

/// A fake peer: accepts one connection and runs `serve` on it.
async fn fake_peer<F, Fut>(serve: F) -> String
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            serve(s).await;
        }
    });
    addr
}

/// Read one request frame; returns its correlation id.
async fn read_request(s: &mut TcpStream) -> i32 {
    let size = s.read_i32().await.unwrap();
    let mut buf = vec![0u8; size as usize];
    s.read_exact(&mut buf).await.unwrap();
    i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_and_metadata_against_the_broker() {
    let server = start_server(&[]).await;
    create_topic(&server.broker, "orders", 3).await;
    let conn = PeerConnection::connect(&server.addr(), PeerConfig::default())
        .await
        .unwrap();
    // v3 is flexible: request header v2, but the response header stays v0.
    for v in [0, 3] {
        let r = conn.send(v, &ApiVersionsRequest::default()).await.unwrap();
        assert_eq!(r.error_code, 0, "v{v}");
        let metadata = r.api_keys.iter().find(|k| k.api_key == 3).unwrap();
        assert_eq!((metadata.min_version, metadata.max_version), (0, 13));
    }
    // v12: flexible header both ways.
    let r: MetadataResponse = conn.send(12, &metadata_for("orders")).await.unwrap();
    assert_eq!(r.brokers.len(), 1);
    assert_eq!(r.brokers[0].node_id.0, server.broker.config.node_id);
    assert_eq!(
        r.cluster_id.as_ref().map(|c| c.as_str().to_string()),
        Some(server.broker.cluster_id.clone())
    );
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].error_code, 0);
    let mut ids: Vec<i32> = r.topics[0]
        .partitions
        .iter()
        .map(|p| p.partition_index)
        .collect();
    ids.sort();
    assert_eq!(ids, vec![0, 1, 2]);
    // v5: a non-flexible version on the same connection.
    let req = metadata_for("nope").with_allow_auto_topic_creation(false);
    let r: MetadataResponse = conn.send(5, &req).await.unwrap();
    assert_eq!(r.topics[0].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    assert!(!conn.is_closed());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_matched_to_their_responses() {
    let server = start_server(&[]).await;
    create_topic(&server.broker, "a", 1).await;
    create_topic(&server.broker, "b", 2).await;
    let conn = PeerConnection::connect(&server.addr(), PeerConfig::default())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                let r = c.send(3, &ApiVersionsRequest::default()).await.unwrap();
                (i, r.api_keys.len() as i32)
            } else {
                let topic = if i % 3 == 1 { "a" } else { "b" };
                let r = c.send(12, &metadata_for(topic)).await.unwrap();
                assert_eq!(r.topics[0].name.as_ref().unwrap().0.as_str(), topic);
                (i, r.topics[0].partitions.len() as i32)
            }
        }));
    }
    for t in tasks {
        let (i, n) = t.await.unwrap();
        match i % 3 {
            0 => assert!(n > 30, "ApiVersions lists every API"),
            1 => assert_eq!(n, 1),
            _ => assert_eq!(n, 2),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = PeerConnection::connect(&addr, quick()).await.unwrap_err();
    assert!(matches!(err, PeerError::Connect { .. }), "{err:?}");
    assert!(err.is_connection());
}

#[tokio::test]
async fn silent_peer_times_out_and_breaks_the_connection() {
    let addr = fake_peer(|mut s| async move {
        let _ = read_request(&mut s).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let conn = PeerConnection::connect(&addr, quick()).await.unwrap();
    let err = conn
        .send(3, &ApiVersionsRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, PeerError::Timeout { version: 3, .. }),
        "{err:?}"
    );
    assert!(conn.is_closed());
    // Later sends fail at once with the error that broke the connection.
    let again = conn
        .send(0, &ApiVersionsRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(again, PeerError::Timeout { .. }), "{again:?}");
}

#[tokio::test]
async fn oversized_response_frame_is_refused_before_allocating() {
    let addr = fake_peer(|mut s| async move {
        let _ = read_request(&mut s).await;
        s.write_all(&i32::MAX.to_be_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    let conn = PeerConnection::connect(&addr, quick()).await.unwrap();
    let err = conn
        .send(0, &ApiVersionsRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PeerError::Frame { .. }), "{err:?}");
    assert!(err.to_string().contains("2147483647"), "{err}");
}

#[tokio::test]
async fn response_to_an_unknown_correlation_id_breaks_the_connection() {
    let addr = fake_peer(|mut s| async move {
        let _ = read_request(&mut s).await;
        let mut f = Vec::new();
        f.put_i32(6);
        f.put_i32(999);
        f.put_i16(0);
        s.write_all(&f).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    let conn = PeerConnection::connect(&addr, quick()).await.unwrap();
    let err = conn
        .send(0, &ApiVersionsRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PeerError::Frame { reason, .. } if reason.contains("999")),
        "{err:?}"
    );
}

#[tokio::test]
async fn garbled_response_body_is_a_decode_error() {
    let addr = fake_peer(|mut s| async move {
        let id = read_request(&mut s).await;
        // Metadata v1: correlation id, then a broker array claiming 5 entries and nothing.
        let mut f = Vec::new();
        f.put_i32(8);
        f.put_i32(id);
        f.put_i32(5);
        s.write_all(&f).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    let conn = PeerConnection::connect(&addr, quick()).await.unwrap();
    let err = conn.send(1, &metadata_for("x")).await.unwrap_err();
    assert!(
        matches!(err, PeerError::Decode { version: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn peer_closing_fails_the_requests_in_flight() {
    let addr = fake_peer(|mut s| async move {
        let _ = read_request(&mut s).await;
        let _ = read_request(&mut s).await;
        drop(s);
    })
    .await;
    let conn = PeerConnection::connect(&addr, quick()).await.unwrap();
    let (versions, metadata) = (ApiVersionsRequest::default(), metadata_for("x"));
    let (a, b) = tokio::join!(conn.send(0, &versions), conn.send(1, &metadata));
    assert!(matches!(a, Err(PeerError::Closed { .. })), "{a:?}");
    assert!(matches!(b, Err(PeerError::Closed { .. })), "{b:?}");
}

#[tokio::test]
async fn unsupported_version_is_refused_without_sending() {
    let addr = fake_peer(|mut s| async move {
        let mut buf = [0u8; 1];
        // Nothing must arrive.
        assert_eq!(s.read(&mut buf).await.unwrap_or(0), 0);
    })
    .await;
    let conn = PeerConnection::connect(&addr, quick()).await.unwrap();
    let err = conn
        .send(99, &ApiVersionsRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, PeerError::UnsupportedVersion { version: 99, .. }),
        "{err:?}"
    );
    assert!(!err.is_connection());
    assert!(!conn.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_replaces_a_broken_connection() {
    let server = start_server(&[]).await;
    let pool = PeerPool::new(PeerConfig::default());
    let port = server.addr.port();
    let first = pool.connection("127.0.0.1", port).await.unwrap();
    let same = pool.connection("127.0.0.1", port).await.unwrap();
    assert!(Arc::ptr_eq(&first.inner, &same.inner));
    first.inner.shared.fail(PeerError::Closed {
        addr: first.addr().to_string(),
    });
    let r = pool
        .send("127.0.0.1", port, 3, &ApiVersionsRequest::default())
        .await
        .unwrap();
    assert_eq!(r.error_code, 0);
    let fresh = pool.connection("127.0.0.1", port).await.unwrap();
    assert!(!Arc::ptr_eq(&first.inner, &fresh.inner));
    server.stop().await;
}

#[test]
fn ipv6_hosts_are_bracketed() {
    assert_eq!(format_addr("::1", 9092), "[::1]:9092");
    assert_eq!(format_addr("[::1]", 9092), "[::1]:9092");
    assert_eq!(format_addr("broker-1", 9092), "broker-1:9092");
}
