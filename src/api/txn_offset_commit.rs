//! TxnOffsetCommit (key 28), v0–5: offsets committed inside a transaction (the
//! `sendOffsetsToTransaction` of consume-transform-produce loops). The group's
//! `__consumer_offsets` partition must be in the producer's ongoing transaction at its current
//! epoch (added by AddOffsetsToTxn), else INVALID_TXN_STATE / PRODUCER_FENCED; the group
//! coordinator then keeps the offsets pending until the transaction's marker. v3+ carries the
//! consumer's generation and member id (KIP-447) and learns PRODUCER_FENCED. v5 is
//! transactions V2 (KIP-890 part 2): the broker adds the offsets partition to the transaction
//! itself (see txn_implicit.rs). Partitions the metadata image does not hold are
//! UNKNOWN_TOPIC_OR_PARTITION first, as in Kafka 4 (see offset_commit).

use std::sync::Arc;

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{fenced_code, opt_str, via_coordinator, ApiEntry, Reply, Request};
use super::{COORDINATOR_NOT_AVAILABLE, PRODUCER_FENCED};
use crate::cluster::Broker;
use crate::group::types::{
    CommitPartition, Request as GroupRequest, Response as GroupResponse, TxnOffsetCommit,
};
use crate::protocol::{encode_response, FrameError};
use crate::server::group_runtime::OFFSETS_TOPIC;

pub const VERSIONS: ApiEntry = ApiEntry {
    key: ApiKey::TxnOffsetCommit,
    min: 0,
    max: 5,
};

/// The same error code for every partition of the request.
fn every_partition(
    body: &TxnOffsetCommitRequest,
    code: i16,
    version: i16,
) -> TxnOffsetCommitResponse {
    let parts = body
        .topics
        .iter()
        .flat_map(|t| {
            let name = t.name.0.as_str();
            t.partitions
                .iter()
                .map(move |p| (name.to_string(), p.partition_index, code))
        })
        .collect();
    TxnOffsetCommitResponse::default()
        .with_throttle_time_ms(0)
        .with_topics(by_topic(parts, version))
}

fn by_topic(parts: Vec<(String, i32, i16)>, version: i16) -> Vec<TxnOffsetCommitResponseTopic> {
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = Vec::new();
    for (t, p, code) in parts {
        let part = TxnOffsetCommitResponsePartition::default()
            .with_partition_index(p)
            .with_error_code(fenced_code(code, version, 3));
        match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(
                TxnOffsetCommitResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_string(t)))
                    .with_partitions(vec![part]),
            ),
        }
    }
    topics
}

pub fn handle(broker: &Arc<Broker>, mut req: Request) -> Result<Reply, FrameError> {
    let version = req.version;
    let body: TxnOffsetCommitRequest = req.decode(ApiKey::TxnOffsetCommit)?;
    // v5, transactions V2 (KIP-890 part 2): the group's offsets partition is added to the
    // transaction here (no AddOffsetsToTxn); below v5 a coordinator on another broker is asked
    // whether AddOffsetsToTxn added it.
    let tid = body.transactional_id.0.as_str();
    let (pid, epoch) = (body.producer_id.0, body.producer_epoch);
    let group = body.group_id.0.as_str();
    // Kafka: WRITE on the transactional id, else every partition is refused.
    let az = super::authz::authz(broker, &req);
    if let Some(code) = az.txn_error(crate::security::acl::AclOperation::Write, tid) {
        return req
            .respond(&every_partition(&body, code, version))
            .map(Reply::Now);
    }
    let add = super::txn_implicit::offsets_add(broker, tid, group, pid, epoch, version < 5);
    let Some(add) = add else {
        return commit(broker, req, body);
    };
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        let code = add.await;
        if code != 0 {
            let out = every_partition(&body, code, version);
            return encode_response(req.header.correlation_id, version, &out);
        }
        match commit(&broker, req, body)? {
            Reply::Now(b) => Ok(b),
            Reply::Later(f) => f.await,
            Reply::None => Ok(bytes::Bytes::new()),
        }
    })))
}

