//! The broker's HTTP side (issue 13): one small HTTP/1.1 server on hyper ([`server`]) that
//! the web console, the Schema Registry and the HTTP proxy each run on their own listener
//! ([`listen`] binds them with the "explicit port taken = error, default taken = warning"
//! rule). A service is a function from a [`Request`] (method, raw path split into decoded
//! segments, query pairs, headers, the whole body read under a limit) to a [`Response`]
//! (a full body, or a stream of chunks for the proxy's streaming produce).

pub mod auth;
pub mod console;
pub mod kafka;
pub mod listen;
pub mod registry;
pub mod rest;
pub mod server;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use hyper::body::Frame;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode};
use tokio::sync::mpsc;

/// An HTTP request as the services see it.
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// The path's segments, each percent-decoded (so an encoded `/` stays inside its
    /// segment); empty segments are dropped.
    pub segments: Vec<String>,
    /// Query pairs in order, decoded (`+` is a space).
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: Option<SocketAddr>,
    /// The user Basic authentication proved (`http.authentication.method=BASIC`); None when
    /// the listener authenticates nobody (the services then act as `User:ANONYMOUS`).
    pub user: Option<String>,
}

impl Request {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter: `true`/`false` in any case (Python clients send `True`),
    /// absent or unparsable: `default`.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        match self.param(name).map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            _ => default,
        }
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The segments as `&str`s, for matching.
    pub fn segs(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

/// A response body: whole, or chunks sent as they come (chunked transfer encoding).
pub enum Body {
    Full(Bytes),
    Stream(mpsc::Receiver<Bytes>),
}

pub struct Response {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = Response {
            status,
            headers: Vec::new(),
            body: Body::Full(body.into()),
        };
        r.set_header("content-type", content_type);
        r
    }

    /// A JSON body.
    pub fn json(status: u16, content_type: &str, value: &serde_json::Value) -> Response {
        Response::new(status, content_type, value.to_string())
    }

    /// Confluent's error body `{"error_code":…,"message":…}` (Schema Registry and REST Proxy).
    pub fn error(status: u16, code: i32, message: &str, content_type: &str) -> Response {
        Response::json(
            status,
            content_type,
            &serde_json::json!({ "error_code": code, "message": message }),
        )
    }

    /// A streamed body (chunked).
    pub fn stream(status: u16, content_type: &str, rx: mpsc::Receiver<Bytes>) -> Response {
        let mut r = Response::new(status, content_type, Bytes::new());
        r.body = Body::Stream(rx);
        r
    }

    pub fn no_content() -> Response {
        Response {
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            body: Body::Full(Bytes::new()),
        }
    }

    /// Set (replace) a header; an invalid name or value is left out.
    pub fn set_header(&mut self, name: &str, value: &str) {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return;
        };
        self.headers.retain(|(k, _)| *k != n);
        self.headers.push((n, v));
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.set_header(name, value);
        self
    }
}

/// What a listener serves.
pub trait Service: Send + Sync + 'static {
    fn call(&self, req: Request) -> BoxFuture<'static, Response>;
    /// The largest request body taken (a larger one is answered 413 unread).
    fn max_body(&self) -> usize {
        1 << 20
    }
    /// The error body of the transport's own answers (413, 400…), in the service's style.
    fn transport_error(&self, status: u16, message: &str) -> Response {
        Response::error(status, i32::from(status), message, "application/json")
    }
}

pub type SharedService = Arc<dyn Service>;

/// Split a raw path into percent-decoded segments (empty ones dropped). None: the decoded
/// bytes are not UTF-8.
pub fn split_path(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect()
}

/// Parse a query string into decoded pairs (a pair that does not decode is dropped).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

/// Percent-decode `s` (`+` as a space in a query); None if the result is not UTF-8. A `%`
/// not followed by two hex digits is kept as it is.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).copied().and_then(hex),
                    b.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encode a path segment (RFC 3986 unreserved characters kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Whether the request's `Accept` header allows `media` (`*/*`, `type/*`, or the type
/// itself; no header: anything).
pub fn accepts(req: &Request, media: &str) -> bool {
    let Some(accept) = req.header("accept") else {
        return true;
    };
    let (top, _) = media.split_once('/').unwrap_or((media, ""));
    accept.split(',').any(|item| {
        let m = item.split(';').next().unwrap_or("").trim();
        m.is_empty()
            || m == "*/*"
            || m.eq_ignore_ascii_case(media)
            || m.strip_suffix("/*")
                .is_some_and(|t| t.eq_ignore_ascii_case(top))
    })
}

/// The hyper body of a [`Body::Stream`]: each received chunk is one data frame; the body
/// ends when the sender is dropped.
pub(crate) struct ChannelBody(pub mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_decode() {
        assert_eq!(
            split_path("/subjects/a%2Fb/versions/").unwrap(),
            vec!["subjects", "a/b", "versions"]
        );
        assert_eq!(split_path("/x%zz").unwrap(), vec!["x%zz"]);
        assert_eq!(split_path("/%").unwrap(), vec!["%"]);
        assert_eq!(split_path("/%4").unwrap(), vec!["%4"]);
        assert!(split_path("/%ff").is_none());
        assert_eq!(
            parse_query("normalize=False&subject=a+b%21&x"),
            vec![
                ("normalize".to_string(), "False".to_string()),
                ("subject".to_string(), "a b!".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_encode("a/b c"), "a%2Fb%20c");
    }
}
