//! SaslHandshake (key 17): the client names the SASL mechanism it will authenticate with.
//!
//! On a SASL listener the connection owns the exchange (`security::sasl_session`) and calls
//! [`handle`] with its session: an enabled mechanism is accepted (error 0 and the enabled
//! list); any other is UNSUPPORTED_SASL_MECHANISM (33) with the enabled list, and the
//! connection closes, as Kafka's `SaslServerAuthenticator` does. v0 means the tokens that follow
//! are raw frames; v1 means they come in SaslAuthenticate requests. A handshake after
//! authentication starts a KIP-368 re-authentication.
//!
//! On a listener without SASL it is ILLEGAL_SASL_STATE (34), as Kafka's `KafkaApis` answers.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, SaslHandshakeRequest, SaslHandshakeResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request};
use crate::protocol::FrameError;
use crate::security::sasl_session::{HandshakeError, SaslSession};

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::SaslHandshake,
    min: 0,
    max: 1,
};

/// The response, and whether the connection closes after it.
pub fn handle(
    session: Option<&mut SaslSession>,
    mut req: Request,
) -> Result<(Bytes, bool), FrameError> {
    let body: SaslHandshakeRequest = req.decode(ApiKey::SaslHandshake)?;
    let Some(session) = session else {
        let resp = SaslHandshakeResponse::default()
            .with_error_code(ResponseError::IllegalSaslState.code());
        return Ok((req.respond(&resp)?, false));
    };
    let mechanisms: Vec<StrBytes> = session
        .enabled_mechanisms()
        .iter()
        .map(|m| StrBytes::from_string(m.clone()))
        .collect();
    let (code, close) = match session.handshake(body.mechanism.as_str(), req.version) {
        Ok(()) => (0, false),
        Err(HandshakeError::Unsupported) => {
            tracing::info!(
                peer = ?req.conn.peer,
                mechanism = body.mechanism.as_str(),
                "SASL handshake for a mechanism not enabled on listener {}",
                req.conn.listener
            );
            (ResponseError::UnsupportedSaslMechanism.code(), true)
        }
        Err(HandshakeError::IllegalState(why)) => {
            tracing::info!(peer = ?req.conn.peer, "SASL handshake refused: {why}");
            (ResponseError::IllegalSaslState.code(), true)
        }
    };
    let resp = SaslHandshakeResponse::default()
        .with_error_code(code)
        .with_mechanisms(mechanisms);
    Ok((req.respond(&resp)?, close))
}
