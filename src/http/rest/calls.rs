//! The proxy's Kafka calls: each one a request of the `kafka-protocol` crate sent to the
//! broker's own handler in-process ([`crate::http::kafka::call`]), so Kafka's validation,
//! error codes and (later) authorization apply to HTTP clients as to Kafka clients. Kafka
//! error codes stay in the returned values; only a failed call (encoding, decoding, a
//! handler that refused the frame) is an `Err`, as 500/50002.

use bytes::Bytes;
use kafka_protocol::messages::consumer_group_describe_request::ConsumerGroupDescribeRequest;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::{Rest, RestError};
use crate::http::kafka::call;

/// ConfigResource type TOPIC.
pub const RESOURCE_TOPIC: i8 = 2;
/// IncrementalAlterConfigs operations.
pub const OP_SET: i8 = 0;
pub const OP_DELETE: i8 = 1;
/// ListOffsets timestamps.
pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;
/// How long the admin calls let the controller take.
const ADMIN_TIMEOUT_MS: i32 = 30_000;
/// The client id of the proxy's own calls (consumer instances use their name).
pub const CLIENT_ID: &str = "skua-rest-proxy";

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

pub fn topic_name(v: &str) -> TopicName {
    TopicName(s(v))
}

fn failed(e: crate::http::kafka::CallError) -> RestError {
    RestError::new(500, 50002, format!("Kafka error: {e}"))
}

impl Rest {
    /// Call API `R` at `version` as the proxy (client id [`CLIENT_ID`]).
    pub async fn call<R>(&self, version: i16, request: R) -> Result<R::Response, RestError>
    where
        R: kafka_protocol::protocol::Request + kafka_protocol::protocol::Encodable,
        R::Response: kafka_protocol::protocol::Decodable + kafka_protocol::protocol::HeaderVersion,
    {
        self.call_as(CLIENT_ID, version, request).await
    }

    /// Call API `R` with client id `client_id` (what group descriptions show).
    pub async fn call_as<R>(
        &self,
        client_id: &str,
        version: i16,
        request: R,
    ) -> Result<R::Response, RestError>
    where
        R: kafka_protocol::protocol::Request + kafka_protocol::protocol::Encodable,
        R::Response: kafka_protocol::protocol::Decodable + kafka_protocol::protocol::HeaderVersion,
    {
        call(&self.broker, &self.conn_now(), client_id, version, request)
            .await
            .map_err(failed)
    }

    /// Metadata of `topics` (None: every topic).
    pub async fn metadata(&self, topics: Option<&[&str]>) -> Result<MetadataResponse, RestError> {
        let req = crate::http::kafka::metadata_request(topics);
        self.call(12, req).await
    }

