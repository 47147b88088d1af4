//! One client connection: a reader that takes frames in order and applies them (appends happen
//! in request order), and a writer that sends responses strictly in request order — a reply
//! that completes later (acks=all fsync, fetch long poll) holds back the ones after it.
//! Pipelining depth is bounded by `queued.max.requests`.
//!
//! Bad input (negative, oversized or truncated frames, unknown API keys, unsupported versions,
//! undecodable bodies) closes this connection with a log line; other connections are
//! unaffected. ApiVersions at an unknown version is answered (UNSUPPORTED_VERSION, v0 form).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

/// Largest share of the memory pool one frame takes (Semaphore permits are u32).
const POOL_UNIT_MAX: u64 = u32::MAX as u64;

use crate::api::{self, api_versions, Reply, Request};
use crate::cluster::Broker;
use crate::config::listeners::ListenerConfig;
use crate::metrics;
use crate::protocol::{decode_header, frame_size, peek_header, FrameError};
use crate::security::plain::PlainUsers;
use crate::security::sasl::{CredentialStore, SUPPORTED_MECHANISMS};
use crate::security::sasl_session::{AuthOutcome, SaslSession, SaslSettings};
use crate::security::scram::{ScramCredential, ScramMechanism};
use crate::security::{ssl_principal, KafkaPrincipal, SecurityProtocol};
use crate::server::tls::TlsListener;

/// Why the reader stopped.
#[derive(Debug)]
enum Stop {
    Eof,
    Shutdown,
    Idle,
    Io(std::io::Error),
    Bad(FrameError),
    /// SASL: refused before authentication, or the session expired.
    Auth(String),
    /// SASL authentication failed (answered): the close waits
    /// `connection.failed.authentication.delay.ms`, as in Kafka.
    AuthFailed,
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

/// A client listener as its connections see it.
pub struct ListenerInfo {
    pub name: Arc<str>,
    pub protocol: SecurityProtocol,
    /// SSL and SASL_SSL listeners.
    pub tls: Option<Arc<TlsListener>>,
    /// SASL_PLAINTEXT and SASL_SSL listeners.
    pub sasl: Option<Arc<SaslSettings>>,
    /// Where the SASL mechanisms look users up.
    store: Option<Arc<ListenerStore>>,
}

/// A SASL listener's users: PLAIN's from its JAAS config, SCRAM's from the cluster metadata
/// (set once the broker is open, see [`ListenerInfo::set_scram_source`]).
struct ListenerStore {
    plain: PlainUsers,
    scram: std::sync::OnceLock<Arc<dyn CredentialStore>>,
}

impl CredentialStore for ListenerStore {
    fn plain_password_ok(&self, user: &str, password: &str) -> bool {
        self.plain.plain_password_ok(user, password)
    }

    fn scram_credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.scram.get()?.scram_credential(user, mechanism)
    }
}

impl ListenerInfo {
    pub fn new(l: &ListenerConfig, tls: Option<Arc<TlsListener>>) -> anyhow::Result<ListenerInfo> {
        let (sasl, store) = if l.protocol.uses_sasl() {
            let (settings, store) = sasl_settings(l)?;
            (Some(settings), Some(store))
        } else {
            (None, None)
        };
        Ok(ListenerInfo {
            name: l.name.as_str().into(),
            protocol: l.protocol,
            tls,
            sasl,
            store,
        })
    }

    /// Where SCRAM credentials are looked up (the metadata image).
    pub fn set_scram_source(&self, source: Arc<dyn CredentialStore>) {
        if let Some(store) = &self.store {
            let _ = store.scram.set(source);
        }
    }
}