/// TxnOffsetCommit once the offsets partition is in the transaction (or must be).
fn commit(
    broker: &Arc<Broker>,
    req: Request,
    body: TxnOffsetCommitRequest,
) -> Result<Reply, FrameError> {
    let version = req.version;
    let mut partitions = Vec::new();
    for t in &body.topics {
        for p in &t.partitions {
            partitions.push(CommitPartition {
                topic: t.name.0.as_str().to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 2 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: opt_str(&p.committed_metadata),
            });
        }
    }
    // Kafka: READ on the group (else every partition), READ on each topic.
    let (partitions, refused) =
        super::authz::authz(broker, &req).commit_partitions(body.group_id.0.as_str(), partitions);
    let (partitions, mut unknown) = super::offset_commit::known_partitions(broker, partitions);
    unknown.extend(refused);
    if partitions.is_empty() {
        let out = TxnOffsetCommitResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(by_topic(unknown, version));
        return encode_response(req.header.correlation_id, version, &out).map(Reply::Now);
    }
    let group_id = body.group_id.0.as_str().to_string();
    let fail_all = |parts: &[CommitPartition], code: i16| -> Vec<(String, i32, i16)> {
        parts
            .iter()
            .map(|p| (p.topic.clone(), p.partition, code))
            .collect()
    };
    // The offsets partition must be in the producer's ongoing transaction: checked here when
    // this broker coordinates the transactional id; else its coordinator said so (handle), or
    // the producer has a transaction open in the offsets partition at this epoch.
    let offsets_partitions = broker
        .topic(OFFSETS_TOPIC)
        .map_or(0, |t| t.partitions.len() as i32);
    let local = super::produce::coordinated_here(broker, body.transactional_id.0.as_str());
    let verified = if offsets_partitions == 0 {
        Err(COORDINATOR_NOT_AVAILABLE)
    } else if !local && broker.txn_forward.get().is_some() {
        Ok(())
    } else {
        let p = crate::group::partition_for(&group_id, offsets_partitions);
        broker
            .txn_partitions
            .check(body.producer_id.0, body.producer_epoch, OFFSETS_TOPIC, p)
            .map_err(|code| {
                if code == super::INVALID_PRODUCER_EPOCH {
                    PRODUCER_FENCED
                } else {
                    code
                }
            })
    };
    if let Err(code) = verified {
        let mut parts = unknown;
        parts.extend(fail_all(&partitions, code));
        let out = TxnOffsetCommitResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(by_topic(parts, version));
        return encode_response(req.header.correlation_id, version, &out).map(Reply::Now);
    }
    let requested = fail_all(&partitions, COORDINATOR_NOT_AVAILABLE);
    let commit = TxnOffsetCommit {
        transactional_id: body.transactional_id.0.as_str().to_string(),
        group_id,
        producer_id: body.producer_id.0,
        producer_epoch: body.producer_epoch,
        generation_id: if version >= 3 { body.generation_id } else { -1 },
        member_id: if version >= 3 {
            body.member_id.as_str().to_string()
        } else {
            String::new()
        },
        group_instance_id: if version >= 3 {
            opt_str(&body.group_instance_id)
        } else {
            None
        },
        partitions,
    };
    via_coordinator(
        broker,
        &req,
        GroupRequest::TxnOffsetCommit(commit),
        move |resp, corr, version| {
            let mut parts = unknown;
            match resp {
                Some(GroupResponse::TxnOffsetCommit { partitions }) => parts.extend(partitions),
                _ => parts.extend(requested),
            };
            let out = TxnOffsetCommitResponse::default()
                .with_throttle_time_ms(0)
                .with_topics(by_topic(parts, version));
            encode_response(corr, version, &out)
        },
    )
}
