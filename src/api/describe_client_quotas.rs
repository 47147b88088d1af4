//! DescribeClientQuotas (key 48), v0–1: the client quotas of the metadata image whose
//! entities match the filter (per entity type: an exact name, the type's default, or any
//! entity having the type; `strict`: no other types), as Kafka's `ClientQuotasImage.describe`.
//! A bad filter answers INVALID_REQUEST (an unknown entity type UNSUPPORTED_VERSION) with
//! Kafka's message and no entries.
//!
//! Authorization: Kafka requires DESCRIBE_CONFIGS on the CLUSTER resource
//! (CLUSTER_AUTHORIZATION_FAILED otherwise) — see [`REQUIRED`], for the authorizer.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{ApiKey, DescribeClientQuotasRequest, DescribeClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;

use super::{opt_str, ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeClientQuotas,
    min: 0,
    max: 1,
};

/// The (operation, resource type) Kafka checks: DESCRIBE_CONFIGS on CLUSTER.
pub const REQUIRED: (&str, &str) = ("DESCRIBE_CONFIGS", "CLUSTER");

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: DescribeClientQuotasRequest = req.decode(ApiKey::DescribeClientQuotas)?;
    let components: Vec<(String, i8, Option<String>)> = body
        .components
        .iter()
        .map(|c| {
            (
                c.entity_type.as_str().to_string(),
                c.match_type,
                opt_str(&c._match),
            )
        })
        .collect();
    let image = broker.quotas.image();
    let resp = match image.describe(&components, body.strict) {
        Ok(entries) => DescribeClientQuotasResponse::default().with_entries(Some(
            entries
                .into_iter()
                .map(|(entity, values)| {
                    EntryData::default()
                        .with_entity(
                            entity
                                .iter()
                                .map(|(t, n)| {
                                    EntityData::default()
                                        .with_entity_type(StrBytes::from_string(t.clone()))
                                        .with_entity_name(n.clone().map(StrBytes::from_string))
                                })
                                .collect(),
                        )
                        .with_values(
                            values
                                .iter()
                                .map(|(k, v)| {
                                    ValueData::default()
                                        .with_key(StrBytes::from_string(k.clone()))
                                        .with_value(*v)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )),
        Err((code, message)) => DescribeClientQuotasResponse::default()
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(message)))
            .with_entries(None),
    };
    req.respond(&resp.with_throttle_time_ms(0))
}