/// A SASL listener's mechanisms (`sasl.enabled.mechanisms`, those skua implements; none is a
/// start-up error), PLAIN users (`plain.sasl.jaas.config` or `sasl.jaas.config`, prefixed or
/// not) and `connections.max.reauth.ms`.
fn sasl_settings(l: &ListenerConfig) -> anyhow::Result<(Arc<SaslSettings>, Arc<ListenerStore>)> {
    let configured = l.get("sasl.enabled.mechanisms").unwrap_or("GSSAPI");
    let mut mechanisms = Vec::new();
    for m in configured
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        let m = m.to_ascii_uppercase();
        if SUPPORTED_MECHANISMS.contains(&m.as_str()) {
            if !mechanisms.contains(&m) {
                mechanisms.push(m);
            }
        } else {
            tracing::warn!(listener = %l.name, "sasl.enabled.mechanisms: {m} is not supported and stays disabled");
        }
    }
    if mechanisms.is_empty() {
        anyhow::bail!(
            "listener {}: sasl.enabled.mechanisms ({configured}) enables no mechanism skua supports (Kafka's default is GSSAPI, which is not): set {}sasl.enabled.mechanisms to some of {}",
            l.name,
            l.prefix(),
            SUPPORTED_MECHANISMS.join(", ")
        );
    }
    let jaas = l
        .get("plain.sasl.jaas.config")
        .or_else(|| l.get("sasl.jaas.config"));
    let plain = match jaas {
        Some(text) => PlainUsers::from_jaas(text).map_err(|e| {
            anyhow::anyhow!(
                "listener {}: {}plain.sasl.jaas.config: {e}",
                l.name,
                l.prefix()
            )
        })?,
        None => PlainUsers::new(Default::default()),
    };
    if mechanisms.iter().any(|m| m == "PLAIN") && plain.is_empty() {
        anyhow::bail!(
            "listener {}: PLAIN is enabled but no users are configured: set {}plain.sasl.jaas.config to a PlainLoginModule entry with user_<name>=\"<password>\" options",
            l.name,
            l.prefix()
        );
    }
    let reauth_ms = l
        .get("connections.max.reauth.ms")
        .unwrap_or("0")
        .trim()
        .parse::<i64>()
        .map_err(|e| anyhow::anyhow!("listener {}: connections.max.reauth.ms: {e}", l.name))?;
    let store = Arc::new(ListenerStore {
        plain,
        scram: std::sync::OnceLock::new(),
    });
    let settings = Arc::new(SaslSettings {
        mechanisms,
        store: Arc::clone(&store) as Arc<dyn CredentialStore>,
        reauth_ms,
    });
    Ok((settings, store))
}

/// How long a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Take a connection accepted on a listener: the TLS handshake first on SSL and SASL_SSL
/// listeners (a failed one closes the connection, logged), then serve it.
pub async fn accept(
    broker: Arc<Broker>,
    stream: TcpStream,
    listener: Arc<ListenerInfo>,
    mut shutdown: watch::Receiver<bool>,
    pool: MemoryPool,
) {
    let peer_addr = stream.peer_addr().ok();
    let _ = stream.set_nodelay(true);
    let conn =
        api::ConnectionInfo::on_listener(peer_addr, Arc::clone(&listener.name), listener.protocol);
    let sasl = listener
        .sasl
        .as_ref()
        .map(|s| SaslSession::new(Arc::clone(s)));
    let Some(tls) = &listener.tls else {
        let (rd, wr) = stream.into_split();
        serve(broker, rd, wr, conn, sasl, shutdown, pool).await;
        return;
    };
    let peer = peer_addr
        .map(|a| a.to_string())
        .unwrap_or_else(|| "?".into());
    let handshake = tokio::select! {
        _ = shutdown.changed() => return,
        r = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.acceptor().accept(stream)) => r,
    };
    let stream = match handshake {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            metrics::global().failed_authentication();
            tracing::info!(%peer, listener = %listener.name, "failed authentication (TLS handshake failed): {e}");
            return;
        }
        Err(_) => {
            metrics::global().failed_authentication();
            tracing::info!(%peer, listener = %listener.name, "failed authentication (TLS handshake timed out)");
            return;
        }
    };
    // An SSL listener's principal is the client certificate's (mapped) subject; without a
    // certificate, or on SASL_SSL (where SASL decides), User:ANONYMOUS.
    if listener.protocol == SecurityProtocol::Ssl {
        let cert = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first());
        if let Some(cert) = cert {
            let mapped = ssl_principal::subject_dn(cert)
                .ok_or_else(|| "unreadable client certificate subject".to_string())
                .and_then(|dn| tls.mapper.map(&dn).map_err(|e| e.to_string()));
            match mapped {
                Ok(name) => conn.set_principal(KafkaPrincipal::user(name)),
                Err(e) => {
                    metrics::global().failed_authentication();
                    tracing::info!(%peer, listener = %listener.name, "failed authentication: {e}");
                    return;
                }
            }
        }
    }
    let (rd, wr) = tokio::io::split(stream);
    serve(broker, rd, wr, conn, sasl, shutdown, pool).await;
}

