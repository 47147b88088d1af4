//! The HTTP/1.1 accept loop on hyper, shared by the console, the Schema Registry and the
//! HTTP proxy. Limits: at most [`MAX_CONNECTIONS`] connections per listener (more are closed
//! at once), request heads within [`HEAD_TIMEOUT`] and hyper's header-size bound, request
//! bodies up to the service's `max_body` (a larger declared or actual body is answered 413
//! and the connection closed), a keep-alive connection closed when its next request head
//! does not arrive within [`HEAD_TIMEOUT`] either. With Basic authentication on
//! ([`super::auth`]), a request without valid credentials is answered 401 (with the
//! `WWW-Authenticate` challenge) before its body is read, and the connection closed. It stops with the broker (the shutdown watch): in-flight requests get a short grace period.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::auth::{BasicAuth, CHALLENGE};
use super::{split_path, Body, ChannelBody, Request, Response, SharedService};

pub const MAX_CONNECTIONS: usize = 256;
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request body may take to arrive.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

type HyperBody = Either<Full<Bytes>, ChannelBody>;

/// Serve `service` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    service: SharedService,
    name: &'static str,
    auth: Option<Arc<BasicAuth>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("{name}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            tracing::debug!("{name}: {MAX_CONNECTIONS} connections open; closing a new one");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = Arc::clone(&service);
        let auth = auth.clone();
        let mut stop = shutdown.clone();
        conns.spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(64 * 1024)
                .keep_alive(true)
                .serve_connection(
                    TokioIo::new(stream),
                    service_fn(move |req| {
                        let svc = Arc::clone(&svc);
                        let auth = auth.clone();
                        async move { Ok::<_, Infallible>(handle(svc, auth, req, peer).await) }
                    }),
                );
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!("{name}: connection from {peer}: {e}");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
                }
            }
            drop(permit);
        });
    }
    conns.abort_all();
}

async fn handle(
    svc: SharedService,
    auth: Option<Arc<BasicAuth>>,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<HyperBody> {
    let max = svc.max_body();
    let (parts, body) = req.into_parts();
    // Authenticated before the body is read: a stranger's upload is not taken in.
    let user = match &auth {
        None => None,
        Some(a) => {
            let header = parts
                .headers
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match a.check(header) {
                Ok(u) => Some(u),
                Err(why) => {
                    let r = svc
                        .transport_error(401, &format!("Unauthorized: {why}"))
                        .with_header("www-authenticate", CHALLENGE);
                    return close(to_hyper(r));
                }
            }
        }
    };
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return close(to_hyper(svc.transport_error(
            413,
            "The request included a message larger than the maximum message size the server can accept.",
        )));
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, max).collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let r = if too_large {
                svc.transport_error(
                    413,
                    "The request included a message larger than the maximum message size the server can accept.",
                )
            } else {
                svc.transport_error(400, "The request body could not be read.")
            };
            return close(to_hyper(r));
        }
        Err(_) => {
            return close(to_hyper(
                svc.transport_error(408, "The request body did not arrive in time."),
            ))
        }
    };
    let path = parts.uri.path().to_string();
    let Some(segments) = split_path(&path) else {
        return to_hyper(svc.transport_error(400, "The request path is not valid UTF-8."));
    };
    let query = parts
        .uri
        .query()
        .map(super::parse_query)
        .unwrap_or_default();
    let head_only = parts.method == hyper::Method::HEAD;
    let request = Request {
        method: if head_only {
            hyper::Method::GET
        } else {
            parts.method
        },
        path,
        segments,
        query,
        headers: parts.headers,
        body,
        peer: Some(peer),
        user,
    };
    let mut resp = to_hyper(svc.call(request).await);
    if head_only {
        *resp.body_mut() = Either::Left(Full::new(Bytes::new()));
    }
    resp
}

fn to_hyper(r: Response) -> hyper::Response<HyperBody> {
    let body = match r.body {
        Body::Full(b) => Either::Left(Full::new(b)),
        Body::Stream(rx) => Either::Right(ChannelBody(rx)),
    };
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = r.status;
    let h = resp.headers_mut();
    for (k, v) in r.headers {
        h.insert(k, v);
    }
    resp
}

/// Close the connection after this answer (the rest of a refused body is not read).
fn close(mut r: hyper::Response<HyperBody>) -> hyper::Response<HyperBody> {
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    r
}
