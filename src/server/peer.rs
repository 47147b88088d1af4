//! An async Kafka client for broker-to-broker requests (transaction markers, replica fetches,
//! forwarding): one TCP connection per peer, any kafka-protocol request at a chosen version,
//! requests pipelined on the connection and matched to their responses by correlation id.
//!
//! Framing: a request frame is `size i32 | request header | body`, the header version given
//! by [`ApiKey::request_header_version`]; a response frame is `size i32 | response header |
//! body`, the header version given by the response type (always v0 for ApiVersions). A
//! response frame's size is checked against [`PeerConfig::max_response_bytes`] before
//! anything is allocated.
//!
//! Concurrency: [`PeerConnection`] is a cheap clone; any number of tasks may call
//! [`PeerConnection::send`] at once. Writes are serialized by one async mutex, under which the
//! correlation id is assigned and the waiter registered, so ids and frames leave in the same
//! order. One reader task per connection hands each response frame to its waiter. Any I/O
//! error, an unknown correlation id or a request timing out breaks the connection (as Kafka's
//! NetworkClient disconnects on a request timeout): every request in flight fails with the
//! error that broke it, and later sends fail at once — callers reconnect (see [`PeerPool`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Settings of peer connections (Kafka's names where they exist).
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The client id sent in every request header.
    pub client_id: String,
    /// socket.connection.setup.timeout.ms (10000).
    pub connect_timeout: Duration,
    /// request.timeout.ms (30000): from sending a request to its whole response.
    pub request_timeout: Duration,
    /// The largest response frame accepted.
    pub max_response_bytes: usize,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            client_id: "skua-broker".to_string(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 128 << 20,
        }
    }
}

/// Why a peer request failed. Cheap to clone: a connection failure is handed to every
/// request that was in flight on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeerError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: Arc<std::io::Error>,
    },
    #[error("connecting to {addr} timed out after {ms} ms")]
    ConnectTimeout { addr: String, ms: u128 },
    #[error("{api:?} v{version} to {addr} timed out after {ms} ms")]
    Timeout {
        addr: String,
        api: ApiKey,
        version: i16,
        ms: u128,
    },
    #[error("connection to {addr} failed: {source}")]
    Io {
        addr: String,
        source: Arc<std::io::Error>,
    },
    #[error("connection to {addr} closed by the peer")]
    Closed { addr: String },
    #[error("bad response frame from {addr}: {reason}")]
    Frame { addr: String, reason: String },
    #[error("{api:?} v{version}: this client cannot send that version")]
    UnsupportedVersion { api: ApiKey, version: i16 },
    #[error("cannot encode {api:?} v{version}: {reason}")]
    Encode {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("cannot decode the {api:?} v{version} response from {addr}: {reason}")]
    Decode {
        addr: String,
        api: ApiKey,
        version: i16,
        reason: String,
    },
}

impl PeerError {
    /// True when the request may have failed only because of the connection (connect,
    /// timeout, I/O, closed, a garbled frame): retrying on a new connection can succeed.
    pub fn is_connection(&self) -> bool {
        !matches!(
            self,
            PeerError::UnsupportedVersion { .. } | PeerError::Encode { .. }
        )
    }
}

type Waiter = oneshot::Sender<Result<Bytes, PeerError>>;

#[derive(Default)]
struct ConnState {
    /// Requests sent and not answered yet, by correlation id.
    pending: HashMap<i32, Waiter>,
    /// Set once the connection broke; never cleared.
    failed: Option<PeerError>,
}

struct Shared {
    addr: String,
    state: Mutex<ConnState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Break the connection: every waiter gets the first failure.
    fn fail(&self, error: PeerError) {
        let (waiters, error) = {
            let mut st = self.lock();
            let error = st.failed.get_or_insert(error).clone();
            let waiters: Vec<Waiter> = st.pending.drain().map(|(_, w)| w).collect();
            (waiters, error)
        };
        for w in waiters {
            let _ = w.send(Err(error.clone()));
        }
    }
}

