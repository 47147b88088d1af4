//! DeleteTopics (key 20): by name (v1–5 `topic_names`, v6+ `topics`) or by id (v6+).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::errors::topic_error_code;
use super::{ApiEntry, Request};
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DeleteTopics,
    min: 1,
    max: 6,
};

fn delete_named(broker: &Broker, name: &str, requested_id: Option<Uuid>) -> DeletableTopicResult {
    let topic_name = Some(TopicName(StrBytes::from_string(name.to_string())));
    let id = broker
        .topic(name)
        .map(|t| t.id)
        .or(requested_id)
        .unwrap_or(Uuid::nil());
    let (code, message) = match broker.delete_topic(name) {
        Ok(_) => (0, None),
        Err(e) => (topic_error_code(&e), Some(e.to_string())),
    };
    DeletableTopicResult::default()
        .with_name(topic_name)
        .with_topic_id(id)
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Bytes, FrameError> {
    let body: DeleteTopicsRequest = req.decode(ApiKey::DeleteTopics)?;
    let mut results = Vec::new();
    if req.version < 6 {
        for n in &body.topic_names {
            results.push(delete_named(broker, n.0.as_str(), None));
        }
    } else {
        for t in &body.topics {
            match (&t.name, t.topic_id.is_nil()) {
                (Some(n), _) => results.push(delete_named(broker, n.0.as_str(), None)),
                (None, false) => match broker.topic_by_id(&t.topic_id) {
                    Some(topic) => {
                        results.push(delete_named(broker, &topic.name, Some(t.topic_id)))
                    }
                    None => results.push(
                        DeletableTopicResult::default()
                            .with_name(None)
                            .with_topic_id(t.topic_id)
                            .with_error_code(ResponseError::UnknownTopicId.code())
                            .with_error_message(Some(StrBytes::from_static_str(
                                "This server does not host this topic ID.",
                            ))),
                    ),
                },
                (None, true) => results.push(
                    DeletableTopicResult::default()
                        .with_name(None)
                        .with_topic_id(t.topic_id)
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(Some(StrBytes::from_static_str(
                            "Neither topic name nor id were specified.",
                        ))),
                ),
            }
        }
    }
    let resp = DeleteTopicsResponse::default()
        .with_throttle_time_ms(0)
        .with_responses(results);
    req.respond(&resp)
}
