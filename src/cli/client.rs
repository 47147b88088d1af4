//! A small blocking Kafka client for the operator CLI: one TCP connection per broker,
//! ApiVersions on connect to pick, for every request, the highest version both the broker and
//! this client speak, then plain request/response calls in order.
//!
//! Everything read from the network is checked: frame sizes are bounded before allocating,
//! correlation ids must match, decode errors become `anyhow` errors (never a panic). The CLI
//! speaks only versions that address topics by name, so it works against skua and Kafka alike.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest, GroupId,
    MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse, TopicName,
};

use super::sasl_client::SaslClient;
use super::security::ClientSecurity;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

/// Largest response frame accepted (a fetch answers at most `max_bytes`, 64 MiB here).
const MAX_FRAME: usize = 128 << 20;
const CLIENT_ID: &str = "skua-cli";

pub use crate::api::errors::error_name;

/// Ok for code 0, else an error naming the code and the broker's message.
pub fn check(code: i16, message: Option<&StrBytes>, what: &str) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    match message.map(|m| m.as_str()).filter(|m| !m.is_empty()) {
        Some(m) => bail!("{what}: {} ({m})", error_name(code)),
        None => bail!("{what}: {}", error_name(code)),
    }
}

pub fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

pub fn group_id(s: &str) -> GroupId {
    GroupId(StrBytes::from_string(s.to_string()))
}

pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A byte stream to a broker: TCP, or TLS over TCP.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One connection to one broker, with the version ranges it advertised.
pub struct Conn {
    stream: Box<dyn Stream>,
    addr: String,
    correlation: i32,
    versions: HashMap<i16, (i16, i16)>,
}

impl Conn {
    /// Connect (in plaintext) and ask the broker which API versions it serves.
    pub fn connect(addr: &str, timeout: Duration) -> Result<Conn> {
        Conn::connect_with(addr, timeout, &ClientSecurity::default())
    }

