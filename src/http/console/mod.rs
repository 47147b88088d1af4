//! The web console (`--console-listen`, default 127.0.0.1:8080): a single-page app (plain
//! HTML, CSS and JavaScript compiled into the binary, hash-routed, no bundler and nothing
//! fetched from elsewhere) and the JSON API under `/api/` it reads.
//!
//! The API reads and writes through the broker's own Kafka API handlers, called in-process
//! ([`crate::http::kafka`]): creating a topic, editing its configs or resetting a group's
//! offsets meets exactly Kafka's validation and error codes. The exceptions are the traffic
//! counters (the broker's own metrics, [`crate::metrics`]) and the Schema Registry pages
//! (its state, [`Registry::read`]).
//!
//! Limits: request bodies of at most [`MAX_BODY`] bytes; a page of messages holds at most
//! [`messages::MAX_LIMIT`] records, each key, value and header shown up to
//! [`decode::MAX_SHOWN`] bytes; a search scans at most `max_scan_bytes` (default
//! [`messages::DEFAULT_SCAN_BYTES`], at most [`messages::MAX_SCAN_BYTES`]) and says where it
//! stopped. The console has no login: it is meant for a loopback or otherwise trusted
//! address. Against cross-site requests, writes need a JSON body (so a browser preflights
//! them, and nothing here answers a preflight) and an `Origin`, when sent, naming this host.
//!
//! Errors are `{"error": NAME, "message": TEXT}` with a 4xx status (5xx only when the broker
//! itself fails): NAME is Kafka's error name when a Kafka handler refused
//! (`TOPIC_ALREADY_EXISTS`, `INVALID_CONFIG`…), else `BAD_REQUEST`, `NOT_FOUND`….

mod api;
mod cluster;
mod decode;
mod groups;
mod messages;
mod schemas;
mod security;
mod share;
mod topics;

use std::sync::{Arc, LazyLock};

use futures::future::BoxFuture;
use hyper::Method;
use sha2::{Digest, Sha256};

use super::{Request, Response, Service};
use crate::cluster::Broker;
use crate::server::registry_runtime::Registry;
pub use api::ApiError;
use api::Ctx;

/// The largest request body taken (a topic's config edit is the largest).
pub const MAX_BODY: usize = 64 << 10;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// A static asset with its ETag (a hash of its bytes: a new build with new assets gets
/// new tags, an unchanged asset keeps its tag across builds).
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: String,
}

fn asset(body: &'static str, content_type: &'static str) -> Asset {
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!(
        "\"{}\"",
        digest
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Asset {
        body,
        content_type,
        etag,
    }
}

static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        asset(INDEX_HTML, "text/html; charset=utf-8"),
        asset(APP_JS, "text/javascript; charset=utf-8"),
        asset(APP_CSS, "text/css; charset=utf-8"),
    ]
});

/// The console's content security policy: everything from this origin only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub struct ConsoleService {
    pub broker: Arc<Broker>,
    pub registry: Arc<Registry>,
}

impl Service for ConsoleService {
    fn call(&self, req: Request) -> BoxFuture<'static, Response> {
        let ctx = Ctx::new(
            Arc::clone(&self.broker),
            Arc::clone(&self.registry),
            req.peer,
            req.user.as_deref(),
        );
        Box::pin(async move {
            let resp = match req.segs().first() {
                Some(&"api") => match api_route(&ctx, &req).await {
                    Ok(v) => Response::json(200, "application/json", &v),
                    Err(e) => e.response(),
                },
                _ => static_route(&req),
            };
            resp.with_header("x-content-type-options", "nosniff")
                .with_header("referrer-policy", "no-referrer")
                .with_header("content-security-policy", CSP)
                .with_header("x-frame-options", "DENY")
        })
    }

    fn max_body(&self) -> usize {
        MAX_BODY
    }

    fn transport_error(&self, status: u16, message: &str) -> Response {
        let name = match status {
            408 => "REQUEST_TIMEOUT",
            413 => "PAYLOAD_TOO_LARGE",
            _ => "BAD_REQUEST",
        };
        ApiError::new(status, name, message).response()
    }
}

/// `/`, `/index.html` and `/assets/…`.
fn static_route(req: &Request) -> Response {
    if req.method != Method::GET {
        return ApiError::new(405, "METHOD_NOT_ALLOWED", "only GET is served here").response();
    }
    let which = match req.segs().as_slice() {
        [] | ["index.html"] => 0,
        ["assets", "app.js"] => 1,
        ["assets", "app.css"] => 2,
        _ => return ApiError::not_found("no such page").response(),
    };
    let a = &ASSETS[which];
    let fresh = req
        .header("if-none-match")
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == a.etag));
    let resp = if fresh {
        let mut r = Response::no_content();
        r.status = hyper::StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(200, a.content_type, a.body)
    };
    // Revalidate every time (a 304 is cheap): an upgraded broker's console is never stale.
    resp.with_header("etag", &a.etag)
        .with_header("cache-control", "no-cache")
}

