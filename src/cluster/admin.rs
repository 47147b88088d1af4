//! Administration through the active controller (CreateTopics, DeleteTopics,
//! CreatePartitions, configs, elections, reassignments: each a [`ControllerRequest`] whose
//! effect is in this node's metadata when the call returns), and DeleteRecords (advancing a
//! partition's log start offset on its leader; followers follow it through replication).

use std::sync::Arc;

use super::controller_rpc::{
    CallError, ConfigOp, ControllerRequest, ControllerResponse, NewPartitions, NewTopic,
    PartitionResult, TopicRef, TopicResult, NOT_CONTROLLER,
};
use super::records::ConfigResource;
use super::Broker;
use crate::log::LogError;

/// REQUEST_TIMED_OUT
const REQUEST_TIMED_OUT: i16 = 7;

/// Why DeleteRecords failed for one partition.
#[derive(Debug, thiserror::Error)]
pub enum DeleteRecordsError {
    #[error("This server does not host this topic-partition.")]
    UnknownTopicOrPartition,
    /// NOT_LEADER_OR_FOLLOWER (6) and the leader-epoch codes.
    #[error("This server is not the leader for that topic-partition.")]
    NotLeader(i16),
    /// INVALID_TOPIC_EXCEPTION (17): internal topics are never truncated by clients.
    #[error("Cannot delete records of internal topic {0}")]
    InternalTopic(String),
    /// POLICY_VIOLATION (44): the topic's cleanup.policy does not include delete.
    #[error("Records of partition {0} can not be deleted due to the configured policy")]
    PolicyViolation(String),
    #[error("{0}")]
    Log(#[from] LogError),
}

/// A whole-call failure as (error code, message).
fn call_error(e: CallError) -> (i16, String) {
    match e {
        CallError::Timeout(m) => (REQUEST_TIMED_OUT, m),
        CallError::Unavailable(m) => (NOT_CONTROLLER, m),
    }
}

impl Broker {
    pub(super) async fn ask(
        &self,
        req: ControllerRequest,
    ) -> Result<ControllerResponse, (i16, String)> {
        let Some(channel) = self.controller.get() else {
            return Err((NOT_CONTROLLER, "no controller channel".into()));
        };
        let reply = channel.call(req).await.map_err(call_error)?;
        match reply.response {
            ControllerResponse::Error {
                error_code,
                message,
            } => Err((error_code, message.unwrap_or_default())),
            other => Ok(other),
        }
    }

    /// CreateTopics through the controller: one result per topic, in order.
    pub async fn create_topics(
        self: &Arc<Self>,
        topics: Vec<NewTopic>,
        validate_only: bool,
    ) -> Vec<TopicResult> {
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        let req = ControllerRequest::CreateTopics {
            topics,
            validate_only,
        };
        topic_results(self.ask(req).await, names)
    }

    /// DeleteTopics through the controller.
    pub async fn delete_topics(self: &Arc<Self>, topics: Vec<TopicRef>) -> Vec<TopicResult> {
        let names = topics
            .iter()
            .map(|t| match t {
                TopicRef::Name(n) => n.clone(),
                TopicRef::Id(_) => String::new(),
            })
            .collect();
        topic_results(
            self.ask(ControllerRequest::DeleteTopics { topics }).await,
            names,
        )
    }

    /// CreatePartitions through the controller.
    pub async fn create_partitions(
        self: &Arc<Self>,
        topics: Vec<NewPartitions>,
        validate_only: bool,
    ) -> Vec<TopicResult> {
        let names = topics.iter().map(|t| t.name.clone()).collect();
        let req = ControllerRequest::CreatePartitions {
            topics,
            validate_only,
        };
        topic_results(self.ask(req).await, names)
    }

