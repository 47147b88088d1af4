//! DescribeCluster (key 60), v0–2: the cluster's live brokers (v2 with
//! `include_fenced_brokers`: the fenced ones too, marked), the active controller's id, the
//! cluster id, and the
//! cluster authorized operations when asked (all of them: there are no ACLs), else
//! Kafka's default i32::MIN. v1+ names the endpoint type: a broker serves `1` (brokers);
//! asking it for controllers (2) is MISMATCHED_ENDPOINT_TYPE, any other type
//! UNSUPPORTED_ENDPOINT_TYPE (both INVALID_REQUEST at v0).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DescribeCluster,
    min: 0,
    max: 2,
};

const BROKER_ENDPOINT: i8 = 1;
const CONTROLLER_ENDPOINT: i8 = 2;

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let version = req.version;
    let body: DescribeClusterRequest = req.decode(ApiKey::DescribeCluster)?;
    let mismatch = match body.endpoint_type {
        BROKER_ENDPOINT => None,
        CONTROLLER_ENDPOINT => Some((
            ResponseError::MismatchedEndpointType.code(),
            "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER".to_string(),
        )),
        other => Some((
            ResponseError::UnsupportedEndpointType.code(),
            format!("Unsupported endpoint type {other}"),
        )),
    };
    if let Some((code, message)) = mismatch {
        let code = if version == 0 {
            ResponseError::InvalidRequest.code()
        } else {
            code
        };
        let resp = DescribeClusterResponse::default()
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(message)));
        return req.respond(&resp);
    }
    let cluster = broker.cluster();
    let mut brokers: Vec<DescribeClusterBroker> = cluster
        .brokers
        .iter()
        .filter(|b| !b.fenced || (version >= 2 && body.include_fenced_brokers))
        .filter_map(|b| b.on_listener(&req.conn.listener))
        .map(|b| {
            let mut d = DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.id))
                .with_host(StrBytes::from_string(b.host.clone()))
                .with_port(i32::from(b.port))
                .with_rack(b.rack.clone().map(StrBytes::from_string));
            if version >= 2 {
                d.is_fenced = b.fenced;
            }
            d
        })
        .collect();
    if brokers.is_empty() {
        let (host, port) = broker.config.advertised_on(&req.conn.listener);
        brokers.push(
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(broker.config.node_id))
                .with_host(StrBytes::from_string(host))
                .with_port(i32::from(port))
                .with_rack(None),
        );
    }
    let controller_id = cluster.client_controller_id(broker.config.node_id);
    let resp = DescribeClusterResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_cluster_id(StrBytes::from_string(broker.cluster_id.clone()))
        .with_controller_id(BrokerId(controller_id))
        .with_brokers(brokers)
        .with_cluster_authorized_operations(if body.include_cluster_authorized_operations {
            super::authz::authz(broker, &req).operations(
                crate::security::acl::ResourceType::Cluster,
                crate::security::acl::CLUSTER_NAME,
            )
        } else {
            i32::MIN
        });
    req.respond(&resp)
}