/// Serve one connection until EOF, bad input, or shutdown.
async fn serve<R, W>(
    broker: Arc<Broker>,
    rd: R,
    wr: W,
    conn: api::ConnectionInfo,
    mut sasl: Option<SaslSession>,
    mut shutdown: watch::Receiver<bool>,
    pool: MemoryPool,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let peer_addr = conn.peer;
    let peer = peer_addr
        .map(|a| a.to_string())
        .unwrap_or_else(|| "?".into());
    let client_host: Arc<str> = peer_addr
        .map(|a| format!("/{}", a.ip()))
        .unwrap_or_else(|| "/unknown".into())
        .into();
    let conn = Arc::new(conn);
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let depth = broker.config.queued_max_requests.max(1);
    let (tx, mut rx) = mpsc::channel::<(Reply, Option<OwnedSemaphorePermit>, Timing)>(depth);

    let writer = tokio::spawn(async move {
        let mut wr = BufWriter::with_capacity(64 * 1024, wr);
        // The permit (the request's share of queued.max.request.bytes) is released once its
        // response is written: until then the request's bytes may still be referenced.
        while let Some((reply, _permit, timing)) = rx.recv().await {
            let bytes = match reply {
                Reply::Now(b) => b,
                Reply::Later(fut) => match fut.await {
                    Ok(b) => b,
                    Err(e) => {
                        timing.failed();
                        tracing::warn!("closing connection: {e}");
                        break;
                    }
                },
                Reply::None => {
                    timing.done(None);
                    continue;
                }
            };
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
            if rx.is_empty() && wr.flush().await.is_err() {
                break;
            }
            timing.done(Some(&bytes));
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
        // A throttled connection is muted (KIP-219): its next request is read once the
        // throttle time has passed.
        let until = conn.throttled_until_ms.load(Relaxed);
        if until > 0 {
            let wait = until - api::now_ms();
            if wait > 0 {
                tokio::select! {
                    biased;
                    _ = shutdown.changed() => break Stop::Shutdown,
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                }
            }
        }
        let frame = tokio::select! {
            biased;
            _ = shutdown.changed() => break Stop::Shutdown,
            r = tokio::time::timeout(idle, read_frame(&mut rd, sasl.as_ref().map_or(max, |s| s.max_frame(max)), &pool)) => match r {
                Err(_) => break Stop::Idle,
                Ok(Err(stop)) => break stop,
                Ok(Ok(frame)) => frame,
            },
        };
        let (frame, permit) = frame;
        if let Some(session) = sasl.as_mut().filter(|s| s.raw_tokens()) {
            // After a v0 SaslHandshake: a raw token, answered with a raw token.
            match raw_token(session, &frame, &conn) {
                Ok(reply) => {
                    let timing = Timing::start(&Bytes::new());
                    if tx.send((Reply::Now(reply), permit, timing)).await.is_err() {
                        break Stop::Eof;
                    }
                    continue;
                }
                Err(why) => break Stop::Auth(why),
            }
        }
        let timing = Timing::start(&frame);
        match handle_frame(&broker, frame, &client_host, &conn, &mut sasl).await {
            Ok((reply, close)) => {
                if tx.send((reply, permit, timing)).await.is_err() {
                    break Stop::Eof;
                }
                if close {
                    break Stop::AuthFailed;
                }
            }
            Err(FrameError::Refused(why)) => {
                timing.failed();
                break Stop::Auth(why);
            }
            Err(e) => {
                timing.failed();
                break Stop::Bad(e);
            }
        }
    };
    match &stop {
        Stop::Eof | Stop::Shutdown => tracing::debug!(%peer, "connection closed: {stop:?}"),
        Stop::Idle => tracing::debug!(%peer, "closing idle connection"),
        Stop::Io(e) => tracing::debug!(%peer, "connection error: {e}"),
        Stop::Bad(e) => tracing::warn!(%peer, "closing connection on bad request: {e}"),
        Stop::Auth(why) => {
            tracing::info!(%peer, listener = %conn.listener, "closing connection: {why}")
        }
        Stop::AuthFailed => {
            tracing::debug!(%peer, listener = %conn.listener, "closing connection after failed authentication");
            let delay = broker
                .config
                .connection_failed_authentication_delay_ms
                .max(0) as u64;
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(delay)) => {}
            }
        }
    }
    drop(tx);
    let _ = writer.await;
    broker.telemetry().connection_closed(conn.id);
    if let Some(shares) = broker.shares.get() {
        shares.connection_closed(conn.id);
    }
}