    /// Alter one resource's configs through the controller: (error code, message).
    pub async fn alter_configs(
        self: &Arc<Self>,
        resource: ConfigResource,
        ops: Vec<ConfigOp>,
        replace: bool,
        validate_only: bool,
    ) -> (i16, Option<String>) {
        let req = ControllerRequest::AlterConfigs {
            resource,
            ops,
            replace,
            validate_only,
        };
        match self.ask(req).await {
            Ok(ControllerResponse::Config {
                error_code,
                message,
            }) => (error_code, message),
            Ok(other) => (NOT_CONTROLLER, Some(format!("unexpected answer {other:?}"))),
            Err((code, m)) => (code, Some(m)),
        }
    }

    /// AlterClientQuotas through the controller: one result per distinct entity, or a
    /// whole-call error.
    pub async fn alter_client_quotas(
        self: &Arc<Self>,
        alterations: Vec<crate::controller::QuotaAlteration>,
        validate_only: bool,
    ) -> Result<Vec<crate::controller::QuotaAlterationResult>, (i16, String)> {
        let req = ControllerRequest::AlterClientQuotas {
            alterations,
            validate_only,
        };
        match self.ask(req).await? {
            ControllerResponse::ClientQuotas(r) => Ok(r),
            other => Err((NOT_CONTROLLER, format!("unexpected answer {other:?}"))),
        }
    }

    /// A partition-level controller request (elections, reassignments): the results, or a
    /// whole-call error.
    pub async fn partition_request(
        self: &Arc<Self>,
        req: ControllerRequest,
    ) -> Result<Vec<PartitionResult>, (i16, String)> {
        match self.ask(req).await? {
            ControllerResponse::Partitions(r) => Ok(r),
            other => Err((NOT_CONTROLLER, format!("unexpected answer {other:?}"))),
        }
    }

    /// Advance the log start offset of `topic`-`partition` to `offset` (-1: the high
    /// watermark), as DeleteRecords does. Returns the low watermark: the log start offset
    /// afterwards (which may already have been beyond `offset`).
    pub fn delete_records(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<i64, DeleteRecordsError> {
        let t = self
            .topic(topic)
            .ok_or(DeleteRecordsError::UnknownTopicOrPartition)?;
        let p = match t.leader(partition, -1) {
            Ok(p) => Arc::clone(p),
            Err(3) => return Err(DeleteRecordsError::UnknownTopicOrPartition),
            Err(code) => return Err(DeleteRecordsError::NotLeader(code)),
        };
        if t.internal {
            return Err(DeleteRecordsError::InternalTopic(topic.to_string()));
        }
        let policy = t
            .configs
            .get("cleanup.policy")
            .or_else(|| self.config.overrides.get("log.cleanup.policy"))
            .map_or("delete", String::as_str);
        if !policy.split(',').any(|s| s.trim() == "delete") {
            return Err(DeleteRecordsError::PolicyViolation(format!(
                "{topic}-{partition}"
            )));
        }
        let mut log = p.log();
        let target = if offset == -1 {
            log.high_watermark()
        } else {
            offset
        };
        if target < 0 || target > log.high_watermark() {
            return Err(DeleteRecordsError::Log(LogError::OffsetOutOfRange {
                offset: target,
                log_start_offset: log.log_start_offset(),
                log_end_offset: log.log_end_offset(),
            }));
        }
        log.advance_log_start_offset(target)?;
        Ok(log.log_start_offset())
    }
}

/// Per-topic results in request order; a whole-call error becomes every topic's.
fn topic_results(
    answer: Result<ControllerResponse, (i16, String)>,
    names: Vec<String>,
) -> Vec<TopicResult> {
    match answer {
        Ok(ControllerResponse::Topics(r)) => r,
        Ok(other) => fail_all(
            names,
            NOT_CONTROLLER,
            format!("unexpected answer {other:?}"),
        ),
        Err((code, message)) => fail_all(names, code, message),
    }
}

fn fail_all(names: Vec<String>, error_code: i16, message: String) -> Vec<TopicResult> {
    names
        .into_iter()
        .map(|name| TopicResult {
            name,
            topic_id: uuid::Uuid::nil(),
            error_code,
            message: Some(message.clone()),
            num_partitions: -1,
            replication_factor: -1,
            configs: Default::default(),
        })
        .collect()
}
