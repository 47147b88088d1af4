//! ListConfigResources (key 74; v0 was ListClientMetricsResources, KIP-714; v1 adds resource
//! types, KIP-1142). v0 lists the client metrics subscriptions (CLIENT_METRICS resources).
//! v1 lists the resources of the requested types — every type when none is given — as
//! Kafka's broker does: TOPIC (2) every topic, BROKER (4) and BROKER_LOGGER (8) every
//! registered broker id, CLIENT_METRICS (16) every subscription, GROUP (32) every group with
//! GROUP config overrides. A type Kafka does not know is UNSUPPORTED_VERSION for the request.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::list_config_resources_response::ConfigResource;
use kafka_protocol::messages::{ApiKey, ListConfigResourcesRequest, ListConfigResourcesResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::describe_configs::{
    RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_CLIENT_METRICS, RESOURCE_GROUP,
    RESOURCE_TOPIC,
};
use super::{ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ListConfigResources,
    min: 0,
    max: 1,
};

const ALL_TYPES: [i8; 5] = [
    RESOURCE_TOPIC,
    RESOURCE_BROKER,
    RESOURCE_BROKER_LOGGER,
    RESOURCE_CLIENT_METRICS,
    RESOURCE_GROUP,
];

/// The (name, type) of every resource of the given types, or UNSUPPORTED_VERSION.
pub fn list(broker: &Broker, version: i16, types: &[i8]) -> Result<Vec<(String, i8)>, i16> {
    let types: Vec<i8> = if version == 0 {
        vec![RESOURCE_CLIENT_METRICS]
    } else if types.is_empty() {
        ALL_TYPES.to_vec()
    } else {
        types.to_vec()
    };
    if types.iter().any(|t| !ALL_TYPES.contains(t)) {
        return Err(ResponseError::UnsupportedVersion.code());
    }
    let mut out = Vec::new();
    let has = |t: i8| types.contains(&t);
    if has(RESOURCE_GROUP) {
        out.extend(
            broker
                .all_group_configs()
                .keys()
                .map(|g| (g.clone(), RESOURCE_GROUP)),
        );
    }
    if has(RESOURCE_CLIENT_METRICS) {
        out.extend(
            broker
                .all_client_metrics_configs()
                .keys()
                .map(|n| (n.clone(), RESOURCE_CLIENT_METRICS)),
        );
    }
    let cluster = broker.cluster();
    for t in [RESOURCE_BROKER_LOGGER, RESOURCE_BROKER] {
        if has(t) {
            out.extend(cluster.brokers.iter().map(|b| (b.id.to_string(), t)));
        }
    }
    if has(RESOURCE_TOPIC) {
        let mut topics: Vec<String> = broker.all_topics().iter().map(|t| t.name.clone()).collect();
        topics.sort();
        out.extend(topics.into_iter().map(|t| (t, RESOURCE_TOPIC)));
    }
    Ok(out)
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: ListConfigResourcesRequest = req.decode(ApiKey::ListConfigResources)?;
    if let Some(code) = super::authz::authz(broker, &req)
        .cluster_error(crate::security::acl::AclOperation::DescribeConfigs)
    {
        let out = ListConfigResourcesResponse::default().with_error_code(code);
        return req.respond(&out);
    }
    let resp = match list(broker, req.version, &body.resource_types) {
        Ok(resources) => ListConfigResourcesResponse::default().with_config_resources(
            resources
                .into_iter()
                .map(|(name, t)| {
                    ConfigResource::default()
                        .with_resource_name(StrBytes::from_string(name))
                        .with_resource_type(t)
                })
                .collect(),
        ),
        Err(code) => ListConfigResourcesResponse::default().with_error_code(code),
    };
    req.respond(&resp.with_throttle_time_ms(0))
}
