//! Brokers' controller requests ([`ControllerRequest`]) mapped onto the [`Controller`] state
//! machine's operations, and its answers back onto [`ControllerResponse`]s. Pure: the
//! runtime (`controller_runtime.rs`) writes the records and fills in what only the write
//! knows (a new registration's broker epoch is its entry's index).

use crate::cluster::controller_rpc::{
    ControllerRequest, ControllerResponse, PartitionResult, TopicRef as RpcTopicRef, TopicResult,
};
use crate::cluster::image::MetadataImage;
use crate::cluster::records::MetadataRecord;
use crate::controller::{
    AlterConfigOp, AlterPartitionData, AlterPartitionRequest, AlterPartitionTopic, AlterableConfig,
    ApiError, BrokerRegistrationRequest, Controller, CreatableTopic, CreatePartitionsTopic,
    ElectionType, HeartbeatRequest, ImportedTopic, IncrementalAlterResource, IsrMember,
    ReassignablePartition, ReassignableTopic, TopicPartitions, TopicPartitionsResult, TopicRef,
};

/// What the runtime must do after writing the records.
pub enum After {
    /// Answer as decided.
    Answer,
    /// A new registration: its broker epoch is the index of the entry written.
    RegisteredAtIndex,
}

fn error(e: ApiError) -> ControllerResponse {
    ControllerResponse::Error {
        error_code: e.code,
        message: e.message,
    }
}

fn code_of<T>(r: &Result<T, ApiError>) -> (i16, Option<String>) {
    match r {
        Ok(_) => (0, None),
        Err(e) => (e.code, e.message.clone()),
    }
}

