//! ListPartitionReassignments (key 46), v0: no reassignment ever runs on a single node, so
//! the answer is always an empty list (for all topics, or the named ones; Kafka also leaves
//! out unknown topics silently).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use super::{ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::ListPartitionReassignments,
    min: 0,
    max: 0,
};

pub fn handle(_broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let _body: ListPartitionReassignmentsRequest =
        req.decode(ApiKey::ListPartitionReassignments)?;
    let resp = ListPartitionReassignmentsResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_error_message(None)
        .with_topics(vec![]);
    req.respond(&resp)
}