    /// Connect with the CLI's security settings: TLS first, then ApiVersions, then the SASL
    /// exchange.
    /// A comma-separated list (`--bootstrap-server a:9092,b:9092`, as Kafka's tools take) is
    /// tried in order; the first broker that answers is used.
    pub fn connect_with(addr: &str, timeout: Duration, security: &ClientSecurity) -> Result<Conn> {
        if addr.contains(',') {
            let mut last = None;
            for one in addr.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                match Conn::connect_one(one, timeout, security) {
                    Ok(c) => return Ok(c),
                    Err(e) => last = Some(e),
                }
            }
            return Err(last.unwrap_or_else(|| anyhow!("no broker address in {addr:?}")));
        }
        Conn::connect_one(addr, timeout, security)
    }

    fn connect_one(addr: &str, timeout: Duration, security: &ClientSecurity) -> Result<Conn> {
        let addrs: Vec<_> = addr
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve broker address {addr}"))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => bail!("cannot connect to broker {addr}: {e}"),
            (None, None) => bail!("cannot connect to broker {addr}: no address"),
        };
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        let stream: Box<dyn Stream> = match &security.tls {
            None => Box::new(stream),
            Some(config) => {
                let host = addr
                    .rsplit_once(':')
                    .map_or(addr, |(h, _)| h)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| anyhow!("broker address {addr}: {e}"))?;
                let tls = rustls::ClientConnection::new(std::sync::Arc::clone(config), name)
                    .map_err(|e| anyhow!("TLS to {addr}: {e}"))?;
                Box::new(rustls::StreamOwned::new(tls, stream))
            }
        };
        let mut conn = Conn {
            stream,
            addr: addr.to_string(),
            correlation: 0,
            versions: HashMap::new(),
        };
        // v0 is understood by every broker and its answer is never in "unsupported" form.
        let resp: ApiVersionsResponse = conn
            .call_raw(0, &ApiVersionsRequest::default())
            .with_context(|| format!("broker {addr} did not answer ApiVersions"))?;
        check(resp.error_code, None, "ApiVersions")?;
        for k in resp.api_keys {
            conn.versions
                .insert(k.api_key, (k.min_version, k.max_version));
        }
        if let Some((mechanism, user, password)) = &security.sasl {
            conn.authenticate(mechanism, user, password)
                .with_context(|| format!("SASL authentication with broker {addr}"))?;
        }
        Ok(conn)
    }

    /// SaslHandshake v1, then SaslAuthenticate until the exchange completes.
    fn authenticate(&mut self, mechanism: &str, user: &str, password: &str) -> Result<()> {
        let resp: SaslHandshakeResponse = self.call_raw(
            1,
            &SaslHandshakeRequest::default().with_mechanism(str_bytes(mechanism)),
        )?;
        if resp.error_code != 0 {
            let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
            bail!(
                "{}: the broker's listener enables {}",
                error_name(resp.error_code),
                enabled.join(", ")
            );
        }
        let mut client = SaslClient::new(mechanism, user, password).map_err(|e| anyhow!("{e}"))?;
        let mut token = client.initial().map_err(|e| anyhow!("{e}"))?;
        loop {
            let resp: SaslAuthenticateResponse = self.call_raw(
                1,
                &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)),
            )?;
            check(
                resp.error_code,
                resp.error_message.as_ref(),
                "SaslAuthenticate",
            )?;
            match client.step(&resp.auth_bytes).map_err(|e| anyhow!("{e}"))? {
                Some(next) => token = next,
                None => return Ok(()),
            }
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// True when the broker serves the API at all.
    pub fn serves(&self, key: ApiKey) -> bool {
        self.versions.contains_key(&(key as i16))
    }

    /// The highest version of `R` both sides speak (this client speaks `ours_min..=ours_max`).
    pub fn version<R: Request>(&self, ours_min: i16, ours_max: i16) -> Result<i16> {
        let name = api_name(R::KEY);
        let &(min, max) = self
            .versions
            .get(&R::KEY)
            .ok_or_else(|| anyhow!("broker {} does not serve {name}", self.addr))?;
        let v = max.min(ours_max).min(R::VERSIONS.max);
        if v < min.max(ours_min) {
            bail!(
                "broker {} serves {name} v{min}-{max}, this client speaks v{ours_min}-{ours_max}",
                self.addr
            );
        }
        Ok(v)
    }

    /// Send a request at `version` and wait for its response.
    pub fn call<R: Request>(&mut self, version: i16, req: &R) -> Result<R::Response> {
        self.call_raw(version, req)
            .with_context(|| format!("{} to {}", api_name(R::KEY), self.addr))
    }

    /// Send a request without waiting (Produce with acks=0 has no response).
    pub fn send_only<R: Request>(&mut self, version: i16, req: &R) -> Result<()> {
        self.send(version, req)
            .with_context(|| format!("{} to {}", api_name(R::KEY), self.addr))
            .map(|_| ())
    }

    fn send<R: Request>(&mut self, version: i16, req: &R) -> Result<(ApiKey, i32)> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| anyhow!("unknown api key {}", R::KEY))?;
        self.correlation = self.correlation.wrapping_add(1);
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = self.correlation;
        header.client_id = Some(StrBytes::from_static_str(CLIENT_ID));
        let mut body = BytesMut::new();
        header.encode(&mut body, key.request_header_version(version))?;
        req.encode(&mut body, version)?;
        let len = i32::try_from(body.len()).map_err(|_| anyhow!("request too large"))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(len);
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame)?;
        Ok((key, self.correlation))
    }

    fn call_raw<R: Request>(&mut self, version: i16, req: &R) -> Result<R::Response> {
        let (key, correlation) = self.send(version, req)?;
        let mut frame = self.read_frame()?;
        let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))?;
        if header.correlation_id != correlation {
            bail!(
                "response correlation id {} does not match request {correlation}",
                header.correlation_id
            );
        }
        let resp = R::Response::decode(&mut frame, version)?;
        Ok(resp)
    }

    fn read_frame(&mut self) -> Result<Bytes> {
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => anyhow!("connection closed by broker"),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    anyhow!("timed out waiting for the broker")
                }
                _ => anyhow!(e),
            })?;
        let size = i32::from_be_bytes(size);
        let size = usize::try_from(size)
            .ok()
            .filter(|s| (4..=MAX_FRAME).contains(s))
            .ok_or_else(|| anyhow!("bad response frame size {size}"))?;
        let mut buf = vec![0u8; size];
        self.stream.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    }
}

fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("api {key}"),
    }
}

/// The cluster as seen from a bootstrap broker: connections by node id, made on first use.
pub struct Cluster {
    bootstrap: Conn,
    timeout: Duration,
    brokers: HashMap<i32, String>,
    conns: HashMap<i32, Conn>,
    controller: i32,
    security: ClientSecurity,
}