struct Inner {
    config: PeerConfig,
    shared: Arc<Shared>,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    next_correlation: AtomicI32,
    reader: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// One connection to a peer broker. Clones share it.
#[derive(Clone)]
pub struct PeerConnection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("addr", &self.inner.shared.addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl PeerConnection {
    /// Connect to `addr` (`host:port`) within the connect timeout.
    pub async fn connect(addr: &str, config: PeerConfig) -> Result<PeerConnection, PeerError> {
        let stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| PeerError::ConnectTimeout {
                addr: addr.to_string(),
                ms: config.connect_timeout.as_millis(),
            })?
            .map_err(|e| PeerError::Connect {
                addr: addr.to_string(),
                source: Arc::new(e),
            })?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            addr: addr.to_string(),
            state: Mutex::new(ConnState::default()),
        });
        let reader = tokio::spawn(read_loop(
            read,
            Arc::clone(&shared),
            config.max_response_bytes,
        ))
        .abort_handle();
        Ok(PeerConnection {
            inner: Arc::new(Inner {
                config,
                shared,
                writer: tokio::sync::Mutex::new(write),
                next_correlation: AtomicI32::new(0),
                reader,
            }),
        })
    }

    /// The `host:port` this connection was made to.
    pub fn addr(&self) -> &str {
        &self.inner.shared.addr
    }

    /// True once the connection broke (every later send fails).
    pub fn is_closed(&self) -> bool {
        self.inner.shared.lock().failed.is_some()
    }

    /// Send `request` at `version` and wait for its response (within the request timeout).
    pub async fn send<R: Request>(
        &self,
        version: i16,
        request: &R,
    ) -> Result<R::Response, PeerError> {
        let api = ApiKey::try_from(R::KEY).map_err(|_| PeerError::UnsupportedVersion {
            api: ApiKey::ApiVersions,
            version,
        })?;
        if version < R::VERSIONS.min || version > R::VERSIONS.max {
            return Err(PeerError::UnsupportedVersion { api, version });
        }
        let encode_err = |e: anyhow::Error| PeerError::Encode {
            api,
            version,
            reason: e.to_string(),
        };
        let mut body = BytesMut::new();
        request.encode(&mut body, version).map_err(encode_err)?;
        let timeout = self.inner.config.request_timeout;
        let timed_out = PeerError::Timeout {
            addr: self.addr().to_string(),
            api,
            version,
            ms: timeout.as_millis(),
        };
        let exchange = async {
            let (correlation_id, rx) = self.write_request(api, version, &body).await?;
            match rx.await {
                Ok(r) => r.map(|frame| (correlation_id, frame)),
                // The reader ended without answering: the connection is gone.
                Err(_) => Err(self.failure()),
            }
        };
        let (correlation_id, mut frame) = match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r?,
            Err(_) => {
                self.inner.shared.fail(timed_out.clone());
                return Err(timed_out);
            }
        };
        let decode_err = |reason: String| PeerError::Decode {
            addr: self.addr().to_string(),
            api,
            version,
            reason,
        };
        let header = ResponseHeader::decode(&mut frame, R::Response::header_version(version))
            .map_err(|e| decode_err(format!("header: {e}")))?;
        if header.correlation_id != correlation_id {
            return Err(decode_err(format!(
                "correlation id {} answers request {correlation_id}",
                header.correlation_id
            )));
        }
        R::Response::decode(&mut frame, version).map_err(|e| decode_err(e.to_string()))
    }

    /// The error that broke the connection (or Closed).
    fn failure(&self) -> PeerError {
        self.inner
            .shared
            .lock()
            .failed
            .clone()
            .unwrap_or_else(|| PeerError::Closed {
                addr: self.addr().to_string(),
            })
    }

    /// Assign a correlation id, register its waiter and write the frame, all under the write
    /// lock so that frames leave in correlation-id order.
    async fn write_request(
        &self,
        api: ApiKey,
        version: i16,
        body: &[u8],
    ) -> Result<(i32, oneshot::Receiver<Result<Bytes, PeerError>>), PeerError> {
        let mut writer = self.inner.writer.lock().await;
        let correlation_id = self.inner.next_correlation.fetch_add(1, Ordering::Relaxed);
        let mut header = RequestHeader::default();
        header.request_api_key = api as i16;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(StrBytes::from_string(self.inner.config.client_id.clone()));
        let mut frame = BytesMut::with_capacity(body.len() + 64);
        frame.put_i32(0);
        header
            .encode(&mut frame, api.request_header_version(version))
            .map_err(|e| PeerError::Encode {
                api,
                version,
                reason: format!("header: {e}"),
            })?;
        frame.extend_from_slice(body);
        let size = i32::try_from(frame.len() - 4).map_err(|_| PeerError::Encode {
            api,
            version,
            reason: "request over 2 GiB".into(),
        })?;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.inner.shared.lock();
            if let Some(e) = &st.failed {
                return Err(e.clone());
            }
            st.pending.insert(correlation_id, tx);
        }
        if let Err(e) = writer.write_all(&frame).await {
            let err = PeerError::Io {
                addr: self.addr().to_string(),
                source: Arc::new(e),
            };
            self.inner.shared.fail(err.clone());
            return Err(err);
        }
        Ok((correlation_id, rx))
    }
}

