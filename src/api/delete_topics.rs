//! DeleteTopics (key 20): by name (v0–5 `topic_names`, v6+ `topics`) or by id (v6+); v0
//! (removed by KIP-896) answers without a throttle time (protocol/legacy).

use std::sync::Arc;

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::{ApiEntry, Reply, Request};
use crate::cluster::controller_rpc::TopicRef;
use crate::cluster::Broker;
use crate::protocol::FrameError;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::DeleteTopics,
    min: 0,
    max: 6,
};

fn result(
    name: Option<String>,
    id: Uuid,
    code: i16,
    message: Option<String>,
) -> DeletableTopicResult {
    DeletableTopicResult::default()
        .with_name(name.map(|n| TopicName(StrBytes::from_string(n))))
        .with_topic_id(id)
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    // v0 (removed by KIP-896) has v1's request layout; its response lacks the throttle time.
    let body: DeleteTopicsRequest =
        crate::protocol::decode_body(ApiKey::DeleteTopics, req.version.max(1), &mut req.body)?;
    // (request position, the name/id asked) — v1–5 name topics, v6+ by name or id.
    let mut asked: Vec<TopicRef> = Vec::new();
    let mut early: Vec<Option<DeletableTopicResult>> = Vec::new();
    if req.version < 6 {
        for n in &body.topic_names {
            asked.push(TopicRef::Name(n.0.as_str().to_string()));
            early.push(None);
        }
    } else {
        for t in &body.topics {
            match (&t.name, t.topic_id.is_nil()) {
                (Some(n), _) => {
                    asked.push(TopicRef::Name(n.0.as_str().to_string()));
                    early.push(None);
                }
                (None, false) => {
                    asked.push(TopicRef::Id(t.topic_id));
                    early.push(None);
                }
                (None, true) => early.push(Some(result(
                    None,
                    t.topic_id,
                    ResponseError::InvalidRequest.code(),
                    Some("Neither topic name nor id were specified.".into()),
                ))),
            }
        }
    }
    // Kafka: DELETE on each topic (TOPIC_AUTHORIZATION_FAILED).
    let az = super::authz::authz(broker, &req);
    if az.enabled() {
        let mut kept = Vec::with_capacity(asked.len());
        let mut it = std::mem::take(&mut asked).into_iter();
        for e in early.iter_mut().filter(|e| e.is_none()) {
            let Some(r) = it.next() else { break };
            let (name, id) = match &r {
                TopicRef::Name(n) => (Some(n.clone()), Uuid::nil()),
                TopicRef::Id(id) => (broker.topic_by_id(id).map(|t| t.name.clone()), *id),
            };
            match name {
                Some(n) if !az.topic(crate::security::acl::AclOperation::Delete, &n) => {
                    *e = Some(result(
                        Some(n),
                        id,
                        super::authz::TOPIC_AUTHORIZATION_FAILED,
                        None,
                    ));
                }
                _ => kept.push(r),
            }
        }
        asked = kept;
    }
    if !broker.config.delete_topic_enable {
        let code = ResponseError::TopicDeletionDisabled.code();
        let results = asked
            .iter()
            .map(|r| match r {
                TopicRef::Name(n) => result(Some(n.clone()), Uuid::nil(), code, None),
                TopicRef::Id(id) => result(None, *id, code, None),
            })
            .collect::<Vec<_>>();
        let resp = DeleteTopicsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(results);
        return respond(&req, &resp).map(Reply::Now);
    }
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let refs = asked.clone();
        let mut answers = if refs.is_empty() {
            Vec::new()
        } else {
            broker.delete_topics(refs).await
        }
        .into_iter()
        .zip(asked);
        let mut results = Vec::new();
        for e in early {
            let r = match e {
                Some(r) => r,
                None => match answers.next() {
                    Some((a, asked)) => {
                        let name = match &asked {
                            TopicRef::Name(n) => Some(n.clone()),
                            TopicRef::Id(_) => (!a.name.is_empty()).then(|| a.name.clone()),
                        };
                        let id = match asked {
                            TopicRef::Id(id) => id,
                            TopicRef::Name(_) => a.topic_id,
                        };
                        result(name, id, a.error_code, a.message)
                    }
                    None => result(
                        None,
                        Uuid::nil(),
                        ResponseError::UnknownServerError.code(),
                        None,
                    ),
                },
            };
            results.push(r);
        }
        let resp = DeleteTopicsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(results);
        respond(&req, &resp)
    })))
}

fn respond(req: &Request, resp: &DeleteTopicsResponse) -> Result<bytes::Bytes, FrameError> {
    if req.version == 0 {
        let corr = req.header.correlation_id;
        return Ok(crate::protocol::legacy::responses::delete_topics(
            corr, resp,
        ));
    }
    req.respond(resp)
}
