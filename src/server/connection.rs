//! One client connection: a reader that takes frames in order and applies them (appends happen
//! in request order), and a writer that sends responses strictly in request order — a reply
//! that completes later (acks=all fsync, fetch long poll) holds back the ones after it.
//! Pipelining depth is bounded by `queued.max.requests`.
//!
//! Bad input (negative, oversized or truncated frames, unknown API keys, unsupported versions,
//! undecodable bodies) closes this connection with a log line; other connections are
//! unaffected. ApiVersions at an unknown version is answered (UNSUPPORTED_VERSION, v0 form).

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

/// Largest share of the memory pool one frame takes (Semaphore permits are u32).
const POOL_UNIT_MAX: u64 = u32::MAX as u64;

use crate::api::{self, api_versions, Reply, Request};
use crate::cluster::Broker;
use crate::protocol::{decode_header, frame_size, peek_header, FrameError};

/// Why the reader stopped.
#[derive(Debug)]
enum Stop {
    Eof,
    Shutdown,
    Idle,
    Io(std::io::Error),
    Bad(FrameError),
}

/// Bytes of requests in memory across all connections (`queued.max.request.bytes`);
/// None is unlimited.
pub type MemoryPool = Option<Arc<Pool>>;

pub struct Pool {
    sem: Arc<Semaphore>,
    capacity: u32,
}

impl Pool {
    pub fn new(bytes: usize) -> Pool {
        let capacity = (bytes.max(1) as u64)
            .min(POOL_UNIT_MAX)
            .min(Semaphore::MAX_PERMITS as u64) as u32;
        Pool {
            sem: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
        }
    }
}

async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    max: usize,
    pool: &MemoryPool,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Stop> {
    let mut prefix = [0u8; 4];
    match rd.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(Stop::Eof),
        Err(e) => return Err(Stop::Io(e)),
    }
    let size = frame_size(prefix, max).map_err(Stop::Bad)?;
    // Wait for room in the pool before allocating; a frame larger than the whole pool takes
    // all of it.
    let permit = match pool {
        None => None,
        Some(pool) => {
            let want = (size.max(1) as u64).min(pool.capacity as u64) as u32;
            Some(
                Arc::clone(&pool.sem)
                    .acquire_many_owned(want)
                    .await
                    .map_err(|_| Stop::Eof)?,
            )
        }
    };
    // Grow with the bytes that actually arrive: a peer announcing a large frame and sending
    // little costs at most the first chunk.
    let mut buf = BytesMut::with_capacity(size.min(1 << 20));
    while buf.len() < size {
        if buf.capacity() == buf.len() {
            buf.reserve((size - buf.len()).min(buf.len().max(1 << 20)));
        }
        let want = size - buf.len();
        let n = rd
            .read_buf(&mut (&mut buf).limit(want))
            .await
            .map_err(Stop::Io)?;
        if n == 0 {
            return Err(Stop::Bad(FrameError::Truncated {
                expected: size,
                got: buf.len(),
            }));
        }
    }
    Ok((buf.freeze(), permit))
}

/// Serve one connection until EOF, bad input, or shutdown.
pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    mut shutdown: watch::Receiver<bool>,
    pool: MemoryPool,
) {
    let peer_addr = stream.peer_addr().ok();
    let peer = peer_addr
        .map(|a| a.to_string())
        .unwrap_or_else(|| "?".into());
    let client_host: Arc<str> = peer_addr
        .map(|a| format!("/{}", a.ip()))
        .unwrap_or_else(|| "/unknown".into())
        .into();
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let depth = broker.config.queued_max_requests.max(1);
    let (tx, mut rx) = mpsc::channel::<(Reply, Option<OwnedSemaphorePermit>)>(depth);

    let writer = tokio::spawn(async move {
        let mut wr = BufWriter::with_capacity(64 * 1024, wr);
        // The permit (the request's share of queued.max.request.bytes) is released once its
        // response is written: until then the request's bytes may still be referenced.
        while let Some((reply, _permit)) = rx.recv().await {
            let bytes = match reply {
                Reply::Now(b) => b,
                Reply::Later(fut) => match fut.await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!("closing connection: {e}");
                        break;
                    }
                },
                Reply::None => continue,
            };
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
            if rx.is_empty() && wr.flush().await.is_err() {
                break;
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    });

    let max = broker.config.socket_request_max_bytes;
    let idle = match broker.config.connections_max_idle_ms {
        ms if ms < 0 => Duration::MAX,
        ms => Duration::from_millis(ms as u64),
    };
    let stop = loop {
        let frame = tokio::select! {
            biased;
            _ = shutdown.changed() => break Stop::Shutdown,
            r = tokio::time::timeout(idle, read_frame(&mut rd, max, &pool)) => match r {
                Err(_) => break Stop::Idle,
                Ok(Err(stop)) => break stop,
                Ok(Ok(frame)) => frame,
            },
        };
        let (frame, permit) = frame;
        match handle_frame(&broker, frame, &client_host).await {
            Ok(reply) => {
                if tx.send((reply, permit)).await.is_err() {
                    break Stop::Eof;
                }
            }
            Err(e) => break Stop::Bad(e),
        }
    };
    match &stop {
        Stop::Eof | Stop::Shutdown => tracing::debug!(%peer, "connection closed: {stop:?}"),
        Stop::Idle => tracing::debug!(%peer, "closing idle connection"),
        Stop::Io(e) => tracing::debug!(%peer, "connection error: {e}"),
        Stop::Bad(e) => tracing::warn!(%peer, "closing connection on bad request: {e}"),
    }
    drop(tx);
    let _ = writer.await;
}

/// Decode the header, route, and produce a reply. Err closes the connection.
async fn handle_frame(
    broker: &Arc<Broker>,
    mut frame: Bytes,
    client_host: &Arc<str>,
) -> Result<Reply, FrameError> {
    let prefix = peek_header(&frame)?;
    let key =
        ApiKey::try_from(prefix.api_key).map_err(|_| FrameError::UnknownApiKey(prefix.api_key))?;
    let Some(entry) = api::supported(key) else {
        return Err(FrameError::UnknownApiKey(prefix.api_key));
    };
    if prefix.api_version < entry.min || prefix.api_version > entry.max {
        if key == ApiKey::ApiVersions {
            return api_versions::unsupported_version_response(prefix.correlation_id)
                .map(Reply::Now);
        }
        return Err(FrameError::Malformed {
            api: key,
            version: prefix.api_version,
            reason: "unsupported version".into(),
        });
    }
    let header = decode_header(key, prefix.api_version, &mut frame)?;
    let req = Request {
        header,
        version: prefix.api_version,
        body: frame,
        client_host: Arc::clone(client_host),
    };
    api::dispatch(broker, key, req).await
}