/// Read response frames until the connection breaks, handing each to its waiter.
async fn read_loop(mut read: OwnedReadHalf, shared: Arc<Shared>, max: usize) {
    let addr = shared.addr.clone();
    loop {
        let frame = match read_frame(&mut read, &addr, max).await {
            Ok(f) => f,
            Err(e) => return shared.fail(e),
        };
        let correlation_id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let waiter = shared.lock().pending.remove(&correlation_id);
        match waiter {
            Some(w) => {
                let _ = w.send(Ok(frame));
            }
            None => {
                return shared.fail(PeerError::Frame {
                    addr,
                    reason: format!("response for unknown correlation id {correlation_id}"),
                })
            }
        }
    }
}

/// One size-checked frame (without its size prefix); at least the 4 bytes of a correlation id.
async fn read_frame(read: &mut OwnedReadHalf, addr: &str, max: usize) -> Result<Bytes, PeerError> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            PeerError::Closed {
                addr: addr.to_string(),
            }
        } else {
            PeerError::Io {
                addr: addr.to_string(),
                source: Arc::new(e),
            }
        }
    };
    let mut size = [0u8; 4];
    read.read_exact(&mut size).await.map_err(io)?;
    let size = i32::from_be_bytes(size);
    let len = usize::try_from(size)
        .ok()
        .filter(|s| (4..=max).contains(s))
        .ok_or_else(|| PeerError::Frame {
            addr: addr.to_string(),
            reason: format!("frame size {size} outside 4..={max}"),
        })?;
    let mut buf = vec![0u8; len];
    read.read_exact(&mut buf).await.map_err(io)?;
    Ok(Bytes::from(buf))
}

/// Connections to peers by `host:port`, made on first use and replaced once broken.
pub struct PeerPool {
    config: PeerConfig,
    conns: tokio::sync::Mutex<HashMap<String, PeerConnection>>,
}

impl PeerPool {
    pub fn new(config: PeerConfig) -> PeerPool {
        PeerPool {
            config,
            conns: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// An open connection to `host:port` (a new one if there is none or it broke).
    pub async fn connection(&self, host: &str, port: u16) -> Result<PeerConnection, PeerError> {
        let addr = format_addr(host, port);
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(&addr).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        // Connecting under the lock keeps one connection per peer; it is bounded by the
        // connect timeout.
        let c = PeerConnection::connect(&addr, self.config.clone()).await?;
        conns.insert(addr, c.clone());
        Ok(c)
    }

    /// Send `request` to `host:port` on the pooled connection.
    pub async fn send<R: Request>(
        &self,
        host: &str,
        port: u16,
        version: i16,
        request: &R,
    ) -> Result<R::Response, PeerError> {
        self.connection(host, port)
            .await?
            .send(version, request)
            .await
    }
}

/// `host:port`, bracketing IPv6 literals.
pub fn format_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
#[path = "peer_tests.rs"]
mod tests;