/// Metrics of one request: its API and when it was read.
struct Timing {
    key: i16,
    version: i16,
    started: Instant,
}

impl Timing {
    fn start(frame: &Bytes) -> Timing {
        let (key, version) = peek_header(frame)
            .map(|p| (p.api_key, p.api_version))
            .unwrap_or((-1, -1));
        Timing {
            key,
            version,
            started: Instant::now(),
        }
    }

    /// The response was written (or, for acks=0, not needed).
    fn done(self, response: Option<&[u8]>) {
        if let Some(api) = metrics::global().api(self.key) {
            api.requests.fetch_add(1, Relaxed);
            if response.is_some_and(|r| top_level_error(self.key, self.version, r)) {
                api.errors.fetch_add(1, Relaxed);
            }
            api.latency.observe(self.started.elapsed());
        }
    }

    /// No response: the request closes the connection.
    fn failed(self) {
        if let Some(api) = metrics::global().api(self.key) {
            api.requests.fetch_add(1, Relaxed);
            api.errors.fetch_add(1, Relaxed);
        }
    }
}

/// One raw SASL token (after a v0 SaslHandshake): the raw answer (size-prefixed), or why
/// the connection closes (a failure cannot be told to a raw-token client).
fn raw_token(
    session: &mut SaslSession,
    token: &[u8],
    conn: &api::ConnectionInfo,
) -> Result<Bytes, String> {
    let out = match session.authenticate(token, api::now_ms()) {
        Ok(AuthOutcome::Continue(c)) => c,
        Ok(AuthOutcome::Done {
            response,
            principal,
            ..
        }) => {
            metrics::global().successful_authentication();
            conn.set_principal(principal);
            response
        }
        Err(f) => {
            metrics::global().failed_authentication();
            return Err(format!("failed authentication: {}", f.detail));
        }
    };
    let mut b = BytesMut::with_capacity(4 + out.len());
    b.put_u32(out.len() as u32);
    b.put_slice(&out);
    Ok(b.freeze())
}

/// Decode the header, route, and produce a reply, and whether the connection closes after
/// it. Err closes the connection at once.
async fn handle_frame(
    broker: &Arc<Broker>,
    frame: Bytes,
    client_host: &Arc<str>,
    conn: &Arc<api::ConnectionInfo>,
    sasl: &mut Option<SaslSession>,
) -> Result<(Reply, bool), FrameError> {
    let Some(session) = sasl.as_mut() else {
        return route(broker, frame, client_host, conn)
            .await
            .map(|r| (r, false));
    };
    let prefix = peek_header(&frame)?;
    session
        .admits(prefix.api_key, api::now_ms())
        .map_err(FrameError::Refused)?;
    let key = ApiKey::try_from(prefix.api_key);
    if key != Ok(ApiKey::SaslHandshake) && key != Ok(ApiKey::SaslAuthenticate) {
        return route(broker, frame, client_host, conn)
            .await
            .map(|r| (r, false));
    }
    let req = request(frame, client_host, conn)?;
    if key == Ok(ApiKey::SaslHandshake) {
        let (bytes, close) = api::sasl_handshake::handle(Some(session), req)?;
        return Ok((Reply::Now(bytes), close));
    }
    let answer = api::sasl_authenticate::handle(Some(session), req, api::now_ms())?;
    if let Some(p) = answer.principal {
        metrics::global().successful_authentication();
        conn.set_principal(p);
    }
    if answer.close {
        metrics::global().failed_authentication();
    }
    Ok((Reply::Now(answer.response), answer.close))
}

/// Decode the header and check the API and its version.
fn request(
    mut frame: Bytes,
    client_host: &Arc<str>,
    conn: &Arc<api::ConnectionInfo>,
) -> Result<Request, FrameError> {
    let prefix = peek_header(&frame)?;
    let key =
        ApiKey::try_from(prefix.api_key).map_err(|_| FrameError::UnknownApiKey(prefix.api_key))?;
    let Some(entry) = api::supported(key) else {
        return Err(FrameError::UnknownApiKey(prefix.api_key));
    };
    if prefix.api_version < entry.min || prefix.api_version > entry.max {
        return Err(FrameError::Malformed {
            api: key,
            version: prefix.api_version,
            reason: "unsupported version".into(),
        });
    }
    let header = decode_header(key, prefix.api_version, &mut frame)?;
    Ok(Request {
        header,
        version: prefix.api_version,
        body: frame,
        client_host: Arc::clone(client_host),
        conn: Arc::clone(conn),
    })
}

