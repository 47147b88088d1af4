//! SaslAuthenticate (key 36): one SASL token of the exchange the SaslHandshake started.
//!
//! The connection's session (`security::sasl_session`) steps the mechanism: a challenge goes
//! back in `auth_bytes`; on success the final response, and from v1 `session_lifetime_ms`
//! (`connections.max.reauth.ms`, KIP-368; 0 = no limit). A failure is
//! SASL_AUTHENTICATION_FAILED (58) with Kafka's message, which says nothing about whether the
//! user exists, and the connection closes. Out of turn it is ILLEGAL_SASL_STATE (34).

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request};
use crate::protocol::FrameError;
use crate::security::sasl_session::{AuthOutcome, SaslSession};
use crate::security::KafkaPrincipal;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::SaslAuthenticate,
    min: 0,
    max: 2,
};

/// What the connection does after answering.
pub struct Answer {
    pub response: Bytes,
    /// Close the connection once the response is written.
    pub close: bool,
    /// Authenticated as this principal.
    pub principal: Option<KafkaPrincipal>,
}

pub fn handle(
    session: Option<&mut SaslSession>,
    mut req: Request,
    now_ms: i64,
) -> Result<Answer, FrameError> {
    let body: SaslAuthenticateRequest = req.decode(ApiKey::SaslAuthenticate)?;
    let Some(session) = session else {
        let resp = SaslAuthenticateResponse::default()
            .with_error_code(ResponseError::IllegalSaslState.code())
            .with_error_message(Some(StrBytes::from_static_str(
                "SaslAuthenticate request received on a listener without SASL",
            )));
        return Ok(Answer {
            response: req.respond(&resp)?,
            close: false,
            principal: None,
        });
    };
    let (resp, close, principal) = match session.authenticate(&body.auth_bytes, now_ms) {
        Ok(AuthOutcome::Continue(challenge)) => (
            SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(challenge)),
            false,
            None,
        ),
        Ok(AuthOutcome::Done {
            response,
            principal,
            session_lifetime_ms,
        }) => (
            SaslAuthenticateResponse::default()
                .with_auth_bytes(Bytes::from(response))
                .with_session_lifetime_ms(if req.version >= 1 {
                    session_lifetime_ms
                } else {
                    0
                }),
            false,
            Some(principal),
        ),
        Err(f) => {
            tracing::info!(
                peer = ?req.conn.peer,
                listener = %req.conn.listener,
                "failed authentication: {}",
                f.detail
            );
            let code = if f.illegal_state {
                ResponseError::IllegalSaslState
            } else {
                ResponseError::SaslAuthenticationFailed
            };
            (
                SaslAuthenticateResponse::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(f.message))),
                true,
                None,
            )
        }
    };
    Ok(Answer {
        response: req.respond(&resp)?,
        close,
        principal,
    })
}
