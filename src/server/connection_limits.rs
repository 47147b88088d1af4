//! The accept loop's connection limits (`security::connection_quota`): before a new
//! connection is served, wait out `max.connection.creation.rate` (as Kafka's acceptor does),
//! then take the peer IP's slot. Over `max.connections.per.ip` the connection is closed at
//! once; over an IP's `connection_creation_rate` quota it is closed after the throttle time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{now_ms, Broker};
use crate::security::connection_quota::{ConnectionSlot, Refusal};

/// Admit `stream` from `peer`: its slot (hold it while the connection lives), or None when
/// the connection was refused (and closed, now or after its throttle).
pub async fn admit<S: Send + 'static>(
    broker: &Arc<Broker>,
    stream: S,
    peer: SocketAddr,
) -> Option<(S, ConnectionSlot)> {
    let quotas = &broker.quotas.connections;
    let delay = quotas.creation_delay_ms(now_ms());
    if delay > 0 {
        tracing::debug!(
            delay_ms = delay,
            "max.connection.creation.rate reached; accept waits"
        );
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    match quotas.admit(peer.ip(), now_ms()) {
        Ok(slot) => Some((stream, slot)),
        Err(Refusal::TooManyFromIp { ip, limit }) => {
            tracing::info!(%ip, limit, "max.connections.per.ip reached; connection closed");
            crate::metrics::record_connection_refused();
            drop(stream);
            None
        }
        Err(Refusal::IpThrottled { ip, close_after_ms }) => {
            tracing::info!(%ip, close_after_ms, "connection_creation_rate quota exceeded; connection closed after the throttle");
            crate::metrics::record_connection_refused();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(close_after_ms.max(0) as u64)).await;
                drop(stream);
            });
            None
        }
    }
}