    /// One topic's metadata; Err 404/40403 when it does not exist.
    pub async fn topic_metadata(
        &self,
        topic: &str,
    ) -> Result<metadata_response::MetadataResponseTopic, RestError> {
        let md = self.metadata(Some(&[topic])).await?;
        let t = md
            .topics
            .into_iter()
            .next()
            .ok_or_else(|| RestError::kafka(3, None))?;
        if t.error_code != 0 {
            return Err(RestError::kafka(t.error_code, None));
        }
        Ok(t)
    }

    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        assignments: Vec<(i32, Vec<i32>)>,
        configs: &[(String, Option<String>)],
        validate_only: bool,
    ) -> Result<create_topics_response::CreatableTopicResult, RestError> {
        let topic = CreatableTopic::default()
            .with_name(topic_name(name))
            .with_num_partitions(partitions)
            .with_replication_factor(replication_factor)
            .with_assignments(
                assignments
                    .into_iter()
                    .map(|(p, brokers)| {
                        CreatableReplicaAssignment::default()
                            .with_partition_index(p)
                            .with_broker_ids(brokers.into_iter().map(BrokerId).collect())
                    })
                    .collect(),
            )
            .with_configs(
                configs
                    .iter()
                    .map(|(n, v)| {
                        CreatableTopicConfig::default()
                            .with_name(s(n))
                            .with_value(v.as_deref().map(s))
                    })
                    .collect(),
            );
        let req = CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_validate_only(validate_only);
        let resp = self.call(7, req).await?;
        let r =
            resp.topics.into_iter().next().ok_or_else(|| {
                RestError::new(500, 50002, "Kafka error: empty CreateTopics answer")
            })?;
        if r.error_code != 0 {
            return Err(RestError::kafka(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
            ));
        }
        Ok(r)
    }

    pub async fn delete_topic(&self, name: &str) -> Result<(), RestError> {
        let req = DeleteTopicsRequest::default()
            .with_topic_names(vec![topic_name(name)])
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        let resp = self.call(5, req).await?;
        match resp.responses.first() {
            Some(r) if r.error_code != 0 => Err(RestError::kafka(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
            )),
            _ => Ok(()),
        }
    }

    pub async fn create_partitions(&self, name: &str, count: i32) -> Result<(), RestError> {
        use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
        let req = CreatePartitionsRequest::default()
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(topic_name(name))
                .with_count(count)
                .with_assignments(None)])
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        let resp = self.call(3, req).await?;
        match resp.results.first() {
            Some(r) if r.error_code != 0 => Err(RestError::kafka(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
            )),
            _ => Ok(()),
        }
    }

    /// Every config of a topic, with sources and synonyms (DescribeConfigs v4).
    pub async fn topic_configs(&self, topic: &str) -> Result<DescribeConfigsResult, RestError> {
        let req = DescribeConfigsRequest::default()
            .with_resources(vec![DescribeConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(s(topic))
                .with_configuration_keys(None)])
            .with_include_synonyms(true);
        let resp = self.call(4, req).await?;
        let r = resp
            .results
            .into_iter()
            .next()
            .ok_or_else(|| RestError::kafka(3, None))?;
        if r.error_code != 0 {
            return Err(RestError::kafka(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
            ));
        }
        Ok(r)
    }

    /// IncrementalAlterConfigs of one topic: (name, operation, value).
    pub async fn alter_topic_configs(
        &self,
        topic: &str,
        ops: &[(String, i8, Option<String>)],
        validate_only: bool,
    ) -> Result<(), RestError> {
        let req = IncrementalAlterConfigsRequest::default()
            .with_resources(vec![AlterConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(s(topic))
                .with_configs(
                    ops.iter()
                        .map(|(n, op, v)| {
                            AlterableConfig::default()
                                .with_name(s(n))
                                .with_config_operation(*op)
                                .with_value(v.as_deref().map(s))
                        })
                        .collect(),
                )])
            .with_validate_only(validate_only);
        let resp = self.call(1, req).await?;
        match resp.responses.first() {
            Some(r) if r.error_code != 0 => Err(RestError::kafka(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
            )),
            _ => Ok(()),
        }
    }

    /// Latest (or earliest) offsets of partitions: (topic, partition) → offset or error code.
    pub async fn list_offsets(
        &self,
        partitions: &[(String, i32)],
        timestamp: i64,
        isolation_level: i8,
    ) -> Result<Vec<((String, i32), Result<i64, i16>)>, RestError> {
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for (t, p) in partitions {
            let part = ListOffsetsPartition::default()
                .with_partition_index(*p)
                .with_current_leader_epoch(-1)
                .with_timestamp(timestamp);
            match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(
                    ListOffsetsTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(vec![part]),
                ),
            }
        }
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(isolation_level)
            .with_topics(topics);
        let resp = self.call(7, req).await?;
        let mut out = Vec::new();
        for t in resp.topics {
            for p in t.partitions {
                let r = if p.error_code == 0 {
                    Ok(p.offset)
                } else {
                    Err(p.error_code)
                };
                out.push(((t.name.0.as_str().to_string(), p.partition_index), r));
            }
        }
        Ok(out)
    }

    /// A group's committed offsets (OffsetFetch v7); `partitions` None: all of them.
    /// Answers (topic, partition, offset, metadata) for offsets that exist.
    pub async fn committed_offsets(
        &self,
        group: &str,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<Vec<(String, i32, i64, String)>, RestError> {
        let topics = partitions.map(|ps| {
            let mut topics: Vec<OffsetFetchRequestTopic> = Vec::new();
            for (t, p) in ps {
                match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                    Some(x) => x.partition_indexes.push(*p),
                    None => topics.push(
                        OffsetFetchRequestTopic::default()
                            .with_name(topic_name(t))
                            .with_partition_indexes(vec![*p]),
                    ),
                }
            }
            topics
        });
        let req = OffsetFetchRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(topics)
            .with_require_stable(true);
        let resp = self.call(7, req).await?;
        if resp.error_code != 0 {
            return Err(RestError::kafka(resp.error_code, None));
        }
        let mut out = Vec::new();
        for t in resp.topics {
            for p in t.partitions {
                if p.error_code == 0 && p.committed_offset >= 0 {
                    out.push((
                        t.name.0.as_str().to_string(),
                        p.partition_index,
                        p.committed_offset,
                        p.metadata
                            .as_ref()
                            .map(|m| m.as_str().to_string())
                            .unwrap_or_default(),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The groups the coordinator knows: (group id, protocol type, state, type).
    pub async fn list_groups(&self) -> Result<Vec<(String, String, String, String)>, RestError> {
        let resp = self.call(5, ListGroupsRequest::default()).await?;
        if resp.error_code != 0 {
            return Err(RestError::kafka(resp.error_code, None));
        }
        Ok(resp
            .groups
            .into_iter()
            .map(|g| {
                (
                    g.group_id.0.as_str().to_string(),
                    g.protocol_type.as_str().to_string(),
                    g.group_state.as_str().to_string(),
                    g.group_type.as_str().to_string(),
                )
            })
            .collect())
    }

    pub async fn describe_classic_group(
        &self,
        group: &str,
    ) -> Result<describe_groups_response::DescribedGroup, RestError> {
        let req = DescribeGroupsRequest::default().with_groups(vec![GroupId(s(group))]);
        let resp = self.call(5, req).await?;
        resp.groups
            .into_iter()
            .next()
            .ok_or_else(|| RestError::new(500, 50002, "Kafka error: empty DescribeGroups answer"))
    }

    pub async fn describe_consumer_group(
        &self,
        group: &str,
    ) -> Result<consumer_group_describe_response::DescribedGroup, RestError> {
        let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s(group))]);
        let resp = self.call(0, req).await?;
        resp.groups.into_iter().next().ok_or_else(|| {
            RestError::new(
                500,
                50002,
                "Kafka error: empty ConsumerGroupDescribe answer",
            )
        })
    }

    /// The broker that coordinates `group` (-1 when unknown).
    pub async fn coordinator(&self, group: &str) -> i32 {
        let req = FindCoordinatorRequest::default()
            .with_key(s(group))
            .with_key_type(0);
        match self.call(3, req).await {
            Ok(r) if r.error_code == 0 => r.node_id.0,
            _ => -1,
        }
    }

    /// Produce `batches` (topic, partition, one v2 record batch each) with acks=all.
    pub async fn produce(
        &self,
        topic: &str,
        batches: Vec<(i32, Bytes)>,
    ) -> Result<Vec<produce_response::PartitionProduceResponse>, RestError> {
        use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(
                    batches
                        .into_iter()
                        .map(|(p, b)| {
                            PartitionProduceData::default()
                                .with_index(p)
                                .with_records(Some(b))
                        })
                        .collect(),
                )]);
        let resp = self.call(9, req).await?;
        Ok(resp
            .responses
            .into_iter()
            .flat_map(|t| t.partition_responses)
            .collect())
    }
}