/// Writes must carry a JSON body (a cross-site form cannot send one without a preflight)
/// and, when the browser names the page's origin, come from this host's own page.
fn check_write(req: &Request) -> Result<(), ApiError> {
    if let Some(origin) = req.header("origin") {
        let origin_host = origin
            .split_once("://")
            .map_or(origin, |(_, rest)| rest)
            .trim_end_matches('/');
        if req.header("host") != Some(origin_host) {
            return Err(ApiError::new(
                403,
                "FORBIDDEN",
                "cross-origin writes are refused (the Origin header does not name this console)",
            ));
        }
    }
    if req.method == Method::DELETE {
        // A cross-site DELETE is always preflighted.
        return Ok(());
    }
    let json = req
        .header("content-type")
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the body as application/json",
        ));
    }
    Ok(())
}

/// Parse the JSON body of a write.
fn body_json(req: &Request) -> Result<serde_json::Value, ApiError> {
    check_write(req)?;
    serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

async fn api_route(ctx: &Ctx, req: &Request) -> Result<serde_json::Value, ApiError> {
    let segs = req.segs();
    let m = req.method.as_str();
    let get = m == "GET";
    match (&segs[1..], m) {
        (["cluster"], _) if get => cluster::overview(ctx).await,
        (["metrics"], _) if get => Ok(cluster::metrics(ctx)),
        (["topics"], _) if get => topics::list(ctx, req.flag("internal", true)).await,
        (["topics"], "POST") => topics::create(ctx, &body_json(req)?).await,
        (["topics", t], _) if get => topics::describe(ctx, t).await,
        (["topics", t], "DELETE") => {
            check_write(req)?;
            topics::delete(ctx, t).await
        }
        (["topics", t, "configs"], _) if get => topics::configs(ctx, t).await,
        (["topics", t, "configs"], "PUT") => topics::alter_configs(ctx, t, &body_json(req)?).await,
        (["topics", t, "messages"], _) if get => {
            let q = messages::Query::parse(req)?;
            messages::browse(ctx, t, &q).await
        }
        (["groups"], _) if get => groups::list(ctx).await,
        (["groups", g], _) if get => groups::describe(ctx, g).await,
        (["groups", g, "reset"], "POST") => groups::reset(ctx, g, &body_json(req)?).await,
        (["share-groups"], _) if get => share::list(ctx).await,
        (["share-groups", g], _) if get => share::describe(ctx, g).await,
        (["schemas"], _) if get => Ok(schemas::subjects(ctx).await),
        (["schemas", s], _) if get => schemas::subject(ctx, s).await,
        (["acls"], _) if get => security::list_acls(ctx).await,
        (["acls"], "POST") => security::create_acl(ctx, &body_json(req)?).await,
        (["acls", "delete"], "POST") => security::delete_acl(ctx, &body_json(req)?).await,
        (["users"], _) if get => security::list_users(ctx).await,
        (["users"], "POST") => security::upsert_user(ctx, &body_json(req)?).await,
        (["users", u], "DELETE") => {
            check_write(req)?;
            security::delete_user(ctx, u, req.param("mechanism")).await
        }
        (
            ["cluster"]
            | ["metrics"]
            | ["topics"]
            | ["topics", _]
            | ["topics", _, "configs" | "messages"]
            | ["groups"]
            | ["groups", _]
            | ["groups", _, "reset"]
            | ["share-groups"]
            | ["share-groups", _]
            | ["schemas"]
            | ["schemas", _]
            | ["acls"]
            | ["acls", "delete"]
            | ["users"]
            | ["users", _],
            _,
        ) => Err(ApiError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{m} is not served on {}", req.path),
        )),
        _ => Err(ApiError::not_found(format!("no API at {}", req.path))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_small_and_tagged() {
        let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
        assert!(
            total < 100 * 1024,
            "the console's assets take {total} bytes"
        );
        assert_ne!(ASSETS[0].etag, ASSETS[1].etag);
        assert!(INDEX_HTML.contains("/assets/app.js"));
        // Nothing is loaded from elsewhere.
        for a in ASSETS.iter() {
            let outside = a.body.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside.contains("http://") && !outside.contains("https://"));
        }
    }
}
