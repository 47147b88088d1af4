//! An idle consumer instance expires and leaves its group (in-process, with a short expiry).

use super::*;
use crate::http::rest::RestService;
use crate::http::{Body, Request, Service};
use crate::server::registry_runtime::Registry;
use crate::server::test_support::{create_topic, start_server};
use hyper::Method;

async fn call(
    svc: &RestService,
    method: Method,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let req = Request {
        method,
        path: path.to_string(),
        segments: crate::http::split_path(path).unwrap(),
        query: Vec::new(),
        headers: hyper::HeaderMap::new(),
        body: Bytes::from(body.to_string()),
        peer: None,
        user: None,
    };
    let resp = svc.call(req).await;
    let Body::Full(b) = resp.body else {
        panic!("a streamed answer");
    };
    let v = if b.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&b).unwrap()
    };
    (resp.status.as_u16(), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_instance_expires_and_leaves_its_group() {
    let server = start_server(&[]).await;
    let broker = Arc::clone(&server.broker);
    create_topic(&broker, "expiring", 1).await;
    let limits = Limits {
        instance_timeout: Duration::from_millis(1500),
        heartbeat_interval: Duration::from_millis(200),
        ..Limits::default()
    };
    let c = broker.cluster_id.clone();
    let svc = RestService::with_limits(
        Arc::clone(&broker),
        Registry::new(Arc::clone(&broker)),
        limits,
    );
    let (status, _) = call(&svc, Method::POST, "/consumers/gx", r#"{"name":"i"}"#).await;
    assert_eq!(status, 200);
    let sub = "/consumers/gx/instances/i/subscription";
    assert_eq!(
        call(&svc, Method::POST, sub, r#"{"topics":["expiring"]}"#)
            .await
            .0,
        204
    );
    let members = format!("/v3/clusters/{c}/consumer-groups/gx/consumers");
    let count = |v: &serde_json::Value| v["data"].as_array().map_or(0, Vec::len);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = call(&svc, Method::GET, &members, "").await;
        if s == 200 && count(&v) == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never joined: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Used within the expiry: still there.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(call(&svc, Method::GET, sub, "").await.0, 200);
    // Then idle: removed, and out of the group.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = call(&svc, Method::GET, &members, "").await;
        if s == 200 && count(&v) == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never left: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, v) = call(&svc, Method::GET, sub, "").await;
    assert_eq!(
        (s, v),
        (
            404,
            serde_json::json!({"error_code": 40403, "message": "Consumer instance not found."})
        )
    );
    drop(svc);
    server.stop().await;
}