/// Decide one request: (answer, records, what to do after the write).
pub fn decide(
    c: &mut Controller,
    image: &MetadataImage,
    request: ControllerRequest,
    now_ms: i64,
) -> (ControllerResponse, Vec<MetadataRecord>, After) {
    match request {
        ControllerRequest::RegisterBroker {
            broker_id,
            incarnation_id,
            listeners,
            rack,
        } => {
            let req = BrokerRegistrationRequest {
                broker_id,
                cluster_id: None,
                incarnation_id,
                listeners,
                rack,
            };
            // This node's own broker registering with its own controller: the previous
            // incarnation died with the previous controller process, whatever its session.
            let replaced = image
                .broker(broker_id)
                .is_some_and(|b| b.incarnation_id != incarnation_id);
            if broker_id == c.config().node_id && replaced {
                c.expire_session(broker_id);
            }
            let r = c.register_broker(image, &req, now_ms);
            match r.response {
                Ok(reply) => match reply.broker_epoch {
                    Some(epoch) => (
                        ControllerResponse::Registered {
                            broker_epoch: epoch,
                        },
                        r.records,
                        After::Answer,
                    ),
                    None => (
                        ControllerResponse::Registered { broker_epoch: -1 },
                        r.records,
                        After::RegisteredAtIndex,
                    ),
                },
                Err(e) => (error(e), r.records, After::Answer),
            }
        }
        ControllerRequest::Heartbeat {
            broker_id,
            broker_epoch,
            metadata_offset,
            want_shutdown,
        } => {
            let req = HeartbeatRequest {
                broker_id,
                broker_epoch,
                current_metadata_offset: metadata_offset,
                want_fence: false,
                want_shutdown,
            };
            let r = c.heartbeat(image, &req, now_ms);
            let resp = match r.response {
                Ok(h) => ControllerResponse::Heartbeat {
                    fenced: h.is_fenced,
                    should_shutdown: h.should_shutdown,
                },
                Err(e) => error(e),
            };
            (resp, r.records, After::Answer)
        }
        ControllerRequest::CreateTopics {
            topics,
            validate_only,
        } => {
            let asked: Vec<CreatableTopic> = topics
                .iter()
                .map(|t| CreatableTopic {
                    name: t.name.clone(),
                    num_partitions: t.num_partitions,
                    replication_factor: t.replication_factor,
                    assignments: t
                        .assignments
                        .iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, r)| (i as i32, r.clone()))
                        .collect(),
                    configs: t
                        .configs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                })
                .collect();
            let r = c.create_topics(image, &asked, validate_only);
            let results = r
                .response
                .into_iter()
                .zip(topics)
                .map(|(res, t)| {
                    let (code, message) = code_of(&res.result);
                    let created = res.result.ok();
                    TopicResult {
                        name: res.name,
                        topic_id: created.as_ref().map_or(uuid::Uuid::nil(), |c| c.topic_id),
                        error_code: code,
                        message,
                        num_partitions: created.as_ref().map_or(-1, |c| c.num_partitions),
                        replication_factor: created.as_ref().map_or(-1, |c| c.replication_factor),
                        configs: t
                            .configs
                            .into_iter()
                            .filter_map(|(k, v)| v.map(|v| (k, v)))
                            .collect(),
                    }
                })
                .collect();
            (
                ControllerResponse::Topics(results),
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::DeleteTopics { topics } => {
            let asked: Vec<TopicRef> = topics
                .iter()
                .map(|t| match t {
                    RpcTopicRef::Name(n) => TopicRef::Name(n.clone()),
                    RpcTopicRef::Id(i) => TopicRef::Id(*i),
                })
                .collect();
            let r = c.delete_topics(image, &asked);
            let results = r
                .response
                .into_iter()
                .map(|d| {
                    let (code, message) = code_of(&d.result);
                    TopicResult {
                        name: d.name.unwrap_or_default(),
                        topic_id: d.topic_id.unwrap_or(uuid::Uuid::nil()),
                        error_code: code,
                        message,
                        num_partitions: -1,
                        replication_factor: -1,
                        configs: Default::default(),
                    }
                })
                .collect();
            (
                ControllerResponse::Topics(results),
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::CreatePartitions {
            topics,
            validate_only,
        } => {
            let asked: Vec<CreatePartitionsTopic> = topics
                .into_iter()
                .map(|t| CreatePartitionsTopic {
                    name: t.name,
                    count: t.count,
                    assignments: t.assignments,
                })
                .collect();
            let r = c.create_partitions(image, &asked, validate_only);
            let results = r
                .response
                .into_iter()
                .map(|n| {
                    let (code, message) = code_of(&n.result);
                    TopicResult {
                        name: n.name,
                        topic_id: uuid::Uuid::nil(),
                        error_code: code,
                        message,
                        num_partitions: -1,
                        replication_factor: -1,
                        configs: Default::default(),
                    }
                })
                .collect();
            (
                ControllerResponse::Topics(results),
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::AlterPartition {
            broker_id,
            broker_epoch,
            partitions,
        } => alter_partition(c, image, broker_id, broker_epoch, partitions),
        ControllerRequest::ElectLeaders {
            unclean,
            partitions,
        } => {
            let election = if unclean {
                ElectionType::Unclean
            } else {
                ElectionType::Preferred
            };
            let grouped: Option<Vec<TopicPartitions>> = partitions.map(|ps| {
                let mut v: Vec<TopicPartitions> = Vec::new();
                for (topic, p) in ps {
                    match v.iter_mut().find(|t| t.topic == topic) {
                        Some(t) => t.partitions.push(p),
                        None => v.push(TopicPartitions {
                            topic,
                            partitions: vec![p],
                        }),
                    }
                }
                v
            });
            let r = c.elect_leaders(image, election, grouped.as_deref());
            let results = flatten(image, r.response);
            (
                ControllerResponse::Partitions(results),
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::AlterReassignments { reassignments } => {
            let mut topics: Vec<ReassignableTopic> = Vec::new();
            for (name, partition, replicas) in reassignments {
                let p = ReassignablePartition {
                    partition,
                    replicas,
                };
                match topics.iter_mut().find(|t| t.name == name) {
                    Some(t) => t.partitions.push(p),
                    None => topics.push(ReassignableTopic {
                        name,
                        partitions: vec![p],
                    }),
                }
            }
            let r = c.alter_partition_reassignments(image, &topics);
            let results = flatten(image, r.response);
            (
                ControllerResponse::Partitions(results),
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::AlterConfigs {
            resource,
            ops,
            replace,
            validate_only,
        } => {
            let r = if replace {
                let set = ops
                    .into_iter()
                    .filter_map(|o| o.value.map(|v| (o.name, v)))
                    .collect();
                c.alter_configs(image, &[(resource, set)], validate_only)
            } else {
                let configs = ops
                    .into_iter()
                    .filter_map(|o| {
                        AlterConfigOp::from_i8(o.op).map(|op| AlterableConfig {
                            name: o.name,
                            op,
                            value: o.value,
                        })
                    })
                    .collect();
                c.incremental_alter_configs(
                    image,
                    &[IncrementalAlterResource { resource, configs }],
                    validate_only,
                )
            };
            let (error_code, message) = r
                .response
                .first()
                .map_or((0, None), |res| code_of(&res.result));
            (
                ControllerResponse::Config {
                    error_code,
                    message,
                },
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::AllocateProducerIds {
            broker_id,
            broker_epoch,
        } => {
            let r = c.allocate_producer_ids(image, broker_id, broker_epoch);
            let resp = match r.response {
                Ok(b) => ControllerResponse::ProducerIds {
                    first_id: b.first_producer_id,
                    count: i64::from(b.size),
                },
                Err(e) => error(e),
            };
            (resp, r.records, After::Answer)
        }
        ControllerRequest::AlterClientQuotas {
            alterations,
            validate_only,
        } => {
            let r = c.alter_client_quotas(image, &alterations, validate_only);
            (
                ControllerResponse::ClientQuotas(r.response),
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::ImportTopics {
            broker_id: _,
            topics,
            next_producer_id,
        } => {
            let mut records = Vec::new();
            for t in topics {
                let imported = ImportedTopic {
                    name: t.name,
                    topic_id: t.id,
                    partitions: t.partitions,
                    configs: t.configs,
                };
                match c.import_topic(image, &imported) {
                    Ok(r) => records.extend(r),
                    Err(e) => return (error(e), Vec::new(), After::Answer),
                }
            }
            if let Some(next) = next_producer_id {
                records.extend(c.import_producer_ids(image, next));
            }
            (ControllerResponse::Imported, records, After::Answer)
        }
        ControllerRequest::CreateAcls { acls } => {
            let r = c.create_acls(image, &acls);
            let results = r.response.iter().map(code_of).collect();
            (
                ControllerResponse::AclsCreated(results),
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::DeleteAcls { filters } => {
            let r = c.delete_acls(image, &filters);
            let results = r
                .response
                .into_iter()
                .map(|res| match res {
                    Ok(matched) => crate::cluster::controller_rpc::AclDeleteResult {
                        error_code: 0,
                        message: None,
                        matched,
                    },
                    Err(e) => crate::cluster::controller_rpc::AclDeleteResult {
                        error_code: e.code,
                        message: e.message,
                        matched: Vec::new(),
                    },
                })
                .collect();
            (
                ControllerResponse::AclsDeleted(results),
                r.records,
                After::Answer,
            )
        }
        ControllerRequest::AlterUserScramCredentials {
            deletions,
            upsertions,
        } => {
            use crate::controller::scram::ScramDeletion;
            let deletions: Vec<ScramDeletion> = deletions
                .into_iter()
                .map(|(name, mechanism)| ScramDeletion { name, mechanism })
                .collect();
            let r = c.alter_user_scram_credentials(image, &deletions, &upsertions);
            let results = r
                .response
                .into_iter()
                .map(|(user, res)| {
                    let (code, message) = code_of(&res);
                    (user, code, message)
                })
                .collect();
            (
                ControllerResponse::UserScramCredentials(results),
                r.records,
                After::Answer,
            )
        }
    }
}

fn alter_partition(
    c: &mut Controller,
    image: &MetadataImage,
    broker_id: i32,
    broker_epoch: i64,
    partitions: Vec<crate::cluster::controller_rpc::AlterIsr>,
) -> (ControllerResponse, Vec<MetadataRecord>, After) {
    let mut topics: Vec<AlterPartitionTopic> = Vec::new();
    for p in partitions {
        let data = AlterPartitionData {
            partition: p.partition,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            new_isr: p
                .new_isr
                .iter()
                .map(|&b| IsrMember {
                    broker_id: b,
                    broker_epoch: -1,
                })
                .collect(),
        };
        match topics.iter_mut().find(|t| t.topic_id == p.topic_id) {
            Some(t) => t.partitions.push(data),
            None => topics.push(AlterPartitionTopic {
                topic_id: p.topic_id,
                partitions: vec![data],
            }),
        }
    }
    let req = AlterPartitionRequest {
        broker_id,
        broker_epoch,
        topics,
    };
    let r = c.alter_partition(image, &req);
    let resp = match r.response {
        Err(e) => error(e),
        Ok(topics) => {
            let mut out = Vec::new();
            for t in topics {
                let name = image
                    .topic_by_id(&t.topic_id)
                    .map(|ti| ti.name.clone())
                    .unwrap_or_default();
                for p in t.partitions {
                    let (code, message) = code_of(&p.result);
                    let state = p.result.ok();
                    out.push(PartitionResult {
                        topic: name.clone(),
                        topic_id: t.topic_id,
                        partition: p.partition,
                        error_code: code,
                        message,
                        leader: state.as_ref().map_or(-1, |s| s.leader),
                        leader_epoch: state.as_ref().map_or(-1, |s| s.leader_epoch),
                        partition_epoch: state.as_ref().map_or(-1, |s| s.partition_epoch),
                        isr: state.map(|s| s.isr).unwrap_or_default(),
                    });
                }
            }
            ControllerResponse::Partitions(out)
        }
    };
    (resp, r.records, After::Answer)
}

fn flatten(image: &MetadataImage, results: Vec<TopicPartitionsResult>) -> Vec<PartitionResult> {
    let mut out = Vec::new();
    for t in results {
        let topic_id = image.topic(&t.topic).map_or(uuid::Uuid::nil(), |x| x.id);
        for p in t.partitions {
            let (code, message) = code_of(&p.result);
            out.push(PartitionResult {
                topic: t.topic.clone(),
                topic_id,
                partition: p.partition,
                error_code: code,
                message,
                leader: -1,
                leader_epoch: -1,
                partition_epoch: -1,
                isr: Vec::new(),
            });
        }
    }
    out
}