/// Sentinel node id for "the bootstrap connection".
const BOOTSTRAP: i32 = i32::MIN;

impl Cluster {
    pub fn connect(bootstrap: &str) -> Result<Cluster> {
        Cluster::connect_with(bootstrap, ClientSecurity::default())
    }

    /// With the CLI's TLS/SASL settings (`--command-config`), for every broker connection.
    pub fn connect_with(bootstrap: &str, security: ClientSecurity) -> Result<Cluster> {
        let timeout = Duration::from_secs(30);
        let conn = Conn::connect_with(bootstrap, Duration::from_secs(10), &security)?;
        let mut c = Cluster {
            bootstrap: conn,
            timeout,
            brokers: HashMap::new(),
            conns: HashMap::new(),
            controller: -1,
            security,
        };
        c.metadata(Some(&[]))?;
        Ok(c)
    }

    pub fn bootstrap(&mut self) -> &mut Conn {
        &mut self.bootstrap
    }

    /// Metadata for some topics (None: all topics); also refreshes the broker list.
    pub fn metadata(&mut self, topics: Option<&[&str]>) -> Result<MetadataResponse> {
        let conn = &mut self.bootstrap;
        let v = conn.version::<MetadataRequest>(1, 12)?;
        let mut req = MetadataRequest::default();
        req.topics = topics.map(|ts| {
            ts.iter()
                .map(|t| {
                    let mut mt =
                        kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
                    mt.name = Some(topic_name(t));
                    mt
                })
                .collect()
        });
        req.allow_auto_topic_creation = false;
        let resp = conn.call(v, &req)?;
        self.brokers = resp
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        self.controller = resp.controller_id.0;
        Ok(resp)
    }

    /// Node ids of all brokers, sorted.
    pub fn broker_ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.brokers.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The connection to a node (the bootstrap one if the node is unknown or is -1).
    pub fn node(&mut self, id: i32) -> Result<&mut Conn> {
        if id == BOOTSTRAP || !self.brokers.contains_key(&id) {
            return Ok(&mut self.bootstrap);
        }
        if !self.conns.contains_key(&id) {
            let addr = self
                .brokers
                .get(&id)
                .cloned()
                .ok_or_else(|| anyhow!("unknown broker {id}"))?;
            let conn = Conn::connect_with(&addr, self.timeout, &self.security)?;
            self.conns.insert(id, conn);
        }
        self.conns
            .get_mut(&id)
            .ok_or_else(|| anyhow!("unknown broker {id}"))
    }

    /// The controller (for CreateTopics/DeleteTopics on brokers that need it), or bootstrap.
    pub fn controller(&mut self) -> Result<&mut Conn> {
        let id = self.controller;
        self.node(id)
    }

    /// The group coordinator of `group` (FindCoordinator, key type 0).
    pub fn coordinator(&mut self, group: &str) -> Result<&mut Conn> {
        let conn = &mut self.bootstrap;
        let v = conn.version::<FindCoordinatorRequest>(0, 6)?;
        let mut req = FindCoordinatorRequest::default();
        if v >= 4 {
            req.coordinator_keys = vec![str_bytes(group)];
        } else {
            req.key = str_bytes(group);
        }
        let resp = conn.call(v, &req)?;
        let node = if v >= 4 {
            let c = resp
                .coordinators
                .first()
                .ok_or_else(|| anyhow!("FindCoordinator: empty answer"))?;
            check(c.error_code, c.error_message.as_ref(), "FindCoordinator")?;
            self.brokers
                .insert(c.node_id.0, format!("{}:{}", c.host.as_str(), c.port));
            c.node_id.0
        } else {
            check(
                resp.error_code,
                resp.error_message.as_ref(),
                "FindCoordinator",
            )?;
            self.brokers.insert(
                resp.node_id.0,
                format!("{}:{}", resp.host.as_str(), resp.port),
            );
            resp.node_id.0
        };
        self.node(node)
    }
}

/// Read a big-endian i16 at the front of `b`, if there is one.
pub fn peek_i16(b: &Bytes) -> Option<i16> {
    if b.len() < 2 {
        return None;
    }
    let mut c = b.clone();
    Some(c.get_i16())
}