/// Decode the header, route, and produce a reply. Err closes the connection.
async fn route(
    broker: &Arc<Broker>,
    frame: Bytes,
    client_host: &Arc<str>,
    conn: &Arc<api::ConnectionInfo>,
) -> Result<Reply, FrameError> {
    let prefix = peek_header(&frame)?;
    // An ApiVersions at a version the broker does not serve is answered (with the versions it
    // does), as Kafka does; any other unsupported version closes the connection.
    if prefix.api_key == ApiKey::ApiVersions as i16
        && api::supported(ApiKey::ApiVersions)
            .is_some_and(|e| prefix.api_version < e.min || prefix.api_version > e.max)
    {
        return api_versions::unsupported_version_response(prefix.correlation_id).map(Reply::Now);
    }
    let req = request(frame, client_host, conn)?;
    let key = ApiKey::try_from(req.header.request_api_key)
        .map_err(|_| FrameError::UnknownApiKey(prefix.api_key))?;
    tracing::trace!(api = key as i16, version = req.version, "request");
    let quota = request_quota_applies(broker, key, &req).then(|| req.client_id());
    let started = Instant::now();
    let reply = api::dispatch(broker, key, req).await?;
    match quota {
        Some(client_id) => Ok(request_throttle(
            broker,
            conn,
            key,
            prefix.api_version,
            &client_id,
            started.elapsed(),
            reply,
        )),
        None => Ok(reply),
    }
}

/// Whether the request-time quota (`request_percentage`) counts this request: some quota of
/// that kind is set, and it is not exempt as in Kafka (ApiVersions and the SASL exchange,
/// which come before a principal is known; a follower's Fetch, `replica_id >= 0`).
fn request_quota_applies(broker: &Broker, key: ApiKey, req: &Request) -> bool {
    use crate::security::quota::QuotaKind;
    if !broker.quotas.is_active(QuotaKind::Request) {
        return false;
    }
    match key {
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => false,
        // replica_id is the body's first field up to v14 (later: a tagged ReplicaState).
        ApiKey::Fetch if req.version <= 14 => req
            .body
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .is_none_or(|b| i32::from_be_bytes(b) < 0),
        _ => true,
    }
}

/// Kafka's `ClientRequestQuotaManager`: record the handler's time as a percentage of one
/// second (`elapsed * 100 / 1 s`) for the principal and client id; over the quota, mute the
/// connection for the throttle time (bounded to one quota window) and raise the response's
/// `throttle_time_ms` to it (KIP-124, KIP-219).
fn request_throttle(
    broker: &Broker,
    conn: &api::ConnectionInfo,
    key: ApiKey,
    version: i16,
    client_id: &str,
    elapsed: Duration,
    reply: Reply,
) -> Reply {
    use crate::security::quota::QuotaKind;
    let now = api::now_ms();
    let percent = elapsed.as_nanos() as f64 * 100.0 / 1e9;
    let principal = conn.principal();
    let t = broker
        .quotas
        .record(QuotaKind::Request, &principal, client_id, percent, now);
    if t <= 0 {
        return reply;
    }
    conn.throttle_until(now + t);
    let ms = t.min(i64::from(i32::MAX)) as i32;
    let patch = move |b: Bytes| -> Bytes {
        let mut v = b.to_vec();
        if crate::protocol::throttle::raise_throttle(&mut v, key, version, ms) {
            Bytes::from(v)
        } else {
            b
        }
    };
    match reply {
        Reply::Now(b) => Reply::Now(patch(b)),
        Reply::Later(fut) => Reply::Later(Box::pin(async move { fut.await.map(patch) })),
        Reply::None => Reply::None,
    }
}

