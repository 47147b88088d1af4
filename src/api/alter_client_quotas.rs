//! AlterClientQuotas (key 49), v0–1: set or remove client quota keys per entity through the
//! active controller, which validates them as Kafka's `ClientQuotaControlManager` does
//! (INVALID_REQUEST for unknown entity types or keys, bad combinations, values ≤ 0,
//! fractional byte rates) and writes `ClientQuota` metadata records; `validate_only` checks
//! without writing. One entry per distinct entity in the response.
//!
//! Authorization: Kafka requires ALTER_CONFIGS on the CLUSTER resource
//! (CLUSTER_AUTHORIZATION_FAILED otherwise) — see [`REQUIRED`], for the authorizer.

use std::sync::Arc;

use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use kafka_protocol::messages::{AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey};
use kafka_protocol::protocol::StrBytes;

use super::{opt_str, ApiEntry, Reply, Request};
use crate::cluster::Broker;
use crate::controller::{QuotaAlteration, QuotaAlterationResult};
use crate::protocol::FrameError;
use crate::security::quota::QuotaValue;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::AlterClientQuotas,
    min: 0,
    max: 1,
};

/// The (operation, resource type) Kafka checks: ALTER_CONFIGS on CLUSTER.
pub const REQUIRED: (&str, &str) = ("ALTER_CONFIGS", "CLUSTER");

fn entity_data(entity: &[(String, Option<String>)]) -> Vec<EntityData> {
    entity
        .iter()
        .map(|(t, n)| {
            EntityData::default()
                .with_entity_type(StrBytes::from_string(t.clone()))
                .with_entity_name(n.clone().map(StrBytes::from_string))
        })
        .collect()
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let body: AlterClientQuotasRequest = req.decode(ApiKey::AlterClientQuotas)?;
    let alterations: Vec<QuotaAlteration> = body
        .entries
        .iter()
        .map(|e| QuotaAlteration {
            entity: e
                .entity
                .iter()
                .map(|d| (d.entity_type.as_str().to_string(), opt_str(&d.entity_name)))
                .collect(),
            ops: e
                .ops
                .iter()
                .map(|o| {
                    (
                        o.key.as_str().to_string(),
                        (!o.remove).then_some(QuotaValue(o.value)),
                    )
                })
                .collect(),
        })
        .collect();
    let validate_only = body.validate_only;
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let results: Vec<QuotaAlterationResult> = if alterations.is_empty() {
            Vec::new()
        } else {
            match broker
                .alter_client_quotas(alterations.clone(), validate_only)
                .await
            {
                Ok(r) => r,
                // The whole call failed: every entity gets its error.
                Err((code, message)) => alterations
                    .iter()
                    .map(|a| QuotaAlterationResult {
                        entity: a.entity.clone(),
                        error_code: code,
                        message: Some(message.clone()),
                    })
                    .collect(),
            }
        };
        let entries = results
            .iter()
            .map(|r| {
                EntryData::default()
                    .with_error_code(r.error_code)
                    .with_error_message(r.message.clone().map(StrBytes::from_string))
                    .with_entity(entity_data(&r.entity))
            })
            .collect();
        let resp = AlterClientQuotasResponse::default()
            .with_throttle_time_ms(0)
            .with_entries(entries);
        req.respond(&resp)
    })))
}
