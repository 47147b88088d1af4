//! The metrics endpoint: a minimal HTTP/1.1 server on tokio answering `GET /metrics` with the
//! OpenMetrics text exposition (`--metrics-listen`). One request per connection
//! (`Connection: close`); request heads are capped at 8 KiB and 10 s; at most 16 scrapes are
//! served at once. It stops with the broker (the shutdown watch), before the logs close.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::{render, CommittedOffsetRow};
use crate::cluster::Broker;

const MAX_HEAD: usize = 8 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONCURRENT: usize = 16;
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serve scrapes until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT));
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("metrics accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            // Too many scrapes at once: drop the connection rather than queue.
            continue;
        };
        let b = Arc::clone(&broker);
        conns.spawn(async move {
            if let Err(e) = handle(stream, b).await {
                tracing::debug!("metrics request failed: {e}");
            }
            drop(permit);
        });
    }
    conns.abort_all();
}

/// Read the request head (up to the blank line); None if it is too large or incomplete.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

async fn handle(mut stream: TcpStream, broker: Arc<Broker>) -> std::io::Result<()> {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) | Err(_) => {
            return respond(
                &mut stream,
                "400 Bad Request",
                "text/plain",
                b"bad request\n",
                false,
            )
            .await
        }
        Ok(Err(e)) => return Err(e),
    };
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET\n",
            false,
        )
        .await;
    }
    match path {
        "/metrics" => {
            let committed = committed_offsets(&broker).await;
            let body = tokio::task::spawn_blocking(move || render(broker, committed))
                .await
                .unwrap_or_default();
            respond(
                &mut stream,
                "200 OK",
                CONTENT_TYPE,
                body.as_bytes(),
                head_only,
            )
            .await
        }
        "/" => {
            let body = b"skua metrics: GET /metrics\n";
            respond(&mut stream, "200 OK", "text/plain", body, head_only).await
        }
        _ => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                b"not found\n",
                head_only,
            )
            .await
        }
    }
}

/// A snapshot of every committed offset, or none if the group runtime does not answer soon.
async fn committed_offsets(broker: &Broker) -> Vec<CommittedOffsetRow> {
    let Some(groups) = broker.groups.get() else {
        return Vec::new();
    };
    match tokio::time::timeout(Duration::from_secs(5), groups.committed_offsets()).await {
        Ok(Some(rows)) => rows,
        _ => {
            tracing::warn!("group coordinator did not report committed offsets; no lag metrics");
            Vec::new()
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(body).await?;
    }
    stream.flush().await?;
    stream.shutdown().await
}