/// Whether an encoded response (size prefix included) carries a non-zero top-level error
/// code. Only the APIs whose top-level error code sits at a fixed place near the start of the
/// body are looked at (a two-byte read); the others count as no error.
fn top_level_error(key: i16, version: i16, response: &[u8]) -> bool {
    let Ok(api) = ApiKey::try_from(key) else {
        return false;
    };
    // Offset of error_code in the body: first, or after throttle_time_ms.
    let at = match (api, version) {
        (ApiKey::ApiVersions, _) | (ApiKey::OffsetDelete, _) | (ApiKey::FindCoordinator, 0) => 0,
        (ApiKey::JoinGroup, 0..=1)
        | (ApiKey::SyncGroup, 0)
        | (ApiKey::Heartbeat, 0)
        | (ApiKey::LeaveGroup, 0)
        | (ApiKey::ListGroups, 0) => 0,
        (ApiKey::Fetch, 7..)
        | (ApiKey::FindCoordinator, 1..=3)
        | (ApiKey::JoinGroup, _)
        | (ApiKey::SyncGroup, _)
        | (ApiKey::Heartbeat, _)
        | (ApiKey::LeaveGroup, _)
        | (ApiKey::ListGroups, _)
        | (ApiKey::InitProducerId, _)
        | (ApiKey::AddOffsetsToTxn, _)
        | (ApiKey::EndTxn, _)
        | (ApiKey::ListTransactions, _) => 4,
        _ => return false,
    };
    // Correlation id, plus an empty tagged-field section in flexible headers (ApiVersions
    // always answers with a v0 header).
    let header = match api {
        ApiKey::ApiVersions => 4,
        _ if api.response_header_version(version) >= 1 => 5,
        _ => 4,
    };
    let pos = 4 + header + at;
    response
        .get(pos..pos + 2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .is_some_and(|b| i16::from_be_bytes(b) != 0)
}

#[cfg(test)]
mod tests {
    use super::top_level_error;
    use crate::api;
    use crate::protocol::encode_response;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, HeaderVersion};

    fn check<R: Encodable + HeaderVersion + Default>(key: ApiKey, set: impl Fn(R, i16) -> R) {
        let Some(e) = api::supported(key) else {
            panic!("{key:?} not served");
        };
        for v in e.min..=e.max {
            let ok = encode_response(7, v, &R::default()).unwrap();
            assert!(!top_level_error(key as i16, v, &ok), "{key:?} v{v} ok");
            let err = encode_response(7, v, &set(R::default(), 15)).unwrap();
            assert!(top_level_error(key as i16, v, &err), "{key:?} v{v} error");
        }
    }

    #[test]
    fn top_level_error_codes_are_found_in_every_served_version() {
        check::<ApiVersionsResponse>(ApiKey::ApiVersions, |r, c| r.with_error_code(c));
        check::<HeartbeatResponse>(ApiKey::Heartbeat, |r, c| r.with_error_code(c));
        check::<JoinGroupResponse>(ApiKey::JoinGroup, |r, c| r.with_error_code(c));
        check::<SyncGroupResponse>(ApiKey::SyncGroup, |r, c| r.with_error_code(c));
        check::<LeaveGroupResponse>(ApiKey::LeaveGroup, |r, c| r.with_error_code(c));
        check::<ListGroupsResponse>(ApiKey::ListGroups, |r, c| r.with_error_code(c));
        check::<InitProducerIdResponse>(ApiKey::InitProducerId, |r, c| r.with_error_code(c));
        check::<AddOffsetsToTxnResponse>(ApiKey::AddOffsetsToTxn, |r, c| r.with_error_code(c));
        check::<EndTxnResponse>(ApiKey::EndTxn, |r, c| r.with_error_code(c));
        check::<ListTransactionsResponse>(ApiKey::ListTransactions, |r, c| r.with_error_code(c));
        check::<OffsetDeleteResponse>(ApiKey::OffsetDelete, |r, c| r.with_error_code(c));
    }

    #[test]
    fn fetch_and_find_coordinator_errors_are_found_where_they_are_top_level() {
        for v in 7..=18 {
            let r = FetchResponse::default().with_error_code(15);
            assert!(top_level_error(1, v, &encode_response(1, v, &r).unwrap()));
            let r = FetchResponse::default();
            assert!(!top_level_error(1, v, &encode_response(1, v, &r).unwrap()));
        }
        for v in 0..=3 {
            let r = FindCoordinatorResponse::default().with_error_code(15);
            assert!(top_level_error(10, v, &encode_response(1, v, &r).unwrap()));
        }
        // v4+ answers per key: no top-level error.
        let r = FindCoordinatorResponse::default();
        assert!(!top_level_error(10, 4, &encode_response(1, 4, &r).unwrap()));
    }
}
